package leasequery_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// Addresses of the upstream segment every test builds.
const (
	giaddr  = "10.20.0.2" // the concentrator
	server1 = "10.20.0.1"
	server2 = "10.20.0.3"
	silent  = "10.20.0.4" // dhcpd without `allow leasequery;`
	dead    = "10.20.0.9" // nothing there
)

// dhcpdConf declares the server's own segment and the subscriber networks.
// allow leasequery is global (giaddr's subnet, 10.20.0.0/24, has none).
func dhcpdConf(allowLeasequery bool) string {
	var b strings.Builder
	if allowLeasequery {
		b.WriteString("allow leasequery;\n")
	}
	b.WriteString(`default-lease-time 3600;
max-lease-time 7200;
option domain-name-servers 10.20.0.53;
subnet 10.20.0.0 netmask 255.255.255.0 { }
subnet 192.168.10.0 netmask 255.255.255.0 { range 192.168.10.10 192.168.10.200; }
subnet 192.168.20.0 netmask 255.255.255.0 { range 192.168.20.10 192.168.20.50; }
subnet 192.168.30.0 netmask 255.255.255.0 { range 192.168.30.10 192.168.30.250; }
`)
	return b.String()
}

// upstream is the segment of a test: the card's namespace and the servers.
type upstream struct {
	lab  *lab.Lab
	sw   *lab.Switch
	card *lab.NS
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	l := lab.New(t)
	lab.Need(t, "dhcpd")
	u := &upstream{lab: l, sw: l.Switch("up")}
	u.card = l.NS("card")
	u.sw.Attach(u.card, "up0")
	u.card.Addr("up0", giaddr+"/24")
	return u
}

// server starts a dhcpd at addr with the given leases.
func (u *upstream) server(t *testing.T, name, addr string, allowLeasequery bool, leases string) *lab.DHCPD {
	t.Helper()
	ns := u.lab.NS(name)
	u.sw.Attach(ns, "eth0")
	ns.Addr("eth0", addr+"/24")
	return ns.StartDHCPD("dhcpd-"+name, dhcpdConf(allowLeasequery), leases, "eth0")
}

// answer is the part of `query --json` output the tests check.
type answer struct {
	Query            string            `json:"query"`
	Server           string            `json:"server"`
	Type             string            `json:"type"`
	Winner           bool              `json:"winner"`
	CIAddr           *string           `json:"ciaddr"`
	CHAddr           *string           `json:"chaddr"`
	ClientID         *string           `json:"client_id"`
	LeaseRemainingS  *int64            `json:"lease_remaining_s"`
	LastTransactionS *int64            `json:"last_transaction_s"`
	AssociatedIPs    []string          `json:"associated_ips"`
	RelayAgentInfo   map[string]string `json:"relay_agent_info"`
	VendorClass      *string           `json:"vendor_class"`
	Transmissions    int               `json:"transmissions"`
}

// query runs `leaseguard query ARGS` in the card's namespace and returns
// stdout, stderr and the exit status.
func (u *upstream) query(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := u.card.Command(binary, append([]string{"query", "--giaddr", giaddr}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run leaseguard query: %v", err)
	}
	return out.String(), errb.String(), code
}

// queryJSON runs a query with --json and decodes its answers, one per server.
func (u *upstream) queryJSON(t *testing.T, wantCode int, args ...string) []answer {
	t.Helper()
	stdout, stderr, code := u.query(t, append(args, "--json")...)
	if code != wantCode {
		t.Fatalf("leaseguard query %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
	}
	var answers []answer
	dec := json.NewDecoder(strings.NewReader(stdout))
	for dec.More() {
		var a answer
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("decode %q: %v", stdout, err)
		}
		answers = append(answers, a)
	}
	return answers
}

func str(p *string) string {
	if p == nil {
		return "<none>"
	}
	return *p
}

// near reports whether p is within tolerance of want seconds.
func near(p *int64, want time.Duration, tolerance time.Duration) bool {
	if p == nil {
		return false
	}
	d := time.Duration(*p)*time.Second - want
	return d <= tolerance && d >= -tolerance
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }
