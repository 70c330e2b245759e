/* SPDX-License-Identifier: MIT */
/* Conv — N-D convolution (cross-correlation, as in every DL framework).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Conv
 *
 * Y[n, m, o...] = B[m] + sum over c in m's group and kernel offsets j... of
 *                 W[m, c, j...] * X[n, g*C/group + c, o*stride + j*dilation - pad_begin...]
 * X is [N, C, D1..Dn], W is [M, C/group, k1..kn], the optional B is [M] and
 * Y is [N, M, O1..On]; output sizes come from the shared helper in
 * src/spatial.c (auto_pad, pads, strides, dilations). Channels split into
 * `group` independent groups: output channel m sees input channels of group
 * m / (M/group) only; group == C is a depthwise convolution.
 *
 * Kernel: per (batch, group), im2col unrolls the input windows into the
 * workspace as a [C/group * k1*..*kn, O1*..*On] matrix, then one GEMM with
 * the group's [M/group, C/group * k1*..*kn] slice of W writes Y directly.
 * A 1x1 kernel with stride 1 and no pads skips im2col: X already is that
 * matrix. float32 and float64. */
#include <cblas.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "conv_fast.h"

typedef struct conv_params {
    const char *auto_pad;
    og_ints dilations;
    int64_t group;
    og_ints kernel_shape;
    og_ints pads;
    og_ints strides;
} conv_params;

static const char *const auto_pad_choices[] = { "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", NULL };

static const og_attr_spec conv_attrs[] = {
    { .name = "auto_pad", .type = OG_ATTR_STRING, .offset = offsetof(conv_params, auto_pad),
      .def_s = "NOTSET", .choices = auto_pad_choices },
    { .name = "dilations", .type = OG_ATTR_INTS, .offset = offsetof(conv_params, dilations) },
    { .name = "group", .type = OG_ATTR_INT, .offset = offsetof(conv_params, group), .def_i = 1,
      .has_range = true, .min_i = 1, .max_i = INT64_MAX },
    { .name = "kernel_shape", .type = OG_ATTR_INTS, .offset = offsetof(conv_params, kernel_shape) },
    { .name = "pads", .type = OG_ATTR_INTS, .offset = offsetof(conv_params, pads) },
    { .name = "strides", .type = OG_ATTR_INTS, .offset = offsetof(conv_params, strides) },
};

/* Everything the kernel needs, derived from shapes and params; infer and
 * run both go through conv_geometry so they cannot disagree. */
typedef struct conv_geom {
    int rank;                   /* -1: unknown */
    int64_t N, C, M, Cg, Mg;    /* -1: unknown */
    int64_t group;
    og_spatial sp;
    int64_t K, P, in_plane;     /* Cg*prod(kernel), prod(out), prod(in); -1: unknown */
    bool pointwise;             /* 1x1 kernel, stride 1, no pads: no im2col */
} conv_geom;

static const char *name_of(const char *const *names, int k)
{
    return names && names[k] ? names[k] : "";
}

static og_status conv_geometry(const char *what, const conv_params *p, const og_shape *xs, const og_shape *ws,
                               const og_shape *bs, const char *const *names, conv_geom *g)
{
    og_status st;
    memset(g, 0, sizeof *g);
    if (p->kernel_shape.present && (p->kernel_shape.n < 1 || p->kernel_shape.n > OG_MAX_RANK - 2))
        return og_err(OG_ERR_ATTR, "%s: attribute 'kernel_shape' has %lld values, expected 1..%d", what,
                      (long long)p->kernel_shape.n, OG_MAX_RANK - 2);
    g->N = g->C = g->M = g->Cg = g->Mg = g->K = g->P = g->in_plane = -1;
    g->rank = xs->rank >= 0 ? xs->rank : ws->rank >= 0 ? ws->rank
            : p->kernel_shape.present ? (int)p->kernel_shape.n + 2 : -1;
    if (xs->rank >= 0 && xs->rank < 3)
        return og_err(OG_ERR_SHAPE, "%s: input X '%s' has rank %d, expected >= 3 ([N, C, D1, ...])", what,
                      name_of(names, 0), xs->rank);
    if (ws->rank >= 0 && ws->rank < 3)
        return og_err(OG_ERR_SHAPE, "%s: input W '%s' has rank %d, expected >= 3 ([M, C/group, k1, ...])", what,
                      name_of(names, 1), ws->rank);
    if (xs->rank >= 0 && ws->rank >= 0 && xs->rank != ws->rank)
        return og_err(OG_ERR_SHAPE, "%s: input W '%s' has rank %d, expected %d (the rank of X '%s')", what,
                      name_of(names, 1), ws->rank, xs->rank, name_of(names, 0));
    if (p->kernel_shape.present) {
        if (g->rank >= 0 && p->kernel_shape.n != g->rank - 2)
            return og_err(OG_ERR_ATTR, "%s: attribute 'kernel_shape' has %lld values, expected %d (one per spatial axis)",
                          what, (long long)p->kernel_shape.n, g->rank - 2);
        for (int64_t i = 0; i < p->kernel_shape.n; i++)
            if (p->kernel_shape.v[i] <= 0)
                return og_err(OG_ERR_ATTR, "%s: kernel_shape[%lld] is %lld, expected > 0", what, (long long)i,
                              (long long)p->kernel_shape.v[i]);
    }
    if (bs && bs->rank >= 0 && bs->rank != 1)
        return og_err(OG_ERR_SHAPE, "%s: input B '%s' has rank %d, expected 1 ([M])", what, name_of(names, 2),
                      bs->rank);
    if (g->rank < 0)
        return OG_OK;

    int n = g->rank - 2;
    int64_t grp = g->group = p->group;
    if (xs->rank >= 0) {
        g->N = xs->dims[0];
        g->C = xs->dims[1];
    }
    if (ws->rank >= 0) {
        g->M = ws->dims[0];
        g->Cg = ws->dims[1];
    }
    if (g->M < 0 && bs && bs->rank == 1)
        g->M = bs->dims[0];

    int64_t kernel[OG_MAX_RANK], in[OG_MAX_RANK];
    for (int i = 0; i < n; i++) {
        int64_t wk = ws->rank >= 0 ? ws->dims[2 + i] : -1;
        kernel[i] = wk;
        in[i] = xs->rank >= 0 ? xs->dims[2 + i] : -1;
        if (p->kernel_shape.present) {
            if (wk >= 0 && wk != p->kernel_shape.v[i])
                return og_err(OG_ERR_SHAPE, "%s: W '%s' has kernel size %lld on spatial axis %d, expected %lld "
                                            "(attribute kernel_shape)", what, name_of(names, 1), (long long)wk, i,
                              (long long)p->kernel_shape.v[i]);
            kernel[i] = p->kernel_shape.v[i];
        }
    }

    if (g->C >= 0 && g->Cg >= 0) {
        int64_t want;
        if (!og_mul_ok(g->Cg, grp, &want) || want != g->C)
            return og_err(OG_ERR_SHAPE, "%s: X '%s' has %lld channels, expected W.shape[1] * group = %lld * %lld",
                          what, name_of(names, 0), (long long)g->C, (long long)g->Cg, (long long)grp);
    } else if (g->C >= 0 && g->C % grp != 0) {
        return og_err(OG_ERR_SHAPE, "%s: X '%s' has %lld channels, expected a multiple of group = %lld", what,
                      name_of(names, 0), (long long)g->C, (long long)grp);
    }
    if (g->M >= 0 && g->M % grp != 0)
        return og_err(OG_ERR_SHAPE, "%s: W '%s' has %lld output channels, expected a multiple of group = %lld",
                      what, name_of(names, 1), (long long)g->M, (long long)grp);
    if (bs && bs->rank == 1 && bs->dims[0] >= 0 && g->M >= 0 && bs->dims[0] != g->M)
        return og_err(OG_ERR_SHAPE, "%s: B '%s' has shape [%lld], expected [%lld] (W.shape[0])", what,
                      name_of(names, 2), (long long)bs->dims[0], (long long)g->M);
    if (g->M >= 0)
        g->Mg = g->M / grp;
    if (g->Cg < 0 && g->C >= 0)
        g->Cg = g->C / grp;

    if ((st = og_spatial_resolve(&g->sp, what, n, in, kernel, &p->strides, &p->dilations, &p->pads, p->auto_pad,
                                 false)))
        return st;
    if ((st = og_size_product(what, g->sp.kernel, n, g->Cg, &g->K)) ||
        (st = og_size_product(what, g->sp.out, n, 1, &g->P)) ||
        (st = og_size_product(what, g->sp.in, n, 1, &g->in_plane)))
        return st;
    g->pointwise = true;
    for (int i = 0; i < n; i++)
        g->pointwise = g->pointwise && g->sp.kernel[i] == 1 && g->sp.stride[i] == 1 && g->sp.pad_begin[i] == 0 &&
                       g->sp.pad_end[i] == 0;
    return OG_OK;
}

static og_status conv_infer(og_infer_call *c)
{
    const conv_params *p = c->params;
    const og_tinfo *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    char what[256];
    snprintf(what, sizeof what, "node '%s' (Conv)", c->node->name);
    og_status st;
    og_dtype dt;
    if ((st = og_conv_dtype(what, c, &dt)))
        return st;

    conv_geom g;
    if ((st = conv_geometry(what, p, &x->shape, &w->shape, b ? &b->shape : NULL, c->in_names, &g)))
        return st;
    og_tinfo *y = c->out[0];
    if (y) {
        y->dtype = dt;
        y->shape.rank = g.rank;
        if (g.rank >= 0) {
            y->shape.dims[0] = g.N;
            y->shape.dims[1] = g.M;
            for (int i = 0; i < g.rank - 2; i++)
                y->shape.dims[2 + i] = g.sp.out[i];
        }
    }

    c->workspace_bytes = 0;
    if (!og_shape_known(&x->shape) || !og_shape_known(&w->shape) || (b && !og_shape_known(&b->shape)))
        return OG_OK;
    /* BLAS takes int sizes. */
    if (g.Mg > INT_MAX || g.K > INT_MAX || g.P > INT_MAX)
        return og_err(OG_ERR_LIMIT, "%s: GEMM of [%lld x %lld] by [%lld x %lld] exceeds the BLAS int range", what,
                      (long long)g.Mg, (long long)g.K, (long long)g.K, (long long)g.P);
    int64_t bytes = 0;
    if (!g.pointwise && (!og_mul_ok(g.K, g.P, &bytes) || !og_mul_ok(bytes, dt == OG_DOUBLE ? 8 : 4, &bytes) ||
                         (uint64_t)bytes > SIZE_MAX))
        return og_err(OG_ERR_LIMIT, "%s: im2col workspace of %lld x %lld elements overflows", what,
                      (long long)g.K, (long long)g.P);
    c->workspace_bytes = (size_t)bytes;
    return OG_OK;
}

/* Unrolls the windows of `channels` input planes (each in_plane elements)
 * into col, one row per (channel, kernel offset), one column per output
 * position; cells in the padding read as zero. */
#define DEFINE_IM2COL(T)                                                                                   \
    static void im2col_##T(const T *x, const og_spatial *s, int64_t channels, int64_t in_plane, int64_t P, \
                           T *col)                                                                         \
    {                                                                                                      \
        int n = s->n, last = n - 1;                                                                        \
        int64_t kk_count = 1;                                                                              \
        for (int a = 0; a < n; a++)                                                                        \
            kk_count *= s->kernel[a];                                                                      \
        int64_t out_last = s->out[last], in_last = s->in[last], outer = P / out_last;                      \
        for (int64_t ch = 0; ch < channels; ch++) {                                                        \
            const T *xc = x + ch * in_plane;                                                               \
            for (int64_t kk = 0; kk < kk_count; kk++) {                                                    \
                int64_t kidx[OG_MAX_RANK], o[OG_MAX_RANK] = { 0 }, rest = kk;                              \
                for (int a = last; a >= 0; a--) {                                                          \
                    kidx[a] = rest % s->kernel[a];                                                         \
                    rest /= s->kernel[a];                                                                  \
                }                                                                                          \
                int64_t base_last = kidx[last] * s->dilation[last] - s->pad_begin[last];                  \
                T *dst = col + (ch * kk_count + kk) * P;                                                   \
                for (int64_t q = 0; q < outer; q++, dst += out_last) {                                     \
                    bool valid = true;                                                                     \
                    int64_t off = 0;                                                                       \
                    for (int a = 0; a < last && valid; a++) {                                              \
                        int64_t pos = o[a] * s->stride[a] + kidx[a] * s->dilation[a] - s->pad_begin[a];    \
                        valid = pos >= 0 && pos < s->in[a];                                                \
                        off = off * s->in[a] + pos;                                                        \
                    }                                                                                      \
                    if (!valid) {                                                                          \
                        for (int64_t j = 0; j < out_last; j++)                                             \
                            dst[j] = 0;                                                                    \
                    } else {                                                                               \
                        const T *row = xc + off * in_last;                                                 \
                        for (int64_t j = 0; j < out_last; j++) {                                           \
                            int64_t pos = base_last + j * s->stride[last];                                 \
                            dst[j] = pos >= 0 && pos < in_last ? row[pos] : 0;                             \
                        }                                                                                  \
                    }                                                                                      \
                    for (int a = last - 1; a >= 0 && ++o[a] == s->out[a]; a--)                             \
                        o[a] = 0;                                                                          \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    }

DEFINE_IM2COL(float)
DEFINE_IM2COL(double)

/* Y = W * col per (batch, group), bias first so GEMM accumulates onto it. */
#define DEFINE_CONV(T, GEMM)                                                                               \
    static void conv_##T(const conv_geom *g, const T *x, const T *w, const T *b, T *y, T *ws)             \
    {                                                                                                      \
        int64_t grp = g->group, P = g->P, K = g->K, Mg = g->Mg;                                        \
        for (int64_t nb = 0; nb < g->N; nb++)                                                              \
            for (int64_t gi = 0; gi < grp; gi++) {                                                         \
                const T *xg = x + (nb * g->C + gi * g->Cg) * g->in_plane;                                  \
                T *yg = y + (nb * g->M + gi * Mg) * P;                                                     \
                if (b)                                                                                     \
                    for (int64_t m = 0; m < Mg; m++)                                                       \
                        for (int64_t j = 0; j < P; j++)                                                    \
                            yg[m * P + j] = b[gi * Mg + m];                                                \
                if (Mg == 0 || P == 0 || K == 0)                                                           \
                    continue;                                                                              \
                const T *col = xg;                                                                         \
                if (!g->pointwise) {                                                                       \
                    im2col_##T(xg, &g->sp, g->Cg, g->in_plane, P, ws);                                     \
                    col = ws;                                                                              \
                }                                                                                          \
                GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Mg, (int)P, (int)K, 1, w + gi * Mg * K, \
                     (int)K, col, (int)P, b ? 1 : 0, yg, (int)P);                                          \
            }                                                                                              \
    }

DEFINE_CONV(float, cblas_sgemm)
DEFINE_CONV(double, cblas_dgemm)

static og_status conv_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0], *w = k->in[1], *b = k->n_in > 2 ? k->in[2] : NULL;
    og_tensor *y = k->out[0];
    char what[256];
    snprintf(what, sizeof what, "node '%s' (Conv)", k->node->name);
    if (!y)
        return OG_OK;
    og_shape xs = { .rank = x->rank }, wsh = { .rank = w->rank }, bs = { .rank = b ? b->rank : 0 };
    memcpy(xs.dims, x->dims, sizeof x->dims);
    memcpy(wsh.dims, w->dims, sizeof w->dims);
    if (b)
        memcpy(bs.dims, b->dims, sizeof b->dims);
    conv_geom g;
    og_status st = conv_geometry(what, k->params, &xs, &wsh, b ? &bs : NULL, NULL, &g);
    if (st)
        return st;
    /* Infer was run on these shapes; re-check what the loops rely on. */
    bool ok = y->dtype == x->dtype && w->dtype == x->dtype && (!b || b->dtype == x->dtype) &&
              (x->dtype == OG_FLOAT || x->dtype == OG_DOUBLE) && y->rank == g.rank && y->dims[0] == g.N && y->dims[1] == g.M;
    for (int i = 0; ok && i < g.rank - 2; i++)
        ok = y->dims[2 + i] == g.sp.out[i];
    if (!ok)
        return og_err(OG_ERR_INTERNAL, "%s: output or input tensors do not match inferred shapes", what);
    size_t need = g.pointwise ? 0 : (size_t)g.K * (size_t)g.P * og_dtype_size(x->dtype);
    if (k->workspace_bytes < need)
        return og_err(OG_ERR_INTERNAL, "%s: workspace has %zu bytes, expected >= %zu", what, k->workspace_bytes,
                      need);
    if (x->dtype == OG_FLOAT)
        conv_float(&g, x->data, w->data, b ? b->data : NULL, y->data, k->workspace);
    else
        conv_double(&g, x->data, w->data, b ? b->data : NULL, y->data, k->workspace);
    return OG_OK;
}

/* dW[m, c, j] = sum over n, o of dY[n, m, o] X[n, g*Cg + c, o*s + j*d - pb]:
 * a Conv of X (batch and channels swapped, so the batch is summed as
 * channels) with dY as the kernel, strides and dilations exchanged. Groups
 * become the Conv's groups: X [N, G*Cg, D] -> [Cg, G*N, D] by reshape and
 * transpose, dY [N, G*Mg, O] -> [G*Mg, N, O]. Input cells past the last
 * window (r = (D + pb + pe - e) mod s of them) are cut from the end padding;
 * what the padding cannot absorb is cropped from the result. */
static og_status conv_grad_w(og_backward_call *b, const conv_geom *g, const char **out)
{
    int rank = g->rank, n = rank - 2;
    og_status st;
    const char *x = b->in[0], *dyt, *xt, *r;
    int64_t pads[2 * OG_MAX_RANK], crop = 0;
    for (int i = 0; i < n; i++) {
        int64_t eff = (g->sp.kernel[i] - 1) * g->sp.dilation[i] + 1;
        int64_t rem = (g->sp.in[i] + g->sp.pad_begin[i] + g->sp.pad_end[i] - eff) % g->sp.stride[i];
        pads[i] = g->sp.pad_begin[i];
        pads[n + i] = g->sp.pad_end[i] >= rem ? g->sp.pad_end[i] - rem : 0;
        crop = crop || g->sp.pad_end[i] < rem;
    }
    if ((st = og_grad_swap01(b, b->dout[0], rank, &dyt)) ||
        (st = og_grad_channels_first(b, x, n, g->group, g->Cg, g->sp.in, &xt)))
        return st;
    og_attr at[4] = { og_attr_ints("strides", n, g->sp.dilation), og_attr_ints("dilations", n, g->sp.stride),
                      og_attr_ints("pads", 2 * n, pads), og_attr_int("group", g->group) };
    const char *ins[2] = { xt, dyt };
    if ((st = og_grad_emit(b, "Conv", 2, ins, 1, &r, 4, at)) || (st = og_grad_swap01(b, r, rank, &r)))
        return st;
    if (crop) {
        int64_t zeros[OG_MAX_RANK] = { 0 }, axes[OG_MAX_RANK];
        const char *sl[4] = { r, NULL, NULL, NULL };
        for (int i = 0; i < n; i++)
            axes[i] = 2 + i;
        if ((st = og_grad_const_ints(b, n, zeros, &sl[1])) || (st = og_grad_const_ints(b, n, g->sp.kernel, &sl[2])) ||
            (st = og_grad_const_ints(b, n, axes, &sl[3])) || (st = og_grad_emit(b, "Slice", 4, sl, 1, &r, 0, NULL)))
            return st;
    }
    *out = r;
    return OG_OK;
}

/* Backward (the rules of the product brief, in standard ops):
 * dX = ConvTranspose(dY, W) with the forward strides, dilations, group and
 * resolved pads: the full convolution of the 180-degree rotated kernel with
 * the stride-dilated, padded upstream gradient. output_padding gives back
 * the r input cells the last window did not reach, so dX has X's shape.
 * dW: conv_grad_w. dB = dY summed over batch and spatial axes. */
static og_status conv_backward(og_backward_call *b)
{
    const conv_params *p = b->params;
    char what[256];
    snprintf(what, sizeof what, "node '%s' (Conv)", b->node->name);
    const og_tinfo *x = &b->in_info[0], *w = &b->in_info[1];
    og_status st;
    int rank = b->out_info[0].shape.rank;
    /* dB needs nothing but dY's rank */
    if (b->n_in > 2 && b->need[2]) {
        if (rank < 3)
            return og_err(OG_ERR_UNSUPPORTED, "%s: the gradient of B '%s' needs the rank of Y '%s' known", what,
                          b->in[2], b->out[0]);
        if ((st = og_grad_conv_bias(b, b->dout[0], rank, &b->din[2])))
            return st;
    }
    if (!b->need[0] && !b->need[1])
        return OG_OK;
    /* X and W need the geometry: spatial sizes, kernel and resolved pads;
     * the batch (and W's channel dim, unless groups regroup X) may be
     * unknown, as in the gradient of a gradient where dY is a kernel */
    conv_geom g;
    if ((st = conv_geometry(what, p, &x->shape, &w->shape, NULL, b->in, &g)))
        return st;
    bool known = g.rank >= 3 && (g.group == 1 || g.Cg >= 0);
    for (int i = 0; known && i < g.rank - 2; i++)
        known = g.sp.in[i] >= 0 && g.sp.kernel[i] >= 0 && g.sp.pad_begin[i] >= 0 && g.sp.pad_end[i] >= 0;
    if (!known)
        return og_err(OG_ERR_UNSUPPORTED, "%s: the gradient needs the spatial dims of X '%s' and of W '%s' known%s",
                      what, b->in[0], b->in[1], g.group > 1 ? " (and W's channels, with groups)" : "");
    int n = g.rank - 2;
    if (b->need[0]) {
        int64_t pads[2 * OG_MAX_RANK], outpad[OG_MAX_RANK];
        for (int i = 0; i < n; i++) {
            int64_t eff = (g.sp.kernel[i] - 1) * g.sp.dilation[i] + 1;
            pads[i] = g.sp.pad_begin[i];
            pads[n + i] = g.sp.pad_end[i];
            outpad[i] = (g.sp.in[i] + g.sp.pad_begin[i] + g.sp.pad_end[i] - eff) % g.sp.stride[i];
        }
        og_attr at[6] = { og_attr_ints("strides", n, g.sp.stride), og_attr_ints("dilations", n, g.sp.dilation),
                          og_attr_ints("pads", 2 * n, pads), og_attr_int("group", g.group),
                          og_attr_ints("output_padding", n, outpad), og_attr_ints("kernel_shape", n, g.sp.kernel) };
        const char *ins[2] = { b->dout[0], b->in[1] };
        if ((st = og_grad_emit(b, "ConvTranspose", 2, ins, 1, &b->din[0], 6, at)))
            return st;
    }
    if (b->need[1] && (st = conv_grad_w(b, &g, &b->din[1])))
        return st;
    return OG_OK;
}

/* Plan time: the fast float32 kernels of ops/conv_fast.c for static
 * shapes; anything they do not take keeps conv_run. */
static og_status conv_select(og_select_call *s)
{
    const og_tinfo *x = s->in[0], *w = s->in[1], *b = s->n_in > 2 ? s->in[2] : NULL;
    if (!x || !w || !og_shape_known(&x->shape) || !og_shape_known(&w->shape) || (b && !og_shape_known(&b->shape)))
        return OG_OK;
    conv_geom g;
    if (conv_geometry("Conv", s->params, &x->shape, &w->shape, b ? &b->shape : NULL, NULL, &g))
        return OG_OK;   /* infer reported it already; the plain kernel will too */
    og_cf_geom f;
    if (!og_cf_geom_from(&f, &g.sp, g.N, g.C, g.M, g.group))
        return OG_OK;
    return og_conv_fast_select(s, &f, b != NULL);
}

extern const og_op og_op_conv;

bool og_conv_node_geom(const og_node *node, const og_shape *xs, const og_shape *ws, og_cf_geom *out)
{
    if (!node || !node->params || node->op != &og_op_conv || !og_shape_known(xs) || !og_shape_known(ws))
        return false;
    conv_geom g;
    if (conv_geometry("Conv", node->params, xs, ws, NULL, NULL, &g))
        return false;
    return og_cf_geom_from(out, &g.sp, g.N, g.C, g.M, g.group);
}

/* FLOPs: a multiply and an add per output element per weight it sums
 * (W [M, C/group, k...]), and one add per output element for the bias. */
static og_status conv_cost(og_cost_call *c)
{
    int64_t per = 1;
    for (int d = 1; d < c->in[1]->shape.rank; d++)
        per = og_cost_mul(per, c->in[1]->shape.dims[d]);
    int64_t ny = og_cost_numel(&c->out[0]->shape);
    c->flops = og_cost_add(og_cost_mul(og_cost_mul(2, ny), per), c->n_in > 2 && c->in[2] ? ny : 0);
    return OG_OK;
}

const og_op og_op_conv = {
    .name = "Conv",
    .domain = "",
    .since_version = 1,
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .diff_inputs = 0x7,
    .diff_outputs = 0x1,
    .attrs = conv_attrs,
    .n_attrs = (int)(sizeof conv_attrs / sizeof conv_attrs[0]),
    .params_size = sizeof(conv_params),
    .infer = conv_infer,
    .run = conv_run,
    .backward = conv_backward,
    .select = conv_select,
    .cost = conv_cost,
};
