/* SPDX-License-Identifier: MIT */
/* onnxgrad/graph.h — building and inspecting ONNX graphs from C.
 *
 * A graph holds named values (graph inputs, initializers, node outputs),
 * nodes with typed attributes, the graph outputs, opset imports and model
 * metadata. Build it with the og_graph_add_* calls, then og_graph_finalize
 * validates it, orders it topologically and infers every shape. Loading a
 * model file (onnx_io.h) goes through exactly these calls. */
#ifndef ONNXGRAD_GRAPH_H
#define ONNXGRAD_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include "onnxgrad/status.h"
#include "onnxgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct og_graph og_graph;

/* Attribute types; the values are ONNX AttributeProto.AttributeType. */
typedef enum og_attr_type {
    OG_ATTR_UNDEFINED = 0,
    OG_ATTR_FLOAT = 1,
    OG_ATTR_INT = 2,
    OG_ATTR_STRING = 3,
    OG_ATTR_TENSOR = 4,
    OG_ATTR_GRAPH = 5,
    OG_ATTR_FLOATS = 6,
    OG_ATTR_INTS = 7,
    OG_ATTR_STRINGS = 8,
    OG_ATTR_TENSORS = 9,
    OG_ATTR_GRAPHS = 10,
    OG_ATTR_SPARSE_TENSOR = 11,
    OG_ATTR_SPARSE_TENSORS = 12,
    OG_ATTR_TYPE_PROTO = 13,
    OG_ATTR_TYPE_PROTOS = 14
} og_attr_type;

/* An attribute as the caller hands it in; everything is copied. Use the
 * og_attr_* constructors below. */
typedef struct og_attr {
    const char *name;
    og_attr_type type;
    float f;                 /* OG_ATTR_FLOAT */
    int64_t i;               /* OG_ATTR_INT */
    const char *s;           /* OG_ATTR_STRING */
    size_t s_len;            /* bytes of s; 0 means strlen(s) (ONNX strings are bytes) */
    const float *floats;     /* OG_ATTR_FLOATS */
    const int64_t *ints;     /* OG_ATTR_INTS */
    const char *const *strings; /* OG_ATTR_STRINGS */
    int64_t count;           /* element count of floats/ints/strings */
    const og_tensor *t;      /* OG_ATTR_TENSOR */
    const char *doc_string;  /* may be NULL */
} og_attr;

OG_API og_attr og_attr_int(const char *name, int64_t v);
OG_API og_attr og_attr_float(const char *name, float v);
OG_API og_attr og_attr_string(const char *name, const char *v);
OG_API og_attr og_attr_ints(const char *name, int64_t count, const int64_t *v);
OG_API og_attr og_attr_floats(const char *name, int64_t count, const float *v);
OG_API og_attr og_attr_tensor(const char *name, const og_tensor *t);

/* An empty graph with ir_version 8 and no opset imports.
 * Ownership: *out is the caller's; free with og_graph_free. */
OG_API og_status og_graph_create(og_graph **out);

/* Frees the graph and everything it owns. NULL is allowed. */
OG_API void og_graph_free(og_graph *g);

/* Imports `domain` ("" or "ai.onnx" is the default domain) at `version`. */
OG_API og_status og_graph_set_opset(og_graph *g, const char *domain, int64_t version);

/* Declares a graph input. dims[k] < 0 means unknown; dim_params (may be
 * NULL, or hold NULL entries) names symbolic dims such as "N". rank < 0
 * means the rank is unknown. */
OG_API og_status og_graph_add_input(og_graph *g, const char *name, og_dtype dtype, int rank,
                             const int64_t *dims, const char *const *dim_params);

/* Adds an initializer named `name` (the tensor's own name is ignored). The
 * tensor is copied. */
OG_API og_status og_graph_add_initializer(og_graph *g, const char *name, const og_tensor *t);

/* Adds a node. Input names may be "" for an omitted optional input; output
 * names may be "" for an output that is not wanted. `name` may be NULL or
 * "". `domain` NULL means the default domain. Attributes are copied. */
OG_API og_status og_graph_add_node(og_graph *g, const char *op_type, const char *domain, const char *name,
                            int n_inputs, const char *const *inputs,
                            int n_outputs, const char *const *outputs,
                            int n_attrs, const og_attr *attrs);

/* Marks a value as a graph output (in call order). */
OG_API og_status og_graph_add_output(og_graph *g, const char *name);

/* Declares the type of any value — a graph output or an intermediate —
 * as ONNX value_info does; same conventions as og_graph_add_input. A value
 * declared more than once must be declared compatibly; inference must then
 * agree with the declaration. */
OG_API og_status og_graph_declare_value(og_graph *g, const char *name, og_dtype dtype, int rank,
                                 const int64_t *dims, const char *const *dim_params);

/* Fixes the symbolic dim `dim_param` ("N") to `value` wherever the model
 * declares it (graph inputs, outputs, value_info): the dim becomes static
 * and loses its name. Some graph input must have it (else OG_ERR_INVALID_ARG
 * listing the inputs' symbolic dims). Un-finalizes the graph: call
 * og_graph_finalize before running or saving. */
OG_API og_status og_graph_fix_dim(og_graph *g, const char *dim_param, int64_t value);

/* Sets graph input `name` to the static shape dims[0..rank): rank must be
 * the declared rank (when known) and every dim the model fixes must equal
 * the given one (OG_ERR_SHAPE naming the dim and both sizes otherwise);
 * symbolic and unknown dims take the given sizes. Un-finalizes the graph. */
OG_API og_status og_graph_set_input_shape(og_graph *g, const char *name, int rank, const int64_t *dims);

/* Validates the graph (opsets, known ops, attributes, single producers, no
 * dangling inputs, no cycles), orders nodes topologically and infers the
 * dtype and shape of every value. Call after building and before running
 * or saving; adding anything afterwards un-finalizes the graph. */
OG_API og_status og_graph_finalize(og_graph *g);

/* A simpler copy of finalized g that computes the same outputs: nodes
 * whose outputs finalize computed from constants (shape arithmetic, small
 * constant tensors) become initializers, Identity nodes are removed (an
 * Identity giving a graph output renames its input instead, where it can),
 * and nodes no output depends on are dropped. Inputs, initializers,
 * outputs, metadata and opsets are kept. Finalized.
 * Ownership: *out is the caller's; free with og_graph_free. */
OG_API og_status og_graph_simplify(const og_graph *g, og_graph **out);

/* --- inspection ------------------------------------------------------- */

typedef struct og_value_info {
    const char *name;
    og_dtype dtype;          /* OG_UNDEFINED when not known */
    int rank;                /* -1 when not known */
    const int64_t *dims;     /* rank entries; -1 for an unknown dim */
    const char *const *dim_params; /* rank entries; NULL where none */
} og_value_info;

OG_API int og_graph_num_inputs(const og_graph *g);
OG_API int og_graph_num_outputs(const og_graph *g);
/* The warnings finalizing the graph raised (see og_set_warning_handler),
 * in order; the strings belong to the graph. NULL for k out of range. */
OG_API int og_graph_num_warnings(const og_graph *g);
OG_API const char *og_graph_warning(const og_graph *g, int k);
OG_API int og_graph_num_nodes(const og_graph *g);
OG_API int og_graph_num_initializers(const og_graph *g);
/* Pointers stay valid until the graph is changed or freed. */
OG_API og_status og_graph_input(const og_graph *g, int k, og_value_info *info);
OG_API og_status og_graph_output(const og_graph *g, int k, og_value_info *info);
/* The initializer tensor is owned by the graph. */
OG_API og_status og_graph_initializer(const og_graph *g, int k, const og_tensor **t);
/* Node k in insertion order: op type and name (owned by the graph). */
OG_API og_status og_graph_node(const og_graph *g, int k, const char **op_type, const char **name);
/* Node k's wiring (insertion order), for tools that draw or inspect a
 * graph: input/output counts, the j-th input/output name ("" for an
 * omitted optional input or an unwanted output; NULL for j out of range),
 * and attribute j as an og_attr whose pointers belong to the graph. */
OG_API og_status og_graph_node_io(const og_graph *g, int k, int *n_inputs, int *n_outputs, int *n_attrs);
OG_API const char *og_graph_node_input(const og_graph *g, int k, int j);
OG_API const char *og_graph_node_output(const og_graph *g, int k, int j);
OG_API og_status og_graph_node_attr(const og_graph *g, int k, int j, og_attr *attr);
/* Opset imports: count, and the k-th (domain "" is the default domain). */
OG_API int og_graph_num_opsets(const og_graph *g);
OG_API og_status og_graph_opset(const og_graph *g, int k, const char **domain, int64_t *version);
/* Looks up any value (input, initializer, intermediate, output) by name. */
OG_API og_status og_graph_value(const og_graph *g, const char *name, og_value_info *info);

/* Model metadata (strings are copied; NULL clears). */
OG_API og_status og_graph_set_producer(og_graph *g, const char *name, const char *version);
OG_API og_status og_graph_set_name(og_graph *g, const char *name);
OG_API og_status og_graph_set_doc(og_graph *g, const char *doc);
OG_API og_status og_graph_add_metadata(og_graph *g, const char *key, const char *value);
/* Sets metadata `key` to value, replacing a value it has (add refuses a
 * key given twice). */
OG_API og_status og_graph_set_metadata(og_graph *g, const char *key, const char *value);
/* The value of metadata `key` (owned by g), or NULL. */
OG_API const char *og_graph_metadata(const og_graph *g, const char *key);
/* ModelProto fields: ir_version (default 8), model_version, domain, doc_string. */
OG_API og_status og_graph_set_model(og_graph *g, int64_t ir_version, int64_t model_version, const char *domain,
                             const char *doc);
/* Doc string of node k (insertion order) and of the value `name`. */
OG_API og_status og_graph_set_node_doc(og_graph *g, int k, const char *doc);
OG_API og_status og_graph_set_value_doc(og_graph *g, const char *name, const char *doc);

#ifdef __cplusplus
}
#endif
#endif
