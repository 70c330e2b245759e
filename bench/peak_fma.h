/* SPDX-License-Identifier: MIT */
/* peak_fma.h — the FMA loops of og_peak, one per ISA, each compiled with
 * its own -m flags (bench/CMakeLists.txt). Each runs `iters` iterations of
 * PEAK_CHAINS independent vector FMA chains and returns the flops done. */
#ifndef OG_PEAK_FMA_H
#define OG_PEAK_FMA_H
#include <stdint.h>
#define PEAK_CHAINS 12
double peak_fma_avx512(int64_t iters, float *sink);
double peak_fma_avx2(int64_t iters, float *sink);
#endif
