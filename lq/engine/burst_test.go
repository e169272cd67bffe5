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

// TestReuse: a reused buffer keeps none of its old elements, and a
// burst's array is let go.
func TestReuse(t *testing.T) {
	small := make([]Result, 3, 8)
	for i := range small[:cap(small)] {
		small[:cap(small)][i] = Result{Binding: lq.Binding{HWAddr: []byte{1, 2, 3, 4, 5, 6}}}
	}
	got := reuse(small)
	if len(got) != 0 || cap(got) != 8 {
		t.Fatalf("reuse of a small buffer: len %d cap %d, want 0 8", len(got), cap(got))
	}
	for i, r := range got[:cap(got)] {
		if r.Binding.HWAddr != nil {
			t.Errorf("element %d still holds %v", i, r.Binding.HWAddr)
		}
	}
	if got := reuse(make([]Result, reuseMax+1)); got != nil {
		t.Errorf("reuse of a burst's buffer kept its array (cap %d)", cap(got))
	}
}
