package modem_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/bpkm"
	"github.com/leaseguard/leaseguard/bpi/modem"
)

// cmtsSide is a key server with one SA per modem, as the agent runs it.
type cmtsSide struct {
	tab *bpi.Table
	mgr *bpi.Manager
	srv *bpkm.KeyServer
}

const keyLifetime, keyGrace = 100 * time.Second, 10 * time.Second

func newCMTSSide(t *testing.T, modems map[uint16]net.HardwareAddr, ak bpkm.AuthKey) *cmtsSide {
	t.Helper()
	c := &cmtsSide{tab: bpi.NewTable()}
	var err error
	c.mgr, err = bpi.NewManager(bpi.ManagerConfig{TEKLifetime: keyLifetime, Grace: keyGrace, Sinks: []bpi.KeySink{c.tab}})
	must(t, err)
	c.srv = bpkm.NewKeyServer(c.tab, c.tab)
	for said, mac := range modems {
		must(t, c.tab.AddModem(bpi.Modem{MAC: mac, PrimarySAID: said, BPIEnabled: true}))
		must(t, c.mgr.Start(said, t0))
		must(t, c.srv.SetAuthKey(mac, ak))
	}
	return c
}

// answer turns a Key Request frame into the CMTS's reply frame.
func (c *cmtsSide) answer(t *testing.T, request []byte, now time.Time) []byte {
	t.Helper()
	in, err := bpkm.ParseMgmtFrame(request)
	must(t, err)
	if in.Type != bpkm.TypeBPKMReq {
		t.Fatalf("request frame of management type %d", in.Type)
	}
	reply, err := c.srv.HandleKeyRequest(in.SA, in.Payload, now)
	var rej *bpkm.Rejected
	if errors.As(err, &rej) {
		reply, err = rej.Reply, nil
	}
	must(t, err)
	out, err := bpkm.AppendMgmtFrame(nil, bpkm.Mgmt{DA: in.SA, SA: cmtsMAC, Version: bpkm.MgmtVersion, Type: bpkm.TypeBPKMRsp, Payload: reply})
	must(t, err)
	return out
}

func testAK() bpkm.AuthKey {
	return bpkm.AuthKey{Key: bytes.Repeat([]byte{0x5a}, bpkm.AKLen), Seq: 1, Expires: t0.Add(bpi.DefaultAKLifetime)}
}

// TestKeyerSchedule: the keyer asks at once, retries while unanswered,
// installs the reply, asks again a grace time before the newer key
// expires, never in a tight loop, and at once after Rekey.
func TestKeyerSchedule(t *testing.T) {
	mac := net.HardwareAddr{0, 0x10, 0x95, 0, 0, 1}
	c := newCMTSSide(t, map[uint16]net.HardwareAddr{101: mac}, testAK())
	m, err := modem.New(modem.Config{MAC: mac, PrimarySAID: 101})
	must(t, err)
	k, err := modem.NewKeyer(modem.KeyerConfig{Modem: m, AK: testAK(), CMTS: cmtsMAC, Grace: keyGrace, Retry: 2 * time.Second})
	must(t, err)

	type poll struct {
		Sent bool
		Next time.Time
	}
	step := func(now time.Time) (poll, []byte) {
		t.Helper()
		frame, next, err := k.Poll(now)
		must(t, err)
		return poll{frame != nil, next}, frame
	}
	req, frame := step(t0)
	if diff := cmp.Diff(poll{true, t0.Add(2 * time.Second)}, req); diff != "" {
		t.Fatalf("first poll (-want +got):\n%s", diff)
	}
	if got, _ := step(t0.Add(time.Second)); got != (poll{false, t0.Add(2 * time.Second)}) {
		t.Fatalf("poll while waiting for the reply: %+v", got)
	}
	reply := c.answer(t, frame, t0)

	// A reply to another modem is not ours.
	other := append([]byte(nil), reply...)
	hdr := bpi.HeaderLen(0)
	other[hdr+5] ^= 0xff // the management DA's last byte
	if ours, err := k.HandleFrame(other, t0); ours || err != nil {
		t.Fatalf("HandleFrame(reply to another MAC) = %v, %v", ours, err)
	}
	if ours, err := k.HandleFrame(reply, t0.Add(time.Second)); !ours || err != nil {
		t.Fatalf("HandleFrame(reply) = %v, %v", ours, err)
	}
	select {
	case <-k.Keyed():
	default:
		t.Fatal("Keyed not closed after a reply")
	}
	// The newer key had 200 s left at t0; the modem counts from t0+1s.
	if got, _ := step(t0.Add(2 * time.Second)); got != (poll{false, t0.Add(time.Second + 2*keyLifetime - keyGrace)}) {
		t.Fatalf("poll after the reply: %+v", got)
	}

	// Answered just before the CMTS rolls, the newer key is inside the
	// grace time: the modem waits a retry interval, not zero.
	late := t0.Add(2*keyLifetime - 5*time.Second)
	replied := k.Replied()
	k.Rekey()
	got, frame := step(late)
	if !got.Sent {
		t.Fatal("no request after Rekey")
	}
	if _, err := k.HandleFrame(c.answer(t, frame, late), late); err != nil {
		t.Fatal(err)
	}
	select {
	case <-replied:
	default:
		t.Error("Replied not closed by the reply")
	}
	if got := m.Keys(); got.Newer == nil || got.Newer.Seq != 1 {
		t.Errorf("modem keys after the reply: %+v, want the SA's pair (0, 1)", got)
	}
	if got, _ := step(late); got != (poll{false, late.Add(2 * time.Second)}) {
		t.Fatalf("poll after a reply inside the grace time: %+v", got)
	}
	if r, q := k.Stats.Replies.Load(), k.Stats.Requests.Load(); r != 2 || q != 2 {
		t.Errorf("replies %d requests %d, want 2 and 2", r, q)
	}
}

// TestKeyerReject: a modem asking for an SA that is not its own at the
// CMTS gets a Key Reject, installs nothing and retries later.
func TestKeyerReject(t *testing.T) {
	mac := net.HardwareAddr{0, 0x10, 0x95, 0, 0, 2}
	c := newCMTSSide(t, map[uint16]net.HardwareAddr{102: mac}, testAK())
	m, err := modem.New(modem.Config{MAC: mac, PrimarySAID: 103})
	must(t, err)
	k, err := modem.NewKeyer(modem.KeyerConfig{Modem: m, AK: testAK(), Retry: time.Second})
	must(t, err)
	frame, _, err := k.Poll(t0)
	must(t, err)
	ours, err := k.HandleFrame(c.answer(t, frame, t0), t0)
	if !ours || !errors.Is(err, bpkm.ErrKeyReject) {
		t.Fatalf("HandleFrame(reject) = %v, %v; want ErrKeyReject", ours, err)
	}
	if _, next, _ := k.Poll(t0); !next.Equal(t0.Add(time.Second)) {
		t.Errorf("next request at %v, want one retry interval later", next)
	}
	if k.Stats.Rejects.Load() != 1 {
		t.Errorf("rejects = %d, want 1", k.Stats.Rejects.Load())
	}
}

// TestRunnerWithKeyer: the Runner sends the Key Request up, hands the
// reply to the keyer rather than the data path, then decrypts data.
func TestRunnerWithKeyer(t *testing.T) {
	mac := net.HardwareAddr{0, 0x10, 0x95, 0, 0, 3}
	c := newCMTSSide(t, map[uint16]net.HardwareAddr{104: mac}, testAK())
	m, err := modem.New(modem.Config{MAC: mac, PrimarySAID: 104})
	must(t, err)
	k, err := modem.NewKeyer(modem.KeyerConfig{Modem: m, AK: testAK(), Retry: time.Hour})
	must(t, err)
	link := &chanLink{down: make(chan []byte, 4), up: make(chan []byte, 4)}
	cpe := &chanCPE{frames: make(chan []byte, 4)}
	r := modem.NewRunner(m, link, cpe)
	r.Keyer, r.Up = k, link
	r.Now = func() time.Time { return t0 } // the keys' clock; timers still run on the real one
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})

	request := <-link.up
	link.down <- c.answer(t, request, t0)
	<-k.Keyed()
	sa, _ := c.tab.SA(104)
	data, eth := frameFor(t, sa.Older)
	link.down <- data
	if got := <-cpe.frames; !bytes.Equal(got, eth) {
		t.Fatalf("CPE got %x, want %x", got, eth)
	}
	if m.Stats.Mgmt.Load() != 1 || m.Stats.BadFrame.Load() != 0 {
		t.Errorf("mgmt %d bad %d: the reply must go to the keyer, not the data path", m.Stats.Mgmt.Load(), m.Stats.BadFrame.Load())
	}
}

func frameFor(t *testing.T, k *bpi.TEK) (docsis, eth []byte) {
	t.Helper()
	eth = udpFrame(&cpe{mac: net.HardwareAddr{2, 0, 0, 0, 3, 1}, ip: mustAddr("10.77.3.10")}, 7, 64)
	docsis, err := bpi.AppendDownstream(nil, eth, 104, k)
	must(t, err)
	return docsis, eth
}

// chanLink is an in-memory RF link: down is what the modem reads, up what
// it sends.
type chanLink struct{ down, up chan []byte }

func (l *chanLink) ReadDOCSIS(b []byte) (int, error) {
	f, ok := <-l.down
	if !ok {
		return 0, os.ErrDeadlineExceeded
	}
	return copy(b, f), nil
}

// SetReadDeadline in the past (the Runner stopping) ends the reads.
func (l *chanLink) SetReadDeadline(d time.Time) error {
	if d.Before(time.Now()) {
		close(l.down)
	}
	return nil
}

func (l *chanLink) WriteDOCSIS(f []byte) error {
	l.up <- append([]byte(nil), f...)
	return nil
}

type chanCPE struct{ frames chan []byte }

func (c *chanCPE) WriteEthernet(f []byte) error {
	c.frames <- append([]byte(nil), f...)
	return nil
}

// TestKeyerSendsIdentity: with an Identity the keyer's Key Requests carry
// the full CM-Identification, which the key server answers; without one,
// the MAC address alone, answered too. An identity for another MAC is
// refused at construction.
func TestKeyerSendsIdentity(t *testing.T) {
	mac := net.HardwareAddr{0, 0x10, 0x95, 0, 0, 1}
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	must(t, err)
	id := &bpkm.CMIdentity{SerialNumber: "LG0001", ManufacturerID: [3]byte{0, 0x10, 0x95}, MAC: mac, PublicKey: &priv.PublicKey}
	for _, tt := range []struct {
		name    string
		id      *bpkm.CMIdentity
		cmIDLen int
	}{{"full", id, 3 + 6 + 3 + 3 + 3 + 6 + 3 + 140}, {"MAC only", nil, 9}} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCMTSSide(t, map[uint16]net.HardwareAddr{101: mac}, testAK())
			m, err := modem.New(modem.Config{MAC: mac, PrimarySAID: 101})
			must(t, err)
			k, err := modem.NewKeyer(modem.KeyerConfig{Modem: m, AK: testAK(), CMTS: cmtsMAC, Identity: tt.id})
			must(t, err)
			frame, _, err := k.Poll(t0)
			must(t, err)
			in, err := bpkm.ParseMgmtFrame(frame)
			must(t, err)
			msg, err := bpkm.ParseMessage(in.Payload)
			must(t, err)
			v, _ := bpkm.Find(msg.Attrs, bpkm.AttrCMIdentification)
			if len(v) != tt.cmIDLen {
				t.Errorf("CM-Identification of %d bytes, want %d", len(v), tt.cmIDLen)
			}
			if tt.id != nil {
				got, err := bpkm.ParseCMIdentity(v)
				must(t, err)
				if got.SerialNumber != tt.id.SerialNumber || !got.PublicKey.Equal(tt.id.PublicKey) {
					t.Errorf("CM-Identification %+v, want %+v", got, *tt.id)
				}
			}
			ours, err := k.HandleFrame(c.answer(t, frame, t0), t0)
			if !ours || err != nil || k.Stats.Replies.Load() != 1 {
				t.Fatalf("reply: ours %v, %v, %d installed", ours, err, k.Stats.Replies.Load())
			}
		})
	}
	other := *id
	other.MAC = net.HardwareAddr{0, 0x10, 0x95, 0, 0, 2}
	m, _ := modem.New(modem.Config{MAC: mac, PrimarySAID: 101})
	if _, err := modem.NewKeyer(modem.KeyerConfig{Modem: m, AK: testAK(), Identity: &other}); !errors.Is(err, bpkm.ErrCMIdentity) {
		t.Errorf("identity for another MAC: %v, want ErrCMIdentity", err)
	}
}
