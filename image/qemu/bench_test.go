package qemu

import (
	"regexp"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/board"
)

var (
	initRE = regexp.MustCompile(`Welcome to u-root`)
	// The bare image has no uinit: init starts gosh, whose line editor
	// first hides the cursor and shows its key help.
	bareShellRE = regexp.MustCompile(`\x1b\[\?25l|toggle key help`)
)

// BenchmarkBoot boots each QEMU board's leaseguard image and the bare
// u-root image of the same architecture (same kernel, same NICs) under
// TCG, side by side in one run, and reports seconds from QEMU's start to
// u-root's init and to ready: leaseguard's readiness line (modules
// loaded, NICs named and up), or the bare image's shell starting.
//
//	go test -run '^$' -bench Boot -benchtime 3x ./image/qemu/
func BenchmarkBoot(b *testing.B) {
	for _, p := range qemuProfiles(b) {
		// Per board, so that one board's missing image skips that board only.
		b.Run(p.Name, func(b *testing.B) { benchmarkBoot(b, p, NeedImages(b, repoRoot, p)) })
	}
}

func benchmarkBoot(b *testing.B, p board.Profile, im Images) {
	for _, v := range []struct {
		name   string
		initrd string
		ready  *regexp.Regexp
	}{
		{"bare", im.Bare, bareShellRE},
		{"leaseguard", im.Image, readyRE},
	} {
		b.Run(v.name, func(b *testing.B) {
			var toInit, toReady time.Duration
			for b.Loop() {
				vm := Boot(b, Config{Profile: p, Kernel: im.Kernel, Initrd: v.initrd})
				mi, err := vm.Console.WaitFor(initRE, bootTimeout)
				if err != nil {
					b.Fatal(err)
				}
				mr, err := vm.Console.WaitFor(v.ready, bootTimeout)
				if err != nil {
					b.Fatal(err)
				}
				vm.Stop()
				toInit += mi.At
				toReady += mr.At
			}
			b.ReportMetric(toInit.Seconds()/float64(b.N), "s-to-init")
			b.ReportMetric(toReady.Seconds()/float64(b.N), "s-to-ready")
		})
	}
}
