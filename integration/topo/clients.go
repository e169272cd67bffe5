package topo

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// leaseWait bounds how long a client may take to get a lease through the
// relay: it guards against a hang, it does not time anything.
const leaseWait = 60 * time.Second

// dhclientScript only configures the address and default route, so that
// dhclient never touches the host's resolv.conf (shared/notes/peers.md).
const dhclientScript = `#!/bin/sh
case "$reason" in
BOUND|RENEW|REBIND|REBOOT)
  if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then ip -4 addr flush dev "$interface"; fi
  ip -4 addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
  [ -n "$new_routers" ] && ip -4 route replace default via "${new_routers%% *}" dev "$interface"
  ;;
EXPIRE|FAIL|RELEASE|STOP)
  ip -4 addr flush dev "$interface"
  ;;
esac
exit 0
`

// udhcpcScript is the same for busybox udhcpc.
const udhcpcScript = `#!/bin/sh
case "$1" in
deconfig) ip -4 addr flush dev "$interface" ;;
bound|renew)
  ip -4 addr replace "$ip/$mask" dev "$interface"
  [ -n "$router" ] && ip -4 route replace default via "${router%% *}" dev "$interface"
  ;;
esac
exit 0
`

// DhclientOptions are what an ISC dhclient sends besides the defaults.
type DhclientOptions struct {
	ClientID    string // option 61 as a string; empty: none (chaddr identifies)
	VendorClass string // option 60
}

// Dhclient is an ISC dhclient running on a client.
type Dhclient struct {
	*lab.Proc
	cl   *Client
	args []string // -cf, -lf, -pf, -sf
}

// Dhclient starts `dhclient -4 -d -v` on the client's interface, with
// short retry intervals.
func (cl *Client) Dhclient(name string, o DhclientOptions) *Dhclient {
	t, dir := cl.c.t, cl.c.Lab.Dir()
	conf := "initial-interval 1;\nbackoff-cutoff 2;\nrequest subnet-mask, routers, dhcp-lease-time, dhcp-renewal-time, dhcp-rebinding-time;\n"
	if o.ClientID != "" {
		conf += fmt.Sprintf("send dhcp-client-identifier %q;\n", o.ClientID)
	}
	if o.VendorClass != "" {
		conf += fmt.Sprintf("send vendor-class-identifier %q;\n", o.VendorClass)
	}
	d := &Dhclient{cl: cl, args: []string{
		"-cf", write(t, dir, "dhclient.conf", conf, 0o644),
		"-lf", filepath.Join(dir, "dhclient.leases"),
		"-pf", filepath.Join(dir, "dhclient.pid"),
		"-sf", write(t, dir, "dhclient-script", dhclientScript, 0o755),
	}}
	d.Proc = cl.NS.Start(name, "dhclient", append(append([]string{"-4", "-d", "-v"}, d.args...), cl.Iface)...)
	return d
}

var dhclientBound = regexp.MustCompile(`bound to ([0-9.]+)`)

// WaitBound waits for the lease and returns the address.
func (d *Dhclient) WaitBound() (netip.Addr, error) {
	return waitAddr(d.Proc, "bound to ", dhclientBound)
}

// Release runs `dhclient -r`: the running dhclient is stopped and a
// DHCPRELEASE is sent (unicast to the server, through the gateway).
func (d *Dhclient) Release() (string, error) {
	return d.cl.NS.Exec("dhclient", append(append([]string{"-4", "-r", "-v"}, d.args...), d.cl.Iface)...)
}

// Udhcpc starts busybox udhcpc in the foreground with extra arguments
// (such as -x to send an option, -n to give up without a lease).
func (cl *Client) Udhcpc(name string, extra ...string) *lab.Proc {
	script := write(cl.c.t, cl.c.Lab.Dir(), "udhcpc-script", udhcpcScript, 0o755)
	args := append([]string{"-f", "-i", cl.Iface, "-s", script, "-t", "5", "-T", "1", "-A", "1"}, extra...)
	return cl.NS.Start(name, "udhcpc", args...)
}

var udhcpcBound = regexp.MustCompile(`lease of ([0-9.]+) obtained`)

// WaitUdhcpc waits for udhcpc's lease and returns the address.
func WaitUdhcpc(p *lab.Proc) (netip.Addr, error) {
	return waitAddr(p, "obtained", udhcpcBound)
}

func waitAddr(p *lab.Proc, marker string, re *regexp.Regexp) (netip.Addr, error) {
	if err := p.WaitFor(marker, leaseWait); err != nil {
		return netip.Addr{}, err
	}
	m := re.FindStringSubmatch(p.Output())
	if m == nil {
		return netip.Addr{}, fmt.Errorf("%s: no address in %q", p.Name, p.Output())
	}
	return netip.ParseAddr(m[1])
}

func write(t interface{ Fatalf(string, ...any) }, dir, name, content string, mode os.FileMode) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatalf("%v", err)
	}
	return path
}

// RenewByUnicast has udhcpc renew its lease of ip by unicast to server
// and waits until one such renewal is answered directly; timeout bounds
// each try against a hang.
//
// udhcpc sends a unicast renewal from a fresh socket bound to its address
// and connected to the server, and closes it right after sending (busybox
// udhcp_send_kernel_packet). An answer that arrives before the close
// matches that socket's addresses exactly and is lost with it; udhcpc then
// falls back to a broadcast renewal after its -T timeout (3 s by default).
// A CI run on a loaded machine saw this once in many runs (dhcpd ACKed
// both renewals), so the unicast renewal gets three tries, and one must be
// answered directly.
func RenewByUnicast(u *lab.Proc, server string, ip netip.Addr, timeout time.Duration) error {
	obtained := "udhcpc: lease of " + ip.String() + " obtained"
	direct := "sending renew to server " + server + "\n" + obtained
	for try := 1; try <= 3; try++ {
		out := u.Output()
		leases, answered := strings.Count(out, obtained), strings.Count(out, direct)
		if err := u.Signal(syscall.SIGUSR1); err != nil {
			return err
		}
		if err := u.WaitForCount(obtained, leases+1, timeout); err != nil {
			return fmt.Errorf("not answered: %w", err)
		}
		if strings.Count(u.Output(), direct) > answered {
			return nil
		}
	}
	return fmt.Errorf("three unicast renewals, each answered only after udhcpc's broadcast fallback:\n%s", u.Output())
}
