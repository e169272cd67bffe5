package bpilab

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/leaseguard/leaseguard/integration/topo"
)

// CPE is one subscriber host with its lease and a UDP socket on it.
type CPE struct {
	Client *topo.Client
	IP     netip.Addr
	SAID   uint16 // its modem's primary SAID
	Conn   *net.UDPConn
}

// NewCPE opens the socket of cl, leased ip, on CPEPort; it is closed at
// the lab's cleanup.
func (l *Lab) NewCPE(cl *topo.Client, ip netip.Addr) *CPE {
	l.t.Helper()
	cpe := &CPE{Client: cl, IP: ip, SAID: uint16(FirstSAID + slices.Index(l.Ports, cl.Port))}
	if err := cl.NS.Do(func() (err error) {
		// Any address: udhcpc reports the lease before its script has
		// configured it.
		cpe.Conn, err = net.ListenUDP("udp4", &net.UDPAddr{Port: CPEPort})
		return err
	}); err != nil {
		l.t.Fatalf("bpilab: CPE %v: %v", ip, err)
	}
	l.t.Cleanup(func() { cpe.Conn.Close() })
	return cpe
}

// RouteIntoBPI makes the card forward the CPE's traffic into ds0 (a /32
// route and a permanent neighbour entry with the CPE's MAC), standing in
// for the card's forwarding plane: BPI reads it on ds1.
func (l *Lab) RouteIntoBPI(cpe *CPE) {
	l.Card.MustIP("route", "replace", cpe.IP.String()+"/32", "dev", "ds0")
	l.Card.MustIP("neigh", "replace", cpe.IP.String(), "lladdr", cpe.Client.MAC.String(), "dev", "ds0", "nud", "permanent")
}

// Traffic sends numbered datagrams from the DHCP server's namespace to
// the CPEs (routed by the card into BPI) and reports each that arrives.
// A datagram is its sequence number (8 bytes), the CPE's index, the
// lab's Marker, and padding.
type Traffic struct {
	src    *net.UDPConn
	cpes   []*CPE
	marker []byte
}

// StartTraffic opens the sender on the server's address and reads every
// CPE's socket until the lab's cleanup, calling arrived (from the CPE's
// reader) with the CPE's index in cpes and the sequence number.
func (l *Lab) StartTraffic(cpes []*CPE, arrived func(cpe int, seq uint64)) *Traffic {
	l.t.Helper()
	tr := &Traffic{cpes: cpes, marker: l.Opts.Marker}
	if err := l.Server.Do(func() (err error) {
		tr.src, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.Layout.Servers[0], 0)))
		return err
	}); err != nil {
		l.t.Fatalf("bpilab: traffic source: %v", err)
	}
	var wg sync.WaitGroup
	l.t.Cleanup(func() {
		tr.src.Close()
		for _, cpe := range cpes {
			cpe.Conn.Close()
		}
		wg.Wait()
	})
	for i, cpe := range cpes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				n, err := cpe.Conn.Read(buf)
				if err != nil {
					return // closed at cleanup
				}
				if n >= 9 && int(buf[8]) == i {
					arrived(i, binary.BigEndian.Uint64(buf))
				}
			}
		}()
	}
	return tr
}

// Send sends CPE i (its index in the traffic's cpes) datagram seq, size
// bytes long (at least 9 plus the marker).
func (tr *Traffic) Send(i int, seq uint64, size int) error {
	b := make([]byte, max(size, 9+len(tr.marker)))
	binary.BigEndian.PutUint64(b, seq)
	b[8] = byte(i)
	copy(b[9:], tr.marker)
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(tr.cpes[i].IP, CPEPort))
	if _, err := tr.src.WriteToUDP(b, dst); err != nil {
		return fmt.Errorf("send to %v: %w", dst, err)
	}
	return nil
}
