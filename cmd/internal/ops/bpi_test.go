package ops_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// bpiEnv is an Env running opstest.BPIConfigJSON whose clock the test
// moves, with two subscribers behind the cable port's modem.
func bpiEnv(t *testing.T) (*opstest.Env, *atomic.Pointer[time.Time]) {
	t.Helper()
	var clock atomic.Pointer[time.Time]
	clock.Store(&opstest.Now)
	env, err := opstest.NewEnvConfig(opstest.BPIConfigJSON, ops.Options{Now: func() time.Time { return *clock.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"192.168.10.9", "192.168.10.10"} {
		b := opstest.Binding(ip, "00:00:00:00:00:"+ip[len(ip)-2:], "cable1/0/1")
		b.Modem = mac("00:aa:00:00:00:01")
		upsert(t, env, b)
	}
	return env, &clock
}

func bpiCounters(n uint64) ops.BPICounters {
	return ops.BPICounters{Frames: 100 * n, Pairs: 30 * n, Encrypted: 90 * n, Clear: 5 * n, UnknownLocation: 3 * n,
		NoKey: 2 * n, KeyRequests: 4 * n, KeyReplies: 3 * n, KeyRejects: n, KeyPairs: 2 + n,
		Leasequeries: ops.BPILeasequeries{Triggered: 2 * n, Held: n, Active: n, NotActive: n}}
}

func TestBPIOffIsUnavailable(t *testing.T) {
	env := newEnv(t, ops.Options{})
	if _, err := env.Ops.BPI(); ops.KindOf(err) != ops.Unavailable {
		t.Errorf("BPI with BPI+ off: %v, want unavailable", err)
	}
	if _, err := env.Ops.BPIModem(mac("00:aa:00:00:00:01")); ops.KindOf(err) != ops.Unavailable {
		t.Errorf("BPIModem with BPI+ off: %v, want unavailable", err)
	}
	if c := env.Ops.Counters(); c.BPI != nil {
		t.Errorf("counters carry BPI+ counters with BPI+ off: %+v", c.BPI)
	}
	for key := range scrape(t, env) {
		if strings.HasPrefix(key, "leaseguard_bpi_") {
			t.Errorf("metric %s with BPI+ off", key)
		}
	}
}

func TestBPIView(t *testing.T) {
	env, _ := bpiEnv(t)
	env.Backend.BPI.Counters.Set(bpiCounters(1))
	got, err := env.Ops.BPI()
	if err != nil {
		t.Fatal(err)
	}
	want := ops.BPI{DownstreamInterface: "ds1", RFInterface: "rf0", Suite: "aes-128-cbc",
		TEKLifetimeSeconds: 43200, TEKGraceSeconds: 3600, Counters: bpiCounters(1),
		Modems: []ops.BPIModem{
			{MAC: "00:aa:00:00:00:01", SAID: 101, Privacy: true, Keys: "generated", AuthKey: true, State: ops.BPIEncrypting,
				Current:     &ops.BPITEK{Seq: 1, Expires: opstest.Now.Add(6 * time.Hour)},
				Next:        &ops.BPITEK{Seq: 2, Expires: opstest.Now.Add(18 * time.Hour)},
				Subscribers: 2, Ports: []string{"cable1/0/1"}},
			{MAC: "00:aa:00:00:00:02", SAID: 102, Keys: "none", State: ops.BPIClear},
			{MAC: "00:aa:00:00:00:03", SAID: 103, Privacy: true, Keys: "configured", State: ops.BPIEncrypting,
				Current: &ops.BPITEK{Seq: 15, Expires: opstest.Now.Add(time.Hour)},
				Next:    &ops.BPITEK{Seq: 0, Expires: opstest.Now.Add(13 * time.Hour)}},
		}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BPI (-want +got):\n%s", diff)
	}
}

// TestBPIKeysOverTime: the current key is the older while it is valid,
// then the newer with no next; with neither valid, no key.
func TestBPIKeysOverTime(t *testing.T) {
	env, clock := bpiEnv(t)
	for _, tc := range []struct {
		after         time.Duration
		state         string
		current, next *ops.BPITEK
	}{
		{59 * time.Minute, ops.BPIEncrypting, &ops.BPITEK{Seq: 15, Expires: opstest.Now.Add(time.Hour)}, &ops.BPITEK{Seq: 0, Expires: opstest.Now.Add(13 * time.Hour)}},
		{time.Hour, ops.BPIEncrypting, &ops.BPITEK{Seq: 0, Expires: opstest.Now.Add(13 * time.Hour)}, nil},
		{13 * time.Hour, ops.BPINoKey, nil, nil},
	} {
		at := opstest.Now.Add(tc.after)
		clock.Store(&at)
		m, err := env.Ops.BPIModem(mac("00:aa:00:00:00:03"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.state, m.State); diff != "" {
			t.Errorf("after %v: state (-want +got):\n%s", tc.after, diff)
		}
		if diff := cmp.Diff([2]*ops.BPITEK{tc.current, tc.next}, [2]*ops.BPITEK{m.Current, m.Next}); diff != "" {
			t.Errorf("after %v: current, next (-want +got):\n%s", tc.after, diff)
		}
	}
}

func TestBPIModemLookup(t *testing.T) {
	env, _ := bpiEnv(t)
	m, err := env.Ops.BPIModem(mac("00:aa:00:00:00:02"))
	if err != nil || m.SAID != 102 || m.State != ops.BPIClear {
		t.Errorf("modem 2: %+v %v", m, err)
	}
	_, err = env.Ops.BPIModem(mac("00:aa:00:00:00:09"))
	if ops.KindOf(err) != ops.NotFound || ops.FieldOf(err) != "modem" || !strings.Contains(err.Error(), "00:aa:00:00:00:09") {
		t.Errorf("unknown modem: %v, want not found naming it", err)
	}
}

// TestBPICountersAndClear: BPI+'s counters are in Counters and in the
// BPI view, and clear counters starts both from zero.
func TestBPICountersAndClear(t *testing.T) {
	env, _ := bpiEnv(t)
	env.Backend.BPI.Counters.Set(bpiCounters(1))
	if c := env.Ops.Counters(); c.BPI == nil || *c.BPI != bpiCounters(1) {
		t.Errorf("counters' BPI %+v, want %+v", c.BPI, bpiCounters(1))
	}
	if err := env.Ops.ClearCounters("test"); err != nil {
		t.Fatal(err)
	}
	env.Backend.BPI.Counters.Set(bpiCounters(3))
	want := ops.BPICounters{Frames: 200, Pairs: 60, Encrypted: 180, Clear: 10, UnknownLocation: 6, NoKey: 4,
		KeyRequests: 8, KeyReplies: 6, KeyRejects: 2, KeyPairs: 2,
		Leasequeries: ops.BPILeasequeries{Triggered: 4, Held: 2, Active: 2, NotActive: 2}}
	c := env.Ops.Counters()
	if c.BPI == nil {
		t.Fatal("no BPI+ counters after clear")
	}
	if diff := cmp.Diff(want, *c.BPI); diff != "" {
		t.Errorf("counters' BPI after clear (-want +got):\n%s", diff)
	}
	v, err := env.Ops.BPI()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, v.Counters); diff != "" {
		t.Errorf("BPI counters after clear (-want +got):\n%s", diff)
	}
	if v.Since != opstest.Now {
		t.Errorf("since %v, want %v", v.Since, opstest.Now)
	}
}

// TestBPIMetrics: the agent's counters as they are (a clear does not
// touch them) and the modems by state.
func TestBPIMetrics(t *testing.T) {
	env, _ := bpiEnv(t)
	env.Backend.BPI.Counters.Set(bpiCounters(1))
	if err := env.Ops.ClearCounters("test"); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, env)
	for key, want := range map[string]float64{
		"leaseguard_bpi_frames_total":                                    100,
		"leaseguard_bpi_frame_pairs_total":                               30,
		"leaseguard_bpi_frames_sent_total privacy=encrypted":             90,
		"leaseguard_bpi_frames_sent_total privacy=clear":                 5,
		"leaseguard_bpi_frames_dropped_total reason=unknown_location":    3,
		"leaseguard_bpi_frames_dropped_total reason=no_key":              2,
		"leaseguard_bpi_frames_dropped_total reason=no_destination":      0,
		"leaseguard_bpi_frames_dropped_total reason=link_error":          0,
		"leaseguard_bpi_key_messages_total type=request":                 4,
		"leaseguard_bpi_key_messages_total type=reply":                   3,
		"leaseguard_bpi_key_messages_total type=reject":                  1,
		"leaseguard_bpi_key_errors_total":                                0,
		"leaseguard_bpi_key_pairs_total":                                 3,
		"leaseguard_bpi_upstream_other_total":                            0,
		"leaseguard_bpi_leasequery_triggers_total result=triggered":      2,
		"leaseguard_bpi_leasequery_triggers_total result=held":           1,
		"leaseguard_bpi_leasequery_triggers_total result=rate_limited":   0,
		"leaseguard_bpi_leasequery_results_total result=active":          1,
		"leaseguard_bpi_leasequery_results_total result=not_active":      1,
		"leaseguard_bpi_leasequery_results_total result=failed":          0,
		"leaseguard_bpi_modems state=encrypting":                         2,
		"leaseguard_bpi_modems state=clear":                              1,
		"leaseguard_bpi_modems state=no_key":                             0,
		"leaseguard_bpi_leasequery_triggers_total result=not_subscriber": 0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}

// TestBPITEKSecondsLeft: each keyed modem's current and next key with the
// seconds they have left, following the clock; none for the modem with
// privacy off, and no next once the older key has expired.
func TestBPITEKSecondsLeft(t *testing.T) {
	env, clock := bpiEnv(t)
	const m1, m3 = "modem=00:aa:00:00:00:01 said=101", "modem=00:aa:00:00:00:03 said=103"
	for _, tc := range []struct {
		after time.Duration
		want  map[string]float64
	}{
		{0, map[string]float64{m1 + " tek=current": 6 * 3600, m1 + " tek=next": 18 * 3600,
			m3 + " tek=current": 3600, m3 + " tek=next": 13 * 3600}},
		{90 * time.Minute, map[string]float64{m1 + " tek=current": 4.5 * 3600, m1 + " tek=next": 16.5 * 3600,
			m3 + " tek=current": 11.5 * 3600}},
		{13 * time.Hour, map[string]float64{m1 + " tek=current": 5 * 3600}},
	} {
		at := opstest.Now.Add(tc.after)
		clock.Store(&at)
		got := map[string]float64{}
		for key, v := range scrape(t, env) {
			if rest, ok := strings.CutPrefix(key, "leaseguard_bpi_tek_seconds_left "); ok {
				got[rest] = v
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("after %v: leaseguard_bpi_tek_seconds_left (-want +got):\n%s", tc.after, diff)
		}
	}
}
