// Package memstore is an in-memory store.Store.
//
// IT IS NOT DURABLE. Everything lives in the process's memory: a restart, a crash or a
// redeploy loses every billing key, every issuance, every charge record and every
// subscription, including charges whose outcome at iamport is still unknown. Nothing is shared between processes,
// so several instances each see their own, different data. Use it for tests, examples and
// demos only; a merchant taking real payments needs a durable store such as
// store/sqlstore.
//
// Within one process it keeps the whole store.Store contract: the same uniqueness rules,
// compare-and-set transitions and row claims as the SQL store, checked by the
// store/storetest conformance suite. Leases are measured on the store's own clock
// (time.Now, or the one WithClock gives), never on the times callers write. A
// subscription claim walks an index of the subscriptions with a next action, in claim
// order, and stops at its limit. One mutex guards all data, and every record handed out
// is a copy the caller may keep and change.
package memstore
