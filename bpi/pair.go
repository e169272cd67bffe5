package bpi

import (
	"crypto/subtle"

	"github.com/leaseguard/leaseguard/bpi/internal/aescbc"
)

// Why pairs: CBC encryption is serial within a frame, each block waiting
// for the previous one's cipher, so one frame keeps the AES unit busy a
// fraction of the time. Two frames' chains interleaved block by block are
// independent and overlap. With AES-NI (bpi/internal/aescbc, both chains
// in registers) this is about twice one frame's speed; on the library path
// (other CPUs, DES) the two chains also overlap each other's per-block
// loads and stores. Measured beside openssl speed in bpi/README.md
// "Throughput" (bench.sh).

// EncryptPair encrypts x with c and y with d in place, exactly as c.Encrypt(x)
// and d.Encrypt(y) would, interleaving the two CBC chains. c and d must be
// distinct Ciphers (they may hold the same key).
func EncryptPair(c *Cipher, x []byte, d *Cipher, y []byte) {
	bs := c.bs
	fx, fy := len(x)-len(x)%bs, len(y)-len(y)%bs
	if c == d || d.bs != bs || fx == 0 || fy == 0 {
		c.Encrypt(x)
		d.Encrypt(y)
		return
	}
	n := min(fx, fy)
	if c.aes != nil && d.aes != nil {
		aescbc.EncryptCBCPair(c.aes, c.iv[:bs], x[:n], d.aes, d.iv[:bs], y[:n])
	} else {
		interleave(c, x[:n], d, y[:n])
	}
	c.finish(x, n, fx)
	d.finish(y, n, fy)
}

// interleave is the CBC encryption of x by c and y by d (same length,
// whole blocks) with one-block calls alternating between the chains.
func interleave(c *Cipher, x []byte, d *Cipher, y []byte) {
	bs := c.bs
	px, py := c.iv[:bs], d.iv[:bs]
	for i := 0; i < len(x); i += bs {
		bx, by := x[i:i+bs], y[i:i+bs]
		subtle.XORBytes(bx, bx, px)
		c.block.Encrypt(bx, bx)
		subtle.XORBytes(by, by, py)
		d.block.Encrypt(by, by)
		px, py = bx, by
	}
}

// finish continues the chain of b from block boundary n (b[n-bs:n] is the
// last ciphertext block) through its full blocks, then the residual.
func (c *Cipher) finish(b []byte, n, full int) {
	if full > n {
		c.cbc.EncryptCBC(b[n-c.bs:n], b[n:full])
	}
	c.xorResidual(b, full)
}

// EncryptPair encrypts x with k and y with l in place, interleaved (see
// the function EncryptPair); k and l may be the same TEK.
func (k *TEK) EncryptPair(x []byte, l *TEK, y []byte) {
	c, d := k.ciphers.get(), l.ciphers.get()
	EncryptPair(c, x, d, y)
	k.ciphers.put(c)
	l.ciphers.put(d)
}
