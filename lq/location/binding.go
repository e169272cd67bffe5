// Package location is leaseguard's one location table: which leased IPv4
// address lives behind which subscriber port, client hardware address and
// cable modem on this line card. Relay gleaning and the leasequery client
// write into it; nftables anti-spoof, per-modem forwarding, BPI and the
// management API read it and follow its ordered change events.
//
// The package does no I/O and never reads the clock: every write takes the
// current time as a parameter.
//
// What the API exposes and what is stored: callers see Binding values (full
// copies they own). Inside, a binding is a 96-byte record: the address as a
// uint32, hardware addresses packed into uint64s, times as uint32 Unix
// seconds, the port name and vendor class interned, and the rest (client-id,
// option 82, circuit-id, associated addresses) in one immutable string. The
// compact form has two visible consequences: times come back at one-second
// resolution (the resolution of DHCP itself) and saturate in 2106 (an
// infinite lease), and only IPv4 addresses are accepted.
package location

import (
	"bytes"
	"fmt"
	"net"

	"github.com/leaseguard/leaseguard/lq"
)

// Source says how the table learned a binding.
type Source uint8

const (
	// Gleaned: the relay forwarded the DHCPACK itself.
	Gleaned Source = iota + 1
	// Leasequery: a DHCPLEASEACTIVE answered one of our queries.
	Leasequery
	// Snapshot: restored from the table saved before a reboot; a hint,
	// replaced by the first gleaned or leasequery binding for its address.
	Snapshot
)

func (s Source) String() string {
	switch s {
	case Gleaned:
		return "gleaned"
	case Leasequery:
		return "leasequery"
	case Snapshot:
		return "snapshot"
	}
	return fmt.Sprintf("Source(%d)", uint8(s))
}

// Binding is one leased address and where it lives on this line card.
// The embedded lq.Binding carries what the DHCP server knows (its T1 and T2
// included); the other fields are this card's view of its location.
type Binding struct {
	lq.Binding

	// Port is the subscriber interface the address lives behind
	// ("cable3/0/1"); empty when no port could be matched.
	Port string
	// CircuitID is the option 82 circuit-id that matched Port.
	CircuitID []byte
	// Modem is the cable modem between the port and the client: the
	// option 82 remote-id when it is a 6-byte MAC, else configured for the
	// port; nil on ports without modems.
	Modem net.HardwareAddr
	// Source says how the table learned the binding.
	Source Source
}

// Limits on the variable-length fields of a Binding. Each mirrors a DHCP
// length byte, so that a binding decoded from the wire always fits and a
// crafted one cannot make the table (or a snapshot file) allocate without
// bound.
const (
	maxHWAddr = 16 // chaddr
	maxField  = 255
)

// RemoteIDModem returns the option 82 remote-id when it is a 6-byte MAC, as
// cable modem termination systems insert it, and nil otherwise.
func RemoteIDModem(ai lq.AgentInfo) net.HardwareAddr {
	id := subOption(ai, lq.SubRemoteID)
	if len(id) != 6 {
		return nil
	}
	return net.HardwareAddr(bytes.Clone(id))
}

// CircuitIDOf returns the option 82 circuit-id, or nil when absent.
func CircuitIDOf(ai lq.AgentInfo) []byte {
	return bytes.Clone(subOption(ai, lq.SubCircuitID))
}

// subOption returns the data of the first sub-option with code, unlike the
// exported helpers without copying.
func subOption(ai lq.AgentInfo, code uint8) []byte {
	for _, so := range ai {
		if so.Code == code {
			return so.Data
		}
	}
	return nil
}
