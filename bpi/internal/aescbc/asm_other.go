//go:build !(amd64 || arm64) || purego

package aescbc

// useAsm is false: there is no assembly for this architecture (or the
// purego tag asks for none), so every Cipher takes the crypto/aes and
// crypto/cipher path.
var useAsm = false

func encryptCBCAsm(*schedule, *[BlockSize]byte, []byte) { panic("aescbc: no assembly") }

func decryptCBCAsm(*schedule, *[BlockSize]byte, []byte) { panic("aescbc: no assembly") }

func encryptCBCPairAsm(_, _ *schedule, _, _ *[BlockSize]byte, _, _ []byte) {
	panic("aescbc: no assembly")
}

func encryptBlockAsm(*schedule, []byte, []byte) { panic("aescbc: no assembly") }
