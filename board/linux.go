package board

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/u-root/u-root/pkg/kmodule"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// KernelModules loads modules with their dependencies from modules.dep
// under /lib/modules/$(uname -r), skipping modules that are built in
// (modules.builtin) or already loaded (/proc/modules).
type KernelModules struct {
	prober *kmodule.Prober
}

var _ ModuleLoader = (*KernelModules)(nil)

// NewKernelModules reads modules.dep of the running kernel.
func NewKernelModules() (*KernelModules, error) {
	p, err := kmodule.NewProber(kmodule.ProbeOpts{})
	if err != nil {
		return nil, err
	}
	return &KernelModules{prober: p}, nil
}

// Load loads name and its dependencies, in dependency order.
func (k *KernelModules) Load(name string) error { return k.prober.Probe(name, "") }

// NetlinkLinks is Links over rtnetlink, in the network namespace of the
// thread that created it.
type NetlinkLinks struct {
	h       *netlink.Handle
	changed chan struct{}
	done    chan struct{}
	close   sync.Once
}

var _ Links = (*NetlinkLinks)(nil)

// NewNetlinkLinks opens rtnetlink and subscribes to link changes right
// away, so no change between now and the first List is missed.
func NewNetlinkLinks() (*NetlinkLinks, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	n := &NetlinkLinks{h: h, changed: make(chan struct{}, 1), done: make(chan struct{})}
	updates := make(chan netlink.LinkUpdate, 16)
	if err := netlink.LinkSubscribe(updates, n.done); err != nil {
		h.Close()
		return nil, fmt.Errorf("rtnetlink: subscribe to links: %w", err)
	}
	go n.forward(updates)
	return n, nil
}

// forward turns updates into wake-ups; a pending wake-up is enough.
func (n *NetlinkLinks) forward(updates <-chan netlink.LinkUpdate) {
	for range updates {
		select {
		case n.changed <- struct{}{}:
		default:
		}
	}
}

// Close ends the subscription and closes the handle.
func (n *NetlinkLinks) Close() error {
	n.close.Do(func() {
		close(n.done)
		n.h.Close()
	})
	return nil
}

func (n *NetlinkLinks) Changed() <-chan struct{} { return n.changed }

func (n *NetlinkLinks) List() ([]Link, error) {
	ls, err := n.h.LinkList()
	if err != nil {
		return nil, err
	}
	out := make([]Link, 0, len(ls))
	for _, l := range ls {
		a := l.Attrs()
		out = append(out, Link{Index: a.Index, Name: a.Name, MAC: a.HardwareAddr, PCI: pciAddress(a.Name)})
	}
	return out, nil
}

// pciAddress is the PCI address of a NIC: the name of the device its
// /sys/class/net entry points at ("0000:01:00.0"), or "" off PCI.
func pciAddress(name string) string {
	dev, err := os.Readlink(filepath.Join("/sys/class/net", name, "device"))
	if err != nil {
		return ""
	}
	sub, err := os.Readlink(filepath.Join("/sys/class/net", name, "device", "subsystem"))
	if err != nil || filepath.Base(sub) != "pci" {
		return ""
	}
	return filepath.Base(dev)
}

func (n *NetlinkLinks) link(index int) (netlink.Link, error) {
	return n.h.LinkByIndex(index)
}

func (n *NetlinkLinks) SetName(index int, name string) error {
	l, err := n.link(index)
	if err != nil {
		return err
	}
	return n.h.LinkSetName(l, name)
}

func (n *NetlinkLinks) SetDown(index int) error {
	l, err := n.link(index)
	if err != nil {
		return err
	}
	return n.h.LinkSetDown(l)
}

func (n *NetlinkLinks) SetUp(index int) error {
	l, err := n.link(index)
	if err != nil {
		return err
	}
	return n.h.LinkSetUp(l)
}

func (n *NetlinkLinks) AddAddr(index int, p netip.Prefix) error {
	l, err := n.link(index)
	if err != nil {
		return err
	}
	addr, err := netlink.ParseAddr(p.String())
	if err != nil {
		return err
	}
	if err := n.h.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}
