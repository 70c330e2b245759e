/* SPDX-License-Identifier: MIT */
/* Unsqueeze — inserts size-1 axes into `data`: output rank is r + len(axes)
 * and every listed axis (of the OUTPUT) has size 1, the input's dims filling
 * the rest in order. The data is not touched: the compiled plan makes the
 * output a view of the input.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Unsqueeze
 *
 * Versions: 1 (axes attribute, required, non-negative), 11 (negative axes
 * count from the back of the output), 13 (axes become a required int64
 * input; bfloat16). Every type onnxgrad holds. Repeated or out-of-range
 * axes are errors.
 *
 * Backward (torch.unsqueeze's): dX = Reshape(dY, shape of X). */
#include <stddef.h>
#include "shape_family.h"

typedef struct unsqueeze_params {
    og_ints axes;   /* opsets 1-12 */
} unsqueeze_params;

static const og_attr_spec unsqueeze_attrs[] = {
    { .name = "axes", .type = OG_ATTR_INTS, .offset = offsetof(unsqueeze_params, axes), .until_version = 12,
      .to_input = true },
};

/* Output shape of x (rank r >= 0) with the n axes inserted. */
static og_status unsqueeze_shape(const og_node *node, int opset, const og_shape *x, const int64_t *axes, int64_t n,
                                 og_shape *out)
{
    bool mark[OG_MAX_RANK];
    og_status st;
    if (x->rank + n > OG_MAX_RANK)
        return og_node_err(node, OG_ERR_LIMIT, "output rank %lld is over onnxgrad's limit %d",
                           (long long)(x->rank + n), OG_MAX_RANK);
    int r = x->rank + (int)n;
    if ((st = sf_mark_axes(node, opset, axes, n, r, mark)) || (st = og_check_rank_limit(r, "Unsqueeze output")))
        return st;
    out->rank = r;
    for (int a = 0, j = 0; a < r; a++)
        out->dims[a] = mark[a] ? 1 : x->dims[j++];
    return OG_OK;
}

static og_status unsqueeze_infer(og_infer_call *c)
{
    const unsqueeze_params *p = c->params;
    const og_tinfo *x = c->in[0];
    int64_t axes[OG_MAX_RANK], n = -1;
    bool present = false;
    og_status st;

    if ((st = sf_axes_of(c, &p->axes, axes, &n, &present)))
        return st;
    if (!present)
        return og_node_err(c->node, c->opset < 13 ? OG_ERR_ATTR : OG_ERR_INVALID_GRAPH,
                           "axes %s is required", c->opset < 13 ? "attribute" : "input");
    c->workspace_bytes = 0;
    og_tinfo res = { .dtype = x->dtype, .shape = { .rank = -1 } };
    if (n >= 0 && x->shape.rank >= 0 && (st = unsqueeze_shape(c->node, c->opset, &x->shape, axes, n, &res.shape)))
        return st;
    if (n >= 0 && x->shape.rank < 0)
        res.shape.rank = -1;
    if (c->out[0])
        *c->out[0] = res;
    return OG_OK;
}

static og_status unsqueeze_backward(og_backward_call *b)
{
    return sf_reshape_back(b);
}

const og_op og_op_unsqueeze = {
    .name = "Unsqueeze",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,   /* axes are integers */
    .diff_outputs = 0x1,
    .attrs = unsqueeze_attrs,
    .n_attrs = 1,
    .params_size = sizeof(unsqueeze_params),
    .infer = unsqueeze_infer,
    .run = sf_copy_run,   /* the node-by-node path copies */
    .backward = unsqueeze_backward,
    .alias_out0_in0 = true,   /* a compiled plan makes the output a view */
    .cost = og_cost_zero,
};
