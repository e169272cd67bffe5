package board

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeLinks is Links over a slice, recording every change it is asked to
// make. late links appear after the first List, as NICs do while their
// driver probes.
type fakeLinks struct {
	links   []Link
	late    []Link
	lists   int
	changed chan struct{}
	ops     []string
	failOp  string // an op that fails, like "name 3 sub0"
}

func newFakeLinks(links ...Link) *fakeLinks {
	return &fakeLinks{links: links, changed: make(chan struct{}, 1)}
}

func (f *fakeLinks) List() ([]Link, error) {
	f.lists++
	out := append([]Link(nil), f.links...)
	if f.lists == 1 && len(f.late) > 0 {
		f.links = append(f.links, f.late...)
		f.late = nil
		f.changed <- struct{}{}
	}
	return out, nil
}

func (f *fakeLinks) Changed() <-chan struct{} { return f.changed }

func (f *fakeLinks) do(op string) error {
	if op == f.failOp {
		return errors.New("operation not permitted")
	}
	f.ops = append(f.ops, op)
	return nil
}

func (f *fakeLinks) SetName(index int, name string) error {
	if err := f.do(fmt.Sprintf("name %d %s", index, name)); err != nil {
		return err
	}
	for i := range f.links {
		if f.links[i].Name == name {
			return fmt.Errorf("name %s exists", name)
		}
	}
	for i := range f.links {
		if f.links[i].Index == index {
			f.links[i].Name = name
		}
	}
	return nil
}

func (f *fakeLinks) SetDown(index int) error { return f.do(fmt.Sprintf("down %d", index)) }
func (f *fakeLinks) SetUp(index int) error   { return f.do(fmt.Sprintf("up %d", index)) }
func (f *fakeLinks) AddAddr(index int, a netip.Prefix) error {
	return f.do(fmt.Sprintf("addr %d %s", index, a))
}

type fakeModules struct {
	loaded []string
	fail   string
}

func (m *fakeModules) Load(name string) error {
	if name == m.fail {
		return errors.New("exec format error")
	}
	m.loaded = append(m.loaded, name)
	return nil
}

func link(index int, name, mac string) Link {
	hw, _ := net.ParseMAC(mac)
	return Link{Index: index, Name: name, MAC: hw}
}

func twoPortProfile() Profile {
	p := validProfile()
	p.Modules = []string{"virtio_pci", "virtio_net"}
	p.Ports = []Port{
		{Name: "sub0", Role: Subscriber, NIC: NICMatch{MAC: "52:54:00:00:00:01"}, CircuitID: "{port}",
			Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}},
		{Name: "up0", Role: Upstream, NIC: NICMatch{MAC: "52:54:00:00:00:02"}},
	}
	return p
}

func TestPrepareRenamesByMAC(t *testing.T) {
	links := newFakeLinks(link(1, "lo", "00:00:00:00:00:00"), link(2, "eth0", "52:54:00:00:00:02"))
	links.late = []Link{link(3, "eth1", "52:54:00:00:00:01")} // probes later
	mods := &fakeModules{}
	r, err := Prepare(context.Background(), twoPortProfile(), Env{Modules: mods, Links: links})
	if err != nil {
		t.Fatal(err)
	}
	wantOps := []string{
		"down 3", "name 3 lgtmp0", "down 2", "name 2 lgtmp1",
		"name 3 sub0", "name 2 up0",
		"addr 3 10.0.0.1/24", "up 3", "up 2",
	}
	if diff := cmp.Diff(wantOps, links.ops); diff != "" {
		t.Errorf("link operations (-want +got):\n%s", diff)
	}
	want := Report{Board: "t", Modules: []string{"virtio_pci", "virtio_net"}, NICs: []NamedNIC{
		{Port: "sub0", Was: "eth1", MAC: "52:54:00:00:00:01"},
		{Port: "up0", Was: "eth0", MAC: "52:54:00:00:00:02"},
	}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.Modules, mods.loaded); diff != "" {
		t.Errorf("modules loaded (-want +got):\n%s", diff)
	}
	wantLine := "leaseguard: board t ready: 2 modules [virtio_pci virtio_net] nics [sub0=52:54:00:00:00:01(was eth1) up0=52:54:00:00:00:02(was eth0)]"
	if got := r.ReadyLine(); got != wantLine {
		t.Errorf("ReadyLine:\n got %s\nwant %s", got, wantLine)
	}
}

func TestPrepareSwapsKernelNames(t *testing.T) {
	p := twoPortProfile()
	p.Ports[0].Name, p.Ports[1].Name = "eth0", "eth1"
	links := newFakeLinks(link(2, "eth0", "52:54:00:00:00:02"), link(3, "eth1", "52:54:00:00:00:01"))
	if _, err := Prepare(context.Background(), p, Env{Modules: &fakeModules{}, Links: links}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range links.links {
		got = append(got, fmt.Sprintf("%s=%s", l.Name, l.MAC))
	}
	want := []string{"eth1=52:54:00:00:00:02", "eth0=52:54:00:00:00:01"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("links after Prepare (-want +got):\n%s", diff)
	}
}

func TestPrepareKeepsNamedNIC(t *testing.T) {
	p := twoPortProfile()
	links := newFakeLinks(link(2, "up0", "52:54:00:00:00:02"), link(3, "sub0", "52:54:00:00:00:01"))
	if _, err := Prepare(context.Background(), p, Env{Modules: &fakeModules{}, Links: links}); err != nil {
		t.Fatal(err)
	}
	want := []string{"addr 3 10.0.0.1/24", "up 3", "up 2"}
	if diff := cmp.Diff(want, links.ops); diff != "" {
		t.Errorf("second Prepare renames nothing (-want +got):\n%s", diff)
	}
}

func TestPrepareErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		links  *fakeLinks
		mods   *fakeModules
		errHas string
	}{
		{"module", context.Background(), newFakeLinks(), &fakeModules{fail: "virtio_net"},
			"board t: module virtio_net: exec format error"},
		{"missing NIC", canceled, newFakeLinks(link(2, "eth0", "52:54:00:00:00:02")), &fakeModules{},
			"no NIC for port sub0 (mac 52:54:00:00:00:01) (have [eth0=52:54:00:00:00:02])"},
		{"name taken", context.Background(), newFakeLinks(link(2, "eth0", "52:54:00:00:00:02"),
			link(3, "eth1", "52:54:00:00:00:01"), link(4, "up0", "52:54:00:00:00:09")), &fakeModules{},
			"port up0 (mac 52:54:00:00:00:02 is eth0): name is taken"},
		{"rename fails", context.Background(), &fakeLinks{links: []Link{link(2, "eth0", "52:54:00:00:00:02"),
			link(3, "eth1", "52:54:00:00:00:01")}, failOp: "name 3 sub0"}, &fakeModules{},
			"port sub0: rename NIC eth1 (52:54:00:00:00:01) to sub0: operation not permitted"},
		{"addr fails", context.Background(), &fakeLinks{links: []Link{link(2, "up0", "52:54:00:00:00:02"),
			link(3, "sub0", "52:54:00:00:00:01")}, failOp: "addr 3 10.0.0.1/24"}, &fakeModules{},
			"port sub0: add address 10.0.0.1/24: operation not permitted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Prepare(tt.ctx, twoPortProfile(), Env{Modules: tt.mods, Links: tt.links})
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Prepare = %v, want an error containing %q", err, tt.errHas)
			}
		})
	}
}
