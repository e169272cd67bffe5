package agent

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform/fwd"
)

// forwarder programs per-binding routes and neighbours: *fwd.Programmer.
type forwarder interface {
	Add(bs []fwd.Binding) error
	Remove(bs []fwd.Binding) error
	Owned() ([]fwd.Binding, error)
}

// carrier reads the allowed set a previous process left in the kernel:
// *nft.Kernel and *nft.Fake.
type carrier interface {
	ReadAllowed(table string, now time.Time) ([]nft.Element, error)
}

var (
	_ forwarder = (*fwd.Programmer)(nil)
	_ carrier   = (*nft.Kernel)(nil)
	_ carrier   = (*nft.Fake)(nil)
)

// Tuning of the enforcer.
const (
	// defaultBatchDelay is how long the enforcer lets table events gather
	// before programming them in one transaction: a burst (a sweep, a
	// snapshot's hints being confirmed) costs one transaction per window
	// instead of one per binding, for a few milliseconds of latency.
	defaultBatchDelay = 5 * time.Millisecond
	// maxBatch bounds the addresses of one batch.
	maxBatch = 10_000
	// retryRebuild is the wait before rebuilding after a failed transaction.
	retryRebuild = time.Second
)

// enforcer keeps the kernel's verification and forwarding state equal to
// the table's confirmed bindings: a Task. It builds the owned ruleset
// whole at start-up (carrying over what a previous process left, see
// build), then follows the table's events, batching them into one
// nftables transaction per burst, and re-applies elements before the
// nftables timeout cap runs out on long leases.
type enforcer struct {
	table   *location.Table
	applier nft.Applier
	fwd     forwarder // nil without forwarding
	carry   carrier   // nil: nothing to carry over
	cfg     nft.Config
	ifaces  map[string]string // port name -> interface
	now     func() time.Time
	delay   time.Duration
	log     *slog.Logger
	// afterBuild runs once the first ruleset is in place (turning on IP
	// forwarding); its error stops the agent.
	afterBuild func() error
	// confirm is told the carried-over addresses after the build; it
	// sends each address's outcome to outcomes.
	confirm  func(ctx context.Context, carried map[netip.Addr]programmed)
	outcomes chan carryOutcome

	state   map[netip.Addr]programmed
	carried map[netip.Addr]programmed // still unconfirmed, also in state
	broken  bool                      // the last transaction failed: rebuild
	ready   chan struct{}

	mu    sync.Mutex
	stats EnforceStats
}

// EnforceStats count what the enforcer programmed.
type EnforceStats struct {
	Programmed int // addresses programmed now
	Carried    int // of which carried over from the previous process, unconfirmed
	// Batches are Apply transactions; Changes the addresses they changed
	// (Added new, Withdrawn removed, Renewed with a new expiry, Moved to
	// another port or MAC).
	Batches, Changes                   uint64
	Added, Withdrawn, Renewed, Moved   uint64
	Rebuilds, ApplyFailures, FwdErrors uint64
	// Refreshed: elements re-applied before the nftables timeout cap.
	Refreshed uint64
	// CarriedIn: elements read back from the previous process;
	// Confirmed, Refuted: by the servers; Unanswered: kept until their
	// own timeout because no server answered.
	CarriedIn, CarryConfirmed, CarryRefuted, CarryUnanswered uint64
	LastBatch                                                time.Duration // programming time of the last batch
	Resyncs                                                  uint64        // table subscription lagged: full comparison
}

// carryOutcome is what the servers said about a carried-over address.
type carryOutcome struct {
	ip      netip.Addr
	verdict carryVerdict
}

type carryVerdict uint8

const (
	carryConfirmed  carryVerdict = iota + 1 // the table holds it now, same port and MAC
	carryRefuted                            // UNASSIGNED, UNKNOWN, or active elsewhere
	carryUnanswered                         // no server answered: kept until its own timeout
)

func (e *enforcer) Ready() <-chan struct{} { return e.ready }

// Stats returns the counters so far.
func (e *enforcer) Stats() EnforceStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

func (e *enforcer) count(f func(s *EnforceStats)) {
	e.mu.Lock()
	f(&e.stats)
	e.stats.Programmed, e.stats.Carried = len(e.state), len(e.carried)
	e.mu.Unlock()
}

// Run builds the ruleset, then programs the table's changes until ctx
// ends.
func (e *enforcer) Run(ctx context.Context) error {
	sub := e.table.Subscribe("enforce")
	defer sub.Close()
	if err := e.build(); err != nil {
		return err
	}
	if e.afterBuild != nil {
		if err := e.afterBuild(); err != nil {
			return err
		}
	}
	close(e.ready)
	if len(e.carried) > 0 && e.confirm != nil {
		go e.confirm(ctx, maps.Clone(e.carried))
	}
	refresh := time.NewTicker(refreshEvery(e.cfg.MaxTimeout))
	defer refresh.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.Wake():
			if err := e.batch(ctx, sub); err != nil {
				return err
			}
		case o := <-e.outcomes:
			e.settle(o)
		case <-refresh.C:
			e.refresh()
		case <-retry.C:
		}
		if e.broken {
			if err := e.rebuild(); err != nil {
				e.log.Warn("enforcement: rebuild failed; retrying", "err", err)
				retry.Reset(retryRebuild)
			}
		}
	}
}

// batch waits for the burst that woke it to gather, then programs every
// address the events name, as the table holds it now.
func (e *enforcer) batch(ctx context.Context, sub *location.Subscription) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(e.delay):
	}
	dirty := map[netip.Addr]bool{}
	for len(dirty) < maxBatch {
		evs, err := sub.Poll(0)
		if errors.Is(err, location.ErrLagged) {
			e.count(func(s *EnforceStats) { s.Resyncs++ })
			e.resync()
			return nil
		}
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			ip := ev.New.IP
			if ev.Kind == location.Removed {
				ip = ev.Old.IP
			}
			dirty[ip] = true
		}
	}
	e.program(dirty)
	return nil
}

// desired is what ip should be programmed as: the table's confirmed
// binding, else a carried-over element not yet refuted.
func (e *enforcer) desired(ip netip.Addr) (programmed, bool) {
	if b, ok := e.table.ByIP(ip); ok {
		if p, ok := programmable(b, e.ifaces); ok {
			delete(e.carried, ip) // the table has taken over
			return p, true
		}
	}
	p, ok := e.carried[ip]
	return p, ok
}

// program brings the addresses in dirty to their desired state in one
// transaction (and one forwarding batch).
func (e *enforcer) program(dirty map[netip.Addr]bool) {
	var p plan
	changes := make([]change, 0, len(dirty))
	for ip := range dirty {
		c := change{ip: ip}
		c.old, c.hadOld = e.state[ip]
		c.new, c.hasNew = e.desired(ip)
		changes = append(changes, c)
		p.add(c)
	}
	if p.changes == 0 {
		e.count(func(*EnforceStats) {})
		return
	}
	now := e.now()
	start := time.Now()
	e.forward(nil, p.fwdAdd) // the neighbour before the element: no ARP for a passing packet
	if err := e.applier.Apply(p.adds, p.deletes, now); err != nil {
		e.log.Warn("enforcement: transaction refused; rebuilding", "changes", p.changes, "err", err)
		e.broken = true
		e.count(func(s *EnforceStats) { s.ApplyFailures++ })
		return
	}
	e.forward(p.fwdDel, nil)
	for _, c := range changes {
		e.record(c, now)
	}
	took := time.Since(start)
	e.count(func(s *EnforceStats) {
		s.Batches++
		s.Changes += uint64(p.changes)
		s.Added += uint64(p.added)
		s.Withdrawn += uint64(p.withdrawn)
		s.Renewed += uint64(p.renewals)
		s.Moved += uint64(p.moves)
		s.LastBatch = took
	})
	e.log.Debug("enforcement: batch programmed", "changes", p.changes, "added", p.added,
		"withdrawn", p.withdrawn, "renewed", p.renewals, "moved", p.moves, "took", took)
}

// record notes c as programmed at now.
func (e *enforcer) record(c change, now time.Time) {
	if !c.hasNew {
		delete(e.state, c.ip)
		return
	}
	if c.hadOld && c.old.sameLocation(c.new) && c.old.expires.Equal(c.new.expires) {
		c.new.applied = c.old.applied
	} else {
		c.new.applied = now
	}
	e.state[c.ip] = c.new
}

// forward removes then adds forwarding state; failures are per binding,
// logged and counted, and do not stop the others.
func (e *enforcer) forward(del, add []fwd.Binding) {
	if e.fwd == nil {
		return
	}
	for _, op := range []struct {
		bs  []fwd.Binding
		run func([]fwd.Binding) error
	}{{del, e.fwd.Remove}, {add, e.fwd.Add}} {
		if len(op.bs) == 0 {
			continue
		}
		if err := op.run(op.bs); err != nil {
			var fe *fwd.Errors
			n := len(op.bs)
			if errors.As(err, &fe) {
				n = len(fe.Failed)
			}
			e.count(func(s *EnforceStats) { s.FwdErrors += uint64(n) })
			e.log.Warn("enforcement: forwarding", "err", err)
		}
	}
}

// resync compares every address after the subscription lagged.
func (e *enforcer) resync() {
	dirty := map[netip.Addr]bool{}
	for ip := range e.state {
		dirty[ip] = true
	}
	for b := range e.table.All() {
		dirty[b.IP] = true
	}
	e.program(dirty)
}

// settle applies a carried-over address's outcome: a confirmed one is
// handed to the table's binding, a refuted one withdrawn (unless the
// table holds the address by now), an unanswered one left to its
// timeout.
func (e *enforcer) settle(o carryOutcome) {
	switch o.verdict {
	case carryConfirmed:
		e.count(func(s *EnforceStats) { s.CarryConfirmed++ })
	case carryRefuted:
		delete(e.carried, o.ip)
		e.count(func(s *EnforceStats) { s.CarryRefuted++ })
	default:
		e.count(func(s *EnforceStats) { s.CarryUnanswered++ })
		return
	}
	e.program(map[netip.Addr]bool{o.ip: true})
}

// refreshEvery is how often elements are checked against the timeout cap.
func refreshEvery(maxTimeout time.Duration) time.Duration {
	return min(max(maxTimeout/8, 10*time.Millisecond), time.Hour)
}

// refresh re-applies the elements whose kernel timeout (capped at
// MaxTimeout when they were applied) ends before their lease and within
// half the cap, so that an element never times out under a live lease.
func (e *enforcer) refresh() {
	now := e.now()
	capd := e.cfg.MaxTimeout
	var adds []nft.Element
	var ips []netip.Addr
	for ip, p := range e.state {
		end := p.applied.Add(capd)
		if p.expires.After(end) && end.Sub(now) < capd/2 {
			adds = append(adds, p.element(ip))
			ips = append(ips, ip)
		}
	}
	if len(adds) == 0 {
		return
	}
	if err := e.applier.Apply(adds, nil, now); err != nil {
		e.log.Warn("enforcement: refresh refused; rebuilding", "elements", len(adds), "err", err)
		e.broken = true
		e.count(func(s *EnforceStats) { s.ApplyFailures++ })
		return
	}
	for _, ip := range ips {
		p := e.state[ip]
		p.applied = now
		e.state[ip] = p
	}
	e.count(func(s *EnforceStats) { s.Refreshed += uint64(len(adds)) })
}
