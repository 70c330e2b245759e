/* SPDX-License-Identifier: MIT */
/* conv_grad_w_rows.c — the Conv weight gradient (dW) as dot products of
 * padded rows ("shifted windows"), AVX-512 or AVX2; chosen by
 * conv_fast.c's grad_w_select (kernel name conv_grad_w_rows).
 *
 * What it computes (forward terms: X [N, G*Cg, H, W], dY [N, G*Mg, P, Q],
 * dW [G*Mg, Cg, R, S], strides sh, sw, dilations dh, dw, begin pads ph, pw):
 *   dW[g*Mg+m, c, r, s] = sum over n, p, q of dY[n, g*Mg+m, p, q] *
 *                         X[n, g*Cg+c, p*sh + r*dh - ph, q*sw + s*dw - pw]
 * (X reads outside the plane are zero).
 *
 * Why: the implicit GEMM (conv_grad_w_igemm) packs an im2col of X for every
 * block and reaches about 57% of the FMA peak on 3x3 convs of 56x56 planes.
 * Here nothing is packed per tap. Each channel of X is copied once per task
 * and image into its stride phases (one phase at stride 1), each a zero-
 * padded plane of Hq rows of width Wq = Q + (S-1)*dw/sw:
 *   phase (a, b), cell (i, j) = X[i*sh + a - ph, j*sw + b - pw].
 * dY is laid on rows of the same width Wq, the Wq - Q junk columns and the
 * tail to a whole vector zero. Then, with l = p*Wq + q the linear index of
 * those rows, tap (c, r, s) reads phase ((r*dh) % sh, (s*dw) % sw) at the
 * fixed offset ((r*dh)/sh)*Wq + (s*dw)/sw + l, so
 *   dW[m, c, r, s] = sum over images and l of dYp[m, l] * Xp[off(c, r, s) + l]
 * is a dot product of two contiguous vectors (junk l multiply a zero dY).
 * A register tile of 4 dW rows x 6 taps (AVX2: 3 x 4) keeps one vector of
 * lane partial sums per element: per step 4 aligned dY loads and 6
 * unaligned X loads feed 24 FMAs, with no shuffles. Partial sums live in
 * the task's scratch between blocks of l and are reduced across lanes only
 * once, at the end.
 *
 * Blocking: a task owns a block of dW (group, mb rows, cb channels x R*S
 * taps); per image (or group of small images, swept together so the sums
 * stay in registers) it builds the X copies it needs in its worker's
 * scratch, and each 4-row group's dY rows just before their sweeps (so
 * the X copies stay in L2), then for each 4-row group and each block of l (about 2048
 * floats: the group's 4 dY rows stay in L1, its partial sums in L2) sweeps
 * all its tap tiles.
 * The copies are inline masked vector moves (AVX-512; at stride 2 a
 * permute picks each phase). Tasks split rows or channels, whichever
 * duplicates fewer copied floats, until there are at least 2 (a copy costs
 * the same per task whatever its size, so tasks stay large), and until the
 * scratch fits in 12 MiB.
 *
 * Tried and dropped: reading dY in place (rows of Q, no junk) with X
 * copied once per tap column s: no dY copies, but the 6 taps of a tile
 * then read 6 separate streams (here taps (r, s..s+2) share cache lines)
 * and the copies triple; the sweeps measured about 30% slower. And for 3x3
 * kernels, each row of 3 taps from two unaligned loads and two lane shifts
 * (valignd) instead of three unaligned loads: ResNet-18's 56x56 layer
 * 11.7 -> 12.5 ms, so the split loads are not what bounds the tile.
 *
 * Chosen (og_gwr_preferred) at stride 1 for large planes or small weights;
 * it computes strides up to 4 (tested directly), where measured the GEMM
 * still won.
 *
 * Determinism: the tasks, blocks and sweeps come from the shape alone, each
 * dW element is reduced by one task, lanes in a fixed l order, images in
 * order, then the lanes by one fixed tree: the same bits at any thread
 * count (AVX-512 and AVX2 differ in the last bits).
 *
 * Non-finite inputs: junk lanes multiply a zero dY by a real X value, so an
 * infinite X value next to the plane's edge can turn into NaN in a tap that
 * does not read it (the GEMM kernels behave alike on their padding).
 *
 * Every dW element is written. Scratch: per worker, declared at select. */
#include <string.h>
#include "internal.h"
#include "kernel.h"
#include "conv_fast.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GWR_X86 1
#endif

#define GWR_ALIGN(x) (((x) + 63) & ~(size_t)63)
#define GWR_MAX_WS ((size_t)12 << 20)
#define GWR_LB 2048        /* floats of l per block (4 dY rows in L1; blocks split a plane evenly) */
#define GWR_SMALL 2048     /* images below this many l floats are grouped */
#define GWR_UNIT_BYTES ((size_t)768 << 10)   /* copies of one image group (L2) */

static int64_t gwr_min(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t gwr_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* the copies of ni images: dY rows (16 floats of slack after them, see
 * row_avx512), X channels */
static size_t unit_floats(const og_gwr_plan *p, int64_t ni)
{
    return (size_t)(ni * p->mr * p->lpad + 16 + ni * p->cb * p->xs);
}

static size_t part_bytes(const og_gwr_plan *p)
{
    return GWR_ALIGN(sizeof(float) * (size_t)(gwr_cdiv(p->mb, p->mr) * p->mr * p->jpad * p->vl));
}

static size_t ws_bytes(const og_gwr_plan *p)
{
    return part_bytes(p) + GWR_ALIGN(sizeof(float) * unit_floats(p, p->ni)) + GWR_ALIGN(sizeof(int64_t) * (size_t)p->jpad);
}

bool og_gwr_plan_make(og_gwr_plan *p, const og_cf_geom *cg, size_t *workspace_bytes)
{
    memset(p, 0, sizeof *p);
#ifndef GWR_X86
    (void)cg, (void)workspace_bytes;
    return false;
#else
    og_isa isa = og_isa_active();
    if (isa == OG_ISA_SCALAR)
        return false;
    /* Forward strides > 1 (never selected: the GEMM measured faster
     * there) read scratch they had not written (NaN on NaN-filled scratch
     * in conv_grad_w_rows_strided; on AVX2 different bits at 1 and 2
     * threads): refused until that path is fixed */
    if (cg->dh > 1 || cg->dw > 1)
        return false;
    /* cg is the Conv of the pattern: its N = X's channels per group, Cg =
     * the batch, R x S = dY's plane, P x Q = the taps, strides = the
     * forward dilations and dilations = the forward strides */
    p->N = cg->Cg, p->G = cg->G, p->Cg = cg->N, p->Mg = cg->Mg;
    p->H = cg->H, p->W = cg->W, p->P = cg->R, p->Q = cg->S, p->R = cg->P, p->S = cg->Q;
    p->sh = cg->dh, p->sw = cg->dw, p->dh = cg->sh, p->dw = cg->sw, p->ph = cg->ph, p->pw = cg->pw;
    if (p->sh > 4 || p->sw > 4 || p->Cg < 1 || p->Mg < 1 || p->P < 1 || p->Q < 1)
        return false;
    p->avx512 = isa == OG_ISA_AVX512;
    p->vl = p->avx512 ? 16 : 8;
    p->mr = p->avx512 ? 4 : 3;
    p->nj = p->avx512 ? 6 : 4;
    p->Hq = p->P + (p->R - 1) * p->dh / p->sh;
    p->Wq = p->Q + (p->S - 1) * p->dw / p->sw;
    /* worth it: the junk columns cost at most half again the work */
    if (p->Wq * 2 > p->Q * 3 && p->Q < 16)
        return false;
    if (p->Hq * p->Wq > ((int64_t)1 << 26))
        return false;
    p->L = p->P * p->Wq;
    p->lpad = gwr_cdiv(p->L, p->vl) * p->vl;
    /* phase planes 16 floats apart (row_avx512 writes whole vectors), then
     * slack for the reads of junk lanes past the last */
    p->ps = p->sh * p->sw > 1 ? p->Hq * p->Wq + 16 : p->Hq * p->Wq;
    p->xs = gwr_cdiv(p->sh * p->sw * p->ps + p->Wq + p->vl, 16) * 16;
    /* task blocks: split the side whose split copies fewer floats */
    int64_t n_mb = 1, n_cb = 1;
    for (;;) {
        p->mb = gwr_cdiv(gwr_cdiv(p->Mg, n_mb), p->mr) * p->mr;
        p->cb = gwr_cdiv(p->Cg, n_cb);
        p->n_mb = gwr_cdiv(p->Mg, p->mb);
        p->n_cb = gwr_cdiv(p->Cg, p->cb);
        p->jpad = gwr_cdiv(p->cb * p->R * p->S, p->nj) * p->nj;
        p->ni = 1;
        bool few = p->G * p->n_mb * p->n_cb < 2, big = ws_bytes(p) > GWR_MAX_WS;
        if (!few && !big)
            break;
        bool can_m = p->mb > p->mr, can_c = p->cb > 1;
        if (!can_m && !can_c) {
            if (big)
                return false;
            break;
        }
        /* splitting rows copies X again (cb*xs), channels dY (mb*lpad) */
        if (can_m && (!can_c || p->cb * p->xs <= p->mb * p->lpad))
            n_mb *= 2;
        else
            n_cb *= 2;
        if (n_mb > p->Mg)
            n_mb = p->Mg;
        if (n_cb > p->Cg)
            n_cb = p->Cg;
    }
    /* small planes: several images per copy, swept without storing sums */
    if (p->lpad < GWR_SMALL) {
        p->ni = gwr_min(p->N, gwr_cdiv(GWR_SMALL, p->lpad));
        while (p->ni > 1 && sizeof(float) * unit_floats(p, p->ni) > GWR_UNIT_BYTES)
            p->ni--;
    }
    if (p->ni < 1)
        p->ni = 1;
    p->lb = GWR_LB;
    p->part_off = 0;
    p->dy_off = part_bytes(p);
    p->x_off = p->dy_off + sizeof(float) * (size_t)(p->ni * p->mr * p->lpad + 16);
    p->tab_off = p->part_off + ws_bytes(p) - GWR_ALIGN(sizeof(int64_t) * (size_t)p->jpad);
    *workspace_bytes = ws_bytes(p);
    return true;
#endif
}

int64_t og_gwr_tasks(const og_gwr_plan *p) { return p->G * p->n_mb * p->n_cb; }

/* Where it beat the implicit GEMM when measured (2026-12-07, Zen 5): stride
 * 1 (at stride 2 the phase copies cost a quarter of the time and the GEMM
 * won, 7.3 vs 9 ms on ResNet-18's 56x56 downsampling conv), and large
 * planes (56x56: 0.7x -> 0.9x and more of PyTorch) or small weights
 * (LeNet's second layer); with many channels on 14x14 and 7x7 planes the
 * GEMM's blocking is better than the partial sums' traffic here. */
bool og_gwr_preferred(const og_gwr_plan *p)
{
    return p->sh == 1 && p->sw == 1 && (p->lpad >= 1024 || p->Mg * p->Cg * p->R * p->S <= 65536);
}

#ifdef GWR_X86
/* The sweep: one register tile over segments (images of a copy unit), for
 * l in [l0, l1) of each. dy[i]: the tile's dY rows in image 0; xo[k]: the
 * tap offsets; strides to the next image of the unit. */
typedef struct gwr_sweep {
    const float *dy[4];
    const float *x[6];
    int64_t dy_img, x_img;   /* floats to the next image's copies */
    int64_t ni, l0, l1;
    bool zero;   /* the first sweep of the sums: start from zero, not from pt */
} gwr_sweep;

__attribute__((target("avx512f"))) static void tile_avx512(const gwr_sweep *w, float *pt, int64_t jpad)
{
    __m512 a[4][6];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
        for (int k = 0; k < 6; k++)
            a[i][k] = w->zero ? _mm512_setzero_ps() : _mm512_load_ps(pt + (i * jpad + k) * 16);
    for (int64_t n = 0; n < w->ni; n++) {
        const float *d0 = w->dy[0] + n * w->dy_img, *d1 = w->dy[1] + n * w->dy_img;
        const float *d2 = w->dy[2] + n * w->dy_img, *d3 = w->dy[3] + n * w->dy_img;
        const float *x0 = w->x[0] + n * w->x_img, *x1 = w->x[1] + n * w->x_img, *x2 = w->x[2] + n * w->x_img;
        const float *x3 = w->x[3] + n * w->x_img, *x4 = w->x[4] + n * w->x_img, *x5 = w->x[5] + n * w->x_img;
        for (int64_t l = w->l0; l < w->l1; l += 16) {
            __m512 y0 = _mm512_load_ps(d0 + l), y1 = _mm512_load_ps(d1 + l);
            __m512 y2 = _mm512_load_ps(d2 + l), y3 = _mm512_load_ps(d3 + l);
            /* one X vector at a time, used at once (24 sums, 4 dY: 29 registers) */
            const float *xs[6] = { x0, x1, x2, x3, x4, x5 };
#pragma GCC unroll 6
            for (int k = 0; k < 6; k++) {
                __m512 xv = _mm512_loadu_ps(xs[k] + l);
                __asm__("" : "+v"(xv));   /* one load, not one per FMA (GCC folds it into all four) */
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
        for (int k = 0; k < 6; k++)
            _mm512_store_ps(pt + (i * jpad + k) * 16, a[i][k]);
}

__attribute__((target("avx2,fma"))) static void tile_avx2(const gwr_sweep *w, float *pt, int64_t jpad)
{
    __m256 a[3][4];
#pragma GCC unroll 3
    for (int i = 0; i < 3; i++)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            a[i][k] = w->zero ? _mm256_setzero_ps() : _mm256_load_ps(pt + (i * jpad + k) * 8);
    for (int64_t n = 0; n < w->ni; n++) {
        const float *d0 = w->dy[0] + n * w->dy_img, *d1 = w->dy[1] + n * w->dy_img;
        const float *d2 = w->dy[2] + n * w->dy_img;
        const float *x0 = w->x[0] + n * w->x_img, *x1 = w->x[1] + n * w->x_img, *x2 = w->x[2] + n * w->x_img;
        const float *x3 = w->x[3] + n * w->x_img;
        for (int64_t l = w->l0; l < w->l1; l += 8) {
            __m256 y0 = _mm256_load_ps(d0 + l), y1 = _mm256_load_ps(d1 + l), y2 = _mm256_load_ps(d2 + l);
            __m256 xv;
            xv = _mm256_loadu_ps(x0 + l);
            a[0][0] = _mm256_fmadd_ps(y0, xv, a[0][0]);
            a[1][0] = _mm256_fmadd_ps(y1, xv, a[1][0]);
            a[2][0] = _mm256_fmadd_ps(y2, xv, a[2][0]);
            xv = _mm256_loadu_ps(x1 + l);
            a[0][1] = _mm256_fmadd_ps(y0, xv, a[0][1]);
            a[1][1] = _mm256_fmadd_ps(y1, xv, a[1][1]);
            a[2][1] = _mm256_fmadd_ps(y2, xv, a[2][1]);
            xv = _mm256_loadu_ps(x2 + l);
            a[0][2] = _mm256_fmadd_ps(y0, xv, a[0][2]);
            a[1][2] = _mm256_fmadd_ps(y1, xv, a[1][2]);
            a[2][2] = _mm256_fmadd_ps(y2, xv, a[2][2]);
            xv = _mm256_loadu_ps(x3 + l);
            a[0][3] = _mm256_fmadd_ps(y0, xv, a[0][3]);
            a[1][3] = _mm256_fmadd_ps(y1, xv, a[1][3]);
            a[2][3] = _mm256_fmadd_ps(y2, xv, a[2][3]);
        }
    }
#pragma GCC unroll 3
    for (int i = 0; i < 3; i++)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            _mm256_store_ps(pt + (i * jpad + k) * 8, a[i][k]);
}

/* A fixed tree over the lanes of one partial vector. */
__attribute__((target("avx512f"))) static float lanes_avx512(const float *v)
{
    return _mm512_reduce_add_ps(_mm512_load_ps(v));
}

static float lanes_8(const float *v)
{
    float a = (v[0] + v[4]) + (v[2] + v[6]), b = (v[1] + v[5]) + (v[3] + v[7]);
    return a + b;
}
#endif

#ifdef GWR_X86
static inline __attribute__((target("avx512f"), always_inline)) __mmask16 gwr_m16(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* o[e] = src[e] for e in [lo, hi), 0 elsewhere in [0, n), in whole
 * vectors: up to 15 floats past o + n are written too (zeros), which the
 * callers' layouts allow (the next row, written later, or zeroed slack).
 * Masked loads only where a vector leaves [lo, hi) (those lanes read
 * nothing, so src may point before its row); stores unmasked (masked
 * stores measured slow here). Inline, as the per-row memcpy and memset
 * calls of short rows cost a sixth of the kernel. */
__attribute__((target("avx512f"))) static void row_avx512(float *o, uintptr_t src, int64_t n, int64_t lo, int64_t hi)
{
    for (int64_t e = 0; e < n; e += 16) {
        __m512 v;
        if (e >= lo && e + 16 <= hi)
            v = _mm512_loadu_ps((const void *)(src + (uintptr_t)e * 4));
        else
            v = _mm512_maskz_loadu_ps((__mmask16)(gwr_m16(hi - e) & ~gwr_m16(lo - e)),
                                      (const void *)(src + (uintptr_t)e * 4));
        _mm512_storeu_ps(o + e, v);
    }
}

/* Lanes k of [a, b) (clipped to 0..15). */
static inline __attribute__((target("avx512f"), always_inline)) __mmask16 gwr_range(int64_t a, int64_t b)
{
    return (__mmask16)(gwr_m16(b) & ~gwr_m16(a));
}

/* The same at step 2 (a stride phase of stride 2): o[e] = src[2e] for e in
 * [lo, hi), two masked loads (even lanes only, so nothing past the last
 * element read) and one permute per 16 outputs. */
__attribute__((target("avx512f"))) static void row_avx512_s2(float *o, uintptr_t src, int64_t n, int64_t lo,
                                                              int64_t hi)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int64_t e = 0; e < n; e += 16) {
        __mmask16 ma = (__mmask16)(gwr_range(2 * (lo - e), 2 * (hi - e)) & 0x5555);
        __mmask16 mb = (__mmask16)(gwr_range(2 * (lo - e) - 16, 2 * (hi - e) - 16) & 0x5555);
        __m512 a = _mm512_maskz_loadu_ps(ma, (const void *)(src + (uintptr_t)(2 * e) * 4));
        __m512 b = _mm512_maskz_loadu_ps(mb, (const void *)(src + (uintptr_t)(2 * e + 16) * 4));
        _mm512_storeu_ps(o + e, _mm512_permutex2var_ps(a, even, b));
    }
}
#endif

/* o[e] = src[e * step] for e in [lo, hi), 0 elsewhere in [0, n). */
static void row_copy(const og_gwr_plan *p, float *o, uintptr_t src, int64_t step, int64_t n, int64_t lo, int64_t hi)
{
#ifdef GWR_X86
    if (p->avx512 && step == 1) {
        row_avx512(o, src, n, lo, hi);
        return;
    }
    if (p->avx512 && step == 2) {
        row_avx512_s2(o, src, n, lo, hi);
        return;
    }
#endif
    const float *s = (const float *)(src + (uintptr_t)lo * 4 * (uintptr_t)step);
    memset(o, 0, sizeof(float) * (size_t)lo);
    if (step == 1)
        memcpy(o + lo, s, sizeof(float) * (size_t)(hi - lo));
    else
        for (int64_t e = 0; e < hi - lo; e++)
            o[lo + e] = s[e * step];
    memset(o + hi, 0, sizeof(float) * (size_t)(n - hi));
}

/* The copies of image n for a task: dY rows m0.. (mb of them, rows past
 * Mg repeat nothing: zero) on Wq-wide rows, X channels c0.. (cb) as phase
 * planes. */
/* dY rows m0 + rows[0..mr) of image n (the caller clamps them to the
 * block) on Wq-wide rows, the junk columns and the tail zero. */
static void copy_dy_rows(const og_gwr_plan *p, const float *dy, int64_t n, int64_t gi, int64_t m0, const int64_t *rows,
                         float *dyp)
{
    const int64_t PQ = p->P * p->Q;
    for (int k = 0; k < p->mr; k++) {
        float *o = dyp + k * p->lpad;
        const float *src = dy + (n * p->G * p->Mg + gi * p->Mg + m0 + rows[k]) * PQ;
        for (int64_t i = 0; i < p->P; i++)
            row_copy(p, o + i * p->Wq, (uintptr_t)(src + i * p->Q), 1, p->Wq, 0, p->Q);
        memset(o + p->L, 0, sizeof(float) * (size_t)(p->lpad - p->L));
    }
}

/* The X copies of image n for a task: channels c0.. (cb; past Cg zero),
 * each as its phase planes. */
static void copy_image(const og_gwr_plan *p, const float *x, int64_t n, int64_t gi, int64_t c0, float *xp)
{
    const int64_t HW = p->H * p->W;
    const int64_t plane = p->ps;
    for (int64_t c = 0; c < p->cb; c++) {
        float *o = xp + c * p->xs;
        if (c0 + c >= p->Cg) {
            memset(o, 0, sizeof(float) * (size_t)p->xs);
            continue;
        }
        const float *xc = x + (n * p->G * p->Cg + gi * p->Cg + c0 + c) * HW;
        /* source rows in order (one stream for the prefetcher), each into
         * its row of every column phase */
        for (int64_t i = 0; i < p->Hq; i++)
            for (int64_t a = 0; a < p->sh; a++) {
                int64_t ih = i * p->sh + a - p->ph;
                for (int64_t b = 0; b < p->sw; b++) {
                    float *row = o + (a * p->sw + b) * plane + i * p->Wq;
                    /* columns j with 0 <= j*sw + b - pw < W */
                    int64_t j0 = p->pw > b ? gwr_cdiv(p->pw - b, p->sw) : 0;
                    int64_t j1 = p->W + p->pw - b > 0 ? gwr_cdiv(p->W + p->pw - b, p->sw) : 0;
                    j1 = gwr_min(j1, p->Wq);
                    j0 = gwr_min(j0, j1);
                    if (ih < 0 || ih >= p->H || j0 >= j1) {
                        memset(row, 0, sizeof(float) * (size_t)p->Wq);
                        continue;
                    }
                    /* cell j reads xr[j * sw] */
                    uintptr_t xr = (uintptr_t)(xc + ih * p->W) + (uintptr_t)(b - p->pw) * 4;
                    row_copy(p, row, xr, p->sw, p->Wq, j0, j1);
                }
            }
        /* the gaps between phase planes (after their last rows' overrun) */
        for (int64_t k = 0; k + 1 < p->sh * p->sw; k++)
            memset(o + k * plane + p->Hq * p->Wq, 0, sizeof(float) * (size_t)(plane - p->Hq * p->Wq));
        int64_t used = p->sh * p->sw * plane;
        memset(o + used, 0, sizeof(float) * (size_t)(p->xs - used));
    }
}

typedef struct gwr_job {
    const og_gwr_plan *p;
    const float *x, *dy;
    float *dw;
    char *ws;
    size_t stride;
} gwr_job;

/* Offset in a channel block's copies of tap j (c, r, s) of the task. */
static int64_t tap_off(const og_gwr_plan *p, int64_t j)
{
    int64_t RS = p->R * p->S, c = j / RS, r = j % RS / p->S, s = j % p->S;
    int64_t a = r * p->dh % p->sh, b = s * p->dw % p->sw;
    return c * p->xs + (a * p->sw + b) * p->ps + (r * p->dh / p->sh) * p->Wq + s * p->dw / p->sw;
}

static void gwr_task(void *arg, int64_t t, int worker)
{
#ifdef GWR_X86
    const gwr_job *jb = arg;
    const og_gwr_plan *p = jb->p;
    int64_t cblk = t % p->n_cb, rest = t / p->n_cb, mblk = rest % p->n_mb, gi = rest / p->n_mb;
    int64_t m0 = mblk * p->mb, c0 = cblk * p->cb;
    int64_t mb = gwr_min(p->mb, p->Mg - m0), cb = gwr_min(p->cb, p->Cg - c0);
    int64_t RS = p->R * p->S, J = cb * RS, jpad = p->jpad, vl = p->vl, mr = p->mr, nj = p->nj;
    char *ws = jb->ws + (size_t)worker * jb->stride;
    float *part = (float *)(ws + p->part_off), *dyp = (float *)(ws + p->dy_off), *xp = (float *)(ws + p->x_off);
    int64_t cols = p->Cg * RS;
    if (p->N == 0) {   /* no images: dW is zero (the sums below start at the first image) */
        for (int64_t m = 0; m < mb; m++)
            memset(jb->dw + (gi * p->Mg + m0 + m) * cols + c0 * RS, 0, sizeof(float) * (size_t)J);
        return;
    }
    int64_t *tab = (int64_t *)(ws + p->tab_off);   /* taps past J repeat the last */
    for (int64_t j = 0; j < jpad; j++)
        tab[j] = tap_off(p, gwr_min(j, J - 1));
    int64_t dy_img = p->mr * p->lpad, x_img = p->cb * p->xs;
    for (int64_t n0 = 0; n0 < p->N; n0 += p->ni) {
        int64_t nn = gwr_min(p->ni, p->N - n0);
        for (int64_t i = 0; i < nn; i++)
            copy_image(p, jb->x, n0 + i, gi, c0, xp + i * x_img);
        /* blocks of about lb, evenly split */
        int64_t lb = nn > 1 ? p->lpad : gwr_cdiv(gwr_cdiv(p->lpad, gwr_cdiv(p->lpad, p->lb)), vl) * vl;
        /* row groups outer: one group's partial sums (mr x jpad vectors)
         * stay in L2 over its blocks of l, its dY block in L1, while the
         * task's X copies stream from L2 */
        for (int64_t mt = 0; mt < mb; mt += mr) {
            /* the group's dY rows, copied just before use (rows past the
             * block repeat its last; their sums are dropped): the copies
             * of all rows at once pushed the X copies out of L2 */
            int64_t rows[4];
            for (int i = 0; i < mr; i++)
                rows[i] = gwr_min(mt + i, mb - 1);
            for (int64_t i = 0; i < nn; i++)
                copy_dy_rows(p, jb->dy, n0 + i, gi, m0, rows, dyp + i * dy_img);
            for (int64_t l0 = 0; l0 < p->lpad; l0 += lb) {
                gwr_sweep w = { .dy_img = dy_img, .x_img = x_img, .ni = nn, .l0 = l0,
                                .l1 = gwr_min(p->lpad, l0 + lb), .zero = n0 == 0 && l0 == 0 };
                for (int i = 0; i < mr; i++)
                    w.dy[i] = dyp + i * p->lpad;
                for (int64_t j0 = 0; j0 < jpad; j0 += nj) {
                    for (int k = 0; k < nj; k++)
                        w.x[k] = xp + tab[j0 + k];
                    float *pt = part + (mt * jpad + j0) * vl;
                    if (p->avx512)
                        tile_avx512(&w, pt, jpad);
                    else
                        tile_avx2(&w, pt, jpad);
                }
            }
        }
    }
    for (int64_t m = 0; m < mb; m++) {
        float *row = jb->dw + (gi * p->Mg + m0 + m) * cols + c0 * RS;
        for (int64_t j = 0; j < J; j++) {
            const float *v = part + (m * jpad + j) * vl;
            row[j] = p->avx512 ? lanes_avx512(v) : lanes_8(v);
        }
    }
#else
    (void)arg, (void)t, (void)worker;
#endif
}

void og_gwr_run(const og_gwr_plan *p, const float *x, const float *dy, float *dw, void *ws, size_t stride,
                int n_threads)
{
    gwr_job jb = { .p = p, .x = x, .dy = dy, .dw = dw, .ws = ws, .stride = stride };
    og_parallel_for(n_threads, og_gwr_tasks(p), gwr_task, &jb);
}
