package console

// key is what an input byte, or an escape sequence, means.
type key uint8

const (
	keyNone      key = iota
	keyInsert        // a printable character
	keyEnter         // CR, LF or CRLF
	keyBackspace     // BS or DEL
	keyDelete        // ESC [ 3 ~: the character under the cursor
	keyHome          // Ctrl-A, Home
	keyEnd           // Ctrl-E, End
	keyLeft          // Ctrl-B, left arrow
	keyRight         // Ctrl-F, right arrow
	keyWordLeft      // ESC b
	keyWordRight     // ESC f
	keyUp            // Ctrl-P, up arrow
	keyDown          // Ctrl-N, down arrow
	keyKillEnd       // Ctrl-K
	keyKillStart     // Ctrl-U
	keyKillWord      // Ctrl-W
	keyInterrupt     // Ctrl-C
	keyEOF           // Ctrl-D
	keyHelp          // ?
	keyComplete      // TAB
	keyRedraw        // Ctrl-L
)

var controlKeys = [32]key{
	0x01: keyHome, 0x02: keyLeft, 0x03: keyInterrupt, 0x04: keyEOF,
	0x05: keyEnd, 0x06: keyRight, 0x08: keyBackspace, 0x09: keyComplete,
	0x0b: keyKillEnd, 0x0c: keyRedraw, 0x0e: keyDown, 0x10: keyUp,
	0x15: keyKillStart, 0x17: keyKillWord,
}

type decodeState uint8

const (
	ground decodeState = iota
	afterEsc
	inCSI // ESC [ parameters... final
	inSS3 // ESC O final (cursor keys in application mode)
)

// maxCSIParams bounds an escape sequence's parameters; longer ones are
// noise and are dropped.
const maxCSIParams = 8

// keyDecoder turns the byte stream from a terminal into keys. Anything it
// does not know (other control bytes, bytes above 0x7e, unknown or
// overlong escape sequences) decodes to keyNone.
type keyDecoder struct {
	state  decodeState
	params [maxCSIParams]byte
	n      int // parameter bytes seen, maxCSIParams+1 once too many
	lastCR bool
}

// decode returns the key b completes, if any, and b itself.
func (d *keyDecoder) decode(b byte) (key, byte) {
	switch d.state {
	case afterEsc:
		return d.afterEsc(b), b
	case inCSI:
		return d.csi(b), b
	case inSS3:
		d.state = ground
		if b < 0x20 {
			return d.decode(b)
		}
		return cursorKey(b), b
	}
	cr := d.lastCR
	d.lastCR = b == '\r'
	switch {
	case b == '\r':
		return keyEnter, b
	case b == '\n' || b == 0:
		if cr { // CRLF or CR NUL: one Enter
			return keyNone, b
		}
		if b == '\n' {
			return keyEnter, b
		}
		return keyNone, b
	case b == 0x1b:
		d.state = afterEsc
		return keyNone, b
	case b == '?':
		return keyHelp, b
	case b >= 0x20 && b < 0x7f:
		return keyInsert, b
	case b == 0x7f:
		return keyBackspace, b
	case b < 0x20:
		return controlKeys[b], b
	}
	return keyNone, b
}

func (d *keyDecoder) afterEsc(b byte) key {
	d.state = ground
	switch b {
	case '[':
		d.state, d.n = inCSI, 0
	case 'O':
		d.state = inSS3
	case 'b', 'B':
		return keyWordLeft
	case 'f', 'F':
		return keyWordRight
	default:
		if b < 0x20 && b != 0x1b { // ESC then Enter: the Enter counts
			k, _ := d.decode(b)
			return k
		}
	}
	return keyNone
}

func (d *keyDecoder) csi(b byte) key {
	switch {
	case b >= 0x30 && b <= 0x3f: // parameter bytes; too many spoil the sequence
		if d.n < maxCSIParams {
			d.params[d.n] = b
		}
		d.n = min(d.n+1, maxCSIParams+1)
		return keyNone
	case b >= 0x20 && b <= 0x2f: // intermediate bytes
		return keyNone
	case b >= 0x40 && b <= 0x7e: // final byte
		d.state = ground
		switch {
		case d.n > maxCSIParams:
			return keyNone
		case b == '~':
			return tildeKey(string(d.params[:d.n]))
		case d.n > 0:
			return keyNone // modified cursor keys (ESC [ 1 ; 5 C) are not ours
		}
		return cursorKey(b)
	}
	d.state = ground
	if b < 0x20 {
		k, _ := d.decode(b)
		return k
	}
	return keyNone
}

func cursorKey(b byte) key {
	switch b {
	case 'A':
		return keyUp
	case 'B':
		return keyDown
	case 'C':
		return keyRight
	case 'D':
		return keyLeft
	case 'H':
		return keyHome
	case 'F':
		return keyEnd
	}
	return keyNone
}

func tildeKey(params string) key {
	switch params {
	case "1", "7":
		return keyHome
	case "4", "8":
		return keyEnd
	case "3":
		return keyDelete
	}
	return keyNone
}
