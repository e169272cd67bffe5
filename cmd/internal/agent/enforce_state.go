package agent

import (
	"bytes"
	"net"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform/fwd"
)

// programmed is what the enforcer put into the kernel for one address: an
// element of the allowed set (and the bound set) and, with forwarding, a
// /32 route and a permanent neighbour. The enforcer keeps one per binding:
// the MAC is held by value (a slice of the table's binding would keep that
// binding's whole expanded copy alive, 48 bytes more per address:
// BenchmarkAgentHeap).
type programmed struct {
	iface   string
	mac     [6]byte
	carried bool      // left by the previous process, not confirmed yet
	expires time.Time // the lease's end; zero: infinite
	applied time.Time // when the element's timeout was last set
}

func (p programmed) element(ip netip.Addr) nft.Element {
	return nft.Element{Port: p.iface, IP: ip, MAC: p.hwAddr(), Expires: p.expires}
}

func (p programmed) binding(ip netip.Addr) fwd.Binding {
	return fwd.Binding{Port: p.iface, IP: ip, MAC: p.hwAddr()}
}

// hwAddr is the MAC as a slice of its own, for a batch's messages.
func (p programmed) hwAddr() net.HardwareAddr {
	return append(net.HardwareAddr(nil), p.mac[:]...)
}

// isMAC reports whether hw is p's MAC.
func (p programmed) isMAC(hw net.HardwareAddr) bool { return bytes.Equal(p.mac[:], hw) }

// sameLocation reports whether p and q send ip to the same port and MAC.
func (p programmed) sameLocation(q programmed) bool {
	return p.iface == q.iface && p.mac == q.mac
}

// change is one address's programming in a batch: from old to new, either
// absent (ok false).
type change struct {
	ip             netip.Addr
	old, new       programmed
	hadOld, hasNew bool
}

// plan is what one batch sends: nftables adds (new bindings and renewals)
// and deletes, forwarding adds and removals.
type plan struct {
	adds, deletes    []nft.Element
	fwdAdd, fwdDel   []fwd.Binding
	changes          int // addresses whose programming changes
	renewals, moves  int
	added, withdrawn int
}

// add accounts one change into the plan. Renewals (same location, new
// expiry) only touch nftables.
func (p *plan) add(c change) {
	switch {
	case !c.hadOld && !c.hasNew:
		return
	case !c.hadOld:
		p.adds = append(p.adds, c.new.element(c.ip))
		p.fwdAdd = append(p.fwdAdd, c.new.binding(c.ip))
		p.added++
	case !c.hasNew:
		p.deletes = append(p.deletes, c.old.element(c.ip))
		p.fwdDel = append(p.fwdDel, c.old.binding(c.ip))
		p.withdrawn++
	case c.old.sameLocation(c.new):
		if c.old.expires.Equal(c.new.expires) {
			return
		}
		p.adds = append(p.adds, c.new.element(c.ip))
		p.renewals++
	default:
		p.deletes = append(p.deletes, c.old.element(c.ip))
		p.adds = append(p.adds, c.new.element(c.ip))
		p.fwdDel = append(p.fwdDel, c.old.binding(c.ip))
		p.fwdAdd = append(p.fwdAdd, c.new.binding(c.ip))
		p.moves++
	}
	p.changes++
}

// programmable turns a table binding into what to program, by the port's
// interface. Snapshot hints are never programmed: nothing confirmed them.
// A binding on a port without an interface here, or whose hardware
// address is not an Ethernet MAC, cannot be verified by the ruleset.
func programmable(b location.Binding, ifaces map[string]string) (programmed, bool) {
	if b.Source == location.Snapshot || len(b.HWAddr) != 6 || !b.IP.Is4() {
		return programmed{}, false
	}
	iface, ok := ifaces[b.Port]
	if !ok {
		return programmed{}, false
	}
	return programmed{iface: iface, mac: [6]byte(b.HWAddr), expires: b.Expiry}, true
}

// matches reports whether the table holds a confirmed binding of ip on
// port iface with hardware address mac: a reported source is legitimate.
func matches(t *location.Table, ifaces map[string]string, ip netip.Addr, iface string, mac net.HardwareAddr) bool {
	b, ok := t.ByIP(ip)
	if !ok {
		return false
	}
	p, ok := programmable(b, ifaces)
	return ok && p.iface == iface && p.isMAC(mac)
}
