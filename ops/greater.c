/* Greater — elementwise comparison C = (A > B), a bool tensor, with
 * numpy-style (multidirectional) broadcasting: A and B align on the right
 * and each dim pair must be equal or contain a 1. A and B share one
 * numeric type.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Greater
 *
 * Versions: 7 (broadcasting always on; float types only), 9 (every
 * integer type), 13 (bfloat16). Opset 1 had `broadcast`/`axis`
 * attributes instead; onnxgrad starts at 7. float16/bfloat16 cannot be
 * held and are refused as unsupported. A comparison with NaN is false, as
 * in IEEE 754 and numpy.
 *
 * No gradient: the output is bool, so autodiff stops here. */
#include "internal.h"

static bool greater_type_allowed(og_dtype t, int opset)
{
    switch (t) {
    case OG_FLOAT: case OG_DOUBLE:
        return true;
    case OG_INT8: case OG_INT16: case OG_INT32: case OG_INT64:
    case OG_UINT8: case OG_UINT16: case OG_UINT32: case OG_UINT64:
        return opset >= 9;
    default:
        return false;
    }
}

static og_status greater_infer(og_infer_call *c)
{
    return og_broadcast_binary_infer(c, greater_type_allowed,
                                     c->opset >= 9 ? "float, double or an integer type"
                                                    : "float or double (integer types need opset >= 9)", OG_BOOL);
}

static og_status greater_run(const og_kernel_call *k)
{
    return og_broadcast_compare_run(k, OG_CMP_GREATER);
}

const og_op og_op_greater = {
    .name = "Greater",
    .domain = "",
    .since_version = 7,
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0,
    .diff_outputs = 0,
    .attrs = NULL,
    .n_attrs = 0,
    .params_size = 0,
    .infer = greater_infer,
    .run = greater_run,
    .backward = NULL,
};
