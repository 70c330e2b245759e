/* SPDX-License-Identifier: MIT */
/* test_elementwise.c — numpy-style broadcasting (src/broadcast.c) and the
 * ops built on it: Add, Mul, Greater, LessOrEqual, Where, Expand. Hand-checked
 * broadcasting examples (scalars, rank 0, size 0, three-way), the shape
 * error message, unknown dims, dtype rules per opset, integer wrap-around,
 * NaN, bool outputs, and Expand's data-dependent shape; then the backward
 * rules of Add, Mul, Where, Expand and Relu against float64 finite
 * differences (og_gradcheck, first and second order) with broadcasting. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "internal.h"
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

#define NODE "ew_node"

#include "onenode.h"

/* ---- helpers ------------------------------------------------------------ */

static og_shape shp(int rank, const int64_t *dims)
{
    og_shape s = {.rank = rank};
    for (int k = 0; k < rank; k++)
        s.dims[k] = dims[k];
    return s;
}

static void expect_dims(const og_tensor *y, int rank, const int64_t *dims)
{
    ck_assert_int_eq(y->rank, rank);
    for (int k = 0; k < rank; k++)
        ck_assert_msg(y->dims[k] == dims[k], "dim %d: expected %lld, got %lld", k, (long long)dims[k],
                      (long long)y->dims[k]);
}

static void expect_floats(const og_tensor *y, int64_t n, const float *want)
{
    ck_assert_int_eq(y->dtype, OG_FLOAT);
    ck_assert_int_eq(y->numel, n);
    const float *v = y->data;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(want[i]))
            ck_assert_msg(isnan(v[i]), "y[%lld] = %g, expected NaN", (long long)i, (double)v[i]);
        else
            ck_assert_msg(v[i] == want[i], "y[%lld] = %g, expected %g", (long long)i, (double)v[i],
                          (double)want[i]);
    }
}

static void expect_bools(const og_tensor *y, int64_t n, const uint8_t *want)
{
    ck_assert_int_eq(y->dtype, OG_BOOL);
    ck_assert_int_eq(y->numel, n);
    const uint8_t *v = y->data;
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(v[i] == want[i], "y[%lld] = %d, expected %d", (long long)i, v[i], want[i]);
}

/* ---- og_broadcast_shape ------------------------------------------------- */

static og_status bshape(int n, const og_shape *in, og_shape *out)
{
    const og_shape *p[3] = {&in[0], n > 1 ? &in[1] : NULL, n > 2 ? &in[2] : NULL};
    static const char *const roles[3] = {"A", "B", "C"};
    static const char *const names[3] = {"a", "b", "c"};
    return og_broadcast_shape("node 'n' (Test)", n, p, roles, names, out);
}

static void expect_bshape(int n, const og_shape *in, int rank, const int64_t *dims)
{
    og_shape y;
    OG_CHECK(bshape(n, in, &y));
    ck_assert_int_eq(y.rank, rank);
    for (int k = 0; k < rank; k++)
        ck_assert_msg(y.dims[k] == dims[k], "dim %d: expected %lld, got %lld", k, (long long)dims[k],
                      (long long)y.dims[k]);
}

/* Right-aligned; missing leading dims count as 1; 1 stretches; 0 against
 * 1 is 0; rank 0 is a scalar. */
START_TEST(bcast_shape_known)
{
    expect_bshape(2, (og_shape[]){shp(3, (int64_t[]){3, 4, 5}), shp(1, (int64_t[]){5})}, 3, (int64_t[]){3, 4, 5});
    expect_bshape(2, (og_shape[]){shp(3, (int64_t[]){2, 1, 4}), shp(2, (int64_t[]){3, 1})}, 3, (int64_t[]){2, 3, 4});
    expect_bshape(2, (og_shape[]){shp(0, NULL), shp(2, (int64_t[]){2, 3})}, 2, (int64_t[]){2, 3});
    expect_bshape(2, (og_shape[]){shp(0, NULL), shp(0, NULL)}, 0, NULL);
    expect_bshape(2, (og_shape[]){shp(2, (int64_t[]){0, 1}), shp(1, (int64_t[]){5})}, 2, (int64_t[]){0, 5});
    expect_bshape(2, (og_shape[]){shp(1, (int64_t[]){1}), shp(1, (int64_t[]){0})}, 1, (int64_t[]){0});
    expect_bshape(3, (og_shape[]){shp(3, (int64_t[]){2, 1, 1}), shp(2, (int64_t[]){3, 1}), shp(1, (int64_t[]){4})},
                  3, (int64_t[]){2, 3, 4});
    expect_bshape(1, (og_shape[]){shp(2, (int64_t[]){7, 1})}, 2, (int64_t[]){7, 1});
}
END_TEST

/* A known 1 against an unknown gives unknown; a known non-1 fixes the dim;
 * an unknown rank gives an unknown rank. */
START_TEST(bcast_shape_unknown)
{
    expect_bshape(2, (og_shape[]){shp(1, (int64_t[]){1}), shp(1, (int64_t[]){-1})}, 1, (int64_t[]){-1});
    expect_bshape(2, (og_shape[]){shp(1, (int64_t[]){3}), shp(1, (int64_t[]){-1})}, 1, (int64_t[]){3});
    expect_bshape(2, (og_shape[]){shp(2, (int64_t[]){-1, 1}), shp(2, (int64_t[]){-1, 4})}, 2, (int64_t[]){-1, 4});
    expect_bshape(2, (og_shape[]){shp(1, (int64_t[]){-1}), shp(3, (int64_t[]){2, 3, 1})}, 3, (int64_t[]){2, 3, -1});
    expect_bshape(3, (og_shape[]){shp(1, (int64_t[]){-1}), shp(1, (int64_t[]){1}), shp(1, (int64_t[]){6})},
                  1, (int64_t[]){6});
    og_shape y;
    OG_CHECK(bshape(2, (og_shape[]){shp(-1, NULL), shp(1, (int64_t[]){3})}, &y));
    ck_assert_int_eq(y.rank, -1);
}
END_TEST

/* A clash names both tensors, their shapes, the axis and the dims. */
START_TEST(bcast_shape_mismatch)
{
    og_shape y;
    OG_CHECK_FAILS(bshape(2, (og_shape[]){shp(2, (int64_t[]){2, 3}), shp(1, (int64_t[]){4})}, &y), OG_ERR_SHAPE,
                   "node 'n' (Test): cannot broadcast A 'a' of shape [2,3] with B 'b' of shape [4]: output axis 1 "
                   "of 2 (shapes right-aligned) is 3 against 4; expected equal dims or 1");
    /* three-way: the pair that clashes is named, even past an unknown dim */
    OG_CHECK_FAILS(bshape(3, (og_shape[]){shp(1, (int64_t[]){-1}), shp(2, (int64_t[]){2, 5}), shp(1, (int64_t[]){6})},
                          &y),
                   OG_ERR_SHAPE, "B 'b' of shape [2,5] with C 'c' of shape [6]");
    /* 0 is not 1: it does not stretch */
    OG_CHECK_FAILS(bshape(2, (og_shape[]){shp(1, (int64_t[]){0}), shp(1, (int64_t[]){2})}, &y), OG_ERR_SHAPE,
                   "0 against 2");
}
END_TEST

/* ---- og_bcast iteration -------------------------------------------------- */

/* Walks the iterator and checks every element's offsets against the
 * div/mod definition. */
static void check_walk(int n, og_tensor *out, og_tensor **in)
{
    og_bcast it;
    OG_CHECK(og_bcast_begin(&it, "walk", out, n, (const og_tensor *const *)in));
    int64_t seen = 0;
    for (bool more = it.numel > 0; more; more = og_bcast_next_row(&it)) {
        int64_t len = it.dims[it.rank - 1];
        ck_assert_int_eq(it.row, seen);
        for (int64_t i = 0; i < len; i++, seen++) {
            for (int k = 0; k < n; k++) {
                /* expected offset of input k for output flat index `seen` */
                int64_t rem = seen, off = 0, stride = 1;
                for (int d = out->rank - 1; d >= 0; d--) {
                    int64_t idx = rem % out->dims[d];
                    rem /= out->dims[d];
                    int j = in[k]->rank - (out->rank - d);
                    if (j >= 0) {
                        if (in[k]->dims[j] != 1)
                            off += idx * stride;
                        stride *= in[k]->dims[j];
                    }
                }
                ck_assert_msg(it.off[k] + i * it.strides[k][it.rank - 1] == off,
                              "element %lld, input %d: offset %lld, expected %lld", (long long)seen, k,
                              (long long)(it.off[k] + i * it.strides[k][it.rank - 1]), (long long)off);
            }
        }
    }
    ck_assert_int_eq(seen, out->numel);
}

static og_tensor *zeros(int rank, const int64_t *dims)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, rank, dims, &t));
    return t;
}

/* Axes are merged where every operand steps in step: equal shapes make one
 * row; [3,4,5] against [5] makes 12 rows of 5; and every offset matches the
 * div/mod definition. */
START_TEST(bcast_iter_merges_and_walks)
{
    og_bcast it;
    og_tensor *o = zeros(3, (int64_t[]){3, 4, 5}), *a = zeros(3, (int64_t[]){3, 4, 5}), *b = zeros(1, (int64_t[]){5});
    OG_CHECK(og_bcast_begin(&it, "t", o, 2, (const og_tensor *const[]){a, a}));
    ck_assert_int_eq(it.rank, 1);
    ck_assert_int_eq(it.dims[0], 60);
    OG_CHECK(og_bcast_begin(&it, "t", o, 2, (const og_tensor *const[]){a, b}));
    ck_assert_int_eq(it.rank, 2);
    ck_assert(it.dims[0] == 12 && it.dims[1] == 5);
    ck_assert(it.strides[0][0] == 5 && it.strides[0][1] == 1);
    ck_assert(it.strides[1][0] == 0 && it.strides[1][1] == 1);
    check_walk(2, o, (og_tensor *[]){a, b});
    og_tensor_free(o);
    og_tensor_free(a);
    og_tensor_free(b);

    /* [2,1,3] x [4,1] x [] -> [2,4,3]: each axis broadcast by someone */
    o = zeros(3, (int64_t[]){2, 4, 3});
    a = zeros(3, (int64_t[]){2, 1, 3});
    b = zeros(2, (int64_t[]){4, 1});
    og_tensor *s = zeros(0, NULL);
    check_walk(3, o, (og_tensor *[]){a, b, s});
    check_walk(3, o, (og_tensor *[]){s, a, b});
    og_tensor_free(o);
    og_tensor_free(a);
    og_tensor_free(b);

    /* size-1 axes in the middle of the output are dropped */
    o = zeros(4, (int64_t[]){2, 1, 3, 1});
    a = zeros(2, (int64_t[]){3, 1});
    check_walk(2, o, (og_tensor *[]){a, o});
    og_tensor_free(o);
    og_tensor_free(a);

    /* a scalar output is one row of one */
    o = zeros(0, NULL);
    OG_CHECK(og_bcast_begin(&it, "t", o, 1, (const og_tensor *const[]){s}));
    ck_assert(it.rank == 1 && it.dims[0] == 1 && it.numel == 1);
    ck_assert(!og_bcast_next_row(&it));
    og_tensor_free(o);

    /* an input that does not fit is the kernel's internal error */
    o = zeros(1, (int64_t[]){3});
    a = zeros(1, (int64_t[]){2});
    OG_CHECK_FAILS(og_bcast_begin(&it, "node 'q' (Test)", o, 1, (const og_tensor *const[]){a}), OG_ERR_INTERNAL,
                   "input 0 of shape [2] does not broadcast to the output's shape [3]");
    og_tensor_free(o);
    og_tensor_free(a);
    og_tensor_free(s);
}
END_TEST

/* ---- Add ------------------------------------------------------------------ */

/* [[1,2,3],[4,5,6]] + [10,20,30] = [[11,22,33],[14,25,36]];
 * the same plus a column [[100],[200]] = [[101,102,103],[204,205,206]]. */
START_TEST(add_broadcast_float)
{
    const float a[6] = {1, 2, 3, 4, 5, 6}, row[3] = {10, 20, 30}, col[2] = {100, 200};
    int64_t d23[2] = {2, 3}, d3[1] = {3}, d21[2] = {2, 1};
    og_tensor *y;
    OG_CHECK(run(&y, "Add", 14, 2, (tin[]){{OG_FLOAT, 2, d23, a}, {OG_FLOAT, 1, d3, row}}, 0, NULL));
    expect_dims(y, 2, d23);
    expect_floats(y, 6, (float[]){11, 22, 33, 14, 25, 36});
    og_tensor_free(y);
    OG_CHECK(run(&y, "Add", 7, 2, (tin[]){{OG_FLOAT, 2, d21, col}, {OG_FLOAT, 2, d23, a}}, 0, NULL));
    expect_dims(y, 2, d23);
    expect_floats(y, 6, (float[]){101, 102, 103, 204, 205, 206});
    og_tensor_free(y);
    /* outer sum: [2,1] + [3] -> [2,3] */
    OG_CHECK(run(&y, "Add", 13, 2, (tin[]){{OG_FLOAT, 2, d21, col}, {OG_FLOAT, 1, d3, row}}, 0, NULL));
    expect_floats(y, 6, (float[]){110, 120, 130, 210, 220, 230});
    og_tensor_free(y);
}
END_TEST

/* Rank 0 against rank 0 stays rank 0; a scalar against a matrix; [1]
 * against rank 0 is [1]; a size-0 dim gives an empty output. */
START_TEST(add_scalars_and_empty)
{
    const double s1 = 1.5, s2 = 2.25, m[4] = {1, 2, 3, 4};
    int64_t d22[2] = {2, 2}, d1[1] = {1}, d03[2] = {0, 3}, d13[2] = {1, 3};
    og_tensor *y;
    OG_CHECK(run(&y, "Add", 14, 2, (tin[]){{OG_DOUBLE, 0, NULL, &s1}, {OG_DOUBLE, 0, NULL, &s2}}, 0, NULL));
    ck_assert_int_eq(y->rank, 0);
    ck_assert(((const double *)y->data)[0] == 3.75);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Add", 14, 2, (tin[]){{OG_DOUBLE, 2, d22, m}, {OG_DOUBLE, 0, NULL, &s1}}, 0, NULL));
    expect_dims(y, 2, d22);
    const double *v = y->data;
    ck_assert(v[0] == 2.5 && v[1] == 3.5 && v[2] == 4.5 && v[3] == 5.5);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Add", 14, 2, (tin[]){{OG_DOUBLE, 0, NULL, &s1}, {OG_DOUBLE, 1, d1, &s2}}, 0, NULL));
    expect_dims(y, 1, d1);
    ck_assert(((const double *)y->data)[0] == 3.75);
    og_tensor_free(y);
    const double z[3] = {0};
    OG_CHECK(run(&y, "Add", 14, 2, (tin[]){{OG_DOUBLE, 2, d03, NULL}, {OG_DOUBLE, 2, d13, z}}, 0, NULL));
    expect_dims(y, 2, d03);
    ck_assert_int_eq(y->numel, 0);
    og_tensor_free(y);
}
END_TEST

/* Integers wrap modulo 2^bits, like numpy: 200 + 100 = 44 in uint8,
 * INT32_MAX + 1 = INT32_MIN, 127 + 1 = -128 in int8. */
START_TEST(add_integer_types)
{
    int64_t d2[1] = {2}, d1[1] = {1};
    og_tensor *y;
    OG_CHECK(run(&y, "Add", 14, 2, (tin[]){{OG_UINT8, 1, d2, (uint8_t[]){200, 7}}, {OG_UINT8, 1, d1, (uint8_t[]){100}}},
                 0, NULL));
    ck_assert_int_eq(y->dtype, OG_UINT8);
    ck_assert(((uint8_t *)y->data)[0] == 44 && ((uint8_t *)y->data)[1] == 107);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Add", 7, 2, (tin[]){{OG_INT32, 1, d2, (int32_t[]){INT32_MAX, -5}}, {OG_INT32, 1, d1, (int32_t[]){1}}},
                 0, NULL));
    ck_assert(((int32_t *)y->data)[0] == INT32_MIN && ((int32_t *)y->data)[1] == -4);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Add", 13, 2,
                 (tin[]){{OG_INT64, 1, d2, (int64_t[]){-3, 1LL << 40}}, {OG_INT64, 1, d2, (int64_t[]){5, 1LL << 40}}},
                 0, NULL));
    ck_assert(((int64_t *)y->data)[0] == 2 && ((int64_t *)y->data)[1] == 1LL << 41);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Add", 14, 2, (tin[]){{OG_INT8, 1, d2, (int8_t[]){127, -128}}, {OG_INT8, 1, d1, (int8_t[]){1}}},
                 0, NULL));
    ck_assert(((int8_t *)y->data)[0] == -128 && ((int8_t *)y->data)[1] == -127);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Add", 14, 2,
                 (tin[]){{OG_UINT64, 1, d1, (uint64_t[]){UINT64_MAX}}, {OG_UINT64, 1, d1, (uint64_t[]){2}}}, 0, NULL));
    ck_assert(((uint64_t *)y->data)[0] == 1);
    og_tensor_free(y);
}
END_TEST

/* NaN and infinities follow IEEE: NaN + 1 = NaN, inf + -inf = NaN. */
START_TEST(add_nan)
{
    int64_t d3[1] = {3};
    og_tensor *y;
    OG_CHECK(run(&y, "Add", 14, 2,
                 (tin[]){{OG_FLOAT, 1, d3, (float[]){NAN, INFINITY, 1}}, {OG_FLOAT, 1, d3, (float[]){1, -INFINITY, NAN}}},
                 0, NULL));
    expect_floats(y, 3, (float[]){NAN, NAN, NAN});
    og_tensor_free(y);
}
END_TEST

/* ---- Mul ------------------------------------------------------------------ */

/* Outer product [2,1] * [1,3]: [[1],[2]] * [[3,4,5]] = [[3,4,5],[6,8,10]];
 * a matrix times a scalar. */
START_TEST(mul_broadcast_float)
{
    int64_t d21[2] = {2, 1}, d13[2] = {1, 3}, d23[2] = {2, 3};
    og_tensor *y;
    OG_CHECK(run(&y, "Mul", 14, 2, (tin[]){{OG_FLOAT, 2, d21, (float[]){1, 2}}, {OG_FLOAT, 2, d13, (float[]){3, 4, 5}}},
                 0, NULL));
    expect_dims(y, 2, d23);
    expect_floats(y, 6, (float[]){3, 4, 5, 6, 8, 10});
    og_tensor_free(y);
    const float half = 0.5f;
    OG_CHECK(run(&y, "Mul", 7, 2, (tin[]){{OG_FLOAT, 0, NULL, &half}, {OG_FLOAT, 2, d23, (float[]){2, 4, 6, -2, -4, 1}}},
                 0, NULL));
    expect_floats(y, 6, (float[]){1, 2, 3, -1, -2, 0.5f});
    og_tensor_free(y);
    const double dv[3] = {1e200, -2, 0.25};
    int64_t d3[1] = {3};
    OG_CHECK(run(&y, "Mul", 13, 2, (tin[]){{OG_DOUBLE, 1, d3, dv}, {OG_DOUBLE, 1, d3, dv}}, 0, NULL));
    const double *v = y->data;
    ck_assert(isinf(v[0]) && v[1] == 4 && v[2] == 0.0625);
    og_tensor_free(y);
}
END_TEST

/* Products wrap: 16 * 16 = 0 in uint8; 65535 * 65535 = 1 in uint16 (no
 * signed-int overflow on the way); -128 * -1 = -128 in int8. */
START_TEST(mul_integer_types)
{
    int64_t d1[1] = {1}, d2[1] = {2};
    og_tensor *y;
    OG_CHECK(run(&y, "Mul", 14, 2, (tin[]){{OG_UINT8, 1, d2, (uint8_t[]){16, 3}}, {OG_UINT8, 1, d1, (uint8_t[]){16}}},
                 0, NULL));
    ck_assert(((uint8_t *)y->data)[0] == 0 && ((uint8_t *)y->data)[1] == 48);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Mul", 14, 2,
                 (tin[]){{OG_UINT16, 1, d1, (uint16_t[]){65535}}, {OG_UINT16, 1, d1, (uint16_t[]){65535}}}, 0, NULL));
    ck_assert(((uint16_t *)y->data)[0] == 1);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Mul", 14, 2, (tin[]){{OG_INT8, 1, d2, (int8_t[]){-128, 7}}, {OG_INT8, 1, d1, (int8_t[]){-1}}},
                 0, NULL));
    ck_assert(((int8_t *)y->data)[0] == -128 && ((int8_t *)y->data)[1] == -7);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Mul", 7, 2, (tin[]){{OG_INT64, 1, d2, (int64_t[]){-3, 1LL << 62}}, {OG_INT64, 1, d1, (int64_t[]){4}}},
                 0, NULL));
    ck_assert(((int64_t *)y->data)[0] == -12 && ((int64_t *)y->data)[1] == 0);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Mul", 7, 2, (tin[]){{OG_INT32, 1, d2, (int32_t[]){-3, 46341}}, {OG_INT32, 1, d2, (int32_t[]){5, 46341}}},
                 0, NULL));
    ck_assert(((int32_t *)y->data)[0] == -15 && ((int32_t *)y->data)[1] == (int32_t)(46341u * 46341u));
    og_tensor_free(y);
}
END_TEST

/* NaN * 0 = NaN, 0 * inf = NaN, -1 * NaN = NaN. */
START_TEST(mul_nan)
{
    int64_t d3[1] = {3};
    og_tensor *y;
    OG_CHECK(run(&y, "Mul", 14, 2,
                 (tin[]){{OG_FLOAT, 1, d3, (float[]){NAN, 0, -1}}, {OG_FLOAT, 1, d3, (float[]){0, INFINITY, NAN}}},
                 0, NULL));
    expect_floats(y, 3, (float[]){NAN, NAN, NAN});
    og_tensor_free(y);
}
END_TEST

/* ---- Add / Mul contract ---------------------------------------------------- */

START_TEST(arith_type_errors)
{
    int64_t d3[1] = {3};
    static const char *const ops[2] = {"Add", "Mul"};
    for (int k = 0; k < 2; k++) {
        expect_fail(OG_ERR_SHAPE, "A 'in0' is float, expected B 'in1' to be float too, got double", ops[k], 14, 2,
                    (tin[]){{OG_FLOAT, 1, d3, NULL}, {OG_DOUBLE, 1, d3, NULL}}, 0, NULL);
        expect_fail(OG_ERR_SHAPE, "input A 'in0' has type bool", ops[k], 14, 2,
                    (tin[]){{OG_BOOL, 1, d3, NULL}, {OG_BOOL, 1, d3, NULL}}, 0, NULL);
        expect_fail(OG_ERR_SHAPE, "need opset >= 14", ops[k], 13, 2,
                    (tin[]){{OG_UINT8, 1, d3, NULL}, {OG_UINT8, 1, d3, NULL}}, 0, NULL);
        expect_fail(OG_ERR_SHAPE, "cannot broadcast A 'in0' of shape [2,3] with B 'in1' of shape [2]", ops[k], 14, 2,
                    (tin[]){{OG_FLOAT, 2, (int64_t[]){2, 3}, NULL}, {OG_FLOAT, 1, (int64_t[]){2}, NULL}}, 0, NULL);
        /* before opset 7 Add/Mul had broadcast/axis attributes: not implemented */
        og_graph *g;
        ck_assert_int_eq(build(&g, ops[k], 6, 2, (tin[]){{OG_FLOAT, 1, d3, NULL}, {OG_FLOAT, 1, d3, NULL}}, 0, NULL),
                         OG_ERR_UNSUPPORTED);
        og_graph_free(g);
        /* float16 is valid ONNX onnxgrad cannot hold */
        ck_assert_int_ne(build(&g, ops[k], 14, 2, (tin[]){{OG_FLOAT16, 1, d3, NULL}, {OG_FLOAT16, 1, d3, NULL}}, 0, NULL),
                         OG_OK);
        og_graph_free(g);
    }
}
END_TEST

/* Inference with unknown dims and an unknown input type. */
START_TEST(arith_unknown_dims)
{
    int64_t a[3] = {-1, 1, 5}, b[2] = {4, -1}, want[3] = {-1, 4, 5};
    expect_shape(OG_FLOAT, 3, want, "Add", 14, 2, (tin[]){{OG_FLOAT, 3, a, NULL}, {OG_FLOAT, 2, b, NULL}}, 0, NULL);
    expect_shape(OG_INT64, 3, want, "Mul", 14, 2, (tin[]){{OG_INT64, 3, a, NULL}, {OG_INT64, 2, b, NULL}}, 0, NULL);
    int64_t one[1] = {1}, unk[1] = {-1};
    expect_shape(OG_DOUBLE, 1, unk, "Mul", 14, 2, (tin[]){{OG_DOUBLE, 1, one, NULL}, {OG_DOUBLE, 1, unk, NULL}}, 0,
                 NULL);
    expect_shape(OG_FLOAT, -1, NULL, "Add", 14, 2, (tin[]){{OG_FLOAT, -1, NULL, NULL}, {OG_FLOAT, 1, one, NULL}}, 0,
                 NULL);
}
END_TEST

/* ---- Greater ------------------------------------------------------------- */

/* [[1,5],[3,3]] > [2,3] = [[F,T],[T,F]]; NaN compares false both ways. */
START_TEST(greater_values)
{
    int64_t d22[2] = {2, 2}, d2[1] = {2}, d4[1] = {4};
    og_tensor *y;
    OG_CHECK(run(&y, "Greater", 13, 2, (tin[]){{OG_FLOAT, 2, d22, (float[]){1, 5, 3, 3}}, {OG_FLOAT, 1, d2, (float[]){2, 3}}},
                 0, NULL));
    expect_dims(y, 2, d22);
    expect_bools(y, 4, (uint8_t[]){0, 1, 1, 0});
    og_tensor_free(y);
    OG_CHECK(run(&y, "Greater", 7, 2,
                 (tin[]){{OG_DOUBLE, 1, d4, (double[]){NAN, 1, INFINITY, -0.0}}, {OG_DOUBLE, 1, d4, (double[]){0, NAN, 1e308, 0.0}}},
                 0, NULL));
    expect_bools(y, 4, (uint8_t[]){0, 0, 1, 0});
    og_tensor_free(y);
    /* integers from opset 9: signed and unsigned order */
    OG_CHECK(run(&y, "Greater", 9, 2,
                 (tin[]){{OG_INT64, 1, d2, (int64_t[]){-1, INT64_MAX}}, {OG_INT64, 0, NULL, (int64_t[]){0}}}, 0, NULL));
    expect_bools(y, 2, (uint8_t[]){0, 1});
    og_tensor_free(y);
    OG_CHECK(run(&y, "Greater", 13, 2,
                 (tin[]){{OG_UINT8, 1, d2, (uint8_t[]){255, 0}}, {OG_UINT8, 1, d2, (uint8_t[]){128, 0}}}, 0, NULL));
    expect_bools(y, 2, (uint8_t[]){1, 0});
    og_tensor_free(y);
    OG_CHECK(run(&y, "Greater", 13, 2,
                 (tin[]){{OG_INT32, 1, d2, (int32_t[]){-7, 7}}, {OG_INT32, 1, d2, (int32_t[]){-8, 7}}}, 0, NULL));
    expect_bools(y, 2, (uint8_t[]){1, 0});
    og_tensor_free(y);
}
END_TEST

/* LessOrEqual: the complement of Greater except at NaN, where both are
 * false (what Relu's gradient relies on); exists from opset 12. */
START_TEST(lessorequal_values)
{
    int64_t d22[2] = {2, 2}, d2[1] = {2}, d4[1] = {4};
    og_tensor *y;
    OG_CHECK(run(&y, "LessOrEqual", 16, 2,
                 (tin[]){{OG_FLOAT, 2, d22, (float[]){1, 5, 3, 3}}, {OG_FLOAT, 1, d2, (float[]){2, 3}}}, 0, NULL));
    expect_dims(y, 2, d22);
    expect_bools(y, 4, (uint8_t[]){1, 0, 0, 1});
    og_tensor_free(y);
    OG_CHECK(run(&y, "LessOrEqual", 12, 2,
                 (tin[]){{OG_DOUBLE, 1, d4, (double[]){NAN, 1, -INFINITY, -0.0}}, {OG_DOUBLE, 1, d4, (double[]){0, NAN, -1e308, 0.0}}},
                 0, NULL));
    expect_bools(y, 4, (uint8_t[]){0, 0, 1, 1});
    og_tensor_free(y);
    OG_CHECK(run(&y, "LessOrEqual", 12, 2,
                 (tin[]){{OG_UINT8, 1, d2, (uint8_t[]){255, 0}}, {OG_UINT8, 0, NULL, (uint8_t[]){128}}}, 0, NULL));
    expect_bools(y, 2, (uint8_t[]){0, 1});
    og_tensor_free(y);
    og_graph *g;
    ck_assert_int_eq(build(&g, "LessOrEqual", 11, 2, (tin[]){{OG_FLOAT, 1, d2, NULL}, {OG_FLOAT, 1, d2, NULL}}, 0, NULL),
                     OG_ERR_UNSUPPORTED);
    og_graph_free(g);
    OG_CHECK_FAILS(build(&g, "LessOrEqual", 16, 2, (tin[]){{OG_FLOAT, 1, d2, NULL}, {OG_INT64, 1, d2, NULL}}, 0, NULL),
                   OG_ERR_SHAPE, "inputs must share one type");
    og_graph_free(g);
}
END_TEST

START_TEST(greater_contract)
{
    int64_t d3[1] = {3}, a[2] = {-1, 3}, want[2] = {-1, 3};
    /* the output is bool whatever the inputs, even of unknown type */
    expect_shape(OG_BOOL, 2, want, "Greater", 13, 2, (tin[]){{OG_FLOAT, 2, a, NULL}, {OG_FLOAT, 1, d3, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "integer types need opset >= 9", "Greater", 8, 2,
                (tin[]){{OG_INT32, 1, d3, NULL}, {OG_INT32, 1, d3, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "input A 'in0' has type bool", "Greater", 13, 2,
                (tin[]){{OG_BOOL, 1, d3, NULL}, {OG_BOOL, 1, d3, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected B 'in1' to be int64 too, got int32", "Greater", 13, 2,
                (tin[]){{OG_INT64, 1, d3, NULL}, {OG_INT32, 1, d3, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "cannot broadcast", "Greater", 13, 2,
                (tin[]){{OG_FLOAT, 1, d3, NULL}, {OG_FLOAT, 1, (int64_t[]){4}, NULL}}, 0, NULL);
}
END_TEST

/* ---- Where ---------------------------------------------------------------- */

/* condition [[T],[F]] picks the row X = [1,2,3] on top and Y = 9 (a
 * scalar) below: [[1,2,3],[9,9,9]]. */
START_TEST(where_picks)
{
    int64_t d21[2] = {2, 1}, d3[1] = {3}, d23[2] = {2, 3};
    og_tensor *y;
    const float nine = 9;
    OG_CHECK(run(&y, "Where", 16, 3,
                 (tin[]){{OG_BOOL, 2, d21, (uint8_t[]){1, 0}}, {OG_FLOAT, 1, d3, (float[]){1, 2, 3}},
                         {OG_FLOAT, 0, NULL, &nine}},
                 0, NULL));
    expect_dims(y, 2, d23);
    expect_floats(y, 6, (float[]){1, 2, 3, 9, 9, 9});
    og_tensor_free(y);

    /* per-element condition, int64 values, opset 9 */
    int64_t d4[1] = {4};
    OG_CHECK(run(&y, "Where", 9, 3,
                 (tin[]){{OG_BOOL, 1, d4, (uint8_t[]){1, 0, 0, 1}}, {OG_INT64, 1, d4, (int64_t[]){1, 2, 3, 4}},
                         {OG_INT64, 1, d4, (int64_t[]){-1, -2, -3, -4}}},
                 0, NULL));
    const int64_t *v = y->data;
    ck_assert(v[0] == 1 && v[1] == -2 && v[2] == -3 && v[3] == 4);
    og_tensor_free(y);

    /* bool and uint8 values, condition broadcast over the last axis; NaN is copied */
    OG_CHECK(run(&y, "Where", 16, 3,
                 (tin[]){{OG_BOOL, 1, (int64_t[]){2}, (uint8_t[]){0, 1}}, {OG_BOOL, 2, (int64_t[]){2, 2}, (uint8_t[]){1, 1, 1, 1}},
                         {OG_BOOL, 0, NULL, (uint8_t[]){0}}},
                 0, NULL));
    expect_bools(y, 4, (uint8_t[]){0, 1, 0, 1});
    og_tensor_free(y);
    OG_CHECK(run(&y, "Where", 16, 3,
                 (tin[]){{OG_BOOL, 0, NULL, (uint8_t[]){0}}, {OG_DOUBLE, 1, (int64_t[]){2}, (double[]){1, 2}},
                         {OG_DOUBLE, 1, (int64_t[]){2}, (double[]){NAN, -0.5}}},
                 0, NULL));
    ck_assert(isnan(((double *)y->data)[0]) && ((double *)y->data)[1] == -0.5);
    og_tensor_free(y);
}
END_TEST

START_TEST(where_contract)
{
    int64_t d2[1] = {2}, d3[1] = {3}, d31[2] = {3, 1}, unk[2] = {-1, 1}, want[3] = {2, 3, 2};
    int64_t unk2[2] = {1, -1};
    expect_shape(OG_INT32, 3, want, "Where", 16, 3,
                 (tin[]){{OG_BOOL, 3, (int64_t[]){2, 1, 1}, NULL}, {OG_INT32, 2, d31, NULL}, {OG_INT32, 1, d2, NULL}}, 0,
                 NULL);
    /* an unknown dim against a known 3 is 3; against 1s it stays unknown */
    expect_shape(OG_FLOAT, 2, (int64_t[]){3, -1}, "Where", 16, 3,
                 (tin[]){{OG_BOOL, 2, unk, NULL}, {OG_FLOAT, 2, d31, NULL}, {OG_FLOAT, 2, unk2, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "input condition 'in0' has type float, expected bool", "Where", 16, 3,
                (tin[]){{OG_FLOAT, 1, d2, NULL}, {OG_FLOAT, 1, d2, NULL}, {OG_FLOAT, 1, d2, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected Y 'in2' to be double too, got float", "Where", 16, 3,
                (tin[]){{OG_BOOL, 1, d2, NULL}, {OG_DOUBLE, 1, d2, NULL}, {OG_FLOAT, 1, d2, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "cannot broadcast X 'in1' of shape [2] with Y 'in2' of shape [3]", "Where", 16, 3,
                (tin[]){{OG_BOOL, 1, (int64_t[]){1}, NULL}, {OG_FLOAT, 1, d2, NULL}, {OG_FLOAT, 1, d3, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "cannot broadcast condition 'in0' of shape [3] with X 'in1' of shape [2]", "Where", 16, 3,
                (tin[]){{OG_BOOL, 1, d3, NULL}, {OG_FLOAT, 1, d2, NULL}, {OG_FLOAT, 1, d2, NULL}}, 0, NULL);
}
END_TEST

/* ---- Expand --------------------------------------------------------------- */

/* Graph: x (graph input) and the shape, given as an initializer (known at
 * load time) when `shape` is non-NULL, else as a graph input of `n` values.
 * Node NODE Expand(x, shape) -> y. */
static og_status build_expand(og_graph **g, int opset, og_dtype dt, int rank, const int64_t *dims, int64_t n,
                              const int64_t *shape)
{
    og_status st;
    og_tensor *s = NULL;
    *g = NULL;
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, "", opset)) ||
        (st = og_graph_add_input(*g, "x", dt, rank, dims, NULL)))
        return st;
    if (shape) {
        if ((st = og_tensor_create_from(OG_INT64, 1, &n, shape, &s)))
            return st;
        st = og_graph_add_initializer(*g, "shape", s);
        og_tensor_free(s);
    } else {
        st = og_graph_add_input(*g, "shape", OG_INT64, 1, &n, NULL);
    }
    if (st || (st = og_graph_add_node(*g, "Expand", NULL, NODE, 2, (const char *[]){"x", "shape"}, 1,
                                      (const char *[]){"y"}, 0, NULL)) ||
        (st = og_graph_add_output(*g, "y")))
        return st;
    return og_graph_finalize(*g);
}

static og_status run_expand(og_tensor **y, og_dtype dt, int rank, const int64_t *dims, const void *x, int64_t n,
                            const int64_t *shape)
{
    og_graph *g;
    og_plan *p = NULL;
    og_tensor *xt = NULL;
    og_status st;
    *y = NULL;
    if (!(st = build_expand(&g, 13, dt, rank, dims, n, shape)) && !(st = og_plan_create(g, &p)) &&
        !(st = og_tensor_create_from(dt, rank, dims, x, &xt)))
        st = og_plan_run(p, 1, (const og_tensor *const[]){xt}, y);
    og_tensor_free(xt);
    og_plan_free(p);
    og_graph_free(g);
    return st;
}

/* [3,1] to [2,1,6]: output [2,3,6], each row repeats its value; [3,1] to
 * [1,4] keeps 3 (a 1 in shape keeps x's dim); a shorter shape keeps the
 * leading dims. */
START_TEST(expand_values)
{
    int64_t d31[2] = {3, 1};
    const float x[3] = {1, 2, 3};
    og_tensor *y;
    OG_CHECK(run_expand(&y, OG_FLOAT, 2, d31, x, 3, (int64_t[]){2, 1, 6}));
    expect_dims(y, 3, (int64_t[]){2, 3, 6});
    const float *v = y->data;
    for (int i = 0; i < 36; i++)
        ck_assert_msg(v[i] == (float)(i / 6 % 3 + 1), "y[%d] = %g", i, (double)v[i]);
    og_tensor_free(y);
    OG_CHECK(run_expand(&y, OG_FLOAT, 2, d31, x, 2, (int64_t[]){1, 4}));
    expect_dims(y, 2, (int64_t[]){3, 4});
    expect_floats(y, 12, (float[]){1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
    og_tensor_free(y);
    /* shorter shape; int64 data */
    OG_CHECK(run_expand(&y, OG_INT64, 2, (int64_t[]){2, 2}, (int64_t[]){1, 2, 3, 4}, 1, (int64_t[]){2}));
    expect_dims(y, 2, (int64_t[]){2, 2});
    ck_assert(((int64_t *)y->data)[3] == 4);
    og_tensor_free(y);
    /* scalar to [2,2]; bool; uint16 */
    OG_CHECK(run_expand(&y, OG_BOOL, 0, NULL, (uint8_t[]){1}, 2, (int64_t[]){2, 2}));
    expect_bools(y, 4, (uint8_t[]){1, 1, 1, 1});
    og_tensor_free(y);
    OG_CHECK(run_expand(&y, OG_UINT16, 1, (int64_t[]){2}, (uint16_t[]){7, 65535}, 2, (int64_t[]){2, 1}));
    expect_dims(y, 2, (int64_t[]){2, 2});
    const uint16_t *u = y->data;
    ck_assert(u[0] == 7 && u[1] == 65535 && u[2] == 7 && u[3] == 65535);
    og_tensor_free(y);
    /* a 0 in shape against x's 1 empties the output; an empty shape is a copy */
    OG_CHECK(run_expand(&y, OG_FLOAT, 2, d31, x, 2, (int64_t[]){3, 0}));
    expect_dims(y, 2, (int64_t[]){3, 0});
    og_tensor_free(y);
    OG_CHECK(run_expand(&y, OG_FLOAT, 2, d31, x, 0, (int64_t[]){0}));
    expect_dims(y, 2, d31);
    expect_floats(y, 3, x);
    og_tensor_free(y);
}
END_TEST

/* With the shape known at load time (an initializer) every dim is
 * inferred; with it a graph input only its length is, plus x's dims other
 * than 1. */
START_TEST(expand_inference)
{
    og_graph *g;
    og_value_info vi;
    OG_CHECK(build_expand(&g, 8, OG_FLOAT, 2, (int64_t[]){3, 1}, 3, (int64_t[]){2, 1, 6}));
    OG_CHECK(og_graph_value(g, "y", &vi));
    ck_assert(vi.dtype == OG_FLOAT && vi.rank == 3 && vi.dims[0] == 2 && vi.dims[1] == 3 && vi.dims[2] == 6);
    og_graph_free(g);
    OG_CHECK(build_expand(&g, 13, OG_DOUBLE, 2, (int64_t[]){3, 1}, 3, NULL));
    OG_CHECK(og_graph_value(g, "y", &vi));
    ck_assert(vi.dtype == OG_DOUBLE && vi.rank == 3 && vi.dims[0] == -1 && vi.dims[1] == 3 && vi.dims[2] == -1);
    og_graph_free(g);
    /* shape of unknown length: unknown rank */
    OG_CHECK(build_expand(&g, 13, OG_FLOAT, 1, (int64_t[]){4}, -1, NULL));
    OG_CHECK(og_graph_value(g, "y", &vi));
    ck_assert_int_eq(vi.rank, -1);
    og_graph_free(g);
}
END_TEST

START_TEST(expand_errors)
{
    og_graph *g;
    OG_CHECK_FAILS(build_expand(&g, 13, OG_FLOAT, 2, (int64_t[]){3, 2}, 2, (int64_t[]){3, 4}), OG_ERR_SHAPE,
                   "node '" NODE "' (Expand): cannot broadcast input 'x' of shape [3,2] with target shape 'shape' "
                   "of shape [3,4]");
    og_graph_free(g);
    OG_CHECK_FAILS(build_expand(&g, 13, OG_FLOAT, 1, (int64_t[]){3}, 2, (int64_t[]){-1, 3}), OG_ERR_SHAPE,
                   "input shape 'shape' has -1 at position 0; expected sizes >= 0");
    og_graph_free(g);
    /* a shape longer than any tensor's rank */
    int64_t many[40];
    for (int k = 0; k < 40; k++)
        many[k] = 1;
    OG_CHECK_FAILS(build_expand(&g, 13, OG_FLOAT, 1, (int64_t[]){3}, 40, many), OG_ERR_LIMIT, "has 40 values");
    og_graph_free(g);
    /* opset 7 has no Expand */
    ck_assert_int_eq(build_expand(&g, 7, OG_FLOAT, 1, (int64_t[]){3}, 1, (int64_t[]){3}), OG_ERR_UNSUPPORTED);
    og_graph_free(g);
    /* shape must be a 1-D int64 tensor */
    int64_t d3[1] = {3};
    expect_fail(OG_ERR_SHAPE, "input shape 'in1' has type int32, expected int64", "Expand", 13, 2,
                (tin[]){{OG_FLOAT, 1, d3, NULL}, {OG_INT32, 1, (int64_t[]){1}, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "input shape 'in1' has shape [1,1], expected rank 1", "Expand", 13, 2,
                (tin[]){{OG_FLOAT, 1, d3, NULL}, {OG_INT64, 2, (int64_t[]){1, 1}, NULL}}, 0, NULL);
    /* a bad value that only arrives at run time */
    og_tensor *y;
    OG_CHECK_FAILS(run(&y, "Expand", 13, 2,
                       (tin[]){{OG_FLOAT, 1, d3, (float[]){1, 2, 3}}, {OG_INT64, 1, (int64_t[]){1}, (int64_t[]){2}}},
                       0, NULL),
                   OG_ERR_SHAPE, "with target shape 'in1' of shape [2]");
}
END_TEST

/* ---- gradients: og_gradcheck (float64 central differences) --------------- */

/* Checks every float input's gradient of the finalized one-output graph g
 * (order 2: also the gradient graph's own gradients, seeds included);
 * `given` fixes inputs by name (the others are random in [-1, 1]). */
static void expect_gradcheck(og_graph *g, int order, int n_given, const og_tensor *const *given)
{
    og_gradcheck_options o = {.order = order, .seed = 12345, .n_inputs = n_given, .inputs = given};
    og_gradcheck_report *r;
    OG_CHECK(og_gradcheck(g, &o, &r));
    for (int k = 0; k < r->n; k++) {
        const og_gradcheck_entry *e = &r->entries[k];
        ck_assert_msg(e->pass, "gradient of '%s' (order %d): element %lld analytic %g, numeric %g (abs err %g)",
                      e->name, order, (long long)e->worst_index, e->worst_analytic, e->worst_numeric,
                      e->max_abs_err);
        ck_assert_int_eq(e->checked, e->numel);
    }
    ck_assert(r->pass);
    ck_assert_int_gt(r->n, 0);
    og_gradcheck_report_free(r);
}

static void gradcheck_node(const char *op, int opset, int n_in, const tin *ins, int n_given,
                           const og_tensor *const *given)
{
    og_graph *g;
    OG_CHECK(build(&g, op, opset, n_in, ins, 0, NULL));
    expect_gradcheck(g, 1, n_given, given);
    expect_gradcheck(g, 2, n_given, given);
    og_graph_free(g);
}

/* Same shapes, a row, a column, a scalar, rank 0, both sides broadcast
 * (run at alternating opsets: the gradient graph is opset 17 either way). */
static const struct { int ra; int64_t da[3]; int rb; int64_t db[3]; } bcast_pairs[] = {
    {2, {2, 3}, 2, {2, 3}},
    {3, {2, 3, 4}, 1, {4}},
    {2, {3, 1}, 2, {3, 4}},
    {2, {2, 3}, 0, {0}},
    {1, {1}, 2, {2, 2}},
    {3, {2, 1, 4}, 2, {3, 1}},
};
#define N_PAIRS (sizeof bcast_pairs / sizeof bcast_pairs[0])

START_TEST(add_mul_gradients)
{
    static const char *const ops[2] = {"Add", "Mul"};
    for (int o = 0; o < 2; o++)
        for (size_t k = 0; k < N_PAIRS; k++)
            gradcheck_node(ops[o], k % 2 ? 7 : 14, 2,
                           (tin[]){{OG_FLOAT, bcast_pairs[k].ra, bcast_pairs[k].da, NULL},
                                   {OG_FLOAT, bcast_pairs[k].rb, bcast_pairs[k].db, NULL}},
                           0, NULL);
}
END_TEST

/* x * x: the two gradients fan in (2x); then Mul's rule differentiated
 * again (the gradient graph is itself made of Mul). */
START_TEST(mul_square_and_second_order)
{
    og_graph *g;
    int64_t d3[1] = {3};
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 1, d3, NULL));
    OG_CHECK(og_graph_add_node(g, "Mul", NULL, NODE, 2, (const char *[]){"x", "x"}, 1, (const char *[]){"y"}, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    expect_gradcheck(g, 1, 0, NULL);
    expect_gradcheck(g, 2, 0, NULL);
    og_graph_free(g);
}
END_TEST

/* condition [[T,F,T],[F,F,T]] (or broadcast forms of it) against X and Y of
 * each broadcast shape: the gradient flows to X where true, to Y where false. */
START_TEST(where_gradients)
{
    og_tensor *c;
    OG_CHECK(og_tensor_create_from(OG_BOOL, 2, (int64_t[]){2, 3}, (uint8_t[]){1, 0, 1, 0, 0, 1}, &c));
    OG_CHECK(og_tensor_set_name(c, "in0"));
    static const struct { int rx; int64_t dx[2]; int ry; int64_t dy[2]; } cases[] = {
        {2, {2, 3}, 2, {2, 3}}, {1, {3}, 2, {2, 3}}, {2, {2, 1}, 0, {0}}, {1, {1}, 2, {1, 3}}, {2, {2, 3}, 1, {1}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        gradcheck_node("Where", k % 2 ? 9 : 16, 3,
                       (tin[]){{OG_BOOL, 2, (int64_t[]){2, 3}, NULL}, {OG_FLOAT, cases[k].rx, cases[k].dx, NULL},
                               {OG_FLOAT, cases[k].ry, cases[k].dy, NULL}},
                       1, (const og_tensor *const[]){c});
    og_tensor_free(c);
    /* the condition broadcast too: [3,1] picks whole rows of a [3,4] output */
    OG_CHECK(og_tensor_create_from(OG_BOOL, 2, (int64_t[]){3, 1}, (uint8_t[]){0, 1, 0}, &c));
    OG_CHECK(og_tensor_set_name(c, "in0"));
    gradcheck_node("Where", 17, 3,
                   (tin[]){{OG_BOOL, 2, (int64_t[]){3, 1}, NULL}, {OG_FLOAT, 1, (int64_t[]){4}, NULL},
                           {OG_FLOAT, 0, NULL, NULL}},
                   1, (const og_tensor *const[]){c});
    og_tensor_free(c);
}
END_TEST

START_TEST(expand_gradients)
{
    static const struct { int rx; int64_t dx[3]; int64_t n; int64_t shape[3]; } cases[] = {
        {2, {3, 1}, 3, {2, 1, 6}},   /* new leading axis and a stretched one */
        {2, {3, 1}, 2, {1, 4}},      /* a 1 in shape keeps x's dim */
        {1, {4}, 1, {4}},            /* no change: the gradient passes through */
        {0, {0}, 2, {2, 3}},         /* scalar */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        og_graph *g;
        OG_CHECK(build_expand(&g, k % 2 ? 8 : 13, OG_FLOAT, cases[k].rx, cases[k].dx, cases[k].n, cases[k].shape));
        expect_gradcheck(g, 1, 0, NULL);
        expect_gradcheck(g, 2, 0, NULL);
        og_graph_free(g);
    }
}
END_TEST

/* Relu's gradient is 1 where x > 0, 0 where x < 0; inputs kept away from
 * the kink at 0 so finite differences are exact. */
START_TEST(relu_gradients)
{
    og_graph *g;
    og_tensor *x;
    int64_t d23[2] = {2, 3};
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, d23, (float[]){-0.9f, 0.2f, -0.1f, 0.7f, 1.5f, -2.0f}, &x));
    OG_CHECK(og_tensor_set_name(x, "in0"));
    OG_CHECK(build(&g, "Relu", 17, 1, (tin[]){{OG_FLOAT, 2, d23, NULL}}, 0, NULL));
    expect_gradcheck(g, 1, 1, (const og_tensor *const[]){x});
    expect_gradcheck(g, 2, 1, (const og_tensor *const[]){x});
    og_graph_free(g);
    /* opset 6 Relu, double input */
    OG_CHECK(build(&g, "Relu", 6, 1, (tin[]){{OG_DOUBLE, 2, d23, NULL}}, 0, NULL));
    expect_gradcheck(g, 1, 1, (const og_tensor *const[]){x});
    og_graph_free(g);
    og_tensor_free(x);
}
END_TEST

/* Relu's gradient graph reads Relu's output, not its input, and the
 * gradient at exactly 0 is 0: with x = [-1, 0, 2] and dY = [5, 6, 7],
 * dX = [0, 0, 7]. */
START_TEST(relu_gradient_values)
{
    og_graph *g, *gg;
    int64_t d3[1] = {3};
    OG_CHECK(build(&g, "Relu", 17, 1, (tin[]){{OG_FLOAT, 1, d3, NULL}}, 0, NULL));
    const char *seeded[1] = {"y"};
    og_grad_options o = {.n_seeded = 1, .seeded = seeded};
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    og_tensor *x, *u, *grad;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d3, (float[]){-1, 0, 2}, &x));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d3, (float[]){5, 6, 7}, &u));
    OG_CHECK(og_gradients(g, &o, 1, (const og_tensor *const[]){x}, (const og_tensor *const[]){u}, &grad));
    expect_floats(grad, 3, (float[]){0, 0, 7});
    og_tensor_free(grad);
    /* LessOrEqual and Where in the gradient graph, no Relu of x besides the forward one */
    int relus = 0, compares = 0;
    for (int k = 0; k < og_graph_num_nodes(gg); k++) {
        const char *op, *name;
        OG_CHECK(og_graph_node(gg, k, &op, &name));
        relus += strcmp(op, "Relu") == 0;
        compares += strcmp(op, "LessOrEqual") == 0;
    }
    ck_assert_int_eq(relus, 1);
    ck_assert_int_eq(compares, 1);
    og_tensor_free(x);
    og_tensor_free(u);
    og_graph_free(gg);
    og_graph_free(g);
}
END_TEST

/* [?,3] + [3]: x's gradient is dY itself and b's is dY summed over the
 * batch. [?,3] + [?,1]: unknown dims are taken as the same batch, and a
 * run where they differ (x [2,3] + y [1,1]) fails loudly in the Reshape
 * that guards the guess, instead of giving y a [2,1] gradient. */
START_TEST(broadcast_gradient_unknown_dims)
{
    og_graph *g, *gg = NULL;
    OG_CHECK(build(&g, "Add", 17, 2, (tin[]){{OG_FLOAT, 2, (int64_t[]){-1, 3}, NULL}, {OG_FLOAT, 1, (int64_t[]){3}, NULL}},
                   0, NULL));
    const char *seeded[1] = {"y"};
    og_grad_options o = {.n_seeded = 1, .seeded = seeded};
    og_tensor *x, *bias, *dy, *grads[2];
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6}, &x));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, (int64_t[]){3}, (float[]){0, 0, 0}, &bias));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 10, 20, 30}, &dy));
    OG_CHECK(og_gradients(g, &o, 2, (const og_tensor *const[]){x, bias}, (const og_tensor *const[]){dy}, grads));
    const float *gx = grads[0]->data, *gb = grads[1]->data;
    ck_assert_int_eq(grads[0]->numel, 6);
    ck_assert_int_eq(grads[1]->numel, 3);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(gx[i], ((float *)dy->data)[i]);
    ck_assert_float_eq(gb[0], 11);
    ck_assert_float_eq(gb[1], 22);
    ck_assert_float_eq(gb[2], 33);
    for (int i = 0; i < 2; i++)
        og_tensor_free(grads[i]);
    og_tensor_free(x);
    og_tensor_free(bias);
    og_tensor_free(dy);
    og_graph_free(g);

    OG_CHECK(build(&g, "Add", 17, 2, (tin[]){{OG_FLOAT, 2, (int64_t[]){-1, 3}, NULL}, {OG_FLOAT, 2, (int64_t[]){-1, 1}, NULL}},
                   0, NULL));
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    og_graph_free(gg);
    og_tensor *y;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6}, &x));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, (int64_t[]){1, 1}, (float[]){1}, &y));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 10, 20, 30}, &dy));
    og_status st = og_gradients(g, &o, 2, (const og_tensor *const[]){x, y}, (const og_tensor *const[]){dy}, grads);
    ck_assert_msg(st != OG_OK && strstr(og_errmsg(), "Reshape"), "expected the guard Reshape to fail, got %s: %s",
                  og_status_name(st), og_errmsg());
    og_tensor_free(x);
    og_tensor_free(y);
    og_tensor_free(dy);
    og_graph_free(g);
}
END_TEST

static Suite *elementwise_suite(void)
{
    Suite *s = suite_create("Elementwise");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, bcast_shape_known);
    tcase_add_test(tc, bcast_shape_unknown);
    tcase_add_test(tc, bcast_shape_mismatch);
    tcase_add_test(tc, bcast_iter_merges_and_walks);
    tcase_add_test(tc, add_broadcast_float);
    tcase_add_test(tc, add_scalars_and_empty);
    tcase_add_test(tc, add_integer_types);
    tcase_add_test(tc, add_nan);
    tcase_add_test(tc, mul_broadcast_float);
    tcase_add_test(tc, mul_integer_types);
    tcase_add_test(tc, mul_nan);
    tcase_add_test(tc, arith_type_errors);
    tcase_add_test(tc, arith_unknown_dims);
    tcase_add_test(tc, greater_values);
    tcase_add_test(tc, lessorequal_values);
    tcase_add_test(tc, greater_contract);
    tcase_add_test(tc, where_picks);
    tcase_add_test(tc, where_contract);
    tcase_add_test(tc, expand_values);
    tcase_add_test(tc, expand_inference);
    tcase_add_test(tc, expand_errors);
    tcase_add_test(tc, add_mul_gradients);
    tcase_add_test(tc, mul_square_and_second_order);
    tcase_add_test(tc, where_gradients);
    tcase_add_test(tc, expand_gradients);
    tcase_add_test(tc, relu_gradients);
    tcase_add_test(tc, relu_gradient_values);
    tcase_add_test(tc, broadcast_gradient_unknown_dims);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(elementwise_suite());
}
