//go:build !purego

package aescbc

import "golang.org/x/sys/cpu"

// useAsm selects the AES-NI path for Ciphers made from now on; tests
// clear it to check the library path on the same machine.
var useAsm = cpu.X86.HasAES
