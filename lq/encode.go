package lq

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// newMessage returns the fixed header and magic cookie of a message, with
// room for a typical option list.
func newMessage(op OpCode, xid uint32) []byte {
	b := make([]byte, offOptions, DefaultMaxLen)
	b[offOp] = uint8(op)
	binary.BigEndian.PutUint32(b[offXID:], xid)
	copy(b[offCookie:], magicCookie[:])
	return b
}

// appendOption appends one option, split into 255-octet instances when
// longer (RFC 3396 §4).
func appendOption(b []byte, code uint8, data []byte) []byte {
	if len(data) == 0 {
		return append(b, code, 0)
	}
	for len(data) > 0 {
		n := min(len(data), 255)
		b = append(b, code, uint8(n))
		b = append(b, data[:n]...)
		data = data[n:]
	}
	return b
}

// appendSeconds appends a 4-octet seconds option; sub-second parts are
// truncated.
func appendSeconds(b []byte, code uint8, d time.Duration) ([]byte, error) {
	s := d / time.Second
	if s < 0 || s > math.MaxUint32 {
		return b, fmt.Errorf("option %d: %v out of range 0..%d s", code, d, uint32(math.MaxUint32))
	}
	return appendOption(b, code, binary.BigEndian.AppendUint32(nil, uint32(s))), nil
}

// finishMessage appends END and pads to the BOOTP minimum, as ISC dhcpd
// and dhclient do: some relays drop shorter messages.
func finishMessage(b []byte) []byte {
	b = append(b, OptEnd)
	if len(b) < MinLen {
		b = append(b, make([]byte, MinLen-len(b))...)
	}
	return b
}

// putAddr writes an IPv4 address field; the zero Addr leaves 0.0.0.0.
func putAddr(b []byte, off int, field string, a netip.Addr) error {
	if !a.IsValid() {
		return nil
	}
	if !a.Is4() {
		return fmt.Errorf("%s: %v is not an IPv4 address", field, a)
	}
	a4 := a.As4()
	copy(b[off:off+4], a4[:])
	return nil
}

// putCHAddr writes htype, hlen and chaddr.
func putCHAddr(b []byte, htype uint8, hw []byte) error {
	if len(hw) > chaddrLen {
		return fmt.Errorf("chaddr: %d octets exceeds %d", len(hw), chaddrLen)
	}
	b[offHType] = htype
	b[offHLen] = uint8(len(hw))
	copy(b[offCHAddr:], hw)
	return nil
}

// unsetIfZero maps 0.0.0.0 to the zero Addr, the "field not set" of the
// decoded types.
func unsetIfZero(a netip.Addr) netip.Addr {
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

// seconds decodes a 4-octet seconds option.
func seconds(code uint8, v []byte) (time.Duration, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("option %d: length %d, want 4", code, len(v))
	}
	return time.Duration(binary.BigEndian.Uint32(v)) * time.Second, nil
}
