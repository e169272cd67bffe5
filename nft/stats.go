package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Stats implements Applier. Allowed is what this applier programmed and has
// not expired (no dump: see ledger); Unknown comes from a dump of the
// de-duplication set, which is small unless the port is under attack.
func (k *Kernel) Stats() (Stats, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	st := Stats{Programming: k.prog, Counters: make(map[CounterID]Counter)}
	st.Programming.TimeoutUpdate = k.timeoutUpdate != nil && *k.timeoutUpdate && !k.opts.ForceUpsert
	if k.rs == nil {
		return st, nil
	}
	c, err := k.dial()
	if err != nil {
		return st, err
	}
	objs, err := c.GetObjects(k.rs.Table)
	if err != nil {
		k.hangUp()
		return st, fmt.Errorf("nft stats: counters of %s: %w", k.rs.Table.Name, err)
	}
	for _, o := range objs {
		if co, ok := o.(*nftables.CounterObj); ok {
			if id, ours := k.rs.CounterIDs[co.Name]; ours {
				st.Counters[id] = Counter{Packets: co.Packets, Bytes: co.Bytes}
			}
		}
	}
	st.Allowed = k.ledger.live(k.opts.Clock())
	st.Unknown, err = k.countElements(k.rs.Table.Name, UnknownSet)
	return st, err
}

// CountElements dumps a set of the owned table and counts its live
// elements (the kernel leaves expired ones out of dumps). It audits what
// the kernel holds; on the allowed set with 100,000 elements it costs
// seconds of kernel time.
func (k *Kernel) CountElements(set string) (int, error) {
	k.mu.Lock()
	rs := k.rs
	k.mu.Unlock()
	if rs == nil {
		return 0, ErrNotBuilt
	}
	return k.countElements(rs.Table.Name, set)
}

// countElements dumps set on a connection of its own (the lasting one
// belongs to google/nftables) and counts the elements without decoding
// them.
func (k *Kernel) countElements(table, set string) (int, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: k.opts.NetNS})
	if err != nil {
		return 0, fmt.Errorf("nft stats: dial: %w", err)
	}
	defer c.Close()
	_ = c.SetReadBuffer(1 << 20) // the kernel fills at most 32 KiB per read
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: append([]byte(table), 0)},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: append([]byte(set), 0)},
	})
	if err != nil {
		return 0, err
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{unix.NFPROTO_NETDEV, unix.NFNETLINK_V0, 0, 0}, attrs...),
	})
	if err != nil {
		return 0, fmt.Errorf("nft stats: dump set %s: %w", set, err)
	}
	n := 0
	for i, m := range msgs {
		c, err := countListElements(m.Data)
		if err != nil {
			return 0, fmt.Errorf("nft stats: set %s dump message %d: %v", set, i, err)
		}
		n += c
	}
	return n, nil
}

// countListElements counts the elements in one NFT_MSG_NEWSETELEM dump
// message body (nfgenmsg, then attributes).
func countListElements(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("%d bytes: shorter than the 4-byte nfgenmsg header", len(b))
	}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return 0, err
	}
	ad.ByteOrder = binary.BigEndian
	n := 0
	for ad.Next() {
		if ad.Type() != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				if nad.Type() == unix.NFTA_LIST_ELEM {
					n++
				}
			}
			return nad.Err()
		})
	}
	if err := ad.Err(); err != nil {
		return 0, err
	}
	return n, nil
}
