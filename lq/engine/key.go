package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/leaseguard/leaseguard/lq"
)

// Key identifies the question a query asks. Queries with equal keys are
// merged while in flight and share cache entries and owner memory.
type Key struct {
	Kind lq.QueryKind
	IP   netip.Addr // ByIP: the address asked about
	// ID is, for ByMAC, the hardware type octet followed by the address;
	// for ByClientID, the option 61 payload (type octet included).
	ID string
}

// String renders the key for logs and the console ("ip 10.1.2.3",
// "mac 1/00:11:22:33:44:55", "client-id 01:00:11:22:33:44:55").
func (k Key) String() string {
	switch k.Kind {
	case lq.ByIP:
		return "ip " + k.IP.String()
	case lq.ByMAC:
		if k.ID == "" {
			return "mac ?"
		}
		return fmt.Sprintf("mac %d/%v", k.ID[0], net.HardwareAddr(k.ID[1:]))
	case lq.ByClientID:
		return "client-id " + hexColon([]byte(k.ID))
	}
	return k.Kind.String()
}

func hexColon(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

// ErrRestricted is matched (errors.Is) by a *RestrictedError.
var ErrRestricted = errors.New("outside the subscriber prefixes")

// RestrictedError refuses a query by IP address about an address outside
// Config.SubscriberPrefixes (RFC 4388 §7 "ciaddr restriction").
type RestrictedError struct{ IP netip.Addr }

func (e *RestrictedError) Error() string {
	return fmt.Sprintf("query by IP address %v: %v (RFC 4388 §7 ciaddr restriction)", e.IP, ErrRestricted)
}

// Unwrap lets errors.Is(err, ErrRestricted) match.
func (e *RestrictedError) Unwrap() error { return ErrRestricted }

// KeyOf checks q against the codec's field rules for its kind
// ((lq.Query).Validate, so nothing the encoder refuses is queued) and
// returns its key. An IPv4-mapped IPv6 address is taken as IPv4.
func KeyOf(q lq.Query) (Key, error) {
	q.IP = q.IP.Unmap()
	if err := q.Validate(); err != nil {
		return Key{}, err
	}
	switch q.Kind {
	case lq.ByIP:
		return Key{Kind: lq.ByIP, IP: q.IP}, nil
	case lq.ByMAC:
		return Key{Kind: lq.ByMAC, ID: macID(q.HType, q.HWAddr)}, nil
	}
	return Key{Kind: lq.ByClientID, ID: string(q.ClientID)}, nil
}

// Query returns the query that asks k, with fresh slices: the engine
// sends what it owns, never what a caller may reuse.
func (k Key) Query() lq.Query {
	switch k.Kind {
	case lq.ByIP:
		return lq.Query{Kind: lq.ByIP, IP: k.IP}
	case lq.ByMAC:
		return lq.Query{Kind: lq.ByMAC, HType: k.ID[0], HWAddr: net.HardwareAddr(k.ID[1:])}
	case lq.ByClientID:
		return lq.Query{Kind: lq.ByClientID, ClientID: []byte(k.ID)}
	}
	return lq.Query{}
}

// appendKeys appends the keys an ACTIVE or UNASSIGNED binding answers:
// its address and, for ACTIVE, its client's MAC address and client
// identifier. The owner memory records all of them.
func appendKeys(keys []Key, b *lq.Binding, active bool) []Key {
	if ip := b.IP.Unmap(); ip.Is4() && !ip.IsUnspecified() {
		keys = append(keys, Key{Kind: lq.ByIP, IP: ip})
	}
	if !active {
		return keys
	}
	if n := len(b.HWAddr); n > 0 && n <= 16 && b.HType != 0 {
		keys = append(keys, Key{Kind: lq.ByMAC, ID: macID(b.HType, b.HWAddr)})
	}
	if n := len(b.ClientID); n > 0 && n <= 255 {
		keys = append(keys, Key{Kind: lq.ByClientID, ID: string(b.ClientID)})
	}
	return keys
}

func macID(htype uint8, hw net.HardwareAddr) string {
	return string(append([]byte{htype}, hw...))
}
