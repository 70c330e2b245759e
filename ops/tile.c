/* SPDX-License-Identifier: MIT */
/* Tile — repeats `input` along every axis: output dim a is
 * input dim a * repeats[a], and output[i] = input[i mod input dims].
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Tile
 *
 * Versions: 1 (inputs input, tiles, axis: `tiles` copies along the one
 * axis `axis`, both int64 scalars or 1-element tensors; float types),
 * 6 (repeats: a 1-D int64 input with one value per axis; every type),
 * 13 (bfloat16). Repeats are >= 0 (0 gives an empty axis). Every type
 * onnxgrad holds.
 *
 * Backward (torch's Tensor.repeat): dX = ReduceSum(Reshape(dY, [r0, d0,
 * r1, d1, ...]), axes of the r's, keepdims 0), splitting only the axes
 * with r > 1; repeats and X's dims on those axes must be known when the
 * gradient graph is built. */
#include <stddef.h>
#include "shape_family.h"

/* Per-axis repeats of a node: *known false when an input has no data. */
static og_status tile_repeats(const og_node *node, int opset, int r, const og_tensor *const *v, bool *known,
                              int64_t *rep)
{
    *known = false;
    if (opset < 6) {
        if (!v[1] || !v[2])
            return OG_OK;
        for (int k = 1; k <= 2; k++)
            if ((v[k]->dtype != OG_INT64 && v[k]->dtype != OG_INT32) || v[k]->numel != 1)
                return og_node_err(node, OG_ERR_INVALID_ARG, "input %s must hold one int64 value, got %s of %lld "
                                   "elements", k == 1 ? "tiles" : "axis", og_dtype_name(v[k]->dtype),
                                   (long long)v[k]->numel);
        int64_t t = sf_int_at(v[1], 0), ax = sf_int_at(v[2], 0);
        int a = 0;
        og_status st = sf_axis(node, "input axis", ax, r, false, &a);
        if (st)
            return st;
        for (int d = 0; d < r; d++)
            rep[d] = d == a ? t : 1;
    } else {
        if (!v[1])
            return OG_OK;
        if (v[1]->dtype != OG_INT64 || v[1]->rank != 1 || v[1]->numel != r)
            return og_node_err(node, OG_ERR_INVALID_ARG, "input repeats must be a 1-D int64 tensor of %d values "
                               "(the input's rank), got %s of shape rank %d with %lld values", r,
                               og_dtype_name(v[1]->dtype), v[1]->rank, (long long)v[1]->numel);
        for (int d = 0; d < r; d++)
            rep[d] = ((const int64_t *)v[1]->data)[d];
    }
    for (int d = 0; d < r; d++)
        if (rep[d] < 0)
            return og_node_err(node, OG_ERR_INVALID_ARG, "repeats[%d] is %lld, expected a count >= 0", d,
                               (long long)rep[d]);
    *known = true;
    return OG_OK;
}

static og_status tile_infer(og_infer_call *c)
{
    const og_tinfo *x = c->in[0];
    og_status st;
    int64_t rep[OG_MAX_RANK];
    bool known;

    if ((st = sf_check_holdable(c, 0)))
        return st;
    if (c->opset < 6 && c->n_in != 3)
        return og_node_err(c->node, OG_ERR_INVALID_GRAPH, "opset %d Tile takes inputs (input, tiles, axis), got "
                           "%d inputs", c->opset, c->n_in);
    if (c->opset >= 6 && c->n_in != 2)
        return og_node_err(c->node, OG_ERR_INVALID_GRAPH, "Tile takes inputs (input, repeats), got %d inputs",
                           c->n_in);
    for (int k = 1; k < c->n_in; k++) {
        if (!c->in[k])
            return og_node_err(c->node, OG_ERR_INVALID_GRAPH, "input %d is required", k);
        if (c->in[k]->dtype != OG_UNDEFINED && c->in[k]->dtype != OG_INT64)
            return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has type %s, expected int64", sf_in(c, k),
                               og_dtype_name(c->in[k]->dtype));
    }
    int r = x->shape.rank;
    if (c->opset >= 6 && c->in[1]->shape.rank >= 0 && c->in[1]->shape.rank != 1)
        return og_node_err(c->node, OG_ERR_SHAPE, "input repeats '%s' must be 1-D", sf_in(c, 1));
    if (c->opset >= 6 && r >= 0 && c->in[1]->shape.rank == 1 && c->in[1]->shape.dims[0] >= 0 &&
        c->in[1]->shape.dims[0] != r)
        return og_node_err(c->node, OG_ERR_SHAPE, "input repeats '%s' has %lld values, expected %d (the rank of "
                           "input '%s')", sf_in(c, 1), (long long)c->in[1]->shape.dims[0], r, sf_in(c, 0));
    c->workspace_bytes = 0;
    og_tinfo *y = c->out[0];
    og_tinfo res = *x;
    if (r >= 0) {
        if ((st = tile_repeats(c->node, c->opset, r, c->in_value, &known, rep)))
            return st;
        for (int d = 0; d < r; d++) {
            if (!known) {
                res.shape.dims[d] = -1;
            } else if (x->shape.dims[d] >= 0 && !og_mul_ok(x->shape.dims[d], rep[d], &res.shape.dims[d])) {
                return og_node_err(c->node, OG_ERR_LIMIT, "output dim %d overflows int64", d);
            }
        }
        int64_t n;
        if (known && sf_numel(res.shape.dims, r, &n) && (st = sf_numel_limit(c->node, n, "the output")))
            return st;
    }
    if (y)
        *y = res;
    return OG_OK;
}

static og_status tile_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    int64_t rep[OG_MAX_RANK];
    bool known;
    og_status st;

    if (!y)
        return OG_OK;
    int r = x->rank;
    if ((st = tile_repeats(k->node, k->opset, r, k->in, &known, rep)))
        return st;
    for (int d = 0; d < r; d++)
        if (y->dims[d] != x->dims[d] * rep[d])
            return og_node_err(k->node, OG_ERR_INTERNAL, "output does not match the inferred shape");
    if (y->numel == 0)
        return OG_OK;
    size_t es = og_dtype_size(x->dtype);
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return OG_OK;
    }
    /* one output row (last axis) at a time: the input row repeated */
    int64_t xs[OG_MAX_RANK], idx[OG_MAX_RANK] = { 0 };
    sf_strides(x->dims, r, xs);
    int64_t last = x->dims[r - 1];
    size_t xrow = (size_t)last * es;
    int64_t rows = y->numel / y->dims[r - 1];
    char *dst = y->data;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        for (int a = 0; a < r - 1; a++)
            off += (idx[a] % x->dims[a]) * xs[a];
        const char *src = (const char *)x->data + (size_t)off * es;
        for (int64_t t = 0; t < rep[r - 1]; t++, dst += xrow)
            memcpy(dst, src, xrow);
        for (int a = r - 2; a >= 0; a--) {
            if (++idx[a] < y->dims[a])
                break;
            idx[a] = 0;
        }
    }
    return OG_OK;
}

static og_status tile_backward(og_backward_call *b)
{
    int64_t rep[OG_MAX_RANK], shape[OG_MAX_RANK], axes[OG_MAX_RANK];
    bool known;
    og_status st;

    if (!b->need[0] || !b->dout[0])
        return OG_OK;
    const og_shape *xs = &b->in_info[0].shape;
    int r = xs->rank;
    if (r < 0)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the input's rank, unknown when the "
                           "gradient graph is built");
    if ((st = tile_repeats(b->node, b->opset, r, b->in_value, &known, rep)))
        return st;
    if (!known)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the repeats, unknown when the gradient "
                           "graph is built (give them as an initializer or Constant)");
    int n = 0, na = 0;
    for (int d = 0; d < r; d++) {
        if (rep[d] != 1) {
            if (xs->dims[d] < 0)
                return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the input's dim %d, unknown "
                                   "when the gradient graph is built", d);
            if (n + 2 > OG_MAX_RANK)
                return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient's reshape would exceed rank %d",
                                   OG_MAX_RANK);
            axes[na++] = n;
            shape[n++] = rep[d];
        }
        shape[n++] = rep[d] == 1 ? (xs->dims[d] >= 0 ? xs->dims[d] : -1) : xs->dims[d];
    }
    if (na == 0) {
        b->din[0] = b->dout[0];
        return OG_OK;
    }
    og_attr az = og_attr_int("allowzero", 0);
    int unknown = 0;
    for (int d = 0; d < n; d++)
        unknown += shape[d] < 0;
    if (unknown > 1)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the input's dims, unknown when the "
                           "gradient graph is built");
    /* a 0 dim (empty input) must stay literal: then no dim is -1 */
    if (unknown == 0)
        az = og_attr_int("allowzero", 1);
    const char *g = og_gb(b, "Reshape", 2, (const char *const[]){ b->dout[0], og_gb_ints(b, n, shape) }, 1, &az);
    og_attr kd = og_attr_int("keepdims", 0);
    b->din[0] = og_gb(b, "ReduceSum", 2, (const char *const[]){ g, og_gb_ints(b, na, axes) }, 1, &kd);
    return og_gb_status(b);
}

const og_op og_op_tile = {
    .name = "Tile",
    .domain = "",
    .since_version = 1,
    .min_inputs = 2, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,   /* repeats are integers */
    .diff_outputs = 0x1,
    .infer = tile_infer,
    .run = tile_run,
    .backward = tile_backward,
    .cost = og_cost_zero,
};
