/* SPDX-License-Identifier: MIT */
/* kernel.h — the layer kernels are built on: the instruction set chosen at
 * run time, the thread pool, and the deterministic GEMM. Op kernels in
 * ops/ use these; none of them knows an op.
 *
 * Determinism is the contract everything here keeps: work is split into
 * tasks by the problem's shape alone (never by the thread count), each task
 * computes its outputs the same way whichever thread runs it, and
 * reductions run in a fixed order. So results are bit-identical at any
 * thread count and from run to run. */
#ifndef ONNXGRAD_KERNEL_H
#define ONNXGRAD_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "onnxgrad/status.h"

/* ---- instruction sets (src/cpu.c) ----------------------------------------
 * The widest the CPU has, or the narrower one OG_ISA=avx512|avx2|scalar
 * forces. Asking for one the CPU lacks, or an unknown name, is an error
 * reported by og_isa_check (og_plan_create calls it). */
typedef enum og_isa { OG_ISA_SCALAR = 0, OG_ISA_AVX2 = 1, OG_ISA_AVX512 = 2 } og_isa;
og_isa og_isa_active(void);
og_status og_isa_check(void);
const char *og_isa_name(og_isa isa);

/* ---- thread pool (src/pool.c) ---------------------------------------------
 * One persistent pool per process; the caller is worker 0. Workers spin
 * briefly after a job, then sleep on a condition variable, so an idle
 * onnxgrad burns no CPU. og_parallel_for runs fn(arg, t, worker) for every
 * task t in [0, n_tasks) on at most n_threads workers, tasks split into
 * contiguous static ranges; it returns when all have run. Calls from
 * several host threads at once are safe: one that finds the pool busy runs
 * its tasks on its own thread (same results: tasks do not depend on the
 * worker). A task must not call og_parallel_for, and cannot fail: a kernel
 * checks everything that could go wrong before it starts its tasks, so
 * every error is raised on the caller's thread, in node order, and reaches
 * its og_errmsg. `worker` (0..n_threads-1)
 * selects per-worker scratch. */
typedef void (*og_task_fn)(void *arg, int64_t task, int worker);
void og_parallel_for(int n_threads, int64_t n_tasks, og_task_fn fn, void *arg);
/* Threads a plan uses by default: OG_NUM_THREADS, else the machine's cores
 * (at most OG_MAX_THREADS). */
#define OG_MAX_THREADS 64
int og_default_threads(void);

/* ---- GEMM (src/gemm.c, src/gemm_avx2.c, src/gemm_avx512.c) ---------------
 * C = alpha * op(A) * B + beta * C, row-major, float32, one thread. op(A) is
 * A [M x K] (lda) or, with trans_a, the transpose of A [K x M]. B is either
 * a matrix [K x N] (ldb; trans_b: the transpose of [N x K]) or produced by
 * a packing callback, so a convolution can pack its implicit im2col
 * straight from the image (no im2col buffer).
 *
 * Deterministic: every C element is alpha * (sum over k in blocks of
 * OG_GEMM_KC, k ascending, one fused multiply-add per k on the vector
 * paths) combined with beta*C in the same order, whatever M, N and the
 * position of the element; so splitting C into tiles across tasks gives
 * the same bits as one call. Different ISAs may differ in the last bits.
 *
 * The callback writes the block B[k0 .. k0+kc) x [j0 .. j0+nc) into dst in
 * panel order: element (k, j) at dst[((j - j0) / nr) * kc * nr + (k - k0) * nr
 * + (j - j0) % nr]; columns past nc up to the panel edge must be written
 * as 0. nr is og_gemm_nr() of the active ISA.
 *
 * Register tiles (MR x NR): AVX-512 8 x 48, AVX2 6 x 16, scalar 4 x 16;
 * edge tiles run the same kernel on zero-padded panels and store only
 * their valid part. beta == 0: C is not read (NaN there does not
 * propagate). The workspace (og_gemm_workspace_bytes, 576 KiB) needs
 * no alignment: og_sgemm aligns inside it. No allocation, one thread. */
#define OG_GEMM_KC 256
typedef void (*og_gemm_pack_fn)(void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float *dst);

typedef struct og_gemm_b {
    const float *data;          /* a matrix, or NULL when pack is set */
    int64_t ld;
    bool trans;
    og_gemm_pack_fn pack;       /* callback; ctx is its argument */
    void *ctx;
} og_gemm_b;

/* Scratch one GEMM call needs (packed panels of A and B), 64-byte aligned. */
size_t og_gemm_workspace_bytes(void);
int og_gemm_nr(void);
void og_sgemm(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const og_gemm_b *B, float beta, float *C, int64_t ldc, void *workspace);
/* A packed once for many GEMMs with it (conv_winograd.c's transformed
 * weights, reused by every block of columns), written by the caller in
 * the micro-kernel's layout: for an M x K matrix, per k block of
 * OG_GEMM_KC (kc its depth), per panel of og_gemm_mr() = MR rows, kc x MR
 * floats, rows rounded up to MR (mp) with zero rows; element (m, k) at
 *   (k / KC) * KC * mp + (m / MR) * kc * MR + (k % KC) * MR + m % MR.
 * og_sgemm_packed computes C = alpha * A' * B + beta * C for A' = rows
 * [m0, m0+M) of that rows x K matrix (m0 a multiple of MR), with exactly
 * the bits og_sgemm gives. The layout belongs to the GEMM ISA in use. */
int og_gemm_mr(void);
void og_sgemm_packed(int64_t rows, int64_t m0, int64_t M, int64_t N, int64_t K, float alpha, const float *Ap,
                     const og_gemm_b *B, float beta, float *C, int64_t ldc, void *workspace);
/* The instruction set of the GEMM kernel in use, and, for tests, a way to
 * switch to another one the CPU has (false, nothing changed, if it lacks
 * it). Not for use while GEMMs run on other threads: og_gemm_nr() changes. */
og_isa og_gemm_isa(void);
bool og_gemm_force_isa(og_isa isa);
/* Tiles for batches products of M x N x K each split into tasks over
 * n_threads (og_parallel_for's static ranges): the mt x nt (whole
 * micro-kernel panels, or M / N) whose busiest thread has the least work,
 * counting each tile's packing of A and B. Any tiling gives the same bits;
 * this one only sets the speed. */
void og_gemm_tiles(int64_t batches, int64_t m, int64_t n, int64_t k, int n_threads, int64_t *mt, int64_t *nt);
/* The same through a plain matrix B. */
void og_sgemm_mat(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *workspace);

#endif
