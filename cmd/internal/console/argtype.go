package console

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ArgType parses one word of a command line into a typed value.
type ArgType interface {
	// Placeholder is how help shows the argument: "A.B.C.D", "<1-512>".
	Placeholder() string
	// Parse returns the value, or an error completing the sentence
	// `"word" ...` ("is not an IPv4 address").
	Parse(word string) (any, error)
}

// The argument types. Values reach handlers through the Args getters named
// beside each.
var (
	// IPv4Addr is a dotted-quad IPv4 address (Args.Addr: netip.Addr).
	IPv4Addr ArgType = ipv4Type{}
	// MACAddr is a 6-byte MAC in any of aa:bb:cc:dd:ee:ff, aa-bb-...,
	// aabb.ccdd.eeff (Args.MAC: net.HardwareAddr).
	MACAddr ArgType = macType{}
	// HexBytes is 1 to 255 bytes of hex, optionally with ':' between
	// bytes, as a client identifier (Args.Bytes: []byte).
	HexBytes ArgType = hexType{}
	// FreeWord is any word up to 64 characters (Args.String).
	FreeWord ArgType = wordType{}
)

// Integer is a decimal integer in [lo, hi] (Args.Int: int64).
func Integer(lo, hi int64) ArgType { return intType{lo, hi} }

type ipv4Type struct{}

func (ipv4Type) Placeholder() string { return "A.B.C.D" }

func (ipv4Type) Parse(w string) (any, error) {
	a, err := netip.ParseAddr(w)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("is not an IPv4 address")
	}
	return a, nil
}

type macType struct{}

func (macType) Placeholder() string { return "H.H.H" }

func (macType) Parse(w string) (any, error) {
	m, err := net.ParseMAC(w)
	if err != nil || len(m) != 6 {
		return nil, fmt.Errorf("is not a MAC address (aa:bb:cc:dd:ee:ff or aabb.ccdd.eeff)")
	}
	return m, nil
}

type hexType struct{}

func (hexType) Placeholder() string { return "HEX" }

func (hexType) Parse(w string) (any, error) {
	s := w
	if strings.Contains(w, ":") {
		parts := strings.Split(w, ":")
		for _, p := range parts {
			if len(p) != 2 {
				return nil, fmt.Errorf("is not hex bytes separated by ':' (01:aa:bb)")
			}
		}
		s = strings.Join(parts, "")
	}
	b, err := hex.DecodeString(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("is not an even number of hex digits")
	case len(b) == 0 || len(b) > 255:
		return nil, fmt.Errorf("is %d bytes, want 1 to 255", len(b))
	}
	return b, nil
}

type wordType struct{}

func (wordType) Placeholder() string { return "WORD" }

func (wordType) Parse(w string) (any, error) {
	if len(w) > 64 {
		return nil, fmt.Errorf("is longer than 64 characters")
	}
	return w, nil
}

type intType struct{ lo, hi int64 }

func (t intType) Placeholder() string { return fmt.Sprintf("<%d-%d>", t.lo, t.hi) }

func (t intType) Parse(w string) (any, error) {
	n, err := strconv.ParseInt(w, 10, 64)
	if err != nil || n < t.lo || n > t.hi {
		return nil, fmt.Errorf("is not a number from %d to %d", t.lo, t.hi)
	}
	return n, nil
}
