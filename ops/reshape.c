/* SPDX-License-Identifier: MIT */
/* Reshape — gives `data` a new shape with the same elements in the same
 * (row-major) order. The new shape is the int64 1-D input `shape`: a -1
 * (at most one) is inferred from the element count; a 0 copies the input's
 * dim at that position, unless `allowzero` = 1, where 0 means a real 0
 * (and then 0 and -1 cannot appear together). The element counts must agree.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Reshape
 *
 * Versions: 5 (shape as an input), 13 (bfloat16), 14 (allowzero).
 * Reshape-1 took the shape as an attribute and is not implemented:
 * since_version is 5. Every type onnxgrad holds is copied as bytes.
 *
 * At load time the output shape is known only when the `shape` input's
 * data is (an initializer or a folded Constant); otherwise its length still
 * fixes the output rank, with the dims unknown.
 * Backward: dX = Reshape(dY, shape of X). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

typedef struct reshape_params {
    int64_t allowzero;
} reshape_params;

static const og_attr_spec reshape_attrs[] = {
    {.name = "allowzero", .type = OG_ATTR_INT, .offset = offsetof(reshape_params, allowzero),
     .def_i = 0, .has_range = true, .min_i = 0, .max_i = 1, .since_version = 14},
};

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

/* "[2,0,-1]": the requested shape as given (og_shape_str would print -1 as ?). */
static const char *values_str(const int64_t *v, int64_t n, char *buf, size_t size)
{
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int64_t k = 0; k < n && at < size; k++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", k ? "," : "", (long long)v[k]);
    if (at < size)
        snprintf(buf + at, size - at, "]");
    return buf;
}

/* Element count of a shape: *known false when an unknown dim (or rank)
 * leaves it open; a known 0 fixes it at 0 regardless. Dims at `skip` are
 * left out (-1: none). */
static og_status reshape_count(const og_infer_call *c, const og_shape *s, int skip, const char *what,
                               int64_t *numel, bool *known)
{
    char buf[OG_SHAPE_STR_MAX];
    int64_t p = 1;

    *known = s->rank >= 0;
    for (int d = 0; d < s->rank; d++) {
        if (d == skip)
            continue;
        if (s->dims[d] == 0) {
            *numel = 0;
            *known = true;
            return OG_OK;
        }
        if (s->dims[d] < 0)
            *known = false;
    }
    *numel = -1;
    if (!*known)
        return OG_OK;
    for (int d = 0; d < s->rank; d++)
        if (d != skip && !og_mul_ok(p, s->dims[d], &p))
            return og_err(OG_ERR_LIMIT, "node '%s' (Reshape): %s of shape %s has more elements than "
                          "int64 can count", c->node->name, what, og_shape_str(s, buf, sizeof buf));
    *numel = p;
    return OG_OK;
}

static og_status reshape_infer(og_infer_call *c)
{
    const reshape_params *p = c->params;
    const char *node = c->node->name;
    const og_tinfo *x = c->in[0], *s = c->in[1];
    const og_tensor *sv = c->in_value[1];
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    og_tinfo res;
    og_status st;

    if (x->dtype != OG_UNDEFINED && og_dtype_size(x->dtype) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Reshape): input data '%s' has type %s, which "
                      "onnxgrad cannot hold", node, in_name(c, 0), og_dtype_name(x->dtype));
    if (s->dtype != OG_UNDEFINED && s->dtype != OG_INT64)
        return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): input shape '%s' has type %s, expected int64",
                      node, in_name(c, 1), og_dtype_name(s->dtype));
    if (s->shape.rank >= 0 && s->shape.rank != 1)
        return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): input shape '%s' must be 1-D, got shape %s",
                      node, in_name(c, 1), og_shape_str(&s->shape, b1, sizeof b1));
    c->workspace_bytes = 0;
    res.dtype = x->dtype;
    res.shape.rank = -1;

    /* The output rank is the length of `shape`, known or not. */
    int64_t n = sv != NULL ? sv->numel : s->shape.rank == 1 ? s->shape.dims[0] : -1;
    if (n > OG_MAX_RANK)
        return og_err(OG_ERR_LIMIT, "node '%s' (Reshape): input shape '%s' has %lld entries; onnxgrad "
                      "supports rank <= %d", node, in_name(c, 1), (long long)n, OG_MAX_RANK);
    if (n >= 0) {
        char what[300];
        snprintf(what, sizeof what, "node '%s' (Reshape): output '%s'", node,
                 c->out_names[0] != NULL ? c->out_names[0] : "?");
        if ((st = og_check_rank_limit((int)n, what)) != OG_OK)
            return st;
    }
    if (sv == NULL) {
        if (n >= 0) {
            res.shape.rank = (int)n;
            for (int d = 0; d < (int)n; d++)
                res.shape.dims[d] = -1;
        }
        if (c->out[0] != NULL)
            *c->out[0] = res;
        return OG_OK;
    }
    if (sv->dtype != OG_INT64 || sv->rank != 1)
        return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): input shape '%s' must be 1-D int64, got a "
                      "%s tensor of rank %d", node, in_name(c, 1), og_dtype_name(sv->dtype), sv->rank);

    const int64_t *v = sv->data;
    const int r = x->shape.rank;
    int infer_at = -1, zero_at = -1;
    res.shape.rank = (int)n;
    for (int d = 0; d < (int)n; d++) {
        if (v[d] < -1)
            return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): shape '%s' = %s has %lld at position %d; "
                          "expected a dim >= 0, or -1 (inferred)", node, in_name(c, 1),
                          values_str(v, n, b1, sizeof b1), (long long)v[d], d);
        if (v[d] == -1) {
            if (infer_at >= 0)
                return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): shape '%s' = %s has -1 at positions "
                              "%d and %d; expected at most one dim to infer", node, in_name(c, 1),
                              values_str(v, n, b1, sizeof b1), infer_at, d);
            infer_at = d;
            res.shape.dims[d] = -1;
        } else if (v[d] == 0 && !p->allowzero) {
            /* 0 copies the input's dim at the same position */
            if (r >= 0 && d >= r)
                return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): shape '%s' = %s has 0 at position %d, "
                              "which copies dim %d of data '%s', but data has rank %d (shape %s)",
                              node, in_name(c, 1), values_str(v, n, b1, sizeof b1), d, d, in_name(c, 0),
                              r, og_shape_str(&x->shape, b2, sizeof b2));
            res.shape.dims[d] = r >= 0 ? x->shape.dims[d] : -1;
        } else {
            if (v[d] == 0 && zero_at < 0)
                zero_at = d;
            res.shape.dims[d] = v[d];
        }
    }
    if (infer_at >= 0 && zero_at >= 0)
        return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): shape '%s' = %s has both 0 (position %d) and "
                      "-1 (position %d) with allowzero=1; expected one or the other, as the -1 cannot be "
                      "inferred", node, in_name(c, 1), values_str(v, n, b1, sizeof b1), zero_at, infer_at);

    /* An unknown dim that a 0 copies (a batch N in [0,-1]) is a factor of
     * both counts: leaving it out of both still gives the -1, as
     * onnx.shape_inference does. */
    og_shape xs = x->shape, rs = res.shape;
    for (int d = 0; infer_at >= 0 && !p->allowzero && d < (int)n && d < r; d++)
        if (v[d] == 0 && xs.dims[d] < 0)
            xs.dims[d] = rs.dims[d] = 1;
    int64_t in_n, rest;
    bool in_known, rest_known;
    if ((st = reshape_count(c, &xs, -1, "input data", &in_n, &in_known)) != OG_OK ||
        (st = reshape_count(c, &rs, infer_at, "requested shape", &rest, &rest_known)) != OG_OK)
        return st;
    if (infer_at >= 0) {
        if (rest_known && rest == 0)
            return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): shape '%s' = %s: the -1 at position %d "
                          "cannot be inferred, as the other dims multiply to 0", node, in_name(c, 1),
                          values_str(v, n, b1, sizeof b1), infer_at);
        if (in_known && rest_known) {
            if (in_n % rest != 0)
                return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): data '%s' of shape %s has %lld "
                              "elements, which shape '%s' = %s cannot hold: expected a multiple of %lld "
                              "(the other dims' product)", node, in_name(c, 0),
                              og_shape_str(&x->shape, b2, sizeof b2), (long long)in_n, in_name(c, 1),
                              values_str(v, n, b1, sizeof b1), (long long)rest);
            res.shape.dims[infer_at] = in_n / rest;
        }
    } else if (in_known && rest_known && in_n != rest) {
        return og_err(OG_ERR_SHAPE, "node '%s' (Reshape): data '%s' of shape %s has %lld elements, "
                      "but shape '%s' = %s holds %lld; expected equal counts", node, in_name(c, 0),
                      og_shape_str(&x->shape, b2, sizeof b2), (long long)in_n, in_name(c, 1),
                      values_str(v, n, b1, sizeof b1), (long long)rest);
    }
    if (c->out[0] != NULL)
        *c->out[0] = res;
    return OG_OK;
}

static og_status reshape_run(const og_kernel_call *k)
{
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];

    if (out == NULL)
        return OG_OK;
    if (out->numel != in->numel || out->dtype != in->dtype)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Reshape): output has %lld %s elements, "
                      "expected %lld %s", k->node->name, (long long)out->numel,
                      og_dtype_name(out->dtype), (long long)in->numel, og_dtype_name(in->dtype));
    /* numel * size fits: the engine allocated both tensors at this size */
    if (in->numel > 0)
        memcpy(out->data, in->data, (size_t)in->numel * og_dtype_size(in->dtype));
    return OG_OK;
}

/* Backward: dX = Reshape(dY, shape of X). allowzero=1 so that a 0 in X's
 * shape (an empty tensor) is taken literally, not as "copy dY's dim". */
static og_status reshape_backward(og_backward_call *b)
{
    const char *ins[2] = { b->dout[0], NULL };
    og_attr az = og_attr_int("allowzero", 1);
    og_status st;

    if (!b->need[0] || b->dout[0] == NULL)
        return OG_OK;
    if ((st = og_grad_shape_of(b, b->in[0], &b->in_info[0], &ins[1])) != OG_OK)
        return st;
    return og_grad_emit(b, "Reshape", 2, ins, 1, &b->din[0], 1, &az);
}

const og_op og_op_reshape = {
    .name = "Reshape",
    .domain = "",
    .since_version = 5,
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = reshape_attrs,
    .n_attrs = (int)(sizeof reshape_attrs / sizeof reshape_attrs[0]),
    .params_size = sizeof(reshape_params),
    .infer = reshape_infer,
    .run = reshape_run,
    .backward = reshape_backward,
    .alias_out0_in0 = true,   /* a compiled plan makes the output a view */
    .cost = og_cost_zero,
};
