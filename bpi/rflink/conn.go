package rflink

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// Conn is one end of the virtual RF link: it writes and reads DOCSIS MAC
// frames encapsulated as the package describes. Writes and reads may run
// concurrently with each other, but not with themselves.
type Conn struct {
	c    *packet.Conn
	raw  syscall.RawConn
	src  net.HardwareAddr
	wbuf []byte
	rbuf []byte
	// send writes wbuf on the raw descriptor; made once so that a write
	// does not allocate a closure.
	send func(fd uintptr) bool
	werr error
}

// Listen opens the RF link on ifi.
func Listen(ifi *net.Interface) (*Conn, error) {
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("RF link %s: no Ethernet address", ifi.Name)
	}
	c, err := packet.Listen(ifi, packet.Raw, EtherType, nil)
	if err != nil {
		return nil, fmt.Errorf("RF link %s: %w", ifi.Name, err)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("RF link %s: %w", ifi.Name, err)
	}
	rc := &Conn{c: c, raw: raw, src: ifi.HardwareAddr, wbuf: make([]byte, 0, 2048), rbuf: make([]byte, 65536)}
	rc.send = rc.sendFD
	return rc, nil
}

// WriteDOCSIS sends one DOCSIS MAC frame. It does not allocate: the socket
// is bound to the link, so a plain write(2) without an address sends the
// frame as it is (packet.Conn.WriteTo would allocate a sockaddr).
func (c *Conn) WriteDOCSIS(frame []byte) error {
	c.wbuf = Encapsulate(c.wbuf[:0], c.src, frame)
	if err := c.raw.Write(c.send); err != nil {
		return fmt.Errorf("RF link write: %w", err)
	}
	if c.werr != nil {
		return fmt.Errorf("RF link write: %w", c.werr)
	}
	return nil
}

// sendFD is the raw write; false asks the runtime to wait for the socket
// to become writable.
func (c *Conn) sendFD(fd uintptr) bool {
	_, c.werr = unix.Write(int(fd), c.wbuf)
	return c.werr != unix.EAGAIN
}

// ReadDOCSIS reads the next DOCSIS MAC frame into b and returns its length
// (with any link padding: the MAC header's LEN delimits the frame). Frames
// with another EtherType are skipped; frames longer than b are truncated.
func (c *Conn) ReadDOCSIS(b []byte) (int, error) {
	for {
		n, _, err := c.c.ReadFrom(c.rbuf)
		if err != nil {
			return 0, err
		}
		payload, err := Decapsulate(c.rbuf[:n])
		if errors.Is(err, ErrNotDOCSIS) {
			continue
		}
		return copy(b, payload), nil
	}
}

// SetReadDeadline bounds ReadDOCSIS; a past time unblocks a pending read.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// Close closes the socket.
func (c *Conn) Close() error { return c.c.Close() }

// EthernetConn sends and receives whole Ethernet frames on a link, such as
// the CPE side of a modem emulator or the network side of the CMTS.
type EthernetConn struct {
	c    *packet.Conn
	addr packet.Addr
}

// Protocols for ListenEthernet.
const (
	// AllProtocols (ETH_P_ALL) receives every frame.
	AllProtocols = 0x0003
	// WriteOnly receives nothing: for a link the caller only sends on, so
	// that unread frames do not queue up in the socket.
	WriteOnly = 0
)

// ListenEthernet opens a raw Ethernet socket on ifi that receives frames of
// the given EtherType (or AllProtocols, or WriteOnly).
func ListenEthernet(ifi *net.Interface, protocol int) (*EthernetConn, error) {
	c, err := packet.Listen(ifi, packet.Raw, protocol, nil)
	if err != nil {
		return nil, fmt.Errorf("Ethernet link %s: %w", ifi.Name, err)
	}
	return &EthernetConn{c: c}, nil
}

// WriteEthernet sends one Ethernet frame (without FCS) as it is.
func (e *EthernetConn) WriteEthernet(frame []byte) error {
	if len(frame) < ethHeaderLen {
		return fmt.Errorf("Ethernet frame of %d bytes", len(frame))
	}
	e.addr.HardwareAddr = frame[:6]
	_, err := e.c.WriteTo(frame, &e.addr)
	return err
}

// ReadEthernet reads the next frame into b.
func (e *EthernetConn) ReadEthernet(b []byte) (int, error) {
	n, _, err := e.c.ReadFrom(b)
	return n, err
}

// SetReadDeadline bounds ReadEthernet; a past time unblocks a pending read.
func (e *EthernetConn) SetReadDeadline(t time.Time) error { return e.c.SetReadDeadline(t) }

// Close closes the socket.
func (e *EthernetConn) Close() error { return e.c.Close() }

// Stats returns the kernel's counters for the socket (packets received and
// dropped for want of buffer space), reset by each call.
func (c *Conn) Stats() (*packet.Stats, error) { return c.c.Stats() }
