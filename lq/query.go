package lq

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// defaultPRL is what a query asks for when the caller gives no list: the
// lease times, the last transaction time, associated IPs, vendor class,
// client identifier and relay agent information, the location information
// of RFC 4388 §6.4.1. ISC dhcpd ignores the list and sends these anyway;
// servers that honour it (dnsmasq) need it.
var defaultPRL = [...]uint8{
	OptLeaseTime, OptRenewalTime, OptRebindingTime, OptLastTransaction,
	OptAssociatedIP, OptVendorClass, OptClientID, OptAgentInfo,
}

// DefaultParameterRequestList returns a copy of the list Query.Marshal
// sends when given none: 51, 58, 59, 91, 92, 60, 61, 82.
func DefaultParameterRequestList() []uint8 { return slices.Clone(defaultPRL[:]) }

// Validate checks the query against the field rules of RFC 4388 §6.2 for
// its Kind. Fields of the other kinds are ignored.
func (q Query) Validate() error {
	switch q.Kind {
	case ByIP:
		if !q.IP.Is4() || q.IP.IsUnspecified() {
			return fmt.Errorf("%v: IP %v is not a non-zero IPv4 address", q.Kind, q.IP)
		}
	case ByMAC:
		return q.validateMAC()
	case ByClientID:
		// RFC 2132 §9.14: option 61 has at least 2 octets.
		if len(q.ClientID) < 2 || len(q.ClientID) > 255 {
			return fmt.Errorf("%v: client identifier of %d octets, want 2..255", q.Kind, len(q.ClientID))
		}
	default:
		return fmt.Errorf("query: unknown kind %d", q.Kind)
	}
	return nil
}

func (q Query) validateMAC() error {
	if q.HType == 0 {
		return fmt.Errorf("%v: htype is 0", q.Kind)
	}
	if len(q.HWAddr) == 0 || len(q.HWAddr) > chaddrLen {
		return fmt.Errorf("%v: hardware address of %d octets, want 1..%d", q.Kind, len(q.HWAddr), chaddrLen)
	}
	if !slices.ContainsFunc(q.HWAddr, func(c byte) bool { return c != 0 }) {
		// RFC 4388 §6.4: a server sees a zero chaddr as no MAC at all.
		return fmt.Errorf("%v: hardware address is all zeros", q.Kind)
	}
	return nil
}

// Marshal encodes a DHCPLEASEQUERY (RFC 4388 §6.2): op BOOTREQUEST,
// message type 10, giaddr (required: the server replies to it and, RFC
// 4388 §6.4, drops queries without it), the one field set that the Kind
// names and the others zero, then the parameter request list: prl, or
// DefaultParameterRequestList when prl is nil; an empty non-nil prl
// omits option 55.
func (q Query) Marshal(giaddr netip.Addr, xid uint32, prl []uint8) ([]byte, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("marshal leasequery: %w", err)
	}
	if !giaddr.Is4() || giaddr.IsUnspecified() {
		return nil, fmt.Errorf("marshal leasequery: giaddr %v is not a non-zero IPv4 address", giaddr)
	}
	if prl == nil {
		prl = defaultPRL[:]
	}
	if err := checkPRL(prl); err != nil {
		return nil, fmt.Errorf("marshal leasequery: %w", err)
	}
	b := newMessage(BootRequest, xid)
	_ = putAddr(b, offGIAddr, "giaddr", giaddr)
	b = append(b, OptMessageType, 1, uint8(LeaseQuery))
	switch q.Kind {
	case ByIP:
		_ = putAddr(b, offCIAddr, "ciaddr", q.IP)
	case ByMAC:
		_ = putCHAddr(b, q.HType, q.HWAddr)
	case ByClientID:
		b = appendOption(b, OptClientID, q.ClientID)
	}
	if len(prl) > 0 {
		b = appendOption(b, OptParamRequestList, prl)
	}
	return finishMessage(b), nil
}

func checkPRL(prl []uint8) error {
	if len(prl) > 255 {
		return fmt.Errorf("parameter request list: %d codes exceeds 255", len(prl))
	}
	if i := slices.IndexFunc(prl, func(c uint8) bool { return c == OptPad || c == OptEnd }); i >= 0 {
		return fmt.Errorf("parameter request list: entry %d is %d, not an option", i, prl[i])
	}
	return nil
}

// QueryMessage is a decoded DHCPLEASEQUERY: the query and its envelope.
type QueryMessage struct {
	Query  Query
	GIAddr netip.Addr
	XID    uint32
	PRL    []uint8 // option 55; nil when absent
}

// Marshal encodes m; see Query.Marshal. A nil PRL encodes the default.
func (m QueryMessage) Marshal() ([]byte, error) {
	return m.Query.Marshal(m.GIAddr, m.XID, m.PRL)
}

// ParseQuery decodes a DHCPLEASEQUERY as a server must read it (RFC 4388
// §6.4): op BOOTREQUEST, message type 10, a non-zero giaddr and exactly
// one of ciaddr, htype/hlen/chaddr or option 61. ISC dhcpd is laxer and
// takes the first of ciaddr, option 61, chaddr; this is meant for tests
// and a fake server, so it holds the sender to the RFC.
func ParseQuery(b []byte) (QueryMessage, error) {
	p, err := ParsePacket(b)
	if err != nil {
		return QueryMessage{}, fmt.Errorf("leasequery: %w", err)
	}
	if p.Op() != BootRequest || p.MessageType() != LeaseQuery {
		return QueryMessage{}, fmt.Errorf("leasequery: op %d %v, want BOOTREQUEST DHCPLEASEQUERY", p.Op(), p.MessageType())
	}
	m := QueryMessage{GIAddr: p.GIAddr(), XID: p.XID()}
	if m.GIAddr.IsUnspecified() {
		return QueryMessage{}, errors.New("leasequery: giaddr is 0.0.0.0")
	}
	if v, ok := p.AppendOption(nil, OptParamRequestList); ok {
		if err := checkPRL(v); err != nil {
			return QueryMessage{}, fmt.Errorf("leasequery: %w", err)
		}
		m.PRL = v
	}
	q, err := queryOf(p)
	if err != nil {
		return QueryMessage{}, fmt.Errorf("leasequery: %w", err)
	}
	m.Query = q
	return m, nil
}

// queryOf finds the one query field set in p.
func queryOf(p Packet) (Query, error) {
	clientID, hasCID := p.AppendOption(nil, OptClientID)
	hasIP := !p.CIAddr().IsUnspecified()
	hasMAC := p.HType() != 0 || p.HLen() != 0 || !isZero(p.b[offCHAddr:offSName])
	var q Query
	switch {
	case hasIP && !hasMAC && !hasCID:
		q = Query{Kind: ByIP, IP: p.CIAddr()}
	case hasMAC && !hasIP && !hasCID:
		q = Query{Kind: ByMAC, HType: p.HType(), HWAddr: bytes.Clone(p.CHAddr())}
	case hasCID && !hasIP && !hasMAC:
		q = Query{Kind: ByClientID, ClientID: clientID}
	default:
		return Query{}, fmt.Errorf("want exactly one of ciaddr, chaddr, option 61; have ciaddr %t, chaddr %t, option 61 %t", hasIP, hasMAC, hasCID)
	}
	return q, q.Validate()
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
