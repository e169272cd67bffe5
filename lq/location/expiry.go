package location

import "time"

// Expiry is one binary min-heap of record handles ordered by (expiry, IP),
// so the agent arms a single timer at NextExpiry and calls Expire when it
// fires, instead of running a timer per binding. Ties break on the address
// so that expiry order is deterministic.

// Expire removes every binding whose expiry is at or before now, in expiry
// order, emitting a Removed event (reason Expired) for each, and returns
// those events.
func (t *Table) Expire(now time.Time) []Event {
	s := toSecs(now)
	var recs []eventRec
	t.mu.Lock()
	for len(t.heap) > 0 && t.rec(t.heap[0]).expiry <= s {
		e := t.removeLocked(t.heap[0], Expired, s)
		t.emit(e)
		recs = append(recs, e)
	}
	t.mu.Unlock()
	return expand(recs)
}

// NextExpiry returns the earliest expiry in the table, or the zero time
// when the table is empty.
//
// The agent arms one timer at NextExpiry, calls Expire when it fires, and
// re-arms when the timer fires or ExpiryEarlier receives.
func (t *Table) NextExpiry() time.Time {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.heap) == 0 {
		return time.Time{}
	}
	return t.rec(t.heap[0]).expiry.time()
}

// ExpiryEarlier returns a channel that receives when a write has moved
// NextExpiry earlier than it was (a new binding or a shortened lease
// now expires first), so that an armed timer would fire late. Removals
// only move NextExpiry later; the timer then fires early, Expire finds
// nothing and the agent re-arms. It may also receive when nothing moved
// earlier; re-arming is then a no-op.
func (t *Table) ExpiryEarlier() <-chan struct{} { return t.earlier }

func (t *Table) heapLess(i, j int) bool {
	a, b := t.rec(t.heap[i]), t.rec(t.heap[j])
	return a.expiry < b.expiry || a.expiry == b.expiry && a.ip < b.ip
}

func (t *Table) heapSwap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.rec(t.heap[i]).heapAt = uint32(i)
	t.rec(t.heap[j]).heapAt = uint32(j)
}

func (t *Table) heapPush(h uint32) {
	t.heap = append(t.heap, h)
	i := len(t.heap) - 1
	t.rec(h).heapAt = uint32(i)
	t.heapUp(i)
}

func (t *Table) heapRemove(h uint32) {
	i := int(t.rec(h).heapAt)
	last := len(t.heap) - 1
	if i != last {
		t.heapSwap(i, last)
	}
	t.heap = t.heap[:last]
	if i != last {
		t.heapRestore(i)
	}
}

func (t *Table) heapFix(h uint32) {
	t.heapRestore(int(t.rec(h).heapAt))
}

func (t *Table) heapRestore(i int) {
	if !t.heapDown(i) {
		t.heapUp(i)
	}
}

func (t *Table) heapUp(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !t.heapLess(i, parent) {
			return
		}
		t.heapSwap(i, parent)
		i = parent
	}
	select { // a new head: NextExpiry moved earlier
	case t.earlier <- struct{}{}:
	default:
	}
}

// heapDown sifts i down, reporting whether it moved.
func (t *Table) heapDown(i int) bool {
	start, n := i, len(t.heap)
	for {
		least, l := i, 2*i+1
		if l < n && t.heapLess(l, least) {
			least = l
		}
		if r := l + 1; r < n && t.heapLess(r, least) {
			least = r
		}
		if least == i {
			return i != start
		}
		t.heapSwap(i, least)
		i = least
	}
}
