package engine

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// check verifies the engine's internal consistency.
func (e *Engine) check() error {
	for _, s := range e.servers {
		if s.window < 1 || s.window > float64(e.cfg.MaxWindow) {
			return fmt.Errorf("%v: window %v outside 1..%d", s.addr, s.window, e.cfg.MaxWindow)
		}
		if !s.armed && s.outstanding.n > 1 {
			return fmt.Errorf("%v: expired with %d outstanding", s.addr, s.outstanding.n)
		}
		if s.outstanding.n > e.cfg.MaxWindow {
			return fmt.Errorf("%v: %d outstanding, cap %d", s.addr, s.outstanding.n, e.cfg.MaxWindow)
		}
		for _, l := range []struct {
			list  *attemptList
			state attemptState
		}{{&s.pending, statePending}, {&s.outstanding, stateOutstanding}} {
			n := 0
			for a := l.list.head; a != nil; a = a.next {
				n++
				if a.state != l.state || a.srv != s || s.xids.m[a.xid] != a {
					return fmt.Errorf("%v: attempt %#x in the wrong list or unindexed (state %d)", s.addr, a.xid, a.state)
				}
				if (a.state == stateOutstanding) != (a.heapIdx >= 0) {
					return fmt.Errorf("%v: attempt %#x state %d heap index %d", s.addr, a.xid, a.state, a.heapIdx)
				}
			}
			if n != l.list.n {
				return fmt.Errorf("%v: list holds %d, counts %d", s.addr, n, l.list.n)
			}
		}
	}
	for i, a := range e.deadlines {
		if a.heapIdx != i {
			return fmt.Errorf("deadline heap: index %d holds %d", i, a.heapIdx)
		}
	}
	if e.live < len(e.inflight.m) || e.live > e.cfg.MaxPending {
		return fmt.Errorf("live %d, in flight %d, MaxPending %d", e.live, len(e.inflight.m), e.cfg.MaxPending)
	}
	if e.cache.m.len() != len(e.cache.h) || e.cache.m.len() > e.cfg.MaxCacheEntries {
		return fmt.Errorf("cache: %d entries, heap %d, max %d", e.cache.m.len(), len(e.cache.h), e.cfg.MaxCacheEntries)
	}
	return nil
}

// FuzzEngine drives an engine with two servers through arbitrary
// sequences of submissions, replies (matching or not, of any type),
// elapsing time and NoteLease, checking its invariants after each step and
// the RFC 4388 §6.7 floor for expired servers, then runs time forward:
// every query submitted must end with a result.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 2, 10, 3, 0, 13, 3, 1, 12, 2, 200})
	f.Add([]byte{0, 5, 5, 5, 2, 255, 2, 255, 2, 255, 3, 2, 11, 4, 5, 0, 5})
	f.Add([]byte{1, 7, 0, 3, 3, 0, 13, 0, 3, 2, 40, 3, 1, 99, 6, 3, 2, 250, 2, 250, 2, 250})
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, ops []byte) {
	e, err := New(Config{
		Servers:            []netip.Addr{srvA, srvB},
		SubscriberPrefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/29")},
		InitialWindow:      2, MaxWindow: 4, Retransmissions: 2, MaxPending: 6, MaxCacheEntries: 4,
		UnknownTTL: time.Minute,
	}, seeded(uint64(len(ops))))
	if err != nil {
		t.Fatal(err)
	}
	h := fuzzHarness{t: t, e: e, now: t0, lastSend: map[netip.Addr]time.Time{}, want: map[Key]bool{}}
	for len(ops) >= 2 {
		op, arg := ops[0], ops[1]
		ops = ops[2:]
		h.do(op, arg)
		if err := e.check(); err != nil {
			t.Fatalf("after op %d(%d): %v", op, arg, err)
		}
	}
	for end := h.now.Add(24 * time.Hour); len(e.inflight.m) > 0 && h.now.Before(end); {
		next := e.NextDeadline()
		if next.IsZero() {
			t.Fatalf("%d queries in flight with nothing scheduled: %+v", len(e.inflight.m), e.Stats())
		}
		if !next.After(h.now) && len(e.Poll(h.now)) == 0 {
			t.Fatalf("deadline %v due but Poll does nothing: %+v", next.Sub(t0), e.Stats())
		}
		h.now = latest(h.now, next)
		h.poll()
	}
	for k := range h.want {
		t.Errorf("no result for %v", k)
	}
}

type fuzzHarness struct {
	t        *testing.T
	e        *Engine
	now      time.Time
	sent     []Transmit
	lastSend map[netip.Addr]time.Time
	want     map[Key]bool // submitted, no result yet
}

func (h *fuzzHarness) do(op, arg byte) {
	switch op % 7 {
	case 0, 1: // by IP (some outside the subscriber prefix), by MAC
		q := lq.Query{Kind: lq.ByIP, IP: netip.AddrFrom4([4]byte{10, 0, 0, arg%9 + 1})}
		if op%7 == 1 {
			q = lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, arg%5 + 1}}
		}
		h.submit(q, arg&0x80 != 0)
	case 2:
		h.now = h.now.Add(time.Duration(arg) * 250 * time.Millisecond)
	case 3, 4: // answer a transmission, possibly wrongly
		if len(h.sent) == 0 {
			return
		}
		tx := h.sent[int(arg)%len(h.sent)]
		r := answer(tx, [...]lq.MessageType{lq.LeaseActive, lq.LeaseUnassigned, lq.LeaseUnknown, lq.Ack}[arg%4])
		r.LastTransaction, r.HasLastTransaction = time.Duration(arg)*time.Second, arg%3 == 0
		if tx.Query.Kind != lq.ByIP && r.Type != lq.LeaseUnknown {
			r.CIAddr = netip.AddrFrom4([4]byte{10, 0, 0, arg%7 + 1})
		}
		from := tx.Server
		if op%7 == 4 {
			r.XID ^= uint32(arg) // mostly an unknown xid
			from = [...]netip.Addr{srvA, srvB, netip.MustParseAddr("192.0.2.99")}[arg%3]
		}
		h.e.HandleReply(h.now, from, r)
	case 5:
		h.e.NoteLease(netip.AddrFrom4([4]byte{10, 0, 0, arg%9 + 1}))
	case 6:
		h.now = h.now.Add(time.Duration(arg) * time.Second)
	}
	h.poll()
}

func (h *fuzzHarness) submit(q lq.Query, fresh bool) {
	submit := h.e.Submit
	if fresh {
		submit = h.e.SubmitFresh
	}
	tk, err := submit(h.now, q)
	switch {
	case err != nil:
	case tk.Cached:
		if tk.Result.Type == 0 {
			h.t.Fatalf("cache hit without an answer: %+v", tk)
		}
	default:
		h.want[tk.Key] = true
	}
}

func (h *fuzzHarness) poll() {
	for _, tx := range h.e.Poll(h.now) {
		st := h.e.servers[h.e.byAddr[tx.Server].idx]
		if last, ok := h.lastSend[tx.Server]; ok && !st.armed && h.now.Sub(last) < MinProbeInterval {
			h.t.Fatalf("%v: expired server sent to %v after %v", h.now.Sub(t0), tx.Server, h.now.Sub(last))
		}
		h.lastSend[tx.Server] = h.now
		h.sent = append(h.sent, tx)
	}
	for _, r := range h.e.Results() {
		if !r.Update {
			delete(h.want, r.Key)
		}
	}
	if err := h.e.check(); err != nil {
		h.t.Fatalf("at %v: %v", h.now.Sub(t0), err)
	}
}
