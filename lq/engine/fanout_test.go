package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/leaseguard/leaseguard/lq"
)

func twoServers(t *testing.T) *Engine {
	return newTestEngine(t, func(c *Config) { c.Servers = []netip.Addr{srvA, srvB} })
}

// txTo returns the one transmit to s among txs.
func txTo(t *testing.T, txs []Transmit, s netip.Addr) Transmit {
	t.Helper()
	got := only(txs, s)
	if len(got) != 1 {
		t.Fatalf("transmits to %v: %+v, want one", s, got)
	}
	return got[0]
}

// armBoth has both servers answer a first query (UNKNOWN) and drains it.
func armBoth(t *testing.T, e *Engine, now time.Time) {
	t.Helper()
	mustSubmit(t, e, now, ipQuery("10.0.255.1"))
	txs := pollCopy(e, now)
	e.HandleReply(now, srvA, answer(txTo(t, txs, srvA), lq.LeaseUnknown))
	e.HandleReply(now, srvB, answer(txTo(t, txs, srvB), lq.LeaseUnknown))
	if res := e.Results(); len(res) != 1 {
		t.Fatalf("arming query: %d results", len(res))
	}
}

var cmpResult = cmp.Options{
	cmp.Comparer(addrEqual),
	cmpopts.IgnoreFields(Result{}, "Binding", "Query"),
	cmpopts.IgnoreFields(ServerAnswer{}, "Binding", "RTT"),
	cmpopts.EquateErrors(),
}

func TestFanOutThenOwnerFirst(t *testing.T) {
	e := twoServers(t)
	q := ipQuery("10.0.0.9")
	key, _ := KeyOf(q)
	mustSubmit(t, e, t0, q)
	txs := pollCopy(e, t0)
	at := t0.Add(time.Millisecond)
	e.HandleReply(at, srvB, answer(txTo(t, txs, srvB), lq.LeaseUnknown))
	if res := e.Results(); len(res) != 0 {
		t.Fatalf("result before the other server answered: %+v", res)
	}
	e.HandleReply(at, srvA, answer(txTo(t, txs, srvA), lq.LeaseActive))
	want := []Result{{
		Key: key, Type: lq.LeaseActive, Server: srvA, At: at,
		Answers: []ServerAnswer{
			{Server: srvA, Outcome: Answered, Type: lq.LeaseActive, Transmissions: 1},
			{Server: srvB, Outcome: Answered, Type: lq.LeaseUnknown, Transmissions: 1},
		},
	}}
	if diff := cmp.Diff(want, e.Results(), cmpResult); diff != "" {
		t.Fatalf("fanned-out result (-want +got):\n%s", diff)
	}

	// Asked again (the cache cleared), only the owner is asked.
	e.NoteLease(q.IP)
	mustSubmit(t, e, at, q)
	txs = pollCopy(e, at)
	owner := txTo(t, txs, srvA)
	if len(txs) != 1 {
		t.Fatalf("second query sent %+v, want only the owner", txs)
	}
	// The owner no longer knows: everyone is asked.
	e.HandleReply(at, srvA, answer(owner, lq.LeaseUnknown))
	txs = pollCopy(e, at)
	e.HandleReply(at, srvB, answer(txTo(t, txs, srvB), lq.LeaseActive))
	if res := e.Results(); len(res) != 1 || res[0].Server != srvB {
		t.Fatalf("after the fallback: %+v, want ACTIVE from %v", res, srvB)
	}
	if st := e.Stats(); st.Fallbacks != 1 {
		t.Errorf("fallbacks %d, want 1", st.Fallbacks)
	}
	e.NoteLease(q.IP)
	mustSubmit(t, e, at, q)
	if txs := pollCopy(e, at); len(txs) != 1 || txs[0].Server != srvB {
		t.Errorf("third query sent %+v, want only the new owner %v", txs, srvB)
	}
}

// TestOwnerByClient: an ACTIVE for an address also tells which server
// knows its client's MAC address.
func TestOwnerByClient(t *testing.T) {
	e := twoServers(t)
	armBoth(t, e, t0)
	mustSubmit(t, e, t0, ipQuery("10.0.0.9"))
	txs := pollCopy(e, t0)
	ack := answer(txTo(t, txs, srvB), lq.LeaseActive)
	e.HandleReply(t0, srvB, ack)
	e.HandleReply(t0, srvA, answer(txTo(t, txs, srvA), lq.LeaseUnknown))
	e.Results()
	mustSubmit(t, e, t0, lq.Query{Kind: lq.ByMAC, HType: ack.HType, HWAddr: ack.HWAddr})
	if txs := pollCopy(e, t0); len(txs) != 1 || txs[0].Server != srvB {
		t.Errorf("MAC query sent %+v, want only %v", txs, srvB)
	}
}

// TestDeadServerNotHostage: a server whose timer never ran does not delay
// a result another server answered ACTIVE; its later, better answer comes
// as an update.
func TestDeadServerNotHostage(t *testing.T) {
	e := twoServers(t)
	q0, q1 := ipQuery("10.0.0.1"), ipQuery("10.0.0.2")
	mustSubmit(t, e, t0, q0)
	mustSubmit(t, e, t0, q1)
	txs := pollCopy(e, t0)       // each server's probe: q0
	probeB := txTo(t, txs, srvB) // B stays silent for now
	e.HandleReply(t0, srvA, active(txTo(t, txs, srvA), time.Minute))
	res := resultsCopy(e)
	if len(res) != 1 || res[0].Server != srvA || res[0].Answers[1].Outcome != Waiting {
		t.Fatalf("q0 results %+v; want ACTIVE from %v with %v waiting", res, srvA, srvB)
	}
	e.HandleReply(t0, srvA, active(txTo(t, pollCopy(e, t0), srvA), time.Minute))
	res = resultsCopy(e)
	if len(res) != 1 || res[0].Key.IP != q1.IP || res[0].Answers[1].Outcome != Abandoned {
		t.Fatalf("q1 results %+v; want ACTIVE with %v abandoned", res, srvB)
	}
	// B answers q0 late with a more recent client transaction.
	late := t0.Add(5 * time.Second)
	e.HandleReply(late, srvB, active(probeB, 10*time.Second))
	want := []Result{{
		Key: res[0].Key, Type: lq.LeaseActive, Server: srvB, Update: true, At: late,
		Answers: []ServerAnswer{
			{Server: srvA, Outcome: Answered, Type: lq.LeaseActive, Transmissions: 1},
			{Server: srvB, Outcome: Answered, Type: lq.LeaseActive, Transmissions: 1},
		},
	}}
	want[0].Key, _ = KeyOf(q0)
	if diff := cmp.Diff(want, e.Results(), cmpResult); diff != "" {
		t.Errorf("update (-want +got):\n%s", diff)
	}
	tk := mustSubmit(t, e, late, q0)
	if !tk.Cached || tk.Result.Server != srvB {
		t.Errorf("cache after the update: %+v, want B's answer", tk)
	}
	if st := e.Stats(); st.Updates != 1 || st.Live != 0 {
		t.Errorf("updates %d, live %d; want 1, 0", st.Updates, st.Live)
	}
}

// TestLiveServersAwaited: with both timers running, the result waits for
// both and takes the most recent client transaction (RFC 4388 §6.8).
func TestLiveServersAwaited(t *testing.T) {
	e := twoServers(t)
	armBoth(t, e, t0)
	mustSubmit(t, e, t0, ipQuery("10.0.0.9"))
	txs := pollCopy(e, t0)
	e.HandleReply(t0.Add(time.Millisecond), srvA, active(txTo(t, txs, srvA), 100*time.Second))
	if res := e.Results(); len(res) != 0 {
		t.Fatalf("result before every live server answered: %+v", res)
	}
	e.HandleReply(t0.Add(2*time.Millisecond), srvB, active(txTo(t, txs, srvB), 5*time.Second))
	res := e.Results()
	if len(res) != 1 || res[0].Server != srvB {
		t.Fatalf("results %+v, want B's (5 s ago beats 100 s ago)", res)
	}
	if got, want := res[0].Binding.LastTransaction, t0.Add(2*time.Millisecond-5*time.Second); !got.Equal(want) {
		t.Errorf("LastTransaction %v, want %v (receipt minus option 91)", got, want)
	}
}

// TestExpiredAwaitedWithoutGoodAnswer: when live servers only say UNKNOWN,
// a server with an expired timer is waited for, until it answers or its
// probe gives up.
func TestExpiredAwaitedWithoutGoodAnswer(t *testing.T) {
	e := twoServers(t)
	mustSubmit(t, e, t0, ipQuery("10.0.0.1"))
	txs := pollCopy(e, t0)
	e.HandleReply(t0, srvA, answer(txTo(t, txs, srvA), lq.LeaseUnknown))
	var res []Result
	now := t0
	for len(res) == 0 && now.Before(t0.Add(time.Hour)) {
		now = e.NextDeadline()
		e.Poll(now)
		res = resultsCopy(e)
	}
	if len(res) != 1 || now.Sub(t0) < 2*time.Minute || res[0].Type != lq.LeaseUnknown {
		t.Fatalf("at +%v: %+v; want UNKNOWN after B's probe cycle", now.Sub(t0), res)
	}
	if got := res[0].Answers[1]; got.Outcome != TimedOut || got.Transmissions != 5 {
		t.Errorf("B's part %+v, want timed out after 5 transmissions", got)
	}
}

func TestTieKeepsFirst(t *testing.T) {
	e := twoServers(t)
	armBoth(t, e, t0)
	mustSubmit(t, e, t0, ipQuery("10.0.0.9"))
	txs := pollCopy(e, t0)
	// Same transaction reported 0.4 s apart in receipt: below option 91's
	// one-second resolution, a tie; B answered first.
	e.HandleReply(t0.Add(100*time.Millisecond), srvB, active(txTo(t, txs, srvB), 30*time.Second))
	e.HandleReply(t0.Add(500*time.Millisecond), srvA, active(txTo(t, txs, srvA), 30*time.Second))
	if res := e.Results(); len(res) != 1 || res[0].Server != srvB {
		t.Errorf("results %+v, want the first answer (B)", res)
	}
}

func TestBetter(t *testing.T) {
	at := t0
	lt := func(ago time.Duration) *lq.Binding { return &lq.Binding{LastTransaction: at.Add(-ago)} }
	none := &lq.Binding{}
	for _, tc := range []struct {
		name   string
		at     lq.MessageType
		a      *lq.Binding
		bt     lq.MessageType
		b      *lq.Binding
		better bool
	}{
		{"active beats unassigned", lq.LeaseActive, none, lq.LeaseUnassigned, none, true},
		{"unassigned beats unknown", lq.LeaseUnassigned, none, lq.LeaseUnknown, none, true},
		{"unknown beats nothing", lq.LeaseUnknown, none, 0, none, true},
		{"unknown loses to active", lq.LeaseUnknown, none, lq.LeaseActive, lt(time.Hour), false},
		{"newer transaction wins", lq.LeaseActive, lt(10 * time.Second), lq.LeaseActive, lt(100 * time.Second), true},
		{"older transaction loses", lq.LeaseActive, lt(100 * time.Second), lq.LeaseActive, lt(10 * time.Second), false},
		{"one second newer wins", lq.LeaseActive, lt(9 * time.Second), lq.LeaseActive, lt(10 * time.Second), true},
		{"under a second is a tie", lq.LeaseActive, lt(9500 * time.Millisecond), lq.LeaseActive, lt(10 * time.Second), false},
		{"equal is a tie", lq.LeaseActive, lt(10 * time.Second), lq.LeaseActive, lt(10 * time.Second), false},
		{"option 91 beats none", lq.LeaseActive, lt(time.Hour), lq.LeaseActive, none, true},
		{"none loses to option 91", lq.LeaseActive, none, lq.LeaseActive, lt(time.Hour), false},
		{"both without option 91 tie", lq.LeaseActive, none, lq.LeaseActive, none, false},
		{"unassigneds tie", lq.LeaseUnassigned, lt(time.Second), lq.LeaseUnassigned, lt(time.Hour), false},
	} {
		if got := better(tc.at, tc.a, tc.bt, tc.b); got != tc.better {
			t.Errorf("%s: better = %v", tc.name, got)
		}
	}
}

// Two servers neither of which has answered yet hold conflicting ACTIVE
// leases. A plain query settles on the first ACTIVE (a silent server must
// not hold it hostage) and delivers the newer one as an Update; the
// operator's fresh query waits for both and reports the newer (RFC 4388
// §6.8) as its one result.
func TestConflictBetweenUnprovenServers(t *testing.T) {
	q := ipQuery("10.0.0.20")
	older, newer := 30*time.Minute, time.Minute

	t.Run("submit", func(t *testing.T) {
		e := twoServers(t)
		mustSubmit(t, e, t0, q)
		txs := pollCopy(e, t0)
		e.HandleReply(t0, srvA, active(txTo(t, txs, srvA), older))
		res := resultsCopy(e)
		if len(res) != 1 || res[0].Server != srvA || res[0].Update {
			t.Fatalf("first result %+v, want srvA's ACTIVE at once", res)
		}
		e.HandleReply(t0, srvB, active(txTo(t, txs, srvB), newer))
		res = resultsCopy(e)
		if len(res) != 1 || res[0].Server != srvB || !res[0].Update {
			t.Fatalf("second result %+v, want an Update naming srvB", res)
		}
	})
	t.Run("fresh", func(t *testing.T) {
		e := twoServers(t)
		if _, err := e.SubmitFresh(t0, q); err != nil {
			t.Fatal(err)
		}
		txs := pollCopy(e, t0)
		e.HandleReply(t0, srvA, active(txTo(t, txs, srvA), older))
		if res := e.Results(); len(res) != 0 {
			t.Fatalf("fresh query decided before every server answered: %+v", res)
		}
		e.HandleReply(t0, srvB, active(txTo(t, txs, srvB), newer))
		res := resultsCopy(e)
		if len(res) != 1 || res[0].Server != srvB || res[0].Update || len(res[0].Answers) != 2 {
			t.Fatalf("fresh result %+v, want one result won by srvB with both answers", res)
		}
	})
	t.Run("fresh with a silent server", func(t *testing.T) {
		e := twoServers(t)
		if _, err := e.SubmitFresh(t0, q); err != nil {
			t.Fatal(err)
		}
		txs := pollCopy(e, t0)
		e.HandleReply(t0, srvA, active(txTo(t, txs, srvA), older))
		// srvB never answers: the fresh query ends when its attempt times out.
		now := t0
		var res []Result
		for i := 0; i < 100 && len(res) == 0; i++ {
			now = e.NextDeadline()
			if now.IsZero() {
				t.Fatal("nothing scheduled while the fresh query waits for srvB")
			}
			pollCopy(e, now)
			res = resultsCopy(e)
		}
		if len(res) != 1 || res[0].Server != srvA || res[0].Answers[1].Outcome != TimedOut {
			t.Fatalf("result %+v, want srvA's answer with srvB timed out", res)
		}
		if now.Sub(t0) > 5*time.Minute {
			t.Errorf("fresh query with a silent server took %v", now.Sub(t0))
		}
	})
}
