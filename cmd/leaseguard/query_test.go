package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/leaseguard/leaseguard/lq"
)

// Bad input to `leaseguard query` is one line naming the flag, and exit 2,
// before any socket is opened.
func TestQueryBadInputNamesTheFlag(t *testing.T) {
	base := []string{"--server", "10.0.0.1", "--giaddr", "10.0.0.2"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--giaddr", "10.0.0.2", "--ip", "192.0.2.1"}, "--server is required"},
		{[]string{"--server", "10.0.0.1", "--ip", "192.0.2.1"}, "--giaddr is required"},
		{[]string{"--server", "10.0.0.1,nope", "--giaddr", "10.0.0.2", "--ip", "192.0.2.1"}, `--server "nope"`},
		{[]string{"--server", "10.0.0.1,10.0.0.1", "--giaddr", "10.0.0.2", "--ip", "192.0.2.1"}, "given twice"},
		{[]string{"--server", "10.0.0.1", "--giaddr", "0.0.0.0", "--ip", "192.0.2.1"}, `--giaddr "0.0.0.0"`},
		{append(base, "--ip", "192.0.2.300"), `--ip "192.0.2.300"`},
		{append(base, "--ip", "2001:db8::1"), `--ip "2001:db8::1"`},
		{append(base, "--mac", "00:11:22"), `--mac "00:11:22"`},
		{append(base, "--client-id", "zz"), `--client-id "zz"`},
		{append(base, "--sweep", "10.0.0.0/33"), `--sweep "10.0.0.0/33"`},
		{append(base, "--sweep", "10.0.0.0/4"), "larger than a /8"},
		{base, "exactly one of --ip, --mac, --client-id, --sweep"},
		{append(base, "--ip", "192.0.2.1", "--mac", "00:11:22:33:44:55"), "exactly one of"},
		{append(base, "--ip", "192.0.2.1", "--request", "51,0"), `--request "51,0"`},
		{append(base, "--ip", "192.0.2.1", "--retries", "0"), "--retries 0"},
		{append(base, "--ip", "192.0.2.1", "--max-outstanding", "500"), "--max-outstanding 500"},
		{append(base, "--ip", "192.0.2.1", "--window", "100"), "--window 100"},
		{append(base, "--ip", "192.0.2.1", "--frobnicate"), "frobnicate"},
		{append(base, "--ip", "192.0.2.1", "extra"), `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"query"}, tt.args...), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			msg := stderr.String()
			if !strings.Contains(msg, tt.want) || strings.Count(msg, "\n") != 1 {
				t.Errorf("stderr %q, want one line containing %q", msg, tt.want)
			}
		})
	}
}

func TestQueryFlagsBuildTheQuery(t *testing.T) {
	o, err := parseQueryFlags([]string{"--server", "10.0.0.1, 10.0.0.3", "--giaddr", "10.0.0.2",
		"--client-id", "01:00:11:22:33:44:55", "--request", "51,82"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.servers) != 2 || o.query.Kind != lq.ByClientID || len(o.query.ClientID) != 7 || o.query.ClientID[0] != 1 {
		t.Errorf("parsed %+v", o)
	}
	if len(o.request) != 2 || o.request[1] != 82 {
		t.Errorf("request list %v", o.request)
	}
}
