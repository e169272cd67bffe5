// Command capture sends the leasequery queries of the golden corpus to a
// real server and writes each reply to DIR/NAME.bin. capture.sh runs it in
// a network namespace against ISC dhcpd; it is not part of any build.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// probes are the queries of the corpus; capture.sh's lease file answers them.
var probes = []struct {
	name string
	q    lq.Query
}{
	{"active_by_ip", lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("10.99.0.100")}},
	{"active_by_mac", lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}}},
	{"active_by_client_id", lq.Query{Kind: lq.ByClientID, ClientID: []byte{1, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55}}},
	{"active_plain_by_ip", lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("10.99.0.102")}},
	{"unassigned_free_pool", lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("10.99.0.150")}},
	{"unassigned_released", lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("10.99.0.101")}},
	{"unknown_outside_ranges", lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("10.77.0.1")}},
	{"unknown_mac", lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}}},
	{"unknown_client_id", lq.Query{Kind: lq.ByClientID, ClientID: []byte("no-such-client")}},
}

func main() {
	out := flag.String("out", "", "directory for NAME.bin files")
	server := flag.String("server", "", "server address")
	giaddr := flag.String("giaddr", "", "our address (giaddr)")
	flag.Parse()
	if err := run(*out, netip.MustParseAddr(*server), netip.MustParseAddr(*giaddr)); err != nil {
		fmt.Fprintln(os.Stderr, "capture:", err)
		os.Exit(1)
	}
}

func run(out string, server, giaddr netip.Addr) error {
	// dhcpd replies to giaddr:67 whatever the source port.
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(giaddr, 67)))
	if err != nil {
		return err
	}
	defer conn.Close()
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, 67))
	buf := make([]byte, 1500)
	for i, p := range probes {
		xid := uint32(0x4c510000 + i)
		b, err := p.q.Marshal(giaddr, xid, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if _, err := conn.WriteToUDP(b, to); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		n, err := readXID(conn, buf, xid)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if err := os.WriteFile(filepath.Join(out, p.name+".bin"), buf[:n], 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d octets\n", p.name, n)
	}
	return nil
}

func readXID(conn *net.UDPConn, buf []byte, xid uint32) (int, error) {
	if err := conn.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return 0, err
	}
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return 0, err
		}
		if p, err := lq.ParsePacket(buf[:n]); err == nil && p.XID() == xid {
			return n, nil
		}
		if n == 0 {
			return 0, errors.New("empty datagram")
		}
	}
}
