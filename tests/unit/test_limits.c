/* SPDX-License-Identifier: MIT */
/* test_limits.c — the run-time limits of onnxgrad/limits.h: the API itself
 * (read, set, clamp, reset) and each limit refusing what is over it with
 * OG_ERR_LIMIT and a message naming the limit. */
#define NODE "relu0"
#include "onenode.h"

/* Every test starts and ends with the defaults. */
static void reset(void) { og_limits_reset(); }

START_TEST(api_reads_sets_clamps_and_resets)
{
    ck_assert_int_eq(og_limit(OG_LIMIT_FILE_BYTES, -1), INT64_C(2) << 30);
    ck_assert_int_eq(og_limit(OG_LIMIT_NESTING_DEPTH, -1), 100);
    ck_assert_int_eq(og_limit(OG_LIMIT_RANK, -1), 32);
    ck_assert_int_eq(og_limit(OG_LIMIT_TENSOR_ELEMENTS, -1), INT64_C(1) << 40);
    ck_assert_int_eq(og_limit(OG_LIMIT_PARSE_MEMORY_FACTOR, -1), 8);
    ck_assert_int_eq(og_limit(OG_LIMIT_PARSE_MEMORY_BASE, -1), INT64_C(64) << 20);
    ck_assert_int_eq(og_limit(OG_LIMIT_PLAN_BYTES, -1), INT64_C(16) << 30);
    /* set returns the previous value */
    ck_assert_int_eq(og_limit(OG_LIMIT_NESTING_DEPTH, 7), 100);
    ck_assert_int_eq(og_limit(OG_LIMIT_NESTING_DEPTH, -1), 7);
    /* hard maxima: protobuf's 2 GiB, the compiled rank */
    og_limit(OG_LIMIT_FILE_BYTES, INT64_C(1) << 40);
    ck_assert_int_eq(og_limit(OG_LIMIT_FILE_BYTES, -1), INT64_C(2) << 30);
    og_limit(OG_LIMIT_RANK, 1000);
    ck_assert_int_eq(og_limit(OG_LIMIT_RANK, -1), 32);
    ck_assert_int_eq(og_limit((og_limit_id)99, 5), -1);
    ck_assert_int_eq(og_limit((og_limit_id)-1, 5), -1);
    og_limits_reset();
    ck_assert_int_eq(og_limit(OG_LIMIT_NESTING_DEPTH, -1), 100);
}
END_TEST

/* A saved Relu model [1,n] -> [1,n]. Ownership: *data is the caller's (og_free). */
static void relu_model_bytes(int64_t n, void **data, size_t *size)
{
    og_graph *g;
    int64_t dims[2] = { 1, n };
    ck_assert_int_eq(build(&g, "Relu", 17, 1, (tin[]){ { OG_FLOAT, 2, dims, NULL } }, 0, NULL), OG_OK);
    OG_CHECK(og_model_save_memory(g, data, size));
    og_graph_free(g);
}

START_TEST(file_bytes_limit)
{
    void *data;
    size_t size;
    relu_model_bytes(3, &data, &size);
    og_graph *g;
    og_limit(OG_LIMIT_FILE_BYTES, (int64_t)size - 1);
    OG_CHECK_FAILS(og_model_load_memory(data, size, &g), OG_ERR_LIMIT, "OG_LIMIT_FILE_BYTES");
    ck_assert_ptr_null(g);
    og_limit(OG_LIMIT_FILE_BYTES, (int64_t)size);
    OG_CHECK(og_model_load_memory(data, size, &g));
    og_graph_free(g);
    og_free(data);
}
END_TEST

START_TEST(nesting_depth_limit)
{
    void *data;
    size_t size;
    relu_model_bytes(3, &data, &size);
    og_graph *g;
    /* ModelProto > GraphProto > ValueInfoProto > TypeProto > Tensor > Shape > Dimension: 7 */
    og_limit(OG_LIMIT_NESTING_DEPTH, 6);
    OG_CHECK_FAILS(og_model_load_memory(data, size, &g), OG_ERR_LIMIT, "nested more than 6 deep");
    og_limit(OG_LIMIT_NESTING_DEPTH, 7);
    OG_CHECK(og_model_load_memory(data, size, &g));
    og_graph_free(g);
    og_free(data);
}
END_TEST

START_TEST(rank_limit)
{
    og_limit(OG_LIMIT_RANK, 2);
    og_tensor *t;
    int64_t dims[3] = { 1, 1, 1 };
    OG_CHECK_FAILS(og_tensor_create(OG_FLOAT, 3, dims, &t), OG_ERR_LIMIT, "rank 3 is over the limit of 2");
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, dims, &t));
    og_tensor_free(t);
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK_FAILS(og_graph_add_input(g, "x", OG_FLOAT, 3, dims, NULL), OG_ERR_LIMIT, "OG_LIMIT_RANK");
    og_graph_free(g);
}
END_TEST

/* Inference refuses a shape over the element limit before anything is
 * allocated: at finalize for static shapes, at run for dynamic ones. */
START_TEST(tensor_elements_limit)
{
    og_limit(OG_LIMIT_TENSOR_ELEMENTS, 100);
    og_graph *g;
    int64_t big[2] = { 1, 101 }, dyn[2] = { 1, -1 };
    ck_assert_int_eq(build(&g, "Relu", 17, 1, (tin[]){ { OG_FLOAT, 2, big, NULL } }, 0, NULL), OG_ERR_LIMIT);
    ck_assert_msg(strstr(og_errmsg(), "node 'relu0' (Relu): output 'y' of shape [1,101]: 101 elements, over the "
                                      "limit of 100 (tensor-elements); raise it with --limit tensor-elements=N"), "%s", og_errmsg());
    og_graph_free(g);

    ck_assert_int_eq(build(&g, "Relu", 17, 1, (tin[]){ { OG_FLOAT, 2, dyn, NULL } }, 0, NULL), OG_OK);
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    og_limits_reset();
    og_tensor *x, *y = NULL;
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, big, &x));
    og_limit(OG_LIMIT_TENSOR_ELEMENTS, 100);
    OG_CHECK_FAILS(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y), OG_ERR_LIMIT, "OG_LIMIT_TENSOR_ELEMENTS");
    ck_assert_ptr_null(y);
    og_limits_reset();
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y));   /* the plan is still usable */
    og_tensor_free(y);
    og_tensor_free(x);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* Relu -> Relu -> Relu on [1,1000] floats: 4000 bytes per tensor; at most
 * two alive at once (a node's input and output), so peak 8000 bytes. */
static og_status chain(og_graph **g, const int64_t *dims)
{
    og_status st;
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, "", 17))
        || (st = og_graph_add_input(*g, "x", OG_FLOAT, 2, dims, NULL)))
        return st;
    const char *names[4] = { "x", "a", "b", "y" };
    for (int k = 0; k < 3; k++)
        if ((st = og_graph_add_node(*g, "Relu", NULL, NULL, 1, &names[k], 1, &names[k + 1], 0, NULL)))
            return st;
    if ((st = og_graph_add_output(*g, "y")))
        return st;
    return og_graph_finalize(*g);
}

START_TEST(plan_bytes_limit_static)
{
    og_graph *g;
    og_plan *p;
    int64_t dims[2] = { 1, 1000 };
    OG_CHECK(chain(&g, dims));
    og_limit(OG_LIMIT_PLAN_BYTES, 7999);
    OG_CHECK_FAILS(og_plan_create(g, &p), OG_ERR_LIMIT, "running needs 8000 bytes of tensors alive at once");
    ck_assert_ptr_null(p);
    og_limit(OG_LIMIT_PLAN_BYTES, 8000);
    OG_CHECK(og_plan_create(g, &p));
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

START_TEST(plan_bytes_limit_dynamic)
{
    og_graph *g;
    og_plan *p;
    int64_t dyn[2] = { 1, -1 }, dims[2] = { 1, 1000 };
    OG_CHECK(chain(&g, dyn));
    og_limit(OG_LIMIT_PLAN_BYTES, 7999);
    OG_CHECK(og_plan_create(g, &p));   /* shapes unknown until the run */
    og_tensor *x, *y = NULL;
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, dims, &x));
    OG_CHECK_FAILS(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y), OG_ERR_LIMIT, "OG_LIMIT_PLAN_BYTES");
    ck_assert_ptr_null(y);
    og_limit(OG_LIMIT_PLAN_BYTES, 8000);
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y));
    og_tensor_free(y);
    og_tensor_free(x);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

START_TEST(parse_memory_limit)
{
    void *data;
    size_t size;
    relu_model_bytes(3, &data, &size);
    og_graph *g;
    og_limit(OG_LIMIT_PARSE_MEMORY_FACTOR, 0);
    og_limit(OG_LIMIT_PARSE_MEMORY_BASE, 64);
    OG_CHECK_FAILS(og_model_load_memory(data, size, &g), OG_ERR_LIMIT, "the parse-memory limit of 64 bytes");
    ck_assert_ptr_null(g);
    og_limits_reset();
    OG_CHECK(og_model_load_memory(data, size, &g));
    og_graph_free(g);
    og_free(data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, reset, reset);
    tcase_add_test(tc, api_reads_sets_clamps_and_resets);
    tcase_add_test(tc, file_bytes_limit);
    tcase_add_test(tc, nesting_depth_limit);
    tcase_add_test(tc, rank_limit);
    tcase_add_test(tc, tensor_elements_limit);
    tcase_add_test(tc, plan_bytes_limit_static);
    tcase_add_test(tc, plan_bytes_limit_dynamic);
    tcase_add_test(tc, parse_memory_limit);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
