// Package lq is the DHCPv4 Leasequery (RFC 4388) wire codec: message types,
// the options a leasequery carries, the relay agent information option
// (RFC 3046) and its sub-options, and query builders that obey the RFC's
// field rules. It does no I/O.
//
// Entry points: ParseReply and Reply.Binding for the leasequery client;
// Query.Marshal to send; ParsePacket, a zero-allocation view of any
// BOOTP/DHCP message with the in-place edits a relay makes (giaddr, hops,
// adding and stripping option 82); ParseAgentInfo and the AgentInfo
// setters for option 82; ParseQuery and Reply.Marshal for fake servers.
package lq

import (
	"net"
	"net/netip"
	"time"
)

// MessageType is the DHCP message type (option 53), including the four
// leasequery types of RFC 4388 §6.1.
type MessageType uint8

// DHCP message types (RFC 2132 §9.6, RFC 4388 §6.1).
const (
	Discover        MessageType = 1
	Offer           MessageType = 2
	Request         MessageType = 3
	Decline         MessageType = 4
	Ack             MessageType = 5
	Nak             MessageType = 6
	Release         MessageType = 7
	Inform          MessageType = 8
	LeaseQuery      MessageType = 10
	LeaseUnassigned MessageType = 11
	LeaseUnknown    MessageType = 12
	LeaseActive     MessageType = 13
)

// IsLeasequeryReply reports whether t is one of the three answers to a
// DHCPLEASEQUERY. A relay must never forward such a message to a subscriber.
func (t MessageType) IsLeasequeryReply() bool {
	return t == LeaseUnassigned || t == LeaseUnknown || t == LeaseActive
}

// QueryKind is one of the three query regimes of RFC 4388 §6.1.
type QueryKind uint8

const (
	ByIP       QueryKind = iota + 1 // ciaddr set; htype/hlen/chaddr zero; no option 61
	ByMAC                           // htype/hlen/chaddr set; ciaddr zero; no option 61
	ByClientID                      // option 61 set; ciaddr and chaddr zero
)

// Query names what a DHCPLEASEQUERY asks about. Exactly the field matching
// Kind is meaningful.
type Query struct {
	Kind     QueryKind
	IP       netip.Addr       // ByIP
	HType    uint8            // ByMAC: hardware type (1 for Ethernet)
	HWAddr   net.HardwareAddr // ByMAC
	ClientID []byte           // ByClientID: option 61 payload, type byte included
}

// Binding is what one DHCP server (or the relay, by gleaning) knows about one
// leased address: the location information of RFC 4388 §1. Times are
// absolute, computed at receipt from the relative values on the wire.
type Binding struct {
	IP              netip.Addr
	HType           uint8
	HWAddr          net.HardwareAddr
	ClientID        []byte
	Expiry          time.Time // zero when the server sent no option 51
	T1, T2          time.Time // zero when absent
	LastTransaction time.Time // zero when the server sent no option 91
	AgentInfo       AgentInfo // option 82 as the server returned it
	VendorClass     []byte    // option 60
	AssociatedIPs   []netip.Addr
	Server          netip.Addr // the server that answered (option 54, else the source)
}

// SubOption is one relay agent information sub-option (RFC 3046 §2.0).
type SubOption struct {
	Code uint8
	Data []byte
}

// Relay agent information sub-option codes used in cable and DSL.
const (
	SubCircuitID        uint8 = 1  // RFC 3046
	SubRemoteID         uint8 = 2  // RFC 3046
	SubDeviceClass      uint8 = 4  // RFC 3256 (DOCSIS device class)
	SubLinkSelection    uint8 = 5  // RFC 3527
	SubSubscriberID     uint8 = 6  // RFC 3993
	SubServerIDOverride uint8 = 11 // RFC 5107
	SubRelayID          uint8 = 12 // RFC 6925
)

// AgentInfo is the relay agent information option (82): its sub-options in
// wire order, unknown ones kept raw, so that re-encoding an option that
// parsed cleanly gives back the same bytes.
type AgentInfo []SubOption

// Reply is a decoded DHCPLEASEUNASSIGNED, DHCPLEASEUNKNOWN or
// DHCPLEASEACTIVE. Times stay relative, as on the wire; Binding turns them
// into absolute times given the moment of receipt.
type Reply struct {
	Type     MessageType
	XID      uint32
	GIAddr   netip.Addr // invalid (zero Addr) when the field was 0.0.0.0
	CIAddr   netip.Addr // invalid (zero Addr) when the field was 0.0.0.0
	HType    uint8
	HWAddr   net.HardwareAddr // nil when hlen is 0
	ServerID netip.Addr       // option 54; invalid when absent
	ClientID []byte           // option 61

	LeaseTime                                      time.Duration // option 51; valid when HasLeaseTime
	T1, T2                                         time.Duration // options 58, 59; valid when HasT1/HasT2
	LastTransaction                                time.Duration // option 91, seconds into the past; valid when HasLastTransaction
	HasLeaseTime, HasT1, HasT2, HasLastTransaction bool

	AssociatedIPs []netip.Addr // option 92
	AgentInfo     AgentInfo    // option 82
	HasAgentInfo  bool
	VendorClass   []byte // option 60

	// Other holds the options this package does not interpret, in wire
	// order: ISC dhcpd, for one, adds subnet options such as 6 and 15 to
	// DHCPLEASEUNASSIGNED and DHCPLEASEUNKNOWN.
	Other []Option
}
