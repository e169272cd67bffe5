package engine

import (
	"container/heap"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// attemptState is where one query stands at one server.
type attemptState uint8

const (
	statePending     attemptState = iota + 1 // queued at its server, not on the wire
	stateOutstanding                         // sent, awaiting an answer or its next retransmission
	stateAnswered
	stateTimedOut
	stateCancelled // the result was decided before it was sent
)

// attempt is one query to one server: the unit of the RFC 2131 backoff,
// with one xid for all its transmissions so a late answer still counts.
type attempt struct {
	req   *request
	srv   *server
	xid   uint32
	state attemptState

	sends               int // transmissions in the current backoff cycle
	transmissions       int // all transmissions, across cycles
	queuedAt, firstSent time.Time
	deadline            time.Time // next retransmission or timeout
	heapIdx             int       // in Engine.deadlines, -1 when absent

	seq       uint64 // the server's send sequence number of the last transmission
	overtaken uint8  // answers to later transmissions seen since (window.go)
	lossNoted bool

	prev, next *attempt // in the server's pending or outstanding list

	answer     lq.MessageType
	binding    lq.Binding
	answeredAt time.Time
}

// waiting reports whether the attempt may still produce an answer on its own.
func (a *attempt) waiting() bool {
	return a.state == statePending || a.state == stateOutstanding
}

// attemptList is an intrusive doubly linked list: O(1) removal of a
// cancelled attempt from the middle of a long pending queue.
type attemptList struct {
	head, tail *attempt
	n          int
}

func (l *attemptList) pushBack(a *attempt) {
	a.prev, a.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = a
	} else {
		l.head = a
	}
	l.tail = a
	l.n++
}

func (l *attemptList) pushFront(a *attempt) {
	a.prev, a.next = nil, l.head
	if l.head != nil {
		l.head.prev = a
	} else {
		l.tail = a
	}
	l.head = a
	l.n++
}

func (l *attemptList) remove(a *attempt) {
	if a.prev != nil {
		a.prev.next = a.next
	} else {
		l.head = a.next
	}
	if a.next != nil {
		a.next.prev = a.prev
	} else {
		l.tail = a.prev
	}
	a.prev, a.next = nil, nil
	l.n--
}

// deadlineHeap orders outstanding attempts by their next deadline.
type deadlineHeap []*attempt

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *deadlineHeap) Push(x any) {
	a := x.(*attempt)
	a.heapIdx = len(*h)
	*h = append(*h, a)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	a.heapIdx = -1
	return a
}

// schedule sets a's deadline, adding it to the heap or moving it there.
func (h *deadlineHeap) schedule(a *attempt, at time.Time) {
	a.deadline = at
	if a.heapIdx >= 0 {
		heap.Fix(h, a.heapIdx)
		return
	}
	heap.Push(h, a)
}

func (h *deadlineHeap) unschedule(a *attempt) {
	if a.heapIdx >= 0 {
		heap.Remove(h, a.heapIdx)
	}
}
