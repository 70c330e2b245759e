/* SPDX-License-Identifier: MIT */
/* ConvTranspose — N-D transposed convolution ("deconvolution"): the adjoint
 * of Conv with the same strides, dilations, pads and group.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#ConvTranspose
 *
 * Y[n, g*M/group + m, o...] = B[g*M/group + m] + sum over input channels c
 *     of group g, input positions i... and kernel offsets j... with
 *     o = i*stride + j*dilation - pad_begin of
 *     X[n, g*C/group + c, i...] * W[g*C/group + c, m, j...]
 * X is [N, C, D1..Dn], W is [C, M/group, k1..kn] (note: input channels
 * first, unlike Conv), the optional B is [M] and Y is [N, M, O1..On] with
 *     O = stride*(D-1) + output_padding + (k-1)*dilation + 1 - pad_begin - pad_end.
 * output_shape, when given, fixes O and the pads follow from it (pads are
 * then ignored); SAME_UPPER/SAME_LOWER mean O = D*stride. The geometry
 * lives in og_spatial_resolve_transpose (src/spatial.c, there for Conv's
 * backward rule too), which says how derived pads split.
 *
 * Versions 1 and 11 have the same attributes. The spec's text for deriving
 * pads from output_shape swapped between them (version 1 puts the odd cell
 * at the end unless SAME_UPPER, version 11 at the beginning unless
 * SAME_UPPER); we follow auto_pad's own description for SAME_* (odd cell at
 * the end for SAME_UPPER, the beginning for SAME_LOWER) and, for NOTSET,
 * version 1's text and ONNX Runtime: the odd cell at the end (the ONNX
 * reference implementation puts all of it at the end). An output_shape larger than the full result adds
 * zero cells at the end (the official test_convtranspose_output_shape).
 *
 * Kernel: per (batch, group), one GEMM W_g^T * X_g writes a column buffer
 * [M/group * k1*..*kn, D1*..*Dn] into the workspace; col2im then adds each
 * column entry into the output cell it lands on, skipping cells cut away as
 * padding; Y starts as the bias. float32 and float64.
 *
 * Backward (convt_backward): dX is a Conv of dY by W with the same
 * attributes, dW a Conv of dY by X with strides and dilations exchanged,
 * dB a ReduceSum of dY; all standard ops. */
#include <cblas.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "conv_fast.h"

typedef struct convt_params {
    const char *auto_pad;
    og_ints dilations;
    int64_t group;
    og_ints kernel_shape;
    og_ints output_padding;
    og_ints output_shape;
    og_ints pads;
    og_ints strides;
} convt_params;

static const char *const auto_pad_choices[] = { "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", NULL };

static const og_attr_spec convt_attrs[] = {
    { .name = "auto_pad", .type = OG_ATTR_STRING, .offset = offsetof(convt_params, auto_pad),
      .def_s = "NOTSET", .choices = auto_pad_choices },
    { .name = "dilations", .type = OG_ATTR_INTS, .offset = offsetof(convt_params, dilations) },
    { .name = "group", .type = OG_ATTR_INT, .offset = offsetof(convt_params, group), .def_i = 1,
      .has_range = true, .min_i = 1, .max_i = INT64_MAX },
    { .name = "kernel_shape", .type = OG_ATTR_INTS, .offset = offsetof(convt_params, kernel_shape) },
    { .name = "output_padding", .type = OG_ATTR_INTS, .offset = offsetof(convt_params, output_padding) },
    { .name = "output_shape", .type = OG_ATTR_INTS, .offset = offsetof(convt_params, output_shape) },
    { .name = "pads", .type = OG_ATTR_INTS, .offset = offsetof(convt_params, pads) },
    { .name = "strides", .type = OG_ATTR_INTS, .offset = offsetof(convt_params, strides) },
};

/* Everything the kernel needs, derived from shapes and params; infer, run
 * and the backward rule all go through convt_geometry. */
typedef struct convt_geom {
    int rank;                    /* -1: unknown */
    int64_t N, C, M, Cg, Mg;     /* -1: unknown */
    int64_t group;
    og_spatial sp;
    int64_t Kk, rows;            /* prod(kernel), Mg * Kk; -1: unknown */
    int64_t in_plane, out_plane; /* prod(in), prod(out); -1: unknown */
} convt_geom;

static const char *name_of(const char *const *names, int k)
{
    return names && names[k] ? names[k] : "";
}

static og_status convt_geometry(const char *what, const convt_params *p, const og_shape *xs, const og_shape *ws,
                                const og_shape *bs, const char *const *names, convt_geom *g)
{
    og_status st;
    memset(g, 0, sizeof *g);
    if (p->kernel_shape.present && (p->kernel_shape.n < 1 || p->kernel_shape.n > OG_MAX_RANK - 2))
        return og_err(OG_ERR_ATTR, "%s: attribute 'kernel_shape' has %lld values, expected 1..%d", what,
                      (long long)p->kernel_shape.n, OG_MAX_RANK - 2);
    g->N = g->C = g->M = g->Cg = g->Mg = g->Kk = g->rows = g->in_plane = g->out_plane = -1;
    g->rank = xs->rank >= 0 ? xs->rank : ws->rank >= 0 ? ws->rank
            : p->kernel_shape.present ? (int)p->kernel_shape.n + 2 : -1;
    if (xs->rank >= 0 && xs->rank < 3)
        return og_err(OG_ERR_SHAPE, "%s: input X '%s' has rank %d, expected >= 3 ([N, C, D1, ...])", what,
                      name_of(names, 0), xs->rank);
    if (ws->rank >= 0 && ws->rank < 3)
        return og_err(OG_ERR_SHAPE, "%s: input W '%s' has rank %d, expected >= 3 ([C, M/group, k1, ...])",
                      what, name_of(names, 1), ws->rank);
    if (xs->rank >= 0 && ws->rank >= 0 && xs->rank != ws->rank)
        return og_err(OG_ERR_SHAPE, "%s: input W '%s' has rank %d, expected %d (the rank of X '%s')", what,
                      name_of(names, 1), ws->rank, xs->rank, name_of(names, 0));
    if (p->kernel_shape.present) {
        if (g->rank >= 0 && p->kernel_shape.n != g->rank - 2)
            return og_err(OG_ERR_ATTR, "%s: attribute 'kernel_shape' has %lld values, expected %d (one per "
                                       "spatial axis)", what, (long long)p->kernel_shape.n, g->rank - 2);
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
    int64_t wc = -1;
    if (xs->rank >= 0) {
        g->N = xs->dims[0];
        g->C = xs->dims[1];
    }
    if (ws->rank >= 0) {
        wc = ws->dims[0];
        g->Mg = ws->dims[1];
    }
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

    if (g->C >= 0 && wc >= 0 && wc != g->C)
        return og_err(OG_ERR_SHAPE, "%s: W '%s' has %lld input channels (W.shape[0]), expected %lld "
                                    "(the channels of X '%s')", what, name_of(names, 1), (long long)wc,
                      (long long)g->C, name_of(names, 0));
    if (g->C < 0)
        g->C = wc;
    if (g->C >= 0 && g->C % grp != 0)
        return og_err(OG_ERR_SHAPE, "%s: X '%s' has %lld channels, expected a multiple of group = %lld", what,
                      name_of(names, 0), (long long)g->C, (long long)grp);
    if (g->Mg >= 0 && !og_mul_ok(g->Mg, grp, &g->M))
        return og_err(OG_ERR_LIMIT, "%s: output channels W.shape[1] * group = %lld * %lld overflow int64", what,
                      (long long)g->Mg, (long long)grp);
    if (bs && bs->rank == 1 && bs->dims[0] >= 0) {
        if (g->M >= 0 && bs->dims[0] != g->M)
            return og_err(OG_ERR_SHAPE, "%s: B '%s' has shape [%lld], expected [%lld] (W.shape[1] * group)",
                          what, name_of(names, 2), (long long)bs->dims[0], (long long)g->M);
        if (g->M < 0 && bs->dims[0] % grp != 0)
            return og_err(OG_ERR_SHAPE, "%s: B '%s' has shape [%lld], expected a multiple of group = %lld",
                          what, name_of(names, 2), (long long)bs->dims[0], (long long)grp);
        if (g->M < 0) {
            g->M = bs->dims[0];
            g->Mg = g->M / grp;
        }
    }
    if (g->C >= 0)
        g->Cg = g->C / grp;

    if ((st = og_spatial_resolve_transpose(&g->sp, what, n, in, kernel, &p->strides, &p->dilations, &p->pads,
                                           &p->output_padding, &p->output_shape, p->auto_pad)))
        return st;
    if ((st = og_size_product(what, g->sp.kernel, n, 1, &g->Kk)) ||
        (st = og_size_product(what, g->sp.kernel, n, g->Mg, &g->rows)) ||
        (st = og_size_product(what, g->sp.in, n, 1, &g->in_plane)) ||
        (st = og_size_product(what, g->sp.out, n, 1, &g->out_plane)))
        return st;
    return OG_OK;
}

static og_status convt_infer(og_infer_call *c)
{
    const convt_params *p = c->params;
    const og_tinfo *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    char what[256];
    snprintf(what, sizeof what, "node '%s' (ConvTranspose)", c->node->name);
    og_status st;
    og_dtype dt;
    if ((st = og_conv_dtype(what, c, &dt)))
        return st;

    convt_geom g;
    if ((st = convt_geometry(what, p, &x->shape, &w->shape, b ? &b->shape : NULL, c->in_names, &g)))
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
    if (g.rows > INT_MAX || g.in_plane > INT_MAX || g.Cg > INT_MAX)
        return og_err(OG_ERR_LIMIT, "%s: GEMM of [%lld x %lld] by [%lld x %lld] exceeds the BLAS int range", what,
                      (long long)g.rows, (long long)g.Cg, (long long)g.Cg, (long long)g.in_plane);
    int64_t bytes;
    if (!og_mul_ok(g.rows, g.in_plane, &bytes) || !og_mul_ok(bytes, dt == OG_DOUBLE ? 8 : 4, &bytes) ||
        (uint64_t)bytes > SIZE_MAX)
        return og_err(OG_ERR_LIMIT, "%s: column workspace of %lld x %lld elements overflows", what,
                      (long long)g.rows, (long long)g.in_plane);
    c->workspace_bytes = (size_t)bytes;
    return OG_OK;
}

/* Adds the column buffer of `channels` output planes (rows: channel, then
 * kernel offset; columns: input position) into y, each entry onto the
 * output cell i*stride + j*dilation - pad_begin; cells outside the output
 * (cut away as padding) are skipped. */
#define DEFINE_COL2IM(T)                                                                                     \
    static void col2im_##T(const T *col, const og_spatial *s, int64_t channels, int64_t Kk, int64_t in_plane, \
                           int64_t out_plane, T *y)                                                          \
    {                                                                                                        \
        int n = s->n, last = n - 1;                                                                          \
        int64_t in_last = s->in[last], out_last = s->out[last], outer = in_plane / in_last;                  \
        int64_t sl = s->stride[last];                                                                        \
        for (int64_t ch = 0; ch < channels; ch++) {                                                          \
            T *yc = y + ch * out_plane;                                                                      \
            for (int64_t kk = 0; kk < Kk; kk++) {                                                            \
                int64_t kidx[OG_MAX_RANK], i[OG_MAX_RANK] = { 0 }, rest = kk;                                \
                for (int a = last; a >= 0; a--) {                                                            \
                    kidx[a] = rest % s->kernel[a];                                                           \
                    rest /= s->kernel[a];                                                                    \
                }                                                                                            \
                /* Last axis: input j lands on base + j*sl; keep 0 <= it < out_last. */                      \
                int64_t base = kidx[last] * s->dilation[last] - s->pad_begin[last];                          \
                int64_t j0 = base >= 0 ? 0 : (-base + sl - 1) / sl;                                          \
                int64_t j1 = base >= out_last ? 0 : (out_last - 1 - base) / sl + 1;                          \
                if (j1 > in_last)                                                                            \
                    j1 = in_last;                                                                            \
                const T *src = col + (ch * Kk + kk) * in_plane;                                              \
                for (int64_t q = 0; q < outer; q++, src += in_last) {                                        \
                    bool valid = true;                                                                       \
                    int64_t off = 0;                                                                         \
                    for (int a = 0; a < last && valid; a++) {                                                \
                        int64_t pos = i[a] * s->stride[a] + kidx[a] * s->dilation[a] - s->pad_begin[a];      \
                        valid = pos >= 0 && pos < s->out[a];                                                 \
                        off = off * s->out[a] + pos;                                                         \
                    }                                                                                        \
                    if (valid) {                                                                             \
                        T *row = yc + off * out_last;                                                        \
                        for (int64_t j = j0; j < j1; j++)                                                    \
                            row[base + j * sl] += src[j];                                                    \
                    }                                                                                        \
                    for (int a = last - 1; a >= 0 && ++i[a] == s->in[a]; a--)                                \
                        i[a] = 0;                                                                            \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
    }

DEFINE_COL2IM(float)
DEFINE_COL2IM(double)

/* Per (batch, group): Y_g = bias, col = W_g^T X_g, Y_g += col2im(col). W_g
 * is the group's [C/group, M/group * Kk] block of W, X_g its [C/group,
 * in_plane] block of X. */
#define DEFINE_CONVT(T, GEMM)                                                                               \
    static void convt_##T(const convt_geom *g, const T *x, const T *w, const T *b, T *y, T *col)           \
    {                                                                                                       \
        int64_t grp = g->group, Mg = g->Mg, Cg = g->Cg, rows = g->rows, in_plane = g->in_plane,           \
                out_plane = g->out_plane;                                                                   \
        for (int64_t nb = 0; nb < g->N; nb++)                                                               \
            for (int64_t gi = 0; gi < grp; gi++) {                                                          \
                T *yg = y + (nb * g->M + gi * Mg) * out_plane;                                              \
                for (int64_t m = 0; m < Mg; m++)   /* col2im accumulates onto the bias or zero */   \
                    for (int64_t j = 0; j < out_plane; j++)                                                 \
                        yg[m * out_plane + j] = b ? b[gi * Mg + m] : 0;                                     \
                if (rows == 0 || in_plane == 0 || Cg == 0)                                                  \
                    continue;                                                                               \
                GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)in_plane, (int)Cg, 1,        \
                     w + gi * Cg * rows, (int)rows, x + (nb * g->C + gi * Cg) * in_plane, (int)in_plane, 0, \
                     col, (int)in_plane);                                                                   \
                col2im_##T(col, &g->sp, Mg, g->Kk, in_plane, out_plane, yg);                                \
            }                                                                                               \
    }

DEFINE_CONVT(float, cblas_sgemm)
DEFINE_CONVT(double, cblas_dgemm)

static og_status convt_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0], *w = k->in[1], *b = k->n_in > 2 ? k->in[2] : NULL;
    og_tensor *y = k->out[0];
    char what[256];
    snprintf(what, sizeof what, "node '%s' (ConvTranspose)", k->node->name);
    if (!y)
        return OG_OK;
    og_shape xs = { .rank = x->rank }, wsh = { .rank = w->rank }, bs = { .rank = b ? b->rank : 0 };
    memcpy(xs.dims, x->dims, sizeof x->dims);
    memcpy(wsh.dims, w->dims, sizeof w->dims);
    if (b)
        memcpy(bs.dims, b->dims, sizeof b->dims);
    convt_geom g;
    og_status st = convt_geometry(what, k->params, &xs, &wsh, b ? &bs : NULL, NULL, &g);
    if (st)
        return st;
    /* Infer was run on these shapes; re-check what the loops rely on. */
    bool ok = y->dtype == x->dtype && w->dtype == x->dtype && (!b || b->dtype == x->dtype) &&
              (x->dtype == OG_FLOAT || x->dtype == OG_DOUBLE) && y->rank == g.rank && y->dims[0] == g.N && y->dims[1] == g.M &&
              g.rows >= 0 && g.in_plane >= 0 && g.out_plane >= 1;
    for (int i = 0; ok && i < g.rank - 2; i++)
        ok = y->dims[2 + i] == g.sp.out[i] && g.sp.pad_begin[i] >= 0;
    if (!ok)
        return og_err(OG_ERR_INTERNAL, "%s: output or input tensors do not match inferred shapes", what);
    size_t need = (size_t)g.rows * (size_t)g.in_plane * og_dtype_size(x->dtype);
    if (k->workspace_bytes < need)
        return og_err(OG_ERR_INTERNAL, "%s: workspace has %zu bytes, expected >= %zu", what, k->workspace_bytes,
                      need);
    if (x->dtype == OG_FLOAT)
        convt_float(&g, x->data, w->data, b ? b->data : NULL, y->data, k->workspace);
    else
        convt_double(&g, x->data, w->data, b ? b->data : NULL, y->data, k->workspace);
    return OG_OK;
}

/* Backward, in standard ops. Per axis let e = pad_end - out_pad: the cells
 * of Y past stride*(D-1) + effective kernel - pad_begin (output_padding, an
 * output_shape larger than the full result) depend on neither X nor W, so
 * dY' is dY without its last -e cells where e < 0, and elsewhere e is the
 * end padding a Conv over dY needs for its windows to end exactly there.
 *   dX = Conv(dY', W; strides, dilations, group, pads [pad_begin, max(e,0)])
 *        (W [C, M/group, k] is Conv's [out, in/group, k] layout), of X's size;
 *   dW[c, m, j] = sum over n, i of X[n, c, i] dY'[n, m, i*s + j*d - pb]:
 *        a Conv sliding over dY' with X as the kernel, batch and channel
 *        axes swapped so the batch is summed like channels, strides and
 *        dilations exchanged: Conv(dY' as [M/G, G*N, O'], X as [C, N, D];
 *        group G, strides = dilations, dilations = strides, the same pads)
 *        is [M/G, C, k], swapped to [C, M/G, k];
 *   dB = ReduceSum(dY, axes [0, 2, 3, ...]). */
static og_status convt_backward(og_backward_call *b)
{
    const convt_params *p = b->params;
    char what[256];
    snprintf(what, sizeof what, "node '%s' (ConvTranspose)", b->node->name);
    const og_tinfo *x = &b->in_info[0], *w = &b->in_info[1];
    const char *dy = b->dout[0];
    og_status st;
    if (!dy)   /* no gradient reaches Y: every input gradient is zero */
        return OG_OK;
    convt_geom g;
    if ((st = convt_geometry(what, p, &x->shape, &w->shape, NULL, b->in, &g)))
        return st;
    int n = g.rank - 2;
    bool known = g.rank >= 3;
    for (int i = 0; known && i < n; i++)
        known = g.sp.pad_begin[i] >= 0 && g.sp.pad_end[i] >= 0 && g.sp.out_pad[i] >= 0;
    if (!known)
        return og_err(OG_ERR_UNSUPPORTED, "%s: the gradient needs the rank of X '%s' and the pads known (X's "
                      "spatial dims when pads come from output_shape or auto_pad)", what, b->in[0]);

    int64_t pads[2 * OG_MAX_RANK], ends[OG_MAX_RANK], axes[OG_MAX_RANK], zeros[OG_MAX_RANK] = { 0 },
            out_kept[OG_MAX_RANK];
    int n_crop = 0;
    for (int i = 0; i < n; i++) {
        int64_t e = g.sp.pad_end[i] - g.sp.out_pad[i];
        pads[i] = g.sp.pad_begin[i];
        pads[n + i] = e > 0 ? e : 0;
        out_kept[i] = g.sp.out[i] >= 0 ? g.sp.out[i] + (e < 0 ? e : 0) : -1;
        if (e < 0) {
            ends[n_crop] = e;   /* negative: counted from the end */
            axes[n_crop++] = 2 + i;
        }
    }
    const char *dyc = dy;
    if (n_crop > 0) {
        const char *sl[4] = { dy, NULL, NULL, NULL };
        if ((st = og_grad_const_ints(b, n_crop, zeros, &sl[1])) || (st = og_grad_const_ints(b, n_crop, ends, &sl[2])) ||
            (st = og_grad_const_ints(b, n_crop, axes, &sl[3])) || (st = og_grad_emit(b, "Slice", 4, sl, 1, &dyc, 0, NULL)))
            return st;
    }

    if (b->need[0]) {
        og_attr at[4] = { og_attr_ints("strides", n, g.sp.stride), og_attr_ints("dilations", n, g.sp.dilation),
                          og_attr_ints("pads", 2 * n, pads), og_attr_int("group", g.group) };
        const char *ins[2] = { dyc, b->in[1] };
        if ((st = og_grad_emit(b, "Conv", 2, ins, 1, &b->din[0], 4, at)))
            return st;
    }
    if (b->need[1]) {
        bool dims_known = g.group == 1 || (g.Cg >= 0 && g.Mg >= 0);
        for (int i = 0; dims_known && g.group > 1 && i < n; i++)
            dims_known = g.sp.in[i] >= 0 && out_kept[i] >= 0;
        if (!dims_known)
            return og_err(OG_ERR_UNSUPPORTED, "%s: the gradient of W '%s' with group %lld needs the channels and "
                          "spatial dims of X '%s' and W known", what, b->in[1], (long long)g.group, b->in[0]);
        const char *a, *xk, *z;
        og_attr at[4] = { og_attr_ints("strides", n, g.sp.dilation), og_attr_ints("dilations", n, g.sp.stride),
                          og_attr_ints("pads", 2 * n, pads), og_attr_int("group", g.group) };
        if ((st = og_grad_channels_first(b, dyc, n, g.group, g.Mg, out_kept, &a)) ||
            (st = og_grad_swap01(b, b->in[0], g.rank, &xk)) ||
            (st = og_grad_emit(b, "Conv", 2, (const char *const[]){ a, xk }, 1, &z, 4, at)) ||
            (st = og_grad_swap01(b, z, g.rank, &b->din[1])))
            return st;
    }
    if (b->n_in > 2 && b->in[2] && b->need[2] && (st = og_grad_conv_bias(b, dy, g.rank, &b->din[2])))
        return st;
    return OG_OK;
}

/* Plan time: the fast float32 kernels of ops/conv_fast.c for static
 * shapes; anything they do not take keeps convt_run. */
static og_status convt_select(og_select_call *s)
{
    const og_tinfo *x = s->in[0], *w = s->in[1], *b = s->n_in > 2 ? s->in[2] : NULL;
    if (!x || !w || !og_shape_known(&x->shape) || !og_shape_known(&w->shape) || (b && !og_shape_known(&b->shape)))
        return OG_OK;
    convt_geom g;
    if (convt_geometry("ConvTranspose", s->params, &x->shape, &w->shape, b ? &b->shape : NULL, NULL, &g))
        return OG_OK;
    og_cf_geom f;
    if (!og_cf_geom_from(&f, &g.sp, g.N, g.C, g.M, g.group) || f.Mg != g.Mg || f.Cg != g.Cg)
        return OG_OK;
    return og_convt_fast_select(s, &f, b != NULL);
}

/* FLOPs: each input element is multiplied into M/group * prod(k) outputs
 * and added there (W [C, M/group, k...]); one add per output for the bias. */
static og_status convt_cost(og_cost_call *c)
{
    int64_t per = 1;
    for (int d = 1; d < c->in[1]->shape.rank; d++)
        per = og_cost_mul(per, c->in[1]->shape.dims[d]);
    int64_t nx = og_cost_numel(&c->in[0]->shape);
    int64_t ny = c->out[0] ? og_cost_numel(&c->out[0]->shape) : 0;
    c->flops = og_cost_add(og_cost_mul(og_cost_mul(2, nx), per), c->n_in > 2 && c->in[2] ? ny : 0);
    return OG_OK;
}

const og_op og_op_convtranspose = {
    .name = "ConvTranspose",
    .domain = "",
    .since_version = 1,
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .diff_inputs = 0x7,
    .diff_outputs = 0x1,
    .attrs = convt_attrs,
    .n_attrs = (int)(sizeof convt_attrs / sizeof convt_attrs[0]),
    .params_size = sizeof(convt_params),
    .infer = convt_infer,
    .run = convt_run,
    .backward = convt_backward,
    .select = convt_select,
    .cost = convt_cost,
};
