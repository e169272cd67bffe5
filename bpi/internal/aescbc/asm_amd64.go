//go:build amd64 && !purego

package aescbc

import "golang.org/x/sys/cpu"

// useAsm selects the AES-NI path for Ciphers made from now on; tests
// clear it to check the library path on the same machine.
var useAsm = cpu.X86.HasAES

// encryptCBCAsm encrypts b (whole blocks, at least one) in place from iv.
//
//go:noescape
func encryptCBCAsm(xk *schedule, iv *[BlockSize]byte, b []byte)

// decryptCBCAsm decrypts b (whole blocks, at least one) in place from iv
// with the equivalent-inverse-cipher schedule xk.
//
//go:noescape
func decryptCBCAsm(xk *schedule, iv *[BlockSize]byte, b []byte)

// encryptCBCPairAsm encrypts x under xkx from ivx and y under xky from
// ivy, equal lengths (whole blocks, at least one), the chains interleaved.
//
//go:noescape
func encryptCBCPairAsm(xkx, xky *schedule, ivx, ivy *[BlockSize]byte, x, y []byte)

// encryptBlockAsm encrypts one block of src into dst.
//
//go:noescape
func encryptBlockAsm(xk *schedule, dst, src []byte)
