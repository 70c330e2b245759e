/* SPDX-License-Identifier: MIT */
/* onnxgrad/onnx_io.h — reading and writing ONNX protobuf files.
 *
 * Loading decodes the wire bytes once into onnxgrad's graph IR (checking
 * the bytes before protobuf-c sees them), then finalizes the graph
 * (validation and shape inference). Saving encodes the IR, with inferred
 * shapes written as value_info, to a temporary file that is renamed over the
 * target only when complete.
 *
 * External data: a tensor may keep its bytes in another file (ONNX
 * TensorProto.data_location = EXTERNAL, with external_data keys "location",
 * "offset", "length", "checksum"). The location must be a relative path
 * inside the model's directory: no absolute path, '..', '.' or empty
 * component, backslash or NUL; it is opened component by component without
 * following symbolic links, and must be a regular file with a single hard
 * link that holds exactly the tensor's bytes. The checksum is accepted but
 * not verified. A loaded graph holds every tensor in memory (no mmap); the
 * data files are closed when the load returns and not needed afterwards.
 * Errors: a wrong key, location, offset or length in the model is
 * OG_ERR_PARSE; a missing, linked, special or too short file is OG_ERR_IO;
 * both name the tensor and the location.
 *
 *     og_save_options so = OG_SAVE_OPTIONS_INIT;
 *     so.external_data_file = "model.weights";      // beside model.onnx
 *     og_model_save_file_ex(g, "out/model.onnx", &so);
 *     og_model_load_file("out/model.onnx", &g2);     // finds out/model.weights */
#ifndef ONNXGRAD_ONNX_IO_H
#define ONNXGRAD_ONNX_IO_H

#include <stdbool.h>
#include <stddef.h>
#include "onnxgrad/graph.h"
#include "onnxgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads and finalizes a model; external data is read relative to the
 * directory of `path`. Ownership: *out is the caller's (og_graph_free).
 * On error *out is NULL and og_errmsg() names the file. */
OG_API og_status og_model_load_file(const char *path, og_graph **out);

/* Options of og_model_load_memory_ex. struct_size lets later versions add
 * fields without breaking programs built against this header: start from
 * OG_LOAD_OPTIONS_INIT and set the fields you need. */
typedef struct og_load_options {
    size_t struct_size;       /* sizeof(og_load_options) */
    const char *base_dir;     /* directory external data locations are relative to;
                               * NULL: a model with external data is refused.
                               * Borrowed for the duration of the call. */
    bool unfinalized;         /* return the graph as read, not finalized: for
                               * inspecting a model onnxgrad cannot run
                               * (og_model_check, `onnxgrad info`); its ops
                               * need not exist. Finalize it to run it. */
} og_load_options;
#define OG_LOAD_OPTIONS_INIT { sizeof(og_load_options), NULL, false }

/* og_model_load_file with options (base_dir is ignored: the file's
 * directory is used). opts NULL: defaults. */
OG_API og_status og_model_load_file_ex(const char *path, const og_load_options *opts, og_graph **out);


/* Same as og_model_load_file, from memory; `data` is not kept. A model
 * with external data fails with OG_ERR_INVALID_ARG ("needs a base
 * directory") unless opts->base_dir is given. opts NULL: defaults. */
OG_API og_status og_model_load_memory_ex(const void *data, size_t size, const og_load_options *opts,
                                         og_graph **out);

/* og_model_load_memory_ex with default options (no base directory). */
OG_API og_status og_model_load_memory(const void *data, size_t size, og_graph **out);

/* Saves a finalized graph with every tensor inline. A failure leaves any
 * existing file untouched. A model over protobuf's 2 GiB limit fails with
 * OG_ERR_LIMIT: save it with og_model_save_file_ex and external data. */
OG_API og_status og_model_save_file(const og_graph *g, const char *path);

/* Options of og_model_save_file_ex; start from OG_SAVE_OPTIONS_INIT. */
typedef struct og_save_options {
    size_t struct_size;           /* sizeof(og_save_options) */
    const char *external_data_file;   /* name of the data file, relative to the model's
                                   * directory (same rules as a location); NULL: every
                                   * tensor inline. Borrowed for the call. */
    size_t external_min_bytes;    /* initializers of at least this many bytes (and at
                                   * least 1) go to the data file; default 1024 */
} og_save_options;
#define OG_SAVE_OPTIONS_INIT { sizeof(og_save_options), NULL, 1024 }

/* Saves a finalized graph; with opts->external_data_file set, initializers
 * of at least external_min_bytes are written to that file (each at a
 * 4096-byte aligned offset, with location/offset/length keys) and the
 * rest, attribute tensors included, inline. Both files are written to
 * temporary files and fsynced, then the data file is renamed into place
 * and the model after it; if that last step fails the previous data file
 * is put back, so a failure leaves both files as they were. No data file
 * is written when no initializer qualifies. opts NULL: og_model_save_file. */
OG_API og_status og_model_save_file_ex(const og_graph *g, const char *path, const og_save_options *opts);

/* Encodes a finalized graph, every tensor inline. Ownership: *data is the
 * caller's; free it with og_free. */
OG_API og_status og_model_save_memory(const og_graph *g, void **data, size_t *size);

/* Reads one TensorProto (.pb file, as in ONNX test data sets). The tensor's
 * name is the proto's name (NULL when empty). External data is refused
 * here (OG_ERR_UNSUPPORTED). Ownership: *out is the caller's
 * (og_tensor_free). */
OG_API og_status og_tensor_load_pb(const char *path, og_tensor **out);
OG_API og_status og_tensor_load_pb_memory(const void *data, size_t size, og_tensor **out);

/* Writes one TensorProto, named t->name, with raw_data; temp file + rename. */
OG_API og_status og_tensor_save_pb(const og_tensor *t, const char *path);

#ifdef __cplusplus
}
#endif
#endif
