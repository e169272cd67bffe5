package lq

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
)

// DeviceClass is the DOCSIS device class sub-option (RFC 3256 §3): a
// 32-bit field in network order whose bit 0 (the least significant) marks
// a CPE-controlled cable modem; the other bits are reserved.
type DeviceClass uint32

// DeviceClassCCCM is bit 0 of DeviceClass: CPE Controlled Cable Modem.
const DeviceClassCCCM DeviceClass = 1 << 0

// CCCM reports whether the modem is CPE-controlled.
func (c DeviceClass) CCCM() bool { return c&DeviceClassCCCM != 0 }

// ParseAgentInfo decodes the payload of option 82 (RFC 3046 §2.0) into its
// sub-options in wire order. Unknown sub-options are kept raw and no
// format is enforced here (see Validate), so that Marshal gives back b
// exactly. The result owns its memory: b is copied once.
func ParseAgentInfo(b []byte) (AgentInfo, error) {
	if _, err := countSubOptions(b); err != nil {
		return nil, err
	}
	return splitAgentInfo(bytes.Clone(b))
}

// countSubOptions checks the sub-option encoding and counts them.
func countSubOptions(b []byte) (int, error) {
	n := 0
	for i := 0; i < len(b); n++ {
		if i+1 >= len(b) {
			return 0, fmt.Errorf("option 82 sub-option %d at offset %d: length octet missing", b[i], i)
		}
		l := int(b[i+1])
		if rest := len(b) - i - 2; l > rest {
			return 0, fmt.Errorf("option 82 sub-option %d at offset %d: length %d exceeds %d remaining", b[i], i, l, rest)
		}
		i += 2 + l
	}
	return n, nil
}

// splitAgentInfo decodes b in place: the sub-options alias b.
func splitAgentInfo(b []byte) (AgentInfo, error) {
	n, err := countSubOptions(b)
	if err != nil || n == 0 {
		return nil, err
	}
	ai := make(AgentInfo, 0, n)
	for i := 0; i < len(b); {
		j := i + 2 + int(b[i+1])
		ai = append(ai, SubOption{Code: b[i], Data: b[i+2 : j : j]})
		i = j
	}
	return ai, nil
}

// LookupSubOption returns the first sub-option code in a raw option 82
// payload without allocating; it stops at the first malformed sub-option.
func LookupSubOption(raw []byte, code uint8) ([]byte, bool) {
	for i := 0; i+1 < len(raw); {
		j := i + 2 + int(raw[i+1])
		if j > len(raw) {
			return nil, false
		}
		if raw[i] == code {
			return raw[i+2 : j : j], true
		}
		i = j
	}
	return nil, false
}

// Marshal encodes the sub-options in order: the payload of option 82.
func (a AgentInfo) Marshal() ([]byte, error) {
	n := 0
	for _, s := range a {
		n += 2 + len(s.Data)
	}
	return a.AppendTo(make([]byte, 0, n))
}

// AppendTo appends the encoded sub-options to dst. On error dst comes back
// unchanged.
func (a AgentInfo) AppendTo(dst []byte) ([]byte, error) {
	start := len(dst)
	for _, s := range a {
		if len(s.Data) > 255 {
			return dst[:start], fmt.Errorf("option 82 sub-option %d: %d octets exceeds 255", s.Code, len(s.Data))
		}
		dst = append(dst, s.Code, uint8(len(s.Data)))
		dst = append(dst, s.Data...)
	}
	return dst, nil
}

// Get returns the data of the first sub-option code.
func (a AgentInfo) Get(code uint8) ([]byte, bool) {
	for _, s := range a {
		if s.Code == code {
			return s.Data, true
		}
	}
	return nil, false
}

// valid returns the first sub-option code when it is well-formed.
func (a AgentInfo) valid(code uint8) ([]byte, bool) {
	v, ok := a.Get(code)
	if !ok || checkSubOption(code, v) != nil {
		return nil, false
	}
	return v, true
}

// CircuitID is sub-option 1 (RFC 3046 §2.1.1); ok is false when it is
// absent or empty.
func (a AgentInfo) CircuitID() ([]byte, bool) { return a.valid(SubCircuitID) }

// RemoteID is sub-option 2 (RFC 3046 §2.1.2); for DOCSIS, the modem's MAC.
func (a AgentInfo) RemoteID() ([]byte, bool) { return a.valid(SubRemoteID) }

// RelayID is sub-option 12 (RFC 6925), an opaque identifier of the relay.
func (a AgentInfo) RelayID() ([]byte, bool) { return a.valid(SubRelayID) }

// DeviceClass is sub-option 4 (RFC 3256).
func (a AgentInfo) DeviceClass() (DeviceClass, bool) {
	v, ok := a.valid(SubDeviceClass)
	if !ok {
		return 0, false
	}
	return DeviceClass(uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])), true
}

// LinkSelection is sub-option 5 (RFC 3527): the subnet the client is on,
// for a server that cannot use giaddr to find it.
func (a AgentInfo) LinkSelection() (netip.Addr, bool) { return a.addr(SubLinkSelection) }

// ServerIDOverride is sub-option 11 (RFC 5107): the address the client
// must use as the server identifier.
func (a AgentInfo) ServerIDOverride() (netip.Addr, bool) { return a.addr(SubServerIDOverride) }

// SubscriberID is sub-option 6 (RFC 3993), an NVT ASCII string.
func (a AgentInfo) SubscriberID() (string, bool) {
	v, ok := a.valid(SubSubscriberID)
	return string(v), ok
}

func (a AgentInfo) addr(code uint8) (netip.Addr, bool) {
	v, ok := a.valid(code)
	if !ok {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v)), true
}

// Validate checks the format of every sub-option this package knows and
// that the whole fits one option 82 instance. Unknown codes pass.
func (a AgentInfo) Validate() error {
	n := 0
	for i, s := range a {
		if err := checkSubOption(s.Code, s.Data); err != nil {
			return fmt.Errorf("option 82 sub-option #%d: %w", i, err)
		}
		n += 2 + len(s.Data)
	}
	if n > 255 {
		return fmt.Errorf("option 82: %d octets of sub-options exceed one option's 255", n)
	}
	return nil
}

// checkSubOption checks one sub-option's data against its RFC.
func checkSubOption(code uint8, v []byte) error {
	switch code {
	case SubCircuitID, SubRemoteID, SubRelayID:
		// RFC 3046 and RFC 6925 give no format, but an empty identifier
		// identifies nothing; ISC dhcpd drops zero-length sub-options and
		// Kea refuses an empty relay-id.
		if len(v) == 0 {
			return fmt.Errorf("sub-option %d: empty", code)
		}
	case SubDeviceClass, SubLinkSelection, SubServerIDOverride:
		if len(v) != 4 {
			return fmt.Errorf("sub-option %d: length %d, want 4", code, len(v))
		}
	case SubSubscriberID:
		return checkSubscriberID(v)
	}
	if len(v) > 255 {
		return fmt.Errorf("sub-option %d: %d octets exceeds 255", code, len(v))
	}
	return nil
}

// checkSubscriberID applies RFC 3993 §3: NVT ASCII, at least one octet,
// not NUL-terminated.
func checkSubscriberID(v []byte) error {
	if len(v) == 0 {
		return errors.New("sub-option 6 (subscriber ID): empty")
	}
	if len(v) > 255 {
		return fmt.Errorf("sub-option 6 (subscriber ID): %d octets exceeds 255", len(v))
	}
	for i, c := range v {
		if c >= 0x80 {
			return fmt.Errorf("sub-option 6 (subscriber ID): octet %d is %#x, not NVT ASCII", i, c)
		}
	}
	if v[len(v)-1] == 0 {
		return errors.New("sub-option 6 (subscriber ID): NUL-terminated")
	}
	return nil
}
