package nft

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/google/nftables"
)

// Element is one binding in the allowed set: traffic from IP with source MAC
// arriving on Port passes until Expires.
type Element struct {
	Port string
	IP   netip.Addr
	MAC  net.HardwareAddr
	// Expires is when the lease ends; the kernel drops the element then
	// even if leaseguard is not running. The zero Time means no expiry
	// (an infinite lease).
	Expires time.Time
}

func (e Element) String() string {
	return fmt.Sprintf("%s %v %v", e.Port, e.IP, e.MAC)
}

// keyLen is the size of an allowed-set key: ifname (16 bytes, NUL padded),
// IPv4 address (4, network order), MAC (6, padded to 8 inside a
// concatenation).
const keyLen = 16 + 4 + 8

// elementKey is an encoded allowed-set key, usable as a map key.
type elementKey [keyLen]byte

// key encodes e as an allowed-set key.
func (e Element) key() (elementKey, error) {
	var k elementKey
	if err := validIfname(e.Port); err != nil {
		return k, err
	}
	ip := e.IP.Unmap()
	if !ip.Is4() {
		return k, fmt.Errorf("address %v is not IPv4", e.IP)
	}
	if len(e.MAC) != 6 {
		return k, fmt.Errorf("MAC %v: length %d, want 6", e.MAC, len(e.MAC))
	}
	copy(k[:16], e.Port)
	a := ip.As4()
	copy(k[16:20], a[:])
	copy(k[20:26], e.MAC)
	return k, nil
}

// timeout is the element timeout to program at now: the remaining lease,
// rounded up to the kernel's millisecond resolution and capped at max.
// ok is false when the lease has already ended.
func (e Element) timeout(now time.Time, max time.Duration) (d time.Duration, ok bool) {
	if e.Expires.IsZero() {
		return 0, true
	}
	d = e.Expires.Sub(now)
	if d <= 0 {
		return 0, false
	}
	d = (d + time.Millisecond - 1).Truncate(time.Millisecond)
	return min(d, max), true
}

// setElement is e as a google/nftables element with the given timeout.
func (k elementKey) setElement(timeout time.Duration) nftables.SetElement {
	return nftables.SetElement{Key: k[:], Timeout: timeout}
}

// encodeElements encodes the elements still alive at now, with their
// timeouts. Duplicate keys keep the last element.
func encodeElements(elems []Element, now time.Time, max time.Duration) ([]nftables.SetElement, error) {
	out := make([]nftables.SetElement, 0, len(elems))
	index := make(map[elementKey]int, len(elems))
	for i, e := range elems {
		k, err := e.key()
		if err != nil {
			return nil, fmt.Errorf("element %d (%v): %v", i, e, err)
		}
		d, ok := e.timeout(now, max)
		if !ok {
			continue
		}
		if j, dup := index[k]; dup {
			out[j] = k.setElement(d)
			continue
		}
		index[k] = len(out)
		out = append(out, k.setElement(d))
	}
	return out, nil
}

// macKeys encodes a MAC for the trusted set (a plain ether_addr set: 6 bytes).
func macKeys(macs []net.HardwareAddr) []nftables.SetElement {
	out := make([]nftables.SetElement, len(macs))
	for i, m := range macs {
		out[i] = nftables.SetElement{Key: append([]byte(nil), m...)}
	}
	return out
}

// chunks splits elems into runs of at most n. google/nftables v0.3.0 silently
// loses elements when one message's element list outgrows a 16-bit netlink
// attribute length (about 1,240 of our keys), so every add and delete goes
// out in chunks.
func chunks(elems []nftables.SetElement, n int) [][]nftables.SetElement {
	var out [][]nftables.SetElement
	for len(elems) > n {
		out = append(out, elems[:n:n])
		elems = elems[n:]
	}
	if len(elems) > 0 {
		out = append(out, elems)
	}
	return out
}
