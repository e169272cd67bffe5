package engine

import (
	"net/netip"
	"time"
)

// Counters are kept per server; Stats also sums them over the servers.
type Counters struct {
	Sent          uint64 // first transmissions of a query to the server
	Retransmitted uint64 // further transmissions (same xid)
	// Answers accepted, by type (duplicates and mismatches excluded).
	Active, Unassigned, Unknown uint64
	// Timeouts: queries that got no answer from the server after every
	// retransmission, or that were queued for it while its timer was
	// expired and a whole probe cycle went unanswered.
	Timeouts   uint64
	UnknownXID uint64 // replies matching no query in flight (late duplicates included)
	Mismatched uint64 // xid known, but ciaddr not the address asked about
	Duplicates uint64 // a second answer to an answered query
	// NotLeasequery: replies from the server that were not one of the
	// three leasequery answers.
	NotLeasequery uint64
	// DroppedAtExpiry: outstanding queries put back in the queue when the
	// server's timer expired (RFC 4388 §6.7).
	DroppedAtExpiry uint64
	Expiries        uint64 // times the server's timer expired
	LossEvents      uint64 // window reductions (window.go)
}

func (c *Counters) add(o *Counters) {
	c.Sent += o.Sent
	c.Retransmitted += o.Retransmitted
	c.Active += o.Active
	c.Unassigned += o.Unassigned
	c.Unknown += o.Unknown
	c.Timeouts += o.Timeouts
	c.UnknownXID += o.UnknownXID
	c.Mismatched += o.Mismatched
	c.Duplicates += o.Duplicates
	c.NotLeasequery += o.NotLeasequery
	c.DroppedAtExpiry += o.DroppedAtExpiry
	c.Expiries += o.Expiries
	c.LossEvents += o.LossEvents
}

// ServerStats is one server's state for the console.
type ServerStats struct {
	Server netip.Addr
	// Armed: the RFC 4388 §6.7 timer runs, until TimerDeadline. Expired,
	// the server gets one query at a time; NextProbe is when the next may
	// go (zero: now, or nothing queued).
	Armed         bool
	TimerDeadline time.Time
	NextProbe     time.Time
	Outstanding   int
	Pending       int
	Window        float64
	SRTT          time.Duration
	Counters
}

// Stats is the engine's state and counters.
type Stats struct {
	Counters // summed over the servers
	Servers  []ServerStats

	Submitted     uint64 // queries that started a new request
	Merged        uint64 // duplicate submissions joined to one in flight
	CacheHits     uint64 // answered from the cache without sending
	Restricted    uint64 // refused by the ciaddr restriction (RFC 4388 §7)
	RejectedFull  uint64 // refused because MaxPending queries were in flight
	Completed     uint64 // results delivered (updates excluded)
	NoAnswer      uint64 // results with ErrNoAnswer
	Updates       uint64 // better answers delivered after a result
	Fallbacks     uint64 // queries re-sent to all servers after the owner failed them
	UnknownServer uint64 // replies from an address not in Config.Servers
	LeasesNoted   uint64 // NoteLease calls
	CacheDropped  uint64 // cache entries cleared by NoteLease

	Live           int // requests not finished (counted against MaxPending)
	Room           int // MaxPending - Live
	CacheEntries   int
	CacheEvictions uint64
	Owners         int // keys whose owning server is remembered
}

// Stats returns a snapshot of the counters and the per-server state.
func (e *Engine) Stats() Stats {
	st := e.n
	st.Live, st.Room = e.live, e.Room()
	st.CacheEntries, st.CacheEvictions = e.cache.m.len(), e.cache.evictions
	st.Owners = e.owners.len()
	st.Servers = make([]ServerStats, len(e.servers))
	for i, s := range e.servers {
		st.Servers[i] = ServerStats{
			Server:      s.addr,
			Armed:       s.armed,
			NextProbe:   s.nextProbe(),
			Outstanding: s.outstanding.n,
			Pending:     s.pending.n,
			Window:      s.window,
			SRTT:        s.srtt,
			Counters:    s.n,
		}
		if s.armed {
			st.Servers[i].TimerDeadline = s.timerDeadline
		}
		st.Counters.add(&s.n)
	}
	return st
}
