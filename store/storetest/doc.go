// Package storetest is the conformance suite every store.Store implementation runs.
//
// A store's test calls Run with a constructor, which gets the clock the suite moves and
// must return a store that measures leases on it, and RunConcurrentInstances with several
// Store values over one backing database, which keep their own clock:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, clock func() time.Time) store.Store {
//			return open(t, WithClock(clock))
//		})
//	}
//
//	func TestConcurrentInstances(t *testing.T) {
//		db := openDB(t)
//		storetest.RunConcurrentInstances(t, []store.Store{newStore(db), newStore(db), newStore(db)})
//	}
//
// The suite checks the whole store.Store contract and nothing beyond it: the unique keys
// (issuance merchant_uid, customer_uid and imp_uid; billing key customer_uid; charge
// merchant_uid and imp_uid; subscription id; a user's idempotency key of a charge and of
// a subscription; a user's subscription slot), the issuance and charge transitions by
// compare-and-set (on the status, and on the attempt with IfAttempts), subscription
// updates by compare-and-set on the version, the fields each update sets or leaves, time
// precision (milliseconds, UTC), leases and row and subscription claims on the store's
// clock, the pending-issuance lookup, orphan issuances and their purge, and the same
// operations raced from many goroutines (run the tests with -race).
//
// # The store's clock
//
// Each subtest of Run has a clock of its own, which starts at an instant in 2001..2010
// and moves only when the subtest moves it, so a lease's end is known to the millisecond
// and no test waits for one. The times the suite writes as a caller (CreatedAt,
// UpdatedAt, At) are the present or further off, years away from the store's clock: a
// lease must depend on the store's clock alone. RunConcurrentInstances does not move the
// stores' clocks; its claim races use rows without a lease and leases of an hour.
//
// # Shared databases
//
// Every subtest makes its own random ids, so the suite also passes when newStore hands
// out stores over one database that keeps data between subtests and between runs. Four
// operations are not scoped to ids: ExpirePendingIssuances, OrphanIssuances and
// PurgeIssuances sweep the store for rows older than an instant the suite gives (a random
// epoch in the early 2000s per subtest), and ClaimCharges takes every row whose lease ran
// out by the store's clock, which includes rows of other subtests and rows that hold no
// lease. ClaimSubscriptions takes every subscription due by the Due the suite gives
// (instants in the early 2000s and before, down to 1975) whose lease ran out. The suite
// only looks at its own rows among those returned and retires the charges it claimed and
// the subscriptions it made (no next action, no lease), so rows written by other code
// with present-day times are not expired, purged or claimed as subscriptions, and rows
// left over by earlier runs are tolerated; other rows it claims get a lease that ended
// long ago by a present-day clock. It cannot defend
// against another sweeper of the same database while it runs (a reconciler of another
// process, or a second run of this suite in parallel): give the suite a database (or
// schema) of its own, and run Run and RunConcurrentInstances on it one after the other.
//
// # Interpretation of the contract
//
// Where the store.Store documentation leaves room, the suite pins one reading so that
// every store behaves alike:
//
//   - Times come back as the same instant in UTC; zero times come back zero, and a zero
//     time is earlier than any other (PendingIssuance's newest, orphan and purge order).
//   - SettleIssuance accepts only issued, failed or expired as to.Status (anything else is
//     an error and changes nothing). Empty strings and a zero UpdatedAt in to leave the
//     stored values as they are; to.KeyRemoved is ignored. A not-pending issuance gives
//     ErrConflict before any imp_uid check. The key must belong to the issuance's user
//     (else an error), and a key whose customer_uid is another user's key gives
//     ErrDuplicate; on any error nothing changes. For failed and expired the key argument
//     is ignored. CreateIssuance stores KeyRemoved as given.
//   - ExpirePendingIssuances sets UpdatedAt to now on the rows it expires.
//   - PendingIssuance needs ExpiresAt strictly after notBefore; "" is a plan of its own.
//   - OrphanIssuances and PurgeIssuances compare UpdatedAt < before strictly and take the
//     oldest first. MarkKeyRemoved changes KeyRemoved alone (not UpdatedAt) and may be
//     repeated. A purged issuance's merchant_uid, customer_uid and imp_uid are free again.
//   - CreateCharge looks up (user, idempotency key) first: an existing charge is returned
//     with created=false and unchanged (the caller's lease is not taken on it), even when
//     c's merchant_uid belongs to a third charge. ErrDuplicate for a merchant_uid taken by
//     any other (user, key), including another user's. The new row's lease is hold's
//     alone (c.ClaimedBy and c.ClaimedUntil are not stored); a hold with For <= 0 is no
//     lease.
//   - UpdateCharge is a pure compare-and-set on the status (and with IfAttempts on the
//     attempts before AddAttempts adds to them): the store does not enforce the state
//     machine (core does), an empty from never matches (ErrConflict), and a status or
//     attempt mismatch gives ErrConflict before any imp_uid check. An empty u.Status keeps
//     the status. The lease survives updates unless Hold renews it (from the store's
//     clock, for whichever owner Hold names) or ReleaseClaim clears it; with both,
//     ReleaseClaim wins.
//   - ClaimCharges does not touch UpdatedAt. A lease has run out when ClaimedUntil <= the
//     store's clock; a lease that holds is not handed out again, not even to its owner.
//     Held rows without a lease (released ones) are never claimed. With a limit, the rows
//     whose lease ended first are taken first, those without a lease before all; the
//     order within one batch is not pinned. An empty Lease.Owner or a Lease.For <= 0 is
//     an error.
//   - CreateSubscription, like CreateCharge, looks up (user, idempotency key) first: an
//     existing subscription is returned unchanged with created=false, even when sub's id
//     or slot is taken by a third subscription. ErrDuplicate for an id taken under any
//     other (user, key), including another user's, and for a slot another of the user's
//     subscriptions holds; other users' slots are their own and "" is no slot. The new
//     row is at Version 1 and holds no lease, whatever sub says; an empty id is an error.
//   - UpdateSubscription stores every other field as given, zero values and "" too (it
//     is no patch), and ignores sub's UserID, IdempotencyKey, CreatedAt, ClaimedBy and
//     ClaimedUntil. A version other than the stored one gives ErrConflict before any slot
//     check. The lease is kept unless release clears it.
//   - ClaimSubscriptions takes subscriptions with a NextActionAt at or before Due (never
//     a zero one), whatever their status, whose ClaimedUntil <= the store's clock, with
//     the same lease rules as ClaimCharges. It takes the earliest NextActionAt first,
//     ties by the smaller id, and returns each batch in that order. It changes neither
//     UpdatedAt nor Version. A zero Due claims nothing.
//   - ListSubscriptions lists newest CreatedAt first, ties by the greater id, a zero
//     CreatedAt last.
//   - A limit <= 0 (ListCharges, ExpirePendingIssuances, OrphanIssuances,
//     PurgeIssuances, ClaimCharges, ClaimSubscriptions) returns nothing and changes
//     nothing; so does ClaimCharges with neither Statuses nor Held.
package storetest
