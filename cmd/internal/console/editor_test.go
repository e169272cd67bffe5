package console

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// typeKeys feeds keys to a fresh editor through the key decoder and a
// screen, and returns the events other than evNone.
func typeKeys(e *editor, scr *screen, keys string) []editEvent {
	var dec keyDecoder
	var evs []editEvent
	e.start()
	for i := 0; i < len(keys); i++ {
		if ev := e.key(dec.decode(keys[i])); ev != evNone {
			evs = append(evs, ev)
		}
		scr.Write(e.out)
		e.out = e.out[:0]
	}
	return evs
}

// checkScreen verifies that what the incremental output left on screen is
// what a full redraw shows, on a single row.
func checkScreen(t *testing.T, e *editor, scr *screen) {
	t.Helper()
	fresh := newScreen(e.width)
	e.redraw()
	fresh.Write(e.out)
	e.out = e.out[:0]
	if scr.row != 0 {
		t.Errorf("the line wrapped onto row %d", scr.row)
	}
	if got, want := scr.line(0), fresh.line(0); got != want {
		t.Errorf("screen %q, a redraw shows %q", got, want)
	}
	if scr.col != fresh.col {
		t.Errorf("cursor at column %d, a redraw puts it at %d", scr.col, fresh.col)
	}
}

func TestEditorKeys(t *testing.T) {
	tests := []struct {
		name, keys string
		line       string
		cur        int
	}{
		{"type", "abc", "abc", 3},
		{"ctrl-b insert", "abc\x02\x02X", "aXbc", 2},
		{"ctrl-a insert", "abc\x01X", "Xabc", 1},
		{"ctrl-e", "abc\x01\x05X", "abcX", 4},
		{"ctrl-f", "abc\x01\x06X", "aXbc", 2},
		{"DEL", "abc\x7f", "ab", 2},
		{"BS", "abc\x08", "ab", 2},
		{"DEL in the middle", "abc\x02\x7f", "ac", 1},
		{"ctrl-d deletes under cursor", "abc\x02\x02\x04", "ac", 1},
		{"ctrl-w", "show ports\x17", "show ", 5},
		{"ctrl-w spaces", "show ports  \x17", "show ", 5},
		{"ctrl-k", "hello world\x01\x06\x06\x0b", "he", 2},
		{"ctrl-u", "hello world\x02\x02\x15", "ld", 0},
		{"left arrows", "abc\x1b[D\x1b[DX", "aXbc", 2},
		{"ss3 arrows", "abc\x1bOD\x1bODX\x1bOC", "aXbc", 3},
		{"home end keys", "abc\x1b[HX\x1b[FY", "XabcY", 5},
		{"vt home end", "abc\x1b[1~X\x1b[4~Y", "XabcY", 5},
		{"delete key", "abc\x1b[H\x1b[3~", "bc", 0},
		{"word moves", "show bindings ip\x1bb\x1bbX\x1bfY", "show XbindingsY ip", 15},
		{"overlong escape", "a\x1b[123456789012345678Zb", "ab", 2},
		{"modified arrow ignored", "ab\x1b[1;5Dc", "abc", 3},
		{"high bytes ignored", "a\xff\xfe\x80\x9bb", "ab", 2},
		{"other controls ignored", "a\x00\x07\x0f\x1cb", "ab", 2},
		{"esc then letter", "a\x1bxb", "ab", 2},
		{"left at start", "\x02\x02a", "a", 1},
		{"bounded", strings.Repeat("x", 40), strings.Repeat("x", 32), 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEditor("r> ", 80, 32, 8)
			scr := newScreen(80)
			if evs := typeKeys(e, scr, tt.keys); len(evs) > 0 {
				t.Errorf("events %v", evs)
			}
			if e.line() != tt.line || e.cur != tt.cur {
				t.Errorf("line %q cursor %d, want %q cursor %d", e.line(), e.cur, tt.line, tt.cur)
			}
			checkScreen(t, e, scr)
		})
	}
}

func TestEditorEvents(t *testing.T) {
	tests := []struct {
		keys string
		want []editEvent
	}{
		{"ab\r", []editEvent{evEnter}},
		{"ab\r\n", []editEvent{evEnter}},
		{"ab\n", []editEvent{evEnter}},
		{"\r\r", []editEvent{evEnter, evEnter}},
		{"ab\x03", []editEvent{evInterrupt}},
		{"\x04", []editEvent{evLogout}},
		{"a\x04", nil}, // not on an empty line
		{"sh?", []editEvent{evHelp}},
		{"sh\t", []editEvent{evComplete}},
		{"\x1b\r", []editEvent{evEnter}},
	}
	for _, tt := range tests {
		e := newEditor("> ", 80, 64, 8)
		if diff := cmp.Diff(tt.want, typeKeys(e, newScreen(80), tt.keys)); diff != "" {
			t.Errorf("events of %q (-want +got):\n%s", tt.keys, diff)
		}
	}
}

// A line wider than the terminal scrolls sideways, '$' marking the hidden
// parts, and the whole stays on one row.
func TestEditorScrollsLongLines(t *testing.T) {
	long := "leasequery client-id 01:00:11:22:33:44:55:66:77:88:99"
	tests := []struct {
		name, keys string
		screen     string
	}{
		{"typed", long, "r> $:66:77:88:99"},
		{"home", long + "\x01", "r> leasequery clie$"},
		{"home then end", long + "\x01\x05", "r> $66:77:88:99"},
		{"right across the edge", long + "\x01" + strings.Repeat("\x06", 18), "r> $query client-i$"},
		{"back to the start", long + "\x01" + strings.Repeat("\x06", 18) + strings.Repeat("\x02", 15), "r> leasequery clie$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEditor("r> ", 20, 512, 8)
			scr := newScreen(20)
			typeKeys(e, scr, tt.keys)
			if e.line() != long {
				t.Fatalf("line %q", e.line())
			}
			if got := scr.line(0); got != tt.screen {
				t.Errorf("screen %q, want %q", got, tt.screen)
			}
			checkScreen(t, e, scr)
		})
	}
}

func TestHistory(t *testing.T) {
	e := newEditor("> ", 80, 64, 3)
	for _, l := range []string{"one", "two", "two", "", "three", "four"} {
		e.hist.add(l)
	}
	// Bounded to 3, no repeats, no empty lines.
	if diff := cmp.Diff([]string{"two", "three", "four"}, e.hist.lines); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	tests := []struct {
		keys, line string
	}{
		{"\x1b[A", "four"},
		{"\x1b[A\x1b[A", "three"},
		{"\x1b[A\x1b[A\x1b[A\x1b[A", "two"}, // stops at the oldest
		{"draft\x1b[A\x1b[B", "draft"},      // back down to the line being typed
		{"\x10\x10\x0e", "four"},            // Ctrl-P, Ctrl-P, Ctrl-N
		{"\x1b[A!", "four!"},
	}
	for _, tt := range tests {
		scr := newScreen(80)
		typeKeys(e, scr, tt.keys)
		if e.line() != tt.line {
			t.Errorf("after %q line %q, want %q", tt.keys, e.line(), tt.line)
		}
		checkScreen(t, e, scr)
	}
}
