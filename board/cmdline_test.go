package board

import "testing"

func TestKernelArg(t *testing.T) {
	const cmdline = `console=ttyS0,115200 highres=off quiet leaseguard.shell=1 leaseguard.board="qemu-malta-mipsle" leaseguard.shell=0` + "\n"
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"console", "ttyS0,115200", true},
		{"quiet", "", true},
		{"leaseguard.shell", "0", true},
		{"leaseguard.board", "qemu-malta-mipsle", true},
		{"leaseguard", "", false},
	}
	for _, tt := range tests {
		got, ok := KernelArg(cmdline, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("KernelArg(%s) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
