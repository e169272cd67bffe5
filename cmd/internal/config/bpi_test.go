package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// withBPI is a cable card with BPI on: one modem with generated keys, one
// with configured keys, one in clear.
const withBPI = `{
 "upstream": {"interface": "up0", "address": "10.0.0.2"},
 "servers": ["10.0.0.1"],
 "subscriber_networks": ["192.168.10.0/24"],
 "ports": [{"name": "cable1/0/0", "interface": "sub0", "kind": "cable", "gateway": "192.168.10.1", "modem": "00:10:95:00:00:01"}],
 "bpi": {
  "enabled": true,
  "downstream_interface": "ds1",
  "rf_interface": "rf0",
  "modems": [
   {"mac": "00:10:95:00:00:01", "said": 101, "auth_key": "4141414141414141414141414141414141414141"},
   {"mac": "00:10:95:00:00:02", "said": 102, "keys": {
     "older": {"seq": 3, "key": "e6600fd8852ef5abe6600fd8852ef5ab", "iv": "810e528e1c5fda1a810e528e1c5fda1a", "expires": "2026-06-01T00:00:00Z"}}},
   {"mac": "00:10:95:00:00:03", "said": 103, "privacy_disabled": true}
  ]
 }
}`

func TestBPIConfigGetsDefaults(t *testing.T) {
	c, err := Parse([]byte(withBPI))
	if err != nil {
		t.Fatal(err)
	}
	got := c.BPI
	got.Modems = nil
	want := BPI{Enabled: true, DownstreamInterface: "ds1", RFInterface: "rf0", Suite: SuiteAES128CBC,
		TEKLifetime: Duration(43200 * time.Second), TEKGrace: Duration(time.Hour),
		LeasequeryHoldoff: Duration(DefaultLeasequeryHoldoff), LeasequeryPerSecond: DefaultLeasequeryPerSecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bpi section (-want +got):\n%s", diff)
	}
	if len(c.BPI.Modems) != 3 || c.BPI.Modems[1].Keys.Older.Seq != 3 || !c.BPI.Modems[2].PrivacyDisabled {
		t.Errorf("modems decoded wrong: %+v", c.BPI.Modems)
	}
}

// An absent section stays absent when the configuration is written back
// (the management API's config get).
func TestBPIAbsentStaysAbsent(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"bpi"`) {
		t.Errorf("a config without bpi marshals with one:\n%s", b)
	}
}

func TestBPIErrorsNameTheField(t *testing.T) {
	tests := []struct{ name, edit, want string }{
		{"no rf interface", `"rf_interface": "rf0",→`, `bpi.rf_interface: "" is not a Linux interface name`},
		{"rf on a port", `"rf_interface": "rf0"→"rf_interface": "sub0"`, `bpi.rf_interface: "sub0" is the interface of ports[0]`},
		{"same interfaces", `"rf_interface": "rf0"→"rf_interface": "ds1"`, `bpi.rf_interface: "ds1" is bpi.downstream_interface`},
		{"bad suite", `"enabled": true,→"enabled": true, "suite": "rc4",`, `bpi.suite: "rc4" is not one of`},
		{"grace too long", `"enabled": true,→"enabled": true, "tek_lifetime": "10s", "tek_grace": "5s",`, `bpi.tek_grace: 5s must be less than half of tek_lifetime 10s`},
		{"lifetime beyond RFC 4131", `"enabled": true,→"enabled": true, "tek_lifetime": "200h",`, `bpi.tek_lifetime: 200h0m0s is outside 1s-168h`},
		{"holdoff", `"enabled": true,→"enabled": true, "leasequery_holdoff": "10ms",`, `bpi.leasequery_holdoff: 10ms is outside`},
		{"said range", `"said": 101→"said": 16384`, `bpi.modems[0].said: 16384 is outside 1-16383`},
		{"said twice", `"said": 102→"said": 101`, `bpi.modems[1].said: 101 is also the SAID of bpi.modems[0]`},
		{"mac twice", `"00:10:95:00:00:02"→"00:10:95:00:00:01"`, `bpi.modems[1].mac: 00:10:95:00:00:01 is also bpi.modems[0]`},
		{"short auth key", `"4141414141414141414141414141414141414141"→"4141"`, `bpi.modems[0].auth_key: not 20 bytes of hex`},
		{"des key for aes", `"key": "e6600fd8852ef5abe6600fd8852ef5ab"→"key": "e6600fd8852ef5ab"`, `bpi.modems[1].keys.older.key: not 16 bytes of hex (suite aes-128-cbc)`},
		{"no expiry", `, "expires": "2026-06-01T00:00:00Z"→`, `bpi.modems[1].keys.older.expires: required`},
		{"seq range", `"seq": 3→"seq": 16`, `bpi.modems[1].keys.older.seq: 16 is outside 0-15`},
		{"port modem unlisted", `{"mac": "00:10:95:00:00:01", "said": 101,→{"mac": "00:10:95:00:00:09", "said": 101,`, `ports[0].modem: 00:10:95:00:00:01 has no entry in bpi.modems`},
		{"unknown key", `"privacy_disabled"→"privacy_off"`, `unknown key "bpi.modems[2].privacy_off"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to, _ := strings.Cut(tt.edit, "→")
			if !strings.Contains(withBPI, from) {
				t.Fatalf("test edit %q does not apply", from)
			}
			_, err := Parse([]byte(strings.Replace(withBPI, from, to, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v does not contain %q", err, tt.want)
			}
		})
	}
}

// A disabled section is not checked beyond decoding: an operator may keep
// a half-written one switched off.
func TestBPIDisabledNotValidated(t *testing.T) {
	in := strings.Replace(withBPI, `"enabled": true`, `"enabled": false`, 1)
	in = strings.Replace(in, `"rf_interface": "rf0"`, `"rf_interface": ""`, 1)
	if _, err := Parse([]byte(in)); err != nil {
		t.Fatalf("disabled bpi section refused: %v", err)
	}
}
