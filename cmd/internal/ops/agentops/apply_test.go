package agentops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/agent"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt/mgmttest"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/agentops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// cardJSON is the configuration the apply tests start from: two ports,
// two servers, enforcement with forwarding (routes and neighbours per
// binding). SOCKET is replaced by the run's API socket.
const cardJSON = `{
  "relay_id": "card-7",
  "upstream": {"interface": "up0", "address": "10.0.0.2"},
  "servers": ["10.0.0.1", "10.0.0.3"],
  "subscriber_networks": ["192.168.10.0/24", "192.168.20.0/24"],
  "ports": [
    {"name": "cable1/0/1", "interface": "lgc0", "kind": "cable", "gateway": "192.168.10.1", "modem": "00:aa:00:00:00:01"},
    {"name": "dsl2", "interface": "lgd0", "kind": "dsl", "gateway": "192.168.20.1", "remote_id": "line-2"}
  ],
  "enforcement": {"enabled": true, "forwarding": true},
  "api": {"socket": "SOCKET"},
  "log": {"level": "info"}
}`

// card is a real agent, wired with its API, reading its configuration
// from a file (ops.Options.ConfigPath: what SIGHUP reloads and an apply
// replaces). It runs in the card namespace of inCard, as the whole test
// process does.
type card struct {
	agent  *agent.Agent
	ops    *ops.Ops
	client *mgmt.Client
	path   string // the configuration file
	socket string
	done   chan error // Run's result
}

func startCard(t *testing.T, dir, cfgJSON string) *card {
	t.Helper()
	c := &card{socket: filepath.Join(dir, "api.sock"), path: filepath.Join(dir, "agent.json"), done: make(chan error, 1)}
	data := []byte(strings.Replace(cfgJSON, "SOCKET", c.socket, 1))
	if err := os.WriteFile(c.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	logs := ops.NewLogs(io.Discard, cfg.Log)
	if c.agent, err = agent.New(cfg, agent.Options{Logs: logs}); err != nil {
		t.Fatal(err)
	}
	if err := c.agent.Open(); err != nil {
		t.Fatal(err)
	}
	if c.ops, err = agentops.Wire(c.agent, cfg, agentops.Options{Logs: logs, ConfigPath: c.path}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { c.done <- c.agent.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-c.done })
	select {
	case <-c.agent.Ready():
	case err := <-c.done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready")
	}
	c.client = mgmt.NewUnixClient(c.socket)
	return c
}

// run runs a command (in the card namespace, as the process is).
func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// edited is cfgJSON with the socket filled in and edit applied.
func (c *card) edited(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.Replace(cardJSON, "SOCKET", c.socket, 1)), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kernel is what the card's kernel holds for enforcement and forwarding.
// The listings are stateless (nft -s): no counters, which the ports'
// own IPv6 chatter moves, and no element expiries, which move every
// millisecond; each element's timeout stays, so a table rebuilt with the
// same elements (timeouts then their remaining lifetimes) shows.
func (c *card) kernel(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, cmd := range [][]string{
		{"nft", "-s", "list", "table", "netdev", "leaseguard"},
		{"nft", "-s", "list", "table", "ip", "leaseguard"},
		{"ip", "route", "show", "proto", "108"},
		{"ip", "neigh"},
	} {
		out, err := run(cmd[0], cmd[1:]...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
		fmt.Fprintf(&b, "$ %s\n%s", strings.Join(cmd, " "), out)
	}
	return b.String()
}

// state is the kernel's state and what the agent runs in user space:
// each port's option 82 and trust, the leasequery servers.
func (c *card) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(c.kernel(t))
	for _, p := range c.agent.Relay().Ports().Ports() {
		fmt.Fprintf(&b, "relay port %s: option 82 %x, trusted %v, policy %d\n", p.Name, p.Option82, p.Trusted, p.Policy)
	}
	for _, s := range c.agent.Leasequery().Stats().Servers {
		fmt.Fprintf(&b, "leasequery server %v\n", s.Server)
	}
	return b.String()
}

// waitFor polls cond (the enforcer programs bindings on its own
// goroutine and says so only in its counters) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// fillHooks fills the netfilter ingress hooks of dev to the kernel's
// limit (MAX_HOOK_COUNT, 1024 per hook point) with base chains of a
// table of the test's own, so that any further chain on dev, such as the
// one a rebuild of leaseguard's table creates before the old one goes,
// is refused with E2BIG. The owned tables are untouched. It returns how
// many chains it added.
func fillHooks(t *testing.T, table, dev string) int {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "table netdev %s {\n", table)
	const bulk = 1000
	for i := range bulk {
		fmt.Fprintf(&b, "  chain c%d { type filter hook ingress device %q priority 0; policy accept; }\n", i, dev)
	}
	b.WriteString("}\n")
	script := filepath.Join(t.TempDir(), "fill.nft")
	if err := os.WriteFile(script, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run("nft", "-f", script); err != nil {
		t.Fatalf("filling %s's hooks: %v\n%s", dev, err, out)
	}
	for i := bulk; i < 1100; i++ {
		chain := fmt.Sprintf("c%d { type filter hook ingress device %q priority 0; policy accept; }", i, dev)
		out, err := run("nft", "add", "chain", "netdev", table, chain)
		if err != nil {
			if !strings.Contains(out, "Argument list too long") {
				t.Fatalf("filling %s's hooks: %v\n%s", dev, err, out)
			}
			return i
		}
	}
	t.Fatalf("%s takes more than 1,100 ingress chains: no hook limit to provoke", dev)
	return 0
}

// TestApplyRollbackInTheKernel: a real agent in a namespace, enforcing
// with forwarding, with two bindings programmed (allowed-set elements,
// /32 routes, permanent neighbours). An apply that changes the servers,
// leasequery tuning, a port's option 82 and trust, the trusted MACs,
// IPv6 and the query filters fails half-way, at the enforcement step:
// the kernel refuses the rebuilt table because the port's ingress hook is
// full. Everything is rolled back: the generation, the configuration, the
// leasequery runner and relay settings already swapped, and the kernel's
// state, byte for byte. With the hook freed the same apply succeeds and
// the kernel shows it; a change that needs a restart and a SIGHUP reload
// of a broken file leave everything running.
func TestApplyRollbackInTheKernel(t *testing.T) {
	dir, child := inCard(t)
	if !child {
		return
	}
	c := startCard(t, dir, cardJSON)
	now := time.Now()
	for _, b := range [][3]string{{"192.168.10.3", "02:00:00:00:00:03", "cable1/0/1"}, {"192.168.20.4", "02:00:00:00:00:04", "dsl2"}} {
		bd := opstest.Binding(b[0], b[1], b[2])
		bd.Expiry = now.Add(time.Hour)
		if _, err := c.agent.Table().Upsert(bd, now); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two bindings programmed", func() bool { return c.agent.Stats().Enforcement.Enforce.Programmed == 2 })
	before := c.kernel(t)
	for _, want := range []string{"192.168.10.3", "192.168.20.4 dev lgd0", "PERMANENT"} {
		if !strings.Contains(before, want) {
			t.Fatalf("the kernel does not show %q with the bindings programmed:\n%s", want, before)
		}
	}

	changed := c.edited(t, func(m map[string]any) {
		m["servers"] = []string{"10.0.0.3"}
		m["leasequery"] = map[string]any{"retries": 2}
		dsl := m["ports"].([]any)[1].(map[string]any)
		dsl["circuit_id"], dsl["remote_id"], dsl["trust"], dsl["option82_policy"] = "dsl2-b", "line-2b", "trusted", "replace"
		m["enforcement"] = map[string]any{"enabled": true, "forwarding": true, "allow_ipv6": true,
			"trusted_macs": []string{"02:ee:00:00:00:01"}, "per_port_queries": 5}
	})
	fill := "lgfill" + fmt.Sprint(os.Getpid())
	mgmttest.CheckApplyRollback(t, mgmttest.ApplyTarget{
		Client:  c.client,
		State:   c.state,
		Failing: changed,
		Break: func(t *testing.T) {
			n := fillHooks(t, fill, "lgc0")
			t.Logf("lgc0's ingress hook filled with %d chains of table netdev %s", n, fill)
		},
		Repair: func(t *testing.T) {
			if out, err := run("nft", "delete", "table", "netdev", fill); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		},
		Changed:   changed,
		WantError: "enforcement: nft rebuild of table leaseguard: conn.Receive: netlink receive: argument list too long",
	})

	after := c.kernel(t)
	if out, _ := run("nft", "list", "set", "netdev", "leaseguard", "trusted"); !strings.Contains(out, "02:ee:00:00:00:01") {
		t.Errorf("the trusted MAC is not in the kernel's set:\n%s", out)
	}
	if !strings.Contains(after, "meta protocol ip6 accept") {
		t.Errorf("IPv6 not passed by the ruleset after allow_ipv6:\n%s", after)
	}
	// The bindings' elements were carried with their remaining lifetime.
	if strings.Contains(section(after, "$ nft -s list table netdev"), "timeout 1h") {
		t.Errorf("the rebuilt table's elements have their first timeout, not what remained of it:\n%s", after)
	}
	for _, want := range []string{"192.168.10.3", "192.168.20.4", "192.168.20.4 dev lgd0", "PERMANENT"} {
		if !strings.Contains(after, want) {
			t.Errorf("the apply lost %q:\n%s", want, after)
		}
	}
	if got := section(after, "$ ip route"); got != section(before, "$ ip route") {
		t.Errorf("routes changed by the apply:\n%s\nwas\n%s", got, section(before, "$ ip route"))
	}
	if p := c.agent.Relay().Ports().Port(1); string(p.CircuitID) != "dsl2-b" || !p.Trusted {
		t.Errorf("relay port dsl2 after the apply: circuit %q, trusted %v", p.CircuitID, p.Trusted)
	}
	if saved, _ := os.ReadFile(c.path); string(saved) != string(changed) {
		t.Errorf("the configuration file was not replaced by the applied one:\n%s", saved)
	}
	checkRestartRefused(t, c)
	checkBrokenReload(t, c)
}

// section is the part of a state from the line starting with header to
// the next command.
func section(state, header string) string {
	i := strings.Index(state, header)
	if i < 0 {
		return ""
	}
	rest := state[i:]
	if j := strings.Index(rest[1:], "\n$ "); j >= 0 {
		return rest[:j+2]
	}
	return rest
}

// checkRestartRefused: a change of the upstream interface is refused
// with a 422 naming it, and nothing changes.
func checkRestartRefused(t *testing.T, c *card) {
	t.Helper()
	ctx := context.Background()
	cur, err := c.client.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stateBefore := c.state(t)
	moved := c.edited(t, func(m map[string]any) { m["upstream"].(map[string]any)["interface"] = "up9" })
	_, err = c.client.ApplyConfig(ctx, moved, cur.Generation)
	var apiErr *mgmt.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity || apiErr.Field != "upstream.interface" ||
		!strings.Contains(apiErr.ErrorBody.Error, "needs a restart") {
		t.Errorf("apply moving the upstream interface: %v, want a 422 naming upstream.interface", err)
	}
	if after, _ := c.client.Config(ctx); after.Generation != cur.Generation {
		t.Errorf("generation %d after a refused apply, want %d", after.Generation, cur.Generation)
	}
	if s := c.state(t); s != stateBefore {
		t.Errorf("a refused apply changed the state:\n%s\nwas\n%s", s, stateBefore)
	}
}

// checkBrokenReload: a SIGHUP (ops.Reload, what the agent's SIGHUP task
// calls) of a file that does not parse is refused and leaves the agent
// running as it was; a SIGHUP of a good file applies it.
func checkBrokenReload(t *testing.T, c *card) {
	t.Helper()
	ctx := context.Background()
	gen := c.ops.Config().Generation
	stateBefore := c.state(t)
	if err := os.WriteFile(c.path, []byte(`{"relay_id": "card-7", "servers": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ops.Reload(ctx); ops.KindOf(err) != ops.Malformed {
		t.Errorf("reload of a broken file: %v, want a malformed configuration", err)
	}
	if g := c.ops.Config().Generation; g != gen {
		t.Errorf("generation %d after a refused reload, want %d", g, gen)
	}
	if s := c.state(t); s != stateBefore {
		t.Errorf("a refused reload changed the state:\n%s\nwas\n%s", s, stateBefore)
	}
	select {
	case err := <-c.done:
		t.Fatalf("the agent stopped after a refused reload: %v", err)
	default:
	}
	if _, err := c.client.Config(ctx); err != nil {
		t.Errorf("API after a refused reload: %v", err)
	}

	untrusted := c.edited(t, func(m map[string]any) {})
	if err := os.WriteFile(c.path, untrusted, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := c.ops.Reload(ctx)
	if err != nil || st.Generation != gen+1 {
		t.Fatalf("reload of the first configuration: generation %d, %v", st.Generation, err)
	}
	if out, _ := run("nft", "list", "set", "netdev", "leaseguard", "trusted"); strings.Contains(out, "02:ee:00:00:00:01") {
		t.Errorf("the trusted MAC is still in the kernel's set after the reload:\n%s", out)
	}
}
