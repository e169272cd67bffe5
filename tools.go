//go:build tools

// Package tools pins the modules the build and the image need but no
// regular package imports yet (u-root's core commands go into the image).
package tools

import (
	_ "github.com/creack/pty"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/nftables"
	_ "github.com/insomniacslk/dhcp/dhcpv4"
	_ "github.com/mdlayher/netlink"
	_ "github.com/mdlayher/packet"
	_ "github.com/tarm/serial"
	_ "github.com/u-root/u-root/pkg/kmodule"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sys/unix"
)
