/* SPDX-License-Identifier: MIT */
/* conv_direct.c — convolution on padded input rows (AVX-512, AVX2): Conv
 * forward at strides up to 4, and ConvTranspose of stride 1 (a Conv's dX)
 * as the forward correlation with the kernel flipped.
 *
 * Why: the implicit GEMM (conv_fast.c) packs a B panel of Cg*R*S rows for
 * every block of pixels, one load and one store per element for only Mg
 * FMAs; with Mg = 64 that costs a quarter of the FMA rate (65 % of peak on
 * ResNet's 56x56 layers). No packing is needed: copy the input rows a task
 * needs once into zero-padded rows of width Wp = Q + (S-1)*dw, and number
 * the outputs along those rows (l = row * Wp + q; q >= Q are junk
 * columns, computed and dropped). Then the im2col row of tap (c, r, s) for
 * outputs l..l+47 is the contiguous window rows + c*plane + r*dh*Wp +
 * s*dw + l, and the GEMM micro-kernel (8 output channels x 48 outputs, 24
 * zmm accumulators) reads its B vectors straight from there: per tap 3
 * unaligned loads, 8 broadcasts of the packed weights and 24 FMAs (AVX2:
 * two halves of 4 channels x 24 outputs in 12 ymm). At
 * stride s the rows hold X split into its stride phases (rows and columns
 * of one residue mod s), where every tap is again a shifted window; Wp is
 * then Q plus the spread of the taps' shifts. The junk columns cost
 * (Wp - Q) / Wp of the work (3.4 % at 56 wide), so the kernel is chosen
 * for wide rows only.
 *
 * Tasks are (image, group, block of output rows); the weights are packed
 * per run into each worker's scratch ([m block][k][8], zero rows past Mg),
 * since they change between training steps. Within a task, per tile of 48
 * outputs, the input channels go in chunks small enough for their window
 * to stay in L1 while every block of output channels reads it; the chunks'
 * partial sums go through a tile buffer in a fixed order, so each output
 * is one task's fixed sum and the bits do not depend on the thread count.
 * Every output element is written (copied out of the tile buffer, with the
 * bias). */
#include <string.h>
#include "internal.h"
#include "kernel.h"
#include "conv_fast.h"

#define CD_MR 8
#define CD_NR 48
#define CD_ALIGN(x) (((x) + 63) & ~(size_t)63)
#define CD_MAX_WS ((size_t)8 << 20)
#define CD_ROWS_BYTES ((size_t)512 << 10)   /* padded input rows of one task */
#define CD_CHUNK_BYTES ((size_t)16 << 10)   /* one tile's input window per channel chunk */
#define CD_A_BYTES ((size_t)384 << 10)      /* packed weights one sweep of a task's tiles reads */

typedef void (*cd_kernel_fn)(int64_t nk, const int32_t *off, const float *xb, const float *a, float *acc, bool load);

typedef struct cd_state {
    og_cf_geom g;        /* the forward correlation (ConvTranspose: its stride-1 equivalent) */
    bool flip;           /* weights are ConvTranspose's [C, Mg, R, S], to be flipped */
    og_cf_shapes sh;     /* the tensors planned for (bias: in[2]) */
    int64_t Wp;          /* padded row width */
    int64_t rb, n_rb;    /* output rows per task, row blocks per (image, group) */
    int64_t rows_in;     /* padded input rows of a full row block (rb + halo) */
    int64_t halo;        /* rows below a block's own that its taps reach */
    int64_t plane;       /* floats per channel in the padded rows (rows_in * Wp) */
    int64_t bh0, bw0;    /* the lowest tap shift (tap_phase's b) down and across */
    int n_slots;         /* stride phases the taps use */
    int slot[16];        /* per phase a*sw + e: its place in the rows, -1 unused */
    int64_t n_mb;        /* blocks of 8 output channels per group */
    int64_t cc;          /* input channels per chunk */
    int64_t mbs;         /* blocks of 8 channels whose weights a tile sweep keeps in L2 */
    size_t a_off, x_off, acc_off;   /* workspace layout (after the 64-byte tag) */
    cd_kernel_fn kernel; /* the ISA's micro-kernel */
    int64_t nr;          /* its tile of outputs (48 AVX-512, 24 AVX2) */
    int32_t off[];       /* per k = (c, r, s): where its window starts in the rows */
} cd_state;

static int64_t cd_min(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t cd_max(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t cd_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- AVX-512 ------------------------------------------------------------ */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define CD_TARGET __attribute__((target("avx512f,fma")))

/* acc[8][48] (+)= sum over k of a[k][0..8) x window(k) [0..48): the GEMM's
 * 8 x 48 register tile with B read in place at xb + off[k]. */
static CD_TARGET void cd_kernel(int64_t nk, const int32_t *off, const float *xb, const float *a, float *acc,
                                bool load)
{
    __m512 c[CD_MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < CD_MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++)
            c[i][v] = load ? _mm512_load_ps(acc + i * CD_NR + 16 * v) : _mm512_setzero_ps();
    for (int64_t k = 0; k < nk; k++) {
        const float *xp = xb + off[k];
        __m512 b0 = _mm512_loadu_ps(xp), b1 = _mm512_loadu_ps(xp + 16), b2 = _mm512_loadu_ps(xp + 32);
        const float *ak = a + k * CD_MR;
#pragma GCC unroll 8
        for (int i = 0; i < CD_MR; i++) {
            __m512 w = _mm512_set1_ps(ak[i]);
            c[i][0] = _mm512_fmadd_ps(w, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(w, b1, c[i][1]);
            c[i][2] = _mm512_fmadd_ps(w, b2, c[i][2]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < CD_MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++)
            _mm512_store_ps(acc + i * CD_NR + 16 * v, c[i][v]);
}

/* AVX2: the 8 rows as two halves of 4 x 24 outputs (12 ymm accumulators,
 * 3 of B, 7 loads per 12 FMAs), the window read once per half. */
static __attribute__((target("avx2,fma"))) void cd_kernel_avx2(int64_t nk, const int32_t *off, const float *xb,
                                                                const float *a, float *acc, bool load)
{
    for (int h = 0; h < 2; h++) {
        __m256 c[4][3];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
#pragma GCC unroll 3
            for (int v = 0; v < 3; v++)
                c[i][v] = load ? _mm256_load_ps(acc + (4 * h + i) * CD_NR + 8 * v) : _mm256_setzero_ps();
        for (int64_t k = 0; k < nk; k++) {
            const float *xp = xb + off[k];
            __m256 b0 = _mm256_loadu_ps(xp), b1 = _mm256_loadu_ps(xp + 8), b2 = _mm256_loadu_ps(xp + 16);
            const float *ak = a + k * CD_MR + 4 * h;
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                __m256 w = _mm256_broadcast_ss(ak + i);
                c[i][0] = _mm256_fmadd_ps(w, b0, c[i][0]);
                c[i][1] = _mm256_fmadd_ps(w, b1, c[i][1]);
                c[i][2] = _mm256_fmadd_ps(w, b2, c[i][2]);
            }
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
#pragma GCC unroll 3
            for (int v = 0; v < 3; v++)
                _mm256_store_ps(acc + (4 * h + i) * CD_NR + 8 * v, c[i][v]);
    }
}


/* The micro-kernel of the active ISA and its tile width, or none. */
static cd_kernel_fn cd_pick(int *nr)
{
    og_isa isa = og_isa_active();
    *nr = isa == OG_ISA_AVX512 ? CD_NR : 24;
    return isa == OG_ISA_AVX512 ? cd_kernel : isa == OG_ISA_AVX2 ? cd_kernel_avx2 : NULL;
}
#else
static cd_kernel_fn cd_pick(int *nr)
{
    *nr = CD_NR;
    return NULL;
}
#endif

/* ---- run ---------------------------------------------------------------- */

typedef struct cd_job {
    const cd_state *st;
    const float *x, *w, *b;
    float *y;
    char *ws;
    size_t stride;
    int64_t tag;         /* this run's tag: a worker packs the weights once per run */
} cd_job;

/* All groups' weights as [g][m block][k][8] (rows past Mg zero); for
 * ConvTranspose W [C, Mg, R, S] read as the forward [M, Cg, R, S] flipped. */
static void pack_weights(const cd_state *st, const float *w, float *a)
{
    const og_cf_geom *g = &st->g;
    int64_t RS = g->R * g->S, K = g->Cg * RS;
    for (int64_t gi = 0; gi < g->G; gi++)
        for (int64_t mb = 0; mb < st->n_mb; mb++) {
            float *dst = a + (gi * st->n_mb + mb) * K * CD_MR;
            for (int i = 0; i < CD_MR; i++) {
                int64_t m = mb * CD_MR + i;
                if (m >= g->Mg) {
                    for (int64_t k = 0; k < K; k++)
                        dst[k * CD_MR + i] = 0.0f;
                    continue;
                }
                for (int64_t c = 0; c < g->Cg; c++) {
                    const float *src = st->flip ? w + ((gi * g->Cg + c) * g->Mg + m) * RS
                                                : w + (gi * g->Mg + m) * K + c * RS;
                    float *d = dst + c * RS * CD_MR + i;
                    if (st->flip)
                        for (int64_t t = 0; t < RS; t++)
                            d[t * CD_MR] = src[RS - 1 - t];
                    else
                        for (int64_t t = 0; t < RS; t++)
                            d[t * CD_MR] = src[t];
                }
            }
        }
}

/* Where tap offset o = r*d - pad of a stride-s axis lands: input index
 * p*s + o = (p + b)*s + phase, 0 <= phase < s. */
static void tap_phase(int64_t o, int64_t s, int64_t *phase, int64_t *b)
{
    *phase = ((o % s) + s) % s;
    *b = (o - *phase) / s;
}

/* The task's input as padded phase rows: for each stride phase (a, e) the
 * kernel uses, at slot st->slot[a*sw + e], channel c, row u and column v
 * hold X[c, (p0 + u + bh0)*sh + a, (v + bw0)*sw + e] (zero outside X);
 * then zeros after the last plane for the tiles' overhang. At stride 1
 * there is one phase: the rows themselves, shifted by the pads. */
static void fill_rows(const cd_state *st, const float *xg, int64_t p0, int64_t rows_in, float *xr)
{
    const og_cf_geom *g = &st->g;
    int64_t Wp = st->Wp, HW = g->H * g->W, slab = g->Cg * st->plane;
    bool avx512 = og_isa_active() == OG_ISA_AVX512;
    (void)avx512;
    for (int64_t a = 0; a < g->sh; a++)
        for (int64_t e = 0; e < g->sw; e++) {
            int slot = st->slot[a * g->sw + e];
            if (slot < 0)
                continue;
            /* columns v with 0 <= (v + bw0)*sw + e < W */
            int64_t v0 = cd_min(cd_max(0, -st->bw0), Wp);
            int64_t v1 = cd_max(v0, cd_min(Wp, cd_cdiv(g->W - e, g->sw) - st->bw0));
            for (int64_t c = 0; c < g->Cg; c++) {
                float *pc = xr + slot * slab + c * st->plane;
                for (int64_t u = 0; u < rows_in; u++) {
                    float *row = pc + u * Wp;
                    int64_t ih = (p0 + u + st->bh0) * g->sh + a;
                    if (ih < 0 || ih >= g->H) {
                        memset(row, 0, sizeof(float) * (size_t)Wp);
                        continue;
                    }
                    memset(row, 0, sizeof(float) * (size_t)v0);
                    const float *src = xg + c * HW + ih * g->W + (v0 + st->bw0) * g->sw + e;
                    if (g->sw == 1)
                        memcpy(row + v0, src, sizeof(float) * (size_t)(v1 - v0));
#ifdef OG_CF_HAVE_GATHER2
                    else if (g->sw == 2 && avx512)
                        og_cf_gather_stride2(row + v0, src, v1 - v0);
#endif
                    else
                        for (int64_t v = v0; v < v1; v++)
                            row[v] = src[(v - v0) * g->sw];
                    memset(row + v1, 0, sizeof(float) * (size_t)(Wp - v1));
                }
                /* rows of a short last block past rows_in stay as they are: only junk reads them */
            }
        }
    memset(xr + st->n_slots * slab, 0, sizeof(float) * CD_NR);
}

static void cd_task(void *arg, int64_t t, int worker)
{
    const cd_job *j = arg;
    const cd_state *st = j->st;
    const og_cf_geom *g = &st->g;
    int64_t rbk = t % st->n_rb, rest = t / st->n_rb, gi = rest % g->G, n = rest / g->G;
    int64_t p0 = rbk * st->rb, rows = cd_min(st->rb, g->P - p0);
    int64_t RS = g->R * g->S, K = g->Cg * RS, PQ = g->P * g->Q, Wp = st->Wp;
    char *ws = j->ws + (size_t)worker * j->stride;
    int64_t *tag = (int64_t *)ws;
    float *a = (float *)(ws + st->a_off), *xr = (float *)(ws + st->x_off), *acc = (float *)(ws + st->acc_off);
    if (*tag != j->tag) {
        pack_weights(st, j->w, a);
        *tag = j->tag;
    }
    fill_rows(st, j->x + (n * g->C + gi * g->Cg) * g->H * g->W, p0, rows + st->halo, xr);
    const float *ag = a + gi * st->n_mb * K * CD_MR;
    int64_t L = (rows - 1) * Wp + g->Q;   /* outputs up to the last valid one */
    float *yg = j->y + (n * g->M + gi * g->Mg) * PQ;
    const int64_t nr = st->nr;
    /* blocks of st->mbs blocks of 8 channels whose weights stay in L2 while
     * every tile of the task reads them (ResNet's 256 x 2304 would not) */
    for (int64_t ms = 0; ms < st->n_mb; ms += st->mbs) {
        int64_t me = cd_min(st->n_mb, ms + st->mbs), m_lo = ms * CD_MR, m_hi = cd_min(g->Mg, me * CD_MR);
        for (int64_t l0 = 0; l0 < L; l0 += nr) {
            for (int64_t c0 = 0; c0 < g->Cg; c0 += st->cc) {
                int64_t nk = cd_min(st->cc, g->Cg - c0) * RS, k0 = c0 * RS;
                for (int64_t mb = ms; mb < me; mb++)
                    st->kernel(nk, st->off + k0, xr + l0, ag + (mb * K + k0) * CD_MR,
                               acc + (mb - ms) * CD_MR * CD_NR, c0 > 0);
            }
            /* copy the valid outputs of the tile: runs within one row */
            for (int64_t l = l0; l < cd_min(l0 + nr, L);) {
                int64_t row = l / Wp, q = l % Wp;
                int64_t len = cd_min(l0 + nr, L) - l;
                if (q >= g->Q) {   /* junk columns up to the next row */
                    l += cd_min(len, Wp - q);
                    continue;
                }
                len = cd_min(len, g->Q - q);
                int64_t yo = (p0 + row) * g->Q + q;
                for (int64_t m = m_lo; m < m_hi; m++) {
                    const float *src = acc + (m - m_lo) * CD_NR + (l - l0);
                    float *dst = yg + m * PQ + yo;
                    float bv = j->b ? j->b[gi * g->Mg + m] : 0.0f;
                    for (int64_t e = 0; e < len; e++)
                        dst[e] = src[e] + bv;
                }
                l += len;
            }
        }
    }
}

static og_status cd_run(const og_kernel_call *k)
{
    const cd_state *st = k->state;
    const char *op = st && st->flip ? "ConvTranspose" : "Conv";
    bool ok = st && og_cf_shapes_match(&st->sh, k);
    int nt = k->n_threads > 0 ? k->n_threads : 1;
    if (ok && nt > 1 && k->workspace_stride < st->acc_off)
        ok = false;
    if (!ok)
        return og_err(OG_ERR_INTERNAL, "node '%s' (%s): tensors do not match the shapes the fast kernel was "
                                       "planned for", k->node->name, op);
    const og_cf_geom *g = &st->g;
    cd_job j = { .st = st, .x = k->in[0]->data, .w = k->in[1]->data, .b = st->sh.bias ? k->in[2]->data : NULL,
                 .y = k->out[0]->data, .ws = k->workspace, .stride = k->workspace_stride, .tag = 1 };
    for (int w = 0; w < nt; w++)   /* every worker repacks this run's weights */
        *(int64_t *)((char *)k->workspace + (size_t)w * k->workspace_stride) = 0;
    og_parallel_for(nt, g->N * g->G * st->n_rb, cd_task, &j);
    return OG_OK;
}

/* ---- select ------------------------------------------------------------- */

/* The taps' reach in phase rows along one axis: lowest and highest shift. */
static void axis_reach(int64_t k, int64_t d, int64_t pad, int64_t s, int64_t *lo, int64_t *hi)
{
    for (int64_t r = 0; r < k; r++) {
        int64_t ph, b;
        tap_phase(r * d - pad, s, &ph, &b);
        if (r == 0 || b < *lo)
            *lo = b;
        if (r == 0 || b > *hi)
            *hi = b;
    }
}

/* Wide enough rows that the junk columns cost little, enough channels that
 * the register tile is busy, and strides of at most 4 (phases tabled).
 * Where the alternative is a GEMM that packs for few output channels or
 * few taps (relaxed: small weights), narrower rows still win: measured
 * 2-3x on LeNet's layers, 1.2-1.5x on 8x8 and 12x12 planes of 32-128
 * channels; 14x14 planes of 256 channels (2.4 MB of weights) lost 10 %. */
static bool cd_applies(const og_cf_geom *g, int64_t Wp, bool relaxed)
{
    int64_t K = g->Cg * g->R * g->S;
    /* 1x1: the pointwise GEMM reads X in place already (rows measured 25 % slower) */
    if (g->sh > 4 || g->sw > 4 || g->Mg < 4 || g->R * g->S == 1)
        return false;
    if (g->Q >= 16 && Wp * 8 <= g->Q * 9 && g->Mg >= CD_MR && K >= 32 && g->Cg >= 2)
        return true;
    return relaxed && g->Q >= 8 && Wp * 2 <= g->Q * 3 && K >= 16 && g->Mg * K * (int64_t)sizeof(float) <= (1 << 20);
}

og_status og_conv_direct_select(og_select_call *s, const og_cf_geom *g, bool has_bias, bool flip, bool relaxed)
{
    int nr;
    cd_kernel_fn kernel = cd_pick(&nr);
    if (!kernel || g->sh < 1 || g->sw < 1)
        return OG_OK;
    int64_t RS = g->R * g->S, K = g->Cg * RS;
    int64_t bh0 = 0, bh1 = 0, bw0 = 0, bw1 = 0;
    axis_reach(g->R, g->dh, g->ph, g->sh, &bh0, &bh1);
    axis_reach(g->S, g->dw, g->pw, g->sw, &bw0, &bw1);
    int64_t Wp = g->Q + (bw1 - bw0), halo = bh1 - bh0;
    if (!cd_applies(g, Wp, relaxed))
        return OG_OK;
    int slot[16], n_slots = 0;
    for (int k = 0; k < 16; k++)
        slot[k] = -1;
    for (int64_t r = 0; r < g->R; r++)
        for (int64_t q = 0; q < g->S; q++) {
            int64_t a, e, b;
            tap_phase(r * g->dh - g->ph, g->sh, &a, &b);
            tap_phase(q * g->dw - g->pw, g->sw, &e, &b);
            if (slot[a * g->sw + e] < 0)
                slot[a * g->sw + e] = n_slots++;
        }
    int64_t n_mb = cd_cdiv(g->Mg, CD_MR);
    /* row blocks: at least 16 tasks over images and groups (an even static
     * split on 2 threads), and a task's padded rows within CD_ROWS_BYTES */
    int64_t outer = g->N * g->G;
    int64_t n_rb = cd_cdiv(16, outer);
    int64_t rb = cd_cdiv(g->P, cd_min(n_rb, g->P));
    while (rb > 1 && (size_t)(n_slots * g->Cg * (rb + halo) * Wp) * sizeof(float) > CD_ROWS_BYTES)
        rb = cd_cdiv(rb, 2);
    n_rb = cd_cdiv(g->P, rb);
    int64_t rows_in = rb + halo, plane = rows_in * Wp;
    size_t a_bytes = CD_ALIGN(sizeof(float) * (size_t)(g->G * n_mb * K * CD_MR));
    size_t x_bytes = CD_ALIGN(sizeof(float) * (size_t)(n_slots * g->Cg * plane + CD_NR));
    int64_t mbs = cd_max(1, cd_min(n_mb, (int64_t)CD_A_BYTES / (K * CD_MR * (int64_t)sizeof(float))));
    mbs = cd_cdiv(n_mb, cd_cdiv(n_mb, mbs));   /* even blocks */
    size_t acc_bytes = CD_ALIGN(sizeof(float) * (size_t)(mbs * CD_MR * CD_NR));
    size_t ws = 64 + a_bytes + x_bytes + acc_bytes;
    if (ws > CD_MAX_WS || n_slots * g->Cg * plane + CD_NR >= ((int64_t)1 << 31))
        return OG_OK;
    cd_state *st = og_calloc(1, sizeof *st + sizeof(int32_t) * (size_t)K);
    if (!st)
        return og_err(OG_ERR_NOMEM, "node '%s' (%s): out of memory planning the fast kernel", s->node->name,
                      flip ? "ConvTranspose" : "Conv");
    st->g = *g;
    st->flip = flip;
    og_cf_shapes_of(&st->sh, s, has_bias);
    st->mbs = mbs;
    st->Wp = Wp, st->rb = rb, st->n_rb = n_rb, st->rows_in = rows_in, st->halo = halo, st->plane = plane;
    st->n_mb = n_mb, st->bh0 = bh0, st->bw0 = bw0, st->n_slots = n_slots;
    memcpy(st->slot, slot, sizeof slot);
    /* a tile's window of a channel: its rows (48 outputs span at most
     * 48/Wp + 2 of them) and the kernel's reach below */
    st->kernel = kernel;
    st->nr = nr;
    int64_t span = n_slots * (nr / Wp + 2 + halo) * Wp * (int64_t)sizeof(float);
    st->cc = cd_max(1, cd_min(g->Cg, (int64_t)CD_CHUNK_BYTES / span));
    st->a_off = 64;
    st->x_off = st->a_off + a_bytes;
    st->acc_off = st->x_off + x_bytes;
    for (int64_t c = 0; c < g->Cg; c++)
        for (int64_t r = 0; r < g->R; r++)
            for (int64_t q = 0; q < g->S; q++) {
                int64_t a, e, br, bq;
                tap_phase(r * g->dh - g->ph, g->sh, &a, &br);
                tap_phase(q * g->dw - g->pw, g->sw, &e, &bq);
                st->off[(c * g->R + r) * g->S + q] = (int32_t)((slot[a * g->sw + e] * g->Cg + c) * plane +
                                                               (br - bh0) * Wp + (bq - bw0));
            }
    s->state = st;
    s->workspace_bytes = ws;
    s->run = cd_run;
    s->kernel_name = flip ? "convt_s1_rows" : "conv_rows";
    return OG_OK;
}
