/* SPDX-License-Identifier: MIT */
/* onnxgrad/status.h — status codes and error messages.
 *
 * Every fallible onnxgrad function returns an og_status. OG_OK is zero.
 * On failure, og_errmsg() returns a message for the most recent failure in
 * the calling thread: what was wrong and where (file, node, tensor,
 * expected vs got). The message stays valid until the next failing call in
 * the same thread. */
#ifndef ONNXGRAD_STATUS_H
#define ONNXGRAD_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the library's public functions; everything else stays hidden in
 * the shared library. */
#if defined(__GNUC__) || defined(__clang__)
#define OG_API __attribute__((visibility("default")))
#else
#define OG_API
#endif

typedef enum og_status {
    OG_OK = 0,
    OG_ERR_INVALID_ARG = 1,   /* a caller passed something unusable */
    OG_ERR_NOMEM = 2,         /* an allocation failed */
    OG_ERR_IO = 3,            /* reading or writing a file failed */
    OG_ERR_PARSE = 4,         /* bytes are not a valid protobuf/ONNX message */
    OG_ERR_INVALID_GRAPH = 5, /* graph structure is wrong (cycle, dangling input, ...) */
    OG_ERR_UNSUPPORTED = 6,   /* valid ONNX that onnxgrad does not implement */
    OG_ERR_SHAPE = 7,         /* shapes or types do not fit an op's contract */
    OG_ERR_ATTR = 8,          /* a node attribute is missing, mistyped or out of range */
    OG_ERR_LIMIT = 9,         /* a configured limit was exceeded */
    OG_ERR_INTERNAL = 10      /* a bug in onnxgrad; please report it */
} og_status;

/* Short stable name of a status code, e.g. "OG_ERR_SHAPE". Never NULL. */
OG_API const char *og_status_name(og_status s);

/* Message of the most recent failure in this thread ("" if none).
 * Owned by the library; do not free. */
OG_API const char *og_errmsg(void);

/* Status code of the most recent failure in this thread (OG_OK if none). */
OG_API og_status og_errcode(void);

/* Warnings: problems onnxgrad works around rather than refuses, as ONNX
 * Runtime does (a declared shape that contradicts the inferred one: the
 * inferred shape is used). Each is one line naming the tensor, node and
 * both sides. The handler, process-wide, is called on the thread that
 * raised the warning (possibly several threads at once); NULL, the
 * default, drops them. Warnings raised while finalizing a graph are also
 * kept on the graph (og_graph_num_warnings). Set it before using the
 * library from several threads. */
typedef void (*og_warning_handler)(void *user, const char *message);
OG_API void og_set_warning_handler(og_warning_handler handler, void *user);

#ifdef __cplusplus
}
#endif
#endif
