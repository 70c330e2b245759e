/* SPDX-License-Identifier: MIT */
/* onnxgrad/alloc.h — the single allocator hook.
 *
 * Every allocation onnxgrad makes (tensors, graph IR, protobuf-c parse
 * memory, executor buffers) goes through these functions, so a program can
 * count, limit or fail allocations. The default uses malloc/realloc/free. */
#ifndef ONNXGRAD_ALLOC_H
#define ONNXGRAD_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct og_allocator {
    void *(*alloc)(void *user, size_t size);              /* NULL on failure */
    void *(*realloc)(void *user, void *ptr, size_t size); /* NULL on failure, ptr untouched */
    void (*free)(void *user, void *ptr);                  /* ptr may be NULL */
    void *user;
} og_allocator;

/* Installs `a` (copied) for all later allocations; NULL restores the
 * default. Not thread-safe: call it before using the library. Memory must be
 * freed by the allocator that made it, so switch only when nothing
 * allocated by the previous one is alive. */
OG_API void og_set_allocator(const og_allocator *a);

/* Frees memory that an onnxgrad function handed to the caller with the note
 * "free with og_free" (e.g. og_model_save_memory's buffer). */
OG_API void og_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
