package bpkm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/bpi"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestMessageRoundTrip(t *testing.T) {
	tekp, err := Compound(AttrTEKParameters, Attr{AttrTEK, []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		Uint32Attr(AttrKeyLifetime, 43200), Uint8Attr(AttrKeySequence, 3), Attr{AttrCBCIV, make([]byte, 8)})
	if err != nil {
		t.Fatal(err)
	}
	m := Message{Code: KeyReply, Identifier: 9, Attrs: []Attr{Uint8Attr(AttrKeySequence, 1), Uint16Attr(AttrSAID, 0x1234), tekp}}
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]byte{8, 9, 0, byte(len(b) - 4), 10, 0, 1, 1, 12, 0, 2, 0x12, 0x34, 13}, b[:14]); diff != "" {
		t.Errorf("encoding (-want +got):\n%s", diff)
	}
	got, err := ParseMessage(append(b, 0xde, 0xad)) // trailing bytes ignored
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	inner, err := ParseAttrs(got.Attrs[2].Value)
	if err != nil || len(inner) != 4 {
		t.Fatalf("TEK-Parameters: %v, %v", inner, err)
	}
}

func TestParseRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"short header":         {7, 1, 0},
		"length past end":      {7, 1, 0, 9, 12, 0, 2},
		"attribute header cut": {7, 1, 0, 2, 12, 0},
		"attribute value cut":  {7, 1, 0, 4, 12, 0, 2, 1},
	} {
		if _, err := ParseMessage(b); err == nil {
			t.Errorf("%s: accepted %x", name, b)
		}
	}
}

func TestMgmtRoundTrip(t *testing.T) {
	m := Mgmt{DA: net.HardwareAddr{0, 0x10, 0x95, 0, 0, 1}, SA: net.HardwareAddr{2, 0xcc, 0, 0, 0, 1},
		Version: MgmtVersion, Type: TypeBPKMRsp, Payload: []byte{8, 1, 0, 0}}
	b, err := AppendMgmt(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMgmt(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	b[len(b)-5] ^= 1
	if _, err := ParseMgmt(b); err == nil {
		t.Error("accepted a corrupted message")
	}
}

// The derivations match the formula in notes/bpi.md as computed by openssl.
func TestDeriveMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	ak := bytes.Repeat([]byte{0xa5}, AKLen)
	k := Derive(ak)
	for _, tt := range []struct {
		pad  byte
		want []byte
	}{{0x53, k.KEK[:]}, {0x5c, k.HMACUp[:]}, {0x3a, k.HMACDown[:]}} {
		cmd := exec.Command("openssl", "dgst", "-sha1", "-binary")
		cmd.Stdin = bytes.NewReader(append(bytes.Repeat([]byte{tt.pad}, 64), ak...))
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out[:len(tt.want)], tt.want) {
			t.Errorf("pad %#x: got %x, openssl %x", tt.pad, tt.want, out[:len(tt.want)])
		}
	}
}

func TestWrapTEKMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	kek := [16]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}
	for _, tt := range []struct {
		suite bpi.Suite
		mode  string
		tek   []byte
	}{
		{bpi.SuiteDES56CBC, "-des-ede", []byte("8bytekey")}, // two-key 3DES EDE, ECB
		{bpi.SuiteAES128CBC, "-aes-128-ecb", []byte("sixteen byte key")},
	} {
		wrapped, err := WrapTEK(tt.suite, kek, tt.tek)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("openssl", "enc", tt.mode, "-nopad", "-K", hex.EncodeToString(kek[:]))
		cmd.Stdin = bytes.NewReader(tt.tek)
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl %s: %v", tt.mode, err)
		}
		if !bytes.Equal(wrapped, want) {
			t.Errorf("%v: wrapped %x, openssl %x", tt.suite, wrapped, want)
		}
		back, err := UnwrapTEK(tt.suite, kek, wrapped)
		if err != nil || !bytes.Equal(back, tt.tek) {
			t.Errorf("%v: unwrap %x, %v", tt.suite, back, err)
		}
	}
}

func TestSignVerify(t *testing.T) {
	key := [20]byte(bytes.Repeat([]byte{7}, 20))
	b, err := Sign(nil, Message{Code: KeyRequest, Identifier: 1, Attrs: []Attr{Uint16Attr(AttrSAID, 5)}}, key)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Verify(b, key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Attr{Uint16Attr(AttrSAID, 5)}, m.Attrs); diff != "" {
		t.Errorf("verified attributes (-want +got):\n%s", diff)
	}
	for i := range b {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x10
		if _, err := Verify(bad, key); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	if _, err := Verify(b, [20]byte{}); !errors.Is(err, ErrDigest) {
		t.Errorf("wrong key: %v, want ErrDigest", err)
	}
}

// keyFixture: a CMTS table with one modem on SAID 33 keyed by a Manager, a
// key server, and the modem's AK.
func keyFixture(t *testing.T, suite bpi.Suite) (*KeyServer, net.HardwareAddr, AuthKey, *bpi.Manager) {
	t.Helper()
	mac := net.HardwareAddr{0, 0x10, 0x95, 0, 0, 1}
	tab := bpi.NewTable()
	if err := tab.AddModem(bpi.Modem{MAC: mac, PrimarySAID: 33, BPIEnabled: true}); err != nil {
		t.Fatal(err)
	}
	mgr, err := bpi.NewManager(bpi.ManagerConfig{Suite: suite, Sinks: []bpi.KeySink{tab}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(33, t0); err != nil {
		t.Fatal(err)
	}
	srv := NewKeyServer(tab, tab)
	ak := AuthKey{Key: bytes.Repeat([]byte{0x42}, AKLen), Seq: 2, Expires: t0.Add(bpi.DefaultAKLifetime)}
	if err := srv.SetAuthKey(mac, ak); err != nil {
		t.Fatal(err)
	}
	return srv, mac, ak, mgr
}

type captureSink struct{ older, newer *bpi.TEK }

func (c *captureSink) SetTEKs(said uint16, older, newer *bpi.TEK) error {
	c.older, c.newer = older, newer
	return nil
}

func TestKeyExchange(t *testing.T) {
	for _, suite := range []bpi.Suite{bpi.SuiteAES128CBC, bpi.SuiteDES56CBC} {
		t.Run(suite.String(), func(t *testing.T) {
			srv, mac, ak, mgr := keyFixture(t, suite)
			sink := &captureSink{}
			cl, err := NewKeyClient(mac, 33, suite, ak, sink)
			if err != nil {
				t.Fatal(err)
			}
			req, err := cl.Request(7)
			if err != nil {
				t.Fatal(err)
			}
			now := t0.Add(time.Hour)
			reply, err := srv.HandleKeyRequest(mac, req, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.HandleReply(reply, now); err != nil {
				t.Fatal(err)
			}
			sa, _ := mgr.SA(33)
			for i, pair := range [][2]*bpi.TEK{{sa.Older, sink.older}, {sa.Newer, sink.newer}} {
				want, got := pair[0], pair[1]
				if !bytes.Equal(got.Key(), want.Key()) || !bytes.Equal(got.IV(), want.IV()) || got.Seq != want.Seq ||
					!got.Expires.Equal(want.Expires) {
					t.Errorf("TEK %d: modem got %v, CMTS has %v", i, got, want)
				}
			}
		})
	}
}

func TestKeyRequestRejected(t *testing.T) {
	srv, mac, ak, _ := keyFixture(t, bpi.SuiteAES128CBC)
	tests := []struct {
		name     string
		said     uint16
		akSeq    uint8
		wantCode uint8
	}{
		{"another modem's SAID", 34, ak.Seq, ErrCodeUnauthorizedSAID},
		{"stale AK sequence", 33, ak.Seq + 1, ErrCodeInvalidKeySeq},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ak
			a.Seq = tt.akSeq
			cl, _ := NewKeyClient(mac, tt.said, bpi.SuiteAES128CBC, a, &captureSink{})
			req, _ := cl.Request(1)
			_, err := srv.HandleKeyRequest(mac, req, t0)
			var rej *Rejected
			if !errors.As(err, &rej) || rej.Code != tt.wantCode {
				t.Fatalf("err = %v, want reject code %d", err, tt.wantCode)
			}
			if err := cl.HandleReply(rej.Reply, t0); !errors.Is(err, ErrKeyReject) {
				t.Fatalf("client on the reject: %v, want ErrKeyReject", err)
			}
		})
	}
	other, _ := NewKeyClient(mac, 33, bpi.SuiteAES128CBC, AuthKey{Key: make([]byte, AKLen), Seq: ak.Seq}, &captureSink{})
	req, _ := other.Request(1)
	if _, err := srv.HandleKeyRequest(mac, req, t0); !errors.Is(err, ErrDigest) {
		t.Errorf("request signed with another AK: %v, want ErrDigest", err)
	}
	if _, err := srv.HandleKeyRequest(mac, req, t0.Add(bpi.DefaultAKLifetime)); err == nil {
		t.Error("served a request after the AK expired")
	}
}

func FuzzParseMessage(f *testing.F) {
	key := [20]byte{}
	signed, _ := Sign(nil, Message{Code: KeyRequest, Identifier: 3, Attrs: []Attr{Uint16Attr(AttrSAID, 9)}}, key)
	f.Add(signed)
	f.Add([]byte{8, 1, 0, 6, 13, 0, 3, 10, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Verify(b, key)
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		out, err := m.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(out); !bytes.Equal(out, b[:n]) {
			t.Fatalf("re-encoded %x, parsed %x", out, b[:n])
		}
		for _, a := range m.Attrs {
			_, _ = ParseAttrs(a.Value) // compound or not, never panics
		}
		_, _ = requestKey(net.HardwareAddr{0, 1, 2, 3, 4, 5}, m)
		cl := &KeyClient{said: 9}
		_ = cl.adoptSuite(m.Attrs)
	})
}

func FuzzParseMgmt(f *testing.F) {
	b, _ := AppendMgmt(nil, Mgmt{DA: make(net.HardwareAddr, 6), SA: make(net.HardwareAddr, 6), Version: 1, Type: 13, Payload: []byte{8, 0, 0, 0}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMgmt(b)
		if err != nil {
			return
		}
		out, err := AppendMgmt(nil, m)
		if err != nil || !bytes.Equal(out, b[:len(out)]) {
			t.Fatalf("re-encoded %x, %v; parsed %x", out, err, b)
		}
	})
}

func FuzzKeyReply(f *testing.F) {
	key := Derive(make([]byte, AKLen))
	tekp, _ := Compound(AttrTEKParameters, Attr{AttrTEK, make([]byte, 16)}, Uint32Attr(AttrKeyLifetime, 10),
		Uint8Attr(AttrKeySequence, 1), Attr{AttrCBCIV, make([]byte, 16)})
	reply, _ := Sign(nil, Message{Code: KeyReply, Attrs: []Attr{Uint8Attr(AttrKeySequence, 0), Uint16Attr(AttrSAID, 5), tekp, tekp}}, key.HMACDown)
	f.Add(reply)
	f.Fuzz(func(t *testing.T, b []byte) {
		cl, err := NewKeyClient(net.HardwareAddr{0, 1, 2, 3, 4, 5}, 5, bpi.SuiteAES128CBC, AuthKey{Key: make([]byte, AKLen)}, &captureSink{})
		if err != nil {
			t.Fatal(err)
		}
		_ = cl.HandleReply(b, t0)
	})
}

func FuzzTEKParameters(f *testing.F) {
	tekp, _ := Compound(AttrTEKParameters, Attr{AttrTEK, make([]byte, 16)}, Uint32Attr(AttrKeyLifetime, 10),
		Uint8Attr(AttrKeySequence, 1), Attr{AttrCBCIV, make([]byte, 16)})
	f.Add(tekp.Value)
	f.Fuzz(func(t *testing.T, b []byte) {
		cl, err := NewKeyClient(net.HardwareAddr{0, 1, 2, 3, 4, 5}, 5, bpi.SuiteAES128CBC, AuthKey{Key: make([]byte, AKLen)}, &captureSink{})
		if err != nil {
			t.Fatal(err)
		}
		if tek, err := cl.parseTEK(b, t0); err == nil && tek.Seq > 15 {
			t.Fatalf("sequence %d", tek.Seq)
		}
	})
}
