/* SPDX-License-Identifier: MIT */
/* limits.c — the process-wide limits of onnxgrad/limits.h. */
#include <stdatomic.h>
#include "internal.h"

typedef struct limit_def {
    int64_t def, max;
} limit_def;

static const limit_def defs[OG_LIMIT_COUNT] = {
    [OG_LIMIT_FILE_BYTES] = { (int64_t)2 << 30, (int64_t)2 << 30 },
    [OG_LIMIT_NESTING_DEPTH] = { 100, 1000 },
    [OG_LIMIT_RANK] = { OG_MAX_RANK, OG_MAX_RANK },
    [OG_LIMIT_TENSOR_ELEMENTS] = { (int64_t)1 << 40, INT64_MAX },
    [OG_LIMIT_PARSE_MEMORY_FACTOR] = { 8, 1 << 20 },
    [OG_LIMIT_PARSE_MEMORY_BASE] = { (int64_t)64 << 20, INT64_MAX },
    [OG_LIMIT_PLAN_BYTES] = { (int64_t)16 << 30, INT64_MAX },
};

static _Atomic int64_t current[OG_LIMIT_COUNT] = {
    (int64_t)2 << 30, 100, OG_MAX_RANK, (int64_t)1 << 40, 8, (int64_t)64 << 20, (int64_t)16 << 30,
};

int64_t og_limit(og_limit_id id, int64_t value)
{
    if ((int)id < 0 || id >= OG_LIMIT_COUNT)
        return -1;
    if (value < 0)
        return atomic_load(&current[id]);
    if (value > defs[id].max)
        value = defs[id].max;
    return atomic_exchange(&current[id], value);
}

void og_limits_reset(void)
{
    for (int k = 0; k < OG_LIMIT_COUNT; k++)
        atomic_store(&current[k], defs[k].def);
}

int64_t og_limit_get(og_limit_id id) { return atomic_load(&current[id]); }

/* The names the CLI and the messages use: the C name, kebab-case. */
static const char *const names[OG_LIMIT_COUNT] = {
    [OG_LIMIT_FILE_BYTES] = "file-bytes",
    [OG_LIMIT_NESTING_DEPTH] = "nesting-depth",
    [OG_LIMIT_RANK] = "rank",
    [OG_LIMIT_TENSOR_ELEMENTS] = "tensor-elements",
    [OG_LIMIT_PARSE_MEMORY_FACTOR] = "parse-memory-factor",
    [OG_LIMIT_PARSE_MEMORY_BASE] = "parse-memory-base",
    [OG_LIMIT_PLAN_BYTES] = "plan-bytes",
};

const char *og_limit_name(og_limit_id id)
{
    return (int)id < 0 || id >= OG_LIMIT_COUNT ? NULL : names[id];
}

int og_limit_find(const char *name)
{
    for (int k = 0; name && k < OG_LIMIT_COUNT; k++) {
        /* "file-bytes", "file_bytes" and "FILE_BYTES" all name the limit */
        const char *a = names[k], *b = name;
        while (*a && *b && (*a == *b || (*a == '-' && *b == '_') || (*a >= 'a' && *a <= 'z' && *b == *a - 32)))
            a++, b++;
        if (!*a && !*b)
            return k;
    }
    return -1;
}

int64_t og_limit_max(og_limit_id id)
{
    return (int)id < 0 || id >= OG_LIMIT_COUNT ? -1 : defs[id].max;
}

og_status og_check_rank_limit(int rank, const char *what)
{
    int64_t max = og_limit_get(OG_LIMIT_RANK);
    if (rank > max)
        return og_err(OG_ERR_LIMIT, "%s: rank %d is over the limit of %lld " OG_LIMIT_HINT("rank", "RANK"), what, rank,
                      (long long)max);
    return OG_OK;
}

og_status og_check_numel_limit(int64_t numel, const char *what)
{
    int64_t max = og_limit_get(OG_LIMIT_TENSOR_ELEMENTS);
    if (numel > max)
        return og_err(OG_ERR_LIMIT, "%s: %lld elements, over the limit of %lld "
                      OG_LIMIT_HINT("tensor-elements", "TENSOR_ELEMENTS"),
                      what, (long long)numel, (long long)max);
    return OG_OK;
}
