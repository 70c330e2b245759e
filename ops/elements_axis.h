/* SPDX-License-Identifier: MIT */
/* elements_axis.h — what GatherElements and ScatterElements share (both
 * files include it; nothing else does).
 *
 * Both pair every element of `indices` with one element of `data`: at
 * position p of indices (row-major), the data element is p itself on every
 * axis but `axis`, where it is indices[p] (negative counts from the end).
 * The contract: data and indices have the same rank r >= 1; on every axis
 * other than `axis` an indices dim is at most the data dim (so p is a valid
 * data position there); on `axis` any size is allowed. ONNX leaves the
 * second rule to the runtimes; ONNX Runtime and PyTorch both require it.
 *
 * elem_walk visits indices in row-major order and gives each element's
 * flat data offset, refusing an index outside [-s, s-1] (s = data's size
 * on axis) before the caller touches data through it. */
#ifndef OG_OPS_ELEMENTS_AXIS_H
#define OG_OPS_ELEMENTS_AXIS_H

#include <stdio.h>
#include <string.h>
#include "internal.h"

static inline const char *elem_name(const char *const *names, int k)
{
    return names && names[k] ? names[k] : "?";
}

/* Checks data (input 0) and indices (input 1) against the contract above
 * and resolves `axis` into [0, r) in *axis (-1 while the rank is unknown). */
static og_status elem_infer_common(const og_infer_call *c, const char *op, int64_t axis_attr, int *axis)
{
    const char *node = c->node->name;
    const og_tinfo *d = c->in[0], *ind = c->in[1];
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];

    if (d->dtype != OG_UNDEFINED && og_dtype_size(d->dtype) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): input data '%s' has type %s, which onnxgrad "
                      "cannot hold; expected a numeric or bool type", node, op, elem_name(c->in_names, 0),
                      og_dtype_name(d->dtype));
    if (ind->dtype != OG_UNDEFINED && ind->dtype != OG_INT32 && ind->dtype != OG_INT64)
        return og_err(OG_ERR_SHAPE, "node '%s' (%s): input indices '%s' has type %s, expected int32 or int64",
                      node, op, elem_name(c->in_names, 1), og_dtype_name(ind->dtype));
    for (int k = 0; k < 2; k++)
        if (c->in[k]->shape.rank == 0)
            return og_err(OG_ERR_SHAPE, "node '%s' (%s): input %s '%s' is a scalar, expected rank >= 1", node,
                          op, k == 0 ? "data" : "indices", elem_name(c->in_names, k));
    int r = d->shape.rank >= 0 ? d->shape.rank : ind->shape.rank;
    if (d->shape.rank >= 0 && ind->shape.rank >= 0 && d->shape.rank != ind->shape.rank)
        return og_err(OG_ERR_SHAPE, "node '%s' (%s): input indices '%s' has shape %s, expected the rank of "
                      "data '%s' (%s)", node, op, elem_name(c->in_names, 1), og_shape_str(&ind->shape, b1, sizeof b1),
                      elem_name(c->in_names, 0), og_shape_str(&d->shape, b2, sizeof b2));
    *axis = -1;
    if (r < 0)
        return OG_OK;
    if (axis_attr < -(int64_t)r || axis_attr >= r)
        return og_err(OG_ERR_ATTR, "node '%s' (%s): attribute 'axis' is %lld, expected a value in [%d, %d] "
                      "for rank %d", node, op, (long long)axis_attr, -r, r - 1, r);
    *axis = (int)(axis_attr < 0 ? axis_attr + r : axis_attr);
    if (d->shape.rank < 0 || ind->shape.rank < 0)
        return OG_OK;
    for (int a = 0; a < r; a++) {
        int64_t di = d->shape.dims[a], ii = ind->shape.dims[a];
        if (a != *axis && di >= 0 && ii > di)
            return og_err(OG_ERR_SHAPE, "node '%s' (%s): input indices '%s' has shape %s and data '%s' has "
                          "shape %s: on axis %d (not the gather/scatter axis %d) indices may be at most %lld "
                          "long, got %lld", node, op, elem_name(c->in_names, 1),
                          og_shape_str(&ind->shape, b1, sizeof b1), elem_name(c->in_names, 0),
                          og_shape_str(&d->shape, b2, sizeof b2), a, *axis, (long long)di, (long long)ii);
    }
    return OG_OK;
}

/* The same contract re-checked on the run-time tensors the loops rely on. */
static bool elem_run_ok(const og_tensor *d, const og_tensor *ind, int axis)
{
    if (d->rank != ind->rank || axis < 0 || axis >= d->rank ||
        (ind->dtype != OG_INT32 && ind->dtype != OG_INT64))
        return false;
    for (int a = 0; a < d->rank; a++)
        if (a != axis && ind->dims[a] > d->dims[a])
            return false;
    return true;
}

typedef struct elem_walk {
    const og_node *node;
    const char *op;
    const int32_t *i32;               /* one of these is the indices data */
    const int64_t *i64;
    int r, axis;
    int64_t size;                     /* data's size on axis */
    int64_t idims[OG_MAX_RANK];
    int64_t dstride[OG_MAX_RANK];     /* data's row-major strides */
    int64_t pos[OG_MAX_RANK];         /* current position in indices */
    int64_t base;                     /* data offset of pos with pos[axis] read as 0 */
} elem_walk;

static void elem_walk_init(elem_walk *w, const og_node *node, const char *op, const og_tensor *d,
                           const og_tensor *ind, int axis)
{
    memset(w, 0, sizeof *w);
    w->node = node;
    w->op = op;
    w->i32 = ind->dtype == OG_INT32 ? ind->data : NULL;
    w->i64 = ind->dtype == OG_INT64 ? ind->data : NULL;
    w->r = d->rank;
    w->axis = axis;
    w->size = d->dims[axis];
    int64_t s = 1;
    for (int a = d->rank - 1; a >= 0; a--) {
        w->dstride[a] = s;
        w->idims[a] = ind->dims[a];
        s *= d->dims[a];   /* d's numel fits: the tensor exists */
    }
}

static og_status elem_index_error(const elem_walk *w, int64_t v)
{
    char pos[OG_MAX_RANK * 22 + 2];
    size_t at = 0;
    for (int a = 0; a < w->r && at < sizeof pos; a++)
        at += (size_t)snprintf(pos + at, sizeof pos - at, "%s%lld", a ? "," : "", (long long)w->pos[a]);
    if (w->size == 0)
        return og_err(OG_ERR_INVALID_ARG, "node '%s' (%s): indices[%s] is %lld, but data has size 0 on axis %d, "
                      "so no index is valid", w->node->name, w->op, pos, (long long)v, w->axis);
    return og_err(OG_ERR_INVALID_ARG, "node '%s' (%s): indices[%s] is %lld, out of range for axis %d of size "
                  "%lld: expected a value in [%lld, %lld]", w->node->name, w->op, pos, (long long)v, w->axis,
                  (long long)w->size, (long long)-w->size, (long long)(w->size - 1));
}

/* Data offset of indices element q (the walk's current position, q = 0, 1,
 * ... in order), then steps to the next position. */
static inline og_status elem_walk_next(elem_walk *w, int64_t q, int64_t *off)
{
    int64_t v = w->i64 ? w->i64[q] : (int64_t)w->i32[q];
    if (v < -w->size || v >= w->size)
        return elem_index_error(w, v);
    if (v < 0)
        v += w->size;
    *off = w->base + v * w->dstride[w->axis];
    for (int a = w->r - 1; a >= 0; a--) {
        int64_t step = a == w->axis ? 0 : w->dstride[a];
        if (++w->pos[a] < w->idims[a]) {
            w->base += step;
            break;
        }
        w->base -= (w->idims[a] - 1) * step;
        w->pos[a] = 0;
    }
    return OG_OK;
}

#endif
