package agent

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
)

// fakeLQServers answers every leasequery UNASSIGNED through the client
// after a millisecond, unless silent (the query stays in flight).
type fakeLQServers struct {
	c      *LeasequeryClient
	silent bool
	mu     sync.Mutex
	sent   []netip.Addr
}

func (f *fakeLQServers) Send(server netip.Addr, q lq.Query, xid uint32) error {
	f.mu.Lock()
	f.sent = append(f.sent, server)
	f.mu.Unlock()
	if !f.silent {
		time.AfterFunc(time.Millisecond, func() {
			f.c.HandleReply(server, lq.Reply{Type: lq.LeaseUnassigned, XID: xid, ServerID: server, CIAddr: q.IP})
		})
	}
	return nil
}

func (f *fakeLQServers) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

func testRunner(t *testing.T, server string, tr engine.Transport) *engine.Runner {
	t.Helper()
	eng, err := engine.New(engine.Config{Servers: []netip.Addr{netip.MustParseAddr(server)},
		SubscriberPrefixes: []netip.Prefix{netip.MustParsePrefix("192.168.10.0/24")}}, func() float64 { return 0.5 })
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.NewRunner(eng, engine.RunnerConfig{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func byIP(ip string) lq.Query { return lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr(ip)} }

// TestLeasequeryClientReplace: a query in flight on a runner that an
// apply replaces is restarted on the new runner and answered there; the
// counters of both runners add up; an undone replacement brings the old
// runner back.
func TestLeasequeryClientReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old := &fakeLQServers{silent: true}
		c := newLeasequeryClient(testRunner(t, "10.0.0.1", old))
		old.c = c
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		<-c.Ready()

		type answer struct {
			res engine.Result
			err error
		}
		got := make(chan answer, 1)
		go func() {
			res, err := c.Query(ctx, byIP("192.168.10.7"))
			got <- answer{res, err}
		}()
		synctest.Wait()
		if old.count() != 1 {
			t.Fatalf("%d queries sent to the old server, want 1 in flight", old.count())
		}

		next := &fakeLQServers{c: c}
		prev, err := c.replace(ctx, testRunner(t, "10.0.0.3", next))
		if err != nil {
			t.Fatal(err)
		}
		c.retire(prev) // the apply commits
		a := <-got
		if a.err != nil || a.res.Server != netip.MustParseAddr("10.0.0.3") || a.res.Type != lq.LeaseUnassigned {
			t.Fatalf("query in flight during the replacement: %+v, %v; want UNASSIGNED from 10.0.0.3", a.res, a.err)
		}
		if c.Restarted() != 1 {
			t.Errorf("Restarted %d, want 1", c.Restarted())
		}
		st := c.Stats()
		if st.Sent != 2 || len(st.Servers) != 1 || st.Servers[0].Server != netip.MustParseAddr("10.0.0.3") || st.Servers[0].Sent != 1 {
			t.Errorf("stats after the replacement: sent %d, servers %+v; want 2 sent in all, server 10.0.0.3 with 1", st.Sent, st.Servers)
		}

		// A replacement undone: the runner it replaced is current again.
		third := &fakeLQServers{c: c}
		prev, err = c.replace(ctx, testRunner(t, "10.0.0.9", third))
		if err != nil {
			t.Fatal(err)
		}
		c.restore(prev)
		if res, err := c.Query(ctx, byIP("192.168.10.8")); err != nil || res.Server != netip.MustParseAddr("10.0.0.3") {
			t.Errorf("after restore: %+v, %v; want an answer from 10.0.0.3", res, err)
		}
		if third.count() != 0 {
			t.Errorf("the undone runner sent %d queries", third.count())
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestLeasequeryClientReplaceBeforeRun(t *testing.T) {
	c := newLeasequeryClient(testRunner(t, "10.0.0.1", &fakeLQServers{}))
	if _, err := c.replace(t.Context(), testRunner(t, "10.0.0.3", &fakeLQServers{})); err != errNotRunning {
		t.Errorf("replace before Run: %v, want %v", err, errNotRunning)
	}
}
