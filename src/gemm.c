/* gemm.c — the deterministic GEMM of kernel.h: blocking, packing of B
 * (from a matrix or a callback) and the scalar micro-kernel. The SIMD
 * micro-kernels live in gemm_avx2.c / gemm_avx512.c. */
#include <string.h>
#include "kernel.h"

#define SCALAR_NR 16
#define NC 512   /* columns of B packed at once */

size_t og_gemm_workspace_bytes(void) { return (size_t)OG_GEMM_KC * NC * sizeof(float) + 64; }

int og_gemm_nr(void) { return SCALAR_NR; }

/* Packs B[k0.., j0..] of a plain matrix in panel order. */
static void pack_matrix(const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float *dst)
{
    for (int64_t jp = 0; jp < nc; jp += nr) {
        float *panel = dst + (jp / nr) * kc * nr;
        for (int64_t k = 0; k < kc; k++)
            for (int c = 0; c < nr; c++) {
                int64_t j = jp + c;
                float v = 0;
                if (j < nc)
                    v = b->trans ? b->data[(j0 + j) * b->ld + k0 + k] : b->data[(k0 + k) * b->ld + j0 + j];
                panel[k * nr + c] = v;
            }
    }
}

void og_sgemm(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const og_gemm_b *B, float beta, float *C, int64_t ldc, void *workspace)
{
    float *bp = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    const int nr = SCALAR_NR;
    if (K == 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return;
    }
    for (int64_t j0 = 0; j0 < N; j0 += NC) {
        int64_t nc = N - j0 < NC ? N - j0 : NC;
        for (int64_t k0 = 0; k0 < K; k0 += OG_GEMM_KC) {
            int64_t kc = K - k0 < OG_GEMM_KC ? K - k0 : OG_GEMM_KC;
            if (B->pack)
                B->pack(B->ctx, k0, kc, j0, nc, nr, bp);
            else
                pack_matrix(B, k0, kc, j0, nc, nr, bp);
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < nc; j++) {
                    const float *panel = bp + (j / nr) * kc * nr + j % nr;
                    float acc = 0;
                    for (int64_t k = 0; k < kc; k++) {
                        float a = trans_a ? A[(k0 + k) * lda + i] : A[i * lda + k0 + k];
                        acc += a * panel[k * nr];
                    }
                    float *c = &C[i * ldc + j0 + j];
                    *c = k0 == 0 ? (beta == 0 ? alpha * acc : beta * *c + alpha * acc) : *c + alpha * acc;
                }
        }
    }
}

void og_sgemm_mat(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *workspace)
{
    og_gemm_b b = { .data = B, .ld = ldb, .trans = trans_b };
    og_sgemm(trans_a, M, N, K, alpha, A, lda, &b, beta, C, ldc, workspace);
}
