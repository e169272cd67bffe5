package location

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is what happened to a binding.
type Kind uint8

const (
	Added   Kind = iota + 1 // New is the binding
	Changed                 // Old was replaced by New (same IP)
	Removed                 // Old is gone; Reason says why
)

func (k Kind) String() string {
	switch k {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Reason is why a binding was removed.
type Reason uint8

const (
	Released   Reason = iota + 1 // DHCPRELEASE
	Declined                     // DHCPDECLINE
	Nak                          // DHCPNAK
	Cleared                      // operator clear
	Unassigned                   // a server answered DHCPLEASEUNASSIGNED
	Expired                      // lease expiry
)

var reasonNames = [...]string{"", "released", "declined", "nak", "cleared", "unassigned", "expired"}

func (r Reason) String() string {
	if r != 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Event is one change to the table. Seq numbers every event of a table
// from 1 without gaps, in the order of the writes.
type Event struct {
	Seq    uint64
	Kind   Kind
	Time   time.Time // the now of the write, to the second
	Old    Binding   // Changed, Removed
	New    Binding   // Added, Changed
	Reason Reason    // Removed
}

// LocationChanged reports whether a Changed event moved the address (port,
// circuit-id, client hardware address or modem) rather than only renewing
// it; consumers that program forwarding or filters can skip the rest.
// It is true for Added and Removed.
func (e Event) LocationChanged() bool {
	if e.Kind != Changed {
		return true
	}
	o, n := &e.Old, &e.New
	return o.Port != n.Port || o.HType != n.HType ||
		!bytes.Equal(o.HWAddr, n.HWAddr) || !bytes.Equal(o.Modem, n.Modem) ||
		!bytes.Equal(o.CircuitID, n.CircuitID)
}

// eventRec is an event in compact form, as the log keeps it.
type eventRec struct {
	seq      uint64
	at       secs
	kind     Kind
	reason   Reason
	old, new view
}

func (e *eventRec) event() Event {
	ev := Event{Seq: e.seq, Kind: e.kind, Time: e.at.time(), Reason: e.reason}
	if e.kind != Added {
		ev.Old = e.old.binding()
	}
	if e.kind != Removed {
		ev.New = e.new.binding()
	}
	return ev
}

func expand(recs []eventRec) []Event {
	if len(recs) == 0 {
		return nil
	}
	evs := make([]Event, len(recs))
	for i := range recs {
		evs[i] = recs[i].event()
	}
	return evs
}

// eventLog is a ring of the most recent events, shared by all subscribers:
// each subscriber holds only a cursor. Writers never wait for readers; a
// reader whose next event has been overwritten learns so (LagError) and
// resyncs. The ring is allocated at the first Subscribe: a table nobody
// follows keeps no events.
type eventLog struct {
	ring   []eventRec
	last   uint64 // seq of the newest event, 0 before the first
	subs   []*Subscription
	lagged atomic.Uint64
}

// emit numbers e, stores it for subscribers and wakes them. Under t.mu.
func (t *Table) emit(e eventRec) {
	l := &t.log
	l.last++
	e.seq = l.last
	if l.ring == nil {
		return
	}
	l.ring[e.seq&uint64(len(l.ring)-1)] = e
	for _, s := range l.subs {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// ErrLagged is matched (errors.Is) by every LagError.
var ErrLagged = errors.New("location: subscriber lagged behind the event buffer")

// ErrClosed is returned by a closed Subscription.
var ErrClosed = errors.New("location: subscription closed")

// LagError says a subscriber fell so far behind that events it had not read
// were overwritten. Its cursor has moved to the newest event; to recover it
// reads the whole table (Table.All) and then applies the events that
// follow, which may repeat what the snapshot already shows: apply Added and
// Changed as upserts by IP and Removed as deletes, which is idempotent.
type LagError struct {
	Subscriber string
	Missed     uint64 // events skipped
	Resume     uint64 // seq of the next event the subscriber will get
}

func (e *LagError) Error() string {
	return fmt.Sprintf("location: subscriber %q lagged: %d events skipped, resync and resume at seq %d",
		e.Subscriber, e.Missed, e.Resume)
}

// Is makes errors.Is(err, ErrLagged) true.
func (e *LagError) Is(target error) bool { return target == ErrLagged }

// Subscription follows a table's events in order. Methods are safe for
// concurrent use, but events are meant for one consuming goroutine.
type Subscription struct {
	t      *Table
	name   string
	wake   chan struct{} // capacity 1: "there may be new events"
	mu     sync.Mutex
	next   uint64 // seq of the next event to deliver
	closed bool
}

// Subscribe starts following the table: the first event delivered is the
// next write. To build initial state, subscribe first and then read
// Table.All, applying events idempotently (see LagError).
func (t *Table) Subscribe(name string) *Subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.log.ring == nil {
		n := 1 << bits.Len(uint(t.cfg.EventBuffer-1))
		t.log.ring = make([]eventRec, n)
	}
	s := &Subscription{t: t, name: name, wake: make(chan struct{}, 1), next: t.log.last + 1}
	t.log.subs = append(t.log.subs, s)
	return s
}

// Close stops the subscription; later calls return ErrClosed.
func (s *Subscription) Close() {
	// Lock order, as in Poll: the subscription, then the table.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	subs := s.t.log.subs
	for i, x := range subs {
		if x == s {
			s.t.log.subs = append(subs[:i:i], subs[i+1:]...)
			break
		}
	}
	close(s.wake) // after leaving subs: emit never sends on a closed channel
}

// Wake returns a channel that receives when events may be ready, for
// consumers that select on several sources and then call Poll. It is
// closed by Close.
func (s *Subscription) Wake() <-chan struct{} { return s.wake }

// Next returns the next events, at most max (0 means 256), waiting until
// there is at least one or ctx is done. It returns a *LagError when events
// were lost (the cursor then points past them), ErrClosed after Close.
func (s *Subscription) Next(ctx context.Context, max int) ([]Event, error) {
	for {
		evs, err := s.Poll(max)
		if err != nil || len(evs) > 0 {
			return evs, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.wake:
		}
	}
}

// Poll is Next without waiting: it returns no events when none are ready.
func (s *Subscription) Poll(max int) ([]Event, error) {
	if max <= 0 {
		max = 256
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	recs, err := s.take(max)
	if err != nil {
		return nil, err
	}
	return expand(recs), nil
}

// take copies out up to max compact events under the read lock, so that
// expanding them happens outside it.
func (s *Subscription) take(max int) ([]eventRec, error) {
	l := &s.t.log
	s.t.mu.RLock()
	defer s.t.mu.RUnlock()
	size := uint64(len(l.ring))
	if l.last >= size && s.next <= l.last-size {
		err := &LagError{Subscriber: s.name, Missed: l.last + 1 - s.next, Resume: l.last + 1}
		s.next = l.last + 1
		l.lagged.Add(1)
		return nil, err
	}
	n := min(uint64(max), l.last+1-s.next)
	if n == 0 {
		return nil, nil
	}
	recs := make([]eventRec, n)
	for i := range recs {
		recs[i] = l.ring[(s.next+uint64(i))&(size-1)]
	}
	s.next += n
	return recs, nil
}
