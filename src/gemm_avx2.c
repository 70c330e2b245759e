/* SPDX-License-Identifier: MIT */
/* gemm_avx2.c — the AVX2 + FMA micro-kernel: a 6 x 16 register tile (12
 * ymm accumulators, 2 ymm of B, one broadcast of A), the classic shape for
 * 16 registers. Built with -mavx2 -mfma (this file only). */
#include "gemm_impl.h"

#if defined(__AVX2__) && defined(__FMA__)
#include "gemm_x86.h"

#define MR 6
#define NR 16

#define ROW(r)                                                            \
    do {                                                                  \
        __m256 a_ = _mm256_broadcast_ss(a + (r));                         \
        c##r##0 = _mm256_fmadd_ps(a_, b0, c##r##0);                       \
        c##r##1 = _mm256_fmadd_ps(a_, b1, c##r##1);                       \
    } while (0)

#define STEP()                                                            \
    do {                                                                  \
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);        \
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5);                   \
        a += MR;                                                          \
        b += NR;                                                          \
    } while (0)

/* Lane masks for maskload/maskstore: lane l is on when l < n. */
static inline __m256i lanes(int n)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

static inline __m256 combine(__m256 acc, const float *c, __m256i k, __m256 alpha, __m256 beta, int mode)
{
    if (mode == OG_GEMM_FIRST0)
        return _mm256_mul_ps(alpha, acc);
    __m256 old = _mm256_maskload_ps(c, k);
    if (mode == OG_GEMM_FIRST)
        old = _mm256_mul_ps(beta, old);
    return _mm256_fmadd_ps(alpha, acc, old);
}

#define STORE_ROW(r)                                                                        \
    do {                                                                                    \
        if (r < m) {                                                                        \
            float *cr = c + (r) * ldc;                                                      \
            _mm256_maskstore_ps(cr, k0, combine(c##r##0, cr, k0, va, vb, mode));            \
            _mm256_maskstore_ps(cr + 8, k1, combine(c##r##1, cr + 8, k1, va, vb, mode));    \
        }                                                                                   \
    } while (0)

static void kernel_6x16(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int m, int n,
                        float alpha, float beta, int mode)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int r = 0; r < m; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + 15), _MM_HINT_T0);
    }
    /* Not unrolled: with 12 accumulators, 2 B vectors and a broadcast, all
     * 16 ymm are taken, and an unrolled body makes GCC spill accumulators. */
    for (int64_t k = 0; k < kc; k++) {
        _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
        STEP();
    }

    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const __m256i k0 = lanes(n), k1 = lanes(n - 8);
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2);
    STORE_ROW(3); STORE_ROW(4); STORE_ROW(5);
}

/* A micro-panel of 6 rows: 8 x 8 transposes of rows 0..5 plus two rows
 * that are read but never stored (rows 0 and 1 again, so no read goes past
 * A), keeping 6 lanes. */
static void pack_a_6(const float *A, int64_t lda, int m, int64_t kc, float *dst)
{
    const __m256i keep = lanes(MR);
    if (m < MR) {
        og_gemm_pack_a_generic(MR, A, lda, m, kc, dst);
        return;
    }
    int64_t k = 0;
    float t[8 * 8];
    for (; k + 8 <= kc; k += 8) {
        const float *rows[8] = { A, A + lda, A + 2 * lda, A + 3 * lda, A + 4 * lda, A + 5 * lda, A, A + lda };
        for (int r = 0; r < 8; r++)
            _mm256_storeu_ps(t + r * 8, _mm256_loadu_ps(rows[r] + k));
        og_transpose8x8(t, 8, t, 8);
        for (int j = 0; j < 8; j++)
            _mm256_maskstore_ps(dst + (k + j) * MR, keep, _mm256_loadu_ps(t + j * 8));
    }
    for (; k < kc; k++)
        for (int r = 0; r < MR; r++)
            dst[k * MR + r] = A[r * lda + k];
}

static void pack_b_16(const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst)
{
    if (b->trans)
        og_pack_b_trans_x86(NR, b, k0, kc, j0, nc, dst);
    else
        og_gemm_pack_b_generic(NR, b, k0, kc, j0, nc, dst);
}

/* Blocking (measured on Zen 5); the workspace is sized for the largest. */
#define MC 96
#define NC 240
#define NC_LARGE 480
_Static_assert(MC % MR == 0 && MC <= OG_GEMM_MC_MAX && NC % NR == 0 && NC <= OG_GEMM_NC_MAX &&
                   NC_LARGE % NR == 0 && NC_LARGE <= OG_GEMM_NC_MAX, "GEMM blocking");

static const og_gemm_impl impl = {
    .isa = OG_ISA_AVX2, .mr = MR, .nr = NR, .mc = MC, .nc = NC, .nc_large = NC_LARGE,
    .kernel = kernel_6x16, .pack_a = pack_a_6, .pack_b = pack_b_16,
};

const og_gemm_impl *og_gemm_impl_avx2(void) { return &impl; }

#else
const og_gemm_impl *og_gemm_impl_avx2(void) { return NULL; }
#endif
