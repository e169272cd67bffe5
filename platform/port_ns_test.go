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
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// hang bounds every wait in these tests; it asserts nothing about speed.
const hang = 10 * time.Second

// heard is one client frame a port delivered, copied out of its buffer.
type heard struct {
	Port    string
	SrcMAC  [6]byte
	Payload []byte
}

// collect returns a ClientHandler that copies each frame into a channel.
func collect() (ClientHandler, chan heard) {
	ch := make(chan heard, 64)
	return ClientHandlerFunc(func(p PortConn, f ClientFrame) {
		ch <- heard{Port: p.Name(), SrcMAC: f.SrcMAC, Payload: bytes.Clone(f.Payload)}
	}), ch
}

func next(t *testing.T, ch chan heard) heard {
	t.Helper()
	select {
	case h := <-ch:
		return h
	case <-time.After(hang):
		t.Fatal("no frame delivered")
		return heard{}
	}
}

// udpFrameFrom is a client's UDP frame with the given ports.
func udpFrameFrom(src [6]byte, dst [6]byte, srcPort, dstPort uint16, payload []byte) []byte {
	dstIP := [4]byte{255, 255, 255, 255}
	if dst != bcastMAC {
		dstIP = [4]byte{192, 0, 2, 1}
	}
	return appendUDPFrame(nil, udpFrame{SrcMAC: src, DstMAC: dst, DstIP: dstIP, SrcPort: srcPort, DstPort: dstPort}, payload)
}

// labPair is a relay namespace with port p0 wired to a client's eth0; no
// addresses anywhere.
func labPair(t *testing.T) (l *lab.Lab, r, c *lab.NS) {
	l = lab.New(t)
	r, c = l.NS("relay"), l.NS("client")
	veth(t, l, r, "p0", c, "eth0")
	return l, r, c
}

var relayIP = netip.MustParseAddr("192.0.2.1")

func TestPortDeliversOnlyClientDHCP(t *testing.T) {
	for _, batch := range []int{1, 16} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) { testPortDeliversOnlyClientDHCP(t, batch) })
	}
}

func testPortDeliversOnlyClientDHCP(t *testing.T, batch int) {
	_, r, c := labPair(t)
	p := openPort(t, r, PortConfig{Name: "p0", SourceIP: relayIP, Batch: batch})
	h, ch := collect()
	runLoop(t, func(ctx context.Context) error { return p.Run(ctx, h) })

	cm, pm := macOf(t, c, "eth0"), macOf(t, r, "p0")
	discover := msg{op: 1, htype: 1, hlen: 6, chaddr: cm[:], options: typeOpt(lq.Discover)}.bytes()
	request := msg{op: 1, htype: 1, hlen: 6, chaddr: cm[:], options: typeOpt(lq.Request)}.bytes()
	send := rawSocket(t, c, "eth0", 0)
	// Sent in this order from one CPU, so the port has seen (and its
	// kernel filter judged) the others by the time the last one arrives.
	pinned(t, c, func() error {
		writeFrame(t, send, udpFrameFrom(cm, bcastMAC, 68, 53, discover))              // not DHCP
		writeFrame(t, send, udpFrameFrom(cm, bcastMAC, 67, 67, reply(lq.LeaseActive))) // relay/server traffic
		writeFrame(t, send, udpFrameFrom(cm, bcastMAC, 67, 68, reply(lq.Offer)))       // a server's reply
		writeFrame(t, send, udpFrameFrom(cm, bcastMAC, 68, 67, discover))
		writeFrame(t, send, udpFrameFrom(cm, [6]byte{2, 9, 9, 9, 9, 9}, 68, 67, request)) // another host's unicast
		writeFrame(t, send, udpFrameFrom(cm, pm, 68, 67, request))                        // unicast to us
		return nil
	})
	want := []heard{{"p0", cm, discover}, {"p0", cm, request}}
	got := []heard{next(t, ch), next(t, ch)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	select {
	case h := <-ch:
		t.Errorf("unexpected delivery: %+v", h)
	default:
	}
	// The kernel filter dropped the rest: none reached the Go checks.
	if diff := cmp.Diff(PortStats{Received: 2}, p.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestPortHearsUdhcpcDiscover(t *testing.T) {
	lab.Need(t, "udhcpc")
	_, r, c := labPair(t)
	p := openPort(t, r, PortConfig{Name: "p0", SourceIP: relayIP})
	h, ch := collect()
	runLoop(t, func(ctx context.Context) error { return p.Run(ctx, h) })
	c.Start("udhcpc", "udhcpc", "-f", "-i", "eth0", "-s", "/bin/true", "-t", "20", "-T", "1")

	got := next(t, ch)
	op, typ, err := Peek(got.Payload)
	if err != nil || op != opBootRequest || typ != lq.Discover {
		t.Fatalf("udhcpc's first message: op %d type %d err %v, want a DHCPDISCOVER", op, typ, err)
	}
	cm := macOf(t, c, "eth0")
	if got.Port != "p0" || got.SrcMAC != cm || !bytes.Equal(got.Payload[offCHAddr:offCHAddr+6], cm[:]) {
		t.Errorf("heard on %s from %x with chaddr %x; want p0, %x", got.Port, got.SrcMAC, got.Payload[offCHAddr:offCHAddr+6], cm)
	}
}

func TestPortVLANSubinterfacesSeeOnlyTheirFrames(t *testing.T) {
	_, r, c := labPair(t)
	if out, err := r.IP("link", "add", "link", "p0", "name", "p0.100", "type", "vlan", "id", "100"); err != nil {
		t.Skipf("kernel without 802.1Q VLAN devices (CONFIG_VLAN_8021Q): %v %s", err, out)
	}
	r.MustIP("link", "set", "p0.100", "up")
	waitOperUp(t, r, "p0.100")
	for _, vid := range []string{"100", "200"} {
		c.MustIP("link", "add", "link", "eth0", "name", "eth0."+vid, "type", "vlan", "id", vid)
		c.MustIP("link", "set", "eth0."+vid, "up")
		waitOperUp(t, c, "eth0."+vid)
	}
	h, ch := collect()
	for _, name := range []string{"p0", "p0.100"} {
		p := openPort(t, r, PortConfig{Name: name, SourceIP: relayIP})
		runLoop(t, func(ctx context.Context) error { return p.Run(ctx, h) })
	}
	cm := macOf(t, c, "eth0") // the VLAN devices inherit it
	frame := func(i byte) []byte {
		return udpFrameFrom(cm, bcastMAC, 68, 67, msg{op: 1, xid: uint32(i), options: typeOpt(lq.Discover)}.bytes())
	}
	untagged, vlan100, vlan200 := rawSocket(t, c, "eth0", 0), rawSocket(t, c, "eth0.100", 0), rawSocket(t, c, "eth0.200", 0)
	pinned(t, c, func() error {
		writeFrame(t, vlan200, frame(1)) // no sub-interface for VLAN 200: nobody hears it
		writeFrame(t, vlan100, frame(2))
		writeFrame(t, untagged, frame(3))
		writeFrame(t, vlan100, frame(4))
		writeFrame(t, untagged, frame(5))
		return nil
	})
	byPort := map[string][]uint32{}
	for range 4 {
		h := next(t, ch)
		byPort[h.Port] = append(byPort[h.Port], binary.BigEndian.Uint32(h.Payload[4:]))
	}
	want := map[string][]uint32{"p0": {3, 5}, "p0.100": {2, 4}}
	if diff := cmp.Diff(want, byPort); diff != "" {
		t.Errorf("xids heard per port (-want +got):\n%s", diff)
	}
}

// An upper device (macvlan here, a VLAN or a bridge likewise) hands its
// frames back to the lower device's protocol taps: without the filter's
// interface check, the port on p0 would hear clients of the port on mv0.
func TestPortUpperDeviceFramesStayOnTheirPort(t *testing.T) {
	_, r, c := labPair(t)
	r.MustIP("link", "add", "link", "p0", "name", "mv0", "type", "macvlan", "mode", "bridge")
	r.MustIP("link", "set", "mv0", "up")
	waitOperUp(t, r, "mv0")
	h, ch := collect()
	var ports []*Port
	for _, name := range []string{"p0", "mv0"} {
		p := openPort(t, r, PortConfig{Name: name, SourceIP: relayIP})
		runLoop(t, func(ctx context.Context) error { return p.Run(ctx, h) })
		ports = append(ports, p)
	}
	cm, p0, mv0 := macOf(t, c, "eth0"), macOf(t, r, "p0"), macOf(t, r, "mv0")
	frame := func(dst [6]byte, i byte) []byte {
		return udpFrameFrom(cm, dst, 68, 67, msg{op: 1, xid: uint32(i), options: typeOpt(lq.Request)}.bytes())
	}
	send := rawSocket(t, c, "eth0", 0)
	pinned(t, c, func() error {
		writeFrame(t, send, frame(mv0, 1))
		writeFrame(t, send, frame(p0, 2))
		writeFrame(t, send, frame(mv0, 3))
		writeFrame(t, send, frame(p0, 4))
		return nil
	})
	byPort := map[string][]uint32{}
	for range 4 {
		h := next(t, ch)
		byPort[h.Port] = append(byPort[h.Port], binary.BigEndian.Uint32(h.Payload[4:]))
	}
	want := map[string][]uint32{"p0": {2, 4}, "mv0": {1, 3}}
	if diff := cmp.Diff(want, byPort); diff != "" {
		t.Errorf("xids heard per port (-want +got):\n%s", diff)
	}
	for _, p := range ports {
		// The kernel filter, not the Go-side check behind it, kept them apart.
		if diff := cmp.Diff(PortStats{Received: 2}, p.Stats()); diff != "" {
			t.Errorf("%s: Stats (-want +got):\n%s", p.Name(), diff)
		}
	}
}

// arpSentinel is an ARP request for an address nobody has, written by the
// test after the replies: reading the client's ARP socket up to it shows
// whether any other ARP came first.
func arpSentinel(src [6]byte) []byte {
	b := append(bcastMAC[:], src[:]...)
	b = append(b, 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1)
	b = append(b, src[:]...)
	b = append(b, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 203, 0, 113, 99)
	return b
}

// arpsBeforeSentinel reads ARP frames on c until the sentinel and returns
// how many others came before it.
func arpsBeforeSentinel(t *testing.T, c *packet.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(hang))
	buf := make([]byte, 1500)
	others := 0
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read ARP: %v (sentinel not seen)", err)
		}
		if n >= 42 && bytes.Equal(buf[38:42], []byte{203, 0, 113, 99}) {
			return others
		}
		others++
	}
}

// readReplies reads n UDP 67->68 frames on c, checking every checksum.
func readReplies(t *testing.T, c *packet.Conn, n int) []ClientFrame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(hang))
	var out []ClientFrame
	buf := make([]byte, 1600)
	for len(out) < n {
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read replies: %v (after %d of %d)", err, len(out), n)
		}
		if f, err := parseUDPFrame(buf[:k], false, portServer, portClient); err == nil {
			f.Payload = bytes.Clone(f.Payload)
			out = append(out, f)
		} else if len(buf) > 36 && binary.BigEndian.Uint16(buf[36:]) == portClient {
			t.Errorf("a reply frame failed its checks: %v", err)
		}
	}
	return out
}

func TestPortRepliesReachClientWithoutARP(t *testing.T) {
	_, r, c := labPair(t)
	p := openPort(t, r, PortConfig{Name: "p0", SourceIP: relayIP})
	cm, pm := macOf(t, c, "eth0"), macOf(t, r, "p0")
	// What a DHCP client listens with before it has a lease: a packet
	// socket (Linux drops a unicast to an address the host does not hold
	// before any UDP socket sees it) and a UDP socket on :68 for broadcasts.
	capture := rawSocket(t, c, "eth0", unix.ETH_P_IP)
	arps := rawSocket(t, c, "eth0", unix.ETH_P_ARP)
	var udp68 net.PacketConn
	inNS(t, c, func() (err error) { udp68, err = net.ListenPacket("udp4", "0.0.0.0:68"); return err })
	t.Cleanup(func() { udp68.Close() })
	sentinel := rawSocket(t, r, "p0", 0)

	yiaddr := netip.MustParseAddr("192.0.2.50")
	offer := msg{op: 2, htype: 1, hlen: 6, chaddr: cm[:], yiaddr: yiaddr, giaddr: relayIP, options: typeOpt(lq.Offer)}.bytes()
	nak := msg{op: 2, htype: 1, hlen: 6, chaddr: cm[:], flags: flagBroadcast, giaddr: relayIP, options: typeOpt(lq.Nak)}.bytes()
	pinned(t, r, func() error {
		for _, b := range [][]byte{offer, nak} {
			dst, err := ReplyDestination(b)
			if err != nil {
				return err
			}
			if err := p.Send(dst, b); err != nil {
				return err
			}
		}
		writeFrame(t, sentinel, arpSentinel(pm))
		return nil
	})
	got := readReplies(t, capture, 2)
	bcastIP := netip.AddrFrom4([4]byte{255, 255, 255, 255})
	want := []ClientFrame{
		{SrcMAC: pm, DstMAC: cm, SrcIP: relayIP, DstIP: yiaddr, Payload: offer},
		{SrcMAC: pm, DstMAC: bcastMAC, SrcIP: relayIP, DstIP: bcastIP, Payload: nak},
	}
	if diff := cmp.Diff(want, got, netipCmp); diff != "" {
		t.Errorf("frames on the client's link (-want +got):\n%s", diff)
	}
	// The kernel checked the broadcast's UDP checksum before delivering it.
	udp68.SetReadDeadline(time.Now().Add(hang))
	buf := make([]byte, 1500)
	n, from, err := udp68.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], nak) || from.String() != "192.0.2.1:67" {
		t.Errorf("UDP :68 socket: %d octets from %v, err %v; want the DHCPNAK from 192.0.2.1:67", n, from, err)
	}
	if n := arpsBeforeSentinel(t, arps); n != 0 {
		t.Errorf("%d ARP frames reached the client before the sentinel, want 0", n)
	}
	if s := p.Stats(); s.Sent != 2 || s.SendErrors != 0 {
		t.Errorf("Stats: Sent %d, SendErrors %d; want 2, 0", s.Sent, s.SendErrors)
	}
}

func TestPortUnicastReachesAddressedClientUDPSocket(t *testing.T) {
	_, r, c := labPair(t)
	c.Addr("eth0", "192.0.2.50/24") // a renewing client: the kernel now accepts the unicast
	p := openPort(t, r, PortConfig{Name: "p0", SourceIP: relayIP})
	cm := macOf(t, c, "eth0")
	arps := rawSocket(t, c, "eth0", unix.ETH_P_ARP)
	sentinel := rawSocket(t, r, "p0", 0)
	var udp68 net.PacketConn
	inNS(t, c, func() (err error) { udp68, err = net.ListenPacket("udp4", "0.0.0.0:68"); return err })
	t.Cleanup(func() { udp68.Close() })
	ack := msg{op: 2, htype: 1, hlen: 6, chaddr: cm[:], yiaddr: netip.MustParseAddr("192.0.2.50"), options: typeOpt(lq.Ack)}.bytes()
	pinned(t, r, func() error {
		dst, err := ReplyDestination(ack)
		if err == nil {
			err = p.Send(dst, ack)
		}
		writeFrame(t, sentinel, arpSentinel(macOf(t, r, "p0")))
		return err
	})
	udp68.SetReadDeadline(time.Now().Add(hang))
	buf := make([]byte, 1500)
	n, _, err := udp68.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], ack) {
		t.Fatalf("UDP :68 socket: %d octets, err %v; want the DHCPACK (the kernel drops bad checksums)", n, err)
	}
	if n := arpsBeforeSentinel(t, arps); n != 0 {
		t.Errorf("%d ARP frames reached the client before the sentinel, want 0", n)
	}
}

// serve answers a DHCPDISCOVER with an OFFER and a DHCPREQUEST with an
// ACK of yiaddr, as a server behind the relay would, giaddr set.
func serve(req []byte, yiaddr netip.Addr) ([]byte, bool) {
	_, typ, err := Peek(req)
	var out lq.MessageType
	switch {
	case err != nil:
		return nil, false
	case typ == lq.Discover:
		out = lq.Offer
	case typ == lq.Request:
		out = lq.Ack
	default:
		return nil, false
	}
	opts := cat(typeOpt(out), []byte{54, 4, 192, 0, 2, 1}, []byte{51, 4, 0, 0, 0x0e, 0x10}, []byte{1, 4, 255, 255, 255, 0})
	m := msg{op: 2, htype: req[1], hlen: req[2], xid: binary.BigEndian.Uint32(req[4:]), flags: binary.BigEndian.Uint16(req[offFlags:]),
		chaddr: req[offCHAddr : offCHAddr+16], yiaddr: yiaddr, giaddr: relayIP, options: opts}
	return m.bytes(), true
}

func TestPortCompletesUdhcpcLease(t *testing.T) {
	lab.Need(t, "udhcpc")
	_, r, c := labPair(t)
	p := openPort(t, r, PortConfig{Name: "p0", SourceIP: relayIP})
	arps := rawSocket(t, c, "eth0", unix.ETH_P_ARP)
	yiaddr := netip.MustParseAddr("192.0.2.50")
	errs := make(chan error, 8)
	runLoop(t, func(ctx context.Context) error {
		return p.Run(ctx, ClientHandlerFunc(func(pc PortConn, f ClientFrame) {
			if resp, ok := serve(f.Payload, yiaddr); ok {
				dst, err := ReplyDestination(resp)
				if err == nil {
					err = pc.Send(dst, resp)
				}
				if err != nil {
					errs <- err
				}
			}
		}))
	})
	script := filepath.Join(t.TempDir(), "udhcpc.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"script $1 ip=$ip\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// No -B: udhcpc asks for unicast replies, and has no address yet.
	u := c.Start("udhcpc", "udhcpc", "-f", "-q", "-i", "eth0", "-s", script, "-t", "20", "-T", "1")
	if err := u.WaitFor("script bound ip=192.0.2.50", hang); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	writeFrame(t, rawSocket(t, r, "p0", 0), arpSentinel(macOf(t, r, "p0")))
	if n := arpsBeforeSentinel(t, arps); n != 0 {
		t.Errorf("%d ARP frames reached the client, want 0", n)
	}
	if s := p.Stats(); s.Received != 2 || s.Sent != 2 {
		t.Errorf("Stats: %+v; want 2 received (DISCOVER, REQUEST), 2 sent (OFFER, ACK)", s)
	}
}

func TestPortSetOneFailingPortDoesNotStopOthers(t *testing.T) {
	l := lab.New(t)
	r, c := l.NS("relay"), l.NS("client")
	veth(t, l, r, "p0", c, "eth0")
	veth(t, l, r, "p1", c, "eth1")
	var set *PortSet
	inNS(t, r, func() (err error) {
		set, err = OpenPorts([]PortConfig{{Name: "p0", SourceIP: relayIP}, {Name: "p1", SourceIP: relayIP}})
		return err
	})
	t.Cleanup(func() { set.Close() })
	h, ch := collect()
	failed := make(chan error, 4)
	runLoop(t, func(ctx context.Context) error { return set.Run(ctx, h, func(err error) { failed <- err }) })

	p1, _ := set.Port("p1")
	p1.Close() // its loop ends with an error
	select {
	case err := <-failed:
		var pe *PortError
		if !errors.As(err, &pe) || pe.Port != "p1" || pe.Op != "receive" {
			t.Errorf("reported %v; want a receive PortError on p1", err)
		}
	case <-time.After(hang):
		t.Fatal("closing p1 was not reported")
	}
	cm := macOf(t, c, "eth0")
	discover := msg{op: 1, options: typeOpt(lq.Discover)}.bytes()
	writeFrame(t, rawSocket(t, c, "eth0", 0), udpFrameFrom(cm, bcastMAC, 68, 67, discover))
	if got := next(t, ch); got.Port != "p0" {
		t.Errorf("heard on %s, want p0", got.Port)
	}
	p0, _ := set.Port("p0")
	if err := p0.Send(Broadcast(), reply(lq.Offer)); err != nil {
		t.Errorf("send on p0 after p1 failed: %v", err)
	}
	if err := p1.Send(Broadcast(), reply(lq.Offer)); err == nil {
		t.Error("send on closed p1: no error")
	}
}

func TestPortSendQueue(t *testing.T) {
	_, r, c := labPair(t)
	p := openPort(t, r, PortConfig{Name: "p0", SourceIP: relayIP})
	cm, pm := macOf(t, c, "eth0"), macOf(t, r, "p0")
	capture := rawSocket(t, c, "eth0", unix.ETH_P_IP)
	q := p.NewSendQueue(2)
	yiaddr := netip.MustParseAddr("192.0.2.50")
	var want []ClientFrame
	for i := range 3 { // three frames through a queue of two: one implied flush
		ack := msg{op: 2, htype: 1, hlen: 6, xid: uint32(i), chaddr: cm[:], yiaddr: yiaddr, options: typeOpt(lq.Ack)}.bytes()
		if err := q.Send(Destination{MAC: cm, IP: yiaddr}, ack); err != nil {
			t.Fatal(err)
		}
		want = append(want, ClientFrame{SrcMAC: pm, DstMAC: cm, SrcIP: relayIP, DstIP: yiaddr, Payload: ack})
	}
	if err := q.Flush(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, readReplies(t, capture, 3), netipCmp); diff != "" {
		t.Errorf("frames on the client's link (-want +got):\n%s", diff)
	}
	if s := p.Stats(); s.Sent != 3 || s.SendErrors != 0 {
		t.Errorf("Stats: Sent %d, SendErrors %d; want 3, 0", s.Sent, s.SendErrors)
	}
}
