/* SPDX-License-Identifier: MIT */
/* gemm.c — the deterministic GEMM of kernel.h, BLIS/Goto style: B is
 * packed in KC x NC blocks (NR columns interleaved), A in MC x KC blocks
 * (MR rows interleaved), and an MR x NR register-tile micro-kernel sweeps
 * them. The SIMD micro-kernels live in gemm_avx2.c / gemm_avx512.c; this
 * file holds the driver, the portable packers and the scalar kernel.
 *
 * Why the results do not depend on M, N or position: the k blocks start
 * at multiples of OG_GEMM_KC whatever the call, every tile (edge tiles
 * too) runs the same micro-kernel over the same k order on zero-padded
 * panels, and only the store is masked. */
#include <stdatomic.h>
#include <string.h>
#include "gemm_impl.h"

#define KC OG_GEMM_KC

/* ---- portable packers ---------------------------------------------------- */

/* Constant mr / nr after inlining, so the copies vectorise. A is [M x K]:
 * a transpose; k in chunks so the reads stay sequential per row. (A stored
 * [K x M] is packed a block at a time by pack_a_trans_block.) */
static inline void pack_a_t(const int mr, const float *A, int64_t lda, int m, int64_t kc, float *dst)
{
    for (int64_t k0 = 0; k0 < kc; k0 += 64) {
        int64_t k1 = kc - k0 < 64 ? kc : k0 + 64;
        for (int r = 0; r < mr; r++) {
            if (r < m) {
                const float *src = A + r * lda;
                for (int64_t k = k0; k < k1; k++)
                    dst[k * mr + r] = src[k];
            } else {
                for (int64_t k = k0; k < k1; k++)
                    dst[k * mr + r] = 0;
            }
        }
    }
}

void og_gemm_pack_a_generic(int mr, const float *A, int64_t lda, int m, int64_t kc, float *dst)
{
    switch (mr) {
    case 4: pack_a_t(4, A, lda, m, kc, dst); break;
    case 6: pack_a_t(6, A, lda, m, kc, dst); break;
    case 8: pack_a_t(8, A, lda, m, kc, dst); break;
    default: pack_a_t(mr, A, lda, m, kc, dst); break;
    }
}

static inline void pack_b_t(const int nr, const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                            float *dst)
{
    const int64_t ld = b->ld;
    if (!b->trans) {   /* row k of the block is contiguous: one sweep across all panels */
        const int64_t full = nc / nr * nr;
        const int w = (int)(nc - full);
        for (int64_t k = 0; k < kc; k++) {
            const float *s = b->data + (k0 + k) * ld + j0;
            float *d = dst + k * nr;
            int64_t jp = 0;
            for (; jp < full; jp += nr, d += kc * nr)
                memcpy(d, s + jp, (size_t)nr * sizeof(float));
            if (w) {
                int c = 0;
                for (; c < w; c++)
                    d[c] = s[jp + c];
                for (; c < nr; c++)
                    d[c] = 0;
            }
        }
        return;
    }
    /* B stored [N x K]: transpose in k chunks that stay in L1 */
    for (int64_t jp = 0; jp < nc; jp += nr) {
        float *panel = dst + (jp / nr) * kc * nr;
        int w = nc - jp < nr ? (int)(nc - jp) : nr;
        const float *src = b->data + (j0 + jp) * ld + k0;
        for (int64_t kb = 0; kb < kc; kb += 16) {
            int64_t ke = kc - kb < 16 ? kc : kb + 16;
            for (int c = 0; c < nr; c++) {
                if (c < w) {
                    const float *s = src + c * ld;
                    for (int64_t k = kb; k < ke; k++)
                        panel[k * nr + c] = s[k];
                } else {
                    for (int64_t k = kb; k < ke; k++)
                        panel[k * nr + c] = 0;
                }
            }
        }
    }
}

void og_gemm_pack_b_generic(int nr, const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst)
{
    switch (nr) {
    case 16: pack_b_t(16, b, k0, kc, j0, nc, dst); break;
    case 48: pack_b_t(48, b, k0, kc, j0, nc, dst); break;
    case 64: pack_b_t(64, b, k0, kc, j0, nc, dst); break;
    default: pack_b_t(nr, b, k0, kc, j0, nc, dst); break;
    }
}

/* ---- scalar micro-kernel: 4 x 16, plain C (no FMA: mul then add) --------- */

#define SMR 4
#define SNR 16

static void scalar_kernel(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int m, int n,
                          float alpha, float beta, int mode)
{
    float acc[SMR][SNR] = { { 0 } };
    for (int64_t k = 0; k < kc; k++) {
        const float *bk = b + k * SNR;
        for (int r = 0; r < SMR; r++) {
            float av = a[k * SMR + r];
            for (int j = 0; j < SNR; j++)
                acc[r][j] += av * bk[j];
        }
    }
    for (int r = 0; r < m; r++) {
        float *cr = c + r * ldc;
        for (int j = 0; j < n; j++) {
            float t = alpha * acc[r][j];
            cr[j] = mode == OG_GEMM_FIRST0 ? t : mode == OG_GEMM_FIRST ? t + beta * cr[j] : t + cr[j];
        }
    }
}

static void scalar_pack_a(const float *A, int64_t lda, int m, int64_t kc, float *dst)
{
    pack_a_t(SMR, A, lda, m, kc, dst);
}

static void scalar_pack_b(const og_gemm_b *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst)
{
    pack_b_t(SNR, b, k0, kc, j0, nc, dst);
}

/* Blocking (measured on Zen 5); the workspace is sized for the largest. */
#define MC 64
#define NC 480
#define NC_LARGE 480
_Static_assert(MC % SMR == 0 && MC <= OG_GEMM_MC_MAX && NC % SNR == 0 && NC <= OG_GEMM_NC_MAX &&
                   NC_LARGE % SNR == 0 && NC_LARGE <= OG_GEMM_NC_MAX, "GEMM blocking");

static const og_gemm_impl scalar_impl = {
    .isa = OG_ISA_SCALAR, .mr = SMR, .nr = SNR, .mc = MC, .nc = NC, .nc_large = NC_LARGE,
    .kernel = scalar_kernel, .pack_a = scalar_pack_a, .pack_b = scalar_pack_b,
};

/* ---- choice of kernel ------------------------------------------------------ */

static bool cpu_has(og_isa isa)
{
    if (isa == OG_ISA_SCALAR)
        return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == OG_ISA_AVX2)
        return avx2;
    if (isa == OG_ISA_AVX512)
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
    return false;
}

static const og_gemm_impl *impl_for(og_isa isa)
{
    const og_gemm_impl *p = NULL;
    if (isa == OG_ISA_AVX512)
        p = og_gemm_impl_avx512();
    if (!p && isa >= OG_ISA_AVX2)
        p = og_gemm_impl_avx2();
    return p ? p : &scalar_impl;
}

/* Chosen once (a benign race: every thread would pick the same). */
static _Atomic(const og_gemm_impl *) chosen;

static const og_gemm_impl *impl(void)
{
    const og_gemm_impl *p = atomic_load_explicit(&chosen, memory_order_acquire);
    if (!p) {
        p = impl_for(og_isa_active());
        atomic_store_explicit(&chosen, p, memory_order_release);
    }
    return p;
}

bool og_gemm_force_isa(og_isa isa)
{
    if (isa < OG_ISA_SCALAR || isa > OG_ISA_AVX512 || !cpu_has(isa))
        return false;
    const og_gemm_impl *p = impl_for(isa);
    if (p->isa != isa)
        return false;
    atomic_store_explicit(&chosen, p, memory_order_release);
    return true;
}

og_isa og_gemm_isa(void) { return impl()->isa; }

int og_gemm_nr(void) { return impl()->nr; }

size_t og_gemm_workspace_bytes(void)
{
    return (size_t)(OG_GEMM_MC_MAX + OG_GEMM_NC_MAX) * KC * sizeof(float) + 64;
}

/* ---- the driver -------------------------------------------------------------- */

/* The plain-matrix B block the driver packs next, as runs of memory:
 * rows of B (or of B^T) at stride ld. Packing reads them with a large
 * stride, which the hardware prefetcher follows poorly; so while the
 * kernels run on the current block, the next block's runs are prefetched
 * bit by bit, and for skinny M (B used once, memory-bound) its reading
 * overlaps the arithmetic instead of adding to it. */
typedef struct next_b {
    const char *base;
    int64_t n_runs, run_bytes, stride_bytes;
    int64_t done;   /* runs prefetched so far */
} next_b;

static void next_b_plan(next_b *nb, const og_gemm_b *B, int64_t K, int64_t N, int64_t pc, int64_t jc, int64_t nc_blk)
{
    nb->n_runs = 0;
    nb->done = 0;
    if (B->pack || pc >= K || jc >= N)
        return;
    int64_t kc = K - pc < KC ? K - pc : KC, nc = N - jc < nc_blk ? N - jc : nc_blk;
    nb->stride_bytes = B->ld * (int64_t)sizeof(float);
    if (B->trans) {
        nb->base = (const char *)(B->data + jc * B->ld + pc);
        nb->n_runs = nc;
        nb->run_bytes = kc * (int64_t)sizeof(float);
    } else {
        nb->base = (const char *)(B->data + pc * B->ld + jc);
        nb->n_runs = kc;
        nb->run_bytes = nc * (int64_t)sizeof(float);
    }
}

/* Prefetches runs up to fraction step/steps of the next block. */
static void next_b_advance(next_b *nb, int64_t step, int64_t steps)
{
    int64_t upto = nb->n_runs * step / steps;
    for (; nb->done < upto; nb->done++) {
        const char *r = nb->base + nb->done * nb->stride_bytes;
        for (int64_t o = 0; o < nb->run_bytes; o += 64)
            __builtin_prefetch(r + o, 0, 2);
        __builtin_prefetch(r + nb->run_bytes - 1, 0, 2);
    }
}


int og_gemm_mr(void) { return impl()->mr; }

/* A stored [K x M] (trans_a): the mc rows of op(A) of all the block's
 * micro-panels from each row of A at once, one contiguous run per k. Panel
 * by panel, the reads would take half a cache line per row of A, rows lda
 * apart; at lda = 4 KiB they alias in L1 and each line is fetched twice. */
static void pack_a_trans_block(int mr, const float *A, int64_t lda, int64_t mc, int64_t kc, float *dst)
{
    for (int64_t k = 0; k < kc; k++) {
        const float *src = A + k * lda;
        for (int64_t ir = 0; ir < mc; ir += mr) {
            float *d = dst + ir * kc + k * mr;
            int m = mc - ir < mr ? (int)(mc - ir) : mr, r = 0;
            for (; r < m; r++)
                d[r] = src[ir + r];
            for (; r < mr; r++)
                d[r] = 0;
        }
    }
}

/* The driver; Ap: A already in the packed form, rows [ap_m0, ap_m0 + M)
 * of a packed matrix of ap_rows rows (A and lda unused). */
static void sgemm(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *Ap, int64_t ap_rows, int64_t ap_m0, const og_gemm_b *B, float beta, float *C,
                  int64_t ldc, void *workspace)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return;
    }
    const og_gemm_impl *im = impl();
    const int mr = im->mr, nr = im->nr;
    float *bp = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    float *ap = bp + (size_t)OG_GEMM_NC_MAX * KC;   /* NC_MAX * KC * 4 is a multiple of 64 */

    /* Blocks of B in order: for skinny M (one A block) k-block outer, so
     * the A block is packed once per k block and consecutive B blocks are
     * neighbouring pieces of the same rows of B; else (and for B^T, whose
     * rows run along k) column block outer, as Goto has it. Either way
     * every C element sees its k blocks in ascending order. */
    const bool k_outer = M <= im->mc && !(B->pack == NULL && B->trans);
    /* Wider B blocks when A is repacked for each of them (measured). */
    const int64_t ncb = k_outer ? im->nc : im->nc_large;
    const int64_t nj = (N + ncb - 1) / ncb, np = (K + KC - 1) / KC;
    int64_t packed_pc = -1;
    for (int64_t t = 0; t < nj * np; t++) {
        int64_t pi = k_outer ? t / nj : t % np, ji = k_outer ? t % nj : t / np;
        int64_t pc = pi * KC, jc = ji * ncb;
        int64_t kc = K - pc < KC ? K - pc : KC, nc = N - jc < ncb ? N - jc : ncb;
        if (B->pack)
            B->pack(B->ctx, pc, kc, jc, nc, nr, bp);
        else
            im->pack_b(B, pc, kc, jc, nc, bp);
        int mode = pc > 0 ? OG_GEMM_ACCUM : beta == 0 ? OG_GEMM_FIRST0 : OG_GEMM_FIRST;
        next_b nb = { 0 };
        if (t + 1 < nj * np) {
            int64_t t1 = t + 1;
            next_b_plan(&nb, B, K, N, (k_outer ? t1 / nj : t1 % np) * KC, (k_outer ? t1 % nj : t1 / np) * ncb,
                        ncb);
        }
        const int64_t steps = (M + mr - 1) / mr;   /* one prefetch slice per A micro-panel */
        int64_t step = 0;
        for (int64_t ic = 0; ic < M; ic += im->mc) {
            int64_t mc = M - ic < im->mc ? M - ic : im->mc;
            const float *apb = ap;   /* this block's packed rows */
            if (Ap) {
                int64_t mp = (ap_rows + mr - 1) / mr * mr;
                apb = Ap + pc * mp + (ap_m0 + ic) * kc;
            } else if (!(k_outer && packed_pc == pc)) {
                if (trans_a) {
                    pack_a_trans_block(mr, A + pc * lda + ic, lda, mc, kc, ap);
                } else {
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int m = mc - ir < mr ? (int)(mc - ir) : mr;
                        im->pack_a(A + (ic + ir) * lda + pc, lda, m, kc, ap + ir * kc);
                    }
                }
                packed_pc = pc;
            }
            /* A micro-panel (MR x KC, 8 KiB) stays in L1 while the B block
             * streams from L2 under it (measured a little faster than the
             * other way round). */
            for (int64_t ir = 0; ir < mc; ir += mr) {
                int m = mc - ir < mr ? (int)(mc - ir) : mr;
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int n = nc - jr < nr ? (int)(nc - jr) : nr;
                    im->kernel(kc, apb + ir * kc, bp + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc, m, n, alpha, beta,
                               mode);
                }
                if (nb.n_runs)
                    next_b_advance(&nb, ++step, steps);
            }
        }
    }
}

/* Work of one tile call in FLOP-equivalents: the products, each packed
 * float of A and B (measured about 16 FLOPs' time on Zen 5: packing
 * reads with strides and writes the panels), and A packed again per B
 * block of nc_large columns when the tile has more rows than one A block. */
static double tile_work(const og_gemm_impl *im, int64_t mt, int64_t nt, int64_t k)
{
    int64_t a_reps = mt <= im->mc ? 1 : (nt + im->nc_large - 1) / im->nc_large;
    return 2.0 * mt * nt * k + 16.0 * ((double)mt * k * a_reps + (double)k * nt) + 20000.0;
}

void og_gemm_tiles(int64_t batches, int64_t m, int64_t n, int64_t k, int n_threads, int64_t *mt, int64_t *nt)
{
    const og_gemm_impl *im = impl();
    const int64_t mr = im->mr, nr = im->nr;
    if (n_threads < 1)
        n_threads = 1;
    if (batches < 1)
        batches = 1;
    double best = -1;
    *mt = m;
    *nt = n;
    /* tm row tiles of whole micro-panels, tn column tiles of whole panels */
    for (int64_t tm = 1; tm <= 64 && (tm == 1 || (tm - 1) * mr < m); tm++) {
        int64_t rows = ((m + tm - 1) / tm + mr - 1) / mr * mr;
        if (rows > m)
            rows = m;
        if (tm > 1 && (m + rows - 1) / rows != tm)
            continue;   /* the same tiling as a smaller tm */
        for (int64_t tn = 1; tn <= 64 && (tn == 1 || (tn - 1) * nr < n); tn++) {
            int64_t cols = ((n + tn - 1) / tn + nr - 1) / nr * nr;
            if (cols > n)
                cols = n;
            if (tn > 1 && (n + cols - 1) / cols != tn)
                continue;
            int64_t tasks = batches * tm * tn, per = (tasks + n_threads - 1) / n_threads;
            double w = (double)per * tile_work(im, rows, cols, k);
            if (best < 0 || w < best) {
                best = w;
                *mt = rows;
                *nt = cols;
            }
        }
    }
}

void og_sgemm(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const og_gemm_b *B, float beta, float *C, int64_t ldc, void *workspace)
{
    sgemm(trans_a, M, N, K, alpha, A, lda, NULL, 0, 0, B, beta, C, ldc, workspace);
}

void og_sgemm_packed(int64_t rows, int64_t m0, int64_t M, int64_t N, int64_t K, float alpha, const float *Ap,
                     const og_gemm_b *B, float beta, float *C, int64_t ldc, void *workspace)
{
    sgemm(false, M, N, K, alpha, NULL, 0, Ap, rows, m0, B, beta, C, ldc, workspace);
}

void og_sgemm_mat(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *workspace)
{
    og_gemm_b b = { .data = B, .ld = ldb, .trans = trans_b };
    og_sgemm(trans_a, M, N, K, alpha, A, lda, &b, beta, C, ldc, workspace);
}
