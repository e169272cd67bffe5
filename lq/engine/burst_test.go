package engine

import (
	"runtime"
	"testing"

	"github.com/leaseguard/leaseguard/lq"
)

// burstQueries is a sweep's share of the default MaxPending.
const burstQueries = DefaultMaxPending / sweepShare

// TestBurstMapFreesItsTables: a map that held a burst and drained keeps
// no more heap than one that never grew.
func TestBurstMapFreesItsTables(t *testing.T) {
	before := heapInUse()
	b := newBurstMap[Key, []chan Result]()
	for i := range burstQueries {
		b.set(Key{Kind: lq.ByIP, IP: nthIP(i)}, make([]chan Result, 1))
	}
	for i := range burstQueries {
		b.delete(Key{Kind: lq.ByIP, IP: nthIP(i)})
	}
	// It held 290 kB before drained maps were replaced; the bound leaves
	// room for what the runtime allocates meanwhile.
	if held := heapInUse() - before; held > 32<<10 {
		t.Errorf("a drained map of %d entries holds %d heap bytes", burstQueries, held)
	}
	runtime.KeepAlive(b)
}

// TestBurstLeavesNoTables: an engine that had 16,384 queries in flight
// at once holds, once they are answered, no more heap than one asked the
// same queries one at a time (cache and owner memory alike) but for the
// buffers a server's window fills (Poll's and Results' slices, a few
// kilobytes): the request and xid maps' tables are freed when they
// drain (they held 170 bytes per query).
func TestBurstLeavesNoTables(t *testing.T) {
	const n = 1 << 14
	burst, trickle := engineHeapAfter(t, n, n), engineHeapAfter(t, n, 1)
	if extra := float64(burst-trickle) / n; extra > 8 {
		t.Errorf("after a burst: %d heap bytes, one at a time: %d (%.0f more per query)", burst, trickle, extra)
	}
}

// engineHeapAfter is the heap an engine holds after n queries by
// address, asked at most atOnce at a time, were answered UNKNOWN.
func engineHeapAfter(t *testing.T, n, atOnce int) int64 {
	before := heapInUse()
	e := newTestEngine(t, func(c *Config) { c.MaxPending = n })
	for next := 0; next < n; {
		for k := 0; k < atOnce && next < n; k, next = k+1, next+1 {
			mustSubmit(t, e, t0, lq.Query{Kind: lq.ByIP, IP: nthIP(next)})
		}
		for e.live > 0 {
			for _, tx := range pollCopy(e, t0) {
				e.HandleReply(t0, tx.Server, answer(tx, lq.LeaseUnknown))
			}
			e.Results()
		}
	}
	held := heapInUse() - before
	runtime.KeepAlive(e)
	return held
}

// TestReuse: a reused buffer keeps none of its old elements, whatever
// it held before, and a burst's array is let go.
func TestReuse(t *testing.T) {
	var buf []Result
	fill := func(n int) {
		for range n {
			buf = append(buf, Result{Binding: lq.Binding{HWAddr: []byte{1, 2, 3, 4, 5, 6}}})
		}
	}
	fill(5) // a step with five results, then one with two
	buf = reuse(buf)
	fill(2)
	buf = reuse(buf)
	if len(buf) != 0 || cap(buf) < 5 {
		t.Fatalf("reuse of a small buffer: len %d cap %d, want 0 and its array", len(buf), cap(buf))
	}
	for i, r := range buf[:cap(buf)] {
		if r.Binding.HWAddr != nil {
			t.Errorf("element %d still holds %v", i, r.Binding.HWAddr)
		}
	}
	if got := reuse(make([]Result, reuseMax+1)); got != nil {
		t.Errorf("reuse of a burst's buffer kept its array (cap %d)", cap(got))
	}
}
