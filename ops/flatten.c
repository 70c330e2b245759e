/* SPDX-License-Identifier: MIT */
/* Flatten — reshapes X of rank r into a matrix: the dims before `axis`
 * multiply into the rows, the dims from `axis` on into the columns, so the
 * output is [d0*...*d(axis-1), d(axis)*...*d(r-1)]. axis = 0 gives
 * [1, numel]; axis = r gives [numel, 1]. Data is unchanged (row-major order).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Flatten
 *
 * Versions: 1 (float types; axis in [0, r]), 9 (every tensor type),
 * 11 (negative axis in [-r, -1] counts from the back), 13 (bfloat16).
 * Backward: dX = Reshape(dY, shape of X). */
#include <stddef.h>
#include <string.h>
#include "internal.h"

typedef struct flatten_params {
    int64_t axis;
} flatten_params;

static const og_attr_spec flatten_attrs[] = {
    {.name = "axis", .type = OG_ATTR_INT, .offset = offsetof(flatten_params, axis), .def_i = 1},
};

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

/* Product of dims[lo..hi); -1 if unknown. A known 0 makes the product 0 even
 * when other dims are unknown. */
static og_status flatten_prod(const og_infer_call *c, const og_shape *s, int lo, int hi,
                              int64_t *out)
{
    int64_t p = 1;
    bool unknown = false;

    for (int d = lo; d < hi; d++) {
        if (s->dims[d] == 0) {
            *out = 0;
            return OG_OK;
        }
        if (s->dims[d] < 0)
            unknown = true;
    }
    if (unknown) {
        *out = -1;
        return OG_OK;
    }
    for (int d = lo; d < hi; d++)
        if (!og_mul_ok(p, s->dims[d], &p)) {
            char buf[OG_SHAPE_STR_MAX];
            return og_err(OG_ERR_LIMIT, "node '%s' (Flatten): input X '%s' of shape %s has more "
                          "elements than int64 can count", c->node->name, in_name(c, 0),
                          og_shape_str(s, buf, sizeof buf));
        }
    *out = p;
    return OG_OK;
}

static og_status flatten_infer(og_infer_call *c)
{
    const flatten_params *p = c->params;
    const char *node = c->node->name;
    const og_tinfo *x = c->in[0];
    int r = x->shape.rank;
    int64_t axis = p->axis;
    og_dtype t = x->dtype;
    og_status st;

    if (t != OG_UNDEFINED) {
        if (c->opset < 9 && t != OG_FLOAT && t != OG_DOUBLE && t != OG_FLOAT16)
            return og_err(OG_ERR_SHAPE, "node '%s' (Flatten): input X '%s' has type %s; opset %d "
                          "expects float or double (other types need opset >= 9)",
                          node, in_name(c, 0), og_dtype_name(t), c->opset);
        if (og_dtype_size(t) == 0)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Flatten): input X '%s' has type %s, "
                          "which onnxgrad cannot hold", node, in_name(c, 0), og_dtype_name(t));
    }

    if (axis < 0 && c->opset < 11)
        return og_err(OG_ERR_ATTR, "node '%s' (Flatten): axis must be in [0, rank] before "
                      "opset 11, got %lld at opset %d", node, (long long)axis, c->opset);
    if (r >= 0) {
        int64_t lo = c->opset >= 11 ? -(int64_t)r : 0;
        if (axis < lo || axis > r)
            return og_err(OG_ERR_ATTR, "node '%s' (Flatten): axis must be in [%lld, %d] for "
                          "input X '%s' of rank %d, got %lld", node, (long long)lo, r,
                          in_name(c, 0), r, (long long)axis);
        if (axis < 0)
            axis += r;
    }

    og_tinfo *y = c->out[0];
    c->workspace_bytes = 0;
    if (y == NULL)
        return OG_OK;
    y->dtype = t;
    y->shape.rank = 2;
    if (r < 0) {
        /* axis 0 still fixes the row count; otherwise nothing is known */
        y->shape.dims[0] = axis == 0 ? 1 : -1;
        y->shape.dims[1] = -1;
        return OG_OK;
    }
    if ((st = flatten_prod(c, &x->shape, 0, (int)axis, &y->shape.dims[0])) != OG_OK)
        return st;
    return flatten_prod(c, &x->shape, (int)axis, r, &y->shape.dims[1]);
}

static og_status flatten_run(const og_kernel_call *k)
{
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];

    if (out == NULL)
        return OG_OK;
    if (out->numel != in->numel || out->dtype != in->dtype)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Flatten): output has %lld %s elements, "
                      "expected %lld %s", k->node->name, (long long)out->numel,
                      og_dtype_name(out->dtype), (long long)in->numel, og_dtype_name(in->dtype));
    /* numel * size fits: the engine allocated both tensors at this size */
    if (in->numel > 0)
        memcpy(out->data, in->data, (size_t)in->numel * og_dtype_size(in->dtype));
    return OG_OK;
}

/* Backward: dX = Reshape(dY, shape of X). allowzero=1 so that a 0 in X's
 * shape (an empty tensor) is taken literally, not as "copy dY's dim". */
static og_status flatten_backward(og_backward_call *b)
{
    const char *ins[2] = { b->dout[0], NULL };
    og_attr az = og_attr_int("allowzero", 1);
    og_status st;

    if (!b->need[0] || b->dout[0] == NULL)
        return OG_OK;
    if ((st = og_grad_shape_of(b, b->in[0], &b->in_info[0], &ins[1])) != OG_OK)
        return st;
    return og_grad_emit(b, "Reshape", 2, ins, 1, &b->din[0], 1, &az);
}

const og_op og_op_flatten = {
    .name = "Flatten",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = flatten_attrs,
    .n_attrs = (int)(sizeof flatten_attrs / sizeof flatten_attrs[0]),
    .params_size = sizeof(flatten_params),
    .infer = flatten_infer,
    .run = flatten_run,
    .backward = flatten_backward,
    .alias_out0_in0 = true,   /* a compiled plan makes the output a view */
    .cost = og_cost_zero,
};
