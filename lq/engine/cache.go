package engine

import (
	"container/heap"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// answerCache keeps answers by query key until they expire (RFC 4388 §6.6
// and the negative caching of §7): ACTIVE until the lease ends,
// UNASSIGNED until NoteLease, UNKNOWN for Config.UnknownTTL. It is bounded:
// when full, the entry closest to expiry makes room.
type answerCache struct {
	m         keyMap[*cacheEntry]
	h         cacheHeap
	max       int
	evictions uint64
	// epoch is the first time the cache saw; entries keep times as
	// offsets from it, taken with Sub, which uses the monotonic clock
	// when the times carry it: a line card steps its wall clock at its
	// first NTP sync, right when a sweep after a reboot runs.
	epoch time.Time
}

// mapKey is a Key in 24 bytes (a netip.Addr alone takes 24): the cache
// and the owner memory hold tens of thousands of them.
type mapKey struct {
	kind lq.QueryKind
	ip   [4]byte
	id   string
}

func (k Key) mapKey() mapKey {
	m := mapKey{kind: k.Kind, id: k.ID}
	if k.Kind == lq.ByIP {
		m.ip = k.IP.As4()
	}
	return m
}

func (m mapKey) key() Key {
	k := Key{Kind: m.kind, ID: m.id}
	if m.kind == lq.ByIP {
		k.IP = netip.AddrFrom4(m.ip)
	}
	return k
}

// cacheEntry is kept small (64 bytes plus, for an ACTIVE, the stored
// binding): BenchmarkCacheMemory gives the bytes per cached answer. Per-server
// answers are not kept; SubmitFresh asks again for the operator.
type cacheEntry struct {
	key     mapKey
	typ     lq.MessageType
	server  uint8          // index in Config.Servers
	idx     int32          // in the heap
	at      int64          // since the epoch: when the answer was decided
	expires int64          // since the epoch; 0: until dropped (UNASSIGNED)
	binding *storedBinding // ACTIVE, and UNASSIGNED not by IP; else rebuilt from the key
}

func newAnswerCache(max int) answerCache {
	return answerCache{m: newKeyMap[*cacheEntry](), max: max}
}

// stamp is t as an offset from the epoch, never 0 (0 means never).
func (c *answerCache) stamp(t time.Time) int64 {
	if c.epoch.IsZero() {
		c.epoch = t.Add(-time.Nanosecond)
	}
	return int64(t.Sub(c.epoch))
}

func (c *answerCache) time(stamp int64) time.Time { return c.epoch.Add(time.Duration(stamp)) }

func (c *answerCache) get(k Key, now time.Time) *cacheEntry {
	ent, _ := c.m.get(k.mapKey())
	if ent != nil && ent.expired(c.stamp(now)) {
		c.remove(ent)
		return nil
	}
	return ent
}

func (ent *cacheEntry) expired(now int64) bool {
	return ent.expires != 0 && now >= ent.expires
}

// put stores ent, replacing any entry for the same key.
func (c *answerCache) put(ent cacheEntry) {
	if old, _ := c.m.get(ent.key); old != nil {
		ent.idx = old.idx
		*old = ent
		heap.Fix(&c.h, int(old.idx))
		return
	}
	if c.m.len() >= c.max {
		c.evictions++
		c.remove(c.h[0])
	}
	p := &ent
	c.m.set(ent.key, p)
	heap.Push(&c.h, p)
}

func (c *answerCache) drop(k Key) bool {
	ent, _ := c.m.get(k.mapKey())
	if ent != nil {
		c.remove(ent)
	}
	return ent != nil
}

// purge removes the entries expired by now.
func (c *answerCache) purge(now time.Time) {
	ns := c.stamp(now)
	for len(c.h) > 0 && c.h[0].expired(ns) {
		c.remove(c.h[0])
	}
}

func (c *answerCache) remove(ent *cacheEntry) {
	c.m.delete(ent.key)
	heap.Remove(&c.h, int(ent.idx))
}

// cacheHeap orders entries by expiry, entries that never expire last.
type cacheHeap []*cacheEntry

func (h cacheHeap) Len() int { return len(h) }
func (h cacheHeap) Less(i, j int) bool {
	a, b := h[i].expires, h[j].expires
	return a != 0 && (b == 0 || a < b)
}
func (h cacheHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = int32(i), int32(j)
}
func (h *cacheHeap) Push(x any) {
	ent := x.(*cacheEntry)
	ent.idx = int32(len(*h))
	*h = append(*h, ent)
}
func (h *cacheHeap) Pop() any {
	old := *h
	ent := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return ent
}

// compactBinding copies b with all its bytes in one allocation of their
// exact size: a decoded reply's slices share an arena as large as the
// whole packet, which a long-lived cache entry should not keep. It keeps
// what storedBinding cannot hold exactly, and copies it out again.
func compactBinding(b *lq.Binding) *lq.Binding {
	n := len(b.HWAddr) + len(b.ClientID) + len(b.VendorClass)
	for _, so := range b.AgentInfo {
		n += len(so.Data)
	}
	buf := make([]byte, 0, n)
	keep := func(v []byte) []byte {
		if v == nil {
			return nil
		}
		buf = append(buf, v...)
		return buf[len(buf)-len(v) : len(buf) : len(buf)]
	}
	c := *b
	c.HWAddr, c.ClientID, c.VendorClass = keep(b.HWAddr), keep(b.ClientID), keep(b.VendorClass)
	if b.AgentInfo != nil {
		c.AgentInfo = make(lq.AgentInfo, len(b.AgentInfo))
		for i, so := range b.AgentInfo {
			c.AgentInfo[i] = lq.SubOption{Code: so.Code, Data: keep(so.Data)}
		}
	}
	if b.AssociatedIPs != nil {
		c.AssociatedIPs = append([]netip.Addr(nil), b.AssociatedIPs...)
	}
	return &c
}
