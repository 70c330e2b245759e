/* SPDX-License-Identifier: MIT */
/* InstanceNormalization — normalises each (n, c) plane of X [N, C, D1, ...]
 * over its spatial axes: y = scale[c] (x - mean) / sqrt(var + epsilon) + B[c]
 * (population variance).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#InstanceNormalization
 *
 * Versions: 1 (legacy consumed_inputs attribute, ignored), 6 (dropped);
 * epsilon (default 1e-5). X of rank >= 3, scale and B of shape [C]. Types:
 * float and double, all inputs alike.
 *
 * Backward (torch.nn.functional.instance_norm's): the statistics come from
 * a LayerNormalization over axes [2, r) (Scale 1) in the gradient graph,
 * then with x̂ = (x - mean) invstd, g = dY scale[c],
 * dX = invstd (g - mean(g) - x̂ mean(g x̂)), dscale = sum dY x̂,
 * dB = sum dY (over N and the spatial axes). */
#include <stddef.h>
#include <string.h>
#include "norm_common.h"
#include "kernel.h"

typedef struct in_params {
    og_ints consumed_inputs;   /* opset 1 only */
    float epsilon;
} in_params;

static const og_attr_spec in_attrs[] = {
    {.name = "consumed_inputs", .type = OG_ATTR_INTS, .offset = offsetof(in_params, consumed_inputs),
     .since_version = 1, .until_version = 5},
    {.name = "epsilon", .type = OG_ATTR_FLOAT, .offset = offsetof(in_params, epsilon), .def_f = 1e-5f},
};

static og_status in_infer(og_infer_call *c)
{
    const og_tinfo *x = c->in[0];
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    og_dtype t;
    og_status st;
    if ((st = og_norm_types(c, &t)))
        return st;
    int r = x->shape.rank;
    if (r >= 0 && r < 3)
        return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has shape %s, expected rank >= 3 [N, C, D1, ...]",
                           c->in_names[0] ? c->in_names[0] : "?", og_shape_str(&x->shape, b1, sizeof b1));
    int64_t ch = r >= 2 ? x->shape.dims[1] : -1;
    for (int k = 1; k < 3; k++) {
        const og_shape *p = &c->in[k]->shape;
        if (p->rank >= 0 && (p->rank != 1 || (ch >= 0 && p->dims[0] >= 0 && p->dims[0] != ch)))
            return og_node_err(c->node, OG_ERR_SHAPE, "input %s '%s' has shape %s, expected [C] = [%lld] (input of "
                               "shape %s)", k == 1 ? "scale" : "B", c->in_names[k] ? c->in_names[k] : "?",
                               og_shape_str(p, b1, sizeof b1), (long long)ch, og_shape_str(&x->shape, b2, sizeof b2));
    }
    c->workspace_bytes = 0;
    if (c->out[0])
        *c->out[0] = *x;
    return OG_OK;
}

static og_status in_job(const og_kernel_call *k, og_norm_job *j)
{
    const in_params *p = k->params;
    const og_tensor *x = k->in[0];
    memset(j, 0, sizeof *j);
    if (x->rank < 3 || k->in[1]->numel != x->dims[1] || k->in[2]->numel != x->dims[1])
        return og_node_err(k->node, OG_ERR_INTERNAL, "kernel got inputs that inference should have rejected");
    j->dtype = x->dtype;
    j->A = 1;
    j->C = x->dims[0] * x->dims[1];
    j->S = x->numel / (j->C > 0 ? j->C : 1);
    if (j->C == 0)
        j->S = 0;
    j->x = x->data;
    j->y = k->out[0] ? k->out[0]->data : NULL;
    j->scale = k->in[1]->data;
    j->bias = k->in[2]->data;
    j->pn = x->dims[1];
    j->eps = p->epsilon;
    return OG_OK;
}

static og_status in_run(const og_kernel_call *k) { return og_norm_run(k, in_job, false); }
static og_status in_fast_run(const og_kernel_call *k) { return og_norm_run(k, in_job, true); }

static og_status in_select(og_select_call *s)
{
    return og_norm_select(s, in_fast_run, "instancenorm_lanes_avx512", "instancenorm_lanes_scalar");
}

static og_status in_backward(og_backward_call *b)
{
    const in_params *p = b->params;
    const og_tinfo *xi = &b->in_info[0];
    og_dtype dt = xi->dtype;
    int r = xi->shape.rank;
    const char *dy = b->dout[0];
    if (!dy)
        return OG_OK;
    if (r < 3)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the rank of input '%s' known", b->in[0]);
    int64_t n = og_norm_prod(&xi->shape, 2, r);
    if (n < 0)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the spatial dims of input '%s' known",
                           b->in[0]);
    const char *mean, *inv;
    og_status st = og_norm_grad_stats(b, dt, b->in[0], 2, p->epsilon, r - 2, xi->shape.dims + 2, NULL, &mean, &inv,
                                      NULL);
    if (st)
        return st;
    int64_t axes[OG_MAX_RANK], red[OG_MAX_RANK], bshape[OG_MAX_RANK];
    red[0] = 0;
    bshape[0] = -1;
    for (int d = 2; d < r; d++) {
        axes[d - 2] = d;
        red[d - 1] = d;
        bshape[d - 1] = 1;
    }
    const char *xc = og_norm_sub(b, dt, b->in[0], mean);
    if (b->need[0]) {   /* scale as [C, 1, ...] against [N, C, D...] */
        const char *ins[2] = { b->in[1], og_gb_ints(b, r - 1, bshape) };
        const char *g = og_gb_mul(b, dy, og_gb(b, "Reshape", 2, ins, 0, NULL));
        b->din[0] = og_norm_grad_x(b, dt, xc, inv, g, r - 2, axes, (double)n, NULL, NULL, NULL, NULL);
    }
    if (b->need[1])
        b->din[1] = og_norm_sum(b, og_gb_mul(b, dy, og_gb_mul(b, xc, inv)), r - 1, red, false);
    if (b->need[2])
        b->din[2] = og_norm_sum(b, dy, r - 1, red, false);
    return og_gb_status(b);
}

const og_op og_op_instancenorm = {
    .name = "InstanceNormalization",
    .domain = "",
    .since_version = 1,
    .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x7,
    .diff_outputs = 0x1,
    .attrs = in_attrs,
    .n_attrs = (int)(sizeof in_attrs / sizeof in_attrs[0]),
    .params_size = sizeof(in_params),
    .infer = in_infer,
    .run = in_run,
    .backward = in_backward,
    .select = in_select,
};
