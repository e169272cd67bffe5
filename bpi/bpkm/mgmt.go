package bpkm

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"

	"github.com/leaseguard/leaseguard/bpi"
)

// A MAC management message is a packet PDU-like body after a MAC header
// with FC_TYPE 11, FC_PARM 00001:
//
//	DA (6) | SA (6) | msg LEN (2) | DSAP (1) = 0 | SSAP (1) = 0 |
//	control (1) = 0x03 | version (1) | type (1) | reserved (1) |
//	payload | CRC-32 (4)
//
// msg LEN counts DSAP through the end of the payload, not the CRC.
//
// Checked against Wireshark epan/dissectors/packet-docsis-macmgmt.c
// (dissect_macmgmt, commit 0c8b0164): the field offsets, msg LEN read as
// "DSAP to end" with the payload taken as msg LEN - 6 bytes from byte 20,
// and dissect_bpkmreq/dissect_bpkmrsp flagging a BPKM Length that does
// not fill that payload exactly (so a msg LEN counting the CRC would be
// flagged); Wireshark's field labels give DSAP 0x00, SSAP 0x00, control
// 0x03 (hf_docsis_mgt_dsap/ssap/control in plugins/docsis/
// packet-macmgmt.c). packet-docsis.c (dissect_docsis) passes the frame to
// it for FC_TYPE 11, FC_PARM 1 (FCPARM_MAC_MGMT_HDR). tshark 4.0.17 reads
// our frames so (TestWiresharkReadsBPKM, TestMgmtFrameKnownAnswer).
//
// UNVERIFIED: the trailing CRC-32 (that it is there, and low byte first
// like the packet PDU CRC): Wireshark never reads the bytes after msg LEN.
const (
	mgmtHeaderLen = 20
	mgmtCRCLen    = 4
	// MgmtVersion is the MAC management version BPKM-REQ/RSP carry.
	// UNVERIFIED: Wireshark shows the version byte without judging it
	// (dissect_macmgmt; it treats versions from 5 on as multipart, and the
	// current tree has separate BPKM types 69/70 for version 5). One
	// other public implementation agrees with 1: jcsakai/vnet
	// vnet/docsis/packet.h (foreach_docsis_management_packet_type lists
	// privacy_key_request 12 and privacy_key_response 13 with version 1,
	// commit 3891b5ce), a single unreviewed source. Check
	// CM-SP-MULPIv3.1's message type table.
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
