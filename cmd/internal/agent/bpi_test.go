package agent

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/bpkm"
	"github.com/leaseguard/leaseguard/bpi/modem"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
)

var (
	bpiM1       = net.HardwareAddr{0, 0x10, 0x95, 0, 0, 1} // generated keys
	bpiM2       = net.HardwareAddr{0, 0x10, 0x95, 0, 0, 2} // privacy disabled
	bpiM3       = net.HardwareAddr{0, 0x10, 0x95, 0, 0, 3} // configured keys, expired
	bpiM9       = net.HardwareAddr{0, 0x10, 0x95, 0, 0, 9} // not configured
	bpiAK       = bytes.Repeat([]byte{0x41}, bpkm.AKLen)
	rfMAC       = net.HardwareAddr{2, 0xcc, 0, 0, 0, 1}
	bpiSubnet   = netip.MustParsePrefix("192.168.10.0/24")
	bpiLQServer = netip.MustParseAddr("10.0.0.3")
)

const bpiLifetime, bpiGrace = 100 * time.Second, 10 * time.Second

func bpiConfig(now time.Time) config.BPI {
	expired := &config.BPITEK{Seq: 4, Key: "e6600fd8852ef5abe6600fd8852ef5ab", IV: "810e528e1c5fda1a810e528e1c5fda1a",
		Expires: now.Add(-time.Second)}
	return config.BPI{Enabled: true, DownstreamInterface: "ds1", RFInterface: "rf0", Suite: config.SuiteAES128CBC,
		TEKLifetime: config.Duration(bpiLifetime), TEKGrace: config.Duration(bpiGrace),
		LeasequeryHoldoff: config.Duration(5 * time.Second), LeasequeryPerSecond: 10,
		Modems: []config.BPIModem{
			{MAC: config.MAC(bpiM1), SAID: 101, AuthKey: "4141414141414141414141414141414141414141", AuthKeySeq: 2},
			{MAC: config.MAC(bpiM2), SAID: 102, PrivacyDisabled: true},
			{MAC: config.MAC(bpiM3), SAID: 103, Keys: &config.BPIKeys{Older: expired}},
		}}
}

// bpiRig is a BPI task on fake links over a real location table, with a
// leasequery that answers from answers and places the binding as the
// agent's OnResult would.
type bpiRig struct {
	task    *bpiTask
	table   *location.Table
	down    *fakeDown
	rf      *fakeRF
	answers map[netip.Addr]net.HardwareAddr
	asked   []netip.Addr
}

func newBPIRig(t *testing.T) *bpiRig {
	t.Helper()
	return newBPIRigLogs(t, ops.NewLogs(nil, config.Log{}))
}

// newBPIRigLogs is newBPIRig whose task logs (and traces) through logs.
func newBPIRigLogs(t *testing.T, logs *ops.Logs) *bpiRig {
	t.Helper()
	r := &bpiRig{table: location.New(location.Config{}), down: newFakeDown(), rf: newFakeRF(),
		answers: map[netip.Addr]net.HardwareAddr{}}
	var mu sync.Mutex
	query := func(_ context.Context, q lq.Query) (engine.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		r.asked = append(r.asked, q.IP)
		modem, ok := r.answers[q.IP]
		if !ok {
			return engine.Result{Type: lq.LeaseUnknown}, nil
		}
		r.bind(t, q.IP, modem)
		return engine.Result{Type: lq.LeaseActive, Server: bpiLQServer}, nil
	}
	index := newModemIndex(r.table)
	known := func(ip netip.Addr) bool { b, ok := r.table.ByIP(ip); return ok && len(b.Modem) == 6 }
	trig := newLQTrigger(query, known, []netip.Prefix{bpiSubnet}, 5*time.Second, 10, time.Now)
	trig.log = logs.For("bpi")
	task, err := newBPITask(bpiConfig(time.Now()), index, trig, logs.For("bpi"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	task.attach(r.down, r.rf, rfMAC, func() {})
	if err := task.startKeys(); err != nil {
		t.Fatal(err)
	}
	r.task = task
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- task.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("bpi task: %v", err)
		}
	})
	<-task.Ready()
	return r
}

func (r *bpiRig) bind(t *testing.T, ip netip.Addr, modem net.HardwareAddr) {
	t.Helper()
	b := location.Binding{Binding: lq.Binding{IP: ip, HType: 1, HWAddr: net.HardwareAddr{2, 0, 0, 0, 1, ip.As4()[3]},
		Expiry: time.Now().Add(time.Hour)}, Port: "cable1/0/0", Modem: modem, Source: location.Leasequery}
	if _, err := r.table.Upsert(b, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// send puts a frame to ip on the downstream link and returns what the RF
// link carried for it (nil: dropped), once the task is idle.
func (r *bpiRig) send(ip netip.Addr) (eth, docsis []byte) {
	eth = ipv4Frame(ip)
	r.down.frames <- eth
	synctest.Wait()
	return eth, r.rf.take()
}

func ipv4Frame(dst netip.Addr) []byte {
	b := make([]byte, 14+20+8+40)
	copy(b, []byte{2, 0, 0, 0, 1, dst.As4()[3]})
	copy(b[6:], []byte{2, 0xcc, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	b[14], b[22], b[23] = 0x45, 64, 17
	binary.BigEndian.PutUint16(b[16:], 20+8+40)
	copy(b[26:], []byte{10, 0, 0, 1})
	copy(b[30:], dst.AsSlice())
	return b
}

// TestBPITaskDataPath: a located destination is encrypted under its
// modem's SA, a modem with privacy off gets it in clear, a modem without a
// valid key or without configuration gets nothing, and an unknown
// destination is dropped, counted and asked about once per holdoff, after
// which its frames are encrypted.
func TestBPITaskDataPath(t *testing.T) { synctest.Test(t, testBPITaskDataPath) }

func testBPITaskDataPath(t *testing.T) {
	r := newBPIRig(t)
	ip := func(n byte) netip.Addr { return netip.AddrFrom4([4]byte{192, 168, 10, n}) }
	r.bind(t, ip(1), bpiM1)
	r.bind(t, ip(2), bpiM2)
	r.bind(t, ip(3), bpiM3)
	r.bind(t, ip(9), bpiM9)
	synctest.Wait()

	eth, docsis := r.send(ip(1))
	sa, _ := r.task.keys.SA(101)
	if got := open(t, docsis, sa); !bytes.Equal(got, eth) {
		t.Errorf("frame to a modem with keys: opened %x, want %x", got, eth)
	}
	eth, docsis = r.send(ip(2))
	if d, err := bpi.ParseDownstream(docsis); err != nil || d.HasPrivacy || !bytes.Equal(d.PDU[:len(eth)], eth) {
		t.Errorf("frame to a modem with privacy off: %x, %v; want it in clear", docsis, err)
	}
	for _, n := range []byte{3, 9} {
		if _, docsis := r.send(ip(n)); docsis != nil {
			t.Errorf("frame to %v (no valid key) went out: %x", ip(n), docsis)
		}
	}

	// Unknown: dropped, asked once; held within the holdoff.
	r.answers[ip(7)] = bpiM1
	for range 3 {
		if _, docsis := r.send(ip(7)); docsis != nil {
			t.Errorf("frame to an unknown destination went out: %x", docsis)
			break
		}
		if len(r.asked) > 0 {
			break // answered: the binding is in the table
		}
	}
	if _, docsis := r.send(ip(7)); docsis == nil {
		t.Error("frame to a destination found by leasequery was dropped")
	}
	r.send(netip.MustParseAddr("10.9.9.9")) // not a subscriber address: never asked
	if diff := cmp.Diff([]netip.Addr{ip(7)}, r.asked, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("leasequeries (-want +got):\n%s", diff)
	}
	got := r.task.Stats()
	want := BPIStats{Frames: 7, Encrypted: 2, Clear: 1, UnknownLocation: 2, NoKey: 2,
		Leasequeries: BPILeasequeries{Triggered: 1, Active: 1, NotSubscriber: 1}, KeyPairs: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func open(t *testing.T, docsis []byte, sa *bpi.SA) []byte {
	t.Helper()
	d, err := bpi.ParseDownstream(docsis)
	if err != nil {
		t.Fatalf("RF frame %x: %v", docsis, err)
	}
	if !d.Encrypted() || d.Privacy.SAID != sa.SAID {
		t.Fatalf("RF frame privacy %+v, want encrypted for SAID %d", d.Privacy, sa.SAID)
	}
	eth, err := d.Open(sa.BySeq(d.Privacy.KeySeq))
	if err != nil {
		t.Fatal(err)
	}
	return eth
}

// TestBPITaskKeyExchangeAndRollover: a modem's Key Request on the RF link
// is answered with its SA's keys, which decrypt its traffic; a request
// from an unknown modem is not answered; the key clock rolls the SA over
// a grace time after the older key expires, and the traffic follows.
func TestBPITaskKeyExchangeAndRollover(t *testing.T) { synctest.Test(t, testBPITaskKeyExchange) }

func testBPITaskKeyExchange(t *testing.T) {
	r := newBPIRig(t)
	ip1 := netip.MustParseAddr("192.168.10.1")
	r.bind(t, ip1, bpiM1)
	emu, err := modem.New(modem.Config{MAC: bpiM1, PrimarySAID: 101})
	if err != nil {
		t.Fatal(err)
	}
	ak := bpkm.AuthKey{Key: bpiAK, Seq: 2, Expires: time.Now().Add(time.Hour)}
	keyer, err := modem.NewKeyer(modem.KeyerConfig{Modem: emu, AK: ak, CMTS: rfMAC, Grace: bpiGrace})
	if err != nil {
		t.Fatal(err)
	}
	request := func() {
		t.Helper()
		frame, _, err := keyer.Poll(time.Now())
		if err != nil || frame == nil {
			t.Fatalf("keyer poll: %x, %v", frame, err)
		}
		r.rf.up <- frame
		synctest.Wait()
		reply := r.rf.take()
		if ours, err := keyer.HandleFrame(reply, time.Now()); !ours || err != nil {
			t.Fatalf("reply %x: ours %v, %v", reply, ours, err)
		}
	}
	deliver := func(when string) {
		t.Helper()
		eth, docsis := r.send(ip1)
		got, _, err := emu.Receive(docsis)
		if err != nil || !bytes.Equal(got, eth) {
			t.Errorf("%s: the modem could not open its frame: %v", when, err)
		}
	}
	request()
	deliver("after the Key Reply")

	// An unknown modem's request (no AK) gets nothing.
	other, _ := bpkm.NewKeyClient(bpiM9, 109, bpi.SuiteAES128CBC, ak, emu)
	raw, _ := other.Request(1)
	frame, _ := bpkm.AppendMgmtFrame(nil, bpkm.Mgmt{DA: rfMAC, SA: bpiM9, Version: bpkm.MgmtVersion, Type: bpkm.TypeBPKMReq, Payload: raw})
	r.rf.up <- frame
	synctest.Wait()
	if reply := r.rf.take(); reply != nil {
		t.Errorf("an unknown modem got a reply: %x", reply)
	}

	// Past the older key's expiry the newer is used; a grace time later
	// the manager rolls; the modem asks again before the newer expires.
	time.Sleep(bpiLifetime + time.Second)
	deliver("on the newer key")
	time.Sleep(bpiGrace)
	sa, _ := r.task.keys.SA(101)
	if sa.Older.Seq != 1 || sa.Newer.Seq != 2 {
		t.Fatalf("after the rollover the SA holds keys %d and %d, want 1 and 2", sa.Older.Seq, sa.Newer.Seq)
	}
	_, due, _ := keyer.Poll(time.Now())
	time.Sleep(due.Sub(time.Now()))
	request()
	time.Sleep(bpiLifetime)
	deliver("on the key made by the rollover")
	s := r.task.Stats()
	if s.KeyRequests != 3 || s.KeyReplies != 2 || s.KeyErrors != 1 || s.KeyPairs != 3 {
		t.Errorf("key counters: requests %d replies %d errors %d pairs %d; want 3, 2, 1, 3",
			s.KeyRequests, s.KeyReplies, s.KeyErrors, s.KeyPairs)
	}
}

// TestBPITaskPairs: a frame already queued behind another goes out with
// it (SendPair), each keyed, sent or dropped on its own.
func TestBPITaskPairs(t *testing.T) { synctest.Test(t, testBPITaskPairs) }

func testBPITaskPairs(t *testing.T) {
	r := newBPIRig(t)
	ip := func(n byte) netip.Addr { return netip.AddrFrom4([4]byte{192, 168, 10, n}) }
	r.bind(t, ip(1), bpiM1)
	r.bind(t, ip(2), bpiM2)
	synctest.Wait()
	second := ipv4Frame(ip(2))
	r.down.queued = [][]byte{second}
	first, docsis := r.send(ip(1))
	sa, _ := r.task.keys.SA(101)
	if got := open(t, docsis, sa); !bytes.Equal(got, first) {
		t.Errorf("first of a pair: opened %x, want %x", got, first)
	}
	if d, err := bpi.ParseDownstream(r.rf.take()); err != nil || d.HasPrivacy || !bytes.Equal(d.PDU[:len(second)], second) {
		t.Errorf("second of a pair (privacy off): %v; want it in clear", err)
	}
	r.down.queued = [][]byte{ipv4Frame(ip(8))} // unknown: dropped, asked about
	if _, docsis := r.send(ip(1)); docsis == nil || r.rf.take() != nil {
		t.Error("pair with an unknown destination: want only the first frame sent")
	}
	s := r.task.Stats()
	if s.Frames != 4 || s.Pairs != 2 || s.Encrypted != 2 || s.Clear != 1 || s.UnknownLocation != 1 || s.Leasequeries.Triggered != 1 {
		t.Errorf("stats %+v; want 4 frames in 2 pairs: 2 encrypted, 1 clear, 1 unknown and asked about", s)
	}
}

func TestLQTriggerHoldoffAndRate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	q := newLQTrigger(nil, nil, []netip.Prefix{bpiSubnet}, 10*time.Second, 2, func() time.Time { return now })
	ip := func(n byte) netip.Addr { return netip.AddrFrom4([4]byte{192, 168, 10, n}) }
	steps := []struct {
		at   time.Duration
		ip   byte
		want bool
	}{
		{0, 1, true}, {0, 1, false}, // held
		{0, 2, true}, {0, 3, false}, // a second's worth of tokens is 2
		{500 * time.Millisecond, 3, true},
		{9 * time.Second, 1, false}, {10 * time.Second, 1, true},
	}
	for i, s := range steps {
		if got := q.admit(ip(s.ip), now.Add(s.at)); got != s.want {
			t.Errorf("step %d: admit %v at +%v = %v, want %v", i, ip(s.ip), s.at, got, s.want)
		}
	}
	if got, want := q.stats.snapshot(), (BPILeasequeries{Triggered: 4, Held: 2, RateLimited: 1}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
}

// fakeDown is the downstream link: frames are what arrives; queued is
// what TryReadEthernet finds already there.
type fakeDown struct {
	frames chan []byte
	stop   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	queued [][]byte
}

func (f *fakeDown) TryReadEthernet(b []byte) (int, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queued) == 0 {
		return 0, false, nil
	}
	n := copy(b, f.queued[0])
	f.queued = f.queued[1:]
	return n, true, nil
}

func newFakeDown() *fakeDown { return &fakeDown{frames: make(chan []byte), stop: make(chan struct{})} }

func (f *fakeDown) ReadEthernet(b []byte) (int, error) {
	select {
	case fr := <-f.frames:
		return copy(b, fr), nil
	case <-f.stop:
		return 0, os.ErrDeadlineExceeded
	}
}

func (f *fakeDown) SetReadDeadline(d time.Time) error {
	if d.Before(time.Now()) {
		f.once.Do(func() { close(f.stop) })
	}
	return nil
}

// fakeRF records what the task sends; up is what the modems send.
type fakeRF struct {
	up   chan []byte
	stop chan struct{}
	once sync.Once
	mu   sync.Mutex
	sent [][]byte
}

func newFakeRF() *fakeRF { return &fakeRF{up: make(chan []byte), stop: make(chan struct{})} }

func (f *fakeRF) WriteDOCSIS(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, append([]byte(nil), b...))
	return nil
}

// take returns the one frame sent since the last take, nil if none.
func (f *fakeRF) take() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) == 0 {
		return nil
	}
	b := f.sent[0]
	f.sent = f.sent[1:]
	return b
}

func (f *fakeRF) ReadDOCSIS(b []byte) (int, error) {
	select {
	case fr := <-f.up:
		return copy(b, fr), nil
	case <-f.stop:
		return 0, os.ErrDeadlineExceeded
	}
}

func (f *fakeRF) SetReadDeadline(d time.Time) error {
	if d.Before(time.Now()) {
		f.once.Do(func() { close(f.stop) })
	}
	return nil
}

// traceLines is the console's side of the traces: the lines, without
// their time of day.
type traceLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLines) Trace(line string) {
	_, rest, _ := strings.Cut(line, " ")
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, rest)
}

func (l *traceLines) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// TestBPITrace: with `debug bpi on` the console sees each key pair
// installed and rolled over, each Key Request, Reply and Reject, each
// dropped frame with its destination and reason, and each leasequery the
// task starts; with it off, nothing.
func TestBPITrace(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[on], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testBPITrace(t, on) })
		})
	}
}

func testBPITrace(t *testing.T, on bool) {
	logs, lines := ops.NewLogs(nil, config.Log{}), &traceLines{}
	logs.SetTracer(lines)
	if err := logs.SetDebug("bpi", on); err != nil {
		t.Fatal(err)
	}
	start := time.Now() // synctest's clock: 2000-01-01 00:00:00 UTC
	r := newBPIRigLogs(t, logs)
	ip := func(n byte) netip.Addr { return netip.AddrFrom4([4]byte{192, 168, 10, n}) }
	r.bind(t, ip(1), bpiM1)
	r.bind(t, ip(3), bpiM3)
	synctest.Wait()
	var got []string
	step := func() { synctest.Wait(); got = append(got, lines.take()...) }
	step()

	r.send(ip(3)) // expired key
	r.answers[ip(7)] = bpiM1
	r.send(ip(7)) // unknown: asked about
	step()

	emu, _ := modem.New(modem.Config{MAC: bpiM1, PrimarySAID: 101})
	ak := bpkm.AuthKey{Key: bpiAK, Seq: 2, Expires: start.Add(time.Hour)}
	keyer, _ := modem.NewKeyer(modem.KeyerConfig{Modem: emu, AK: ak, CMTS: rfMAC, Grace: bpiGrace})
	frame, _, err := keyer.Poll(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r.rf.up <- frame
	step()
	wrongSA, _ := bpkm.NewKeyClient(bpiM1, 109, bpi.SuiteAES128CBC, ak, emu)
	raw, _ := wrongSA.Request(7)
	frame, _ = bpkm.AppendMgmtFrame(nil, bpkm.Mgmt{DA: rfMAC, SA: bpiM1, Version: bpkm.MgmtVersion, Type: bpkm.TypeBPKMReq, Payload: raw})
	r.rf.up <- frame
	step()

	time.Sleep(bpiLifetime + bpiGrace) // the manager rolls SA 101 over
	step()

	var want []string
	if on {
		want = []string{
			"bpi: TEK pair installed said=103 keys=configured older_seq=4 older_expires=1999-12-31T23:59:59Z newer_seq=- newer_expires=-",
			"bpi: TEK pair installed said=101 keys=generated older_seq=0 older_expires=2000-01-01T00:01:40Z newer_seq=1 newer_expires=2000-01-01T00:03:20Z",
			"bpi: INFO BPI running downstream=ds1 rf=rf0 modems=3 generated_sas=1",
			"bpi: downstream frame dropped ip=192.168.10.3 reason=no_key modem=00:10:95:00:00:03 said=103",
			"bpi: downstream frame dropped ip=192.168.10.7 reason=unknown_location",
			"bpi: leasequery started ip=192.168.10.7 why=\"frame to unknown location\"",
			"bpi: leasequery answered ip=192.168.10.7 answer=" + lq.LeaseActive.String() + " server=10.0.0.3",
			"bpi: Key Request modem=00:10:95:00:00:01 said=101 ak_seq=2 id=1",
			"bpi: Key Reply modem=00:10:95:00:00:01 said=101 ak_seq=2 id=1 older_seq=0 newer_seq=1",
			"bpi: Key Request modem=00:10:95:00:00:01 said=109 ak_seq=2 id=7",
			"bpi: WARN Key Request rejected modem=00:10:95:00:00:01 said=109 ak_seq=2 code=2",
			"bpi: TEK rollover said=101 keys=generated older_seq=1 older_expires=2000-01-01T00:03:20Z newer_seq=2 newer_expires=2000-01-01T00:05:00Z",
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("traces (-want +got):\n%s", diff)
	}
}

// TestBPIDropTracesPerSecond: at most perSec dropped frames a second are
// traced; the next one traced says how many were left out.
func TestBPIDropTracesPerSecond(t *testing.T) {
	logs, lines := ops.NewLogs(nil, config.Log{}), &traceLines{}
	logs.SetTracer(lines)
	if err := logs.SetDebug("bpi", true); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	task := &bpiTask{log: logs.For("bpi"), drops: dropTraces{perSec: 2}}
	eth := ipv4Frame(netip.MustParseAddr("10.9.9.9"))
	drop := &bpi.KeyError{Modem: bpiM9, Err: bpi.ErrUnknownModem}
	for _, at := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 900 * time.Millisecond, time.Second} {
		task.traceDrop(eth, drop, now.Add(at))
	}
	const line = "bpi: downstream frame dropped ip=10.9.9.9 reason=unknown_modem modem=00:10:95:00:00:09 said=0"
	want := []string{line, line, line + " not_traced=2"}
	if diff := cmp.Diff(want, lines.take()); diff != "" {
		t.Errorf("traces (-want +got):\n%s", diff)
	}
}

// TestBPIDroppedAllocatesNothingUntraced: with `debug bpi off` a dropped
// frame costs no allocation in the task (its trace is never built).
func TestBPIDroppedAllocatesNothingUntraced(t *testing.T) {
	logs := ops.NewLogs(nil, config.Log{})
	logs.SetTracer(&traceLines{})
	trig := newLQTrigger(nil, nil, []netip.Prefix{bpiSubnet}, 5*time.Second, 10, time.Now)
	task := &bpiTask{log: logs.For("bpi"), lq: trig, drops: dropTraces{perSec: dropTracesPerSecond}}
	eth, now := ipv4Frame(netip.MustParseAddr("192.168.10.3")), time.Now()
	outside := netip.MustParseAddr("10.9.9.9") // never asked about: no holdoff entry
	for _, drop := range []error{
		fmt.Errorf("destination 192.168.10.3: %w", &bpi.KeyError{Modem: bpiM3, SAID: 103, Err: bpi.ErrNoKey}),
		&bpi.LocationError{IP: outside},
	} {
		if n := testing.AllocsPerRun(100, func() { task.dropped(context.Background(), eth, drop, now) }); n != 0 {
			t.Errorf("%v, untraced: %v allocations, want 0", drop, n)
		}
	}
	if got := trig.stats.snapshot().NotSubscriber; got != 101 {
		t.Errorf("the unknown destination reached the leasequery trigger %d times, want 101", got)
	}
}
