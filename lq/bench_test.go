package lq

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// The benchmarks run each operation two ways side by side: "lq" with this
// package, "dhcpv4" with github.com/insomniacslk/dhcp/dhcpv4 doing the
// same work (decode, edit, encode). Figures are in packet.go and reply.go.

var (
	benchGIAddr  = netip.MustParseAddr("10.0.0.1")
	benchCircuit = []byte("cmts0/3/1")
	benchRemote  = []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
)

// BenchmarkParseReply decodes a typical DHCPLEASEACTIVE (dhcpd's answer
// to a MAC query: lease times, 92, 91, 60, 61, 82) into a Binding.
func BenchmarkParseReply(b *testing.B) {
	raw := readGolden(b, "active_by_mac")
	now, from := time.Unix(1e9, 0), netip.MustParseAddr("10.99.0.1")
	b.Run("lq", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := ParseReply(raw)
			if err != nil {
				b.Fatal(err)
			}
			_ = r.Binding(now, from)
		}
	})
	b.Run("dhcpv4", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := dhcpv4.FromBytes(raw)
			if err != nil {
				b.Fatal(err)
			}
			_ = dhcpv4Binding(d, now, from)
		}
	})
}

// dhcpv4Binding extracts with dhcpv4's accessors what Reply.Binding gives.
func dhcpv4Binding(d *dhcpv4.DHCPv4, now time.Time, from netip.Addr) Binding {
	bd := Binding{HType: uint8(d.HWType), HWAddr: d.ClientHWAddr, Server: from}
	bd.IP, _ = netip.AddrFromSlice(d.ClientIPAddr.To4())
	if sid := d.ServerIdentifier(); sid != nil {
		bd.Server, _ = netip.AddrFromSlice(sid.To4())
	}
	if lt := d.IPAddressLeaseTime(0); lt != 0 {
		bd.Expiry = now.Add(lt)
	}
	bd.T1 = now.Add(d.IPAddressRenewalTime(0))
	bd.T2 = now.Add(d.IPAddressRebindingTime(0))
	if v := d.Options.Get(dhcpv4.GenericOptionCode(OptLastTransaction)); len(v) == 4 {
		bd.LastTransaction = now.Add(-time.Duration(uint32(v[0])<<24|uint32(v[1])<<16|uint32(v[2])<<8|uint32(v[3])) * time.Second)
	}
	for v := d.Options.Get(dhcpv4.GenericOptionCode(OptAssociatedIP)); len(v) >= 4; v = v[4:] {
		bd.AssociatedIPs = append(bd.AssociatedIPs, netip.AddrFrom4([4]byte(v[:4])))
	}
	bd.VendorClass = d.Options.Get(dhcpv4.OptionClassIdentifier)
	bd.ClientID = d.Options.Get(dhcpv4.OptionClientIdentifier)
	if rai := d.RelayAgentInfo(); rai != nil {
		for _, code := range []uint8{SubCircuitID, SubRemoteID} {
			if v := rai.Get(dhcpv4.GenericOptionCode(code)); v != nil {
				bd.AgentInfo = append(bd.AgentInfo, SubOption{Code: code, Data: v})
			}
		}
	}
	return bd
}

// BenchmarkRelayRequest is the relay's upstream hot path: read the
// message type, set giaddr, increment hops, add option 82, emit bytes.
func BenchmarkRelayRequest(b *testing.B) {
	in := discover()
	payload, err := AgentInfo{{SubCircuitID, benchCircuit}, {SubRemoteID, benchRemote}}.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("lq", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1500) // the relay's receive buffer
		for b.Loop() {
			p, err := ParsePacket(append(buf[:0], in...))
			if err != nil || p.MessageType() != Discover {
				b.Fatal(err)
			}
			if err := p.SetGIAddr(benchGIAddr); err != nil {
				b.Fatal(err)
			}
			if _, err := p.IncHops(); err != nil {
				b.Fatal(err)
			}
			if err := p.AddAgentInfo(payload, DefaultMaxLen); err != nil {
				b.Fatal(err)
			}
			_ = p.Bytes()
		}
	})
	gi := net.IP(benchGIAddr.AsSlice())
	b.Run("dhcpv4", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := dhcpv4.FromBytes(in)
			if err != nil || d.MessageType() != dhcpv4.MessageTypeDiscover {
				b.Fatal(err)
			}
			d.GatewayIPAddr = gi
			d.HopCount++
			d.UpdateOption(dhcpv4.OptRelayAgentInfo(
				dhcpv4.OptGeneric(dhcpv4.AgentCircuitIDSubOption, benchCircuit),
				dhcpv4.OptGeneric(dhcpv4.AgentRemoteIDSubOption, benchRemote)))
			_ = d.ToBytes()
		}
	})
}

// BenchmarkRelayReply is the downstream hot path: read the message type
// and the circuit ID from option 82, strip option 82, emit bytes.
func BenchmarkRelayReply(b *testing.B) {
	in := readGolden(b, "active_by_ip") // a BOOTREPLY with option 82 last
	in[offOptions+2] = uint8(Ack)
	b.Run("lq", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1500)
		for b.Loop() {
			p, err := ParsePacket(append(buf[:0], in...))
			if err != nil || p.MessageType() != Ack {
				b.Fatal(err)
			}
			if c, ok := p.SubOption(SubCircuitID); !ok || len(c) != len(benchCircuit) {
				b.Fatal("no circuit ID")
			}
			p.StripAgentInfo()
			_ = p.Bytes()
		}
	})
	b.Run("dhcpv4", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := dhcpv4.FromBytes(in)
			if err != nil || d.MessageType() != dhcpv4.MessageTypeAck {
				b.Fatal(err)
			}
			rai := d.RelayAgentInfo()
			if rai == nil || len(rai.Get(dhcpv4.AgentCircuitIDSubOption)) != len(benchCircuit) {
				b.Fatal("no circuit ID")
			}
			d.Options.Del(dhcpv4.OptionRelayAgentInformation)
			_ = d.ToBytes()
		}
	})
}

// BenchmarkPacketOptions ranges over every option of a reply.
func BenchmarkPacketOptions(b *testing.B) {
	p := mustParseB(b, readGolden(b, "active_by_mac"))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, v := range p.Options() {
			n += len(v)
		}
		if n == 0 {
			b.Fatal("no options")
		}
	}
}

func mustParseB(b *testing.B, raw []byte) Packet {
	p, err := ParsePacket(raw)
	if err != nil {
		b.Fatal(err)
	}
	return p
}
