package platform

import (
	"fmt"
	"net/netip"
	"sync/atomic"
)

// UpstreamClass is what the demultiplexer makes of one datagram heard on
// the upstream socket.
type UpstreamClass uint8

const (
	// Malformed: not a BOOTP/DHCP message; counted and dropped.
	Malformed UpstreamClass = iota
	// LeasequeryReply: a BOOTREPLY of type DHCPLEASEUNASSIGNED,
	// DHCPLEASEUNKNOWN or DHCPLEASEACTIVE. It goes to the leasequery
	// handler and never to the relay, which must not forward it to a
	// subscriber (ISC dhcrelay does).
	LeasequeryReply
	// RelayReply: every other BOOTREPLY, DHCP or plain BOOTP.
	RelayReply
	// UpstreamRequest: a BOOTREQUEST heard upstream, such as a client's
	// unicast renewal routed to us or another relay's traffic.
	UpstreamRequest

	numClasses
)

func (c UpstreamClass) String() string {
	switch c {
	case Malformed:
		return "malformed"
	case LeasequeryReply:
		return "leasequery reply"
	case RelayReply:
		return "relay reply"
	case UpstreamRequest:
		return "upstream request"
	}
	return fmt.Sprintf("UpstreamClass(%d)", uint8(c))
}

// Classify returns the class of the datagram b, without allocating.
func Classify(b []byte) UpstreamClass {
	op, t, err := Peek(b)
	switch {
	case err != nil:
		return Malformed
	case op == opBootRequest:
		return UpstreamRequest
	case t.IsLeasequeryReply():
		return LeasequeryReply
	}
	return RelayReply
}

// UpstreamHandler receives one datagram of the class it was attached to.
// b aliases the receive buffer: it is valid only during the call, and the
// handler must copy what it keeps. Handlers run on the receive goroutine,
// one datagram at a time; a slow handler delays every class.
type UpstreamHandler func(b []byte, from netip.AddrPort)

// ClassStats counts the datagrams of one class.
type ClassStats struct {
	Delivered uint64 // passed to the attached handler
	Dropped   uint64 // no handler was attached
}

// DemuxStats counts datagrams by class.
type DemuxStats struct {
	Leasequery ClassStats
	Relay      ClassStats
	Request    ClassStats
	Malformed  uint64
}

// Demux routes upstream datagrams to the handler attached to their class.
// The real Upstream and FakeUpstream share it, so a unit test of the relay
// sees the same routing as production. The zero Demux has no handlers.
type Demux struct {
	handlers  [numClasses]atomic.Pointer[UpstreamHandler]
	batchEnd  atomic.Pointer[func()]
	delivered [numClasses]atomic.Uint64
	dropped   [numClasses]atomic.Uint64
}

// Handle attaches h to class c; a nil h detaches. Each class has at most
// one handler: attaching a second is an error, since the relay and the
// leasequery client each own theirs.
func (d *Demux) Handle(c UpstreamClass, h UpstreamHandler) error {
	if c == Malformed || c >= numClasses {
		return fmt.Errorf("upstream: cannot attach a handler to %v datagrams", c)
	}
	if h == nil {
		d.handlers[c].Store(nil)
		return nil
	}
	if !d.handlers[c].CompareAndSwap(nil, &h) {
		return fmt.Errorf("upstream: %v datagrams already have a handler", c)
	}
	return nil
}

// HandleBatchEnd attaches f to be called after the datagrams of each
// receive call have been dispatched, so that a handler can send what they
// produced with one system call (a PortSendQueue's Flush); nil detaches.
// There is at most one.
func (d *Demux) HandleBatchEnd(f func()) error {
	if f == nil {
		d.batchEnd.Store(nil)
		return nil
	}
	if !d.batchEnd.CompareAndSwap(nil, &f) {
		return fmt.Errorf("upstream: the end of a batch already has a handler")
	}
	return nil
}

// EndBatch calls the batch-end handler, if any.
func (d *Demux) EndBatch() {
	if f := d.batchEnd.Load(); f != nil {
		(*f)()
	}
}

// Dispatch classifies b and passes it to its handler, counting it; it
// returns the class. It does not allocate.
func (d *Demux) Dispatch(b []byte, from netip.AddrPort) UpstreamClass {
	c := Classify(b)
	if h := d.handlers[c].Load(); h != nil {
		d.delivered[c].Add(1)
		(*h)(b, from)
	} else {
		d.dropped[c].Add(1)
	}
	return c
}

// Stats returns the counters so far.
func (d *Demux) Stats() DemuxStats {
	class := func(c UpstreamClass) ClassStats {
		return ClassStats{Delivered: d.delivered[c].Load(), Dropped: d.dropped[c].Load()}
	}
	return DemuxStats{
		Leasequery: class(LeasequeryReply),
		Relay:      class(RelayReply),
		Request:    class(UpstreamRequest),
		Malformed:  d.dropped[Malformed].Load(),
	}
}
