package lq

import "strconv"

// DHCP option codes this package reads or writes (RFC 2132, RFC 3046,
// RFC 4388). Other codes pass through as raw Options.
const (
	OptPad              uint8 = 0
	OptLeaseTime        uint8 = 51 // seconds into the future, 4 octets
	OptOverload         uint8 = 52 // 1: file, 2: sname, 3: both carry options
	OptMessageType      uint8 = 53
	OptServerID         uint8 = 54
	OptParamRequestList uint8 = 55
	OptMaxMessageSize   uint8 = 57
	OptRenewalTime      uint8 = 58 // T1
	OptRebindingTime    uint8 = 59 // T2
	OptVendorClass      uint8 = 60
	OptClientID         uint8 = 61
	OptAgentInfo        uint8 = 82
	OptLastTransaction  uint8 = 91 // seconds into the past, 4 octets (RFC 4388 §6.1)
	OptAssociatedIP     uint8 = 92 // IPv4 addresses, length a non-zero multiple of 4
	OptEnd              uint8 = 255
)

// OpCode is the BOOTP op field.
type OpCode uint8

// BOOTP op codes (RFC 951).
const (
	BootRequest OpCode = 1
	BootReply   OpCode = 2
)

// Option is one DHCP option as on the wire, for options this package does
// not interpret. Data excludes the code and length octets.
type Option struct {
	Code uint8
	Data []byte
}

var messageTypeNames = [...]string{
	Discover:        "DHCPDISCOVER",
	Offer:           "DHCPOFFER",
	Request:         "DHCPREQUEST",
	Decline:         "DHCPDECLINE",
	Ack:             "DHCPACK",
	Nak:             "DHCPNAK",
	Release:         "DHCPRELEASE",
	Inform:          "DHCPINFORM",
	LeaseQuery:      "DHCPLEASEQUERY",
	LeaseUnassigned: "DHCPLEASEUNASSIGNED",
	LeaseUnknown:    "DHCPLEASEUNKNOWN",
	LeaseActive:     "DHCPLEASEACTIVE",
}

// String returns the RFC name of t ("DHCPLEASEACTIVE"), or its number.
func (t MessageType) String() string {
	if int(t) < len(messageTypeNames) && messageTypeNames[t] != "" {
		return messageTypeNames[t]
	}
	return "message type " + strconv.Itoa(int(t))
}

// String names the query regime.
func (k QueryKind) String() string {
	switch k {
	case ByIP:
		return "query by IP address"
	case ByMAC:
		return "query by MAC address"
	case ByClientID:
		return "query by client identifier"
	}
	return "query kind " + strconv.Itoa(int(k))
}
