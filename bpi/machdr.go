package bpi

import (
	"encoding/binary"
	"fmt"
)

// DOCSIS MAC header (Wireshark packet-docsis.c, MULPI "MAC Header Format"):
//
//	FC (1) | MAC_PARM (1) | LEN (2, big-endian) | EHDR (MAC_PARM bytes) | HCS (2)
//
// FC holds FC_TYPE in bits 7-6, FC_PARM in bits 5-1 and EHDR_ON in bit 0.
// When EHDR_ON is set MAC_PARM is the extended header length. LEN counts
// the extended header and everything after the HCS (as Wireshark reads it:
// payload length = LEN - MAC_PARM).
const (
	minHeaderLen = 6
	fcEHDROn     = 0x01
	// FCTypePacket is FC_TYPE 00, a packet PDU (an Ethernet frame).
	FCTypePacket = 0
	// FCTypeMACSpecific is FC_TYPE 11: timing, management, request,
	// fragmentation and concatenation headers.
	FCTypeMACSpecific = 3
)

// Header is a parsed DOCSIS MAC header. EHDR and Payload alias the parsed
// buffer.
type Header struct {
	FCType  uint8  // 0-3
	FCParm  uint8  // 0-31
	EHDR    []byte // extended header elements; nil when EHDR_ON is clear
	MACParm uint8  // MAC_PARM as sent (the EHDR length when EHDR_ON is set)
	Payload []byte // the LEN - len(EHDR) bytes after the HCS
}

// HeaderLen is the length of the MAC header with an extended header of
// ehdrLen bytes.
func HeaderLen(ehdrLen int) int { return minHeaderLen + ehdrLen }

// AppendHeader appends a MAC header for a frame whose payload (the bytes
// after the HCS) is payloadLen long. A non-nil ehdr sets EHDR_ON.
func AppendHeader(b []byte, fcType, fcParm uint8, ehdr []byte, payloadLen int) ([]byte, error) {
	if len(ehdr) > 255 {
		return b, fmt.Errorf("MAC header: extended header of %d bytes exceeds 255", len(ehdr))
	}
	if n := len(ehdr) + payloadLen; n > 0xffff {
		return b, fmt.Errorf("MAC header: LEN %d exceeds 65535", n)
	}
	start := len(b)
	fc := fcType<<6 | (fcParm&0x1f)<<1
	macParm := uint8(0)
	if ehdr != nil {
		fc |= fcEHDROn
		macParm = uint8(len(ehdr))
	}
	b = append(b, fc, macParm)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ehdr)+payloadLen))
	b = append(b, ehdr...)
	return appendHCS(b, crc16X25(b[start:])), nil
}

// ParseHeader parses the MAC header at the start of b and checks its HCS.
// Bytes after LEN (link padding) are ignored.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < minHeaderLen {
		return h, fmt.Errorf("MAC header: %d bytes, need %d", len(b), minHeaderLen)
	}
	fc := b[0]
	h.FCType, h.FCParm, h.MACParm = fc>>6, fc>>1&0x1f, b[1]
	length := int(binary.BigEndian.Uint16(b[2:4]))
	ehdrLen := 0
	if fc&fcEHDROn != 0 {
		ehdrLen = int(h.MACParm)
	}
	if ehdrLen > length {
		return h, fmt.Errorf("MAC header: EHDR length %d exceeds LEN %d", ehdrLen, length)
	}
	hcsAt := 4 + ehdrLen
	if len(b) < hcsAt+2 {
		return h, fmt.Errorf("MAC header: %d bytes, EHDR of %d needs %d", len(b), ehdrLen, hcsAt+2)
	}
	if got, want := hcsOf(b[hcsAt:]), crc16X25(b[:hcsAt]); got != want {
		return h, fmt.Errorf("MAC header: HCS %#04x, computed %#04x", got, want)
	}
	end := 4 + length + 2
	if len(b) < end {
		return h, fmt.Errorf("MAC header: LEN %d exceeds the %d bytes after it", length, len(b)-4)
	}
	if fc&fcEHDROn != 0 {
		h.EHDR = b[4:hcsAt]
	}
	h.Payload = b[hcsAt+2 : end]
	return h, nil
}

// The HCS is CRC-CCITT (x^16 + x^12 + x^5 + 1) as in ITU-T X.25: reflected,
// initial value 0xffff, complemented result ("CRC-16/X-25"), over FC
// through the end of the extended header, stored low byte first.
//
// Checked against Wireshark epan/dissectors/packet-docsis.c
// (dissect_hcs_field, commit 017d6152; the same code in
// plugins/epan/docsis/packet-docsis.c, commit d2d1f793) and
// wsutil/crc16.c (crc16_ccitt, commit 000ebcb0): the HCS covers the
// header up to itself, the CRC is the reflected 0x1021 table with seed and
// final XOR 0xffff, and the field is read big-endian and compared with
// g_ntohs(crc), i.e. low byte first on the little-endian hosts tshark runs
// on (on a big-endian host that dissector would expect the other order: the
// confirmation rests on its little-endian behaviour, which is also the X.25
// convention of sending the FCS low-order byte first). tshark 4.0.17
// reports our headers "[correct]" and rejects a wrong or byte-swapped HCS
// (TestWiresharkReadsDownstream, TestMACHeaderKnownAnswer). Not checked
// against CM-SP-MULPIv3.1 itself.
func crc16X25(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, c := range b {
		crc = crc>>8 ^ crc16Table[byte(crc)^c]
	}
	return ^crc
}

func appendHCS(b []byte, hcs uint16) []byte { return binary.LittleEndian.AppendUint16(b, hcs) }

func hcsOf(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

var crc16Table = func() (t [256]uint16) {
	const poly = 0x8408 // 0x1021 reflected
	for i := range t {
		crc := uint16(i)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ poly
			} else {
				crc >>= 1
			}
		}
		t[i] = crc
	}
	return t
}()
