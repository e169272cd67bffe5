package bpi

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os/exec"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// Known answers from notes/bpi.md: DES from CM-SP-SECv3.1 Appendix I as
// shipped in intel-ipsec-mb des_docsis_test.json, AES from intel-ipsec-mb
// aes_test.c.
func TestCipherKnownAnswers(t *testing.T) {
	const (
		desKey = "e6600fd8852ef5ab"
		desIV  = "810e528e1c5fda1a"
		aesKey = "e6600fd8852ef5abe6600fd8852ef5ab"
		aesIV  = "810e528e1c5fda1a810e528e1c5fda1a"
	)
	tests := []struct {
		name          string
		suite         Suite
		key, iv       string
		plain, cipher string
	}{
		{"DES 16B whole blocks", SuiteDES56CBC, desKey, desIV,
			"000102030405060708090a0b88416506", "0dda5acbd05e55679f04d1b6413d4eed"},
		{"DES 19B residual", SuiteDES56CBC, desKey, desIV,
			"000102030405060708090a0b0c0d0e91d2d19f", "0dda5acbd05e5567514746868a71e577efac88"},
		{"DES 3B short", SuiteDES56CBC, desKey, "514746868a71e577", "d2d19f", "efac88"},
		{"AES 7B short", SuiteAES128CBC, aesKey, aesIV, "00010288ee597e", "fc68a3556037dc"},
		{"AES 19B residual", SuiteAES128CBC, aesKey, aesIV,
			"000102030405060708090a0b0c0d0e91d2d19f", "9dd1674bba61101b56756474364f101d44d473"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCipher(tt.suite, unhex(t, tt.key), unhex(t, tt.iv))
			if err != nil {
				t.Fatal(err)
			}
			b := unhex(t, tt.plain)
			c.Encrypt(b)
			if got, want := hex.EncodeToString(b), tt.cipher; got != want {
				t.Errorf("Encrypt = %s, want %s", got, want)
			}
			c.Decrypt(b)
			if got, want := hex.EncodeToString(b), tt.plain; got != want {
				t.Errorf("Decrypt = %s, want %s", got, want)
			}
		})
	}
}

// referenceEncrypt is the DOCSIS mode written out with fresh standard
// library objects, the independent model the fast path is checked against.
func referenceEncrypt(t testing.TB, s Suite, key, iv, plain []byte) []byte {
	t.Helper()
	var b cipher.Block
	var err error
	if s == SuiteAES128CBC {
		b, err = aes.NewCipher(key)
	} else {
		b, err = des.NewCipher(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	bs := b.BlockSize()
	out := append([]byte(nil), plain...)
	full := len(out) / bs * bs
	ks := make([]byte, bs)
	if full == 0 {
		b.Encrypt(ks, iv)
	} else {
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(out[:full], out[:full])
		b.Encrypt(ks, out[full-bs:full])
	}
	for i := full; i < len(out); i++ {
		out[i] ^= ks[i-full]
	}
	return out
}

func TestCipherRoundTripEveryLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []Suite{SuiteDES56CBC, SuiteAES128CBC} {
		key, iv := make([]byte, s.KeyLen()), make([]byte, s.KeyLen())
		fill(rng, key)
		fill(rng, iv)
		c, err := NewCipher(s, key, iv)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n <= 1518; n++ {
			plain := make([]byte, n)
			fill(rng, plain)
			b := append([]byte(nil), plain...)
			c.Encrypt(b)
			if want := referenceEncrypt(t, s, key, iv, plain); !bytes.Equal(b, want) {
				t.Fatalf("%v len %d: ciphertext differs from the reference", s, n)
			}
			c.Decrypt(b)
			if !bytes.Equal(b, plain) {
				t.Fatalf("%v len %d: round trip differs", s, n)
			}
		}
	}
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// TestCipherAgainstOpenSSL checks whole blocks against `openssl enc -nopad`
// and the residual keystream against `openssl enc -ecb` of the last
// ciphertext block.
func TestCipherAgainstOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	key := unhex(t, "000102030405060708090a0b0c0d0e0f")
	iv := unhex(t, "f0e0d0c0b0a090807060504030201000")
	plain := make([]byte, 77) // 4 blocks and a residual of 13
	for i := range plain {
		plain[i] = byte(i * 7)
	}
	c, err := NewCipher(SuiteAES128CBC, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	got := append([]byte(nil), plain...)
	c.Encrypt(got)

	whole := opensslEnc(t, "-aes-128-cbc", key, iv, plain[:64])
	if !bytes.Equal(got[:64], whole) {
		t.Fatalf("whole blocks: got %x, openssl %x", got[:64], whole)
	}
	ks := opensslEnc(t, "-aes-128-ecb", key, nil, whole[48:64])
	for i := range 13 {
		if got[64+i] != plain[64+i]^ks[i] {
			t.Fatalf("residual byte %d: got %02x, want %02x", i, got[64+i], plain[64+i]^ks[i])
		}
	}
}

func opensslEnc(t *testing.T, mode string, key, iv, in []byte) []byte {
	t.Helper()
	args := []string{"enc", mode, "-nopad", "-K", hex.EncodeToString(key)}
	if iv != nil {
		args = append(args, "-iv", hex.EncodeToString(iv))
	}
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %v: %v", args, err)
	}
	return out
}

func TestNewCipherRejects(t *testing.T) {
	tests := []struct {
		name    string
		suite   Suite
		key, iv []byte
		is      error
	}{
		{"DES-40 not implemented", SuiteDES40CBC, make([]byte, 8), make([]byte, 8), ErrUnsupportedSuite},
		{"unknown suite", Suite(0x0900), make([]byte, 16), make([]byte, 16), ErrUnsupportedSuite},
		{"AES short key", SuiteAES128CBC, make([]byte, 8), make([]byte, 16), nil},
		{"AES-256 key", SuiteAES128CBC, make([]byte, 32), make([]byte, 16), nil},
		{"DES long key", SuiteDES56CBC, make([]byte, 16), make([]byte, 8), nil},
		{"DES IV of AES", SuiteDES56CBC, make([]byte, 8), make([]byte, 16), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCipher(tt.suite, tt.key, tt.iv)
			if err == nil {
				t.Fatal("NewCipher succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
		})
	}
}

func TestCipherZeroAllocs(t *testing.T) {
	for _, s := range []Suite{SuiteDES56CBC, SuiteAES128CBC} {
		c, err := NewCipher(s, make([]byte, s.KeyLen()), make([]byte, s.KeyLen()))
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1503) // whole blocks and a residual
		short := make([]byte, 5)
		allocs := testing.AllocsPerRun(100, func() {
			c.Encrypt(b)
			c.Decrypt(b)
			c.Encrypt(short)
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocations per frame, want 0", s, allocs)
		}
	}
}

func FuzzCipher(f *testing.F) {
	f.Add(uint8(0), []byte("0123456789abcdef"), []byte("fedcba9876543210"), []byte("hello, modem"))
	f.Add(uint8(1), []byte("01234567"), []byte("76543210"), []byte("a frame of twenty-one"))
	f.Fuzz(func(t *testing.T, which uint8, key, iv, plain []byte) {
		s := SuiteAES128CBC
		if which%2 == 1 {
			s = SuiteDES56CBC
		}
		if len(key) < s.KeyLen() || len(iv) < s.KeyLen() {
			return
		}
		key, iv = key[:s.KeyLen()], iv[:s.KeyLen()]
		c, err := NewCipher(s, key, iv)
		if err != nil {
			t.Fatal(err)
		}
		b := append([]byte(nil), plain...)
		c.Encrypt(b)
		if want := referenceEncrypt(t, s, key, iv, plain); !bytes.Equal(b, want) {
			t.Fatalf("ciphertext %x, reference %x", b, want)
		}
		c.Decrypt(b)
		if !bytes.Equal(b, plain) {
			t.Fatalf("round trip %x, want %x", b, plain)
		}
	})
}
