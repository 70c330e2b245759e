/* SPDX-License-Identifier: MIT */
/* gemm_x86.h — packing helpers shared by gemm_avx2.c and gemm_avx512.c
 * (both built with at least AVX2). Internal to the GEMM. */
#ifndef ONNXGRAD_GEMM_X86_H
#define ONNXGRAD_GEMM_X86_H

#include <immintrin.h>
#include "gemm_impl.h"

/* dst[c * ldd + r] = row r's lane c, for 8 rows of 8 floats. */
static inline __attribute__((always_inline)) void og_transpose8x8_rows(const __m256 r[8], float *dst, int64_t ldd)
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}

/* dst[c * ldd + r] = src[r * lds + c] for an 8 x 8 block. */
static inline __attribute__((always_inline)) void og_transpose8x8(const float *src, int64_t lds, float *dst, int64_t ldd)
{
    __m256 r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * lds);
    og_transpose8x8_rows(r, dst, ldd);
}

/* B stored [N x K] (trans): each panel column is a contiguous run of k, so
 * the panel is built from 8 x 8 transposes; partial groups of columns and
 * the k tail go element by element (zeros past nc). */
static inline __attribute__((always_inline)) void og_pack_b_trans_x86(const int nr, const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0,
                                       int64_t nc, float *dst)
{
    const int64_t ld = b->ld;
    const int64_t k8 = kc & ~(int64_t)7;
    for (int64_t jp = 0; jp < nc; jp += nr) {
        float *panel = dst + (jp / nr) * kc * nr;
        for (int g = 0; g < nr; g += 8) {
            int64_t j = jp + g;   /* first column of this group */
            const float *src = b->data + (j0 + j) * ld + k0;
            if (j + 8 <= nc) {
                for (int64_t k = 0; k < k8; k += 8) {
                    if (k + 128 < kc)   /* 512 bytes ahead: enough misses in flight to cover the latency (measured) */
                        for (int r = 0; r < 8; r++)
                            _mm_prefetch((const char *)(src + r * ld + k + 128), _MM_HINT_T0);
                    og_transpose8x8(src + k, ld, panel + k * nr + g, nr);
                }
                for (int64_t k = k8; k < kc; k++)
                    for (int c = 0; c < 8; c++)
                        panel[k * nr + g + c] = src[c * ld + k];
            } else if (j >= nc) {   /* padding columns of the last panel */
                for (int64_t k = 0; k < kc; k++)
                    _mm256_storeu_ps(panel + k * nr + g, _mm256_setzero_ps());
            } else {   /* w < 8 columns: transposes with zero rows for the rest */
                int w = (int)(nc - j);
                __m256 r[8];
                for (int c = w; c < 8; c++)
                    r[c] = _mm256_setzero_ps();
                for (int64_t k = 0; k < k8; k += 8) {
                    for (int c = 0; c < w; c++)
                        r[c] = _mm256_loadu_ps(src + c * ld + k);
                    og_transpose8x8_rows(r, panel + k * nr + g, nr);
                }
                for (int64_t k = k8; k < kc; k++)
                    for (int c = 0; c < 8; c++)
                        panel[k * nr + g + c] = c < w ? src[c * ld + k] : 0.0f;
            }
        }
    }
}

#endif
