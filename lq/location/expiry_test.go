package location

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestExpireOrder(t *testing.T) {
	tb := New(Config{})
	if got := tb.NextExpiry(); !got.IsZero() {
		t.Errorf("NextExpiry of an empty table: %v, want zero", got)
	}
	// Address i expires at these seconds after t0; 3 and 1 tie.
	expiries := map[int]int{1: 300, 2: 100, 3: 300, 4: 200, 5: 900, 6: 50}
	for i, e := range expiries {
		b := sample(i)
		b.Expiry = at(e)
		mustUpsert(t, tb, b, t0)
	}
	renewed := sample(6) // renewed before its expiry: now after 5
	renewed.Expiry = at(1000)
	mustUpsert(t, tb, renewed, at(40))

	steps := []struct {
		now      int
		want     []netip.Addr
		wantNext time.Time
	}{
		{99, nil, at(100)},
		{100, []netip.Addr{ipN(2)}, at(200)},
		{400, []netip.Addr{ipN(4), ipN(1), ipN(3)}, at(900)},
		{1000, []netip.Addr{ipN(5), ipN(6)}, time.Time{}},
	}
	for _, s := range steps {
		evs := tb.Expire(at(s.now))
		var got []netip.Addr
		for _, e := range evs {
			if e.Kind != Removed || e.Reason != Expired || !e.Time.Equal(at(s.now)) {
				t.Errorf("Expire(%d): event %v %v at %v, want removed/expired at now", s.now, e.Kind, e.Reason, e.Time)
			}
			got = append(got, e.Old.IP)
		}
		if diff := cmp.Diff(s.want, got, cmpOpts...); diff != "" {
			t.Errorf("Expire(t0+%d) (-want +got):\n%s", s.now, diff)
		}
		if next := tb.NextExpiry(); !next.Equal(s.wantNext) {
			t.Errorf("after Expire(t0+%d): NextExpiry %v, want %v", s.now, next, s.wantNext)
		}
	}
	if tb.Len() != 0 {
		t.Errorf("%d bindings left after every expiry", tb.Len())
	}
}

// TestExpireHeapInvariant churns the heap (inserts, renewals both ways,
// removals) and checks that expiry always pops in (expiry, IP) order.
func TestExpireHeapInvariant(t *testing.T) {
	tb := New(Config{})
	const n = 500
	exp := func(i, round int) int { return 100 + (i*7919+round*104729)%1000 }
	for round := range 3 {
		for i := range n {
			b := sample(i)
			b.Expiry = at(exp(i, round))
			mustUpsert(t, tb, b, t0)
		}
		for i := 0; i < n; i += 7 {
			tb.Remove(Removal{IP: ipN(i), Reason: Cleared}, t0)
		}
	}
	evs := tb.Expire(at(5000))
	if len(evs) != n-(n+6)/7 {
		t.Fatalf("expired %d bindings, want %d", len(evs), n-(n+6)/7)
	}
	for i := 1; i < len(evs); i++ {
		a, b := evs[i-1].Old, evs[i].Old
		if a.Expiry.After(b.Expiry) || a.Expiry.Equal(b.Expiry) && a.IP.Compare(b.IP) > 0 {
			t.Fatalf("expiry order broken at %d: %v@%v before %v@%v", i, a.IP, a.Expiry, b.IP, b.Expiry)
		}
	}
}

func TestExpiryEarlier(t *testing.T) {
	tb := New(Config{})
	earlier := func() bool {
		select {
		case <-tb.ExpiryEarlier():
			return true
		default:
			return false
		}
	}
	steps := []struct {
		name   string
		expiry int
		ip     int
		want   bool
	}{
		{"first binding", 600, 1, true},
		{"later binding", 900, 2, false},
		{"earlier binding", 300, 3, true},
		{"renewal moving the head earlier", 100, 3, true},
		{"renewal of a later one", 1200, 2, false},
	}
	for _, s := range steps {
		b := sample(s.ip)
		b.Expiry = at(s.expiry)
		mustUpsert(t, tb, b, t0)
		if got := earlier(); got != s.want {
			t.Errorf("%s: ExpiryEarlier received %v, want %v", s.name, got, s.want)
		}
	}
	if got := tb.NextExpiry(); !got.Equal(at(100)) {
		t.Errorf("NextExpiry %v, want %v", got, at(100))
	}
}
