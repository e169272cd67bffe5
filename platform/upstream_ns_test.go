package platform

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/lq"
	"golang.org/x/sys/unix"
)

var (
	serverIP = netip.MustParseAddr("198.51.100.1")
	giaddr   = netip.MustParseAddr("198.51.100.2")
)

// leasequery is the 300-octet DHCPLEASEQUERY by IP address of RFC 4388
// §6.1: op 1, htype and hlen 0, ciaddr the queried address, giaddr ours,
// option 53 = 10 and a parameter request list.
func leasequery(xid uint32, ip netip.Addr) []byte {
	return msg{op: opBootRequest, xid: xid, ciaddr: ip, giaddr: giaddr,
		options: cat(typeOpt(lq.LeaseQuery), []byte{55, 3, 51, 61, 82})}.bytes()
}

// heardUp is one upstream datagram a handler got, copied.
type heardUp struct {
	XID  uint32
	Type lq.MessageType
	From netip.AddrPort
}

func collectUp(t *testing.T, u UpstreamConn, c UpstreamClass) chan heardUp {
	ch := make(chan heardUp, 16)
	err := u.Handle(c, func(b []byte, from netip.AddrPort) {
		_, typ, _ := Peek(b)
		ch <- heardUp{XID: binary.BigEndian.Uint32(b[4:]), Type: typ, From: from}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// upstreamLab is a relay namespace with up0 = giaddr, wired to a server
// namespace with eth0 = serverIP.
func upstreamLab(t testing.TB) (r, s *lab.NS) {
	l := lab.New(t)
	r, s = l.NS("relay"), l.NS("server")
	veth(t, l, r, "up0", s, "eth0")
	r.Addr("up0", giaddr.String()+"/24")
	s.Addr("eth0", serverIP.String()+"/24")
	return r, s
}

func listenUpstream(t testing.TB, ns *lab.NS, cfg UpstreamConfig) *Upstream {
	t.Helper()
	var u *Upstream
	inNS(t, ns, func() (err error) { u, err = ListenUpstream(cfg); return err })
	t.Cleanup(func() { u.Close() })
	return u
}

const dhcpdConf = `ping-check false;
allow leasequery;
default-lease-time 3600;
max-lease-time 7200;
subnet 198.51.100.0 netmask 255.255.255.0 {
  range 198.51.100.10 198.51.100.20;
}
`

const dhcpdLeases = `lease 198.51.100.10 {
  starts 1 2025/01/06 00:00:00;
  ends never;
  binding state active;
  next binding state free;
  hardware ethernet 02:00:00:00:00:0a;
}
`

func TestUpstreamDemuxWithDhcpd(t *testing.T) {
	for _, batch := range []int{1, 16} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) { testUpstreamDemuxWithDhcpd(t, batch) })
	}
}

func testUpstreamDemuxWithDhcpd(t *testing.T, batch int) {
	r, s := upstreamLab(t)
	s.StartDHCPD("dhcpd", dhcpdConf, dhcpdLeases, "eth0")
	u := listenUpstream(t, r, UpstreamConfig{Addr: giaddr, Device: "up0", Batch: batch})
	lqCh, relayCh, reqCh := collectUp(t, u, LeasequeryReply), collectUp(t, u, RelayReply), collectUp(t, u, UpstreamRequest)
	var batches atomic.Int64
	if err := u.HandleBatchEnd(func() { batches.Add(1) }); err != nil {
		t.Fatal(err)
	}
	runLoop(t, u.Run)

	server := netip.AddrPortFrom(serverIP, 67)
	discover := msg{op: opBootRequest, htype: 1, hlen: 6, xid: 4, chaddr: []byte{2, 0, 0, 0, 0, 0x0b}, giaddr: giaddr,
		options: typeOpt(lq.Discover)}.bytes()
	for _, b := range [][]byte{
		leasequery(1, netip.MustParseAddr("198.51.100.10")), // leased
		leasequery(2, netip.MustParseAddr("198.51.100.11")), // free, in the range
		leasequery(3, netip.MustParseAddr("203.0.113.5")),   // in no subnet
		discover,
	} {
		if err := u.Send(server, b); err != nil {
			t.Fatal(err)
		}
	}
	// Something else heard upstream: a request and junk, from the server side.
	var peer net.PacketConn
	inNS(t, s, func() (err error) { peer, err = net.ListenPacket("udp4", serverIP.String()+":0"); return err })
	defer peer.Close()
	to := net.UDPAddrFromAddrPort(u.LocalAddr())
	peer.WriteTo([]byte("not DHCP"), to)
	peer.WriteTo(request(lq.Request), to)

	var gotLQ []heardUp
	for range 3 {
		gotLQ = append(gotLQ, recv(t, lqCh, "leasequery handler"))
	}
	gotRelay := recv(t, relayCh, "relay handler")
	gotReq := recv(t, reqCh, "request handler")
	sortByXID(gotLQ)
	want := []heardUp{{1, lq.LeaseActive, server}, {2, lq.LeaseUnassigned, server}, {3, lq.LeaseUnknown, server}}
	if diff := cmp.Diff(want, gotLQ, netipCmp); diff != "" {
		t.Errorf("leasequery handler (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(heardUp{4, lq.Offer, server}, gotRelay, netipCmp); diff != "" {
		t.Errorf("relay handler (-want +got):\n%s", diff)
	}
	if gotReq.Type != lq.Request {
		t.Errorf("request handler got type %d, want DHCPREQUEST", gotReq.Type)
	}
	// The junk was sent before the request, from one socket on one
	// link, so it was dispatched before the request handler ran.
	st := u.Stats()
	wantStats := UpstreamStats{Sent: 4, DemuxStats: DemuxStats{
		Leasequery: ClassStats{Delivered: 3}, Relay: ClassStats{Delivered: 1}, Request: ClassStats{Delivered: 1}, Malformed: 1}}
	if diff := cmp.Diff(wantStats, st); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	// Each receive call ends its batch after dispatching: at least one
	// batch, at most one per datagram (the request's may still be ending).
	if n := batches.Load(); n < 1 || n > 6 {
		t.Errorf("%d batch ends for 6 datagrams", n)
	}
}

func recv(t *testing.T, ch chan heardUp, who string) heardUp {
	t.Helper()
	select {
	case h := <-ch:
		return h
	case <-t.Context().Done():
	case <-timeAfter():
	}
	t.Fatalf("%s got nothing", who)
	return heardUp{}
}

func sortByXID(h []heardUp) {
	for i := range h {
		for j := i + 1; j < len(h); j++ {
			if h[j].XID < h[i].XID {
				h[i], h[j] = h[j], h[i]
			}
		}
	}
}

// helperBindEnv makes the test binary, run as a child, bind an upstream
// socket on the given address and report the error.
const helperBindEnv = "LEASEGUARD_PLATFORM_HELPER_BIND"

func TestHelperBindUpstream(t *testing.T) {
	addr := os.Getenv(helperBindEnv)
	if addr == "" {
		t.Skip("helper process for TestListenUpstreamTwiceFails")
	}
	u, err := ListenUpstream(UpstreamConfig{Addr: netip.MustParseAddr(addr)})
	if err != nil {
		fmt.Println("HELPER-ERROR:", err)
		os.Exit(3)
	}
	u.Close()
}

func TestListenUpstreamTwiceFails(t *testing.T) {
	r, _ := upstreamLab(t)
	listenUpstream(t, r, UpstreamConfig{Addr: giaddr})

	// A second socket in this process.
	var err error
	r.Do(func() error {
		var u *Upstream
		if u, err = ListenUpstream(UpstreamConfig{Addr: giaddr}); err == nil {
			u.Close()
		}
		return nil
	})
	if err == nil || !errors.Is(err, unix.EADDRINUSE) || !strings.Contains(err.Error(), "198.51.100.2:67") {
		t.Errorf("second ListenUpstream in one process: %v; want EADDRINUSE naming 198.51.100.2:67", err)
	}

	// Another process.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(helperBindEnv, giaddr.String())
	out, err := r.Exec(exe, "-test.run=^TestHelperBindUpstream$")
	if err == nil || !strings.Contains(out, "HELPER-ERROR: upstream 198.51.100.2:67: already bound") {
		t.Errorf("ListenUpstream in a second process: err %v, output:\n%s", err, out)
	}
}

// bindWildcard67 binds 0.0.0.0:67 inside ns, with or without SO_REUSEADDR,
// as ISC dhcpd's and dhcrelay's fallback sockets do.
func bindWildcard67(t *testing.T, ns *lab.NS, reuse bool) (net.PacketConn, error) {
	var pc net.PacketConn
	err := ns.Do(func() (err error) {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				if reuse {
					unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				}
			})
		}}
		pc, err = lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:67")
		return err
	})
	if pc != nil {
		t.Cleanup(func() { pc.Close() })
	}
	return pc, err
}

func TestListenUpstreamCoexistsWithWildcardListener(t *testing.T) {
	r, _ := upstreamLab(t)
	if _, err := bindWildcard67(t, r, true); err != nil {
		t.Fatal(err)
	}
	listenUpstream(t, r, UpstreamConfig{Addr: giaddr})
	// Once bound, our socket no longer offers to share: a later
	// SO_REUSEADDR listener on 0.0.0.0:67 is refused too.
	if _, err := bindWildcard67(t, r, true); !errors.Is(err, unix.EADDRINUSE) {
		t.Errorf("wildcard listener after ours: %v, want EADDRINUSE", err)
	}
}

func TestListenUpstreamRefusedByExclusiveWildcardListener(t *testing.T) {
	r, _ := upstreamLab(t)
	if _, err := bindWildcard67(t, r, false); err != nil {
		t.Fatal(err)
	}
	err := r.Do(func() error {
		u, err := ListenUpstream(UpstreamConfig{Addr: giaddr})
		if err == nil {
			u.Close()
		}
		return err
	})
	if !errors.Is(err, unix.EADDRINUSE) || !strings.Contains(err.Error(), "198.51.100.2:67") {
		t.Errorf("ListenUpstream beside an exclusive 0.0.0.0:67: %v; want EADDRINUSE naming the address", err)
	}
}

func TestUpstreamRunReturnsOnCancel(t *testing.T) {
	r, _ := upstreamLab(t)
	u := listenUpstream(t, r, UpstreamConfig{Addr: giaddr})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel: %v, want context.Canceled", err)
		}
	case <-timeAfter():
		t.Fatal("Run did not return after cancel")
	}
	// The socket stays usable: Run can start again.
	var got []byte
	ch := make(chan struct{})
	u.Handle(RelayReply, func(b []byte, _ netip.AddrPort) { got = bytes.Clone(b); close(ch) })
	runLoop(t, u.Run)
	u.Send(u.LocalAddr(), reply(lq.Ack))
	select {
	case <-ch:
	case <-timeAfter():
		t.Fatal("no datagram after restarting Run")
	}
	if !bytes.Equal(got, reply(lq.Ack)) {
		t.Error("restarted Run delivered different bytes")
	}
}

func TestUpstreamSendQueue(t *testing.T) {
	r, s := upstreamLab(t)
	u := listenUpstream(t, r, UpstreamConfig{Addr: giaddr})
	runLoop(t, u.Run)
	sink := listenUpstream(t, s, UpstreamConfig{Addr: serverIP})
	got := collectUp(t, sink, UpstreamRequest)
	runLoop(t, sink.Run)
	q, err := u.NewSendQueue(4)
	if err != nil {
		t.Fatal(err)
	}
	server := netip.AddrPortFrom(serverIP, 67)
	lquery := func(xid uint32) []byte { return leasequery(xid, netip.MustParseAddr("198.51.100.10")) }
	for xid := range uint32(6) { // six through a queue of four: one implied flush
		if err := q.Send(server, lquery(xid)); err != nil {
			t.Fatal(err)
		}
	}
	// A destination the kernel refuses (no route) mid-batch is skipped and
	// reported; the datagram queued after it still goes.
	q.Send(netip.MustParseAddrPort("203.0.113.1:67"), lquery(98))
	q.Send(server, lquery(99))
	if err := q.Flush(); !errors.Is(err, unix.ENETUNREACH) {
		t.Errorf("Flush with an unroutable destination: %v, want ENETUNREACH", err)
	}
	// The refusal must not linger in the socket to fail the next datagram.
	if err := u.Send(server, lquery(100)); err != nil {
		t.Errorf("Send after the refused datagram: %v", err)
	}
	var xids []uint32
	for range 8 {
		xids = append(xids, recv(t, got, "sink").XID)
	}
	if diff := cmp.Diff([]uint32{0, 1, 2, 3, 4, 5, 99, 100}, xids); diff != "" {
		t.Errorf("xids at the server (-want +got):\n%s", diff)
	}
	if st := u.Stats(); st.Sent != 8 || st.SendErrors != 1 || st.ReadErrors != 0 {
		t.Errorf("Stats: Sent %d, SendErrors %d, ReadErrors %d; want 8, 1, 0", st.Sent, st.SendErrors, st.ReadErrors)
	}
}
