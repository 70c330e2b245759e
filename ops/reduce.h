/* SPDX-License-Identifier: MIT */
/* reduce.h — the axis plan of the reduction family (ops/reduce.c), shared
 * with Softmax/LogSoftmax (ops/softmax.c) and the losses (ops/loss.c).
 * Nothing else includes it.
 *
 * An axis plan says which axes of an input of rank r a node reduces. The
 * axes come from the `axes` attribute (every Reduce* op before opset 18,
 * ReduceSum before 13) or from the optional int64 `axes` input (ReduceSum
 * from 13); an empty list means every axis, or nothing at all with
 * ReduceSum's noop_with_empty_axes. Negative axes count from the back from
 * opset 11 on. A repeated axis is an error. */
#ifndef OG_OPS_REDUCE_H
#define OG_OPS_REDUCE_H

#include "internal.h"

typedef struct og_red_axes {
    bool known;                     /* which axes are reduced is known */
    bool noop;                      /* empty axes with noop_with_empty_axes: identity */
    int64_t count;                  /* axes listed; -1 when unknown */
    bool reduce[OG_MAX_RANK];       /* when known and the rank is known */
} og_red_axes;

/* Where the axes come from: the attribute, or the optional input (its data
 * when known, else maybe its length). */
typedef struct og_red_src {
    bool from_attr;
    bool present;                   /* attribute given / input not omitted */
    int64_t n;                      /* number of axes; -1 unknown */
    const int64_t *v;               /* values; NULL when unknown */
    const char *name;               /* input name for messages */
} og_red_src;

/* The axes of the attribute, or of the input (info and value may be NULL). */
og_red_src og_red_src_attr(const og_ints *axes);
og_red_src og_red_src_input(bool present, const og_tinfo *info, const og_tensor *value, const char *name);

/* Resolves src against an input of rank r (-1: unknown): OG_ERR_ATTR for a
 * bad attribute, OG_ERR_INVALID_ARG for bad input data. `noop` is the
 * node's noop_with_empty_axes. */
og_status og_red_resolve(const og_node *node, int opset, bool noop, int r, const og_red_src *src,
                         og_red_axes *ax);

/* One axis attribute (ArgMax, Softmax, the losses' class axis): in
 * [-r, r-1] from opset 11, [0, r-1] before; *axis in [0, r). */
og_status og_red_axis(const og_node *node, int opset, int64_t v, int r, const char *what, int *axis);

/* Shape inference of a reduction over known or unknown axes: x's shape with
 * the reduced axes as 1 (keepdims) or dropped. */
void og_red_out_shape(const og_shape *x, const og_red_axes *ax, bool keepdims, og_shape *y);

/* "float, double, int32 or int64" for a dtype mask (bit = og_dtype). */
const char *og_red_type_list(uint32_t mask, char *buf, size_t size);

/* ---- backward helpers (sticky og_gb style: NULL once b->status is set) ----
 * og_red_keep_shape: X's shape with the reduced axes as 1, a 1-D int64
 * value (a constant when X's dims are known, else Shape(X) * keep + red).
 * og_red_keep: t (a reduction's output over X, reduced axes dropped unless
 * keepdims) reshaped so it broadcasts against X.
 * og_red_sum: ReduceSum(t, reduced axes, keepdims = 1), rank r. */
const char *og_red_keep_shape(og_backward_call *b, const char *x, const og_tinfo *xi, const bool *red);
const char *og_red_keep(og_backward_call *b, const char *t, bool keepdims, const char *x, const og_tinfo *xi,
                        const bool *red);
const char *og_red_sum(og_backward_call *b, const char *t, int r, const bool *red);

/* ---- shared with the losses (ops/softmax.c) -------------------------------
 * og_softmax_rows: Softmax (or, with log, LogSoftmax) of x seen as
 * [outer, A, inner], normalised along A, into y (same type, float or
 * double, and size); threaded, bit-identical at any thread count.
 * og_logsoftmax_grad: dY - exp(Y) ReduceSum(dY, axes, keepdims = 1), the
 * gradient through a LogSoftmax whose output is Y. */
void og_softmax_rows(og_dtype t, const void *x, void *y, int64_t outer, int64_t A, int64_t inner, bool log,
                     int n_threads);
const char *og_logsoftmax_grad(og_backward_call *b, const char *y, const char *dy, int n_axes, const int64_t *axes);

#endif
