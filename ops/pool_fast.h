/* SPDX-License-Identifier: MIT */
/* pool_fast.h — the fast float32 MaxPool kernels (ops/pool_fast.c) that
 * MaxPool's select and its backward pattern (ops/maxpool.c) plan. Private
 * to ops/. */
#ifndef ONNXGRAD_POOL_FAST_H
#define ONNXGRAD_POOL_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 2-D pooling geometry of one plan step: X [planes, H, W] -> Y [planes,
 * OH, OW], window kh x kw, strides, dilations, begin pads (the end pads
 * only shape OH/OW, which the caller resolved). The column split is
 * precomputed: output columns [ow_a, ow_b) have every tap inside the row
 * (the SIMD interior); the others touch the padding and run scalar. */
typedef struct og_pool2d {
    int64_t planes, H, W, OH, OW;
    int64_t kh, kw, sh, sw, dh, dw, ph, pw;
    int64_t ow_a, ow_b;
    int64_t ring, owp;  /* rows of the horizontal-maximum ring (a power of two); OW rounded up to 16 */
    bool simd;          /* AVX-512 interior (the ISA chosen at plan time) */
} og_pool2d;

/* Fills the derived fields; false when the geometry is outside what the
 * fast kernel takes (plane or buffers too large), so the reference runs. */
bool og_pool2d_init(og_pool2d *g, bool simd);
/* Per-worker scratch of og_maxpool2d_f32. */
size_t og_pool2d_workspace(const og_pool2d *g);
/* Y and/or Indices (either may be NULL), the reference's exact results:
 * first maximum in row-major window order, the last NaN when there is one,
 * -inf and -1 for a window wholly in the padding, Indices flat into X. */
void og_maxpool2d_f32(const og_pool2d *g, const float *x, float *y, int64_t *ind, int n_threads, void *workspace,
                      size_t workspace_stride);

/* Backward geometry: dX planes [H, W], dY/Indices planes [OH, OW]; the
 * rows of output row oh's windows, [oh*sh - ph, + (kh-1)*dh + 1), bound
 * where its indices may point. Unknown geometry: H = 1, W = the plane,
 * OH = 1, OW = dY's plane, sh = kh = dh = 1, ph = 0 (one band). */
typedef struct og_pool_bwd {
    int64_t planes, H, W, OH, OW;
    int64_t sh, ph, kh, dh;
    bool simd;          /* AVX-512 (the ISA chosen at plan time) */
    int stream;         /* dX by streaming stores: 1 always, 0 never, -1 when far larger than the caches */
} og_pool_bwd;

/* False when the geometry is out of the kernel's range. */
bool og_pool_bwd_init(og_pool_bwd *g);
/* dX = zeros + dY scattered to Indices (planes of OH*OW each, in plane
 * order), in element order: the sequential scatter's sums bit for bit, at
 * any thread count. Returns false (dX partly written) when an index falls
 * outside its own plane: the caller then runs the general scatter. */
bool og_maxpool_bwd_f32(const og_pool_bwd *g, const int64_t *ind, const float *dy, float *dx, int n_threads,
                        void *workspace, size_t workspace_stride);
/* Per-worker scratch it uses when given (a plane summed in cache and
 * streamed out); 0 for planes too large, which are summed in place. */
size_t og_maxpool_bwd_workspace(const og_pool_bwd *g);

#endif
