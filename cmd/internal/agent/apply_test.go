package agent

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/relay"
)

func TestNeedsRestart(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *config.Config)
		field string // "" when it applies live
	}{
		{"servers", func(c *config.Config) { c.Servers = append(c.Servers, netip.MustParseAddr("10.0.0.9")) }, ""},
		{"circuit-id, trust, policy", func(c *config.Config) {
			c.Ports[1].CircuitID, c.Ports[1].Trust, c.Ports[1].Policy = "dsl-b", config.Trusted, config.PolicyReplace
		}, ""},
		{"trusted MACs, IPv6, filters", func(c *config.Config) {
			c.Enforcement.TrustedMACs = []config.MAC{{2, 0, 0, 0, 0, 1}}
			c.Enforcement.AllowIPv6, c.Enforcement.PerPortQueries = true, 5
		}, ""},
		{"leasequery tuning", func(c *config.Config) { c.Leasequery.Retries, c.Leasequery.Request = 2, []uint8{51} }, ""},
		{"log level", func(c *config.Config) { c.Log.Level = "debug" }, ""},
		{"relay-id", func(c *config.Config) { c.RelayID = "card-8" }, ""},
		{"upstream interface", func(c *config.Config) { c.Upstream.Interface = "up1" }, "upstream.interface"},
		{"upstream address", func(c *config.Config) { c.Upstream.Address = netip.MustParseAddr("10.0.0.4") }, "upstream.address"},
		{"port added", func(c *config.Config) { c.Ports = append(c.Ports, c.Ports[1]) }, "ports"},
		{"port removed", func(c *config.Config) { c.Ports = c.Ports[:1] }, "ports"},
		{"port interface", func(c *config.Config) { c.Ports[1].Interface = "sub9" }, "ports[1].interface"},
		{"port gateway", func(c *config.Config) { c.Ports[0].Gateway = netip.MustParseAddr("192.168.10.2") }, "ports[0].gateway"},
		{"port name", func(c *config.Config) { c.Ports[0].Name = "cable9" }, "ports[0].name"},
		{"table", func(c *config.Config) { c.Enforcement.Table = "other" }, "enforcement.table"},
		{"nflog group", func(c *config.Config) { c.Enforcement.NFLogGroup = 9 }, "enforcement.nflog_group"},
		{"forwarding", func(c *config.Config) { c.Enforcement.Forwarding = false }, "enforcement.forwarding"},
		{"snapshot delay", func(c *config.Config) { c.Snapshot.WriteDelay = config.Duration(time.Minute) }, "snapshot.write_delay"},
		{"api socket", func(c *config.Config) { c.API.Socket = "/run/other.sock" }, "api"},
		{"console", func(c *config.Config) { c.Console.Device = "/dev/ttyS1" }, "console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, cfg := exampleConfig(t), exampleConfig(t)
			tt.edit(cfg)
			err := needsRestart(old, cfg)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var oe *ops.Error
			if !errors.As(err, &oe) || oe.Kind != ops.Invalid || oe.Field != tt.field {
				t.Fatalf("got %v, want an Invalid error naming %s", err, tt.field)
			}
		})
	}
}

func TestNeedsRestartWithBPI(t *testing.T) {
	old, cfg := exampleConfig(t), exampleConfig(t)
	old.BPI.Enabled, cfg.BPI.Enabled = true, true
	cfg.Ports[0].Modem = config.MAC{0, 0x10, 0x95, 0, 0, 9}
	if err := needsRestart(old, cfg); ops.FieldOf(err) != "ports[0].modem" {
		t.Errorf("modem change with BPI: %v", err)
	}
}

// liveAgent is an agent as Apply sees it once open, over fakes: a
// running leasequery client answering through fake servers and the
// ruleset in an nft.Fake.
func liveAgent(t *testing.T, cfg *config.Config) (*Agent, *nft.Fake) {
	t.Helper()
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	servers := &fakeLQServers{}
	a.runner = newLeasequeryClient(testRunner(t, "10.0.0.1", servers))
	servers.c = a.runner
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.runner.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-a.runner.Ready()

	ncfg, err := nftConfig(cfg).Validate()
	if err != nil {
		t.Fatal(err)
	}
	fake := &nft.Fake{}
	if err := fake.Rebuild(ncfg, []nft.Element{{Port: "sub0", IP: netip.MustParseAddr("192.168.10.5"),
		MAC: net.HardwareAddr{2, 0, 0, 0, 0, 5}, Expires: time.Now().Add(time.Hour)}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	v := a.newVerifier(nil)
	a.enf = &enforcement{verifier: v, enforcer: &enforcer{applier: fake, carry: fake, cfg: ncfg}}
	a.wireApply()
	a.applying.transport = servers
	return a, fake
}

// runningState is what the test sees of the parts Apply changes.
type runningState struct {
	Circuit  string
	Policy   relay.Policy
	Servers  []netip.Addr
	Trusted  bool // the ruleset passes the trusted MAC from anywhere
	Verifier bool // the verifier takes it as trusted
	Element  bool
}

var trustedMAC = net.HardwareAddr{2, 0xee, 0, 0, 0, 1}

func stateOf(a *Agent, fake *nft.Fake) runningState {
	p := a.relay.Ports().Port(1)
	s := runningState{Circuit: string(p.CircuitID), Policy: p.Policy,
		Trusted:  fake.Allows("sub1", netip.MustParseAddr("192.168.20.9"), trustedMAC, time.Now()),
		Verifier: a.applying.trusted.trusted(trustedMAC),
		Element:  fake.Allows("sub0", netip.MustParseAddr("192.168.10.5"), net.HardwareAddr{2, 0, 0, 0, 0, 5}, time.Now())}
	for _, sv := range a.runner.Stats().Servers {
		s.Servers = append(s.Servers, sv.Server)
	}
	return s
}

// TestApplyRollsBack: an apply whose enforcement step the ruleset refuses
// leaves the relay, the leasequery runner, the ruleset and the verifier
// as they were; the same apply then succeeds and changes all four.
func TestApplyRollsBack(t *testing.T) {
	old := exampleConfig(t)
	a, fake := liveAgent(t, old)
	cfg := exampleConfig(t)
	cfg.Servers = []netip.Addr{netip.MustParseAddr("10.0.0.3")}
	cfg.Ports[1].CircuitID, cfg.Ports[1].Trust, cfg.Ports[1].Policy = "dsl-b", config.Trusted, config.PolicyKeep
	cfg.Enforcement.TrustedMACs = []config.MAC{config.MAC(trustedMAC)}
	before := stateOf(a, fake)

	fake.SetErr(errors.New("refused by the test"))
	err := a.Apply(t.Context(), cfg)
	if err == nil || errors.Is(err, ops.ErrRollbackFailed) {
		t.Fatalf("apply with the ruleset refusing: %v, want a rolled-back failure", err)
	}
	if diff := diffState(before, stateOf(a, fake)); diff != "" {
		t.Errorf("after the failed apply (-want +got):\n%s", diff)
	}
	if a.Running() != old {
		t.Error("the running configuration changed")
	}

	fake.SetErr(nil)
	if err := a.Apply(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	want := runningState{Circuit: "dsl-b", Policy: relay.PolicyKeep, Servers: []netip.Addr{netip.MustParseAddr("10.0.0.3")},
		Trusted: true, Verifier: true, Element: true}
	if diff := diffState(want, stateOf(a, fake)); diff != "" {
		t.Errorf("after the apply (-want +got):\n%s", diff)
	}
	if a.Running() != cfg {
		t.Error("the running configuration is not the one applied")
	}
	if err := a.Apply(t.Context(), exampleConfig(t)); err != nil {
		t.Fatalf("applying the first configuration again: %v", err)
	}
	if diff := diffState(before, stateOf(a, fake)); diff != "" {
		t.Errorf("back to the first configuration (-want +got):\n%s", diff)
	}
}

// diffState is cmp.Diff of two states, "(-want +got)".
func diffState(want, got runningState) string {
	return cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}))
}

func TestApplyRefusesBeforeChanging(t *testing.T) {
	a, fake := liveAgent(t, exampleConfig(t))
	before := stateOf(a, fake)
	cfg := exampleConfig(t)
	cfg.Ports[1].CircuitID = "dsl-b"
	cfg.Ports[1].Interface = "sub9"
	err := a.Apply(t.Context(), cfg)
	if ops.KindOf(err) != ops.Invalid || ops.FieldOf(err) != "ports[1].interface" {
		t.Fatalf("got %v, want Invalid naming ports[1].interface", err)
	}
	if diff := diffState(before, stateOf(a, fake)); diff != "" {
		t.Errorf("a refused apply changed the running state (-before +after):\n%s", diff)
	}
}

// TestLiveRulesetKeepsCounters: a rebuild replaces the table and its
// counters; the drop counters shown go on from where they were.
func TestLiveRulesetKeepsCounters(t *testing.T) {
	ncfg, err := nftConfig(exampleConfig(t)).Validate()
	if err != nil {
		t.Fatal(err)
	}
	id := nft.CounterID{Port: "sub0", Reason: nft.ReasonIPv4Source}
	k := &countingApplier{Fake: &nft.Fake{}, drops: 7}
	l := newLiveRuleset(k, k.Fake, ncfg)
	if err := l.Rebuild(ncfg, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	k.drops = 3 // counted by the new table
	st, err := l.Stats()
	if err != nil || st.Counters[id].Packets != 10 {
		t.Errorf("after a rebuild: %+v, %v; want 7 carried + 3", st.Counters[id], err)
	}
	k.Fake.SetErr(errors.New("refused"))
	if err := l.reconfigure(ncfg, time.Now()); err == nil {
		t.Fatal("reconfigure succeeded with the applier refusing")
	}
	if st, _ := l.Stats(); st.Counters[id].Packets != 10 {
		t.Errorf("a refused rebuild carried counters: %+v", st.Counters[id])
	}
}

// countingApplier is an nft.Fake whose table counts drops drops on one
// counter, as if packets had been dropped; Rebuild starts it at zero.
type countingApplier struct {
	*nft.Fake
	drops uint64
}

func (c *countingApplier) Stats() (nft.Stats, error) {
	st, err := c.Fake.Stats()
	st.Counters[nft.CounterID{Port: "sub0", Reason: nft.ReasonIPv4Source}] = nft.Counter{Packets: c.drops}
	return st, err
}

func (c *countingApplier) Rebuild(cfg nft.Config, els []nft.Element, now time.Time) error {
	if err := c.Fake.Rebuild(cfg, els, now); err != nil {
		return err
	}
	c.drops = 0
	return nil
}
