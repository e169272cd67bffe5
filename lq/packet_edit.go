package lq

import (
	"errors"
	"fmt"
	"net/netip"
)

// Errors from the packet edits the relay branches on: RFC 3046 §2.1 has a
// relay forward the message without option 82 (and count it) when the
// option cannot be added.
var (
	// ErrNoRoom: adding option 82 would exceed the length limit or the
	// buffer's capacity.
	ErrNoRoom = errors.New("no room for option 82")
	// ErrNoOptions: the message is plain BOOTP, without the magic cookie.
	ErrNoOptions = errors.New("BOOTP message without an options field")
	// ErrAgentInfoPresent: the message already carries option 82, so the
	// relay's policy (RFC 3046 §2.1.1) must decide first.
	ErrAgentInfoPresent = errors.New("option 82 already present")
)

// SetGIAddr writes the relay agent address field.
func (p *Packet) SetGIAddr(a netip.Addr) error {
	if !a.Is4() {
		return fmt.Errorf("set giaddr: %v is not an IPv4 address", a)
	}
	if len(p.b) < HeaderLen {
		return errors.New("set giaddr: empty packet")
	}
	a4 := a.As4()
	copy(p.b[offGIAddr:], a4[:])
	return nil
}

// IncHops increments the hop count and returns the new value. It refuses
// to wrap past 255; the relay's own limit (RFC 1542 §4.1.1: at most 16)
// should have dropped the message long before.
func (p *Packet) IncHops() (uint8, error) {
	if len(p.b) < HeaderLen {
		return 0, errors.New("increment hops: empty packet")
	}
	h := p.b[offHops]
	if h == 255 {
		return h, errors.New("increment hops: already 255")
	}
	p.b[offHops] = h + 1
	return h + 1, nil
}

// AddAgentInfo inserts option 82 with the given payload (encoded
// sub-options, as from AgentInfo.Marshal) just before END, the last
// position RFC 3046 §2.1 asks for, and moves END after it. The option
// first fills the padding that follows END; the message grows only when
// that is not enough, and never beyond maxLen (0 means DefaultMaxLen) nor
// the buffer's capacity. On any error the packet is unchanged.
//
// RFC deviation: RFC 3046 §2.1 puts option 82 last. With option overload
// (rare in client messages) it lands at the end of the options field, and
// the options in the overloaded file and sname fields follow it in
// reading order; moving them is not worth it on the hot path.
func (p *Packet) AddAgentInfo(payload []byte, maxLen int) error {
	if !p.dhcp {
		return ErrNoOptions
	}
	if len(payload) > 255 {
		return fmt.Errorf("add option 82: payload %d octets exceeds 255", len(payload))
	}
	if _, ok := p.Option(OptAgentInfo); ok {
		return ErrAgentInfoPresent
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	at := len(p.b)
	if p.end >= 0 {
		at = p.end
	}
	newEnd := at + 2 + len(payload)
	newLen := max(len(p.b), newEnd+1)
	if newLen > len(p.b) && (newLen > maxLen || newLen > cap(p.b)) {
		return ErrNoRoom
	}
	b := p.b[:newLen]
	b[at] = OptAgentInfo
	b[at+1] = uint8(len(payload))
	copy(b[at+2:], payload)
	b[newEnd] = OptEnd
	clear(b[newEnd+1:])
	p.b, p.end = b, newEnd
	return nil
}

// StripAgentInfo removes every option 82 instance, as a relay does before
// forwarding a server's reply to the client (RFC 3046 §2.2). Read the
// option (SubOption, Option) before stripping: the bytes move. In the
// options field the remaining options close up, END follows them and the
// message shrinks, though not below the BOOTP minimum if it was at least
// that long; in overloaded fixed fields the freed octets become PAD. It
// reports whether anything was removed.
func (p *Packet) StripAgentInfo() bool {
	if !p.dhcp {
		return false
	}
	removed := false
	if p.overload&1 != 0 {
		removed = compactFixed(p.b[offFile:offCookie]) || removed
	}
	if p.overload&2 != 0 {
		removed = compactFixed(p.b[offSName:offFile]) || removed
	}
	main := p.mainArea()
	n := compactOptions(main, OptAgentInfo)
	if n == len(main) {
		return removed
	}
	newEnd := offOptions + n
	newLen := newEnd + 1
	if len(p.b) >= MinLen {
		newLen = max(newLen, MinLen)
	}
	p.b[newEnd] = OptEnd
	clear(p.b[newEnd+1 : newLen])
	p.b, p.end = p.b[:newLen], newEnd
	return true
}

// compactFixed strips option 82 from an overloaded fixed field and pads
// the rest, keeping any END in place after the remaining options.
func compactFixed(a []byte) bool {
	end, err := scanOptions(a, 0, "")
	if err != nil {
		return false // ParsePacket checked the field; unreachable
	}
	area := a
	if end >= 0 {
		area = a[:end]
	}
	n := compactOptions(area, OptAgentInfo)
	if n == len(area) {
		return false
	}
	if end >= 0 {
		a[n] = OptEnd
		n++
	}
	clear(a[n:])
	return true
}

// compactOptions removes every instance of code from a well-formed area
// (without END) by moving later options forward, and returns the new
// length. PAD octets are kept.
func compactOptions(a []byte, code uint8) int {
	w := 0
	for r := 0; r < len(a); {
		n := 1
		if a[r] != OptPad && r+1 < len(a) {
			n = min(2+int(a[r+1]), len(a)-r)
		}
		if a[r] != code {
			w += copy(a[w:], a[r:r+n])
		}
		r += n
	}
	return w
}
