/* onnxgrad/onnx_io.h — reading and writing ONNX protobuf files.
 *
 * Loading decodes the wire bytes once into onnxgrad's graph IR (checking
 * the bytes before protobuf-c sees them), then finalizes the graph
 * (validation and shape inference). Saving encodes the IR, with inferred
 * shapes written as value_info, to a temporary file that is renamed over the
 * target only when complete. */
#ifndef ONNXGRAD_ONNX_IO_H
#define ONNXGRAD_ONNX_IO_H

#include <stddef.h>
#include "onnxgrad/graph.h"
#include "onnxgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads and finalizes a model. Ownership: *out is the caller's
 * (og_graph_free). On error *out is NULL and og_errmsg() names the file. */
OG_API og_status og_model_load_file(const char *path, og_graph **out);

/* Same, from memory; `data` is not kept. */
OG_API og_status og_model_load_memory(const void *data, size_t size, og_graph **out);

/* Saves a finalized graph. A failure leaves any existing file untouched. */
OG_API og_status og_model_save_file(const og_graph *g, const char *path);

/* Encodes a finalized graph. Ownership: *data is the caller's; free it
 * with og_free. */
OG_API og_status og_model_save_memory(const og_graph *g, void **data, size_t *size);

/* Reads one TensorProto (.pb file, as in ONNX test data sets). The tensor's
 * name is the proto's name (NULL when empty). Ownership: *out is the
 * caller's (og_tensor_free). */
OG_API og_status og_tensor_load_pb(const char *path, og_tensor **out);
OG_API og_status og_tensor_load_pb_memory(const void *data, size_t size, og_tensor **out);

/* Writes one TensorProto, named t->name, with raw_data; temp file + rename. */
OG_API og_status og_tensor_save_pb(const og_tensor *t, const char *path);

#ifdef __cplusplus
}
#endif
#endif
