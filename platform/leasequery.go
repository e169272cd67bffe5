package platform

import (
	"net/netip"
	"sync/atomic"

	"github.com/leaseguard/leaseguard/lq"
)

// LeasequeryReplyHandler takes a decoded leasequery answer; the leasequery
// runner (lq/engine.Runner) is one.
type LeasequeryReplyHandler interface {
	HandleReply(from netip.Addr, r lq.Reply)
}

// LeasequeryTransport puts a leasequery client on an upstream socket: it
// encodes queries with the concentrator's address as giaddr (RFC 4388 §6.2:
// the server answers to giaddr, port 67) and feeds the answers the socket's
// demultiplexer classifies as leasequery replies back to the client. The
// relay may share the same socket: it never sees these answers.
type LeasequeryTransport struct {
	up     UpstreamConn
	giaddr netip.Addr
	prl    []uint8

	// Counters: queries sent, send errors, answers that did not decode.
	Sent, SendErrors, Undecodable atomic.Uint64
}

// NewLeasequeryTransport sends from up with giaddr = up's address and asks
// for the options in prl (nil: lq's default list).
func NewLeasequeryTransport(up UpstreamConn, prl []uint8) *LeasequeryTransport {
	return &LeasequeryTransport{up: up, giaddr: up.LocalAddr().Addr(), prl: prl}
}

// Send encodes q and sends it to server port 67. It satisfies the
// lq/engine Transport interface.
func (t *LeasequeryTransport) Send(server netip.Addr, q lq.Query, xid uint32) error {
	b, err := q.Marshal(t.giaddr, xid, t.prl)
	if err == nil {
		err = t.up.Send(netip.AddrPortFrom(server, 67), b)
	}
	if err != nil {
		t.SendErrors.Add(1)
		return err
	}
	t.Sent.Add(1)
	return nil
}

// Attach routes the socket's leasequery answers, decoded, to h.
func (t *LeasequeryTransport) Attach(h LeasequeryReplyHandler) error {
	return t.up.Handle(LeasequeryReply, func(b []byte, from netip.AddrPort) {
		r, err := lq.ParseReply(b) // the Reply owns its memory; b is reused
		if err != nil {
			t.Undecodable.Add(1)
			return
		}
		h.HandleReply(from.Addr(), r)
	})
}
