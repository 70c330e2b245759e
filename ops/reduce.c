/* SPDX-License-Identifier: MIT */
/* The reduction family — ReduceSum, ReduceMean, ReduceMax, ReduceMin,
 * ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum,
 * ReduceLogSumExp, and ArgMax/ArgMin: one axis plan, one grouped loop, a
 * table row and a few expressions per op.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#ReduceMean (and
 * #ReduceSum, #ReduceMax, ..., #ArgMax, #ArgMin)
 *
 * Reduce*: Y = finish(combine over the reduced axes of map(X)); with
 * keepdims = 1 (the default) each reduced axis stays as a dim of 1, with 0
 * it is dropped. Empty axes reduce every axis. Per op (map, combine, finish):
 *   Sum x,+,-   Mean x,+,/n   SumSquare x*x,+,-   L1 |x|,+,-   L2 x*x,+,sqrt
 *   LogSum x,+,log   LogSumExp exp(x-m),+,m+log (m: the max, for stability)
 *   Prod x,*,-   Max x,max,-   Min x,min,-
 * Versions: 1 (`axes` attribute, non-negative axes), 11 (negative axes),
 * 12 (int8/uint8 for Max/Min), 13 (bfloat16; ReduceSum's axes become an
 * optional int64 input, with noop_with_empty_axes = 1 making empty axes an
 * identity). The other ops keep the attribute through opset 17 (it becomes
 * an input in 18, past what onnxgrad reads), so the attribute is marked
 * to_input: a copy raised past 17 refuses it instead of dropping it.
 * ArgMax/ArgMin: the int64 index of the largest/smallest element along
 * `axis` (default 0), the first one at ties unless select_last_index = 1
 * (opset 12+); NaN counts as the largest and as the smallest (numpy, PyTorch).
 *
 * Types: float and double for all; int32, int64, uint32, uint64 for Sum,
 * Mean (integer division, truncating, as ONNX Runtime), Prod, Max, Min, L1,
 * SumSquare (integer arithmetic wraps); int8/uint8 too for Max/Min (12+);
 * ArgMax/ArgMin take all of these and int16/uint16. L2, LogSum and
 * LogSumExp of integers (valid ONNX, no model uses them) are refused as
 * unsupported; float16/bfloat16 cannot be held. Over an empty set: Sum,
 * SumSquare, L1, L2 give 0, Prod 1, Mean NaN (integers 0), Max -inf (the
 * type's minimum), Min +inf (maximum), LogSum and LogSumExp -inf; ArgMax over
 * an empty axis is an error. Max/Min propagate NaN.
 *
 * Kernel: adjacent axes that are all reduced or all kept merge into one
 * group, size-1 axes drop out. When the innermost group is reduced, each
 * output runs over contiguous runs of X with 8 lanes in a fixed order (the
 * compiler vectorises them); when it is kept, a block of up to RED_JB
 * contiguous outputs accumulates rows of X element by element. Tasks are
 * fixed ranges of outputs sized by the shape alone, threaded with
 * og_parallel_for, so results are bit-identical at any thread count.
 *
 * Backward (dYk: dY reshaped to keep the reduced axes as 1, Yk likewise;
 * ReduceSum emitted with axes as an input, opset 13+). The subgradients
 * match PyTorch's (torch.sum/mean/amax/amin/prod/norm/logsumexp):
 *   Sum: Expand(dYk, Shape(X))            Mean: Expand(dYk) * 1/n
 *   SumSquare: 2 X dYk                    L1: sign(X) dYk (0 at X = 0)
 *   L2: X dYk / Yk (0 where Y = 0)        LogSum: Expand(dYk / exp(Yk))
 *   LogSumExp: dYk exp(X - Yk)
 *   Max/Min: dYk * M / ReduceSum(M), M = (X == Yk): split evenly between
 *     tied elements, as torch.amax/amin (torch.max(dim) instead sends all
 *     to one index; onnx export of amax gives ReduceMax).
 *   Prod: dYk * Yk / X where X != 0; at a zero, the product of the other
 *     elements when it is the group's only zero, else 0 (torch.prod's
 *     rule); correct at second order too.
 *   ArgMax/ArgMin: no gradient (integer output). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"
#include "reduce.h"

/* The loops below are written so the vectoriser can keep every lane's
 * order (explicit lanes, elementwise rows); -O3's cost model lets it. */
#pragma GCC optimize("O3")

/* ---- the axis plan ------------------------------------------------------- */

og_red_src og_red_src_attr(const og_ints *axes)
{
    return (og_red_src){ .from_attr = true, .present = axes->present, .n = axes->n, .v = axes->v };
}

og_red_src og_red_src_input(bool present, const og_tinfo *info, const og_tensor *value, const char *name)
{
    og_red_src src = { .present = present, .name = name ? name : "?", .n = -1 };
    if (value != NULL && value->dtype == OG_INT64 && value->rank == 1) {
        src.n = value->numel;
        src.v = value->data;
    } else if (info != NULL && info->shape.rank == 1) {
        src.n = info->shape.dims[0];
    }
    return src;
}

og_status og_red_resolve(const og_node *node, int opset, bool noop, int r, const og_red_src *src, og_red_axes *ax)
{
    og_status code = src->from_attr ? OG_ERR_ATTR : OG_ERR_INVALID_ARG;
    char what[200];

    if (src->from_attr)
        snprintf(what, sizeof what, "attribute axes");
    else
        snprintf(what, sizeof what, "input axes '%s'", src->name);
    memset(ax, 0, sizeof *ax);
    ax->count = src->present ? src->n : 0;
    if (ax->count == 0) {
        ax->known = true;
        ax->noop = noop;
        for (int d = 0; d < r && !ax->noop; d++)
            ax->reduce[d] = true;
        return OG_OK;
    }
    if (src->v == NULL || r < 0)
        return OG_OK;   /* values or rank unknown: decided at run time */
    int64_t lo = opset >= 11 ? -(int64_t)r : 0;
    for (int64_t i = 0; i < src->n; i++) {
        int64_t a = src->v[i];
        if (a < lo || a >= r)
            return og_node_err(node, code, "%s has %lld at position %lld, expected an axis in [%lld, %d] for "
                               "data of rank %d", what, (long long)a, (long long)i, (long long)lo, r - 1, r);
        if (a < 0)
            a += r;
        if (ax->reduce[a])
            return og_node_err(node, code, "%s repeats axis %lld (at position %lld); expected each axis at most "
                               "once", what, (long long)src->v[i], (long long)i);
        ax->reduce[a] = true;
    }
    ax->known = true;
    return OG_OK;
}

og_status og_red_axis(const og_node *node, int opset, int64_t v, int r, const char *what, int *axis)
{
    int64_t lo = opset >= 11 ? -(int64_t)r : 0;
    if (v < lo || v >= r)
        return og_node_err(node, OG_ERR_ATTR, "attribute '%s' is %lld, expected a value in [%lld, %d] for %s of "
                           "rank %d", "axis", (long long)v, (long long)lo, r - 1, what, r);
    *axis = (int)(v < 0 ? v + r : v);
    return OG_OK;
}

void og_red_out_shape(const og_shape *x, const og_red_axes *ax, bool keepdims, og_shape *y)
{
    int r = x->rank;
    if (ax->known && ax->noop) {
        *y = *x;
        return;
    }
    if (r < 0) {
        /* every axis reduced and dropped gives a scalar whatever the rank */
        y->rank = ax->known && ax->count == 0 && !keepdims ? 0 : -1;
        return;
    }
    if (!ax->known) {
        /* which axes is unknown: with keepdims the rank stays, and a dim of
         * 1 stays 1 either way; without, only the rank may be known */
        if (keepdims) {
            y->rank = r;
            for (int d = 0; d < r; d++)
                y->dims[d] = x->dims[d] == 1 ? 1 : -1;
        } else {
            y->rank = ax->count > 0 && ax->count <= r ? r - (int)ax->count : -1;
            for (int d = 0; d < y->rank; d++)
                y->dims[d] = -1;
        }
        return;
    }
    int o = 0;
    for (int d = 0; d < r; d++) {
        if (!ax->reduce[d])
            y->dims[o++] = x->dims[d];
        else if (keepdims)
            y->dims[o++] = 1;
    }
    y->rank = o;
}

const char *og_red_type_list(uint32_t mask, char *buf, size_t size)
{
    static const og_dtype order[] = { OG_FLOAT, OG_DOUBLE, OG_INT8, OG_UINT8, OG_INT16, OG_UINT16,
                                      OG_INT32, OG_INT64, OG_UINT32, OG_UINT64 };
    int n = 0, total = 0;
    size_t at = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        total += (int)(mask >> order[k] & 1u);
    for (size_t k = 0; k < sizeof order / sizeof order[0] && at < size; k++)
        if (mask >> order[k] & 1u) {
            n++;
            at += (size_t)snprintf(buf + at, size - at, "%s%s", n == 1 ? "" : n == total ? " or " : ", ",
                                   og_dtype_name(order[k]));
        }
    return buf;
}

/* ---- backward helpers ------------------------------------------------------ */

const char *og_red_keep_shape(og_backward_call *b, const char *x, const og_tinfo *xi, const bool *red)
{
    int r = xi->shape.rank;
    int64_t dims[OG_MAX_RANK], keep[OG_MAX_RANK], one[OG_MAX_RANK];
    if (b->status)
        return NULL;
    if (r < 0) {
        b->status = og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the rank of '%s' known", x);
        return NULL;
    }
    for (int d = 0; d < r; d++) {
        dims[d] = red[d] ? 1 : xi->shape.dims[d];
        keep[d] = !red[d];
        one[d] = red[d];
    }
    if (og_shape_known(&xi->shape))
        return og_gb_ints(b, r, dims);
    return og_gb_add(b, og_gb_mul(b, og_gb1(b, "Shape", x), og_gb_ints(b, r, keep)), og_gb_ints(b, r, one));
}

const char *og_red_keep(og_backward_call *b, const char *t, bool keepdims, const char *x, const og_tinfo *xi,
                        const bool *red)
{
    if (keepdims || b->status)
        return b->status ? NULL : t;
    return og_gb2(b, "Reshape", t, og_red_keep_shape(b, x, xi, red));
}

const char *og_red_sum(og_backward_call *b, const char *t, int r, const bool *red)
{
    int64_t axes[OG_MAX_RANK];
    int n = 0;
    for (int d = 0; d < r; d++)
        if (red[d])
            axes[n++] = d;
    og_attr keep = og_attr_int("keepdims", 1);
    if (n == 0)
        return t;
    return og_gb(b, "ReduceSum", 2, (const char *const[]){ t, og_gb_ints(b, n, axes) }, 1, &keep);
}

/* ---- the family table -------------------------------------------------------- */

typedef enum rkind {
    RK_SUM, RK_MEAN, RK_MAX, RK_MIN, RK_PROD, RK_L1, RK_L2, RK_SUMSQ, RK_LOGSUM, RK_LSE, RK_ARGMAX, RK_ARGMIN,
    RK_COUNT
} rkind;

#define T_F ((1u << OG_FLOAT) | (1u << OG_DOUBLE))
#define T_I ((1u << OG_INT32) | (1u << OG_INT64) | (1u << OG_UINT32) | (1u << OG_UINT64))
#define T_8 ((1u << OG_INT8) | (1u << OG_UINT8))
#define T_16 ((1u << OG_INT16) | (1u << OG_UINT16))

typedef struct rrow {
    const char *name;
    uint32_t types;     /* dtypes with a kernel */
    uint32_t types12;   /* more from opset 12 */
} rrow;

static const rrow rrows[RK_COUNT] = {
    [RK_SUM] = { "ReduceSum", T_F | T_I, 0 },
    [RK_MEAN] = { "ReduceMean", T_F | T_I, 0 },
    [RK_MAX] = { "ReduceMax", T_F | T_I, T_8 },
    [RK_MIN] = { "ReduceMin", T_F | T_I, T_8 },
    [RK_PROD] = { "ReduceProd", T_F | T_I, 0 },
    [RK_L1] = { "ReduceL1", T_F | T_I, 0 },
    [RK_L2] = { "ReduceL2", T_F, 0 },
    [RK_SUMSQ] = { "ReduceSumSquare", T_F | T_I, 0 },
    [RK_LOGSUM] = { "ReduceLogSum", T_F, 0 },
    [RK_LSE] = { "ReduceLogSumExp", T_F, 0 },
    [RK_ARGMAX] = { "ArgMax", T_F | T_I | T_8 | T_16, 0 },
    [RK_ARGMIN] = { "ArgMin", T_F | T_I | T_8 | T_16, 0 },
};

typedef struct reduce_params {
    og_ints axes;                   /* ReduceSum: opsets 1-12; the others: 1-17 */
    int64_t keepdims;
    int64_t noop_with_empty_axes;   /* ReduceSum, opset 13+ */
    int64_t axis;                   /* ArgMax/ArgMin */
    int64_t select_last_index;      /* ArgMax/ArgMin, opset 12+ */
} reduce_params;

#define KEEPDIMS_SPEC                                                                                      \
    { .name = "keepdims", .type = OG_ATTR_INT, .offset = offsetof(reduce_params, keepdims), .def_i = 1,  \
      .has_range = true, .min_i = 0, .max_i = 1 }

static const og_attr_spec reducesum_attrs[] = {
    { .name = "axes", .type = OG_ATTR_INTS, .offset = offsetof(reduce_params, axes), .since_version = 1,
      .until_version = 12, .to_input = true },
    KEEPDIMS_SPEC,
    { .name = "noop_with_empty_axes", .type = OG_ATTR_INT, .offset = offsetof(reduce_params, noop_with_empty_axes),
      .def_i = 0, .has_range = true, .min_i = 0, .max_i = 1, .since_version = 13 },
};

static const og_attr_spec reduce_attrs[] = {
    { .name = "axes", .type = OG_ATTR_INTS, .offset = offsetof(reduce_params, axes), .since_version = 1,
      .until_version = 17, .to_input = true },
    KEEPDIMS_SPEC,
};

static const og_attr_spec arg_attrs[] = {
    { .name = "axis", .type = OG_ATTR_INT, .offset = offsetof(reduce_params, axis), .def_i = 0 },
    KEEPDIMS_SPEC,
    { .name = "select_last_index", .type = OG_ATTR_INT, .offset = offsetof(reduce_params, select_last_index),
      .def_i = 0, .has_range = true, .min_i = 0, .max_i = 1, .since_version = 12 },
};

static bool axes_from_input(rkind kind, int opset) { return kind == RK_SUM && opset >= 13; }

/* The node's axes: attribute or input (info/value may be NULL). */
static og_status reduce_axes(const og_node *node, rkind kind, const reduce_params *p, int opset, int r, bool present,
                             const og_tinfo *info, const og_tensor *value, const char *name, og_red_axes *ax)
{
    og_red_src src = axes_from_input(kind, opset) ? og_red_src_input(present, info, value, name)
                                                  : og_red_src_attr(&p->axes);
    return og_red_resolve(node, opset, kind == RK_SUM && opset >= 13 && p->noop_with_empty_axes, r, &src, ax);
}

static og_status check_type(const og_node *node, rkind kind, int opset, og_dtype t, const char *role,
                            const char *name)
{
    uint32_t ok = rrows[kind].types | (opset >= 12 ? rrows[kind].types12 : 0);
    char list[200];
    if (t == OG_UNDEFINED || (ok >> t & 1u))
        return OG_OK;
    og_red_type_list(ok, list, sizeof list);
    if (t == OG_FLOAT16 || t == OG_BFLOAT16)
        return og_node_err(node, OG_ERR_UNSUPPORTED, "input %s '%s' has type %s, which onnxgrad cannot hold; "
                           "expected %s", role, name, og_dtype_name(t), list);
    if (rrows[kind].types12 >> t & 1u)
        return og_node_err(node, OG_ERR_SHAPE, "input %s '%s' has type %s, which needs opset >= 12, got opset "
                           "%d; expected %s", role, name, og_dtype_name(t), opset, list);
    if (T_I >> t & 1u)   /* the spec lists it; onnxgrad has no kernel */
        return og_node_err(node, OG_ERR_UNSUPPORTED, "input %s '%s' has type %s: integer %s is not implemented; "
                           "expected %s", role, name, og_dtype_name(t), rrows[kind].name, list);
    return og_node_err(node, OG_ERR_SHAPE, "input %s '%s' has type %s, expected %s", role, name,
                       og_dtype_name(t), list);
}

static og_status reduce_infer_kind(og_infer_call *c, rkind kind)
{
    const reduce_params *p = c->params;
    const og_node *node = c->node;
    const og_tinfo *x = c->in[0];
    const char *xname = c->in_names[0] ? c->in_names[0] : "?";
    og_status st;

    c->workspace_bytes = 0;
    if ((st = check_type(node, kind, c->opset, x->dtype, "data", xname)))
        return st;
    if (kind == RK_ARGMAX || kind == RK_ARGMIN) {
        int r = x->shape.rank, axis = -1;
        og_tinfo *y = c->out[0];
        if (r >= 0 && (st = og_red_axis(node, c->opset, p->axis, r, "data", &axis)))
            return st;
        if (r >= 0 && x->shape.dims[axis] == 0)
            return og_node_err(node, OG_ERR_SHAPE, "input data '%s' has size 0 on axis %d; the index of the "
                               "%s of nothing is undefined", xname, axis, kind == RK_ARGMAX ? "maximum" : "minimum");
        if (y == NULL)
            return OG_OK;
        og_red_axes ax = { .known = r >= 0, .count = 1 };
        if (axis >= 0)
            ax.reduce[axis] = true;
        og_red_out_shape(&x->shape, &ax, p->keepdims, &y->shape);
        y->dtype = OG_INT64;
        return OG_OK;
    }

    const char *an = c->n_in > 1 && c->in_names[1] ? c->in_names[1] : "?";
    const og_tinfo *axes_in = c->n_in > 1 ? c->in[1] : NULL;
    if (!axes_from_input(kind, c->opset) && c->n_in > 1)
        return og_node_err(node, OG_ERR_INVALID_GRAPH, "has %d inputs, expected 1 at opset %d (axes is an "
                           "attribute %s)", c->n_in, c->opset,
                           kind == RK_SUM ? "before opset 13" : "before opset 18");
    if (axes_in != NULL) {
        char buf[OG_SHAPE_STR_MAX];
        if (axes_in->dtype != OG_UNDEFINED && axes_in->dtype != OG_INT64)
            return og_node_err(node, OG_ERR_SHAPE, "input axes '%s' has type %s, expected int64", an,
                               og_dtype_name(axes_in->dtype));
        if (axes_in->shape.rank >= 0 && axes_in->shape.rank != 1)
            return og_node_err(node, OG_ERR_SHAPE, "input axes '%s' has shape %s, expected a 1-D tensor", an,
                               og_shape_str(&axes_in->shape, buf, sizeof buf));
    }
    og_red_axes ax;
    if ((st = reduce_axes(node, kind, p, c->opset, x->shape.rank, axes_in != NULL, axes_in,
                          c->n_in > 1 ? c->in_value[1] : NULL, an, &ax)))
        return st;
    og_tinfo *y = c->out[0];
    if (y == NULL)
        return OG_OK;
    y->dtype = x->dtype;
    og_red_out_shape(&x->shape, &ax, p->keepdims, &y->shape);
    return OG_OK;
}

/* ---- the grouped loop -------------------------------------------------------- */

#define RED_JB 1024                      /* outputs per block when the inner group is kept */
#define RED_TASK_WORK ((int64_t)1 << 15) /* input elements per task, about */

typedef struct rloop {
    int64_t n_out;          /* outputs */
    int64_t L;              /* innermost group: contiguous in X */
    bool inner_red;
    int nk;                 /* kept groups outside the inner one, outermost first */
    int64_t ksize[OG_MAX_RANK], kstride[OG_MAX_RANK];
    int nr;                 /* reduced groups outside the inner one */
    int64_t rsize[OG_MAX_RANK], rstride[OG_MAX_RANK];
    int64_t count;          /* elements reduced into each output */
    int64_t chunk, n_tasks; /* units (outputs, or row blocks) per task */
} rloop;

static void rloop_plan(rloop *p, int rank, const int64_t *dims, const bool *reduce)
{
    int64_t gsize[OG_MAX_RANK];
    bool gred[OG_MAX_RANK];
    int ng = 0;
    memset(p, 0, sizeof *p);
    p->n_out = 1;
    p->count = 1;
    for (int d = 0; d < rank; d++) {
        if (reduce[d])
            p->count *= dims[d];
        else
            p->n_out *= dims[d];
        if (dims[d] == 1)
            continue;
        if (ng > 0 && gred[ng - 1] == reduce[d]) {
            gsize[ng - 1] *= dims[d];
        } else {
            gsize[ng] = dims[d];
            gred[ng++] = reduce[d];
        }
    }
    if (ng == 0) {
        gsize[0] = 1;
        gred[0] = false;
        ng = 1;
    }
    p->L = gsize[ng - 1];
    p->inner_red = gred[ng - 1];
    int64_t stride = p->L;
    for (int g = ng - 2; g >= 0; g--) {
        if (gred[g]) {
            p->rsize[p->nr] = gsize[g];
            p->rstride[p->nr++] = stride;
        } else {
            p->ksize[p->nk] = gsize[g];
            p->kstride[p->nk++] = stride;
        }
        stride *= gsize[g];
    }
    /* listed innermost first above; the odometers want outermost first */
    for (int i = 0; i < p->nk / 2; i++) {
        int64_t s = p->ksize[i], t = p->kstride[i];
        p->ksize[i] = p->ksize[p->nk - 1 - i], p->kstride[i] = p->kstride[p->nk - 1 - i];
        p->ksize[p->nk - 1 - i] = s, p->kstride[p->nk - 1 - i] = t;
    }
    for (int i = 0; i < p->nr / 2; i++) {
        int64_t s = p->rsize[i], t = p->rstride[i];
        p->rsize[i] = p->rsize[p->nr - 1 - i], p->rstride[i] = p->rstride[p->nr - 1 - i];
        p->rsize[p->nr - 1 - i] = s, p->rstride[p->nr - 1 - i] = t;
    }
    /* units: outputs (inner reduced) or blocks of RED_JB outputs of a row */
    int64_t units, unit_work;
    if (p->inner_red) {
        units = p->n_out;
        unit_work = p->count;
    } else {
        int64_t nb = (p->L + RED_JB - 1) / RED_JB;
        units = p->n_out / p->L * nb;
        unit_work = p->count * (p->L < RED_JB ? p->L : RED_JB);
    }
    p->chunk = unit_work >= RED_TASK_WORK ? 1 : RED_TASK_WORK / (unit_work > 0 ? unit_work : 1);
    p->n_tasks = units > 0 ? (units + p->chunk - 1) / p->chunk : 0;
}

/* Offset in X of kept combination q (row-major over the kept groups). */
static inline int64_t rloop_koff(const rloop *p, int64_t q)
{
    int64_t off = 0;
    for (int g = p->nk - 1; g >= 0; g--) {
        off += q % p->ksize[g] * p->kstride[g];
        q /= p->ksize[g];
    }
    return off;
}

/* Steps the reduced odometer: idx/off over the reduced outer groups. */
static inline void rloop_rnext(const rloop *p, int64_t *idx, int64_t *off)
{
    for (int g = p->nr - 1; g >= 0; g--) {
        *off += p->rstride[g];
        if (++idx[g] < p->rsize[g])
            return;
        *off -= p->rstride[g] * p->rsize[g];
        idx[g] = 0;
    }
}

static inline int64_t rloop_rn(const rloop *p)
{
    int64_t n = 1;
    for (int g = 0; g < p->nr; g++)
        n *= p->rsize[g];
    return n;
}

typedef struct rctx {
    const rloop *p;
    const void *x;
    void *y;
} rctx;

/* One task of a reduction: T the element type, ID the identity, MAP(v, M)
 * the per-element term (M: the output's prior value, LogSumExp's max),
 * COMB(a, b) the combination, FIN(a, M, n) the finish. */
#define RED_TASK(fname, T, ID, MAP, COMB, FIN)                                                   \
    static void fname(void *arg, int64_t task, int worker)                                      \
    {                                                                                            \
        (void)worker;                                                                            \
        const rctx *c_ = arg;                                                                    \
        const rloop *p = c_->p;                                                                  \
        const T *x = c_->x;                                                                      \
        T *y = c_->y;                                                                            \
        const int64_t rn = rloop_rn(p), L = p->L, n = p->count;                                  \
        (void)n;                                                                                 \
        if (p->inner_red) {                                                                      \
            int64_t o0 = task * p->chunk, o1 = o0 + p->chunk < p->n_out ? o0 + p->chunk : p->n_out; \
            for (int64_t o = o0; o < o1; o++) {                                                  \
                const T *xb = x + rloop_koff(p, o);                                              \
                T l[8] = { ID, ID, ID, ID, ID, ID, ID, ID };                                     \
                int64_t idx[OG_MAX_RANK] = { 0 }, roff = 0;                                      \
                for (int64_t r = 0; r < rn; r++, rloop_rnext(p, idx, &roff)) {                   \
                    const T *xp = xb + roff;                                                     \
                    int64_t i = 0;                                                               \
                    for (; i + 8 <= L; i += 8)                                                   \
                        for (int q = 0; q < 8; q++)                                              \
                            l[q] = COMB(l[q], MAP(xp[i + q], y[o]));                             \
                    for (; i < L; i++)                                                           \
                        l[i & 7] = COMB(l[i & 7], MAP(xp[i], y[o]));                             \
                }                                                                                \
                T a = COMB(COMB(COMB(l[0], l[1]), COMB(l[2], l[3])), COMB(COMB(l[4], l[5]), COMB(l[6], l[7]))); \
                y[o] = FIN(a, y[o], n);                                                          \
            }                                                                                    \
        } else {                                                                                 \
            const int64_t nb = (L + RED_JB - 1) / RED_JB, units = p->n_out / L * nb;             \
            int64_t u0 = task * p->chunk, u1 = u0 + p->chunk < units ? u0 + p->chunk : units;    \
            for (int64_t u = u0; u < u1; u++) {                                                  \
                int64_t row = u / nb, j0 = u % nb * RED_JB;                                      \
                int64_t jn = L - j0 < RED_JB ? L - j0 : RED_JB;                                  \
                const T *xb = x + rloop_koff(p, row) + j0;                                       \
                T *yb = y + row * L + j0;                                                        \
                T acc[RED_JB];                                                                   \
                for (int64_t j = 0; j < jn; j++)                                                 \
                    acc[j] = ID;                                                                 \
                int64_t idx[OG_MAX_RANK] = { 0 }, roff = 0;                                      \
                for (int64_t r = 0; r < rn; r++, rloop_rnext(p, idx, &roff)) {                   \
                    const T *restrict xp = xb + roff;                                            \
                    for (int64_t j = 0; j < jn; j++)                                             \
                        acc[j] = COMB(acc[j], MAP(xp[j], yb[j]));                                \
                }                                                                                \
                for (int64_t j = 0; j < jn; j++)                                                 \
                    yb[j] = FIN(acc[j], yb[j], n);                                               \
            }                                                                                    \
        }                                                                                        \
    }

#define M_X(v, M) (v)
#define M_SQ(v, M) ((v) * (v))
#define M_ABS(v, M) ((v) < 0 ? -(v) : (v))
#define C_ADD(a, b) ((a) + (b))
#define C_MUL(a, b) ((a) * (b))
/* b wins when larger, or NaN (NaN then sticks: nothing compares above it) */
#define C_MAX(a, b) (((b) > (a)) | ((b) != (b)) ? (b) : (a))
#define C_MIN(a, b) (((b) < (a)) | ((b) != (b)) ? (b) : (a))
#define F_ID(a, M, n) (a)

/* floats */
#define F_MEAN(a, M, n) ((a) / (n))
#define F_SQRT_F(a, M, n) sqrtf(a)
#define F_SQRT_D(a, M, n) sqrt(a)
#define F_LOG_F(a, M, n) logf(a)
#define F_LOG_D(a, M, n) log(a)
#define M_EXP_F(v, M) expf((v) - (M))
#define M_EXP_D(v, M) exp((v) - (M))
#define F_LSE_F(a, M, n) (isfinite(M) ? (M) + logf(a) : (M))
#define F_LSE_D(a, M, n) (isfinite(M) ? (M) + log(a) : (M))

#define RED_FLOAT(T, S, SQRT, LOG, EXPM, LSE)                                                        \
    RED_TASK(sum_##S, T, 0, M_X, C_ADD, F_ID)                                                        \
    RED_TASK(mean_##S, T, 0, M_X, C_ADD, F_MEAN)                                                     \
    RED_TASK(max_##S, T, -INFINITY, M_X, C_MAX, F_ID)                                                \
    RED_TASK(min_##S, T, INFINITY, M_X, C_MIN, F_ID)                                                 \
    RED_TASK(prod_##S, T, 1, M_X, C_MUL, F_ID)                                                       \
    RED_TASK(l1_##S, T, 0, M_ABS, C_ADD, F_ID)                                                       \
    RED_TASK(l2_##S, T, 0, M_SQ, C_ADD, SQRT)                                                        \
    RED_TASK(sumsq_##S, T, 0, M_SQ, C_ADD, F_ID)                                                     \
    RED_TASK(logsum_##S, T, 0, M_X, C_ADD, LOG)                                                      \
    RED_TASK(lse_##S, T, 0, EXPM, C_ADD, LSE)

RED_FLOAT(float, f32, F_SQRT_F, F_LOG_F, M_EXP_F, F_LSE_F)
RED_FLOAT(double, f64, F_SQRT_D, F_LOG_D, M_EXP_D, F_LSE_D)

/* integers: sums and products in the unsigned type U, so they wrap */
#define RED_INT(T, U, S, TMIN, TMAX)                                                                 \
    static inline T add_##S(T a, T b) { return (T)((U)a + (U)b); }                                   \
    static inline T mul_##S(T a, T b) { return (T)((U)a * (U)b); }                                   \
    static inline T sq_##S(T v) { return (T)((U)v * (U)v); }                                         \
    static inline T abs_##S(T v) { return v < 0 ? (T)(0 - (U)v) : v; }                               \
    static inline T mean_fin_##S(T a, int64_t n) { return n > 0 ? (T)(a / (T)n) : 0; }               \
    RED_TASK(sum_##S, T, 0, M_X, add_##S, F_ID)                                                      \
    RED_TASK(mean_##S, T, 0, M_X, add_##S, MEAN_FIN_##S)                                             \
    RED_TASK(max_##S, T, TMIN, M_X, C_MAX, F_ID)                                                     \
    RED_TASK(min_##S, T, TMAX, M_X, C_MIN, F_ID)                                                     \
    RED_TASK(prod_##S, T, 1, M_X, mul_##S, F_ID)                                                     \
    RED_TASK(l1_##S, T, 0, ABS_##S, add_##S, F_ID)                                                   \
    RED_TASK(sumsq_##S, T, 0, SQ_##S, add_##S, F_ID)

#define MEAN_FIN_i32(a, M, n) mean_fin_i32(a, n)
#define MEAN_FIN_i64(a, M, n) mean_fin_i64(a, n)
#define MEAN_FIN_u32(a, M, n) mean_fin_u32(a, n)
#define MEAN_FIN_u64(a, M, n) mean_fin_u64(a, n)
#define ABS_i32(v, M) abs_i32(v)
#define ABS_i64(v, M) abs_i64(v)
#define ABS_u32(v, M) (v)
#define ABS_u64(v, M) (v)
#define SQ_i32(v, M) sq_i32(v)
#define SQ_i64(v, M) sq_i64(v)
#define SQ_u32(v, M) sq_u32(v)
#define SQ_u64(v, M) sq_u64(v)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-function"
RED_INT(int32_t, uint32_t, i32, INT32_MIN, INT32_MAX)
RED_INT(int64_t, uint64_t, i64, INT64_MIN, INT64_MAX)
RED_INT(uint32_t, uint32_t, u32, 0, UINT32_MAX)
RED_INT(uint64_t, uint64_t, u64, 0, UINT64_MAX)
RED_TASK(max_i8, int8_t, INT8_MIN, M_X, C_MAX, F_ID)
RED_TASK(min_i8, int8_t, INT8_MAX, M_X, C_MIN, F_ID)
RED_TASK(max_u8, uint8_t, 0, M_X, C_MAX, F_ID)
RED_TASK(min_u8, uint8_t, UINT8_MAX, M_X, C_MIN, F_ID)
#pragma GCC diagnostic pop

/* The task of (kind, dtype), NULL when there is none. */
static og_task_fn red_task(rkind kind, og_dtype t)
{
#define RT(S) (kind == RK_SUM ? sum_##S : kind == RK_MEAN ? mean_##S : kind == RK_MAX ? max_##S              \
               : kind == RK_MIN ? min_##S : kind == RK_PROD ? prod_##S : kind == RK_L1 ? l1_##S                \
               : kind == RK_SUMSQ ? sumsq_##S : NULL)
    switch (t) {
    case OG_FLOAT:
        return kind == RK_L2 ? l2_f32 : kind == RK_LOGSUM ? logsum_f32 : kind == RK_LSE ? lse_f32 : RT(f32);
    case OG_DOUBLE:
        return kind == RK_L2 ? l2_f64 : kind == RK_LOGSUM ? logsum_f64 : kind == RK_LSE ? lse_f64 : RT(f64);
    case OG_INT32: return RT(i32);
    case OG_INT64: return RT(i64);
    case OG_UINT32: return RT(u32);
    case OG_UINT64: return RT(u64);
    case OG_INT8: return kind == RK_MAX ? max_i8 : kind == RK_MIN ? min_i8 : NULL;
    case OG_UINT8: return kind == RK_MAX ? max_u8 : kind == RK_MIN ? min_u8 : NULL;
    default: return NULL;
    }
#undef RT
}

/* What an output over nothing holds (see the header comment). */
static double empty_value(rkind kind, og_dtype t)
{
    bool fl = t == OG_FLOAT || t == OG_DOUBLE;
    switch (kind) {
    case RK_PROD: return 1;
    case RK_MEAN: return fl ? NAN : 0;
    case RK_MAX: return -INFINITY;
    case RK_MIN: return INFINITY;
    case RK_LOGSUM: case RK_LSE: return -INFINITY;
    default: return 0;
    }
}

static void fill_value(og_tensor *y, double v)
{
    for (int64_t i = 0; i < y->numel; i++)
        switch (y->dtype) {
        case OG_FLOAT: ((float *)y->data)[i] = (float)v; break;
        case OG_DOUBLE: ((double *)y->data)[i] = v; break;
#define FILL_INT(E, T, LO, HI) case E: ((T *)y->data)[i] = isnan(v) ? 0 : v <= (double)LO ? LO : v >= (double)HI ? HI : (T)v; break;
        FILL_INT(OG_INT8, int8_t, INT8_MIN, INT8_MAX)
        FILL_INT(OG_UINT8, uint8_t, 0, UINT8_MAX)
        FILL_INT(OG_INT32, int32_t, INT32_MIN, INT32_MAX)
        FILL_INT(OG_INT64, int64_t, INT64_MIN, INT64_MAX)
        FILL_INT(OG_UINT32, uint32_t, 0, UINT32_MAX)
        FILL_INT(OG_UINT64, uint64_t, 0, UINT64_MAX)
#undef FILL_INT
        default: break;
        }
}

/* ---- ArgMax / ArgMin: one axis, [outer, A, inner] ------------------------------- */

typedef struct actx {
    const void *x;
    int64_t *y;
    int64_t outer, A, inner, chunk;
    bool last;
} actx;

/* v replaces the best b: first index: strictly better (GT), or NaN
 * over a number; last index: at least as good, or NaN. */
#define ARG_TASK(fname, T, GT, GE)                                                                        \
    static void fname(void *arg, int64_t task, int worker)                                           \
    {                                                                                                 \
        (void)worker;                                                                                 \
        const actx *c = arg;                                                                          \
        const T *x = c->x;                                                                            \
        const int64_t nb = (c->inner + RED_JB - 1) / RED_JB, units = c->outer * nb;                  \
        int64_t u0 = task * c->chunk, u1 = u0 + c->chunk < units ? u0 + c->chunk : units;            \
        for (int64_t u = u0; u < u1; u++) {                                                           \
            int64_t o = u / nb, j0 = u % nb * RED_JB;                                                 \
            int64_t jn = c->inner - j0 < RED_JB ? c->inner - j0 : RED_JB;                             \
            const T *xb = x + o * c->A * c->inner + j0;                                               \
            T best[RED_JB];                                                                           \
            int64_t *yb = c->y + o * c->inner + j0;                                                   \
            for (int64_t j = 0; j < jn; j++) {                                                        \
                best[j] = xb[j];                                                                      \
                yb[j] = 0;                                                                            \
            }                                                                                         \
            for (int64_t a = 1; a < c->A; a++) {                                                      \
                const T *xp = xb + a * c->inner;                                                      \
                if (c->last) {                                                                        \
                    for (int64_t j = 0; j < jn; j++)                                                  \
                        if (GE(xp[j], best[j]) || xp[j] != xp[j]) {                                  \
                            best[j] = xp[j];                                                          \
                            yb[j] = a;                                                                \
                        }                                                                             \
                } else {                                                                              \
                    for (int64_t j = 0; j < jn; j++)                                                  \
                        if (GT(xp[j], best[j]) || (xp[j] != xp[j] && best[j] == best[j])) {           \
                            best[j] = xp[j];                                                          \
                            yb[j] = a;                                                                \
                        }                                                                             \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
    }

#define A_GT(a, b) ((a) > (b))
#define A_GE(a, b) ((a) >= (b))
#define A_LT(a, b) ((a) < (b))
#define A_LE(a, b) ((a) <= (b))

#define ARG_TYPES(S, T)                       \
    ARG_TASK(argmax_##S, T, A_GT, A_GE)       \
    ARG_TASK(argmin_##S, T, A_LT, A_LE)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtautological-compare"
ARG_TYPES(f32, float)
ARG_TYPES(f64, double)
ARG_TYPES(i8, int8_t)
ARG_TYPES(u8, uint8_t)
ARG_TYPES(i16, int16_t)
ARG_TYPES(u16, uint16_t)
ARG_TYPES(i32, int32_t)
ARG_TYPES(i64, int64_t)
ARG_TYPES(u32, uint32_t)
ARG_TYPES(u64, uint64_t)
#pragma GCC diagnostic pop

static og_task_fn arg_task(bool max, og_dtype t)
{
    switch (t) {
#define AT(E, S) case E: return max ? argmax_##S : argmin_##S;
    AT(OG_FLOAT, f32) AT(OG_DOUBLE, f64) AT(OG_INT8, i8) AT(OG_UINT8, u8) AT(OG_INT16, i16)
    AT(OG_UINT16, u16) AT(OG_INT32, i32) AT(OG_INT64, i64) AT(OG_UINT32, u32) AT(OG_UINT64, u64)
#undef AT
    default: return NULL;
    }
}

static int threads_of(const og_kernel_call *k) { return k->n_threads > 0 ? k->n_threads : 1; }

static og_status arg_run(const og_kernel_call *k, rkind kind)
{
    const reduce_params *p = k->params;
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    int axis = 0;
    og_status st;
    if (y == NULL)
        return OG_OK;
    if ((st = og_red_axis(k->node, k->opset, p->axis, x->rank, "data", &axis)))
        return st;
    og_task_fn fn = arg_task(kind == RK_ARGMAX, x->dtype);
    actx c = { x->data, y->data, 1, x->dims[axis], 1, 1, p->select_last_index != 0 };
    for (int d = 0; d < axis; d++)
        c.outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++)
        c.inner *= x->dims[d];
    if (!fn || y->dtype != OG_INT64 || y->numel != c.outer * c.inner || c.A == 0)
        return og_node_err(k->node, OG_ERR_INTERNAL, "no kernel for type %s, or output of %lld %s elements "
                           "against %lld planned, or an empty axis", og_dtype_name(x->dtype), (long long)y->numel,
                           og_dtype_name(y->dtype), (long long)(c.outer * c.inner));
    int64_t unit_work = c.A * (c.inner < RED_JB ? c.inner : RED_JB);
    c.chunk = unit_work >= RED_TASK_WORK ? 1 : RED_TASK_WORK / unit_work;
    int64_t units = c.outer * ((c.inner + RED_JB - 1) / RED_JB);
    if (units > 0)
        og_parallel_for(threads_of(k), (units + c.chunk - 1) / c.chunk, fn, &c);
    return OG_OK;
}

static og_status reduce_run_kind(const og_kernel_call *k, rkind kind)
{
    if (kind == RK_ARGMAX || kind == RK_ARGMIN)
        return arg_run(k, kind);
    const reduce_params *p = k->params;
    const og_tensor *x = k->in[0];
    const og_tensor *axes = k->n_in > 1 ? k->in[1] : NULL;
    og_tensor *y = k->out[0];
    og_red_axes ax;
    og_status st;

    if (y == NULL)
        return OG_OK;
    if ((st = reduce_axes(k->node, kind, p, k->opset, x->rank, axes != NULL, NULL, axes, "axes", &ax)))
        return st;
    og_task_fn fn = red_task(kind, x->dtype);
    if (!ax.known || y->dtype != x->dtype || !fn)
        return og_node_err(k->node, OG_ERR_INTERNAL, "axes unresolved, output type %s against input type %s, "
                           "or no kernel for it", og_dtype_name(y->dtype), og_dtype_name(x->dtype));
    if (ax.noop) {
        if (y->numel != x->numel)
            return og_node_err(k->node, OG_ERR_INTERNAL, "identity output has %lld elements, expected %lld",
                               (long long)y->numel, (long long)x->numel);
        if (x->numel > 0)
            memcpy(y->data, x->data, (size_t)x->numel * og_dtype_size(x->dtype));
        return OG_OK;
    }
    rloop L;
    rloop_plan(&L, x->rank, x->dims, ax.reduce);
    if (y->numel != L.n_out)
        return og_node_err(k->node, OG_ERR_INTERNAL, "output has %lld elements, expected %lld", (long long)y->numel,
                           (long long)L.n_out);
    if (L.count == 0 || L.n_out == 0) {
        fill_value(y, empty_value(kind, x->dtype));
        return OG_OK;
    }
    rctx c = { &L, x->data, y->data };
    if (kind == RK_LSE)   /* the max first, into Y, then the sum of exp(x - max) */
        og_parallel_for(threads_of(k), L.n_tasks, red_task(RK_MAX, x->dtype), &c);
    og_parallel_for(threads_of(k), L.n_tasks, fn, &c);
    return OG_OK;
}

/* ---- backward rules --------------------------------------------------------------- */

static og_status reduce_backward_kind(og_backward_call *b, rkind kind)
{
    const reduce_params *p = b->params;
    const og_tinfo *xi = &b->in_info[0];
    const char *x = b->in[0], *dy = b->dout[0];
    int r = xi->shape.rank;
    og_red_axes ax;
    og_status st;

    if (!b->need[0] || dy == NULL)
        return OG_OK;
    bool present = b->n_in > 1 && b->in[1] != NULL;
    const og_tinfo *ai = present ? &b->in_info[1] : NULL;
    if (r < 0 && !(kind == RK_SUM && p->keepdims))
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the rank of data '%s' known", x);
    if ((st = reduce_axes(b->node, kind, p, b->opset, r, present, ai, present ? b->in_value[1] : NULL,
                          present ? b->in[1] : "", &ax)))
        return st;
    const char *shape_x = NULL;
    if (kind == RK_SUM || kind == RK_MEAN || kind == RK_LOGSUM)
        if ((st = og_grad_shape_of(b, x, xi, &shape_x)))
            return st;
    if (kind == RK_SUM && (ax.noop || (p->keepdims && !ax.known))) {
        /* an identity, or dY already broadcasts to X: the axes need not be known */
        b->din[0] = og_gb2(b, "Expand", dy, shape_x);
        return og_gb_status(b);
    }
    if (!ax.known)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the axes '%s' known when the gradient "
                           "graph is built (an initializer or a constant)", present ? b->in[1] : "");
    og_dtype dt = b->out_info[0].dtype != OG_UNDEFINED ? b->out_info[0].dtype : xi->dtype;
    const char *dyk = og_red_keep(b, dy, p->keepdims, x, xi, ax.reduce);
    const char *y = NULL, *yk = NULL;
    if (kind != RK_SUM && kind != RK_MEAN && kind != RK_SUMSQ && kind != RK_L1) {
        if ((st = og_grad_forward_output(b, 0, &y)))
            return st;
        yk = og_red_keep(b, y, p->keepdims, x, xi, ax.reduce);
    }
    switch (kind) {
    case RK_SUM:
        b->din[0] = og_gb2(b, "Expand", dyk, shape_x);
        break;
    case RK_MEAN: {
        int64_t n = 1;
        bool known = true;
        for (int d = 0; d < r; d++)
            if (ax.reduce[d]) {
                known = known && xi->shape.dims[d] >= 0;
                n *= xi->shape.dims[d] >= 0 ? xi->shape.dims[d] : 1;
            }
        const char *e = og_gb2(b, "Expand", dyk, shape_x);
        if (known)
            b->din[0] = og_gb_mul(b, e, og_gb_scalar(b, dt, 1.0 / (double)(n > 0 ? n : 1)));
        else   /* n from the shape at run time: the sum of ones over the axes */
            b->din[0] = og_gb_div(b, e, og_red_sum(b, og_gb2(b, "Expand", og_gb_scalar(b, dt, 1.0), shape_x), r,
                                                   ax.reduce));
        break;
    }
    case RK_SUMSQ:
        b->din[0] = og_gb_mul(b, og_gb_mul(b, x, og_gb_scalar(b, dt, 2.0)), dyk);
        break;
    case RK_L1: {
        /* sign(X) from Greater and Where: 0 at X = 0, as torch's sgn */
        const char *zero = og_gb_scalar(b, dt, 0.0);
        const char *neg = og_gb(b, "Where", 3, (const char *const[]){ og_gb2(b, "Greater", zero, x),
                                og_gb_scalar(b, dt, -1.0), zero }, 0, NULL);
        const char *sign = og_gb(b, "Where", 3, (const char *const[]){ og_gb2(b, "Greater", x, zero),
                                 og_gb_scalar(b, dt, 1.0), neg }, 0, NULL);
        b->din[0] = og_gb_mul(b, sign, dyk);
        break;
    }
    case RK_L2: {
        /* X dY / Y, with Y = 0 (then X = 0 too) divided as 1: no 0/0 at any order */
        const char *zero = og_gb_scalar(b, dt, 0.0);
        const char *safe = og_gb(b, "Where", 3, (const char *const[]){ og_gb2(b, "Greater", yk, zero), yk,
                                 og_gb_scalar(b, dt, 1.0) }, 0, NULL);
        b->din[0] = og_gb_mul(b, x, og_gb_div(b, dyk, safe));
        break;
    }
    case RK_LOGSUM:
        b->din[0] = og_gb2(b, "Expand", og_gb_div(b, dyk, og_gb_exp(b, yk)), shape_x);
        break;
    case RK_LSE:
        b->din[0] = og_gb_mul(b, dyk, og_gb_exp(b, og_gb_sub(b, x, yk)));
        break;
    case RK_MAX:
    case RK_MIN: {
        /* X == Yk without Equal: X <= max always, so max <= X means equal */
        const char *tie = kind == RK_MAX ? og_gb2(b, "LessOrEqual", yk, x) : og_gb2(b, "LessOrEqual", x, yk);
        const char *m = og_gb(b, "Where", 3, (const char *const[]){ tie, og_gb_scalar(b, dt, 1.0),
                              og_gb_scalar(b, dt, 0.0) }, 0, NULL);
        b->din[0] = og_gb_mul(b, m, og_gb_div(b, dyk, og_red_sum(b, m, r, ax.reduce)));
        break;
    }
    case RK_PROD: {
        const char *zero = og_gb_scalar(b, dt, 0.0), *one = og_gb_scalar(b, dt, 1.0);
        const char *pos = og_gb2(b, "Greater", x, zero), *neg = og_gb2(b, "Greater", zero, x);
        /* X with its zeros as 1, and the zeros as a 0/1 mask */
        const char *xnz = og_gb(b, "Where", 3, (const char *const[]){ pos, x,
                                og_gb(b, "Where", 3, (const char *const[]){ neg, x, one }, 0, NULL) }, 0, NULL);
        const char *z = og_gb(b, "Where", 3, (const char *const[]){ pos, zero,
                              og_gb(b, "Where", 3, (const char *const[]){ neg, zero, one }, 0, NULL) }, 0, NULL);
        int64_t axes[OG_MAX_RANK];
        int n = 0;
        for (int d = 0; d < r; d++)
            if (ax.reduce[d])
                axes[n++] = d;
        og_attr at[2] = { og_attr_ints("axes", n, axes), og_attr_int("keepdims", 1) };
        const char *prod_nz = n ? og_gb(b, "ReduceProd", 1, &xnz, 2, at) : xnz;
        const char *zeros = og_red_sum(b, z, r, ax.reduce);
        /* at a zero: the others' product if it is the only zero, else 0 */
        const char *at_zero = og_gb(b, "Where", 3, (const char *const[]){
                                    og_gb2(b, "Greater", zeros, og_gb_scalar(b, dt, 1.5)), zero, prod_nz }, 0, NULL);
        const char *g = og_gb(b, "Where", 3, (const char *const[]){ og_gb2(b, "Greater", z, og_gb_scalar(b, dt, 0.5)),
                              at_zero, og_gb_div(b, yk, xnz) }, 0, NULL);
        b->din[0] = og_gb_mul(b, g, dyk);
        break;
    }
    default:
        return og_node_err(b->node, OG_ERR_INTERNAL, "no backward rule for this reduction");
    }
    return og_gb_status(b);
}

/* ---- descriptors -------------------------------------------------------------------- */

#define OG_REDUCE_OP(sym, name_, kind, attrs_, max_in)                                                   \
    static og_status sym##_infer(og_infer_call *c) { return reduce_infer_kind(c, kind); }                 \
    static og_status sym##_run(const og_kernel_call *k) { return reduce_run_kind(k, kind); }              \
    static og_status sym##_backward(og_backward_call *b) { return reduce_backward_kind(b, kind); }        \
    const og_op og_op_##sym = {                                                                           \
        .name = name_, .domain = "", .since_version = 1,                                                  \
        .min_inputs = 1, .max_inputs = max_in, .min_outputs = 1, .max_outputs = 1,                        \
        .diff_inputs = 0x1, .diff_outputs = 0x1, .attrs = attrs_,                                         \
        .n_attrs = (int)(sizeof attrs_ / sizeof attrs_[0]), .params_size = sizeof(reduce_params),         \
        .infer = sym##_infer, .run = sym##_run, .backward = sym##_backward,                               \
        .cost = og_cost_per_input,                                                                        \
    };

/* ArgMax/ArgMin: an integer output, no backward rule. */
#define OG_ARG_OP(sym, name_, kind)                                                                       \
    static og_status sym##_infer(og_infer_call *c) { return reduce_infer_kind(c, kind); }                 \
    static og_status sym##_run(const og_kernel_call *k) { return reduce_run_kind(k, kind); }              \
    const og_op og_op_##sym = {                                                                           \
        .name = name_, .domain = "", .since_version = 1,                                                  \
        .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,                             \
        .attrs = arg_attrs, .n_attrs = (int)(sizeof arg_attrs / sizeof arg_attrs[0]),                     \
        .params_size = sizeof(reduce_params), .infer = sym##_infer, .run = sym##_run,                     \
    };

OG_REDUCE_OP(reducesum, "ReduceSum", RK_SUM, reducesum_attrs, 2)
OG_REDUCE_OP(reducemean, "ReduceMean", RK_MEAN, reduce_attrs, 1)
OG_REDUCE_OP(reducemax, "ReduceMax", RK_MAX, reduce_attrs, 1)
OG_REDUCE_OP(reducemin, "ReduceMin", RK_MIN, reduce_attrs, 1)
OG_REDUCE_OP(reduceprod, "ReduceProd", RK_PROD, reduce_attrs, 1)
OG_REDUCE_OP(reducel1, "ReduceL1", RK_L1, reduce_attrs, 1)
OG_REDUCE_OP(reducel2, "ReduceL2", RK_L2, reduce_attrs, 1)
OG_REDUCE_OP(reducesumsquare, "ReduceSumSquare", RK_SUMSQ, reduce_attrs, 1)
OG_REDUCE_OP(reducelogsum, "ReduceLogSum", RK_LOGSUM, reduce_attrs, 1)
OG_REDUCE_OP(reducelogsumexp, "ReduceLogSumExp", RK_LSE, reduce_attrs, 1)
OG_ARG_OP(argmax, "ArgMax", RK_ARGMAX)
OG_ARG_OP(argmin, "ArgMin", RK_ARGMIN)
