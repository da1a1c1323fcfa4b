package core

import (
	"log/slog"
	"sync"
	"time"

	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/store"
)

// Service is the billing service: issuance, verification, charges, webhooks and
// reconciliation over a Store and an iamport client. Create it with New; it is safe for
// concurrent use by any number of goroutines, and several processes may share one Store
// (see Reconcile).
type Service struct {
	cfg    Config   // validated, with defaults applied
	client upstream // the configured client, counted and traced
	store  store.Store
	tel    *telemetry
	log    *slog.Logger
	events event.Sink

	plans         map[string]Plan
	liveSiteCodes []string // Config.LiveSiteCodes in live mode; none in test mode
	redirectURL   string   // m_redirect_url: PublicURL + redirectPath

	mismatchMu   sync.Mutex
	mismatchSeen map[string]struct{} // dedupes payment.mismatch events per process

	notifications coalescer     // one webhook lookup per imp_uid at a time
	nothingThere  recentNothing // imp_uids whose lookup just led to nothing
}

// New validates cfg and returns a Service. Every problem with cfg is reported here as a
// *ConfigError, never at request time.
func New(cfg Config) (*Service, error) {
	cfg, err := normalizeConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:           cfg,
		client:        upstream{c: cfg.Client},
		store:         cfg.Store,
		log:           cfg.Logger,
		events:        cfg.Events,
		plans:         make(map[string]Plan, len(cfg.Plans)),
		redirectURL:   cfg.CallbackURL + returnPath,
		liveSiteCodes: cfg.LiveSiteCodes,
		mismatchSeen:  make(map[string]struct{}),
	}
	for _, p := range cfg.Plans {
		s.plans[p.ID] = p
	}
	s.tel = newTelemetry(s, cfg.MeterProvider, cfg.TracerProvider)
	s.client.t = s.tel
	return s, nil
}

// Config returns the configuration the Service runs with: the one given to New, with its
// defaults applied (the slices are copies).
func (s *Service) Config() Config {
	c := s.cfg
	c.Plans = append([]Plan(nil), c.Plans...)
	c.WebhookAllowlist = append(c.WebhookAllowlist[:0:0], c.WebhookAllowlist...)
	return c
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
