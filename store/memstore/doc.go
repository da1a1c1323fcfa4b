// Package memstore is an in-memory core.Store.
//
// IT IS NOT DURABLE. Everything lives in the process's memory: a restart, a crash or a
// redeploy loses every billing key, every issuance and every charge record, including
// charges whose outcome at iamport is still unknown. Nothing is shared between processes,
// so several instances each see their own, different data. Use it for tests, examples and
// demos only; a merchant taking real payments needs a durable store such as
// store/sqlstore.
//
// Within one process it keeps the whole core.Store contract: the same uniqueness rules,
// compare-and-set transitions and row claims as the SQL store, checked by the
// store/storetest conformance suite. One mutex guards all data, and every record handed
// out is a copy the caller may keep and change.
package memstore
