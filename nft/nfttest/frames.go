// Package nfttest helps kernel tests of source-address verification: crafted
// Ethernet frames (any source IP and MAC), a line card namespace with
// subscriber namespaces behind veth ports, packet injection and UDP sinks.
package nfttest

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Broadcast is the Ethernet broadcast address.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// UDPFrame is an Ethernet frame carrying an IPv4 UDP datagram with the given
// addresses, whatever they are: the sender's stack is bypassed.
func UDPFrame(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	udp := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	copy(udp[8:], payload) // checksum 0: none, allowed for UDP over IPv4
	return append(ether(srcMAC, dstMAC, 0x0800), ipv4(src, dst, 17, udp)...)
}

// ARP operations.
const (
	ARPRequest = 1
	ARPReply   = 2
)

// ARPFrame is an Ethernet frame carrying an ARP packet for IPv4 over
// Ethernet; the Ethernet source and the ARP sender MAC may differ.
func ARPFrame(ethSrc, ethDst net.HardwareAddr, op uint16, senderMAC net.HardwareAddr, senderIP netip.Addr, targetMAC net.HardwareAddr, targetIP netip.Addr) []byte {
	arp := make([]byte, 28)
	binary.BigEndian.PutUint16(arp[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(arp[2:], 0x0800) // IPv4
	arp[4], arp[5] = 6, 4
	binary.BigEndian.PutUint16(arp[6:], op)
	copy(arp[8:14], senderMAC)
	s := senderIP.As4()
	copy(arp[14:18], s[:])
	copy(arp[18:24], targetMAC)
	d := targetIP.As4()
	copy(arp[24:28], d[:])
	return append(ether(ethSrc, ethDst, 0x0806), arp...)
}

func ether(src, dst net.HardwareAddr, ethertype uint16) []byte {
	b := make([]byte, 14)
	copy(b[0:6], dst)
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:], ethertype)
	return b
}

func ipv4(src, dst netip.Addr, proto byte, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	h[8] = 64 // TTL
	h[9] = proto
	s, d := src.As4(), dst.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	binary.BigEndian.PutUint16(h[10:], checksum(h))
	return append(h, payload...)
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
