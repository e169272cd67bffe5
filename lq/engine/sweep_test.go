package engine

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

// byLastOctet answers ACTIVE, UNASSIGNED or UNKNOWN by the address's last
// octet modulo 3, and loses every 33rd query (3 %).
func byLastOctet(n int, _ netip.Addr, q lq.Query) (lq.MessageType, bool) {
	types := [...]lq.MessageType{lq.LeaseActive, lq.LeaseUnassigned, lq.LeaseUnknown}
	return types[q.IP.As4()[3]%3], n%33 != 0
}

func TestSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeServers{Delay: time.Millisecond, Reply: byLastOctet}
		var mu sync.Mutex
		decided := 0
		r, stop := startRunner(t, func(c *Config) { c.MaxPending = 64 }, f, func(Result) {
			mu.Lock()
			defer mu.Unlock()
			decided++
		})
		defer stop()
		// Warm the cache with one address: the sweep must count it as cached.
		if _, err := r.Query(t.Context(), ipQuery("10.0.1.1")); err != nil {
			t.Fatal(err)
		}
		var reports []SweepProgress
		seen := map[netip.Addr]bool{}
		got, err := r.Sweep(t.Context(), netip.MustParsePrefix("10.0.0.0/22"), func(res Result) {
			if seen[res.Key.IP] {
				t.Errorf("two results for %v", res.Key.IP)
			}
			seen[res.Key.IP] = true
		}, func(p SweepProgress) { reports = append(reports, p) })
		if err != nil {
			t.Fatal(err)
		}
		want := SweepProgress{Total: 1022, Submitted: 1022, Done: 1022, Cached: 1, Failed: 0}
		for i := 1; i <= 1022; i++ {
			switch i % 256 % 3 {
			case 0:
				want.Active++
			case 1:
				want.Unassigned++
			default:
				want.Unknown++
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("sweep (-want +got):\n%s", diff)
		}
		if len(seen) != 1022 || seen[netip.MustParseAddr("10.0.0.0")] || seen[netip.MustParseAddr("10.0.3.255")] {
			t.Errorf("%d addresses seen; network and broadcast must be skipped", len(seen))
		}
		if len(reports) < 100 || reports[len(reports)-1] != got {
			t.Errorf("%d progress reports, last %+v", len(reports), reports[len(reports)-1])
		}
		for i := 1; i < len(reports); i++ {
			if reports[i].Done < reports[i-1].Done {
				t.Fatalf("progress went backwards: %+v then %+v", reports[i-1], reports[i])
			}
		}
		mu.Lock()
		if decided != 1022 { // the warming query and 1021 asked by the sweep
			t.Errorf("OnResult saw %d results, want 1022", decided)
		}
		mu.Unlock()
		if st := r.Stats(); st.Retransmitted == 0 || st.Live != 0 || st.Waiters != 0 {
			t.Errorf("after the sweep: %d retransmissions, %d live, %d waiters", st.Retransmitted, st.Live, st.Waiters)
		}
	})
}

func TestSweepRestricted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeServers{Delay: time.Millisecond}
		r, stop := startRunner(t, func(c *Config) {
			c.SubscriberPrefixes = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/25")}
		}, f, nil)
		defer stop()
		got, err := r.Sweep(t.Context(), netip.MustParsePrefix("10.0.0.0/24"), nil, nil)
		want := SweepProgress{Total: 254, Submitted: 127, Done: 127, Active: 127, Restricted: 127}
		if err != nil || got != want {
			t.Errorf("sweep: %+v, %v; want %+v", got, err, want)
		}
		if f.count() != 127 {
			t.Errorf("%d queries sent, want 127", f.count())
		}
	})
}

// TestSweepWaitsForRoom: with the engine full of other callers' queries
// the sweep waits for room instead of skipping addresses.
func TestSweepWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeServers{Delay: time.Second}
		r, stop := startRunner(t, func(c *Config) { c.MaxPending = 2 }, f, nil)
		defer stop()
		var wg sync.WaitGroup
		for _, ip := range []string{"10.0.9.1", "10.0.9.2"} {
			wg.Go(func() { r.Query(t.Context(), ipQuery(ip)) })
		}
		synctest.Wait() // both queued: the engine is full
		start := time.Now()
		got, err := r.Sweep(t.Context(), netip.MustParsePrefix("10.0.0.0/29"), nil, nil)
		if err != nil || got.Done != 6 || got.Active != 6 {
			t.Errorf("sweep: %+v, %v", got, err)
		}
		if took := time.Since(start); took < time.Second {
			t.Errorf("sweep done in %v, before the others' answers freed room", took)
		}
		wg.Wait()
	})
}

func TestSweepCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeServers{Reply: func(int, netip.Addr, lq.Query) (lq.MessageType, bool) { return 0, false }}
		r, stop := startRunner(t, nil, f, nil)
		defer stop()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		got, err := r.Sweep(ctx, netip.MustParsePrefix("10.0.0.0/28"), nil, nil)
		if err != context.DeadlineExceeded || got.Done != 0 || got.Submitted != 14 {
			t.Errorf("sweep of a silent server: %+v, %v", got, err)
		}
	})
}

func TestSweepRange(t *testing.T) {
	for _, tc := range []struct {
		prefix      string
		first, last string
	}{
		{"10.0.0.0/24", "10.0.0.1", "10.0.0.254"},
		{"10.0.0.4/30", "10.0.0.5", "10.0.0.6"},
		{"10.0.0.4/31", "10.0.0.4", "10.0.0.5"},
		{"255.255.255.255/32", "255.255.255.255", "255.255.255.255"},
	} {
		f, l := sweepRange(netip.MustParsePrefix(tc.prefix))
		if addrFrom(f).String() != tc.first || addrFrom(l).String() != tc.last {
			t.Errorf("sweepRange(%s) = %v..%v, want %s..%s", tc.prefix, addrFrom(f), addrFrom(l), tc.first, tc.last)
		}
	}
}
