package rflink_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/bpi/rflink"
	"github.com/leaseguard/leaseguard/integration/lab"
)

// TestListenIncomingSkipsOwnFrames: a frame the host sends on the link is
// not read back, a frame that arrives from the other end is, whatever its
// EtherType.
func TestListenIncomingSkipsOwnFrames(t *testing.T) {
	l := lab.New(t)
	ns := l.NS("in")
	l.Veth(ns, "ds0", ns, "ds1")
	var in *rflink.IncomingConn
	var out, peer *rflink.EthernetConn
	err := ns.Do(func() error {
		ds0, err := net.InterfaceByName("ds0")
		if err != nil {
			return err
		}
		ds1, err := net.InterfaceByName("ds1")
		if err != nil {
			return err
		}
		if in, err = rflink.ListenIncoming(ds1); err != nil {
			return err
		}
		if out, err = rflink.ListenEthernet(ds1, rflink.WriteOnly); err != nil {
			return err
		}
		peer, err = rflink.ListenEthernet(ds0, rflink.WriteOnly)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); out.Close(); peer.Close() })

	frame := func(etherType uint16, mark byte) []byte {
		f := make([]byte, 60)
		copy(f, []byte{2, 0, 0, 0, 0, 0x42})
		copy(f[6:], []byte{2, 0, 0, 0, 0, 0x43})
		binary.BigEndian.PutUint16(f[12:], etherType)
		f[14] = mark
		return f
	}
	own, arriving := frame(0x88b6, 1), frame(0x0800, 2)
	if err := out.WriteEthernet(own); err != nil {
		t.Fatal(err)
	}
	if err := peer.WriteEthernet(arriving); err != nil {
		t.Fatal(err)
	}
	in.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
	buf := make([]byte, 2048)
	n, err := in.ReadEthernet(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:n], arriving) {
		t.Fatalf("read %x, want the arriving frame %x (the host's own frame must be filtered out)", buf[:n], arriving)
	}

	// TryReadEthernet takes a frame only when one is queued. (A veth
	// delivers before the sender's write returns.)
	if n, ok, err := in.TryReadEthernet(buf); ok || err != nil {
		t.Fatalf("TryReadEthernet with nothing queued = %d, %v, %v", n, ok, err)
	}
	second := frame(0x0800, 3)
	for _, f := range [][]byte{arriving, second} {
		if err := peer.WriteEthernet(f); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := in.ReadEthernet(buf); err != nil || !bytes.Equal(buf[:n], arriving) {
		t.Fatalf("ReadEthernet = %x, %v", buf[:n], err)
	}
	if n, ok, err := in.TryReadEthernet(buf); !ok || err != nil || !bytes.Equal(buf[:n], second) {
		t.Fatalf("TryReadEthernet with a frame queued = %x, %v, %v", buf[:n], ok, err)
	}
}

// TestListenIncomingCompletesChecksums: a datagram the kernel routes into
// a veth leaves its UDP checksum to the NIC (veth offloads it), and one
// sent on a VLAN device leaves its tag to the NIC too; read on the far end
// both come out whole: tag in place, checksum completed.
func TestListenIncomingCompletesChecksums(t *testing.T) {
	l := lab.New(t)
	ns := l.NS("csum")
	l.Veth(ns, "ds0", ns, "ds1")
	ns.Addr("ds0", "10.9.0.1/24")
	ns.MustIP("neigh", "replace", "10.9.0.2", "lladdr", "02:00:00:00:00:42", "dev", "ds0", "nud", "permanent")
	type dest struct {
		dst    net.IP
		tagged bool
	}
	dests := []dest{{net.IPv4(10, 9, 0, 2), false}}
	if _, err := ns.IP("link", "add", "link", "ds0", "name", "ds0.7", "type", "vlan", "id", "7"); err != nil {
		t.Logf("no 802.1Q in this kernel (%v): tag restoration not exercised", err)
	} else {
		ns.MustIP("link", "set", "ds0.7", "up")
		ns.Addr("ds0.7", "10.9.7.1/24")
		ns.MustIP("neigh", "replace", "10.9.7.2", "lladdr", "02:00:00:00:00:42", "dev", "ds0.7", "nud", "permanent")
		dests = append(dests, dest{net.IPv4(10, 9, 7, 2), true})
	}
	var in *rflink.IncomingConn
	var udp *net.UDPConn
	err := ns.Do(func() error {
		ds1, err := net.InterfaceByName("ds1")
		if err != nil {
			return err
		}
		if in, err = rflink.ListenIncoming(ds1); err != nil {
			return err
		}
		udp, err = net.ListenUDP("udp4", &net.UDPAddr{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); udp.Close() })
	in.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
	tags := 0
	for _, tt := range dests {
		if _, err := udp.WriteToUDP([]byte("checksum me, please"), &net.UDPAddr{IP: tt.dst, Port: 5000}); err != nil {
			t.Fatal(err)
		}
		f := readUDP(t, in)
		off := 14
		if tt.tagged {
			if binary.BigEndian.Uint16(f[12:]) != 0x8100 || binary.BigEndian.Uint16(f[14:])&0x0fff != 7 {
				t.Fatalf("to %v: frame %x lacks the 802.1Q tag of VLAN 7", tt.dst, f)
			}
			off, tags = 18, tags+1
		}
		ip, l4 := f[off:off+20], f[off+20:]
		pseudo := append(append([]byte{}, ip[12:20]...), 0, 17, byte(len(l4)>>8), byte(len(l4)))
		if got := foldSum(pseudo, l4); got != 0xffff {
			t.Errorf("to %v: UDP checksum %#04x does not verify (sum %#04x)", tt.dst, binary.BigEndian.Uint16(l4[6:]), got)
		}
	}
	if c, g := in.Completed.Load(), in.Tagged.Load(); c != uint64(len(dests)) || g != uint64(tags) {
		t.Errorf("completed %d checksums and restored %d tags, want %d and %d (veth offloads both)", c, g, len(dests), tags)
	}
}

// readUDP returns the next IPv4 UDP frame (tagged or not) read from in.
func readUDP(t *testing.T, in *rflink.IncomingConn) []byte {
	t.Helper()
	buf := make([]byte, 2048)
	for {
		n, err := in.ReadEthernet(buf)
		if err != nil {
			t.Fatal(err)
		}
		f, off := buf[:n], 14
		if n > 18 && binary.BigEndian.Uint16(f[12:]) == 0x8100 {
			off = 18
		}
		if n >= off+28 && binary.BigEndian.Uint16(f[off-2:]) == 0x0800 && f[off+9] == 17 {
			return append([]byte(nil), f...)
		}
	}
}

func foldSum(parts ...[]byte) uint16 {
	var s uint32
	for _, b := range parts {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
