// Package storetest is the conformance suite every core.Store implementation runs.
//
// A store's test calls Run with a constructor, and RunConcurrentInstances with several
// Store values over one backing database:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) core.Store { return open(t) })
//	}
//
//	func TestConcurrentInstances(t *testing.T) {
//		db := openDB(t)
//		storetest.RunConcurrentInstances(t, []core.Store{newStore(db), newStore(db), newStore(db)})
//	}
//
// The suite checks the whole core.Store contract and nothing beyond it: the unique keys
// (issuance merchant_uid, customer_uid and imp_uid; billing key customer_uid; charge
// merchant_uid and imp_uid; a user's idempotency key), the issuance and charge
// transitions by compare-and-set, the fields each update sets or leaves, time precision
// (milliseconds, UTC), row claims with leases, and the same operations raced from many
// goroutines (run the tests with -race).
//
// # Shared databases
//
// Every subtest makes its own random ids, so the suite also passes when newStore hands
// out stores over one database that keeps data between subtests and between runs. Two
// operations are not scoped to ids: ExpirePendingIssuances and ClaimCharges sweep the
// whole store. The suite runs them at instants in the early 2000s (a random epoch per
// subtest) and only looks at its own rows among those returned, so rows written by other
// code with present-day times are left alone, and rows left over by earlier runs are
// tolerated. It cannot defend against another sweeper of the same database while it
// runs (a reconciler of another process, or a second run of this suite in parallel):
// give the suite a database (or schema) of its own, and run Run and
// RunConcurrentInstances on it one after the other.
//
// # Interpretation of the contract
//
// Where the core.Store documentation leaves room, the suite pins one reading so that
// every store behaves alike:
//
//   - Times come back as the same instant in UTC; zero times come back zero.
//   - SettleIssuance accepts only issued, failed or expired as to.Status (anything else is
//     an error and changes nothing). Empty strings and a zero UpdatedAt in to leave the
//     stored values as they are. A not-pending issuance gives ErrConflict before any
//     imp_uid check. The key must belong to the issuance's user (else an error), and a
//     key whose customer_uid is another user's key gives ErrDuplicate; on any error
//     nothing changes. For failed and expired the key argument is ignored.
//   - ExpirePendingIssuances sets UpdatedAt to now on the rows it expires.
//   - CreateCharge looks up (user, idempotency key) first: an existing charge is returned
//     with created=false even when c's merchant_uid belongs to a third charge.
//     ErrDuplicate for a merchant_uid taken by any other (user, key), including another
//     user's.
//   - UpdateCharge is a pure compare-and-set on the status: the store does not enforce
//     the state machine (core does), an empty from never matches (ErrConflict), and a
//     status mismatch gives ErrConflict before any imp_uid check. An empty u.Status
//     keeps the status. The claim survives updates unless ReleaseClaim is set.
//   - ClaimCharges does not touch UpdatedAt; UpdatedAt < UpdatedBefore is strict; a claim
//     is free when ClaimedUntil is zero or <= Now, and a held claim is not handed out
//     again, not even to the same owner. An empty Owner is an error.
//   - A limit <= 0 (ListCharges, ExpirePendingIssuances, ClaimCharges) returns nothing
//     and changes nothing; so does ClaimCharges with no Statuses.
package storetest
