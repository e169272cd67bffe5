package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform"
)

// What a running agent changes at run time (Apply), each part a
// reversible step in this order:
//
//   - leasequery: servers, subscriber networks, windows, retries,
//     unknown_ttl, the parameter request list: a new engine and runner
//     replace the old (LeasequeryClient; queries in flight are
//     restarted on the new one, the table is untouched);
//   - relay: servers, relay-id, max hops, server-id override, renewals,
//     and each port's kind, circuit-id, remote-id, modem, device class,
//     subscriber-id, trust and option 82 policy: one atomic swap of the
//     relay's configuration (relay.Relay.Reconfigure);
//   - enforcement: trusted MACs, IPv6, the leasequery filters' report
//     rates, subscriber networks and the forwarded-DHCP drop (renewals):
//     one nftables transaction rebuilds the ruleset under the new
//     configuration with exactly the elements the kernel holds;
//   - verification: the trusted MACs and query filters the verifier
//     applies to reports.
//
// Log levels are the operations layer's (ops.ApplyConfig sets them once
// the apply succeeded). leasequery.sweep_on_start takes effect at the
// next start. Everything else needs a restart: see fixedFields.

// applyState is what Apply keeps between applies.
type applyState struct {
	mu      sync.Mutex // one apply at a time
	running *config.Config
	ruleset *liveRuleset    // nil without enforcement
	trusted *trustedSources // nil without enforcement
	// transport sends the leasequeries of the current runner, with the
	// parameter request list of running.
	transport engine.Transport
}

var _ ops.Applier = (*Agent)(nil)

// wireApply puts the run-time indirections in place over the wired
// agent (end of Open): the enforcer's transactions through a
// liveRuleset, the verifier's reports through trustedSources.
func (a *Agent) wireApply() {
	a.applying.running = a.cfg
	a.applying.transport = a.transport
	e := a.enf
	if e == nil || e.enforcer == nil {
		return
	}
	a.applying.ruleset = newLiveRuleset(e.enforcer.applier, e.enforcer.carry, e.enforcer.cfg)
	e.enforcer.applier = a.applying.ruleset
	a.applying.trusted = newTrustedSources(e.verifier, a.cfg.Enforcement.TrustedMACs)
	e.verifier.reports = a.applying.trusted
	e.verifier.trusted = nil // judged by trustedSources, with the running set
}

// Apply runs cfg (ops.Applier): it either runs all of cfg or returns an
// error with the configuration it replaced still running, kernel state
// included. A change that needs a restart is refused, before anything
// changes, with an *ops.Error of kind Invalid naming the field.
func (a *Agent) Apply(ctx context.Context, cfg *config.Config) error {
	s := &a.applying
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		return errors.New("agent: Apply before Open")
	}
	old := s.running
	if err := needsRestart(old, cfg); err != nil {
		return err
	}
	var commits []func()
	steps, err := a.applySteps(old, cfg, &commits)
	if err != nil {
		return err
	}
	if err := ops.RunSteps(ctx, steps); err != nil {
		return err
	}
	for _, commit := range commits {
		commit()
	}
	s.running = cfg
	names := make([]string, len(steps))
	for i, st := range steps {
		names[i] = st.Name
	}
	a.log.Info("configuration changed at run time", "parts", strings.Join(names, ","))
	return nil
}

// applySteps are the steps for the parts of old and cfg that differ.
// commits run once every step succeeded (retiring the replaced runner).
func (a *Agent) applySteps(old, cfg *config.Config, commits *[]func()) ([]ops.Step, error) {
	var steps []ops.Step
	if !reflect.DeepEqual(engineConfig(old), engineConfig(cfg)) || !slices.Equal(old.Leasequery.Request, cfg.Leasequery.Request) {
		steps = append(steps, a.leasequeryStep(cfg, commits))
	}
	if !reflect.DeepEqual(relayConfig(old), relayConfig(cfg)) {
		steps = append(steps, ops.Step{Name: "relay",
			Do:   func(context.Context) error { return a.relay.Reconfigure(relayConfig(cfg)) },
			Undo: func(context.Context) error { return a.relay.Reconfigure(relayConfig(old)) },
		})
	}
	if a.applying.ruleset == nil {
		return steps, nil
	}
	st, err := a.enforcementStep(cfg)
	if err != nil {
		return nil, err
	}
	if st.Do != nil {
		steps = append(steps, st)
	}
	if verification(old) != verification(cfg) {
		steps = append(steps, ops.Step{Name: "verification",
			Do:   func(context.Context) error { a.setVerification(cfg); return nil },
			Undo: func(context.Context) error { a.setVerification(old); return nil },
		})
	}
	return steps, nil
}

// leasequeryStep replaces the leasequery runner with one for cfg; the
// old one runs on until the apply commits (undo makes it current again,
// cache and all) and is then stopped.
func (a *Agent) leasequeryStep(cfg *config.Config, commits *[]func()) ops.Step {
	var prev *lqGeneration
	var prevTransport engine.Transport
	return ops.Step{Name: "leasequery",
		Do: func(ctx context.Context) error {
			eng, err := engine.New(engineConfig(cfg), rand.Float64)
			if err != nil {
				return err
			}
			tr := a.applying.transport
			if !slices.Equal(a.applying.running.Leasequery.Request, cfg.Leasequery.Request) {
				tr = platform.NewLeasequeryTransport(a.upstream, cfg.Leasequery.Request)
			}
			r, err := engine.NewRunner(eng, engine.RunnerConfig{Transport: tr, Logger: a.lqLog, OnResult: a.onResult})
			if err != nil {
				return err
			}
			if prev, err = a.runner.replace(ctx, r); err != nil {
				return err
			}
			prevTransport, a.applying.transport = a.applying.transport, tr
			*commits = append(*commits, func() { a.runner.retire(prev) })
			return nil
		},
		Undo: func(context.Context) error {
			a.runner.restore(prev)
			a.applying.transport = prevTransport
			return nil
		},
	}
}

// enforcementStep rebuilds the ruleset under cfg when its ruleset
// differs from the running one (a Step with nil Do when not). Undo
// rebuilds under the running one, from the kernel's elements again.
func (a *Agent) enforcementStep(cfg *config.Config) (ops.Step, error) {
	next, err := nftConfig(cfg).Validate()
	if err != nil {
		return ops.Step{}, &ops.Error{Kind: ops.Invalid, Field: "enforcement", Err: fmt.Errorf("enforcement: %w", err)}
	}
	rs := a.applying.ruleset
	cur := rs.running()
	if reflect.DeepEqual(cur, next) {
		return ops.Step{}, nil
	}
	return ops.Step{Name: "enforcement",
		Do:   func(context.Context) error { return rs.reconfigure(next, a.opts.Now()) },
		Undo: func(context.Context) error { return rs.reconfigure(cur, a.opts.Now()) },
	}, nil
}

// verificationConfig is what the verifier takes from a configuration.
type verificationConfig struct {
	trusted           string // the MACs, joined
	perPort, downRate int
	every             config.Duration
}

func verification(c *config.Config) verificationConfig {
	en := c.Enforcement
	var macs []string
	for _, m := range en.TrustedMACs {
		macs = append(macs, string(m))
	}
	perPort, every, down := filterLimits(en)
	return verificationConfig{trusted: strings.Join(macs, ","), perPort: perPort, downRate: down, every: config.Duration(every)}
}

func (a *Agent) setVerification(c *config.Config) {
	a.applying.trusted.set(c.Enforcement.TrustedMACs)
	perPort, every, down := filterLimits(c.Enforcement)
	a.enf.verifier.filter.setLimits(perPort, every, down)
}

// Running is the configuration the agent runs: the one it started with,
// or the last one applied.
func (a *Agent) Running() *config.Config {
	a.applying.mu.Lock()
	defer a.applying.mu.Unlock()
	return a.applying.running
}

// NftStats is the anti-spoof ruleset's statistics with the drop counters
// kept across the rebuilds of configuration applies (ops.Deps.Nft); nil
// when enforcement is off. Valid after Open.
func (a *Agent) NftStats() interface{ Stats() (nft.Stats, error) } {
	if a.applying.ruleset == nil {
		return nil
	}
	return a.applying.ruleset
}
