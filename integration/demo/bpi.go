package main

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/integration/bpilab"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
)

// The demo's keys live 10 s, so that a rollover happens while one watches.
const demoTEKLifetime, demoTEKGrace = 10 * time.Second, 3 * time.Second

// demoMarker is in every datagram the server sends the CPEs.
var demoMarker = []byte("hello CPE, this is the server")

// bpiStory runs a card with BPI+ on two cable ports: the modems fetch
// their keys over the RF link, the CPEs' downstream traffic goes down
// encrypted under their own modem's keys, each modem's emulator opens its
// own and not the other's, and a TEK rollover passes under traffic.
// Its steps are numbered from first.
func bpiStory(d *demo, first int) {
	lab.Need(d, "dhcpd", "udhcpc", "sysctl")
	step("%d. BPI+ on a cable card: two modems, two CPEs behind each; the card encrypts each CPE's downstream under its modem's keys", first)
	l := bpilab.Build(d, bpilab.Options{TEKLifetime: demoTEKLifetime, TEKGrace: demoTEKGrace, Marker: demoMarker})
	modems := l.Modems
	l.StartDHCPD(l.DHCPDConf(topo.DHCPDOptions{}))
	agent := l.StartAgent(d.binary, l.AgentConfig())
	fmt.Println(`   server --up0--> card: routes each CPE into ds0 --ds1--> leaseguard BPI --rf0 (EtherType 0x88B5)--> RF plant
                                                                     |-> modem 00:10:95:00:00:01 (SAID 101) -> 2 CPEs
                                                                     '-> modem 00:10:95:00:00:02 (SAID 102) -> 2 CPEs`)
	l.StartModems()

	step("%d. Each modem asks for its keys (BPKM Key Request on the RF link, signed with its authorization key)", first+1)
	l.WaitKeyed(time.Minute)
	for _, m := range modems {
		k := m.Emu.Keys()
		fmt.Printf("   modem %v, SAID %d: TEK %d (expires %s) and TEK %d (expires %s)\n", m.MAC, m.SAID,
			k.Older.Seq, k.Older.Expires.Format("15:04:05"), k.Newer.Seq, k.Newer.Expires.Format("15:04:05"))
	}

	step("%d. The CPEs lease through the agent; the card routes their addresses into the BPI interface", first+2)
	cpes := bpiLeases(d, l)
	spy := l.StartSpy()
	tr := newDemoTraffic(d, l, cpes)

	step("%d. The server sends 50 datagrams to each CPE: what the RF plant carries and what each modem could open", first+3)
	tr.send(d, 50)
	printPlant(spy)
	for _, m := range modems {
		s := &m.Emu.Stats
		fmt.Printf("   modem %v: opened and delivered %d (its own CPEs), ignored %d (SAID of the other modem), CRC failures %d\n",
			m.MAC, s.Delivered.Load(), s.NotOurSAID.Load(), s.CRCErrors.Load())
	}
	theirs, _ := bpi.ParseDownstream(spy.LastFor(102))
	mine := modems[0].Emu.Keys()
	if k := mine.BySeq(theirs.Privacy.KeySeq); k != nil {
		_, err := theirs.Open(k)
		fmt.Printf("   modem 1 forcing its own TEK %d on a SAID 102 frame: %v\n", k.Seq, err)
	}
	for i, cpe := range cpes {
		fmt.Printf("   CPE %v (%s) received %d of 50\n", cpe.IP, cpe.Client.Port.Layout.Name, tr.received(i))
	}

	step("%d. TEK rollovers under traffic: keys live %v; the card switches to the newer key when the older expires, makes the next key %v later, and the modems fetch it %v before theirs expire",
		first+4, demoTEKLifetime, demoTEKGrace, demoTEKGrace)
	start := time.Now()
	sent := tr.sendUntil(d, func() bool {
		seqs := spy.Seqs()
		return slices.Contains(seqs[101], 2) && slices.Contains(seqs[102], 2)
	})
	seqs := spy.Seqs()
	fmt.Printf("   key sequences seen on the RF plant after %v: SAID 101 %v, SAID 102 %v\n",
		time.Since(start).Round(time.Second), seqs[101], seqs[102])
	fmt.Printf("   %d more datagrams per CPE across two switches and a rollover; every one arrived: %v\n", sent, tr.allArrived())
	for _, m := range modems {
		k := m.Emu.Keys()
		fmt.Printf("   modem %v now holds TEK %d and TEK %d (%d Key Requests, %d replies, CRC failures %d)\n", m.MAC, k.Older.Seq, k.Newer.Seq,
			m.Keyer.Stats.Requests.Load(), m.Keyer.Stats.Replies.Load(), m.Emu.Stats.CRCErrors.Load())
	}
	if st, err := agent.Stats(); err == nil {
		if c, ok := st["BPI"].(map[string]any); ok {
			n := func(k string) int64 { f, _ := c[k].(float64); return int64(f) }
			fmt.Printf("   agent BPI counters: %d frames read, %d encrypted (%d in pairs), %d in clear, dropped %d unknown location / %d no key;\n"+
				"     BPKM %d Key Requests, %d replies, %d rejects; %d key pairs installed\n",
				n("Frames"), n("Encrypted"), n("Pairs"), n("Clear"), n("UnknownLocation"), n("NoKey"),
				n("KeyRequests"), n("KeyReplies"), n("KeyRejects"), n("KeyPairs"))
		}
	}
}

// bpiLeases leases every CPE with udhcpc, opens its socket and routes it
// into the BPI interface.
func bpiLeases(d *demo, l *bpilab.Lab) []*bpilab.CPE {
	var cpes []*bpilab.CPE
	for _, cl := range l.Clients() {
		ip, err := topo.WaitUdhcpc(cl.Udhcpc("udhcpc"))
		if err != nil {
			d.Fatalf("client %s: %v", cl.MAC, err)
		}
		cpe := l.NewCPE(cl, ip)
		l.RouteIntoBPI(cpe)
		fmt.Printf("   CPE %s on %s (modem %s) got %v; card: ip route %v/32 dev ds0\n", cl.MAC, cl.Port.Layout.Name, cl.Port.Layout.Modem, ip, ip)
		cpes = append(cpes, cpe)
	}
	return cpes
}

// printPlant says what the spy saw on the RF plant.
func printPlant(spy *bpilab.Spy) {
	s := spy.Seen()
	fmt.Printf("   RF plant: %d frames for SAID 101, %d for SAID 102, all encrypted; %d in clear; the plaintext %q showed in %d\n",
		s.Frames[101], s.Frames[102], s.Clear+s.Malformed, demoMarker, s.Marked)
	fmt.Printf("   a frame's first bytes: %x\n", s.Example)
	fmt.Println("     (FC 01: packet PDU with an extended header; EH 44: downstream privacy, key sequence, SAID; then DA SA in clear, the rest encrypted)")
}

// demoTraffic counts the datagrams bpilab.Traffic sends the CPEs and
// those that arrived.
type demoTraffic struct {
	*bpilab.Traffic
	cpes []*bpilab.CPE
	mu   sync.Mutex
	sent []int
	got  []map[uint64]bool
}

func newDemoTraffic(d *demo, l *bpilab.Lab, cpes []*bpilab.CPE) *demoTraffic {
	tr := &demoTraffic{cpes: cpes, sent: make([]int, len(cpes))}
	for range cpes {
		tr.got = append(tr.got, map[uint64]bool{})
	}
	tr.Traffic = l.StartTraffic(cpes, func(i int, seq uint64) {
		tr.mu.Lock()
		tr.got[i][seq] = true
		tr.mu.Unlock()
	})
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
	for i := range tr.cpes {
		tr.mu.Lock()
		seq := tr.sent[i]
		tr.sent[i]++
		tr.mu.Unlock()
		if err := tr.Send(i, uint64(seq), 200); err != nil {
			d.Fatalf("%v", err)
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

func (tr *demoTraffic) received(i int) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.got[i])
}

func (tr *demoTraffic) allArrived() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i := range tr.cpes {
		if len(tr.got[i]) != tr.sent[i] {
			return false
		}
	}
	return true
}
