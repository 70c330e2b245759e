/* SPDX-License-Identifier: MIT */
/* Expand — broadcasts input to a requested shape, numpy-style: the output
 * shape is the broadcast of input's shape with the 1-D int64 `shape`
 * input (right-aligned; each pair of dims equal or one of them 1), so a
 * `shape` dim of 1 keeps input's dim and a shorter `shape` keeps input's
 * leading dims. The output has input's type.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Expand
 *
 * Versions: 8 (every tensor type), 13 (bfloat16). The kernel only copies
 * elements, so it serves every dtype onnxgrad holds; float16/bfloat16,
 * string and complex are refused as unsupported. The output shape depends
 * on `shape`'s data: when that is not known at load time, only what
 * input's shape and `shape`'s length fix is inferred.
 *
 * Backward: dinput = dOutput summed over the broadcast axes, reshaped to
 * input's shape. `shape` gets no gradient. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

/* The requested shape as an og_shape: from `shape`'s data when known, else
 * its length only (dims unknown), else unknown rank. */
static og_status expand_target(og_infer_call *c, og_shape *want)
{
    const char *node = c->node->name;
    const og_tinfo *s = c->in[1];
    const og_tensor *v = c->in_value[1];
    char buf[OG_SHAPE_STR_MAX];

    if (s->dtype != OG_UNDEFINED && s->dtype != OG_INT64)
        return og_err(OG_ERR_SHAPE, "node '%s' (Expand): input shape '%s' has type %s, expected int64",
                      node, in_name(c, 1), og_dtype_name(s->dtype));
    if (s->shape.rank >= 0 && s->shape.rank != 1)
        return og_err(OG_ERR_SHAPE, "node '%s' (Expand): input shape '%s' has shape %s, expected rank 1",
                      node, in_name(c, 1), og_shape_str(&s->shape, buf, sizeof buf));
    if (v != NULL && (v->dtype != OG_INT64 || v->rank != 1))
        return og_err(OG_ERR_SHAPE, "node '%s' (Expand): input shape '%s' holds a %d-D %s tensor, "
                      "expected 1-D int64", node, in_name(c, 1), v->rank, og_dtype_name(v->dtype));
    /* the data's length when known, else the declared one */
    int64_t n = v != NULL ? v->numel : s->shape.rank == 1 ? s->shape.dims[0] : -1;
    if (n > OG_MAX_RANK)
        return og_err(OG_ERR_LIMIT, "node '%s' (Expand): input shape '%s' has %lld values, but onnxgrad "
                      "tensors have rank <= %d", node, in_name(c, 1), (long long)n, OG_MAX_RANK);
    want->rank = (int)n;   /* -1 when unknown */
    for (int d = 0; d < want->rank; d++)
        want->dims[d] = -1;
    if (v == NULL)
        return OG_OK;
    const int64_t *sv = v->data;
    for (int d = 0; d < want->rank; d++) {
        if (sv[d] < 0)
            return og_err(OG_ERR_SHAPE, "node '%s' (Expand): input shape '%s' has %lld at position %d; "
                          "expected sizes >= 0", node, in_name(c, 1), (long long)sv[d], d);
        want->dims[d] = sv[d];
    }
    return OG_OK;
}

static og_status expand_infer(og_infer_call *c)
{
    const char *node = c->node->name;
    static const char *const roles[2] = {"input", "target shape"};
    og_dtype t = c->in[0]->dtype;
    og_status st;

    if (t != OG_UNDEFINED && og_dtype_size(t) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Expand): input '%s' has type %s, which onnxgrad "
                      "cannot hold", node, in_name(c, 0), og_dtype_name(t));
    og_shape want, y;
    if ((st = expand_target(c, &want)) != OG_OK)
        return st;
    char what[256];
    snprintf(what, sizeof what, "node '%s' (Expand)", node);
    const og_shape *in[2] = {&c->in[0]->shape, &want};
    if ((st = og_broadcast_shape(what, 2, in, roles, c->in_names, &y)) != OG_OK)
        return st;
    c->workspace_bytes = 0;
    if (c->out[0] != NULL) {
        c->out[0]->dtype = t;
        c->out[0]->shape = y;
    }
    return OG_OK;
}

/* Copies elements of S bytes (a constant per expansion, so each memcpy is
 * one load and store, for any dtype of that size). */
#define EXPAND_ROWS(S)                                                                   \
    do {                                                                                 \
        for (bool more = it.numel > 0; more; more = og_bcast_next_row(&it)) {            \
            const char *px = xd + it.off[0] * (S);                                       \
            char *po = od + it.row * (S);                                                \
            for (int64_t i = 0; i < len; i++)                                            \
                memcpy(po + i * (S), px + i * sx * (S), (S));                            \
        }                                                                                \
    } while (0)

static og_status expand_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0];
    og_tensor *out = k->out[0];
    og_bcast it;
    char what[256];
    og_status st;

    if (out == NULL)
        return OG_OK;
    snprintf(what, sizeof what, "node '%s' (Expand)", k->node->name);
    if (x->dtype != out->dtype)
        return og_err(OG_ERR_INTERNAL, "%s: kernel got type %s -> %s, which inference should have refused",
                      what, og_dtype_name(x->dtype), og_dtype_name(out->dtype));
    if ((st = og_bcast_begin(&it, what, out, 1, (const og_tensor *const[]){x})) != OG_OK)
        return st;
    const char *xd = x->data;
    char *od = out->data;
    const int64_t len = it.dims[it.rank - 1], sx = it.strides[0][it.rank - 1];
    switch (og_dtype_size(out->dtype)) {
    case 1: EXPAND_ROWS(1); break;
    case 2: EXPAND_ROWS(2); break;
    case 4: EXPAND_ROWS(4); break;
    case 8: EXPAND_ROWS(8); break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "%s: no kernel for type %s", what, og_dtype_name(out->dtype));
    }
    return OG_OK;
}

/* dinput = dOutput summed over the axes input was broadcast along. */
static og_status expand_backward(og_backward_call *b)
{
    if (!b->need[0] || b->dout[0] == NULL)
        return OG_OK;
    return og_grad_reduce_to(b, b->dout[0], &b->out_info[0], &b->in_info[0], &b->din[0]);
}

const og_op og_op_expand = {
    .name = "Expand",
    .domain = "",
    .since_version = 8,
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = NULL,
    .n_attrs = 0,
    .params_size = 0,
    .infer = expand_infer,
    .run = expand_run,
    .backward = expand_backward,
    .cost = og_cost_zero,
};
