package platform

import (
	"encoding/binary"
	"testing"

	"github.com/leaseguard/leaseguard/lq"
	"golang.org/x/net/bpf"
)

func TestClientDHCPChecksInVM(t *testing.T) {
	vm, err := bpf.NewVM(finishFilter(clientDHCPChecks()))
	if err != nil {
		t.Fatal(err)
	}
	good := func() []byte { return clientFrame(request(lq.Discover)) }
	udp := ethHeaderLen + ipv4HeaderLen
	set16 := func(f []byte, off int, v uint16) []byte { binary.BigEndian.PutUint16(f[off:], v); return f }
	withIPOptions := func() []byte {
		f := good()
		g := append(append(f[:udp:udp], 1, 1, 1, 0), f[udp:]...)
		g[ethHeaderLen] = 0x46
		return g
	}
	arp := make([]byte, 42)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	tests := []struct {
		name  string
		frame []byte
		pass  bool
	}{
		{"client DHCP 68->67", good(), true},
		{"client DHCP after IPv4 options", withIPOptions(), true},
		{"leasequery 67->67", set16(good(), udp, 67), false},
		{"reply 67->68", set16(set16(good(), udp, 67), udp+2, 68), false},
		{"DNS 68->53", set16(good(), udp+2, 53), false},
		{"ARP", arp, false},
		{"TCP", func() []byte { f := good(); f[ethHeaderLen+9] = 6; return f }(), false},
		{"first fragment (MF)", set16(good(), ethHeaderLen+6, 0x2000), false},
		{"later fragment", set16(good(), ethHeaderLen+6, 0x0010), false},
		{"VLAN tag in band", set16(good(), 12, 0x8100), false},
		{"short", good()[:20], false},
	}
	for _, tt := range tests {
		n, err := vm.Run(tt.frame)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := n > 0; got != tt.pass {
			t.Errorf("%s: filter kept %d octets; pass = %v, want %v", tt.name, n, got, tt.pass)
		}
		if tt.pass && n < len(tt.frame) {
			t.Errorf("%s: filter kept %d of %d octets", tt.name, n, len(tt.frame))
		}
	}
}

// The kernel-only checks cannot run in the VM; check at least that every
// one of their jumps lands on the drop.
func TestPortFilterJumpsLandOnDrop(t *testing.T) {
	prog := finishFilter(append(kernelChecks(7), clientDHCPChecks()...))
	last := len(prog) - 1
	if prog[last] != (bpf.RetConstant{Val: 0}) || prog[last-1] != (bpf.RetConstant{Val: snapLen}) {
		t.Fatalf("program does not end with accept, drop: %v", prog[last-1:])
	}
	for i, ins := range prog {
		if j, ok := ins.(bpf.JumpIf); ok {
			if to := i + 1 + int(j.SkipTrue); to != last || j.SkipFalse != 0 {
				t.Errorf("instruction %d (%v) jumps to %d, want %d", i, j, to, last)
			}
		}
	}
	if _, err := portFilter(7); err != nil {
		t.Fatal(err)
	}
}
