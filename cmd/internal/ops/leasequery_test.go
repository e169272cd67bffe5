package ops_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/nft"
)

var (
	server1 = netip.MustParseAddr("10.0.0.1")
	server3 = netip.MustParseAddr("10.0.0.3")
)

// activeAnswer: server 1 ACTIVE after 2.5 ms, server 3 timed out.
func activeAnswer(q lq.Query) (engine.Result, error) {
	key, err := engine.KeyOf(q)
	if err != nil {
		return engine.Result{}, err
	}
	b := opstest.Binding(q.IP.String(), "00:00:00:00:00:42", "").Binding
	return engine.Result{Key: key, Query: q, Type: lq.LeaseActive, Binding: b, Server: server1, At: opstest.Now,
		Answers: []engine.ServerAnswer{
			{Server: server1, Outcome: engine.Answered, Type: lq.LeaseActive, Binding: b, Transmissions: 1, RTT: 2500 * time.Microsecond},
			{Server: server3, Outcome: engine.TimedOut, Transmissions: 5},
		}}, nil
}

func TestLeasequery(t *testing.T) {
	env := newEnv(t, ops.Options{})
	env.Backend.Querier.Answer = activeAnswer
	ip := netip.MustParseAddr("192.168.10.42")
	res, err := env.Ops.Leasequery(context.Background(), lq.Query{Kind: lq.ByIP, IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	if res.Query != "ip 192.168.10.42" || res.Type != "active" || res.Winner != server1 || res.Binding == nil || res.Binding.MAC != "00:00:00:00:00:42" {
		t.Errorf("result %+v", res)
	}
	want := []ops.LeasequeryAnswer{
		{Server: server1, Outcome: "answered", Type: "active", Transmissions: 1, RTTMillis: 2.5, Binding: res.Answers[0].Binding},
		{Server: server3, Outcome: "timeout", Transmissions: 5},
	}
	if diff := cmp.Diff(want, res.Answers, eq); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}

	// No server answering is a result, not an error.
	env.Backend.Querier.Answer = nil
	res, err = env.Ops.Leasequery(context.Background(), lq.Query{Kind: lq.ByIP, IP: ip})
	if err != nil || res.Type != "none" || res.Error != engine.ErrNoAnswer.Error() {
		t.Errorf("no answer: %+v %v", res, err)
	}
}

func TestLeasequeryErrors(t *testing.T) {
	env := newEnv(t, ops.Options{})
	env.Backend.Querier.Answer = func(q lq.Query) (engine.Result, error) {
		switch q.IP.As4()[3] {
		case 1:
			return engine.Result{}, &engine.RestrictedError{IP: q.IP}
		case 2:
			return engine.Result{}, engine.ErrPendingFull
		}
		return engine.Result{}, context.DeadlineExceeded
	}
	for _, tc := range []struct {
		q     lq.Query
		kind  ops.ErrorKind
		field string
	}{
		{lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("10.9.9.1")}, ops.Invalid, "ip"},
		{lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("10.9.9.2")}, ops.Unavailable, ""},
		{lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("10.9.9.3")}, ops.Timeout, ""},
		{lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: []byte{1, 2}}, ops.Invalid, "mac"},
		{lq.Query{Kind: lq.ByClientID}, ops.Invalid, "client_id"},
	} {
		_, err := env.Ops.Leasequery(context.Background(), tc.q)
		var e *ops.Error
		if !errors.As(err, &e) || e.Kind != tc.kind || e.Field != tc.field {
			t.Errorf("%+v: %v, want %v on %q", tc.q, err, tc.kind, tc.field)
		}
	}
}

func TestMetrics(t *testing.T) {
	env := newEnv(t, ops.Options{RTTBuckets: []float64{0.001, 0.01}})
	fiveBindings(t, env)
	setCounters(env, 2)
	res, _ := activeAnswer(lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("192.168.10.42")})
	env.Ops.ObserveLeasequery(res)
	env.Backend.Drops.Set(map[nft.CounterID]nft.Counter{{Port: "lgd0", Reason: nft.ReasonOther}: {Packets: 7, Bytes: 420}})
	got := scrape(t, env)
	for key, want := range map[string]float64{
		"leaseguard_config_generation":                                                 1,
		"leaseguard_relay_packets_total port=cable1/0/1 direction=to_server":           12,
		"leaseguard_relay_dropped_total reason=client option 82":                       2,
		"leaseguard_bindings source=gleaned":                                           4,
		"leaseguard_bindings source=snapshot":                                          1,
		"leaseguard_bindings source=leasequery":                                        0,
		"leaseguard_port_bindings port=dsl2":                                           2,
		"leaseguard_leasequery_answers_total server=10.0.0.1 type=active":              6,
		"leaseguard_leasequery_server_up server=10.0.0.1":                              1,
		"leaseguard_leasequery_rtt_seconds_bucket server=10.0.0.1 le=0.001":            0,
		"leaseguard_leasequery_rtt_seconds_bucket server=10.0.0.1 le=0.01":             1,
		"leaseguard_leasequery_rtt_seconds_count server=10.0.0.1":                      1,
		"leaseguard_port_frames_total port=cable1/0/1 what=kernel_drop":                2,
		"leaseguard_nft_programming_seconds_count":                                     1,
		"leaseguard_spoof_dropped_packets_total port=dsl2 interface=lgd0 reason=other": 7,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}
