/* SPDX-License-Identifier: MIT */
/* test_scatter.c — ScatterElements and GatherElements: the spec's worked
 * examples and small hand-checked cases (axis, negative axis and indices,
 * duplicates, each reduction), every dtype, int32 and int64 indices,
 * unknown-dim inference, and every error with its message; the backward
 * rules by hand and against float64 finite differences (og_gradcheck). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "onnxgrad/autodiff.h"
#include "testutil.h"

#define NODE "sc_node"

#include "onenode.h"

/* Runs op and checks y's dims; returns y (the caller frees it). */
static og_tensor *run_ok(const char *op, int opset, int n_in, const tin *ins, int n_attrs, const og_attr *attrs,
                         og_dtype dtype, int rank, const int64_t *dims)
{
    og_tensor *y;
    OG_CHECK(run(&y, op, opset, n_in, ins, n_attrs, attrs));
    ck_assert_int_eq(y->dtype, dtype);
    ck_assert_int_eq(y->rank, rank);
    for (int a = 0; a < rank; a++)
        ck_assert_int_eq(y->dims[a], dims[a]);
    return y;
}

static void expect_floats(const og_tensor *y, int n, const float *want)
{
    ck_assert_int_eq(y->numel, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(((const float *)y->data)[i] == want[i], "y[%d] = %g, expected %g", i,
                      (double)((const float *)y->data)[i], (double)want[i]);
}

/* Finalize succeeds, the run fails with `code` naming the node and `needle`. */
static void expect_run_fail(og_status code, const char *needle, const char *op, int opset, int n_in,
                            const tin *ins, int n_attrs, const og_attr *attrs)
{
    og_tensor *y = NULL;
    og_status st = run(&y, op, opset, n_in, ins, n_attrs, attrs);
    const char *msg = og_errmsg();
    ck_assert_msg(st == code, "expected %s, got %s: %s", og_status_name(code), og_status_name(st),
                  st ? msg : "(run succeeded)");
    ck_assert_msg(strstr(msg, "'" NODE "'") != NULL, "message does not name the node: %s", msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "message lacks \"%s\": %s", needle, msg);
    og_tensor_free(y);
}

/* ---- ScatterElements ---------------------------------------------------- */

/* The spec's Example 1: axis 0, each update lands in row indices[i][j] of
 * column j. */
START_TEST(scatter_spec_example_axis0)
{
    const int64_t dd[2] = {3, 3}, di[2] = {2, 3};
    const float data[9] = {0};
    const int64_t idx[6] = {1, 0, 2, 0, 2, 1};
    const float upd[6] = {1.0f, 1.1f, 1.2f, 2.0f, 2.1f, 2.2f};
    og_tensor *y = run_ok("ScatterElements", 16, 3,
                          (tin[]){{OG_FLOAT, 2, dd, data}, {OG_INT64, 2, di, idx}, {OG_FLOAT, 2, di, upd}}, 0,
                          NULL, OG_FLOAT, 2, dd);
    expect_floats(y, 9, (const float[]){2.0f, 1.1f, 0.0f, 1.0f, 0.0f, 2.2f, 0.0f, 2.1f, 1.2f});
    og_tensor_free(y);
}
END_TEST

/* The spec's Example 2 (axis 1), with axis -1 and at opsets 11 and 13 too;
 * then negative indices: -3 of 5 is column 2. */
START_TEST(scatter_spec_example_axis1_and_negatives)
{
    const int64_t dd[2] = {1, 5}, di[2] = {1, 2};
    const float data[5] = {1, 2, 3, 4, 5};
    const int64_t idx[2] = {1, 3}, neg[2] = {1, -3};
    const float upd[2] = {1.1f, 2.1f};
    const float want[5] = {1.0f, 1.1f, 3.0f, 2.1f, 5.0f};
    const int64_t axes[2] = {1, -1};
    const int opsets[3] = {11, 13, 16};
    for (int a = 0; a < 2; a++)
        for (int o = 0; o < 3; o++) {
            og_attr at = og_attr_int("axis", axes[a]);
            og_tensor *y = run_ok("ScatterElements", opsets[o], 3,
                                  (tin[]){{OG_FLOAT, 2, dd, data}, {OG_INT64, 2, di, idx}, {OG_FLOAT, 2, di, upd}},
                                  1, &at, OG_FLOAT, 2, dd);
            expect_floats(y, 5, want);
            og_tensor_free(y);
        }
    og_attr at = og_attr_int("axis", 1);
    og_tensor *y = run_ok("ScatterElements", 16, 3,
                          (tin[]){{OG_FLOAT, 2, dd, data}, {OG_INT64, 2, di, neg}, {OG_FLOAT, 2, di, upd}}, 1, &at,
                          OG_FLOAT, 2, dd);
    expect_floats(y, 5, (const float[]){1.0f, 1.1f, 2.1f, 4.0f, 5.0f});
    og_tensor_free(y);
}
END_TEST

/* Reduction none with a duplicate index: the last update wins. add sums
 * every update into data; mul multiplies them in. */
START_TEST(scatter_reductions)
{
    const int64_t d3[1] = {3};
    const float data[3] = {1, 2, 3};
    const int64_t idx[3] = {1, 1, 2};
    const float upd[3] = {5, 7, -1};
    tin ins[3] = {{OG_FLOAT, 1, d3, data}, {OG_INT64, 1, d3, idx}, {OG_FLOAT, 1, d3, upd}};

    og_tensor *y = run_ok("ScatterElements", 16, 3, ins, 0, NULL, OG_FLOAT, 1, d3);
    expect_floats(y, 3, (const float[]){1, 7, -1});
    og_tensor_free(y);
    og_attr none = og_attr_string("reduction", "none");
    y = run_ok("ScatterElements", 16, 3, ins, 1, &none, OG_FLOAT, 1, d3);
    expect_floats(y, 3, (const float[]){1, 7, -1});
    og_tensor_free(y);
    og_attr add = og_attr_string("reduction", "add");
    y = run_ok("ScatterElements", 16, 3, ins, 1, &add, OG_FLOAT, 1, d3);
    expect_floats(y, 3, (const float[]){1, 2 + 5 + 7, 3 - 1});
    og_tensor_free(y);
    og_attr mul = og_attr_string("reduction", "mul");
    y = run_ok("ScatterElements", 17, 3, ins, 1, &mul, OG_FLOAT, 1, d3);
    expect_floats(y, 3, (const float[]){1, 2 * 5 * 7, -3});
    og_tensor_free(y);
}
END_TEST

/* 3-D, axis 1, indices shorter than data on the other axes, int32 indices
 * and double data. data[i][j][k] = 100i + 10j + k; indices [2,1,2]. */
START_TEST(scatter_3d_partial_int32)
{
    const int64_t dd[3] = {2, 3, 3}, di[3] = {2, 1, 2};
    double data[18];
    for (int i = 0; i < 18; i++)
        data[i] = 100 * (i / 9) + 10 * (i / 3 % 3) + i % 3;
    const int32_t idx[4] = {2, 0, -1, 1};   /* [0][*][0]->row 2, [0][*][1]->row 0, [1][*][0]->row 2, [1][*][1]->row 1 */
    const double upd[4] = {-1, -2, -3, -4};
    og_attr at = og_attr_int("axis", 1);
    og_tensor *y = run_ok("ScatterElements", 13, 3,
                          (tin[]){{OG_DOUBLE, 3, dd, data}, {OG_INT32, 3, di, idx}, {OG_DOUBLE, 3, di, upd}}, 1, &at,
                          OG_DOUBLE, 3, dd);
    double want[18];
    memcpy(want, data, sizeof want);
    want[0 * 9 + 2 * 3 + 0] = -1;
    want[0 * 9 + 0 * 3 + 1] = -2;
    want[1 * 9 + 2 * 3 + 0] = -3;
    want[1 * 9 + 1 * 3 + 1] = -4;
    for (int i = 0; i < 18; i++)
        ck_assert_msg(((const double *)y->data)[i] == want[i], "y[%d] = %g, expected %g", i,
                      ((const double *)y->data)[i], want[i]);
    og_tensor_free(y);
}
END_TEST

/* Integer types wrap on add/mul overflow; bool add is or, mul is and. */
START_TEST(scatter_integer_and_bool_types)
{
    const int64_t d2[1] = {2}, d1[1] = {1};
    const int64_t i0[1] = {0};
    og_attr add = og_attr_string("reduction", "add"), mul = og_attr_string("reduction", "mul");
    og_tensor *y;

    const int8_t a8[2] = {127, 5}, u8v[1] = {1};
    y = run_ok("ScatterElements", 16, 3, (tin[]){{OG_INT8, 1, d2, a8}, {OG_INT64, 1, d1, i0}, {OG_INT8, 1, d1, u8v}},
               1, &add, OG_INT8, 1, d2);
    ck_assert_int_eq(((const int8_t *)y->data)[0], -128);
    ck_assert_int_eq(((const int8_t *)y->data)[1], 5);
    og_tensor_free(y);

    const uint8_t b8[2] = {16, 3}, m8[1] = {17};
    y = run_ok("ScatterElements", 16, 3, (tin[]){{OG_UINT8, 1, d2, b8}, {OG_INT64, 1, d1, i0}, {OG_UINT8, 1, d1, m8}},
               1, &mul, OG_UINT8, 1, d2);
    ck_assert_uint_eq(((const uint8_t *)y->data)[0], (16 * 17) % 256);
    og_tensor_free(y);

    const int16_t a16[2] = {-300, 1}, u16[1] = {200};
    y = run_ok("ScatterElements", 16, 3,
               (tin[]){{OG_INT16, 1, d2, a16}, {OG_INT64, 1, d1, i0}, {OG_INT16, 1, d1, u16}}, 1, &mul, OG_INT16, 1, d2);
    ck_assert_int_eq(((const int16_t *)y->data)[0], (int16_t)(-60000 + 65536));
    og_tensor_free(y);

    const uint16_t b16[2] = {65535, 2}, v16[1] = {65535};
    y = run_ok("ScatterElements", 16, 3,
               (tin[]){{OG_UINT16, 1, d2, b16}, {OG_INT64, 1, d1, i0}, {OG_UINT16, 1, d1, v16}}, 1, &mul, OG_UINT16, 1,
               d2);
    ck_assert_uint_eq(((const uint16_t *)y->data)[0], 1);   /* (2^16-1)^2 mod 2^16 */
    og_tensor_free(y);

    const int32_t a32[2] = {INT32_MAX, 0}, u32[1] = {1};
    y = run_ok("ScatterElements", 16, 3, (tin[]){{OG_INT32, 1, d2, a32}, {OG_INT64, 1, d1, i0}, {OG_INT32, 1, d1, u32}},
               1, &add, OG_INT32, 1, d2);
    ck_assert_int_eq(((const int32_t *)y->data)[0], INT32_MIN);
    og_tensor_free(y);

    const uint32_t b32[2] = {7, 8}, v32[1] = {9};
    y = run_ok("ScatterElements", 16, 3,
               (tin[]){{OG_UINT32, 1, d2, b32}, {OG_INT64, 1, d1, (const int64_t[]){-1}}, {OG_UINT32, 1, d1, v32}}, 0,
               NULL, OG_UINT32, 1, d2);
    ck_assert_uint_eq(((const uint32_t *)y->data)[0], 7);
    ck_assert_uint_eq(((const uint32_t *)y->data)[1], 9);
    og_tensor_free(y);

    const int64_t a64[2] = {INT64_MIN, 3}, u64[1] = {-1};
    y = run_ok("ScatterElements", 16, 3, (tin[]){{OG_INT64, 1, d2, a64}, {OG_INT64, 1, d1, i0}, {OG_INT64, 1, d1, u64}},
               1, &add, OG_INT64, 1, d2);
    ck_assert(((const int64_t *)y->data)[0] == INT64_MAX);
    og_tensor_free(y);

    const uint64_t b64[2] = {UINT64_MAX, 1}, v64[1] = {2};
    y = run_ok("ScatterElements", 16, 3,
               (tin[]){{OG_UINT64, 1, d2, b64}, {OG_INT64, 1, d1, i0}, {OG_UINT64, 1, d1, v64}}, 1, &add, OG_UINT64, 1,
               d2);
    ck_assert(((const uint64_t *)y->data)[0] == 1);
    og_tensor_free(y);

    /* bool: [1, 0]; add 1 at 1 -> [1, 1]; mul 0 at 0 -> [0, 0] */
    const uint8_t bb[2] = {1, 0}, one[1] = {1}, zero[1] = {0};
    y = run_ok("ScatterElements", 16, 3,
               (tin[]){{OG_BOOL, 1, d2, bb}, {OG_INT64, 1, d1, (const int64_t[]){1}}, {OG_BOOL, 1, d1, one}}, 1, &add,
               OG_BOOL, 1, d2);
    ck_assert(((const uint8_t *)y->data)[0] == 1 && ((const uint8_t *)y->data)[1] == 1);
    og_tensor_free(y);
    y = run_ok("ScatterElements", 16, 3, (tin[]){{OG_BOOL, 1, d2, bb}, {OG_INT64, 1, d1, i0}, {OG_BOOL, 1, d1, zero}},
               1, &mul, OG_BOOL, 1, d2);
    ck_assert(((const uint8_t *)y->data)[0] == 0 && ((const uint8_t *)y->data)[1] == 0);
    og_tensor_free(y);
}
END_TEST

/* Empty indices leave data as it is; an empty data axis takes empty indices. */
START_TEST(scatter_empty)
{
    const int64_t dd[2] = {2, 2}, di[2] = {0, 2};
    const float data[4] = {1, 2, 3, 4};
    og_tensor *y = run_ok("ScatterElements", 16, 3,
                          (tin[]){{OG_FLOAT, 2, dd, data}, {OG_INT64, 2, di, NULL}, {OG_FLOAT, 2, di, NULL}}, 0, NULL,
                          OG_FLOAT, 2, dd);
    expect_floats(y, 4, data);
    og_tensor_free(y);
    const int64_t de[2] = {2, 0};
    og_attr at = og_attr_int("axis", 1);
    y = run_ok("ScatterElements", 16, 3, (tin[]){{OG_FLOAT, 2, de, NULL}, {OG_INT64, 2, de, NULL}, {OG_FLOAT, 2, de, NULL}},
               1, &at, OG_FLOAT, 2, de);
    ck_assert_int_eq(y->numel, 0);
    og_tensor_free(y);
}
END_TEST

/* Output takes data's shape; unknown dims stay unknown; with data's rank
 * unknown the rank comes from indices or updates. */
START_TEST(scatter_infer_unknown)
{
    const int64_t dd[2] = {-1, 3}, di[2] = {2, -1}, dq[2] = {-1, -1};
    expect_shape(OG_FLOAT, 2, dd, "ScatterElements", 16, 3,
                 (tin[]){{OG_FLOAT, 2, dd, NULL}, {OG_INT64, 2, di, NULL}, {OG_FLOAT, 2, di, NULL}}, 0, NULL);
    expect_shape(OG_DOUBLE, 2, dq, "ScatterElements", 16, 3,
                 (tin[]){{OG_DOUBLE, -1, NULL, NULL}, {OG_INT64, 2, di, NULL}, {OG_DOUBLE, -1, NULL, NULL}}, 0, NULL);
    expect_shape(OG_DOUBLE, 2, dq, "ScatterElements", 16, 3,
                 (tin[]){{OG_DOUBLE, -1, NULL, NULL}, {OG_INT32, -1, NULL, NULL}, {OG_DOUBLE, 2, di, NULL}}, 0, NULL);
    og_graph *g;
    og_value_info vi;
    OG_CHECK(build(&g, "ScatterElements", 16, 3,
                   (tin[]){{OG_FLOAT, -1, NULL, NULL}, {OG_INT64, -1, NULL, NULL}, {OG_FLOAT, -1, NULL, NULL}}, 0, NULL));
    OG_CHECK(og_graph_value(g, "y", &vi));
    ck_assert_int_eq(vi.dtype, OG_FLOAT);
    ck_assert_int_eq(vi.rank, -1);
    og_graph_free(g);
}
END_TEST

/* Contract violations found at load time. */
START_TEST(scatter_infer_errors)
{
    const int64_t d22[2] = {2, 2}, d23[2] = {2, 3}, d32[2] = {3, 2}, d2[1] = {2};
    /* indices longer than data on a non-axis axis (axis 0, axis-1 dim 3 > 2) */
    expect_fail(OG_ERR_SHAPE, "on axis 1", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d23, NULL}, {OG_FLOAT, 2, d23, NULL}}, 0, NULL);
    /* ...which is allowed on the axis itself: [3,2] indices into [2,2] along axis 0 */
    expect_shape(OG_FLOAT, 2, d22, "ScatterElements", 16, 3,
                 (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d32, NULL}, {OG_FLOAT, 2, d32, NULL}}, 0, NULL);
    /* the same check sees updates' shape when indices' is unknown */
    expect_fail(OG_ERR_SHAPE, "on axis 1", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, -1, NULL, NULL}, {OG_FLOAT, 2, d23, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected the rank of data", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 1, d2, NULL}, {OG_FLOAT, 1, d2, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected the shape of indices", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}, {OG_FLOAT, 2, d32, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected the shape of indices", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}, {OG_FLOAT, 1, d2, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected the type of data", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}, {OG_DOUBLE, 2, d22, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected int32 or int64", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_FLOAT, 2, d22, NULL}, {OG_FLOAT, 2, d22, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected rank >= 1", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 0, NULL, NULL}, {OG_INT64, 0, NULL, NULL}, {OG_FLOAT, 0, NULL, NULL}}, 0, NULL);
    og_attr ax = og_attr_int("axis", 2);
    expect_fail(OG_ERR_ATTR, "expected a value in [-2, 1]", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}, {OG_FLOAT, 2, d22, NULL}}, 1, &ax);
    ax = og_attr_int("axis", -3);
    expect_fail(OG_ERR_ATTR, "'axis' is -3", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}, {OG_FLOAT, 2, d22, NULL}}, 1, &ax);
    og_attr red = og_attr_string("reduction", "max");
    expect_fail(OG_ERR_ATTR, "reduction", "ScatterElements", 16, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}, {OG_FLOAT, 2, d22, NULL}}, 1, &red);
    red = og_attr_string("reduction", "add");
    expect_fail(OG_ERR_ATTR, "reduction", "ScatterElements", 13, 3,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}, {OG_FLOAT, 2, d22, NULL}}, 1, &red);
    /* ScatterElements starts at opset 11 */
    og_graph *g;
    ck_assert_int_ne(build(&g, "ScatterElements", 10, 3,
                           (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}, {OG_FLOAT, 2, d22, NULL}}, 0,
                           NULL),
                     OG_OK);
    og_graph_free(g);
    /* float16 is valid ONNX onnxgrad cannot hold */
    og_status st = build(&g, "ScatterElements", 16, 3,
                         (tin[]){{OG_FLOAT16, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}, {OG_FLOAT16, 2, d22, NULL}}, 0,
                         NULL);
    ck_assert_int_eq(st, OG_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(og_errmsg(), "float16"));
    og_graph_free(g);
}
END_TEST

/* An index outside [-s, s-1] stops the run before anything is written
 * through it; the message names the value, its position and the bound. */
START_TEST(scatter_index_out_of_range)
{
    const int64_t dd[2] = {2, 3}, di[2] = {2, 2};
    const float data[6] = {0}, upd[4] = {1, 2, 3, 4};
    og_attr at = og_attr_int("axis", 1);
    const int64_t big[4] = {0, 1, 2, 3};
    expect_run_fail(OG_ERR_INVALID_ARG, "indices[1,1] is 3, out of range for axis 1 of size 3: expected a value in "
                    "[-3, 2]", "ScatterElements", 16, 3,
                    (tin[]){{OG_FLOAT, 2, dd, data}, {OG_INT64, 2, di, big}, {OG_FLOAT, 2, di, upd}}, 1, &at);
    const int32_t small[4] = {0, -4, 0, 0};
    expect_run_fail(OG_ERR_INVALID_ARG, "indices[0,1] is -4", "ScatterElements", 16, 3,
                    (tin[]){{OG_FLOAT, 2, dd, data}, {OG_INT32, 2, di, small}, {OG_FLOAT, 2, di, upd}}, 1, &at);
    const int64_t huge[4] = {INT64_MIN, 0, 0, 0};
    og_attr add = og_attr_string("reduction", "add");
    expect_run_fail(OG_ERR_INVALID_ARG, "indices[0,0] is -9223372036854775808", "ScatterElements", 16, 3,
                    (tin[]){{OG_FLOAT, 2, dd, data}, {OG_INT64, 2, di, huge}, {OG_FLOAT, 2, di, upd}}, 1, &add);
    /* an axis of size 0 has no valid index */
    const int64_t de[2] = {1, 0}, d11[2] = {1, 1};
    expect_run_fail(OG_ERR_INVALID_ARG, "size 0 on axis 1", "ScatterElements", 16, 3,
                    (tin[]){{OG_FLOAT, 2, de, NULL}, {OG_INT64, 2, d11, (const int64_t[]){0}},
                            {OG_FLOAT, 2, d11, upd}}, 1, &at);
}
END_TEST

/* ---- GatherElements ----------------------------------------------------- */

/* The spec's two examples. */
START_TEST(gather_spec_examples)
{
    const int64_t d22[2] = {2, 2};
    const float data1[4] = {1, 2, 3, 4};
    const int64_t idx1[4] = {0, 0, 1, 0};
    og_attr at = og_attr_int("axis", 1);
    og_tensor *y = run_ok("GatherElements", 13, 2, (tin[]){{OG_FLOAT, 2, d22, data1}, {OG_INT64, 2, d22, idx1}}, 1,
                          &at, OG_FLOAT, 2, d22);
    expect_floats(y, 4, (const float[]){1, 1, 4, 3});
    og_tensor_free(y);

    const int64_t d33[2] = {3, 3}, d23[2] = {2, 3};
    const float data2[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int32_t idx2[6] = {1, 2, 0, 2, 0, 0};
    at = og_attr_int("axis", 0);
    y = run_ok("GatherElements", 11, 2, (tin[]){{OG_FLOAT, 2, d33, data2}, {OG_INT32, 2, d23, idx2}}, 1, &at,
               OG_FLOAT, 2, d23);
    expect_floats(y, 6, (const float[]){4, 8, 3, 7, 2, 3});
    og_tensor_free(y);
}
END_TEST

/* Negative indices and a negative axis; indices longer than data along
 * the axis itself. */
START_TEST(gather_negative_and_long_axis)
{
    const int64_t d33[2] = {3, 3}, d23[2] = {2, 3};
    const float data[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int64_t idx[6] = {-1, -2, 0, -2, 0, -3};
    og_attr at = og_attr_int("axis", -2);
    og_tensor *y = run_ok("GatherElements", 13, 2, (tin[]){{OG_FLOAT, 2, d33, data}, {OG_INT64, 2, d23, idx}}, 1, &at,
                          OG_FLOAT, 2, d23);
    expect_floats(y, 6, (const float[]){7, 5, 3, 4, 2, 3});
    og_tensor_free(y);

    const int64_t d2[1] = {2}, d5[1] = {5};
    const float v[2] = {10, 20};
    const int64_t many[5] = {1, 1, 0, -1, -2};
    y = run_ok("GatherElements", 13, 2, (tin[]){{OG_FLOAT, 1, d2, v}, {OG_INT64, 1, d5, many}}, 0, NULL, OG_FLOAT, 1,
               d5);
    expect_floats(y, 5, (const float[]){20, 20, 10, 20, 10});
    og_tensor_free(y);
}
END_TEST

/* Every element size: double, int64, int32, int16, uint8, bool. */
START_TEST(gather_types)
{
    const int64_t d3[1] = {3}, d2[1] = {2};
    const int64_t idx[2] = {2, 0};
    og_tensor *y;

    y = run_ok("GatherElements", 13, 2, (tin[]){{OG_DOUBLE, 1, d3, (const double[]){0.5, 1.5, 2.5}},
                                                {OG_INT64, 1, d2, idx}}, 0, NULL, OG_DOUBLE, 1, d2);
    ck_assert(((const double *)y->data)[0] == 2.5 && ((const double *)y->data)[1] == 0.5);
    og_tensor_free(y);
    y = run_ok("GatherElements", 13, 2, (tin[]){{OG_INT64, 1, d3, (const int64_t[]){INT64_MIN, 0, INT64_MAX}},
                                                {OG_INT64, 1, d2, idx}}, 0, NULL, OG_INT64, 1, d2);
    ck_assert(((const int64_t *)y->data)[0] == INT64_MAX && ((const int64_t *)y->data)[1] == INT64_MIN);
    og_tensor_free(y);
    y = run_ok("GatherElements", 13, 2, (tin[]){{OG_INT32, 1, d3, (const int32_t[]){-7, 8, 9}},
                                                {OG_INT32, 1, d2, (const int32_t[]){2, 0}}}, 0, NULL, OG_INT32, 1, d2);
    ck_assert(((const int32_t *)y->data)[0] == 9 && ((const int32_t *)y->data)[1] == -7);
    og_tensor_free(y);
    y = run_ok("GatherElements", 13, 2, (tin[]){{OG_INT16, 1, d3, (const int16_t[]){-7, 8, 9}},
                                                {OG_INT64, 1, d2, idx}}, 0, NULL, OG_INT16, 1, d2);
    ck_assert(((const int16_t *)y->data)[0] == 9 && ((const int16_t *)y->data)[1] == -7);
    og_tensor_free(y);
    y = run_ok("GatherElements", 13, 2, (tin[]){{OG_UINT8, 1, d3, (const uint8_t[]){200, 1, 255}},
                                                {OG_INT64, 1, d2, idx}}, 0, NULL, OG_UINT8, 1, d2);
    ck_assert(((const uint8_t *)y->data)[0] == 255 && ((const uint8_t *)y->data)[1] == 200);
    og_tensor_free(y);
    y = run_ok("GatherElements", 13, 2, (tin[]){{OG_BOOL, 1, d3, (const uint8_t[]){1, 0, 0}},
                                                {OG_INT64, 1, d2, idx}}, 0, NULL, OG_BOOL, 1, d2);
    ck_assert(((const uint8_t *)y->data)[0] == 0 && ((const uint8_t *)y->data)[1] == 1);
    og_tensor_free(y);
}
END_TEST

/* Output takes indices' shape; data's rank stands in when indices' is unknown. */
START_TEST(gather_infer)
{
    const int64_t dd[3] = {4, -1, 5}, di[3] = {-1, 2, 7}, dq[3] = {-1, -1, -1};
    og_attr at = og_attr_int("axis", 2);
    expect_shape(OG_FLOAT, 3, di, "GatherElements", 13, 2, (tin[]){{OG_FLOAT, 3, dd, NULL}, {OG_INT64, 3, di, NULL}},
                 1, &at);
    expect_shape(OG_INT8, 3, dq, "GatherElements", 13, 2, (tin[]){{OG_INT8, 3, dd, NULL}, {OG_INT64, -1, NULL, NULL}},
                 1, &at);
    expect_shape(OG_FLOAT, 3, di, "GatherElements", 13, 2, (tin[]){{OG_FLOAT, -1, NULL, NULL}, {OG_INT32, 3, di, NULL}},
                 1, &at);
}
END_TEST

START_TEST(gather_errors)
{
    const int64_t d22[2] = {2, 2}, d23[2] = {2, 3}, d2[1] = {2};
    og_attr at = og_attr_int("axis", 0);
    expect_fail(OG_ERR_SHAPE, "indices may be at most 2 long, got 3", "GatherElements", 13, 2,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d23, NULL}}, 1, &at);
    expect_fail(OG_ERR_SHAPE, "expected the rank of data", "GatherElements", 13, 2,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 1, d2, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected int32 or int64", "GatherElements", 13, 2,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_UINT8, 2, d22, NULL}}, 0, NULL);
    at = og_attr_int("axis", 1);
    expect_fail(OG_ERR_ATTR, "expected a value in [-1, 0]", "GatherElements", 13, 2,
                (tin[]){{OG_FLOAT, 1, d2, NULL}, {OG_INT64, 1, d2, NULL}}, 1, &at);
    expect_fail(OG_ERR_SHAPE, "is a scalar", "GatherElements", 13, 2,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 0, NULL, NULL}}, 0, NULL);
    og_attr bogus = og_attr_string("reduction", "add");
    expect_fail(OG_ERR_ATTR, "reduction", "GatherElements", 13, 2,
                (tin[]){{OG_FLOAT, 2, d22, NULL}, {OG_INT64, 2, d22, NULL}}, 1, &bogus);

    const float data[4] = {1, 2, 3, 4};
    expect_run_fail(OG_ERR_INVALID_ARG, "indices[1,0] is 2, out of range for axis 0 of size 2: expected a value in "
                    "[-2, 1]", "GatherElements", 13, 2,
                    (tin[]){{OG_FLOAT, 2, d22, data}, {OG_INT64, 2, d22, (const int64_t[]){0, 1, 2, 0}}}, 0, NULL);
    expect_run_fail(OG_ERR_INVALID_ARG, "indices[0,1] is -3", "GatherElements", 13, 2,
                    (tin[]){{OG_FLOAT, 2, d22, data}, {OG_INT32, 2, d22, (const int32_t[]){0, -3, 0, 0}}}, 0, NULL);
}
END_TEST

/* ---- backward rules --------------------------------------------------------- */

/* Graph: float inputs "data" (dims dd) and, for ScatterElements, "updates"
 * (dims di); int64 initializer "idx" (dims di, values idx); NODE -> "y". */
static og_graph *grad_graph(const char *op, int opset, int rd, const int64_t *dd, int ri, const int64_t *di,
                            const int64_t *idx, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_tensor *it;
    bool scatter = strcmp(op, "ScatterElements") == 0;
    const char *ins[3] = { "data", "idx", "updates" }, *out[1] = { "y" };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    OG_CHECK(og_graph_add_input(g, "data", OG_FLOAT, rd, dd, NULL));
    if (scatter)
        OG_CHECK(og_graph_add_input(g, "updates", OG_FLOAT, ri, di, NULL));
    OG_CHECK(og_tensor_create_from(OG_INT64, ri, di, idx, &it));
    OG_CHECK(og_graph_add_initializer(g, "idx", it));
    og_tensor_free(it);
    OG_CHECK(og_graph_add_node(g, op, NULL, NODE, scatter ? 3 : 2, ins, 1, out, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

/* For second order (the op is linear in its float inputs): the op applied
 * to data*data (and updates*updates), at opset 16, rank 2. */
static og_graph *squared_graph(const char *op, const int64_t *dd, const int64_t *di, const int64_t *idx, int n_attrs,
                               const og_attr *attrs)
{
    og_graph *g;
    og_tensor *it;
    bool scatter = strcmp(op, "ScatterElements") == 0;
    const char *ins[3] = { "d2", "idx", "u2" }, *out[1] = { "y" };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 16));
    OG_CHECK(og_graph_add_input(g, "data", OG_FLOAT, 2, dd, NULL));
    OG_CHECK(og_graph_add_node(g, "Mul", NULL, "sq_d", 2, (const char *const[]){ "data", "data" }, 1,
                               (const char *const[]){ "d2" }, 0, NULL));
    if (scatter) {
        OG_CHECK(og_graph_add_input(g, "updates", OG_FLOAT, 2, di, NULL));
        OG_CHECK(og_graph_add_node(g, "Mul", NULL, "sq_u", 2, (const char *const[]){ "updates", "updates" }, 1,
                                   (const char *const[]){ "u2" }, 0, NULL));
    }
    OG_CHECK(og_tensor_create_from(OG_INT64, 2, di, idx, &it));
    OG_CHECK(og_graph_add_initializer(g, "idx", it));
    og_tensor_free(it);
    OG_CHECK(og_graph_add_node(g, op, NULL, NODE, scatter ? 3 : 2, ins, 1, out, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

/* og_gradcheck (order 1 or 2) over every float input must pass; `given`
 * fixes inputs whose declared dims are unknown. */
static void gradcheck_order(og_graph *g, int order, int n_given, const og_tensor *const *given, uint64_t seed)
{
    og_gradcheck_options o = { .seed = seed, .order = order, .n_inputs = n_given, .inputs = given };
    og_gradcheck_report *r;
    OG_CHECK(og_gradcheck(g, &o, &r));
    for (int k = 0; k < r->n; k++)
        ck_assert_msg(r->entries[k].pass, "%s: element %lld analytic %g numeric %g", r->entries[k].name,
                      (long long)r->entries[k].worst_index, r->entries[k].worst_analytic,
                      r->entries[k].worst_numeric);
    ck_assert(r->pass);
    og_gradcheck_report_free(r);
    og_graph_free(g);
}

static void gradcheck_graph(og_graph *g, uint64_t seed)
{
    gradcheck_order(g, 1, 0, NULL, seed);
}

/* Gradients of "data" (and "updates") for the given inputs and dy. */
static void grads_of(og_graph *g, int n_in, const og_tensor *const *in, const og_tensor *dy, og_tensor **grads)
{
    og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "y" } };
    OG_CHECK(og_gradients(g, &o, n_in, in, &dy, grads));
    og_graph_free(g);
}

/* By hand: data [4], indices [1, 3], updates [a, b], dY = [1, 2, 3, 4].
 * none: positions 1 and 3 are overwritten, so d data = [1, 0, 3, 0] and
 * d updates = [2, 4]; add: d data = dY, d updates = [2, 4]. */
START_TEST(scatter_grad_by_hand)
{
    const int64_t d4[1] = { 4 }, d2[1] = { 2 };
    const char *reds[2] = { "none", "add" };
    const float want_data[2][4] = { { 1, 0, 3, 0 }, { 1, 2, 3, 4 } };
    og_tensor *data, *upd, *dy;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d4, (const float[]){ 9, 9, 9, 9 }, &data));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d2, (const float[]){ 5, 6 }, &upd));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d4, (const float[]){ 1, 2, 3, 4 }, &dy));
    OG_CHECK(og_tensor_set_name(data, "data"));
    OG_CHECK(og_tensor_set_name(upd, "updates"));
    for (int r = 0; r < 2; r++) {
        og_attr red = og_attr_string("reduction", reds[r]);
        og_tensor *g[2];
        grads_of(grad_graph("ScatterElements", 16, 1, d4, 1, d2, (const int64_t[]){ 1, -1 }, 1, &red), 2,
                 (const og_tensor *const[]){ data, upd }, dy, g);
        expect_floats(g[0], 4, want_data[r]);
        expect_floats(g[1], 2, (const float[]){ 2, 4 });
        og_tensor_free(g[0]);
        og_tensor_free(g[1]);
    }
    og_tensor_free(data);
    og_tensor_free(upd);
    og_tensor_free(dy);
}
END_TEST

/* By hand: data [3], indices [0, 0, 2] (a duplicate), dY = [1, 2, 3]:
 * d data = [1 + 2, 0, 3]. */
START_TEST(gather_grad_by_hand)
{
    const int64_t d3[1] = { 3 };
    og_tensor *data, *dy, *g;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d3, (const float[]){ 7, 8, 9 }, &data));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d3, (const float[]){ 1, 2, 3 }, &dy));
    grads_of(grad_graph("GatherElements", 13, 1, d3, 1, d3, (const int64_t[]){ 0, 0, 2 }, 0, NULL), 1,
             (const og_tensor *const *)&data, dy, &g);
    expect_floats(g, 3, (const float[]){ 3, 0, 3 });
    og_tensor_free(g);
    og_tensor_free(data);
    og_tensor_free(dy);
}
END_TEST

/* Finite differences: reduction none (distinct indices per column, axis 0,
 * opset 11 and 16), none along axis 1 and -1 with indices shorter than
 * data, add with duplicates; second order for add and none. */
START_TEST(scatter_gradcheck)
{
    const int64_t dd[2] = { 3, 4 }, di[2] = { 2, 4 }, dj[2] = { 2, 3 };
    const int64_t perm[8] = { 2, 0, 1, 1, 0, 2, -3, 2 };   /* per column: 2,0 | 0,2 | 1,0 | 1,2 */
    const int64_t cols[6] = { 3, 0, -3, 2, 1, 0 };        /* per row: 3,0,1 | 2,1,0 */
    const int64_t dup[8] = { 0, 0, 1, 1, 0, 2, 1, 1 };
    og_attr ax1 = og_attr_int("axis", 1), axm1 = og_attr_int("axis", -1);
    og_attr add[2] = { og_attr_string("reduction", "add"), og_attr_int("axis", 0) };
    gradcheck_graph(grad_graph("ScatterElements", 11, 2, dd, 2, di, perm, 0, NULL), 1);
    gradcheck_graph(grad_graph("ScatterElements", 16, 2, dd, 2, di, perm, 0, NULL), 2);
    gradcheck_graph(grad_graph("ScatterElements", 16, 2, dd, 2, dj, cols, 1, &ax1), 3);
    gradcheck_graph(grad_graph("ScatterElements", 13, 2, dd, 2, dj, cols, 1, &axm1), 4);
    gradcheck_graph(grad_graph("ScatterElements", 16, 2, dd, 2, di, dup, 2, add), 5);
    /* second order, through the rules of the nodes these rules emit */
    gradcheck_order(squared_graph("ScatterElements", dd, di, dup, 2, add), 2, 0, NULL, 7);
    gradcheck_order(squared_graph("ScatterElements", dd, di, perm, 0, NULL), 2, 0, NULL, 8);
    /* updates and data with unknown dims: zeros come from a Shape node */
    const int64_t du[2] = { -1, 4 }, dq[2] = { 3, -1 };
    og_tensor *data, *upd;
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, dd, &data));
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, di, &upd));
    for (int i = 0; i < 12; i++)
        ((float *)data->data)[i] = (float)i / 7.0f - 0.8f;
    for (int i = 0; i < 8; i++)
        ((float *)upd->data)[i] = 0.5f - (float)i / 5.0f;
    OG_CHECK(og_tensor_set_name(data, "data"));
    OG_CHECK(og_tensor_set_name(upd, "updates"));
    og_graph *g;
    og_tensor *it;
    const char *ins[3] = { "data", "idx", "updates" }, *out[1] = { "y" };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 16));
    OG_CHECK(og_graph_add_input(g, "data", OG_FLOAT, 2, dq, NULL));
    OG_CHECK(og_graph_add_input(g, "updates", OG_FLOAT, 2, du, NULL));
    OG_CHECK(og_tensor_create_from(OG_INT64, 2, di, perm, &it));
    OG_CHECK(og_graph_add_initializer(g, "idx", it));
    og_tensor_free(it);
    OG_CHECK(og_graph_add_node(g, "ScatterElements", NULL, NODE, 3, ins, 1, out, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    gradcheck_order(g, 1, 2, (const og_tensor *const[]){ data, upd }, 6);
    og_tensor_free(data);
    og_tensor_free(upd);
}
END_TEST

/* Finite differences: axis 0, 1 and -1, duplicates, indices longer than
 * data along the axis, 3-D with shorter indices; second order. */
START_TEST(gather_gradcheck)
{
    const int64_t dd[2] = { 3, 4 }, di[2] = { 5, 4 }, d3[3] = { 2, 3, 4 }, i3[3] = { 2, 2, 5 };
    const int64_t idx[20] = { 0, 1, 2, 0, 2, 2, 1, 1, -1, 0, 0, 2, 1, 1, 1, 1, 0, -3, 2, 0 };
    int64_t idx3[20];
    for (int i = 0; i < 20; i++)
        idx3[i] = (i * 7) % 4 - 1;   /* in [-1, 2] for axis 2 of size 4 */
    og_attr ax0 = og_attr_int("axis", 0), axm1 = og_attr_int("axis", -1);
    gradcheck_graph(grad_graph("GatherElements", 11, 2, dd, 2, di, idx, 1, &ax0), 11);
    gradcheck_graph(grad_graph("GatherElements", 13, 3, d3, 3, i3, idx3, 1, &axm1), 12);
    const int64_t d33[2] = { 3, 3 }, i32[2] = { 3, 2 };
    const int64_t idx1[6] = { 2, 2, 0, 1, 1, 1 };
    og_attr ax1 = og_attr_int("axis", 1);
    gradcheck_graph(grad_graph("GatherElements", 13, 2, d33, 2, i32, idx1, 1, &ax1), 13);
    gradcheck_order(squared_graph("GatherElements", dd, di, idx, 1, &ax0), 2, 0, NULL, 14);
}
END_TEST

/* Reduction mul has no rule: the build names the node. */
START_TEST(scatter_grad_mul_refused)
{
    const int64_t d2[1] = { 2 };
    og_attr mul = og_attr_string("reduction", "mul");
    og_graph *g = grad_graph("ScatterElements", 16, 1, d2, 1, d2, (const int64_t[]){ 0, 1 }, 1, &mul), *gg = NULL;
    og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "y" } };
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o, &gg), OG_ERR_UNSUPPORTED, "node '" NODE "' (ScatterElements)");
    ck_assert_ptr_nonnull(strstr(og_errmsg(), "mul"));
    ck_assert_ptr_null(gg);
    og_graph_free(g);
}
END_TEST

static Suite *scatter_suite(void)
{
    Suite *s = suite_create("ScatterElements/GatherElements");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, scatter_spec_example_axis0);
    tcase_add_test(tc, scatter_spec_example_axis1_and_negatives);
    tcase_add_test(tc, scatter_reductions);
    tcase_add_test(tc, scatter_3d_partial_int32);
    tcase_add_test(tc, scatter_integer_and_bool_types);
    tcase_add_test(tc, scatter_empty);
    tcase_add_test(tc, scatter_infer_unknown);
    tcase_add_test(tc, scatter_infer_errors);
    tcase_add_test(tc, scatter_index_out_of_range);
    tcase_add_test(tc, gather_spec_examples);
    tcase_add_test(tc, gather_negative_and_long_axis);
    tcase_add_test(tc, gather_types);
    tcase_add_test(tc, gather_infer);
    tcase_add_test(tc, gather_errors);
    tcase_add_test(tc, scatter_grad_by_hand);
    tcase_add_test(tc, gather_grad_by_hand);
    tcase_add_test(tc, scatter_gradcheck);
    tcase_add_test(tc, gather_gradcheck);
    tcase_add_test(tc, scatter_grad_mul_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(scatter_suite());
}
