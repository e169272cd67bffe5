package lab

import "fmt"

// Switch is a Linux bridge in a namespace of its own: one Ethernet segment
// that several namespaces attach to, like the upstream network shared by a
// line card and its DHCP servers.
type Switch struct {
	ns    *NS
	ports int
}

// Switch creates an empty segment.
func (l *Lab) Switch(name string) *Switch {
	l.t.Helper()
	sw := &Switch{ns: l.NS(name)}
	sw.ns.MustIP("link", "add", "br0", "type", "bridge")
	sw.ns.MustIP("link", "set", "br0", "up")
	return sw
}

// Attach links ns to the segment through a veth whose end in ns is named
// ifname, and returns that name.
func (sw *Switch) Attach(ns *NS, ifname string) string {
	sw.ns.lab.t.Helper()
	sw.ports++
	port := fmt.Sprintf("p%d", sw.ports)
	sw.ns.lab.Veth(sw.ns, port, ns, ifname)
	sw.ns.MustIP("link", "set", port, "master", "br0")
	return ifname
}

// NS is the namespace holding the bridge (for captures on br0).
func (sw *Switch) NS() *NS { return sw.ns }
