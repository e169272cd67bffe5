package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

// submitN submits queries for the first n addresses of subs.
func submitN(t *testing.T, e *Engine, now time.Time, n int) {
	t.Helper()
	for i := range n {
		mustSubmit(t, e, now, lq.Query{Kind: lq.ByIP, IP: nthIP(i + 1)})
	}
}

func TestTimerStartsExpiredOneOutstanding(t *testing.T) {
	e := newTestEngine(t, nil)
	submitN(t, e, t0, 5)
	if got := pollCopy(e, t0); len(got) != 1 {
		t.Fatalf("first Poll sent %d queries to a server whose timer starts expired, want 1", len(got))
	}
	st := e.Stats().Servers[0]
	want := ServerStats{Server: srvA, Outstanding: 1, Pending: 4, Window: DefaultInitialWindow, Counters: Counters{Sent: 1}}
	if diff := cmp.Diff(want, st, cmp.Comparer(addrEqual)); diff != "" {
		t.Errorf("server state (-want +got):\n%s", diff)
	}
	if got := pollCopy(e, t0.Add(9*time.Second)); len(got) != 0 {
		t.Errorf("Poll at +9s sent %v; nothing may reach an expired server within 10 s", got)
	}
}

func TestFirstAnswerArmsTimerAndOpensWindow(t *testing.T) {
	e := newTestEngine(t, nil)
	submitN(t, e, t0, 100)
	probe := pollCopy(e, t0)[0]
	at := t0.Add(3 * time.Millisecond)
	e.HandleReply(at, srvA, answer(probe, lq.LeaseActive))
	st := e.Stats().Servers[0]
	if !st.Armed || !st.TimerDeadline.Equal(at.Add(time.Minute)) {
		t.Fatalf("after the first answer: armed %v until %v, want armed until %v", st.Armed, st.TimerDeadline, at.Add(time.Minute))
	}
	if got := pollCopy(e, at); len(got) != DefaultInitialWindow {
		t.Errorf("Poll after arming sent %d, want the initial window %d", len(got), DefaultInitialWindow)
	}
	// Every answer restarts the timer's minute.
	later := at.Add(30 * time.Second)
	e.HandleReply(later, srvA, lq.Reply{Type: lq.LeaseUnknown, XID: 12345})
	if st := e.Stats().Servers[0]; !st.TimerDeadline.Equal(later.Add(time.Minute)) {
		t.Errorf("timer deadline after a second answer %v, want %v", st.TimerDeadline, later.Add(time.Minute))
	}
}

func TestWindowNeverExceedsCap(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.InitialWindow, c.MaxWindow = 150, 150 })
	submitN(t, e, t0, 1000)
	now := t0
	txs := pollCopy(e, now)
	for len(txs) > 0 {
		now = now.Add(time.Millisecond)
		tx := txs[0]
		txs = txs[1:]
		e.HandleReply(now, srvA, answer(tx, lq.LeaseActive))
		txs = append(txs, pollCopy(e, now)...)
		st := e.Stats().Servers[0]
		if st.Outstanding > 150 || st.Window > 150 {
			t.Fatalf("at %v: %d outstanding, window %.1f; cap is 150", now.Sub(t0), st.Outstanding, st.Window)
		}
		if len(txs) != st.Outstanding {
			t.Fatalf("%d transmits unanswered but %d outstanding", len(txs), st.Outstanding)
		}
	}
	if st := e.Stats(); st.Active != 1000 {
		t.Errorf("%d answers, want 1000", st.Active)
	}
}

func TestExpiryDropsAllButOne(t *testing.T) {
	e := newTestEngine(t, nil)
	submitN(t, e, t0, 100)
	probe := pollCopy(e, t0)[0]
	armedAt := t0.Add(time.Millisecond)
	e.HandleReply(armedAt, srvA, answer(probe, lq.LeaseActive))
	e.Results()
	first := pollCopy(e, armedAt) // 32 outstanding, never answered
	// Retransmissions come due on the way to the expiry.
	var lastSend time.Time
	for now := e.NextDeadline(); now.Before(armedAt.Add(ServerTimer)); now = e.NextDeadline() {
		if len(e.Poll(now)) > 0 {
			lastSend = now
		}
	}
	expiry := armedAt.Add(ServerTimer)
	if got := pollCopy(e, expiry); len(got) != 0 {
		t.Errorf("Poll at the expiry sent %d", len(got))
	}
	st := e.Stats().Servers[0]
	if st.Armed || st.Outstanding != 1 || st.Pending != 98 || st.DroppedAtExpiry != 31 || st.Expiries != 1 {
		t.Fatalf("after expiry: armed %v, %d outstanding, %d pending, %d dropped, %d expiries; want false, 1, 98, 31, 1",
			st.Armed, st.Outstanding, st.Pending, st.DroppedAtExpiry, st.Expiries)
	}
	// The one kept goes on polling, no sooner than 10 s after the last
	// transmission to the server.
	next := e.NextDeadline()
	poll := pollCopy(e, next)
	if len(poll) != 1 || !poll[0].Retransmission || next.Sub(lastSend) < MinProbeInterval {
		t.Fatalf("after expiry, at %v (last send %v): %+v; want one retransmission >= 10 s after", next.Sub(t0), lastSend.Sub(t0), poll)
	}
	dropped := first[0]
	if dropped.XID == poll[0].XID {
		dropped = first[1]
	}
	// A dropped query is still wanted: its late answer (same xid) counts.
	late := next.Add(time.Second)
	e.HandleReply(late, srvA, answer(dropped, lq.LeaseActive))
	res := e.Results()
	if len(res) != 1 || res[0].Key.IP != dropped.Query.IP || res[0].Type != lq.LeaseActive {
		t.Fatalf("results after a late answer to a dropped query: %+v", res)
	}
	if st := e.Stats().Servers[0]; !st.Armed || st.UnknownXID != 0 {
		t.Errorf("after the late answer: armed %v, unknown xids %d; want armed, 0", st.Armed, st.UnknownXID)
	}
}

// TestSilentServerProbing checks RFC 4388 §6.7 for a server that never
// answers while demand lasts: one query outstanding at a time, gaps between
// queries of at least 10 s and at most 70 s, settling at about 64 s.
func TestSilentServerProbing(t *testing.T) {
	e := newTestEngine(t, nil)
	submitN(t, e, t0, 50)
	next := 51
	var sends []time.Time
	now := t0
	for now.Before(t0.Add(time.Hour)) {
		for range e.Poll(now) {
			sends = append(sends, now)
		}
		if out := e.Stats().Servers[0].Outstanding; out > 1 {
			t.Fatalf("at %v: %d outstanding at an expired server", now.Sub(t0), out)
		}
		for _, r := range e.Results() { // keep the demand up
			if r.Err == nil {
				t.Fatalf("result from a silent server: %+v", r)
			}
			mustSubmit(t, e, now, lq.Query{Kind: lq.ByIP, IP: nthIP(next)})
			next++
		}
		now = latest(now, e.NextDeadline())
	}
	var gaps []time.Duration
	for i := 1; i < len(sends); i++ {
		gaps = append(gaps, sends[i].Sub(sends[i-1]))
	}
	if len(gaps) < 50 {
		t.Fatalf("only %d queries in an hour of demand", len(sends))
	}
	for i, g := range gaps {
		if g < MinProbeInterval || g > 70*time.Second {
			t.Errorf("gap %d: %v outside 10s..70s", i, g)
		}
		if i >= 4 && (g < 63*time.Second || g > 65*time.Second) {
			t.Errorf("gap %d: %v, want about 64 s once the backoff saturates", i, g)
		}
	}
	if gaps[0] != 10*time.Second || gaps[1] != 10*time.Second {
		t.Errorf("first gaps %v %v: RFC 2131's 4 s and 8 s, raised to the 10 s floor", gaps[0], gaps[1])
	}
	if st := e.Stats(); st.Timeouts == 0 || st.NoAnswer == 0 {
		t.Errorf("timeouts %d, no-answer results %d: queued queries must give up after a probe cycle", st.Timeouts, st.NoAnswer)
	}
}
