package platform

import (
	"bytes"
	"net/netip"
	"sync"
)

// SentDatagram is one datagram a FakeUpstream was asked to send.
type SentDatagram struct {
	To   netip.AddrPort
	Data []byte
}

// FakeUpstream is an in-memory UpstreamConn for unit tests: Send records a
// copy of each datagram (or fails with SendErr), and Deliver feeds a
// datagram through the same Demux as the real socket.
type FakeUpstream struct {
	Demux
	Local netip.AddrPort

	mu      sync.Mutex
	sent    []SentDatagram
	SendErr error // when set, Send returns it and records nothing
}

var _ UpstreamConn = (*FakeUpstream)(nil)

// LocalAddr returns f.Local.
func (f *FakeUpstream) LocalAddr() netip.AddrPort { return f.Local }

// Send records a copy of b.
func (f *FakeUpstream) Send(to netip.AddrPort, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.SendErr != nil {
		return f.SendErr
	}
	f.sent = append(f.sent, SentDatagram{To: to, Data: bytes.Clone(b)})
	return nil
}

// Sent returns the datagrams sent so far, oldest first.
func (f *FakeUpstream) Sent() []SentDatagram {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SentDatagram(nil), f.sent...)
}

// Deliver hands b to the handler of its class, as if it had been received
// from `from` in a batch of one, then calls the batch-end handler, and
// returns the class. Like the real socket it passes a
// buffer that it overwrites afterwards, so a handler that keeps b without
// copying it fails its test.
func (f *FakeUpstream) Deliver(b []byte, from netip.AddrPort) UpstreamClass {
	buf := bytes.Clone(b)
	c := f.Dispatch(buf, from)
	clear(buf)
	f.EndBatch()
	return c
}

// SentFrame is one reply a FakePort was asked to send.
type SentFrame struct {
	Dst     Destination
	Payload []byte
}

// FakePort is an in-memory PortConn for unit tests.
type FakePort struct {
	PortName  string
	PortIndex int
	PortMAC   [6]byte
	SendErr   error // when set, Send returns it and records nothing

	mu   sync.Mutex
	sent []SentFrame
}

// Name returns p.PortName.
func (p *FakePort) Name() string { return p.PortName }

// Index returns p.PortIndex.
func (p *FakePort) Index() int { return p.PortIndex }

// MAC returns p.PortMAC.
func (p *FakePort) MAC() [6]byte { return p.PortMAC }

// Send records a copy of payload.
func (p *FakePort) Send(dst Destination, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.SendErr != nil {
		return p.SendErr
	}
	p.sent = append(p.sent, SentFrame{Dst: dst, Payload: bytes.Clone(payload)})
	return nil
}

// Sent returns the replies sent so far, oldest first.
func (p *FakePort) Sent() []SentFrame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]SentFrame(nil), p.sent...)
}

// Deliver calls h with f as if p had read it, through a buffer that is
// overwritten afterwards, as the real port's is.
func (p *FakePort) Deliver(h ClientHandler, f ClientFrame) {
	payload := bytes.Clone(f.Payload)
	f.Payload = payload
	h.HandleClient(p, f)
	clear(payload)
}
