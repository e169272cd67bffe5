package engine

import (
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// HandleReply takes a decoded reply received from address from at now.
// The engine keeps r's slices. Results it decides come from Results; call
// Poll afterwards, as the answer may open the server's window.
func (e *Engine) HandleReply(now time.Time, from netip.Addr, r lq.Reply) {
	e.advance(now)
	s := e.byAddr[from.Unmap()]
	if s == nil {
		// A multihomed server may answer from another address; its
		// server identifier (option 54) still names it.
		s = e.byAddr[r.ServerID.Unmap()]
	}
	if s == nil {
		e.n.UnknownServer++
		return
	}
	if !r.Type.IsLeasequeryReply() {
		s.n.NotLeasequery++
		return
	}
	// Any leasequery answer shows that s supports leasequery (RFC 4388 §6.7).
	e.arm(s, now)
	a := s.xids.m[r.XID]
	switch {
	case a == nil:
		s.n.UnknownXID++
	case !answers(a.req.key, &r):
		s.n.Mismatched++
	case a.state == stateAnswered:
		s.n.Duplicates++
	default:
		e.record(a, &r, now)
		e.settle(a.req, now)
	}
}

// arm restarts s's timer; if it was expired, the window opens anew.
func (e *Engine) arm(s *server, now time.Time) {
	if !s.armed {
		s.armed = true
		s.probeStage = 0
		s.restartWindow(&e.cfg)
	}
	s.timerDeadline = now.Add(ServerTimer)
}

// answers checks that r is about what was asked: a query by IP address is
// answered with that address in ciaddr, except that a DHCPLEASEUNKNOWN
// may carry 0.0.0.0.
func answers(k Key, r *lq.Reply) bool {
	if k.Kind != lq.ByIP {
		return true
	}
	ci := r.CIAddr.Unmap()
	if r.Type == lq.LeaseUnknown && (!ci.IsValid() || ci.IsUnspecified()) {
		return true
	}
	return ci == k.IP
}

// record stores a's answer and updates the server's window and the owner
// memory.
func (e *Engine) record(a *attempt, r *lq.Reply, now time.Time) {
	s := a.srv
	switch a.state {
	case stateOutstanding:
		s.onAnswer(a, now, &e.cfg)
		s.outstanding.remove(a)
		e.deadlines.unschedule(a)
		a.req.live--
	case statePending: // sent before its server's timer expired, answered late
		s.pending.remove(a)
		a.req.live--
	}
	a.state, a.answer, a.answeredAt = stateAnswered, r.Type, now
	switch r.Type {
	case lq.LeaseActive:
		s.n.Active++
	case lq.LeaseUnassigned:
		s.n.Unassigned++
	case lq.LeaseUnknown:
		s.n.Unknown++
	}
	if r.Type == lq.LeaseUnknown {
		if k := a.req.key.mapKey(); ownerIs(&e.owners, k, s.idx) {
			e.owners.delete(k)
		}
		return
	}
	a.binding = r.Binding(now, s.addr)
	e.rememberOwner(a)
}

// ownerIs reports whether the owner memory names server idx for k.
func ownerIs(owners *keyMap[uint8], k mapKey, idx int) bool {
	i, ok := owners.get(k)
	return ok && int(i) == idx
}

// rememberOwner notes that a's server manages the answer's address (RFC
// 4388 §6.6: "the Relay Agent SHOULD cache this information for later
// use"), and for an ACTIVE its client's MAC address and client identifier.
// When the memory is full, new keys are not remembered.
func (e *Engine) rememberOwner(a *attempt) {
	var buf [4]Key
	keys := appendKeys(append(buf[:0], a.req.key), &a.binding, a.answer == lq.LeaseActive)
	for _, k := range keys {
		mk := k.mapKey()
		if _, ok := e.owners.get(mk); ok || e.owners.len() < e.cfg.MaxCacheEntries {
			e.owners.set(mk, uint8(a.srv.idx))
		}
	}
}

// settle decides req when it can, or delivers an update for a request
// decided earlier, and releases it once nothing is outstanding.
func (e *Engine) settle(req *request, now time.Time) {
	if req.done {
		if w := req.best(); w != req.winner {
			req.winner = w
			e.deliver(req, now, true)
		}
		e.release(req)
		return
	}
	if req.owner >= 0 && !req.ownerHolds() {
		// The owner answered UNKNOWN, timed out or went silent: ask everyone.
		req.owner = -1
		e.n.Fallbacks++
		e.fanOut(req, now)
	}
	if !req.decided() {
		return
	}
	req.done = true
	e.inflight.delete(req.key)
	req.winner = req.best()
	e.cancelPending(req)
	e.deliver(req, now, false)
	e.release(req)
}

// ownerHolds reports whether req, asked of its owner alone, should keep
// waiting for the owner: its answer was ACTIVE or UNASSIGNED, or it has
// not answered yet and its timer runs.
func (req *request) ownerHolds() bool {
	a := req.attempts[req.owner]
	if a.state == stateAnswered {
		return rank(a.answer) >= rank(lq.LeaseUnassigned)
	}
	return a.waiting() && a.srv.armed
}

// decided reports whether req's result can be given: when every server
// whose timer runs (every server asked, for awaitAll) has answered or timed out, and either no server with an
// expired timer is still pending or a server gave ACTIVE or UNASSIGNED. A
// dead server must not hold a result hostage; if it answers later and
// better, the caller gets an Update.
func (req *request) decided() bool {
	waitingExpired, good := false, false
	for _, a := range req.attempts {
		switch {
		case a == nil:
		case a.state == stateAnswered:
			good = good || rank(a.answer) >= rank(lq.LeaseUnassigned)
		case a.waiting() && (a.srv.armed || req.awaitAll):
			return false
		case a.waiting():
			waitingExpired = true
		}
	}
	return !waitingExpired || good
}

// best is the winning answer (RFC 4388 §6.8, see better), nil when none.
// Ties go to the answer received first.
func (req *request) best() *attempt {
	var w *attempt
	for _, a := range req.attempts {
		if a == nil || a.state != stateAnswered {
			continue
		}
		if w == nil || better(a.answer, &a.binding, w.answer, &w.binding) ||
			(!better(w.answer, &w.binding, a.answer, &a.binding) && a.answeredAt.Before(w.answeredAt)) {
			w = a
		}
	}
	return w
}

// cancelPending withdraws req's attempts still queued (at expired
// servers); those already on the wire stay, for a possible update.
func (e *Engine) cancelPending(req *request) {
	for _, a := range req.attempts {
		if a != nil && a.state == statePending {
			a.srv.pending.remove(a)
			a.state = stateCancelled
			req.live--
		}
	}
}

// release forgets a decided request once none of its attempts can still
// produce an answer; later replies to its xids count as unknown.
func (e *Engine) release(req *request) {
	if !req.done || req.live > 0 {
		return
	}
	for _, a := range req.attempts {
		if a != nil {
			a.srv.xids.delete(a.xid)
		}
	}
	e.live--
}

// deliver queues req's result (or update) and caches it.
func (e *Engine) deliver(req *request, now time.Time, update bool) {
	res := Result{Key: req.key, Query: req.query, Update: update, At: now, Answers: make([]ServerAnswer, 0, len(req.attempts))}
	for _, a := range req.attempts {
		if a != nil {
			res.Answers = append(res.Answers, a.serverAnswer())
		}
	}
	switch w := req.winner; {
	case update:
		e.n.Updates++
	case w == nil:
		e.n.Completed++
		e.n.NoAnswer++
		res.Err = ErrNoAnswer
	default:
		e.n.Completed++
	}
	if w := req.winner; w != nil {
		res.Type, res.Binding, res.Server = w.answer, w.binding, w.srv.addr
		e.cacheResult(&res, w, now)
	}
	e.results = append(e.results, res)
}

// cacheResult keeps res (RFC 4388 §6.6, §7 negative caching): ACTIVE until
// its lease ends (for UnknownTTL when the server sent no lease time),
// UNASSIGNED about an address until NoteLease, UNKNOWN for UnknownTTL. An
// UNASSIGNED answering a MAC or client-id query (ISC dhcpd sends those for
// released leases) is kept only for UnknownTTL: NoteLease names addresses.
func (e *Engine) cacheResult(res *Result, w *attempt, now time.Time) {
	ent := cacheEntry{key: res.Key.mapKey(), typ: res.Type, server: uint8(w.srv.idx), at: e.cache.stamp(now)}
	switch {
	case res.Type == lq.LeaseActive && !res.Binding.Expiry.IsZero():
		if !res.Binding.Expiry.After(now) {
			e.cache.drop(res.Key)
			return
		}
		ent.expires = e.cache.stamp(res.Binding.Expiry)
	case res.Type == lq.LeaseUnassigned && res.Key.Kind == lq.ByIP:
		// Zero: until NoteLease.
	default:
		ent.expires = e.cache.stamp(now.Add(e.cfg.UnknownTTL))
	}
	if res.Type == lq.LeaseActive || (res.Type == lq.LeaseUnassigned && res.Key.Kind != lq.ByIP) {
		ent.binding = storeBinding(&w.binding, w.answeredAt)
	}
	e.cache.put(ent)
}

// cachedResult is the Result a cache hit gives: the winning answer, without
// per-server answers.
func (e *Engine) cachedResult(ent *cacheEntry) Result {
	key := ent.key.key()
	res := Result{Key: key, Query: key.Query(), Type: ent.typ, Server: e.servers[ent.server].addr, Cached: true, At: e.cache.time(ent.at)}
	switch {
	case ent.binding != nil:
		res.Binding = ent.binding.binding()
	case ent.typ == lq.LeaseUnassigned:
		res.Binding = lq.Binding{IP: key.IP, Server: res.Server}
	}
	return res
}

func (a *attempt) serverAnswer() ServerAnswer {
	sa := ServerAnswer{Server: a.srv.addr, Transmissions: a.transmissions}
	switch a.state {
	case stateAnswered:
		sa.Outcome, sa.Type, sa.Binding = Answered, a.answer, a.binding
		sa.RTT = a.answeredAt.Sub(a.firstSent)
	case stateTimedOut:
		sa.Outcome = TimedOut
	case stateOutstanding:
		sa.Outcome = Waiting
	default:
		sa.Outcome = Abandoned
	}
	return sa
}
