package ops

import (
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/lq/location"
)

// The types below are what the operations return: the console renders
// them as tables, the management API writes them as JSON (their tags are
// the API's field names, documented in docs/openapi.yaml) and `leaseguard
// ctl` reads them back. Counters are uint64, gauges int or float64: "clear
// counters" subtracts the first and leaves the second (see baseline.go).

// Binding is one location-table binding.
type Binding struct {
	IP              netip.Addr   `json:"ip"`
	MAC             string       `json:"mac"`
	HType           uint8        `json:"htype"`
	ClientID        string       `json:"client_id,omitempty"` // hex, type octet included
	Port            string       `json:"port"`
	CircuitID       string       `json:"circuit_id,omitempty"` // text, or 0x-prefixed hex
	Modem           string       `json:"modem,omitempty"`
	Source          string       `json:"source"` // gleaned, leasequery, snapshot
	Expiry          time.Time    `json:"expiry,omitzero"`
	LastTransaction time.Time    `json:"last_transaction,omitzero"`
	Server          netip.Addr   `json:"server,omitzero"`
	VendorClass     string       `json:"vendor_class,omitempty"`
	Option82        string       `json:"option82,omitempty"` // hex, the option's payload
	AssociatedIPs   []netip.Addr `json:"associated_ips,omitempty"`
}

// BindingOf converts a table binding.
func BindingOf(b location.Binding) Binding {
	v := Binding{IP: b.IP, MAC: net.HardwareAddr(b.HWAddr).String(), HType: b.HType, Port: b.Port,
		CircuitID: Printable(b.CircuitID), Source: b.Source.String(), Expiry: b.Expiry,
		LastTransaction: b.LastTransaction, Server: b.Server, VendorClass: Printable(b.VendorClass),
		AssociatedIPs: b.AssociatedIPs}
	if len(b.ClientID) > 0 {
		v.ClientID = hex.EncodeToString(b.ClientID)
	}
	if len(b.Modem) > 0 {
		v.Modem = b.Modem.String()
	}
	if raw, err := b.AgentInfo.Marshal(); err == nil && len(raw) > 0 {
		v.Option82 = hex.EncodeToString(raw)
	}
	return v
}

// Printable returns b as text when it is printable, else as 0x-hex, so
// that names learnt from the network cannot carry control bytes.
func Printable(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if utf8.Valid(b) && !strings.ContainsFunc(string(b), func(r rune) bool { return r < 0x20 || r == 0x7f }) &&
		!strings.HasPrefix(string(b), "0x") {
		return string(b)
	}
	return "0x" + hex.EncodeToString(b)
}

// BindingPage is one page of bindings, in address order.
type BindingPage struct {
	Bindings []Binding `json:"bindings"`
	// Total is how many bindings matched the filter (all pages).
	Total int `json:"total"`
	// Next is the cursor of the next page; empty on the last.
	Next string `json:"next,omitempty"`
}

// Server is one DHCP server as the leasequery client sees it.
type Server struct {
	Server netip.Addr `json:"server"`
	// State: "up" (the RFC 4388 §6.7 timer runs: it answered within a
	// minute), "idle" (the timer expired without queries going
	// unanswered), "down" (queries went unanswered: the server gets one
	// probe at a time), "unknown" (never asked).
	State         string    `json:"state"`
	TimerArmed    bool      `json:"timer_armed"`
	TimerDeadline time.Time `json:"timer_deadline,omitzero"`
	NextProbe     time.Time `json:"next_probe,omitzero"` // while down: when the next probe may go
	Outstanding   int       `json:"outstanding"`
	Pending       int       `json:"pending"`
	Window        float64   `json:"window"`
	SRTTMillis    float64   `json:"srtt_ms"`
	Sent          uint64    `json:"sent"`
	Retransmitted uint64    `json:"retransmitted"`
	Active        uint64    `json:"active"`
	Unassigned    uint64    `json:"unassigned"`
	Unknown       uint64    `json:"unknown"`
	Timeouts      uint64    `json:"timeouts"`
	Expiries      uint64    `json:"expiries"`
	LossEvents    uint64    `json:"loss_events"`
	Dropped       uint64    `json:"dropped_at_expiry"`
	// The relay's view of the same server: DHCP replies heard from it
	// (every relayed request goes to every server, so one far below the
	// others is not answering), how many were passed on to a client, and
	// when the last came. Zero when the relay does not serve it.
	RelayReplies   uint64    `json:"relay_replies"`
	RelayRelayed   uint64    `json:"relay_relayed"`
	LastRelayReply time.Time `json:"last_relay_reply,omitzero"`
}

// Port is one subscriber port's counters.
type Port struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	Kind      string `json:"kind"`
	Bindings  int    `json:"bindings"`
	// Relay: client messages relayed to the servers, replies relayed to
	// clients, messages dropped.
	ToServers    uint64 `json:"to_servers"`
	ToClients    uint64 `json:"to_clients"`
	RelayDropped uint64 `json:"relay_dropped"`
	// Socket: DHCP frames received, malformed or with a bad checksum,
	// dropped by the kernel for want of buffer; frames sent and failed.
	Received    uint64 `json:"received"`
	Malformed   uint64 `json:"malformed"`
	BadChecksum uint64 `json:"bad_checksum"`
	KernelDrops uint64 `json:"kernel_drops"`
	Sent        uint64 `json:"sent"`
	SendErrors  uint64 `json:"send_errors"`
	// SpoofDrops: packets the anti-spoof rules dropped on the port, all
	// reasons together (details in Nft).
	SpoofDrops uint64 `json:"spoof_drops"`
}

// Counters are the agent's totals.
type Counters struct {
	// Since is when the counters were last cleared (zero: never).
	Since      time.Time          `json:"since,omitzero"`
	Relay      RelayCounters      `json:"relay"`
	Table      TableCounters      `json:"table"`
	Leasequery LeasequeryCounters `json:"leasequery"`
	// BPI are BPI+'s (absent when BPI+ is off).
	BPI *BPICounters `json:"bpi,omitempty"`
}

// RelayCounters are the relay's totals.
type RelayCounters struct {
	FromClients uint64            `json:"from_clients"`
	ToServers   uint64            `json:"to_servers"`
	FromServers uint64            `json:"from_servers"`
	ToClients   uint64            `json:"to_clients"`
	Replaced    uint64            `json:"option82_replaced"`
	Kept        uint64            `json:"option82_kept"`
	Binds       uint64            `json:"binds"`
	Unbinds     uint64            `json:"unbinds"`
	SendErrors  uint64            `json:"send_errors"`
	GleanErrors uint64            `json:"glean_errors"`
	Dropped     map[string]uint64 `json:"dropped"` // by reason
}

// TableCounters are the location table's.
type TableCounters struct {
	Bindings int               `json:"bindings"`
	Ports    int               `json:"ports"`
	Modems   int               `json:"modems"`
	Added    uint64            `json:"added"`
	Changed  uint64            `json:"changed"`
	Removed  map[string]uint64 `json:"removed"` // by reason
	Stale    uint64            `json:"stale"`
	NotOwner uint64            `json:"not_owner"`
	Lagged   uint64            `json:"lagged"`
}

// LeasequeryCounters are the leasequery client's, summed over servers.
type LeasequeryCounters struct {
	Submitted     uint64 `json:"submitted"`
	Merged        uint64 `json:"merged"`
	CacheHits     uint64 `json:"cache_hits"`
	Restricted    uint64 `json:"restricted"`
	RejectedFull  uint64 `json:"rejected_full"`
	Completed     uint64 `json:"completed"`
	NoAnswer      uint64 `json:"no_answer"`
	Updates       uint64 `json:"updates"`
	Sent          uint64 `json:"sent"`
	Retransmitted uint64 `json:"retransmitted"`
	Active        uint64 `json:"active"`
	Unassigned    uint64 `json:"unassigned"`
	Unknown       uint64 `json:"unknown"`
	Timeouts      uint64 `json:"timeouts"`
	SendErrors    uint64 `json:"send_errors"`
	Live          int    `json:"live"`
	CacheEntries  int    `json:"cache_entries"`
}

// Nft is the anti-spoof ruleset's state.
type Nft struct {
	Table       string      `json:"table"`
	Allowed     int         `json:"allowed"`  // elements in the allowed set
	Reported    int         `json:"reported"` // unknown sources in the de-duplication set
	Drops       []NftDrop   `json:"drops"`
	Programming Programming `json:"programming"`
	// Downstream is the check of traffic towards the subscriber networks
	// (all zero without subscriber networks).
	Downstream NftDownstream `json:"downstream"`
	// ForwardedDHCP counts, per port, client DHCP the kernel would have
	// forwarded, dropped because the relay relays renewals itself.
	ForwardedDHCP []NftPortCounter `json:"forwarded_dhcp"`
}

// NftDownstream counts packets towards subscriber addresses that no
// binding holds, dropped before routing.
type NftDownstream struct {
	Dropped NftCounter `json:"dropped"`
	// Reported: of those, the first of each address per window, reported
	// to NFLOG (each starts a leasequery).
	Reported NftCounter `json:"reported"`
	// Addresses reported within the de-duplication window (a gauge).
	Addresses int `json:"addresses"`
}

// NftCounter is a packet and byte count.
type NftCounter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// NftPortCounter is one port's count.
type NftPortCounter struct {
	Port      string `json:"port"`
	Interface string `json:"interface"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
}

// NftDrop is one (port, reason) drop counter.
type NftDrop struct {
	Port      string `json:"port"`
	Interface string `json:"interface"`
	Reason    string `json:"reason"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
}

// Programming describes the nftables transactions sent.
type Programming struct {
	Rebuilds        uint64  `json:"rebuilds"`
	Applies         uint64  `json:"applies"`
	Failures        uint64  `json:"failures"`
	ElementsAdded   uint64  `json:"elements_added"`
	ElementsDeleted uint64  `json:"elements_deleted"`
	LastMillis      float64 `json:"last_ms"`
	MaxMillis       float64 `json:"max_ms"`
	MeanMillis      float64 `json:"mean_ms"`
	LastError       string  `json:"last_error,omitempty"`
}

// LeasequeryResult is an operator's leasequery: every server's answer and
// the winner (RFC 4388 §6.8).
type LeasequeryResult struct {
	Query string `json:"query"` // "ip 10.1.2.3", "mac 1/00:11:...", "client-id 01:..."
	// Type is the winning answer: active, unassigned, unknown, or none
	// when no server answered.
	Type    string             `json:"type"`
	Winner  netip.Addr         `json:"winner,omitzero"`
	Binding *Binding           `json:"binding,omitempty"` // the winner's, when active
	Answers []LeasequeryAnswer `json:"answers"`
	Error   string             `json:"error,omitempty"`
	At      time.Time          `json:"at"`
}

// LeasequeryAnswer is one server's part.
type LeasequeryAnswer struct {
	Server netip.Addr `json:"server"`
	// Outcome: answered, timeout, waiting, abandoned.
	Outcome       string   `json:"outcome"`
	Type          string   `json:"type,omitempty"` // when answered
	Transmissions int      `json:"transmissions"`
	RTTMillis     float64  `json:"rtt_ms,omitempty"`
	Binding       *Binding `json:"binding,omitempty"` // when active
}

// ConfigState is the running configuration.
type ConfigState struct {
	// Generation counts applied configurations: 1 is the one the agent
	// started with, each successful apply adds one.
	Generation uint64    `json:"generation"`
	AppliedAt  time.Time `json:"applied_at"`
	Origin     string    `json:"origin"` // start, api, reload, console
	// Inconsistent is set when an apply failed and so did its rollback:
	// the running state may match neither configuration.
	Inconsistent string         `json:"inconsistent,omitempty"`
	Config       *config.Config `json:"config"`
}

// Logging is the log levels and debug traces in force.
type Logging struct {
	Level      string            `json:"level"`
	Subsystems map[string]string `json:"subsystems"` // those with their own level
	Debug      []string          `json:"debug"`      // subsystems traced to the console
}
