package main

import (
	"context"
	"crypto/rand"
	"io"
	"os"

	"github.com/leaseguard/leaseguard/cmd/internal/console"
)

// runConsole is `leaseguard console hash-password`: it reads a password
// (prompting twice on a terminal, else one line from stdin) and prints
// the hash for console.password_hash.
func runConsole(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "hash-password" {
		return usagef("usage: leaseguard console hash-password  (reads the password from the terminal or stdin)")
	}
	return console.HashPasswordCommand(os.Stdin, stderr, stdout, rand.Reader)
}
