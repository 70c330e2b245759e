/* MaxPool — the largest value in each (optionally dilated) window of every
 * channel plane.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#MaxPool
 *
 * X is [N, C, D1..Dn], Y is [N, C, O1..On] with sizes from the shared helper
 * in src/spatial.c (kernel_shape, strides, pads, dilations, auto_pad,
 * ceil_mode). The optional second output Indices (int64, same shape as Y)
 * holds where each maximum came from as a flat index into X, batch and
 * channel included: (n*C + c) * D1*..*Dn + the spatial offset, row-major
 * for storage_order 0 and column-major (first axis fastest) for 1.
 *
 * Padding cells are never candidates. Windows are scanned in row-major order
 * and the first maximum wins a tie. A NaN in the window makes the result
 * NaN, with the index of the last NaN in scan order (PyTorch's CPU rule).
 * A window lying wholly in padding (possible with large pads or dilations)
 * yields -inf (the dtype's lowest value for integers) and Indices -1.
 *
 * Versions: storage_order and Indices from opset 8, dilations and ceil_mode
 * from 10, int8/uint8 from 12.
 *
 * Backward (maxpool_backward): dY goes to each window's first maximum
 * through Indices, summed over overlapping windows. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

typedef struct maxpool_params {
    const char *auto_pad;
    int64_t ceil_mode;
    og_ints dilations;
    og_ints kernel_shape;
    og_ints pads;
    int64_t storage_order;
    og_ints strides;
} maxpool_params;

static const char *const auto_pad_choices[] = { "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", NULL };

static const og_attr_spec maxpool_attrs[] = {
    { .name = "auto_pad", .type = OG_ATTR_STRING, .offset = offsetof(maxpool_params, auto_pad),
      .def_s = "NOTSET", .choices = auto_pad_choices },
    { .name = "ceil_mode", .type = OG_ATTR_INT, .offset = offsetof(maxpool_params, ceil_mode), .def_i = 0,
      .has_range = true, .min_i = 0, .max_i = 1, .since_version = 10 },
    { .name = "dilations", .type = OG_ATTR_INTS, .offset = offsetof(maxpool_params, dilations),
      .since_version = 10 },
    { .name = "kernel_shape", .type = OG_ATTR_INTS, .offset = offsetof(maxpool_params, kernel_shape),
      .required = true },
    { .name = "pads", .type = OG_ATTR_INTS, .offset = offsetof(maxpool_params, pads) },
    { .name = "storage_order", .type = OG_ATTR_INT, .offset = offsetof(maxpool_params, storage_order),
      .def_i = 0, .has_range = true, .min_i = 0, .max_i = 1, .since_version = 8 },
    { .name = "strides", .type = OG_ATTR_INTS, .offset = offsetof(maxpool_params, strides) },
};

static const char *name_of(const char *const *names, int k)
{
    return names && names[k] ? names[k] : "";
}

/* Geometry from X's shape; infer and run share it. rank -1: unknown. */
static og_status maxpool_geometry(const char *what, const maxpool_params *p, const og_shape *xs,
                                  const char *x_name, int *rank, og_spatial *sp)
{
    const og_ints *ks = &p->kernel_shape;
    if (ks->n < 1 || ks->n > OG_MAX_RANK - 2)
        return og_err(OG_ERR_ATTR, "%s: attribute 'kernel_shape' has %lld values, expected 1..%d", what,
                      (long long)ks->n, OG_MAX_RANK - 2);
    for (int64_t i = 0; i < ks->n; i++)
        if (ks->v[i] <= 0)
            return og_err(OG_ERR_ATTR, "%s: kernel_shape[%lld] is %lld, expected > 0", what, (long long)i,
                          (long long)ks->v[i]);
    int n = (int)ks->n;
    if (xs->rank >= 0 && xs->rank < 3)
        return og_err(OG_ERR_SHAPE, "%s: input X '%s' has rank %d, expected >= 3 ([N, C, D1, ...])", what, x_name,
                      xs->rank);
    if (xs->rank >= 0 && xs->rank != n + 2)
        return og_err(OG_ERR_SHAPE, "%s: input X '%s' has rank %d, expected %d (2 + length of kernel_shape)", what,
                      x_name, xs->rank, n + 2);
    *rank = n + 2;
    int64_t in[OG_MAX_RANK];
    for (int i = 0; i < n; i++)
        in[i] = xs->rank >= 0 ? xs->dims[2 + i] : -1;
    return og_spatial_resolve(sp, what, n, in, ks->v, &p->strides, &p->dilations, &p->pads, p->auto_pad,
                              p->ceil_mode != 0);
}

static og_status maxpool_infer(og_infer_call *c)
{
    const maxpool_params *p = c->params;
    const og_tinfo *x = c->in[0];
    og_tinfo *y = c->out[0], *ind = c->n_out > 1 ? c->out[1] : NULL;
    char what[256];
    snprintf(what, sizeof what, "node '%s' (MaxPool)", c->node->name);
    if (!x)
        return og_err(OG_ERR_INVALID_GRAPH, "%s: input X is required, got it omitted", what);
    const char *xn = name_of(c->in_names, 0);
    og_dtype t = x->dtype;
    if (t == OG_FLOAT16 || t == OG_BFLOAT16)
        return og_err(OG_ERR_UNSUPPORTED, "%s: input X '%s' has dtype %s, which onnxgrad does not implement; "
                                          "expected float, double, int8 or uint8", what, xn, og_dtype_name(t));
    if ((t == OG_INT8 || t == OG_UINT8) && c->opset < 12)
        return og_err(OG_ERR_SHAPE, "%s: input X '%s' has dtype %s, which MaxPool-%d does not accept; "
                                    "expected float or double (int8/uint8 need opset >= 12)", what, xn,
                      og_dtype_name(t), c->opset);
    if (t != OG_UNDEFINED && t != OG_FLOAT && t != OG_DOUBLE && t != OG_INT8 && t != OG_UINT8)
        return og_err(OG_ERR_SHAPE, "%s: input X '%s' has dtype %s, expected float, double, int8 or uint8", what,
                      xn, og_dtype_name(t));
    if (ind && c->opset < 8)
        return og_err(OG_ERR_INVALID_GRAPH, "%s: output Indices '%s' is requested, but MaxPool-%d has one output "
                                            "(Indices needs opset >= 8)", what, name_of(c->out_names, 1), c->opset);

    int rank;
    og_spatial sp;
    og_status st = maxpool_geometry(what, p, &x->shape, xn, &rank, &sp);
    if (st)
        return st;
    og_tinfo *outs[2] = { y, ind };
    for (int k = 0; k < 2; k++) {
        if (!outs[k])
            continue;
        outs[k]->dtype = k == 0 ? t : OG_INT64;
        outs[k]->shape.rank = rank;
        outs[k]->shape.dims[0] = x->shape.rank >= 0 ? x->shape.dims[0] : -1;
        outs[k]->shape.dims[1] = x->shape.rank >= 0 ? x->shape.dims[1] : -1;
        for (int i = 0; i < rank - 2; i++)
            outs[k]->shape.dims[2 + i] = sp.out[i];
    }
    c->workspace_bytes = 0;
    return OG_OK;
}

/* First index j in [0, k) with start + j*d >= 0, and one past the last with
 * start + j*d < in: the window's cells that are real input, not padding.
 * Division instead of start + j*d so huge pads cannot overflow. */
static void valid_range(int64_t start, int64_t d, int64_t k, int64_t in, int64_t *lo, int64_t *hi)
{
    *lo = start >= 0 ? 0 : -start / d + (-start % d != 0);
    int64_t rem = in - start;
    *hi = rem <= 0 ? 0 : rem / d + (rem % d != 0);
    if (*hi > k)
        *hi = k;
}

#define IS_NAN_FP(v) isnan(v)
#define IS_NAN_INT(v) false

/* One pass over every plane (n, c) of X; Y and Indices are [planes, out...]. */
#define DEFINE_MAXPOOL(T, IS_NAN, LOWEST)                                                                  \
    static void maxpool_##T(const og_spatial *s, int64_t planes, const T *x, T *y, int64_t *ind,          \
                            bool col_major)                                                                \
    {                                                                                                      \
        int n = s->n;                                                                                      \
        int64_t in_plane = 1, out_plane = 1, rm[OG_MAX_RANK], cm[OG_MAX_RANK];                             \
        for (int a = n - 1; a >= 0; a--) {                                                                 \
            rm[a] = in_plane;                                                                              \
            in_plane *= s->in[a];                                                                          \
        }                                                                                                  \
        for (int a = 0; a < n; a++) {                                                                      \
            cm[a] = a == 0 ? 1 : cm[a - 1] * s->in[a - 1];                                                 \
            out_plane *= s->out[a];                                                                        \
        }                                                                                                  \
        for (int64_t pl = 0; pl < planes; pl++) {                                                          \
            const T *xp = x + pl * in_plane;                                                               \
            int64_t o[OG_MAX_RANK] = { 0 };                                                                \
            for (int64_t q = 0; q < out_plane; q++) {                                                      \
                int64_t start[OG_MAX_RANK], lo[OG_MAX_RANK], hi[OG_MAX_RANK], j[OG_MAX_RANK];              \
                bool empty = false;                                                                        \
                for (int a = 0; a < n; a++) {                                                              \
                    start[a] = o[a] * s->stride[a] - s->pad_begin[a];                                      \
                    valid_range(start[a], s->dilation[a], s->kernel[a], s->in[a], &lo[a], &hi[a]);        \
                    empty = empty || lo[a] >= hi[a];                                                       \
                    j[a] = lo[a];                                                                          \
                }                                                                                          \
                T best = LOWEST;                                                                           \
                int64_t best_rm = -1, best_cm = -1;                                                        \
                while (!empty) {                                                                           \
                    int64_t off_rm = 0, off_cm = 0;                                                        \
                    for (int a = 0; a < n; a++) {                                                          \
                        int64_t pos = start[a] + j[a] * s->dilation[a];                                    \
                        off_rm += pos * rm[a];                                                             \
                        off_cm += pos * cm[a];                                                             \
                    }                                                                                      \
                    T v = xp[off_rm];                                                                      \
                    /* strict > keeps the first maximum; every NaN takes over */                          \
                    if (best_rm < 0 || v > best || IS_NAN(v)) {                                            \
                        best = v;                                                                          \
                        best_rm = off_rm;                                                                  \
                        best_cm = off_cm;                                                                  \
                    }                                                                                      \
                    int a = n - 1;                                                                         \
                    while (a >= 0 && ++j[a] == hi[a]) {                                                    \
                        j[a] = lo[a];                                                                      \
                        a--;                                                                               \
                    }                                                                                      \
                    if (a < 0)                                                                             \
                        break;                                                                             \
                }                                                                                          \
                if (y)                                                                                     \
                    y[pl * out_plane + q] = best;                                                          \
                if (ind)                                                                                   \
                    ind[pl * out_plane + q] = best_rm < 0 ? -1 : pl * in_plane + (col_major ? best_cm : best_rm); \
                for (int a = n - 1; a >= 0 && ++o[a] == s->out[a]; a--)                                    \
                    o[a] = 0;                                                                              \
            }                                                                                              \
        }                                                                                                  \
    }

typedef int8_t i8;
typedef uint8_t u8;
DEFINE_MAXPOOL(float, IS_NAN_FP, -INFINITY)
DEFINE_MAXPOOL(double, IS_NAN_FP, -INFINITY)
DEFINE_MAXPOOL(i8, IS_NAN_INT, INT8_MIN)
DEFINE_MAXPOOL(u8, IS_NAN_INT, 0)

static og_status maxpool_run(const og_kernel_call *k)
{
    const maxpool_params *p = k->params;
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0], *ind = k->n_out > 1 ? k->out[1] : NULL;
    char what[256];
    snprintf(what, sizeof what, "node '%s' (MaxPool)", k->node->name);
    og_shape xs = { .rank = x->rank };
    memcpy(xs.dims, x->dims, sizeof x->dims);
    int rank;
    og_spatial sp;
    og_status st = maxpool_geometry(what, p, &xs, "", &rank, &sp);
    if (st)
        return st;
    /* Infer was run on these shapes; re-check what the loops rely on. */
    const og_tensor *outs[2] = { y, ind };
    for (int o = 0; o < 2; o++) {
        const og_tensor *t = outs[o];
        bool ok = !t || (t->rank == rank && t->dims[0] == x->dims[0] && t->dims[1] == x->dims[1] &&
                         t->dtype == (o == 0 ? x->dtype : OG_INT64));
        for (int i = 0; ok && t && i < rank - 2; i++)
            ok = t->dims[2 + i] == sp.out[i];
        if (!ok)
            return og_err(OG_ERR_INTERNAL, "%s: output tensors do not match inferred shapes", what);
    }
    if (!y && !ind)
        return OG_OK;
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t *idx = ind ? ind->data : NULL;
    bool cm = p->storage_order == 1;
    switch (x->dtype) {
    case OG_FLOAT: maxpool_float(&sp, planes, x->data, y ? y->data : NULL, idx, cm); break;
    case OG_DOUBLE: maxpool_double(&sp, planes, x->data, y ? y->data : NULL, idx, cm); break;
    case OG_INT8: maxpool_i8(&sp, planes, x->data, y ? y->data : NULL, idx, cm); break;
    case OG_UINT8: maxpool_u8(&sp, planes, x->data, y ? y->data : NULL, idx, cm); break;
    default:
        return og_err(OG_ERR_INTERNAL, "%s: no kernel for dtype %s", what, og_dtype_name(x->dtype));
    }
    return OG_OK;
}

/* The gradient routes through Indices, and a window lying wholly in
 * padding has index -1, which ScatterElements would read as the last
 * element: refuse such geometry. Per axis, a window starting on a real
 * cell is never empty, so only those starting in the begin padding (all
 * fine when pb <= (k-1)*d and d <= in; checked one by one when d > in) and
 * a last window starting past the input can be. With the input size
 * unknown it is safe when no window starts in the begin padding, or every
 * one that does reaches cell 0 (dilation 1 and pb <= k-1, which SAME pads
 * are), and the last window cannot start past the input (ceil_mode and
 * SAME never keep one; NOTSET floor does only when pe > (k-1)*d). */
static og_status maxpool_grad_windows_ok(const char *what, const maxpool_params *p, const og_spatial *s,
                                         const char *x_name)
{
    bool same = strcmp(p->auto_pad, "SAME_UPPER") == 0 || strcmp(p->auto_pad, "SAME_LOWER") == 0;
    for (int a = 0; a < s->n; a++) {
        int64_t k = s->kernel[a], st = s->stride[a], d = s->dilation[a], in = s->in[a];
        int64_t pb = s->pad_begin[a], pe = s->pad_end[a], span = (k - 1) * d;   /* fits: spatial checked it */
        if (in < 0 || pb < 0) {
            bool begin_ok = pb == 0 || (d == 1 && (same || pb <= k - 1));
            bool end_ok = same || p->ceil_mode || pe <= span;
            if (begin_ok && end_ok)
                continue;
            return og_err(OG_ERR_UNSUPPORTED, "%s: the gradient needs spatial dim %d of X '%s' known: with pads "
                          "[%lld, %lld], dilation %lld and kernel %lld a window might lie wholly in the padding",
                          what, a, x_name, (long long)pb, (long long)pe, (long long)d, (long long)k);
        }
        bool empty = pb > span || (s->out[a] - 1) * st - pb >= in;
        /* With d <= in, a window starting at -pb' (0 < pb' <= pb <= span)
         * reaches cell ceil(pb'/d)*d - pb' < d <= in: not empty. */
        int64_t n_begin = pb / st + (pb % st != 0);
        if (!empty && d > in && n_begin > (1 << 20))
            return og_err(OG_ERR_UNSUPPORTED, "%s: spatial axis %d: %lld windows start in the padding, too many "
                          "to check for one lying wholly in it", what, a, (long long)n_begin);
        for (int64_t o = 0; !empty && d > in && o < s->out[a] && o < n_begin; o++) {
            int64_t lo, hi;
            valid_range(o * st - pb, d, k, in, &lo, &hi);
            empty = lo >= hi;
        }
        if (empty)
            return og_err(OG_ERR_UNSUPPORTED, "%s: no gradient when a window lies wholly in the padding (spatial "
                          "axis %d: input %lld, kernel %lld, stride %lld, dilation %lld, pads [%lld, %lld]); its "
                          "Indices entry is -1", what, a, (long long)in, (long long)k, (long long)st, (long long)d,
                          (long long)pb, (long long)pe);
    }
    return OG_OK;
}

static og_status reshape_to(og_backward_call *b, const char *x, const char *shape, const char **out)
{
    const char *ins[2] = { x, shape };
    return og_grad_emit(b, "Reshape", 2, ins, 1, out, 0, NULL);
}

/* Backward: dX = dY routed to the arg-max of each window, summed where
 * windows overlap, as in PyTorch (ties go to the first maximum, the one
 * Indices names). Indices hold flat offsets into X, so on flattened
 * tensors dX = ScatterElements(zeros, Indices, dY, reduction "add"),
 * reshaped to X's shape. storage_order 1 indices are column-major; a
 * second MaxPool with storage_order 0 (explicit resolved pads when known)
 * gives the row-major ones. */
static og_status maxpool_backward(og_backward_call *b)
{
    const maxpool_params *p = b->params;
    const og_tinfo *x = &b->in_info[0];
    char what[256];
    snprintf(what, sizeof what, "node '%s' (MaxPool)", b->node->name);
    if (!b->need[0] || !b->dout[0])
        return OG_OK;
    int rank;
    og_spatial sp;
    og_status st = maxpool_geometry(what, p, &x->shape, b->in[0], &rank, &sp);
    if (st || (st = maxpool_grad_windows_ok(what, p, &sp, b->in[0])))
        return st;

    const char *idx;
    if (p->storage_order == 0) {
        if ((st = og_grad_forward_output(b, 1, &idx)))
            return st;
    } else {
        int n = sp.n;
        bool pads_known = true;
        int64_t pads[2 * OG_MAX_RANK];
        for (int a = 0; a < n; a++) {
            pads[a] = sp.pad_begin[a];
            pads[n + a] = sp.pad_end[a];
            pads_known = pads_known && sp.pad_begin[a] >= 0 && sp.pad_end[a] >= 0;
        }
        /* auto_pad sizes ignore ceil_mode; resolved into explicit pads they come out of floor */
        bool notset = strcmp(p->auto_pad, "NOTSET") == 0;
        og_attr at[5] = { og_attr_ints("kernel_shape", n, sp.kernel), og_attr_ints("strides", n, sp.stride),
                          og_attr_ints("dilations", n, sp.dilation),
                          og_attr_int("ceil_mode", notset || !pads_known ? p->ceil_mode : 0),
                          pads_known ? og_attr_ints("pads", 2 * n, pads) : og_attr_string("auto_pad", p->auto_pad) };
        const char *outs[2];
        if ((st = og_grad_emit(b, "MaxPool", 1, &b->in[0], 2, outs, 5, at)))
            return st;
        idx = outs[1];
    }
    const int64_t minus1 = -1;
    const char *flat, *zeros, *shape, *ins[3];
    og_attr at[2] = { og_attr_int("axis", 0), og_attr_string("reduction", "add") };
    if ((st = og_grad_const_ints(b, 1, &minus1, &flat)) || (st = og_grad_zeros_like(b, b->in[0], x, &zeros)) ||
        (st = reshape_to(b, zeros, flat, &ins[0])) || (st = reshape_to(b, idx, flat, &ins[1])) ||
        (st = reshape_to(b, b->dout[0], flat, &ins[2])) ||
        (st = og_grad_emit(b, "ScatterElements", 3, ins, 1, &ins[0], 2, at)) ||
        (st = og_grad_shape_of(b, b->in[0], x, &shape)))
        return st;
    return reshape_to(b, ins[0], shape, &b->din[0]);
}

const og_op og_op_maxpool = {
    .name = "MaxPool",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 2,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1, /* Indices is int64 and carries no gradient */
    .attrs = maxpool_attrs,
    .n_attrs = (int)(sizeof maxpool_attrs / sizeof maxpool_attrs[0]),
    .params_size = sizeof(maxpool_params),
    .infer = maxpool_infer,
    .run = maxpool_run,
    .backward = maxpool_backward,
};
