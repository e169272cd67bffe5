// Package rflink carries DOCSIS MAC frames over an Ethernet link (a veth or
// TAP standing in for the RF plant), and raw Ethernet frames to and from
// CPE-facing links, through AF_PACKET sockets.
//
// # Encapsulation
//
// Each DOCSIS MAC frame travels in one Ethernet frame:
//
//	destination  ff:ff:ff:ff:ff:ff   (the downstream is a broadcast medium)
//	source       the sending interface's MAC
//	EtherType    0x88B5              (IEEE 802 Local Experimental EtherType 1)
//	payload      the DOCSIS MAC frame: FC, MAC_PARM, LEN, EHDR, HCS, PDU
//
// The DOCSIS LEN field delimits the MAC frame, so the padding Ethernet adds
// to short frames is ignored. A full-size downstream frame (1518-byte
// Ethernet frame with an 802.1Q tag, 4-byte PDU CRC, 6-byte MAC header and
// 5-byte privacy element) needs a link MTU of at least 1533: set the RF
// link's MTU to 1600.
package rflink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// EtherType is the IEEE 802 local experimental EtherType that marks a
// DOCSIS MAC frame on the virtual RF link.
const EtherType = 0x88B5

// MinMTU is the smallest RF link MTU that carries every downstream frame.
const MinMTU = 1533

const ethHeaderLen = 14

// Broadcast is the destination of every frame on the RF link.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ErrNotDOCSIS: the Ethernet frame does not carry the DOCSIS EtherType.
var ErrNotDOCSIS = errors.New("not a DOCSIS encapsulation frame")

// Encapsulate appends to b the Ethernet frame carrying the DOCSIS MAC
// frame, sent from src.
func Encapsulate(b []byte, src net.HardwareAddr, docsis []byte) []byte {
	b = append(b, Broadcast...)
	b = append(b, src[:6]...)
	b = binary.BigEndian.AppendUint16(b, EtherType)
	return append(b, docsis...)
}

// Decapsulate returns the payload of an RF link Ethernet frame (the DOCSIS
// MAC frame, possibly followed by link padding).
func Decapsulate(eth []byte) ([]byte, error) {
	if len(eth) < ethHeaderLen {
		return nil, fmt.Errorf("RF link frame of %d bytes: %w", len(eth), ErrNotDOCSIS)
	}
	if t := binary.BigEndian.Uint16(eth[12:14]); t != EtherType {
		return nil, fmt.Errorf("RF link frame EtherType %#04x: %w", t, ErrNotDOCSIS)
	}
	return eth[ethHeaderLen:], nil
}
