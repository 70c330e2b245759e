/* gemm_avx512.c — the AVX-512 micro-kernel: an 8 x 48 register tile (24
 * zmm accumulators, 3 zmm of B and one broadcast of A per row and k).
 * 8 rows because convolution GEMMs have M = 16, 32, 64 output channels;
 * 48 columns keep 24 FMAs in flight for the FMA latency. Built with
 * -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma (this file only). */
#include "gemm_impl.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#define MR 8
#define NR 48

/* One k step for one row: the broadcast of A times the three B vectors. */
#define ROW(r)                                                            \
    do {                                                                  \
        __m512 a_ = _mm512_set1_ps(a[r]);                                 \
        c##r##0 = _mm512_fmadd_ps(a_, b0, c##r##0);                       \
        c##r##1 = _mm512_fmadd_ps(a_, b1, c##r##1);                       \
        c##r##2 = _mm512_fmadd_ps(a_, b2, c##r##2);                       \
    } while (0)

#define STEP()                                                            \
    do {                                                                  \
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), b2 = _mm512_load_ps(b + 32); \
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5); ROW(6); ROW(7);   \
        a += MR;                                                          \
        b += NR;                                                          \
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

#define STORE_ROW(r)                                                                         \
    do {                                                                                     \
        if (r < m) {                                                                         \
            float *cr = c + (r) * ldc;                                                       \
            _mm512_mask_storeu_ps(cr, k0, combine(c##r##0, cr, k0, va, vb, mode));           \
            _mm512_mask_storeu_ps(cr + 16, k1, combine(c##r##1, cr + 16, k1, va, vb, mode)); \
            _mm512_mask_storeu_ps(cr + 32, k2, combine(c##r##2, cr + 32, k2, va, vb, mode)); \
        }                                                                                    \
    } while (0)

static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

static void kernel_8x48(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int m, int n,
                        float alpha, float beta, int mode)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    __m512 c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
    __m512 c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;

    for (int r = 0; r < m; r++) {   /* C is touched after the loop: fetch it meanwhile */
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + 32), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + 47), _MM_HINT_T0);
    }
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
        _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 8 * NR + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 8 * NR + 32), _MM_HINT_T0);
        STEP();
        _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 8 * NR + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 8 * NR + 32), _MM_HINT_T0);
        STEP();
        _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 8 * NR + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 8 * NR + 32), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + 16 * MR), _MM_HINT_T0);
        STEP();
        _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 8 * NR + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 8 * NR + 32), _MM_HINT_T0);
        STEP();
    }
    for (; k < kc; k++)
        STEP();

    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __mmask16 k0 = lanes(n), k1 = lanes(n - 16), k2 = lanes(n - 32);
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2); STORE_ROW(3);
    STORE_ROW(4); STORE_ROW(5); STORE_ROW(6); STORE_ROW(7);
}

/* A micro-panel: trans_a copies 8 floats per k; otherwise an 8 x 8
 * transpose per 8 k (rows past m read as zero). */
static void pack_a_8(bool trans, const float *A, int64_t lda, int m, int64_t kc, float *dst)
{
    if (trans) {
        __mmask16 km = lanes(m);
        for (int64_t k = 0; k < kc; k++)
            _mm256_store_ps(dst + k * MR, _mm512_castps512_ps256(_mm512_maskz_loadu_ps(km, A + k * lda)));
        return;
    }
    if (m < MR) {
        og_gemm_pack_a_generic(MR, trans, A, lda, m, kc, dst);
        return;
    }
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
        __m256 r0 = _mm256_loadu_ps(A + 0 * lda + k), r1 = _mm256_loadu_ps(A + 1 * lda + k);
        __m256 r2 = _mm256_loadu_ps(A + 2 * lda + k), r3 = _mm256_loadu_ps(A + 3 * lda + k);
        __m256 r4 = _mm256_loadu_ps(A + 4 * lda + k), r5 = _mm256_loadu_ps(A + 5 * lda + k);
        __m256 r6 = _mm256_loadu_ps(A + 6 * lda + k), r7 = _mm256_loadu_ps(A + 7 * lda + k);
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
        __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
        __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
        __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
        __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
        __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
        float *d = dst + k * MR;
        _mm256_store_ps(d + 0 * MR, _mm256_permute2f128_ps(s0, s4, 0x20));
        _mm256_store_ps(d + 1 * MR, _mm256_permute2f128_ps(s1, s5, 0x20));
        _mm256_store_ps(d + 2 * MR, _mm256_permute2f128_ps(s2, s6, 0x20));
        _mm256_store_ps(d + 3 * MR, _mm256_permute2f128_ps(s3, s7, 0x20));
        _mm256_store_ps(d + 4 * MR, _mm256_permute2f128_ps(s0, s4, 0x31));
        _mm256_store_ps(d + 5 * MR, _mm256_permute2f128_ps(s1, s5, 0x31));
        _mm256_store_ps(d + 6 * MR, _mm256_permute2f128_ps(s2, s6, 0x31));
        _mm256_store_ps(d + 7 * MR, _mm256_permute2f128_ps(s3, s7, 0x31));
    }
    for (; k < kc; k++)
        for (int r = 0; r < MR; r++)
            dst[k * MR + r] = A[r * lda + k];
}

static void pack_b_48(const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst)
{
    if (b->trans) {
        og_gemm_pack_b_generic(NR, b, k0, kc, j0, nc, dst);
        return;
    }
    const int64_t ld = b->ld;
    for (int64_t jp = 0; jp < nc; jp += NR) {
        float *panel = dst + (jp / NR) * kc * NR;
        int w = nc - jp < NR ? (int)(nc - jp) : NR;
        const __mmask16 m0 = lanes(w), m1 = lanes(w - 16), m2 = lanes(w - 32);
        const float *src = b->data + k0 * ld + j0 + jp;
        for (int64_t k = 0; k < kc; k++) {
            const float *s = src + k * ld;
            float *d = panel + k * NR;
            _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, s));
            _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, s + 16));
            _mm512_store_ps(d + 32, _mm512_maskz_loadu_ps(m2, s + 32));
        }
    }
}

static const og_gemm_impl impl = {
    .isa = OG_ISA_AVX512, .mr = MR, .nr = NR, .mc = 96, .nc = 480,
    .kernel = kernel_8x48, .pack_a = pack_a_8, .pack_b = pack_b_48,
};

const og_gemm_impl *og_gemm_impl_avx512(void) { return &impl; }

#else
const og_gemm_impl *og_gemm_impl_avx512(void) { return NULL; }
#endif
