// Package sqlitedb opens a SQLite database for package sqlstore with the settings a
// billing store needs, using modernc.org/sqlite (pure Go, no cgo).
//
// The database is opened in WAL mode with synchronous FULL (a commit is on disk when it
// returns), a 5 s busy timeout, foreign keys on, and BEGIN IMMEDIATE for every
// transaction, so transactions never fail on a lock upgrade. A file's pool holds
// FileConns connections, on which reads run side by side; package sqlstore writes through
// one transaction at a time, shared by the writes that queue for it. SQLite is for one
// process: several instances of a service share a PostgreSQL database instead.
//
//	db, err := sqlitedb.Open("/var/lib/shop/billing.db")
//	if err != nil { ... }
//	defer db.Close()
//	st, err := sqlstore.New(db, sqlstore.SQLite)
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
package sqlitedb
