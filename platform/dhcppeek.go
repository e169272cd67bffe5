package platform

import (
	"errors"
	"fmt"

	"github.com/leaseguard/leaseguard/lq"
)

// BOOTP op codes (RFC 951).
const (
	opBootRequest = 1
	opBootReply   = 2
)

// Fixed-format BOOTP layout (RFC 2131 §2): field offsets and the length of
// the fixed part plus the magic cookie, where options begin.
const (
	offFlags   = 10
	offCIAddr  = 12
	offYIAddr  = 16
	offGIAddr  = 24
	offCHAddr  = 28
	offSName   = 44
	offFile    = 108
	offCookie  = 236
	offOptions = 240

	flagBroadcast = 0x8000
)

var magicCookie = [4]byte{99, 130, 83, 99}

// DHCP option codes the peek needs.
const (
	optPad         = 0
	optOverload    = 52
	optMessageType = 53
	optEnd         = 255
)

// errShort is returned for a message too short for the BOOTP header.
var errShort = errors.New("dhcp: shorter than the 236-octet BOOTP header")

// Peek returns the op code (1 BOOTREQUEST, 2 BOOTREPLY) and the DHCP
// message type (option 53) of the BOOTP/DHCP message b, without
// allocating. A plain BOOTP message (no magic cookie) or a DHCP message
// without option 53 has type 0. It honours option overload (option 52),
// which may move option 53 into the file or sname field.
//
// It exists because the demultiplexer needs only these two fields; once
// lq.ParsePacket (being written) is settled, this should become a call to
// it, provided that stays allocation-free.
func Peek(b []byte) (op byte, t lq.MessageType, err error) {
	if len(b) < offCookie {
		return 0, 0, errShort
	}
	op = b[0]
	if op != opBootRequest && op != opBootReply {
		return 0, 0, fmt.Errorf("dhcp: op %d is neither BOOTREQUEST nor BOOTREPLY", op)
	}
	if hlen := b[2]; hlen > 16 {
		return 0, 0, fmt.Errorf("dhcp: hlen %d exceeds the 16-octet chaddr field", hlen)
	}
	if len(b) < offOptions || [4]byte(b[offCookie:offOptions]) != magicCookie {
		return op, 0, nil // plain BOOTP (RFC 951): no options
	}
	t, overload, err := scanOptions(b[offOptions:], "options")
	if err != nil || t != 0 {
		return op, t, err
	}
	// RFC 2131 §4.1: with overload, the file field is read before sname.
	if overload&1 != 0 {
		if t, _, err = scanOptions(b[offFile:offCookie], "file"); err != nil || t != 0 {
			return op, t, err
		}
	}
	if overload&2 != 0 {
		t, _, err = scanOptions(b[offSName:offFile], "sname")
	}
	return op, t, err
}

// scanOptions walks one option area for options 53 and 52. An area may
// end without an end option (the rest is padding) but an option may not
// run past it.
func scanOptions(b []byte, area string) (t lq.MessageType, overload byte, err error) {
	for i := 0; i < len(b); {
		code := b[i]
		switch code {
		case optPad:
			i++
			continue
		case optEnd:
			return t, overload, nil
		}
		if i+1 >= len(b) || i+2+int(b[i+1]) > len(b) {
			return 0, 0, fmt.Errorf("dhcp %s: option %d at offset %d runs past the end", area, code, i)
		}
		n := int(b[i+1])
		if n == 1 && code == optMessageType && t == 0 {
			t = lq.MessageType(b[i+2])
		}
		if n == 1 && code == optOverload {
			overload = b[i+2]
		}
		i += 2 + n
	}
	return t, overload, nil
}
