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
#include <stdio.h>
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

/* bool is one byte holding 0 or 1 */
#define GREATER(T) OG_BCAST_BINARY(&it, T, a->data, T, b->data, uint8_t, y->data, (uint8_t)(a > b))

static og_status greater_run(const og_kernel_call *k)
{
    const og_tensor *a = k->in[0], *b = k->in[1];
    og_tensor *y = k->out[0];
    og_bcast it;
    char what[256];
    og_status st;

    if (y == NULL)
        return OG_OK;
    snprintf(what, sizeof what, "node '%s' (Greater)", k->node->name);
    if (a->dtype != b->dtype || y->dtype != OG_BOOL)
        return og_err(OG_ERR_INTERNAL, "%s: kernel got types %s > %s -> %s, which inference should have refused",
                      what, og_dtype_name(a->dtype), og_dtype_name(b->dtype), og_dtype_name(y->dtype));
    if ((st = og_bcast_begin(&it, what, y, 2, (const og_tensor *const[]){a, b})) != OG_OK)
        return st;
    switch (a->dtype) {
    case OG_FLOAT:  GREATER(float); break;
    case OG_DOUBLE: GREATER(double); break;
    case OG_INT8:   GREATER(int8_t); break;
    case OG_INT16:  GREATER(int16_t); break;
    case OG_INT32:  GREATER(int32_t); break;
    case OG_INT64:  GREATER(int64_t); break;
    case OG_UINT8:  GREATER(uint8_t); break;
    case OG_UINT16: GREATER(uint16_t); break;
    case OG_UINT32: GREATER(uint32_t); break;
    case OG_UINT64: GREATER(uint64_t); break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "%s: no kernel for type %s", what, og_dtype_name(a->dtype));
    }
    return OG_OK;
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
