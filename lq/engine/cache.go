package engine

import (
	"container/heap"
	"time"
)

// answerCache keeps answers by query key until they expire (RFC 4388 §6.6
// and the negative caching of §7): ACTIVE until the lease ends,
// UNASSIGNED until NoteLease, UNKNOWN for Config.UnknownTTL. It is bounded:
// when full, the entry closest to expiry makes room.
type answerCache struct {
	m         map[Key]*cacheEntry
	h         cacheHeap
	max       int
	evictions uint64
}

type cacheEntry struct {
	res     Result
	expires time.Time // zero: until dropped (UNASSIGNED)
	idx     int
}

func newAnswerCache(max int) answerCache {
	return answerCache{m: make(map[Key]*cacheEntry), max: max}
}

func (c *answerCache) get(k Key, now time.Time) (Result, bool) {
	ent := c.m[k]
	if ent == nil {
		return Result{}, false
	}
	if !ent.expires.IsZero() && !now.Before(ent.expires) {
		c.remove(ent)
		return Result{}, false
	}
	return ent.res, true
}

func (c *answerCache) put(res Result, expires time.Time) {
	if ent := c.m[res.Key]; ent != nil {
		ent.res, ent.expires = res, expires
		heap.Fix(&c.h, ent.idx)
		return
	}
	if len(c.m) >= c.max {
		c.evictions++
		c.remove(c.h[0])
	}
	ent := &cacheEntry{res: res, expires: expires}
	c.m[res.Key] = ent
	heap.Push(&c.h, ent)
}

func (c *answerCache) drop(k Key) bool {
	ent := c.m[k]
	if ent != nil {
		c.remove(ent)
	}
	return ent != nil
}

// purge removes the entries expired by now.
func (c *answerCache) purge(now time.Time) {
	for len(c.h) > 0 && !c.h[0].expires.IsZero() && !now.Before(c.h[0].expires) {
		c.remove(c.h[0])
	}
}

func (c *answerCache) remove(ent *cacheEntry) {
	delete(c.m, ent.res.Key)
	heap.Remove(&c.h, ent.idx)
}

// cacheHeap orders entries by expiry, entries that never expire last.
type cacheHeap []*cacheEntry

func (h cacheHeap) Len() int { return len(h) }
func (h cacheHeap) Less(i, j int) bool {
	a, b := h[i].expires, h[j].expires
	return !a.IsZero() && (b.IsZero() || a.Before(b))
}
func (h cacheHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *cacheHeap) Push(x any) {
	ent := x.(*cacheEntry)
	ent.idx = len(*h)
	*h = append(*h, ent)
}
func (h *cacheHeap) Pop() any {
	old := *h
	ent := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return ent
}
