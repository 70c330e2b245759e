/* SPDX-License-Identifier: MIT */
/* test_graph_inspect.c — og_graph_node_io/input/output/attr (what onnxgrad
 * dot reads a graph through), and the names autodiff gives the fan-in sums
 * of a gradient graph ("/fanin_Add_<n>"), which dot colours apart. */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

/* x -> Mul(x, x) = s; Relu(x) = r; Add(s, r) = y; ReduceSum(y) = loss:
 * x is read three times, so its gradient fans in twice. */
static og_graph *make_graph(void)
{
    og_graph *g;
    int64_t dims[2] = { 2, 3 };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 13));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, dims, NULL));
    const char *mul_in[2] = { "x", "x" }, *add_in[2] = { "s", "r" }, *clip_in[3] = { "x", "", "" };
    const char *s = "s", *r = "r", *y = "y", *loss = "loss", *x = "x";
    og_attr keep = og_attr_int("keepdims", 0);
    int64_t perm[2] = { 1, 0 };
    og_attr p = og_attr_ints("perm", 2, perm);
    OG_CHECK(og_graph_add_node(g, "Mul", NULL, "square", 2, mul_in, 1, &s, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, NULL, 1, &x, 1, &r, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "Sum", NULL, "add", 2, add_in, 1, &y, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "ReduceSum", NULL, "sum", 1, &y, 1, &loss, 1, &keep));
    OG_CHECK(og_graph_add_node(g, "Transpose", NULL, "t", 1, &x, 1, (const char *[]){ "xt" }, 1, &p));
    OG_CHECK(og_graph_add_node(g, "Clip", NULL, "clip", 3, clip_in, 1, (const char *[]){ "c" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "loss"));
    OG_CHECK(og_graph_add_output(g, "xt"));
    OG_CHECK(og_graph_add_output(g, "c"));
    return g;
}

START_TEST(node_io_and_attrs)
{
    og_graph *g = make_graph();
    int n_in, n_out, n_attrs;
    OG_CHECK(og_graph_node_io(g, 5, &n_in, &n_out, &n_attrs));
    ck_assert_int_eq(n_in, 3);
    ck_assert_int_eq(n_out, 1);
    ck_assert_int_eq(n_attrs, 0);
    ck_assert_str_eq(og_graph_node_input(g, 5, 0), "x");
    ck_assert_str_eq(og_graph_node_input(g, 5, 1), "");     /* omitted */
    ck_assert_str_eq(og_graph_node_input(g, 5, 2), "");
    ck_assert_ptr_null(og_graph_node_input(g, 5, 3));
    ck_assert_str_eq(og_graph_node_input(g, 2, 1), "r");
    ck_assert_ptr_null(og_graph_node_input(g, 2, -1));
    ck_assert_str_eq(og_graph_node_output(g, 2, 0), "y");
    ck_assert_ptr_null(og_graph_node_output(g, 2, 1));
    ck_assert_ptr_null(og_graph_node_output(g, 9, 0));

    og_attr a;
    OG_CHECK(og_graph_node_attr(g, 3, 0, &a));
    ck_assert_str_eq(a.name, "keepdims");
    ck_assert_int_eq(a.type, OG_ATTR_INT);
    ck_assert_int_eq(a.i, 0);
    OG_CHECK(og_graph_node_attr(g, 4, 0, &a));
    ck_assert_int_eq(a.type, OG_ATTR_INTS);
    ck_assert_int_eq(a.count, 2);
    ck_assert(a.ints[0] == 1 && a.ints[1] == 0);
    OG_CHECK_FAILS(og_graph_node_attr(g, 4, 1, &a), OG_ERR_INVALID_ARG, "attribute index 1");
    OG_CHECK_FAILS(og_graph_node_attr(g, 6, 0, &a), OG_ERR_INVALID_ARG, "node index 6");
    OG_CHECK_FAILS(og_graph_node_io(g, -1, NULL, NULL, NULL), OG_ERR_INVALID_ARG, "node index -1");
    /* the same after finalize (which orders but does not renumber nodes) */
    OG_CHECK(og_graph_finalize(g));
    ck_assert_str_eq(og_graph_node_output(g, 4, 0), "xt");
    og_graph_free(g);
}
END_TEST

START_TEST(fan_in_sums_are_named)
{
    og_graph *g = make_graph(), *gg;
    OG_CHECK(og_graph_finalize(g));
    const char *wrt[1] = { "x" };
    og_grad_options o = { .loss = "loss", .n_wrt = 1, .wrt = wrt };
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    int n_fwd = og_graph_num_nodes(g), fanin = 0;
    for (int k = 0; k < og_graph_num_nodes(gg); k++) {
        const char *op, *name;
        OG_CHECK(og_graph_node(gg, k, &op, &name));
        if (k < n_fwd) {   /* the forward nodes come first, in the model's order */
            const char *fop;
            OG_CHECK(og_graph_node(g, k, &fop, NULL));
            ck_assert_str_eq(op, fop);
            continue;
        }
        ck_assert_msg(!strncmp(name, "grad/", 5), "backward node '%s'", name);
        const char *last = strrchr(name, '/');
        if (!strncmp(last + 1, "fanin_", 6)) {
            ck_assert_str_eq(op, "Add");
            fanin++;
        }
    }
    /* x's gradient comes from Mul (twice) and Relu: two sums. Transpose's
     * and Clip's outputs are not differentiated (not on the loss's path). */
    ck_assert_int_eq(fanin, 2);
    og_graph_free(gg);
    og_graph_free(g);
}
END_TEST

static Suite *inspect_suite(void)
{
    Suite *s = suite_create("graph_inspect");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, node_io_and_attrs);
    tcase_add_test(tc, fan_in_sums_are_named);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(inspect_suite());
}
