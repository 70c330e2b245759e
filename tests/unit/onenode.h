/* SPDX-License-Identifier: MIT */
/* onenode.h — build, run and check a graph holding one node under test.
 * Define NODE (the node's name, which error messages must contain) before
 * including. */
#ifndef OG_ONENODE_H
#define OG_ONENODE_H

#include <string.h>
#include "testutil.h"

#ifndef NODE
#error "define NODE before including onenode.h"
#endif

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
static __attribute__((unused)) og_status build(og_graph **g, const char *op_type, int opset, int n_in, const tin *ins,
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
static __attribute__((unused)) og_status run(og_tensor **y, const char *op_type, int opset, int n_in, const tin *ins,
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
static __attribute__((unused)) void expect_fail(og_status code, const char *needle, const char *op_type, int opset, int n_in,
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
static __attribute__((unused)) void expect_shape(og_dtype dtype, int rank, const int64_t *dims, const char *op_type, int opset,
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

#endif
