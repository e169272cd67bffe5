package agent

import (
	"sync/atomic"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
)

// LeasequeryStats counts what the agent did with leasequery results.
type LeasequeryStats struct {
	// Upserts: DHCPLEASEACTIVE results written into the table, by the
	// table's answer (a result that lost to a fresher gleaned binding is
	// ResultStale).
	Upserts map[location.Result]uint64
	// Foreign: ACTIVE results whose option 82 names no port of this card
	// (another card's circuit or relay-id, or none): not this card's.
	Foreign uint64
	// Removed: bindings a DHCPLEASEUNASSIGNED removed; KeptGleaned: those
	// it did not, because the relay gleaned them itself.
	Removed, KeptGleaned uint64
	Errors               uint64 // table writes refused
}

type lqCounters struct {
	upserts                               [location.ResultNotOwner + 1]atomic.Uint64
	foreign, removed, keptGleaned, errors atomic.Uint64
}

func (c *lqCounters) stats() LeasequeryStats {
	s := LeasequeryStats{Upserts: map[location.Result]uint64{}, Foreign: c.foreign.Load(),
		Removed: c.removed.Load(), KeptGleaned: c.keptGleaned.Load(), Errors: c.errors.Load()}
	for i := range c.upserts {
		if n := c.upserts[i].Load(); n > 0 {
			s.Upserts[location.Result(i)] = n
		}
	}
	return s
}

// onResult routes every leasequery result into the table (the runner's
// OnResult, called whoever asked: an operator, the API, a sweep).
// An ACTIVE binding is placed on the port its option 82 names, found with
// the relay's own PortMap, and the table's precedence rule decides
// whether it replaces what is there (a gleaned binding only by a strictly
// newer last transaction). An UNASSIGNED answer removes a binding learned
// by leasequery or from a snapshot, but not one the relay gleaned: the
// relay sees that client's DHCPRELEASE itself, and the answer may predate
// the DHCPACK just gleaned.
func (a *Agent) onResult(res engine.Result) {
	for _, f := range a.resultHooks {
		f(res)
	}
	now := a.opts.Now()
	log := a.lqLog
	switch res.Type {
	case lq.LeaseActive:
		b, ok := a.relay.Ports().Bind(res.Binding, location.Leasequery)
		if !ok {
			a.lq.foreign.Add(1)
			log.Debug("leasequery: active binding not behind this card", "ip", res.Binding.IP, "server", res.Server)
			return
		}
		r, err := a.table.Upsert(b, now)
		if err != nil {
			a.lq.errors.Add(1)
			log.Warn("leasequery: binding refused by the table", "ip", b.IP, "err", err)
			return
		}
		a.lq.upserts[r].Add(1)
		log.Debug("leasequery: active", "ip", b.IP, "port", b.Port, "result", r.String())
	case lq.LeaseUnassigned:
		cur, ok := a.table.ByIP(res.Binding.IP)
		switch {
		case !ok:
		case cur.Source == location.Gleaned:
			a.lq.keptGleaned.Add(1)
		default:
			if r, err := a.table.Remove(location.Removal{IP: res.Binding.IP, Reason: location.Unassigned}, now); err == nil && r == location.ResultRemoved {
				a.lq.removed.Add(1)
			}
		}
	}
}
