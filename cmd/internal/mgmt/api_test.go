package mgmt_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/metrics"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt/mgmttest"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
)

func TestSocketIsPrivate(t *testing.T) {
	a := startAPI(t, ops.Options{})
	fi, err := os.Stat(a.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	// A second server on the same socket is refused while the first runs.
	if _, err := mgmt.New(a.env.Ops, mgmt.Config{Socket: a.socket}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second server on a live socket: %v", err)
	}
}

// The socket's directory is made when missing (a minimal init, as u-root's
// on a line card, makes no /run).
func TestSocketDirectoryIsCreated(t *testing.T) {
	env, err := opstest.NewEnv(ops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run", "leaseguard", "api.sock")
	srv, err := mgmt.New(env.Ops, mgmt.Config{Socket: path})
	if err != nil {
		t.Fatalf("socket in a missing directory: %v", err)
	}
	defer srv.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("no socket at %s: %v", path, err)
	}
}

func TestBindingsPagedOverTheSocket(t *testing.T) {
	a := startAPI(t, ops.Options{})
	for i := range 7 {
		a.upsert(t, opstest.Binding(fmt.Sprintf("192.168.10.%d", 10+i), fmt.Sprintf("00:00:00:00:00:%02x", i), "cable1/0/1"))
	}
	a.upsert(t, opstest.Binding("192.168.20.5", "00:00:00:00:00:55", "dsl2"))
	ctx := context.Background()
	var got []string
	q := mgmt.BindingQuery{Port: "cable1/0/1", Limit: 3}
	for pages := 0; ; pages++ {
		page, err := a.client.Bindings(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 7 || pages > 3 {
			t.Fatalf("page %d: total %d", pages, page.Total)
		}
		for _, b := range page.Bindings {
			got = append(got, b.IP.String())
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	want := []string{"192.168.10.10", "192.168.10.11", "192.168.10.12", "192.168.10.13", "192.168.10.14", "192.168.10.15", "192.168.10.16"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged bindings (-want +got):\n%s", diff)
	}
	b, err := a.client.Binding(ctx, "192.168.20.5")
	if err != nil || b.Port != "dsl2" || b.MAC != "00:00:00:00:00:55" {
		t.Errorf("one binding: %+v %v", b, err)
	}
	_, err = a.client.Binding(ctx, "192.168.20.6")
	var apiErr *mgmt.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || apiErr.Field != "ip" {
		t.Errorf("absent binding: %v", err)
	}
}

func TestActionsOverTheSocket(t *testing.T) {
	a := startAPI(t, ops.Options{})
	ctx := context.Background()
	a.upsert(t, opstest.Binding("192.168.10.3", "00:00:00:00:00:03", "cable1/0/1"))
	a.env.Backend.Querier.Answer = func(q lq.Query) (engine.Result, error) {
		key, _ := engine.KeyOf(q)
		return engine.Result{Key: key, Type: lq.LeaseUnassigned, Binding: lq.Binding{IP: q.IP}, Server: opstestServer,
			Answers: []engine.ServerAnswer{{Server: opstestServer, Outcome: engine.Answered, Type: lq.LeaseUnassigned, Transmissions: 1, RTT: time.Millisecond}}}, nil
	}
	res, err := a.client.Leasequery(ctx, mgmt.LeasequeryRequest{IP: "192.168.10.77"})
	if err != nil || res.Type != "unassigned" || res.Winner != opstestServer || len(res.Answers) != 1 {
		t.Errorf("leasequery: %+v %v", res, err)
	}
	if _, err := a.client.Leasequery(ctx, mgmt.LeasequeryRequest{MAC: "00:00:00:00:00:03"}); err != nil {
		t.Errorf("leasequery by MAC: %v", err)
	}
	if _, err := a.client.Leasequery(ctx, mgmt.LeasequeryRequest{ClientID: "01:00:00:00:00:00:03"}); err != nil {
		t.Errorf("leasequery by client-id: %v", err)
	}
	asked := a.env.Backend.Querier.Asked
	if len(asked) != 3 || asked[1].Kind != lq.ByMAC || asked[1].HType != 1 || asked[2].Kind != lq.ByClientID {
		t.Errorf("queries %+v", asked)
	}
	cleared, err := a.client.ClearBinding(ctx, "192.168.10.3")
	if err != nil || cleared.MAC != "00:00:00:00:00:03" {
		t.Errorf("clear: %+v %v", cleared, err)
	}
	if _, ok := a.env.Backend.Table.ByIP(cleared.IP); ok {
		t.Error("binding still there")
	}
	if err := a.client.ClearCounters(ctx); err != nil {
		t.Error(err)
	}
	if c, err := a.client.Counters(ctx); err != nil || c.Since.IsZero() {
		t.Errorf("counters after clear: %+v %v", c, err)
	}
	l, err := a.client.SetDebug(ctx, "relay", true)
	if err != nil || !cmp.Equal(l.Debug, []string{"relay"}) {
		t.Errorf("debug: %+v %v", l, err)
	}
	l, err = a.client.SetLogLevel(ctx, "lq", "debug")
	if err != nil || l.Subsystems["lq"] != "DEBUG" {
		t.Errorf("log level: %+v %v", l, err)
	}
	text, err := a.client.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.Parse(strings.NewReader(text)); err != nil || !strings.Contains(text, "leaseguard_leasequery_rtt_seconds") {
		t.Errorf("metrics: %v\n%s", err, text)
	}
}

// TestApplyOverTheAPIRollsBack: the fake agent's apply fails at its
// third step (nftables) after the relay and leasequery steps succeeded.
func TestApplyOverTheAPIRollsBack(t *testing.T) {
	a := startAPI(t, ops.Options{})
	b := a.env.Backend
	mgmttest.CheckApplyRollback(t, mgmttest.ApplyTarget{
		Client: a.client,
		State: func(t *testing.T) string {
			running, ruleset := b.Applier.Running()
			return fmt.Sprintf("%+v\n%+v\n%v", running, ruleset, len(b.Nft.Elements(opstest.Now)))
		},
		Failing:   []byte(changedConfig),
		Break:     func(*testing.T) { b.Applier.FailStep = "enforcement" },
		Repair:    func(*testing.T) { b.Applier.FailStep = "" },
		Changed:   []byte(changedConfig),
		WantError: "generation 1 still running: enforcement: netlink: no such device (injected)",
	})
}

// changedConfig has one server less and a third port.
var changedConfig = strings.NewReplacer(
	`"servers": ["10.0.0.1", "10.0.0.3"]`, `"servers": ["10.0.0.1"]`,
	`"remote_id": "line-2"}`, `"remote_id": "line-2"},
    {"name": "eth3", "interface": "lge0", "kind": "ethernet", "gateway": "192.168.20.129"}`,
).Replace(opstest.ConfigJSON)

func TestConfigEndpoints(t *testing.T) {
	a := startAPI(t, ops.Options{})
	status, hdr, body := a.request(t, "GET", "/v1/config", "", "")
	if status != 200 || hdr.Get("ETag") != `"1"` || !strings.Contains(body, `"generation":1`) {
		t.Errorf("GET /v1/config: %d %v %s", status, hdr, body)
	}
	if err := a.client.ValidateConfig(context.Background(), []byte(changedConfig)); err != nil {
		t.Errorf("validate: %v", err)
	}
	bad := strings.Replace(changedConfig, `"kind": "ethernet"`, `"kind": "ethernet", "trust": "trusted", "option82_policy": "keep", "device_class": 2`, 1)
	err := a.client.ValidateConfig(context.Background(), []byte(bad))
	var apiErr *mgmt.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity || apiErr.Field != "ports[2]" {
		t.Errorf("validate an invalid config: %v (%+v)", err, apiErr)
	}
	for _, tc := range []struct {
		ifMatch string
		status  int
		field   string
	}{
		{`"x"`, 400, "If-Match"},
		{`"7"`, 412, "generation"},
	} {
		status, _, body := a.request(t, "PUT", "/v1/config", "application/json", changedConfig, "If-Match", tc.ifMatch)
		if status != tc.status || !strings.Contains(body, `"field":"`+tc.field+`"`) || !strings.Contains(body, `"generation":1`) {
			t.Errorf("If-Match %s: %d %s, want %d on %s", tc.ifMatch, status, body, tc.status, tc.field)
		}
	}
	status, hdr, body = a.request(t, "PUT", "/v1/config", "application/json", changedConfig, "If-Match", `"1"`)
	if status != 200 || hdr.Get("ETag") != `"2"` || !strings.Contains(body, `"generation":2`) {
		t.Errorf("PUT with the right generation: %d %v %s", status, hdr, body)
	}
}

var opstestServer = mustAddr("10.0.0.1")
