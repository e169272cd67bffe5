package rflink

import "encoding/binary"

// completeChecksum fills in the TCP or UDP checksum of an Ethernet frame
// whose checksum field holds only the pseudo-header sum, as the kernel
// leaves it for the NIC to finish (CHECKSUM_PARTIAL; a packet socket
// reports it as TP_STATUS_CSUMNOTREADY). Once the frame is encrypted no
// NIC can finish it, so the CMTS must. IPv4 and IPv6 without extension
// headers, after at most one 802.1Q tag; it reports whether it wrote one.
func completeChecksum(eth []byte) bool {
	if len(eth) < ethHeaderLen {
		return false
	}
	typ, off := binary.BigEndian.Uint16(eth[12:]), ethHeaderLen
	if typ == 0x8100 && len(eth) >= ethHeaderLen+4 {
		typ, off = binary.BigEndian.Uint16(eth[16:]), ethHeaderLen+4
	}
	ip := eth[off:]
	var proto uint8
	var l4 []byte
	switch {
	case typ == 0x0800 && len(ip) >= 20 && ip[0]>>4 == 4:
		ihl, total := int(ip[0]&0x0f)*4, int(binary.BigEndian.Uint16(ip[2:]))
		if ihl < 20 || total < ihl || total > len(ip) {
			return false
		}
		proto, l4 = ip[9], ip[ihl:total]
	case typ == 0x86dd && len(ip) >= 40 && ip[0]>>4 == 6:
		n := int(binary.BigEndian.Uint16(ip[4:]))
		if 40+n > len(ip) {
			return false
		}
		proto, l4 = ip[6], ip[40:40+n]
	default:
		return false
	}
	field := 0
	switch proto {
	case 6: // TCP
		field = 16
	case 17: // UDP
		field = 6
	default:
		return false
	}
	if len(l4) < field+2 {
		return false
	}
	sum := ^onesSum(l4)
	if sum == 0 && proto == 17 {
		sum = 0xffff // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(l4[field:], sum)
	return true
}

// onesSum is the folded ones' complement sum of b (RFC 1071).
func onesSum(b []byte) uint16 {
	var s uint64
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		s1 := s + v
		if s1 < s {
			s1++
		}
		s, b = s1, b[8:]
	}
	s = s>>32 + s&0xffffffff // room for the tail without overflow
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
