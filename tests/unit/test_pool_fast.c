/* SPDX-License-Identifier: MIT */
/* test_pool_fast.c — the fast float32 MaxPool kernels of ops/pool_fast.c
 * (forward with Indices, and the backward scatter of the maxpool_backward
 * pattern) against the references: the MaxPool op's own kernel (called
 * directly) and the sequential
 * scatter zeros + dY[q] at Indices[q], q ascending (ScatterElements "add").
 * Random shapes and attributes (kernel 1..4, strides 1..3, pads, dilations,
 * ceil_mode, odd sizes, rows shorter than a vector), values with many ties,
 * -0, +-Inf and NaN; every kernel at 1, 2 and 3 threads, AVX-512 and scalar
 * (forced through the geometry's simd flag), over garbage-filled outputs and
 * scratch; bit-identical everywhere. */
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

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }
static float rndf(void) { return (float)((double)(rng() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

/* mode 0: distinct-ish floats; 1: small integers (ties) with a few -0,
 * +-Inf, NaN; 2: all -inf; 3: many NaN */
static float value(int mode)
{
    if (mode == 0)
        return rndf();
    if (mode == 2)
        return -INFINITY;
    int nan_pct = mode == 3 ? 40 : 3, r = (int)rnd(0, 99);
    if (r < nan_pct)
        return NAN;
    if (r < nan_pct + 3)
        return INFINITY;
    if (r < nan_pct + 8)
        return -INFINITY;
    if (r < nan_pct + 12)
        return -0.0f;
    return (float)rnd(-2, 2);
}

typedef struct pcase {
    int64_t xd[4], k[2], s[2], d[2], pads[4], ceil_mode;
} pcase;

static void random_case(pcase *c, bool small)
{
    c->xd[0] = rnd(1, 2);
    c->xd[1] = rnd(1, 5);
    c->xd[2] = rnd(1, small ? 12 : 40);
    c->xd[3] = rnd(1, small ? 40 : 75);
    for (int a = 0; a < 2; a++) {
        c->k[a] = rnd(1, 4);
        c->s[a] = rnd(1, 3);
        c->d[a] = rng() % 4 == 0 ? 2 : 1;
        c->pads[a] = rnd(0, c->k[a] - 1);
        c->pads[2 + a] = rnd(0, c->k[a] - 1);
    }
    c->ceil_mode = rnd(0, 1);
}

/* One MaxPool node X -> (Y, I); dyn: batch dim unknown (reference kernel). */
static og_status pool_graph(const pcase *c, bool dyn, og_graph **out)
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
    OG_CHECK(og_graph_add_node(g, "MaxPool", NULL, "mp", 1, in, 2, outs, 5, at));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_add_output(g, "I"));
    og_status st = og_graph_finalize(g);
    if (st) {
        og_graph_free(g);
        return st;
    }
    *out = g;
    return OG_OK;
}

static void run_plan(const og_graph *g, int n_threads, int n_feeds, const og_tensor *const *feeds, og_tensor **outs)
{
    og_plan_options po = { .n_threads = n_threads };
    og_plan *p;
    OG_CHECK(og_plan_create_ex(g, &po, &p));
    OG_CHECK(og_plan_run(p, n_feeds, feeds, outs));
    og_plan_free(p);
}

static void same_bits(const void *a, const void *b, int64_t n, size_t es, const char *what, const pcase *c)
{
    if (memcmp(a, b, (size_t)n * es) == 0)
        return;
    for (int64_t i = 0; i < n; i++)
        if (memcmp((const char *)a + i * es, (const char *)b + i * es, es) != 0) {
            double va = es == 4 ? (double)((const float *)a)[i] : (double)((const int64_t *)a)[i];
            double vb = es == 4 ? (double)((const float *)b)[i] : (double)((const int64_t *)b)[i];
            ck_abort_msg("%s: element %lld differs (%g vs %g); X %lldx%lldx%lldx%lld k %lldx%lld s %lldx%lld "
                         "d %lldx%lld pads %lld,%lld,%lld,%lld ceil %lld", what, (long long)i, va, vb,
                         (long long)c->xd[0], (long long)c->xd[1], (long long)c->xd[2], (long long)c->xd[3],
                         (long long)c->k[0], (long long)c->k[1], (long long)c->s[0], (long long)c->s[1],
                         (long long)c->d[0], (long long)c->d[1], (long long)c->pads[0], (long long)c->pads[1],
                         (long long)c->pads[2], (long long)c->pads[3], (long long)c->ceil_mode);
        }
}

/* Garbage-filled per-worker scratch: the kernels must not rely on zeros. */
static og_tensor *garbage(og_dtype dt, int rank, const int64_t *dims)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    memset(t->data, 0xA5, (size_t)t->numel * og_dtype_size(dt));
    return t;
}

static void *scratch(size_t stride, int threads)
{
    size_t n = stride * (size_t)threads + 64;
    void *w = aligned_alloc(64, (n + 63) & ~(size_t)63);
    memset(w, 0x7F, n);
    return w;
}


/* Y and I of the MaxPool node of g through the op's reference kernel,
 * called directly (plans would pick the fast kernel, even for dynamic
 * shapes, which they specialise at run time). */
static void ref_forward(const og_graph *g, const og_tensor *x, og_tensor **y, og_tensor **ind)
{
    const og_node *n = NULL;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, "MaxPool") == 0)
            n = &g->nodes[i];
    ck_assert_ptr_nonnull(n);
    const og_value *yv = &g->values[n->outputs[0]];
    *y = garbage(OG_FLOAT, 4, og_value_dims(yv));
    *ind = garbage(OG_INT64, 4, og_value_dims(yv));
    og_kernel_call kc;
    memset(&kc, 0, sizeof kc);
    kc.node = n;
    kc.params = n->params;
    kc.opset = n->opset;
    kc.n_in = 1;
    kc.in[0] = x;
    kc.n_out = 2;
    kc.out[0] = *y;
    kc.out[1] = *ind;
    kc.n_threads = 1;
    OG_CHECK(n->op->run(&kc));
}

/* ---- forward ------------------------------------------------------------- */

/* The reference's Y and I, then the fast kernel called directly (AVX-512
 * when the CPU has it, and scalar) at 1..3 threads, and the compiled plan
 * (which selects it) at 1..3 threads. false: geometry the op refuses. */
static bool check_forward(const pcase *c, int mode)
{
    og_graph *gs, *gd;
    if (pool_graph(c, false, &gs) != OG_OK) {
        og_err_clear();
        return false;
    }
    OG_CHECK(pool_graph(c, true, &gd));
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, c->xd, &x));
    for (int64_t i = 0; i < x->numel; i++)
        ((float *)x->data)[i] = value(mode);
    og_tensor *ref[2] = { 0 };
    const og_tensor *feeds[1] = { x };
    ref_forward(gs, x, &ref[0], &ref[1]);
    const og_tensor *ry = ref[0], *ri = ref[1];

    og_pool2d g = { .planes = c->xd[0] * c->xd[1], .H = c->xd[2], .W = c->xd[3], .OH = ry->dims[2],
                    .OW = ry->dims[3], .kh = c->k[0], .kw = c->k[1], .sh = c->s[0], .sw = c->s[1], .dh = c->d[0],
                    .dw = c->d[1], .ph = c->pads[0], .pw = c->pads[1] };
    for (int simd = 0; simd < 2; simd++) {
        if (simd && og_isa_active() != OG_ISA_AVX512)
            continue;
        og_pool2d gg = g;
        ck_assert(og_pool2d_init(&gg, simd != 0));
        size_t ws = (og_pool2d_workspace(&gg) + 63) & ~(size_t)63;
        for (int threads = 1; threads <= 3; threads++) {
            void *w = scratch(ws, threads);
            for (int which = 0; which < 3; which++) {   /* Y and I, Y only, I only */
                og_tensor *fy = garbage(OG_FLOAT, 4, ry->dims), *fi = garbage(OG_INT64, 4, ry->dims);
                og_maxpool2d_f32(&gg, x->data, which != 2 ? fy->data : NULL, which != 1 ? fi->data : NULL, threads,
                                 w, ws);
                if (which != 2)
                    same_bits(ry->data, fy->data, ry->numel, 4, simd ? "Y (avx512)" : "Y (scalar)", c);
                if (which != 1)
                    same_bits(ri->data, fi->data, ri->numel, 8, simd ? "I (avx512)" : "I (scalar)", c);
                og_tensor_free(fy);
                og_tensor_free(fi);
            }
            free(w);
        }
    }
    for (int threads = 1; threads <= 3; threads++)
        for (int dyn = 0; dyn < 2; dyn++) {   /* static, and specialised at run time */
            og_tensor *fo[2] = { 0 };
            run_plan(dyn ? gd : gs, threads, 1, feeds, fo);
            same_bits(ry->data, fo[0]->data, ry->numel, 4, "Y (plan)", c);
            same_bits(ri->data, fo[1]->data, ri->numel, 8, "I (plan)", c);
            og_tensor_free(fo[0]);
            og_tensor_free(fo[1]);
        }
    og_tensor_free(ref[0]);
    og_tensor_free(ref[1]);
    og_tensor_free(x);
    og_graph_free(gd);
    og_graph_free(gs);
    return true;
}

START_TEST(forward_random)
{
    int done = 0;
    for (int it = 0; it < 400; it++) {
        pcase c;
        random_case(&c, it % 3 != 0);
        done += check_forward(&c, it % 4);
    }
    ck_assert_int_gt(done, 300);
}
END_TEST

START_TEST(forward_fixed)
{
    /* the benchmark's and ResNet's pool (3x3 s2 p1), LeNet's 2x2 s2, stride
     * 2 with even pads, rows shorter than a vector, a 1x1 input, windows
     * wholly in padding (ceil_mode), dilated stride 2, stride 1 */
    pcase cs[] = {
        { { 2, 3, 112, 112 }, { 3, 3 }, { 2, 2 }, { 1, 1 }, { 1, 1, 1, 1 }, 0 },
        { { 2, 3, 28, 28 }, { 2, 2 }, { 2, 2 }, { 1, 1 }, { 0, 0, 0, 0 }, 0 },
        { { 1, 4, 10, 10 }, { 2, 2 }, { 2, 2 }, { 1, 1 }, { 0, 0, 0, 0 }, 0 },
        { { 1, 2, 33, 67 }, { 3, 3 }, { 2, 2 }, { 1, 1 }, { 0, 2, 0, 2 }, 1 },
        { { 1, 2, 9, 5 }, { 3, 2 }, { 2, 2 }, { 1, 1 }, { 1, 1, 1, 1 }, 1 },
        { { 1, 1, 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 0, 0, 0, 0 }, 0 },
        { { 1, 1, 9, 9 }, { 2, 2 }, { 3, 3 }, { 1, 1 }, { 0, 0, 1, 1 }, 1 },
        { { 1, 2, 20, 70 }, { 3, 3 }, { 2, 2 }, { 2, 2 }, { 2, 2, 2, 2 }, 0 },
        { { 1, 2, 17, 50 }, { 4, 4 }, { 1, 1 }, { 1, 1 }, { 3, 3, 0, 0 }, 0 },
        { { 1, 1, 6, 100 }, { 1, 4 }, { 1, 3 }, { 1, 1 }, { 0, 3, 0, 3 }, 1 },
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        for (int mode = 0; mode < 4; mode++)
            ck_assert_msg(check_forward(&cs[i], mode), "case %zu refused", i);
}
END_TEST

/* ---- backward ------------------------------------------------------------ */

/* zeros + u[q] at ind[q], q ascending: ScatterElements "add" into zeros. */
static void ref_scatter(int64_t nx, int64_t ny, const int64_t *ind, const float *u, float *dx)
{
    for (int64_t i = 0; i < nx; i++)
        dx[i] = 0.0f;
    for (int64_t q = 0; q < ny; q++)
        dx[ind[q]] += u[q];
}

/* The kernel on given indices at 1..3 threads, AVX-512 and scalar, with
 * and without scratch, against ref_scatter. */
static void check_bwd_kernel(const og_pool_bwd *g0, const int64_t *ind, const float *u, const pcase *c)
{
    int64_t nx = g0->planes * g0->H * g0->W, ny = g0->planes * g0->OH * g0->OW;
    float *want = malloc((size_t)(nx ? nx : 1) * sizeof(float)), *got = malloc((size_t)(nx ? nx : 1) * sizeof(float));
    ref_scatter(nx, ny, ind, u, want);
    for (int simd = 0; simd < 2; simd++) {
        if (simd && og_isa_active() != OG_ISA_AVX512)
            continue;
        og_pool_bwd g = *g0;
        g.simd = simd != 0;
        ck_assert(og_pool_bwd_init(&g));
        size_t ws = (og_maxpool_bwd_workspace(&g) + 63) & ~(size_t)63;
        for (int threads = 1; threads <= 3; threads++)
            for (int with_ws = 0; with_ws < 2; with_ws++)
                for (int stream = -1; stream <= 1; stream++) {   /* row by row and streamed: auto, never, always */
                    void *w = with_ws ? scratch(ws, threads) : NULL;
                    g.stream = stream;
                    memset(got, 0xA5, (size_t)nx * sizeof(float));
                    ck_assert(og_maxpool_bwd_f32(&g, ind, u, got, threads, w, with_ws ? ws : 0));
                    same_bits(want, got, nx, 4, simd ? "dX (avx512)" : "dX (scalar)", c);
                    free(w);
                }
    }
    free(want);
    free(got);
}

/* The gradient graph og_graph_build_gradient emits, planned (the pattern's
 * kernel) at 1..3 threads against the node-by-node reference; then the
 * kernel alone on the real indices, on indices moved to other cells of the
 * plane (outside their rows: the plane is redone by the in-plane scatter),
 * and on an index outside its plane (the kernel reports it). */
static bool check_backward(const pcase *c)
{
    og_graph *gs, *gd;
    if (pool_graph(c, false, &gs) != OG_OK) {
        og_err_clear();
        return false;
    }
    OG_CHECK(pool_graph(c, true, &gd));
    og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "Y" }, .n_wrt = 1,
                          .wrt = (const char *const[]){ "X" } };
    og_graph *ggs = NULL, *ggd = NULL;
    if (og_graph_build_gradient(gs, &o, &ggs) != OG_OK) {   /* windows wholly in padding: no gradient */
        og_err_clear();
        og_graph_free(gs);
        og_graph_free(gd);
        return false;
    }
    OG_CHECK(og_graph_build_gradient(gd, &o, &ggd));
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, c->xd, &x));
    for (int64_t i = 0; i < x->numel; i++)
        ((float *)x->data)[i] = value(1);
    og_tensor *fwd[2] = { 0 };
    ref_forward(gs, x, &fwd[0], &fwd[1]);
    og_tensor *dy;
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, fwd[0]->dims, &dy));
    for (int64_t i = 0; i < dy->numel; i++)   /* varied magnitudes, so the order of the sums shows */
        ((float *)dy->data)[i] = rng() % 40 == 0 ? value(3) : rndf() * (float)(1 << rnd(0, 20));
    const og_tensor *feeds[2] = { x, dy };
    float *ref_dx = malloc((size_t)x->numel * sizeof(float));
    ref_scatter(x->numel, dy->numel, fwd[1]->data, dy->data, ref_dx);
    /* outputs Y, I, then dX */
    ck_assert_int_eq(ggs->n_outputs, 3);
    ck_assert_int_eq(ggd->n_outputs, 3);
    for (int threads = 1; threads <= 3; threads++)
        for (int dyn = 0; dyn < 2; dyn++) {
            og_tensor *fo[3] = { 0 };
            run_plan(dyn ? ggd : ggs, threads, 2, feeds, fo);
            same_bits(fwd[0]->data, fo[0]->data, fwd[0]->numel, 4, "Y (gradient plan)", c);
            same_bits(fwd[1]->data, fo[1]->data, fwd[1]->numel, 8, "I (gradient plan)", c);
            same_bits(ref_dx, fo[2]->data, x->numel, 4, dyn ? "dX (gradient plan, dyn)" : "dX (gradient plan)", c);
            for (int k = 0; k < 3; k++)
                og_tensor_free(fo[k]);
        }
    free(ref_dx);

    og_pool_bwd g = { .planes = c->xd[0] * c->xd[1], .H = c->xd[2], .W = c->xd[3], .OH = dy->dims[2],
                      .OW = dy->dims[3], .sh = c->s[0], .ph = c->pads[0], .kh = c->k[0], .dh = c->d[0], .stream = -1 };
    int64_t *ind = fwd[1]->data, ny = fwd[1]->numel, in_plane = c->xd[2] * c->xd[3];
    const float *u = dy->data;
    check_bwd_kernel(&g, ind, u, c);
    og_pool_bwd band = { .planes = g.planes, .H = 1, .W = in_plane, .OH = 1, .OW = g.OH * g.OW, .sh = 1, .ph = 0,
                         .kh = 1, .dh = 1, .stream = -1 };
    check_bwd_kernel(&band, ind, u, c);   /* the geometry-free form */
    if (ny > 0) {
        /* indices moved anywhere in their plane */
        int64_t *moved = malloc((size_t)ny * sizeof(int64_t));
        int64_t out_plane = g.OH * g.OW;
        for (int64_t q = 0; q < ny; q++)
            moved[q] = rng() % 7 == 0 ? (q / out_plane) * in_plane + rnd(0, in_plane - 1) : ind[q];
        check_bwd_kernel(&g, moved, u, c);
        /* one index outside its plane: reported */
        if (g.planes > 1) {
            moved[0] = ny > 1 ? in_plane * (g.planes - 1) : 0;
            float *dx = malloc((size_t)(g.planes * in_plane) * sizeof(float));
            og_pool_bwd gg = g;
            gg.simd = og_isa_active() == OG_ISA_AVX512;
            ck_assert(og_pool_bwd_init(&gg));
            size_t ws = (og_maxpool_bwd_workspace(&gg) + 63) & ~(size_t)63;
            void *w = scratch(ws, 2);
            ck_assert(!og_maxpool_bwd_f32(&gg, moved, u, dx, 2, w, ws));
            free(w);
            free(dx);
        }
        free(moved);
    }
    og_tensor_free(x);
    og_tensor_free(dy);
    for (int k = 0; k < 2; k++)
        og_tensor_free(fwd[k]);
    og_graph_free(ggs);
    og_graph_free(ggd);
    og_graph_free(gs);
    og_graph_free(gd);
    return true;
}

START_TEST(backward_random)
{
    int done = 0;
    for (int it = 0; it < 200; it++) {
        pcase c;
        random_case(&c, true);
        done += check_backward(&c);
    }
    ck_assert_int_gt(done, 120);
}
END_TEST

START_TEST(backward_fixed)
{
    pcase cs[] = {
        { { 2, 3, 56, 56 }, { 3, 3 }, { 2, 2 }, { 1, 1 }, { 1, 1, 1, 1 }, 0 },
        { { 2, 3, 28, 28 }, { 2, 2 }, { 2, 2 }, { 1, 1 }, { 0, 0, 0, 0 }, 0 },
        { { 1, 4, 10, 10 }, { 2, 2 }, { 2, 2 }, { 1, 1 }, { 0, 0, 0, 0 }, 0 },
        { { 1, 2, 13, 7 }, { 2, 2 }, { 3, 3 }, { 1, 1 }, { 0, 0, 0, 0 }, 0 },   /* rows no window reaches */
        { { 1, 2, 15, 31 }, { 3, 3 }, { 1, 1 }, { 2, 2 }, { 2, 2, 2, 2 }, 0 },
        { { 3, 1, 5, 3 }, { 4, 3 }, { 1, 2 }, { 1, 1 }, { 3, 1, 0, 1 }, 1 },
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        ck_assert_msg(check_backward(&cs[i]), "case %zu refused", i);
}
END_TEST

/* Ties in both stages: the first maximum in row-major window order, the
 * last NaN, and a window of -inf names its first real cell. */
START_TEST(forward_ties)
{
    pcase c = { { 1, 1, 4, 40 }, { 3, 3 }, { 2, 2 }, { 1, 1 }, { 1, 1, 1, 1 }, 0 };
    for (int mode = 1; mode <= 3; mode++)
        for (int rep = 0; rep < 20; rep++)
            ck_assert(check_forward(&c, mode));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pool_fast");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, forward_fixed);
    tcase_add_test(tc, forward_ties);
    tcase_add_test(tc, forward_random);
    tcase_add_test(tc, backward_fixed);
    tcase_add_test(tc, backward_random);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return og_run_suite(suite()); }
