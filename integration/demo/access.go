package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/leaseguard/leaseguard/integration/topo"
)

// accessStory runs the agent on a card with a cable port (two CPEs behind
// a modem) and a DSL port, relays the clients' DHCP, reboots the card and
// recovers the table by leasequery, and shows the console and the API.
func accessStory(d *demo) {
	step("5. A line card running `leaseguard agent`: a cable port (two CPEs behind modem 00:10:95:00:00:01) and a DSL port")
	c := topo.Build(d, nil, topo.Options{ClientsPerPort: 2})
	dhcpd := c.StartDHCPD(c.DHCPDConf(topo.DHCPDOptions{}))
	term := newConsole(d)
	configPath := c.LabConfig(func(cfg map[string]any) {
		cfg["console"] = map[string]any{"device": term.device}
		cfg["log"] = map[string]any{"level": "warn", "subsystems": map[string]any{"agent": "info"}}
	})
	agent := c.StartAgent(d.binary, configPath)
	fmt.Printf("   dhcpd %v  <--up0-->  card (giaddr %v; API %s)  <--sub0/sub1-->  4 clients\n",
		c.Layout.Servers[0], c.Layout.Upstream.Address, c.APISocket)

	step("6. The clients ask for addresses (ISC dhclient and busybox udhcpc); leaseguard relays with option 82 and gleans")
	start := time.Now()
	for i, cl := range c.Clients() {
		var ip netip.Addr
		var err error
		if i%2 == 0 {
			ip, err = cl.Dhclient("dhclient", topo.DhclientOptions{VendorClass: "docsis3.0"}).WaitBound()
		} else {
			ip, err = topo.WaitUdhcpc(cl.Udhcpc("udhcpc"))
		}
		if err != nil {
			d.Fatalf("client %s: %v", cl.MAC, err)
		}
		fmt.Printf("   client %s on %-10s got %v\n", cl.MAC, cl.Port.Layout.Name, ip)
	}
	fmt.Printf("   4 leases in %v\n", time.Since(start).Round(time.Millisecond))
	leases, _ := dhcpd.Leases()
	fmt.Println("   dhcpd stored the option 82 leaseguard inserted:")
	for _, line := range uniqueLines(leases, "option agent.") {
		fmt.Println("     " + line)
	}
	ctl(d, c, "bindings")

	step("7. The card reboots: the agent is killed and starts with an empty table, sweeping its subscriber networks by leasequery")
	agent.Signal(syscall.SIGKILL)
	<-agent.Done()
	start = time.Now()
	agent = c.StartAgent(d.binary, c.LabConfig(func(cfg map[string]any) {
		cfg["console"] = map[string]any{"device": term.device}
		cfg["log"] = map[string]any{"level": "warn", "subsystems": map[string]any{"agent": "info"}}
		cfg["leasequery"] = map[string]any{"sweep_on_start": true}
	}))
	waitBindings(d, c, 4)
	fmt.Printf("   4 bindings recovered in %v (source: leasequery, port found from the circuit-id in option 82)\n",
		time.Since(start).Round(time.Millisecond))
	ctl(d, c, "bindings")
	ctl(d, c, "servers")

	step("8. The field engineer's serial console (here a pseudo-terminal)")
	term.waitPrompt(d)
	for _, cmd := range []string{"show servers", "sh bi port dsl1/1", "leasequery ip " + firstIP(d, c)} {
		fmt.Print(term.run(d, cmd))
	}

	step("9. The management plane: the same operations over the /v1 API on a Unix socket")
	ctl(d, c, "servers")
	out := ctlOut(d, c, "metrics")
	fmt.Print(grepLines(out, "leaseguard_bindings", "leaseguard_leasequeries_total"))
	_ = agent
}

// ctl runs `leaseguard ctl ARGS` against the demo agent and prints it.
func ctl(d *demo, c *topo.Concentrator, args ...string) {
	fmt.Printf("$ leaseguard ctl %s\n", strings.Join(args, " "))
	fmt.Print(cut(ctlOut(d, c, args...), 14, 4))
}

func ctlOut(d *demo, c *topo.Concentrator, args ...string) string {
	out, err := c.Card.Exec(d.binary, append([]string{"ctl", "--socket", c.APISocket}, args...)...)
	if err != nil {
		d.Fatalf("ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// waitBindings polls the API until the table holds n bindings.
func waitBindings(d *demo, c *topo.Concentrator, n int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := c.Card.Exec(d.binary, "ctl", "--socket", c.APISocket, "--json", "bindings")
		if err == nil && strings.Count(out, `"ip"`) >= n {
			return
		}
		time.Sleep(200 * time.Millisecond) // polling a demo, not a test
	}
	d.Fatalf("the table did not reach %d bindings within a minute", n)
}

func firstIP(d *demo, c *topo.Concentrator) string {
	var page struct {
		Bindings []struct {
			IP string `json:"ip"`
		} `json:"bindings"`
	}
	out := ctlOut(d, c, "--json", "bindings")
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Bindings) == 0 {
		d.Fatalf("no binding in %s (%v)", out, err)
	}
	return page.Bindings[0].IP
}

func uniqueLines(s, prefix string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, prefix) && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

func grepLines(s string, prefixes ...string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				b.WriteString("   " + l + "\n")
				break
			}
		}
	}
	return b.String()
}
