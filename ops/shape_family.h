/* SPDX-License-Identifier: MIT */
/* shape_family.h — what the shape and data-movement ops share (Concat,
 * Split, Tile, Squeeze, Unsqueeze, Gather, Cast, Dropout, Range include
 * it; nothing else does): tensor names for messages, the "type onnxgrad
 * cannot hold" refusal, axis resolution, reading an int32/int64 tensor of
 * axes/sizes/indices, row-major strides, and the "Reshape dY back to X's
 * shape" gradient of the ops that only move data. */
#ifndef OG_OPS_SHAPE_FAMILY_H
#define OG_OPS_SHAPE_FAMILY_H

#include <stdio.h>
#include <string.h>
#include "internal.h"

static inline const char *sf_in(const og_infer_call *c, int k)
{
    return k < c->n_in && c->in_names[k] ? c->in_names[k] : "?";
}

/* OG_ERR_UNSUPPORTED for a type onnxgrad cannot hold (float16, bfloat16,
 * string, complex), naming the input. */
static inline og_status sf_check_holdable(const og_infer_call *c, int k)
{
    const og_tinfo *t = k < c->n_in ? c->in[k] : NULL;
    if (t && t->dtype != OG_UNDEFINED && og_dtype_size(t->dtype) == 0)
        return og_node_err(c->node, OG_ERR_UNSUPPORTED, "input '%s' has type %s: unsupported type (onnxgrad "
                           "cannot hold it)", sf_in(c, k), og_dtype_name(t->dtype));
    return OG_OK;
}

/* axis in [-r, r-1] (or [0, r-1] when !neg_ok: opsets before 11) into
 * [0, r) in *out; OG_ERR_ATTR naming `what` otherwise. */
static inline og_status sf_axis(const og_node *node, const char *what, int64_t axis, int r, bool neg_ok, int *out)
{
    int64_t lo = neg_ok ? -(int64_t)r : 0;
    if (axis < lo || axis >= r) {
        if (r == 0)
            return og_node_err(node, OG_ERR_ATTR, "%s is %lld, but the input is a scalar (rank 0) with no axis",
                               what, (long long)axis);
        return og_node_err(node, OG_ERR_ATTR, "%s is %lld, expected a value in [%lld, %d] for rank %d%s", what,
                           (long long)axis, (long long)lo, r - 1, r,
                           neg_ok ? "" : " (negative axes need opset >= 11)");
    }
    *out = (int)(axis < 0 ? axis + r : axis);
    return OG_OK;
}

/* Element k of an int32 or int64 tensor. */
static inline int64_t sf_int_at(const og_tensor *t, int64_t k)
{
    return t->dtype == OG_INT32 ? (int64_t)((const int32_t *)t->data)[k] : ((const int64_t *)t->data)[k];
}

/* Row-major strides of dims[0..r). */
static inline void sf_strides(const int64_t *dims, int r, int64_t *st)
{
    int64_t s = 1;
    for (int a = r - 1; a >= 0; a--) {
        st[a] = s;
        s *= dims[a];
    }
}

/* Product of dims[lo..hi) of a tensor that exists (it fits). */
static inline int64_t sf_prod(const int64_t *dims, int lo, int hi)
{
    int64_t p = 1;
    for (int a = lo; a < hi; a++)
        p *= dims[a];
    return p;
}

/* Backward of ops whose output holds input 0's elements in the same order
 * (Squeeze, Unsqueeze, inference Dropout): dX = Reshape(dY, shape of X),
 * allowzero so an empty X's 0 dims are literal. */
static inline og_status sf_reshape_back(og_backward_call *b)
{
    if (!b->need[0] || !b->dout[0])
        return OG_OK;
    const char *shape = NULL;
    og_status st = og_grad_shape_of(b, b->in[0], &b->in_info[0], &shape);
    if (st)
        return st;
    og_attr az = og_attr_int("allowzero", 1);
    b->din[0] = og_gb(b, "Reshape", 2, (const char *const[]){ b->dout[0], shape }, 1, &az);
    return og_gb_status(b);
}

/* OG_ERR_LIMIT naming the node when an output of n elements is over
 * OG_LIMIT_TENSOR_ELEMENTS. */
static inline og_status sf_numel_limit(const og_node *node, int64_t n, const char *what)
{
    int64_t max = og_limit_get(OG_LIMIT_TENSOR_ELEMENTS);
    if (n > max)
        return og_node_err(node, OG_ERR_LIMIT, "%s has %lld elements, over onnxgrad's element limit of %lld "
                           OG_LIMIT_HINT("tensor-elements", "TENSOR_ELEMENTS"), what, (long long)n, (long long)max);
    return OG_OK;
}

/* Product of dims with an overflow check. */
static inline bool sf_numel(const int64_t *dims, int r, int64_t *n)
{
    int64_t p = 1;
    for (int a = 0; a < r; a++)
        if (dims[a] < 0 || !og_mul_ok(p, dims[a], &p))
            return false;
    *n = p;
    return true;
}

/* The axes of Squeeze/Unsqueeze: the attribute `attr` before opset 13,
 * the optional int64 input 1 (data `v`, NULL when unknown) from 13.
 * *n = -1 when unknown, *present false when none were given. Values
 * are copied into axes[] (at most OG_MAX_RANK). */
static inline og_status sf_axes(const og_node *node, int opset, const og_ints *attr, bool input_present,
                                const og_tensor *v, int64_t *axes, int64_t *n, bool *present)
{
    *n = 0;
    *present = false;
    if (opset < 13) {
        if (input_present)
            return og_node_err(node, OG_ERR_INVALID_GRAPH, "axes is an attribute before opset 13, not an input");
        if (!attr->present)
            return OG_OK;
        if (attr->n > OG_MAX_RANK)
            return og_node_err(node, OG_ERR_ATTR, "attribute 'axes' has %lld values; onnxgrad supports rank <= %d",
                               (long long)attr->n, OG_MAX_RANK);
        *present = true;
        *n = attr->n;
        memcpy(axes, attr->v, sizeof(int64_t) * (size_t)attr->n);
        return OG_OK;
    }
    if (!input_present)
        return OG_OK;
    *present = true;
    if (!v) {
        *n = -1;
        return OG_OK;
    }
    if (v->dtype != OG_INT64 || v->rank > 1)
        return og_node_err(node, OG_ERR_INVALID_ARG, "input axes must be a 1-D int64 tensor, got %s of rank %d",
                           og_dtype_name(v->dtype), v->rank);
    if (v->numel > OG_MAX_RANK)
        return og_node_err(node, OG_ERR_INVALID_ARG, "input axes has %lld values; onnxgrad supports rank <= %d",
                           (long long)v->numel, OG_MAX_RANK);
    *n = v->numel;
    memcpy(axes, v->data, sizeof(int64_t) * (size_t)v->numel);
    return OG_OK;
}

/* Resolves n axes against rank r into mark[0..r) (true: listed),
 * refusing out-of-range and repeated axes; `code` is OG_ERR_ATTR for the
 * attribute, OG_ERR_INVALID_ARG for input data. */
static inline og_status sf_mark_axes(const og_node *node, int opset, const int64_t *axes, int64_t n, int r,
                                     bool *mark)
{
    og_status code = opset < 13 ? OG_ERR_ATTR : OG_ERR_INVALID_ARG;
    int64_t lo = opset >= 11 ? -(int64_t)r : 0;
    for (int a = 0; a < r; a++)
        mark[a] = false;
    for (int64_t k = 0; k < n; k++) {
        if (axes[k] < lo || axes[k] >= r)
            return og_node_err(node, code, "axes[%lld] is %lld, expected a value in [%lld, %d]%s", (long long)k,
                               (long long)axes[k], (long long)lo, r - 1,
                               opset >= 11 ? "" : " (negative axes need opset >= 11)");
        int a = (int)(axes[k] < 0 ? axes[k] + r : axes[k]);
        if (mark[a])
            return og_node_err(node, code, "axes lists axis %d twice", a);
        mark[a] = true;
    }
    return OG_OK;
}

/* The axes of Squeeze/Unsqueeze (attribute before 13, int64 input from
 * 13): X holdable, the input's type, then sf_axes. */
static inline og_status sf_axes_of(og_infer_call *c, const og_ints *attr, int64_t *axes, int64_t *n, bool *present)
{
    og_status st;
    bool has_in = c->n_in > 1 && c->in[1];
    if ((st = sf_check_holdable(c, 0)))
        return st;
    if (has_in && c->in[1]->dtype != OG_UNDEFINED && c->in[1]->dtype != OG_INT64)
        return og_node_err(c->node, OG_ERR_SHAPE, "input axes '%s' has type %s, expected int64", sf_in(c, 1),
                           og_dtype_name(c->in[1]->dtype));
    return sf_axes(c->node, c->opset, attr, has_in, has_in ? c->in_value[1] : NULL, axes, n, present);
}

/* Kernel of the ops a compiled plan makes views (Squeeze, Unsqueeze): the
 * node-by-node path copies the elements. */
static inline og_status sf_copy_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    if (y->numel != x->numel || y->dtype != x->dtype)
        return og_node_err(k->node, OG_ERR_INTERNAL, "output does not match the input's elements");
    if (x->numel > 0)
        memcpy(y->data, x->data, (size_t)x->numel * og_dtype_size(x->dtype));
    return OG_OK;
}

#endif
