// Package config is the agent's configuration: a strict JSON file decoded
// into validated types. Unknown keys are errors, every error names the
// field and the value, and parsing does no I/O, so the same code validates a
// file at start-up, a SIGHUP reload and a management-plane apply.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"reflect"
	"time"
)

// Config is the whole agent configuration.
type Config struct {
	// Board names the line-card profile (board package); empty means
	// detect it, or run without board preparation on a plain Linux host.
	Board string `json:"board,omitempty"`
	// RelayID is this card's stable identity, sent as option 82 sub-option
	// 12 (RFC 6925) and kept across reboots.
	RelayID string `json:"relay_id,omitempty"`

	Upstream   Upstream     `json:"upstream"`
	Servers    []netip.Addr `json:"servers"`
	Subscriber []Prefix     `json:"subscriber_networks"`
	Ports      []Port       `json:"ports"`

	Relay       Relay       `json:"relay"`
	Leasequery  Leasequery  `json:"leasequery"`
	Enforcement Enforcement `json:"enforcement"`
	BPI         BPI         `json:"bpi,omitzero"`
	Snapshot    Snapshot    `json:"snapshot"`
	Console     Console     `json:"console"`
	API         API         `json:"api"`
	Log         Log         `json:"log"`
}

// Upstream is the network side: where the servers are reached from.
type Upstream struct {
	Interface string     `json:"interface"`
	Address   netip.Addr `json:"address"` // giaddr of leasequeries; source of relayed packets
}

// Port is one subscriber port: a Linux interface (physical, VLAN or veth)
// that stands for a port or virtual circuit of the access network.
type Port struct {
	Name      string     `json:"name"`      // operator's name, used in option 82 and the table
	Interface string     `json:"interface"` // Linux interface
	Kind      PortKind   `json:"kind"`      // cable, dsl or ethernet
	Gateway   netip.Addr `json:"gateway"`   // giaddr for clients on this port (the port's own address)
	// LinkSelection, when set, makes the relay use the upstream address as
	// giaddr and name this subnet in sub-option 5 (RFC 3527).
	LinkSelection netip.Addr `json:"link_selection,omitzero"`
	CircuitID     string     `json:"circuit_id,omitempty"` // default: the port name
	RemoteID      string     `json:"remote_id,omitempty"`  // DSL: configured; cable: defaults to the modem MAC
	// Modem is the cable modem behind this port (one DOCSIS service flow per
	// port in this model); sent as remote-id and used to key BPI.
	Modem        MAC            `json:"modem,omitzero"`
	DeviceClass  uint32         `json:"device_class,omitempty"` // RFC 3256, cable only
	Trust        Trust          `json:"trust,omitempty"`        // default untrusted
	Policy       Option82Policy `json:"option82_policy,omitempty"`
	SubscriberID string         `json:"subscriber_id,omitempty"` // RFC 3993
}

// Relay tunes the relay agent.
type Relay struct {
	MaxHops          int  `json:"max_hops,omitempty"`           // default 10
	ServerIDOverride bool `json:"server_id_override,omitempty"` // RFC 5107 sub-option 11
	// Renewals: how unicast DHCPREQUESTs from subscribers to a server are
	// handled: "relay" (default; they are relayed with option 82, so renewals
	// are gleaned) or "route" (left to the kernel's forwarding).
	Renewals string `json:"renewals,omitempty"`
}

// Leasequery tunes the RFC 4388 client.
type Leasequery struct {
	MaxOutstanding int      `json:"max_outstanding,omitempty"` // RFC cap 100-200; default 100
	InitialWindow  int      `json:"initial_window,omitempty"`
	Retries        int      `json:"retries,omitempty"`
	UnknownTTL     Duration `json:"unknown_ttl,omitzero"` // default 5m
	Request        []uint8  `json:"request,omitempty"`    // parameter request list
	SweepOnStart   bool     `json:"sweep_on_start,omitempty"`
}

// Enforcement configures source-address verification and forwarding.
type Enforcement struct {
	Enabled     bool   `json:"enabled"`
	Table       string `json:"table,omitempty"` // nftables netdev table; default leaseguard
	NFLogGroup  uint16 `json:"nflog_group,omitempty"`
	AllowIPv6   bool   `json:"allow_ipv6,omitempty"`
	TrustedMACs []MAC  `json:"trusted_macs,omitempty"`
	// Forwarding programs a /32 route and a permanent neighbour per
	// binding (no ARP down a port) and turns IPv4 forwarding on once the
	// ruleset is in place, so a rebooted card routes nothing unverified.
	Forwarding bool `json:"forwarding,omitempty"`
	// Leasequery filters for traffic-triggered queries (Cisco's
	// leasequery-filter): unknown sources are asked about at most
	// PerPortQueries per PerPortInterval on each port (default 20 per 1s:
	// a port of 1,000 subscribers recovers on demand within a minute after
	// a reboot, while a spoofing host costs the servers at most that), and
	// unknown destinations at most DownstreamPerSec a second, all ports
	// together (default 100). Trusted MACs are never asked about.
	PerPortQueries   int      `json:"per_port_queries,omitempty"`
	PerPortInterval  Duration `json:"per_port_interval,omitzero"`
	DownstreamPerSec int      `json:"downstream_queries_per_second,omitempty"`
}

// Snapshot is the optional binding snapshot on stable storage: written
// WriteDelay after the table changes (default 30s: kind to flash, and a
// reboot loses at most that much, which leasequery recovers anyway),
// atomically and checksummed; restored at start-up as hints that are
// never enforced until a leasequery confirms them.
type Snapshot struct {
	Path       string   `json:"path,omitempty"` // absolute; empty: no snapshot
	WriteDelay Duration `json:"write_delay,omitzero"`
}

// Console is the serial CLI.
type Console struct {
	Device       string `json:"device,omitempty"`
	Baud         int    `json:"baud,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
}

// API is the management-plane listener.
type API struct {
	Socket string `json:"socket,omitempty"`
	TCP    *TCP   `json:"tcp,omitempty"`
}

// TCP is the optional TCP listener, only ever with mutual TLS.
type TCP struct {
	Listen   string `json:"listen"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
	ClientCA string `json:"client_ca"`
}

// Log sets log levels, globally and per subsystem.
type Log struct {
	Level      string            `json:"level,omitempty"`
	Subsystems map[string]string `json:"subsystems,omitempty"`
}

// Parse decodes and validates a configuration. Unknown keys, trailing data
// and invalid values are errors that name the field.
func Parse(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, decodeError(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &FieldError{Msg: "unexpected data after the top-level object", Malformed: true}
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// decodeError turns encoding/json's errors into FieldErrors that name the
// field (as a path) and, for syntax errors, the line.
func decodeError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return &FieldError{Msg: fmt.Sprintf("line %d: %v", line, se), Malformed: true}
	case errors.As(err, &te):
		return &FieldError{Field: te.Field, Msg: fmt.Sprintf("%s is not a valid %s", te.Value, te.Type), Malformed: true}
	}
	if field, msg, ok := locate(data, reflect.TypeFor[Config]()); ok {
		return &FieldError{Field: field, Msg: msg, Malformed: true}
	}
	return &FieldError{Msg: err.Error(), Malformed: true}
}

// Default values, named so docs and code agree.
const (
	DefaultMaxHops        = 10
	DefaultMaxOutstanding = 100
	DefaultInitialWindow  = 32
	DefaultRetries        = 4
	DefaultUnknownTTL     = 5 * time.Minute
	DefaultTable          = "leaseguard"
	DefaultNFLogGroup     = 7
	DefaultAPISocket      = "/run/leaseguard.sock"
	DefaultBaud           = 115200
	// Leasequery filters and the snapshot's write delay (see Enforcement
	// and Snapshot).
	DefaultPerPortQueries     = 20
	DefaultPerPortInterval    = time.Second
	DefaultDownstreamPerSec   = 100
	DefaultSnapshotWriteDelay = 30 * time.Second
)

func (c *Config) setDefaults() {
	if c.Relay.MaxHops == 0 {
		c.Relay.MaxHops = DefaultMaxHops
	}
	if c.Relay.Renewals == "" {
		c.Relay.Renewals = "relay"
	}
	lq := &c.Leasequery
	if lq.MaxOutstanding == 0 {
		lq.MaxOutstanding = DefaultMaxOutstanding
	}
	if lq.InitialWindow == 0 {
		lq.InitialWindow = min(DefaultInitialWindow, lq.MaxOutstanding)
	}
	if lq.Retries == 0 {
		lq.Retries = DefaultRetries
	}
	if lq.UnknownTTL == 0 {
		lq.UnknownTTL = Duration(DefaultUnknownTTL)
	}
	if c.Enforcement.Table == "" {
		c.Enforcement.Table = DefaultTable
	}
	if c.Enforcement.NFLogGroup == 0 {
		c.Enforcement.NFLogGroup = DefaultNFLogGroup
	}
	c.Enforcement.setDefaults()
	if c.Snapshot.Path != "" && c.Snapshot.WriteDelay == 0 {
		c.Snapshot.WriteDelay = Duration(DefaultSnapshotWriteDelay)
	}
	if c.API.Socket == "" {
		c.API.Socket = DefaultAPISocket
	}
	if c.Console.Device != "" && c.Console.Baud == 0 {
		c.Console.Baud = DefaultBaud
	}
	c.BPI.setDefaults()
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.CircuitID == "" {
			p.CircuitID = p.Name
		}
		if p.Trust == "" {
			p.Trust = Untrusted
		}
		if p.Policy == "" {
			p.Policy = PolicyDrop
		}
	}
}

// MAC is a hardware address that reads and writes as "aa:bb:cc:dd:ee:ff".
type MAC net.HardwareAddr

func (m MAC) IsZero() bool { return len(m) == 0 }

func (m MAC) MarshalText() ([]byte, error) { return []byte(net.HardwareAddr(m).String()), nil }

func (m *MAC) UnmarshalText(b []byte) error {
	hw, err := net.ParseMAC(string(b))
	if err != nil || len(hw) != 6 {
		return fmt.Errorf("%q is not a 6-byte MAC address like 00:11:22:33:44:55", b)
	}
	*m = MAC(hw)
	return nil
}

// Prefix is an IPv4 prefix like "192.0.2.0/24".
type Prefix struct{ netip.Prefix }

func (p Prefix) MarshalText() ([]byte, error) { return p.Prefix.MarshalText() }

func (p *Prefix) UnmarshalText(b []byte) error {
	pp, err := netip.ParsePrefix(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a prefix like 192.0.2.0/24", b)
	}
	p.Prefix = pp.Masked()
	return nil
}

// Duration reads and writes as a Go duration string ("5m", "30s").
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 30s or 5m", b)
	}
	*d = Duration(v)
	return nil
}

func (e *Enforcement) setDefaults() {
	if e.PerPortQueries == 0 {
		e.PerPortQueries = DefaultPerPortQueries
	}
	if e.PerPortInterval == 0 {
		e.PerPortInterval = Duration(DefaultPerPortInterval)
	}
	if e.DownstreamPerSec == 0 {
		e.DownstreamPerSec = DefaultDownstreamPerSec
	}
}
