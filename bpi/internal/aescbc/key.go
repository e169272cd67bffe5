package aescbc

import "encoding/binary"

// rounds is the number of AES-128 rounds (FIPS-197 Nr for Nk = 4).
const rounds = 10

// schedule is a key schedule as the AES-NI instructions load it: round r
// in bytes 16r..16r+15, each word of FIPS-197's w[] stored big-endian, so
// a round key lines up with the state bytes of a block loaded from memory.
type schedule [rounds + 1][BlockSize]byte

// expandKey is FIPS-197 section 5.2 KeyExpansion for a 128-bit key.
func expandKey(key []byte) (enc schedule) {
	var w [4 * (rounds + 1)]uint32
	for i := range 4 {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := byte(1)
	for i := 4; i < len(w); i++ {
		t := w[i-1]
		if i%4 == 0 {
			t = subWord(t<<8|t>>24) ^ uint32(rcon)<<24
			rcon = xtime(rcon)
		}
		w[i] = w[i-4] ^ t
	}
	for i, v := range w {
		binary.BigEndian.PutUint32(enc[i/4][4*(i%4):], v)
	}
	return enc
}

// decryptionSchedule is the key schedule of FIPS-197 section 5.3.5's
// equivalent inverse cipher, the order AESDEC consumes: the encryption
// round keys reversed, InvMixColumns applied to all but the first and last.
func decryptionSchedule(enc *schedule) (dec schedule) {
	dec[0], dec[rounds] = enc[rounds], enc[0]
	for r := 1; r < rounds; r++ {
		dec[r] = invMixColumns(enc[rounds-r])
	}
	return dec
}

func invMixColumns(s [BlockSize]byte) (out [BlockSize]byte) {
	for c := 0; c < BlockSize; c += 4 {
		a0, a1, a2, a3 := s[c], s[c+1], s[c+2], s[c+3]
		out[c] = mul(a0, 14) ^ mul(a1, 11) ^ mul(a2, 13) ^ mul(a3, 9)
		out[c+1] = mul(a0, 9) ^ mul(a1, 14) ^ mul(a2, 11) ^ mul(a3, 13)
		out[c+2] = mul(a0, 13) ^ mul(a1, 9) ^ mul(a2, 14) ^ mul(a3, 11)
		out[c+3] = mul(a0, 11) ^ mul(a1, 13) ^ mul(a2, 9) ^ mul(a3, 14)
	}
	return out
}

func subWord(w uint32) uint32 {
	return uint32(sbox(byte(w>>24)))<<24 | uint32(sbox(byte(w>>16)))<<16 |
		uint32(sbox(byte(w>>8)))<<8 | uint32(sbox(byte(w)))
}

// sbox computes the S-box (FIPS-197 section 5.1.1) instead of looking it
// up: the key expansion needs only 40 substitutions, and arithmetic without
// secret-dependent indexing or branches leaks nothing through the cache.
func sbox(x byte) byte {
	// x^254 is the multiplicative inverse in GF(2^8) (and 0 for 0).
	sq := mul(x, x)
	inv := sq
	for range 6 {
		sq = mul(sq, sq)
		inv = mul(inv, sq)
	}
	return inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63
}

func rotl(b byte, n uint) byte { return b<<n | b>>(8-n) }

// xtime multiplies by x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
func xtime(b byte) byte { return b<<1 ^ 0x1b&-(b>>7) }

// mul multiplies in GF(2^8), in constant time.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= a & -(b & 1)
		a = xtime(a)
		b >>= 1
	}
	return p
}
