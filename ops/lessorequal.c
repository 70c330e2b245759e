/* LessOrEqual — elementwise comparison C = (A <= B), a bool tensor, with
 * numpy-style (multidirectional) broadcasting: A and B align on the right
 * and each dim pair must be equal or contain a 1. A and B share one
 * numeric type.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#LessOrEqual
 *
 * Versions: 12 (float types and every integer type), 16 (bfloat16).
 * float16/bfloat16 cannot be held and are refused as unsupported. A
 * comparison with NaN is false, as in IEEE 754 and numpy — which is what
 * Relu's backward rule relies on: `Y <= 0 ? 0 : dY` passes the gradient
 * where Y is NaN, as PyTorch's threshold_backward does.
 *
 * No gradient: the output is bool, so autodiff stops here. */
#include "internal.h"

static bool lessorequal_type_allowed(og_dtype t, int opset)
{
    (void)opset;
    switch (t) {
    case OG_FLOAT: case OG_DOUBLE:
    case OG_INT8: case OG_INT16: case OG_INT32: case OG_INT64:
    case OG_UINT8: case OG_UINT16: case OG_UINT32: case OG_UINT64:
        return true;
    default:
        return false;
    }
}

static og_status lessorequal_infer(og_infer_call *c)
{
    return og_broadcast_binary_infer(c, lessorequal_type_allowed, "float, double or an integer type", OG_BOOL);
}

static og_status lessorequal_run(const og_kernel_call *k)
{
    return og_broadcast_compare_run(k, OG_CMP_LESS_EQUAL);
}

const og_op og_op_lessorequal = {
    .name = "LessOrEqual",
    .domain = "",
    .since_version = 12,
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0,
    .diff_outputs = 0,
    .attrs = NULL,
    .n_attrs = 0,
    .params_size = 0,
    .infer = lessorequal_infer,
    .run = lessorequal_run,
    .backward = NULL,
};
