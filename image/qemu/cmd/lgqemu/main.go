// Command lgqemu boots a board's appliance image under QEMU for a person:
// the console (with a shell, leaseguard.shell=1) on this terminal, the
// NICs on QEMU's user-mode network, the CLI serial port on a unix socket.
// Ctrl-A X quits, Ctrl-A C switches to QEMU's monitor. `make qemu` runs it.
//
//	go run ./image/qemu/cmd/lgqemu -board qemu-malta-mipsle
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/leaseguard/leaseguard/board"
	"github.com/leaseguard/leaseguard/image/qemu"
)

func main() {
	name := flag.String("board", "qemu-virt-arm64", "board profile")
	root := flag.String("root", ".", "repository root (where build/ is)")
	bare := flag.Bool("bare", false, "boot the bare u-root image (no leaseguard)")
	cli := flag.String("cli", "", "unix socket for the CLI serial port (default build/image/BOARD/cli.sock)")
	dry := flag.Bool("n", false, "print the QEMU command line and exit")
	flag.Parse()
	if err := run(*name, *root, *cli, *bare, *dry); err != nil {
		fmt.Fprintln(os.Stderr, "lgqemu:", err)
		os.Exit(1)
	}
}

func run(name, root, cli string, bare, dry bool) error {
	ps, err := board.Builtin()
	if err != nil {
		return err
	}
	p, err := board.Lookup(ps, name)
	if err != nil {
		return err
	}
	im, err := qemu.ImagesFor(root, p)
	if err != nil {
		return err
	}
	initrd := im.Image
	if bare {
		initrd = im.Bare
	}
	if cli == "" {
		cli = filepath.Join(root, "build/image", p.Name, "cli.sock")
	}
	args, err := qemu.Args(qemu.Config{
		Profile: p, Kernel: im.Kernel, Initrd: initrd, CLISocket: cli,
		Append: []string{"leaseguard.shell=1"}, Interactive: true,
	})
	if err != nil {
		return err
	}
	if dry {
		fmt.Println(args)
		return nil
	}
	for _, f := range []string{im.Kernel, initrd} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (make image BOARD=%s)", err, p.Name)
		}
	}
	fmt.Fprintf(os.Stderr, "lgqemu: %s; CLI serial port on %s (e.g. socat - UNIX-CONNECT:%s); Ctrl-A X quits\n", p.Name, cli, cli)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s: %v", args[0], err)
	}
	return err
}
