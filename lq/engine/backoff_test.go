package engine

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

// armed returns an engine whose srvA timer runs (it answered a first query
// at t0), with that first result drained.
func armed(t *testing.T, edit func(*Config), rnd func() float64) *Engine {
	t.Helper()
	cfg := Config{Servers: []netip.Addr{srvA}, SubscriberPrefixes: []netip.Prefix{subs}}
	if edit != nil {
		edit(&cfg)
	}
	e, err := New(cfg, rnd)
	if err != nil {
		t.Fatal(err)
	}
	mustSubmit(t, e, t0, ipQuery("10.0.255.254"))
	e.HandleReply(t0, srvA, answer(e.Poll(t0)[0], lq.LeaseActive))
	e.Results()
	return e
}

// drive runs e from start until no deadline is left (or until), keeping
// srvA's timer running with an answer of unknown xid every 20 s, and
// reports each instant's transmits and results.
func drive(e *Engine, start, until time.Time, each func(now time.Time, txs []Transmit, res []Result)) {
	keepAlive := start.Add(20 * time.Second)
	now := start
	for {
		txs := e.Poll(now)
		each(now, txs, e.Results())
		next := e.NextDeadline()
		if next.IsZero() || next.After(until) || (len(e.deadlines) == 0 && len(e.inflight.m) == 0) {
			return
		}
		for !keepAlive.After(next) {
			e.HandleReply(keepAlive, srvA, lq.Reply{Type: lq.LeaseUnknown, XID: 1})
			keepAlive = keepAlive.Add(20 * time.Second)
		}
		now = latest(now, e.NextDeadline())
	}
}

func TestBackoffSequence(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rnd    float64
		jitter time.Duration
	}{
		{"low", 0, -time.Second},
		{"middle", 0.5, 0},
		{"high", 0.75, time.Second / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := armed(t, nil, constRand(tc.rnd))
			start := t0.Add(time.Second)
			mustSubmit(t, e, start, ipQuery("10.0.0.9"))
			var sends []time.Duration
			var done []Result
			drive(e, start, t0.Add(time.Hour), func(now time.Time, txs []Transmit, res []Result) {
				for range only(txs, srvA) {
					sends = append(sends, now.Sub(start))
				}
				done = append(done, res...)
			})
			j := tc.jitter
			want := []time.Duration{0, 4*time.Second + j, 12*time.Second + 2*j, 28*time.Second + 3*j, 60*time.Second + 4*j}
			if diff := cmp.Diff(want, sends); diff != "" {
				t.Errorf("transmission times (-want +got):\n%s", diff)
			}
			if len(done) != 1 || !errors.Is(done[0].Err, ErrNoAnswer) {
				t.Fatalf("results %+v, want one ErrNoAnswer", done)
			}
			if got, want := done[0].At.Sub(start), 124*time.Second+5*j; got != want {
				t.Errorf("timed out at +%v, want +%v (64 s after the 4th retransmission)", got, want)
			}
			wantAns := []ServerAnswer{{Server: srvA, Outcome: TimedOut, Transmissions: 5}}
			if diff := cmp.Diff(wantAns, done[0].Answers, cmp.Comparer(addrEqual)); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBackoffJitterBounds sends 100 unanswered queries with a seeded
// random source: every delay lies within ±1 s of RFC 2131's 4, 8, 16, 32,
// 64 s, and the jitter spans that range.
func TestBackoffJitterBounds(t *testing.T) {
	e := armed(t, func(c *Config) { c.InitialWindow, c.MaxWindow = 100, 100 }, seeded(3))
	submitN(t, e, t0, 100)
	last := map[uint32]time.Time{}
	count := map[uint32]int{}
	lo, hi := map[int]time.Duration{}, map[int]time.Duration{}
	check := func(xid uint32, n int, gap time.Duration) {
		base := firstBackoff << min(n, 4)
		if gap < base-time.Second || gap > base+time.Second {
			t.Errorf("xid %#x: delay %d is %v, want %v ±1s", xid, n, gap, base)
		}
		if _, ok := lo[n]; !ok || gap-base < lo[n] {
			lo[n] = gap - base
		}
		hi[n] = max(hi[n], gap-base)
	}
	drive(e, t0, t0.Add(time.Hour), func(now time.Time, txs []Transmit, res []Result) {
		for _, tx := range txs {
			if n := count[tx.XID]; n > 0 {
				check(tx.XID, n-1, now.Sub(last[tx.XID]))
			}
			last[tx.XID] = now
			count[tx.XID]++
		}
	})
	for n := range 4 {
		if lo[n] > -800*time.Millisecond || hi[n] < 800*time.Millisecond {
			t.Errorf("delay %d jitter spans %v..%v, want about -1s..+1s", n, lo[n], hi[n])
		}
	}
	if st := e.Stats(); st.Timeouts != 100 || st.Retransmitted != 400 {
		t.Errorf("%d timeouts, %d retransmissions; want 100, 400", st.Timeouts, st.Retransmitted)
	}
}
