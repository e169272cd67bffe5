package modem

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/bpi"
)

var (
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cpeMAC = net.HardwareAddr{2, 0, 0, 0, 1, 1}
	other  = net.HardwareAddr{2, 0, 0, 0, 2, 1}
)

func tek(t testing.TB, seq uint8, fill byte) *bpi.TEK {
	t.Helper()
	k, err := bpi.NewTEK(bpi.SuiteAES128CBC, bytes.Repeat([]byte{fill}, 16), bytes.Repeat([]byte{^fill}, 16), seq, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func frame(t testing.TB, da net.HardwareAddr, said uint16, k *bpi.TEK) (docsis, eth []byte) {
	t.Helper()
	eth = make([]byte, 90)
	copy(eth, da)
	copy(eth[6:], net.HardwareAddr{2, 0, 0, 0, 0, 0xfe})
	eth[12], eth[13] = 0x08, 0x00
	for i := 14; i < len(eth); i++ {
		eth[i] = byte(i)
	}
	docsis, err := bpi.AppendDownstream(nil, eth, said, k)
	if err != nil {
		t.Fatal(err)
	}
	return docsis, eth
}

func newModem(t *testing.T, said uint16) *Modem {
	t.Helper()
	m, err := New(Config{MAC: net.HardwareAddr{0, 0x10, 0x95, 0, 0, byte(said)}, PrimarySAID: said, CPEs: []net.HardwareAddr{cpeMAC}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReceive(t *testing.T) {
	mine0, mine1, theirs := tek(t, 0, 1), tek(t, 1, 2), tek(t, 0, 3)
	tests := []struct {
		name    string
		da      net.HardwareAddr
		said    uint16
		key     *bpi.TEK
		wantErr error
	}{
		{"own SAID older key", cpeMAC, 10, mine0, nil},
		{"own SAID newer key", cpeMAC, 10, mine1, nil},
		{"other modem's SAID", other, 20, theirs, ErrNotOurSAID},
		{"own SAID, key we do not hold", cpeMAC, 10, tek(t, 5, 9), bpi.ErrNoKey},
		{"own SAID and sequence, other key", cpeMAC, 10, theirs, bpi.ErrCRC},
		{"clear to our CPE", cpeMAC, 0, nil, nil},
		{"clear to another CPE", other, 0, nil, ErrNotForCPE},
		{"clear broadcast", net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModem(t, 10)
			if err := m.SetTEKs(10, mine0, mine1); err != nil {
				t.Fatal(err)
			}
			docsis, want := frame(t, tt.da, tt.said, tt.key)
			got, enc, err := m.Receive(docsis)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Receive err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (!bytes.Equal(got, want) || enc != (tt.key != nil)) {
				t.Fatalf("Receive = %x (encrypted %v), want %x", got, enc, want)
			}
		})
	}
}

func TestSetTEKsRefusesOtherSAID(t *testing.T) {
	m := newModem(t, 10)
	if err := m.SetTEKs(11, tek(t, 0, 1), nil); err == nil {
		t.Fatal("the modem accepted another SA's keys")
	}
}

// A frame under the previous pair's older key still decrypts after the
// rollover replaced the pair; two rollovers later it does not.
func TestRolloverKeepsPreviousOlder(t *testing.T) {
	m := newModem(t, 10)
	k0, k1, k2, k3 := tek(t, 15, 1), tek(t, 0, 2), tek(t, 1, 3), tek(t, 2, 4)
	_ = m.SetTEKs(10, k0, k1)
	inFlight, _ := frame(t, cpeMAC, 10, k0)
	_ = m.SetTEKs(10, k1, k2)
	if _, _, err := m.Receive(append([]byte(nil), inFlight...)); err != nil {
		t.Fatalf("in-flight frame after one rollover: %v", err)
	}
	_ = m.SetTEKs(10, k2, k3)
	if _, _, err := m.Receive(inFlight); !errors.Is(err, bpi.ErrNoKey) {
		t.Fatalf("frame two rollovers old: %v, want ErrNoKey", err)
	}
	got := map[string]uint64{"crc": m.Stats.CRCErrors.Load(), "nokey": m.Stats.NoKey.Load()}
	if diff := cmp.Diff(map[string]uint64{"crc": 0, "nokey": 1}, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func FuzzReceive(f *testing.F) {
	k := tek(f, 0, 1)
	enc, _ := frame(f, cpeMAC, 10, k)
	clear, _ := frame(f, cpeMAC, 0, nil)
	f.Add(enc)
	f.Add(clear)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := New(Config{MAC: net.HardwareAddr{0, 1, 2, 3, 4, 5}, PrimarySAID: 10})
		_ = m.SetTEKs(10, k, nil)
		eth, _, err := m.Receive(b)
		if err == nil && len(eth) < bpi.MinEthernetLen {
			t.Fatalf("delivered a %d-byte frame", len(eth))
		}
	})
}
