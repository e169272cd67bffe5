package relay

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leaseguard/leaseguard/lq"
)

// routed is what a reconfiguration test checks of a client-side
// Decision: where it went and the option 82 it carried.
type routed struct {
	Verdict Verdict
	Reason  Reason
	Servers []string
	Opt82   []byte
}

func summarizeRouted(t *testing.T, d Decision) routed {
	t.Helper()
	s := routed{Verdict: d.Verdict, Reason: d.Reason}
	if d.Verdict != ToServers {
		return s
	}
	for _, a := range d.Servers {
		s.Servers = append(s.Servers, a.String())
	}
	if v, ok := parse(t, d.Msg).Option(lq.OptAgentInfo); ok {
		s.Opt82 = bytes.Clone(v)
	}
	return s
}

// reconfigured is testConfig with the cable port's circuit-id and
// remote-id changed, one server instead of two and another relay-id.
func reconfigured() Config {
	c := testConfig()
	c.Servers = []netip.Addr{server2}
	c.RelayID = []byte("card-9")
	c.Ports[portCable].CircuitID = []byte("cable1/0/0-b")
	c.Ports[portCable].RemoteID = []byte("modem-b")
	return c
}

var cableOpt82B = cat(
	sub(1, []byte("cable1/0/0-b")),
	sub(2, []byte("modem-b")),
	sub(4, []byte{0, 0, 0, 1}),
	sub(12, []byte("card-9")),
)

func TestReconfigure(t *testing.T) {
	r := newRelay(t, testConfig())
	up := ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: discover(1).bytes()}
	all := []string{"10.0.0.1:67", "10.0.0.3:67"}
	if diff := cmp.Diff(routed{Verdict: ToServers, Servers: all, Opt82: cableOpt82}, summarizeRouted(t, r.FromClient(t0, up, buf()))); diff != "" {
		t.Fatalf("before (-want +got):\n%s", diff)
	}
	if err := r.Reconfigure(reconfigured()); err != nil {
		t.Fatal(err)
	}
	want := routed{Verdict: ToServers, Servers: []string{"10.0.0.3:67"}, Opt82: cableOpt82B}
	if diff := cmp.Diff(want, summarizeRouted(t, r.FromClient(t0, up, buf()))); diff != "" {
		t.Errorf("after (-want +got):\n%s", diff)
	}
	if got := r.Ports().Port(portCable).CircuitID; string(got) != "cable1/0/0-b" {
		t.Errorf("PortMap circuit-id %q after Reconfigure", got)
	}
	// A reply with the new option is the cable port's; one with the old
	// option (a request relayed before the change) no longer matches.
	newReply := reply(lq.Offer, 1, gwCable, leased, cableOpt82B).bytes()
	if d := r.FromServer(t0, fromServer, newReply, buf()); d.Verdict != ToClient || d.Port != portCable {
		t.Errorf("reply with the new option 82: %v %v", d.Verdict, d.Reason)
	}
	oldReply := reply(lq.Offer, 1, gwCable, leased, cableOpt82).bytes()
	if d := r.FromServer(t0, fromServer, oldReply, buf()); d.Verdict != Drop || d.Reason != UnknownCircuit {
		t.Errorf("reply with the old option 82: %v %v, want a drop for unknown circuit", d.Verdict, d.Reason)
	}
	// And back: the first configuration is whole again.
	if err := r.Reconfigure(testConfig()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(routed{Verdict: ToServers, Servers: all, Opt82: cableOpt82}, summarizeRouted(t, r.FromClient(t0, up, buf()))); diff != "" {
		t.Errorf("after undoing (-want +got):\n%s", diff)
	}
}

func TestReconfigureTrustAndHops(t *testing.T) {
	r := newRelay(t, testConfig())
	with82 := discover(1)
	with82.opts = append(with82.opts, lq.Option{Code: lq.OptAgentInfo, Data: sub(1, []byte("from-client"))})
	m := ClientMsg{Port: portDSL, Broadcast: true, DstIP: bcastIP, Payload: with82.bytes()}
	if d := r.FromClient(t0, m, buf()); d.Reason != ClientOption82 {
		t.Fatalf("untrusted port: %v %v", d.Verdict, d.Reason)
	}
	c := testConfig()
	c.Ports[portDSL].Trusted, c.Ports[portDSL].Policy = true, PolicyReplace
	c.MaxHops = 1
	if err := r.Reconfigure(c); err != nil {
		t.Fatal(err)
	}
	if got := summarizeRouted(t, r.FromClient(t0, m, buf())); got.Verdict != ToServers || !bytes.Equal(got.Opt82, dslOpt82) {
		t.Errorf("trusted, replace: %+v, want relayed with our option 82", got)
	}
	hopped := discover(2)
	hopped.hops = 1
	if d := r.FromClient(t0, ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: hopped.bytes()}, buf()); d.Reason != HopLimit {
		t.Errorf("max hops 1, hops 1: %v %v, want hop limit", d.Verdict, d.Reason)
	}
}

func TestReconfigureRefused(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"port removed", func(c *Config) { c.Ports = c.Ports[:2] }},
		{"port added", func(c *Config) {
			c.Ports = append(c.Ports, PortConfig{Name: "x", Interface: "sub9", Gateway: gwDSL, CircuitID: []byte("x")})
		}},
		{"interface changed", func(c *Config) { c.Ports[portDSL].Interface = "sub8" }},
		{"no servers", func(c *Config) { c.Servers = nil }},
		{"duplicate circuit", func(c *Config) { c.Ports[portDSL].CircuitID = []byte("cable1/0/0-b") }},
		{"request memory", func(c *Config) { c.RecentRequests = 10 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRelay(t, testConfig())
			before := r.Ports().Ports()
			c := reconfigured()
			tt.edit(&c)
			if err := r.Reconfigure(c); err == nil {
				t.Fatal("Reconfigure accepted it")
			}
			if diff := cmp.Diff(before, r.Ports().Ports(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("a refused Reconfigure changed the ports (-before +after):\n%s", diff)
			}
		})
	}
}

// TestReconfigureUnderLoad decides messages on several goroutines while
// the configuration flips between two: every message goes out wholly
// under one of them (servers and option 82 from the same one). Run with
// -race.
func TestReconfigureUnderLoad(t *testing.T) {
	r := newRelay(t, testConfig())
	a := routed{Verdict: ToServers, Servers: []string{"10.0.0.1:67", "10.0.0.3:67"}, Opt82: cableOpt82}
	b := routed{Verdict: ToServers, Servers: []string{"10.0.0.3:67"}, Opt82: cableOpt82B}
	m := ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: discover(1).bytes()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			scratch := buf()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got := summarizeRouted(t, r.FromClient(t0, m, scratch))
				if !cmp.Equal(got, a) && !cmp.Equal(got, b) {
					t.Errorf("a message mixed two configurations: %+v", got)
					return
				}
			}
		})
	}
	for i := range 2000 {
		cfg := testConfig()
		if i%2 == 0 {
			cfg = reconfigured()
		}
		if err := r.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
