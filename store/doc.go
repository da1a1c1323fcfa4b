// Package store is the contract between billkey's billing service (package core) and the
// databases that keep its records: the Store interface, the records it keeps (issuances,
// billing keys, charges), the updates and claims core asks for, and the errors a store
// answers with. It is to core what database/sql/driver is to database/sql: a merchant
// picks an implementation (store/sqlstore for SQLite or PostgreSQL, store/memstore for
// tests and demos) and hands it to core.Config; only someone writing a new store reads
// this package, and store/storetest checks that a new store keeps the whole contract.
package store
