// Package agent is `leaseguard agent`: the line card's long-running
// process. It opens the subscriber ports and the upstream socket that the
// relay and the leasequery client share, relays with option 82, gleans
// into the one location table, answers on-demand leasequeries into the
// same table, and expires bindings. Each piece is a Task under one
// errgroup; later work (nftables enforcement, forwarding, BPI, console,
// API, snapshots) plugs in with Add and reads the table, its events, the
// leasequery runner and the counters through the accessors.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/platform"
	"github.com/leaseguard/leaseguard/relay"
)

// ConfigError is a configuration the agent cannot run (the command exits
// with status 2); it names the field.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Options are what the agent takes besides its configuration.
type Options struct {
	// Logs are the per-subsystem loggers, whose levels and debug traces an
	// operator changes at run time; nil discards.
	Logs *ops.Logs
	Now  func() time.Time // nil means time.Now
	// Batch is how many frames or datagrams one system call moves on the
	// ports and the upstream socket; 0 means 32.
	Batch int
}

// Agent is one running line card. Build it with New, open its sockets
// with Open (in the network namespace of its interfaces), then Run.
type Agent struct {
	cfg   *config.Config
	opts  Options
	log   *slog.Logger
	lqLog *slog.Logger

	table  *location.Table
	relay  *relay.Relay
	engine *engine.Engine // until Open hands it to the runner
	runner *LeasequeryClient

	upstream  *platform.Upstream
	listeners []*platform.Upstream
	ports     *platform.PortSet
	transport *platform.LeasequeryTransport
	service   *relay.Service

	enf         *enforcement // enforcement, forwarding, snapshot (enforce.go)
	tasks       []namedTask
	resultHooks []func(engine.Result)
	ready       chan struct{}
	lq          lqCounters
	applying    applyState // run-time configuration changes (apply.go)
}

// New checks cfg and builds the relay, the table and the leasequery
// engine; it does no I/O. Its errors are *ConfigError.
func New(cfg *config.Config, opts Options) (*Agent, error) {
	if opts.Logs == nil {
		opts.Logs = ops.NewLogs(nil, config.Log{})
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Batch == 0 {
		opts.Batch = 32
	}
	r, err := relay.New(relayConfig(cfg))
	if err != nil {
		return nil, &ConfigError{err}
	}
	a := &Agent{cfg: cfg, opts: opts, log: opts.Logs.For("agent"), lqLog: opts.Logs.For("lq"), relay: r,
		table: location.New(location.Config{}), ready: make(chan struct{})}
	eng, err := engine.New(engineConfig(cfg), rand.Float64)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("leasequery: %w", err)}
	}
	a.engine = eng
	return a, nil
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// Open opens the sockets: the upstream socket on the upstream address,
// one listener per port gateway (servers send replies to giaddr:67, and a
// client renewing with a server-id override sends to gateway:67, which
// must not draw an ICMP port unreachable), and the ports. It must run in
// the network namespace of the interfaces; on error it closes what it
// opened.
func (a *Agent) Open() (err error) {
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.upstream, err = platform.ListenUpstream(platform.UpstreamConfig{
		Addr: a.cfg.Upstream.Address, Device: a.cfg.Upstream.Interface, Batch: a.opts.Batch, ReadBuffer: 1 << 20})
	if err != nil {
		return err
	}
	if err := a.openListeners(); err != nil {
		return err
	}
	var pcs []platform.PortConfig
	for _, p := range a.cfg.Ports {
		pcs = append(pcs, platform.PortConfig{Name: p.Interface, SourceIP: p.Gateway, ReadBuffer: 1 << 20, Batch: a.opts.Batch})
	}
	if a.ports, err = platform.OpenPorts(pcs); err != nil {
		return err
	}
	if err := a.wire(); err != nil {
		return err
	}
	return a.openBPI() // after wire: it asks the leasequery runner
}

// openListeners binds gateway:67 for every port gateway. A gateway that
// is some port's giaddr must be an address of this host; one only named
// in server-id overrides (link selection ports) may be absent.
func (a *Agent) openListeners() error {
	for _, g := range gateways(a.cfg) {
		u, err := platform.ListenUpstream(platform.UpstreamConfig{Addr: g.addr, Batch: a.opts.Batch})
		switch {
		case err != nil && g.giaddr:
			return fmt.Errorf("gateway %v (port interface %s): %w; it must be an address of this host, on the port", g.addr, g.iface, err)
		case err != nil:
			a.log.Warn("gateway not bound; clients renewing to it get ICMP errors", "gateway", g.addr, "err", err)
		default:
			a.listeners = append(a.listeners, u)
		}
	}
	return nil
}

// wire builds the relay service and the leasequery runner over the open
// sockets, and the task list.
func (a *Agent) wire() error {
	a.transport = platform.NewLeasequeryTransport(a.upstream, a.cfg.Leasequery.Request)
	runner, err := engine.NewRunner(a.engine, engine.RunnerConfig{
		Transport: a.transport, Logger: a.lqLog, OnResult: a.onResult})
	if err != nil {
		return err
	}
	a.runner = newLeasequeryClient(runner) // an apply may replace the runner
	if err := a.transport.Attach(a.runner); err != nil {
		return err
	}
	conns := make([]platform.PortConn, 0, len(a.cfg.Ports))
	for _, p := range a.ports.Ports() {
		conns = append(conns, p)
	}
	var listeners []platform.UpstreamConn
	for _, l := range a.listeners {
		listeners = append(listeners, l)
	}
	a.service, err = relay.NewService(relay.ServiceConfig{
		Relay: a.relay, Ports: conns, RunPorts: a.ports.Run, Upstream: a.upstream, Listeners: listeners,
		Batch: a.opts.Batch, Table: a.table, NoteLease: a.runner.NoteLease, Now: a.opts.Now, Log: a.opts.Logs.For("relay"),
	})
	if err != nil {
		return err
	}
	a.tasks = append([]namedTask{
		{"upstream", FuncTask(a.upstream.Run)},
		{"leasequery", a.runner},
		{"relay", a.service},
		{"expiry", newExpiryTask(a.table, a.opts.Now, a.opts.Logs.For("glean"))},
	}, a.tasks...)
	for _, l := range a.listeners {
		a.tasks = append(a.tasks, namedTask{"gateway " + l.LocalAddr().String(), FuncTask(l.Run)})
	}
	if a.cfg.Leasequery.SweepOnStart {
		a.tasks = append(a.tasks, namedTask{"sweep", FuncTask(a.sweep)})
	}
	if err := a.wireEnforcement(); err != nil {
		return err
	}
	a.wireApply()
	return nil
}

// OnLeasequery adds f to what sees every leasequery result the runner
// decides (before Run), such as the operations' RTT histograms. f runs on
// the runner's goroutine and must not block.
func (a *Agent) OnLeasequery(f func(engine.Result)) { a.resultHooks = append(a.resultHooks, f) }

// Add plugs in a task that runs with the others (before Run).
func (a *Agent) Add(name string, t Task) { a.tasks = append(a.tasks, namedTask{name, t}) }

// Run runs every task until ctx is done or one fails, then closes the
// sockets. It returns ctx's error after a clean stop.
func (a *Agent) Run(ctx context.Context) error {
	if a.service == nil {
		return errors.New("agent: Run before Open")
	}
	defer a.close()
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range a.tasks {
		g.Go(func() error {
			err := t.Run(gctx)
			if err != nil && gctx.Err() == nil {
				a.log.Error("task failed; stopping", "task", t.name, "err", err)
				return fmt.Errorf("%s: %w", t.name, err)
			}
			return err
		})
	}
	g.Go(func() error { return a.waitReady(gctx) })
	err := g.Wait()
	if ctx.Err() != nil {
		a.log.Info("agent stopped", "reason", context.Cause(ctx))
		return ctx.Err()
	}
	return err
}

// waitReady closes Ready once every task is.
func (a *Agent) waitReady(ctx context.Context) error {
	for _, t := range a.tasks {
		select {
		case <-t.Ready():
		case <-ctx.Done():
			return nil
		}
	}
	close(a.ready)
	a.log.Info("agent ready", "ports", len(a.cfg.Ports), "servers", len(a.cfg.Servers),
		"upstream", a.upstream.LocalAddr(), "gateways", len(a.listeners))
	return nil
}

// Ready is closed once every task is ready.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

func (a *Agent) close() {
	if a.ports != nil {
		a.ports.Close()
	}
	for _, l := range a.listeners {
		l.Close()
	}
	if a.upstream != nil {
		a.upstream.Close()
	}
	a.closeEnforcement()
}

// Table is the location table: lookups, Subscribe, All.
func (a *Agent) Table() *location.Table { return a.table }

// Subscribe follows the table's events (see location.Table.Subscribe).
func (a *Agent) Subscribe(name string) *location.Subscription { return a.table.Subscribe(name) }

// Relay is the relay's decision logic; its PortMap locates option 82.
func (a *Agent) Relay() *relay.Relay { return a.relay }

// Leasequery is the leasequery client (after Open): Query, QueryFresh,
// Sweep. Results reach the table through the agent whoever asked.
func (a *Agent) Leasequery() *LeasequeryClient { return a.runner }

// Query asks the servers about q on demand (the console's and the API's
// leasequery); an ACTIVE answer for a port of this card updates the table
// before Query returns.
func (a *Agent) Query(ctx context.Context, q lq.Query) (engine.Result, error) {
	if a.runner == nil {
		return engine.Result{}, errors.New("agent: Query before Open")
	}
	return a.runner.Query(ctx, q)
}

// sweep asks about every subscriber address once at start-up (RFC 4388
// recovery after a reboot), returns the burst's garbage to the system
// (releaseSweepMemory), then ends.
func (a *Agent) sweep(ctx context.Context) error {
	<-a.runner.Ready()
	for _, p := range a.cfg.Subscriber {
		pr, err := a.runner.Sweep(ctx, p.Prefix, nil, nil)
		if err != nil {
			return err
		}
		a.log.Info("leasequery sweep done", "prefix", p.Prefix, "active", pr.Active,
			"unassigned", pr.Unassigned, "unknown", pr.Unknown, "failed", pr.Failed)
	}
	releaseSweepMemory(a.log)
	return nil
}

// Stats are the agent's counters for the console and metrics.
type Stats struct {
	Relay       relay.ServiceStats
	Leasequery  engine.RunnerStats
	Results     LeasequeryStats
	Table       location.Stats
	Upstream    platform.UpstreamStats
	Ports       map[string]platform.PortStats // by interface
	BPI         *BPIStats                     `json:",omitempty"` // nil when BPI is off
	Enforcement EnforcementStats
}

// Stats returns the counters so far (after Open).
func (a *Agent) Stats() Stats {
	s := Stats{Relay: a.service.Stats(), Leasequery: a.runner.Stats(), Results: a.lq.stats(),
		Table: a.table.Stats(), Upstream: a.upstream.Stats(), Ports: map[string]platform.PortStats{}}
	for _, p := range a.ports.Ports() {
		s.Ports[p.Name()] = p.Stats()
	}
	if b, ok := a.BPIStats(); ok {
		s.BPI = &b
	}
	s.Enforcement = a.enforcementStats()
	return s
}
