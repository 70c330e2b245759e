/* SPDX-License-Identifier: MIT */
/* elementwise.h — what the elementwise families (ops/unary.c, ops/binary.c,
 * ops/variadic.c) share: declared type constraints with one uniform check,
 * the dtype sets, the per-dtype loop generators and the chunked, threaded
 * launch. Private to ops/. */
#ifndef OG_OPS_ELEMENTWISE_H
#define OG_OPS_ELEMENTWISE_H

#include <stdint.h>
#include "internal.h"
#include "kernel.h"

/* ---- type constraints --------------------------------------------------
 * A list of groups, each a set of dtypes allowed from opset `since` (to
 * `until` inclusive, 0: still allowed), ended by a group with mask 0.
 * `what` names the group for the message when a type comes too early
 * ("8- and 16-bit integers"). */
#define EW_T(t) (1u << (t))
#define EW_F (EW_T(OG_FLOAT) | EW_T(OG_DOUBLE))
#define EW_SI (EW_T(OG_INT8) | EW_T(OG_INT16) | EW_T(OG_INT32) | EW_T(OG_INT64))
#define EW_UI (EW_T(OG_UINT8) | EW_T(OG_UINT16) | EW_T(OG_UINT32) | EW_T(OG_UINT64))
#define EW_I (EW_SI | EW_UI)
#define EW_SMALLI (EW_T(OG_INT8) | EW_T(OG_INT16) | EW_T(OG_UINT8) | EW_T(OG_UINT16))
#define EW_I32_64 (EW_T(OG_INT32) | EW_T(OG_INT64))
#define EW_B EW_T(OG_BOOL)
#define EW_NDT 17   /* dtype enum values 0..16 */

typedef struct ew_types {
    uint32_t mask;
    int since, until;
    const char *what;
} ew_types;

/* The uniform check of one input's dtype against `types` at `opset`:
 * OG_OK for an allowed or unknown (OG_UNDEFINED) type; OG_ERR_UNSUPPORTED
 * for float16/bfloat16/string ("... which onnxgrad cannot hold");
 * OG_ERR_SHAPE otherwise, listing what the opset allows:
 *   "node 'n' (Op): input A 'a' has type uint8, expected float, double,
 *    int32, int64, uint32 or uint64 at opset 13 (8- and 16-bit integers
 *    need opset >= 14)" */
og_status ew_check_type(const og_node *node, int opset, const ew_types *types, const char *role, const char *name,
                        og_dtype t);
bool ew_type_allowed(const ew_types *types, int opset, og_dtype t);
/* Softmax's row in the same vector code (ops/unary_vec.h): *max of x
 * (false if some x is NaN or infinite); y = e^(x - shift) and *sum their
 * sum in a fixed lane order; y = x / d. false, touching nothing, when the
 * ISA has no vector kernel. x == y allowed. */
bool og_rowmax_f32_vec(const float *x, int64_t n, float *max);
bool og_expsum_f32_vec(const float *x, float shift, float *y, int64_t n, float *sum);
bool og_divs_f32_vec(const float *x, float d, float *y, int64_t n);

/* ---- loops --------------------------------------------------------------
 * The generators below define one loop per dtype from one expression, with
 * T the element type and U its unsigned twin (integer arithmetic that may
 * overflow goes through U, so it wraps instead of being undefined). */
#define EW_EACH_F(M, ...) M(f32, float, float, __VA_ARGS__) M(f64, double, double, __VA_ARGS__)
#define EW_EACH_SI(M, ...)                                                                          \
    M(i8, int8_t, uint8_t, __VA_ARGS__) M(i16, int16_t, uint16_t, __VA_ARGS__)                      \
    M(i32, int32_t, uint32_t, __VA_ARGS__) M(i64, int64_t, uint64_t, __VA_ARGS__)
#define EW_EACH_UI(M, ...)                                                                          \
    M(u8, uint8_t, uint8_t, __VA_ARGS__) M(u16, uint16_t, uint16_t, __VA_ARGS__)                    \
    M(u32, uint32_t, uint32_t, __VA_ARGS__) M(u64, uint64_t, uint64_t, __VA_ARGS__)
#define EW_EACH_I(M, ...) EW_EACH_SI(M, __VA_ARGS__) EW_EACH_UI(M, __VA_ARGS__)
#define EW_EACH_ALL(M, ...) EW_EACH_F(M, __VA_ARGS__) EW_EACH_I(M, __VA_ARGS__)

/* Initialisers of a per-dtype table: [OG_FLOAT] = name_f32, ... */
#define EW_FN_F(name) [OG_FLOAT] = name##_f32, [OG_DOUBLE] = name##_f64
#define EW_FN_SI(name) [OG_INT8] = name##_i8, [OG_INT16] = name##_i16, [OG_INT32] = name##_i32, [OG_INT64] = name##_i64
#define EW_FN_UI(name) [OG_UINT8] = name##_u8, [OG_UINT16] = name##_u16, [OG_UINT32] = name##_u32, [OG_UINT64] = name##_u64
#define EW_FN_I(name) EW_FN_SI(name), EW_FN_UI(name)
#define EW_FN_ALL(name) EW_FN_F(name), EW_FN_I(name)

/* Elementwise work is split into tasks of EW_CHUNK output elements (by
 * size alone, so any thread count gives the same bits). */
#define EW_CHUNK ((int64_t)1 << 15)

/* The tasks of a broadcast loop: groups of whole rows of about EW_CHUNK
 * elements, or, for rows longer than that, EW_CHUNK-element segments of
 * one row. Task t covers rows [r0, r1) from element lo of each, n long. */
typedef struct ew_split {
    int64_t len, n_rows, rows_per_task, segs, n_tasks;
} ew_split;

static inline void ew_split_init(ew_split *sp, const og_bcast *it)
{
    sp->len = it->dims[it->rank - 1];
    sp->n_rows = it->numel / sp->len;
    sp->segs = (sp->len + EW_CHUNK - 1) / EW_CHUNK;
    sp->rows_per_task = sp->segs > 1 ? 1 : EW_CHUNK / sp->len;
    sp->n_tasks = sp->segs > 1 ? sp->n_rows * sp->segs : (sp->n_rows + sp->rows_per_task - 1) / sp->rows_per_task;
}

static inline void ew_split_task(const ew_split *sp, int64_t t, int64_t *r0, int64_t *r1, int64_t *lo, int64_t *n)
{
    if (sp->segs > 1) {
        *r0 = t / sp->segs;
        *r1 = *r0 + 1;
        *lo = t % sp->segs * EW_CHUNK;
        *n = sp->len - *lo < EW_CHUNK ? sp->len - *lo : EW_CHUNK;
    } else {
        *r0 = t * sp->rows_per_task;
        *r1 = *r0 + sp->rows_per_task < sp->n_rows ? *r0 + sp->rows_per_task : sp->n_rows;
        *lo = 0;
        *n = sp->len;
    }
}

/* "node 'n' (Op)" into buf, for the shape helpers' `what`. */
const char *ew_what(const og_node *node, char *buf, size_t size);
static inline const char *ew_name(const char *const *names, int k)
{
    return names && names[k] ? names[k] : "?";
}

/* Backward helpers shared by the families: a where(cond, x, y) and a
 * scalar of the output's float type. */
#define ew_gb_where(b, c, x, y) og_gb((b), "Where", 3, (const char *const[]){ (c), (x), (y) }, 0, NULL)
#define ew_gb_scalar(b, v) og_gb_scalar((b), (b)->out_info[0].dtype, (v))

#endif
