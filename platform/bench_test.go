package platform

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// The benchmarks run the peer that feeds them as a separate process (this
// test binary re-executed as a blaster in the other namespace), so that
// the cpu-µs/pkt they report is the receiving process's own CPU time.

const helperBlastEnv = "LEASEGUARD_PLATFORM_HELPER_BLAST"

// TestHelperBlast is the benchmarks' helper process, run until killed:
// "udp DST" sends DHCP replies (a leasequery reply and an offer in turn)
// to DST as fast as it can; "frames IFACE" writes client DHCPDISCOVER
// frames on IFACE as fast as it can; "relay PORT GIADDR UPSTREAM SERVER
// BATCH" is the platform's floor of a relay: each client message heard on
// PORT gets giaddr and hops set and is sent from UPSTREAM:67 to SERVER:67.
func TestHelperBlast(t *testing.T) {
	spec := strings.Fields(os.Getenv(helperBlastEnv))
	if len(spec) < 2 {
		t.Skip("helper process for the benchmarks")
	}
	fmt.Println("ready")
	switch spec[0] {
	case "udp":
		blastUDP(netip.MustParseAddrPort(spec[1]))
	case "frames":
		blastFrames(spec[1])
	case "relay":
		var batch int
		fmt.Sscan(spec[5], &batch)
		fmt.Println(floorRelay(spec[1], netip.MustParseAddr(spec[2]), netip.MustParseAddr(spec[3]), netip.MustParseAddr(spec[4]), batch))
	}
	os.Exit(3)
}

// floorRelay forwards client messages upstream with no option 82 and no
// state: what any relay built on this package must at least spend. With
// batch > 1 it reads up to batch frames per system call and sends what
// they produced with one sendmmsg.
func floorRelay(port string, gi, upstream, server netip.Addr, batch int) error {
	p, err := OpenPort(PortConfig{Name: port, SourceIP: gi, Batch: batch})
	if err != nil {
		return err
	}
	u, err := ListenUpstream(UpstreamConfig{Addr: upstream})
	if err != nil {
		return err
	}
	f := &floorForwarder{up: u, to: netip.AddrPortFrom(server, 67), gi: gi.As4(), buf: make([]byte, 0, 1500)}
	if batch <= 1 {
		return p.Run(context.Background(), f)
	}
	if f.q, err = u.NewSendQueue(batch); err != nil {
		return err
	}
	return p.Run(context.Background(), batchingForwarder{f})
}

type floorForwarder struct {
	up  *Upstream
	q   *SendQueue
	to  netip.AddrPort
	gi  [4]byte
	buf []byte
}

func (f *floorForwarder) HandleClient(_ PortConn, c ClientFrame) {
	f.buf = append(f.buf[:0], c.Payload...)
	f.buf[3]++ // hops
	copy(f.buf[offGIAddr:], f.gi[:])
	if f.q != nil {
		f.q.Send(f.to, f.buf)
	} else {
		f.up.Send(f.to, f.buf)
	}
}

// batchingForwarder is floorForwarder flushing its queue after each batch.
type batchingForwarder struct{ *floorForwarder }

func (f batchingForwarder) EndBatch(PortConn) { f.q.Flush() }

func blastUDP(dst netip.AddrPort) {
	c, err := net.ListenUDP("udp4", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	msgs := [][]byte{reply(lq.LeaseActive), reply(lq.Offer)}
	for i := 0; ; i++ {
		c.WriteToUDPAddrPort(msgs[i&1], dst)
	}
}

func blastFrames(ifname string) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	rc, _ := c.SyscallConn()
	frame := clientFrame(request(lq.Discover))
	copy(frame[6:12], ifi.HardwareAddr)
	rc.Write(func(fd uintptr) bool {
		for {
			unix.Write(int(fd), frame)
		}
	})
}

// startBlaster runs the helper in ns; it is killed when the benchmark ends.
func startBlaster(b *testing.B, ns *lab.NS, spec string) *lab.Proc {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv(helperBlastEnv, spec)
	p := ns.Start(strings.Fields(spec)[0], exe, "-test.run=^TestHelperBlast$")
	if err := p.WaitFor("ready", hang); err != nil {
		b.Fatal(err)
	}
	return p
}

// cpuMeter reports the process's CPU time per operation.
type cpuMeter struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) cpuMeter { b.ReportAllocs(); b.ResetTimer(); return cpuMeter{cpuNow()} }

func (m cpuMeter) report(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pps")
	b.ReportMetric(float64((cpuNow()-m.start).Microseconds())/float64(b.N), "cpu-µs/pkt")
}

// countTo returns a handler body that closes done after n calls.
func countTo(n int) (func(), chan struct{}) {
	var seen atomic.Int64
	done := make(chan struct{})
	return func() {
		if seen.Add(1) == int64(n) {
			close(done)
		}
	}, done
}

func BenchmarkUpstreamReceiveDemux(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			r, s := upstreamLab(b)
			u := listenUpstream(b, r, UpstreamConfig{Addr: giaddr, Batch: batch, ReadBuffer: 1 << 20})
			tick, done := countTo(b.N)
			u.Handle(LeasequeryReply, func([]byte, netip.AddrPort) { tick() })
			u.Handle(RelayReply, func([]byte, netip.AddrPort) { tick() })
			startBlaster(b, s, "udp "+netip.AddrPortFrom(giaddr, 67).String())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m := startCPU(b)
			go u.Run(ctx)
			<-done
			m.report(b)
		})
	}
}

func BenchmarkUpstreamSend(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkUpstreamSend(b, batch) })
	}
}

// benchmarkUpstreamSend sends leasequeries to a server socket that never
// reads (the kernel drops what overflows it); batch > 1 uses a SendQueue.
func benchmarkUpstreamSend(b *testing.B, batch int) {
	r, s := upstreamLab(b)
	u := listenUpstream(b, r, UpstreamConfig{Addr: giaddr})
	var sink net.PacketConn // bound so that no ICMP unreachable comes back
	inNS(b, s, func() (err error) { sink, err = net.ListenPacket("udp4", serverIP.String()+":67"); return err })
	defer sink.Close()
	q := leasequery(1, netip.MustParseAddr("198.51.100.10"))
	to := netip.AddrPortFrom(serverIP, 67)
	var send func(netip.AddrPort, []byte) error = u.Send
	flush := func() error { return nil }
	if batch > 1 {
		sq, err := u.NewSendQueue(batch)
		if err != nil {
			b.Fatal(err)
		}
		send, flush = sq.Send, sq.Flush
	}
	m := startCPU(b)
	for i := range b.N {
		if err := send(to, q); err != nil {
			b.Fatal(err)
		}
		if i%batch == batch-1 {
			if err := flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := flush(); err != nil {
		b.Fatal(err)
	}
	m.report(b)
}

func BenchmarkPortReceive(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l := lab.New(b)
			r, c := l.NS("relay"), l.NS("client")
			veth(b, l, r, "p0", c, "eth0")
			p := openPort(b, r, PortConfig{Name: "p0", SourceIP: relayIP, ReadBuffer: 1 << 20, Batch: batch})
			tick, done := countTo(b.N)
			startBlaster(b, c, "frames eth0")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m := startCPU(b)
			go p.Run(ctx, ClientHandlerFunc(func(PortConn, ClientFrame) { tick() }))
			<-done
			m.report(b)
		})
	}
}

func BenchmarkPortSend(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkPortSend(b, batch) })
	}
}

// benchmarkPortSend writes unicast DHCPOFFER frames to a client link
// nobody reads; batch > 1 uses a PortSendQueue.
func benchmarkPortSend(b *testing.B, batch int) {
	l := lab.New(b)
	r, c := l.NS("relay"), l.NS("client")
	veth(b, l, r, "p0", c, "eth0")
	p := openPort(b, r, PortConfig{Name: "p0", SourceIP: relayIP})
	cm := macOf(b, c, "eth0")
	offer := msg{op: 2, htype: 1, hlen: 6, chaddr: cm[:], yiaddr: netip.MustParseAddr("192.0.2.50"), options: typeOpt(lq.Offer)}.bytes()
	dst, _ := ReplyDestination(offer)
	var send func(Destination, []byte) error = p.Send
	flush := func() error { return nil }
	if batch > 1 {
		q := p.NewSendQueue(batch)
		send, flush = q.Send, q.Flush
	}
	m := startCPU(b)
	for i := range b.N {
		if err := send(dst, offer); err != nil {
			b.Fatal(err)
		}
		if i%batch == batch-1 {
			if err := flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := flush(); err != nil {
		b.Fatal(err)
	}
	m.report(b)
}

// procCPU is the user and system CPU time a process has used so far.
func procCPU(b *testing.B, pid int) (user, sys time.Duration) {
	user, sys, err := lab.ProcessCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return user, sys
}

// BenchmarkRelayPath compares, on the same traffic, ISC dhcrelay
// (daemonized, no option 82) with floorRelay built on this package, one
// system call per packet and batched:
// client DHCPDISCOVER frames blasted on the client link, relayed upstream
// to a counting sink. pps is what reached the sink; relay-cpu-µs/pkt is the
// relay process's CPU time per relayed packet.
func BenchmarkRelayPath(b *testing.B) {
	for _, impl := range []string{"dhcrelay", "platform", "platform-batch32"} {
		b.Run(impl, func(b *testing.B) { benchmarkRelayPath(b, impl) })
	}
}

func benchmarkRelayPath(b *testing.B, impl string) {
	l := lab.New(b)
	c, r, s := l.NS("client"), l.NS("relay"), l.NS("server")
	veth(b, l, c, "eth0", r, "p0")
	veth(b, l, r, "up0", s, "eth0")
	r.Addr("p0", "192.0.2.1/24") // dhcrelay takes giaddr from it; our port needs none
	r.Addr("up0", giaddr.String()+"/24")
	s.Addr("eth0", serverIP.String()+"/24")
	sink := listenUpstream(b, s, UpstreamConfig{Addr: serverIP, Batch: 32, ReadBuffer: 1 << 20})
	first := make(chan struct{})
	var tick func()
	var done chan struct{}
	sink.Handle(UpstreamRequest, func([]byte, netip.AddrPort) {
		if tick == nil {
			tick, done = countTo(b.N)
			close(first)
			return
		}
		tick()
	})
	runLoop(b, sink.Run)

	var pid int
	var pidFile string
	switch impl {
	case "dhcrelay":
		lab.Need(b, "dhcrelay")
		pidFile = l.Dir() + "/dhcrelay.pid"
		r.MustExec("dhcrelay", "-4", "-q", "-pf", pidFile, "-id", "p0", "-iu", "up0", serverIP.String())
	case "platform":
		pid = startBlaster(b, r, fmt.Sprintf("relay p0 192.0.2.1 %v %v 1", giaddr, serverIP)).Pid()
	case "platform-batch32":
		pid = startBlaster(b, r, fmt.Sprintf("relay p0 192.0.2.1 %v %v 32", giaddr, serverIP)).Pid()
	}
	startBlaster(b, c, "frames eth0")
	select {
	case <-first:
	case <-timeAfter():
		b.Fatalf("%s relayed nothing", impl)
	}
	if pidFile != "" {
		pid = readPid(b, pidFile) // written before dhcrelay started relaying
	}
	u0, s0 := procCPU(b, pid)
	b.ResetTimer()
	<-done
	b.StopTimer()
	u1, s1 := procCPU(b, pid)
	perPkt := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pps")
	b.ReportMetric(perPkt(u1-u0+s1-s0), "relay-cpu-µs/pkt")
	b.ReportMetric(perPkt(u1-u0), "relay-user-µs/pkt")
}

func readPid(b *testing.B, path string) int {
	data, err := os.ReadFile(path)
	var pid int
	if err == nil {
		_, err = fmt.Sscan(string(data), &pid)
	}
	if err != nil {
		b.Fatalf("dhcrelay pid file: %v", err)
	}
	return pid
}
