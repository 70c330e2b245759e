/* SPDX-License-Identifier: MIT */
/* Graph IR: building, validation errors, topological order, inference. */
#include <stdio.h>
#include "testutil.h"
#include "internal.h"

static const int64_t dims23[2] = { 2, 3 };

static og_graph *new_graph(void)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, dims23, NULL));
    return g;
}

static og_status relu(og_graph *g, const char *name, const char *in, const char *out)
{
    return og_graph_add_node(g, "Relu", NULL, name, 1, (const char *[]){ in }, 1, (const char *[]){ out }, 0, NULL);
}

START_TEST(valid_graph_infers_shapes)
{
    og_graph *g = new_graph();
    OG_CHECK(relu(g, "r1", "x", "h"));
    OG_CHECK(og_graph_add_node(g, "Flatten", NULL, "f", 1, (const char *[]){ "h" }, 1, (const char *[]){ "y" }, 1,
                               (og_attr[]){ og_attr_int("axis", 0) }));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_value_info vi;
    OG_CHECK(og_graph_value(g, "h", &vi));
    ck_assert_int_eq(vi.dtype, OG_FLOAT);
    ck_assert_int_eq(vi.rank, 2);
    ck_assert_int_eq(vi.dims[1], 3);
    OG_CHECK(og_graph_output(g, 0, &vi));
    ck_assert_int_eq(vi.rank, 2);
    ck_assert_int_eq(vi.dims[0], 1);
    ck_assert_int_eq(vi.dims[1], 6);
    ck_assert_int_eq(og_graph_num_nodes(g), 2);
    ck_assert_int_eq(og_graph_num_inputs(g), 1);
    const char *op;
    OG_CHECK(og_graph_node(g, 1, &op, NULL));
    ck_assert_str_eq(op, "Flatten");
    og_graph_free(g);
}
END_TEST

START_TEST(symbolic_dims_stay_unknown)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, (int64_t[]){ -1, 3 }, (const char *[]){ "N", NULL }));
    OG_CHECK(relu(g, "r", "x", "y"));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_value_info vi;
    OG_CHECK(og_graph_input(g, 0, &vi));
    ck_assert_str_eq(vi.dim_params[0], "N");
    ck_assert_ptr_null(vi.dim_params[1]);
    OG_CHECK(og_graph_value(g, "y", &vi));
    ck_assert_int_eq(vi.dims[0], -1);
    ck_assert_int_eq(vi.dims[1], 3);
    og_graph_free(g);
}
END_TEST

START_TEST(nodes_out_of_order_are_sorted)
{
    og_graph *g = new_graph();
    OG_CHECK(relu(g, "second", "h", "y"));
    OG_CHECK(relu(g, "first", "x", "h"));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    ck_assert_int_eq(g->order[0], 1);
    ck_assert_int_eq(g->order[1], 0);
    og_graph_free(g);
}
END_TEST

START_TEST(unknown_op)
{
    og_graph *g = new_graph();
    OG_CHECK(og_graph_add_node(g, "Frobnicate", NULL, "n1", 1, (const char *[]){ "x" }, 1, (const char *[]){ "y" },
                               0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_UNSUPPORTED,
                   "the model uses 1 op not implemented by onnxgrad: Frobnicate (1 node, first 'n1')");
    og_graph_free(g);
    /* Every missing op at once, each with its count and first node. */
    g = new_graph();
    OG_CHECK(og_graph_set_opset(g, "com.example", 1));
    OG_CHECK(og_graph_add_node(g, "Frobnicate", NULL, "a", 1, (const char *[]){ "x" }, 1, (const char *[]){ "y1" },
                               0, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *[]){ "y1" }, 1, (const char *[]){ "y2" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_node(g, "Frobnicate", NULL, "b", 1, (const char *[]){ "y2" }, 1, (const char *[]){ "y3" },
                               0, NULL));
    OG_CHECK(og_graph_add_node(g, "Twiddle", "com.example", "c", 1, (const char *[]){ "y3" }, 1,
                               (const char *[]){ "y" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_UNSUPPORTED,
                   "the model uses 2 ops not implemented by onnxgrad: Frobnicate (2 nodes, first 'a'); "
                   "Twiddle in domain 'com.example' (1 node, first 'c')");
    og_graph_free(g);
}
END_TEST

START_TEST(unknown_domain)
{
    og_graph *g = new_graph();
    OG_CHECK(og_graph_set_opset(g, "com.example", 1));
    OG_CHECK(og_graph_add_node(g, "Relu", "com.example", "n1", 1, (const char *[]){ "x" }, 1,
                               (const char *[]){ "y" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_UNSUPPORTED, "domain 'com.example'");
    og_graph_free(g);
}
END_TEST

START_TEST(missing_and_bad_opsets)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, dims23, NULL));
    OG_CHECK(relu(g, "r", "x", "y"));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "imports no opset");
    OG_CHECK(og_graph_set_opset(g, "", 99));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_UNSUPPORTED, "opset 99");
    OG_CHECK_FAILS(og_graph_set_opset(g, "ai.onnx", 13), OG_ERR_INVALID_GRAPH, "imported twice");
    og_graph_free(g);
}
END_TEST

START_TEST(value_produced_twice)
{
    og_graph *g = new_graph();
    OG_CHECK(relu(g, "a", "x", "y"));
    OG_CHECK_FAILS(relu(g, "b", "x", "y"), OG_ERR_INVALID_GRAPH, "'y' is produced twice");
    ck_assert_int_eq(og_graph_num_nodes(g), 1);
    og_graph_free(g);
}
END_TEST

START_TEST(node_overwrites_graph_input)
{
    og_graph *g = new_graph();
    OG_CHECK(og_graph_add_input(g, "z", OG_FLOAT, 2, dims23, NULL));
    OG_CHECK(relu(g, "a", "x", "z"));
    OG_CHECK(og_graph_add_output(g, "z"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "produced twice");
    og_graph_free(g);
}
END_TEST

START_TEST(dangling_input)
{
    og_graph *g = new_graph();
    OG_CHECK(relu(g, "a", "nowhere", "y"));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "'nowhere' is not produced");
    og_graph_free(g);
}
END_TEST

START_TEST(dangling_output)
{
    og_graph *g = new_graph();
    OG_CHECK(og_graph_add_output(g, "ghost"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "graph output 'ghost'");
    og_graph_free(g);
}
END_TEST

START_TEST(cycle_and_self_loop)
{
    og_graph *g = new_graph();
    OG_CHECK(relu(g, "a", "q", "p"));
    OG_CHECK(relu(g, "b", "p", "q"));
    OG_CHECK(og_graph_add_output(g, "q"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "cycle");
    og_graph_free(g);

    g = new_graph();
    OG_CHECK(relu(g, "self", "s", "s"));
    OG_CHECK(og_graph_add_output(g, "s"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "cycle through node 'self'");
    og_graph_free(g);
}
END_TEST

START_TEST(attribute_errors)
{
    og_graph *g = new_graph();
    OG_CHECK(og_graph_add_node(g, "Flatten", NULL, "f", 1, (const char *[]){ "x" }, 1, (const char *[]){ "y" }, 1,
                               (og_attr[]){ og_attr_float("axis", 1.0f) }));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_ATTR, "attribute 'axis' has type FLOAT, expected INT");
    og_graph_free(g);

    g = new_graph();
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *[]){ "x" }, 1, (const char *[]){ "y" }, 1,
                               (og_attr[]){ og_attr_int("bogus", 1) }));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_ATTR, "unknown attribute 'bogus'");
    og_graph_free(g);

    g = new_graph();
    OG_CHECK_FAILS(og_graph_add_node(g, "Flatten", NULL, "f", 1, (const char *[]){ "x" }, 1, (const char *[]){ "y" },
                                     2, (og_attr[]){ og_attr_int("axis", 1), og_attr_int("axis", 0) }),
                   OG_ERR_ATTR, "'axis' is given twice");
    og_graph_free(g);
}
END_TEST

START_TEST(wrong_input_count)
{
    og_graph *g = new_graph();
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 2, (const char *[]){ "x", "x" }, 1, (const char *[]){ "y" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "node 'r' (Relu): has 2 inputs, expected 1 to 1");
    og_graph_free(g);
}
END_TEST

START_TEST(duplicate_declarations)
{
    og_graph *g = new_graph();
    OG_CHECK_FAILS(og_graph_add_input(g, "x", OG_FLOAT, 2, dims23, NULL), OG_ERR_INVALID_GRAPH, "declared twice");
    OG_CHECK(relu(g, "r", "x", "y"));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_add_output(g, "y"), OG_ERR_INVALID_GRAPH, "listed twice");
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, dims23, &t));
    OG_CHECK(og_graph_add_initializer(g, "w", t));
    OG_CHECK_FAILS(og_graph_add_initializer(g, "w", t), OG_ERR_INVALID_GRAPH, "defined twice");
    og_tensor_free(t);
    og_graph_free(g);
}
END_TEST

START_TEST(no_outputs)
{
    og_graph *g = new_graph();
    OG_CHECK(relu(g, "r", "x", "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "no outputs");
    og_graph_free(g);
}
END_TEST

static int warnings_seen;
static void count_warning(void *user, const char *msg)
{
    (void)user;
    (void)msg;
    warnings_seen++;
}

START_TEST(declared_shape_must_agree)
{
    og_graph *g = new_graph();
    OG_CHECK(relu(g, "r", "x", "y"));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_declare_value(g, "y", OG_FLOAT, 2, (int64_t[]){ 2, 4 }, NULL));
    /* A contradicting shape is a warning, on the graph and to the handler,
     * and the inferred shape is used. */
    og_set_warning_handler(count_warning, NULL);
    warnings_seen = 0;
    OG_CHECK(og_graph_finalize(g));
    og_set_warning_handler(NULL, NULL);
    ck_assert_int_eq(warnings_seen, 1);
    ck_assert_int_eq(og_graph_num_warnings(g), 1);
    ck_assert_ptr_nonnull(strstr(og_graph_warning(g, 0), "output 'y' has shape [2,3], but the model declares [2,4]; using [2,3]"));
    ck_assert_ptr_null(og_graph_warning(g, 1));
    og_plan *p;
    og_tensor *x, *y;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, (int64_t[]){ 2, 3 }, &x));
    memset(x->data, 0, 6 * sizeof(float));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y));
    ck_assert(y->rank == 2 && y->dims[0] == 2 && y->dims[1] == 3);
    og_tensor_free(x);
    og_tensor_free(y);
    og_plan_free(p);
    /* The graph now holds the inferred shape: finalizing again finds
     * nothing new, and the warning stays on the graph. */
    OG_CHECK(og_graph_finalize(g));
    ck_assert_int_eq(og_graph_num_warnings(g), 1);
    og_graph_free(g);
    /* A contradicting dtype stays an error. */
    g = new_graph();
    OG_CHECK(relu(g, "r", "x", "y"));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_declare_value(g, "y", OG_DOUBLE, 2, (int64_t[]){ 2, 3 }, NULL));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_SHAPE, "output 'y' is float, but the model declares double");
    og_graph_free(g);

    g = new_graph();
    OG_CHECK(og_graph_add_input(g, "w", OG_DOUBLE, 1, (int64_t[]){ 3 }, NULL));
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ 3 }, &t));
    OG_CHECK(og_graph_add_initializer(g, "w", t));
    og_tensor_free(t);
    OG_CHECK(relu(g, "r", "w", "y"));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_SHAPE, "initializer 'w' is float [3], but the model declares it double");
    og_graph_free(g);
}
END_TEST

START_TEST(omitted_required_input)
{
    og_graph *g = new_graph();
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *[]){ "" }, 1, (const char *[]){ "y" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "node 'r' (Relu): required input 0 is omitted");
    og_graph_free(g);
}
END_TEST

START_TEST(same_value_twice_in_one_node)
{
    og_graph *g = new_graph();
    OG_CHECK_FAILS(og_graph_add_node(g, "MaxPool", NULL, "p", 1, (const char *[]){ "x" }, 2,
                                     (const char *[]){ "y", "y" }, 0, NULL),
                   OG_ERR_INVALID_GRAPH, "value 'y' is both output 0 and output 1");
    og_graph_free(g);
}
END_TEST

START_TEST(conflicting_declarations)
{
    og_graph *g = new_graph();
    OG_CHECK_FAILS(og_graph_declare_value(g, "x", OG_DOUBLE, 2, (int64_t[]){ 3, 4 }, NULL), OG_ERR_SHAPE,
                   "value 'x' is declared as float [2,3] and again as double [3,4]");
    /* A compatible redeclaration keeps what both know. */
    OG_CHECK(og_graph_declare_value(g, "x", OG_UNDEFINED, -1, NULL, NULL));
    og_value_info vi;
    OG_CHECK(og_graph_value(g, "x", &vi));
    ck_assert_int_eq(vi.dtype, OG_FLOAT);
    ck_assert_int_eq(vi.rank, 2);
    OG_CHECK_FAILS(og_graph_add_input(g, "h", OG_FLOAT16, 1, (int64_t[]){ 2 }, NULL), OG_ERR_UNSUPPORTED, "float16");
    OG_CHECK_FAILS(og_graph_add_input(g, "u", OG_UNDEFINED, 1, (int64_t[]){ 2 }, NULL), OG_ERR_INVALID_ARG,
                   "needs an element type");
    og_graph_free(g);
}
END_TEST

START_TEST(cycle_names_a_node_on_it)
{
    og_graph *g = new_graph();
    OG_CHECK(relu(g, "down", "p", "z"));   /* waits on the cycle, is not on it */
    OG_CHECK(relu(g, "a", "q", "p"));
    OG_CHECK(relu(g, "b", "p", "q"));
    OG_CHECK(og_graph_add_output(g, "z"));
    og_status st = og_graph_finalize(g);
    ck_assert_int_eq(st, OG_ERR_INVALID_GRAPH);
    ck_assert_msg(strstr(og_errmsg(), "node 'a'") || strstr(og_errmsg(), "node 'b'"), "%s", og_errmsg());
    og_graph_free(g);
}
END_TEST

START_TEST(unnamed_nodes_are_labelled_in_messages)
{
    og_graph *g = new_graph();
    OG_CHECK(relu(g, "", "x", "h"));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, NULL, 2, (const char *[]){ "h", "h" }, 1, (const char *[]){ "y" },
                               0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_INVALID_GRAPH, "node '#1->y' (Relu): has 2 inputs");
    const char *name;
    OG_CHECK(og_graph_node(g, 1, NULL, &name));
    ck_assert_str_eq(name, "");
    og_graph_free(g);
}
END_TEST

START_TEST(null_graph_is_an_error)
{
    OG_CHECK_FAILS(og_graph_add_output(NULL, "y"), OG_ERR_INVALID_ARG, "graph is NULL");
    OG_CHECK_FAILS(og_graph_finalize(NULL), OG_ERR_INVALID_ARG, "graph is NULL");
}
END_TEST

/* A long chain must finalize without recursion and in linear time. */
START_TEST(long_chain)
{
    enum { N = 200000 };
    og_graph *g = new_graph();
    char a[32], b[32];
    for (int k = 0; k < N; k++) {
        snprintf(a, sizeof a, k ? "v%d" : "x", k);
        snprintf(b, sizeof b, "v%d", k + 1);
        OG_CHECK(relu(g, "", a, b));
    }
    OG_CHECK(og_graph_add_output(g, b));
    OG_CHECK(og_graph_finalize(g));
    ck_assert_int_eq(g->order[N - 1], N - 1);
    og_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, valid_graph_infers_shapes);
    tcase_add_test(tc, symbolic_dims_stay_unknown);
    tcase_add_test(tc, nodes_out_of_order_are_sorted);
    tcase_add_test(tc, unknown_op);
    tcase_add_test(tc, unknown_domain);
    tcase_add_test(tc, missing_and_bad_opsets);
    tcase_add_test(tc, value_produced_twice);
    tcase_add_test(tc, node_overwrites_graph_input);
    tcase_add_test(tc, dangling_input);
    tcase_add_test(tc, dangling_output);
    tcase_add_test(tc, cycle_and_self_loop);
    tcase_add_test(tc, attribute_errors);
    tcase_add_test(tc, wrong_input_count);
    tcase_add_test(tc, duplicate_declarations);
    tcase_add_test(tc, no_outputs);
    tcase_add_test(tc, declared_shape_must_agree);
    tcase_add_test(tc, omitted_required_input);
    tcase_add_test(tc, same_value_twice_in_one_node);
    tcase_add_test(tc, conflicting_declarations);
    tcase_add_test(tc, cycle_names_a_node_on_it);
    tcase_add_test(tc, unnamed_nodes_are_labelled_in_messages);
    tcase_add_test(tc, null_graph_is_an_error);
    tcase_add_test(tc, long_chain);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
