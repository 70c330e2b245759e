/* SPDX-License-Identifier: MIT */
/* MatMul — matrix product with numpy.matmul semantics: the last two axes of
 * A [..., M, K] and B [..., K, N] multiply, the leading (batch) axes
 * broadcast (numpy rules, right-aligned). A 1-D A [K] is taken as [1, K]
 * and a 1-D B [K] as [K, 1]; the added axis is removed from Y afterwards
 * (so [K]·[K] is a scalar, [K]·[..., K, N] is [..., N]).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#MatMul
 *
 * Versions: 1 (float, double, float16), 9 (int32, int64, uint32, uint64),
 * 13 (bfloat16); no attributes. float16/bfloat16 are refused (onnxgrad
 * cannot hold them). Integer products wrap (two's complement).
 *
 * Kernels: the reference is a plain loop per type (sums in the type, k
 * ascending). The float32 plan-time kernel runs every batch's product
 * through the deterministic og_sgemm, cut into (batch, row-tile, column-
 * tile) tasks (og_gemm_tiles); og_sgemm's bits do not depend on the tile,
 * so Y has the same bits at any thread count.
 *
 * Backward (as torch.matmul's): dA = dY·Bᵀ, dB = Aᵀ·dY, as MatMul and
 * Transpose nodes, summed over the batch axes the operand was broadcast
 * along; a 2-D B under a batched A gets dB as one Gemm (transA) of A and dY
 * flattened to rows, as torch does, instead of a batched MatMul + ReduceSum. 1-D operands: dY gets the removed axis back through a Reshape with
 * a constant shape (0 = keep the dim, so no dim needs to be known), the
 * vector operand becomes a row or column the same way, and its gradient is
 * summed over the batch axes with ReduceSum (keepdims 0). [K]·[K]: dA = dY·B,
 * dB = dY·A. */
#include <stddef.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"

static const char *mm_name(const og_infer_call *c, int k) { return c->in_names[k] ? c->in_names[k] : "?"; }

static bool mm_type_ok(og_dtype t, int opset)
{
    switch (t) {
    case OG_FLOAT: case OG_DOUBLE:
        return true;
    case OG_INT32: case OG_INT64: case OG_UINT32: case OG_UINT64:
        return opset >= 9;
    default:
        return false;
    }
}

/* The product's geometry from two shapes (dims may be -1 at load time). */
typedef struct mm_geom {
    int ra, rb, ry;                  /* operand ranks as given, output rank */
    int nb;                          /* batch rank (broadcast) */
    int64_t batch[OG_MAX_RANK];      /* broadcast batch dims */
    int64_t abatch[OG_MAX_RANK], bbatch[OG_MAX_RANK];   /* operand batch dims right-aligned to nb (1 padded) */
    int64_t m, k, kb, n;
} mm_geom;

static og_status mm_geometry(const og_node *node, const char *an, const og_shape *a, const char *bn,
                             const og_shape *b, mm_geom *g)
{
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    memset(g, 0, sizeof *g);
    g->ra = a->rank;
    g->rb = b->rank;
    if (a->rank == 0 || b->rank == 0)
        return og_node_err(node, OG_ERR_SHAPE, "MatMul needs operands of rank >= 1, got A '%s' of shape %s and "
                           "B '%s' of shape %s", an, og_shape_str(a, b1, sizeof b1), bn,
                           og_shape_str(b, b2, sizeof b2));
    if (a->rank < 0 || b->rank < 0) {
        g->ry = -1;
        return OG_OK;
    }
    int abr = a->rank >= 2 ? a->rank - 2 : 0, bbr = b->rank >= 2 ? b->rank - 2 : 0;
    g->m = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    g->k = a->dims[a->rank - 1];
    g->kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
    g->n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if (g->k >= 0 && g->kb >= 0 && g->k != g->kb)
        return og_node_err(node, OG_ERR_SHAPE, "inner dims differ: A '%s' of shape %s has K=%lld, B '%s' of shape %s "
                           "has K=%lld; expected equal", an, og_shape_str(a, b1, sizeof b1), (long long)g->k, bn,
                           og_shape_str(b, b2, sizeof b2), (long long)g->kb);
    if (g->k < 0)
        g->k = g->kb;
    g->nb = abr > bbr ? abr : bbr;
    for (int d = 0; d < g->nb; d++) {
        int da = d - (g->nb - abr), db = d - (g->nb - bbr);
        int64_t x = da >= 0 ? a->dims[da] : 1, y = db >= 0 ? b->dims[db] : 1;
        g->abatch[d] = x;
        g->bbatch[d] = y;
        if (x >= 0 && y >= 0 && x != y && x != 1 && y != 1)
            return og_node_err(node, OG_ERR_SHAPE, "cannot broadcast the batch axes of A '%s' of shape %s and B '%s' "
                               "of shape %s: batch axis %d is %lld against %lld; expected equal dims or 1", an,
                               og_shape_str(a, b1, sizeof b1), bn, og_shape_str(b, b2, sizeof b2), d, (long long)x,
                               (long long)y);
        g->batch[d] = x == 1 ? y : y == 1 ? x : x >= 0 ? x : y;
    }
    g->ry = g->nb + (a->rank >= 2) + (b->rank >= 2);
    return OG_OK;
}

static og_status matmul_infer(og_infer_call *c)
{
    const og_tinfo *a = c->in[0], *b = c->in[1];
    og_dtype t = OG_UNDEFINED;
    for (int k = 0; k < 2; k++) {
        og_dtype d = c->in[k]->dtype;
        if (d == OG_UNDEFINED)
            continue;
        if (d == OG_FLOAT16 || d == OG_BFLOAT16)
            return og_node_err(c->node, OG_ERR_UNSUPPORTED, "input %c '%s' has type %s, an unsupported type "
                               "(onnxgrad cannot hold it)", "AB"[k], mm_name(c, k), og_dtype_name(d));
        if (!mm_type_ok(d, c->opset))
            return og_node_err(c->node, OG_ERR_SHAPE, "input %c '%s' has type %s, expected %s at opset %d", "AB"[k],
                               mm_name(c, k), og_dtype_name(d),
                               c->opset >= 9 ? "float, double, int32, int64, uint32 or uint64" : "float or double",
                               c->opset);
        if (t != OG_UNDEFINED && d != t)
            return og_node_err(c->node, OG_ERR_SHAPE, "A and B must share one type, got %s and %s",
                               og_dtype_name(t), og_dtype_name(d));
        t = d;
    }
    mm_geom g;
    og_status st = mm_geometry(c->node, mm_name(c, 0), &a->shape, mm_name(c, 1), &b->shape, &g);
    if (st)
        return st;
    c->workspace_bytes = 0;
    og_tinfo *y = c->out[0];
    if (!y)
        return OG_OK;
    y->dtype = t;
    y->shape.rank = g.ry;
    if (g.ry < 0)
        return OG_OK;
    int r = 0;
    for (int d = 0; d < g.nb; d++)
        y->shape.dims[r++] = g.batch[d];
    if (g.ra >= 2)
        y->shape.dims[r++] = g.m;
    if (g.rb >= 2)
        y->shape.dims[r++] = g.n;
    int64_t n = 1;
    for (int d = 0; d < r; d++)
        if (y->shape.dims[d] >= 0 && !og_mul_ok(n, y->shape.dims[d], &n))
            return og_node_err(c->node, OG_ERR_LIMIT, "output has more elements than int64 can count");
    return OG_OK;
}

/* Offsets (in matrices) of A's and B's matrix for each batch index,
 * walked with an odometer; strides are 0 along broadcast axes. */
typedef struct mm_batch {
    int nb;
    int64_t dims[OG_MAX_RANK], sa[OG_MAX_RANK], sb[OG_MAX_RANK];
    int64_t count;
} mm_batch;

static void mm_batch_init(const mm_geom *g, mm_batch *w)
{
    w->nb = g->nb;
    w->count = 1;
    int64_t ma = 1, mb = 1;
    for (int d = g->nb - 1; d >= 0; d--) {
        w->dims[d] = g->batch[d];
        w->sa[d] = g->abatch[d] == 1 ? 0 : ma;
        w->sb[d] = g->bbatch[d] == 1 ? 0 : mb;
        ma *= g->abatch[d];
        mb *= g->bbatch[d];
        w->count *= g->batch[d];
    }
}

/* A's and B's matrix index for batch p. */
static void mm_batch_at(const mm_batch *w, int64_t p, int64_t *ia, int64_t *ib)
{
    *ia = *ib = 0;
    for (int d = w->nb - 1; d >= 0; d--) {
        int64_t i = p % w->dims[d];
        p /= w->dims[d];
        *ia += i * w->sa[d];
        *ib += i * w->sb[d];
    }
}

#define MM_LOOP(T)                                                              \
    do {                                                                        \
        const T *A = a->data, *B = b->data;                                     \
        T *Y = y->data;                                                         \
        for (int64_t p = 0; p < w.count; p++) {                                 \
            int64_t ia, ib;                                                     \
            mm_batch_at(&w, p, &ia, &ib);                                       \
            const T *pa = A + ia * g.m * g.k, *pb = B + ib * g.k * g.n;         \
            T *py = Y + p * g.m * g.n;                                          \
            for (int64_t i = 0; i < g.m; i++)                                   \
                for (int64_t j = 0; j < g.n; j++) {                             \
                    T s = 0;                                                    \
                    for (int64_t q = 0; q < g.k; q++)                           \
                        s += pa[i * g.k + q] * pb[q * g.n + j];                 \
                    py[i * g.n + j] = s;                                        \
                }                                                               \
        }                                                                       \
    } while (0)

/* Geometry of run-time tensors (all dims known); checked against Y. */
static og_status mm_run_geom(const og_kernel_call *k, mm_geom *g)
{
    const og_tensor *a = k->in[0], *b = k->in[1];
    og_shape sa = { .rank = a->rank }, sb = { .rank = b->rank };
    memcpy(sa.dims, a->dims, sizeof(int64_t) * (size_t)a->rank);
    memcpy(sb.dims, b->dims, sizeof(int64_t) * (size_t)b->rank);
    og_status st = mm_geometry(k->node, "A", &sa, "B", &sb, g);
    if (st)
        return st;
    int64_t n = g->m * g->n;
    for (int d = 0; d < g->nb; d++)
        n *= g->batch[d];
    if (k->out[0] && (k->out[0]->numel != n || k->out[0]->dtype != a->dtype || b->dtype != a->dtype))
        return og_node_err(k->node, OG_ERR_INTERNAL, "kernel shapes disagree with inference");
    return OG_OK;
}

static og_status matmul_run(const og_kernel_call *k)
{
    const og_tensor *a = k->in[0], *b = k->in[1];
    og_tensor *y = k->out[0];
    mm_geom g;
    og_status st;
    if (!y)
        return OG_OK;
    if ((st = mm_run_geom(k, &g)))
        return st;
    mm_batch w;
    mm_batch_init(&g, &w);
    switch (y->dtype) {
    case OG_FLOAT: MM_LOOP(float); break;
    case OG_DOUBLE: MM_LOOP(double); break;
    case OG_INT32: MM_LOOP(uint32_t); break;  /* unsigned arithmetic: wraps, no UB */
    case OG_INT64: MM_LOOP(uint64_t); break;  /* unsigned arithmetic: wraps, no UB */
    case OG_UINT32: MM_LOOP(uint32_t); break;
    case OG_UINT64: MM_LOOP(uint64_t); break;
    default:
        return og_node_err(k->node, OG_ERR_UNSUPPORTED, "no kernel for type %s", og_dtype_name(y->dtype));
    }
    return OG_OK;
}

/* ---- float32 through og_sgemm -------------------------------------------- */
/* An operand as the GEMM reads it: each batch matrix at an element offset
 * (the sum of the batch indices times bs[]), stored plain (row stride ld)
 * or, with trans, as its transpose (column stride ld). A Transpose feeding
 * the MatMul is read through this way instead of being copied (see
 * mm_view). */
typedef struct mm_operand {
    bool trans;
    int64_t ld;
    int64_t bs[OG_MAX_RANK];   /* per broadcast batch axis; 0 where broadcast */
    int64_t numel;             /* of the tensor the kernel reads */
} mm_operand;

typedef struct mm_plan {
    mm_geom g;
    mm_batch w;
    mm_operand a, b;
    int64_t mt, nt, tiles_m, tiles_n;
    int64_t y_numel;
} mm_plan;

typedef struct mm_ctx {
    const mm_plan *p;
    const float *a, *b;
    float *y;
    char *ws;
    size_t stride;
} mm_ctx;

static int64_t mm_offset(const mm_batch *w, const int64_t *bs, int64_t p)
{
    int64_t off = 0;
    for (int d = w->nb - 1; d >= 0; d--) {
        off += p % w->dims[d] * bs[d];
        p /= w->dims[d];
    }
    return off;
}

static void mm_tile(void *arg, int64_t t, int worker)
{
    const mm_ctx *c = arg;
    const mm_plan *p = c->p;
    const mm_geom *g = &p->g;
    int64_t per = p->tiles_m * p->tiles_n, batch = t / per, r = t % per;
    int64_t i0 = (r / p->tiles_n) * p->mt, j0 = (r % p->tiles_n) * p->nt;
    int64_t mt = g->m - i0 < p->mt ? g->m - i0 : p->mt, nt = g->n - j0 < p->nt ? g->n - j0 : p->nt;
    const float *a = c->a + mm_offset(&p->w, p->a.bs, batch) + (p->a.trans ? i0 : i0 * p->a.ld);
    const float *b = c->b + mm_offset(&p->w, p->b.bs, batch) + (p->b.trans ? j0 * p->b.ld : j0);
    float *y = c->y + batch * g->m * g->n + i0 * g->n + j0;
    if (g->k == 0) {   /* an empty sum: og_sgemm with beta 0 still writes, but keep it explicit */
        for (int64_t i = 0; i < mt; i++)
            for (int64_t j = 0; j < nt; j++)
                y[i * g->n + j] = 0;
        return;
    }
    og_sgemm_mat(p->a.trans, p->b.trans, mt, nt, g->k, 1.0f, a, p->a.ld, b, p->b.ld, 0.0f, y, g->n,
                 c->ws + (size_t)worker * c->stride);
}

static og_status mm_fast_run(const og_kernel_call *k)
{
    const mm_plan *p = k->state;
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    const og_tensor *a = k->in[0], *b = k->in[1];
    if (a->dtype != OG_FLOAT || b->dtype != OG_FLOAT || y->dtype != OG_FLOAT || a->numel != p->a.numel ||
        b->numel != p->b.numel || y->numel != p->y_numel)
        return og_node_err(k->node, OG_ERR_INTERNAL, "tensors do not match the planned shapes");
    if (y->numel == 0)
        return OG_OK;
    mm_ctx c = { p, a->data, b->data, y->data, k->workspace, k->workspace_stride };
    og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, p->w.count * p->tiles_m * p->tiles_n, mm_tile, &c);
    return OG_OK;
}

/* An operand as stored in its own contiguous tensor (a 1-D A is one row,
 * a 1-D B one column). */
static void mm_plain(const mm_geom *g, bool is_b, mm_operand *o)
{
    int64_t s = is_b ? g->k * g->n : g->m * g->k;
    o->trans = false;
    o->ld = is_b ? g->n : g->k;
    o->numel = s;
    for (int d = g->nb - 1; d >= 0; d--) {
        int64_t dim = is_b ? g->bbatch[d] : g->abatch[d];
        o->bs[d] = dim == 1 ? 0 : s;
        s *= dim;
        o->numel *= dim;
    }
}

/* Operand k read through the Transposes that produced it (a chain of them
 * composes): the source tensor and, where its last two axes leave one of
 * them contiguous, the strides the GEMM reads it with. A chain whose
 * matrices would be neither rows nor columns of the source keeps the copy. */
static bool mm_view(const og_select_call *s, int k, const mm_geom *g, bool is_b, mm_operand *o, int *src)
{
    const int r = s->in[k]->shape.rank;
    if (r < 2 || s->node->inputs[k] < 0)
        return false;
    int axis[OG_MAX_RANK], v = s->node->inputs[k], hops = 0;
    for (int d = 0; d < r; d++)
        axis[d] = d;
    for (const og_node *t; hops < 8 && (t = og_value_producer(s->g, v)) && t->n_inputs == 1 && t->inputs[0] >= 0;
         hops++) {
        int perm[OG_MAX_RANK];
        if (!og_transpose_node_perm(t, r, perm))
            break;
        for (int d = 0; d < r; d++)
            axis[d] = perm[axis[d]];
        v = t->inputs[0];
    }
    if (hops == 0)
        return false;
    og_tinfo ti;
    og_value_get(&s->g->values[v], &ti);
    if (ti.dtype != OG_FLOAT || ti.shape.rank != r || !og_shape_known(&ti.shape))
        return false;
    int64_t st[OG_MAX_RANK], n = 1;
    for (int d = r - 1; d >= 0; d--) {
        st[d] = n;
        n *= ti.shape.dims[d];
    }
    int64_t sr = st[axis[r - 2]], sc = st[axis[r - 1]];
    if (sc == 1) {
        /* rows further apart than their length: the copy (contiguous runs
         * of whole rows) costs less than the strided packing (measured) */
        if (sr != (is_b ? g->n : g->k))
            return false;
        o->trans = false;
        o->ld = sr;
    } else if (sr == 1) {
        o->trans = true;
        o->ld = sc;
    } else {
        return false;
    }
    if (o->ld < 1)
        o->ld = 1;
    o->numel = n;
    for (int d = 0; d < g->nb; d++) {
        int od = d - (g->nb - (r - 2));   /* the operand's own batch axis, right-aligned */
        int64_t dim = is_b ? g->bbatch[d] : g->abatch[d];
        o->bs[d] = od < 0 || dim == 1 ? 0 : st[axis[od]];
    }
    *src = v;
    return true;
}

/* A's matrices are consecutive row blocks of one matrix at its ld. */
static bool mm_rows_contiguous(const mm_geom *g, const mm_operand *a)
{
    if (a->trans)
        return false;
    int64_t want = g->m * a->ld;
    for (int d = g->nb - 1; d >= 0; d--) {
        if (a->bs[d] != want && g->abatch[d] != 1)
            return false;
        want *= g->abatch[d];
    }
    return true;
}

static og_status matmul_select(og_select_call *s)
{
    const og_tinfo *a = s->in[0], *b = s->in[1];
    if (!s->out[0] || a->dtype != OG_FLOAT || b->dtype != OG_FLOAT || !og_shape_known(&a->shape) ||
        !og_shape_known(&b->shape))
        return OG_OK;
    mm_plan p;
    memset(&p, 0, sizeof p);
    if (mm_geometry(s->node, "A", &a->shape, "B", &b->shape, &p.g) != OG_OK) {
        og_err_clear();
        return OG_OK;   /* infer reports it */
    }
    mm_batch_init(&p.g, &p.w);
    if (p.g.m < 1 || p.g.n < 1 || p.w.count < 1)
        return OG_OK;
    p.y_numel = p.w.count * p.g.m * p.g.n;
    mm_plain(&p.g, false, &p.a);
    mm_plain(&p.g, true, &p.b);
    int src[2] = { s->node->inputs[0], s->node->inputs[1] };
    mm_operand va, vb;
    bool one_b = true;
    for (int d = 0; d < p.g.nb; d++)
        one_b = one_b && p.g.bbatch[d] == 1;
    /* A through its Transposes, unless that turns one tall product (x·W of
     * a linear layer) into many short ones */
    if (mm_view(s, 0, &p.g, false, &va, &src[0]) &&
        !(p.w.count > 1 && one_b && mm_rows_contiguous(&p.g, &p.a) && !mm_rows_contiguous(&p.g, &va)))
        p.a = va;
    else
        src[0] = s->node->inputs[0];
    if (mm_view(s, 1, &p.g, true, &vb, &src[1]))
        p.b = vb;
    else
        src[1] = s->node->inputs[1];
    /* One B for every batch and A's matrices consecutive rows (x·W of a
     * linear layer, its dA = dY·Wᵀ): run one tall product instead of count
     * short ones (M is often a handful of rows there). */
    if (p.w.count > 1 && one_b && mm_rows_contiguous(&p.g, &p.a)) {
        p.g.m *= p.w.count;
        p.w.count = 1;
        p.w.nb = 0;
    }
    og_gemm_tiles(p.w.count, p.g.m, p.g.n, p.g.k, s->n_threads, &p.mt, &p.nt);
    p.tiles_m = (p.g.m + p.mt - 1) / p.mt;
    p.tiles_n = (p.g.n + p.nt - 1) / p.nt;
    mm_plan *st = og_malloc(sizeof *st);
    if (!st)
        return og_node_err(s->node, OG_ERR_NOMEM, "out of memory planning its kernel");
    *st = p;
    s->state = st;
    s->run = mm_fast_run;
    if (src[0] != s->node->inputs[0] || src[1] != s->node->inputs[1]) {
        s->new_n_in = 2;
        s->new_inputs[0] = src[0];
        s->new_inputs[1] = src[1];
    }
    s->kernel_name = og_isa_active() == OG_ISA_AVX512 ? "matmul_sgemm_avx512"
                     : og_isa_active() == OG_ISA_AVX2 ? "matmul_sgemm_avx2" : "matmul_sgemm_scalar";
    s->workspace_bytes = og_gemm_workspace_bytes();
    return OG_OK;
}

/* ---- backward ---------------------------------------------------------------- */

/* x with its last two axes swapped (rank r >= 2). */
static const char *mm_swap_last(og_backward_call *b, const char *x, int r)
{
    int64_t perm[OG_MAX_RANK];
    for (int d = 0; d < r; d++)
        perm[d] = d;
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    og_attr at = og_attr_ints("perm", r, perm);
    return og_gb(b, "Transpose", 1, &x, 1, &at);
}

/* x reshaped by a constant shape of n dims: `zeros` leading 0s (keep the
 * dim) followed by the given tail. */
static const char *mm_reshape(og_backward_call *b, const char *x, int zeros, int n_tail, const int64_t *tail)
{
    int64_t dims[OG_MAX_RANK + 2];
    for (int d = 0; d < zeros; d++)
        dims[d] = 0;
    memcpy(dims + zeros, tail, sizeof(int64_t) * (size_t)n_tail);
    const char *ins[2] = { x, og_gb_ints(b, zeros + n_tail, dims) };
    return og_gb(b, "Reshape", 2, ins, 0, NULL);
}

/* Sum over axes [0, n) and, when also_last, axis `last`, dropping them. */
static const char *mm_sum(og_backward_call *b, const char *x, int n, int last)
{
    int64_t axes[OG_MAX_RANK + 1];
    int c = 0;
    for (int d = 0; d < n; d++)
        axes[c++] = d;
    if (last >= 0)
        axes[c++] = last;
    if (c == 0)
        return x;
    const char *ins[2] = { x, og_gb_ints(b, c, axes) };
    og_attr keep = og_attr_int("keepdims", 0);
    return og_gb(b, "ReduceSum", 2, ins, 1, &keep);
}

/* grad, of the broadcast batch shape + [rows, cols], summed back to input k's
 * shape. An axis where input k's dim is unknown is taken as not broadcast
 * (a symbolic batch against itself, as og_grad_unbroadcast does) and
 * checked at run time by a Reshape to input k's shape. */
static const char *mm_unbatch(og_backward_call *b, int k, const char *grad, const mm_geom *g, int64_t rows,
                              int64_t cols)
{
    const og_tinfo *to = &b->in_info[k];
    if (!grad)
        return NULL;
    og_tinfo from = { .dtype = to->dtype, .shape = { .rank = g->nb + 2 } };
    memcpy(from.shape.dims, g->batch, sizeof(int64_t) * (size_t)g->nb);
    from.shape.dims[g->nb] = rows;
    from.shape.dims[g->nb + 1] = cols;
    bool assumed = false;
    for (int d = 0; d < to->shape.rank; d++) {
        int fd = d + from.shape.rank - to->shape.rank;
        if (to->shape.dims[d] < 0 && from.shape.dims[fd] != 1) {
            from.shape.dims[fd] = 1;   /* reduce_to keeps an axis of 1 as it is */
            assumed = true;
        }
    }
    const char *out = NULL, *shape = NULL;
    og_status st = og_grad_reduce_to(b, grad, &from, to, &out);
    if (!st && assumed && !(st = og_grad_shape_of(b, b->in[k], to, &shape))) {
        const char *ins[2] = { out, shape };
        out = og_gb(b, "Reshape", 2, ins, 0, NULL);
    }
    if (st && b->status == OG_OK)
        b->status = st;
    return st ? NULL : out;
}

static og_status matmul_backward(og_backward_call *b)
{
    const og_tinfo *ai = &b->in_info[0], *bi = &b->in_info[1];
    const char *A = b->in[0], *B = b->in[1], *dy = b->dout[0];
    mm_geom g;
    og_status st;
    if (!dy)
        return OG_OK;
    if ((st = mm_geometry(b->node, A, &ai->shape, B, &bi->shape, &g)))
        return st;
    if (g.ry < 0)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the ranks of A '%s' and B '%s' known",
                           A, B);
    int ra = g.ra, rb = g.rb;
    if (ra == 1 && rb == 1) {                    /* a dot product: Y is a scalar */
        if (b->need[0])
            b->din[0] = og_gb_mul(b, dy, B);
        if (b->need[1])
            b->din[1] = og_gb_mul(b, dy, A);
    } else if (ra == 1) {                        /* [K]·[..., K, N] = [..., N] */
        static const int64_t row[2] = { 1, -1 }, col[2] = { -1, 1 };
        const char *dy2 = mm_reshape(b, dy, rb - 2, 2, row);   /* [..., 1, N] */
        if (b->need[0])   /* sum over batch of dY2·Bᵀ [..., 1, K] */
            b->din[0] = mm_sum(b, og_gb2(b, "MatMul", dy2, mm_swap_last(b, B, rb)), rb - 1, -1);
        if (b->need[1])   /* [K, 1]·[..., 1, N] */
            b->din[1] = og_gb2(b, "MatMul", mm_reshape(b, A, 0, 2, col), dy2);
    } else if (rb == 1) {                        /* [..., M, K]·[K] = [..., M] */
        static const int64_t one[1] = { 1 }, row[2] = { 1, -1 };
        const char *dy2 = mm_reshape(b, dy, ra - 1, 1, one);   /* [..., M, 1] */
        if (b->need[0])   /* [..., M, 1]·[1, K] */
            b->din[0] = og_gb2(b, "MatMul", dy2, mm_reshape(b, B, 0, 2, row));
        if (b->need[1])   /* sum over batch of Aᵀ·dY2 [..., K, 1] */
            b->din[1] = mm_sum(b, og_gb2(b, "MatMul", mm_swap_last(b, A, ra), dy2), ra - 2, ra - 1);
    } else {
        if (b->need[0])
            b->din[0] = mm_unbatch(b, 0, og_gb2(b, "MatMul", dy, mm_swap_last(b, B, rb)), &g, g.m, g.k);
        if (b->need[1] && rb == 2 && ra > 2 && g.k > 0 && g.n > 0) {
            /* a 2-D B shared by every batch (a linear layer's weight): the
             * batch sum of Aᵀ·dY is one product over all rows, as torch
             * computes it: Gemm(A [rows, K], dY [rows, N], transA) */
            const int64_t ak[2] = { -1, g.k }, yn[2] = { -1, g.n };
            const char *ins[2] = { mm_reshape(b, A, 0, 2, ak), mm_reshape(b, dy, 0, 2, yn) };
            og_attr ta = og_attr_int("transA", 1);
            b->din[1] = og_gb(b, "Gemm", 2, ins, 1, &ta);
        } else if (b->need[1]) {
            b->din[1] = mm_unbatch(b, 1, og_gb2(b, "MatMul", mm_swap_last(b, A, ra), dy), &g, g.k, g.n);
        }
    }
    return og_gb_status(b);
}

/* FLOPs: 2*K per output element, K the last dim of A. */
static og_status matmul_cost(og_cost_call *c)
{
    const og_shape *a = &c->in[0]->shape;
    int64_t k = a->rank > 0 ? a->dims[a->rank - 1] : 1;
    c->flops = og_cost_mul(og_cost_mul(2, og_cost_numel(&c->out[0]->shape)), k);
    return OG_OK;
}

const og_op og_op_matmul = {
    .name = "MatMul",
    .domain = "",
    .since_version = 1,
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x3,
    .diff_outputs = 0x1,
    .infer = matmul_infer,
    .run = matmul_run,
    .backward = matmul_backward,
    .select = matmul_select,
    .cost = matmul_cost,
};
