/* SPDX-License-Identifier: MIT */
/* test_shapeops.c — Reshape, Transpose, Shape, Identity, Constant and
 * ConstantOfShape: worked examples, every attribute and dtype, each error
 * with its status and message, unknown dims, load-time folding (a
 * Constant feeding Reshape's shape gives a known output after finalize),
 * and the backward rules of Reshape, Transpose, Identity and Flatten
 * against float64 finite differences (og_gradcheck). */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

#define NODE "shape_op"

#include "onenode.h"

/* ---- helpers ------------------------------------------------------------ */

/* y must be a `dtype` tensor of shape dims holding `data` (byte-exact). */
static void expect_tensor(const og_tensor *y, og_dtype dtype, int rank, const int64_t *dims, const void *data)
{
    ck_assert_int_eq(y->dtype, dtype);
    ck_assert_int_eq(y->rank, rank);
    for (int d = 0; d < rank; d++)
        ck_assert_msg(y->dims[d] == dims[d], "dim %d: expected %lld, got %lld", d, (long long)dims[d],
                      (long long)y->dims[d]);
    if (y->numel > 0)
        ck_assert_msg(memcmp(y->data, data, (size_t)y->numel * og_dtype_size(dtype)) == 0, "data differs");
}

/* run() must fail with `code`, naming the node and containing `needle`. */
static void expect_run_fail(og_status code, const char *needle, const char *op_type, int opset, int n_in,
                            const tin *ins, int n_attrs, const og_attr *attrs)
{
    og_tensor *y = NULL;
    og_status st = run(&y, op_type, opset, n_in, ins, n_attrs, attrs);
    const char *msg = og_errmsg();
    ck_assert_msg(st == code, "expected %s, got %s: %s", og_status_name(code), og_status_name(st),
                  st ? msg : "(run succeeded)");
    ck_assert_msg(strstr(msg, "'" NODE "'") != NULL, "message does not name the node: %s", msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "message lacks \"%s\": %s", needle, msg);
    og_tensor_free(y);
}

/* Graph: input "x" (dtype/rank/dims) and the int64 1-D initializer "s"
 * (n values) into NODE(op_type) -> "y"; finalized. Input order: x, s, or
 * just s when x_rank < -1 (ConstantOfShape). */
static og_status build_with_shape(og_graph **g, const char *op_type, int opset, og_dtype xt, int x_rank,
                                  const int64_t *x_dims, int64_t n, const int64_t *s, int n_attrs,
                                  const og_attr *attrs)
{
    og_tensor *t = NULL;
    og_status st;
    const char *ins[2] = {"x", "s"};
    bool has_x = x_rank >= -1;

    *g = NULL;
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, "", opset)) ||
        (has_x && (st = og_graph_add_input(*g, "x", xt, x_rank, x_dims, NULL))) ||
        (st = og_tensor_create_from(OG_INT64, 1, &n, s, &t)) || (st = og_graph_add_initializer(*g, "s", t)))
        goto done;
    if ((st = og_graph_add_node(*g, op_type, NULL, NODE, has_x ? 2 : 1, has_x ? ins : ins + 1, 1,
                                (const char *[]){"y"}, n_attrs, attrs)) ||
        (st = og_graph_add_output(*g, "y")))
        goto done;
    st = og_graph_finalize(*g);
done:
    og_tensor_free(t);
    return st;
}

/* The finalized "y" of build_with_shape has this dtype and shape. */
static void expect_shape_with(og_dtype want_t, int want_rank, const int64_t *want, const char *op_type, int opset,
                              og_dtype xt, int x_rank, const int64_t *x_dims, int64_t n, const int64_t *s,
                              int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_value_info vi;
    OG_CHECK(build_with_shape(&g, op_type, opset, xt, x_rank, x_dims, n, s, n_attrs, attrs));
    OG_CHECK(og_graph_value(g, "y", &vi));
    ck_assert_int_eq(vi.dtype, want_t);
    ck_assert_int_eq(vi.rank, want_rank);
    for (int k = 0; k < want_rank; k++)
        ck_assert_msg(vi.dims[k] == want[k], "dim %d: expected %lld, got %lld", k, (long long)want[k],
                      (long long)vi.dims[k]);
    og_graph_free(g);
}

/* build_with_shape must fail at finalize with `code`, naming the node. */
static void expect_fail_with(og_status code, const char *needle, const char *op_type, int opset, og_dtype xt,
                             int x_rank, const int64_t *x_dims, int64_t n, const int64_t *s, int n_attrs,
                             const og_attr *attrs)
{
    og_graph *g;
    og_status st = build_with_shape(&g, op_type, opset, xt, x_rank, x_dims, n, s, n_attrs, attrs);
    const char *msg = og_errmsg();
    ck_assert_msg(st == code, "expected %s, got %s: %s", og_status_name(code), og_status_name(st),
                  st ? msg : "(finalize succeeded)");
    ck_assert_msg(strstr(msg, "'" NODE "'") != NULL, "message does not name the node: %s", msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "message lacks \"%s\": %s", needle, msg);
    og_graph_free(g);
}

/* ---- Reshape ------------------------------------------------------------ */

static const float iota6[6] = {0, 1, 2, 3, 4, 5};

/* [2,3] holding 0..5 reshaped to [3,2], [6], [1,-1] and [-1,2,1]: the
 * data stays in row-major order; -1 takes what the other dims leave. */
/* Shape of a static tensor folds at finalize, so Reshape(x, Shape(t))
 * has a known shape and the graph compiles; with a symbolic dim it runs
 * node by node, with the same result. */
START_TEST(shape_subgraph_folds_when_static)
{
    for (int dynamic = 0; dynamic < 2; dynamic++) {
        og_graph *g;
        int64_t xd[2] = { 2, dynamic ? -1 : 3 }, td[2] = { 3, 2 };
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 17));
        OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, xd, NULL));
        OG_CHECK(og_graph_add_input(g, "t", OG_FLOAT, 2, td, NULL));
        OG_CHECK(og_graph_add_node(g, "Shape", NULL, "s", 1, (const char *[]){ "t" }, 1, (const char *[]){ "ts" }, 0,
                                   NULL));
        OG_CHECK(og_graph_add_node(g, "Reshape", NULL, "r", 2, (const char *[]){ "x", "ts" }, 1,
                                   (const char *[]){ "y" }, 0, NULL));
        OG_CHECK(og_graph_add_node(g, "Relu", NULL, "u", 1, (const char *[]){ "y" }, 1, (const char *[]){ "z" }, 0,
                                   NULL));
        OG_CHECK(og_graph_add_output(g, "z"));
        OG_CHECK(og_graph_finalize(g));
        og_plan *p;
        OG_CHECK(og_plan_create(g, &p));
        ck_assert_msg((og_plan_num_steps(p) > 0) == !dynamic, "dynamic %d: %d steps", dynamic, og_plan_num_steps(p));
        og_tensor *x, *t, *z;
        int64_t two3[2] = { 2, 3 };
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, two3, (float[]){ 1, -2, 3, -4, 5, -6 }, &x));
        OG_CHECK(og_tensor_create(OG_FLOAT, 2, td, &t));
        OG_CHECK(og_plan_run(p, 2, (const og_tensor *const[]){ x, t }, &z));
        ck_assert_int_eq(z->rank, 2);
        ck_assert(z->dims[0] == 3 && z->dims[1] == 2);
        const float *zd = z->data;
        ck_assert(zd[0] == 1 && zd[1] == 0 && zd[4] == 5 && zd[5] == 0);
        og_tensor_free(x);
        og_tensor_free(t);
        og_tensor_free(z);
        og_plan_free(p);
        og_graph_free(g);
    }
}
END_TEST

START_TEST(reshape_values)
{
    static const struct { int n; int64_t s[3]; int64_t want[3]; } cases[] = {
        {2, {3, 2}, {3, 2}}, {1, {6}, {6}}, {2, {1, -1}, {1, 6}}, {3, {-1, 2, 1}, {3, 2, 1}},
        {3, {0, 3, 1}, {2, 3, 1}},   /* 0 copies dim 0 */
    };
    int64_t xd[2] = {2, 3};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t sd[1] = {cases[k].n};
        og_tensor *y;
        OG_CHECK(run(&y, "Reshape", 14, 2, (tin[]){{OG_FLOAT, 2, xd, iota6}, {OG_INT64, 1, sd, cases[k].s}}, 0, NULL));
        expect_tensor(y, OG_FLOAT, cases[k].n, cases[k].want, iota6);
        og_tensor_free(y);
    }
}
END_TEST

/* allowzero=1: a 0 in shape is a real 0, so [0,3,4] can become [3,4,0];
 * with allowzero=0 the same request copies dim 2 (4) into position 2 and
 * the counts no longer agree (0 vs 48). */
START_TEST(reshape_allowzero)
{
    int64_t xd[3] = {0, 3, 4}, sd[1] = {3};
    const int64_t s[3] = {3, 4, 0}, want[3] = {3, 4, 0};
    og_attr az = og_attr_int("allowzero", 1);
    og_tensor *y;
    OG_CHECK(run(&y, "Reshape", 14, 2, (tin[]){{OG_FLOAT, 3, xd, iota6}, {OG_INT64, 1, sd, s}}, 1, &az));
    expect_tensor(y, OG_FLOAT, 3, want, NULL);
    ck_assert_int_eq(y->numel, 0);
    og_tensor_free(y);
    expect_run_fail(OG_ERR_SHAPE, "expected equal counts", "Reshape", 14, 2,
                    (tin[]){{OG_FLOAT, 3, xd, iota6}, {OG_INT64, 1, sd, s}}, 0, NULL);
    /* allowzero is an opset-14 attribute and 0 or 1 */
    expect_fail_with(OG_ERR_ATTR, "not part of Reshape-13", "Reshape", 13, OG_FLOAT, 3, xd, 3, s, 1, &az);
    og_attr az2 = og_attr_int("allowzero", 2);
    expect_fail_with(OG_ERR_ATTR, "expected a value in [0, 1]", "Reshape", 14, OG_FLOAT, 3, xd, 3, s, 1, &az2);
    /* Reshape-1 (shape as an attribute) is not implemented */
    expect_fail_with(OG_ERR_UNSUPPORTED, "older than", "Reshape", 4, OG_FLOAT, 3, xd, 3, s, 0, NULL);
}
END_TEST

/* Every type is copied as bytes; versions 5 and 13 work too. */
START_TEST(reshape_dtypes)
{
    int64_t xd[2] = {2, 2}, sd[1] = {1};
    const int64_t s[1] = {4}, want[1] = {4};
    const int64_t xi[4] = {INT64_MIN, -1, 0, INT64_MAX};
    const uint8_t xb[4] = {1, 0, 0, 1};
    const double xf[4] = {-0.0, 1e300, 2.5, -3};
    const uint16_t xu[4] = {1, 65535, 7, 0};
    og_tensor *y;
    OG_CHECK(run(&y, "Reshape", 5, 2, (tin[]){{OG_INT64, 2, xd, xi}, {OG_INT64, 1, sd, s}}, 0, NULL));
    expect_tensor(y, OG_INT64, 1, want, xi);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Reshape", 13, 2, (tin[]){{OG_BOOL, 2, xd, xb}, {OG_INT64, 1, sd, s}}, 0, NULL));
    expect_tensor(y, OG_BOOL, 1, want, xb);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Reshape", 17, 2, (tin[]){{OG_DOUBLE, 2, xd, xf}, {OG_INT64, 1, sd, s}}, 0, NULL));
    expect_tensor(y, OG_DOUBLE, 1, want, xf);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Reshape", 17, 2, (tin[]){{OG_UINT16, 2, xd, xu}, {OG_INT64, 1, sd, s}}, 0, NULL));
    expect_tensor(y, OG_UINT16, 1, want, xu);
    og_tensor_free(y);
}
END_TEST

/* Shape values that break the contract, found at run time (shape is a graph
 * input) and at load time (shape is an initializer). */
START_TEST(reshape_bad_shape_values)
{
    int64_t xd[2] = {2, 3}, sd2[1] = {2}, sd3[1] = {3};
    static const struct { int n; int64_t s[3]; og_status code; const char *needle; } cases[] = {
        {2, {-2, 3}, OG_ERR_SHAPE, "has -2 at position 0; expected a dim >= 0"},
        {2, {-1, -1}, OG_ERR_SHAPE, "-1 at positions 0 and 1"},
        {3, {2, 3, 0}, OG_ERR_SHAPE, "0 at position 2, which copies dim 2"},
        {2, {4, -1}, OG_ERR_SHAPE, "expected a multiple of 4"},
        {2, {4, 2}, OG_ERR_SHAPE, "holds 8; expected equal counts"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int64_t *sd = cases[k].n == 2 ? sd2 : sd3;
        expect_run_fail(cases[k].code, cases[k].needle, "Reshape", 14, 2,
                        (tin[]){{OG_FLOAT, 2, xd, iota6}, {OG_INT64, 1, sd, cases[k].s}}, 0, NULL);
        expect_fail_with(cases[k].code, cases[k].needle, "Reshape", 14, OG_FLOAT, 2, xd, cases[k].n, cases[k].s,
                         0, NULL);
    }
    /* [2,0] -> [-1,0]: the 0 copies dim 1, a 0, so no -1 can make the counts agree */
    int64_t zd[2] = {2, 0};
    const int64_t s1[2] = {-1, 0};   /* 0 copies dim 1 (0): the -1 cannot be found */
    expect_fail_with(OG_ERR_SHAPE, "multiply to 0", "Reshape", 14, OG_FLOAT, 2, zd, 2, s1, 0, NULL);
    /* allowzero=1 with both 0 and -1 */
    og_attr az = og_attr_int("allowzero", 1);
    const int64_t s2[2] = {0, -1};
    expect_fail_with(OG_ERR_SHAPE, "both 0 (position 0) and -1 (position 1) with allowzero=1", "Reshape", 14,
                     OG_FLOAT, 2, zd, 2, s2, 1, &az);
    /* more entries than onnxgrad's maximum rank */
    int64_t big[33];
    for (int k = 0; k < 33; k++)
        big[k] = 1;
    int64_t one[1] = {1};
    expect_fail_with(OG_ERR_LIMIT, "has 33 entries; onnxgrad supports rank <= 32", "Reshape", 14, OG_FLOAT, 1,
                     one, 33, big, 0, NULL);
}
END_TEST

/* The shape input itself must be 1-D int64. (float16 data never gets
 * this far: the graph refuses values of types onnxgrad cannot hold.) */
START_TEST(reshape_bad_inputs)
{
    int64_t xd[2] = {2, 3}, sd[1] = {2}, sd2[2] = {1, 2};
    expect_fail(OG_ERR_SHAPE, "has type int32, expected int64", "Reshape", 14, 2,
                (tin[]){{OG_FLOAT, 2, xd, NULL}, {OG_INT32, 1, sd, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "must be 1-D, got shape [1,2]", "Reshape", 14, 2,
                (tin[]){{OG_FLOAT, 2, xd, NULL}, {OG_INT64, 2, sd2, NULL}}, 0, NULL);
    int64_t sd40[1] = {40};
    expect_fail(OG_ERR_LIMIT, "40 entries", "Reshape", 14, 2,
                (tin[]){{OG_FLOAT, 2, xd, NULL}, {OG_INT64, 1, sd40, NULL}}, 0, NULL);
}
END_TEST

/* Without the shape's data only its length is known: the rank. A known
 * shape with unknown input dims leaves only what depends on them unknown. */
START_TEST(reshape_unknown)
{
    int64_t xd[2] = {2, 3}, sd[1] = {3}, sdu[1] = {-1};
    int64_t w3[3] = {-1, -1, -1};
    expect_shape(OG_FLOAT, 3, w3, "Reshape", 14, 2, (tin[]){{OG_FLOAT, 2, xd, NULL}, {OG_INT64, 1, sd, NULL}}, 0, NULL);
    expect_shape(OG_FLOAT, -1, NULL, "Reshape", 14, 2, (tin[]){{OG_FLOAT, 2, xd, NULL}, {OG_INT64, 1, sdu, NULL}},
                 0, NULL);
    expect_shape(OG_FLOAT, -1, NULL, "Reshape", 14, 2, (tin[]){{OG_FLOAT, 2, xd, NULL}, {OG_INT64, -1, NULL, NULL}},
                 0, NULL);

    int64_t xu[3] = {-1, 3, 4};
    const int64_t s1[2] = {0, 12}, s2[2] = {0, -1}, s3[2] = {-1, 6}, s4[3] = {2, 0, 5};
    /* [0,-1]: the unknown dim 0 copies is a factor of both counts, so the
     * -1 is 12 (as onnx.shape_inference has it) */
    int64_t w1[2] = {-1, 12}, w2[2] = {-1, 12}, w3b[2] = {-1, 6};
    expect_shape_with(OG_FLOAT, 2, w1, "Reshape", 14, OG_FLOAT, 3, xu, 2, s1, 0, NULL);
    expect_shape_with(OG_FLOAT, 2, w2, "Reshape", 14, OG_FLOAT, 3, xu, 2, s2, 0, NULL);
    /* an unknown dim that no 0 copies keeps the -1 unknown */
    const int64_t s2b[3] = {2, 0, -1};
    int64_t w2b[3] = {2, 3, -1};
    expect_shape_with(OG_FLOAT, 3, w2b, "Reshape", 14, OG_FLOAT, 3, xu, 3, s2b, 0, NULL);
    expect_shape_with(OG_FLOAT, 2, w3b, "Reshape", 14, OG_FLOAT, 3, xu, 2, s3, 0, NULL);
    /* a copied dim that is known is kept, even next to unknown counts */
    int64_t w4[3] = {2, 3, 5};
    expect_shape_with(OG_FLOAT, 3, w4, "Reshape", 14, OG_FLOAT, 3, xu, 3, s4, 0, NULL);
    /* unknown input rank: copied dims are unknown, explicit ones known */
    int64_t w5[3] = {2, -1, 5};
    expect_shape_with(OG_FLOAT, 3, w5, "Reshape", 14, OG_FLOAT, -1, NULL, 3, s4, 0, NULL);
    /* a known 0 makes the count 0 even with an unknown dim: -1 becomes 0 */
    int64_t xz[2] = {0, -1};
    const int64_t s6[2] = {-1, 5};
    int64_t w6[2] = {0, 5};
    expect_shape_with(OG_FLOAT, 2, w6, "Reshape", 14, OG_FLOAT, 2, xz, 2, s6, 0, NULL);
    /* fully known with an initializer shape */
    const int64_t s7[3] = {3, -1, 1};
    int64_t w7[3] = {3, 2, 1};
    expect_shape_with(OG_FLOAT, 3, w7, "Reshape", 14, OG_FLOAT, 2, xd, 3, s7, 0, NULL);
}
END_TEST

/* Constant(value_ints) -> Reshape.shape: finalize folds the Constant, so
 * the output shape is known before anything runs; the same with
 * Constant(value = int64 tensor) at opset 11. */
START_TEST(reshape_shape_from_constant)
{
    static const int opsets[] = {17, 11};
    for (int k = 0; k < 2; k++) {
        og_graph *g;
        og_value_info vi;
        og_tensor *st = NULL;
        int64_t xd[2] = {2, 3}, n = 3;
        const int64_t s[3] = {-1, 1, 2};
        og_attr a = og_attr_ints("value_ints", 3, s);
        if (opsets[k] < 12) {
            OG_CHECK(og_tensor_create_from(OG_INT64, 1, &n, s, &st));
            a = og_attr_tensor("value", st);
        }
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", opsets[k]));
        OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, xd, NULL));
        OG_CHECK(og_graph_add_node(g, "Constant", NULL, "c", 0, NULL, 1, (const char *[]){"s"}, 1, &a));
        OG_CHECK(og_graph_add_node(g, "Reshape", NULL, NODE, 2, (const char *[]){"x", "s"}, 1,
                                   (const char *[]){"y"}, 0, NULL));
        OG_CHECK(og_graph_add_output(g, "y"));
        OG_CHECK(og_graph_finalize(g));
        OG_CHECK(og_graph_value(g, "y", &vi));
        ck_assert_int_eq(vi.rank, 3);
        ck_assert(vi.dims[0] == 3 && vi.dims[1] == 1 && vi.dims[2] == 2);

        og_plan *p;
        og_tensor *x, *y;
        const int64_t want[3] = {3, 1, 2};
        OG_CHECK(og_plan_create(g, &p));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, xd, iota6, &x));
        OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){x}, &y));
        expect_tensor(y, OG_FLOAT, 3, want, iota6);
        og_tensor_free(y);
        og_tensor_free(x);
        og_tensor_free(st);
        og_plan_free(p);
        og_graph_free(g);
    }
}
END_TEST

/* ---- Transpose ---------------------------------------------------------- */

/* out[o] = in[sum_i idx_i * stride_in[perm[i]]], by div/mod: the slow,
 * obviously right reference the odometer kernel is checked against. */
static void transpose_ref(const float *x, const int64_t *dims, int r, const int *perm, float *y)
{
    int64_t stride[8], odims[8], numel = 1;
    for (int d = r - 1; d >= 0; d--) {
        stride[d] = numel;
        numel *= dims[d];
    }
    for (int i = 0; i < r; i++)
        odims[i] = dims[perm[i]];
    for (int64_t o = 0; o < numel; o++) {
        int64_t rem = o, off = 0;
        for (int i = r - 1; i >= 0; i--) {
            off += (rem % odims[i]) * stride[perm[i]];
            rem /= odims[i];
        }
        y[o] = x[off];
    }
}

/* A 2x3 matrix [[0,1,2],[3,4,5]] transposed by default is [[0,3],[1,4],[2,5]]. */
START_TEST(transpose_matrix_default)
{
    int64_t xd[2] = {2, 3};
    const int64_t want_d[2] = {3, 2};
    const float want[6] = {0, 3, 1, 4, 2, 5};
    og_tensor *y;
    OG_CHECK(run(&y, "Transpose", 13, 1, (tin[]){{OG_FLOAT, 2, xd, iota6}}, 0, NULL));
    expect_tensor(y, OG_FLOAT, 2, want_d, want);
    og_tensor_free(y);
    /* the same at opset 1, with perm given */
    const int64_t perm[2] = {1, 0};
    og_attr a = og_attr_ints("perm", 2, perm);
    OG_CHECK(run(&y, "Transpose", 1, 1, (tin[]){{OG_FLOAT, 2, xd, iota6}}, 1, &a));
    expect_tensor(y, OG_FLOAT, 2, want_d, want);
    og_tensor_free(y);
}
END_TEST

/* Every permutation of [2,3,4] and several of shapes with unit axes (which
 * the kernel drops or merges) against the reference. */
START_TEST(transpose_all_perms)
{
    static const struct { int r; int64_t dims[4]; } shapes[] = {
        {3, {2, 3, 4}}, {4, {1, 3, 1, 2}}, {4, {2, 1, 3, 2}}, {4, {3, 2, 2, 3}},
    };
    float x[64], y_ref[64];
    for (int i = 0; i < 64; i++)
        x[i] = (float)i;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int r = shapes[s].r;
        int perm[4] = {0, 1, 2, 3};
        /* all r! permutations via Heap's algorithm, iterative */
        int c[4] = {0, 0, 0, 0}, i = 0, count = 0;
        for (;;) {
            int64_t p64[4], odims[4];
            for (int d = 0; d < r; d++) {
                p64[d] = perm[d];
                odims[d] = shapes[s].dims[perm[d]];
            }
            og_attr a = og_attr_ints("perm", r, p64);
            og_tensor *y;
            OG_CHECK(run(&y, "Transpose", 17, 1, (tin[]){{OG_FLOAT, r, shapes[s].dims, x}}, 1, &a));
            transpose_ref(x, shapes[s].dims, r, perm, y_ref);
            expect_tensor(y, OG_FLOAT, r, odims, y_ref);
            og_tensor_free(y);
            count++;
            while (i < r && c[i] >= i) {
                c[i] = 0;
                i++;
            }
            if (i >= r)
                break;
            int j = i % 2 == 0 ? 0 : c[i];
            int t = perm[j];
            perm[j] = perm[i];
            perm[i] = t;
            c[i]++;
            i = 0;
        }
        ck_assert_int_eq(count, r == 3 ? 6 : 24);
    }
}
END_TEST

/* Each element width has its own loop; bool, int8, uint16, int32, int64 and
 * double all move intact. Empty tensors and scalars too. */
START_TEST(transpose_dtypes_and_edges)
{
    int64_t xd[2] = {2, 2};
    const int64_t want_d[2] = {2, 2};
    const int8_t x8[4] = {-128, 1, 2, 127}, w8[4] = {-128, 2, 1, 127};
    const uint8_t xb[4] = {1, 0, 1, 1}, wb[4] = {1, 1, 0, 1};
    const uint16_t x16[4] = {1, 2, 3, 65535}, w16[4] = {1, 3, 2, 65535};
    const int32_t x32[4] = {INT32_MIN, 2, 3, INT32_MAX}, w32[4] = {INT32_MIN, 3, 2, INT32_MAX};
    const int64_t x64[4] = {INT64_MIN, 2, 3, INT64_MAX}, w64[4] = {INT64_MIN, 3, 2, INT64_MAX};
    const double xd64[4] = {0.5, -1, 1e300, -0.0}, wd64[4] = {0.5, 1e300, -1, -0.0};
    const struct { og_dtype t; const void *x, *w; } cases[6] = {
        {OG_INT8, x8, w8}, {OG_BOOL, xb, wb}, {OG_UINT16, x16, w16}, {OG_INT32, x32, w32},
        {OG_INT64, x64, w64}, {OG_DOUBLE, xd64, wd64},
    };
    og_tensor *y;
    for (int k = 0; k < 6; k++) {
        OG_CHECK(run(&y, "Transpose", 17, 1, (tin[]){{cases[k].t, 2, xd, cases[k].x}}, 0, NULL));
        expect_tensor(y, cases[k].t, 2, want_d, cases[k].w);
        og_tensor_free(y);
    }
    int64_t ed[3] = {0, 3, 2};
    const int64_t we[3] = {2, 3, 0};
    OG_CHECK(run(&y, "Transpose", 17, 1, (tin[]){{OG_FLOAT, 3, ed, iota6}}, 0, NULL));
    expect_tensor(y, OG_FLOAT, 3, we, NULL);
    og_tensor_free(y);
    const float s = 7.0f;
    OG_CHECK(run(&y, "Transpose", 17, 1, (tin[]){{OG_FLOAT, 0, NULL, &s}}, 0, NULL));
    expect_tensor(y, OG_FLOAT, 0, NULL, &s);
    og_tensor_free(y);
}
END_TEST

START_TEST(transpose_errors)
{
    int64_t xd[3] = {2, 3, 4};
    const int64_t p2[2] = {1, 0}, pneg[3] = {0, -1, 1}, pbig[3] = {0, 3, 1}, pdup[3] = {2, 0, 2};
    og_attr a2 = og_attr_ints("perm", 2, p2), aneg = og_attr_ints("perm", 3, pneg);
    og_attr abig = og_attr_ints("perm", 3, pbig), adup = og_attr_ints("perm", 3, pdup);
    expect_fail(OG_ERR_ATTR, "perm has 2 entries, expected 3", "Transpose", 13, 1,
                (tin[]){{OG_FLOAT, 3, xd, NULL}}, 1, &a2);
    expect_fail(OG_ERR_ATTR, "perm[1] is -1, expected an axis in [0, 2]", "Transpose", 13, 1,
                (tin[]){{OG_FLOAT, 3, xd, NULL}}, 1, &aneg);
    expect_fail(OG_ERR_ATTR, "perm[1] is 3", "Transpose", 13, 1, (tin[]){{OG_FLOAT, 3, xd, NULL}}, 1, &abig);
    expect_fail(OG_ERR_ATTR, "perm names axis 2 twice (positions 0 and 2)", "Transpose", 13, 1,
                (tin[]){{OG_FLOAT, 3, xd, NULL}}, 1, &adup);
    int64_t p40[40];
    for (int k = 0; k < 40; k++)
        p40[k] = k;
    og_attr a40 = og_attr_ints("perm", 40, p40);
    expect_fail(OG_ERR_ATTR, "perm has 40 entries, expected at most 32", "Transpose", 13, 1,
                (tin[]){{OG_FLOAT, -1, NULL, NULL}}, 1, &a40);
}
END_TEST

/* Unknown dims move with their axis; an unknown rank with a perm gives
 * the perm's rank, without one an unknown rank. */
START_TEST(transpose_unknown)
{
    int64_t xd[3] = {2, -1, 4};
    const int64_t perm[3] = {1, 2, 0};
    og_attr a = og_attr_ints("perm", 3, perm);
    int64_t w1[3] = {-1, 4, 2}, w2[3] = {4, -1, 2}, w3[3] = {-1, -1, -1};
    expect_shape(OG_FLOAT, 3, w1, "Transpose", 13, 1, (tin[]){{OG_FLOAT, 3, xd, NULL}}, 1, &a);
    expect_shape(OG_FLOAT, 3, w2, "Transpose", 13, 1, (tin[]){{OG_FLOAT, 3, xd, NULL}}, 0, NULL);
    expect_shape(OG_FLOAT, 3, w3, "Transpose", 13, 1, (tin[]){{OG_FLOAT, -1, NULL, NULL}}, 1, &a);
    expect_shape(OG_FLOAT, -1, NULL, "Transpose", 13, 1, (tin[]){{OG_FLOAT, -1, NULL, NULL}}, 0, NULL);
}
END_TEST

/* ---- Shape -------------------------------------------------------------- */

/* [3,4,5] with start/end: Python slicing of the dims, clipped. */
START_TEST(shape_slices)
{
    static const struct { int64_t start, end; bool has_start, has_end; int n; int64_t want[3]; } cases[] = {
        {0, 0, false, false, 3, {3, 4, 5}},
        {1, 0, true, false, 2, {4, 5}},
        {0, 1, false, true, 1, {3}},
        {0, -1, false, true, 2, {3, 4}},
        {-1, 0, true, false, 1, {5}},
        {1, 2, true, true, 1, {4}},
        {1, -1, true, true, 1, {4}},
        {-10, 0, true, false, 3, {3, 4, 5}},   /* clipped to 0 */
        {0, 10, false, true, 3, {3, 4, 5}},    /* clipped to 3 */
        {2, 1, true, true, 0, {0}},            /* empty range */
        {INT64_MIN, INT64_MAX, true, true, 3, {3, 4, 5}},
    };
    int64_t xd[3] = {3, 4, 5};
    float x[60] = {0};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        og_attr a[2];
        int na = 0;
        if (cases[k].has_start)
            a[na++] = og_attr_int("start", cases[k].start);
        if (cases[k].has_end)
            a[na++] = og_attr_int("end", cases[k].end);
        int64_t nd[1] = {cases[k].n};
        og_tensor *y;
        OG_CHECK(run(&y, "Shape", 15, 1, (tin[]){{OG_FLOAT, 3, xd, x}}, na, a));
        expect_tensor(y, OG_INT64, 1, nd, cases[k].want);
        og_tensor_free(y);
        expect_shape(OG_INT64, 1, nd, "Shape", 15, 1, (tin[]){{OG_FLOAT, 3, xd, NULL}}, na, a);
    }
}
END_TEST

/* Any held type, any opset; a scalar's shape is empty; start/end only from 15. */
START_TEST(shape_types_and_versions)
{
    int64_t xd[2] = {2, 1}, nd[1] = {2};
    const int64_t want[2] = {2, 1};
    const uint8_t xb[2] = {1, 0};
    og_tensor *y;
    OG_CHECK(run(&y, "Shape", 1, 1, (tin[]){{OG_BOOL, 2, xd, xb}}, 0, NULL));
    expect_tensor(y, OG_INT64, 1, nd, want);
    og_tensor_free(y);
    const int64_t xi[2] = {5, 6};
    OG_CHECK(run(&y, "Shape", 13, 1, (tin[]){{OG_INT64, 2, xd, xi}}, 0, NULL));
    expect_tensor(y, OG_INT64, 1, nd, want);
    og_tensor_free(y);
    const double s = 1.0;
    int64_t zero[1] = {0};
    OG_CHECK(run(&y, "Shape", 17, 1, (tin[]){{OG_DOUBLE, 0, NULL, &s}}, 0, NULL));
    expect_tensor(y, OG_INT64, 1, zero, NULL);
    og_tensor_free(y);
    og_attr a = og_attr_int("start", 1);
    expect_fail(OG_ERR_ATTR, "not part of Shape-13", "Shape", 13, 1, (tin[]){{OG_FLOAT, 2, xd, NULL}}, 1, &a);
}
END_TEST

/* Unknown dims do not matter, only the rank; with an unknown rank the
 * length is unknown unless the range is empty at every rank. */
START_TEST(shape_unknown)
{
    int64_t xd[3] = {-1, 4, -1}, w3[1] = {3}, wu[1] = {-1}, w0[1] = {0};
    expect_shape(OG_INT64, 1, w3, "Shape", 15, 1, (tin[]){{OG_FLOAT, 3, xd, NULL}}, 0, NULL);
    expect_shape(OG_INT64, 1, wu, "Shape", 15, 1, (tin[]){{OG_FLOAT, -1, NULL, NULL}}, 0, NULL);
    og_attr e[2] = {og_attr_int("start", -1), og_attr_int("end", -2)};
    expect_shape(OG_INT64, 1, w0, "Shape", 15, 1, (tin[]){{OG_FLOAT, -1, NULL, NULL}}, 2, e);
    og_attr f[2] = {og_attr_int("start", -2), og_attr_int("end", -1)};
    expect_shape(OG_INT64, 1, wu, "Shape", 15, 1, (tin[]){{OG_FLOAT, -1, NULL, NULL}}, 2, f);
    /* at run time the unknown dims are there */
    int64_t rd[3] = {2, 4, 1};
    const int64_t want[3] = {2, 4, 1};
    float x[8] = {0};
    og_graph *g;
    og_plan *p;
    og_tensor *xt, *y;
    OG_CHECK(build(&g, "Shape", 15, 1, (tin[]){{OG_FLOAT, 3, xd, NULL}}, 0, NULL));
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 3, rd, x, &xt));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){xt}, &y));
    expect_tensor(y, OG_INT64, 1, w3, want);
    og_tensor_free(y);
    og_tensor_free(xt);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* ---- Identity ----------------------------------------------------------- */

START_TEST(identity_copies)
{
    int64_t xd[2] = {2, 3};
    og_tensor *y;
    static const int opsets[] = {1, 13, 14, 16, 17};
    for (int k = 0; k < 5; k++) {
        OG_CHECK(run(&y, "Identity", opsets[k], 1, (tin[]){{OG_FLOAT, 2, xd, iota6}}, 0, NULL));
        expect_tensor(y, OG_FLOAT, 2, xd, iota6);
        og_tensor_free(y);
    }
    const int64_t xi[6] = {INT64_MIN, -1, 0, 1, 2, INT64_MAX};
    OG_CHECK(run(&y, "Identity", 17, 1, (tin[]){{OG_INT64, 2, xd, xi}}, 0, NULL));
    expect_tensor(y, OG_INT64, 2, xd, xi);
    og_tensor_free(y);
    const uint8_t xb[6] = {1, 0, 1, 0, 0, 1};
    OG_CHECK(run(&y, "Identity", 17, 1, (tin[]){{OG_BOOL, 2, xd, xb}}, 0, NULL));
    expect_tensor(y, OG_BOOL, 2, xd, xb);
    og_tensor_free(y);
    int64_t ud[3] = {-1, 3, -1};
    expect_shape(OG_DOUBLE, 3, ud, "Identity", 17, 1, (tin[]){{OG_DOUBLE, 3, ud, NULL}}, 0, NULL);
    expect_shape(OG_UINT32, -1, NULL, "Identity", 17, 1, (tin[]){{OG_UINT32, -1, NULL, NULL}}, 0, NULL);
}
END_TEST

/* ---- Constant ----------------------------------------------------------- */

/* Each value form gives its tensor: value (any held type, any rank),
 * value_float / value_int (scalars), value_floats / value_ints (1-D). */
START_TEST(constant_forms)
{
    og_tensor *t, *y;
    int64_t td[2] = {3, 2};
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, td, iota6, &t));
    og_attr a = og_attr_tensor("value", t);
    static const int opsets[] = {1, 9, 11, 13, 17};
    for (int k = 0; k < 5; k++) {
        OG_CHECK(run(&y, "Constant", opsets[k], 0, NULL, 1, &a));
        expect_tensor(y, OG_FLOAT, 2, td, iota6);
        og_tensor_free(y);
    }
    og_tensor_free(t);
    const int32_t vi[2] = {-7, 7};
    int64_t n2 = 2;
    OG_CHECK(og_tensor_create_from(OG_INT32, 1, &n2, vi, &t));
    a = og_attr_tensor("value", t);
    OG_CHECK(run(&y, "Constant", 13, 0, NULL, 1, &a));
    expect_tensor(y, OG_INT32, 1, &n2, vi);
    og_tensor_free(y);
    og_tensor_free(t);

    const float f = 2.5f;
    a = og_attr_float("value_float", f);
    OG_CHECK(run(&y, "Constant", 12, 0, NULL, 1, &a));
    expect_tensor(y, OG_FLOAT, 0, NULL, &f);
    og_tensor_free(y);
    const int64_t i = -3;
    a = og_attr_int("value_int", i);
    OG_CHECK(run(&y, "Constant", 17, 0, NULL, 1, &a));
    expect_tensor(y, OG_INT64, 0, NULL, &i);
    og_tensor_free(y);
    const float fs[3] = {1, -2, 0.5f};
    int64_t n3 = 3;
    a = og_attr_floats("value_floats", 3, fs);
    OG_CHECK(run(&y, "Constant", 17, 0, NULL, 1, &a));
    expect_tensor(y, OG_FLOAT, 1, &n3, fs);
    og_tensor_free(y);
    const int64_t is[3] = {4, 0, -1};
    a = og_attr_ints("value_ints", 3, is);
    OG_CHECK(run(&y, "Constant", 17, 0, NULL, 1, &a));
    expect_tensor(y, OG_INT64, 1, &n3, is);
    og_tensor_free(y);
    /* an empty list is an empty 1-D tensor */
    int64_t n0 = 0;
    a = og_attr_ints("value_ints", 0, NULL);
    OG_CHECK(run(&y, "Constant", 17, 0, NULL, 1, &a));
    expect_tensor(y, OG_INT64, 1, &n0, NULL);
    og_tensor_free(y);
    /* a value_int of 0 or value_float of 0 still counts as given */
    a = og_attr_int("value_int", 0);
    OG_CHECK(run(&y, "Constant", 17, 0, NULL, 1, &a));
    ck_assert_int_eq(y->rank, 0);
    ck_assert_int_eq(((const int64_t *)y->data)[0], 0);
    og_tensor_free(y);
}
END_TEST

START_TEST(constant_errors)
{
    const float f = 1.0f;
    og_tensor *t;
    int64_t n1 = 1;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &n1, &f, &t));
    expect_fail(OG_ERR_ATTR, "no value given; expected exactly one of value, value_float", "Constant", 17, 0, NULL,
                0, NULL);
    expect_fail(OG_ERR_ATTR, "no value given; expected exactly one of value", "Constant", 11, 0, NULL, 0, NULL);
    og_attr two[2] = {og_attr_tensor("value", t), og_attr_int("value_int", 1)};
    expect_fail(OG_ERR_ATTR, "both value and value_int given", "Constant", 17, 0, NULL, 2, two);
    og_attr two2[2] = {og_attr_float("value_float", 0), og_attr_int("value_int", 0)};
    expect_fail(OG_ERR_ATTR, "both value_float and value_int", "Constant", 17, 0, NULL, 2, two2);
    og_attr vs = og_attr_string("value_string", "hi");
    expect_fail(OG_ERR_UNSUPPORTED, "value_string makes a string tensor", "Constant", 17, 0, NULL, 1, &vs);
    const char *strs[2] = {"a", "b"};
    og_attr vss = {.name = "value_strings", .type = OG_ATTR_STRINGS, .strings = strs, .count = 2};
    expect_fail(OG_ERR_UNSUPPORTED, "value_strings makes a string tensor", "Constant", 17, 0, NULL, 1, &vss);
    og_attr vf = og_attr_float("value_float", 1);
    expect_fail(OG_ERR_ATTR, "not part of Constant-11", "Constant", 11, 0, NULL, 1, &vf);
    og_attr wrong = og_attr_int("value", 3);
    expect_fail(OG_ERR_ATTR, "has type INT, expected TENSOR", "Constant", 17, 0, NULL, 1, &wrong);
    og_tensor_free(t);

    /* sparse_value never reaches the op: the graph refuses the attribute type */
    og_graph *g;
    og_attr sp = {.name = "sparse_value", .type = OG_ATTR_SPARSE_TENSOR};
    OG_CHECK(og_graph_create(&g));
    OG_CHECK_FAILS(og_graph_add_node(g, "Constant", NULL, NODE, 0, NULL, 1, (const char *[]){"y"}, 1, &sp),
                   OG_ERR_UNSUPPORTED, "sparse_value");
    og_graph_free(g);
}
END_TEST

/* ---- ConstantOfShape ---------------------------------------------------- */

/* Default value float 0; value gives the type: int32 7, double -1.5, bool 1. */
START_TEST(constantofshape_values)
{
    int64_t sd[1] = {2};
    const int64_t s[2] = {2, 3};
    og_tensor *y, *v;
    const float zeros[6] = {0};
    OG_CHECK(run(&y, "ConstantOfShape", 9, 1, (tin[]){{OG_INT64, 1, sd, s}}, 0, NULL));
    expect_tensor(y, OG_FLOAT, 2, s, zeros);
    og_tensor_free(y);

    int64_t one = 1;
    const int32_t i7 = 7, want_i[6] = {7, 7, 7, 7, 7, 7};
    OG_CHECK(og_tensor_create_from(OG_INT32, 1, &one, &i7, &v));
    og_attr a = og_attr_tensor("value", v);
    OG_CHECK(run(&y, "ConstantOfShape", 17, 1, (tin[]){{OG_INT64, 1, sd, s}}, 1, &a));
    expect_tensor(y, OG_INT32, 2, s, want_i);
    og_tensor_free(y);
    og_tensor_free(v);

    const double d = -1.5, want_d[6] = {-1.5, -1.5, -1.5, -1.5, -1.5, -1.5};
    OG_CHECK(og_tensor_create_from(OG_DOUBLE, 1, &one, &d, &v));
    a = og_attr_tensor("value", v);
    OG_CHECK(run(&y, "ConstantOfShape", 17, 1, (tin[]){{OG_INT64, 1, sd, s}}, 1, &a));
    expect_tensor(y, OG_DOUBLE, 2, s, want_d);
    og_tensor_free(y);
    og_tensor_free(v);

    const uint8_t b = 1, want_b[6] = {1, 1, 1, 1, 1, 1};
    OG_CHECK(og_tensor_create_from(OG_BOOL, 1, &one, &b, &v));
    a = og_attr_tensor("value", v);
    OG_CHECK(run(&y, "ConstantOfShape", 17, 1, (tin[]){{OG_INT64, 1, sd, s}}, 1, &a));
    expect_tensor(y, OG_BOOL, 2, s, want_b);
    og_tensor_free(y);
    og_tensor_free(v);

    const uint16_t u = 65535, want_u[6] = {65535, 65535, 65535, 65535, 65535, 65535};
    OG_CHECK(og_tensor_create_from(OG_UINT16, 1, &one, &u, &v));
    a = og_attr_tensor("value", v);
    OG_CHECK(run(&y, "ConstantOfShape", 17, 1, (tin[]){{OG_INT64, 1, sd, s}}, 1, &a));
    expect_tensor(y, OG_UINT16, 2, s, want_u);
    og_tensor_free(y);
    og_tensor_free(v);

    /* an empty shape gives a scalar; a 0 in it an empty tensor */
    int64_t sd0[1] = {0};
    OG_CHECK(run(&y, "ConstantOfShape", 9, 1, (tin[]){{OG_INT64, 1, sd0, s}}, 0, NULL));
    expect_tensor(y, OG_FLOAT, 0, NULL, zeros);
    og_tensor_free(y);
    const int64_t sz[2] = {3, 0};
    OG_CHECK(run(&y, "ConstantOfShape", 9, 1, (tin[]){{OG_INT64, 1, sd, sz}}, 0, NULL));
    expect_tensor(y, OG_FLOAT, 2, sz, NULL);
    og_tensor_free(y);
}
END_TEST

START_TEST(constantofshape_errors)
{
    int64_t sd[1] = {2}, sd2[2] = {1, 2}, sd40[1] = {40};
    const int64_t neg[2] = {2, -1};
    expect_run_fail(OG_ERR_SHAPE, "has -1 at position 1; expected dims >= 0", "ConstantOfShape", 9, 1,
                    (tin[]){{OG_INT64, 1, sd, neg}}, 0, NULL);
    expect_fail_with(OG_ERR_SHAPE, "has -1 at position 1", "ConstantOfShape", 9, OG_UNDEFINED, -2, NULL, 2, neg, 0,
                     NULL);
    expect_fail(OG_ERR_SHAPE, "has type int32, expected int64", "ConstantOfShape", 9, 1,
                (tin[]){{OG_INT32, 1, sd, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "must be 1-D, got shape [1,2]", "ConstantOfShape", 9, 1,
                (tin[]){{OG_INT64, 2, sd2, NULL}}, 0, NULL);
    expect_fail(OG_ERR_LIMIT, "40 entries", "ConstantOfShape", 9, 1, (tin[]){{OG_INT64, 1, sd40, NULL}}, 0, NULL);
    og_tensor *v;
    const float two[2] = {1, 2};
    int64_t n2 = 2;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &n2, two, &v));
    og_attr a = og_attr_tensor("value", v);
    expect_fail(OG_ERR_ATTR, "value must hold one element, got 2", "ConstantOfShape", 9, 1,
                (tin[]){{OG_INT64, 1, sd, NULL}}, 1, &a);
    og_tensor_free(v);
    expect_fail(OG_ERR_UNSUPPORTED, "older than", "ConstantOfShape", 8, 1, (tin[]){{OG_INT64, 1, sd, NULL}}, 0, NULL);
}
END_TEST

/* The input's length fixes the rank even when its data is unknown; with
 * an initializer the shape is fully known at load time. */
START_TEST(constantofshape_unknown)
{
    int64_t sd[1] = {3}, sdu[1] = {-1};
    int64_t w3[3] = {-1, -1, -1};
    expect_shape(OG_FLOAT, 3, w3, "ConstantOfShape", 9, 1, (tin[]){{OG_INT64, 1, sd, NULL}}, 0, NULL);
    expect_shape(OG_FLOAT, -1, NULL, "ConstantOfShape", 9, 1, (tin[]){{OG_INT64, 1, sdu, NULL}}, 0, NULL);
    const int64_t s[3] = {4, 1, 2};
    expect_shape_with(OG_FLOAT, 3, s, "ConstantOfShape", 9, OG_UNDEFINED, -2, NULL, 3, s, 0, NULL);
}
END_TEST

/* ---- backward rules (og_gradcheck: float64 finite differences) ---------- */

/* gradcheck of g (order 1 or 2) must run and pass; `inputs` fix the
 * non-float inputs and any input with unknown dims. */
static void gradcheck_ok(const og_graph *g, int order, int n_inputs, const og_tensor *const *inputs,
                         const char *what)
{
    og_gradcheck_options o = {.order = order, .seed = 17, .n_inputs = n_inputs, .inputs = inputs};
    og_gradcheck_report *r;
    og_status st = og_gradcheck(g, &o, &r);
    ck_assert_msg(st == OG_OK, "%s: gradcheck could not run: %s", what, og_errmsg());
    for (int k = 0; k < r->n; k++) {
        const og_gradcheck_entry *e = &r->entries[k];
        ck_assert_msg(e->pass, "%s: gradient of '%s' wrong at %lld: analytic %.10g numeric %.10g", what, e->name,
                      (long long)e->worst_index, e->worst_analytic, e->worst_numeric);
        ck_assert_int_gt(e->checked, 0);
    }
    ck_assert_msg(r->n > 0 && r->pass, "%s: no gradient checked", what);
    og_gradcheck_report_free(r);
}

/* Graph x (float, xd) -> NODE(op_type, attrs) -> y at opset 17, with an
 * optional int64 initializer "s" as the node's second input. */
static og_graph *grad_graph(const char *op_type, int x_rank, const int64_t *xd, int64_t n_s, const int64_t *s,
                            int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_tensor *t;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, x_rank, xd, NULL));
    if (s != NULL) {
        OG_CHECK(og_tensor_create_from(OG_INT64, 1, &n_s, s, &t));
        OG_CHECK(og_graph_add_initializer(g, "s", t));
        og_tensor_free(t);
    }
    OG_CHECK(og_graph_add_node(g, op_type, NULL, NODE, s != NULL ? 2 : 1, (const char *[]){"x", "s"}, 1,
                               (const char *[]){"y"}, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

START_TEST(reshape_gradient)
{
    int64_t xd[3] = {2, 3, 4};
    static const struct { int n; int64_t s[3]; } shapes[] = {
        {2, {4, -1}}, {1, {24}}, {3, {0, 4, 3}}, {3, {-1, 1, 2}},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        og_graph *g = grad_graph("Reshape", 3, xd, shapes[k].n, shapes[k].s, 0, NULL);
        gradcheck_ok(g, 1, 0, NULL, "Reshape");
        og_graph_free(g);
    }
}
END_TEST

/* Shape data and X's dims unknown when the gradient graph is built: the
 * rule takes X's shape with a Shape node. */
START_TEST(reshape_gradient_unknown_shape)
{
    og_graph *g;
    int64_t xd[2] = {-1, 6}, sd[1] = {3}, rd[2] = {2, 6}, n3 = 3;
    const int64_t s[3] = {3, 2, 2};
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i / 7.0f - 0.5f;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, xd, NULL));
    OG_CHECK(og_graph_add_input(g, "s", OG_INT64, 1, sd, NULL));
    OG_CHECK(og_graph_add_node(g, "Reshape", NULL, NODE, 2, (const char *[]){"x", "s"}, 1, (const char *[]){"y"},
                               0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_tensor *in[2];
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, rd, x, &in[0]));
    OG_CHECK(og_tensor_set_name(in[0], "x"));
    OG_CHECK(og_tensor_create_from(OG_INT64, 1, &n3, s, &in[1]));
    OG_CHECK(og_tensor_set_name(in[1], "s"));
    gradcheck_ok(g, 1, 2, (const og_tensor *const *)in, "Reshape, unknown shape");
    og_tensor_free(in[0]);
    og_tensor_free(in[1]);
    og_graph_free(g);
}
END_TEST

/* Empty tensors: the gradient Reshape must read a 0 in X's shape
 * literally. Flatten [2,3,0] at axis 1 gives [2,0]; read as "copy", the 0
 * at position 2 of [2,3,0] would point past dY's rank. Reshape [2,0] to
 * [0,5] (allowzero=1); read as "copy", [2,0] would take dY's 5. */
static void empty_gradient(const char *op_type, int xr, const int64_t *xd, int yr, const int64_t *yd, int64_t n_s,
                           const int64_t *s, int n_attrs, const og_attr *attrs)
{
    og_graph *g = grad_graph(op_type, xr, xd, n_s, s, n_attrs, attrs);
    og_tensor *x, *dy, *dx = NULL;
    OG_CHECK(og_tensor_create(OG_FLOAT, xr, xd, &x));
    OG_CHECK(og_tensor_create(OG_FLOAT, yr, yd, &dy));
    og_grad_options o = {.n_seeded = 1, .seeded = (const char *[]){"y"}};
    OG_CHECK(og_gradients(g, &o, 1, (const og_tensor *const[]){x}, (const og_tensor *const[]){dy}, &dx));
    expect_tensor(dx, OG_FLOAT, xr, xd, NULL);
    og_tensor_free(dx);
    og_tensor_free(dy);
    og_tensor_free(x);
    og_graph_free(g);
}

START_TEST(gradient_empty)
{
    int64_t xd[3] = {2, 3, 0}, yd[2] = {2, 0};
    og_attr a = og_attr_int("axis", 1);
    empty_gradient("Flatten", 3, xd, 2, yd, 0, NULL, 1, &a);
    int64_t xd2[2] = {2, 0}, yd2[2] = {0, 5};
    const int64_t s[2] = {0, 5};
    og_attr az = og_attr_int("allowzero", 1);
    empty_gradient("Reshape", 2, xd2, 2, yd2, 2, s, 1, &az);
}
END_TEST

START_TEST(transpose_gradient)
{
    int64_t xd[3] = {2, 3, 4};
    static const int64_t perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int k = 0; k < 6; k++) {
        og_attr a = og_attr_ints("perm", 3, perms[k]);
        og_graph *g = grad_graph("Transpose", 3, xd, 0, NULL, 1, &a);
        gradcheck_ok(g, 1, 0, NULL, "Transpose");
        og_graph_free(g);
    }
    og_graph *g = grad_graph("Transpose", 3, xd, 0, NULL, 0, NULL);
    gradcheck_ok(g, 1, 0, NULL, "Transpose (default perm)");
    og_graph_free(g);
    int64_t xd4[4] = {2, 1, 3, 2};
    const int64_t p4[4] = {3, 0, 2, 1};
    og_attr a4 = og_attr_ints("perm", 4, p4);
    g = grad_graph("Transpose", 4, xd4, 0, NULL, 1, &a4);
    gradcheck_ok(g, 1, 0, NULL, "Transpose (rank 4)");
    og_graph_free(g);
}
END_TEST

START_TEST(identity_gradient)
{
    int64_t xd[2] = {3, 2};
    og_graph *g = grad_graph("Identity", 2, xd, 0, NULL, 0, NULL);
    gradcheck_ok(g, 1, 0, NULL, "Identity");
    og_graph_free(g);
}
END_TEST

START_TEST(flatten_gradient)
{
    int64_t xd[3] = {2, 3, 4};
    for (int axis = -3; axis <= 3; axis++) {
        og_attr a = og_attr_int("axis", axis);
        og_graph *g = grad_graph("Flatten", 3, xd, 0, NULL, 1, &a);
        gradcheck_ok(g, 1, 0, NULL, "Flatten");
        og_graph_free(g);
    }
}
END_TEST

/* x -> Transpose -> Reshape (shape from a Constant) -> Identity -> Flatten.
 * (These rules are linear in dY and do not read x, so there is no second
 * order to check: the engine rightly refuses order 2 for them.) */
START_TEST(shapeops_chain_gradient)
{
    og_graph *g;
    int64_t xd[3] = {2, 3, 2};
    const int64_t perm[3] = {2, 0, 1}, s[2] = {3, -1};
    og_attr ap = og_attr_ints("perm", 3, perm), as = og_attr_ints("value_ints", 2, s), af = og_attr_int("axis", 0);
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 3, xd, NULL));
    OG_CHECK(og_graph_add_node(g, "Transpose", NULL, "t", 1, (const char *[]){"x"}, 1, (const char *[]){"xt"}, 1, &ap));
    OG_CHECK(og_graph_add_node(g, "Constant", NULL, "c", 0, NULL, 1, (const char *[]){"s"}, 1, &as));
    OG_CHECK(og_graph_add_node(g, "Reshape", NULL, "r", 2, (const char *[]){"xt", "s"}, 1, (const char *[]){"xr"},
                               0, NULL));
    OG_CHECK(og_graph_add_node(g, "Identity", NULL, "i", 1, (const char *[]){"xr"}, 1, (const char *[]){"xi"}, 0,
                               NULL));
    OG_CHECK(og_graph_add_node(g, "Flatten", NULL, "f", 1, (const char *[]){"xi"}, 1, (const char *[]){"y"}, 1, &af));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    gradcheck_ok(g, 1, 0, NULL, "chain");
    og_graph_free(g);
}
END_TEST

static Suite *shapeops_suite(void)
{
    Suite *s = suite_create("ShapeOps");
    TCase *tc = tcase_create("reshape");
    tcase_add_test(tc, reshape_values);
    tcase_add_test(tc, reshape_allowzero);
    tcase_add_test(tc, reshape_dtypes);
    tcase_add_test(tc, reshape_bad_shape_values);
    tcase_add_test(tc, reshape_bad_inputs);
    tcase_add_test(tc, reshape_unknown);
    tcase_add_test(tc, reshape_shape_from_constant);
    suite_add_tcase(s, tc);
    tc = tcase_create("transpose");
    tcase_add_test(tc, transpose_matrix_default);
    tcase_add_test(tc, transpose_all_perms);
    tcase_add_test(tc, transpose_dtypes_and_edges);
    tcase_add_test(tc, transpose_errors);
    tcase_add_test(tc, transpose_unknown);
    suite_add_tcase(s, tc);
    tc = tcase_create("shape");
    tcase_add_test(tc, shape_slices);
    tcase_add_test(tc, shape_types_and_versions);
    tcase_add_test(tc, shape_unknown);
    tcase_add_test(tc, shape_subgraph_folds_when_static);
    suite_add_tcase(s, tc);
    tc = tcase_create("identity");
    tcase_add_test(tc, identity_copies);
    suite_add_tcase(s, tc);
    tc = tcase_create("constant");
    tcase_add_test(tc, constant_forms);
    tcase_add_test(tc, constant_errors);
    tcase_add_test(tc, constantofshape_values);
    tcase_add_test(tc, constantofshape_errors);
    tcase_add_test(tc, constantofshape_unknown);
    suite_add_tcase(s, tc);
    tc = tcase_create("backward");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, reshape_gradient);
    tcase_add_test(tc, reshape_gradient_unknown_shape);
    tcase_add_test(tc, gradient_empty);
    tcase_add_test(tc, transpose_gradient);
    tcase_add_test(tc, identity_gradient);
    tcase_add_test(tc, flatten_gradient);
    tcase_add_test(tc, shapeops_chain_gradient);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(shapeops_suite());
}
