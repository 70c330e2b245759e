/* SPDX-License-Identifier: MIT */
/* gradcheck.c — analytic gradients (the gradient graph) against central
 * finite differences in float64, as torch.autograd.gradcheck does.
 *
 * The model is copied with every float tensor as double and the wrt
 * initializers lifted into graph inputs, so that one plan of the forward
 * graph can be run with any wrt element perturbed. With a random upstream
 * gradient u_k per differentiated output y_k, F(x) = sum_k <u_k, y_k(x)>;
 * the gradient graph seeded with u gives dF/dx, and each checked element is
 * compared with (F(x + eps e_i) - F(x - eps e_i)) / (2 eps). --fast compares
 * <dF/dx, v> with (F(x + eps v) - F(x - eps v)) / (2 eps) for a random v.
 * Order 2 checks the gradient graph itself the same way: its inputs are the
 * forward inputs and the seeds u, its outputs the first-order gradients. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "clone.h"

/* splitmix64: a small, good, reproducible generator. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return (double)(next_u64(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0; }

static void fill_random(og_tensor *t, uint64_t *rng)
{
    double *d = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        d[i] = uniform(rng);
}

/* What one check compares: a double graph, the values of all its feeds,
 * which feeds are differentiated, and which outputs. */
typedef struct check_case {
    const og_graph *g;          /* double, finalized; wrt tensors are graph inputs */
    int n_feeds;
    og_tensor **feeds;          /* one per feed input of g, named after it (owned by the caller) */
    int n_wrt;
    const char **wrt;           /* names of feeds to differentiate */
    int n_outs;
    const char **outs;          /* float outputs to differentiate */
} check_case;

typedef struct check_ctx {
    const og_gradcheck_options *o;
    uint64_t rng;
    int64_t done, total;
    bool stop;                  /* o->interrupt was raised */
} check_ctx;

static bool float_dtype(og_dtype t) { return t == OG_FLOAT || t == OG_DOUBLE; }

static int feed_index(const check_case *cc, const char *name)
{
    for (int k = 0; k < cc->n_feeds; k++)
        if (strcmp(cc->feeds[k]->name, name) == 0)
            return k;
    return -1;
}

static int output_index(const og_graph *g, const char *name)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (strcmp(g->values[g->outputs[k]].name, name) == 0)
            return k;
    return -1;
}

/* F = sum over differentiated outputs of <u_k, y_k>. */
static og_status eval_f(og_plan *p, const check_case *cc, og_tensor *const *u, og_tensor **outs, double *f)
{
    og_status st = og_plan_run(p, cc->n_feeds, (const og_tensor *const *)cc->feeds, outs);
    if (st)
        return st;
    double sum = 0;
    for (int k = 0; k < cc->n_outs; k++) {
        const og_tensor *y = outs[output_index(cc->g, cc->outs[k])];
        const double *yd = y->data, *ud = u[k]->data;
        for (int64_t i = 0; i < y->numel; i++)
            sum += ud[i] * yd[i];
    }
    for (int k = 0; k < cc->g->n_outputs; k++) {
        og_tensor_free(outs[k]);
        outs[k] = NULL;
    }
    *f = sum;
    return OG_OK;
}

static void compare(og_gradcheck_entry *e, const og_gradcheck_options *o, int64_t index, double analytic,
                    double numeric)
{
    double err = fabs(analytic - numeric);
    double rel = err / fmax(fabs(numeric), 1e-300);
    bool ok = err <= o->atol + o->rtol * fabs(numeric);   /* false for NaN */
    e->checked++;
    if (!ok)
        e->pass = false;
    /* NaN is the worst error of all */
    if (e->checked == 1 || err > e->max_abs_err || (isnan(err) && !isnan(e->max_abs_err))) {
        e->max_abs_err = err;
        e->worst_index = index;
        e->worst_analytic = analytic;
        e->worst_numeric = numeric;
    }
    if (e->checked == 1 || rel > e->max_rel_err || isnan(rel))
        e->max_rel_err = rel;
}

static void progress(check_ctx *x)
{
    x->done++;
    if (x->o->progress)
        x->o->progress(x->o->user, x->done, x->total);
    if (x->o->interrupt && *x->o->interrupt)
        x->stop = true;
}

static int64_t elements_to_check(const check_ctx *x, int64_t numel)
{
    if (x->o->fast)
        return numel > 0 ? 1 : 0;
    return x->o->max_elements > 0 && numel > x->o->max_elements ? x->o->max_elements : numel;
}

/* Compares one wrt tensor's analytic gradient with finite differences. */
static og_status check_tensor(check_ctx *x, og_plan *p, const check_case *cc, og_tensor *const *u, og_tensor **outs,
                              og_tensor *t, const og_tensor *grad, og_gradcheck_entry *e)
{
    const og_gradcheck_options *o = x->o;
    double *xd = t->data;
    const double *gd = grad->data;
    og_status st;
    double fp, fm;
    if (o->fast) {
        if (t->numel == 0)
            return OG_OK;
        og_tensor *v = NULL, *saved = NULL;
        if ((st = og_tensor_create(OG_DOUBLE, t->rank, t->dims, &v)) || (st = og_tensor_clone(t, &saved)))
            goto fast_done;
        fill_random(v, &x->rng);
        const double *vd = v->data, *sd = saved->data;
        double analytic = 0;
        for (int64_t i = 0; i < t->numel; i++) {
            analytic += gd[i] * vd[i];
            xd[i] = sd[i] + o->eps * vd[i];
        }
        if ((st = eval_f(p, cc, u, outs, &fp)))
            goto fast_done;
        for (int64_t i = 0; i < t->numel; i++)
            xd[i] = sd[i] - o->eps * vd[i];
        st = eval_f(p, cc, u, outs, &fm);
        memcpy(xd, sd, (size_t)t->numel * sizeof(double));
        if (!st) {
            compare(e, o, -1, analytic, (fp - fm) / (2 * o->eps));
            progress(x);
        }
    fast_done:
        og_tensor_free(v);
        og_tensor_free(saved);
        return st;
    }
    int64_t n = elements_to_check(x, t->numel);
    for (int64_t j = 0; j < n && !x->stop; j++) {
        int64_t i = j;
        if (n < t->numel) {   /* one random element from each of n equal strata */
            int64_t lo = (int64_t)((double)j * (double)t->numel / (double)n);
            int64_t hi = (int64_t)((double)(j + 1) * (double)t->numel / (double)n);
            i = hi > lo ? lo + (int64_t)(next_u64(&x->rng) % (uint64_t)(hi - lo)) : lo;
        }
        double s = xd[i];
        xd[i] = s + o->eps;
        st = eval_f(p, cc, u, outs, &fp);
        xd[i] = s - o->eps;
        if (!st)
            st = eval_f(p, cc, u, outs, &fm);
        xd[i] = s;
        if (st)
            return st;
        compare(e, o, i, gd[i], (fp - fm) / (2 * o->eps));
        progress(x);
    }
    return OG_OK;
}

/* The caller's seed of output `name`, if it gave one. */
static const og_tensor *given_seed(const og_gradcheck_options *o, const char *name)
{
    for (int k = 0; k < o->n_seeds; k++)
        if (o->seeds[k] && o->seeds[k]->name && strcmp(o->seeds[k]->name, name) == 0)
            return o->seeds[k];
    return NULL;
}

/* The caller's seed of output `name`, else a random one, named `seed_name`:
 * its shape is the declared one, or (unknown dims) what one forward run on
 * the feeds gives. Ownership: *out is the caller's. */
static og_status random_seed(check_ctx *x, const og_graph *g, og_tensor *const *feeds, int n_feeds,
                             const char *name, const char *seed_name, og_tensor **out)
{
    og_value_info vi;
    og_status st = og_graph_value(g, name, &vi);
    if (st)
        return st;
    int64_t dims[OG_MAX_RANK];
    int rank = vi.rank;
    bool known = rank >= 0;
    for (int d = 0; known && d < rank; d++)
        known = (dims[d] = vi.dims[d]) >= 0;
    if (!known) {
        og_plan *p;
        og_tensor **outs = og_calloc((size_t)g->n_outputs + 1, sizeof *outs);
        if (!outs)
            return og_err(OG_ERR_NOMEM, "out of memory checking gradients");
        if (!(st = og_plan_create(g, &p))) {
            if (!(st = og_plan_run(p, n_feeds, (const og_tensor *const *)feeds, outs))) {
                const og_tensor *y = outs[output_index(g, name)];
                rank = y->rank;
                memcpy(dims, y->dims, sizeof(int64_t) * (size_t)rank);
            }
            og_plan_free(p);
        }
        for (int j = 0; j < g->n_outputs; j++)
            og_tensor_free(outs[j]);
        og_free(outs);
        if (st)
            return st;
    }
    if ((st = og_tensor_create(OG_DOUBLE, rank, dims, out)) || (st = og_tensor_set_name(*out, seed_name))) {
        og_tensor_free(*out);
        *out = NULL;
        return st;
    }
    const og_tensor *given = given_seed(x->o, name);
    if (!given) {
        fill_random(*out, &x->rng);
        return OG_OK;
    }
    char a[OG_SHAPE_STR_MAX], b[OG_SHAPE_STR_MAX];
    og_shape gs = { given->rank, { 0 } }, ws = { rank, { 0 } };
    memcpy(gs.dims, given->dims, sizeof(int64_t) * (size_t)given->rank);
    memcpy(ws.dims, dims, sizeof(int64_t) * (size_t)rank);
    bool same = given->rank == rank;
    for (int d = 0; same && d < rank; d++)
        same = given->dims[d] == dims[d];
    if (!same || (given->dtype != OG_FLOAT && given->dtype != OG_DOUBLE)) {
        og_tensor_free(*out);
        *out = NULL;
        return og_err(OG_ERR_INVALID_ARG, "gradcheck: the seed of output '%s' is %s %s; the output is %s",
                      name, og_dtype_name(given->dtype), og_shape_str(&gs, a, sizeof a),
                      og_shape_str(&ws, b, sizeof b));
    }
    double *d = (*out)->data;
    for (int64_t i = 0; i < given->numel; i++)
        d[i] = given->dtype == OG_FLOAT ? (double)((const float *)given->data)[i] : ((const double *)given->data)[i];
    return OG_OK;
}

static og_status check_run(check_ctx *x, const check_case *cc, og_gradcheck_report *r)
{
    og_graph *gg = NULL;
    og_plan *pg = NULL, *pf = NULL;
    og_tensor **u = og_calloc((size_t)cc->n_outs + 1, sizeof *u);
    og_tensor **outs_g = NULL, **outs_f = og_calloc((size_t)cc->g->n_outputs + 1, sizeof *outs_f);
    const og_tensor **feeds = og_calloc((size_t)(cc->n_feeds + cc->n_outs) + 1, sizeof *feeds);
    og_status st = OG_OK;
    if (!u || !outs_f || !feeds) {
        st = og_err(OG_ERR_NOMEM, "out of memory checking gradients");
        goto done;
    }
    /* Second order: a first-order gradient that does not depend on an
     * input (piecewise-linear ops) has a zero derivative, not an error. */
    og_grad_options go = { .n_seeded = cc->n_outs, .seeded = cc->outs, .n_wrt = cc->n_wrt, .wrt = cc->wrt,
                           .allow_unused = x->o->order == 2 };
    if ((st = og_graph_build_gradient(cc->g, &go, &gg)) || (st = og_plan_create(gg, &pg)) ||
        (st = og_plan_create(cc->g, &pf)))
        goto done;
    for (int k = 0; k < cc->n_feeds; k++)
        feeds[k] = cc->feeds[k];
    for (int k = 0; k < cc->n_outs; k++) {
        if ((st = random_seed(x, cc->g, cc->feeds, cc->n_feeds, cc->outs[k],
                              gg->values[gg->inputs[cc->g->n_inputs + k]].name, &u[k])))
            goto done;
        feeds[cc->n_feeds + k] = u[k];
    }
    if (!(outs_g = og_calloc((size_t)gg->n_outputs, sizeof *outs_g))) {
        st = og_err(OG_ERR_NOMEM, "out of memory checking gradients");
        goto done;
    }
    if ((st = og_plan_run(pg, cc->n_feeds + cc->n_outs, feeds, outs_g)))
        goto done;
    int first = gg->n_outputs - cc->n_wrt;
    for (int j = 0; j < cc->n_wrt; j++)
        x->total += elements_to_check(x, cc->feeds[feed_index(cc, cc->wrt[j])]->numel);
    for (int j = 0; j < cc->n_wrt; j++) {
        og_tensor *t = cc->feeds[feed_index(cc, cc->wrt[j])];
        og_gradcheck_entry *e = &r->entries[r->n];
        memset(e, 0, sizeof *e);
        e->pass = true;
        e->worst_index = -1;
        e->numel = t->numel;
        if (!(e->name = og_strdup(cc->wrt[j]))) {
            st = og_err(OG_ERR_NOMEM, "out of memory checking gradients");
            goto done;
        }
        r->n++;
        const og_tensor *grad = outs_g[first + j];
        if (grad->numel != t->numel || grad->dtype != OG_DOUBLE) {
            st = og_err(OG_ERR_INTERNAL, "gradcheck: the gradient of '%s' has %lld %s elements, the tensor %lld "
                        "double ones", cc->wrt[j], (long long)grad->numel, og_dtype_name(grad->dtype),
                        (long long)t->numel);
            goto done;
        }
        if ((st = check_tensor(x, pf, cc, u, outs_f, t, grad, e)))
            goto done;
        r->pass = r->pass && e->pass;
        if (x->stop)
            break;
    }
done:
    for (int k = 0; u && k < cc->n_outs; k++)
        og_tensor_free(u[k]);
    for (int k = 0; outs_g && k < gg->n_outputs; k++)
        og_tensor_free(outs_g[k]);
    for (int k = 0; outs_f && k < cc->g->n_outputs; k++)
        og_tensor_free(outs_f[k]);
    og_free(u);
    og_free(outs_g);
    og_free(outs_f);
    og_free(feeds);
    og_plan_free(pg);
    og_plan_free(pf);
    og_graph_free(gg);
    return st;
}

void og_gradcheck_report_free(og_gradcheck_report *r)
{
    if (!r)
        return;
    for (int k = 0; k < r->n; k++)
        og_free(r->entries[k].name);
    og_free(r->entries);
    og_free(r);
}

/* What the check's copy of the graph needs to know: the wrt names (whose
 * initializers are lifted into inputs) and the caller's value for each
 * input of the original graph (integer ones are frozen into constants, so
 * rules that need shapes or axes at build time see them). */
typedef struct binding {
    const og_graph *g;
    int n_wrt;
    const char *const *wrt;
    const og_tensor **given;   /* per input of g: the caller's tensor, or NULL */
} binding;

static bool lift_wrt(void *user, const char *name)
{
    const binding *b = user;
    for (int k = 0; k < b->n_wrt; k++)
        if (strcmp(b->wrt[k], name) == 0)
            return true;
    return false;
}

static const og_tensor *given_value(const binding *b, const char *name)
{
    for (int k = 0; k < b->g->n_inputs; k++)
        if (strcmp(b->g->values[b->g->inputs[k]].name, name) == 0)
            return b->given[k];
    return NULL;
}

static const og_tensor *freeze_integer(void *user, const char *name)
{
    const og_tensor *t = given_value(user, name);
    return t && t->dtype != OG_FLOAT && t->dtype != OG_DOUBLE ? t : NULL;
}

/* Binds the caller's tensors to g's inputs as og_plan_run would: by name,
 * else in order to the inputs without an initializer. */
static og_status bind_given(binding *b, const og_gradcheck_options *o)
{
    const og_graph *g = b->g;
    for (int i = 0; i < o->n_inputs; i++) {
        const og_tensor *t = o->inputs[i];
        if (!t)
            return og_err(OG_ERR_INVALID_ARG, "gradcheck: input %d is NULL", i);
        int k = 0;
        while (t->name && k < g->n_inputs && strcmp(g->values[g->inputs[k]].name, t->name) != 0)
            k++;
        if (!t->name || k == g->n_inputs)
            for (k = 0; k < g->n_inputs && (b->given[k] || g->values[g->inputs[k]].initializer); k++)
                ;
        if (k == g->n_inputs)
            return og_err(OG_ERR_INVALID_ARG, "gradcheck: input %d%s%s%s matches no unbound graph input", i,
                          t->name ? " '" : "", t->name ? t->name : "", t->name ? "'" : "");
        if (b->given[k])
            return og_err(OG_ERR_INVALID_ARG, "gradcheck: graph input '%s' is given twice",
                          g->values[g->inputs[k]].name);
        b->given[k] = t;
    }
    return OG_OK;
}

/* The value of feed `v` of the double graph: the caller's tensor, an
 * initializer of the original graph (a lifted wrt), or random in [-1, 1].
 * Ownership: *out is the caller's. */
static og_status feed_value_into(const binding *b, const og_graph *gd, int v, uint64_t *rng, og_tensor **out);

static og_status feed_value(const binding *b, const og_graph *gd, int v, uint64_t *rng, og_tensor **out)
{
    *out = NULL;
    og_status st = feed_value_into(b, gd, v, rng, out);
    if (st) {
        og_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

static og_status feed_value_into(const binding *b, const og_graph *gd, int v, uint64_t *rng, og_tensor **out)
{
    const og_value *val = &gd->values[v];
    const og_tensor *given = given_value(b, val->name);
    int ov = og_graph_find_value(b->g, val->name);
    if (!given && ov >= 0)
        given = b->g->values[ov].initializer;
    og_status st;
    if (given) {
        if (given->dtype == OG_FLOAT) {
            if ((st = og_tensor_create(OG_DOUBLE, given->rank, given->dims, out)))
                return st;
            for (int64_t i = 0; i < given->numel; i++)
                ((double *)(*out)->data)[i] = ((const float *)given->data)[i];
        } else if ((st = og_tensor_clone(given, out))) {
            return st;
        }
        return og_tensor_set_name(*out, val->name);
    }
    og_tinfo ti;
    og_value_get(val, &ti);
    if (ti.dtype != OG_DOUBLE)
        return og_err(OG_ERR_INVALID_ARG, "input '%s' is %s: give its value (random values are made only for "
                      "float inputs)", val->name, og_dtype_name(ti.dtype));
    if (ti.shape.rank < 0)
        return og_err(OG_ERR_INVALID_ARG, "input '%s' has an unknown rank: give its value", val->name);
    for (int d = 0; d < ti.shape.rank; d++)
        if (ti.shape.dims[d] < 0) {
            const char *sym = val->dim_param && val->dim_param[d] ? val->dim_param[d] : NULL;
            return og_err(OG_ERR_INVALID_ARG, "input '%s': dim %d%s%s%s is symbolic or unknown; give the input's "
                          "value to fix it", val->name, d, sym ? " ('" : "", sym ? sym : "", sym ? "')" : "");
        }
    if ((st = og_tensor_create(OG_DOUBLE, ti.shape.rank, ti.shape.dims, out)))
        return st;
    fill_random(*out, rng);
    return og_tensor_set_name(*out, val->name);
}

og_status og_gradcheck(const og_graph *g, const og_gradcheck_options *opts, og_gradcheck_report **report)
{
    if (!report)
        return og_err(OG_ERR_INVALID_ARG, "og_gradcheck: report is NULL");
    *report = NULL;
    if (!g || !opts)
        return og_err(OG_ERR_INVALID_ARG, "og_gradcheck: NULL argument");
    if (!g->finalized)
        return og_err(OG_ERR_INVALID_ARG, "og_gradcheck: the graph is not finalized (call og_graph_finalize)");
    if (opts->n_inputs < 0 || (opts->n_inputs > 0 && !opts->inputs))
        return og_err(OG_ERR_INVALID_ARG, "og_gradcheck: n_inputs is %d but inputs is NULL", opts->n_inputs);
    if (opts->n_seeds < 0 || (opts->n_seeds > 0 && !opts->seeds))
        return og_err(OG_ERR_INVALID_ARG, "og_gradcheck: n_seeds is %d but seeds is NULL", opts->n_seeds);
    for (int k = 0; k < opts->n_seeds; k++) {
        const og_tensor *t = opts->seeds[k];
        int out = t && t->name ? output_index(g, t->name) : -1;
        if (out < 0 || !float_dtype(g->values[g->outputs[out]].dtype))
            return og_err(OG_ERR_INVALID_ARG, "gradcheck: seed %d is named '%s', which is not a float output of the "
                          "model", k, t && t->name ? t->name : "");
        for (int j = 0; j < k; j++)
            if (opts->seeds[j]->name && strcmp(opts->seeds[j]->name, t->name) == 0)
                return og_err(OG_ERR_INVALID_ARG, "gradcheck: two seeds for output '%s'", t->name);
    }
    if (opts->order != 0 && opts->order != 1 && opts->order != 2)
        return og_err(OG_ERR_INVALID_ARG, "og_gradcheck: order %d, expected 1 or 2", opts->order);
    og_gradcheck_options o = *opts;
    if (!(o.eps > 0))
        o.eps = 1e-6;
    if (!(o.atol > 0))
        o.atol = 1e-5;
    if (!(o.rtol > 0))
        o.rtol = 1e-3;
    if (o.order == 0)
        o.order = 1;
    check_ctx x = { .o = &o, .rng = o.seed ^ 0x6F6E6E7867726164ULL };

    og_grad_options go = { .n_wrt = o.n_wrt, .wrt = o.wrt };
    int n_wrt = 0;
    og_status st = og_grad_wrt_count(g, &go, &n_wrt);
    if (st)
        return st;
    const char **wrt = og_calloc((size_t)n_wrt + (size_t)g->n_outputs * 2 + 1, sizeof *wrt);
    const char **outs = og_calloc((size_t)g->n_outputs + (size_t)n_wrt + 1, sizeof *outs);
    og_graph *gd = NULL, *g1 = NULL;
    og_tensor **feeds = NULL;
    binding bind = { 0 };
    int n_feeds = 0, n_outs = 0;
    og_gradcheck_report *r = og_calloc(1, sizeof *r);
    if (!wrt || !outs || !r) {
        st = og_err(OG_ERR_NOMEM, "out of memory checking gradients");
        goto done;
    }
    for (int k = 0; k < n_wrt; k++)
        if ((st = og_grad_wrt_name(g, &go, k, &wrt[k])))
            goto done;
    bind = (binding){ g, n_wrt, wrt, og_calloc((size_t)g->n_inputs + 1, sizeof(const og_tensor *)) };
    if (!bind.given) {
        st = og_err(OG_ERR_NOMEM, "out of memory checking gradients");
        goto done;
    }
    if ((st = bind_given(&bind, &o)))
        goto done;
    og_clone_options co = { .to_double = true, .lift = lift_wrt, .freeze = freeze_integer, .user = &bind };
    if ((st = og_graph_clone(g, &co, &gd)) || (st = og_graph_finalize(gd))) {
        og_err_prefix("converting the model to double: ");
        goto done;
    }
    for (int k = 0; k < gd->n_outputs; k++)
        if (gd->values[gd->outputs[k]].dtype == OG_DOUBLE)
            outs[n_outs++] = gd->values[gd->outputs[k]].name;
    if (n_outs == 0) {
        st = og_err(OG_ERR_INVALID_ARG, "gradcheck: the model has no float output to differentiate");
        goto done;
    }
    /* Feeds of the double graph, with room for the seeds of order 2. */
    if (!(feeds = og_calloc((size_t)gd->n_inputs + (size_t)n_outs + 1, sizeof *feeds))) {
        st = og_err(OG_ERR_NOMEM, "out of memory checking gradients");
        goto done;
    }
    for (int k = 0; k < gd->n_inputs; k++) {
        int v = gd->inputs[k];
        if (gd->values[v].initializer && !given_value(&bind, gd->values[v].name))
            continue;   /* an overridable initializer keeps its value unless the caller gave one */
        if ((st = feed_value(&bind, gd, v, &x.rng, &feeds[n_feeds])))
            goto done;
        n_feeds++;
    }
    if (!(r->entries = og_calloc((size_t)n_wrt * 2 + (size_t)n_outs + 1, sizeof *r->entries))) {
        st = og_err(OG_ERR_NOMEM, "out of memory checking gradients");
        goto done;
    }
    r->pass = true;
    check_case cc = { gd, n_feeds, feeds, n_wrt, wrt, n_outs, outs };
    if (o.order == 2) {
        /* The gradient graph becomes the model: inputs and seeds in, first
         * gradients out; differentiate those with respect to both. */
        og_grad_options g1o = { .n_seeded = n_outs, .seeded = outs, .n_wrt = n_wrt, .wrt = wrt };
        int n_feeds_gd = n_feeds;
        if ((st = og_graph_build_gradient(gd, &g1o, &g1)))
            goto done;
        int n_wrt2 = n_wrt;
        for (int k = 0; k < n_outs; k++) {
            const char *seed_name = g1->values[g1->inputs[gd->n_inputs + k]].name;
            if ((st = random_seed(&x, gd, feeds, n_feeds_gd, outs[k], seed_name, &feeds[n_feeds])))
                goto done;
            n_feeds++;
            wrt[n_wrt2++] = seed_name;
        }
        const char **gouts = outs + n_outs;
        for (int k = 0; k < n_wrt; k++)
            gouts[k] = g1->values[g1->outputs[g1->n_outputs - n_wrt + k]].name;
        cc = (check_case){ g1, n_feeds, feeds, n_wrt2, wrt, n_wrt, gouts };
    }
    st = check_run(&x, &cc, r);
    r->interrupted = x.stop;
    r->done = x.done;
    r->total = x.total;
done:
    for (int k = 0; feeds && k < n_feeds; k++)
        og_tensor_free(feeds[k]);
    og_free(feeds);
    og_free(bind.given);
    og_free(wrt);
    og_free(outs);
    og_graph_free(gd);
    og_graph_free(g1);
    if (st) {
        og_gradcheck_report_free(r);
        return st;
    }
    *report = r;
    return OG_OK;
}
