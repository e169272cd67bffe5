//go:build !purego

package aescbc

import "golang.org/x/sys/cpu"

// useAsm selects the ARMv8 AES path for Ciphers made from now on; tests
// clear it to check the library path on the same machine.
var useAsm = cpu.ARM64.HasAES
