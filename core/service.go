package core

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/billkey/billkey/iamport"
)

// Service is the billing service: issuance, verification, charges, webhooks and
// reconciliation over a Store and an iamport client. Create it with New; it is safe for
// concurrent use by any number of goroutines, and several processes may share one Store
// (see Reconcile).
type Service struct {
	cfg    Config // validated, with defaults applied
	client *iamport.Client
	store  Store
	log    *slog.Logger
	events EventSink

	plans       map[string]Plan
	redirectURL string // m_redirect_url: PublicURL + RedirectPath

	mismatchMu   sync.Mutex
	mismatchSeen map[string]struct{} // dedupes payment.mismatch events per process
}

// New validates cfg and returns a Service. Every problem with cfg is reported here as a
// *ConfigError, never at request time.
func New(cfg Config) (*Service, error) {
	cfg, err := normalizeConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:          cfg,
		client:       cfg.Client,
		store:        cfg.Store,
		log:          cfg.Logger,
		events:       cfg.Events,
		plans:        make(map[string]Plan, len(cfg.Plans)),
		redirectURL:  cfg.PublicURL + RedirectPath,
		mismatchSeen: make(map[string]struct{}),
	}
	for _, p := range cfg.Plans {
		s.plans[p.ID] = p
	}
	return s, nil
}

// Plans returns a copy of the plan catalogue, in configuration order.
func (s *Service) Plans() []Plan {
	return append([]Plan(nil), s.cfg.Plans...)
}

// Plan returns the catalogue entry for id.
func (s *Service) Plan(id string) (Plan, bool) {
	p, ok := s.plans[id]
	return p, ok
}

// now is the configured clock in UTC, cut to milliseconds (what every store keeps).
func (s *Service) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Millisecond)
}

// afterwards returns a context for the writes that record what iamport already did: it
// survives the caller's cancellation (a client that went away must not leave a paid
// charge looking unpaid) but still ends.
func afterwards(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
}
