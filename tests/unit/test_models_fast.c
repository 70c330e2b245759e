/* SPDX-License-Identifier: MIT */
/* test_models_fast.c — the fast paths added for the benchmark models'
 * profiles (issue 11). MatMul with a 2-D B shared by a batched A (a linear
 * layer: x·W and its dA = dY·Wᵀ) runs as one tall sgemm over all batch rows:
 * random shapes (few rows per batch, tails shorter than a vector, broadcast
 * batch axes that must NOT collapse) against a double oracle and the
 * reference kernel, bit-identical at 1, 2 and 3 threads, with OG_ISA=avx2
 * and scalar forced. Its dB, now one Gemm(transA) over the flattened rows,
 * against a double oracle and gradchecked (order 1 and 2) in float64. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include "kernel.h"
#include "gradtest.h"
#define NODE "mm"
#include "onenode.h"

static uint64_t seed = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }
static double urand(void) { return (double)(rng() >> 11) / 9007199254740992.0 * 2 - 1; }

static int64_t numel(int r, const int64_t *d)
{
    int64_t n = 1;
    for (int k = 0; k < r; k++)
        n *= d[k];
    return n;
}

/* A [batch..., M, K] (rank ra), B [K, N] or, when bbatch, [bb, K, N] with
 * bb broadcast against A's last batch axis (which then must not collapse). */
typedef struct lin_case {
    int ra, rb;
    int64_t da[OG_MAX_RANK], db[OG_MAX_RANK];
} lin_case;

static void random_case(lin_case *c, bool allow_bbatch)
{
    c->ra = (int)rnd(3, 4);
    int64_t m = rnd(1, 9), k = rnd(1, 40), n = rnd(1, 37);
    for (int d = 0; d < c->ra - 2; d++)
        c->da[d] = rnd(1, 5);
    c->da[c->ra - 2] = m;
    c->da[c->ra - 1] = k;
    if (allow_bbatch && rng() % 4 == 0) {
        c->rb = 3;
        c->db[0] = rng() % 2 ? 1 : c->da[c->ra - 3];
        c->db[1] = k;
        c->db[2] = n;
    } else {
        c->rb = 2;
        c->db[0] = k;
        c->db[1] = n;
    }
}

/* Y = A·B in double, B broadcast (rank 2, or rank 3 against A's last batch axis). */
static double *oracle(const lin_case *c, const double *a, const double *b, int64_t *rows_out)
{
    int64_t m = c->da[c->ra - 2], k = c->da[c->ra - 1], n = c->db[c->rb - 1];
    int64_t P = numel(c->ra - 2, c->da), last = c->da[c->ra - 3];
    double *y = calloc((size_t)(P * m * n) + 1, sizeof *y);
    for (int64_t p = 0; p < P; p++) {
        int64_t ob = c->rb == 3 && c->db[0] != 1 ? p % last : 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t t = 0; t < k; t++)
                    s += a[(p * m + i) * k + t] * b[ob * k * n + t * n + j];
                y[(p * m + i) * n + j] = s;
            }
    }
    *rows_out = P * m;
    return y;
}

static og_graph *mm_graph(og_dtype dt, const lin_case *c, bool dyn)
{
    og_graph *g;
    int64_t da[OG_MAX_RANK];
    memcpy(da, c->da, sizeof da);
    if (dyn)
        da[0] = -1;   /* unknown shape: the plan keeps the reference kernel */
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 13));
    OG_CHECK(og_graph_add_input(g, "A", dt, c->ra, da, NULL));
    OG_CHECK(og_graph_add_input(g, "B", dt, c->rb, c->db, NULL));
    const char *in[2] = { "A", "B" }, *out[1] = { "Y" };
    OG_CHECK(og_graph_add_node(g, "MatMul", NULL, NODE, 2, in, 1, out, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static const char *want_isa;

static og_tensor *run_graph(const og_graph *g, int threads, og_tensor *a, og_tensor *b, bool want_fast)
{
    og_plan_options po = { .n_threads = threads };
    og_plan *p;
    og_tensor *y = NULL;
    const og_tensor *f[2] = { a, b };
    OG_CHECK(og_plan_create_ex(g, &po, &p));
    for (int s = 0; s < og_plan_num_steps(p); s++) {
        const char *nn, *op, *k;
        OG_CHECK(og_plan_step(p, s, &nn, &op, &k));
        if (strcmp(op, "MatMul") == 0) {
            bool fast = strncmp(k, "matmul_sgemm", 12) == 0;
            ck_assert_msg(fast == want_fast, "kernel %s", k);
            ck_assert_msg(!fast || !want_isa || strstr(k, want_isa), "kernel %s, expected %s", k, want_isa);
        }
    }
    OG_CHECK(og_plan_run(p, 2, f, &y));
    og_plan_free(p);
    return y;
}

static void forward_cases(int count)
{
    for (int it = 0; it < count; it++) {
        lin_case c;
        random_case(&c, true);
        int64_t na = numel(c.ra, c.da), nb = numel(c.rb, c.db), rows;
        double *ad = malloc(sizeof(double) * (size_t)na), *bd = malloc(sizeof(double) * (size_t)nb);
        float *af = malloc(sizeof(float) * (size_t)na), *bf = malloc(sizeof(float) * (size_t)nb);
        for (int64_t i = 0; i < na; i++)
            ad[i] = af[i] = (float)urand();
        for (int64_t i = 0; i < nb; i++)
            bd[i] = bf[i] = (float)urand();
        double *ref = oracle(&c, ad, bd, &rows);
        og_tensor *a, *b;
        OG_CHECK(og_tensor_create_from(OG_FLOAT, c.ra, c.da, af, &a));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, c.rb, c.db, bf, &b));
        og_graph *g = mm_graph(OG_FLOAT, &c, false), *gd = mm_graph(OG_FLOAT, &c, true);
        og_tensor *y1 = run_graph(g, 1, a, b, true), *yr = run_graph(gd, 1, a, b, false);
        int64_t n = c.db[c.rb - 1], k = c.da[c.ra - 1];
        ck_assert_int_eq(y1->numel, rows * n);
        ck_assert_int_eq(yr->numel, rows * n);
        double tol = 1e-5 * (double)(k + 1);
        for (int64_t i = 0; i < y1->numel; i++) {
            float f = ((float *)y1->data)[i], r = ((float *)yr->data)[i];
            ck_assert_msg(fabs(f - ref[i]) <= tol && fabs(r - ref[i]) <= tol,
                          "case %d (rank %d, B rank %d) element %lld: fast %g reference %g oracle %g", it, c.ra, c.rb,
                          (long long)i, f, r, ref[i]);
        }
        for (int t = 2; t <= 3; t++) {
            og_tensor *yt = run_graph(g, t, a, b, true);
            ck_assert_msg(memcmp(yt->data, y1->data, sizeof(float) * (size_t)y1->numel) == 0,
                          "case %d: %d threads differ from 1", it, t);
            og_tensor_free(yt);
        }
        og_tensor_free(y1);
        og_tensor_free(yr);
        og_tensor_free(a);
        og_tensor_free(b);
        og_graph_free(g);
        og_graph_free(gd);
        free(ref);
        free(ad);
        free(bd);
        free(af);
        free(bf);
    }
}

START_TEST(linear_forward)
{
    forward_cases(60);
}
END_TEST

START_TEST(linear_forward_avx2)
{
    setenv("OG_ISA", "avx2", 1);
    want_isa = og_isa_active() == OG_ISA_AVX2 ? "_avx2" : NULL;   /* a CPU without AVX2 falls back */
    forward_cases(25);
}
END_TEST

START_TEST(linear_forward_scalar)
{
    setenv("OG_ISA", "scalar", 1);
    want_isa = "_scalar";
    forward_cases(25);
}
END_TEST

/* dA and dB of A·B (2-D B) in float32 from og_gradients, against the double
 * oracle dA = dY·Bᵀ, dB = Σ over rows of Aᵀ·dY; static and symbolic batch. */
START_TEST(linear_gradients)
{
    for (int it = 0; it < 30; it++) {
        lin_case c;
        random_case(&c, false);
        int64_t na = numel(c.ra, c.da), nb = numel(c.rb, c.db), rows;
        int64_t m = c.da[c.ra - 2], k = c.da[c.ra - 1], n = c.db[1];
        double *ad = malloc(sizeof(double) * (size_t)na), *bd = malloc(sizeof(double) * (size_t)nb);
        float *af = malloc(sizeof(float) * (size_t)na), *bf = malloc(sizeof(float) * (size_t)nb);
        for (int64_t i = 0; i < na; i++)
            ad[i] = af[i] = (float)urand();
        for (int64_t i = 0; i < nb; i++)
            bd[i] = bf[i] = (float)urand();
        free(oracle(&c, ad, bd, &rows));
        ck_assert_int_eq(rows, na / k);
        (void)m;
        double *dyd = malloc(sizeof(double) * (size_t)(rows * n));
        float *dyf = malloc(sizeof(float) * (size_t)(rows * n));
        for (int64_t i = 0; i < rows * n; i++)
            dyd[i] = dyf[i] = (float)urand();
        int64_t ydims[OG_MAX_RANK];
        memcpy(ydims, c.da, sizeof ydims);
        ydims[c.ra - 1] = n;
        og_tensor *in[2], *sd;
        OG_CHECK(og_tensor_create_from(OG_FLOAT, c.ra, c.da, af, &in[0]));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, c.rb, c.db, bf, &in[1]));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, c.ra, ydims, dyf, &sd));
        for (int dyn = 0; dyn < 2; dyn++) {
            og_graph *g = mm_graph(OG_FLOAT, &c, dyn);
            const char *seeded[1] = { "Y" };
            og_grad_options o = { .n_seeded = 1, .seeded = seeded };
            og_tensor *gr[2];
            OG_CHECK(og_gradients(g, &o, 2, (const og_tensor *const *)in, (const og_tensor *const *)&sd, gr));
            ck_assert_int_eq(gr[0]->numel, na);
            ck_assert_int_eq(gr[1]->numel, nb);
            for (int64_t r = 0; r < rows; r++)
                for (int64_t t = 0; t < k; t++) {
                    double s = 0;
                    for (int64_t j = 0; j < n; j++)
                        s += dyd[r * n + j] * bd[t * n + j];
                    double got = ((float *)gr[0]->data)[r * k + t];
                    ck_assert_msg(fabs(got - s) <= 1e-5 * (double)(n + 1), "case %d dA[%lld]: %g, oracle %g", it,
                                  (long long)(r * k + t), got, s);
                }
            for (int64_t t = 0; t < k; t++)
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t r = 0; r < rows; r++)
                        s += ad[r * k + t] * dyd[r * n + j];
                    double got = ((float *)gr[1]->data)[t * n + j];
                    ck_assert_msg(fabs(got - s) <= 1e-5 * (double)(rows + 1), "case %d dB[%lld]: %g, oracle %g", it,
                                  (long long)(t * n + j), got, s);
                }
            og_tensor_free(gr[0]);
            og_tensor_free(gr[1]);
            og_graph_free(g);
        }
        og_tensor_free(in[0]);
        og_tensor_free(in[1]);
        og_tensor_free(sd);
        free(ad);
        free(bd);
        free(af);
        free(bf);
        free(dyd);
        free(dyf);
    }
}
END_TEST

START_TEST(linear_gradcheck)
{
    for (int it = 0; it < 12; it++) {
        lin_case c;
        random_case(&c, false);
        for (int d = 0; d < c.ra; d++)
            if (c.da[d] > 3)
                c.da[d] = 3;
        c.db[0] = c.da[c.ra - 1];
        if (c.db[1] > 4)
            c.db[1] = 4;
        og_graph *g = mm_graph(OG_DOUBLE, &c, false);
        char what[64];
        snprintf(what, sizeof what, "linear MatMul case %d (rank %d)", it, c.ra);
        gt_gradcheck(g, 1, 0, (uint64_t)it + 1, what);
        gt_gradcheck(g, 2, 40, (uint64_t)it + 7, what);
        og_graph_free(g);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("models_fast");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, linear_forward);
    tcase_add_test(tc, linear_forward_avx2);
    tcase_add_test(tc, linear_forward_scalar);
    tcase_add_test(tc, linear_gradients);
    tcase_add_test(tc, linear_gradcheck);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
