// Package aescbc is AES-128 in CBC mode over whole blocks, in place: the
// chain kept in a register with AES-NI on amd64 and the ARMv8
// cryptography extensions on arm64, and crypto/aes with crypto/cipher on
// other architectures, on CPUs without the instructions (detected with
// golang.org/x/sys/cpu) and with the purego build tag.
//
// Why hand-written, against the rule to prefer well-kept libraries:
// DOCSIS BPI+ encrypts every downstream frame with AES-128-CBC, and CBC
// encryption is one serial chain per frame. Go 1.26 has no CBC-encrypt
// assembly on amd64 or arm64 (crypto/internal/fips140/aes/cbc_noasm.go):
// its loop calls a one-block routine per block and stores and reloads
// every block around it, lengthening each link of the chain. bpi/bench.sh
// on the 2-vCPU EPYC dev VM, beside `openssl speed -evp aes-128-cbc` in
// the same run, measured that library path at 68-88 % of OpenSSL for
// 64-1500 byte frames (512 B: 68 %). This package: 119-244 % per frame
// (frames start from the same IV, so short ones overlap), 93-132 % with
// one chain continued across calls as openssl speed does, and 198-248 %
// for two frames interleaved by EncryptCBCPair. Figures: bpi/README.md
// "Throughput". Key expansion stays in Go and is tested against crypto/aes.
package aescbc

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// BlockSize is the AES block size in bytes.
const BlockSize = aes.BlockSize

// Cipher is one AES-128 key, expanded for both directions. Every call
// starts from the IV it is given. It is not safe for concurrent use (the
// library path keeps its CBC modes in it).
type Cipher struct {
	asm      bool // the assembly path; false: fallback below
	enc, dec schedule
	fallback *libraryCBC
}

// New expands a 16-byte key.
func New(key []byte) (*Cipher, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("aescbc: key length %d, want 16", len(key))
	}
	if !useAsm {
		lib, err := newLibraryCBC(key)
		if err != nil {
			return nil, err
		}
		return &Cipher{fallback: lib}, nil
	}
	c := &Cipher{asm: true, enc: expandKey(key)}
	c.dec = decryptionSchedule(&c.enc)
	return c, nil
}

// BlockSize is 16; with Encrypt and Decrypt it makes a Cipher a
// cipher.Block.
func (c *Cipher) BlockSize() int { return BlockSize }

// Encrypt encrypts one block from src into dst (they may overlap exactly).
func (c *Cipher) Encrypt(dst, src []byte) {
	if len(src) < BlockSize || len(dst) < BlockSize {
		panic("aescbc: input not full block")
	}
	if !c.asm {
		c.fallback.block.Encrypt(dst, src)
		return
	}
	encryptBlockAsm(&c.enc, dst, src)
}

// Decrypt decrypts one block from src into dst (they may overlap exactly).
func (c *Cipher) Decrypt(dst, src []byte) {
	if len(src) < BlockSize || len(dst) < BlockSize {
		panic("aescbc: input not full block")
	}
	if !c.asm {
		c.fallback.block.Decrypt(dst, src)
		return
	}
	var iv [BlockSize]byte
	copy(dst[:BlockSize], src[:BlockSize])
	decryptCBCAsm(&c.dec, &iv, dst[:BlockSize])
}

var _ cipher.Block = (*Cipher)(nil)

// EncryptCBC encrypts b, whole blocks, in place in CBC mode starting from
// iv (16 bytes; it may be a block of b's own buffer before b, and it is
// not changed).
func (c *Cipher) EncryptCBC(iv, b []byte) {
	checkCBC(iv, b)
	if len(b) == 0 {
		return
	}
	if !c.asm {
		c.fallback.encryptCBC(iv, b)
		return
	}
	encryptCBCAsm(&c.enc, (*[BlockSize]byte)(iv), b)
}

// DecryptCBC decrypts b, whole blocks, in place in CBC mode starting from
// iv, which must not overlap b.
func (c *Cipher) DecryptCBC(iv, b []byte) {
	checkCBC(iv, b)
	if len(b) == 0 {
		return
	}
	if !c.asm {
		c.fallback.decryptCBC(iv, b)
		return
	}
	decryptCBCAsm(&c.dec, (*[BlockSize]byte)(iv), b)
}

// EncryptCBCPair is c.EncryptCBC(ivx, x) and d.EncryptCBC(ivy, y) with the
// two chains interleaved block by block: each chain is latency-bound, and
// two independent ones keep the AES unit busy while the other waits. x
// and y must have the same length and must not overlap; c and d may be
// the same Cipher.
func EncryptCBCPair(c *Cipher, ivx, x []byte, d *Cipher, ivy, y []byte) {
	checkCBC(ivx, x)
	checkCBC(ivy, y)
	if len(x) != len(y) {
		panic("aescbc: EncryptCBCPair of unequal lengths")
	}
	if len(x) == 0 {
		return
	}
	if !c.asm || !d.asm {
		encryptCBCPairGo(c, ivx, x, d, ivy, y)
		return
	}
	encryptCBCPairAsm(&c.enc, &d.enc, (*[BlockSize]byte)(ivx), (*[BlockSize]byte)(ivy), x, y)
}

func checkCBC(iv, b []byte) {
	if len(iv) != BlockSize {
		panic("aescbc: IV length must be 16")
	}
	if len(b)%BlockSize != 0 {
		panic("aescbc: input not full blocks")
	}
}
