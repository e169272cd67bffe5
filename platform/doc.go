// Package platform holds the operating-system effects that the DHCP relay
// and the leasequery client share: the upstream UDP socket bound to the
// relay's address (giaddr) port 67, which both use and which demultiplexes
// every datagram by its DHCP op and message type, and the subscriber ports,
// one AF_PACKET socket per Linux interface, that receive client DHCP
// without the interface needing an IPv4 address and send replies as raw
// Ethernet frames without ARP.
//
// Each consumer sees a small interface (UpstreamConn, PortConn) with an
// in-memory fake beside it (FakeUpstream, FakePort) for unit tests of the
// relay and the leasequery client.
//
// Buffers are reused: every handler receives slices that are valid only
// during the call, and must copy what it keeps.
package platform
