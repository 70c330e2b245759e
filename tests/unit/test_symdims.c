/* SPDX-License-Identifier: MIT */
/* test_symdims.c — symbolic dims (dim_param) through inference
 * (src/symdims.c): a dynamic batch N names the dims of a CNN's intermediates
 * and outputs, two symbols stay apart, combinations (N+N, N*16, min(N,2))
 * stay unknown and never become static, a declared name wins, a node that
 * contradicts the probe shapes does not fail the model, re-finalizing
 * recomputes the names, gradient graphs carry them, and plans still run at
 * different batch sizes. tests/symdims/symdims_check.py compares the same
 * idea against onnx.shape_inference on saved models. */
#include <check.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

/* dims of value `name` as text, "N" for a named dim, "?" unknown: "[N,8,?]" */
static const char *dims_of(const og_graph *g, const char *name, char *buf, size_t size)
{
    og_value_info vi;
    OG_CHECK(og_graph_value(g, name, &vi));
    if (vi.rank < 0) {
        snprintf(buf, size, "unknown rank");
        return buf;
    }
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int k = 0; k < vi.rank && at < size; k++) {
        const char *sep = k ? "," : "";
        if (vi.dim_params && vi.dim_params[k])
            at += (size_t)snprintf(buf + at, size - at, "%s%s", sep, vi.dim_params[k]);
        else if (vi.dims[k] < 0)
            at += (size_t)snprintf(buf + at, size - at, "%s?", sep);
        else
            at += (size_t)snprintf(buf + at, size - at, "%s%lld", sep, (long long)vi.dims[k]);
    }
    if (at < size)
        snprintf(buf + at, size - at, "]");
    return buf;
}

#define EXPECT_DIMS(g, name, want)                                                              \
    do {                                                                                        \
        char b_[256];                                                                           \
        ck_assert_msg(strcmp(dims_of((g), (name), b_, sizeof b_), (want)) == 0, "%s: got %s, expected %s", \
                      (name), b_, (want));                                                      \
    } while (0)

static void add_init(og_graph *g, const char *name, og_dtype dt, int rank, const int64_t *dims, const void *data)
{
    og_tensor *t;
    if (data)
        OG_CHECK(og_tensor_create_from(dt, rank, dims, data, &t));
    else
        OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    if (!data && dt == OG_FLOAT)
        for (int64_t i = 0; i < t->numel; i++)
            ((float *)t->data)[i] = (float)((i * 7) % 11) / 11.0f - 0.4f;
    OG_CHECK(og_graph_add_initializer(g, name, t));
    og_tensor_free(t);
}

static void node(og_graph *g, const char *op, int n_in, const char *const *in, const char *out, int n_attrs,
                 const og_attr *attrs)
{
    const char *outs[] = { out };
    OG_CHECK(og_graph_add_node(g, op, NULL, NULL, n_in, in, 1, outs, n_attrs, attrs));
}

static og_graph *new_graph(void)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    return g;
}

/* x [N,3,8,8] -> Conv(8,3x3,pad 1) -> Relu -> MaxPool 2 -> Flatten -> Gemm(10) */
static og_graph *cnn(void)
{
    og_graph *g = new_graph();
    const int64_t xd[] = { -1, 3, 8, 8 }, wd[] = { 8, 3, 3, 3 }, gd[] = { 10, 128 };
    const char *xp[] = { "N", NULL, NULL, NULL };
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 4, xd, xp));
    add_init(g, "W", OG_FLOAT, 4, wd, NULL);
    add_init(g, "G", OG_FLOAT, 2, gd, NULL);
    const int64_t pads[] = { 1, 1, 1, 1 }, k2[] = { 2, 2 };
    og_attr conv_a[] = { og_attr_ints("pads", 4, pads) };
    og_attr pool_a[] = { og_attr_ints("kernel_shape", 2, k2), og_attr_ints("strides", 2, k2) };
    og_attr gemm_a[] = { og_attr_int("transB", 1) };
    node(g, "Conv", 2, (const char *[]){ "x", "W" }, "c", 1, conv_a);
    node(g, "Relu", 1, (const char *[]){ "c" }, "r", 0, NULL);
    node(g, "MaxPool", 1, (const char *[]){ "r" }, "p", 2, pool_a);
    node(g, "Flatten", 1, (const char *[]){ "p" }, "f", 0, NULL);
    node(g, "Gemm", 2, (const char *[]){ "f", "G" }, "y", 1, gemm_a);
    OG_CHECK(og_graph_add_output(g, "y"));
    return g;
}

START_TEST(cnn_names_the_batch)
{
    og_graph *g = cnn();
    OG_CHECK(og_graph_finalize(g));
    EXPECT_DIMS(g, "c", "[N,8,8,8]");
    EXPECT_DIMS(g, "r", "[N,8,8,8]");
    EXPECT_DIMS(g, "p", "[N,8,4,4]");
    EXPECT_DIMS(g, "f", "[N,128]");
    EXPECT_DIMS(g, "y", "[N,10]");
    /* the dims stay unknown underneath: names only */
    og_value_info vi;
    OG_CHECK(og_graph_value(g, "y", &vi));
    ck_assert_int_eq(vi.dims[0], -1);
    /* and a plan runs any batch, twice with different ones */
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    for (int64_t n = 2; n <= 5; n += 3) {
        const int64_t d[] = { n, 3, 8, 8 };
        og_tensor *x, *y = NULL;
        OG_CHECK(og_tensor_create(OG_FLOAT, 4, d, &x));
        memset(x->data, 0, (size_t)x->numel * sizeof(float));
        OG_CHECK(og_plan_run(p, 1, (const og_tensor *const *)&x, &y));
        ck_assert_int_eq(y->rank, 2);
        ck_assert_int_eq(y->dims[0], n);
        ck_assert_int_eq(y->dims[1], 10);
        og_tensor_free(x);
        og_tensor_free(y);
    }
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

START_TEST(gradient_graph_carries_names)
{
    og_graph *g = cnn(), *gg;
    OG_CHECK(og_graph_finalize(g));
    const char *seeded[] = { "y" }, *wrt[] = { "x", "W" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 2, .wrt = wrt };
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    EXPECT_DIMS(gg, "y_grad", "[N,10]");
    EXPECT_DIMS(gg, "x_grad", "[N,3,8,8]");
    EXPECT_DIMS(gg, "W_grad", "[8,3,3,3]");
    og_graph_free(gg);
    og_graph_free(g);
}
END_TEST

/* Dims that depend on N other than as N itself stay unknown: never static,
 * never named. */
START_TEST(combinations_stay_unknown)
{
    og_graph *g = new_graph();
    const int64_t xd[] = { -1, 4 };
    const char *xp[] = { "N", NULL };
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, xd, xp));
    const int64_t one = 1, two = 2, zero = 0, m1 = -1;
    add_init(g, "st", OG_INT64, 1, &one, &zero);
    add_init(g, "en", OG_INT64, 1, &one, &two);
    add_init(g, "ax", OG_INT64, 1, &one, &zero);
    add_init(g, "flat", OG_INT64, 1, &one, &m1);
    og_attr cat_a[] = { og_attr_int("axis", 0) };
    node(g, "Concat", 2, (const char *[]){ "x", "x" }, "cat", 1, cat_a);       /* 2N */
    node(g, "Slice", 4, (const char *[]){ "x", "st", "en", "ax" }, "sl", 0, NULL); /* min(N,2) */
    node(g, "Reshape", 2, (const char *[]){ "x", "flat" }, "fl", 0, NULL);      /* 4N */
    node(g, "Relu", 1, (const char *[]){ "x" }, "same", 0, NULL);               /* N */
    const char *outs[] = { "cat", "sl", "fl", "same" };
    for (int k = 0; k < 4; k++)
        OG_CHECK(og_graph_add_output(g, outs[k]));
    OG_CHECK(og_graph_finalize(g));
    EXPECT_DIMS(g, "cat", "[?,4]");
    EXPECT_DIMS(g, "sl", "[?,4]");   /* 2 for big probes, but 1 at N = 1 */
    EXPECT_DIMS(g, "fl", "[?]");
    EXPECT_DIMS(g, "same", "[N,4]");
    og_graph_free(g);
}
END_TEST

START_TEST(two_symbols)
{
    og_graph *g = new_graph();
    const int64_t xd[] = { -1, -1, 16 }, id[] = { -1, -1 }, ed[] = { 50, 16 };
    const char *xp[] = { "B", "S", NULL }, *ip[] = { "B", "S" };
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 3, xd, xp));
    OG_CHECK(og_graph_add_input(g, "ids", OG_INT64, 2, id, ip));
    add_init(g, "E", OG_FLOAT, 2, ed, NULL);
    const int64_t perm[] = { 0, 2, 1 };
    og_attr tr_a[] = { og_attr_ints("perm", 3, perm) };
    node(g, "Transpose", 1, (const char *[]){ "x" }, "t", 1, tr_a);
    node(g, "MatMul", 2, (const char *[]){ "x", "t" }, "mm", 0, NULL);
    node(g, "Gather", 2, (const char *[]){ "E", "ids" }, "emb", 0, NULL);
    node(g, "Add", 2, (const char *[]){ "emb", "x" }, "sum", 0, NULL);
    OG_CHECK(og_graph_add_output(g, "mm"));
    OG_CHECK(og_graph_add_output(g, "sum"));
    OG_CHECK(og_graph_finalize(g));
    EXPECT_DIMS(g, "t", "[B,16,S]");
    EXPECT_DIMS(g, "mm", "[B,S,S]");
    EXPECT_DIMS(g, "emb", "[B,S,16]");
    EXPECT_DIMS(g, "sum", "[B,S,16]");
    og_graph_free(g);
}
END_TEST

/* A Reshape to a constant shape that fits one batch only ([N,4] -> [8]):
 * the probes cannot run it, the model still loads and runs at N = 2. A
 * declared output name is kept even when inference would say N. */
START_TEST(probe_failure_and_declared_names)
{
    og_graph *g = new_graph();
    const int64_t xd[] = { -1, 4 }, one = 1, eight = 8;
    const char *xp[] = { "N", NULL };
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, xd, xp));
    add_init(g, "s8", OG_INT64, 1, &one, &eight);
    node(g, "Reshape", 2, (const char *[]){ "x", "s8" }, "r", 0, NULL);
    node(g, "Relu", 1, (const char *[]){ "x" }, "y", 0, NULL);
    node(g, "Relu", 1, (const char *[]){ "y" }, "z", 0, NULL);
    OG_CHECK(og_graph_add_output(g, "r"));
    OG_CHECK(og_graph_add_output(g, "z"));
    const char *zp[] = { "batch", NULL };
    OG_CHECK(og_graph_declare_value(g, "z", OG_FLOAT, 2, xd, zp));
    OG_CHECK(og_graph_finalize(g));
    EXPECT_DIMS(g, "r", "[8]");
    EXPECT_DIMS(g, "y", "[N,4]");
    EXPECT_DIMS(g, "z", "[batch,4]");
    /* re-finalizing (after adding a node) recomputes, keeps the declared */
    node(g, "Relu", 1, (const char *[]){ "z" }, "w", 0, NULL);
    OG_CHECK(og_graph_add_output(g, "w"));
    OG_CHECK(og_graph_finalize(g));
    EXPECT_DIMS(g, "y", "[N,4]");
    EXPECT_DIMS(g, "z", "[batch,4]");
    EXPECT_DIMS(g, "w", "[N,4]");
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    const int64_t d[] = { 2, 4 };
    og_tensor *x, *y[3] = { 0 };
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, d, &x));
    memset(x->data, 0, sizeof(float) * 8);
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const *)&x, y));
    ck_assert_int_eq(y[0]->dims[0], 8);
    ck_assert_int_eq(y[2]->dims[0], 2);
    for (int k = 0; k < 3; k++)
        og_tensor_free(y[k]);
    og_tensor_free(x);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* A static model gets no names, and a symbol fixed by a static partner
 * through broadcasting ([N,4] + [3,4]: N must be 3 or 1) is not named N. */
START_TEST(static_models_untouched)
{
    og_graph *g = cnn();
    og_graph_free(g);
    g = new_graph();
    const int64_t xd[] = { -1, 4 }, bd[] = { 3, 4 };
    const char *xp[] = { "N", NULL };
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, xd, xp));
    add_init(g, "b", OG_FLOAT, 2, bd, NULL);
    node(g, "Add", 2, (const char *[]){ "x", "b" }, "y", 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    EXPECT_DIMS(g, "y", "[3,4]");
    og_graph_free(g);
}
END_TEST

static Suite *symdims_suite(void)
{
    Suite *s = suite_create("symdims");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cnn_names_the_batch);
    tcase_add_test(tc, gradient_graph_carries_names);
    tcase_add_test(tc, combinations_stay_unknown);
    tcase_add_test(tc, two_symbols);
    tcase_add_test(tc, probe_failure_and_declared_names);
    tcase_add_test(tc, static_models_untouched);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(symdims_suite());
}
