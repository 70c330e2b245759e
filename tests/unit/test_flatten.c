/* SPDX-License-Identifier: MIT */
/* test_flatten.c — Flatten: every axis of a rank-3 tensor (0..r and -r..-1),
 * rank 0, unknown and zero dims, dtypes per opset, out-of-range axes. */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

#define NODE "flatten_node"

#include "onenode.h"

/* [2,3,4] flattened at axis a is [prod(dims[:a]), prod(dims[a:])]; the data
 * (0..23, row-major) is unchanged. Negative a means a + 3. */
START_TEST(flatten_every_axis)
{
    static const int64_t want[4][2] = {{1, 24}, {2, 12}, {6, 4}, {24, 1}};
    int64_t dims[3] = {2, 3, 4};
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i - 11.5f;
    for (int axis = -3; axis <= 3; axis++) {
        const int64_t *w = want[axis < 0 ? axis + 3 : axis];
        og_attr a = og_attr_int("axis", axis);
        og_tensor *y;
        OG_CHECK(run(&y, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, dims, x}}, 1, &a));
        ck_assert_int_eq(y->dtype, OG_FLOAT);
        ck_assert_int_eq(y->rank, 2);
        ck_assert_msg(y->dims[0] == w[0] && y->dims[1] == w[1], "axis %d: got [%lld,%lld]", axis,
                      (long long)y->dims[0], (long long)y->dims[1]);
        ck_assert(memcmp(y->data, x, sizeof x) == 0);
        og_tensor_free(y);
    }
}
END_TEST

START_TEST(flatten_default_axis_is_1)
{
    int64_t dims[3] = {2, 3, 4};
    int64_t want[2] = {2, 12};
    expect_shape(OG_FLOAT, 2, want, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 0, NULL);
    expect_shape(OG_FLOAT, 2, want, "Flatten", 1, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 0, NULL);
}
END_TEST

/* A scalar has rank 0: only axis 0 is valid, giving [1,1]. */
START_TEST(flatten_scalar)
{
    const double x = 2.5;
    og_attr a = og_attr_int("axis", 0);
    og_tensor *y;
    OG_CHECK(run(&y, "Flatten", 17, 1, (tin[]){{OG_DOUBLE, 0, NULL, &x}}, 1, &a));
    ck_assert_int_eq(y->rank, 2);
    ck_assert_int_eq(y->dims[0], 1);
    ck_assert_int_eq(y->dims[1], 1);
    ck_assert(((const double *)y->data)[0] == 2.5);
    og_tensor_free(y);
    /* the default axis 1 exceeds rank 0 */
    expect_fail(OG_ERR_ATTR, "axis", "Flatten", 17, 1, (tin[]){{OG_DOUBLE, 0, NULL, NULL}}, 0, NULL);
}
END_TEST

START_TEST(flatten_axis_out_of_range)
{
    int64_t dims[3] = {2, 3, 4};
    og_attr a4 = og_attr_int("axis", 4), am4 = og_attr_int("axis", -4), am1 = og_attr_int("axis", -1);
    expect_fail(OG_ERR_ATTR, "got 4", "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 1, &a4);
    expect_fail(OG_ERR_ATTR, "got -4", "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 1, &am4);
    /* negative axes arrived in opset 11 */
    expect_fail(OG_ERR_ATTR, "opset 11", "Flatten", 10, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 1, &am1);
    int64_t want[2] = {6, 4};
    expect_shape(OG_FLOAT, 2, want, "Flatten", 11, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 1, &am1);
}
END_TEST

/* Unknown dims make only their side unknown; a known 0 makes a side 0. */
START_TEST(flatten_unknown_dims)
{
    int64_t dims[4] = {-1, 3, 4, 5};
    og_attr a1 = og_attr_int("axis", 1), a2 = og_attr_int("axis", 2), a0 = og_attr_int("axis", 0);
    int64_t w1[2] = {-1, 60}, w2[2] = {-1, 20}, w0[2] = {1, -1};
    expect_shape(OG_FLOAT, 2, w1, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 4, dims, NULL}}, 1, &a1);
    expect_shape(OG_FLOAT, 2, w2, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 4, dims, NULL}}, 1, &a2);
    expect_shape(OG_FLOAT, 2, w0, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 4, dims, NULL}}, 1, &a0);
    int64_t zd[3] = {-1, 0, 2};
    int64_t wz[2] = {0, 2}, wz1[2] = {-1, 0};
    expect_shape(OG_FLOAT, 2, wz, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, zd, NULL}}, 1, &a2);
    expect_shape(OG_FLOAT, 2, wz1, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, zd, NULL}}, 1, &a1);
}
END_TEST

/* Any type onnxgrad holds from opset 9; only float types before. */
START_TEST(flatten_dtypes)
{
    int64_t dims[2] = {2, 2};
    const int64_t xi[4] = {1, -2, INT64_MAX, INT64_MIN};
    og_attr a0 = og_attr_int("axis", 0);
    og_tensor *y;
    OG_CHECK(run(&y, "Flatten", 13, 1, (tin[]){{OG_INT64, 2, dims, xi}}, 1, &a0));
    ck_assert_int_eq(y->dtype, OG_INT64);
    ck_assert_int_eq(y->dims[0], 1);
    ck_assert_int_eq(y->dims[1], 4);
    ck_assert(memcmp(y->data, xi, sizeof xi) == 0);
    og_tensor_free(y);

    const uint8_t xb[4] = {1, 0, 1, 1};
    OG_CHECK(run(&y, "Flatten", 9, 1, (tin[]){{OG_BOOL, 2, dims, xb}}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_BOOL);
    ck_assert(memcmp(y->data, xb, sizeof xb) == 0);
    og_tensor_free(y);

    expect_fail(OG_ERR_SHAPE, "int64", "Flatten", 8, 1, (tin[]){{OG_INT64, 2, dims, NULL}}, 0, NULL);
}
END_TEST

static Suite *flatten_suite(void)
{
    Suite *s = suite_create("Flatten");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, flatten_every_axis);
    tcase_add_test(tc, flatten_default_axis_is_1);
    tcase_add_test(tc, flatten_scalar);
    tcase_add_test(tc, flatten_axis_out_of_range);
    tcase_add_test(tc, flatten_unknown_dims);
    tcase_add_test(tc, flatten_dtypes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(flatten_suite());
}
