package bpi

import "fmt"

// Extended header element types (high nibble of the element's first byte;
// the low nibble is the element length).
const (
	EHUpstreamPrivacy   = 3
	EHDownstreamPrivacy = 4
)

// privacyEHLen is the length of the downstream privacy element body.
const privacyEHLen = 4

// PrivacyVersion is the BPI+ version carried in the privacy element.
// UNVERIFIED: Wireshark (packet-docsis.c, hf_docsis_ehdr_ver) shows the
// 4-bit field but has no table of its values, so nothing public here says
// that BPI+ puts 1 there; check CM-SP-SECv3.1.
const PrivacyVersion = 1

// PrivacyEH is the downstream privacy extended header element (type 4,
// length 4):
//
//	byte 1: KEY_SEQ (bits 7-4) | VERSION (bits 3-0)
//	bytes 2-3: ENABLE (0x8000) | TOGGLE (0x4000) | SAID (14 bits)
//	byte 4: reserved
//
// Checked against Wireshark epan/dissectors/packet-docsis.c (dissect_ehdr,
// case EH_BP_DOWN, and the masks of hf_docsis_key_seq 0xF0,
// hf_docsis_ehdr_ver 0x0F, hf_docsis_bpi_en 0x80, hf_docsis_toggle_bit
// 0x40, hf_docsis_said 0x3FFF over bytes 2-3, hf_docsis_reserved on byte
// 4; commit 017d6152): type 4, length 4, this layout and a 14-bit SAID.
// tshark 4.0.17 reads our elements back field for field, every key
// sequence, SAIDs 1 to MaxSAID (TestWiresharkReadsDownstream).
type PrivacyEH struct {
	KeySeq  uint8 // 0-15
	Version uint8 // 0-15
	Enable  bool  // the PDU is encrypted
	// Toggle marks an odd (true) or even key; we send the low bit of
	// KeySeq. UNVERIFIED: the bit's position is checked (above) and
	// Wireshark labels it "Odd Key"/"Even Key" (odd_even_tfs), which fits
	// the low bit of the sequence, but no public source ties it to KEY_SEQ;
	// check CM-SP-SECv3.1.
	Toggle bool
	SAID   uint16
}

// MaxSAID is the largest 14-bit SAID (Wireshark's hf_docsis_said mask
// 0x3FFF, see PrivacyEH).
const MaxSAID = 1<<14 - 1

// Append appends the element, type/length byte included.
func (p PrivacyEH) Append(b []byte) []byte {
	hi := uint8(p.SAID>>8) & 0x3f
	if p.Enable {
		hi |= 0x80
	}
	if p.Toggle {
		hi |= 0x40
	}
	return append(b, EHDownstreamPrivacy<<4|privacyEHLen, p.KeySeq<<4|p.Version&0x0f, hi, uint8(p.SAID), 0)
}

// ParsePrivacyEH decodes a privacy element body (the bytes after the
// type/length byte).
func ParsePrivacyEH(body []byte) (PrivacyEH, error) {
	if len(body) != privacyEHLen {
		return PrivacyEH{}, fmt.Errorf("privacy EH: length %d, want %d", len(body), privacyEHLen)
	}
	return PrivacyEH{
		KeySeq:  body[0] >> 4,
		Version: body[0] & 0x0f,
		Enable:  body[1]&0x80 != 0,
		Toggle:  body[1]&0x40 != 0,
		SAID:    uint16(body[1]&0x3f)<<8 | uint16(body[2]),
	}, nil
}

// FindEH walks the extended header elements and returns the body of the
// first element of type typ.
func FindEH(ehdr []byte, typ uint8) (body []byte, found bool, err error) {
	for i := 0; i < len(ehdr); {
		t, l := ehdr[i]>>4, int(ehdr[i]&0x0f)
		if i+1+l > len(ehdr) {
			return nil, false, fmt.Errorf("EHDR element %d at offset %d: length %d exceeds %d remaining", t, i, l, len(ehdr)-i-1)
		}
		if t == typ {
			return ehdr[i+1 : i+1+l], true, nil
		}
		i += 1 + l
	}
	return nil, false, nil
}
