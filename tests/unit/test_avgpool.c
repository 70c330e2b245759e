/* SPDX-License-Identifier: MIT */
/* test_avgpool.c — AveragePool, GlobalAveragePool, GlobalMaxPool: random
 * 1-D/2-D/3-D geometry (strides, asymmetric pads, ceil_mode,
 * count_include_pad, auto_pad, odd sizes) against an independent naive
 * oracle written here; the float32 2-D fast kernel against the reference
 * kernel bit for bit at 1, 2 and 3 threads; float64 gradchecks of order 1
 * and 2 over random attributes; GlobalMaxPool's tie rule (the first
 * maximum takes dY, as AdaptiveMaxPool2d(1)); bad attributes. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "onnxgrad/autodiff.h"
#include "gradtest.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }
static double urand(void) { return (double)(rng() >> 11) / 9007199254740992.0 * 2 - 1; }

typedef struct pcase {
    int n;                      /* spatial axes */
    int64_t xd[5];
    int64_t k[3], s[3], pads[6];
    int64_t ceil_mode, include_pad;
    const char *auto_pad;       /* NULL: explicit pads */
} pcase;

static void random_case(pcase *c, int n, int64_t max_in)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->xd[0] = rnd(1, 2);
    c->xd[1] = rnd(1, 3);
    for (int a = 0; a < n; a++) {
        c->k[a] = rnd(1, 4);
        c->s[a] = rnd(1, 3);
        c->pads[a] = rnd(0, c->k[a] - 1);
        c->pads[n + a] = rnd(0, c->k[a] - 1);
        c->xd[2 + a] = rnd(c->k[a], max_in > c->k[a] ? max_in : c->k[a]);   /* VALID needs in >= k */
    }
    c->ceil_mode = rnd(0, 1);
    c->include_pad = rnd(0, 1);
    static const char *const modes[] = { "SAME_UPPER", "SAME_LOWER", "VALID" };
    c->auto_pad = rng() % 4 == 0 ? modes[rng() % 3] : NULL;
}

static int case_attrs(const pcase *c, og_attr *at)
{
    int na = 0;
    at[na++] = og_attr_ints("kernel_shape", c->n, c->k);
    at[na++] = og_attr_ints("strides", c->n, c->s);
    if (c->auto_pad)
        at[na++] = og_attr_string("auto_pad", c->auto_pad);
    else
        at[na++] = og_attr_ints("pads", 2 * c->n, c->pads);
    at[na++] = og_attr_int("ceil_mode", c->ceil_mode);
    at[na++] = og_attr_int("count_include_pad", c->include_pad);
    return na;
}

/* X -> AveragePool -> Y; dyn: batch dim declared unknown (reference kernel). */
static og_graph *pool_graph(const pcase *c, og_dtype dt, bool dyn)
{
    og_graph *g = gt_graph();
    int64_t decl[5];
    memcpy(decl, c->xd, sizeof decl);
    if (dyn)
        decl[0] = -1;
    gt_input(g, "X", dt, c->n + 2, decl);
    og_attr at[6];
    int na = case_attrs(c, at);
    gt_node(g, "AveragePool", "ap", GT_NAMES("X"), GT_NAMES("Y"), na, at);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

/* The oracle, from the spec's words: per axis the output size and begin pad,
 * then each window's mean over real cells (or over cells inside the padded
 * extent with count_include_pad), in double. */
static void oracle(const pcase *c, const float *x, double *y, int64_t *od)
{
    int n = c->n;
    int64_t pb[3], pe[3];
    for (int a = 0; a < n; a++) {
        int64_t in = c->xd[2 + a], k = c->k[a], s = c->s[a];
        if (c->auto_pad && strcmp(c->auto_pad, "VALID") == 0) {
            pb[a] = pe[a] = 0;
            od[a] = (in - k) / s + 1;
        } else if (c->auto_pad) {
            od[a] = (in + s - 1) / s;
            int64_t tot = (od[a] - 1) * s + k - in;
            if (tot < 0)
                tot = 0;
            bool upper = strcmp(c->auto_pad, "SAME_UPPER") == 0;
            pb[a] = upper ? tot / 2 : tot - tot / 2;
            pe[a] = tot - pb[a];
        } else {
            pb[a] = c->pads[a];
            pe[a] = c->pads[n + a];
            int64_t span = in + pb[a] + pe[a] - k;
            od[a] = (c->ceil_mode ? (span + s - 1) / s : span / s) + 1;
            if (c->ceil_mode && (od[a] - 1) * s >= in + pb[a])
                od[a]--;
        }
    }
    int64_t planes = c->xd[0] * c->xd[1], inpl = 1, outpl = 1;
    for (int a = 0; a < n; a++) {
        inpl *= c->xd[2 + a];
        outpl *= od[a];
    }
    for (int64_t p = 0; p < planes; p++)
        for (int64_t q = 0; q < outpl; q++) {
            int64_t o[3], r = q;
            for (int a = n - 1; a >= 0; a--) {
                o[a] = r % od[a];
                r /= od[a];
            }
            double sum = 0;
            int64_t cnt = 0, padcnt = 1;
            for (int a = 0; a < n; a++) {
                int64_t st = o[a] * c->s[a] - pb[a], en = st + c->k[a], lim = c->xd[2 + a] + pe[a];
                padcnt *= (en < lim ? en : lim) - st;
            }
            for (int64_t i = 0; i < inpl; i++) {
                int64_t rr = i, in_win = 1;
                for (int a = n - 1; a >= 0; a--) {
                    int64_t pos = rr % c->xd[2 + a];
                    rr /= c->xd[2 + a];
                    int64_t st = o[a] * c->s[a] - pb[a];
                    in_win = in_win && pos >= st && pos < st + c->k[a];
                }
                if (in_win) {
                    sum += x[p * inpl + i];
                    cnt++;
                }
            }
            int64_t div = c->include_pad ? padcnt : cnt;
            y[p * outpl + q] = div ? sum / (double)div : 0;
        }
}

static og_tensor *random_tensor(og_dtype dt, int rank, const int64_t *d)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, rank, d, &t));
    for (int64_t i = 0; i < t->numel; i++) {
        if (dt == OG_FLOAT)
            ((float *)t->data)[i] = (float)urand();
        else
            ((double *)t->data)[i] = urand();
    }
    return t;
}

static og_tensor *run_graph(const og_graph *g, int n_threads, const og_tensor *x, const char **kernel)
{
    og_plan_options po = { .n_threads = n_threads };
    og_plan *p;
    og_tensor *y;
    OG_CHECK(og_plan_create_ex(g, &po, &p));
    OG_CHECK(og_plan_run(p, 1, &x, &y));
    if (kernel) {
        *kernel = "reference";
        for (int k = 0; k < og_plan_num_steps(p); k++) {
            const char *nn, *op, *kn;
            OG_CHECK(og_plan_step(p, k, &nn, &op, &kn));
            if (strcmp(op, "AveragePool") == 0)
                *kernel = strcmp(kn, "avgpool2d_rows") == 0 ? "avgpool2d_rows" : "reference";
        }
    }
    og_plan_free(p);
    return y;
}

START_TEST(test_forward_oracle_random)
{
    for (int it = 0; it < 60; it++) {
        pcase c;
        random_case(&c, 1 + it % 3, it % 3 == 2 ? 6 : 13);
        og_graph *g = pool_graph(&c, OG_FLOAT, true);
        og_tensor *x = random_tensor(OG_FLOAT, c.n + 2, c.xd);
        og_tensor *y = run_graph(g, 1, x, NULL);
        double want[4096];
        int64_t od[3];
        oracle(&c, x->data, want, od);
        for (int a = 0; a < c.n; a++)
            ck_assert_int_eq(y->dims[2 + a], od[a]);
        for (int64_t i = 0; i < y->numel; i++)
            ck_assert_msg(fabs(((float *)y->data)[i] - want[i]) <= 1e-5, "case %d: Y[%lld] = %.8g, oracle %.8g", it,
                          (long long)i, ((float *)y->data)[i], want[i]);
        og_tensor_free(x);
        og_tensor_free(y);
        og_graph_free(g);
    }
}
END_TEST

START_TEST(test_fast_matches_reference_bits)
{
    for (int it = 0; it < 40; it++) {
        pcase c;
        random_case(&c, 2, 37);
        c.xd[0] = rnd(1, 3);
        c.xd[1] = rnd(1, 5);
        og_graph *gs = pool_graph(&c, OG_FLOAT, false), *gd = pool_graph(&c, OG_FLOAT, true);
        og_tensor *x = random_tensor(OG_FLOAT, 4, c.xd);
        const char *kn;
        og_tensor *ref = run_graph(gd, 1, x, &kn);
        ck_assert_str_eq(kn, "reference");
        for (int t = 1; t <= 3; t++) {
            og_tensor *y = run_graph(gs, t, x, &kn);
            ck_assert_str_eq(kn, "avgpool2d_rows");
            ck_assert_int_eq(y->numel, ref->numel);
            ck_assert_msg(memcmp(y->data, ref->data, (size_t)y->numel * sizeof(float)) == 0,
                          "case %d at %d threads: fast kernel bits differ from the reference", it, t);
            og_tensor_free(y);
        }
        og_tensor_free(ref);
        og_tensor_free(x);
        og_graph_free(gs);
        og_graph_free(gd);
    }
}
END_TEST

START_TEST(test_gradcheck_random)
{
    for (int it = 0; it < 24; it++) {
        pcase c;
        random_case(&c, 1 + it % 3, it % 3 == 2 ? 5 : 8);
        og_graph *g = pool_graph(&c, OG_DOUBLE, false);
        gt_gradcheck(g, 1, 0, 100 + it, "AveragePool order 1");
        gt_gradcheck(g, 2, 40, 200 + it, "AveragePool order 2");
        og_graph_free(g);
    }
}
END_TEST

/* dX through the gradient graph's plan: with static shapes its
 * ConvTranspose runs as the avgpool_backward box sum, the same bits at 1, 2
 * and 3 threads, and within rounding of the reference ConvTranspose (the
 * graph with an unknown batch, planned without kernel choice). */
static og_tensor *grad_run(const og_graph *g, int n_threads, const og_tensor *x, const og_tensor *dy, bool *fused)
{
    const char *seeded[1] = { "Y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded };
    og_graph *gg;
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    og_plan_options po = { .n_threads = n_threads };
    og_plan *p;
    OG_CHECK(og_plan_create_ex(gg, &po, &p));
    *fused = false;
    for (int k = 0; k < og_plan_num_steps(p); k++) {
        const char *nn, *op, *kn;
        OG_CHECK(og_plan_step(p, k, &nn, &op, &kn));
        *fused = *fused || strcmp(kn, "avgpool_backward_boxsum") == 0;
    }
    og_tensor *outs[2];
    const og_tensor *feeds[2] = { x, dy };
    OG_CHECK(og_plan_run(p, 2, feeds, outs));
    og_tensor_free(outs[0]);
    og_plan_free(p);
    og_graph_free(gg);
    return outs[1];
}

START_TEST(test_backward_pattern)
{
    for (int it = 0; it < 30; it++) {
        pcase c;
        random_case(&c, 2, 29);
        c.xd[1] = rnd(1, 6);
        og_graph *gs = pool_graph(&c, OG_FLOAT, false), *gd = pool_graph(&c, OG_FLOAT, true);
        og_tensor *x = random_tensor(OG_FLOAT, 4, c.xd);
        og_tensor *y = run_graph(gs, 1, x, NULL);
        og_tensor *dy = random_tensor(OG_FLOAT, 4, y->dims);
        bool fused;
        og_tensor *ref = grad_run(gd, 1, x, dy, &fused);
        ck_assert(!fused);
        og_tensor *one = grad_run(gs, 1, x, dy, &fused);
        ck_assert_msg(fused, "case %d: the gradient's ConvTranspose did not take the box sum", it);
        ck_assert_int_eq(one->numel, ref->numel);
        for (int64_t i = 0; i < ref->numel; i++)
            ck_assert_msg(fabsf(((float *)one->data)[i] - ((float *)ref->data)[i]) <= 1e-5f,
                          "case %d: dX[%lld] = %.8g, reference %.8g", it, (long long)i, ((float *)one->data)[i],
                          ((float *)ref->data)[i]);
        for (int t = 2; t <= 3; t++) {
            og_tensor *o = grad_run(gs, t, x, dy, &fused);
            ck_assert(memcmp(o->data, one->data, (size_t)o->numel * sizeof(float)) == 0);
            og_tensor_free(o);
        }
        og_tensor_free(one);
        og_tensor_free(ref);
        og_tensor_free(dy);
        og_tensor_free(y);
        og_tensor_free(x);
        og_graph_free(gs);
        og_graph_free(gd);
    }
}
END_TEST

/* The batch dim unknown: the backward rule needs only C and the spatial
 * sizes (its weight and divisors), so the gradient still builds and checks. */
START_TEST(test_grad_unknown_batch)
{
    for (int it = 0; it < 6; it++) {
        pcase c;
        random_case(&c, 2, 7);
        og_graph *g = pool_graph(&c, OG_DOUBLE, true);
        og_tensor *x = random_tensor(OG_DOUBLE, 4, c.xd);
        for (int order = 1; order <= 2; order++) {
            og_gradcheck_options o = { .order = order, .seed = 700 + it, .n_inputs = 1,
                                       .inputs = (const og_tensor *const *)&x, .max_elements = 40 };
            og_gradcheck_report *r;
            OG_CHECK(og_gradcheck(g, &o, &r));
            ck_assert_msg(r->pass, "unknown batch, case %d order %d: max abs err %g", it, order,
                          r->entries[0].max_abs_err);
            og_gradcheck_report_free(r);
        }
        og_tensor_free(x);
        og_graph_free(g);
    }
}
END_TEST

/* Unknown spatial sizes: no gradient (its divisors and the ConvTranspose
 * output size need them), refused naming the node. */
START_TEST(test_grad_refused_unknown_spatial)
{
    og_graph *g = gt_graph(), *gg = NULL;
    int64_t xd[4] = { 1, 2, -1, 5 }, k[2] = { 2, 2 };
    gt_input(g, "X", OG_FLOAT, 4, xd);
    og_attr at[1] = { og_attr_ints("kernel_shape", 2, k) };
    gt_node(g, "AveragePool", "ap", GT_NAMES("X"), GT_NAMES("Y"), 1, at);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    const char *seeded[1] = { "Y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded };
    ck_assert_int_eq(og_graph_build_gradient(g, &o, &gg), OG_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(og_errmsg(), "node 'ap' (AveragePool)"));
    og_graph_free(gg);
    og_graph_free(g);
}
END_TEST

/* count_include_pad 0 with pads: dX of a corner cell under a 2x2 window
 * with one real cell (divisor 1), by hand. */
START_TEST(test_grad_by_hand)
{
    og_graph *g = gt_graph();
    int64_t xd[4] = { 1, 1, 2, 2 };
    gt_input(g, "X", OG_FLOAT, 4, xd);
    int64_t k[2] = { 2, 2 }, pads[4] = { 1, 1, 1, 1 };
    og_attr at[2] = { og_attr_ints("kernel_shape", 2, k), og_attr_ints("pads", 4, pads) };
    gt_node(g, "AveragePool", "ap", GT_NAMES("X"), GT_NAMES("Y"), 2, at);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    /* Y is 3x3; windows: corners 1 cell, edges 2, centre 4. dY = 1:
     * dX[0,0] = 1 + 1/2 + 1/2 + 1/4. */
    float xv[4] = { 1, 2, 3, 4 }, dyv[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    int64_t yd[4] = { 1, 1, 3, 3 };
    og_tensor *x, *dy, *dx;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 4, xd, xv, &x));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 4, yd, dyv, &dy));
    const char *wrt[1] = { "X" }, *seeded[1] = { "Y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 1, .wrt = wrt };
    const og_tensor *ins[1] = { x }, *seeds[1] = { dy };
    OG_CHECK(og_gradients(g, &o, 1, ins, seeds, &dx));
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabsf(((float *)dx->data)[i] - 2.25f) < 1e-6f, "dX[%d] = %g, expected 2.25", i,
                      ((float *)dx->data)[i]);
    og_tensor_free(x);
    og_tensor_free(dy);
    og_tensor_free(dx);
    og_graph_free(g);
}
END_TEST

static og_status try_graph(int opset, int rank, const int64_t *xd, int na, const og_attr *at)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, rank, xd, NULL));
    const char *in[1] = { "X" }, *out[1] = { "Y" };
    og_status st = og_graph_add_node(g, "AveragePool", NULL, "ap", 1, in, 1, out, na, at);
    if (!st)
        st = og_graph_add_output(g, "Y");
    if (!st)
        st = og_graph_finalize(g);
    og_graph_free(g);
    return st;
}

START_TEST(test_bad_attributes)
{
    int64_t xd[4] = { 1, 1, 5, 5 }, k2[2] = { 2, 2 }, k1[1] = { 2 }, one[2] = { 1, 1 }, neg[4] = { -1, 0, 0, 0 };
    int64_t big[2] = { 9, 9 };
    og_attr a_dil[2] = { og_attr_ints("kernel_shape", 2, k2), og_attr_ints("dilations", 2, one) };
    ck_assert_int_ne(try_graph(17, 4, xd, 2, a_dil), OG_OK);   /* dilations: AveragePool-19 */
    ck_assert_ptr_nonnull(strstr(og_errmsg(), "dilations"));
    og_attr a_len[1] = { og_attr_ints("kernel_shape", 1, k1) };
    ck_assert_int_eq(try_graph(17, 4, xd, 1, a_len), OG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(og_errmsg(), "ap"));
    og_attr a_neg[2] = { og_attr_ints("kernel_shape", 2, k2), og_attr_ints("pads", 4, neg) };
    ck_assert_int_eq(try_graph(17, 4, xd, 2, a_neg), OG_ERR_ATTR);
    og_attr a_both[3] = { og_attr_ints("kernel_shape", 2, k2), og_attr_ints("pads", 4, (int64_t[]){ 0, 0, 0, 0 }),
                          og_attr_string("auto_pad", "VALID") };
    ck_assert_int_eq(try_graph(17, 4, xd, 3, a_both), OG_ERR_ATTR);
    og_attr a_cip[2] = { og_attr_ints("kernel_shape", 2, k2), og_attr_int("count_include_pad", 2) };
    ck_assert_int_ne(try_graph(17, 4, xd, 2, a_cip), OG_OK);
    og_attr a_ceil6[2] = { og_attr_ints("kernel_shape", 2, k2), og_attr_int("ceil_mode", 1) };
    ck_assert_int_ne(try_graph(9, 4, xd, 2, a_ceil6), OG_OK);   /* ceil_mode: opset 10 */
    og_attr a_cip6[2] = { og_attr_ints("kernel_shape", 2, k2), og_attr_int("count_include_pad", 1) };
    ck_assert_int_ne(try_graph(6, 4, xd, 2, a_cip6), OG_OK);    /* count_include_pad: opset 7 */
    ck_assert_int_eq(try_graph(7, 4, xd, 2, a_cip6), OG_OK);
    og_attr a_big[1] = { og_attr_ints("kernel_shape", 2, big) };
    ck_assert_int_eq(try_graph(17, 4, xd, 1, a_big), OG_ERR_SHAPE);
}
END_TEST

/* ---- global pools ---- */

static og_graph *global_graph(const char *op, og_dtype dt, int rank, const int64_t *xd)
{
    og_graph *g = gt_graph();
    gt_input(g, "X", dt, rank, xd);
    gt_node(g, op, "gp", GT_NAMES("X"), GT_NAMES("Y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

START_TEST(test_global_forward_and_grad)
{
    static const char *const ops[2] = { "GlobalAveragePool", "GlobalMaxPool" };
    for (int it = 0; it < 12; it++) {
        int rank = 3 + it % 3;
        int64_t xd[5];
        for (int a = 0; a < rank; a++)
            xd[a] = rnd(1, a < 2 ? 3 : 4);
        const char *op = ops[it % 2];
        og_graph *g = global_graph(op, OG_DOUBLE, rank, xd);
        og_tensor *x = random_tensor(OG_DOUBLE, rank, xd);
        og_tensor *y = run_graph(g, 1, x, NULL);
        int64_t planes = xd[0] * xd[1], pl = x->numel / planes;
        ck_assert_int_eq(y->numel, planes);
        ck_assert_int_eq(y->rank, rank);
        for (int64_t p = 0; p < planes; p++) {
            double acc = it % 2 ? -INFINITY : 0;
            for (int64_t i = 0; i < pl; i++) {
                double v = ((double *)x->data)[p * pl + i];
                acc = it % 2 ? fmax(acc, v) : acc + v / (double)pl;
            }
            ck_assert_msg(fabs(((double *)y->data)[p] - acc) < 1e-12, "%s plane %lld", op, (long long)p);
        }
        gt_gradcheck(g, 1, 0, 300 + it, op);
        gt_gradcheck(g, 2, 30, 400 + it, op);
        og_tensor_free(x);
        og_tensor_free(y);
        og_graph_free(g);
    }
}
END_TEST

/* Ties: the first maximum (row-major) takes all of dY, as PyTorch's
 * AdaptiveMaxPool2d(1) (which exports to GlobalMaxPool) does. */
START_TEST(test_globalmaxpool_ties)
{
    int64_t xd[4] = { 1, 2, 2, 2 };
    og_graph *g = global_graph("GlobalMaxPool", OG_FLOAT, 4, xd);
    float xv[8] = { 1, 3, 3, 0, /* plane 1: */ 5, 5, 5, 5 }, dyv[2] = { 2, 7 };
    int64_t yd[4] = { 1, 2, 1, 1 };
    og_tensor *x, *dy, *dx;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 4, xd, xv, &x));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 4, yd, dyv, &dy));
    const char *wrt[1] = { "X" }, *seeded[1] = { "Y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 1, .wrt = wrt };
    const og_tensor *ins[1] = { x }, *seeds[1] = { dy };
    OG_CHECK(og_gradients(g, &o, 1, ins, seeds, &dx));
    const float want[8] = { 0, 2, 0, 0, 7, 0, 0, 0 };
    for (int i = 0; i < 8; i++)
        ck_assert_msg(((float *)dx->data)[i] == want[i], "dX[%d] = %g, expected %g", i, ((float *)dx->data)[i],
                      want[i]);
    og_tensor_free(x);
    og_tensor_free(dy);
    og_tensor_free(dx);
    og_graph_free(g);
}
END_TEST

START_TEST(test_global_errors)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    int64_t xd[2] = { 2, 3 };
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 2, xd, NULL));
    const char *in[1] = { "X" }, *out[1] = { "Y" };
    OG_CHECK(og_graph_add_node(g, "GlobalAveragePool", NULL, "gp", 1, in, 1, out, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "Y"));
    ck_assert_int_eq(og_graph_finalize(g), OG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(og_errmsg(), "rank 2"));
    og_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("avgpool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_forward_oracle_random);
    tcase_add_test(tc, test_fast_matches_reference_bits);
    tcase_add_test(tc, test_gradcheck_random);
    tcase_add_test(tc, test_grad_by_hand);
    tcase_add_test(tc, test_grad_unknown_batch);
    tcase_add_test(tc, test_backward_pattern);
    tcase_add_test(tc, test_grad_refused_unknown_spatial);
    tcase_add_test(tc, test_bad_attributes);
    tcase_add_test(tc, test_global_forward_and_grad);
    tcase_add_test(tc, test_globalmaxpool_ties);
    tcase_add_test(tc, test_global_errors);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
