/* SPDX-License-Identifier: MIT */
/* optimizers.c — the optimiser family of the ai.onnx.preview.training
 * domain (opset 1): Momentum, Adam, Adagrad. One update step of n tensors.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#ai.onnx.preview.training.Momentum
 * (#ai.onnx.preview.training.Adam, #ai.onnx.preview.training.Adagrad)
 *
 * Versions: 1, the only version of the domain (a model importing another is
 * refused). Types: X, G, V, H float or double (float16/bfloat16 refused as
 * unsupported); R float or double independently of X; T int64; a negative
 * T is an error at run time.
 *
 * Layout (variadic, shared by the three): inputs R (learning rate, float or
 * double, one element), T (update count, int64, one element, >= 0), then n
 * tensors X_1..X_n, their gradients G_1..G_n, their states V_1..V_n (and,
 * for Adam, H_1..H_n); outputs X_new_1..n, then V_new_1..n (then H_new_1..n).
 * Every G/V/H has its X's shape and type and all X share one type (the
 * spec's T3), float or double; the spec's "numpy-style broadcasting" of the
 * pseudo code is not needed since the outputs have X's shape, and a G of
 * another shape is an error. Inputs are at most OG_MAX_IO (16), so a node
 * updates at most 4 tensors (Momentum, Adagrad) or 3 (Adam). Unwanted
 * outputs ("") are allowed. With g = norm_coefficient * X + G:
 *
 *   Momentum (alpha, beta, mode, norm_coefficient: all required):
 *     b = T > 0 ? beta : 1;  V_new = alpha * V + b * g
 *     standard: X_new = X - R * V_new
 *     nesterov: X_new = X - R * (g + alpha * V_new)
 *   Adam (alpha 0.9, beta 0.999, epsilon 1e-6, norm_coefficient 0,
 *         norm_coefficient_post 0):
 *     V_new = alpha * V + (1 - alpha) * g;  H_new = beta * H + (1 - beta) * (g * g)
 *     r = T > 0 ? R * sqrt(1 - beta^T) / (1 - alpha^T) : R
 *     X_new = (1 - norm_coefficient_post) * (X - r * (V_new / (sqrt(H_new) + epsilon)))
 *   Adagrad (decay_factor 0, epsilon 1e-6, norm_coefficient 0):
 *     r = R / (1 + T * decay_factor);  H_new = H + g * g
 *     X_new = X - r * g / (sqrt(H_new) + epsilon)
 *
 * Arithmetic follows the spec's numpy reference (onnx/backend/test/case/
 * node/{momentum,adam,adagrad}.py) operation by operation: the scalar
 * factors (T > 0 branches, powers, 1 - alpha, 1 - beta, r) in double, then
 * rounded once to the tensors' type, and the elementwise part in that type
 * (float arithmetic for float tensors), in the reference's order.
 *
 * Against PyTorch (checked in tests/unit/test_optimizers.c):
 *   - Momentum "standard" with alpha = momentum, beta = 1 - dampening,
 *     norm_coefficient = weight_decay and T = 0 at the first step is
 *     torch.optim.SGD(momentum, dampening, weight_decay) (the first step
 *     takes the gradient undamped in both); "nesterov" is SGD(nesterov=True).
 *   - Adagrad with decay_factor = lr_decay, norm_coefficient = weight_decay,
 *     T = step - 1 is torch.optim.Adagrad (initial_accumulator_value is H's
 *     start).
 *   - Adam differs from torch.optim.Adam (alpha, beta = betas) in where
 *     epsilon goes: torch updates X -= lr / (1 - alpha^t) * V_new /
 *     (sqrt(H_new) / sqrt(1 - beta^t) + eps), epsilon added after the
 *     bias correction of H; ONNX X -= R * sqrt(1 - beta^T) / (1 - alpha^T)
 *     * V_new / (sqrt(H_new) + epsilon), epsilon added before it (the
 *     correction is folded into r). So ONNX at T = t with epsilon = eps *
 *     sqrt(1 - beta^t), a different epsilon at each step, is torch at step
 *     t; with eps = 0 they are the same; a constant nonzero epsilon is
 *     not torch's optimiser. T = 0 applies no bias correction (torch counts
 *     from 1). norm_coefficient is torch's weight_decay (L2 added to the
 *     gradient); norm_coefficient_post scales X after the update, which is
 *     not AdamW (AdamW scales X by 1 - lr * weight_decay before it).
 *
 * Kernels: elementwise, tasks of EW_CHUNK elements of one tensor (split by
 * sizes alone, so the bits are the same at any thread count), computed in
 * blocks into local buffers (no aliasing: vectorisable) then copied out.
 * X_new_1 may take X_1's bytes in the compiled plan (each element is read
 * before its place is written). No backward rule: not differentiable
 * (diff_inputs 0); a gradient through an optimiser is an error. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "elementwise.h"

#define OPT_DOMAIN "ai.onnx.preview.training"

typedef struct opt_params {
    float alpha, beta, epsilon, norm_coefficient, norm_coefficient_post, decay_factor;
    const char *mode;
} opt_params;

/* The per-step scalars, in double, from R, T and the attributes. */
typedef struct opt_coef {
    double r;          /* the learning rate the X update multiplies by */
    double nc;         /* norm_coefficient */
    double a, b;       /* Momentum: alpha, beta_adjusted; Adam: alpha, 1 - alpha */
    double c, d;       /* Adam: beta, 1 - beta */
    double eps;        /* Adam, Adagrad */
    double post;       /* Adam: 1 - norm_coefficient_post */
    bool nesterov;
} opt_coef;

/* One block of n <= OPT_BLOCK elements: reads x, g, s0 (V or H), s1 (Adam's
 * H), writes xo, so0, so1 (local buffers). */
typedef void (*opt_block_fn)(const opt_coef *c, int64_t n, const void *x, const void *g, const void *s0,
                             const void *s1, void *restrict xo, void *restrict so0, void *restrict so1);

typedef struct opt_kind {
    int n_states;                    /* 1: V (Momentum) or H (Adagrad); 2: V, H (Adam) */
    const char *state[2];            /* roles for messages */
    const char *layout;              /* the tensor inputs, for messages */
    void (*coef)(const opt_params *p, double R, int64_t T, opt_coef *c);
    opt_block_fn block[EW_NDT];
} opt_kind;

#define OPT_BLOCK 256

/* ---- the update rules, one expression set per dtype --------------------- */
#define OPT_RULES(tag, T, SQRT)                                                                                     \
    static void momentum_##tag(const opt_coef *c, int64_t n, const void *xv, const void *gv, const void *vv,    \
                               const void *unused, void *restrict xov, void *restrict vov, void *restrict u2)   \
    {                                                                                                           \
        (void)unused, (void)u2;                                                                                 \
        const T *x = xv, *g = gv, *v = vv;                                                                      \
        T *restrict xo = xov, *restrict vo = vov;                                                               \
        const T r = (T)c->r, nc = (T)c->nc, a = (T)c->a, b = (T)c->b;                                           \
        if (c->nesterov)                                                                                        \
            for (int64_t i = 0; i < n; i++) {                                                                   \
                T gr = nc * x[i] + g[i], vn = a * v[i] + b * gr;                                                \
                vo[i] = vn;                                                                                     \
                xo[i] = x[i] - r * (gr + a * vn);                                                               \
            }                                                                                                   \
        else                                                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                                   \
                T gr = nc * x[i] + g[i], vn = a * v[i] + b * gr;                                                \
                vo[i] = vn;                                                                                     \
                xo[i] = x[i] - r * vn;                                                                          \
            }                                                                                                   \
    }                                                                                                           \
    static void adam_##tag(const opt_coef *c, int64_t n, const void *xv, const void *gv, const void *vv,        \
                           const void *hv, void *restrict xov, void *restrict vov, void *restrict hov)          \
    {                                                                                                           \
        const T *x = xv, *g = gv, *v = vv, *h = hv;                                                             \
        T *restrict xo = xov, *restrict vo = vov, *restrict ho = hov;                                           \
        const T r = (T)c->r, nc = (T)c->nc, a = (T)c->a, a1 = (T)c->b, be = (T)c->c, b1 = (T)c->d;              \
        const T eps = (T)c->eps, post = (T)c->post;                                                             \
        for (int64_t i = 0; i < n; i++) {                                                                       \
            T gr = nc * x[i] + g[i];                                                                            \
            T vn = a * v[i] + a1 * gr;                                                                          \
            T hn = be * h[i] + b1 * (gr * gr);                                                                  \
            T hs = SQRT(hn) + eps;                                                                               \
            vo[i] = vn;                                                                                         \
            ho[i] = hn;                                                                                         \
            xo[i] = post * (x[i] - r * (vn / hs));                                                              \
        }                                                                                                       \
    }                                                                                                           \
    static void adagrad_##tag(const opt_coef *c, int64_t n, const void *xv, const void *gv, const void *hv,     \
                              const void *unused, void *restrict xov, void *restrict hov, void *restrict u2)    \
    {                                                                                                           \
        (void)unused, (void)u2;                                                                                 \
        const T *x = xv, *g = gv, *h = hv;                                                                      \
        T *restrict xo = xov, *restrict ho = hov;                                                               \
        const T r = (T)c->r, nc = (T)c->nc, eps = (T)c->eps;                                                    \
        for (int64_t i = 0; i < n; i++) {                                                                       \
            T gr = nc * x[i] + g[i];                                                                            \
            T hn = h[i] + gr * gr;                                                                              \
            T hs = SQRT(hn) + eps;                                                                               \
            ho[i] = hn;                                                                                         \
            xo[i] = x[i] - r * gr / hs;                                                                         \
        }                                                                                                       \
    }

/* float tensors take sqrtf: correctly rounded in float, as numpy's sqrt of float32 */
OPT_RULES(f32, float, sqrtf)
OPT_RULES(f64, double, sqrt)

/* ---- the scalar factors -------------------------------------------------- */
static void momentum_coef(const opt_params *p, double R, int64_t T, opt_coef *c)
{
    c->r = R;
    c->nc = p->norm_coefficient;
    c->a = p->alpha;
    c->b = T > 0 ? (double)p->beta : 1.0;   /* the first step takes the whole gradient */
    c->nesterov = strcmp(p->mode, "nesterov") == 0;
}

static void adam_coef(const opt_params *p, double R, int64_t T, opt_coef *c)
{
    double alpha = p->alpha, beta = p->beta;
    c->r = T > 0 ? R * sqrt(1 - pow(beta, (double)T)) / (1 - pow(alpha, (double)T)) : R;
    c->nc = p->norm_coefficient;
    c->a = alpha;
    c->b = 1 - alpha;
    c->c = beta;
    c->d = 1 - beta;
    c->eps = p->epsilon;
    c->post = 1 - (double)p->norm_coefficient_post;
}

static void adagrad_coef(const opt_params *p, double R, int64_t T, opt_coef *c)
{
    c->r = R / (1 + (double)T * p->decay_factor);
    c->nc = p->norm_coefficient;
    c->eps = p->epsilon;
}

static const opt_kind momentum_kind = { 1, { "V", NULL }, "n X, n G, n V", momentum_coef, { EW_FN_F(momentum) } };
static const opt_kind adam_kind = { 2, { "V", "H" }, "n X, n G, n V, n H", adam_coef, { EW_FN_F(adam) } };
static const opt_kind adagrad_kind = { 1, { "H", NULL }, "n X, n G, n H", adagrad_coef, { EW_FN_F(adagrad) } };

/* ---- layout and inference ------------------------------------------------ */
static const ew_types opt_float[] = { { EW_F, 1, 0, NULL }, { 0, 0, 0, NULL } };
static const ew_types opt_int64[] = { { EW_T(OG_INT64), 1, 0, NULL }, { 0, 0, 0, NULL } };

/* Role of input k in a layout of n tensors: "R", "T", "X_2", "G_1", ... */
static const char *opt_role(const opt_kind *kd, int n, int k, char *buf, size_t size)
{
    if (k < 2)
        return k == 0 ? "R" : "T";
    int grp = (k - 2) / n, i = (k - 2) % n + 1;
    const char *base = grp == 0 ? "X" : grp == 1 ? "G" : kd->state[grp - 2];
    snprintf(buf, size, "%s_%d", base, i);
    return buf;
}

/* The number n of optimised tensors, checking the input and output counts. */
static og_status opt_layout(const og_node *node, const opt_kind *kd, int n_in, int n_out, int *n)
{
    int groups = 2 + kd->n_states;
    if (n_in < 2 + groups || (n_in - 2) % groups != 0)
        return og_node_err(node, OG_ERR_INVALID_GRAPH, "has %d inputs; expected R, T, then %s (%d + %dn inputs, "
                           "n >= 1)", n_in, kd->layout, 2, groups);
    *n = (n_in - 2) / groups;
    if (n_out != *n * (1 + kd->n_states))
        return og_node_err(node, OG_ERR_INVALID_GRAPH, "has %d outputs for %d optimised tensor%s (%d inputs); expected "
                           "%d: the new X, then the new %s%s", n_out, *n, *n == 1 ? "" : "s", n_in,
                           *n * (1 + kd->n_states), kd->state[0], kd->n_states == 2 ? ", then the new H" : "");
    return OG_OK;
}

/* One element, as far as the shape is known. */
static bool maybe_scalar(const og_shape *s)
{
    for (int d = 0; d < s->rank; d++)
        if (s->dims[d] >= 0 && s->dims[d] != 1)
            return false;
    return true;
}

/* Whether known dims clash; *m gets the merge (a known dim fills an unknown). */
static bool shape_merge(const og_shape *a, const og_shape *b, og_shape *m)
{
    if (a->rank < 0 || b->rank < 0) {
        *m = a->rank < 0 ? *b : *a;
        return true;
    }
    if (a->rank != b->rank)
        return false;
    *m = *a;
    for (int d = 0; d < a->rank; d++) {
        if (a->dims[d] >= 0 && b->dims[d] >= 0 && a->dims[d] != b->dims[d])
            return false;
        if (m->dims[d] < 0)
            m->dims[d] = b->dims[d];
    }
    return true;
}

static og_status opt_infer(og_infer_call *c)
{
    const opt_kind *kd = c->node->op->impl;
    const og_node *node = c->node;
    int n = 0;
    og_status st;
    char role[32], role0[32], b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];

    if (c->opset != 1)
        return og_node_err(node, OG_ERR_UNSUPPORTED, "the model imports %s opset %d; onnxgrad implements %s-1",
                           OPT_DOMAIN, c->opset, node->op_type);
    if ((st = opt_layout(node, kd, c->n_in, c->n_out, &n)))
        return st;
    for (int k = 0; k < c->n_in; k++)
        if (!c->in[k])
            return og_node_err(node, OG_ERR_INVALID_GRAPH, "input %d (%s) is omitted; every input is required", k,
                               opt_role(kd, n, k, role, sizeof role));
    for (int k = 0; k < 2; k++) {
        const og_tinfo *t = c->in[k];
        if ((st = ew_check_type(node, 1, k == 0 ? opt_float : opt_int64, k == 0 ? "R" : "T", ew_name(c->in_names, k),
                                t->dtype)))
            return st;
        if (!maybe_scalar(&t->shape))
            return og_node_err(node, OG_ERR_SHAPE, "input %s '%s' has shape %s; expected a scalar (one element)",
                               k == 0 ? "R" : "T", ew_name(c->in_names, k), og_shape_str(&t->shape, b1, sizeof b1));
    }
    og_dtype dt = OG_UNDEFINED;   /* all X (and so every G, V, H) share one type */
    int dt_from = 0;
    for (int i = 0; i < n; i++) {
        int kx = 2 + i;
        og_tinfo m = *c->in[kx];
        for (int grp = 0; grp < 2 + kd->n_states; grp++) {
            int k = 2 + grp * n + i;
            const og_tinfo *t = c->in[k];
            opt_role(kd, n, k, role, sizeof role);
            if ((st = ew_check_type(node, 1, opt_float, role, ew_name(c->in_names, k), t->dtype)))
                return st;
            if (t->dtype != OG_UNDEFINED) {
                if (dt != OG_UNDEFINED && t->dtype != dt)
                    return og_node_err(node, OG_ERR_SHAPE, "input %s '%s' has type %s; expected %s, the type of %s '%s' "
                                       "(every X, G, %s%s shares one type)", role, ew_name(c->in_names, k),
                                       og_dtype_name(t->dtype), og_dtype_name(dt),
                                       opt_role(kd, n, dt_from, role0, sizeof role0), ew_name(c->in_names, dt_from),
                                       kd->state[0], kd->n_states == 2 ? ", H" : "");
                dt = t->dtype;
                dt_from = k;
            }
            og_shape merged;
            if (!shape_merge(&m.shape, &t->shape, &merged))
                return og_node_err(node, OG_ERR_SHAPE, "input %s '%s' has shape %s; expected the shape of X_%d '%s', %s",
                                   role, ew_name(c->in_names, k), og_shape_str(&t->shape, b1, sizeof b1), i + 1,
                                   ew_name(c->in_names, kx), og_shape_str(&c->in[kx]->shape, b2, sizeof b2));
            m.shape = merged;
        }
        for (int j = 0; j < 1 + kd->n_states; j++)
            if (c->out[j * n + i])
                c->out[j * n + i]->shape = m.shape;
    }
    for (int k = 0; k < c->n_out; k++)
        if (c->out[k])
            c->out[k]->dtype = dt;
    c->workspace_bytes = 0;
    return OG_OK;
}

/* ---- run ------------------------------------------------------------------ */
typedef struct opt_task {
    opt_block_fn fn;
    opt_coef coef;
    int n, n_states;
    size_t esize;
    int64_t first[OG_MAX_IO + 1];     /* task index where tensor i's chunks start */
    int64_t numel[OG_MAX_IO];
    const char *x[OG_MAX_IO], *g[OG_MAX_IO], *s[2][OG_MAX_IO];
    char *xo[OG_MAX_IO], *so[2][OG_MAX_IO];   /* NULL: unwanted */
} opt_task;

static void opt_task_run(void *arg, int64_t t, int worker)
{
    (void)worker;
    const opt_task *p = arg;
    int i = 0;
    while (t >= p->first[i + 1])
        i++;
    int64_t lo = (t - p->first[i]) * EW_CHUNK, hi = lo + EW_CHUNK < p->numel[i] ? lo + EW_CHUNK : p->numel[i];
    double buf[3][OPT_BLOCK];   /* the outputs of one block, then copied: no aliasing with the inputs */
    size_t es = p->esize;
    for (int64_t b = lo; b < hi; b += OPT_BLOCK) {
        int64_t m = hi - b < OPT_BLOCK ? hi - b : OPT_BLOCK;
        size_t off = (size_t)b * es;
        p->fn(&p->coef, m, p->x[i] + off, p->g[i] + off, p->s[0][i] + off, p->n_states > 1 ? p->s[1][i] + off : NULL,
              buf[0], buf[1], buf[2]);
        if (p->xo[i])
            memcpy(p->xo[i] + off, buf[0], (size_t)m * es);
        for (int j = 0; j < p->n_states; j++)
            if (p->so[j][i])
                memcpy(p->so[j][i] + off, buf[1 + j], (size_t)m * es);
    }
}

static og_status opt_run(const og_kernel_call *k)
{
    const opt_kind *kd = k->node->op->impl;
    const og_node *node = k->node;
    int n = 0;
    og_status st;
    if ((st = opt_layout(node, kd, k->n_in, k->n_out, &n)))
        return st;
    const og_tensor *R = k->in[0], *T = k->in[1];
    if (R->numel != 1 || T->numel != 1 || T->dtype != OG_INT64 || (R->dtype != OG_FLOAT && R->dtype != OG_DOUBLE))
        return og_node_err(node, OG_ERR_INTERNAL, "R or T is not a float scalar and an int64 scalar");
    double r = R->dtype == OG_FLOAT ? (double)*(const float *)R->data : *(const double *)R->data;
    int64_t steps = *(const int64_t *)T->data;
    if (steps < 0)
        return og_node_err(node, OG_ERR_INVALID_ARG, "input T (the update count) is %lld; expected >= 0",
                           (long long)steps);
    opt_task p;
    memset(&p, 0, sizeof p);
    og_dtype dt = k->in[2]->dtype;
    p.fn = dt >= 0 && dt < EW_NDT ? kd->block[dt] : NULL;
    if (!p.fn)
        return og_node_err(node, OG_ERR_UNSUPPORTED, "no kernel for type %s", og_dtype_name(dt));
    kd->coef(k->params, r, steps, &p.coef);
    p.n = n;
    p.n_states = kd->n_states;
    p.esize = og_dtype_size(dt);
    for (int i = 0; i < n; i++) {
        const og_tensor *x = k->in[2 + i];
        for (int grp = 0; grp < 2 + kd->n_states; grp++) {
            const og_tensor *t = k->in[2 + grp * n + i];
            if (t->dtype != dt || t->numel != x->numel)
                return og_node_err(node, OG_ERR_INTERNAL, "input %d does not match the planned X_%d", 2 + grp * n + i,
                                   i + 1);
        }
        for (int j = 0; j < 1 + kd->n_states; j++) {
            const og_tensor *o = k->out[j * n + i];
            if (o && (o->dtype != dt || o->numel != x->numel))
                return og_node_err(node, OG_ERR_INTERNAL, "output %d does not match X_%d", j * n + i, i + 1);
        }
        p.numel[i] = x->numel;
        p.first[i + 1] = p.first[i] + (x->numel + EW_CHUNK - 1) / EW_CHUNK;
        p.x[i] = x->data;
        p.g[i] = k->in[2 + n + i]->data;
        for (int j = 0; j < kd->n_states; j++) {
            p.s[j][i] = k->in[2 + (2 + j) * n + i]->data;
            p.so[j][i] = k->out[(1 + j) * n + i] ? k->out[(1 + j) * n + i]->data : NULL;
        }
        p.xo[i] = k->out[i] ? k->out[i]->data : NULL;
    }
    /* small updates (one chunk in all) stay on the caller's thread; the bits do not depend on it */
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += p.numel[i];
    int threads = k->n_threads > 1 && total > EW_CHUNK ? k->n_threads : 1;
    og_parallel_for(threads, p.first[n], opt_task_run, &p);
    return OG_OK;
}

/* The compiled plan may give X_new_1 the bytes of X_1 when X_1 dies here:
 * each element of X_1 is read before its place is written, in the same
 * task. Not when X_1 is also read as another tensor's input (another task
 * would read it while it is being overwritten). */
static og_status opt_select(og_select_call *s)
{
    const opt_kind *kd = s->node->op->impl;
    int n = 0;
    if (opt_layout(s->node, kd, s->node->n_inputs, s->node->n_outputs, &n) != OG_OK) {
        og_err_clear();
        return OG_OK;
    }
    int x1 = s->node->inputs[2];
    for (int k = 0; k < s->node->n_inputs; k++)
        if (s->node->inputs[k] == x1 && k != 2 && (k < 2 || (k - 2) % n != 0))
            return OG_OK;
    s->run = opt_run;
    s->kernel_name = "optimizer_inplace";
    s->inplace_input = 2;
    return OG_OK;
}

/* ---- descriptors ------------------------------------------------------------ */
static const char *const momentum_modes[] = { "standard", "nesterov", NULL };

#define OPT_F(field, req, def) \
    { .name = #field, .type = OG_ATTR_FLOAT, .offset = offsetof(opt_params, field), .required = (req), .def_f = (def) }

static const og_attr_spec momentum_attrs[] = {
    OPT_F(alpha, true, 0), OPT_F(beta, true, 0), OPT_F(norm_coefficient, true, 0),
    { .name = "mode", .type = OG_ATTR_STRING, .offset = offsetof(opt_params, mode), .required = true,
      .choices = momentum_modes },
};
static const og_attr_spec adam_attrs[] = {
    OPT_F(alpha, false, 0.9f), OPT_F(beta, false, 0.999f), OPT_F(epsilon, false, 1e-6f),
    OPT_F(norm_coefficient, false, 0), OPT_F(norm_coefficient_post, false, 0),
};
static const og_attr_spec adagrad_attrs[] = {
    OPT_F(decay_factor, false, 0), OPT_F(epsilon, false, 1e-6f), OPT_F(norm_coefficient, false, 0),
};

#define OPT_OP(var, NAME, kind, attrs_, n_states)                                                               \
    const og_op og_op_##var = {                                                                                 \
        .name = NAME, .domain = OPT_DOMAIN, .since_version = 1,                                                 \
        .min_inputs = 2 + 2 + (n_states), .max_inputs = OG_MAX_IO,                                              \
        .min_outputs = 1 + (n_states), .max_outputs = OG_MAX_IO,                                                \
        .diff_inputs = 0, .diff_outputs = 0,                                                                    \
        .attrs = attrs_, .n_attrs = (int)(sizeof attrs_ / sizeof attrs_[0]), .params_size = sizeof(opt_params), \
        .infer = opt_infer, .run = opt_run, .select = opt_select, .impl = &kind,                                \
    };

OPT_OP(momentum, "Momentum", momentum_kind, momentum_attrs, 1)
OPT_OP(adam, "Adam", adam_kind, adam_attrs, 2)
OPT_OP(adagrad, "Adagrad", adagrad_kind, adagrad_attrs, 1)
