/* SPDX-License-Identifier: MIT */
/* LayerNormalization — normalises X over its axes [axis, r):
 *   Mean = mean(X), InvStdDev = 1 / sqrt(var(X) + epsilon) (population
 *   variance), Y = (X - Mean) * InvStdDev * Scale + B,
 * Mean and InvStdDev of shape X.shape[:axis] + [1] * (r - axis).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#LayerNormalization
 *
 * Versions: 17 (axis, default -1, in [-r, r-1]; epsilon; stash_type; B
 * and the Mean/InvStdDev outputs optional). Scale and B broadcast over the
 * normalised tail X.shape[axis:] (right-aligned): after leading 1s their
 * dims must be a trailing part of the tail (a 1 in the middle is refused as
 * not implemented). Types: float and double, all inputs alike. Statistics
 * are computed in double whatever stash_type says (1 = float or 11 =
 * double are accepted); Mean and InvStdDev take X's type (the spec's U is
 * float, onnxgrad keeps double for double X so gradient checks stay
 * float64).
 *
 * Backward (torch.nn.functional.layer_norm's, plus the Mean and InvStdDev
 * outputs' own gradients): with x̂ = (X - Mean) * InvStdDev, g = dY * Scale,
 * dX = InvStdDev (g - mean(g) - x̂ mean(g x̂)) + dMean / n
 *      - dInvStdDev InvStdDev^3 (X - Mean) / n,
 * dScale = dY x̂ and dB = dY, each summed back to its shape; the forward's
 * own Mean and InvStdDev outputs are reused (n = the tail's size must be
 * known when the gradient graph is built). */
#include <stddef.h>
#include <string.h>
#include "norm_common.h"
#include "kernel.h"

typedef struct ln_params {
    int64_t axis;
    float epsilon;
    int64_t stash_type;
} ln_params;

static const og_attr_spec ln_attrs[] = {
    {.name = "axis", .type = OG_ATTR_INT, .offset = offsetof(ln_params, axis), .def_i = -1},
    {.name = "epsilon", .type = OG_ATTR_FLOAT, .offset = offsetof(ln_params, epsilon), .def_f = 1e-5f},
    {.name = "stash_type", .type = OG_ATTR_INT, .offset = offsetof(ln_params, stash_type), .def_i = 1},
};

/* The parameter's shape against the tail dims[a..r): leading 1s, then a
 * trailing part of the tail. */
static og_status ln_check_param(const og_infer_call *c, int k, const og_shape *x, int a)
{
    const og_shape *p = &c->in[k]->shape;
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    if (p->rank < 0 || x->rank < 0)
        return OG_OK;
    int lead = 0;
    while (lead < p->rank && p->dims[lead] == 1)
        lead++;
    int n = p->rank - lead, tail = x->rank - a;
    bool ok = n <= tail;
    for (int d = 0; ok && d < n; d++) {
        int64_t pd = p->dims[lead + d], xd = x->dims[x->rank - n + d];
        if (pd >= 0 && xd >= 0 && pd != xd)
            ok = false;
    }
    if (!ok)
        return og_node_err(c->node, OG_ERR_SHAPE, "input %s '%s' has shape %s, expected a shape broadcastable to "
                           "X's normalised tail (X of shape %s, axis %d): leading 1s, then X's trailing dims",
                           k == 1 ? "Scale" : "B", c->in_names[k] ? c->in_names[k] : "?",
                           og_shape_str(p, b1, sizeof b1), og_shape_str(x, b2, sizeof b2), a);
    return OG_OK;
}

static og_status ln_axis(const og_node *node, int64_t axis, int r, int *a)
{
    if (axis < -r || axis >= r)
        return og_node_err(node, OG_ERR_ATTR, "attribute 'axis' is %lld, expected a value in [%d, %d] for X of rank %d",
                           (long long)axis, -r, r - 1, r);
    *a = (int)(axis < 0 ? axis + r : axis);
    return OG_OK;
}

static og_status ln_infer(og_infer_call *c)
{
    const ln_params *p = c->params;
    const og_tinfo *x = c->in[0];
    og_dtype t;
    og_status st;
    if ((st = og_norm_types(c, &t)))
        return st;
    if (p->stash_type != 1 && p->stash_type != 11)
        return og_node_err(c->node, OG_ERR_UNSUPPORTED, "attribute 'stash_type' is %lld; implemented: 1 (float) "
                           "or 11 (double)", (long long)p->stash_type);
    c->workspace_bytes = 0;
    int r = x->shape.rank, a = 0;
    if (r >= 0) {
        if (r == 0)
            return og_node_err(c->node, OG_ERR_SHAPE, "input X '%s' is a scalar, expected rank >= 1",
                               c->in_names[0] ? c->in_names[0] : "?");
        if ((st = ln_axis(c->node, p->axis, r, &a)))
            return st;
        for (int k = 1; k < c->n_in && k < 3; k++)
            if (c->in[k] && (st = ln_check_param(c, k, &x->shape, a)))
                return st;
    }
    if (c->out[0])
        *c->out[0] = *x;
    for (int k = 1; k < 3 && k < c->n_out; k++) {
        og_tinfo *o = c->out[k];
        if (!o)
            continue;
        o->dtype = t;
        o->shape.rank = r;
        for (int d = 0; d < r; d++)
            o->shape.dims[d] = d < a ? x->shape.dims[d] : 1;
    }
    return OG_OK;
}

/* The job for run-time tensors. */
static og_status ln_job(const og_kernel_call *k, og_norm_job *j)
{
    const ln_params *p = k->params;
    const og_tensor *x = k->in[0], *sc = k->in[1], *bi = k->n_in > 2 ? k->in[2] : NULL;
    int a = 0;
    og_status st = ln_axis(k->node, p->axis, x->rank, &a);
    if (st)
        return st;
    memset(j, 0, sizeof *j);
    j->dtype = x->dtype;
    j->A = 1;
    j->C = 1;
    for (int d = 0; d < a; d++)
        j->C *= x->dims[d];
    j->S = 1;
    for (int d = a; d < x->rank; d++)
        j->S *= x->dims[d];
    j->x = x->data;
    j->y = k->out[0] ? k->out[0]->data : NULL;
    j->scale = sc->data;
    j->bias = bi ? bi->data : NULL;
    j->pn = sc->numel;
    j->per_s = true;
    j->eps = p->epsilon;
    j->out_mean = k->n_out > 1 && k->out[1] ? k->out[1]->data : NULL;
    j->out_invstd = k->n_out > 2 && k->out[2] ? k->out[2]->data : NULL;
    if (sc->dtype != x->dtype || (bi && (bi->dtype != x->dtype || bi->numel != sc->numel)) ||
        (j->pn == 0 && j->S > 0) || (j->pn > 0 && j->S % j->pn != 0))
        return og_node_err(k->node, OG_ERR_INTERNAL, "kernel got inputs that inference should have rejected");
    return OG_OK;
}

static og_status ln_run(const og_kernel_call *k)
{
    og_norm_job j;
    og_status st = ln_job(k, &j);
    if (st)
        return st;
    og_norm_exec(&j, 1);
    return OG_OK;
}

static og_status ln_fast_run(const og_kernel_call *k)
{
    og_norm_job j;
    og_status st = ln_job(k, &j);
    if (st)
        return st;
    j.lanes = true;
    og_norm_exec(&j, k->n_threads);
    return OG_OK;
}

static og_status ln_select(og_select_call *s)
{
    if (s->in[0]->dtype != OG_FLOAT || !og_shape_known(&s->in[0]->shape))
        return OG_OK;
    s->run = ln_fast_run;
    s->kernel_name = og_isa_active() == OG_ISA_AVX512 ? "layernorm_lanes_avx512" : "layernorm_lanes_scalar";
    return OG_OK;
}

static og_status ln_backward(og_backward_call *b)
{
    const ln_params *p = b->params;
    const og_tinfo *xi = &b->in_info[0];
    og_dtype dt = xi->dtype;
    int r = xi->shape.rank, a = 0;
    og_status st;
    if (r < 1)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the rank of X '%s' known", b->in[0]);
    if ((st = ln_axis(b->node, p->axis, r, &a)))
        return st;
    int64_t n = og_norm_prod(&xi->shape, a, r);
    if (n < 0)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs X's normalised dims known, X '%s' has "
                           "an unknown dim after axis %d", b->in[0], a);
    const char *dy = b->dout[0], *dmean = b->n_out > 1 ? b->dout[1] : NULL, *dinv = b->n_out > 2 ? b->dout[2] : NULL;
    const char *mean, *inv;
    if ((st = og_grad_forward_output(b, 1, &mean)) || (st = og_grad_forward_output(b, 2, &inv)))
        return st;
    const char *xc = og_norm_sub(b, dt, b->in[0], mean);
    int64_t axes[OG_MAX_RANK];
    for (int d = a; d < r; d++)
        axes[d - a] = d;
    if (b->need[0]) {
        const char *g = dy ? og_gb_mul(b, dy, b->in[1]) : NULL;
        b->din[0] = og_norm_grad_x(b, dt, xc, inv, g, r - a, axes, (double)n, NULL, dmean, dinv, NULL);
    }
    if (dy && b->need[1] && !b->status) {
        const char *gs = og_gb_mul(b, dy, og_gb_mul(b, xc, inv));
        if (gs && (st = og_grad_reduce_to(b, gs, xi, &b->in_info[1], &b->din[1])))
            return st;
    }
    if (dy && b->n_in > 2 && b->in[2] && b->need[2] && !b->status &&
        (st = og_grad_reduce_to(b, dy, xi, &b->in_info[2], &b->din[2])))
        return st;
    return og_gb_status(b);
}

const og_op og_op_layernorm = {
    .name = "LayerNormalization",
    .domain = "",
    .since_version = 17,
    .min_inputs = 2, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 3,
    .diff_inputs = 0x7,
    .diff_outputs = 0x7,
    .attrs = ln_attrs,
    .n_attrs = (int)(sizeof ln_attrs / sizeof ln_attrs[0]),
    .params_size = sizeof(ln_params),
    .infer = ln_infer,
    .run = ln_run,
    .backward = ln_backward,
    .select = ln_select,
};
