/* SPDX-License-Identifier: MIT */
/* test_reduceslice.c — ReduceSum, Slice and Pad: hand-worked examples
 * (including the spec's), every version's attribute/input form, every
 * dtype, sweeps against naive loops, shape inference with data known or
 * unknown at load time, and each error with its status and message. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"
#include "gradtest.h"

#define NODE "n1"

/* One input of the node under test: a graph input (data fed at run time)
 * or, with konst, an initializer whose data inference sees at load time.
 * dtype OG_UNDEFINED: an omitted optional input. rank < 0: unknown rank
 * (graph inputs only); dims < 0: unknown. */
typedef struct arg {
    og_dtype dtype;
    int rank;
    const int64_t *dims;
    const void *data;
    bool konst;
} arg;

#define MAX_IN 5
#define NONE ((arg){OG_UNDEFINED, 0, NULL, NULL, false})
#define IN(t, r, d, x) ((arg){(t), (r), (d), (x), false})
#define K(t, r, d, x) ((arg){(t), (r), (d), (x), true})
#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define I64(...) ((const int64_t[]){__VA_ARGS__})
#define F32(...) ((const float[]){__VA_ARGS__})
#define K64(n, ...) K(OG_INT64, 1, DIMS(n), I64(__VA_ARGS__))
#define KEMPTY K(OG_INT64, 1, DIMS(0), NULL)

static og_status build(og_graph **g, const char *op, int opset, int n_in, const arg *ins, int n_attrs,
                       const og_attr *attrs)
{
    static const char *const names[MAX_IN] = {"in0", "in1", "in2", "in3", "in4"};
    const char *in_names[MAX_IN];
    const char *out_names[1] = {"y"};
    og_status st;

    *g = NULL;
    ck_assert_int_le(n_in, MAX_IN);
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, "", opset)))
        return st;
    for (int k = 0; k < n_in; k++) {
        in_names[k] = ins[k].dtype == OG_UNDEFINED ? "" : names[k];
        if (ins[k].dtype == OG_UNDEFINED)
            continue;
        if (ins[k].konst) {
            og_tensor *t;
            OG_CHECK(og_tensor_create_from(ins[k].dtype, ins[k].rank, ins[k].dims, ins[k].data, &t));
            st = og_graph_add_initializer(*g, names[k], t);
            og_tensor_free(t);
        } else {
            st = og_graph_add_input(*g, names[k], ins[k].dtype, ins[k].rank, ins[k].dims, NULL);
        }
        if (st)
            return st;
    }
    if ((st = og_graph_add_node(*g, op, NULL, NODE, n_in, in_names, 1, out_names, n_attrs, attrs)) ||
        (st = og_graph_add_output(*g, "y")))
        return st;
    return og_graph_finalize(*g);
}

/* build, plan and run, feeding the graph inputs' data; *y is the caller's. */
static og_status run(og_tensor **y, const char *op, int opset, int n_in, const arg *ins, int n_attrs,
                     const og_attr *attrs)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_tensor *feeds[MAX_IN] = {0};
    int n_feeds = 0;
    og_status st;

    *y = NULL;
    if ((st = build(&g, op, opset, n_in, ins, n_attrs, attrs)) || (st = og_plan_create(g, &p)))
        goto done;
    for (int k = 0; k < n_in; k++) {
        if (ins[k].dtype == OG_UNDEFINED || ins[k].konst)
            continue;
        if ((st = og_tensor_create_from(ins[k].dtype, ins[k].rank, ins[k].dims, ins[k].data,
                                        &feeds[n_feeds])))
            goto done;
        n_feeds++;
    }
    st = og_plan_run(p, n_feeds, (const og_tensor *const *)feeds, y);
done:
    for (int k = 0; k < n_feeds; k++)
        og_tensor_free(feeds[k]);
    og_plan_free(p);
    og_graph_free(g);
    return st;
}

static void check_msg(og_status st, og_status code, const char *needle, const char *when)
{
    const char *msg = og_errmsg();
    ck_assert_msg(st == code, "%s: expected %s, got %s: %s", when, og_status_name(code), og_status_name(st),
                  st ? msg : "(succeeded)");
    ck_assert_msg(strstr(msg, "'" NODE "'") != NULL, "message does not name the node: %s", msg);
    ck_assert_msg(needle == NULL || strstr(msg, needle) != NULL, "message lacks \"%s\": %s", needle, msg);
}

/* Finalize must fail with `code` and a message holding the node and needle. */
static void expect_fail(og_status code, const char *needle, const char *op, int opset, int n_in,
                        const arg *ins, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_status st = build(&g, op, opset, n_in, ins, n_attrs, attrs);
    check_msg(st, code, needle, "finalize");
    og_graph_free(g);
}

/* Finalize succeeds; running on the inputs' data fails with `code`. */
static void expect_run_fail(og_status code, const char *needle, const char *op, int opset, int n_in,
                            const arg *ins, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    OG_CHECK(build(&g, op, opset, n_in, ins, n_attrs, attrs));
    og_graph_free(g);
    og_tensor *y;
    og_status st = run(&y, op, opset, n_in, ins, n_attrs, attrs);
    check_msg(st, code, needle, "run");
    og_tensor_free(y);
}

/* The finalized "y" has this dtype and shape (rank -1: unknown; dims -1: unknown). */
static void expect_shape(og_dtype dtype, int rank, const int64_t *dims, const char *op, int opset, int n_in,
                         const arg *ins, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_value_info vi;
    OG_CHECK(build(&g, op, opset, n_in, ins, n_attrs, attrs));
    OG_CHECK(og_graph_value(g, "y", &vi));
    ck_assert_int_eq(vi.dtype, dtype);
    ck_assert_int_eq(vi.rank, rank);
    for (int k = 0; k < rank; k++)
        ck_assert_msg(vi.dims[k] == dims[k], "dim %d: expected %lld, got %lld", k, (long long)dims[k],
                      (long long)vi.dims[k]);
    og_graph_free(g);
}

static void check_shape(const og_tensor *y, int rank, const int64_t *dims)
{
    ck_assert_int_eq(y->rank, rank);
    for (int k = 0; k < rank; k++)
        ck_assert_msg(y->dims[k] == dims[k], "dim %d: expected %lld, got %lld", k, (long long)dims[k],
                      (long long)y->dims[k]);
}

/* Runs and compares a float result exactly (all the sums here are exact). */
static void expect_f32(const char *op, int opset, int n_in, const arg *ins, int n_attrs, const og_attr *attrs,
                       int rank, const int64_t *dims, const float *want)
{
    og_tensor *y;
    OG_CHECK(run(&y, op, opset, n_in, ins, n_attrs, attrs));
    ck_assert_int_eq(y->dtype, OG_FLOAT);
    check_shape(y, rank, dims);
    const float *v = y->data;
    for (int64_t i = 0; i < y->numel; i++)
        ck_assert_msg(v[i] == want[i], "y[%lld] = %g, expected %g", (long long)i, (double)v[i], (double)want[i]);
    og_tensor_free(y);
}

static void expect_i64(const char *op, int opset, int n_in, const arg *ins, int n_attrs, const og_attr *attrs,
                       int rank, const int64_t *dims, const int64_t *want)
{
    og_tensor *y;
    OG_CHECK(run(&y, op, opset, n_in, ins, n_attrs, attrs));
    ck_assert_int_eq(y->dtype, OG_INT64);
    check_shape(y, rank, dims);
    const int64_t *v = y->data;
    for (int64_t i = 0; i < y->numel; i++)
        ck_assert_msg(v[i] == want[i], "y[%lld] = %lld, expected %lld", (long long)i, (long long)v[i],
                      (long long)want[i]);
    og_tensor_free(y);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* ===================================================================== */
/* ReduceSum                                                              */
/* ===================================================================== */

/* X = [[1,2,3],[4,5,6]]: rows sum to 6 and 15, columns to 5, 7, 9, all to 21. */
START_TEST(rs_hand_2d)
{
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int64_t *d = DIMS(2, 3);
    og_attr k0 = og_attr_int("keepdims", 0);

    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), K64(1, 1)}, 0, NULL, 2, DIMS(2, 1),
               F32(6, 15));
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), K64(1, 0)}, 1, &k0, 1, DIMS(3),
               F32(5, 7, 9));
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), K64(1, -1)}, 1, &k0, 1, DIMS(2),
               F32(6, 15));
    /* no axes: everything, as [1,1] or (keepdims 0) a scalar */
    expect_f32("ReduceSum", 13, 1, (arg[]){IN(OG_FLOAT, 2, d, x)}, 0, NULL, 2, DIMS(1, 1), F32(21));
    expect_f32("ReduceSum", 13, 1, (arg[]){IN(OG_FLOAT, 2, d, x)}, 1, &k0, 0, NULL, F32(21));
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), K64(2, 0, 1)}, 1, &k0, 0, NULL, F32(21));
    /* an axes input fed at run time */
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), IN(OG_INT64, 1, DIMS(1), I64(0))}, 0, NULL,
               2, DIMS(1, 3), F32(5, 7, 9));
}
END_TEST

/* X[i][j][k] = 6i + 2j + k, shape [2,3,2] (0..11).
 * axes {0,2}: sum_i sum_k = 12 + 8j + 2 -> [14, 22, 30].
 * axes {1}:   sum_j = 18i + 6 + 3k -> [[6, 9], [24, 27]].
 * axes {0}:   (2j + k) + (6 + 2j + k) = 6 + 4j + 2k -> [[6, 8], [10, 12], [14, 16]]. */
START_TEST(rs_hand_3d)
{
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i;
    const int64_t *d = DIMS(2, 3, 2);
    og_attr k0 = og_attr_int("keepdims", 0);

    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 3, d, x), K64(2, 0, 2)}, 0, NULL, 3, DIMS(1, 3, 1),
               F32(14, 22, 30));
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 3, d, x), K64(2, 2, -3)}, 1, &k0, 1, DIMS(3),
               F32(14, 22, 30));
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 3, d, x), K64(1, 1)}, 1, &k0, 2, DIMS(2, 2),
               F32(6, 9, 24, 27));
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 3, d, x), K64(1, 0)}, 0, NULL, 3, DIMS(1, 3, 2),
               F32(6, 8, 10, 12, 14, 16));
}
END_TEST

/* Every supported dtype; integer sums wrap instead of overflowing. */
START_TEST(rs_dtypes)
{
    const int64_t *d = DIMS(2, 2);
    og_tensor *y;

    const double xd[4] = {0.5, 0.25, 1e300, -1e300};
    OG_CHECK(run(&y, "ReduceSum", 13, 2, (arg[]){IN(OG_DOUBLE, 2, d, xd), K64(1, 1)}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_DOUBLE);
    ck_assert(((double *)y->data)[0] == 0.75 && ((double *)y->data)[1] == 0.0);
    og_tensor_free(y);

    const int32_t x32[4] = {INT32_MAX, 1, -7, 3};
    OG_CHECK(run(&y, "ReduceSum", 13, 2, (arg[]){IN(OG_INT32, 2, d, x32), K64(1, 1)}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_INT32);
    ck_assert(((int32_t *)y->data)[0] == INT32_MIN && ((int32_t *)y->data)[1] == -4);
    og_tensor_free(y);

    const int64_t x64[4] = {INT64_MAX, 1, -7, 3};
    expect_i64("ReduceSum", 13, 2, (arg[]){IN(OG_INT64, 2, d, x64), K64(1, 0)}, 0, NULL, 2, DIMS(1, 2),
               I64(INT64_MAX - 7, 4));

    const uint32_t xu32[4] = {UINT32_MAX, 2, 5, 6};
    OG_CHECK(run(&y, "ReduceSum", 13, 1, (arg[]){IN(OG_UINT32, 2, d, xu32)}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_UINT32);
    ck_assert(((uint32_t *)y->data)[0] == 12u);   /* wraps: 2^32 - 1 + 13 */
    og_tensor_free(y);

    const uint64_t xu64[4] = {10, 20, 30, 40};
    OG_CHECK(run(&y, "ReduceSum", 13, 2, (arg[]){IN(OG_UINT64, 2, d, xu64), K64(1, 0)}, 0, NULL));
    ck_assert(((uint64_t *)y->data)[0] == 40u && ((uint64_t *)y->data)[1] == 60u);
    og_tensor_free(y);
}
END_TEST

/* Opsets 1 and 11 take axes as an attribute; negative axes from 11. */
START_TEST(rs_attr_versions)
{
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int64_t *d = DIMS(2, 3);
    og_attr a[2] = {og_attr_ints("axes", 1, I64(1)), og_attr_int("keepdims", 0)};
    expect_f32("ReduceSum", 1, 1, (arg[]){IN(OG_FLOAT, 2, d, x)}, 2, a, 1, DIMS(2), F32(6, 15));
    expect_f32("ReduceSum", 11, 1, (arg[]){IN(OG_FLOAT, 2, d, x)}, 2, a, 1, DIMS(2), F32(6, 15));
    a[0] = og_attr_ints("axes", 1, I64(-2));
    expect_f32("ReduceSum", 11, 1, (arg[]){IN(OG_FLOAT, 2, d, x)}, 2, a, 1, DIMS(3), F32(5, 7, 9));
    expect_fail(OG_ERR_ATTR, "expected an axis in [0, 1]", "ReduceSum", 1, 1,
                (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 2, a);
    /* absent and empty attribute: every axis */
    expect_f32("ReduceSum", 11, 1, (arg[]){IN(OG_FLOAT, 2, d, x)}, 0, NULL, 2, DIMS(1, 1), F32(21));
    a[0] = og_attr_ints("axes", 0, NULL);
    expect_f32("ReduceSum", 11, 1, (arg[]){IN(OG_FLOAT, 2, d, x)}, 1, a, 2, DIMS(1, 1), F32(21));
    /* the attribute is gone at 13, the input not there before */
    a[0] = og_attr_ints("axes", 1, I64(1));
    expect_fail(OG_ERR_ATTR, "axes", "ReduceSum", 13, 1, (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 1, a);
    expect_fail(OG_ERR_INVALID_GRAPH, "axes is an attribute before opset 13", "ReduceSum", 11, 2,
                (arg[]){IN(OG_FLOAT, 2, d, NULL), K64(1, 1)}, 0, NULL);
    og_attr noop = og_attr_int("noop_with_empty_axes", 1);
    expect_fail(OG_ERR_ATTR, "noop_with_empty_axes", "ReduceSum", 11, 1, (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 1,
                &noop);
}
END_TEST

/* noop_with_empty_axes: empty or omitted axes make an identity. */
START_TEST(rs_noop)
{
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int64_t *d = DIMS(2, 3);
    og_attr noop = og_attr_int("noop_with_empty_axes", 1);
    expect_f32("ReduceSum", 13, 1, (arg[]){IN(OG_FLOAT, 2, d, x)}, 1, &noop, 2, d, x);
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), KEMPTY}, 1, &noop, 2, d, x);
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), NONE}, 1, &noop, 2, d, x);
    /* an empty axes input fed at run time: its shape [0] already says so */
    expect_shape(OG_FLOAT, 2, d, "ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), IN(OG_INT64, 1, DIMS(0), NULL)},
                 1, &noop);
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), IN(OG_INT64, 1, DIMS(0), NULL)}, 1, &noop, 2,
               d, x);
    /* ... while without noop they reduce everything */
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), KEMPTY}, 0, NULL, 2, DIMS(1, 1), F32(21));
    /* noop with non-empty axes reduces as usual */
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, x), K64(1, 1)}, 1, &noop, 2, DIMS(2, 1),
               F32(6, 15));
}
END_TEST

/* Scalars, size-1 axes and empty tensors. */
START_TEST(rs_edge_shapes)
{
    og_attr k0 = og_attr_int("keepdims", 0);
    expect_f32("ReduceSum", 13, 1, (arg[]){IN(OG_FLOAT, 0, NULL, F32(2.5f))}, 0, NULL, 0, NULL, F32(2.5f));
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 3, DIMS(1, 3, 1), F32(1, 2, 4)), K64(1, 1)}, 1, &k0, 2,
               DIMS(1, 1), F32(7));
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 3, DIMS(1, 3, 1), F32(1, 2, 4)), K64(1, 2)}, 0, NULL, 3,
               DIMS(1, 3, 1), F32(1, 2, 4));
    /* sums over an empty axis are 0; an empty kept axis stays empty */
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, DIMS(0, 3), NULL), K64(1, 0)}, 1, &k0, 1, DIMS(3),
               F32(0, 0, 0));
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, DIMS(0, 3), NULL), K64(1, 1)}, 0, NULL, 2,
               DIMS(0, 1), NULL);
}
END_TEST

/* Every subset of axes of a [3,4,5] int64 tensor, keepdims 0 and 1,
 * against a naive loop. */
START_TEST(rs_sweep)
{
    int64_t x[60];
    uint32_t seed = 7;
    for (int i = 0; i < 60; i++)
        x[i] = (int64_t)(lcg(&seed) % 201) - 100;
    const int64_t dims[3] = {3, 4, 5};
    for (int mask = 0; mask < 8; mask++) {
        int64_t axes[3], n = 0, want[60] = {0}, odims[3];
        int orank = 0;
        for (int a = 0; a < 3; a++)
            if (mask & (1 << a))
                axes[n++] = a;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 5; k++) {
                    int64_t ii = mask & 1 ? 0 : i, jj = mask & 2 ? 0 : j, kk = mask & 4 ? 0 : k;
                    int64_t nj = mask & 2 ? 1 : 4, nk = mask & 4 ? 1 : 5;
                    want[(ii * nj + jj) * nk + kk] += x[(i * 4 + j) * 5 + k];
                }
        if (n == 0)   /* empty axes: all */
            for (int i = 1; i < 60; i++)
                want[0] += want[i];
        for (int keep = 0; keep <= 1; keep++) {
            og_attr kd = og_attr_int("keepdims", keep);
            orank = 0;
            for (int a = 0; a < 3; a++) {
                bool red = n == 0 || (mask & (1 << a));
                if (!red)
                    odims[orank++] = dims[a];
                else if (keep)
                    odims[orank++] = 1;
            }
            arg ins[2] = {IN(OG_INT64, 3, dims, x), K(OG_INT64, 1, DIMS(n), axes)};
            expect_i64("ReduceSum", 13, 2, ins, 1, &kd, orank, odims, want);
        }
    }
}
END_TEST

/* Inference when the axes are not known at load time. */
START_TEST(rs_infer_unknown)
{
    og_attr k0 = og_attr_int("keepdims", 0);
    const int64_t *d = DIMS(2, 1, 3);
    /* axes fed at run time: keepdims keeps the rank, and a dim of 1 stays 1 */
    expect_shape(OG_FLOAT, 3, DIMS(-1, 1, -1), "ReduceSum", 13, 2,
                 (arg[]){IN(OG_FLOAT, 3, d, NULL), IN(OG_INT64, 1, DIMS(1), NULL)}, 0, NULL);
    /* without keepdims the number of axes gives the rank */
    expect_shape(OG_FLOAT, 1, DIMS(-1), "ReduceSum", 13, 2,
                 (arg[]){IN(OG_FLOAT, 3, d, NULL), IN(OG_INT64, 1, DIMS(2), NULL)}, 1, &k0);
    expect_shape(OG_FLOAT, -1, NULL, "ReduceSum", 13, 2,
                 (arg[]){IN(OG_FLOAT, 3, d, NULL), IN(OG_INT64, 1, DIMS(-1), NULL)}, 1, &k0);
    /* unknown dims of X pass through where kept */
    expect_shape(OG_DOUBLE, 2, DIMS(-1, -1), "ReduceSum", 13, 2,
                 (arg[]){IN(OG_DOUBLE, 3, DIMS(-1, 4, -1), NULL), K64(1, 1)}, 1, &k0);
    expect_shape(OG_DOUBLE, 3, DIMS(-1, 1, -1), "ReduceSum", 13, 2,
                 (arg[]){IN(OG_DOUBLE, 3, DIMS(-1, 4, -1), NULL), K64(1, -2)}, 0, NULL);
    /* unknown rank: unknown, except "everything, dropped" is a scalar */
    expect_shape(OG_FLOAT, -1, NULL, "ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, -1, NULL, NULL), K64(1, 0)}, 0,
                 NULL);
    expect_shape(OG_FLOAT, 0, NULL, "ReduceSum", 13, 1, (arg[]){IN(OG_FLOAT, -1, NULL, NULL)}, 1, &k0);
    /* axes fed at run time still run correctly */
    expect_f32("ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 3, d, F32(1, 2, 3, 4, 5, 6)),
                                           IN(OG_INT64, 1, DIMS(2), I64(2, 0))}, 1, &k0, 1, DIMS(1), F32(21));
}
END_TEST

START_TEST(rs_errors)
{
    const int64_t *d = DIMS(2, 3);
    /* axes from data: OG_ERR_INVALID_ARG naming value, position and range */
    expect_fail(OG_ERR_INVALID_ARG, "input axes 'in1' has 2 at position 1, expected an axis in [-2, 1]",
                "ReduceSum", 13, 2, (arg[]){IN(OG_FLOAT, 2, d, NULL), K64(2, 0, 2)}, 0, NULL);
    expect_fail(OG_ERR_INVALID_ARG, "has -3 at position 0", "ReduceSum", 13, 2,
                (arg[]){IN(OG_FLOAT, 2, d, NULL), K64(1, -3)}, 0, NULL);
    expect_fail(OG_ERR_INVALID_ARG, "repeats axis -1 (at position 1)", "ReduceSum", 13, 2,
                (arg[]){IN(OG_FLOAT, 2, d, NULL), K64(2, 1, -1)}, 0, NULL);
    /* ... also when they arrive at run time */
    expect_run_fail(OG_ERR_INVALID_ARG, "expected an axis in [-2, 1]", "ReduceSum", 13, 2,
                    (arg[]){IN(OG_FLOAT, 2, d, F32(1, 2, 3, 4, 5, 6)), IN(OG_INT64, 1, DIMS(1), I64(5))}, 0,
                    NULL);
    /* from the attribute: OG_ERR_ATTR */
    og_attr a = og_attr_ints("axes", 2, I64(0, 0));
    expect_fail(OG_ERR_ATTR, "attribute axes repeats axis 0", "ReduceSum", 11, 1,
                (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 1, &a);
    a = og_attr_ints("axes", 1, I64(2));
    expect_fail(OG_ERR_ATTR, "attribute axes has 2 at position 0", "ReduceSum", 11, 1,
                (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 1, &a);
    /* axes input type and shape */
    expect_fail(OG_ERR_SHAPE, "input axes 'in1' has type int32, expected int64", "ReduceSum", 13, 2,
                (arg[]){IN(OG_FLOAT, 2, d, NULL), IN(OG_INT32, 1, DIMS(1), NULL)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "has shape [1,1], expected a 1-D tensor", "ReduceSum", 13, 2,
                (arg[]){IN(OG_FLOAT, 2, d, NULL), IN(OG_INT64, 2, DIMS(1, 1), NULL)}, 0, NULL);
    /* data types */
    expect_fail(OG_ERR_SHAPE, "has type bool, expected float, double", "ReduceSum", 13, 1,
                (arg[]){IN(OG_BOOL, 2, d, NULL)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "has type int8", "ReduceSum", 13, 1, (arg[]){IN(OG_INT8, 2, d, NULL)}, 0, NULL);
    og_graph *g;
    og_status st = build(&g, "ReduceSum", 13, 1, (arg[]){IN(OG_FLOAT16, 2, d, NULL)}, 0, NULL);
    ck_assert_int_ne(st, OG_OK);   /* the engine may refuse the float16 input first */
    if (st == OG_ERR_UNSUPPORTED)
        ck_assert_ptr_nonnull(strstr(og_errmsg(), "float16"));
    og_graph_free(g);
    /* attribute ranges */
    og_attr k2 = og_attr_int("keepdims", 2);
    expect_fail(OG_ERR_ATTR, "keepdims", "ReduceSum", 13, 1, (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 1, &k2);
    og_attr n2 = og_attr_int("noop_with_empty_axes", -1);
    expect_fail(OG_ERR_ATTR, "noop_with_empty_axes", "ReduceSum", 13, 1, (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 1,
                &n2);
}
END_TEST

/* ===================================================================== */
/* Slice                                                                  */
/* ===================================================================== */

static const float sl_2x4[8] = {1, 2, 3, 4, 5, 6, 7, 8};

/* The spec's two examples on [[1,2,3,4],[5,6,7,8]]. */
START_TEST(sl_spec_examples)
{
    const int64_t *d = DIMS(2, 4);
    expect_f32("Slice", 13, 5,
               (arg[]){IN(OG_FLOAT, 2, d, sl_2x4), K64(2, 1, 0), K64(2, 2, 3), K64(2, 0, 1), K64(2, 1, 2)}, 0,
               NULL, 2, DIMS(1, 2), F32(5, 7));
    expect_f32("Slice", 13, 3, (arg[]){IN(OG_FLOAT, 2, d, sl_2x4), K64(2, 0, 1), K64(2, -1, 1000)}, 0, NULL, 2,
               DIMS(1, 3), F32(2, 3, 4));
    /* the same fed at run time, with int32 indices */
    const int32_t st[2] = {0, 1}, en[2] = {-1, 1000};
    expect_f32("Slice", 13, 3,
               (arg[]){IN(OG_FLOAT, 2, d, sl_2x4), IN(OG_INT32, 1, DIMS(2), st), IN(OG_INT32, 1, DIMS(2), en)},
               0, NULL, 2, DIMS(1, 3), F32(2, 3, 4));
}
END_TEST

/* Negative steps, clamping and the INT64 extremes on x = 0..9. */
START_TEST(sl_steps_and_clamping)
{
    float x[10];
    for (int i = 0; i < 10; i++)
        x[i] = (float)i;
    const int64_t *d = DIMS(10);
#define SL1(s, e, st) (arg[]){IN(OG_FLOAT, 1, d, x), K64(1, s), K64(1, e), K64(1, 0), K64(1, st)}
    /* reversed whole axis: start -1 -> 9, end INT64_MIN -> clamped to -1 */
    expect_f32("Slice", 13, 5, SL1(-1, INT64_MIN, -1), 0, NULL, 1, DIMS(10), F32(9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    /* from 9 down by 3: 9, 6, 3, 0 */
    expect_f32("Slice", 13, 5, SL1(INT64_MAX, INT64_MIN, -3), 0, NULL, 1, DIMS(4), F32(9, 6, 3, 0));
    /* step INT64_MIN takes just the start */
    expect_f32("Slice", 13, 5, SL1(5, INT64_MIN, INT64_MIN), 0, NULL, 1, DIMS(1), F32(5));
    expect_f32("Slice", 13, 5, SL1(2, INT64_MAX, INT64_MAX), 0, NULL, 1, DIMS(1), F32(2));
    /* forward by 4 from -7 (= 3) to the end: 3, 7 */
    expect_f32("Slice", 13, 5, SL1(-7, INT64_MAX, 4), 0, NULL, 1, DIMS(2), F32(3, 7));
    /* start past the end, end before the start: empty */
    expect_f32("Slice", 13, 5, SL1(1000, 1000, 1), 0, NULL, 1, DIMS(0), NULL);
    expect_f32("Slice", 13, 5, SL1(6, 2, 1), 0, NULL, 1, DIMS(0), NULL);
    expect_f32("Slice", 13, 5, SL1(2, 6, -1), 0, NULL, 1, DIMS(0), NULL);
    /* start below -dim clamps to 0; going backwards from 1 to -1000 (-> -1) gives 1, 0 */
    expect_f32("Slice", 13, 5, SL1(-1000, 2, 1), 0, NULL, 1, DIMS(2), F32(0, 1));
    expect_f32("Slice", 13, 5, SL1(1, -1000, -1), 0, NULL, 1, DIMS(2), F32(1, 0));
#undef SL1
}
END_TEST

/* Opset 1 attributes, opset 10 inputs without negative axes, 11 with. */
START_TEST(sl_versions)
{
    const int64_t *d = DIMS(2, 4);
    og_attr a[3] = {og_attr_ints("starts", 2, I64(1, 0)), og_attr_ints("ends", 2, I64(2, 3)),
                    og_attr_ints("axes", 2, I64(0, 1))};
    /* the spec's Slice-1 example */
    expect_f32("Slice", 1, 1, (arg[]){IN(OG_FLOAT, 2, d, sl_2x4)}, 3, a, 2, DIMS(1, 3), F32(5, 6, 7));
    expect_f32("Slice", 9, 1, (arg[]){IN(OG_FLOAT, 2, d, sl_2x4)}, 2, a, 2, DIMS(1, 3), F32(5, 6, 7));
    og_attr only_axes = og_attr_ints("axes", 1, I64(1));
    expect_fail(OG_ERR_ATTR, "required attribute 'starts'", "Slice", 1, 1, (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 1,
                &only_axes);
    og_attr neg[3] = {og_attr_ints("starts", 1, I64(1)), og_attr_ints("ends", 1, I64(3)),
                      og_attr_ints("axes", 1, I64(-1))};
    expect_fail(OG_ERR_ATTR, "attribute axes has -1 at position 0, expected an axis in [0, 1]", "Slice", 1, 1,
                (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 3, neg);
    expect_fail(OG_ERR_INVALID_GRAPH, "attributes before opset 10", "Slice", 9, 3,
                (arg[]){IN(OG_FLOAT, 2, d, NULL), K64(1, 0), K64(1, 1)}, 2, a);
    expect_fail(OG_ERR_ATTR, "starts", "Slice", 10, 3, (arg[]){IN(OG_FLOAT, 2, d, NULL), K64(1, 0), K64(1, 1)},
                1, a);
    arg negax[4] = {IN(OG_FLOAT, 2, d, sl_2x4), K64(1, 1), K64(1, 3), K64(1, -1)};
    expect_fail(OG_ERR_INVALID_ARG, "input axes 'in3' has -1 at position 0, expected an axis in [0, 1]",
                "Slice", 10, 4, negax, 0, NULL);
    expect_f32("Slice", 11, 4, negax, 0, NULL, 2, DIMS(2, 2), F32(2, 3, 6, 7));
    expect_f32("Slice", 10, 5, (arg[]){IN(OG_FLOAT, 2, d, sl_2x4), K64(1, 0), K64(1, 4), K64(1, 1), K64(1, 3)},
               0, NULL, 2, DIMS(2, 2), F32(1, 4, 5, 8));
}
END_TEST

/* Slice moves bytes: every held dtype, with a negative step. */
START_TEST(sl_dtypes)
{
    static const og_dtype types[] = {OG_FLOAT, OG_DOUBLE, OG_INT64, OG_INT32, OG_INT16, OG_INT8, OG_UINT8,
                                     OG_UINT16, OG_UINT32, OG_UINT64, OG_BOOL};
    unsigned char x[4 * 8];
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        size_t es = og_dtype_size(types[k]);
        for (size_t i = 0; i < sizeof x; i++)
            x[i] = (unsigned char)(types[k] == OG_BOOL ? (i & 1) : i + 1);
        og_tensor *y;
        OG_CHECK(run(&y, "Slice", 13, 5,
                     (arg[]){IN(types[k], 1, DIMS(4), x), K64(1, 3), K64(1, 0), K64(1, 0), K64(1, -2)}, 0,
                     NULL));
        ck_assert_int_eq(y->dtype, types[k]);
        check_shape(y, 1, DIMS(2));   /* elements 3 and 1 */
        ck_assert(memcmp(y->data, x + 3 * es, es) == 0);
        ck_assert(memcmp((char *)y->data + es, x + 1 * es, es) == 0);
        og_tensor_free(y);
    }
}
END_TEST

/* A [3,4,5] tensor sliced many ways against a naive loop. */
START_TEST(sl_sweep)
{
    int64_t x[60];
    for (int i = 0; i < 60; i++)
        x[i] = i;
    static const int64_t cases[][3][3] = {
        /* per axis: start, end, step */
        {{0, 3, 1}, {0, 4, 1}, {1, 4, 1}},          /* last axis only */
        {{1, 3, 1}, {0, 4, 1}, {0, 5, 1}},          /* first axis only: one memcpy per row block */
        {{0, 3, 1}, {3, -5, -1}, {0, 5, 1}},        /* middle reversed */
        {{2, -4, -2}, {1, 4, 2}, {4, -6, -3}},      /* everything strided */
        {{0, 3, 2}, {0, 4, 1}, {0, 5, 1}},          /* strided outer, whole inner */
        {{-2, 100, 1}, {-100, 2, 1}, {2, 3, 1}},    /* clamped */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t st[3], en[3], sp[3], start[3], size[3], want[60];
        const int64_t dims[3] = {3, 4, 5};
        for (int a = 0; a < 3; a++) {
            st[a] = cases[c][a][0];
            en[a] = cases[c][a][1];
            sp[a] = cases[c][a][2];
            /* the spec's rule, written out again */
            int64_t s = st[a] < 0 ? st[a] + dims[a] : st[a], e = en[a] < 0 ? en[a] + dims[a] : en[a];
            if (sp[a] > 0) {
                s = s < 0 ? 0 : s > dims[a] ? dims[a] : s;
                e = e < 0 ? 0 : e > dims[a] ? dims[a] : e;
            } else {
                s = s < 0 ? 0 : s > dims[a] - 1 ? dims[a] - 1 : s;
                e = e < -1 ? -1 : e > dims[a] - 1 ? dims[a] - 1 : e;
            }
            start[a] = s;
            size[a] = 0;
            for (int64_t i = s; sp[a] > 0 ? i < e : i > e; i += sp[a])
                size[a]++;
        }
        int64_t n = 0;
        for (int64_t i = 0; i < size[0]; i++)
            for (int64_t j = 0; j < size[1]; j++)
                for (int64_t k = 0; k < size[2]; k++)
                    want[n++] = x[((start[0] + i * sp[0]) * 4 + start[1] + j * sp[1]) * 5 + start[2] + k * sp[2]];
        arg ins[5] = {IN(OG_INT64, 3, dims, x), K(OG_INT64, 1, DIMS(3), st), K(OG_INT64, 1, DIMS(3), en),
                      K64(3, 0, 1, 2), K(OG_INT64, 1, DIMS(3), sp)};
        expect_i64("Slice", 13, 5, ins, 0, NULL, 3, size, want);
    }
}
END_TEST

/* Shape inference with some of starts/ends/axes/steps unknown. */
START_TEST(sl_infer_unknown)
{
    const int64_t *d = DIMS(4, 5, 6);
    arg x = IN(OG_FLOAT, 3, d, NULL);
    arg s1 = IN(OG_INT64, 1, DIMS(1), NULL);
    /* axes known, starts not: only the sliced axis is unknown */
    expect_shape(OG_FLOAT, 3, DIMS(4, -1, 6), "Slice", 13, 4, (arg[]){x, s1, K64(1, 3), K64(1, 1)}, 0, NULL);
    /* axes unknown: every dim may change */
    expect_shape(OG_FLOAT, 3, DIMS(-1, -1, -1), "Slice", 13, 4, (arg[]){x, K64(1, 0), K64(1, 3), s1}, 0, NULL);
    /* dims of 0 stay 0 */
    expect_shape(OG_FLOAT, 2, DIMS(0, -1), "Slice", 13, 4,
                 (arg[]){IN(OG_FLOAT, 2, DIMS(0, 3), NULL), K64(1, 0), K64(1, 3), s1}, 0, NULL);
    /* axes omitted: they are 0..n-1, so later axes keep their dims */
    expect_shape(OG_FLOAT, 3, DIMS(-1, 5, 6), "Slice", 13, 3, (arg[]){x, s1, s1}, 0, NULL);
    /* steps unknown */
    expect_shape(OG_FLOAT, 3, DIMS(4, 5, -1), "Slice", 13, 5, (arg[]){x, K64(1, 0), K64(1, 3), K64(1, 2), s1}, 0,
                 NULL);
    /* all known, but the sliced dim is not */
    expect_shape(OG_FLOAT, 3, DIMS(4, -1, 2), "Slice", 13, 4,
                 (arg[]){IN(OG_FLOAT, 3, DIMS(4, -1, 6), NULL), K64(2, 1, 0), K64(2, 3, 2), K64(2, 1, 2)}, 0,
                 NULL);
    /* unknown rank stays unknown */
    expect_shape(OG_FLOAT, -1, NULL, "Slice", 13, 3, (arg[]){IN(OG_FLOAT, -1, NULL, NULL), K64(1, 0), K64(1, 1)},
                 0, NULL);
    /* and everything known folds to exact dims */
    expect_shape(OG_FLOAT, 3, DIMS(4, 2, 3), "Slice", 13, 5,
                 (arg[]){x, K64(2, 1, -1), K64(2, 3, INT64_MIN), K64(2, 1, 2), K64(2, 1, -2)}, 0, NULL);
}
END_TEST

START_TEST(sl_errors)
{
    const int64_t *d = DIMS(2, 4);
    arg x = IN(OG_FLOAT, 2, d, NULL);
    expect_fail(OG_ERR_INVALID_ARG, "input steps 'in4' has 0 at position 1, expected a nonzero step", "Slice",
                13, 5, (arg[]){x, K64(2, 0, 0), K64(2, 1, 1), K64(2, 0, 1), K64(2, 1, 0)}, 0, NULL);
    expect_fail(OG_ERR_INVALID_ARG, "input axes 'in3' repeats axis -2 (at position 1)", "Slice", 13, 4,
                (arg[]){x, K64(2, 0, 0), K64(2, 1, 1), K64(2, 0, -2)}, 0, NULL);
    expect_fail(OG_ERR_INVALID_ARG, "has 2 at position 0, expected an axis in [-2, 1]", "Slice", 13, 4,
                (arg[]){x, K64(1, 0), K64(1, 1), K64(1, 2)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "input ends 'in2' has 1 elements, expected 2", "Slice", 13, 3,
                (arg[]){x, K64(2, 0, 0), K64(1, 1)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "input steps 'in4' has 2 elements, expected 1", "Slice", 13, 5,
                (arg[]){x, K64(1, 0), K64(1, 1), NONE, K64(2, 1, 1)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "input starts 'in1' has 3 elements, expected at most 2", "Slice", 13, 3,
                (arg[]){x, K64(3, 0, 0, 0), K64(3, 1, 1, 1)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "input starts 'in1' has type float, expected int32 or int64", "Slice", 13, 3,
                (arg[]){x, IN(OG_FLOAT, 1, DIMS(1), NULL), K64(1, 1)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "input ends 'in2' has type int32, expected int64", "Slice", 13, 3,
                (arg[]){x, K64(1, 0), IN(OG_INT32, 1, DIMS(1), NULL)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "has shape [], expected a 1-D tensor", "Slice", 13, 3,
                (arg[]){x, K(OG_INT64, 0, NULL, I64(0)), K64(1, 1)}, 0, NULL);
    expect_fail(OG_ERR_INVALID_GRAPH, "starts and ends are required", "Slice", 13, 2, (arg[]){x, K64(1, 0)}, 0,
                NULL);
    expect_fail(OG_ERR_INVALID_GRAPH, "with one omitted", "Slice", 13, 3, (arg[]){x, NONE, K64(1, 0)}, 0, NULL);
    og_attr bad[2] = {og_attr_ints("starts", 2, I64(0, 0)), og_attr_ints("ends", 1, I64(1))};
    expect_fail(OG_ERR_ATTR, "attribute ends has 1 elements, expected 2", "Slice", 1, 1, (arg[]){x}, 2, bad);
    og_graph *g;
    og_status st = build(&g, "Slice", 13, 3, (arg[]){IN(OG_FLOAT16, 2, d, NULL), K64(1, 0), K64(1, 1)}, 0, NULL);
    ck_assert_int_ne(st, OG_OK);   /* the engine may refuse the float16 input first */
    if (st == OG_ERR_UNSUPPORTED)
        ck_assert_ptr_nonnull(strstr(og_errmsg(), "float16"));
    og_graph_free(g);
    /* bad data arriving at run time */
    expect_run_fail(OG_ERR_INVALID_ARG, "expected a nonzero step", "Slice", 13, 5,
                    (arg[]){IN(OG_FLOAT, 2, d, sl_2x4), K64(1, 0), K64(1, 1), K64(1, 0),
                            IN(OG_INT64, 1, DIMS(1), I64(0))}, 0, NULL);
    expect_run_fail(OG_ERR_INVALID_ARG, "expected an axis in [-2, 1]", "Slice", 13, 4,
                    (arg[]){IN(OG_FLOAT, 2, d, sl_2x4), K64(1, 0), K64(1, 1), IN(OG_INT64, 1, DIMS(1), I64(7))},
                    0, NULL);
}
END_TEST

/* ===================================================================== */
/* Pad                                                                    */
/* ===================================================================== */

static const float pad_3x2[6] = {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f};

/* The spec's three examples: [[1.0,1.2],[2.3,3.4],[4.5,5.7]], pads [0,2,0,0]. */
START_TEST(pad_spec_examples)
{
    const int64_t *d = DIMS(3, 2);
    arg ins[2] = {IN(OG_FLOAT, 2, d, pad_3x2), K64(4, 0, 2, 0, 0)};
    og_attr m = og_attr_string("mode", "constant");
    expect_f32("Pad", 13, 2, ins, 1, &m, 2, DIMS(3, 4),
               F32(0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f));
    m = og_attr_string("mode", "reflect");
    expect_f32("Pad", 13, 2, ins, 1, &m, 2, DIMS(3, 4),
               F32(1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f));
    m = og_attr_string("mode", "edge");
    expect_f32("Pad", 13, 2, ins, 1, &m, 2, DIMS(3, 4),
               F32(1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f));
    /* default mode is constant; pads fed at run time */
    expect_f32("Pad", 11, 2, (arg[]){IN(OG_FLOAT, 2, d, pad_3x2), IN(OG_INT64, 1, DIMS(4), I64(1, 0, 0, 0))}, 0,
               NULL, 2, DIMS(4, 2), F32(0, 0, 1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f));
}
END_TEST

/* On [1,2,3,4,5] (or [1,2,3]): constant values, cropping, and reflect
 * beyond one period, as numpy.pad gives them. */
START_TEST(pad_1d_cases)
{
    const float x5[5] = {1, 2, 3, 4, 5}, x3[3] = {1, 2, 3};
    og_attr cm = og_attr_string("mode", "constant"), rm = og_attr_string("mode", "reflect"),
            em = og_attr_string("mode", "edge");
#define P5(b, e) (arg[]){IN(OG_FLOAT, 1, DIMS(5), x5), K64(2, b, e)}
#define P3(b, e) (arg[]){IN(OG_FLOAT, 1, DIMS(3), x3), K64(2, b, e)}
    /* constant_value 9 */
    expect_f32("Pad", 13, 3, (arg[]){IN(OG_FLOAT, 1, DIMS(3), x3), K64(2, 1, 2), K(OG_FLOAT, 0, NULL, F32(9))}, 0,
               NULL, 1, DIMS(6), F32(9, 1, 2, 3, 9, 9));
    expect_f32("Pad", 13, 3, (arg[]){IN(OG_FLOAT, 1, DIMS(3), x3), K64(2, 1, 0), K(OG_FLOAT, 1, DIMS(1), F32(-1))},
               0, NULL, 1, DIMS(4), F32(-1, 1, 2, 3));
    /* negative pads crop */
    expect_f32("Pad", 13, 2, P5(-1, 1), 1, &cm, 1, DIMS(5), F32(2, 3, 4, 5, 0));
    expect_f32("Pad", 13, 2, P5(-2, -3), 1, &cm, 1, DIMS(0), NULL);
    /* over-cropping one side while padding the other: element o is x[o + 6], none exists */
    expect_f32("Pad", 13, 2, P5(-6, 3), 1, &cm, 1, DIMS(2), F32(0, 0));
    expect_f32("Pad", 13, 2, P5(2, -4), 1, &cm, 1, DIMS(3), F32(0, 0, 1));
    /* reflect: numpy.pad([1,2,3], (7,8), 'reflect') */
    expect_f32("Pad", 13, 2, P3(7, 8), 1, &rm, 1, DIMS(18),
               F32(2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3));
    expect_f32("Pad", 13, 2, (arg[]){IN(OG_FLOAT, 1, DIMS(1), F32(5)), K64(2, 2, 2)}, 1, &rm, 1, DIMS(5),
               F32(5, 5, 5, 5, 5));
    expect_f32("Pad", 13, 2, P3(3, 2), 1, &em, 1, DIMS(8), F32(1, 1, 1, 1, 2, 3, 3, 3));
    /* edge and reflect crop first: [2,3,4,5] then pad */
    expect_f32("Pad", 13, 2, P5(-1, 2), 1, &em, 1, DIMS(6), F32(2, 3, 4, 5, 5, 5));
    expect_f32("Pad", 13, 2, P5(2, -1), 1, &rm, 1, DIMS(6), F32(3, 2, 1, 2, 3, 4));
#undef P5
#undef P3
}
END_TEST

/* Opset 2 attributes; constant values of other types. */
START_TEST(pad_versions_and_types)
{
    const int64_t *d = DIMS(3, 2);
    og_attr a[2] = {og_attr_ints("pads", 4, I64(0, 0, 1, 0)), og_attr_float("value", 1.5f)};
    expect_f32("Pad", 2, 1, (arg[]){IN(OG_FLOAT, 2, d, pad_3x2)}, 2, a, 2, DIMS(4, 2),
               F32(1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f, 1.5f, 1.5f));
    og_tensor *y;
    OG_CHECK(run(&y, "Pad", 2, 1, (arg[]){IN(OG_DOUBLE, 1, DIMS(1), (const double[]){4})}, 2,
                 (og_attr[]){og_attr_ints("pads", 2, I64(1, 1)), og_attr_float("value", -0.5f)}));
    ck_assert_int_eq(y->dtype, OG_DOUBLE);
    ck_assert(((double *)y->data)[0] == -0.5 && ((double *)y->data)[1] == 4 && ((double *)y->data)[2] == -0.5);
    og_tensor_free(y);
    /* the attribute form is gone at 11, the input form not there before */
    expect_fail(OG_ERR_ATTR, "pads", "Pad", 11, 2, (arg[]){IN(OG_FLOAT, 2, d, NULL), K64(4, 0, 0, 0, 0)}, 1, a);
    expect_fail(OG_ERR_INVALID_GRAPH, "attributes before opset 11", "Pad", 10, 2,
                (arg[]){IN(OG_FLOAT, 2, d, NULL), K64(4, 0, 0, 0, 0)}, 1, a);
    expect_fail(OG_ERR_ATTR, "required attribute 'pads'", "Pad", 2, 1, (arg[]){IN(OG_FLOAT, 2, d, NULL)}, 0,
                NULL);
    expect_fail(OG_ERR_SHAPE, "has type int32, expected float or double at opset 2", "Pad", 2, 1,
                (arg[]){IN(OG_INT32, 2, d, NULL)}, 1, a);
    /* integers from 11, with a constant_value of their type */
    const int32_t xi[2] = {5, 6};
    OG_CHECK(run(&y, "Pad", 11, 3,
                 (arg[]){IN(OG_INT32, 1, DIMS(2), xi), K64(2, 2, 0), K(OG_INT32, 0, NULL, (const int32_t[]){-7})},
                 0, NULL));
    ck_assert_int_eq(y->dtype, OG_INT32);
    const int32_t *vi = y->data;
    ck_assert(vi[0] == -7 && vi[1] == -7 && vi[2] == 5 && vi[3] == 6);
    og_tensor_free(y);
    /* bool from 13 */
    const unsigned char xb[2] = {1, 0};
    OG_CHECK(run(&y, "Pad", 13, 3,
                 (arg[]){IN(OG_BOOL, 1, DIMS(2), xb), K64(2, 1, 1), K(OG_BOOL, 0, NULL, (const unsigned char[]){1})},
                 0, NULL));
    const unsigned char *vb = y->data;
    ck_assert(vb[0] == 1 && vb[1] == 1 && vb[2] == 0 && vb[3] == 1);
    og_tensor_free(y);
    expect_fail(OG_ERR_SHAPE, "has type bool, expected a numeric type at opset 11", "Pad", 11, 2,
                (arg[]){IN(OG_BOOL, 1, DIMS(2), NULL), K64(2, 1, 1)}, 0, NULL);
    /* reflect on int64 and uint8 */
    expect_i64("Pad", 13, 2, (arg[]){IN(OG_INT64, 1, DIMS(3), I64(10, 20, 30)), K64(2, 2, 1)}, 1,
               (og_attr[]){og_attr_string("mode", "reflect")}, 1, DIMS(6), I64(30, 20, 10, 20, 30, 20));
    const uint8_t xu8[2] = {7, 9};
    OG_CHECK(run(&y, "Pad", 13, 2, (arg[]){IN(OG_UINT8, 1, DIMS(2), xu8), K64(2, 1, 2)}, 1,
                 (og_attr[]){og_attr_string("mode", "edge")}));
    const uint8_t *v8 = y->data;
    ck_assert(v8[0] == 7 && v8[1] == 7 && v8[2] == 9 && v8[3] == 9 && v8[4] == 9);
    og_tensor_free(y);
    /* a scalar pads to itself */
    expect_f32("Pad", 13, 2, (arg[]){IN(OG_FLOAT, 0, NULL, F32(3)), KEMPTY}, 0, NULL, 0, NULL, F32(3));
}
END_TEST

/* Index of out position o along an axis of n elements, numpy-style with
 * non-negative pads: constant -> -1; edge clamps; reflect bounces. */
static int64_t naive_map(int mode, int64_t o, int64_t begin, int64_t n)
{
    int64_t i = o - begin;
    if (i >= 0 && i < n)
        return i;
    if (mode == 0)
        return -1;
    if (mode == 2)
        return i < 0 ? 0 : n - 1;
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* [2,3,4] with pads on every axis, each mode, against naive_map. */
START_TEST(pad_sweep)
{
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)(i + 1);
    static const char *const modes[3] = {"constant", "reflect", "edge"};
    static const int64_t pads[][6] = {{1, 0, 2, 0, 3, 1}, {0, 2, 0, 1, 0, 5}, {2, 1, 1, 2, 3, 0}};
    const int64_t dims[3] = {2, 3, 4};
    for (int m = 0; m < 3; m++)
        for (size_t c = 0; c < sizeof pads / sizeof pads[0]; c++) {
            int64_t od[3];
            for (int a = 0; a < 3; a++)
                od[a] = dims[a] + pads[c][a] + pads[c][a + 3];
            float want[400];
            int64_t n = 0;
            for (int64_t i = 0; i < od[0]; i++)
                for (int64_t j = 0; j < od[1]; j++)
                    for (int64_t k = 0; k < od[2]; k++) {
                        int64_t a = naive_map(m, i, pads[c][0], 2), b = naive_map(m, j, pads[c][1], 3),
                                e = naive_map(m, k, pads[c][2], 4);
                        want[n++] = a < 0 || b < 0 || e < 0 ? 0.25f : x[(a * 3 + b) * 4 + e];
                    }
            og_attr mode = og_attr_string("mode", modes[m]);
            arg ins[3] = {IN(OG_FLOAT, 3, dims, x), K(OG_INT64, 1, DIMS(6), pads[c]),
                          K(OG_FLOAT, 0, NULL, F32(0.25f))};
            expect_f32("Pad", 13, 3, ins, 1, &mode, 3, od, want);
        }
}
END_TEST

START_TEST(pad_infer_unknown)
{
    /* pads fed at run time: rank known, dims not */
    expect_shape(OG_FLOAT, 2, DIMS(-1, -1), "Pad", 13, 2,
                 (arg[]){IN(OG_FLOAT, 2, DIMS(3, 2), NULL), IN(OG_INT64, 1, DIMS(4), NULL)}, 0, NULL);
    /* unknown rank: the pads' length tells it */
    expect_shape(OG_FLOAT, 3, DIMS(-1, -1, -1), "Pad", 13, 2,
                 (arg[]){IN(OG_FLOAT, -1, NULL, NULL), IN(OG_INT64, 1, DIMS(6), NULL)}, 0, NULL);
    expect_shape(OG_FLOAT, -1, NULL, "Pad", 13, 2,
                 (arg[]){IN(OG_FLOAT, -1, NULL, NULL), IN(OG_INT64, 1, DIMS(-1), NULL)}, 0, NULL);
    /* known pads, one unknown dim */
    expect_shape(OG_DOUBLE, 2, DIMS(4, -1), "Pad", 13, 2,
                 (arg[]){IN(OG_DOUBLE, 2, DIMS(2, -1), NULL), K64(4, 1, 1, 1, 1)}, 0, NULL);
    expect_shape(OG_FLOAT, 2, DIMS(1, 7), "Pad", 2, 1, (arg[]){IN(OG_FLOAT, 2, DIMS(2, 3), NULL)}, 1,
                 (og_attr[]){og_attr_ints("pads", 4, I64(-1, 2, 0, 2))});
}
END_TEST

START_TEST(pad_errors)
{
    const int64_t *d = DIMS(3, 2);
    arg x = IN(OG_FLOAT, 2, d, NULL);
    og_attr rm = og_attr_string("mode", "reflect"), em = og_attr_string("mode", "edge");
    expect_fail(OG_ERR_SHAPE, "input pads 'in1' has 2 elements, expected 4", "Pad", 13, 2, (arg[]){x, K64(2, 1, 1)},
                0, NULL);
    expect_fail(OG_ERR_SHAPE, "input pads 'in1' has 3 elements, expected an even count", "Pad", 13, 2,
                (arg[]){IN(OG_FLOAT, -1, NULL, NULL), IN(OG_INT64, 1, DIMS(3), NULL)}, 0, NULL);
    expect_fail(OG_ERR_ATTR, "attribute pads has 2 elements, expected 4", "Pad", 2, 1, (arg[]){x}, 1,
                (og_attr[]){og_attr_ints("pads", 2, I64(1, 1))});
    expect_fail(OG_ERR_SHAPE, "input pads 'in1' has type int32, expected int64", "Pad", 13, 2,
                (arg[]){x, IN(OG_INT32, 1, DIMS(4), NULL)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "has shape [2,2], expected a 1-D tensor", "Pad", 13, 2,
                (arg[]){x, IN(OG_INT64, 2, DIMS(2, 2), NULL)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "remove more than axis 0 of size 3 holds (size -1)", "Pad", 13, 2,
                (arg[]){x, K64(4, -2, 0, -2, 0)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "mode reflect cannot fill axis 1", "Pad", 13, 2, (arg[]){x, K64(4, 0, -2, 0, 1)}, 1,
                &rm);
    expect_fail(OG_ERR_SHAPE, "mode edge cannot fill axis 0", "Pad", 13, 2,
                (arg[]){IN(OG_FLOAT, 2, DIMS(0, 2), NULL), K64(4, 1, 0, 0, 0)}, 1, &em);
    expect_fail(OG_ERR_LIMIT, "overflows int64", "Pad", 13, 2, (arg[]){x, K64(4, INT64_MAX, 0, 1, 0)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "input constant_value 'in2' has type double, expected float", "Pad", 13, 3,
                (arg[]){x, K64(4, 0, 0, 0, 0), IN(OG_DOUBLE, 0, NULL, NULL)}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "has shape [2], expected a scalar", "Pad", 13, 3,
                (arg[]){x, K64(4, 0, 0, 0, 0), IN(OG_FLOAT, 1, DIMS(2), NULL)}, 0, NULL);
    expect_fail(OG_ERR_INVALID_GRAPH, "input pads is required from opset 11", "Pad", 11, 1, (arg[]){x}, 0, NULL);
    og_attr wrap = og_attr_string("mode", "wrap");
    expect_fail(OG_ERR_ATTR, "expected constant, reflect or edge", "Pad", 13, 2, (arg[]){x, K64(4, 0, 0, 0, 0)},
                1, &wrap);
    expect_fail(OG_ERR_UNSUPPORTED, "oldest Pad", "Pad", 1, 1, (arg[]){x}, 0, NULL);
    og_graph *g;
    og_status st = build(&g, "Pad", 13, 2, (arg[]){IN(OG_FLOAT16, 2, d, NULL), K64(4, 0, 0, 0, 0)}, 0, NULL);
    ck_assert_int_ne(st, OG_OK);   /* the engine may refuse the float16 input first */
    if (st == OG_ERR_UNSUPPORTED)
        ck_assert_ptr_nonnull(strstr(og_errmsg(), "float16"));
    og_graph_free(g);
    /* pads arriving at run time */
    expect_run_fail(OG_ERR_SHAPE, "remove more than axis 1", "Pad", 13, 2,
                    (arg[]){IN(OG_FLOAT, 2, d, pad_3x2), IN(OG_INT64, 1, DIMS(4), I64(0, -3, 0, 0))}, 0, NULL);
}
END_TEST

/* ===================================================================== */
/* Backward rules, checked against float64 finite differences            */
/* ===================================================================== */

/* og_gradcheck with respect to "X" only (other float initializers, such
 * as Pad's constant_value, get no gradient), with given input values. */
static void grad_ok(const og_graph *g, int n_inputs, const og_tensor *const *inputs, uint64_t seed,
                    const char *what)
{
    static const char *const wrt[1] = {"X"};
    og_gradcheck_options o = {.n_wrt = 1, .wrt = wrt, .seed = seed, .n_inputs = n_inputs, .inputs = inputs};
    og_gradcheck_report *r;
    OG_CHECK(og_gradcheck(g, &o, &r));
    for (int k = 0; k < r->n; k++) {
        const og_gradcheck_entry *e = &r->entries[k];
        ck_assert_msg(e->pass, "%s: gradient of '%s' wrong: element %lld analytic %.10g numeric %.10g", what,
                      e->name, (long long)e->worst_index, e->worst_analytic, e->worst_numeric);
        ck_assert_int_gt(e->checked, 0);
    }
    ck_assert(r->pass);
    og_gradcheck_report_free(r);
}

/* X -> op(X, index inputs as int64 initializers) -> Y, opset 17. xdims
 * may hold -1 (then the test gives X's value). */
static og_graph *one_op(const char *op, int xrank, const int64_t *xdims, int n_idx, const int64_t *const *idx,
                        const int64_t *idx_len, int n_attrs, const og_attr *attrs)
{
    static const char *const names[4] = {"I1", "I2", "I3", "I4"};
    const char *ins[6] = {"X"};
    og_graph *g = gt_graph();
    gt_input(g, "X", OG_FLOAT, xrank, xdims);
    for (int k = 0; k < n_idx; k++) {
        ins[k + 1] = idx[k] ? names[k] : "";
        if (idx[k])
            gt_init(g, names[k], OG_INT64, 1, &idx_len[k], idx[k]);
    }
    ins[n_idx + 1] = NULL;
    OG_CHECK(og_graph_add_node(g, op, NULL, NODE, n_idx + 1, ins, 1, (const char *const[]){"Y"}, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

/* og_graph_build_gradient must refuse with `code` and `needle`. */
static void grad_refused(const og_graph *g, og_status code, const char *needle)
{
    og_graph *gg = NULL;
    og_grad_options o = {.n_seeded = 1, .seeded = (const char *const[]){"Y"}, .n_wrt = 1,
                         .wrt = (const char *const[]){"X"}};
    og_status st = og_graph_build_gradient(g, &o, &gg);
    check_msg(st, code, needle, "gradient");
    og_graph_free(gg);
}

START_TEST(rs_gradcheck)
{
    static const int64_t axes[][3] = {{0}, {1}, {0, 2}, {-1}, {2, 0, 1}};
    static const int64_t n_axes[] = {0, 1, 2, 1, 3};
    const int64_t xd[3] = {2, 3, 4};
    for (size_t c = 0; c < sizeof n_axes / sizeof n_axes[0]; c++)
        for (int keep = 0; keep <= 1; keep++)
            for (int noop = 0; noop <= (n_axes[c] == 0); noop++) {
                og_attr a[2] = {og_attr_int("keepdims", keep), og_attr_int("noop_with_empty_axes", noop)};
                const int64_t *idx[1] = {axes[c]};
                og_graph *g = one_op("ReduceSum", 3, xd, 1, idx, &n_axes[c], 2, a);
                char what[96];
                snprintf(what, sizeof what, "ReduceSum case %zu keepdims %d noop %d", c, keep, noop);
                grad_ok(g, 0, NULL, 11 + c, what);
                og_graph_free(g);
            }
    /* axes omitted: everything, to a scalar */
    og_attr k0 = og_attr_int("keepdims", 0);
    og_graph *g = one_op("ReduceSum", 3, xd, 0, NULL, NULL, 1, &k0);
    grad_ok(g, 0, NULL, 3, "ReduceSum of everything");
    og_graph_free(g);
}
END_TEST

/* X's dims unknown when the gradient graph is built: the Reshape target
 * comes from Shape(X) at run time. Axes fed at run time work with
 * keepdims=1 (no Reshape needed) and are refused without. */
START_TEST(rs_gradcheck_unknown)
{
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, 3, DIMS(2, 3, 4), &x));
    for (int i = 0; i < 24; i++)
        ((float *)x->data)[i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
    og_attr k0 = og_attr_int("keepdims", 0);
    const int64_t *idx[1] = {I64(1, -1)};
    og_graph *g = one_op("ReduceSum", 3, DIMS(-1, 3, -1), 1, idx, (const int64_t[]){2}, 1, &k0);
    grad_ok(g, 1, (const og_tensor *const[]){x}, 5, "ReduceSum with unknown dims");
    og_graph_free(g);

    for (int keep = 0; keep <= 1; keep++) {
        og_attr kd = og_attr_int("keepdims", keep);
        g = gt_graph();
        gt_input(g, "X", OG_FLOAT, 3, DIMS(2, 3, 4));
        gt_input(g, "A", OG_INT64, 1, DIMS(1));
        gt_node(g, "ReduceSum", NODE, GT_NAMES("X", "A"), GT_NAMES("Y"), 1, &kd);
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK(og_graph_finalize(g));
        if (keep) {
            og_tensor *a;
            OG_CHECK(og_tensor_create_from(OG_INT64, 1, DIMS(1), I64(1), &a));
            grad_ok(g, 2, (const og_tensor *const[]){x, a}, 6, "ReduceSum with axes fed at run time");
            og_tensor_free(a);
        } else {
            grad_refused(g, OG_ERR_UNSUPPORTED, "needs the axes 'A' known");
        }
        og_graph_free(g);
    }
    og_tensor_free(x);
}
END_TEST

/* Old opsets whose attributes became inputs cannot be raised to the
 * gradient graph's opset 17: refused, not silently changed. */
START_TEST(old_attr_forms_refused_in_gradients)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 11));
    gt_input(g, "X", OG_FLOAT, 2, DIMS(2, 3));
    og_attr a = og_attr_ints("axes", 1, I64(1));
    gt_node(g, "ReduceSum", NODE, GT_NAMES("X"), GT_NAMES("Y"), 1, &a);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    grad_refused(g, OG_ERR_UNSUPPORTED, "attribute 'axes' of opset 11 is an input from opset 13 on");
    og_graph_free(g);

    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 9));
    gt_input(g, "X", OG_FLOAT, 2, DIMS(2, 3));
    og_attr sa[2] = {og_attr_ints("starts", 1, I64(1)), og_attr_ints("ends", 1, I64(2))};
    gt_node(g, "Slice", NODE, GT_NAMES("X"), GT_NAMES("Y"), 2, sa);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    grad_refused(g, OG_ERR_UNSUPPORTED, "attribute 'starts' of opset 9 is an input from opset 10 on");
    og_graph_free(g);

    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 2));
    gt_input(g, "X", OG_FLOAT, 2, DIMS(2, 3));
    og_attr pa = og_attr_ints("pads", 4, I64(1, 0, 0, 1));
    gt_node(g, "Pad", NODE, GT_NAMES("X"), GT_NAMES("Y"), 1, &pa);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    grad_refused(g, OG_ERR_UNSUPPORTED, "attribute 'pads' of opset 2 is an input from opset 11 on");
    og_graph_free(g);

    /* ReduceSum-11 without the attribute means the same at 17: fine */
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 11));
    gt_input(g, "X", OG_FLOAT, 2, DIMS(2, 3));
    gt_node(g, "ReduceSum", NODE, GT_NAMES("X"), GT_NAMES("Y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    grad_ok(g, 0, NULL, 4, "ReduceSum-11 without axes");
    og_graph_free(g);
}
END_TEST

START_TEST(sl_gradcheck)
{
    /* starts, ends, axes (NULL: omitted), steps (NULL: omitted), length */
    static const struct {
        int64_t s[3], e[3], a[3], st[3];
        bool has_axes, has_steps;
        int n;
    } cases[] = {
        {{1, 0, 2}, {3, 5, 5}, {0}, {0}, false, false, 3},                         /* default axes */
        {{-3}, {-1}, {1}, {1}, true, true, 1},                                     /* negative starts/ends */
        {{2, -4}, {INT64_MAX, 1000}, {2, 0}, {1, 1}, true, true, 2},               /* clamped ends */
        {{-100, 1}, {2, INT64_MAX}, {-1, -2}, {1, 1}, true, false, 2},             /* clamped start, neg axes */
        {{0}, {INT64_MAX}, {1}, {1}, true, true, 1},                               /* the whole axis */
    };
    const int64_t xd[3] = {4, 5, 6};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t n = cases[c].n;
        const int64_t *idx[4] = {cases[c].s, cases[c].e, cases[c].has_axes ? cases[c].a : NULL,
                                 cases[c].has_steps ? cases[c].st : NULL};
        const int64_t len[4] = {n, n, n, n};
        int n_idx = cases[c].has_steps ? 4 : cases[c].has_axes ? 3 : 2;
        og_graph *g = one_op("Slice", 3, xd, n_idx, idx, len, 0, NULL);
        char what[64];
        snprintf(what, sizeof what, "Slice case %zu", c);
        grad_ok(g, 0, NULL, 21 + c, what);
        og_graph_free(g);
    }
    /* unknown dims are fine where the slice does not cut */
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, DIMS(3, 4), &x));
    const int64_t *idx[3] = {I64(1), I64(3), I64(1)};
    og_graph *g = one_op("Slice", 2, DIMS(-1, 4), 3, idx, (const int64_t[]){1, 1, 1}, 0, NULL);
    grad_ok(g, 1, (const og_tensor *const[]){x}, 9, "Slice with an unknown uncut dim");
    og_graph_free(g);
    og_tensor_free(x);
}
END_TEST

START_TEST(sl_grad_refusals)
{
    const int64_t one = 1;
    const int64_t *idx[4] = {I64(0), I64(4), I64(1), I64(2)};
    og_graph *g = one_op("Slice", 2, DIMS(3, 4), 4, idx, (const int64_t[]){one, one, one, one}, 0, NULL);
    grad_refused(g, OG_ERR_UNSUPPORTED, "steps other than 1 is not implemented; input steps 'I4' has 2");
    og_graph_free(g);
    idx[3] = I64(-1);
    g = one_op("Slice", 2, DIMS(3, 4), 4, idx, (const int64_t[]){one, one, one, one}, 0, NULL);
    grad_refused(g, OG_ERR_UNSUPPORTED, "steps other than 1");
    og_graph_free(g);
    /* the cut axis's dim unknown */
    g = one_op("Slice", 2, DIMS(3, -1), 3, idx, (const int64_t[]){one, one, one}, 0, NULL);
    grad_refused(g, OG_ERR_UNSUPPORTED, "known on the sliced axes, got shape [3,?] (axis 1 unknown)");
    og_graph_free(g);
    /* starts fed at run time with steps fed at run time too: refused */
    g = gt_graph();
    gt_input(g, "X", OG_FLOAT, 2, DIMS(3, 4));
    gt_input(g, "S", OG_INT64, 1, DIMS(1));
    gt_input(g, "T", OG_INT64, 1, DIMS(1));
    gt_init(g, "E", OG_INT64, 1, DIMS(1), I64(2));
    gt_init(g, "A", OG_INT64, 1, DIMS(1), I64(1));
    gt_node(g, "Slice", NODE, GT_NAMES("X", "S", "E", "A", "T"), GT_NAMES("Y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    grad_refused(g, OG_ERR_UNSUPPORTED, "the axes and the steps known");
    og_graph_free(g);
}
END_TEST

/* Starts and ends fed at run time (exports compute them from Shape): the
 * pads are computed in the gradient graph, clamped as Slice clamps; dX is
 * dY placed where the slice took it, zeros elsewhere. */
START_TEST(sl_grad_runtime_bounds)
{
    og_graph *g = gt_graph();
    gt_input(g, "X", OG_FLOAT, 2, DIMS(3, 5));
    gt_input(g, "S", OG_INT64, 1, DIMS(1));
    gt_input(g, "E", OG_INT64, 1, DIMS(1));
    gt_init(g, "A", OG_INT64, 1, DIMS(1), I64(-1));
    gt_node(g, "Slice", NODE, GT_NAMES("X", "S", "E", "A"), GT_NAMES("Y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    const struct { int64_t s, e, lo, hi; } cases[] = {
        { 1, 4, 1, 4 }, { -4, -1, 1, 4 }, { -100, 100, 0, 5 }, { 3, 2, 3, 3 }, { 0, 5, 0, 5 }, { 4, INT64_MAX, 4, 5 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t lo = cases[c].lo, hi = cases[c].hi, w = hi - lo, xd[2] = { 3, 5 }, yd[2] = { 3, w }, one = 1;
        og_tensor *x, *sv, *ev, *dy, *dx;
        float xs[15], dys[15];
        for (int k = 0; k < 15; k++)
            xs[k] = (float)k, dys[k] = (float)(100 + k);
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, xd, xs, &x));
        OG_CHECK(og_tensor_create_from(OG_INT64, 1, &one, &cases[c].s, &sv));
        OG_CHECK(og_tensor_create_from(OG_INT64, 1, &one, &cases[c].e, &ev));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, yd, dys, &dy));
        og_grad_options o = { .n_seeded = 1, .seeded = (const char *[]){ "Y" }, .n_wrt = 1,
                              .wrt = (const char *[]){ "X" } };
        OG_CHECK(og_gradients(g, &o, 3, (const og_tensor *const[]){ x, sv, ev }, (const og_tensor *const[]){ dy },
                              &dx));
        const float *d = dx->data;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++) {
                float want = j >= lo && j < hi ? dys[i * w + (j - lo)] : 0.0f;
                ck_assert_msg(d[i * 5 + j] == want, "case %zu: dX[%d,%d] = %g, expected %g", c, i, j, d[i * 5 + j],
                              want);
            }
        og_tensor_free(x);
        og_tensor_free(sv);
        og_tensor_free(ev);
        og_tensor_free(dy);
        og_tensor_free(dx);
    }
    og_graph_free(g);
}
END_TEST

START_TEST(pad_gradcheck)
{
    static const int64_t pads[][4] = {
        {1, 2, 0, 3},      /* padding */
        {-1, 0, 0, -2},    /* cropping */
        {2, -1, -1, 3},    /* both */
        {-3, 4, 1, -4},    /* over-crop one side of axis 0, all of axis 1 cut then padded */
    };
    const int64_t xd[2] = {3, 4};
    for (size_t c = 0; c < sizeof pads / sizeof pads[0]; c++) {
        for (int with_value = 0; with_value <= 1; with_value++) {
            og_graph *g = gt_graph();
            gt_input(g, "X", OG_FLOAT, 2, xd);
            gt_init(g, "P", OG_INT64, 1, DIMS(4), pads[c]);
            gt_init(g, "V", OG_FLOAT, 0, NULL, F32(0.75f));
            gt_node(g, "Pad", NODE, with_value ? GT_NAMES("X", "P", "V") : GT_NAMES("X", "P"), GT_NAMES("Y"),
                    0, NULL);
            OG_CHECK(og_graph_add_output(g, "Y"));
            OG_CHECK(og_graph_finalize(g));
            char what[64];
            snprintf(what, sizeof what, "Pad case %zu%s", c, with_value ? " with constant_value" : "");
            grad_ok(g, 0, NULL, 31 + c, what);
            og_graph_free(g);
        }
    }
    /* 3-D, pads on every side */
    og_graph *g = one_op("Pad", 3, DIMS(2, 3, 2), 1, (const int64_t *const[]){I64(0, 1, 1, 1, 0, 2)},
                         (const int64_t[]){6}, 0, NULL);
    grad_ok(g, 0, NULL, 41, "Pad 3-D");
    og_graph_free(g);
}
END_TEST

START_TEST(pad_grad_refusals)
{
    og_attr m = og_attr_string("mode", "reflect");
    const int64_t *idx[1] = {I64(1, 1, 1, 1)};
    og_graph *g = one_op("Pad", 2, DIMS(3, 4), 1, idx, (const int64_t[]){4}, 1, &m);
    grad_refused(g, OG_ERR_UNSUPPORTED, "the gradient of mode reflect is not implemented");
    og_graph_free(g);
    m = og_attr_string("mode", "edge");
    g = one_op("Pad", 2, DIMS(3, 4), 1, idx, (const int64_t[]){4}, 1, &m);
    grad_refused(g, OG_ERR_UNSUPPORTED, "mode edge");
    og_graph_free(g);
    g = gt_graph();
    gt_input(g, "X", OG_FLOAT, 2, DIMS(3, 4));
    gt_input(g, "P", OG_INT64, 1, DIMS(4));
    gt_node(g, "Pad", NODE, GT_NAMES("X", "P"), GT_NAMES("Y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    grad_refused(g, OG_ERR_UNSUPPORTED, "needs pads 'P' known");
    og_graph_free(g);
}
END_TEST

/* Second order: the rules' own graphs (Expand, Reshape, Pad) differentiate again. */
START_TEST(second_order)
{
    og_attr k0 = og_attr_int("keepdims", 0);
    og_graph *g = one_op("ReduceSum", 3, DIMS(2, 3, 4), 1, (const int64_t *const[]){I64(0, 2)},
                         (const int64_t[]){2}, 1, &k0);
    gt_gradcheck(g, 2, 0, 51, "ReduceSum second order");
    og_graph_free(g);
    g = one_op("Slice", 2, DIMS(4, 5), 3, (const int64_t *const[]){I64(1, -4), I64(3, INT64_MAX), I64(0, 1)},
               (const int64_t[]){2, 2, 2}, 0, NULL);
    gt_gradcheck(g, 2, 0, 52, "Slice second order");
    og_graph_free(g);
    g = one_op("Pad", 2, DIMS(3, 4), 1, (const int64_t *const[]){I64(1, -1, -2, 2)}, (const int64_t[]){4}, 0,
               NULL);
    gt_gradcheck(g, 2, 0, 53, "Pad second order");
    og_graph_free(g);
}
END_TEST

static Suite *reduceslice_suite(void)
{
    Suite *s = suite_create("ReduceSum, Slice, Pad");
    TCase *rs = tcase_create("ReduceSum");
    tcase_add_test(rs, rs_hand_2d);
    tcase_add_test(rs, rs_hand_3d);
    tcase_add_test(rs, rs_dtypes);
    tcase_add_test(rs, rs_attr_versions);
    tcase_add_test(rs, rs_noop);
    tcase_add_test(rs, rs_edge_shapes);
    tcase_add_test(rs, rs_sweep);
    tcase_add_test(rs, rs_infer_unknown);
    tcase_add_test(rs, rs_errors);
    suite_add_tcase(s, rs);
    TCase *sl = tcase_create("Slice");
    tcase_add_test(sl, sl_spec_examples);
    tcase_add_test(sl, sl_steps_and_clamping);
    tcase_add_test(sl, sl_versions);
    tcase_add_test(sl, sl_dtypes);
    tcase_add_test(sl, sl_sweep);
    tcase_add_test(sl, sl_infer_unknown);
    tcase_add_test(sl, sl_errors);
    suite_add_tcase(s, sl);
    TCase *pd = tcase_create("Pad");
    tcase_add_test(pd, pad_spec_examples);
    tcase_add_test(pd, pad_1d_cases);
    tcase_add_test(pd, pad_versions_and_types);
    tcase_add_test(pd, pad_sweep);
    tcase_add_test(pd, pad_infer_unknown);
    tcase_add_test(pd, pad_errors);
    suite_add_tcase(s, pd);
    TCase *gr = tcase_create("backward");
    tcase_add_test(gr, rs_gradcheck);
    tcase_add_test(gr, rs_gradcheck_unknown);
    tcase_add_test(gr, old_attr_forms_refused_in_gradients);
    tcase_add_test(gr, sl_gradcheck);
    tcase_add_test(gr, sl_grad_refusals);
    tcase_add_test(gr, sl_grad_runtime_bounds);
    tcase_add_test(gr, pad_gradcheck);
    tcase_add_test(gr, pad_grad_refusals);
    tcase_add_test(gr, second_order);
    suite_add_tcase(s, gr);
    return s;
}

int main(void)
{
    return og_run_suite(reduceslice_suite());
}
