// Package fwd programs per-subscriber forwarding on the line card: for each
// binding a /32 route through its port (scope link) and a permanent
// neighbour entry (IP -> MAC), so traffic towards a subscriber never
// triggers an ARP broadcast down the port and cannot be drawn to another
// port by a forged ARP reply.
//
// Requests go out over rtnetlink in pipelined batches (many messages per
// write, acknowledgements read back in order) on
// github.com/mdlayher/netlink; github.com/vishvananda/netlink resolves ports
// and lists what is installed.
package fwd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/mdlayher/netlink"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultProtocol tags leaseguard's routes (rtm_protocol) and neighbours
// (NDA_PROTOCOL), so they can be told from the rest after a restart. It is
// not among the values iproute2's rt_protos assigns.
const DefaultProtocol = 108

// Binding is one subscriber: IP reachable at MAC through Port.
type Binding struct {
	Port string
	IP   netip.Addr
	MAC  net.HardwareAddr
}

func (b Binding) String() string { return fmt.Sprintf("%s %v %v", b.Port, b.IP, b.MAC) }

// Config says where and how to program.
type Config struct {
	// NetNS is a network namespace file descriptor; 0 means the current
	// one. The caller keeps the file open while the Programmer is used.
	NetNS int
	// Protocol tags our routes and neighbours; 0 means DefaultProtocol.
	Protocol uint8
	// Table is the routing table; 0 means main.
	Table uint32
	// Window is how many requests are written before their
	// acknowledgements are read; 0 means 512.
	Window int
}

// Programmer installs and removes forwarding state for bindings.
type Programmer struct {
	cfg Config

	mu sync.Mutex // one batch at a time: acknowledgements are read in order
	c  *netlink.Conn
	h  *vnl.Handle
}

// New dials rtnetlink in cfg.NetNS.
func New(cfg Config) (*Programmer, error) {
	if cfg.Protocol == 0 {
		cfg.Protocol = DefaultProtocol
	}
	if cfg.Table == 0 {
		cfg.Table = mainTable
	}
	if cfg.Window <= 0 {
		cfg.Window = 512
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: cfg.NetNS})
	if err != nil {
		return nil, fmt.Errorf("fwd: dial rtnetlink: %w", err)
	}
	// Error messages without the request echoed; room for a window of
	// them.
	_ = c.SetOption(netlink.CapAcknowledge, true)
	if err := c.SetReadBuffer(4 << 20); err != nil {
		c.Close()
		return nil, fmt.Errorf("fwd: read buffer: %w", err)
	}
	ns := netns.None()
	if cfg.NetNS != 0 {
		ns = netns.NsHandle(cfg.NetNS)
	}
	h, err := vnl.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("fwd: netlink handle: %w", err)
	}
	return &Programmer{cfg: cfg, c: c, h: h}, nil
}

// Close releases the sockets; the programmed state stays.
func (p *Programmer) Close() error {
	p.h.Close()
	return p.c.Close()
}

// Add installs (or replaces) the neighbour entry and then the route of each
// binding. Failures are reported per binding in an *Errors; the other
// bindings are installed regardless.
func (p *Programmer) Add(bs []Binding) error {
	return p.batch(bs, true)
}

// Remove deletes the route and then the neighbour entry of each binding.
// State already gone is not an error. Only Port and IP are used.
func (p *Programmer) Remove(bs []Binding) error {
	return p.batch(bs, false)
}

func (p *Programmer) batch(bs []Binding, add bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	reqs, errs := p.requests(bs, add)
	for len(reqs) > 0 {
		n := min(len(reqs), p.cfg.Window)
		errs = append(errs, p.exchange(reqs[:n], bs, !add)...)
		reqs = reqs[n:]
	}
	if len(errs) > 0 {
		return &Errors{Failed: errs}
	}
	return nil
}

// requests builds the messages of a batch, in the order they must run.
func (p *Programmer) requests(bs []Binding, add bool) ([]request, []Error) {
	ports := map[string]int{}
	var reqs []request
	var errs []Error
	for i, b := range bs {
		idx, err := p.portIndex(ports, b.Port)
		if err == nil {
			err = b.validate(add)
		}
		if err != nil {
			errs = append(errs, Error{Binding: b, Op: "resolve", Err: err})
			continue
		}
		neigh := request{msg: neighMsg(add, idx, b.IP.Unmap(), b.MAC, p.cfg.Protocol), binding: i}
		route := request{msg: routeMsg(add, idx, b.IP.Unmap(), p.cfg.Protocol, p.cfg.Table), binding: i}
		if add {
			neigh.op, route.op = "neighbour add", "route add"
			reqs = append(reqs, neigh, route)
		} else {
			neigh.op, route.op = "neighbour delete", "route delete"
			reqs = append(reqs, route, neigh)
		}
	}
	return reqs, errs
}

func (b Binding) validate(add bool) error {
	if !b.IP.Unmap().Is4() {
		return fmt.Errorf("address %v is not IPv4", b.IP)
	}
	if add && len(b.MAC) != 6 {
		return fmt.Errorf("MAC %v: length %d, want 6", b.MAC, len(b.MAC))
	}
	return nil
}

// portIndex resolves a port name once per batch: an index cached across
// batches would go stale when a port is recreated.
func (p *Programmer) portIndex(cache map[string]int, name string) (int, error) {
	if idx, ok := cache[name]; ok {
		return idx, nil
	}
	l, err := p.h.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("port %q: %w", name, err)
	}
	cache[name] = l.Attrs().Index
	return cache[name], nil
}

// exchange writes reqs in one go. Only the last request asks for an
// acknowledgement: the kernel answers a request without NLM_F_ACK only when
// it fails, and handles the requests of one write in order, so once the
// last one is answered every failure before it has been read. Sequence
// numbers tie failures to requests.
func (p *Programmer) exchange(reqs []request, bs []Binding, tolerateMissing bool) []Error {
	msgs := make([]netlink.Message, len(reqs))
	for i, r := range reqs {
		msgs[i] = r.msg
		msgs[i].Header.Flags &^= netlink.Acknowledge
	}
	msgs[len(msgs)-1].Header.Flags |= netlink.Acknowledge
	sent, err := p.c.SendMessages(msgs)
	if err != nil {
		return failAll(reqs, bs, fmt.Errorf("send: %w", err))
	}
	bySeq := make(map[uint32]int, len(sent))
	for i, m := range sent {
		bySeq[m.Header.Sequence] = i
	}
	last := sent[len(sent)-1].Header.Sequence
	var errs []Error
	for {
		msgs, err := p.c.Receive()
		if err == nil {
			for _, m := range msgs {
				if m.Header.Sequence == last {
					return errs
				}
			}
			continue
		}
		var oe *netlink.OpError
		i, ok := 0, false
		if errors.As(err, &oe) {
			i, ok = bySeq[oe.Sequence]
		}
		if !ok { // a socket error: the outcome of the window is unknown
			return append(errs, failAll(reqs, bs, err)...)
		}
		if !tolerateMissing || !(errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT)) {
			errs = append(errs, Error{Binding: bs[reqs[i].binding], Op: reqs[i].op, Err: oe.Err})
		}
		if oe.Sequence == last {
			return errs
		}
	}
}

func failAll(reqs []request, bs []Binding, err error) []Error {
	out := make([]Error, len(reqs))
	for i, r := range reqs {
		out[i] = Error{Binding: bs[r.binding], Op: r.op, Err: err}
	}
	return out
}

// Error is one failed request.
type Error struct {
	Binding Binding
	Op      string
	Err     error
}

func (e Error) Error() string { return fmt.Sprintf("%s for %v: %v", e.Op, e.Binding, e.Err) }
func (e Error) Unwrap() error { return e.Err }

// Errors lists the failed requests of a batch.
type Errors struct {
	Failed []Error
}

func (e *Errors) Error() string {
	const show = 3
	var b strings.Builder
	fmt.Fprintf(&b, "fwd: %d requests failed", len(e.Failed))
	for i, f := range e.Failed[:min(show, len(e.Failed))] {
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		b.WriteString(sep + f.Error())
	}
	if len(e.Failed) > show {
		b.WriteString("; ...")
	}
	return b.String()
}

// Unwrap exposes the individual failures to errors.Is and errors.As.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f
	}
	return out
}
