/* SPDX-License-Identifier: MIT */
/* conv_winograd.c — 3x3 convolution of stride 1 by Winograd's minimal
 * filtering F(2x2, 3x3): Conv forward, and ConvTranspose of stride 1 (a
 * Conv's dX) as the forward correlation with the kernel flipped.
 *
 * Why: direct convolution does 9 multiply-adds per output and tap row; at
 * 80 % of the FMA peak that still loses to a library on ResNet's 14x14 and
 * 7x7 layers, where a 48-wide register tile wastes columns and padding taps
 * are computed. F(2x2, 3x3) computes each 2x2 block of outputs from its 4x4
 * input tile d as A^T [ (G w G^T) (.) (B^T d B) ] A: 16 products where
 * direct needs 36, so 2.25x fewer FMAs, and the products summed over the
 * input channels are 16 ordinary GEMMs (xi = 0..15): M[xi] = U[xi] V[xi]
 * with U[xi] [M x C] the transformed weights and V[xi] [C x tiles] the
 * transformed input. The transforms' coefficients are 0, +-1 and 1/2, so
 * the rounding stays close to the direct sum's (F(4x4, 3x3) would save
 * more but its larger coefficients cost accuracy).
 *
 * Tasks are blocks of consecutive tiles (across images, so 7x7 planes still
 * give wide GEMMs): each transforms its tiles' input into its own scratch,
 * runs the 16 GEMMs on the deterministic GEMM of kernel.h and transforms the
 * products into Y, so each output is the same fixed sequence of operations
 * whichever task holds its tile and whatever the block sizes (the GEMM's
 * sums do not depend on M, N or position): bit-identical at any thread
 * count. U is computed per run (weights change between training steps) into
 * scratch shared by the workers, in blocks of output channels when all of
 * it would exceed WG_SHARED_MAX (the input transform is then redone per
 * block). Every output element is written. */
#include <string.h>
#include "internal.h"
#include "kernel.h"
#include "conv_fast.h"

#define WG_LANES 8
#define WG_ALIGN(x) (((x) + 63) & ~(size_t)63)
#define WG_SHARED_MAX ((size_t)8 << 20)   /* U of one block of output channels */
#define WG_WORKER_MAX ((size_t)8 << 20)   /* a worker's V, M and GEMM scratch */
#define WG_TOTAL_MAX ((size_t)16 << 20)   /* all of it, every worker's included */
#define WG_PANELS 4                       /* GEMM panels of tiles per task at most */

typedef struct wg_state wg_state;
typedef void (*wg_in_fn)(const wg_state *st, const float *x, int64_t t0, int64_t t1, int64_t c0, int64_t c1, float *v,
                         float *eo);
typedef void (*wg_weights_fn)(const wg_state *st, const float *w, int64_t m0, int64_t mn, int64_t p_lo, int64_t p_hi,
                              int64_t c_lo, int64_t c_hi, int64_t mr, float *u);
typedef void (*wg_dy_fn)(const wg_state *st, const float *dy, int64_t t0, int64_t t1, int64_t m_lo, int64_t m_hi,
                         float *out);
typedef void (*wg_dw_fn)(const wg_state *st, const float *z, int64_t m_lo, int64_t m_hi, float *dw);
typedef void (*wg_out_fn)(const wg_state *st, const float *mt, const float *bias, int64_t m0, int64_t mn,
                          int64_t t0, int64_t t1, float *y);

struct wg_state {
    og_cf_geom g;        /* the forward correlation (ConvTranspose: its stride-1 equivalent) */
    bool flip;           /* weights are ConvTranspose's [C, M, 3, 3], to be flipped */
    og_cf_shapes sh;     /* the tensors planned for (bias: in[2]) */
    int64_t TY, TX, T;   /* tiles down, across, in all */
    int64_t tb, n_tb;    /* tiles per block, blocks */
    int64_t n_mp;        /* tasks per tile block: parts of the output channels */
    bool shared_v;       /* V of every block computed first, into shared scratch */
    int64_t mb, n_mblk;  /* output channels per U block, blocks */
    int64_t ldv;         /* floats per (xi, channel) row of V and M */
    int64_t lr;          /* floats per row of the de-interleaved input columns */
    int nt;              /* threads the scratch was laid out for */
    size_t u_xi;         /* floats of one packed U[xi] */
    size_t u_bytes, worker_bytes, v_off, m_off, eo_off, gemm_off;
    size_t vall_bytes;   /* shared V (shared_v), after U */
    wg_in_fn in;
    wg_out_fn out;
    wg_weights_fn weights;
    /* the weight gradient (grad_w): tiles [k*tb, (k+1)*tb) are chunk k,
     * their V and DY in shared scratch after Z, summed into Z in order */
    bool grad_w;
    size_t z_bytes, dy_off;
    wg_dy_fn dy;
    wg_dw_fn dw;
};

static int64_t wg_min(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t wg_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- transforms ----------------------------------------------------------
 * One body per ISA through a macro: GCC's vector extensions over 8 lanes
 * become ymm code under target("avx2,fma") and SSE pairs otherwise. The
 * lanes run along a row of tiles; loads and stores go through memcpy. */

typedef float wg_v8 __attribute__((vector_size(32)));

/* Lane shuffles of two vectors (GCC 12 and clang both have
 * __builtin_shufflevector): even and odd lanes of a ++ b, and a, b
 * interleaved (low and high halves). */
#define WG_EVEN(a, b) __builtin_shufflevector((a), (b), 0, 2, 4, 6, 8, 10, 12, 14)
#define WG_ODD(a, b) __builtin_shufflevector((a), (b), 1, 3, 5, 7, 9, 11, 13, 15)
#define WG_ZIP_LO(a, b) __builtin_shufflevector((a), (b), 0, 8, 1, 9, 2, 10, 3, 11)
#define WG_ZIP_HI(a, b) __builtin_shufflevector((a), (b), 4, 12, 5, 13, 6, 14, 7, 15)

#define WG_LD(p) ({ wg_v8 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define WG_ST(p, v) do { wg_v8 s_ = (v); memcpy((p), &s_, sizeof s_); } while (0)

/* The 4x4 input tiles of tiles [t0, t1) of channels [c0, c1): per image,
 * its input rows split into even and odd columns (eo: 2 rows of lr per
 * input row), then per 8 tiles of a tile row V[xi][c][t] = (B^T d B)[xi]
 * with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. A segment's last
 * vector runs past its tiles into the next segment's (written after it)
 * or the row's slack. */
#define WG_DEFINE_IN(sfx, attr, LOAD8)                                                                        \
    attr static void wg_in_##sfx(const wg_state *st, const float *x, int64_t t0, int64_t t1, int64_t c0,       \
                                 int64_t c1, float *v, float *eo)                                              \
    {                                                                                                          \
        const og_cf_geom *g = &st->g;                                                                          \
        const int64_t TX = st->TX, TY = st->TY, ldv = st->ldv, lr = st->lr, C = g->C, HW = g->H * g->W;       \
        for (int64_t c = c0; c < c1; c++)                                                                      \
            for (int64_t t = t0; t < t1;) {                                                                    \
                /* this image's tiles in [t, te): its input rows once, each split into its even           \
                 * (e) and odd (o) columns over the whole padded width, zero outside X */                  \
                int64_t n = t / (TY * TX), te = wg_min(t1, (n + 1) * TY * TX);                                \
                int64_t tya = t / TX % TY, rows = 2 * ((te - 1) / TX % TY - tya) + 4;                          \
                const float *xc = x + (n * C + c) * HW;                                                       \
                for (int64_t pr = 0; pr < rows; pr++) {                                                        \
                    float *e = eo + 2 * pr * lr, *o = e + lr;                                                  \
                    int64_t ih = 2 * tya - g->ph + pr;                                                         \
                    if (ih < 0 || ih >= g->H) {                                                                \
                        memset(e, 0, sizeof(float) * (size_t)(2 * lr));                                        \
                        continue;                                                                              \
                    }                                                                                          \
                    /* 16 floats at a time from 2m - pw (zero outside the row), split by shuffles */        \
                    const float *row = xc + ih * g->W;                                                         \
                    for (int64_t m = 0; m < lr; m += WG_LANES) {                                               \
                        wg_v8 a, b;                                                                            \
                        LOAD8(a, row, 2 * m - g->pw, g->W);                                                    \
                        LOAD8(b, row, 2 * m - g->pw + WG_LANES, g->W);                                         \
                        WG_ST(e + m, WG_EVEN(a, b));                                             \
                        WG_ST(o + m, WG_ODD(a, b));                                             \
                    }                                                                                          \
                }                                                                                              \
                for (; t < te;) {   /* per tile row segment, 8 tiles at a time */                             \
                    int64_t ty = t / TX % TY, txa = t % TX, cnt = wg_min(TX - txa, te - t);                    \
                    const float *rb = eo + 4 * (ty - tya) * lr + txa;                                          \
                    float *vt = v + c * ldv + (t - t0);                                                        \
                    for (int64_t m = 0; m < cnt; m += WG_LANES) {                                              \
                        wg_v8 r[4][4];                                                                         \
                        for (int i = 0; i < 4; i++) {                                                          \
                            const float *e = rb + 2 * i * lr + m, *o = e + lr;                                 \
                            wg_v8 d0 = WG_LD(e), d1 = WG_LD(o), d2 = WG_LD(e + 1), d3 = WG_LD(o + 1);          \
                            r[i][0] = d0 - d2;                                                                 \
                            r[i][1] = d1 + d2;                                                                 \
                            r[i][2] = d2 - d1;                                                                 \
                            r[i][3] = d1 - d3;                                                                 \
                        }                                                                                      \
                        for (int j = 0; j < 4; j++) {                                                          \
                            WG_ST(vt + (0 * 4 + j) * C * ldv + m, r[0][j] - r[2][j]);                          \
                            WG_ST(vt + (1 * 4 + j) * C * ldv + m, r[1][j] + r[2][j]);                          \
                            WG_ST(vt + (2 * 4 + j) * C * ldv + m, r[2][j] - r[1][j]);                          \
                            WG_ST(vt + (3 * 4 + j) * C * ldv + m, r[1][j] - r[3][j]);                          \
                        }                                                                                      \
                    }                                                                                          \
                    t += cnt;                                                                                  \
                }                                                                                              \
            }                                                                                                  \
    }

/* Y's 2x2 blocks of output channels [m0, m0+mn) for tiles [t0, t1) from
 * the products mt[xi][m][t]: A^T M A + bias with A^T = [1 1 1 0; 0 1 -1 -1],
 * the two output rows' columns interleaved; blocks past P or Q dropped. */
#define WG_DEFINE_OUT(sfx, attr)                                                                              \
    attr static void wg_out_##sfx(const wg_state *st, const float *mt, const float *bias, int64_t m0,          \
                                  int64_t mn, int64_t t0, int64_t t1, float *y)                                \
    {                                                                                                          \
        const og_cf_geom *g = &st->g;                                                                          \
        const int64_t TX = st->TX, TY = st->TY, ldv = st->ldv, P = g->P, Q = g->Q, M = g->M;                  \
        for (int64_t m = 0; m < mn; m++) {                                                                     \
            float bv = bias ? bias[m0 + m] : 0.0f;                                                             \
            for (int64_t t = t0; t < t1;) {                                                                    \
                int64_t n = t / (TY * TX), ty = t / TX % TY, txa = t % TX;                                     \
                int64_t cnt = wg_min(TX - txa, t1 - t);                                                        \
                int64_t qend = wg_min(Q, 2 * (txa + cnt));                                                     \
                float *yp = y + ((n * M + m0 + m) * P + 2 * ty) * Q;                                           \
                const float *mp = mt + m * ldv + (t - t0);                                                     \
                for (int64_t k = 0; k < cnt; k += WG_LANES) {                                                  \
                    wg_v8 s[2][4];                                                                             \
                    for (int j = 0; j < 4; j++) {                                                              \
                        wg_v8 a0 = WG_LD(mp + (0 * 4 + j) * mn * ldv + k);                                     \
                        wg_v8 a1 = WG_LD(mp + (1 * 4 + j) * mn * ldv + k);                                     \
                        wg_v8 a2 = WG_LD(mp + (2 * 4 + j) * mn * ldv + k);                                     \
                        wg_v8 a3 = WG_LD(mp + (3 * 4 + j) * mn * ldv + k);                                     \
                        s[0][j] = a0 + a1 + a2;                                                                \
                        s[1][j] = a1 - a2 - a3;                                                                \
                    }                                                                                          \
                    int64_t q0 = 2 * (txa + k), nq = wg_min(qend - q0, 2 * WG_LANES);                          \
                    for (int a = 0; a < 2 && 2 * ty + a < P; a++) {                                            \
                        wg_v8 e = s[a][0] + s[a][1] + s[a][2] + bv, o = s[a][1] - s[a][2] - s[a][3] + bv;      \
                        float buf[2 * WG_LANES], *dst = yp + a * Q + q0;                                       \
                        if (nq == 2 * WG_LANES) {                                                              \
                            WG_ST(dst, WG_ZIP_LO(e, o));                                           \
                            WG_ST(dst + WG_LANES, WG_ZIP_HI(e, o));                                \
                            continue;                                                                          \
                        }                                                                                      \
                        WG_ST(buf, WG_ZIP_LO(e, o));                                               \
                        WG_ST(buf + WG_LANES, WG_ZIP_HI(e, o));                                    \
                        for (int64_t q = 0; q < nq; q++)                                                       \
                            dst[q] = buf[q];                                                                   \
                    }                                                                                          \
                }                                                                                              \
                t += cnt;                                                                                      \
            }                                                                                                  \
        }                                                                                                      \
    }


/* U[xi] = (G w G^T)[xi] for the output channels of panels [p_lo, p_hi) of
 * this block (m0 + [0, mn)), with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2;
 * 0 0 1]; w is W[m][c] (Conv) or W[c][m] turned by 180 degrees
 * (ConvTranspose). Written straight into the GEMM's packed form (kernel.h:
 * per k block of OG_GEMM_KC input channels, per panel of mr rows, kc x mr):
 * the lanes run along a panel's rows, so each (xi, c) is one store of mr
 * floats. GATHER(k, src, cs, nc) loads tap i of rows src + e*cs, e < nc,
 * into k[i] (zero past nc, which gives the panel's zero rows). */
#define WG_DEFINE_WEIGHTS(sfx, attr, GATHER)                                                                 \
    attr static void wg_weights_##sfx(const wg_state *st, const float *w, int64_t m0, int64_t mn, int64_t p_lo, \
                                      int64_t p_hi, int64_t c_lo, int64_t c_hi, int64_t mr, float *u)          \
    {                                                                                                          \
        const int64_t C = st->g.C, M = st->g.M, cs = st->flip ? 9 : C * 9, mp = wg_cdiv(mn, mr) * mr;         \
        const wg_v8 half = { 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f };                                \
        /* the order that reads W forward: Conv along c within rows m, ConvTranspose along m within c */     \
        for (int64_t it = 0; it < (p_hi - p_lo) * (c_hi - c_lo); it++) {                                       \
            int64_t p = st->flip ? p_lo + it % (p_hi - p_lo) : p_lo + it / (c_hi - c_lo);                      \
            int64_t c = st->flip ? c_lo + it / (p_hi - p_lo) : c_lo + it % (c_hi - c_lo);                      \
            int64_t r0 = p * mr, nrow = wg_min(mr, mn - r0);                                                   \
            {                                                                                                  \
                const float *src = st->flip ? w + (c * M + m0 + r0) * 9 : w + ((m0 + r0) * C + c) * 9;        \
                wg_v8 k[9], h[4][3];                                                                           \
                GATHER(k, src, cs, nrow);                                                                      \
                if (st->flip)                                                                                  \
                    for (int i = 0; i < 4; i++) {                                                              \
                        wg_v8 tmp = k[i];                                                                      \
                        k[i] = k[8 - i];                                                                       \
                        k[8 - i] = tmp;                                                                        \
                    }                                                                                          \
                for (int j = 0; j < 3; j++) {                                                                  \
                    h[0][j] = k[j];                                                                            \
                    h[1][j] = half * (k[j] + k[3 + j] + k[6 + j]);                                             \
                    h[2][j] = half * (k[j] - k[3 + j] + k[6 + j]);                                             \
                    h[3][j] = k[6 + j];                                                                        \
                }                                                                                              \
                int64_t pc = c / OG_GEMM_KC * OG_GEMM_KC, kc = wg_min(OG_GEMM_KC, C - pc);                     \
                float *dst = u + pc * mp + r0 * kc + (c - pc) * mr;                                            \
                for (int i = 0; i < 4; i++) {                                                                  \
                    wg_v8 r[4] = { h[i][0], half * (h[i][0] + h[i][1] + h[i][2]),                              \
                                   half * (h[i][0] - h[i][1] + h[i][2]), h[i][2] };                            \
                    for (int j = 0; j < 4; j++) {                                                              \
                        float *d = dst + (4 * i + j) * st->u_xi;                                               \
                        if (mr == WG_LANES)                                                                    \
                            WG_ST(d, r[j]);                                                                    \
                        else                                                                                   \
                            for (int64_t e = 0; e < mr; e++)                                                   \
                                d[e] = r[j][e];                                                                \
                    }                                                                                          \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
    }

#define WG_GATHER_PLAIN(k, src, cs, nc)                                                                        \
    do {                                                                                                       \
        float t_[9][WG_LANES];                                                                                 \
        for (int e = 0; e < WG_LANES; e++)                                                                     \
            for (int i = 0; i < 9; i++)                                                                        \
                t_[i][e] = e < (nc) ? (src)[e * (cs) + i] : 0.0f;                                              \
        for (int i = 0; i < 9; i++)                                                                            \
            memcpy(&(k)[i], t_[i], sizeof t_[i]);                                                              \
    } while (0)

/* The weight gradient (F(3x3, 2x2), the adjoint of the forward):
 * dW = sum over tiles of G^T [ (A dy A^T) (.) (B^T d B) ] G, with dy a
 * tile's 2x2 block of dY (zero past P or Q) and A = [1 0; 1 1; 1 -1; 0 -1].
 * This one: DY[xi][m][t - t0] = (A dy A^T)[xi] for output channels
 * [m_lo, m_hi) and tiles [t0, t1), lanes along a row of tiles (stores run
 * past a segment as in wg_in). */
#define WG_DEFINE_DY(sfx, attr, LOAD8)                                                                        \
    attr static void wg_dy_##sfx(const wg_state *st, const float *dy, int64_t t0, int64_t t1, int64_t m_lo,    \
                                 int64_t m_hi, float *out)                                                     \
    {                                                                                                          \
        const og_cf_geom *g = &st->g;                                                                          \
        const int64_t TX = st->TX, TY = st->TY, ldv = st->ldv, M = g->M, P = g->P, Q = g->Q;                   \
        for (int64_t m = m_lo; m < m_hi; m++)                                                                  \
            for (int64_t t = t0; t < t1;) {                                                                    \
                int64_t n = t / (TY * TX), ty = t / TX % TY, txa = t % TX, cnt = wg_min(TX - txa, t1 - t);     \
                const float *row0 = dy + ((n * M + m) * P + 2 * ty) * Q + 2 * txa, *row1 = row0 + Q;          \
                int64_t w = Q - 2 * txa;   /* columns left in the row */                                      \
                bool has1 = 2 * ty + 1 < P;                                                                    \
                float *dt = out + m * ldv + (t - t0);                                                          \
                for (int64_t k = 0; k < cnt; k += WG_LANES) {                                                  \
                    /* lanes past the segment are junk tiles: stored where later ones overwrite them */       \
                    wg_v8 a, b, r[4][2], y[2][2] = { { { 0 } } };                                              \
                    LOAD8(a, row0, 2 * k, w);                                                                  \
                    LOAD8(b, row0, 2 * k + WG_LANES, w);                                                       \
                    y[0][0] = WG_EVEN(a, b);                                                     \
                    y[0][1] = WG_ODD(a, b);                                                     \
                    if (has1) {                                                                                \
                        LOAD8(a, row1, 2 * k, w);                                                              \
                        LOAD8(b, row1, 2 * k + WG_LANES, w);                                                   \
                        y[1][0] = WG_EVEN(a, b);                                                 \
                        y[1][1] = WG_ODD(a, b);                                                 \
                    }                                                                                          \
                    for (int c = 0; c < 2; c++) {                                                              \
                        r[0][c] = y[0][c];                                                                     \
                        r[1][c] = y[0][c] + y[1][c];                                                           \
                        r[2][c] = y[0][c] - y[1][c];                                                           \
                        r[3][c] = -y[1][c];                                                                    \
                    }                                                                                          \
                    for (int i = 0; i < 4; i++) {                                                              \
                        WG_ST(dt + (4 * i + 0) * M * ldv + k, r[i][0]);                                        \
                        WG_ST(dt + (4 * i + 1) * M * ldv + k, r[i][0] + r[i][1]);                              \
                        WG_ST(dt + (4 * i + 2) * M * ldv + k, r[i][0] - r[i][1]);                              \
                        WG_ST(dt + (4 * i + 3) * M * ldv + k, -r[i][1]);                                       \
                    }                                                                                          \
                }                                                                                              \
                t += cnt;                                                                                      \
            }                                                                                                  \
    }

/* dW[m][c] = G^T Z[.][m][c] G for output channels [m_lo, m_hi), with
 * G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]; lanes along c. */
#define WG_DEFINE_DW(sfx, attr)                                                                               \
    attr static void wg_dw_##sfx(const wg_state *st, const float *z, int64_t m_lo, int64_t m_hi, float *dw)    \
    {                                                                                                          \
        const int64_t C = st->g.C, M = st->g.M;                                                                \
        const wg_v8 half = { 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f };                                \
        for (int64_t m = m_lo; m < m_hi; m++)                                                                  \
            for (int64_t c = 0; c < C; c += WG_LANES) {                                                        \
                float buf[WG_LANES] = { 0 };                                                                   \
                wg_v8 zz[16], t[3][4];                                                                         \
                int64_t nc = wg_min(WG_LANES, C - c);                                                          \
                for (int xi = 0; xi < 16; xi++) {                                                              \
                    const float *zp = z + (xi * M + m) * C + c;                                                \
                    if (nc == WG_LANES) {                                                                      \
                        zz[xi] = WG_LD(zp);                                                                    \
                        continue;                                                                              \
                    }                                                                                          \
                    for (int64_t e = 0; e < nc; e++)                                                           \
                        buf[e] = zp[e];                                                                        \
                    memcpy(&zz[xi], buf, sizeof buf);                                                          \
                }                                                                                              \
                for (int j = 0; j < 4; j++) {                                                                  \
                    wg_v8 s12 = half * (zz[4 + j] + zz[8 + j]);                                                \
                    t[0][j] = zz[j] + s12;                                                                     \
                    t[1][j] = half * (zz[4 + j] - zz[8 + j]);                                                  \
                    t[2][j] = s12 + zz[12 + j];                                                                \
                }                                                                                              \
                float out[9][WG_LANES];                                                                        \
                for (int r = 0; r < 3; r++) {                                                                  \
                    wg_v8 s12 = half * (t[r][1] + t[r][2]);                                                    \
                    wg_v8 w0 = t[r][0] + s12, w1 = half * (t[r][1] - t[r][2]), w2 = s12 + t[r][3];            \
                    memcpy(out[3 * r], &w0, sizeof w0);                                                        \
                    memcpy(out[3 * r + 1], &w1, sizeof w1);                                                    \
                    memcpy(out[3 * r + 2], &w2, sizeof w2);                                                    \
                }                                                                                              \
                for (int64_t e = 0; e < nc; e++)                                                               \
                    for (int k = 0; k < 9; k++)                                                                \
                        dw[(m * C + c + e) * 9 + k] = out[k][e];                                               \
            }                                                                                                  \
    }

/* v = row[off .. off+8), lanes outside [0, w) zero (and not read) */
#define WG_LOAD8_PLAIN(v, row, off, w)                                                                         \
    do {                                                                                                       \
        float t_[WG_LANES];                                                                                    \
        for (int64_t e_ = 0; e_ < WG_LANES; e_++)                                                              \
            t_[e_] = (off) + e_ >= 0 && (off) + e_ < (w) ? (row)[(off) + e_] : 0.0f;                           \
        memcpy(&(v), t_, sizeof t_);                                                                           \
    } while (0)
WG_DEFINE_IN(generic, , WG_LOAD8_PLAIN)
WG_DEFINE_OUT(generic, )
WG_DEFINE_WEIGHTS(generic, , WG_GATHER_PLAIN)
WG_DEFINE_DY(generic, , WG_LOAD8_PLAIN)
WG_DEFINE_DW(generic, )
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WG_LOAD8_AVX2(v, row, off, w)                                                                          \
    do {                                                                                                       \
        int64_t o_ = (off);                                                                                    \
        if (o_ >= 0 && o_ + WG_LANES <= (w)) {                                                                 \
            v = WG_LD((row) + o_);                                                                             \
        } else {                                                                                               \
            __m256i i_ = _mm256_add_epi32(_mm256_set1_epi32((int)o_), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); \
            __m256i in_ = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), i_),                  \
                                              _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(w)), i_));            \
            v = (wg_v8)_mm256_maskload_ps((row) + o_, in_);                                                    \
        }                                                                                                      \
    } while (0)
WG_DEFINE_IN(avx2, __attribute__((target("avx2,fma"))), WG_LOAD8_AVX2)
WG_DEFINE_OUT(avx2, __attribute__((target("avx2,fma"))))
/* Taps 0..7 of the 8 rows as 8 row loads and an 8x8 transpose in
 * registers, tap 8 by scalar loads (vgatherdps took half the transform's
 * time); rows past nc are zero and not read. */
static inline __attribute__((target("avx2,fma"), always_inline)) void
wg_gather_avx2(wg_v8 *k, const float *src, int64_t cs, int64_t nc)
{
    __m256 r[8];
    for (int e = 0; e < 8; e++)
        r[e] = e < nc ? _mm256_loadu_ps(src + e * cs) : _mm256_setzero_ps();
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    k[0] = (wg_v8)_mm256_permute2f128_ps(u0, u4, 0x20);
    k[1] = (wg_v8)_mm256_permute2f128_ps(u1, u5, 0x20);
    k[2] = (wg_v8)_mm256_permute2f128_ps(u2, u6, 0x20);
    k[3] = (wg_v8)_mm256_permute2f128_ps(u3, u7, 0x20);
    k[4] = (wg_v8)_mm256_permute2f128_ps(u0, u4, 0x31);
    k[5] = (wg_v8)_mm256_permute2f128_ps(u1, u5, 0x31);
    k[6] = (wg_v8)_mm256_permute2f128_ps(u2, u6, 0x31);
    k[7] = (wg_v8)_mm256_permute2f128_ps(u3, u7, 0x31);
    float t8[8];
    for (int e = 0; e < 8; e++)
        t8[e] = e < nc ? src[e * cs + 8] : 0.0f;
    memcpy(&k[8], t8, sizeof t8);
}
#define WG_GATHER_AVX2(k, src, cs, nc) wg_gather_avx2((k), (src), (cs), (nc))
WG_DEFINE_WEIGHTS(avx2, __attribute__((target("avx2,fma"))), WG_GATHER_AVX2)
WG_DEFINE_DY(avx2, __attribute__((target("avx2,fma"))), WG_LOAD8_AVX2)
WG_DEFINE_DW(avx2, __attribute__((target("avx2,fma"))))
#define WG_HAVE_AVX2 1
#endif

/* ---- run ---------------------------------------------------------------- */

typedef struct wg_job {
    const wg_state *st;
    const float *x, *w, *b;
    float *y, *u;
    char *ws;
    int64_t m0, mn;   /* this pass's block of output channels */
    int64_t mr;       /* the GEMM's rows per panel */
    int64_t part;     /* output channels per tile task (a multiple of the GEMM's MR) */
    int64_t t0, t1;   /* grad_w: this chunk's tiles */
    float beta;       /* grad_w: 0 for the first chunk, then 1 (summed into Z) */
} wg_job;

#define WG_V_CB 8   /* channel blocks per tile block in the shared-V phase */

static float *wg_worker(const wg_job *j, int worker)
{
    return (float *)(j->ws + j->st->u_bytes + j->st->vall_bytes + (size_t)worker * j->st->worker_bytes);
}

static float *wg_shared_v(const wg_job *j, int64_t b)
{
    const wg_state *st = j->st;
    return (float *)(j->ws + st->u_bytes) + b * 16 * st->g.C * st->ldv;
}

#define WG_U_PANELS 2   /* Conv: GEMM row panels of U per weight task */
#define WG_U_CHANS 16   /* ConvTranspose: input channels per weight task */

/* A part of this block's U, packed for the GEMM once for every tile task:
 * Conv panels [t*WG_U_PANELS, ...) (W's rows), ConvTranspose channels
 * [t*WG_U_CHANS, ...) (W's [C, M] rows), so each task reads W forward. */
static int64_t wg_weights_tasks(const wg_state *st, int64_t mn, int64_t mr)
{
    return st->flip ? wg_cdiv(st->g.C, WG_U_CHANS) : wg_cdiv(wg_cdiv(mn, mr), WG_U_PANELS);
}

static void wg_weights_task(void *arg, int64_t t, int worker)
{
    (void)worker;
    const wg_job *j = arg;
    const wg_state *st = j->st;
    int64_t np = wg_cdiv(j->mn, j->mr);
    if (st->flip) {
        int64_t lo = t * WG_U_CHANS;
        st->weights(st, j->w, j->m0, j->mn, 0, np, lo, wg_min(st->g.C, lo + WG_U_CHANS), j->mr, j->u);
    } else {
        int64_t lo = t * WG_U_PANELS;
        st->weights(st, j->w, j->m0, j->mn, lo, wg_min(np, lo + WG_U_PANELS), 0, st->g.C, j->mr, j->u);
    }
}

/* shared_v: channels of one tile block's V */
static void wg_v_task(void *arg, int64_t t, int worker)
{
    const wg_job *j = arg;
    const wg_state *st = j->st;
    int64_t b = t / WG_V_CB, cb = t % WG_V_CB, per = wg_cdiv(st->g.C, WG_V_CB);
    int64_t c0 = cb * per, c1 = wg_min(st->g.C, c0 + per);
    if (c0 >= c1)
        return;
    float *eo = (float *)((char *)wg_worker(j, worker) + st->eo_off);
    st->in(st, j->x, b * st->tb, wg_min(st->T, (b + 1) * st->tb), c0, c1, wg_shared_v(j, b), eo);
}

/* One tile block's products for one part of the block's output channels,
 * and their outputs. */
static void wg_tile_task(void *arg, int64_t t, int worker)
{
    const wg_job *j = arg;
    const wg_state *st = j->st;
    const og_cf_geom *g = &st->g;
    int64_t b = t / st->n_mp, r0 = t % st->n_mp * j->part, rn = wg_min(j->mn, r0 + j->part) - r0;
    if (rn <= 0)
        return;
    char *ws = (char *)wg_worker(j, worker);
    float *mt = (float *)(ws + st->m_off), *v;
    int64_t t0 = b * st->tb, t1 = wg_min(st->T, t0 + st->tb), ldv = st->ldv;
    if (st->shared_v) {
        v = wg_shared_v(j, b);
    } else {
        v = (float *)(ws + st->v_off);
        st->in(st, j->x, t0, t1, 0, g->C, v, (float *)(ws + st->eo_off));
    }
    for (int xi = 0; xi < 16; xi++) {
        og_gemm_b bm = { .data = v + xi * g->C * ldv, .ld = ldv };
        og_sgemm_packed(j->mn, r0, rn, t1 - t0, g->C, 1.0f, j->u + (size_t)xi * st->u_xi, &bm, 0.0f,
                        mt + xi * rn * ldv, ldv, ws + st->gemm_off);
    }
    st->out(st, mt, j->b, j->m0 + r0, rn, t0, t1, j->y);
}

/* ---- the weight gradient ------------------------------------------------ */

#define WG_GW_MB 8        /* output channels per dW task */
#define WG_GW_MIN_C 128   /* input channels for the weight gradient */

static void wg_gw_transform_task(void *arg, int64_t t, int worker)
{
    const wg_job *j = arg;
    const wg_state *st = j->st;
    float *eo = (float *)((char *)wg_worker(j, worker) + st->eo_off);
    /* even tasks: X's channels, odd: dY's (both threads get both kinds) */
    bool x_side = t % 2 == 0;
    int64_t n = x_side ? st->g.C : st->g.M, per = wg_cdiv(n, WG_V_CB), lo = t / 2 * per;
    int64_t hi = wg_min(n, lo + per);
    if (lo >= hi)
        return;
    if (x_side)
        st->in(st, j->x, j->t0, j->t1, lo, hi, (float *)(j->ws + st->z_bytes), eo);
    else
        st->dy(st, j->w, j->t0, j->t1, lo, hi, (float *)(j->ws + st->dy_off));
}

/* Z[xi] rows [m0, m0+rows) += DY[xi] V[xi]^T over this chunk's tiles */
static void wg_gw_gemm_task(void *arg, int64_t t, int worker)
{
    const wg_job *j = arg;
    const wg_state *st = j->st;
    const int64_t C = st->g.C, M = st->g.M, ldv = st->ldv;
    int64_t xi = t / st->n_mp, m0 = t % st->n_mp * j->part, rows = wg_min(M, m0 + j->part) - m0;
    if (rows <= 0)
        return;
    const float *dyt = (const float *)(j->ws + st->dy_off) + (xi * M + m0) * ldv;
    const float *v = (const float *)(j->ws + st->z_bytes) + xi * C * ldv;
    og_sgemm_mat(false, true, rows, C, j->t1 - j->t0, 1.0f, dyt, ldv, v, ldv, j->beta, j->u + (xi * M + m0) * C, C,
                 (char *)wg_worker(j, worker) + st->gemm_off);
}

static void wg_gw_dw_task(void *arg, int64_t t, int worker)
{
    (void)worker;
    const wg_job *j = arg;
    int64_t lo = t * WG_GW_MB;
    j->st->dw(j->st, j->u, lo, wg_min(j->st->g.M, lo + WG_GW_MB), j->y);
}

/* Chunks of tiles in order (fixed by the shape, so the sums' order is
 * too): transforms, then the 16 GEMMs summing into Z; then dW from Z. */
static void wg_gw_run(wg_job *j)
{
    const wg_state *st = j->st;
    j->part = wg_cdiv(st->g.M, st->n_mp);
    for (int64_t k = 0; k < st->n_tb; k++) {
        j->t0 = k * st->tb;
        j->t1 = wg_min(st->T, j->t0 + st->tb);
        j->beta = k ? 1.0f : 0.0f;
        og_parallel_for(st->nt, 2 * WG_V_CB, wg_gw_transform_task, j);
        og_parallel_for(st->nt, 16 * st->n_mp, wg_gw_gemm_task, j);
    }
    og_parallel_for(st->nt, wg_cdiv(st->g.M, WG_GW_MB), wg_gw_dw_task, j);
}

static og_status wg_run(const og_kernel_call *k)
{
    const wg_state *st = k->state;
    const char *op = st && st->grad_w ? "Transpose, fused conv weight gradient" : st && st->flip ? "ConvTranspose"
                                                                                                  : "Conv";
    bool ok = st && og_cf_shapes_match(&st->sh, k);
    /* the scratch is one region laid out for the plan's thread count */
    ok = ok && k->n_threads == st->nt &&
         k->workspace_bytes >= st->u_bytes + st->vall_bytes + (size_t)st->nt * st->worker_bytes;
    if (!ok)
        return og_err(OG_ERR_INTERNAL, "node '%s' (%s): tensors do not match the shapes the fast kernel was "
                                       "planned for", k->node->name, op);
    wg_job j = { .st = st, .x = k->in[0]->data, .w = k->in[1]->data, .b = st->sh.bias ? k->in[2]->data : NULL,
                 .y = k->out[0]->data, .u = (float *)k->workspace, .ws = k->workspace };
    if (st->grad_w) {   /* in[1] is dY, out[0] dW */
        wg_gw_run(&j);
        return OG_OK;
    }
    int64_t mr = og_gemm_mr();
    j.mr = mr;
    if (st->shared_v)
        og_parallel_for(st->nt, st->n_tb * WG_V_CB, wg_v_task, &j);
    for (int64_t m0 = 0; m0 < st->g.M; m0 += st->mb) {
        j.m0 = m0;
        j.mn = wg_min(st->mb, st->g.M - m0);
        j.part = wg_cdiv(wg_cdiv(j.mn, st->n_mp), mr) * mr;
        og_parallel_for(st->nt, wg_weights_tasks(st, j.mn, mr), wg_weights_task, &j);
        og_parallel_for(st->nt, st->n_tb * st->n_mp, wg_tile_task, &j);
    }
    return OG_OK;
}

/* The transforms of the widest ISA there is (AVX2's serve AVX-512 too). */
static void wg_pick_isa(wg_state *st)
{
    st->in = wg_in_generic, st->out = wg_out_generic, st->weights = wg_weights_generic;
    st->dy = wg_dy_generic, st->dw = wg_dw_generic;
#ifdef WG_HAVE_AVX2
    if (og_isa_active() >= OG_ISA_AVX2) {
        st->in = wg_in_avx2, st->out = wg_out_avx2, st->weights = wg_weights_avx2;
        st->dy = wg_dy_avx2, st->dw = wg_dw_avx2;
    }
#endif
}

/* ---- select ------------------------------------------------------------- */

/* 3x3, stride 1, no dilation, one group, channels enough on both sides
 * for the 16 GEMMs to run near the FMA peak (they reduce over C and are M
 * rows tall), and tiles enough for the weights' transform (16/9 of the
 * weights written and read per run) to pay. Measured against the implicit
 * GEMM at batch 8: 4x4 planes of 256 channels (32 tiles) 1.5x faster
 * forward at 1 thread, even at 2; 7x7 ones of 512 (128 tiles) 1.3x and
 * 1.1x. The weight gradient wants more: on 4x4 planes it lost at 2
 * threads, on 8x8 ones of 128 channels (128 tiles) it tied. */
#define WG_MIN_TILES 32
#define WG_GW_MIN_TILES 128
static bool wg_applies(const og_cf_geom *g, int64_t min_tiles)
{
    return g->R == 3 && g->S == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->G == 1 &&
           g->C >= 32 && g->M >= 32 && g->P >= 2 && g->Q >= 2 && g->N * ((g->P + 1) / 2) * ((g->Q + 1) / 2) >= min_tiles;
}

og_status og_conv_winograd_select(og_select_call *s, const og_cf_geom *g, bool has_bias, bool flip)
{
    if (!wg_applies(g, WG_MIN_TILES) || og_isa_active() == OG_ISA_SCALAR)
        return OG_OK;
    int nt = s->n_threads > 0 ? s->n_threads : 1;
    int64_t TY = wg_cdiv(g->P, 2), TX = wg_cdiv(g->Q, 2), T = g->N * TY * TX;
    /* output channels per U block: all, or blocks of a multiple of 8, so
     * that the packed U (k blocks of OG_GEMM_KC, rows rounded up to any
     * ISA's MR <= 8) stays within WG_SHARED_MAX */
    int64_t n_mblk = 0, mb;
    size_t u_xi, u_bytes;
    do {
        n_mblk++;
        mb = wg_min(g->M, (wg_cdiv(g->M, n_mblk) + 7) / 8 * 8);
        u_xi = (size_t)(wg_cdiv(g->C, OG_GEMM_KC) * OG_GEMM_KC * (mb + 8));
        u_bytes = WG_ALIGN(sizeof(float) * 16 * u_xi);
    } while (u_bytes > WG_SHARED_MAX && mb > 8);
    if (u_bytes > WG_SHARED_MAX)
        return OG_OK;
    int64_t lr = (TX + WG_LANES - 1) / WG_LANES * WG_LANES + 2 * WG_LANES;   /* a multiple of 8, past TX + 8 */
    size_t eo_bytes = WG_ALIGN(sizeof(float) * (size_t)(2 * (2 * TY + 2) * lr)), gemm = WG_ALIGN(og_gemm_workspace_bytes());
    /* Tile blocks of k GEMM panels (a partial panel costs a whole one),
     * k <= WG_PANELS, each one task (its V computed in the task) or, with
     * several threads, n_mp = 2 tasks over halves of the output channels
     * reading a V computed first for all blocks (shared_v): whichever
     * computes the fewest columns per thread, counting the idle share of
     * the last round and a little per task. */
    int64_t nr = og_gemm_nr(), tb = 0, n_tb = 0, n_mp = 1, ldv = 0;
    size_t v_bytes = 0, m_bytes = 0, worker = 0, vall = 0;
    bool shared_v = false;
    double best = -1;
    /* modes: 0 private V; 1 shared V, one task per block; 2 shared V, two */
    for (int mode = 0; mode < 3; mode++)
        for (int64_t k = WG_PANELS; k >= 1; k--) {
            int64_t mp = mode == 2 ? 2 : 1;
            bool shared = mode > 0;
            if ((mode == 1 && n_mblk == 1) || (mode == 2 && (nt == 1 || mb < 64)))
                continue;
            int64_t w = k * nr, nb = wg_cdiv(T, w), ld = (w + WG_LANES - 1) / WG_LANES * WG_LANES + WG_LANES;
            size_t vb = WG_ALIGN(sizeof(float) * (size_t)(16 * g->C * ld));
            size_t mbytes = WG_ALIGN(sizeof(float) * (size_t)(16 * (wg_cdiv(mb, mp) + 8) * ld));
            size_t va = shared ? vb * (size_t)nb : 0, wk = (shared ? 0 : vb) + mbytes + eo_bytes + gemm;
            if (wk > WG_WORKER_MAX || va > WG_SHARED_MAX || u_bytes + va + (size_t)nt * wk > WG_TOTAL_MAX ||
                16 * g->C * ld >= ((int64_t)1 << 31))
                continue;
            /* V costs about a tenth of a block's GEMMs, once per block of
             * output channels unless shared */
            double rounds = (double)wg_cdiv(nb * mp, nt);
            double cost = (double)n_mblk * rounds * (double)w / (double)mp + (double)T * (WG_PANELS - k) / 32.0 / nt +
                          (shared ? 0.1 * (double)T / nt : 0.1 * (double)n_mblk * rounds * (double)w);
            if (best < 0 || cost < best) {
                best = cost;
                tb = w, n_tb = nb, n_mp = mp, ldv = ld, v_bytes = shared ? 0 : vb, m_bytes = mbytes;
                worker = wk, vall = va, shared_v = shared;
            }
        }
    if (best < 0)
        return OG_OK;
    wg_state *st = og_calloc(1, sizeof *st);
    if (!st)
        return og_err(OG_ERR_NOMEM, "node '%s' (%s): out of memory planning the fast kernel", s->node->name,
                      flip ? "ConvTranspose" : "Conv");
    st->g = *g;
    st->flip = flip;
    og_cf_shapes_of(&st->sh, s, has_bias);
    st->TY = TY, st->TX = TX, st->T = T, st->tb = tb, st->n_tb = n_tb, st->n_mp = n_mp, st->shared_v = shared_v;
    st->vall_bytes = vall;
    st->mb = mb, st->n_mblk = wg_cdiv(g->M, mb), st->ldv = ldv, st->lr = lr, st->nt = nt;
    st->u_bytes = u_bytes;
    st->worker_bytes = worker;
    st->v_off = 0;
    st->m_off = v_bytes;
    st->eo_off = v_bytes + m_bytes;
    st->u_xi = u_xi;
    st->gemm_off = v_bytes + m_bytes + eo_bytes;
    wg_pick_isa(st);
    s->state = st;
    /* the executor gives nt workers this much each, in one region */
    s->workspace_bytes = WG_ALIGN(wg_cdiv((int64_t)(u_bytes + vall + (size_t)nt * worker), nt));
    s->run = wg_run;
    s->kernel_name = flip ? "convt_s1_winograd" : "conv_winograd";
    return OG_OK;
}

og_status og_conv_winograd_grad_w_select(og_select_call *s, const og_cf_geom *g)
{
    /* Z[xi] is M x C: with C below 128 the GEMM's 48-wide panels waste a
     * third of the work (ResNet's 64-channel layers measured no faster
     * than conv_grad_w_rows) */
    if (!wg_applies(g, WG_GW_MIN_TILES) || og_isa_active() == OG_ISA_SCALAR || g->C < WG_GW_MIN_C)
        return OG_OK;
    int nt = s->n_threads > 0 ? s->n_threads : 1;
    int64_t TY = wg_cdiv(g->P, 2), TX = wg_cdiv(g->Q, 2), T = g->N * TY * TX;
    size_t z_bytes = WG_ALIGN(sizeof(float) * (size_t)(16 * g->M * g->C));
    /* chunks of tiles whose V and DY fit WG_SHARED_MAX, in whole GEMM k
     * blocks where they can be: from the shape alone (the sums' order) */
    int64_t per_tile = 16 * (g->C + g->M) * (int64_t)sizeof(float);
    int64_t tb = (int64_t)WG_SHARED_MAX / per_tile - 2 * WG_LANES;
    tb = tb >= OG_GEMM_KC ? tb / OG_GEMM_KC * OG_GEMM_KC : tb / WG_LANES * WG_LANES;
    if (tb < WG_LANES || z_bytes > WG_SHARED_MAX)
        return OG_OK;
    tb = wg_min(tb, T);
    int64_t ldv = (tb + WG_LANES - 1) / WG_LANES * WG_LANES + WG_LANES;
    int64_t lr = (TX + WG_LANES - 1) / WG_LANES * WG_LANES + 2 * WG_LANES;   /* a multiple of 8, past TX + 8 */
    size_t v_bytes = WG_ALIGN(sizeof(float) * (size_t)(16 * g->C * ldv));
    size_t dy_bytes = WG_ALIGN(sizeof(float) * (size_t)(16 * g->M * ldv));
    size_t eo_bytes = WG_ALIGN(sizeof(float) * (size_t)(2 * (2 * TY + 2) * lr)), gemm = WG_ALIGN(og_gemm_workspace_bytes());
    size_t shared = z_bytes + v_bytes + dy_bytes, worker = eo_bytes + gemm;
    if (shared + (size_t)nt * worker > WG_TOTAL_MAX || 16 * (g->C + g->M) * ldv >= ((int64_t)1 << 31))
        return OG_OK;
    wg_state *st = og_calloc(1, sizeof *st);
    if (!st)
        return og_err(OG_ERR_NOMEM, "node '%s' (Transpose): out of memory planning the conv weight gradient",
                      s->node->name);
    st->g = *g;
    st->grad_w = true;
    const int64_t xd[4] = { g->N, g->C, g->H, g->W }, dd[4] = { g->N, g->M, g->P, g->Q };
    const int64_t wd[4] = { g->M, g->C, 3, 3 };
    og_cf_shapes_set(&st->sh, xd, dd, wd);   /* in[1]: dY, out[0]: dW */
    st->TY = TY, st->TX = TX, st->T = T, st->tb = tb, st->n_tb = wg_cdiv(T, tb);
    st->n_mp = g->M >= 64 ? 2 : 1;
    st->ldv = ldv, st->lr = lr, st->nt = nt;
    st->z_bytes = z_bytes;
    st->dy_off = z_bytes + v_bytes;
    st->u_bytes = shared;   /* wg_worker's base: the per-worker scratch follows */
    st->worker_bytes = worker;
    st->eo_off = 0;
    st->gemm_off = eo_bytes;
    wg_pick_isa(st);
    s->state = st;
    s->workspace_bytes = WG_ALIGN(wg_cdiv((int64_t)(shared + (size_t)nt * worker), nt));
    s->run = wg_run;
    s->kernel_name = "conv_grad_w_winograd";
    return OG_OK;
}
