/* SPDX-License-Identifier: MIT */
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

/* Walks the protobuf wire format of data[0..size) without recursion and
 * without trusting any length: varints are at most 10 bytes, tags carry a
 * field number in 1..2^29-1 and a wire type of 0, 1, 2 or 5, every length
 * stays inside its enclosing message, known fields have the wire type the
 * ONNX schema gives them (packed or not for repeated scalars), and nesting
 * stays within OG_LIMIT_NESTING_DEPTH (a subgraph costs 3 levels:
 * GraphProto > NodeProto > AttributeProto, so the default 100 allows about
 * 30 levels of nested control flow). Unknown fields are checked for framing
 * only. On failure returns OG_ERR_PARSE (OG_ERR_LIMIT for depth) with a
 * message "byte N: <field path>: ..." such as
 * "byte 812: graph.node[12].attribute[3].t.dims: ...". Only then is it safe
 * to hand the bytes to protobuf-c, which has no nesting limit. */
og_status og_wire_scan(const uint8_t *data, size_t size, og_wire_root root);
/* Same, and on success sets *decoded (when not NULL) to an estimate of the
 * bytes protobuf-c will allocate decoding the buffer (structs, copies,
 * arrays), so a hostile file can be refused before it costs that. */
og_status og_wire_scan_ex(const uint8_t *data, size_t size, og_wire_root root, size_t *decoded);

/* Refuses an empty buffer or one over OG_LIMIT_FILE_BYTES, scans the
 * bytes, then decodes them with protobuf-c under the
 * parse-memory budget (OG_LIMIT_PARSE_MEMORY_FACTOR x size +
 * OG_LIMIT_PARSE_MEMORY_BASE, counted through the allocator hook and
 * checked first against the scan's estimate). Errors: the scan's,
 * OG_ERR_LIMIT over budget, OG_ERR_NOMEM, OG_ERR_PARSE. Ownership: *out
 * is the caller's (protobuf_c_message_free_unpacked with
 * og_protobuf_allocator()). */
struct ProtobufCMessage;

/* The parse-memory budget for a buffer of `size` bytes:
 * OG_LIMIT_PARSE_MEMORY_FACTOR x size + OG_LIMIT_PARSE_MEMORY_BASE
 * (saturating), and the OG_ERR_LIMIT for going over it (`need`: the
 * scan's estimate, 0 when the allocator refused). */
size_t og_parse_budget(size_t size);
og_status og_parse_memory_error(size_t need, size_t size);
og_status og_wire_decode(const uint8_t *data, size_t size, og_wire_root root, struct ProtobufCMessage **out);

/* The largest message protobuf can describe (2 GiB): the savers refuse to
 * encode more. Loaders check OG_LIMIT_FILE_BYTES instead. File reading and
 * atomic writes are in io.h. */
#define OG_MAX_FILE_BYTES ((size_t)2 << 30)

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
