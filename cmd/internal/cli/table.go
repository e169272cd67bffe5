package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// table writes rows under a header, columns as wide as their widest
// cell, two spaces apart, a line of dashes under the header, in the
// habit of network equipment.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) error {
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	dashes := make([]string, len(widths))
	for i, n := range widths {
		dashes[i] = strings.Repeat("-", n)
	}
	for _, r := range append([][]string{t.header, dashes}, t.rows...) {
		if err := writeRow(w, r, widths); err != nil {
			return err
		}
	}
	return nil
}

func writeRow(w io.Writer, cells []string, widths []int) error {
	var b strings.Builder
	for i, c := range cells {
		if i == len(cells)-1 {
			b.WriteString(c)
			break
		}
		b.WriteString(c)
		b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
	}
	_, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	return err
}

// pairs writes "  label   value" lines aligned on the values.
type pairs struct{ rows [][2]string }

func (p *pairs) add(label string, format string, args ...any) {
	p.rows = append(p.rows, [2]string{label, fmt.Sprintf(format, args...)})
}

func (p *pairs) write(w io.Writer, indent string) error {
	return p.writeWidth(w, indent, p.width())
}

func (p *pairs) width() int {
	width := 0
	for _, r := range p.rows {
		width = max(width, len(r[0]))
	}
	return width
}

func (p *pairs) writeWidth(w io.Writer, indent string, width int) error {
	for _, r := range p.rows {
		if _, err := fmt.Fprintf(w, "%s%-*s  %s\n", indent, width, r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

// left renders how long until t, compactly: "59m59s", "3h04m", "2d01h".
func left(t, now time.Time) string {
	switch {
	case t.IsZero():
		return "-"
	case t.Year() >= 2100:
		return "infinite"
	case !t.After(now):
		return "expired"
	}
	return compact(t.Sub(now))
}

// ago renders how long since t.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if t.After(now) {
		return "0s"
	}
	return compact(now.Sub(t))
}

func compact(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
