// Package relay is leaseguard's DHCPv4 relay agent (RFC 2131 §4.1,
// RFC 1542 §4) with the relay agent information option (RFC 3046) and
// gleaning: every DHCPACK it relays becomes a binding in the location
// table, every DHCPNAK, DHCPRELEASE and DHCPDECLINE removes one.
//
// Two layers:
//
//   - Relay is the pure decision logic: a client message heard on a port,
//     or a server reply heard upstream, goes in with the time; a Decision
//     comes out (send the edited message to these servers, or to this
//     client on this port, or drop it for this reason, and what the table
//     learns). It does no I/O. Each port's option 82 is encoded once, at
//     New, and the hot path edits a caller's buffer in place, so relaying a
//     message allocates nothing.
//   - Service runs a Relay over the platform's sockets: the subscriber
//     ports (AF_PACKET), the upstream UDP socket it shares with the
//     leasequery client, and the location table it gleans into.
//
// PortMap, the mapping from option 82 (circuit-id and relay-id) to the
// port a binding lives behind, is exported so that leasequery results and
// enforcement locate addresses exactly as the relay does.
package relay
