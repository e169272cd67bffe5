package serial

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// openPty returns a pseudo-terminal: the master (the far end, a terminal
// emulator) and the slave's path (what the board's UART device is).
func openPty(t *testing.T) (master *os.File, slavePath string) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	path := s.Name()
	s.Close()
	return m, path
}

func TestOpenConfiguresRawTty(t *testing.T) {
	master, path := openPty(t)
	port, err := Open(path, 115200)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	defer port.Close()
	tio, err := Termios(port.(SyscallConner))
	if err != nil {
		t.Fatal(err)
	}
	if !IsRaw(tio) {
		t.Errorf("termios after Open not raw: lflag %#x iflag %#x oflag %#x", tio.Lflag, tio.Iflag, tio.Oflag)
	}

	// Bytes from the terminal arrive untranslated (CR stays CR)...
	if _, err := master.Write([]byte("ab\rc")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(port, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "ab\rc" {
		t.Errorf("port read %q, want %q", got, "ab\rc")
	}
	// ...and are not echoed: the first byte the terminal sees is ours, and
	// LF is not turned into CRLF.
	if _, err := port.Write([]byte("X\n")); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, 2)
	if _, err := io.ReadFull(master, back); err != nil {
		t.Fatal(err)
	}
	if string(back) != "X\n" {
		t.Errorf("terminal read %q, want %q (echo or output processing on)", back, "X\n")
	}
}

// Board profiles name devices without /dev.
func TestOpenNameUnderDev(t *testing.T) {
	_, path := openPty(t)
	port, err := Open(strings.TrimPrefix(path, "/dev/"), 9600)
	if err != nil {
		t.Fatalf("Open(%q): %v", strings.TrimPrefix(path, "/dev/"), err)
	}
	port.Close()
}

func TestMakeRawOnCookedTty(t *testing.T) {
	_, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer s.Close()
	before, err := Termios(s)
	if err != nil {
		t.Fatal(err)
	}
	if IsRaw(before) {
		t.Fatal("a fresh pty slave is already raw; the test proves nothing")
	}
	if err := MakeRaw(s); err != nil {
		t.Fatal(err)
	}
	after, err := Termios(s)
	if err != nil {
		t.Fatal(err)
	}
	if !IsRaw(after) {
		t.Errorf("not raw after MakeRaw: lflag %#x iflag %#x oflag %#x", after.Lflag, after.Iflag, after.Oflag)
	}
}

func TestOpenErrorsNameTheDevice(t *testing.T) {
	_, path := openPty(t)
	tests := []struct {
		name, dev string
		baud      int
		want      string
	}{
		{"missing device", "/dev/leaseguard-no-such-tty", 115200, "/dev/leaseguard-no-such-tty"},
		{"bad baud", path, 12345, "12345 baud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, err := Open(tt.dev, tt.baud)
			if err == nil {
				port.Close()
				t.Fatalf("Open(%s, %d) succeeded", tt.dev, tt.baud)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// A stuck port must be releasable: Close wakes a blocked Read.
func TestCloseUnblocksRead(t *testing.T) {
	_, path := openPty(t)
	port, err := Open(path, 9600)
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error)
	go func() {
		_, err := port.Read(make([]byte, 1))
		readErr <- err
	}()
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; !errors.Is(err, os.ErrClosed) {
		t.Errorf("blocked Read after Close returned %v, want os.ErrClosed", err)
	}
}
