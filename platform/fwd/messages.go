package fwd

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ndaProtocol is NDA_PROTOCOL (linux/neighbour.h, since 5.8): who installed
// a neighbour entry, like rtm_protocol for routes.
const ndaProtocol = 12

// mainTable is RT_TABLE_MAIN.
const mainTable = unix.RT_TABLE_MAIN

// request is one rtnetlink request of a batch and the binding it serves.
type request struct {
	msg     netlink.Message
	binding int    // index in the caller's slice
	op      string // "neighbour add", "route delete", ...
}

// neighMsg builds RTM_NEWNEIGH (replace, NUD_PERMANENT) or RTM_DELNEIGH for
// ip on ifindex.
func neighMsg(add bool, ifindex int, ip netip.Addr, mac net.HardwareAddr, proto uint8) netlink.Message {
	nd := make([]byte, 12) // struct ndmsg
	nd[0] = unix.AF_INET
	binary.NativeEndian.PutUint32(nd[4:], uint32(ifindex))
	a := ip.As4()
	attrs := []netlink.Attribute{{Type: unix.NDA_DST, Data: a[:]}}
	h := netlink.Header{Type: unix.RTM_DELNEIGH, Flags: netlink.Request | netlink.Acknowledge}
	if add {
		binary.NativeEndian.PutUint16(nd[8:], unix.NUD_PERMANENT)
		attrs = append(attrs,
			netlink.Attribute{Type: unix.NDA_LLADDR, Data: mac},
			netlink.Attribute{Type: ndaProtocol, Data: []byte{proto}})
		h = netlink.Header{Type: unix.RTM_NEWNEIGH, Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace}
	}
	return netlink.Message{Header: h, Data: append(nd, mustMarshal(attrs)...)}
}

// routeMsg builds RTM_NEWROUTE (replace) or RTM_DELROUTE for ip/32 via
// ifindex, scope link, tagged with proto.
func routeMsg(add bool, ifindex int, ip netip.Addr, proto uint8, table uint32) netlink.Message {
	rt := make([]byte, 12) // struct rtmsg
	rt[0] = unix.AF_INET
	rt[1] = 32 // dst_len
	rt[4] = unix.RT_TABLE_UNSPEC
	if table < 256 {
		rt[4] = uint8(table)
	}
	rt[5] = proto
	rt[6] = unix.RT_SCOPE_NOWHERE // on delete: any scope
	rt[7] = unix.RTN_UNICAST
	a := ip.As4()
	attrs := []netlink.Attribute{
		{Type: unix.RTA_DST, Data: a[:]},
		{Type: unix.RTA_OIF, Data: binary.NativeEndian.AppendUint32(nil, uint32(ifindex))},
		{Type: unix.RTA_TABLE, Data: binary.NativeEndian.AppendUint32(nil, table)},
	}
	h := netlink.Header{Type: unix.RTM_DELROUTE, Flags: netlink.Request | netlink.Acknowledge}
	if add {
		rt[6] = unix.RT_SCOPE_LINK
		h = netlink.Header{Type: unix.RTM_NEWROUTE, Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace}
	}
	return netlink.Message{Header: h, Data: append(rt, mustMarshal(attrs)...)}
}

// mustMarshal encodes attributes whose sizes are fixed and small; it
// cannot fail.
func mustMarshal(attrs []netlink.Attribute) []byte {
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		panic("fwd: marshal fixed attributes: " + err.Error())
	}
	return b
}
