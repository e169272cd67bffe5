package rflink

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mdlayher/packet"
)

// Conn is one end of the virtual RF link: it writes and reads DOCSIS MAC
// frames encapsulated as the package describes. Writes and reads may run
// concurrently with each other, but not with themselves.
type Conn struct {
	c    *packet.Conn
	src  net.HardwareAddr
	dst  *packet.Addr
	wbuf []byte
	rbuf []byte
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
	return &Conn{c: c, src: ifi.HardwareAddr, dst: &packet.Addr{HardwareAddr: Broadcast},
		wbuf: make([]byte, 0, 2048), rbuf: make([]byte, 65536)}, nil
}

// WriteDOCSIS sends one DOCSIS MAC frame.
func (c *Conn) WriteDOCSIS(frame []byte) error {
	c.wbuf = Encapsulate(c.wbuf[:0], c.src, frame)
	_, err := c.c.WriteTo(c.wbuf, c.dst)
	return err
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
