package bpkm

import (
	"crypto/rsa"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
)

// The Authorization exchange gives a modem its authorization key (AK):
// the modem sends an Auth Request with its identity and RSA public key;
// the CMTS answers with the AK encrypted under that key (RSAES-OAEP with
// SHA-1), its lifetime and sequence number, and the modem's SA
// descriptor. The public key travels as a PKCS#1 RSAPublicKey (DER) in
// the CM-Identification's RSA-Public-Key sub-attribute: checked against
// Wireshark epan/dissectors/packet-docsis-macmgmt.c (dissect_attrs decodes
// BPKM_RSA_PUB_KEY with dissect_pkixalgs_RSAPublicKey, commit 0c8b0164;
// TestRSAPublicKeyIsPKCS1). Wireshark also accepts an Auth-Key of 96, 128
// or 256 bytes, the RSA-768/1024/2048 ciphertext sizes; that the padding
// is OAEP with SHA-1 is UNVERIFIED (a dissector cannot see it).
//
// Not as a real modem does it: real BPI+ modems also send an X.509 CM
// certificate (attribute 18), whose chain this package does not validate
// (Authorize must stand in for that check). The CM-Identification is the
// full one (serial number, manufacturer ID, MAC address, public key; see
// CMIdentity) when the client has an identity (SetIdentity), else the
// short MAC address and public key; the server accepts both
// (requestIdentity says what it checks).

// SAType values of the SA-Descriptor. UNVERIFIED: 0 for the primary SA.
// Wireshark shows SA-Type (1 byte) with no table of values; IEEE 802.16's
// PKM, derived from BPI+, numbers 0 primary, 1 static, 2 dynamic
// (Wireshark's WiMAX dissector, vs_sa_type), which is suggestive only.
const SATypePrimary = 0

// Authorizer decides whether a modem may have an AK for the public key it
// presented. The CMTS's certificate or provisioning check goes here.
type Authorizer func(modem net.HardwareAddr, pub *rsa.PublicKey) error

// ErrNotAuthorized: the Authorizer refused the modem, or none is set.
var ErrNotAuthorized = errors.New("modem not authorized")

// SetAuthorizer installs the check HandleAuthRequest applies; without one
// every Auth Request is rejected.
func (s *KeyServer) SetAuthorizer(a Authorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = a
}

// HandleAuthRequest answers an Auth Request from modem at now: a fresh AK
// (random from rand, lifetime akLifetime, sequence one past the modem's
// previous AK) encrypted to the modem's public key. The AK is recorded for
// the Key Requests that follow.
func (s *KeyServer) HandleAuthRequest(modem net.HardwareAddr, raw []byte, now time.Time, akLifetime time.Duration, rand io.Reader) ([]byte, error) {
	req, err := ParseMessage(raw)
	if err != nil {
		return nil, fmt.Errorf("auth request from %v: %w", modem, err)
	}
	if req.Code != AuthRequest {
		return nil, fmt.Errorf("auth request from %v: code %d", modem, req.Code)
	}
	pub, err := requestKey(modem, req)
	if err != nil {
		return nil, fmt.Errorf("auth request from %v: %w", modem, err)
	}
	m, ok := s.modems.Modem(modem)
	s.mu.RLock()
	authorize := s.authorize
	prev, hadPrev := s.aks[string(modem)]
	s.mu.RUnlock()
	if !ok || authorize == nil {
		return nil, fmt.Errorf("auth request from %v: %w", modem, ErrNotAuthorized)
	}
	if err := authorize(modem, pub); err != nil {
		return nil, fmt.Errorf("auth request from %v: %w: %v", modem, ErrNotAuthorized, err)
	}
	ak := AuthKey{Key: make([]byte, AKLen), Expires: now.Add(akLifetime)}
	if hadPrev {
		ak.Seq = bpi.NextSeq(prev.ak.Seq)
	}
	if _, err := io.ReadFull(rand, ak.Key); err != nil {
		return nil, fmt.Errorf("auth reply to %v: AK: %w", modem, err)
	}
	encAK, err := rsa.EncryptOAEP(sha1.New(), rand, pub, ak.Key, nil)
	if err != nil {
		return nil, fmt.Errorf("auth reply to %v: %w", modem, err)
	}
	sa, ok := s.keys.SA(m.PrimarySAID)
	if !ok || sa.Older == nil {
		return nil, fmt.Errorf("auth reply to %v: SAID %d has no keys yet", modem, m.PrimarySAID)
	}
	desc, err := saDescriptor(m.PrimarySAID, sa.Older.Suite)
	if err != nil {
		return nil, err
	}
	reply, err := Message{Code: AuthReply, Identifier: req.Identifier, Attrs: []Attr{
		{AttrAuthKey, encAK},
		Uint32Attr(AttrKeyLifetime, uint32(akLifetime/time.Second)),
		Uint8Attr(AttrKeySequence, ak.Seq),
		desc,
	}}.Append(nil)
	if err != nil {
		return nil, err
	}
	return reply, s.SetAuthKey(modem, ak)
}

// requestKey is the public key of an Auth Request's CM-Identification,
// which must name modem.
func requestKey(modem net.HardwareAddr, req Message) (*rsa.PublicKey, error) {
	_, pub, err := requestIdentity(modem, req.Attrs)
	if err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, fmt.Errorf("CM-Identification: no RSA-Public-Key: %w", ErrCMIdentity)
	}
	return pub, nil
}

func saDescriptor(said uint16, suite bpi.Suite) (Attr, error) {
	return Compound(AttrSADescriptor,
		Uint16Attr(AttrSAID, said),
		Uint8Attr(AttrSAType, SATypePrimary),
		Uint16Attr(AttrCryptoSuite, uint16(suite)))
}

// AuthRequest encodes the modem's Auth Request: CM-Identification (the
// full one with an identity, whose key must be pub; else MAC address and
// pub) and its primary SAID.
func (c *KeyClient) AuthRequest(id uint8, pub *rsa.PublicKey) ([]byte, error) {
	if pub == nil {
		return nil, fmt.Errorf("auth request from %v: no public key", c.mac)
	}
	if c.id != nil && !c.id.PublicKey.Equal(pub) {
		return nil, fmt.Errorf("auth request from %v: key is not the identity's: %w", c.mac, ErrCMIdentity)
	}
	cmID, err := c.cmIDAttr(pub)
	if err != nil {
		return nil, err
	}
	return Message{Code: AuthRequest, Identifier: id, Attrs: []Attr{cmID, Uint16Attr(AttrSAID, c.said)}}.Append(nil)
}

// HandleAuthReply decrypts the AK of an Auth Reply received at now with
// the modem's private key and adopts it, with the SA's suite from the
// SA-Descriptor, for the Key Requests that follow.
func (c *KeyClient) HandleAuthReply(raw []byte, priv *rsa.PrivateKey, now time.Time) error {
	m, err := ParseMessage(raw)
	if err != nil {
		return fmt.Errorf("auth reply to %v: %w", c.mac, err)
	}
	if m.Code != AuthReply {
		return fmt.Errorf("auth reply to %v: code %d", c.mac, m.Code)
	}
	enc, ok := Find(m.Attrs, AttrAuthKey)
	if !ok {
		return fmt.Errorf("auth reply to %v: no Auth-Key", c.mac)
	}
	key, err := rsa.DecryptOAEP(sha1.New(), nil, priv, enc, nil)
	if err != nil || len(key) != AKLen {
		return fmt.Errorf("auth reply to %v: Auth-Key does not decrypt to a %d-byte AK", c.mac, AKLen)
	}
	life, err := fixed(m.Attrs, AttrKeyLifetime, 4)
	if err != nil {
		return fmt.Errorf("auth reply to %v: %w", c.mac, err)
	}
	seq, err := fixed(m.Attrs, AttrKeySequence, 1)
	if err != nil {
		return fmt.Errorf("auth reply to %v: %w", c.mac, err)
	}
	if err := c.adoptSuite(m.Attrs); err != nil {
		return fmt.Errorf("auth reply to %v: %w", c.mac, err)
	}
	c.ak = AuthKey{Key: key, Seq: seq[0] & 0x0f, Expires: now.Add(time.Duration(binary.BigEndian.Uint32(life)) * time.Second)}
	c.keys = Derive(key)
	return nil
}

// adoptSuite takes the crypto suite of the SA-Descriptor for our SAID.
func (c *KeyClient) adoptSuite(attrs []Attr) error {
	for _, d := range FindAll(attrs, AttrSADescriptor) {
		sub, err := ParseAttrs(d)
		if err != nil {
			return fmt.Errorf("SA-Descriptor: %w", err)
		}
		said, err1 := fixed(sub, AttrSAID, 2)
		suite, err2 := fixed(sub, AttrCryptoSuite, 2)
		if err1 != nil || err2 != nil || binary.BigEndian.Uint16(said) != c.said {
			continue
		}
		s := bpi.Suite(binary.BigEndian.Uint16(suite))
		if s.KeyLen() == 0 {
			return fmt.Errorf("SA-Descriptor SAID %d: %v: %w", c.said, s, bpi.ErrUnsupportedSuite)
		}
		c.suite = s
		return nil
	}
	return fmt.Errorf("no SA-Descriptor for SAID %d", c.said)
}
