// Package nft builds and programs leaseguard's source-address verification
// ruleset: one netdev table with an ingress chain per subscriber port that
// passes IPv4 and ARP only from (port, IP, MAC) bindings learnt from DHCP,
// reports unknown sources to an NFLOG group and counts every drop; and
// beside it an ip table of the same name that drops traffic routed towards
// a subscriber address without a binding (reporting it too) and client
// DHCP the kernel would forward while leaseguard relays it. Both tables
// are replaced together in one transaction (Rebuild) and their sets
// changed together in one (Apply).
//
// Building the ruleset (Build, Config, Element) is pure. Programming it is
// behind the Applier interface: Kernel talks nf_tables netlink through
// github.com/google/nftables, Fake keeps the state in memory for tests of
// callers.
package nft

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Defaults applied by Config.Validate to zero fields.
const (
	DefaultTable          = "leaseguard"
	DefaultUnknownRate    = 10               // reports per second per port
	DefaultUnknownBurst   = 5                // nft's default burst
	DefaultUnknownTimeout = 30 * time.Second // de-duplication window per source
	DefaultUnknownSize    = 65536            // de-duplicated sources held at once
	// DefaultMaxTimeout bounds element timeouts. On 32-bit kernels with
	// HZ=1000 the kernel rejects timeouts above about 12.4 days (jiffies
	// overflow) with ERANGE, which would abort the whole batch.
	DefaultMaxTimeout = 7 * 24 * time.Hour
	// DefaultPriority runs the ingress chains before anything else on the
	// port (tc ingress and other netdev tables at priority 0).
	DefaultPriority = -500
	// DefaultDownstreamRate and DefaultDownstreamBurst limit reports of
	// unknown destinations, all ports together.
	DefaultDownstreamRate  = 100
	DefaultDownstreamBurst = 20
)

// Config is the ruleset leaseguard owns.
type Config struct {
	// Table is the netdev table leaseguard creates and replaces whole.
	Table string
	// Ports are the subscriber-facing interfaces to guard.
	Ports []Port
	// NFLogGroup receives one message per newly seen unknown source.
	NFLogGroup uint16
	// UnknownRate and UnknownBurst limit reports per second per port.
	UnknownRate, UnknownBurst uint32
	// UnknownTimeout is how long a reported source is not reported again.
	UnknownTimeout time.Duration
	// UnknownSize bounds the set of recently reported sources.
	UnknownSize uint32
	// AllowIPv6 passes IPv6 on subscriber ports unverified; otherwise it is
	// counted and dropped.
	AllowIPv6 bool
	// TrustedMACs are exempt from verification on every port (test
	// equipment, the operator's own CPE management).
	TrustedMACs []net.HardwareAddr
	// MaxTimeout caps element timeouts; a binding whose lease runs longer
	// must be re-applied before the cap passes.
	MaxTimeout time.Duration
	// Priority of the ingress chains.
	Priority int32

	// SubscriberNets are the prefixes subscribers are addressed from.
	// When set, a second owned table (family ip, same name) drops every
	// packet towards an address in them that no binding holds, before
	// routing, and reports each new one to NFLogGroup: the card never
	// ARPs down a port for an address it does not know, and traffic
	// towards a subscriber it has forgotten (after a reboot: the case
	// RFC 4388 §1 was written for) triggers a leasequery.
	SubscriberNets []netip.Prefix
	// DownstreamRate and DownstreamBurst limit those reports per second,
	// all ports together.
	DownstreamRate, DownstreamBurst uint32
	// DropForwardedDHCP drops client DHCP (UDP 68 -> 67) that the kernel
	// would forward from a subscriber port: when leaseguard relays
	// unicast renewals itself, routing must not deliver a second copy
	// without option 82. It lives in the ip table too.
	DropForwardedDHCP bool
}

// hasIPTable reports whether the ruleset has the ip-family table.
func (cfg Config) hasIPTable() bool { return len(cfg.SubscriberNets) > 0 || cfg.DropForwardedDHCP }

// Port is one subscriber-facing interface.
type Port struct {
	// Name is the interface name (at most 15 bytes).
	Name string
	// RelayAddr is the relay's own IPv4 address on the port: DHCP client
	// traffic (udp 68 -> 67) to it or to 255.255.255.255 passes unverified.
	// The zero Addr allows the broadcast address only.
	RelayAddr netip.Addr
}

// Validate checks cfg and returns it with defaults filled in.
func (cfg Config) Validate() (Config, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if len(cfg.Table) > 255 || strings.ContainsRune(cfg.Table, 0) {
		return cfg, fmt.Errorf("nft config: table name %q: must be 1-255 bytes without NUL", cfg.Table)
	}
	if err := validatePorts(cfg.Ports); err != nil {
		return cfg, err
	}
	for i, mac := range cfg.TrustedMACs {
		if len(mac) != 6 {
			return cfg, fmt.Errorf("nft config: trusted MAC %d (%v): length %d, want 6", i, mac, len(mac))
		}
	}
	cfg.UnknownRate = orDefault(cfg.UnknownRate, DefaultUnknownRate)
	cfg.UnknownBurst = orDefault(cfg.UnknownBurst, DefaultUnknownBurst)
	cfg.UnknownSize = orDefault(cfg.UnknownSize, DefaultUnknownSize)
	cfg.UnknownTimeout = orDefault(cfg.UnknownTimeout, DefaultUnknownTimeout)
	cfg.MaxTimeout = orDefault(cfg.MaxTimeout, DefaultMaxTimeout)
	cfg.Priority = orDefault(cfg.Priority, DefaultPriority)
	cfg.DownstreamRate = orDefault(cfg.DownstreamRate, DefaultDownstreamRate)
	cfg.DownstreamBurst = orDefault(cfg.DownstreamBurst, DefaultDownstreamBurst)
	if err := cfg.maskNets(); err != nil {
		return cfg, err
	}
	if cfg.UnknownTimeout < time.Millisecond || cfg.MaxTimeout < time.Millisecond {
		return cfg, fmt.Errorf("nft config: timeouts must be at least 1ms (unknown %v, max %v)", cfg.UnknownTimeout, cfg.MaxTimeout)
	}
	return cfg, nil
}

// maskNets checks the subscriber nets and masks copies of them.
func (cfg *Config) maskNets() error {
	if len(cfg.SubscriberNets) == 0 {
		return nil
	}
	nets := make([]netip.Prefix, len(cfg.SubscriberNets))
	for i, p := range cfg.SubscriberNets {
		if !p.IsValid() || !p.Addr().Is4() {
			return fmt.Errorf("nft config: subscriber net %d (%v): not an IPv4 prefix", i, p)
		}
		nets[i] = p.Masked()
	}
	cfg.SubscriberNets = nets
	return nil
}

func validatePorts(ports []Port) error {
	seen := make(map[string]bool, len(ports))
	for i, p := range ports {
		if err := validIfname(p.Name); err != nil {
			return fmt.Errorf("nft config: port %d: %v", i, err)
		}
		if seen[p.Name] {
			return fmt.Errorf("nft config: port %d: %q listed twice", i, p.Name)
		}
		seen[p.Name] = true
		if p.RelayAddr.IsValid() && (!p.RelayAddr.Unmap().Is4() || p.RelayAddr.IsUnspecified()) {
			return fmt.Errorf("nft config: port %q: relay address %v is not a unicast IPv4 address", p.Name, p.RelayAddr)
		}
	}
	return nil
}

// validIfname applies the kernel's rules for interface names (dev_valid_name).
func validIfname(name string) error {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return fmt.Errorf("interface name %q: must be 1-15 bytes, not . or ..", name)
	}
	if strings.ContainsAny(name, "/: \t\n\x00") {
		return fmt.Errorf("interface name %q: contains '/', ':', NUL or white space", name)
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
