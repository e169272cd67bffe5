package engine

import "time"

// maxProbeStage is the backoff stage at which RFC 2131's delay stops
// doubling (64 s).
const maxProbeStage = 4

// Poll advances the engine to now: timers expire, retransmissions and
// timeouts fall due, windows fill. It returns the queries to send now; the
// slice is valid until the next Poll.
func (e *Engine) Poll(now time.Time) []Transmit {
	e.tx = reuse(e.tx)
	e.advance(now)
	e.cache.purge(now)
	for len(e.deadlines) > 0 && !e.deadlines[0].deadline.After(now) {
		e.fire(e.deadlines[0], now)
	}
	for _, s := range e.servers {
		for s.pending.n > 0 && s.canSend(now) {
			a := s.pending.head
			s.pending.remove(a)
			e.transmit(a, now)
		}
	}
	return e.tx
}

// transmit puts a on the wire (first transmission or retransmission) and
// schedules its next deadline.
func (e *Engine) transmit(a *attempt, now time.Time) {
	s := a.srv
	if a.transmissions > 0 {
		s.n.Retransmitted++
	} else {
		s.n.Sent++
	}
	if a.sends == 0 {
		a.firstSent = now
	}
	a.sends++
	a.transmissions++
	s.lastSend = now
	s.nextSeq++
	a.seq, a.overtaken, a.lossNoted = s.nextSeq, 0, false
	a.state = stateOutstanding
	s.outstanding.pushBack(a)
	e.deadlines.schedule(a, now.Add(e.retransmitDelay(a)))
	e.tx = append(e.tx, Transmit{Server: s.addr, XID: a.xid, Query: a.req.query, Retransmission: a.transmissions > 1})
}

// retransmitDelay is how long a waits after a transmission. While the
// server's timer runs, the RFC 2131 backoff of the query itself; while it
// is expired, the server's own probe backoff, never under MinProbeInterval
// so that a server not known to support leasequery gets at most one query
// per 10 s, and capped at 64 s (+1) so it gets one at least every 70 s
// while there is demand (RFC 4388 §6.7).
func (e *Engine) retransmitDelay(a *attempt) time.Duration {
	s := a.srv
	if s.armed {
		return e.backoff(a.sends - 1)
	}
	d := max(MinProbeInterval, e.backoff(s.probeStage))
	s.probeStage = min(s.probeStage+1, maxProbeStage)
	return d
}

// fire handles a's deadline: retransmit, or time out after the last
// retransmission.
func (e *Engine) fire(a *attempt, now time.Time) {
	s := a.srv
	s.noteLoss(a)
	s.outstanding.remove(a)
	if a.sends <= e.cfg.Retransmissions {
		e.transmit(a, now)
		return
	}
	e.deadlines.unschedule(a)
	a.state = stateTimedOut
	a.req.live--
	s.n.Timeouts++
	if !s.armed {
		// RFC deviation: RFC 4388 §6.7 keeps one query polling an expired
		// server "until such time as another (or the first) response ...
		// is received". We poll (at 64 s) only while some query waits,
		// and when the probe of a server not known to support leasequery
		// goes unanswered for a whole backoff cycle, the queries already
		// queued for it when the probe began fail (ErrNoAnswer, unless
		// another server answered): a dead server must not hold callers
		// forever.
		e.failQueued(s, a.firstSent, now)
	}
	e.settle(a.req, now)
}

// failQueued times out the queries queued at s since cutoff or before.
func (e *Engine) failQueued(s *server, cutoff, now time.Time) {
	reqs := e.scratch[:0]
	for a := s.pending.head; a != nil; {
		next := a.next
		if !a.queuedAt.After(cutoff) {
			s.pending.remove(a)
			a.state = stateTimedOut
			a.req.live--
			s.n.Timeouts++
			reqs = append(reqs, a.req)
		}
		a = next
	}
	e.settleAll(reqs, now)
}

func (e *Engine) settleAll(reqs []*request, now time.Time) {
	for i, req := range reqs {
		e.settle(req, now)
		reqs[i] = nil
	}
	e.scratch = reuse(reqs)
}

// advance expires the timers of servers silent since ServerTimer.
func (e *Engine) advance(now time.Time) {
	for _, s := range e.servers {
		if s.armed && !now.Before(s.timerDeadline) {
			e.expire(s, now)
		}
	}
}

// expire handles the end of s's timer (RFC 4388 §6.7): "all outstanding
// messages SHOULD be dropped except for a single DHCPLEASEQUERY message
// that is used to poll the server at approximately 64 second intervals".
// The one kept is the one due soonest. The dropped queries go back to the
// front of the queue, still wanted, with their xids (a late answer still
// counts) and a fresh backoff.
func (e *Engine) expire(s *server, now time.Time) {
	s.armed = false
	s.probeStage = maxProbeStage
	s.n.Expiries++
	keep := s.outstanding.head
	for a := keep; a != nil; a = a.next {
		if a.deadline.Before(keep.deadline) {
			keep = a
		}
	}
	for a := s.outstanding.tail; a != nil; {
		prev := a.prev
		if a != keep {
			s.outstanding.remove(a)
			e.deadlines.unschedule(a)
			a.state, a.sends = statePending, 0
			s.pending.pushFront(a)
			s.n.DroppedAtExpiry++
		}
		a = prev
	}
	reqs := e.scratch[:0]
	if keep != nil {
		e.deadlines.schedule(keep, latest(keep.deadline, s.lastSend.Add(MinProbeInterval)))
		reqs = append(reqs, keep.req)
	}
	// Requests that were waiting for s may now be decided without it.
	for a := s.pending.head; a != nil; a = a.next {
		reqs = append(reqs, a.req)
	}
	e.settleAll(reqs, now)
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
