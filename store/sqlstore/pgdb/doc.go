// Package pgdb opens a PostgreSQL database for package sqlstore through pgx's
// database/sql driver (github.com/jackc/pgx/v5/stdlib).
//
// Several instances of a service may share one database: package sqlstore claims rows
// with FOR UPDATE SKIP LOCKED and serialises Migrate with an advisory lock.
//
//	db, err := pgdb.Open("postgres://billing@db.internal:5432/shop?sslmode=verify-full")
//	if err != nil { ... }
//	defer db.Close()
//	if err := db.PingContext(ctx); err != nil { ... }
//	st, err := sqlstore.New(db, sqlstore.Postgres)
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
package pgdb
