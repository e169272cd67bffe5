package engine

import (
	"fmt"
	"net/netip"
	"time"
)

// Timing fixed by the RFCs rather than configured.
const (
	// ServerTimer is the per-server timer of RFC 4388 §6.7: restarted by
	// every response from a server, it expires after one minute without one.
	ServerTimer = time.Minute
	// MinProbeInterval is the shortest gap between two queries to a server
	// whose timer has expired (one that is "not otherwise known to support
	// the DHCPLEASEQUERY message", RFC 4388 §6.7: "not more than
	// approximately one packet every 10 seconds").
	MinProbeInterval = 10 * time.Second
	// RFCMaxWindow is the most queries outstanding to one server that
	// RFC 4388 §6.7 allows ("SHOULD be limited to 100 or 200").
	RFCMaxWindow = 200

	firstBackoff  = 4 * time.Second  // RFC 2131 §4.1: first retransmission after 4 s
	maxBackoff    = 64 * time.Second // ... doubling up to 64 s
	backoffJitter = time.Second      // ... each randomised by a uniform ±1 s
	maxServers    = 32
)

// Defaults for the zero values of Config.
const (
	DefaultInitialWindow   = 32
	DefaultMaxWindow       = 64
	DefaultRetransmissions = 4
	DefaultMaxPending      = 4096
	DefaultUnknownTTL      = 5 * time.Minute
	DefaultMaxCacheEntries = 1 << 16
)

// Config is what the engine is told. Zero numeric fields take the defaults
// above; New rejects out-of-range values, naming the field.
type Config struct {
	// Servers are the DHCP servers to query (IPv4, distinct). Per-server
	// answers are reported in this order.
	Servers []netip.Addr
	// SubscriberPrefixes are the attached broadband networks: no query by
	// IP address is sent about an address outside them (RFC 4388 §7
	// "ciaddr restriction").
	SubscriberPrefixes []netip.Prefix
	// InitialWindow is how many queries a server may have outstanding
	// when its timer starts running; the window then adapts (see window.go).
	InitialWindow int
	// MaxWindow caps the adaptive window; at most RFCMaxWindow. The
	// default, 64, is below where Debian's dhcpd starts dropping:
	// BenchmarkSweepRealDHCPD, 16,382 addresses, caps 32/50/64 lost no
	// query (3,100-4,800 answers/s on a loaded machine), caps 100 and 200
	// lost 0.1-1 %, and each loss costs RFC 2131's 4 s, so those sweeps
	// ran at 700-1,850 answers/s. Raise it for servers that keep up.
	MaxWindow int
	// Retransmissions bounds the retransmissions of one query to one
	// server (RFC 2131 §4.1 backoff); after the last one the query times
	// out at that server.
	Retransmissions int
	// MaxPending bounds the queries submitted and not yet finished, so a
	// flood cannot exhaust memory; Submit fails with ErrPendingFull beyond it.
	MaxPending int
	// UnknownTTL is how long a DHCPLEASEUNKNOWN is cached (RFC 4388 §6.6:
	// "approximately 5 minutes").
	UnknownTTL time.Duration
	// MaxCacheEntries bounds the answer cache and, separately, the memory
	// of which server owns which address or client. The default covers a
	// /16. Measured (BenchmarkCacheMemory, real dhcpd answers, cache and
	// owner memory together): about 120 bytes per UNASSIGNED by address,
	// 270 per ACTIVE with option 82.
	MaxCacheEntries int
}

// withDefaults returns c with its zero fields set to the defaults, and
// checks every field.
func (c Config) withDefaults() (Config, error) {
	if err := c.checkServers(); err != nil {
		return c, err
	}
	if err := c.checkPrefixes(); err != nil {
		return c, err
	}
	c.InitialWindow = orDefault(c.InitialWindow, DefaultInitialWindow)
	c.MaxWindow = orDefault(c.MaxWindow, DefaultMaxWindow)
	c.Retransmissions = orDefault(c.Retransmissions, DefaultRetransmissions)
	c.MaxPending = orDefault(c.MaxPending, DefaultMaxPending)
	c.MaxCacheEntries = orDefault(c.MaxCacheEntries, DefaultMaxCacheEntries)
	if c.UnknownTTL == 0 {
		c.UnknownTTL = DefaultUnknownTTL
	}
	checks := []struct {
		name       string
		v, lo, hi  int
		constraint string
	}{
		{"MaxWindow", c.MaxWindow, 1, RFCMaxWindow, "RFC 4388 §6.7 limits outstanding queries to 200"},
		{"InitialWindow", c.InitialWindow, 1, c.MaxWindow, "at most MaxWindow"},
		{"Retransmissions", c.Retransmissions, 1, 16, ""},
		{"MaxPending", c.MaxPending, 1, 1 << 24, ""},
		{"MaxCacheEntries", c.MaxCacheEntries, 1, 1 << 24, ""},
	}
	for _, k := range checks {
		if k.v < k.lo || k.v > k.hi {
			return c, fmt.Errorf("engine config: %s %d outside %d..%d %s", k.name, k.v, k.lo, k.hi, k.constraint)
		}
	}
	if c.UnknownTTL < 0 {
		return c, fmt.Errorf("engine config: UnknownTTL %v is negative", c.UnknownTTL)
	}
	return c, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (c *Config) checkServers() error {
	if len(c.Servers) == 0 || len(c.Servers) > maxServers {
		return fmt.Errorf("engine config: Servers: %d listed, want 1..%d", len(c.Servers), maxServers)
	}
	servers := make([]netip.Addr, len(c.Servers))
	for i, a := range c.Servers {
		a = a.Unmap()
		if !a.Is4() || a.IsUnspecified() {
			return fmt.Errorf("engine config: Servers[%d]: %v is not a unicast IPv4 address", i, c.Servers[i])
		}
		for j := range i {
			if servers[j] == a {
				return fmt.Errorf("engine config: Servers[%d]: %v already listed as Servers[%d]", i, a, j)
			}
		}
		servers[i] = a
	}
	c.Servers = servers
	return nil
}

func (c *Config) checkPrefixes() error {
	if len(c.SubscriberPrefixes) == 0 {
		return fmt.Errorf("engine config: SubscriberPrefixes: none listed; queries by IP address need at least one (RFC 4388 §7)")
	}
	prefixes := make([]netip.Prefix, len(c.SubscriberPrefixes))
	for i, p := range c.SubscriberPrefixes {
		if !p.IsValid() || !p.Addr().Is4() {
			return fmt.Errorf("engine config: SubscriberPrefixes[%d]: %v is not an IPv4 prefix", i, p)
		}
		prefixes[i] = p.Masked()
	}
	c.SubscriberPrefixes = prefixes
	return nil
}
