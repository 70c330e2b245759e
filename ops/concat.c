/* SPDX-License-Identifier: MIT */
/* Concat — joins its inputs along `axis`: every input has the same type and
 * rank, and the same dims except on `axis`, where the output's dim is the
 * sum of theirs. 1..N inputs (up to OG_MAX_IO); empty inputs take part.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Concat
 *
 * Versions: 1 (axis optional, default 1; float types), 4 (axis required,
 * every type), 11 (negative axis counts from the back), 13 (bfloat16).
 * Every type onnxgrad holds; float16/bfloat16/string refused.
 *
 * Backward (torch.cat's): dX_k = the k-th piece of Split(dY, sizes of the
 * inputs on axis); the sizes are a constant when known at build time, else
 * Concat of Shape(X_k)[axis]. */
#include <stddef.h>
#include "shape_family.h"

typedef struct concat_params {
    int64_t axis;
    bool has_axis;
} concat_params;

static const og_attr_spec concat_attrs[] = {
    { .name = "axis", .type = OG_ATTR_INT, .offset = offsetof(concat_params, axis), .def_i = 1,
      .track_present = true, .present_offset = offsetof(concat_params, has_axis) },
};

static og_status concat_infer(og_infer_call *c)
{
    const concat_params *p = c->params;
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    og_status st;
    const og_tinfo *ref = NULL;
    int ref_k = 0;
    og_dtype dt = OG_UNDEFINED;

    if (c->opset >= 4 && !p->has_axis)
        return og_node_err(c->node, OG_ERR_ATTR, "attribute 'axis' is required from opset 4 (model has opset %d)",
                           c->opset);
    for (int k = 0; k < c->n_in; k++) {
        if (!c->in[k])
            return og_node_err(c->node, OG_ERR_INVALID_GRAPH, "input %d is omitted; every Concat input is required",
                               k);
        if ((st = sf_check_holdable(c, k)))
            return st;
        og_dtype t = c->in[k]->dtype;
        if (t != OG_UNDEFINED && c->opset < 4 && t != OG_FLOAT && t != OG_DOUBLE)
            return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has type %s; opset %d expects float or double "
                               "(other types need opset >= 4)", sf_in(c, k), og_dtype_name(t), c->opset);
        if (t != OG_UNDEFINED) {
            if (dt != OG_UNDEFINED && t != dt)
                return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has type %s, expected %s like the inputs "
                                   "before it", sf_in(c, k), og_dtype_name(t), og_dtype_name(dt));
            dt = t;
        }
        if (c->in[k]->shape.rank >= 0 && !ref) {
            ref = c->in[k];
            ref_k = k;
        }
    }
    c->workspace_bytes = 0;
    og_tinfo *y = c->out[0];
    if (!ref) {
        if (y) {
            y->dtype = dt;
            y->shape.rank = -1;
        }
        return OG_OK;
    }
    int r = ref->shape.rank, axis = 0;
    if ((st = sf_axis(c->node, "attribute 'axis'", p->axis, r, c->opset >= 11, &axis)))
        return st;
    og_shape out = ref->shape;
    out.dims[axis] = 0;
    for (int k = 0; k < c->n_in; k++) {
        const og_shape *s = &c->in[k]->shape;
        if (s->rank < 0) {
            out.dims[axis] = -1;
            continue;
        }
        if (s->rank != r)
            return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has shape %s, expected rank %d like input '%s' "
                               "(%s)", sf_in(c, k), og_shape_str(s, b1, sizeof b1), r, sf_in(c, ref_k),
                               og_shape_str(&ref->shape, b2, sizeof b2));
        for (int a = 0; a < r; a++) {
            if (a == axis)
                continue;
            if (s->dims[a] >= 0 && out.dims[a] >= 0 && s->dims[a] != out.dims[a])
                return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has shape %s, which differs from %lld on "
                                   "axis %d (not the concat axis %d); expected equal dims off the axis",
                                   sf_in(c, k), og_shape_str(s, b1, sizeof b1), (long long)out.dims[a], a, axis);
            if (out.dims[a] < 0)
                out.dims[a] = s->dims[a];
        }
        if (out.dims[axis] >= 0) {
            if (s->dims[axis] < 0)
                out.dims[axis] = -1;
            else if (!og_add_ok(out.dims[axis], s->dims[axis], &out.dims[axis]))
                return og_node_err(c->node, OG_ERR_LIMIT, "the output's dim on axis %d overflows int64", axis);
        }
    }
    if (y) {
        y->dtype = dt;
        y->shape = out;
    }
    return OG_OK;
}

static og_status concat_run(const og_kernel_call *k)
{
    const concat_params *p = k->params;
    og_tensor *y = k->out[0];

    if (!y)
        return OG_OK;
    int r = y->rank;
    int axis = (int)(p->axis < 0 ? p->axis + r : p->axis);
    size_t es = og_dtype_size(y->dtype);
    int64_t outer = sf_prod(y->dims, 0, axis);
    int64_t inner = sf_prod(y->dims, axis + 1, r);
    size_t yrow = (size_t)(y->dims[axis] * inner) * es;
    size_t at = 0;
    for (int i = 0; i < k->n_in; i++) {
        const og_tensor *x = k->in[i];
        if (x->rank != r || x->dtype != y->dtype)
            return og_node_err(k->node, OG_ERR_INTERNAL, "input %d does not match the inferred output", i);
        size_t xrow = (size_t)(x->dims[axis] * inner) * es;
        if (at + xrow > yrow)
            return og_node_err(k->node, OG_ERR_INTERNAL, "inputs do not fit the inferred output");
        const char *src = x->data;
        char *dst = (char *)y->data + at;
        if (xrow > 0)
            for (int64_t o = 0; o < outer; o++)
                memcpy(dst + (size_t)o * yrow, src + (size_t)o * xrow, xrow);
        at += xrow;
    }
    if (at != yrow)
        return og_node_err(k->node, OG_ERR_INTERNAL, "inputs do not fill the inferred output");
    return OG_OK;
}

static og_status concat_backward(og_backward_call *b)
{
    const concat_params *p = b->params;
    bool any = false;
    if (!b->dout[0])
        return OG_OK;
    for (int k = 0; k < b->n_in; k++)
        any = any || b->need[k];
    if (!any)
        return OG_OK;
    int r = b->out_info[0].shape.rank;
    if (r < 0)
        for (int k = 0; k < b->n_in && r < 0; k++)
            r = b->in_info[k].shape.rank;
    if (r < 0)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the inputs' rank, unknown when the "
                           "gradient graph is built");
    int64_t axis = p->axis < 0 ? p->axis + r : p->axis;
    int64_t sizes[OG_MAX_IO];
    bool known = true;
    for (int k = 0; k < b->n_in; k++) {
        sizes[k] = b->in_info[k].shape.rank == r ? b->in_info[k].shape.dims[axis] : -1;
        known = known && sizes[k] >= 0;
    }
    const char *split;
    if (known) {
        split = og_gb_ints(b, b->n_in, sizes);
    } else {
        const char *parts[OG_MAX_IO];
        og_attr se[2] = { og_attr_int("start", axis), og_attr_int("end", axis + 1) };
        for (int k = 0; k < b->n_in; k++)
            parts[k] = og_gb(b, "Shape", 1, &b->in[k], 2, se);
        og_attr ax0 = og_attr_int("axis", 0);
        split = og_gb(b, "Concat", b->n_in, parts, 1, &ax0);
    }
    if (!split)
        return og_gb_status(b);
    const char *outs[OG_MAX_IO];
    og_attr ax = og_attr_int("axis", axis);
    og_status st = og_grad_emit(b, "Split", 2, (const char *const[]){ b->dout[0], split }, b->n_in, outs, 1, &ax);
    if (st)
        return st;
    for (int k = 0; k < b->n_in; k++)
        if (b->need[k])
            b->din[k] = outs[k];
    return OG_OK;
}

const og_op og_op_concat = {
    .name = "Concat",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = OG_MAX_IO,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0xffff,
    .diff_outputs = 0x1,
    .attrs = concat_attrs,
    .n_attrs = 1,
    .params_size = sizeof(concat_params),
    .infer = concat_infer,
    .run = concat_run,
    .backward = concat_backward,
    .cost = og_cost_zero,
};
