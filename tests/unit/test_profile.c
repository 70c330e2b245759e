/* SPDX-License-Identifier: MIT */
/* test_profile.c — the per-kernel profiler (onnxgrad/profile.h) and the
 * FLOP cost hooks: one event per plan step, the nodes a fused pattern
 * covers, Conv/Gemm/MatMul FLOPs against their formulas for random shapes,
 * nothing recorded when off, and the same bits with profiling on and off. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }

static og_tensor *rand_tensor(const char *name, int rank, const int64_t *dims)
{
    og_tensor *t;
    ck_assert_int_eq(og_tensor_create(OG_FLOAT, rank, dims, &t), OG_OK);
    float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        d[i] = (float)((double)(rng() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    if (name)
        og_tensor_set_name(t, name);
    return t;
}

/* X [N,C,H,W] -> Conv(W, B; pads 1) -> Relu -> MaxPool 2x2 -> Flatten ->
 * Gemm(G, transB) -> Y [N, 5]. */
typedef struct cnn {
    og_graph *g;
    int64_t n, c, h, w, m, k;
} cnn;

static void cnn_build(cnn *m)
{
    m->n = rnd(1, 3);
    m->c = rnd(1, 4);
    m->h = 2 * rnd(2, 5);
    m->w = 2 * rnd(2, 5);
    m->m = rnd(1, 6);
    m->k = 2 * rnd(0, 1) + 1;
    og_graph *g;
    ck_assert_int_eq(og_graph_create(&g), OG_OK);
    og_graph_set_opset(g, "", 17);
    int64_t xd[4] = { m->n, m->c, m->h, m->w };
    ck_assert_int_eq(og_graph_add_input(g, "X", OG_FLOAT, 4, xd, NULL), OG_OK);
    int64_t wd[4] = { m->m, m->c, m->k, m->k }, bd[1] = { m->m };
    int64_t feat = m->m * (m->h / 2) * (m->w / 2), gd[2] = { 5, feat };
    og_tensor *W = rand_tensor(NULL, 4, wd), *B = rand_tensor(NULL, 1, bd), *G = rand_tensor(NULL, 2, gd);
    og_graph_add_initializer(g, "W", W);
    og_graph_add_initializer(g, "B", B);
    og_graph_add_initializer(g, "G", G);
    og_tensor_free(W);
    og_tensor_free(B);
    og_tensor_free(G);
    int64_t p = (m->k - 1) / 2, pads[4] = { p, p, p, p }, ks[2] = { 2, 2 };
    og_attr ca[1] = { og_attr_ints("pads", 4, pads) };
    og_attr pa[2] = { og_attr_ints("kernel_shape", 2, ks), og_attr_ints("strides", 2, ks) };
    og_attr ga[1] = { og_attr_int("transB", 1) };
    ck_assert_int_eq(og_graph_add_node(g, "Conv", NULL, "conv", 3, (const char *[]){ "X", "W", "B" }, 1,
                                       (const char *[]){ "c" }, 1, ca), OG_OK);
    ck_assert_int_eq(og_graph_add_node(g, "Relu", NULL, "relu", 1, (const char *[]){ "c" }, 1,
                                       (const char *[]){ "r" }, 0, NULL), OG_OK);
    ck_assert_int_eq(og_graph_add_node(g, "MaxPool", NULL, "pool", 1, (const char *[]){ "r" }, 1,
                                       (const char *[]){ "p" }, 2, pa), OG_OK);
    ck_assert_int_eq(og_graph_add_node(g, "Flatten", NULL, "flat", 1, (const char *[]){ "p" }, 1,
                                       (const char *[]){ "f" }, 0, NULL), OG_OK);
    ck_assert_int_eq(og_graph_add_node(g, "Gemm", NULL, "fc", 2, (const char *[]){ "f", "G" }, 1,
                                       (const char *[]){ "Y" }, 1, ga), OG_OK);
    ck_assert_int_eq(og_graph_add_node(g, "ReduceSum", NULL, "loss", 1, (const char *[]){ "Y" }, 1,
                                       (const char *[]){ "L" }, 1, (og_attr[]){ og_attr_int("keepdims", 0) }),
                     OG_OK);
    og_graph_add_output(g, "L");
    ck_assert_int_eq(og_graph_finalize(g), OG_OK);
    m->g = g;
}

static int find_node(const og_graph *g, const char *name)
{
    for (int k = 0; k < og_graph_num_nodes(g); k++) {
        const char *op, *nm;
        og_graph_node(g, k, &op, &nm);
        if (!strcmp(nm, name))
            return k;
    }
    return -1;
}

START_TEST(flops_match_formulas)
{
    for (int it = 0; it < 20; it++) {
        cnn m;
        cnn_build(&m);
        int64_t f, b;
        ck_assert_int_eq(og_graph_node_cost(m.g, find_node(m.g, "conv"), &f, &b), OG_OK);
        /* Y [N,M,H,W] (same padding): 2*C*k*k per output element + bias */
        int64_t ny = m.n * m.m * m.h * m.w;
        ck_assert_int_eq(f, 2 * ny * m.c * m.k * m.k + ny);
        ck_assert_int_eq(b, 4 * (m.n * m.c * m.h * m.w + m.m * m.c * m.k * m.k + m.m + ny));
        ck_assert_int_eq(og_graph_node_cost(m.g, find_node(m.g, "fc"), &f, NULL), OG_OK);
        int64_t feat = m.m * (m.h / 2) * (m.w / 2);
        ck_assert_int_eq(f, 2 * m.n * 5 * feat);
        ck_assert_int_eq(og_graph_node_cost(m.g, find_node(m.g, "relu"), &f, NULL), OG_OK);
        ck_assert_int_eq(f, ny);
        ck_assert_int_eq(og_graph_node_cost(m.g, find_node(m.g, "pool"), &f, NULL), OG_OK);
        ck_assert_int_eq(f, ny);   /* 2x2 windows, stride 2: each element compared once */
        ck_assert_int_eq(og_graph_node_cost(m.g, find_node(m.g, "loss"), &f, NULL), OG_OK);
        ck_assert_int_eq(f, m.n * 5);
        ck_assert_int_eq(og_graph_node_cost(m.g, find_node(m.g, "flat"), &f, NULL), OG_OK);
        ck_assert_int_eq(f, 0);    /* data movement: no arithmetic */
        ck_assert_int_ne(og_graph_node_cost(m.g, 99, &f, NULL), OG_OK);
        og_graph_free(m.g);
    }
}
END_TEST

START_TEST(flops_symbolic_unknown)
{
    og_graph *g;
    ck_assert_int_eq(og_graph_create(&g), OG_OK);
    og_graph_set_opset(g, "", 17);
    int64_t ad[2] = { -1, 3 }, bd[2] = { 3, 4 };
    const char *dp[2] = { "N", NULL };
    og_graph_add_input(g, "A", OG_FLOAT, 2, ad, dp);
    og_graph_add_input(g, "B", OG_FLOAT, 2, bd, NULL);
    og_graph_add_node(g, "MatMul", NULL, "mm", 2, (const char *[]){ "A", "B" }, 1, (const char *[]){ "Y" }, 0,
                      NULL);
    og_graph_add_output(g, "Y");
    ck_assert_int_eq(og_graph_finalize(g), OG_OK);
    int64_t f, b;
    ck_assert_int_eq(og_graph_node_cost(g, 0, &f, &b), OG_OK);
    ck_assert_int_eq(f, -1);
    ck_assert_int_eq(b, -1);
    og_graph_free(g);
}
END_TEST

/* Runs gg (a gradient graph of a cnn) with and without a profiler, at
 * `threads`, and checks the events and the bits. */
static void profile_plan(og_graph *gg, int threads, bool want_fused)
{
    const og_tensor *x0;
    (void)x0;
    int64_t xd[4];
    og_value_info vi;
    ck_assert_int_eq(og_graph_input(gg, 0, &vi), OG_OK);
    for (int d = 0; d < 4; d++)
        xd[d] = vi.dims[d];
    og_tensor *x = rand_tensor("X", 4, xd);
    og_plan *p;
    ck_assert_int_eq(og_plan_create_ex(gg, &(og_plan_options){ .n_threads = threads }, &p), OG_OK);
    int n_out = og_graph_num_outputs(gg), steps = og_plan_num_steps(p);
    ck_assert_int_gt(steps, 0);
    og_tensor **off = calloc((size_t)n_out, sizeof *off), **on = calloc((size_t)n_out, sizeof *on);
    const og_tensor *const in[1] = { x };

    og_profiler *prof;
    ck_assert_int_eq(og_profiler_create(&prof), OG_OK);
    ck_assert_int_eq(og_plan_run(p, 1, in, off), OG_OK);
    ck_assert_int_eq(og_profiler_num_events(prof), 0);   /* not attached: nothing */

    ck_assert_int_eq(og_plan_set_profiler(p, prof), OG_OK);
    ck_assert_int_eq(og_plan_run(p, 1, in, on), OG_OK);
    ck_assert_int_eq(og_profiler_num_events(prof), steps);
    ck_assert_int_eq(og_profiler_num_dropped(prof), 0);
    for (int k = 0; k < n_out; k++) {
        ck_assert_int_eq(on[k]->numel, off[k]->numel);
        ck_assert(memcmp(on[k]->data, off[k]->data, (size_t)on[k]->numel * og_dtype_size(on[k]->dtype)) == 0);
    }
    bool fused = false;
    int64_t last_end = 0;
    for (int k = 0; k < steps; k++) {
        og_profile_event ev;
        ck_assert_int_eq(og_profiler_event(prof, k, &ev), OG_OK);
        const char *node, *op, *kern;
        og_plan_step(p, k, &node, &op, &kern);
        ck_assert_int_eq(ev.step, k);
        ck_assert_int_eq(ev.run, 0);
        ck_assert_str_eq(ev.node, node);
        ck_assert_str_eq(ev.op_type, op);
        ck_assert_str_eq(ev.kernel, kern);
        ck_assert_int_eq(ev.n_threads, threads);
        ck_assert_int_ge(ev.end_ns, ev.start_ns);
        ck_assert_int_ge(ev.start_ns, last_end);   /* steps run one after another */
        last_end = ev.end_ns;
        ck_assert_int_ge(ev.n_nodes, 1);
        ck_assert_str_eq(ev.nodes[ev.n_nodes - 1], node);
        if (!strcmp(kern, "view")) {
            ck_assert_int_eq(ev.flops, 0);
            ck_assert_int_eq(ev.bytes, 0);
        } else {
            ck_assert_int_gt(ev.bytes, 0);
            ck_assert_int_ge(ev.n_outputs, 1);
        }
        if (ev.n_nodes > 1)
            fused = true;
        if (!strcmp(op, "Conv") && ev.n_nodes == 1 && !strcmp(node, "conv")) {
            int64_t f;
            og_graph_node_cost(gg, find_node(gg, "conv"), &f, NULL);
            ck_assert_int_eq(ev.flops, f);
            ck_assert_int_eq(ev.n_inputs, 3);
            ck_assert_int_eq(ev.inputs[0].rank, 4);
            ck_assert_int_eq(ev.inputs[0].dims[1], xd[1]);
        }
        if (!strcmp(op, "Where") && ev.n_nodes > 1) {   /* relu_backward: Where(LessOrEqual(Y, 0), 0, dY) */
            bool has_le = false;
            for (int j = 0; j < ev.n_nodes; j++) {
                int nk = find_node(gg, ev.nodes[j]);
                const char *t, *nm;
                ck_assert_int_ge(nk, 0);
                og_graph_node(gg, nk, &t, &nm);
                has_le = has_le || !strcmp(t, "LessOrEqual");
            }
            ck_assert(has_le);
        }
    }
    if (want_fused)
        ck_assert(fused);

    /* a second run appends run 1; clear forgets; detached records nothing */
    for (int k = 0; k < n_out; k++)
        og_tensor_free(on[k]);
    ck_assert_int_eq(og_plan_run(p, 1, in, on), OG_OK);
    ck_assert_int_eq(og_profiler_num_events(prof), 2 * steps);
    og_profile_event ev;
    ck_assert_int_eq(og_profiler_event(prof, steps, &ev), OG_OK);
    ck_assert_int_eq(ev.run, 1);
    ck_assert_int_ne(og_profiler_event(prof, 2 * steps, &ev), OG_OK);
    og_profiler_clear(prof);
    ck_assert_int_eq(og_profiler_num_events(prof), 0);
    og_plan_set_profiler(p, NULL);
    for (int k = 0; k < n_out; k++)
        og_tensor_free(on[k]);
    ck_assert_int_eq(og_plan_run(p, 1, in, on), OG_OK);
    ck_assert_int_eq(og_profiler_num_events(prof), 0);

    /* thread-attached: events survive freeing the plan */
    og_profiler_attach_thread(prof);
    for (int k = 0; k < n_out; k++)
        og_tensor_free(on[k]);
    ck_assert_int_eq(og_plan_run(p, 1, in, on), OG_OK);
    og_profiler_attach_thread(NULL);
    og_plan_free(p);
    ck_assert_int_eq(og_profiler_num_events(prof), steps);
    ck_assert_int_eq(og_profiler_event(prof, steps - 1, &ev), OG_OK);
    ck_assert_ptr_nonnull(ev.node);
    ck_assert_int_ge(ev.n_nodes, 1);
    og_profiler_free(prof);
    for (int k = 0; k < n_out; k++) {
        og_tensor_free(on[k]);
        og_tensor_free(off[k]);
    }
    free(on);
    free(off);
    og_tensor_free(x);
}

START_TEST(events_forward_and_gradient)
{
    for (int it = 0; it < 4; it++) {
        cnn m;
        cnn_build(&m);
        profile_plan(m.g, 1 + it % 3, false);
        og_graph *gg;
        const char *wrt[] = { "W", "G" };
        og_grad_options o = { .loss = "L", .n_wrt = 2, .wrt = wrt };
        ck_assert_int_eq(og_graph_build_gradient(m.g, &o, &gg), OG_OK);
        profile_plan(gg, 1 + it % 3, getenv("OG_KERNELS") == NULL);
        og_graph_free(gg);
        og_graph_free(m.g);
    }
}
END_TEST

START_TEST(gradients_thread_profiler)
{
    cnn m;
    cnn_build(&m);
    og_value_info vi;
    og_graph_input(m.g, 0, &vi);
    og_tensor *x = rand_tensor("X", 4, vi.dims);
    const char *wrt[] = { "W" };
    og_grad_options o = { .loss = "L", .n_wrt = 1, .wrt = wrt };
    og_tensor *g0 = NULL, *g1 = NULL;
    const og_tensor *const in[1] = { x };
    ck_assert_int_eq(og_gradients(m.g, &o, 1, in, NULL, &g0), OG_OK);
    og_profiler *prof;
    og_profiler_create(&prof);
    og_profiler_attach_thread(prof);
    ck_assert_int_eq(og_gradients(m.g, &o, 1, in, NULL, &g1), OG_OK);
    og_profiler_attach_thread(NULL);
    ck_assert_int_gt(og_profiler_num_events(prof), 3);
    ck_assert(memcmp(g0->data, g1->data, (size_t)g0->numel * sizeof(float)) == 0);
    og_profiler_free(prof);
    og_tensor_free(g0);
    og_tensor_free(g1);
    og_tensor_free(x);
    og_graph_free(m.g);
}
END_TEST

START_TEST(errors)
{
    og_profile_event ev;
    ck_assert_int_ne(og_profiler_create(NULL), OG_OK);
    ck_assert_int_ne(og_plan_set_profiler(NULL, NULL), OG_OK);
    ck_assert_int_ne(og_profiler_event(NULL, 0, &ev), OG_OK);
    ck_assert_int_eq(og_profiler_num_events(NULL), 0);
    ck_assert_int_ne(og_graph_node_cost(NULL, 0, NULL, NULL), OG_OK);
    og_profiler_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("profile");
    TCase *tc = tcase_create("profile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, flops_match_formulas);
    tcase_add_test(tc, flops_symbolic_unknown);
    tcase_add_test(tc, events_forward_and_gradient);
    tcase_add_test(tc, gradients_thread_profiler);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
