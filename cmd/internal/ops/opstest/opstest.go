// Package opstest is a fake agent for tests of the operations layer and
// its front ends: a real location table and nft.Fake, a scripted
// leasequery client, counters the test sets, and an Applier made of
// reversible steps over fake running state, one of which can be made to
// fail half-way.
package opstest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform"
	"github.com/leaseguard/leaseguard/relay"
)

// Now is the fake agent's time.
var Now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// ConfigJSON is a valid configuration: two ports, two servers,
// enforcement on.
const ConfigJSON = `{
  "relay_id": "card-7",
  "upstream": {"interface": "up0", "address": "10.0.0.2"},
  "servers": ["10.0.0.1", "10.0.0.3"],
  "subscriber_networks": ["192.168.10.0/24", "192.168.20.0/24"],
  "ports": [
    {"name": "cable1/0/1", "interface": "lgc0", "kind": "cable", "gateway": "192.168.10.1", "modem": "00:aa:00:00:00:01"},
    {"name": "dsl2", "interface": "lgd0", "kind": "dsl", "gateway": "192.168.20.1", "remote_id": "line-2"}
  ],
  "enforcement": {"enabled": true},
  "log": {"level": "info"}
}`

// BPIConfigJSON is ConfigJSON with BPI+ on: the cable port's modem with
// generated keys and an authorization key, a modem with privacy disabled,
// and one with configured keys (the older expiring an hour after Now).
var BPIConfigJSON = strings.Replace(ConfigJSON, `"log":`, `"bpi": {
    "enabled": true, "downstream_interface": "ds1", "rf_interface": "rf0",
    "tek_lifetime": "12h", "tek_grace": "1h",
    "modems": [
      {"mac": "00:aa:00:00:00:01", "said": 101, "auth_key": "00112233445566778899aabbccddeeff00112233", "auth_key_seq": 1},
      {"mac": "00:aa:00:00:00:02", "said": 102, "privacy_disabled": true},
      {"mac": "00:aa:00:00:00:03", "said": 103, "keys": {
        "older": {"seq": 15, "key": "000102030405060708090a0b0c0d0e0f", "iv": "101112131415161718191a1b1c1d1e1f", "expires": "2026-11-28T13:00:00Z"},
        "newer": {"seq": 0, "key": "202122232425262728292a2b2c2d2e2f", "iv": "303132333435363738393a3b3c3d3e3f", "expires": "2026-11-29T01:00:00Z"}}}
    ]
  },
  "log":`, 1)

// Backend is the fake agent.
type Backend struct {
	Table   *location.Table
	Querier *Querier
	Relay   *Counters[relay.ServiceStats]
	Ports   *PortCounters
	Nft     *nft.Fake
	// Drops are the ruleset's drop counters (a fake sees no packets).
	Drops *Counters[map[nft.CounterID]nft.Counter]
	// Downstream are the ip table's counters (UnknownDestination,
	// ReportedDestination, UnknownDst, ForwardedDHCP; the rest ignored).
	Downstream *Counters[nft.Stats]
	// BPI is the BPI+ task when the configuration enables it, else nil.
	BPI     *BPI
	Applier *Applier
}

// New returns a fake agent running cfg, with the nftables ruleset built.
func New(cfg *config.Config) (*Backend, error) {
	b := &Backend{Table: location.New(location.Config{}), Querier: &Querier{},
		Relay: &Counters[relay.ServiceStats]{}, Ports: &PortCounters{}, Nft: &nft.Fake{},
		Drops: &Counters[map[nft.CounterID]nft.Counter]{}, Downstream: &Counters[nft.Stats]{}}
	b.Applier = &Applier{nft: b.Nft, running: StateOf(cfg), ruleset: NftConfig(cfg)}
	if err := b.Nft.Rebuild(NftConfig(cfg), nil, Now); err != nil {
		return nil, err
	}
	if cfg.BPI.Enabled {
		var err error
		if b.BPI, err = NewBPI(cfg.BPI); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Deps are the backend as ops takes it.
func (b *Backend) Deps() ops.Deps {
	d := ops.Deps{Table: b.Table, Querier: b.Querier, Relay: b.Relay, Ports: b.Ports, Nft: nftStats{b}, Applier: b.Applier}
	if b.BPI != nil {
		d.BPI = b.BPI
	}
	return d
}

// nftStats are the fake ruleset's stats at Now, with the drop counters.
type nftStats struct{ b *Backend }

func (n nftStats) Stats() (nft.Stats, error) {
	st := n.b.Nft.StatsAt(Now)
	for id, c := range n.b.Drops.Stats() {
		st.Counters[id] = c
	}
	d := n.b.Downstream.Stats()
	st.UnknownDestination, st.ReportedDestination, st.UnknownDst = d.UnknownDestination, d.ReportedDestination, d.UnknownDst
	st.ForwardedDHCP = d.ForwardedDHCP
	return st, nil
}

// Env is an Ops over a fake backend.
type Env struct {
	Ops     *ops.Ops
	Backend *Backend
	Config  *config.Config
}

// NewEnv builds an Env running ConfigJSON, at Now.
func NewEnv(opts ops.Options) (*Env, error) {
	return NewEnvConfig(ConfigJSON, opts)
}

// NewEnvConfig builds an Env running the configuration cfgJSON, at Now.
func NewEnvConfig(cfgJSON string, opts ops.Options) (*Env, error) {
	cfg, err := config.Parse([]byte(cfgJSON))
	if err != nil {
		return nil, err
	}
	b, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return Now }
	}
	o, err := ops.New(b.Deps(), cfg, opts)
	if err != nil {
		return nil, err
	}
	return &Env{Ops: o, Backend: b, Config: cfg}, nil
}

// Counters hold a stats value the test sets.
type Counters[T any] struct {
	mu sync.Mutex
	v  T
}

func (c *Counters[T]) Set(v T) { c.mu.Lock(); c.v = v; c.mu.Unlock() }
func (c *Counters[T]) Stats() T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v
}

// PortCounters are socket counters by interface.
type PortCounters struct {
	Counters[map[string]platform.PortStats]
}

func (p *PortCounters) PortStats() map[string]platform.PortStats { return p.Stats() }

// Querier is a scripted leasequery client.
type Querier struct {
	mu sync.Mutex
	// Answer decides each query's result; nil answers ErrNoAnswer.
	Answer func(q lq.Query) (engine.Result, error)
	stats  engine.RunnerStats
	Asked  []lq.Query
}

func (q *Querier) QueryFresh(ctx context.Context, query lq.Query) (engine.Result, error) {
	q.mu.Lock()
	q.Asked = append(q.Asked, query)
	answer := q.Answer
	q.mu.Unlock()
	if answer == nil {
		return engine.Result{Err: engine.ErrNoAnswer}, engine.ErrNoAnswer
	}
	return answer(query)
}

func (q *Querier) Stats() engine.RunnerStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Servers = slices.Clone(s.Servers)
	return s
}

// SetStats sets what Stats returns.
func (q *Querier) SetStats(s engine.RunnerStats) {
	q.mu.Lock()
	q.stats = s
	q.mu.Unlock()
}

// Binding is a gleaned binding on a port of ConfigJSON, expiring in an
// hour.
func Binding(ip, mac, port string) location.Binding {
	hw, _ := net.ParseMAC(mac)
	return location.Binding{Binding: lq.Binding{IP: netip.MustParseAddr(ip), HType: 1, HWAddr: hw,
		Expiry: Now.Add(time.Hour), Server: netip.MustParseAddr("10.0.0.1")},
		Port: port, CircuitID: []byte(port), Source: location.Gleaned}
}

// State is what the fake agent runs: the parts of a configuration each
// apply step programs.
type State struct {
	Ports   []string // relay: the port interfaces served
	Servers []netip.Addr
	RelayID string
}

// StateOf is the state a configuration asks for.
func StateOf(cfg *config.Config) State {
	s := State{Servers: slices.Clone(cfg.Servers), RelayID: cfg.RelayID}
	for _, p := range cfg.Ports {
		s.Ports = append(s.Ports, p.Interface)
	}
	return s
}

// NftConfig is the ruleset of a configuration.
func NftConfig(cfg *config.Config) nft.Config {
	c := nft.Config{Table: cfg.Enforcement.Table, NFLogGroup: cfg.Enforcement.NFLogGroup, AllowIPv6: cfg.Enforcement.AllowIPv6}
	for _, p := range cfg.Ports {
		c.Ports = append(c.Ports, nft.Port{Name: p.Interface, RelayAddr: p.Gateway})
	}
	return c
}

// Applier applies a configuration in three steps (relay ports, leasequery
// servers, the nftables ruleset) with ops.RunSteps, like the agent.
type Applier struct {
	mu      sync.Mutex
	nft     *nft.Fake
	running State
	ruleset nft.Config // the ruleset built
	// FailStep names a step whose Do fails: "relay", "leasequery",
	// "enforcement" (the nft.Fake refuses the rebuild).
	FailStep string
	// FailUndo names a step whose Undo fails too.
	FailUndo string
	Applies  int // successful applies
}

// Running is the state the fake agent runs and its ruleset.
func (a *Applier) Running() (State, nft.Config) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running, a.ruleset
}

func (a *Applier) Apply(ctx context.Context, cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	old, next := a.running, StateOf(cfg)
	steps := []ops.Step{
		a.step("relay", func() { a.running.Ports, a.running.RelayID = next.Ports, next.RelayID },
			func() { a.running.Ports, a.running.RelayID = old.Ports, old.RelayID }),
		a.step("leasequery", func() { a.running.Servers = next.Servers }, func() { a.running.Servers = old.Servers }),
		a.nftStep(cfg),
	}
	if err := ops.RunSteps(ctx, steps); err != nil {
		return err
	}
	a.Applies++
	return nil
}

func (a *Applier) step(name string, do, undo func()) ops.Step {
	return ops.Step{Name: name,
		Do: func(context.Context) error {
			if a.FailStep == name {
				return fmt.Errorf("injected failure")
			}
			do()
			return nil
		},
		Undo: func(context.Context) error {
			if a.FailUndo == name {
				return errors.New("injected undo failure")
			}
			undo()
			return nil
		}}
}

// nftStep rebuilds the ruleset for cfg keeping the elements; undo
// rebuilds the old one.
func (a *Applier) nftStep(cfg *config.Config) ops.Step {
	var old nft.Config
	return ops.Step{Name: "enforcement",
		Do: func(context.Context) error {
			old = a.ruleset
			if a.FailStep == "enforcement" {
				a.nft.Err = errors.New("netlink: no such device (injected)")
				defer func() { a.nft.Err = nil }()
			}
			if err := a.nft.Rebuild(NftConfig(cfg), a.nft.Elements(Now), Now); err != nil {
				return err
			}
			a.ruleset = NftConfig(cfg)
			return nil
		},
		Undo: func(context.Context) error {
			if a.FailUndo == "enforcement" {
				return errors.New("injected undo failure")
			}
			if err := a.nft.Rebuild(old, a.nft.Elements(Now), Now); err != nil {
				return err
			}
			a.ruleset = old
			return nil
		}}
}

// BPI is a fake BPI+ task: counters and modems the test sets.
type BPI struct {
	Counters Counters[ops.BPICounters]
	Modems   Counters[[]ops.BPIModemState]
}

func (f *BPI) BPIStats() ops.BPICounters { return f.Counters.Stats() }

func (f *BPI) BPIModems() []ops.BPIModemState { return slices.Clone(f.Modems.Stats()) }

// NewBPI returns the BPI+ task of cfg as the agent keys it at Now: the
// configured keys as configured, generated ones with sequence 1 expiring
// six hours after Now and 2 a lifetime later; no SA when privacy is off.
func NewBPI(cfg config.BPI) (*BPI, error) {
	f, suite := &BPI{}, bpi.SuiteAES128CBC
	if cfg.Suite == config.SuiteDES56CBC {
		suite = bpi.SuiteDES56CBC
	}
	var ms []ops.BPIModemState
	for i, c := range cfg.Modems {
		m := ops.BPIModemState{Modem: bpi.Modem{MAC: net.HardwareAddr(c.MAC), PrimarySAID: uint16(c.SAID), BPIEnabled: !c.PrivacyDisabled}}
		var err error
		switch {
		case c.PrivacyDisabled:
		case c.Keys != nil:
			m.SA, err = configuredSA(uint16(c.SAID), suite, *c.Keys)
		default:
			m.SA, err = generatedSA(uint16(c.SAID), suite, Now.Add(6*time.Hour), time.Duration(cfg.TEKLifetime))
		}
		if err != nil {
			return nil, fmt.Errorf("bpi.modems[%d]: %w", i, err)
		}
		ms = append(ms, m)
	}
	f.Modems.Set(ms)
	return f, nil
}

func configuredSA(said uint16, suite bpi.Suite, k config.BPIKeys) (*bpi.SA, error) {
	sa := &bpi.SA{SAID: said}
	for _, t := range []struct {
		c   *config.BPITEK
		tek **bpi.TEK
	}{{k.Older, &sa.Older}, {k.Newer, &sa.Newer}} {
		if t.c == nil {
			continue
		}
		key, iv, err := hexPair(t.c.Key, t.c.IV)
		if err != nil {
			return nil, err
		}
		if *t.tek, err = bpi.NewTEK(suite, key, iv, uint8(t.c.Seq), t.c.Expires); err != nil {
			return nil, err
		}
	}
	return sa, nil
}

func generatedSA(said uint16, suite bpi.Suite, olderExpires time.Time, lifetime time.Duration) (*bpi.SA, error) {
	key := make([]byte, suite.KeyLen())
	older, err := bpi.NewTEK(suite, key, key, 1, olderExpires)
	if err != nil {
		return nil, err
	}
	newer, err := bpi.NewTEK(suite, key, key, 2, olderExpires.Add(lifetime))
	return &bpi.SA{SAID: said, Older: older, Newer: newer}, err
}

func hexPair(a, b string) ([]byte, []byte, error) {
	x, err := hex.DecodeString(a)
	if err != nil {
		return nil, nil, err
	}
	y, err := hex.DecodeString(b)
	return x, y, err
}
