package console

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// HashPasswordCommand is the body of `leaseguard console hash-password`: it
// reads a password from in and writes its hash, for the config's
// console.password_hash, to out. When in is a terminal it prompts on
// prompt, turns echo off and asks twice; otherwise it reads one line
// (`echo "$pw" | leaseguard console hash-password`). rnd is the salt's
// source: crypto/rand.Reader.
func HashPasswordCommand(in io.Reader, prompt, out io.Writer, rnd io.Reader) error {
	restore, isTerm := echoOff(in)
	defer restore()
	r := bufio.NewReader(in)
	pw, err := readPassword(r, prompt, isTerm, "Password: ")
	if err != nil {
		return err
	}
	if isTerm {
		again, err := readPassword(r, prompt, isTerm, "Again: ")
		if err != nil {
			return err
		}
		if again != pw {
			return errors.New("hash-password: the passwords differ")
		}
	}
	h, err := HashPassword(pw, rnd, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, h)
	return err
}

func readPassword(r *bufio.Reader, prompt io.Writer, isTerm bool, ask string) (string, error) {
	if isTerm {
		fmt.Fprint(prompt, ask)
		defer fmt.Fprintln(prompt)
	}
	line, err := r.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("hash-password: reading the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// echoOff turns off echo on in if it is a terminal, and returns how to
// turn it back on.
func echoOff(in io.Reader) (restore func(), isTerm bool) {
	f, ok := in.(*os.File)
	if !ok {
		return func() {}, false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return func() {}, false
	}
	var old *unix.Termios
	rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			return
		}
		old = t
		quiet := *t
		quiet.Lflag &^= unix.ECHO
		unix.IoctlSetTermios(int(fd), unix.TCSETS, &quiet)
	})
	if old == nil {
		return func() {}, false
	}
	return func() {
		rc.Control(func(fd uintptr) { unix.IoctlSetTermios(int(fd), unix.TCSETS, old) })
	}, true
}
