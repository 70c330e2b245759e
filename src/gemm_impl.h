/* SPDX-License-Identifier: MIT */
/* gemm_impl.h — what gemm.c's blocking driver needs from a per-ISA
 * micro-kernel file (gemm_avx512.c, gemm_avx2.c, and the scalar one in
 * gemm.c). Internal to the GEMM. */
#ifndef ONNXGRAD_GEMM_IMPL_H
#define ONNXGRAD_GEMM_IMPL_H

#include "kernel.h"

/* How a micro-kernel combines its k-block sum acc with C:
 *   FIRST0: C = alpha*acc           (first k block, beta == 0: C not read)
 *   FIRST:  C = alpha*acc + beta*C  (first k block)
 *   ACCUM:  C = alpha*acc + C       (later k blocks)
 * The vector kernels fuse the "+" into one FMA; the scalar one rounds
 * twice. Either way every element of C goes through the same sequence. */
enum { OG_GEMM_FIRST0 = 0, OG_GEMM_FIRST = 1, OG_GEMM_ACCUM = 2 };

/* C[0..m) x [0..n) (ldc) from a packed A micro-panel (kc x MR, row r of
 * step k at a[k*MR + r]) and a packed B micro-panel (kc x NR, column c at
 * b[k*NR + c]). m <= MR, n <= NR: the full tile is always computed (on
 * zero padding), only the valid part is loaded and stored. */
typedef void (*og_gemm_ukernel_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int m, int n,
                                   float alpha, float beta, int mode);
/* Packs m <= MR rows of A [M x K] starting at A (already offset to the
 * block's first row and k) into one micro-panel, rows m..MR-1 zero. (A
 * stored transposed is packed by the driver, a whole block per row.) */
typedef void (*og_gemm_pack_a_fn)(const float *A, int64_t lda, int m, int64_t kc, float *dst);
/* Packs B[k0.., j0..] of a plain matrix in the panel order of kernel.h. */
typedef void (*og_gemm_pack_b_fn)(const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst);

typedef struct og_gemm_impl {
    og_isa isa;
    int mr, nr;
    int mc;   /* rows of A packed at once, a multiple of mr, <= OG_GEMM_MC_MAX */
    int nc;   /* columns of B packed at once, a multiple of nr, <= OG_GEMM_NC_MAX */
    int nc_large;   /* the same when M spans several A blocks (A is repacked per B block) */
    og_gemm_ukernel_fn kernel;
    og_gemm_pack_a_fn pack_a;
    og_gemm_pack_b_fn pack_b;
} og_gemm_impl;

#define OG_GEMM_MC_MAX 96
#define OG_GEMM_NC_MAX 480

/* NULL when the file was built without its instruction set (non-x86). */
const og_gemm_impl *og_gemm_impl_avx512(void);
const og_gemm_impl *og_gemm_impl_avx2(void);

/* Portable packers (gemm.c) the ISA files may fall back on. */
void og_gemm_pack_a_generic(int mr, const float *A, int64_t lda, int m, int64_t kc, float *dst);
void og_gemm_pack_b_generic(int nr, const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst);

#endif
