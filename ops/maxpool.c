/* SPDX-License-Identifier: MIT */
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
#include "kernel.h"
#include "pool_fast.h"

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
    *rank = (int)p->kernel_shape.n + 2;
    return og_pool_resolve(sp, what, &p->kernel_shape, xs, x_name, &p->strides, &p->dilations, &p->pads, p->auto_pad,
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

extern const og_op og_op_maxpool;

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

/* ---- plan-time fast paths (kernels in ops/pool_fast.c) ------------------ */

static og_status maxpool_fast_run(const og_kernel_call *k)
{
    const og_pool2d *g = k->state;
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0], *ind = k->n_out > 1 ? k->out[1] : NULL;
    /* the plan fixed these shapes; a mismatch is the engine's bug */
    bool ok = x->dtype == OG_FLOAT && x->rank == 4 && x->dims[0] * x->dims[1] == g->planes && x->dims[2] == g->H &&
              x->dims[3] == g->W;
    const og_tensor *outs[2] = { y, ind };
    for (int o = 0; o < 2 && ok; o++)
        ok = !outs[o] || (outs[o]->rank == 4 && outs[o]->numel == g->planes * g->OH * g->OW &&
                          outs[o]->dims[2] == g->OH && outs[o]->dims[3] == g->OW &&
                          outs[o]->dtype == (o == 0 ? OG_FLOAT : OG_INT64));
    if (!ok)
        return og_err(OG_ERR_INTERNAL, "node '%s' (MaxPool): tensors do not match the planned shapes", k->node->name);
    if (y || ind)
        og_maxpool2d_f32(g, x->data, y ? y->data : NULL, ind ? ind->data : NULL, k->n_threads, k->workspace,
                         k->workspace_stride);
    return OG_OK;
}

/* 2-D float NCHW with static shapes; row-major Indices (storage_order 0,
 * or Indices unwanted). Everything else keeps the reference kernel. */
static og_status maxpool_select(og_select_call *s)
{
    const maxpool_params *p = s->params;
    const og_tinfo *x = s->in[0];
    if (!x || x->dtype != OG_FLOAT || x->shape.rank != 4 || !og_shape_known(&x->shape))
        return OG_OK;
    if (s->n_out > 1 && s->out[1] && p->storage_order != 0)
        return OG_OK;
    char what[256];
    snprintf(what, sizeof what, "node '%s' (MaxPool)", s->node->name);
    int rank;
    og_spatial sp;
    if (maxpool_geometry(what, p, &x->shape, "", &rank, &sp) != OG_OK) {
        og_err_clear();   /* infer reports it; the reference kernel is planned */
        return OG_OK;
    }
    og_pool2d g = { .H = sp.in[0], .W = sp.in[1], .OH = sp.out[0], .OW = sp.out[1], .kh = sp.kernel[0],
                    .kw = sp.kernel[1], .sh = sp.stride[0], .sw = sp.stride[1], .dh = sp.dilation[0],
                    .dw = sp.dilation[1], .ph = sp.pad_begin[0], .pw = sp.pad_begin[1] };
    if (!og_mul_ok(x->shape.dims[0], x->shape.dims[1], &g.planes) || !og_pool2d_init(&g, og_isa_active() == OG_ISA_AVX512))
        return OG_OK;
    og_pool2d *st = og_malloc(sizeof *st);
    if (!st)
        return og_err(OG_ERR_NOMEM, "%s: out of memory planning its kernel", what);
    *st = g;
    s->state = st;
    s->run = maxpool_fast_run;
    s->kernel_name = g.simd ? "maxpool2d_avx512" : "maxpool2d_scalar";
    s->workspace_bytes = og_pool2d_workspace(&g);
    return OG_OK;
}

/* ---- backward pattern: ScatterElements(add) of dY at MaxPool's Indices
 * into zeros, as maxpool_backward emits it:
 *     ConstantOfShape(0) -> Reshape(-1) --------------------\
 *     MaxPool.Indices -> Reshape(-1) -> ScatterElements(axis 0, add) -> ...
 *     dY -> Reshape(-1) ------------------------------------/
 * The kernel gets (flat Indices, flat dY), zero-fills dX itself, and
 * scatters plane by plane. The MaxPool tells the plane split and, for 2-D
 * row-major Indices, the input rows each output row's windows reach (the
 * kernel then works row by row); each index is checked to lie there, or at
 * least in its plane, and the general scatter (the reference's semantics
 * and errors) runs when one does not. */

#define MAXPOOL_BWD_DROP_ZEROS 1

static og_status maxpool_bwd_run(const og_kernel_call *k)
{
    const og_pool_bwd *st = k->state;
    if (k->n_in < 2 || k->n_in > 3)
        return og_err(OG_ERR_INTERNAL, "node '%s' (ScatterElements): kernel got %d inputs", k->node->name, k->n_in);
    /* (indices, updates), or (zeros, indices, updates) with the zeros unread */
    const og_tensor *ind = k->in[k->n_in - 2], *u = k->in[k->n_in - 1];
    og_tensor *dx = k->out[0];
    if (!dx)
        return OG_OK;
    if (ind->dtype != OG_INT64 || u->dtype != OG_FLOAT || dx->dtype != OG_FLOAT || ind->rank != 1 ||
        u->rank != 1 || dx->rank != 1 || ind->numel != u->numel)
        return og_err(OG_ERR_INTERNAL, "node '%s' (ScatterElements): tensors do not match the planned shapes",
                      k->node->name);
    const int64_t *iv = ind->data;
    const float *uv = u->data;
    float *d = dx->data;
    if (ind->numel == st->planes * st->OH * st->OW && dx->numel == st->planes * st->H * st->W &&
        og_maxpool_bwd_f32(st, iv, uv, d, k->n_threads, k->workspace, k->workspace_stride))
        return OG_OK;
    int64_t n = dx->numel;
    memset(d, 0, (size_t)n * sizeof(float));
    for (int64_t q = 0; q < ind->numel; q++) {
        int64_t v = iv[q];
        if (v < -n || v >= n)
            return og_err(OG_ERR_INVALID_ARG, "node '%s' (ScatterElements): indices[%lld] is %lld, out of range for "
                          "axis 0 of size %lld: expected a value in [%lld, %lld]", k->node->name, (long long)q,
                          (long long)v, (long long)n, (long long)-n, (long long)(n - 1));
        d[v < 0 ? v + n : v] += uv[q];
    }
    return OG_OK;
}

static const og_ir_attr *node_attr(const og_node *n, const char *name)
{
    for (int a = 0; a < n->n_attrs; a++)
        if (strcmp(n->attrs[a].name, name) == 0)
            return &n->attrs[a];
    return NULL;
}

/* Value v is float +0 everywhere: a ConstantOfShape of +0 (its default),
 * seen through Reshapes. */
static bool is_float_zeros(const og_graph *g, int v)
{
    const og_node *n = og_value_producer(g, v);
    while (n && strcmp(n->op_type, "Reshape") == 0 && n->n_inputs >= 1)
        n = og_value_producer(g, n->inputs[0]);
    if (!n || strcmp(n->op_type, "ConstantOfShape") != 0 || n->domain[0])
        return false;
    const og_ir_attr *a = node_attr(n, "value");
    if (!a)
        return true;
    const og_tensor *t = a->type == OG_ATTR_TENSOR ? a->t : NULL;
    if (!t || t->dtype != OG_FLOAT || t->numel != 1)
        return false;
    uint32_t bits;
    memcpy(&bits, t->data, sizeof bits);
    return bits == 0;
}

/* Product of dims [from, rank) of a value with a known shape; -1 if not. */
static int64_t dims_product(const og_value *v, int from)
{
    if (v->rank < 0)
        return -1;
    const int64_t *d = og_value_dims(v);
    int64_t r = 1;
    for (int a = from; a < v->rank; a++)
        if (d[a] < 0 || !og_mul_ok(r, d[a], &r))
            return -1;
    return r;
}

static og_status maxpool_bwd_select(og_select_call *s)
{
    const og_graph *g = s->g;
    const og_node *n = s->node;
    if (n->domain[0] || n->n_inputs != 3 || s->n_out < 1 || !s->out[0])
        return OG_OK;
    const og_ir_attr *ax = node_attr(n, "axis"), *red = node_attr(n, "reduction");
    if ((ax && (ax->type != OG_ATTR_INT || (ax->i != 0 && ax->i != -1))) ||
        !red || red->type != OG_ATTR_STRING || strcmp(red->s, "add") != 0)
        return OG_OK;
    const og_tinfo *d = s->in[0], *ii = s->in[1], *u = s->in[2];
    if (!d || !ii || !u || d->dtype != OG_FLOAT || ii->dtype != OG_INT64 || u->dtype != OG_FLOAT ||
        d->shape.rank != 1 || ii->shape.rank != 1 || u->shape.rank != 1 || d->shape.dims[0] < 0 ||
        ii->shape.dims[0] < 0 || u->shape.dims[0] != ii->shape.dims[0])
        return OG_OK;
    if (!is_float_zeros(g, n->inputs[0]))
        return OG_OK;
    const og_node *r = og_value_producer(g, n->inputs[1]);
    if (!r || strcmp(r->op_type, "Reshape") != 0 || r->n_inputs < 1)
        return OG_OK;
    int iv = r->inputs[0];
    const og_node *mp = og_value_producer(g, iv);
    if (!mp || strcmp(mp->op_type, "MaxPool") != 0 || mp->n_outputs < 2 || mp->outputs[1] != iv || mp->inputs[0] < 0)
        return OG_OK;
    const og_value *xv = &g->values[mp->inputs[0]], *indv = &g->values[iv];
    if (xv->rank < 3 || indv->rank != xv->rank)
        return OG_OK;
    int64_t total_x = dims_product(xv, 0), total_i = dims_product(indv, 0);
    int64_t in_plane = dims_product(xv, 2), out_plane = dims_product(indv, 2);
    if (total_x < 0 || in_plane <= 0 || out_plane < 0 || total_x != d->shape.dims[0] ||
        total_i != ii->shape.dims[0])
        return OG_OK;
    /* one band per plane unless the pool's rows are known (2-D, row-major
     * Indices): then each output row's indices are bound to its rows */
    bool simd = og_isa_active() == OG_ISA_AVX512;
    og_pool_bwd st = { total_x / in_plane, 1, in_plane, 1, out_plane, 1, 0, 1, 1, simd, -1 };
    if (st.planes * out_plane != total_i)
        return OG_OK;
    const maxpool_params *mpp = mp->params;
    og_spatial sp;
    og_shape xs = { .rank = xv->rank };
    if (xv->rank == 4 && mp->op == &og_op_maxpool && mpp && mpp->storage_order == 0) {
        memcpy(xs.dims, og_value_dims(xv), sizeof(int64_t) * 4);
        if (maxpool_geometry("", mpp, &xs, "", &(int){ 0 }, &sp) == OG_OK && sp.out[0] * sp.out[1] == out_plane &&
            sp.in[0] * sp.in[1] == in_plane && sp.pad_begin[0] >= 0) {
            og_pool_bwd rows = { st.planes, sp.in[0], sp.in[1], sp.out[0], sp.out[1], sp.stride[0], sp.pad_begin[0],
                                 sp.kernel[0], sp.dilation[0], simd, -1 };
            if (og_pool_bwd_init(&rows))
                st = rows;
        } else {
            og_err_clear();
        }
    }
    if (!og_pool_bwd_init(&st))
        return OG_OK;
    og_pool_bwd *ps = og_malloc(sizeof *ps);
    if (!ps)
        return og_err(OG_ERR_NOMEM, "node '%s' (ScatterElements): out of memory planning its kernel", n->name);
    *ps = st;
    s->state = ps;
    s->run = maxpool_bwd_run;
    s->kernel_name = "maxpool_backward_planes";
    s->workspace_bytes = og_maxpool_bwd_workspace(&st);
    /* The zeros are dropped (their fill is most of a naive run's cost);
     * MAXPOOL_BWD_DROP_ZEROS 0 keeps them as an unread input, for an
     * executor that re-infers the node from its original inputs. */
    int k = 0;
    if (!MAXPOOL_BWD_DROP_ZEROS)
        s->new_inputs[k++] = n->inputs[0];
    s->new_inputs[k++] = n->inputs[1];
    s->new_inputs[k++] = n->inputs[2];
    s->new_n_in = k;
    return OG_OK;
}

const og_pattern og_pattern_maxpool_backward = {
    .root_op = "ScatterElements",
    .name = "maxpool_backward",
    .select = maxpool_bwd_select,
};

/* FLOPs: one comparison per output element per window element. */
static og_status maxpool_cost(og_cost_call *c)
{
    const maxpool_params *p = c->params;
    int64_t f = c->out[0] ? og_cost_numel(&c->out[0]->shape) : 0;
    for (int64_t d = 0; d < p->kernel_shape.n; d++)
        f = og_cost_mul(f, p->kernel_shape.v[d]);
    c->flops = f;
    return OG_OK;
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
    .select = maxpool_select,
    .cost = maxpool_cost,
};
