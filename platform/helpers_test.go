package platform

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

// msg is a BOOTP/DHCP message under construction for tests.
type msg struct {
	op, htype, hlen byte
	xid             uint32
	flags           uint16
	ciaddr, yiaddr  netip.Addr
	giaddr          netip.Addr
	chaddr          []byte
	options         []byte // raw option area after the cookie; END is appended
	noCookie        bool
}

// bytes encodes m, padded to the 300-octet BOOTP minimum.
func (m msg) bytes() []byte {
	b := make([]byte, offOptions, 300)
	b[0], b[1], b[2] = m.op, m.htype, m.hlen
	binary.BigEndian.PutUint32(b[4:], m.xid)
	binary.BigEndian.PutUint16(b[offFlags:], m.flags)
	put4 := func(off int, a netip.Addr) {
		if a.IsValid() {
			v := a.As4()
			copy(b[off:], v[:])
		}
	}
	put4(offCIAddr, m.ciaddr)
	put4(offYIAddr, m.yiaddr)
	put4(offGIAddr, m.giaddr)
	copy(b[offCHAddr:offSName], m.chaddr)
	if m.noCookie {
		return append(b[:offCookie], make([]byte, 64)...)
	}
	copy(b[offCookie:], magicCookie[:])
	b = append(b, m.options...)
	b = append(b, optEnd)
	for len(b) < 300 {
		b = append(b, 0)
	}
	return b
}

// typeOpt is option 53.
func typeOpt(t lq.MessageType) []byte { return []byte{optMessageType, 1, byte(t)} }

// reply is a BOOTREPLY of type t.
func reply(t lq.MessageType) []byte {
	return msg{op: opBootReply, htype: 1, hlen: 6, options: typeOpt(t)}.bytes()
}

// request is a BOOTREQUEST of type t.
func request(t lq.MessageType) []byte {
	return msg{op: opBootRequest, htype: 1, hlen: 6, options: typeOpt(t)}.bytes()
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// netipCmp lets go-cmp compare netip values, whose fields are unexported.
var netipCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}
