package engine

import (
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// BenchmarkQueryCycle is one query's whole life in the engine: Submit,
// Poll (transmit), HandleReply (ACTIVE), Results, with the answer cached.
// Addresses cycle through a /8 so no cache hit short-cuts it.
func BenchmarkQueryCycle(b *testing.B) {
	for _, servers := range []int{1, 2} {
		b.Run(map[int]string{1: "one-server", 2: "two-servers"}[servers], func(b *testing.B) {
			cfg := Config{
				Servers:            []netip.Addr{srvA, srvB}[:servers],
				SubscriberPrefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			}
			e, err := New(cfg, seeded(1))
			if err != nil {
				b.Fatal(err)
			}
			armBench(b, e)
			now := t0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				now = now.Add(time.Microsecond)
				ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
				if _, err := e.Submit(now, lq.Query{Kind: lq.ByIP, IP: ip}); err != nil {
					b.Fatal(err)
				}
				for _, tx := range e.Poll(now) {
					e.HandleReply(now, tx.Server, answer(tx, lq.LeaseActive))
				}
				if n := len(e.Results()); n != 1 {
					b.Fatalf("%d results", n)
				}
			}
		})
	}
}

// armBench starts every server's timer.
func armBench(b *testing.B, e *Engine) {
	if _, err := e.Submit(t0, ipQuery("10.255.255.254")); err != nil {
		b.Fatal(err)
	}
	for _, tx := range e.Poll(t0) {
		e.HandleReply(t0, tx.Server, answer(tx, lq.LeaseUnknown))
	}
	e.Results()
}

// BenchmarkCacheMemory measures the heap each decided query leaves behind
// (cache entry, owner memory) with real dhcpd answers: each iteration
// decides 65,536 queries by IP from ParseReply of a captured
// DHCPLEASEACTIVE (or UNASSIGNED) with option 82, and reports bytes per
// query.
func BenchmarkCacheMemory(b *testing.B) {
	for _, name := range []string{"active_by_ip", "unassigned_free_pool"} {
		b.Run(name, func(b *testing.B) {
			wire, err := os.ReadFile(filepath.Join("..", "testdata", "dhcpd", name+".bin"))
			if err != nil {
				b.Skipf("codec golden reply: %v", err)
			}
			const n = 1 << 16
			for range b.N {
				e, err := New(Config{
					Servers:            []netip.Addr{srvA},
					SubscriberPrefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
					MaxPending:         n, MaxCacheEntries: n,
				}, seeded(1))
				if err != nil {
					b.Fatal(err)
				}
				armBench(b, e)
				before := heapInUse()
				for i := range n {
					ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
					if _, err := e.Submit(t0, lq.Query{Kind: lq.ByIP, IP: ip}); err != nil {
						b.Fatal(err)
					}
					for _, tx := range e.Poll(t0) {
						r, err := lq.ParseReply(wire)
						if err != nil {
							b.Fatal(err)
						}
						r.XID, r.CIAddr = tx.XID, ip
						e.HandleReply(t0, tx.Server, r)
					}
					e.Results()
				}
				b.ReportMetric(float64(heapInUse()-before)/n, "B/query")
				runtime.KeepAlive(e)
			}
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
