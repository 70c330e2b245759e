/* SPDX-License-Identifier: MIT */
/* Transpose — permutes the axes of `data`: output axis i is input axis
 * perm[i], so out.shape[i] = in.shape[perm[i]]. `perm` must be a
 * permutation of 0..r-1; without it the axes are reversed (a matrix's
 * ordinary transpose).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Transpose
 *
 * Versions: 1, 13 (bfloat16). Every type onnxgrad holds is moved as bytes
 * of its size. With an unknown input rank a given perm still fixes the
 * output rank.
 * Kernels: the reference walks the output element by element; the plan's
 * (transpose_tiled) copies whole contiguous rows, or transposes 32 x 32
 * tiles when the input's contiguous axis moves, threaded by shape only.
 * Backward: dX = Transpose(dY, perm⁻¹). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"

typedef struct transpose_params {
    og_ints perm;
} transpose_params;

static const og_attr_spec transpose_attrs[] = {
    {.name = "perm", .type = OG_ATTR_INTS, .offset = offsetof(transpose_params, perm)},
};

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

/* The permutation for an input of rank r (-1: unknown) into perm[]; *n is
 * its length, -1 when neither the rank nor `perm` says. */
static og_status transpose_perm(const og_infer_call *c, const transpose_params *p, int r, int *perm, int *n)
{
    const char *node = c->node->name;

    if (!p->perm.present) {
        *n = r;
        for (int i = 0; i < r; i++)
            perm[i] = r - 1 - i;
        return OG_OK;
    }
    if (r >= 0 && p->perm.n != r)
        return og_err(OG_ERR_ATTR, "node '%s' (Transpose): perm has %lld entries, expected %d (the rank "
                      "of data '%s')", node, (long long)p->perm.n, r, in_name(c, 0));
    if (p->perm.n > OG_MAX_RANK)
        return og_err(OG_ERR_ATTR, "node '%s' (Transpose): perm has %lld entries, expected at most %d",
                      node, (long long)p->perm.n, OG_MAX_RANK);
    int at[OG_MAX_RANK];   /* at[axis]: where perm names it, -1 if not yet */
    *n = (int)p->perm.n;
    for (int i = 0; i < *n; i++)
        at[i] = -1;
    for (int i = 0; i < *n; i++) {
        int64_t a = p->perm.v[i];
        if (a < 0 || a >= *n)
            return og_err(OG_ERR_ATTR, "node '%s' (Transpose): perm[%d] is %lld, expected an axis in "
                          "[0, %d]", node, i, (long long)a, *n - 1);
        if (at[a] >= 0)
            return og_err(OG_ERR_ATTR, "node '%s' (Transpose): perm names axis %lld twice (positions %d "
                          "and %d); expected a permutation of 0..%d", node, (long long)a, at[a], i, *n - 1);
        at[a] = i;
        perm[i] = (int)a;
    }
    return OG_OK;
}

static og_status transpose_infer(og_infer_call *c)
{
    const og_tinfo *x = c->in[0];
    int perm[OG_MAX_RANK], n = -1;
    og_status st;

    if (x->dtype != OG_UNDEFINED && og_dtype_size(x->dtype) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Transpose): input data '%s' has type %s, which "
                      "onnxgrad cannot hold", c->node->name, in_name(c, 0), og_dtype_name(x->dtype));
    if ((st = transpose_perm(c, c->params, x->shape.rank, perm, &n)) != OG_OK)
        return st;
    c->workspace_bytes = 0;
    og_tinfo *y = c->out[0];
    if (y == NULL)
        return OG_OK;
    y->dtype = x->dtype;
    y->shape.rank = n;
    for (int i = 0; i < n; i++)
        y->shape.dims[i] = x->shape.rank >= 0 ? x->shape.dims[perm[i]] : -1;
    return OG_OK;
}

/* Walks the output in order, like an odometer over its (merged) axes: the
 * innermost axis is a strided gather from the input, and each carry moves
 * the input offset by one axis's stride instead of recomputing it. */
#define TRANSPOSE_LOOP(T)                                                          \
    do {                                                                           \
        const T *src = (const T *)in->data;                                        \
        T *dst = (T *)out->data;                                                   \
        int64_t idx[OG_MAX_RANK] = {0}, off = 0;                                   \
        const int64_t inner = dims[m - 1], step = strides[m - 1];                  \
        for (int64_t o = 0; o < numel; o += inner) {                               \
            for (int64_t j = 0; j < inner; j++)                                    \
                dst[o + j] = src[off + j * step];                                  \
            for (int d = m - 2; d >= 0; d--) {                                     \
                off += strides[d];                                                 \
                if (++idx[d] < dims[d])                                            \
                    break;                                                         \
                off -= strides[d] * dims[d];                                       \
                idx[d] = 0;                                                        \
            }                                                                      \
        }                                                                          \
    } while (0)

/* The output as m merged axes: dims[i] and the input stride strides[i]
 * of output axis i. Size-1 axes are dropped, and neighbours that are also
 * neighbours in the input are merged, so a transpose that moves only unit
 * axes becomes one contiguous copy. Checks the planned shapes. */
static og_status transpose_merge(const og_kernel_call *k, int64_t *dims, int64_t *strides, int *m_out)
{
    const og_tensor *in = k->in[0];
    const og_tensor *out = k->out[0];
    const transpose_params *p = k->params;
    const int r = in->rank;
    int64_t in_stride[OG_MAX_RANK];
    int m = 0;
    if (out->rank != r || out->numel != in->numel || out->dtype != in->dtype ||
        (p->perm.present && p->perm.n != r))
        return og_err(OG_ERR_INTERNAL, "node '%s' (Transpose): output is %s of rank %d with %lld "
                      "elements, expected %s of rank %d with %lld", k->node->name,
                      og_dtype_name(out->dtype), out->rank, (long long)out->numel,
                      og_dtype_name(in->dtype), r, (long long)in->numel);
    /* row-major strides of the input (products of dims: bounded by numel) */
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        in_stride[d] = s;
        s *= in->dims[d];
    }
    for (int i = 0; i < r; i++) {
        int a = p->perm.present ? (int)p->perm.v[i] : r - 1 - i;
        if (a < 0 || a >= r || out->dims[i] != in->dims[a])
            return og_err(OG_ERR_INTERNAL, "node '%s' (Transpose): output dim %d is %lld, expected "
                          "input dim %d", k->node->name, i, (long long)out->dims[i], a);
        if (in->dims[a] == 1)
            continue;
        if (m > 0 && strides[m - 1] == in_stride[a] * in->dims[a]) {
            dims[m - 1] *= in->dims[a];
            strides[m - 1] = in_stride[a];
            continue;
        }
        dims[m] = in->dims[a];
        strides[m] = in_stride[a];
        m++;
    }
    if (m == 0) {   /* a scalar or all-ones shape: one element */
        dims[0] = 1;
        strides[0] = 1;
        m = 1;
    }
    *m_out = m;
    return OG_OK;
}

static og_status transpose_run(const og_kernel_call *k)
{
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];
    int64_t dims[OG_MAX_RANK], strides[OG_MAX_RANK];   /* merged output axes, input strides */
    int m = 0;
    og_status st;
    if (out == NULL)
        return OG_OK;
    if ((st = transpose_merge(k, dims, strides, &m)) != OG_OK)
        return st;
    const int64_t numel = in->numel;
    if (numel == 0)
        return OG_OK;
    switch (og_dtype_size(in->dtype)) {
    case 1: TRANSPOSE_LOOP(uint8_t); break;
    case 2: TRANSPOSE_LOOP(uint16_t); break;
    case 4: TRANSPOSE_LOOP(uint32_t); break;
    case 8: TRANSPOSE_LOOP(uint64_t); break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Transpose): no kernel for type %s",
                      k->node->name, og_dtype_name(in->dtype));
    }
    return OG_OK;
}

/* ---- the plan's kernel: contiguous runs copied whole, else 2-D tiles ----
 * On the merged axes, either the output's inner axis is contiguous in the
 * input too (a permutation of outer blocks: each output row is one memcpy),
 * or some other output axis q is the input's contiguous one, and every
 * (q, inner) plane is a matrix transpose, done in TP_TILE x TP_TILE tiles
 * that stay in L1. Tasks are fixed ranges of rows, or of (plane, tile row)
 * pairs, sized by the shape alone; a copy has no arithmetic, so any thread
 * count gives the same bytes. */
#define TP_TILE 32
#define TP_TASK_BYTES ((int64_t)64 << 10)

typedef struct tp_ctx {
    const char *src;
    char *dst;
    size_t es;
    int m, q;                     /* q: the tiled axis, -1 for row copies */
    int64_t dims[OG_MAX_RANK], istr[OG_MAX_RANK], ostr[OG_MAX_RANK];
    int64_t rows_per_task;        /* row copies */
    int64_t n_tq;                 /* tiles: tile rows along q */
} tp_ctx;

/* Offsets of the output position whose axes other than `skip1`, `skip2`
 * count `linear` (row-major over the remaining axes, in order). */
static void tp_offsets(const tp_ctx *c, int64_t linear, int skip1, int skip2, int64_t *in_off, int64_t *out_off)
{
    int64_t io = 0, oo = 0;
    for (int d = c->m - 1; d >= 0; d--) {
        if (d == skip1 || d == skip2)
            continue;
        int64_t i = linear % c->dims[d];
        linear /= c->dims[d];
        io += i * c->istr[d];
        oo += i * c->ostr[d];
    }
    *in_off = io;
    *out_off = oo;
}

static void tp_rows_task(void *arg, int64_t task, int worker)
{
    (void)worker;
    const tp_ctx *c = arg;
    const int m = c->m;
    const int64_t inner = c->dims[m - 1], rows = c->ostr[0] * c->dims[0] / inner;
    int64_t r0 = task * c->rows_per_task, r1 = r0 + c->rows_per_task < rows ? r0 + c->rows_per_task : rows;
    int64_t idx[OG_MAX_RANK], off = 0, rest = r0;
    for (int d = m - 2; d >= 0; d--) {
        idx[d] = rest % c->dims[d];
        rest /= c->dims[d];
        off += idx[d] * c->istr[d];
    }
    const size_t run = (size_t)inner * c->es;
    for (int64_t r = r0; r < r1; r++) {
        memcpy(c->dst + (size_t)(r * inner) * c->es, c->src + (size_t)off * c->es, run);
        for (int d = m - 2; d >= 0; d--) {
            off += c->istr[d];
            if (++idx[d] < c->dims[d])
                break;
            off -= c->istr[d] * c->dims[d];
            idx[d] = 0;
        }
    }
}

#define TP_TILE_LOOP(T)                                                                            \
    do {                                                                                           \
        const T *src = (const T *)c->src + ib;                                                     \
        T *dst = (T *)c->dst + ob;                                                                 \
        for (int64_t b0 = 0; b0 < nb; b0 += TP_TILE) {                                             \
            int64_t b1 = b0 + TP_TILE < nb ? b0 + TP_TILE : nb;                                    \
            for (int64_t a = a0; a < a1; a++)                                                      \
                for (int64_t b = b0; b < b1; b++)                                                  \
                    dst[a * oq + b] = src[a + b * ib_stride];                                      \
        }                                                                                          \
    } while (0)

static void tp_tiles_task(void *arg, int64_t task, int worker)
{
    (void)worker;
    const tp_ctx *c = arg;
    const int m = c->m, q = c->q;
    const int64_t plane = task / c->n_tq, a0 = task % c->n_tq * TP_TILE;
    const int64_t na = c->dims[q], nb = c->dims[m - 1], a1 = a0 + TP_TILE < na ? a0 + TP_TILE : na;
    const int64_t oq = c->ostr[q], ib_stride = c->istr[m - 1];
    int64_t ib, ob;
    tp_offsets(c, plane, q, m - 1, &ib, &ob);
    switch (c->es) {
    case 1: TP_TILE_LOOP(uint8_t); break;
    case 2: TP_TILE_LOOP(uint16_t); break;
    case 4: TP_TILE_LOOP(uint32_t); break;
    default: TP_TILE_LOOP(uint64_t); break;
    }
}

static og_status transpose_fast_run(const og_kernel_call *k)
{
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];
    tp_ctx c;
    og_status st;
    if (out == NULL)
        return OG_OK;
    memset(&c, 0, sizeof c);
    if ((st = transpose_merge(k, c.dims, c.istr, &c.m)) != OG_OK)
        return st;
    c.es = og_dtype_size(in->dtype);
    if (c.es != 1 && c.es != 2 && c.es != 4 && c.es != 8)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Transpose): no kernel for type %s", k->node->name,
                      og_dtype_name(in->dtype));
    if (in->numel == 0)
        return OG_OK;
    c.src = in->data;
    c.dst = out->data;
    const int m = c.m;
    c.ostr[m - 1] = 1;
    for (int d = m - 2; d >= 0; d--)
        c.ostr[d] = c.ostr[d + 1] * c.dims[d + 1];
    int threads = k->n_threads > 0 ? k->n_threads : 1;
    c.q = -1;
    for (int d = 0; d < m - 1; d++)
        if (c.istr[d] == 1)
            c.q = d;
    if (c.istr[m - 1] != 1 && c.q < 0)
        return transpose_run(k);   /* the input's stride-1 axis is always kept: cannot happen */
    if (c.istr[m - 1] == 1) {
        const int64_t inner = c.dims[m - 1], rows = in->numel / inner;
        int64_t row_bytes = inner * (int64_t)c.es;
        c.rows_per_task = row_bytes >= TP_TASK_BYTES ? 1 : TP_TASK_BYTES / row_bytes;
        og_parallel_for(threads, (rows + c.rows_per_task - 1) / c.rows_per_task, tp_rows_task, &c);
        return OG_OK;
    }
    c.n_tq = (c.dims[c.q] + TP_TILE - 1) / TP_TILE;
    int64_t planes = in->numel / (c.dims[c.q] * c.dims[m - 1]);
    og_parallel_for(threads, planes * c.n_tq, tp_tiles_task, &c);
    return OG_OK;
}

static og_status transpose_select(og_select_call *s)
{
    const og_tinfo *x = s->in[0];
    size_t es = x ? og_dtype_size(x->dtype) : 0;
    if (es == 1 || es == 2 || es == 4 || es == 8) {
        s->run = transpose_fast_run;
        s->kernel_name = "transpose_tiled";
    }
    return OG_OK;
}

/* Backward: dX = Transpose(dY, perm⁻¹), where perm⁻¹[perm[i]] = i. The
 * default (reversed) order is its own inverse. */
static og_status transpose_backward(og_backward_call *b)
{
    const transpose_params *p = b->params;
    int64_t inv[OG_MAX_RANK];

    if (!b->need[0] || b->dout[0] == NULL)
        return OG_OK;
    if (!p->perm.present)
        return og_grad_emit(b, "Transpose", 1, &b->dout[0], 1, &b->din[0], 0, NULL);
    /* infer checked that perm is a permutation of 0..n-1 with n <= OG_MAX_RANK */
    for (int64_t i = 0; i < p->perm.n; i++) {
        if (p->perm.n > OG_MAX_RANK || p->perm.v[i] < 0 || p->perm.v[i] >= p->perm.n)
            return og_err(OG_ERR_INTERNAL, "node '%s' (Transpose): perm was not checked", b->node->name);
        inv[p->perm.v[i]] = i;
    }
    og_attr a = og_attr_ints("perm", p->perm.n, inv);
    return og_grad_emit(b, "Transpose", 1, &b->dout[0], 1, &b->din[0], 1, &a);
}

extern const og_op og_op_transpose;

bool og_transpose_node_perm(const og_node *n, int r, int *perm)
{
    if (!n || n->op != &og_op_transpose || !n->params || r < 1 || r > OG_MAX_RANK)
        return false;
    const transpose_params *p = n->params;
    if (p->perm.present && p->perm.n != r)
        return false;
    bool seen[OG_MAX_RANK] = { false };
    for (int i = 0; i < r; i++) {
        int64_t a = p->perm.present ? p->perm.v[i] : r - 1 - i;
        if (a < 0 || a >= r || seen[a])
            return false;
        seen[a] = true;
        perm[i] = (int)a;
    }
    return true;
}

const og_op og_op_transpose = {
    .name = "Transpose",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = transpose_attrs,
    .n_attrs = (int)(sizeof transpose_attrs / sizeof transpose_attrs[0]),
    .params_size = sizeof(transpose_params),
    .infer = transpose_infer,
    .run = transpose_run,
    .backward = transpose_backward,
    .select = transpose_select,
    .cost = og_cost_zero,
};
