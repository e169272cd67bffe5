package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Parse reads the text format back into families. It checks what a
// scraper relies on: a TYPE (when given) before the family's samples, each
// family's samples together, names and label syntax, values, and for
// histograms cumulative buckets ending in +Inf equal to _count. Errors
// name the line.
func Parse(r io.Reader) ([]*Family, error) {
	p := parser{byName: map[string]*Family{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if err := p.line(sc.Text()); err != nil {
			return nil, fmt.Errorf("metrics: line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	for _, f := range p.families {
		if err := checkHistogram(f); err != nil {
			return nil, fmt.Errorf("metrics: %s: %w", f.Name, err)
		}
	}
	return p.families, nil
}

type parser struct {
	families []*Family
	byName   map[string]*Family
	current  *Family
}

func (p *parser) line(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return nil
	case strings.HasPrefix(s, "# HELP ") || strings.HasPrefix(s, "# TYPE "):
		return p.meta(s[2:6], s[7:])
	case strings.HasPrefix(s, "#"):
		return nil
	}
	return p.sample(s)
}

// family returns the family name, starting it; a family whose samples
// were interrupted by another's may not start again.
func (p *parser) family(name string) (*Family, error) {
	if p.current != nil && p.current.Name == name {
		return p.current, nil
	}
	if _, seen := p.byName[name]; seen {
		return nil, fmt.Errorf("family %s continues after another family began", name)
	}
	f := &Family{Name: name, Kind: UntypedKind}
	p.byName[name] = f
	p.families = append(p.families, f)
	p.current = f
	return f, nil
}

func (p *parser) meta(what, rest string) error {
	name, arg, _ := strings.Cut(rest, " ")
	if !metricName.MatchString(name) {
		return fmt.Errorf("%q is not a metric name", name)
	}
	f, err := p.family(name)
	if err != nil {
		return err
	}
	if what == "HELP" {
		f.Help = unescape(arg, false)
		return nil
	}
	switch k := Kind(arg); k {
	case CounterKind, GaugeKind, HistogramKind, SummaryKind, UntypedKind:
		if len(f.Samples) > 0 {
			return fmt.Errorf("TYPE of %s after its samples", name)
		}
		f.Kind = k
		return nil
	}
	return fmt.Errorf("%q is not a metric type", arg)
}

func (p *parser) sample(s string) error {
	end := strings.IndexAny(s, "{ ")
	if end < 0 {
		return fmt.Errorf("sample %q has no value", s)
	}
	name, rest := s[:end], s[end:]
	if !metricName.MatchString(name) {
		return fmt.Errorf("%q is not a metric name", name)
	}
	var labels []Label
	if strings.HasPrefix(rest, "{") {
		var err error
		if labels, rest, err = parseLabels(rest[1:]); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return fmt.Errorf("%s: want a value and an optional timestamp, got %q", name, rest)
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	base, suffix := p.baseName(name)
	f, err := p.family(base)
	if err != nil {
		return err
	}
	f.Samples = append(f.Samples, Sample{Suffix: suffix, Labels: labels, Value: v})
	return nil
}

// baseName strips _bucket, _sum and _count from samples of the current
// histogram or summary.
func (p *parser) baseName(name string) (string, string) {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		if f, known := p.byName[base]; known && (f.Kind == HistogramKind || (f.Kind == SummaryKind && suf != "_bucket")) {
			return base, suf
		}
	}
	return name, ""
}

func parseLabels(s string) ([]Label, string, error) {
	var ls []Label
	for {
		s = strings.TrimLeft(s, " ")
		if strings.HasPrefix(s, "}") {
			return ls, s[1:], nil
		}
		name, rest, ok := strings.Cut(s, "=")
		name = strings.TrimSpace(name)
		if !ok || !labelName.MatchString(name) {
			return nil, "", fmt.Errorf("bad label name in %q", s)
		}
		if !strings.HasPrefix(rest, `"`) {
			return nil, "", fmt.Errorf("label %s: value not quoted", name)
		}
		val, after, err := quoted(rest[1:])
		if err != nil {
			return nil, "", fmt.Errorf("label %s: %w", name, err)
		}
		ls = append(ls, Label{name, val})
		s = strings.TrimLeft(after, " ")
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		} else if !strings.HasPrefix(s, "}") {
			return nil, "", fmt.Errorf("label %s: want ',' or '}' after the value", name)
		}
	}
}

// quoted reads a label value up to its closing quote.
func quoted(s string) (string, string, error) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return unescape(s[:i], true), s[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("unterminated value")
}

func unescape(s string, quotes bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch {
		case s[i] == 'n':
			b.WriteByte('\n')
		case s[i] == '\\', s[i] == '"' && quotes:
			b.WriteByte(s[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a value", s)
	}
	return v, nil
}

// checkHistogram checks, for each label set of a histogram, that buckets
// are cumulative and that the +Inf bucket equals _count.
func checkHistogram(f *Family) error {
	if f.Kind != HistogramKind {
		return nil
	}
	type series struct {
		last, inf, count float64
		hasInf, hasCount bool
	}
	all := map[string]*series{}
	for _, s := range f.Samples {
		key, le := seriesKey(s.Labels)
		sr := all[key]
		if sr == nil {
			sr = &series{}
			all[key] = sr
		}
		switch s.Suffix {
		case "_bucket":
			if s.Value < sr.last {
				return fmt.Errorf("bucket le=%q of {%s}: %v is less than the bucket before", le, key, s.Value)
			}
			sr.last = s.Value
			if le == "+Inf" {
				sr.inf, sr.hasInf = s.Value, true
			}
		case "_count":
			sr.count, sr.hasCount = s.Value, true
		}
	}
	for key, sr := range all {
		if !sr.hasInf || !sr.hasCount || sr.inf != sr.count {
			return fmt.Errorf("{%s}: the +Inf bucket and _count must be present and equal", key)
		}
	}
	return nil
}

func seriesKey(ls []Label) (key, le string) {
	var parts []string
	for _, l := range ls {
		if l.Name == "le" {
			le = l.Value
			continue
		}
		parts = append(parts, l.Name+"="+strconv.Quote(l.Value))
	}
	return strings.Join(parts, ","), le
}
