/* SPDX-License-Identifier: MIT */
/* test_convtranspose.c — ConvTranspose: hand-worked examples, every
 * attribute (strides, dilations, pads, output_padding, output_shape,
 * auto_pad, kernel_shape, group incl. depthwise), 1-D/2-D/3-D against a
 * naive scatter reference, float64, opsets 1/11/17, the adjoint identity
 * with Conv, the shared geometry helper, inferred shapes with unknown dims,
 * the errors finalize must report, and the backward rule against finite
 * differences (og_gradcheck) over an attribute sweep. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"
#include "gradtest.h"

#define NODE "convt_node"

/* ---- one-node graph helpers -------------------------------------------- */

/* Graph: inputs X, W and (when bd != NULL) B, node NODE(op) -> "Y", output Y. */
static og_status build_op(og_graph **g, const char *op, int opset, og_dtype dt, int rank, const int64_t *xd,
                          const int64_t *wd, const int64_t *bd, int n_attrs, const og_attr *attrs)
{
    const char *in[3] = { "X", "W", "B" }, *out[1] = { "Y" };
    og_status st;
    *g = NULL;
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, "", opset)) ||
        (st = og_graph_add_input(*g, "X", dt, rank, xd, NULL)) ||
        (st = og_graph_add_input(*g, "W", dt, rank, wd, NULL)) ||
        (bd && (st = og_graph_add_input(*g, "B", dt, 1, bd, NULL))) ||
        (st = og_graph_add_node(*g, op, NULL, NODE, bd ? 3 : 2, in, 1, out, n_attrs, attrs)) ||
        (st = og_graph_add_output(*g, "Y")))
        return st;
    return og_graph_finalize(*g);
}

/* build + plan + run; on OG_OK *y is the caller's. */
static og_status run_op(og_tensor **y, const char *op, int opset, og_dtype dt, int rank, const int64_t *xd,
                        const void *x, const int64_t *wd, const void *w, const int64_t *bd, const void *b,
                        int n_attrs, const og_attr *attrs)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_tensor *feeds[3] = { 0 };
    og_status st;
    *y = NULL;
    if ((st = build_op(&g, op, opset, dt, rank, xd, wd, bd, n_attrs, attrs)) || (st = og_plan_create(g, &p)) ||
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

static og_status run(og_tensor **y, og_dtype dt, int rank, const int64_t *xd, const void *x, const int64_t *wd,
                     const void *w, const int64_t *bd, const void *b, int n_attrs, const og_attr *attrs)
{
    return run_op(y, "ConvTranspose", 17, dt, rank, xd, x, wd, w, bd, b, n_attrs, attrs);
}

/* Finalize must fail with `code`, naming the node and containing `needle`. */
static void expect_fail(og_status code, const char *needle, og_dtype dt, int rank, const int64_t *xd,
                        const int64_t *wd, const int64_t *bd, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_status st = build_op(&g, "ConvTranspose", 17, dt, rank, xd, wd, bd, n_attrs, attrs);
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

/* 1-D float run: X [1, 1, nx], W [1, 1, nw]; checks Y = want (ny values). */
static void check_1d(const float *x, int64_t nx, const float *w, int64_t nw, int n_attrs, const og_attr *attrs,
                     const float *want, int64_t ny)
{
    int64_t xd[3] = { 1, 1, nx }, wd[3] = { 1, 1, nw }, yd[3] = { 1, 1, ny };
    og_tensor *y;
    OG_CHECK(run(&y, OG_FLOAT, 3, xd, x, wd, w, NULL, NULL, n_attrs, attrs));
    expect_values_f(y, 3, yd, want);
    og_tensor_free(y);
}

/* ---- naive reference ----------------------------------------------------
 * A problem with its pads and output sizes already resolved; the reference
 * scatters every input cell times every kernel tap, in double. */
typedef struct prob {
    og_dtype dt;
    int n;                       /* spatial axes, 1..3 */
    int64_t N, C, M, group;      /* M: output channels */
    int64_t in[3], k[3], stride[3], dil[3], pb[3], out[3];
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

static void ref_convt(const prob *p, const double *x, const double *w, const double *b, double *y)
{
    int64_t out[3] = { 1, 1, 1 }, in[3] = { 1, 1, 1 }, k[3] = { 1, 1, 1 }, st[3] = { 1, 1, 1 },
            dl[3] = { 1, 1, 1 }, pb[3] = { 0, 0, 0 };
    for (int a = 0; a < p->n; a++) {   /* pad to 3 axes of size 1 */
        in[a] = p->in[a], k[a] = p->k[a], st[a] = p->stride[a], dl[a] = p->dil[a], pb[a] = p->pb[a];
        out[a] = p->out[a];
    }
    int64_t Cg = p->C / p->group, Mg = p->M / p->group, plane = out[0] * out[1] * out[2];
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t m = 0; m < p->M; m++)
            for (int64_t q = 0; q < plane; q++)
                y[(n * p->M + m) * plane + q] = b ? b[m] : 0.0;
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t c = 0; c < p->C; c++)
            for (int64_t i0 = 0; i0 < in[0]; i0++)
                for (int64_t i1 = 0; i1 < in[1]; i1++)
                    for (int64_t i2 = 0; i2 < in[2]; i2++) {
                        double xv = x[(((n * p->C + c) * in[0] + i0) * in[1] + i1) * in[2] + i2];
                        int64_t g = c / Cg;
                        for (int64_t m = 0; m < Mg; m++)
                            for (int64_t j0 = 0; j0 < k[0]; j0++)
                                for (int64_t j1 = 0; j1 < k[1]; j1++)
                                    for (int64_t j2 = 0; j2 < k[2]; j2++) {
                                        int64_t o0 = i0 * st[0] + j0 * dl[0] - pb[0];
                                        int64_t o1 = i1 * st[1] + j1 * dl[1] - pb[1];
                                        int64_t o2 = i2 * st[2] + j2 * dl[2] - pb[2];
                                        if (o0 < 0 || o0 >= out[0] || o1 < 0 || o1 >= out[1] || o2 < 0 ||
                                            o2 >= out[2])
                                            continue;
                                        double wv = w[(((c * Mg + m) * k[0] + j0) * k[1] + j1) * k[2] + j2];
                                        y[(((n * p->M + g * Mg + m) * out[0] + o0) * out[1] + o1) * out[2] + o2] +=
                                            xv * wv;
                                    }
                    }
}

/* Runs ConvTranspose with `attrs` on random data and compares with the
 * reference; opset as given. */
static void check_vs_ref_opset(const prob *p, int opset, int n_attrs, const og_attr *attrs)
{
    int rank = p->n + 2;
    int64_t Mg = p->M / p->group;
    int64_t xd[5] = { p->N, p->C }, wd[5] = { p->C, Mg }, bd[1] = { p->M }, yd[5] = { p->N, p->M };
    int64_t xn = p->N * p->C, wn = p->C * Mg, yn = p->N * p->M;
    for (int a = 0; a < p->n; a++) {
        xd[2 + a] = p->in[a], wd[2 + a] = p->k[a], yd[2 + a] = p->out[a];
        xn *= p->in[a], wn *= p->k[a], yn *= p->out[a];
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
    ref_convt(p, x, w, p->bias ? b : NULL, want);

    og_tensor *y;
    OG_CHECK(run_op(&y, "ConvTranspose", opset, p->dt, rank, xd, f32 ? (void *)xf : (void *)x, wd,
                    f32 ? (void *)wf : (void *)w, p->bias ? bd : NULL, f32 ? (void *)bf : (void *)b, n_attrs,
                    attrs));
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

static void check_vs_ref(const prob *p, int n_attrs, const og_attr *attrs)
{
    check_vs_ref_opset(p, 17, n_attrs, attrs);
}

/* ---- hand-worked examples ---------------------------------------------- */

/* X = [[1,2],[3,4]], W = [[1,2],[3,4]], stride 2: each input cell stamps
 * x * W into its own 2x2 block of the 4x4 output:
 *   [ 1  2 |  2  4 ]
 *   [ 3  4 |  6  8 ]
 *   [ 3  6 |  4  8 ]
 *   [ 9 12 | 12 16 ] */
START_TEST(convt_2x2_stride2)
{
    const float x[4] = { 1, 2, 3, 4 }, w[4] = { 1, 2, 3, 4 };
    const float want[16] = { 1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16 };
    int64_t xd[4] = { 1, 1, 2, 2 }, wd[4] = { 1, 1, 2, 2 }, yd[4] = { 1, 1, 4, 4 };
    const int64_t s2[2] = { 2, 2 };
    og_attr a = og_attr_ints("strides", 2, s2);
    og_tensor *y;
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, NULL, NULL, 1, &a));
    expect_values_f(y, 4, yd, want);
    og_tensor_free(y);
}
END_TEST

/* Same X and W, stride 1: the stamps overlap into the full 3x3 result
 *   [ 1*1      1*2+2*1              2*2   ]   [ 1  4  4 ]
 *   [ 1*3+3*1  1*4+2*3+3*2+4*1  2*4+4*2   ] = [ 6 20 16 ]
 *   [ 3*3      3*4+4*3              4*4   ]   [ 9 24 16 ]
 * pads [1,1,0,0] cut the first row and column: [[20,16],[24,16]];
 * pads [1,0,0,1] cut the first row and the last column: [[6,20],[9,24]];
 * a bias of 0.5 adds to every cell. */
START_TEST(convt_2x2_stride1_pads)
{
    const float x[4] = { 1, 2, 3, 4 }, w[4] = { 1, 2, 3, 4 }, b[1] = { 0.5f };
    const float full[9] = { 1, 4, 4, 6, 20, 16, 9, 24, 16 };
    const float cut_tl[4] = { 20, 16, 24, 16 }, cut_tr[4] = { 6, 20, 9, 24 }, biased[4] = { 20.5f, 16.5f, 24.5f, 16.5f };
    int64_t xd[4] = { 1, 1, 2, 2 }, wd[4] = { 1, 1, 2, 2 }, bd[1] = { 1 }, yd3[4] = { 1, 1, 3, 3 },
            yd2[4] = { 1, 1, 2, 2 };
    og_tensor *y;
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, NULL, NULL, 0, NULL));
    expect_values_f(y, 4, yd3, full);
    og_tensor_free(y);

    const int64_t p1[4] = { 1, 1, 0, 0 }, p2[4] = { 1, 0, 0, 1 };
    og_attr a = og_attr_ints("pads", 4, p1);
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, NULL, NULL, 1, &a));
    expect_values_f(y, 4, yd2, cut_tl);
    og_tensor_free(y);
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, bd, b, 1, &a));
    expect_values_f(y, 4, yd2, biased);
    og_tensor_free(y);
    a = og_attr_ints("pads", 4, p2);
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, NULL, NULL, 1, &a));
    expect_values_f(y, 4, yd2, cut_tr);
    og_tensor_free(y);

    /* kernel_shape agreeing with W changes nothing. */
    const int64_t ks[2] = { 2, 2 };
    a = og_attr_ints("kernel_shape", 2, ks);
    OG_CHECK(run(&y, OG_FLOAT, 4, xd, x, wd, w, NULL, NULL, 1, &a));
    expect_values_f(y, 4, yd3, full);
    og_tensor_free(y);
}
END_TEST

/* 1-D by hand.
 *   x = [1,2,3], w = [1,1], stride 2: [1,1,2,2,3,3]; output_padding 1
 *   appends one zero cell: [1,1,2,2,3,3,0].
 *   x = [1,2], w = [1,10], dilation 2 (taps 0 and 2): x0 -> cells 0, 2;
 *   x1 -> cells 1, 3: [1, 2, 10, 20]. */
START_TEST(convt_1d_stride_outpad_dilation)
{
    const float x[3] = { 1, 2, 3 }, w[2] = { 1, 1 };
    const float want_s[6] = { 1, 1, 2, 2, 3, 3 }, want_op[7] = { 1, 1, 2, 2, 3, 3, 0 };
    const int64_t s2[1] = { 2 }, op1[1] = { 1 };
    og_attr a[2] = { og_attr_ints("strides", 1, s2), og_attr_ints("output_padding", 1, op1) };
    check_1d(x, 3, w, 2, 1, a, want_s, 6);
    check_1d(x, 3, w, 2, 2, a, want_op, 7);

    const float x2[2] = { 1, 2 }, w2[2] = { 1, 10 }, want_d[4] = { 1, 2, 10, 20 };
    const int64_t d2[1] = { 2 };
    og_attr ad = og_attr_ints("dilations", 1, d2);
    check_1d(x2, 2, w2, 2, 1, &ad, want_d, 4);

    /* output_padding may reach the dilation when it exceeds the stride:
     * stride 1, dilation 2, output_padding 1 -> [1, 2, 10, 20, 0]. */
    const float want_dop[5] = { 1, 2, 10, 20, 0 };
    og_attr ado[2] = { og_attr_ints("dilations", 1, d2), og_attr_ints("output_padding", 1, op1) };
    check_1d(x2, 2, w2, 2, 2, ado, want_dop, 5);
}
END_TEST

/* output_shape, auto_pad and pads on one 1-D problem:
 *   x = [1,2,3], w = [1,10,100], stride 2: full result (length 7)
 *   cell: 0   1   2        3   4        5   6
 *         1  10  100+2=102 20  200+3=203 30 300
 *   output_shape [6]: total 1, the odd cell at the end -> full[0:6]
 *   SAME_UPPER (6 = 3*2)                                -> full[0:6]
 *   SAME_LOWER                                          -> full[1:7]
 *   output_shape [5]: total 2 -> pads [1,1]             -> full[1:6]
 *   output_shape [5] with SAME_LOWER (total 2)         -> full[1:6]
 *   output_shape [4] with SAME_LOWER: total 3 -> [2,1]  -> full[2:6]
 *   output_shape [8]: total -1 -> one zero cell at the end
 *   output_shape ignores pads; pads [2,1] alone         -> full[2:6] */
START_TEST(convt_1d_output_shape_vs_pads)
{
    const float x[3] = { 1, 2, 3 }, w[3] = { 1, 10, 100 };
    const float full[8] = { 1, 10, 102, 20, 203, 30, 300, 0 };
    const int64_t s2[1] = { 2 }, os6[1] = { 6 }, os5[1] = { 5 }, os4[1] = { 4 }, os8[1] = { 8 }, p21[2] = { 2, 1 };
    og_attr a[3] = { og_attr_ints("strides", 1, s2), og_attr_ints("output_shape", 1, os6) };
    check_1d(x, 3, w, 3, 1, a, full, 7);
    check_1d(x, 3, w, 3, 2, a, full, 6);
    a[1] = og_attr_string("auto_pad", "SAME_UPPER");
    check_1d(x, 3, w, 3, 2, a, full, 6);
    a[1] = og_attr_string("auto_pad", "SAME_LOWER");
    check_1d(x, 3, w, 3, 2, a, full + 1, 6);
    a[1] = og_attr_ints("output_shape", 1, os5);
    check_1d(x, 3, w, 3, 2, a, full + 1, 5);
    a[2] = og_attr_string("auto_pad", "SAME_LOWER");
    check_1d(x, 3, w, 3, 3, a, full + 1, 5);
    a[1] = og_attr_ints("output_shape", 1, os4);
    check_1d(x, 3, w, 3, 3, a, full + 2, 4);
    a[1] = og_attr_ints("output_shape", 1, os8);
    check_1d(x, 3, w, 3, 2, a, full, 8);
    a[1] = og_attr_ints("pads", 1 * 2, p21);
    check_1d(x, 3, w, 3, 2, a, full + 2, 4);
    a[2] = og_attr_ints("output_shape", 1, os6);
    check_1d(x, 3, w, 3, 3, a, full, 6);
    /* VALID keeps the full result. */
    a[1] = og_attr_string("auto_pad", "VALID");
    check_1d(x, 3, w, 3, 2, a, full, 7);
}
END_TEST

/* Two groups, 1x1 kernels: input channel 0 feeds output channels 0-1 with
 * weights 2 and 3, input channel 1 feeds output channels 2-3 with -1, 10.
 * X = [1,2] | [5,7] -> Y = [2,4] [3,6] | [-5,-7] [50,70]. */
START_TEST(convt_group2_by_hand)
{
    const float x[4] = { 1, 2, 5, 7 }, w[4] = { 2, 3, -1, 10 };
    const float want[8] = { 2, 4, 3, 6, -5, -7, 50, 70 };
    int64_t xd[3] = { 1, 2, 2 }, wd[3] = { 2, 2, 1 }, yd[3] = { 1, 4, 2 };
    og_attr a = og_attr_int("group", 2);
    og_tensor *y;
    OG_CHECK(run(&y, OG_FLOAT, 3, xd, x, wd, w, NULL, NULL, 1, &a));
    expect_values_f(y, 3, yd, want);
    og_tensor_free(y);
}
END_TEST

/* ---- against the reference --------------------------------------------- */

START_TEST(convt_1d)
{
    /* out = 2*(9-1) + 1 + 3 - 1 - 2 = 17 */
    prob p = { .dt = OG_FLOAT, .n = 1, .N = 2, .C = 3, .M = 4, .group = 1, .in = { 9 }, .k = { 3 },
               .stride = { 2 }, .dil = { 1 }, .pb = { 1 }, .out = { 17 }, .bias = true };
    const int64_t strides[1] = { 2 }, pads[2] = { 1, 2 }, op[1] = { 1 };
    og_attr a[3] = { og_attr_ints("strides", 1, strides), og_attr_ints("pads", 2, pads),
                     og_attr_ints("output_padding", 1, op) };
    check_vs_ref(&p, 3, a);
}
END_TEST

START_TEST(convt_2d_plain_and_batched)
{
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 3, .C = 4, .M = 5, .group = 1, .in = { 5, 4 }, .k = { 3, 2 },
               .stride = { 1, 1 }, .dil = { 1, 1 }, .out = { 7, 5 } };
    check_vs_ref(&p, 0, NULL);
}
END_TEST

START_TEST(convt_3d)
{
    /* out = s*(in-1) + op + (k-1)*d + 1 - pb - pe:
     *   axis 0: 1*3 + 0 + 2 - 1 - 0 = 4; axis 1: 2*4 + 1 + 3 - 0 - 1 = 11;
     *   axis 2: 1*2 + 0 + 3 - 1 - 1 = 3 */
    prob p = { .dt = OG_FLOAT, .n = 3, .N = 2, .C = 2, .M = 3, .group = 1, .in = { 4, 5, 3 }, .k = { 2, 3, 2 },
               .stride = { 1, 2, 1 }, .dil = { 1, 1, 2 }, .pb = { 1, 0, 1 }, .out = { 4, 11, 3 }, .bias = true };
    const int64_t strides[3] = { 1, 2, 1 }, dil[3] = { 1, 1, 2 }, pads[6] = { 1, 0, 1, 0, 1, 1 },
                  op[3] = { 0, 1, 0 };
    og_attr a[4] = { og_attr_ints("strides", 3, strides), og_attr_ints("dilations", 3, dil),
                     og_attr_ints("pads", 6, pads), og_attr_ints("output_padding", 3, op) };
    check_vs_ref(&p, 4, a);
}
END_TEST

START_TEST(convt_group2)
{
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 2, .C = 4, .M = 6, .group = 2, .in = { 4, 5 }, .k = { 3, 3 },
               .stride = { 2, 1 }, .dil = { 1, 1 }, .pb = { 1, 1 }, .out = { 7, 5 }, .bias = true };
    const int64_t pads[4] = { 1, 1, 1, 1 }, strides[2] = { 2, 1 };
    og_attr a[3] = { og_attr_int("group", 2), og_attr_ints("pads", 4, pads), og_attr_ints("strides", 2, strides) };
    check_vs_ref(&p, 3, a);
}
END_TEST

START_TEST(convt_depthwise)
{
    /* group == C == M: each channel scattered with its own kernel. */
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 2, .C = 5, .M = 5, .group = 5, .in = { 4, 4 }, .k = { 3, 3 },
               .stride = { 2, 2 }, .dil = { 1, 1 }, .pb = { 1, 1 }, .out = { 7, 7 } };
    const int64_t strides[2] = { 2, 2 }, pads[4] = { 1, 1, 1, 1 };
    og_attr a[3] = { og_attr_int("group", 5), og_attr_ints("strides", 2, strides), og_attr_ints("pads", 4, pads) };
    check_vs_ref(&p, 3, a);

    /* Channel multiplier 2 (M = 2C). */
    prob q = { .dt = OG_FLOAT, .n = 2, .N = 1, .C = 3, .M = 6, .group = 3, .in = { 3, 4 }, .k = { 2, 3 },
               .stride = { 1, 1 }, .dil = { 1, 1 }, .out = { 4, 6 }, .bias = true };
    og_attr b[1] = { og_attr_int("group", 3) };
    check_vs_ref(&q, 1, b);
}
END_TEST

START_TEST(convt_dilations_and_auto_pad)
{
    /* full = s*(in-1) + (k-1)*d + 1: axis 0 1*4 + 4 + 1 = 9, axis 1 2*3 + 3 + 1 = 10 */
    prob p = { .dt = OG_FLOAT, .n = 2, .N = 1, .C = 2, .M = 3, .group = 1, .in = { 5, 4 }, .k = { 3, 2 },
               .stride = { 1, 2 }, .dil = { 2, 3 }, .out = { 9, 10 } };
    const int64_t strides[2] = { 1, 2 }, dil[2] = { 2, 3 };
    og_attr a[3] = { og_attr_ints("strides", 2, strides), og_attr_ints("dilations", 2, dil) };
    check_vs_ref(&p, 2, a);

    /* SAME_UPPER: out = in*stride = [5, 8]; total [4, 2] -> pads begin [2, 1]. */
    p.out[0] = 5, p.out[1] = 8, p.pb[0] = 2, p.pb[1] = 1;
    a[2] = og_attr_string("auto_pad", "SAME_UPPER");
    check_vs_ref(&p, 3, a);
    /* A kernel narrower than the stride: k 1, s 3, in 4 -> full 10 < 12;
     * total -2: pads 0, two zero cells at the end. */
    prob q = { .dt = OG_FLOAT, .n = 1, .N = 1, .C = 2, .M = 2, .group = 1, .in = { 4 }, .k = { 1 },
               .stride = { 3 }, .dil = { 1 }, .out = { 12 }, .bias = true };
    const int64_t s3[1] = { 3 };
    og_attr b[2] = { og_attr_ints("strides", 1, s3), og_attr_string("auto_pad", "SAME_LOWER") };
    check_vs_ref(&q, 2, b);
}
END_TEST

START_TEST(convt_float64_and_opsets)
{
    prob p = { .dt = OG_DOUBLE, .n = 2, .N = 2, .C = 4, .M = 4, .group = 2, .in = { 4, 5 }, .k = { 3, 2 },
               .stride = { 2, 1 }, .dil = { 1, 2 }, .pb = { 1, 0 }, .out = { 6, 6 }, .bias = true };
    /* axis 0: 2*3 + 1 + 3 - 1 - 3 = 6; axis 1: 1*4 + 0 + 3 - 0 - 1 = 6 */
    const int64_t strides[2] = { 2, 1 }, dil[2] = { 1, 2 }, pads[4] = { 1, 0, 3, 1 }, op[2] = { 1, 0 };
    og_attr a[5] = { og_attr_int("group", 2), og_attr_ints("strides", 2, strides), og_attr_ints("dilations", 2, dil),
                     og_attr_ints("pads", 4, pads), og_attr_ints("output_padding", 2, op) };
    check_vs_ref(&p, 5, a);
    check_vs_ref_opset(&p, 1, 5, a);
    check_vs_ref_opset(&p, 11, 5, a);

    prob q = { .dt = OG_DOUBLE, .n = 1, .N = 1, .C = 3, .M = 2, .group = 1, .in = { 9 }, .k = { 1 },
               .stride = { 1 }, .dil = { 1 }, .out = { 9 }, .bias = true };
    check_vs_ref(&q, 0, NULL);
}
END_TEST

/* Empty batch and zero input channels: Y is empty, or just the bias. */
START_TEST(convt_empty)
{
    int64_t xd[3] = { 0, 2, 3 }, wd[3] = { 2, 1, 2 }, bd[1] = { 1 };
    const float w[4] = { 1, 2, 3, 4 }, b[1] = { 7 };
    og_tensor *y;
    OG_CHECK(run(&y, OG_FLOAT, 3, xd, NULL, wd, w, bd, b, 0, NULL));
    ck_assert_int_eq(y->numel, 0);
    ck_assert_int_eq(y->dims[2], 4);
    og_tensor_free(y);

    int64_t xd0[3] = { 1, 0, 3 }, wd0[3] = { 0, 1, 2 };
    const float want[4] = { 7, 7, 7, 7 };
    int64_t yd[3] = { 1, 1, 4 };
    OG_CHECK(run(&y, OG_FLOAT, 3, xd0, NULL, wd0, NULL, bd, b, 0, NULL));
    expect_values_f(y, 3, yd, want);
    og_tensor_free(y);
}
END_TEST

/* ---- adjoint of Conv ----------------------------------------------------
 * For Y = Conv(X, W) with some strides/dilations/pads/group and any dY:
 *   <Conv(X, W), dY> == <X, ConvTranspose(dY, W)>
 * when ConvTranspose takes the same attributes and the output_padding
 * that brings its output back to X's size. W is Conv's [M, C/group, k...],
 * which is ConvTranspose's [C_in = M, M_out/group = C/group, k...]. */
typedef struct adj_case {
    int n;
    int64_t N, C, M, group;
    int64_t in[3], k[3], stride[3], dil[3], pb[3], pe[3];
} adj_case;

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void check_adjoint(const adj_case *c)
{
    int n = c->n, rank = n + 2;
    int64_t xd[5] = { c->N, c->C }, wd[5] = { c->M, c->C / c->group }, yd[5] = { c->N, c->M };
    int64_t strides[3], dil[3], pads[6], op[3], xn = c->N * c->C, wn = c->M * (c->C / c->group), yn = c->N * c->M;
    for (int a = 0; a < n; a++) {
        int64_t eff = (c->k[a] - 1) * c->dil[a] + 1, span = c->in[a] + c->pb[a] + c->pe[a] - eff;
        xd[2 + a] = c->in[a], wd[2 + a] = c->k[a], yd[2 + a] = span / c->stride[a] + 1;
        strides[a] = c->stride[a], dil[a] = c->dil[a], pads[a] = c->pb[a], pads[n + a] = c->pe[a];
        op[a] = span % c->stride[a];   /* the cells no window reaches */
        xn *= c->in[a], wn *= c->k[a], yn *= yd[2 + a];
    }
    double *x = malloc(sizeof(double) * xn), *w = malloc(sizeof(double) * wn), *dy = malloc(sizeof(double) * yn);
    for (int64_t i = 0; i < xn; i++) x[i] = uniform();
    for (int64_t i = 0; i < wn; i++) w[i] = uniform();
    for (int64_t i = 0; i < yn; i++) dy[i] = uniform();

    og_attr a[5] = { og_attr_ints("strides", n, strides), og_attr_ints("dilations", n, dil),
                     og_attr_ints("pads", 2 * n, pads), og_attr_int("group", c->group),
                     og_attr_ints("output_padding", n, op) };
    og_tensor *y, *dx;
    OG_CHECK(run_op(&y, "Conv", 17, OG_DOUBLE, rank, xd, x, wd, w, NULL, NULL, 4, a));
    ck_assert_int_eq(y->numel, yn);
    OG_CHECK(run_op(&dx, "ConvTranspose", 17, OG_DOUBLE, rank, yd, dy, wd, w, NULL, NULL, 5, a));
    for (int k = 0; k < rank; k++)
        ck_assert_msg(dx->dims[k] == xd[k], "ConvTranspose dim %d: got %lld, expected %lld (X)", k,
                      (long long)dx->dims[k], (long long)xd[k]);
    double lhs = dot(y->data, dy, yn), rhs = dot(x, dx->data, xn);
    ck_assert_msg(fabs(lhs - rhs) <= 1e-12 * (1 + fabs(lhs)), "<Conv(X), dY> = %.17g, <X, ConvT(dY)> = %.17g",
                  lhs, rhs);
    og_tensor_free(y);
    og_tensor_free(dx);
    free(x), free(w), free(dy);
}

START_TEST(convt_adjoint_of_conv)
{
    static const adj_case cases[] = {
        { .n = 1, .N = 2, .C = 3, .M = 2, .group = 1, .in = { 11 }, .k = { 3 }, .stride = { 2 }, .dil = { 1 },
          .pb = { 1 }, .pe = { 2 } },
        { .n = 1, .N = 1, .C = 2, .M = 4, .group = 2, .in = { 10 }, .k = { 2 }, .stride = { 3 }, .dil = { 2 },
          .pb = { 0 }, .pe = { 1 } },
        { .n = 2, .N = 2, .C = 4, .M = 6, .group = 2, .in = { 7, 8 }, .k = { 3, 2 }, .stride = { 2, 3 },
          .dil = { 1, 2 }, .pb = { 1, 0 }, .pe = { 0, 2 } },
        { .n = 2, .N = 1, .C = 3, .M = 3, .group = 3, .in = { 6, 5 }, .k = { 3, 3 }, .stride = { 1, 2 },
          .dil = { 2, 1 }, .pb = { 2, 1 }, .pe = { 2, 1 } },
        { .n = 3, .N = 1, .C = 2, .M = 3, .group = 1, .in = { 5, 4, 6 }, .k = { 2, 3, 2 }, .stride = { 2, 1, 3 },
          .dil = { 1, 1, 2 }, .pb = { 1, 1, 0 }, .pe = { 0, 1, 1 } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_adjoint(&cases[i]);
}
END_TEST

/* The shared geometry: Conv's backward builds dX = ConvTranspose(dY, W)
 * from Conv's resolved pads and the output_padding that restores X's size;
 * the transpose geometry must give that size back, and a negative total
 * (output_shape past the full result) must land in out_pad. */
START_TEST(convt_geometry_helper)
{
    const int64_t conv_in[2] = { 7, 8 }, kernel[2] = { 3, 2 }, s_v[2] = { 2, 3 }, d_v[2] = { 1, 2 },
                  p_v[4] = { 1, 0, 0, 2 };
    og_ints strides = { 2, s_v, true }, dil = { 2, d_v, true }, pads = { 4, p_v, true }, none = { 0, NULL, false };
    og_spatial conv, tr;
    OG_CHECK(og_spatial_resolve(&conv, "conv", 2, conv_in, kernel, &strides, &dil, &pads, "NOTSET", false));
    int64_t op_v[2];
    for (int a = 0; a < 2; a++) {
        int64_t eff = (conv.kernel[a] - 1) * conv.dilation[a] + 1;
        op_v[a] = (conv.in[a] + conv.pad_begin[a] + conv.pad_end[a] - eff) % conv.stride[a];
    }
    og_ints op = { 2, op_v, true };
    OG_CHECK(og_spatial_resolve_transpose(&tr, "convt", 2, conv.out, kernel, &strides, &dil, &pads, &op, &none,
                                          "NOTSET"));
    for (int a = 0; a < 2; a++) {
        ck_assert_int_eq(tr.out[a], conv_in[a]);
        ck_assert_int_eq(tr.pad_begin[a], p_v[a]);
        ck_assert_int_eq(tr.pad_end[a], p_v[2 + a]);
        ck_assert_int_eq(tr.out_pad[a], op_v[a]);
    }

    /* in 3, k 3, s 2: full 7; output_shape 9 -> pads 0, out_pad 2;
     * output_shape 4 -> total 3 -> [1, 2] (odd cell at the end). */
    const int64_t in1[1] = { 3 }, k1[1] = { 3 }, s1[1] = { 2 }, os9[1] = { 9 }, os4[1] = { 4 };
    og_ints st1 = { 1, s1, true }, shape = { 1, os9, true };
    OG_CHECK(og_spatial_resolve_transpose(&tr, "convt", 1, in1, k1, &st1, &none, &none, &none, &shape, NULL));
    ck_assert_int_eq(tr.out[0], 9);
    ck_assert_int_eq(tr.pad_begin[0], 0);
    ck_assert_int_eq(tr.pad_end[0], 0);
    ck_assert_int_eq(tr.out_pad[0], 2);
    shape.v = os4;
    OG_CHECK(og_spatial_resolve_transpose(&tr, "convt", 1, in1, k1, &st1, &none, &none, &none, &shape, "NOTSET"));
    ck_assert_int_eq(tr.pad_begin[0], 1);
    ck_assert_int_eq(tr.pad_end[0], 2);
    OG_CHECK(og_spatial_resolve_transpose(&tr, "convt", 1, in1, k1, &st1, &none, &none, &none, &shape,
                                          "SAME_LOWER"));
    ck_assert_int_eq(tr.pad_begin[0], 2);
    ck_assert_int_eq(tr.pad_end[0], 1);

    /* Unknown input: output_shape still gives out; the derived pads are unknown. */
    const int64_t unknown[1] = { -1 };
    OG_CHECK(og_spatial_resolve_transpose(&tr, "convt", 1, unknown, k1, &st1, &none, &none, &none, &shape, NULL));
    ck_assert_int_eq(tr.out[0], 4);
    ck_assert_int_eq(tr.pad_begin[0], -1);
    ck_assert_int_eq(tr.out_pad[0], -1);
    OG_CHECK(og_spatial_resolve_transpose(&tr, "convt", 1, unknown, k1, &st1, &none, &none, &none, &none, NULL));
    ck_assert_int_eq(tr.out[0], -1);
    ck_assert_int_eq(tr.pad_begin[0], 0);
    ck_assert_int_eq(tr.out_pad[0], 0);
}
END_TEST

/* ---- shape inference ---------------------------------------------------- */

static void expect_y(int opset, int rank, const int64_t *xd, const int64_t *wd, const int64_t *bd, int n_attrs,
                     const og_attr *attrs, const int64_t *want)
{
    og_graph *g;
    og_value_info vi;
    OG_CHECK(build_op(&g, "ConvTranspose", opset, OG_FLOAT, rank, xd, wd, bd, n_attrs, attrs));
    OG_CHECK(og_graph_value(g, "Y", &vi));
    ck_assert_int_eq(vi.dtype, OG_FLOAT);
    ck_assert_int_eq(vi.rank, rank);
    for (int k = 0; k < rank; k++)
        ck_assert_msg(vi.dims[k] == want[k], "Y dim %d: got %lld, expected %lld", k, (long long)vi.dims[k],
                      (long long)want[k]);
    og_graph_free(g);
}

START_TEST(convt_unknown_dims)
{
    /* X [?, 4, ?, 5], W [4, 3, 3, 3], group 2, stride 2: M = 6, the known
     * axis 2*4 + 3 = 11, the unknown one unknown. */
    int64_t xd[4] = { -1, 4, -1, 5 }, wd[4] = { 4, 3, 3, 3 }, bd[1] = { 6 };
    const int64_t strides[2] = { 2, 2 }, os[2] = { 9, 10 };
    og_attr a[3] = { og_attr_int("group", 2), og_attr_ints("strides", 2, strides) };
    expect_y(17, 4, xd, wd, bd, 2, a, (const int64_t[]){ -1, 6, -1, 11 });
    /* output_shape gives the spatial dims even when X's are unknown. */
    a[2] = og_attr_ints("output_shape", 2, os);
    expect_y(17, 4, xd, wd, bd, 3, a, (const int64_t[]){ -1, 6, 9, 10 });
    /* SAME_*: in * stride, unknown stays unknown. */
    a[2] = og_attr_string("auto_pad", "SAME_LOWER");
    expect_y(11, 4, xd, wd, bd, 3, a, (const int64_t[]){ -1, 6, -1, 10 });
    /* M from B when W's second dim is unknown: 8 output channels. */
    int64_t wdu[4] = { 4, -1, 3, 3 }, bd8[1] = { 8 };
    expect_y(1, 4, xd, wdu, bd8, 2, a, (const int64_t[]){ -1, 8, -1, 11 });
    /* W's kernel unknown but kernel_shape given. */
    int64_t wdk[4] = { 4, 3, -1, -1 };
    const int64_t ks[2] = { 2, 2 };
    a[2] = og_attr_ints("kernel_shape", 2, ks);
    expect_y(17, 4, xd, wdk, NULL, 3, a, (const int64_t[]){ -1, 6, -1, 10 });
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

START_TEST(convt_errors)
{
    int64_t x4[4] = { 1, 4, 5, 5 }, w4[4] = { 4, 2, 3, 3 }, b1[1] = { 2 };
    og_attr a;

    /* ranks */
    int64_t x2[2] = { 1, 4 };
    expect_fail(OG_ERR_SHAPE, "rank 2", OG_FLOAT, 2, x2, x2, NULL, 0, NULL);
    {
        og_graph *g;
        int64_t w3[3] = { 4, 2, 3 };
        const char *in[2] = { "X", "W" }, *out[1] = { "Y" };
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 17));
        OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, x4, NULL));
        OG_CHECK(og_graph_add_input(g, "W", OG_FLOAT, 3, w3, NULL));
        OG_CHECK(og_graph_add_node(g, "ConvTranspose", NULL, NODE, 2, in, 1, out, 0, NULL));
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_SHAPE, "'" NODE "'");
        ck_assert_msg(strstr(og_errmsg(), "rank 3, expected 4") != NULL, "%s", og_errmsg());
        og_graph_free(g);
    }

    /* W's input channels vs X's; group */
    int64_t w_c3[4] = { 3, 2, 3, 3 };
    expect_fail(OG_ERR_SHAPE, "W.shape[0]", OG_FLOAT, 4, x4, w_c3, NULL, 0, NULL);
    a = og_attr_int("group", 0);
    expect_fail(OG_ERR_ATTR, "group", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_int("group", 3);
    expect_fail(OG_ERR_SHAPE, "multiple of group", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* B: wrong size (M = 2 * group), wrong rank */
    int64_t b3[1] = { 3 };
    expect_fail(OG_ERR_SHAPE, "expected [2]", OG_FLOAT, 4, x4, w4, b3, 0, NULL);
    {
        og_graph *g;
        int64_t b2[2] = { 1, 2 };
        const char *in[3] = { "X", "W", "B" }, *out[1] = { "Y" };
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 17));
        OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, x4, NULL));
        OG_CHECK(og_graph_add_input(g, "W", OG_FLOAT, 4, w4, NULL));
        OG_CHECK(og_graph_add_input(g, "B", OG_FLOAT, 2, b2, NULL));
        OG_CHECK(og_graph_add_node(g, "ConvTranspose", NULL, NODE, 3, in, 1, out, 0, NULL));
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_SHAPE, "B 'B' has rank 2, expected 1");
        og_graph_free(g);
    }

    /* kernel_shape: disagreeing with W, wrong length, non-positive */
    const int64_t ks[2] = { 3, 2 }, ks0[2] = { 3, 0 };
    a = og_attr_ints("kernel_shape", 2, ks);
    expect_fail(OG_ERR_SHAPE, "kernel_shape", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("kernel_shape", 1, ks);
    expect_fail(OG_ERR_ATTR, "kernel_shape", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("kernel_shape", 2, ks0);
    expect_fail(OG_ERR_ATTR, "kernel_shape[1] is 0", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* attribute lengths */
    const int64_t v3[3] = { 1, 1, 1 };
    a = og_attr_ints("strides", 3, v3);
    expect_fail(OG_ERR_ATTR, "'strides' has 3 values, expected 2", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("dilations", 1, v3);
    expect_fail(OG_ERR_ATTR, "'dilations' has 1 values, expected 2", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("pads", 3, v3);
    expect_fail(OG_ERR_ATTR, "'pads' has 3 values, expected 4", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("output_padding", 3, v3);
    expect_fail(OG_ERR_ATTR, "'output_padding' has 3 values, expected 2", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("output_shape", 3, v3);
    expect_fail(OG_ERR_ATTR, "'output_shape' has 3 values, expected 2", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* values: stride/dilation 0, negative pads, output_padding too large or
     * negative, output_shape 0 */
    const int64_t s0[2] = { 1, 0 }, d0[2] = { 0, 1 }, pneg[4] = { 0, -1, 0, 0 }, op2[2] = { 0, 2 },
                  opneg[2] = { -1, 0 }, os0[2] = { 4, 0 }, s2[2] = { 2, 2 };
    a = og_attr_ints("strides", 2, s0);
    expect_fail(OG_ERR_ATTR, "strides[1] is 0", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("dilations", 2, d0);
    expect_fail(OG_ERR_ATTR, "dilations[0] is 0", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("pads", 4, pneg);
    expect_fail(OG_ERR_ATTR, "expected >= 0", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    og_attr sop[2] = { og_attr_ints("strides", 2, s2), og_attr_ints("output_padding", 2, op2) };
    expect_fail(OG_ERR_ATTR, "output_padding[1] is 2, expected >= 0 and less than stride 2 or dilation 1",
                OG_FLOAT, 4, x4, w4, NULL, 2, sop);
    a = og_attr_ints("output_padding", 2, opneg);
    expect_fail(OG_ERR_ATTR, "output_padding[0] is -1", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("output_shape", 2, os0);
    expect_fail(OG_ERR_ATTR, "output_shape[1] is 0, expected > 0", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* pads with auto_pad; an unknown auto_pad */
    const int64_t p1[4] = { 1, 1, 1, 1 }, pbig[4] = { 4, 0, 3, 0 };
    og_attr both[2] = { og_attr_ints("pads", 4, p1), og_attr_string("auto_pad", "SAME_UPPER") };
    expect_fail(OG_ERR_ATTR, "together with auto_pad", OG_FLOAT, 4, x4, w4, NULL, 2, both);
    a = og_attr_string("auto_pad", "SAME");
    expect_fail(OG_ERR_ATTR, "auto_pad", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* pads that remove the whole output: full 5 + 2 = 7, pads 4 + 3 */
    a = og_attr_ints("pads", 4, pbig);
    expect_fail(OG_ERR_SHAPE, "remove the whole output of size 7", OG_FLOAT, 4, x4, w4, NULL, 1, &a);

    /* an empty spatial axis */
    int64_t x_empty[4] = { 1, 4, 0, 5 };
    expect_fail(OG_ERR_SHAPE, "spatial axis 0 has input size 0", OG_FLOAT, 4, x_empty, w4, NULL, 0, NULL);

    /* overflowing sizes are rejected, not wrapped */
    const int64_t shuge[2] = { INT64_C(1) << 62, 1 }, dhuge[2] = { 1, INT64_MAX };
    a = og_attr_ints("strides", 2, shuge);
    expect_fail(OG_ERR_ATTR, "overflow", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    a = og_attr_ints("dilations", 2, dhuge);
    expect_fail(OG_ERR_ATTR, "overflow", OG_FLOAT, 4, x4, w4, NULL, 1, &a);
    og_attr same_huge[2] = { og_attr_ints("strides", 2, shuge), og_attr_string("auto_pad", "SAME_UPPER") };
    expect_fail(OG_ERR_ATTR, "overflow", OG_FLOAT, 4, x4, w4, NULL, 2, same_huge);
    int64_t w_huge[4] = { 4, INT64_C(1) << 62, 3, 3 };
    a = og_attr_int("group", 4);
    expect_fail(OG_ERR_LIMIT, "overflow", OG_FLOAT, 4, x4, w_huge, NULL, 1, &a);

    /* dtypes */
    expect_fail(OG_ERR_SHAPE, "int32", OG_INT32, 4, x4, w4, b1, 0, NULL);
    {   /* float16 is refused before the node sees it: onnxgrad cannot hold it */
        og_graph *g;
        ck_assert_int_eq(build_op(&g, "ConvTranspose", 17, OG_FLOAT16, 4, x4, w4, NULL, 0, NULL),
                         OG_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(og_errmsg(), "float16") != NULL, "%s", og_errmsg());
        og_graph_free(g);
    }
    {
        og_graph *g;
        const char *in[2] = { "X", "W" }, *out[1] = { "Y" };
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 17));
        OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, x4, NULL));
        OG_CHECK(og_graph_add_input(g, "W", OG_DOUBLE, 4, w4, NULL));
        OG_CHECK(og_graph_add_node(g, "ConvTranspose", NULL, NODE, 2, in, 1, out, 0, NULL));
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_SHAPE, "W 'W' has dtype double, expected float");
        og_graph_free(g);
    }
    /* X omitted */
    {
        og_graph *g;
        const char *in[2] = { "", "W" }, *out[1] = { "Y" };
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 17));
        OG_CHECK(og_graph_add_input(g, "W", OG_FLOAT, 4, w4, NULL));
        OG_CHECK(og_graph_add_node(g, "ConvTranspose", NULL, NODE, 2, in, 1, out, 0, NULL));
        OG_CHECK(og_graph_add_output(g, "Y"));
        ck_assert_int_ne(og_graph_finalize(g), OG_OK);
        ck_assert_msg(strstr(og_errmsg(), NODE) != NULL, "%s", og_errmsg());
        og_graph_free(g);
    }
}
END_TEST

/* ---- backward rule ------------------------------------------------------ */

static uint64_t sweep_state = 12345;
static int64_t rnd(int64_t lo, int64_t hi)   /* uniform in [lo, hi] */
{
    sweep_state = sweep_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int64_t)((sweep_state >> 33) % (uint64_t)(hi - lo + 1));
}

/* One ConvTranspose node X, W[, B] -> Y checked by og_gradcheck. */
static void gradcheck_node(int n, const int64_t *xd, const int64_t *wd, int64_t M, bool bias, int n_attrs,
                           const og_attr *attrs, int order, uint64_t seed, const char *what)
{
    og_graph *g = gt_graph();
    gt_input(g, "X", OG_FLOAT, n + 2, xd);
    gt_input(g, "W", OG_FLOAT, n + 2, wd);
    if (bias)
        gt_input(g, "B", OG_FLOAT, 1, (const int64_t[]){ M });
    gt_node(g, "ConvTranspose", NODE, bias ? GT_NAMES("X", "W", "B") : GT_NAMES("X", "W"), GT_NAMES("Y"), n_attrs,
            attrs);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    gt_gradcheck(g, order, order == 1 ? 24 : 12, seed, what);
    og_graph_free(g);
}

/* 1-D/2-D/3-D, strides 1-3, dilations 1-2, output_padding, group 1 / 2 /
 * channels, with and without bias, and five ways to set the padding:
 * explicit (often asymmetric) pads, output_shape (below, at and above the
 * full size), SAME_UPPER, SAME_LOWER, VALID; every fourth also at second
 * order. */
START_TEST(convt_gradient_sweep)
{
    static const char *const kinds[] = { "pads", "output_shape", "SAME_UPPER", "SAME_LOWER", "VALID" };
    for (int iter = 0; iter < 45; iter++) {
        int n = 1 + iter % 3, grp_kind = iter / 3 % 3, kind = iter / 9 % 5;
        bool bias = iter % 2;
        int64_t C = grp_kind == 0 ? 2 : 4, group = grp_kind == 0 ? 1 : grp_kind == 1 ? 2 : 4;
        int64_t Mg = group == 4 ? 1 : rnd(1, 2), M = Mg * group;
        int64_t xd[5] = { rnd(1, 2), C }, wd[5] = { C, Mg }, strides[3], dil[3], pads[6], op[3], os[3];
        for (int i = 0; i < n; i++) {
            int64_t k = rnd(1, n == 3 ? 2 : 3);
            strides[i] = rnd(1, 3);
            dil[i] = rnd(1, 2);
            op[i] = rnd(0, (strides[i] > dil[i] ? strides[i] : dil[i]) - 1);
            wd[2 + i] = k;
            xd[2 + i] = rnd(1, n == 3 ? 3 : 4);
            int64_t full = strides[i] * (xd[2 + i] - 1) + op[i] + (k - 1) * dil[i] + 1;
            pads[i] = rnd(0, 2);
            pads[n + i] = rnd(0, 2);
            while (pads[i] + pads[n + i] >= full)   /* keep at least one output cell */
                pads[pads[i] > 0 ? i : n + i]--;
            os[i] = full + rnd(-2, 2);
            if (os[i] < 1)
                os[i] = 1;
        }
        og_attr at[7] = { og_attr_ints("strides", n, strides), og_attr_ints("dilations", n, dil),
                          og_attr_int("group", group), og_attr_ints("output_padding", n, op) };
        int n_at = 4;
        if (kind == 0)
            at[n_at++] = og_attr_ints("pads", 2 * n, pads);
        else if (kind == 1)
            at[n_at++] = og_attr_ints("output_shape", n, os);
        else
            at[n_at++] = og_attr_string("auto_pad", kinds[kind]);
        char what[160];
        snprintf(what, sizeof what, "ConvTranspose %dD group %lld stride %lld dil %lld outpad %lld %s%s", n,
                 (long long)group, (long long)strides[0], (long long)dil[0], (long long)op[0], kinds[kind],
                 bias ? " bias" : "");
        gradcheck_node(n, xd, wd, M, bias, n_at, at, 1, (uint64_t)iter + 1, what);
        if (iter % 4 == 0) {   /* and the gradient graph's own gradient */
            strcat(what, " (second order)");
            gradcheck_node(n, xd, wd, M, bias, n_at, at, 2, (uint64_t)iter + 100, what);
        }
    }
}
END_TEST

/* Hand-picked corners: output_padding past the stride (allowed below the
 * dilation), an output_shape two cells past the full result with pads
 * that the output_shape overrides, a kernel narrower than the stride, and
 * pads that cut into the kernel's first taps. */
START_TEST(convt_gradient_corners)
{
    {
        int64_t xd[3] = { 2, 2, 4 }, wd[3] = { 2, 3, 2 }, s1[1] = { 1 }, d3[1] = { 3 }, op2[1] = { 2 };
        og_attr at[3] = { og_attr_ints("strides", 1, s1), og_attr_ints("dilations", 1, d3),
                          og_attr_ints("output_padding", 1, op2) };
        gradcheck_node(1, xd, wd, 3, true, 3, at, 1, 7, "output_padding 2 with stride 1, dilation 3");
    }
    {
        int64_t xd[4] = { 1, 2, 3, 2 }, wd[4] = { 2, 2, 3, 2 }, s2[2] = { 2, 3 }, os[2] = { 9, 8 },
                p[4] = { 1, 1, 1, 1 };
        og_attr at[3] = { og_attr_ints("strides", 2, s2), og_attr_ints("output_shape", 2, os),
                          og_attr_ints("pads", 4, p) };
        gradcheck_node(2, xd, wd, 2, false, 3, at, 1, 8, "output_shape past the full result, pads ignored");
    }
    {
        int64_t xd[3] = { 1, 3, 5 }, wd[3] = { 3, 1, 1 }, s3[1] = { 3 }, op1[1] = { 2 };
        og_attr at[3] = { og_attr_ints("strides", 1, s3), og_attr_ints("output_padding", 1, op1),
                          og_attr_int("group", 3) };
        gradcheck_node(1, xd, wd, 3, true, 3, at, 1, 9, "depthwise 1x1 kernel, stride 3");
    }
    {
        int64_t xd[5] = { 1, 2, 2, 3, 2 }, wd[5] = { 2, 2, 3, 3, 2 }, p[6] = { 2, 0, 1, 1, 2, 0 };
        og_attr at[1] = { og_attr_ints("pads", 6, p) };
        gradcheck_node(3, xd, wd, 2, true, 1, at, 1, 10, "3-D pads cutting the first taps");
    }
}
END_TEST

/* Second order: the gradient graph (Convs, Transposes, Reshapes, Slice,
 * ReduceSum) differentiated again, back through Conv's rule, which emits
 * ConvTranspose. Group 2 with a crop (output_padding past the end pad). */
START_TEST(convt_gradient_second_order)
{
    int64_t xd[4] = { 1, 4, 3, 2 }, wd[4] = { 4, 1, 2, 3 }, s2[2] = { 2, 1 }, d[2] = { 1, 2 }, op[2] = { 1, 1 },
            p[4] = { 1, 0, 0, 1 };
    og_attr at[5] = { og_attr_ints("strides", 2, s2), og_attr_ints("dilations", 2, d),
                      og_attr_ints("output_padding", 2, op), og_attr_ints("pads", 4, p), og_attr_int("group", 2) };
    og_graph *g = gt_graph();
    gt_input(g, "X", OG_FLOAT, 4, xd);
    gt_input(g, "W", OG_FLOAT, 4, wd);
    gt_input(g, "B", OG_FLOAT, 1, (const int64_t[]){ 2 });
    gt_node(g, "ConvTranspose", NODE, GT_NAMES("X", "W", "B"), GT_NAMES("Y"), 5, at);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    gt_gradcheck(g, 2, 16, 21, "second order ConvTranspose group 2");
    og_graph_free(g);
}
END_TEST

/* The rule's shape: dX is one Conv, dW a Conv between Transposes, dB a
 * ReduceSum; a crop (Slice) appears only when output_padding exceeds the
 * end pad. Unknown spatial dims with derived pads are refused. */
START_TEST(convt_gradient_graph)
{
    int64_t xd[4] = { 1, 2, 3, 3 }, wd[4] = { 2, 2, 3, 3 }, s2[2] = { 2, 2 }, op1[2] = { 1, 1 };
    for (int with_op = 0; with_op < 2; with_op++) {
        og_graph *g = gt_graph(), *gg;
        gt_input(g, "X", OG_FLOAT, 4, xd);
        gt_input(g, "W", OG_FLOAT, 4, wd);
        gt_input(g, "B", OG_FLOAT, 1, (const int64_t[]){ 2 });
        og_attr at[2] = { og_attr_ints("strides", 2, s2), og_attr_ints("output_padding", 2, op1) };
        gt_node(g, "ConvTranspose", NODE, GT_NAMES("X", "W", "B"), GT_NAMES("Y"), 1 + with_op, at);
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK(og_graph_finalize(g));
        og_grad_options o = { .n_seeded = 1, .seeded = GT_NAMES("Y") };
        OG_CHECK(og_graph_build_gradient(g, &o, &gg));
        int convs = 0, slices = 0, transposes = 0, reducesums = 0;
        for (int k = 0; k < og_graph_num_nodes(gg); k++) {
            const char *op, *name;
            OG_CHECK(og_graph_node(gg, k, &op, &name));
            convs += strcmp(op, "Conv") == 0;
            slices += strcmp(op, "Slice") == 0;
            transposes += strcmp(op, "Transpose") == 0;
            reducesums += strcmp(op, "ReduceSum") == 0;
        }
        ck_assert_int_eq(convs, 2);
        ck_assert_int_eq(slices, with_op);
        ck_assert_int_eq(transposes, 3);
        ck_assert_int_eq(reducesums, 1);
        og_graph_free(gg);
        og_graph_free(g);
    }
    {   /* explicit pads need no sizes: group 1 over unknown batch and
         * spatial dims builds, and checks on concrete inputs */
        og_graph *g = gt_graph();
        int64_t xu[4] = { -1, 2, -1, -1 }, xc[4] = { 2, 2, 3, 2 }, p[4] = { 1, 0, 0, 2 };
        double xv[24], wv[36];
        for (int i = 0; i < 24; i++) xv[i] = uniform();
        for (int i = 0; i < 36; i++) wv[i] = uniform();
        gt_input(g, "X", OG_FLOAT, 4, xu);
        gt_input(g, "W", OG_FLOAT, 4, wd);
        og_attr at[3] = { og_attr_ints("strides", 2, s2), og_attr_ints("output_padding", 2, op1),
                          og_attr_ints("pads", 4, p) };
        gt_node(g, "ConvTranspose", NODE, GT_NAMES("X", "W"), GT_NAMES("Y"), 3, at);
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK(og_graph_finalize(g));
        og_tensor *in[2];
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, 4, xc, xv, &in[0]));
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, 4, wd, wv, &in[1]));
        og_gradcheck_options o = { .seed = 5, .n_inputs = 2, .inputs = (const og_tensor *const *)in };
        og_gradcheck_report *r;
        OG_CHECK(og_gradcheck(g, &o, &r));
        ck_assert_msg(r->pass, "gradcheck over unknown dims failed");
        ck_assert_int_eq(r->n, 2);
        ck_assert_int_eq(r->entries[0].checked, 24);
        og_gradcheck_report_free(r);
        og_tensor_free(in[0]);
        og_tensor_free(in[1]);
        og_graph_free(g);
    }
    {   /* SAME_UPPER over unknown spatial dims: the pads are unknown */
        og_graph *g = gt_graph(), *gg;
        int64_t xu[4] = { 1, 2, -1, 3 };
        gt_input(g, "X", OG_FLOAT, 4, xu);
        gt_input(g, "W", OG_FLOAT, 4, wd);
        og_attr a = og_attr_string("auto_pad", "SAME_UPPER");
        gt_node(g, "ConvTranspose", NODE, GT_NAMES("X", "W"), GT_NAMES("Y"), 1, &a);
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK(og_graph_finalize(g));
        og_grad_options o = { .n_seeded = 1, .seeded = GT_NAMES("Y") };
        OG_CHECK_FAILS(og_graph_build_gradient(g, &o, &gg), OG_ERR_UNSUPPORTED, "pads known");
        og_graph_free(g);
    }
}
END_TEST

static Suite *convt_suite(void)
{
    Suite *s = suite_create("ConvTranspose");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, convt_2x2_stride2);
    tcase_add_test(tc, convt_2x2_stride1_pads);
    tcase_add_test(tc, convt_1d_stride_outpad_dilation);
    tcase_add_test(tc, convt_1d_output_shape_vs_pads);
    tcase_add_test(tc, convt_group2_by_hand);
    tcase_add_test(tc, convt_1d);
    tcase_add_test(tc, convt_2d_plain_and_batched);
    tcase_add_test(tc, convt_3d);
    tcase_add_test(tc, convt_group2);
    tcase_add_test(tc, convt_depthwise);
    tcase_add_test(tc, convt_dilations_and_auto_pad);
    tcase_add_test(tc, convt_float64_and_opsets);
    tcase_add_test(tc, convt_empty);
    tcase_add_test(tc, convt_adjoint_of_conv);
    tcase_add_test(tc, convt_geometry_helper);
    tcase_add_test(tc, convt_unknown_dims);
    tcase_add_test(tc, convt_errors);
    tcase_add_test(tc, convt_gradient_sweep);
    tcase_add_test(tc, convt_gradient_corners);
    tcase_add_test(tc, convt_gradient_second_order);
    tcase_add_test(tc, convt_gradient_graph);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(convt_suite());
}
