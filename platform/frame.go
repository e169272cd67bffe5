package platform

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

const (
	ipv4HeaderLen = 20
	udpHeaderLen  = 8
	// frameOverhead is what a reply frame adds to the DHCP payload.
	frameOverhead = ethHeaderLen + ipv4HeaderLen + udpHeaderLen
	replyTTL      = 64
)

// ClientFrame is one client DHCP datagram read from a port. Its slices
// alias the port's receive buffer: valid only during the handler call.
type ClientFrame struct {
	SrcMAC  [6]byte    // the Ethernet source: the client, or a bridge in front of it
	DstMAC  [6]byte    // broadcast, or our MAC for a unicast
	SrcIP   netip.Addr // 0.0.0.0 before the client has a lease
	DstIP   netip.Addr // 255.255.255.255, or our address
	Payload []byte     // the BOOTP/DHCP message
}

// errBadChecksum marks frames whose IPv4 or UDP checksum is wrong.
var errBadChecksum = errors.New("bad checksum")

// parseClientFrame checks an Ethernet frame carrying IPv4/UDP from port 68
// to port 67 and returns its parts. csumNotReady says the kernel reported
// the UDP checksum as not yet computed (a frame from a local sender whose
// checksum offload fills it in later, as on a veth), so it is not checked.
func parseClientFrame(b []byte, csumNotReady bool) (ClientFrame, error) {
	return parseUDPFrame(b, csumNotReady, portClient, portServer)
}

// parseUDPFrame is parseClientFrame for any pair of UDP ports.
func parseUDPFrame(b []byte, csumNotReady bool, srcPort, dstPort uint16) (ClientFrame, error) {
	var f ClientFrame
	if len(b) < frameOverhead {
		return f, fmt.Errorf("frame of %d octets: shorter than Ethernet+IPv4+UDP headers", len(b))
	}
	if et := binary.BigEndian.Uint16(b[12:]); et != etherTypeIP {
		return f, fmt.Errorf("ethertype %#04x is not IPv4", et)
	}
	ip := b[ethHeaderLen:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	switch {
	case ip[0]>>4 != 4 || ihl < ipv4HeaderLen:
		return f, fmt.Errorf("IPv4 header: version %d, length %d", ip[0]>>4, ihl)
	case total < ihl+udpHeaderLen || total > len(ip):
		return f, fmt.Errorf("IPv4 total length %d: outside %d..%d", total, ihl+udpHeaderLen, len(ip))
	case binary.BigEndian.Uint16(ip[6:])&0x3fff != 0:
		return f, errors.New("IPv4 fragment")
	case ip[9] != protoUDP:
		return f, fmt.Errorf("IPv4 protocol %d is not UDP", ip[9])
	case fold(onesSum(0, ip[:ihl])) != 0xffff:
		return f, fmt.Errorf("IPv4 header: %w", errBadChecksum)
	}
	udp := ip[ihl:total]
	ulen := int(binary.BigEndian.Uint16(udp[4:]))
	switch {
	case ulen < udpHeaderLen || ulen > len(udp):
		return f, fmt.Errorf("UDP length %d: outside %d..%d", ulen, udpHeaderLen, len(udp))
	case binary.BigEndian.Uint16(udp[0:]) != srcPort || binary.BigEndian.Uint16(udp[2:]) != dstPort:
		return f, fmt.Errorf("UDP ports %d->%d are not %d->%d", binary.BigEndian.Uint16(udp[0:]), binary.BigEndian.Uint16(udp[2:]), srcPort, dstPort)
	}
	udp = udp[:ulen]
	// RFC 1122 §4.1.3.4: a non-zero checksum that is wrong means discard.
	if !csumNotReady && binary.BigEndian.Uint16(udp[6:]) != 0 && udpSum(ip[12:16], ip[16:20], udp) != 0xffff {
		return f, fmt.Errorf("UDP: %w", errBadChecksum)
	}
	f.DstMAC, f.SrcMAC = [6]byte(b[0:6]), [6]byte(b[6:12])
	f.SrcIP, f.DstIP = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	f.Payload = udp[udpHeaderLen:]
	return f, nil
}

// udpFrame describes the Ethernet+IPv4+UDP envelope of one datagram.
type udpFrame struct {
	SrcMAC, DstMAC   [6]byte
	SrcIP, DstIP     [4]byte
	SrcPort, DstPort uint16
	ID               uint16 // IPv4 identification
}

// appendUDPFrame appends the frame carrying payload to dst, with the IPv4
// header and UDP checksums computed, and returns the extended slice. It
// allocates only when dst lacks capacity.
func appendUDPFrame(dst []byte, h udpFrame, payload []byte) []byte {
	dst = append(dst, h.DstMAC[:]...)
	dst = append(dst, h.SrcMAC[:]...)
	dst = binary.BigEndian.AppendUint16(dst, etherTypeIP)
	ip := len(dst)
	total := ipv4HeaderLen + udpHeaderLen + len(payload)
	dst = append(dst, 0x45, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(total))
	dst = binary.BigEndian.AppendUint16(dst, h.ID)
	dst = append(dst, 0x40, 0, replyTTL, protoUDP, 0, 0) // DF, no fragment offset
	dst = append(dst, h.SrcIP[:]...)
	dst = append(dst, h.DstIP[:]...)
	binary.BigEndian.PutUint16(dst[ip+10:], ^fold(onesSum(0, dst[ip:ip+ipv4HeaderLen])))
	udp := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, h.SrcPort)
	dst = binary.BigEndian.AppendUint16(dst, h.DstPort)
	dst = binary.BigEndian.AppendUint16(dst, uint16(udpHeaderLen+len(payload)))
	dst = append(dst, 0, 0)
	dst = append(dst, payload...)
	sum := ^udpSum(h.SrcIP[:], h.DstIP[:], dst[udp:])
	if sum == 0 {
		sum = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(dst[udp+6:], sum)
	return dst
}

// udpSum returns the folded one's-complement sum of the IPv4
// pseudo-header and the UDP datagram, checksum field included: 0xffff
// when a received checksum is right; its complement is the checksum to
// send when the field held zero.
func udpSum(src, dst []byte, udp []byte) uint16 {
	var pseudo [12]byte
	copy(pseudo[0:4], src)
	copy(pseudo[4:8], dst)
	pseudo[9] = protoUDP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(udp)))
	return fold(onesSum(onesSum(0, pseudo[:]), udp))
}

// onesSum adds b, as big-endian 16-bit words, to the running sum s; an odd
// final octet is padded with zero (RFC 1071).
func onesSum(s uint64, b []byte) uint64 {
	for len(b) >= 8 {
		s += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// fold reduces a running sum to 16 bits with end-around carry.
func fold(s uint64) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
