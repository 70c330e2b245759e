/* test_relu.c — Relu: worked values incl. zeros, -0, infinities and NaN;
 * every dtype and the opsets that admit it; shape passthrough; errors. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

#define NODE "relu_node"

/* ---- one-node graph helpers (local: testutil.h holds only the shared basics) */

/* One input of the node under test. dtype OG_UNDEFINED marks an omitted
 * optional input (given to the node as ""); dims < 0 are unknown. */
typedef struct tin {
    og_dtype dtype;
    int rank;
    const int64_t *dims;
    const void *data;   /* NULL when the test only finalizes */
} tin;

#define MAX_IN 4

/* Graph: default-domain `opset`, graph inputs "in0".. for the present
 * inputs, node NODE(op_type) -> "y", graph output "y"; finalized. *g is set
 * whenever og_graph_create succeeded; free it with og_graph_free. */
static og_status build(og_graph **g, const char *op_type, int opset, int n_in, const tin *ins,
                       int n_attrs, const og_attr *attrs)
{
    static const char *const names[MAX_IN] = {"in0", "in1", "in2", "in3"};
    const char *in_names[MAX_IN];
    const char *out_names[1] = {"y"};
    og_status st;

    *g = NULL;
    ck_assert_int_le(n_in, MAX_IN);
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, "", opset)))
        return st;
    for (int k = 0; k < n_in; k++) {
        in_names[k] = ins[k].dtype == OG_UNDEFINED ? "" : names[k];
        if (ins[k].dtype != OG_UNDEFINED &&
            (st = og_graph_add_input(*g, names[k], ins[k].dtype, ins[k].rank, ins[k].dims, NULL)))
            return st;
    }
    if ((st = og_graph_add_node(*g, op_type, NULL, NODE, n_in, in_names, 1, out_names, n_attrs, attrs)) ||
        (st = og_graph_add_output(*g, "y")))
        return st;
    return og_graph_finalize(*g);
}

/* build + plan + run on the inputs' data; on OG_OK *y is the caller's. */
static og_status run(og_tensor **y, const char *op_type, int opset, int n_in, const tin *ins,
                     int n_attrs, const og_attr *attrs)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_tensor *feeds[MAX_IN] = {0};
    int n_feeds = 0;
    og_status st;

    *y = NULL;
    if ((st = build(&g, op_type, opset, n_in, ins, n_attrs, attrs)) || (st = og_plan_create(g, &p)))
        goto done;
    for (int k = 0; k < n_in; k++)
        if (ins[k].dtype != OG_UNDEFINED) {
            if ((st = og_tensor_create_from(ins[k].dtype, ins[k].rank, ins[k].dims, ins[k].data,
                                            &feeds[n_feeds])))
                goto done;
            n_feeds++;
        }
    st = og_plan_run(p, n_feeds, (const og_tensor *const *)feeds, y);
done:
    for (int k = 0; k < n_feeds; k++)
        og_tensor_free(feeds[k]);
    og_plan_free(p);
    og_graph_free(g);
    return st;
}

/* Finalize must fail with `code`, naming the node and containing `needle`. */
static void expect_fail(og_status code, const char *needle, const char *op_type, int opset, int n_in,
                        const tin *ins, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_status st = build(&g, op_type, opset, n_in, ins, n_attrs, attrs);
    const char *msg = og_errmsg();
    ck_assert_msg(st == code, "expected %s, got %s: %s", og_status_name(code), og_status_name(st),
                  st ? msg : "(finalize succeeded)");
    ck_assert_msg(strstr(msg, "'" NODE "'") != NULL, "message does not name the node: %s", msg);
    if (needle)
        ck_assert_msg(strstr(msg, needle) != NULL, "message lacks \"%s\": %s", needle, msg);
    og_graph_free(g);
}

/* The finalized "y" must have this dtype and shape (-1: unknown dim). */
static void expect_shape(og_dtype dtype, int rank, const int64_t *dims, const char *op_type, int opset,
                         int n_in, const tin *ins, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    og_value_info vi;
    OG_CHECK(build(&g, op_type, opset, n_in, ins, n_attrs, attrs));
    OG_CHECK(og_graph_value(g, "y", &vi));
    ck_assert_int_eq(vi.dtype, dtype);
    ck_assert_int_eq(vi.rank, rank);
    for (int k = 0; k < rank; k++)
        ck_assert_msg(vi.dims[k] == dims[k], "dim %d: expected %lld, got %lld", k, (long long)dims[k],
                      (long long)vi.dims[k]);
    og_graph_free(g);
}
/* ---- end of helpers */

/* max(0, x) by hand; NaN stays NaN, -inf -> 0, inf -> inf. */
START_TEST(relu_float_values)
{
    const float x[8] = {-2.0f, -0.5f, 0.0f, 0.5f, 3.0f, NAN, -INFINITY, INFINITY};
    const float want[8] = {0.0f, 0.0f, 0.0f, 0.5f, 3.0f, NAN, 0.0f, INFINITY};
    int64_t dims[2] = {2, 4};
    og_tensor *y;
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_FLOAT, 2, dims, x}}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_FLOAT);
    ck_assert_int_eq(y->rank, 2);
    ck_assert_int_eq(y->dims[0], 2);
    ck_assert_int_eq(y->dims[1], 4);
    const float *v = y->data;
    for (int i = 0; i < 8; i++) {
        if (isnan(want[i]))
            ck_assert_msg(isnan(v[i]), "Relu(NaN) must be NaN, got %g", (double)v[i]);
        else
            ck_assert_msg(v[i] == want[i], "y[%d] = %g, expected %g", i, (double)v[i], (double)want[i]);
    }
    og_tensor_free(y);
}
END_TEST

START_TEST(relu_double_values)
{
    const double x[6] = {-1e300, -4.9e-324, 0.0, 4.9e-324, 1e300, NAN};
    const double want[6] = {0.0, 0.0, 0.0, 4.9e-324, 1e300, NAN};
    int64_t dims[1] = {6};
    og_tensor *y;
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_DOUBLE, 1, dims, x}}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_DOUBLE);
    const double *v = y->data;
    for (int i = 0; i < 5; i++)
        ck_assert_msg(v[i] == want[i], "y[%d] = %g, expected %g", i, v[i], want[i]);
    ck_assert(isnan(v[5]));
    og_tensor_free(y);
}
END_TEST

/* Float Relu works at every opset; opset 1 still accepts (and ignores) the
 * legacy consumed_inputs attribute. */
START_TEST(relu_old_opsets)
{
    const float x[3] = {-1.0f, 0.0f, 2.0f};
    int64_t dims[1] = {3};
    static const int opsets[] = {1, 6, 13, 14};
    for (size_t k = 0; k < sizeof opsets / sizeof opsets[0]; k++) {
        og_tensor *y;
        OG_CHECK(run(&y, "Relu", opsets[k], 1, (tin[]){{OG_FLOAT, 1, dims, x}}, 0, NULL));
        const float *v = y->data;
        ck_assert(v[0] == 0.0f && v[1] == 0.0f && v[2] == 2.0f);
        og_tensor_free(y);
    }
    const int64_t consumed[1] = {0};
    og_attr a = og_attr_ints("consumed_inputs", 1, consumed);
    og_tensor *y;
    OG_CHECK(run(&y, "Relu", 1, 1, (tin[]){{OG_FLOAT, 1, dims, x}}, 1, &a));
    ck_assert(((const float *)y->data)[2] == 2.0f);
    og_tensor_free(y);
}
END_TEST

START_TEST(relu_consumed_inputs_gone_at_opset_6)
{
    int64_t dims[1] = {3};
    const int64_t consumed[1] = {0};
    og_attr a = og_attr_ints("consumed_inputs", 1, consumed);
    expect_fail(OG_ERR_ATTR, "consumed_inputs", "Relu", 6, 1, (tin[]){{OG_FLOAT, 1, dims, NULL}}, 1, &a);
}
END_TEST

/* Integer types from opset 14, including each type's minimum. */
START_TEST(relu_int_types_opset14)
{
    int64_t dims[1] = {4};
    og_tensor *y;

    const int8_t x8[4] = {INT8_MIN, -1, 0, INT8_MAX};
    OG_CHECK(run(&y, "Relu", 14, 1, (tin[]){{OG_INT8, 1, dims, x8}}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_INT8);
    const int8_t *v8 = y->data;
    ck_assert(v8[0] == 0 && v8[1] == 0 && v8[2] == 0 && v8[3] == INT8_MAX);
    og_tensor_free(y);

    const int16_t x16[4] = {INT16_MIN, -7, 5, INT16_MAX};
    OG_CHECK(run(&y, "Relu", 14, 1, (tin[]){{OG_INT16, 1, dims, x16}}, 0, NULL));
    const int16_t *v16 = y->data;
    ck_assert(v16[0] == 0 && v16[1] == 0 && v16[2] == 5 && v16[3] == INT16_MAX);
    og_tensor_free(y);

    const int32_t x32[4] = {INT32_MIN, -7, 0, 123456};
    OG_CHECK(run(&y, "Relu", 15, 1, (tin[]){{OG_INT32, 1, dims, x32}}, 0, NULL));
    const int32_t *v32 = y->data;
    ck_assert(v32[0] == 0 && v32[1] == 0 && v32[2] == 0 && v32[3] == 123456);
    og_tensor_free(y);

    const int64_t x64[4] = {INT64_MIN, -1, 1, INT64_MAX};
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_INT64, 1, dims, x64}}, 0, NULL));
    const int64_t *v64 = y->data;
    ck_assert(v64[0] == 0 && v64[1] == 0 && v64[2] == 1 && v64[3] == INT64_MAX);
    og_tensor_free(y);
}
END_TEST

START_TEST(relu_int_rejected_before_opset14)
{
    int64_t dims[1] = {4};
    expect_fail(OG_ERR_SHAPE, "int32", "Relu", 13, 1, (tin[]){{OG_INT32, 1, dims, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "int64", "Relu", 6, 1, (tin[]){{OG_INT64, 1, dims, NULL}}, 0, NULL);
}
END_TEST

/* Unsigned and bool are never Relu types; float16 is valid ONNX that
 * onnxgrad cannot hold. */
START_TEST(relu_bad_types)
{
    int64_t dims[1] = {4};
    expect_fail(OG_ERR_SHAPE, "uint8", "Relu", 17, 1, (tin[]){{OG_UINT8, 1, dims, NULL}}, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "bool", "Relu", 17, 1, (tin[]){{OG_BOOL, 1, dims, NULL}}, 0, NULL);
    og_graph *g;
    og_status st = build(&g, "Relu", 17, 1, (tin[]){{OG_FLOAT16, 1, dims, NULL}}, 0, NULL);
    /* the engine may refuse a float16 graph input itself; either way not OK */
    ck_assert_int_ne(st, OG_OK);
    if (st == OG_ERR_UNSUPPORTED)
        ck_assert_ptr_nonnull(strstr(og_errmsg(), "float16"));
    og_graph_free(g);
}
END_TEST

/* Shape passes through: scalar, empty, unknown dims. */
START_TEST(relu_shapes)
{
    int64_t d3[3] = {2, -1, 5};
    expect_shape(OG_FLOAT, 3, d3, "Relu", 17, 1, (tin[]){{OG_FLOAT, 3, d3, NULL}}, 0, NULL);
    expect_shape(OG_DOUBLE, 0, NULL, "Relu", 17, 1, (tin[]){{OG_DOUBLE, 0, NULL, NULL}}, 0, NULL);

    const float xs = -3.0f;
    og_tensor *y;
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_FLOAT, 0, NULL, &xs}}, 0, NULL));
    ck_assert_int_eq(y->rank, 0);
    ck_assert(((const float *)y->data)[0] == 0.0f);
    og_tensor_free(y);

    int64_t d0[2] = {0, 3};
    OG_CHECK(run(&y, "Relu", 17, 1, (tin[]){{OG_FLOAT, 2, d0, NULL}}, 0, NULL));
    ck_assert_int_eq(y->numel, 0);
    ck_assert_int_eq(y->dims[1], 3);
    og_tensor_free(y);
}
END_TEST

static Suite *relu_suite(void)
{
    Suite *s = suite_create("Relu");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, relu_float_values);
    tcase_add_test(tc, relu_double_values);
    tcase_add_test(tc, relu_old_opsets);
    tcase_add_test(tc, relu_consumed_inputs_gone_at_opset_6);
    tcase_add_test(tc, relu_int_types_opset14);
    tcase_add_test(tc, relu_int_rejected_before_opset14);
    tcase_add_test(tc, relu_bad_types);
    tcase_add_test(tc, relu_shapes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(relu_suite());
}
