package agentops_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
)

// TestSIGHUPReload runs the leaseguard binary (`leaseguard agent`) in a
// card namespace with enforcement on and sends it real SIGHUPs: with a
// file that does not parse, the agent says so and runs on unchanged
// (generation, ruleset, API); with a changed file, it applies it live
// (the trusted MAC appears in the kernel's set).
func TestSIGHUPReload(t *testing.T) {
	lab.Need(t, "nft", "ip")
	l := lab.New(t)
	ns, far := l.NS("card"), l.NS("far")
	for _, v := range [][2]string{{"up0", "srv0"}, {"lgc0", "cl0"}, {"lgd0", "cl1"}} {
		l.Veth(ns, v[0], far, v[1])
	}
	ns.Addr("up0", "10.0.0.2/24")
	ns.Addr("lgc0", "192.168.10.1/24")
	ns.Addr("lgd0", "192.168.20.1/24")
	socket, path := filepath.Join(l.Dir(), "api.sock"), filepath.Join(l.Dir(), "agent.json")
	first := strings.Replace(cardJSON, "SOCKET", socket, 1)
	if err := os.WriteFile(path, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	p := ns.Start("leaseguard", topo.Binary(t), "agent", "--config", path)
	if err := p.WaitFor(`msg="agent ready"`, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := mgmt.NewUnixClient(socket)
	ruleset := func() string {
		t.Helper()
		out, err := ns.Exec("nft", "-s", "list", "table", "netdev", "leaseguard")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
	before := ruleset()

	if err := os.WriteFile(path, []byte(`{"relay_id": "card-7", "servers": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor("SIGHUP reload refused; the running configuration stays", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Config(ctx); err != nil || st.Generation != 1 {
		t.Errorf("after a broken file's SIGHUP: generation %d, %v; want 1 and the API answering", st.Generation, err)
	}
	if got := ruleset(); got != before {
		t.Errorf("the ruleset changed after a refused reload:\n%s\nwas\n%s", got, before)
	}
	if exited, err := p.Exited(); exited {
		t.Fatalf("the agent exited after a broken file's SIGHUP: %v", err)
	}

	trusted := strings.Replace(first, `"enforcement": {"enabled": true,`, `"enforcement": {"enabled": true, "trusted_macs": ["02:ee:00:00:00:01"],`, 1)
	if err := os.WriteFile(path, []byte(trusted), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor("SIGHUP reload applied", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Config(ctx); err != nil || st.Generation != 2 || st.Origin != "reload" {
		t.Errorf("after a good file's SIGHUP: %+v, %v; want generation 2 from reload", st, err)
	}
	if out, _ := ns.Exec("nft", "list", "set", "netdev", "leaseguard", "trusted"); !strings.Contains(out, "02:ee:00:00:00:01") {
		t.Errorf("the reloaded trusted MAC is not in the kernel's set:\n%s", out)
	}
}

// TestMain removes the binary TestSIGHUPReload built.
func TestMain(m *testing.M) {
	code := m.Run()
	topo.RemoveBinary()
	os.Exit(code)
}
