package relaybench

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The load generator runs as this test binary re-executed in a client
// namespace (TestHelperGenerate), so that its CPU is not the relay's nor
// the sink's: `IFACE RATE COUNT STEP` sends COUNT broadcast DHCPDISCOVER
// frames on IFACE at RATE per second through AF_PACKET, stamped for the
// sink, then prints "sent N" and exits.

const genEnv = "LEASEGUARD_RELAYBENCH_GEN"

// Where the sink finds the stamp: the sname field, which relays carry
// through untouched. Octets 0-7 CLOCK_MONOTONIC ns at sending, 8-11 the
// step, 12-15 the sequence number.
const (
	offSName  = 44
	frameHead = 14 + 20 + 8
	dhcpLen   = 300
)

func TestHelperGenerate(t *testing.T) {
	spec := strings.Fields(os.Getenv(genEnv))
	if len(spec) != 4 {
		t.Skip("helper process of BenchmarkRelayLoad")
	}
	var rate, count int
	var step uint32
	fmt.Sscan(spec[1], &rate)
	fmt.Sscan(spec[2], &count)
	fmt.Sscan(spec[3], &step)
	sent, err := generate(spec[0], rate, count, step)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("sent", sent)
	os.Exit(0)
}

// monoNow is CLOCK_MONOTONIC, which every namespace shares.
func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// generate paces frames by the clock: every wake-up sends what is due
// (at most one batch per sendmmsg), so the offered rate holds on average
// with bursts of about a millisecond's worth.
func generate(ifname string, rate, count int, step uint32) (int, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return 0, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) // protocol 0: send only
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		return 0, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	const batch = 64
	frames := make([][]byte, batch)
	hdrs := make([]unix.Mmsghdr, batch)
	iovs := make([]unix.Iovec, batch)
	for i := range frames {
		frames[i] = discoverFrame(ifi.HardwareAddr)
		iovs[i].Base = &frames[i][0]
		iovs[i].SetLen(len(frames[i]))
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	start := monoNow()
	sent := 0
	for sent < count {
		due := min(count, int((monoNow()-start)*int64(rate)/1e9)+1)
		if due <= sent {
			time.Sleep(time.Duration(int64(due+1-sent) * 1e9 / int64(rate)))
			continue
		}
		n := min(due-sent, batch)
		now := monoNow()
		for i := range n {
			stamp(frames[i], now, step, uint32(sent+i))
		}
		k, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(n), 0, 0, 0)
		switch e {
		case 0:
			sent += int(k)
		case unix.ENOBUFS, unix.EAGAIN, unix.EINTR:
			// the link's queue is full: offered load exceeds what it drains
		default:
			return sent, e
		}
	}
	return sent, nil
}

func stamp(f []byte, now int64, step, seq uint32) {
	d := f[frameHead:]
	binary.BigEndian.PutUint32(d[4:], seq) // xid
	binary.BigEndian.PutUint64(d[offSName:], uint64(now))
	binary.BigEndian.PutUint32(d[offSName+8:], step)
	binary.BigEndian.PutUint32(d[offSName+12:], seq)
}

// discoverFrame is a client's broadcast DHCPDISCOVER: Ethernet broadcast,
// IPv4 0.0.0.0 -> 255.255.255.255, UDP 68 -> 67 without checksum (allowed
// in IPv4, so the stamp can change without recomputing it).
func discoverFrame(mac net.HardwareAddr) []byte {
	f := make([]byte, frameHead+dhcpLen)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+dhcpLen))
	copy(ip[16:20], []byte{255, 255, 255, 255})
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:], 68)
	binary.BigEndian.PutUint16(udp[2:], 67)
	binary.BigEndian.PutUint16(udp[4:], 8+dhcpLen)
	d := f[frameHead:]
	d[0], d[1], d[2] = 1, 1, 6
	binary.BigEndian.PutUint16(d[10:], 0x8000) // broadcast flag
	copy(d[28:], mac)
	copy(d[236:], []byte{99, 130, 83, 99})
	copy(d[240:], []byte{53, 1, 1, 55, 4, 1, 3, 6, 15, 255})
	return f
}

func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
