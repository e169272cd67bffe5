package integration

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/modem"
	"github.com/leaseguard/leaseguard/integration/bpilab"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
)

// Short keys bound the test: a TEK lives 8 s, the manager rolls 2 s after
// the older expires, and the modems ask again 2 s before their newer key
// expires (3 s of margin over the roll even with the whole-second key
// lifetimes of the Key Reply).
var bpiOptions = bpilab.Options{
	TEKLifetime:       8 * time.Second,
	TEKGrace:          2 * time.Second,
	LeasequeryHoldoff: time.Second,
	// It must never show on the RF link.
	Marker: []byte("leaseguard-bpi-plaintext-marker!"),
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
	l := bpilab.Build(t, bpiOptions)
	spy := l.StartSpy()
	modems := l.Modems
	l.StartDHCPD(l.DHCPDConf(topo.DHCPDOptions{}))
	configPath := l.AgentConfig()
	agent := l.StartAgent(topo.Binary(t), configPath)
	l.StartModems()
	l.WaitKeyed(hang)

	cpes := leaseCPEs(t, l, agent)
	for _, cpe := range cpes {
		l.RouteIntoBPI(cpe)
	}
	tr := newTraffic(t, l, cpes)
	tr.diag = func() string {
		all, _ := agent.Stats()
		return fmt.Sprintf("agent BPI counters %v\nmodem 1: %s\nmodem 2: %s\nRF plant: %s",
			all["BPI"], emuStats(modems[0].Emu), emuStats(modems[1].Emu), spy)
	}

	t.Run("each CPE's traffic is encrypted under its modem's SA and only it can open it", func(t *testing.T) {
		tr.flow(t, func() bool { return tr.sentEach() >= 200 })
		checkPlant(t, spy, modems)
		for _, m := range modems {
			s := &m.Emu.Stats
			if s.Delivered.Load() < 400 || s.NotOurSAID.Load() < 400 || s.CRCErrors.Load() != 0 || s.NoKey.Load() != 0 {
				t.Errorf("modem %v: %s; want >= 400 delivered, >= 400 of the other modem's ignored, no CRC or key errors", m.MAC, emuStats(m.Emu))
			}
		}
		// Modem 1 holds keys with the sequence numbers modem 2's frames
		// carry, but opening them fails the CRC: different keys.
		frame := spy.LastFor(modems[1].SAID)
		d, err := bpi.ParseDownstream(frame)
		if err != nil {
			t.Fatal(err)
		}
		keys := modems[0].Emu.Keys()
		if k := keys.BySeq(d.Privacy.KeySeq); k == nil {
			t.Errorf("modem 1 holds no key with sequence %d to try", d.Privacy.KeySeq)
		} else if _, err := d.Open(k); !errors.Is(err, bpi.ErrCRC) {
			t.Errorf("modem 1's key %d on modem 2's frame: %v, want ErrCRC", d.Privacy.KeySeq, err)
		}
	})

	t.Run("TEK rollovers while traffic flows lose no frame", func(t *testing.T) {
		s1, s2 := modems[0].SAID, modems[1].SAID
		before := spy.Seqs()
		tr.flow(t, func() bool {
			now := spy.Seqs()
			return len(now[s1]) >= len(before[s1])+2 && len(now[s2]) >= len(before[s2])+2
		})
		after := spy.Seqs()
		t.Logf("key sequences on the RF link: SAID %d %v, SAID %d %v", s1, after[s1], s2, after[s2])
		if len(after[s1]) < 3 || len(after[s2]) < 3 {
			t.Errorf("traffic crossed fewer than two key switches: %v", after)
		}
		checkPlant(t, spy, modems)
		st := bpiStats(t, agent)
		if st["KeyPairs"] < 4 {
			t.Errorf("the manager installed %v key pairs, want the first two and at least one rollover each", st["KeyPairs"])
		}
		t.Logf("agent: %v frames encrypted, %v pairs sent together", st["Encrypted"], st["Pairs"])
	})

	t.Run("after a kill -9 and a fresh start, leasequery restores the locations and encryption resumes", func(t *testing.T) {
		agent.Kill()
		agent = l.StartAgent(topo.Binary(t), configPath)
		// The modems re-register with the new CMTS and get its new keys.
		for _, m := range modems {
			replied := m.Keyer.Replied()
			m.Keyer.Rekey()
			waitClosed(t, replied, "modem %v's Key Reply from the restarted agent", m.MAC)
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
		checkPlant(t, spy, modems)
	})
}

// leaseCPEs gets every client a lease (dhclient on the first of each
// port, udhcpc on the second), opens its socket, and waits until the
// agent's table places all four behind their modems.
func leaseCPEs(t *testing.T, l *bpilab.Lab, agent *topo.Agent) []*bpilab.CPE {
	t.Helper()
	var cpes []*bpilab.CPE
	for i, p := range l.Ports {
		for j, cl := range p.Clients {
			var ip netip.Addr
			if j == 0 {
				ip = bound(t, cl.Dhclient(fmt.Sprintf("dhclient-%d", i), topo.DhclientOptions{}).WaitBound)
			} else {
				ip = bound(t, func() (netip.Addr, error) { return topo.WaitUdhcpc(cl.Udhcpc(fmt.Sprintf("udhcpc-%d", i))) })
			}
			cpes = append(cpes, l.NewCPE(cl, ip))
		}
	}
	w, err := agent.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Until(hang, func(s map[netip.Addr]topo.Binding) bool {
		for _, cpe := range cpes {
			if s[cpe.IP].Modem == "" {
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

// checkPlant: every data frame on the plant was encrypted, for one of the
// modems' SAIDs, and the plaintext never showed.
func checkPlant(t *testing.T, spy *bpilab.Spy, modems []*bpilab.Modem) {
	t.Helper()
	seen := spy.Seen()
	if seen.Clear != 0 || seen.Marked != 0 || seen.Malformed != 0 {
		t.Errorf("RF plant: %d data frames in clear, %d showing the plaintext, %d malformed; want none", seen.Clear, seen.Marked, seen.Malformed)
	}
	for said := range seen.Frames {
		if !slices.ContainsFunc(modems, func(m *bpilab.Modem) bool { return m.SAID == said }) {
			t.Errorf("RF plant: frames for SAID %d, which no modem has", said)
		}
	}
	for _, m := range modems {
		if seen.Frames[m.SAID] == 0 {
			t.Errorf("RF plant: no encrypted frame for SAID %d", m.SAID)
		}
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

// traffic follows the datagrams bpilab.Traffic sends the CPEs: which are
// still in flight, and when they stop arriving.
type traffic struct {
	*bpilab.Traffic
	cpes        []*bpilab.CPE
	got         chan [2]int // cpe, seq
	next        []int       // next seq per CPE
	open        []map[int]bool
	sentAtProbe int
	diag        func() string // what to say when frames are lost
}

func newTraffic(t *testing.T, l *bpilab.Lab, cpes []*bpilab.CPE) *traffic {
	t.Helper()
	tr := &traffic{cpes: cpes, got: make(chan [2]int, 4096), next: make([]int, len(cpes))}
	for range cpes {
		tr.open = append(tr.open, map[int]bool{})
	}
	tr.Traffic = l.StartTraffic(cpes, func(i int, seq uint64) { tr.got <- [2]int{i, int(seq)} })
	return tr
}

// send sends CPE i its next datagram, 48 to 1400 bytes long.
func (tr *traffic) send(t *testing.T, i int) {
	t.Helper()
	seq := tr.next[i]
	tr.next[i]++
	if err := tr.Send(i, uint64(seq), 48+(seq*97+i*31)%1353); err != nil {
		t.Fatal(err)
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
			out[tr.cpes[i].IP.String()] = append(out[tr.cpes[i].IP.String()], seq)
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
				t.Fatalf("no datagram reached %v within %v\n%s", tr.cpes[i].IP, hang, tr.diag())
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
