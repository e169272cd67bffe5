package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/bpkm"
	"github.com/leaseguard/leaseguard/bpi/modem"
	"github.com/leaseguard/leaseguard/bpi/rflink"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
)

// bpiCard is a card with two cable ports, a modem behind each.
const bpiCard = `{
  "relay_id": "card-7",
  "upstream": { "interface": "up0", "address": "10.0.0.2" },
  "servers": ["10.0.0.1"],
  "subscriber_networks": ["192.168.10.0/24", "192.168.20.0/24"],
  "ports": [
    { "name": "cable1/0/0", "interface": "sub0", "kind": "cable", "gateway": "192.168.10.1", "modem": "00:10:95:00:00:01" },
    { "name": "cable1/0/1", "interface": "sub1", "kind": "cable", "gateway": "192.168.20.1", "modem": "00:10:95:00:00:02" }
  ],
  "leasequery": { "max_outstanding": 100, "request": [51, 58, 59, 91, 92, 82] }
}`

// Short keys bound the test: a TEK lives 8 s, the manager rolls 2 s after
// the older expires, and the modems ask again 2 s before their newer key
// expires (3 s of margin over the roll even with the whole-second key
// lifetimes of the Key Reply).
const (
	bpiTEKLifetime = 8 * time.Second
	bpiTEKGrace    = 2 * time.Second
	bpiPort        = 5000
)

// bpiModem is one emulated cable modem in a port's access namespace: its
// RF side on the plant, its CPE side the access bridge.
type bpiModem struct {
	said  uint16
	mac   net.HardwareAddr
	ak    []byte
	emu   *modem.Modem
	keyer *modem.Keyer
}

// TestBPIEndToEnd: CPEs behind two modems get leases from ISC dhcpd
// through `leaseguard agent`; traffic the server sends them is routed by
// the card into the BPI downstream interface and reaches each CPE only
// through its modem's emulator, encrypted on the RF link under that
// modem's SA, which the other modem cannot open; the modems fetch their
// keys by BPKM on the RF link; TEK rollovers while traffic flows lose no
// frame; after kill -9 and a fresh start with an empty table the
// locations come back by leasequery and encryption resumes.
func TestBPIEndToEnd(t *testing.T) {
	lab.Need(t, "dhcpd", "dhclient", "udhcpc", "sysctl")
	c := topo.Build(t, []byte(bpiCard), topo.Options{ClientsPerPort: 2})
	rfMAC, plant := buildRFPlant(t, c)
	spy := startRFSpy(t, plant)
	modems := []*bpiModem{
		{said: 101, mac: net.HardwareAddr{0, 0x10, 0x95, 0, 0, 1}, ak: bytes.Repeat([]byte{0x41}, bpkm.AKLen)},
		{said: 102, mac: net.HardwareAddr{0, 0x10, 0x95, 0, 0, 2}, ak: bytes.Repeat([]byte{0x42}, bpkm.AKLen)},
	}
	c.StartDHCPD(c.DHCPDConf(topo.DHCPDOptions{}))
	configPath := c.LabConfig(func(cfg map[string]any) { cfg["bpi"] = bpiSection(modems) })
	agent := c.StartAgent(topo.Binary(t), configPath)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for i, m := range modems {
		m.start(t, ctx, &wg, c.Ports[i], rfMAC)
	}
	for _, m := range modems {
		waitClosed(t, m.keyer.Keyed(), "modem %v's first Key Reply", m.mac)
	}

	cpes := leaseCPEs(t, c, agent)
	routeIntoBPI(t, c, cpes)
	tr := newTraffic(t, c, cpes)
	tr.diag = func() string {
		all, _ := agent.Stats()
		return fmt.Sprintf("agent BPI counters %v\nmodem 1: %s\nmodem 2: %s\nRF plant: %s",
			all["BPI"], emuStats(modems[0].emu), emuStats(modems[1].emu), spy)
	}

	t.Run("each CPE's traffic is encrypted under its modem's SA and only it can open it", func(t *testing.T) {
		tr.flow(t, func() bool { return tr.sentEach() >= 200 })
		spy.check(t, modems)
		for _, m := range modems {
			s := &m.emu.Stats
			if s.Delivered.Load() < 400 || s.NotOurSAID.Load() < 400 || s.CRCErrors.Load() != 0 || s.NoKey.Load() != 0 {
				t.Errorf("modem %v: %s; want >= 400 delivered, >= 400 of the other modem's ignored, no CRC or key errors", m.mac, emuStats(m.emu))
			}
		}
		// Modem 1 holds keys with the sequence numbers modem 2's frames
		// carry, but opening them fails the CRC: different keys.
		frame := spy.lastFor(102)
		d, err := bpi.ParseDownstream(frame)
		if err != nil {
			t.Fatal(err)
		}
		keys := modems[0].emu.Keys()
		if k := keys.BySeq(d.Privacy.KeySeq); k == nil {
			t.Errorf("modem 1 holds no key with sequence %d to try", d.Privacy.KeySeq)
		} else if _, err := d.Open(k); !errors.Is(err, bpi.ErrCRC) {
			t.Errorf("modem 1's key %d on modem 2's frame: %v, want ErrCRC", d.Privacy.KeySeq, err)
		}
	})

	t.Run("TEK rollovers while traffic flows lose no frame", func(t *testing.T) {
		before := spy.seqs()
		tr.flow(t, func() bool {
			now := spy.seqs()
			return len(now[101]) >= len(before[101])+2 && len(now[102]) >= len(before[102])+2
		})
		after := spy.seqs()
		t.Logf("key sequences on the RF link: SAID 101 %v, SAID 102 %v", after[101], after[102])
		if len(after[101]) < 3 || len(after[102]) < 3 {
			t.Errorf("traffic crossed fewer than two key switches: %v", after)
		}
		spy.check(t, modems)
		st := bpiStats(t, agent)
		if st["KeyPairs"] < 4 {
			t.Errorf("the manager installed %v key pairs, want the first two and at least one rollover each", st["KeyPairs"])
		}
		t.Logf("agent: %v frames encrypted, %v pairs sent together", st["Encrypted"], st["Pairs"])
	})

	t.Run("after a kill -9 and a fresh start, leasequery restores the locations and encryption resumes", func(t *testing.T) {
		agent.Signal(syscall.SIGKILL)
		<-agent.Done()
		agent = c.StartAgent(topo.Binary(t), configPath)
		// The modems re-register with the new CMTS and get its new keys.
		for _, m := range modems {
			replied := m.keyer.Replied()
			m.keyer.Rekey()
			waitClosed(t, replied, "modem %v's Key Reply from the restarted agent", m.mac)
		}
		if n := len(tableOf(t, agent)); n != 0 {
			t.Fatalf("the restarted agent's table has %d bindings, want none", n)
		}
		tr.probe(t) // each CPE: dropped until its location is back, then delivered
		st := bpiStats(t, agent)
		if st["UnknownLocation"] < 4 || st["Leasequeries.Active"] < 4 || st["Leasequeries.Triggered"] < 4 {
			t.Errorf("counters %v: want each CPE's first frames dropped for an unknown location and a leasequery answered ACTIVE for each", st)
		}
		for _, b := range tableOf(t, agent) {
			if b.Source != "leasequery" || b.Modem == "" {
				t.Errorf("binding %v after the restart: source %s, modem %q; want leasequery, with the modem", b.IP, b.Source, b.Modem)
			}
		}
		tr.flow(t, func() bool { return tr.sentEach() >= tr.sentAtProbe+100 })
		spy.check(t, modems)
	})
}

func bpiSection(modems []*bpiModem) map[string]any {
	var ms []any
	for _, m := range modems {
		ms = append(ms, map[string]any{"mac": m.mac.String(), "said": m.said, "auth_key": hex.EncodeToString(m.ak)})
	}
	return map[string]any{"enabled": true, "downstream_interface": "ds1", "rf_interface": "rf0",
		"tek_lifetime": bpiTEKLifetime.String(), "tek_grace": bpiTEKGrace.String(),
		"leasequery_holdoff": "1s", "modems": ms}
}

// buildRFPlant adds the RF plant (a switch joining the card's rf0 and each
// access namespace's rf0, MTU 1600) and the downstream veth ds0 -> ds1 in
// the card, without IPv6 so that the kernel does not talk on it; it
// returns the card's RF MAC address and the plant's namespace.
func buildRFPlant(t *testing.T, c *topo.Concentrator) (cmts net.HardwareAddr, plant *lab.NS) {
	t.Helper()
	sw := c.Lab.Switch("rf")
	sw.Attach(c.Card, "rf0")
	for _, p := range c.Ports {
		sw.Attach(p.Access, "rf0")
		p.Access.MustIP("link", "set", "rf0", "mtu", "1600")
	}
	c.Card.MustIP("link", "set", "rf0", "mtu", "1600")
	for i := range c.Ports {
		sw.NS().MustIP("link", "set", fmt.Sprintf("p%d", i+2), "mtu", "1600")
	}
	sw.NS().MustIP("link", "set", "p1", "mtu", "1600")
	sw.NS().MustIP("link", "set", "br0", "mtu", "1600")
	c.Card.MustIP("link", "add", "ds0", "type", "veth", "peer", "name", "ds1")
	for _, knob := range []string{"net.ipv6.conf.ds0.disable_ipv6=1", "net.ipv6.conf.ds1.disable_ipv6=1", "net.ipv4.ip_forward=1"} {
		c.Card.MustExec("sysctl", "-qw", knob)
	}
	c.Card.MustIP("link", "set", "ds0", "up")
	c.Card.MustIP("link", "set", "ds1", "up")
	c.Card.WaitOperUp("ds0")
	if err := c.Card.Do(func() error {
		ifi, err := net.InterfaceByName("rf0")
		if err == nil {
			cmts = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return cmts, sw.NS()
}

// start runs the modem's emulator (with its keyer) in the port's access
// namespace: it reads rf0 and delivers onto the access bridge.
func (m *bpiModem) start(t *testing.T, ctx context.Context, wg *sync.WaitGroup, p *topo.Port, cmts net.HardwareAddr) {
	t.Helper()
	var cpeMACs []net.HardwareAddr
	for _, cl := range p.Clients {
		cpeMACs = append(cpeMACs, cl.MAC)
	}
	var err error
	if m.emu, err = modem.New(modem.Config{MAC: m.mac, PrimarySAID: m.said, CPEs: cpeMACs}); err != nil {
		t.Fatal(err)
	}
	ak := bpkm.AuthKey{Key: m.ak, Expires: time.Now().Add(24 * time.Hour)}
	if m.keyer, err = modem.NewKeyer(modem.KeyerConfig{Modem: m.emu, AK: ak, CMTS: cmts, Grace: bpiTEKGrace}); err != nil {
		t.Fatal(err)
	}
	var rf *rflink.Conn
	var cpe *rflink.EthernetConn
	err = p.Access.Do(func() error {
		if rf, err = rflink.Listen(ifaceByName("rf0")); err != nil {
			return err
		}
		cpe, err = rflink.ListenEthernet(ifaceByName("br0"), rflink.WriteOnly)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := modem.NewRunner(m.emu, rf, cpe)
	r.Keyer, r.Up = m.keyer, rf
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer rf.Close()
		defer cpe.Close()
		if err := r.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("modem %v: %v", m.mac, err)
		}
	}()
	<-r.Ready()
}

func ifaceByName(name string) *net.Interface {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return &net.Interface{Name: name} // Listen then fails naming it
	}
	return ifi
}

// bpiCPE is one subscriber host with its lease and a UDP socket on it.
type bpiCPE struct {
	client *topo.Client
	ip     netip.Addr
	said   uint16
	conn   *net.UDPConn
}

// leaseCPEs gets every client a lease (dhclient on the first of each
// port, udhcpc on the second) and waits until the agent's table places
// all four behind their modems.
func leaseCPEs(t *testing.T, c *topo.Concentrator, agent *topo.Agent) []*bpiCPE {
	t.Helper()
	var cpes []*bpiCPE
	for i, p := range c.Ports {
		for j, cl := range p.Clients {
			var ip netip.Addr
			if j == 0 {
				ip = bound(t, cl.Dhclient(fmt.Sprintf("dhclient-%d", i), topo.DhclientOptions{}).WaitBound)
			} else {
				ip = bound(t, func() (netip.Addr, error) { return topo.WaitUdhcpc(cl.Udhcpc(fmt.Sprintf("udhcpc-%d", i))) })
			}
			cpe := &bpiCPE{client: cl, ip: ip, said: uint16(101 + i)}
			if err := cl.NS.Do(func() (err error) {
				// Any address: udhcpc reports the lease before its script
				// has configured it.
				cpe.conn, err = net.ListenUDP("udp4", &net.UDPAddr{Port: bpiPort})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cpe.conn.Close() })
			cpes = append(cpes, cpe)
		}
	}
	w, err := agent.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Until(hang, func(s map[netip.Addr]topo.Binding) bool {
		for _, cpe := range cpes {
			if s[cpe.ip].Modem == "" {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return cpes
}

// routeIntoBPI makes the card forward each CPE's traffic into ds0 (a /32
// route and a permanent neighbour entry with the CPE's MAC), standing in
// for the card's forwarding plane: BPI reads it on ds1.
func routeIntoBPI(t *testing.T, c *topo.Concentrator, cpes []*bpiCPE) {
	t.Helper()
	for _, cpe := range cpes {
		c.Card.MustIP("route", "replace", cpe.ip.String()+"/32", "dev", "ds0")
		c.Card.MustIP("neigh", "replace", cpe.ip.String(), "lladdr", cpe.client.MAC.String(), "dev", "ds0", "nud", "permanent")
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, format string, args ...any) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hang):
		t.Fatalf("no "+format+" within %v", append(args, hang)...)
	}
}

func emuStats(m *modem.Modem) string {
	s := &m.Stats
	return fmt.Sprintf("delivered=%d notOurSAID=%d crc=%d nokey=%d bad=%d notForCPE=%d mgmt=%d",
		s.Delivered.Load(), s.NotOurSAID.Load(), s.CRCErrors.Load(), s.NoKey.Load(), s.BadFrame.Load(), s.NotForCPE.Load(), s.Mgmt.Load())
}

// bpiStats flattens the agent's BPI counters ("Encrypted",
// "Leasequeries.Active").
func bpiStats(t *testing.T, agent *topo.Agent) map[string]float64 {
	t.Helper()
	all, err := agent.Stats()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch v := v.(type) {
			case float64:
				out[prefix+k] = v
			case map[string]any:
				walk(prefix+k+".", v)
			}
		}
	}
	b, ok := all["BPI"].(map[string]any)
	if !ok {
		t.Fatalf("no BPI counters in the agent's stats: %v", all)
	}
	walk("", b)
	return out
}

func tableOf(t *testing.T, agent *topo.Agent) []topo.Binding {
	t.Helper()
	bs, err := agent.Table()
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// rfSpy reads everything on the RF plant: which SAIDs and key sequences
// the data frames carry, and whether any data went in clear.
type rfSpy struct {
	mu        sync.Mutex
	bySAID    map[uint16]map[uint8]bool
	last      map[uint16][]byte
	clear     int // data frames without privacy
	marked    int // frames in which the traffic's plaintext marker shows
	malformed int
	mgmt      int
}

// trafficMarker is in every datagram the test sends: it must never show
// on the RF link.
var trafficMarker = []byte("leaseguard-bpi-plaintext-marker!")

func startRFSpy(t *testing.T, plant *lab.NS) *rfSpy {
	t.Helper()
	s := &rfSpy{bySAID: map[uint16]map[uint8]bool{}, last: map[uint16][]byte{}}
	var conn *rflink.Conn
	if err := plant.Do(func() (err error) {
		conn, err = rflink.Listen(ifaceByName("br0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, err := conn.ReadDOCSIS(buf)
			if err != nil {
				return // closed at cleanup
			}
			s.see(buf[:n])
		}
	}()
	return s
}

func (s *rfSpy) see(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Contains(frame, trafficMarker) {
		s.marked++
	}
	if frame[0]>>6 == bpi.FCTypeMACSpecific {
		s.mgmt++
		return
	}
	d, err := bpi.ParseDownstream(frame)
	switch {
	case err != nil:
		s.malformed++
	case !d.Encrypted():
		s.clear++
	default:
		said := d.Privacy.SAID
		if s.bySAID[said] == nil {
			s.bySAID[said] = map[uint8]bool{}
		}
		s.bySAID[said][d.Privacy.KeySeq] = true
		s.last[said] = append(s.last[said][:0], frame...)
	}
}

func (s *rfSpy) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("SAIDs and key sequences %v, clear %d, plaintext %d, malformed %d, management %d",
		s.bySAID, s.clear, s.marked, s.malformed, s.mgmt)
}

// seqs returns the key sequences seen so far per SAID.
func (s *rfSpy) seqs() map[uint16][]uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[uint16][]uint8{}
	for said, set := range s.bySAID {
		for seq := range set {
			out[said] = append(out[said], seq)
		}
		slices.Sort(out[said])
	}
	return out
}

func (s *rfSpy) lastFor(said uint16) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.last[said]...)
}

// check: every data frame on the plant was encrypted, for one of the two
// SAIDs, and the plaintext never showed.
func (s *rfSpy) check(t *testing.T, modems []*bpiModem) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clear != 0 || s.marked != 0 || s.malformed != 0 {
		t.Errorf("RF plant: %d data frames in clear, %d showing the plaintext, %d malformed; want none", s.clear, s.marked, s.malformed)
	}
	for said := range s.bySAID {
		if said != modems[0].said && said != modems[1].said {
			t.Errorf("RF plant: frames for SAID %d, which no modem has", said)
		}
	}
	for _, m := range modems {
		if len(s.bySAID[m.said]) == 0 {
			t.Errorf("RF plant: no encrypted frame for SAID %d", m.said)
		}
	}
}

// traffic sends numbered datagrams from the DHCP server's namespace to
// the CPEs (routed by the card into BPI) and follows their arrival.
type traffic struct {
	src         *net.UDPConn
	cpes        []*bpiCPE
	got         chan [2]int // cpe, seq
	next        []int       // next seq per CPE
	open        []map[int]bool
	sentAtProbe int
	diag        func() string // what to say when frames are lost
}

func newTraffic(t *testing.T, c *topo.Concentrator, cpes []*bpiCPE) *traffic {
	t.Helper()
	tr := &traffic{cpes: cpes, got: make(chan [2]int, 4096), next: make([]int, len(cpes))}
	for range cpes {
		tr.open = append(tr.open, map[int]bool{})
	}
	if err := c.Server.Do(func() (err error) {
		tr.src, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.Layout.Servers[0], 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		tr.src.Close()
		for _, cpe := range cpes {
			cpe.conn.Close()
		}
		wg.Wait()
	})
	for i, cpe := range cpes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				n, err := cpe.conn.Read(buf)
				if err != nil {
					return // closed at cleanup
				}
				if n >= 9 && int(buf[8]) == i {
					tr.got <- [2]int{i, int(binary.BigEndian.Uint64(buf))}
				}
			}
		}()
	}
	return tr
}

// send sends CPE i its next datagram, 48 to 1400 bytes long.
func (tr *traffic) send(t *testing.T, i int) {
	t.Helper()
	seq := tr.next[i]
	tr.next[i]++
	b := make([]byte, 48+(seq*97+i*31)%1353)
	binary.BigEndian.PutUint64(b, uint64(seq))
	b[8] = byte(i)
	copy(b[9:], trafficMarker)
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(tr.cpes[i].ip, bpiPort))
	if _, err := tr.src.WriteToUDP(b, dst); err != nil {
		t.Fatalf("send to %v: %v", dst, err)
	}
	tr.open[i][seq] = true
}

// flow sends datagrams paced at one per CPE per 4 ms (1000 a second in
// all: the emulators read every frame on the plant without flow control,
// so a faster sender would overflow their sockets), at most a window in
// flight per CPE, until until reports true, then waits for the rest:
// every datagram must arrive. No progress for 10 s is a lost frame.
func (tr *traffic) flow(t *testing.T, until func() bool) {
	t.Helper()
	const window = 8
	pace := time.NewTicker(4 * time.Millisecond)
	defer pace.Stop()
	progress := time.Now()
	for stop := false; ; {
		select {
		case r := <-tr.got:
			delete(tr.open[r[0]], r[1])
			progress = time.Now()
		case <-pace.C:
			stop = stop || until()
			for i := range tr.cpes {
				if !stop && len(tr.open[i]) < window {
					tr.send(t, i)
				}
			}
		}
		outstanding := 0
		for i := range tr.cpes {
			outstanding += len(tr.open[i])
		}
		if stop && outstanding == 0 {
			return
		}
		if time.Since(progress) > 10*time.Second {
			t.Fatalf("frames lost: still outstanding %v\n%s", tr.outstanding(), tr.diag())
		}
	}
}

func (tr *traffic) outstanding() map[string][]int {
	out := map[string][]int{}
	for i, set := range tr.open {
		for seq := range set {
			out[tr.cpes[i].ip.String()] = append(out[tr.cpes[i].ip.String()], seq)
		}
	}
	return out
}

// sentEach is how many datagrams the CPE sent the least has been sent.
func (tr *traffic) sentEach() int { return slices.Min(tr.next) }

// probe sends each CPE a datagram at a time until one arrives: those sent
// before its location is known are dropped by the agent, and forgotten.
func (tr *traffic) probe(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for i := range tr.cpes {
		for arrived := false; !arrived; {
			if time.Now().After(deadline) {
				t.Fatalf("no datagram reached %v within %v\n%s", tr.cpes[i].ip, hang, tr.diag())
			}
			clear(tr.open[i])
			tr.send(t, i)
			retry := time.After(300 * time.Millisecond)
			for wait := true; wait; {
				select {
				case r := <-tr.got:
					delete(tr.open[r[0]], r[1])
					arrived = arrived || r[0] == i
					wait = !arrived
				case <-retry:
					wait = false
				}
			}
		}
		clear(tr.open[i])
	}
	tr.sentAtProbe = slices.Max(tr.next)
}
