package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// maxConsecutiveReadErrors ends a port's loop when its socket keeps failing
// without a single frame read in between, rather than spinning.
const maxConsecutiveReadErrors = 100

// PortConfig names one subscriber port.
type PortConfig struct {
	// Name is the Linux interface: physical, VLAN or veth. It needs no
	// IPv4 address.
	Name string
	// SourceIP is the IPv4 source of replies sent out of the port: the
	// relay's address (giaddr) on that side.
	SourceIP netip.Addr
	// ReadBuffer sets SO_RCVBUF in bytes; 0 keeps the kernel default.
	ReadBuffer int
	// Batch is how many frames one receive system call may return
	// (recvmmsg); 0 means 1. Only frames already queued are batched, so
	// batching adds no latency; it saves system calls under load.
	Batch int
	// OnError, when set, is told of each receive error; the loop goes on
	// unless Run returns. It may be called from the port's goroutine.
	OnError func(error)
}

// PortError is an error on one port.
type PortError struct {
	Port string
	Op   string // "open", "receive", "send"
	Err  error
}

func (e *PortError) Error() string { return "port " + e.Port + ": " + e.Op + ": " + e.Err.Error() }
func (e *PortError) Unwrap() error { return e.Err }

// PortStats counts what one port saw and did.
type PortStats struct {
	Received       uint64 // client DHCP frames handed to the handler
	Malformed      uint64 // passed the kernel filter but not the frame checks
	BadChecksum    uint64 // IPv4 header or UDP checksum wrong (RFC 1122 §4.1.3.4)
	OtherInterface uint64 // delivered for another interface (should not happen: the filter checks)
	Truncated      uint64 // longer than the receive buffer
	ReadErrors     uint64
	KernelDrops    uint64 // dropped by the kernel for want of socket buffer
	Sent           uint64
	SendErrors     uint64
}

// Port is one subscriber port: an AF_PACKET socket on a Linux interface
// whose kernel filter passes only client DHCP (IPv4/UDP 68->67), so the
// relay hears clients whether or not the interface has an address, and
// which sends replies as whole Ethernet frames, needing no ARP.
type Port struct {
	name    string
	index   int
	mac     [6]byte
	src     [4]byte
	conn    *packet.Conn
	rc      syscall.RawConn
	onError func(error)

	rx *mmsgReader // used only by the Run goroutine

	frameMax int // the largest frame the port reads or writes

	txID  atomic.Uint32 // IPv4 identification of the next frame
	txMu  sync.Mutex
	txBuf []byte
	txErr error
	write func(fd uintptr) bool

	received, malformed, badChecksum, otherIf, truncated atomic.Uint64
	readErrors, sent, sendErrors                         atomic.Uint64

	statsMu     sync.Mutex
	kernelDrops uint64
}

// OpenPort opens the packet socket of one port, with its filter attached
// before the socket is bound so that no other frame is ever queued. It
// must be called in the network namespace of the interface.
func OpenPort(cfg PortConfig) (*Port, error) {
	if !cfg.SourceIP.Is4() {
		return nil, &PortError{cfg.Name, "open", fmt.Errorf("source address %v is not IPv4", cfg.SourceIP)}
	}
	ifi, err := net.InterfaceByName(cfg.Name)
	if err != nil {
		return nil, &PortError{cfg.Name, "open", err}
	}
	mac, ok := hardwareAddr6(ifi.HardwareAddr)
	if !ok {
		return nil, &PortError{cfg.Name, "open", fmt.Errorf("hardware address %v is not Ethernet", ifi.HardwareAddr)}
	}
	filter, err := portFilter(ifi.Index)
	if err != nil {
		return nil, &PortError{cfg.Name, "open", err}
	}
	conn, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_IP, &packet.Config{Filter: filter})
	if err != nil {
		return nil, &PortError{cfg.Name, "open", err}
	}
	p := &Port{name: cfg.Name, index: ifi.Index, mac: mac, src: cfg.SourceIP.As4(), conn: conn, onError: cfg.OnError}
	if err := p.setup(ifi.MTU, cfg); err != nil {
		conn.Close()
		return nil, &PortError{cfg.Name, "open", err}
	}
	return p, nil
}

// setup asks for PACKET_AUXDATA (to learn when a checksum is not yet
// computed), sizes the buffers to the MTU, and builds the closures the
// hot path reuses.
func (p *Port) setup(mtu int, cfg PortConfig) error {
	rc, err := p.conn.SyscallConn()
	if err != nil {
		return err
	}
	p.rc = rc
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
		if serr == nil && cfg.ReadBuffer > 0 {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.ReadBuffer)
		}
	})
	if err = errors.Join(err, serr); err != nil {
		return err
	}
	p.frameMax = max(mtu, 1500) + ethHeaderLen
	p.rx = newMmsgReader(rc, max(cfg.Batch, 1), p.frameMax+4, auxdataSpace) // a longer frame is counted as truncated
	p.txBuf = make([]byte, 0, p.frameMax)
	p.write = p.writeFrame
	return nil
}

// Name is the interface name.
func (p *Port) Name() string { return p.name }

// Index is the interface index.
func (p *Port) Index() int { return p.index }

// MAC is the interface's Ethernet address, the source of every reply.
func (p *Port) MAC() [6]byte { return p.mac }

// Close closes the socket; a running Run returns.
func (p *Port) Close() error { return p.conn.Close() }

// Stats returns the counters so far. Reading the kernel's drop counter
// resets it in the kernel, so Stats accumulates it.
func (p *Port) Stats() PortStats {
	p.statsMu.Lock()
	if ks, err := p.conn.Stats(); err == nil {
		p.kernelDrops += uint64(ks.Drops)
	}
	drops := p.kernelDrops
	p.statsMu.Unlock()
	return PortStats{
		Received: p.received.Load(), Malformed: p.malformed.Load(), BadChecksum: p.badChecksum.Load(),
		OtherInterface: p.otherIf.Load(), Truncated: p.truncated.Load(), ReadErrors: p.readErrors.Load(),
		KernelDrops: drops, Sent: p.sent.Load(), SendErrors: p.sendErrors.Load(),
	}
}

// Run reads client DHCP frames and hands each to h until ctx is done, then
// returns ctx's error. If h is also a BatchEnder, it is told after the
// frames of each receive call. Run returns early only when the socket is
// closed or keeps failing; receive errors in between are counted and
// reported to OnError. Run must not be called twice at once.
func (p *Port) Run(ctx context.Context, h ClientHandler) error {
	if err := p.conn.SetReadDeadline(time.Time{}); err != nil {
		return &PortError{p.name, "receive", err}
	}
	stop := context.AfterFunc(ctx, func() { p.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	ender, _ := h.(BatchEnder)
	failures := 0
	for {
		n, err := p.rx.read()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if failures++; failures >= maxConsecutiveReadErrors || !isErrno(err) {
				return &PortError{p.name, "receive", err}
			}
			p.readErrors.Add(1)
			p.report("receive", err)
			continue
		}
		failures = 0
		for i := range n {
			frame, meta := frameMeta(p.rx.vec, i)
			p.deliver(frame, meta, h)
		}
		if ender != nil {
			ender.EndBatch(p)
		}
	}
}

// deliver checks one frame and passes it to h.
func (p *Port) deliver(frame []byte, aux rxMeta, h ClientHandler) {
	switch {
	case aux.truncated:
		p.truncated.Add(1)
		return
	case aux.ifindex != p.index || aux.pkttype > unix.PACKET_MULTICAST:
		p.otherIf.Add(1)
		return
	}
	f, err := parseClientFrame(frame, aux.csumNotReady)
	switch {
	case errors.Is(err, errBadChecksum):
		p.badChecksum.Add(1)
	case err != nil:
		p.malformed.Add(1)
	default:
		p.received.Add(1)
		h.HandleClient(p, f)
	}
}

func (p *Port) report(op string, err error) {
	if p.onError != nil {
		p.onError(&PortError{p.name, op, err})
	}
}

// Send writes payload to the client as one Ethernet frame from the port's
// MAC and source address, UDP port 67 to 68, with checksums computed. It
// never ARPs: dst.MAC is used as given. Safe for concurrent use; it does
// not allocate unless it fails.
func (p *Port) Send(dst Destination, payload []byte) error {
	if err := p.checkSend(dst, payload); err != nil {
		return err
	}
	p.txMu.Lock()
	defer p.txMu.Unlock()
	p.txBuf = p.appendFrame(p.txBuf[:0], dst, payload)
	p.txErr = nil
	if err := p.rc.Write(p.write); err != nil {
		return p.sendFailed(err)
	}
	if p.txErr != nil {
		return p.sendFailed(p.txErr)
	}
	p.sent.Add(1)
	return nil
}

func (p *Port) checkSend(dst Destination, payload []byte) error {
	if !dst.IP.Is4() {
		return p.sendFailed(fmt.Errorf("destination %v is not IPv4", dst.IP))
	}
	if frameOverhead+len(payload) > p.frameMax {
		return p.sendFailed(fmt.Errorf("%d-octet payload exceeds the port's %d-octet limit", len(payload), p.frameMax-frameOverhead))
	}
	return nil
}

// appendFrame builds the reply frame for dst into buf.
func (p *Port) appendFrame(buf []byte, dst Destination, payload []byte) []byte {
	return appendUDPFrame(buf, udpFrame{
		SrcMAC: p.mac, DstMAC: dst.MAC, SrcIP: p.src, DstIP: dst.IP.As4(),
		SrcPort: portServer, DstPort: portClient, ID: uint16(p.txID.Add(1)),
	}, payload)
}

// writeFrame is the RawConn.Write callback; the socket is bound to the
// interface, so a plain write(2) needs no address.
func (p *Port) writeFrame(fd uintptr) bool {
	for {
		_, err := unix.Write(int(fd), p.txBuf)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case nil:
		default:
			p.txErr = err
		}
		return true
	}
}

func (p *Port) sendFailed(err error) error {
	p.sendErrors.Add(1)
	return &PortError{p.name, "send", err}
}

func isErrno(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno)
}
