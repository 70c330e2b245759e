/* SPDX-License-Identifier: MIT */
/* Shape — the shape of the input tensor as a 1-D int64 tensor. From
 * opset 15, `start` and `end` select the slice dims[start:end] (Python
 * style: negative values count from the back, and both are clipped to
 * [0, rank]; an empty range gives an empty tensor).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Shape
 *
 * Versions: 1, 13 (bfloat16), 15 (start, end). The input may be of any
 * type onnxgrad holds; its data is never read. Not differentiable. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "internal.h"

typedef struct shape_params {
    int64_t start;
    int64_t end;
} shape_params;

static const og_attr_spec shape_attrs[] = {
    {.name = "start", .type = OG_ATTR_INT, .offset = offsetof(shape_params, start),
     .def_i = 0, .since_version = 15},
    /* absent end: the rank, which clipping gives from the largest value */
    {.name = "end", .type = OG_ATTR_INT, .offset = offsetof(shape_params, end),
     .def_i = INT64_MAX, .since_version = 15},
};

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

/* start or end resolved against rank r: negative counts from the back,
 * then clipped to [0, r]. */
static int shape_clip(int64_t v, int r)
{
    if (v < 0)
        v = v < -(int64_t)r ? 0 : v + r;
    return v > r ? r : (int)v;
}

static og_status shape_infer(og_infer_call *c)
{
    const shape_params *p = c->params;
    const og_tinfo *x = c->in[0];
    const int r = x->shape.rank;

    if (x->dtype != OG_UNDEFINED && og_dtype_size(x->dtype) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Shape): input data '%s' has type %s, which "
                      "onnxgrad cannot hold", c->node->name, in_name(c, 0), og_dtype_name(x->dtype));
    c->workspace_bytes = 0;
    og_tinfo *y = c->out[0];
    if (y == NULL)
        return OG_OK;
    y->dtype = OG_INT64;
    y->shape.rank = 1;
    if (r >= 0) {
        int s = shape_clip(p->start, r), e = shape_clip(p->end, r);
        y->shape.dims[0] = e > s ? e - s : 0;
    } else {
        /* start and end on the same side with end <= start select nothing at any rank */
        bool same_side = (p->start >= 0) == (p->end >= 0);
        y->shape.dims[0] = same_side && p->end <= p->start ? 0 : -1;
    }
    return OG_OK;
}

static og_status shape_run(const og_kernel_call *k)
{
    const shape_params *p = k->params;
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];

    if (out == NULL)
        return OG_OK;
    int s = shape_clip(p->start, in->rank), e = shape_clip(p->end, in->rank);
    int64_t n = e > s ? e - s : 0;
    if (out->dtype != OG_INT64 || out->rank != 1 || out->numel != n)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Shape): output is %s with %lld elements, expected "
                      "int64 with %lld", k->node->name, og_dtype_name(out->dtype),
                      (long long)out->numel, (long long)n);
    if (n > 0)
        memcpy(out->data, in->dims + s, (size_t)n * sizeof(int64_t));
    return OG_OK;
}

const og_op og_op_shape = {
    .name = "Shape",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0,
    .diff_outputs = 0,
    .attrs = shape_attrs,
    .n_attrs = (int)(sizeof shape_attrs / sizeof shape_attrs[0]),
    .params_size = sizeof(shape_params),
    .infer = shape_infer,
    .run = shape_run,
    .reads_shape_only = true,
    .backward = NULL,
    .cost = og_cost_zero,
};
