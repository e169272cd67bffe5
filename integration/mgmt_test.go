package integration

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
)

// TestAgentServesManagementAPI: the running agent answers `leaseguard ctl`
// on its management socket with the bindings it gleaned, its servers, an
// operator leasequery through dhcpd, and Prometheus metrics.
func TestAgentServesManagementAPI(t *testing.T) {
	lab.Need(t, "dhcpd", "udhcpc")
	c := topo.Build(t, nil, topo.Options{ClientsPerPort: 1})
	c.StartDHCPD(c.DHCPDConf(topo.DHCPDOptions{}))
	bin := topo.Binary(t)
	c.StartAgent(bin, c.LabConfig(nil))
	ip, err := topo.WaitUdhcpc(c.Ports[0].Clients[0].Udhcpc("udhcpc"))
	if err != nil {
		t.Fatal(err)
	}
	ctl := func(args ...string) string {
		t.Helper()
		out, err := c.Card.Exec(bin, append([]string{"ctl", "--socket", c.APISocket}, args...)...)
		if err != nil {
			t.Fatalf("ctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	var page struct {
		Bindings []struct {
			IP     netip.Addr `json:"ip"`
			Port   string     `json:"port"`
			Source string     `json:"source"`
		} `json:"bindings"`
	}
	out := ctl("--json", "bindings")
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("ctl --json bindings: %v\n%s", err, out)
	}
	found := false
	for _, b := range page.Bindings {
		found = found || (b.IP == ip && b.Port == c.Ports[0].Layout.Name)
	}
	if !found {
		t.Errorf("ctl bindings does not list %v on port %s:\n%s", ip, c.Ports[0].Layout.Name, out)
	}
	if out := ctl("servers"); !strings.Contains(out, c.Layout.Servers[0].String()) {
		t.Errorf("ctl servers does not name %v:\n%s", c.Layout.Servers[0], out)
	}
	if out := ctl("leasequery", "--ip", ip.String()); !strings.Contains(strings.ToUpper(out), "ACTIVE") {
		t.Errorf("ctl leasequery --ip %v:\n%s", ip, out)
	}
	if out := ctl("metrics"); !strings.Contains(out, "# TYPE") || !strings.Contains(out, "leaseguard_") {
		t.Errorf("ctl metrics is not Prometheus text:\n%.2000s", out)
	}
}
