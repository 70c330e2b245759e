/* SPDX-License-Identifier: MIT */
/* AveragePool — the mean of each window of every channel plane.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#AveragePool
 *
 * X is [N, C, D1..Dn] (n = 1, 2, 3, ... spatial axes), Y is [N, C, O1..On]
 * with sizes from the geometry MaxPool and Conv share (og_spatial_resolve,
 * src/spatial.c): kernel_shape, strides, pads, auto_pad (NOTSET,
 * SAME_UPPER, SAME_LOWER, VALID) and ceil_mode. Dilations arrived in
 * AveragePool-19, outside the opsets 1..17 onnxgrad reads, so the attribute
 * is refused like any unknown one.
 *
 * Divisor of a window: with count_include_pad 0 (the default) the number of
 * real input cells it covers; with 1 the cells it covers inside the padded
 * input [-pad_begin, D + pad_end) — a ceil_mode window running past the end
 * padding counts only up to there, as in PyTorch's avg_pool. A window lying
 * wholly in the padding with count_include_pad 0 (pads >= kernel) has
 * divisor 0 and yields 0 (PyTorch refuses such pads). Sums run in the
 * dtype, window cells in row-major order, then one division.
 *
 * Versions: 1, 7 (count_include_pad), 10 (ceil_mode), 11 (same attributes).
 * Types float and double.
 *
 * Backward: AveragePool is linear, dX = ConvTranspose(dY * R, W = ones[C, 1,
 * k...], group = C) with the forward's strides and begin pads, end pads and
 * output_padding chosen so dX has X's shape; R is 1/divisor, a rank-0
 * constant when every window has the same divisor, else a [1, 1, O...]
 * Constant computed at gradient-build time (needs X's channels and spatial
 * sizes known; the batch may be unknown). This
 * is PyTorch's avg_pool backward (each dY cell spread evenly over its
 * window's counted cells; padding cells drop out).
 *
 * The fast float32 kernel (2-D, static shapes) sums the same cells in the
 * same order as the reference, vectorised along output columns, one task
 * per channel plane: the reference's bits at any thread count. The
 * gradient's ConvTranspose with its ones weight runs as a box sum
 * (pattern avgpool_backward, below). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"

typedef struct avgpool_params {
    const char *auto_pad;
    int64_t ceil_mode;
    int64_t count_include_pad;
    og_ints kernel_shape;
    og_ints pads;
    og_ints strides;
} avgpool_params;

static const char *const auto_pad_choices[] = { "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", NULL };

static const og_attr_spec avgpool_attrs[] = {
    { .name = "auto_pad", .type = OG_ATTR_STRING, .offset = offsetof(avgpool_params, auto_pad),
      .def_s = "NOTSET", .choices = auto_pad_choices },
    { .name = "ceil_mode", .type = OG_ATTR_INT, .offset = offsetof(avgpool_params, ceil_mode), .def_i = 0,
      .has_range = true, .min_i = 0, .max_i = 1, .since_version = 10 },
    { .name = "count_include_pad", .type = OG_ATTR_INT, .offset = offsetof(avgpool_params, count_include_pad),
      .def_i = 0, .has_range = true, .min_i = 0, .max_i = 1, .since_version = 7 },
    { .name = "kernel_shape", .type = OG_ATTR_INTS, .offset = offsetof(avgpool_params, kernel_shape),
      .required = true },
    { .name = "pads", .type = OG_ATTR_INTS, .offset = offsetof(avgpool_params, pads) },
    { .name = "strides", .type = OG_ATTR_INTS, .offset = offsetof(avgpool_params, strides) },
};

/* Geometry from X's shape (rank -1: unknown); infer, run, select and
 * backward share it. */
static og_status avgpool_geometry(const og_node *node, const avgpool_params *p, const og_shape *xs,
                                  const char *x_name, og_spatial *sp)
{
    char what[256];
    snprintf(what, sizeof what, "node '%s' (AveragePool)", node->name);
    return og_pool_resolve(sp, what, &p->kernel_shape, xs, x_name, &p->strides, NULL, &p->pads, p->auto_pad,
                           p->ceil_mode != 0);
}

static og_status avgpool_infer(og_infer_call *c)
{
    const og_tinfo *x = c->in[0];
    const char *xn = c->in_names[0] ? c->in_names[0] : "";
    og_dtype t = x->dtype;
    if (t == OG_FLOAT16 || t == OG_BFLOAT16)
        return og_node_err(c->node, OG_ERR_UNSUPPORTED, "input X '%s' has dtype %s, which onnxgrad does not "
                           "implement; expected float or double", xn, og_dtype_name(t));
    if (t != OG_UNDEFINED && t != OG_FLOAT && t != OG_DOUBLE)
        return og_node_err(c->node, OG_ERR_SHAPE, "input X '%s' has dtype %s, expected float or double", xn,
                           og_dtype_name(t));
    og_spatial sp;
    og_status st = avgpool_geometry(c->node, c->params, &x->shape, xn, &sp);
    if (st)
        return st;
    if (c->out[0]) {
        og_tinfo *y = c->out[0];
        y->dtype = t;
        y->shape.rank = sp.n + 2;
        y->shape.dims[0] = x->shape.rank >= 0 ? x->shape.dims[0] : -1;
        y->shape.dims[1] = x->shape.rank >= 0 ? x->shape.dims[1] : -1;
        for (int i = 0; i < sp.n; i++)
            y->shape.dims[2 + i] = sp.out[i];
    }
    c->workspace_bytes = 0;
    return OG_OK;
}

/* Per axis and output index: the real cells [lo, hi) of the window (as
 * input positions) and the cells the divisor counts. */
typedef struct avg_axis { int64_t lo, hi, cnt; } avg_axis;

static void axis_window(const og_spatial *s, int a, int64_t o, bool include_pad, avg_axis *w)
{
    int64_t start = o * s->stride[a] - s->pad_begin[a], end = start + s->kernel[a];
    w->lo = start < 0 ? 0 : start;
    w->hi = end > s->in[a] ? s->in[a] : end;
    if (w->hi < w->lo)
        w->hi = w->lo;
    if (include_pad) {
        int64_t lim = s->in[a] + s->pad_end[a];
        w->cnt = (end < lim ? end : lim) - start;
    } else {
        w->cnt = w->hi - w->lo;
    }
}

/* The window's divisor at flat output position q (row-major over O...). */
static double divisor_at(const og_spatial *s, bool include_pad, int64_t q)
{
    double d = 1;
    for (int a = s->n - 1; a >= 0; a--) {
        avg_axis w;
        axis_window(s, a, q % s->out[a], include_pad, &w);
        q /= s->out[a];
        d *= (double)w.cnt;
    }
    return d;
}

#define DEFINE_AVGPOOL(T)                                                                                  \
    static void avgpool_##T(const og_spatial *s, bool include_pad, int64_t planes, const T *x, T *y)       \
    {                                                                                                      \
        int n = s->n;                                                                                      \
        int64_t in_plane = 1, out_plane = 1, rm[OG_MAX_RANK];                                              \
        for (int a = n - 1; a >= 0; a--) {                                                                 \
            rm[a] = in_plane;                                                                              \
            in_plane *= s->in[a];                                                                          \
            out_plane *= s->out[a];                                                                        \
        }                                                                                                  \
        for (int64_t pl = 0; pl < planes; pl++) {                                                          \
            const T *xp = x + pl * in_plane;                                                               \
            int64_t o[OG_MAX_RANK] = { 0 };                                                                \
            for (int64_t q = 0; q < out_plane; q++) {                                                      \
                avg_axis w[OG_MAX_RANK];                                                                   \
                int64_t j[OG_MAX_RANK];                                                                    \
                double div = 1; /* a product of counts: huge pads cannot overflow it */                    \
                bool empty = false;                                                                        \
                for (int a = 0; a < n; a++) {                                                              \
                    axis_window(s, a, o[a], include_pad, &w[a]);                                           \
                    div *= (double)w[a].cnt;                                                               \
                    empty = empty || w[a].lo >= w[a].hi;                                                   \
                    j[a] = w[a].lo;                                                                        \
                }                                                                                          \
                T sum = 0;                                                                                 \
                while (!empty) {                                                                           \
                    int64_t off = 0;                                                                       \
                    for (int a = 0; a < n; a++)                                                            \
                        off += j[a] * rm[a];                                                               \
                    sum += xp[off];                                                                        \
                    int a = n - 1;                                                                         \
                    while (a >= 0 && ++j[a] == w[a].hi) {                                                  \
                        j[a] = w[a].lo;                                                                    \
                        a--;                                                                               \
                    }                                                                                      \
                    if (a < 0)                                                                             \
                        break;                                                                             \
                }                                                                                          \
                y[pl * out_plane + q] = div > 0 ? sum / (T)div : (T)0;                                     \
                for (int a = n - 1; a >= 0 && ++o[a] == s->out[a]; a--)                                    \
                    o[a] = 0;                                                                              \
            }                                                                                              \
        }                                                                                                  \
    }

DEFINE_AVGPOOL(float)
DEFINE_AVGPOOL(double)

static og_status avgpool_run(const og_kernel_call *k)
{
    const avgpool_params *p = k->params;
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    og_shape xs = { .rank = x->rank };
    memcpy(xs.dims, x->dims, sizeof x->dims);
    og_spatial sp;
    og_status st = avgpool_geometry(k->node, p, &xs, "", &sp);
    if (st)
        return st;
    bool ok = y->rank == sp.n + 2 && y->dtype == x->dtype && y->dims[0] == x->dims[0] && y->dims[1] == x->dims[1];
    for (int i = 0; ok && i < sp.n; i++)
        ok = y->dims[2 + i] == sp.out[i];
    if (!ok)
        return og_node_err(k->node, OG_ERR_INTERNAL, "output tensor does not match the inferred shape");
    if (y->numel == 0)
        return OG_OK;
    int64_t planes = x->dims[0] * x->dims[1];
    bool inc = p->count_include_pad != 0;
    if (x->dtype == OG_FLOAT)
        avgpool_float(&sp, inc, planes, x->data, y->data);
    else if (x->dtype == OG_DOUBLE)
        avgpool_double(&sp, inc, planes, x->data, y->data);
    else
        return og_node_err(k->node, OG_ERR_INTERNAL, "dtype %s reached the kernel", og_dtype_name(x->dtype));
    return OG_OK;
}

/* ---- fast float32 2-D kernel --------------------------------------------- */

typedef struct avg2d {
    int64_t planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw;
    bool include_pad;
    og_spatial sp;
    /* planned tables (in the same allocation): per output row its window,
     * per output column its count, per kernel column j the output columns
     * [col[2j], col[2j+1]) whose tap j is a real cell */
    avg_axis *rows;
    int64_t *wcnt, *col;
} avg2d;

typedef struct avg2d_job {
    const avg2d *g;
    const float *x;
    float *y;
    char *ws;
    size_t stride;
} avg2d_job;

/* One plane: per output row, acc[ow] += each window cell in row-major
 * order (rows i, then columns j), the order the reference sums in; the
 * loop over ow for fixed (i, j) is what vectorises. */
static void avg2d_task(void *arg, int64_t pl, int worker)
{
    const avg2d_job *jb = arg;
    const avg2d *g = jb->g;
    float *acc = (float *)(jb->ws + (size_t)worker * jb->stride);
    const float *xp = jb->x + pl * g->H * g->W;
    float *yp = jb->y + pl * g->OH * g->OW;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const avg_axis *wh = &g->rows[oh];
        for (int64_t ow = 0; ow < g->OW; ow++)
            acc[ow] = 0.0f;
        for (int64_t i = wh->lo; i < wh->hi; i++) {
            const float *xr = xp + i * g->W;
            for (int64_t j = 0; j < g->kw; j++) {
                int64_t a = g->col[2 * j], b = g->col[2 * j + 1];
                const float *src = xr + j - g->pw;
                if (g->sw == 1) {
                    for (int64_t ow = a; ow < b; ow++)
                        acc[ow] += src[ow];
                } else {
                    for (int64_t ow = a; ow < b; ow++)
                        acc[ow] += src[ow * g->sw];
                }
            }
        }
        float *yr = yp + oh * g->OW;
        for (int64_t ow = 0; ow < g->OW; ow++) {
            double div = (double)wh->cnt * (double)g->wcnt[ow];   /* as the reference computes it */
            yr[ow] = div > 0 ? acc[ow] / (float)div : 0.0f;
        }
    }
}

static og_status avgpool_fast_run(const og_kernel_call *k)
{
    const avg2d *g = k->state;
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    bool ok = x->dtype == OG_FLOAT && x->rank == 4 && x->dims[0] * x->dims[1] == g->planes && x->dims[2] == g->H &&
              x->dims[3] == g->W && y->rank == 4 && y->dims[2] == g->OH && y->dims[3] == g->OW &&
              y->numel == g->planes * g->OH * g->OW;
    if (!ok)
        return og_node_err(k->node, OG_ERR_INTERNAL, "tensors do not match the planned shapes");
    avg2d_job jb = { g, x->data, y->data, k->workspace, k->workspace_stride };
    og_parallel_for(k->n_threads, g->planes, avg2d_task, &jb);
    return OG_OK;
}

static og_status avgpool_select(og_select_call *s)
{
    const avgpool_params *p = s->params;
    const og_tinfo *x = s->in[0];
    if (!x || x->dtype != OG_FLOAT || x->shape.rank != 4 || !og_shape_known(&x->shape))
        return OG_OK;
    og_spatial sp;
    if (avgpool_geometry(s->node, p, &x->shape, "", &sp) != OG_OK) {
        og_err_clear();   /* infer reports it; the reference kernel is planned */
        return OG_OK;
    }
    avg2d g = { .H = sp.in[0], .W = sp.in[1], .OH = sp.out[0], .OW = sp.out[1], .kh = sp.kernel[0],
                .kw = sp.kernel[1], .sh = sp.stride[0], .sw = sp.stride[1], .ph = sp.pad_begin[0],
                .pw = sp.pad_begin[1], .include_pad = p->count_include_pad != 0, .sp = sp };
    if (!og_mul_ok(x->shape.dims[0], x->shape.dims[1], &g.planes) || g.planes == 0 || g.OW <= 0 || g.OH <= 0 ||
        g.OW > (1 << 24) || g.OH > (1 << 24) || g.kw > (1 << 20))
        return OG_OK;
    size_t head = (sizeof g + 15) / 16 * 16;
    avg2d *st = og_malloc(head + (size_t)g.OH * sizeof(avg_axis) + (size_t)(g.OW + 2 * g.kw) * sizeof(int64_t));
    if (!st)
        return og_node_err(s->node, OG_ERR_NOMEM, "out of memory planning its kernel");
    *st = g;
    st->rows = (avg_axis *)((char *)st + head);
    st->wcnt = (int64_t *)(st->rows + g.OH);
    st->col = st->wcnt + g.OW;
    for (int64_t oh = 0; oh < g.OH; oh++)
        axis_window(&sp, 0, oh, g.include_pad, &st->rows[oh]);
    for (int64_t ow = 0; ow < g.OW; ow++) {
        avg_axis ww;
        axis_window(&sp, 1, ow, g.include_pad, &ww);
        st->wcnt[ow] = ww.cnt;
    }
    for (int64_t j = 0; j < g.kw; j++) {
        /* columns ow with 0 <= ow*sw + j - pw < W */
        int64_t c0 = g.pw - j, a = c0 <= 0 ? 0 : (c0 + g.sw - 1) / g.sw;
        int64_t c1 = g.W + g.pw - j, b = c1 <= 0 ? 0 : (c1 + g.sw - 1) / g.sw;
        b = b > g.OW ? g.OW : b;
        st->col[2 * j] = a < b ? a : b;
        st->col[2 * j + 1] = b;
    }
    s->state = st;
    s->run = avgpool_fast_run;
    s->kernel_name = "avgpool2d_rows";
    s->workspace_bytes = ((size_t)g.OW * sizeof(float) + 63) / 64 * 64;
    return OG_OK;
}

/* ---- backward -------------------------------------------------------------- */


static og_tensor *new_tensor(og_dtype dt, int rank, const int64_t *dims)
{
    og_tensor *t;
    return og_tensor_create(dt, rank, dims, &t) == OG_OK ? t : NULL;
}

static og_status avgpool_backward(og_backward_call *b)
{
    const avgpool_params *p = b->params;
    const og_tinfo *x = &b->in_info[0];
    if (!b->need[0] || !b->dout[0])
        return OG_OK;
    og_spatial sp;
    og_status st = avgpool_geometry(b->node, p, &x->shape, b->in[0], &sp);
    if (st)
        return st;
    int n = sp.n;
    int64_t C = x->shape.rank >= 0 ? x->shape.dims[1] : -1;
    bool known = C > 0;
    for (int a = 0; a < n; a++)
        known = known && sp.in[a] > 0 && sp.out[a] > 0 && sp.pad_begin[a] >= 0;
    if (!known)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the channel count and spatial sizes of "
                           "X '%s' known (its ConvTranspose weight and per-window divisors are built from them)",
                           b->in[0]);
    og_dtype dt = x->dtype;
    bool inc = p->count_include_pad != 0;

    /* R = 1/divisor: a scalar when uniform, else [1, 1, O...]. */
    int64_t out_plane = 1;
    double first = divisor_at(&sp, inc, 0);
    bool uniform = true;
    for (int a = 0; a < n; a++)
        out_plane *= sp.out[a];
    for (int64_t q = 1; uniform && q < out_plane; q++)
        uniform = divisor_at(&sp, inc, q) == first;
    const char *r;
    if (uniform) {
        r = og_gb_scalar(b, dt, first > 0 ? 1.0 / first : 0.0);
    } else {
        int64_t dims[OG_MAX_RANK] = { 1, 1 };
        for (int a = 0; a < n; a++)
            dims[2 + a] = sp.out[a];
        og_tensor *t = new_tensor(dt, n + 2, dims);
        for (int64_t q = 0; t && q < out_plane; q++) {
            double d = divisor_at(&sp, inc, q), v = d > 0 ? 1.0 / d : 0.0;
            if (dt == OG_FLOAT)
                ((float *)t->data)[q] = (float)v;
            else
                ((double *)t->data)[q] = v;
        }
        r = og_gb_tensor(b, t);
    }

    int64_t wd[OG_MAX_RANK] = { C, 1 }, wn = C;
    for (int a = 0; a < n; a++) {
        wd[2 + a] = sp.kernel[a];
        wn *= sp.kernel[a];
    }
    og_tensor *w = new_tensor(dt, n + 2, wd);
    for (int64_t i = 0; w && i < wn; i++) {
        if (dt == OG_FLOAT)
            ((float *)w->data)[i] = 1.0f;
        else
            ((double *)w->data)[i] = 1.0;
    }
    const char *wname = og_gb_tensor(b, w);

    /* ConvTranspose size: s*(O-1) + op + k - pb - pe must be D. */
    int64_t pads[2 * OG_MAX_RANK], opad[OG_MAX_RANK];
    for (int a = 0; a < n; a++) {
        int64_t pe = sp.stride[a] * (sp.out[a] - 1) + sp.kernel[a] - sp.pad_begin[a] - sp.in[a];
        pads[a] = sp.pad_begin[a];
        pads[n + a] = pe > 0 ? pe : 0;
        opad[a] = pe < 0 ? -pe : 0;   /* uncovered trailing cells, < stride */
    }
    og_attr at[5] = { og_attr_int("group", C), og_attr_ints("kernel_shape", n, sp.kernel),
                      og_attr_ints("strides", n, sp.stride), og_attr_ints("pads", 2 * n, pads),
                      og_attr_ints("output_padding", n, opad) };
    const char *ins[2] = { og_gb_mul(b, b->dout[0], r), wname };
    b->din[0] = og_gb(b, "ConvTranspose", 2, ins, 5, at);
    return og_gb_status(b);
}

/* ---- backward pattern: the ConvTranspose avgpool_backward emits --------
 * ConvTranspose(G, W) with W a Constant of ones [C, 1, kh, kw], group C,
 * no bias, dilations 1 and explicit pads: each output cell is the sum of
 * G over the input cells whose window covers it. Per channel plane that is
 * a box sum over a contiguous range of rows and of columns of G, computed
 * as column sums into the worker's scratch, then row sums vectorised along
 * the row; one task per plane, so any thread count gives the same bits
 * (the order differs from the reference's col2im: equal within rounding). */

typedef struct boxsum2d {
    int64_t planes, IH, IW, OH, OW, kh, kw, sh, sw, ph, pw;
    int64_t *hr, *wr;   /* planned (same allocation): per output row / column its [lo, hi) of G */
} boxsum2d;

typedef struct boxsum_job {
    const boxsum2d *g;
    const float *x;
    float *y;
    char *ws;
    size_t stride;
} boxsum_job;

/* Inputs i with 0 <= o + p - i*s < k, clipped to [0, n): [*lo, *hi). */
static void cover(int64_t o, int64_t p, int64_t k, int64_t s, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t a = o + p - k + 1, b = o + p;   /* i*s in [a, b] */
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = b < 0 ? 0 : b / s + 1;
    if (*hi > n)
        *hi = n;
    if (*lo > *hi)
        *lo = *hi;
}

static void boxsum_task(void *arg, int64_t pl, int worker)
{
    const boxsum_job *jb = arg;
    const boxsum2d *g = jb->g;
    float *t = (float *)(jb->ws + (size_t)worker * jb->stride);   /* [IH, OW] */
    const float *xp = jb->x + pl * g->IH * g->IW;
    float *yp = jb->y + pl * g->OH * g->OW;
    for (int64_t i = 0; i < g->IH; i++) {
        const float *xr = xp + i * g->IW;
        float *tr = t + i * g->OW;
        for (int64_t w = 0; w < g->OW; w++) {
            int64_t lo = g->wr[2 * w], hi = g->wr[2 * w + 1];
            float acc = 0.0f;
            for (int64_t j = lo; j < hi; j++)
                acc += xr[j];
            tr[w] = acc;
        }
    }
    for (int64_t h = 0; h < g->OH; h++) {
        int64_t lo = g->hr[2 * h], hi = g->hr[2 * h + 1];
        float *yr = yp + h * g->OW;
        for (int64_t w = 0; w < g->OW; w++)
            yr[w] = 0.0f;
        for (int64_t i = lo; i < hi; i++) {
            const float *tr = t + i * g->OW;
            for (int64_t w = 0; w < g->OW; w++)
                yr[w] += tr[w];
        }
    }
}

static og_status boxsum_run(const og_kernel_call *k)
{
    const boxsum2d *g = k->state;
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    bool ok = x->dtype == OG_FLOAT && y->dtype == OG_FLOAT && x->rank == 4 && y->rank == 4 &&
              x->numel == g->planes * g->IH * g->IW && x->dims[2] == g->IH && x->dims[3] == g->IW &&
              y->numel == g->planes * g->OH * g->OW && y->dims[2] == g->OH && y->dims[3] == g->OW;
    if (!ok)
        return og_node_err(k->node, OG_ERR_INTERNAL, "tensors do not match the planned shapes");
    boxsum_job jb = { g, x->data, y->data, k->workspace, k->workspace_stride };
    og_parallel_for(k->n_threads, g->planes, boxsum_task, &jb);
    return OG_OK;
}

static const og_ir_attr *find_attr(const og_node *n, const char *name)
{
    for (int a = 0; a < n->n_attrs; a++)
        if (strcmp(n->attrs[a].name, name) == 0)
            return &n->attrs[a];
    return NULL;
}

/* An INTS attribute of length `want` as og_ints (absent: not present);
 * false when it has another type or length. */
static bool ints_attr(const og_node *n, const char *name, int64_t want, og_ints *out)
{
    const og_ir_attr *a = find_attr(n, name);
    *out = (og_ints){ 0 };
    if (!a)
        return true;
    if (a->type != OG_ATTR_INTS || a->count != want)
        return false;
    *out = (og_ints){ .n = a->count, .v = a->ints, .present = true };
    return true;
}

/* The weight: a float tensor [C, 1, kh, kw] of ones, from an initializer
 * or a Constant node. */
static const og_tensor *ones_weight(const og_select_call *s)
{
    const og_tensor *w = s->in_value[1];
    if (!w) {
        const og_node *c = og_value_producer(s->g, s->node->inputs[1]);
        const og_ir_attr *v = c && strcmp(c->op_type, "Constant") == 0 && !c->domain[0] ? find_attr(c, "value") : NULL;
        w = v && v->type == OG_ATTR_TENSOR ? v->t : NULL;
    }
    if (!w || w->dtype != OG_FLOAT || w->rank != 4 || w->dims[1] != 1)
        return NULL;
    for (int64_t i = 0; i < w->numel; i++)
        if (((const float *)w->data)[i] != 1.0f)
            return NULL;
    return w;
}

static og_status boxsum_select(og_select_call *s)
{
    const og_node *n = s->node;
    if (n->domain[0] || n->n_inputs != 2 || s->n_out < 1 || !s->out[0])
        return OG_OK;
    const og_tinfo *x = s->in[0], *y = s->out[0];
    if (!x || !y || x->dtype != OG_FLOAT || x->shape.rank != 4 || !og_shape_known(&x->shape) ||
        y->shape.rank != 4 || !og_shape_known(&y->shape))
        return OG_OK;
    const og_tensor *w = ones_weight(s);
    int64_t C = x->shape.dims[1];
    const og_ir_attr *grp = find_attr(n, "group"), *ap = find_attr(n, "auto_pad");
    if (!w || w->dims[0] != C || !grp || grp->type != OG_ATTR_INT || grp->i != C ||
        (ap && (ap->type != OG_ATTR_STRING || strcmp(ap->s, "NOTSET") != 0)) || find_attr(n, "output_shape"))
        return OG_OK;
    og_ints ks, st, dil, pads, opad;
    if (!ints_attr(n, "kernel_shape", 2, &ks) || !ints_attr(n, "strides", 2, &st) ||
        !ints_attr(n, "dilations", 2, &dil) || !ints_attr(n, "pads", 4, &pads) ||
        !ints_attr(n, "output_padding", 2, &opad))
        return OG_OK;
    if ((ks.present && (ks.v[0] != w->dims[2] || ks.v[1] != w->dims[3])) ||
        (dil.present && (dil.v[0] != 1 || dil.v[1] != 1)))
        return OG_OK;
    og_spatial sp;
    if (og_spatial_resolve_transpose(&sp, "ConvTranspose", 2, &x->shape.dims[2], &w->dims[2], &st, NULL, &pads,
                                     &opad, NULL, "NOTSET") != OG_OK) {
        og_err_clear();   /* the op's own checks report it */
        return OG_OK;
    }
    boxsum2d g = { .IH = sp.in[0], .IW = sp.in[1], .OH = sp.out[0], .OW = sp.out[1], .kh = sp.kernel[0],
                   .kw = sp.kernel[1], .sh = sp.stride[0], .sw = sp.stride[1], .ph = sp.pad_begin[0],
                   .pw = sp.pad_begin[1] };
    if (y->shape.dims[0] != x->shape.dims[0] || y->shape.dims[1] != C || y->shape.dims[2] != g.OH ||
        y->shape.dims[3] != g.OW || !og_mul_ok(x->shape.dims[0], C, &g.planes) || g.planes == 0 ||
        g.IH * g.OW > ((int64_t)1 << 26) || g.OH + g.OW > ((int64_t)1 << 26))
        return OG_OK;
    size_t head = (sizeof g + 15) / 16 * 16;
    boxsum2d *ps = og_malloc(head + (size_t)(2 * (g.OH + g.OW)) * sizeof(int64_t));
    if (!ps)
        return og_node_err(n, OG_ERR_NOMEM, "out of memory planning its kernel");
    *ps = g;
    ps->hr = (int64_t *)((char *)ps + head);
    ps->wr = ps->hr + 2 * g.OH;
    for (int64_t h = 0; h < g.OH; h++)
        cover(h, g.ph, g.kh, g.sh, g.IH, &ps->hr[2 * h], &ps->hr[2 * h + 1]);
    for (int64_t w = 0; w < g.OW; w++)
        cover(w, g.pw, g.kw, g.sw, g.IW, &ps->wr[2 * w], &ps->wr[2 * w + 1]);
    s->state = ps;
    s->run = boxsum_run;
    s->kernel_name = "avgpool_backward_boxsum";
    s->workspace_bytes = ((size_t)(g.IH * g.OW) * sizeof(float) + 63) / 64 * 64;
    s->new_n_in = 1;   /* the weight is known to be ones */
    s->new_inputs[0] = n->inputs[0];
    return OG_OK;
}

const og_pattern og_pattern_avgpool_backward = {
    .root_op = "ConvTranspose",
    .name = "avgpool_backward",
    .select = boxsum_select,
};

/* FLOPs: one add per output element per window element (the divide is
 * not counted). */
static og_status avgpool_cost(og_cost_call *c)
{
    const avgpool_params *p = c->params;
    int64_t f = og_cost_numel(&c->out[0]->shape);
    for (int64_t d = 0; d < p->kernel_shape.n; d++)
        f = og_cost_mul(f, p->kernel_shape.v[d]);
    c->flops = f;
    return OG_OK;
}

const og_op og_op_averagepool = {
    .name = "AveragePool",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = avgpool_attrs,
    .n_attrs = (int)(sizeof avgpool_attrs / sizeof avgpool_attrs[0]),
    .params_size = sizeof(avgpool_params),
    .infer = avgpool_infer,
    .run = avgpool_run,
    .backward = avgpool_backward,
    .select = avgpool_select,
    .cost = avgpool_cost,
};
