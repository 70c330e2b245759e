/* SPDX-License-Identifier: MIT */
/* test_shape_fix.c — og_graph_fix_dim / og_graph_set_input_shape (what
 * --dim and --input-shape do) and the limits' names (og_limit_name,
 * og_limit_find, og_limit_max, behind --limit NAME=N). */
#include "testutil.h"

/* x [N,C] -> Relu -> h -> Add(h, z [N,C]) -> y, y declared [N,C]. */
static og_graph *model(void)
{
    og_graph *g;
    const int64_t dims[2] = { -1, -1 };
    const char *const params[2] = { "N", "C" };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, dims, params));
    OG_CHECK(og_graph_add_input(g, "z", OG_FLOAT, 2, (const int64_t[]){ -1, 3 }, (const char *const[]){ "N", NULL }));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *const[]){ "x" }, 1, (const char *const[]){ "h" },
                               0, NULL));
    OG_CHECK(og_graph_add_node(g, "Add", NULL, "a", 2, (const char *const[]){ "h", "z" }, 1,
                               (const char *const[]){ "y" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_declare_value(g, "y", OG_FLOAT, 2, dims, params));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static void expect_shape(const og_graph *g, const char *name, int64_t d0, const char *p0, int64_t d1, const char *p1)
{
    og_value_info vi;
    OG_CHECK(og_graph_value(g, name, &vi));
    ck_assert_int_eq(vi.rank, 2);
    ck_assert_int_eq(vi.dims[0], d0);
    ck_assert_int_eq(vi.dims[1], d1);
    const char *got0 = vi.dim_params ? vi.dim_params[0] : NULL, *got1 = vi.dim_params ? vi.dim_params[1] : NULL;
    ck_assert_msg(p0 ? got0 && !strcmp(got0, p0) : !got0, "%s dim 0 param '%s'", name, got0 ? got0 : "(null)");
    ck_assert_msg(p1 ? got1 && !strcmp(got1, p1) : !got1, "%s dim 1 param '%s'", name, got1 ? got1 : "(null)");
}

START_TEST(fix_dim_everywhere_declared)
{
    og_graph *g = model();
    OG_CHECK(og_graph_fix_dim(g, "N", 4));
    OG_CHECK(og_graph_finalize(g));
    expect_shape(g, "x", 4, NULL, -1, "C");
    expect_shape(g, "z", 4, NULL, 3, NULL);
    expect_shape(g, "h", 4, NULL, -1, "C");
    /* y's C is declared (and 3 by inference, through z): only N is fixed */
    expect_shape(g, "y", 4, NULL, 3, "C");
    /* a second symbol; then the model is static and runs with [4,3] only */
    OG_CHECK(og_graph_fix_dim(g, "C", 3));
    OG_CHECK(og_graph_finalize(g));
    expect_shape(g, "x", 4, NULL, 3, NULL);
    /* a symbol no input has (any more) */
    OG_CHECK_FAILS(og_graph_fix_dim(g, "N", 4), OG_ERR_INVALID_ARG, "no graph input has a symbolic dim 'N'");
    og_graph_free(g);
    g = model();
    OG_CHECK_FAILS(og_graph_fix_dim(g, "B", 4), OG_ERR_INVALID_ARG, "the inputs' symbolic dims are 'N', 'C'");
    OG_CHECK_FAILS(og_graph_fix_dim(g, "N", -1), OG_ERR_INVALID_ARG, "negative");
    /* a fix that makes the model inconsistent: C=5 against z's fixed 3 */
    OG_CHECK(og_graph_fix_dim(g, "C", 5));
    ck_assert_int_ne(og_graph_finalize(g), OG_OK);
    og_graph_free(g);
}
END_TEST

START_TEST(set_input_shape_checks_fixed_dims)
{
    og_graph *g = model();
    OG_CHECK(og_graph_set_input_shape(g, "x", 2, (const int64_t[]){ 2, 3 }));
    OG_CHECK(og_graph_finalize(g));
    expect_shape(g, "x", 2, NULL, 3, NULL);
    expect_shape(g, "h", 2, NULL, 3, NULL);
    OG_CHECK_FAILS(og_graph_set_input_shape(g, "z", 2, (const int64_t[]){ 2, 4 }), OG_ERR_SHAPE,
                   "input 'z' dim 1 is fixed at 3 in the model; the shape given has 4");
    OG_CHECK_FAILS(og_graph_set_input_shape(g, "z", 3, (const int64_t[]){ 2, 3, 1 }), OG_ERR_SHAPE,
                   "input 'z' has rank 2; the shape given has rank 3");
    OG_CHECK_FAILS(og_graph_set_input_shape(g, "q", 1, (const int64_t[]){ 2 }), OG_ERR_INVALID_ARG,
                   "the model has no input 'q'; its inputs are 'x', 'z'");
    OG_CHECK_FAILS(og_graph_set_input_shape(g, "z", 2, (const int64_t[]){ -2, 3 }), OG_ERR_INVALID_ARG, "negative");
    /* the failed calls changed nothing */
    OG_CHECK(og_graph_finalize(g));
    expect_shape(g, "z", -1, "N", 3, NULL);
    og_graph_free(g);
}
END_TEST

START_TEST(limit_names)
{
    for (int k = 0; k < OG_LIMIT_COUNT; k++) {
        const char *n = og_limit_name((og_limit_id)k);
        ck_assert_ptr_nonnull(n);
        ck_assert_int_eq(og_limit_find(n), k);
        ck_assert_int_ge(og_limit_max((og_limit_id)k), og_limit((og_limit_id)k, -1));
    }
    ck_assert_str_eq(og_limit_name(OG_LIMIT_PARSE_MEMORY_FACTOR), "parse-memory-factor");
    ck_assert_int_eq(og_limit_find("PARSE_MEMORY_FACTOR"), OG_LIMIT_PARSE_MEMORY_FACTOR);
    ck_assert_int_eq(og_limit_find("parse_memory_factor"), OG_LIMIT_PARSE_MEMORY_FACTOR);
    ck_assert_int_eq(og_limit_find("parse-memory"), -1);
    ck_assert_int_eq(og_limit_find("file-bytesx"), -1);
    ck_assert_int_eq(og_limit_find(NULL), -1);
    ck_assert_ptr_null(og_limit_name(OG_LIMIT_COUNT));
    ck_assert_int_eq(og_limit_max(OG_LIMIT_RANK), 32);
}
END_TEST

START_TEST(limit_message_says_how_to_raise)
{
    og_limit(OG_LIMIT_RANK, 1);
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK_FAILS(og_graph_add_input(g, "x", OG_FLOAT, 2, (const int64_t[]){ 1, 1 }, NULL), OG_ERR_LIMIT,
                   "(rank); raise it with --limit rank=N or OG_LIMIT_RANK=N (og_limit(OG_LIMIT_RANK, N) in C)");
    og_graph_free(g);
    og_limits_reset();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shape_fix");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fix_dim_everywhere_declared);
    tcase_add_test(tc, set_input_shape_checks_fixed_dims);
    tcase_add_test(tc, limit_names);
    tcase_add_test(tc, limit_message_says_how_to_raise);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
