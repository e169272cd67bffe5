package ops

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// Event types, as the API's event stream names them.
const (
	EventBindingAdded   = "binding.added"
	EventBindingChanged = "binding.changed"
	EventBindingRemoved = "binding.removed"
	EventSpoofDrop      = "spoof.drop"
	EventServerUp       = "server.up"
	EventServerDown     = "server.down"
	EventConfigApplied  = "config.applied"
	// EventLost tells a subscriber that events it had not read were
	// overwritten (Missed says how many): it should re-read what it
	// follows (GET /v1/bindings) and carry on.
	EventLost = "events.lost"
)

// Event is one thing an operator may want to follow.
type Event struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Type string    `json:"type"`
	// Binding events: the binding (new, or the removed one), the one it
	// replaced, and why it was removed.
	Binding *Binding `json:"binding,omitempty"`
	Old     *Binding `json:"old,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	// Spoof drops (sampled: Suppressed reports dropped since the last one
	// that were not reported individually).
	Port       string     `json:"port,omitempty"`
	Interface  string     `json:"interface,omitempty"`
	IP         netip.Addr `json:"ip,omitzero"`
	MAC        string     `json:"mac,omitempty"`
	Suppressed uint64     `json:"suppressed,omitempty"`
	// Server up and down.
	Server netip.Addr `json:"server,omitzero"`
	// Config applied.
	Generation uint64 `json:"generation,omitempty"`
	Missed     uint64 `json:"missed,omitempty"`
}

// hub keeps the last events in a ring, numbered from 1, so that a
// subscriber reads them at its own pace and one that reconnects (the
// SSE Last-Event-ID) resumes where it left off.
type hub struct {
	mu   sync.Mutex
	ring []Event
	next uint64        // seq of the next event
	wake chan struct{} // closed and replaced by every publish
}

func newHub(size int) *hub {
	if size <= 0 {
		size = 1024
	}
	return &hub{ring: make([]Event, size), next: 1, wake: make(chan struct{})}
}

func (h *hub) publish(e Event) Event {
	h.mu.Lock()
	e.Seq = h.next
	h.next++
	h.ring[e.Seq%uint64(len(h.ring))] = e
	close(h.wake)
	h.wake = make(chan struct{})
	h.mu.Unlock()
	return e
}

// EventStream follows the events from a point on.
type EventStream struct {
	h    *hub
	next uint64
}

// Events follows the events published after now, or, when after is not
// zero, those after seq after that are still kept (a resumed stream).
func (o *Ops) Events(after uint64) *EventStream {
	o.hub.mu.Lock()
	defer o.hub.mu.Unlock()
	next := o.hub.next
	if after > 0 && after < next {
		next = after + 1
	}
	return &EventStream{h: o.hub, next: next}
}

// Next returns the events available, waiting for at least one until ctx
// ends. When events were lost, the first returned is an EventLost.
func (s *EventStream) Next(ctx context.Context) ([]Event, error) {
	for {
		evs, wake := s.poll()
		if len(evs) > 0 {
			return evs, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *EventStream) poll() ([]Event, <-chan struct{}) {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	size := uint64(len(h.ring))
	if oldest := h.next - min(h.next-1, size); s.next < oldest {
		out = append(out, Event{Type: EventLost, Time: h.ring[oldest%size].Time, Missed: oldest - s.next})
		s.next = oldest
	}
	for ; s.next < h.next; s.next++ {
		out = append(out, h.ring[s.next%size])
	}
	return out, h.wake
}
