package bpi

import (
	"fmt"
	"time"
)

// RFC 4131 default lifetimes (docsBpi2CmtsDefaultAuthLifetime,
// docsBpi2CmtsDefaultTEKLifetime).
const (
	DefaultTEKLifetime = 43200 * time.Second
	DefaultAKLifetime  = 604800 * time.Second
)

// TEK is one traffic encryption key of an SA: the key, its CBC-IV (BPKM
// attribute 15, the same for every frame), its 4-bit key sequence number
// and the end of its lifetime. A TEK is immutable and safe for concurrent
// use; Encrypt and Decrypt take a Cipher from a per-TEK pool.
type TEK struct {
	Suite   Suite
	Seq     uint8     // key sequence number, 0-15
	Expires time.Time // end of the key's lifetime
	key, iv []byte
	ciphers *cipherPool
}

// NewTEK validates key and iv for the suite and returns the TEK.
func NewTEK(s Suite, key, iv []byte, seq uint8, expires time.Time) (*TEK, error) {
	if seq > 15 {
		return nil, fmt.Errorf("TEK: key sequence %d exceeds 15", seq)
	}
	c, err := NewCipher(s, key, iv)
	if err != nil {
		return nil, fmt.Errorf("TEK %d: %w", seq, err)
	}
	k := &TEK{Suite: s, Seq: seq, Expires: expires,
		key: append([]byte(nil), key...), iv: append([]byte(nil), iv...)}
	k.ciphers = &cipherPool{suite: s, key: k.key, iv: k.iv}
	k.ciphers.put(c)
	return k, nil
}

// Key returns a copy of the key.
func (k *TEK) Key() []byte { return append([]byte(nil), k.key...) }

// IV returns a copy of the CBC-IV.
func (k *TEK) IV() []byte { return append([]byte(nil), k.iv...) }

// ValidAt reports whether the key is within its lifetime at now.
func (k *TEK) ValidAt(now time.Time) bool { return now.Before(k.Expires) }

// Encrypt encrypts b in place.
func (k *TEK) Encrypt(b []byte) {
	c := k.ciphers.get()
	c.Encrypt(b)
	k.ciphers.put(c)
}

// Decrypt decrypts b in place.
func (k *TEK) Decrypt(b []byte) {
	c := k.ciphers.get()
	c.Decrypt(b)
	k.ciphers.put(c)
}

func (k *TEK) String() string {
	return fmt.Sprintf("TEK %v seq %d expires %v", k.Suite, k.Seq, k.Expires.UTC().Format(time.RFC3339))
}

// NextSeq is the key sequence number after seq, wrapping from 15 to 0.
func NextSeq(seq uint8) uint8 { return (seq + 1) & 0x0f }

// SA is a snapshot of one security association: its SAID and its two TEKs.
// The CMTS encrypts downstream with the older key until it expires, then
// with the newer; it accepts either for upstream decryption. Snapshots are
// immutable: updates replace them whole.
type SA struct {
	SAID         uint16
	Older, Newer *TEK // either may be nil
}

// Downstream returns the key to encrypt with at now: the older while it is
// valid, else the newer while it is valid, else nil.
func (sa *SA) Downstream(now time.Time) *TEK {
	switch {
	case sa.Older != nil && sa.Older.ValidAt(now):
		return sa.Older
	case sa.Newer != nil && sa.Newer.ValidAt(now):
		return sa.Newer
	}
	return nil
}

// BySeq returns the TEK with key sequence seq, accepting either key as the
// upstream direction does. Expired keys are still accepted: frames in
// flight across a rollover must not be lost, and an SA holds only the two
// current keys.
func (sa *SA) BySeq(seq uint8) *TEK {
	switch {
	case sa.Older != nil && sa.Older.Seq == seq:
		return sa.Older
	case sa.Newer != nil && sa.Newer.Seq == seq:
		return sa.Newer
	}
	return nil
}
