/* SPDX-License-Identifier: MIT */
/* test_relu.c — Relu: worked values incl. zeros, -0, infinities and NaN;
 * every dtype and the opsets that admit it; shape passthrough; errors. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

#define NODE "relu_node"

#include "onenode.h"

/* max(0, x) by hand; NaN stays NaN, -inf -> 0, inf -> inf. */
START_TEST(relu_float_values)
{
    const float x[8] = {-2.0f, -0.5f, 0.0f, 0.5f, 3.0f, NAN, -INFINITY, INFINITY};
    const float want[8] = {0.0f, 0.0f, 0.0f, 0.5f, 3.0f, NAN, 0.0f, INFINITY};
    int64_t dims[2] = {2, 4};
    og_tensor *y;
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_FLOAT, 2, dims, x}}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_FLOAT);
    ck_assert_int_eq(y->rank, 2);
    ck_assert_int_eq(y->dims[0], 2);
    ck_assert_int_eq(y->dims[1], 4);
    const float *v = y->data;
    for (int i = 0; i < 8; i++) {
        if (isnan(want[i]))
            ck_assert_msg(isnan(v[i]), "Relu(NaN) must be NaN, got %g", (double)v[i]);
        else
            ck_assert_msg(v[i] == want[i], "y[%d] = %g, expected %g", i, (double)v[i], (double)want[i]);
    }
    og_tensor_free(y);
}
END_TEST

START_TEST(relu_double_values)
{
    const double x[6] = {-1e300, -4.9e-324, 0.0, 4.9e-324, 1e300, NAN};
    const double want[6] = {0.0, 0.0, 0.0, 4.9e-324, 1e300, NAN};
    int64_t dims[1] = {6};
    og_tensor *y;
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_DOUBLE, 1, dims, x}}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_DOUBLE);
    const double *v = y->data;
    for (int i = 0; i < 5; i++)
        ck_assert_msg(v[i] == want[i], "y[%d] = %g, expected %g", i, v[i], want[i]);
    ck_assert(isnan(v[5]));
    og_tensor_free(y);
}
END_TEST

/* Float Relu works at every opset; opset 1 still accepts (and ignores) the
 * legacy consumed_inputs attribute. */
START_TEST(relu_old_opsets)
{
    const float x[3] = {-1.0f, 0.0f, 2.0f};
    int64_t dims[1] = {3};
    static const int opsets[] = {1, 6, 13, 14};
    for (size_t k = 0; k < sizeof opsets / sizeof opsets[0]; k++) {
        og_tensor *y;
        OG_CHECK(run(&y, "Relu", opsets[k], 1, (tin[]){{OG_FLOAT, 1, dims, x}}, 0, NULL));
        const float *v = y->data;
        ck_assert(v[0] == 0.0f && v[1] == 0.0f && v[2] == 2.0f);
        og_tensor_free(y);
    }
    const int64_t consumed[1] = {0};
    og_attr a = og_attr_ints("consumed_inputs", 1, consumed);
    og_tensor *y;
    OG_CHECK(run(&y, "Relu", 1, 1, (tin[]){{OG_FLOAT, 1, dims, x}}, 1, &a));
    ck_assert(((const float *)y->data)[2] == 2.0f);
    og_tensor_free(y);
}
END_TEST

START_TEST(relu_consumed_inputs_gone_at_opset_6)
{
    int64_t dims[1] = {3};
    const int64_t consumed[1] = {0};
    og_attr a = og_attr_ints("consumed_inputs", 1, consumed);
    expect_fail(OG_ERR_ATTR, "consumed_inputs", "Relu", 6, 1, (tin[]){{OG_FLOAT, 1, dims, NULL}}, 1, &a);
}
END_TEST

/* Integer types from opset 14, including each type's minimum. */
START_TEST(relu_int_types_opset14)
{
    int64_t dims[1] = {4};
    og_tensor *y;

    const int8_t x8[4] = {INT8_MIN, -1, 0, INT8_MAX};
    OG_CHECK(run(&y, "Relu", 14, 1, (tin[]){{OG_INT8, 1, dims, x8}}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_INT8);
    const int8_t *v8 = y->data;
    ck_assert(v8[0] == 0 && v8[1] == 0 && v8[2] == 0 && v8[3] == INT8_MAX);
    og_tensor_free(y);

    const int16_t x16[4] = {INT16_MIN, -7, 5, INT16_MAX};
    OG_CHECK(run(&y, "Relu", 14, 1, (tin[]){{OG_INT16, 1, dims, x16}}, 0, NULL));
    const int16_t *v16 = y->data;
    ck_assert(v16[0] == 0 && v16[1] == 0 && v16[2] == 5 && v16[3] == INT16_MAX);
    og_tensor_free(y);

    const int32_t x32[4] = {INT32_MIN, -7, 0, 123456};
    OG_CHECK(run(&y, "Relu", 15, 1, (tin[]){{OG_INT32, 1, dims, x32}}, 0, NULL));
    const int32_t *v32 = y->data;
    ck_assert(v32[0] == 0 && v32[1] == 0 && v32[2] == 0 && v32[3] == 123456);
    og_tensor_free(y);

    const int64_t x64[4] = {INT64_MIN, -1, 1, INT64_MAX};
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_INT64, 1, dims, x64}}, 0, NULL));
    const int64_t *v64 = y->data;
    ck_assert(v64[0] == 0 && v64[1] == 0 && v64[2] == 1 && v64[3] == INT64_MAX);
    og_tensor_free(y);
}
END_TEST

START_TEST(relu_int_rejected_before_opset14)
{
    int64_t dims[1] = {4};
    expect_fail(OG_ERR_SHAPE, "int32", "Relu", 13, 1, (tin[]){{OG_INT32, 1, dims, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "int64", "Relu", 6, 1, (tin[]){{OG_INT64, 1, dims, NULL}}, 0, NULL);
}
END_TEST

/* Unsigned and bool are never Relu types; float16 is valid ONNX that
 * onnxgrad cannot hold. */
START_TEST(relu_bad_types)
{
    int64_t dims[1] = {4};
    expect_fail(OG_ERR_SHAPE, "uint8", "Relu", 17, 1, (tin[]){{OG_UINT8, 1, dims, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "bool", "Relu", 17, 1, (tin[]){{OG_BOOL, 1, dims, NULL}}, 0, NULL);
    og_graph *g;
    og_status st = build(&g, "Relu", 17, 1, (tin[]){{OG_FLOAT16, 1, dims, NULL}}, 0, NULL);
    /* the engine may refuse a float16 graph input itself; either way not OK */
    ck_assert_int_ne(st, OG_OK);
    if (st == OG_ERR_UNSUPPORTED)
        ck_assert_ptr_nonnull(strstr(og_errmsg(), "float16"));
    og_graph_free(g);
}
END_TEST

/* Shape passes through: scalar, empty, unknown dims. */
START_TEST(relu_shapes)
{
    int64_t d3[3] = {2, -1, 5};
    expect_shape(OG_FLOAT, 3, d3, "Relu", 17, 1, (tin[]){{OG_FLOAT, 3, d3, NULL}}, 0, NULL);
    expect_shape(OG_DOUBLE, 0, NULL, "Relu", 17, 1, (tin[]){{OG_DOUBLE, 0, NULL, NULL}}, 0, NULL);

    const float xs = -3.0f;
    og_tensor *y;
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_FLOAT, 0, NULL, &xs}}, 0, NULL));
    ck_assert_int_eq(y->rank, 0);
    ck_assert(((const float *)y->data)[0] == 0.0f);
    og_tensor_free(y);

    int64_t d0[2] = {0, 3};
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_FLOAT, 2, d0, NULL}}, 0, NULL));
    ck_assert_int_eq(y->numel, 0);
    ck_assert_int_eq(y->dims[1], 3);
    og_tensor_free(y);
}
END_TEST

static Suite *relu_suite(void)
{
    Suite *s = suite_create("Relu");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, relu_float_values);
    tcase_add_test(tc, relu_double_values);
    tcase_add_test(tc, relu_old_opsets);
    tcase_add_test(tc, relu_consumed_inputs_gone_at_opset_6);
    tcase_add_test(tc, relu_int_types_opset14);
    tcase_add_test(tc, relu_int_rejected_before_opset14);
    tcase_add_test(tc, relu_bad_types);
    tcase_add_test(tc, relu_shapes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(relu_suite());
}
