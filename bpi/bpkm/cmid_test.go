package bpkm

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/bpi"
)

// knownKey is a fixed 768-bit "key" (N = 96 bytes of 0xc3, e = 65537):
// encoding needs no valid key, and a fixed one gives fixed bytes.
func knownKey() *rsa.PublicKey {
	return &rsa.PublicKey{N: new(big.Int).SetBytes(bytes.Repeat([]byte{0xc3}, 96)), E: 65537}
}

func knownIdentity() CMIdentity {
	return CMIdentity{SerialNumber: "SN1", ManufacturerID: [3]byte{0x00, 0x10, 0x95},
		MAC: net.HardwareAddr{0x00, 0x10, 0x95, 0, 0, 1}, PublicKey: knownKey()}
}

// The CM-Identification of knownIdentity, byte for byte: type 05, length
// 0x0082 (130); Serial-Number 01 0003 "SN1"; Manufacturer-ID 02 0003
// 001095; MAC-Address 03 0006 001095000001; RSA-Public-Key 04 006a (106):
// SEQUENCE 30 68 { INTEGER 02 61 00 c3...c3 (96), INTEGER 02 03 010001 }.
var knownCMID = "050082" + "010003534e31" + "020003001095" + "030006001095000001" +
	"04006a" + "3068" + "026100" + strings.Repeat("c3", 96) + "0203010001"

func TestCMIdentityKnownAnswer(t *testing.T) {
	a, err := knownIdentity().Attr()
	if err != nil {
		t.Fatal(err)
	}
	got, err := AppendAttrs(nil, []Attr{a})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(knownCMID, hex.EncodeToString(got)); diff != "" {
		t.Errorf("CM-Identification (-want +got):\n%s", diff)
	}
}

func TestCMIdentityRoundTrip(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]CMIdentity{
		"known":      knownIdentity(),
		"rsa-1024":   {SerialNumber: "LG-0010950000ff", ManufacturerID: [3]byte{0x02, 0xcc, 0x00}, MAC: net.HardwareAddr{2, 0xcc, 0, 0, 0, 0xff}, PublicKey: &priv.PublicKey},
		"serial-255": {SerialNumber: strings.Repeat("x", 255), ManufacturerID: [3]byte{1, 2, 3}, MAC: make(net.HardwareAddr, 6), PublicKey: knownKey()},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := id.Attr()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCMIdentity(a.Value)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(id, got, cmp.Comparer(func(a, b *rsa.PublicKey) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// Encoding refuses what Wireshark would flag or we could not parse back.
func TestCMIdentityEncodeRejects(t *testing.T) {
	small := &rsa.PublicKey{N: new(big.Int).SetBytes(bytes.Repeat([]byte{0xc3}, 64)), E: 65537}
	for name, mutate := range map[string]func(*CMIdentity){
		"empty serial":        func(id *CMIdentity) { id.SerialNumber = "" },
		"serial 256":          func(id *CMIdentity) { id.SerialNumber = strings.Repeat("x", 256) },
		"serial not ASCII":    func(id *CMIdentity) { id.SerialNumber = "SN\x00" },
		"short MAC":           func(id *CMIdentity) { id.MAC = id.MAC[:5] },
		"no key":              func(id *CMIdentity) { id.PublicKey = nil },
		"512-bit key":         func(id *CMIdentity) { id.PublicKey = small },
		"key without modulus": func(id *CMIdentity) { id.PublicKey = &rsa.PublicKey{E: 3} },
	} {
		id := knownIdentity()
		mutate(&id)
		if _, err := id.Attr(); !errors.Is(err, ErrCMIdentity) {
			t.Errorf("%s: %v, want ErrCMIdentity", name, err)
		}
	}
}

// Parsing is strict: every sub-attribute once, in order, at its length.
func TestParseCMIdentityRejects(t *testing.T) {
	a, _ := knownIdentity().Attr()
	sub, _ := ParseAttrs(a.Value)
	enc := func(attrs ...Attr) []byte { b, _ := AppendAttrs(nil, attrs); return b }
	pad := Attr{AttrDisplayString, make([]byte, 200)}
	longer := func(i int, v []byte) []byte {
		s := append([]Attr(nil), sub...)
		s[i] = Attr{s[i].Type, v}
		return enc(s...)
	}
	for name, v := range map[string][]byte{
		"empty":               nil,
		"MAC only":            enc(sub[2]),
		"truncated":           a.Value[:len(a.Value)-1],
		"reordered":           enc(sub[1], sub[0], sub[2], sub[3]),
		"extra sub-attribute": enc(append(append([]Attr(nil), sub...), pad)...),
		"key missing":         enc(sub[0], sub[1], sub[2], pad),
		"manufacturer 4":      longer(1, []byte{0, 0x10, 0x95, 0}),
		"MAC 7":               longer(2, make([]byte, 7)),
		"serial empty":        longer(0, nil),
		"key not DER":         longer(3, bytes.Repeat([]byte{0x30}, 110)),
		"key trailing byte":   longer(3, append(bytes.Clone(sub[3].Value), 0)),
	} {
		if _, err := ParseCMIdentity(v); !errors.Is(err, ErrCMIdentity) {
			t.Errorf("%s: %v, want ErrCMIdentity", name, err)
		}
	}
}

// The key server takes both the full and the MAC-only CM-Identification
// in Key Requests, and rejects one naming another modem (Unauthorized
// CM).
func TestKeyServerCMIdentificationForms(t *testing.T) {
	srv, mac, ak, _ := keyFixture(t, bpi.SuiteAES128CBC)
	full, err := NewKeyClient(mac, 33, bpi.SuiteAES128CBC, ak, &captureSink{})
	if err != nil {
		t.Fatal(err)
	}
	id := knownIdentity()
	id.MAC = mac
	if err := full.SetIdentity(id); err != nil {
		t.Fatal(err)
	}
	short, _ := NewKeyClient(mac, 33, bpi.SuiteAES128CBC, ak, &captureSink{})
	liar, _ := NewKeyClient(net.HardwareAddr{0, 0x10, 0x95, 0, 0, 9}, 33, bpi.SuiteAES128CBC, ak, &captureSink{})
	other := knownIdentity()
	other.MAC = net.HardwareAddr{0, 0x10, 0x95, 0, 0, 9}
	liarFull, _ := NewKeyClient(net.HardwareAddr{0, 0x10, 0x95, 0, 0, 9}, 33, bpi.SuiteAES128CBC, ak, &captureSink{})
	if err := liarFull.SetIdentity(other); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		client   *KeyClient
		wantCode int // -1: a Key Reply
		cmIDLen  int
	}{
		{"full", full, -1, len(knownCMID)/2 - 3},
		{"MAC only", short, -1, 9},
		{"MAC only, another modem's", liar, ErrCodeUnauthorizedCM, 9},
		{"full, another modem's", liarFull, ErrCodeUnauthorizedCM, len(knownCMID)/2 - 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := tt.client.Request(4)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := ParseMessage(req)
			if v, _ := Find(m.Attrs, AttrCMIdentification); len(v) != tt.cmIDLen {
				t.Errorf("CM-Identification of %d bytes, want %d", len(v), tt.cmIDLen)
			}
			_, err = srv.HandleKeyRequest(mac, req, t0.Add(time.Hour))
			var rej *Rejected
			switch {
			case tt.wantCode < 0 && err != nil:
				t.Errorf("HandleKeyRequest: %v, want a Key Reply", err)
			case tt.wantCode >= 0 && (!errors.As(err, &rej) || int(rej.Code) != tt.wantCode):
				t.Errorf("HandleKeyRequest: %v, want a Key Reject with code %d", err, tt.wantCode)
			}
		})
	}
}

// The Auth Request carries the full CM-Identification with an identity,
// the server authorizes either form and hands the Authorizer the key.
func TestAuthRequestFullIdentity(t *testing.T) {
	srv, mac, _, _ := keyFixture(t, bpi.SuiteAES128CBC)
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	var seen *rsa.PublicKey
	srv.SetAuthorizer(func(_ net.HardwareAddr, pub *rsa.PublicKey) error { seen = pub; return nil })
	cl, _ := NewKeyClient(mac, 33, bpi.SuiteAES128CBC, AuthKey{}, &captureSink{})
	id := CMIdentity{SerialNumber: "LG0001", ManufacturerID: [3]byte{0, 0x10, 0x95}, MAC: mac, PublicKey: &priv.PublicKey}
	if err := cl.SetIdentity(id); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.AuthRequest(1, knownKey()); !errors.Is(err, ErrCMIdentity) {
		t.Errorf("Auth Request with a key not the identity's: %v, want ErrCMIdentity", err)
	}
	req, err := cl.AuthRequest(1, &priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ParseMessage(req)
	v, _ := Find(m.Attrs, AttrCMIdentification)
	got, err := ParseCMIdentity(v)
	if err != nil || got.SerialNumber != id.SerialNumber {
		t.Fatalf("Auth Request CM-Identification: %+v, %v", got, err)
	}
	reply, err := srv.HandleAuthRequest(mac, req, t0, bpi.DefaultAKLifetime, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if seen == nil || !seen.Equal(&priv.PublicKey) {
		t.Error("the Authorizer did not see the identity's key")
	}
	if err := cl.HandleAuthReply(reply, priv, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.HandleAuthRequest(net.HardwareAddr{0, 0x10, 0x95, 0, 0, 9}, req, t0, bpi.DefaultAKLifetime, rand.Reader); !errors.Is(err, ErrCMIdentity) {
		t.Errorf("Auth Request naming another modem: %v, want ErrCMIdentity", err)
	}
}

func TestSetIdentityRejectsAnotherMAC(t *testing.T) {
	cl, _ := NewKeyClient(net.HardwareAddr{0, 1, 2, 3, 4, 5}, 5, bpi.SuiteAES128CBC, AuthKey{}, &captureSink{})
	if err := cl.SetIdentity(knownIdentity()); !errors.Is(err, ErrCMIdentity) {
		t.Errorf("SetIdentity for another MAC: %v, want ErrCMIdentity", err)
	}
}

// FuzzCMIdentity: ParseCMIdentity and the server's two-form reading never
// panic; whatever parses re-encodes to the same bytes.
func FuzzCMIdentity(f *testing.F) {
	full, _ := hex.DecodeString(knownCMID)
	f.Add(full[3:])
	short, _ := Compound(AttrCMIdentification, Attr{AttrMACAddress, knownIdentity().MAC})
	f.Add(short.Value)
	withKey, _ := (&KeyClient{mac: knownIdentity().MAC}).cmIDAttr(knownKey())
	f.Add(withKey.Value)
	f.Fuzz(func(t *testing.T, v []byte) {
		_, _, _ = requestIdentity(knownIdentity().MAC, []Attr{{AttrCMIdentification, v}})
		id, err := ParseCMIdentity(v)
		if err != nil {
			return
		}
		a, err := id.Attr()
		if err != nil {
			t.Fatalf("parsed %x, cannot re-encode: %v", v, err)
		}
		if !bytes.Equal(a.Value, v) {
			t.Fatalf("re-encoded %x, parsed %x", a.Value, v)
		}
	})
}
