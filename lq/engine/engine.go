// Package engine is the access concentrator's side of RFC 4388 (DHCPv4
// Leasequery) as a deterministic scheduler: it decides which query goes to
// which server when, retransmits on the RFC 2131 §4.1 backoff, keeps the
// per-server timer of RFC 4388 §6.7, adapts each server's outstanding
// window to loss, fans queries out to every server until one owns the
// answer, picks among conflicting answers (§6.8), and caches answers (§6.6,
// §7). It does no I/O and reads no clock: the caller passes the time,
// randomness comes from a function given to New, the caller encodes and
// sends what Poll returns and decodes what it receives for HandleReply.
// An Engine is not safe for concurrent use; Runner wraps one for that.
package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// ErrPendingFull is matched (errors.Is) by Submit's error when
// Config.MaxPending queries are already in flight.
var ErrPendingFull = errors.New("pending queries at limit")

// Transmit is a query to put on the wire now.
type Transmit struct {
	Server netip.Addr
	XID    uint32
	Query  lq.Query
	// Retransmission: sent before with the same xid.
	Retransmission bool
}

// Ticket says what Submit did with a query.
type Ticket struct {
	Key Key
	// Merged: the same question was already in flight; one Result (with
	// this Key) will answer both.
	Merged bool
	// Cached: Result holds the answer, from the cache; nothing is sent.
	Cached bool
	Result Result
}

// request is one question in flight: one attempt per server asked.
type request struct {
	key      Key
	query    lq.Query
	attempts []*attempt // by server index; nil where not asked
	owner    int        // the server asked alone because it owns key; -1 once fanned out
	live     int        // attempts pending or outstanding
	done     bool       // a Result was delivered
	winner   *attempt
	// awaitAll: decided only once every server asked has answered or
	// timed out, expired timers or not (SubmitFresh: the operator wants
	// each server's answer, and a conflict between two servers that are
	// both still unproven must be resolved by option 91, not by which
	// answer came first).
	awaitAll bool
}

// Engine schedules leasequeries. See the package comment.
type Engine struct {
	cfg       Config
	rnd       func() float64
	servers   []*server
	byAddr    map[netip.Addr]*server
	inflight  burstMap[Key, *request] // not yet decided
	live      int                     // requests not yet released
	deadlines deadlineHeap
	cache     answerCache
	owners    keyMap[uint8] // server index of the last ACTIVE or UNASSIGNED answer

	tx             []Transmit
	results, spare []Result
	scratch        []*request
	n              Stats // the global counters; per-server ones live in servers
}

// New validates cfg and returns an engine. rnd returns uniform values in
// [0, 1): it randomises the retransmission delays and chooses xids.
func New(cfg Config, rnd func() float64) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if rnd == nil {
		return nil, errors.New("engine: nil random source")
	}
	e := &Engine{
		cfg:      cfg,
		rnd:      rnd,
		byAddr:   make(map[netip.Addr]*server, len(cfg.Servers)),
		inflight: newBurstMap[Key, *request](),
		cache:    newAnswerCache(cfg.MaxCacheEntries),
		owners:   newKeyMap[uint8](),
	}
	for i, addr := range cfg.Servers {
		s := &server{addr: addr, idx: i, xids: newBurstMap[uint32, *attempt](), ssthresh: float64(cfg.MaxWindow)}
		s.restartWindow(&cfg)
		e.servers = append(e.servers, s)
		e.byAddr[addr] = s
	}
	return e, nil
}

// Room is how many more queries Submit accepts now: a sweep feeds this
// many and waits for results before feeding more.
func (e *Engine) Room() int { return e.cfg.MaxPending - e.live }

// Submit asks q. A cached answer is returned at once in the Ticket;
// otherwise the query is queued (or merged with the same question in
// flight) and its Result comes later from Results. Call Poll afterwards to
// learn what to send.
func (e *Engine) Submit(now time.Time, q lq.Query) (Ticket, error) {
	return e.submit(now, q, false)
}

// SubmitFresh is Submit for the operator's query command: every server is
// asked, even with an answer cached (which the new one replaces) or an
// owner known, so the Result lists each server's answer. Merged with the
// same question already in flight, it gets that request's Result.
func (e *Engine) SubmitFresh(now time.Time, q lq.Query) (Ticket, error) {
	return e.submit(now, q, true)
}

// submit is Submit (fresh false) or SubmitFresh.
func (e *Engine) submit(now time.Time, q lq.Query, fresh bool) (Ticket, error) {
	e.advance(now)
	key, err := KeyOf(q)
	if err != nil {
		return Ticket{}, err
	}
	if key.Kind == lq.ByIP && !e.subscriber(key.IP) {
		e.n.Restricted++
		return Ticket{}, &RestrictedError{IP: key.IP}
	}
	if ent := e.cache.get(key, now); ent != nil && !fresh {
		e.n.CacheHits++
		return Ticket{Key: key, Cached: true, Result: e.cachedResult(ent)}, nil
	}
	if req, ok := e.inflight.m[key]; ok {
		e.n.Merged++
		req.awaitAll = req.awaitAll || fresh
		return Ticket{Key: key, Merged: true}, nil
	}
	if e.live >= e.cfg.MaxPending {
		e.n.RejectedFull++
		return Ticket{}, fmt.Errorf("%v: %d queries in flight (Config.MaxPending): %w", key, e.live, ErrPendingFull)
	}
	e.start(key, now, !fresh).awaitAll = fresh
	return Ticket{Key: key}, nil
}

func (e *Engine) subscriber(ip netip.Addr) bool {
	for _, p := range e.cfg.SubscriberPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// start creates the request for key: to the remembered owner alone if its
// timer runs (RFC 4388 §6.4: "SHOULD be sent to a DHCP server which is
// known to possess authoritative information") and useOwner, else to
// every server.
func (e *Engine) start(key Key, now time.Time, useOwner bool) *request {
	e.n.Submitted++
	req := &request{key: key, query: key.Query(), attempts: make([]*attempt, len(e.servers)), owner: -1}
	e.inflight.set(key, req)
	e.live++
	if i, ok := e.owners.get(key.mapKey()); ok && useOwner && e.servers[i].armed {
		req.owner = int(i)
		e.ask(req, e.servers[i], now)
		return req
	}
	e.fanOut(req, now)
	return req
}

// fanOut queues req at every server not yet asked and reports how many.
func (e *Engine) fanOut(req *request, now time.Time) int {
	n := 0
	for _, s := range e.servers {
		if req.attempts[s.idx] == nil {
			e.ask(req, s, now)
			n++
		}
	}
	return n
}

func (e *Engine) ask(req *request, s *server, now time.Time) {
	a := &attempt{req: req, srv: s, state: statePending, queuedAt: now, heapIdx: -1, xid: e.newXID(s)}
	s.xids.set(a.xid, a)
	s.pending.pushBack(a)
	req.attempts[s.idx] = a
	req.live++
}

// newXID picks an xid unused at s. Random xids make off-path spoofing of
// answers harder; if rnd keeps colliding (a constant test source), the
// next free value after its pick is used.
func (e *Engine) newXID(s *server) uint32 {
	x := uint32(e.random() * (1 << 32))
	for tries := 0; ; tries++ {
		if _, taken := s.xids.m[x]; !taken {
			return x
		}
		if tries < 3 {
			x = uint32(e.random() * (1 << 32))
		} else {
			x++
		}
	}
}

func (e *Engine) random() float64 {
	r := e.rnd()
	if !(r >= 0) { // also NaN
		return 0
	}
	return min(r, 1-1.0/(1<<53))
}

// backoff is RFC 2131 §4.1's delay after transmission n+1 of a query (n
// from 0): 4 s doubling up to 64 s, each randomised by a uniform ±1 s.
func (e *Engine) backoff(n int) time.Duration {
	d := maxBackoff
	if n < 4 {
		d = firstBackoff << n
	}
	return d + time.Duration((2*e.random()-1)*float64(backoffJitter))
}

// NoteLease tells the engine that gleaning saw a lease on ip: a cached
// answer about ip (UNASSIGNED in particular, RFC 4388 §6.6) no longer holds.
func (e *Engine) NoteLease(ip netip.Addr) {
	e.n.LeasesNoted++
	if e.cache.drop(Key{Kind: lq.ByIP, IP: ip.Unmap()}) {
		e.n.CacheDropped++
	}
}

// Results returns the results decided since the last call: one per
// request, plus Updates. The slice is valid until the next call.
func (e *Engine) Results() []Result {
	out := e.results
	e.results = reuse(e.spare) // the caller is done with them
	e.spare = out
	return out
}

// NextDeadline is when Poll next has something to do without new input
// (a retransmission, a timeout, a timer expiry, a probe); zero when nothing
// is scheduled. Submit and HandleReply may make work due at once: call Poll
// after them.
func (e *Engine) NextDeadline() time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if len(e.deadlines) > 0 {
		consider(e.deadlines[0].deadline)
	}
	for _, s := range e.servers {
		if s.armed {
			consider(s.timerDeadline)
		}
		consider(s.nextProbe())
	}
	return next
}
