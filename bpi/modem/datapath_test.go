package modem_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/modem"
	"github.com/leaseguard/leaseguard/bpi/rflink"
	"github.com/leaseguard/leaseguard/integration/lab"
)

// Topology, one namespace each:
//
//	cmts: br0 (the RF plant), ports p1 p2 p3; the encoder writes to br0
//	m1, m2: rf0 (from p1, p2), cb0 a bridge to two CPE namespaces each
//	spy: rf0 (from p3), an emulator claiming m1's SAID with other keys
//	c11 c12 behind m1, c21 c22 behind m2: eth0 with an address, a UDP socket
const (
	rfMTU     = "1600"
	udpPort   = 5000
	saidM1    = 101
	saidM2    = 102
	markerEth = 0x88b6 // IEEE local experimental EtherType 2: end-of-run marker
)

var (
	t0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cmtsMAC = net.HardwareAddr{2, 0xcc, 0, 0, 0, 1}
	gwMAC   = net.HardwareAddr{2, 0xcc, 0, 0, 0, 2}
	gwIP    = netip.MustParseAddr("10.77.1.1")
)

type cpe struct {
	name  string
	modem int // 1 or 2
	mac   net.HardwareAddr
	ip    netip.Addr
	conn  *net.UDPConn
}

type emulated struct {
	m      *modem.Modem
	marker chan struct{}
	link   *rflink.Conn
}

func TestDataPathTwoModemsWithRollover(t *testing.T) {
	l := lab.New(t)
	cmts := l.NS("cmts")
	cmts.MustIP("link", "add", "br0", "type", "bridge", "stp_state", "0")
	rfNS := map[string]*lab.NS{"m1": l.NS("m1"), "m2": l.NS("m2"), "spy": l.NS("spy")}
	for port, name := range map[string]string{"p1": "m1", "p2": "m2", "p3": "spy"} {
		l.Veth(cmts, port, rfNS[name], "rf0")
		cmts.MustIP("link", "set", port, "mtu", rfMTU, "master", "br0")
		rfNS[name].MustIP("link", "set", "rf0", "mtu", rfMTU)
	}
	cmts.MustIP("link", "set", "br0", "mtu", rfMTU, "up")

	cpes := []*cpe{
		{name: "c11", modem: 1}, {name: "c12", modem: 1},
		{name: "c21", modem: 2}, {name: "c22", modem: 2},
	}
	for _, m := range []string{"m1", "m2"} {
		rfNS[m].MustIP("link", "add", "cb0", "type", "bridge", "stp_state", "0")
		rfNS[m].MustIP("link", "set", "cb0", "up")
	}
	for i, c := range cpes {
		ns, mns := l.NS(c.name), rfNS[fmt.Sprintf("m%d", c.modem)]
		port := fmt.Sprintf("k%d", i)
		l.Veth(mns, port, ns, "eth0")
		mns.MustIP("link", "set", port, "master", "cb0")
		c.mac = net.HardwareAddr{2, 0, 0, 0, byte(c.modem), byte(i)}
		c.ip = netip.AddrFrom4([4]byte{10, 77, 1, byte(10 + i)})
		ns.MustIP("link", "set", "eth0", "address", c.mac.String())
		ns.Addr("eth0", c.ip.String()+"/24")
		must(t, ns.Do(func() (err error) {
			c.conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.ip, udpPort)))
			return err
		}))
		t.Cleanup(func() { c.conn.Close() })
	}

	// CMTS side: SA table fed by the key manager, the location table, the
	// encoder on the RF link.
	modemMACs := map[int]net.HardwareAddr{1: {0, 0x10, 0x95, 0, 0, 1}, 2: {0, 0x10, 0x95, 0, 0, 2}}
	tab := bpi.NewTable()
	must(t, tab.AddModem(bpi.Modem{MAC: modemMACs[1], PrimarySAID: saidM1, BPIEnabled: true}))
	must(t, tab.AddModem(bpi.Modem{MAC: modemMACs[2], PrimarySAID: saidM2, BPIEnabled: true}))
	loc := mapLocator{}
	for _, c := range cpes {
		loc[c.ip] = modemMACs[c.modem]
	}
	var rf *rflink.Conn
	must(t, cmts.Do(func() (err error) {
		rf, err = listenRF("br0")
		return err
	}))
	t.Cleanup(func() { rf.Close() })
	enc := bpi.NewEncoder(loc, tab, rf)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	start := func(ns *lab.NS, cfg modem.Config, cpeIf string) *emulated {
		m, err := modem.New(cfg)
		must(t, err)
		e := &emulated{m: m, marker: make(chan struct{})}
		var r *modem.Runner
		must(t, ns.Do(func() error {
			link, err := listenRF("rf0")
			if err != nil {
				return err
			}
			e.link = link
			var cpeW modem.CPEWriter = discard{}
			if cpeIf != "" {
				ifi, err := net.InterfaceByName(cpeIf)
				if err != nil {
					return err
				}
				ec, err := rflink.ListenEthernet(ifi, rflink.WriteOnly)
				if err != nil {
					return err
				}
				t.Cleanup(func() { ec.Close() })
				cpeW = ec
			}
			r = modem.NewRunner(m, link, markerWatch{inner: cpeW, seen: e.marker})
			return nil
		}))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.link.Close()
			if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("modem %v: %v", cfg.MAC, err)
			}
		}()
		<-r.Ready()
		return e
	}
	cpeMACs := func(n int) (out []net.HardwareAddr) {
		for _, c := range cpes {
			if c.modem == n {
				out = append(out, c.mac)
			}
		}
		return out
	}
	m1 := start(rfNS["m1"], modem.Config{MAC: modemMACs[1], PrimarySAID: saidM1, CPEs: cpeMACs(1)}, "cb0")
	m2 := start(rfNS["m2"], modem.Config{MAC: modemMACs[2], PrimarySAID: saidM2, CPEs: cpeMACs(2)}, "cb0")
	spy := start(rfNS["spy"], modem.Config{MAC: net.HardwareAddr{0, 0x10, 0x95, 0, 0, 9}, PrimarySAID: saidM1}, "")

	const lifetime, grace = 100 * time.Second, 10 * time.Second
	mgr, err := bpi.NewManager(bpi.ManagerConfig{TEKLifetime: lifetime, Grace: grace,
		Sinks: []bpi.KeySink{tab, onlySAID{saidM1, m1.m}, onlySAID{saidM2, m2.m}}})
	must(t, err)
	must(t, mgr.Start(saidM1, t0))
	must(t, mgr.Start(saidM2, t0))
	// The spy holds keys with m1's sequence numbers but its own key bytes.
	spyMgr, err := bpi.NewManager(bpi.ManagerConfig{TEKLifetime: lifetime, Grace: grace, Sinks: []bpi.KeySink{spy.m}})
	must(t, err)
	must(t, spyMgr.Start(saidM1, t0))

	// Receivers: every datagram reports its frame index on got.
	got := make(chan [2]int, 256) // (cpe, index)
	for i, c := range cpes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				n, err := c.conn.Read(buf)
				if err != nil {
					return // closed at cleanup
				}
				if n >= 8 {
					got <- [2]int{i, int(binary.BigEndian.Uint64(buf))}
				}
			}
		}()
	}
	t.Cleanup(func() {
		for _, c := range cpes {
			c.conn.Close()
		}
	})

	// Send N frames, one fake second apart: 2000 s is 19 rollovers, across
	// the 15->0 wrap. Each modem has at most `window` frames in flight, so
	// its socket never overflows, and rollovers happen while they fly.
	const n, window = 2000, 16
	want := make([]map[int]bool, len(cpes))
	received := make([]map[int]bool, len(cpes))
	for i := range cpes {
		want[i], received[i] = map[int]bool{}, map[int]bool{}
	}
	inFlight, seqsUsed := map[int]int{}, map[uint8]bool{}
	receive := func() {
		select {
		case r := <-got:
			received[r[0]][r[1]] = true
			inFlight[cpes[r[0]].modem]--
		case <-time.After(10 * time.Second):
			s1, _ := m1.link.Stats()
			s2, _ := m2.link.Stats()
			t.Fatalf("a frame was lost: in flight %v; m1 %s, socket %+v; m2 %s, socket %+v",
				inFlight, stats(m1.m), s1, stats(m2.m), s2)
		}
	}
	for i := range n {
		now := t0.Add(time.Duration(i) * time.Second)
		if _, err := mgr.Advance(now); err != nil {
			t.Fatal(err)
		}
		if _, err := spyMgr.Advance(now); err != nil {
			t.Fatal(err)
		}
		c := cpes[i%len(cpes)]
		if sel, err := tab.Select(loc, c.ip, now); err == nil {
			seqsUsed[sel.TEK.Seq] = true
		}
		if err := enc.Send(udpFrame(c, i, 18+(i*37)%1400), now); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		want[i%len(cpes)][i] = true
		inFlight[c.modem]++
		for inFlight[1] >= window || inFlight[2] >= window {
			receive()
		}
	}
	for inFlight[1]+inFlight[2] > 0 {
		receive()
	}
	for i, c := range cpes {
		if diff := cmp.Diff(want[i], received[i]); diff != "" {
			t.Errorf("%s received (-want +got):\n%s", c.name, diff)
		}
	}
	if len(seqsUsed) != 16 {
		t.Errorf("downstream used %d key sequence numbers, want all 16 (the run wraps)", len(seqsUsed))
	}

	// A clear broadcast marker: once each emulator delivers it, it has
	// processed every frame before it, and its counters are final.
	marker := make([]byte, 60)
	copy(marker, rflink.Broadcast)
	copy(marker[6:], gwMAC)
	binary.BigEndian.PutUint16(marker[12:], markerEth)
	docsis, err := bpi.AppendDownstream(nil, marker, 0, nil)
	must(t, err)
	must(t, rf.WriteDOCSIS(docsis))
	for name, e := range map[string]*emulated{"m1": m1, "m2": m2, "spy": spy} {
		select {
		case <-e.marker:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never delivered the marker: %s", name, stats(e.m))
		}
	}
	perModem := n / 2
	wantStats := map[string]string{
		"m1": fmt.Sprintf("delivered=%d clear=1 notOurSAID=%d crc=0 nokey=0 bad=0", perModem+1, perModem),
		"m2": fmt.Sprintf("delivered=%d clear=1 notOurSAID=%d crc=0 nokey=0 bad=0", perModem+1, perModem),
	}
	gotStats := map[string]string{"m1": stats(m1.m), "m2": stats(m2.m)}
	if diff := cmp.Diff(wantStats, gotStats); diff != "" {
		t.Errorf("emulator counters (-want +got):\n%s", diff)
	}
	// The spy has no flow control, so its socket may drop frames, and a
	// lagging spy may see key sequences its own manager already retired.
	// None of m1's frames decrypted: each failed the CRC check, or had a
	// key sequence the spy did not hold, or was not for its SAID.
	ss := &spy.m.Stats
	sock, err := spy.link.Stats()
	must(t, err)
	if ss.Delivered.Load() != 1 || ss.BadFrame.Load() != 0 || ss.CRCErrors.Load() == 0 ||
		ss.CRCErrors.Load()+ss.NoKey.Load()+ss.NotOurSAID.Load()+uint64(sock.Drops) != n {
		t.Errorf("spy: %s, socket drops %d; want only the marker delivered and the %d frames accounted for",
			stats(spy.m), sock.Drops, n)
	}
	if got := enc.Stats.Encrypted.Load(); got != n {
		t.Errorf("encoder encrypted %d frames, want %d", got, n)
	}
}

func stats(m *modem.Modem) string {
	s := &m.Stats
	return fmt.Sprintf("delivered=%d clear=%d notOurSAID=%d crc=%d nokey=%d bad=%d",
		s.Delivered.Load(), s.Clear.Load(), s.NotOurSAID.Load(), s.CRCErrors.Load(), s.NoKey.Load(), s.BadFrame.Load())
}

func listenRF(name string) (*rflink.Conn, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	return rflink.Listen(ifi)
}

// udpFrame is an Ethernet/IPv4/UDP frame from the gateway to c whose
// payload starts with the frame index.
func udpFrame(c *cpe, index, payloadLen int) []byte {
	b := make([]byte, 14+20+8+payloadLen)
	copy(b[0:], c.mac)
	copy(b[6:], gwMAC)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+payloadLen))
	copy(ip[12:], gwIP.AsSlice())
	copy(ip[16:], c.ip.AsSlice())
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
	udp := b[34:42]
	binary.BigEndian.PutUint16(udp[0:], 4000)
	binary.BigEndian.PutUint16(udp[2:], udpPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+payloadLen))
	// UDP checksum 0: none (allowed for IPv4).
	binary.BigEndian.PutUint64(b[42:], uint64(index))
	return b
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

type mapLocator map[netip.Addr]net.HardwareAddr

func (m mapLocator) ModemOf(ip netip.Addr) (net.HardwareAddr, bool) {
	mac, ok := m[ip]
	return mac, ok
}

// onlySAID hands a modem the keys of its own SA only, as its Key Replies
// would.
type onlySAID struct {
	said uint16
	sink bpi.KeySink
}

func (o onlySAID) SetTEKs(said uint16, older, newer *bpi.TEK) error {
	if said != o.said {
		return nil
	}
	return o.sink.SetTEKs(said, older, newer)
}

type discard struct{}

func (discard) WriteEthernet([]byte) error { return nil }

// markerWatch forwards frames and closes seen when the marker passes.
type markerWatch struct {
	inner modem.CPEWriter
	seen  chan struct{}
}

func (w markerWatch) WriteEthernet(f []byte) error {
	if binary.BigEndian.Uint16(f[12:14]) == markerEth {
		close(w.seen)
		return nil
	}
	return w.inner.WriteEthernet(f)
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
