package board

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// maltaCPUInfo is the head of /proc/cpuinfo of Debian's 4kc-malta kernel
// under qemu-system-mipsel -M malta -cpu 24Kf.
const maltaCPUInfo = `system type		: MIPS Malta
machine			: mti,malta
processor		: 0
cpu model		: MIPS 24Kf V4.0  FPU V0.0
`

const arm64CPUInfo = `processor	: 0
BogoMIPS	: 125.00
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid
CPU implementer	: 0x41
`

func TestDetect(t *testing.T) {
	ps, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		m      Machine
		want   string
		errHas string
	}{
		{"virt device tree", Machine{DTModel: "linux,dummy-virt\x00", CPUInfo: arm64CPUInfo}, "qemu-virt-arm64", ""},
		{"malta cpuinfo", Machine{CPUInfo: maltaCPUInfo}, "qemu-malta-mipsle", ""},
		{"device tree wins", Machine{DTModel: "Example Networks LC-48 line card\x00", CPUInfo: maltaCPUInfo}, "sample-hw-arm64", ""},
		{"unknown model", Machine{DTModel: "Raspberry Pi 4 Model B\x00"}, "", `model "Raspberry Pi 4 Model B"`},
		{"nothing", Machine{CPUInfo: arm64CPUInfo}, "", "names no model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Detect(ps, tt.m)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !errors.Is(err, ErrNoMatch) {
					t.Fatalf("Detect = %v, %v; want ErrNoMatch containing %q", p.Name, err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.want {
				t.Errorf("Detect = %s, want %s", p.Name, tt.want)
			}
		})
	}
}

func TestDetectAmbiguous(t *testing.T) {
	a, b := validProfile(), validProfile()
	a.Name, b.Name = "a", "b"
	a.Models, b.Models = []string{"M"}, []string{"M"}
	_, err := Detect([]Profile{a, b}, Machine{DTModel: "M"})
	if err == nil || !strings.Contains(err.Error(), "claimed by profiles a and b") {
		t.Fatalf("Detect = %v, want an ambiguity error", err)
	}
}

func TestReadMachine(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want Machine
	}{
		{"proc device tree", fstest.MapFS{
			"proc/device-tree/model": {Data: []byte("linux,dummy-virt\x00")},
			"proc/cpuinfo":           {Data: []byte(arm64CPUInfo)},
		}, Machine{DTModel: "linux,dummy-virt\x00", CPUInfo: arm64CPUInfo}},
		{"sysfs device tree", fstest.MapFS{
			"sys/firmware/devicetree/base/model": {Data: []byte("X\x00")},
		}, Machine{DTModel: "X\x00"}},
		{"malta", fstest.MapFS{"proc/cpuinfo": {Data: []byte(maltaCPUInfo)}}, Machine{CPUInfo: maltaCPUInfo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadMachine(tt.fs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadMachine (-want +got):\n%s", diff)
			}
		})
	}
}
