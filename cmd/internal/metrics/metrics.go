// Package metrics writes the Prometheus text exposition format (version
// 0.0.4) without a client library: a Set collects one scrape's families
// from snapshots of the counters the agent already keeps, and Histogram
// accumulates the one kind of observation no package counts for us
// (leasequery round-trip times). Parse reads the format back, for tests
// and for tools that want a value out of /metrics.
package metrics

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type of the text format, for HTTP responses.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Kind is a metric family's TYPE.
type Kind string

const (
	CounterKind   Kind = "counter"
	GaugeKind     Kind = "gauge"
	HistogramKind Kind = "histogram"
	SummaryKind   Kind = "summary"
	UntypedKind   Kind = "untyped"
)

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Label is one name="value" pair of a sample.
type Label struct{ Name, Value string }

// Sample is one line of a family: the family name plus Suffix (_bucket,
// _sum, _count for histograms and summaries), labels and value.
type Sample struct {
	Suffix string
	Labels []Label
	Value  float64
}

// Family is one metric: HELP, TYPE and its samples, written together.
type Family struct {
	Name    string
	Help    string
	Kind    Kind
	Samples []Sample
}

// Add appends a sample; labels are name, value pairs ("port", "p1").
func (f *Family) Add(value float64, labels ...string) {
	f.Samples = append(f.Samples, Sample{Labels: pairs(labels), Value: value})
}

// AddHistogram appends the _bucket, _sum and _count samples of h.
func (f *Family) AddHistogram(h HistogramSnapshot, labels ...string) {
	ls := pairs(labels)
	for i, le := range h.Bounds {
		f.Samples = append(f.Samples, Sample{"_bucket", withLabel(ls, "le", formatFloat(le)), float64(h.Counts[i])})
	}
	f.Samples = append(f.Samples,
		Sample{"_bucket", withLabel(ls, "le", "+Inf"), float64(h.Count)},
		Sample{"_sum", ls, h.Sum},
		Sample{"_count", ls, float64(h.Count)})
}

// AddSummary appends a summary without quantiles: its _sum and _count.
func (f *Family) AddSummary(sum float64, count uint64, labels ...string) {
	ls := pairs(labels)
	f.Samples = append(f.Samples, Sample{"_sum", ls, sum}, Sample{"_count", ls, float64(count)})
}

// pairs turns name, value, name, value... into labels; an odd trailing
// name gets an empty value.
func pairs(kv []string) []Label {
	ls := make([]Label, 0, (len(kv)+1)/2)
	for i := 0; i < len(kv); i += 2 {
		l := Label{Name: kv[i]}
		if i+1 < len(kv) {
			l.Value = kv[i+1]
		}
		ls = append(ls, l)
	}
	return ls
}

func withLabel(ls []Label, name, value string) []Label {
	return append(slices.Clip(ls), Label{name, value})
}

// Set is one scrape: families in the order first asked for.
type Set struct {
	families []*Family
	byName   map[string]*Family
}

// Family returns the family called name, creating it with help and kind.
func (s *Set) Family(name, help string, kind Kind) *Family {
	if f, ok := s.byName[name]; ok {
		return f
	}
	if s.byName == nil {
		s.byName = map[string]*Family{}
	}
	f := &Family{Name: name, Help: help, Kind: kind}
	s.byName[name] = f
	s.families = append(s.families, f)
	return f
}

// Counter, Gauge and Histogram are Family with the kind.
func (s *Set) Counter(name, help string) *Family   { return s.Family(name, help, CounterKind) }
func (s *Set) Gauge(name, help string) *Family     { return s.Family(name, help, GaugeKind) }
func (s *Set) Histogram(name, help string) *Family { return s.Family(name, help, HistogramKind) }

// Families returns the families collected so far.
func (s *Set) Families() []*Family { return s.families }

// WriteTo writes every family in the text format. A name that the format
// cannot carry is an error naming it, and nothing is written.
func (s *Set) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	for _, f := range s.families {
		if err := f.check(); err != nil {
			return 0, err
		}
		f.write(&b)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func (f *Family) check() error {
	if !metricName.MatchString(f.Name) {
		return fmt.Errorf("metrics: %q is not a metric name", f.Name)
	}
	for _, s := range f.Samples {
		for _, l := range s.Labels {
			if !labelName.MatchString(l.Name) || strings.HasPrefix(l.Name, "__") {
				return fmt.Errorf("metrics: %s: %q is not a label name", f.Name, l.Name)
			}
		}
	}
	return nil
}

func (f *Family) write(b *strings.Builder) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", f.Name, helpEscaper.Replace(f.Help), f.Name, f.Kind)
	for _, s := range f.Samples {
		b.WriteString(f.Name)
		b.WriteString(s.Suffix)
		if len(s.Labels) > 0 {
			b.WriteByte('{')
			for i, l := range s.Labels {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(b, "%s=\"%s\"", l.Name, valueEscaper.Replace(l.Value))
			}
			b.WriteByte('}')
		}
		b.WriteByte(' ')
		b.WriteString(formatFloat(s.Value))
		b.WriteByte('\n')
	}
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// formatFloat writes integers in full (counters read as counts, not
// 1.2e+07) and everything else in the shortest exact form.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
