/* SPDX-License-Identifier: MIT */
/* Slice — takes a strided sub-tensor of `data`, numpy style. For each i,
 * axis axes[i] (default: i) runs from starts[i] towards ends[i]
 * (exclusive) in steps of steps[i] (default 1); axes not listed are kept
 * whole. A negative start or end counts from the back (dim is added);
 * then, for a positive step, start and end are clamped into [0, dim], for
 * a negative step start into [0, dim-1] and end into [-1, dim-1]. So
 * INT64_MAX / INT64_MIN mean "to the end" / "to the beginning", and an
 * empty range gives a dim of 0. steps[i] must not be 0.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Slice
 *
 * Versions: 1 (starts, ends and optional axes are attributes), 10 (they
 * become int32/int64 inputs, plus optional steps), 11 (negative axes in
 * [-r, r-1]), 13 (bfloat16). onnxgrad implements all of them, for every
 * type it holds (float16, bfloat16, string and complex are refused).
 * Slice-1's attribute form is forward-only: gradient graphs use opset 17.
 *
 * Semantics where the spec leaves room: a repeated axis is an error (the
 * spec calls it undefined). Bad values in starts/ends/axes/steps are
 * OG_ERR_ATTR when they come from attributes and OG_ERR_INVALID_ARG when
 * they come from input data; lengths and types that do not fit are
 * OG_ERR_SHAPE. When starts/ends/axes/steps are not known at
 * load time the sliced dims (all dims, when the axes are unknown) are
 * unknown; the rank is always the input's.
 *
 * Kernel: trailing axes that are kept whole form one contiguous block;
 * the last sliced axis copies runs of blocks with memcpy when its step is
 * 1, else block by block.
 *
 * Backward (steps all 1): dX = Pad(dY, pads) with zeros, where pads put
 * back what the slice cut off on each side; starts/ends/axes/steps must be
 * known when the gradient graph is built, and X's dims on the cut axes. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

typedef struct slice_params {
    og_ints starts, ends, axes;   /* opsets 1-9 */
} slice_params;

static const og_attr_spec slice_attrs[] = {
    {.name = "starts", .type = OG_ATTR_INTS, .offset = offsetof(slice_params, starts),
     .required = true, .since_version = 1, .until_version = 9, .to_input = true},
    {.name = "ends", .type = OG_ATTR_INTS, .offset = offsetof(slice_params, ends),
     .required = true, .since_version = 1, .until_version = 9, .to_input = true},
    {.name = "axes", .type = OG_ATTR_INTS, .offset = offsetof(slice_params, axes),
     .since_version = 1, .until_version = 9, .to_input = true},
};

enum { SL_STARTS, SL_ENDS, SL_AXES, SL_STEPS, SL_N };
static const char *const sl_role[SL_N] = {"starts", "ends", "axes", "steps"};

/* One of starts/ends/axes/steps, from an attribute or an input. */
typedef struct sl_vec {
    bool present;          /* given (attribute present / input not omitted) */
    bool from_attr;
    bool known;            /* values known (an empty list always is) */
    int64_t n;             /* elements; -1 unknown */
    const int64_t *v64;    /* values when known and not empty: one of the two */
    const int32_t *v32;
    char label[160];       /* "input starts 'name'" / "attribute starts" for messages */
} sl_vec;

static int64_t sl_get(const sl_vec *s, int64_t i)
{
    return s->v64 ? s->v64[i] : (int64_t)s->v32[i];
}

/* Per axis of the data: first index, step and output size (-1 unknown),
 * and whether starts/ends name the axis at all. */
typedef struct sl_plan {
    int64_t start[OG_MAX_RANK], step[OG_MAX_RANK], size[OG_MAX_RANK];
    bool cut[OG_MAX_RANK];
} sl_plan;

/* The spec's clamping for one axis of known size dim. Both clamped bounds
 * lie in [-1, dim], so differences cannot overflow; the step's magnitude
 * is taken unsigned because -INT64_MIN does not fit. */
static void sl_axis(int64_t dim, int64_t s, int64_t e, int64_t step, int64_t *start, int64_t *size)
{
    if (s < 0)
        s += dim;
    if (e < 0)
        e += dim;
    int64_t lo_s = 0, hi_s = step > 0 ? dim : dim - 1, lo_e = step > 0 ? 0 : -1, hi_e = hi_s;
    s = s < lo_s ? lo_s : s;
    s = s > hi_s ? hi_s : s;
    e = e < lo_e ? lo_e : e;
    e = e > hi_e ? hi_e : e;
    int64_t span = step > 0 ? e - s : s - e;
    uint64_t mag = step > 0 ? (uint64_t)step : (uint64_t)0 - (uint64_t)step;
    *start = s;
    *size = span > 0 ? (int64_t)(1 + ((uint64_t)span - 1) / mag) : 0;
}

/* Checks starts/ends/axes/steps against data of rank r and dims (-1:
 * unknown) and fills the plan for what is known. Shared by infer and run. */
static og_status sl_resolve(const char *node, int opset, int r, const int64_t *dims,
                            const sl_vec *v, sl_plan *pl)
{
    const sl_vec *st = &v[SL_STARTS], *en = &v[SL_ENDS], *ax = &v[SL_AXES], *sp = &v[SL_STEPS];

    /* lengths: ends, axes and steps must match starts */
    int64_t n = -1;
    for (int k = 0; k < SL_N; k++) {
        if (!v[k].present || v[k].n < 0)
            continue;
        if (n >= 0 && v[k].n != n) {
            og_status code = v[k].from_attr ? OG_ERR_ATTR : OG_ERR_SHAPE;
            return og_err(code, "node '%s' (Slice): %s has %lld elements, expected %lld (one per "
                          "sliced axis, as the earlier ones)", node, v[k].label, (long long)v[k].n,
                          (long long)n);
        }
        n = v[k].n;
    }
    for (int d = 0; d < r; d++) {
        pl->start[d] = 0;
        pl->step[d] = 1;
        pl->size[d] = dims[d];
        pl->cut[d] = false;
    }
    if (r < 0)
        return OG_OK;
    if (n > r) {
        const sl_vec *s = ax->present ? ax : st;
        return og_err(s->from_attr ? OG_ERR_ATTR : OG_ERR_SHAPE, "node '%s' (Slice): %s has %lld "
                      "elements, expected at most %d (the rank of data, each axis at most once)",
                      node, s->label, (long long)n, r);
    }
    if (sp->present && sp->known)
        for (int64_t i = 0; i < sp->n; i++)
            if (sl_get(sp, i) == 0)
                return og_err(sp->from_attr ? OG_ERR_ATTR : OG_ERR_INVALID_ARG, "node '%s' (Slice): "
                              "%s has 0 at position %lld, expected a nonzero step", node, sp->label,
                              (long long)i);
    bool axes_known = ax->present ? ax->known : n >= 0;
    if (!axes_known || n < 0) {
        /* which axes are cut is unknown: any dim may change (0 stays 0) */
        if (n != 0)
            for (int d = 0; d < r; d++)
                pl->size[d] = dims[d] == 0 ? 0 : -1;
        return OG_OK;
    }
    bool seen[OG_MAX_RANK] = {false};
    int64_t lo = opset >= 11 ? -(int64_t)r : 0;
    bool values = st->known && en->known && (!sp->present || sp->known);
    for (int64_t i = 0; i < n; i++) {
        int64_t a = ax->present ? sl_get(ax, i) : i;
        if (a < lo || a >= r)
            return og_err(ax->from_attr ? OG_ERR_ATTR : OG_ERR_INVALID_ARG, "node '%s' (Slice): %s "
                          "has %lld at position %lld, expected an axis in [%lld, %d] for data of "
                          "rank %d", node, ax->label, (long long)a, (long long)i, (long long)lo,
                          r - 1, r);
        if (a < 0)
            a += r;
        if (seen[a])
            return og_err(ax->from_attr ? OG_ERR_ATTR : OG_ERR_INVALID_ARG, "node '%s' (Slice): %s "
                          "repeats axis %lld (at position %lld); expected each axis at most once",
                          node, ax->label, (long long)sl_get(ax, i), (long long)i);
        seen[a] = true;
        pl->cut[a] = true;
        if (!values || dims[a] < 0) {
            pl->size[a] = dims[a] == 0 ? 0 : -1;
            continue;
        }
        pl->step[a] = sp->present ? sl_get(sp, i) : 1;
        sl_axis(dims[a], sl_get(st, i), sl_get(en, i), pl->step[a], &pl->start[a], &pl->size[a]);
    }
    return OG_OK;
}

/* The vectors from attributes (opset < 10) or from inputs 1..4: their
 * values when `vals` has them, else only what their types say. */
static void sl_vectors(const slice_params *p, int opset, int n_in, const og_tinfo *const *info,
                       const og_tensor *const *vals, const char *const *names, sl_vec *v)
{
    memset(v, 0, sizeof(sl_vec) * SL_N);
    if (opset < 10) {
        const og_ints *attr[3] = {&p->starts, &p->ends, &p->axes};
        for (int k = 0; k < 3; k++) {
            v[k].from_attr = true;
            v[k].present = attr[k]->present;
            v[k].n = attr[k]->present ? attr[k]->n : 0;
            v[k].v64 = attr[k]->v;
            v[k].known = true;
            snprintf(v[k].label, sizeof v[k].label, "attribute %s", sl_role[k]);
        }
        return;
    }
    for (int k = 0; k < SL_N; k++) {
        int in = k + 1;
        const og_tensor *t = in < n_in && vals ? vals[in] : NULL;
        const og_tinfo *ti = in < n_in && info ? info[in] : NULL;
        v[k].present = in < n_in && (ti != NULL || t != NULL);
        v[k].n = -1;
        snprintf(v[k].label, sizeof v[k].label, "input %s '%s'", sl_role[k],
                 names && in < n_in && names[in] ? names[in] : sl_role[k]);
        if (t != NULL && t->rank == 1 && (t->dtype == OG_INT64 || t->dtype == OG_INT32)) {
            v[k].n = t->numel;
            v[k].known = true;
            if (t->dtype == OG_INT64)
                v[k].v64 = t->data;
            else
                v[k].v32 = t->data;
        } else if (ti != NULL && ti->shape.rank == 1) {
            v[k].n = ti->shape.dims[0];
        }
        if (v[k].n == 0)
            v[k].known = true;
    }
}

static og_status slice_infer(og_infer_call *c)
{
    const slice_params *p = c->params;
    const char *node = c->node->name;
    const og_tinfo *x = c->in[0];
    const char *xname = c->in_names[0] ? c->in_names[0] : "?";
    og_dtype t = x->dtype;
    sl_vec v[SL_N];
    sl_plan pl;
    og_status st;
    char buf[OG_SHAPE_STR_MAX];

    c->workspace_bytes = 0;
    if (t != OG_UNDEFINED && og_dtype_size(t) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Slice): input data '%s' has type %s, which "
                      "onnxgrad cannot hold", node, xname, og_dtype_name(t));
    if (c->opset < 10) {
        if (c->n_in > 1)
            return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (Slice): has %d inputs, expected 1 at "
                          "opset %d (starts, ends and axes are attributes before opset 10)", node,
                          c->n_in, c->opset);
    } else {
        if (c->n_in < 3 || c->in[1] == NULL || c->in[2] == NULL)
            return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (Slice): inputs starts and ends are "
                          "required from opset 10, got %d inputs%s", node, c->n_in,
                          c->n_in >= 3 ? " with one omitted" : "");
        og_dtype ind = OG_UNDEFINED;
        for (int k = 1; k < c->n_in; k++) {
            const og_tinfo *in = c->in[k];
            if (in == NULL)
                continue;
            const char *nm = c->in_names[k] ? c->in_names[k] : "?";
            if (in->dtype != OG_UNDEFINED && in->dtype != OG_INT32 && in->dtype != OG_INT64)
                return og_err(OG_ERR_SHAPE, "node '%s' (Slice): input %s '%s' has type %s, expected "
                              "int32 or int64", node, sl_role[k - 1], nm, og_dtype_name(in->dtype));
            if (in->dtype != OG_UNDEFINED && ind != OG_UNDEFINED && in->dtype != ind)
                return og_err(OG_ERR_SHAPE, "node '%s' (Slice): input %s '%s' has type %s, expected "
                              "%s like the other index inputs", node, sl_role[k - 1], nm,
                              og_dtype_name(in->dtype), og_dtype_name(ind));
            if (in->dtype != OG_UNDEFINED)
                ind = in->dtype;
            if (in->shape.rank >= 0 && in->shape.rank != 1)
                return og_err(OG_ERR_SHAPE, "node '%s' (Slice): input %s '%s' has shape %s, expected "
                              "a 1-D tensor", node, sl_role[k - 1], nm,
                              og_shape_str(&in->shape, buf, sizeof buf));
        }
    }
    sl_vectors(p, c->opset, c->n_in, c->in, c->in_value, c->in_names, v);
    if ((st = sl_resolve(node, c->opset, x->shape.rank, x->shape.dims, v, &pl)) != OG_OK)
        return st;

    og_tinfo *y = c->out[0];
    if (y == NULL)
        return OG_OK;
    y->dtype = t;
    y->shape.rank = x->shape.rank;
    for (int d = 0; d < x->shape.rank; d++)
        y->shape.dims[d] = pl.size[d];
    return OG_OK;
}

static og_status slice_run(const og_kernel_call *k)
{
    const slice_params *p = k->params;
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];
    const char *node = k->node->name;
    sl_vec v[SL_N];
    sl_plan pl;
    og_status st;

    if (out == NULL)
        return OG_OK;
    sl_vectors(p, k->opset, k->n_in, NULL, k->in, NULL, v);
    if ((st = sl_resolve(node, k->opset, in->rank, in->dims, v, &pl)) != OG_OK)
        return st;
    int r = in->rank;
    bool agree = out->dtype == in->dtype && out->rank == r;
    for (int d = 0; d < r && agree; d++)
        agree = pl.size[d] >= 0 && out->dims[d] == pl.size[d];
    if (!agree)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Slice): the output's type or shape differs from "
                      "what the slice gives", node);
    if (out->numel == 0)
        return OG_OK;

    size_t es = og_dtype_size(in->dtype);
    int64_t istride[OG_MAX_RANK];
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        istride[d] = s;
        s *= in->dims[d];   /* bounded by numel */
    }
    /* trailing axes kept whole form one contiguous block of `block` elements */
    int last = r - 1;
    while (last >= 0 && pl.start[last] == 0 && pl.step[last] == 1 && pl.size[last] == in->dims[last])
        last--;
    const char *src = in->data;
    char *dst = out->data;
    if (last < 0) {
        memcpy(dst, src, (size_t)in->numel * es);
        return OG_OK;
    }
    size_t block = (size_t)istride[last] * es;
    int64_t idx[OG_MAX_RANK] = {0};
    int64_t rows = out->numel / (pl.size[last] * istride[last]);
    /* the row's offset, kept up to date by the odometer (O(1) a row) */
    int64_t off = pl.start[last] * istride[last];
    for (int d = 0; d < last; d++)
        off += pl.start[d] * istride[d];
    for (int64_t row = 0; row < rows; row++) {
        if (pl.step[last] == 1) {
            size_t n = (size_t)pl.size[last] * block;
            if (n == 4)   /* one float or int32 per row (a conv weight gradient's crop): no call */
                memcpy(dst, src + (size_t)off * es, 4);
            else
                memcpy(dst, src + (size_t)off * es, n);
            dst += n;
        } else {
            for (int64_t j = 0; j < pl.size[last]; j++) {
                memcpy(dst, src + (size_t)(off + j * pl.step[last] * istride[last]) * es, block);
                dst += block;
            }
        }
        for (int d = last - 1; d >= 0; d--) {
            off += pl.step[d] * istride[d];
            if (++idx[d] < pl.size[d])
                break;
            off -= pl.size[d] * pl.step[d] * istride[d];
            idx[d] = 0;
        }
    }
    return OG_OK;
}

/* dX = Pad(dY, pads) with zeros: on each axis pads put back the
 * start elements cut before the slice and the dim - (start + size) cut
 * after it. Only for steps of 1 (strided slices would need a scatter),
 * with starts/ends/axes known when the graph is built and X's dims known
 * on the sliced axes. */
/* dX = Pad(dY, pads) with the pads computed in the graph, for starts and
 * ends known only at run time (exports compute them from Shape): each
 * clamped as Slice does, start s -> clamp(s < 0 ? s + dim : s, 0, dim),
 * end likewise and at least the start; pads = [starts, dims - ends] on the
 * sliced axes, 0 elsewhere. The axes, the steps (1) and the rank must be
 * known when the gradient graph is built. */
static og_status slice_backward_runtime(og_backward_call *b, const sl_vec *v)
{
    const char *node = b->node->name;
    const og_tinfo *x = &b->in_info[0];
    int r = x->shape.rank;
    int64_t m = v[SL_STARTS].n;
    if (r < 0 || m < 0 || m > r || (v[SL_AXES].present && !v[SL_AXES].known) ||
        (v[SL_STEPS].present && !v[SL_STEPS].known))
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Slice): with starts or ends known only at run time, the "
                      "gradient needs the rank of data, the number of starts, the axes and the steps known when "
                      "the gradient graph is built", node);
    int64_t axes[OG_MAX_RANK], zeros[OG_MAX_RANK] = { 0 };
    for (int64_t i = 0; i < m; i++) {
        int64_t a = v[SL_AXES].present ? sl_get(&v[SL_AXES], i) : i;
        if (a < -r || a >= r)
            return og_err(OG_ERR_SHAPE, "node '%s' (Slice): axis %lld is out of range for rank %d", node,
                          (long long)a, r);
        axes[i] = a < 0 ? a + r : a;
        if (v[SL_STEPS].present && sl_get(&v[SL_STEPS], i) != 1)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Slice): the gradient of a slice with steps other than 1 "
                          "is not implemented", node);
    }
    og_attr to_int64 = og_attr_int("to", OG_INT64);
    const char *axes_c = og_gb_ints(b, m, axes);
    const char *shape = og_shape_known(&x->shape) ? og_gb_ints(b, r, x->shape.dims) : og_gb1(b, "Shape", b->in[0]);
    const char *gi[2] = { shape, axes_c };
    const char *dims = og_gb(b, "Gather", 2, gi, 0, NULL);
    const char *zero = og_gb_ints(b, 1, zeros), *bound[2] = { NULL, NULL };
    for (int k = 0; k < 2; k++) {
        const char *raw = og_gb(b, "Cast", 1, &b->in[1 + k], 1, &to_int64);
        const char *wi[3] = { og_gb2(b, "Less", raw, zero), og_gb_add(b, raw, dims), raw };
        const char *pos = og_gb(b, "Where", 3, wi, 0, NULL);
        bound[k] = og_gb2(b, "Max", og_gb2(b, "Min", pos, dims), zero);
    }
    bound[1] = og_gb2(b, "Max", bound[1], bound[0]);
    const char *zr = og_gb_ints(b, r, zeros);
    og_attr axis0 = og_attr_int("axis", 0);
    const char *bi[3] = { zr, axes_c, bound[0] }, *ei[3] = { zr, axes_c, og_gb_sub(b, dims, bound[1]) };
    const char *ci[2] = { og_gb(b, "ScatterElements", 3, bi, 1, &axis0), og_gb(b, "ScatterElements", 3, ei, 1, &axis0) };
    const char *pi[2] = { b->dout[0], og_gb(b, "Concat", 2, ci, 1, &axis0) };
    b->din[0] = og_gb(b, "Pad", 2, pi, 0, NULL);
    return og_gb_status(b);
}

static og_status slice_backward(og_backward_call *b)
{
    const slice_params *p = b->params;
    const char *node = b->node->name;
    const og_tinfo *x = &b->in_info[0];
    const og_tinfo *info[OG_MAX_IO];
    int r = x->shape.rank;
    sl_vec v[SL_N];
    sl_plan pl;
    og_status st;

    if (!b->need[0])
        return OG_OK;
    for (int k = 0; k < b->n_in; k++)
        info[k] = b->in[k] != NULL ? &b->in_info[k] : NULL;
    sl_vectors(p, b->opset, b->n_in, info, b->in_value, b->in, v);
    if ((v[SL_STARTS].present && !v[SL_STARTS].known) || (v[SL_ENDS].present && !v[SL_ENDS].known))
        return slice_backward_runtime(b, v);
    for (int k = 0; k < SL_N; k++)
        if (v[k].present && !v[k].known)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Slice): the gradient needs %s known when the "
                          "gradient graph is built (an initializer or a constant)", node, v[k].label);
    for (int64_t i = 0; v[SL_STEPS].present && i < v[SL_STEPS].n; i++)
        if (sl_get(&v[SL_STEPS], i) != 1)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Slice): the gradient of a slice with steps "
                          "other than 1 is not implemented; %s has %lld at position %lld", node,
                          v[SL_STEPS].label, (long long)sl_get(&v[SL_STEPS], i), (long long)i);
    if (r < 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Slice): the gradient needs the rank of data '%s' "
                      "known", node, b->in[0]);
    if ((st = sl_resolve(node, b->opset, r, x->shape.dims, v, &pl)) != OG_OK)
        return st;
    int64_t pads[2 * OG_MAX_RANK];
    for (int d = 0; d < r; d++) {
        if (pl.cut[d] && (x->shape.dims[d] < 0 || pl.size[d] < 0)) {
            char buf[OG_SHAPE_STR_MAX];
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Slice): the gradient needs the dims of data "
                          "'%s' known on the sliced axes, got shape %s (axis %d unknown)", node,
                          b->in[0], og_shape_str(&x->shape, buf, sizeof buf), d);
        }
        pads[d] = pl.cut[d] ? pl.start[d] : 0;
        pads[r + d] = pl.cut[d] ? x->shape.dims[d] - pl.start[d] - pl.size[d] : 0;
    }
    const char *ins[2] = {b->dout[0], NULL};
    if ((st = og_grad_const_ints(b, 2 * r, pads, &ins[1])))
        return st;
    return og_grad_emit(b, "Pad", 2, ins, 1, &b->din[0], 0, NULL);
}

const og_op og_op_slice = {
    .name = "Slice",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 5,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = slice_attrs,
    .n_attrs = (int)(sizeof slice_attrs / sizeof slice_attrs[0]),
    .params_size = sizeof(slice_params),
    .infer = slice_infer,
    .run = slice_run,
    .backward = slice_backward,
    .cost = og_cost_zero,
};
