//go:build amd64 && !purego

#include "textflag.h"

// Round keys are loaded with MOVUPS: legacy-SSE AESENC/AESDEC with a memory
// operand would fault on a schedule that is not 16-byte aligned.

// LOADKEYS loads the 11 round keys at (AX) into X1..X11.
#define LOADKEYS \
	MOVUPS 0(AX), X1   \
	MOVUPS 16(AX), X2  \
	MOVUPS 32(AX), X3  \
	MOVUPS 48(AX), X4  \
	MOVUPS 64(AX), X5  \
	MOVUPS 80(AX), X6  \
	MOVUPS 96(AX), X7  \
	MOVUPS 112(AX), X8 \
	MOVUPS 128(AX), X9 \
	MOVUPS 144(AX), X10 \
	MOVUPS 160(AX), X11

// func encryptCBCAsm(xk *schedule, iv *[16]byte, b []byte)
//
// The chain stays in X0 across the whole buffer: each block's load and
// first-round-key XOR are off the chain, which is PXOR, 9 AESENC and
// AESENCLAST per block.
TEXT ·encryptCBCAsm(SB), NOSPLIT, $0-40
	MOVQ xk+0(FP), AX
	MOVQ iv+8(FP), BX
	MOVQ b_base+16(FP), SI
	MOVQ b_len+24(FP), CX
	TESTQ CX, CX
	JZ   encdone
	MOVUPS (BX), X0
	LOADKEYS

encloop:
	MOVUPS (SI), X12
	PXOR   X1, X12
	PXOR   X12, X0
	AESENC X2, X0
	AESENC X3, X0
	AESENC X4, X0
	AESENC X5, X0
	AESENC X6, X0
	AESENC X7, X0
	AESENC X8, X0
	AESENC X9, X0
	AESENC X10, X0
	AESENCLAST X11, X0
	MOVUPS X0, (SI)
	ADDQ   $16, SI
	SUBQ   $16, CX
	JNZ    encloop

encdone:
	RET

// DEC4 is one decryption round with key K on the four states X12..X15.
#define DEC4(K) \
	AESDEC K, X12 \
	AESDEC K, X13 \
	AESDEC K, X14 \
	AESDEC K, X15

// func decryptCBCAsm(xk *schedule, iv *[16]byte, b []byte)
//
// CBC decryption has no chain through the cipher, so four blocks go
// through the rounds together. Registers: X0 the previous ciphertext
// block, X1..X11 the round keys, X12..X15 the states.
TEXT ·decryptCBCAsm(SB), NOSPLIT, $0-40
	MOVQ xk+0(FP), AX
	MOVQ iv+8(FP), BX
	MOVQ b_base+16(FP), SI
	MOVQ b_len+24(FP), CX
	MOVUPS (BX), X0
	LOADKEYS
	CMPQ CX, $64
	JB   dectail

decloop4:
	MOVUPS 0(SI), X12
	MOVUPS 16(SI), X13
	MOVUPS 32(SI), X14
	MOVUPS 48(SI), X15
	PXOR   X1, X12
	PXOR   X1, X13
	PXOR   X1, X14
	PXOR   X1, X15
	DEC4(X2)
	DEC4(X3)
	DEC4(X4)
	DEC4(X5)
	DEC4(X6)
	DEC4(X7)
	DEC4(X8)
	DEC4(X9)
	DEC4(X10)
	AESDECLAST X11, X12
	AESDECLAST X11, X13
	AESDECLAST X11, X14
	AESDECLAST X11, X15
	// Each plaintext is XORed with the ciphertext before it, read back
	// before the plaintext overwrites it.
	PXOR   X0, X12
	MOVUPS 0(SI), X0
	PXOR   X0, X13
	MOVUPS 16(SI), X0
	PXOR   X0, X14
	MOVUPS 32(SI), X0
	PXOR   X0, X15
	MOVUPS 48(SI), X0
	MOVUPS X12, 0(SI)
	MOVUPS X13, 16(SI)
	MOVUPS X14, 32(SI)
	MOVUPS X15, 48(SI)
	ADDQ   $64, SI
	SUBQ   $64, CX
	CMPQ   CX, $64
	JAE    decloop4

dectail:
	TESTQ CX, CX
	JZ    decdone

decloop1:
	MOVUPS (SI), X12
	MOVAPS X12, X13
	PXOR   X1, X12
	AESDEC X2, X12
	AESDEC X3, X12
	AESDEC X4, X12
	AESDEC X5, X12
	AESDEC X6, X12
	AESDEC X7, X12
	AESDEC X8, X12
	AESDEC X9, X12
	AESDEC X10, X12
	AESDECLAST X11, X12
	PXOR   X0, X12
	MOVUPS X12, (SI)
	MOVAPS X13, X0
	ADDQ   $16, SI
	SUBQ   $16, CX
	JNZ    decloop1

decdone:
	RET

// ROUND2 is round r of both chains: X's key from register K, Y's loaded
// from (BX) into X4 (off the chain: the load does not wait for it).
#define ROUND2(K, off) \
	MOVUPS off(BX), X4 \
	AESENC K, X0       \
	AESENC X4, X1

// func encryptCBCPairAsm(xkx, xky *schedule, ivx, ivy *[16]byte, x, y []byte)
//
// Two independent chains, X0 (x under xkx, keys in X5..X15) and X1 (y
// under xky, keys loaded per round), interleaved: each AESENC waits for
// its own chain only, so the two overlap in the AES unit.
TEXT ·encryptCBCPairAsm(SB), NOSPLIT, $0-80
	MOVQ xkx+0(FP), AX
	MOVQ xky+8(FP), BX
	MOVQ ivx+16(FP), DX
	MOVQ ivy+24(FP), R8
	MOVQ x_base+32(FP), SI
	MOVQ x_len+40(FP), CX
	MOVQ y_base+56(FP), DI
	TESTQ CX, CX
	JZ   pairdone
	MOVUPS (DX), X0
	MOVUPS (R8), X1
	MOVUPS 0(AX), X5
	MOVUPS 16(AX), X6
	MOVUPS 32(AX), X7
	MOVUPS 48(AX), X8
	MOVUPS 64(AX), X9
	MOVUPS 80(AX), X10
	MOVUPS 96(AX), X11
	MOVUPS 112(AX), X12
	MOVUPS 128(AX), X13
	MOVUPS 144(AX), X14
	MOVUPS 160(AX), X15

pairloop:
	MOVUPS (SI), X2
	MOVUPS (DI), X3
	MOVUPS 0(BX), X4
	PXOR   X5, X2
	PXOR   X4, X3
	PXOR   X2, X0
	PXOR   X3, X1
	ROUND2(X6, 16)
	ROUND2(X7, 32)
	ROUND2(X8, 48)
	ROUND2(X9, 64)
	ROUND2(X10, 80)
	ROUND2(X11, 96)
	ROUND2(X12, 112)
	ROUND2(X13, 128)
	ROUND2(X14, 144)
	MOVUPS 160(BX), X4
	AESENCLAST X15, X0
	AESENCLAST X4, X1
	MOVUPS X0, (SI)
	MOVUPS X1, (DI)
	ADDQ   $16, SI
	ADDQ   $16, DI
	SUBQ   $16, CX
	JNZ    pairloop

pairdone:
	RET

// func encryptBlockAsm(xk *schedule, dst, src []byte)
TEXT ·encryptBlockAsm(SB), NOSPLIT, $0-56
	MOVQ xk+0(FP), AX
	MOVQ dst_base+8(FP), DI
	MOVQ src_base+32(FP), SI
	MOVUPS (SI), X0
	LOADKEYS
	PXOR   X1, X0
	AESENC X2, X0
	AESENC X3, X0
	AESENC X4, X0
	AESENC X5, X0
	AESENC X6, X0
	AESENC X7, X0
	AESENC X8, X0
	AESENC X9, X0
	AESENC X10, X0
	AESENCLAST X11, X0
	MOVUPS X0, (DI)
	RET
