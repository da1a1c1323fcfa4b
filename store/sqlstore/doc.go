// Package sqlstore is a core.Store on database/sql for SQLite and PostgreSQL.
//
// The caller brings the *sql.DB and its driver; this package imports none. Two small
// sub-packages open one with the settings the store needs: sqlitedb (modernc.org/sqlite,
// pure Go) and pgdb (pgx's stdlib).
//
// # SQLite: one process
//
//	db, err := sqlitedb.Open("billing.db") // WAL, busy_timeout, BEGIN IMMEDIATE, one connection
//	if err != nil { ... }
//	defer db.Close()
//	st, err := sqlstore.New(db, sqlstore.SQLite)
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
//	svc, err := core.New(core.Config{Store: st, ...})
//
// SQLite serves one process: all its writes go through one connection, and the claim
// query relies on SQLite running each statement as one write transaction. An own *sql.DB
// works too if it runs SQLite 3.35 or later (RETURNING) and uses immediate transactions
// and a busy timeout. ":memory:" (sqlitedb.Memory) gives a private database that lives
// as long as the *sql.DB, for tests and demos.
//
// # PostgreSQL: several instances
//
//	db, err := pgdb.Open(os.Getenv("DATABASE_URL"))
//	if err != nil { ... }
//	defer db.Close()
//	st, err := sqlstore.New(db, sqlstore.Postgres)
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
//
// Any number of instances may share the database (PostgreSQL 12 or later). Compare-and-set
// transitions are single UPDATE ... WHERE status IN (...) statements, the idempotency key
// of a charge is a unique index used by INSERT ... ON CONFLICT DO NOTHING, and the
// reconciler claims rows with FOR UPDATE SKIP LOCKED, so instances never take the same
// row. The tables live in the first schema of the connection's search_path.
//
// # Migrate
//
// Migrate applies the schema embedded in this package (migrations/sqlite and
// migrations/postgres, files NNNN_description.sql) and records each version in
// billkey_schema_migrations. It is idempotent and cheap when nothing is pending, so call
// it at every start. Pending migrations run in one transaction; on PostgreSQL that
// transaction first takes an advisory lock, so instances starting together do not race.
// Versions written by a newer build are left alone. SchemaVersion reports the version.
//
// # Tables
//
//   - billkey_issuances: one row per prepared billing-key issuance. Unique merchant_uid,
//     customer_uid and imp_uid (NULL until known, so only known values are unique);
//     indexed on (status, expires_at) for expiry and on user_id.
//   - billkey_billing_keys: the current key of each user (primary key user_id, so one
//     per user); unique customer_uid.
//   - billkey_charges: one row per charge. Unique merchant_uid, imp_uid (NULL until
//     known) and (user_id, idempotency_key); indexed on (status, updated_at) for the
//     reconciler's claims and on (user_id, created_at) for listings.
//
// # Values
//
// Times are stored in UTC with microsecond precision (finer digits are dropped): as
// timestamptz on PostgreSQL and as INTEGER microseconds since the Unix epoch on SQLite,
// which keeps them exact, comparable and sortable. The zero time.Time is stored as NULL
// and comes back zero; a NULL ExpiresAt or UpdatedAt counts as the earliest instant, as
// the zero time does in Go. Amounts are 64-bit integers.
//
// # Errors
//
// Unique violations come back as core.ErrDuplicate (SQLSTATE 23505 on PostgreSQL, found
// through the error's SQLState method; "UNIQUE constraint failed" on SQLite), a missing
// row as core.ErrNotFound and a compare-and-set miss on an existing row as
// core.ErrConflict; test them with errors.Is. The error strings this package adds name
// the operation, never a row's identifiers or card data.
package sqlstore
