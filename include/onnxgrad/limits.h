/* SPDX-License-Identifier: MIT */
/* onnxgrad/limits.h — run-time limits on what a file or a graph may ask for.
 *
 * Like sqlite3_limit: every limit has a safe default and can be lowered (or
 * raised up to a hard maximum) by the program. Limits are process-wide and
 * read atomically; set them before loading. Exceeding one gives
 * OG_ERR_LIMIT with a message naming the limit (kebab-case, as the CLI's
 * --limit NAME=N and the OG_LIMIT_<NAME>=N environment variables spell it),
 * the value asked for, the limit in force and how to raise it.
 *
 *     og_limit(OG_LIMIT_FILE_BYTES, 64 << 20);   // refuse files over 64 MiB
 *     int64_t old = og_limit(OG_LIMIT_PLAN_BYTES, -1);  // read only */
#ifndef ONNXGRAD_LIMITS_H
#define ONNXGRAD_LIMITS_H

#include <stdint.h>
#include "onnxgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum og_limit_id {
    /* Largest .onnx / .pb file or in-memory buffer decoded. Default and
     * hard maximum 2 GiB, the most protobuf can describe. External data
     * files are not counted here (their tensors are bounded by
     * OG_LIMIT_TENSOR_ELEMENTS). */
    OG_LIMIT_FILE_BYTES = 0,
    /* Deepest protobuf message nesting (the top-level message is depth 1;
     * training_info graphs sit one level deeper than the main graph).
     * Default 100, hard maximum 1000. */
    OG_LIMIT_NESTING_DEPTH = 1,
    /* Largest tensor rank. Default and hard maximum 32 (OG_MAX_RANK). */
    OG_LIMIT_RANK = 2,
    /* Most elements in one tensor: initializers, run inputs and every
     * inferred shape. Default 2^40. */
    OG_LIMIT_TENSOR_ELEMENTS = 3,
    /* Memory a load may allocate, counted through the allocator hook:
     * PARSE_MEMORY_FACTOR * (file size) + PARSE_MEMORY_BASE bytes.
     * Defaults 8 and 64 MiB. */
    OG_LIMIT_PARSE_MEMORY_FACTOR = 4,
    OG_LIMIT_PARSE_MEMORY_BASE = 5,
    /* Memory budget of one plan: the largest sum of tensors alive at once
     * while running (inputs, intermediates, outputs) plus kernel workspace.
     * Checked by og_plan_create when every shape is known, else by
     * og_plan_run before the first kernel runs. Default 16 GiB. */
    OG_LIMIT_PLAN_BYTES = 6,
    OG_LIMIT_COUNT = 7
} og_limit_id;

/* Sets limit `id` to `value` when value >= 0 (clamped to the limit's hard
 * maximum) and returns the previous value; a negative value only reads it.
 * Returns -1 for an unknown id. */
OG_API int64_t og_limit(og_limit_id id, int64_t value);

/* The limit's name in kebab-case ("file-bytes" for OG_LIMIT_FILE_BYTES), a
 * static string; NULL for an unknown id. */
OG_API const char *og_limit_name(og_limit_id id);

/* The id of a limit named "file-bytes", "file_bytes" or "FILE_BYTES"; -1
 * for a name that is no limit's. */
OG_API int og_limit_find(const char *name);

/* The hard maximum a limit is clamped to; -1 for an unknown id. */
OG_API int64_t og_limit_max(og_limit_id id);

/* Restores every limit to its default. */
OG_API void og_limits_reset(void);

#ifdef __cplusplus
}
#endif
#endif
