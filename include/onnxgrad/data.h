/* SPDX-License-Identifier: MIT */
/* onnxgrad/data.h — training data sets: readers for the files they come in,
 * batches gathered from them, and the seeded per-epoch shuffle.
 *
 * A data set is one split ("train" or "test") of a directory, held in
 * memory as two tensors: x, the examples, dims [N, ...], and y, the
 * targets, dims [N] (class labels) or [N, ...]. Two layouts are read:
 *
 *   - MNIST-style IDX files, each plain or gzip-compressed (".gz"), as
 *     Debian's dataset-fashion-mnist installs them in
 *     /usr/share/datasets/fashion-mnist:
 *       train: train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz]
 *       test:  t10k-images-idx3-ubyte[.gz]  + t10k-labels-idx1-ubyte[.gz]
 *     Images (unsigned bytes, N x H x W) become float32 x = pixel / 255 with
 *     dims [N, 1, H, W]; labels (unsigned bytes, N) become int64 [N]. When a
 *     plain file and its ".gz" both exist, the plain one is read.
 *   - TensorProto files (onnxgrad/onnx_io.h's .pb format):
 *       <split>_x.pb: float or double, dims [N, ...] (rank >= 1), kept as is;
 *       <split>_y.pb: int64 [N] (class labels, >= 0), or float or double
 *                     [N, ...] (regression targets, soft labels).
 *
 * A directory holding both layouts for one split is an error (which one was
 * meant cannot be told). Every file is validated before its data is
 * trusted: a wrong magic number or IDX type, dims whose product overflows
 * or exceeds OG_LIMIT_TENSOR_ELEMENTS, fewer (or more) bytes than the
 * header says, corrupt or truncated gzip data, and example counts that
 * differ between x and y are each one OG_ERR_PARSE (OG_ERR_LIMIT for the
 * limit) message naming the file and the byte offset (for gzip files, the
 * offset in the decompressed stream and in the compressed file). Gzip
 * files are inflated in chunks through zlib, whose memory goes through the
 * allocator hook (onnxgrad/alloc.h); running out gives OG_ERR_NOMEM.
 *
 *     og_dataset *train;
 *     if (og_dataset_load("/usr/share/datasets/fashion-mnist", "train", &train))
 *         fprintf(stderr, "%s\n", og_errmsg());
 *     int64_t n = og_dataset_size(train);            // 60000
 *     int64_t *perm = malloc(n * sizeof *perm);
 *     og_shuffle_permutation(seed, epoch, n, perm);
 *     // batch b: og_dataset_gather(train, perm + b * bs, bs, xb, yb)
 *     og_dataset_free(train);
 */
#ifndef ONNXGRAD_DATA_H
#define ONNXGRAD_DATA_H

#include <stdint.h>
#include "onnxgrad/status.h"
#include "onnxgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct og_dataset og_dataset;

/* Loads split "train" or "test" of dir (layouts above). Errors name the
 * file and, for a bad file, the byte offset; a directory with neither
 * layout is OG_ERR_IO naming every file looked for.
 * Ownership: *out is the caller's; free it with og_dataset_free. On
 * failure *out is NULL. */
OG_API og_status og_dataset_load(const char *dir, const char *split, og_dataset **out);

/* Frees the data set and its tensors. NULL is allowed. */
OG_API void og_dataset_free(og_dataset *ds);

/* Number of examples N (0 for NULL). */
OG_API int64_t og_dataset_size(const og_dataset *ds);

/* The examples [N, ...] and the targets [N] or [N, ...]. Owned by the data
 * set: valid until og_dataset_free, not to be freed or modified. Their
 * names are "x" and "y". */
OG_API const og_tensor *og_dataset_x(const og_dataset *ds);
OG_API const og_tensor *og_dataset_y(const og_dataset *ds);

/* Largest label + 1 when y holds int64 class labels (0 for an empty data
 * set), else 0 (float targets, or NULL). */
OG_API int og_dataset_num_classes(const og_dataset *ds);

/* Copies examples idx[0..n) into x and their targets into y: caller
 * tensors with dim 0 equal to n and the data set's dtype, rank and other
 * dims (x or y may be NULL to skip it). An index outside [0, N) is
 * OG_ERR_INVALID_ARG naming its position; nothing is written then. */
OG_API og_status og_dataset_gather(const og_dataset *ds, const int64_t *idx, int64_t n, og_tensor *x,
                                   og_tensor *y);

/* The shuffle of epoch `epoch` (>= 0) of n examples: writes a permutation
 * of 0..n-1 to perm[0..n), a function of (seed, epoch, n) alone, the same on
 * every platform, so a checkpoint need only store the seed and the epoch.
 *
 * Algorithm (fixed; changing it changes every training run):
 *   mix(z)   = the splitmix64 finaliser: z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
 *              z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31
 *   state    = mix(mix(seed + 0x9E3779B97F4A7C15) + (uint64_t)epoch)
 *   next()   = state += 0x9E3779B97F4A7C15; return mix(state)   (splitmix64)
 *   uniform(b) in [0, b): r = next() until r >= (2^64 - b) mod b; return r mod b
 *   perm[i] = i; for i = n-1 down to 1: swap(perm[i], perm[uniform(i + 1)])
 *                                                         (Fisher-Yates) */
OG_API og_status og_shuffle_permutation(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm);

#ifdef __cplusplus
}
#endif
#endif
