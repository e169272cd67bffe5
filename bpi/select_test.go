package bpi

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// mapLocator is the location table reduced to a map.
type mapLocator map[netip.Addr]net.HardwareAddr

func (m mapLocator) ModemOf(ip netip.Addr) (net.HardwareAddr, bool) {
	mac, ok := m[ip]
	return mac, ok
}

// recordingLink keeps copies of the frames written to it.
type recordingLink struct{ frames [][]byte }

func (l *recordingLink) WriteDOCSIS(b []byte) error {
	l.frames = append(l.frames, append([]byte(nil), b...))
	return nil
}

var (
	modemA = net.HardwareAddr{0x00, 0x10, 0x95, 0, 0, 0xa}
	modemB = net.HardwareAddr{0x00, 0x10, 0x95, 0, 0, 0xb}
	modemC = net.HardwareAddr{0x00, 0x10, 0x95, 0, 0, 0xc}
	cpeA   = netip.MustParseAddr("10.1.0.10")
	cpeB   = netip.MustParseAddr("10.1.0.20")
	cpeC   = netip.MustParseAddr("10.1.0.30")
	nobody = netip.MustParseAddr("10.1.0.99")
)

// selectFixture: A has keys, B has BPI disabled, C has BPI but no keys.
func selectFixture(t *testing.T) (*Table, mapLocator, *TEK) {
	t.Helper()
	tab := NewTable()
	for _, m := range []Modem{
		{MAC: modemA, PrimarySAID: 100, BPIEnabled: true},
		{MAC: modemB, PrimarySAID: 200, BPIEnabled: false},
		{MAC: modemC, PrimarySAID: 300, BPIEnabled: true},
	} {
		if err := tab.AddModem(m); err != nil {
			t.Fatal(err)
		}
	}
	tek := mustTEK(t, SuiteAES128CBC, 4, 0xa0, t0.Add(time.Hour))
	if err := tab.SetTEKs(100, tek, nil); err != nil {
		t.Fatal(err)
	}
	return tab, mapLocator{cpeA: modemA, cpeB: modemB, cpeC: modemC}, tek
}

func TestSelect(t *testing.T) {
	tab, loc, tek := selectFixture(t)
	tests := []struct {
		name    string
		ip      netip.Addr
		wantTEK *TEK
		wantErr error
	}{
		{"keyed modem", cpeA, tek, nil},
		{"BPI disabled: clear", cpeB, nil, nil},
		{"no key yet", cpeC, nil, ErrNoKey},
		{"unknown location", nobody, nil, ErrUnknownLocation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := tab.Select(loc, tt.ip, t0)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if sel.TEK != tt.wantTEK {
				t.Errorf("TEK = %v, want %v", sel.TEK, tt.wantTEK)
			}
		})
	}
	var le *LocationError
	if _, err := tab.Select(loc, nobody, t0); !errors.As(err, &le) || le.IP != nobody {
		t.Errorf("unknown location error %v does not name %v", err, nobody)
	}
}

func TestEncoderNeverSendsClearWithoutKey(t *testing.T) {
	tab, loc, tek := selectFixture(t)
	link := &recordingLink{}
	enc := NewEncoder(loc, tab, link)
	src := []byte{2, 0, 0, 0, 0, 0xee}
	for _, ip := range []netip.Addr{cpeA, cpeB, cpeC, nobody} {
		_ = enc.Send(ethFrame(80, []byte{2, 0, 0, 0, 0, 1}, src, ip.As4()), t0)
	}
	got := map[string]uint64{
		"encrypted": enc.Stats.Encrypted.Load(), "clear": enc.Stats.Clear.Load(),
		"nokey": enc.Stats.NoKey.Load(), "unknown": enc.Stats.UnknownLocation.Load(),
	}
	want := map[string]uint64{"encrypted": 1, "clear": 1, "nokey": 1, "unknown": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if len(link.frames) != 2 {
		t.Fatalf("%d frames on the link, want 2", len(link.frames))
	}
	d, err := ParseDownstream(link.frames[0])
	if err != nil || !d.Encrypted() || d.Privacy.SAID != 100 || d.Privacy.KeySeq != tek.Seq {
		t.Fatalf("frame to A: %+v, %v", d.Privacy, err)
	}
	if d, err := ParseDownstream(link.frames[1]); err != nil || d.HasPrivacy {
		t.Fatalf("frame to B: privacy %v, %v; want clear", d.HasPrivacy, err)
	}
}

func TestEncoderSendZeroAllocs(t *testing.T) {
	tab, loc, _ := selectFixture(t)
	enc := NewEncoder(loc, tab, discardLink{})
	eth := ethFrame(1500, []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, cpeA.As4())
	allocs := testing.AllocsPerRun(100, func() {
		if err := enc.Send(eth, t0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
}

type discardLink struct{}

func (discardLink) WriteDOCSIS([]byte) error { return nil }

func TestDestinationIP(t *testing.T) {
	v4 := ethFrame(60, make([]byte, 6), make([]byte, 6), [4]byte{192, 0, 2, 7})
	vlan := append(append(append([]byte(nil), v4[:12]...), 0x81, 0x00, 0x00, 0x05), v4[12:]...)
	v6 := make([]byte, 14+40)
	v6[12], v6[13], v6[14] = 0x86, 0xdd, 0x60
	copy(v6[14+24:], netip.MustParseAddr("2001:db8::9").AsSlice())
	arp := make([]byte, 14+28)
	arp[12], arp[13] = 0x08, 0x06
	arp[14+4], arp[14+5] = 6, 4
	copy(arp[14+24:], []byte{192, 0, 2, 8})
	tests := []struct {
		name string
		eth  []byte
		want netip.Addr
		err  error
	}{
		{"IPv4", v4, netip.MustParseAddr("192.0.2.7"), nil},
		{"IPv4 in 802.1Q", vlan, netip.MustParseAddr("192.0.2.7"), nil},
		{"IPv6", v6, netip.MustParseAddr("2001:db8::9"), nil},
		{"ARP target", arp, netip.MustParseAddr("192.0.2.8"), nil},
		{"truncated IPv4", v4[:30], netip.Addr{}, ErrNoDestination},
		{"short", v4[:10], netip.Addr{}, ErrNoDestination},
		{"other EtherType", append([]byte{12: 0x88, 13: 0xcc}, make([]byte, 40)...), netip.Addr{}, ErrNoDestination},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DestinationIP(tt.eth)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("DestinationIP = %v, %v; want %v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func FuzzDestinationIP(f *testing.F) {
	f.Add(ethFrame(60, make([]byte, 6), make([]byte, 6), [4]byte{192, 0, 2, 7}))
	f.Add([]byte{12: 0x81, 13: 0x00, 16: 0x86, 17: 0xdd, 18: 0x60})
	f.Fuzz(func(t *testing.T, b []byte) {
		if ip, err := DestinationIP(b); err == nil && !ip.IsValid() {
			t.Fatal("nil error with an invalid address")
		}
	})
}
