/* SPDX-License-Identifier: MIT */
/* Squeeze — removes size-1 axes of `data`: the listed `axes` (each must
 * have size 1), or, without axes, every axis of size 1. The data is not
 * touched: the compiled plan makes the output a view of the input.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Squeeze
 *
 * Versions: 1 (axes attribute, non-negative), 11 (negative axes count from
 * the back), 13 (axes become an optional int64 input; bfloat16). Every type
 * onnxgrad holds. Repeated or out-of-range axes, and a listed axis whose
 * size is not 1, are errors.
 *
 * Backward (torch.squeeze's): dX = Reshape(dY, shape of X). */
#include <stddef.h>
#include "shape_family.h"

typedef struct squeeze_params {
    og_ints axes;   /* opsets 1-12 */
} squeeze_params;

static const og_attr_spec squeeze_attrs[] = {
    { .name = "axes", .type = OG_ATTR_INTS, .offset = offsetof(squeeze_params, axes), .until_version = 12,
      .to_input = true },
};

static og_status squeeze_infer(og_infer_call *c)
{
    const squeeze_params *p = c->params;
    const og_tinfo *x = c->in[0];
    int64_t axes[OG_MAX_RANK], n = -1;
    bool present = false, mark[OG_MAX_RANK];
    char buf[OG_SHAPE_STR_MAX];
    og_status st;

    if ((st = sf_axes_of(c, &p->axes, axes, &n, &present)))
        return st;
    c->workspace_bytes = 0;
    og_tinfo res = { .dtype = x->dtype, .shape = { .rank = -1 } };
    int r = x->shape.rank;
    if (r >= 0 && n >= 0) {
        if ((st = sf_mark_axes(c->node, c->opset, axes, n, r, mark)))
            return st;
        int m = 0;
        bool open = false;
        for (int a = 0; a < r; a++) {
            int64_t d = x->shape.dims[a];
            if (present && n > 0) {
                if (mark[a] && d >= 0 && d != 1)
                    return og_node_err(c->node, OG_ERR_SHAPE, "axis %d of input '%s' (shape %s) has size %lld; "
                                       "only size-1 axes can be squeezed", a, sf_in(c, 0),
                                       og_shape_str(&x->shape, buf, sizeof buf), (long long)d);
                if (!mark[a])
                    res.shape.dims[m++] = d;
            } else {
                open = open || d < 0;   /* an unknown dim may or may not be 1 */
                if (d != 1)
                    res.shape.dims[m++] = d;
            }
        }
        res.shape.rank = open ? -1 : m;
    }
    if (c->out[0])
        *c->out[0] = res;
    return OG_OK;
}

static og_status squeeze_backward(og_backward_call *b)
{
    return sf_reshape_back(b);
}

const og_op og_op_squeeze = {
    .name = "Squeeze",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,   /* axes are integers */
    .diff_outputs = 0x1,
    .attrs = squeeze_attrs,
    .n_attrs = 1,
    .params_size = sizeof(squeeze_params),
    .infer = squeeze_infer,
    .run = sf_copy_run,   /* the node-by-node path copies */
    .backward = squeeze_backward,
    .alias_out0_in0 = true,   /* a compiled plan makes the output a view */
    .cost = og_cost_zero,
};
