package metrics

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestWriteText(t *testing.T) {
	var s Set
	s.Counter("lg_relayed_total", "Packets relayed.\nBy port.").Add(12000000, "port", `cab"le\1`, "direction", "to_server")
	s.Gauge("lg_bindings", "Bindings.").Add(3)
	s.Gauge("lg_bindings", "ignored: the family exists").Add(0.25, "source", "gleaned")
	h := NewHistogram(0.01, 0.001, 0.1, 0.01)
	for _, v := range []float64{0.0005, 0.001, 0.05, 3} {
		h.Observe(v)
	}
	s.Histogram("lg_rtt_seconds", "RTT.").AddHistogram(h.Snapshot(), "server", "10.0.0.1")
	s.Family("lg_prog_seconds", "Programming.", SummaryKind).AddSummary(1.5, 7)
	var b strings.Builder
	if _, err := s.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP lg_relayed_total Packets relayed.\nBy port.
# TYPE lg_relayed_total counter
lg_relayed_total{port="cab\"le\\1",direction="to_server"} 12000000
# HELP lg_bindings Bindings.
# TYPE lg_bindings gauge
lg_bindings 3
lg_bindings{source="gleaned"} 0.25
# HELP lg_rtt_seconds RTT.
# TYPE lg_rtt_seconds histogram
lg_rtt_seconds_bucket{server="10.0.0.1",le="0.001"} 2
lg_rtt_seconds_bucket{server="10.0.0.1",le="0.01"} 2
lg_rtt_seconds_bucket{server="10.0.0.1",le="0.1"} 3
lg_rtt_seconds_bucket{server="10.0.0.1",le="+Inf"} 4
lg_rtt_seconds_sum{server="10.0.0.1"} 3.0515
lg_rtt_seconds_count{server="10.0.0.1"} 4
# HELP lg_prog_seconds Programming.
# TYPE lg_prog_seconds summary
lg_prog_seconds_sum 1.5
lg_prog_seconds_count 7
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	fams, err := Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := []*Family{}
	for _, f := range s.Families() {
		got = append(got, f)
	}
	if diff := cmp.Diff(got, fams, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("parsed back (-written +parsed):\n%s", diff)
	}
}

func TestWriteRefusesBadNames(t *testing.T) {
	for _, tc := range []struct {
		metric, label, want string
	}{
		{"1abc", "", `"1abc" is not a metric name`},
		{"ok", "bad-label", `ok: "bad-label" is not a label name`},
		{"ok", "__reserved", `"__reserved" is not a label name`},
	} {
		var s Set
		f := s.Counter(tc.metric, "h")
		if tc.label != "" {
			f.Add(1, tc.label, "v")
		}
		var b strings.Builder
		_, err := s.WriteTo(&b)
		if err == nil || !strings.Contains(err.Error(), tc.want) || b.Len() != 0 {
			t.Errorf("%s/%s: err %v, wrote %q; want an error with %q and nothing written", tc.metric, tc.label, err, b.String(), tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"split family", "a 1\nb 1\na 2\n", "line 3: family a continues"},
		{"type after samples", "a 1\n# TYPE a counter\n", "line 2: TYPE of a after its samples"},
		{"bad type", "# TYPE a countr\n", `"countr" is not a metric type`},
		{"bad value", "a x\n", `"x" is not a value`},
		{"unterminated", "a{l=\"x} 1\n", "unterminated value"},
		{"unquoted", "a{l=x} 1\n", "value not quoted"},
		{"no value", "a\n", "has no value"},
		{"not cumulative", "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n", "less than the bucket before"},
		{"count differs", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n", "must be present and equal"},
	} {
		_, err := Parse(strings.NewReader(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 1e14: "100000000000000", 1e15: "1e+15", 0.1: "0.1", -3: "-3",
		math.Inf(1): "+Inf", math.Inf(-1): "-Inf", math.NaN(): "NaN",
	} {
		if got := formatFloat(v); got != want {
			t.Errorf("formatFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestExponentialBounds(t *testing.T) {
	if diff := cmp.Diff([]float64{0.001, 0.002, 0.004}, ExponentialBounds(0.001, 2, 3)); diff != "" {
		t.Error(diff)
	}
}

// FuzzParse: Parse never panics, and whatever Set writes (label values
// from the fuzzer) parses back to the same labels.
func FuzzParse(f *testing.F) {
	f.Add("# TYPE a counter\na{x=\"1\"} 2\n", "v\"\\\n")
	f.Add("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1\n", "")
	f.Add("a{b=\"c\",} 1 123\n# HELP a x\\ny\n", "\\n")
	f.Fuzz(func(t *testing.T, text, value string) {
		_, _ = Parse(strings.NewReader(text))
		var s Set
		s.Gauge("g", "help "+value).Add(1, "v", value)
		var b strings.Builder
		if _, err := s.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		fams, err := Parse(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("Parse of Set's output %q: %v", b.String(), err)
		}
		if got := fams[0].Samples[0].Labels[0].Value; got != value {
			t.Fatalf("label value %q came back as %q", value, got)
		}
	})
}
