/* SPDX-License-Identifier: MIT */
/* Split — cuts `input` along `axis` into consecutive pieces, one per
 * output: piece k has split[k] elements on the axis. Without `split` the
 * axis is cut into as many equal parts as there are outputs (the dim must
 * divide evenly: num_outputs and its uneven last part are opset 18).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Split
 *
 * Versions: 1 (split as attribute or as an optional second input; float
 * types), 2 (split attribute only; every type), 11 (negative axis),
 * 13 (split becomes an optional int64 input; bfloat16). split values are
 * >= 0 and sum to the axis's dim. Every type onnxgrad holds.
 *
 * Backward (torch.split's): dX = Concat(dY_0, ..., dY_n-1) along axis, an
 * output without gradient contributing zeros of its shape. */
#include <stddef.h>
#include "shape_family.h"

typedef struct split_params {
    int64_t axis;
    og_ints split;   /* opsets 1-12 */
} split_params;

static const og_attr_spec split_attrs[] = {
    { .name = "axis", .type = OG_ATTR_INT, .offset = offsetof(split_params, axis), .def_i = 0 },
    { .name = "split", .type = OG_ATTR_INTS, .offset = offsetof(split_params, split), .until_version = 12,
      .to_input = true },
};

/* The piece sizes: *n = -1 when they are unknown (an input without data),
 * 0 when not given (equal parts). */
static og_status split_sizes(const og_node *node, const split_params *p, int opset, int n_in, const og_tensor *sv,
                             bool split_input_present, int64_t *sizes, int64_t *n)
{
    *n = 0;
    if (opset < 13 && p->split.present) {
        if (split_input_present)
            return og_node_err(node, OG_ERR_INVALID_GRAPH, "split is given both as attribute and as input");
        if (p->split.n > OG_MAX_IO)
            return og_node_err(node, OG_ERR_ATTR, "attribute 'split' has %lld values, more than the %d outputs "
                               "a node may have", (long long)p->split.n, OG_MAX_IO);
        *n = p->split.n;
        memcpy(sizes, p->split.v, sizeof(int64_t) * (size_t)p->split.n);
        return OG_OK;
    }
    if (!split_input_present || n_in < 2)
        return OG_OK;
    if (!sv) {
        *n = -1;
        return OG_OK;
    }
    if ((sv->dtype != OG_INT64 && !(opset < 2 && sv->dtype == OG_INT32)) || sv->rank != 1)
        return og_node_err(node, OG_ERR_INVALID_ARG, "input split must be a 1-D int64 tensor, got %s of rank %d",
                           og_dtype_name(sv->dtype), sv->rank);
    if (sv->numel > OG_MAX_IO)
        return og_node_err(node, OG_ERR_INVALID_ARG, "input split has %lld values, more than the %d outputs a "
                           "node may have", (long long)sv->numel, OG_MAX_IO);
    *n = sv->numel;
    for (int64_t k = 0; k < sv->numel; k++)
        sizes[k] = sf_int_at(sv, k);
    return OG_OK;
}

/* Resolves the sizes of the n_out pieces of a dim `dim` (-1: unknown)
 * into out[], -1 where unknown. */
static og_status split_resolve(const og_node *node, int64_t dim, int axis, int n_out, const int64_t *sizes, int64_t n,
                               int64_t *out)
{
    if (n > 0) {
        if (n != n_out)
            return og_node_err(node, OG_ERR_SHAPE, "split has %lld values but the node has %d outputs; expected "
                               "one value per output", (long long)n, n_out);
        int64_t sum = 0;
        for (int k = 0; k < n; k++) {
            if (sizes[k] < 0)
                return og_node_err(node, OG_ERR_SHAPE, "split[%d] is %lld, expected a size >= 0", k,
                                   (long long)sizes[k]);
            if (!og_add_ok(sum, sizes[k], &sum))
                return og_node_err(node, OG_ERR_SHAPE, "split values overflow int64");
            out[k] = sizes[k];
        }
        if (dim >= 0 && sum != dim)
            return og_node_err(node, OG_ERR_SHAPE, "split values sum to %lld, but the input has %lld on axis %d; "
                               "expected them to sum to the dim", (long long)sum, (long long)dim, axis);
        return OG_OK;
    }
    for (int k = 0; k < n_out; k++)
        out[k] = -1;
    if (n < 0 || dim < 0)
        return OG_OK;
    if (dim % n_out != 0)
        return og_node_err(node, OG_ERR_SHAPE, "the input has %lld on axis %d, which does not split into %d equal "
                           "parts (give split, or as many outputs as divide it)", (long long)dim, axis, n_out);
    for (int k = 0; k < n_out; k++)
        out[k] = dim / n_out;
    return OG_OK;
}

static og_status split_infer(og_infer_call *c)
{
    const split_params *p = c->params;
    const og_tinfo *x = c->in[0];
    og_status st;
    int64_t sizes[OG_MAX_IO], n, pieces[OG_MAX_IO];

    if ((st = sf_check_holdable(c, 0)))
        return st;
    if (c->opset < 2 && x->dtype != OG_UNDEFINED && x->dtype != OG_FLOAT && x->dtype != OG_DOUBLE)
        return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has type %s; opset 1 expects float or double",
                           sf_in(c, 0), og_dtype_name(x->dtype));
    bool has_split = c->n_in > 1 && c->in[1];
    if (has_split) {
        og_dtype t = c->in[1]->dtype;
        if (t != OG_UNDEFINED && t != OG_INT64 && !(c->opset < 2 && t == OG_INT32))
            return og_node_err(c->node, OG_ERR_SHAPE, "input split '%s' has type %s, expected int64", sf_in(c, 1),
                               og_dtype_name(t));
        if (c->opset >= 2 && c->opset < 13)
            return og_node_err(c->node, OG_ERR_INVALID_GRAPH, "split is an attribute in opsets 2-12, not an input");
    }
    if ((st = split_sizes(c->node, p, c->opset, c->n_in, has_split ? c->in_value[1] : NULL, has_split, sizes, &n)))
        return st;
    c->workspace_bytes = 0;
    int r = x->shape.rank, axis = -1;
    if (r >= 0) {
        if ((st = sf_axis(c->node, "attribute 'axis'", p->axis, r, c->opset >= 11, &axis)))
            return st;
        if ((st = split_resolve(c->node, x->shape.dims[axis], axis, c->n_out, sizes, n, pieces)))
            return st;
    }
    for (int k = 0; k < c->n_out; k++) {
        og_tinfo *y = c->out[k];
        if (!y)
            continue;
        y->dtype = x->dtype;
        y->shape = x->shape;
        if (r >= 0)
            y->shape.dims[axis] = pieces[k];
    }
    return OG_OK;
}

static og_status split_run(const og_kernel_call *k)
{
    const split_params *p = k->params;
    const og_tensor *x = k->in[0];
    int64_t sizes[OG_MAX_IO], n, pieces[OG_MAX_IO];
    og_status st;
    int r = x->rank;
    int axis = (int)(p->axis < 0 ? p->axis + r : p->axis);
    const og_tensor *sv = k->n_in > 1 ? k->in[1] : NULL;

    if (axis < 0 || axis >= r)
        return og_node_err(k->node, OG_ERR_INTERNAL, "axis out of range at run time");
    if ((st = split_sizes(k->node, p, k->opset, k->n_in, sv, sv != NULL, sizes, &n)) ||
        (st = split_resolve(k->node, x->dims[axis], axis, k->n_out, sizes, n, pieces)))
        return st;
    size_t es = og_dtype_size(x->dtype);
    int64_t outer = sf_prod(x->dims, 0, axis), inner = sf_prod(x->dims, axis + 1, r);
    size_t xrow = (size_t)(x->dims[axis] * inner) * es, at = 0;
    for (int j = 0; j < k->n_out; j++) {
        size_t yrow = (size_t)(pieces[j] * inner) * es;
        og_tensor *y = k->out[j];
        if (y && (y->numel != outer * pieces[j] * inner || y->dtype != x->dtype))
            return og_node_err(k->node, OG_ERR_INTERNAL, "output %d does not match the inferred shape", j);
        if (y && yrow > 0)
            for (int64_t o = 0; o < outer; o++)
                memcpy((char *)y->data + (size_t)o * yrow, (const char *)x->data + (size_t)o * xrow + at, yrow);
        at += yrow;
    }
    return OG_OK;
}

static og_status split_backward(og_backward_call *b)
{
    const split_params *p = b->params;
    const char *parts[OG_MAX_IO];
    bool any = false;
    og_status st;

    if (!b->need[0])
        return OG_OK;
    for (int k = 0; k < b->n_out; k++)
        any = any || b->dout[k];
    if (!any)
        return OG_OK;
    int r = b->in_info[0].shape.rank;
    if (r < 0)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the input's rank, unknown when the "
                           "gradient graph is built");
    for (int k = 0; k < b->n_out; k++) {
        if (b->dout[k]) {
            parts[k] = b->dout[k];
            continue;
        }
        const char *yk = b->out[k];
        og_tinfo ti = b->out_info[k];
        if (!yk) {
            if ((st = og_grad_forward_output(b, k, &yk)))
                return st;
            ti.dtype = b->in_info[0].dtype;
            ti.shape.rank = r;
            for (int a = 0; a < r; a++)
                ti.shape.dims[a] = -1;
        }
        if ((st = og_grad_zeros_like(b, yk, &ti, &parts[k])))
            return st;
    }
    og_attr ax = og_attr_int("axis", p->axis < 0 ? p->axis + r : p->axis);
    b->din[0] = og_gb(b, "Concat", b->n_out, parts, 1, &ax);
    return og_gb_status(b);
}

const og_op og_op_split = {
    .name = "Split",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = OG_MAX_IO,
    .diff_inputs = 0x1,   /* split sizes are integers */
    .diff_outputs = 0xffff,
    .attrs = split_attrs,
    .n_attrs = 2,
    .params_size = sizeof(split_params),
    .infer = split_infer,
    .run = split_run,
    .backward = split_backward,
    .cost = og_cost_zero,
};
