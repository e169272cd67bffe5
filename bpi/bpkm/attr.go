// Package bpkm is the Baseline Privacy Key Management protocol of BPI+:
// the BPKM-REQ/RSP MAC management messages (types 12 and 13), their
// attribute (TLV) codec, the key derivations from the authorization key
// (AK), TEK wrapping, and the Key Request / Key Reply exchange between the
// CMTS and a modem. It does no I/O; time and randomness are parameters.
//
// Codes, attribute types and layouts follow Wireshark's
// packet-docsis-macmgmt.c and the notes in shared/notes/bpi.md, and are
// cross-checked against tshark reading what we send (wireshark_test.go).
// Every constant or derivation marked UNVERIFIED has not been checked
// against CableLabs CM-SP-SECv3.1 or a public implementation.
package bpkm

import (
	"encoding/binary"
	"fmt"
)

// AttrType is a BPKM attribute type.
type AttrType uint8

// Attribute types. Every one checked against Wireshark
// epan/dissectors/packet-docsis-macmgmt.c (the BPKM_* defines and
// dissect_attrs, commit 0c8b0164; the same numbers in the older
// plugins/docsis/packet-bpkmattr.c): type numbers, and the value lengths
// Wireshark accepts (MAC address 6, TEK 8/16/32, Key-Lifetime 4,
// Key-Sequence 1, HMAC-Digest 20, SAID 2, CBC-IV 8/16, Error-Code 1,
// Crypto-Suite 2, BPI-Version 1, SA-Type 1; 3-byte type/length header with
// a 16-bit length). tshark 4.0.17 names each of ours as we do and reads
// every attribute of the messages we send (TestWiresharkValueTables,
// TestWiresharkReadsBPKM).
const (
	AttrSerialNumber     AttrType = 1
	AttrManufacturerID   AttrType = 2 // 3 bytes, an OUI
	AttrMACAddress       AttrType = 3
	AttrRSAPublicKey     AttrType = 4 // PKCS#1 RSAPublicKey, DER
	AttrCMIdentification AttrType = 5 // compound: 1-4
	AttrDisplayString    AttrType = 6
	AttrAuthKey          AttrType = 7  // RSA-encrypted AK
	AttrTEK              AttrType = 8  // wrapped TEK
	AttrKeyLifetime      AttrType = 9  // 4 bytes, remaining seconds
	AttrKeySequence      AttrType = 10 // 1 byte, low 4 bits
	AttrHMACDigest       AttrType = 11 // 20 bytes, HMAC-SHA1
	AttrSAID             AttrType = 12 // 2 bytes
	AttrTEKParameters    AttrType = 13 // compound: 8, 9, 10, 15
	AttrCBCIV            AttrType = 15
	AttrErrorCode        AttrType = 16 // 1 byte
	AttrCACertificate    AttrType = 17
	AttrCMCertificate    AttrType = 18
	AttrSecurityCaps     AttrType = 19 // compound
	AttrCryptoSuite      AttrType = 20 // 2 bytes, as bpi.Suite
	AttrBPIVersion       AttrType = 22 // 1 byte, 1 = BPI+
	AttrSADescriptor     AttrType = 23 // compound: 12, 24, 20
	AttrSAType           AttrType = 24 // 1 byte
)

// Attr is one attribute: type (1 byte), length (2 bytes, big-endian) and
// value. Compound attributes carry attributes in their value.
type Attr struct {
	Type  AttrType
	Value []byte
}

// maxAttrLen is the largest value a 2-byte length describes.
const maxAttrLen = 0xffff

// AppendAttrs appends the attributes in order.
func AppendAttrs(b []byte, attrs []Attr) ([]byte, error) {
	for _, a := range attrs {
		if len(a.Value) > maxAttrLen {
			return b, fmt.Errorf("attribute %d: %d bytes exceed %d", a.Type, len(a.Value), maxAttrLen)
		}
		b = append(b, byte(a.Type))
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Value)))
		b = append(b, a.Value...)
	}
	return b, nil
}

// ParseAttrs decodes a sequence of attributes. Values alias b.
func ParseAttrs(b []byte) ([]Attr, error) {
	var attrs []Attr
	for off := 0; off < len(b); {
		if len(b)-off < 3 {
			return nil, fmt.Errorf("attribute at offset %d: %d bytes, need 3 for type and length", off, len(b)-off)
		}
		t, n := AttrType(b[off]), int(binary.BigEndian.Uint16(b[off+1:]))
		if n > len(b)-off-3 {
			return nil, fmt.Errorf("attribute %d at offset %d: length %d exceeds %d remaining", t, off, n, len(b)-off-3)
		}
		attrs = append(attrs, Attr{Type: t, Value: b[off+3 : off+3+n]})
		off += 3 + n
	}
	return attrs, nil
}

// Find returns the value of the first attribute of type t.
func Find(attrs []Attr, t AttrType) ([]byte, bool) {
	for _, a := range attrs {
		if a.Type == t {
			return a.Value, true
		}
	}
	return nil, false
}

// FindAll returns the values of every attribute of type t, in order.
func FindAll(attrs []Attr, t AttrType) [][]byte {
	var out [][]byte
	for _, a := range attrs {
		if a.Type == t {
			out = append(out, a.Value)
		}
	}
	return out
}

// fixed returns the value of attribute t when it is exactly n bytes long.
func fixed(attrs []Attr, t AttrType, n int) ([]byte, error) {
	v, ok := Find(attrs, t)
	if !ok {
		return nil, fmt.Errorf("attribute %d missing", t)
	}
	if len(v) != n {
		return nil, fmt.Errorf("attribute %d: length %d, want %d", t, len(v), n)
	}
	return v, nil
}

// Uint8Attr, Uint16Attr and Uint32Attr build fixed-size integer attributes.
func Uint8Attr(t AttrType, v uint8) Attr { return Attr{t, []byte{v}} }

func Uint16Attr(t AttrType, v uint16) Attr { return Attr{t, binary.BigEndian.AppendUint16(nil, v)} }

func Uint32Attr(t AttrType, v uint32) Attr { return Attr{t, binary.BigEndian.AppendUint32(nil, v)} }

// Compound builds an attribute whose value is the given attributes.
func Compound(t AttrType, attrs ...Attr) (Attr, error) {
	v, err := AppendAttrs(nil, attrs)
	if err != nil {
		return Attr{}, fmt.Errorf("attribute %d: %w", t, err)
	}
	return Attr{t, v}, nil
}
