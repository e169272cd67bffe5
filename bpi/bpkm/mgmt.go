package bpkm

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"

	"github.com/leaseguard/leaseguard/bpi"
)

// A MAC management message is a packet PDU-like body after a MAC header
// with FC_TYPE 11, FC_PARM 00001 (Wireshark packet-docsis-mgmt.c):
//
//	DA (6) | SA (6) | msg LEN (2) | DSAP (1) = 0 | SSAP (1) = 0 |
//	control (1) = 0x03 | version (1) | type (1) | reserved (1) |
//	payload | CRC-32 (4)
//
// msg LEN counts DSAP through the end of the payload. UNVERIFIED: that
// LEN excludes the CRC, that the CRC is stored low byte first like the
// packet PDU CRC, and that BPKM uses version 1.
const (
	mgmtHeaderLen = 20
	mgmtCRCLen    = 4
	// MgmtVersion is the MAC management version BPKM messages carry.
	// UNVERIFIED.
	MgmtVersion = 1
	// FCMgmt is the MAC header FC_PARM of a MAC management message.
	FCMgmt = 1
)

// Mgmt is a decoded MAC management message; Payload aliases the parsed
// buffer.
type Mgmt struct {
	DA, SA  net.HardwareAddr
	Version uint8
	Type    uint8
	Payload []byte
}

// AppendMgmt appends the management message (without the DOCSIS MAC
// header, which bpi.AppendHeader adds).
func AppendMgmt(b []byte, m Mgmt) ([]byte, error) {
	if len(m.DA) != 6 || len(m.SA) != 6 {
		return b, fmt.Errorf("MAC management type %d: addresses must be 6 bytes", m.Type)
	}
	n := 6 + len(m.Payload)
	if n > 0xffff {
		return b, fmt.Errorf("MAC management type %d: LEN %d exceeds 65535", m.Type, n)
	}
	start := len(b)
	b = append(b, m.DA...)
	b = append(b, m.SA...)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, 0, 0, 0x03, m.Version, m.Type, 0)
	b = append(b, m.Payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:])), nil
}

// ParseMgmt decodes a management message and checks its CRC.
func ParseMgmt(b []byte) (Mgmt, error) {
	if len(b) < mgmtHeaderLen+mgmtCRCLen {
		return Mgmt{}, fmt.Errorf("MAC management message: %d bytes, need %d", len(b), mgmtHeaderLen+mgmtCRCLen)
	}
	n := int(binary.BigEndian.Uint16(b[12:14]))
	if n < 6 || 14+n+mgmtCRCLen > len(b) {
		return Mgmt{}, fmt.Errorf("MAC management message: LEN %d does not fit %d bytes", n, len(b))
	}
	if b[14] != 0 || b[15] != 0 || b[16] != 0x03 {
		return Mgmt{}, fmt.Errorf("MAC management message: LLC %x, want 000003", b[14:17])
	}
	end := 14 + n
	if got, want := binary.LittleEndian.Uint32(b[end:]), crc32.ChecksumIEEE(b[:end]); got != want {
		return Mgmt{}, fmt.Errorf("MAC management type %d: CRC %#08x, computed %#08x", b[18], got, want)
	}
	return Mgmt{DA: net.HardwareAddr(b[0:6]), SA: net.HardwareAddr(b[6:12]), Version: b[17], Type: b[18],
		Payload: b[mgmtHeaderLen:end]}, nil
}

// AppendMgmtFrame appends a whole DOCSIS MAC frame carrying m: the MAC
// header (FC_TYPE 11, FC_PARM 00001, no extended header) then the
// management message.
func AppendMgmtFrame(b []byte, m Mgmt) ([]byte, error) {
	body, err := AppendMgmt(nil, m)
	if err != nil {
		return b, err
	}
	b, err = bpi.AppendHeader(b, bpi.FCTypeMACSpecific, FCMgmt, nil, len(body))
	if err != nil {
		return b, err
	}
	return append(b, body...), nil
}

// ParseMgmtFrame parses a DOCSIS MAC frame carrying a management message.
func ParseMgmtFrame(b []byte) (Mgmt, error) {
	h, err := bpi.ParseHeader(b)
	if err != nil {
		return Mgmt{}, err
	}
	if h.FCType != bpi.FCTypeMACSpecific || h.FCParm != FCMgmt {
		return Mgmt{}, fmt.Errorf("MAC frame FC_TYPE %d FC_PARM %d is not a management message", h.FCType, h.FCParm)
	}
	return ParseMgmt(h.Payload)
}
