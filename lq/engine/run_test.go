package engine

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// fakeServers is a Transport that answers like leasequery servers, through
// the Runner's HandleReply after Delay. Reply decides each answer (nil:
// ACTIVE to everything); ok false drops the query.
type fakeServers struct {
	r     *Runner
	Delay time.Duration
	Reply func(n int, server netip.Addr, q lq.Query) (typ lq.MessageType, ok bool)

	mu   sync.Mutex
	sent []Transmit
}

func (f *fakeServers) Send(server netip.Addr, q lq.Query, xid uint32) error {
	f.mu.Lock()
	f.sent = append(f.sent, Transmit{Server: server, XID: xid, Query: q})
	n := len(f.sent)
	f.mu.Unlock()
	typ, ok := lq.LeaseActive, true
	if f.Reply != nil {
		typ, ok = f.Reply(n, server, q)
	}
	if ok {
		tx := Transmit{Server: server, XID: xid, Query: q}
		time.AfterFunc(f.Delay, func() { f.r.HandleReply(server, answer(tx, typ)) })
	}
	return nil
}

func (f *fakeServers) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// startRunner runs a Runner over a test engine and fake servers inside
// the current synctest bubble; stop ends it and checks Run's result.
func startRunner(t *testing.T, edit func(*Config), f *fakeServers, onResult func(Result)) (r *Runner, stop func()) {
	t.Helper()
	e := newTestEngine(t, edit)
	r, err := NewRunner(e, RunnerConfig{Transport: f, OnResult: onResult})
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	<-r.Ready()
	return r, func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestRunnerQuery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeServers{Delay: 2 * time.Millisecond}
		r, stop := startRunner(t, nil, f, nil)
		defer stop()
		start := time.Now()
		res, err := r.Query(t.Context(), ipQuery("10.0.0.9"))
		if err != nil || res.Type != lq.LeaseActive || res.Server != srvA {
			t.Fatalf("Query: %+v, %v", res, err)
		}
		if took := time.Since(start); took != 2*time.Millisecond {
			t.Errorf("answered in %v, want the server's 2ms", took)
		}
		res, err = r.Query(t.Context(), ipQuery("10.0.0.9"))
		if err != nil || !res.Cached || f.count() != 1 {
			t.Errorf("second Query: %+v, %v after %d sends; want a cache hit", res, err, f.count())
		}
		if _, err := r.Query(t.Context(), ipQuery("192.168.0.1")); !errors.Is(err, ErrRestricted) {
			t.Errorf("restricted Query: %v", err)
		}
	})
}

func TestRunnerRetransmits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeServers{Delay: time.Millisecond, Reply: func(n int, _ netip.Addr, _ lq.Query) (lq.MessageType, bool) {
			return lq.LeaseUnassigned, n != 1 && n != 3 // each query's first transmission is lost
		}}
		r, stop := startRunner(t, nil, f, nil)
		defer stop()
		for _, tc := range []struct {
			ip       string
			min, max time.Duration
		}{
			{"10.0.0.9", 10 * time.Second, 10 * time.Second}, // timer expired: the 10 s floor
			{"10.0.0.10", 3 * time.Second, 5 * time.Second},  // timer running: 4 s ±1 s
		} {
			start := time.Now()
			res, err := r.Query(t.Context(), ipQuery(tc.ip))
			if err != nil || res.Answers[0].Transmissions != 2 {
				t.Fatalf("Query(%s): %+v, %v", tc.ip, res, err)
			}
			took := time.Since(start) - time.Millisecond
			if took < tc.min || took > tc.max {
				t.Errorf("Query(%s) answered after %v, want the retransmission in %v..%v", tc.ip, took, tc.min, tc.max)
			}
		}
	})
}

func TestRunnerQueryGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeServers{Reply: func(int, netip.Addr, lq.Query) (lq.MessageType, bool) { return 0, false }}
		r, stop := startRunner(t, nil, f, nil)
		defer stop()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := r.Query(ctx, ipQuery("10.0.0.9")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Query to a silent server: %v", err)
		}
		if st := r.Stats(); st.Waiters != 0 {
			t.Errorf("%d waiters left after the caller gave up", st.Waiters)
		}
		// Without a deadline, the engine gives up after the probe cycle.
		res, err := r.Query(t.Context(), ipQuery("10.0.0.10"))
		if !errors.Is(err, ErrNoAnswer) || res.Answers[0].Outcome != TimedOut {
			t.Errorf("Query without deadline: %+v, %v", res, err)
		}
	})
}

func TestRunnerConcurrentQueries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeServers{Delay: 5 * time.Millisecond, Reply: func(_ int, s netip.Addr, _ lq.Query) (lq.MessageType, bool) {
			if s == srvB {
				return lq.LeaseUnknown, true
			}
			return lq.LeaseActive, true
		}}
		var mu sync.Mutex
		var seen []Result
		r, stop := startRunner(t, func(c *Config) { c.Servers = []netip.Addr{srvA, srvB} }, f, func(res Result) {
			mu.Lock()
			seen = append(seen, res)
			mu.Unlock()
		})
		defer stop()
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() {
				ip := nthIP(i%20 + 1)
				res, err := r.Query(t.Context(), lq.Query{Kind: lq.ByIP, IP: ip})
				if err != nil || res.Type != lq.LeaseActive || res.Key.IP != ip || res.Server != srvA {
					t.Errorf("Query(%v): %+v, %v", ip, res, err)
				}
			})
		}
		wg.Wait()
		st := r.Stats()
		mu.Lock()
		defer mu.Unlock()
		if st.Sent > 40 || st.Merged+st.CacheHits != 40 || len(seen) != 20 {
			t.Errorf("%d sent, %d merged, %d cache hits, %d results; want <= 40 sent and 20 results for 20 addresses",
				st.Sent, st.Merged, st.CacheHits, len(seen))
		}
	})
}

func TestRunnerStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeServers{Reply: func(int, netip.Addr, lq.Query) (lq.MessageType, bool) { return 0, false }}
		r, stop := startRunner(t, nil, f, nil)
		errc := make(chan error, 1)
		go func() {
			_, err := r.Query(t.Context(), ipQuery("10.0.0.9"))
			errc <- err
		}()
		synctest.Wait()
		stop()
		if err := <-errc; !errors.Is(err, ErrStopped) {
			t.Errorf("Query when Run stops: %v", err)
		}
	})
}
