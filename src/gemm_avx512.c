/* SPDX-License-Identifier: MIT */
/* gemm_avx512.c — the AVX-512 micro-kernel: an 8 x 48 register tile (24
 * zmm accumulators, 3 zmm of B and one broadcast of A per row and k).
 * 8 rows because convolution GEMMs have M = 16, 32, 64 output channels;
 * 48 columns keep 24 FMAs in flight for the FMA latency. Built with
 * -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma (this file only). */
#include "gemm_impl.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include "gemm_x86.h"

#define MR 8
#define NR 48

/* The register tile, for NV = 3, 2 or 1 vectors of B columns: a tile whose
 * valid columns fit in fewer vectors skips the FMAs of the empty ones (a
 * 256-column block ends in a 16-column panel: a third of its FMAs). Each C
 * element still sees the same FMAs in the same order, so the bits are the
 * same whichever variant computes it. */
#define ROW(r)                                                            \
    do {                                                                  \
        __m512 a_ = _mm512_set1_ps(a[r]);                                 \
        c##r##0 = _mm512_fmadd_ps(a_, b0, c##r##0);                       \
        if (NV > 1)                                                       \
            c##r##1 = _mm512_fmadd_ps(a_, b1, c##r##1);                   \
        if (NV > 2)                                                       \
            c##r##2 = _mm512_fmadd_ps(a_, b2, c##r##2);                   \
    } while (0)

#define STEP()                                                            \
    do {                                                                  \
        __m512 b0 = _mm512_load_ps(b), b1 = b0, b2 = b0;                  \
        if (NV > 1)                                                       \
            b1 = _mm512_load_ps(b + 16);                                  \
        if (NV > 2)                                                       \
            b2 = _mm512_load_ps(b + 32);                                  \
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5); ROW(6); ROW(7);   \
        a += MR;                                                          \
        b += NR;                                                          \
    } while (0)

#define PREFETCH_B()                                                      \
    do {                                                                  \
        _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);            \
        if (NV > 1)                                                       \
            _mm_prefetch((const char *)(b + 8 * NR + 16), _MM_HINT_T0);   \
        if (NV > 2)                                                       \
            _mm_prefetch((const char *)(b + 8 * NR + 32), _MM_HINT_T0);   \
    } while (0)

static inline __m512 combine(__m512 acc, const float *c, __mmask16 k, __m512 alpha, __m512 beta, int mode)
{
    if (mode == OG_GEMM_FIRST0)
        return _mm512_mul_ps(alpha, acc);
    __m512 old = _mm512_maskz_loadu_ps(k, c);
    if (mode == OG_GEMM_FIRST)
        old = _mm512_mul_ps(beta, old);
    return _mm512_fmadd_ps(alpha, acc, old);
}

#define STORE_ROW(r)                                                                             \
    do {                                                                                         \
        if (r < m) {                                                                             \
            float *cr = c + (r) * ldc;                                                           \
            _mm512_mask_storeu_ps(cr, k0, combine(c##r##0, cr, k0, va, vb, mode));               \
            if (NV > 1)                                                                          \
                _mm512_mask_storeu_ps(cr + 16, k1, combine(c##r##1, cr + 16, k1, va, vb, mode)); \
            if (NV > 2)                                                                          \
                _mm512_mask_storeu_ps(cr + 32, k2, combine(c##r##2, cr + 32, k2, va, vb, mode)); \
        }                                                                                        \
    } while (0)

static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

static inline __attribute__((always_inline)) void tile_8xv(const int NV, int64_t kc, const float *a, const float *b,
                                                          float *c, int64_t ldc, int m, int n, float alpha, float beta,
                                                          int mode)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    __m512 c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
    __m512 c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;

    for (int r = 0; r < m; r++) {   /* C is touched after the loop: fetch it meanwhile */
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        if (NV > 1)
            _mm_prefetch((const char *)(c + r * ldc + 16 * NV - 16), _MM_HINT_T0);
        if (NV > 2)
            _mm_prefetch((const char *)(c + r * ldc + 47), _MM_HINT_T0);
    }
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
        PREFETCH_B();
        STEP();
        PREFETCH_B();
        STEP();
        PREFETCH_B();
        _mm_prefetch((const char *)(a + 16 * MR), _MM_HINT_T0);
        STEP();
        PREFETCH_B();
        STEP();
    }
    for (; k < kc; k++)
        STEP();

    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __mmask16 k0 = lanes(n), k1 = lanes(n - 16), k2 = lanes(n - 32);
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2); STORE_ROW(3);
    STORE_ROW(4); STORE_ROW(5); STORE_ROW(6); STORE_ROW(7);
}

static void kernel_8x48(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int m, int n,
                        float alpha, float beta, int mode)
{
    if (n > 32)
        tile_8xv(3, kc, a, b, c, ldc, m, n, alpha, beta, mode);
    else if (n > 16)
        tile_8xv(2, kc, a, b, c, ldc, m, n, alpha, beta, mode);
    else
        tile_8xv(1, kc, a, b, c, ldc, m, n, alpha, beta, mode);
}

/* A micro-panel: an 8 x 8 transpose per 8 k, and for fewer than 8 rows
 * the portable packer (it writes the zero rows). */
static void pack_a_8(const float *A, int64_t lda, int m, int64_t kc, float *dst)
{
    if (m < MR) {
        og_gemm_pack_a_generic(MR, A, lda, m, kc, dst);
        return;
    }
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8)
        og_transpose8x8(A + k, lda, dst + k * MR, MR);
    for (; k < kc; k++)
        for (int r = 0; r < MR; r++)
            dst[k * MR + r] = A[r * lda + k];
}

/* Plain B: row k of the block is nc contiguous floats, read in one sweep
 * across all panels (long runs keep the hardware prefetcher going), with
 * the rows a few k ahead prefetched since consecutive rows are ld apart. */
static void pack_b_48(const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst)
{
    if (b->trans) {
        og_pack_b_trans_x86(NR, b, k0, kc, j0, nc, dst);
        return;
    }
    const int64_t ld = b->ld;
    const int64_t full = nc / NR * NR;
    const int w = (int)(nc - full);
    const __mmask16 m0 = lanes(w), m1 = lanes(w - 16), m2 = lanes(w - 32);
    const float *src = b->data + k0 * ld + j0;
    for (int64_t k = 0; k < kc; k++) {
        const float *s = src + k * ld;
        if (k + 16 < kc)
            for (int64_t j = 0; j < nc; j += 16)
                _mm_prefetch((const char *)(s + 16 * ld + j), _MM_HINT_T1);
        float *d = dst + k * NR;
        int64_t jp = 0;
        for (; jp < full; jp += NR, d += kc * NR) {
            _mm512_store_ps(d, _mm512_loadu_ps(s + jp));
            _mm512_store_ps(d + 16, _mm512_loadu_ps(s + jp + 16));
            _mm512_store_ps(d + 32, _mm512_loadu_ps(s + jp + 32));
        }
        if (w) {
            _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, s + jp));
            _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, s + jp + 16));
            _mm512_store_ps(d + 32, _mm512_maskz_loadu_ps(m2, s + jp + 32));
        }
    }
}

/* Blocking (measured on Zen 5); the workspace is sized for the largest. */
#define MC 96
#define NC 240
#define NC_LARGE 480
_Static_assert(MC % MR == 0 && MC <= OG_GEMM_MC_MAX && NC % NR == 0 && NC <= OG_GEMM_NC_MAX &&
                   NC_LARGE % NR == 0 && NC_LARGE <= OG_GEMM_NC_MAX, "GEMM blocking");

static const og_gemm_impl impl = {
    .isa = OG_ISA_AVX512, .mr = MR, .nr = NR, .mc = MC, .nc = NC, .nc_large = NC_LARGE,
    .kernel = kernel_8x48, .pack_a = pack_a_8, .pack_b = pack_b_48,
};

const og_gemm_impl *og_gemm_impl_avx512(void) { return &impl; }

#else
const og_gemm_impl *og_gemm_impl_avx512(void) { return NULL; }
#endif
