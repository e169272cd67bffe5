package relay

import (
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// Reason says why the relay did not pass a message on. Every reason is
// counted (Stats.Dropped).
type Reason uint8

const (
	// Malformed: not a well-formed BOOTP/DHCP message.
	Malformed Reason = iota + 1
	// WrongOp: a BOOTREPLY heard from a client, or a BOOTREQUEST handed
	// in as a server reply.
	WrongOp
	// MessageType: a type the direction does not carry, such as a
	// DHCPLEASEQUERY from a subscriber or a DHCPDISCOVER from a server.
	MessageType
	// LeasequeryReply: a DHCPLEASEUNASSIGNED, DHCPLEASEUNKNOWN or
	// DHCPLEASEACTIVE reached the relay's reply path; it is never
	// forwarded to a subscriber (the demultiplexer should not have sent it).
	LeasequeryReply
	// HopLimit: the incremented hop count would exceed Config.MaxHops.
	HopLimit
	// ClientGIAddr: a client message with giaddr set on an untrusted port.
	ClientGIAddr
	// ClientOption82: a client message carrying option 82 on an untrusted
	// port, or on a trusted port whose policy is drop.
	ClientOption82
	// NoRoom: adding option 82 would exceed Config.MaxLen.
	NoRoom
	// UnknownCircuit: a reply whose option 82 names no circuit of ours
	// and answers no request remembered as relayed without it.
	UnknownCircuit
	// ForeignRelayID: a reply with one of our circuit-ids but without our
	// relay-id: another card's circuit of the same name.
	ForeignRelayID
	// WrongGIAddr: a reply whose giaddr is not the one the relay wrote
	// for the port its option 82 names.
	WrongGIAddr
	// UnknownPort: a client message from an interface that is not a port.
	UnknownPort
	// LeftToKernel: with RouteRenewals, a client's unicast to a server is
	// the kernel's to forward. Not a fault; counted for the operator.
	LeftToKernel

	numReasons
)

var reasonNames = [numReasons]string{
	Malformed: "malformed", WrongOp: "wrong op", MessageType: "message type",
	LeasequeryReply: "leasequery reply", HopLimit: "hop limit", ClientGIAddr: "client giaddr",
	ClientOption82: "client option 82", NoRoom: "no room for option 82",
	UnknownCircuit: "unknown circuit", ForeignRelayID: "foreign relay-id",
	WrongGIAddr: "wrong giaddr", UnknownPort: "unknown port", LeftToKernel: "left to kernel",
}

func (r Reason) String() string {
	if r > 0 && r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Stats are the relay's counters.
type Stats struct {
	FromClients uint64 // client messages handed to the relay
	ToServers   uint64 // client messages relayed (once, whatever the number of servers)
	FromServers uint64 // server replies handed to the relay
	ToClients   uint64 // replies relayed to a client
	// Replaced and Kept count client option 82 handled by a trusted
	// port's policy.
	Replaced, Kept uint64
	// Binds and Unbinds count the gleaning decisions: DHCPACKs relayed,
	// and DHCPNAK, DHCPRELEASE and DHCPDECLINE seen.
	Binds, Unbinds uint64
	Dropped        map[Reason]uint64 // only reasons that occurred
	Ports          []PortStats       // in configuration order
	// Servers split FromServers by the configured server the reply came
	// from, in configuration order; FromOthers counts replies from any
	// other source (another relay's server, a rogue). Every request goes
	// to every server, so a server whose Replies stay far below the
	// others' (or ToServers) is not answering.
	Servers    []ServerStats
	FromOthers ServerStats
}

// ServerStats are the replies heard from one DHCP server.
type ServerStats struct {
	Addr      netip.Addr // zero in FromOthers
	Replies   uint64     // BOOTREPLYs heard from it, relayed or dropped
	Relayed   uint64     // of Replies, passed on to a client
	LastReply time.Time  // zero before the first
}

// PortStats are one port's counters.
type PortStats struct {
	Name                          string
	ToServers, ToClients, Dropped uint64
	// ToServersByType and ToClientsByType split ToServers and ToClients
	// by DHCP message type (0: BOOTP, no option 53); DroppedBy splits
	// Dropped by reason. Only types and reasons that occurred.
	ToServersByType, ToClientsByType map[lq.MessageType]uint64
	DroppedBy                        map[Reason]uint64
}

// countedTypes bounds the message types counted per port: BOOTP (0) and
// RFC 2131's DHCPDISCOVER (1) to DHCPINFORM (8), every type the relay
// passes on in either direction (clientType, FromServer).
const countedTypes = lq.Inform + 1

// counters are the live atomics behind Stats: fixed arrays indexed by
// port, message type and reason, so that counting allocates nothing.
type counters struct {
	fromClients, toServers, fromServers, toClients atomic.Uint64
	replaced, kept, binds, unbinds                 atomic.Uint64
	dropped                                        [numReasons]atomic.Uint64
	ports                                          []portCounters
	fromOthers                                     serverCounters
}

// serverCounters count one server's replies (ServerStats).
type serverCounters struct {
	replies, relayed atomic.Uint64
	last             atomic.Int64 // Unix nanoseconds of the last reply; 0: none
}

func (c *serverCounters) stats(addr netip.Addr) ServerStats {
	s := ServerStats{Addr: addr, Replies: c.replies.Load(), Relayed: c.relayed.Load()}
	if ns := c.last.Load(); ns != 0 {
		s.LastReply = time.Unix(0, ns)
	}
	return s
}

// carryServerCounters returns counters for servers, in order: those of a
// server cur already had, new ones for the others.
func carryServerCounters(cur *state, servers []netip.AddrPort) []*serverCounters {
	out := make([]*serverCounters, len(servers))
	for i, s := range servers {
		if cur != nil {
			if j := slices.Index(cur.servers, s); j >= 0 {
				out[i] = cur.fromServer[j]
				continue
			}
		}
		out[i] = new(serverCounters)
	}
	return out
}

// serverCounters returns the counters of the configured server at addr,
// or those of other sources. A linear scan: a card has a handful of
// servers, and comparing netip.Addrs allocates nothing.
func (r *Relay) serverCounters(st *state, addr netip.Addr) *serverCounters {
	addr = addr.Unmap()
	for i, s := range st.servers {
		if s.Addr() == addr {
			return st.fromServer[i]
		}
	}
	return &r.c.fromOthers
}

type portCounters struct {
	toServers, toClients, dropped atomic.Uint64
	toServersBy, toClientsBy      [countedTypes]atomic.Uint64
	droppedBy                     [numReasons]atomic.Uint64
}

// relayed counts a message of type typ relayed on port to the servers
// (up) or to a client.
func (c *counters) relayed(port int, typ lq.MessageType, up bool) {
	pc := &c.ports[port]
	total, by := &pc.toClients, &pc.toClientsBy
	if up {
		c.toServers.Add(1)
		total, by = &pc.toServers, &pc.toServersBy
	} else {
		c.toClients.Add(1)
	}
	total.Add(1)
	if typ < countedTypes {
		by[typ].Add(1)
	}
}

// Stats returns the counters so far.
func (r *Relay) Stats() Stats {
	c := &r.c
	s := Stats{
		FromClients: c.fromClients.Load(), ToServers: c.toServers.Load(),
		FromServers: c.fromServers.Load(), ToClients: c.toClients.Load(),
		Replaced: c.replaced.Load(), Kept: c.kept.Load(),
		Binds: c.binds.Load(), Unbinds: c.unbinds.Load(),
		Dropped:    nonZero[Reason](c.dropped[:]),
		FromOthers: c.fromOthers.stats(netip.Addr{}),
	}
	st := r.st.Load()
	for i, sc := range st.fromServer {
		s.Servers = append(s.Servers, sc.stats(st.servers[i].Addr()))
	}
	ports := st.ports
	for i := range c.ports {
		pc := &c.ports[i]
		s.Ports = append(s.Ports, PortStats{
			Name: ports.ports[i].Name, ToServers: pc.toServers.Load(),
			ToClients: pc.toClients.Load(), Dropped: pc.dropped.Load(),
			ToServersByType: nonZero[lq.MessageType](pc.toServersBy[:]),
			ToClientsByType: nonZero[lq.MessageType](pc.toClientsBy[:]),
			DroppedBy:       nonZero[Reason](pc.droppedBy[:]),
		})
	}
	return s
}

// nonZero maps each index of counts whose count is not zero to it.
func nonZero[K ~uint8](counts []atomic.Uint64) map[K]uint64 {
	m := map[K]uint64{}
	for i := range counts {
		if n := counts[i].Load(); n > 0 {
			m[K(i)] = n
		}
	}
	return m
}
