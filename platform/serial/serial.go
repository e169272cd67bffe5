// Package serial opens the line card's console UART and keeps it open: it
// reopens the device with backoff when it disappears or fails, so that a
// disconnected or broken console never affects the rest of the agent.
//
// Open configures the line with github.com/tarm/serial (baud rate, 8N1,
// no flow control) and hands back a pollable file on the same tty, in raw
// mode, whose Close interrupts pending reads and writes. Tests substitute
// an Opener over a pseudo-terminal.
package serial

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	tarm "github.com/tarm/serial"
	"golang.org/x/sys/unix"
)

// Opener opens a console device at a baud rate. Open is the real one; tests
// pass a function returning one end of a pseudo-terminal.
type Opener func(dev string, baud int) (io.ReadWriteCloser, error)

var _ Opener = Open

// Open opens dev at baud, 8N1, in raw mode. dev is a path (/dev/ttyS1) or
// a name under /dev (ttyS1, as board profiles give it).
//
// tarm/serial sets the line parameters, but its file is switched to
// blocking mode (it calls Fd), so closing it does not wake a goroutine
// blocked in Read, and a stuck port could never be released. Open therefore
// reopens the same tty through os.OpenFile, which registers it with the
// runtime poller, and closes tarm's descriptor: termios settings belong to
// the tty, not to a descriptor, and survive since the tty stays open.
func Open(dev string, baud int) (io.ReadWriteCloser, error) {
	if !filepath.IsAbs(dev) {
		dev = filepath.Join("/dev", dev)
	}
	configured, err := tarm.OpenPort(&tarm.Config{Name: dev, Baud: baud})
	if err != nil {
		return nil, fmt.Errorf("serial %s at %d baud: %w", dev, baud, err)
	}
	defer configured.Close()
	f, err := os.OpenFile(dev, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("serial %s: reopen: %w", dev, err)
	}
	if err := MakeRaw(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("serial %s: %w", dev, err)
	}
	return f, nil
}

// SyscallConner is a file whose descriptor can be used without switching it
// to blocking mode (an *os.File).
type SyscallConner interface {
	SyscallConn() (syscall.RawConn, error)
}

// rawLflag, rawIflag and rawOflag are the termios bits a console must not
// have: echo and canonical input (guest ttys echo by default), signals from
// Ctrl-C/Ctrl-Z, CR/NL translation, software flow control (Ctrl-S would
// freeze the console) and output post-processing (the console writes CRLF
// itself).
const (
	rawLflag = unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	rawIflag = unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR |
		unix.IGNCR | unix.ICRNL | unix.IXON
	rawOflag = unix.OPOST
)

// MakeRaw puts the tty behind f in raw mode (as cfmakeraw does, keeping the
// character size and speed) with reads returning as soon as one byte is
// there. It leaves an already raw tty untouched. tarm/serial on Linux
// already clears these flags; MakeRaw checks rather than trusts it.
func MakeRaw(f SyscallConner) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("raw mode: %w", err)
	}
	var opErr error
	err = rc.Control(func(fd uintptr) { opErr = makeRawFd(int(fd)) })
	return errors.Join(err, opErr)
}

func makeRawFd(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("raw mode: get termios: %w", err)
	}
	if IsRaw(t) {
		return nil
	}
	t.Lflag &^= rawLflag
	t.Iflag &^= rawIflag
	t.Oflag &^= rawOflag
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("raw mode: set termios: %w", err)
	}
	return nil
}

// IsRaw reports whether termios t is in the raw mode MakeRaw sets.
func IsRaw(t *unix.Termios) bool {
	return t.Lflag&rawLflag == 0 && t.Iflag&rawIflag == 0 && t.Oflag&rawOflag == 0 &&
		t.Cc[unix.VMIN] == 1 && t.Cc[unix.VTIME] == 0
}

// Termios reads the terminal settings of the tty behind f (for tests and
// diagnostics).
func Termios(f SyscallConner) (*unix.Termios, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var t *unix.Termios
	var opErr error
	err = rc.Control(func(fd uintptr) { t, opErr = unix.IoctlGetTermios(int(fd), unix.TCGETS) })
	if err = errors.Join(err, opErr); err != nil {
		return nil, fmt.Errorf("get termios: %w", err)
	}
	return t, nil
}
