/* SPDX-License-Identifier: MIT */
/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#NegativeLogLikelihoodLoss
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#SoftmaxCrossEntropyLoss
 *
 * Input [N, C] or [N, C, d1, ..., dk], target/labels [N] or [N, d1, ..., dk]
 * (int32 or int64), optional weight [C]. Per position p = (n, d...) with
 * class t = target[p]: loss[p] = -weight[t] * input[n, t, d...] (weight 1
 * when absent), and 0 with weight 0 where t == ignore_index. reduction:
 * "none" (loss, shaped like target), "sum", or "mean" (the default): the sum
 * divided by the sum of the weights of the positions not ignored (0/0 = NaN
 * when every position is ignored, as ONNX's reference and PyTorch).
 * SoftmaxCrossEntropyLoss applies LogSoftmax along axis 1 first, and its
 * optional second output log_prob is that LogSoftmax.
 * Versions: both ops 12 and 13 (13 only widens the types to bfloat16);
 * both implemented. Types: float, double; float16/bfloat16 cannot be held.
 * A target outside [0, C) that is not ignore_index is OG_ERR_INVALID_ARG
 * at run time, before anything is written.
 *
 * Sums (sum/mean) accumulate in double in position order: deterministic.
 *
 * Backward, w.r.t. the input/scores only: the target carries no gradient,
 * and the weight is not differentiable here (its diff_inputs bit is clear,
 * as PyTorch's nll_loss has no weight gradient), so asking for it is an
 * error. With Tc = target where not ignored (0 where ignored), w =
 * weight[Tc] (Gather over the flattened target) times the not-ignored mask,
 * g = dLoss * w (divided by sum(w) for mean):
 *   NLL: dInput = ScatterElements(zeros, Tc, -g, axis 1)
 *   SCE: dLogProb = that + the gradient flowing into log_prob, then through
 *        the LogSoftmax: dScores = dLogProb - exp(LogProb) ReduceSum(dLogProb, 1)
 * which is torch.nn.functional.nll_loss / cross_entropy's gradient. */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"
#include "reduce.h"

typedef struct loss_params {
    const char *reduction;
    int64_t ignore_index;
    bool has_ignore;
} loss_params;

static const char *const loss_reductions[] = { "none", "sum", "mean", NULL };

static const og_attr_spec loss_attrs[] = {
    { .name = "reduction", .type = OG_ATTR_STRING, .offset = offsetof(loss_params, reduction), .def_s = "mean",
      .choices = loss_reductions },
    { .name = "ignore_index", .type = OG_ATTR_INT, .offset = offsetof(loss_params, ignore_index),
      .track_present = true, .present_offset = offsetof(loss_params, has_ignore) },
};

static const char *nm(const char *const *names, int k) { return names[k] ? names[k] : "?"; }

static og_status loss_infer_form(og_infer_call *c, bool sce)
{
    const loss_params *p = c->params;
    const og_tinfo *x = c->in[0], *t = c->in[1], *w = c->n_in > 2 ? c->in[2] : NULL;
    const char *role = sce ? "scores" : "input";
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    int r = x->shape.rank;

    c->workspace_bytes = 0;
    for (int k = 0; k < 3; k += 2) {
        const og_tinfo *v = c->n_in > k ? c->in[k] : NULL;
        if (v == NULL)
            continue;
        if (v->dtype == OG_FLOAT16 || v->dtype == OG_BFLOAT16)
            return og_node_err(c->node, OG_ERR_UNSUPPORTED, "input '%s' has type %s, which onnxgrad cannot hold; "
                               "expected float or double", nm(c->in_names, k), og_dtype_name(v->dtype));
        if (v->dtype != OG_UNDEFINED && v->dtype != OG_FLOAT && v->dtype != OG_DOUBLE)
            return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has type %s, expected float or double",
                               nm(c->in_names, k), og_dtype_name(v->dtype));
    }
    if (w && w->dtype != OG_UNDEFINED && x->dtype != OG_UNDEFINED && w->dtype != x->dtype)
        return og_node_err(c->node, OG_ERR_SHAPE, "weight '%s' has type %s, expected the type of %s '%s' (%s)",
                           nm(c->in_names, 2), og_dtype_name(w->dtype), role, nm(c->in_names, 0),
                           og_dtype_name(x->dtype));
    if (t->dtype != OG_UNDEFINED && t->dtype != OG_INT32 && t->dtype != OG_INT64)
        return og_node_err(c->node, OG_ERR_SHAPE, "target '%s' has type %s, expected int32 or int64",
                           nm(c->in_names, 1), og_dtype_name(t->dtype));
    if (r >= 0 && r < 2)
        return og_node_err(c->node, OG_ERR_SHAPE, "%s '%s' has shape %s, expected [N, C] or [N, C, d1, ...]", role,
                           nm(c->in_names, 0), og_shape_str(&x->shape, b1, sizeof b1));
    if (r >= 0 && t->shape.rank >= 0) {
        bool ok = t->shape.rank == r - 1;
        for (int d = 0; ok && d < r - 1; d++) {
            int64_t a = t->shape.dims[d], e = x->shape.dims[d == 0 ? 0 : d + 1];
            ok = a < 0 || e < 0 || a == e;
        }
        if (!ok)
            return og_node_err(c->node, OG_ERR_SHAPE, "target '%s' has shape %s, expected %s '%s''s shape %s "
                               "without its class axis 1", nm(c->in_names, 1), og_shape_str(&t->shape, b1, sizeof b1),
                               role, nm(c->in_names, 0), og_shape_str(&x->shape, b2, sizeof b2));
    }
    if (w && w->shape.rank >= 0) {
        int64_t C = r >= 2 ? x->shape.dims[1] : -1;
        if (w->shape.rank != 1 || (C >= 0 && w->shape.dims[0] >= 0 && w->shape.dims[0] != C))
            return og_node_err(c->node, OG_ERR_SHAPE, "weight '%s' has shape %s, expected [C] with C = %lld",
                               nm(c->in_names, 2), og_shape_str(&w->shape, b1, sizeof b1), (long long)C);
    }
    og_tinfo *y = c->out[0];
    if (y) {
        y->dtype = x->dtype;
        if (strcmp(p->reduction, "none") != 0) {
            y->shape.rank = 0;
        } else if (r >= 2) {
            y->shape.rank = r - 1;
            y->shape.dims[0] = x->shape.dims[0];
            for (int d = 2; d < r; d++)
                y->shape.dims[d - 1] = x->shape.dims[d];
        } else {
            y->shape = t->shape;
        }
    }
    if (sce && c->n_out > 1 && c->out[1])
        *c->out[1] = *x;
    if (sce && og_shape_known(&x->shape)) {
        int64_t n = 1;
        for (int d = 0; d < r; d++)
            n *= x->shape.dims[d];
        c->workspace_bytes = (size_t)n * og_dtype_size(x->dtype);
    }
    return OG_OK;
}

static inline int64_t target_at(const og_tensor *t, int64_t i)
{
    return t->dtype == OG_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

static inline double at(og_dtype dt, const void *d, int64_t i)
{
    return dt == OG_FLOAT ? ((const float *)d)[i] : ((const double *)d)[i];
}

/* NLL over log-probabilities lp [N, C, D] (dtype dt) into y. */
static og_status nll_compute(const og_kernel_call *k, og_dtype dt, const void *lp, const int64_t *xdims, int xr,
                             og_tensor *y)
{
    const loss_params *p = k->params;
    const og_tensor *t = k->in[1], *w = k->n_in > 2 ? k->in[2] : NULL;
    int64_t N = xdims[0], C = xdims[1], D = 1;
    for (int d = 2; d < xr; d++)
        D *= xdims[d];
    if (t->numel != N * D || (w && w->numel != C))
        return og_node_err(k->node, OG_ERR_INTERNAL, "target or weight sizes differ from the planned ones");
    /* every target checked before anything is written */
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t c = target_at(t, i);
        if ((c < 0 || c >= C) && !(p->has_ignore && c == p->ignore_index))
            return og_node_err(k->node, OG_ERR_INVALID_ARG, "target (input 1) has %lld at position %lld, "
                               "expected a class in [0, %lld]%s", (long long)c,
                               (long long)i, (long long)(C - 1), p->has_ignore ? " or ignore_index" : "");
    }
    bool none = strcmp(p->reduction, "none") == 0, mean = strcmp(p->reduction, "mean") == 0;
    if (y == NULL)
        return OG_OK;
    if (y->numel != (none ? N * D : 1) || y->dtype != dt)
        return og_node_err(k->node, OG_ERR_INTERNAL, "output size differs from the planned one");
    double sum = 0, wsum = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            int64_t i = n * D + d, c = target_at(t, i);
            double l = 0, wt = 0;
            if (!(p->has_ignore && c == p->ignore_index)) {
                wt = w ? at(dt, w->data, c) : 1.0;
                l = -wt * at(dt, lp, (n * C + c) * D + d);
            }
            if (none) {
                if (dt == OG_FLOAT)
                    ((float *)y->data)[i] = (float)l;
                else
                    ((double *)y->data)[i] = l;
            }
            sum += l;
            wsum += wt;
        }
    if (!none) {
        double v = mean ? sum / wsum : sum;
        if (dt == OG_FLOAT)
            *(float *)y->data = (float)v;
        else
            *(double *)y->data = v;
    }
    return OG_OK;
}

static og_status nll_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0];
    return nll_compute(k, x->dtype, x->data, x->dims, x->rank, k->out[0]);
}

static og_status sce_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0];
    og_tensor *lp = k->n_out > 1 ? k->out[1] : NULL;
    size_t bytes = (size_t)x->numel * og_dtype_size(x->dtype);
    void *buf = lp ? lp->data : k->workspace;
    if ((lp && (lp->numel != x->numel || lp->dtype != x->dtype)) || (!lp && k->workspace_bytes < bytes) ||
        x->rank < 2)
        return og_node_err(k->node, OG_ERR_INTERNAL, "log_prob or its workspace differs from the planned size");
    int64_t D = 1;
    for (int d = 2; d < x->rank; d++)
        D *= x->dims[d];
    og_softmax_rows(x->dtype, x->data, buf, x->dims[0], x->dims[1], D, true, k->n_threads);
    return nll_compute(k, x->dtype, buf, x->dims, x->rank, k->out[0]);
}

/* A rank-0 integer constant of the target's type. */
static const char *int_scalar(og_backward_call *b, og_dtype dt, int64_t v)
{
    og_tensor *t;
    int32_t v32 = (int32_t)v;
    if (b->status)
        return NULL;
    if ((b->status = og_tensor_create_from(dt, 0, NULL, dt == OG_INT32 ? (const void *)&v32 : (const void *)&v, &t)))
        return NULL;
    og_attr a = og_attr_tensor("value", t);
    const char *out = og_gb(b, "Constant", 0, NULL, 1, &a);
    og_tensor_free(t);
    return out;
}

static og_status loss_backward_form(og_backward_call *b, bool sce)
{
    const loss_params *p = b->params;
    const og_tinfo *xi = &b->in_info[0], *ti = &b->in_info[1];
    const char *x = b->in[0], *t = b->in[1], *w = b->n_in > 2 ? b->in[2] : NULL;
    const char *dl = b->dout[0], *dlp = sce && b->n_out > 1 ? b->dout[1] : NULL, *g_lp = NULL;
    int r = xi->shape.rank;
    og_dtype dt = xi->dtype;
    og_status st;

    if (!b->need[0] || (!dl && !dlp))
        return OG_OK;
    if (r < 2)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the rank of '%s' known", x);
    if (dl) {
        const char *tc = t, *mask = NULL, *shape_t, *zeros;
        if ((st = og_grad_shape_of(b, t, ti, &shape_t)) || (st = og_grad_zeros_like(b, x, xi, &zeros)))
            return st;
        if (p->has_ignore) {
            const char *ign = og_gb2(b, "Equal", t, int_scalar(b, ti->dtype, p->ignore_index));
            tc = og_gb(b, "Where", 3, (const char *const[]){ ign, int_scalar(b, ti->dtype, 0), t }, 0, NULL);
            mask = og_gb(b, "Where", 3, (const char *const[]){ ign, og_gb_scalar(b, dt, 0.0),
                         og_gb_scalar(b, dt, 1.0) }, 0, NULL);
        }
        const char *wt;
        if (w) {
            og_attr a0 = og_attr_int("axis", 0);
            const char *flat = og_gb2(b, "Reshape", tc, og_gb_ints(b, 1, (const int64_t[]){ -1 }));
            wt = og_gb2(b, "Reshape", og_gb(b, "GatherElements", 2, (const char *const[]){ w, flat }, 1, &a0),
                        shape_t);
            if (mask)
                wt = og_gb_mul(b, wt, mask);
        } else {
            wt = mask ? mask : og_gb2(b, "Expand", og_gb_scalar(b, dt, 1.0), shape_t);
        }
        const char *g = og_gb_mul(b, dl, wt);
        if (strcmp(p->reduction, "mean") == 0) {
            og_attr keep0 = og_attr_int("keepdims", 0);
            g = og_gb_div(b, g, og_gb(b, "ReduceSum", 1, &wt, 1, &keep0));
        }
        bool red[OG_MAX_RANK] = { false, true };
        const char *ks = og_red_keep_shape(b, x, xi, red);
        og_attr a1 = og_attr_int("axis", 1);
        g_lp = og_gb(b, "ScatterElements", 3, (const char *const[]){ zeros, og_gb2(b, "Reshape", tc, ks),
                     og_gb2(b, "Reshape", og_gb_mul(b, g, og_gb_scalar(b, dt, -1.0)), ks) }, 1, &a1);
    }
    if (dlp)
        g_lp = g_lp ? og_gb_add(b, g_lp, dlp) : dlp;
    if (!sce) {
        b->din[0] = g_lp;
    } else {
        const char *lp;
        if ((st = og_grad_forward_output(b, 1, &lp)))
            return st;
        b->din[0] = og_logsoftmax_grad(b, lp, g_lp, 1, (const int64_t[]){ 1 });
    }
    return og_gb_status(b);
}

static og_status nll_infer(og_infer_call *c) { return loss_infer_form(c, false); }
static og_status sce_infer(og_infer_call *c) { return loss_infer_form(c, true); }
static og_status nll_backward(og_backward_call *b) { return loss_backward_form(b, false); }
static og_status sce_backward(og_backward_call *b) { return loss_backward_form(b, true); }

const og_op og_op_negativeloglikelihoodloss = {
    .name = "NegativeLogLikelihoodLoss", .domain = "", .since_version = 12,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1, .diff_outputs = 0x1, .attrs = loss_attrs,
    .n_attrs = (int)(sizeof loss_attrs / sizeof loss_attrs[0]), .params_size = sizeof(loss_params),
    .infer = nll_infer, .run = nll_run, .backward = nll_backward,
};

const og_op og_op_softmaxcrossentropyloss = {
    .name = "SoftmaxCrossEntropyLoss", .domain = "", .since_version = 12,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 2,
    .diff_inputs = 0x1, .diff_outputs = 0x3, .attrs = loss_attrs,
    .n_attrs = (int)(sizeof loss_attrs / sizeof loss_attrs[0]), .params_size = sizeof(loss_params),
    .infer = sce_infer, .run = sce_run, .backward = sce_backward,
};
