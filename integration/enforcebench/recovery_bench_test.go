package enforcebench

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
	"github.com/leaseguard/leaseguard/nft/nfttest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	code := m.Run()
	topo.RemoveBinary()
	os.Exit(code)
}

// The recovery lab: a card with two ports of 5,000 subscribers each, ISC
// dhcpd holding their 10,000 leases (option 82 naming the port).
const recoveryCard = `{
  "upstream": { "interface": "up0", "address": "10.20.0.2" },
  "servers": ["10.20.0.1"],
  "subscriber_networks": ["10.30.0.0/19", "10.30.32.0/19"],
  "ports": [
    { "name": "p0", "interface": "sub0", "kind": "ethernet", "gateway": "10.30.0.1" },
    { "name": "p1", "interface": "sub1", "kind": "ethernet", "gateway": "10.30.32.1" }
  ]
}`

const recoveryDHCPD = `authoritative;
allow leasequery;
ping-check false;
default-lease-time 3600;
max-lease-time 7200;
subnet 10.20.0.0 netmask 255.255.255.0 { }
subnet 10.30.0.0 netmask 255.255.224.0 { range 10.30.0.10 10.30.31.250; }
subnet 10.30.32.0 netmask 255.255.224.0 { range 10.30.32.10 10.30.63.250; }
`

const (
	subscribers = 10_000
	perPort     = subscribers / 2
	sendPeriod  = time.Second // each subscriber sends once a second
)

var portBase = [2]netip.Addr{netip.MustParseAddr("10.30.0.10"), netip.MustParseAddr("10.30.32.10")}

// subscriber j lives on port j/perPort.
func subscriber(j int) (port int, ip netip.Addr, mac [6]byte) {
	port = j / perPort
	ip, hw := source(portBase[port], j%perPort)
	copy(mac[:], hw)
	mac[2], mac[3], mac[4], mac[5] = byte(j>>24), byte(j>>16), byte(j>>8), byte(j)
	return port, ip, mac
}

// recoveryLeases is dhcpd's lease file: every subscriber's active lease.
func recoveryLeases(now time.Time) string {
	var b strings.Builder
	for j := range subscribers {
		port, ip, mac := subscriber(j)
		fmt.Fprintf(&b, "lease %v {\n  starts epoch %d;\n  ends epoch %d;\n  cltt epoch %d;\n", ip,
			now.Add(-time.Hour).Unix(), now.Add(2*time.Hour).Unix(), now.Add(-time.Minute).Unix())
		fmt.Fprintf(&b, "  binding state active;\n  next binding state free;\n  hardware ethernet %02x:%02x:%02x:%02x:%02x:%02x;\n",
			mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
		fmt.Fprintf(&b, "  option agent.circuit-id \"p%d\";\n}\n", port)
	}
	return b.String()
}

// recoveryLab is the card, dhcpd, the subscribers' generators (sending
// throughout) and a sink that records every source it has seen since it
// was last reset (a dynamic nftables set in the server's ingress).
type recoveryLab struct {
	c      *topo.Concentrator
	bin    string
	snap   string
	sinkNS int // the server namespace's file descriptor
}

func newRecoveryLab(b *testing.B) *recoveryLab {
	b.Helper()
	lab.Need(b, "dhcpd", "nft")
	c := topo.Build(b, []byte(recoveryCard), topo.Options{})
	r := &recoveryLab{c: c, bin: topo.Binary(b), snap: filepath.Join(b.TempDir(), "bindings.snap")}
	c.Server.StartDHCPD("dhcpd", recoveryDHCPD, recoveryLeases(time.Now()), "eth0")
	f, err := c.Server.Fd()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	r.sinkNS = int(f.Fd())
	c.Server.MustExec("nft", `table netdev sink {
		set seen { type ipv4_addr; size 65536; flags dynamic; }
		chain in { type filter hook ingress device eth0 priority 0; udp dport 9000 add @seen { ip saddr } drop; }
	}`)
	var gens []*generator
	for p, port := range c.Ports {
		mac := nfttest.InterfaceMAC(b, c.Card, port.Layout.Interface)
		var frames [][]byte
		for j := p * perPort; j < (p+1)*perPort; j++ {
			_, ip, src := subscriber(j)
			frames = append(frames, udpFrame(src[:], mac, ip, c.Layout.Servers[0], 9000, j))
		}
		gens = append(gens, openGenerator(b, port.Clients[0].NS, port.Clients[0].Iface, frames))
	}
	paceAll(b, sendPeriod, gens...)
	return r
}

// config writes the agent's configuration for a mode of recovery.
func (r *recoveryLab) config(sweep, snapshot bool) string {
	return r.c.LabConfig(func(cfg map[string]any) {
		cfg["enforcement"] = map[string]any{"enabled": true, "forwarding": true,
			"per_port_queries": 10000, "per_port_interval": "1s", "downstream_queries_per_second": 1000}
		cfg["leasequery"] = map[string]any{"max_outstanding": 200, "sweep_on_start": sweep}
		if snapshot {
			cfg["snapshot"] = map[string]any{"path": r.snap, "write_delay": "1s"}
		}
		cfg["log"] = map[string]any{"level": "warn", "subsystems": map[string]any{"agent": "info", "nft": "info"}}
	})
}

// reboot kills the agent and wipes what a reboot wipes.
func (r *recoveryLab) reboot(a *topo.Agent) {
	if a != nil {
		a.Signal(syscall.SIGKILL)
		<-a.Done()
	}
	card := r.c.Card
	card.MustExec("sysctl", "-qw", "net.ipv4.ip_forward=0")
	card.Exec("nft", "delete", "table", "netdev", "leaseguard")
	card.Exec("nft", "delete", "table", "ip", "leaseguard")
	card.MustIP("route", "flush", "proto", "108")
	for _, p := range []string{"sub0", "sub1"} {
		card.MustIP("neigh", "flush", "dev", p, "nud", "all")
	}
}

// seen is how many subscribers' packets reached the server since reset:
// the sink set's elements, counted from a netlink dump (nft(8) would
// spend more CPU printing 10,000 elements than the card spends on them).
func (r *recoveryLab) seen(b *testing.B) int {
	b.Helper()
	n, err := countSet(r.sinkNS, "sink", "seen")
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func (r *recoveryLab) reset() { r.c.Server.MustExec("nft", "flush", "set", "netdev", "sink", "seen") }

// recover reboots the card and starts the agent with configPath; it
// returns the agent and how long until 90% and all subscribers' packets
// reached the server (to within the 50 ms of polling; each subscriber
// sends once a second, so its recovery includes up to a second's wait for
// its next packet).
func (r *recoveryLab) recover(b *testing.B, a *topo.Agent, configPath string) (*topo.Agent, time.Duration, time.Duration) {
	b.Helper()
	r.reboot(a)
	r.reset()
	start := time.Now()
	a = r.c.StartAgent(r.bin, configPath)
	var p90 time.Duration
	deadline := start.Add(3 * time.Minute)
	for {
		n := r.seen(b)
		if p90 == 0 && n >= subscribers*9/10 {
			p90 = time.Since(start)
		}
		if n >= subscribers {
			return a, p90, time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d subscribers passing after %v", n, subscribers, time.Since(start))
		}
		time.Sleep(50 * time.Millisecond) // nothing signals the sink: poll
	}
}

// BenchmarkRecovery10k reboots a card serving 10,000 subscribers that send
// once a second each, and measures how long until every subscriber's
// traffic passes again: on demand (each subscriber's first packet
// reported and answered by a leasequery), by a start-up sweep of the
// subscriber networks, and from a snapshot whose hints are confirmed at
// start. Reports seconds until 90% and 100% pass (agent start included).
func BenchmarkRecovery10k(b *testing.B) {
	r := newRecoveryLab(b)
	var a *topo.Agent
	modes := []struct {
		name            string
		sweep, snapshot bool
		prepare         func(b *testing.B)
	}{
		{name: "on-demand"},
		{name: "sweep", sweep: true},
		{name: "snapshot", snapshot: true, prepare: func(b *testing.B) {
			// A card that knows everyone writes its snapshot, then reboots.
			a, _, _ = r.recover(b, a, r.config(true, true))
			for deadline := time.Now().Add(time.Minute); snapshotted(b, a) < subscribers; {
				if time.Now().After(deadline) {
					b.Fatalf("no snapshot of every binding written within a minute")
				}
				time.Sleep(100 * time.Millisecond) // polling the agent's stats
			}
		}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			var p90, all time.Duration
			var queries, retrans float64
			for range b.N {
				if m.prepare != nil {
					b.StopTimer()
					m.prepare(b)
					b.StartTimer()
				}
				var t90, t100 time.Duration
				a, t90, t100 = r.recover(b, a, r.config(m.sweep, m.snapshot))
				p90 += t90
				all += t100
				q, rt := leasequeries(b, a)
				queries += q
				retrans += rt
			}
			b.ReportMetric(p90.Seconds()/float64(b.N), "s-to-90%")
			b.ReportMetric(all.Seconds()/float64(b.N), "s-to-all")
			b.ReportMetric(queries/float64(b.N), "leasequeries")
			b.ReportMetric(retrans/float64(b.N), "retransmitted")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// countSet counts the elements of a netdev-family set in namespace ns.
func countSet(ns int, table, set string) (int, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetReadBuffer(1 << 20)
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: append([]byte(table), 0)},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: append([]byte(set), 0)},
	})
	if err != nil {
		return 0, err
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request | netlink.Dump},
		Data: append([]byte{unix.NFPROTO_NETDEV, unix.NFNETLINK_V0, 0, 0}, attrs...),
	})
	if err != nil {
		return 0, fmt.Errorf("dump %s %s: %w", table, set, err)
	}
	n := 0
	for _, m := range msgs {
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, err
		}
		for ad.Next() {
			if ad.Type() == unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				ad.Nested(func(nad *netlink.AttributeDecoder) error {
					for nad.Next() {
						n++
					}
					return nil
				})
			}
		}
		if err := ad.Err(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// leasequeries is how many queries the agent sent and retransmitted.
func leasequeries(b *testing.B, a *topo.Agent) (sent, retransmitted float64) {
	b.Helper()
	st, err := a.Stats()
	if err != nil {
		b.Fatal(err)
	}
	lq, _ := st["Leasequery"].(map[string]any)
	sent, _ = lq["Sent"].(float64)
	retransmitted, _ = lq["Retransmitted"].(float64)
	return sent, retransmitted
}

// snapshotted is how many bindings the agent's last snapshot holds.
func snapshotted(b *testing.B, a *topo.Agent) int {
	b.Helper()
	st, err := a.Stats()
	if err != nil {
		b.Fatal(err)
	}
	en, _ := st["Enforcement"].(map[string]any)
	snap, _ := en["Snapshot"].(map[string]any)
	n, _ := snap["LastBindings"].(float64)
	return int(n)
}
