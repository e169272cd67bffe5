// Package qemu boots appliance images under QEMU's software emulation
// (TCG) for tests and for people: the board's NICs on tap devices inside a
// network namespace, the kernel console on the process's stdio (or the
// terminal), and the CLI serial port on a unix socket.
package qemu

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/leaseguard/leaseguard/board"
)

// Machine is how QEMU emulates one architecture's board.
type Machine struct {
	Binary string   // qemu-system-...
	Args   []string // machine, CPU and memory
	// Append are kernel parameters the machine needs.
	Append []string
	// CLI returns the arguments that attach chardev id as the board's
	// second serial port (the profile's CLI device in the guest).
	CLI func(id string) []string
	// NIC is the QEMU device model of the NICs.
	NIC string
	// DebArch is the Debian architecture of its kernel (build/kernel/DEBARCH).
	DebArch string
}

// MachineFor returns the emulated board for a profile's architecture.
func MachineFor(arch string) (Machine, error) {
	switch arch {
	case "arm64":
		return Machine{
			Binary: "qemu-system-aarch64",
			Args:   []string{"-M", "virt", "-cpu", "cortex-a57", "-m", "512", "-smp", "1"},
			// virtio-console: the guest's /dev/hvc0 (module virtio_console).
			CLI: func(id string) []string {
				return []string{"-device", "virtio-serial-pci,romfile=", "-device", "virtconsole,chardev=" + id}
			},
			NIC:     "virtio-net-pci",
			DebArch: "arm64",
		}, nil
	case "mipsle":
		return Machine{
			Binary: "qemu-system-mipsel",
			Args:   []string{"-M", "malta", "-cpu", "24Kf", "-m", "256", "-vga", "none"},
			// Without highres=off the Malta kernel stalls or hangs at
			// random under TCG (shared/notes/qemu.md).
			Append: []string{"highres=off"},
			// Malta's second UART: the guest's /dev/ttyS1.
			CLI:     func(id string) []string { return []string{"-serial", "chardev:" + id} },
			NIC:     "virtio-net-pci",
			DebArch: "mipsel",
		}, nil
	}
	return Machine{}, fmt.Errorf("no QEMU machine for arch %q", arch)
}

// Config is one boot.
type Config struct {
	Profile board.Profile
	Kernel  string // vmlinuz
	Initrd  string // initramfs.cpio
	// Netns is the network namespace QEMU runs in (`ip netns exec`), where
	// the taps are; "" runs it in the caller's.
	Netns string
	// Taps maps a port name to the tap device (in Netns) its NIC is
	// attached to. Ports without a tap get QEMU's user-mode network, so
	// every port's NIC exists in the guest.
	Taps map[string]string
	// CLISocket is the unix socket QEMU listens on for the CLI serial port;
	// "" leaves the port unconnected.
	CLISocket string
	// Append are extra kernel parameters.
	Append []string
	// Interactive puts the console (and QEMU's monitor, Ctrl-A c) on the
	// terminal instead of stdio pipes.
	Interactive bool
}

// Args returns QEMU's command line (program first) for cfg.
func Args(cfg Config) ([]string, error) {
	m, err := MachineFor(cfg.Profile.Arch)
	if err != nil {
		return nil, fmt.Errorf("board %s: %w", cfg.Profile.Name, err)
	}
	c := cfg.Profile.Console
	appendArgs := append([]string{"console=" + c.Device + "," + strconv.Itoa(c.Baud), "quiet", "panic=1"}, m.Append...)
	appendArgs = append(appendArgs, cfg.Append...)
	args := append([]string{m.Binary}, m.Args...)
	args = append(args, "-kernel", cfg.Kernel, "-initrd", cfg.Initrd,
		"-append", strings.Join(appendArgs, " "), "-no-reboot", "-display", "none")
	if cfg.Interactive {
		args = append(args, "-serial", "mon:stdio")
	} else {
		args = append(args, "-monitor", "none", "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con")
	}
	if cfg.CLISocket != "" {
		args = append(args, "-chardev", "socket,id=cli,path="+cfg.CLISocket+",server=on,wait=off")
	} else {
		args = append(args, "-chardev", "null,id=cli")
	}
	args = append(args, m.CLI("cli")...)
	return append(args, nicArgs(cfg, m.NIC)...), nil
}

// nicArgs attaches one NIC per port with the port's MAC. They are listed
// in reverse profile order, so the guest's probe order differs from the
// profile's and naming by MAC is what makes the names right.
func nicArgs(cfg Config, model string) []string {
	var args []string
	ports := cfg.Profile.Ports
	for i := len(ports) - 1; i >= 0; i-- {
		p := ports[i]
		id := fmt.Sprintf("n%d", i)
		backend := "user,id=" + id
		if tap, ok := cfg.Taps[p.Name]; ok {
			backend = "tap,id=" + id + ",ifname=" + tap + ",script=no,downscript=no"
		}
		dev := model + ",netdev=" + id + ",romfile="
		if p.NIC.MAC != "" {
			dev += ",mac=" + p.NIC.MAC
		}
		args = append(args, "-netdev", backend, "-device", dev)
	}
	return args
}
