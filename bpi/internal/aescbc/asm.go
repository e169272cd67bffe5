//go:build (amd64 || arm64) && !purego

package aescbc

// The assembly: asm_amd64.s (AES-NI), asm_arm64.s (ARMv8 cryptography
// extensions). useAsm (cpu_*.go) says whether this CPU has them.

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
