package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ErrNoTable is matched (errors.Is) by ReadAllowed's error when the owned
// table is not in the kernel: a fresh boot, or a wiped one.
var ErrNoTable = errors.New("nft: owned table not in the kernel")

// ReadAllowed returns the elements of the allowed set of table as the
// kernel holds them now, each with its remaining lifetime as Expires
// (counted from now; zero for an element without timeout). After a
// process restart these are what passed a moment ago, programmed by the
// previous process: a successor that carries them into its first Rebuild
// replaces the table without changing what passes. It dumps the set
// (about 1 s of kernel time for 100,000 elements: see BenchmarkReadAllowed).
func (k *Kernel) ReadAllowed(table string, now time.Time) ([]Element, error) {
	msgs, err := k.dumpSet(unix.NFPROTO_NETDEV, table, AllowedSet)
	if errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("nft: read allowed set of %s: %w", table, ErrNoTable)
	}
	if err != nil {
		return nil, fmt.Errorf("nft: read allowed set: %w", err)
	}
	var out []Element
	for i, m := range msgs {
		elems, err := parseElementList(m.Data, now)
		if err != nil {
			return nil, fmt.Errorf("nft: read allowed set of %s: dump message %d: %v", table, i, err)
		}
		out = append(out, elems...)
	}
	return out, nil
}

// parseElementList decodes the allowed-set elements of one
// NFT_MSG_NEWSETELEM dump message body (nfgenmsg, then attributes).
func parseElementList(b []byte, now time.Time) ([]Element, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%d bytes: shorter than the 4-byte nfgenmsg header", len(b))
	}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	var out []Element
	for ad.Next() {
		if ad.Type() != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				if nad.Type() != unix.NFTA_LIST_ELEM {
					continue
				}
				var e Element
				var err error
				nad.Nested(func(ead *netlink.AttributeDecoder) error {
					e, err = decodeElement(ead, now)
					return err
				})
				if err != nil {
					return fmt.Errorf("element %d: %w", len(out), err)
				}
				out = append(out, e)
			}
			return nil
		})
	}
	if err := ad.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeElement reads one element's key and remaining lifetime.
func decodeElement(ad *netlink.AttributeDecoder, now time.Time) (Element, error) {
	var e Element
	var key []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_SET_ELEM_KEY:
			ad.Nested(func(kad *netlink.AttributeDecoder) error {
				for kad.Next() {
					if kad.Type() == unix.NFTA_DATA_VALUE {
						key = kad.Bytes()
					}
				}
				return nil
			})
		case unix.NFTA_SET_ELEM_EXPIRATION:
			e.Expires = now.Add(time.Duration(ad.Uint64()) * time.Millisecond)
		}
	}
	if err := ad.Err(); err != nil {
		return e, err
	}
	if len(key) != keyLen {
		return e, fmt.Errorf("key of %d bytes, want %d", len(key), keyLen)
	}
	return e, e.decodeKey(elementKey(key))
}

// decodeKey fills Port, IP and MAC from an allowed-set key.
func (e *Element) decodeKey(k elementKey) error {
	name := k[:16]
	n := 0
	for n < len(name) && name[n] != 0 {
		n++
	}
	e.Port = string(name[:n])
	if err := validIfname(e.Port); err != nil {
		return err
	}
	e.IP = netip.AddrFrom4([4]byte(k[16:20]))
	e.MAC = net.HardwareAddr(append([]byte(nil), k[20:26]...))
	return nil
}
