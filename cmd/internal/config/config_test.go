package config

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigParses(t *testing.T) {
	data, err := os.ReadFile("../../../docs/agent.example.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data)
	if err != nil {
		t.Fatalf("the shipped example config does not parse: %v", err)
	}
	if got, want := c.Upstream.Address, netip.MustParseAddr("10.0.0.2"); got != want {
		t.Errorf("upstream.address = %v, want %v", got, want)
	}
	if len(c.Ports) != 2 || c.Ports[0].Modem.IsZero() || c.Ports[1].RemoteID != "line-0042" {
		t.Errorf("ports decoded wrong: %+v", c.Ports)
	}
	if c.Ports[0].Trust != Untrusted || c.Ports[0].Policy != PolicyDrop || c.Ports[0].CircuitID != "cable1/0/0" {
		t.Errorf("port defaults not applied: %+v", c.Ports[0])
	}
	if time.Duration(c.Leasequery.UnknownTTL) != 5*time.Minute || c.Leasequery.InitialWindow != DefaultInitialWindow {
		t.Errorf("leasequery = %+v", c.Leasequery)
	}
}

// minimal is the smallest valid config; cases below break one thing each.
const minimal = `{
 "upstream": {"interface": "up0", "address": "10.0.0.2"},
 "servers": ["10.0.0.1"],
 "subscriber_networks": ["192.168.10.0/24"],
 "ports": [{"name": "p1", "interface": "sub0", "kind": "ethernet", "gateway": "192.168.10.1"}]
}`

func TestMinimalConfigGetsDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Relay.MaxHops != DefaultMaxHops || c.Leasequery.MaxOutstanding != DefaultMaxOutstanding ||
		c.Enforcement.Table != DefaultTable || c.API.Socket != DefaultAPISocket || c.Relay.Renewals != "relay" {
		t.Errorf("defaults missing: %+v", c)
	}
}

// TestEnforcementAndSnapshotDefaults: the leasequery filters get their
// documented defaults; the snapshot's write delay only with a path.
func TestEnforcementAndSnapshotDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Enforcement
	if e.PerPortQueries != DefaultPerPortQueries || time.Duration(e.PerPortInterval) != DefaultPerPortInterval ||
		e.DownstreamPerSec != DefaultDownstreamPerSec || c.Snapshot.WriteDelay != 0 {
		t.Errorf("enforcement %+v, snapshot %+v", e, c.Snapshot)
	}
	c, err = Parse([]byte(strings.Replace(minimal, `"servers"`, `"snapshot": {"path": "/var/lib/leaseguard/b.snap"}, "servers"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Snapshot.WriteDelay) != DefaultSnapshotWriteDelay {
		t.Errorf("snapshot %+v", c.Snapshot)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name, edit, want string
	}{
		{"unknown key", `"servers"→"servres"`, `unknown key "servres"`},
		{"bad address", `"10.0.0.1"→"10.0.0.999"`, `10.0.0.999`},
		{"no servers", `["10.0.0.1"]→[]`, "servers: at least one"},
		{"bad kind", `"ethernet"→"fibre"`, `ports[0].kind: "fibre" is not one of`},
		{"bad prefix", `"192.168.10.0/24"→"192.168.10.0/33"`, `is not a prefix`},
		{"long interface", `"sub0"→"averyveryverylongname"`, `ports[0].interface: "averyveryverylongname"`},
		{"port on upstream", `"sub0"→"up0"`, `ports[0].interface: "up0" is the upstream interface`},
		{"giaddr zero", `"10.0.0.2"→"0.0.0.0"`, `upstream.address: 0.0.0.0 is not a usable`},
		{"modem on dsl", `"kind": "ethernet"→"kind": "dsl", "modem": "00:11:22:33:44:55"`, `modem and device_class apply to cable ports only`},
		{"bad mac", `"kind": "ethernet"→"kind": "cable", "modem": "00:11:22"`, `ports[0].modem: "00:11:22" is not a 6-byte MAC`},
		{"policy needs trust", `"kind": "ethernet"→"kind": "ethernet", "option82_policy": "keep"`, `ports[0].option82_policy: "keep" needs trust`},
		{"rfc cap", `"servers"→"leasequery": {"max_outstanding": 500}, "servers"`, `leasequery.max_outstanding: 500 is outside 1-200`},
		{"bad duration", `"servers"→"leasequery": {"unknown_ttl": "5 minutes"}, "servers"`, `is not a duration`},
		{"tcp without tls", `"servers"→"api": {"tcp": {"listen": ":8443"}}, "servers"`, `api.tcp: listen, cert, key and client_ca are all required`},
		{"filter too big", `"servers"→"enforcement": {"enabled": true, "per_port_queries": 20000}, "servers"`, `enforcement.per_port_queries: 20000 is outside`},
		{"filter interval", `"servers"→"enforcement": {"enabled": true, "per_port_interval": "1ms"}, "servers"`, `enforcement.per_port_interval: 1ms is outside`},
		{"downstream cap", `"servers"→"enforcement": {"enabled": true, "downstream_queries_per_second": -1}, "servers"`, `enforcement.downstream_queries_per_second: -1 is outside`},
		{"relative snapshot", `"servers"→"snapshot": {"path": "b.snap"}, "servers"`, `snapshot.path: "b.snap" is not an absolute path`},
		{"snapshot delay", `"servers"→"snapshot": {"path": "/b.snap", "write_delay": "48h"}, "servers"`, `snapshot.write_delay: 48h0m0s is outside`},
		{"bad log level", `"servers"→"log": {"level": "loud"}, "servers"`, `log.level: "loud" is not a level`},
		{"unknown subsystem", `"servers"→"log": {"subsystems": {"dns": "debug"}}, "servers"`, `log.subsystems.dns: unknown subsystem`},
		{"wrong type", `"servers"→"relay": {"max_hops": "ten"}, "servers"`, `relay.max_hops: string is not a valid int`},
		{"unknown nested key", `"kind": "ethernet"→"kind": "ethernet", "modm": "x"`, `unknown key "ports[0].modm"`},
		{"trailing data", `}→} {}`, `unexpected data after the top-level object`},
		{"syntax", `"servers": [→"servers": [,`, `line 3:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to, _ := strings.Cut(tt.edit, "→")
			// Replace the last occurrence for "}" so the edit hits the end.
			var in string
			if from == "}" {
				i := strings.LastIndex(minimal, from)
				in = minimal[:i] + to + minimal[i+1:]
			} else {
				if !strings.Contains(minimal, from) {
					t.Fatalf("test edit %q does not apply", from)
				}
				in = strings.Replace(minimal, from, to, 1)
			}
			_, err := Parse([]byte(in))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", in)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`{"upstream": {}, "servers": [], "subscriber_networks": [], "ports": []}`))
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"upstream.interface", "upstream.address", "servers", "subscriber_networks", "ports"} {
		if !strings.Contains(err.Error(), want+":") {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(`{"ports": [{"name": 1}]}`))
	f.Add([]byte(`{"servers": ["::1"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err == nil && c.Validate() != nil {
			t.Fatalf("Parse accepted a config Validate rejects")
		}
	})
}

// Every error is a *FieldError carrying the path, so the management API can
// name the field without reading messages.
func TestErrorsAreFieldErrors(t *testing.T) {
	tests := []struct {
		in, field string
		malformed bool
	}{
		{strings.Replace(minimal, `"sub0"`, `"up0"`, 1), "ports[0].interface", false},
		{strings.Replace(minimal, `"servers"`, `"log": {"subsystems": {"relay": "loud"}}, "servers"`, 1), "log.subsystems.relay", false},
		{strings.Replace(minimal, `"10.0.0.1"`, `"nope"`, 1), "servers[0]", true},
		{strings.Replace(minimal, `"upstream"`, `"upstraem"`, 1), "upstraem", true},
		{minimal + "x", "", true},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || fe.Malformed != tt.malformed {
			t.Errorf("Parse error %v: got %+v, want field %q malformed %v", err, fe, tt.field, tt.malformed)
		}
	}
}
