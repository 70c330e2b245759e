/* SPDX-License-Identifier: MIT */
/* Gather — picks slices of `data` along `axis` by `indices`:
 *     output[i_0..i_axis-1, j_0..j_q-1, i_axis+1..] = data[i_0.., indices[j], i_axis+1..]
 * so the output's shape is data[:axis] + indices.shape + data[axis+1:]
 * (rank r - 1 + q; a scalar index drops the axis).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Gather
 *
 * Versions: 1, 11 (negative indices count from the end; axis in [-r, r-1]),
 * 13 (bfloat16). Every type onnxgrad holds for data; indices int32 or
 * int64. An index outside [-s, s-1] (s = data's size on axis) is an error
 * naming the index and its position, raised before data is read.
 *
 * Backward (torch.index_select's and torch.nn.functional.embedding's):
 * d data = ScatterElements(zeros like data, I, dY', axis, reduction "add"),
 * where dY' is dY reshaped to data[:axis] + [N] + data[axis+1:] (N = numel
 * of indices) and I the flattened indices expanded to dY''s shape, so a
 * slice picked several times gets the SUM of its gradients. */
#include <stddef.h>
#include "shape_family.h"

typedef struct gather_params {
    int64_t axis;
} gather_params;

static const og_attr_spec gather_attrs[] = {
    { .name = "axis", .type = OG_ATTR_INT, .offset = offsetof(gather_params, axis), .def_i = 0 },
};

static og_status gather_infer(og_infer_call *c)
{
    const gather_params *p = c->params;
    const og_tinfo *d = c->in[0], *ind = c->in[1];
    og_status st;
    int axis = 0;

    if ((st = sf_check_holdable(c, 0)))
        return st;
    if (ind->dtype != OG_UNDEFINED && ind->dtype != OG_INT32 && ind->dtype != OG_INT64)
        return og_node_err(c->node, OG_ERR_SHAPE, "input indices '%s' has type %s, expected int32 or int64",
                           sf_in(c, 1), og_dtype_name(ind->dtype));
    c->workspace_bytes = 0;
    og_tinfo res = { .dtype = d->dtype, .shape = { .rank = -1 } };
    int r = d->shape.rank, q = ind->shape.rank;
    if (r >= 0) {
        if ((st = sf_axis(c->node, "attribute 'axis'", p->axis, r, true, &axis)))
            return st;
        if (q >= 0) {
            if (r - 1 + q > OG_MAX_RANK)
                return og_node_err(c->node, OG_ERR_LIMIT, "output rank %d is over onnxgrad's limit %d", r - 1 + q,
                                   OG_MAX_RANK);
            res.shape.rank = r - 1 + q;
            int m = 0;
            for (int a = 0; a < axis; a++)
                res.shape.dims[m++] = d->shape.dims[a];
            for (int a = 0; a < q; a++)
                res.shape.dims[m++] = ind->shape.dims[a];
            for (int a = axis + 1; a < r; a++)
                res.shape.dims[m++] = d->shape.dims[a];
            if ((st = og_check_rank_limit(res.shape.rank, "Gather output")))
                return st;
        }
    }
    if (c->out[0])
        *c->out[0] = res;
    return OG_OK;
}

static og_status gather_run(const og_kernel_call *k)
{
    const gather_params *p = k->params;
    const og_tensor *d = k->in[0], *ind = k->in[1];
    og_tensor *y = k->out[0];

    if (!y)
        return OG_OK;
    int r = d->rank;
    int axis = (int)(p->axis < 0 ? p->axis + r : p->axis);
    int64_t s = d->dims[axis];
    if (y->numel != sf_prod(d->dims, 0, axis) * ind->numel * sf_prod(d->dims, axis + 1, r) || y->dtype != d->dtype)
        return og_node_err(k->node, OG_ERR_INTERNAL, "output does not match the inferred shape");
    /* every index is checked before any data is read through it */
    for (int64_t j = 0; j < ind->numel; j++) {
        int64_t v = sf_int_at(ind, j);
        if (v < -s || v >= s) {
            char pos[OG_MAX_RANK * 22 + 2] = "";
            size_t at = 0;
            int64_t rest = j, st[OG_MAX_RANK];
            sf_strides(ind->dims, ind->rank, st);
            for (int a = 0; a < ind->rank && at < sizeof pos; a++) {
                at += (size_t)snprintf(pos + at, sizeof pos - at, "%s%lld", a ? "," : "", (long long)(rest / st[a]));
                rest %= st[a];
            }
            if (s == 0)
                return og_node_err(k->node, OG_ERR_INVALID_ARG, "indices[%s] is %lld, but data has size 0 on axis "
                                   "%d, so no index is valid", pos, (long long)v, axis);
            return og_node_err(k->node, OG_ERR_INVALID_ARG, "indices[%s] is %lld, out of range for axis %d of size "
                               "%lld: expected a value in [%lld, %lld]", pos, (long long)v, axis, (long long)s,
                               (long long)-s, (long long)(s - 1));
        }
    }
    size_t es = og_dtype_size(d->dtype);
    int64_t outer = sf_prod(d->dims, 0, axis);
    size_t inner = (size_t)sf_prod(d->dims, axis + 1, r) * es;
    if (y->numel == 0)
        return OG_OK;
    char *dst = y->data;
    for (int64_t o = 0; o < outer; o++) {
        const char *src = (const char *)d->data + (size_t)o * (size_t)s * inner;
        for (int64_t j = 0; j < ind->numel; j++, dst += inner) {
            int64_t v = sf_int_at(ind, j);
            memcpy(dst, src + (size_t)(v < 0 ? v + s : v) * inner, inner);
        }
    }
    return OG_OK;
}

static og_status gather_backward(og_backward_call *b)
{
    const gather_params *p = b->params;
    const og_shape *ds = &b->in_info[0].shape, *is = &b->in_info[1].shape;
    og_status st;

    if (!b->need[0] || !b->dout[0])
        return OG_OK;
    int r = ds->rank;
    if (r < 0)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the data's rank, unknown when the "
                           "gradient graph is built");
    int64_t axis = p->axis < 0 ? p->axis + r : p->axis;
    /* dY' = dY as data[:axis] + [N] + data[axis+1:] */
    int64_t tshape[OG_MAX_RANK], ones[OG_MAX_RANK], n_ind = 0;
    bool known = is->rank >= 0 && sf_numel(is->dims, is->rank, &n_ind);
    for (int a = 0; a < r; a++) {
        tshape[a] = a == axis ? (known ? n_ind : -1) : ds->dims[a];
        known = known && tshape[a] >= 0;
        ones[a] = a == axis ? -1 : 1;
    }
    const char *target;
    og_attr az = og_attr_int("allowzero", known ? 1 : 0);
    if (known) {
        target = og_gb_ints(b, r, tshape);
    } else {
        og_attr lo = og_attr_int("end", axis), hi = og_attr_int("start", axis + 1);
        const char *parts[3] = { og_gb(b, "Shape", 1, &b->in[0], 1, &lo), og_gb_ints(b, 1, (int64_t[]){ -1 }),
                                 og_gb(b, "Shape", 1, &b->in[0], 1, &hi) };
        og_attr ax0 = og_attr_int("axis", 0);
        target = og_gb(b, "Concat", 3, parts, 1, &ax0);
    }
    const char *dy = og_gb(b, "Reshape", 2, (const char *const[]){ b->dout[0], target }, 1, &az);
    og_attr az0 = og_attr_int("allowzero", 0);
    const char *flat = og_gb(b, "Reshape", 2, (const char *const[]){ b->in[1], og_gb_ints(b, r, ones) }, 1, &az0);
    const char *idx = og_gb2(b, "Expand", flat, known ? target : og_gb1(b, "Shape", dy));
    const char *zeros = NULL;
    if (og_gb_status(b) || (st = og_grad_zeros_like(b, b->in[0], &b->in_info[0], &zeros)))
        return og_gb_status(b) ? og_gb_status(b) : st;
    og_attr at[2] = { og_attr_int("axis", axis), og_attr_string("reduction", "add") };
    b->din[0] = og_gb(b, "ScatterElements", 3, (const char *const[]){ zeros, idx, dy }, 2, at);
    return og_gb_status(b);
}

const og_op og_op_gather = {
    .name = "Gather",
    .domain = "",
    .since_version = 1,
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,   /* indices are integers */
    .diff_outputs = 0x1,
    .attrs = gather_attrs,
    .n_attrs = 1,
    .params_size = sizeof(gather_params),
    .infer = gather_infer,
    .run = gather_run,
    .backward = gather_backward,
    .cost = og_cost_zero,
};
