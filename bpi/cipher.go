package bpi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"fmt"
	"sync"
)

// Suite is a BPI+ cryptographic suite as coded on the wire (BPKM attribute
// 20): the first byte names the data encryption algorithm, the second the
// data authentication algorithm (0: none). RFC 4131's MIB enumerations use
// different numbers.
type Suite uint16

// Cryptographic suites.
const (
	SuiteDES56CBC  Suite = 0x0100
	SuiteDES40CBC  Suite = 0x0200 // not implemented: NewCipher rejects it
	SuiteAES128CBC Suite = 0x0300
)

func (s Suite) String() string {
	switch s {
	case SuiteDES56CBC:
		return "DES-56-CBC"
	case SuiteDES40CBC:
		return "DES-40-CBC"
	case SuiteAES128CBC:
		return "AES-128-CBC"
	}
	return fmt.Sprintf("suite(0x%04x)", uint16(s))
}

// KeyLen is the TEK length in bytes (also the CBC-IV length), 0 when the
// suite is not supported.
func (s Suite) KeyLen() int {
	switch s {
	case SuiteDES56CBC:
		return des.BlockSize
	case SuiteAES128CBC:
		return aes.BlockSize
	}
	return 0
}

// ivSetter is implemented by the CBC modes of crypto/cipher (for DES) and of
// crypto/aes; resetting the IV lets one BlockMode serve every frame without
// allocating.
type ivSetter interface{ SetIV(iv []byte) }

type resettableMode interface {
	cipher.BlockMode
	ivSetter
}

// Cipher encrypts and decrypts DOCSIS-encrypted regions in place with one
// key and IV. It is not safe for concurrent use; a TEK hands out Ciphers to
// concurrent callers from a pool.
//
// The DOCSIS mode is CBC over the whole blocks; a residual partial block is
// XORed with the leftmost bytes of E_K(last full ciphertext block), and a
// region shorter than one block is XORed with E_K(IV). Both directions use
// the forward cipher for the residual, and nothing is padded: ciphertext and
// plaintext have the same length.
type Cipher struct {
	block    cipher.Block
	enc, dec resettableMode
	bs       int
	iv       [aes.BlockSize]byte
	ivStream [aes.BlockSize]byte // E_K(IV), the short-packet keystream
	scratch  [aes.BlockSize]byte
}

// NewCipher returns a Cipher for the suite with the given key and CBC-IV.
func NewCipher(s Suite, key, iv []byte) (*Cipher, error) {
	var (
		b   cipher.Block
		err error
	)
	switch s {
	case SuiteDES56CBC:
		b, err = des.NewCipher(key)
	case SuiteAES128CBC:
		if len(key) != aes.BlockSize {
			return nil, fmt.Errorf("%v: key length %d, want %d", s, len(key), aes.BlockSize)
		}
		b, err = aes.NewCipher(key)
	default:
		return nil, fmt.Errorf("%v: %w", s, ErrUnsupportedSuite)
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %w", s, err)
	}
	bs := b.BlockSize()
	if len(iv) != bs {
		return nil, fmt.Errorf("%v: IV length %d, want %d", s, len(iv), bs)
	}
	enc, ok1 := cipher.NewCBCEncrypter(b, iv).(resettableMode)
	dec, ok2 := cipher.NewCBCDecrypter(b, iv).(resettableMode)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%v: the standard library CBC mode cannot reset its IV", s)
	}
	c := &Cipher{block: b, enc: enc, dec: dec, bs: bs}
	copy(c.iv[:], iv)
	b.Encrypt(c.ivStream[:bs], iv)
	return c, nil
}

// BlockSize is the cipher block size: 8 for DES, 16 for AES.
func (c *Cipher) BlockSize() int { return c.bs }

// Encrypt encrypts b in place.
func (c *Cipher) Encrypt(b []byte) {
	full := len(b) - len(b)%c.bs
	if full == 0 {
		subtle.XORBytes(b, b, c.ivStream[:len(b)])
		return
	}
	c.enc.SetIV(c.iv[:c.bs])
	c.enc.CryptBlocks(b[:full], b[:full])
	c.xorResidual(b, full)
}

// Decrypt decrypts b in place.
func (c *Cipher) Decrypt(b []byte) {
	full := len(b) - len(b)%c.bs
	if full == 0 {
		subtle.XORBytes(b, b, c.ivStream[:len(b)])
		return
	}
	// The residual keystream comes from the last full ciphertext block,
	// which the in-place CBC decryption is about to overwrite.
	c.xorResidual(b, full)
	c.dec.SetIV(c.iv[:c.bs])
	c.dec.CryptBlocks(b[:full], b[:full])
}

// xorResidual XORs the partial block after b[:full] with E_K of the last
// full (ciphertext) block.
func (c *Cipher) xorResidual(b []byte, full int) {
	if full == len(b) {
		return
	}
	c.block.Encrypt(c.scratch[:c.bs], b[full-c.bs:full])
	subtle.XORBytes(b[full:], b[full:], c.scratch[:len(b)-full])
}

// cipherPool hands out Ciphers for one key to concurrent callers. After the
// first use per goroutine-ish slot, Get and Put do not allocate.
type cipherPool struct {
	suite   Suite
	key, iv []byte
	pool    sync.Pool
}

func (p *cipherPool) get() *Cipher {
	if c, ok := p.pool.Get().(*Cipher); ok {
		return c
	}
	// The key was validated when the TEK was made, so this cannot fail.
	c, err := NewCipher(p.suite, p.key, p.iv)
	if err != nil {
		panic("bpi: cipher for a validated TEK: " + err.Error())
	}
	return c
}

func (p *cipherPool) put(c *Cipher) { p.pool.Put(c) }
