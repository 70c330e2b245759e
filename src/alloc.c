/* SPDX-License-Identifier: MIT */
/* alloc.c — the one allocator hook every allocation goes through. */
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "internal.h"

static void *default_alloc(void *user, size_t n) { (void)user; return malloc(n ? n : 1); }
static void *default_realloc(void *user, void *p, size_t n) { (void)user; return realloc(p, n ? n : 1); }
static void default_free(void *user, void *p) { (void)user; free(p); }

static og_allocator hook = { default_alloc, default_realloc, default_free, NULL };

/* Counts failed allocations, so a caller whose callee hides the reason
 * (protobuf-c's unpack returns NULL for bad bytes and for no memory alike)
 * can tell out-of-memory from malformed input. */
static _Thread_local unsigned long failures;

unsigned long og_alloc_failures(void) { return failures; }

static void *counted(void *p)
{
    if (!p)
        failures++;
    return p;
}

/* Every block carries its size in a header, so frees can be accounted:
 * the parse-memory budget below counts live bytes, i.e. the peak a load
 * reaches, not the sum of all it ever asked for. 16 bytes keep malloc's
 * alignment. */
#define HDR 16

/* The parse-memory budget (OG_LIMIT_PARSE_MEMORY_*) of the calling thread.
 * Nested begin/end pairs share the outermost budget. */
static _Thread_local int budget_depth;
static _Thread_local bool budget_hit;
static _Thread_local int64_t budget_left;

void og_alloc_budget_begin(size_t bytes)
{
    if (budget_depth++ == 0) {
        budget_hit = false;
        budget_left = bytes > INT64_MAX ? INT64_MAX : (int64_t)bytes;
    }
}

void og_alloc_budget_grant(size_t bytes)
{
    if (budget_depth > 0)
        budget_left = (uint64_t)budget_left + bytes > INT64_MAX ? INT64_MAX : budget_left + (int64_t)bytes;
}

bool og_alloc_budget_end(void)
{
    bool hit = budget_hit;
    if (budget_depth > 0 && --budget_depth == 0)
        budget_hit = false;
    return hit;
}

/* False (and the budget marked exhausted) when n more bytes do not fit. */
static bool take(size_t n)
{
    if (budget_depth == 0)
        return true;
    if (n > (uint64_t)INT64_MAX || (int64_t)n > budget_left) {
        budget_hit = true;
        return false;
    }
    budget_left -= (int64_t)n;
    return true;
}

static void give_back(size_t n)
{
    if (budget_depth > 0)
        budget_left = budget_left > INT64_MAX - (int64_t)n ? INT64_MAX : budget_left + (int64_t)n;
}

static void *wrap(void *base, size_t n)
{
    if (!base)
        return NULL;
    memcpy(base, &n, sizeof n);
    return (char *)base + HDR;
}

static size_t size_of(const void *p)
{
    size_t n;
    memcpy(&n, (const char *)p - HDR, sizeof n);
    return n;
}

void og_set_allocator(const og_allocator *a)
{
    if (a && a->alloc && a->realloc && a->free)
        hook = *a;
    else
        hook = (og_allocator){ default_alloc, default_realloc, default_free, NULL };
}

void *og_malloc(size_t n)
{
    /* The budget counts the header too: it is memory the load holds. */
    if (n > SIZE_MAX - HDR || !take(n + HDR))
        return counted(NULL);
    void *p = wrap(hook.alloc(hook.user, n + HDR), n);
    if (!p)
        give_back(n + HDR);
    return counted(p);
}

void *og_calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n))
        return counted(NULL);
    void *p = og_malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *og_realloc(void *p, size_t n)
{
    if (!p)
        return og_malloc(n);
    size_t old = size_of(p);
    if (n > SIZE_MAX - HDR || (n > old && !take(n - old)))
        return counted(NULL);
    void *q = wrap(hook.realloc(hook.user, (char *)p - HDR, n + HDR), n);
    if (!q) {
        if (n > old)
            give_back(n - old);
        return counted(NULL);
    }
    if (n < old)
        give_back(old - n);
    return q;
}

void og_free(void *p)
{
    if (!p)
        return;
    give_back(size_of(p) + HDR);
    hook.free(hook.user, (char *)p - HDR);
}

char *og_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = og_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

og_status og_grow(void **arr, int *cap, int need, size_t elem_size)
{
    if (need <= *cap)
        return OG_OK;
    if (need < 0 || need > (1 << 30))
        return og_err(OG_ERR_LIMIT, "array of %d elements is too large", need);
    int ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    size_t bytes;
    if (__builtin_mul_overflow((size_t)ncap, elem_size, &bytes))
        return og_err(OG_ERR_LIMIT, "array of %d elements is too large", need);
    void *p = og_realloc(*arr, bytes);
    if (!p)
        return og_err(OG_ERR_NOMEM, "out of memory growing an array to %d elements", ncap);
    memset((char *)p + (size_t)*cap * elem_size, 0, (size_t)(ncap - *cap) * elem_size);
    *arr = p;
    *cap = ncap;
    return OG_OK;
}

static void *pb_alloc(void *data, size_t n) { (void)data; return og_malloc(n); }
static void pb_free(void *data, void *p) { (void)data; og_free(p); }

static ProtobufCAllocator pb_allocator = { pb_alloc, pb_free, NULL };

struct ProtobufCAllocator *og_protobuf_allocator(void) { return &pb_allocator; }
