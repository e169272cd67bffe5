package aescbc

import (
	"fmt"
	"testing"
)

// BenchmarkEncryptCBC compares the paths on the sizes bpi/bench.sh uses;
// bpi's benchmarks put them beside openssl speed.
func BenchmarkEncryptCBC(b *testing.B) {
	for _, asm := range paths() {
		c := newOn(b, asm, make([]byte, 16))
		for _, n := range []int{64, 512, 1504} {
			iv, buf := make([]byte, 16), make([]byte, n)
			b.Run(fmt.Sprintf("%s/%d", pathName(asm), n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					c.EncryptCBC(iv, buf)
				}
			})
		}
	}
}

// BenchmarkEncryptCBCChained continues one chain across calls, each IV
// the previous call's last ciphertext block, as `openssl speed` does (its
// context keeps the IV). BenchmarkEncryptCBC starts every call from the
// same IV, as DOCSIS does per frame, and the CPU may then overlap short
// calls' chains with each other.
func BenchmarkEncryptCBCChained(b *testing.B) {
	for _, asm := range paths() {
		c := newOn(b, asm, make([]byte, 16))
		for _, n := range []int{64, 512, 1504} {
			var iv [BlockSize]byte
			buf := make([]byte, n)
			b.Run(fmt.Sprintf("%s/%d", pathName(asm), n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					c.EncryptCBC(iv[:], buf)
					copy(iv[:], buf[n-BlockSize:])
				}
			})
		}
	}
}

func BenchmarkDecryptCBC(b *testing.B) {
	for _, asm := range paths() {
		c := newOn(b, asm, make([]byte, 16))
		for _, n := range []int{64, 512, 1504} {
			iv, buf := make([]byte, 16), make([]byte, n)
			b.Run(fmt.Sprintf("%s/%d", pathName(asm), n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					c.DecryptCBC(iv, buf)
				}
			})
		}
	}
}

// BenchmarkEncryptCBCPair counts the bytes of both chains.
func BenchmarkEncryptCBCPair(b *testing.B) {
	for _, asm := range paths() {
		c, d := newOn(b, asm, make([]byte, 16)), newOn(b, asm, make([]byte, 16))
		for _, n := range []int{64, 512, 1504} {
			iv, x, y := make([]byte, 16), make([]byte, n), make([]byte, n)
			b.Run(fmt.Sprintf("%s/%d", pathName(asm), n), func(b *testing.B) {
				b.SetBytes(int64(2 * n))
				for b.Loop() {
					EncryptCBCPair(c, iv, x, d, iv, y)
				}
			})
		}
	}
}
