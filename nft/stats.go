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
	st := Stats{Programming: k.prog, Counters: make(map[CounterID]Counter), ForwardedDHCP: map[string]Counter{}}
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
	st.Unknown, err = k.countElements(unix.NFPROTO_NETDEV, k.rs.Table.Name, UnknownSet)
	if err != nil || k.rs.IP == nil {
		return st, err
	}
	return st, k.ipStats(c, &st)
}

// ipStats adds the ip table's counters and unknown destinations to st.
func (k *Kernel) ipStats(c *nftables.Conn, st *Stats) error {
	ip := k.rs.IP
	objs, err := c.GetObjects(ip.Table)
	if err != nil {
		k.hangUp()
		return fmt.Errorf("nft stats: counters of ip %s: %w", ip.Table.Name, err)
	}
	for _, o := range objs {
		co, ok := o.(*nftables.CounterObj)
		if !ok {
			continue
		}
		n := Counter{Packets: co.Packets, Bytes: co.Bytes}
		switch port, fwd := ip.FwdDHCP[co.Name]; {
		case fwd:
			st.ForwardedDHCP[port] = n
		case co.Name == counterUnknownDst:
			st.UnknownDestination = n
		case co.Name == counterReportedDst:
			st.ReportedDestination = n
		}
	}
	if ip.UnknownDst == nil {
		return nil
	}
	st.UnknownDst, err = k.countElements(unix.NFPROTO_IPV4, ip.Table.Name, UnknownDstSet)
	return err
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
	return k.countElements(unix.NFPROTO_NETDEV, rs.Table.Name, set)
}

// countElements dumps set and counts the elements without decoding them.
func (k *Kernel) countElements(family uint8, table, set string) (int, error) {
	msgs, err := k.dumpSet(family, table, set)
	if err != nil {
		return 0, fmt.Errorf("nft stats: %w", err)
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

// dumpSet dumps the elements of set on a connection of its own (the
// lasting one belongs to google/nftables). Errors wrap the kernel's
// (ENOENT: no such table or set).
func (k *Kernel) dumpSet(family uint8, table, set string) ([]netlink.Message, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: k.opts.NetNS})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	_ = c.SetReadBuffer(1 << 20) // the kernel fills at most 32 KiB per read
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: append([]byte(table), 0)},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: append([]byte(set), 0)},
	})
	if err != nil {
		return nil, err
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{family, unix.NFNETLINK_V0, 0, 0}, attrs...),
	})
	if err != nil {
		return nil, fmt.Errorf("dump set %s of %s: %w", set, table, err)
	}
	return msgs, nil
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
