package console

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pageAll runs output through a pager, answering every --More-- with
// answer ("page" or "line"), and returns the terminal output with the
// stops marked "|MORE|".
func pageAll(length, width int, chunks []string, answer string) string {
	var pg pager
	pg.reset(length, width)
	var out []byte
	for _, c := range chunks {
		p := []byte(c)
		for len(p) > 0 {
			var n int
			var full bool
			out, n, full = pg.take(out, p)
			p = p[n:]
			if full {
				out = append(out, "|MORE|"...)
				if answer == "page" {
					pg.nextPage()
				} else {
					pg.nextLine()
				}
			}
		}
	}
	return string(out)
}

func TestPager(t *testing.T) {
	lines := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.WriteString("l" + string(rune('0'+i%10)) + "\n")
		}
		return b.String()
	}
	tests := []struct {
		name          string
		length, width int
		chunks        []string
		answer        string
		want          string
	}{
		{"crlf", 24, 80, []string{"a\nb\r\nc"}, "", "a\r\nb\r\nc"},
		{"controls and escapes neutralised", 24, 80, []string{"x\x1b[2J\x07\xffy\n"}, "", "x.[2J..y\r\n"},
		{"tab expands", 24, 80, []string{"ab\tc\n"}, "", "ab      c\r\n"},
		{"no paging", 0, 80, []string{lines(5)}, "", "l1\r\nl2\r\nl3\r\nl4\r\nl5\r\n"},
		{"exactly a page", 4, 80, []string{lines(3)}, "", "l1\r\nl2\r\nl3\r\n"},
		{"stops each page", 4, 80, []string{lines(7)}, "page", "l1\r\nl2\r\nl3\r\n|MORE|l4\r\nl5\r\nl6\r\n|MORE|l7\r\n"},
		{"enter: one line", 4, 80, []string{lines(5)}, "line", "l1\r\nl2\r\nl3\r\n|MORE|l4\r\n|MORE|l5\r\n"},
		{"across chunks", 3, 80, []string{"a\nb", "\nc\n"}, "page", "a\r\nb\r\n|MORE|c\r\n"},
		{"wrapped rows count", 3, 4, []string{"abcdefgh\nz\n"}, "page", "abcdefgh\r\n|MORE|z\r\n"},
		{"wrap fills the page", 3, 4, []string{"abcdefghij\n"}, "page", "abcdefgh\r\n|MORE|ij\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pageAll(tt.length, tt.width, tt.chunks, tt.answer)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
