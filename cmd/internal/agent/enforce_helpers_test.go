package agent

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform/fwd"
	"github.com/leaseguard/leaseguard/platform/nflog"
)

// fakeForwarder keeps forwarding state in memory, like the kernel's
// routes and neighbours tagged as ours.
type fakeForwarder struct {
	mu      sync.Mutex
	routes  map[netip.Addr]fwd.Binding
	adds    int // bindings passed to Add
	removes int
}

func newFakeForwarder(bs ...fwd.Binding) *fakeForwarder {
	f := &fakeForwarder{routes: map[netip.Addr]fwd.Binding{}}
	for _, b := range bs {
		f.routes[b.IP] = b
	}
	return f
}

func (f *fakeForwarder) Add(bs []fwd.Binding) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range bs {
		f.routes[b.IP] = b
	}
	f.adds += len(bs)
	return nil
}

// Remove deletes a route only through its own port, as the kernel does
// for a route delete naming an output interface.
func (f *fakeForwarder) Remove(bs []fwd.Binding) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range bs {
		if cur, ok := f.routes[b.IP]; ok && cur.Port == b.Port {
			delete(f.routes, b.IP)
		}
	}
	f.removes += len(bs)
	return nil
}

func (f *fakeForwarder) Owned() ([]fwd.Binding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fwd.Binding
	for _, b := range f.routes {
		out = append(out, b)
	}
	return out, nil
}

// list is the routes as "port ip mac", sorted.
func (f *fakeForwarder) list() []string {
	bs, _ := f.Owned()
	var out []string
	for _, b := range bs {
		out = append(out, b.String())
	}
	sort.Strings(out)
	return out
}

// fakeQuerier answers leasequeries from a map by IP; an address not in
// it gets no answer. Fresh answers go to onResult first, as the runner's
// OnResult does; cached ones do not.
type fakeQuerier struct {
	mu       sync.Mutex
	answers  map[netip.Addr]engine.Result
	onResult func(engine.Result)
	asked    []netip.Addr
}

func (f *fakeQuerier) Query(ctx context.Context, q lq.Query) (engine.Result, error) {
	f.mu.Lock()
	f.asked = append(f.asked, q.IP)
	res, ok := f.answers[q.IP]
	f.mu.Unlock()
	if !ok {
		return engine.Result{Err: engine.ErrNoAnswer}, engine.ErrNoAnswer
	}
	if !res.Cached {
		f.onResult(res)
	}
	return res, nil
}

func (f *fakeQuerier) queried() []netip.Addr {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asked)
}

// fakeReports is a report source whose reports the test delivers.
type fakeReports struct {
	deliver chan func(nflog.Report)
}

func (f *fakeReports) Run(ctx context.Context, deliver func(nflog.Report)) error {
	f.deliver <- deliver
	<-ctx.Done()
	return ctx.Err()
}

// Addresses of the example configuration's ports.
const (
	cablePort, cableIface = "cable1/0/0", "sub0"
	dslPort, dslIface     = "dsl1/1", "sub1"
)

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 0xa}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 0xb}
)

// enfAgent is an agent of the example configuration (no I/O) on a clock
// that follows the test's (synctest's when inside a bubble).
func enfAgent(t *testing.T) (*Agent, *config.Config) {
	t.Helper()
	cfg := exampleConfig(t)
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a, cfg
}

// gleaned is a binding the relay gleaned on port with a lease of d.
func gleaned(ip string, mac net.HardwareAddr, port string, d time.Duration) location.Binding {
	return location.Binding{Binding: lq.Binding{IP: netip.MustParseAddr(ip), HType: 1, HWAddr: mac,
		Expiry: time.Now().Add(d)}, Port: port, Source: location.Gleaned}
}

// active is a DHCPLEASEACTIVE result placing ip with mac on the port with
// the given option 82.
func active(ip netip.Addr, mac net.HardwareAddr, ai lq.AgentInfo, d time.Duration) engine.Result {
	return engine.Result{Type: lq.LeaseActive, Binding: lq.Binding{IP: ip, HType: 1, HWAddr: mac,
		Expiry: time.Now().Add(d), LastTransaction: time.Now().Add(-time.Second), AgentInfo: ai}}
}

// upsert writes b into the table now or fails the test.
func upsert(t *testing.T, tb *location.Table, b location.Binding) {
	t.Helper()
	if _, err := tb.Upsert(b, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// settle lets the enforcer (or any task) of a synctest bubble run until
// every goroutine blocks, past its batch delay.
func settle() {
	for range 3 {
		synctest.Wait()
		time.Sleep(2 * defaultBatchDelay)
	}
	synctest.Wait()
}

// runTask runs t in the background; stop cancels it and returns what Run
// returned (again on later calls).
func runTask(tb testing.TB, t Task) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- t.Run(ctx) }()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
}

// elementsOf lists a fake applier's elements as "port ip mac", sorted.
func elementsOf(f *nft.Fake) []string {
	var out []string
	for _, e := range f.Elements(time.Now()) {
		out = append(out, e.String())
	}
	sort.Strings(out)
	return out
}
