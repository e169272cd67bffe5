package topo

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"syscall"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// Enforcement is the enforcement section of the enforcement test and
// story: forwarding on, and leasequery filters generous enough that the
// spoofers do not starve the legitimate queries.
func Enforcement() map[string]any {
	return map[string]any{"enabled": true, "forwarding": true,
		"per_port_queries": 50, "per_port_interval": "1s", "downstream_queries_per_second": 100}
}

// NoRPFilter turns reverse-path filtering off in the card, so that only
// leaseguard's rules drop spoofed sources.
func (c *Concentrator) NoRPFilter() {
	knobs := []string{"all", "default"}
	for _, p := range c.Ports {
		knobs = append(knobs, p.Layout.Interface)
	}
	for _, k := range knobs {
		c.Card.MustExec("sysctl", "-qw", "net.ipv4.conf."+k+".rp_filter=0")
	}
}

// WipeCard does to the card's kernel what a reboot does: no leaseguard
// tables, routes or neighbours, and IP forwarding off (a fresh kernel's
// default).
func (c *Concentrator) WipeCard() {
	c.Card.MustExec("sysctl", "-qw", "net.ipv4.ip_forward=0")
	c.Card.MustExec("nft", "delete", "table", "netdev", "leaseguard")
	c.Card.MustExec("nft", "delete", "table", "ip", "leaseguard")
	c.Card.MustIP("route", "flush", "proto", "108")
	for _, p := range c.Ports {
		c.Card.MustIP("neigh", "flush", "dev", p.Layout.Interface, "nud", "all")
	}
}

var counterPackets = regexp.MustCompile(`packets ([0-9]+)`)

// NFTCounter reads the packets of a named counter of leaseguard's table
// of family ("netdev", "ip") in ns.
func NFTCounter(t lab.TB, ns *lab.NS, family, name string) int {
	t.Helper()
	out := ns.MustExec("nft", "list", "counter", family, "leaseguard", name)
	m := counterPackets.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("counter %s: %q", name, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Kill stops the agent with SIGKILL, no clean-up of its kernel state, and
// waits for it to end.
func (a *Agent) Kill() {
	a.Signal(syscall.SIGKILL)
	<-a.Done()
}

// Stat reads a number from the agent's stats by its JSON path
// ("Enforcement", "Verify", "Refused").
func (a *Agent) Stat(path ...string) (float64, error) {
	m, err := a.Stats()
	if err != nil {
		return 0, err
	}
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return 0, fmt.Errorf("stats: no %v", path)
		}
		v = obj[k]
	}
	f, ok := v.(float64)
	if !ok {
		return 0, fmt.Errorf("stats %v: %v is not a number", path, v)
	}
	return f, nil
}

// Binding returns the agent's binding of ip, if it has one.
func (a *Agent) Binding(ip netip.Addr) (Binding, bool, error) {
	bs, err := a.Table()
	if err != nil {
		return Binding{}, false, err
	}
	for _, b := range bs {
		if b.IP == ip {
			return b, true, nil
		}
	}
	return Binding{}, false, nil
}
