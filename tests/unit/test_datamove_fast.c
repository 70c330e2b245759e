/* SPDX-License-Identifier: MIT */
/* test_datamove_fast.c — the plan-time fast kernels of the data-movement
 * and normalisation ops (Transpose's tiled copy, Softmax/LogSoftmax rows
 * with the vector exp) against the reference kernels (OG_KERNELS=reference)
 * over random shapes, permutations, dtypes and axes: Transpose bit-exact,
 * Softmax within a few ulp (the vector exp is not libm's), both
 * bit-identical at 1, 2 and 3 threads, and the plan naming the fast kernel. */
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }

/* One-node graph: input "x" of the tensor's type and shape, output "y". */
static og_graph *one_node(const char *op, int opset, const og_tensor *x, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    OG_CHECK(og_graph_add_input(g, "x", x->dtype, x->rank, x->dims, NULL));
    const char *in[] = { "x" }, *out[] = { "y" };
    OG_CHECK(og_graph_add_node(g, op, NULL, "n", 1, in, 1, out, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

/* y of g on x with the reference kernels (threads 1) or the plan's own
 * (n_threads); *kernel gets the kernel the plan chose (static storage). */
static og_tensor *run(const og_graph *g, const og_tensor *x, bool reference, int n_threads, char *kernel,
                      size_t ksize)
{
    if (reference)
        setenv("OG_KERNELS", "reference", 1);
    og_plan_options po = { .n_threads = n_threads };
    og_plan *p;
    og_status st = og_plan_create_ex(g, &po, &p);
    unsetenv("OG_KERNELS");
    OG_CHECK(st);
    const char *node, *op, *kern = NULL;
    OG_CHECK(og_plan_step(p, 0, &node, &op, &kern));
    if (kernel)
        snprintf(kernel, ksize, "%s", kern ? kern : "");
    og_tensor *y = NULL;
    OG_CHECK(og_plan_run(p, 1, &x, &y));
    og_plan_free(p);
    return y;
}

static og_tensor *random_tensor(og_dtype dt, int rank, const int64_t *dims)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    size_t es = og_dtype_size(dt);
    unsigned char *b = t->data;
    for (size_t i = 0; i < (size_t)t->numel * es; i++)
        b[i] = (unsigned char)rng();
    if (dt == OG_FLOAT)   /* finite values, some ties */
        for (int64_t i = 0; i < t->numel; i++)
            ((float *)t->data)[i] = (float)rnd(-4000, 4000) / 1000.0f;
    return t;
}

static void expect_same_bytes(const og_tensor *a, const og_tensor *b, const char *what)
{
    ck_assert_int_eq(a->rank, b->rank);
    for (int d = 0; d < a->rank; d++)
        ck_assert_int_eq(a->dims[d], b->dims[d]);
    ck_assert_msg(a->numel == 0 || memcmp(a->data, b->data, (size_t)a->numel * og_dtype_size(a->dtype)) == 0,
                  "%s: bytes differ", what);
}

START_TEST(transpose_random)
{
    static const og_dtype types[] = { OG_FLOAT, OG_DOUBLE, OG_INT64, OG_UINT8, OG_INT16, OG_BOOL, OG_INT32 };
    for (int iter = 0; iter < 300; iter++) {
        int r = (int)rnd(1, 5);
        int64_t dims[5];
        for (int d = 0; d < r; d++)
            dims[d] = rng() % 4 == 0 ? rnd(1, 3) : rnd(1, iter % 10 == 0 ? 80 : 20);
        if (iter % 50 == 7)
            dims[rnd(0, r - 1)] = 0;   /* empty */
        int64_t perm[5];
        for (int d = 0; d < r; d++)
            perm[d] = d;
        for (int d = r - 1; d > 0; d--) {
            int j = (int)rnd(0, d);
            int64_t t = perm[d];
            perm[d] = perm[j];
            perm[j] = t;
        }
        og_dtype dt = types[iter % 7];
        og_tensor *x = random_tensor(dt, r, dims);
        og_attr a = og_attr_ints("perm", r, perm);
        og_graph *g = one_node("Transpose", 13, x, iter % 9 == 0 ? 0 : 1, &a);   /* sometimes reversed */
        char kern[64];
        og_tensor *ref = run(g, x, true, 1, kern, sizeof kern);
        ck_assert_str_ne(kern, "transpose_tiled");
        for (int t = 1; t <= 3; t++) {
            og_tensor *y = run(g, x, false, t, kern, sizeof kern);
            ck_assert_str_eq(kern, "transpose_tiled");
            expect_same_bytes(y, ref, "transpose");
            og_tensor_free(y);
        }
        og_tensor_free(ref);
        og_tensor_free(x);
        og_graph_free(g);
    }
}
END_TEST

/* The shapes transformer layers transpose (attention heads, weights). */
START_TEST(transpose_model_shapes)
{
    static const int64_t shapes[][4] = { { 8, 128, 1024, 0 }, { 64, 128, 32, 0 }, { 256, 768, 0, 0 },
                                         { 2, 16, 8, 32 } };
    static const int64_t perms[][4] = { { 0, 2, 1, 0 }, { 1, 2, 0, 0 }, { 1, 0, 0, 0 }, { 0, 2, 1, 3 } };
    for (int c = 0; c < 4; c++) {
        int r = shapes[c][3] ? 4 : shapes[c][2] ? 3 : 2;
        og_tensor *x = random_tensor(OG_FLOAT, r, shapes[c]);
        og_attr a = og_attr_ints("perm", r, perms[c]);
        og_graph *g = one_node("Transpose", 13, x, 1, &a);
        og_tensor *ref = run(g, x, true, 1, NULL, 0);
        for (int t = 1; t <= 3; t++) {
            og_tensor *y = run(g, x, false, t, NULL, 0);
            expect_same_bytes(y, ref, "transpose model shape");
            og_tensor_free(y);
        }
        og_tensor_free(ref);
        og_tensor_free(x);
        og_graph_free(g);
    }
}
END_TEST

static bool close_ulps(float a, float b, float tol_rel, float tol_abs)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b))
        return a == b;
    return fabsf(a - b) <= tol_abs + tol_rel * fabsf(b);
}

START_TEST(softmax_random)
{
    for (int iter = 0; iter < 200; iter++) {
        bool log = iter % 2;
        int opset = iter % 5 == 0 ? 11 : 13;
        int r = (int)rnd(1, 4);
        int64_t dims[4];
        for (int d = 0; d < r; d++)
            dims[d] = rnd(1, d == r - 1 ? 150 : 6);
        if (iter % 40 == 3)
            dims[0] = 0;
        og_tensor *x = random_tensor(OG_FLOAT, r, dims);
        float *xs = x->data;
        int mode = iter % 7;
        for (int64_t i = 0; i < x->numel; i++) {
            if (mode == 1)
                xs[i] = (float)rnd(-100, 100);   /* spread wide: exp underflows */
            else if (mode == 2 && rng() % 5 == 0)
                xs[i] = -INFINITY;
            else if (mode == 3 && rng() % 17 == 0)
                xs[i] = rng() % 2 ? NAN : INFINITY;
        }
        if (mode == 4)   /* a whole row of -inf: NaN, as the reference */
            for (int64_t i = 0; i < dims[r - 1] && i < x->numel; i++)
                xs[i] = -INFINITY;
        og_attr a = og_attr_int("axis", opset < 13 ? r - 1 : -1);
        og_graph *g = one_node(log ? "LogSoftmax" : "Softmax", opset, x, 1, &a);
        char kern[64];
        og_tensor *ref = run(g, x, true, 1, kern, sizeof kern), *y1 = NULL;
        ck_assert_msg(strncmp(kern, "softmax_rows_", 13) != 0, "reference plan ran %s", kern);
        for (int t = 1; t <= 3; t++) {
            og_tensor *y = run(g, x, false, t, kern, sizeof kern);
            ck_assert_msg(strncmp(kern, "softmax_rows_", 13) == 0 || strcmp(kern, "reference") == 0, "kernel %s",
                          kern);
            const float *ys = y->data, *rs = ref->data;
            for (int64_t i = 0; i < y->numel; i++)
                ck_assert_msg(close_ulps(ys[i], rs[i], 4e-6f, log ? 4e-6f : 1e-37f), "%s %lld: fast %.9g, reference %.9g",
                              log ? "LogSoftmax" : "Softmax", (long long)i, ys[i], rs[i]);
            if (t == 1)
                y1 = y;
            else {
                expect_same_bytes(y, y1, "softmax threads");
                og_tensor_free(y);
            }
        }
        og_tensor_free(y1);
        og_tensor_free(ref);
        og_tensor_free(x);
        og_graph_free(g);
    }
}
END_TEST

/* Softmax along an axis that is not the last keeps the reference loops. */
START_TEST(softmax_inner_axis_keeps_reference)
{
    const int64_t d[] = { 3, 5, 7 };
    og_tensor *x = random_tensor(OG_FLOAT, 3, d);
    og_attr a = og_attr_int("axis", 1);
    og_graph *g = one_node("Softmax", 13, x, 1, &a);
    char kern[64];
    og_tensor *y = run(g, x, false, 2, kern, sizeof kern);
    ck_assert_msg(strncmp(kern, "softmax_rows_", 13) != 0, "kernel %s", kern);
    og_tensor_free(y);
    og_tensor_free(x);
    og_graph_free(g);
}
END_TEST

static Suite *datamove_suite(void)
{
    Suite *s = suite_create("datamove_fast");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, transpose_random);
    tcase_add_test(tc, transpose_model_shapes);
    tcase_add_test(tc, softmax_random);
    tcase_add_test(tc, softmax_inner_axis_keeps_reference);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(datamove_suite());
}
