package core

import (
	"slices"

	"github.com/billkey/billkey/iamport"
)

// kcpTestSiteCodes are the KCP site codes (pg_id) known to belong to KCP's test
// environment, where no real money moves: NHN KCP's developer FAQ names T0000.
var kcpTestSiteCodes = []string{"T0000"}

// testChannelPayment says why a payment must not count in live mode, or "" when nothing
// says it came from a test channel (docs/guarantees.md, R17).
func (s *Service) testChannelPayment(p *iamport.Payment) string {
	return s.testChannel(p.Sandbox, p.PGID)
}

// testChannelKey is testChannelPayment for a billing key.
func (s *Service) testChannelKey(c *iamport.Customer) string {
	return s.testChannel(c.Sandbox, c.PGID)
}

// testChannel weighs every signal iamport gives about the channel, failing closed when
// one says test. Real answers captured from 2022 to 2024 carry no sandbox field at all,
// so its absence says nothing; the pg_id (the KCP site code) is checked against KCP's
// test codes and, when the merchant configured them, its live site codes. What cannot be
// told apart: a test channel on an unknown test site code, when no live site codes are
// configured and iamport leaves sandbox out.
func (s *Service) testChannel(sandbox *bool, pgID string) string {
	if s.cfg.TestMode {
		return ""
	}
	switch {
	case sandbox != nil && *sandbox:
		return "sandbox payment in live mode"
	case slices.Contains(kcpTestSiteCodes, pgID):
		return "payment made on KCP's test site code " + cleanText(pgID, 20) + " in live mode"
	case len(s.liveSiteCodes) > 0 && !slices.Contains(s.liveSiteCodes, pgID):
		return "payment made on site code " + cleanText(pgID, 20) + ", not one of Config.LiveSiteCodes"
	}
	return ""
}
