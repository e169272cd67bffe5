package platform

import (
	"net"
	"net/netip"
)

// UpstreamConn is what the relay and the leasequery client need from the
// upstream side: send a datagram from the relay's address, port 67, and
// attach a handler for their class of replies (RelayReply,
// LeasequeryReply, UpstreamRequest). *Upstream is the real one;
// FakeUpstream records sends and demultiplexes injected datagrams exactly
// as the real one does.
type UpstreamConn interface {
	LocalAddr() netip.AddrPort
	Send(to netip.AddrPort, b []byte) error
	Handle(c UpstreamClass, h UpstreamHandler) error
}

// PortConn is one subscriber port as the relay sees it: its identity, and
// sending a reply frame to a client on it. *Port is the real one;
// FakePort records what is sent.
type PortConn interface {
	Name() string // the Linux interface name, which dhcrelay uses as circuit-id
	Index() int   // the interface index
	MAC() [6]byte // the port's own Ethernet address, the source of replies
	Send(dst Destination, payload []byte) error
}

// ClientHandler receives the client DHCP datagrams read from the ports.
// f's slices alias the port's receive buffer: valid only during the call.
// Each port runs its own receive loop, so HandleClient is called
// concurrently for different ports and must be safe for that.
type ClientHandler interface {
	HandleClient(p PortConn, f ClientFrame)
}

var (
	_ PortConn = (*Port)(nil)
	_ PortConn = (*FakePort)(nil)
)

// hardwareAddr6 converts an interface's address to a 6-octet Ethernet
// address, or reports that it is not one.
func hardwareAddr6(a net.HardwareAddr) ([6]byte, bool) {
	if len(a) != 6 {
		return [6]byte{}, false
	}
	return [6]byte(a), true
}
