/* SPDX-License-Identifier: MIT */
/* test_reduce_family.c — the reduction family (ops/reduce.c), Softmax and
 * LogSoftmax (ops/softmax.c), the losses (ops/loss.c): random shapes, axes
 * and keepdims against a scalar reference in double, negative and empty
 * axes, ties (the subgradient torch.amax/amin pick, checked against torch
 * 1.13 by hand: amax over [1,3,3] gives [0,.5,.5]), zeros in ReduceProd,
 * bit-identical results at 1, 2 and 3 threads, errors, and gradchecks of
 * order 1 and 2 in float64 over random attributes. */
#define NODE "r"
#include <math.h>
#include "gradtest.h"
#include "onenode.h"

typedef enum { K_SUM, K_MEAN, K_MAX, K_MIN, K_PROD, K_L1, K_L2, K_SUMSQ, K_LOGSUM, K_LSE, K_N } kind;
static const char *const kname[K_N] = { "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                        "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
                                        "ReduceLogSumExp" };

static uint64_t rng_state = 12345;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static double urand(double lo, double hi) { return lo + (hi - lo) * (double)(rnd() >> 11) / 9007199254740992.0; }

/* The reference: every output element from its definition, in double. */
static void reference(kind k, int rank, const int64_t *dims, const double *x, const bool *red, double *y,
                      int64_t n_out)
{
    int64_t strides[8], numel = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = numel;
        numel *= dims[d];
    }
    double *acc = calloc((size_t)n_out + 1, sizeof *acc), *m = calloc((size_t)n_out + 1, sizeof *m);
    int64_t *cnt = calloc((size_t)n_out + 1, sizeof *cnt);
    for (int64_t o = 0; o < n_out; o++) {
        acc[o] = k == K_PROD ? 1 : k == K_MAX ? -INFINITY : k == K_MIN ? INFINITY : 0;
        m[o] = -INFINITY;
    }
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < numel; i++) {
            int64_t o = 0;
            for (int d = 0; d < rank; d++)
                if (!red[d])
                    o = o * dims[d] + i / strides[d] % dims[d];
            double v = x[i];
            if (pass == 0) {
                m[o] = fmax(m[o], v);
                continue;
            }
            cnt[o]++;
            switch (k) {
            case K_SUM: case K_MEAN: case K_LOGSUM: acc[o] += v; break;
            case K_MAX: acc[o] = fmax(acc[o], v); break;
            case K_MIN: acc[o] = fmin(acc[o], v); break;
            case K_PROD: acc[o] *= v; break;
            case K_L1: acc[o] += fabs(v); break;
            case K_L2: case K_SUMSQ: acc[o] += v * v; break;
            case K_LSE: acc[o] += exp(v - m[o]); break;
            default: break;
            }
        }
    for (int64_t o = 0; o < n_out; o++)
        switch (k) {
        case K_MEAN: y[o] = acc[o] / (double)cnt[o]; break;
        case K_L2: y[o] = sqrt(acc[o]); break;
        case K_LOGSUM: y[o] = log(acc[o]); break;
        case K_LSE: y[o] = cnt[o] ? m[o] + log(acc[o]) : -INFINITY; break;
        default: y[o] = acc[o];
        }
    free(acc);
    free(m);
    free(cnt);
}

/* A graph: x (dtype, dims) -> op -> y, axes as attribute (or, for ReduceSum
 * at opset 13, an initializer), at the given opset. */
static og_graph *reduce_graph(kind k, og_dtype dt, int opset, int rank, const int64_t *dims, int n_axes,
                              const int64_t *axes, int keepdims)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    gt_input(g, "x", dt, rank, dims);
    og_attr at[2] = { og_attr_int("keepdims", keepdims), og_attr_ints("axes", n_axes, axes) };
    bool axes_input = k == K_SUM && opset >= 13;
    if (axes_input && n_axes >= 0) {
        int64_t n = n_axes;
        gt_init(g, "axes", OG_INT64, 1, &n, axes);
        gt_node(g, "ReduceSum", NODE, GT_NAMES("x", "axes"), GT_NAMES("y"), 1, at);
    } else {
        gt_node(g, kname[k], NODE, GT_NAMES("x"), GT_NAMES("y"), n_axes >= 0 ? 2 : 1, at);
    }
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static og_tensor *run_graph(const og_graph *g, og_tensor *x, int n_threads)
{
    og_plan *p;
    og_tensor *y = NULL;
    og_plan_options o = { .n_threads = n_threads };
    OG_CHECK(og_plan_create_ex(g, &o, &p));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const *)&x, &y));
    og_plan_free(p);
    return y;
}

/* Random axes: a random subset, each written negative half the time. */
static int random_axes(int rank, int64_t *axes, bool *red, bool allow_neg)
{
    int n = 0;
    for (int d = 0; d < rank; d++) {
        red[d] = rnd() % 2;
        if (red[d])
            axes[n++] = allow_neg && rnd() % 2 ? d - rank : d;
    }
    for (int i = n - 1; i > 0; i--) {   /* any order */
        int j = (int)(rnd() % (uint64_t)(i + 1));
        int64_t t = axes[i];
        axes[i] = axes[j];
        axes[j] = t;
    }
    return n;
}

START_TEST(test_forward_random)
{
    for (int trial = 0; trial < 400; trial++) {
        kind k = (kind)(trial % K_N);
        og_dtype dt = trial % 3 ? OG_FLOAT : OG_DOUBLE;
        int opset = trial % 4 == 0 ? 11 : 13;
        int rank = 1 + (int)(rnd() % 4);
        int64_t dims[4], axes[4], numel = 1;
        bool red[4];
        for (int d = 0; d < rank; d++) {
            dims[d] = 1 + (int64_t)(rnd() % (d == rank - 1 ? 19 : 5));
            numel *= dims[d];
        }
        int n = random_axes(rank, axes, red, opset >= 11);
        bool none = n == 0;   /* empty axes: every axis */
        if (none)
            for (int d = 0; d < rank; d++)
                red[d] = true;
        int keep = (int)(rnd() % 2);
        og_graph *g = reduce_graph(k, dt, opset, rank, dims, none && rnd() % 2 ? -1 : n, axes, keep);
        double *xd = malloc(sizeof(double) * (size_t)numel);
        float *xf = malloc(sizeof(float) * (size_t)numel);
        for (int64_t i = 0; i < numel; i++) {
            double v = k == K_LOGSUM ? urand(0.1, 2) : k == K_PROD ? urand(0.5, 1.5) * (rnd() % 2 ? 1 : -1)
                                                                   : urand(-3, 3);
            xf[i] = (float)v;
            xd[i] = dt == OG_FLOAT ? (double)xf[i] : v;
        }
        og_tensor *x;
        OG_CHECK(og_tensor_create_from(dt, rank, dims, dt == OG_FLOAT ? (void *)xf : (void *)xd, &x));
        og_tensor *y = run_graph(g, x, 1 + trial % 3);
        int64_t n_out = 1, o = 0;
        for (int d = 0; d < rank; d++)
            if (!red[d])
                n_out *= dims[d];
        ck_assert_int_eq(y->numel, n_out);
        ck_assert_int_eq(y->rank, keep ? rank : rank - (none ? rank : n));
        for (int d = 0; d < rank; d++)
            if (keep || !red[d])
                ck_assert_int_eq(y->dims[o++], keep && red[d] ? 1 : dims[d]);
        double *want = malloc(sizeof(double) * (size_t)n_out);
        reference(k, rank, dims, xd, red, want, n_out);
        for (int64_t i = 0; i < n_out; i++) {
            double got = dt == OG_FLOAT ? ((float *)y->data)[i] : ((double *)y->data)[i];
            double tol = (dt == OG_FLOAT ? 2e-5 : 1e-12) * (1 + fabs(want[i])) * (k == K_PROD ? 4 : 1);
            ck_assert_msg(fabs(got - want[i]) <= tol, "%s trial %d: element %lld is %.9g, expected %.9g", kname[k],
                          trial, (long long)i, got, want[i]);
        }
        free(want);
        free(xd);
        free(xf);
        og_tensor_free(x);
        og_tensor_free(y);
        og_graph_free(g);
    }
}
END_TEST

/* Larger tensors through every kernel shape (inner axis reduced or kept,
 * several groups), compared at 1, 2 and 3 threads: the same bits. */
START_TEST(test_threads_bit_identical)
{
    static const int64_t dims[3] = { 37, 129, 45 };
    static const bool masks[6][3] = { { 0, 0, 1 }, { 1, 0, 0 }, { 0, 1, 0 }, { 1, 0, 1 }, { 0, 1, 1 }, { 1, 1, 1 } };
    int64_t numel = dims[0] * dims[1] * dims[2];
    float *xf = malloc(sizeof(float) * (size_t)numel);
    for (int64_t i = 0; i < numel; i++)
        xf[i] = (float)urand(0.2, 1.2);
    og_tensor *x;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 3, dims, xf, &x));
    for (int k = 0; k < K_N; k++)
        for (int m = 0; m < 6; m++) {
            int64_t axes[3];
            int n = 0;
            for (int d = 0; d < 3; d++)
                if (masks[m][d])
                    axes[n++] = d;
            og_graph *g = reduce_graph((kind)k, OG_FLOAT, 13, 3, dims, n, axes, m % 2);
            og_tensor *y1 = run_graph(g, x, 1), *y2 = run_graph(g, x, 2), *y3 = run_graph(g, x, 3);
            ck_assert_int_eq(y1->numel, y2->numel);
            ck_assert_msg(memcmp(y1->data, y2->data, sizeof(float) * (size_t)y1->numel) == 0 &&
                          memcmp(y1->data, y3->data, sizeof(float) * (size_t)y1->numel) == 0,
                          "%s mask %d: results differ between thread counts", kname[k], m);
            /* and against the reference (loosely: float sums of 200k terms) */
            double *xd = malloc(sizeof(double) * (size_t)numel), *want = malloc(sizeof(double) * (size_t)y1->numel);
            for (int64_t i = 0; i < numel; i++)
                xd[i] = xf[i];
            reference((kind)k, 3, dims, xd, masks[m], want, y1->numel);
            for (int64_t i = 0; i < y1->numel; i++) {
                double got = ((float *)y1->data)[i];
                bool ok = k == K_PROD ? (fabs(got - want[i]) <= 1e-3 * fabs(want[i]) || (isinf(got) && isinf(want[i])) ||
                                         fabs(want[i]) < 1e-30)
                                      : fabs(got - want[i]) <= 1e-4 * (1 + fabs(want[i]));
                ck_assert_msg(ok, "%s mask %d: element %lld is %.9g, expected %.9g", kname[k], m, (long long)i, got,
                              want[i]);
            }
            free(xd);
            free(want);
            og_tensor_free(y1);
            og_tensor_free(y2);
            og_tensor_free(y3);
            og_graph_free(g);
        }
    og_tensor_free(x);
    free(xf);
}
END_TEST

START_TEST(test_special_values)
{
    /* Max/Min propagate NaN; LogSumExp is stable for large inputs and -inf
     * for all -inf; reductions over an empty axis give the identity */
    static const int64_t d2[2] = { 2, 3 }, d0[2] = { 2, 0 };
    const float x[6] = { 1, NAN, 2, 1000, 1000, -INFINITY };
    og_tensor *y;
    tin in = { OG_FLOAT, 2, d2, x };
    og_attr at[2] = { og_attr_ints("axes", 1, (const int64_t[]){ 1 }), og_attr_int("keepdims", 0) };
    OG_CHECK(run(&y, "ReduceMax", 13, 1, &in, 2, at));
    ck_assert(isnan(((float *)y->data)[0]) && ((float *)y->data)[1] == 1000);
    og_tensor_free(y);
    OG_CHECK(run(&y, "ReduceLogSumExp", 13, 1, &in, 2, at));
    ck_assert(isnan(((float *)y->data)[0]));
    ck_assert_msg(fabsf(((float *)y->data)[1] - (1000 + logf(2))) < 1e-3, "lse %g", ((float *)y->data)[1]);
    og_tensor_free(y);
    const float ninf[6] = { -INFINITY, -INFINITY, -INFINITY, 0, 0, 0 };
    tin in2 = { OG_FLOAT, 2, d2, ninf };
    OG_CHECK(run(&y, "ReduceLogSumExp", 13, 1, &in2, 2, at));
    ck_assert(isinf(((float *)y->data)[0]) && ((float *)y->data)[0] < 0);
    og_tensor_free(y);
    tin e = { OG_FLOAT, 2, d0, x };
    const char *ops[4] = { "ReduceSum", "ReduceProd", "ReduceMax", "ReduceL2" };
    const float want[4] = { 0, 1, -INFINITY, 0 };
    for (int k = 0; k < 4; k++) {
        og_attr a1[2] = { og_attr_ints("axes", 1, (const int64_t[]){ 1 }), og_attr_int("keepdims", 1) };
        tin ins[2] = { e, { OG_INT64, 1, (const int64_t[]){ 1 }, (const int64_t[]){ 1 } } };
        OG_CHECK(run(&y, ops[k], 13, k == 0 ? 2 : 1, ins, k == 0 ? 1 : 2, k == 0 ? a1 + 1 : a1));
        ck_assert_int_eq(y->numel, 2);
        ck_assert(((float *)y->data)[0] == want[k] && ((float *)y->data)[1] == want[k]);
        og_tensor_free(y);
    }
}
END_TEST

START_TEST(test_integer_reductions)
{
    static const int64_t d[2] = { 2, 3 };
    const int32_t x[6] = { 7, -2, 5, INT32_MAX, 1, 0 };
    og_tensor *y;
    tin in = { OG_INT32, 2, d, x };
    og_attr at[2] = { og_attr_ints("axes", 1, (const int64_t[]){ -1 }), og_attr_int("keepdims", 0) };
    OG_CHECK(run(&y, "ReduceMean", 13, 1, &in, 2, at));   /* 10/3 -> 3 (truncating) */
    ck_assert_int_eq(((int32_t *)y->data)[0], 3);
    og_tensor_free(y);
    OG_CHECK(run(&y, "ReduceSum", 11, 1, &in, 2, at));   /* wraps */
    ck_assert_int_eq(((int32_t *)y->data)[0], 10);
    ck_assert_int_eq(((int32_t *)y->data)[1], INT32_MIN);
    og_tensor_free(y);
    OG_CHECK(run(&y, "ReduceL1", 13, 1, &in, 2, at));
    ck_assert_int_eq(((int32_t *)y->data)[0], 14);
    og_tensor_free(y);
    OG_CHECK(run(&y, "ReduceMin", 13, 1, &in, 2, at));
    ck_assert_int_eq(((int32_t *)y->data)[0], -2);
    ck_assert_int_eq(((int32_t *)y->data)[1], 0);
    og_tensor_free(y);
    expect_fail(OG_ERR_UNSUPPORTED, "integer ReduceL2 is not implemented", "ReduceL2", 13, 1, &in, 2, at);
    const int8_t x8[6] = { 1, 2, 3, 4, 5, 6 };
    tin in8 = { OG_INT8, 2, d, x8 };
    expect_fail(OG_ERR_SHAPE, "needs opset >= 12", "ReduceMax", 11, 1, &in8, 2, at);
    OG_CHECK(run(&y, "ReduceMax", 12, 1, &in8, 2, at));
    ck_assert_int_eq(((int8_t *)y->data)[1], 6);
    og_tensor_free(y);
}
END_TEST

START_TEST(test_axes_forms_and_errors)
{
    static const int64_t d[3] = { 2, 3, 4 };
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    tin in = { OG_FLOAT, 3, d, x };
    /* negative axes need opset 11 */
    og_attr neg[1] = { og_attr_ints("axes", 1, (const int64_t[]){ -1 }) };
    expect_fail(OG_ERR_ATTR, "expected an axis in [0, 2]", "ReduceMean", 10, 1, &in, 1, neg);
    expect_shape(OG_FLOAT, 3, (const int64_t[]){ 2, 3, 1 }, "ReduceMean", 11, 1, &in, 1, neg);
    og_attr bad[1] = { og_attr_ints("axes", 1, (const int64_t[]){ 3 }) };
    expect_fail(OG_ERR_ATTR, "expected an axis in [-3, 2]", "ReduceMax", 13, 1, &in, 1, bad);
    og_attr rep[1] = { og_attr_ints("axes", 2, (const int64_t[]){ 1, -2 }) };
    expect_fail(OG_ERR_ATTR, "repeats axis", "ReduceL2", 13, 1, &in, 1, rep);
    og_attr kd[1] = { og_attr_int("keepdims", 2) };
    expect_fail(OG_ERR_ATTR, "keepdims", "ReduceMin", 13, 1, &in, 1, kd);
    /* ReduceSum 13: axes as an input; attribute refused; empty axes with noop */
    expect_fail(OG_ERR_ATTR, "not part of ReduceSum-13", "ReduceSum", 13, 1, &in, 1, neg);
    tin two[2] = { in, { OG_INT64, 1, (const int64_t[]){ 0 }, (const int64_t[]){ 0 } } };
    og_attr noop[1] = { og_attr_int("noop_with_empty_axes", 1) };
    og_tensor *y;
    OG_CHECK(run(&y, "ReduceSum", 13, 2, two, 1, noop));
    ck_assert_int_eq(y->numel, 24);
    ck_assert(memcmp(y->data, x, sizeof x) == 0);
    og_tensor_free(y);
    OG_CHECK(run(&y, "ReduceSum", 13, 2, two, 0, NULL));
    ck_assert_int_eq(y->numel, 1);
    ck_assert(((float *)y->data)[0] == 276);
    og_tensor_free(y);
    /* bad axes data at run time: an error naming the node, not a crash */
    tin badin[2] = { in, { OG_INT64, 1, (const int64_t[]){ 1 }, (const int64_t[]){ 7 } } };
    OG_CHECK_FAILS(run(&y, "ReduceSum", 13, 2, badin, 0, NULL), OG_ERR_INVALID_ARG, "input axes");
    /* reduce ops other than ReduceSum take no axes input before opset 18 */
    expect_fail(OG_ERR_INVALID_GRAPH, "expected 1", "ReduceMean", 13, 2, two, 0, NULL);
}
END_TEST

START_TEST(test_argmax_argmin)
{
    static const int64_t d[2] = { 2, 4 };
    const float x[8] = { 1, 5, 5, 2, NAN, 3, NAN, 0 };
    og_tensor *y;
    tin in = { OG_FLOAT, 2, d, x };
    og_attr a[3] = { og_attr_int("axis", -1), og_attr_int("keepdims", 0), og_attr_int("select_last_index", 0) };
    OG_CHECK(run(&y, "ArgMax", 13, 1, &in, 3, a));
    ck_assert_int_eq(((int64_t *)y->data)[0], 1);   /* first of the tie */
    ck_assert_int_eq(((int64_t *)y->data)[1], 0);   /* NaN is the largest */
    og_tensor_free(y);
    a[2] = og_attr_int("select_last_index", 1);
    OG_CHECK(run(&y, "ArgMax", 13, 1, &in, 3, a));
    ck_assert_int_eq(((int64_t *)y->data)[0], 2);
    ck_assert_int_eq(((int64_t *)y->data)[1], 2);
    og_tensor_free(y);
    OG_CHECK(run(&y, "ArgMin", 13, 1, &in, 3, a));
    ck_assert_int_eq(((int64_t *)y->data)[0], 0);
    ck_assert_int_eq(((int64_t *)y->data)[1], 2);   /* NaN is the smallest too */
    og_tensor_free(y);
    og_attr a0[2] = { og_attr_int("axis", 0), og_attr_int("keepdims", 1) };
    expect_shape(OG_INT64, 2, (const int64_t[]){ 1, 4 }, "ArgMin", 13, 1, &in, 2, a0);
    expect_fail(OG_ERR_ATTR, "not part of ArgMax-11", "ArgMax", 11, 1, &in, 3, a);
    og_attr bad[1] = { og_attr_int("axis", 2) };
    expect_fail(OG_ERR_ATTR, "attribute 'axis' is 2", "ArgMax", 13, 1, &in, 1, bad);
    /* random against a scalar search, every axis, threads 1..3 */
    for (int trial = 0; trial < 60; trial++) {
        int64_t dims[3] = { 1 + (int64_t)(rnd() % 6), 1 + (int64_t)(rnd() % 300), 1 + (int64_t)(rnd() % 5) };
        int axis = (int)(rnd() % 3);
        bool last = rnd() % 2, amax = rnd() % 2;
        int64_t numel = dims[0] * dims[1] * dims[2];
        double *xv = malloc(sizeof(double) * (size_t)numel);
        for (int64_t i = 0; i < numel; i++)
            xv[i] = (double)(rnd() % 7);   /* many ties */
        og_graph *g;
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 13));
        gt_input(g, "x", OG_DOUBLE, 3, dims);
        og_attr at[3] = { og_attr_int("axis", axis), og_attr_int("keepdims", 1), og_attr_int("select_last_index", last) };
        gt_node(g, amax ? "ArgMax" : "ArgMin", NODE, GT_NAMES("x"), GT_NAMES("y"), 3, at);
        OG_CHECK(og_graph_add_output(g, "y"));
        OG_CHECK(og_graph_finalize(g));
        og_tensor *xt;
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, 3, dims, xv, &xt));
        og_tensor *y1 = run_graph(g, xt, 1), *y3 = run_graph(g, xt, 1 + trial % 3);
        ck_assert(memcmp(y1->data, y3->data, sizeof(int64_t) * (size_t)y1->numel) == 0);
        int64_t st[3] = { dims[1] * dims[2], dims[2], 1 };
        for (int64_t o = 0; o < y1->numel; o++) {
            int64_t i0 = o / (axis == 0 ? st[0] / 1 : 1);
            (void)i0;
            /* decompose o over the output dims (axis has size 1) */
            int64_t od[3], rem = o;
            for (int dd = 2; dd >= 0; dd--) {
                int64_t sz = dd == axis ? 1 : dims[dd];
                od[dd] = rem % sz;
                rem /= sz;
            }
            int64_t best = 0;
            for (int64_t a2 = 1; a2 < dims[axis]; a2++) {
                od[axis] = a2;
                double v = xv[od[0] * st[0] + od[1] * st[1] + od[2]];
                od[axis] = best;
                double b = xv[od[0] * st[0] + od[1] * st[1] + od[2]];
                if (amax ? (last ? v >= b : v > b) : (last ? v <= b : v < b))
                    best = a2;
            }
            ck_assert_int_eq(((int64_t *)y1->data)[o], best);
        }
        og_tensor_free(y1);
        og_tensor_free(y3);
        og_tensor_free(xt);
        og_graph_free(g);
        free(xv);
    }
}
END_TEST

/* dX of sum(op(X)) at a worked example, through og_gradients. */
static void grad_of(const char *op, int opset, const int64_t *dims, const double *x, int n_at, const og_attr *at,
                    double *dx)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    gt_input(g, "x", OG_DOUBLE, 2, dims);
    og_attr keep0 = og_attr_int("keepdims", 0);
    gt_node(g, op, NODE, GT_NAMES("x"), GT_NAMES("r"), n_at, at);
    gt_node(g, "ReduceSum", "total", GT_NAMES("r"), GT_NAMES("loss"), 1, &keep0);
    OG_CHECK(og_graph_add_output(g, "loss"));
    OG_CHECK(og_graph_finalize(g));
    og_tensor *xt, *grad[1];
    OG_CHECK(og_tensor_create_from(OG_DOUBLE, 2, dims, x, &xt));
    og_grad_options o = { .loss = "loss" };
    OG_CHECK(og_gradients(g, &o, 1, (const og_tensor *const *)&xt, NULL, grad));
    memcpy(dx, grad[0]->data, sizeof(double) * (size_t)grad[0]->numel);
    og_tensor_free(grad[0]);
    og_tensor_free(xt);
    og_graph_free(g);
}

START_TEST(test_subgradients)
{
    static const int64_t d[2] = { 2, 3 };
    og_attr ax1[2] = { og_attr_ints("axes", 1, (const int64_t[]){ 1 }), og_attr_int("keepdims", 0) };
    double dx[6];
    /* values and expected gradients from torch 1.13 (amax, amin, prod, norm) */
    const double ties[6] = { 1, 3, 3, 2, 2, 2 };
    grad_of("ReduceMax", 13, d, ties, 2, ax1, dx);
    const double want_max[6] = { 0, 0.5, 0.5, 1.0 / 3, 1.0 / 3, 1.0 / 3 };
    for (int i = 0; i < 6; i++)
        ck_assert_msg(fabs(dx[i] - want_max[i]) < 1e-12, "max %d: %g", i, dx[i]);
    grad_of("ReduceMin", 13, d, ties, 2, ax1, dx);
    const double want_min[6] = { 1, 0, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3 };
    for (int i = 0; i < 6; i++)
        ck_assert_msg(fabs(dx[i] - want_min[i]) < 1e-12, "min %d: %g", i, dx[i]);
    const double zeros[6] = { 1, 0, 3, 0, 2, 0 };
    grad_of("ReduceProd", 13, d, zeros, 2, ax1, dx);
    const double want_prod[6] = { 0, 3, 0, 0, 0, 0 };
    for (int i = 0; i < 6; i++)
        ck_assert_msg(fabs(dx[i] - want_prod[i]) < 1e-12, "prod %d: %g", i, dx[i]);
    const double l1x[6] = { 0, -2, 3, 0, 0, 0 };
    grad_of("ReduceL1", 13, d, l1x, 2, ax1, dx);
    const double want_l1[6] = { 0, -1, 1, 0, 0, 0 };
    for (int i = 0; i < 6; i++)
        ck_assert_msg(dx[i] == want_l1[i], "l1 %d: %g", i, dx[i]);
    grad_of("ReduceL2", 13, d, l1x, 2, ax1, dx);   /* row 2 all zero: gradient 0 */
    for (int i = 3; i < 6; i++)
        ck_assert_msg(dx[i] == 0, "l2 at 0, %d: %g", i, dx[i]);
    ck_assert(fabs(dx[1] - (-2 / sqrt(13))) < 1e-12);
}
END_TEST

/* gradcheck (order 1 and 2) of one op node over x, with given inputs. */
static void check_grads(og_graph *g, int n_feeds, const og_tensor *const *feeds, const char *what)
{
    for (int order = 1; order <= 2; order++) {
        const char *wrt[1] = { "x" };
        og_gradcheck_options o = { .order = order, .seed = 7, .max_elements = order == 1 ? 48 : 12, .n_wrt = 1,
                                   .wrt = wrt, .n_inputs = n_feeds, .inputs = feeds };
        og_gradcheck_report *r;
        OG_CHECK(og_gradcheck(g, &o, &r));
        for (int k = 0; k < r->n; k++)
            ck_assert_msg(r->entries[k].pass, "%s order %d: '%s' element %lld analytic %.10g numeric %.10g", what,
                          order, r->entries[k].name, (long long)r->entries[k].worst_index,
                          r->entries[k].worst_analytic, r->entries[k].worst_numeric);
        ck_assert(r->pass);
        og_gradcheck_report_free(r);
    }
}

START_TEST(test_gradcheck_reduce)
{
    for (int trial = 0; trial < 3 * K_N; trial++) {
        kind k = (kind)(trial % K_N);
        int rank = 1 + (int)(rnd() % 3);
        int64_t dims[3], axes[3], numel = 1;
        bool red[3];
        for (int d = 0; d < rank; d++)
            numel *= (dims[d] = 1 + (int64_t)(rnd() % 4));
        int n = random_axes(rank, axes, red, true);
        og_graph *g = reduce_graph(k, OG_DOUBLE, 13, rank, dims, n, axes, (int)(rnd() % 2));
        double *xv = malloc(sizeof(double) * (size_t)numel);
        for (int64_t i = 0; i < numel; i++)   /* away from kinks: distinct, nonzero */
            xv[i] = (k == K_LOGSUM ? 0.5 : 0.2) + 0.1 * (double)(rnd() % 1000) / 1000 + 0.3 * (double)i / (double)numel;
        if (k == K_PROD || k == K_L1 || k == K_MAX)
            for (int64_t i = 0; i < numel; i++)
                xv[i] *= rnd() % 2 ? -1 : 1;
        og_tensor *x;
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, rank, dims, xv, &x));
        char what[64];
        snprintf(what, sizeof what, "%s trial %d", kname[k], trial);
        check_grads(g, 1, (const og_tensor *const *)&x, what);
        og_tensor_free(x);
        free(xv);
        og_graph_free(g);
    }
}
END_TEST

/* ReduceMean over a symbolic batch: n comes from the shape at run time
 * (a ReduceSum of ones). */
START_TEST(test_mean_symbolic_dims)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 13));
    gt_input(g, "x", OG_DOUBLE, 2, (const int64_t[]){ -1, 3 });
    og_attr at[2] = { og_attr_ints("axes", 1, (const int64_t[]){ 0 }), og_attr_int("keepdims", 0) };
    gt_node(g, "ReduceMean", NODE, GT_NAMES("x"), GT_NAMES("y"), 2, at);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    const double xv[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    og_tensor *x;
    OG_CHECK(og_tensor_create_from(OG_DOUBLE, 2, (const int64_t[]){ 4, 3 }, xv, &x));
    /* order 1 only: the engine's Expand rule needs known dims to sum back */
    og_gradcheck_options o = { .order = 1, .seed = 3, .n_inputs = 1, .inputs = (const og_tensor *const *)&x };
    og_gradcheck_report *r;
    OG_CHECK(og_gradcheck(g, &o, &r));
    ck_assert(r->pass && r->n == 1 && r->entries[0].checked == 12);
    og_gradcheck_report_free(r);
    og_tensor_free(x);
    og_graph_free(g);
}
END_TEST

/* Softmax/LogSoftmax: both forms against a reference, threads, gradcheck. */
START_TEST(test_softmax_forms)
{
    for (int trial = 0; trial < 40; trial++) {
        bool is_log = trial % 2;
        int opset = trial % 4 < 2 ? 11 : 13;
        int rank = 1 + (int)(rnd() % 3);
        int64_t dims[3], numel = 1;
        for (int d = 0; d < rank; d++)
            numel *= (dims[d] = 1 + (int64_t)(rnd() % (trial < 20 ? 5 : 70)));
        int axis = (int)(rnd() % (uint64_t)rank), axis_attr = rnd() % 2 ? axis - rank : axis;
        og_graph *g;
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", opset));
        gt_input(g, "x", OG_DOUBLE, rank, dims);
        og_attr at = og_attr_int("axis", axis_attr);
        gt_node(g, is_log ? "LogSoftmax" : "Softmax", NODE, GT_NAMES("x"), GT_NAMES("y"), 1, &at);
        OG_CHECK(og_graph_add_output(g, "y"));
        OG_CHECK(og_graph_finalize(g));
        double *xv = malloc(sizeof(double) * (size_t)numel), *want = malloc(sizeof(double) * (size_t)numel);
        for (int64_t i = 0; i < numel; i++)
            xv[i] = urand(-4, 4) + (trial % 5 == 0 ? 800 : 0);
        /* reference: [outer, A, inner] */
        int64_t outer = 1, A = 1, inner = 1;
        for (int d = 0; d < rank; d++) {
            if (d < axis)
                outer *= dims[d];
            else if (d == axis || opset < 13)
                A *= dims[d];
            else
                inner *= dims[d];
        }
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < inner; j++) {
                double m = -INFINITY, s = 0;
                for (int64_t a = 0; a < A; a++)
                    m = fmax(m, xv[(o * A + a) * inner + j]);
                for (int64_t a = 0; a < A; a++)
                    s += exp(xv[(o * A + a) * inner + j] - m);
                for (int64_t a = 0; a < A; a++) {
                    double v = xv[(o * A + a) * inner + j] - m;
                    want[(o * A + a) * inner + j] = is_log ? v - log(s) : exp(v) / s;
                }
            }
        og_tensor *x;
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, rank, dims, xv, &x));
        og_tensor *y1 = run_graph(g, x, 1), *y2 = run_graph(g, x, 2), *y3 = run_graph(g, x, 3);
        ck_assert(memcmp(y1->data, y2->data, sizeof(double) * (size_t)numel) == 0);
        ck_assert(memcmp(y1->data, y3->data, sizeof(double) * (size_t)numel) == 0);
        og_tensor_free(y2);
        for (int64_t i = 0; i < numel; i++)
            ck_assert_msg(fabs(((double *)y1->data)[i] - want[i]) < 1e-12 * (1 + fabs(want[i])),
                          "trial %d element %lld: %.15g vs %.15g", trial, (long long)i, ((double *)y1->data)[i],
                          want[i]);
        if (numel <= 64 && opset < 13 && axis != rank - 1) {
            /* the 2-D form over several axes cannot be raised to opset 17 */
            og_gradcheck_options o = { .order = 1 };
            og_gradcheck_report *r = NULL;
            OG_CHECK_FAILS(og_gradcheck(g, &o, &r), OG_ERR_UNSUPPORTED, "only axis = rank - 1 can be raised");
        } else if (numel <= 64) {
            for (int64_t i = 0; i < numel; i++)
                xv[i] = urand(-2, 2);
            og_tensor *xs;
            OG_CHECK(og_tensor_create_from(OG_DOUBLE, rank, dims, xv, &xs));
            char what[96];
            snprintf(what, sizeof what, "%s opset %d rank %d axis %d trial %d", is_log ? "LogSoftmax" : "Softmax",
                     opset, rank, axis_attr, trial);
            check_grads(g, 1, (const og_tensor *const *)&xs, what);
            og_tensor_free(xs);
        }
        og_tensor_free(y1);
        og_tensor_free(y3);
        og_tensor_free(x);
        free(xv);
        free(want);
        og_graph_free(g);
    }
    static const int64_t d[2] = { 2, 3 };
    tin in = { OG_FLOAT, 2, d, NULL };
    og_attr bad = og_attr_int("axis", -1);
    expect_fail(OG_ERR_ATTR, "expected a value in [0, 1]", "Softmax", 1, 1, &in, 1, &bad);
    tin i32 = { OG_INT32, 2, d, NULL };
    expect_fail(OG_ERR_SHAPE, "expected float or double", "LogSoftmax", 13, 1, &i32, 0, NULL);
}
END_TEST

/* The losses against their definition, then gradchecks w.r.t. the scores
 * with weights and ignore_index (labels and weights fixed). */
static og_graph *loss_graph(bool sce, int rank, const int64_t *xd, og_dtype tdt, bool weight, const char *reduction,
                            bool has_ii, int64_t ii, bool log_prob)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 13));
    int64_t td[8];
    td[0] = xd[0];
    for (int d = 2; d < rank; d++)
        td[d - 1] = xd[d];
    gt_input(g, "x", OG_DOUBLE, rank, xd);
    gt_input(g, "t", tdt, rank - 1, td);
    if (weight)
        gt_input(g, "w", OG_DOUBLE, 1, &xd[1]);
    og_attr at[2] = { og_attr_string("reduction", reduction), og_attr_int("ignore_index", ii) };
    const char *const *outs = log_prob ? GT_NAMES("y", "lp") : GT_NAMES("y");
    gt_node(g, sce ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss", NODE,
            weight ? GT_NAMES("x", "t", "w") : GT_NAMES("x", "t"), outs, has_ii ? 2 : 1, at);
    OG_CHECK(og_graph_add_output(g, "y"));
    if (log_prob)
        OG_CHECK(og_graph_add_output(g, "lp"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

START_TEST(test_losses)
{
    static const char *const reds[3] = { "none", "sum", "mean" };
    for (int trial = 0; trial < 48; trial++) {
        bool sce = trial % 2, weight = trial / 2 % 2, has_ii = trial / 4 % 2, log_prob = sce && trial / 8 % 2;
        const char *reduction = reds[trial % 3];
        og_dtype tdt = trial / 3 % 2 ? OG_INT32 : OG_INT64;
        int rank = 2 + (int)(rnd() % 3);
        int64_t xd[4], C, N, D = 1, numel = 1;
        for (int d = 0; d < rank; d++)
            numel *= (xd[d] = 1 + (int64_t)(rnd() % 4));
        N = xd[0];
        C = xd[1] = 2 + xd[1];
        numel = numel / (xd[1] - 2) * C;
        for (int d = 2; d < rank; d++)
            D *= xd[d];
        int64_t ii = has_ii ? (rnd() % 2 ? -1 : 1) : 0;
        og_graph *g = loss_graph(sce, rank, xd, tdt, weight, reduction, has_ii, ii, log_prob);
        double *xv = malloc(sizeof(double) * (size_t)numel), wv[8];
        int64_t *tv = malloc(sizeof(int64_t) * (size_t)(N * D));
        int32_t *tv32 = malloc(sizeof(int32_t) * (size_t)(N * D));
        for (int64_t i = 0; i < numel; i++)
            xv[i] = urand(-2, 2);
        for (int64_t c = 0; c < C; c++)
            wv[c] = urand(0.2, 2);
        for (int64_t i = 0; i < N * D; i++) {
            tv[i] = (int64_t)(rnd() % (uint64_t)C);
            if (has_ii && (rnd() % 3 == 0 ? i > 0 : i == 0 && tv[i] == ii))
                tv[i] = i > 0 ? ii : (ii + 1) % C;   /* position 0 never ignored: no 0/0 */
            tv32[i] = (int32_t)tv[i];
        }
        og_tensor *feeds[3];
        int64_t td[4];
        td[0] = N;
        for (int d = 2; d < rank; d++)
            td[d - 1] = xd[d];
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, rank, xd, xv, &feeds[0]));
        OG_CHECK(og_tensor_create_from(tdt, rank - 1, td, tdt == OG_INT32 ? (void *)tv32 : (void *)tv, &feeds[1]));
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, 1, &C, wv, &feeds[2]));
        og_plan *p;
        og_tensor *outs[2] = { 0 };
        OG_CHECK(og_plan_create(g, &p));
        OG_CHECK(og_plan_run(p, weight ? 3 : 2, (const og_tensor *const *)feeds, outs));
        og_plan_free(p);
        /* the definition */
        double sum = 0, wsum = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t d = 0; d < D; d++) {
                int64_t c = tv[n * D + d];
                double l = 0, w = 0;
                if (!(has_ii && c == ii)) {
                    double lp = xv[(n * C + c) * D + d];
                    if (sce) {
                        double m = -INFINITY, s = 0;
                        for (int64_t k = 0; k < C; k++)
                            m = fmax(m, xv[(n * C + k) * D + d]);
                        for (int64_t k = 0; k < C; k++)
                            s += exp(xv[(n * C + k) * D + d] - m);
                        lp = lp - m - log(s);
                    }
                    w = weight ? wv[c] : 1;
                    l = -w * lp;
                }
                if (reduction[0] == 'n')
                    ck_assert_msg(fabs(((double *)outs[0]->data)[n * D + d] - l) < 1e-12, "trial %d: loss[%lld]",
                                  trial, (long long)(n * D + d));
                sum += l;
                wsum += w;
            }
        if (reduction[0] != 'n') {
            double want = reduction[0] == 'm' ? sum / wsum : sum;
            ck_assert_int_eq(outs[0]->rank, 0);
            ck_assert_msg(fabs(((double *)outs[0]->data)[0] - want) < 1e-12 * (1 + fabs(want)), "trial %d: %.15g vs %.15g",
                          trial, ((double *)outs[0]->data)[0], want);
        }
        char what[64];
        snprintf(what, sizeof what, "%s %s trial %d", sce ? "SCE" : "NLL", reduction, trial);
        check_grads(g, weight ? 3 : 2, (const og_tensor *const *)feeds, what);
        for (int k = 0; k < 2; k++)
            og_tensor_free(outs[k]);
        for (int k = 0; k < 3; k++)
            og_tensor_free(feeds[k]);
        free(xv);
        free(tv);
        free(tv32);
        og_graph_free(g);
    }
}
END_TEST

START_TEST(test_loss_errors)
{
    static const int64_t xd[2] = { 2, 3 }, td[1] = { 2 };
    const float x[6] = { 0 };
    const int64_t bad[2] = { 1, 3 }, neg[2] = { -1, 0 };
    og_tensor *y;
    tin ins[2] = { { OG_FLOAT, 2, xd, x }, { OG_INT64, 1, td, bad } };
    OG_CHECK_FAILS(run(&y, "NegativeLogLikelihoodLoss", 13, 2, ins, 0, NULL), OG_ERR_INVALID_ARG,
                   "has 3 at position 1, expected a class in [0, 2]");
    OG_CHECK_FAILS(run(&y, "SoftmaxCrossEntropyLoss", 12, 2, ins, 0, NULL), OG_ERR_INVALID_ARG, "expected a class");
    ins[1].data = neg;
    OG_CHECK_FAILS(run(&y, "SoftmaxCrossEntropyLoss", 13, 2, ins, 0, NULL), OG_ERR_INVALID_ARG, "has -1");
    og_attr ii = og_attr_int("ignore_index", -1);
    OG_CHECK(run(&y, "SoftmaxCrossEntropyLoss", 13, 2, ins, 1, &ii));   /* -1 ignored: fine */
    ck_assert(fabs(((float *)y->data)[0] - log(3.0)) < 1e-6);
    og_tensor_free(y);
    og_attr red = og_attr_string("reduction", "avg");
    expect_fail(OG_ERR_ATTR, "none, sum or mean", "NegativeLogLikelihoodLoss", 13, 2, ins, 1, &red);
    tin wrong[2] = { { OG_FLOAT, 2, xd, NULL }, { OG_INT64, 1, (const int64_t[]){ 3 }, NULL } };
    expect_fail(OG_ERR_SHAPE, "without its class axis", "NegativeLogLikelihoodLoss", 13, 2, wrong, 0, NULL);
    tin flt[2] = { { OG_FLOAT, 2, xd, NULL }, { OG_FLOAT, 1, td, NULL } };
    expect_fail(OG_ERR_SHAPE, "expected int32 or int64", "SoftmaxCrossEntropyLoss", 13, 2, flt, 0, NULL);
    /* the weight is not differentiable: asking for its gradient is an error */
    og_graph *g = loss_graph(true, 2, (const int64_t[]){ 2, 3 }, OG_INT64, true, "mean", false, 0, false);
    og_graph *gg;
    og_grad_options o = { .loss = "y", .n_wrt = 1, .wrt = (const char *const[]){ "w" } };
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o, &gg), OG_ERR_INVALID_ARG, "'w'");
    og_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reduce_family");
    TCase *tc = tcase_create("all");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_forward_random);
    tcase_add_test(tc, test_threads_bit_identical);
    tcase_add_test(tc, test_special_values);
    tcase_add_test(tc, test_integer_reductions);
    tcase_add_test(tc, test_axes_forms_and_errors);
    tcase_add_test(tc, test_argmax_argmin);
    tcase_add_test(tc, test_subgradients);
    tcase_add_test(tc, test_gradcheck_reduce);
    tcase_add_test(tc, test_mean_symbolic_dims);
    tcase_add_test(tc, test_softmax_forms);
    tcase_add_test(tc, test_losses);
    tcase_add_test(tc, test_loss_errors);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
