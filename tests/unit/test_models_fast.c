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

/* ---- operands read through their Transposes ------------------------------
 * MatMul and Gemm read an operand produced by a chain of Transposes from the
 * chain's source, with strides (matmul.c mm_view, gemm.c gemm_source), and a
 * Transpose of a Gemm output read by nothing else runs as one Gemm of the
 * swapped operands (og_pattern_gemm_transposed). Random chains and perms,
 * some intermediate results also graph outputs (so the copy must stay);
 * against the reference kernels (OG_KERNELS=reference), bit-identical at 1,
 * 2 and 3 threads, and the fused forms must be taken in some cases. */

/* Adds the chain src -> Transpose(p[0]) -> ... -> name (n_t of them); out
 * has the shape the chain must produce, *src_dims gets the source's. */
static void add_chain(og_graph *g, const char *src, const char *name, int r, const int64_t *out, int n_t,
                      int perms[][OG_MAX_RANK], bool expose, int64_t *src_dims)
{
    /* axis[i]: the source axis that output axis i reads */
    int axis[OG_MAX_RANK];
    for (int i = 0; i < r; i++)
        axis[i] = i;
    for (int h = n_t - 1; h >= 0; h--)
        for (int i = 0; i < r; i++)
            axis[i] = perms[h][axis[i]];
    for (int i = 0; i < r; i++)
        src_dims[axis[i]] = out[i];
    OG_CHECK(og_graph_add_input(g, src, OG_FLOAT, r, src_dims, NULL));
    const char *prev = src;
    static char names[8][32];
    static int next;
    for (int h = 0; h < n_t; h++) {
        char *nm = names[next++ % 8];
        if (h == n_t - 1)
            snprintf(nm, 32, "%s", name);
        else
            snprintf(nm, 32, "%s_t%d", name, h);
        int64_t pv[OG_MAX_RANK];
        for (int i = 0; i < r; i++)
            pv[i] = perms[h][i];
        og_attr at = og_attr_ints("perm", r, pv);
        const char *in[1] = { prev }, *o[1] = { nm };
        char node[40];
        snprintf(node, sizeof node, "tp_%s", nm);
        OG_CHECK(og_graph_add_node(g, "Transpose", NULL, node, 1, in, 1, o, 1, &at));
        if (expose && h == 0)
            OG_CHECK(og_graph_add_output(g, nm));
        prev = nm;
    }
    if (n_t == 0) {   /* no chain: the operand is the input itself, under its name */
        const char *in[1] = { src }, *o[1] = { name };
        char node[40];
        snprintf(node, sizeof node, "id_%s", name);
        OG_CHECK(og_graph_add_node(g, "Identity", NULL, node, 1, in, 1, o, 0, NULL));
    }
}

static void random_perm(int r, int *p)
{
    for (int i = 0; i < r; i++)
        p[i] = i;
    for (int i = r - 1; i > 0; i--) {
        int j = (int)(rng() % (uint64_t)(i + 1)), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    if (rng() % 3 == 0 && r >= 2) {   /* often just the matrix swap */
        for (int i = 0; i < r; i++)
            p[i] = i;
        p[r - 2] = r - 1;
        p[r - 1] = r - 2;
    }
}

/* Runs g on feeds at `threads` (reference: OG_KERNELS=reference); the
 * outputs into ys[], *fused: steps fewer than nodes. */
static void run_all(const og_graph *g, int threads, bool reference, int n_feeds, og_tensor **feeds, int n_out,
                    og_tensor **ys, bool *fused)
{
    if (reference)
        setenv("OG_KERNELS", "reference", 1);
    og_plan_options po = { .n_threads = threads };
    og_plan *p;
    OG_CHECK(og_plan_create_ex(g, &po, &p));
    unsetenv("OG_KERNELS");
    if (fused)
        *fused = og_plan_num_steps(p) < og_graph_num_nodes(g);
    og_tensor *out[8] = { 0 };
    ck_assert_int_le(n_out, 8);
    OG_CHECK(og_plan_run(p, n_feeds, (const og_tensor *const *)feeds, out));
    for (int k = 0; k < n_out; k++)
        ys[k] = out[k];
    og_plan_free(p);
}

static void check_same(const char *what, int it, int n_out, og_tensor **fast, og_tensor **ref, double tol)
{
    for (int o = 0; o < n_out; o++) {
        ck_assert_int_eq(fast[o]->numel, ref[o]->numel);
        for (int64_t i = 0; i < fast[o]->numel; i++) {
            float f = ((float *)fast[o]->data)[i], r = ((float *)ref[o]->data)[i];
            ck_assert_msg(fabs(f - r) <= tol, "%s case %d output %d element %lld: fast %g, reference %g", what, it, o,
                          (long long)i, f, r);
        }
    }
}

static og_tensor *random_input(int r, const int64_t *d)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, r, d, &t));
    for (int64_t i = 0; i < t->numel; i++)
        ((float *)t->data)[i] = (float)urand();
    return t;
}

START_TEST(matmul_transposed_operands)
{
    int fused_cases = 0;
    for (int it = 0; it < 120; it++) {
        int r = (int)rnd(2, 4);
        int64_t m = rnd(1, 20), k = rnd(1, 40), n = rnd(1, 60);
        int64_t da[OG_MAX_RANK], db[OG_MAX_RANK], sa[OG_MAX_RANK], sb[OG_MAX_RANK];
        for (int d = 0; d < r - 2; d++) {
            da[d] = rnd(1, 4);
            db[d] = rng() % 3 == 0 ? 1 : da[d];
            if (rng() % 4 == 0)
                da[d] = 1;
        }
        da[r - 2] = m;
        da[r - 1] = k;
        db[r - 2] = k;
        db[r - 1] = n;
        int pa[2][OG_MAX_RANK], pb[2][OG_MAX_RANK];
        int ta = (int)rnd(0, 2), tb = (int)rnd(0, 2);
        for (int h = 0; h < 2; h++) {
            random_perm(r, pa[h]);
            random_perm(r, pb[h]);
        }
        bool expose = rng() % 5 == 0;
        og_graph *g;
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 13));
        add_chain(g, "SA", "A", r, da, ta, pa, expose && ta > 0, sa);
        add_chain(g, "SB", "B", r, db, tb, pb, false, sb);
        const char *in[2] = { "A", "B" }, *out[1] = { "Y" };
        OG_CHECK(og_graph_add_node(g, "MatMul", NULL, NODE, 2, in, 1, out, 0, NULL));
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK(og_graph_finalize(g));
        og_tensor *feeds[2] = { random_input(r, sa), random_input(r, sb) };
        int n_out = og_graph_num_outputs(g);
        og_tensor *ref[2], *y1[2], *yt[2];
        bool fused;
        run_all(g, 1, true, 2, feeds, n_out, ref, NULL);
        run_all(g, 1, false, 2, feeds, n_out, y1, &fused);
        fused_cases += fused;
        check_same("MatMul", it, n_out, y1, ref, 1e-5 * (double)(k + 1));
        for (int t = 2; t <= 3; t++) {
            run_all(g, t, false, 2, feeds, n_out, yt, NULL);
            for (int o = 0; o < n_out; o++) {
                ck_assert_msg(memcmp(yt[o]->data, y1[o]->data, sizeof(float) * (size_t)y1[o]->numel) == 0,
                              "MatMul case %d: %d threads differ from 1", it, t);
                og_tensor_free(yt[o]);
            }
        }
        for (int o = 0; o < n_out; o++) {
            og_tensor_free(ref[o]);
            og_tensor_free(y1[o]);
        }
        og_tensor_free(feeds[0]);
        og_tensor_free(feeds[1]);
        og_graph_free(g);
    }
    ck_assert_msg(fused_cases >= 20, "operands read through their Transposes in only %d of 120 cases", fused_cases);
}
END_TEST

START_TEST(gemm_transposed_operands)
{
    int fused_cases = 0;
    for (int it = 0; it < 120; it++) {
        int64_t m = rnd(1, 70), k = rnd(1, 50), n = rnd(1, 110);
        bool trans_a = rng() % 2, trans_b = rng() % 2, out_t = rng() % 2, with_c = rng() % 3 == 0;
        int64_t da[2] = { trans_a ? k : m, trans_a ? m : k }, db[2] = { trans_b ? n : k, trans_b ? k : n };
        int64_t sa[2], sb[2];
        int swap[2][OG_MAX_RANK] = { { 1, 0 }, { 1, 0 } };
        og_graph *g;
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 13));
        add_chain(g, "SA", "A", 2, da, (int)rnd(0, 2), swap, false, sa);
        add_chain(g, "SB", "B", 2, db, (int)rnd(0, 2), swap, false, sb);
        int64_t dc[2] = { m, n };
        float beta = rng() % 2 ? 0.0f : 0.5f;
        if (with_c)
            OG_CHECK(og_graph_add_input(g, "C", OG_FLOAT, 2, dc, NULL));
        og_attr at[4] = { og_attr_int("transA", trans_a), og_attr_int("transB", trans_b), og_attr_float("alpha", 0.75f),
                          og_attr_float("beta", beta) };
        const char *in[3] = { "A", "B", "C" }, *out[1] = { out_t ? "G" : "Y" };
        OG_CHECK(og_graph_add_node(g, "Gemm", NULL, NODE, with_c ? 3 : 2, in, 1, out, 4, at));
        if (out_t) {
            int64_t pv[2] = { 1, 0 };
            og_attr p = og_attr_ints("perm", 2, pv);
            const char *ti[1] = { "G" }, *to[1] = { "Y" };
            OG_CHECK(og_graph_add_node(g, "Transpose", NULL, "tp_out", 1, ti, 1, to, 1, &p));
        }
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK(og_graph_finalize(g));
        og_tensor *feeds[3] = { random_input(2, sa), random_input(2, sb), with_c ? random_input(2, dc) : NULL };
        int nf = with_c ? 3 : 2;
        og_tensor *ref[1], *y1[1], *yt[1];
        bool fused;
        run_all(g, 1, true, nf, feeds, 1, ref, NULL);
        run_all(g, 1, false, nf, feeds, 1, y1, &fused);
        fused_cases += fused;
        check_same("Gemm", it, 1, y1, ref, 1e-5 * (double)(k + 1));
        for (int t = 2; t <= 3; t++) {
            run_all(g, t, false, nf, feeds, 1, yt, NULL);
            ck_assert_msg(memcmp(yt[0]->data, y1[0]->data, sizeof(float) * (size_t)y1[0]->numel) == 0,
                          "Gemm case %d: %d threads differ from 1", it, t);
            og_tensor_free(yt[0]);
        }
        og_tensor_free(ref[0]);
        og_tensor_free(y1[0]);
        for (int f = 0; f < nf; f++)
            og_tensor_free(feeds[f]);
        og_graph_free(g);
    }
    ck_assert_msg(fused_cases >= 20, "Gemm read through Transposes in only %d of 120 cases", fused_cases);
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
    tcase_add_test(tc, matmul_transposed_operands);
    tcase_add_test(tc, gemm_transposed_operands);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
