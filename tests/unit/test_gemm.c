/* SPDX-License-Identifier: MIT */
/* test_gemm.c — Gemm: a hand-worked example, every transA/transB
 * combination with every shape of C (absent, scalar, [1], [N], [1,N],
 * [M,1], [1,1], [M,N]) and several alpha/beta in float and double against
 * a naive reference, opset-specific rules, and the shape errors. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

#define NODE "gemm_node"

#include "onenode.h"

/* A = [[1,2,3],    B = [[1,0],    A*B = [[1+3, 2+3],   = [[ 4,  5],
 *      [4,5,6]]         [0,1],           [4+6, 5+6]]      [10, 11]]
 *                       [1,1]]
 * alpha = 0.5:  [[2, 2.5], [5, 5.5]]
 * C = [10, 20] (a row, broadcast down), beta = 2:  [[20, 40], [20, 40]]
 * Y = [[22, 42.5], [25, 45.5]] */
START_TEST(gemm_hand_worked)
{
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[2] = {10, 20};
    const float want[4] = {22, 42.5f, 25, 45.5f};
    int64_t da[2] = {2, 3}, db[2] = {3, 2}, dc[1] = {2};
    og_attr at[2] = {og_attr_float("alpha", 0.5f), og_attr_float("beta", 2.0f)};
    og_tensor *y;
    OG_CHECK(run(&y, "Gemm", 17, 3,
                 (tin[]){{OG_FLOAT, 2, da, a}, {OG_FLOAT, 2, db, b}, {OG_FLOAT, 1, dc, c}}, 2, at));
    ck_assert_int_eq(y->rank, 2);
    ck_assert_int_eq(y->dims[0], 2);
    ck_assert_int_eq(y->dims[1], 2);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(((const float *)y->data)[i] == want[i], "y[%d] = %g, expected %g", i,
                      (double)((const float *)y->data)[i], (double)want[i]);
    og_tensor_free(y);

    /* the same product with A and B stored transposed */
    const float at_[6] = {1, 4, 2, 5, 3, 6}, bt[6] = {1, 0, 1, 0, 1, 1};
    int64_t dat[2] = {3, 2}, dbt[2] = {2, 3};
    og_attr at2[4] = {at[0], at[1], og_attr_int("transA", 1), og_attr_int("transB", 1)};
    OG_CHECK(run(&y, "Gemm", 17, 3,
                 (tin[]){{OG_FLOAT, 2, dat, at_}, {OG_FLOAT, 2, dbt, bt}, {OG_FLOAT, 1, dc, c}}, 4, at2));
    for (int i = 0; i < 4; i++)
        ck_assert(((const float *)y->data)[i] == want[i]);
    og_tensor_free(y);
}
END_TEST

/* ---- randomized sweep against a naive reference ------------------------ */

enum { M = 3, K = 4, N = 5 };

typedef enum c_kind { C_ABSENT, C_SCALAR, C_ONE, C_ROW, C_ROW2, C_COL, C_ONEONE, C_FULL, C_KINDS } c_kind;
static const char *const c_kind_name[C_KINDS] = {"absent", "scalar", "[1]", "[N]", "[1,N]", "[M,1]",
                                                 "[1,1]", "[M,N]"};

/* Deterministic values in [-2, 2] on a 1/8 grid, so float sums are exact. */
static double next_val(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (double)((int)(*s >> 24) % 33 - 16) / 8.0;
}

/* C's rank/dims and its value at Y(i,j) under broadcasting. */
static int c_shape(c_kind kind, int64_t *dims)
{
    switch (kind) {
    case C_SCALAR: return 0;
    case C_ONE: dims[0] = 1; return 1;
    case C_ROW: dims[0] = N; return 1;
    case C_ROW2: dims[0] = 1; dims[1] = N; return 2;
    case C_COL: dims[0] = M; dims[1] = 1; return 2;
    case C_ONEONE: dims[0] = 1; dims[1] = 1; return 2;
    default: dims[0] = M; dims[1] = N; return 2;
    }
}

static double c_at(c_kind kind, const double *c, int i, int j)
{
    switch (kind) {
    case C_SCALAR: case C_ONE: case C_ONEONE: return c[0];
    case C_ROW: case C_ROW2: return c[j];
    case C_COL: return c[i];
    default: return c[i * N + j];
    }
}

/* One Gemm run in `dt` compared with the naive double reference. */
static void sweep_one(og_dtype dt, int ta, int tb, c_kind kind, float alpha, float beta)
{
    double a[M * K], b[K * N], c[M * N], ref[M * N];
    float af[M * K], bf[K * N], cf[M * N];
    uint32_t seed = 12345u + (uint32_t)(ta * 7 + tb * 3 + (int)kind * 11);
    int64_t da[2] = {ta ? K : M, ta ? M : K}, db[2] = {tb ? N : K, tb ? K : N}, dc[2] = {0, 0};
    int crank = c_shape(kind, dc);
    int64_t cnum = 1;
    for (int d = 0; d < crank; d++)
        cnum *= dc[d];

    for (int i = 0; i < M * K; i++)
        af[i] = (float)(a[i] = next_val(&seed));
    for (int i = 0; i < K * N; i++)
        bf[i] = (float)(b[i] = next_val(&seed));
    for (int i = 0; i < cnum; i++)
        cf[i] = (float)(c[i] = next_val(&seed));

    /* Y(i,j) = alpha * sum_k A'(i,k) B'(k,j) + beta * C(i,j); stored A is
     * [K,M] when transposed, so A'(i,k) = A[k*M + i]. beta = 0 ignores C. */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
            ref[i * N + j] = (double)alpha * s +
                             (kind != C_ABSENT && beta != 0 ? (double)beta * c_at(kind, c, i, j) : 0.0);
        }

    bool f = dt == OG_FLOAT;
    tin ins[3] = {{dt, 2, da, f ? (const void *)af : a}, {dt, 2, db, f ? (const void *)bf : b},
                  {kind == C_ABSENT ? OG_UNDEFINED : dt, crank, dc, f ? (const void *)cf : c}};
    og_attr at[4] = {og_attr_int("transA", ta), og_attr_int("transB", tb), og_attr_float("alpha", alpha),
                     og_attr_float("beta", beta)};
    og_tensor *y;
    OG_CHECK(run(&y, "Gemm", 17, kind == C_ABSENT ? 2 : 3, ins, 4, at));
    ck_assert_int_eq(y->dtype, dt);
    ck_assert_int_eq(y->rank, 2);
    ck_assert_int_eq(y->dims[0], M);
    ck_assert_int_eq(y->dims[1], N);
    double tol = f ? 1e-5 : 1e-12;
    for (int i = 0; i < M * N; i++) {
        double got = f ? (double)((const float *)y->data)[i] : ((const double *)y->data)[i];
        ck_assert_msg(fabs(got - ref[i]) <= tol * (1 + fabs(ref[i])),
                      "%s transA=%d transB=%d C %s alpha=%g beta=%g: y[%d] = %.17g, expected %.17g",
                      og_dtype_name(dt), ta, tb, c_kind_name[kind], (double)alpha, (double)beta, i, got,
                      ref[i]);
    }
    og_tensor_free(y);
}

/* _i = transA * 2 + transB */
START_TEST(gemm_sweep)
{
    static const float ab[][2] = {{1.0f, 1.0f}, {0.5f, -2.0f}, {-1.25f, 0.0f}, {0.0f, 3.0f}};
    int ta = _i / 2, tb = _i % 2;
    for (int d = 0; d < 2; d++)
        for (int kind = 0; kind < C_KINDS; kind++)
            for (size_t p = 0; p < sizeof ab / sizeof ab[0]; p++)
                sweep_one(d ? OG_DOUBLE : OG_FLOAT, ta, tb, (c_kind)kind, ab[p][0], ab[p][1]);
}
END_TEST

/* ---- edge cases --------------------------------------------------------- */

/* beta = 0 ignores C, as PyTorch's addmm and ONNX Runtime do: NaN in C
 * does not reach Y. */
START_TEST(gemm_beta_zero_ignores_c)
{
    const double a[2] = {1, 2}, b[2] = {3, 4}, c[1] = {NAN};
    int64_t da[2] = {1, 2}, db[2] = {2, 1}, dc[1] = {1};
    og_attr at = og_attr_float("beta", 0.0f);
    og_tensor *y;
    OG_CHECK(run(&y, "Gemm", 17, 3,
                 (tin[]){{OG_DOUBLE, 2, da, a}, {OG_DOUBLE, 2, db, b}, {OG_DOUBLE, 1, dc, c}}, 1, &at));
    ck_assert(((const double *)y->data)[0] == 11.0);   /* 1*3 + 2*4 */
    og_tensor_free(y);
}
END_TEST

/* NaN and Inf in A, B or C (beta != 0) reach exactly the outputs they
 * feed, as in PyTorch: A = [[NaN, 1], [1, 1]], B = I, C = [0, Inf]
 * (broadcast over rows) -> Y = [[NaN, NaN], [1, Inf]]: Y[0,1] holds
 * NaN * 0, which is NaN (a BLAS must not skip the zero). */
START_TEST(gemm_nan_inf_propagate)
{
    for (int d = 0; d < 2; d++) {
        const double a[4] = {NAN, 1, 1, 1}, b[4] = {1, 0, 0, 1}, c[2] = {0, INFINITY};
        const float af[4] = {NAN, 1, 1, 1}, bf[4] = {1, 0, 0, 1}, cf[2] = {0, INFINITY};
        int64_t d2[2] = {2, 2}, dc[1] = {2};
        og_dtype dt = d ? OG_DOUBLE : OG_FLOAT;
        og_tensor *y;
        OG_CHECK(run(&y, "Gemm", 17, 3,
                     (tin[]){{dt, 2, d2, d ? (const void *)a : af}, {dt, 2, d2, d ? (const void *)b : bf},
                             {dt, 1, dc, d ? (const void *)c : cf}}, 0, NULL));
        double v[4];
        for (int i = 0; i < 4; i++)
            v[i] = d ? ((const double *)y->data)[i] : ((const float *)y->data)[i];
        ck_assert_msg(isnan(v[0]), "Y[0,0] = %g, expected NaN", v[0]);
        ck_assert_msg(isnan(v[1]), "Y[0,1] = %g, expected NaN", v[1]);
        ck_assert_msg(v[2] == 1.0, "Y[1,0] = %g, expected 1", v[2]);
        ck_assert_msg(isinf(v[3]) && v[3] > 0, "Y[1,1] = %g, expected +Inf", v[3]);
        og_tensor_free(y);
    }
}
END_TEST

/* K = 0: the product is empty, Y = beta * C. M = 0: Y is [0,N]. */
START_TEST(gemm_empty_dims)
{
    const float dummy[1] = {0}, c[3] = {1, 2, 3};
    int64_t da[2] = {2, 0}, db[2] = {0, 3}, dc[1] = {3};
    og_attr at = og_attr_float("beta", 2.0f);
    og_tensor *y;
    OG_CHECK(run(&y, "Gemm", 17, 3,
                 (tin[]){{OG_FLOAT, 2, da, dummy}, {OG_FLOAT, 2, db, dummy}, {OG_FLOAT, 1, dc, c}}, 1, &at));
    ck_assert_int_eq(y->dims[0], 2);
    ck_assert_int_eq(y->dims[1], 3);
    const float *v = y->data;
    for (int i = 0; i < 6; i++)
        ck_assert(v[i] == 2.0f * c[i % 3]);
    og_tensor_free(y);

    const float b[12] = {0};
    int64_t da0[2] = {0, 4}, db0[2] = {4, 3};
    OG_CHECK(run(&y, "Gemm", 17, 2, (tin[]){{OG_FLOAT, 2, da0, dummy}, {OG_FLOAT, 2, db0, b}}, 0, NULL));
    ck_assert_int_eq(y->dims[0], 0);
    ck_assert_int_eq(y->dims[1], 3);
    og_tensor_free(y);
}
END_TEST

/* C of shape [M] is [N] to the broadcasting rules, so it works when M == N. */
START_TEST(gemm_c_vector_when_m_equals_n)
{
    const float a[2] = {1, 2}, b[2] = {10, 100}, c[2] = {1, 2};
    int64_t da[2] = {2, 1}, db[2] = {1, 2}, dc[1] = {2};
    og_tensor *y;
    /* A*B = [[10,100],[20,200]], + C per column */
    OG_CHECK(run(&y, "Gemm", 17, 3,
                 (tin[]){{OG_FLOAT, 2, da, a}, {OG_FLOAT, 2, db, b}, {OG_FLOAT, 1, dc, c}}, 0, NULL));
    const float *v = y->data;
    ck_assert(v[0] == 11 && v[1] == 102 && v[2] == 21 && v[3] == 202);
    og_tensor_free(y);
}
END_TEST

/* Unknown dims flow through; a known C dim fills in an unknown M or N. */
START_TEST(gemm_infer_unknown_dims)
{
    int64_t da[2] = {-1, 4}, db[2] = {4, 5}, dc[2] = {3, 5}, w1[2] = {-1, 5}, w2[2] = {3, 5};
    expect_shape(OG_FLOAT, 2, w1, "Gemm", 17, 2, (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, db, NULL}}, 0, NULL);
    expect_shape(OG_FLOAT, 2, w2, "Gemm", 17, 3,
                 (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, db, NULL}, {OG_FLOAT, 2, dc, NULL}}, 0, NULL);
    int64_t dk[2] = {-1, -1}, w3[2] = {-1, -1};
    og_attr ta = og_attr_int("transA", 1);
    expect_shape(OG_DOUBLE, 2, w3, "Gemm", 17, 2, (tin[]){{OG_DOUBLE, 2, dk, NULL}, {OG_DOUBLE, 2, dk, NULL}}, 1, &ta);
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

START_TEST(gemm_rank_errors)
{
    int64_t d3[3] = {2, 3, 4}, d2[2] = {4, 5}, d1[1] = {4};
    expect_fail(OG_ERR_SHAPE, "rank 2", "Gemm", 17, 2, (tin[]){{OG_FLOAT, 3, d3, NULL}, {OG_FLOAT, 2, d2, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "[2,3,4]", "Gemm", 17, 2, (tin[]){{OG_FLOAT, 2, d2, NULL}, {OG_FLOAT, 3, d3, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "rank 2", "Gemm", 17, 2, (tin[]){{OG_FLOAT, 1, d1, NULL}, {OG_FLOAT, 2, d2, NULL}}, 0, NULL);
    int64_t da[2] = {2, 4}, dc3[3] = {1, 2, 5};
    expect_fail(OG_ERR_SHAPE, "rank <= 2", "Gemm", 17, 3,
                (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, d2, NULL}, {OG_FLOAT, 3, dc3, NULL}}, 0, NULL);
}
END_TEST

/* K must agree; the message names both shapes (and transposition). */
START_TEST(gemm_k_mismatch)
{
    int64_t da[2] = {2, 3}, db[2] = {4, 5};
    expect_fail(OG_ERR_SHAPE, "[2,3]", "Gemm", 17, 2, (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, db, NULL}}, 0, NULL);
    ck_assert_ptr_nonnull(strstr(og_errmsg(), "[4,5]"));
    /* A [5,2] transposed gives K = 5; B [4,5] gives K = 4 */
    int64_t da2[2] = {5, 2};
    og_attr t[1] = {og_attr_int("transA", 1)};
    expect_fail(OG_ERR_SHAPE, "transA=1", "Gemm", 17, 2, (tin[]){{OG_FLOAT, 2, da2, NULL}, {OG_FLOAT, 2, db, NULL}}, 1, t);
    /* the same shapes agree with transA alone */
    int64_t want[2] = {2, 5};
    expect_shape(OG_FLOAT, 2, want, "Gemm", 17, 2, (tin[]){{OG_FLOAT, 2, da2, NULL}, {OG_FLOAT, 2, (int64_t[]){5, 5}, NULL}}, 1, t);
}
END_TEST

/* Y is [2,4]: C [2] aligns with N = 4 and fails; [3,4], [2,3] fail too. */
START_TEST(gemm_c_not_broadcastable)
{
    int64_t da[2] = {2, 3}, db[2] = {3, 4};
    static const int64_t bad[][2] = {{2, 0}, {3, 4}, {2, 3}, {4, 2}};
    static const int bad_rank[] = {1, 2, 2, 2};
    for (int k = 0; k < 4; k++)
        expect_fail(OG_ERR_SHAPE, "broadcast", "Gemm", 17, 3,
                    (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, db, NULL}, {OG_FLOAT, bad_rank[k], bad[k], NULL}},
                    0, NULL);
}
END_TEST

START_TEST(gemm_attr_and_type_errors)
{
    int64_t da[2] = {2, 3}, db[2] = {3, 4};
    og_attr t2 = og_attr_int("transA", 2);
    expect_fail(OG_ERR_ATTR, "transA", "Gemm", 17, 2, (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, db, NULL}}, 1, &t2);
    expect_fail(OG_ERR_SHAPE, "double", "Gemm", 17, 2, (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_DOUBLE, 2, db, NULL}}, 0, NULL);
    /* integer Gemm is valid from opset 9 but not implemented; invalid before */
    expect_fail(OG_ERR_UNSUPPORTED, "int32", "Gemm", 13, 2, (tin[]){{OG_INT32, 2, da, NULL}, {OG_INT32, 2, db, NULL}}, 0, NULL);
    int64_t dc[2] = {2, 4};
    expect_fail(OG_ERR_SHAPE, "int32", "Gemm", 8, 3,
                (tin[]){{OG_INT32, 2, da, NULL}, {OG_INT32, 2, db, NULL}, {OG_INT32, 2, dc, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "uint8", "Gemm", 17, 2, (tin[]){{OG_UINT8, 2, da, NULL}, {OG_UINT8, 2, db, NULL}}, 0, NULL);
}
END_TEST

/* ---- opset rules -------------------------------------------------------- */

/* C became optional in opset 11. */
START_TEST(gemm_c_optional_from_11)
{
    int64_t da[2] = {2, 3}, db[2] = {3, 4}, want[2] = {2, 4};
    expect_fail(OG_ERR_INVALID_GRAPH, "opset 11", "Gemm", 10, 2, (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, db, NULL}}, 0, NULL);
    expect_fail(OG_ERR_INVALID_GRAPH, "opset 11", "Gemm", 10, 3,
                (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, db, NULL}, {OG_UNDEFINED, 0, NULL, NULL}}, 0, NULL);
    expect_shape(OG_FLOAT, 2, want, "Gemm", 11, 2, (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, db, NULL}}, 0, NULL);
    expect_shape(OG_FLOAT, 2, want, "Gemm", 11, 3,
                 (tin[]){{OG_FLOAT, 2, da, NULL}, {OG_FLOAT, 2, db, NULL}, {OG_UNDEFINED, 0, NULL, NULL}}, 0, NULL);
}
END_TEST

/* Opsets 1-6: broadcast = 0 (the default) needs C of shape [M,N];
 * broadcast = 1 broadcasts as later opsets do. The attribute is gone in 7. */
START_TEST(gemm_legacy_broadcast_attr)
{
    const float a[2] = {1, 2}, b[2] = {3, 4}, c[2] = {10, 20}, cfull[4] = {1, 2, 3, 4};
    int64_t da[2] = {2, 1}, db[2] = {1, 2}, dc[1] = {2}, dcf[2] = {2, 2};
    og_attr b1 = og_attr_int("broadcast", 1), b0 = og_attr_int("broadcast", 0);
    tin row[3] = {{OG_FLOAT, 2, da, a}, {OG_FLOAT, 2, db, b}, {OG_FLOAT, 1, dc, c}};
    tin full[3] = {{OG_FLOAT, 2, da, a}, {OG_FLOAT, 2, db, b}, {OG_FLOAT, 2, dcf, cfull}};

    expect_fail(OG_ERR_SHAPE, "broadcast=0", "Gemm", 6, 3, row, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "broadcast=0", "Gemm", 1, 3, row, 1, &b0);
    expect_fail(OG_ERR_ATTR, "broadcast", "Gemm", 7, 3, row, 1, &b1);

    og_tensor *y;
    /* A*B = [[3,4],[6,8]] */
    OG_CHECK(run(&y, "Gemm", 6, 3, row, 1, &b1));
    const float *v = y->data;
    ck_assert(v[0] == 13 && v[1] == 24 && v[2] == 16 && v[3] == 28);
    og_tensor_free(y);
    OG_CHECK(run(&y, "Gemm", 1, 3, full, 0, NULL));
    v = y->data;
    ck_assert(v[0] == 4 && v[1] == 6 && v[2] == 9 && v[3] == 12);
    og_tensor_free(y);
}
END_TEST

static Suite *gemm_suite(void)
{
    Suite *s = suite_create("Gemm");
    TCase *tc = tcase_create("numbers");
    tcase_add_test(tc, gemm_hand_worked);
    tcase_add_loop_test(tc, gemm_sweep, 0, 4);
    tcase_add_test(tc, gemm_beta_zero_ignores_c);
    tcase_add_test(tc, gemm_nan_inf_propagate);
    tcase_add_test(tc, gemm_empty_dims);
    tcase_add_test(tc, gemm_c_vector_when_m_equals_n);
    suite_add_tcase(s, tc);
    tc = tcase_create("inference");
    tcase_add_test(tc, gemm_infer_unknown_dims);
    tcase_add_test(tc, gemm_rank_errors);
    tcase_add_test(tc, gemm_k_mismatch);
    tcase_add_test(tc, gemm_c_not_broadcastable);
    tcase_add_test(tc, gemm_attr_and_type_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("opsets");
    tcase_add_test(tc, gemm_c_optional_from_11);
    tcase_add_test(tc, gemm_legacy_broadcast_attr);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(gemm_suite());
}
