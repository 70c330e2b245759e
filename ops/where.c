/* SPDX-License-Identifier: MIT */
/* Where — elementwise selection: output = condition ? X : Y, with
 * numpy-style (multidirectional) broadcasting of all three inputs.
 * condition is bool; X and Y share one type, which the output has too.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Where
 *
 * Versions: 9 (every tensor type), 16 (bfloat16). The kernel only copies
 * elements, so it serves every dtype onnxgrad holds; float16/bfloat16,
 * string and complex are refused as unsupported.
 *
 * Backward: dX = Where(condition, dOut, 0) and dY = Where(condition, 0,
 * dOut), each summed over the axes along which that input was broadcast.
 * condition gets no gradient. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

static og_status where_infer(og_infer_call *c)
{
    const char *node = c->node->name;
    static const char *const roles[3] = {"condition", "X", "Y"};
    og_dtype t = OG_UNDEFINED;

    og_dtype ct = c->in[0]->dtype;
    if (ct != OG_UNDEFINED && ct != OG_BOOL)
        return og_err(OG_ERR_SHAPE, "node '%s' (Where): input condition '%s' has type %s, expected bool",
                      node, in_name(c, 0), og_dtype_name(ct));
    for (int k = 1; k < 3; k++) {
        og_dtype u = c->in[k]->dtype;
        if (u == OG_UNDEFINED)
            continue;
        if (og_dtype_size(u) == 0)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Where): input %s '%s' has type %s, which onnxgrad "
                          "cannot hold", node, roles[k], in_name(c, k), og_dtype_name(u));
        if (t == OG_UNDEFINED)
            t = u;
        else if (u != t)
            return og_err(OG_ERR_SHAPE, "node '%s' (Where): X and Y must share one type: X '%s' is %s, "
                          "expected Y '%s' to be %s too, got %s", node, in_name(c, 1), og_dtype_name(t),
                          in_name(c, 2), og_dtype_name(t), og_dtype_name(u));
    }

    char what[256];
    snprintf(what, sizeof what, "node '%s' (Where)", node);
    og_shape y;
    const og_shape *in[3] = {&c->in[0]->shape, &c->in[1]->shape, &c->in[2]->shape};
    og_status st = og_broadcast_shape(what, 3, in, roles, c->in_names, &y);
    if (st != OG_OK)
        return st;
    c->workspace_bytes = 0;
    if (c->out[0] != NULL) {
        c->out[0]->dtype = t;
        c->out[0]->shape = y;
    }
    return OG_OK;
}

/* Copies elements of S bytes; S is a constant in each expansion, so the
 * memcpy becomes one load and store (and reads any dtype of that size
 * without breaking aliasing rules). */
#define WHERE_ROWS(S)                                                                    \
    do {                                                                                 \
        for (bool more = it.numel > 0; more; more = og_bcast_next_row(&it)) {            \
            const uint8_t *pc = cond + it.off[0];                                        \
            const char *px = xd + it.off[1] * (S), *py = yd + it.off[2] * (S);           \
            char *po = od + it.row * (S);                                                \
            for (int64_t i = 0; i < len; i++)                                            \
                memcpy(po + i * (S), pc[i * sc] ? px + i * sx * (S) : py + i * sy * (S), \
                       (S));                                                             \
        }                                                                                \
    } while (0)

static og_status where_run(const og_kernel_call *k)
{
    const og_tensor *c = k->in[0], *x = k->in[1], *y = k->in[2];
    og_tensor *out = k->out[0];
    og_bcast it;
    char what[256];
    og_status st;

    if (out == NULL)
        return OG_OK;
    snprintf(what, sizeof what, "node '%s' (Where)", k->node->name);
    if (c->dtype != OG_BOOL || x->dtype != out->dtype || y->dtype != out->dtype)
        return og_err(OG_ERR_INTERNAL, "%s: kernel got types %s ? %s : %s -> %s, which inference should have "
                      "refused", what, og_dtype_name(c->dtype), og_dtype_name(x->dtype), og_dtype_name(y->dtype),
                      og_dtype_name(out->dtype));
    if ((st = og_bcast_begin(&it, what, out, 3, (const og_tensor *const[]){c, x, y})) != OG_OK)
        return st;
    const uint8_t *cond = c->data;   /* bool: one byte, nonzero is true */
    const char *xd = x->data, *yd = y->data;
    char *od = out->data;
    const int64_t len = it.dims[it.rank - 1];
    const int64_t sc = it.strides[0][it.rank - 1], sx = it.strides[1][it.rank - 1];
    const int64_t sy = it.strides[2][it.rank - 1];
    switch (og_dtype_size(out->dtype)) {
    case 1: WHERE_ROWS(1); break;
    case 2: WHERE_ROWS(2); break;
    case 4: WHERE_ROWS(4); break;
    case 8: WHERE_ROWS(8); break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "%s: no kernel for type %s", what, og_dtype_name(out->dtype));
    }
    return OG_OK;
}

/* dX = Where(condition, dOut, 0) and dY = Where(condition, 0, dOut): each
 * has dOut's shape (condition and the scalar broadcast to it), then is
 * summed back to its input's shape. */
static og_status where_backward(og_backward_call *b)
{
    const char *zero = NULL;
    og_status st;
    if (b->dout[0] == NULL)
        return OG_OK;
    for (int k = 1; k < 3; k++) {
        if (!b->need[k])
            continue;
        if (zero == NULL && (st = og_grad_const_scalar(b, b->out_info[0].dtype, 0.0, &zero)) != OG_OK)
            return st;
        const char *ins[3] = {b->in[0], k == 1 ? b->dout[0] : zero, k == 1 ? zero : b->dout[0]}, *picked;
        if ((st = og_grad_emit(b, "Where", 3, ins, 1, &picked, 0, NULL)) != OG_OK ||
            (st = og_grad_unbroadcast(b, k, picked, &b->din[k])) != OG_OK)
            return st;
    }
    return OG_OK;
}

const og_op og_op_where = {
    .name = "Where",
    .domain = "",
    .since_version = 9,
    .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x6,
    .diff_outputs = 0x1,
    .attrs = NULL,
    .n_attrs = 0,
    .params_size = 0,
    .infer = where_infer,
    .run = where_run,
    .backward = where_backward,
    .cost = og_cost_per_output,
};
