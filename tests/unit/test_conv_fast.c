/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L
/* test_conv_fast.c — the plan-time float32 convolution kernels of
 * ops/conv_fast.c (Conv forward, ConvTranspose, the Conv weight-gradient
 * pattern) against the reference kernels run in float64, over random
 * shapes and attributes, and bit-exact across thread counts.
 *
 * The executor that calls select and the patterns is being written
 * elsewhere, so this file carries a small one (mini_run) doing what the
 * plan will: every pattern rooted at the node's op type, then the op's
 * select, the first run wins, inputs rewired, per-worker workspace. It
 * fills every output with NaN first, so a kernel that leaves a cell
 * unwritten fails. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include "internal.h"
#include "kernel.h"
#include "gradtest.h"
#include "../../ops/conv_fast.h"

/* ---- random data -------------------------------------------------------- */

static uint64_t rng_state;
static uint32_t rnd32(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static int64_t rnd_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd32() % (uint32_t)(hi - lo + 1)); }
static float rnd_f(void) { return (float)((double)rnd32() / 2147483648.0 - 1.0); }

static og_tensor *rand_tensor(int rank, const int64_t *dims)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, rank, dims, &t));
    float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        d[i] = rnd_f();
    return t;
}

static og_tensor *to_double(const og_tensor *t)
{
    og_tensor *r;
    OG_CHECK(og_tensor_create(OG_DOUBLE, t->rank, t->dims, &r));
    for (int64_t i = 0; i < t->numel; i++)
        ((double *)r->data)[i] = ((const float *)t->data)[i];
    return r;
}

/* ---- a small executor with plan-time selection -------------------------- */

#define MAX_HITS 32
typedef struct hits {
    int n;
    const char *name[MAX_HITS];
} hits;

static bool hit(const hits *h, const char *name)
{
    for (int k = 0; k < h->n; k++)
        if (strcmp(h->name[k], name) == 0)
            return true;
    return false;
}

/* Runs the finalized float graph g on feeds (graph inputs in order, no
 * initializer-backed ones) with n_threads; outputs in g's output order. */
static void mini_run(const og_graph *g, int n_feeds, og_tensor *const *feeds, int n_threads, og_tensor **outs,
                     hits *h)
{
    int nv = g->n_values;
    const og_tensor **val = calloc((size_t)nv, sizeof *val);
    og_tensor **owned = calloc((size_t)nv, sizeof *owned);
    int *readers = calloc((size_t)nv, sizeof *readers);
    int f = 0;
    for (int k = 0; k < g->n_inputs; k++) {
        int v = g->inputs[k];
        if (g->values[v].initializer)
            continue;
        ck_assert_int_lt(f, n_feeds);
        val[v] = feeds[f++];
    }
    for (int v = 0; v < nv; v++) {
        if (!val[v] && og_value_data(&g->values[v]))
            val[v] = og_value_data(&g->values[v]);
        if (g->values[v].is_output)
            readers[v]++;
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0)
                readers[g->nodes[i].inputs[k]]++;
    if (h)
        h->n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        bool done = true;
        for (int k = 0; k < n->n_outputs; k++)
            done = done && (n->outputs[k] < 0 || val[n->outputs[k]]);
        if (done)
            continue;   /* folded */
        /* plan time: static types */
        og_select_call s;
        og_tinfo sin[OG_MAX_IO], sout[OG_MAX_IO];
        memset(&s, 0, sizeof s);
        s.g = g;
        s.node = n;
        s.params = n->params;
        s.opset = n->opset;
        s.n_in = n->n_inputs;
        s.n_out = n->n_outputs;
        s.n_threads = n_threads;
        s.readers = readers;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) {
                og_value_get(&g->values[n->inputs[k]], &sin[k]);
                s.in[k] = &sin[k];
                s.in_value[k] = og_value_data(&g->values[n->inputs[k]]);
            }
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0) {
                og_value_get(&g->values[n->outputs[k]], &sout[k]);
                s.out[k] = &sout[k];
            }
        for (int p = 0; !s.run && og_pattern_at(p); p++)
            if (strcmp(og_pattern_at(p)->root_op, n->op_type) == 0)
                OG_CHECK(og_pattern_at(p)->select(&s));
        if (!s.run && n->op->select)
            OG_CHECK(n->op->select(&s));

        og_kernel_call kc;
        memset(&kc, 0, sizeof kc);
        kc.node = n;
        kc.params = n->params;
        kc.opset = n->opset;
        kc.n_out = n->n_outputs;
        kc.n_threads = n_threads;
        const int *ins = s.run && s.new_n_in ? s.new_inputs : n->inputs;
        kc.n_in = s.run && s.new_n_in ? s.new_n_in : n->n_inputs;
        og_tinfo in_ti[OG_MAX_IO], out_ti[OG_MAX_IO];
        const og_tinfo *in[OG_MAX_IO] = { 0 };
        og_tinfo *out[OG_MAX_IO] = { 0 };
        for (int k = 0; k < kc.n_in; k++)
            if (ins[k] >= 0) {
                kc.in[k] = val[ins[k]];
                ck_assert_msg(kc.in[k] != NULL, "node '%s': input %d not computed", n->name, k);
            }
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) {
                const og_tensor *t = val[n->inputs[k]];
                in_ti[k].dtype = t ? t->dtype : sin[k].dtype;
                in_ti[k].shape.rank = t ? t->rank : sin[k].shape.rank;
                memcpy(in_ti[k].shape.dims, t ? t->dims : sin[k].shape.dims, sizeof in_ti[k].shape.dims);
                in[k] = &in_ti[k];
            }
        for (int k = 0; k < n->n_outputs; k++)
            out[k] = n->outputs[k] >= 0 ? &out_ti[k] : NULL;
        size_t ws = 0;
        const og_tensor *in_vals[OG_MAX_IO] = { 0 };
        for (int k = 0; k < n->n_inputs; k++)
            in_vals[k] = n->inputs[k] >= 0 ? val[n->inputs[k]] : NULL;
        if (!s.run) {
            OG_CHECK(og_node_infer(g, n, in, in_vals, out, &ws));
        } else {
            for (int k = 0; k < n->n_outputs; k++)
                if (out[k])
                    out_ti[k] = sout[k];
            ws = s.workspace_bytes;
        }
        for (int k = 0; k < n->n_outputs; k++)
            if (out[k]) {
                OG_CHECK(og_tensor_create(out_ti[k].dtype, out_ti[k].shape.rank, out_ti[k].shape.dims, &kc.out[k]));
                if (kc.out[k]->dtype == OG_FLOAT)
                    for (int64_t e = 0; e < kc.out[k]->numel; e++)
                        ((float *)kc.out[k]->data)[e] = NAN;
            }
        size_t stride = (ws + 63) & ~(size_t)63;
        void *wsp = aligned_alloc(64, stride * (size_t)n_threads + 64);
        kc.workspace = wsp;
        kc.workspace_bytes = stride * (size_t)n_threads;
        kc.workspace_stride = stride;
        kc.state = s.state;
        if (s.run && h && h->n < MAX_HITS)
            h->name[h->n++] = s.kernel_name;
        og_status st = s.run ? s.run(&kc) : n->op->run(&kc);
        ck_assert_msg(st == OG_OK, "node '%s' (%s): %s", n->name, n->op_type, og_errmsg());
        free(wsp);
        og_free(s.state);
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0) {
                owned[n->outputs[k]] = kc.out[k];
                val[n->outputs[k]] = kc.out[k];
            }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        ck_assert_ptr_nonnull(val[v]);
        OG_CHECK(og_tensor_clone(val[v], &outs[k]));
    }
    for (int v = 0; v < nv; v++)
        og_tensor_free(owned[v]);
    free(owned);
    free(val);
    free(readers);
}

/* The graph's outputs from the reference kernels in float64. */
static void ref_run(const og_graph *g, int n_feeds, og_tensor *const *feeds, og_tensor **outs)
{
    og_graph *gd;
    og_plan *p;
    og_tensor *fd[8];
    OG_CHECK(og_graph_to_double(g, &gd));
    for (int k = 0; k < n_feeds; k++)
        fd[k] = to_double(feeds[k]);
    OG_CHECK(og_plan_create(gd, &p));
    OG_CHECK(og_plan_run(p, n_feeds, (const og_tensor *const *)fd, outs));
    og_plan_free(p);
    og_graph_free(gd);
    for (int k = 0; k < n_feeds; k++)
        og_tensor_free(fd[k]);
}

/* The graph through the real plan (og_plan_create_ex) at n_threads. */
static void plan_run(const og_graph *g, int n_feeds, og_tensor *const *feeds, int n_threads, og_tensor **outs)
{
    og_plan *p;
    og_plan_options o = { .n_threads = n_threads };
    OG_CHECK(og_plan_create_ex(g, &o, &p));
    OG_CHECK(og_plan_run(p, n_feeds, (const og_tensor *const *)feeds, outs));
    og_plan_free(p);
}

/* got (float) against want (double): |got - want| <= tol * (1 + |want|). */
static void expect_close(const og_tensor *got, const og_tensor *want, double tol, const char *what)
{
    ck_assert_int_eq(got->dtype, OG_FLOAT);
    ck_assert_int_eq(want->dtype, OG_DOUBLE);
    ck_assert_int_eq(got->numel, want->numel);
    for (int64_t i = 0; i < got->numel; i++) {
        double a = ((const float *)got->data)[i], b = ((const double *)want->data)[i];
        ck_assert_msg(fabs(a - b) <= tol * (1 + fabs(b)), "%s: element %lld is %.9g, expected %.9g (tol %.3g)",
                      what, (long long)i, a, b, tol);
    }
}

static void expect_same_bits(const og_tensor *a, const og_tensor *b, const char *what)
{
    ck_assert_int_eq(a->numel, b->numel);
    ck_assert_msg(memcmp(a->data, b->data, sizeof(float) * (size_t)a->numel) == 0,
                  "%s: 1 and 2 threads differ", what);
}

/* ---- random convolution configurations ---------------------------------- */

typedef struct cfg {
    bool transpose;
    int64_t N, G, Cg, Mg, H, W, R, S;
    int64_t stride[2], dil[2], pads[4], outpad[2];
    bool bias;
    bool one_d;   /* rank 3: the W axis only (H, R = 1) */
} cfg;

/* The columns of dW the fused weight-gradient Conv computes: Cg x R' x S',
 * R' x S' its output before the crop Slice (larger than R x S where the
 * forward stride leaves rows of X no output reads). */
static int64_t dw_cols(const cfg *c)
{
    int64_t n = c->Cg;
    for (int a = 0; a < 2; a++) {
        int64_t in = a ? c->W : c->H, k = a ? c->S : c->R, lo = c->pads[a], hi = c->pads[2 + a];
        int64_t out = (in + lo + hi - (k - 1) * c->dil[a] - 1) / c->stride[a] + 1;
        n *= (in + lo + hi - c->stride[a] * (out - 1) - 1) / c->dil[a] + 1;
    }
    return n;
}

static void describe(const cfg *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s N%lld G%lld Cg%lld Mg%lld in %lldx%lld k %lldx%lld s %lld,%lld d %lld,%lld p %lld,%lld,%lld,%lld "
             "op %lld,%lld%s", c->transpose ? "ConvTranspose" : "Conv", (long long)c->N, (long long)c->G,
             (long long)c->Cg, (long long)c->Mg, (long long)c->H, (long long)c->W, (long long)c->R, (long long)c->S,
             (long long)c->stride[0], (long long)c->stride[1], (long long)c->dil[0], (long long)c->dil[1],
             (long long)c->pads[0], (long long)c->pads[1], (long long)c->pads[2], (long long)c->pads[3],
             (long long)c->outpad[0], (long long)c->outpad[1], c->bias ? " bias" : "");
}

/* A random configuration whose output is not empty. */
static void random_cfg(cfg *c, bool transpose)
{
    for (;;) {
        memset(c, 0, sizeof *c);
        c->transpose = transpose;
        c->N = rnd_in(1, 3);
        c->G = rnd_in(0, 3) == 0 ? rnd_in(2, 3) : 1;
        c->Cg = rnd_in(1, 5);
        c->Mg = rnd_in(1, 6);
        c->H = rnd_in(1, 11);
        c->W = rnd_in(1, 13);
        c->R = rnd_in(1, 4);
        c->S = rnd_in(1, 4);
        for (int a = 0; a < 2; a++) {
            c->stride[a] = rnd_in(1, 3);
            c->dil[a] = rnd_in(1, 2);
            c->pads[a] = rnd_in(0, 2);
            c->pads[2 + a] = rnd_in(0, 2);
            c->outpad[a] = transpose ? rnd_in(0, (c->stride[a] > c->dil[a] ? c->stride[a] : c->dil[a]) - 1) : 0;
        }
        c->bias = rnd_in(0, 1);
        bool ok = true;
        for (int a = 0; a < 2; a++) {
            int64_t in = a ? c->W : c->H, k = a ? c->S : c->R, eff = (k - 1) * c->dil[a] + 1;
            if (transpose)
                ok = ok && c->stride[a] * (in - 1) + c->outpad[a] + eff - c->pads[a] - c->pads[2 + a] >= 1;
            else
                ok = ok && in + c->pads[a] + c->pads[2 + a] >= eff;
        }
        if (ok)
            return;
    }
}

/* Graph: X, W (and B) inputs -> Conv / ConvTranspose -> y. */
static og_graph *cfg_graph(const cfg *c)
{
    og_graph *g = gt_graph();
    int64_t C = c->G * c->Cg, M = c->G * c->Mg;
    int64_t xd[4] = { c->N, C, c->H, c->W };
    int64_t wd[4] = { c->transpose ? C : M, c->transpose ? c->Mg : c->Cg, c->R, c->S };
    int64_t bd[1] = { M };
    int r = 4, ns = 2;
    int64_t pads1[2] = { c->pads[1], c->pads[3] };
    if (c->one_d) {
        xd[2] = xd[3];
        wd[2] = wd[3];
        r = 3;
        ns = 1;
    }
    gt_input(g, "X", OG_FLOAT, r, xd);
    gt_input(g, "W", OG_FLOAT, r, wd);
    if (c->bias)
        gt_input(g, "B", OG_FLOAT, 1, bd);
    og_attr at[5] = { og_attr_ints("strides", ns, c->stride + (c->one_d ? 1 : 0)),
                      og_attr_ints("dilations", ns, c->dil + (c->one_d ? 1 : 0)),
                      og_attr_ints("pads", 2 * ns, c->one_d ? pads1 : c->pads), og_attr_int("group", c->G),
                      og_attr_ints("output_padding", ns, c->outpad + (c->one_d ? 1 : 0)) };
    const char *ins[4] = { "X", "W", c->bias ? "B" : NULL, NULL };
    gt_node(g, c->transpose ? "ConvTranspose" : "Conv", "conv", ins, GT_NAMES("y"), c->transpose ? 5 : 4, at);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static void cfg_feeds(const cfg *c, og_graph *g, og_tensor **feeds, int *n)
{
    (void)g;
    int64_t C = c->G * c->Cg, M = c->G * c->Mg;
    int64_t xd[4] = { c->N, C, c->H, c->W };
    int64_t wd[4] = { c->transpose ? C : M, c->transpose ? c->Mg : c->Cg, c->R, c->S };
    int64_t bd[1] = { M };
    int r = 4;
    if (c->one_d) {
        xd[2] = xd[3];
        wd[2] = wd[3];
        r = 3;
    }
    *n = 0;
    feeds[(*n)++] = rand_tensor(r, xd);
    feeds[(*n)++] = rand_tensor(r, wd);
    if (c->bias)
        feeds[(*n)++] = rand_tensor(1, bd);
}

/* Forward of one configuration: fast at 1 and 2 threads, same bits, close
 * to float64; returns the kernel name that ran. */
static const char *check_forward(const cfg *c)
{
    char what[300];
    describe(c, what, sizeof what);
    og_graph *g = cfg_graph(c);
    og_tensor *feeds[4], *y1, *y2, *yr;
    int nf;
    cfg_feeds(c, g, feeds, &nf);
    hits h;
    mini_run(g, nf, feeds, 1, &y1, &h);
    ck_assert_msg(h.n == 1, "%s: no fast kernel selected", what);
    const char *name = h.name[0];
    mini_run(g, nf, feeds, 2, &y2, NULL);
    ref_run(g, nf, feeds, &yr);
    int64_t K = c->Cg * c->R * c->S;
    expect_close(y1, yr, 2e-7 * (double)(K + 4), what);
    expect_same_bits(y1, y2, what);
    for (int t = 1; t <= 3; t++) {
        og_tensor *yp;
        plan_run(g, nf, feeds, t, &yp);
        expect_same_bits(y1, yp, what);
        og_tensor_free(yp);
    }
    og_tensor_free(y1);
    og_tensor_free(y2);
    og_tensor_free(yr);
    for (int k = 0; k < nf; k++)
        og_tensor_free(feeds[k]);
    og_graph_free(g);
    return name;
}

START_TEST(conv_forward_random)
{
    rng_state = 12345;
    for (int it = 0; it < 150; it++) {
        cfg c;
        random_cfg(&c, false);
        check_forward(&c);
    }
}
END_TEST

START_TEST(convt_forward_random)
{
    rng_state = 777;
    for (int it = 0; it < 150; it++) {
        cfg c;
        random_cfg(&c, true);
        check_forward(&c);
    }
}
END_TEST

static void check_gradient(const cfg *c);

/* The portable paths (OG_ISA=scalar; Check runs each test in its own
 * process, so the choice made here holds for this test only). */
START_TEST(conv_forward_scalar)
{
    setenv("OG_ISA", "scalar", 1);
    rng_state = 31337;
    for (int it = 0; it < 60; it++) {
        cfg c;
        random_cfg(&c, it % 2);
        if (it % 3 == 0) {   /* depthwise */
            c.Cg = 1;
            c.G = rnd_in(1, 4);
        }
        check_forward(&c);
        if (it % 4 == 0) {
            random_cfg(&c, false);
            if (it % 8 == 0)
                c.Cg = 1;
            check_gradient(&c);
        }
    }
}
END_TEST

/* The direct kernels (one input channel per output channel, or one output
 * channel over a few inputs; ConvTranspose of stride 1 runs them with the
 * kernel flipped): planes wide enough for several vectors per row with a
 * tail shorter than a vector, odd kernels, pads, dilations, vertical
 * strides, and some horizontal stride 2 (the other plane kernel). Each is
 * checked against float64 and bit-identical at 1, 2 and 3 threads. */
static void random_direct_cfg(cfg *c, bool transpose, int it)
{
    for (;;) {
        random_cfg(c, transpose);
        c->Cg = 1;
        c->G = rnd_in(1, 5);
        c->Mg = rnd_in(1, 2);
        if (!transpose && it % 5 == 4) {   /* one output channel per group over a few inputs */
            c->Cg = rnd_in(2, 3);
            c->Mg = 1;
        }
        c->H = rnd_in(1, 20);
        c->W = it % 7 == 6 ? rnd_in(500, 540) : rnd_in(1, 75);   /* past the mask table: the fallback */
        c->R = rnd_in(1, 5);
        c->S = rnd_in(1, 5);
        c->stride[1] = it % 4 == 3 ? 2 : 1;
        if (it % 4 == 1) {   /* 3x3, stride 1, no dilation: the shifted-row kernels */
            c->R = c->S = 3;
            c->stride[0] = c->stride[1] = c->dil[0] = c->dil[1] = 1;
            c->H = rnd_in(1, 20);
        }
        if (transpose)
            c->stride[0] = c->stride[1] = 1, c->outpad[0] = c->outpad[1] = 0;
        bool ok = true;
        for (int a = 0; a < 2; a++) {
            int64_t in = a ? c->W : c->H, k = a ? c->S : c->R, eff = (k - 1) * c->dil[a] + 1;
            if (transpose)
                ok = ok && c->stride[a] * (in - 1) + c->outpad[a] + eff - c->pads[a] - c->pads[2 + a] >= 1;
            else
                ok = ok && in + c->pads[a] + c->pads[2 + a] >= eff;
        }
        if (ok)
            return;
    }
}

static void direct_kernels_random(uint64_t seed, int iters)
{
    rng_state = seed;
    for (int it = 0; it < iters; it++) {
        cfg c;
        random_direct_cfg(&c, it % 3 == 2, it);
        const char *name = check_forward(&c);
        char what[300];
        describe(&c, what, sizeof what);
        bool ok = c.transpose ? strcmp(name, "convt_s1_direct") == 0
                              : strcmp(name, "conv_depthwise") == 0 || strcmp(name, "conv_direct_c1") == 0 ||
                                    strcmp(name, "conv_direct_m1") == 0;
        ck_assert_msg(ok, "%s: ran %s, not a direct kernel", what, name);
        if (!c.transpose && it % 4 == 0)   /* the direct dW kernels (3x3 and smaller: all taps at once) */
            check_gradient(&c);
    }
}

START_TEST(conv_direct_random)
{
    direct_kernels_random(8080, 120);
}
END_TEST

/* The same on the AVX2 and the portable plane kernels (OG_ISA is read once
 * per process; Check forks one per test). */
START_TEST(conv_direct_avx2)
{
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return;
    setenv("OG_ISA", "avx2", 1);
    ck_assert_int_eq(og_isa_active(), OG_ISA_AVX2);
    direct_kernels_random(9090, 120);
}
END_TEST

START_TEST(conv_direct_scalar)
{
    setenv("OG_ISA", "scalar", 1);
    ck_assert_int_eq(og_isa_active(), OG_ISA_SCALAR);
    direct_kernels_random(7070, 60);
}
END_TEST

/* The implicit GEMM at horizontal stride 1 packs B with masked vector
 * loads straight from X's rows (AVX-512 and AVX2): rows wider than a
 * vector or a panel with a tail, pads up to 3 (wider than the kernel's
 * reach on one side), dilations, several images per panel (small planes),
 * vertical strides; each checked against float64 and bit-identical at 1, 2
 * and 3 threads, forward and ConvTranspose (its stride 1 runs the same). */
static void igemm_wide_random(uint64_t seed, int iters)
{
    rng_state = seed;
    for (int it = 0; it < iters; it++) {
        cfg c;
        bool transpose = it % 3 == 2;
        for (;;) {
            random_cfg(&c, transpose);
            c.Cg = rnd_in(2, 6);
            c.Mg = rnd_in(2, 3);   /* 4 or more on wide rows: conv_direct.c's kernel */
            c.G = it % 5 == 4 ? 2 : 1;
            c.H = rnd_in(1, 9);
            c.W = it % 4 == 0 ? rnd_in(1, 8) : rnd_in(14, 70);
            c.stride[1] = 1;
            c.dil[1] = rnd_in(1, 3);
            c.pads[1] = rnd_in(0, 3);
            c.pads[3] = rnd_in(0, 3);
            if (transpose)
                c.stride[0] = 1, c.outpad[0] = c.outpad[1] = 0;
            bool ok = true;
            for (int a = 0; a < 2; a++) {
                int64_t in = a ? c.W : c.H, k = a ? c.S : c.R, eff = (k - 1) * c.dil[a] + 1;
                if (transpose)
                    ok = ok && c.stride[a] * (in - 1) + c.outpad[a] + eff - c.pads[a] - c.pads[2 + a] >= 1 &&
                         c.pads[a] <= eff - 1 && c.pads[2 + a] <= eff - 1;
                else
                    ok = ok && in + c.pads[a] + c.pads[2 + a] >= eff;
            }
            if (ok)
                break;
        }
        const char *name = check_forward(&c);
        char what[300];
        describe(&c, what, sizeof what);
        ck_assert_msg(strstr(name, "igemm") || strstr(name, "pointwise") || (transpose && strstr(name, "convt")),
                      "%s: ran %s, not the implicit GEMM", what,
                      name);
    }
}

START_TEST(conv_igemm_wide)
{
    igemm_wide_random(4242, 120);
}
END_TEST

START_TEST(conv_igemm_wide_avx2)
{
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return;
    setenv("OG_ISA", "avx2", 1);
    ck_assert_int_eq(og_isa_active(), OG_ISA_AVX2);
    igemm_wide_random(4343, 90);
}
END_TEST

START_TEST(conv_igemm_wide_scalar)
{
    setenv("OG_ISA", "scalar", 1);
    ck_assert_int_eq(og_isa_active(), OG_ISA_SCALAR);
    igemm_wide_random(4444, 40);
}
END_TEST

/* conv_direct.c's kernel on padded rows (strides up to 4, rows of 16 or more
 * outputs, 8 or more output channels per group): odd channel counts
 * (partial blocks of 8), asymmetric pads up to 3 (wider than the kernel's
 * reach: whole padded rows), dilations, groups, several images, rows from
 * one output row to many; Conv and ConvTranspose (its stride 1 runs the same
 * with the kernel flipped), each against float64 and bit-identical at 1, 2
 * and 3 threads. Where the geometry does not qualify the other kernels run. */
static void rows_random(uint64_t seed, int iters)
{
    rng_state = seed;
    int hits_rows = 0;
    for (int it = 0; it < iters; it++) {
        cfg c;
        bool transpose = it % 3 == 2;
        int64_t Q = 0;
        for (;;) {
            random_cfg(&c, transpose);
            c.Cg = it % 7 == 3 ? 1 : it % 4 == 1 ? rnd_in(25, 60) : rnd_in(2, 19);
            c.Mg = rnd_in(4, 27);
            c.G = it % 5 == 4 ? 2 : 1;
            c.H = it % 6 == 0 ? rnd_in(1, 3) : rnd_in(4, 14);
            c.W = it % 2 ? rnd_in(8, 30) : rnd_in(22, 90);
            c.R = rnd_in(1, 5);
            c.S = rnd_in(1, 5);
            /* forward: strides too (the rows then hold X's stride phases) */
            c.stride[0] = transpose || it % 3 ? 1 : rnd_in(1, 3);
            c.stride[1] = transpose || it % 3 ? 1 : rnd_in(1, 3);
            if (c.stride[1] > 1)
                c.W = rnd_in(50, 180);
            c.dil[0] = rnd_in(1, 3);
            c.dil[1] = rnd_in(1, 3);
            for (int a = 0; a < 4; a++)
                c.pads[a] = rnd_in(0, 3);
            c.outpad[0] = c.outpad[1] = 0;
            bool ok = true;
            for (int a = 0; a < 2; a++) {
                int64_t in = a ? c.W : c.H, k = a ? c.S : c.R, eff = (k - 1) * c.dil[a] + 1;
                int64_t out = transpose ? in - 1 + eff - c.pads[a] - c.pads[2 + a]
                                        : (in + c.pads[a] + c.pads[2 + a] - eff) / c.stride[a] + 1;
                ok = ok && (transpose || in + c.pads[a] + c.pads[2 + a] >= eff);
                ok = ok && out >= 1;
                if (a)
                    Q = out;
            }
            if (ok)
                break;
        }
        const char *name = check_forward(&c);
        char what[300];
        describe(&c, what, sizeof what);
        /* the row width: Q plus the spread of the taps' shifts in stride-phase columns */
        int64_t lo = 0, hi = 0, pw = transpose ? (c.S - 1) * c.dil[1] - c.pads[1] : c.pads[1];
        for (int64_t q = 0; q < c.S; q++) {
            int64_t o = q * c.dil[1] - pw, ph = ((o % c.stride[1]) + c.stride[1]) % c.stride[1], b = (o - ph) / c.stride[1];
            lo = q == 0 || b < lo ? b : lo;
            hi = q == 0 || b > hi ? b : hi;
        }
        int64_t Wp = Q + hi - lo, K = c.Cg * c.R * c.S;
        bool strict = Q >= 16 && Wp * 8 <= Q * 9 && c.Mg >= 8 && K >= 32 && c.Cg >= 2;
        bool relaxed = (!transpose || c.Cg <= 2 * c.Mg || c.Cg <= 24) && Q >= 8 && Wp * 2 <= Q * 3 && K >= 16 && c.Mg * K * 4 <= (1 << 20);
        /* one input channel of one group: Conv tries the rows before the direct
         * kernel, ConvTranspose only with 8 or more outputs (else the direct one) */
        bool one = c.Cg == 1 && (c.G > 1 || (transpose && c.Mg < 8));
        bool want = og_isa_active() != OG_ISA_SCALAR && c.Mg >= 4 && c.R * c.S > 1 && !one && (strict || relaxed);
        if (want)
            ck_assert_msg(strcmp(name, transpose ? "convt_s1_rows" : "conv_rows") == 0, "%s: ran %s, not the rows kernel",
                          what, name);
        else
            ck_assert_msg(!strstr(name, "rows"), "%s: ran %s outside its geometry", what, name);
        hits_rows += want;
        if (!transpose && it % 8 == 0)
            check_gradient(&c);
    }
    if (og_isa_active() != OG_ISA_SCALAR)
        ck_assert_msg(hits_rows >= iters / 3, "the rows kernel ran in only %d of %d cases", hits_rows, iters);
}

START_TEST(conv_rows_random)
{
    rows_random(5151, 90);
}
END_TEST

/* The AVX2 micro-kernel (two halves of 4 x 24), and with OG_ISA=scalar
 * the other kernels take these shapes. */
START_TEST(conv_rows_avx2)
{
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return;
    setenv("OG_ISA", "avx2", 1);
    ck_assert_int_eq(og_isa_active(), OG_ISA_AVX2);
    rows_random(5252, 60);
}
END_TEST

START_TEST(conv_rows_scalar)
{
    setenv("OG_ISA", "scalar", 1);
    rows_random(5353, 12);
}
END_TEST

/* F(2x2, 3x3) (conv_winograd.c): 3x3 stride-1 convolutions of one group
 * with 32 or more channels each way, Conv and ConvTranspose (the kernel
 * flipped), odd and even output sizes, asymmetric pads, images from 1 to
 * 5 so tile blocks cross images; against float64 and bit-identical at 1,
 * 2 and 3 threads (check_forward). */
static void winograd_random(uint64_t seed, int iters)
{
    rng_state = seed;
    int hits_wg = 0;
    for (int it = 0; it < iters; it++) {
        bool transpose = it % 3 == 1;
        cfg c = { .transpose = transpose, .N = rnd_in(1, 5), .G = 1, .Cg = rnd_in(32, 70), .Mg = rnd_in(32, 75),
                  .H = rnd_in(2, 24), .W = rnd_in(2, 30), .R = 3, .S = 3, .stride = { 1, 1 }, .dil = { 1, 1 },
                  .bias = it % 2 == 0 };
        for (int a = 0; a < 4; a++)
            c.pads[a] = rnd_in(0, 2);
        if (it % 4 == 2)   /* enough channels for the weight gradient's F(3x3, 2x2) */
            c.Cg = rnd_in(128, 150);
        if (it % 4 == 3) {   /* a wide plane: many tile blocks (dW: several chunks) */
            c.N = rnd_in(1, 2);
            if (it % 8 == 7)
                c.Cg = rnd_in(128, 140);
            c.H = rnd_in(30, 40);
            c.W = rnd_in(30, 60);
        }
        /* outputs at least 2 x 2 (the kernel's lower bound) */
        int64_t P = transpose ? c.H + 2 - c.pads[0] - c.pads[2] : c.H + c.pads[0] + c.pads[2] - 2;
        int64_t Q = transpose ? c.W + 2 - c.pads[1] - c.pads[3] : c.W + c.pads[1] + c.pads[3] - 2;
        if (P < 2 || Q < 2) {
            it--;
            continue;
        }
        char what[300];
        describe(&c, what, sizeof what);
        const char *name = check_forward(&c);
        /* at least 32 tiles of 2 x 2 outputs (WG_MIN_TILES) */
        bool enough = c.N * ((P + 1) / 2) * ((Q + 1) / 2) >= 32;
        const char *want = og_isa_active() == OG_ISA_SCALAR || !enough ? NULL
                           : transpose                            ? "convt_s1_winograd"
                                                                  : "conv_winograd";
        hits_wg += want != NULL;
        if (want)
            ck_assert_msg(strcmp(name, want) == 0, "%s: ran %s, not %s", what, name, want);
        else
            ck_assert_msg(!strstr(name, "winograd"), "%s: ran %s outside its rule", what, name);
        if (!transpose && (it % 2 == 0 || it % 8 == 7))
            check_gradient(&c);   /* dX and dW through the gradient graph, F(3x3, 2x2) for dW */
    }
    if (og_isa_active() != OG_ISA_SCALAR)
        ck_assert_msg(hits_wg >= iters / 3, "F(2x2, 3x3) ran in only %d of %d cases", hits_wg, iters);
}

START_TEST(conv_winograd_random)
{
    winograd_random(6161, 40);
    /* weights over one U block (16 x M x C floats > 8 MiB): blocks of
     * output channels, V shared by them; forward, dX and dW */
    rng_state = 6464;
    cfg big = { .N = 2, .G = 1, .Cg = 384, .Mg = 370, .H = 9, .W = 11, .R = 3, .S = 3, .stride = { 1, 1 },
                .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 }, .bias = true };
    bool vec = og_isa_active() != OG_ISA_SCALAR;
    ck_assert_str_eq(check_forward(&big), vec ? "conv_winograd" : "conv_igemm_batched");
    check_gradient(&big);
    big.transpose = true;
    ck_assert_str_eq(check_forward(&big), vec ? "convt_s1_winograd" : "convt_s1_igemm_batched");
}
END_TEST

START_TEST(conv_winograd_sse)
{
    /* the portable transforms: AVX2 GEMM, the generic vector code */
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return;
    setenv("OG_ISA", "avx2", 1);
    winograd_random(6262, 20);
}
END_TEST

START_TEST(conv_winograd_scalar)
{
    setenv("OG_ISA", "scalar", 1);
    winograd_random(6363, 6);
}
END_TEST

/* Rank 3 (1-D) runs the same kernels with a unit height. */
START_TEST(conv_forward_1d)
{
    rng_state = 2024;
    for (int it = 0; it < 80; it++) {
        cfg c;
        random_cfg(&c, it % 2);
        c.one_d = true;
        c.H = c.R = 1;
        c.stride[0] = c.dil[0] = 1;
        c.pads[0] = c.pads[2] = c.outpad[0] = 0;
        if (it % 5 == 0)
            c.Cg = 1;
        check_forward(&c);
    }
}
END_TEST

/* The special kernels are the ones chosen for their cases. */
START_TEST(conv_kernel_choice)
{
    rng_state = 99;
    cfg c = { .N = 2, .G = 1, .Cg = 4, .Mg = 5, .H = 20, .W = 13, .R = 1, .S = 1, .stride = { 1, 1 },
              .dil = { 1, 1 }, .bias = true };
    ck_assert_str_eq(check_forward(&c), "conv_pointwise");
    c = (cfg){ .N = 2, .G = 6, .Cg = 1, .Mg = 1, .H = 17, .W = 19, .R = 3, .S = 3, .stride = { 2, 1 },
               .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 }, .bias = true };
    ck_assert_str_eq(check_forward(&c), "conv_depthwise");
    c.transpose = true;
    c.stride[0] = 1;
    c.Mg = 1;
    ck_assert_str_eq(check_forward(&c), "convt_s1_direct");
    c = (cfg){ .N = 3, .G = 1, .Cg = 1, .Mg = 6, .H = 28, .W = 28, .R = 5, .S = 5, .stride = { 1, 1 },
               .dil = { 1, 1 }, .bias = true };
    /* one channel into several (LeNet-5 conv1): the padded rows, else the direct kernel */
    bool vec = og_isa_active() != OG_ISA_SCALAR;
    ck_assert_str_eq(check_forward(&c), vec ? "conv_rows" : "conv_direct_c1");
    c.Mg = 3;   /* fewer than the rows kernel's 4 */
    ck_assert_str_eq(check_forward(&c), "conv_direct_c1");
    c.Mg = 20;   /* one channel into many (Caffe LeNet conv1): rows, else the implicit GEMM */
    ck_assert_str_eq(check_forward(&c), vec ? "conv_rows" : "conv_igemm");
    c.W = c.H = 10;   /* rows too narrow: the implicit GEMM (small planes: across images) */
    ck_assert_str_eq(check_forward(&c), "conv_igemm_batched");
    c = (cfg){ .N = 1, .G = 1, .Cg = 7, .Mg = 9, .H = 40, .W = 37, .R = 3, .S = 3, .stride = { 1, 1 },
               .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 } };
    ck_assert_str_eq(check_forward(&c), og_isa_active() != OG_ISA_SCALAR ? "conv_rows" : "conv_igemm");
    /* weights over conv_rows' L2 share: tiles swept per block of channels */
    cfg big = { .N = 1, .G = 1, .Cg = 30, .Mg = 400, .H = 6, .W = 20, .R = 3, .S = 3, .stride = { 1, 1 },
                .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 }, .bias = true };
    ck_assert_str_eq(check_forward(&big), og_isa_active() != OG_ISA_SCALAR ? "conv_rows" : "conv_igemm");
    c.W = 6;   /* rows too narrow for conv_rows */
    ck_assert_str_eq(check_forward(&c), "conv_igemm");
    /* small planes batch pixels across images; bias and a tail block */
    cfg sm = { .N = 5, .G = 2, .Cg = 6, .Mg = 40, .H = 7, .W = 5, .R = 3, .S = 3, .stride = { 1, 1 },
               .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 }, .bias = true };
    ck_assert_str_eq(check_forward(&sm), "conv_igemm_batched");
    sm.transpose = true;
    ck_assert_str_eq(check_forward(&sm), "convt_s1_igemm_batched");
    sm = (cfg){ .N = 3, .G = 1, .Cg = 9, .Mg = 70, .H = 4, .W = 3, .R = 1, .S = 1, .stride = { 1, 1 },
                .dil = { 1, 1 } };
    ck_assert_str_eq(check_forward(&sm), "conv_igemm_batched");
    /* several channel blocks share one packing of B: two pixel blocks, two K blocks
     * (fewer than 32 input channels: not Winograd) */
    sm = (cfg){ .N = 8, .G = 1, .Cg = 30, .Mg = 64, .H = 6, .W = 6, .R = 3, .S = 3, .stride = { 1, 1 },
                .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 }, .bias = true };
    ck_assert_str_eq(check_forward(&sm), "conv_igemm_batched");
    sm.transpose = true;
    ck_assert_str_eq(check_forward(&sm), "convt_s1_igemm_batched");
    c.transpose = true;
    ck_assert_str_eq(check_forward(&c), "convt_s1_igemm");
    c.stride[0] = 2;
    ck_assert_str_eq(check_forward(&c), "convt_col");
    /* strided ConvTranspose of small planes: channel blocks over all images */
    cfg tb = { .transpose = true, .N = 5, .G = 2, .Cg = 7, .Mg = 11, .H = 3, .W = 5, .R = 3, .S = 3,
               .stride = { 2, 2 }, .dil = { 1, 1 }, .pads = { 1, 0, 1, 1 }, .outpad = { 1, 0 }, .bias = true };
    ck_assert_str_eq(check_forward(&tb), "convt_col_batched");
}
END_TEST

/* The gradient graph as the builder emits it: dX through ConvTranspose, dW
 * through the Transpose <- Conv <- Transposes pattern (group 1). */
static const char *want_dw_kernel;   /* set by the conv_grad_w_rows tests: the dW kernel that must run */

static void check_gradient(const cfg *c)
{
    char what[300];
    describe(c, what, sizeof what);
    og_graph *g = cfg_graph(c);
    const char *wrt[2] = { "X", "W" };
    const char *seeded[1] = { "y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 2, .wrt = wrt };
    og_graph *gg;
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    og_tensor *feeds[5], *o1[3], *o2[3], *orf[3];
    int nf;
    cfg_feeds(c, g, feeds, &nf);
    og_value_info vi;
    OG_CHECK(og_graph_value(g, "y", &vi));
    feeds[nf++] = rand_tensor(vi.rank, vi.dims);
    hits h;
    mini_run(gg, nf, feeds, 1, o1, &h);
    mini_run(gg, nf, feeds, 2, o2, NULL);
    ref_run(gg, nf, feeds, orf);
    /* dX's ConvTranspose has Mg input and Cg output channels per group */
    bool s1 = c->stride[0] == 1 && c->stride[1] == 1 &&
              (c->Mg == 1 || c->Cg == 1 || c->Mg <= 2 * c->Cg || (c->R == 1 && c->S == 1));
    bool rows = c->stride[0] == 1 && c->stride[1] == 1 && hit(&h, "convt_s1_rows");   /* conv_direct.c */
    /* F(2x2, 3x3) and its adjoint (conv_winograd.c): 3x3, stride 1, one
     * group, 32 or more channels each way, at least 32 tiles (dX: of X;
     * dW: 128 or more input channels and 128 tiles) */
    bool wg3 = og_isa_active() != OG_ISA_SCALAR && c->R == 3 && c->S == 3 && c->stride[0] == 1 &&
               c->stride[1] == 1 && c->dil[0] == 1 && c->dil[1] == 1 && c->G == 1 && c->Cg >= 32 && c->Mg >= 32;
    bool wg_dx = wg3 && c->H >= 2 && c->W >= 2 && c->N * ((c->H + 1) / 2) * ((c->W + 1) / 2) >= 32;
    bool wg_dw = wg3 && c->Cg >= 128 && vi.dims[2] >= 2 && vi.dims[3] >= 2 &&
                 c->N * ((vi.dims[2] + 1) / 2) * ((vi.dims[3] + 1) / 2) >= 128;
    ck_assert_msg(!wg_dx || hit(&h, "convt_s1_winograd"), "%s: dX did not run F(2x2, 3x3)", what);
    ck_assert_msg(!wg_dw || hit(&h, "conv_grad_w_winograd"), "%s: dW did not run F(3x3, 2x2)", what);
    rows = rows || wg_dx;
    /* a strided depthwise dX of at most 256 input pixels (dY's plane): lanes across channels */
    bool dws_t = c->Cg == 1 && c->Mg == 1 && vi.dims[2] * vi.dims[3] <= 256 && og_isa_active() != OG_ISA_SCALAR;
    if (dws_t && !(c->stride[0] == 1 && c->stride[1] == 1))
        ck_assert_msg(hit(&h, "convt_depthwise_lanes"), "%s: dX did not run convt_depthwise_lanes", what);
    ck_assert_msg(rows || (s1 ? hit(&h, c->Mg == 1 || c->Cg == 1 ? "convt_s1_direct" : "convt_s1_igemm") ||
                                    hit(&h, "convt_s1_igemm_batched")
                              : hit(&h, "convt_col") || hit(&h, "convt_col_batched") || dws_t),
                  "%s: dX did not run the fast ConvTranspose", what);
    bool pw = c->R == 1 && c->S == 1 && c->stride[0] == 1 && c->stride[1] == 1 && !c->pads[0] && !c->pads[1] &&
              !c->pads[2] && !c->pads[3];
    /* one input channel per group takes the direct kernel, but one channel into 8 or more the GEMM */
    bool direct = c->Cg == 1 && (c->G > 1 || c->Mg < 8);
    /* few dW columns, dY rows of a vector or more, 4 or more dY channels per group: by pixel reduction (AVX-512) */
    bool pixred = !direct && !pw && og_isa_active() == OG_ISA_AVX512 && dw_cols(c) <= 96 &&
                  vi.dims[3] >= 16 && c->Mg >= 4 && c->stride[0] <= 4 && c->stride[1] <= 4;
    /* the rest by padded rows where they fit (vector ISAs; conv_grad_w_rows_* check it is chosen), else the GEMM */
    /* depthwise (multiplier 1) planes of up to 1024 pixels: lanes across channels */
    bool dws_w = c->Cg == 1 && c->Mg == 1 && c->H * c->W <= 1024 && vi.dims[2] * vi.dims[3] <= 1024 &&
                 og_isa_active() != OG_ISA_SCALAR;
    if (dws_w)
        ck_assert_msg(hit(&h, "conv_grad_w_depthwise_lanes"), "%s: dW did not run conv_grad_w_depthwise_lanes", what);
    ck_assert_msg(dws_w || hit(&h, direct ? "conv_grad_w_direct" : pw ? "conv_grad_w_pointwise" : pixred ? "conv_grad_w_pixred"
                                                                                               : "conv_grad_w_igemm") ||
                      (!direct && !pw && !pixred && hit(&h, "conv_grad_w_rows")) || wg_dw,
                  "%s: dW did not run the fused pattern", what);
    if (want_dw_kernel)
        ck_assert_msg(hit(&h, want_dw_kernel), "%s: dW did not run %s", what, want_dw_kernel);
    int64_t P = vi.dims[2] * vi.dims[3];
    expect_close(o1[0], orf[0], 2e-7 * (double)(c->Cg * c->R * c->S + 4), what);
    expect_close(o1[1], orf[1], 2e-7 * (double)(c->Mg * c->R * c->S + 4), what);
    expect_close(o1[2], orf[2], 2e-7 * (double)(c->N * P + 4), what);
    for (int t = 1; t <= 3; t++) {
        og_tensor *op[3];
        plan_run(gg, nf, feeds, t, op);
        for (int k = 0; k < 3; k++) {
            expect_same_bits(o1[k], op[k], what);
            og_tensor_free(op[k]);
        }
    }
    for (int k = 0; k < 3; k++) {
        expect_same_bits(o1[k], o2[k], what);
        og_tensor_free(o1[k]);
        og_tensor_free(o2[k]);
        og_tensor_free(orf[k]);
    }
    for (int k = 0; k < nf; k++)
        og_tensor_free(feeds[k]);
    og_graph_free(gg);
    og_graph_free(g);
}

START_TEST(conv_gradient_random)
{
    rng_state = 4242;
    for (int it = 0; it < 80; it++) {
        cfg c;
        random_cfg(&c, false);
        check_gradient(&c);
    }
    /* batch 1, C = 1 and a larger plane with a crop (pad_end < remainder) */
    cfg c = { .N = 1, .G = 1, .Cg = 1, .Mg = 3, .H = 20, .W = 21, .R = 5, .S = 4, .stride = { 3, 2 },
              .dil = { 1, 2 }, .pads = { 2, 0, 0, 1 }, .bias = true };
    check_gradient(&c);
    c.Mg = 20;   /* one channel into many: dW through the GEMM */
    check_gradient(&c);
    /* pointwise, with groups */
    c = (cfg){ .N = 3, .G = 2, .Cg = 5, .Mg = 7, .H = 9, .W = 11, .R = 1, .S = 1, .stride = { 1, 1 },
               .dil = { 1, 1 } };
    check_gradient(&c);
    /* depthwise with a channel multiplier, stride 2 */
    c = (cfg){ .N = 3, .G = 5, .Cg = 1, .Mg = 2, .H = 19, .W = 37, .R = 3, .S = 3, .stride = { 2, 2 },
               .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 } };
    check_gradient(&c);
    c = (cfg){ .N = 4, .G = 1, .Cg = 8, .Mg = 40, .H = 30, .W = 30, .R = 3, .S = 3, .stride = { 1, 1 },
               .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 } };
    check_gradient(&c);
}
END_TEST

/* dW by pixel reduction: few columns (C*R*S <= 192), dY rows of 16 or
 * more, odd sizes (row tails shorter than a vector, dW rows not a multiple
 * of the 4-row tile, columns not of the 6-column one), strides 1..3 (the
 * phase planes), dilations, pads, groups, and batches spanning several
 * image groups. Other ISAs take the GEMM there (checked by check_gradient). */
START_TEST(conv_grad_w_pixred)
{
    rng_state = 6060;
    for (int it = 0; it < 40; it++) {
        cfg c;
        for (;;) {
            random_cfg(&c, false);
            c.N = rnd_in(1, 3);
            c.G = rnd_in(0, 3) == 0 ? 2 : 1;
            c.Cg = rnd_in(1, 3);
            c.Mg = rnd_in(4, 21);
            c.R = rnd_in(1, 7);
            c.S = rnd_in(2, 7);
            c.stride[0] = rnd_in(1, 3);
            c.stride[1] = rnd_in(1, 2);
            c.pads[0] = rnd_in(0, 3), c.pads[1] = rnd_in(0, 3), c.pads[2] = rnd_in(0, 3), c.pads[3] = rnd_in(0, 3);
            c.H = rnd_in(c.R, 30);
            c.W = rnd_in(17 * c.stride[1] + (c.S - 1) * c.dil[1], 90);
            int64_t Q = (c.W + c.pads[1] + c.pads[3] - (c.S - 1) * c.dil[1] - 1) / c.stride[1] + 1;
            int64_t P = (c.H + c.pads[0] + c.pads[2] - (c.R - 1) * c.dil[0] - 1) / c.stride[0] + 1;
            if (Q >= 16 && P >= 1 && dw_cols(&c) <= 96)
                break;
        }
        check_gradient(&c);
    }
    /* ResNet-18's first layer, scaled down: 7x7 stride 2 pad 3, 3 channels (147 columns: the GEMM in image parts) */
    cfg c = { .N = 2, .G = 1, .Cg = 3, .Mg = 9, .H = 41, .W = 45, .R = 7, .S = 7, .stride = { 2, 2 },
              .dil = { 1, 1 }, .pads = { 3, 3, 3, 3 } };
    check_gradient(&c);
    /* phase planes of ~0.8 MB per image: the batch of 6 runs as image groups of 5 and 1 */
    c = (cfg){ .N = 6, .G = 1, .Cg = 3, .Mg = 4, .H = 200, .W = 300, .R = 7, .S = 7, .stride = { 1, 1 },
               .dil = { 1, 1 }, .pads = { 3, 3, 3, 3 } };
    check_gradient(&c);
}
END_TEST

/* One plan, two host threads each with its own run state and its own
 * weights, at once: each gets exactly what a lone run gives (the kernels
 * keep per-run data, such as ConvTranspose's flipped weights, in the run's
 * scratch, never in the plan). */
typedef struct conc_arg {
    const og_plan *p;
    og_tensor *feeds[3];
    og_tensor *want[2];
    bool ok;
} conc_arg;

static void *conc_thread(void *v)
{
    conc_arg *a = v;
    og_run_state *rs;
    a->ok = og_run_state_create(a->p, &rs) == OG_OK;
    for (int r = 0; a->ok && r < 20; r++) {
        const og_tensor *out[3];
        a->ok = og_run_state_run(rs, 3, (const og_tensor *const *)a->feeds, out) == OG_OK;
        for (int k = 0; a->ok && k < 2; k++)
            a->ok = memcmp(out[k + 1]->data, a->want[k]->data, sizeof(float) * (size_t)a->want[k]->numel) == 0;
    }
    og_run_state_free(rs);
    return NULL;
}

START_TEST(conv_concurrent_runs)
{
    rng_state = 555;
    cfg c = { .N = 2, .G = 1, .Cg = 12, .Mg = 24, .H = 15, .W = 17, .R = 3, .S = 3, .stride = { 1, 1 },
              .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 } };
    og_graph *g = cfg_graph(&c);
    const char *wrt[2] = { "X", "W" }, *seeded[1] = { "y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 2, .wrt = wrt };
    og_graph *gg;
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    og_plan *p;
    og_plan_options po = { .n_threads = 2 };
    OG_CHECK(og_plan_create_ex(gg, &po, &p));
    conc_arg a[2];
    og_value_info vi;
    OG_CHECK(og_graph_value(g, "y", &vi));
    for (int t = 0; t < 2; t++) {
        int nf;
        cfg_feeds(&c, g, a[t].feeds, &nf);
        a[t].feeds[2] = rand_tensor(vi.rank, vi.dims);
        a[t].p = p;
        og_tensor *outs[3];
        OG_CHECK(og_plan_run(p, 3, (const og_tensor *const *)a[t].feeds, outs));
        og_tensor_free(outs[0]);
        a[t].want[0] = outs[1];
        a[t].want[1] = outs[2];
    }
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, conc_thread, &a[t]), 0);
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        ck_assert_msg(a[t].ok, "thread %d: a concurrent run differs from the lone run", t);
    }
    for (int t = 0; t < 2; t++) {
        for (int k = 0; k < 3; k++)
            og_tensor_free(a[t].feeds[k]);
        og_tensor_free(a[t].want[0]);
        og_tensor_free(a[t].want[1]);
    }
    og_plan_free(p);
    og_graph_free(gg);
    og_graph_free(g);
}
END_TEST


/* ---- conv_grad_w_rows (ops/conv_grad_w_rows.c) -------------------------- */

/* A random stride-1 Conv whose dW the padded-row kernel takes: pads 0..3
 * on each side, dilations 1..3, widths 1..70 (rows with tails shorter than
 * a vector, and junk columns), groups 1 and 2, 1..3 images, odd channel
 * counts; not the shapes the other dW kernels own (Cg == 1 direct, 1x1,
 * the AVX-512 pixel reduction: few columns and 4+ dY channels). */
static void rows_cfg(cfg *c, bool avx512)
{
    for (;;) {
        memset(c, 0, sizeof *c);
        c->N = rnd_in(1, 3);
        c->G = rnd_in(0, 2) == 0 ? 2 : 1;
        c->Cg = 2 * rnd_in(1, 6) - 1 + (rnd_in(0, 3) == 0);   /* mostly odd, >= 1 */
        c->Mg = 2 * rnd_in(1, 5) + 1;   /* 3..11 (dX of Mg 1 with many channels: not check_gradient's case) */
        c->H = rnd_in(1, 12);
        c->W = rnd_in(0, 2) == 0 ? rnd_in(1, 15) : rnd_in(16, 70);
        c->R = rnd_in(1, 4);
        c->S = rnd_in(1, 4);
        c->stride[0] = c->stride[1] = 1;
        for (int a = 0; a < 2; a++) {
            c->dil[a] = rnd_in(1, 3);
            c->pads[a] = rnd_in(0, 3);
            c->pads[2 + a] = rnd_in(0, 3);
        }
        int64_t P = c->H + c->pads[0] + c->pads[2] - (c->R - 1) * c->dil[0];
        int64_t Q = c->W + c->pads[1] + c->pads[3] - (c->S - 1) * c->dil[1];
        if (P < 1 || Q < 1)
            continue;
        int64_t Wq = Q + (c->S - 1) * c->dil[1];
        bool direct = c->Cg == 1 && (c->G > 1 || c->Mg < 8);
        bool pw = c->R == 1 && c->S == 1 && !c->pads[0] && !c->pads[1] && !c->pads[2] && !c->pads[3];
        bool pixred = avx512 && dw_cols(c) <= 96 && Q >= 16 && c->Mg >= 4;
        bool junk_ok = !(Wq * 2 > Q * 3 && Q < 16);   /* og_gwr_plan_make: junk at most half again */
        if (!direct && !pw && !pixred && junk_ok)
            return;
    }
}

static void gwr_random(uint64_t seed, int iters, bool avx512)
{
    rng_state = seed;
    /* OG_ISA=scalar (CI's scalar pass): the GEMM keeps these shapes */
    want_dw_kernel = og_isa_active() == OG_ISA_SCALAR ? "conv_grad_w_igemm" : "conv_grad_w_rows";
    for (int it = 0; it < iters; it++) {
        cfg c;
        rows_cfg(&c, avx512);
        check_gradient(&c);
    }
    /* a plane of more than one block of l (66 x 72 > 4096 floats), two
     * images (3 dY channels: not the pixel reduction's) */
    cfg c = { .N = 2, .G = 1, .Cg = 5, .Mg = 3, .H = 66, .W = 70, .R = 3, .S = 3, .stride = { 1, 1 },
              .dil = { 1, 1 }, .pads = { 1, 1, 1, 1 } };
    check_gradient(&c);
    /* many small images swept together, groups */
    c = (cfg){ .N = 9, .G = 2, .Cg = 7, .Mg = 5, .H = 6, .W = 7, .R = 3, .S = 3, .stride = { 1, 1 },
               .dil = { 1, 1 }, .pads = { 1, 0, 2, 1 } };
    check_gradient(&c);
    want_dw_kernel = NULL;
}

START_TEST(conv_grad_w_rows_random)
{
    gwr_random(1717, 70, og_isa_active() == OG_ISA_AVX512);
}
END_TEST

START_TEST(conv_grad_w_rows_avx2)
{
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return;
    setenv("OG_ISA", "avx2", 1);
    ck_assert_int_eq(og_isa_active(), OG_ISA_AVX2);
    gwr_random(1818, 50, false);
}
END_TEST

/* Without vectors the GEMM keeps these shapes (and still matches). */
START_TEST(conv_grad_w_rows_scalar)
{
    setenv("OG_ISA", "scalar", 1);
    ck_assert_int_eq(og_isa_active(), OG_ISA_SCALAR);
    rng_state = 1919;
    want_dw_kernel = "conv_grad_w_igemm";
    for (int it = 0; it < 15; it++) {
        cfg c;
        rows_cfg(&c, false);
        check_gradient(&c);
    }
    want_dw_kernel = NULL;
}
END_TEST

/* The kernel itself at strides 1..3 (select takes it at stride 1 only;
 * the phase planes are the general case): og_gwr_run against a float64
 * loop, the same bits at 1, 2 and 3 threads, every dW element written. */
static void rows_direct_one(int64_t N, int64_t G, int64_t Cg, int64_t Mg, int64_t H, int64_t W, int64_t R, int64_t S,
                            const int64_t st[2], const int64_t dl[2], const int64_t pb[2], const int64_t pe[2])
{
    int64_t P = (H + pb[0] + pe[0] - (R - 1) * dl[0] - 1) / st[0] + 1;
    int64_t Q = (W + pb[1] + pe[1] - (S - 1) * dl[1] - 1) / st[1] + 1;
    if (P < 1 || Q < 1)
        return;
    og_cf_geom g = { .N = Cg, .C = G * N, .M = G * Mg, .G = G, .Cg = N, .Mg = Mg, .H = H, .W = W, .R = P, .S = Q,
                     .P = R, .Q = S, .sh = dl[0], .sw = dl[1], .dh = st[0], .dw = st[1], .ph = pb[0], .pw = pb[1] };
    og_gwr_plan pl;
    size_t ws;
    if (!og_gwr_plan_make(&pl, &g, &ws))
        return;   /* junk columns past half: the plan refuses (counted by the caller) */
    int64_t nx = N * G * Cg * H * W, ny = N * G * Mg * P * Q, nw = G * Mg * Cg * R * S;
    float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
    for (int64_t i = 0; i < nx; i++)
        x[i] = rnd_f();
    for (int64_t i = 0; i < ny; i++)
        dy[i] = rnd_f();
    double *ref = calloc((size_t)nw, sizeof(double));
    for (int64_t n = 0; n < N; n++)
        for (int64_t gi = 0; gi < G; gi++)
            for (int64_t m = 0; m < Mg; m++)
                for (int64_t c = 0; c < Cg; c++)
                    for (int64_t r = 0; r < R; r++)
                        for (int64_t s = 0; s < S; s++) {
                            double acc = 0;
                            for (int64_t p = 0; p < P; p++)
                                for (int64_t q = 0; q < Q; q++) {
                                    int64_t ih = p * st[0] + r * dl[0] - pb[0], iw = q * st[1] + s * dl[1] - pb[1];
                                    if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                        acc += (double)dy[((n * G + gi) * Mg + m) * P * Q + p * Q + q] *
                                               x[((n * G + gi) * Cg + c) * H * W + ih * W + iw];
                                }
                            ref[(((gi * Mg + m) * Cg + c) * R + r) * S + s] += acc;
                        }
    size_t stride = (ws + 63) & ~(size_t)63;
    float *out[3];
    for (int t = 1; t <= 3; t++) {
        out[t - 1] = malloc(sizeof(float) * (size_t)nw);
        for (int64_t i = 0; i < nw; i++)
            out[t - 1][i] = NAN;
        void *wsp = aligned_alloc(64, stride * (size_t)t);
        memset(wsp, 0xff, stride * (size_t)t);   /* NaN: a read of scratch the kernel did not write shows */
        og_gwr_run(&pl, x, dy, out[t - 1], wsp, stride, t);
        free(wsp);
    }
    char what[200];
    snprintf(what, sizeof what, "gwr N%lld G%lld Cg%lld Mg%lld %lldx%lld k%lldx%lld s%lld,%lld d%lld,%lld p%lld,%lld,%lld,%lld",
             (long long)N, (long long)G, (long long)Cg, (long long)Mg, (long long)H, (long long)W, (long long)R,
             (long long)S, (long long)st[0], (long long)st[1], (long long)dl[0], (long long)dl[1], (long long)pb[0],
             (long long)pb[1], (long long)pe[0], (long long)pe[1]);
    double tol = 2e-7 * (double)(N * P * Q + 4);
    for (int64_t i = 0; i < nw; i++)
        ck_assert_msg(fabs(out[0][i] - ref[i]) <= tol * (1 + fabs(ref[i])), "%s: dW[%lld] = %.9g, expected %.9g", what,
                      (long long)i, out[0][i], ref[i]);
    for (int t = 1; t < 3; t++)
        ck_assert_msg(memcmp(out[0], out[t], sizeof(float) * (size_t)nw) == 0, "%s: 1 and %d threads differ", what,
                      t + 1);
    for (int t = 0; t < 3; t++)
        free(out[t]);
    free(ref);
    free(x);
    free(dy);
}

START_TEST(conv_grad_w_rows_strided)
{
    /* stride 1 with dilations, pads and odd sizes, called directly on
     * NaN-filled scratch */
    rng_state = 2121;
    for (int it = 0; it < 60; it++) {
        int64_t st[2] = { 1, 1 }, dl[2] = { rnd_in(1, 2), rnd_in(1, 2) };
        int64_t pb[2] = { rnd_in(0, 3), rnd_in(0, 3) }, pe[2] = { rnd_in(0, 3), rnd_in(0, 3) };
        rows_direct_one(rnd_in(1, 3), rnd_in(1, 2), rnd_in(1, 5), rnd_in(1, 9), rnd_in(1, 20), rnd_in(1, 70),
                        rnd_in(1, 4), rnd_in(1, 4), st, dl, pb, pe);
    }
    /* forward strides > 1 are refused (their path read scratch it had not
     * written: NaN in this test; the GEMM measured faster there anyway) */
    const int64_t s2[2] = { 2, 2 }, d1[2] = { 1, 1 }, p1[2] = { 1, 1 };
    og_cf_geom g = { .N = 6, .C = 2, .M = 10, .G = 1, .Cg = 2, .Mg = 10, .H = 30, .W = 34, .R = 15, .S = 17,
                     .P = 3, .Q = 3, .sh = d1[0], .sw = d1[1], .dh = s2[0], .dw = s2[1], .ph = p1[0], .pw = p1[1] };
    og_gwr_plan pl;
    size_t ws;
    ck_assert(!og_gwr_plan_make(&pl, &g, &ws));
    /* no images: dW is zero (and written) */
    const int64_t s1[2] = { 1, 1 };
    rows_direct_one(0, 2, 5, 7, 9, 20, 3, 3, s1, d1, p1, p1);
}
END_TEST
/* ---- end conv_grad_w_rows ----------------------------------------------- */

static Suite *suite(void)
{
    Suite *s = suite_create("conv_fast");
    TCase *t = tcase_create("kernels");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, conv_forward_random);
    tcase_add_test(t, convt_forward_random);
    tcase_add_test(t, conv_kernel_choice);
    tcase_add_test(t, conv_forward_scalar);
    tcase_add_test(t, conv_forward_1d);
    tcase_add_test(t, conv_igemm_wide);
    tcase_add_test(t, conv_igemm_wide_avx2);
    tcase_add_test(t, conv_igemm_wide_scalar);
    tcase_add_test(t, conv_rows_random);
    tcase_add_test(t, conv_rows_avx2);
    tcase_add_test(t, conv_rows_scalar);
    tcase_add_test(t, conv_winograd_random);
    tcase_add_test(t, conv_winograd_sse);
    tcase_add_test(t, conv_winograd_scalar);
    tcase_add_test(t, conv_direct_random);
    tcase_add_test(t, conv_grad_w_pixred);
    tcase_add_test(t, conv_direct_avx2);
    tcase_add_test(t, conv_direct_scalar);
    tcase_add_test(t, conv_concurrent_runs);
    tcase_add_test(t, conv_gradient_random);
    /* conv_grad_w_rows */
    tcase_add_test(t, conv_grad_w_rows_random);
    tcase_add_test(t, conv_grad_w_rows_avx2);
    tcase_add_test(t, conv_grad_w_rows_scalar);
    tcase_add_test(t, conv_grad_w_rows_strided);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return og_run_suite(suite()); }
