/* SPDX-License-Identifier: MIT */
/* onnxgrad/tensor.h — dense N-D tensors.
 *
 * A tensor is contiguous, row-major, with its element type and dims.
 * Tensors returned by onnxgrad own their data and name; free them with
 * og_tensor_free. */
#ifndef ONNXGRAD_TENSOR_H
#define ONNXGRAD_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "onnxgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Maximum rank of a tensor. */
#define OG_MAX_RANK 32

/* Element types; the values are ONNX TensorProto.DataType. */
typedef enum og_dtype {
    OG_UNDEFINED = 0,
    OG_FLOAT = 1,
    OG_UINT8 = 2,
    OG_INT8 = 3,
    OG_UINT16 = 4,
    OG_INT16 = 5,
    OG_INT32 = 6,
    OG_INT64 = 7,
    OG_STRING = 8,
    OG_BOOL = 9,
    OG_FLOAT16 = 10,
    OG_DOUBLE = 11,
    OG_UINT32 = 12,
    OG_UINT64 = 13,
    OG_COMPLEX64 = 14,
    OG_COMPLEX128 = 15,
    OG_BFLOAT16 = 16
} og_dtype;

typedef struct og_tensor {
    og_dtype dtype;
    int rank;                    /* 0 for a scalar */
    int64_t dims[OG_MAX_RANK];
    int64_t numel;               /* product of dims (1 for a scalar) */
    void *data;                  /* numel * og_dtype_size(dtype) bytes */
    char *name;                  /* may be NULL */
} og_tensor;

/* Bytes per element of a supported numeric dtype; 0 if onnxgrad cannot hold
 * that dtype in a tensor (string, complex, float16, ...). */
OG_API size_t og_dtype_size(og_dtype t);

/* ONNX name of the dtype, e.g. "float", "int64". Never NULL. */
OG_API const char *og_dtype_name(og_dtype t);

/* Creates a zero-filled tensor. dims may be NULL when rank is 0; negative
 * dims, rank > OG_MAX_RANK and sizes that overflow are errors.
 * Ownership: *out is the caller's; free with og_tensor_free. */
OG_API og_status og_tensor_create(og_dtype dtype, int rank, const int64_t *dims, og_tensor **out);

/* Like og_tensor_create, then copies numel elements from `data`. */
OG_API og_status og_tensor_create_from(og_dtype dtype, int rank, const int64_t *dims,
                                const void *data, og_tensor **out);

/* Deep copy (data and name). Ownership: *out is the caller's. */
OG_API og_status og_tensor_clone(const og_tensor *t, og_tensor **out);

/* Replaces the tensor's name with a copy of `name` (NULL clears it). */
OG_API og_status og_tensor_set_name(og_tensor *t, const char *name);

/* Frees the tensor, its data and its name. NULL is allowed. */
OG_API void og_tensor_free(og_tensor *t);

/* Size in bytes of numel elements of dtype, overflow-checked. */
OG_API og_status og_tensor_nbytes(og_dtype dtype, int rank, const int64_t *dims,
                           int64_t *numel, size_t *nbytes);

#ifdef __cplusplus
}
#endif
#endif
