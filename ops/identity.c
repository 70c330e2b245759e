/* SPDX-License-Identifier: MIT */
/* Identity — the output is a copy of the input: same type, shape and data.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Identity
 *
 * Versions: 1, 13 (bfloat16), 14 (sequence types), 16 (optional types).
 * onnxgrad holds tensors only: the loader already refuses sequence and
 * optional values, so every version here copies a tensor of any type
 * onnxgrad holds.
 * Backward: dX = dY. */
#include <stddef.h>
#include <string.h>
#include "internal.h"

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

static og_status identity_infer(og_infer_call *c)
{
    const og_tinfo *x = c->in[0];

    if (x->dtype != OG_UNDEFINED && og_dtype_size(x->dtype) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Identity): input '%s' has type %s, which "
                      "onnxgrad cannot hold", c->node->name, in_name(c, 0), og_dtype_name(x->dtype));
    if (c->out[0] != NULL)
        *c->out[0] = *x;
    c->workspace_bytes = 0;
    return OG_OK;
}

static og_status identity_run(const og_kernel_call *k)
{
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];

    if (out == NULL)
        return OG_OK;
    if (out->numel != in->numel || out->dtype != in->dtype)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Identity): output has %lld %s elements, "
                      "expected %lld %s", k->node->name, (long long)out->numel,
                      og_dtype_name(out->dtype), (long long)in->numel, og_dtype_name(in->dtype));
    /* numel * size fits: the engine allocated both tensors at this size */
    if (in->numel > 0)
        memcpy(out->data, in->data, (size_t)in->numel * og_dtype_size(in->dtype));
    return OG_OK;
}

/* Backward: dX = dY, the gradient itself (no node needed). */
static og_status identity_backward(og_backward_call *b)
{
    if (b->need[0])
        b->din[0] = b->dout[0];
    return OG_OK;
}

const og_op og_op_identity = {
    .name = "Identity",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = NULL,
    .n_attrs = 0,
    .params_size = 0,
    .infer = identity_infer,
    .run = identity_run,
    .backward = identity_backward,
    .alias_out0_in0 = true,   /* a compiled plan makes the output a view */
    .is_identity = true,
    .cost = og_cost_zero,
};
