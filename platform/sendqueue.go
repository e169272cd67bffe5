package platform

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BatchEnder is implemented by a ClientHandler that wants to know when the
// frames of one receive call have all been handled, to send what they
// produced with one system call (see SendQueue, PortSendQueue).
type BatchEnder interface {
	EndBatch(p PortConn)
}

// ClientHandlerFunc adapts a function to ClientHandler.
type ClientHandlerFunc func(p PortConn, f ClientFrame)

// HandleClient calls f.
func (f ClientHandlerFunc) HandleClient(p PortConn, c ClientFrame) { f(p, c) }

// SendQueue gathers upstream datagrams and sends them with one
// sendmmsg(2) per Flush, which on this machine costs a fraction of one
// sendto(2) per datagram (see BenchmarkRelayPath). It copies what it is
// given. Not safe for concurrent use: give each receive loop its own.
type SendQueue struct {
	u *Upstream
	w *mmsgWriter
}

// NewSendQueue returns a queue of up to slots datagrams; a Send to a full
// queue flushes it first.
func (u *Upstream) NewSendQueue(slots int) (*SendQueue, error) {
	rc, err := u.conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("upstream %v: %w", u.local, err)
	}
	return &SendQueue{u: u, w: newMmsgWriter(rc, max(slots, 1), maxDatagram, true)}, nil
}

// Send queues a copy of b for to. Errors of the datagrams sent by an
// implied flush are returned here.
func (q *SendQueue) Send(to netip.AddrPort, b []byte) error {
	if len(b) > q.w.vec.size || !to.Addr().Is4() {
		q.u.sendErrors.Add(1)
		return fmt.Errorf("upstream %v: send to %v: %d octets: not an IPv4 datagram of at most %d", q.u.local, to, len(b), q.w.vec.size)
	}
	var err error
	if q.w.n == len(q.w.vec.hdrs) {
		err = q.Flush()
	}
	i := q.w.n
	copy(q.w.vec.slot(i), b)
	q.w.vec.iovs[i].SetLen(len(b))
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&q.w.vec.names[i]))
	sa.Family = unix.AF_INET
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], to.Port())
	sa.Addr = to.Addr().As4()
	q.w.vec.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
	q.w.n++
	return err
}

// Flush sends what is queued.
func (q *SendQueue) Flush() error {
	n := q.w.n
	failed, err := q.w.flush()
	q.u.sent.Add(uint64(n - failed))
	q.u.sendErrors.Add(uint64(failed))
	if err != nil {
		return fmt.Errorf("upstream %v: %d of %d datagrams not sent: %w", q.u.local, failed, n, err)
	}
	return nil
}

// PortSendQueue gathers reply frames for one port and writes them with
// one sendmmsg(2) per Flush. Not safe for concurrent use.
type PortSendQueue struct {
	p *Port
	w *mmsgWriter
}

// NewSendQueue returns a queue of up to slots frames; a Send to a full
// queue flushes it first.
func (p *Port) NewSendQueue(slots int) *PortSendQueue {
	return &PortSendQueue{p: p, w: newMmsgWriter(p.rc, max(slots, 1), p.frameMax, false)}
}

// Send builds the frame for dst into the queue; see Port.Send.
func (q *PortSendQueue) Send(dst Destination, payload []byte) error {
	if err := q.p.checkSend(dst, payload); err != nil {
		return err
	}
	var err error
	if q.w.n == len(q.w.vec.hdrs) {
		err = q.Flush()
	}
	i := q.w.n
	frame := q.p.appendFrame(q.w.vec.slot(i)[:0], dst, payload)
	q.w.vec.iovs[i].SetLen(len(frame))
	q.w.n++
	return err
}

// Flush writes what is queued.
func (q *PortSendQueue) Flush() error {
	n := q.w.n
	failed, err := q.w.flush()
	q.p.sent.Add(uint64(n - failed))
	q.p.sendErrors.Add(uint64(failed))
	if err != nil {
		return &PortError{q.p.name, "send", fmt.Errorf("%d of %d frames not sent: %w", failed, n, err)}
	}
	return nil
}
