package platform

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxDatagram is the receive buffer per datagram upstream: DHCP messages
// beyond an Ethernet MTU do not occur in practice, and a longer one is
// counted as truncated rather than half-read.
const maxDatagram = 4096

// UpstreamConfig says where the upstream socket binds.
type UpstreamConfig struct {
	// Addr is the relay's address towards the servers (giaddr); required.
	Addr netip.Addr
	// Port defaults to 67, where servers send replies and leasequery
	// answers whatever our source port was.
	Port uint16
	// Device, when set, binds the socket to the upstream interface
	// (SO_BINDTODEVICE).
	Device string
	// Batch is how many datagrams one receive system call may return
	// (recvmmsg); 0 or 1 reads one at a time (recvmsg).
	Batch int
	// ReadBuffer sets SO_RCVBUF in bytes; 0 keeps the kernel default.
	ReadBuffer int
}

// UpstreamStats counts what an Upstream saw and did.
type UpstreamStats struct {
	DemuxStats
	Sent       uint64
	SendErrors uint64
	ReadErrors uint64 // transient receive errors, after which reading went on
	Truncated  uint64 // datagrams longer than the receive buffer, dropped
}

// Upstream is the UDP socket on the relay's address, port 67, that the
// relay and the leasequery client share in one process: both send through
// it and attach a handler for their class of reply (see Demux.Handle).
// Create one per address and hand it to both.
type Upstream struct {
	Demux
	local netip.AddrPort
	conn  *net.UDPConn
	batch int

	sent, sendErrors, readErrors, truncated atomic.Uint64
}

var _ UpstreamConn = (*Upstream)(nil)

// ListenUpstream binds the upstream socket. The socket sets SO_REUSEADDR
// to bind, so that it can coexist with a wildcard 0.0.0.0:67 listener that
// also set it (ISC dhcrelay's and dhcpd's fallback sockets do), and clears
// it once bound, so that any later bind of the same address and port, by
// another process or a second ListenUpstream in this one, fails with
// EADDRINUSE instead of silently splitting the replies between two sockets.
//
// A socket that bound this exact address earlier with SO_REUSEADDR still
// set is not detected: the kernel lets us share with it.
func ListenUpstream(cfg UpstreamConfig) (*Upstream, error) {
	if !cfg.Addr.Is4() {
		return nil, fmt.Errorf("upstream: address %v is not IPv4", cfg.Addr)
	}
	if cfg.Port == 0 {
		cfg.Port = portServer
	}
	local := netip.AddrPortFrom(cfg.Addr, cfg.Port)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return setsockopts(c, cfg)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", local.String())
	if errors.Is(err, unix.EADDRINUSE) {
		return nil, fmt.Errorf("upstream %v: already bound by another socket (another process, or a second ListenUpstream in this one: share one Upstream): %w", local, err)
	}
	if err != nil {
		return nil, fmt.Errorf("upstream %v: %w", local, err)
	}
	u := &Upstream{local: local, conn: pc.(*net.UDPConn), batch: max(cfg.Batch, 1)}
	if err := u.clearReuseAddr(); err != nil {
		u.conn.Close()
		return nil, err
	}
	return u, nil
}

// setsockopts applies the options that must precede bind.
func setsockopts(c syscall.RawConn, cfg UpstreamConfig) error {
	var err error
	cerr := c.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err == nil && cfg.Device != "" {
			if err = unix.BindToDevice(int(fd), cfg.Device); err != nil {
				err = fmt.Errorf("bind to device %s: %w", cfg.Device, err)
			}
		}
		if err == nil && cfg.ReadBuffer > 0 {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.ReadBuffer)
		}
	})
	return errors.Join(cerr, err)
}

func (u *Upstream) clearReuseAddr() error {
	rc, err := u.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("upstream %v: %w", u.local, err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 0)
	}); err != nil || serr != nil {
		return fmt.Errorf("upstream %v: clear SO_REUSEADDR: %w", u.local, errors.Join(err, serr))
	}
	return nil
}

// LocalAddr is the bound address and port.
func (u *Upstream) LocalAddr() netip.AddrPort { return u.local }

// Send sends one datagram. It does not allocate unless it fails.
func (u *Upstream) Send(to netip.AddrPort, b []byte) error {
	if _, err := u.conn.WriteToUDPAddrPort(b, to); err != nil {
		u.sendErrors.Add(1)
		return fmt.Errorf("upstream %v: send to %v: %w", u.local, to, err)
	}
	u.sent.Add(1)
	return nil
}

// Run receives and dispatches datagrams until ctx is done, then returns
// ctx's error. After the datagrams of each receive call it calls the
// batch-end handler (Demux.HandleBatchEnd). Datagrams that arrive before Run starts wait in the socket.
// Run must not be called twice at once.
func (u *Upstream) Run(ctx context.Context) error {
	if err := u.conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("upstream %v: %w", u.local, err)
	}
	stop := context.AfterFunc(ctx, func() { u.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if u.batch > 1 {
		return u.runBatch(ctx)
	}
	buf := make([]byte, maxDatagram)
	for {
		n, _, flags, from, err := u.conn.ReadMsgUDPAddrPort(buf, nil)
		switch {
		case err != nil:
			if err := u.readError(ctx, err); err != nil {
				return err
			}
		case flags&unix.MSG_TRUNC != 0:
			u.truncated.Add(1)
		default:
			u.Dispatch(buf[:n], from)
			u.EndBatch()
		}
	}
}

// readError decides whether a receive error ends Run: cancellation and a
// closed socket do; errors of the system call itself (such as ENOBUFS or
// an ICMP error reported on the socket) are counted and reading goes on.
func (u *Upstream) readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		u.readErrors.Add(1)
		return nil
	}
	return fmt.Errorf("upstream %v: receive: %w", u.local, err)
}

// Stats returns the counters so far.
func (u *Upstream) Stats() UpstreamStats {
	return UpstreamStats{
		DemuxStats: u.Demux.Stats(),
		Sent:       u.sent.Load(),
		SendErrors: u.sendErrors.Load(),
		ReadErrors: u.readErrors.Load(),
		Truncated:  u.truncated.Load(),
	}
}

// Close closes the socket; a running Run returns an error.
func (u *Upstream) Close() error { return u.conn.Close() }

// runBatch is Run with recvmmsg.
func (u *Upstream) runBatch(ctx context.Context) error {
	rc, err := u.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("upstream %v: %w", u.local, err)
	}
	r := newMmsgReader(rc, u.batch, maxDatagram, 0)
	for {
		n, err := r.read()
		if err != nil {
			if err := u.readError(ctx, err); err != nil {
				return err
			}
			continue
		}
		for i := range n {
			b, _, truncated := r.vec.received(i)
			if truncated {
				u.truncated.Add(1)
				continue
			}
			u.Dispatch(b, inet4Source(&r.vec.names[i]))
		}
		u.EndBatch()
	}
}

// inet4Source reads a sockaddr_in the kernel filled in.
func inet4Source(sa *unix.RawSockaddrAny) netip.AddrPort {
	in := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&in.Port))[:])
	return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), port)
}
