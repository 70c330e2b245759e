/* SPDX-License-Identifier: MIT */
/* Resize and Upsample — interpolation of an N-D tensor to new sizes, axis
 * by axis.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Resize
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Upsample
 *
 * Each axis d maps output index o to an input coordinate x by
 * coordinate_transformation_mode, with scale s (the `scales` value, or
 * out/in when `sizes` is given) and L = s * in (as the ONNX reference
 * computes it, so a non-integral L stays non-integral):
 *   half_pixel          x = (o + 0.5) / s - 0.5
 *   pytorch_half_pixel  the same, but x = -0.5 when L == 1
 *   align_corners       x = o * (in - 1) / (L - 1)   (0 when L == 1)
 *   asymmetric          x = o / s
 *   tf_half_pixel_for_nn x = (o + 0.5) / s
 *   tf_crop_and_resize  x = roi_start*(in-1) + o * (roi_end-roi_start)*(in-1)/(L-1)
 *                       (centre of the roi when L == 1); x outside [0, in-1]
 *                       makes the output element extrapolation_value
 * and then samples:
 *   nearest  one cell, rounded by nearest_mode (round_prefer_floor,
 *            round_prefer_ceil, floor, ceil), clamped to [0, in-1]
 *   linear   cells floor(x), floor(x)+1 with weights 1-r, r (r = x - floor(x)),
 *            clamped to the edge: N-linear over every axis
 *   cubic    cells floor(x)-1 .. floor(x)+2 with Keys' cubic weights of
 *            parameter cubic_coeff_a, clamped to the edge, or with
 *            exclude_outside 1 the outside cells weighted 0 and the rest
 *            renormalised
 * which is the ONNX reference implementation (onnx 1.12) case by case. The
 * output size per axis is floor(in * scale), or `sizes`; exactly one of
 * scales and sizes must be given (non-empty), each of length rank.
 *
 * Versions: Resize-10 (X, scales; mode nearest|linear, asymmetric
 * coordinates, nearest rounds down, as Upsample), Resize-11 (X, roi,
 * scales, optional sizes; every attribute above), Resize-13 (roi and scales
 * optional). Upsample-7 (scales attribute) and Upsample-9 (scales input):
 * Resize-10's rule (mode nearest | linear | bilinear). Types float and
 * double (roi and scales float or double: the spec says float for scales,
 * double is taken too so a model converted to double keeps working); the
 * integer types the spec also lists are refused as a dtype error.
 *
 * Kernel: per axis a table of taps (cells and weights) for every output
 * index in the workspace, then each output element sums its tap products
 * in double (the reference; no fast kernel yet).
 *
 * Backward (w.r.t. X only; roi, scales and sizes carry no gradient): Y is
 * linear in X and separable, Y = A_1 x_1 A_2 ... x_n X with one matrix A_d
 * [out_d, in_d] per axis (a row of zeros where tf_crop_and_resize
 * extrapolates), so dX = dY contracted with each A_d over axis d. Each
 * A_d is a Constant built at gradient-build time, applied by Transpose /
 * Reshape to [rest, out_d], Gemm with A_d, Reshape / Transpose back; axes
 * whose A_d is the identity are skipped. Needs X's shape and the
 * scales/sizes/roi data known when the gradient is built (initializers, or
 * Constant nodes, which finalize folds); else OG_ERR_UNSUPPORTED. This is
 * PyTorch's F.interpolate backward (each dY cell spread to its sources
 * with its interpolation weights; nearest sends it to the one cell). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

typedef struct resize_params {
    const char *coord_mode;
    float cubic_a;
    int64_t exclude_outside;
    float extrapolation_value;
    const char *mode;
    const char *nearest_mode;
    og_floats scales_attr;   /* Upsample-7 */
} resize_params;

static const char *const mode_choices[] = { "nearest", "linear", "cubic", NULL };
static const char *const up_mode_choices[] = { "nearest", "linear", "bilinear", NULL };
static const char *const coord_choices[] = { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                             "tf_half_pixel_for_nn", "tf_crop_and_resize", NULL };
static const char *const nearest_choices[] = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL };

static const og_attr_spec resize_attrs[] = {
    { .name = "coordinate_transformation_mode", .type = OG_ATTR_STRING,
      .offset = offsetof(resize_params, coord_mode), .def_s = "half_pixel", .choices = coord_choices,
      .since_version = 11 },
    { .name = "cubic_coeff_a", .type = OG_ATTR_FLOAT, .offset = offsetof(resize_params, cubic_a), .def_f = -0.75f,
      .since_version = 11 },
    { .name = "exclude_outside", .type = OG_ATTR_INT, .offset = offsetof(resize_params, exclude_outside),
      .def_i = 0, .has_range = true, .min_i = 0, .max_i = 1, .since_version = 11 },
    { .name = "extrapolation_value", .type = OG_ATTR_FLOAT, .offset = offsetof(resize_params, extrapolation_value),
      .def_f = 0.0f, .since_version = 11 },
    { .name = "mode", .type = OG_ATTR_STRING, .offset = offsetof(resize_params, mode), .def_s = "nearest",
      .choices = mode_choices },
    { .name = "nearest_mode", .type = OG_ATTR_STRING, .offset = offsetof(resize_params, nearest_mode),
      .def_s = "round_prefer_floor", .choices = nearest_choices, .since_version = 11 },
};

static const og_attr_spec upsample_attrs[] = {
    { .name = "mode", .type = OG_ATTR_STRING, .offset = offsetof(resize_params, mode), .def_s = "nearest",
      .choices = up_mode_choices },
    { .name = "scales", .type = OG_ATTR_FLOATS, .offset = offsetof(resize_params, scales_attr), .since_version = 7,
      .until_version = 8, .to_input = true },
};

enum { M_NEAREST, M_LINEAR, M_CUBIC };

/* Largest output axis taken: tap tables and sizes stay far from overflow
 * (the tensor itself is bounded by OG_LIMIT_TENSOR_ELEMENTS). */
#define RS_MAX_SIZE ((int64_t)1 << 40)
enum { C_HALF, C_PYTORCH, C_ALIGN, C_ASYM, C_TF_NN, C_CROP };
enum { N_RPF, N_RPC, N_FLOOR, N_CEIL };

static int pick(const char *s, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0)
            return i;
    return 0;
}

/* Everything one node's resize needs, resolved from attributes and the
 * scales/sizes/roi data. */
typedef struct rs_plan {
    int rank, mode, coord, nearest;
    bool exclude;
    double a, extrap;
    int64_t in[OG_MAX_RANK], out[OG_MAX_RANK];
    double scale[OG_MAX_RANK], roi0[OG_MAX_RANK], roi1[OG_MAX_RANK];
} rs_plan;

static bool is_upsample(const og_node *n) { return strcmp(n->op_type, "Upsample") == 0; }

static double tensor_at(const og_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case OG_FLOAT: return ((const float *)t->data)[i];
    case OG_DOUBLE: return ((const double *)t->data)[i];
    case OG_INT64: return (double)((const int64_t *)t->data)[i];
    default: return 0;
    }
}

/* Input slots of roi, scales and sizes at this node's version (-1: none). */
static void slots(const og_node *node, int opset, int *roi, int *scales, int *sizes)
{
    if (is_upsample(node)) {
        *roi = -1, *sizes = -1, *scales = opset >= 9 ? 1 : -1;
    } else if (opset < 11) {
        *roi = -1, *sizes = -1, *scales = 1;
    } else {
        *roi = 1, *scales = 2, *sizes = 3;
    }
}

/* Resolves the plan. xs: X's shape (rank -1 unknown). val[k]/info[k]:
 * input k's data (NULL: not known) and type. *sized is false when the
 * output sizes depend on data not known yet (the plan is then partial:
 * rank only). */
static og_status rs_resolve(const og_node *node, int opset, const resize_params *p, const og_shape *xs, int n_in,
                            const og_tinfo *const *info, const og_tensor *const *val, rs_plan *r, bool *sized)
{
    int s_roi, s_scales, s_sizes;
    slots(node, opset, &s_roi, &s_scales, &s_sizes);
    bool old = is_upsample(node) || opset < 11;
    memset(r, 0, sizeof *r);
    r->rank = xs->rank;
    r->mode = pick(p->mode, old ? up_mode_choices : mode_choices);
    if (old && r->mode == 2)
        r->mode = M_LINEAR;   /* Upsample's "bilinear" */
    if (old && strcmp(p->mode, "cubic") == 0)
        return og_node_err(node, OG_ERR_ATTR, "attribute 'mode' is \"cubic\", which %s-%d does not define; "
                           "expected nearest or linear", node->op_type, opset);
    r->coord = old ? C_ASYM : pick(p->coord_mode, coord_choices);
    r->nearest = old ? N_FLOOR : pick(p->nearest_mode, nearest_choices);
    r->exclude = p->exclude_outside != 0;
    r->a = p->cubic_a;
    r->extrap = p->extrapolation_value;
    *sized = false;

    const og_tinfo *tin[3] = { NULL, NULL, NULL };
    const og_tensor *tv[3] = { NULL, NULL, NULL };
    const char *role[3] = { "roi", "scales", "sizes" };
    int sl[3] = { s_roi, s_scales, s_sizes };
    for (int k = 0; k < 3; k++) {
        if (sl[k] < 0 || sl[k] >= n_in)
            continue;
        tin[k] = info[sl[k]];
        tv[k] = val[sl[k]];
        og_dtype t = tin[k] ? tin[k]->dtype : OG_UNDEFINED;
        og_dtype want = k == 2 ? OG_INT64 : OG_FLOAT;
        /* double scales too: og_gradcheck converts a model's floats to double */
        bool ok = t == OG_UNDEFINED || t == want || (k < 2 && t == OG_DOUBLE);
        if (!ok)
            return og_node_err(node, t == OG_FLOAT16 || t == OG_BFLOAT16 ? OG_ERR_UNSUPPORTED : OG_ERR_SHAPE,
                               "input %s has dtype %s, expected %s", role[k], og_dtype_name(t),
                               k == 2 ? "int64" : "float or double");
        if (tin[k] && tin[k]->shape.rank > 1)
            return og_node_err(node, OG_ERR_SHAPE, "input %s has rank %d, expected 1", role[k], tin[k]->shape.rank);
    }
    if (!old && opset < 13 && (!tin[0] || !tin[1]))
        return og_node_err(node, OG_ERR_INVALID_GRAPH, "Resize-%d needs inputs roi and scales (empty when unused), "
                           "got %s omitted", opset, !tin[0] ? "roi" : "scales");
    if (old && s_scales >= 0 && !tin[1])
        return og_node_err(node, OG_ERR_INVALID_GRAPH, "input scales is required, got it omitted");
    if (is_upsample(node) && s_scales < 0 && !p->scales_attr.present)
        return og_node_err(node, OG_ERR_ATTR, "attribute 'scales' is required by Upsample-%d", opset);
    if (xs->rank < 0)
        return OG_OK;
    int rank = xs->rank;
    if (rank < 1)
        return og_node_err(node, OG_ERR_SHAPE, "input X has rank 0, expected >= 1");

    /* lengths known from types: empty means "not given" */
    int64_t len[3];
    for (int k = 0; k < 3; k++)
        len[k] = tv[k] ? tv[k]->numel : tin[k] && tin[k]->shape.rank == 1 ? tin[k]->shape.dims[0] : tin[k] ? -1 : 0;
    if (p->scales_attr.present)
        len[1] = p->scales_attr.n;
    bool has_scales = len[1] != 0, has_sizes = len[2] != 0;
    if (len[1] > 0 && len[2] > 0)
        return og_node_err(node, OG_ERR_INVALID_ARG, "both scales (%lld values) and sizes (%lld values) are given; "
                           "expected exactly one (the other empty or omitted)", (long long)len[1], (long long)len[2]);
    if (len[1] == 0 && len[2] == 0)
        return og_node_err(node, OG_ERR_INVALID_ARG, "neither scales nor sizes is given; expected exactly one");
    for (int k = 1; k < 3; k++)
        if (len[k] > 0 && len[k] != rank)
            return og_node_err(node, OG_ERR_SHAPE, "input %s has %lld values, expected %d (the rank of X)", role[k],
                               (long long)len[k], rank);
    if (r->coord == C_CROP && len[0] >= 0 && len[0] != 2 * rank)
        return og_node_err(node, OG_ERR_SHAPE, "input roi has %lld values, expected %d (start and end per axis of "
                           "X) with coordinate_transformation_mode tf_crop_and_resize", (long long)len[0], 2 * rank);
    if (len[0] > 0 && len[0] != 2 * rank)
        return og_node_err(node, OG_ERR_SHAPE, "input roi has %lld values, expected 0 or %d (start and end per axis "
                           "of X)", (long long)len[0], 2 * rank);

    for (int d = 0; d < rank; d++) {
        r->in[d] = xs->dims[d];
        r->out[d] = -1;
        r->roi0[d] = 0;
        r->roi1[d] = 1;
    }
    if (r->coord == C_CROP) {
        if (!tv[0])
            return OG_OK;
        for (int d = 0; d < rank; d++) {
            r->roi0[d] = tensor_at(tv[0], d);
            r->roi1[d] = tensor_at(tv[0], rank + d);
        }
    }
    const og_tensor *src = has_scales ? tv[1] : tv[2];
    if (!(has_scales && p->scales_attr.present) && !src)
        return OG_OK;
    for (int d = 0; d < rank; d++) {
        if (has_scales) {
            double s = p->scales_attr.present ? p->scales_attr.v[d] : tensor_at(src, d);
            if (!(s > 0) || !isfinite(s))
                return og_node_err(node, OG_ERR_INVALID_ARG, "scales[%d] is %g, expected > 0", d, s);
            if (old && s < 1 && is_upsample(node))
                return og_node_err(node, OG_ERR_INVALID_ARG, "scales[%d] is %g, expected >= 1 for Upsample", d, s);
            r->scale[d] = s;
            if (r->in[d] >= 0) {
                double o = floor(s * (double)r->in[d]);
                if (o > (double)RS_MAX_SIZE)
                    return og_node_err(node, OG_ERR_LIMIT, "axis %d: output size %g is too large", d, o);
                r->out[d] = (int64_t)o;
            }
        } else {
            int64_t o = (int64_t)tensor_at(src, d);
            if (o < 0)
                return og_node_err(node, OG_ERR_INVALID_ARG, "sizes[%d] is %lld, expected >= 0", d, (long long)o);
            if (o > RS_MAX_SIZE)
                return og_node_err(node, OG_ERR_LIMIT, "sizes[%d] is %lld, more than %lld", d, (long long)o,
                                   (long long)RS_MAX_SIZE);
            r->out[d] = o;
            r->scale[d] = r->in[d] > 0 ? (double)o / (double)r->in[d] : 1.0;
        }
        if (r->in[d] == 0 && r->out[d] > 0)
            return og_node_err(node, OG_ERR_SHAPE, "axis %d of X is empty but the output has %lld cells; expected "
                               "an input cell to interpolate from", d, (long long)r->out[d]);
    }
    (void)has_sizes;
    *sized = true;
    for (int d = 0; d < rank; d++)
        *sized = *sized && r->in[d] >= 0;
    return OG_OK;
}

static og_status resize_infer(og_infer_call *c)
{
    const og_tinfo *x = c->in[0];
    og_dtype t = x->dtype;
    const char *xn = c->in_names[0] ? c->in_names[0] : "";
    if (t == OG_FLOAT16 || t == OG_BFLOAT16)
        return og_node_err(c->node, OG_ERR_UNSUPPORTED, "input X '%s' has dtype %s, which onnxgrad does not "
                           "implement; expected float or double", xn, og_dtype_name(t));
    if (t != OG_UNDEFINED && t != OG_FLOAT && t != OG_DOUBLE)
        return og_node_err(c->node, OG_ERR_SHAPE, "input X '%s' has dtype %s, expected float or double", xn,
                           og_dtype_name(t));
    rs_plan r;
    bool sized;
    og_status st = rs_resolve(c->node, c->opset, c->params, &x->shape, c->n_in, c->in, c->in_value, &r, &sized);
    if (st)
        return st;
    if (c->out[0]) {
        og_tinfo *y = c->out[0];
        y->dtype = t;
        y->shape.rank = x->shape.rank;
        for (int d = 0; d < x->shape.rank; d++)
            y->shape.dims[d] = r.out[d];
    }
    c->workspace_bytes = 0;
    return OG_OK;
}

/* The input coordinate of output index o on axis d; *outside for
 * tf_crop_and_resize outside [0, in-1]. */
static double coord(const rs_plan *r, int d, int64_t o, bool *outside)
{
    double s = r->scale[d], in = (double)r->in[d], L = s * in, x = (double)o;
    *outside = false;
    switch (r->coord) {
    case C_ALIGN: return L == 1 ? 0.0 : x * (in - 1) / (L - 1);
    case C_ASYM: return x / s;
    case C_TF_NN: return (x + 0.5) / s;
    case C_PYTORCH: return L == 1 ? -0.5 : (x + 0.5) / s - 0.5;
    case C_CROP: {
        double a = r->roi0[d], b = r->roi1[d];
        double v = (L == 1 ? (b - a) * (in - 1) / 2 : x * (b - a) * (in - 1) / (L - 1)) + a * (in - 1);
        *outside = !(v >= 0 && v <= in - 1);   /* NaN too: never cast to an index */
        return v;
    }
    default: return (x + 0.5) / s - 0.5;
    }
}

#define RS_MAXTAP 4

/* Taps of output index o on axis d: n cells (clamped) and weights. */
static int taps(const rs_plan *r, int d, int64_t o, int64_t *idx, double *w, bool *outside)
{
    int64_t in = r->in[d];
    double x = coord(r, d, o, outside);
    double f = floor(x), t = x - f;
    int64_t i0 = (int64_t)f;
    int n;
    if (r->mode == M_NEAREST) {
        int64_t i = i0;
        if (t > 0) {
            bool up = r->nearest == N_CEIL || (r->nearest == N_RPF && t > 0.5) || (r->nearest == N_RPC && t >= 0.5);
            i = up ? i0 + 1 : i0;
        }
        idx[0] = i;
        w[0] = 1;
        n = 1;
    } else if (r->mode == M_LINEAR) {
        idx[0] = i0, idx[1] = i0 + 1;
        w[0] = 1 - t, w[1] = t;
        n = 2;
    } else {
        double A = r->a, u = t + 1, v = 1 - t, z = 2 - t;
        w[0] = ((A * u - 5 * A) * u + 8 * A) * u - 4 * A;
        w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
        w[2] = ((A + 2) * v - (A + 3)) * v * v + 1;
        w[3] = ((A * z - 5 * A) * z + 8 * A) * z - 4 * A;
        for (int k = 0; k < 4; k++)
            idx[k] = i0 - 1 + k;
        n = 4;
        if (r->exclude) {
            double sum = 0;
            for (int k = 0; k < 4; k++) {
                if (idx[k] < 0 || idx[k] >= in)
                    w[k] = 0;
                sum += w[k];
            }
            for (int k = 0; k < 4; k++)
                w[k] = sum != 0 ? w[k] / sum : 0;
        }
    }
    for (int k = 0; k < n; k++)
        idx[k] = idx[k] < 0 ? 0 : idx[k] >= in ? in - 1 : idx[k];
    return n;
}

/* Per axis, per output index: taps (RS_MAXTAP slots) and the outside flag,
 * laid out in the workspace. */
typedef struct rs_axis { int n; int64_t idx[RS_MAXTAP]; double w[RS_MAXTAP]; bool outside; } rs_axis;

static size_t rs_workspace(const rs_plan *r)
{
    size_t n = 0;
    for (int d = 0; d < r->rank; d++)
        n += (size_t)r->out[d];
    return n * sizeof(rs_axis);
}

static void rs_tables(const rs_plan *r, rs_axis *tab, rs_axis **ax)
{
    for (int d = 0; d < r->rank; d++) {
        ax[d] = tab;
        for (int64_t o = 0; o < r->out[d]; o++, tab++)
            tab->n = taps(r, d, o, tab->idx, tab->w, &tab->outside);
    }
}

#define DEFINE_RESIZE(T)                                                                                   \
    static void resize_##T(const rs_plan *r, rs_axis *const *ax, const T *x, T *y)                         \
    {                                                                                                      \
        int n = r->rank;                                                                                   \
        int64_t st[OG_MAX_RANK], total = 1, o[OG_MAX_RANK] = { 0 };                                        \
        int64_t s = 1;                                                                                     \
        for (int d = n - 1; d >= 0; d--) {                                                                 \
            st[d] = s;                                                                                     \
            s *= r->in[d];                                                                                 \
            total *= r->out[d];                                                                            \
        }                                                                                                  \
        for (int64_t q = 0; q < total; q++) {                                                              \
            bool out = false;                                                                              \
            const rs_axis *a[OG_MAX_RANK];                                                                 \
            for (int d = 0; d < n; d++) {                                                                  \
                a[d] = &ax[d][o[d]];                                                                       \
                out = out || a[d]->outside;                                                                \
            }                                                                                              \
            double sum = 0;                                                                                \
            if (!out) {                                                                                    \
                int k[OG_MAX_RANK] = { 0 };                                                                \
                for (;;) {                                                                                 \
                    double w = 1;                                                                          \
                    int64_t off = 0;                                                                       \
                    for (int d = 0; d < n; d++) {                                                          \
                        w *= a[d]->w[k[d]];                                                                \
                        off += a[d]->idx[k[d]] * st[d];                                                    \
                    }                                                                                      \
                    if (w != 0)                                                                            \
                        sum += w * (double)x[off];                                                         \
                    int d = n - 1;                                                                         \
                    while (d >= 0 && ++k[d] == a[d]->n) {                                                  \
                        k[d] = 0;                                                                          \
                        d--;                                                                               \
                    }                                                                                      \
                    if (d < 0)                                                                             \
                        break;                                                                             \
                }                                                                                          \
            } else {                                                                                       \
                sum = r->extrap;                                                                           \
            }                                                                                              \
            y[q] = (T)sum;                                                                                 \
            for (int d = n - 1; d >= 0 && ++o[d] == r->out[d]; d--)                                        \
                o[d] = 0;                                                                                  \
        }                                                                                                  \
    }

DEFINE_RESIZE(float)
DEFINE_RESIZE(double)

static og_status resize_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    og_shape xs = { .rank = x->rank };
    memcpy(xs.dims, x->dims, sizeof x->dims);
    og_tinfo info[OG_MAX_IO];
    const og_tinfo *pi[OG_MAX_IO];
    for (int i = 0; i < k->n_in; i++) {
        pi[i] = NULL;
        if (!k->in[i])
            continue;
        info[i].dtype = k->in[i]->dtype;
        info[i].shape.rank = k->in[i]->rank;
        memcpy(info[i].shape.dims, k->in[i]->dims, sizeof k->in[i]->dims);
        pi[i] = &info[i];
    }
    rs_plan r;
    bool sized;
    og_status st = rs_resolve(k->node, k->opset, k->params, &xs, k->n_in, pi, k->in, &r, &sized);
    if (st)
        return st;
    bool ok = sized && y->rank == x->rank && y->dtype == x->dtype;
    for (int d = 0; ok && d < r.rank; d++)
        ok = y->dims[d] == r.out[d];
    if (!ok)
        return og_node_err(k->node, OG_ERR_INTERNAL, "output tensor does not match the inferred shape");
    if (y->numel == 0)
        return OG_OK;
    if (k->workspace_bytes < rs_workspace(&r))
        return og_node_err(k->node, OG_ERR_INTERNAL, "workspace of %zu bytes, expected %zu", k->workspace_bytes,
                           rs_workspace(&r));
    rs_axis *ax[OG_MAX_RANK];
    rs_tables(&r, k->workspace, ax);
    if (x->dtype == OG_FLOAT)
        resize_float(&r, ax, x->data, y->data);
    else
        resize_double(&r, ax, x->data, y->data);
    return OG_OK;
}

/* infer also sizes the workspace when every shape is known */
static og_status resize_infer_ws(og_infer_call *c)
{
    og_status st = resize_infer(c);
    if (st || c->in[0]->shape.rank < 0)
        return st;
    rs_plan r;
    bool sized;
    if ((st = rs_resolve(c->node, c->opset, c->params, &c->in[0]->shape, c->n_in, c->in, c->in_value, &r, &sized)))
        return st;
    if (sized)
        c->workspace_bytes = rs_workspace(&r);
    return OG_OK;
}

/* ---- backward ---------------------------------------------------------- */


static const char *gb_reshape(og_backward_call *b, const char *x, int rank, const int64_t *dims)
{
    const char *out = NULL;
    if (!b->status && x)
        b->status = og_grad_reshape(b, x, rank, dims, &out);
    return b->status ? NULL : out;
}

static const char *gb_transpose(og_backward_call *b, const char *x, int rank, const int64_t *perm)
{
    const char *out = NULL;
    if (!b->status && x)
        b->status = og_grad_transpose(b, x, rank, perm, &out);
    return b->status ? NULL : out;
}

static og_status resize_backward(og_backward_call *b)
{
    if (!b->need[0] || !b->dout[0])
        return OG_OK;
    const og_tinfo *x = &b->in_info[0];
    const og_tinfo *pi[OG_MAX_IO];
    for (int i = 0; i < b->n_in; i++)
        pi[i] = b->in[i] ? &b->in_info[i] : NULL;
    rs_plan r;
    bool sized;
    og_status st = rs_resolve(b->node, b->opset, b->params, &x->shape, b->n_in, pi, b->in_value, &r, &sized);
    if (st)
        return st;
    bool known = sized && og_shape_known(&x->shape);
    if (r.coord == C_CROP)
        known = known && b->in_value[1];
    if (!known)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the shape of X '%s' and the data of "
                           "scales/sizes (and roi) known when it is built", b->in[0]);
    int n = r.rank;
    og_dtype dt = x->dtype;
    int64_t cur[OG_MAX_RANK];   /* dims of the running gradient */
    for (int d = 0; d < n; d++)
        cur[d] = r.out[d];
    const char *g = b->dout[0];
    for (int d = n - 1; d >= 0; d--) {
        int64_t O = r.out[d], I = r.in[d];
        /* A_d [O, I] */
        og_tensor *t = NULL;
        int64_t dims[2] = { O, I };
        if (og_tensor_create(dt, 2, dims, &t) != OG_OK)
            t = NULL;
        bool identity = O == I;
        for (int64_t i = 0; t && i < O * I; i++) {
            if (dt == OG_FLOAT)
                ((float *)t->data)[i] = 0;
            else
                ((double *)t->data)[i] = 0;
        }
        for (int64_t o = 0; t && o < O; o++) {
            int64_t idx[RS_MAXTAP];
            double w[RS_MAXTAP];
            bool outside;
            int nt = taps(&r, d, o, idx, w, &outside);
            for (int k = 0; k < nt; k++) {
                double v = outside ? 0 : w[k];
                if (dt == OG_FLOAT)
                    ((float *)t->data)[o * I + idx[k]] += (float)v;
                else
                    ((double *)t->data)[o * I + idx[k]] += v;
            }
        }
        for (int64_t o = 0; t && identity && o < O; o++)
            for (int64_t i = 0; identity && i < I; i++) {
                double v = dt == OG_FLOAT ? ((float *)t->data)[o * I + i] : ((double *)t->data)[o * I + i];
                identity = v == (o == i ? 1.0 : 0.0);
            }
        if (t && identity) {
            og_tensor_free(t);
            continue;
        }
        const char *A = og_gb_tensor(b, t);
        /* g [P, O, Q] -> [P, Q, O] -> [P*Q, O] @ A -> [P, Q, I] -> [P, I, Q] */
        int64_t P = 1, Q = 1;
        for (int e = 0; e < d; e++)
            P *= cur[e];
        for (int e = d + 1; e < n; e++)
            Q *= cur[e];
        const int64_t perm[3] = { 0, 2, 1 };
        const char *h = g;
        if (Q > 1)
            h = gb_transpose(b, gb_reshape(b, h, 3, (int64_t[]){ P, O, Q }), 3, perm);
        h = gb_reshape(b, h, 2, (int64_t[]){ P * Q, O });
        const char *ins[2] = { h, A };
        h = og_gb(b, "Gemm", 2, ins, 0, NULL);
        if (Q > 1)
            h = gb_transpose(b, gb_reshape(b, h, 3, (int64_t[]){ P, Q, I }), 3, perm);
        cur[d] = I;
        g = gb_reshape(b, h, n, cur);
    }
    if (g == b->dout[0])   /* every axis the identity: dX = dY */
        g = og_gb1(b, "Identity", g);
    b->din[0] = g;
    return og_gb_status(b);
}

const og_op og_op_resize = {
    .name = "Resize",
    .domain = "",
    .since_version = 10,
    .min_inputs = 1,
    .max_inputs = 4,
    .min_outputs = 1,
    .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = resize_attrs,
    .n_attrs = (int)(sizeof resize_attrs / sizeof resize_attrs[0]),
    .params_size = sizeof(resize_params),
    .infer = resize_infer_ws,
    .run = resize_run,
    .backward = resize_backward,
};

const og_op og_op_upsample = {
    .name = "Upsample",
    .domain = "",
    .since_version = 7,
    .min_inputs = 1,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = upsample_attrs,
    .n_attrs = (int)(sizeof upsample_attrs / sizeof upsample_attrs[0]),
    .params_size = sizeof(resize_params),
    .infer = resize_infer_ws,
    .run = resize_run,
    .backward = resize_backward,
};
