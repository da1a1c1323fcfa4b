// Package demotest holds the checks every example's wiring must pass, run from each
// example's own tests: a slow or idle client cannot hold a connection of the server.
package demotest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/examples/internal/demo"
)

// shortTimeouts stand in for demo.DefaultTimeouts, so that the checks end quickly.
var shortTimeouts = demo.Timeouts{Read: 300 * time.Millisecond, Write: 5 * time.Second, Idle: 300 * time.Millisecond}

// patience is how long a check waits for the server to close a connection: far longer
// than shortTimeouts, so only a server without the timeout runs into it.
const patience = 10 * time.Second

// SlowClients serves a sandbox App through wire with short timeouts and checks that the
// server cuts off a request whose body never arrives in full (a webhook POST announcing
// 100 bytes and sending 10) and closes a keep-alive connection that stays idle.
func SlowClients(t *testing.T, wire demo.Wiring) {
	t.Helper()
	addr := serve(t, wire)

	t.Run("slow body is cut off", func(t *testing.T) {
		conn := dial(t, addr)
		_, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n%s",
			demo.WebhookPath, addr, `{"imp_uid"`)
		require.NoError(t, err)
		// Whatever the server answers (408, 400), it must then close the connection.
		waitClosed(t, bufio.NewReader(conn), conn, "a request body that never arrives")
	})

	t.Run("idle connection is closed", func(t *testing.T) {
		conn := dial(t, addr)
		_, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", demo.HealthPath, addr)
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(patience)))
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.False(t, res.Close, "the server keeps the connection alive after a request")
		waitClosed(t, br, conn, "an idle keep-alive connection")
	})
}

// serve builds the App with shortTimeouts, wires it and serves it on loopback until the
// test ends; it returns the address.
func serve(t *testing.T, wire demo.Wiring) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg, err := demo.ParseConfig("test", []string{"-db", filepath.Join(t.TempDir(), "demo.db")}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	cfg.Timeouts = shortTimeouts
	app, err := demo.NewApp(context.Background(), cfg, ln.Addr(), io.Discard)
	if err != nil {
		_ = ln.Close()
	}
	require.NoError(t, err)
	srv, err := wire(app)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), demo.ShutdownTimeout)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		app.Close()
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, patience)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// waitClosed reads (and drops) whatever the server still sends until it closes the
// connection; running into patience means it never did.
func waitClosed(t *testing.T, r io.Reader, conn net.Conn, what string) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(patience)))
	_, err := io.Copy(io.Discard, r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server held %s open for %s", what, patience)
	}
	// io.Copy ended at EOF (nil) or on a reset: either way the server closed it.
}
