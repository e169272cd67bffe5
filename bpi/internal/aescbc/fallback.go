package aescbc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
)

// resettableMode is what crypto/cipher's CBC modes over crypto/aes
// return: SetIV lets one mode serve every call without allocating.
type resettableMode interface {
	cipher.BlockMode
	SetIV(iv []byte)
}

// libraryCBC is the path without AES-NI assembly (other architectures,
// CPUs without AES-NI, the purego build tag): crypto/aes and crypto/cipher.
// Its modes keep the chain between calls, so unlike the assembly path it
// is not safe for concurrent use.
type libraryCBC struct {
	block    cipher.Block
	enc, dec resettableMode
}

func newLibraryCBC(key []byte) (*libraryCBC, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aescbc: %w", err)
	}
	var iv [BlockSize]byte
	enc, ok1 := cipher.NewCBCEncrypter(b, iv[:]).(resettableMode)
	dec, ok2 := cipher.NewCBCDecrypter(b, iv[:]).(resettableMode)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("aescbc: the standard library CBC mode cannot reset its IV")
	}
	return &libraryCBC{block: b, enc: enc, dec: dec}, nil
}

func (l *libraryCBC) encryptCBC(iv, b []byte) {
	l.enc.SetIV(iv)
	l.enc.CryptBlocks(b, b)
}

func (l *libraryCBC) decryptCBC(iv, b []byte) {
	l.dec.SetIV(iv)
	l.dec.CryptBlocks(b, b)
}

// encryptCBCPairGo interleaves two chains with one-block calls: even
// without assembly for the chain, the two overlap each other's loads and
// stores (measured at about 1.1-1.4 times OpenSSL's single stream).
func encryptCBCPairGo(c *Cipher, ivx, x []byte, d *Cipher, ivy, y []byte) {
	bc, bd := c.oneBlock(), d.oneBlock()
	px, py := ivx, ivy
	for i := 0; i < len(x); i += BlockSize {
		bx, by := x[i:i+BlockSize], y[i:i+BlockSize]
		subtle.XORBytes(bx, bx, px)
		bc.Encrypt(bx, bx)
		subtle.XORBytes(by, by, py)
		bd.Encrypt(by, by)
		px, py = bx, by
	}
}

// oneBlock is the fastest one-block cipher of c: crypto/aes's own on the
// library path.
func (c *Cipher) oneBlock() cipher.Block {
	if c.asm {
		return c
	}
	return c.fallback.block
}
