package rflink

import (
	"fmt"
	"net"

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

// ListenIncoming opens a raw Ethernet socket on ifi that receives every
// frame arriving on the link, of any EtherType, and none of those the host
// sends on it. It is the CMTS's downstream source: the far end of a veth
// (or a TAP) that the card's forwarding transmits subscriber traffic into,
// so that what arrives here is what goes down to the modems.
func ListenIncoming(ifi *net.Interface) (*EthernetConn, error) {
	c, err := packet.Listen(ifi, packet.Raw, AllProtocols, &packet.Config{Filter: incomingOnly})
	if err != nil {
		return nil, fmt.Errorf("downstream link %s: %w", ifi.Name, err)
	}
	return &EthernetConn{c: c}, nil
}
