// Command demo is `make demo`: it builds a small access network in network
// namespaces, with Debian's ISC dhcpd as the DHCP server, and tells
// leaseguard's story step by step, printing what happens. Everything it
// creates is removed when it ends, also on failure or Ctrl-C.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	binary := flag.String("leaseguard", "bin/leaseguard", "the leaseguard binary to demonstrate")
	flag.Parse()
	abs, err := filepath.Abs(*binary)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v (run `make demo`, which builds it)\n", err)
		os.Exit(2)
	}
	d := newDemo(abs)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		d.Logf("interrupted: cleaning up")
		d.cleanup()
		os.Exit(130)
	}()
	os.Exit(d.run())
}
