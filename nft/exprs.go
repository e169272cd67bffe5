package nft

import (
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Ethertypes as meta protocol holds them (network order).
var (
	ethIPv4 = []byte{0x08, 0x00}
	ethARP  = []byte{0x08, 0x06}
	ethIPv6 = []byte{0x86, 0xdd}
)

// Registers of an allowed-set key, as nft(8) assigns them: the 16-byte
// ifname in NFT_REG_1, the address in NFT_REG_2 (the next 16-byte
// boundary, 32-bit register 4), the MAC in 32-bit register 5.
const (
	regIfname = 1
	regAddr   = 2
	regMAC    = unix.NFT_REG32_05
)

// cat concatenates expression lists into one rule.
func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// protocolIs matches the ethertype (meta protocol).
func protocolIs(ethertype []byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ethertype},
	}
}

// iifTypeEther matches Ethernet input devices, the dependency nft(8) puts
// before every ether saddr match.
func iifTypeEther() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFTYPE, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint16(unix.ARPHRD_ETHER)},
	}
}

// payloadIs matches len(data) bytes at offset of base.
func payloadIs(base expr.PayloadBase, offset uint32, data []byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: uint32(len(data))},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data},
	}
}

// dhcpToServer matches udp sport 68 dport 67 to daddr.
func dhcpToServer(daddr []byte) []expr.Any {
	return cat(
		payloadIs(expr.PayloadBaseNetworkHeader, 16, daddr),
		[]expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		},
		payloadIs(expr.PayloadBaseTransportHeader, 0, []byte{0, 68, 0, 67}),
	)
}

// Loads of key fields into their registers.
func etherSource() *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6}
}
func ipv4Source() *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}
func arpSenderIP() *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 14, Len: 4}
}
func arpSenderMAC() *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 6}
}

// allowedKey builds iifname . addr . mac in the key registers.
func allowedKey(addr, mac *expr.Payload) []expr.Any {
	addr.DestRegister, mac.DestRegister = regAddr, regMAC
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: regIfname}, addr, mac}
}

func lookup(s *nftables.Set) []expr.Any {
	return []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID}}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func jump(c *nftables.Chain) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: c.Name}}
}

// count updates the named counter of reason on port.
func count(p Port, r Reason) []expr.Any {
	return []expr.Any{&expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: CounterName(p.Name, r)}}
}
