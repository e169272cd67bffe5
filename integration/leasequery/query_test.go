package leasequery_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The client identifiers of the fixture, as raw bytes and as the hex the
// probe prints.
const (
	uidCPE1   = "\x01\x00\x11\x22\x33\x44\x01"
	uidMulti  = "\x01\x00\x11\x22\x33\x44\x05"
	remoteID1 = "00:10:95:00:00:01"
)

// fixture is what server1 holds: one lease of each kind the RFC's answers
// distinguish.
func fixture(now time.Time) string {
	return leaseFile(now, []lease{
		{ip: "192.168.10.10", state: "active", mac: "00:11:22:33:44:01", uid: uidCPE1, vendorClass: "docsis3.0",
			circuitID: "cable1/0/0", remoteID: remoteID1, ends: time.Hour, cltt: 10 * time.Minute},
		{ip: "192.168.10.11", state: "free", mac: "00:11:22:33:44:02", ends: -time.Hour, cltt: 3 * time.Hour},      // expired
		{ip: "192.168.10.12", state: "released", mac: "00:11:22:33:44:03", ends: time.Hour, cltt: 5 * time.Minute}, // released
		// One MAC with leases in two subnets, the newer in 192.168.10.0/24.
		{ip: "192.168.10.14", state: "active", mac: "00:11:22:33:44:04", ends: time.Hour, cltt: 5 * time.Minute},
		{ip: "192.168.20.14", state: "active", mac: "00:11:22:33:44:04", ends: time.Hour, cltt: 30 * time.Minute},
		// One client-id with two leases, the newer in 192.168.20.0/24.
		{ip: "192.168.10.15", state: "active", mac: "00:11:22:33:44:05", uid: uidMulti, ends: time.Hour, cltt: 40 * time.Minute},
		{ip: "192.168.20.15", state: "active", mac: "00:11:22:33:44:05", uid: uidMulti, ends: 2 * time.Hour, cltt: 2 * time.Minute},
	})
}

func TestQueryRegimesAgainstDhcpd(t *testing.T) {
	u := newUpstream(t)
	now := time.Now()
	u.server(t, "s1", server1, true, fixture(now))

	tests := []struct {
		name  string
		args  []string
		code  int
		check func(t *testing.T, a answer)
	}{
		{"by ip, active lease with option 82 and vendor class", []string{"--ip", "192.168.10.10"}, 0, func(t *testing.T, a answer) {
			want(t, a, "active", "192.168.10.10", "00:11:22:33:44:01")
			if str(a.ClientID) != hexOf(uidCPE1) {
				t.Errorf("client_id = %s, want %s", str(a.ClientID), hexOf(uidCPE1))
			}
			if str(a.VendorClass) != "docsis3.0" {
				t.Errorf("vendor_class = %s", str(a.VendorClass))
			}
			if !near(a.LeaseRemainingS, time.Hour-time.Since(now), 5*time.Second) {
				t.Errorf("lease_remaining_s = %v, want about %v", deref(a.LeaseRemainingS), time.Hour)
			}
			if !near(a.LastTransactionS, 10*time.Minute+time.Since(now), 5*time.Second) {
				t.Errorf("last_transaction_s = %v, want about 600", deref(a.LastTransactionS))
			}
			if a.RelayAgentInfo["1"] != hexOf("cable1/0/0") || a.RelayAgentInfo["2"] != strings.ReplaceAll(remoteID1, ":", "") {
				t.Errorf("relay_agent_info = %v, want circuit-id cable1/0/0 and remote-id %s", a.RelayAgentInfo, remoteID1)
			}
		}},
		{"by ip, expired lease", []string{"--ip", "192.168.10.11"}, 0, func(t *testing.T, a answer) {
			want(t, a, "unassigned", "192.168.10.11", "<none>")
		}},
		{"by ip, released lease", []string{"--ip", "192.168.10.12"}, 0, func(t *testing.T, a answer) {
			want(t, a, "unassigned", "192.168.10.12", "<none>")
		}},
		{"by ip, free pool address", []string{"--ip", "192.168.10.13"}, 0, func(t *testing.T, a answer) {
			want(t, a, "unassigned", "192.168.10.13", "<none>")
			if a.LeaseRemainingS != nil || len(a.RelayAgentInfo) != 0 {
				t.Errorf("unassigned answer carries lease data: %+v", a)
			}
		}},
		{"by ip, outside every range", []string{"--ip", "10.77.0.1"}, 0, func(t *testing.T, a answer) {
			if a.Type != "unknown" {
				t.Errorf("type = %s, want unknown", a.Type)
			}
		}},
		{"by mac, newest of two leases with option 92", []string{"--mac", "00:11:22:33:44:04"}, 0, func(t *testing.T, a answer) {
			want(t, a, "active", "192.168.10.14", "00:11:22:33:44:04")
			if !slices.Contains(a.AssociatedIPs, "192.168.20.14") {
				t.Errorf("associated_ips = %v, want 192.168.20.14 among them", a.AssociatedIPs)
			}
		}},
		{"by client-id, newest of two leases with option 92", []string{"--client-id", hexOf(uidMulti)}, 0, func(t *testing.T, a answer) {
			want(t, a, "active", "192.168.20.15", "00:11:22:33:44:05")
			if !slices.Contains(a.AssociatedIPs, "192.168.10.15") {
				t.Errorf("associated_ips = %v, want 192.168.10.15 among them", a.AssociatedIPs)
			}
			if !near(a.LeaseRemainingS, 2*time.Hour-time.Since(now), 5*time.Second) {
				t.Errorf("lease_remaining_s = %v, want about 7200", deref(a.LeaseRemainingS))
			}
		}},
		{"by mac, unknown client", []string{"--mac", "00:11:22:33:44:99"}, 0, func(t *testing.T, a answer) {
			if a.Type != "unknown" {
				t.Errorf("type = %s, want unknown", a.Type)
			}
		}},
		{"by client-id, unknown client", []string{"--client-id", "01:00:11:22:33:44:99"}, 0, func(t *testing.T, a answer) {
			if a.Type != "unknown" {
				t.Errorf("type = %s, want unknown", a.Type)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := u.queryJSON(t, tt.code, append([]string{"--server", server1}, tt.args...)...)
			if len(answers) != 1 || answers[0].Server != server1 {
				t.Fatalf("answers = %+v, want one from %s", answers, server1)
			}
			if answers[0].Type != "timeout" && !answers[0].Winner {
				t.Errorf("the only answer is not marked the winner")
			}
			tt.check(t, answers[0])
		})
	}
}

func want(t *testing.T, a answer, typ, ciaddr, chaddr string) {
	t.Helper()
	if a.Type != typ || str(a.CIAddr) != ciaddr || str(a.CHAddr) != chaddr {
		t.Errorf("answer %s ciaddr %s chaddr %s, want %s %s %s", a.Type, str(a.CIAddr), str(a.CHAddr), typ, ciaddr, chaddr)
	}
}

func deref(p *int64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// Two servers hold conflicting leases on the same addresses (RFC 4388 §6.8):
// the answer with the most recent client transaction (smallest option 91)
// wins, whichever server sent it and in whatever order.
func TestConflictingServersOption91Decides(t *testing.T) {
	u := newUpstream(t)
	now := time.Now()
	u.server(t, "s1", server1, true, leaseFile(now, []lease{
		{ip: "192.168.10.20", state: "active", mac: "00:11:22:33:44:aa", ends: time.Hour, cltt: 30 * time.Minute},
		{ip: "192.168.10.21", state: "active", mac: "00:11:22:33:44:cc", ends: time.Hour, cltt: time.Minute},
		{ip: "192.168.10.22", state: "free", mac: "00:11:22:33:44:ee", ends: -time.Hour, cltt: 2 * time.Hour},
	}))
	u.server(t, "s2", server2, true, leaseFile(now, []lease{
		{ip: "192.168.10.20", state: "active", mac: "00:11:22:33:44:bb", ends: time.Hour, cltt: time.Minute},
		{ip: "192.168.10.21", state: "active", mac: "00:11:22:33:44:dd", ends: time.Hour, cltt: 20 * time.Minute},
		{ip: "192.168.10.22", state: "active", mac: "00:11:22:33:44:ff", ends: time.Hour, cltt: 3 * time.Minute},
	}))
	tests := []struct {
		ip, winner, chaddr string
	}{
		{"192.168.10.20", server2, "00:11:22:33:44:bb"}, // s2's client talked to it last
		{"192.168.10.21", server1, "00:11:22:33:44:cc"}, // s1's client talked to it last
		{"192.168.10.22", server2, "00:11:22:33:44:ff"}, // ACTIVE beats UNASSIGNED
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			answers := u.queryJSON(t, 0, "--server", server1+","+server2, "--ip", tt.ip)
			if len(answers) != 2 {
				t.Fatalf("answers = %+v, want one per server", answers)
			}
			var winners []answer
			for _, a := range answers {
				if a.Type == "timeout" {
					t.Errorf("server %s did not answer", a.Server)
				}
				if a.Winner {
					winners = append(winners, a)
				}
			}
			if len(winners) != 1 || winners[0].Server != tt.winner || str(winners[0].CHAddr) != tt.chaddr {
				t.Errorf("winners = %+v, want %s with chaddr %s", winners, tt.winner, tt.chaddr)
			}
		})
	}
}

// A server without `allow leasequery;` never answers, and an address with
// nothing behind it neither: the probe reports them as timeouts and still
// gives the answer of the server that does answer.
func TestSilentAndDeadServers(t *testing.T) {
	u := newUpstream(t)
	now := time.Now()
	u.server(t, "s1", server1, true, fixture(now))
	quiet := u.server(t, "s3", silent, false, fixture(now))

	answers := u.queryJSON(t, 0, "--server", server1+","+silent, "--ip", "192.168.10.10", "--retries", "1")
	if len(answers) != 2 {
		t.Fatalf("answers = %+v", answers)
	}
	if answers[0].Type != "active" || !answers[0].Winner {
		t.Errorf("answer of %s = %+v, want the winning ACTIVE", server1, answers[0])
	}
	if answers[1].Server != silent || answers[1].Type != "timeout" || answers[1].Transmissions < 1 {
		t.Errorf("answer of the silent server = %+v, want a timeout after at least one transmission", answers[1])
	}
	if err := quiet.WaitFor("LEASEQUERY not allowed", 10*time.Second); err != nil {
		t.Errorf("the silent server never saw the query: %v", err)
	}

	answers = u.queryJSON(t, 1, "--server", dead, "--ip", "192.168.10.10", "--retries", "1")
	if len(answers) != 1 || answers[0].Type != "timeout" || answers[0].Winner {
		t.Errorf("dead server answers = %+v, want one losing timeout", answers)
	}
	stdout, _, code := u.query(t, "--server", dead, "--ip", "192.168.10.10", "--retries", "1")
	if code != 1 || !strings.Contains(stdout, "winner: none") {
		t.Errorf("human output for a dead server: exit %d\n%s", code, stdout)
	}
}

func TestSweepCountsEveryAnswer(t *testing.T) {
	u := newUpstream(t)
	now := time.Now()
	var leases []lease
	for i := 10; i < 210; i++ { // 200 active leases in the 192.168.30.10-250 pool
		leases = append(leases, lease{ip: ip30(i), state: "active", mac: mac(i), ends: time.Hour, cltt: time.Minute})
	}
	u.server(t, "s1", server1, true, leaseFile(now, leases))
	stdout, stderr, code := u.query(t, "--server", server1, "--sweep", "192.168.30.0/24", "--json")
	if code != 0 {
		t.Fatalf("sweep: exit %d\n%s\n%s", code, stdout, stderr)
	}
	got := decodeSweep(t, stdout)
	// 254 addresses: 200 leased, 41 free in the pool, 13 outside the range.
	if got.Total != 254 || got.Active != 200 || got.Unassigned != 41 || got.Unknown != 13 || got.Timeout != 0 {
		t.Errorf("sweep summary = %+v, want 254 total, 200 active, 41 unassigned, 13 unknown, 0 timeout", got)
	}
}
