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
#include <stdio.h>
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

/* bool is one byte holding 0 or 1 */
#define LESS_EQUAL(T) OG_BCAST_BINARY(&it, T, a->data, T, b->data, uint8_t, y->data, (uint8_t)(a <= b))

static og_status lessorequal_run(const og_kernel_call *k)
{
    const og_tensor *a = k->in[0], *b = k->in[1];
    og_tensor *y = k->out[0];
    og_bcast it;
    char what[256];
    og_status st;

    if (y == NULL)
        return OG_OK;
    snprintf(what, sizeof what, "node '%s' (LessOrEqual)", k->node->name);
    if (a->dtype != b->dtype || y->dtype != OG_BOOL)
        return og_err(OG_ERR_INTERNAL, "%s: kernel got types %s <= %s -> %s, which inference should have refused",
                      what, og_dtype_name(a->dtype), og_dtype_name(b->dtype), og_dtype_name(y->dtype));
    if ((st = og_bcast_begin(&it, what, y, 2, (const og_tensor *const[]){a, b})) != OG_OK)
        return st;
    switch (a->dtype) {
    case OG_FLOAT:  LESS_EQUAL(float); break;
    case OG_DOUBLE: LESS_EQUAL(double); break;
    case OG_INT8:   LESS_EQUAL(int8_t); break;
    case OG_INT16:  LESS_EQUAL(int16_t); break;
    case OG_INT32:  LESS_EQUAL(int32_t); break;
    case OG_INT64:  LESS_EQUAL(int64_t); break;
    case OG_UINT8:  LESS_EQUAL(uint8_t); break;
    case OG_UINT16: LESS_EQUAL(uint16_t); break;
    case OG_UINT32: LESS_EQUAL(uint32_t); break;
    case OG_UINT64: LESS_EQUAL(uint64_t); break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "%s: no kernel for type %s", what, og_dtype_name(a->dtype));
    }
    return OG_OK;
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
