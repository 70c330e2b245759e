/* SPDX-License-Identifier: MIT */
/* BatchNormalization — normalises X [N, C, D1, ...] per channel:
 *   Y = scale (X - mean) / sqrt(var + epsilon) + B.
 * Inference uses the given mean and var. Training uses the batch's
 * statistics (mean and population variance over N and the spatial axes)
 * and outputs the running statistics
 *   running_mean = momentum * mean + (1 - momentum) * batch_mean
 *   running_var  = momentum * var  + (1 - momentum) * batch_var.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#BatchNormalization
 *
 * Versions: 1 (consumed_inputs, is_test, spatial), 6 (consumed_inputs
 * dropped), 7 (is_test dropped), 9 (spatial dropped), 14 (training_mode;
 * outputs Y, running_mean, running_var), 15 (types). Before 14, outputs
 * Y, mean, var, saved_mean, saved_var: the node trains when it asks for any
 * output besides Y (as ONNX Runtime reads it; is_test = 1 with such
 * outputs is an error), mean/var are the running statistics and
 * saved_mean/saved_var the batch mean and variance. spatial = 0 (opsets
 * 1-7) normalises every activation over N alone: scale, B, mean and var
 * then have X's shape without N. epsilon (1e-5), momentum (0.9). Types:
 * float and double, every input alike (opset 15's mixed T/T1/T2 types are
 * refused as not implemented).
 *
 * Backward (torch.nn.functional.batch_norm's, which the op exports from).
 * Inference: a per-channel affine map, k = scale / sqrt(var + eps):
 *   dX = dY k, dscale = sum dY x̂, dB = sum dY,
 * and the given statistics' gradients dmean = -k sum dY and
 * dvar = -scale/2 (var+eps)^-3/2 sum dY (X - mean). PyTorch keeps running
 * statistics as buffers without gradients; onnxgrad differentiates them
 * because the graph says Y depends on them (ask only for X, scale and B to
 * get PyTorch's gradients). 1/sqrt(var + eps) is computed in the gradient
 * graph by a BatchNormalization of ones (no Sqrt/Div needed).
 * Training (opsets 14+): the batch statistics come from a
 * LayerNormalization over the channel-first transpose of X, and
 *   dX = invstd (g - mean(g) - x̂ mean(g x̂)), g = dY scale,
 * plus the running outputs' gradients through the batch mean and variance
 * ((1 - momentum) each); d mean = momentum d running_mean, d var = momentum
 * d running_var. The training form before opset 14 (outputs besides Y)
 * has the same rule; the gradient graph (opset 17) holds its copy as
 * training_mode=1 (bn_raise). spatial = 0 has no backward rule: opset 17
 * cannot write it. */
#include <stddef.h>
#include <string.h>
#include "clone.h"
#include "norm_common.h"
#include "kernel.h"

typedef struct bn_params {
    og_ints consumed_inputs;   /* opset 1 */
    float epsilon;
    int64_t is_test;           /* opsets 1-6 */
    float momentum;
    int64_t spatial;           /* opsets 1-8 */
    int64_t training_mode;     /* opsets 14+ */
} bn_params;

static const og_attr_spec bn_attrs[] = {
    {.name = "consumed_inputs", .type = OG_ATTR_INTS, .offset = offsetof(bn_params, consumed_inputs),
     .since_version = 1, .until_version = 5},
    {.name = "epsilon", .type = OG_ATTR_FLOAT, .offset = offsetof(bn_params, epsilon), .def_f = 1e-5f},
    {.name = "is_test", .type = OG_ATTR_INT, .offset = offsetof(bn_params, is_test), .def_i = 0,
     .has_range = true, .min_i = 0, .max_i = 1, .since_version = 1, .until_version = 6},
    {.name = "momentum", .type = OG_ATTR_FLOAT, .offset = offsetof(bn_params, momentum), .def_f = 0.9f},
    {.name = "spatial", .type = OG_ATTR_INT, .offset = offsetof(bn_params, spatial), .def_i = 1,
     .has_range = true, .min_i = 0, .max_i = 1, .since_version = 1, .until_version = 8},
    {.name = "training_mode", .type = OG_ATTR_INT, .offset = offsetof(bn_params, training_mode), .def_i = 0,
     .has_range = true, .min_i = 0, .max_i = 1, .since_version = 14},
};

static const char *const bn_in_role[5] = { "X", "scale", "B", "mean", "var" };

static bool bn_spatial(const bn_params *p, int opset) { return opset >= 9 || p->spatial != 0; }

static og_status bn_infer(og_infer_call *c)
{
    const bn_params *p = c->params;
    const og_tinfo *x = c->in[0];
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    og_dtype t;
    og_status st;
    if ((st = og_norm_types(c, &t)))
        return st;
    bool extra = false;
    for (int k = 1; k < c->n_out; k++)
        extra = extra || c->out[k] != NULL;
    if (c->opset >= 14) {
        if (c->n_out > 3)
            return og_node_err(c->node, OG_ERR_INVALID_GRAPH, "has %d outputs, expected at most 3 (Y, running_mean, "
                               "running_var) at opset %d", c->n_out, c->opset);
        if (extra && !p->training_mode)
            return og_node_err(c->node, OG_ERR_INVALID_GRAPH, "outputs running_mean/running_var are only valid with "
                               "training_mode=1");
    } else if (c->opset <= 6 && extra && p->is_test)
        return og_node_err(c->node, OG_ERR_INVALID_GRAPH, "is_test=1, but the node asks for the training outputs "
                           "(mean, var, saved_mean, saved_var)");
    int r = x->shape.rank;
    if (r >= 0 && r < 2)
        return og_node_err(c->node, OG_ERR_SHAPE, "input X '%s' has shape %s, expected rank >= 2 [N, C, ...]",
                           c->in_names[0] ? c->in_names[0] : "?", og_shape_str(&x->shape, b1, sizeof b1));
    /* the parameters' shape: [C], or X's without N when spatial = 0 */
    bool spatial = bn_spatial(p, c->opset);
    og_shape ps = { .rank = -1 };
    if (r >= 2) {
        ps.rank = spatial ? 1 : r - 1;
        for (int d = 0; d < ps.rank; d++)
            ps.dims[d] = x->shape.dims[d + 1];
    }
    for (int k = 1; k < 5; k++) {
        const og_shape *s = &c->in[k]->shape;
        if (s->rank < 0 || ps.rank < 0)
            continue;
        bool ok = s->rank == ps.rank;
        for (int d = 0; ok && d < ps.rank; d++)
            ok = s->dims[d] < 0 || ps.dims[d] < 0 || s->dims[d] == ps.dims[d];
        if (!ok)
            return og_node_err(c->node, OG_ERR_SHAPE, "input %s '%s' has shape %s, expected %s (X of shape %s%s)",
                               bn_in_role[k], c->in_names[k] ? c->in_names[k] : "?", og_shape_str(s, b1, sizeof b1),
                               og_shape_str(&ps, b2, sizeof b2), og_shape_str(&x->shape, b1 + 200, sizeof b1 - 200),
                               spatial ? "" : ", spatial=0");
    }
    c->workspace_bytes = 0;
    if (c->out[0])
        *c->out[0] = *x;
    for (int k = 1; k < c->n_out; k++)
        if (c->out[k]) {
            c->out[k]->dtype = t;
            c->out[k]->shape = ps;
        }
    return OG_OK;
}

static bool bn_training(const bn_params *p, int opset, int n_out, const og_tensor *const *out)
{
    if (opset >= 14)
        return p->training_mode != 0;
    for (int k = 1; k < n_out; k++)
        if (out[k])
            return true;
    return false;
}

static og_status bn_job(const og_kernel_call *k, og_norm_job *j)
{
    const bn_params *p = k->params;
    const og_tensor *x = k->in[0];
    memset(j, 0, sizeof *j);
    bool spatial = bn_spatial(p, k->opset);
    if (x->rank < 2)
        return og_node_err(k->node, OG_ERR_INTERNAL, "kernel got inputs that inference should have rejected");
    j->dtype = x->dtype;
    j->A = x->dims[0];
    j->C = 1;
    j->S = 1;
    for (int d = 1; d < x->rank; d++) {
        if (spatial && d >= 2)
            j->S *= x->dims[d];
        else
            j->C *= x->dims[d];
    }
    for (int q = 1; q < 5; q++)
        if (k->in[q]->numel != j->C || k->in[q]->dtype != x->dtype)
            return og_node_err(k->node, OG_ERR_INTERNAL, "kernel got inputs that inference should have rejected");
    j->x = x->data;
    j->y = k->out[0] ? k->out[0]->data : NULL;
    j->scale = k->in[1]->data;
    j->bias = k->in[2]->data;
    j->pn = j->C;
    j->eps = p->epsilon;
    j->momentum = p->momentum;
    if (!bn_training(p, k->opset, k->n_out, (const og_tensor *const *)k->out)) {
        j->in_mean = k->in[3]->data;
        j->in_var = k->in[4]->data;
        return OG_OK;
    }
    j->run_mean_in = k->in[3]->data;
    j->run_var_in = k->in[4]->data;
    j->run_mean = k->n_out > 1 && k->out[1] ? k->out[1]->data : NULL;
    j->run_var = k->n_out > 2 && k->out[2] ? k->out[2]->data : NULL;
    j->out_mean = k->n_out > 3 && k->out[3] ? k->out[3]->data : NULL;
    j->out_var = k->n_out > 4 && k->out[4] ? k->out[4]->data : NULL;
    return OG_OK;
}

static og_status bn_run(const og_kernel_call *k) { return og_norm_run(k, bn_job, false); }
static og_status bn_fast_run(const og_kernel_call *k) { return og_norm_run(k, bn_job, true); }

static og_status bn_select(og_select_call *s)
{
    return og_norm_select(s, bn_fast_run, "batchnorm_lanes_avx512", "batchnorm_lanes_scalar");
}

/* v [C] (or the parameters' shape with spatial = 0) as [1, C, 1, ...]
 * against X of rank r. */
static const char *bn_bc(og_backward_call *b, const char *v, int r)
{
    int64_t dims[OG_MAX_RANK];
    dims[0] = 1;
    dims[1] = -1;
    for (int d = 2; d < r; d++)
        dims[d] = 1;
    const char *ins[2] = { v, og_gb_ints(b, r, dims) };
    return og_gb(b, "Reshape", 2, ins, 0, NULL);
}

static og_status bn_backward(og_backward_call *b)
{
    const bn_params *p = b->params;
    const og_tinfo *xi = &b->in_info[0];
    og_dtype dt = xi->dtype;
    int r = xi->shape.rank;
    bool training = b->opset >= 14 ? p->training_mode != 0 : false;
    for (int k = 1; k < b->n_out && b->opset < 14; k++)
        training = training || b->out[k] != NULL;
    if (b->n_out > 3 && (b->dout[3] || b->dout[4]))   /* bn_raise refuses such a node first */
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "no backward rule through saved_mean/saved_var");
    if (!bn_spatial(p, b->opset))
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "no backward rule for spatial=0");
    if (r < 2)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the rank of X '%s' known", b->in[0]);
    const char *dy = b->dout[0];
    const char *drm = b->n_out > 1 ? b->dout[1] : NULL, *drv = b->n_out > 2 ? b->dout[2] : NULL;
    int64_t red[OG_MAX_RANK];   /* N and the spatial axes */
    red[0] = 0;
    for (int d = 2; d < r; d++)
        red[d - 1] = d;
    const char *X = b->in[0], *scale = b->in[1], *mean = b->in[3], *var = b->in[4];
    if (!training) {
        if (!dy)
            return OG_OK;
        /* inv = BatchNormalization(ones [1, C], scale 1, B 0, mean 0, var) */
        const char *zeros = NULL;
        og_status st = og_grad_zeros_like(b, var, &b->in_info[4], &zeros);
        if (st)
            return st;
        const char *ones = og_gb_add(b, zeros, og_gb_scalar(b, dt, 1.0));
        static const int64_t row[2] = { 1, -1 };
        const char *rs[2] = { ones, og_gb_ints(b, 2, row) };
        const char *bins[5] = { og_gb(b, "Reshape", 2, rs, 0, NULL), ones, zeros, zeros, var };
        og_attr eps = og_attr_float("epsilon", p->epsilon);
        const char *inv = og_gb(b, "BatchNormalization", 5, bins, 1, &eps);   /* [1, C] */
        const char *inv_bc = bn_bc(b, inv, r);
        const char *k_bc = og_gb_mul(b, inv_bc, bn_bc(b, scale, r));
        const char *xc = og_norm_sub(b, dt, X, bn_bc(b, mean, r));
        if (b->need[0])
            b->din[0] = og_gb_mul(b, dy, k_bc);
        if (b->need[1])
            b->din[1] = og_norm_sum(b, og_gb_mul(b, dy, og_gb_mul(b, xc, inv_bc)), r - 1, red, false);
        const char *sdy = b->need[2] || b->need[3] ? og_norm_sum(b, dy, r - 1, red, true) : NULL;
        if (b->need[2])
            b->din[2] = og_norm_sum(b, sdy, r - 1, red, false);
        if (b->need[3])   /* -k sum dY */
            b->din[3] = og_norm_sum(b, og_gb_mul(b, og_gb_mul(b, sdy, k_bc), og_gb_scalar(b, dt, -1.0)), r - 1, red,
                                    false);
        if (b->need[4]) {   /* -1/2 k inv^2 sum dY (X - mean) */
            const char *s = og_norm_sum(b, og_gb_mul(b, dy, xc), r - 1, red, true);
            const char *f = og_gb_mul(b, k_bc, og_gb_mul(b, inv_bc, inv_bc));
            b->din[4] = og_norm_sum(b, og_gb_mul(b, og_gb_mul(b, s, f), og_gb_scalar(b, dt, -0.5)), r - 1, red, false);
        }
        return og_gb_status(b);
    }
    /* training: batch statistics over N and the spatial axes */
    int64_t n = og_norm_prod(&xi->shape, 2, r), nn = xi->shape.dims[0];
    int64_t perm[OG_MAX_RANK];
    for (int d = 0; d < r; d++)
        perm[d] = d;
    perm[0] = 1;
    perm[1] = 0;
    og_attr pa = og_attr_ints("perm", r, perm);
    const char *xt = og_gb(b, "Transpose", 1, &X, 1, &pa);
    const char *bm = NULL, *binv = NULL;
    int64_t tail[OG_MAX_RANK];   /* the transpose's [N, D1, ...] */
    tail[0] = nn;
    for (int d = 2; d < r; d++)
        tail[d - 1] = xi->shape.dims[d];
    /* a dynamic batch (or spatial size): the tail and the count come from
     * X's shape at run time (the last, smaller batch of an epoch) */
    bool dynamic = n < 0 || nn < 0;
    const char *tail_value = NULL, *count_value = NULL;
    if (dynamic) {
        static const int64_t one = 1, end = INT64_MAX;
        const char *ss[3] = { og_gb1(b, "Shape", xt), og_gb_ints(b, 1, &one), og_gb_ints(b, 1, &end) };
        tail_value = og_gb(b, "Slice", 3, ss, 0, NULL);
        og_attr keep = og_attr_int("keepdims", 0), to = og_attr_int("to", dt);
        const char *prod = og_gb(b, "ReduceProd", 1, &tail_value, 1, &keep);
        count_value = og_gb(b, "Cast", 1, &prod, 1, &to);
    }
    og_status st = og_norm_grad_stats(b, dt, xt, 1, p->epsilon, r - 1, dynamic ? NULL : tail, tail_value, &bm, &binv,
                                      NULL);   /* [C, 1, ...] */
    if (st)
        return st;
    const char *m_bc = bn_bc(b, bm, r), *inv_bc = bn_bc(b, binv, r);
    const char *xc = og_norm_sub(b, dt, X, m_bc);
    const char *om = og_gb_scalar(b, dt, 1.0 - (double)p->momentum);
    if (b->need[0]) {
        const char *g = dy ? og_gb_mul(b, dy, bn_bc(b, scale, r)) : NULL;
        const char *dm = drm ? bn_bc(b, og_gb_mul(b, drm, om), r) : NULL;
        const char *dv = drv ? bn_bc(b, og_gb_mul(b, drv, om), r) : NULL;
        b->din[0] = og_norm_grad_x(b, dt, xc, inv_bc, g, r - 1, red, (double)(n * nn), count_value, dm, NULL, dv);
    }
    if (dy && b->need[1])
        b->din[1] = og_norm_sum(b, og_gb_mul(b, dy, og_gb_mul(b, xc, inv_bc)), r - 1, red, false);
    if (dy && b->need[2])
        b->din[2] = og_norm_sum(b, dy, r - 1, red, false);
    const char *mom = og_gb_scalar(b, dt, (double)p->momentum);
    if (drm && b->need[3])
        b->din[3] = og_gb_mul(b, drm, mom);
    if (drv && b->need[4])
        b->din[4] = og_gb_mul(b, drv, mom);
    return og_gb_status(b);
}

/* Raising to opset 14+ (as gradient graphs do): the old training form
 * (outputs besides Y) becomes training_mode=1 with Y, running_mean and
 * running_var, which compute the same; saved_mean and saved_var have no
 * place there, so a node whose graph reads them is refused, as is
 * spatial = 0, which no later opset can express. */
static og_status bn_raise(const og_graph *g, const og_node *n, int opset, og_node_copy *c)
{
    const bn_params *p = n->params;
    if (!bn_spatial(p, n->opset) && opset >= 9)
        return og_node_err(n, OG_ERR_UNSUPPORTED, "spatial=0 (opset %d) normalises each activation separately, "
                           "which an opset-%d copy (as gradient graphs use) cannot express", n->opset, opset);
    if (n->opset >= 14 || opset < 14)
        return OG_OK;
    bool training = false;
    for (int k = 1; k < n->n_outputs; k++)
        training = training || n->outputs[k] >= 0;
    if (!training)
        return OG_OK;
    for (int k = 3; k < n->n_outputs; k++) {
        int v = n->outputs[k];
        bool read = v >= 0 && g->values[v].is_output;
        for (int i = 0; v >= 0 && !read && i < g->n_nodes; i++)
            for (int q = 0; q < g->nodes[i].n_inputs && !read; q++)
                read = g->nodes[i].inputs[q] == v;
        if (read)
            return og_node_err(n, OG_ERR_UNSUPPORTED, "output %d '%s' (%s) of the opset-%d training form is read, "
                               "and an opset-%d copy (as gradient graphs use) has no such output", k,
                               g->values[v].name, k == 3 ? "saved_mean" : "saved_var", n->opset, opset);
    }
    if (c->n_outputs > 3)
        c->n_outputs = 3;
    if (c->n_attrs >= c->cap_attrs)
        return og_err(OG_ERR_INTERNAL, "node '%s': no room for training_mode", n->name);
    c->attrs[c->n_attrs++] = og_attr_int("training_mode", 1);
    return OG_OK;
}

/* Training: batch statistics (training_mode=1), and running_mean and
 * running_var (inputs 3 and 4) become state the step updates through
 * outputs 1 and 2, as torch.nn.BatchNorm2d.train() does. */
static og_status bn_training_form(const og_node *n, og_training_form *f)
{
    (void)n;
    f->set_attrs[f->n_set_attrs++] = og_attr_int("training_mode", 1);
    f->state_input[0] = 3, f->state_output[0] = 1;
    f->state_input[1] = 4, f->state_output[1] = 2;
    f->n_states = 2;
    return OG_OK;
}

/* FLOPs: a multiply and an add per element (the per-channel scale and
 * shift); training mode adds the batch mean and variance, 3 per element. */
static og_status bn_cost(og_cost_call *c)
{
    int64_t n = og_cost_numel(&c->in[0]->shape);
    c->flops = og_cost_mul(n, c->n_out > 1 && c->out[1] ? 5 : 2);
    return OG_OK;
}

const og_op og_op_batchnorm = {
    .name = "BatchNormalization",
    .domain = "",
    .since_version = 1,
    .min_inputs = 5, .max_inputs = 5,
    .min_outputs = 1, .max_outputs = 5,
    .diff_inputs = 0x1F,
    .diff_outputs = 0x7,
    .attrs = bn_attrs,
    .n_attrs = (int)(sizeof bn_attrs / sizeof bn_attrs[0]),
    .params_size = sizeof(bn_params),
    .infer = bn_infer,
    .run = bn_run,
    .backward = bn_backward,
    .raise = bn_raise,
    .select = bn_select,
    .training_form = bn_training_form,
    .cost = bn_cost,
};
