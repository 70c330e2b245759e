/* SPDX-License-Identifier: MIT */
/* test_maxpool_grad.c — MaxPool's backward rule: float64 finite
 * differences (og_gradcheck) over 1-D, 2-D and 3-D pools with pads,
 * strides, dilations, ceil_mode, overlapping windows, storage_order 1,
 * every auto_pad mode, Indices wanted or not and an unknown batch dim;
 * hand-worked gradients for exact ties (the first maximum takes it all, as
 * in PyTorch) and overlapping windows; the geometries it must refuse. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "onnxgrad/autodiff.h"
#include "testutil.h"

#define NODE "pool_node"

/* Graph: input X (dims xd, declared as decl when given), MaxPool NODE ->
 * Y (and I when with_ind), outputs alike; finalized. */
static og_graph *pool_graph(og_dtype dt, int rank, const int64_t *decl, bool with_ind, int n_attrs,
                            const og_attr *attrs)
{
    og_graph *g;
    const char *in[1] = { "X" }, *out[2] = { "Y", "I" };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "X", dt, rank, decl, NULL));
    OG_CHECK(og_graph_add_node(g, "MaxPool", NULL, NODE, 1, in, with_ind ? 2 : 1, out, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "Y"));
    if (with_ind)
        OG_CHECK(og_graph_add_output(g, "I"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

/* og_gradcheck on X (random in [-1, 1], so no ties) must pass. x: a value
 * for X when its declared dims are not all known. */
static void check_pool(int rank, const int64_t *xd, int n_attrs, const og_attr *attrs, bool with_ind,
                       const og_tensor *x, uint64_t seed)
{
    og_graph *g = pool_graph(OG_FLOAT, rank, xd, with_ind, n_attrs, attrs);
    og_gradcheck_options o = { .seed = seed, .n_inputs = x ? 1 : 0, .inputs = x ? &x : NULL };
    og_gradcheck_report *r;
    OG_CHECK(og_gradcheck(g, &o, &r));
    ck_assert_int_eq(r->n, 1);
    ck_assert_msg(r->pass, "gradcheck failed: element %lld analytic %g numeric %g (max abs err %g)",
                  (long long)r->entries[0].worst_index, r->entries[0].worst_analytic, r->entries[0].worst_numeric,
                  r->entries[0].max_abs_err);
    ck_assert_int_eq(r->entries[0].checked, r->entries[0].numel);
    og_gradcheck_report_free(r);
    og_graph_free(g);
}

/* dX for X = x and upstream gradient dy, through og_gradients. */
static og_tensor *pool_grad(int rank, const int64_t *xd, const float *x, const int64_t *yd, const float *dy,
                            int n_attrs, const og_attr *attrs)
{
    og_graph *g = pool_graph(OG_FLOAT, rank, xd, false, n_attrs, attrs);
    og_tensor *xt, *dyt, *dx;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, rank, xd, x, &xt));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, rank, yd, dy, &dyt));
    const char *seeded[1] = { "Y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded };
    OG_CHECK(og_gradients(g, &o, 1, (const og_tensor *const *)&xt, (const og_tensor *const *)&dyt, &dx));
    og_tensor_free(xt);
    og_tensor_free(dyt);
    og_graph_free(g);
    return dx;
}

static void expect_floats(const og_tensor *t, int n, const float *want)
{
    ck_assert_int_eq(t->numel, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(((const float *)t->data)[i] == want[i], "[%d] = %g, expected %g", i,
                      (double)((const float *)t->data)[i], (double)want[i]);
}

/* Building the gradient must fail with UNSUPPORTED naming the node. */
static void expect_refused(int rank, const int64_t *xd, int n_attrs, const og_attr *attrs, const char *needle)
{
    og_graph *g = pool_graph(OG_FLOAT, rank, xd, false, n_attrs, attrs), *gg = NULL;
    og_grad_options o = { .loss = NULL, .n_seeded = 1, .seeded = (const char *const[]){ "Y" } };
    og_status st = og_graph_build_gradient(g, &o, &gg);
    ck_assert_msg(st == OG_ERR_UNSUPPORTED, "expected OG_ERR_UNSUPPORTED, got %s: %s", og_status_name(st),
                  st ? og_errmsg() : "(built)");
    ck_assert_msg(strstr(og_errmsg(), "'" NODE "'") != NULL, "message does not name the node: %s", og_errmsg());
    ck_assert_msg(strstr(og_errmsg(), needle) != NULL, "message lacks \"%s\": %s", needle, og_errmsg());
    og_graph_free(gg);
    og_graph_free(g);
}

/* ---- hand-worked gradients ------------------------------------------------ */

/* Kernel 2, stride 1 over [1, 1, 3, 3]: the windows are [1,1] (tie: the
 * first takes it), [1,3] and [3,3] (tie: the first 3), so dX = [1, 0,
 * 10 + 100, 0] for dY = [1, 10, 100]. */
START_TEST(grad_ties_go_to_first_max)
{
    const int64_t xd[3] = { 1, 1, 4 }, yd[3] = { 1, 1, 3 };
    og_attr k = og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 });
    og_tensor *dx = pool_grad(3, xd, (const float[]){ 1, 1, 3, 3 }, yd, (const float[]){ 1, 10, 100 }, 1, &k);
    expect_floats(dx, 4, (const float[]){ 1, 0, 110, 0 });
    og_tensor_free(dx);
}
END_TEST

/* 2-D ties, kernel [2,2], stride 1 over an all-equal 3x3 plane: each window
 * sends its gradient to its top-left cell (the first in row-major scan),
 * so dX[i][j] = dY[i][j] for i, j < 2 and 0 on the last row and column. */
START_TEST(grad_ties_2d)
{
    const int64_t xd[4] = { 1, 1, 3, 3 }, yd[4] = { 1, 1, 2, 2 };
    const float x[9] = { 5, 5, 5, 5, 5, 5, 5, 5, 5 };
    og_attr k = og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 2 });
    og_tensor *dx = pool_grad(4, xd, x, yd, (const float[]){ 1, 2, 3, 4 }, 1, &k);
    expect_floats(dx, 9, (const float[]){ 1, 2, 0, 3, 4, 0, 0, 0, 0 });
    og_tensor_free(dx);
}
END_TEST

/* Overlapping windows, pads and storage_order 1 by hand: kernel [2,2],
 * stride 1, pads [1,1,0,0] over [[1,2],[4,3]] give four windows: rows
 * -1..0 x cols -1..0 (only the 1 is real) -> [0][0]; rows -1..0 x cols
 * 0..1 (1, 2) -> [0][1]; rows 0..1 x cols -1..0 (1, 4) -> [1][0]; the
 * whole plane -> [1][0]. dY = [1, 10, 100, 1000] gives dX = [[1, 10],
 * [1100, 0]], the same with storage_order 1. */
START_TEST(grad_overlap_pads_storage_order)
{
    const int64_t xd[4] = { 1, 1, 2, 2 }, yd[4] = { 1, 1, 2, 2 };
    const float x[4] = { 1, 2, 4, 3 }, dy[4] = { 1, 10, 100, 1000 };
    for (int so = 0; so < 2; so++) {
        og_attr at[3] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 2 }),
                          og_attr_ints("pads", 4, (const int64_t[]){ 1, 1, 0, 0 }),
                          og_attr_int("storage_order", so) };
        og_tensor *dx = pool_grad(4, xd, x, yd, dy, 3, at);
        expect_floats(dx, 4, (const float[]){ 1, 10, 1100, 0 });
        og_tensor_free(dx);
    }
}
END_TEST

/* ---- finite differences ----------------------------------------------------- */

START_TEST(gradcheck_1d)
{
    const int64_t xd[3] = { 2, 3, 7 };
    og_attr at[3] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 3 }),
                      og_attr_ints("pads", 2, (const int64_t[]){ 1, 2 }),
                      og_attr_ints("strides", 1, (const int64_t[]){ 1 }) };
    check_pool(3, xd, 3, at, false, NULL, 1);
    /* stride 2 with dilation 2 and ceil_mode */
    og_attr at2[4] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 }),
                       og_attr_ints("strides", 1, (const int64_t[]){ 2 }),
                       og_attr_ints("dilations", 1, (const int64_t[]){ 2 }), og_attr_int("ceil_mode", 1) };
    check_pool(3, xd, 4, at2, false, NULL, 2);
}
END_TEST

START_TEST(gradcheck_2d_pads_strides)
{
    const int64_t xd[4] = { 1, 2, 7, 6 };
    og_attr at[3] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 3, 3 }),
                      og_attr_ints("strides", 2, (const int64_t[]){ 2, 1 }),
                      og_attr_ints("pads", 4, (const int64_t[]){ 1, 1, 1, 2 }) };
    check_pool(4, xd, 3, at, false, NULL, 3);
    /* Indices wanted by the forward graph as well */
    check_pool(4, xd, 3, at, true, NULL, 4);
}
END_TEST

START_TEST(gradcheck_2d_dilations_ceil)
{
    const int64_t xd[4] = { 2, 1, 8, 7 };
    og_attr at[5] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 3 }),
                      og_attr_ints("strides", 2, (const int64_t[]){ 2, 2 }),
                      og_attr_ints("dilations", 2, (const int64_t[]){ 2, 1 }),
                      og_attr_ints("pads", 4, (const int64_t[]){ 1, 0, 1, 1 }), og_attr_int("ceil_mode", 1) };
    check_pool(4, xd, 5, at, false, NULL, 5);
}
END_TEST

/* storage_order 1: the rule recomputes row-major indices with a second
 * MaxPool; with the forward Indices wanted and not. */
START_TEST(gradcheck_2d_storage_order)
{
    const int64_t xd[4] = { 2, 2, 5, 6 };
    og_attr at[4] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 3, 2 }),
                      og_attr_ints("strides", 2, (const int64_t[]){ 1, 2 }),
                      og_attr_ints("pads", 4, (const int64_t[]){ 1, 1, 1, 0 }), og_attr_int("storage_order", 1) };
    check_pool(4, xd, 4, at, false, NULL, 6);
    check_pool(4, xd, 4, at, true, NULL, 7);
    og_attr same[3] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 3, 3 }),
                        og_attr_string("auto_pad", "SAME_LOWER"), og_attr_int("storage_order", 1) };
    check_pool(4, xd, 3, same, false, NULL, 8);
    /* auto_pad ignores ceil_mode; the second MaxPool's explicit pads must not round up */
    const char *modes[3] = { "VALID", "SAME_UPPER", "SAME_LOWER" };
    for (int m = 0; m < 3; m++) {
        og_attr ceil[5] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 3 }),
                            og_attr_ints("strides", 2, (const int64_t[]){ 2, 2 }), og_attr_string("auto_pad", modes[m]),
                            og_attr_int("ceil_mode", 1), og_attr_int("storage_order", 1) };
        check_pool(4, xd, 5, ceil, false, NULL, 50 + (uint64_t)m);
    }
}
END_TEST

START_TEST(gradcheck_auto_pad)
{
    const int64_t xd[4] = { 1, 2, 6, 5 };
    const char *modes[3] = { "SAME_UPPER", "SAME_LOWER", "VALID" };
    for (int m = 0; m < 3; m++) {
        og_attr at[3] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 3 }),
                          og_attr_ints("strides", 2, (const int64_t[]){ 2, 1 }), og_attr_string("auto_pad", modes[m]) };
        check_pool(4, xd, 3, at, false, NULL, 10 + (uint64_t)m);
    }
}
END_TEST

START_TEST(gradcheck_3d)
{
    const int64_t xd[5] = { 1, 2, 4, 5, 4 };
    og_attr at[3] = { og_attr_ints("kernel_shape", 3, (const int64_t[]){ 2, 3, 2 }),
                      og_attr_ints("strides", 3, (const int64_t[]){ 1, 2, 1 }),
                      og_attr_ints("pads", 6, (const int64_t[]){ 1, 1, 0, 0, 1, 1 }) };
    check_pool(5, xd, 3, at, false, NULL, 20);
    og_attr so[3] = { og_attr_ints("kernel_shape", 3, (const int64_t[]){ 2, 2, 2 }),
                      og_attr_ints("dilations", 3, (const int64_t[]){ 1, 2, 1 }), og_attr_int("storage_order", 1) };
    check_pool(5, xd, 3, so, false, NULL, 21);
}
END_TEST

/* Unknown batch and spatial dims: X's shape and zeros come from Shape
 * nodes; allowed when no window can lie in the padding (dilation 1, pads
 * below the kernel). */
START_TEST(gradcheck_unknown_dims)
{
    const int64_t decl[4] = { -1, 2, -1, -1 }, xd[4] = { 3, 2, 5, 4 };
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, xd, &x));
    OG_CHECK(og_tensor_set_name(x, "X"));
    for (int64_t i = 0; i < x->numel; i++)
        ((float *)x->data)[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;   /* distinct values */
    og_attr at[3] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 3, 2 }),
                      og_attr_ints("pads", 4, (const int64_t[]){ 2, 1, 1, 1 }), og_attr_int("ceil_mode", 1) };
    check_pool(4, decl, 3, at, false, x, 30);
    og_attr same[2] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 3, 2 }),
                        og_attr_string("auto_pad", "SAME_UPPER") };
    check_pool(4, decl, 2, same, false, x, 31);
    /* storage_order 1 with SAME and unknown pads: the second MaxPool keeps auto_pad */
    og_attr same_so[3] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 3 }),
                           og_attr_string("auto_pad", "SAME_LOWER"), og_attr_int("storage_order", 1) };
    check_pool(4, decl, 3, same_so, false, x, 32);
    og_tensor_free(x);
}
END_TEST

/* Second order through the nodes the rule emits (Reshape,
 * ScatterElements): X*X pooled, so the first gradient depends on X. */
START_TEST(gradcheck_second_order)
{
    const int64_t xd[4] = { 1, 2, 5, 4 };
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, xd, NULL));
    OG_CHECK(og_graph_add_node(g, "Mul", NULL, "sq", 2, (const char *const[]){ "X", "X" }, 1,
                               (const char *const[]){ "X2" }, 0, NULL));
    og_attr at[3] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 3, 2 }),
                      og_attr_ints("pads", 4, (const int64_t[]){ 1, 1, 1, 0 }), og_attr_int("storage_order", 1) };
    OG_CHECK(og_graph_add_node(g, "MaxPool", NULL, NODE, 1, (const char *const[]){ "X2" }, 1,
                               (const char *const[]){ "Y" }, 3, at));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    og_gradcheck_options o = { .seed = 60, .order = 2 };
    og_gradcheck_report *r;
    OG_CHECK(og_gradcheck(g, &o, &r));
    ck_assert_msg(r->pass, "second-order gradcheck failed");
    og_gradcheck_report_free(r);
    og_graph_free(g);
}
END_TEST

/* double X goes through the same rule */
START_TEST(gradients_double)
{
    const int64_t xd[3] = { 1, 1, 4 };
    og_attr k = og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 });
    og_graph *g = pool_graph(OG_DOUBLE, 3, xd, false, 1, &k);
    og_tensor *xt, *dx;
    OG_CHECK(og_tensor_create_from(OG_DOUBLE, 3, xd, (const double[]){ 0.5, -1, 2, 1.5 }, &xt));
    og_grad_options o = { .loss = NULL, .n_seeded = 1, .seeded = (const char *const[]){ "Y" } };
    og_tensor *dy;
    OG_CHECK(og_tensor_create_from(OG_DOUBLE, 3, (const int64_t[]){ 1, 1, 3 }, (const double[]){ 1, 2, 4 }, &dy));
    OG_CHECK(og_gradients(g, &o, 1, (const og_tensor *const *)&xt, (const og_tensor *const *)&dy, &dx));
    ck_assert_int_eq(dx->dtype, OG_DOUBLE);
    const double *v = dx->data;   /* windows: 0.5 | 2 | 2 */
    ck_assert(v[0] == 1 && v[1] == 0 && v[2] == 6 && v[3] == 0);
    og_tensor_free(dx);
    og_tensor_free(dy);
    og_tensor_free(xt);
    og_graph_free(g);
}
END_TEST

/* ---- refused geometry ----------------------------------------------------- */

START_TEST(refuses_window_in_padding)
{
    const int64_t xd[3] = { 1, 1, 3 };
    /* pads [2, 0], kernel 2: the first window covers cells -2 and -1 */
    og_attr at[2] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 }),
                      og_attr_ints("pads", 2, (const int64_t[]){ 2, 0 }) };
    expect_refused(3, xd, 2, at, "wholly in the padding");
    /* end side: pads [0, 2], kernel 2 -> the last window covers cells 3 and 4 */
    og_attr at_end[2] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 }),
                          og_attr_ints("pads", 2, (const int64_t[]){ 0, 2 }) };
    expect_refused(3, xd, 2, at_end, "wholly in the padding");
    /* dilation 3 over one cell with pads [1, 2]: cells -1 and 2, neither real */
    const int64_t x1[3] = { 1, 1, 1 };
    og_attr dil[3] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 }),
                       og_attr_ints("dilations", 1, (const int64_t[]){ 3 }),
                       og_attr_ints("pads", 2, (const int64_t[]){ 1, 2 }) };
    expect_refused(3, x1, 3, dil, "wholly in the padding");
    /* SAME_UPPER with dilation 3 over one cell: the same window */
    og_attr same[3] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 }),
                        og_attr_ints("dilations", 1, (const int64_t[]){ 3 }), og_attr_string("auto_pad", "SAME_UPPER") };
    expect_refused(3, x1, 3, same, "wholly in the padding");
    /* the 2-D version: only axis 1 has the bad window */
    const int64_t x2[4] = { 1, 1, 4, 3 };
    og_attr at2[2] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 2 }),
                       og_attr_ints("pads", 4, (const int64_t[]){ 1, 2, 1, 0 }) };
    expect_refused(4, x2, 2, at2, "spatial axis 1");
}
END_TEST

/* Dilation 3 over 4 cells with pads [1, 2] has no empty window (cells -1,
 * 2 | 0, 3 | 1, 4 | 2, 5): accepted and checked. */
START_TEST(dilated_pads_accepted)
{
    const int64_t xd[3] = { 1, 2, 4 };
    og_attr dil[3] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 }),
                       og_attr_ints("dilations", 1, (const int64_t[]){ 3 }),
                       og_attr_ints("pads", 2, (const int64_t[]){ 1, 2 }) };
    check_pool(3, xd, 3, dil, false, NULL, 40);
}
END_TEST

/* With the spatial dims unknown, padding the rule cannot rule out is refused. */
START_TEST(refuses_unknown_dims_with_dilated_pads)
{
    const int64_t decl[3] = { 1, 1, -1 };
    og_attr dil[3] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 }),
                       og_attr_ints("dilations", 1, (const int64_t[]){ 3 }),
                       og_attr_ints("pads", 2, (const int64_t[]){ 1, 0 }) };
    expect_refused(3, decl, 3, dil, "known");
    og_attr big[2] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 }),
                       og_attr_ints("pads", 2, (const int64_t[]){ 0, 2 }) };
    expect_refused(3, decl, 2, big, "known");
}
END_TEST

static Suite *maxpool_grad_suite(void)
{
    Suite *s = suite_create("MaxPool backward");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, grad_ties_go_to_first_max);
    tcase_add_test(tc, grad_ties_2d);
    tcase_add_test(tc, grad_overlap_pads_storage_order);
    tcase_add_test(tc, gradcheck_1d);
    tcase_add_test(tc, gradcheck_2d_pads_strides);
    tcase_add_test(tc, gradcheck_2d_dilations_ceil);
    tcase_add_test(tc, gradcheck_2d_storage_order);
    tcase_add_test(tc, gradcheck_auto_pad);
    tcase_add_test(tc, gradcheck_3d);
    tcase_add_test(tc, gradcheck_unknown_dims);
    tcase_add_test(tc, gradcheck_second_order);
    tcase_add_test(tc, gradients_double);
    tcase_add_test(tc, refuses_window_in_padding);
    tcase_add_test(tc, dilated_pads_accepted);
    tcase_add_test(tc, refuses_unknown_dims_with_dilated_pads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(maxpool_grad_suite());
}
