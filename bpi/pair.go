package bpi

import "crypto/subtle"

// Why pairs: CBC encryption is serial within a frame, each block waiting
// for the previous one's AES, and Go 1.26 has no CBC-encrypt assembly on
// amd64 or arm64 (crypto/internal/fips140/aes/cbc_noasm.go): its loop calls
// the one-block assembly per block, storing each block and loading it back,
// which adds latency to every link of the chain. That cost cannot be
// removed without assembly, but it can be overlapped: two frames' chains
// interleaved block by block are independent, so the CPU runs one's AES
// while the other's loads and stores complete. Measured (BenchmarkCipher
// EncryptPair beside openssl speed, bench.sh) this moves AES from about
// 70-88 % of OpenSSL's single-stream speed to above it for frames of 512
// bytes and more. DES gains little: its cost is the cipher, not the chain.

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
	px, py := c.iv[:bs], d.iv[:bs]
	for i := 0; i < n; i += bs {
		bx, by := x[i:i+bs], y[i:i+bs]
		subtle.XORBytes(bx, bx, px)
		c.block.Encrypt(bx, bx)
		subtle.XORBytes(by, by, py)
		d.block.Encrypt(by, by)
		px, py = bx, by
	}
	c.finish(x, n, fx, px)
	d.finish(y, n, fy, py)
}

// finish continues the chain of b from block boundary n (prev is the last
// ciphertext block) through its full blocks, then the residual.
func (c *Cipher) finish(b []byte, n, full int, prev []byte) {
	if full > n {
		c.enc.SetIV(prev)
		c.enc.CryptBlocks(b[n:full], b[n:full])
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
