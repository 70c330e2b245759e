/* SPDX-License-Identifier: MIT */
/* test_norm.c — BatchNormalization, LayerNormalization and
 * InstanceNormalization: random shapes and attributes against naive double
 * loops written from the spec, the float32 lane kernels bit-identical at 1,
 * 2 and 3 threads and close to the reference kernels, the old opsets'
 * forms (spatial = 0, saved statistics, is_test), empty tensors, errors
 * for bad shapes and attributes, gradchecks of order 1 and 2 of every
 * differentiable input and output. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include "gradtest.h"

static uint64_t seed = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }
static double urand(void) { return (double)(rng() >> 11) / 9007199254740992.0 * 2 - 1; }

/* ---- a one-node graph with several inputs and outputs ------------------------ */
typedef struct io {
    const char *name;
    int rank;
    int64_t dims[OG_MAX_RANK];
    double *data;        /* numel values */
} io;

typedef struct nodecase {
    const char *op;
    int opset;
    int n_in, n_out;
    io in[5];
    const char *outs[5];   /* "" unwanted */
    int n_attrs;
    og_attr attrs[4];
} nodecase;

static int64_t numel_of(int r, const int64_t *d)
{
    int64_t n = 1;
    for (int k = 0; k < r; k++)
        n *= d[k];
    return n;
}

/* dyn: X's first dim declared unknown, so the plan runs the reference
 * kernels node by node. */
static og_status nc_graph_ex(const nodecase *c, og_dtype dt, bool dyn, bool inits, og_graph **out)
{
    og_graph *g;
    const char *ins[5];
    og_status st;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", c->opset));
    for (int k = 0; k < c->n_in; k++) {
        int64_t d[OG_MAX_RANK];
        memcpy(d, c->in[k].dims, sizeof d);
        if (dyn && k == 0)
            d[0] = -1;
        ins[k] = c->in[k].name;
        if (inits) {   /* the data travels with the graph (gradcheck keeps it) */
            ck_assert_int_eq(dt, OG_DOUBLE);
            gt_init(g, c->in[k].name, dt, c->in[k].rank, d, c->in[k].data);
        } else
            OG_CHECK(og_graph_add_input(g, c->in[k].name, dt, c->in[k].rank, d, NULL));
    }
    if ((st = og_graph_add_node(g, c->op, NULL, "nrm", c->n_in, ins, c->n_out, c->outs, c->n_attrs, c->attrs)))
        goto fail;
    for (int k = 0; k < c->n_out; k++)
        if (c->outs[k][0] && (st = og_graph_add_output(g, c->outs[k])))
            goto fail;
    if ((st = og_graph_finalize(g)))
        goto fail;
    *out = g;
    return OG_OK;
fail:
    og_graph_free(g);
    return st;
}

static og_status nc_graph(const nodecase *c, og_dtype dt, bool dyn, og_graph **out)
{
    return nc_graph_ex(c, dt, dyn, false, out);
}

static int n_wanted(const nodecase *c)
{
    int n = 0;
    for (int k = 0; k < c->n_out; k++)
        n += c->outs[k][0] != 0;
    return n;
}

/* When set, the fast kernel's name must contain it (the ISA). */
static const char *want_isa;

/* Runs the case in dt; outs[k] for each wanted output, as doubles. */
static void nc_run(const nodecase *c, og_dtype dt, bool dyn, int threads, og_tensor **outs, bool *fast)
{
    og_graph *g;
    OG_CHECK(nc_graph(c, dt, dyn, &g));
    og_tensor *feeds[5];
    for (int k = 0; k < c->n_in; k++) {
        int64_t n = numel_of(c->in[k].rank, c->in[k].dims);
        OG_CHECK(og_tensor_create(dt, c->in[k].rank, c->in[k].dims, &feeds[k]));
        for (int64_t i = 0; i < n; i++) {
            if (dt == OG_FLOAT)
                ((float *)feeds[k]->data)[i] = (float)c->in[k].data[i];
            else
                ((double *)feeds[k]->data)[i] = c->in[k].data[i];
        }
    }
    og_plan_options po = { .n_threads = threads };
    og_plan *p;
    OG_CHECK(og_plan_create_ex(g, &po, &p));
    if (fast) {
        *fast = false;
        for (int s = 0; s < og_plan_num_steps(p); s++) {
            const char *nn, *op, *k;
            OG_CHECK(og_plan_step(p, s, &nn, &op, &k));
            if (strstr(k, "_lanes")) {
                *fast = true;
                ck_assert_msg(!want_isa || strstr(k, want_isa), "kernel %s, expected the %s one", k, want_isa);
            }
        }
    }
    OG_CHECK(og_plan_run(p, c->n_in, (const og_tensor *const *)feeds, outs));
    og_plan_free(p);
    for (int k = 0; k < c->n_in; k++)
        og_tensor_free(feeds[k]);
    og_graph_free(g);
}

static double at(const og_tensor *t, int64_t i)
{
    return t->dtype == OG_FLOAT ? ((float *)t->data)[i] : ((double *)t->data)[i];
}

static void fill(io *v, const char *name, int rank, const int64_t *dims, double lo, double hi)
{
    v->name = name;
    v->rank = rank;
    memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
    int64_t n = numel_of(rank, dims);
    v->data = malloc(sizeof(double) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++)
        v->data[i] = lo + (hi - lo) * (urand() + 1) / 2;
}

static void nc_free(nodecase *c)
{
    for (int k = 0; k < c->n_in; k++)
        free(c->in[k].data);
}

/* Compares the float run (fast at 1, 2, 3 threads, bit-identical; and the
 * reference kernels) and the double run with the naive expectation
 * exp[k] (wanted outputs in order). */
static void check_case(const nodecase *c, double *const *exp, const char *what, bool expect_fast)
{
    int nw = n_wanted(c);
    og_tensor *f1[5] = { 0 }, *ft[5] = { 0 }, *fr[5] = { 0 }, *d[5] = { 0 };
    bool fast;
    nc_run(c, OG_FLOAT, false, 1, f1, &fast);
    ck_assert_msg(fast == expect_fast, "%s: fast kernel %s", what, fast ? "chosen" : "not chosen");
    nc_run(c, OG_FLOAT, true, 1, fr, &fast);
    ck_assert_msg(!fast, "%s: dynamic shapes took the fast kernel", what);
    nc_run(c, OG_DOUBLE, false, 2, d, NULL);
    for (int t = 2; t <= 3; t++) {
        nc_run(c, OG_FLOAT, false, t, ft, NULL);
        for (int k = 0; k < nw; k++) {
            ck_assert_int_eq(ft[k]->numel, f1[k]->numel);
            ck_assert_msg(memcmp(ft[k]->data, f1[k]->data, sizeof(float) * (size_t)f1[k]->numel) == 0,
                          "%s: output %d differs at %d threads", what, k, t);
            og_tensor_free(ft[k]);
        }
    }
    for (int k = 0; k < nw; k++) {
        for (int64_t i = 0; i < f1[k]->numel; i++) {
            /* each assertion costs Check a write: assert only what fails */
            double e = exp[k][i], tol = 2e-4 * (1 + fabs(e));
            if (!(fabs(at(f1[k], i) - e) <= tol))
                ck_abort_msg("%s: output %d [%lld] fast %.8g expected %.8g", what, k, (long long)i, at(f1[k], i), e);
            if (!(fabs(at(fr[k], i) - e) <= tol))
                ck_abort_msg("%s: output %d [%lld] reference %.8g expected %.8g", what, k, (long long)i,
                             at(fr[k], i), e);
            if (!(fabs(at(d[k], i) - e) <= 1e-9 * (1 + fabs(e))))
                ck_abort_msg("%s: output %d [%lld] double %.15g expected %.15g", what, k, (long long)i, at(d[k], i),
                             e);
        }
        og_tensor_free(f1[k]);
        og_tensor_free(fr[k]);
        og_tensor_free(d[k]);
    }
}

/* ---- naive references, from the spec's formulas -------------------------------- */

/* LayerNormalization: x viewed [G, S]; scale/bias index s % pn. */
static void ref_ln(const double *x, int64_t G, int64_t S, const double *sc, const double *bi, int64_t pn, double eps,
                   double *y, double *mean, double *inv)
{
    for (int64_t g = 0; g < G; g++) {
        double m = 0, v = 0;
        for (int64_t s = 0; s < S; s++)
            m += x[g * S + s];
        m /= (double)S;
        for (int64_t s = 0; s < S; s++)
            v += (x[g * S + s] - m) * (x[g * S + s] - m);
        v /= (double)S;
        double r = 1 / sqrt(v + (double)(float)eps);
        mean[g] = m;
        inv[g] = r;
        for (int64_t s = 0; s < S; s++)
            y[g * S + s] = (x[g * S + s] - m) * r * sc[s % pn] + (bi ? bi[s % pn] : 0);
    }
}

static void ln_cases(int count)
{
    for (int it = 0; it < count; it++) {
        int r = (int)rnd(1, 4);
        int64_t dims[4];
        for (int d = 0; d < r; d++)
            dims[d] = rnd(1, 7);
        if (it % 7 == 3)
            dims[r - 1] = rnd(9, 40);   /* tails longer than a lane block */
        int axis = (int)rnd(-r, r - 1), a = axis < 0 ? axis + r : axis;
        /* Scale: the whole tail, or a trailing part of it with leading 1s */
        int keep = (int)rnd(0, r - a), prank = keep + (int)rnd(0, 1);
        int64_t pd[5];
        for (int d = 0; d < prank; d++)
            pd[d] = d < prank - keep ? 1 : dims[r - keep + (d - (prank - keep))];
        bool with_b = it % 3 != 0;
        nodecase c = { .op = "LayerNormalization", .opset = 17, .n_in = with_b ? 3 : 2, .n_out = 3,
                       .outs = { "Y", it % 4 == 1 ? "" : "Mean", "InvStdDev" }, .n_attrs = 2 };
        float eps = it % 2 ? 1e-5f : 0.3f;
        c.attrs[0] = og_attr_int("axis", axis);
        c.attrs[1] = og_attr_float("epsilon", eps);
        fill(&c.in[0], "X", r, dims, -2, 3);
        fill(&c.in[1], "W", prank, pd, -1, 1);
        if (with_b)
            fill(&c.in[2], "B", prank, pd, -1, 1);
        int64_t G = numel_of(a, dims), S = numel_of(r - a, dims + a), pn = numel_of(prank, pd);
        double *y = malloc(sizeof(double) * (size_t)(G * S + 1)), *m = malloc(sizeof(double) * (size_t)(G + 1)),
               *iv = malloc(sizeof(double) * (size_t)(G + 1));
        ref_ln(c.in[0].data, G, S, c.in[1].data, with_b ? c.in[2].data : NULL, pn, eps, y, m, iv);
        double *exp[3] = { y, c.outs[1][0] ? m : iv, iv };
        char what[80];
        snprintf(what, sizeof what, "LayerNormalization case %d (rank %d, axis %d)", it, r, axis);
        check_case(&c, exp, what, true);
        free(y);
        free(m);
        free(iv);
        nc_free(&c);
    }
}
START_TEST(layernorm_random)
{
    ln_cases(40);
}
END_TEST

static void in_cases(int count)
{
    for (int it = 0; it < count; it++) {
        int r = (int)rnd(3, 5);
        int64_t dims[5];
        for (int d = 0; d < r; d++)
            dims[d] = rnd(1, d >= 2 ? 11 : 4);
        nodecase c = { .op = "InstanceNormalization", .opset = it % 2 ? 6 : 1, .n_in = 3, .n_out = 1, .outs = { "y" },
                       .n_attrs = 1 };
        float eps = it % 3 ? 1e-5f : 0.5f;
        c.attrs[0] = og_attr_float("epsilon", eps);
        fill(&c.in[0], "x", r, dims, -3, 2);
        fill(&c.in[1], "s", 1, dims + 1, -1, 1);
        fill(&c.in[2], "b", 1, dims + 1, -1, 1);
        int64_t C = dims[1], P = dims[0] * C, S = numel_of(r - 2, dims + 2);
        double *y = malloc(sizeof(double) * (size_t)(P * S + 1));
        for (int64_t p = 0; p < P; p++) {   /* plane p = (n, c): scale[c] */
            double one = 1, zero = 0, m, iv;
            ref_ln(c.in[0].data + p * S, 1, S, &one, &zero, 1, eps, y + p * S, &m, &iv);
            for (int64_t s = 0; s < S; s++)
                y[p * S + s] = y[p * S + s] * c.in[1].data[p % C] + c.in[2].data[p % C];
        }
        double *exp[1] = { y };
        char what[64];
        snprintf(what, sizeof what, "InstanceNormalization case %d", it);
        check_case(&c, exp, what, true);
        free(y);
        nc_free(&c);
    }
}
START_TEST(instancenorm_random)
{
    in_cases(30);
}
END_TEST

/* One BatchNormalization case of X in [lo, hi), in form 0-4: opset 15
 * inference and training, opset 9 training with saved statistics, opset 7
 * spatial = 0, opset 6 is_test. */
static void bn_case(int it, int form, int r, const int64_t *dims, double lo, double hi)
{
    bool spatial = form != 3, training = form == 1 || form == 2;
    nodecase c = { .op = "BatchNormalization", .n_in = 5, .outs = { "Y", "", "", "", "" } };
    float eps = it % 2 ? 1e-5f : 0.1f, mom = (float)(0.5 + 0.4 * (urand() + 1) / 2);
    c.attrs[c.n_attrs++] = og_attr_float("epsilon", eps);
    c.attrs[c.n_attrs++] = og_attr_float("momentum", mom);
    switch (form) {
    case 0: c.opset = 15; c.n_out = 1; break;
    case 1: c.opset = 15; c.n_out = 3; c.outs[1] = "rm"; c.outs[2] = "rv";
            c.attrs[c.n_attrs++] = og_attr_int("training_mode", 1); break;
    case 2: c.opset = 9; c.n_out = 5; c.outs[1] = "rm"; c.outs[2] = "rv"; c.outs[3] = "sm"; c.outs[4] = "sv"; break;
    case 3: c.opset = 7; c.n_out = 1; c.attrs[c.n_attrs++] = og_attr_int("spatial", 0); break;
    default: c.opset = 6; c.n_out = 1; c.attrs[c.n_attrs++] = og_attr_int("is_test", 1); break;
    }
    fill(&c.in[0], "X", r, dims, lo, hi);
    int prank = spatial ? 1 : r - 1;
    fill(&c.in[1], "scale", prank, dims + 1, -1, 1);
    fill(&c.in[2], "B", prank, dims + 1, -1, 1);
    fill(&c.in[3], "mean", prank, dims + 1, -1, 1);
    fill(&c.in[4], "var", prank, dims + 1, 0.2, 2);
    int64_t N = dims[0], C = spatial ? dims[1] : numel_of(r - 1, dims + 1),
            S = spatial ? numel_of(r - 2, dims + 2) : 1;
    double *y = malloc(sizeof(double) * (size_t)(N * C * S + 1)), *st[4];
    for (int k = 0; k < 4; k++)
        st[k] = malloc(sizeof(double) * (size_t)(C + 1));
    const double *x = c.in[0].data;
    for (int64_t ch = 0; ch < C; ch++) {
        double m = c.in[3].data[ch], v = c.in[4].data[ch];
        if (training) {
            double bm = 0, bv = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t s = 0; s < S; s++)
                    bm += x[(n * C + ch) * S + s];
            bm /= (double)(N * S);
            for (int64_t n = 0; n < N; n++)
                for (int64_t s = 0; s < S; s++)
                    bv += (x[(n * C + ch) * S + s] - bm) * (x[(n * C + ch) * S + s] - bm);
            bv /= (double)(N * S);
            st[0][ch] = (double)mom * m + (1 - (double)mom) * bm;
            st[1][ch] = (double)mom * v + (1 - (double)mom) * bv;
            st[2][ch] = bm;
            st[3][ch] = bv;
            m = bm;
            v = bv;
        }
        for (int64_t n = 0; n < N; n++)
            for (int64_t s = 0; s < S; s++) {
                int64_t i = (n * C + ch) * S + s;
                y[i] = (x[i] - m) / sqrt(v + (double)eps) * c.in[1].data[ch] + c.in[2].data[ch];
            }
    }
    double *exp[5] = { y, st[0], st[1], st[2], st[3] };
    char what[64];
    snprintf(what, sizeof what, "BatchNormalization case %d (form %d, rank %d)", it, form, r);
    check_case(&c, exp, what, true);
    free(y);
    for (int k = 0; k < 4; k++)
        free(st[k]);
    nc_free(&c);
}

static void bn_cases(int count)
{
    for (int it = 0; it < count; it++) {
        int r = (int)rnd(2, 5);
        int64_t dims[5];
        for (int d = 0; d < r; d++)
            dims[d] = rnd(1, d >= 2 ? 9 : 5);
        bn_case(it, it % 5, r, dims, -2, 2);
    }
}
START_TEST(batchnorm_random)
{
    bn_cases(50);
}
END_TEST

/* Past 16 MiB the fast kernel streams Y and prefetches the next channel:
 * a plane of odd length (unaligned rows, a vector tail) and values about
 * 1000 (its one-pass statistics are deviations from the channel's first
 * value), in training and inference form. */
START_TEST(batchnorm_large)
{
    const int64_t dims[4] = { 2, 5, 641, 701 };
    bn_case(0, 1, 4, dims, 999, 1003);
    bn_case(1, 0, 4, dims, -2, 2);
}
END_TEST

/* The portable kernels (Check runs each test in its own process, so the
 * ISA choice stays in this one). */
START_TEST(scalar_isa)
{
    setenv("OG_ISA", "scalar", 1);
    want_isa = "_scalar";
    ln_cases(15);
    in_cases(10);
    bn_cases(15);
}
END_TEST

/* Empty X: nothing to normalise, every output empty, no error. */
START_TEST(empty_tensors)
{
    nodecase c = { .op = "LayerNormalization", .opset = 17, .n_in = 2, .n_out = 3,
                   .outs = { "Y", "Mean", "InvStdDev" } };
    fill(&c.in[0], "X", 2, (int64_t[]){ 0, 5 }, -1, 1);
    fill(&c.in[1], "W", 1, (int64_t[]){ 5 }, -1, 1);
    og_tensor *o[3];
    nc_run(&c, OG_FLOAT, false, 2, o, NULL);
    ck_assert_int_eq(o[0]->numel, 0);
    ck_assert_int_eq(o[1]->numel, 0);
    ck_assert_int_eq(o[1]->rank, 2);
    ck_assert_int_eq(o[1]->dims[1], 1);
    for (int k = 0; k < 3; k++)
        og_tensor_free(o[k]);
    nc_free(&c);
    nodecase b = { .op = "BatchNormalization", .opset = 15, .n_in = 5, .n_out = 1, .outs = { "Y" } };
    fill(&b.in[0], "X", 3, (int64_t[]){ 0, 3, 4 }, -1, 1);
    for (int k = 1; k < 5; k++)
        fill(&b.in[k], (const char *[]){ "", "s", "b", "m", "v" }[k], 1, (int64_t[]){ 3 }, 0.5, 1);
    og_tensor *y;
    nc_run(&b, OG_FLOAT, false, 1, &y, NULL);
    ck_assert_int_eq(y->numel, 0);
    og_tensor_free(y);
    nc_free(&b);
}
END_TEST

static void expect_error(nodecase *c, og_status code, const char *needle)
{
    og_graph *g = NULL;
    og_status st = nc_graph(c, OG_FLOAT, false, &g);
    ck_assert_msg(st == code, "%s: expected %s, got %s: %s", c->op, og_status_name(code), og_status_name(st),
                  st ? og_errmsg() : "(finalize succeeded)");
    ck_assert_msg(strstr(og_errmsg(), "'nrm'") != NULL, "message does not name the node: %s", og_errmsg());
    ck_assert_msg(strstr(og_errmsg(), needle) != NULL, "message lacks '%s': %s", needle, og_errmsg());
    nc_free(c);
}

START_TEST(errors)
{
    nodecase c;
    /* LayerNormalization: axis out of range, Scale not broadcastable, stash_type */
    c = (nodecase){ .op = "LayerNormalization", .opset = 17, .n_in = 2, .n_out = 1, .outs = { "Y" }, .n_attrs = 1,
                    .attrs = { og_attr_int("axis", 2) } };
    fill(&c.in[0], "X", 2, (int64_t[]){ 3, 4 }, 0, 1);
    fill(&c.in[1], "W", 1, (int64_t[]){ 4 }, 0, 1);
    expect_error(&c, OG_ERR_ATTR, "expected a value in [-2, 1]");
    c = (nodecase){ .op = "LayerNormalization", .opset = 17, .n_in = 2, .n_out = 1, .outs = { "Y" } };
    fill(&c.in[0], "X", 2, (int64_t[]){ 3, 4 }, 0, 1);
    fill(&c.in[1], "W", 1, (int64_t[]){ 3 }, 0, 1);
    expect_error(&c, OG_ERR_SHAPE, "broadcastable to X's normalised tail");
    c = (nodecase){ .op = "LayerNormalization", .opset = 17, .n_in = 2, .n_out = 1, .outs = { "Y" }, .n_attrs = 1,
                    .attrs = { og_attr_int("stash_type", 16) } };
    fill(&c.in[0], "X", 2, (int64_t[]){ 3, 4 }, 0, 1);
    fill(&c.in[1], "W", 1, (int64_t[]){ 4 }, 0, 1);
    expect_error(&c, OG_ERR_UNSUPPORTED, "stash_type");
    /* InstanceNormalization: rank 2, scale of the wrong length */
    c = (nodecase){ .op = "InstanceNormalization", .opset = 6, .n_in = 3, .n_out = 1, .outs = { "y" } };
    fill(&c.in[0], "x", 2, (int64_t[]){ 3, 4 }, 0, 1);
    fill(&c.in[1], "s", 1, (int64_t[]){ 4 }, 0, 1);
    fill(&c.in[2], "b", 1, (int64_t[]){ 4 }, 0, 1);
    expect_error(&c, OG_ERR_SHAPE, "expected rank >= 3");
    c = (nodecase){ .op = "InstanceNormalization", .opset = 6, .n_in = 3, .n_out = 1, .outs = { "y" } };
    fill(&c.in[0], "x", 3, (int64_t[]){ 2, 3, 4 }, 0, 1);
    fill(&c.in[1], "s", 1, (int64_t[]){ 4 }, 0, 1);
    fill(&c.in[2], "b", 1, (int64_t[]){ 3 }, 0, 1);
    expect_error(&c, OG_ERR_SHAPE, "expected [C] = [3]");
    /* BatchNormalization: scale of the wrong length, training outputs
     * without training_mode, is_test with training outputs */
    const char *bn[5] = { "X", "s", "b", "m", "v" };
    c = (nodecase){ .op = "BatchNormalization", .opset = 15, .n_in = 5, .n_out = 1, .outs = { "Y" } };
    fill(&c.in[0], "X", 3, (int64_t[]){ 2, 3, 4 }, 0, 1);
    for (int k = 1; k < 5; k++)
        fill(&c.in[k], bn[k], 1, (int64_t[]){ k == 1 ? 4 : 3 }, 0, 1);
    expect_error(&c, OG_ERR_SHAPE, "expected [3]");
    c = (nodecase){ .op = "BatchNormalization", .opset = 15, .n_in = 5, .n_out = 2, .outs = { "Y", "rm" } };
    fill(&c.in[0], "X", 3, (int64_t[]){ 2, 3, 4 }, 0, 1);
    for (int k = 1; k < 5; k++)
        fill(&c.in[k], bn[k], 1, (int64_t[]){ 3 }, 0, 1);
    expect_error(&c, OG_ERR_INVALID_GRAPH, "only valid with training_mode=1");
    c = (nodecase){ .op = "BatchNormalization", .opset = 6, .n_in = 5, .n_out = 2, .outs = { "Y", "rm" }, .n_attrs = 1,
                    .attrs = { og_attr_int("is_test", 1) } };
    fill(&c.in[0], "X", 3, (int64_t[]){ 2, 3, 4 }, 0, 1);
    for (int k = 1; k < 5; k++)
        fill(&c.in[k], bn[k], 1, (int64_t[]){ 3 }, 0, 1);
    expect_error(&c, OG_ERR_INVALID_GRAPH, "is_test=1");
    c = (nodecase){ .op = "BatchNormalization", .opset = 7, .n_in = 5, .n_out = 1, .outs = { "Y" }, .n_attrs = 1,
                    .attrs = { og_attr_int("spatial", 0) } };
    fill(&c.in[0], "X", 3, (int64_t[]){ 2, 3, 4 }, 0, 1);
    for (int k = 1; k < 5; k++)
        fill(&c.in[k], bn[k], 1, (int64_t[]){ 3 }, 0, 1);
    expect_error(&c, OG_ERR_SHAPE, "spatial=0");
}
END_TEST

/* ---- gradients ------------------------------------------------------------------ */

static void gradcheck_case(nodecase *c, uint64_t s, const char *what)
{
    og_graph *g;
    OG_CHECK(nc_graph_ex(c, OG_DOUBLE, false, true, &g));
    gt_gradcheck(g, 1, 0, s, what);
    gt_gradcheck(g, 2, 30, s + 1, what);
    og_graph_free(g);
    nc_free(c);
}

START_TEST(gradcheck_layernorm)
{
    for (int it = 0; it < 10; it++) {
        int r = (int)rnd(1, 4);
        int64_t dims[4];
        for (int d = 0; d < r; d++)
            dims[d] = rnd(1, 4);
        int axis = (int)rnd(-r, r - 1), a = axis < 0 ? axis + r : axis;
        if (numel_of(r - a, dims + a) == 1)
            dims[r - 1] = 3;   /* one element normalises to 0: nothing to check */
        int keep = (int)rnd(1, r - a);
        bool with_b = it % 2 == 0;
        nodecase c = { .op = "LayerNormalization", .opset = 17, .n_in = with_b ? 3 : 2, .n_out = 3,
                       .outs = { "Y", it % 3 == 0 ? "" : "Mean", it % 3 == 1 ? "" : "InvStdDev" }, .n_attrs = 2,
                       .attrs = { og_attr_int("axis", axis), og_attr_float("epsilon", 0.05f) } };
        fill(&c.in[0], "X", r, dims, -2, 2);
        fill(&c.in[1], "W", keep, dims + r - keep, -1, 1);
        if (with_b)
            fill(&c.in[2], "B", keep, dims + r - keep, -1, 1);
        char what[64];
        snprintf(what, sizeof what, "LayerNormalization gradcheck %d (axis %d)", it, axis);
        gradcheck_case(&c, (uint64_t)it + 11, what);
    }
}
END_TEST

START_TEST(gradcheck_instancenorm)
{
    for (int it = 0; it < 6; it++) {
        int r = (int)rnd(3, 4);
        int64_t dims[4];
        for (int d = 0; d < r; d++)
            dims[d] = rnd(d >= 2 ? 2 : 1, 3);
        nodecase c = { .op = "InstanceNormalization", .opset = 6, .n_in = 3, .n_out = 1, .outs = { "y" }, .n_attrs = 1,
                       .attrs = { og_attr_float("epsilon", 0.05f) } };
        fill(&c.in[0], "x", r, dims, -2, 2);
        fill(&c.in[1], "s", 1, dims + 1, -1, 1);
        fill(&c.in[2], "b", 1, dims + 1, -1, 1);
        gradcheck_case(&c, (uint64_t)it + 31, "InstanceNormalization gradcheck");
    }
}
END_TEST

START_TEST(gradcheck_batchnorm)
{
    for (int it = 0; it < 10; it++) {
        bool training = it % 2;
        int r = (int)rnd(2, 4);
        int64_t dims[4];
        for (int d = 0; d < r; d++)
            dims[d] = rnd(d == 1 ? 1 : 2, 3);
        /* opset 9 trains when it has outputs besides Y (its copy in the
         * gradient graph is opset 17's training_mode=1) */
        nodecase c = { .op = "BatchNormalization", .opset = it % 4 < 2 ? 9 : 15, .n_in = 5, .n_out = training ? 3 : 1,
                       .outs = { "Y", it % 3 == 0 ? "" : "rm", "rv", "", "" }, .n_attrs = 2,
                       .attrs = { og_attr_float("epsilon", 0.05f), og_attr_float("momentum", 0.7f) } };
        if (training && c.opset == 9 && it == 5)
            c.n_out = 5;   /* saved_mean and saved_var unnamed */
        if (training && c.opset >= 14)
            c.attrs[c.n_attrs++] = og_attr_int("training_mode", 1);
        fill(&c.in[0], "X", r, dims, -2, 2);
        const char *names[5] = { "X", "scale", "B", "mean", "var" };
        for (int k = 1; k < 5; k++)
            fill(&c.in[k], names[k], 1, dims + 1, k == 4 ? 0.5 : -1, 1);
        char what[64];
        snprintf(what, sizeof what, "BatchNormalization gradcheck %d (%s)", it, training ? "training" : "inference");
        gradcheck_case(&c, (uint64_t)it + 51, what);
    }
}
END_TEST

/* Old-opset training has no backward rule: a clear error, not a wrong gradient. */
START_TEST(batchnorm_raise_refusals)
{
    /* the old training form whose saved_mean is read: opset 17 has no such output */
    nodecase c = { .op = "BatchNormalization", .opset = 9, .n_in = 5, .n_out = 5,
                   .outs = { "Y", "rm", "rv", "sm", "" } };
    fill(&c.in[0], "X", 3, (int64_t[]){ 2, 3, 2 }, -1, 1);
    const char *names[5] = { "X", "s", "b", "m", "v" };
    for (int k = 1; k < 5; k++)
        fill(&c.in[k], names[k], 1, (int64_t[]){ 3 }, 0.5, 1);
    og_graph *g, *gg = NULL;
    OG_CHECK(nc_graph(&c, OG_DOUBLE, false, &g));
    const char *seeded[1] = { "Y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded };
    og_status st = og_graph_build_gradient(g, &o, &gg);
    ck_assert_msg(st == OG_ERR_UNSUPPORTED && strstr(og_errmsg(), "output 3 'sm' (saved_mean) of the opset-9 "
                  "training form is read"), "%s: %s", og_status_name(st), og_errmsg());
    og_graph_free(gg);
    og_graph_free(g);
    nc_free(&c);
    /* spatial = 0 cannot be written at opset 17 either */
    c = (nodecase){ .op = "BatchNormalization", .opset = 7, .n_in = 5, .n_out = 1, .outs = { "Y" }, .n_attrs = 1,
                    .attrs = { og_attr_int("spatial", 0) } };
    fill(&c.in[0], "X", 3, (int64_t[]){ 2, 3, 2 }, -1, 1);
    for (int k = 1; k < 5; k++)
        fill(&c.in[k], names[k], 2, (int64_t[]){ 3, 2 }, 0.5, 1);
    OG_CHECK(nc_graph(&c, OG_DOUBLE, false, &g));
    gg = NULL;
    st = og_graph_build_gradient(g, &o, &gg);
    ck_assert_msg(st == OG_ERR_UNSUPPORTED && strstr(og_errmsg(), "spatial=0 (opset 7) normalises each activation "
                  "separately"), "%s: %s", og_status_name(st), og_errmsg());
    og_graph_free(gg);
    og_graph_free(g);
    nc_free(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, layernorm_random);
    tcase_add_test(tc, instancenorm_random);
    tcase_add_test(tc, batchnorm_random);
    tcase_add_test(tc, batchnorm_large);
    tcase_add_test(tc, scalar_isa);
    tcase_add_test(tc, empty_tensors);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, gradcheck_layernorm);
    tcase_add_test(tc, gradcheck_instancenorm);
    tcase_add_test(tc, gradcheck_batchnorm);
    tcase_add_test(tc, batchnorm_raise_refusals);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
