/* test_flatten.c — Flatten: every axis of a rank-3 tensor (0..r and -r..-1),
 * rank 0, unknown and zero dims, dtypes per opset, out-of-range axes. */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

#define NODE "flatten_node"

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

/* [2,3,4] flattened at axis a is [prod(dims[:a]), prod(dims[a:])]; the data
 * (0..23, row-major) is unchanged. Negative a means a + 3. */
START_TEST(flatten_every_axis)
{
    static const int64_t want[4][2] = {{1, 24}, {2, 12}, {6, 4}, {24, 1}};
    int64_t dims[3] = {2, 3, 4};
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i - 11.5f;
    for (int axis = -3; axis <= 3; axis++) {
        const int64_t *w = want[axis < 0 ? axis + 3 : axis];
        og_attr a = og_attr_int("axis", axis);
        og_tensor *y;
        OG_CHECK(run(&y, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, dims, x}}, 1, &a));
        ck_assert_int_eq(y->dtype, OG_FLOAT);
        ck_assert_int_eq(y->rank, 2);
        ck_assert_msg(y->dims[0] == w[0] && y->dims[1] == w[1], "axis %d: got [%lld,%lld]", axis,
                      (long long)y->dims[0], (long long)y->dims[1]);
        ck_assert(memcmp(y->data, x, sizeof x) == 0);
        og_tensor_free(y);
    }
}
END_TEST

START_TEST(flatten_default_axis_is_1)
{
    int64_t dims[3] = {2, 3, 4};
    int64_t want[2] = {2, 12};
    expect_shape(OG_FLOAT, 2, want, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 0, NULL);
    expect_shape(OG_FLOAT, 2, want, "Flatten", 1, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 0, NULL);
}
END_TEST

/* A scalar has rank 0: only axis 0 is valid, giving [1,1]. */
START_TEST(flatten_scalar)
{
    const double x = 2.5;
    og_attr a = og_attr_int("axis", 0);
    og_tensor *y;
    OG_CHECK(run(&y, "Flatten", 17, 1, (tin[]){{OG_DOUBLE, 0, NULL, &x}}, 1, &a));
    ck_assert_int_eq(y->rank, 2);
    ck_assert_int_eq(y->dims[0], 1);
    ck_assert_int_eq(y->dims[1], 1);
    ck_assert(((const double *)y->data)[0] == 2.5);
    og_tensor_free(y);
    /* the default axis 1 exceeds rank 0 */
    expect_fail(OG_ERR_ATTR, "axis", "Flatten", 17, 1, (tin[]){{OG_DOUBLE, 0, NULL, NULL}}, 0, NULL);
}
END_TEST

START_TEST(flatten_axis_out_of_range)
{
    int64_t dims[3] = {2, 3, 4};
    og_attr a4 = og_attr_int("axis", 4), am4 = og_attr_int("axis", -4), am1 = og_attr_int("axis", -1);
    expect_fail(OG_ERR_ATTR, "got 4", "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 1, &a4);
    expect_fail(OG_ERR_ATTR, "got -4", "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 1, &am4);
    /* negative axes arrived in opset 11 */
    expect_fail(OG_ERR_ATTR, "opset 11", "Flatten", 10, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 1, &am1);
    int64_t want[2] = {6, 4};
    expect_shape(OG_FLOAT, 2, want, "Flatten", 11, 1, (tin[]){{OG_FLOAT, 3, dims, NULL}}, 1, &am1);
}
END_TEST

/* Unknown dims make only their side unknown; a known 0 makes a side 0. */
START_TEST(flatten_unknown_dims)
{
    int64_t dims[4] = {-1, 3, 4, 5};
    og_attr a1 = og_attr_int("axis", 1), a2 = og_attr_int("axis", 2), a0 = og_attr_int("axis", 0);
    int64_t w1[2] = {-1, 60}, w2[2] = {-1, 20}, w0[2] = {1, -1};
    expect_shape(OG_FLOAT, 2, w1, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 4, dims, NULL}}, 1, &a1);
    expect_shape(OG_FLOAT, 2, w2, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 4, dims, NULL}}, 1, &a2);
    expect_shape(OG_FLOAT, 2, w0, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 4, dims, NULL}}, 1, &a0);
    int64_t zd[3] = {-1, 0, 2};
    int64_t wz[2] = {0, 2}, wz1[2] = {-1, 0};
    expect_shape(OG_FLOAT, 2, wz, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, zd, NULL}}, 1, &a2);
    expect_shape(OG_FLOAT, 2, wz1, "Flatten", 17, 1, (tin[]){{OG_FLOAT, 3, zd, NULL}}, 1, &a1);
}
END_TEST

/* Any type onnxgrad holds from opset 9; only float types before. */
START_TEST(flatten_dtypes)
{
    int64_t dims[2] = {2, 2};
    const int64_t xi[4] = {1, -2, INT64_MAX, INT64_MIN};
    og_attr a0 = og_attr_int("axis", 0);
    og_tensor *y;
    OG_CHECK(run(&y, "Flatten", 13, 1, (tin[]){{OG_INT64, 2, dims, xi}}, 1, &a0));
    ck_assert_int_eq(y->dtype, OG_INT64);
    ck_assert_int_eq(y->dims[0], 1);
    ck_assert_int_eq(y->dims[1], 4);
    ck_assert(memcmp(y->data, xi, sizeof xi) == 0);
    og_tensor_free(y);

    const uint8_t xb[4] = {1, 0, 1, 1};
    OG_CHECK(run(&y, "Flatten", 9, 1, (tin[]){{OG_BOOL, 2, dims, xb}}, 0, NULL));
    ck_assert_int_eq(y->dtype, OG_BOOL);
    ck_assert(memcmp(y->data, xb, sizeof xb) == 0);
    og_tensor_free(y);

    expect_fail(OG_ERR_SHAPE, "int64", "Flatten", 8, 1, (tin[]){{OG_INT64, 2, dims, NULL}}, 0, NULL);
}
END_TEST

static Suite *flatten_suite(void)
{
    Suite *s = suite_create("Flatten");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, flatten_every_axis);
    tcase_add_test(tc, flatten_default_axis_is_1);
    tcase_add_test(tc, flatten_scalar);
    tcase_add_test(tc, flatten_axis_out_of_range);
    tcase_add_test(tc, flatten_unknown_dims);
    tcase_add_test(tc, flatten_dtypes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(flatten_suite());
}
