// Package ops is leaseguard's operations layer: the one place the serial
// console (cmd/internal/cli) and the management API (cmd/internal/mgmt)
// call to show the location table, the servers, ports and counters, to
// trigger a leasequery, clear a binding or the counters, read, validate
// and apply the configuration, change log levels and debug traces, follow
// events and collect metrics. It reads the agent through the small
// interfaces of deps.go, so tests run it over fakes (package opstest).
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/metrics"
	"github.com/leaseguard/leaseguard/lq/location"
)

// Options tune Ops; the zero value of each field is its default.
type Options struct {
	// Logs are the agent's loggers; ops changes their levels and traces
	// (nil: a discarding Logs).
	Logs *Logs
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// ConfigPath is the agent's configuration file: Reload reads it, and
	// an apply through the API or console writes it (atomically, once
	// applied) so the change survives a reboot. Empty: nothing persisted.
	ConfigPath string
	// ApplyTimeout bounds one configuration apply (default 60 s). An
	// apply is not cancelled by its caller going away: it completes or
	// rolls back.
	ApplyTimeout time.Duration
	// LeasequeryTimeout bounds an operator's leasequery (default 2 min,
	// enough for the RFC 2131 backoff of the default retries).
	LeasequeryTimeout time.Duration
	// EventBuffer is how many events are kept for slow or reconnecting
	// subscribers (default 1024).
	EventBuffer int
	// SpoofEventsPerSecond bounds spoof.drop events (default 10); the rest
	// are counted in the next one's Suppressed.
	SpoofEventsPerSecond int
	// ServerPoll is how often Run looks at the servers' state for
	// server.up and server.down events (default 1 s).
	ServerPoll time.Duration
	// RTTBuckets are the upper bounds, in seconds, of the leasequery RTT
	// histogram (default 1 ms to about 16 s, doubling).
	RTTBuckets []float64
}

// Ops is the operations layer. Safe for concurrent use.
type Ops struct {
	deps Deps
	opts Options
	logs *Logs
	now  func() time.Time
	log  *slog.Logger
	hub  *hub

	applyMu sync.Mutex // serializes applies
	cfgMu   sync.Mutex
	cfg     ConfigState
	applies applyCounters

	baseMu   sync.Mutex
	baseline baseline

	readyCh   chan struct{}
	readyOnce sync.Once

	servers serverWatch
	spoof   spoofSampler
	rtt     rttHistograms
}

// New returns the operations over deps, running cfg (generation 1).
func New(deps Deps, cfg *config.Config, opts Options) (*Ops, error) {
	if deps.Table == nil {
		return nil, errors.New("ops: Deps.Table is required")
	}
	if cfg == nil {
		return nil, errors.New("ops: a running configuration is required")
	}
	if opts.Logs == nil {
		opts.Logs = NewLogs(nil, cfg.Log)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	setDefault(&opts.ApplyTimeout, time.Minute)
	setDefault(&opts.LeasequeryTimeout, 2*time.Minute)
	setDefault(&opts.ServerPoll, time.Second)
	setDefault(&opts.SpoofEventsPerSecond, 10)
	if opts.RTTBuckets == nil {
		opts.RTTBuckets = metrics.ExponentialBounds(0.001, 2, 15)
	}
	o := &Ops{deps: deps, opts: opts, logs: opts.Logs, now: opts.Now, log: opts.Logs.For("api"),
		hub: newHub(opts.EventBuffer), readyCh: make(chan struct{})}
	o.cfg = ConfigState{Generation: 1, AppliedAt: o.now(), Origin: "start", Config: cfg}
	o.spoof.perSecond = opts.SpoofEventsPerSecond
	o.rtt.bounds = opts.RTTBuckets
	return o, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Now is the operations' clock, for rendering times relative to it.
func (o *Ops) Now() time.Time { return o.now() }

// Logs returns the loggers ops controls.
func (o *Ops) Logs() *Logs { return o.logs }

// Ready is closed once Run follows the table.
func (o *Ops) Ready() <-chan struct{} { return o.readyCh }

// Run follows the table's changes and the servers' state into the event
// stream until ctx ends: a Task (with Ready). It returns ctx's error.
func (o *Ops) Run(ctx context.Context) error {
	sub := o.deps.Table.Subscribe("ops")
	defer sub.Close()
	o.readyOnce.Do(func() { close(o.readyCh) })
	tick := time.NewTicker(o.opts.ServerPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.Wake():
			if err := o.publishTable(sub); err != nil {
				return err
			}
		case <-tick.C:
			o.PollServers()
		}
	}
}

// publishTable turns the table's pending changes into events.
func (o *Ops) publishTable(sub *location.Subscription) error {
	evs, err := sub.Poll(0)
	var lag *location.LagError
	if errors.As(err, &lag) {
		o.hub.publish(Event{Type: EventLost, Time: o.now(), Missed: lag.Missed})
		return nil
	}
	if errors.Is(err, location.ErrClosed) {
		return fmt.Errorf("ops: table subscription closed")
	}
	if err != nil {
		return err
	}
	for _, e := range evs {
		o.hub.publish(bindingEvent(e))
	}
	return nil
}

func bindingEvent(e location.Event) Event {
	ev := Event{Time: e.Time}
	switch e.Kind {
	case location.Added:
		ev.Type, ev.Binding = EventBindingAdded, ptr(BindingOf(e.New))
	case location.Changed:
		ev.Type, ev.Binding, ev.Old = EventBindingChanged, ptr(BindingOf(e.New)), ptr(BindingOf(e.Old))
	default:
		ev.Type, ev.Binding, ev.Reason = EventBindingRemoved, ptr(BindingOf(e.Old)), e.Reason.String()
	}
	return ev
}

func ptr[T any](v T) *T { return &v }
