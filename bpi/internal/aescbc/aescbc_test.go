package aescbc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"math/rand/v2"
	"testing"
)

// paths are the implementations this machine can run: the assembly (when
// the CPU has it) and the library fallback, forced by clearing useAsm.
func paths() []bool {
	if useAsm {
		return []bool{true, false}
	}
	return []bool{false}
}

func pathName(asm bool) string {
	if asm {
		return "asm"
	}
	return "library"
}

// newOn makes a Cipher on the given path.
func newOn(t testing.TB, asm bool, key []byte) *Cipher {
	t.Helper()
	saved := useAsm
	useAsm = asm
	defer func() { useAsm = saved }()
	c, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	if c.asm != asm {
		t.Fatalf("New made asm=%v, want %v", c.asm, asm)
	}
	return c
}

func random(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// libraryCBC is the reference: fresh crypto/aes and crypto/cipher objects.
func libraryEncrypt(t testing.TB, key, iv, plain []byte) []byte {
	t.Helper()
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, plain)
	return out
}

// TestKeyExpansionMatchesCryptoAES: the Go key expansion, through the
// assembly, encrypts single blocks exactly as crypto/aes does under the
// FIPS-197 Appendix B key and random ones.
func TestKeyExpansionMatchesCryptoAES(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	keys := [][]byte{unhex(t, "2b7e151628aed2a6abf7158809cf4f3c"), make([]byte, 16), bytes.Repeat([]byte{0xff}, 16)}
	for range 50 {
		keys = append(keys, random(rng, 16))
	}
	for _, asm := range paths() {
		for _, key := range keys {
			c := newOn(t, asm, key)
			ref, _ := aes.NewCipher(key)
			for range 20 {
				src := random(rng, 16)
				got, want := make([]byte, 16), make([]byte, 16)
				c.Encrypt(got, src)
				ref.Encrypt(want, src)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s key %x: E(%x) = %x, crypto/aes %x", pathName(asm), key, src, got, want)
				}
				c.Decrypt(got, got)
				if !bytes.Equal(got, src) {
					t.Fatalf("%s key %x: D(E(%x)) = %x", pathName(asm), key, src, got)
				}
			}
		}
	}
}

// TestFIPS197KnownAnswer: Appendix B's cipher example and its round keys
// (Appendix A.1: w[40..43] = d014f9a8 c9ee2589 e13f0cc8 b6630ca6).
func TestFIPS197KnownAnswer(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	enc := expandKey(key)
	if got, want := fmt.Sprintf("%x", enc[rounds]), "d014f9a8c9ee2589e13f0cc8b6630ca6"; got != want {
		t.Errorf("last round key %s, want %s", got, want)
	}
	for _, asm := range paths() {
		c := newOn(t, asm, key)
		b := unhex(t, "3243f6a8885a308d313198a2e0370734")
		c.Encrypt(b, b)
		if got, want := fmt.Sprintf("%x", b), "3925841d02dc09fbdc118597196a0b32"; got != want {
			t.Errorf("%s: ciphertext %s, want %s", pathName(asm), got, want)
		}
	}
}

// TestCBCEveryLength: both directions against crypto/cipher for every
// multiple of 16 up to 1520, random keys and IVs, on both paths.
func TestCBCEveryLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	t.Logf("paths on this CPU: %v", paths())
	for _, asm := range paths() {
		for n := 0; n <= 1520; n += 16 {
			key, iv, plain := random(rng, 16), random(rng, 16), random(rng, n)
			c := newOn(t, asm, key)
			checkAgainstLibrary(t, c, key, iv, plain)
		}
	}
}

func checkAgainstLibrary(t testing.TB, c *Cipher, key, iv, plain []byte) {
	t.Helper()
	ivCopy := append([]byte(nil), iv...)
	b := append([]byte(nil), plain...)
	c.EncryptCBC(iv, b)
	if want := libraryEncrypt(t, key, iv, plain); !bytes.Equal(b, want) {
		t.Fatalf("%s len %d: EncryptCBC\n got %x\nwant %x", pathName(c.asm), len(plain), b, want)
	}
	c.DecryptCBC(iv, b)
	if !bytes.Equal(b, plain) {
		t.Fatalf("%s len %d: DecryptCBC\n got %x\nwant %x", pathName(c.asm), len(plain), b, plain)
	}
	// Decryption alone, of crypto/cipher's ciphertext.
	ref, _ := aes.NewCipher(key)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(ref, iv).CryptBlocks(ct, plain)
	c.DecryptCBC(iv, ct)
	if !bytes.Equal(ct, plain) {
		t.Fatalf("%s len %d: DecryptCBC of crypto/cipher's ciphertext differs", pathName(c.asm), len(plain))
	}
	if !bytes.Equal(iv, ivCopy) {
		t.Fatalf("%s len %d: IV changed to %x", pathName(c.asm), len(plain), iv)
	}
}

// TestEncryptCBCPair: the interleaved pair equals two separate chains,
// under two keys and under one, on every path combination, and the IV may
// be the block just before the data (how bpi continues a longer frame).
func TestEncryptCBCPair(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, asmC := range paths() {
		for _, asmD := range paths() {
			for n := 0; n <= 1520; n += 16 {
				kx, ky := random(rng, 16), random(rng, 16)
				c, d := newOn(t, asmC, kx), newOn(t, asmD, ky)
				if n%64 == 0 {
					d = c // the same Cipher for both
					ky = kx
				}
				ivx, ivy, x, y := random(rng, 16), random(rng, 16), random(rng, n), random(rng, n)
				wx, wy := libraryEncrypt(t, kx, ivx, x), libraryEncrypt(t, ky, ivy, y)
				EncryptCBCPair(c, ivx, x, d, ivy, y)
				if !bytes.Equal(x, wx) || !bytes.Equal(y, wy) {
					t.Fatalf("%s/%s len %d: pair differs from crypto/cipher", pathName(asmC), pathName(asmD), n)
				}
			}
		}
	}
}

// TestEncryptCBCIVInBuffer: the IV may be the ciphertext block just before
// b in the same buffer.
func TestEncryptCBCIVInBuffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, asm := range paths() {
		key, iv, plain := random(rng, 16), random(rng, 16), random(rng, 160)
		c := newOn(t, asm, key)
		b := append([]byte(nil), plain...)
		c.EncryptCBC(iv, b[:64])
		c.EncryptCBC(b[48:64], b[64:])
		if want := libraryEncrypt(t, key, iv, plain); !bytes.Equal(b, want) {
			t.Fatalf("%s: continued chain differs", pathName(asm))
		}
	}
}

func TestPanicsOnPartialBlocks(t *testing.T) {
	c := newOn(t, false, make([]byte, 16))
	for name, f := range map[string]func(){
		"encrypt 17": func() { c.EncryptCBC(make([]byte, 16), make([]byte, 17)) },
		"decrypt 15": func() { c.DecryptCBC(make([]byte, 16), make([]byte, 15)) },
		"IV 8":       func() { c.EncryptCBC(make([]byte, 8), make([]byte, 16)) },
		"pair 16/32": func() { EncryptCBCPair(c, make([]byte, 16), make([]byte, 16), c, make([]byte, 16), make([]byte, 32)) },
		"block 15":   func() { c.Encrypt(make([]byte, 16), make([]byte, 15)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestNewRejectsKeyLength(t *testing.T) {
	for _, n := range []int{0, 15, 17, 24, 32} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key succeeded", n)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	for _, asm := range paths() {
		c, d := newOn(t, asm, make([]byte, 16)), newOn(t, asm, bytes.Repeat([]byte{1}, 16))
		iv, x, y, blk := make([]byte, 16), make([]byte, 1504), make([]byte, 1504), make([]byte, 16)
		allocs := testing.AllocsPerRun(100, func() {
			c.EncryptCBC(iv, x)
			c.DecryptCBC(iv, x)
			EncryptCBCPair(c, iv, x, d, iv, y)
			c.Encrypt(blk, blk)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations, want 0", pathName(asm), allocs)
		}
	}
}

// FuzzCBC: both directions and the pair against crypto/cipher on every
// path; the data is cut to whole blocks.
func FuzzCBC(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("fedcba9876543210"), []byte("sixteen byte blk"))
	f.Add(make([]byte, 16), make([]byte, 16), make([]byte, 80))
	f.Fuzz(func(t *testing.T, key, iv, data []byte) {
		if len(key) < 16 || len(iv) < 16 {
			return
		}
		key, iv = key[:16], iv[:16]
		data = data[:len(data)/16*16]
		for _, asm := range paths() {
			c := newOn(t, asm, key)
			checkAgainstLibrary(t, c, key, iv, data)
			x, y := append([]byte(nil), data...), append([]byte(nil), data...)
			EncryptCBCPair(c, iv, x, c, key, y)
			if !bytes.Equal(x, libraryEncrypt(t, key, iv, data)) || !bytes.Equal(y, libraryEncrypt(t, key, key, data)) {
				t.Fatalf("%s: pair differs from crypto/cipher", pathName(asm))
			}
		}
	})
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var b []byte
	if _, err := fmt.Sscanf(s, "%x", &b); err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
