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
func BenchmarkCipherEncrypt(b *testing.B) {
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
					c.Encrypt(buf)
				}
			})
		}
	}
}

func BenchmarkCipherDecrypt(b *testing.B) {
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
					c.Decrypt(buf)
				}
			})
		}
	}
}
