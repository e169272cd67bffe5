package agent

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/relay"
)

func exampleConfig(t *testing.T) *config.Config {
	t.Helper()
	data, err := os.ReadFile("../../../docs/agent.example.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(data)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	return c
}

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// TestRelayConfigFromExample: the example config's cable port sends its
// modem as remote-id with device class 1, its DSL port the configured
// remote-id, both under the card's relay-id.
func TestRelayConfigFromExample(t *testing.T) {
	modem := net.HardwareAddr{0x00, 0x10, 0x95, 0x00, 0x00, 0x01}
	want := relay.Config{
		Upstream: netip.MustParseAddr("10.0.0.2"), Servers: []netip.Addr{netip.MustParseAddr("10.0.0.1")},
		MaxHops: 10, Renewals: relay.RelayRenewals, RelayID: []byte("card-7"),
		Ports: []relay.PortConfig{
			{Name: "cable1/0/0", Interface: "sub0", Gateway: netip.MustParseAddr("192.168.10.1"), CircuitID: []byte("cable1/0/0"),
				RemoteID: modem, Modem: modem, DeviceClass: 1, HasDeviceClass: true},
			{Name: "dsl1/1", Interface: "sub1", Gateway: netip.MustParseAddr("192.168.20.1"), CircuitID: []byte("dsl1/1"),
				RemoteID: []byte("line-0042")},
		},
	}
	if diff := cmp.Diff(want, relayConfig(exampleConfig(t)), addrCmp); diff != "" {
		t.Errorf("relay config (-want +got):\n%s", diff)
	}
}

func TestNewRefusesWhatTheRelayCannotRun(t *testing.T) {
	c := exampleConfig(t)
	c.Ports[1].SubscriberID = string(make([]byte, 250)) // option 82 beyond 255 octets
	_, err := New(c, Options{})
	if _, ok := err.(*ConfigError); !ok || err.Error() == "" {
		t.Fatalf("New: %v, want a ConfigError", err)
	}
	if got, want := err.Error()[:len("relay: ports[1] (dsl1/1)")], "relay: ports[1] (dsl1/1)"; got != want {
		t.Errorf("error %q does not name the port", err)
	}
}

// TestLeasequeryResultsIntoTable: an ACTIVE answer is placed on the port
// its option 82 names; a foreign one is not; it replaces a gleaned binding
// only when newer; UNASSIGNED removes a leasequery binding, not a gleaned one.
func TestLeasequeryResultsIntoTable(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a, err := New(exampleConfig(t), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ours := a.relay.Ports().Port(1).AgentInfo
	foreign, _ := lq.NewAgentInfo([]byte("dsl1/1"), nil)
	_ = foreign.SetRelayID([]byte("card-8"))
	ip1, ip2 := netip.MustParseAddr("192.168.20.7"), netip.MustParseAddr("192.168.20.8")
	active := func(ip netip.Addr, ai lq.AgentInfo, lastTx time.Time) engine.Result {
		return engine.Result{Type: lq.LeaseActive, Binding: lq.Binding{IP: ip, HType: 1, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 7},
			Expiry: now.Add(time.Hour), LastTransaction: lastTx, AgentInfo: ai}}
	}
	a.onResult(active(ip1, ours, now.Add(-time.Minute)))
	if b, ok := a.table.ByIP(ip1); !ok || b.Port != "dsl1/1" || b.Source != location.Leasequery {
		t.Fatalf("after ACTIVE: %+v, %v", b, ok)
	}
	a.onResult(active(ip2, foreign, now))
	if _, ok := a.table.ByIP(ip2); ok {
		t.Error("another card's binding was placed in the table")
	}
	a.onResult(engine.Result{Type: lq.LeaseUnassigned, Binding: lq.Binding{IP: ip1}})
	if _, ok := a.table.ByIP(ip1); ok {
		t.Error("UNASSIGNED did not remove a leasequery binding")
	}
	gleaned := location.Binding{Binding: lq.Binding{IP: ip2, HType: 1, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 8},
		Expiry: now.Add(time.Hour)}, Port: "dsl1/1", Source: location.Gleaned}
	if _, err := a.table.Upsert(gleaned, now); err != nil {
		t.Fatal(err)
	}
	a.onResult(active(ip2, ours, now.Add(-time.Second))) // older than the glean
	a.onResult(engine.Result{Type: lq.LeaseUnassigned, Binding: lq.Binding{IP: ip2}})
	b, ok := a.table.ByIP(ip2)
	if !ok || b.Source != location.Gleaned {
		t.Errorf("gleaned binding after an older ACTIVE and an UNASSIGNED: %+v, %v", b, ok)
	}
	st := a.lq.stats()
	want := LeasequeryStats{Upserts: map[location.Result]uint64{location.ResultAdded: 1, location.ResultStale: 1},
		Foreign: 1, Removed: 1, KeptGleaned: 1}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestExpiryTask: the task removes a binding once its lease ends, re-arming
// its timer when a binding that expires sooner arrives.
func TestExpiryTask(t *testing.T) { synctest.Test(t, testExpiryTask) }

func testExpiryTask(t *testing.T) {
	table := location.New(location.Config{})
	e := newExpiryTask(table, time.Now, ops.NewLogs(nil, config.Log{}).For("glean"))
	sub := table.Subscribe("test")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	<-e.Ready()
	now := time.Now()
	long := location.Binding{Binding: lq.Binding{IP: netip.MustParseAddr("192.168.10.5"), Expiry: now.Add(time.Hour)}, Source: location.Gleaned}
	short := location.Binding{Binding: lq.Binding{IP: netip.MustParseAddr("192.168.10.6"), Expiry: now.Add(1500 * time.Millisecond)}, Source: location.Gleaned}
	table.Upsert(long, now)
	table.Upsert(short, now)
	for removed := false; !removed; {
		evs, err := sub.Next(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Kind == location.Removed {
				if ev.Old.IP != short.IP || ev.Reason != location.Expired {
					t.Fatalf("removed %v (%v), want %v expired", ev.Old.IP, ev.Reason, short.IP)
				}
				removed = true
			}
		}
	}
	if _, ok := table.ByIP(long.IP); !ok {
		t.Error("the long lease was removed too")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run: %v", err)
	}
}
