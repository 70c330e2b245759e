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

/* The parse-memory budget (OG_LIMIT_PARSE_MEMORY_*): while active, every
 * byte requested counts against it (frees do not give it back, so it
 * bounds the total a load asks for, an upper bound on its peak). */
static _Thread_local bool budget_on, budget_hit;
static _Thread_local size_t budget_left;

void og_alloc_budget_begin(size_t bytes)
{
    budget_on = true;
    budget_hit = false;
    budget_left = bytes;
}

void og_alloc_budget_grant(size_t bytes)
{
    if (budget_on)
        budget_left = budget_left > SIZE_MAX - bytes ? SIZE_MAX : budget_left + bytes;
}

bool og_alloc_budget_end(void)
{
    bool hit = budget_hit;
    budget_on = budget_hit = false;
    return hit;
}

/* False (and the budget marked exhausted) when n bytes do not fit. */
static bool take(size_t n)
{
    if (!budget_on)
        return true;
    if (n > budget_left) {
        budget_hit = true;
        return false;
    }
    budget_left -= n;
    return true;
}

void og_set_allocator(const og_allocator *a)
{
    if (a && a->alloc && a->realloc && a->free)
        hook = *a;
    else
        hook = (og_allocator){ default_alloc, default_realloc, default_free, NULL };
}

void *og_malloc(size_t n) { return counted(take(n) ? hook.alloc(hook.user, n) : NULL); }

void *og_calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n) || !take(n))
        return counted(NULL);
    void *p = counted(hook.alloc(hook.user, n));
    if (p)
        memset(p, 0, n);
    return p;
}

void *og_realloc(void *p, size_t n) { return counted(take(n) ? hook.realloc(hook.user, p, n) : NULL); }

void og_free(void *p)
{
    if (p)
        hook.free(hook.user, p);
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
