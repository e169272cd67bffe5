//go:build !amd64 || purego

package aescbc

// useAsm is false: there is no assembly for this architecture (arm64 has
// the ARMv8 crypto extensions, not used yet), so every Cipher takes the
// crypto/aes and crypto/cipher path.
var useAsm = false

func encryptCBCAsm(*schedule, *[BlockSize]byte, []byte) { panic("aescbc: no assembly") }

func decryptCBCAsm(*schedule, *[BlockSize]byte, []byte) { panic("aescbc: no assembly") }

func encryptCBCPairAsm(_, _ *schedule, _, _ *[BlockSize]byte, _, _ []byte) {
	panic("aescbc: no assembly")
}

func encryptBlockAsm(*schedule, []byte, []byte) { panic("aescbc: no assembly") }
