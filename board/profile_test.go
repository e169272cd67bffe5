package board

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuiltinProfilesParse(t *testing.T) {
	ps, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	want := []string{"qemu-malta-mipsle", "qemu-virt-arm64", "sample-hw-arm64"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("builtin profiles (-want +got):\n%s", diff)
	}
}

func TestLookup(t *testing.T) {
	ps, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Lookup(ps, "qemu-malta-mipsle")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{p.Arch, p.Console.Device, p.CLI.Device}
	if diff := cmp.Diff([]string{"mipsle", "ttyS0", "ttyS1"}, got); diff != "" {
		t.Errorf("malta arch, console, cli (-want +got):\n%s", diff)
	}
	if _, err := Lookup(ps, "nope"); err == nil || !strings.Contains(err.Error(), "qemu-virt-arm64") {
		t.Errorf("Lookup(nope) = %v, want an error listing the profiles", err)
	}
}

func TestCircuitID(t *testing.T) {
	p := Profile{RelayID: "slot3"}
	port := Port{Name: "sub1", CircuitID: "{relay} eth {port}:{vlan}"}
	if got, want := p.CircuitID(port, "101"), "slot3 eth sub1:101"; got != want {
		t.Errorf("CircuitID = %q, want %q", got, want)
	}
}

func TestPortsWithRole(t *testing.T) {
	p := validProfile()
	var got []string
	for _, port := range p.PortsWithRole(Subscriber) {
		got = append(got, port.Name)
	}
	if diff := cmp.Diff([]string{"sub0"}, got); diff != "" {
		t.Errorf("subscriber ports (-want +got):\n%s", diff)
	}
}

func validProfile() Profile {
	return Profile{
		Name: "t", Arch: "arm64", RelayID: "r",
		Console: Serial{Device: "ttyS0", Baud: 115200},
		CLI:     Serial{Device: "ttyS1", Baud: 9600},
		Ports: []Port{
			{Name: "sub0", Role: Subscriber, NIC: NICMatch{MAC: "52:54:00:00:00:01"}, CircuitID: "{port}",
				Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}},
			{Name: "up0", Role: Upstream, NIC: NICMatch{PCI: "0000:01:00.0"}},
		},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(p *Profile)
		errHas string
	}{
		{"valid", func(p *Profile) {}, ""},
		{"no name", func(p *Profile) { p.Name = "" }, "name is empty"},
		{"arch", func(p *Profile) { p.Arch = "sparc" }, `arch "sparc"`},
		{"console path", func(p *Profile) { p.Console.Device = "/dev/ttyS0" }, "console: device"},
		{"cli baud", func(p *Profile) { p.CLI.Baud = 0 }, "cli: baud 0"},
		{"shared serial", func(p *Profile) { p.CLI.Device = "ttyS0" }, "share device ttyS0"},
		{"relay id", func(p *Profile) { p.RelayID = "" }, "relay_id is empty"},
		{"long name", func(p *Profile) { p.Ports[0].Name = "subscriberport00" }, `port 0 (subscriberport00): "subscriberport00" is not a valid`},
		{"role", func(p *Profile) { p.Ports[1].Role = "core" }, `port 1 (up0): role "core"`},
		{"circuit", func(p *Profile) { p.Ports[0].CircuitID = "" }, "port 0 (sub0): subscriber port without circuit_id"},
		{"two matches", func(p *Profile) { p.Ports[0].NIC.Name = "eth0" }, "exactly one of mac, pci, name (2 set)"},
		{"no match", func(p *Profile) { p.Ports[1].NIC = NICMatch{} }, "(0 set)"},
		{"bad mac", func(p *Profile) { p.Ports[0].NIC.MAC = "52:54:00" }, `nic mac "52:54:00"`},
		{"dup name", func(p *Profile) { p.Ports[1].Name = "sub0" }, "port 1 (sub0): name used twice"},
		{"dup nic", func(p *Profile) { p.Ports[1].NIC = p.Ports[0].NIC }, "matches another port's NIC"},
		{"no upstream", func(p *Profile) { p.Ports[1].Role = Subscriber; p.Ports[1].CircuitID = "x" }, "at least one subscriber and one upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validProfile()
			tt.modify(&p)
			err := p.Validate()
			if tt.errHas == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.errHas)
			}
		})
	}
}

func TestParseProfileStrict(t *testing.T) {
	tests := []struct {
		name, json, errHas string
	}{
		{"unknown key", `{"name":"x","arch":"arm64","consol":{}}`, `unknown field "consol"`},
		{"trailing", `{"name":"t","arch":"arm64","relay_id":"r","console":{"device":"a","baud":1},"cli":{"device":"b","baud":1},
			"ports":[{"name":"s","role":"subscriber","circuit_id":"c","nic":{"name":"eth0"}},{"name":"u","role":"upstream","nic":{"name":"eth1"}}]} {}`, "trailing data"},
		{"bad prefix", `{"ports":[{"addrs":["10.0.0.1"]}]}`, "10.0.0.1"},
		{"not json", `name: x`, "board profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProfile([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("ParseProfile = %v, want an error containing %q", err, tt.errHas)
			}
		})
	}
}

func FuzzParseProfile(f *testing.F) {
	for _, name := range []string{"qemu-virt-arm64", "qemu-malta-mipsle", "sample-hw-arm64"} {
		b, err := builtinFiles.ReadFile("profiles/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProfile(b)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParseProfile accepted a profile Validate rejects: %v", err)
		}
	})
}
