package relay

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// Renewals says what happens to a client's DHCPREQUEST (or DHCPRELEASE,
// DHCPINFORM) sent by unicast to a server through the port's gateway.
type Renewals uint8

const (
	// RelayRenewals relays them like broadcasts, with option 82, to the
	// server they were addressed to, so that renewals and releases are
	// gleaned. The kernel must then not also forward them (an nftables
	// rule dropping forwarded UDP 68->67 from subscriber ports).
	RelayRenewals Renewals = iota
	// RouteRenewals leaves them to the kernel's forwarding: the server
	// answers the client directly, and the relay neither sees nor gleans
	// renewals and releases (bindings then live until their first expiry).
	RouteRenewals
)

// Policy is what a trusted port does with a client message that already
// carries option 82 (RFC 3046 §2.1.1), like ISC dhcrelay's -m.
type Policy uint8

const (
	PolicyDrop    Policy = iota // drop it and count
	PolicyReplace               // remove the client's option 82, insert ours
	PolicyKeep                  // forward it with the client's option 82, add nothing
)

// Defaults for the zero values of Config.
const (
	DefaultMaxHops        = 10
	DefaultRecentRequests = 4096
	DefaultRequestTTL     = time.Minute
)

// PortConfig is one subscriber port.
type PortConfig struct {
	// Name is the operator's name of the port ("cable1/0/0"): the table's
	// Port of every binding gleaned on it.
	Name string
	// Interface is the Linux interface the port's packet socket is bound
	// to (platform.PortConn.Name).
	Interface string
	// Gateway is the port's own address: the giaddr of its clients, and
	// the RFC 5107 server identifier override.
	Gateway netip.Addr
	// LinkSelection, when valid, makes giaddr the upstream address and
	// names this subnet in sub-option 5 (RFC 3527).
	LinkSelection netip.Addr
	// CircuitID is sub-option 1; required, unique among the ports.
	CircuitID []byte
	// RemoteID is sub-option 2 when not empty (for cable, the modem MAC).
	RemoteID []byte
	// Modem is the cable modem behind the port, recorded in the bindings.
	Modem net.HardwareAddr
	// DeviceClass is sent as sub-option 4 (RFC 3256) when HasDeviceClass.
	DeviceClass    lq.DeviceClass
	HasDeviceClass bool
	// SubscriberID is sub-option 6 (RFC 3993) when not empty.
	SubscriberID string
	// Trusted ports may carry option 82 or a giaddr from a downstream
	// agent (RFC 3046 §2.1.1); Policy says what to do with the former.
	Trusted bool
	Policy  Policy
}

// Config is what a Relay is told.
type Config struct {
	// Upstream is the relay's address towards the servers: the giaddr of
	// ports with link selection.
	Upstream netip.Addr
	// Servers receive every relayed client message.
	Servers []netip.Addr
	// MaxHops: a client message is relayed only when its incremented hop
	// count is at most this (RFC 1542 §4.1.1: at most 16); 0 means 10.
	MaxHops int
	// MaxLen is the longest message the relay sends upstream after adding
	// option 82; 0 means lq.DefaultMaxLen (576, ISC dhcrelay's -A).
	MaxLen int
	// ServerIDOverride adds sub-option 11 (RFC 5107) with the port's
	// gateway, so that renewals come to the relay.
	ServerIDOverride bool
	Renewals         Renewals
	// RelayID is sub-option 12 (RFC 6925) when not empty; replies must
	// then carry it.
	RelayID []byte
	Ports   []PortConfig
	// RecentRequests bounds the memory of relayed requests kept to glean
	// their answers (client-id, vendor class, requested address) and to
	// route replies that carry no option 82 of ours; 0 means 4096.
	RecentRequests int
	// RequestTTL is how long such a request is remembered; 0 means 1 min.
	RequestTTL time.Duration
}

func (c *Config) setDefaults() {
	if c.MaxHops == 0 {
		c.MaxHops = DefaultMaxHops
	}
	if c.MaxLen == 0 {
		c.MaxLen = lq.DefaultMaxLen
	}
	if c.RecentRequests == 0 {
		c.RecentRequests = DefaultRecentRequests
	}
	if c.RequestTTL == 0 {
		c.RequestTTL = DefaultRequestTTL
	}
}

// validate checks what New relies on; errors name the field.
func (c *Config) validate() error {
	switch {
	case !c.Upstream.Is4() || c.Upstream.IsUnspecified():
		return fmt.Errorf("relay: upstream address %v is not a usable IPv4 address", c.Upstream)
	case len(c.Servers) == 0:
		return fmt.Errorf("relay: no servers")
	case c.MaxHops < 1 || c.MaxHops > 16:
		return fmt.Errorf("relay: max hops %d outside 1-16 (RFC 1542 §4.1.1)", c.MaxHops)
	case c.MaxLen < lq.DefaultMaxLen || c.MaxLen > 65507:
		return fmt.Errorf("relay: max length %d outside %d-65507", c.MaxLen, lq.DefaultMaxLen)
	case c.RecentRequests < 1 || c.RequestTTL < 0:
		return fmt.Errorf("relay: recent requests %d, TTL %v: need at least one, non-negative", c.RecentRequests, c.RequestTTL)
	case len(c.Ports) == 0:
		return fmt.Errorf("relay: no ports")
	}
	for i, s := range c.Servers {
		if !s.Is4() || s.IsUnspecified() || s.IsMulticast() {
			return fmt.Errorf("relay: servers[%d]: %v is not a unicast IPv4 address", i, s)
		}
	}
	return nil
}
