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
