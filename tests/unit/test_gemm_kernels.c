/* SPDX-License-Identifier: MIT */
/* The deterministic GEMM of kernel.h (og_sgemm) on every ISA this CPU has:
 * accuracy against a double-precision reference over shapes with tails,
 * both layouts of A and B and the packing callback, alpha/beta, padded
 * leading dimensions; and the determinism contract: a call on a sub-block
 * of C gives the same bits as the full call, and so does a repeated call. */
#include <math.h>
#include <stdint.h>
#include "kernel.h"
#include "testutil.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;
static float frand(void)   /* uniform in [-1, 1) */
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}
static int64_t irand(int64_t n)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (int64_t)((rng >> 33) % (uint64_t)n);
}

/* B as a matrix (trans: stored [N x K]); the callback reads it with a
 * column offset, as a convolution's packer reads an image. */
typedef struct bsrc {
    const float *data;
    int64_t ld;
    bool trans;
    int64_t j_off;
} bsrc;

static float bget(const bsrc *s, int64_t k, int64_t j)
{
    j += s->j_off;
    return s->trans ? s->data[j * s->ld + k] : s->data[k * s->ld + j];
}

static void pack_cb(void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float *dst)
{
    const bsrc *s = ctx;
    int64_t panels = (nc + nr - 1) / nr;
    for (int64_t p = 0; p < panels; p++)
        for (int64_t k = 0; k < kc; k++)
            for (int c = 0; c < nr; c++) {
                int64_t j = p * nr + c;
                dst[p * kc * nr + k * nr + c] = j < nc ? bget(s, k0 + k, j0 + j) : 0.0f;
            }
}

enum { B_PLAIN, B_TRANS, B_CALLBACK };

typedef struct prob {
    bool trans_a;
    int bmode;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
    float *A, *B, *C0;   /* C0: C before the call */
} prob;

static void prob_init(prob *p, bool trans_a, int bmode, int64_t M, int64_t N, int64_t K, float alpha, float beta)
{
    *p = (prob){ .trans_a = trans_a, .bmode = bmode, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta };
    /* padded leading dimensions, sometimes none */
    p->lda = (trans_a ? M : K) + irand(3) * 5;
    p->ldb = (bmode == B_TRANS ? K : N) + irand(3) * 3;
    p->ldc = N + irand(3) * 7;
    int64_t na = (trans_a ? K : M) * p->lda + 1, nb = (bmode == B_TRANS ? N : K) * p->ldb + 1;
    int64_t nc = M * p->ldc + 1;
    p->A = malloc(sizeof(float) * na);
    p->B = malloc(sizeof(float) * nb);
    p->C0 = malloc(sizeof(float) * nc);
    for (int64_t i = 0; i < na; i++)
        p->A[i] = frand();
    for (int64_t i = 0; i < nb; i++)
        p->B[i] = frand();
    for (int64_t i = 0; i < nc; i++)
        p->C0[i] = beta == 0 ? NAN : frand();
}

static void prob_free(prob *p)
{
    free(p->A);
    free(p->B);
    free(p->C0);
}

/* og_sgemm on rows [i0, i0+m) and columns [j0, j0+n) of the problem's C. */
static void run_block(const prob *p, int64_t i0, int64_t m, int64_t j0, int64_t n, float *C, void *ws)
{
    const float *A = p->trans_a ? p->A + i0 : p->A + i0 * p->lda;
    bsrc src = { p->B, p->ldb, p->bmode == B_TRANS, j0 };
    og_gemm_b b = { 0 };
    if (p->bmode == B_CALLBACK) {
        b.pack = pack_cb;
        b.ctx = &src;
    } else {
        b.data = p->bmode == B_TRANS ? p->B + j0 * p->ldb : p->B + j0;
        b.ld = p->ldb;
        b.trans = p->bmode == B_TRANS;
    }
    og_sgemm(p->trans_a, m, n, p->K, p->alpha, A, p->lda, &b, p->beta, C + i0 * p->ldc + j0, p->ldc, ws);
}

static float *fresh_c(const prob *p)
{
    size_t n = (size_t)(p->M * p->ldc + 1);
    float *c = malloc(sizeof(float) * n);
    memcpy(c, p->C0, sizeof(float) * n);
    return c;
}

static void *workspace(void)
{
    size_t n = og_gemm_workspace_bytes();
    ck_assert_uint_le(n, (size_t)2 << 20);
    return malloc(n + 1) + 1;   /* misaligned on purpose: alignment is og_sgemm's job */
}

static void check_against_reference(const prob *p, const float *C)
{
    for (int64_t i = 0; i < p->M; i++)
        for (int64_t j = 0; j < p->N; j++) {
            double s = 0, mag = 0;
            for (int64_t k = 0; k < p->K; k++) {
                double a = p->trans_a ? p->A[k * p->lda + i] : p->A[i * p->lda + k];
                double b = p->bmode == B_TRANS ? p->B[j * p->ldb + k] : p->B[k * p->ldb + j];
                s += a * b;
                mag += fabs(a * b);
            }
            double ref = p->alpha * s, c0 = p->C0[i * p->ldc + j];
            if (p->beta != 0)
                ref += p->beta * c0;
            double tol = 1e-6 * (double)(p->K + 2) * (fabs(p->alpha) * (mag / (p->K + 1) + 1) + fabs(p->beta));
            double got = C[i * p->ldc + j];
            ck_assert_msg(fabs(got - ref) <= tol,
                          "%s M=%ld N=%ld K=%ld ta=%d b=%d alpha=%g beta=%g: C[%ld,%ld]=%.9g, want %.9g",
                          og_isa_name(og_gemm_isa()), (long)p->M, (long)p->N, (long)p->K, p->trans_a, p->bmode,
                          p->alpha, p->beta, (long)i, (long)j, got, ref);
        }
    /* padding past each row's N stays as it was */
    for (int64_t i = 0; i < p->M; i++)
        for (int64_t j = p->N; j < p->ldc && i * p->ldc + j < p->M * p->ldc; j++)
            ck_assert(memcmp(&C[i * p->ldc + j], &p->C0[i * p->ldc + j], sizeof(float)) == 0);
}

static const og_isa all_isas[] = { OG_ISA_SCALAR, OG_ISA_AVX2, OG_ISA_AVX512 };

static void one_case(bool trans_a, int bmode, int64_t M, int64_t N, int64_t K, float alpha, float beta, void *ws)
{
    prob p;
    prob_init(&p, trans_a, bmode, M, N, K, alpha, beta);
    float *C = fresh_c(&p);
    run_block(&p, 0, M, 0, N, C, ws);
    check_against_reference(&p, C);
    free(C);
    prob_free(&p);
}

START_TEST(matches_reference)
{
    static const int64_t sizes[] = { 0, 1, 7, 17, 33, 100, 513 };
    static const float alphas[] = { 1.0f, -0.5f, 2.0f }, betas[] = { 0.0f, 1.0f, 0.25f };
    void *ws = workspace();
    for (int t = 0; t < 3; t++) {
        if (!og_gemm_force_isa(all_isas[t]))
            continue;
        ck_assert_int_eq(og_gemm_isa(), all_isas[t]);
        for (int ta = 0; ta < 2; ta++)
            for (int bm = 0; bm < 3; bm++) {
                /* every size in every position once, then random mixes */
                for (int s = 0; s < 7; s++) {
                    one_case(ta, bm, sizes[s], 17, 33, 1.0f, 0.0f, ws);
                    one_case(ta, bm, 9, sizes[s], 21, -0.5f, 1.0f, ws);
                    one_case(ta, bm, 13, 31, sizes[s], 2.0f, 0.25f, ws);
                }
                for (int r = 0; r < 6; r++) {
                    int64_t M = sizes[irand(7)], N = sizes[irand(7)], K = sizes[irand(7)];
                    while (M * N * K > 3000000)
                        M = M / 2 + 1;
                    one_case(ta, bm, M, N, K, alphas[irand(3)], betas[irand(3)], ws);
                }
                /* all blocking levels at once: M > MC, N > NC, K > 2 KC, tails everywhere */
                one_case(ta, bm, 101, 515, 529, 0.75f, 0.5f, ws);
            }
    }
    free((char *)ws - 1);
}
END_TEST

START_TEST(beta_zero_ignores_nan)
{
    void *ws = workspace();
    for (int t = 0; t < 3; t++) {
        if (!og_gemm_force_isa(all_isas[t]))
            continue;
        prob p;
        prob_init(&p, false, B_PLAIN, 19, 53, 300, 1.0f, 0.0f);   /* C0 is all NaN */
        float *C = fresh_c(&p);
        run_block(&p, 0, p.M, 0, p.N, C, ws);
        for (int64_t i = 0; i < p.M; i++)
            for (int64_t j = 0; j < p.N; j++)
                ck_assert(isfinite(C[i * p.ldc + j]));
        check_against_reference(&p, C);
        /* K = 0: C = beta * C, and with beta = 0, zeros */
        p.K = 0;
        run_block(&p, 0, p.M, 0, p.N, C, ws);
        for (int64_t i = 0; i < p.M; i++)
            for (int64_t j = 0; j < p.N; j++)
                ck_assert(C[i * p.ldc + j] == 0.0f);
        free(C);
        prob_free(&p);
    }
    free((char *)ws - 1);
}
END_TEST

/* Splits C into random row and column ranges and runs one call per block:
 * every element must have the same bits as in the full call. */
static void check_blocks_bit_identical(bool trans_a, int bmode, int64_t M, int64_t N, int64_t K, float alpha,
                                       float beta, void *ws)
{
    prob p;
    prob_init(&p, trans_a, bmode, M, N, K, alpha, beta);
    float *full = fresh_c(&p), *again = fresh_c(&p), *blocks = fresh_c(&p);
    run_block(&p, 0, M, 0, N, full, ws);
    run_block(&p, 0, M, 0, N, again, ws);
    ck_assert_msg(memcmp(full, again, sizeof(float) * (size_t)(M * p.ldc)) == 0, "repeated call differs");
    for (int64_t i0 = 0; i0 < M;) {
        int64_t m = 1 + irand(M - i0 < 40 ? M - i0 : 40);
        for (int64_t j0 = 0; j0 < N;) {
            int64_t n = 1 + irand(N - j0 < 150 ? N - j0 : 150);
            run_block(&p, i0, m, j0, n, blocks, ws);
            j0 += n;
        }
        i0 += m;
    }
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            ck_assert_msg(memcmp(&full[i * p.ldc + j], &blocks[i * p.ldc + j], sizeof(float)) == 0,
                          "%s M=%ld N=%ld K=%ld ta=%d b=%d: C[%ld,%ld] %.9g (block) vs %.9g (full)",
                          og_isa_name(og_gemm_isa()), (long)M, (long)N, (long)K, trans_a, bmode, (long)i, (long)j,
                          blocks[i * p.ldc + j], full[i * p.ldc + j]);
    free(full);
    free(again);
    free(blocks);
    prob_free(&p);
}

START_TEST(sub_blocks_are_bit_identical)
{
    void *ws = workspace();
    for (int t = 0; t < 3; t++) {
        if (!og_gemm_force_isa(all_isas[t]))
            continue;
        for (int ta = 0; ta < 2; ta++)
            for (int bm = 0; bm < 3; bm++) {
                check_blocks_bit_identical(ta, bm, 37, 1100, 600, 1.0f, 0.0f, ws);
                check_blocks_bit_identical(ta, bm, 130, 97, 517, -1.5f, 0.5f, ws);
                check_blocks_bit_identical(ta, bm, 23, 61, 9, 0.5f, 1.0f, ws);
            }
    }
    free((char *)ws - 1);
}
END_TEST

/* Without forcing, the kernel is the one og_isa_active() names (OG_ISA). */
START_TEST(default_follows_og_isa)
{
    ck_assert_int_eq(og_gemm_isa(), og_isa_active());
}
END_TEST

START_TEST(force_isa_sets_nr)
{
    ck_assert(og_gemm_force_isa(OG_ISA_SCALAR));
    ck_assert_int_eq(og_gemm_isa(), OG_ISA_SCALAR);
    int nr_scalar = og_gemm_nr();
    ck_assert_int_gt(nr_scalar, 0);
    if (og_gemm_force_isa(OG_ISA_AVX512)) {
        ck_assert_int_eq(og_gemm_isa(), OG_ISA_AVX512);
        ck_assert_int_eq(og_gemm_nr() % 16, 0);
    }
    ck_assert(!og_gemm_force_isa((og_isa)7));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gemm_kernels");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, default_follows_og_isa);
    tcase_add_test(tc, matches_reference);
    tcase_add_test(tc, beta_zero_ignores_nan);
    tcase_add_test(tc, sub_blocks_are_bit_identical);
    tcase_add_test(tc, force_isa_sets_nr);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
