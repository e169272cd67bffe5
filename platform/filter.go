package platform

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// snapLen is what the filter keeps of a matching frame: all of it.
const snapLen = 1 << 16

// Ethernet, IPv4 and UDP constants the filter and the frame codec share.
const (
	ethHeaderLen = 14
	etherTypeIP  = 0x0800
	protoUDP     = 17
	portServer   = 67
	portClient   = 68
)

// toDrop marks a conditional jump whose true branch goes to the final
// "drop" instruction; resolveDrops fills in the distance.
const toDrop = 0xff

// portFilter returns the classic BPF program a port's packet socket runs in
// the kernel: it passes only untagged IPv4/UDP datagrams from port 68 to
// port 67 that are not fragments, that arrived on interface ifindex and
// are addressed to this host (unicast to our MAC, broadcast or multicast;
// not our own outgoing frames, nor another host's seen in promiscuous
// mode).
//
// The interface check matters on a physical port that also carries VLAN
// sub-interfaces: Linux hands a packet socket bound to eth0 with protocol
// ETH_P_IP the frames of eth0.100 too, with the tag already stripped.
func portFilter(ifindex int) ([]bpf.RawInstruction, error) {
	prog := append(kernelChecks(ifindex), clientDHCPChecks()...)
	raw, err := bpf.Assemble(finishFilter(prog))
	if err != nil {
		return nil, fmt.Errorf("assemble port filter: %w", err)
	}
	return raw, nil
}

// kernelChecks tests what only the kernel knows; x/net/bpf's VM does not
// run these extensions, so unit tests exercise clientDHCPChecks alone.
func kernelChecks(ifindex int) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(ifindex), SkipTrue: toDrop},
		// pkttype: 0 host, 1 broadcast, 2 multicast, 3 otherhost, 4 outgoing.
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: 2, SkipTrue: toDrop},
		// A tag still present means no VLAN device claimed the frame.
		bpf.LoadExtension{Num: bpf.ExtVLANTagPresent},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0, SkipTrue: toDrop},
	}
}

// clientDHCPChecks tests the frame itself: Ethernet type IPv4, protocol
// UDP, neither a fragment nor the first of several, source port 68,
// destination port 67.
func clientDHCPChecks() []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherTypeIP, SkipTrue: toDrop},
		bpf.LoadAbsolute{Off: ethHeaderLen + 9, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoUDP, SkipTrue: toDrop},
		bpf.LoadAbsolute{Off: ethHeaderLen + 6, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipTrue: toDrop}, // MF or offset
		bpf.LoadMemShift{Off: ethHeaderLen},                              // X = IP header length
		bpf.LoadIndirect{Off: ethHeaderLen, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: portClient, SkipTrue: toDrop},
		bpf.LoadIndirect{Off: ethHeaderLen + 2, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: portServer, SkipTrue: toDrop},
	}
}

// finishFilter appends the accept and drop returns and resolves the jumps
// marked toDrop.
func finishFilter(checks []bpf.Instruction) []bpf.Instruction {
	prog := append(checks, bpf.RetConstant{Val: snapLen}, bpf.RetConstant{Val: 0})
	drop := len(prog) - 1
	for i, ins := range prog {
		if j, ok := ins.(bpf.JumpIf); ok && j.SkipTrue == toDrop {
			j.SkipTrue = uint8(drop - i - 1)
			prog[i] = j
		}
	}
	return prog
}
