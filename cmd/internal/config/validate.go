package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
)

// FieldError is one problem with a configuration: the field as a JSON
// path ("ports[1].gateway"; empty for a syntax error) and what is wrong,
// naming the value. Malformed is set for documents that do not decode
// (syntax, unknown keys, wrong types) as opposed to values out of range.
// Parse and Validate return one, or several joined with errors.Join.
type FieldError struct {
	Field     string
	Msg       string
	Malformed bool
}

func (e *FieldError) Error() string {
	switch {
	case e.Field == "":
		return "config: " + e.Msg
	case e.Msg == "unknown key":
		return fmt.Sprintf("config: unknown key %q", e.Field)
	}
	return "config: " + e.Field + ": " + e.Msg
}

// Validate checks the values that decoding alone cannot: presence, ranges,
// uniqueness and consistency. It reports every problem, not just the first.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	c.validateNetwork(bad)
	c.validatePorts(bad)
	c.validateTuning(bad)
	c.validateBPI(bad)
	c.validateFrontEnds(bad)
	return errors.Join(errs...)
}

type badFunc func(field, format string, args ...any)

func (c *Config) validateNetwork(bad badFunc) {
	if c.Upstream.Interface == "" {
		bad("upstream.interface", "required: the interface towards the DHCP servers")
	}
	if !c.Upstream.Address.Is4() || c.Upstream.Address.IsUnspecified() {
		bad("upstream.address", "%v is not a usable IPv4 address (it is the giaddr of leasequeries)", c.Upstream.Address)
	}
	if len(c.Servers) == 0 {
		bad("servers", "at least one DHCP server address is required")
	}
	seen := map[netip.Addr]bool{}
	for i, s := range c.Servers {
		f := fmt.Sprintf("servers[%d]", i)
		switch {
		case !s.Is4() || s.IsUnspecified() || s.IsMulticast():
			bad(f, "%v is not a unicast IPv4 address", s)
		case seen[s]:
			bad(f, "%v is listed twice", s)
		}
		seen[s] = true
	}
	if len(c.Subscriber) == 0 {
		bad("subscriber_networks", "at least one prefix is required: leasequeries are never sent about addresses outside them (RFC 4388 §7)")
	}
	for i, p := range c.Subscriber {
		if !p.Addr().Is4() {
			bad(fmt.Sprintf("subscriber_networks[%d]", i), "%v is not an IPv4 prefix", p)
		}
	}
}

func (c *Config) validatePorts(bad badFunc) {
	if len(c.Ports) == 0 {
		bad("ports", "at least one subscriber port is required")
	}
	names, ifaces, circuits := map[string]int{}, map[string]int{}, map[string]int{}
	for i, p := range c.Ports {
		f := fmt.Sprintf("ports[%d]", i)
		if p.Name == "" {
			bad(f+".name", "required")
		} else if j, dup := names[p.Name]; dup {
			bad(f+".name", "%q is also the name of ports[%d]", p.Name, j)
		}
		names[p.Name] = i
		if p.Interface == "" || len(p.Interface) > 15 || strings.ContainsAny(p.Interface, " /") {
			bad(f+".interface", "%q is not a Linux interface name (1-15 characters, no '/' or space)", p.Interface)
		} else if j, dup := ifaces[p.Interface]; dup {
			bad(f+".interface", "%q is also the interface of ports[%d]", p.Interface, j)
		} else if p.Interface == c.Upstream.Interface {
			bad(f+".interface", "%q is the upstream interface", p.Interface)
		}
		ifaces[p.Interface] = i
		if j, dup := circuits[p.CircuitID]; dup {
			bad(f+".circuit_id", "%q is also the circuit of ports[%d]: replies could not find their port", p.CircuitID, j)
		}
		circuits[p.CircuitID] = i
		if len(p.CircuitID) > 255 || len(p.RemoteID) > 255 || len(p.SubscriberID) > 255 {
			bad(f, "circuit_id, remote_id and subscriber_id are limited to 255 bytes")
		}
		if p.Kind == "" {
			bad(f+".kind", "required: one of cable, dsl, ethernet")
		}
		if !p.Gateway.Is4() || p.Gateway.IsUnspecified() {
			bad(f+".gateway", "%v is not a usable IPv4 address (the port's own address, giaddr of its clients)", p.Gateway)
		}
		if p.LinkSelection.IsValid() && !p.LinkSelection.Is4() {
			bad(f+".link_selection", "%v is not an IPv4 address", p.LinkSelection)
		}
		if p.Kind != Cable && (!p.Modem.IsZero() || p.DeviceClass != 0) {
			bad(f, "modem and device_class apply to cable ports only (kind is %q)", p.Kind)
		}
		if p.Trust == Untrusted && p.Policy != PolicyDrop {
			bad(f+".option82_policy", "%q needs trust \"trusted\": an untrusted port always drops client option 82", p.Policy)
		}
	}
}

func (c *Config) validateTuning(bad badFunc) {
	if c.Relay.MaxHops < 1 || c.Relay.MaxHops > 16 {
		bad("relay.max_hops", "%d is outside 1-16 (RFC 1542 recommends a limit at most 16)", c.Relay.MaxHops)
	}
	if c.Relay.Renewals != "relay" && c.Relay.Renewals != "route" {
		bad("relay.renewals", "%q is not one of \"relay\", \"route\"", c.Relay.Renewals)
	}
	lq := c.Leasequery
	// RFC 4388 §6.7: "SHOULD be limited to 100 or 200".
	if lq.MaxOutstanding < 1 || lq.MaxOutstanding > 200 {
		bad("leasequery.max_outstanding", "%d is outside 1-200 (RFC 4388 §6.7 limits outstanding queries per server to 100 or 200)", lq.MaxOutstanding)
	}
	if lq.InitialWindow < 1 || lq.InitialWindow > lq.MaxOutstanding {
		bad("leasequery.initial_window", "%d is outside 1-max_outstanding (%d)", lq.InitialWindow, lq.MaxOutstanding)
	}
	if lq.Retries < 0 || lq.Retries > 8 {
		bad("leasequery.retries", "%d is outside 0-8", lq.Retries)
	}
	if lq.UnknownTTL < Duration(10e9) || lq.UnknownTTL > Duration(3600e9) {
		bad("leasequery.unknown_ttl", "%v is outside 10s-1h (RFC 4388 §6.7 suggests about 5 minutes)", lq.UnknownTTL)
	}
	for i, code := range lq.Request {
		if code == 0 || code == 255 {
			bad(fmt.Sprintf("leasequery.request[%d]", i), "%d is not an option code", code)
		}
	}
	e := c.Enforcement
	if len(e.Table) > 31 {
		bad("enforcement.table", "%q is longer than 31 characters", e.Table)
	}
	if e.PerPortQueries < 0 || e.PerPortQueries > 10000 {
		bad("enforcement.per_port_queries", "%d is outside 1-10000", e.PerPortQueries)
	}
	if e.PerPortInterval < 0 || (e.PerPortInterval != 0 && (e.PerPortInterval < Duration(100e6) || e.PerPortInterval > Duration(3600e9))) {
		bad("enforcement.per_port_interval", "%v is outside 100ms-1h", time.Duration(e.PerPortInterval))
	}
	if e.DownstreamPerSec < 0 || e.DownstreamPerSec > 100000 {
		bad("enforcement.downstream_queries_per_second", "%d is outside 1-100000", e.DownstreamPerSec)
	}
	if p := c.Snapshot.Path; p != "" && !filepath.IsAbs(p) {
		bad("snapshot.path", "%q is not an absolute path", p)
	}
	if c.Snapshot.WriteDelay < 0 || c.Snapshot.WriteDelay > Duration(24*3600e9) {
		bad("snapshot.write_delay", "%v is outside 0-24h", time.Duration(c.Snapshot.WriteDelay))
	}
}

func (c *Config) validateFrontEnds(bad badFunc) {
	switch c.Console.Baud {
	case 0, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600:
	default:
		bad("console.baud", "%d is not a standard rate (9600-921600)", c.Console.Baud)
	}
	if c.API.TCP != nil {
		t := c.API.TCP
		if t.Listen == "" || t.Cert == "" || t.Key == "" || t.ClientCA == "" {
			bad("api.tcp", "listen, cert, key and client_ca are all required: TCP is served only with mutual TLS")
		}
	}
	if err := checkLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}
	for sub, lvl := range c.Log.Subsystems {
		if !knownSubsystem(sub) {
			bad("log.subsystems."+sub, "unknown subsystem (known: %s)", strings.Join(Subsystems, ", "))
		}
		if err := checkLevel(lvl); err != nil {
			bad("log.subsystems."+sub, "%v", err)
		}
	}
}

// Subsystems are the names a log level or debug trace can be set for.
var Subsystems = []string{"agent", "relay", "lq", "glean", "nft", "bpi", "console", "api", "board"}

func knownSubsystem(s string) bool {
	for _, k := range Subsystems {
		if k == s {
			return true
		}
	}
	return false
}

func checkLevel(s string) error {
	if s == "" {
		return nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("%q is not a level (debug, info, warn, error)", s)
	}
	return nil
}
