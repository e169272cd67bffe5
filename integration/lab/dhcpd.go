package lab

import (
	"os"
	"path/filepath"
	"time"
)

// DHCPD is an ISC dhcpd (Debian's isc-dhcp-server) running in a namespace,
// the real leasequery server of our tests.
type DHCPD struct {
	*Proc
	ConfPath   string
	LeasesPath string
}

// StartDHCPD writes conf and leases (the text of dhcpd.conf and of a lease
// file) into a fresh directory and runs `dhcpd -4 -f -d` on ifaces until
// it logs that it serves. It skips the test when dhcpd is not installed.
//
// dhcpd needs a subnet declaration for its own interface's network, and
// answers leasequeries only with `allow leasequery;` in the scope of the
// subnet containing giaddr (or globally): see shared/notes/peers.md.
func (n *NS) StartDHCPD(name, conf, leases string, ifaces ...string) *DHCPD {
	t := n.lab.t
	t.Helper()
	Need(t, "dhcpd")
	d := &DHCPD{}
	dir := t.TempDir()
	d.ConfPath = filepath.Join(dir, "dhcpd.conf")
	d.LeasesPath = filepath.Join(dir, "dhcpd.leases")
	if err := os.WriteFile(d.ConfPath, []byte(conf), 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	if err := os.WriteFile(d.LeasesPath, []byte(leases), 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	args := []string{"-4", "-f", "-d", "-cf", d.ConfPath, "-lf", d.LeasesPath,
		"-pf", filepath.Join(dir, "dhcpd.pid")}
	d.Proc = n.Start(name, "dhcpd", append(args, ifaces...)...)
	if err := d.WaitFor("Server starting service.", 60*time.Second); err != nil {
		t.Fatalf("dhcpd %s: %v", name, err)
	}
	return d
}

// Leases returns the current content of dhcpd's lease file.
func (d *DHCPD) Leases() (string, error) {
	b, err := os.ReadFile(d.LeasesPath)
	return string(b), err
}
