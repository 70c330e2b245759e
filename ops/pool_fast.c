/* SPDX-License-Identifier: MIT */
/* pool_fast.c — fast float32 MaxPool kernels for 2-D NCHW, chosen at plan
 * time by ops/maxpool.c (select and the backward pattern).
 *
 * Forward, per (n, c) plane: every input row a window uses is reduced
 * horizontally once (the max over the kw taps of each output column, with
 * the column that won) into a small ring of rows (a power of two at least
 * the rows one window spans, so it stays in L1 and a row shared by two
 * output rows is reduced once); then each output row reduces its kh ring
 * rows vertically. Horizontal first, because the reference scans windows
 * row-major and keeps the first maximum: the first maximum of the whole
 * window is the first maximum of the first row holding the window's
 * maximum, which is what a strict ">" across rows keeps. NaN: every NaN
 * takes over in both stages, so the last NaN row and in it the last NaN
 * column wins, the reference's last NaN in row-major order. Each stage
 * starts from its first valid cell, never from a padding sentinel, so a
 * window of -inf still names its first real cell.
 *
 * Output columns whose taps all lie inside the row (the interior) run in
 * AVX-512 with no bounds checks; the few touching the left or right padding
 * run the scalar rule over precomputed tap ranges (MLAS's split into pad
 * and interior runs). Stride 2 (the pools of CNNs) takes each tap's 16
 * columns as the even or odd lanes of two loads (a register permute), with
 * kw 2 and 3 unrolled; stride 1 loads taps directly; larger strides first
 * split the row into sw phase rows (x[i*sw + r]).
 *
 * Backward: per plane, dX = 0, then dY added at Indices in element order:
 * the sequential scatter's sums bit for bit. With the pool's rows known,
 * each output row's indices are checked to lie in its windows' rows, which
 * are zeroed just before and streamed out to dX once no later window
 * reaches them: the plane's scratch is touched a few rows at a time and dX
 * is written once, in order. An index elsewhere in its plane redoes the
 * plane with the plain scatter; one outside its plane is the caller's
 * (the general ScatterElements).
 *
 * Threads: planes are claimed in blocks from a shared counter by the
 * workers that are running (a descheduled one holds nothing up); a plane's
 * results never depend on which worker computed it. */
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"
#include "pool_fast.h"

#define OG_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define MAX_SIMD_TAPS 64   /* kw of the SIMD rows */
#define MAX_TAPS 64        /* kh of the fast kernel (larger: the reference) */
/* Ring rows times padded width times 8 bytes stays under this, and the
 * whole per-worker scratch under the engine's 16 MiB. */
#define MAX_RING_BYTES ((size_t)8 << 20)
#define MAX_WORKSPACE ((size_t)16 << 20)

/* Same as the reference's: the taps j in [lo, hi) of a window starting at
 * `start` that land inside [0, in). */
static void valid_range(int64_t start, int64_t d, int64_t k, int64_t in, int64_t *lo, int64_t *hi)
{
    *lo = start >= 0 ? 0 : -start / d + (-start % d != 0);
    int64_t rem = in - start;
    *hi = rem <= 0 ? 0 : rem / d + (rem % d != 0);
    if (*hi > k)
        *hi = k;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Phase row length (sw > 2): ceil(W / sw) plus a vector of slack. */
static int64_t phase_len(const og_pool2d *g) { return (g->W + g->sw - 1) / g->sw + 16; }

/* Per-worker scratch: the ring of horizontal maxima (values, in-plane
 * indices), which row each ring slot holds, the valid tap ranges of every
 * output column and row (geometry only, filled once per call), and one
 * row split into its sw phases (SIMD, sw > 2). */
typedef struct ws_layout { size_t hi, slot, cols, rows, phase, total; } ws_layout;

static ws_layout layout(const og_pool2d *g)
{
    ws_layout l;
    size_t cells = (size_t)g->ring * (size_t)g->owp;
    l.hi = round64(cells * sizeof(float));
    l.slot = l.hi + round64(cells * sizeof(int32_t));
    l.cols = l.slot + round64((size_t)g->ring * sizeof(int64_t));
    l.rows = l.cols + round64((size_t)g->OW * 2 * sizeof(int32_t));
    l.phase = l.rows + round64((size_t)g->OH * 2 * sizeof(int32_t));
    l.total = l.phase + (g->simd && g->sw > 2 ? round64((size_t)(g->sw * phase_len(g)) * sizeof(float)) : 0);
    return l;
}

bool og_pool2d_init(og_pool2d *g, bool simd)
{
    if (g->planes < 0 || g->H < 1 || g->W < 1 || g->OH < 1 || g->OW < 1 || g->kh < 1 || g->kw < 1 || g->sh < 1 ||
        g->sw < 1 || g->dh < 1 || g->dw < 1 || g->ph < 0 || g->pw < 0)
        return false;
    /* flat in-plane indices live in int32 lanes; tap offsets and the
     * tables must stay a sane per-worker size */
    if (g->H > INT32_MAX / g->W || g->OW > ((int64_t)1 << 24) || g->OH > ((int64_t)1 << 24) || g->sw > 64 ||
        g->pw > ((int64_t)1 << 24) || g->kw > ((int64_t)1 << 24) || g->dw > ((int64_t)1 << 24) ||
        g->kh > MAX_TAPS || g->dh > ((int64_t)1 << 24))
        return false;
    /* ring: a power of two at least the rows one output row spans (or H) */
    int64_t span = (g->kh - 1) * g->dh + 1, need = span < g->H ? span : g->H, r = 1;
    while (r < need)
        r *= 2;
    g->ring = r;
    g->owp = (g->OW + 15) & ~(int64_t)15;
    if ((size_t)g->ring * (size_t)g->owp * 8 > MAX_RING_BYTES)
        return false;
    int64_t a = (g->pw + g->sw - 1) / g->sw;                      /* first ow with ow*sw - pw >= 0 */
    int64_t last = g->W - 1 + g->pw - (g->kw - 1) * g->dw;         /* ow*sw must not pass it */
    int64_t b = last < 0 ? 0 : last / g->sw + 1;
    if (a > g->OW)
        a = g->OW;
    if (b > g->OW)
        b = g->OW;
    if (b < a)
        b = a;
    g->ow_a = a;
    g->ow_b = b;
    g->simd = simd && g->kw <= MAX_SIMD_TAPS;
    return layout(g).total <= MAX_WORKSPACE;   /* per worker */
}

size_t og_pool2d_workspace(const og_pool2d *g) { return layout(g).total; }

/* The reference's rule over the valid taps [cr[2ow], cr[2ow+1]) of output
 * columns [ow0, ow1) of input row h. */
static void hrow_scalar(const og_pool2d *g, const float *row, int64_t h, int64_t ow0, int64_t ow1,
                        const int32_t *cr, float *hv, int32_t *hi)
{
    for (int64_t ow = ow0; ow < ow1; ow++) {
        int64_t lo = cr[2 * ow], up = cr[2 * ow + 1];
        if (lo >= up) {   /* the whole column of windows is padding */
            hv[ow] = -INFINITY;
            hi[ow] = -1;
            continue;
        }
        int64_t cs = ow * g->sw - g->pw;
        int64_t c = cs + lo * g->dw, bc = c;
        float best = row[c];
        for (int64_t j = lo + 1; j < up; j++) {
            c = cs + j * g->dw;
            float v = row[c];
            if (v > best || isnan(v)) {
                best = v;
                bc = c;
            }
        }
        hv[ow] = best;
        hi[ow] = (int32_t)(h * g->W + bc);
    }
}

static void vrow_scalar(const og_pool2d *g, const float *const *rv, const int32_t *const *ri, int64_t n, float *y,
                        int64_t *ind, int64_t base)
{
    for (int64_t ow = 0; ow < g->OW; ow++) {
        float best = rv[0][ow];
        int32_t bi = ri[0][ow];
        for (int64_t j = 1; j < n; j++) {
            float v = rv[j][ow];
            if (v > best || isnan(v)) {
                best = v;
                bi = ri[j][ow];
            }
        }
        if (y)
            y[ow] = best;
        if (ind)
            ind[ow] = bi < 0 ? -1 : base + bi;
    }
}

static __mmask16 tail_mask(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

static void decimate_scalar(const float *row, int64_t W, int64_t sw, float *ph, int64_t plen)
{
    for (int64_t r = 0; r < sw; r++)
        for (int64_t i = 0, c = r; c < W; i++, c += sw)
            ph[r * plen + i] = row[c];
}

/* One step of the running first-maximum: v takes over where it is greater
 * or NaN (the reference's `v > best || isnan(v)`). */
#define TAKE_STEP(best, bidx, v, vidx)                                                                   \
    do {                                                                                                 \
        __mmask16 take_ = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q); \
        best = _mm512_mask_blend_ps(take_, best, v);                                                     \
        bidx = _mm512_mask_blend_epi32(take_, bidx, vidx);                                               \
    } while (0)

#define OG_INLINE_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"), always_inline)) inline

/* Stride 2, dilation 1, kw = KW (2 or 3) taps, PAR = pw's parity: one
 * chunk of 16 interior output columns at ow. Tap k of column ow is input
 * column 2*ow - pw + k: the even or odd lanes of the pair of loads
 * starting at the even column at or before it. TAIL: loads stop at the
 * row's end and the stores at mask m. */
OG_INLINE_AVX512 static void hs2_chunk(const float *row, int64_t W, int64_t ow, int64_t pw, int64_t rowbase,
                                       __m512i stepv, const int KW, const int PAR, const bool TAIL, __mmask16 m,
                                       float *hv, int32_t *hi)
{
    const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    int64_t c0 = 2 * ow - pw, s = c0 - PAR;   /* s >= 0: interior */
    __m512 lo[2], up[2];
    for (int pr = 0; pr <= (PAR + KW - 1) / 2; pr++) {
        int64_t at = s + 2 * pr;
        lo[pr] = TAIL ? _mm512_maskz_loadu_ps(tail_mask(W - at), row + at) : _mm512_loadu_ps(row + at);
        up[pr] = TAIL ? _mm512_maskz_loadu_ps(tail_mask(W - at - 16), row + at + 16) : _mm512_loadu_ps(row + at + 16);
    }
    __m512i col0 = _mm512_add_epi32(stepv, _mm512_set1_epi32((int32_t)(rowbase + c0)));
    __m512 best = _mm512_permutex2var_ps(lo[0], PAR ? io : ie, up[0]);
    __m512i bcol = col0;
    for (int k = 1; k < KW; k++) {
        int off = PAR + k;
        __m512 v = _mm512_permutex2var_ps(lo[off / 2], (off & 1) ? io : ie, up[off / 2]);
        __m512i col = _mm512_add_epi32(col0, _mm512_set1_epi32(k));
        TAKE_STEP(best, bcol, v, col);
    }
    if (TAIL) {
        _mm512_mask_storeu_ps(hv + ow, m, best);
        _mm512_mask_storeu_epi32(hi + ow, m, bcol);
    } else {
        _mm512_storeu_ps(hv + ow, best);
        _mm512_storeu_epi32(hi + ow, bcol);
    }
}

/* The interior columns [ow_a, ow_b) of a row. */
OG_INLINE_AVX512 static void hs2_row(const og_pool2d *g, const float *row, int64_t h, float *hv, int32_t *hi,
                                     const int KW, const int PAR)
{
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i stepv = _mm512_add_epi32(iota, iota);
    const int64_t W = g->W, pw = g->pw, rowbase = h * W;
    /* plain chunks: their pair loads end inside the row */
    const int64_t reach = 2 * ((PAR + KW - 1) / 2) + 32;   /* columns read from s */
    int64_t ow = g->ow_a;
    for (; ow + 16 <= g->ow_b && 2 * ow - pw - PAR + reach <= W; ow += 16)
        hs2_chunk(row, W, ow, pw, rowbase, stepv, KW, PAR, false, 0xFFFF, hv, hi);
    for (; ow < g->ow_b; ow += 16)
        hs2_chunk(row, W, ow, pw, rowbase, stepv, KW, PAR, true, tail_mask(g->ow_b - ow), hv, hi);
}

OG_AVX512 static void hs2_k3p1(const og_pool2d *g, const float *row, int64_t h, float *hv, int32_t *hi)
{
    hs2_row(g, row, h, hv, hi, 3, 1);
}
OG_AVX512 static void hs2_k3p0(const og_pool2d *g, const float *row, int64_t h, float *hv, int32_t *hi)
{
    hs2_row(g, row, h, hv, hi, 3, 0);
}
OG_AVX512 static void hs2_k2p1(const og_pool2d *g, const float *row, int64_t h, float *hv, int32_t *hi)
{
    hs2_row(g, row, h, hv, hi, 2, 1);
}
OG_AVX512 static void hs2_k2p0(const og_pool2d *g, const float *row, int64_t h, float *hv, int32_t *hi)
{
    hs2_row(g, row, h, hv, hi, 2, 0);
}

/* Interior columns [ow_a, ow_b) of row h: every tap is a real cell. Loads
 * are masked at the row's end, so nothing past the row is read. Stride 1
 * loads each tap directly; stride 2 takes the even or odd lanes of a pair
 * of loads (a register permute, reused by the next tap when it shares the
 * pair); larger strides read the row split into phases (ph). */
OG_AVX512 static void hrow_avx512(const og_pool2d *g, const float *row, int64_t h, float *hv, int32_t *hi,
                                  float *ph)
{
    const int64_t sw = g->sw, W = g->W, kw = g->kw, dw = g->dw, pw = g->pw;
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i stepv = _mm512_mullo_epi32(iota, _mm512_set1_epi32((int32_t)sw));
    const int64_t rowbase = h * W;
    if (sw == 2 && dw == 1 && (kw == 2 || kw == 3)) {   /* the common pools, unrolled */
        if (kw == 3)
            (pw & 1 ? hs2_k3p1 : hs2_k3p0)(g, row, h, hv, hi);
        else
            (pw & 1 ? hs2_k2p1 : hs2_k2p0)(g, row, h, hv, hi);
        return;
    }
    if (sw == 1) {
        for (int64_t ow = g->ow_a; ow < g->ow_b; ow += 16) {
            __mmask16 m = tail_mask(g->ow_b - ow);
            int64_t c0 = ow - pw;
            __m512 best = _mm512_maskz_loadu_ps(m, row + c0);
            __m512i bcol = _mm512_add_epi32(iota, _mm512_set1_epi32((int32_t)(rowbase + c0)));
            for (int64_t k = 1; k < kw; k++) {
                int64_t c = c0 + k * dw;
                __m512 v = _mm512_maskz_loadu_ps(m, row + c);
                __m512i col = _mm512_add_epi32(iota, _mm512_set1_epi32((int32_t)(rowbase + c)));
                TAKE_STEP(best, bcol, v, col);
            }
            _mm512_mask_storeu_ps(hv + ow, m, best);
            _mm512_mask_storeu_epi32(hi + ow, m, bcol);
        }
        return;
    }
    if (sw == 2) {
        const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
        for (int64_t ow = g->ow_a; ow < g->ow_b; ow += 16) {
            __mmask16 m = tail_mask(g->ow_b - ow);
            __m512 best = _mm512_setzero_ps(), A = best, B = best;
            __m512i bcol = _mm512_setzero_si512();
            int64_t pair = -1;
            for (int64_t k = 0; k < kw; k++) {
                int64_t c = 2 * ow - pw + k * dw, s = c & ~(int64_t)1;   /* c >= 0: interior */
                if (s != pair) {
                    A = _mm512_maskz_loadu_ps(tail_mask(W - s), row + s);
                    B = _mm512_maskz_loadu_ps(tail_mask(W - s - 16), row + s + 16);
                    pair = s;
                }
                __m512 v = _mm512_permutex2var_ps(A, (c & 1) ? io : ie, B);
                __m512i col = _mm512_add_epi32(stepv, _mm512_set1_epi32((int32_t)(rowbase + c)));
                if (k == 0) {
                    best = v;
                    bcol = col;
                } else {
                    TAKE_STEP(best, bcol, v, col);
                }
            }
            _mm512_mask_storeu_ps(hv + ow, m, best);
            _mm512_mask_storeu_epi32(hi + ow, m, bcol);
        }
        return;
    }
    const float *tap[MAX_SIMD_TAPS];
    int64_t plen = phase_len(g);
    decimate_scalar(row, W, sw, ph, plen);
    for (int64_t k = 0; k < kw; k++) {
        int64_t t = k * dw - pw, q = floor_div(t, sw);
        tap[k] = ph + (t - q * sw) * plen + q;   /* column ow*sw + t is phase (t mod sw), entry ow + q */
    }
    const __m512i dwv = _mm512_set1_epi32((int32_t)dw);
    for (int64_t ow = g->ow_a; ow < g->ow_b; ow += 16) {
        __mmask16 m = tail_mask(g->ow_b - ow);
        __m512i col = _mm512_add_epi32(stepv, _mm512_set1_epi32((int32_t)(rowbase + ow * sw - pw)));
        __m512 best = _mm512_maskz_loadu_ps(m, tap[0] + ow);
        __m512i bcol = col;
        for (int64_t k = 1; k < kw; k++) {
            col = _mm512_add_epi32(col, dwv);
            __m512 v = _mm512_maskz_loadu_ps(m, tap[k] + ow);
            TAKE_STEP(best, bcol, v, col);
        }
        _mm512_mask_storeu_ps(hv + ow, m, best);
        _mm512_mask_storeu_epi32(hi + ow, m, bcol);
    }
}

/* The window's n horizontal-maximum rows reduced down, in row order, into
 * output row y / ind. NC: n as a constant (the common 2 and 3 rows,
 * unrolled), or 0 for any n. */
OG_INLINE_AVX512 static void vrow_body(const og_pool2d *g, const float *const *rv, const int32_t *const *ri, int64_t n,
                                       float *y, int64_t *ind, int64_t base, const int NC)
{
    const int64_t OW = g->OW;
    const __m512i basev = _mm512_set1_epi64(base), none = _mm512_set1_epi64(-1);
    if (NC)
        n = NC;
    for (int64_t ow = 0; ow < OW; ow += 16) {
        __mmask16 m = tail_mask(OW - ow);
        __m512 best = _mm512_maskz_loadu_ps(m, rv[0] + ow);
        __m512i bi = _mm512_maskz_loadu_epi32(m, ri[0] + ow);
        for (int64_t j = 1; j < n; j++) {
            __m512 v = _mm512_maskz_loadu_ps(m, rv[j] + ow);
            __m512i vi = _mm512_maskz_loadu_epi32(m, ri[j] + ow);
            TAKE_STEP(best, bi, v, vi);
        }
        if (y)
            _mm512_mask_storeu_ps(y + ow, m, best);
        if (ind) {
            /* -1 (a window wholly in padding) stays -1; the rest gain the plane's base */
            __mmask16 real = _mm512_cmpge_epi32_mask(bi, _mm512_setzero_si512());
            __m512i lo64 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(bi));
            __m512i hi64 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(bi, 1));
            lo64 = _mm512_mask_add_epi64(none, (__mmask8)real, lo64, basev);
            hi64 = _mm512_mask_add_epi64(none, (__mmask8)(real >> 8), hi64, basev);
            _mm512_mask_storeu_epi64(ind + ow, (__mmask8)m, lo64);
            _mm512_mask_storeu_epi64(ind + ow + 8, (__mmask8)(m >> 8), hi64);
        }
    }
}

OG_AVX512 static void vrow_avx512(const og_pool2d *g, const float *const *rv, const int32_t *const *ri, int64_t n,
                                  float *y, int64_t *ind, int64_t base)
{
    if (n == 3)
        vrow_body(g, rv, ri, n, y, ind, base, 3);
    else if (n == 2)
        vrow_body(g, rv, ri, n, y, ind, base, 2);
    else
        vrow_body(g, rv, ri, n, y, ind, base, 0);
}

/* Planes are claimed a block at a time from a shared counter by however
 * many workers are running, so a worker the machine has descheduled holds
 * up nothing; a plane's results do not depend on who computes it. */
typedef struct fwd_ctx {
    const og_pool2d *g;
    const float *x;
    float *y;
    int64_t *ind;
    char *ws;
    size_t stride;
    int64_t block;
    int64_t next;   /* atomic: the next unclaimed plane */
} fwd_ctx;

/* Planes per claim: about 32K input cells, so tiny planes do not pay an
 * atomic (a contended cache line) each. */
static int64_t claim_block(int64_t in_plane)
{
    int64_t b = in_plane > 0 ? ((int64_t)1 << 15) / in_plane : 1;
    return b < 1 ? 1 : b;
}

static void fwd_plane(const fwd_ctx *c, int64_t p, char *ws, const ws_layout *l)
{
    const og_pool2d *g = c->g;
    float *hv = (float *)ws;
    int32_t *hi = (int32_t *)(ws + l->hi);
    int64_t *slot = (int64_t *)(ws + l->slot);
    const int32_t *cr = (const int32_t *)(ws + l->cols), *rr = (const int32_t *)(ws + l->rows);
    float *ph = (float *)(ws + l->phase);
    const int64_t in_plane = g->H * g->W, out_plane = g->OH * g->OW, R = g->ring, owp = g->owp;
    const float *xp = c->x + p * in_plane;
    float *yp = c->y ? c->y + p * out_plane : NULL;
    int64_t *ip = c->ind ? c->ind + p * out_plane : NULL;
    const float *rv[MAX_TAPS];
    const int32_t *ri[MAX_TAPS];
    for (int64_t s = 0; s < R; s++)
        slot[s] = -1;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *yr = yp ? yp + oh * g->OW : NULL;
        int64_t *ir = ip ? ip + oh * g->OW : NULL;
        int64_t hs = oh * g->sh - g->ph, lo = rr[2 * oh], up = rr[2 * oh + 1];
        if (lo >= up) {   /* the whole row of windows is padding */
            for (int64_t ow = 0; ow < g->OW; ow++) {
                if (yr)
                    yr[ow] = -INFINITY;
                if (ir)
                    ir[ow] = -1;
            }
            continue;
        }
        /* the window's rows reduced across first (each once: its ring
         * slot keeps it for the next output rows), then down */
        int64_t n = 0;
        for (int64_t j = lo; j < up; j++) {
            int64_t h = hs + j * g->dh, s = h & (R - 1);
            float *hvr = hv + s * owp;
            int32_t *hir = hi + s * owp;
            if (slot[s] != h) {
                const float *row = xp + h * g->W;
                if (g->simd) {
                    hrow_scalar(g, row, h, 0, g->ow_a, cr, hvr, hir);
                    if (g->ow_b > g->ow_a)
                        hrow_avx512(g, row, h, hvr, hir, ph);
                    hrow_scalar(g, row, h, g->ow_b, g->OW, cr, hvr, hir);
                } else {
                    hrow_scalar(g, row, h, 0, g->OW, cr, hvr, hir);
                }
                slot[s] = h;
            }
            rv[n] = hvr;
            ri[n++] = hir;
        }
        if (g->simd)
            vrow_avx512(g, rv, ri, n, yr, ir, p * in_plane);
        else
            vrow_scalar(g, rv, ri, n, yr, ir, p * in_plane);
    }
}

static void fwd_worker(void *arg, int64_t task, int worker)
{
    (void)task;
    fwd_ctx *c = arg;
    const og_pool2d *g = c->g;
    char *ws = c->ws + (size_t)worker * c->stride;
    ws_layout l = layout(g);
    bool tables = false;
    for (;;) {
        int64_t p0 = __atomic_fetch_add(&c->next, c->block, __ATOMIC_RELAXED);
        if (p0 >= g->planes)
            return;
        if (!tables) {   /* the valid taps of every output column and row */
            int32_t *cr = (int32_t *)(ws + l.cols), *rr = (int32_t *)(ws + l.rows);
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t lo, up;
                valid_range(ow * g->sw - g->pw, g->dw, g->kw, g->W, &lo, &up);
                cr[2 * ow] = (int32_t)lo;
                cr[2 * ow + 1] = (int32_t)up;
            }
            for (int64_t oh = 0; oh < g->OH; oh++) {
                int64_t lo, up;
                valid_range(oh * g->sh - g->ph, g->dh, g->kh, g->H, &lo, &up);
                rr[2 * oh] = (int32_t)lo;
                rr[2 * oh + 1] = (int32_t)up;
            }
            tables = true;
        }
        int64_t p1 = p0 + c->block < g->planes ? p0 + c->block : g->planes;
        for (int64_t p = p0; p < p1; p++)
            fwd_plane(c, p, ws, &l);
    }
}

void og_maxpool2d_f32(const og_pool2d *g, const float *x, float *y, int64_t *ind, int n_threads, void *workspace,
                      size_t workspace_stride)
{
    fwd_ctx c = { g, x, y, ind, workspace, workspace_stride, claim_block(g->H * g->W), 0 };
    int64_t blocks = (g->planes + c.block - 1) / c.block;
    int nt = n_threads > 0 ? n_threads : 1;
    og_parallel_for(nt, blocks < nt ? blocks : nt, fwd_worker, &c);
}

/* A plane being written out to dX with streaming stores, a vector at a
 * time, as its rows become final (dX is written once and not read back
 * here, so streaming also skips its read-for-ownership). */
typedef struct og_streamer { const float *src; float *dst; int64_t n, pos, head; bool nt; } og_streamer;

/* Elements [0, head) lead dst up to its first 64-byte line. */
static void streamer_begin(og_streamer *s, const float *src, float *dst, int64_t n, bool nt)
{
    s->nt = nt;
    s->src = src;
    s->dst = dst;
    s->n = n;
    s->pos = 0;
    s->head = 0;
    while (s->head < n && ((uintptr_t)(dst + s->head) & 63))
        s->head++;
}

/* Everything below `upto` (elements) out, but a last partial vector. */
OG_AVX512 static void streamer_upto(og_streamer *s, int64_t upto)
{
    for (; s->pos < s->head && s->pos < upto; s->pos++)
        s->dst[s->pos] = s->src[s->pos];
    if (s->pos < s->head)
        return;
    if (s->nt)
        for (; s->pos + 16 <= upto; s->pos += 16)
            _mm512_stream_ps(s->dst + s->pos, _mm512_loadu_ps(s->src + s->pos));
    else
        for (; s->pos + 16 <= upto; s->pos += 16)
            _mm512_storeu_ps(s->dst + s->pos, _mm512_loadu_ps(s->src + s->pos));
}

/* At most k whole vectors below `upto` out (the scalar head first). */
OG_AVX512 static inline void streamer_some(og_streamer *s, int64_t upto, int k)
{
    if (s->pos < s->head) {
        streamer_upto(s, upto);
        return;
    }
    for (; k > 0 && s->pos + 16 <= upto; k--, s->pos += 16) {
        __m512 v = _mm512_loadu_ps(s->src + s->pos);
        if (s->nt)
            _mm512_stream_ps(s->dst + s->pos, v);
        else
            _mm512_storeu_ps(s->dst + s->pos, v);
    }
}

OG_AVX512 static void streamer_finish(og_streamer *s)
{
    streamer_upto(s, s->n);
    for (; s->pos < s->n; s->pos++)
        s->dst[s->pos] = s->src[s->pos];
}

/* n floats of zeros (a few rows at a time: a libc call each would cost
 * more than the stores). */
OG_AVX512 static void zero_f32(float *d, int64_t n)
{
    const __m512 z = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(d + i, z);
    if (i < n)
        _mm512_mask_storeu_ps(d + i, tail_mask(n - i), z);
}

/* Zero plane d, add dY at its indices in order; false on an index outside
 * the plane. The reference's sums exactly, for any in-plane index. */
static bool scatter_plane(float *d, int64_t n, const int64_t *ip, const float *u, int64_t m, uint64_t base)
{
    memset(d, 0, (size_t)n * sizeof(float));
    for (int64_t q = 0; q < m; q++) {
        uint64_t i = (uint64_t)ip[q] - base;   /* unsigned: also catches negatives */
        if (i >= (uint64_t)n)
            return false;
        d[i] += u[q];
    }
    return true;
}

/* Indices and dY read this many elements ahead (software prefetch: two
 * read streams and a streaming write outrun the hardware's). */
#define NT_MIN_BYTES ((size_t)16 << 20)
#define STREAM_PER_BLOCK 4   /* vectors streamed out per 16 elements summed */
#define PF_AHEAD 256

/* Row by row: output row oh's windows reach input rows [rlo, rhi); its
 * indices are checked to lie there (a vector step per 16, which also
 * narrows them), its rows are zeroed just before, and the rows no later
 * output row reaches are streamed out right after. The plane's scratch is
 * so touched a few rows at a time (in L1), and dX is written once, in
 * order. False (dX partly written) on an index outside its rows: the
 * caller redoes the plane with scatter_plane. */
OG_AVX512 static bool scatter_plane_rows(const og_pool_bwd *g, float *d, const int64_t *ip, const float *u,
                                         int64_t base, float *dst, bool nt)
{
    const int64_t W = g->W, OW = g->OW, n = g->H * W;
    int64_t zeroed = 0;   /* rows [0, zeroed) of d are zero or summed */
    int64_t final = 0, prev_final = 0;   /* elements final after this / the previous output row */
    og_streamer out;
    streamer_begin(&out, d, dst, n, nt);
    int32_t ix[16] __attribute__((aligned(64)));
    for (int64_t oh = 0; oh < g->OH; oh++) {
        int64_t hs = oh * g->sh - g->ph, rlo = hs < 0 ? 0 : hs, rhi = hs + (g->kh - 1) * g->dh + 1;
        if (rhi > g->H)
            rhi = g->H;
        if (rhi <= rlo)
            return false;   /* windows wholly in padding: no valid index */
        if (zeroed < rhi) {
            zero_f32(d + zeroed * W, (rhi - zeroed) * W);
            zeroed = rhi;
        }
        const __m512i lov = _mm512_set1_epi64(base + rlo * W), nv = _mm512_set1_epi64((rhi - rlo) * W);
        const int64_t *iq = ip + oh * OW;
        const float *uq = u + oh * OW;
        float *dr = d + rlo * W;
        for (int64_t q0 = 0; q0 < OW; q0 += 16) {
            _mm_prefetch((const char *)(iq + q0 + PF_AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(iq + q0 + 8 + PF_AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(uq + q0 + PF_AHEAD), _MM_HINT_T0);
            int64_t cnt = OW - q0 < 16 ? OW - q0 : 16;
            __mmask8 k0 = cnt >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << cnt) - 1);
            __mmask8 k1 = cnt >= 16 ? (__mmask8)0xFF : cnt > 8 ? (__mmask8)((1u << (cnt - 8)) - 1) : 0;
            __m512i a = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(k0, iq + q0), lov);
            __m512i b = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(k1, iq + q0 + 8), lov);
            /* unsigned: below rlo wraps to huge, so one compare checks both ends */
            if (_mm512_mask_cmp_epu64_mask(k0, a, nv, _MM_CMPINT_NLT) |
                _mm512_mask_cmp_epu64_mask(k1, b, nv, _MM_CMPINT_NLT))
                return false;
            _mm256_store_si256((__m256i *)ix, _mm512_cvtepi64_epi32(a));
            _mm256_store_si256((__m256i *)(ix + 8), _mm512_cvtepi64_epi32(b));
            const float *uv = uq + q0;
            if (cnt == 16) {
#pragma GCC unroll 16
                for (int t = 0; t < 16; t++)
                    dr[ix[t]] += uv[t];
            } else {
                for (int t = 0; t < cnt; t++)
                    dr[ix[t]] += uv[t];
            }
            /* the final rows go out a few vectors per block, so the
             * streaming stores spread over the arithmetic */
            if (STREAM_PER_BLOCK)
                streamer_some(&out, final, STREAM_PER_BLOCK);
        }
        /* rows before the next output row's first are final */
        int64_t next = oh + 1 < g->OH ? (oh + 1) * g->sh - g->ph : g->H;
        if (next > g->H)
            next = g->H;
        if (next > zeroed) {   /* rows no window reaches (stride past the kernel) */
            zero_f32(d + zeroed * W, (next - zeroed) * W);
            zeroed = next;
        }
        if (STREAM_PER_BLOCK) {   /* never more than a row behind */
            streamer_upto(&out, prev_final);
            prev_final = final;
            final = next * W;
        } else {
            streamer_upto(&out, next * W);
        }
    }
    if (zeroed < g->H)
        zero_f32(d + zeroed * W, (g->H - zeroed) * W);
    streamer_finish(&out);
    return true;
}

typedef struct bwd_ctx {
    const og_pool_bwd *g;
    const int64_t *ind;
    const float *dy;
    float *dx;
    char *ws;
    size_t stride;
    bool simd;
    bool nt;        /* streaming stores: dX much larger than the caches */
    int64_t block;
    int64_t next;   /* atomic: the next unclaimed plane */
    int bad;
} bwd_ctx;

/* Planes claimed a block at a time by whichever workers run (as the
 * forward). Each plane's dX is computed alone, the same whoever does it. */
static void bwd_worker(void *arg, int64_t task, int worker)
{
    (void)task;
    bwd_ctx *c = arg;
    const og_pool_bwd *g = c->g;
    const int64_t n = g->H * g->W, m = g->OH * g->OW;
    float *buf = c->ws ? (float *)(c->ws + (size_t)worker * c->stride) : NULL;
    bool fenced = true;
    for (;;) {
        int64_t p0 = __atomic_fetch_add(&c->next, c->block, __ATOMIC_RELAXED);
        if (p0 >= g->planes || __atomic_load_n(&c->bad, __ATOMIC_RELAXED))
            break;
        int64_t p1 = p0 + c->block < g->planes ? p0 + c->block : g->planes;
        for (int64_t p = p0; p < p1; p++) {
            const int64_t *ip = c->ind + p * m;
            const float *u = c->dy + p * m;
            float *dst = c->dx + p * n;
            if (buf && c->simd && c->nt) {   /* large: row by row, streamed out */
                fenced = false;
                if (scatter_plane_rows(g, buf, ip, u, p * n, dst, true))
                    continue;
            }
            /* cache-sized dX (summed in the scratch plane, copied out: its
             * reader finds it in cache), no scratch (in place), scalar, or
             * an index outside its rows */
            if (!scatter_plane(buf ? buf : dst, n, ip, u, m, (uint64_t)(p * n))) {
                __atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED);
                break;
            }
            if (buf)
                memcpy(dst, buf, (size_t)n * sizeof(float));
        }
    }
    if (!fenced)
        _mm_sfence();
}

bool og_pool_bwd_init(og_pool_bwd *g)
{
    int64_t n, m;
    if (g->planes < 0 || g->H < 1 || g->W < 1 || g->OH < 0 || g->OW < 0 || g->sh < 1 || g->kh < 1 || g->dh < 1 ||
        !og_mul_ok(g->H, g->W, &n) || !og_mul_ok(g->OH, g->OW, &m) || n > INT32_MAX)
        return false;
    /* the row bounds' arithmetic stays far from overflow */
    return g->sh <= ((int64_t)1 << 24) && g->kh <= ((int64_t)1 << 24) && g->dh <= ((int64_t)1 << 24) &&
           g->ph >= 0 && g->ph <= ((int64_t)1 << 24) && g->OH <= ((int64_t)1 << 24);
}

size_t og_maxpool_bwd_workspace(const og_pool_bwd *g)
{
    int64_t n = g->H * g->W;
    return n <= ((int64_t)1 << 20) ? round64((size_t)n * sizeof(float)) : 0;
}

bool og_maxpool_bwd_f32(const og_pool_bwd *g, const int64_t *ind, const float *dy, float *dx, int n_threads,
                        void *workspace, size_t workspace_stride)
{
    size_t need = og_maxpool_bwd_workspace(g);
    bool scratch = workspace && need > 0 && workspace_stride >= need;
    /* dX written with streaming stores only when it is far larger than the
     * caches: a smaller one is read right back by the next backward op */
    bool stream = g->stream > 0 ||
                  (g->stream < 0 && (double)g->planes * (double)(g->H * g->W) * 4.0 > (double)NT_MIN_BYTES);
    bwd_ctx c = { g, ind, dy, dx, scratch ? workspace : NULL, workspace_stride, g->simd, stream,
                  claim_block(g->H * g->W), 0, 0 };
    int64_t blocks = (g->planes + c.block - 1) / c.block;
    int nt = n_threads > 0 ? n_threads : 1;
    og_parallel_for(nt, blocks < nt ? blocks : nt, bwd_worker, &c);
    return __atomic_load_n(&c.bad, __ATOMIC_RELAXED) == 0;
}
