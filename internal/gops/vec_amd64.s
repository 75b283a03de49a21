//go:build !noasm

#include "textflag.h"

DATA evenIdx<>+0(SB)/4, $0
DATA evenIdx<>+4(SB)/4, $2
DATA evenIdx<>+8(SB)/4, $4
DATA evenIdx<>+12(SB)/4, $6
DATA evenIdx<>+16(SB)/4, $8
DATA evenIdx<>+20(SB)/4, $10
DATA evenIdx<>+24(SB)/4, $12
DATA evenIdx<>+28(SB)/4, $14
DATA evenIdx<>+32(SB)/4, $16
DATA evenIdx<>+36(SB)/4, $18
DATA evenIdx<>+40(SB)/4, $20
DATA evenIdx<>+44(SB)/4, $22
DATA evenIdx<>+48(SB)/4, $24
DATA evenIdx<>+52(SB)/4, $26
DATA evenIdx<>+56(SB)/4, $28
DATA evenIdx<>+60(SB)/4, $30
GLOBL evenIdx<>(SB), RODATA|NOPTR, $64

DATA oddIdx<>+0(SB)/4, $1
DATA oddIdx<>+4(SB)/4, $3
DATA oddIdx<>+8(SB)/4, $5
DATA oddIdx<>+12(SB)/4, $7
DATA oddIdx<>+16(SB)/4, $9
DATA oddIdx<>+20(SB)/4, $11
DATA oddIdx<>+24(SB)/4, $13
DATA oddIdx<>+28(SB)/4, $15
DATA oddIdx<>+32(SB)/4, $17
DATA oddIdx<>+36(SB)/4, $19
DATA oddIdx<>+40(SB)/4, $21
DATA oddIdx<>+44(SB)/4, $23
DATA oddIdx<>+48(SB)/4, $25
DATA oddIdx<>+52(SB)/4, $27
DATA oddIdx<>+56(SB)/4, $29
DATA oddIdx<>+60(SB)/4, $31
GLOBL oddIdx<>(SB), RODATA|NOPTR, $64

DATA dupLo<>+0(SB)/4, $0
DATA dupLo<>+4(SB)/4, $0
DATA dupLo<>+8(SB)/4, $1
DATA dupLo<>+12(SB)/4, $1
DATA dupLo<>+16(SB)/4, $2
DATA dupLo<>+20(SB)/4, $2
DATA dupLo<>+24(SB)/4, $3
DATA dupLo<>+28(SB)/4, $3
DATA dupLo<>+32(SB)/4, $4
DATA dupLo<>+36(SB)/4, $4
DATA dupLo<>+40(SB)/4, $5
DATA dupLo<>+44(SB)/4, $5
DATA dupLo<>+48(SB)/4, $6
DATA dupLo<>+52(SB)/4, $6
DATA dupLo<>+56(SB)/4, $7
DATA dupLo<>+60(SB)/4, $7
GLOBL dupLo<>(SB), RODATA|NOPTR, $64

DATA dupHi<>+0(SB)/4, $8
DATA dupHi<>+4(SB)/4, $8
DATA dupHi<>+8(SB)/4, $9
DATA dupHi<>+12(SB)/4, $9
DATA dupHi<>+16(SB)/4, $10
DATA dupHi<>+20(SB)/4, $10
DATA dupHi<>+24(SB)/4, $11
DATA dupHi<>+28(SB)/4, $11
DATA dupHi<>+32(SB)/4, $12
DATA dupHi<>+36(SB)/4, $12
DATA dupHi<>+40(SB)/4, $13
DATA dupHi<>+44(SB)/4, $13
DATA dupHi<>+48(SB)/4, $14
DATA dupHi<>+52(SB)/4, $14
DATA dupHi<>+56(SB)/4, $15
DATA dupHi<>+60(SB)/4, $15
GLOBL dupHi<>(SB), RODATA|NOPTR, $64

// func maxPool16(r0, r1, y *float32, n int)
//
// y[i] = max(r0[2i], r0[2i+1], r1[2i], r1[2i+1]) for i < n: the 2x2 max-pool of two rows,
// 16 outputs a turn, the last turn masked (it reads r0 and r1 to 2n values, writes y to
// n). AVX-512F.
TEXT ·maxPool16(SB), NOSPLIT, $0-32
	MOVQ   r0+0(FP), SI
	MOVQ   r1+8(FP), DI
	MOVQ   y+16(FP), DX
	MOVQ   n+24(FP), CX
	VMOVUPS evenIdx<>(SB), Z30
	VMOVUPS oddIdx<>(SB), Z31

poolloop:
	CMPQ      CX, $16
	JLT       pooltail
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMAXPS    (DI), Z0, Z0
	VMAXPS    64(DI), Z1, Z1
	VMOVAPS   Z0, Z2
	VPERMT2PS Z1, Z30, Z2
	VPERMT2PS Z1, Z31, Z0
	VMAXPS    Z0, Z2, Z2
	VMOVUPS   Z2, (DX)
	ADDQ      $128, SI
	ADDQ      $128, DI
	ADDQ      $64, DX
	SUBQ      $16, CX
	JMP       poolloop

pooltail:
	TESTQ CX, CX
	JE    pooldone
	MOVQ  CX, R8
	SHLQ  $1, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX               // the 2n input values of each row: K1 the first 16, K2 the rest
	KMOVW AX, K1
	SHRL  $16, AX
	KMOVW AX, K2
	MOVQ  R8, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K3           // the n outputs

	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVUPS.Z (DI), K1, Z2
	VMOVUPS.Z 64(DI), K2, Z3
	VMAXPS    Z2, Z0, Z0
	VMAXPS    Z3, Z1, Z1
	VMOVAPS   Z0, Z2
	VPERMT2PS Z1, Z30, Z2
	VPERMT2PS Z1, Z31, Z0
	VMAXPS    Z0, Z2, Z2
	VMOVUPS   Z2, K3, (DX)

pooldone:
	VZEROUPPER
	RET

// func addTo(dst, src *float32, n int)
//
// dst[i] += src[i] for i < n, 16 values a turn, the last turn masked. AVX-512F.
TEXT ·addTo(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

addloop:
	CMPQ    CX, $16
	JLT     addtail
	VMOVUPS (DI), Z0
	VADDPS  (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     addloop

addtail:
	TESTQ     CX, CX
	JE        adddone
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K1
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (SI), K1, Z1
	VADDPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (DI)

adddone:
	VZEROUPPER
	RET

// func maxPoolGrad16(r0, r1, y, dy, d0, d1 *float32, blocks int, relu bool)
//
// The gradient of maxPool16, 16 windows a turn: window i is (r0[2i], r0[2i+1], r1[2i],
// r1[2i+1]); its first maximum in that order gets dy[i] (in d0 for row r0, d1 for r1), the
// other three 0, and all four 0 when relu and !(y[i] > 0). AVX-512F.
TEXT ·maxPoolGrad16(SB), NOSPLIT, $0-57
	MOVQ    r0+0(FP), SI
	MOVQ    r1+8(FP), DI
	MOVQ    y+16(FP), R8
	MOVQ    dy+24(FP), DX
	MOVQ    d0+32(FP), R9
	MOVQ    d1+40(FP), R10
	MOVQ    blocks+48(FP), CX
	MOVBLZX relu+56(FP), R13
	VMOVUPS evenIdx<>(SB), Z30
	VMOVUPS oddIdx<>(SB), Z31
	VMOVUPS dupLo<>(SB), Z28
	VMOVUPS dupHi<>(SB), Z29
	VPXORD  Z27, Z27, Z27
	TESTQ   CX, CX
	JE      graddone

gradloop:
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVUPS   (DI), Z2
	VMOVUPS   64(DI), Z3
	VMAXPS    Z2, Z0, Z4
	VMAXPS    Z3, Z1, Z5
	VMOVAPS   Z4, Z6
	VPERMT2PS Z5, Z30, Z6
	VPERMT2PS Z5, Z31, Z4
	VMAXPS    Z4, Z6, Z6
	VPERMPS   Z6, Z28, Z7
	VPERMPS   Z6, Z29, Z8
	VCMPPS    $0, Z7, Z0, K1
	VCMPPS    $0, Z8, Z1, K2
	VCMPPS    $0, Z7, Z2, K3
	VCMPPS    $0, Z8, Z3, K4

	// AX = the 32 hits of row r0, BX those of row r1 (bit 2i, 2i+1: window i)
	KMOVW K1, AX
	KMOVW K2, R11
	SHLL  $16, R11
	ORL   R11, AX
	KMOVW K3, BX
	KMOVW K4, R11
	SHLL  $16, R11
	ORL   R11, BX

	// the first hit of each window: r0's even, else r0's odd, else r1's even, else r1's odd
	MOVL AX, R11
	SHRL $1, R11
	ORL  AX, R11
	ANDL $0x55555555, R11
	MOVL R11, R12
	SHLL $1, R12
	ORL  R12, R11          // R11: both bits of every window with a hit in row r0
	MOVL AX, R12
	ANDL $0x55555555, R12
	SHLL $1, R12
	NOTL R12
	ANDL R12, AX           // r0's odd hits where r0's even is not
	NOTL R11
	ANDL R11, BX           // r1's hits where r0 has none
	MOVL BX, R12
	ANDL $0x55555555, R12
	SHLL $1, R12
	NOTL R12
	ANDL R12, BX           // r1's odd hits where r1's even is not

	TESTQ     R13, R13
	JE        store
	VMOVUPS   (R8), Z9
	VPERMPS   Z9, Z28, Z10
	VPERMPS   Z9, Z29, Z11
	VCMPPS    $0x1e, Z27, Z10, K5
	VCMPPS    $0x1e, Z27, Z11, K6
	KMOVW     K5, R11
	KMOVW     K6, R12
	SHLL      $16, R12
	ORL       R12, R11
	ANDL      R11, AX
	ANDL      R11, BX

store:
	VMOVUPS   (DX), Z12
	VPERMPS   Z12, Z28, Z13
	VPERMPS   Z12, Z29, Z14
	KMOVW     AX, K1
	SHRL      $16, AX
	KMOVW     AX, K2
	KMOVW     BX, K3
	SHRL      $16, BX
	KMOVW     BX, K4
	VMOVAPS.Z Z13, K1, Z15
	VMOVUPS   Z15, (R9)
	VMOVAPS.Z Z14, K2, Z15
	VMOVUPS   Z15, 64(R9)
	VMOVAPS.Z Z13, K3, Z15
	VMOVUPS   Z15, (R10)
	VMOVAPS.Z Z14, K4, Z15
	VMOVUPS   Z15, 64(R10)

	ADDQ $128, SI
	ADDQ $128, DI
	ADDQ $64, R8
	ADDQ $64, DX
	ADDQ $128, R9
	ADDQ $128, R10
	DECQ CX
	JNE  gradloop

graddone:
	VZEROUPPER
	RET

// func copyRows32(dst, src *float32, ld, rows int)
//
// dst[r*32+j] = src[r*ld+j] for r < rows, j < 32: a panel of rows packed, 128 bytes each.
// AVX-512F.
TEXT ·copyRows32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	SHLQ $2, DX
	MOVQ rows+24(FP), CX
	TESTQ CX, CX
	JE   c32done

c32loop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    DX, SI
	ADDQ    $128, DI
	DECQ    CX
	JNE     c32loop

c32done:
	VZEROUPPER
	RET

// func copyRows8(dst, src *float32, ld, rows int)
//
// dst[r*8+j] = src[r*ld+j] for r < rows, j < 8: 32 bytes a row. AVX.
TEXT ·copyRows8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	SHLQ $2, DX
	MOVQ rows+24(FP), CX
	TESTQ CX, CX
	JE   c8done

c8loop:
	VMOVUPS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ    DX, SI
	ADDQ    $32, DI
	DECQ    CX
	JNE     c8loop

c8done:
	VZEROUPPER
	RET

// func padCopy(dst, src *float32, lo, hi, n int)
//
// dst[t] = src[t-lo] for lo <= t < hi, 0 for the other t < n: a row of im2col, the zero
// padding written with the copy. 16 values a turn through masks; the masked-off values of
// src are never read. AVX-512F.
TEXT ·padCopy(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lo+16(FP), R8
	MOVQ hi+24(FP), R9
	MOVQ n+32(FP), R10
	MOVQ R8, AX
	SHLQ $2, AX
	SUBQ AX, SI            // SI: where src[-lo] would be (read only under masks)
	XORQ BX, BX            // BX: first t of this turn
	MOVQ $16, R13

padloop:
	CMPQ BX, R10
	JGE  paddone
	// s = clamp(lo-BX, 0, 16), e = clamp(hi-BX, 0, 16)
	MOVQ    R8, R11
	SUBQ    BX, R11
	XORQ    AX, AX
	CMPQ    R11, $0
	CMOVQLT AX, R11
	CMPQ    R11, $16
	CMOVQGT R13, R11
	MOVQ    R9, R12
	SUBQ    BX, R12
	CMPQ    R12, $0
	CMOVQLT AX, R12
	CMPQ    R12, $16
	CMOVQGT R13, R12
	// mask of [s, e): (1<<e - 1) &^ (1<<s - 1)
	MOVL    $1, AX
	MOVQ    R12, CX
	SHLL    CX, AX
	DECL    AX
	MOVL    $1, DX
	MOVQ    R11, CX
	SHLL    CX, DX
	DECL    DX
	NOTL    DX
	ANDL    DX, AX
	KMOVW   AX, K1
	VMOVUPS.Z (SI)(BX*4), K1, Z0
	// store 16, or the n-BX left
	MOVQ    R10, CX
	SUBQ    BX, CX
	CMPQ    CX, $16
	JLT     padtail
	VMOVUPS Z0, (DI)(BX*4)
	ADDQ    $16, BX
	JMP     padloop

padtail:
	MOVL    $1, AX
	SHLL    CX, AX
	DECL    AX
	KMOVW   AX, K2
	VMOVUPS Z0, K2, (DI)(BX*4)

paddone:
	VZEROUPPER
	RET

DATA iota16<>+0(SB)/4, $0
DATA iota16<>+4(SB)/4, $1
DATA iota16<>+8(SB)/4, $2
DATA iota16<>+12(SB)/4, $3
DATA iota16<>+16(SB)/4, $4
DATA iota16<>+20(SB)/4, $5
DATA iota16<>+24(SB)/4, $6
DATA iota16<>+28(SB)/4, $7
DATA iota16<>+32(SB)/4, $8
DATA iota16<>+36(SB)/4, $9
DATA iota16<>+40(SB)/4, $10
DATA iota16<>+44(SB)/4, $11
DATA iota16<>+48(SB)/4, $12
DATA iota16<>+52(SB)/4, $13
DATA iota16<>+56(SB)/4, $14
DATA iota16<>+60(SB)/4, $15
GLOBL iota16<>(SB), RODATA|NOPTR, $64

// func gatherT32(dst, src *float32, ld, kb int)
//
// dst[p*32+j] = src[j*ld+p] for p < kb, j < 32: a panel of 32 columns packed from 32 rows
// of src, two 16-value gathers per panel row. AVX-512F.
TEXT ·gatherT32(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         ld+16(FP), AX
	MOVQ         kb+24(FP), CX
	VPBROADCASTD AX, Z2
	VPMULLD      iota16<>(SB), Z2, Z2 // j*ld, j < 16
	SHLQ         $4, AX
	VPBROADCASTD AX, Z3
	VPADDD       Z2, Z3, Z3           // (16+j)*ld
	TESTQ        CX, CX
	JE           gtdone

gtloop:
	KXNORW     K1, K1, K1
	KXNORW     K2, K2, K2
	VGATHERDPS (SI)(Z2*4), K1, Z0
	VGATHERDPS (SI)(Z3*4), K2, Z1
	VMOVUPS    Z0, (DI)
	VMOVUPS    Z1, 64(DI)
	ADDQ       $4, SI
	ADDQ       $128, DI
	DECQ       CX
	JNE        gtloop

gtdone:
	VZEROUPPER
	RET

DATA rows8<>+0(SB)/4, $0
DATA rows8<>+4(SB)/4, $1
DATA rows8<>+8(SB)/4, $2
DATA rows8<>+12(SB)/4, $3
DATA rows8<>+16(SB)/4, $4
DATA rows8<>+20(SB)/4, $5
DATA rows8<>+24(SB)/4, $6
DATA rows8<>+28(SB)/4, $7
DATA rows8<>+32(SB)/4, $0
DATA rows8<>+36(SB)/4, $1
DATA rows8<>+40(SB)/4, $2
DATA rows8<>+44(SB)/4, $3
DATA rows8<>+48(SB)/4, $4
DATA rows8<>+52(SB)/4, $5
DATA rows8<>+56(SB)/4, $6
DATA rows8<>+60(SB)/4, $7
GLOBL rows8<>(SB), RODATA|NOPTR, $64

DATA cols8<>+0(SB)/4, $0
DATA cols8<>+4(SB)/4, $0
DATA cols8<>+8(SB)/4, $0
DATA cols8<>+12(SB)/4, $0
DATA cols8<>+16(SB)/4, $0
DATA cols8<>+20(SB)/4, $0
DATA cols8<>+24(SB)/4, $0
DATA cols8<>+28(SB)/4, $0
DATA cols8<>+32(SB)/4, $1
DATA cols8<>+36(SB)/4, $1
DATA cols8<>+40(SB)/4, $1
DATA cols8<>+44(SB)/4, $1
DATA cols8<>+48(SB)/4, $1
DATA cols8<>+52(SB)/4, $1
DATA cols8<>+56(SB)/4, $1
DATA cols8<>+60(SB)/4, $1
GLOBL cols8<>(SB), RODATA|NOPTR, $64

// func gatherA8(dst, src *float32, ld, kb int)
//
// dst[p*8+r] = src[r*ld+p] for p < kb, r < 8: a panel of 8 rows packed column after column,
// two columns per 16-value gather. AVX-512F.
TEXT ·gatherA8(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         ld+16(FP), AX
	MOVQ         kb+24(FP), CX
	VPBROADCASTD AX, Z2
	VPMULLD      rows8<>(SB), Z2, Z2 // lane l: (l%8)*ld
	VPADDD       cols8<>(SB), Z2, Z2 // + l/8
	MOVQ         CX, BX
	SHRQ         $1, BX
	JE           gatail

galoop:
	KXNORW     K1, K1, K1
	VGATHERDPS (SI)(Z2*4), K1, Z0
	VMOVUPS    Z0, (DI)
	ADDQ       $8, SI
	ADDQ       $64, DI
	DECQ       BX
	JNE        galoop

gatail:
	ANDQ       $1, CX
	JE         gadone
	MOVL       $0xff, AX
	KMOVW      AX, K1
	VGATHERDPS (SI)(Z2*4), K1, Z0
	MOVL       $0xff, AX
	KMOVW      AX, K2
	VMOVUPS    Z0, K2, (DI)

gadone:
	VZEROUPPER
	RET

// func sumDot(a, b *float32, n int) (sa, sab float64)
//
// sa = Σ a[i], sab = Σ a[i]·b[i] for i < n, in float64: 16 values a turn in eight lanes and
// two accumulators each, the last turn masked, the lanes added at the end. AVX-512F.
TEXT ·sumDot(SB), NOSPLIT, $0-40
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3

sdloop:
	CMPQ        CX, $16
	JLT         sdtail
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   32(SI), Z5
	VCVTPS2PD   (DI), Z6
	VCVTPS2PD   32(DI), Z7
	VADDPD      Z4, Z0, Z0
	VADDPD      Z5, Z1, Z1
	VFMADD231PD Z4, Z6, Z2
	VFMADD231PD Z5, Z7, Z3
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         sdloop

sdtail:
	TESTQ          CX, CX
	JE             sdsum
	MOVL           $1, AX
	SHLL           CX, AX
	DECL           AX
	KMOVW          AX, K1
	VMOVUPS.Z      (SI), K1, Z8
	VMOVUPS.Z      (DI), K1, Z9
	VCVTPS2PD      Y8, Z4
	VEXTRACTF64X4  $1, Z8, Y10
	VCVTPS2PD      Y10, Z5
	VCVTPS2PD      Y9, Z6
	VEXTRACTF64X4  $1, Z9, Y11
	VCVTPS2PD      Y11, Z7
	VADDPD         Z4, Z0, Z0
	VADDPD         Z5, Z1, Z1
	VFMADD231PD    Z4, Z6, Z2
	VFMADD231PD    Z5, Z7, Z3

sdsum:
	VADDPD        Z1, Z0, Z0
	VADDPD        Z3, Z2, Z2
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPD        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPD        X1, X0, X0
	VHADDPD       X0, X0, X0
	VEXTRACTF64X4 $1, Z2, Y3
	VADDPD        Y3, Y2, Y2
	VEXTRACTF128  $1, Y2, X3
	VADDPD        X3, X2, X2
	VHADDPD       X2, X2, X2
	VMOVSD        X0, sa+24(FP)
	VMOVSD        X2, sab+32(FP)
	VZEROUPPER
	RET

// func affine(dst, a, b *float32, n int, ca, cb, c0 float32)
//
// dst[i] = ca·a[i] + cb·b[i] + c0 for i < n, or ca·a[i] + c0 when b is nil, in float32.
// AVX-512F.
TEXT ·affine(SB), NOSPLIT, $0-44
	MOVQ         dst+0(FP), DI
	MOVQ         a+8(FP), SI
	MOVQ         b+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS ca+32(FP), Z10
	VBROADCASTSS cb+36(FP), Z11
	VBROADCASTSS c0+40(FP), Z12
	XORQ         BX, BX

afloop:
	MOVQ      CX, R8
	SUBQ      BX, R8
	JLE       afdone
	MOVL      $0xffff, AX
	CMPQ      R8, $16
	JGE       affull
	MOVL      $1, AX
	MOVQ      R8, R9
	XCHGQ     R9, CX
	SHLL      CX, AX
	XCHGQ     R9, CX
	DECL      AX

affull:
	KMOVW       AX, K1
	VMOVUPS.Z   (SI)(BX*4), K1, Z0
	VMOVAPS     Z12, Z2
	VFMADD231PS Z0, Z10, Z2
	TESTQ       DX, DX
	JE          afstore
	VMOVUPS.Z   (DX)(BX*4), K1, Z1
	VFMADD231PS Z1, Z11, Z2

afstore:
	VMOVUPS Z2, K1, (DI)(BX*4)
	ADDQ    $16, BX
	JMP     afloop

afdone:
	VZEROUPPER
	RET

// func adamStep(w, m, v, grad *float32, n int, b1, b2, lr, eps float32)
//
// One Adam update of n weights: m = b1·m + (1-b1)·g, v = b2·v + (1-b2)·g·g, w -= lr·m /
// (sqrt(v) + eps), 16 values a turn, the last turn masked, each operation rounded in the
// order Go's loop (and PyTorch's) rounds it: no fused multiply-adds. Subnormal values are flushed to
// zero for the duration (MXCSR's FTZ and DAZ, restored on return): the moments of weights
// whose gradient is zero decay through the subnormal range, where each operation on Intel
// CPUs takes a microcode assist of a hundred cycles or more. AVX-512F.
TEXT ·adamStep(SB), NOSPLIT, $16-56
	MOVQ         w+0(FP), DI
	MOVQ         m+8(FP), SI
	MOVQ         v+16(FP), DX
	MOVQ         grad+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSS b1+40(FP), Z10
	VBROADCASTSS b2+44(FP), Z11
	VBROADCASTSS lr+48(FP), Z12
	VBROADCASTSS eps+52(FP), Z13
	MOVL         $0x3f800000, AX
	VPBROADCASTD AX, Z14
	VSUBPS       Z10, Z14, Z15 // 1-b1
	VSUBPS       Z11, Z14, Z16 // 1-b2
	STMXCSR      save-8(SP)
	MOVL         save-8(SP), AX
	ORL          $0x8040, AX
	MOVL         AX, ftz-16(SP)
	LDMXCSR      ftz-16(SP)
	XORQ         BX, BX

adamloop:
	MOVQ  CX, R9
	SUBQ  BX, R9
	JLE   adamdone
	MOVL  $0xffff, AX
	CMPQ  R9, $16
	JGE   adamfull
	MOVQ  CX, R10
	MOVQ  R9, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	MOVQ  R10, CX

adamfull:
	KMOVW        AX, K1
	VMOVUPS.Z    (R8)(BX*4), K1, Z0
	VMOVUPS.Z    (SI)(BX*4), K1, Z1
	VMOVUPS.Z    (DX)(BX*4), K1, Z2
	VMOVUPS.Z    (DI)(BX*4), K1, Z3
	VMULPS       Z10, Z1, Z1 // b1·m
	VMULPS       Z15, Z0, Z4 // (1-b1)·g
	VADDPS       Z4, Z1, Z1  // m
	VMULPS       Z11, Z2, Z2 // b2·v
	VMULPS       Z16, Z0, Z4 // (1-b2)·g
	VMULPS       Z0, Z4, Z4  // ·g
	VADDPS       Z4, Z2, Z2  // v
	VSQRTPS      Z2, Z5
	VADDPS       Z13, Z5, Z5 // sqrt(v) + eps
	VMULPS       Z12, Z1, Z6 // lr·m
	VDIVPS       Z5, Z6, Z6
	VSUBPS       Z6, Z3, Z3  // w
	VMOVUPS      Z1, K1, (SI)(BX*4)
	VMOVUPS      Z2, K1, (DX)(BX*4)
	VMOVUPS      Z3, K1, (DI)(BX*4)
	ADDQ         $16, BX
	JMP          adamloop

adamdone:
	LDMXCSR save-8(SP)
	VZEROUPPER
	RET

// func momentumStep(w, vel, grad *float32, n int, mu, lr float32)
//
// One SGD-with-momentum update of n weights: vel = mu·vel - lr·g, w += vel, rounded as
// Go's loop rounds it, with subnormals flushed to zero as in adamStep. AVX-512F.
TEXT ·momentumStep(SB), NOSPLIT, $16-40
	MOVQ         w+0(FP), DI
	MOVQ         vel+8(FP), SI
	MOVQ         grad+16(FP), R8
	MOVQ         n+24(FP), CX
	VBROADCASTSS mu+32(FP), Z10
	VBROADCASTSS lr+36(FP), Z12
	STMXCSR      save-8(SP)
	MOVL         save-8(SP), AX
	ORL          $0x8040, AX
	MOVL         AX, ftz-16(SP)
	LDMXCSR      ftz-16(SP)
	XORQ         BX, BX

momloop:
	MOVQ  CX, R9
	SUBQ  BX, R9
	JLE   momdone
	MOVL  $0xffff, AX
	CMPQ  R9, $16
	JGE   momfull
	MOVQ  CX, R10
	MOVQ  R9, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	MOVQ  R10, CX

momfull:
	KMOVW        AX, K1
	VMOVUPS.Z    (R8)(BX*4), K1, Z0
	VMOVUPS.Z    (SI)(BX*4), K1, Z1
	VMOVUPS.Z    (DI)(BX*4), K1, Z3
	VMULPS       Z10, Z1, Z1 // mu·vel
	VMULPS       Z12, Z0, Z4 // lr·g
	VSUBPS       Z4, Z1, Z1  // vel
	VADDPS       Z1, Z3, Z3  // w
	VMOVUPS      Z1, K1, (SI)(BX*4)
	VMOVUPS      Z3, K1, (DI)(BX*4)
	ADDQ         $16, BX
	JMP          momloop

momdone:
	LDMXCSR save-8(SP)
	VZEROUPPER
	RET

// func biasReLU(dst, src *float32, n int, b float32, relu bool)
//
// dst[i] = src[i] + b, and when relu, 0 where that sum is not > 0 (NaN included): MAXPS
// with the sum first returns the second operand, +0, unless the sum is greater. AVX-512F.
TEXT ·biasReLU(SB), NOSPLIT, $0-29
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS b+24(FP), Z8
	MOVBLZX      relu+28(FP), DX
	VPXORD       Z9, Z9, Z9

brloop:
	CMPQ    CX, $16
	JLT     brtail
	VADDPS  (SI), Z8, Z0
	TESTQ   DX, DX
	JE      brstore
	VMAXPS  Z9, Z0, Z0

brstore:
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     brloop

brtail:
	TESTQ     CX, CX
	JE        brdone
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VADDPS    Z0, Z8, Z0
	TESTQ     DX, DX
	JE        brtstore
	VMAXPS    Z9, Z0, Z0

brtstore:
	VMOVUPS Z0, K1, (DI)

brdone:
	VZEROUPPER
	RET

// func addMax0(dst, a, b *float32, n int)
//
// dst[i] = max(a[i] + b[i], 0) as reluNaN computes it (a NaN sum gives 0x7fc00000,
// whatever its own bits; -0 gives +0); dst[i] = max(a[i], 0) when b is nil. MAXPS with
// the sum first gives +0 for NaN, ±0 and negative sums; the NaN lanes then take 0x7fc00000.
// AVX-512F.
TEXT ·addMax0(SB), NOSPLIT, $0-32
	MOVQ   dst+0(FP), DI
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DX
	MOVQ   n+24(FP), CX
	VPXORD Z9, Z9, Z9
	MOVL         $0x7fc00000, AX
	VPBROADCASTD AX, Z10
	MOVL   $0xffff, AX
	KMOVW  AX, K1

amloop:
	TESTQ CX, CX
	JE    amdone
	CMPQ  CX, $16
	JGE   amfull
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	MOVQ  $16, CX

amfull:
	VMOVUPS.Z (SI), K1, Z0
	TESTQ     DX, DX
	JE        ammax
	VMOVUPS.Z (DX), K1, Z1
	VADDPS    Z1, Z0, Z0
	ADDQ      $64, DX

ammax:
	VMAXPS  Z9, Z0, Z2
	VCMPPS  $3, Z0, Z0, K2
	VMOVAPS Z10, K2, Z2
	VMOVUPS Z2, K1, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     amloop

amdone:
	VZEROUPPER
	RET

// func reluGrad(dst, y, dy *float32, n int)
//
// dst[i] = dy[i] where y[i] > 0 (ordered: not for NaN), else 0. AVX-512F.
TEXT ·reluGrad(SB), NOSPLIT, $0-32
	MOVQ   dst+0(FP), DI
	MOVQ   y+8(FP), SI
	MOVQ   dy+16(FP), DX
	MOVQ   n+24(FP), CX
	VPXORD Z9, Z9, Z9
	MOVL   $0xffff, AX
	KMOVW  AX, K1

rgloop:
	TESTQ CX, CX
	JE    rgdone
	CMPQ  CX, $16
	JGE   rgfull
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	MOVQ  $16, CX

rgfull:
	VMOVUPS.Z (SI), K1, Z0
	VCMPPS    $0x1e, Z9, Z0, K1, K2
	VMOVUPS.Z (DX), K2, Z1
	VMOVUPS   Z1, K1, (DI)
	ADDQ      $64, DI
	ADDQ      $64, SI
	ADDQ      $64, DX
	SUBQ      $16, CX
	JMP       rgloop

rgdone:
	VZEROUPPER
	RET

// func mulTo(dst, a, b *float32, n int)
//
// dst[i] = a[i]·b[i]. AVX-512F.
TEXT ·mulTo(SB), NOSPLIT, $0-32
	MOVQ  dst+0(FP), DI
	MOVQ  a+8(FP), SI
	MOVQ  b+16(FP), DX
	MOVQ  n+24(FP), CX
	MOVL  $0xffff, AX
	KMOVW AX, K1

muloop:
	TESTQ CX, CX
	JE    mudone
	CMPQ  CX, $16
	JGE   mufull
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	MOVQ  $16, CX

mufull:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VMULPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (DI)
	ADDQ      $64, DI
	ADDQ      $64, SI
	ADDQ      $64, DX
	SUBQ      $16, CX
	JMP       muloop

mudone:
	VZEROUPPER
	RET

// func sumLanes(acc *[16]float32, x, y *float32, n int)
//
// acc[j] += x[i] for i < n, i ≡ j (mod 16), in order of i; when y is not nil, only the
// x[i] with y[i] > 0 (ordered). The last turn masked. AVX-512F.
TEXT ·sumLanes(SB), NOSPLIT, $0-32
	MOVQ    acc+0(FP), DI
	MOVQ    x+8(FP), SI
	MOVQ    y+16(FP), DX
	MOVQ    n+24(FP), CX
	VMOVUPS (DI), Z0
	VPXORD  Z9, Z9, Z9
	MOVL    $0xffff, AX
	KMOVW   AX, K1

slloop:
	TESTQ CX, CX
	JE    sldone
	CMPQ  CX, $16
	JGE   slfull
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	MOVQ  $16, CX

slfull:
	KMOVW     K1, K2
	TESTQ     DX, DX
	JE        sladd
	VMOVUPS.Z (DX), K1, Z2
	VCMPPS    $0x1e, Z9, Z2, K1, K2
	ADDQ      $64, DX

sladd:
	VMOVUPS.Z (SI), K2, Z1
	VADDPS    Z1, Z0, Z0
	ADDQ      $64, SI
	SUBQ      $16, CX
	JMP       slloop

sldone:
	VMOVUPS Z0, (DI)
	VZEROUPPER
	RET

// func im2colGather(dst, src *float32, idx *int32, c, q, ohw, ld, hw int)
//
// im2col by gathers, for small maps: for each of the c channels of src (hw values apart)
// and each of its q filter positions, the row dst[(ch·q + p)·ld + t] = src[ch·hw +
// idx[p·ohw + t]] for t < ohw, 0 where that index is negative (padding). 16 values a turn,
// the last masked. AVX-512F.
TEXT ·im2colGather(SB), NOSPLIT, $0-64
	MOVQ   dst+0(FP), DI
	MOVQ   src+8(FP), SI
	MOVQ   c+24(FP), R8
	MOVQ   ohw+40(FP), R11
	MOVQ   ld+48(FP), R13
	SHLQ   $2, R13
	MOVQ   hw+56(FP), R12
	SHLQ   $2, R12
	VPXORD Z9, Z9, Z9

igch:
	TESTQ R8, R8
	JE    igdone
	MOVQ  idx+16(FP), DX
	MOVQ  q+32(FP), R9

igrow:
	TESTQ R9, R9
	JE    ignext
	XORQ  BX, BX

igturn:
	MOVQ  R11, R10
	SUBQ  BX, R10
	JLE   igrowdone
	MOVL  $0xffff, AX
	CMPQ  R10, $16
	JGE   igfull
	MOVQ  R10, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX

igfull:
	KMOVW       AX, K1
	VMOVDQU32.Z (DX)(BX*4), K1, Z1
	VPCMPD      $5, Z9, Z1, K1, K2
	VPXORD      Z0, Z0, Z0
	VGATHERDPS  (SI)(Z1*4), K2, Z0
	VMOVUPS     Z0, K1, (DI)(BX*4)
	ADDQ        $16, BX
	JMP         igturn

igrowdone:
	ADDQ R13, DI
	LEAQ (DX)(R11*4), DX
	DECQ R9
	JMP  igrow

ignext:
	ADDQ R12, SI
	DECQ R8
	JMP  igch

igdone:
	VZEROUPPER
	RET
