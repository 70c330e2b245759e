/* SPDX-License-Identifier: MIT */
/* gradtest.h — building small graphs and checking their gradients in the
 * Check suites: float inputs by name and dims, nodes, outputs, and a
 * gradcheck that must pass (printing the worst error when it does not). */
#ifndef OG_GRADTEST_H
#define OG_GRADTEST_H

#include <math.h>
#include "testutil.h"

/* A new graph importing default-domain opset 17. */
static inline og_graph *gt_graph(void)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    return g;
}

static inline void gt_input(og_graph *g, const char *name, og_dtype dt, int rank, const int64_t *dims)
{
    OG_CHECK(og_graph_add_input(g, name, dt, rank, dims, NULL));
}

/* An initializer named `name` holding `data` (numel elements of dt). */
static inline void gt_init(og_graph *g, const char *name, og_dtype dt, int rank, const int64_t *dims,
                           const void *data)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create_from(dt, rank, dims, data, &t));
    OG_CHECK(og_graph_add_initializer(g, name, t));
    og_tensor_free(t);
}

/* One node; inputs and outputs are NULL-terminated name lists. */
static inline void gt_node(og_graph *g, const char *op, const char *name, const char *const *ins,
                           const char *const *outs, int n_attrs, const og_attr *attrs)
{
    int ni = 0, no = 0;
    while (ins[ni])
        ni++;
    while (outs[no])
        no++;
    OG_CHECK(og_graph_add_node(g, op, NULL, name, ni, ins, no, outs, n_attrs, attrs));
}

#define GT_NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Runs og_gradcheck (order 1 or 2, defaults otherwise, at most max_el
 * elements per tensor) and fails the test, with the worst entry, unless it
 * passes. Returns the largest absolute error seen. */
static inline double gt_gradcheck(const og_graph *g, int order, int64_t max_el, uint64_t seed, const char *what)
{
    og_gradcheck_options o = { .order = order, .seed = seed, .max_elements = max_el };
    og_gradcheck_report *r;
    og_status st = og_gradcheck(g, &o, &r);
    ck_assert_msg(st == OG_OK, "%s: gradcheck could not run: %s", what, og_errmsg());
    double worst = 0;
    for (int k = 0; k < r->n; k++) {
        const og_gradcheck_entry *e = &r->entries[k];
        ck_assert_msg(e->pass, "%s: gradient of '%s' wrong: element %lld analytic %.10g numeric %.10g "
                      "(max abs err %.3g, max rel err %.3g, %lld checked)", what, e->name, (long long)e->worst_index,
                      e->worst_analytic, e->worst_numeric, e->max_abs_err, e->max_rel_err, (long long)e->checked);
        ck_assert_int_gt(e->checked, 0);
        if (e->max_abs_err > worst)
            worst = e->max_abs_err;
    }
    ck_assert(r->pass);
    og_gradcheck_report_free(r);
    return worst;
}

#endif
