/* SPDX-License-Identifier: MIT */
/* Range — the sequence start, start + delta, ... up to (not including)
 * limit: max(ceil((limit - start) / delta), 0) elements, element i being
 * start + i * delta. start, limit and delta are scalars (a 1-element tensor
 * is accepted too) of one type.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Range
 *
 * Versions: 11. Types float, double, int16, int32, int64. delta = 0, a
 * NaN or infinite bound, and a count over OG_LIMIT_TENSOR_ELEMENTS are
 * errors. Integer counts are computed exactly (no overflow); float counts
 * in double.
 *
 * Backward: none. The output depends on start and delta only through
 * the count's steps; like torch.arange (which takes no tensor inputs),
 * diff_inputs is clear, so asking for a gradient through Range is an
 * error naming it. */
#include <math.h>
#include <stddef.h>
#include "shape_family.h"

static bool range_type(og_dtype t)
{
    return t == OG_FLOAT || t == OG_DOUBLE || t == OG_INT16 || t == OG_INT32 || t == OG_INT64;
}

static double range_f(const og_tensor *t)
{
    return t->dtype == OG_FLOAT ? (double)*(const float *)t->data : *(const double *)t->data;
}

static int64_t range_i(const og_tensor *t)
{
    switch (t->dtype) {
    case OG_INT16: return *(const int16_t *)t->data;
    case OG_INT32: return *(const int32_t *)t->data;
    default: return *(const int64_t *)t->data;
    }
}

/* The element count from the three scalars. */
static og_status range_count(const og_node *node, const og_tensor *const *v, int64_t *count)
{
    static const char *const role[3] = { "start", "limit", "delta" };
    for (int k = 0; k < 3; k++)
        if (v[k]->numel != 1 || v[k]->rank > 1)
            return og_node_err(node, OG_ERR_INVALID_ARG, "input %s must be a scalar, got %lld elements of rank %d",
                               role[k], (long long)v[k]->numel, v[k]->rank);
    if (v[0]->dtype == OG_FLOAT || v[0]->dtype == OG_DOUBLE) {
        double s = range_f(v[0]), l = range_f(v[1]), d = range_f(v[2]);
        if (!isfinite(s) || !isfinite(l) || !isfinite(d))
            return og_node_err(node, OG_ERR_INVALID_ARG, "start %g, limit %g and delta %g must be finite", s, l, d);
        if (d == 0)
            return og_node_err(node, OG_ERR_INVALID_ARG, "delta is 0; expected a nonzero step");
        double n = ceil((l - s) / d);
        if (n > 9.0e15)
            return og_node_err(node, OG_ERR_LIMIT, "start %g, limit %g, delta %g give %g elements, over onnxgrad's "
                               "element limit", s, l, d, n);
        *count = n > 0 ? (int64_t)n : 0;
    } else {
        int64_t s = range_i(v[0]), l = range_i(v[1]), d = range_i(v[2]);
        if (d == 0)
            return og_node_err(node, OG_ERR_INVALID_ARG, "delta is 0; expected a nonzero step");
        /* unsigned differences are exact for any int64 pair */
        uint64_t diff, step;
        if ((d > 0 && l <= s) || (d < 0 && l >= s)) {
            *count = 0;
        } else {
            diff = d > 0 ? (uint64_t)l - (uint64_t)s : (uint64_t)s - (uint64_t)l;
            step = d > 0 ? (uint64_t)d : 0 - (uint64_t)d;
            uint64_t n = diff / step + (diff % step != 0);
            if (n > (uint64_t)INT64_MAX)
                return og_node_err(node, OG_ERR_LIMIT, "the range has %llu elements, over onnxgrad's element "
                                   "limit", (unsigned long long)n);
            *count = (int64_t)n;
        }
    }
    return sf_numel_limit(node, *count, "the output");
}

static og_status range_infer(og_infer_call *c)
{
    og_dtype t = OG_UNDEFINED;
    og_status st;
    for (int k = 0; k < 3; k++) {
        og_dtype tk = c->in[k]->dtype;
        if (tk == OG_UNDEFINED)
            continue;
        if (!range_type(tk))
            return og_node_err(c->node, og_dtype_size(tk) ? OG_ERR_SHAPE : OG_ERR_UNSUPPORTED, "input '%s' has type "
                               "%s, expected float, double, int16, int32 or int64", sf_in(c, k), og_dtype_name(tk));
        if (t != OG_UNDEFINED && tk != t)
            return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has type %s, expected %s like the others",
                               sf_in(c, k), og_dtype_name(tk), og_dtype_name(t));
        t = tk;
        const og_shape *s = &c->in[k]->shape;
        if (s->rank > 1 || (s->rank == 1 && s->dims[0] >= 0 && s->dims[0] != 1))
            return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' must be a scalar", sf_in(c, k));
    }
    c->workspace_bytes = 0;
    og_tinfo res = { .dtype = t, .shape = { .rank = 1, .dims = { -1 } } };
    if (c->in_value[0] && c->in_value[1] && c->in_value[2] &&
        (st = range_count(c->node, c->in_value, &res.shape.dims[0])))
        return st;
    if (c->out[0])
        *c->out[0] = res;
    return OG_OK;
}

#define RANGE_FILL(T, S, D)                                    \
    do {                                                       \
        T *y_ = y->data;                                       \
        const T s_ = (T)(S), d_ = (T)(D);                      \
        for (int64_t i = 0; i < n; i++)                        \
            y_[i] = (T)(s_ + (T)i * d_);                       \
    } while (0)

static og_status range_run(const og_kernel_call *k)
{
    og_tensor *y = k->out[0];
    int64_t n;
    og_status st;

    if (!y)
        return OG_OK;
    if ((st = range_count(k->node, k->in, &n)))
        return st;
    if (y->numel != n || y->dtype != k->in[0]->dtype)
        return og_node_err(k->node, OG_ERR_INTERNAL, "output does not match the inferred shape");
    switch (y->dtype) {
    case OG_FLOAT: RANGE_FILL(float, range_f(k->in[0]), range_f(k->in[2])); break;
    case OG_DOUBLE: RANGE_FILL(double, range_f(k->in[0]), range_f(k->in[2])); break;
    default: {
        /* in uint64 so no intermediate overflows; every value lies between start and limit */
        uint64_t s = (uint64_t)range_i(k->in[0]), d = (uint64_t)range_i(k->in[2]);
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)(s + (uint64_t)i * d);
            if (y->dtype == OG_INT16)
                ((int16_t *)y->data)[i] = (int16_t)v;
            else if (y->dtype == OG_INT32)
                ((int32_t *)y->data)[i] = (int32_t)v;
            else
                ((int64_t *)y->data)[i] = v;
        }
    }
    }
    return OG_OK;
}

const og_op og_op_range = {
    .name = "Range",
    .domain = "",
    .since_version = 11,
    .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0,   /* no gradient (see above) */
    .diff_outputs = 0,
    .infer = range_infer,
    .run = range_run,
};
