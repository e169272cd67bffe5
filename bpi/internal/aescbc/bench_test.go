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
