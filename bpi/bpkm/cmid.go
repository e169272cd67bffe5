package bpkm

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// CMIdentity is what a modem says about itself in the CM-Identification
// attribute (type 5): its serial number, its manufacturer's OUI, its MAC
// address and its RSA public key, encoded as four sub-attributes in that
// order:
//
//	05 LLLL
//	  01 LLLL <serial number, ASCII, 1-255 bytes>
//	  02 0003 <manufacturer OUI>
//	  03 0006 <MAC address>
//	  04 LLLL <RSAPublicKey, PKCS#1 DER>
//
// Checked against Wireshark epan/dissectors/packet-docsis-macmgmt.c
// (dissect_attrs, commit 0c8b0164): BPKM_SERIAL_NUM is shown as ASCII and
// flagged over 255 bytes, BPKM_MANUFACTURER_ID must be 3 bytes, BPKM_MAC_ADDR
// 6, BPKM_RSA_PUB_KEY is dissected as a PKCS#1 RSAPublicKey, and a
// BPKM_CM_ID under 126 bytes is flagged "TLV length too small" (so is any
// attribute over 1487). 126 is the full form with a 1-byte serial number
// and an RSA-768 key with exponent 3 (104 bytes of DER; 106 with 65537),
// the smallest key BPI+ allows as we read it: so we require a non-empty
// serial number, at least 768 bits, and at least 126 bytes. That the
// sub-attributes come in this order is UNVERIFIED against the
// specification (Wireshark accepts any order; this is the order of their
// type numbers, which we also require).
type CMIdentity struct {
	SerialNumber   string
	ManufacturerID [3]byte // the manufacturer's IEEE OUI
	MAC            net.HardwareAddr
	PublicKey      *rsa.PublicKey
}

// CM-Identification limits, see CMIdentity.
const (
	MaxSerialNumberLen = 255
	MinCMIDLen         = 126 // Wireshark flags a shorter CM-Identification
	MinRSABits         = 768
)

// ErrCMIdentity: a CM-Identification that is malformed or does not name
// the modem that sent it.
var ErrCMIdentity = errors.New("bad CM-Identification")

// Attr encodes the identity as the CM-Identification attribute.
func (id CMIdentity) Attr() (Attr, error) {
	if err := id.check(); err != nil {
		return Attr{}, err
	}
	a, err := Compound(AttrCMIdentification,
		Attr{AttrSerialNumber, []byte(id.SerialNumber)},
		Attr{AttrManufacturerID, id.ManufacturerID[:]},
		Attr{AttrMACAddress, id.MAC},
		Attr{AttrRSAPublicKey, x509.MarshalPKCS1PublicKey(id.PublicKey)})
	if err != nil {
		return Attr{}, err
	}
	if len(a.Value) < MinCMIDLen {
		return Attr{}, fmt.Errorf("CM-Identification: %d bytes, want at least %d: %w", len(a.Value), MinCMIDLen, ErrCMIdentity)
	}
	return a, nil
}

func (id CMIdentity) check() error {
	if err := checkSerial([]byte(id.SerialNumber)); err != nil {
		return err
	}
	if len(id.MAC) != 6 {
		return fmt.Errorf("CM-Identification MAC address: %d bytes, want 6: %w", len(id.MAC), ErrCMIdentity)
	}
	if id.PublicKey == nil || id.PublicKey.N == nil || id.PublicKey.N.BitLen() < MinRSABits {
		return fmt.Errorf("CM-Identification RSA-Public-Key: missing or under %d bits: %w", MinRSABits, ErrCMIdentity)
	}
	return nil
}

// checkSerial: 1-255 printable ASCII characters.
func checkSerial(s []byte) error {
	if len(s) == 0 || len(s) > MaxSerialNumberLen {
		return fmt.Errorf("CM-Identification serial number: %d bytes, want 1-%d: %w", len(s), MaxSerialNumberLen, ErrCMIdentity)
	}
	for i, c := range s {
		if c < 0x20 || c > 0x7e {
			return fmt.Errorf("CM-Identification serial number: byte %d is %#x, not printable ASCII: %w", i, c, ErrCMIdentity)
		}
	}
	return nil
}

// ParseCMIdentity decodes the value of a full CM-Identification: exactly
// the four sub-attributes, once each, in order, with the lengths above and
// a key that re-encodes to the same DER. It never panics.
func ParseCMIdentity(v []byte) (CMIdentity, error) {
	if len(v) < MinCMIDLen {
		return CMIdentity{}, fmt.Errorf("CM-Identification: %d bytes, want at least %d: %w", len(v), MinCMIDLen, ErrCMIdentity)
	}
	sub, err := ParseAttrs(v)
	if err != nil {
		return CMIdentity{}, fmt.Errorf("CM-Identification: %w: %w", ErrCMIdentity, err)
	}
	want := []AttrType{AttrSerialNumber, AttrManufacturerID, AttrMACAddress, AttrRSAPublicKey}
	if len(sub) != len(want) {
		return CMIdentity{}, fmt.Errorf("CM-Identification: %d sub-attributes, want %d: %w", len(sub), len(want), ErrCMIdentity)
	}
	for i, t := range want {
		if sub[i].Type != t {
			return CMIdentity{}, fmt.Errorf("CM-Identification sub-attribute %d: type %d, want %d: %w", i, sub[i].Type, t, ErrCMIdentity)
		}
	}
	if len(sub[1].Value) != 3 {
		return CMIdentity{}, fmt.Errorf("CM-Identification manufacturer ID: %d bytes, want 3: %w", len(sub[1].Value), ErrCMIdentity)
	}
	pub, err := parsePublicKey(sub[3].Value)
	if err != nil {
		return CMIdentity{}, err
	}
	id := CMIdentity{SerialNumber: string(sub[0].Value), ManufacturerID: [3]byte(sub[1].Value),
		MAC: net.HardwareAddr(bytes.Clone(sub[2].Value)), PublicKey: pub}
	return id, id.check()
}

// parsePublicKey decodes a PKCS#1 RSAPublicKey in canonical DER.
func parsePublicKey(der []byte) (*rsa.PublicKey, error) {
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("CM-Identification RSA-Public-Key: %w: %w", ErrCMIdentity, err)
	}
	if !bytes.Equal(x509.MarshalPKCS1PublicKey(pub), der) {
		return nil, fmt.Errorf("CM-Identification RSA-Public-Key: not canonical DER: %w", ErrCMIdentity)
	}
	return pub, nil
}

// cmIDAttr is the CM-Identification a KeyClient sends: the full form when
// it has an identity, else the short form it always sent (MAC address,
// then the public key when pub is set).
func (c *KeyClient) cmIDAttr(pub *rsa.PublicKey) (Attr, error) {
	if c.id != nil {
		return c.id.Attr()
	}
	sub := []Attr{{AttrMACAddress, c.mac}}
	if pub != nil {
		sub = append(sub, Attr{AttrRSAPublicKey, x509.MarshalPKCS1PublicKey(pub)})
	}
	return Compound(AttrCMIdentification, sub...)
}

// SetIdentity makes the client send the full CM-Identification in its
// Auth and Key Requests. The identity must be the client's own MAC.
func (c *KeyClient) SetIdentity(id CMIdentity) error {
	if !bytes.Equal(id.MAC, c.mac) {
		return fmt.Errorf("key client %v: identity for %v: %w", c.mac, id.MAC, ErrCMIdentity)
	}
	if _, err := id.Attr(); err != nil {
		return fmt.Errorf("key client %v: %w", c.mac, err)
	}
	id.MAC = bytes.Clone(id.MAC)
	c.id = &id
	return nil
}

// requestIdentity reads the CM-Identification of a request from modem (the
// source MAC of its management frame). The server accepts two forms: the
// full one (CMIdentity) and the short one of MAC address optionally
// followed by RSA-Public-Key (what older KeyClients send). Either way the
// MAC address in it must be modem's. pub is nil when the short form has
// no key.
//
// What the specification's CMTS checks, as we read BPI+ (UNVERIFIED, the
// specification is not at hand): at Authorization it validates the CM
// certificate (attribute 18) up to the manufacturer CA, and checks that
// the CM-Identification matches that certificate (serial number,
// manufacturer, MAC address, public key); at Key Request it checks the
// HMAC-Digest under the AK, the AK sequence number and that the SAID is
// the modem's. What we check: the CM-Identification is well formed in one
// of the two forms and names the sending MAC; the public key goes to the
// Authorizer; the serial number and manufacturer ID are parsed (strictly)
// but checked against nothing, as there is no certificate to hold them to.
func requestIdentity(modem net.HardwareAddr, attrs []Attr) (mac net.HardwareAddr, pub *rsa.PublicKey, err error) {
	v, ok := Find(attrs, AttrCMIdentification)
	if !ok {
		return nil, nil, fmt.Errorf("no CM-Identification: %w", ErrCMIdentity)
	}
	if len(v) > 0 && AttrType(v[0]) == AttrSerialNumber {
		id, err := ParseCMIdentity(v)
		if err != nil {
			return nil, nil, err
		}
		mac, pub = id.MAC, id.PublicKey
	} else if mac, pub, err = parseShortCMID(v); err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(mac, modem) {
		return nil, nil, fmt.Errorf("CM-Identification names %v, sent by %v: %w", mac, modem, ErrCMIdentity)
	}
	return mac, pub, nil
}

// parseShortCMID decodes the short form: MAC address, then optionally
// RSA-Public-Key, nothing else.
func parseShortCMID(v []byte) (net.HardwareAddr, *rsa.PublicKey, error) {
	sub, err := ParseAttrs(v)
	if err != nil {
		return nil, nil, fmt.Errorf("CM-Identification: %w: %w", ErrCMIdentity, err)
	}
	if len(sub) == 0 || len(sub) > 2 || sub[0].Type != AttrMACAddress || len(sub[0].Value) != 6 {
		return nil, nil, fmt.Errorf("CM-Identification: neither the full form nor a 6-byte MAC address first: %w", ErrCMIdentity)
	}
	if len(sub) == 1 {
		return sub[0].Value, nil, nil
	}
	if sub[1].Type != AttrRSAPublicKey {
		return nil, nil, fmt.Errorf("CM-Identification: sub-attribute %d after the MAC address: %w", sub[1].Type, ErrCMIdentity)
	}
	pub, err := parsePublicKey(sub[1].Value)
	return sub[0].Value, pub, err
}
