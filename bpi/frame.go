package bpi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// A downstream packet PDU is the Ethernet frame (DA, SA, type/length, user
// data) followed by a CRC-32 over DA..end of user data, stored low byte
// first like an Ethernet FCS. With privacy, the CMTS computes the CRC, then
// encrypts from byte 12 (after DA and SA) through the CRC.
const (
	ethHeaderLen = 14
	pduCRCLen    = 4
	encryptFrom  = 12
	// MinEthernetLen is the shortest Ethernet frame (no FCS) a PDU carries.
	MinEthernetLen = ethHeaderLen
	// DownstreamOverhead is what AppendDownstream adds to an Ethernet
	// frame with privacy: MAC header, privacy element and PDU CRC.
	DownstreamOverhead = minHeaderLen + 1 + privacyEHLen + pduCRCLen
)

// ErrCRC means the PDU CRC did not match: corruption, or a frame encrypted
// with a key other than the one used to decrypt it.
var ErrCRC = errors.New("PDU CRC mismatch")

// AppendDownstream appends to b the DOCSIS MAC frame carrying eth (an
// Ethernet frame without FCS). With a TEK the frame carries a privacy
// element for said and is encrypted; with tek nil it goes in clear without
// an extended header.
func AppendDownstream(b, eth []byte, said uint16, tek *TEK) ([]byte, error) {
	b, from, err := appendPDU(b, eth, said, tek)
	if err == nil && tek != nil {
		tek.Encrypt(b[from:])
	}
	return b, err
}

// appendPDU appends the frame AppendDownstream makes, not yet encrypted,
// and returns where the region to encrypt starts.
func appendPDU(b, eth []byte, said uint16, tek *TEK) ([]byte, int, error) {
	if len(eth) < MinEthernetLen {
		return b, 0, fmt.Errorf("downstream PDU: Ethernet frame of %d bytes, need %d", len(eth), MinEthernetLen)
	}
	var (
		ehdrBuf [1 + privacyEHLen]byte
		ehdr    []byte
	)
	if tek != nil {
		if said == 0 || said > MaxSAID {
			return b, 0, fmt.Errorf("downstream PDU: SAID %d outside 1-%d", said, MaxSAID)
		}
		ehdr = PrivacyEH{KeySeq: tek.Seq, Version: PrivacyVersion, Enable: true,
			Toggle: tek.Seq&1 == 1, SAID: said}.Append(ehdrBuf[:0])
	}
	b, err := AppendHeader(b, FCTypePacket, 0, ehdr, len(eth)+pduCRCLen)
	if err != nil {
		return b, 0, err
	}
	pdu := len(b)
	b = append(b, eth...)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[pdu:]))
	return b, pdu + encryptFrom, nil
}

// Downstream is a parsed downstream packet-PDU frame; PDU aliases the
// parsed buffer.
type Downstream struct {
	Privacy    PrivacyEH // valid when HasPrivacy
	HasPrivacy bool
	PDU        []byte // Ethernet frame and CRC, encrypted when Privacy.Enable
}

// Encrypted reports whether the PDU needs decrypting.
func (d Downstream) Encrypted() bool { return d.HasPrivacy && d.Privacy.Enable }

// ParseDownstream parses a DOCSIS MAC frame carrying a packet PDU.
func ParseDownstream(b []byte) (Downstream, error) {
	var d Downstream
	h, err := ParseHeader(b)
	if err != nil {
		return d, err
	}
	if h.FCType != FCTypePacket {
		return d, fmt.Errorf("downstream PDU: FC_TYPE %d is not a packet PDU", h.FCType)
	}
	if len(h.Payload) < MinEthernetLen+pduCRCLen {
		return d, fmt.Errorf("downstream PDU: %d bytes, need %d", len(h.Payload), MinEthernetLen+pduCRCLen)
	}
	body, found, err := FindEH(h.EHDR, EHDownstreamPrivacy)
	if err != nil {
		return d, fmt.Errorf("downstream PDU: %w", err)
	}
	if found {
		if d.Privacy, err = ParsePrivacyEH(body); err != nil {
			return d, fmt.Errorf("downstream PDU: %w", err)
		}
		d.HasPrivacy = true
	}
	d.PDU = h.Payload
	return d, nil
}

// Open decrypts the PDU in place with tek when it is encrypted (tek may be
// nil for a clear PDU), checks the CRC and returns the Ethernet frame.
func (d Downstream) Open(tek *TEK) ([]byte, error) {
	if d.Encrypted() {
		if tek == nil {
			return nil, fmt.Errorf("downstream PDU SAID %d key %d: %w", d.Privacy.SAID, d.Privacy.KeySeq, ErrNoKey)
		}
		tek.Decrypt(d.PDU[encryptFrom:])
	}
	n := len(d.PDU) - pduCRCLen
	if got, want := binary.LittleEndian.Uint32(d.PDU[n:]), crc32.ChecksumIEEE(d.PDU[:n]); got != want {
		return nil, fmt.Errorf("downstream PDU: CRC %#08x, computed %#08x: %w", got, want, ErrCRC)
	}
	return d.PDU[:n], nil
}
