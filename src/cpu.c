/* SPDX-License-Identifier: MIT */
/* cpu.c — which instruction set the kernels use: the widest the CPU has,
 * unless OG_ISA names a narrower one. Read once; later changes of the
 * environment do not apply. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"

static og_isa detected(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        return OG_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return OG_ISA_AVX2;
#endif
    return OG_ISA_SCALAR;
}

static const char *const isa_names[] = { "scalar", "avx2", "avx512" };

const char *og_isa_name(og_isa isa) { return isa >= 0 && isa <= OG_ISA_AVX512 ? isa_names[isa] : "?"; }

/* -1: not yet read; then the ISA, or -2 for a bad OG_ISA. */
static _Atomic int chosen = -1;
static char bad_request[64];

static int choose(void)
{
    int c = chosen;
    if (c != -1)
        return c;
    og_isa best = detected();
    const char *want = getenv("OG_ISA");
    int pick = (int)best;
    if (want && *want) {
        pick = -2;
        for (int k = 0; k <= OG_ISA_AVX512; k++)
            if (strcmp(want, isa_names[k]) == 0)
                pick = k <= (int)best ? k : -2;
        if (pick == -2) {
            strncpy(bad_request, want, sizeof bad_request - 1);
        }
    }
    chosen = pick;
    return pick;
}

og_isa og_isa_active(void)
{
    int c = choose();
    return c < 0 ? OG_ISA_SCALAR : (og_isa)c;
}

og_status og_isa_check(void)
{
    if (choose() != -2)
        return OG_OK;
    bool known = false;
    for (int k = 0; k <= OG_ISA_AVX512; k++)
        known = known || strcmp(bad_request, isa_names[k]) == 0;
    if (!known)
        return og_err(OG_ERR_INVALID_ARG, "OG_ISA='%s': expected avx512, avx2 or scalar", bad_request);
    return og_err(OG_ERR_UNSUPPORTED, "OG_ISA='%s': this CPU does not have it (the widest it has is %s)",
                  bad_request, og_isa_name(detected()));
}
