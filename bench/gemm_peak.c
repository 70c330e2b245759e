/* SPDX-License-Identifier: MIT */
/* gemm_peak.c — GFLOP/s of og_sgemm on a few shapes against the core's FMA
 * peak (one thread). Not part of the test suite. Build after the library:
 *   gcc -O2 -std=c11 -Isrc -Iinclude bench/gemm_peak.c build/libonnxgrad.a -lprotobuf-c -lopenblas -lm -lpthread -o build/gemm_peak
 * Run: build/gemm_peak [avx512|avx2|scalar] [reps] [shape-name-filter]. Times are this thread's CPU time, best of reps. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernel.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);   /* CPU time: other jobs on the machine steal less of it */
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#if defined(__x86_64__)
#include <immintrin.h>
/* 12 independent FMA chains (latency 4 x 2 pipes needs >= 8), in named
 * variables so they stay in registers. */
#define FMA12(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11)
#define DECL(i) __m512 x##i = _mm512_set1_ps((float)i);
#define STEP(i) x##i = _mm512_fmadd_ps(x##i, m, a);
#define SUM(i) s = _mm512_add_ps(s, x##i);
__attribute__((target("avx512f,fma"))) static double peak_avx512(void)
{
    __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f), s = _mm512_setzero_ps();
    FMA12(DECL)
    const long rounds = 20000000;
    double t = now();
    for (long r = 0; r < rounds; r++) {
        FMA12(STEP)
        __asm__ volatile("" ::: "memory");
    }
    t = now() - t;
    FMA12(SUM)
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return 12.0 * rounds * 16 * 2 / t * 1e-9;
}
#define DECL2(i) __m256 y##i = _mm256_set1_ps((float)i);
#define STEP2(i) y##i = _mm256_fmadd_ps(y##i, m, a);
#define SUM2(i) s = _mm256_add_ps(s, y##i);
__attribute__((target("avx2,fma"))) static double peak_avx2(void)
{
    __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f), s = _mm256_setzero_ps();
    FMA12(DECL2)
    const long rounds = 20000000;
    double t = now();
    for (long r = 0; r < rounds; r++) {
        FMA12(STEP2)
        __asm__ volatile("" ::: "memory");
    }
    t = now() - t;
    FMA12(SUM2)
    float out[8];
    _mm256_storeu_ps(out, s);
    volatile float sink = out[0];
    (void)sink;
    return 12.0 * rounds * 8 * 2 / t * 1e-9;
}
#endif

static float *randm(size_t n)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)rand() / RAND_MAX - 0.5f;
    return p;
}

static const char *only;   /* argv[3]: run only shapes whose name contains it */

/* op(A) op(B) cut into mt x nt tiles, one og_sgemm call each, as the
 * MatMul and Gemm kernels run it (mt = M, nt = N: one call). */
static void tiled_t(const char *name, bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t mt, int64_t nt,
                    int reps, void *ws)
{
    if (only && !strstr(name, only))
        return;
    float *A = randm((size_t)(M * K)), *B = randm((size_t)(K * N)), *C = randm((size_t)(M * N));
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = now();
        for (int64_t i0 = 0; i0 < M; i0 += mt)
            for (int64_t j0 = 0; j0 < N; j0 += nt)
                og_sgemm_mat(ta, tb, M - i0 < mt ? M - i0 : mt, N - j0 < nt ? N - j0 : nt, K, 1.0f,
                             ta ? A + i0 : A + i0 * lda, lda, tb ? B + j0 * ldb : B + j0, ldb, 0.0f,
                             C + i0 * N + j0, N, ws);
        t = now() - t;
        if (t < best)
            best = t;
    }
    printf("%-28s M=%5ld N=%5ld K=%5ld  %7.1f GFLOP/s  (%.3f ms", name, (long)M, (long)N, (long)K,
           2.0 * M * N * K / best * 1e-9, best * 1e3);
    if (mt < M || nt < N)
        printf(", tiles %ldx%ld", (long)mt, (long)nt);
    printf(")\n");
    free(A);
    free(B);
    free(C);
}

static void shape(const char *name, bool ta, bool tb, int64_t M, int64_t N, int64_t K, int reps, void *ws)
{
    tiled_t(name, ta, tb, M, N, K, M, N, reps, ws);
}

static void tiled(const char *name, int64_t M, int64_t N, int64_t K, int64_t mt, int64_t nt, int reps, void *ws)
{
    tiled_t(name, false, false, M, N, K, mt, nt, reps, ws);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        og_isa want = strcmp(argv[1], "scalar") == 0 ? OG_ISA_SCALAR
                      : strcmp(argv[1], "avx2") == 0 ? OG_ISA_AVX2 : OG_ISA_AVX512;
        if (!og_gemm_force_isa(want)) {
            fprintf(stderr, "this CPU lacks %s\n", argv[1]);
            return 1;
        }
    }
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    only = argc > 3 ? argv[3] : NULL;
    void *ws = aligned_alloc(64, (og_gemm_workspace_bytes() + 63) / 64 * 64);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        printf("AVX-512 FMA peak, 1 core: %.1f GFLOP/s\n", peak_avx512());
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("AVX2 FMA peak, 1 core: %.1f GFLOP/s\n", peak_avx2());
#endif
    printf("og_sgemm kernel: %s (NR %d, workspace %zu KiB)\n", og_isa_name(og_gemm_isa()), og_gemm_nr(),
           og_gemm_workspace_bytes() / 1024);
    shape("square", false, false, 1024, 1024, 1024, reps, ws);
    shape("tf linear2 1024x256x1024", false, false, 1024, 256, 1024, reps, ws);
    shape("tf linear2 B^T", false, true, 1024, 256, 1024, reps, ws);
    shape("tf dW^T 256x1024x1024 A^T", true, false, 256, 1024, 1024, reps, ws);
    shape("tf dW 1024x256x1024 A^T", true, false, 1024, 256, 1024, reps, ws);
    shape("tf dW 1024x256x1024 A^T B^T", true, true, 1024, 256, 1024, reps, ws);
    shape("tf linear1 1024x1024x256", false, false, 1024, 1024, 256, reps, ws);
    shape("tf inproj 1024x768x256", false, false, 1024, 768, 256, reps, ws);
    tiled("tf linear2 tiled", 1024, 256, 1024, 192, 144, reps, ws);
    tiled("tf linear2 tiled 96xN", 1024, 256, 1024, 96, 256, reps, ws);
    tiled("tf linear2 tiled 192xN", 1024, 256, 1024, 192, 256, reps, ws);
    tiled("tf linear2 tiled 512xN", 1024, 256, 1024, 512, 256, reps, ws);
    tiled("tf linear1 tiled", 1024, 1024, 256, 192, 144, reps, ws);
    tiled("tf linear1 tiled 192x480", 1024, 1024, 256, 192, 480, reps, ws);
    tiled("tf linear1 tiled 96x1024", 1024, 1024, 256, 96, 1024, reps, ws);
    shape("tf qk 128x128x32", false, false, 128, 128, 32, reps, ws);
    shape("tf av 128x32x128", false, false, 128, 32, 128, reps, ws);
    shape("conv 64x3136x576", false, false, 64, 3136, 576, reps, ws);
    shape("conv 64x576x3136", false, false, 64, 576, 3136, reps, ws);
    shape("fc 16x4096x9216", false, false, 16, 4096, 9216, reps, ws);
    shape("fc 16x4096x9216 B^T", false, true, 16, 4096, 9216, reps, ws);
    shape("fc 64x1000x512", false, false, 64, 1000, 512, reps, ws);
    shape("fc 64x1000x512 B^T", false, true, 64, 1000, 512, reps, ws);
    shape("64x3136x576 A^T", true, false, 64, 3136, 576, reps, ws);
    shape("conv 16x784x25", false, false, 16, 784, 25, reps, ws);
    shape("conv 32x784x4608", false, false, 32, 784, 4608, reps, ws);
    free(ws);
    return 0;
}
