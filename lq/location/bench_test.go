package location

import (
	"container/heap"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// The benchmarks run the table side by side with naiveTable, the location
// table as one would first write it (a map of *Binding plus maps of
// address slices per MAC, client-id, port and modem, and a heap of expiry
// entries), on the same realistic content: see sample.

const benchN = 100_000

type naiveTable struct {
	mu                            sync.RWMutex
	byIP                          map[netip.Addr]*Binding
	byMAC, byCID, byPort, byModem map[string][]netip.Addr
	exp                           naiveHeap
}

type naiveExp struct {
	at time.Time
	ip netip.Addr
}

type naiveHeap []naiveExp

func (h naiveHeap) Len() int           { return len(h) }
func (h naiveHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h naiveHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *naiveHeap) Push(x any)        { *h = append(*h, x.(naiveExp)) }
func (h *naiveHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newNaive() *naiveTable {
	return &naiveTable{
		byIP: make(map[netip.Addr]*Binding), byMAC: make(map[string][]netip.Addr),
		byCID: make(map[string][]netip.Addr), byPort: make(map[string][]netip.Addr),
		byModem: make(map[string][]netip.Addr),
	}
}

func (n *naiveTable) indexes() [4]map[string][]netip.Addr {
	return [4]map[string][]netip.Addr{n.byMAC, n.byCID, n.byPort, n.byModem}
}

func naiveKeys(b *Binding) [4]string {
	return [4]string{string(b.HWAddr), string(b.ClientID), b.Port, string(b.Modem)}
}

func (n *naiveTable) upsert(b Binding, now time.Time) {
	b.LastTransaction = now
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.byIP[b.IP]; ok {
		n.unindex(old)
	}
	n.byIP[b.IP] = &b
	keys := naiveKeys(&b)
	for i, m := range n.indexes() {
		if keys[i] != "" {
			m[keys[i]] = append(m[keys[i]], b.IP)
		}
	}
	heap.Push(&n.exp, naiveExp{b.Expiry, b.IP})
}

func (n *naiveTable) unindex(b *Binding) {
	keys := naiveKeys(b)
	for i, m := range n.indexes() {
		if s := slices.DeleteFunc(m[keys[i]], func(a netip.Addr) bool { return a == b.IP }); len(s) > 0 {
			m[keys[i]] = s
		} else {
			delete(m, keys[i])
		}
	}
}

func (n *naiveTable) byIPLookup(ip netip.Addr) (Binding, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	b, ok := n.byIP[ip]
	if !ok {
		return Binding{}, false
	}
	return *b, true
}

// expire pops due heap entries, skipping those a renewal made stale.
func (n *naiveTable) expire(now time.Time) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	gone := 0
	for len(n.exp) > 0 && !n.exp[0].at.After(now) {
		e := heap.Pop(&n.exp).(naiveExp)
		if b, ok := n.byIP[e.ip]; ok && b.Expiry.Equal(e.at) {
			n.unindex(b)
			delete(n.byIP, e.ip)
			gone++
		}
	}
	return gone
}

func samples(n int) []Binding {
	bs := make([]Binding, n)
	for i := range bs {
		bs[i] = sample(i)
	}
	return bs
}

func filledTable(b *testing.B, bs []Binding) *Table {
	tb := New(Config{})
	for _, x := range bs {
		mustUpsert(b, tb, x, t0)
	}
	return tb
}

func filledNaive(bs []Binding) *naiveTable {
	n := newNaive()
	for _, x := range bs {
		n.upsert(x, t0)
	}
	return n
}

// BenchmarkUpsert renews bindings of a full table (a gleaned DHCPACK with a
// later expiry): the common write.
func BenchmarkUpsert(b *testing.B) {
	bs := samples(benchN)
	b.Run("table", func(b *testing.B) {
		tb := filledTable(b, bs)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			x := bs[i%benchN]
			x.Expiry = at(3600 + i)
			if _, err := tb.Upsert(x, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("naive", func(b *testing.B) {
		n := filledNaive(bs)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			x := bs[i%benchN]
			x.Expiry = at(3600 + i)
			n.upsert(x, t0)
		}
	})
}

func BenchmarkLookupByIP(b *testing.B) {
	bs := samples(benchN)
	b.Run("table", func(b *testing.B) {
		tb := filledTable(b, bs)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, ok := tb.ByIP(ipN(i % benchN)); !ok {
				b.Fatal("missing")
			}
		}
	})
	b.Run("naive", func(b *testing.B) {
		n := filledNaive(bs)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, ok := n.byIPLookup(ipN(i % benchN)); !ok {
				b.Fatal("missing")
			}
		}
	})
}

// BenchmarkExpire removes 10,000 bindings expiring one a second; ns/op is
// per binding.
func BenchmarkExpire(b *testing.B) {
	const n = 10_000
	bs := samples(n)
	for i := range bs {
		bs[i].Expiry = at(60 + i)
	}
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			tb := filledTable(b, bs)
			b.StartTimer()
			if got := len(tb.Expire(at(60 + n))); got != n {
				b.Fatalf("expired %d", got)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/binding")
	})
	b.Run("naive", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			nt := filledNaive(bs)
			b.StartTimer()
			if got := nt.expire(at(60 + n)); got != n {
				b.Fatalf("expired %d", got)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/binding")
	})
}

// heapBytes returns the live heap that build leaves behind, after GC.
func heapBytes(build func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(x)
	return after.HeapAlloc - before.HeapAlloc
}

// BenchmarkBytesPerBinding reports the heap held per binding with 100,000
// realistic bindings, all indexes included; "table+4subs" adds the event
// log that four subscribers (nft, forwarding, BPI, API) cause.
func BenchmarkBytesPerBinding(b *testing.B) {
	cases := []struct {
		name  string
		build func() any
	}{
		{"table", func() any { return filledTable(b, samples(benchN)) }},
		{"table+4subs", func() any {
			tb := New(Config{})
			for _, name := range []string{"nft", "forwarding", "bpi", "api"} {
				tb.Subscribe(name)
			}
			for _, x := range samples(benchN) {
				mustUpsert(b, tb, x, t0)
			}
			return tb
		}},
		{"naive", func() any { return filledNaive(samples(benchN)) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var total uint64
			for b.Loop() {
				total += heapBytes(c.build)
			}
			b.ReportMetric(float64(total)/float64(b.N)/benchN, "bytes/binding")
		})
	}
}

// BenchmarkConcurrent looks up by IP on every core while one writer renews
// bindings as fast as it can: run it once under -race.
func BenchmarkConcurrent(b *testing.B) {
	bs := samples(benchN / 10)
	tb := filledTable(b, bs)
	sub := tb.Subscribe("api")
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			x := bs[i%len(bs)]
			x.Expiry = at(3600 + i)
			tb.Upsert(x, t0)
			if i%64 == 0 {
				sub.Poll(0)
			}
		}
	})
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := tb.ByIP(ipN(i % len(bs))); !ok {
				b.Error("missing")
			}
			i++
		}
	})
	close(done)
	wg.Wait()
}
