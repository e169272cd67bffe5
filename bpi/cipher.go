package bpi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"github.com/leaseguard/leaseguard/bpi/internal/aescbc"
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

// cbcBlocks encrypts and decrypts whole blocks in place in CBC mode from
// an IV, leaving the IV unchanged.
type cbcBlocks interface {
	EncryptCBC(iv, b []byte)
	DecryptCBC(iv, b []byte)
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
	block    cipher.Block // one block: the residual and short-packet keystreams
	cbc      cbcBlocks
	aes      *aescbc.Cipher // AES-128 (also block and cbc), for EncryptPair
	bs       int
	iv       [aes.BlockSize]byte
	ivStream [aes.BlockSize]byte // E_K(IV), the short-packet keystream
	scratch  [aes.BlockSize]byte
}

// NewCipher returns a Cipher for the suite with the given key and CBC-IV.
func NewCipher(s Suite, key, iv []byte) (*Cipher, error) {
	var c Cipher
	switch s {
	case SuiteDES56CBC:
		b, err := des.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", s, err)
		}
		modes, err := newLibraryCBC(b)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", s, err)
		}
		c.block, c.cbc = b, modes
	case SuiteAES128CBC:
		if len(key) != aes.BlockSize {
			return nil, fmt.Errorf("%v: key length %d, want %d", s, len(key), aes.BlockSize)
		}
		a, err := aescbc.New(key)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", s, err)
		}
		c.block, c.cbc, c.aes = a, a, a
	default:
		return nil, fmt.Errorf("%v: %w", s, ErrUnsupportedSuite)
	}
	c.bs = c.block.BlockSize()
	if len(iv) != c.bs {
		return nil, fmt.Errorf("%v: IV length %d, want %d", s, len(iv), c.bs)
	}
	copy(c.iv[:], iv)
	c.block.Encrypt(c.ivStream[:c.bs], iv)
	return &c, nil
}

// libraryCBC is crypto/cipher's CBC over a cipher.Block (DES), its IV
// reset per call so one mode serves every frame without allocating.
type libraryCBC struct{ enc, dec ivResetter }

type ivResetter interface {
	cipher.BlockMode
	SetIV(iv []byte)
}

func newLibraryCBC(b cipher.Block) (*libraryCBC, error) {
	iv := make([]byte, b.BlockSize())
	enc, ok1 := cipher.NewCBCEncrypter(b, iv).(ivResetter)
	dec, ok2 := cipher.NewCBCDecrypter(b, iv).(ivResetter)
	if !ok1 || !ok2 {
		return nil, errors.New("the standard library CBC mode cannot reset its IV")
	}
	return &libraryCBC{enc: enc, dec: dec}, nil
}

func (l *libraryCBC) EncryptCBC(iv, b []byte) {
	l.enc.SetIV(iv)
	l.enc.CryptBlocks(b, b)
}

func (l *libraryCBC) DecryptCBC(iv, b []byte) {
	l.dec.SetIV(iv)
	l.dec.CryptBlocks(b, b)
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
	c.cbc.EncryptCBC(c.iv[:c.bs], b[:full])
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
	c.cbc.DecryptCBC(c.iv[:c.bs], b[:full])
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
