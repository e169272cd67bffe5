package main

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
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/bpkm"
	"github.com/leaseguard/leaseguard/bpi/modem"
	"github.com/leaseguard/leaseguard/bpi/rflink"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
)

// bpiCard is the demo's cable card: two ports, a modem behind each.
const bpiCard = `{
  "relay_id": "card-7",
  "upstream": { "interface": "up0", "address": "10.0.0.2" },
  "servers": ["10.0.0.1"],
  "subscriber_networks": ["192.168.10.0/24", "192.168.20.0/24"],
  "ports": [
    { "name": "cable1/0/0", "interface": "sub0", "kind": "cable", "gateway": "192.168.10.1", "modem": "00:10:95:00:00:01" },
    { "name": "cable1/0/1", "interface": "sub1", "kind": "cable", "gateway": "192.168.20.1", "modem": "00:10:95:00:00:02" }
  ]
}`

// The demo's keys live 10 s, so that a rollover happens while one watches.
const demoTEKLifetime, demoTEKGrace = 10 * time.Second, 3 * time.Second

// demoModem is an emulated modem with its keyer.
type demoModem struct {
	said  uint16
	mac   net.HardwareAddr
	emu   *modem.Modem
	keyer *modem.Keyer
}

// bpiStory runs a card with BPI+ on two cable ports: the modems fetch
// their keys over the RF link, the CPEs' downstream traffic goes down
// encrypted under their own modem's keys, each modem's emulator opens its
// own and not the other's, and a TEK rollover passes under traffic.
// Its steps are numbered from first.
func bpiStory(d *demo, first int) {
	lab.Need(d, "dhcpd", "udhcpc", "sysctl")
	step("%d. BPI+ on a cable card: two modems, two CPEs behind each; the card encrypts each CPE's downstream under its modem's keys", first)
	c := topo.Build(d, []byte(bpiCard), topo.Options{ClientsPerPort: 2})
	cmts, plant := demoRFPlant(d, c)
	modems := []*demoModem{{said: 101, mac: net.HardwareAddr{0, 0x10, 0x95, 0, 0, 1}}, {said: 102, mac: net.HardwareAddr{0, 0x10, 0x95, 0, 0, 2}}}
	c.StartDHCPD(c.DHCPDConf(topo.DHCPDOptions{}))
	agent := c.StartAgent(d.binary, c.LabConfig(func(cfg map[string]any) { cfg["bpi"] = demoBPISection(modems) }))
	fmt.Println(`   server --up0--> card: routes each CPE into ds0 --ds1--> leaseguard BPI --rf0 (EtherType 0x88B5)--> RF plant
                                                                     |-> modem 00:10:95:00:00:01 (SAID 101) -> 2 CPEs
                                                                     '-> modem 00:10:95:00:00:02 (SAID 102) -> 2 CPEs`)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	d.Cleanup(func() { cancel(); wg.Wait() })
	for i, m := range modems {
		m.start(d, ctx, &wg, c.Ports[i], cmts)
	}

	step("%d. Each modem asks for its keys (BPKM Key Request on the RF link, signed with its authorization key)", first+1)
	for _, m := range modems {
		waitDemo(d, m.keyer.Keyed(), "a Key Reply for modem %v", m.mac)
		k := m.emu.Keys()
		fmt.Printf("   modem %v, SAID %d: TEK %d (expires %s) and TEK %d (expires %s)\n", m.mac, m.said,
			k.Older.Seq, k.Older.Expires.Format("15:04:05"), k.Newer.Seq, k.Newer.Expires.Format("15:04:05"))
	}

	step("%d. The CPEs lease through the agent; the card routes their addresses into the BPI interface", first+2)
	cpes := bpiLeases(d, c)
	spy := startDemoSpy(d, plant)
	tr := newDemoTraffic(d, c, cpes)

	step("%d. The server sends 50 datagrams to each CPE: what the RF plant carries and what each modem could open", first+3)
	tr.send(d, 50)
	spy.print()
	for _, m := range modems {
		s := &m.emu.Stats
		fmt.Printf("   modem %v: opened and delivered %d (its own CPEs), ignored %d (SAID of the other modem), CRC failures %d\n",
			m.mac, s.Delivered.Load(), s.NotOurSAID.Load(), s.CRCErrors.Load())
	}
	theirs, _ := bpi.ParseDownstream(spy.lastFor(102))
	mine := modems[0].emu.Keys()
	if k := mine.BySeq(theirs.Privacy.KeySeq); k != nil {
		_, err := theirs.Open(k)
		fmt.Printf("   modem 1 forcing its own TEK %d on a SAID 102 frame: %v\n", k.Seq, err)
	}
	for _, cpe := range cpes {
		fmt.Printf("   CPE %v (%s) received %d of 50\n", cpe.ip, cpe.port, tr.received(cpe))
	}

	step("%d. TEK rollovers under traffic: keys live %v; the card switches to the newer key when the older expires, makes the next key %v later, and the modems fetch it %v before theirs expire",
		first+4, demoTEKLifetime, demoTEKGrace, demoTEKGrace)
	start := time.Now()
	sent := tr.sendUntil(d, func() bool { return slices.Contains(spy.seqsOf(101), 2) && slices.Contains(spy.seqsOf(102), 2) })
	fmt.Printf("   key sequences seen on the RF plant after %v: SAID 101 %v, SAID 102 %v\n",
		time.Since(start).Round(time.Second), spy.seqsOf(101), spy.seqsOf(102))
	fmt.Printf("   %d more datagrams per CPE across two switches and a rollover; every one arrived: %v\n", sent, tr.allArrived())
	for _, m := range modems {
		k := m.emu.Keys()
		fmt.Printf("   modem %v now holds TEK %d and TEK %d (%d Key Requests, %d replies, CRC failures %d)\n", m.mac, k.Older.Seq, k.Newer.Seq,
			m.keyer.Stats.Requests.Load(), m.keyer.Stats.Replies.Load(), m.emu.Stats.CRCErrors.Load())
	}
	if st, err := agent.Stats(); err == nil {
		fmt.Printf("   agent BPI counters: %v\n", st["BPI"])
	}
}

func demoBPISection(modems []*demoModem) map[string]any {
	var ms []any
	for _, m := range modems {
		ms = append(ms, map[string]any{"mac": m.mac.String(), "said": m.said, "auth_key": hex.EncodeToString(demoAK(m))})
	}
	return map[string]any{"enabled": true, "downstream_interface": "ds1", "rf_interface": "rf0",
		"tek_lifetime": demoTEKLifetime.String(), "tek_grace": demoTEKGrace.String(), "modems": ms}
}

func demoAK(m *demoModem) []byte { return bytes.Repeat([]byte{byte(m.said)}, bpkm.AKLen) }

// demoRFPlant joins the card's rf0 and each access namespace's rf0 on a
// switch (MTU 1600), and adds the downstream veth ds0 -> ds1 in the card.
func demoRFPlant(d *demo, c *topo.Concentrator) (net.HardwareAddr, *lab.NS) {
	sw := c.Lab.Switch("rf")
	sw.Attach(c.Card, "rf0")
	for _, p := range c.Ports {
		sw.Attach(p.Access, "rf0")
		p.Access.MustIP("link", "set", "rf0", "mtu", "1600")
	}
	c.Card.MustIP("link", "set", "rf0", "mtu", "1600")
	for i := range len(c.Ports) + 1 {
		sw.NS().MustIP("link", "set", fmt.Sprintf("p%d", i+1), "mtu", "1600")
	}
	sw.NS().MustIP("link", "set", "br0", "mtu", "1600")
	c.Card.MustIP("link", "add", "ds0", "type", "veth", "peer", "name", "ds1")
	for _, knob := range []string{"net.ipv6.conf.ds0.disable_ipv6=1", "net.ipv6.conf.ds1.disable_ipv6=1", "net.ipv4.ip_forward=1"} {
		c.Card.MustExec("sysctl", "-qw", knob)
	}
	c.Card.MustIP("link", "set", "ds0", "up")
	c.Card.MustIP("link", "set", "ds1", "up")
	var mac net.HardwareAddr
	if err := c.Card.Do(func() error {
		ifi, err := net.InterfaceByName("rf0")
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		d.Fatalf("%v", err)
	}
	return mac, sw.NS()
}

func (m *demoModem) start(d *demo, ctx context.Context, wg *sync.WaitGroup, p *topo.Port, cmts net.HardwareAddr) {
	var cpeMACs []net.HardwareAddr
	for _, cl := range p.Clients {
		cpeMACs = append(cpeMACs, cl.MAC)
	}
	var err error
	if m.emu, err = modem.New(modem.Config{MAC: m.mac, PrimarySAID: m.said, CPEs: cpeMACs}); err != nil {
		d.Fatalf("%v", err)
	}
	ak := bpkm.AuthKey{Key: demoAK(m), Expires: time.Now().Add(24 * time.Hour)}
	if m.keyer, err = modem.NewKeyer(modem.KeyerConfig{Modem: m.emu, AK: ak, CMTS: cmts, Grace: demoTEKGrace}); err != nil {
		d.Fatalf("%v", err)
	}
	var rf *rflink.Conn
	var cpe *rflink.EthernetConn
	if err := p.Access.Do(func() error {
		rfIf, err := net.InterfaceByName("rf0")
		if err != nil {
			return err
		}
		brIf, err := net.InterfaceByName("br0")
		if err != nil {
			return err
		}
		if rf, err = rflink.Listen(rfIf); err != nil {
			return err
		}
		cpe, err = rflink.ListenEthernet(brIf, rflink.WriteOnly)
		return err
	}); err != nil {
		d.Fatalf("modem %v: %v", m.mac, err)
	}
	r := modem.NewRunner(m.emu, rf, cpe)
	r.Keyer, r.Up = m.keyer, rf
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer rf.Close()
		defer cpe.Close()
		if err := r.Run(ctx); !errors.Is(err, context.Canceled) {
			d.Errorf("modem %v: %v", m.mac, err)
		}
	}()
	<-r.Ready()
}

func waitDemo(d *demo, ch <-chan struct{}, format string, args ...any) {
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		d.Fatalf("no "+format+" within a minute", args...)
	}
}

// demoCPE is a CPE with its lease and a UDP socket.
type demoCPE struct {
	ip   netip.Addr
	port string
	conn *net.UDPConn
}

func bpiLeases(d *demo, c *topo.Concentrator) []*demoCPE {
	var cpes []*demoCPE
	for _, cl := range c.Clients() {
		ip, err := topo.WaitUdhcpc(cl.Udhcpc("udhcpc"))
		if err != nil {
			d.Fatalf("client %s: %v", cl.MAC, err)
		}
		cpe := &demoCPE{ip: ip, port: cl.Port.Layout.Name}
		if err := cl.NS.Do(func() (err error) {
			cpe.conn, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 5000})
			return err
		}); err != nil {
			d.Fatalf("%v", err)
		}
		d.Cleanup(func() { cpe.conn.Close() })
		c.Card.MustIP("route", "replace", ip.String()+"/32", "dev", "ds0")
		c.Card.MustIP("neigh", "replace", ip.String(), "lladdr", cl.MAC.String(), "dev", "ds0", "nud", "permanent")
		fmt.Printf("   CPE %s on %s (modem %s) got %v; card: ip route %v/32 dev ds0\n", cl.MAC, cl.Port.Layout.Name, cl.Port.Layout.Modem, ip, ip)
		cpes = append(cpes, cpe)
	}
	return cpes
}

// demoSpy reads the RF plant.
type demoSpy struct {
	mu      sync.Mutex
	frames  map[uint16]int
	seqs    map[uint16]map[uint8]bool
	last    map[uint16][]byte
	clear   int
	plain   int
	example []byte
}

var demoMarker = []byte("hello CPE, this is the server")

func startDemoSpy(d *demo, plant *lab.NS) *demoSpy {
	s := &demoSpy{frames: map[uint16]int{}, seqs: map[uint16]map[uint8]bool{}, last: map[uint16][]byte{}}
	var conn *rflink.Conn
	if err := plant.Do(func() error {
		ifi, err := net.InterfaceByName("br0")
		if err == nil {
			conn, err = rflink.Listen(ifi)
		}
		return err
	}); err != nil {
		d.Fatalf("%v", err)
	}
	d.Cleanup(func() { conn.Close() })
	go func() {
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

func (s *demoSpy) see(f []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Contains(f, demoMarker) {
		s.plain++
	}
	if f[0]>>6 == bpi.FCTypeMACSpecific {
		return
	}
	dd, err := bpi.ParseDownstream(f)
	if err != nil || !dd.Encrypted() {
		s.clear++
		return
	}
	said := dd.Privacy.SAID
	s.frames[said]++
	if s.seqs[said] == nil {
		s.seqs[said] = map[uint8]bool{}
	}
	s.seqs[said][dd.Privacy.KeySeq] = true
	s.last[said] = append(s.last[said][:0], f...)
	if s.example == nil {
		s.example = append([]byte(nil), f[:min(len(f), 32)]...)
	}
}

func (s *demoSpy) print() {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Printf("   RF plant: %d frames for SAID 101, %d for SAID 102, all encrypted; %d in clear; the plaintext %q showed in %d\n",
		s.frames[101], s.frames[102], s.clear, demoMarker, s.plain)
	fmt.Printf("   a frame's first bytes: %x\n", s.example)
	fmt.Println("     (FC 01: packet PDU with an extended header; EH 44: downstream privacy, key sequence, SAID; then DA SA in clear, the rest encrypted)")
}

func (s *demoSpy) seqsOf(said uint16) []uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint8
	for seq := range 16 {
		if s.seqs[said][uint8(seq)] {
			out = append(out, uint8(seq))
		}
	}
	return out
}

func (s *demoSpy) lastFor(said uint16) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.last[said]...)
}

// demoTraffic sends numbered datagrams from the server to the CPEs.
type demoTraffic struct {
	src  *net.UDPConn
	cpes []*demoCPE
	mu   sync.Mutex
	sent map[*demoCPE]int
	got  map[*demoCPE]map[uint64]bool
}

func newDemoTraffic(d *demo, c *topo.Concentrator, cpes []*demoCPE) *demoTraffic {
	tr := &demoTraffic{cpes: cpes, sent: map[*demoCPE]int{}, got: map[*demoCPE]map[uint64]bool{}}
	if err := c.Server.Do(func() (err error) {
		tr.src, err = net.ListenUDP("udp4", &net.UDPAddr{IP: c.Layout.Servers[0].AsSlice()})
		return err
	}); err != nil {
		d.Fatalf("%v", err)
	}
	d.Cleanup(func() { tr.src.Close() })
	for _, cpe := range cpes {
		tr.got[cpe] = map[uint64]bool{}
		go func() {
			buf := make([]byte, 2048)
			for {
				n, err := cpe.conn.Read(buf)
				if err != nil {
					return // closed at cleanup
				}
				if n >= 8 {
					tr.mu.Lock()
					tr.got[cpe][binary.BigEndian.Uint64(buf)] = true
					tr.mu.Unlock()
				}
			}
		}()
	}
	return tr
}

// send sends n datagrams to each CPE, 5 ms apart, and waits for them.
func (tr *demoTraffic) send(d *demo, n int) {
	for range n {
		tr.round(d)
	}
	tr.settle()
}

// sendUntil sends rounds until done, then waits; it returns the rounds.
func (tr *demoTraffic) sendUntil(d *demo, done func() bool) int {
	deadline := time.Now().Add(60 * time.Second)
	rounds := 0
	for ; !done() && time.Now().Before(deadline); rounds++ {
		tr.round(d)
	}
	tr.settle()
	return rounds
}

func (tr *demoTraffic) round(d *demo) {
	for _, cpe := range tr.cpes {
		tr.mu.Lock()
		seq := tr.sent[cpe]
		tr.sent[cpe]++
		tr.mu.Unlock()
		b := make([]byte, 200)
		binary.BigEndian.PutUint64(b, uint64(seq))
		copy(b[8:], demoMarker)
		if _, err := tr.src.WriteToUDP(b, net.UDPAddrFromAddrPort(netip.AddrPortFrom(cpe.ip, 5000))); err != nil {
			d.Fatalf("send to %v: %v", cpe.ip, err)
		}
	}
	time.Sleep(5 * time.Millisecond) // pacing a demo's traffic
}

// settle waits (briefly) for the datagrams in flight.
func (tr *demoTraffic) settle() {
	for deadline := time.Now().Add(5 * time.Second); !tr.allArrived() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // polling a demo, not a test
	}
}

func (tr *demoTraffic) received(cpe *demoCPE) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.got[cpe])
}

func (tr *demoTraffic) allArrived() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, cpe := range tr.cpes {
		if len(tr.got[cpe]) != tr.sent[cpe] {
			return false
		}
	}
	return true
}
