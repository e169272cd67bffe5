package bpi

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// benchSizes are the lengths compared with `openssl speed -bytes N` by
// bench.sh.
var benchSizes = []int{64, 512, 1500}

// BenchmarkCipherEncrypt measures the DOCSIS cipher alone on regions of
// the sizes openssl speed is run with, so the two are comparable.
func BenchmarkCipherEncrypt(b *testing.B) { benchCipher(b, (*Cipher).Encrypt) }

// BenchmarkCipherEncryptChained is BenchmarkCipherEncrypt with one CBC
// chain continued across calls, each call's IV the previous call's last
// whole ciphertext block, as `openssl speed` does (its context keeps the
// IV). Frames start from the TEK's IV instead, and the CPU may overlap
// independent short frames' chains; this figure is the like-for-like one.
func BenchmarkCipherEncryptChained(b *testing.B) {
	benchCipher(b, func(c *Cipher, buf []byte) {
		c.Encrypt(buf)
		full := len(buf) - len(buf)%c.bs
		copy(c.iv[:c.bs], buf[full-c.bs:full])
	})
}

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
				cpu := startCPU()
				for b.Loop() {
					op(c, buf)
				}
				cpu.report(b, n)
			})
		}
	}
}

// BenchmarkCipherEncryptPair measures EncryptPair on two regions of each
// size, under two keys; bytes are counted for both, so MB/s compares with
// openssl speed's single stream.
func BenchmarkCipherEncryptPair(b *testing.B) {
	for _, s := range []Suite{SuiteAES128CBC, SuiteDES56CBC} {
		c, err := NewCipher(s, make([]byte, s.KeyLen()), make([]byte, s.KeyLen()))
		if err != nil {
			b.Fatal(err)
		}
		d, err := NewCipher(s, bytes.Repeat([]byte{1}, s.KeyLen()), make([]byte, s.KeyLen()))
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range benchSizes {
			x, y := make([]byte, n), make([]byte, n)
			b.Run(fmt.Sprintf("%v/%d", s, n), func(b *testing.B) {
				b.SetBytes(int64(2 * n))
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					EncryptPair(c, x, d, y)
				}
				cpu.report(b, 2*n)
			})
		}
	}
}

// BenchmarkDownstreamFramePair is BenchmarkDownstreamFrame for two frames
// at a time, their encryption interleaved (Encoder.SendPair's path).
func BenchmarkDownstreamFramePair(b *testing.B) {
	for _, s := range []Suite{SuiteAES128CBC, SuiteDES56CBC} {
		k1, err := NewTEK(s, make([]byte, s.KeyLen()), make([]byte, s.KeyLen()), 1, t0)
		if err != nil {
			b.Fatal(err)
		}
		k2, err := NewTEK(s, bytes.Repeat([]byte{1}, s.KeyLen()), make([]byte, s.KeyLen()), 2, t0)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range benchSizes {
			eth := ethFrame(n, []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, [4]byte{10, 0, 0, 1})
			x, y := make([]byte, 0, 2048), make([]byte, 0, 2048)
			b.Run(fmt.Sprintf("%v/%d", s, n), func(b *testing.B) {
				b.SetBytes(int64(2 * n))
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					var fx, fy int
					x, fx, _ = appendPDU(x[:0], eth, 9, k1)
					y, fy, _ = appendPDU(y[:0], eth, 10, k2)
					k1.EncryptPair(x[fx:], k2, y[fy:])
				}
				cpu.report(b, 2*n)
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
				cpu := startCPU()
				for b.Loop() {
					buf, _ = AppendDownstream(buf[:0], eth, 9, tek)
				}
				cpu.report(b, n)
			})
		}
	}
}

// cpuClock measures the process's user CPU time across a benchmark loop.
// The figure it reports, MB per CPU-second, is what `openssl speed`
// reports by default (it counts user time), and it holds when other work
// shares the host, where wall-clock MB/s does not.
type cpuClock struct{ start time.Duration }

func userCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano())
}

func startCPU() cpuClock { return cpuClock{userCPU()} }

func (c cpuClock) report(b *testing.B, size int) {
	if d := userCPU() - c.start; d > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/d.Seconds()/1e6, "MB/cpu-s")
	}
}
