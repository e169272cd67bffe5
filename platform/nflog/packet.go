package nflog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// NFLOG packet attributes (linux/netfilter/nfnetlink_log.h, enum
// nfulnl_attr_type) that a Packet keeps.
const (
	attrPacketHdr  = 1  // struct nfulnl_msg_packet_hdr
	attrIfIndexIn  = 4  // __be32
	attrHWAddr     = 8  // struct nfulnl_msg_packet_hw
	attrPayload    = 9  // the packet from the network header
	attrPrefix     = 10 // NUL-terminated
	attrHWHeader   = 16 // the link-layer header
	hwAddrAttrSize = 12 // __be16 len, __u16 pad, __u8 addr[8]
)

// Packet is one NFLOG packet message.
type Packet struct {
	Group      uint16 // nfgenmsg res_id
	Family     uint8  // nfgenmsg family: NFPROTO_NETDEV for leaseguard's rules
	HWProtocol uint16 // ethertype
	Hook       uint8
	Prefix     string // the log rule's prefix: leaseguard puts the port name there
	InIfIndex  uint32 // 0 when absent
	HWAddr     net.HardwareAddr
	HWHeader   []byte
	Payload    []byte
}

// ParsePacket decodes the body of an NFLOG packet message (nfgenmsg, then
// attributes). Byte slices alias b.
func ParsePacket(b []byte) (Packet, error) {
	var p Packet
	if len(b) < 4 {
		return p, fmt.Errorf("nflog packet: %d bytes, shorter than the 4-byte nfgenmsg", len(b))
	}
	p.Family = b[0]
	p.Group = binary.BigEndian.Uint16(b[2:4])
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return p, fmt.Errorf("nflog packet: %v", err)
	}
	for ad.Next() {
		if err := p.decodeAttr(ad.Type(), ad.Bytes()); err != nil {
			return p, fmt.Errorf("nflog packet: attribute %d: %v", ad.Type(), err)
		}
	}
	if err := ad.Err(); err != nil {
		return p, fmt.Errorf("nflog packet: %v", err)
	}
	return p, nil
}

func (p *Packet) decodeAttr(typ uint16, v []byte) error {
	switch typ {
	case attrPacketHdr:
		if len(v) < 3 {
			return fmt.Errorf("packet header: %d bytes, want 4", len(v))
		}
		p.HWProtocol, p.Hook = binary.BigEndian.Uint16(v), v[2]
	case attrIfIndexIn:
		if len(v) != 4 {
			return fmt.Errorf("input interface index: %d bytes, want 4", len(v))
		}
		p.InIfIndex = binary.BigEndian.Uint32(v)
	case attrHWAddr:
		if len(v) < hwAddrAttrSize {
			return fmt.Errorf("hardware address: %d bytes, want %d", len(v), hwAddrAttrSize)
		}
		n := int(binary.BigEndian.Uint16(v))
		if n > 8 {
			return fmt.Errorf("hardware address length %d exceeds 8", n)
		}
		p.HWAddr = net.HardwareAddr(v[4 : 4+n])
	case attrPayload:
		p.Payload = v
	case attrPrefix:
		p.Prefix = cString(v)
	case attrHWHeader:
		p.HWHeader = v
	}
	return nil
}

// cString is v up to its first NUL.
func cString(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}

// Source is an unknown source reported by leaseguard's log rule.
type Source struct {
	Port    string // from the rule's prefix
	IfIndex int
	IP      netip.Addr
	MAC     net.HardwareAddr
}

// Report is one report of leaseguard's ruleset: an unknown source on a
// subscriber port (from the netdev table), or an unknown subscriber
// address that traffic was about to be routed towards (Downstream, from
// the ip table).
type Report struct {
	Downstream  bool
	Source      Source     // when !Downstream
	Destination netip.Addr // when Downstream
	InIfIndex   int        // the interface the packet arrived on (0: the card's own)
}

// Report classifies the packet by the family of the rule that logged it:
// netdev rules report sources, ip rules destinations.
func (p Packet) Report() (Report, error) {
	if p.Family != unix.NFPROTO_IPV4 {
		s, err := p.Source()
		return Report{Source: s, InIfIndex: s.IfIndex}, err
	}
	if len(p.Payload) < 20 || p.Payload[0]>>4 != 4 || p.Payload[0]&0x0f < 5 {
		return Report{}, fmt.Errorf("%w: %d payload bytes from %q are not an IPv4 header", ErrNotReport, len(p.Payload), p.Prefix)
	}
	return Report{Downstream: true, Destination: netip.AddrFrom4([4]byte(p.Payload[16:20])), InIfIndex: int(p.InIfIndex)}, nil
}

// Ethertypes leaseguard reports.
const (
	ethIPv4 = 0x0800
	ethARP  = 0x0806
)

// ErrNotReport is returned by Source for packets that are neither IPv4 nor
// ARP for IPv4 over Ethernet.
var ErrNotReport = errors.New("nflog: not an IPv4 or ARP report")

// Source extracts the reported source: the IPv4 source address or the ARP
// sender address, and the Ethernet source (the address the ruleset keys on,
// not the ARP sender hardware address).
func (p Packet) Source() (Source, error) {
	s := Source{Port: p.Prefix, IfIndex: int(p.InIfIndex), MAC: p.sourceMAC()}
	if s.MAC == nil {
		return s, fmt.Errorf("nflog: no Ethernet source in the report from %q", p.Prefix)
	}
	var ok bool
	switch p.HWProtocol {
	case ethIPv4:
		s.IP, ok = ipv4Source(p.Payload)
	case ethARP:
		s.IP, ok = arpSender(p.Payload)
	}
	if !ok {
		return s, fmt.Errorf("%w: ethertype %#04x, %d payload bytes", ErrNotReport, p.HWProtocol, len(p.Payload))
	}
	return s, nil
}

// sourceMAC prefers the kernel's parsed hardware address, else the source
// field of an Ethernet header.
func (p Packet) sourceMAC() net.HardwareAddr {
	if len(p.HWAddr) == 6 {
		return p.HWAddr
	}
	if len(p.HWHeader) >= 14 {
		return net.HardwareAddr(p.HWHeader[6:12])
	}
	return nil
}

func ipv4Source(b []byte) (netip.Addr, bool) {
	if len(b) < 20 || b[0]>>4 != 4 || b[0]&0x0f < 5 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b[12:16])), true
}

// arpSender reads the sender protocol address of an ARP packet for IPv4
// over Ethernet.
func arpSender(b []byte) (netip.Addr, bool) {
	if len(b) < 28 || binary.BigEndian.Uint16(b[0:]) != 1 || binary.BigEndian.Uint16(b[2:]) != ethIPv4 || b[4] != 6 || b[5] != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b[14:18])), true
}
