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
	var in, out, peer *rflink.EthernetConn
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
}
