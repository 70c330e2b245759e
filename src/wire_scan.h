/* wire_scan.h — private to the ONNX file I/O (onnx_load.c, onnx_save.c,
 * tensor_pb.c, wire_scan.c): the pre-decode check of protobuf bytes and the
 * helpers those files share. Nothing else should include it. */
#ifndef ONNXGRAD_WIRE_SCAN_H
#define ONNXGRAD_WIRE_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include "internal.h"

/* The message a buffer is expected to hold at its top level. */
typedef enum og_wire_root {
    OG_WIRE_MODEL,     /* ModelProto (.onnx) */
    OG_WIRE_TENSOR     /* TensorProto (.pb) */
} og_wire_root;

/* Deepest message nesting accepted (the top-level message is depth 1).
 * A subgraph costs 3 levels (GraphProto > NodeProto > AttributeProto), so
 * this allows about 30 levels of nested control flow. */
#define OG_WIRE_MAX_DEPTH 100

/* Walks the protobuf wire format of data[0..size) without recursion and
 * without trusting any length: varints are at most 10 bytes, tags carry a
 * field number in 1..2^29-1 and a wire type of 0, 1, 2 or 5, every length
 * stays inside its enclosing message, known fields have the wire type the
 * ONNX schema gives them (packed or not for repeated scalars), and nesting
 * stays within OG_WIRE_MAX_DEPTH. Unknown fields are checked for framing
 * only. On failure returns OG_ERR_PARSE (OG_ERR_LIMIT for depth) with a
 * message "byte N: <field path>: ..." such as
 * "byte 812: graph.node[12].attribute[3].t.dims: ...". Only then is it safe
 * to hand the bytes to protobuf-c, which has no nesting limit. */
og_status og_wire_scan(const uint8_t *data, size_t size, og_wire_root root);

/* Largest file the loaders read; protobuf itself cannot describe more. */
#define OG_MAX_FILE_BYTES ((size_t)2 << 30)

/* Reads a whole file. Rejects files larger than OG_MAX_FILE_BYTES.
 * Ownership: *data is the caller's (og_free); a 0-byte file gives a
 * non-NULL *data with *size 0. Messages do not name the file: callers
 * prefix it. */
og_status og_io_read_file(const char *path, uint8_t **data, size_t *size);

/* Writes `size` bytes to `path` atomically: a uniquely named temporary
 * file in the same directory is written, fsynced and renamed over `path`.
 * On failure the temporary file is removed and `path` is untouched. */
og_status og_io_write_file_atomic(const char *path, const void *data, size_t size);

/* TensorProto <-> og_tensor. `where` names the tensor for messages
 * ("graph.initializer[3] 'W'"). from_proto checks dims, sizes and counts
 * before allocating and rejects external data. Ownership: *out is the
 * caller's (og_tensor_free). */
struct Onnx__TensorProto;
og_status og_tensor_from_proto(const struct Onnx__TensorProto *tp, const char *where,
                               og_tensor **out);
/* Fills *tp (already initialized with onnx__tensor_proto__init) from t,
 * with raw_data in little-endian order, named `name` (NULL: no name).
 * Memory hung on *tp comes from og_malloc; release it with
 * og_tensor_proto_release. */
og_status og_tensor_to_proto(const og_tensor *t, const char *name, struct Onnx__TensorProto *tp);
void og_tensor_proto_release(struct Onnx__TensorProto *tp);

#endif
