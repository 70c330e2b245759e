/* SPDX-License-Identifier: MIT */
/* test_fastpaths.c — the plan-time fast kernels (MaxPool forward and its
 * backward pattern, Relu and its backward pattern, Gemm) against the
 * reference kernels: random shapes and attributes, NaN/Inf/ties, bit-exact
 * where the math is exact, the same bits at 1 and 2 threads. Kernels are
 * reached the way the plan reaches them: the op's select or the pattern's,
 * on the graph's own nodes (gradient graphs as og_graph_build_gradient
 * emits them), then run on hand-built kernel calls. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "onnxgrad/autodiff.h"
#include "internal.h"
#include "kernel.h"
#include "../../ops/pool_fast.h"
#include "testutil.h"

/* ---- harness ------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }
static float rndf(void) { return (float)((double)(rng() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

/* Value kinds for tie/NaN tests: mostly small integers (many ties), some
 * -0, +-Inf and NaN. */
static float special_value(int nan_pct)
{
    int r = (int)rnd(0, 99);
    if (r < nan_pct)
        return NAN;
    if (r < nan_pct + 3)
        return INFINITY;
    if (r < nan_pct + 8)
        return -INFINITY;
    if (r < nan_pct + 12)
        return -0.0f;
    return (float)rnd(-3, 3);
}

typedef struct selbuf {
    og_select_call s;
    og_tinfo in[OG_MAX_IO], out[OG_MAX_IO];
    int *readers;
} selbuf;

/* The select call the plan would make for node n of g. */
static void sel_prepare(selbuf *b, const og_graph *g, const og_node *n, int n_threads)
{
    memset(b, 0, sizeof *b);
    b->readers = calloc((size_t)g->n_values + 1, sizeof(int));
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0)
                b->readers[g->nodes[i].inputs[k]]++;
    for (int k = 0; k < g->n_outputs; k++)
        b->readers[g->outputs[k]]++;
    og_select_call *s = &b->s;
    s->g = g;
    s->node = n;
    s->params = n->params;
    s->opset = n->opset;
    s->n_in = n->n_inputs;
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v < 0)
            continue;
        og_value_get(&g->values[v], &b->in[k]);
        s->in[k] = &b->in[k];
        s->in_value[k] = og_value_data(&g->values[v]);
    }
    s->n_out = n->n_outputs;
    for (int k = 0; k < n->n_outputs; k++) {
        int v = n->outputs[k];
        if (v < 0)
            continue;
        og_value_get(&g->values[v], &b->out[k]);
        s->out[k] = &b->out[k];
    }
    s->n_threads = n_threads;
    s->readers = b->readers;
}

static void sel_free(selbuf *b)
{
    og_free(b->s.state);
    free(b->readers);
}

/* Runs `run` on a kernel call with per-worker workspace ws bytes. */
static og_status run_kernel(og_status (*run)(const og_kernel_call *), const og_node *n, int n_in,
                            const og_tensor *const *in, int n_out, og_tensor *const *out, size_t ws, int n_threads,
                            void *state)
{
    og_kernel_call kc;
    memset(&kc, 0, sizeof kc);
    kc.node = n;
    kc.params = n->params;
    kc.opset = n->opset;
    kc.n_in = n_in;
    for (int k = 0; k < n_in; k++)
        kc.in[k] = in[k];
    kc.n_out = n_out;
    for (int k = 0; k < n_out; k++)
        kc.out[k] = out[k];
    size_t stride = (ws + 63) & ~(size_t)63;
    void *w = stride ? aligned_alloc(64, stride * (size_t)n_threads) : NULL;
    kc.workspace = w;
    kc.workspace_bytes = stride * (size_t)n_threads;
    kc.workspace_stride = stride;
    kc.n_threads = n_threads;
    kc.state = state;
    og_status st = run(&kc);
    free(w);
    return st;
}

/* A tensor of the shape, filled with garbage: kernels must write every element. */
static og_tensor *garbage(og_dtype dt, int rank, const int64_t *dims)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    memset(t->data, 0xA5, (size_t)t->numel * og_dtype_size(dt));
    return t;
}

static void expect_same_bits(const og_tensor *a, const og_tensor *b, const char *what)
{
    ck_assert_int_eq(a->numel, b->numel);
    size_t es = og_dtype_size(a->dtype);
    if (memcmp(a->data, b->data, (size_t)a->numel * es) == 0)
        return;
    for (int64_t i = 0; i < a->numel; i++)
        if (memcmp((char *)a->data + i * es, (char *)b->data + i * es, es) != 0) {
            if (a->dtype == OG_FLOAT)
                ck_abort_msg("%s: element %lld differs: %a vs %a", what, (long long)i, (double)((float *)a->data)[i],
                             (double)((float *)b->data)[i]);
            else if (a->dtype == OG_INT64)
                ck_abort_msg("%s: element %lld differs: %lld vs %lld", what, (long long)i,
                             (long long)((int64_t *)a->data)[i], (long long)((int64_t *)b->data)[i]);
            ck_abort_msg("%s: element %lld differs", what, (long long)i);
        }
}

static const og_node *find_node(const og_graph *g, const char *op_type, int nth)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, op_type) == 0 && nth-- == 0)
            return &g->nodes[i];
    return NULL;
}

static const og_pattern *find_pattern(const char *name)
{
    for (int k = 0; og_pattern_at(k); k++)
        if (strcmp(og_pattern_at(k)->name, name) == 0)
            return og_pattern_at(k);
    return NULL;
}

/* ---- MaxPool ------------------------------------------------------------ */

typedef struct pool_case {
    int64_t xd[4], k[2], s[2], d[2], pads[4];
    int64_t ceil_mode;
    bool with_ind;
} pool_case;

/* dyn: the batch dim declared unknown, so plans run it node by node on
 * the reference kernels (no kernel selection without static shapes). */
static og_status pool_graph_ex(const pool_case *c, bool dyn, og_graph **out)
{
    int64_t decl[4] = { dyn ? -1 : c->xd[0], c->xd[1], c->xd[2], c->xd[3] };
    og_graph *g;
    const char *in[1] = { "X" }, *outs[2] = { "Y", "I" };
    og_attr at[5] = { og_attr_ints("kernel_shape", 2, c->k), og_attr_ints("strides", 2, c->s),
                      og_attr_ints("dilations", 2, c->d), og_attr_ints("pads", 4, c->pads),
                      og_attr_int("ceil_mode", c->ceil_mode) };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, decl, NULL));
    OG_CHECK(og_graph_add_node(g, "MaxPool", NULL, "mp", 1, in, c->with_ind ? 2 : 1, outs, 5, at));
    OG_CHECK(og_graph_add_output(g, "Y"));
    if (c->with_ind)
        OG_CHECK(og_graph_add_output(g, "I"));
    og_status st = og_graph_finalize(g);
    if (st) {
        og_graph_free(g);
        return st;
    }
    *out = g;
    return OG_OK;
}

static og_status pool_graph(const pool_case *c, og_graph **out) { return pool_graph_ex(c, false, out); }

/* Runs g through a plan on n_threads (0: the default). */
static void run_plan(const og_graph *g, int n_threads, int n_feeds, const og_tensor *const *feeds, og_tensor **outs)
{
    og_plan_options po = { .n_threads = n_threads };
    og_plan *p;
    OG_CHECK(og_plan_create_ex(g, &po, &p));
    OG_CHECK(og_plan_run(p, n_feeds, feeds, outs));
    og_plan_free(p);
}

static void random_pool_case(pool_case *c)
{
    c->xd[0] = rnd(1, 3);
    c->xd[1] = rnd(1, 4);
    c->xd[2] = rnd(1, 40);
    c->xd[3] = rnd(1, 70);
    for (int a = 0; a < 2; a++) {
        c->k[a] = rnd(1, 5);
        c->s[a] = rnd(1, 4);
        c->d[a] = rng() % 4 == 0 ? rnd(2, 3) : 1;
        c->pads[a] = rnd(0, c->k[a]);
        c->pads[2 + a] = rnd(0, c->k[a]);
    }
    c->ceil_mode = rnd(0, 1);
    c->with_ind = rng() % 5 != 0;
}

/* Y, Indices of the case on x through the reference kernel and the fast
 * one (at 1 and 2 threads, AVX-512 and scalar), compared bit for bit. */
static bool check_pool_case(const pool_case *c, int value_mode)
{
    og_graph *g;
    if (pool_graph(c, &g) != OG_OK)
        return false;   /* geometry the op refuses */
    const og_node *n = find_node(g, "MaxPool", 0);
    selbuf b;
    sel_prepare(&b, g, n, 2);
    OG_CHECK(n->op->select(&b.s));
    ck_assert_msg(b.s.run != NULL, "fast MaxPool not selected");
    const og_value *yv = &g->values[n->outputs[0]];
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, c->xd, &x));
    float *xs = x->data;
    for (int64_t i = 0; i < x->numel; i++)
        xs[i] = value_mode == 0 ? rndf() : value_mode == 1 ? special_value(4) : value_mode == 2 ? -INFINITY
                                                                                              : special_value(40);
    og_tensor *ry = garbage(OG_FLOAT, 4, og_value_dims(yv)), *ri = garbage(OG_INT64, 4, og_value_dims(yv));
    og_tensor *routs[2] = { ry, c->with_ind ? ri : NULL };
    OG_CHECK(run_kernel(n->op->run, n, 1, (const og_tensor *const *)&x, 2, routs, 0, 1, NULL));
    for (int variant = 0; variant < 4; variant++) {
        int threads = variant % 2 ? 2 : 1;
        og_tensor *fy = garbage(OG_FLOAT, 4, og_value_dims(yv)), *fi = garbage(OG_INT64, 4, og_value_dims(yv));
        og_tensor *fouts[2] = { fy, c->with_ind ? fi : NULL };
        if (variant < 2) {
            OG_CHECK(run_kernel(b.s.run, n, 1, (const og_tensor *const *)&x, 2, fouts, b.s.workspace_bytes, threads,
                                b.s.state));
        } else {   /* the scalar path, as a machine without AVX-512 plans it */
            og_pool2d pg = *(const og_pool2d *)b.s.state;
            ck_assert(og_pool2d_init(&pg, false));
            size_t ws = (og_pool2d_workspace(&pg) + 63) & ~(size_t)63;
            void *w = aligned_alloc(64, ws * 2);
            og_maxpool2d_f32(&pg, x->data, fy->data, c->with_ind ? fi->data : NULL, threads, w, ws);
            free(w);
        }
        expect_same_bits(ry, fy, "MaxPool Y");
        if (c->with_ind)
            expect_same_bits(ri, fi, "MaxPool Indices");
        og_tensor_free(fy);
        og_tensor_free(fi);
    }
    og_tensor_free(ry);
    og_tensor_free(ri);
    og_tensor_free(x);
    sel_free(&b);
    og_graph_free(g);
    return true;
}

START_TEST(maxpool_forward_random)
{
    int done = 0;
    for (int it = 0; it < 600; it++) {
        pool_case c;
        random_pool_case(&c);
        done += check_pool_case(&c, it % 4);
    }
    ck_assert_int_gt(done, 300);
}
END_TEST

START_TEST(maxpool_forward_fixed)
{
    /* ResNet's stem pool, a tail shorter than a vector, windows wholly in padding (ceil_mode, big pads) */
    pool_case cs[] = {
        { { 2, 3, 112, 112 }, { 3, 3 }, { 2, 2 }, { 1, 1 }, { 1, 1, 1, 1 }, 0, true },
        { { 1, 2, 7, 21 }, { 3, 3 }, { 1, 1 }, { 1, 1 }, { 1, 2, 1, 2 }, 0, true },
        { { 1, 2, 9, 9 }, { 2, 2 }, { 3, 3 }, { 1, 1 }, { 0, 0, 1, 1 }, 1, true },
        { { 1, 1, 5, 33 }, { 2, 3 }, { 2, 3 }, { 3, 2 }, { 2, 3, 2, 3 }, 1, true },
        { { 1, 1, 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 0, 0, 0, 0 }, 0, true },
        { { 1, 1, 4, 50 }, { 1, 5 }, { 1, 4 }, { 1, 1 }, { 0, 4, 0, 4 }, 1, false },
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        for (int mode = 0; mode < 4; mode++)
            ck_assert_msg(check_pool_case(&cs[i], mode), "case %zu refused", i);
}
END_TEST

/* The backward pattern on the gradient graph og_graph_build_gradient emits:
 * it must match the ScatterElements, rewire it to (flat Indices, flat dY)
 * and give the reference gradient's bits. */
static void check_pool_backward(const pool_case *c)
{
    og_graph *g, *gd;
    if (pool_graph(c, &g) != OG_OK)
        return;
    OG_CHECK(pool_graph_ex(c, true, &gd));
    og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "Y" }, .n_wrt = 1,
                          .wrt = (const char *const[]){ "X" } };
    og_graph *gg, *ggd;
    if (og_graph_build_gradient(g, &o, &gg) != OG_OK) {   /* windows wholly in padding have no gradient */
        og_graph_free(g);
        og_graph_free(gd);
        return;
    }
    OG_CHECK(og_graph_build_gradient(gd, &o, &ggd));
    const og_node *mp = find_node(gg, "MaxPool", 0);
    const og_value *yv = &gg->values[mp->outputs[0]];
    og_tensor *x, *dy;
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, c->xd, &x));
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, og_value_dims(yv), &dy));
    for (int64_t i = 0; i < x->numel; i++)
        ((float *)x->data)[i] = special_value(2);
    for (int64_t i = 0; i < dy->numel; i++)
        ((float *)dy->data)[i] = rng() % 50 == 0 ? special_value(30) : rndf();
    /* reference: the node-by-node run; fast: the compiled plan at 1 and 2 threads */
    og_tensor *outs[2] = { 0 }, *fouts[2] = { 0 };
    const og_tensor *feeds[2] = { x, dy };
    int nout = gg->n_outputs;
    ck_assert_int_eq(nout, 2);
    run_plan(ggd, 1, 2, feeds, outs);
    og_tensor *ref_dx = outs[1];
    for (int threads = 1; threads <= 2; threads++) {
        run_plan(gg, threads, 2, feeds, fouts);
        expect_same_bits(outs[0], fouts[0], "MaxPool Y (plan)");
        expect_same_bits(ref_dx, fouts[1], "MaxPool dX (plan)");
        og_tensor_free(fouts[0]);
        og_tensor_free(fouts[1]);
    }

    const og_node *sc = find_node(gg, "ScatterElements", 0);
    ck_assert_ptr_nonnull(sc);
    selbuf b;
    sel_prepare(&b, gg, sc, 2);
    const og_pattern *pat = find_pattern("maxpool_backward");
    ck_assert_ptr_nonnull(pat);
    OG_CHECK(pat->select(&b.s));
    ck_assert_msg(b.s.run != NULL, "maxpool_backward did not match");
    ck_assert_int_ge(b.s.new_n_in, 2);
    ck_assert_int_eq(b.s.new_inputs[b.s.new_n_in - 2], sc->inputs[1]);
    ck_assert_int_eq(b.s.new_inputs[b.s.new_n_in - 1], sc->inputs[2]);
    /* its inputs' values: MaxPool's Indices and dY, flattened */
    og_tensor *ind = garbage(OG_INT64, 4, og_value_dims(yv));
    og_tensor *mouts[2] = { NULL, ind };
    OG_CHECK(run_kernel(mp->op->run, mp, 1, (const og_tensor *const *)&x, 2, mouts, 0, 1, NULL));
    int64_t flat_i = ind->numel, flat_x = x->numel;
    ind->rank = 1;
    ind->dims[0] = flat_i;
    og_tensor dyf = *dy;
    dyf.rank = 1;
    dyf.dims[0] = flat_i;
    const og_tensor *ins[2] = { ind, &dyf };
    for (int threads = 1; threads <= 2; threads++) {
        og_tensor *dx = garbage(OG_FLOAT, 1, &flat_x);
        OG_CHECK(run_kernel(b.s.run, sc, 2, ins, 1, &dx, b.s.workspace_bytes, threads, b.s.state));
        og_tensor dxv = *dx;
        dxv.rank = 4;
        memcpy(dxv.dims, c->xd, sizeof c->xd);
        expect_same_bits(ref_dx, &dxv, "MaxPool dX");
        og_tensor_free(dx);
    }
    /* an index outside its plane: the general scatter still gives the sum */
    if (flat_i > 1 && c->xd[0] * c->xd[1] > 1) {
        ((int64_t *)ind->data)[0] = flat_x - 1;
        og_tensor *dx = garbage(OG_FLOAT, 1, &flat_x);
        OG_CHECK(run_kernel(b.s.run, sc, 2, ins, 1, &dx, 0, 2, b.s.state));
        float expect = 0, got = ((float *)dx->data)[flat_x - 1];
        for (int64_t q = 0; q < flat_i; q++)
            if (((int64_t *)ind->data)[q] == flat_x - 1)
                expect += ((float *)dy->data)[q];
        ck_assert(memcmp(&expect, &got, sizeof got) == 0);
        ((int64_t *)ind->data)[0] = flat_x;
        OG_CHECK_FAILS(run_kernel(b.s.run, sc, 2, ins, 1, &dx, 0, 2, b.s.state), OG_ERR_INVALID_ARG, "out of range");
        og_tensor_free(dx);
    }
    sel_free(&b);
    og_tensor_free(ind);
    for (int k = 0; k < nout; k++)
        og_tensor_free(outs[k]);
    og_tensor_free(x);
    og_tensor_free(dy);
    og_graph_free(gg);
    og_graph_free(ggd);
    og_graph_free(g);
    og_graph_free(gd);
}

START_TEST(maxpool_backward_pattern)
{
    pool_case stem = { { 2, 3, 32, 32 }, { 3, 3 }, { 2, 2 }, { 1, 1 }, { 1, 1, 1, 1 }, 0, false };
    check_pool_backward(&stem);
    for (int it = 0; it < 150; it++) {
        pool_case c;
        random_pool_case(&c);
        c.with_ind = false;
        check_pool_backward(&c);
    }
}
END_TEST


/* ---- Relu --------------------------------------------------------------- */

static og_graph *relu_graph(int rank, const int64_t *dims, bool dyn)
{
    og_graph *g;
    int64_t decl[OG_MAX_RANK];
    memcpy(decl, dims, sizeof(int64_t) * (size_t)rank);
    if (dyn)
        decl[0] = -1;
    const char *in[1] = { "X" }, *out[1] = { "Y" };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, rank, decl, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, in, 1, out, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static void fill_special(og_tensor *t, int nan_pct)
{
    for (int64_t i = 0; i < t->numel; i++)
        ((float *)t->data)[i] = rng() % 2 ? rndf() : special_value(nan_pct);
}

static void check_relu(int rank, const int64_t *dims)
{
    og_graph *g = relu_graph(rank, dims, false), *gd = relu_graph(rank, dims, true);
    const og_node *n = find_node(g, "Relu", 0);
    selbuf b;
    sel_prepare(&b, g, n, 2);
    OG_CHECK(n->op->select(&b.s));
    ck_assert_ptr_nonnull(b.s.run);
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, rank, dims, &x));
    fill_special(x, 5);
    og_tensor *ry = garbage(OG_FLOAT, rank, dims);
    OG_CHECK(run_kernel(n->op->run, n, 1, (const og_tensor *const *)&x, 1, &ry, 0, 1, NULL));
    for (int threads = 1; threads <= 2; threads++) {
        og_tensor *fy = garbage(OG_FLOAT, rank, dims);
        OG_CHECK(run_kernel(b.s.run, n, 1, (const og_tensor *const *)&x, 1, &fy, b.s.workspace_bytes, threads,
                            b.s.state));
        expect_same_bits(ry, fy, "Relu Y");
        og_tensor_free(fy);
    }

    /* the gradient graph: Where(LessOrEqual(Y, 0), 0, dY) must become one kernel */
    og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "Y" }, .n_wrt = 1,
                          .wrt = (const char *const[]){ "X" } };
    og_graph *gg, *ggd;
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    OG_CHECK(og_graph_build_gradient(gd, &o, &ggd));
    og_tensor *dy;
    OG_CHECK(og_tensor_create(OG_FLOAT, rank, dims, &dy));
    fill_special(dy, 5);
    og_tensor *outs[2] = { 0 }, *fouts[2] = { 0 };
    const og_tensor *feeds[2] = { x, dy };
    run_plan(ggd, 1, 2, feeds, outs);   /* node by node: the reference kernels */
    expect_same_bits(ry, outs[0], "Relu Y (reference plan)");
    for (int threads = 1; threads <= 2; threads++) {
        run_plan(gg, threads, 2, feeds, fouts);
        expect_same_bits(outs[0], fouts[0], "Relu Y (plan)");
        expect_same_bits(outs[1], fouts[1], "Relu dX (plan)");
        og_tensor_free(fouts[0]);
        og_tensor_free(fouts[1]);
    }
    const og_node *w = find_node(gg, "Where", 0), *le = find_node(gg, "LessOrEqual", 0), *rn = find_node(gg, "Relu", 0);
    ck_assert_ptr_nonnull(w);
    selbuf wb;
    sel_prepare(&wb, gg, w, 2);
    OG_CHECK(find_pattern("relu_backward")->select(&wb.s));
    ck_assert_msg(wb.s.run != NULL, "relu_backward did not match");
    ck_assert_int_eq(wb.s.new_n_in, 2);
    ck_assert_int_eq(wb.s.new_inputs[0], rn->outputs[0]);
    ck_assert_int_eq(wb.s.new_inputs[0], le->inputs[0]);
    ck_assert_int_eq(wb.s.new_inputs[1], w->inputs[2]);
    const og_tensor *ins[2] = { ry, dy };
    for (int threads = 1; threads <= 2; threads++) {
        og_tensor *dx = garbage(OG_FLOAT, rank, dims);
        OG_CHECK(run_kernel(wb.s.run, w, 2, ins, 1, &dx, wb.s.workspace_bytes, threads, wb.s.state));
        expect_same_bits(outs[1], dx, "Relu dX");
        og_tensor_free(dx);
    }
    sel_free(&wb);
    og_tensor_free(outs[0]);
    og_tensor_free(outs[1]);
    og_graph_free(gg);
    og_graph_free(ggd);
    og_graph_free(gd);
    og_tensor_free(dy);
    og_tensor_free(x);
    og_tensor_free(ry);
    sel_free(&b);
    og_graph_free(g);
}

START_TEST(relu_random)
{
    for (int it = 0; it < 40; it++) {
        int64_t d[3] = { rnd(1, 5), rnd(1, 300), rnd(1, 200) };
        check_relu(it % 3 + 1, d + 2 - it % 3);
    }
    int64_t big[1] = { ((int64_t)5 << 20) + 7 };   /* past the streaming-store threshold, odd tail */
    check_relu(1, big);
    int64_t one[1] = { 1 };
    check_relu(1, one);
}
END_TEST

/* The pattern must not fire when the constants are not zeros or the
 * condition has another reader. */
START_TEST(relu_backward_no_match)
{
    static const int64_t d[1] = { 8 };
    for (int variant = 0; variant < 3; variant++) {
        og_graph *g;
        OG_CHECK(og_graph_create(&g));
        OG_CHECK(og_graph_set_opset(g, "", 17));
        OG_CHECK(og_graph_add_input(g, "Y", OG_FLOAT, 1, d, NULL));
        OG_CHECK(og_graph_add_input(g, "dY", OG_FLOAT, 1, d, NULL));
        float zc = variant == 0 ? 1.0f : 0.0f, zs = variant == 1 ? -0.0f : 0.0f;
        og_tensor *t0, *t1;
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 0, NULL, &zc, &t0));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 0, NULL, &zs, &t1));
        og_attr a0 = og_attr_tensor("value", t0), a1 = og_attr_tensor("value", t1);
        OG_CHECK(og_graph_add_node(g, "Constant", NULL, "c0", 0, NULL, 1, (const char *const[]){ "z0" }, 1, &a0));
        OG_CHECK(og_graph_add_node(g, "Constant", NULL, "c1", 0, NULL, 1, (const char *const[]){ "z1" }, 1, &a1));
        OG_CHECK(og_graph_add_node(g, "LessOrEqual", NULL, "le", 2, (const char *const[]){ "Y", "z0" }, 1,
                                   (const char *const[]){ "c" }, 0, NULL));
        OG_CHECK(og_graph_add_node(g, "Where", NULL, "w", 3, (const char *const[]){ "c", "z1", "dY" }, 1,
                                   (const char *const[]){ "dX" }, 0, NULL));
        OG_CHECK(og_graph_add_output(g, "dX"));
        if (variant == 2)
            OG_CHECK(og_graph_add_output(g, "c"));
        OG_CHECK(og_graph_finalize(g));
        og_tensor_free(t0);
        og_tensor_free(t1);
        selbuf wb;
        sel_prepare(&wb, g, find_node(g, "Where", 0), 2);
        OG_CHECK(find_pattern("relu_backward")->select(&wb.s));
        ck_assert_msg(wb.s.run == NULL, "variant %d matched", variant);
        sel_free(&wb);
        og_graph_free(g);
    }
}
END_TEST


/* ---- Clip's backward ------------------------------------------------------ */

/* Clip(X, lo, hi) with the bounds as inputs (opset 17: either may be
 * omitted); the gradient graph's
 * Where(And(LessOrEqual...)) must run as one clip_backward kernel and give
 * dY where lo <= X <= hi, else +0 (NaN: 0 when a bound exists). */
static void check_clip_backward(int form, int64_t n)
{
    const int64_t dims[1] = { n };
    bool has_lo = form != 2, has_hi = form != 1;
    float lo = -0.5f, hi = 1.5f;
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 1, dims, NULL));
    og_tensor *tl, *th;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 0, NULL, &lo, &tl));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 0, NULL, &hi, &th));
    OG_CHECK(og_graph_add_initializer(g, "lo", tl));
    OG_CHECK(og_graph_add_initializer(g, "hi", th));
    const char *in[3] = { "X", has_lo ? "lo" : "", "hi" };
    OG_CHECK(og_graph_add_node(g, "Clip", NULL, "clip", has_hi ? 3 : 2, in, 1, (const char *const[]){ "Y" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "Y" }, .n_wrt = 1,
                          .wrt = (const char *const[]){ "X" } };
    og_graph *gg;
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    og_tensor *x, *dy;
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, dims, &x));
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, dims, &dy));
    fill_special(x, 5);
    fill_special(dy, 5);
    float *xd = x->data;
    for (int64_t i = 0; i < n; i += 7)   /* exactly at the bounds: inside, as torch.clamp's backward */
        xd[i] = i % 2 ? lo : hi;
    const og_tensor *feeds[2] = { x, dy };
    for (int threads = 1; threads <= 2; threads++) {
        og_tensor *outs[2] = { 0 };
        run_plan(gg, threads, 2, feeds, outs);
        const float *dx = outs[1]->data, *dyd = dy->data;
        for (int64_t i = 0; i < n; i++) {
            bool in = (!has_lo || lo <= xd[i]) && (!has_hi || xd[i] <= hi);
            float want = in ? dyd[i] : 0.0f;
            ck_assert_msg(memcmp(&dx[i], &want, sizeof want) == 0 || (isnan(want) && isnan(dx[i])),
                          "form %d n %lld: dX[%lld] = %g for X %g dY %g, want %g", form, (long long)n, (long long)i,
                          dx[i], xd[i], dyd[i], want);
        }
        og_tensor_free(outs[0]);
        og_tensor_free(outs[1]);
    }
    og_plan *p;
    OG_CHECK(og_plan_create(gg, &p));
    bool fused = false;
    for (int k = 0; k < og_plan_num_steps(p); k++) {
        const char *node, *op, *kernel;
        OG_CHECK(og_plan_step(p, k, &node, &op, &kernel));
        fused = fused || strncmp(kernel, "clip_backward", 13) == 0;
        ck_assert_msg(strcmp(op, "LessOrEqual") != 0 && strcmp(op, "And") != 0, "form %d: %s left in the plan",
                      form, op);
    }
    ck_assert_msg(fused, "form %d: no clip_backward kernel in the plan", form);
    og_plan_free(p);
    og_tensor_free(x);
    og_tensor_free(dy);
    og_tensor_free(tl);
    og_tensor_free(th);
    og_graph_free(gg);
    og_graph_free(g);
}

START_TEST(clip_backward_fused)
{
    for (int form = 0; form < 3; form++) {
        check_clip_backward(form, rnd(1, 3000));
        check_clip_backward(form, 17);
    }
    check_clip_backward(0, ((int64_t)5 << 20) + 3);   /* streaming stores, odd tail */
}
END_TEST

/* ---- Gemm --------------------------------------------------------------- */

typedef struct gemm_case {
    int64_t m, n, k;
    int64_t ta, tb;
    float alpha, beta;
    int c_rank;                 /* -1: no C */
    int64_t cd[2];
} gemm_case;

static og_graph *gemm_graph(const gemm_case *c)
{
    og_graph *g;
    int64_t ad[2] = { c->ta ? c->k : c->m, c->ta ? c->m : c->k }, bd[2] = { c->tb ? c->n : c->k, c->tb ? c->k : c->n };
    og_attr at[4] = { og_attr_float("alpha", c->alpha), og_attr_float("beta", c->beta), og_attr_int("transA", c->ta),
                      og_attr_int("transB", c->tb) };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "A", OG_FLOAT, 2, ad, NULL));
    OG_CHECK(og_graph_add_input(g, "B", OG_FLOAT, 2, bd, NULL));
    if (c->c_rank >= 0)
        OG_CHECK(og_graph_add_input(g, "C", OG_FLOAT, c->c_rank, c->cd, NULL));
    OG_CHECK(og_graph_add_node(g, "Gemm", NULL, "gm", c->c_rank >= 0 ? 3 : 2,
                               (const char *const[]){ "A", "B", "C" }, 1, (const char *const[]){ "Y" }, 4, at));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static og_tensor *rand_tensor(int rank, const int64_t *dims)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, rank, dims, &t));
    for (int64_t i = 0; i < t->numel; i++)
        ((float *)t->data)[i] = rndf();
    return t;
}

/* |fast - ref| within a K-scaled bound of the magnitudes summed. */
static void expect_gemm_close(const gemm_case *c, const og_tensor *a, const og_tensor *b, const og_tensor *ct,
                              const og_tensor *ref, const og_tensor *got)
{
    const float *A = a->data, *B = b->data, *R = ref->data, *G = got->data;
    for (int64_t i = 0; i < c->m; i++)
        for (int64_t j = 0; j < c->n; j++) {
            double mag = 0;
            for (int64_t k = 0; k < c->k; k++) {
                float av = c->ta ? A[k * c->m + i] : A[i * c->k + k];
                float bv = c->tb ? B[j * c->k + k] : B[k * c->n + j];
                mag += fabs((double)av * bv);
            }
            mag *= fabs(c->alpha);
            if (ct && c->beta != 0) {
                int64_t si = ct->rank == 2 && ct->dims[0] != 1 ? ct->dims[1] : 0;
                int64_t sj = ct->rank >= 1 && ct->dims[ct->rank - 1] != 1 ? 1 : 0;
                mag += fabs(c->beta * ((float *)ct->data)[i * si + j * sj]);
            }
            double tol = 4.0 * 1.2e-7 * (double)(c->k + 2) * mag + 1e-30;
            double r = R[i * c->n + j], v = G[i * c->n + j];
            ck_assert_msg(fabs(r - v) <= tol, "Gemm %lldx%lldx%lld ta %lld tb %lld: Y[%lld,%lld] = %.9g, reference %.9g "
                          "(tol %.3g)", (long long)c->m, (long long)c->n, (long long)c->k, (long long)c->ta,
                          (long long)c->tb, (long long)i, (long long)j, v, r, tol);
        }
}

static void check_gemm(const gemm_case *c)
{
    og_graph *g = gemm_graph(c);
    const og_node *n = find_node(g, "Gemm", 0);
    selbuf b;
    sel_prepare(&b, g, n, 2);
    OG_CHECK(n->op->select(&b.s));
    ck_assert_ptr_nonnull(b.s.run);
    int64_t ad[2] = { c->ta ? c->k : c->m, c->ta ? c->m : c->k }, bd[2] = { c->tb ? c->n : c->k, c->tb ? c->k : c->n };
    int64_t yd[2] = { c->m, c->n };
    og_tensor *in[3] = { rand_tensor(2, ad), rand_tensor(2, bd), c->c_rank >= 0 ? rand_tensor(c->c_rank, c->cd) : NULL };
    if (in[2] && c->beta == 0)   /* beta = 0: C must not reach Y, not even its NaN */
        ((float *)in[2]->data)[0] = NAN;
    int n_in = c->c_rank >= 0 ? 3 : 2;
    og_tensor *ref = garbage(OG_FLOAT, 2, yd);
    OG_CHECK(run_kernel(n->op->run, n, n_in, (const og_tensor *const *)in, 1, &ref, 0, 1, NULL));
    og_tensor *f1 = garbage(OG_FLOAT, 2, yd), *f2 = garbage(OG_FLOAT, 2, yd);
    OG_CHECK(run_kernel(b.s.run, n, n_in, (const og_tensor *const *)in, 1, &f1, b.s.workspace_bytes, 1, b.s.state));
    OG_CHECK(run_kernel(b.s.run, n, n_in, (const og_tensor *const *)in, 1, &f2, b.s.workspace_bytes, 2, b.s.state));
    expect_same_bits(f1, f2, "Gemm at 1 vs 2 threads");
    expect_gemm_close(c, in[0], in[1], in[2], ref, f1);
    for (int k = 0; k < 3; k++)
        og_tensor_free(in[k]);
    og_tensor_free(ref);
    og_tensor_free(f1);
    og_tensor_free(f2);
    sel_free(&b);
    og_graph_free(g);
}

static void random_gemm_case(gemm_case *c, int64_t max_dim)
{
    c->m = rnd(1, max_dim);
    c->n = rnd(1, max_dim);
    c->k = rng() % 10 == 0 ? 0 : rnd(1, max_dim);
    c->ta = rnd(0, 1);
    c->tb = rnd(0, 1);
    static const float alphas[] = { 1.0f, -0.5f, 2.0f, 0.0f }, betas[] = { 1.0f, 0.0f, 0.25f, -1.0f };
    c->alpha = alphas[rnd(0, 3)];
    c->beta = betas[rnd(0, 3)];
    /* no C, a scalar, [N], [1,N], [M,1], [M,N], [1], [1,1] */
    switch (rnd(0, 7)) {
    case 0: c->c_rank = -1; break;
    case 1: c->c_rank = 0; break;
    case 2: c->c_rank = 1; c->cd[0] = c->n; break;
    case 3: c->c_rank = 2; c->cd[0] = 1; c->cd[1] = c->n; break;
    case 4: c->c_rank = 2; c->cd[0] = c->m; c->cd[1] = 1; break;
    case 5: c->c_rank = 2; c->cd[0] = c->m; c->cd[1] = c->n; break;
    case 6: c->c_rank = 1; c->cd[0] = 1; break;
    default: c->c_rank = 2; c->cd[0] = 1; c->cd[1] = 1; break;
    }
}

START_TEST(gemm_random)
{
    for (int it = 0; it < 150; it++) {
        gemm_case c;
        random_gemm_case(&c, it < 100 ? 40 : 400);
        check_gemm(&c);
    }
    gemm_case fc = { 64, 1000, 512, 0, 0, 1.0f, 1.0f, 1, { 1000, 0 } };
    check_gemm(&fc);
}
END_TEST

/* Gemm's gradient graph (dA, dB as Gemms with trans flags, dC a ReduceSum)
 * through the compiled plan, against the node-by-node reference. */
START_TEST(gemm_gradient_plan)
{
    for (int it = 0; it < 12; it++) {
        gemm_case c;
        random_gemm_case(&c, 70);
        if (c.k == 0)
            c.k = 3;
        if (c.c_rank < 0) {
            c.c_rank = 1;
            c.cd[0] = c.n;
        }
        og_graph *g = gemm_graph(&c);
        og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "Y" } };
        og_graph *gg;
        OG_CHECK(og_graph_build_gradient(g, &o, &gg));
        int64_t ad[2] = { c.ta ? c.k : c.m, c.ta ? c.m : c.k }, bd[2] = { c.tb ? c.n : c.k, c.tb ? c.k : c.n };
        int64_t yd[2] = { c.m, c.n };
        og_tensor *feeds[4] = { rand_tensor(2, ad), rand_tensor(2, bd), rand_tensor(c.c_rank, c.cd),
                                rand_tensor(2, yd) };
        int nout = gg->n_outputs;
        ck_assert_int_le(nout, 4);
        og_tensor *o1[4] = { 0 }, *o2[4] = { 0 };
        run_plan(gg, 1, 4, (const og_tensor *const *)feeds, o1);
        run_plan(gg, 2, 4, (const og_tensor *const *)feeds, o2);
        for (int k = 0; k < nout; k++) {
            expect_same_bits(o1[k], o2[k], "Gemm gradient graph at 1 vs 2 threads");
            og_tensor_free(o1[k]);
            og_tensor_free(o2[k]);
        }
        /* each Gemm of the gradient graph picks the fast kernel */
        for (int nth = 0; find_node(gg, "Gemm", nth); nth++) {
            selbuf b;
            sel_prepare(&b, gg, find_node(gg, "Gemm", nth), 2);
            OG_CHECK(b.s.node->op->select(&b.s));
            ck_assert_ptr_nonnull(b.s.run);
            sel_free(&b);
        }
        for (int k = 0; k < 4; k++)
            og_tensor_free(feeds[k]);
        og_graph_free(gg);
        og_graph_free(g);
    }
}
END_TEST

static Suite *fastpaths_suite(void)
{
    Suite *s = suite_create("fastpaths");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, maxpool_forward_random);
    tcase_add_test(tc, maxpool_forward_fixed);
    tcase_add_test(tc, maxpool_backward_pattern);
    tcase_add_test(tc, relu_random);
    tcase_add_test(tc, relu_backward_no_match);
    tcase_add_test(tc, clip_backward_fused);
    tcase_add_test(tc, gemm_random);
    tcase_add_test(tc, gemm_gradient_plan);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return og_run_suite(fastpaths_suite()); }
