/* SPDX-License-Identifier: MIT */
/* Cast and CastLike — convert every element to another type: Cast to the
 * type named by `to`, CastLike to the type of its second input.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Cast
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#CastLike
 *
 * Versions: Cast 1 (`to` a string: "FLOAT", "INT64", ...), 6 (`to` an int,
 * TensorProto.DataType), 9 (bool among the types), 13 (bfloat16);
 * CastLike 15. The saturate attribute is opset 19 and not read.
 * Types: float, double, int8/16/32/64, uint8/16/32/64, bool, any to any.
 * float16, bfloat16 and string (either side) are refused with an
 * "unsupported type" error. Conversions follow C (and numpy) except where C
 * leaves them undefined: a float to an integer truncates toward zero and
 * saturates at the type's range, NaN becomes 0; anything to bool is x != 0
 * (NaN is true); bool is 0 or 1.
 *
 * Backward (torch's Tensor.to): between float and double, dX = Cast(dY,
 * to X's type); to or from an integer or bool type there is no gradient
 * (the rule gives none; integer inputs carry none anyway). CastLike's
 * target_type input has no gradient. */
#include <math.h>
#include <stddef.h>
#include <strings.h>
#include "shape_family.h"

typedef struct cast_params {
    int64_t to;          /* opset 6+ */
    const char *to_s;    /* opsets 1-5 */
} cast_params;

static const og_attr_spec cast_attrs[] = {
    { .name = "to", .type = OG_ATTR_INT, .offset = offsetof(cast_params, to), .required = true, .since_version = 6 },
    { .name = "to", .type = OG_ATTR_STRING, .offset = offsetof(cast_params, to_s), .required = true,
      .until_version = 5 },
};

/* The type names Cast-1 takes (TensorProto.DataType's enum names). */
static og_dtype cast_type_from_name(const char *s)
{
    static const struct { const char *n; og_dtype t; } names[] = {
        { "FLOAT", OG_FLOAT }, { "UINT8", OG_UINT8 }, { "INT8", OG_INT8 }, { "UINT16", OG_UINT16 },
        { "INT16", OG_INT16 }, { "INT32", OG_INT32 }, { "INT64", OG_INT64 }, { "STRING", OG_STRING },
        { "BOOL", OG_BOOL }, { "FLOAT16", OG_FLOAT16 }, { "DOUBLE", OG_DOUBLE }, { "UINT32", OG_UINT32 },
        { "UINT64", OG_UINT64 }, { "COMPLEX64", OG_COMPLEX64 }, { "COMPLEX128", OG_COMPLEX128 },
        { "BFLOAT16", OG_BFLOAT16 },
    };
    for (size_t k = 0; s && k < sizeof names / sizeof names[0]; k++)
        if (strcasecmp(s, names[k].n) == 0)
            return names[k].t;
    return OG_UNDEFINED;
}

/* The target type of a Cast node, or of a CastLike (from target_type). */
static og_status cast_target(const og_node *node, const cast_params *p, int opset, bool like, og_dtype like_t,
                             og_dtype *to)
{
    if (like) {
        *to = like_t;
    } else if (opset < 6) {
        *to = cast_type_from_name(p->to_s);
        if (*to == OG_UNDEFINED)
            return og_node_err(node, OG_ERR_ATTR, "attribute 'to' is \"%s\", expected a type name such as FLOAT or "
                               "INT64", p->to_s ? p->to_s : "");
    } else {
        if (p->to < 1 || p->to > 16)
            return og_node_err(node, OG_ERR_ATTR, "attribute 'to' is %lld, expected a TensorProto data type in "
                               "[1, 16]", (long long)p->to);
        *to = (og_dtype)p->to;
    }
    if (*to != OG_UNDEFINED && og_dtype_size(*to) == 0)
        return og_node_err(node, OG_ERR_UNSUPPORTED, "cast to %s: unsupported type (onnxgrad cannot hold it)",
                           og_dtype_name(*to));
    return OG_OK;
}

static og_status cast_infer_common(og_infer_call *c, bool like)
{
    const cast_params *p = c->params;
    og_dtype to = OG_UNDEFINED;
    og_status st;

    if ((st = sf_check_holdable(c, 0)) || (like && (st = sf_check_holdable(c, 1))))
        return st;
    if (!like && c->opset < 9 && c->in[0]->dtype == OG_BOOL)
        return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' is bool; Cast of bool needs opset >= 9", sf_in(c, 0));
    if ((st = cast_target(c->node, p, c->opset, like, like ? c->in[1]->dtype : OG_UNDEFINED, &to)))
        return st;
    if (!like && c->opset < 9 && to == OG_BOOL)
        return og_node_err(c->node, OG_ERR_ATTR, "cast to bool needs opset >= 9");
    c->workspace_bytes = 0;
    if (c->out[0]) {
        c->out[0]->dtype = to;
        c->out[0]->shape = c->in[0]->shape;
    }
    return OG_OK;
}

static og_status cast_infer(og_infer_call *c) { return cast_infer_common(c, false); }
static og_status castlike_infer(og_infer_call *c) { return cast_infer_common(c, true); }

/* Conversions by kind of source (F float, I integer, B bool) and target. */
#define CV_F_F(D, v, lo, hi) ((D)(v))
#define CV_I_F(D, v, lo, hi) ((D)(v))
#define CV_B_F(D, v, lo, hi) ((D)(v))
#define CV_I_I(D, v, lo, hi) ((D)(v))
#define CV_B_I(D, v, lo, hi) ((D)(v))
#define CV_F_I(D, v, lo, hi) \
    (isnan(v) ? (D)0 : (double)(v) <= (double)(lo) ? (D)(lo) : (double)(v) >= (double)(hi) ? (D)(hi) : (D)(v))
#define CV_F_B(D, v, lo, hi) ((v) != 0)
#define CV_I_B(D, v, lo, hi) ((v) != 0)
#define CV_B_B(D, v, lo, hi) (v)

/* One loop per (source, target) pair: cast_to_<target> switches on the
 * source type. */
#define CAST_CASE(SE, ST, SK, DT, DK, LO, HI)                                       \
    case SE: {                                                                      \
        const ST *s = src;                                                          \
        for (int64_t i = 0; i < n; i++)                                             \
            d[i] = CV_##SK##_##DK(DT, s[i], LO, HI);                                \
        return true;                                                                \
    }
#define CAST_TO(DT, DK, LO, HI)                                                     \
    static bool cast_to_##DT(const void *src, og_dtype st, DT *d, int64_t n)        \
    {                                                                               \
        switch (st) {                                                               \
            CAST_CASE(OG_FLOAT, float, F, DT, DK, LO, HI)                           \
            CAST_CASE(OG_DOUBLE, double, F, DT, DK, LO, HI)                         \
            CAST_CASE(OG_INT8, int8_t, I, DT, DK, LO, HI)                           \
            CAST_CASE(OG_INT16, int16_t, I, DT, DK, LO, HI)                         \
            CAST_CASE(OG_INT32, int32_t, I, DT, DK, LO, HI)                         \
            CAST_CASE(OG_INT64, int64_t, I, DT, DK, LO, HI)                         \
            CAST_CASE(OG_UINT8, uint8_t, I, DT, DK, LO, HI)                         \
            CAST_CASE(OG_UINT16, uint16_t, I, DT, DK, LO, HI)                       \
            CAST_CASE(OG_UINT32, uint32_t, I, DT, DK, LO, HI)                       \
            CAST_CASE(OG_UINT64, uint64_t, I, DT, DK, LO, HI)                       \
            CAST_CASE(OG_BOOL, bool, B, DT, DK, LO, HI)                             \
        default: return false;                                                      \
        }                                                                           \
    }

CAST_TO(float, F, 0, 0)
CAST_TO(double, F, 0, 0)
CAST_TO(int8_t, I, INT8_MIN, INT8_MAX)
CAST_TO(int16_t, I, INT16_MIN, INT16_MAX)
CAST_TO(int32_t, I, INT32_MIN, INT32_MAX)
CAST_TO(int64_t, I, INT64_MIN, INT64_MAX)
CAST_TO(uint8_t, I, 0, UINT8_MAX)
CAST_TO(uint16_t, I, 0, UINT16_MAX)
CAST_TO(uint32_t, I, 0, UINT32_MAX)
CAST_TO(uint64_t, I, 0, UINT64_MAX)
CAST_TO(bool, B, 0, 1)

static og_status cast_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    bool ok = false;

    if (!y)
        return OG_OK;
    if (y->numel != x->numel)
        return og_node_err(k->node, OG_ERR_INTERNAL, "output does not match the inferred shape");
    switch (y->dtype) {
    case OG_FLOAT: ok = cast_to_float(x->data, x->dtype, y->data, x->numel); break;
    case OG_DOUBLE: ok = cast_to_double(x->data, x->dtype, y->data, x->numel); break;
    case OG_INT8: ok = cast_to_int8_t(x->data, x->dtype, y->data, x->numel); break;
    case OG_INT16: ok = cast_to_int16_t(x->data, x->dtype, y->data, x->numel); break;
    case OG_INT32: ok = cast_to_int32_t(x->data, x->dtype, y->data, x->numel); break;
    case OG_INT64: ok = cast_to_int64_t(x->data, x->dtype, y->data, x->numel); break;
    case OG_UINT8: ok = cast_to_uint8_t(x->data, x->dtype, y->data, x->numel); break;
    case OG_UINT16: ok = cast_to_uint16_t(x->data, x->dtype, y->data, x->numel); break;
    case OG_UINT32: ok = cast_to_uint32_t(x->data, x->dtype, y->data, x->numel); break;
    case OG_UINT64: ok = cast_to_uint64_t(x->data, x->dtype, y->data, x->numel); break;
    case OG_BOOL: ok = cast_to_bool(x->data, x->dtype, y->data, x->numel); break;
    default: break;
    }
    if (!ok)
        return og_node_err(k->node, OG_ERR_UNSUPPORTED, "cast from %s to %s: unsupported type",
                           og_dtype_name(x->dtype), og_dtype_name(y->dtype));
    return OG_OK;
}

static bool cast_floating(og_dtype t)
{
    return t == OG_FLOAT || t == OG_DOUBLE;
}

static og_status cast_backward(og_backward_call *b)
{
    og_dtype from = b->in_info[0].dtype, to = b->out_info[0].dtype;
    if (!b->need[0] || !b->dout[0] || !cast_floating(from) || !cast_floating(to))
        return OG_OK;   /* to or from an integer type: no gradient */
    if (from == to) {
        b->din[0] = b->dout[0];
        return OG_OK;
    }
    og_attr a = og_attr_int("to", from);
    b->din[0] = og_gb(b, "Cast", 1, &b->dout[0], 1, &a);
    return og_gb_status(b);
}

const og_op og_op_cast = {
    .name = "Cast",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = cast_attrs,
    .n_attrs = 2,
    .params_size = sizeof(cast_params),
    .infer = cast_infer,
    .run = cast_run,
    .backward = cast_backward,
    .cost = og_cost_zero,
};

/* CastLike: Cast's kernel and rule with the type taken from input 1. */
const og_op og_op_castlike = {
    .name = "CastLike",
    .domain = "",
    .since_version = 15,
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,   /* target_type only gives the type */
    .diff_outputs = 0x1,
    .params_size = sizeof(cast_params),
    .infer = castlike_infer,
    .run = cast_run,
    .backward = cast_backward,
    .cost = og_cost_zero,
};
