package qemu

import (
	"regexp"
	"time"
)

var transmittedRE = regexp.MustCompile(`(\d+) packets transmitted`)

// reboot reboots the guest from its console shell. QEMU runs with
// -no-reboot, so the guest's reset ends it (status 0); it is started
// again on the same taps, as the card's power-on after a reboot: the
// kernel's tables, routes and neighbours and the agent's location table
// are gone (the snapshot is on the initramfs, so it is gone too), while
// dhcpd and the clients on the wires keep their leases.
func (g *guest) reboot() {
	if _, err := g.vm.Console.WaitFor(promptRE, commandTimeout); err != nil {
		g.t.Fatalf("console shell prompt: %v", err)
	}
	if err := g.vm.Console.Send("shutdown reboot"); err != nil {
		g.t.Fatal(err)
	}
	select {
	case <-g.vm.Done():
	case <-time.After(bootTimeout):
		g.t.Fatalf("QEMU still runs %v after the guest's `shutdown reboot`", bootTimeout)
	}
	if err := g.vm.Err(); err != nil {
		g.t.Fatalf("QEMU ended with %v on the guest's reboot, want status 0 (-no-reboot)", err)
	}
	g.cli.Close()
	g.boot()
}

// checkRecovery: after the reboot (checkCLILogin found the table
// empty) the bindings come back by leasequery on demand, when traffic
// flows: the first client's own packets (its source unknown to the
// rebooted card: dropped, reported, asked about) and, for the other
// clients, packets from the server's side towards them (their
// destination unknown: the same). Each is answered once the answer is
// programmed; the CLI then shows every client on its port with source
// leasequery. (The boards' agents do not sweep at start-up: see
// image/README.md.)
func (g *guest) checkRecovery() {
	for i, c := range g.relayed.Clients {
		if i == 0 {
			g.pingGateway(c, c.Lease, true)
		} else {
			g.pingClient(c)
		}
	}
	if g.t.Failed() {
		g.t.Logf("show counters:\n%s", g.cliRun("show counters"))
		return
	}
	g.checkBindings("leasequery")
}
