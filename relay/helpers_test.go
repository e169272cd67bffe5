package relay

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	upstream = netip.MustParseAddr("10.0.0.2")
	server1  = netip.MustParseAddr("10.0.0.1")
	server2  = netip.MustParseAddr("10.0.0.3")
	gwCable  = netip.MustParseAddr("192.168.10.1")
	gwDSL    = netip.MustParseAddr("192.168.20.1")
	gwTrust  = netip.MustParseAddr("192.168.30.1")
	modem    = net.HardwareAddr{0x00, 0x10, 0x95, 0x00, 0x00, 0x01}
	client   = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	bcastIP  = netip.MustParseAddr("255.255.255.255")
)

const (
	portCable = iota
	portDSL
	portTrusted
)

// testConfig has a cable port with a modem and device class, a DSL port
// with a configured remote-id, and a trusted port with link selection
// whose policy each test sets.
func testConfig() Config {
	return Config{
		Upstream: upstream,
		Servers:  []netip.Addr{server1, server2},
		RelayID:  []byte("card-7"),
		Ports: []PortConfig{
			{Name: "cable1/0/0", Interface: "sub0", Gateway: gwCable, CircuitID: []byte("cable1/0/0"),
				RemoteID: modem, Modem: modem, DeviceClass: lq.DeviceClassCCCM, HasDeviceClass: true},
			{Name: "dsl1/1", Interface: "sub1", Gateway: gwDSL, CircuitID: []byte("dsl1/1"), RemoteID: []byte("line-0042")},
			{Name: "trunk", Interface: "sub2", Gateway: gwTrust, CircuitID: []byte("trunk"),
				LinkSelection: netip.MustParseAddr("192.168.30.0"), Trusted: true, Policy: PolicyReplace},
		},
	}
}

func newRelay(t testing.TB, cfg Config) *Relay {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// msg builds a BOOTP/DHCP message the way clients and servers lay them
// out: options in the given order, END, padded to the BOOTP minimum.
type msg struct {
	op                     lq.OpCode
	typ                    lq.MessageType // 0: no option 53
	xid                    uint32
	hops                   uint8
	flags                  uint16
	ciaddr, yiaddr, giaddr netip.Addr
	chaddr                 net.HardwareAddr
	opts                   []lq.Option
	noCookie               bool
	minLen                 int // 0 means 300
}

func (m msg) bytes() []byte {
	b := make([]byte, 240, 1500)
	b[0] = byte(m.op)
	b[1], b[2] = 1, byte(len(m.chaddr))
	b[3] = m.hops
	binary.BigEndian.PutUint32(b[4:], m.xid)
	binary.BigEndian.PutUint16(b[10:], m.flags)
	put := func(off int, a netip.Addr) {
		if a.IsValid() {
			a4 := a.As4()
			copy(b[off:], a4[:])
		}
	}
	put(12, m.ciaddr)
	put(16, m.yiaddr)
	put(24, m.giaddr)
	copy(b[28:], m.chaddr)
	if m.noCookie {
		return b[:236]
	}
	copy(b[236:], []byte{99, 130, 83, 99})
	if m.typ != 0 {
		b = append(b, lq.OptMessageType, 1, byte(m.typ))
	}
	for _, o := range m.opts {
		b = append(b, o.Code, byte(len(o.Data)))
		b = append(b, o.Data...)
	}
	b = append(b, lq.OptEnd)
	minLen := m.minLen
	if minLen == 0 {
		minLen = lq.MinLen
	}
	for len(b) < minLen {
		b = append(b, 0)
	}
	return b
}

func discover(xid uint32) msg {
	return msg{op: lq.BootRequest, typ: lq.Discover, xid: xid, chaddr: client,
		opts: []lq.Option{{Code: lq.OptClientID, Data: append([]byte{1}, client...)}}}
}

func dhcpRequest(xid uint32, ip netip.Addr) msg {
	a := ip.As4()
	return msg{op: lq.BootRequest, typ: lq.Request, xid: xid, chaddr: client, opts: []lq.Option{
		{Code: lq.OptClientID, Data: append([]byte{1}, client...)},
		{Code: optRequestedIP, Data: a[:]},
		{Code: lq.OptVendorClass, Data: []byte("udhcp 1.35.0")},
	}}
}

// reply is a server's answer to xid through giaddr gi, carrying opt82
// (nil: none) after the lease options.
func reply(typ lq.MessageType, xid uint32, gi, yi netip.Addr, opt82 []byte) msg {
	s := server1.As4()
	m := msg{op: lq.BootReply, typ: typ, xid: xid, chaddr: client, giaddr: gi, yiaddr: yi, opts: []lq.Option{
		{Code: lq.OptServerID, Data: s[:]},
	}}
	if typ == lq.Ack || typ == lq.Offer {
		m.opts = append(m.opts,
			lq.Option{Code: lq.OptLeaseTime, Data: []byte{0, 0, 0x0e, 0x10}},   // 3600 s
			lq.Option{Code: lq.OptRenewalTime, Data: []byte{0, 0, 0x07, 0x08}}, // 1800 s
			lq.Option{Code: lq.OptRebindingTime, Data: []byte{0, 0, 0x0c, 0x4e}})
	}
	if opt82 != nil {
		m.opts = append(m.opts, lq.Option{Code: lq.OptAgentInfo, Data: opt82})
	}
	return m
}

// sub encodes sub-options for option 82 payloads in tests.
func sub(code uint8, data []byte) []byte { return append([]byte{code, byte(len(data))}, data...) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// cableOpt82 is the option 82 payload the relay inserts on the cable port
// of testConfig, written out by hand from RFC 3046, 3256 and 6925.
var cableOpt82 = cat(
	sub(1, []byte("cable1/0/0")),
	sub(2, modem),
	sub(4, []byte{0, 0, 0, 1}),
	sub(12, []byte("card-7")),
)

var dslOpt82 = cat(sub(1, []byte("dsl1/1")), sub(2, []byte("line-0042")), sub(12, []byte("card-7")))

func parse(t testing.TB, b []byte) lq.Packet {
	t.Helper()
	p, err := lq.ParsePacket(b)
	if err != nil {
		t.Fatalf("relayed message does not parse: %v", err)
	}
	return p
}

func buf() []byte { return make([]byte, 0, 2048) }
