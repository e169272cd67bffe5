package agentops_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/agent"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/agentops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

func TestDepsNeedAnOpenAgent(t *testing.T) {
	cfg, err := config.Parse([]byte(opstest.ConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agentops.Deps(a); err == nil {
		t.Error("Deps of an agent not open")
	}
}

// TestWiredAgent opens the real agent on interfaces in a namespace (no
// DHCP server: nothing but the wiring is under test), wires the
// operations, the API and no console, and reads it through the API.
func TestWiredAgent(t *testing.T) {
	dir, child := inCard(t)
	if !child {
		return
	}
	socket := filepath.Join(dir, "api.sock")
	cfg, err := config.Parse([]byte(strings.Replace(opstest.ConfigJSON, `"log":`, `"api": {"socket": "`+socket+`"}, "log":`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	logs := ops.NewLogs(io.Discard, cfg.Log)
	a, err := agent.New(cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Open(); err != nil {
		t.Fatal(err)
	}
	o, err := agentops.Wire(a, cfg, agentops.Options{Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready")
	}

	c := mgmt.NewUnixClient(socket)
	ports, err := c.Ports(ctx)
	if err != nil || len(ports) != 2 || ports[0].Interface != "lgc0" {
		t.Errorf("ports: %+v %v", ports, err)
	}
	servers, err := c.Servers(ctx)
	if err != nil || len(servers) != 2 || servers[0].State != ops.StateUnknown {
		t.Errorf("servers: %+v %v", servers, err)
	}
	b := opstest.Binding("192.168.10.3", "00:00:00:00:00:03", "cable1/0/1")
	b.Expiry = time.Now().Add(time.Hour)
	if _, err := a.Table().Upsert(b, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ClearBinding(ctx, "192.168.10.3"); err != nil || got.Port != "cable1/0/1" {
		t.Errorf("clear binding: %+v %v", got, err)
	}
	if _, ok := a.Table().ByIP(netip.MustParseAddr("192.168.10.3")); ok {
		t.Error("the agent's table still holds the cleared binding")
	}
	// The agent applies at run time, but not a move of the API's socket.
	var apiErr *mgmt.APIError
	if _, err := c.ApplyConfig(ctx, []byte(opstest.ConfigJSON), 0); !errors.As(err, &apiErr) ||
		apiErr.Status != http.StatusUnprocessableEntity || apiErr.Field != "api" {
		t.Errorf("apply moving the API socket: %v, want a 422 naming api", err)
	}
	// The configuration enables enforcement: the agent's ruleset is served.
	if st, err := c.Nft(ctx); err != nil {
		t.Errorf("nft state of an agent with enforcement: %v", err)
	} else if b, _ := json.Marshal(st); !strings.Contains(string(b), "lgc0") {
		t.Errorf("nft state does not name port lgc0: %s", b)
	}
	if text, err := c.Metrics(ctx); err != nil || !strings.Contains(text, `leaseguard_relay_packets_total{port="dsl2",direction="to_server"} 0`) {
		t.Errorf("metrics: %v\n%s", err, text)
	}
	if o.Config().Generation != 1 {
		t.Error("generation moved")
	}
}
