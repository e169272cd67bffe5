package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// The demo's upstream segment.
const (
	cardAddr   = "10.20.0.2"
	serverAddr = "10.20.0.1"
	subnet     = "192.168.30.0/24"
	leaseCount = 200
)

const topology = `
   dhcpd (ISC, %s)              line card (leaseguard, giaddr %s)
   [ns %s] ---- switch ---- [ns %s]
   %d subscriber leases in %s, with option 82 (circuit, modem)
`

func story(d *demo) {
	l := lab.New(d)
	lab.Need(d, "dhcpd")
	start := time.Now()

	step("1. Build the lab: an upstream segment with an ISC dhcpd that knows %d leases", leaseCount)
	sw := l.Switch("up")
	card, srv := l.NS("card"), l.NS("dhcpd")
	sw.Attach(card, "up0")
	sw.Attach(srv, "eth0")
	card.Addr("up0", cardAddr+"/24")
	srv.Addr("eth0", serverAddr+"/24")
	srv.StartDHCPD("dhcpd", dhcpdConf, demoLeases(time.Now()), "eth0")
	fmt.Printf(topology, serverAddr, cardAddr, srv.Name, card.Name, leaseCount, subnet)

	step("2. The card has rebooted: its table is empty. Ask the server about one address (RFC 4388 query by IP)")
	show(d, card, "query", "--server", serverAddr, "--giaddr", cardAddr, "--ip", "192.168.30.10")

	step("3. Ask by MAC and by client identifier: the server names the address")
	show(d, card, "query", "--server", serverAddr, "--giaddr", cardAddr, "--mac", mac(3))
	show(d, card, "query", "--server", serverAddr, "--giaddr", cardAddr, "--client-id", "010200000000"+fmt.Sprintf("%02x", 7))

	step("4. Recover the whole subnet with a paced sweep (per-server timer, adaptive window, RFC 2131 backoff)")
	out := show(d, card, "query", "--server", serverAddr, "--giaddr", cardAddr, "--sweep", subnet, "--bindings")
	if !strings.Contains(out, fmt.Sprintf("active %d ", leaseCount)) {
		d.Fatalf("the sweep did not recover all %d leases", leaseCount)
	}

	accessStory(d)
	next := enforceStory(d, 10)
	bpiStory(d, next)

	step("Done in %v; tearing the lab down", time.Since(start).Round(100*time.Millisecond))
}

func step(format string, args ...any) {
	fmt.Printf("\n== "+format+"\n", args...)
}

// show runs leaseguard in ns, prints its output (long tables cut to their
// head and tail) and returns it.
func show(d *demo, ns *lab.NS, args ...string) string {
	fmt.Printf("$ leaseguard %s\n", strings.Join(args, " "))
	out, err := ns.Exec(d.binary, args...)
	fmt.Print(cut(out, 12, 6))
	if err != nil {
		d.Fatalf("leaseguard %s: %v", args[0], err)
	}
	return out
}

// cut keeps the first head and last tail lines of s.
func cut(s string, head, tail int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= head+tail+1 {
		return s
	}
	return strings.Join(lines[:head], "") + fmt.Sprintf("   ... %d more lines ...\n", len(lines)-head-tail) + strings.Join(lines[len(lines)-tail:], "")
}

const dhcpdConf = `allow leasequery;
default-lease-time 3600;
max-lease-time 7200;
subnet 10.20.0.0 netmask 255.255.255.0 { }
subnet 192.168.30.0 netmask 255.255.255.0 { range 192.168.30.10 192.168.30.250; }
`

func mac(i int) string { return fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff) }

// demoLeases is the server's lease file: leaseCount active leases from
// 192.168.30.10, sixteen CPEs behind each modem, option 82 as a CMTS sends it.
func demoLeases(now time.Time) string {
	var b strings.Builder
	for i := range leaseCount {
		fmt.Fprintf(&b, "lease 192.168.30.%d {\n  starts epoch %d;\n  ends epoch %d;\n  cltt epoch %d;\n",
			10+i, now.Add(-time.Hour).Unix(), now.Add(time.Duration(30+i)*time.Minute).Unix(), now.Add(-time.Duration(i%60)*time.Minute).Unix())
		fmt.Fprintf(&b, "  binding state active;\n  next binding state free;\n  hardware ethernet %s;\n", mac(i))
		fmt.Fprintf(&b, "  uid \"\\001\\002\\000\\000\\000\\%03o\\%03o\";\n", i>>8, i&0xff)
		fmt.Fprintf(&b, "  set vendor-class-identifier = \"docsis3.0\";\n")
		fmt.Fprintf(&b, "  option agent.circuit-id \"cable1/0/%d\";\n  option agent.remote-id 00:10:95:00:00:%02x;\n}\n", i/16, i/16)
	}
	return b.String()
}
