package relay

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
)

// ClientMsg is one client message heard on a port.
type ClientMsg struct {
	Port int // index in Config.Ports (PortMap.ByInterface)
	// Broadcast: the frame was sent to the Ethernet broadcast address or
	// to 255.255.255.255.
	Broadcast bool
	DstIP     netip.Addr // the frame's IPv4 destination
	Payload   []byte     // the BOOTP/DHCP message; not modified
}

// FromClient decides what happens to a client message: it copies m.Payload
// into buf (which should have Relay.MaxLen capacity), sets giaddr, counts
// the hop, inserts the port's option 82 and says which servers get it. It
// does not allocate, except to glean a DHCPRELEASE or DHCPDECLINE.
func (r *Relay) FromClient(now time.Time, m ClientMsg, buf []byte) Decision {
	r.c.fromClients.Add(1)
	st := r.st.Load()
	if m.Port < 0 || m.Port >= st.ports.Len() {
		return r.drop(-1, UnknownPort, nil)
	}
	port := st.ports.Port(m.Port)
	msg := append(buf[:0], m.Payload...)
	p, err := lq.ParsePacket(msg)
	if err != nil {
		return r.drop(m.Port, Malformed, msg)
	}
	if p.Op() != lq.BootRequest {
		return r.drop(m.Port, WrongOp, msg)
	}
	typ := p.MessageType()
	if !clientType(typ) {
		return r.drop(m.Port, MessageType, msg)
	}
	servers := st.servers
	if !m.Broadcast && !st.ports.isOurs(m.DstIP) {
		// A unicast to a server through our gateway: a renewal, a release
		// or an inform (RFC 2131 §4.4.5).
		if st.cfg.Renewals == RouteRenewals {
			d := r.drop(m.Port, LeftToKernel, msg)
			d.Glean = r.clientGlean(p, typ)
			return d
		}
		servers = st.serversFor(m.DstIP)
	}
	// RFC 1542 §4.1.1: discard a request whose hop count exceeds the
	// limit; here, whose incremented count would.
	if int(p.Hops()) >= st.cfg.MaxHops {
		return r.drop(m.Port, HopLimit, msg)
	}
	if _, err := p.IncHops(); err != nil {
		return r.drop(m.Port, HopLimit, msg)
	}
	own82, why := r.applyOption82(&p, port, st.cfg.MaxLen)
	if why != 0 {
		return r.drop(m.Port, why, p.Bytes())
	}
	if typ == lq.Request || own82 {
		r.requests.remember(now, p, m.Port, own82)
	}
	r.c.relayed(m.Port, typ, true)
	return Decision{Verdict: ToServers, Msg: p.Bytes(), Servers: servers, Port: m.Port, Glean: r.clientGlean(p, typ)}
}

// clientType reports whether a client may send typ: plain BOOTP (0) and
// the client messages of RFC 2131. Leasequery (10) is the access
// concentrator's own message, never a subscriber's.
func clientType(typ lq.MessageType) bool {
	switch typ {
	case 0, lq.Discover, lq.Request, lq.Decline, lq.Release, lq.Inform:
		return true
	}
	return false
}

// applyOption82 sets giaddr and inserts the port's option 82 under the
// port's trust (RFC 3046 §2.1, §2.1.1). own82 is true when the message
// goes upstream without an option 82 of ours, so its reply must be routed
// by the request memory.
func (r *Relay) applyOption82(p *lq.Packet, port *Port, maxLen int) (own82 bool, why Reason) {
	_, has82 := p.Option(lq.OptAgentInfo)
	if p.GIAddr().IsValid() && !p.GIAddr().IsUnspecified() {
		if !port.Trusted {
			return false, ClientGIAddr
		}
		// RFC 1542 §4.1.1: a relay that is not the first hop keeps giaddr,
		// and its replies go straight to that relay; RFC 3046 §2.1: it adds
		// no second option 82.
		return true, 0
	}
	if has82 {
		switch {
		case !port.Trusted || port.Policy == PolicyDrop:
			return false, ClientOption82
		case port.Policy == PolicyKeep:
			r.c.kept.Add(1)
			return true, setGIAddr(p, port)
		}
		p.StripAgentInfo()
		r.c.replaced.Add(1)
	}
	if why := setGIAddr(p, port); why != 0 {
		return false, why
	}
	switch err := p.AddAgentInfo(port.Option82, maxLen); {
	case errors.Is(err, lq.ErrNoOptions):
		return true, 0 // plain BOOTP: no options field to carry it
	case err != nil:
		// RFC deviation: RFC 3046 §2.1 has a relay forward a message
		// without option 82 when the option does not fit. We drop it
		// (counted as NoRoom): replies are routed by the circuit-id, so
		// the server would lease an address that could neither be
		// delivered to nor gleaned for the client; and an untrusted
		// client could shed its port identity at will by padding its
		// message. With the default 576-octet limit a client message
		// must exceed ~530 octets first.
		return false, NoRoom
	}
	return false, 0
}

func setGIAddr(p *lq.Packet, port *Port) Reason {
	if err := p.SetGIAddr(port.GIAddr); err != nil {
		return Malformed
	}
	return 0
}

// clientGlean is what a client's own message teaches: DHCPRELEASE and
// DHCPDECLINE end the client's binding (only if the binding is the
// client's: the table compares client-id or chaddr).
func (r *Relay) clientGlean(p lq.Packet, typ lq.MessageType) Glean {
	var ip netip.Addr
	var why location.Reason
	switch typ {
	case lq.Release:
		ip, why = p.CIAddr(), location.Released
	case lq.Decline:
		if v, ok := p.Option(optRequestedIP); ok && len(v) == 4 {
			ip = netip.AddrFrom4([4]byte(v))
		}
		why = location.Declined
	default:
		return Glean{}
	}
	if !ip.IsValid() || ip.IsUnspecified() {
		return Glean{}
	}
	r.c.unbinds.Add(1)
	rm := location.Removal{IP: ip, Reason: why, HWAddr: bytes.Clone(p.CHAddr())}
	if id, ok := p.AppendOption(nil, lq.OptClientID); ok {
		rm.ClientID = id
	}
	return Glean{Kind: Unbind, Removal: rm}
}
