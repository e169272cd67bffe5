package bpi

import (
	"fmt"
	"testing"
)

// benchSizes are the lengths compared with `openssl speed -bytes N` by
// bench.sh.
var benchSizes = []int{64, 512, 1500}

// BenchmarkCipherEncrypt measures the DOCSIS cipher alone on regions of
// the sizes openssl speed is run with, so the two are comparable.
func BenchmarkCipherEncrypt(b *testing.B) { benchCipher(b, (*Cipher).Encrypt) }

// BenchmarkCipherDecrypt is the upstream direction (CBC decryption runs
// its blocks in parallel).
func BenchmarkCipherDecrypt(b *testing.B) { benchCipher(b, (*Cipher).Decrypt) }

func benchCipher(b *testing.B, op func(*Cipher, []byte)) {
	for _, s := range []Suite{SuiteAES128CBC, SuiteDES56CBC} {
		c, err := NewCipher(s, make([]byte, s.KeyLen()), make([]byte, s.KeyLen()))
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range benchSizes {
			buf := make([]byte, n)
			b.Run(fmt.Sprintf("%v/%d", s, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					op(c, buf)
				}
			})
		}
	}
}

// BenchmarkDownstreamFrame measures a whole downstream frame: MAC header,
// privacy element, CRC-32 and encryption of an Ethernet frame of each size.
func BenchmarkDownstreamFrame(b *testing.B) {
	for _, s := range []Suite{SuiteAES128CBC, SuiteDES56CBC} {
		tek, err := NewTEK(s, make([]byte, s.KeyLen()), make([]byte, s.KeyLen()), 1, t0)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range benchSizes {
			eth := ethFrame(n, []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, [4]byte{10, 0, 0, 1})
			buf := make([]byte, 0, 2048)
			b.Run(fmt.Sprintf("%v/%d", s, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					buf, _ = AppendDownstream(buf[:0], eth, 9, tek)
				}
			})
		}
	}
}
