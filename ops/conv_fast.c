/* SPDX-License-Identifier: MIT */
/* conv_fast.c — fast float32 convolution kernels chosen at plan time
 * (2-D, and 1-D as a unit height; anything else keeps conv.c's and
 * convtranspose.c's reference kernels).
 *
 * Conv forward (og_conv_fast_select):
 *   conv_rows       (conv_direct.c, tried first on AVX-512) wide rows of 8+
 *                   output channels: the GEMM micro-kernel on padded input
 *                   rows, no packing; also ConvTranspose of stride 1.
 *   conv_igemm      implicit GEMM: per task (image, group, block of output
 *                   pixels) Y[Mg, pixels] = W_g[Mg, Cg*R*S] * B, B packed by
 *                   pack_fwd straight from X in the GEMM's panel layout (no
 *                   im2col buffer; padding reads as zero; each panel's
 *                   pixels copied as row runs, memcpy at stride 1).
 *   conv_igemm_batched  small planes (fewer pixels than 4 GEMM panels): a
 *                   task's pixels span images, its result goes through a
 *                   scratch block into Y (the GEMM's N is not a sliver).
 *   conv_pointwise  1x1, stride 1, no pads: B is X itself, a plain matrix.
 *   conv_depthwise / conv_direct_c1 / conv_direct_m1  Cg == 1 (depthwise,
 *                   any channel multiplier; single-channel input such as
 *                   LeNet's first layer) or Mg == 1 with few channels: a
 *                   direct kernel, one output plane per task. Horizontal
 *                   stride 1: register blocks of 2 rows x 4 vectors (4 x 2
 *                   on narrow planes) of output columns, every tap a
 *                   broadcast weight times a masked load of the input row
 *                   (masks tabled per plane), AVX-512 or AVX2; other
 *                   strides: AVX-512 four output rows of 16 columns with
 *                   gathers; else portable C; by og_isa_active.
 * ConvTranspose (og_convt_fast_select), which is what dX of a Conv is:
 *   convt_s1_igemm(_batched) / convt_s1_direct  stride 1: a correlation of
 *                   X with the flipped kernel, input and output channels
 *                   exchanged, begin pads (R-1)*d - pad: the forward kernels
 *                   with the weights flipped per run into each worker's
 *                   scratch (weights change between training steps; a
 *                   plan may run on several threads at once).
 *   convt_col       stride > 1: per task (image, group, block of output
 *                   channels) col = W_g^T X_g for a block of input pixels,
 *                   then scatter-added onto the output (col2im); the output
 *                   channel blocks keep tasks from writing the same cells.
 * Conv weight gradient (og_pattern_conv_grad_w, rooted at Transpose):
 *   Transpose(1,0,2,3) <- Conv(Xt, dYt) <- Transpose(1,0,2,3) of dY, with Xt
 *   the swap of X (group 1) or its Reshape/Transpose/Reshape regrouping
 *   (groups), exactly what conv.c's backward rule emits, computed as
 *   dW_g[Mg, Cg*R*S] = sum over images n of dY_n,g[Mg, P*Q] * B_n[P*Q, Cg*R*S]
 *   with B_n the transposed im2col of X_n: built in chunks of rows by
 *   clipped copies and read by the GEMM as a transposed matrix
 *   (conv_grad_w_igemm), X itself for 1x1 (conv_grad_w_pointwise), a
 *   direct dot-product kernel for Cg == 1 (conv_grad_w_direct), or, for
 *   few dW columns (C*R*S <= 96, a first layer of 3x3 or 5x5 taps) on
 *   AVX-512, a pixel reduction over X split into its stride phases (conv_grad_w_pixred,
 *   tasks own blocks of dW rows), or, at stride 1 on large planes or for
 *   small weights, dot products of zero-padded rows of X and dY
 *   (conv_grad_w_rows, ops/conv_grad_w_rows.c; AVX-512 or AVX2). Tasks own
 *   blocks of dW's columns and rows and add the images in order, so each
 *   dW element is reduced by one task in a fixed order.
 *
 * Determinism: tasks come from the shape alone and each output element is
 * computed by one task, so any thread count gives the same bits (ISAs may
 * differ in the last bits). Every kernel writes every output element.
 * Scratch comes from the per-worker workspace (at most CF_MAX_WS bytes);
 * the only plan-time allocation is the state (geometry and planned shapes). */
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"
#include "conv_fast.h"

#define CF_MAX_WS ((size_t)8 << 20)
#define CF_ALIGN(x) (((x) + 63) & ~(size_t)63)
#define CF_MAX_PIX 2048   /* output pixels per forward task */

typedef enum cf_kind { CF_IGEMM, CF_POINTWISE, CF_DEPTHWISE, CF_CONVT_S1, CF_CONVT_COL, CF_GRAD_W } cf_kind;

typedef struct cf_state {
    cf_kind kind;
    og_cf_geom g;         /* the convolution run (for CF_CONVT_S1 the equivalent forward one) */
    int64_t pix, n_pix;   /* forward: pixels per task, blocks per (image, group) */
    int64_t mb, n_mb;     /* output-channel (dW: row) block and blocks */
    int64_t jb, n_jb;     /* convt_col: input pixels per GEMM; dW: columns per task */
    size_t gemm_ws;       /* bytes of GEMM scratch at the start of each worker's workspace */
    /* shapes the kernel was planned for, re-checked at run time */
    og_cf_shapes sh;
    bool direct;          /* CF_GRAD_W: the Cx == 1 kernel */
    bool dws_scatter;     /* CF_CONVT_COL: a depthwise one by lanes across channels (dws_task) */
    bool dws_w;           /* CF_GRAD_W: depthwise by lanes across channels (dwsw_task), fg its geometry */
    og_cf_geom fg;
    int64_t kcb;          /* CF_GRAD_W: dY pixels per im2col chunk (0: pack_dw callback) */
    /* CF_GRAD_W: the images in n_ip fixed parts (from the shape), each summed
     * by its own tasks, part 0 into dW and part p into partial buffer p - 1
     * at part_off of worker 0's workspace, then added in part order: dW of
     * few columns gets its threads without each packing dY again */
    int64_t n_ip;
    size_t part_off;
    size_t bt_off;        /* CF_GRAD_W: offset of the im2col chunk in a worker's workspace */
    bool plain_b;         /* CF_GRAD_W of a pointwise Conv: B is X_n transposed, no packing callback */
    bool batched;         /* forward GEMM over pixels of several images (small planes) */
    size_t tmp_off;       /* batched: offset of the [mb, pix] result block in a worker's workspace */
    bool bpre;            /* batched, several output-channel blocks: B packed once per run, shared */
    size_t bpre_off;      /* bpre: offset of the packed B of every pixel block in worker 0's workspace */
    int64_t bpre_ld;      /* bpre: a pixel block's pixels rounded up to whole GEMM panels */
    size_t wt_off;        /* CF_CONVT_S1: offset in a worker's workspace of its flipped weight block */
    /* CF_GRAD_W by pixel reduction (few dW columns; gw_pixred_*) */
    bool pixred;
    int64_t pr_rows, pr_lp;   /* rows and row length of a phase plane of X */
    int64_t pr_img;           /* floats of one image's phase planes */
    int64_t pr_ng;            /* images per group (phase planes of a group in worker 0's scratch) */
    int64_t pr_jpad;          /* dW columns rounded up to the column block */
    size_t pr_phase_off;      /* offset of the phase planes in worker 0's workspace */
    bool rows;                /* CF_GRAD_W by padded rows (conv_grad_w_rows.c) */
    og_gwr_plan gwr;
} cf_state;

static int64_t cf_min(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t cf_max(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t cf_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* The direct kernel: one input channel per output channel, or one output
 * channel per group over a few input channels (LeNet's dX of its first
 * layer), where a GEMM would be a matrix-vector product. */
static bool use_direct(const og_cf_geom *g)
{
    /* one input channel into 8 or more output channels (Caffe LeNet's
     * first layer, 20): the implicit GEMM, tiny K and all, measured 4x
     * faster forward and 3x for dW; with 6 (LeNet-5) the direct kernel
     * still wins forward and they tie on dW */
    if (g->Cg == 1 && g->G == 1 && g->Mg >= 8)
        return false;
    return g->Cg == 1 || (g->Mg == 1 && g->Cg <= 64 && g->Cg * g->R * g->S <= 4096);
}

bool og_cf_geom_from(og_cf_geom *g, const og_spatial *sp, int64_t N, int64_t C, int64_t M, int64_t G)
{
    memset(g, 0, sizeof *g);
    if (sp->n < 1 || sp->n > 2 || N < 0 || C < 1 || M < 1 || G < 1 || C % G || M % G)
        return false;
    int a = sp->n == 2 ? 0 : -1, b = sp->n - 1;   /* 1-D: the height axis is a unit one */
    g->N = N, g->C = C, g->M = M, g->G = G, g->Cg = C / G, g->Mg = M / G;
    g->H = a < 0 ? 1 : sp->in[a];
    g->R = a < 0 ? 1 : sp->kernel[a];
    g->P = a < 0 ? 1 : sp->out[a];
    g->sh = a < 0 ? 1 : sp->stride[a];
    g->dh = a < 0 ? 1 : sp->dilation[a];
    g->ph = a < 0 ? 0 : sp->pad_begin[a];
    g->W = sp->in[b], g->S = sp->kernel[b], g->Q = sp->out[b];
    g->sw = sp->stride[b], g->dw = sp->dilation[b], g->pw = sp->pad_begin[b];
    return g->H > 0 && g->W > 0 && g->R > 0 && g->S > 0 && g->P > 0 && g->Q > 0 && g->ph >= 0 && g->pw >= 0;
}

/* ---- shape checks ------------------------------------------------------- */

static bool tinfo_float_known(const og_tinfo *t)
{
    return t && t->dtype == OG_FLOAT && og_shape_known(&t->shape) && t->shape.rank <= OG_MAX_RANK;
}

/* Allocates the state and records the planned shapes of in[0], in[1], out[0]. */
static cf_state *state_new(og_select_call *s, size_t extra)
{
    cf_state *st = og_calloc(1, sizeof(cf_state) + extra);
    if (!st)
        return NULL;
    og_cf_shapes_of(&st->sh, s, false);
    return st;
}

void og_cf_shapes_of(og_cf_shapes *sh, const og_select_call *s, bool bias)
{
    sh->rank = s->in[0]->shape.rank;
    sh->bias = bias;
    memcpy(sh->x, s->in[0]->shape.dims, sizeof(int64_t) * (size_t)sh->rank);
    memcpy(sh->w, s->in[1]->shape.dims, sizeof(int64_t) * (size_t)sh->rank);
    memcpy(sh->y, s->out[0]->shape.dims, sizeof(int64_t) * (size_t)sh->rank);
}

void og_cf_shapes_set(og_cf_shapes *sh, const int64_t *x, const int64_t *w, const int64_t *y)
{
    sh->rank = 4;
    sh->bias = false;
    memcpy(sh->x, x, sizeof(int64_t) * 4);
    memcpy(sh->w, w, sizeof(int64_t) * 4);
    memcpy(sh->y, y, sizeof(int64_t) * 4);
}

static bool dims_eq(const og_tensor *t, int rank, const int64_t *d)
{
    if (!t || t->dtype != OG_FLOAT || t->rank != rank)
        return false;
    for (int i = 0; i < rank; i++)
        if (t->dims[i] != d[i])
            return false;
    return true;
}

bool og_cf_shapes_match(const og_cf_shapes *sh, const og_kernel_call *k)
{
    bool ok = k->n_in >= 2 && dims_eq(k->in[0], sh->rank, sh->x) && dims_eq(k->in[1], sh->rank, sh->w) &&
              k->n_out >= 1 && dims_eq(k->out[0], sh->rank, sh->y);
    if (ok && sh->bias)
        ok = k->n_in > 2 && k->in[2] && k->in[2]->dtype == OG_FLOAT && k->in[2]->numel == sh->y[1];
    return ok;
}

static og_status check_call(const og_kernel_call *k, const char *op, const cf_state *st)
{
    bool ok = st && og_cf_shapes_match(&st->sh, k);
    if (ok && k->workspace_stride && k->n_threads > 1 && k->workspace_stride < st->gemm_ws)
        ok = false;
    if (!ok)
        return og_err(OG_ERR_INTERNAL, "node '%s' (%s): tensors do not match the shapes the fast kernel was "
                                       "planned for", k->node->name, op);
    return OG_OK;
}

/* ---- forward implicit GEMM ---------------------------------------------- */

typedef struct fwd_pack {
    const float *x;        /* the group's first input plane */
    const og_cf_geom *g;
    const int64_t *ih0, *iw0;   /* per task pixel: top-left input cell of its window */
    const int64_t *xoff;        /* batched tasks: per pixel, its image's offset in X; else NULL */
    og_isa isa;                 /* the GEMM's (vector packing at stride 1) */
} fwd_pack;

#define CF_MAX_NR 64   /* widest GEMM panel the packers keep per-column tables for */
#define CF_MAX_NC 512  /* widest B block pack_fwd_s1_avx512 keeps runs for (the GEMM's is 480) */

/* A panel's pixels as runs in one input row (see pack_fwd). */
typedef struct fwd_seg {
    int a, len;          /* first panel column, length */
    int64_t ih, iw;      /* input cell of its first pixel at tap (0, 0) */
    const float *x;      /* its image's plane of channel 0 */
} fwd_seg;

static int fwd_segs(const fwd_pack *ctx, int64_t j, int w_, fwd_seg *sg)
{
    const int64_t *ih0 = ctx->ih0 + j, *iw0 = ctx->iw0 + j, *xo = ctx->xoff ? ctx->xoff + j : NULL;
    int n = 0;
    for (int jj = 0; jj < w_; jj++)
        if (jj == 0 || ih0[jj] != ih0[jj - 1] || iw0[jj] != iw0[jj - 1] + ctx->g->sw ||
            (xo && xo[jj] != xo[jj - 1])) {
            sg[n] = (fwd_seg){ .a = jj, .ih = ih0[jj], .iw = iw0[jj], .x = ctx->x + (xo ? xo[jj] : 0) };
            n++;
        }
    for (int i = 0; i < n; i++)
        sg[i].len = (i + 1 < n ? sg[i + 1].a : w_) - sg[i].a;
    return n;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* pack_fwd at horizontal stride 1 with vectors: each run of a B row is
 * masked loads straight from the input row (lanes in the padding masked
 * off, so they read nothing) and masked stores into the panel. The same
 * values as the scalar copy: a copy, bit for bit. The per-call memcpy of
 * short runs (8 to 56 floats) cost about a quarter of the 3x3 forward. */
static inline __attribute__((target("avx512f"), always_inline)) __mmask16 cf_m16(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

__attribute__((target("avx512f"))) static void pack_fwd_s1_avx512(const fwd_pack *ctx, int64_t k0, int64_t kc,
                                                                   int64_t j0, int64_t nc, int nr, float *dst)
{
    const og_cf_geom *g = ctx->g;
    const int64_t H = g->H, W = g->W, RS = g->R * g->S, HW = H * W;
    /* the runs of every panel of the block, then one sweep per B row across
     * all panels: consecutive runs read consecutive pieces of one input
     * row, which the prefetcher follows (panel by panel, every B row of a
     * panel was a fresh, far-apart row of X: the loads missed) */
    fwd_seg sg[CF_MAX_NC];
    int64_t off[CF_MAX_NC];
    int n_seg = 0;
    int tail = -1, tail_w = 0;   /* the last panel's zero columns */
    for (int64_t jp = 0; jp < nc; jp += nr) {
        int w_ = (int)cf_min(nr, nc - jp);
        int n = fwd_segs(ctx, j0 + jp, w_, sg + n_seg);
        for (int i = 0; i < n; i++)
            off[n_seg + i] = (jp / nr) * kc * nr + sg[n_seg + i].a;
        n_seg += n;
        if (w_ < nr)
            tail = (int)(jp / nr), tail_w = w_;
    }
    const __m512 z = _mm512_setzero_ps();
    int64_t c = k0 / RS, rs = k0 % RS, r = rs / g->S, s = rs % g->S;
    for (int64_t kk = 0; kk < kc; kk++) {
        float *d = dst + kk * nr;
        int64_t oh = r * g->dh, ow = s * g->dw, co = c * HW;
        for (int i = 0; i < n_seg; i++) {
            const fwd_seg *q = &sg[i];
            float *o = d + off[i];
            int64_t ih = q->ih + oh, iw = q->iw + ow;
            if ((uint64_t)ih >= (uint64_t)H) {
                for (int e = 0; e < q->len; e += 16)
                    _mm512_mask_storeu_ps(o + e, cf_m16(q->len - e), z);
                continue;
            }
            /* valid e: 0 <= iw + e < W */
            int64_t lo = -iw, hi = W - iw;
            uintptr_t xr = (uintptr_t)(q->x + co + ih * W) + (uintptr_t)(iw * 4);
            for (int e = 0; e < q->len; e += 16) {
                __mmask16 mv = (__mmask16)(cf_m16(hi - e) & ~cf_m16(lo - e) & cf_m16(q->len - e));
                __m512 v = _mm512_maskz_loadu_ps(mv, (const void *)(xr + (uintptr_t)e * 4));
                _mm512_mask_storeu_ps(o + e, cf_m16(q->len - e), v);
            }
        }
        if (tail >= 0) {
            float *t = d + (int64_t)tail * kc * nr;
            for (int e = tail_w; e < nr; e += 16)
                _mm512_mask_storeu_ps(t + e, cf_m16(nr - e), z);
        }
        if (++s == g->S) {
            s = 0;
            if (++r == g->R) {
                r = 0;
                c++;
            }
        }
    }
}

/* The same with 8-lane AVX2 masked loads (vmaskmovps: masked-off lanes do
 * not fault either). */
static inline __attribute__((target("avx2"), always_inline)) __m256i cf_m8(int64_t lo, int64_t hi)
{
    /* lanes l with lo <= l < hi */
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int32_t l = (int32_t)(lo < -1 ? -1 : lo > 8 ? 8 : lo), h = (int32_t)(hi < 0 ? 0 : hi > 9 ? 9 : hi);
    __m256i ge = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(l - 1));
    __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32(h), idx);
    return _mm256_and_si256(ge, lt);
}

__attribute__((target("avx2"))) static void pack_fwd_s1_avx2(const fwd_pack *ctx, int64_t k0, int64_t kc,
                                                              int64_t j0, int64_t nc, int nr, float *dst)
{
    const og_cf_geom *g = ctx->g;
    const int64_t H = g->H, W = g->W, RS = g->R * g->S, HW = H * W;
    fwd_seg sg[CF_MAX_NR];
    const __m256 z = _mm256_setzero_ps();
    for (int64_t jp = 0; jp < nc; jp += nr) {
        float *panel = dst + (jp / nr) * kc * nr;
        int w_ = (int)cf_min(nr, nc - jp);
        int n_seg = fwd_segs(ctx, j0 + jp, w_, sg);
        int64_t c = k0 / RS, rs = k0 % RS, r = rs / g->S, s = rs % g->S;
        for (int64_t kk = 0; kk < kc; kk++) {
            float *d = panel + kk * nr;
            int64_t oh = r * g->dh, ow = s * g->dw, co = c * HW;
            for (int i = 0; i < n_seg; i++) {
                const fwd_seg *q = &sg[i];
                float *o = d + q->a;
                int64_t ih = q->ih + oh, iw = q->iw + ow;
                bool out = (uint64_t)ih >= (uint64_t)H;
                int64_t lo = -iw, hi = W - iw;
                uintptr_t xr = out ? 0 : (uintptr_t)(q->x + co + ih * W) + (uintptr_t)(iw * 4);
                for (int e = 0; e < q->len; e += 8) {
                    __m256i ms = cf_m8(0, q->len - e);
                    __m256 v = z;
                    if (!out) {
                        int64_t l = lo - e > 0 ? lo - e : 0, h = hi - e < q->len - e ? hi - e : q->len - e;
                        v = _mm256_maskload_ps((const float *)(xr + (uintptr_t)e * 4), cf_m8(l, h));
                    }
                    _mm256_maskstore_ps(o + e, ms, v);
                }
            }
            for (int e = w_; e < nr; e += 8)
                _mm256_maskstore_ps(d + e, cf_m8(0, nr - e), z);
            if (++s == g->S) {
                s = 0;
                if (++r == g->R) {
                    r = 0;
                    c++;
                }
            }
        }
    }
}
#endif

/* B[k, j] = X[c, ih0[j] + r*dh, iw0[j] + s*dw] for k = (c, r, s), written in
 * panel order (kernel.h). A panel's pixels split into runs lying in one
 * output row (so in one input row, stepping by the stride); per B row each
 * run is a clipped copy, zeros where it hangs into the padding. */
static void pack_fwd(void *vctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float *dst)
{
    const fwd_pack *ctx = vctx;
    const og_cf_geom *g = ctx->g;
    if (g->R == 1 && g->S == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 && g->P == g->H &&
        g->Q == g->W) {
        /* 1x1 without pads (small planes batched across images): every
         * column is one input cell, its offset tabled once per panel; the
         * run-finding of the general path cost twice the GEMM on 2x2 planes */
        const int64_t HW = g->H * g->W;
        for (int64_t jp = 0; jp < nc; jp += nr) {
            float *panel = dst + (jp / nr) * kc * nr;
            int w_ = (int)cf_min(nr, nc - jp);
            int64_t src[CF_MAX_NR];
            for (int jj = 0; jj < w_; jj++) {
                int64_t j = j0 + jp + jj;
                src[jj] = (ctx->xoff ? ctx->xoff[j] : 0) + ctx->ih0[j] * g->W + ctx->iw0[j];
            }
            for (int64_t kk = 0; kk < kc; kk++) {
                const float *xc = ctx->x + (k0 + kk) * HW;
                float *d = panel + kk * nr;
                int jj = 0;
                for (; jj < w_; jj++)
                    d[jj] = xc[src[jj]];
                for (; jj < nr; jj++)
                    d[jj] = 0;
            }
        }
        return;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    if (g->sw == 1 && ctx->isa == OG_ISA_AVX512 && nc <= CF_MAX_NC) {
        pack_fwd_s1_avx512(ctx, k0, kc, j0, nc, nr, dst);
        return;
    }
    if (g->sw == 1 && ctx->isa == OG_ISA_AVX2) {
        pack_fwd_s1_avx2(ctx, k0, kc, j0, nc, nr, dst);
        return;
    }
#endif
    const int64_t H = g->H, W = g->W, RS = g->R * g->S, HW = H * W, sw = g->sw;
    int seg_start[CF_MAX_NR + 1], n_seg;
    for (int64_t jp = 0; jp < nc; jp += nr) {
        float *panel = dst + (jp / nr) * kc * nr;
        int w_ = (int)cf_min(nr, nc - jp);
        const int64_t *ih0 = ctx->ih0 + j0 + jp, *iw0 = ctx->iw0 + j0 + jp;
        n_seg = 0;
        const int64_t *xo = ctx->xoff ? ctx->xoff + j0 + jp : NULL;
        for (int jj = 0; jj < w_; jj++)
            if (jj == 0 || ih0[jj] != ih0[jj - 1] || iw0[jj] != iw0[jj - 1] + sw || (xo && xo[jj] != xo[jj - 1]))
                seg_start[n_seg++] = jj;
        seg_start[n_seg] = w_;
        int64_t c = k0 / RS, rs = k0 % RS, r = rs / g->S, s = rs % g->S;
        for (int64_t kk = 0; kk < kc; kk++) {
            float *d = panel + kk * nr;
            const float *xc = ctx->x + c * HW;
            int64_t oh = r * g->dh, ow = s * g->dw;
            for (int sg = 0; sg < n_seg; sg++) {
                int a = seg_start[sg], len = seg_start[sg + 1] - a;
                float *o = d + a;
                int64_t ih = ih0[a] + oh, iw = iw0[a] + ow;
                if ((uint64_t)ih >= (uint64_t)H) {
                    for (int e = 0; e < len; e++)
                        o[e] = 0;
                    continue;
                }
                /* elements e with 0 <= iw + e*sw < W */
                int64_t lo = iw >= 0 ? 0 : cf_cdiv(-iw, sw);
                int64_t hi = iw > W - 1 ? 0 : cf_min(len, (W - 1 - iw) / sw + 1);
                if (hi < lo)
                    hi = lo;
                if (lo > len)
                    lo = hi = len;
                const float *xr = xc + (xo ? xo[a] : 0) + ih * W + iw;
                for (int64_t e = 0; e < lo; e++)
                    o[e] = 0;
                if (sw == 1)
                    memcpy(o + lo, xr + lo, sizeof(float) * (size_t)(hi - lo));
                else
                    for (int64_t e = lo; e < hi; e++)
                        o[e] = xr[e * sw];
                for (int64_t e = hi; e < len; e++)
                    o[e] = 0;
            }
            for (int jj = w_; jj < nr; jj++)
                d[jj] = 0;
            if (++s == g->S) {
                s = 0;
                if (++r == g->R) {
                    r = 0;
                    c++;
                }
            }
        }
    }
}

struct fwd_job;
typedef struct fwd_job {
    const cf_state *st;
    const float *x, *w, *b;
    float *y;
    char *ws;
    size_t stride;
    int plane;     /* the direct kernel's plane function (CF_PLANE_*) */
} fwd_job;

enum { CF_PLANE_C, CF_PLANE_AVX512, CF_PLANE_S1_AVX512, CF_PLANE_S1_AVX2, CF_PLANE_3X3_AVX512 };

/* The flipped forward weights of ConvTranspose for (group gi, output
 * channels m0..m0+mb) in this worker's scratch: W [C, Mg, R, S] ->
 * [mb, Cg*R*S], kernel reversed. The block's tag (gm) sits in front of it,
 * reset by run_fwd each run, so a worker redoes it only when its tasks move
 * to another block. */
static const float *flip_block(const struct fwd_job *j, const cf_state *st, char *ws, int64_t gm, int64_t gi,
                               int64_t m0, int64_t mb);

static void fwd_task(void *arg, int64_t t, int worker)
{
    const fwd_job *j = arg;
    const cf_state *st = j->st;
    const og_cf_geom *g = &st->g;
    int64_t PQ = g->P * g->Q, HW = g->H * g->W, K = g->Cg * g->R * g->S;
    /* t = ((g, m block), image, pixel block): tasks sharing a weight block
     * are adjacent, so a worker flips ConvTranspose weights once per block */
    int64_t blk = t % st->n_pix, rest = t / st->n_pix, n = rest % g->N, gm = rest / g->N;
    int64_t mblk = gm % st->n_mb, gi = gm / st->n_mb;
    int64_t p0 = blk * st->pix, np = cf_min(st->pix, PQ - p0);
    int64_t m0 = mblk * st->mb, mb = cf_min(st->mb, g->Mg - m0);
    char *ws = j->ws + (size_t)worker * j->stride;
    const float *xg = j->x + (n * g->C + gi * g->Cg) * HW;
    float *yg = j->y + (n * g->M + gi * g->Mg + m0) * PQ + p0;
    const float *wa = j->w + (gi * g->Mg + m0) * K;
    int64_t lda = K;
    bool ta = false;
    if (st->kind == CF_CONVT_S1 && K == g->Cg) {
        /* 1x1 ConvTranspose: W [C, Mg] is the forward weights' transpose */
        wa = j->w + gi * g->Cg * g->Mg + m0, lda = g->Mg, ta = true;
    } else if (st->kind == CF_CONVT_S1) {
        /* ConvTranspose W [C, Mg, R, S] -> this block of the forward [M, Cg*R*S],
         * kernel flipped; per task, so the weights of this run are used and
         * concurrent runs of one plan share nothing (cost: 1/pixels of the GEMM) */
        wa = flip_block(j, st, ws, gi * st->n_mb + mblk, gi, m0, mb);
    }
    og_gemm_b B = { 0 };
    fwd_pack pk;
    if (st->kind == CF_POINTWISE) {
        B.data = xg + p0;
        B.ld = HW;
    } else {
        int64_t *ih0 = (int64_t *)(ws + st->gemm_ws), *iw0 = ih0 + st->pix;
        int64_t oh = p0 / g->Q, ow = p0 % g->Q;
        for (int64_t i = 0; i < np; i++) {
            ih0[i] = oh * g->sh - g->ph;
            iw0[i] = ow * g->sw - g->pw;
            if (++ow == g->Q) {
                ow = 0;
                oh++;
            }
        }
        pk = (fwd_pack){ .x = xg, .g = g, .ih0 = ih0, .iw0 = iw0, .isa = og_gemm_isa() };
        B.pack = pack_fwd;
        B.ctx = &pk;
    }
    og_sgemm(ta, mb, np, K, 1.0f, wa, lda, &B, 0.0f, yg, PQ, ws);
    if (j->b)
        for (int64_t m = 0; m < mb; m++) {
            float bv = j->b[gi * g->Mg + m0 + m], *row = yg + m * PQ;
            for (int64_t i = 0; i < np; i++)
                row[i] += bv;
        }
}

/* Pixel block blk of a batched forward: its pixels' window origins and
 * image offsets (in the worker's scratch) for pack_fwd. */
static fwd_pack batched_cols(const fwd_job *j, int64_t blk, int64_t gi, char *ws, int64_t *np)
{
    const cf_state *st = j->st;
    const og_cf_geom *g = &st->g;
    int64_t PQ = g->P * g->Q, HW = g->H * g->W, j0 = blk * st->pix;
    *np = cf_min(st->pix, g->N * PQ - j0);
    int64_t *ih0 = (int64_t *)(ws + st->gemm_ws), *iw0 = ih0 + st->pix, *xoff = iw0 + st->pix;
    for (int64_t i = 0; i < *np; i++) {
        int64_t jg = j0 + i, n = jg / PQ, p = jg % PQ;
        ih0[i] = (p / g->Q) * g->sh - g->ph;
        iw0[i] = (p % g->Q) * g->sw - g->pw;
        xoff[i] = n * g->C * HW;
    }
    return (fwd_pack){ .x = j->x + gi * g->Cg * HW, .g = g, .ih0 = ih0, .iw0 = iw0, .xoff = xoff,
                       .isa = og_gemm_isa() };
}

/* bpre: the packed B of (group gi, pixel block blk) in the shared buffer,
 * K blocks one after another, each laid out as og_sgemm packs it. */
static float *bpre_block(const fwd_job *j, int64_t gi, int64_t blk)
{
    const cf_state *st = j->st;
    int64_t K = st->g.Cg * st->g.R * st->g.S;
    return (float *)(j->ws + st->bpre_off) + (gi * st->n_pix + blk) * K * st->bpre_ld;
}

/* bpre: task (group, pixel block, K block) packs its part, before any GEMM. */
static void bpre_task(void *arg, int64_t t, int worker)
{
    const fwd_job *j = arg;
    const cf_state *st = j->st;
    int64_t K = st->g.Cg * st->g.R * st->g.S, nkb = cf_cdiv(K, OG_GEMM_KC);
    int64_t kb = t % nkb, blk = t / nkb % st->n_pix, gi = t / nkb / st->n_pix, np;
    fwd_pack pk = batched_cols(j, blk, gi, j->ws + (size_t)worker * j->stride, &np);
    int64_t k0 = kb * OG_GEMM_KC;
    pack_fwd(&pk, k0, cf_min(OG_GEMM_KC, K - k0), 0, np, og_gemm_nr(), bpre_block(j, gi, blk) + k0 * st->bpre_ld);
}

typedef struct bpre_src {
    const float *b;   /* this pixel block's packed B */
    int64_t ld;       /* its padded width */
} bpre_src;

/* The GEMM's B pack callback under bpre: a copy of the packed block. */
static void pack_bpre(void *vctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float *dst)
{
    const bpre_src *p = vctx;
    memcpy(dst, p->b + k0 * p->ld + j0 * kc, sizeof(float) * (size_t)(cf_cdiv(nc, nr) * nr * kc));
}

/* Small output planes (fewer pixels than a few GEMM panels): a task takes
 * a block of pixels across images (n, p) of one group, so the GEMM's N is
 * not a fraction of a panel; its result goes to a scratch block and is
 * copied (with the bias) into each image's rows of Y. */
static void fwd_batched_task(void *arg, int64_t t, int worker)
{
    const fwd_job *j = arg;
    const cf_state *st = j->st;
    const og_cf_geom *g = &st->g;
    int64_t PQ = g->P * g->Q, K = g->Cg * g->R * g->S;
    int64_t blk = t % st->n_pix, rest = t / st->n_pix, mblk = rest % st->n_mb, gi = rest / st->n_mb;
    int64_t j0 = blk * st->pix, np;
    int64_t m0 = mblk * st->mb, mb = cf_min(st->mb, g->Mg - m0);
    char *ws = j->ws + (size_t)worker * j->stride;
    float *tmp = (float *)(ws + st->tmp_off);
    fwd_pack pk = batched_cols(j, blk, gi, ws, &np);
    const float *wa = j->w + (gi * g->Mg + m0) * K;
    int64_t lda = K;
    bool ta = false;
    if (st->kind == CF_CONVT_S1 && K == g->Cg) {   /* as in fwd_task */
        wa = j->w + gi * g->Cg * g->Mg + m0, lda = g->Mg, ta = true;
    } else if (st->kind == CF_CONVT_S1) {
        /* as in fwd_task: this block of the flipped forward weights */
        wa = flip_block(j, st, ws, gi * st->n_mb + mblk, gi, m0, mb);
    }
    og_gemm_b B = { .pack = pack_fwd, .ctx = &pk };
    bpre_src pre = { .b = st->bpre ? bpre_block(j, gi, blk) : NULL, .ld = st->bpre_ld };
    if (st->bpre)
        B = (og_gemm_b){ .pack = pack_bpre, .ctx = &pre };
    og_sgemm(ta, mb, np, K, 1.0f, wa, lda, &B, 0.0f, tmp, np, ws);
    for (int64_t i = 0; i < np;) {
        int64_t jg = j0 + i, n = jg / PQ, p = jg % PQ, len = cf_min(np - i, PQ - p);
        for (int64_t m = 0; m < mb; m++) {
            float bv = j->b ? j->b[gi * g->Mg + m0 + m] : 0.0f;
            float *yr = j->y + (n * g->M + gi * g->Mg + m0 + m) * PQ + p;
            const float *src = tmp + m * np + i;
            for (int64_t e = 0; e < len; e++)
                yr[e] = src[e] + bv;
        }
        i += len;
    }
}

static const float *flip_block(const fwd_job *j, const cf_state *st, char *ws, int64_t gm, int64_t gi,
                               int64_t m0, int64_t mb)
{
    const og_cf_geom *g = &st->g;
    int64_t RS = g->R * g->S, K = g->Cg * RS;
    int64_t *tag = (int64_t *)(ws + st->wt_off);
    float *wt = (float *)(ws + st->wt_off + 64);
    if (*tag == gm)
        return wt;
    /* blocks of 16 input channels: each dst row gets 16*RS contiguous
     * floats per visit and the 16 source rows are read forward (row by row
     * over c, every m's RS floats scattered K apart, missed the cache on
     * nearly every write: as long as the GEMM on 2x2 planes) */
    for (int64_t c0 = 0; c0 < g->Cg; c0 += 16) {
        int64_t c1 = cf_min(g->Cg, c0 + 16);
        for (int64_t m = 0; m < mb; m++)
            for (int64_t c = c0; c < c1; c++) {
                const float *src = j->w + ((gi * g->Cg + c) * g->Mg + m0 + m) * RS;
                float *dst = wt + m * K + c * RS;
                for (int64_t i = 0; i < RS; i++)
                    dst[i] = src[RS - 1 - i];
            }
    }
    *tag = gm;
    return wt;
}

static void run_fwd(const og_kernel_call *k, const cf_state *st, const float *w)
{
    const og_cf_geom *g = &st->g;
    fwd_job j = { .st = st, .x = k->in[0]->data, .w = w, .b = st->sh.bias ? k->in[2]->data : NULL,
                  .y = k->out[0]->data, .ws = k->workspace, .stride = k->workspace_stride };
    if (st->kind == CF_CONVT_S1)
        for (int w = 0; w < (k->n_threads > 0 ? k->n_threads : 1); w++)
            *(int64_t *)((char *)k->workspace + (size_t)w * k->workspace_stride + st->wt_off) = -1;
    if (st->bpre)
        og_parallel_for(k->n_threads > 0 ? k->n_threads : 1,
                        g->G * st->n_pix * cf_cdiv(g->Cg * g->R * g->S, OG_GEMM_KC), bpre_task, &j);
    if (st->batched)
        og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, g->G * st->n_mb * st->n_pix, fwd_batched_task, &j);
    else
        og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, g->N * g->G * st->n_mb * st->n_pix, fwd_task, &j);
}

/* ---- direct kernel for Cg == 1 ------------------------------------------ */

/* y[q] += wv * x[q*sw] over q in [lo, hi): contiguous for stride 1. */
static void axpy_row(float *restrict y, const float *restrict x, float wv, int64_t lo, int64_t hi, int64_t sw)
{
    if (sw == 1) {
        for (int64_t q = lo; q < hi; q++)
            y[q] += wv * x[q];
    } else {
        for (int64_t q = lo; q < hi; q++)
            y[q] += wv * x[q * sw];
    }
}

/* One output plane of a Cg == 1 convolution, portable C. */
static void dw_plane_c(const og_cf_geom *g, const float *xc, const float *wc, float bv, bool add, float *yc)
{
    for (int64_t p = 0; p < g->P; p++) {
        float *row = yc + p * g->Q;
        for (int64_t q = 0; q < g->Q; q++)
            if (!add)
                row[q] = bv;
        for (int64_t r = 0; r < g->R; r++) {
            int64_t ih = p * g->sh + r * g->dh - g->ph;
            if (ih < 0 || ih >= g->H)
                continue;
            const float *xr = xc + ih * g->W;
            for (int64_t s = 0; s < g->S; s++) {
                /* output columns whose tap lands inside the row: 0 <= q*sw + off < W */
                int64_t off = s * g->dw - g->pw;
                int64_t lo = off >= 0 ? 0 : cf_cdiv(-off, g->sw);
                int64_t hi = off > g->W - 1 ? 0 : cf_min(g->Q, (g->W - 1 - off) / g->sw + 1);
                if (lo < hi)
                    axpy_row(row, xr + off, wc[r * g->S + s], lo, hi, g->sw);
            }
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CF_HAVE_AVX512 1
/* The same plane with AVX-512: 16 output columns in a register, every tap
 * added into it (no store between taps); taps that fall into the padding
 * are masked off, so a masked load never touches memory outside X's row.
 * Stride 1 loads the row directly, other strides gather. */
__attribute__((target("avx512f"))) static void dw_plane_avx512(const og_cf_geom *g, const float *xc,
                                                                const float *wc, float bv, bool add, float *yc)
{
    /* geometry in locals: the stores to yc must not make the compiler reload it */
    const int64_t P = g->P, Q = g->Q, R = g->R, S = g->S, H = g->H, W = g->W;
    const int64_t sh = g->sh, dh = g->dh, ph = g->ph, dw = g->dw, pw = g->pw;
    const int sw = (int)g->sw;
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i zero = _mm512_setzero_si512(), wlim = _mm512_set1_epi32((int)W);
    /* Four output rows at once: four independent multiply-add chains hide
     * the FMA latency that a single accumulator per row would wait on. */
    for (int64_t p0 = 0; p0 < P; p0 += 4) {
        int64_t rlo[4], rhi[4];
        const float *xb[4];   /* X's row for kernel row 0 of each output row (may lie outside; never read then) */
        for (int i = 0; i < 4; i++) {
            int64_t p = p0 + i, lo = 0, hi = R;
            if (p >= P) {
                rlo[i] = rhi[i] = 0;
                xb[i] = xc;
                continue;
            }
            while (lo < R && p * sh + lo * dh - ph < 0)
                lo++;
            while (hi > lo && p * sh + (hi - 1) * dh - ph >= H)
                hi--;
            rlo[i] = lo;
            rhi[i] = hi;
            xb[i] = (const float *)((uintptr_t)xc + (intptr_t)((p * sh - ph) * W) * 4);
        }
        for (int64_t q0 = 0; q0 < Q; q0 += 16) {
            __mmask16 qm = Q - q0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Q - q0)) - 1);
            __m512i base = _mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32((int)q0)), _mm512_set1_epi32(sw));
            __m512 a0 = _mm512_set1_ps(bv), a1 = a0, a2 = a0, a3 = a0;
            if (add) {   /* a later input channel: continue the sums already in yc */
                a0 = _mm512_maskz_loadu_ps(qm, yc + p0 * Q + q0);
                if (p0 + 1 < P)
                    a1 = _mm512_maskz_loadu_ps(qm, yc + (p0 + 1) * Q + q0);
                if (p0 + 2 < P)
                    a2 = _mm512_maskz_loadu_ps(qm, yc + (p0 + 2) * Q + q0);
                if (p0 + 3 < P)
                    a3 = _mm512_maskz_loadu_ps(qm, yc + (p0 + 3) * Q + q0);
            }
            for (int64_t s = 0; s < S; s++) {
                int off = (int)(s * dw - pw);
                __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32(off));
                __mmask16 m = qm & _mm512_cmpge_epi32_mask(idx, zero) & _mm512_cmplt_epi32_mask(idx, wlim);
                intptr_t col = (intptr_t)(q0 + off) * 4;
                for (int64_t r = 0; r < R; r++) {
                    __m512 wv = _mm512_set1_ps(wc[r * S + s]);
                    intptr_t roff = (intptr_t)(r * dh * W) * 4;
#define CF_TAP(i, acc)                                                                                       \
    if (r >= rlo[i] && r < rhi[i]) {                                                                         \
        const float *xr = (const float *)((uintptr_t)xb[i] + roff);                                          \
        __m512 xv = sw == 1 ? _mm512_maskz_loadu_ps(m, (const float *)((uintptr_t)xr + col))                  \
                            : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, xr, 4);                  \
        acc = _mm512_fmadd_ps(wv, xv, acc);                                                                  \
    }
                    CF_TAP(0, a0)
                    CF_TAP(1, a1)
                    CF_TAP(2, a2)
                    CF_TAP(3, a3)
#undef CF_TAP
                }
            }
            _mm512_mask_storeu_ps(yc + p0 * Q + q0, qm, a0);
            if (p0 + 1 < P)
                _mm512_mask_storeu_ps(yc + (p0 + 1) * Q + q0, qm, a1);
            if (p0 + 2 < P)
                _mm512_mask_storeu_ps(yc + (p0 + 2) * Q + q0, qm, a2);
            if (p0 + 3 < P)
                _mm512_mask_storeu_ps(yc + (p0 + 3) * Q + q0, qm, a3);
        }
    }
}

/* Horizontal stride 1 (any vertical stride, dilation and pads): the
 * register-blocked direct kernel. A block is RB output rows x VB vectors of
 * output columns in registers; every tap of the kernel is one broadcast
 * weight times an unaligned load of the input row, added in the order of
 * the reference (r, then s ascending) into each accumulator. Which lanes of
 * a load lie inside the input row depends on the tap column and the vector
 * only, so those masks are tabled once per plane; rows outside the input
 * are skipped. Loads in the interior run with all lanes on. */
#define DWK_MAX_S 16    /* kernel columns the mask table holds */
#define DWK_MAX_NV 32   /* vectors per output row the mask table holds (512 columns at AVX-512) */

static bool dwk_fits(const og_cf_geom *g, int lanes)
{
    return g->sw == 1 && g->S <= DWK_MAX_S && cf_cdiv(g->Q, lanes) <= DWK_MAX_NV;
}

/* Output rows [p0, p0+rb): the kernel rows r in [lo, hi) that read inside
 * X, and the address of X's row for r = 0 as an integer (it may lie
 * outside X; it is read only at rows in range). */
static void dwk_rows(const og_cf_geom *g, int64_t p0, int rb, const float *xc, int64_t *lo, int64_t *hi,
                     uintptr_t *xb)
{
    for (int i = 0; i < rb; i++) {
        int64_t p = p0 + i, l = 0, h = g->R;
        if (p >= g->P) {
            lo[i] = hi[i] = 0;
            xb[i] = (uintptr_t)xc;
            continue;
        }
        while (l < g->R && p * g->sh + l * g->dh - g->ph < 0)
            l++;
        while (h > l && p * g->sh + (h - 1) * g->dh - g->ph >= g->H)
            h--;
        lo[i] = l;
        hi[i] = h;
        xb[i] = (uintptr_t)xc + (uintptr_t)((p * g->sh - g->ph) * g->W * 4);
    }
}

static __attribute__((target("avx512f"), always_inline)) inline void
dwk_block_avx512(const og_cf_geom *g, const float *xc, const float *wc, float bv, bool add, float *yc, int64_t p0,
                 int v0, const __mmask16 *mt, const __mmask16 *qm, const int RB, const int VB)
{
    const int64_t Q = g->Q, S = g->S, W = g->W, dh = g->dh, dw = g->dw, pw = g->pw;
    const int nq = (int)cf_cdiv(Q, 16);
    int64_t lo[4], hi[4];
    uintptr_t xb[4];
    int rb = (int)cf_min(RB, g->P - p0);
    dwk_rows(g, p0, rb, xc, lo, hi, xb);
    int64_t rmin = g->R, rmax = 0;
    for (int i = 0; i < rb; i++)
        if (lo[i] < hi[i]) {
            rmin = cf_min(rmin, lo[i]);
            rmax = hi[i] > rmax ? hi[i] : rmax;
        }
    __m512 a[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < RB; i++)
#pragma GCC unroll 4
        for (int v = 0; v < VB; v++)
            a[i][v] = i < rb && add ? _mm512_maskz_loadu_ps(qm[v0 + v], yc + (p0 + i) * Q + (v0 + v) * 16)
                                              : _mm512_set1_ps(bv);
    for (int64_t r = rmin; r < rmax; r++) {
        uintptr_t roff = (uintptr_t)(r * dh * W * 4);
        for (int64_t s = 0; s < S; s++) {
            __m512 wv = _mm512_set1_ps(wc[r * S + s]);
            uintptr_t col = (uintptr_t)((v0 * 16 + s * dw - pw) * 4);
            const __mmask16 *m = mt + s * nq + v0;
#pragma GCC unroll 4
            for (int i = 0; i < RB; i++) {
                if (i >= rb || r < lo[i] || r >= hi[i])
                    continue;
                const float *xr = (const float *)(xb[i] + roff + col);
#pragma GCC unroll 4
                for (int v = 0; v < VB; v++)
                    a[i][v] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m[v], xr + v * 16), a[i][v]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < RB; i++)
#pragma GCC unroll 4
        for (int v = 0; v < VB; v++)
            if (i < rb)
                _mm512_mask_storeu_ps(yc + (p0 + i) * Q + (v0 + v) * 16, qm[v0 + v], a[i][v]);
}

__attribute__((target("avx512f"))) static void dwk_plane_avx512(const og_cf_geom *g, const float *xc,
                                                                 const float *wc, float bv, bool add, float *yc)
{
    const int64_t Q = g->Q, S = g->S;
    const int nq = (int)cf_cdiv(Q, 16);
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i zero = _mm512_setzero_si512(), wlim = _mm512_set1_epi32((int)g->W);
    __mmask16 qm[DWK_MAX_NV], mt[DWK_MAX_S * DWK_MAX_NV];
    for (int v = 0; v < nq; v++)
        qm[v] = Q - v * 16 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Q - v * 16)) - 1);
    for (int64_t s = 0; s < S; s++)
        for (int v = 0; v < nq; v++) {
            __m512i idx = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(v * 16 + s * g->dw - g->pw)));
            mt[s * nq + v] = qm[v] & _mm512_cmpge_epi32_mask(idx, zero) & _mm512_cmplt_epi32_mask(idx, wlim);
        }
    /* 8 accumulators where the row allows (two rows of four vectors, or
     * four rows of two for narrow planes), so the FMA latency is hidden */
    for (int v0 = 0; v0 < nq; v0 += 4) {
        int nv = (int)cf_min(4, nq - v0);
        for (int64_t p0 = 0; p0 < g->P; p0 += nv > 2 ? 2 : 4)
            switch (nv) {   /* constant block shapes: the accumulators stay in registers */
            case 4: dwk_block_avx512(g, xc, wc, bv, add, yc, p0, v0, mt, qm, 2, 4); break;
            case 3: dwk_block_avx512(g, xc, wc, bv, add, yc, p0, v0, mt, qm, 2, 3); break;
            case 2: dwk_block_avx512(g, xc, wc, bv, add, yc, p0, v0, mt, qm, 4, 2); break;
            default: dwk_block_avx512(g, xc, wc, bv, add, yc, p0, v0, mt, qm, 4, 1); break;
            }
    }
}

/* 3x3, stride 1, dilation 1 (MobileNet's depthwise layers; the benchmark's
 * depthwise case): each input row is loaded once per vector of columns and
 * its three column shifts made in registers (valignd), and each row feeds
 * the (up to) three output rows of the block it belongs to: 9 FMAs per
 * output vector for about 1.5 loads, where dwk loads every tap, unaligned
 * (a cache-line split each: twice the load traffic) and its masks from a
 * table. Each output element sums the bias (or the plane so far) and then
 * its taps r, then s ascending, as dwk does: the same bits. */
static __attribute__((target("avx512f"), always_inline)) inline void
d3_block_avx512(const og_cf_geom *g, const float *xc, const __m512 *w, float bv, bool add, float *yc, int64_t p0,
                int v0, const __mmask16 *lm, const __mmask16 *qm, const int RB, const int VB)
{
    const int64_t Q = g->Q, W = g->W, H = g->H, ph = g->ph, pw = g->pw;
    const int rb = (int)cf_min(RB, g->P - p0);
    if (v0 == 0)   /* the rows 8 below this block's, whole (see gw_d3_avx512) */
        for (int j = 0; j < RB; j++) {
            uintptr_t pr = (uintptr_t)xc + (uintptr_t)((p0 - ph + 10 + j) * W * 4);
            for (int64_t o = 0; o < W * 4; o += 64)
                _mm_prefetch((const char *)(pr + (uintptr_t)o), _MM_HINT_T0);
        }
    __m512 a[8][4];
#pragma GCC unroll 8
    for (int i = 0; i < RB; i++)
#pragma GCC unroll 4
        for (int v = 0; v < VB; v++)
            a[i][v] = i < rb && add ? _mm512_maskz_loadu_ps(qm[v0 + v], yc + (p0 + i) * Q + (v0 + v) * 16)
                                    : _mm512_set1_ps(bv);
#pragma GCC unroll 10
    for (int j = 0; j < RB + 2; j++) {   /* input row p0 - ph + j: kernel row j - i of output row i */
        int64_t ih = p0 - ph + j;
        if (ih < 0 || ih >= H)
            continue;
        /* the row's column -pw: vector u holds columns 16u - pw .. (masked to the row) */
        uintptr_t xr = (uintptr_t)xc + (uintptr_t)((ih * W - pw) * 4) + (uintptr_t)v0 * 64;
        __m512 lo = _mm512_maskz_loadu_ps(lm[v0], (const float *)xr);
#pragma GCC unroll 4
        for (int v = 0; v < VB; v++) {
            __m512 hi = _mm512_maskz_loadu_ps(lm[v0 + v + 1], (const float *)(xr + (uintptr_t)(v + 1) * 64));
            __m512i l = _mm512_castps_si512(lo), h = _mm512_castps_si512(hi);
            __m512 s1 = _mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 1));
            __m512 s2 = _mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 2));
#pragma GCC unroll 8
            for (int i = 0; i < RB; i++) {
                const int r = j - i;
                if (r < 0 || r > 2)
                    continue;
                a[i][v] = _mm512_fmadd_ps(w[r * 3 + 0], lo, a[i][v]);
                a[i][v] = _mm512_fmadd_ps(w[r * 3 + 1], s1, a[i][v]);
                a[i][v] = _mm512_fmadd_ps(w[r * 3 + 2], s2, a[i][v]);
            }
            lo = hi;
        }
    }
    /* rows past the plane were computed from rows inside it only, and are dropped */
#pragma GCC unroll 8
    for (int i = 0; i < RB; i++)
#pragma GCC unroll 4
        for (int v = 0; v < VB; v++)
            if (i < rb)
                _mm512_mask_storeu_ps(yc + (p0 + i) * Q + (v0 + v) * 16, qm[v0 + v], a[i][v]);
}

static bool d3_fits(const og_cf_geom *g)
{
    return g->R == 3 && g->S == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
           cf_cdiv(g->Q, 16) <= DWK_MAX_NV;
}

__attribute__((target("avx512f"))) static void d3_plane_avx512(const og_cf_geom *g, const float *xc,
                                                                const float *wc, float bv, bool add, float *yc)
{
    const int64_t Q = g->Q;
    const int nq = (int)cf_cdiv(Q, 16);
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i zero = _mm512_setzero_si512(), wlim = _mm512_set1_epi32((int)g->W);
    __mmask16 qm[DWK_MAX_NV], lm[DWK_MAX_NV + 1];
    for (int v = 0; v < nq; v++)
        qm[v] = Q - v * 16 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Q - v * 16)) - 1);
    for (int u = 0; u <= nq; u++) {
        __m512i col = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(u * 16 - g->pw)));
        lm[u] = _mm512_cmpge_epi32_mask(col, zero) & _mm512_cmplt_epi32_mask(col, wlim);
    }
    __m512 w[9];
    for (int i = 0; i < 9; i++)
        w[i] = _mm512_set1_ps(wc[i]);
    for (int v0 = 0; v0 < nq; v0 += 4) {
        int nv = (int)cf_min(4, nq - v0);
        /* 16 accumulators for wide rows, 12 or 8 for narrow ones: the FMA latency stays hidden */
        switch (nv) {   /* constant block shapes: the accumulators stay in registers */
        case 4:
            for (int64_t p0 = 0; p0 < g->P; p0 += 4)
                d3_block_avx512(g, xc, w, bv, add, yc, p0, v0, lm, qm, 4, 4);
            break;
        case 3:
            for (int64_t p0 = 0; p0 < g->P; p0 += 4)
                d3_block_avx512(g, xc, w, bv, add, yc, p0, v0, lm, qm, 4, 3);
            break;
        case 2:
            for (int64_t p0 = 0; p0 < g->P; p0 += 6)
                d3_block_avx512(g, xc, w, bv, add, yc, p0, v0, lm, qm, 6, 2);
            break;
        default:
            for (int64_t p0 = 0; p0 < g->P; p0 += 8)
                d3_block_avx512(g, xc, w, bv, add, yc, p0, v0, lm, qm, 8, 1);
            break;
        }
    }
}

/* The same with AVX2: 8 lanes, masks as integer vectors (maskload skips
 * the lanes outside the row, without touching their memory), full
 * vectors stored plainly and the row's tail with a masked store. */
static __attribute__((target("avx2,fma"), always_inline)) inline void
dwk_block_avx2(const og_cf_geom *g, const float *xc, const float *wc, float bv, bool add, float *yc, int64_t p0,
               int v0, const __m256i *mt, const __m256i *qm, const int RB, const int VB)
{
    const int64_t Q = g->Q, S = g->S, W = g->W, dh = g->dh, dw = g->dw, pw = g->pw;
    const int nq = (int)cf_cdiv(Q, 8);
    int64_t lo[4], hi[4];
    uintptr_t xb[4];
    int rb = (int)cf_min(RB, g->P - p0);
    dwk_rows(g, p0, rb, xc, lo, hi, xb);
    int64_t rmin = g->R, rmax = 0;
    for (int i = 0; i < rb; i++)
        if (lo[i] < hi[i]) {
            rmin = cf_min(rmin, lo[i]);
            rmax = hi[i] > rmax ? hi[i] : rmax;
        }
    __m256 a[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < RB; i++)
#pragma GCC unroll 4
        for (int v = 0; v < VB; v++)
            a[i][v] = i < rb && add ? _mm256_maskload_ps(yc + (p0 + i) * Q + (v0 + v) * 8, qm[v0 + v])
                                              : _mm256_set1_ps(bv);
    for (int64_t r = rmin; r < rmax; r++) {
        uintptr_t roff = (uintptr_t)(r * dh * W * 4);
        for (int64_t s = 0; s < S; s++) {
            __m256 wv = _mm256_set1_ps(wc[r * S + s]);
            uintptr_t col = (uintptr_t)((v0 * 8 + s * dw - pw) * 4);
            const __m256i *m = mt + s * nq + v0;
#pragma GCC unroll 4
            for (int i = 0; i < RB; i++) {
                if (i >= rb || r < lo[i] || r >= hi[i])
                    continue;
                const float *xr = (const float *)(xb[i] + roff + col);
#pragma GCC unroll 4
                for (int v = 0; v < VB; v++)
                    a[i][v] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(xr + v * 8, m[v]), a[i][v]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < RB; i++)
#pragma GCC unroll 4
        for (int v = 0; v < VB; v++)
            if (i < rb) {
                float *o = yc + (p0 + i) * Q + (v0 + v) * 8;
                if ((v0 + v + 1) * 8 <= Q)
                    _mm256_storeu_ps(o, a[i][v]);
                else
                    _mm256_maskstore_ps(o, qm[v0 + v], a[i][v]);
            }
}

__attribute__((target("avx2,fma"))) static void dwk_plane_avx2(const og_cf_geom *g, const float *xc,
                                                                const float *wc, float bv, bool add, float *yc)
{
    const int64_t Q = g->Q, S = g->S;
    const int nq = (int)cf_cdiv(Q, 8);
    const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    const __m256i wlim = _mm256_set1_epi32((int)g->W), qlim = _mm256_set1_epi32((int)Q);
    __m256i qm[DWK_MAX_NV], mt[DWK_MAX_S * DWK_MAX_NV];
    for (int v = 0; v < nq; v++) {
        __m256i q = _mm256_add_epi32(lane, _mm256_set1_epi32(v * 8));
        qm[v] = _mm256_cmpgt_epi32(qlim, q);
        for (int64_t s = 0; s < S; s++) {
            __m256i idx = _mm256_add_epi32(q, _mm256_set1_epi32((int)(s * g->dw - g->pw)));
            __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), idx),
                                             _mm256_cmpgt_epi32(wlim, idx));
            mt[s * nq + v] = _mm256_and_si256(qm[v], in);
        }
    }
    for (int v0 = 0; v0 < nq; v0 += 4) {
        int nv = (int)cf_min(4, nq - v0);
        for (int64_t p0 = 0; p0 < g->P; p0 += nv > 2 ? 2 : 4)
            switch (nv) {   /* constant block shapes: the accumulators stay in registers */
            case 4: dwk_block_avx2(g, xc, wc, bv, add, yc, p0, v0, mt, qm, 2, 4); break;
            case 3: dwk_block_avx2(g, xc, wc, bv, add, yc, p0, v0, mt, qm, 2, 3); break;
            case 2: dwk_block_avx2(g, xc, wc, bv, add, yc, p0, v0, mt, qm, 4, 2); break;
            default: dwk_block_avx2(g, xc, wc, bv, add, yc, p0, v0, mt, qm, 4, 1); break;
            }
    }
}
#endif

/* One output plane: the bias, then each of the Cg input channels in
 * order, each adding its taps onto the plane. */
static void dw_task(void *arg, int64_t t, int worker)
{
    const fwd_job *j = arg;
    const og_cf_geom *g = &j->st->g;
    int64_t mo = t % g->M, n = t / g->M, gi = mo / g->Mg, RS = g->R * g->S, HW = g->H * g->W;
    const float *xg = j->x + (n * g->C + gi * g->Cg) * HW, *wc = j->w + mo * g->Cg * RS;
    float *yc = j->y + t * g->P * g->Q;
    float bv = j->b ? j->b[mo] : 0.0f;
    if (j->st->kind == CF_CONVT_S1) {
        /* ConvTranspose W [C, Mg, R, S]: this plane's kernels, flipped, into
         * this worker's scratch */
        float *wt = (float *)(j->ws + (size_t)worker * j->stride + j->st->wt_off);
        for (int64_t c = 0; c < g->Cg; c++) {
            const float *src = j->w + ((gi * g->Cg + c) * g->Mg + mo % g->Mg) * RS;
            for (int64_t i = 0; i < RS; i++)
                wt[c * RS + i] = src[RS - 1 - i];
        }
        wc = wt;
    }
    for (int64_t c = 0; c < g->Cg; c++) {
#ifdef CF_HAVE_AVX512
        if (j->plane == CF_PLANE_3X3_AVX512) {
            d3_plane_avx512(g, xg + c * HW, wc + c * RS, bv, c > 0, yc);
            continue;
        }
        if (j->plane == CF_PLANE_S1_AVX512) {
            dwk_plane_avx512(g, xg + c * HW, wc + c * RS, bv, c > 0, yc);
            continue;
        }
        if (j->plane == CF_PLANE_S1_AVX2) {
            dwk_plane_avx2(g, xg + c * HW, wc + c * RS, bv, c > 0, yc);
            continue;
        }
        if (j->plane == CF_PLANE_AVX512) {
            dw_plane_avx512(g, xg + c * HW, wc + c * RS, bv, c > 0, yc);
            continue;
        }
#endif
        dw_plane_c(g, xg + c * HW, wc + c * RS, bv, c > 0, yc);
    }
}

/* The plane kernel for this geometry on the active ISA: the register-
 * blocked one at horizontal stride 1, else (AVX-512) the gathering one,
 * else portable C. The vector paths index a row with 32-bit lanes. */
/* Depthwise convolution (one channel in, one out, per group) of small
 * planes, lanes across 8 channels: per task an image and a block of
 * channels, each 8 turned to [pixel][channel] (X, the taps, then Y back),
 * so a tap is one FMA for 8 channels. On 2x2 to 4x4 planes (MobileNetV2's
 * last blocks, up to 960 channels) the plane kernels spent their time on
 * per-plane overhead: measured 5-10x slower. One body per ISA (GCC vector
 * extensions: ymm under target("avx2,fma"), SSE otherwise). */
#define CF_DWS_LANES 8
#define CF_DWS_BLOCK 64      /* channels per task */
#define CF_DWS_MAX_PIX 64    /* forward: planes up to this many pixels (in and out) */
#define CF_DWS_MAX_IN 256    /* ConvTranspose: input planes up to this many pixels */
#define CF_DWS_MAX_COLS 4096 /* output columns x taps across */
typedef float cf_v8 __attribute__((vector_size(32)));

#define CF_DEFINE_DWS(sfx, attr)                                                                              \
    attr static void dws_block_##sfx(const og_cf_geom *g, bool flip, bool scatter, const float *x, const float *w, \
                                     const float *b, float *y, int64_t n, int64_t c0, int64_t nc)              \
    {                                                                                                          \
        const int64_t HW = g->H * g->W, PQ = g->P * g->Q, RS = g->R * g->S;                                    \
        float xt[CF_DWS_MAX_IN][CF_DWS_LANES], wt[64][CF_DWS_LANES], yt[CF_DWS_LANES];                       \
        int32_t ctab[CF_DWS_MAX_COLS];   /* per output column and tap: the input column, or -1 */           \
        for (int64_t q = 0; q < g->Q; q++)                                                                     \
            for (int64_t s = 0; s < g->S; s++) {                                                               \
                /* scatter (ConvTranspose): the input column whose tap s lands on q */                       \
                int64_t iw = scatter ? q + g->pw - s * g->dw : q * g->sw + s * g->dw - g->pw;                  \
                if (scatter)                                                                                   \
                    iw = iw >= 0 && iw % g->sw == 0 ? iw / g->sw : -1;                                         \
                ctab[q * g->S + s] = iw >= 0 && iw < g->W ? (int32_t)iw : -1;                                  \
            }                                                                                                  \
        for (int64_t cb = c0; cb < c0 + nc; cb += CF_DWS_LANES) {                                              \
            int64_t lanes = cf_min(CF_DWS_LANES, c0 + nc - cb);                                                \
            for (int64_t e = 0; e < CF_DWS_LANES; e++) {                                                       \
                int64_t c = cb + (e < lanes ? e : 0);   /* idle lanes repeat channel cb */                    \
                const float *xc = x + (n * g->C + c) * HW, *wc = w + c * RS;                                   \
                for (int64_t i = 0; i < HW; i++)                                                               \
                    xt[i][e] = xc[i];                                                                          \
                for (int64_t i = 0; i < RS; i++)                                                               \
                    wt[i][e] = wc[flip ? RS - 1 - i : i];                                                      \
            }                                                                                                  \
            cf_v8 bias = { 0 };                                                                                \
            if (b)                                                                                             \
                for (int64_t e = 0; e < CF_DWS_LANES; e++)                                                     \
                    bias[e] = b[cb + (e < lanes ? e : 0)];                                                     \
            for (int64_t p = 0; p < g->P; p++) {                                                               \
                int64_t rtab[64];   /* per tap row: the input row, or -1 (as ctab) */                         \
                for (int64_t r = 0; r < g->R; r++) {                                                           \
                    int64_t ih = scatter ? p + g->ph - r * g->dh : p * g->sh + r * g->dh - g->ph;              \
                    if (scatter)                                                                               \
                        ih = ih >= 0 && ih % g->sh == 0 ? ih / g->sh : -1;                                     \
                    rtab[r] = ih >= 0 && ih < g->H ? ih : -1;                                                  \
                }                                                                                              \
                for (int64_t q = 0; q < g->Q; q++) {                                                           \
                    cf_v8 acc = bias;                                                                          \
                    for (int64_t r = 0; r < g->R; r++) {                                                       \
                        int64_t ih = rtab[r];                                                                  \
                        if (ih < 0)                                                                            \
                            continue;                                                                          \
                        for (int64_t s = 0; s < g->S; s++) {                                                   \
                            int64_t iw = ctab[q * g->S + s];                                                   \
                            if (iw < 0)                                                                        \
                                continue;                                                                      \
                            cf_v8 xv, wv;                                                                      \
                            memcpy(&xv, xt[ih * g->W + iw], sizeof xv);                                        \
                            memcpy(&wv, wt[r * g->S + s], sizeof wv);                                          \
                            acc += xv * wv;                                                                    \
                        }                                                                                      \
                    }                                                                                          \
                    memcpy(yt, &acc, sizeof acc);                                                              \
                    for (int64_t e = 0; e < lanes; e++)                                                        \
                        y[(n * g->M + cb + e) * PQ + p * g->Q + q] = yt[e];                                    \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
    }

/* The weight gradient of a depthwise convolution (g in forward terms),
 * lanes across 8 channels: dW[c][r][s] = sum over n, p, q of
 * dY[n][c][p][q] X[n][c][p*sh + r*dh - ph][q*sw + s*dw - pw], summed in
 * that order (n, then p, q) per channel whatever the threads. */
#define CF_DWSW_MAX 1024   /* pixels of X and of dY at most */
#define CF_DEFINE_DWSW(sfx, attr)                                                                             \
    attr static void dwsw_block_##sfx(const og_cf_geom *g, const float *x, const float *dy, float *dw,         \
                                      int64_t c0, int64_t nc)                                                  \
    {                                                                                                          \
        const int64_t HW = g->H * g->W, PQ = g->P * g->Q, RS = g->R * g->S;                                    \
        float xt[CF_DWSW_MAX][CF_DWS_LANES], dyt[CF_DWSW_MAX][CF_DWS_LANES];                                  \
        cf_v8 acc[64];                                                                                         \
        int32_t ctab[CF_DWS_MAX_COLS], rtab[64];                                            \
        for (int64_t q = 0; q < g->Q; q++)                                                                     \
            for (int64_t s = 0; s < g->S; s++) {                                                               \
                int64_t iw = q * g->sw + s * g->dw - g->pw;                                                    \
                ctab[q * g->S + s] = iw >= 0 && iw < g->W ? (int32_t)iw : -1;                                  \
            }                                                                                                  \
        for (int64_t cb = c0; cb < c0 + nc; cb += CF_DWS_LANES) {                                              \
            int64_t lanes = cf_min(CF_DWS_LANES, c0 + nc - cb);                                                \
            for (int64_t k = 0; k < RS; k++)                                                                   \
                acc[k] = (cf_v8){ 0 };                                                                         \
            for (int64_t n = 0; n < g->N; n++) {                                                               \
                for (int64_t e = 0; e < CF_DWS_LANES; e++) {                                                   \
                    int64_t c = cb + (e < lanes ? e : 0);   /* idle lanes repeat channel cb */                \
                    const float *xc = x + (n * g->C + c) * HW, *dc = dy + (n * g->M + c) * PQ;                 \
                    for (int64_t i = 0; i < HW; i++)                                                           \
                        xt[i][e] = xc[i];                                                                      \
                    for (int64_t i = 0; i < PQ; i++)                                                           \
                        dyt[i][e] = dc[i];                                                                     \
                }                                                                                              \
                for (int64_t p = 0; p < g->P; p++) {                                                           \
                    for (int64_t r = 0; r < g->R; r++) {                                                       \
                        int64_t ih = p * g->sh + r * g->dh - g->ph;                                            \
                        rtab[r] = ih >= 0 && ih < g->H ? (int32_t)ih : -1;                                     \
                    }                                                                                          \
                    for (int64_t q = 0; q < g->Q; q++) {                                                       \
                        cf_v8 dv;                                                                              \
                        memcpy(&dv, dyt[p * g->Q + q], sizeof dv);                                             \
                        for (int64_t r = 0; r < g->R; r++) {                                                   \
                            if (rtab[r] < 0)                                                                   \
                                continue;                                                                      \
                            for (int64_t s = 0; s < g->S; s++) {                                               \
                                int64_t iw = ctab[q * g->S + s];                                               \
                                if (iw < 0)                                                                    \
                                    continue;                                                                  \
                                cf_v8 xv;                                                                      \
                                memcpy(&xv, xt[rtab[r] * g->W + iw], sizeof xv);                               \
                                acc[r * g->S + s] += dv * xv;                                                  \
                            }                                                                                  \
                        }                                                                                      \
                    }                                                                                          \
                }                                                                                              \
            }                                                                                                  \
            for (int64_t k = 0; k < RS; k++) {                                                                 \
                float out[CF_DWS_LANES];                                                                       \
                memcpy(out, &acc[k], sizeof out);                                                              \
                for (int64_t e = 0; e < lanes; e++)                                                            \
                    dw[(cb + e) * RS + k] = out[e];                                                            \
            }                                                                                                  \
        }                                                                                                      \
    }

CF_DEFINE_DWS(generic, )
CF_DEFINE_DWSW(generic, )
#if defined(__x86_64__) && defined(__GNUC__)
CF_DEFINE_DWS(avx2, __attribute__((target("avx2,fma"))))
CF_DEFINE_DWSW(avx2, __attribute__((target("avx2,fma"))))
#endif

static bool dwsw_fits(const og_cf_geom *g)
{
    return g->Cg == 1 && g->Mg == 1 && g->G == g->C && g->H * g->W <= CF_DWSW_MAX && g->P * g->Q <= CF_DWSW_MAX &&
           g->R * g->S <= 64 && g->R <= 64 && g->Q * g->S <= CF_DWS_MAX_COLS && og_isa_active() != OG_ISA_SCALAR;
}

typedef struct dwsw_job {
    og_cf_geom g;   /* forward terms */
    const float *x, *dy;
    float *dw;
} dwsw_job;

static void dwsw_task(void *arg, int64_t t, int worker)
{
    (void)worker;
    const dwsw_job *j = arg;
    int64_t c0 = t * CF_DWS_BLOCK, nc = cf_min(CF_DWS_BLOCK, j->g.C - c0);
#if defined(__x86_64__) && defined(__GNUC__)
    if (og_isa_active() >= OG_ISA_AVX2) {
        dwsw_block_avx2(&j->g, j->x, j->dy, j->dw, c0, nc);
        return;
    }
#endif
    dwsw_block_generic(&j->g, j->x, j->dy, j->dw, c0, nc);
}

/* Small planes of a depthwise (multiplier 1) convolution or its dX. */
static bool dws_fits(const og_cf_geom *g)
{
    return g->Cg == 1 && g->Mg == 1 && g->G == g->C && g->H * g->W <= CF_DWS_MAX_PIX &&
           g->P * g->Q <= CF_DWS_MAX_PIX && g->R * g->S <= 64 && g->R <= 64 && g->Q * g->S <= CF_DWS_MAX_COLS &&
           og_isa_active() != OG_ISA_SCALAR;
}

/* The same for a strided depthwise ConvTranspose (g in its terms): each
 * output gathers the taps that land on it. The column path ran
 * MobileNetV2's stride-2 dX at under 1 GFLOP/s (GEMMs one row tall). */
static bool dws_scatter_fits(const og_cf_geom *g)
{
    return g->Cg == 1 && g->Mg == 1 && g->G == g->C && g->H * g->W <= CF_DWS_MAX_IN && g->R * g->S <= 64 &&
           g->R <= 64 && g->Q * g->S <= CF_DWS_MAX_COLS && og_isa_active() != OG_ISA_SCALAR;
}

typedef struct dws_job {
    const og_cf_geom *g;
    bool flip, scatter;
    const float *x, *w, *b;
    float *y;
} dws_job;

static void dws_task(void *arg, int64_t t, int worker)
{
    (void)worker;
    const dws_job *j = arg;
    int64_t nb = cf_cdiv(j->g->C, CF_DWS_BLOCK), n = t / nb, c0 = t % nb * CF_DWS_BLOCK;
    int64_t nc = cf_min(CF_DWS_BLOCK, j->g->C - c0);
#if defined(__x86_64__) && defined(__GNUC__)
    if (og_isa_active() >= OG_ISA_AVX2) {
        dws_block_avx2(j->g, j->flip, j->scatter, j->x, j->w, j->b, j->y, n, c0, nc);
        return;
    }
#endif
    dws_block_generic(j->g, j->flip, j->scatter, j->x, j->w, j->b, j->y, n, c0, nc);
}

static int direct_plane_kind(const og_cf_geom *g)
{
    og_isa isa = og_isa_active();
    bool lanes32 = g->W < ((int64_t)1 << 30) && (g->Q + 16) * g->sw + g->S * g->dw + g->pw < ((int64_t)1 << 30);
#ifdef CF_HAVE_AVX512
    if (lanes32 && isa == OG_ISA_AVX512 && d3_fits(g))
        return CF_PLANE_3X3_AVX512;
    if (lanes32 && isa == OG_ISA_AVX512)
        return dwk_fits(g, 16) ? CF_PLANE_S1_AVX512 : CF_PLANE_AVX512;
    if (lanes32 && isa == OG_ISA_AVX2 && dwk_fits(g, 8))
        return CF_PLANE_S1_AVX2;
#endif
    (void)isa, (void)lanes32;
    return CF_PLANE_C;
}

static void run_direct(const og_kernel_call *k, const cf_state *st, const float *w)
{
    const og_cf_geom *g = &st->g;
    if (dws_fits(g)) {
        dws_job dj = { .g = g, .flip = st->kind == CF_CONVT_S1, .x = k->in[0]->data, .w = w,
                       .b = st->sh.bias ? k->in[2]->data : NULL, .y = k->out[0]->data };
        og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, g->N * cf_cdiv(g->C, CF_DWS_BLOCK), dws_task, &dj);
        return;
    }
    fwd_job j = { .st = st, .x = k->in[0]->data, .w = w, .b = st->sh.bias ? k->in[2]->data : NULL,
                  .y = k->out[0]->data, .ws = k->workspace, .stride = k->workspace_stride };
    j.plane = direct_plane_kind(g);
    og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, g->N * g->M, dw_task, &j);
}

/* ---- ConvTranspose, stride > 1: GEMM then col2im ------------------------- */

static void convt_col_task(void *arg, int64_t t, int worker)
{
    const fwd_job *j = arg;
    const cf_state *st = j->st;
    const og_cf_geom *g = &st->g;
    int64_t HW = g->H * g->W, PQ = g->P * g->Q, RS = g->R * g->S, rows_all = g->Mg * RS;
    int64_t mblk = t % st->n_mb, ng = t / st->n_mb, gi = ng % g->G, n = ng / g->G;
    int64_t m0 = mblk * st->mb, mb = cf_min(st->mb, g->Mg - m0), rows = mb * RS;
    char *ws = j->ws + (size_t)worker * j->stride;
    float *col = (float *)(ws + st->gemm_ws);
    const float *xg = j->x + (n * g->C + gi * g->Cg) * HW;
    const float *wg = j->w + gi * g->Cg * rows_all + m0 * RS;
    float *yg = j->y + (n * g->M + gi * g->Mg + m0) * PQ;
    for (int64_t m = 0; m < mb; m++) {
        float bv = j->b ? j->b[gi * g->Mg + m0 + m] : 0.0f, *ym = yg + m * PQ;
        for (int64_t i = 0; i < PQ; i++)
            ym[i] = bv;
    }
    for (int64_t j0 = 0; j0 < HW; j0 += st->jb) {
        int64_t nj = cf_min(st->jb, HW - j0);
        og_sgemm_mat(true, false, rows, nj, g->Cg, 1.0f, wg, rows_all, xg + j0, HW, 0.0f, col, nj, ws);
        for (int64_t row = 0; row < rows; row++) {
            int64_t m = row / RS, rs = row % RS, r = rs / g->S, s = rs % g->S;
            float *ym = yg + m * PQ;
            const float *src = col + row * nj;
            int64_t ih = (j0 / g->W), iw = j0 % g->W;
            int64_t offh = r * g->dh - g->ph, offw = s * g->dw - g->pw;
            for (int64_t i = 0; i < nj;) {
                /* one input row segment at a time */
                int64_t seg = cf_min(nj - i, g->W - iw);
                int64_t oh = ih * g->sh + offh;
                if ((uint64_t)oh < (uint64_t)g->P) {
                    float *yr = ym + oh * g->Q;
                    for (int64_t e = 0; e < seg; e++) {
                        int64_t ow = (iw + e) * g->sw + offw;
                        if ((uint64_t)ow < (uint64_t)g->Q)
                            yr[ow] += src[i + e];
                    }
                }
                i += seg;
                iw = 0;
                ih++;
            }
        }
    }
}

/* Small input planes (fewer pixels than a GEMM panel, layer 4 of a ResNet
 * on 64x64 images): a task owns a block of output channels of one group
 * for all images, and its GEMMs take pixels across images, gathered into
 * scratch as [Cg, jb], so N is not a sliver of a panel. The images' pixels
 * are added in order: one task, one fixed order per output element. */
static void convt_col_batched_task(void *arg, int64_t t, int worker)
{
    const fwd_job *j = arg;
    const cf_state *st = j->st;
    const og_cf_geom *g = &st->g;
    int64_t HW = g->H * g->W, PQ = g->P * g->Q, RS = g->R * g->S, rows_all = g->Mg * RS;
    int64_t mblk = t % st->n_mb, gi = t / st->n_mb;
    int64_t m0 = mblk * st->mb, mb = cf_min(st->mb, g->Mg - m0), rows = mb * RS;
    char *ws = j->ws + (size_t)worker * j->stride;
    float *col = (float *)(ws + st->gemm_ws), *xc = (float *)(ws + st->tmp_off);
    const float *wg = j->w + gi * g->Cg * rows_all + m0 * RS;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t m = 0; m < mb; m++) {
            float bv = j->b ? j->b[gi * g->Mg + m0 + m] : 0.0f, *ym = j->y + (n * g->M + gi * g->Mg + m0 + m) * PQ;
            for (int64_t i = 0; i < PQ; i++)
                ym[i] = bv;
        }
    int64_t total = g->N * HW;
    for (int64_t j0 = 0; j0 < total; j0 += st->jb) {
        int64_t nj = cf_min(st->jb, total - j0);
        for (int64_t c = 0; c < g->Cg; c++)
            for (int64_t i = 0; i < nj; i++) {
                int64_t n = (j0 + i) / HW, p = (j0 + i) % HW;
                xc[c * nj + i] = j->x[(n * g->C + gi * g->Cg + c) * HW + p];
            }
        og_sgemm_mat(true, false, rows, nj, g->Cg, 1.0f, wg, rows_all, xc, nj, 0.0f, col, nj, ws);
        for (int64_t row = 0; row < rows; row++) {
            int64_t m = row / RS, rs = row % RS, r = rs / g->S, s = rs % g->S;
            int64_t offh = r * g->dh - g->ph, offw = s * g->dw - g->pw;
            const float *src = col + row * nj;
            for (int64_t i = 0; i < nj; i++) {
                int64_t n = (j0 + i) / HW, p = (j0 + i) % HW;
                int64_t oh = (p / g->W) * g->sh + offh, ow = (p % g->W) * g->sw + offw;
                if ((uint64_t)oh < (uint64_t)g->P && (uint64_t)ow < (uint64_t)g->Q)
                    j->y[(n * g->M + gi * g->Mg + m0 + m) * PQ + oh * g->Q + ow] += src[i];
            }
        }
    }
}

/* ---- weight gradient ---------------------------------------------------- */

/* The Conv in the middle of the pattern, in its own terms: input Xt
 * [C, N, H, W], kernel dYt [M, N, P, Q] (g->R = P, g->S = Q), output
 * [C, M, R', S'] (g->P = R', g->Q = S'). dW[m, (c, r', s')] sums over
 * (n, p, q) X[n, c, r'*sh + p*dh - ph, s'*sw + q*dw - pw] * dY[n, m, p, q]. */
typedef struct dw_pack {
    const float *x;    /* image n of X */
    const og_cf_geom *g;
    int64_t jbase;     /* the task's first column */
} dw_pack;


/* One sweep per B row k = (p, q): the panel's columns (c, r', s') are
 * consecutive in dst, and consecutive s' step through X by the Conv's
 * stride, so reads and writes both run forward. */
static void pack_dw(void *vctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float *dst)
{
    const dw_pack *ctx = vctx;
    const og_cf_geom *g = ctx->g;
    const int64_t H = g->H, W = g->W, HW = H * W, RS = g->P * g->Q, Qk = g->S;
    int64_t cbase[CF_MAX_NR], offh[CF_MAX_NR], offw[CF_MAX_NR];
    for (int64_t jp = 0; jp < nc; jp += nr) {
        float *panel = dst + (jp / nr) * kc * nr;
        int w_ = (int)cf_min(nr, nc - jp);
        for (int jj = 0; jj < w_; jj++) {
            int64_t col = ctx->jbase + j0 + jp + jj;
            int64_t c = col / RS, rs = col % RS, r = rs / g->Q, s = rs % g->Q;
            cbase[jj] = c * HW;
            offh[jj] = r * g->sh - g->ph;
            offw[jj] = s * g->sw - g->pw;
        }
        int64_t p = k0 / Qk, q = k0 % Qk;
        for (int64_t kk = 0; kk < kc; kk++) {
            float *d = panel + kk * nr;
            int64_t bh = p * g->dh, bw = q * g->dw;
            for (int jj = 0; jj < w_; jj++) {
                int64_t ih = bh + offh[jj], iw = bw + offw[jj];
                d[jj] = (uint64_t)ih < (uint64_t)H && (uint64_t)iw < (uint64_t)W ? ctx->x[cbase[jj] + ih * W + iw]
                                                                                  : 0.0f;
            }
            for (int jj = w_; jj < nr; jj++)
                d[jj] = 0;
            if (++q == Qk) {
                q = 0;
                p++;
            }
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* o[e] = xr[e] for e in [lo, hi), 0 elsewhere in [0, n): masked loads (the
 * lanes outside [lo, hi) read nothing), the same values as the copies. */
__attribute__((target("avx512f"))) static void copy_run_avx512(float *o, const float *xr, int64_t n, int64_t lo,
                                                                int64_t hi)
{
    uintptr_t src = (uintptr_t)xr;
    for (int64_t e = 0; e < n; e += 16) {
        __mmask16 mv = (__mmask16)(cf_m16(hi - e) & ~cf_m16(lo - e));
        __m512 v = _mm512_maskz_loadu_ps(mv, (const void *)(src + (uintptr_t)e * 4));
        _mm512_mask_storeu_ps(o + e, cf_m16(n - e), v);
    }
}
#endif

typedef struct gw_job {
    const cf_state *st;
    const float *x, *dy;
    float *dw;
    char *ws;
    size_t stride;
} gw_job;

/* In the Conv's terms (g): g->N = X's channels per group (Cx), g->Cg = the
 * batch, g->G the groups, g->M = dY's channels, g->Mg per group. */
static void gw_task(void *arg, int64_t t, int worker)
{
    const gw_job *j = arg;
    const cf_state *st = j->st;
    const og_cf_geom *g = &st->g;
    int64_t Cx = g->N, Nb = g->Cg, M = g->M, Mg = g->Mg, HW = g->H * g->W, PQ = g->R * g->S;
    int64_t cols = Cx * g->P * g->Q;
    int64_t jblk = t % st->n_jb, rest = t / st->n_jb, mblk = rest % st->n_mb;
    int64_t gi = rest / st->n_mb % g->G, ip = rest / st->n_mb / g->G;
    int64_t j0 = jblk * st->jb, nj = cf_min(st->jb, cols - j0);
    int64_t m0 = mblk * st->mb, mb = cf_min(st->mb, Mg - m0);
    int64_t n_lo = Nb * ip / st->n_ip, n_hi = Nb * (ip + 1) / st->n_ip;
    char *ws = j->ws + (size_t)worker * j->stride;
    float *part = ip ? (float *)(j->ws + st->part_off) + (ip - 1) * M * cols : j->dw;
    float *out = part + (gi * Mg + m0) * cols + j0;
    if (Nb == 0) {
        for (int64_t m = 0; m < mb; m++)
            memset(out + m * cols, 0, sizeof(float) * (size_t)nj);
        return;
    }
    if (st->kcb > 0) {
        /* Per image and chunk of dY pixels, the task's columns of the
         * im2col of X as rows (Bt[j, k], contiguous in k: row runs are
         * clipped copies), read by the GEMM as a transposed matrix; the
         * chunks add onto dW in order. */
        float *bt = (float *)(ws + st->bt_off);
        const bool avx512 = og_gemm_isa() == OG_ISA_AVX512;
        (void)avx512;
        for (int64_t n = n_lo; n < n_hi; n++) {
            const float *xn = j->x + (n * g->G + gi) * Cx * HW;
            for (int64_t k0 = 0; k0 < PQ; k0 += st->kcb) {
                int64_t kc = cf_min(st->kcb, PQ - k0);
                for (int64_t jj = 0; jj < nj; jj++) {
                    int64_t col = j0 + jj, RSo = g->P * g->Q;
                    int64_t c = col / RSo, rs = col % RSo, r = rs / g->Q, s = rs % g->Q;
                    int64_t offh = r * g->sh - g->ph, offw = s * g->sw - g->pw;
                    const float *xc = xn + c * HW;
                    float *row = bt + jj * kc;
                    int64_t p = k0 / g->S, q = k0 % g->S;
                    for (int64_t kk = 0; kk < kc;) {
                        int64_t seg = cf_min(g->S - q, kc - kk), ih = p * g->dh + offh;
                        float *o = row + kk;
                        if ((uint64_t)ih >= (uint64_t)g->H) {
                            memset(o, 0, sizeof(float) * (size_t)seg);
                        } else {
                            int64_t iw = q * g->dw + offw;
                            int64_t lo = iw >= 0 ? 0 : cf_cdiv(-iw, g->dw);
                            int64_t hi = iw > g->W - 1 ? 0 : cf_min(seg, (g->W - 1 - iw) / g->dw + 1);
                            if (hi < lo)
                                hi = lo;
                            if (lo > seg)
                                lo = hi = seg;
                            const float *xr = xc + ih * g->W + iw;
#if defined(__x86_64__) && defined(__GNUC__)
                            if (g->dw == 1 && avx512) {
                                copy_run_avx512(o, xr, seg, lo, hi);
                                kk += seg;
                                q = 0;
                                p++;
                                continue;
                            }
#endif
                            for (int64_t e = 0; e < lo; e++)
                                o[e] = 0;
                            if (g->dw == 1)
                                memcpy(o + lo, xr + lo, sizeof(float) * (size_t)(hi - lo));
#ifdef OG_CF_HAVE_GATHER2
                            else if (g->dw == 2 && avx512)
                                og_cf_gather_stride2(o + lo, xr + lo * 2, hi - lo);
#endif
                            else
                                for (int64_t e = lo; e < hi; e++)
                                    o[e] = xr[e * g->dw];
                            for (int64_t e = hi; e < seg; e++)
                                o[e] = 0;
                        }
                        kk += seg;
                        q = 0;
                        p++;
                    }
                }
                og_gemm_b B = { .data = bt, .ld = kc, .trans = true };
                og_sgemm(false, mb, nj, kc, 1.0f, j->dy + (n * M + gi * Mg + m0) * PQ + k0, PQ, &B,
                         n > n_lo || k0 ? 1.0f : 0.0f, out, cols, ws);
            }
        }
        return;
    }
    for (int64_t n = n_lo; n < n_hi; n++) {
        dw_pack pk = { .x = j->x + (n * g->G + gi) * Cx * HW, .g = g, .jbase = j0 };
        og_gemm_b B = { .pack = pack_dw, .ctx = &pk };
        if (st->plain_b)   /* B[pq, c] = X[n, c, pq] */
            B = (og_gemm_b){ .data = pk.x + j0 * HW, .ld = HW, .trans = true };
        og_sgemm(false, mb, nj, PQ, 1.0f, j->dy + (n * M + gi * Mg + m0) * PQ, PQ, &B, n > n_lo ? 1.0f : 0.0f, out,
                 cols, ws);
    }
}

/* Cx == 1 (depthwise and single-channel X): dW[mo, 0, r', s'] is a dot
 * product of dY's plane mo with a shifted window of X's plane, summed over
 * the images: one task per output channel, taps one after another, the
 * images and rows in order; no GEMM (its panels would be mostly padding). */
static void gw_direct_c(const og_cf_geom *g, const float *x, const float *dy, float *dw, int64_t mo)
{
    int64_t Nb = g->Cg, HW = g->H * g->W, PQ = g->R * g->S, gi = mo / g->Mg;
    for (int64_t r = 0; r < g->P; r++)
        for (int64_t s = 0; s < g->Q; s++) {
            int64_t offh = r * g->sh - g->ph, offw = s * g->sw - g->pw;
            /* dY columns q with 0 <= q*dw + offw < W */
            int64_t lo = offw >= 0 ? 0 : cf_cdiv(-offw, g->dw);
            int64_t hi = offw > g->W - 1 ? 0 : cf_min(g->S, (g->W - 1 - offw) / g->dw + 1);
            float acc = 0;
            for (int64_t n = 0; n < Nb; n++) {
                const float *xc = x + (n * g->G + gi) * HW, *dyc = dy + (n * g->M + mo) * PQ;
                for (int64_t p = 0; p < g->R; p++) {
                    int64_t ih = p * g->dh + offh;
                    if (ih < 0 || ih >= g->H)
                        continue;
                    const float *xr = xc + ih * g->W + offw, *dr = dyc + p * g->S;
                    for (int64_t q = lo; q < hi; q++)
                        acc += dr[q] * xr[q * g->dw];
                }
            }
            dw[mo * g->P * g->Q + r * g->Q + s] = acc;
        }
}

#ifdef CF_HAVE_AVX512
/* The same with 16 dY columns per step in a vector accumulator, summed
 * across lanes in a fixed order at the end of each tap. */
__attribute__((target("avx512f"))) static void gw_direct_avx512(const og_cf_geom *g, const float *x,
                                                                 const float *dy, float *dw, int64_t mo)
{
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const int64_t Nb = g->Cg, HW = g->H * g->W, PQ = g->R * g->S, gi = mo / g->Mg, Qd = g->S, H = g->H, W = g->W;
    const int64_t Pk = g->P, Qk = g->Q;   /* dW's kernel rows and columns */
    const int dstep = (int)g->dw;
    /* One kernel row r' at a time, up to 16 columns s' together: each dY
     * chunk is loaded once and multiplied into one accumulator per s'. */
    for (int64_t r = 0; r < Pk; r++)
        for (int64_t s0 = 0; s0 < Qk; s0 += 16) {
            int ns = (int)cf_min(16, Qk - s0);
            int64_t offh = r * g->sh - g->ph, offw[16];
            __m512i lo[16], hi[16];
            __m512 acc[16];
            for (int k = 0; k < ns; k++) {
                offw[k] = (s0 + k) * g->sw - g->pw;
                /* dY columns q with 0 <= q*dstep + offw < W */
                int64_t l = offw[k] >= 0 ? 0 : cf_cdiv(-offw[k], g->dw);
                int64_t h = offw[k] > W - 1 ? 0 : cf_min(Qd, (W - 1 - offw[k]) / g->dw + 1);
                lo[k] = _mm512_set1_epi32((int)l);
                hi[k] = _mm512_set1_epi32((int)(h > l ? h : l));
                acc[k] = _mm512_setzero_ps();
            }
            /* the masks depend on the chunk and the column only: a table
             * when dY rows are at most 8 chunks wide */
            __mmask16 mt[8][16];
            bool table = Qd <= 128;
            for (int64_t q0 = 0; table && q0 < Qd; q0 += 16) {
                __mmask16 qm = Qd - q0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Qd - q0)) - 1);
                __m512i qv = _mm512_add_epi32(lane, _mm512_set1_epi32((int)q0));
                for (int k = 0; k < ns; k++)
                    mt[q0 / 16][k] = qm & _mm512_cmpge_epi32_mask(qv, lo[k]) & _mm512_cmplt_epi32_mask(qv, hi[k]);
            }
            for (int64_t n = 0; n < Nb; n++) {
                const float *xc = x + (n * g->G + gi) * HW, *dyc = dy + (n * g->M + mo) * PQ;
                for (int64_t p = 0; p < g->R; p++) {
                    int64_t ih = p * g->dh + offh;
                    if (ih < 0 || ih >= H)
                        continue;
                    const float *xr = xc + ih * W, *dr = dyc + p * Qd;
                    for (int64_t q0 = 0; q0 < Qd; q0 += 16) {
                        __mmask16 qm = Qd - q0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Qd - q0)) - 1);
                        __m512i qv = _mm512_add_epi32(lane, _mm512_set1_epi32((int)q0));
                        __m512 dv = _mm512_maskz_loadu_ps(qm, dr + q0);
                        for (int k = 0; k < ns; k++) {
                            __mmask16 m = table ? mt[q0 / 16][k]
                                                : qm & _mm512_cmpge_epi32_mask(qv, lo[k]) &
                                                  _mm512_cmplt_epi32_mask(qv, hi[k]);
                            __m512 xv;
                            if (dstep == 1)
                                xv = _mm512_maskz_loadu_ps(m, (const float *)((uintptr_t)xr +
                                                                              (intptr_t)(q0 + offw[k]) * 4));
                            else
                                xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m,
                                                              _mm512_add_epi32(_mm512_mullo_epi32(qv, _mm512_set1_epi32(dstep)),
                                                                               _mm512_set1_epi32((int)offw[k])),
                                                              xr, 4);
                            acc[k] = _mm512_fmadd_ps(dv, xv, acc[k]);
                        }
                    }
                }
            }
            for (int k = 0; k < ns; k++)
                dw[mo * Pk * Qk + r * Qk + s0 + k] = _mm512_reduce_add_ps(acc[k]);
        }
}
#endif

/* 3x3 (and smaller) kernels: all taps at once, so X and dY are read once
 * per image (the kernel above reads them once per kernel row) with nine
 * independent accumulators. Each tap's accumulator sees the same products
 * in the same order as above (images, dY rows, chunks ascending), so the
 * bits are those of gw_direct_avx512. */
__attribute__((target("avx512f"))) static void gw_direct_3x3_avx512(const og_cf_geom *g, const float *x,
                                                                     const float *dy, float *dw, int64_t mo)
{
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const int64_t Nb = g->Cg, HW = g->H * g->W, PQ = g->R * g->S, gi = mo / g->Mg, Qd = g->S, H = g->H, W = g->W;
    const int64_t Pk = g->P, Qk = g->Q, sh = g->sh, dh = g->dh, ph = g->ph;
    const int dstep = (int)g->dw;
    int64_t offw[3] = { 0, 0, 0 };
    __m512i lo[3], hi[3];
    for (int k = 0; k < 3; k++) {
        if (k >= Qk) {   /* unused column: every lane off */
            lo[k] = hi[k] = _mm512_setzero_si512();
            continue;
        }
        offw[k] = k * g->sw - g->pw;
        int64_t l = offw[k] >= 0 ? 0 : cf_cdiv(-offw[k], g->dw);
        int64_t h = offw[k] > W - 1 ? 0 : cf_min(Qd, (W - 1 - offw[k]) / g->dw + 1);
        lo[k] = _mm512_set1_epi32((int)l);
        hi[k] = _mm512_set1_epi32((int)(h > l ? h : l));
    }
    __mmask16 mt[8][3];
    for (int64_t q0 = 0; q0 < Qd; q0 += 16) {
        __mmask16 qm = Qd - q0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Qd - q0)) - 1);
        __m512i qv = _mm512_add_epi32(lane, _mm512_set1_epi32((int)q0));
        for (int k = 0; k < 3; k++)
            mt[q0 / 16][k] = qm & _mm512_cmpge_epi32_mask(qv, lo[k]) & _mm512_cmplt_epi32_mask(qv, hi[k]);
    }
    __m512 a[3][3];
#pragma GCC unroll 3
    for (int r = 0; r < 3; r++)
#pragma GCC unroll 3
        for (int k = 0; k < 3; k++)
            a[r][k] = _mm512_setzero_ps();
    for (int64_t n = 0; n < Nb; n++) {
        const float *xc = x + (n * g->G + gi) * HW, *dyc = dy + (n * g->M + mo) * PQ;
        for (int64_t p = 0; p < g->R; p++) {
            const float *dr = dyc + p * Qd;
            int64_t ihb = p * dh - ph;
            bool rv[3];
            uintptr_t xr[3];
            for (int r = 0; r < 3; r++) {
                int64_t ih = ihb + r * sh;
                rv[r] = r < Pk && ih >= 0 && ih < H;
                xr[r] = (uintptr_t)xc + (uintptr_t)(ih * W * 4);
            }
            for (int64_t q0 = 0; q0 < Qd; q0 += 16) {
                __mmask16 qm = Qd - q0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Qd - q0)) - 1);
                __m512 dv = _mm512_maskz_loadu_ps(qm, dr + q0);
                __m512i qs = _mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32((int)q0)),
                                                _mm512_set1_epi32(dstep));
#pragma GCC unroll 3
                for (int r = 0; r < 3; r++) {
                    if (!rv[r])
                        continue;
#pragma GCC unroll 3
                    for (int k = 0; k < 3; k++) {
                        __mmask16 m = mt[q0 / 16][k];
                        __m512 xv;
                        if (dstep == 1)
                            xv = _mm512_maskz_loadu_ps(m, (const float *)(xr[r] + (uintptr_t)((q0 + offw[k]) * 4)));
                        else
                            xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m,
                                                          _mm512_add_epi32(qs, _mm512_set1_epi32((int)offw[k])),
                                                          (const float *)xr[r], 4);
                        a[r][k] = _mm512_fmadd_ps(dv, xv, a[r][k]);
                    }
                }
            }
        }
    }
    for (int r = 0; r < Pk; r++)
        for (int k = 0; k < Qk; k++)
            dw[mo * Pk * Qk + r * Qk + k] = _mm512_reduce_add_ps(a[r][k]);
}

/* The 3x3 weight gradient at unit column stride and dilation (any row
 * stride and dilation): each X row is loaded once per chunk of 16 columns
 * and its three column shifts made in registers (valignd, masked as the
 * tap kernels mask their loads), instead of nine unaligned loads per
 * chunk. Kernel rows r in [RLO, RHI) read inside X for this dY row; each
 * accumulator sees the products of gw_direct_3x3_avx512 in its order:
 * the same bits. */
static __attribute__((target("avx512f"), always_inline)) inline void
gw_d3_row(int64_t Qd, const float *dr, const uintptr_t *xr, const __mmask16 (*mt)[3], const __mmask16 *lm,
          __m512 (*a)[3], const int RLO, const int RHI)
{
    __m512 lo[3];
#pragma GCC unroll 3
    for (int r = RLO; r < RHI; r++)
        lo[r] = _mm512_maskz_loadu_ps(lm[0], (const float *)xr[r]);
    for (int64_t c = 0; c * 16 < Qd; c++) {
        __mmask16 qm = Qd - c * 16 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Qd - c * 16)) - 1);
        __m512 dv = _mm512_maskz_loadu_ps(qm, dr + c * 16);
#pragma GCC unroll 3
        for (int r = RLO; r < RHI; r++) {
            __m512 hi = _mm512_maskz_loadu_ps(lm[c + 1], (const float *)(xr[r] + (uintptr_t)(c + 1) * 64));
            __m512i l = _mm512_castps_si512(lo[r]), h = _mm512_castps_si512(hi);
            __m512 x0 = _mm512_maskz_mov_ps(mt[c][0], lo[r]);
            __m512 x1 = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(mt[c][1], h, l, 1));
            __m512 x2 = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(mt[c][2], h, l, 2));
            a[r][0] = _mm512_fmadd_ps(dv, x0, a[r][0]);
            a[r][1] = _mm512_fmadd_ps(dv, x1, a[r][1]);
            a[r][2] = _mm512_fmadd_ps(dv, x2, a[r][2]);
            lo[r] = hi;
        }
    }
}

static bool gw_d3_fits(const og_cf_geom *g)
{
    return g->Q == 3 && g->P <= 3 && g->dw == 1 && g->sw == 1 && g->S <= 128;
}

__attribute__((target("avx512f"))) static void gw_d3_avx512(const og_cf_geom *g, const float *x, const float *dy,
                                                             float *dw, int64_t mo)
{
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const int64_t Nb = g->Cg, HW = g->H * g->W, PQ = g->R * g->S, gi = mo / g->Mg, Qd = g->S, H = g->H, W = g->W;
    const int64_t Pk = g->P, sh = g->sh, dh = g->dh, ph = g->ph, pw = g->pw;
    const __m512i zero = _mm512_setzero_si512(), wlim = _mm512_set1_epi32((int)W);
    __mmask16 mt[8][3], lm[9];
    for (int c = 0; c <= 8; c++) {   /* X's vector c of a row: columns 16c - pw .. inside the row */
        __m512i col = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(c * 16 - pw)));
        lm[c] = _mm512_cmpge_epi32_mask(col, zero) & _mm512_cmplt_epi32_mask(col, wlim);
    }
    for (int64_t q0 = 0; q0 < Qd; q0 += 16) {   /* dY columns inside dY whose tap k lands inside X */
        __mmask16 qm = Qd - q0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (Qd - q0)) - 1);
        for (int k = 0; k < 3; k++) {
            __m512i col = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(q0 + k - pw)));
            mt[q0 / 16][k] = qm & _mm512_cmpge_epi32_mask(col, zero) & _mm512_cmplt_epi32_mask(col, wlim);
        }
    }
    __m512 a[3][3];
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++)
            a[r][k] = _mm512_setzero_ps();
    for (int64_t n = 0; n < Nb; n++) {
        const float *xc = x + (n * g->G + gi) * HW, *dyc = dy + (n * g->M + mo) * PQ;
        for (int64_t p = 0; p < g->R; p++) {
            int64_t ihb = p * dh - ph;
            int rlo = 0, rhi = (int)Pk;
            while (rlo < rhi && ihb + rlo * sh < 0)
                rlo++;
            while (rhi > rlo && ihb + (rhi - 1) * sh >= H)
                rhi--;
            uintptr_t xr[3];
            for (int r = 0; r < 3; r++)   /* row ihb + r*sh at column -pw; read only for r in [rlo, rhi) */
                xr[r] = (uintptr_t)xc + (uintptr_t)(((ihb + r * sh) * W - pw) * 4);
            const float *dr = dyc + p * Qd;
            /* planes are short streams the hardware prefetcher is slow to
             * pick up: ask for the rows 8 ahead (a prefetch never faults) */
            uintptr_t pd = (uintptr_t)(dr + 8 * Qd), px = xr[Pk - 1] + (uintptr_t)(8 * sh * W * 4);
            for (int64_t o = 0; o < Qd * 4; o += 64)
                _mm_prefetch((const char *)(pd + (uintptr_t)o), _MM_HINT_T0);
            for (int64_t o = 0; o < W * 4; o += 64)
                _mm_prefetch((const char *)(px + (uintptr_t)o), _MM_HINT_T0);
            switch (rlo * 4 + rhi) {
            case 0 * 4 + 1: gw_d3_row(Qd, dr, xr, mt, lm, a, 0, 1); break;
            case 0 * 4 + 2: gw_d3_row(Qd, dr, xr, mt, lm, a, 0, 2); break;
            case 0 * 4 + 3: gw_d3_row(Qd, dr, xr, mt, lm, a, 0, 3); break;
            case 1 * 4 + 2: gw_d3_row(Qd, dr, xr, mt, lm, a, 1, 2); break;
            case 1 * 4 + 3: gw_d3_row(Qd, dr, xr, mt, lm, a, 1, 3); break;
            case 2 * 4 + 3: gw_d3_row(Qd, dr, xr, mt, lm, a, 2, 3); break;
            default: break;   /* no kernel row reads inside X */
            }
        }
    }
    for (int r = 0; r < Pk; r++)
        for (int k = 0; k < 3; k++)
            dw[mo * Pk * 3 + r * 3 + k] = _mm512_reduce_add_ps(a[r][k]);
}

typedef struct gwd_job {
    const cf_state *st;
    const float *x, *dy;
    float *dw;
    bool avx512;
} gwd_job;

static void gw_direct_task(void *arg, int64_t t, int worker)
{
    (void)worker;
    const gwd_job *j = arg;
#ifdef CF_HAVE_AVX512
    if (j->avx512) {
        const og_cf_geom *g = &j->st->g;
        if (gw_d3_fits(g))
            gw_d3_avx512(g, j->x, j->dy, j->dw, t);
        else if (g->P <= 3 && g->Q <= 3 && g->S <= 128)
            gw_direct_3x3_avx512(g, j->x, j->dy, j->dw, t);
        else
            gw_direct_avx512(g, j->x, j->dy, j->dw, t);
        return;
    }
#endif
    gw_direct_c(&j->st->g, j->x, j->dy, j->dw, t);
}

/* ---- weight gradient by pixel reduction (few dW columns) ----------------
 * dW[m, j] for j = (c, r', s') sums dY[n, m, p, q] * X[n, c, p*st + r'*dl - pad,
 * q*st + s'*dl - pad] over the images and dY's pixels. With few columns
 * (ResNet's 7x7 stride-2 first layer: 3*7*7 = 147) a GEMM spends as much
 * time packing both operands as multiplying; here both are read in place:
 * X is split once per image into the stride's phase planes, zero-padded
 * (phase (a, b) holds X[.., i*st_h + a - PHs, j*st_w + b - PWs]), so that
 * for every column and dY row the X values its 16 dY columns multiply are
 * 16 consecutive floats of one phase row. A register tile of 4 dW rows x 6
 * columns keeps 16 lane partial sums per element (24 accumulators, 4 dY
 * and 6 X loads per 24 FMAs); the partials of a task's block of rows stay
 * in its scratch over a group of images, then each element's 16 lanes are
 * summed in a fixed tree and added to dW group after group. Tasks own
 * blocks of dW rows: every element is reduced by one task in one order
 * fixed by the shape, so any thread count gives the same bits.
 *
 * In the Conv's terms (g): the forward strides are g->dh, g->dw, the
 * dilations g->sh, g->sw, dY is g->R x g->S, the taps g->P x g->Q. */
#define PR_MB 16   /* dW rows per task */
#define PR_NJ 6    /* columns per register tile */

typedef struct pr_cols {
    int64_t sth, stw, phs, pws;   /* strides, begin pads rounded up to them */
} pr_cols;

static pr_cols pr_cols_of(const og_cf_geom *g)
{
    pr_cols c = { g->dh, g->dw, cf_cdiv(g->ph, g->dh) * g->dh, cf_cdiv(g->pw, g->dw) * g->dw };
    return c;
}

/* Offset, within its group's phase planes, of the X value column j reads
 * at dY pixel (0, 0). */
static int64_t pr_col_base(const cf_state *st, const pr_cols *pc, int64_t j)
{
    const og_cf_geom *g = &st->g;
    int64_t RS = g->P * g->Q, c = j / RS, r = j % RS / g->Q, s = j % g->Q;
    int64_t t = r * g->sh - g->ph + pc->phs, u = s * g->sw - g->pw + pc->pws;
    int64_t plane = st->pr_rows * st->pr_lp;
    return ((c * pc->sth + t % pc->sth) * pc->stw + u % pc->stw) * plane + (t / pc->sth) * st->pr_lp + u / pc->stw;
}

typedef struct pr_job {
    const cf_state *st;
    const float *x, *dy;
    float *dw;
    char *ws;
    size_t stride;
    int64_t n0, nn;   /* the group of images */
} pr_job;

/* Task (image of the group, channel of X): its phase planes. */
static void pr_phase_task(void *arg, int64_t t, int worker)
{
    (void)worker;
    const pr_job *jb = arg;
    const cf_state *st = jb->st;
    const og_cf_geom *g = &st->g;
    pr_cols pc = pr_cols_of(g);
    int64_t Ct = g->G * g->N, nl = t / Ct, ch = t % Ct, H = g->H, W = g->W;
    const float *xc = jb->x + ((jb->n0 + nl) * Ct + ch) * H * W;
    float *dst = (float *)(jb->ws + st->pr_phase_off) + nl * st->pr_img + ch * pc.sth * pc.stw * st->pr_rows * st->pr_lp;
    for (int64_t a = 0; a < pc.sth; a++)
        for (int64_t b = 0; b < pc.stw; b++)
            for (int64_t i = 0; i < st->pr_rows; i++) {
                float *o = dst + ((a * pc.stw + b) * st->pr_rows + i) * st->pr_lp;
                int64_t ih = (i - pc.phs / pc.sth) * pc.sth + a;
                if (ih < 0 || ih >= H) {
                    memset(o, 0, sizeof(float) * (size_t)st->pr_lp);
                    continue;
                }
                const float *xr = xc + ih * W;
                int64_t j0 = pc.pws / pc.stw;   /* phase column of iw = b */
                for (int64_t jj = 0; jj < st->pr_lp; jj++) {
                    int64_t iw = (jj - j0) * pc.stw + b;
                    o[jj] = iw >= 0 && iw < W ? xr[iw] : 0.0f;
                }
            }
}

#ifdef CF_HAVE_AVX512
/* Rows m0.. of group gi over the images of the job's group: 4 x 6 tiles
 * over row chunks of dY, partial sums in part [PR_MB][jpad][16]. */
__attribute__((target("avx512f"))) static void pr_tile_avx512(const pr_job *jb, int64_t gi, int64_t m0, int64_t mb,
                                                               float *part)
{
    const cf_state *st = jb->st;
    const og_cf_geom *g = &st->g;
    pr_cols pc = pr_cols_of(g);
    const int64_t Py = g->R, Qy = g->S, PQ = Py * Qy, Lp = st->pr_lp, J = g->N * g->P * g->Q, Jp = st->pr_jpad;
    const int nv = (int)cf_cdiv(Qy, 16);
    const int64_t chunk = cf_min(Py, cf_cdiv(1024, Qy));   /* dY rows per chunk: the tile's dY stays in L1 */
    const __mmask16 tail = (__mmask16)((1u << (Qy - (nv - 1) * 16)) - 1);
    int64_t base[PR_NJ];
    for (int64_t nl = 0; nl < jb->nn; nl++) {
        const float *xp = (const float *)(jb->ws + st->pr_phase_off) + nl * st->pr_img +
                          gi * g->N * pc.sth * pc.stw * st->pr_rows * Lp;
        const float *dyn = jb->dy + ((jb->n0 + nl) * g->M + gi * g->Mg + m0) * PQ;
        for (int64_t p0 = 0; p0 < Py; p0 += chunk) {
            int64_t p1 = cf_min(Py, p0 + chunk);
            for (int64_t mt = 0; mt < mb; mt += 4) {
                /* rows past the block repeat its last (their sums are dropped) */
                const float *d0 = dyn + cf_min(mt + 0, mb - 1) * PQ, *d1 = dyn + cf_min(mt + 1, mb - 1) * PQ;
                const float *d2 = dyn + cf_min(mt + 2, mb - 1) * PQ, *d3 = dyn + cf_min(mt + 3, mb - 1) * PQ;
                for (int64_t j0 = 0; j0 < Jp; j0 += PR_NJ) {
                    for (int k = 0; k < PR_NJ; k++)   /* columns past J repeat the last */
                        base[k] = pr_col_base(st, &pc, cf_min(j0 + k, J - 1));
                    float *pt = part + (mt * Jp + j0) * 16;
                    __m512 a[4][PR_NJ];
#pragma GCC unroll 4
                    for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
                        for (int k = 0; k < PR_NJ; k++)
                            a[i][k] = _mm512_loadu_ps(pt + (i * Jp + k) * 16);
                    for (int64_t p = p0; p < p1; p++) {
                        const float *x0 = xp + base[0] + p * Lp, *x1 = xp + base[1] + p * Lp;
                        const float *x2 = xp + base[2] + p * Lp, *x3 = xp + base[3] + p * Lp;
                        const float *x4 = xp + base[4] + p * Lp, *x5 = xp + base[5] + p * Lp;
                        int64_t o = p * Qy;
                        for (int v = 0; v < nv; v++, o += 16) {
                            __mmask16 m = v + 1 < nv ? (__mmask16)0xFFFF : tail;
                            __m512 y0 = _mm512_maskz_loadu_ps(m, d0 + o), y1 = _mm512_maskz_loadu_ps(m, d1 + o);
                            __m512 y2 = _mm512_maskz_loadu_ps(m, d2 + o), y3 = _mm512_maskz_loadu_ps(m, d3 + o);
                            const float *xs[PR_NJ] = { x0 + v * 16, x1 + v * 16, x2 + v * 16,
                                                       x3 + v * 16, x4 + v * 16, x5 + v * 16 };
#pragma GCC unroll 6
                            for (int k = 0; k < PR_NJ; k++) {
                                __m512 xv = _mm512_maskz_loadu_ps(m, xs[k]);
                                a[0][k] = _mm512_fmadd_ps(y0, xv, a[0][k]);
                                a[1][k] = _mm512_fmadd_ps(y1, xv, a[1][k]);
                                a[2][k] = _mm512_fmadd_ps(y2, xv, a[2][k]);
                                a[3][k] = _mm512_fmadd_ps(y3, xv, a[3][k]);
                            }
                        }
                    }
#pragma GCC unroll 4
                    for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
                        for (int k = 0; k < PR_NJ; k++)
                            _mm512_storeu_ps(pt + (i * Jp + k) * 16, a[i][k]);
                }
            }
        }
    }
}

/* Task (group, block of dW rows). */
__attribute__((target("avx512f"))) static void pr_task(void *arg, int64_t t, int worker)
{
    const pr_job *jb = arg;
    const cf_state *st = jb->st;
    const og_cf_geom *g = &st->g;
    int64_t gi = t / st->n_mb, m0 = t % st->n_mb * st->mb, mb = cf_min(st->mb, g->Mg - m0);
    int64_t J = g->N * g->P * g->Q, Jp = st->pr_jpad;
    float *part = (float *)(jb->ws + (size_t)worker * jb->stride);
    memset(part, 0, sizeof(float) * (size_t)(cf_cdiv(mb, 4) * 4 * Jp * 16));
    pr_tile_avx512(jb, gi, m0, mb, part);
    for (int64_t m = 0; m < mb; m++) {
        float *row = jb->dw + (gi * g->Mg + m0 + m) * J;
        for (int64_t j = 0; j < J; j++) {
            float v = _mm512_reduce_add_ps(_mm512_loadu_ps(part + (m * Jp + j) * 16));
            row[j] = jb->n0 ? row[j] + v : v;
        }
    }
}
#endif

static void grad_w_pixred_run(const og_kernel_call *k, const cf_state *st, int nt)
{
    const og_cf_geom *g = &st->g;
    pr_job jb = { .st = st, .x = k->in[0]->data, .dy = k->in[1]->data, .dw = k->out[0]->data,
                  .ws = k->workspace, .stride = k->workspace_stride };
    if (g->Cg == 0)   /* no images: dW is zero */
        memset(jb.dw, 0, sizeof(float) * (size_t)(g->M * g->N * g->P * g->Q));
#ifdef CF_HAVE_AVX512
    for (jb.n0 = 0; jb.n0 < g->Cg; jb.n0 += st->pr_ng) {
        jb.nn = cf_min(st->pr_ng, g->Cg - jb.n0);
        og_parallel_for(nt, jb.nn * g->G * g->N, pr_phase_task, &jb);
        og_parallel_for(nt, g->G * st->n_mb, pr_task, &jb);
    }
#else
    (void)g, (void)nt, (void)jb;
#endif
}

/* ---- run entry points --------------------------------------------------- */

static og_status conv_fast_run(const og_kernel_call *k)
{
    const cf_state *st = k->state;
    og_status e = check_call(k, "Conv", st);
    if (e)
        return e;
    if (st->kind == CF_DEPTHWISE) {
        run_direct(k, st, k->in[1]->data);
        return OG_OK;
    }
    run_fwd(k, st, k->in[1]->data);
    return OG_OK;
}

static og_status convt_fast_run(const og_kernel_call *k)
{
    const cf_state *st = k->state;
    og_status e = check_call(k, "ConvTranspose", st);
    if (e)
        return e;
    const og_cf_geom *g = &st->g;
    const float *w = k->in[1]->data;
    if (st->dws_scatter) {
        dws_job dj = { .g = g, .scatter = true, .x = k->in[0]->data, .w = w, .b = st->sh.bias ? k->in[2]->data : NULL,
                       .y = k->out[0]->data };
        og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, g->N * cf_cdiv(g->C, CF_DWS_BLOCK), dws_task, &dj);
        return OG_OK;
    }
    if (st->kind == CF_CONVT_S1) {
        if (use_direct(g))
            run_direct(k, st, w);
        else
            run_fwd(k, st, w);
        return OG_OK;
    }
    fwd_job j = { .st = st, .x = k->in[0]->data, .w = w, .b = st->sh.bias ? k->in[2]->data : NULL,
                  .y = k->out[0]->data, .ws = k->workspace, .stride = k->workspace_stride };
    if (st->batched)
        og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, g->G * st->n_mb, convt_col_batched_task, &j);
    else
        og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, g->N * g->G * st->n_mb, convt_col_task, &j);
    return OG_OK;
}

static og_status grad_w_run(const og_kernel_call *k)
{
    const cf_state *st = k->state;
    bool ok = st && k->n_in == 2 && og_cf_shapes_match(&st->sh, k);
    if (!ok)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Transpose, fused conv weight gradient): tensors do not match "
                                       "the shapes the kernel was planned for", k->node->name);
    int nt = k->n_threads > 0 ? k->n_threads : 1;
    if (st->pixred) {
        grad_w_pixred_run(k, st, nt);
        return OG_OK;
    }
    if (st->rows) {
        og_gwr_run(&st->gwr, k->in[0]->data, k->in[1]->data, k->out[0]->data, k->workspace, k->workspace_stride, nt);
        return OG_OK;
    }
    if (st->dws_w) {
        dwsw_job dj = { .g = st->fg, .x = k->in[0]->data, .dy = k->in[1]->data, .dw = k->out[0]->data };
        og_parallel_for(nt, cf_cdiv(st->fg.C, CF_DWS_BLOCK), dwsw_task, &dj);
        return OG_OK;
    }
    if (st->direct) {
        const og_cf_geom *g = &st->g;
        gwd_job j = { .st = st, .x = k->in[0]->data, .dy = k->in[1]->data, .dw = k->out[0]->data,
                      .avx512 = og_isa_active() == OG_ISA_AVX512 && g->S + 16 < ((int64_t)1 << 30) &&
                                (g->S + 16) * g->dw < ((int64_t)1 << 30) };
        og_parallel_for(nt, g->M, gw_direct_task, &j);
        return OG_OK;
    }
    gw_job j = { .st = st, .x = k->in[0]->data, .dy = k->in[1]->data, .dw = k->out[0]->data,
                 .ws = k->workspace, .stride = k->workspace_stride };
    og_parallel_for(nt, st->n_ip * st->g.G * st->n_mb * st->n_jb, gw_task, &j);
    if (st->n_ip > 1 && st->g.Cg > 0) {
        float *dw = j.dw;
        const float *parts = (const float *)(j.ws + st->part_off);
        int64_t n = st->g.M * st->g.N * st->g.P * st->g.Q;
        for (int64_t p = 1; p < st->n_ip; p++)
            for (int64_t i = 0; i < n; i++)
                dw[i] += parts[(p - 1) * n + i];
    }
    return OG_OK;
}

/* ---- select ------------------------------------------------------------- */

/* Forward pixel blocks: the whole plane when small, else blocks of about
 * CF_MAX_PIX / 4..CF_MAX_PIX; smaller blocks when images and groups alone
 * give fewer than 8 tasks. From the shape only. */
static void plan_pixels(cf_state *st)
{
    const og_cf_geom *g = &st->g;
    int64_t PQ = g->P * g->Q, outer = g->N * g->G;
    int64_t want = outer >= 8 ? 1 : cf_cdiv(8, outer > 0 ? outer : 1);
    int64_t pix = cf_cdiv(PQ, want);
    if (pix > CF_MAX_PIX)
        pix = CF_MAX_PIX / 4;
    if (pix < 64)
        pix = PQ < 64 ? PQ : 64;
    pix = cf_cdiv(pix, 16) * 16;
    /* large planes: blocks of whole panels (512 pixels = 10 panels of 48
     * and a third one's worth of padding per block) */
    int nr = og_gemm_nr();
    if (pix >= 8 * (int64_t)nr && pix % nr)
        pix = pix / nr * nr;
    if (pix > PQ)
        pix = PQ;
    st->pix = pix;
    st->n_pix = cf_cdiv(PQ, pix);
}

static og_status finish_fwd(og_select_call *s, cf_state *st, const char *name)
{
    if (og_gemm_nr() > CF_MAX_NR) {   /* pack_fwd's segment table */
        og_free(st);
        return OG_OK;
    }
    const og_cf_geom *g = &st->g;
    int64_t K = g->Cg * g->R * g->S;
    plan_pixels(st);
    st->mb = g->Mg;
    if (st->kind == CF_CONVT_S1 && !use_direct(g)) {
        /* the flipped weight block of a task stays within 5 MiB (every
         * block repacks B, so fewer is better; the worker's whole scratch
         * stays under CF_MAX_WS) */
        int64_t cap = ((int64_t)5 << 18) / K;
        cap = cap > 0 ? cap : 1;
        st->mb = cf_cdiv(g->Mg, cf_cdiv(g->Mg, cap));   /* blocks of even size */
    }
    st->n_mb = cf_cdiv(g->Mg, st->mb);
    st->gemm_ws = CF_ALIGN(og_gemm_workspace_bytes());
    size_t ws = st->gemm_ws + (st->kind == CF_POINTWISE ? 0 : CF_ALIGN(2 * sizeof(int64_t) * (size_t)st->pix));
    if (st->kind == CF_DEPTHWISE || (st->kind == CF_CONVT_S1 && use_direct(g)))
        ws = 0, st->gemm_ws = 0;
    if (st->kind == CF_CONVT_S1) {
        st->wt_off = ws;
        ws += 64 + CF_ALIGN(sizeof(float) * (size_t)(st->mb * K));
    }
    int nr = og_gemm_nr();
    int64_t PQ = g->P * g->Q;
    bool gemm = st->kind == CF_IGEMM || st->kind == CF_POINTWISE || (st->kind == CF_CONVT_S1 && !use_direct(g));
    /* a plane whose last GEMM panel is mostly padding (14x14 = 196 pixels:
     * 4 panels of 48 and 4 pixels, 18 % of the tiles' work wasted) also goes
     * across images, where only the last block of the batch is ragged */
    bool ragged = st->kind != CF_POINTWISE && (cf_cdiv(PQ, nr) * nr - PQ) * 10 > PQ;
    if (gemm && g->N > 1 && (PQ < 4 * nr || ragged)) {
        /* small planes: pixel blocks across images (fwd_batched_task) */
        st->batched = true;
        if (st->kind == CF_POINTWISE)
            st->kind = CF_IGEMM;
        int64_t total = g->N * PQ;
        st->pix = cf_min(total, 4 * (int64_t)nr);
        st->n_pix = cf_cdiv(total, st->pix);
        /* fewer than 4 tasks: split the output channels too (each block packs B again) */
        int64_t tasks = g->G * st->n_pix * st->n_mb;
        if (tasks < 4 && st->mb >= 32)
            st->mb = cf_cdiv(st->mb, cf_min(cf_cdiv(4, tasks), st->mb / 16));
        st->n_mb = cf_cdiv(g->Mg, st->mb);
        ws = st->gemm_ws + CF_ALIGN(3 * sizeof(int64_t) * (size_t)st->pix);
        st->tmp_off = ws;
        ws += CF_ALIGN(sizeof(float) * (size_t)(st->mb * st->pix));
        if (st->kind == CF_CONVT_S1) {
            st->wt_off = ws;
            ws += 64 + CF_ALIGN(sizeof(float) * (size_t)(st->mb * K));
        }
        /* several output-channel blocks would each pack B again (on 2x2
         * planes the im2col of 2-pixel rows took as long as the GEMM):
         * packed once, in worker 0's scratch, when small */
        st->bpre_ld = cf_cdiv(st->pix, nr) * nr;
        size_t pre = sizeof(float) * (size_t)(g->G * st->n_pix * K * st->bpre_ld);
        if (st->n_mb > 1 && pre <= ((size_t)4 << 20)) {
            st->bpre = true;
            st->bpre_off = ws;
            ws += CF_ALIGN(pre);
        }
    }
    if (ws > CF_MAX_WS) {
        og_free(st);
        return OG_OK;
    }
    s->state = st;
    s->workspace_bytes = ws;
    s->kernel_name = st->batched ? (st->kind == CF_CONVT_S1 ? "convt_s1_igemm_batched" : "conv_igemm_batched")
                                 : name;
    return OG_OK;
}

static bool geom_sane(const og_cf_geom *g)
{
    /* sizes whose products the kernels form in int64 without checks */
    const int64_t lim = (int64_t)1 << 40;
    return g->N >= 1 && g->C >= 1 && g->M >= 1 && g->C * g->H * g->W < lim && g->M * g->P * g->Q < lim &&
           g->Cg * g->R * g->S < lim && g->Mg * g->R * g->S < ((int64_t)1 << 31);
}

og_status og_conv_fast_select(og_select_call *s, const og_cf_geom *g, bool has_bias)
{
    if (!tinfo_float_known(s->in[0]) || !tinfo_float_known(s->in[1]) || !s->out[0] ||
        !tinfo_float_known(s->out[0]) || (has_bias && !tinfo_float_known(s->in[2])) || !geom_sane(g))
        return OG_OK;
    /* also before the direct kernel of one input channel into several
     * (LeNet-5's first layer: 2x faster on rows) */
    if (!use_direct(g) || (g->Cg == 1 && g->G == 1)) {
        og_status e = og_conv_winograd_select(s, g, has_bias, false);
        if (e || s->state)
            return e;
        e = og_conv_direct_select(s, g, has_bias, false, true);
        if (e || s->state)
            return e;
    }
    cf_state *st = state_new(s, 0);
    if (!st)
        return og_err(OG_ERR_NOMEM, "node '%s' (Conv): out of memory planning the fast kernel", s->node->name);
    st->g = *g;
    st->sh.bias = has_bias;
    const char *name;
    if (use_direct(g)) {
        st->kind = CF_DEPTHWISE;
        name = g->Cg > 1 ? "conv_direct_m1" : g->G > 1 ? "conv_depthwise" : "conv_direct_c1";
    } else if (g->R == 1 && g->S == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 && g->P == g->H &&
               g->Q == g->W) {
        st->kind = CF_POINTWISE;
        name = "conv_pointwise";
    } else {
        st->kind = CF_IGEMM;
        name = "conv_igemm";
    }
    og_status e = finish_fwd(s, st, name);
    if (!e && s->state)
        s->run = conv_fast_run;
    return e;
}

og_status og_convt_fast_select(og_select_call *s, const og_cf_geom *g, bool has_bias)
{
    if (!tinfo_float_known(s->in[0]) || !tinfo_float_known(s->in[1]) || !s->out[0] ||
        !tinfo_float_known(s->out[0]) || (has_bias && !tinfo_float_known(s->in[2])) || !geom_sane(g))
        return OG_OK;
    og_cf_geom f = *g;   /* stride 1: the equivalent forward convolution, kernel flipped */
    f.ph = (g->R - 1) * g->dh - g->ph;
    f.pw = (g->S - 1) * g->dw - g->pw;
    /* The implicit GEMM packs Cg*R*S rows per pixel for Mg output rows, the
     * column path scatters Mg*R*S values per input pixel for Cg input
     * channels: with many more input than output channels per group (LeNet's
     * second-layer dX) the column path does less work around its GEMM. */
    if (g->sh == 1 && g->sw == 1 && !use_direct(&f)) {
        /* relaxed unless the column path below would win: many more input
         * than output channels, and enough of them for its GEMM's depth
         * (Caffe LeNet's second-layer dX, 50 into 20; LeNet-5's, 16 into
         * 6, measured 1.3x faster on rows) */
        og_status e = og_conv_winograd_select(s, &f, has_bias, true);
        if (e || s->state)
            return e;
        e = og_conv_direct_select(s, &f, has_bias, true, g->Cg <= 2 * g->Mg || g->Cg <= 24);
        if (e || s->state)
            return e;
    }
    /* 1x1 always: its im2col is X itself (the column path's GEMM and
     * scatter ran MobileNetV2's 576-into-96 dX at a tenth of the rate) */
    bool s1 = g->sh == 1 && g->sw == 1 && (use_direct(&f) || g->Cg <= 2 * g->Mg || (g->R == 1 && g->S == 1));
    if (s1) {
        cf_state *st = state_new(s, 0);
        if (!st)
            return og_err(OG_ERR_NOMEM, "node '%s' (ConvTranspose): out of memory planning the fast kernel",
                          s->node->name);
        st->g = f;
        st->sh.bias = has_bias;
        st->kind = CF_CONVT_S1;
        og_status e = finish_fwd(s, st, use_direct(&f) ? "convt_s1_direct" : "convt_s1_igemm");
        if (!e && s->state)
            s->run = convt_fast_run;
        return e;
    }
    cf_state *st = state_new(s, 0);
    if (!st)
        return og_err(OG_ERR_NOMEM, "node '%s' (ConvTranspose): out of memory planning the fast kernel",
                      s->node->name);
    st->g = *g;
    st->sh.bias = has_bias;
    st->kind = CF_CONVT_COL;
    if (dws_scatter_fits(g)) {
        st->dws_scatter = true;
        s->state = st;
        s->kernel_name = "convt_depthwise_lanes";
        s->run = convt_fast_run;
        return OG_OK;
    }
    int64_t RS = g->R * g->S, outer = g->N * g->G;
    st->gemm_ws = CF_ALIGN(og_gemm_workspace_bytes());
    size_t ws;
    if (g->N > 1 && g->H * g->W < og_gemm_nr()) {
        /* small planes: channel blocks over all images (convt_col_batched_task),
         * 8 or more tasks, pixel chunks of at most 256 and the column
         * buffer within ~2 MiB */
        st->batched = true;
        int64_t n_mb = cf_min(g->Mg, cf_cdiv(8, g->G));
        st->mb = cf_cdiv(g->Mg, n_mb);
        st->n_mb = cf_cdiv(g->Mg, st->mb);
        int64_t jb = cf_min(256, ((int64_t)1 << 19) / (st->mb * RS));
        st->jb = cf_min(cf_max(jb, 16), g->N * g->H * g->W);
        st->tmp_off = st->gemm_ws + CF_ALIGN(sizeof(float) * (size_t)(st->mb * RS * st->jb));
        ws = st->tmp_off + CF_ALIGN(sizeof(float) * (size_t)(g->Cg * st->jb));
    } else {
        /* output-channel blocks: enough tasks for a few threads, and a column
         * buffer of at most ~2 MiB with at least 16 pixels */
        int64_t mb = outer >= 8 ? g->Mg : cf_cdiv(g->Mg, cf_cdiv(8, outer));
        int64_t mb_cap = ((int64_t)1 << 19) / (16 * RS);
        if (mb > mb_cap)
            mb = mb_cap > 0 ? mb_cap : 1;
        if (mb < 1)
            mb = 1;
        st->mb = mb;
        st->n_mb = cf_cdiv(g->Mg, mb);
        int64_t jb = ((int64_t)1 << 19) / (mb * RS);
        jb = jb < 16 ? 16 : jb;
        st->jb = cf_min(jb, g->H * g->W);
        ws = st->gemm_ws + CF_ALIGN(sizeof(float) * (size_t)(mb * RS * st->jb));
    }
    if (ws > CF_MAX_WS) {
        og_free(st);
        return OG_OK;
    }
    s->state = st;
    s->workspace_bytes = ws;
    s->kernel_name = st->batched ? "convt_col_batched" : "convt_col";
    s->run = convt_fast_run;
    return OG_OK;
}

/* ---- the weight-gradient pattern ---------------------------------------- */

static void value_tinfo(const og_graph *g, int v, og_tinfo *ti)
{
    og_value_get(&g->values[v], ti);
}

/* A node of this op type with one output, read by exactly one node (so
 * fusing it away changes nothing else), and its first input present. */
static bool single_use(const og_node *n, const char *op, const int *readers)
{
    return n && strcmp(n->op_type, op) == 0 && !n->domain[0] && n->n_inputs >= 1 && n->inputs[0] >= 0 &&
           n->n_outputs == 1 && n->outputs[0] >= 0 && readers[n->outputs[0]] == 1;
}

/* Transpose's perm attribute is exactly perm[0..n) (no perm means the axes
 * reversed, which no pattern here wants). */
static bool perm_is(const og_node *n, const int64_t *perm, int len)
{
    for (int a = 0; a < n->n_attrs; a++) {
        const og_ir_attr *at = &n->attrs[a];
        if (strcmp(at->name, "perm") == 0) {
            if (at->type != OG_ATTR_INTS || at->count != len)
                return false;
            for (int i = 0; i < len; i++)
                if (at->ints[i] != perm[i])
                    return false;
            return true;
        }
    }
    return false;
}

static const int64_t swap01_perm[4] = { 1, 0, 2, 3 }, regroup_perm[5] = { 2, 1, 0, 3, 4 };

static bool dims_are(const og_tinfo *t, int rank, const int64_t *d)
{
    if (!tinfo_float_known(t) || t->shape.rank != rank)
        return false;
    for (int i = 0; i < rank; i++)
        if (t->shape.dims[i] != d[i])
            return false;
    return true;
}

/* The pixel-reduction dW (AVX-512): few columns (where a GEMM's packing
 * costs as much as its multiply), dY rows of at least one vector, and
 * blocks of at least 4 dW rows; one image's phase planes within 4 MiB. */
/* Up to 2 panels of dW columns; past them (ResNet's 7x7 first layer, 147)
 * the GEMM in two image parts measured 5-10 % faster at 1 and 2 threads. */
#define CF_PIXRED_MAX_COLS 96

static bool pixred_plan(cf_state *st)
{
    const og_cf_geom *g = &st->g;
    int64_t J = g->N * g->P * g->Q;
    if (og_isa_active() != OG_ISA_AVX512 || J > CF_PIXRED_MAX_COLS || g->S < 16 || g->Mg < 4 || g->dh > 4 ||
        g->dw > 4)
        return false;
    pr_cols pc = pr_cols_of(g);
    int64_t max_ro = ((g->P - 1) * g->sh - g->ph + pc.phs) / pc.sth;
    int64_t max_co = ((g->Q - 1) * g->sw - g->pw + pc.pws) / pc.stw;
    st->pr_rows = g->R + max_ro;
    st->pr_lp = cf_cdiv(cf_cdiv(g->S, 16) * 16 + max_co, 16) * 16;
    st->pr_img = g->G * g->N * pc.sth * pc.stw * st->pr_rows * st->pr_lp;
    int64_t cap = ((int64_t)4 << 20) / (int64_t)sizeof(float);
    if (st->pr_img > cap || g->S >= ((int64_t)1 << 30))
        return false;
    st->pr_ng = cf_min(g->Cg, cap / st->pr_img);
    st->pr_ng = st->pr_ng > 0 ? st->pr_ng : 1;
    st->pr_jpad = cf_cdiv(J, PR_NJ) * PR_NJ;
    st->mb = cf_min(PR_MB, g->Mg);
    st->n_mb = cf_cdiv(g->Mg, st->mb);
    st->pixred = true;
    st->pr_phase_off = CF_ALIGN(sizeof(float) * (size_t)(cf_cdiv(st->mb, 4) * 4 * st->pr_jpad * 16));
    return true;
}

/* Matches what conv.c's conv_grad_w emits (without the crop Slice, which
 * stays a node of its own):
 *   dW = Transpose[1,0,2,3](Conv(Xt, Transpose[1,0,2,3](dY); no bias))
 * with Xt = Transpose[1,0,2,3](X) for group 1, and for group G
 *   Xt = Reshape(Transpose[2,1,0,3,4](Reshape(X to [N, G, Cx, H, W])) to [Cx, G*N, H, W])
 * (og_grad_channels_first). Every intermediate must be read only along the
 * chain; the kernel then reads X and dY directly. The Conv's own
 * attributes (strides, dilations, pads, group) are resolved by conv.c and
 * computed as they are, so any Conv of this form is computed exactly. */
static og_status grad_w_select(og_select_call *s)
{
    const og_node *root = s->node;
    /* the root's own output may have any readers */
    if (!root || strcmp(root->op_type, "Transpose") != 0 || root->domain[0] || root->n_inputs != 1 ||
        root->inputs[0] < 0 || !perm_is(root, swap01_perm, 4) || s->readers[root->inputs[0]] != 1)
        return OG_OK;
    const og_node *conv = og_value_producer(s->g, root->inputs[0]);
    if (!conv || strcmp(conv->op_type, "Conv") != 0 || conv->domain[0] || conv->n_outputs != 1 ||
        conv->n_inputs < 2 || (conv->n_inputs > 2 && conv->inputs[2] >= 0) || conv->inputs[0] < 0 ||
        conv->inputs[1] < 0)
        return OG_OK;
    const og_node *tdy = og_value_producer(s->g, conv->inputs[1]);
    if (!single_use(tdy, "Transpose", s->readers) || !perm_is(tdy, swap01_perm, 4))
        return OG_OK;
    og_tinfo xt, dyt, dyi;
    value_tinfo(s->g, conv->inputs[0], &xt);
    value_tinfo(s->g, conv->inputs[1], &dyt);
    value_tinfo(s->g, tdy->inputs[0], &dyi);
    if (!tinfo_float_known(&xt) || !tinfo_float_known(&dyt) || xt.shape.rank != 4 || dyt.shape.rank != 4 ||
        !s->out[0] || !tinfo_float_known(s->out[0]) || s->out[0]->shape.rank != 4)
        return OG_OK;
    og_cf_geom g;
    if (!og_conv_node_geom(conv, &xt.shape, &dyt.shape, &g))
        return OG_OK;
    /* g in the Conv's terms: N = X's channels per group (Cx), C = G * batch,
     * Cg = the batch, M = dY's channels */
    int64_t Nb = g.Cg, Cx = g.N, G = g.G;
    int x_value = -1;
    const og_node *tx = og_value_producer(s->g, conv->inputs[0]);
    if (G == 1) {
        if (single_use(tx, "Transpose", s->readers) && perm_is(tx, swap01_perm, 4))
            x_value = tx->inputs[0];
    } else if (single_use(tx, "Reshape", s->readers)) {
        const og_node *tr = og_value_producer(s->g, tx->inputs[0]);
        const og_node *r1 = single_use(tr, "Transpose", s->readers) && perm_is(tr, regroup_perm, 5)
                            ? og_value_producer(s->g, tr->inputs[0]) : NULL;
        if (single_use(r1, "Reshape", s->readers)) {
            /* a Reshape of static shapes is fixed by them: check the three */
            og_tinfo a, b;
            value_tinfo(s->g, r1->outputs[0], &a);
            value_tinfo(s->g, tr->outputs[0], &b);
            const int64_t ad[5] = { Nb, G, Cx, g.H, g.W }, bd[5] = { Cx, G, Nb, g.H, g.W };
            if (dims_are(&a, 5, ad) && dims_are(&b, 5, bd))
                x_value = r1->inputs[0];
        }
    }
    if (x_value < 0)
        return OG_OK;
    og_tinfo xi;
    value_tinfo(s->g, x_value, &xi);
    const int64_t xd[4] = { Nb, G * Cx, g.H, g.W }, dd[4] = { Nb, g.M, g.R, g.S }, od[4] = { g.M, Cx, g.P, g.Q };
    if (!dims_are(&xi, 4, xd) || !dims_are(&dyi, 4, dd) || !dims_are(s->out[0], 4, od))
        return OG_OK;
    if (Cx < 1 || g.M < 1 || Cx * g.P * g.Q >= ((int64_t)1 << 40) || Nb * g.M * g.R * g.S >= ((int64_t)1 << 40) ||
        Nb * G * Cx * g.H * g.W >= ((int64_t)1 << 40))
        return OG_OK;
    cf_state *st = og_calloc(1, sizeof *st);
    if (!st)
        return og_err(OG_ERR_NOMEM, "node '%s' (Transpose): out of memory planning the conv weight gradient",
                      root->name);
    st->kind = CF_GRAD_W;
    st->g = g;
    og_cf_shapes_set(&st->sh, xd, dd, od);
    s->kernel_name = "conv_grad_w_igemm";
    if (Cx == 1 && (g.G > 1 || g.M < 8)) {   /* depthwise-like; one channel into many: the GEMM */
        st->direct = true;
        s->kernel_name = "conv_grad_w_direct";
        /* depthwise (one channel in and out per group), in forward terms */
        og_cf_geom f = { .N = Nb, .C = G, .M = g.M, .G = G, .Cg = 1, .Mg = g.Mg, .H = g.H, .W = g.W, .R = g.P,
                         .S = g.Q, .P = g.R, .Q = g.S, .sh = g.dh, .sw = g.dw, .dh = g.sh, .dw = g.sw, .ph = g.ph,
                         .pw = g.pw };
        if (dwsw_fits(&f)) {
            st->dws_w = true;
            st->fg = f;
            s->kernel_name = "conv_grad_w_depthwise_lanes";
        }
    } else if (g.P == 1 && g.Q == 1 && g.dh == 1 && g.dw == 1 && g.ph == 0 && g.pw == 0 && g.H == g.R &&
               g.W == g.S) {
        /* a 1x1 forward kernel with stride 1 and no pads: im2col is X itself */
        st->plain_b = true;
        s->kernel_name = "conv_grad_w_pointwise";
    }
    if (G == 1) {
        /* 3x3 stride 1: Winograd's F(3x3, 2x2) (conv_winograd.c), in forward terms */
        og_cf_geom f = { .N = Nb, .C = Cx, .M = g.M, .G = 1, .Cg = Cx, .Mg = g.M, .H = g.H, .W = g.W, .R = g.P,
                         .S = g.Q, .P = g.R, .Q = g.S, .sh = g.dh, .sw = g.dw, .dh = g.sh, .dw = g.sw, .ph = g.ph,
                         .pw = g.pw };
        og_status e = og_conv_winograd_grad_w_select(s, &f);
        if (e || s->state) {
            og_free(st);
            if (!e) {
                s->new_n_in = 2;
                s->new_inputs[0] = x_value;
                s->new_inputs[1] = tdy->inputs[0];
            }
            return e;
        }
    }
    if (!st->direct && !st->plain_b && pixred_plan(st)) {
        s->kernel_name = "conv_grad_w_pixred";
        s->state = st;
        s->workspace_bytes = st->pr_phase_off + CF_ALIGN(sizeof(float) * (size_t)(st->pr_ng * st->pr_img));
        s->run = grad_w_run;
        s->new_n_in = 2;
        s->new_inputs[0] = x_value;
        s->new_inputs[1] = tdy->inputs[0];
        return OG_OK;
    }
    size_t rows_ws;
    if (!st->direct && !st->plain_b && og_gwr_plan_make(&st->gwr, &g, &rows_ws) && og_gwr_preferred(&st->gwr)) {
        st->rows = true;
        s->kernel_name = "conv_grad_w_rows";
        s->state = st;
        s->workspace_bytes = rows_ws;
        s->run = grad_w_run;
        s->new_n_in = 2;
        s->new_inputs[0] = x_value;
        s->new_inputs[1] = tdy->inputs[0];
        return OG_OK;
    }
    /* Column blocks of dW: the split whose busiest thread multiplies the
     * fewest GEMM panels (the ISA's nr columns; a block need not be whole
     * panels: 256 columns as 2 x 128 are 2 x 3 panels, even over 2 threads,
     * where 96 + 96 + 64 are not), at most 8 panels a block, ties to fewer
     * blocks (each packs dY again). Rows are split only when groups and
     * columns give fewer tasks than threads (each row block packs B again).
     * The sums do not depend on the blocks (og_sgemm's don't depend on N
     * or position), so the thread count may choose them. */
    int nr = og_gemm_nr();
    if (nr > CF_MAX_NR) {
        og_free(st);
        return OG_OK;
    }
    int nt = s->n_threads > 0 ? s->n_threads : 1;
    int64_t cols = Cx * g.P * g.Q, jb = 0, best = 0;
    /* two image parts for dW of at most 4 panels (ResNet's first layer,
     * 147 columns: the column blocks of 2 threads each packed all of dY) */
    st->n_ip = !st->direct && g.Cg >= 2 && cols <= 4 * (int64_t)nr ? 2 : 1;
    for (int64_t t = 1; t <= cf_min(cols, 64); t++) {
        int64_t b = cf_cdiv(cols, t), pan = cf_cdiv(b, nr), blocks = cf_cdiv(cols, b);
        int64_t cost = cf_cdiv(st->n_ip * G * blocks, nt) * pan;
        if (pan <= 8 && (!jb || cost < best))
            jb = b, best = cost;
    }
    if (!jb)   /* wider than 64 blocks of 8 panels */
        jb = 8 * (int64_t)nr;
    st->jb = jb;
    st->n_jb = cf_cdiv(cols, jb);
    int64_t mb = g.Mg;
    if (st->n_ip * G * st->n_jb < nt && g.Mg >= 32)
        mb = cf_cdiv(g.Mg, cf_min(cf_cdiv(nt, G * st->n_jb), g.Mg / 16));
    st->mb = mb;
    st->n_mb = cf_cdiv(g.Mg, mb);
    st->gemm_ws = st->direct ? 0 : CF_ALIGN(og_gemm_workspace_bytes());
    size_t wsb = st->gemm_ws;
    if (!st->direct && !st->plain_b) {
        /* im2col chunks of 4 GEMM K-blocks of dY pixels */
        st->kcb = cf_min(4 * OG_GEMM_KC, g.R * g.S);
        st->bt_off = wsb;
        wsb += CF_ALIGN(sizeof(float) * (size_t)(st->jb * st->kcb));
    }
    st->part_off = wsb;   /* used in worker 0's workspace only */
    wsb += CF_ALIGN(sizeof(float) * (size_t)((st->n_ip - 1) * g.M * cols));
    s->state = st;
    s->workspace_bytes = wsb;
    s->run = grad_w_run;
    s->new_n_in = 2;
    s->new_inputs[0] = x_value;
    s->new_inputs[1] = tdy->inputs[0];
    return OG_OK;
}

const og_pattern og_pattern_conv_grad_w = {
    .root_op = "Transpose",
    .name = "conv_grad_w",
    .select = grad_w_select,
};
