package agent

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform/fwd"
	"github.com/leaseguard/leaseguard/platform/nflog"
)

// enforcement is the agent's source-address verification, per-modem
// forwarding and recovery: the parts the configuration turns on (nil
// otherwise), wired over the open agent by wireEnforcement.
//
//	table events --> enforcer --> nftables (one transaction per burst), routes + neighbours
//	NFLOG reports --> verifier --> leasequery --> table (onResult) --> enforcer
//	table events --> snapshotWriter --> stable storage --> hints at start-up --> hintConfirmer
type enforcement struct {
	kernel   *nft.Kernel
	reader   *nflog.Reader
	fwd      *fwd.Programmer
	enforcer *enforcer
	verifier *verifier
	snap     *snapshotWriter
	hints    *hintConfirmer
}

// EnforcementStats are the counters of enforcement and recovery (zero for
// the parts the configuration leaves off).
type EnforcementStats struct {
	Enforce  EnforceStats
	Verify   VerifyStats
	Snapshot SnapshotStats
}

// wireEnforcement restores the snapshot's hints and adds the snapshot,
// enforcement and verification tasks that the configuration asks for.
// It runs in Open (the card's network namespace), after the runner exists.
func (a *Agent) wireEnforcement() error {
	a.enf = &enforcement{}
	if path := a.cfg.Snapshot.Path; path != "" {
		a.wireSnapshot(path)
	}
	if !a.cfg.Enforcement.Enabled {
		return nil
	}
	ncfg, err := nftConfig(a.cfg).Validate()
	if err != nil {
		return &ConfigError{fmt.Errorf("enforcement: %w", err)}
	}
	e := a.enf
	e.kernel = nft.NewKernel(nft.KernelOptions{})
	if e.reader, err = nflog.Listen(nflog.Config{Group: ncfg.NFLogGroup}); err != nil {
		return fmt.Errorf("enforcement: %w", err)
	}
	var fw forwarder
	if a.cfg.Enforcement.Forwarding {
		if e.fwd, err = fwd.New(fwd.Config{}); err != nil {
			return fmt.Errorf("enforcement: %w", err)
		}
		fw = e.fwd
	}
	e.enforcer = a.newEnforcer(ncfg, e.kernel, fw)
	e.verifier = a.newVerifier(e.reader)
	a.tasks = append(a.tasks, namedTask{"enforce", e.enforcer}, namedTask{"verify", e.verifier})
	return nil
}

// newEnforcer builds the enforcer over applier (which also reads back a
// previous process's ruleset when it can) and fw (nil: no forwarding).
func (a *Agent) newEnforcer(ncfg nft.Config, applier nft.Applier, fw forwarder) *enforcer {
	ifaces := interfaces(a.cfg)
	outcomes := make(chan carryOutcome, recoveryQueries)
	e := &enforcer{table: a.table, applier: applier, fwd: fw, cfg: ncfg, ifaces: ifaces, now: a.opts.Now,
		delay: defaultBatchDelay, log: a.opts.Logs.For("nft"), outcomes: outcomes, ready: make(chan struct{})}
	if c, ok := applier.(carrier); ok {
		e.carry = c
	}
	if fw != nil {
		e.afterBuild = func() error { return enableIPForwarding(ipForwardPath, e.log) }
	}
	e.confirm = func(ctx context.Context, carried map[netip.Addr]programmed) {
		select {
		case <-a.runner.Ready():
		case <-ctx.Done():
			return
		}
		confirmCarried(ctx, a.runner, a.onResult, a.table, ifaces, carried, outcomes)
	}
	return e
}

func (a *Agent) newVerifier(reports reportSource) *verifier {
	en := a.cfg.Enforcement
	perPort, every, down := filterLimits(en)
	trusted := map[string]bool{}
	for _, m := range en.TrustedMACs {
		trusted[string(m)] = true
	}
	return &verifier{reports: reports, query: a.runner, install: a.onResult, table: a.table,
		ifaces: interfaces(a.cfg), filter: newQueryFilter(perPort, every, down), trusted: trusted,
		now: a.opts.Now, log: a.opts.Logs.For("nft"), queue: newReportQueue(verifyQueue),
		ready: make(chan struct{})}
}

// wireSnapshot restores the snapshot's bindings as hints, queues them for
// confirmation and adds the writer.
func (a *Agent) wireSnapshot(path string) {
	log := a.opts.Logs.For("agent")
	e := a.enf
	hints := restoreSnapshot(a.table, path, a.opts.Now(), log)
	e.snap = newSnapshotWriter(a.table, path, time.Duration(a.cfg.Snapshot.WriteDelay), a.opts.Now, log)
	e.snap.stats.Restored = len(hints)
	a.tasks = append(a.tasks, namedTask{"snapshot", e.snap})
	if len(hints) > 0 {
		e.hints = &hintConfirmer{query: a.runner, install: a.onResult, table: a.table, serving: a.runner.Ready(),
			hints: hints, log: log}
		a.tasks = append(a.tasks, namedTask{"snapshot hints", e.hints})
	}
}

// closeEnforcement releases the sockets; the kernel state stays.
func (a *Agent) closeEnforcement() {
	if a.enf == nil {
		return
	}
	if a.enf.reader != nil {
		a.enf.reader.Close()
	}
	if a.enf.kernel != nil {
		a.enf.kernel.Close()
	}
	if a.enf.fwd != nil {
		a.enf.fwd.Close()
	}
}

// Nft is the anti-spoof ruleset's applier (ops.Deps.Nft), nil when
// enforcement is off. Valid after Open.
func (a *Agent) Nft() nft.Applier {
	if a.enf == nil || a.enf.kernel == nil {
		return nil
	}
	return a.enf.kernel
}

// SetSpoofHook sets the function told of every source the anti-spoof
// rules reported and the servers did not confirm (the operations layer's
// sampled SpoofDrop). Call it after Open, before Run; without enforcement
// it does nothing.
func (a *Agent) SetSpoofHook(f SpoofFunc) {
	if a.enf != nil && a.enf.verifier != nil {
		a.enf.verifier.setSpoof(f)
	}
}

// enforcementStats gathers the counters of the parts that run.
func (a *Agent) enforcementStats() EnforcementStats {
	var s EnforcementStats
	if a.enf == nil {
		return s
	}
	if a.enf.enforcer != nil {
		s.Enforce = a.enf.enforcer.Stats()
	}
	if a.enf.verifier != nil {
		s.Verify = a.enf.verifier.Stats()
	}
	if a.enf.snap != nil {
		s.Snapshot = a.enf.snap.Stats()
		if a.enf.hints != nil {
			s.Snapshot.HintsConfirmed = int(a.enf.hints.done.Load())
		}
	}
	return s
}

// nftConfig is the ruleset of a configuration: one chain per port
// interface, DHCP to its gateway allowed, subscriber networks checked
// downstream, forwarded client DHCP dropped when the relay handles
// renewals, and the per-port report rate set to the query filter's.
func nftConfig(c *config.Config) nft.Config {
	en := c.Enforcement
	nc := nft.Config{Table: en.Table, NFLogGroup: en.NFLogGroup, AllowIPv6: en.AllowIPv6,
		DropForwardedDHCP: c.Relay.Renewals != "route"}
	for _, m := range en.TrustedMACs {
		nc.TrustedMACs = append(nc.TrustedMACs, net.HardwareAddr(m))
	}
	for _, p := range c.Ports {
		nc.Ports = append(nc.Ports, nft.Port{Name: p.Interface, RelayAddr: p.Gateway})
	}
	for _, s := range c.Subscriber {
		nc.SubscriberNets = append(nc.SubscriberNets, s.Prefix)
	}
	perPort, every, down := filterLimits(en)
	nc.UnknownRate = uint32(max(1, math.Ceil(float64(perPort)/every.Seconds())))
	nc.UnknownBurst = uint32(perPort)
	nc.DownstreamRate, nc.DownstreamBurst = uint32(down), uint32(down)
	return nc
}

// filterLimits are the leasequery filters, defaults filled in.
func filterLimits(en config.Enforcement) (perPort int, every time.Duration, downPerSec int) {
	perPort, every, downPerSec = en.PerPortQueries, time.Duration(en.PerPortInterval), en.DownstreamPerSec
	if perPort == 0 {
		perPort = DefaultPerPortQueries
	}
	if every == 0 {
		every = DefaultPerPortInterval
	}
	if downPerSec == 0 {
		downPerSec = DefaultDownstreamPerSec
	}
	return perPort, every, downPerSec
}

// interfaces maps each port's name to its interface.
func interfaces(c *config.Config) map[string]string {
	m := make(map[string]string, len(c.Ports))
	for _, p := range c.Ports {
		m[p.Name] = p.Interface
	}
	return m
}

// ipForwardPath is the IPv4 forwarding switch of the agent's namespace.
const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// enableIPForwarding turns IPv4 forwarding on (the switch at path) once
// the ruleset is in place. A rebooted card comes up with forwarding off
// (the kernel's default) and so forwards nothing until the agent has
// built its guard: no window in which unverified traffic is routed.
func enableIPForwarding(path string, log interface{ Info(string, ...any) }) error {
	cur, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("enforcement: %w", err)
	}
	if strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enforcement: turning IP forwarding on: %w", err)
	}
	log.Info("enforcement: IP forwarding turned on, the ruleset being in place")
	return nil
}
