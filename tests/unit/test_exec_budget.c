/* SPDX-License-Identifier: MIT */
/* test_exec_budget.c — the plan's memory budget (check_static_budget in
 * src/exec.c) counts a value read twice by one node once: Mul(t, t), as
 * Tanh's backward rule emits, used to release t twice, wrap the count of
 * live bytes below zero and refuse a tiny graph as over
 * OG_LIMIT_PLAN_BYTES (found through the Python module's m.grad(wrt=[bias])). */
#include <math.h>
#include "testutil.h"

START_TEST(value_read_twice_is_released_once)
{
    og_graph *g;
    og_plan *p;
    int64_t dims[1] = { 4 };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 1, dims, NULL));
    OG_CHECK(og_graph_add_node(g, "Tanh", NULL, "tanh", 1, (const char *[]){ "x" }, 1, (const char *[]){ "t" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_node(g, "Mul", NULL, "square", 2, (const char *[]){ "t", "t" }, 1, (const char *[]){ "s" },
                               0, NULL));
    OG_CHECK(og_graph_add_node(g, "ReduceSum", NULL, "sum", 1, (const char *[]){ "s" }, 1, (const char *[]){ "r" },
                               0, NULL));
    OG_CHECK(og_graph_add_node(g, "Neg", NULL, "neg", 1, (const char *[]){ "r" }, 1, (const char *[]){ "z" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_output(g, "z"));
    OG_CHECK(og_graph_finalize(g));
    /* t and s (16 bytes each) live at once, then r and z (4 each): 32 bytes at most */
    int64_t old = og_limit(OG_LIMIT_PLAN_BYTES, 32);
    OG_CHECK(og_plan_create(g, &p));
    og_tensor *x, *z;
    float xs[4] = { -1, 0.5f, 2, 0 };
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, dims, xs, &x));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &z));
    double want = 0;
    for (int k = 0; k < 4; k++)
        want -= tanh(xs[k]) * tanh(xs[k]);
    ck_assert_double_eq_tol(((float *)z->data)[0], want, 1e-6);
    og_plan_free(p);
    /* and the budget is still enforced: 31 bytes is one too few */
    og_limit(OG_LIMIT_PLAN_BYTES, 31);
    OG_CHECK_FAILS(og_plan_create(g, &p), OG_ERR_LIMIT, "OG_LIMIT_PLAN_BYTES");
    og_limit(OG_LIMIT_PLAN_BYTES, old);
    og_tensor_free(x);
    og_tensor_free(z);
    og_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("exec_budget");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, value_read_twice_is_released_once);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
