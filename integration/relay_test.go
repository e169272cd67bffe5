package integration

import (
	"encoding/hex"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
)

func TestMain(m *testing.M) {
	code := m.Run()
	topo.RemoveBinary()
	os.Exit(code)
}

// hang bounds every wait below: a guard against a hang, never a timing.
const hang = 90 * time.Second

// The option 82 the example configuration makes leaseguard insert,
// written out from RFC 3046 (circuit-id 1, remote-id 2), RFC 3256 (DOCSIS
// device class 4) and RFC 6925 (relay-id 12).
var (
	cableOpt82 = "01" + "0a" + hex.EncodeToString([]byte("cable1/0/0")) +
		"02" + "06" + "001095000001" +
		"04" + "04" + "00000001" +
		"0c" + "06" + hex.EncodeToString([]byte("card-7"))
	dslOpt82 = "01" + "06" + hex.EncodeToString([]byte("dsl1/1")) +
		"02" + "09" + hex.EncodeToString([]byte("line-0042")) +
		"0c" + "06" + hex.EncodeToString([]byte("card-7"))
)

// lease is what one client got and what the table must say about it.
type lease struct {
	client *topo.Client
	ip     netip.Addr
	port   string
	modem  string
	opt82  string
	vendor string
}

// TestRelayEndToEnd: Debian's dhclient and busybox udhcpc on a cable port
// (behind a modem) and a DSL port get leases from ISC dhcpd through
// `leaseguard agent`; dhcpd stores the option 82 leaseguard inserted; the
// table places every client on its port and modem; a leasequery for each
// address returns that option 82 byte for byte; renewals are relayed and
// gleaned; a release and an expiry remove bindings; SIGTERM stops the
// agent cleanly.
func TestRelayEndToEnd(t *testing.T) {
	lab.Need(t, "dhcpd", "dhclient", "udhcpc")
	c := topo.Build(t, nil, topo.Options{ClientsPerPort: 2})
	dhcpd := c.StartDHCPD(c.DHCPDConf(topo.DHCPDOptions{Lease: 20 * time.Second}))
	agent := c.StartAgent(topo.Binary(t), c.LabConfig(nil))
	watch, err := agent.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()

	cable, dsl := c.Ports[0], c.Ports[1]
	dhA := cable.Clients[0].Dhclient("dhclient-cable", topo.DhclientOptions{ClientID: "cpe-a", VendorClass: "lg-test-a"})
	udB := cable.Clients[1].Udhcpc("udhcpc-cable")
	dhC := dsl.Clients[0].Dhclient("dhclient-dsl", topo.DhclientOptions{VendorClass: "lg-test-c"})
	udD := dsl.Clients[1].Udhcpc("udhcpc-dsl")
	leases := []lease{
		{client: cable.Clients[0], ip: bound(t, dhA.WaitBound), port: "cable1/0/0", modem: "00:10:95:00:00:01", opt82: cableOpt82, vendor: "lg-test-a"},
		{client: cable.Clients[1], ip: bound(t, func() (netip.Addr, error) { return topo.WaitUdhcpc(udB) }), port: "cable1/0/0", modem: "00:10:95:00:00:01", opt82: cableOpt82, vendor: "udhcp 1.35.0"},
		{client: dsl.Clients[0], ip: bound(t, dhC.WaitBound), port: "dsl1/1", opt82: dslOpt82, vendor: "lg-test-c"},
		{client: dsl.Clients[1], ip: bound(t, func() (netip.Addr, error) { return topo.WaitUdhcpc(udD) }), port: "dsl1/1", opt82: dslOpt82, vendor: "udhcp 1.35.0"},
	}

	t.Run("table places each client on its port and modem", func(t *testing.T) {
		err := watch.Until(hang, func(s map[netip.Addr]topo.Binding) bool {
			for _, l := range leases {
				if _, ok := s[l.ip]; !ok {
					return false
				}
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leases {
			b := watch.State[l.ip]
			if b.Port != l.port || b.CircuitID != l.port || b.Modem != l.modem || b.MAC != l.client.MAC.String() ||
				b.Option82 != l.opt82 || b.VendorClass != l.vendor || b.Source != "gleaned" {
				t.Errorf("binding of %v:\n got %+v\nwant port %s modem %q mac %v option82 %s vendor %q, gleaned",
					l.ip, b, l.port, l.modem, l.client.MAC, l.opt82, l.vendor)
			}
		}
		if id := watch.State[leases[0].ip].ClientID; id != hex.EncodeToString([]byte("cpe-a")) {
			t.Errorf("dhclient's client-id in the table: %q, want hex of cpe-a", id)
		}
	})

	t.Run("dhcpd stored the option 82 leaseguard inserted", func(t *testing.T) {
		leaseFile, err := dhcpd.Leases()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leases {
			block := leaseBlock(leaseFile, l.ip)
			wantRemote := `option agent.remote-id "line-0042";`
			if l.modem != "" {
				wantRemote = "option agent.remote-id 0:10:95:0:0:1;"
			}
			for _, want := range []string{`option agent.circuit-id "` + l.port + `";`, wantRemote} {
				if !strings.Contains(block, want) {
					t.Errorf("dhcpd lease of %v lacks %q:\n%s", l.ip, want, block)
				}
			}
		}
	})

	t.Run("leasequery returns the gleaned option 82 byte for byte", func(t *testing.T) {
		for _, l := range leases {
			r, err := agent.Query(l.ip)
			if err != nil {
				t.Fatal(err)
			}
			if r.Type != "DHCPLEASEACTIVE" || r.Binding == nil {
				t.Errorf("leasequery %v: %+v", l.ip, r)
				continue
			}
			if got, gleaned := r.Binding.Option82, watch.State[l.ip].Option82; got != gleaned {
				t.Errorf("leasequery %v: option 82 %s, gleaned %s", l.ip, got, gleaned)
			}
		}
	})

	t.Run("renewals are relayed and gleaned", func(t *testing.T) {
		first := watch.State[leases[0].ip].LastTx
		err := watch.Until(hang, func(s map[netip.Addr]topo.Binding) bool { return s[leases[0].ip].LastTx.After(first) })
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("release removes", func(t *testing.T) {
		if out, err := dhC.Release(); err != nil {
			t.Fatalf("dhclient -r: %v\n%s", err, out)
		}
		waitRemoved(t, watch, leases[2].ip, "released")
	})

	t.Run("expiry removes", func(t *testing.T) {
		udD.Signal(syscall.SIGKILL) // gone without a DHCPRELEASE
		waitRemoved(t, watch, leases[3].ip, "expired")
	})

	t.Run("SIGTERM stops the agent cleanly", func(t *testing.T) {
		agent.Signal(syscall.SIGTERM)
		select {
		case <-agent.Done():
		case <-time.After(hang):
			t.Fatal("agent still running after SIGTERM")
		}
		if _, err := agent.Exited(); err != nil {
			t.Errorf("agent exit: %v\n%s", err, agent.Output())
		}
		if !strings.Contains(agent.Output(), `msg="agent stopped"`) {
			t.Errorf("no stop line in the agent's log:\n%s", agent.Output())
		}
		if out, _ := c.Card.Exec("ss", "-Hlnpu", "sport = :67"); strings.TrimSpace(out) != "" {
			t.Errorf("port 67 still bound in the card namespace:\n%s", out)
		}
	})
}

// TestRelayRefusesClientOption82: a client sending its own option 82 on
// an untrusted port gets nothing (busybox udhcpc -x 0x52:...), the relay
// counts it and dhcpd never hears the client; the same client without the
// option gets a lease. Then a port's interface is deleted under the
// running agent: the other port keeps relaying.
func TestRelayRefusesClientOption82(t *testing.T) {
	lab.Need(t, "dhcpd", "udhcpc")
	c := topo.Build(t, nil, topo.Options{})
	dhcpd := c.StartDHCPD(c.DHCPDConf(topo.DHCPDOptions{}))
	agent := c.StartAgent(topo.Binary(t), c.LabConfig(nil))
	cl := c.Ports[0].Clients[0]

	evil := cl.Udhcpc("udhcpc-option82", "-n", "-t", "3", "-x", "0x52:0105"+hex.EncodeToString([]byte("evil!")))
	select {
	case <-evil.Done():
	case <-time.After(hang):
		t.Fatal("udhcpc with option 82 did not give up")
	}
	if strings.Contains(evil.Output(), "obtained") {
		t.Fatalf("a client sending option 82 on an untrusted port got a lease:\n%s", evil.Output())
	}
	stats, err := agent.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if n := dropped(stats, 7 /* relay.ClientOption82 */); n < 3 {
		t.Errorf("relay counted %v client option 82 drops, want the 3 DHCPDISCOVERs; stats %v", n, stats["Relay"])
	}
	if strings.Contains(strings.ToLower(dhcpd.Output()), strings.ToLower(cl.MAC.String())) {
		t.Errorf("dhcpd heard the client that sent option 82:\n%s", dhcpd.Output())
	}

	ok := cl.Udhcpc("udhcpc-plain")
	ip := bound(t, func() (netip.Addr, error) { return topo.WaitUdhcpc(ok) })
	watch, err := agent.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	if err := watch.Until(hang, func(s map[netip.Addr]topo.Binding) bool { _, ok := s[ip]; return ok }); err != nil {
		t.Fatal(err)
	}

	// Take port dsl1/1 away; the cable port must go on: a renewal there
	// (udhcpc's SIGUSR1) is relayed both ways.
	c.Card.MustIP("link", "del", c.Ports[1].Layout.Interface)
	if err := topo.RenewByUnicast(ok, c.Layout.Servers[0].String(), ip, hang); err != nil {
		t.Fatalf("no renewal on the cable port after the DSL port went away: %v\n%s", err, agent.Output())
	}
	if done, err := agent.Exited(); done {
		t.Fatalf("agent exited after losing a port: %v\n%s", err, agent.Output())
	}
}

func bound(t *testing.T, wait func() (netip.Addr, error)) netip.Addr {
	t.Helper()
	ip, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	return ip
}

func waitRemoved(t *testing.T, w *topo.Watch, ip netip.Addr, reason string) {
	t.Helper()
	err := w.Until(hang, func(s map[netip.Addr]topo.Binding) bool { _, ok := s[ip]; return !ok })
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range w.Events {
		if e.Kind == "removed" && e.Old != nil && e.Old.IP == ip && e.Reason != reason {
			t.Errorf("%v removed as %q, want %q", ip, e.Reason, reason)
		}
	}
}

// leaseBlock returns the last `lease IP { ... }` block of a dhcpd lease file.
func leaseBlock(file string, ip netip.Addr) string {
	re := regexp.MustCompile(`(?s)lease ` + regexp.QuoteMeta(ip.String()) + ` \{.*?\n\}`)
	all := re.FindAllString(file, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

// dropped reads Relay.Dropped[reason] from the agent's stats JSON.
func dropped(stats map[string]any, reason int) float64 {
	relay, _ := stats["Relay"].(map[string]any)
	d, _ := relay["Dropped"].(map[string]any)
	n, _ := d[strconv.Itoa(reason)].(float64)
	return n
}

// TestRelayRenewalToGateway: a client whose server identifier is the
// port's gateway (what an RFC 5107 server-id override achieves; here
// dhcpd is told to name the gateway) renews by unicast to gateway:67.
// leaseguard relays the renewal (option 82 and all), and the card sends no
// ICMP port unreachable for it: the gateway's port 67 is bound.
func TestRelayRenewalToGateway(t *testing.T) {
	lab.Need(t, "dhcpd", "udhcpc")
	c := topo.Build(t, nil, topo.Options{})
	dhcpd := c.StartDHCPD(c.DHCPDConf(topo.DHCPDOptions{GatewayServerID: true}))
	agent := c.StartAgent(topo.Binary(t), c.LabConfig(func(cfg map[string]any) {
		cfg["relay"] = map[string]any{"server_id_override": true}
	}))
	gw := c.Ports[0].Layout.Gateway.String()
	u := c.Ports[0].Clients[0].Udhcpc("udhcpc")
	ip := bound(t, func() (netip.Addr, error) { return topo.WaitUdhcpc(u) })
	if !strings.Contains(u.Output(), "obtained from "+gw) {
		t.Fatalf("server identifier is not the gateway %s:\n%s", gw, u.Output())
	}
	icmp0 := snmp(t, c.Card, "Icmp", "OutDestUnreachs")
	if err := topo.RenewByUnicast(u, gw, ip, hang); err != nil {
		t.Fatalf("renewal to the gateway: %v\n%s\n%s", err, agent.Output(), dhcpd.Output())
	}
	if n := snmp(t, c.Card, "Icmp", "OutDestUnreachs"); n != icmp0 {
		t.Errorf("the card sent %d ICMP destination unreachable during the renewal", n-icmp0)
	}
	// dhcpd names the relay a message came through: the renewal (no
	// server identifier in parentheses, unlike the first request) was
	// relayed with giaddr, not routed.
	if want := "DHCPREQUEST for " + ip.String() + " from " + c.Ports[0].Clients[0].MAC.String() + " via " + gw; !strings.Contains(dhcpd.Output(), want) {
		t.Errorf("dhcpd did not see the renewal relayed (%q):\n%s", want, dhcpd.Output())
	}
}

// snmp reads one counter of /proc/net/snmp in ns.
func snmp(t *testing.T, ns *lab.NS, proto, name string) int {
	t.Helper()
	out, err := ns.Exec("cat", "/proc/net/snmp")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != proto+":" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == name {
				v, _ := strconv.Atoi(f[i])
				return v
			}
		}
	}
	t.Fatalf("no %s %s in /proc/net/snmp", proto, name)
	return 0
}
