/* SPDX-License-Identifier: MIT */
/* test_conv.c — Conv: hand-worked examples, 1-D/2-D/3-D against a naive
 * reference convolution (groups, depthwise, dilations, asymmetric pads,
 * every auto_pad mode, bias, float64), inferred shapes with unknown dims,
 * and the errors finalize must report. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

#define NODE "conv_node"

/* ---- one-node graph helpers -------------------------------------------- */

/* Graph: inputs X, W and (when bdims != NULL) B, node NODE -> "Y", output Y. */
static og_status build(og_graph **g, int opset, og_dtype dt, int rank, const int64_t *xd, const int64_t *wd,
                       const int64_t *bdims, int n_attrs, const og_attr *attrs)
{
    const char *in[3] = { "X", "W", "B" }, *out[1] = { "Y" };
    og_status st;
    *g = NULL;
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, "", opset)) ||
        (st = og_graph_add_input(*g, "X", dt, rank, xd, NULL)) ||
        (st = og_graph_add_input(*g, "W", dt, rank, wd, NULL)) ||
        (bdims && (st = og_graph_add_input(*g, "B", dt, 1, bdims, NULL))) ||
        (st = og_graph_add_node(*g, "Conv", NULL, NODE, bdims ? 3 : 2, in, 1, out, n_attrs, attrs)) ||
        (st = og_graph_add_output(*g, "Y")))
        return st;
    return og_graph_finalize(*g);
}

/* build + plan + run; on OG_OK *y is the caller's. */
static og_status run(og_tensor **y, og_dtype dt, int rank, const int64_t *xd, const void *x, const int64_t *wd,
                     const void *w, const int64_t *bd, const void *b, int n_attrs, const og_attr *attrs)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_tensor *feeds[3] = { 0 };
    og_status st;
    *y = NULL;
    if ((st = build(&g, 17, dt, rank, xd, wd, bd, n_attrs, attrs)) || (st = og_plan_create(g, &p)) ||
        (st = og_tensor_create_from(dt, rank, xd, x, &feeds[0])) ||
        (st = og_tensor_create_from(dt, rank, wd, w, &feeds[1])) ||
        (bd && (st = og_tensor_create_from(dt, 1, bd, b, &feeds[2]))))
        goto done;
    st = og_plan_run(p, bd ? 3 : 2, (const og_tensor *const *)feeds, y);
done:
    for (int k = 0; k < 3; k++)
        og_tensor_free(feeds[k]);
    og_plan_free(p);
    og_graph_free(g);
    return st;
}

/* Finalize must fail with `code`, naming the node and containing `needle`. */
static void expect_fail(og_status code, const char *needle, og_dtype dt, int rank, const int64_t *xd,
                        const int64_t *wd, const int64_t *bd, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_status st = build(&g, 17, dt, rank, xd, wd, bd, n_attrs, attrs);
    const char *msg = og_errmsg();
    ck_assert_msg(st == code, "expected %s, got %s: %s", og_status_name(code), og_status_name(st),
                  st ? msg : "(finalize succeeded)");
    ck_assert_msg(strstr(msg, "'" NODE "'") != NULL, "message does not name the node: %s", msg);
    if (needle)
        ck_assert_msg(strstr(msg, needle) != NULL, "message lacks \"%s\": %s", needle, msg);
    og_graph_free(g);
}

static void expect_values_f(const og_tensor *y, int rank, const int64_t *dims, const float *want)
{
    ck_assert_int_eq(y->dtype, OG_FLOAT);
    ck_assert_int_eq(y->rank, rank);
    for (int k = 0; k < rank; k++)
        ck_assert_msg(y->dims[k] == dims[k], "dim %d: got %lld, expected %lld", k, (long long)y->dims[k],
                      (long long)dims[k]);
    const float *v = y->data;
    for (int64_t i = 0; i < y->numel; i++)
        ck_assert_msg(v[i] == want[i], "Y[%lld] = %g, expected %g", (long long)i, (double)v[i], (double)want[i]);
}

/* ---- naive reference ----------------------------------------------------
 * A conv problem with its pads already resolved; the reference is the
 * definition written as nested loops, in double. */
typedef struct prob {
    og_dtype dt;
    int n;                       /* spatial axes, 1..3 */
    int64_t N, C, M, group;
    int64_t in[3], k[3], stride[3], dil[3], pb[3], pe[3];
    bool bias;
} prob;

static uint64_t rng = 88172645463325252ull;
static double uniform(void)   /* in [-1, 1), deterministic */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void out_dims(const prob *p, int64_t *out)
{
    for (int a = 0; a < p->n; a++)
        out[a] = (p->in[a] + p->pb[a] + p->pe[a] - ((p->k[a] - 1) * p->dil[a] + 1)) / p->stride[a] + 1;
}

static void ref_conv(const prob *p, const double *x, const double *w, const double *b, double *y)
{
    int64_t out[3] = { 1, 1, 1 }, in[3] = { 1, 1, 1 }, k[3] = { 1, 1, 1 }, st[3] = { 1, 1, 1 },
            dl[3] = { 1, 1, 1 }, pb[3] = { 0, 0, 0 };
    out_dims(p, out);
    for (int a = 0; a < p->n; a++) {   /* pad to 3 axes of size 1 */
        in[a] = p->in[a], k[a] = p->k[a], st[a] = p->stride[a], dl[a] = p->dil[a], pb[a] = p->pb[a];
    }
    for (int a = p->n; a < 3; a++)
        out[a] = 1;
    int64_t Cg = p->C / p->group, Mg = p->M / p->group;
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t m = 0; m < p->M; m++)
            for (int64_t o0 = 0; o0 < out[0]; o0++)
                for (int64_t o1 = 0; o1 < out[1]; o1++)
                    for (int64_t o2 = 0; o2 < out[2]; o2++) {
                        double s = b ? b[m] : 0.0;
                        int64_t g = m / Mg;
                        for (int64_t c = 0; c < Cg; c++)
                            for (int64_t j0 = 0; j0 < k[0]; j0++)
                                for (int64_t j1 = 0; j1 < k[1]; j1++)
                                    for (int64_t j2 = 0; j2 < k[2]; j2++) {
                                        int64_t i0 = o0 * st[0] + j0 * dl[0] - pb[0];
                                        int64_t i1 = o1 * st[1] + j1 * dl[1] - pb[1];
                                        int64_t i2 = o2 * st[2] + j2 * dl[2] - pb[2];
                                        if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2])
                                            continue;
                                        double xv = x[(((n * p->C + g * Cg + c) * in[0] + i0) * in[1] + i1) * in[2] + i2];
                                        double wv = w[(((m * Cg + c) * k[0] + j0) * k[1] + j1) * k[2] + j2];
                                        s += xv * wv;
                                    }
                        y[(((n * p->M + m) * out[0] + o0) * out[1] + o1) * out[2] + o2] = s;
                    }
}

/* Runs Conv with `attrs` on random data and compares with the reference. */
static void check_vs_ref(const prob *p, int n_attrs, const og_attr *attrs)
{
    int rank = p->n + 2;
    int64_t xd[5] = { p->N, p->C }, wd[5] = { p->M, p->C / p->group }, bd[1] = { p->M }, yd[5] = { p->N, p->M };
    int64_t xn = p->N * p->C, wn = p->M * (p->C / p->group), yn = p->N * p->M, out[3];
    out_dims(p, out);
    for (int a = 0; a < p->n; a++) {
        xd[2 + a] = p->in[a], wd[2 + a] = p->k[a], yd[2 + a] = out[a];
        xn *= p->in[a], wn *= p->k[a], yn *= out[a];
    }
    double *x = malloc(sizeof(double) * xn), *w = malloc(sizeof(double) * wn), *b = malloc(sizeof(double) * p->M),
           *want = malloc(sizeof(double) * yn);
    float *xf = malloc(sizeof(float) * xn), *wf = malloc(sizeof(float) * wn), *bf = malloc(sizeof(float) * p->M);
    for (int64_t i = 0; i < xn; i++)
        xf[i] = (float)(x[i] = uniform());
    for (int64_t i = 0; i < wn; i++)
        wf[i] = (float)(w[i] = uniform());
    for (int64_t i = 0; i < p->M; i++)
        bf[i] = (float)(b[i] = uniform());
    bool f32 = p->dt == OG_FLOAT;
    if (f32) {   /* the reference sees exactly the float inputs */
        for (int64_t i = 0; i < xn; i++) x[i] = xf[i];
        for (int64_t i = 0; i < wn; i++) w[i] = wf[i];
        for (int64_t i = 0; i < p->M; i++) b[i] = bf[i];
    }
    ref_conv(p, x, w, p->bias ? b : NULL, want);

    og_tensor *y;
    OG_CHECK(run(&y, p->dt, rank, xd, f32 ? (void *)xf : (void *)x, wd, f32 ? (void *)wf : (void *)w,
                 p->bias ? bd : NULL, f32 ? (void *)bf : (void *)b, n_attrs, attrs));
    ck_assert_int_eq(y->dtype, p->dt);
    ck_assert_int_eq(y->rank, rank);
    for (int a = 0; a < rank; a++)
        ck_assert_msg(y->dims[a] == yd[a], "Y dim %d: got %lld, expected %lld", a, (long long)y->dims[a],
                      (long long)yd[a]);
    double tol = f32 ? 1e-4 : 1e-12;
    for (int64_t i = 0; i < yn; i++) {
        double got = f32 ? ((const float *)y->data)[i] : ((const double *)y->data)[i];
        ck_assert_msg(fabs(got - want[i]) <= tol * (1 + fabs(want[i])), "Y[%lld] = %.17g, expected %.17g",
                      (long long)i, got, want[i]);
    }
    og_tensor_free(y);
    free(x), free(w), free(b), free(want), free(xf), free(wf), free(bf);
}

/* ---- hand-worked examples ---------------------------------------------- */

/* X = [[1,2,3],[4,5,6],[7,8,9]], W = [[1,2],[3,4]], stride 1, no pads:
 *   Y[0][0] = 1*1 + 2*2 + 4*3 + 5*4 = 37    Y[0][1] = 2*1 + 3*2 + 5*3 + 6*4 = 47
 *   Y[1][0] = 4*1 + 5*2 + 7*3 + 8*4 = 67    Y[1][1] = 5*1 + 6*2 + 8*3 + 9*4 = 77 */
START_TEST(conv_3x3_by_2x2)
{
    const float x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, w[4] = { 1, 2, 3, 4 }, want[4] = { 37, 47, 67, 77 };
    int64_t xd[4] = { 1, 1, 3, 3 }, wd[4] = { 1, 1, 2, 2 }, yd[4] = { 1, 1, 2, 2 };
    og_tensor *y;
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, NULL, NULL, 0, NULL));
    expect_values_f(y, 4, yd, want);
    og_tensor_free(y);

    /* Same with bias 0.5 and an explicit kernel_shape. */
    const float b[1] = { 0.5f }, want_b[4] = { 37.5f, 47.5f, 67.5f, 77.5f };
    int64_t bd[1] = { 1 }, ks[2] = { 2, 2 };
    og_attr a = og_attr_ints("kernel_shape", 2, ks);
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, bd, b, 1, &a));
    expect_values_f(y, 4, yd, want_b);
    og_tensor_free(y);
}
END_TEST

/* X[i][j] = 5i + j on a 5x5 grid, W = 3x3 of ones, stride 2. Each window
 * sum is 9 * its centre value when the window is inside the grid:
 *   no pads: centres (1,1)=6, (1,3)=8, (3,1)=16, (3,3)=18 -> 54 72 144 162
 *   pads 1:  centres (0,0) (0,2) (0,4) (2,0) ... clipped at the border, e.g.
 *            (0,0): 0+1+5+6 = 12, (0,2): 1+2+3+6+7+8 = 27, (2,2): 9*12 = 108 */
START_TEST(conv_5x5_by_3x3_stride2)
{
    float x[25], w[9];
    for (int i = 0; i < 25; i++)
        x[i] = (float)i;
    for (int i = 0; i < 9; i++)
        w[i] = 1;
    int64_t xd[4] = { 1, 1, 5, 5 }, wd[4] = { 1, 1, 3, 3 };
    const int64_t strides[2] = { 2, 2 }, pads[4] = { 1, 1, 1, 1 };
    og_tensor *y;

    const float want[4] = { 54, 72, 144, 162 };
    int64_t yd[4] = { 1, 1, 2, 2 };
    og_attr a1[1] = { og_attr_ints("strides", 2, strides) };
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, NULL, NULL, 1, a1));
    expect_values_f(y, 4, yd, want);
    og_tensor_free(y);

    const float want_p[9] = { 12, 27, 24, 63, 108, 81, 72, 117, 84 };
    int64_t yd_p[4] = { 1, 1, 3, 3 };
    og_attr a2[2] = { og_attr_ints("strides", 2, strides), og_attr_ints("pads", 4, pads) };
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, NULL, NULL, 2, a2));
    expect_values_f(y, 4, yd_p, want_p);
    og_tensor_free(y);
}
END_TEST

/* Two groups of one channel each: output channel 0 sees only input
 * channel 0, output channel 1 only input channel 1.
 * X = [[1,2],[3,4]] | [[10,20],[30,40]], W = 1x1 weights 2 and -1:
 * Y = [[2,4],[6,8]] | [[-10,-20],[-30,-40]] (pointwise path, no im2col). */
START_TEST(conv_group2_by_hand)
{
    const float x[8] = { 1, 2, 3, 4, 10, 20, 30, 40 }, w[2] = { 2, -1 };
    const float want[8] = { 2, 4, 6, 8, -10, -20, -30, -40 };
    int64_t xd[4] = { 1, 2, 2, 2 }, wd[4] = { 2, 1, 1, 1 }, yd[4] = { 1, 2, 2, 2 };
    og_attr a = og_attr_int("group", 2);
    og_tensor *y;
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, NULL, NULL, 1, &a));
    expect_values_f(y, 4, yd, want);
    og_tensor_free(y);
}
END_TEST

/* ---- against the reference --------------------------------------------- */

START_TEST(conv_1d)
{
    prob p = { .dt = OG_FLOAT, .n = 1, .N = 2, .C = 3, .M = 4, .group = 1, .in = { 11 }, .k = { 3 },
               .stride = { 2 }, .dil = { 1 }, .pb = { 1 }, .pe = { 2 }, .bias = true };
    const int64_t strides[1] = { 2 }, pads[2] = { 1, 2 };
    og_attr a[2] = { og_attr_ints("strides", 1, strides), og_attr_ints("pads", 2, pads) };
    check_vs_ref(&p, 2, a);
}
END_TEST

START_TEST(conv_2d_plain_and_batched)
{
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 3, .C = 4, .M = 5, .group = 1, .in = { 7, 6 }, .k = { 3, 2 },
               .stride = { 1, 1 }, .dil = { 1, 1 } };
    check_vs_ref(&p, 0, NULL);
}
END_TEST

START_TEST(conv_3d)
{
    prob p = { .dt = OG_FLOAT, .n = 3, .N = 2, .C = 2, .M = 3, .group = 1, .in = { 5, 6, 4 }, .k = { 2, 3, 2 },
               .stride = { 1, 2, 1 }, .dil = { 1, 1, 2 }, .pb = { 1, 0, 1 }, .pe = { 0, 1, 1 }, .bias = true };
    const int64_t strides[3] = { 1, 2, 1 }, dil[3] = { 1, 1, 2 }, pads[6] = { 1, 0, 1, 0, 1, 1 };
    og_attr a[3] = { og_attr_ints("strides", 3, strides), og_attr_ints("dilations", 3, dil),
                     og_attr_ints("pads", 6, pads) };
    check_vs_ref(&p, 3, a);
}
END_TEST

START_TEST(conv_group2)
{
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 2, .C = 4, .M = 6, .group = 2, .in = { 6, 5 }, .k = { 3, 3 },
               .stride = { 1, 1 }, .dil = { 1, 1 }, .pb = { 1, 1 }, .pe = { 1, 1 }, .bias = true };
    const int64_t pads[4] = { 1, 1, 1, 1 };
    og_attr a[2] = { og_attr_int("group", 2), og_attr_ints("pads", 4, pads) };
    check_vs_ref(&p, 2, a);
}
END_TEST

START_TEST(conv_depthwise)
{
    /* group == C == M: each channel convolved with its own kernel. */
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 2, .C = 5, .M = 5, .group = 5, .in = { 7, 7 }, .k = { 3, 3 },
               .stride = { 2, 2 }, .dil = { 1, 1 }, .pb = { 1, 1 }, .pe = { 1, 1 } };
    const int64_t strides[2] = { 2, 2 }, pads[4] = { 1, 1, 1, 1 };
    og_attr a[3] = { og_attr_int("group", 5), og_attr_ints("strides", 2, strides), og_attr_ints("pads", 4, pads) };
    check_vs_ref(&p, 3, a);

    /* Depthwise with channel multiplier 2 (M = 2C). */
    prob q = { .dt = OG_FLOAT, .n = 2, .N = 1, .C = 3, .M = 6, .group = 3, .in = { 5, 6 }, .k = { 2, 3 },
               .stride = { 1, 1 }, .dil = { 1, 1 }, .bias = true };
    og_attr b[1] = { og_attr_int("group", 3) };
    check_vs_ref(&q, 1, b);
}
END_TEST

START_TEST(conv_dilations)
{
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 1, .C = 2, .M = 3, .group = 1, .in = { 9, 8 }, .k = { 3, 2 },
               .stride = { 1, 2 }, .dil = { 2, 3 } };
    const int64_t strides[2] = { 1, 2 }, dil[2] = { 2, 3 };
    og_attr a[2] = { og_attr_ints("strides", 2, strides), og_attr_ints("dilations", 2, dil) };
    check_vs_ref(&p, 2, a);
}
END_TEST

START_TEST(conv_asymmetric_pads)
{
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 1, .C = 3, .M = 2, .group = 1, .in = { 5, 6 }, .k = { 3, 3 },
               .stride = { 1, 1 }, .dil = { 1, 1 }, .pb = { 0, 2 }, .pe = { 3, 1 }, .bias = true };
    const int64_t pads[4] = { 0, 2, 3, 1 };
    og_attr a[1] = { og_attr_ints("pads", 4, pads) };
    check_vs_ref(&p, 1, a);
}
END_TEST

/* auto_pad, with the pads each mode must resolve to stated by hand:
 * in 7, k 3, stride 2: out = ceil(7/2) = 4, total = 3*2 + 3 - 7 = 2 -> [1, 1]
 * in 6, k 4, stride 1: out = 6, total = 5 + 4 - 6 = 3 -> UPPER [1, 2], LOWER [2, 1]
 * VALID in 7, k 3, s 2 -> out 3; in 6, k 4, s 1 -> out 3. */
START_TEST(conv_auto_pad)
{
    const int64_t strides[2] = { 2, 1 };
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 1, .C = 2, .M = 3, .group = 1, .in = { 7, 6 }, .k = { 3, 4 },
               .stride = { 2, 1 }, .dil = { 1, 1 }, .pb = { 1, 1 }, .pe = { 1, 2 }, .bias = true };
    og_attr a[2] = { og_attr_ints("strides", 2, strides), og_attr_string("auto_pad", "SAME_UPPER") };
    check_vs_ref(&p, 2, a);

    p.pb[1] = 2, p.pe[1] = 1;
    a[1] = og_attr_string("auto_pad", "SAME_LOWER");
    check_vs_ref(&p, 2, a);

    p.pb[0] = p.pb[1] = p.pe[0] = p.pe[1] = 0;
    a[1] = og_attr_string("auto_pad", "VALID");
    check_vs_ref(&p, 2, a);

    p.pb[0] = p.pb[1] = 0;
    a[1] = og_attr_string("auto_pad", "NOTSET");
    check_vs_ref(&p, 2, a);

    /* SAME with dilation: in 5, k 3, d 2 (effective 5), s 1 -> out 5,
     * total 4 + 5 - 5 = 4 -> [2, 2]. */
    const int64_t dil[1] = { 2 };
    prob q = { .dt = OG_FLOAT, .n = 1, .N = 1, .C = 1, .M = 1, .group = 1, .in = { 5 }, .k = { 3 },
               .stride = { 1 }, .dil = { 2 }, .pb = { 2 }, .pe = { 2 } };
    og_attr b[2] = { og_attr_ints("dilations", 1, dil), og_attr_string("auto_pad", "SAME_UPPER") };
    check_vs_ref(&q, 2, b);
}
END_TEST

START_TEST(conv_float64)
{
    prob p = { .dt = OG_DOUBLE, .n = 2, .N = 2, .C = 4, .M = 4, .group = 2, .in = { 6, 7 }, .k = { 3, 2 },
               .stride = { 2, 1 }, .dil = { 1, 2 }, .pb = { 1, 0 }, .pe = { 2, 1 }, .bias = true };
    const int64_t strides[2] = { 2, 1 }, dil[2] = { 1, 2 }, pads[4] = { 1, 0, 2, 1 };
    og_attr a[4] = { og_attr_int("group", 2), og_attr_ints("strides", 2, strides), og_attr_ints("dilations", 2, dil),
                     og_attr_ints("pads", 4, pads) };
    check_vs_ref(&p, 4, a);

    prob q = { .dt = OG_DOUBLE, .n = 1, .N = 1, .C = 3, .M = 2, .group = 1, .in = { 9 }, .k = { 1 },
               .stride = { 1 }, .dil = { 1 }, .bias = true };   /* pointwise path */
    check_vs_ref(&q, 0, NULL);
}
END_TEST

/* Kernel as large as the padded input: a single output cell. */
START_TEST(conv_kernel_fills_input)
{
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 1, .C = 2, .M = 2, .group = 1, .in = { 3, 2 }, .k = { 5, 4 },
               .stride = { 3, 3 }, .dil = { 1, 1 }, .pb = { 1, 1 }, .pe = { 1, 1 } };
    const int64_t strides[2] = { 3, 3 }, pads[4] = { 1, 1, 1, 1 };
    og_attr a[2] = { og_attr_ints("strides", 2, strides), og_attr_ints("pads", 4, pads) };
    check_vs_ref(&p, 2, a);
}
END_TEST

/* ---- shape inference ---------------------------------------------------- */

START_TEST(conv_unknown_dims)
{
    og_graph *g;
    og_value_info vi;
    int64_t xd[4] = { -1, 4, -1, 9 }, wd[4] = { 6, 2, 3, 3 }, bd[1] = { 6 };
    const int64_t strides[2] = { 2, 2 };
    og_attr a[2] = { og_attr_int("group", 2), og_attr_ints("strides", 2, strides) };
    OG_CHECK(build(&g, 17, OG_FLOAT, 4, xd, wd, bd, 2, a));
    OG_CHECK(og_graph_value(g, "Y", &vi));
    ck_assert_int_eq(vi.dtype, OG_FLOAT);
    ck_assert_int_eq(vi.rank, 4);
    ck_assert_int_eq(vi.dims[0], -1);
    ck_assert_int_eq(vi.dims[1], 6);
    ck_assert_int_eq(vi.dims[2], -1);
    ck_assert_int_eq(vi.dims[3], 4);   /* (9 - 3) / 2 + 1 */
    og_graph_free(g);
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

START_TEST(conv_errors)
{
    int64_t x4[4] = { 1, 4, 5, 5 }, w4[4] = { 2, 4, 3, 3 }, b1[1] = { 2 };

    /* wrong ranks */
    int64_t x2[2] = { 1, 4 };
    expect_fail(OG_ERR_SHAPE, "rank 2", OG_FLOAT, 2, x2, x2, NULL, 0, NULL);
    {
        og_graph *g;
        int64_t w3[3] = { 2, 4, 3 };
        const char *in[2] = { "X", "W" }, *out[1] = { "Y" };
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 17));
        OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, x4, NULL));
        OG_CHECK(og_graph_add_input(g, "W", OG_FLOAT, 3, w3, NULL));
        OG_CHECK(og_graph_add_node(g, "Conv", NULL, NODE, 2, in, 1, out, 0, NULL));
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_SHAPE, "'" NODE "'");
        ck_assert_msg(strstr(og_errmsg(), "rank 3") != NULL, "%s", og_errmsg());
        og_graph_free(g);
    }

    /* bad group: 0 is out of range, 3 does not divide C = 4 (W.shape[1] 4 * 3 != 4) */
    og_attr g0 = og_attr_int("group", 0);
    expect_fail(OG_ERR_ATTR, "group", OG_FLOAT, 4, x4, w4, NULL, 1, &g0);
    og_attr g3 = og_attr_int("group", 3);
    expect_fail(OG_ERR_SHAPE, "channels", OG_FLOAT, 4, x4, w4, NULL, 1, &g3);
    int64_t w_m3[4] = { 3, 2, 3, 3 };
    og_attr g2 = og_attr_int("group", 2);
    expect_fail(OG_ERR_SHAPE, "multiple of group", OG_FLOAT, 4, x4, w_m3, NULL, 1, &g2);

    /* stride 0, dilation 0, negative pad, wrong lengths */
    const int64_t s0[2] = { 1, 0 }, d0[2] = { 0, 1 }, pneg[4] = { 0, -1, 0, 0 }, p3[3] = { 1, 1, 1 };
    og_attr a = og_attr_ints("strides", 2, s0);
    expect_fail(OG_ERR_ATTR, "strides[1]", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("dilations", 2, d0);
    expect_fail(OG_ERR_ATTR, "dilations[0]", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("pads", 4, pneg);
    expect_fail(OG_ERR_ATTR, "pads", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("pads", 3, p3);
    expect_fail(OG_ERR_ATTR, "expected 4", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("strides", 1, s0);
    expect_fail(OG_ERR_ATTR, "expected 2", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* pads together with auto_pad */
    const int64_t p1[4] = { 1, 1, 1, 1 };
    og_attr both[2] = { og_attr_ints("pads", 4, p1), og_attr_string("auto_pad", "SAME_UPPER") };
    expect_fail(OG_ERR_ATTR, "auto_pad", OG_FLOAT, 4, x4, w4, NULL, 2, both);
    a = og_attr_string("auto_pad", "SAME");
    expect_fail(OG_ERR_ATTR, "auto_pad", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* kernel larger than the padded input: 5 + 0 < 7; with dilation 3 the
     * 3-tap kernel spans 7 too */
    int64_t w_big[4] = { 2, 4, 7, 3 };
    expect_fail(OG_ERR_SHAPE, "exceeds padded input", OG_FLOAT, 4, x4, w_big, NULL, 0, NULL);
    const int64_t d3[2] = { 3, 1 };
    a = og_attr_ints("dilations", 2, d3);
    expect_fail(OG_ERR_SHAPE, "effective kernel size 7", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* huge pads must be rejected, not wrap around */
    const int64_t huge[4] = { INT64_C(1) << 62, 0, INT64_C(1) << 62, 0 };
    a = og_attr_ints("pads", 4, huge);
    expect_fail(OG_ERR_ATTR, "overflow", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* kernel_shape disagreeing with W, or of the wrong length */
    const int64_t ks[2] = { 3, 2 };
    a = og_attr_ints("kernel_shape", 2, ks);
    expect_fail(OG_ERR_SHAPE, "kernel_shape", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("kernel_shape", 1, ks);
    expect_fail(OG_ERR_ATTR, "kernel_shape", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* B shape, dtypes */
    int64_t b3[1] = { 3 };
    expect_fail(OG_ERR_SHAPE, "[2]", OG_FLOAT, 4, x4, w4, b3, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "int32", OG_INT32, 4, x4, w4, b1, 0, NULL);
    {
        og_graph *g;
        const char *in[2] = { "X", "W" }, *out[1] = { "Y" };
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 17));
        OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, x4, NULL));
        OG_CHECK(og_graph_add_input(g, "W", OG_DOUBLE, 4, w4, NULL));
        OG_CHECK(og_graph_add_node(g, "Conv", NULL, NODE, 2, in, 1, out, 0, NULL));
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_SHAPE, "'" NODE "'");
        ck_assert_msg(strstr(og_errmsg(), "double") != NULL, "%s", og_errmsg());
        og_graph_free(g);
    }
}
END_TEST

/* NaN and Inf are values, not errors: they reach every output whose window
 * holds them, as in PyTorch (a 0 weight does not hide a NaN: 0 * NaN is
 * NaN), and Inf - Inf makes NaN. X 3x3, W 2x2 of ones:
 *   X = [NaN 1 1; 1 1 1; 1 1 Inf] -> Y = [NaN 4; 4 Inf]
 *   W = [0 1; 1 1] gives the same NaN at (0,0). */
START_TEST(conv_nan_inf_propagate)
{
    const float inf = (float)INFINITY, nan = (float)NAN;
    const float x[9] = { nan, 1, 1, 1, 1, 1, 1, 1, inf }, w1[4] = { 1, 1, 1, 1 }, w0[4] = { 0, 1, 1, 1 };
    int64_t xd[4] = { 1, 1, 3, 3 }, wd[4] = { 1, 1, 2, 2 };
    og_tensor *y;
    for (int k = 0; k < 2; k++) {
        OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, k ? w0 : w1, NULL, NULL, 0, NULL));
        const float *v = y->data;
        ck_assert_msg(isnan(v[0]), "Y[0] = %g, expected NaN", v[0]);
        ck_assert_float_eq(v[1], k ? 3.0f : 4.0f);
        ck_assert_float_eq(v[2], k ? 3.0f : 4.0f);
        ck_assert_msg(isinf(v[3]) && v[3] > 0, "Y[3] = %g, expected +Inf", v[3]);
        og_tensor_free(y);
    }
    /* 1-D, float64: [Inf, Inf] with W = [1, -1] is Inf - Inf = NaN; a bias
     * of NaN poisons every output. */
    const double xi[3] = { INFINITY, INFINITY, 2 }, wm[2] = { 1, -1 }, bn[1] = { NAN }, b0[1] = { 0 };
    int64_t xd1[3] = { 1, 1, 3 }, wd1[3] = { 1, 1, 2 }, bd[1] = { 1 };
    OG_CHECK(run(&y, OG_DOUBLE, 3, xd1, xi, wd1, wm, bd, b0, 0, NULL));
    ck_assert(isnan(((const double *)y->data)[0]));
    ck_assert(isinf(((const double *)y->data)[1]));
    og_tensor_free(y);
    OG_CHECK(run(&y, OG_DOUBLE, 3, xd1, xi, wd1, wm, bd, bn, 0, NULL));
    ck_assert(isnan(((const double *)y->data)[0]) && isnan(((const double *)y->data)[1]));
    og_tensor_free(y);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("Conv");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, conv_3x3_by_2x2);
    tcase_add_test(tc, conv_5x5_by_3x3_stride2);
    tcase_add_test(tc, conv_group2_by_hand);
    tcase_add_test(tc, conv_1d);
    tcase_add_test(tc, conv_2d_plain_and_batched);
    tcase_add_test(tc, conv_3d);
    tcase_add_test(tc, conv_group2);
    tcase_add_test(tc, conv_depthwise);
    tcase_add_test(tc, conv_dilations);
    tcase_add_test(tc, conv_asymmetric_pads);
    tcase_add_test(tc, conv_auto_pad);
    tcase_add_test(tc, conv_float64);
    tcase_add_test(tc, conv_kernel_fills_input);
    tcase_add_test(tc, conv_unknown_dims);
    tcase_add_test(tc, conv_errors);
    tcase_add_test(tc, conv_nan_inf_propagate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(conv_suite());
}
