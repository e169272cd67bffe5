package bpi

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Locator answers where an IP address lives: the modem behind which the
// binding for ip was learnt. The location table (lq/location) satisfies it.
type Locator interface {
	ModemOf(ip netip.Addr) (modem net.HardwareAddr, ok bool)
}

// Selection is the outcome of key selection for one downstream frame.
type Selection struct {
	Modem Modem
	TEK   *TEK // nil: BPI is disabled for the modem, send in clear
}

// Select finds the key for a frame to ip at now: binding -> modem ->
// primary SA -> current TEK. Errors: a *LocationError when no binding is
// known (the caller may start a leasequery), a *KeyError wrapping
// ErrUnknownModem or ErrNoKey when the modem has no usable key (the frame
// must be dropped, never sent in clear).
func (t *Table) Select(loc Locator, ip netip.Addr, now time.Time) (Selection, error) {
	mac, ok := loc.ModemOf(ip)
	if !ok {
		return Selection{}, &LocationError{IP: ip}
	}
	m, tek, err := t.Downstream(mac, now)
	if err != nil {
		return Selection{}, fmt.Errorf("destination %v: %w", ip, err)
	}
	return Selection{Modem: m, TEK: tek}, nil
}

// EtherTypes DestinationIP understands.
const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	etherTypeVLAN = 0x8100
	etherTypeIPv6 = 0x86dd
)

// DestinationIP returns the address a downstream Ethernet frame is for: the
// IPv4 or IPv6 destination, or the target protocol address of an ARP
// packet (so that ARP for a subscriber goes under that subscriber's key).
// One 802.1Q tag is skipped.
func DestinationIP(eth []byte) (netip.Addr, error) {
	if len(eth) < ethHeaderLen {
		return netip.Addr{}, fmt.Errorf("Ethernet frame of %d bytes: %w", len(eth), ErrNoDestination)
	}
	typ, off := binary.BigEndian.Uint16(eth[12:14]), ethHeaderLen
	if typ == etherTypeVLAN && len(eth) >= ethHeaderLen+4 {
		typ, off = binary.BigEndian.Uint16(eth[16:18]), ethHeaderLen+4
	}
	p := eth[off:]
	switch {
	case typ == etherTypeIPv4 && len(p) >= 20 && p[0]>>4 == 4:
		return netip.AddrFrom4([4]byte(p[16:20])), nil
	case typ == etherTypeIPv6 && len(p) >= 40 && p[0]>>4 == 6:
		return netip.AddrFrom16([16]byte(p[24:40])), nil
	case typ == etherTypeARP && len(p) >= 28 && p[4] == 6 && p[5] == 4:
		return netip.AddrFrom4([4]byte(p[24:28])), nil
	}
	return netip.Addr{}, fmt.Errorf("EtherType %#04x: %w", typ, ErrNoDestination)
}
