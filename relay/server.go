package relay

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/platform"
)

// FromServer decides what happens to a server's reply heard upstream
// from from: it copies msg into buf, finds the client's port by the
// circuit-id the relay inserted (not by routing), strips that option 82
// (RFC 3046 §2.2) and says where on the port the reply goes. A DHCPACK
// becomes a Bind and a DHCPNAK an Unbind. It does not allocate, except
// to glean.
func (r *Relay) FromServer(now time.Time, from netip.AddrPort, msg, buf []byte) Decision {
	r.c.fromServers.Add(1)
	st := r.st.Load()
	sc := r.serverCounters(st, from.Addr())
	sc.replies.Add(1)
	sc.last.Store(now.UnixNano())
	d := r.fromServer(now, st, from, msg, buf)
	if d.Verdict == ToClient {
		sc.relayed.Add(1)
	}
	return d
}

func (r *Relay) fromServer(now time.Time, st *state, from netip.AddrPort, msg, buf []byte) Decision {
	msg = append(buf[:0], msg...)
	p, err := lq.ParsePacket(msg)
	if err != nil {
		return r.drop(-1, Malformed, msg)
	}
	if p.Op() != lq.BootReply {
		return r.drop(-1, WrongOp, msg)
	}
	typ := p.MessageType()
	switch {
	case typ.IsLeasequeryReply():
		// Defence in depth: the upstream demultiplexer hands these to the
		// leasequery client only. ISC dhcrelay forwards them to clients.
		return r.drop(-1, LeasequeryReply, msg)
	case typ != 0 && typ != lq.Offer && typ != lq.Ack && typ != lq.Nak:
		return r.drop(-1, MessageType, msg)
	}
	port, ours, why := r.replyPort(now, st.ports, p)
	if why != 0 {
		return r.drop(port, why, msg)
	}
	d := Decision{Verdict: ToClient, Port: port}
	d.Glean = r.serverGlean(now, st.ports.Port(port), p, typ, ours, from)
	if ours {
		p.StripAgentInfo()
	}
	d.Msg = p.Bytes()
	d.Dst = platform.Broadcast()
	// RFC 2131 §4.3.2: a DHCPNAK relayed through giaddr is broadcast.
	if typ != lq.Nak {
		if dst, err := platform.ReplyDestination(d.Msg); err == nil {
			d.Dst = dst
		}
	}
	r.c.relayed(port, typ, false)
	return d
}

// replyPort finds the port of a reply. ours says the reply carries the
// option 82 the relay inserted, so it is to be stripped. A reply that
// carries no option 82 at all (a server that does not echo it, or a
// request relayed with the client's own or none) is routed by the
// request memory, by xid and chaddr.
func (r *Relay) replyPort(now time.Time, ports *PortMap, p lq.Packet) (port int, ours bool, why Reason) {
	if !ports.isOurs(p.GIAddr()) {
		return -1, false, WrongGIAddr
	}
	_, has82 := p.Option(lq.OptAgentInfo)
	if has82 {
		circuit, _ := p.SubOption(lq.SubCircuitID)
		relayID, hasRelayID := p.SubOption(lq.SubRelayID)
		if i, ok := ports.byCircuit[string(circuit)]; ok {
			if _, ok := ports.locate(circuit, relayID, hasRelayID); !ok {
				return i, false, ForeignRelayID
			}
			if ports.ports[i].GIAddr != p.GIAddr() {
				return i, false, WrongGIAddr
			}
			return i, true, 0
		}
	}
	i, own82, ok := r.requests.route(now, keyOf(p))
	if !ok || (has82 && !own82) {
		return -1, false, UnknownCircuit
	}
	return i, false, 0
}

// serverGlean is what a server's reply teaches: a DHCPACK with an address
// binds it; a DHCPNAK ends the binding of the address the client asked for.
func (r *Relay) serverGlean(now time.Time, port *Port, p lq.Packet, typ lq.MessageType, ours bool, from netip.AddrPort) Glean {
	switch {
	case typ == lq.Ack && !p.YIAddr().IsUnspecified():
		r.c.binds.Add(1)
		return Glean{Kind: Bind, Binding: r.binding(now, port, p, ours, from)}
	case typ == lq.Nak:
		req, ok := r.requests.recall(now, keyOf(p))
		if !ok || !req.requested.IsValid() || req.requested.IsUnspecified() {
			return Glean{}
		}
		r.c.unbinds.Add(1)
		return Glean{Kind: Unbind, Removal: location.Removal{
			IP: req.requested, Reason: location.Nak,
			HWAddr: bytes.Clone(p.CHAddr()), ClientID: req.clientID,
		}}
	}
	return Glean{}
}

// binding builds the binding a relayed DHCPACK creates or refreshes.
// Client-id and vendor class come from the request it answers (option
// 60 is the client's; servers need not echo it), option 82 is the one
// the relay inserted, and the location is the port's.
func (r *Relay) binding(now time.Time, pt *Port, p lq.Packet, ours bool, from netip.AddrPort) location.Binding {
	b := location.Binding{Port: pt.Name, CircuitID: pt.CircuitID, Modem: pt.Modem, Source: location.Gleaned}
	b.IP = p.YIAddr()
	b.HType = p.HType()
	b.HWAddr = bytes.Clone(p.CHAddr())
	b.Expiry = optTime(now, p, lq.OptLeaseTime)
	b.T1 = optTime(now, p, lq.OptRenewalTime)
	b.T2 = optTime(now, p, lq.OptRebindingTime)
	b.LastTransaction = now
	b.Server = from.Addr()
	if v, ok := p.Option(lq.OptServerID); ok && len(v) == 4 {
		b.Server = netip.AddrFrom4([4]byte(v))
	}
	if req, ok := r.requests.recall(now, keyOf(p)); ok {
		b.ClientID, b.VendorClass = req.clientID, req.vendorClass
	}
	if b.ClientID == nil {
		b.ClientID, _ = p.AppendOption(nil, lq.OptClientID)
	}
	switch {
	case ours:
		b.AgentInfo = pt.AgentInfo
	default:
		if raw, ok := p.AppendOption(nil, lq.OptAgentInfo); ok {
			b.AgentInfo, _ = lq.ParseAgentInfo(raw)
		}
	}
	return b
}
