package platform

import (
	"encoding/binary"
	"net/netip"
)

// Destination is the link-layer and IPv4 destination of a reply frame sent
// out of a port.
type Destination struct {
	MAC [6]byte
	IP  netip.Addr
}

// Broadcast is the Ethernet and limited broadcast destination.
func Broadcast() Destination {
	return Destination{
		MAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		IP:  netip.AddrFrom4([4]byte{255, 255, 255, 255}),
	}
}

// IsBroadcast reports whether d is the broadcast destination.
func (d Destination) IsBroadcast() bool { return d == Broadcast() }

// ReplyDestination says where a relay delivers the BOOTREPLY msg on the
// client's link (RFC 1542 §5.4): broadcast when the client set the
// BROADCAST flag, otherwise unicast to chaddr at yiaddr, the frame written
// straight to chaddr so that no ARP is needed for an address the client
// does not hold yet. When yiaddr is zero but ciaddr is not (the DHCPACK to
// a DHCPINFORM, RFC 2131 §4.3.5) it unicasts to ciaddr. It broadcasts when
// there is no address to unicast to, or when chaddr is not a 6-octet
// Ethernet address (htype 1, hlen 6).
func ReplyDestination(msg []byte) (Destination, error) {
	if _, _, err := Peek(msg); err != nil {
		return Destination{}, err
	}
	if binary.BigEndian.Uint16(msg[offFlags:])&flagBroadcast != 0 || msg[1] != 1 || msg[2] != 6 {
		return Broadcast(), nil
	}
	ip := [4]byte(msg[offYIAddr : offYIAddr+4])
	if ip == [4]byte{} {
		ip = [4]byte(msg[offCIAddr : offCIAddr+4])
	}
	if ip == [4]byte{} {
		return Broadcast(), nil
	}
	return Destination{MAC: [6]byte(msg[offCHAddr : offCHAddr+6]), IP: netip.AddrFrom4(ip)}, nil
}
