/* Relu — rectified linear unit, elementwise: Y = max(0, X), same shape and
 * type as X.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Relu
 *
 * Versions: 1 (float types, legacy `consumed_inputs` attribute), 6 (the
 * attribute dropped), 13 (bfloat16 added), 14 (int8/int16/int32/int64 added).
 * onnxgrad cannot hold float16/bfloat16 tensors, so those are rejected as
 * unsupported. NaN inputs stay NaN, as in PyTorch and numpy's maximum.
 *
 * Backward: dX = Where(Y > 0, dY, 0), read from the output Y; 0 at X = 0. */
#include <stddef.h>
#include "internal.h"

typedef struct relu_params {
    og_ints consumed_inputs;   /* opset 1 only; an in-place hint we ignore */
} relu_params;

static const og_attr_spec relu_attrs[] = {
    {.name = "consumed_inputs", .type = OG_ATTR_INTS, .offset = offsetof(relu_params, consumed_inputs),
     .since_version = 1, .until_version = 5},
};

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

static bool relu_int_type(og_dtype t)
{
    return t == OG_INT8 || t == OG_INT16 || t == OG_INT32 || t == OG_INT64;
}

static og_status relu_infer(og_infer_call *c)
{
    const char *node = c->node->name;
    const og_tinfo *x = c->in[0];
    og_dtype t = x->dtype;

    if (t == OG_FLOAT16 || t == OG_BFLOAT16)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Relu): input X '%s' has type %s, "
                      "which onnxgrad cannot hold; expected float or double",
                      node, in_name(c, 0), og_dtype_name(t));
    if (relu_int_type(t) && c->opset < 14)
        return og_err(OG_ERR_SHAPE, "node '%s' (Relu): input X '%s' has type %s, integer types "
                      "need opset >= 14, got opset %d; expected float or double",
                      node, in_name(c, 0), og_dtype_name(t), c->opset);
    if (t != OG_UNDEFINED && t != OG_FLOAT && t != OG_DOUBLE && !relu_int_type(t))
        return og_err(OG_ERR_SHAPE, "node '%s' (Relu): input X '%s' has type %s, expected %s",
                      node, in_name(c, 0), og_dtype_name(t),
                      c->opset >= 14 ? "float, double, int8, int16, int32 or int64"
                                     : "float or double");
    if (c->out[0] != NULL)
        *c->out[0] = *x;
    c->workspace_bytes = 0;
    return OG_OK;
}

/* `x < 0 ? 0 : x` rather than `x > 0 ? x : 0`: the comparison is false for
 * NaN, so NaN passes through instead of becoming 0. */
#define RELU_LOOP(T)                                          \
    do {                                                      \
        const T *x = (const T *)in->data;                     \
        T *y = (T *)out->data;                                \
        for (int64_t i = 0; i < in->numel; i++)               \
            y[i] = x[i] < 0 ? (T)0 : x[i];                    \
    } while (0)

static og_status relu_run(const og_kernel_call *k)
{
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];

    if (out == NULL)
        return OG_OK;
    if (out->numel != in->numel || out->dtype != in->dtype)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Relu): output has %lld %s elements, "
                      "expected %lld %s", k->node->name, (long long)out->numel,
                      og_dtype_name(out->dtype), (long long)in->numel, og_dtype_name(in->dtype));
    switch (in->dtype) {
    case OG_FLOAT:  RELU_LOOP(float); break;
    case OG_DOUBLE: RELU_LOOP(double); break;
    case OG_INT8:   RELU_LOOP(int8_t); break;
    case OG_INT16:  RELU_LOOP(int16_t); break;
    case OG_INT32:  RELU_LOOP(int32_t); break;
    case OG_INT64:  RELU_LOOP(int64_t); break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Relu): no kernel for type %s",
                      k->node->name, og_dtype_name(in->dtype));
    }
    return OG_OK;
}

/* dX = Where(Y <= 0, 0, dY), from Relu's output Y, so the gradient graph
 * need not keep X: Y <= 0 exactly where X <= 0. This is PyTorch's
 * threshold_backward: the gradient at X = 0 is 0, and where X is NaN (so
 * is Y, and NaN <= 0 is false) the gradient passes. Integer Relu carries
 * no gradient (the engine skips integer tensors). */
static og_status relu_backward(og_backward_call *b)
{
    const char *y, *zero, *off;
    og_status st;
    if (!b->need[0] || b->dout[0] == NULL)
        return OG_OK;
    if ((st = og_grad_forward_output(b, 0, &y)) != OG_OK ||
        (st = og_grad_const_scalar(b, b->out_info[0].dtype, 0.0, &zero)) != OG_OK ||
        (st = og_grad_emit(b, "LessOrEqual", 2, (const char *const[]){y, zero}, 1, &off, 0, NULL)) != OG_OK)
        return st;
    return og_grad_emit(b, "Where", 3, (const char *const[]){off, zero, b->dout[0]}, 1, &b->din[0], 0, NULL);
}

const og_op og_op_relu = {
    .name = "Relu",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = relu_attrs,
    .n_attrs = (int)(sizeof relu_attrs / sizeof relu_attrs[0]),
    .params_size = sizeof(relu_params),
    .infer = relu_infer,
    .run = relu_run,
    .backward = relu_backward,
};
