// Package pgdb opens a PostgreSQL database for package sqlstore through pgx's
// database/sql driver (github.com/jackc/pgx/v5/stdlib).
//
// Several instances of a service may share one database: package sqlstore claims rows
// with FOR UPDATE SKIP LOCKED and serialises Migrate with an advisory lock.
//
// The pool is sized for production load: at most DefaultMaxConns connections, all kept
// idle between requests, each replaced after DefaultConnMaxLifetime. Set pool_max_conns
// (and pool_max_conn_lifetime, pool_max_conn_idle_time) in the DSN, or pass WithMaxConns,
// so that the pools of all instances together stay below the server's max_connections.
//
//	db, err := pgdb.Open("postgres://billing@db.internal:5432/shop?sslmode=verify-full&pool_max_conns=16")
//	if err != nil { ... }
//	defer db.Close()
//	if err := db.PingContext(ctx); err != nil { ... }
//	st, err := sqlstore.New(db, sqlstore.Postgres)
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
package pgdb
