package bpkm

import (
	"encoding/binary"
	"fmt"
)

// Code is the BPKM message code.
type Code uint8

// BPKM codes. Checked against Wireshark
// epan/dissectors/packet-docsis-macmgmt.c (code_field_vals, commit
// 0c8b0164) and tshark 4.0.17's table (TestWiresharkValueTables).
const (
	AuthRequest  Code = 4
	AuthReply    Code = 5
	AuthReject   Code = 6
	KeyRequest   Code = 7
	KeyReply     Code = 8
	KeyReject    Code = 9
	AuthInvalid  Code = 10
	TEKInvalid   Code = 11
	AuthInfo     Code = 12
	SAMapRequest Code = 13
	SAMapReply   Code = 14
	SAMapReject  Code = 15
)

// MAC management message types that carry BPKM messages. Checked against
// Wireshark epan/dissectors/packet-docsis-macmgmt.c (MGT_BPKM_REQ 12,
// MGT_BPKM_RSP 13, commit 0c8b0164) and tshark 4.0.17's table (TestWiresharkValueTables).
const (
	TypeBPKMReq = 12 // modem to CMTS
	TypeBPKMRsp = 13 // CMTS to modem
)

// MgmtType is the MAC management type a message with this code travels
// in: requests and Auth Info go upstream in BPKM-REQ, the rest in BPKM-RSP.
func (c Code) MgmtType() uint8 {
	switch c {
	case AuthRequest, KeyRequest, AuthInfo, SAMapRequest:
		return TypeBPKMReq
	}
	return TypeBPKMRsp
}

// Message is one BPKM message: Code (1), Identifier (1), Length (2, the
// attribute bytes) and the attributes.
type Message struct {
	Code       Code
	Identifier uint8
	Attrs      []Attr
}

const messageHeaderLen = 4

// Append appends the encoded message.
func (m Message) Append(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, byte(m.Code), m.Identifier, 0, 0)
	b, err := AppendAttrs(b, m.Attrs)
	if err != nil {
		return b[:start], fmt.Errorf("BPKM code %d: %w", m.Code, err)
	}
	n := len(b) - start - messageHeaderLen
	if n > 0xffff {
		return b[:start], fmt.Errorf("BPKM code %d: %d attribute bytes exceed 65535", m.Code, n)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	return b, nil
}

// ParseMessage decodes a BPKM message; bytes after Length are ignored (the
// MAC management CRC, padding). Attribute values alias b.
func ParseMessage(b []byte) (Message, error) {
	if len(b) < messageHeaderLen {
		return Message{}, fmt.Errorf("BPKM message: %d bytes, need %d", len(b), messageHeaderLen)
	}
	m := Message{Code: Code(b[0]), Identifier: b[1]}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n > len(b)-messageHeaderLen {
		return Message{}, fmt.Errorf("BPKM code %d: length %d exceeds %d remaining", m.Code, n, len(b)-messageHeaderLen)
	}
	attrs, err := ParseAttrs(b[messageHeaderLen : messageHeaderLen+n])
	if err != nil {
		return Message{}, fmt.Errorf("BPKM code %d: %w", m.Code, err)
	}
	m.Attrs = attrs
	return m, nil
}
