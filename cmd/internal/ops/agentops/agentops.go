// Package agentops connects the running agent (cmd/internal/agent) to the
// operations layer and its front ends: the interfaces of ops.Deps over
// the agent's accessors, and Wire, which adds the operations, the
// management API and the serial console to the agent's tasks. It is a
// package of its own so that the agent may import ops (for ops.Logs)
// without a cycle.
package agentops

import (
	"errors"
	"fmt"

	"github.com/leaseguard/leaseguard/cmd/internal/agent"
	"github.com/leaseguard/leaseguard/cmd/internal/cli"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/console"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/platform"
	"github.com/leaseguard/leaseguard/platform/serial"
	"github.com/leaseguard/leaseguard/relay"
)

// Deps are the agent as the operations read it; call after Open. The
// agent applies configurations at run time (Applier: agent.Agent.Apply),
// and its ruleset's statistics carry the drop counters across the
// rebuilds those applies make (Nft is nil when enforcement is off, BPI
// when BPI+ is).
func Deps(a *agent.Agent) (ops.Deps, error) {
	if a.Leasequery() == nil {
		return ops.Deps{}, errors.New("agentops: the agent is not open")
	}
	d := ops.Deps{Table: a.Table(), Querier: a.Leasequery(), Relay: relayStats{a}, Ports: portStats{a}, Applier: a}
	if n := a.NftStats(); n != nil {
		d.Nft = n
	}
	if _, on := a.BPIStats(); on {
		d.BPI = bpiState{a}
	}
	return d, nil
}

// bpiState is the agent's BPI task as the operations read it.
type bpiState struct{ a *agent.Agent }

func (b bpiState) BPIStats() ops.BPICounters {
	s, _ := b.a.BPIStats()
	return BPICounters(s)
}

func (b bpiState) BPIModems() []ops.BPIModemState {
	ms, _ := b.a.BPIModems()
	out := make([]ops.BPIModemState, len(ms))
	for i, m := range ms {
		out[i] = ops.BPIModemState{Modem: m.Modem, SA: m.SA}
	}
	return out
}

// BPICounters converts the agent's BPI counters.
func BPICounters(s agent.BPIStats) ops.BPICounters {
	l := s.Leasequeries
	return ops.BPICounters{Frames: s.Frames, Pairs: s.Pairs, Encrypted: s.Encrypted, Clear: s.Clear,
		UnknownLocation: s.UnknownLocation, NoKey: s.NoKey, NoDestination: s.NoDestination, LinkErrors: s.LinkErrors,
		KeyRequests: s.KeyRequests, KeyReplies: s.KeyReplies, KeyRejects: s.KeyRejects, KeyErrors: s.KeyErrors,
		KeyPairs: s.KeyPairs, UpstreamOther: s.UpstreamOther,
		Leasequeries: ops.BPILeasequeries{Triggered: l.Triggered, Held: l.Held, RateLimited: l.RateLimited,
			QueueFull: l.QueueFull, NotSubscriber: l.NotSubscriber, InTable: l.InTable, Active: l.Active,
			NotActive: l.NotActive, Failed: l.Failed}}
}

type relayStats struct{ a *agent.Agent }

func (r relayStats) Stats() relay.ServiceStats { return r.a.Stats().Relay }

type portStats struct{ a *agent.Agent }

func (p portStats) PortStats() map[string]platform.PortStats { return p.a.Stats().Ports }

// Options are what Wire needs besides the agent and its configuration.
type Options struct {
	// Logs are the agent's loggers (the same ops.Logs the agent logs
	// through, so that levels and debug traces set by an operator apply).
	Logs *ops.Logs
	// ConfigPath is the configuration file: SIGHUP reloads it, an apply
	// replaces it.
	ConfigPath string
}

// Wire builds the operations over an opened agent and adds them to its
// tasks with the management API (cfg.API) and, when cfg.Console.Device is
// set, the serial console. It returns the operations, for the agent's
// SIGHUP (Reload) and leasequery RTTs (ObserveLeasequery).
func Wire(a *agent.Agent, cfg *config.Config, opts Options) (*ops.Ops, error) {
	deps, err := Deps(a)
	if err != nil {
		return nil, err
	}
	o, err := ops.New(deps, cfg, ops.Options{Logs: opts.Logs, ConfigPath: opts.ConfigPath})
	if err != nil {
		return nil, err
	}
	a.Add("ops", o)
	a.SetSpoofHook(o.SpoofDrop)
	srv, err := mgmt.New(o, mgmt.Config{Socket: cfg.API.Socket, TCP: cfg.API.TCP, Logger: o.Logs().For("api")})
	if err != nil {
		return nil, &agent.ConfigError{Err: err}
	}
	a.Add("api", srv)
	if cfg.Console.Device == "" {
		return o, nil
	}
	con, err := cli.New(o, console.Config{PasswordHash: cfg.Console.PasswordHash, Prompt: prompt(cfg), Logger: o.Logs().For("console")})
	if err != nil {
		srv.Close()
		return nil, &agent.ConfigError{Err: fmt.Errorf("console: %w", err)}
	}
	sup := &serial.Supervisor{Device: cfg.Console.Device, Baud: cfg.Console.Baud, Serve: con.Serve, Logger: o.Logs().For("console")}
	a.Add("console", agent.FuncTask(sup.Run))
	return o, nil
}

// prompt names the card on its console, as network equipment shows its
// hostname: the relay-id when there is one.
func prompt(cfg *config.Config) string {
	if cfg.RelayID == "" {
		return ""
	}
	return cfg.RelayID + "> "
}
