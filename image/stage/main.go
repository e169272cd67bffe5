// Command stage builds a board's appliance image from the bare u-root
// image of its architecture: it lays out the kernel modules the board
// profile needs (with their dependencies and a reduced modules.dep) and
// /etc/leaseguard (the profile, and the agent configuration when the board
// has one), and appends them with leaseguard as the uinit to the bare
// image as a second cpio archive.
//
//	go run ./image/stage -board qemu-virt-arm64 -kernel build/kernel/arm64 \
//		-binary bin/leaseguard-linux-arm64 -base build/image/bare-arm64.cpio \
//		-dir build/image/qemu-virt-arm64
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/leaseguard/leaseguard/board"
	"github.com/leaseguard/leaseguard/image"
)

func main() {
	var o options
	flag.StringVar(&o.board, "board", "", "board profile name")
	flag.StringVar(&o.kernel, "kernel", "", "unpacked kernel directory (image/kernel.sh output)")
	flag.StringVar(&o.dir, "dir", "", "output directory: stage/ and initramfs.cpio")
	flag.StringVar(&o.agent, "agent-config", "", "agent.json to install as /etc/leaseguard/agent.json (optional)")
	flag.StringVar(&o.binary, "binary", "", "static leaseguard for the board")
	flag.StringVar(&o.base, "base", "", "bare u-root initramfs of the board's architecture")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "stage:", err)
		os.Exit(1)
	}
}

type options struct {
	board, kernel, dir, agent, binary, base string
}

func run(o options) error {
	if o.board == "" || o.kernel == "" || o.dir == "" || o.binary == "" || o.base == "" {
		return errors.New("-board, -kernel, -dir, -binary and -base are required")
	}
	name, out := o.board, filepath.Join(o.dir, "stage")
	ps, err := board.Builtin()
	if err != nil {
		return err
	}
	p, err := board.Lookup(ps, name)
	if err != nil {
		return err
	}
	kver, err := os.ReadFile(filepath.Join(o.kernel, "kver"))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	files, err := image.StageModules(o.kernel, strings.TrimSpace(string(kver)), p.Modules, out)
	if err != nil {
		return err
	}
	fmt.Printf("stage: %s: %d module files for %d modules\n", name, len(files), len(p.Modules))
	if err := stageEtc(p, o.agent, filepath.Join(out, "etc/leaseguard")); err != nil {
		return err
	}
	return image.Concat(filepath.Join(o.dir, "initramfs.cpio"), o.base, image.Overlay{
		Binary:    o.binary,
		UinitArgs: []string{"board", "init", "--board", p.Name},
		Trees:     []string{out},
	})
}

func stageEtc(p board.Profile, agent, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "board.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if agent == "" {
		return nil
	}
	cfg, err := os.ReadFile(agent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "agent.json"), cfg, 0o644)
}
