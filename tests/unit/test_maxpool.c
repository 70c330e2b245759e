/* SPDX-License-Identifier: MIT */
/* test_maxpool.c — MaxPool: hand-worked values and Indices (storage_order 0
 * and 1, batch and channel offsets), ties, NaN, padding that never wins,
 * ceil_mode (including the dropped last window), dilations, auto_pad,
 * int8/uint8, 1-D and 3-D against a naive reference, opset differences and
 * the errors finalize must report. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

#define NODE "pool_node"

/* ---- one-node graph helpers -------------------------------------------- */

/* Graph: input X, node NODE -> "Y" (and "I" when with_ind), outputs alike. */
static og_status build(og_graph **g, int opset, og_dtype dt, int rank, const int64_t *xd, bool with_ind,
                       int n_attrs, const og_attr *attrs)
{
    const char *in[1] = { "X" }, *out[2] = { "Y", "I" };
    og_status st;
    *g = NULL;
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, "", opset)) ||
        (st = og_graph_add_input(*g, "X", dt, rank, xd, NULL)) ||
        (st = og_graph_add_node(*g, "MaxPool", NULL, NODE, 1, in, with_ind ? 2 : 1, out, n_attrs, attrs)) ||
        (st = og_graph_add_output(*g, "Y")) || (with_ind && (st = og_graph_add_output(*g, "I"))))
        return st;
    return og_graph_finalize(*g);
}

/* build + plan + run; on OG_OK *y (and *ind when given) are the caller's. */
static og_status run_op(int opset, og_tensor **y, og_tensor **ind, og_dtype dt, int rank, const int64_t *xd,
                        const void *x, int n_attrs, const og_attr *attrs)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_tensor *feed = NULL, *outs[2] = { 0 };
    og_status st;
    *y = NULL;
    if (ind)
        *ind = NULL;
    if ((st = build(&g, opset, dt, rank, xd, ind != NULL, n_attrs, attrs)) || (st = og_plan_create(g, &p)) ||
        (st = og_tensor_create_from(dt, rank, xd, x, &feed)))
        goto done;
    if ((st = og_plan_run(p, 1, (const og_tensor *const *)&feed, outs)))
        goto done;
    *y = outs[0];
    if (ind)
        *ind = outs[1];
done:
    og_tensor_free(feed);
    og_plan_free(p);
    og_graph_free(g);
    return st;
}

static og_status run(og_tensor **y, og_tensor **ind, og_dtype dt, int rank, const int64_t *xd, const void *x,
                     int n_attrs, const og_attr *attrs)
{
    return run_op(17, y, ind, dt, rank, xd, x, n_attrs, attrs);
}

static void expect_fail_op(int opset, bool with_ind, og_status code, const char *needle, og_dtype dt, int rank,
                           const int64_t *xd, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_status st = build(&g, opset, dt, rank, xd, with_ind, n_attrs, attrs);
    const char *msg = og_errmsg();
    ck_assert_msg(st == code, "expected %s, got %s: %s", og_status_name(code), og_status_name(st),
                  st ? msg : "(finalize succeeded)");
    ck_assert_msg(strstr(msg, "'" NODE "'") != NULL, "message does not name the node: %s", msg);
    if (needle)
        ck_assert_msg(strstr(msg, needle) != NULL, "message lacks \"%s\": %s", needle, msg);
    og_graph_free(g);
}

static void expect_fail(og_status code, const char *needle, og_dtype dt, int rank, const int64_t *xd, int n_attrs,
                        const og_attr *attrs)
{
    expect_fail_op(17, false, code, needle, dt, rank, xd, n_attrs, attrs);
}

static void expect_dims(const og_tensor *t, og_dtype dt, int rank, const int64_t *dims)
{
    ck_assert_int_eq(t->dtype, dt);
    ck_assert_int_eq(t->rank, rank);
    for (int k = 0; k < rank; k++)
        ck_assert_msg(t->dims[k] == dims[k], "dim %d: got %lld, expected %lld", k, (long long)t->dims[k],
                      (long long)dims[k]);
}

static void expect_f(const og_tensor *t, const float *want)
{
    const float *v = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        ck_assert_msg(v[i] == want[i] || (isnan(v[i]) && isnan(want[i])), "Y[%lld] = %g, expected %g",
                      (long long)i, (double)v[i], (double)want[i]);
}

static void expect_i64(const og_tensor *t, const int64_t *want)
{
    ck_assert_int_eq(t->dtype, OG_INT64);
    const int64_t *v = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        ck_assert_msg(v[i] == want[i], "Indices[%lld] = %lld, expected %lld", (long long)i, (long long)v[i],
                      (long long)want[i]);
}

/* Output length of one axis, derived independently of the library. */
static int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil_mode)
{
    int64_t span = in + pb + pe - ((k - 1) * d + 1);
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + pb)
        out--;
    return out;
}

/* ---- hand-worked -------------------------------------------------------- */

/* X = [[1,9,2],[3,4,8],[7,5,6]] as channel 0 and X + 100 as channel 1;
 * 2x2 windows, stride 1:
 *   (0,0) {1,9,3,4} -> 9 at (0,1)   (0,1) {9,2,4,8} -> 9 at (0,1)
 *   (1,0) {3,4,7,5} -> 7 at (2,0)   (1,1) {4,8,5,6} -> 8 at (1,2)
 * Row-major indices h*3 + w: 1 1 6 5; column-major h + w*3: 3 3 2 7;
 * channel 1 adds 9 (one 3x3 plane). */
START_TEST(maxpool_indices_by_hand)
{
    const float x[18] = { 1, 9, 2, 3, 4, 8, 7, 5, 6, 101, 109, 102, 103, 104, 108, 107, 105, 106 };
    const float want[8] = { 9, 9, 7, 8, 109, 109, 107, 108 };
    const int64_t rm[8] = { 1, 1, 6, 5, 10, 10, 15, 14 }, cm[8] = { 3, 3, 2, 7, 12, 12, 11, 16 };
    int64_t xd[4] = { 1, 2, 3, 3 }, yd[4] = { 1, 2, 2, 2 }, ks[2] = { 2, 2 };
    og_tensor *y, *ind;

    og_attr a[2] = { og_attr_ints("kernel_shape", 2, ks), og_attr_int("storage_order", 0) };
    OG_CHECK(run(&y, &ind, OG_FLOAT, 4, xd, x, 1, a));
    expect_dims(y, OG_FLOAT, 4, yd);
    expect_dims(ind, OG_INT64, 4, yd);
    expect_f(y, want);
    expect_i64(ind, rm);
    og_tensor_free(y), og_tensor_free(ind);

    OG_CHECK(run(&y, &ind, OG_FLOAT, 4, xd, x, 2, a));
    expect_i64(ind, rm);
    og_tensor_free(y), og_tensor_free(ind);

    a[1] = og_attr_int("storage_order", 1);
    OG_CHECK(run(&y, &ind, OG_FLOAT, 4, xd, x, 2, a));
    expect_f(y, want);
    expect_i64(ind, cm);
    og_tensor_free(y), og_tensor_free(ind);
}
END_TEST

/* Batch offsets: N = 2, C = 1, 1-D length 4, k 2 s 2.
 * X = [3,1, 2,5 | 0,4, 6,6]: maxima 3 5 | 4 6, indices 0 3 | 5 6 (the
 * first 6 wins the tie; the second sample starts at 4). */
START_TEST(maxpool_indices_batch_and_ties)
{
    const float x[8] = { 3, 1, 2, 5, 0, 4, 6, 6 }, want[4] = { 3, 5, 4, 6 };
    const int64_t wi[4] = { 0, 3, 5, 6 };
    int64_t xd[3] = { 2, 1, 4 }, ks[1] = { 2 }, st[1] = { 2 };
    og_attr a[2] = { og_attr_ints("kernel_shape", 1, ks), og_attr_ints("strides", 1, st) };
    og_tensor *y, *ind;
    OG_CHECK(run(&y, &ind, OG_FLOAT, 3, xd, x, 2, a));
    expect_f(y, want);
    expect_i64(ind, wi);
    og_tensor_free(y), og_tensor_free(ind);

    /* All equal: every window reports its first cell (row-major scan). */
    const float same[9] = { 2, 2, 2, 2, 2, 2, 2, 2, 2 };
    const int64_t first[4] = { 0, 1, 3, 4 };
    int64_t xd2[4] = { 1, 1, 3, 3 }, ks2[2] = { 2, 2 };
    og_attr b[1] = { og_attr_ints("kernel_shape", 2, ks2) };
    OG_CHECK(run(&y, &ind, OG_FLOAT, 4, xd2, same, 1, b));
    expect_i64(ind, first);
    og_tensor_free(y), og_tensor_free(ind);
}
END_TEST

/* Padding never wins: with all-negative input and pads 1 the maxima stay
 * negative. X = [[-5,-2],[-3,-4]], k 2, s 1, pads 1 -> 3x3 of windows:
 *   -5 -2 -2 / -3 -2 -2 / -3 -3 -4, indices 0 1 1 / 2 1 1 / 2 2 3. */
START_TEST(maxpool_padding_never_wins)
{
    const float x[4] = { -5, -2, -3, -4 }, want[9] = { -5, -2, -2, -3, -2, -2, -3, -3, -4 };
    const int64_t wi[9] = { 0, 1, 1, 2, 1, 1, 2, 2, 3 };
    int64_t xd[4] = { 1, 1, 2, 2 }, yd[4] = { 1, 1, 3, 3 }, ks[2] = { 2, 2 }, pads[4] = { 1, 1, 1, 1 };
    og_attr a[2] = { og_attr_ints("kernel_shape", 2, ks), og_attr_ints("pads", 4, pads) };
    og_tensor *y, *ind;
    OG_CHECK(run(&y, &ind, OG_FLOAT, 4, xd, x, 2, a));
    expect_dims(y, OG_FLOAT, 4, yd);
    expect_f(y, want);
    expect_i64(ind, wi);
    og_tensor_free(y), og_tensor_free(ind);
}
END_TEST

/* A NaN anywhere in a window makes that output NaN, first cell or not;
 * windows without NaN are untouched. 1-D, k 2, s 1:
 * X = [NaN, 1, 2, NaN, 0, -1] -> [NaN, 2, NaN, NaN, 0]. */
START_TEST(maxpool_nan_propagates)
{
    const float x[6] = { NAN, 1, 2, NAN, 0, -1 }, want[5] = { NAN, 2, NAN, NAN, 0 };
    const int64_t wi[5] = { 0, 2, 3, 3, 4 };
    int64_t xd[3] = { 1, 1, 6 }, ks[1] = { 2 };
    og_attr a[1] = { og_attr_ints("kernel_shape", 1, ks) };
    og_tensor *y, *ind;
    OG_CHECK(run(&y, &ind, OG_FLOAT, 3, xd, x, 1, a));
    expect_f(y, want);
    expect_i64(ind, wi);
    og_tensor_free(y), og_tensor_free(ind);

    const double xd_[4] = { 1, NAN, 3, 2 };
    og_attr b[1] = { og_attr_ints("kernel_shape", 1, (int64_t[]){ 3 }) };
    int64_t d4[3] = { 1, 1, 4 };
    OG_CHECK(run(&y, NULL, OG_DOUBLE, 3, d4, xd_, 1, b));
    ck_assert(isnan(((const double *)y->data)[0]) && isnan(((const double *)y->data)[1]));
    og_tensor_free(y);
}
END_TEST

/* ceil_mode, 1-D, k 2, s 2:
 *   in 5, no pads: floor -> 2 windows, ceil -> 3 (the third starts at 4,
 *   a real cell: [x4]).
 *   in 5, pads [1,1]: floor (7-2)/2+1 = 3; ceil would add a window starting
 *   at padded position 6 = in + pad_begin, wholly in the end padding, so it
 *   is dropped: still 3 (PyTorch agrees). */
START_TEST(maxpool_ceil_mode)
{
    const float x[5] = { 1, 5, 3, 2, 4 };
    int64_t xd[3] = { 1, 1, 5 }, ks[1] = { 2 }, st[1] = { 2 }, pads[2] = { 1, 1 };
    og_tensor *y, *ind;

    og_attr a[3] = { og_attr_ints("kernel_shape", 1, ks), og_attr_ints("strides", 1, st),
                     og_attr_int("ceil_mode", 0) };
    OG_CHECK(run(&y, NULL, OG_FLOAT, 3, xd, x, 3, a));
    ck_assert_int_eq(y->dims[2], 2);
    expect_f(y, (const float[]){ 5, 3 });
    og_tensor_free(y);

    a[2] = og_attr_int("ceil_mode", 1);
    OG_CHECK(run(&y, &ind, OG_FLOAT, 3, xd, x, 3, a));
    ck_assert_int_eq(y->dims[2], 3);
    expect_f(y, (const float[]){ 5, 3, 4 });
    expect_i64(ind, (const int64_t[]){ 1, 2, 4 });
    og_tensor_free(y), og_tensor_free(ind);

    og_attr b[4] = { og_attr_ints("kernel_shape", 1, ks), og_attr_ints("strides", 1, st),
                     og_attr_ints("pads", 2, pads), og_attr_int("ceil_mode", 1) };
    OG_CHECK(run(&y, NULL, OG_FLOAT, 3, xd, x, 4, b));
    ck_assert_int_eq(y->dims[2], 3);   /* not 4 */
    expect_f(y, (const float[]){ 1, 5, 4 });
    og_tensor_free(y);

    /* 2-D: 6x6, k 3, s 2 -> floor 2x2, ceil 3x3 (last windows start at 4). */
    float x36[36];
    for (int i = 0; i < 36; i++)
        x36[i] = (float)i;
    int64_t xd2[4] = { 1, 1, 6, 6 }, ks2[2] = { 3, 3 }, st2[2] = { 2, 2 };
    og_attr c[3] = { og_attr_ints("kernel_shape", 2, ks2), og_attr_ints("strides", 2, st2),
                     og_attr_int("ceil_mode", 1) };
    OG_CHECK(run(&y, NULL, OG_FLOAT, 4, xd2, x36, 3, c));
    expect_dims(y, OG_FLOAT, 4, (const int64_t[]){ 1, 1, 3, 3 });
    expect_f(y, (const float[]){ 14, 16, 17, 26, 28, 29, 32, 34, 35 });
    og_tensor_free(y);
}
END_TEST

/* Dilation 2, k 2 on X = [1,7,2,6,3,5,4]: windows {x[i], x[i+2]} ->
 * 2 7 3 6 4; with storage_order 1 a 1-D index is unchanged. */
START_TEST(maxpool_dilations)
{
    const float x[7] = { 1, 7, 2, 6, 3, 5, 4 }, want[5] = { 2, 7, 3, 6, 4 };
    const int64_t wi[5] = { 2, 1, 4, 3, 6 };
    int64_t xd[3] = { 1, 1, 7 }, ks[1] = { 2 }, dil[1] = { 2 };
    og_attr a[3] = { og_attr_ints("kernel_shape", 1, ks), og_attr_ints("dilations", 1, dil),
                     og_attr_int("storage_order", 1) };
    og_tensor *y, *ind;
    OG_CHECK(run(&y, &ind, OG_FLOAT, 3, xd, x, 3, a));
    expect_dims(y, OG_FLOAT, 3, (const int64_t[]){ 1, 1, 5 });
    expect_f(y, want);
    expect_i64(ind, wi);
    og_tensor_free(y), og_tensor_free(ind);
}
END_TEST

/* auto_pad on 1-D length 5, k 3, s 2: SAME -> ceil(5/2) = 3 outputs with
 * total pad 2*2 + 3 - 5 = 2 -> [1, 1]; length 6 -> 3 outputs, total pad 1:
 * SAME_UPPER [0, 1], SAME_LOWER [1, 0]; VALID -> (5-3)/2+1 = 2. */
START_TEST(maxpool_auto_pad)
{
    const float x5[5] = { 1, 2, 3, 4, 5 }, x6[6] = { 6, 1, 2, 3, 4, 5 };
    int64_t d5[3] = { 1, 1, 5 }, d6[3] = { 1, 1, 6 }, ks[1] = { 3 }, st[1] = { 2 };
    og_attr a[3] = { og_attr_ints("kernel_shape", 1, ks), og_attr_ints("strides", 1, st),
                     og_attr_string("auto_pad", "SAME_UPPER") };
    og_tensor *y;
    OG_CHECK(run(&y, NULL, OG_FLOAT, 3, d5, x5, 3, a));
    expect_f(y, (const float[]){ 2, 4, 5 });
    og_tensor_free(y);
    OG_CHECK(run(&y, NULL, OG_FLOAT, 3, d6, x6, 3, a));   /* windows [0..2] [2..4] [4..5,pad] */
    expect_dims(y, OG_FLOAT, 3, (const int64_t[]){ 1, 1, 3 });
    expect_f(y, (const float[]){ 6, 4, 5 });
    og_tensor_free(y);
    a[2] = og_attr_string("auto_pad", "SAME_LOWER");
    OG_CHECK(run(&y, NULL, OG_FLOAT, 3, d6, x6, 3, a));   /* windows [pad,0..1] [1..3] [3..5] */
    expect_f(y, (const float[]){ 6, 3, 5 });
    og_tensor_free(y);
    a[2] = og_attr_string("auto_pad", "VALID");
    OG_CHECK(run(&y, NULL, OG_FLOAT, 3, d5, x5, 3, a));
    expect_dims(y, OG_FLOAT, 3, (const int64_t[]){ 1, 1, 2 });
    expect_f(y, (const float[]){ 3, 5 });
    og_tensor_free(y);
}
END_TEST

START_TEST(maxpool_int8_uint8)
{
    const int8_t x8[6] = { -128, -7, 5, 127, -1, -1 };
    const uint8_t xu[6] = { 0, 200, 255, 3, 9, 9 };
    int64_t xd[3] = { 1, 2, 3 }, ks[1] = { 2 };
    og_attr a[1] = { og_attr_ints("kernel_shape", 1, ks) };
    og_tensor *y, *ind;
    OG_CHECK(run_op(12, &y, &ind, OG_INT8, 3, xd, x8, 1, a));
    ck_assert_int_eq(y->dtype, OG_INT8);
    const int8_t *v8 = y->data;
    ck_assert(v8[0] == -7 && v8[1] == 5 && v8[2] == 127 && v8[3] == -1);
    expect_i64(ind, (const int64_t[]){ 1, 2, 3, 4 });
    og_tensor_free(y), og_tensor_free(ind);

    OG_CHECK(run(&y, NULL, OG_UINT8, 3, xd, xu, 1, a));
    ck_assert_int_eq(y->dtype, OG_UINT8);
    const uint8_t *vu = y->data;
    ck_assert(vu[0] == 200 && vu[1] == 255 && vu[2] == 9 && vu[3] == 9);
    og_tensor_free(y);

    /* Before opset 12 only floating point. */
    expect_fail_op(11, false, OG_ERR_SHAPE, "int8", OG_INT8, 3, xd, 1, a);
    expect_fail_op(11, false, OG_ERR_SHAPE, "uint8", OG_UINT8, 3, xd, 1, a);
    expect_fail(OG_ERR_SHAPE, "int32", OG_INT32, 3, xd, 1, a);
}
END_TEST

/* ---- against a naive reference (1-D and 3-D, random data) --------------- */

typedef struct pprob {
    int n;
    int64_t N, C, in[3], k[3], s[3], d[3], pb[3], pe[3];
    bool ceil_mode;
    int storage_order;
} pprob;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void check_vs_ref(const pprob *p, int n_attrs, const og_attr *attrs)
{
    int64_t in[3] = { 1, 1, 1 }, k[3] = { 1, 1, 1 }, s[3] = { 1, 1, 1 }, d[3] = { 1, 1, 1 }, pb[3] = { 0 },
            out[3] = { 1, 1, 1 }, xd[5] = { p->N, p->C }, yd[5] = { p->N, p->C };
    for (int a = 0; a < p->n; a++) {
        in[a] = p->in[a], k[a] = p->k[a], s[a] = p->s[a], d[a] = p->d[a], pb[a] = p->pb[a];
        out[a] = out_len(in[a], k[a], s[a], d[a], p->pb[a], p->pe[a], p->ceil_mode);
        xd[2 + a] = in[a], yd[2 + a] = out[a];
    }
    int64_t plane = in[0] * in[1] * in[2], xn = p->N * p->C * plane;
    int64_t yn = p->N * p->C * out[0] * out[1] * out[2];
    double *x = malloc(sizeof(double) * xn), *want = malloc(sizeof(double) * yn);
    int64_t *want_i = malloc(sizeof(int64_t) * yn);
    for (int64_t i = 0; i < xn; i++)
        x[i] = round(uniform() * 8) / 4;   /* coarse values: plenty of ties */
    int64_t q = 0;
    for (int64_t pl = 0; pl < p->N * p->C; pl++)
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++, q++) {
                    double best = -INFINITY;
                    int64_t bi = -1;
                    for (int64_t j0 = 0; j0 < k[0]; j0++)
                        for (int64_t j1 = 0; j1 < k[1]; j1++)
                            for (int64_t j2 = 0; j2 < k[2]; j2++) {
                                int64_t i0 = o0 * s[0] - pb[0] + j0 * d[0], i1 = o1 * s[1] - pb[1] + j1 * d[1],
                                        i2 = o2 * s[2] - pb[2] + j2 * d[2];
                                if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2])
                                    continue;
                                double v = x[pl * plane + (i0 * in[1] + i1) * in[2] + i2];
                                if (bi < 0 || v > best) {
                                    best = v;
                                    /* column-major over the n real axes only */
                                    int64_t ii[3] = { i0, i1, i2 }, cm = 0, mul = 1;
                                    for (int a = 0; a < p->n; a++, mul *= in[a - 1])
                                        cm += ii[a] * mul;
                                    bi = p->storage_order ? cm : (i0 * in[1] + i1) * in[2] + i2;
                                }
                            }
                    want[q] = best;
                    want_i[q] = pl * plane + bi;
                }
    og_tensor *y, *ind;
    OG_CHECK(run(&y, &ind, OG_DOUBLE, p->n + 2, xd, x, n_attrs, attrs));
    expect_dims(y, OG_DOUBLE, p->n + 2, yd);
    expect_dims(ind, OG_INT64, p->n + 2, yd);
    for (int64_t i = 0; i < yn; i++)
        ck_assert_msg(((const double *)y->data)[i] == want[i], "Y[%lld] = %g, expected %g", (long long)i,
                      ((const double *)y->data)[i], want[i]);
    expect_i64(ind, want_i);
    og_tensor_free(y), og_tensor_free(ind);
    free(x), free(want), free(want_i);
}

START_TEST(maxpool_1d_ref)
{
    pprob p = { .n = 1, .N = 2, .C = 3, .in = { 13 }, .k = { 3 }, .s = { 2 }, .d = { 2 }, .pb = { 2 }, .pe = { 1 },
                .ceil_mode = true };
    int64_t ks[1] = { 3 }, st[1] = { 2 }, dil[1] = { 2 }, pads[2] = { 2, 1 };
    og_attr a[5] = { og_attr_ints("kernel_shape", 1, ks), og_attr_ints("strides", 1, st),
                     og_attr_ints("dilations", 1, dil), og_attr_ints("pads", 2, pads), og_attr_int("ceil_mode", 1) };
    check_vs_ref(&p, 5, a);
}
END_TEST

START_TEST(maxpool_3d_ref)
{
    pprob p = { .n = 3, .N = 2, .C = 2, .in = { 5, 6, 7 }, .k = { 2, 3, 2 }, .s = { 2, 1, 3 }, .d = { 1, 2, 1 },
                .pb = { 1, 0, 1 }, .pe = { 0, 2, 1 }, .storage_order = 0 };
    int64_t ks[3] = { 2, 3, 2 }, st[3] = { 2, 1, 3 }, dil[3] = { 1, 2, 1 }, pads[6] = { 1, 0, 1, 0, 2, 1 };
    og_attr a[5] = { og_attr_ints("kernel_shape", 3, ks), og_attr_ints("strides", 3, st),
                     og_attr_ints("dilations", 3, dil), og_attr_ints("pads", 6, pads),
                     og_attr_int("storage_order", 0) };
    check_vs_ref(&p, 5, a);

    p.storage_order = 1;
    a[4] = og_attr_int("storage_order", 1);
    check_vs_ref(&p, 5, a);

    p.ceil_mode = true;
    og_attr b[6] = { a[0], a[1], a[2], a[3], a[4], og_attr_int("ceil_mode", 1) };
    check_vs_ref(&p, 6, b);
}
END_TEST

/* ---- versions, shapes, errors ------------------------------------------ */

START_TEST(maxpool_opsets)
{
    const float x[4] = { 1, 3, 2, 0 };
    int64_t xd[3] = { 1, 1, 4 }, ks[1] = { 2 }, dil[1] = { 1 };
    og_attr a[2] = { og_attr_ints("kernel_shape", 1, ks), og_attr_int("storage_order", 0) };
    og_tensor *y, *ind;
    OG_CHECK(run_op(1, &y, NULL, OG_FLOAT, 3, xd, x, 1, a));   /* MaxPool-1: Y only */
    expect_f(y, (const float[]){ 3, 3, 2 });
    og_tensor_free(y);
    OG_CHECK(run_op(8, &y, &ind, OG_FLOAT, 3, xd, x, 2, a));
    expect_i64(ind, (const int64_t[]){ 1, 1, 2 });
    og_tensor_free(y), og_tensor_free(ind);

    expect_fail_op(7, true, OG_ERR_INVALID_GRAPH, "Indices", OG_FLOAT, 3, xd, 1, a);
    expect_fail_op(7, false, OG_ERR_ATTR, "storage_order", OG_FLOAT, 3, xd, 2, a);
    og_attr b[2] = { a[0], og_attr_ints("dilations", 1, dil) };
    expect_fail_op(9, false, OG_ERR_ATTR, "dilations", OG_FLOAT, 3, xd, 2, b);
    b[1] = og_attr_int("ceil_mode", 1);
    expect_fail_op(9, false, OG_ERR_ATTR, "ceil_mode", OG_FLOAT, 3, xd, 2, b);
    OG_CHECK(run_op(10, &y, NULL, OG_FLOAT, 3, xd, x, 2, b));
    og_tensor_free(y);
}
END_TEST

START_TEST(maxpool_unknown_dims)
{
    og_graph *g;
    og_value_info vi;
    int64_t xd[4] = { -1, 3, 8, -1 }, ks[2] = { 3, 3 }, st[2] = { 2, 2 };
    og_attr a[3] = { og_attr_ints("kernel_shape", 2, ks), og_attr_ints("strides", 2, st), og_attr_int("ceil_mode", 1) };
    OG_CHECK(build(&g, 17, OG_FLOAT, 4, xd, true, 3, a));
    OG_CHECK(og_graph_value(g, "Y", &vi));
    ck_assert(vi.dtype == OG_FLOAT && vi.rank == 4 && vi.dims[0] == -1 && vi.dims[1] == 3 && vi.dims[2] == 4 &&
              vi.dims[3] == -1);
    OG_CHECK(og_graph_value(g, "I", &vi));
    ck_assert(vi.dtype == OG_INT64 && vi.rank == 4 && vi.dims[2] == 4);
    og_graph_free(g);
}
END_TEST

START_TEST(maxpool_errors)
{
    int64_t x4[4] = { 1, 2, 5, 5 }, ks[2] = { 3, 3 };
    og_attr k2 = og_attr_ints("kernel_shape", 2, ks);

    expect_fail(OG_ERR_ATTR, "kernel_shape", OG_FLOAT, 4, x4, 0, NULL);   /* required */
    int64_t x2[2] = { 1, 2 };
    expect_fail(OG_ERR_SHAPE, "rank 2", OG_FLOAT, 2, x2, 1, &k2);
    og_attr k1 = og_attr_ints("kernel_shape", 1, ks);
    expect_fail(OG_ERR_SHAPE, "rank 4", OG_FLOAT, 4, x4, 1, &k1);
    const int64_t k0[2] = { 3, 0 };
    og_attr kz = og_attr_ints("kernel_shape", 2, k0);
    expect_fail(OG_ERR_ATTR, "kernel_shape[1]", OG_FLOAT, 4, x4, 1, &kz);

    const int64_t s0[2] = { 0, 1 }, pneg[4] = { 0, 0, -2, 0 }, p1[4] = { 1, 1, 1, 1 };
    og_attr a[2] = { k2, og_attr_ints("strides", 2, s0) };
    expect_fail(OG_ERR_ATTR, "strides[0]", OG_FLOAT, 4, x4, 2, a);
    a[1] = og_attr_ints("pads", 4, pneg);
    expect_fail(OG_ERR_ATTR, "pads", OG_FLOAT, 4, x4, 2, a);
    og_attr both[3] = { k2, og_attr_ints("pads", 4, p1), og_attr_string("auto_pad", "VALID") };
    expect_fail(OG_ERR_ATTR, "auto_pad", OG_FLOAT, 4, x4, 3, both);
    a[1] = og_attr_int("storage_order", 2);
    expect_fail(OG_ERR_ATTR, "storage_order", OG_FLOAT, 4, x4, 2, a);

    /* kernel larger than the (un)padded input: 6 > 5 + 0 + 0 */
    const int64_t big[2] = { 6, 3 }, pads_small[4] = { 0, 0, 0, 0 };
    og_attr kb[2] = { og_attr_ints("kernel_shape", 2, big), og_attr_ints("pads", 4, pads_small) };
    expect_fail(OG_ERR_SHAPE, "exceeds padded input", OG_FLOAT, 4, x4, 1, kb);
    expect_fail(OG_ERR_SHAPE, "exceeds padded input", OG_FLOAT, 4, x4, 2, kb);

    const int64_t huge[4] = { INT64_C(1) << 62, 0, INT64_C(1) << 62, 0 };
    a[1] = og_attr_ints("pads", 4, huge);
    expect_fail(OG_ERR_ATTR, "overflow", OG_FLOAT, 4, x4, 2, a);
}
END_TEST

static Suite *maxpool_suite(void)
{
    Suite *s = suite_create("MaxPool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, maxpool_indices_by_hand);
    tcase_add_test(tc, maxpool_indices_batch_and_ties);
    tcase_add_test(tc, maxpool_padding_never_wins);
    tcase_add_test(tc, maxpool_nan_propagates);
    tcase_add_test(tc, maxpool_ceil_mode);
    tcase_add_test(tc, maxpool_dilations);
    tcase_add_test(tc, maxpool_auto_pad);
    tcase_add_test(tc, maxpool_int8_uint8);
    tcase_add_test(tc, maxpool_1d_ref);
    tcase_add_test(tc, maxpool_3d_ref);
    tcase_add_test(tc, maxpool_opsets);
    tcase_add_test(tc, maxpool_unknown_dims);
    tcase_add_test(tc, maxpool_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(maxpool_suite());
}
