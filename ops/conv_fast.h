/* SPDX-License-Identifier: MIT */
/* conv_fast.h — plan-time fast float32 kernels for Conv and ConvTranspose
 * (ops/conv_fast.c), reached through the ops' `select` and the weight
 * gradient pattern. conv.c and convtranspose.c own the ONNX geometry
 * (attributes, auto_pad, output_shape); they hand the resolved numbers over
 * in og_cf_geom so this file never re-derives them. */
#ifndef ONNXGRAD_CONV_FAST_H
#define ONNXGRAD_CONV_FAST_H

#include "internal.h"

/* A 2-D convolution (1-D ones as H = R = P = 1). For Conv: X [N, C, H, W],
 * W [M, Cg, R, S], Y [N, M, P, Q] with
 *   Y[n, g*Mg+m, p, q] = sum over c, r, s of
 *       W[g*Mg+m, c, r, s] * X[n, g*Cg+c, p*sh + r*dh - ph, q*sw + s*dw - pw].
 * For ConvTranspose: X [N, C, H, W], W [C, Mg, R, S], Y [N, M, P, Q] and
 * X[n, c, i, j] * W[c, m, r, s] lands on Y[.., i*sh + r*dh - ph, j*sw + s*dw - pw].
 * Pads are the begin pads; the end pads follow from P and Q. */
typedef struct og_cf_geom {
    int64_t N, C, M, G, Cg, Mg;
    int64_t H, W, R, S, P, Q;
    int64_t sh, sw, dh, dw, ph, pw;
} og_cf_geom;

/* Fills g from resolved spatial geometry of rank 1 or 2; false when the
 * rank is another or a size is unknown (the caller then keeps its kernel). */
bool og_cf_geom_from(og_cf_geom *g, const og_spatial *sp, int64_t N, int64_t C, int64_t M, int64_t G);

/* The tensors a kernel was planned for, checked again at every run: X
 * (in[0]), W (in[1]) and Y (out[0]), float32 of one rank, and with bias
 * a float in[2] of Y's channel count. og_cf_shapes_of records the select
 * call's static shapes; og_cf_shapes_set records given dims (rank 4). */
typedef struct og_cf_shapes {
    int rank;
    bool bias;
    int64_t x[OG_MAX_RANK], w[OG_MAX_RANK], y[OG_MAX_RANK];
} og_cf_shapes;
void og_cf_shapes_of(og_cf_shapes *sh, const og_select_call *s, bool bias);
void og_cf_shapes_set(og_cf_shapes *sh, const int64_t *x, const int64_t *w, const int64_t *y);
bool og_cf_shapes_match(const og_cf_shapes *sh, const og_kernel_call *k);

/* Conv's select: a fast kernel for float32 with static shapes, or none. */
og_status og_conv_fast_select(og_select_call *s, const og_cf_geom *g, bool has_bias);
/* ConvTranspose's select, g in ConvTranspose's terms. */
og_status og_convt_fast_select(og_select_call *s, const og_cf_geom *g, bool has_bias);

/* conv_direct.c: the kernel on padded rows when it applies to g (the
 * forward correlation; flip: the weights are ConvTranspose's, to be
 * flipped) and the ISA has it; relaxed: the caller's alternative is a GEMM
 * that packs (narrower rows then still win); leaves s untouched otherwise. */
og_status og_conv_direct_select(og_select_call *s, const og_cf_geom *g, bool has_bias, bool flip, bool relaxed);

/* conv_winograd.c: F(2x2, 3x3) for 3x3 stride-1 convolutions of one group
 * with 32 or more channels in and out (flip as above); leaves s untouched
 * where it does not apply. */
og_status og_conv_winograd_select(og_select_call *s, const og_cf_geom *g, bool has_bias, bool flip);
/* The same for the weight gradient, g the forward Conv's geometry: the
 * kernel reads X [N, C, H, W] and dY [N, M, P, Q] and writes dW [M, C, 3, 3]. */
og_status og_conv_winograd_grad_w_select(og_select_call *s, const og_cf_geom *g);

/* conv.c: the resolved geometry of a Conv node for these input shapes
 * (false when the shapes or attributes give none); *has_bias_attr-free:
 * group and pads come back in g. */
bool og_conv_node_geom(const og_node *node, const og_shape *xs, const og_shape *ws, og_cf_geom *g);

/* ops/conv_grad_w_rows.c: the weight gradient as dot products of padded
 * rows (conv_grad_w_rows, AVX-512 or AVX2). The plan, in forward terms
 * (X [N, G*Cg, H, W], dY [N, G*Mg, P, Q], taps R x S, strides sh, sw,
 * dilations dh, dw, begin pads ph, pw), filled by og_gwr_plan_make from the
 * pattern's Conv geometry; false when the kernel does not fit (ISA, sizes,
 * workspace), *workspace_bytes the per-worker scratch otherwise. */
typedef struct og_gwr_plan {
    int64_t N, G, Cg, Mg, H, W, P, Q, R, S, sh, sw, dh, dw, ph, pw;
    int64_t Hq, Wq;        /* phase planes: rows, row width */
    int64_t L, lpad;       /* dY on Wq-wide rows: floats, rounded to a vector */
    int64_t ps;            /* floats from one phase plane to the next */
    int64_t xs;            /* floats of one channel's phase planes and zero slack */
    int64_t mb, n_mb, cb, n_cb;   /* task blocks: dW rows, X channels */
    int64_t jpad;          /* a task's taps rounded to the register tile */
    int64_t ni, lb;        /* images per copy unit; l per block (one image) */
    int vl, mr, nj;        /* lanes, tile rows, tile taps */
    bool avx512;
    size_t part_off, dy_off, x_off, tab_off;   /* worker scratch layout */
} og_gwr_plan;
bool og_gwr_plan_make(og_gwr_plan *p, const og_cf_geom *g, size_t *workspace_bytes);
int64_t og_gwr_tasks(const og_gwr_plan *p);
/* The shapes it is chosen for (it computes any stride up to 4). */
bool og_gwr_preferred(const og_gwr_plan *p);
void og_gwr_run(const og_gwr_plan *p, const float *x, const float *dy, float *dw, void *ws, size_t stride,
                int n_threads);

/* dst[v] = src[2v], v < n, 16 at a time from two loads and a permute, for
 * the stride-2 copies of X the kernels pack (as a scalar loop, a fifth of
 * a stride-2 layer's time); masked loads never touch src past src[2(n-1)].
 * AVX-512F: callers check og_isa_active(). */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define OG_CF_HAVE_GATHER2 1
static inline __attribute__((target("avx512f"))) void og_cf_gather_stride2(float *dst, const float *src, int64_t n)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    int64_t v = 0;
    for (; v + 17 <= n; v += 16)
        _mm512_storeu_ps(dst + v, _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * v), even,
                                                         _mm512_loadu_ps(src + 2 * v + 16)));
    if (v < n) {
        int64_t used = 2 * (n - 1 - v) + 1;   /* elements from src + 2v on */
        __mmask16 lo = (__mmask16)(used >= 16 ? 0xFFFF : (1u << used) - 1);
        __mmask16 hi = (__mmask16)(used > 16 ? (1u << (used - 16)) - 1 : 0);
        __m512 r = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo, src + 2 * v), even,
                                          _mm512_maskz_loadu_ps(hi, src + 2 * v + 16));
        _mm512_mask_storeu_ps(dst + v, (__mmask16)((1u << (n - v)) - 1), r);
    }
}
#endif

#endif
