package agentops_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// cardEnv tells a test binary that it is inCard's child, and where the
// lab's directory is; farEnv names the far namespace.
const (
	cardEnv = "LEASEGUARD_AGENTOPS_CARD_DIR"
	farEnv  = "LEASEGUARD_AGENTOPS_FAR_NS"
)

// inCard runs the calling test in a process of its own inside a card
// namespace: the upstream interface up0 (10.0.0.2/24) and the ports lgc0
// (192.168.10.1/24) and lgd0 (192.168.20.1/24), each a veth to a far
// namespace where nothing answers.
//
// An agent opened in a namespace (lab.NS.Do) keeps its sockets there,
// but not every kernel effect of its goroutines: the nftables applier
// dials on first use, from whichever thread runs the enforcer, and IP
// forwarding is switched through /proc/sys there too; only a process
// whose every thread is in the namespace, as the agent runs on a card,
// keeps them all in it. So the parent builds the namespaces and runs
// the test binary again with `ip netns exec`, only this test; the child
// finds cardEnv set, and inCard returns the lab's directory and true.
// In the parent it returns false once the child passed.
func inCard(t *testing.T) (dir string, child bool) {
	t.Helper()
	if dir := os.Getenv(cardEnv); dir != "" {
		return dir, true
	}
	lab.Need(t, "nft", "ip")
	l := lab.New(t)
	ns, far := l.NS("card"), l.NS("far")
	for _, v := range [][2]string{{"up0", "srv0"}, {"lgc0", "cl0"}, {"lgd0", "cl1"}} {
		l.Veth(ns, v[0], far, v[1])
	}
	ns.Addr("up0", "10.0.0.2/24")
	ns.Addr("lgc0", "192.168.10.1/24")
	ns.Addr("lgd0", "192.168.20.1/24")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, os.Args[0],
		"-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), cardEnv+"="+l.Dir(), farEnv+"="+far.Name)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("in namespace %s: %v\n%s", ns.Name, err, out)
	}
	if testing.Verbose() {
		t.Logf("in namespace %s:\n%s", ns.Name, out)
	}
	return "", false
}
