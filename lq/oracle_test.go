package lq

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

var cmpNetip = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// messageView is what our decoder and insomniacslk/dhcp's must agree on:
// header fields and options, each code's instances concatenated.
type messageView struct {
	Op, HType, HLen, Hops          uint8
	XID                            uint32
	Secs, Flags                    uint16
	CIAddr, YIAddr, SIAddr, GIAddr netip.Addr
	CHAddr                         []byte
	Options                        map[uint8][]byte
}

var cmpView = cmp.Options{cmpNetip, cmpopts.EquateEmpty()}

func oracleView(d *dhcpv4.DHCPv4) messageView {
	v := messageView{
		Op: uint8(d.OpCode), HType: uint8(d.HWType), HLen: uint8(len(d.ClientHWAddr)), Hops: d.HopCount,
		XID:  uint32(d.TransactionID[0])<<24 | uint32(d.TransactionID[1])<<16 | uint32(d.TransactionID[2])<<8 | uint32(d.TransactionID[3]),
		Secs: d.NumSeconds, Flags: d.Flags,
		CIAddr: ipOf(d.ClientIPAddr), YIAddr: ipOf(d.YourIPAddr), SIAddr: ipOf(d.ServerIPAddr), GIAddr: ipOf(d.GatewayIPAddr),
		CHAddr:  d.ClientHWAddr,
		Options: map[uint8][]byte{},
	}
	for c, data := range d.Options {
		v.Options[c] = data
	}
	return v
}

func ipOf(ip []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a
}

func packetView(p Packet) messageView {
	v := messageView{
		Op: uint8(p.Op()), HType: p.HType(), HLen: p.HLen(), Hops: p.Hops(), XID: p.XID(),
		Secs: p.Secs(), Flags: p.Flags(),
		CIAddr: p.CIAddr(), YIAddr: p.YIAddr(), SIAddr: p.SIAddr(), GIAddr: p.GIAddr(),
		CHAddr:  p.CHAddr(),
		Options: map[uint8][]byte{},
	}
	for c, data := range p.Options() {
		v.Options[c] = append(v.Options[c], data...)
	}
	return v
}
