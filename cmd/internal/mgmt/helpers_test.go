package mgmt_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
	"github.com/leaseguard/leaseguard/lq/location"
)

const failAfter = 10 * time.Second

// api is the API on a Unix socket over the fake agent, with the
// operations following the table.
type api struct {
	env    *opstest.Env
	srv    *mgmt.Server
	socket string
	client *mgmt.Client
	raw    *http.Client // for requests the Client does not make
}

func startAPI(t *testing.T, opts ops.Options) *api {
	t.Helper()
	return startAPIWith(t, opts, time.Hour)
}

func startAPIWith(t *testing.T, opts ops.Options, heartbeat time.Duration) *api {
	t.Helper()
	return startAPIConfig(t, opstest.ConfigJSON, opts, heartbeat)
}

// startAPIConfig is startAPIWith over a fake agent running cfgJSON.
func startAPIConfig(t *testing.T, cfgJSON string, opts ops.Options, heartbeat time.Duration) *api {
	t.Helper()
	env, err := opstest.NewEnvConfig(cfgJSON, opts)
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(t.TempDir(), "lg.sock")
	srv, err := mgmt.New(env.Ops, mgmt.Config{Socket: socket, Heartbeat: heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	runTask(t, env.Ops.Run, env.Ops.Ready())
	runTask(t, srv.Run, srv.Ready())
	raw := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
	return &api{env: env, srv: srv, socket: socket, client: mgmt.NewUnixClient(socket), raw: raw}
}

// runTask runs a task until the test ends and waits for it then.
func runTask(t *testing.T, run func(context.Context) error, ready <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("task: %v", err)
			}
		case <-time.After(failAfter):
			t.Error("task did not stop")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("task ended before ready: %v", err)
	case <-time.After(failAfter):
		t.Fatal("task never ready")
	}
}

// request sends a raw request and returns the status and body.
func (a *api) request(t *testing.T, method, path, contentType, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://leaseguard"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := a.raw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := fmt.Fprint(&b, readAll(t, resp)); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b.String()
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func (a *api) upsert(t *testing.T, bs ...location.Binding) {
	t.Helper()
	for _, b := range bs {
		if _, err := a.env.Backend.Table.Upsert(b, opstest.Now); err != nil {
			t.Fatal(err)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
