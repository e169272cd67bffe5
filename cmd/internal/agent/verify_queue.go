package agent

import (
	"context"
	"sync"

	"github.com/leaseguard/leaseguard/platform/nflog"
)

// reportQueue holds the reports waiting for a verifier worker: first in,
// first out, at most max. Its memory follows what it holds: a channel of
// verifyQueue reports pre-allocated 1.8 MB (112 bytes a report), the
// largest single item of an idle agent's heap, for a burst that comes at
// most once per reboot (BenchmarkAgentHeap).
type reportQueue struct {
	mu    sync.Mutex
	items []nflog.Report // items[head:] are waiting
	head  int
	max   int
	// avail holds one token per waiting report; struct{} elements take
	// no buffer, whatever the capacity.
	avail chan struct{}
}

func newReportQueue(max int) *reportQueue {
	return &reportQueue{max: max, avail: make(chan struct{}, max)}
}

// push queues r unless max reports are waiting; it never blocks.
func (q *reportQueue) push(r nflog.Report) bool {
	q.mu.Lock()
	if len(q.items)-q.head >= q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, r)
	q.mu.Unlock()
	q.avail <- struct{}{} // tokens never outnumber the waiting reports
	return true
}

// pop waits for the oldest report, or returns false once ctx is done.
func (q *reportQueue) pop(ctx context.Context) (nflog.Report, bool) {
	select {
	case <-ctx.Done():
		return nflog.Report{}, false
	case <-q.avail:
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.items[q.head]
	q.items[q.head] = nflog.Report{}
	q.head++
	switch {
	case q.head == len(q.items): // drained: let a burst's array go
		q.items, q.head = nil, 0
	case q.head > len(q.items)/2: // never drained: move the rest down
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return r, true
}

// len is how many reports are waiting.
func (q *reportQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}
