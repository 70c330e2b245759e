/* ReduceSum — sums the elements of `data` along the given axes. With
 * keepdims = 1 (the default) each reduced axis stays as a dim of 1; with
 * keepdims = 0 it is dropped. Empty axes reduce every axis, unless
 * noop_with_empty_axes = 1 (opset 13+), which makes the op an identity.
 * Axes lie in [-r, r-1] (negative ones count from the back).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#ReduceSum
 *
 * Versions: 1 (`axes` attribute, non-negative axes), 11 (negative axes),
 * 13 (axes become an optional int64 input; noop_with_empty_axes; bfloat16).
 * onnxgrad implements all three; the axes attribute is forward-only, as
 * gradient graphs are raised to opset 17 where it no longer exists (the
 * copy refuses it rather than dropping it). Types: float, double, int32, int64, uint32,
 * uint64; float16/bfloat16 are valid ONNX that onnxgrad cannot hold.
 *
 * Semantics where the spec leaves room: a repeated axis is an error (the
 * spec does not say what it means); an empty axes attribute (opsets 1-12)
 * reduces every axis, as an absent one does. Sums accumulate in the input
 * type; integer sums wrap around (two's complement) instead of overflowing.
 *
 * Errors in axes are OG_ERR_ATTR when they come from the attribute and
 * OG_ERR_INVALID_ARG when they come from the axes input's data.
 *
 * Kernel: adjacent axes that are all reduced or all kept merge into one,
 * and size-1 axes drop out, so the loop runs over alternating groups. The
 * innermost group is walked contiguously in X: either summed into one
 * accumulator (reduced) or added element by element onto a contiguous row
 * of Y (kept).
 *
 * Backward: dX = Expand(Reshape(dY, X's shape with reduced axes as 1),
 * Shape(X)); the Reshape is skipped when keepdims = 1. Without keepdims
 * the axes must be known when the gradient graph is built. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

typedef struct reducesum_params {
    og_ints axes;                   /* opsets 1-12 */
    int64_t keepdims;
    int64_t noop_with_empty_axes;   /* opset 13+ */
} reducesum_params;

static const og_attr_spec reducesum_attrs[] = {
    {.name = "axes", .type = OG_ATTR_INTS, .offset = offsetof(reducesum_params, axes),
     .since_version = 1, .until_version = 12, .to_input = true},
    {.name = "keepdims", .type = OG_ATTR_INT, .offset = offsetof(reducesum_params, keepdims),
     .def_i = 1, .has_range = true, .min_i = 0, .max_i = 1},
    {.name = "noop_with_empty_axes", .type = OG_ATTR_INT,
     .offset = offsetof(reducesum_params, noop_with_empty_axes), .def_i = 0, .has_range = true,
     .min_i = 0, .max_i = 1, .since_version = 13},
};

/* Which axes are reduced. Shared by infer and run so they cannot disagree. */
typedef struct rs_axes {
    bool known;                     /* the axes (or their absence) are known */
    bool noop;                      /* empty axes with noop_with_empty_axes: identity */
    int64_t count;                  /* axes listed; -1 when unknown */
    bool reduce[OG_MAX_RANK];       /* when known and rank known */
} rs_axes;

/* Where the axes come from: the attribute (opsets < 13), or the optional
 * input (its data when known, else maybe its length). */
typedef struct rs_source {
    bool from_attr;
    bool present;                   /* attribute given / input not omitted */
    int64_t n;                      /* number of axes; -1 unknown */
    const int64_t *v;               /* values; NULL when unknown */
    const char *name;               /* input name for messages */
} rs_source;

static bool rs_type_ok(og_dtype t)
{
    return t == OG_FLOAT || t == OG_DOUBLE || t == OG_INT32 || t == OG_INT64 || t == OG_UINT32 ||
           t == OG_UINT64;
}

/* The axes of a node: the attribute before opset 13, else the optional
 * input (present unless omitted): its data when `value` holds it, else
 * its length when its type `info` (may be NULL) says. */
static rs_source rs_source_of(const reducesum_params *p, int opset, bool present, const og_tinfo *info,
                              const og_tensor *value, const char *name)
{
    if (opset < 13)
        return (rs_source){.from_attr = true, .present = p->axes.present, .n = p->axes.n, .v = p->axes.v};
    rs_source src = {.present = present, .name = name, .n = -1};
    if (value != NULL && value->dtype == OG_INT64 && value->rank == 1) {
        src.n = value->numel;
        src.v = value->data;
    } else if (info != NULL && info->shape.rank == 1) {
        src.n = info->shape.dims[0];
    }
    return src;
}

/* Resolves the source against an input of rank r (-1: unknown). */
static og_status rs_resolve(const char *node, const reducesum_params *p, int opset, int r,
                            const rs_source *src, rs_axes *ax)
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
        /* no axes: identity with noop_with_empty_axes, else every axis */
        ax->known = true;
        ax->noop = opset >= 13 && p->noop_with_empty_axes;
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
            return og_err(code, "node '%s' (ReduceSum): %s has %lld at position %lld, expected an "
                          "axis in [%lld, %d] for data of rank %d", node, what, (long long)a,
                          (long long)i, (long long)lo, r - 1, r);
        if (a < 0)
            a += r;
        if (ax->reduce[a])
            return og_err(code, "node '%s' (ReduceSum): %s repeats axis %lld (at position %lld); "
                          "expected each axis at most once", node, what, (long long)src->v[i],
                          (long long)i);
        ax->reduce[a] = true;
    }
    ax->known = true;
    return OG_OK;
}

static og_status reducesum_infer(og_infer_call *c)
{
    const reducesum_params *p = c->params;
    const char *node = c->node->name;
    const og_tinfo *x = c->in[0];
    const og_tinfo *axes_in = c->n_in > 1 ? c->in[1] : NULL;
    const char *xname = c->in_names[0] ? c->in_names[0] : "?";
    og_dtype t = x->dtype;
    int r = x->shape.rank;
    rs_axes ax;
    og_status st;

    c->workspace_bytes = 0;
    if (t == OG_FLOAT16 || t == OG_BFLOAT16)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (ReduceSum): input data '%s' has type %s, which "
                      "onnxgrad cannot hold; expected float, double, int32, int64, uint32 or uint64",
                      node, xname, og_dtype_name(t));
    if (t != OG_UNDEFINED && !rs_type_ok(t))
        return og_err(OG_ERR_SHAPE, "node '%s' (ReduceSum): input data '%s' has type %s, expected "
                      "float, double, int32, int64, uint32 or uint64", node, xname, og_dtype_name(t));

    const char *an = c->n_in > 1 && c->in_names[1] ? c->in_names[1] : "?";
    if (c->opset < 13 && c->n_in > 1)
        return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (ReduceSum): has %d inputs, expected 1 at "
                      "opset %d (axes is an attribute before opset 13)", node, c->n_in, c->opset);
    if (axes_in != NULL) {
        char buf[OG_SHAPE_STR_MAX];
        if (axes_in->dtype != OG_UNDEFINED && axes_in->dtype != OG_INT64)
            return og_err(OG_ERR_SHAPE, "node '%s' (ReduceSum): input axes '%s' has type %s, expected "
                          "int64", node, an, og_dtype_name(axes_in->dtype));
        if (axes_in->shape.rank >= 0 && axes_in->shape.rank != 1)
            return og_err(OG_ERR_SHAPE, "node '%s' (ReduceSum): input axes '%s' has shape %s, expected "
                          "a 1-D tensor", node, an, og_shape_str(&axes_in->shape, buf, sizeof buf));
    }
    rs_source src = rs_source_of(p, c->opset, axes_in != NULL, axes_in,
                                 c->n_in > 1 ? c->in_value[1] : NULL, an);
    if ((st = rs_resolve(node, p, c->opset, r, &src, &ax)) != OG_OK)
        return st;

    og_tinfo *y = c->out[0];
    if (y == NULL)
        return OG_OK;
    y->dtype = t;
    if (ax.known && ax.noop) {
        y->shape = x->shape;
        return OG_OK;
    }
    if (r < 0) {
        /* every axis reduced and dropped gives a scalar whatever the rank */
        y->shape.rank = ax.known && ax.count == 0 && !p->keepdims ? 0 : -1;
        return OG_OK;
    }
    if (!ax.known) {
        /* which axes is unknown: with keepdims the rank stays, and a dim
         * of 1 stays 1 either way; without, only the rank may be known */
        if (p->keepdims) {
            y->shape.rank = r;
            for (int d = 0; d < r; d++)
                y->shape.dims[d] = x->shape.dims[d] == 1 ? 1 : -1;
        } else {
            y->shape.rank = ax.count > 0 && ax.count <= r ? r - (int)ax.count : -1;
            for (int d = 0; d < y->shape.rank; d++)
                y->shape.dims[d] = -1;
        }
        return OG_OK;
    }
    int o = 0;
    for (int d = 0; d < r; d++) {
        if (!ax.reduce[d])
            y->shape.dims[o++] = x->shape.dims[d];
        else if (p->keepdims)
            y->shape.dims[o++] = 1;
    }
    y->shape.rank = o;
    return OG_OK;
}

/* Sum over the groups described in reducesum_run: T is the element type,
 * U the type the additions happen in (unsigned for integers, so a sum
 * that overflows wraps instead of being undefined). */
#define RS_LOOP(T, U)                                                           \
    do {                                                                        \
        const T *xs = (const T *)in->data;                                      \
        T *ys = (T *)out->data;                                                 \
        int64_t xi = 0;                                                         \
        for (int64_t row = 0; row < rows; row++) {                              \
            int64_t o = 0;                                                      \
            for (int g = 0; g < ng - 1; g++)                                    \
                o += idx[g] * ostride[g];                                       \
            if (inner_red) {                                                    \
                U acc = 0;                                                      \
                for (int64_t i = 0; i < inner; i++)                             \
                    acc += (U)xs[xi + i];                                       \
                ys[o] = (T)((U)ys[o] + acc);                                    \
            } else {                                                            \
                for (int64_t i = 0; i < inner; i++)                             \
                    ys[o + i] = (T)((U)ys[o + i] + (U)xs[xi + i]);              \
            }                                                                   \
            xi += inner;                                                        \
            for (int g = ng - 2; g >= 0 && ++idx[g] == gsize[g]; g--)           \
                idx[g] = 0;                                                     \
        }                                                                       \
    } while (0)

static og_status reducesum_run(const og_kernel_call *k)
{
    const reducesum_params *p = k->params;
    const og_tensor *in = k->in[0];
    const og_tensor *axes = k->n_in > 1 ? k->in[1] : NULL;
    og_tensor *out = k->out[0];
    const char *node = k->node->name;
    rs_axes ax;
    og_status st;

    if (out == NULL)
        return OG_OK;
    rs_source src = rs_source_of(p, k->opset, axes != NULL, NULL, axes, "axes");
    if ((st = rs_resolve(node, p, k->opset, in->rank, &src, &ax)) != OG_OK)
        return st;
    if (!ax.known || out->dtype != in->dtype)
        return og_err(OG_ERR_INTERNAL, "node '%s' (ReduceSum): axes unresolved or output type %s "
                      "differs from input type %s", node, og_dtype_name(out->dtype),
                      og_dtype_name(in->dtype));

    /* numel * size fits: the engine allocated both tensors at this size */
    size_t es = og_dtype_size(in->dtype);
    if (ax.noop) {
        if (out->numel != in->numel)
            return og_err(OG_ERR_INTERNAL, "node '%s' (ReduceSum): identity output has %lld "
                          "elements, expected %lld", node, (long long)out->numel, (long long)in->numel);
        if (in->numel > 0)
            memcpy(out->data, in->data, (size_t)in->numel * es);
        return OG_OK;
    }

    /* the loops below accumulate: every output starts at 0 (sums over
     * nothing stay 0) */
    memset(out->data, 0, (size_t)out->numel * es);
    if (in->numel == 0)
        return OG_OK;

    /* Merge neighbouring axes of the same kind; size-1 axes are neither.
     * The output keeps the kept axes in order, so their strides there
     * follow from the sizes. */
    int64_t gsize[OG_MAX_RANK], ostride[OG_MAX_RANK], idx[OG_MAX_RANK] = {0};
    bool gred[OG_MAX_RANK];
    int ng = 0;
    int64_t out_numel = 1;
    for (int d = 0; d < in->rank; d++) {
        if (in->dims[d] == 1)
            continue;
        if (ng > 0 && gred[ng - 1] == ax.reduce[d]) {
            gsize[ng - 1] *= in->dims[d];   /* bounded by numel */
        } else {
            gsize[ng] = in->dims[d];
            gred[ng++] = ax.reduce[d];
        }
        if (!ax.reduce[d])
            out_numel *= in->dims[d];
    }
    if (out->numel != out_numel)
        return og_err(OG_ERR_INTERNAL, "node '%s' (ReduceSum): output has %lld elements, expected "
                      "%lld", node, (long long)out->numel, (long long)out_numel);
    if (ng == 0) {
        gsize[0] = 1;
        gred[0] = false;
        ng = 1;
    }
    int64_t acc = 1;
    for (int g = ng - 1; g >= 0; g--) {
        ostride[g] = gred[g] ? 0 : acc;
        if (!gred[g])
            acc *= gsize[g];
    }
    int64_t inner = gsize[ng - 1];
    bool inner_red = gred[ng - 1];
    int64_t rows = in->numel / inner;

    switch (in->dtype) {
    case OG_FLOAT:  RS_LOOP(float, float); break;
    case OG_DOUBLE: RS_LOOP(double, double); break;
    case OG_INT32:  RS_LOOP(int32_t, uint32_t); break;
    case OG_INT64:  RS_LOOP(int64_t, uint64_t); break;
    case OG_UINT32: RS_LOOP(uint32_t, uint32_t); break;
    case OG_UINT64: RS_LOOP(uint64_t, uint64_t); break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (ReduceSum): no kernel for type %s", node,
                      og_dtype_name(in->dtype));
    }
    return OG_OK;
}

/* dX = Expand(Reshape(dY, X's shape with the reduced axes as 1), Shape(X)).
 * With keepdims dY already has that shape (and an identity has X's), so
 * only the Expand remains and the axes need not be known. Without
 * keepdims the Reshape target is a constant when X's dims are known, else
 * Shape(X) * keep + reduced, with 0/1 masks per axis. */
static og_status reducesum_backward(og_backward_call *b)
{
    const reducesum_params *p = b->params;
    const char *node = b->node->name;
    const og_tinfo *x = &b->in_info[0];
    int r = x->shape.rank;
    const char *dy = b->dout[0], *shape, *ins[2];
    og_status st;

    if (!b->need[0])
        return OG_OK;
    if (!p->keepdims) {
        rs_axes ax;
        if (r < 0)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (ReduceSum): the gradient with keepdims=0 needs "
                          "the rank of data '%s' known", node, b->in[0]);
        bool present = b->n_in > 1 && b->in[1] != NULL;
        rs_source src = rs_source_of(p, b->opset, present, present ? &b->in_info[1] : NULL,
                                     present ? b->in_value[1] : NULL, present ? b->in[1] : "");
        if ((st = rs_resolve(node, p, b->opset, r, &src, &ax)) != OG_OK)
            return st;
        if (!ax.known)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (ReduceSum): the gradient with keepdims=0 needs "
                          "the axes '%s' known when the gradient graph is built (an initializer or a "
                          "constant)", node, b->in[1]);
        if (!ax.noop) {
            int64_t dims[OG_MAX_RANK], keep[OG_MAX_RANK], red[OG_MAX_RANK];
            for (int d = 0; d < r; d++) {
                dims[d] = ax.reduce[d] ? 1 : x->shape.dims[d];
                keep[d] = !ax.reduce[d];
                red[d] = ax.reduce[d];
            }
            ins[0] = dy;
            if (og_shape_known(&x->shape)) {
                st = og_grad_const_ints(b, r, dims, &ins[1]);
            } else {
                const char *m[2];
                if ((st = og_grad_emit(b, "Shape", 1, &b->in[0], 1, &m[0], 0, NULL)) ||
                    (st = og_grad_const_ints(b, r, keep, &m[1])) ||
                    (st = og_grad_emit(b, "Mul", 2, m, 1, &m[0], 0, NULL)) ||
                    (st = og_grad_const_ints(b, r, red, &m[1])))
                    return st;
                st = og_grad_emit(b, "Add", 2, m, 1, &ins[1], 0, NULL);
            }
            if (st || (st = og_grad_emit(b, "Reshape", 2, ins, 1, &dy, 0, NULL)))
                return st;
        }
    }
    if ((st = og_grad_shape_of(b, b->in[0], x, &shape)))
        return st;
    ins[0] = dy;
    ins[1] = shape;
    return og_grad_emit(b, "Expand", 2, ins, 1, &b->din[0], 0, NULL);
}

const og_op og_op_reducesum = {
    .name = "ReduceSum",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = reducesum_attrs,
    .n_attrs = (int)(sizeof reducesum_attrs / sizeof reducesum_attrs[0]),
    .params_size = sizeof(reducesum_params),
    .infer = reducesum_infer,
    .run = reducesum_run,
    .backward = reducesum_backward,
};
