package iamporttest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"

	"github.com/billkey/billkey/iamport"
)

// Server is a Fake listening on loopback (httptest).
type Server struct {
	*Fake
	URL string

	srv        *httptest.Server
	conns      atomic.Int64
	mu         sync.Mutex
	transports []*http.Transport
	closeOnce  sync.Once
}

// NewServer starts a fake on 127.0.0.1. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{Fake: New(opts...)}
	s.srv = httptest.NewUnstartedServer(s.Fake.Handler())
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	s.URL = s.srv.URL
	s.Fake.setBase(s.URL)
	return s
}

// Close releases held requests, shuts the listener and its connections down, stops webhook
// delivery and closes the idle connections of clients made by Client. Idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.Fake.closeOnce.Do(func() { close(s.Fake.done) }) // end stalls first so Close does not wait on them
		s.srv.Close()
		s.Fake.Close()
		s.mu.Lock()
		trs := s.transports
		s.transports = nil
		s.mu.Unlock()
		for _, tr := range trs {
			tr.CloseIdleConnections()
		}
	})
}

// Connections is how many TCP connections clients opened to the server.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Client returns an iamport client for this server with the fake's credentials and an HTTP
// client of its own (keep-alive pool sized for concurrent tests, closed by Close). opts may
// change any field of the configuration. It panics if the options make the configuration
// invalid, since that is a mistake in the test.
func (s *Server) Client(opts ...func(*iamport.Config)) *iamport.Client {
	tr := &http.Transport{
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 512,
		ForceAttemptHTTP2:   false,
	}
	s.mu.Lock()
	s.transports = append(s.transports, tr)
	key, secret := s.Fake.credentials()
	s.mu.Unlock()
	cfg := iamport.Config{
		Key:        key,
		Secret:     secret,
		BaseURL:    s.URL,
		HTTPClient: &http.Client{Transport: tr},
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	c, err := iamport.New(cfg)
	if err != nil {
		panic(fmt.Sprintf("iamporttest: Server.Client: %v", err))
	}
	return c
}

func (f *Fake) credentials() (key, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.key, f.secret
}
