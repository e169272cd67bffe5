package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform/fwd"
)

// build programs the first ruleset, whole and atomically, from what is
// known: the table's confirmed bindings and, after a process restart, the
// elements the previous process left in the kernel.
//
// Why carry the previous process's elements over: they are exactly what
// passed a moment ago, programmed from bindings that process had
// confirmed, and only root can write them. Rebuilding from them keeps
// every legitimate subscriber passing through the restart (none has to
// be recovered by a leasequery on its next packet), and since nothing is
// added that did not already pass, the swap opens no window for spoofed
// traffic either; the old table enforces until the one transaction that
// replaces it. Each carried element keeps its remaining lifetime, is
// queried at once (confirmed ones pass to the table's binding, refuted
// ones are withdrawn), and while unconfirmed is never written to the
// snapshot. After a reboot there is nothing to carry: the table starts
// empty (snapshot hints are not programmed), and subscribers come back
// on demand, by a sweep, or by confirming the snapshot's hints.
//
// Forwarding is reconciled against the routes tagged as ours (fwd.Owned):
// those of addresses not programmed now are removed, the missing ones
// added.
func (e *enforcer) build() error {
	now := e.now()
	e.state, e.carried = map[netip.Addr]programmed{}, map[netip.Addr]programmed{}
	for b := range e.table.All() {
		if p, ok := programmable(b, e.ifaces); ok {
			p.applied = now
			e.state[b.IP] = p
		}
	}
	in := e.carryOver(now)
	if err := e.applier.Rebuild(e.cfg, e.elements(), now); err != nil {
		return fmt.Errorf("enforcement: first ruleset: %w", err)
	}
	e.reconcileForwarding()
	e.count(func(s *EnforceStats) { s.Rebuilds++; s.CarriedIn += uint64(in) })
	e.log.Info("enforcement: ruleset built", "table", e.cfg.Table, "bindings", len(e.state)-len(e.carried),
		"carried_over", len(e.carried), "forwarding", e.fwd != nil)
	return nil
}

// carryOver adds the kernel's elements for addresses the table does not
// hold, on ports still configured, to the state; it returns how many
// were read.
func (e *enforcer) carryOver(now time.Time) int {
	if e.carry == nil {
		return 0
	}
	elems, err := e.carry.ReadAllowed(e.cfg.Table, now)
	if errors.Is(err, nft.ErrNoTable) {
		e.log.Info("enforcement: no ruleset in the kernel (a fresh boot): nothing to carry over")
		return 0
	}
	if err != nil {
		e.log.Warn("enforcement: previous ruleset unreadable; not carried over", "err", err)
		return 0
	}
	ports := map[string]bool{}
	for _, iface := range e.ifaces {
		ports[iface] = true
	}
	for _, el := range elems {
		ip := el.IP.Unmap()
		// The allowed set's keys hold 6-byte MACs: the length check only
		// guards the conversion.
		if _, known := e.state[ip]; known || !ports[el.Port] || len(el.MAC) != 6 {
			continue
		}
		p := programmed{iface: el.Port, mac: [6]byte(el.MAC), expires: el.Expires, applied: now, carried: true}
		e.state[ip], e.carried[ip] = p, p
	}
	return len(elems)
}

// elements is the state as nftables elements.
func (e *enforcer) elements() []nft.Element {
	out := make([]nft.Element, 0, len(e.state))
	for ip, p := range e.state {
		out = append(out, p.element(ip))
	}
	return out
}

// reconcileForwarding removes our routes that do not match the state and
// adds the state's that are missing.
func (e *enforcer) reconcileForwarding() {
	if e.fwd == nil {
		return
	}
	owned, err := e.fwd.Owned()
	if err != nil {
		e.log.Warn("enforcement: listing our routes failed; re-adding all", "err", err)
	}
	have := map[netip.Addr]fwd.Binding{}
	var stale []fwd.Binding
	for _, b := range owned {
		p, ok := e.state[b.IP]
		if ok && p.iface == b.Port && p.isMAC(b.MAC) {
			have[b.IP] = b
			continue
		}
		stale = append(stale, b)
	}
	var missing []fwd.Binding
	for ip, p := range e.state {
		if _, ok := have[ip]; !ok {
			missing = append(missing, p.binding(ip))
		}
	}
	e.forward(stale, missing)
}

// rebuild replaces the ruleset from the table and the carried elements
// after a failed transaction: the kernel's state is then unknown.
func (e *enforcer) rebuild() error {
	now := e.now()
	state := map[netip.Addr]programmed{}
	for b := range e.table.All() {
		if p, ok := programmable(b, e.ifaces); ok {
			p.applied = now
			state[b.IP] = p
			delete(e.carried, b.IP)
		}
	}
	for ip, p := range e.carried {
		p.applied = now
		state[ip] = p
	}
	e.state = state
	if err := e.applier.Rebuild(e.cfg, e.elements(), now); err != nil {
		e.count(func(s *EnforceStats) { s.ApplyFailures++ })
		return err
	}
	e.broken = false
	e.reconcileForwarding()
	e.count(func(s *EnforceStats) { s.Rebuilds++ })
	e.log.Info("enforcement: ruleset rebuilt", "bindings", len(state))
	return nil
}
