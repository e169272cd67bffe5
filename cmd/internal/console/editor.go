package console

import "slices"

// editEvent is what a key asks of the session beyond editing the line.
type editEvent uint8

const (
	evNone      editEvent = iota
	evEnter               // run the line
	evInterrupt           // Ctrl-C: abandon the line
	evLogout              // Ctrl-D on an empty line
	evHelp                // '?'
	evComplete            // TAB
)

// minRegion is the fewest columns a line is given however long the prompt.
const minRegion = 8

// editor is the line being typed after the prompt: a bounded buffer, a
// cursor and the history, and the terminal output that shows them. The
// whole prompt and line stay on one terminal row: a line wider than the
// terminal scrolls sideways, with '$' marking the hidden parts, as on
// Cisco equipment. It does no I/O: output accumulates in out.
type editor struct {
	prompt string
	width  int // terminal columns
	max    int // longest line accepted
	buf    []byte
	cur    int // cursor, 0..len(buf)
	off    int // first byte of buf on screen
	hist   history
	belled bool // a bell was sent since the last successful edit
	out    []byte
}

func newEditor(prompt string, width, maxLine, histSize int) *editor {
	return &editor{prompt: prompt, width: width, max: maxLine, hist: history{max: histSize}}
}

// start begins a new line: shows the prompt.
func (e *editor) start() {
	e.buf, e.cur, e.off = e.buf[:0], 0, 0
	e.hist.rewind()
	e.out = append(e.out, e.prompt...)
}

func (e *editor) line() string         { return string(e.buf) }
func (e *editor) beforeCursor() string { return string(e.buf[:e.cur]) }

// key applies one key to the line.
func (e *editor) key(k key, ch byte) editEvent {
	switch k {
	case keyEnter:
		return evEnter
	case keyInterrupt:
		return evInterrupt
	case keyHelp:
		return evHelp
	case keyComplete:
		return evComplete
	case keyEOF:
		if len(e.buf) == 0 {
			return evLogout
		}
		e.deleteAt(e.cur)
	case keyInsert:
		e.insert(ch)
	case keyRedraw:
		e.out = append(e.out, "\r\n"...)
		e.redraw()
	default:
		e.edit(k)
	}
	return evNone
}

func (e *editor) edit(k key) {
	switch k {
	case keyBackspace:
		if e.cur > 0 {
			e.deleteAt(e.cur - 1)
		}
	case keyDelete:
		e.deleteAt(e.cur)
	case keyHome:
		e.moveTo(0)
	case keyEnd:
		e.moveTo(len(e.buf))
	case keyLeft:
		e.moveTo(e.cur - 1)
	case keyRight:
		e.moveTo(e.cur + 1)
	case keyWordLeft:
		e.moveTo(e.wordStart())
	case keyWordRight:
		e.moveTo(e.wordEnd())
	case keyKillEnd:
		e.cut(e.cur, len(e.buf))
	case keyKillStart:
		e.cut(0, e.cur)
	case keyKillWord:
		e.cut(e.wordStart(), e.cur)
	case keyUp:
		e.recall(e.hist.prev(string(e.buf)))
	case keyDown:
		e.recall(e.hist.next())
	}
}

func (e *editor) insert(ch byte) {
	if len(e.buf) >= e.max {
		e.bell()
		return
	}
	e.buf = slices.Insert(e.buf, e.cur, ch)
	e.cur++
	if e.scroll() || e.cur != len(e.buf) {
		e.redraw()
		return
	}
	e.out = append(e.out, ch) // typing at the end: plain echo
	e.belled = false
}

func (e *editor) deleteAt(i int) {
	if i < 0 || i >= len(e.buf) {
		e.bell()
		return
	}
	e.buf = slices.Delete(e.buf, i, i+1)
	atEnd := i == len(e.buf) && e.cur == i+1
	if i < e.cur {
		e.cur--
	}
	if e.scroll() || !atEnd {
		e.redraw()
		return
	}
	e.out = append(e.out, "\b \b"...)
	e.belled = false
}

func (e *editor) cut(from, to int) {
	if from >= to {
		return
	}
	e.buf = slices.Delete(e.buf, from, to)
	e.cur = from
	e.scroll()
	e.redraw()
}

func (e *editor) moveTo(i int) {
	if i < 0 || i > len(e.buf) || i == e.cur {
		if i < 0 || i > len(e.buf) {
			e.bell()
		}
		return
	}
	old := e.cur
	e.cur = i
	switch {
	case e.scroll():
		e.redraw()
	case i == old-1:
		e.out = append(e.out, '\b')
	case i == old+1:
		e.out = append(e.out, e.glyph(old))
	default:
		e.redraw()
	}
}

// recall shows a line from history, or rings at either end of it.
func (e *editor) recall(l string, ok bool) {
	if !ok {
		e.bell()
		return
	}
	e.replace(l)
}

// replace swaps the line for l (from history), cursor at the end.
func (e *editor) replace(l string) {
	e.buf = append(e.buf[:0], l...)
	if len(e.buf) > e.max {
		e.buf = e.buf[:e.max]
	}
	e.cur = len(e.buf)
	e.scroll()
	e.redraw()
}

// complete replaces the word before the cursor, from byte start, with w,
// followed by a space if space is set and none follows already.
func (e *editor) complete(start int, w string, space bool) {
	repl := []byte(w)
	if space && (e.cur == len(e.buf) || e.buf[e.cur] != ' ') {
		repl = append(repl, ' ')
	}
	if len(e.buf)-(e.cur-start)+len(repl) > e.max {
		e.bell()
		return
	}
	e.buf = slices.Replace(e.buf, start, e.cur, repl...)
	e.cur = start + len(repl)
	if space && e.cur < len(e.buf) && len(repl) == len(w) {
		e.cur++ // step over the space that was already there
	}
	e.scroll()
	e.redraw()
}

func (e *editor) wordStart() int {
	i := e.cur
	for i > 0 && e.buf[i-1] == ' ' {
		i--
	}
	for i > 0 && e.buf[i-1] != ' ' {
		i--
	}
	return i
}

func (e *editor) wordEnd() int {
	i := e.cur
	for i < len(e.buf) && e.buf[i] == ' ' {
		i++
	}
	for i < len(e.buf) && e.buf[i] != ' ' {
		i++
	}
	return i
}

func (e *editor) bell() {
	if !e.belled {
		e.out = append(e.out, '\a')
		e.belled = true
	}
}

// region is the number of columns the line may use.
func (e *editor) region() int {
	return max(e.width-len(e.prompt)-1, minRegion)
}

// scroll moves the visible window so the cursor is on it, and reports
// whether it moved. It moves by a quarter or more of the region, so typing
// at the end of a long line redraws it only every few characters (a full
// redraw of 80 columns takes 80 ms at 9600 baud).
func (e *editor) scroll() bool {
	r, old := e.region(), e.off
	switch {
	case len(e.buf) < r:
		e.off = 0
	case e.cur < e.off+1 && e.off > 0:
		e.off = max(0, e.cur-r/4)
	case e.cur > e.off+r-1:
		e.off = e.cur - 3*r/4 // room to type on before the next scroll
	}
	return e.off != old
}

// glyph is what the screen shows for buf[i]: '$' where the line continues
// out of sight.
func (e *editor) glyph(i int) byte {
	r := e.region()
	if (i == e.off && e.off > 0) || (i == e.off+r-1 && len(e.buf) > e.off+r) {
		return '$'
	}
	return e.buf[i]
}

// redraw rewrites the prompt and the visible part of the line, and puts
// the cursor back.
func (e *editor) redraw() {
	e.out = append(e.out, '\r')
	e.out = append(e.out, e.prompt...)
	end := min(len(e.buf), e.off+e.region())
	for i := e.off; i < end; i++ {
		e.out = append(e.out, e.glyph(i))
	}
	e.out = append(e.out, "\x1b[K"...)
	for i := end; i > e.cur; i-- {
		e.out = append(e.out, '\b')
	}
	e.belled = false
}

// column is the screen column of buf[i] after the prompt, or -1 when it is
// scrolled out of sight.
func (e *editor) column(i int) int {
	if i < e.off || i >= e.off+e.region() {
		return -1
	}
	return len(e.prompt) + i - e.off
}

// history is the per-session list of lines run, bounded, with the line
// being edited kept aside while browsing.
type history struct {
	lines []string
	max   int
	pos   int // index being shown; len(lines) when not browsing
	draft string
}

func (h *history) add(l string) {
	if l != "" && (len(h.lines) == 0 || h.lines[len(h.lines)-1] != l) && h.max > 0 {
		if len(h.lines) == h.max {
			h.lines = slices.Delete(h.lines, 0, 1)
		}
		h.lines = append(h.lines, l)
	}
	h.rewind()
}

func (h *history) rewind() { h.pos, h.draft = len(h.lines), "" }

func (h *history) prev(current string) (string, bool) {
	if h.pos == 0 {
		return "", false
	}
	if h.pos == len(h.lines) {
		h.draft = current
	}
	h.pos--
	return h.lines[h.pos], true
}

func (h *history) next() (string, bool) {
	if h.pos >= len(h.lines) {
		return "", false
	}
	h.pos++
	if h.pos == len(h.lines) {
		return h.draft, true
	}
	return h.lines[h.pos], true
}
