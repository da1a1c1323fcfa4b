package sqlstore

import (
	"context"
	"path"
	"testing/fstest"

	"github.com/billkey/billkey/store"
)

// MigrateTo applies the embedded migrations up to version only, as an older build of this
// package would have: the starting point of an upgrade test. Not safe for concurrent use.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	dir := s.dialect.dir()
	ms, err := loadMigrations(s.migrations, dir)
	if err != nil {
		return err
	}
	older := fstest.MapFS{}
	for _, m := range ms {
		if m.version <= version {
			older[path.Join(dir, m.name)] = &fstest.MapFile{Data: []byte(m.sql)}
		}
	}
	all := s.migrations
	s.migrations = older
	defer func() { s.migrations = all }()
	return s.Migrate(ctx)
}

// ClaimSubscriptionsQuery is the statement ClaimSubscriptions runs for req, in the
// store's dialect, with its arguments: for tests that EXPLAIN it.
func (s *Store) ClaimSubscriptionsQuery(req store.SubscriptionClaim) (string, []any) {
	query, args := s.claimSubscriptionsQuery(req)
	return s.q(query), args
}

// ClaimChargesQuery is the statement ClaimCharges runs for req, in the store's dialect,
// with its arguments: for tests that EXPLAIN it.
func (s *Store) ClaimChargesQuery(req store.ClaimRequest) (string, []any) {
	query, args := s.claimChargesQuery(req)
	return s.q(query), args
}

// ChargePageQueries are the statements a page of SearchCharges(q) runs, in the store's
// dialect, with their arguments: for tests that EXPLAIN them.
func (s *Store) ChargePageQueries(q store.ChargeQuery) (queries []string, args [][]any) {
	l := chargeListing(q)
	for _, seg := range s.segments(l) {
		query, a := s.statement(l, seg, l.limit+1)
		queries, args = append(queries, s.q(query)), append(args, a)
	}
	return queries, args
}
