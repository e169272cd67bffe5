package console

// morePrompt is shown when a page is full; moreErase wipes it without
// relying on terminal escape sequences.
const (
	morePrompt = " --More-- "
	moreErase  = "\r          \r"
)

// pager turns a command's output into terminal output: LF becomes CRLF,
// control and non-ASCII bytes become '.', tabs become spaces, and after a
// screenful (counting lines that wrap at the terminal width) it stops for
// --More--. It does no I/O.
type pager struct {
	page    int // rows before --More--; 0 = never stop
	width   int // terminal columns; 0 = no wrap accounting
	rows    int // rows completed on this page
	col     int
	waiting bool // --More-- is showing
}

// reset starts a command's output with a terminal length (rows on the
// screen, 0 for no paging): one row is kept for --More--.
func (pg *pager) reset(length, width int) {
	*pg = pager{page: max(length-1, 0), width: width}
	if length == 1 {
		pg.page = 1
	}
}

// take appends to dst the terminal form of as much of p as fits on the
// page, and returns it with the number of bytes of p used and whether the
// page is full.
func (pg *pager) take(dst, p []byte) ([]byte, int, bool) {
	for i, b := range p {
		if pg.full() {
			return dst, i, true
		}
		switch {
		case b == '\n':
			dst = append(dst, '\r', '\n')
			pg.rows++
			pg.col = 0
		case b == '\r':
			// dropped: every '\n' becomes CRLF
		case b == '\t':
			for n := 8 - pg.col%8; n > 0; n-- {
				if dst = pg.wrap(dst); pg.full() {
					return dst, i, true // the tab starts over on the next page
				}
				dst = append(dst, ' ')
				pg.col++
			}
		default:
			if dst = pg.wrap(dst); pg.full() {
				return dst, i, true
			}
			dst = append(dst, printable(b))
			pg.col++
		}
	}
	return dst, len(p), false
}

// wrap accounts for the terminal wrapping a full row, and ends the row
// explicitly when that fills the page, so --More-- shows on its own row.
func (pg *pager) wrap(dst []byte) []byte {
	if pg.width <= 0 || pg.col < pg.width {
		return dst
	}
	pg.rows++
	pg.col = 0
	if pg.full() {
		dst = append(dst, '\r', '\n')
	}
	return dst
}

func (pg *pager) full() bool { return pg.page > 0 && pg.rows >= pg.page }

// nextPage and nextLine answer --More--: space and Enter.
func (pg *pager) nextPage() { pg.rows, pg.waiting = 0, false }
func (pg *pager) nextLine() { pg.rows, pg.waiting = pg.page-1, false }

// endLine returns what ends a partly written last row, so the prompt
// starts on a fresh one.
func (pg *pager) endLine() string {
	if pg.col > 0 {
		pg.col = 0
		return "\r\n"
	}
	return ""
}

// printable keeps what a terminal shows as itself: handler output and
// traces may carry hostnames and identifiers from the network, which must
// not reach the operator's terminal as escape sequences.
func printable(b byte) byte {
	if b < 0x20 || b > 0x7e {
		return '.'
	}
	return b
}

// sanitize is printable over a one-line message.
func sanitize(s string) []byte {
	out := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = printable(s[i])
	}
	return out
}
