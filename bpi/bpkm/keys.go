package bpkm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/leaseguard/leaseguard/bpi"
)

// AKLen is the length of an authorization key. UNVERIFIED: 20 bytes (160
// bits) per our reading of BPI+. Wireshark sees only the RSA-encrypted
// Auth-Key (96, 128 or 256 bytes), never the AK's own length.
const AKLen = 20

// DigestLen is the length of the HMAC-Digest attribute (HMAC-SHA1).
// Checked against Wireshark epan/dissectors/packet-docsis-macmgmt.c
// (dissect_attrs accepts BPKM_HMAC_DIGEST of exactly 20 bytes, commit
// 0c8b0164).
const DigestLen = sha1.Size

// Keys are the keys derived from one AK.
type Keys struct {
	KEK      [16]byte // wraps TEKs; two-key 3DES (K1|K2) or AES-128
	HMACUp   [20]byte // signs modem-to-CMTS messages (HMAC_KEY_U)
	HMACDown [20]byte // signs CMTS-to-modem messages (HMAC_KEY_D)
}

// Derive computes the KEK and the HMAC keys from an AK:
//
//	KEK        = first 16 bytes of SHA1(64 x 0x53 || AK)
//	HMAC_KEY_U = SHA1(64 x 0x5C || AK)
//	HMAC_KEY_D = SHA1(64 x 0x3A || AK)
//
// UNVERIFIED: the pad bytes and truncation are from notes/bpi.md, not yet
// checked against CM-SP-SECv3.1. Nothing public settles them: Wireshark's
// DOCSIS dissectors show keys but derive none, and a search of the public
// code index for BPI+ KEK/HMAC_KEY derivations found no implementation
// (IEEE 802.16 PKM descends from BPI+ but is a different specification).
// The example Key Request and Key Reply of ITU-T J.125 Appendix I would
// settle it; it was not reachable here.
func Derive(ak []byte) Keys {
	var k Keys
	kek := padHash(0x53, ak)
	copy(k.KEK[:], kek[:16])
	k.HMACUp = padHash(0x5c, ak)
	k.HMACDown = padHash(0x3a, ak)
	return k
}

func padHash(pad byte, ak []byte) [20]byte {
	h := sha1.New()
	var p [64]byte
	for i := range p {
		p[i] = pad
	}
	h.Write(p[:])
	h.Write(ak)
	return [20]byte(h.Sum(nil))
}

// WrapTEK encrypts a TEK under the KEK: DES TEKs with two-key 3DES-EDE in
// ECB mode (K1 = KEK[0:8], K2 = KEK[8:16]), AES TEKs with AES-128-ECB.
// UNVERIFIED: modes and key split per notes/bpi.md. Wireshark accepts a
// TEK attribute of 8, 16 or 32 bytes, the size of the TEK itself, which
// fits an unpadded ECB wrap but cannot tell ECB from another length
// preserving mode, nor the 3DES key order.
func WrapTEK(s bpi.Suite, kek [16]byte, tek []byte) ([]byte, error) {
	return ecb(s, kek, tek, true)
}

// UnwrapTEK reverses WrapTEK.
func UnwrapTEK(s bpi.Suite, kek [16]byte, wrapped []byte) ([]byte, error) {
	return ecb(s, kek, wrapped, false)
}

func ecb(s bpi.Suite, kek [16]byte, in []byte, encrypt bool) ([]byte, error) {
	if n := s.KeyLen(); n == 0 || len(in) != n {
		return nil, fmt.Errorf("TEK wrap %v: %d bytes, want %d", s, len(in), n)
	}
	b, err := kekBlock(s, kek)
	if err != nil {
		return nil, fmt.Errorf("TEK wrap %v: %w", s, err)
	}
	out := make([]byte, len(in))
	if encrypt {
		b.Encrypt(out, in)
	} else {
		b.Decrypt(out, in)
	}
	return out, nil
}

// kekBlock is the KEK as a block cipher for the TEK's suite: EDE with
// K1, K2, K1 for DES TEKs, AES-128 for AES TEKs.
func kekBlock(s bpi.Suite, kek [16]byte) (cipher.Block, error) {
	if s == bpi.SuiteDES56CBC {
		k := make([]byte, 0, 24)
		k = append(append(append(k, kek[:8]...), kek[8:]...), kek[:8]...)
		return des.NewTripleDESCipher(k)
	}
	return aes.NewCipher(kek[:])
}

// ErrDigest: the HMAC-Digest is missing, misplaced or wrong.
var ErrDigest = errors.New("HMAC digest mismatch")

// digestAttrLen is the encoded HMAC-Digest attribute: type, length, value.
const digestAttrLen = 3 + DigestLen

// Sign encodes m with an HMAC-Digest attribute appended last, computed
// with key over the encoded message before that attribute (header
// included, its Length counting the digest). UNVERIFIED: the digest's
// coverage and position. Wireshark reads our digest as the last attribute
// (20 bytes) without checking it; nothing public here computes one.
func Sign(b []byte, m Message, key [20]byte) ([]byte, error) {
	start := len(b)
	m.Attrs = append(m.Attrs[:len(m.Attrs):len(m.Attrs)], Attr{AttrHMACDigest, make([]byte, DigestLen)})
	b, err := m.Append(b)
	if err != nil {
		return b, err
	}
	end := len(b)
	mac := hmac.New(sha1.New, key[:])
	mac.Write(b[start : end-DigestLen-3])
	copy(b[end-DigestLen:], mac.Sum(nil))
	return b, nil
}

// Verify parses a signed message and checks that its last attribute is a
// correct HMAC-Digest under key.
func Verify(raw []byte, key [20]byte) (Message, error) {
	m, err := ParseMessage(raw)
	if err != nil {
		return m, err
	}
	end := messageHeaderLen + int(binary.BigEndian.Uint16(raw[2:4]))
	if len(m.Attrs) == 0 || m.Attrs[len(m.Attrs)-1].Type != AttrHMACDigest || len(m.Attrs[len(m.Attrs)-1].Value) != DigestLen {
		return m, fmt.Errorf("BPKM code %d: last attribute is not a %d-byte HMAC-Digest: %w", m.Code, DigestLen, ErrDigest)
	}
	mac := hmac.New(sha1.New, key[:])
	mac.Write(raw[:end-digestAttrLen])
	if !hmac.Equal(mac.Sum(nil), raw[end-DigestLen:end]) {
		return m, fmt.Errorf("BPKM code %d: %w", m.Code, ErrDigest)
	}
	m.Attrs = m.Attrs[:len(m.Attrs)-1]
	return m, nil
}
