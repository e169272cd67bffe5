package metrics

import (
	"slices"
	"sync"
)

// Histogram counts observations into buckets with fixed upper bounds.
// Safe for concurrent use.
type Histogram struct {
	bounds []float64 // ascending
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	count  uint64
}

// NewHistogram returns a histogram with the given upper bounds (sorted
// and deduplicated here; +Inf is implicit).
func NewHistogram(bounds ...float64) *Histogram {
	b := slices.Compact(slices.Sorted(slices.Values(bounds)))
	return &Histogram{bounds: b, counts: make([]uint64, len(b)+1)}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // first bound >= v: le is inclusive
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.count++
	h.mu.Unlock()
}

// HistogramSnapshot is a histogram's state with cumulative counts, as the
// text format wants them: Counts[i] observations were <= Bounds[i].
type HistogramSnapshot struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// Snapshot returns the cumulative counts so far.
func (h *Histogram) Snapshot() HistogramSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := HistogramSnapshot{Bounds: h.bounds, Counts: make([]uint64, len(h.bounds)), Count: h.count, Sum: h.sum}
	var run uint64
	for i := range h.bounds {
		run += h.counts[i]
		s.Counts[i] = run
	}
	return s
}

// ExponentialBounds returns n bounds starting at start, each factor times
// the one before.
func ExponentialBounds(start, factor float64, n int) []float64 {
	b := make([]float64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}
