// Package sqlstore is a store.Store on database/sql for SQLite and PostgreSQL.
//
// The caller brings the *sql.DB and its driver; this package imports none. Two small
// sub-packages open one with the settings the store needs: sqlitedb (modernc.org/sqlite,
// pure Go) and pgdb (pgx's stdlib).
//
// # SQLite: one process
//
//	db, err := sqlitedb.Open("billing.db") // WAL, synchronous FULL, busy_timeout, BEGIN IMMEDIATE
//	if err != nil { ... }
//	defer db.Close()
//	st, err := sqlstore.New(db, sqlstore.SQLite)
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
//	svc, err := core.New(core.Config{Store: st, ...})
//
// SQLite serves one process, and one Store per *sql.DB: a Store sends all its writes
// through a group commit. The writes that queue while a transaction runs share the next
// transaction, each in a savepoint of its own (a failed write is undone alone), so a
// busy store pays one fsync for many writes; every write returns only once its
// transaction is on disk. Reads run beside it on the pool's other connections. An own
// *sql.DB works too if it runs SQLite 3.35 or later (RETURNING) and uses immediate
// transactions and a busy timeout. ":memory:" (sqlitedb.Memory) gives a private database
// that lives as long as the *sql.DB, for tests and demos.
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
// transitions are single UPDATE ... WHERE status IN (...) [AND attempts = ...] statements,
// the idempotency key of a charge or a subscription is a unique index used by INSERT ...
// ON CONFLICT DO NOTHING, subscriptions change by compare-and-set on their version, and
// the reconciler and the renewal engine claim rows with FOR UPDATE SKIP LOCKED, so
// instances never take the same row. The tables live in the first schema of the
// connection's search_path.
//
// # Leases
//
// A charge's or a subscription's lease (claimed_by, claimed_until) is taken and compared
// on the database's clock (clock_timestamp() on PostgreSQL; on SQLite, which serves one
// process, the system clock as SQLite reads it), never on an instance's, so instances
// whose clocks disagree never hold one row at once (docs/guarantees.md, R4). The times
// callers write (CreatedAt, UpdatedAt, PaidAt, a subscription's NextActionAt and a
// claim's Due) are stored or compared as given and play no part in leases. WithClock
// substitutes a clock for tests that move time; a store shared by several instances
// keeps the database's.
//
// # Migrate
//
// Migrate applies the schema embedded in this package (migrations/sqlite and
// migrations/postgres, files NNNN_description.sql) and records each version in
// billkey_schema_migrations. It is idempotent and cheap when nothing is pending, so call
// it at every start. Pending migrations run in one transaction; on PostgreSQL that
// transaction first takes an advisory lock, so instances starting together do not race.
// Versions written by a newer build are left alone. SchemaVersion reports the version.
// Version 2 upgrades a version 1 database in place: the pending, charging and unknown
// charges it holds get a lease of 2 minutes from their updated_at, so that no instance
// takes up a charge whose `again` may still be in flight. Version 3 adds the
// subscriptions table and the charges' subscription_id and period (existing charges are
// outside any subscription: "" and 0).
//
// # Claims
//
// A claim is one statement that picks the rows it takes (ordered, up to its limit) and
// sets their lease; the picked rows are then found by primary key, so a claim never scans
// the table. A subscription claim walks the index on (next_action_at, subscription_id),
// which holds only subscriptions with a next action, from the earliest up to the claim's
// Due, and stops at its limit: it reads the rows it claims and the due ones another
// instance holds a lease on, however many subscriptions the table keeps. (PostgreSQL's
// planner picks that walk once the table has statistics, which autovacuum keeps.) A
// charge claim reads the charges a reconciler may take (pending, charging, unknown,
// failures awaiting their lookup) through the index on (status, claimed_until), never the
// settled ones.
//
// # Tables
//
//   - billkey_issuances: one row per prepared billing-key issuance. Unique merchant_uid,
//     customer_uid and imp_uid (NULL until known, so only known values are unique);
//     indexed on (status, expires_at) for expiry, on (user_id, plan_id, status,
//     created_at) to find a user's pending issuance, on (status, key_removed, updated_at)
//     for orphan keys and purges, and on user_id.
//   - billkey_billing_keys: the current key of each user (primary key user_id, so one
//     per user); unique customer_uid.
//   - billkey_charges: one row per charge. Unique merchant_uid, imp_uid (NULL until
//     known) and (user_id, idempotency_key); indexed on (status, claimed_until) for the
//     reconciler's claims and on (user_id, created_at) for listings; subscription_id
//     and period name the subscription period a charge pays for ("" and 0 outside any).
//   - billkey_subscriptions: one row per subscription. Unique subscription_id and
//     (user_id, idempotency_key); unique (user_id, slot) among the rows with a slot ("" is
//     stored as NULL, so subscriptions without one are in no slot); indexed on
//     (next_action_at, subscription_id) for the renewal engine's claims (rows with nothing
//     to do, NULL, are left out) and on (user_id, created_at) for listings. version counts
//     the updates.
//
// # Values
//
// Times are stored in UTC with microsecond precision (finer digits are dropped): as
// timestamptz on PostgreSQL and as INTEGER microseconds since the Unix epoch on SQLite,
// which keeps them exact, comparable and sortable. The zero time.Time is stored as NULL
// and comes back zero; a NULL CreatedAt, ExpiresAt or UpdatedAt counts as the earliest
// instant, as the zero time does in Go. Amounts are 64-bit integers.
//
// # Errors
//
// Unique violations come back as store.ErrDuplicate (SQLSTATE 23505 on PostgreSQL, found
// through the error's SQLState method; "UNIQUE constraint failed" on SQLite), a missing
// row as store.ErrNotFound and a compare-and-set miss on an existing row as
// store.ErrConflict; test them with errors.Is. The error strings this package adds name
// the operation, never a row's identifiers or card data.
package sqlstore
