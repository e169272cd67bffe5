package relay

import (
	"net/netip"
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
// upstream sockets call it from their own goroutines.
type Relay struct {
	cfg      Config
	ports    *PortMap
	servers  []netip.AddrPort // every server, port 67
	requests *requestLog
	c        counters
}

// New validates cfg and precomputes each port's option 82.
func New(cfg Config) (*Relay, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ports, err := NewPortMap(cfg)
	if err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, ports: ports, requests: newRequestLog(cfg.RecentRequests, cfg.RequestTTL)}
	for _, s := range cfg.Servers {
		r.servers = append(r.servers, netip.AddrPortFrom(s, 67))
	}
	r.c.ports = make([]portCounters, ports.Len())
	return r, nil
}

// Ports returns the relay's port map.
func (r *Relay) Ports() *PortMap { return r.ports }

// MaxLen is the longest message the relay sends upstream: buffers passed
// to FromClient need at least this capacity for option 82 to be added
// without allocating.
func (r *Relay) MaxLen() int { return r.cfg.MaxLen }

// drop counts a dropped message and says so.
func (r *Relay) drop(port int, why Reason, msg []byte) Decision {
	r.c.dropped[why].Add(1)
	if port >= 0 && port < len(r.c.ports) {
		r.c.ports[port].dropped.Add(1)
	}
	return Decision{Verdict: Drop, Reason: why, Msg: msg, Port: port}
}

// serversFor returns whom a client message addressed to dst goes to: the
// server it names, when it names one of ours, else all of them.
func (r *Relay) serversFor(dst netip.Addr) []netip.AddrPort {
	for i := range r.servers {
		if r.servers[i].Addr() == dst {
			return r.servers[i : i+1]
		}
	}
	return r.servers
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
