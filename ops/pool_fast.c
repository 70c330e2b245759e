/* SPDX-License-Identifier: MIT */
/* pool_fast.c — fast float32 MaxPool kernels for 2-D NCHW, chosen at plan
 * time by ops/maxpool.c (select and the backward pattern).
 *
 * Forward, per (n, c) plane, one task each: every input row a window uses
 * is reduced horizontally once (the max over the kw taps of each output
 * column, with the column that won), into a plane-sized row buffer; then
 * each output row reduces its kh buffer rows vertically. Horizontal first,
 * because the reference scans windows row-major and keeps the first
 * maximum: the first maximum of the whole window is the first maximum of
 * the first row holding the window's maximum, which is what a strict ">"
 * across rows keeps. NaN: every NaN takes over in both stages, so the last
 * NaN row and in it the last NaN column wins, the reference's last NaN in
 * row-major order. Each stage starts from its first valid cell, never from
 * a padding sentinel, so a window of -inf still names its first real cell.
 *
 * Output columns whose taps all lie inside the row (the interior) run in
 * AVX-512 with no bounds checks; the few touching the left or right padding
 * run the scalar rule (MLAS's split into pad and interior runs). For stride
 * sw > 1 the row is first split into sw phase rows (x[i*sw + r]), so every
 * tap of 16 consecutive output columns is one contiguous load.
 *
 * Backward: dX plane = 0, then dY added at Indices in element order, one
 * task per plane: the sequential scatter's sums bit for bit, as long as
 * every index lies in its own plane (checked per element). */
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"
#include "pool_fast.h"

#define OG_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define MAX_SIMD_TAPS 64

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

/* Phase row length: ceil(W / sw) plus a vector of slack for full stores. */
static int64_t phase_len(const og_pool2d *g) { return (g->W + g->sw - 1) / g->sw + 16; }

typedef struct ws_layout { size_t hi, done, phase, total; } ws_layout;

static ws_layout layout(const og_pool2d *g)
{
    ws_layout l;
    size_t cells = (size_t)g->H * (size_t)g->OW;
    l.hi = round64(cells * sizeof(float));
    l.done = l.hi + round64(cells * sizeof(int32_t));
    l.phase = l.done + round64((size_t)g->H);
    l.total = l.phase + (g->simd && g->sw > 1 ? round64((size_t)(g->H * g->sw * phase_len(g)) * sizeof(float)) : 0);
    return l;
}

bool og_pool2d_init(og_pool2d *g, bool simd)
{
    if (g->planes < 0 || g->H < 1 || g->W < 1 || g->OH < 1 || g->OW < 1 || g->kh < 1 || g->kw < 1 || g->sh < 1 ||
        g->sw < 1 || g->dh < 1 || g->dw < 1 || g->ph < 0 || g->pw < 0)
        return false;
    /* flat in-plane indices live in int32 lanes; the row buffer and the
     * phase rows must stay a sane per-worker size */
    if (g->H > INT32_MAX / g->W || g->H * g->OW > ((int64_t)1 << 24) || g->H * g->W > ((int64_t)1 << 26) || g->sw > 64 || g->W > ((int64_t)1 << 24) ||
        g->pw > ((int64_t)1 << 24) || g->kw > ((int64_t)1 << 24) || g->dw > ((int64_t)1 << 24))
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
    return true;
}

size_t og_pool2d_workspace(const og_pool2d *g) { return layout(g).total; }

/* The reference's rule over the valid taps of output columns [ow0, ow1) of
 * input row h. */
static void hrow_scalar(const og_pool2d *g, const float *row, int64_t h, int64_t ow0, int64_t ow1, float *hv,
                        int32_t *hi)
{
    for (int64_t ow = ow0; ow < ow1; ow++) {
        int64_t cs = ow * g->sw - g->pw, lo, up;
        valid_range(cs, g->dw, g->kw, g->W, &lo, &up);
        if (lo >= up) {   /* the whole column of windows is padding */
            hv[ow] = -INFINITY;
            hi[ow] = -1;
            continue;
        }
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

static void vrow_scalar(const og_pool2d *g, int64_t hs, int64_t lo, int64_t up, const float *hv, const int32_t *hi,
                        float *y, int64_t *ind, int64_t base)
{
    for (int64_t ow = 0; ow < g->OW; ow++) {
        int64_t h = hs + lo * g->dh;
        float best = hv[h * g->OW + ow];
        int32_t bi = hi[h * g->OW + ow];
        for (int64_t j = lo + 1; j < up; j++) {
            h = hs + j * g->dh;
            float v = hv[h * g->OW + ow];
            if (v > best || isnan(v)) {
                best = v;
                bi = hi[h * g->OW + ow];
            }
        }
        if (y)
            y[ow] = best;
        if (ind)
            ind[ow] = bi < 0 ? -1 : base + bi;
    }
}

static __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

OG_AVX512 static void decimate2_avx512(const float *row, int64_t W, float *ph, int64_t plen)
{
    const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int64_t i = 0; 2 * i < W; i += 16) {
        int64_t rem = W - 2 * i;
        __m512 a = _mm512_maskz_loadu_ps(tail_mask(rem), row + 2 * i);
        __m512 b = _mm512_maskz_loadu_ps(rem > 16 ? tail_mask(rem - 16) : 0, row + 2 * i + 16);
        _mm512_storeu_ps(ph + i, _mm512_permutex2var_ps(a, ie, b));
        _mm512_storeu_ps(ph + plen + i, _mm512_permutex2var_ps(a, io, b));
    }
}

static void decimate_scalar(const float *row, int64_t W, int64_t sw, float *ph, int64_t plen)
{
    for (int64_t r = 0; r < sw; r++)
        for (int64_t i = 0, c = r; c < W; i++, c += sw)
            ph[r * plen + i] = row[c];
}

/* Interior columns [ow_a, ow_b) of row h: every tap is a real cell. */
OG_AVX512 static void hrow_avx512(const og_pool2d *g, const float *row, int64_t h, float *hv, int32_t *hi,
                                  float *ph)
{
    const float *tap[MAX_SIMD_TAPS];
    const int64_t sw = g->sw;
    if (sw == 1) {
        for (int64_t k = 0; k < g->kw; k++)
            tap[k] = row + k * g->dw - g->pw;
    } else {
        int64_t plen = phase_len(g);
        for (int64_t k = 0; k < g->kw; k++) {
            int64_t t = k * g->dw - g->pw, q = floor_div(t, sw);
            tap[k] = ph + (t - q * sw) * plen + q;   /* column ow*sw + t is phase (t mod sw), entry ow + q */
        }
    }
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i stepv = _mm512_mullo_epi32(iota, _mm512_set1_epi32((int32_t)sw));
    const __m512i dwv = _mm512_set1_epi32((int32_t)g->dw);
    const int64_t rowbase = h * g->W;
    for (int64_t ow = g->ow_a; ow < g->ow_b; ow += 16) {
        __mmask16 m = tail_mask(g->ow_b - ow);
        /* flat in-plane index of tap 0: h*W + ow*sw - pw (>= h*W: interior) */
        __m512i col = _mm512_add_epi32(stepv, _mm512_set1_epi32((int32_t)(rowbase + ow * sw - g->pw)));
        __m512 best = _mm512_maskz_loadu_ps(m, tap[0] + ow);
        __m512i bcol = col;
        for (int64_t k = 1; k < g->kw; k++) {
            col = _mm512_add_epi32(col, dwv);
            __m512 v = _mm512_maskz_loadu_ps(m, tap[k] + ow);
            __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            best = _mm512_mask_blend_ps(take, best, v);
            bcol = _mm512_mask_blend_epi32(take, bcol, col);
        }
        _mm512_mask_storeu_ps(hv + ow, m, best);
        _mm512_mask_storeu_epi32(hi + ow, m, bcol);
    }
}

OG_AVX512 static void vrow_avx512(const og_pool2d *g, int64_t hs, int64_t lo, int64_t up, const float *hv,
                                  const int32_t *hi, float *y, int64_t *ind, int64_t base)
{
    const int64_t OW = g->OW;
    const __m512i basev = _mm512_set1_epi64(base), none = _mm512_set1_epi64(-1);
    for (int64_t ow = 0; ow < OW; ow += 16) {
        __mmask16 m = tail_mask(OW - ow);
        int64_t h = hs + lo * g->dh;
        __m512 best = _mm512_maskz_loadu_ps(m, hv + h * OW + ow);
        __m512i bi = _mm512_maskz_loadu_epi32(m, hi + h * OW + ow);
        for (int64_t j = lo + 1; j < up; j++) {
            h = hs + j * g->dh;
            __m512 v = _mm512_maskz_loadu_ps(m, hv + h * OW + ow);
            __m512i vi = _mm512_maskz_loadu_epi32(m, hi + h * OW + ow);
            __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            best = _mm512_mask_blend_ps(take, best, v);
            bi = _mm512_mask_blend_epi32(take, bi, vi);
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

typedef struct fwd_ctx {
    const og_pool2d *g;
    const float *x;
    float *y;
    int64_t *ind;
    char *ws;
    size_t stride;
} fwd_ctx;

static void fwd_plane(void *arg, int64_t p, int worker)
{
    const fwd_ctx *c = arg;
    const og_pool2d *g = c->g;
    char *ws = c->ws + (size_t)worker * c->stride;
    ws_layout l = layout(g);
    float *hv = (float *)ws;
    int32_t *hi = (int32_t *)(ws + l.hi);
    unsigned char *done = (unsigned char *)(ws + l.done);
    float *ph = (float *)(ws + l.phase);
    const int64_t in_plane = g->H * g->W, out_plane = g->OH * g->OW;
    const float *xp = c->x + p * in_plane;
    float *yp = c->y ? c->y + p * out_plane : NULL;
    int64_t *ip = c->ind ? c->ind + p * out_plane : NULL;
    memset(done, 0, (size_t)g->H);
    /* The whole plane is split into phase rows up front: loads right after
     * the stores that wrote them, at other offsets, would stall on failed
     * store-to-load forwarding. */
    const int64_t plen = phase_len(g), prow = g->sw * plen;
    if (g->simd && g->sw > 1 && g->ow_b > g->ow_a)
        for (int64_t h = 0; h < g->H; h++) {
            if (g->sw == 2)
                decimate2_avx512(xp + h * g->W, g->W, ph + h * prow, plen);
            else
                decimate_scalar(xp + h * g->W, g->W, g->sw, ph + h * prow, plen);
        }
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *yr = yp ? yp + oh * g->OW : NULL;
        int64_t *ir = ip ? ip + oh * g->OW : NULL;
        int64_t hs = oh * g->sh - g->ph, lo, up;
        valid_range(hs, g->dh, g->kh, g->H, &lo, &up);
        if (lo >= up) {   /* the whole row of windows is padding */
            for (int64_t ow = 0; ow < g->OW; ow++) {
                if (yr)
                    yr[ow] = -INFINITY;
                if (ir)
                    ir[ow] = -1;
            }
            continue;
        }
        for (int64_t j = lo; j < up; j++) {
            int64_t h = hs + j * g->dh;
            if (done[h])
                continue;
            done[h] = 1;
            const float *row = xp + h * g->W;
            float *hvr = hv + h * g->OW;
            int32_t *hir = hi + h * g->OW;
            if (g->simd) {
                hrow_scalar(g, row, h, 0, g->ow_a, hvr, hir);
                if (g->ow_b > g->ow_a)
                    hrow_avx512(g, row, h, hvr, hir, ph + h * prow);
                hrow_scalar(g, row, h, g->ow_b, g->OW, hvr, hir);
            } else {
                hrow_scalar(g, row, h, 0, g->OW, hvr, hir);
            }
        }
        if (g->simd)
            vrow_avx512(g, hs, lo, up, hv, hi, yr, ir, p * in_plane);
        else
            vrow_scalar(g, hs, lo, up, hv, hi, yr, ir, p * in_plane);
    }
}

void og_maxpool2d_f32(const og_pool2d *g, const float *x, float *y, int64_t *ind, int n_threads, void *workspace,
                      size_t workspace_stride)
{
    fwd_ctx c = { g, x, y, ind, workspace, workspace_stride };
    og_parallel_for(n_threads > 0 ? n_threads : 1, g->planes, fwd_plane, &c);
}

/* A plane being written out to dX with streaming stores, a vector at a
 * time, interleaved with the next plane's scatter so the memory writes
 * overlap the arithmetic (dX is written once and not read back here, so
 * streaming also skips its read-for-ownership). */
typedef struct og_streamer { const float *src; float *dst; int64_t n, pos; } og_streamer;

static void streamer_begin(og_streamer *s, const float *src, float *dst, int64_t n)
{
    s->src = src;
    s->dst = dst;
    s->n = n;
    s->pos = 0;
    while (s->pos < n && ((uintptr_t)(dst + s->pos) & 63)) {   /* up to the first aligned line */
        dst[s->pos] = src[s->pos];
        s->pos++;
    }
}

OG_AVX512 static inline void streamer_step(og_streamer *s)
{
    if (s->pos + 16 <= s->n) {
        _mm512_stream_ps(s->dst + s->pos, _mm512_loadu_ps(s->src + s->pos));
        s->pos += 16;
    }
}

OG_AVX512 static void streamer_finish(og_streamer *s)
{
    while (s->pos + 16 <= s->n)
        streamer_step(s);
    for (; s->pos < s->n; s->pos++)
        s->dst[s->pos] = s->src[s->pos];
    s->n = 0;
}

/* Planes per task: fixed, so the split depends on the shape only. */
#define BWD_PLANES_PER_TASK 8

/* Zero plane d, add dY at its indices in order; false on an index outside
 * the plane. The AVX-512 variant streams out `out` (the previous plane)
 * meanwhile. */
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

OG_AVX512 static bool scatter_plane_streaming(float *d, int64_t n, const int64_t *ip, const float *u, int64_t m,
                                              uint64_t base, og_streamer *out)
{
    memset(d, 0, (size_t)n * sizeof(float));
    /* spread the previous plane's vectors evenly over this plane's elements */
    int64_t vecs = out->n > out->pos ? (out->n - out->pos) / 16 : 0;
    int64_t every = vecs > 0 ? (m + vecs - 1) / vecs : m + 1;
    if (every < 1)
        every = 1;
    int64_t next = every;
    for (int64_t q = 0; q < m; q++) {
        uint64_t i = (uint64_t)ip[q] - base;
        if (i >= (uint64_t)n)
            return false;
        d[i] += u[q];
        if (q + 1 == next) {
            streamer_step(out);
            next += every;
        }
    }
    return true;
}

typedef struct bwd_ctx {
    int64_t planes, in_plane, out_plane;
    const int64_t *ind;
    const float *dy;
    float *dx;
    char *ws;
    size_t stride;
    bool simd;
    int bad;
} bwd_ctx;

static void bwd_task(void *arg, int64_t t, int worker)
{
    bwd_ctx *c = arg;
    const int64_t n = c->in_plane, m = c->out_plane;
    int64_t p0 = t * BWD_PLANES_PER_TASK, p1 = p0 + BWD_PLANES_PER_TASK < c->planes ? p0 + BWD_PLANES_PER_TASK
                                                                                    : c->planes;
    if (!c->ws) {   /* in place, no scratch */
        for (int64_t p = p0; p < p1; p++)
            if (!scatter_plane(c->dx + p * n, n, c->ind + p * m, c->dy + p * m, m, (uint64_t)(p * n))) {
                __atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED);
                return;
            }
        return;
    }
    /* two cache-resident planes: one summed while the other streams out */
    float *buf[2] = { (float *)(c->ws + (size_t)worker * c->stride),
                      (float *)(c->ws + (size_t)worker * c->stride + round64((size_t)n * sizeof(float))) };
    og_streamer out = { 0 };
    for (int64_t p = p0; p < p1; p++) {
        float *d = buf[(p - p0) & 1];
        bool ok = c->simd ? scatter_plane_streaming(d, n, c->ind + p * m, c->dy + p * m, m, (uint64_t)(p * n), &out)
                          : scatter_plane(d, n, c->ind + p * m, c->dy + p * m, m, (uint64_t)(p * n));
        if (!ok) {
            __atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED);
            return;
        }
        if (c->simd) {
            streamer_finish(&out);
            streamer_begin(&out, d, c->dx + p * n, n);
        } else {
            memcpy(c->dx + p * n, d, (size_t)n * sizeof(float));
        }
    }
    if (c->simd) {
        streamer_finish(&out);
        _mm_sfence();
    }
}

size_t og_maxpool_bwd_workspace(int64_t in_plane)
{
    return in_plane <= ((int64_t)1 << 17) ? 2 * round64((size_t)in_plane * sizeof(float)) : 0;
}

bool og_maxpool_bwd_f32(int64_t planes, int64_t in_plane, int64_t out_plane, const int64_t *ind, const float *dy,
                        float *dx, int n_threads, void *workspace, size_t workspace_stride)
{
    bool scratch = workspace && og_maxpool_bwd_workspace(in_plane) > 0 &&
                   workspace_stride >= og_maxpool_bwd_workspace(in_plane);
    bwd_ctx c = { planes, in_plane, out_plane, ind, dy, dx, scratch ? workspace : NULL, workspace_stride,
                  og_isa_active() == OG_ISA_AVX512, 0 };
    og_parallel_for(n_threads > 0 ? n_threads : 1, (planes + BWD_PLANES_PER_TASK - 1) / BWD_PLANES_PER_TASK, bwd_task,
                    &c);
    return __atomic_load_n(&c.bad, __ATOMIC_RELAXED) == 0;
}
