package rflink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// incomingOnly is a socket filter that drops the frames the host itself
// sends on the link (packet type PACKET_OUTGOING), which an ETH_P_ALL
// socket would otherwise also receive, and keeps every frame that arrives.
var incomingOnly = mustAssemble([]bpf.Instruction{
	bpf.LoadExtension{Num: bpf.ExtType},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 1},
	bpf.RetConstant{Val: 1 << 18},
	bpf.RetConstant{Val: 0},
})

func mustAssemble(prog []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic("rflink: socket filter: " + err.Error())
	}
	return raw
}

// IncomingConn reads the frames arriving on a link exactly as they were
// sent: with the 802.1Q tag the kernel moved out of the frame put back,
// and with the TCP or UDP checksum a veth or TAP sender left for the NIC
// to finish (TP_STATUS_CSUMNOTREADY) completed, since nothing downstream
// of an encrypting CMTS can finish it. It does not allocate per frame.
type IncomingConn struct {
	c   *packet.Conn
	raw syscall.RawConn

	// The recvmsg the read closures perform, built once.
	read, try func(fd uintptr) bool
	msg       unix.Msghdr
	iov       unix.Iovec
	oob       []byte
	n         int
	rerr      error

	// Completed counts the checksums completed, Tagged the tags restored.
	Completed, Tagged atomic.Uint64
}

var auxdataSpace = unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))

// ListenIncoming opens a raw Ethernet socket on ifi that receives every
// frame arriving on the link, of any EtherType, and none of those the host
// sends on it. It is the CMTS's downstream source: the far end of a veth
// (or a TAP) that the card's forwarding transmits subscriber traffic into,
// so that what arrives here is what goes down to the modems.
func ListenIncoming(ifi *net.Interface) (*IncomingConn, error) {
	c, err := packet.Listen(ifi, packet.Raw, AllProtocols, &packet.Config{Filter: incomingOnly})
	if err != nil {
		return nil, fmt.Errorf("downstream link %s: %w", ifi.Name, err)
	}
	raw, err := c.SyscallConn()
	if err == nil {
		var serr error
		err = raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_AUXDATA, 1) })
		if err == nil {
			err = serr
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("downstream link %s: auxiliary data: %w", ifi.Name, err)
	}
	ic := &IncomingConn{c: c, raw: raw, oob: make([]byte, auxdataSpace)}
	ic.read, ic.try = ic.recvmsg, ic.tryRead
	return ic, nil
}

// recvmsg is the raw read; false asks the runtime to wait for the socket.
func (c *IncomingConn) recvmsg(fd uintptr) bool {
	c.msg.SetControllen(len(c.oob))
	n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.msg)), unix.MSG_DONTWAIT|unix.MSG_TRUNC)
	if errno == unix.EAGAIN {
		return false
	}
	c.n, c.rerr = int(n), nil
	if errno != 0 {
		c.rerr = errno
	}
	return true
}

// ReadEthernet reads the next frame into b, waiting for one. A frame
// longer than b is truncated to it; b needs 4 bytes to spare for a tag.
func (c *IncomingConn) ReadEthernet(b []byte) (int, error) {
	return c.readInto(b, c.read)
}

// TryReadEthernet is ReadEthernet without waiting: ok is false when no
// frame is queued. It lets a reader take a second frame only when one is
// already there (Encoder.SendPair) without delaying the first.
func (c *IncomingConn) TryReadEthernet(b []byte) (n int, ok bool, err error) {
	n, err = c.readInto(b, c.try)
	if errors.Is(err, unix.EAGAIN) {
		return 0, false, nil
	}
	return n, err == nil, err
}

// tryRead is recvmsg that never asks the runtime to wait.
func (c *IncomingConn) tryRead(fd uintptr) bool {
	if !c.recvmsg(fd) {
		c.rerr = unix.EAGAIN
	}
	return true
}

func (c *IncomingConn) readInto(b []byte, read func(fd uintptr) bool) (int, error) {
	if len(b) < ethHeaderLen+4 {
		return 0, fmt.Errorf("downstream read: %d-byte buffer", len(b))
	}
	c.iov.Base = &b[0]
	c.iov.SetLen(len(b) - 4)
	c.msg.Iov = &c.iov
	c.msg.SetIovlen(1)
	c.msg.Control = &c.oob[0]
	if err := c.raw.Read(read); err != nil {
		return 0, err
	}
	if c.rerr != nil {
		return 0, fmt.Errorf("downstream read: %w", c.rerr)
	}
	n := min(c.n, len(b)-4)
	aux, ok := auxdata(c.oob[:min(int(c.msg.Controllen), len(c.oob))])
	if !ok {
		return n, nil
	}
	if aux.Status&unix.TP_STATUS_VLAN_VALID != 0 && n >= 12 {
		tpid := uint16(0x8100)
		if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			tpid = aux.Vlan_tpid
		}
		copy(b[16:n+4], b[12:n])
		binary.BigEndian.PutUint16(b[12:], tpid)
		binary.BigEndian.PutUint16(b[14:], aux.Vlan_tci)
		n += 4
		c.Tagged.Add(1)
	}
	if aux.Status&unix.TP_STATUS_CSUMNOTREADY != 0 && completeChecksum(b[:n]) {
		c.Completed.Add(1)
	}
	return n, nil
}

// auxdata finds the PACKET_AUXDATA control message in oob.
func auxdata(oob []byte) (unix.TpacketAuxdata, bool) {
	hdrLen := unix.CmsgLen(0)
	for len(oob) >= hdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdrLen || l > len(oob) {
			break
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l-hdrLen >= int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			return *(*unix.TpacketAuxdata)(unsafe.Pointer(&oob[hdrLen])), true
		}
		if next := unix.CmsgSpace(l - hdrLen); next < len(oob) {
			oob = oob[next:]
		} else {
			break
		}
	}
	return unix.TpacketAuxdata{}, false
}

// SetReadDeadline bounds ReadEthernet; a past time unblocks a pending read.
func (c *IncomingConn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// Close closes the socket.
func (c *IncomingConn) Close() error { return c.c.Close() }
