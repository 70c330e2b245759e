/* SPDX-License-Identifier: MIT */
/* onnxgrad/npy.h — NumPy .npy files (format versions 1.0, 2.0, 3.0).
 *
 * Reading accepts what numpy.save writes and what other writers produce:
 * little- and big-endian data ('<', '>', '=' and '|'), C and Fortran order
 * (a Fortran-order array is transposed into onnxgrad's row-major layout),
 * and the dtypes float32/64, int8/16/32/64, uint8/16/32/64 and bool. Other
 * dtypes (float16, complex, strings, objects, structured) are refused with
 * OG_ERR_UNSUPPORTED naming the descr. A malformed or truncated file is
 * OG_ERR_PARSE with a one-line message naming the file and the byte offset
 * (bad magic, header length past the end, unparsable header dict, a shape
 * whose product overflows, data size not matching the shape); sizes are
 * checked against OG_LIMIT_FILE_BYTES, OG_LIMIT_RANK and
 * OG_LIMIT_TENSOR_ELEMENTS before anything is allocated.
 *
 * Writing produces version 1.0 (2.0 when the header would not fit),
 * little-endian, C order, as numpy.save does, atomically (temporary file
 * + rename, like og_tensor_save_pb): a failed save leaves the target as
 * it was. */
#ifndef ONNXGRAD_NPY_H
#define ONNXGRAD_NPY_H

#include <stddef.h>
#include "onnxgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads a .npy file. Ownership: *out is the caller's (og_tensor_free); it
 * has no name (.npy files hold none). *out is NULL on failure. */
OG_API og_status og_tensor_load_npy(const char *path, og_tensor **out);

/* The same from size bytes in memory (not kept); messages say "npy". */
OG_API og_status og_tensor_load_npy_memory(const void *data, size_t size, og_tensor **out);

/* Saves t as a .npy file at path. The tensor stays the caller's; its name
 * is not stored. float16/bfloat16/string/complex tensors are refused. */
OG_API og_status og_tensor_save_npy(const og_tensor *t, const char *path);

#ifdef __cplusplus
}
#endif
#endif
