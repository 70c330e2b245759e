/* Add — elementwise sum C = A + B with numpy-style (multidirectional)
 * broadcasting: A and B align on the right and each dim pair must be equal
 * or contain a 1. A and B share one numeric type, which C has too.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Add
 *
 * Versions: 7 (broadcasting always on; float types, int32, int64, uint32,
 * uint64), 13 (bfloat16), 14 (int8, int16, uint8, uint16). Opsets 1 and 6
 * had `broadcast`/`axis` attributes instead; onnxgrad starts at 7.
 * float16/bfloat16 cannot be held and are refused as unsupported. Integer
 * sums wrap around modulo 2^bits, as in numpy; NaN propagates.
 *
 * Backward: dA = dC summed over the axes along which A was broadcast
 * (then reshaped to A's shape); dB likewise. */
#include "internal.h"

static bool add_type_allowed(og_dtype t, int opset)
{
    switch (t) {
    case OG_FLOAT: case OG_DOUBLE: case OG_INT32: case OG_INT64: case OG_UINT32: case OG_UINT64:
        return true;
    case OG_INT8: case OG_INT16: case OG_UINT8: case OG_UINT16:
        return opset >= 14;
    default:
        return false;
    }
}

static og_status add_infer(og_infer_call *c)
{
    return og_broadcast_binary_infer(c, add_type_allowed,
                                     c->opset >= 14 ? "float, double or an integer type"
                                                     : "float, double, int32, int64, uint32 or uint64 (8- and 16-bit integers need opset >= 14)", OG_UNDEFINED);
}

static og_status add_run(const og_kernel_call *k)
{
    return og_broadcast_arith_run(k, OG_ARITH_ADD);
}

static og_status add_select(og_select_call *s)
{
    return og_broadcast_arith_select(s, OG_ARITH_ADD, add_run);
}

/* dA = dC and dB = dC, each summed over the axes its input was broadcast
 * along (nothing to emit when the shapes agree). */
static og_status add_backward(og_backward_call *b)
{
    og_status st;
    for (int k = 0; k < 2; k++)
        if (b->need[k] && b->dout[0] != NULL &&
            (st = og_grad_unbroadcast(b, k, b->dout[0], &b->din[k])) != OG_OK)
            return st;
    return OG_OK;
}

const og_op og_op_add = {
    .name = "Add",
    .domain = "",
    .since_version = 7,
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x3,
    .diff_outputs = 0x1,
    .attrs = NULL,
    .n_attrs = 0,
    .params_size = 0,
    .infer = add_infer,
    .run = add_run,
    .backward = add_backward,
    .select = add_select,
};
