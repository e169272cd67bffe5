package topo

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// DHCPDOptions shape the server's configuration.
type DHCPDOptions struct {
	// Lease is the default and maximum lease time; 0 means 10 minutes.
	Lease time.Duration
	// GatewayServerID makes dhcpd name each port's gateway as its server
	// identifier (option 54), as an RFC 5107 server-id override does: the
	// clients then renew by unicast to the relay's gateway address.
	GatewayServerID bool
	// Extra is appended to dhcpd.conf verbatim.
	Extra string
}

// DHCPDConf is an ISC dhcpd configuration serving every subscriber
// network of the topology (addresses .100-.199, the port's gateway as
// router) and answering leasequeries from anywhere (RFC 4388; `allow
// leasequery` at global scope covers a giaddr in no subnet).
func (c *Concentrator) DHCPDConf(o DHCPDOptions) string {
	lease := int(o.Lease.Seconds())
	if lease == 0 {
		lease = 600
	}
	var b strings.Builder
	fmt.Fprintf(&b, "authoritative;\nallow leasequery;\nping-check false;\ndefault-lease-time %d;\nmax-lease-time %d;\nmin-lease-time %d;\n", lease, lease, min(lease, 10))
	up := netip.PrefixFrom(c.Layout.Servers[0], 24).Masked()
	fmt.Fprintf(&b, "subnet %v netmask %v {}\n", up.Addr(), mask(up))
	for _, p := range c.Ports {
		base := p.Prefix.Addr().As4()
		lo, hi := base, base
		lo[3], hi[3] = 100, 199
		fmt.Fprintf(&b, "subnet %v netmask %v {\n  range %v %v;\n  option routers %v;\n",
			p.Prefix.Addr(), mask(p.Prefix), netip.AddrFrom4(lo), netip.AddrFrom4(hi), p.Layout.Gateway)
		if o.GatewayServerID {
			fmt.Fprintf(&b, "  option dhcp-server-identifier %v;\n", p.Layout.Gateway)
		}
		b.WriteString("}\n")
	}
	b.WriteString(o.Extra)
	return b.String()
}

func mask(p netip.Prefix) netip.Addr {
	m := ^uint32(0) << (32 - p.Bits())
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
}

// StartDHCPD runs ISC dhcpd in the server namespace with conf.
func (c *Concentrator) StartDHCPD(conf string) *lab.DHCPD {
	return c.Server.StartDHCPD("dhcpd", conf, "", "eth0")
}
