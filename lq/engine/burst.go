package engine

// burstMap is a map that a burst grows (a sweep keeps thousands of
// queries in flight, each with its request and its waiter) and that is
// nearly empty the rest of the time. Go maps never shrink, so once a
// burst has drained, the map is replaced by a fresh one and the burst's
// tables go back to the heap.
type burstMap[K comparable, V any] struct {
	m    map[K]V
	peak int // the most entries since the map was made
}

// burstShrink is the peak above which a drained map is replaced: smaller
// tables are not worth the churn.
const burstShrink = 256

func newBurstMap[K comparable, V any]() burstMap[K, V] {
	return burstMap[K, V]{m: make(map[K]V)}
}

func (b *burstMap[K, V]) set(k K, v V) {
	b.m[k] = v
	b.peak = max(b.peak, len(b.m))
}

func (b *burstMap[K, V]) delete(k K) {
	delete(b.m, k)
	if len(b.m) == 0 && b.peak > burstShrink {
		b.m, b.peak = make(map[K]V), 0
	}
}

// reuseMax is the largest array a buffer keeps between uses: a burst's
// (a sweep's results between two steps of the Runner) is let go.
const reuseMax = 256

// reuse empties s, as last filled, for appending again. Its elements
// are cleared, so that they keep nothing alive (a Result's binding shares
// the bytes of the reply it came in), and an array larger than reuseMax
// is dropped. Only s's length is cleared: past it, the array holds what
// earlier reuses cleared (appending only ever extends the length).
func reuse[T any](s []T) []T {
	if cap(s) > reuseMax {
		return nil
	}
	clear(s)
	return s[:0]
}
