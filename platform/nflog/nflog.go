// Package nflog reads an nfnetlink_log (NFLOG) group on
// github.com/mdlayher/netlink: leaseguard's ruleset logs the first packet of
// each unknown source, and of each unknown destination, to a group, and the
// agent answers with a leasequery.
package nflog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// NFLOG configuration (linux/netfilter/nfnetlink_log.h).
const (
	msgPacket  = unix.NFNL_SUBSYS_ULOG<<8 | 0 // NFULNL_MSG_PACKET
	msgConfig  = unix.NFNL_SUBSYS_ULOG<<8 | 1 // NFULNL_MSG_CONFIG
	cfgCmd     = 1                            // NFULA_CFG_CMD
	cfgMode    = 2                            // NFULA_CFG_MODE
	cfgQThresh = 5                            // NFULA_CFG_QTHRESH
	cmdBind    = 1                            // NFULNL_CFG_CMD_BIND
	copyPacket = 2                            // NFULNL_COPY_PACKET
)

// DefaultCopyRange covers an IPv4 header with options (60 bytes) or an ARP
// packet (28): the payload starts at the network header, and the Ethernet
// header comes in an attribute of its own.
const DefaultCopyRange = 64

// Config says which group to read and how.
type Config struct {
	Group uint16
	// NetNS is a network namespace file descriptor; 0 means the current one.
	NetNS int
	// CopyRange is how many payload bytes the kernel copies; 0 means
	// DefaultCopyRange.
	CopyRange uint32
	// ReadBuffer is the socket receive buffer; 0 means 4 MiB (about
	// 20,000 reports: a burst of unknown sources after a reboot must not
	// overflow it, since a lost report is not repeated until the source's
	// de-duplication entry expires).
	ReadBuffer int
}

// Reader receives the packets logged to one NFLOG group.
type Reader struct {
	c         *netlink.Conn
	group     uint16
	malformed atomic.Uint64
	delivered atomic.Uint64
}

// Listen binds cfg.Group in packet-copy mode with messages sent one by one
// (queue threshold 1: a report should not wait for the one-second flush
// timer). Only one socket may bind a group: EBUSY means another has it.
// NoENOBUFS is set: when the agent falls behind, reports are lost rather
// than the socket failing; the ruleset reports the source again once its
// de-duplication entry expires.
func Listen(cfg Config) (*Reader, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: cfg.NetNS})
	if err != nil {
		return nil, fmt.Errorf("nflog group %d: dial: %w", cfg.Group, err)
	}
	r := &Reader{c: c, group: cfg.Group}
	if err := r.configure(cfg); err != nil {
		c.Close()
		return nil, fmt.Errorf("nflog group %d: %w", cfg.Group, err)
	}
	return r, nil
}

func (r *Reader) configure(cfg Config) error {
	if err := setReadBuffer(r.c, orDefault(cfg.ReadBuffer, 4<<20)); err != nil {
		return fmt.Errorf("read buffer: %w", err)
	}
	if err := r.c.SetOption(netlink.NoENOBUFS, true); err != nil {
		return fmt.Errorf("NoENOBUFS: %w", err)
	}
	mode := make([]byte, 6) // struct nfulnl_msg_config_mode: __be32 range, __u8 mode, pad
	binary.BigEndian.PutUint32(mode, uint32(orDefault(cfg.CopyRange, DefaultCopyRange)))
	mode[4] = copyPacket
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: cfgCmd, Data: []byte{cmdBind}},
		{Type: cfgMode, Data: mode},
		{Type: cfgQThresh, Data: binary.BigEndian.AppendUint32(nil, 1)},
	})
	if err != nil {
		return err
	}
	hdr := []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}
	binary.BigEndian.PutUint16(hdr[2:], r.group)
	_, err = r.c.Execute(netlink.Message{
		Header: netlink.Header{Type: msgConfig, Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(hdr, attrs...),
	})
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return nil
}

// Read returns the packets of the next netlink read. Messages that do not
// parse are counted (Stats) and skipped.
func (r *Reader) Read() ([]Packet, error) {
	msgs, err := r.c.Receive()
	if err != nil {
		return nil, err
	}
	var out []Packet
	for _, m := range msgs {
		if m.Header.Type != msgPacket {
			continue
		}
		p, err := ParsePacket(m.Data)
		if err != nil || p.Group != r.group {
			r.malformed.Add(1)
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// SetReadDeadline bounds the next Read.
func (r *Reader) SetReadDeadline(t time.Time) error { return r.c.SetReadDeadline(t) }

// Run delivers every report until ctx ends; it returns ctx.Err() then, or
// the read error that stopped it. Packets that are not reports are
// counted as malformed.
func (r *Reader) Run(ctx context.Context, deliver func(Report)) error {
	stop := context.AfterFunc(ctx, func() { r.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		pkts, err := r.Read()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("nflog group %d: %w", r.group, err)
		}
		for _, p := range pkts {
			rep, err := p.Report()
			if err != nil {
				r.malformed.Add(1)
				continue
			}
			r.delivered.Add(1)
			deliver(rep)
		}
	}
}

// Stats counts what Run delivered and what was skipped.
type Stats struct {
	Delivered, Malformed uint64
}

// Stats returns the reader's counters.
func (r *Reader) Stats() Stats {
	return Stats{Delivered: r.delivered.Load(), Malformed: r.malformed.Load()}
}

// Close unbinds the group (the kernel drops the instance with the socket).
func (r *Reader) Close() error { return r.c.Close() }

// IsTimeout reports whether err is a read deadline expiring.
func IsTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// setReadBuffer sets the receive buffer past net.core.rmem_max as
// CAP_NET_ADMIN may (SO_RCVBUFFORCE), else as far as the sysctl allows.
func setReadBuffer(c *netlink.Conn, n int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	if serr != nil {
		return c.SetReadBuffer(n)
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
