package relay

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/platform"
)

// DHCP options the relay reads that package lq has no name for.
const (
	optRequestedIP = 50 // RFC 2132 §9.1
)

// Verdict is what to do with a message.
type Verdict uint8

const (
	// Drop: do not pass it on; Decision.Reason says why.
	Drop Verdict = iota
	// ToServers: send Decision.Msg from the upstream socket to each of
	// Decision.Servers.
	ToServers
	// ToClient: send Decision.Msg out of port Decision.Port to
	// Decision.Dst.
	ToClient
)

// GleanKind is what a message teaches the location table.
type GleanKind uint8

const (
	NoGlean GleanKind = iota
	Bind              // Glean.Binding: upsert it (a DHCPACK was relayed)
	Unbind            // Glean.Removal: remove it (DHCPNAK, DHCPRELEASE, DHCPDECLINE)
)

func (k GleanKind) String() string {
	switch k {
	case Bind:
		return "bind"
	case Unbind:
		return "unbind"
	}
	return "none"
}

// Glean is the table write a relayed message calls for.
type Glean struct {
	Kind    GleanKind
	Binding location.Binding
	Removal location.Removal
}

// Decision is the relay's answer to one message. Msg aliases the buffer
// passed in and Servers the relay's own list: both are valid until that
// buffer is reused, and must not be modified.
type Decision struct {
	Verdict Verdict
	Reason  Reason // Drop
	Msg     []byte
	Servers []netip.AddrPort     // ToServers
	Port    int                  // ToClient: index in Config.Ports
	Dst     platform.Destination // ToClient
	Glean   Glean
}

// Relay decides what happens to each DHCP message crossing the line card.
// It does no I/O and reads no clock. Safe for concurrent use: ports and
// upstream sockets call it from their own goroutines, and Reconfigure
// swaps its configuration while they do.
type Relay struct {
	// st is the running configuration, resolved: every message loads it
	// once and decides under it, so a Reconfigure takes effect between
	// two messages, never within one, and the hot path takes no lock.
	st       atomic.Pointer[state]
	requests *requestLog
	c        counters
}

// state is one configuration as the hot path reads it. Immutable.
type state struct {
	cfg     Config
	ports   *PortMap
	servers []netip.AddrPort // every server, port 67
	// fromServer counts replies by the server they came from, in the
	// order of servers. A Reconfigure hands a server that stays its
	// counters, so an operator's figures survive a change of the list.
	fromServer []*serverCounters
}

// New validates cfg and precomputes each port's option 82.
func New(cfg Config) (*Relay, error) {
	st, err := newState(cfg)
	if err != nil {
		return nil, err
	}
	r := &Relay{requests: newRequestLog(st.cfg.RecentRequests, st.cfg.RequestTTL)}
	st.fromServer = carryServerCounters(nil, st.servers)
	r.st.Store(st)
	r.c.ports = make([]portCounters, st.ports.Len())
	return r, nil
}

func newState(cfg Config) (*state, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ports, err := NewPortMap(cfg)
	if err != nil {
		return nil, err
	}
	st := &state{cfg: cfg, ports: ports}
	for _, s := range cfg.Servers {
		st.servers = append(st.servers, netip.AddrPortFrom(s, 67))
	}
	return st, nil
}

// Reconfigure replaces the relay's configuration atomically: a message
// is decided wholly under the old one or wholly under cfg. The servers,
// each port's option 82 and trust, the hop limit, renewals and relay-id
// may change; the ports themselves may not (the same number, in the same
// order, on the same interfaces: their sockets and counters are the
// caller's), nor the request memory's size. On error nothing changed.
//
// A reply to a request relayed under the old configuration is routed by
// the option 82 it carries: if the port's circuit-id or the relay-id
// changed, it no longer matches and is dropped (UnknownCircuit or
// ForeignRelayID); the client retransmits and its next request goes out
// with the new option.
func (r *Relay) Reconfigure(cfg Config) error {
	st, err := newState(cfg)
	if err != nil {
		return err
	}
	cur := r.st.Load()
	if err := samePorts(cur.ports, st.ports); err != nil {
		return err
	}
	if st.cfg.RecentRequests != cur.cfg.RecentRequests || st.cfg.RequestTTL != cur.cfg.RequestTTL {
		return fmt.Errorf("relay: the request memory (%d requests, %v) cannot change at run time",
			cur.cfg.RecentRequests, cur.cfg.RequestTTL)
	}
	st.fromServer = carryServerCounters(cur, st.servers)
	r.st.Store(st)
	return nil
}

// samePorts checks that next has the ports of cur, interface by interface.
func samePorts(cur, next *PortMap) error {
	if cur.Len() != next.Len() {
		return fmt.Errorf("relay: %d ports configured, %d running: ports cannot be added or removed at run time", next.Len(), cur.Len())
	}
	for i := range cur.ports {
		if a, b := cur.ports[i].Interface, next.ports[i].Interface; a != b {
			return fmt.Errorf("relay: ports[%d]: interface %s, running %s: a port's interface cannot change at run time", i, b, a)
		}
	}
	return nil
}

// Ports returns the relay's port map under the running configuration.
func (r *Relay) Ports() *PortMap { return r.st.Load().ports }

// Servers returns the servers relayed to, port 67. Do not modify it.
func (r *Relay) Servers() []netip.AddrPort { return r.st.Load().servers }

// MaxLen is the longest message the relay sends upstream: buffers passed
// to FromClient need at least this capacity for option 82 to be added
// without allocating.
func (r *Relay) MaxLen() int { return r.st.Load().cfg.MaxLen }

// drop counts a dropped message and says so.
func (r *Relay) drop(port int, why Reason, msg []byte) Decision {
	r.c.dropped[why].Add(1)
	if port >= 0 && port < len(r.c.ports) {
		r.c.ports[port].dropped.Add(1)
		r.c.ports[port].droppedBy[why].Add(1)
	}
	return Decision{Verdict: Drop, Reason: why, Msg: msg, Port: port}
}

// serversFor returns whom a client message addressed to dst goes to: the
// server it names, when it names one of ours, else all of them.
func (s *state) serversFor(dst netip.Addr) []netip.AddrPort {
	for i := range s.servers {
		if s.servers[i].Addr() == dst {
			return s.servers[i : i+1]
		}
	}
	return s.servers
}

// optTime converts a relative time option (seconds, 4 octets) to an
// absolute time at now; zero when absent.
func optTime(now time.Time, p lq.Packet, code uint8) time.Time {
	v, ok := p.Option(code)
	if !ok || len(v) != 4 {
		return time.Time{}
	}
	secs := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
	return now.Add(time.Duration(secs) * time.Second)
}
