/* SPDX-License-Identifier: MIT */
/* og_peak.c — measures the machine for bench/run.sh: the FMA peak of the
 * widest ISA the CPU has (AVX-512 if it has AVX-512F, else AVX2+FMA; the
 * loops in peak_avx512.c / peak_avx2.c are compiled with their own -m
 * flags), and the streaming bandwidth of a large scale loop
 * (dst[i] = s * src[i], 2 x 256 MiB, read + write counted), each at the
 * thread counts given. Prints one JSON object on stdout.
 *
 *   og_peak [--threads 1,2] [--quick] */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "peak_fma.h"

typedef struct job {
    int tid, nthreads;
    bool fma;               /* else bandwidth */
    bool avx512;
    int64_t iters;
    float *src, *dst;
    size_t n;
    float sink;
    double t0, t1;          /* this thread's start and end */
    pthread_barrier_t *bar;
} job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *worker(void *arg)
{
    job *j = arg;
    pthread_barrier_wait(j->bar);
    j->t0 = now_s();
    if (j->fma) {
        j->sink = 0;
        if (j->avx512)
            peak_fma_avx512(j->iters, &j->sink);
        else
            peak_fma_avx2(j->iters, &j->sink);
    } else {
        size_t lo = j->n * (size_t)j->tid / (size_t)j->nthreads, hi = j->n * (size_t)(j->tid + 1) / (size_t)j->nthreads;
        float *restrict d = j->dst;
        const float *restrict s = j->src;
        for (size_t i = lo; i < hi; i++)
            d[i] = 1.0001f * s[i];
        j->sink = d[lo];
    }
    j->t1 = now_s();
    pthread_barrier_wait(j->bar);
    return NULL;
}

/* Runs the job on T threads; wall seconds from the first thread's start to
 * the last one's end, as the threads saw them. (Timed from this waiting
 * thread instead, with T threads on T cores it could wake after the work
 * had begun: 2-thread bandwidths of 2 x 256 MiB read up to 220 GB/s where
 * the threads themselves saw 70.) */
static double run_threads(int T, job proto)
{
    pthread_t th[64];
    job jobs[64];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)T + 1);
    for (int t = 0; t < T; t++) {
        jobs[t] = proto;
        jobs[t].tid = t;
        jobs[t].nthreads = T;
        jobs[t].bar = &bar;
        pthread_create(&th[t], NULL, worker, &jobs[t]);
    }
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&bar);
    double t0 = jobs[0].t0, t1 = jobs[0].t1;
    for (int t = 1; t < T; t++) {
        t0 = jobs[t].t0 < t0 ? jobs[t].t0 : t0;
        t1 = jobs[t].t1 > t1 ? jobs[t].t1 : t1;
    }
    return t1 - t0;
}

int main(int argc, char **argv)
{
    int threads[16], nth = 0;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            quick = true;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            char *s = argv[++i];
            for (char *tok = strtok(s, ","); tok && nth < 16; tok = strtok(NULL, ","))
                if (atoi(tok) >= 1 && atoi(tok) <= 64)
                    threads[nth++] = atoi(tok);
        } else {
            fprintf(stderr, "usage: og_peak [--threads 1,2] [--quick]\n");
            return 2;
        }
    }
    if (!nth) {
        threads[0] = 1, threads[1] = 2;
        nth = 2;
    }
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f");
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!avx512 && !avx2) {
        printf("{\"isa\": \"none\", \"error\": \"the CPU has neither AVX-512F nor AVX2+FMA\"}\n");
        return 0;
    }
    const int reps = quick ? 2 : 4;
    size_t n = (size_t)64 << 20;     /* floats: 256 MiB per array */
    float *src = malloc(n * sizeof *src), *dst = malloc(n * sizeof *dst);
    if (!src || !dst) {
        fprintf(stderr, "og_peak: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        src[i] = (float)(i & 1023), dst[i] = 0;

    printf("{\"isa\": \"%s\", \"fma_chains\": %d, \"peak_gflops\": {", avx512 ? "avx512" : "avx2", PEAK_CHAINS);
    /* calibrate: ~0.25 s (quick: 0.1 s) per thread at one thread */
    job fj = { .fma = true, .avx512 = avx512, .iters = 1 << 20 };
    double t = run_threads(1, fj);
    double target = quick ? 0.1 : 0.25;
    fj.iters = (int64_t)((double)fj.iters * target / (t > 1e-6 ? t : 1e-6));
    if (fj.iters < 1000)
        fj.iters = 1000;
    double flops_per_thread = (double)fj.iters * PEAK_CHAINS * (avx512 ? 16 : 8) * 2;
    for (int k = 0; k < nth; k++) {
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double s = run_threads(threads[k], fj);
            if (s < best)
                best = s;
        }
        printf("%s\"%d\": %.2f", k ? ", " : "", threads[k], flops_per_thread * threads[k] / best * 1e-9);
    }
    printf("}, \"bw_gbs\": {");
    job bj = { .fma = false, .src = src, .dst = dst, .n = n };
    for (int k = 0; k < nth; k++) {
        double best = 1e30;
        run_threads(threads[k], bj);
        for (int r = 0; r < reps; r++) {
            double s = run_threads(threads[k], bj);
            if (s < best)
                best = s;
        }
        printf("%s\"%d\": %.2f", k ? ", " : "", threads[k], 2.0 * n * sizeof(float) / best * 1e-9);
    }
    printf("}, \"bw_kernel\": \"scale dst=s*src, 2 x %zu MiB, read+write counted\"}\n", n * sizeof(float) >> 20);
    free(src);
    free(dst);
    return 0;
}
