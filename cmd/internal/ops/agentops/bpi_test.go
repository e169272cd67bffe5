package agentops_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/rflink"
	"github.com/leaseguard/leaseguard/cmd/internal/agent"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/agentops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// TestBPICountersConvertEveryField: every counter of agent.BPIStats
// lands in ops.BPICounters (each set to a value of its own, the converted
// counters hold exactly those values).
func TestBPICountersConvertEveryField(t *testing.T) {
	var s agent.BPIStats
	var want []uint64
	next := uint64(1)
	eachUint64(reflect.ValueOf(&s).Elem(), func(v reflect.Value) {
		v.SetUint(next)
		want = append(want, next)
		next++
	})
	c := agentops.BPICounters(s)
	var got []uint64
	eachUint64(reflect.ValueOf(&c).Elem(), func(v reflect.Value) { got = append(got, v.Uint()) })
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("converted counters (-agent +ops):\n%s", diff)
	}
}

func eachUint64(v reflect.Value, f func(reflect.Value)) {
	switch v.Kind() {
	case reflect.Uint64:
		f(v)
	case reflect.Struct:
		for i := range v.NumField() {
			eachUint64(v.Field(i), f)
		}
	}
}

// bpiSection is the card's BPI+: downstream lgbd1 (lgbd0 the card's
// forwarding side), RF lgrf0 (lgrf1 the plant), the cable port's modem
// with generated keys, a second with privacy disabled.
const bpiSection = `"bpi": {"enabled": true, "downstream_interface": "lgbd1", "rf_interface": "lgrf0",
    "modems": [{"mac": "00:aa:00:00:00:01", "said": 101, "auth_key": "00112233445566778899aabbccddeeff00112233"},
      {"mac": "00:aa:00:00:00:02", "said": 102, "privacy_disabled": true}]},
  "log":`

// TestWiredAgentWithBPI: an agent with BPI+ on serves its BPI task
// through the operations: the modems with their SA and generated keys,
// and the counters of frames it encrypted and dropped, over the API and
// in /metrics.
func TestWiredAgentWithBPI(t *testing.T) {
	dir, child := inCard(t)
	if !child {
		return
	}
	addBPILinks(t)
	socket := filepath.Join(dir, "api.sock")
	cfgJSON := strings.Replace(opstest.ConfigJSON, `"log":`, `"api": {"socket": "`+socket+`"}, `+bpiSection, 1)
	cfg, err := config.Parse([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Open(); err != nil {
		t.Fatal(err)
	}
	// Before Run: BPI's modem index loads it at start.
	subscriber := opstest.Binding("192.168.10.3", "00:00:00:00:00:03", "cable1/0/1")
	subscriber.Modem, subscriber.Expiry = net.HardwareAddr{0, 0xaa, 0, 0, 0, 1}, time.Now().Add(time.Hour)
	if _, err := a.Table().Upsert(subscriber, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := agentops.Wire(a, cfg, agentops.Options{Logs: ops.NewLogs(io.Discard, cfg.Log)}); err != nil {
		t.Fatal(err)
	}
	runAgent(t, a)
	ctx := context.Background()
	c := mgmt.NewUnixClient(socket)
	view, err := c.BPI(ctx)
	if err != nil {
		t.Fatalf("BPI of an agent with BPI+ on: %v", err)
	}
	checkBPIModems(t, view)

	rf := sendDownstream(t, "192.168.10.3", "192.168.10.77", "192.168.10.3")
	for range 2 {
		d := readEncrypted(t, rf)
		if d.Privacy.SAID != 101 || view.Modems[0].Current == nil || int(d.Privacy.KeySeq) != view.Modems[0].Current.Seq {
			t.Errorf("frame on the RF link under SAID %d key %d, want SAID 101 under the current key %+v", d.Privacy.SAID, d.Privacy.KeySeq, view.Modems[0].Current)
		}
	}
	// The third frame is on the RF link: the first two are counted.
	view, err = c.BPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := view.Counters; n.Frames < 3 || n.Encrypted < 1 || n.UnknownLocation != 1 || n.NoKey != 0 || n.KeyPairs != 1 {
		t.Errorf("counters %+v, want 3 frames read, 1 encrypted at least, 1 unknown location, 1 key pair", n)
	}
	text, err := c.Metrics(ctx)
	for _, want := range []string{`leaseguard_bpi_modems{state="encrypting"} 1`, `leaseguard_bpi_modems{state="clear"} 1`,
		`leaseguard_bpi_frames_dropped_total{reason="unknown_location"} 1`, `leaseguard_bpi_key_pairs_total 1`} {
		if err != nil || !strings.Contains(text, want) {
			t.Errorf("metrics lack %s: %v\n%s", want, err, text)
		}
	}
}

// addBPILinks makes the BPI links inside the card namespace (they go with
// it), IPv6 off so that the kernel sends nothing of its own into BPI.
func addBPILinks(t *testing.T) {
	t.Helper()
	for _, pair := range [][2]string{{"lgbd0", "lgbd1"}, {"lgrf0", "lgrf1"}} {
		ip(t, "link", "add", pair[0], "type", "veth", "peer", "name", pair[1])
		for _, name := range pair {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, "lgrf") {
				ip(t, "link", "set", name, "mtu", "1600")
			}
			ip(t, "link", "set", name, "up")
		}
	}
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func runAgent(t *testing.T, a *agent.Agent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready")
	}
}

func checkBPIModems(t *testing.T, v ops.BPI) {
	t.Helper()
	if len(v.Modems) != 2 {
		t.Fatalf("modems %+v, want 2", v.Modems)
	}
	m := v.Modems[0]
	cur, next := m.Current, m.Next
	if cur == nil || next == nil || cur.Seq == next.Seq || !cur.Expires.After(time.Now()) ||
		cur.Expires.After(time.Now().Add(config.DefaultTEKLifetime)) || !next.Expires.After(cur.Expires) {
		t.Errorf("modem 1's keys: current %+v, next %+v: want two, the current expiring within a lifetime, the next after it", cur, next)
	}
	m.Current, m.Next = nil, nil
	want := []ops.BPIModem{
		{MAC: "00:aa:00:00:00:01", SAID: 101, Privacy: true, Keys: "generated", AuthKey: true, State: ops.BPIEncrypting,
			Subscribers: 1, Ports: []string{"cable1/0/1"}},
		{MAC: "00:aa:00:00:00:02", SAID: 102, Keys: "none", State: ops.BPIClear}}
	if diff := cmp.Diff(want, []ops.BPIModem{m, v.Modems[1]}); diff != "" {
		t.Errorf("modems (-want +got):\n%s", diff)
	}
}

// sendDownstream sends one IPv4 frame to each destination into BPI's
// downstream interface, from the card's side, and returns the RF plant's
// end, opened first.
func sendDownstream(t *testing.T, dsts ...string) *rflink.Conn {
	t.Helper()
	rfIf, err := net.InterfaceByName("lgrf1")
	if err != nil {
		t.Fatal(err)
	}
	rf, err := rflink.Listen(rfIf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rf.Close() })
	downIf, err := net.InterfaceByName("lgbd0")
	if err != nil {
		t.Fatal(err)
	}
	down, err := rflink.ListenEthernet(downIf, rflink.AllProtocols)
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	for _, dst := range dsts {
		if err := down.WriteEthernet(ipv4Frame(netip.MustParseAddr(dst))); err != nil {
			t.Fatalf("to %s: %v", dst, err)
		}
	}
	return rf
}

func readEncrypted(t *testing.T, rf *rflink.Conn) bpi.Downstream {
	t.Helper()
	if err := rf.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := rf.ReadDOCSIS(buf)
	if err != nil {
		t.Fatalf("no frame on the RF link: %v", err)
	}
	d, err := bpi.ParseDownstream(buf[:n])
	if err != nil || !d.HasPrivacy || !d.Encrypted() {
		t.Fatalf("RF frame %x: %v, want an encrypted downstream frame", buf[:n], err)
	}
	return d
}

// ipv4Frame is a UDP datagram to dst, as the card forwards it.
func ipv4Frame(dst netip.Addr) []byte {
	b := make([]byte, 14+20+8+40)
	copy(b, []byte{2, 0, 0, 0, 1, dst.As4()[3]})
	copy(b[6:], []byte{2, 0xcc, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	b[14], b[22], b[23] = 0x45, 64, 17
	binary.BigEndian.PutUint16(b[16:], 20+8+40)
	copy(b[26:], []byte{10, 0, 0, 1})
	copy(b[30:], dst.AsSlice())
	return b
}
