/* SPDX-License-Identifier: MIT */
/* Gemm — general matrix multiply: Y = alpha * A' * B' + beta * C, where
 * A' is A ([M,K], or [K,M] transposed when transA), B' is B ([K,N], or
 * [N,K] transposed when transB), and C is unidirectionally broadcast to
 * Y's shape [M,N] (numpy rules, right-aligned: C may be a scalar, [N],
 * [1,N], [M,1], [M,N], [1], [1,1]; each C dim is 1 or equal to Y's).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Gemm
 *
 * Versions: 1 and 6 (C required; a `broadcast` attribute — when 0, C must
 * already be [M,N]), 7 (broadcast attribute dropped, C always broadcast),
 * 9 (integer types), 11 (C optional), 13 (bfloat16). onnxgrad runs float
 * and double through BLAS; the integer types and float16/bfloat16 are
 * rejected as unsupported.
 *
 * Like PyTorch's addmm and ONNX Runtime, beta = 0 ignores C entirely, so
 * NaN or Inf in C does not reach Y. */
#include <cblas.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"

extern const og_op og_op_gemm;

typedef struct gemm_params {
    float alpha;
    float beta;
    int64_t trans_a;
    int64_t trans_b;
    int64_t broadcast;   /* opset < 7 only */
} gemm_params;

static const og_attr_spec gemm_attrs[] = {
    {.name = "alpha", .type = OG_ATTR_FLOAT, .offset = offsetof(gemm_params, alpha), .def_f = 1.0f},
    {.name = "beta", .type = OG_ATTR_FLOAT, .offset = offsetof(gemm_params, beta), .def_f = 1.0f},
    {.name = "transA", .type = OG_ATTR_INT, .offset = offsetof(gemm_params, trans_a),
     .def_i = 0, .has_range = true, .min_i = 0, .max_i = 1},
    {.name = "transB", .type = OG_ATTR_INT, .offset = offsetof(gemm_params, trans_b),
     .def_i = 0, .has_range = true, .min_i = 0, .max_i = 1},
    {.name = "broadcast", .type = OG_ATTR_INT, .offset = offsetof(gemm_params, broadcast),
     .def_i = 0, .has_range = true, .min_i = 0, .max_i = 1, .since_version = 1, .until_version = 6},
};

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

static const char *gemm_types_allowed(int opset)
{
    return opset >= 13 ? "float, double, float16, bfloat16, int32, int64, uint32 or uint64"
         : opset >= 9  ? "float, double, float16, int32, int64, uint32 or uint64"
                       : "float, double or float16";
}

static bool gemm_type_allowed(og_dtype t, int opset)
{
    switch (t) {
    case OG_FLOAT: case OG_DOUBLE: case OG_FLOAT16:
        return true;
    case OG_INT32: case OG_INT64: case OG_UINT32: case OG_UINT64:
        return opset >= 9;
    case OG_BFLOAT16:
        return opset >= 13;
    default:
        return false;
    }
}

/* Dims of one [rows, cols] operand, or an error naming it. */
static og_status gemm_check_matrix(const og_infer_call *c, int k, const char *role)
{
    const og_shape *s = &c->in[k]->shape;
    char buf[OG_SHAPE_STR_MAX];

    if (s->rank >= 0 && s->rank != 2)
        return og_err(OG_ERR_SHAPE, "node '%s' (Gemm): input %s '%s' must have rank 2, "
                      "got rank %d (shape %s)", c->node->name, role, in_name(c, k), s->rank,
                      og_shape_str(s, buf, sizeof buf));
    /* cblas takes int sizes and leading dimensions */
    for (int d = 0; d < s->rank; d++)
        if (s->dims[d] > INT_MAX)
            return og_err(OG_ERR_LIMIT, "node '%s' (Gemm): input %s '%s' has shape %s; "
                          "BLAS needs every dim <= %d", c->node->name, role, in_name(c, k),
                          og_shape_str(s, buf, sizeof buf), INT_MAX);
    return OG_OK;
}

static og_status gemm_infer(og_infer_call *c)
{
    const gemm_params *p = c->params;
    const char *node = c->node->name;
    const og_tinfo *a = c->in[0], *b = c->in[1];
    const og_tinfo *cc = c->n_in > 2 ? c->in[2] : NULL;
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    og_status st;

    if (cc == NULL && c->opset < 11)
        return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (Gemm): input C is required before "
                      "opset 11, got no C at opset %d", node, c->opset);

    /* dtypes: all present inputs agree, and the type is one we can run */
    og_dtype t = OG_UNDEFINED;
    for (int k = 0; k < 3; k++) {
        const og_tinfo *in = k < c->n_in ? c->in[k] : NULL;
        if (in == NULL || in->dtype == OG_UNDEFINED)
            continue;
        if (!gemm_type_allowed(in->dtype, c->opset))
            return og_err(OG_ERR_SHAPE, "node '%s' (Gemm): input %c '%s' has type %s, expected %s "
                          "at opset %d", node, "ABC"[k], in_name(c, k), og_dtype_name(in->dtype),
                          gemm_types_allowed(c->opset), c->opset);
        if (t == OG_UNDEFINED)
            t = in->dtype;
        else if (in->dtype != t)
            return og_err(OG_ERR_SHAPE, "node '%s' (Gemm): inputs must share one type, "
                          "expected %s for %c '%s', got %s", node, og_dtype_name(t),
                          "ABC"[k], in_name(c, k), og_dtype_name(in->dtype));
    }
    if (t != OG_UNDEFINED && t != OG_FLOAT && t != OG_DOUBLE)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Gemm): type %s is not implemented, "
                      "expected float or double", node, og_dtype_name(t));

    if ((st = gemm_check_matrix(c, 0, "A")) != OG_OK || (st = gemm_check_matrix(c, 1, "B")) != OG_OK)
        return st;

    int64_t m = -1, ka = -1, kb = -1, n = -1;
    if (a->shape.rank == 2) {
        m = a->shape.dims[p->trans_a ? 1 : 0];
        ka = a->shape.dims[p->trans_a ? 0 : 1];
    }
    if (b->shape.rank == 2) {
        kb = b->shape.dims[p->trans_b ? 1 : 0];
        n = b->shape.dims[p->trans_b ? 0 : 1];
    }
    if (ka >= 0 && kb >= 0 && ka != kb)
        return og_err(OG_ERR_SHAPE, "node '%s' (Gemm): inner dims differ: A '%s' has shape %s "
                      "(transA=%lld) giving K=%lld, B '%s' has shape %s (transB=%lld) giving "
                      "K=%lld; expected equal K", node,
                      in_name(c, 0), og_shape_str(&a->shape, b1, sizeof b1), (long long)p->trans_a,
                      (long long)ka, in_name(c, 1), og_shape_str(&b->shape, b2, sizeof b2),
                      (long long)p->trans_b, (long long)kb);

    if (cc != NULL) {
        const og_shape *s = &cc->shape;
        if (s->rank > 2)
            return og_err(OG_ERR_SHAPE, "node '%s' (Gemm): input C '%s' has shape %s, expected "
                          "rank <= 2 (broadcastable to [M,N])", node, in_name(c, 2),
                          og_shape_str(s, b1, sizeof b1));
        /* broadcast = 0 before opset 7: C must already be [M,N] */
        bool exact = c->opset < 7 && p->broadcast == 0;
        if (exact && s->rank >= 0 && s->rank != 2)
            return og_err(OG_ERR_SHAPE, "node '%s' (Gemm): with broadcast=0, C '%s' must have "
                          "shape [M,N], got %s", node, in_name(c, 2), og_shape_str(s, b1, sizeof b1));
        /* right-aligned: C's last dim against N, the one before against M */
        int64_t *yd[2] = {&m, &n};
        for (int j = 0; j < s->rank; j++) {
            int64_t cd = s->dims[s->rank - 1 - j];
            int64_t *want = yd[1 - j];
            if (cd < 0 || (cd == 1 && !exact))
                continue;
            if (*want < 0) {
                *want = cd;   /* C's dim must equal Y's, so it tells us Y's */
                continue;
            }
            if (cd != *want) {
                og_shape ys = {.rank = 2, .dims = {m, n}};
                if (exact)
                    return og_err(OG_ERR_SHAPE, "node '%s' (Gemm): with broadcast=0, C '%s' must "
                                  "have Y's shape %s, got %s", node, in_name(c, 2),
                                  og_shape_str(&ys, b2, sizeof b2), og_shape_str(s, b1, sizeof b1));
                return og_err(OG_ERR_SHAPE, "node '%s' (Gemm): C '%s' of shape %s cannot be "
                              "broadcast to Y's shape %s; expected each C dim (right-aligned) "
                              "to be 1 or equal to Y's", node, in_name(c, 2),
                              og_shape_str(s, b1, sizeof b1), og_shape_str(&ys, b2, sizeof b2));
            }
        }
    }

    c->workspace_bytes = 0;   /* beta*C goes straight into Y, so no scratch */
    og_tinfo *y = c->out[0];
    if (y == NULL)
        return OG_OK;
    y->dtype = t;
    y->shape.rank = 2;
    y->shape.dims[0] = m;
    y->shape.dims[1] = n;
    int64_t mn;
    if (m >= 0 && n >= 0 && !og_mul_ok(m, n, &mn))
        return og_err(OG_ERR_LIMIT, "node '%s' (Gemm): output [%lld,%lld] has more elements "
                      "than int64 can count", node, (long long)m, (long long)n);
    return OG_OK;
}

/* Y = beta * C broadcast to [M,N] (or 0 when C is absent or beta is 0).
 * Strides are 0 along C's broadcast dims. */
#define GEMM_FILL(T)                                                            \
    do {                                                                        \
        T *y = (T *)out->data;                                                  \
        if (cten == NULL || beta == 0) {                                        \
            for (int64_t i = 0; i < (int64_t)m * n; i++)                        \
                y[i] = 0;                                                       \
            break;                                                              \
        }                                                                       \
        const T *cv = (const T *)cten->data;                                    \
        T bt = (T)beta;                                                         \
        for (int64_t i = 0; i < m; i++)                                         \
            for (int64_t j = 0; j < n; j++)                                     \
                y[i * n + j] = bt * cv[i * si + j * sj];                        \
    } while (0)

static og_status gemm_run(const og_kernel_call *k)
{
    const gemm_params *p = k->params;
    const og_tensor *a = k->in[0], *b = k->in[1];
    const og_tensor *cten = k->n_in > 2 ? k->in[2] : NULL;
    og_tensor *out = k->out[0];

    if (out == NULL)
        return OG_OK;
    /* infer checked all of this with these very shapes; a mismatch is our bug */
    if (a->rank != 2 || b->rank != 2 || out->rank != 2 || a->dtype != out->dtype ||
        b->dtype != out->dtype || (cten != NULL && cten->dtype != out->dtype))
        return og_err(OG_ERR_INTERNAL, "node '%s' (Gemm): kernel got inputs that inference "
                      "should have rejected", k->node->name);
    int m = (int)a->dims[p->trans_a ? 1 : 0];
    int kk = (int)a->dims[p->trans_a ? 0 : 1];
    int n = (int)b->dims[p->trans_b ? 0 : 1];
    if (out->dims[0] != m || out->dims[1] != n || b->dims[p->trans_b ? 1 : 0] != kk)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Gemm): kernel shapes disagree with inference",
                      k->node->name);

    int64_t si = 0, sj = 0;   /* C strides along Y's rows and columns */
    if (cten != NULL) {
        int cr = cten->rank;
        if (cr >= 1 && cten->dims[cr - 1] != 1)
            sj = 1;
        if (cr == 2 && cten->dims[0] != 1)
            si = cten->dims[1];
    }

    double alpha = p->alpha, beta = p->beta;
    enum CBLAS_TRANSPOSE ta = p->trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = p->trans_b ? CblasTrans : CblasNoTrans;
    /* row-major leading dims are the stored row lengths; BLAS wants >= 1 */
    int lda = (int)a->dims[1] > 0 ? (int)a->dims[1] : 1;
    int ldb = (int)b->dims[1] > 0 ? (int)b->dims[1] : 1;
    int ldc = n > 0 ? n : 1;
    /* with an empty Y there is nothing to do; with K = 0 the product is 0 */
    bool product = m > 0 && n > 0 && kk > 0;

    switch (out->dtype) {
    case OG_FLOAT:
        GEMM_FILL(float);
        if (product)
            cblas_sgemm(CblasRowMajor, ta, tb, m, n, kk, (float)alpha, (const float *)a->data, lda,
                        (const float *)b->data, ldb, 1.0f, (float *)out->data, ldc);
        break;
    case OG_DOUBLE:
        GEMM_FILL(double);
        if (product)
            cblas_dgemm(CblasRowMajor, ta, tb, m, n, kk, alpha, (const double *)a->data, lda,
                        (const double *)b->data, ldb, 1.0, (double *)out->data, ldc);
        break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Gemm): no kernel for type %s",
                      k->node->name, og_dtype_name(out->dtype));
    }
    return OG_OK;
}

/* Backward. With A' = op(A), B' = op(B): dA' = alpha dY B'^T and
 * dB' = alpha A'^T dY, each written as one Gemm whose trans flags fold the
 * transposes (a transposed operand's gradient is the transpose of the
 * untransposed one's); dC = beta * dY summed over the axes C was broadcast
 * along. beta = 0 means C never reaches Y: its gradient is zero. */
static og_status gemm_backward(og_backward_call *b)
{
    const gemm_params *p = b->params;
    og_attr at[3] = { og_attr_float("alpha", p->alpha), og_attr_int("transA", 0), og_attr_int("transB", 0) };
    og_status st;
    const char *dy = b->dout[0];
    if (b->need[0]) {
        const char *ins[2] = { dy, b->in[1] };
        if (p->trans_a) {   /* dA = alpha B' dY^T */
            ins[0] = b->in[1];
            ins[1] = dy;
            at[1].i = p->trans_b;
            at[2].i = 1;
        } else {            /* dA = alpha dY B'^T */
            at[1].i = 0;
            at[2].i = !p->trans_b;
        }
        if ((st = og_grad_emit(b, "Gemm", 2, ins, 1, &b->din[0], 3, at)))
            return st;
    }
    if (b->need[1]) {
        const char *ins[2] = { b->in[0], dy };
        if (p->trans_b) {   /* dB = alpha dY^T A' */
            ins[0] = dy;
            ins[1] = b->in[0];
            at[1].i = 1;
            at[2].i = p->trans_a;
        } else {            /* dB = alpha A'^T dY */
            at[1].i = !p->trans_a;
            at[2].i = 0;
        }
        if ((st = og_grad_emit(b, "Gemm", 2, ins, 1, &b->din[1], 3, at)))
            return st;
    }
    if (b->n_in > 2 && b->need[2] && p->beta != 0) {
        const char *dc;
        if ((st = og_grad_unbroadcast(b, 2, dy, &dc)))
            return st;
        if (p->beta != 1) {
            const char *ins[2] = { dc, NULL };
            if ((st = og_grad_const_scalar(b, b->in_info[2].dtype, p->beta, &ins[1])) ||
                (st = og_grad_emit(b, "Mul", 2, ins, 1, &dc, 0, NULL)))
                return st;
        }
        b->din[2] = dc;
    }
    return OG_OK;
}

/* ---- plan-time fast path: float32 through the deterministic GEMM ---------
 * Y is cut into a grid of output tiles (og_gemm_tiles: the fewest the
 * plan's threads keep busy); each tile is one og_sgemm call on its own worker's
 * scratch. og_sgemm gives every element the same bits whatever tile it
 * sits in, so Y is identical at any thread count. C, when it counts, is
 * first broadcast into the tile and og_sgemm adds alpha*op(A)op(B) to
 * beta times it; beta = 0 (or no C) lets og_sgemm write the tile without
 * reading it, so NaN in C or in the fresh output never leaks in. */
typedef struct gemm_plan {
    int64_t m, n, k;
    bool ta, tb, use_c;
    float alpha, beta;
    int64_t si, sj;          /* C strides along Y's rows and columns (0: broadcast) */
    int64_t mt, nt;          /* tile size */
    int64_t tiles_n;         /* tiles along N */
} gemm_plan;

typedef struct gemm_ctx {
    const gemm_plan *g;
    const float *a, *b, *c;
    float *y;
    char *ws;
    size_t stride;
} gemm_ctx;

static void gemm_tile(void *arg, int64_t t, int worker)
{
    const gemm_ctx *c = arg;
    const gemm_plan *g = c->g;
    int64_t i0 = (t / g->tiles_n) * g->mt, j0 = (t % g->tiles_n) * g->nt;
    int64_t mt = g->m - i0 < g->mt ? g->m - i0 : g->mt, nt = g->n - j0 < g->nt ? g->n - j0 : g->nt;
    float *y = c->y + i0 * g->n + j0;
    if (g->use_c)
        for (int64_t i = 0; i < mt; i++)
            for (int64_t j = 0; j < nt; j++)
                y[i * g->n + j] = c->c[(i0 + i) * g->si + (j0 + j) * g->sj];
    /* op(A) rows i0.. are A's rows, or A's columns when transposed; op(B)
     * columns j0.. likewise */
    int64_t lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n;
    const float *a = g->ta ? c->a + i0 : c->a + i0 * lda;
    const float *b = g->tb ? c->b + j0 * ldb : c->b + j0;
    og_sgemm_mat(g->ta, g->tb, mt, nt, g->k, g->alpha, a, lda > 0 ? lda : 1, b, ldb > 0 ? ldb : 1,
                 g->use_c ? g->beta : 0.0f, y, g->n, c->ws + (size_t)worker * c->stride);
}

static og_status gemm_fast_run(const og_kernel_call *k)
{
    const gemm_plan *g = k->state;
    const og_tensor *a = k->in[0], *b = k->in[1], *cten = k->n_in > 2 ? k->in[2] : NULL;
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    if (a->dtype != OG_FLOAT || b->dtype != OG_FLOAT || y->dtype != OG_FLOAT || a->numel != g->m * g->k ||
        b->numel != g->k * g->n || y->numel != g->m * g->n || (g->use_c && !cten))
        return og_node_err(k->node, OG_ERR_INTERNAL, "tensors do not match the planned shapes");
    gemm_ctx c = { g, a->data, b->data, g->use_c ? cten->data : NULL, y->data, k->workspace, k->workspace_stride };
    int64_t tiles = ((g->m + g->mt - 1) / g->mt) * g->tiles_n;
    og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, tiles, gemm_tile, &c);
    return OG_OK;
}

/* The value a 2-D operand is read from through the Transposes producing it
 * (each one a swap, or the identity), and whether they swap it in all:
 * the GEMM then reads the source with its trans flag flipped, no copy. */
static int gemm_source(const og_graph *gr, int v, bool *swapped)
{
    *swapped = false;
    const og_node *t;
    for (int hops = 0; hops < 8 && (t = og_value_producer(gr, v)) && t->n_inputs == 1 && t->inputs[0] >= 0; hops++) {
        int perm[2];
        og_tinfo ti;
        og_value_get(&gr->values[t->inputs[0]], &ti);
        if (!og_transpose_node_perm(t, 2, perm) || ti.dtype != OG_FLOAT || ti.shape.rank != 2)
            break;
        *swapped ^= perm[0] == 1;
        v = t->inputs[0];
    }
    return v;
}

/* The plan of Gemm node n (its inputs' types a, b, c; c NULL when absent)
 * into *g and the inputs the kernel reads into in[0..2] (-1: no C); with
 * transposed, of its output's transpose: (op(A) op(B))^T = op(B)^T op(A)^T,
 * a Gemm of B and A with the trans flags flipped (C must not count).
 * false when the fast kernel does not apply. */
static bool gemm_plan_of(const og_select_call *s, const og_node *n, const og_tinfo *a, const og_tinfo *b,
                         const og_tinfo *cc, bool transposed, gemm_plan *g, int in[3])
{
    const gemm_params *p = n->params;
    if (!a || !b || a->dtype != OG_FLOAT || b->dtype != OG_FLOAT || a->shape.rank != 2 || b->shape.rank != 2 ||
        !og_shape_known(&a->shape) || !og_shape_known(&b->shape) ||
        (cc && (cc->dtype != OG_FLOAT || !og_shape_known(&cc->shape) || cc->shape.rank > 2)))
        return false;
    *g = (gemm_plan){ .ta = p->trans_a != 0, .tb = p->trans_b != 0, .alpha = p->alpha, .beta = p->beta };
    g->m = a->shape.dims[g->ta ? 1 : 0];
    g->k = a->shape.dims[g->ta ? 0 : 1];
    g->n = b->shape.dims[g->tb ? 0 : 1];
    if (g->m < 1 || g->n < 1 || b->shape.dims[g->tb ? 1 : 0] != g->k)
        return false;
    g->use_c = cc && p->beta != 0;
    if (transposed && g->use_c)
        return false;
    if (g->use_c) {   /* right-aligned, as the reference reads C */
        int cr = cc->shape.rank;
        g->sj = cr >= 1 && cc->shape.dims[cr - 1] != 1 ? 1 : 0;
        g->si = cr == 2 && cc->shape.dims[0] != 1 ? cc->shape.dims[1] : 0;
    }
    bool sa, sb;
    in[0] = gemm_source(s->g, n->inputs[0], &sa);
    in[1] = gemm_source(s->g, n->inputs[1], &sb);
    in[2] = g->use_c ? n->inputs[2] : -1;
    g->ta ^= sa;
    g->tb ^= sb;
    if (transposed) {
        int64_t m = g->m;
        bool ta = g->ta;
        g->m = g->n;
        g->n = m;
        g->ta = !g->tb;
        g->tb = !ta;
        int t = in[0];
        in[0] = in[1];
        in[1] = t;
    }
    og_gemm_tiles(1, g->m, g->n, g->k, s->n_threads, &g->mt, &g->nt);
    g->tiles_n = (g->n + g->nt - 1) / g->nt;
    return true;
}

static og_status gemm_choose(og_select_call *s, const gemm_plan *g, const int in[3], const char *what)
{
    gemm_plan *st = og_malloc(sizeof *st);
    if (!st)
        return og_err(OG_ERR_NOMEM, "node '%s' (%s): out of memory planning its kernel", s->node->name, what);
    *st = *g;
    s->state = st;
    s->run = gemm_fast_run;
    s->kernel_name = og_isa_active() == OG_ISA_AVX512 ? "gemm_tiles_avx512"
                     : og_isa_active() == OG_ISA_AVX2 ? "gemm_tiles_avx2" : "gemm_tiles_scalar";
    s->workspace_bytes = og_gemm_workspace_bytes();
    s->new_n_in = in[2] >= 0 ? 3 : 2;
    for (int k = 0; k < s->new_n_in; k++)
        s->new_inputs[k] = in[k];
    return OG_OK;
}

static og_status gemm_select(og_select_call *s)
{
    gemm_plan g;
    int in[3];
    if (!s->out[0] || !gemm_plan_of(s, s->node, s->in[0], s->in[1], s->n_in > 2 ? s->in[2] : NULL, false, &g, in))
        return OG_OK;
    return gemm_choose(s, &g, in, "Gemm");
}

/* Transpose of a Gemm's output read by nothing else (the weight gradient
 * dW = Transpose(Gemm(X, dY, transA)) the MatMul backward emits): one Gemm
 * writing the transpose straight away. */
static og_status gemm_transposed_select(og_select_call *s)
{
    const og_node *t = s->node;
    int perm[2];
    if (!s->out[0] || t->n_inputs != 1 || t->inputs[0] < 0 || !og_transpose_node_perm(t, 2, perm) || perm[0] != 1 ||
        s->readers[t->inputs[0]] != 1)
        return OG_OK;
    const og_node *n = og_value_producer(s->g, t->inputs[0]);
    if (!n || n->op != &og_op_gemm || n->domain[0] || n->n_outputs != 1)
        return OG_OK;
    og_tinfo ti[3];
    const og_tinfo *tp[3] = { NULL, NULL, NULL };
    for (int k = 0; k < n->n_inputs && k < 3; k++)
        if (n->inputs[k] >= 0) {
            og_value_get(&s->g->values[n->inputs[k]], &ti[k]);
            tp[k] = &ti[k];
        }
    gemm_plan g;
    int in[3];
    /* only where the swapped product is the better-shaped one: more
     * columns than rows (1024 x 256 x 1024 runs about 10 % slower than
     * 256 x 1024 x 1024, measured; the plain Transpose costs less) */
    if (!gemm_plan_of(s, n, tp[0], tp[1], tp[2], true, &g, in) || g.m > g.n)
        return OG_OK;
    return gemm_choose(s, &g, in, "Transpose of a Gemm");
}

const og_pattern og_pattern_gemm_transposed = {
    .root_op = "Transpose",
    .name = "gemm_transposed",
    .select = gemm_transposed_select,
};

/* FLOPs: 2*M*N*K for A*B (K = numel(A) / M whichever way A is stored),
 * plus M*N for adding C. */
static og_status gemm_cost(og_cost_call *c)
{
    int64_t m = c->out[0]->shape.dims[0], mn = og_cost_numel(&c->out[0]->shape);
    int64_t k = m > 0 ? og_cost_numel(&c->in[0]->shape) / m : 0;
    c->flops = og_cost_add(og_cost_mul(og_cost_mul(2, mn), k), c->n_in > 2 && c->in[2] ? mn : 0);
    return OG_OK;
}

const og_op og_op_gemm = {
    .name = "Gemm",
    .domain = "",
    .since_version = 1,
    .min_inputs = 2, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x7,
    .diff_outputs = 0x1,
    .attrs = gemm_attrs,
    .n_attrs = (int)(sizeof gemm_attrs / sizeof gemm_attrs[0]),
    .params_size = sizeof(gemm_params),
    .infer = gemm_infer,
    .run = gemm_run,
    .backward = gemm_backward,
    .select = gemm_select,
    .cost = gemm_cost,
};
