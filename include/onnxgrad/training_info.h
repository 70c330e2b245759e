/* SPDX-License-Identifier: MIT */
/* onnxgrad/training_info.h — a model's training algorithm (ONNX
 * TrainingInfoProto, ModelProto.training_info).
 *
 * A model may carry, next to its inference graph, any number of training
 * infos. Each holds
 * - initialization: a graph without inputs whose outputs give initial
 *   values (may be absent);
 * - initialization_bindings: key = an initializer of the main graph (or of
 *   the algorithm), value = an output of initialization;
 * - algorithm: one training step. ONNX runs it as the main graph followed
 *   by the algorithm, so the algorithm reads the main graph's initializers,
 *   inputs and node outputs by name without declaring them;
 * - update_bindings: key = an initializer of the main graph (or of the
 *   algorithm: optimiser state, an iteration count), value = an output of
 *   the algorithm (or of the main graph); after a step the value is stored
 *   into the key. A key is updated by at most one binding over all the
 *   training infos of a model.
 *
 * Loading and saving (onnx_io.h) keep training infos. The stored graphs are
 * not finalized (they name values of the main graph); og_training_algorithm_graph
 * and og_training_initialization_graph build the runnable, finalized graph.
 * og_graph_build_gradient drops training infos; og_graph_to_double converts
 * them to double along with the main graph.
 *
 *     og_binding up = { "W", "W_new" };
 *     og_graph_add_training_info(g, NULL, alg, 0, NULL, 1, &up);
 *     og_graph *step;
 *     og_training_algorithm_graph(g, 0, &step);   // inputs: the algorithm's; outputs: W_new
 */
#ifndef ONNXGRAD_TRAINING_INFO_H
#define ONNXGRAD_TRAINING_INFO_H

#include "onnxgrad/graph.h"
#include "onnxgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "key is assigned value" (ONNX StringStringEntryProto). */
typedef struct og_binding {
    const char *key;
    const char *value;
} og_binding;

typedef struct og_training_info {
    const og_graph *initialization;   /* NULL when absent */
    const og_graph *algorithm;        /* as stored: NOT finalized (it names the main graph's values) */
    int n_initialization_bindings;
    const og_binding *initialization_bindings;
    int n_update_bindings;
    const og_binding *update_bindings;
} og_training_info;

/* Appends a training info to g. initialization may be NULL (none);
 * algorithm must not be. Everything is copied (the graphs finalized or
 * not); an initializer of algorithm that g also has is not copied (the
 * algorithm reads g's), so an algorithm built as a graph of its own may
 * hold copies of the weights it updates. g's initializers must be added
 * before. Opsets the graphs import are kept with them and written into the
 * model's opset_import on save.
 * Errors (OG_ERR_INVALID_GRAPH, naming the binding or value): a binding
 * with an empty key or value; a key that is not an initializer of g or of
 * algorithm; an update value that is not an output of algorithm or of g; an
 * initialization value that is not an output of initialization; a key bound
 * twice (update keys: over all of g's training infos); an algorithm input,
 * initializer or node output that reuses a name of g's inputs, initializers
 * or node outputs; an initialization graph with inputs; an opset imported
 * by a graph at another version than g imports it. Does not un-finalize g. */
OG_API og_status og_graph_add_training_info(og_graph *g, const og_graph *initialization, const og_graph *algorithm,
                                            int n_initialization_bindings, const og_binding *initialization_bindings,
                                            int n_update_bindings, const og_binding *update_bindings);

/* Number of training infos (0 for NULL). */
OG_API int og_graph_num_training_infos(const og_graph *g);

/* Training info k. Every pointer is owned by g and valid until g is
 * changed or freed. */
OG_API og_status og_graph_get_training_info(const og_graph *g, int k, og_training_info *out);

/* Removes every training info from g. */
OG_API og_status og_graph_clear_training_info(og_graph *g);

/* A new finalized graph that runs algorithm k as ONNX defines it (the
 * main graph, then the algorithm): opsets of g and of the algorithm; g's
 * inputs, initializers and nodes that the algorithm needs (it reads them
 * through node inputs, or names them in string attributes such as
 * Gradient's y/xs/zs), in g's order; then the algorithm's inputs,
 * initializers, nodes and outputs; and any main-graph output an update
 * binding names. When the algorithm reads only g's initializers, its
 * inputs are the algorithm's inputs alone. Each update binding's value
 * must have the key's element type and shape (OG_ERR_SHAPE otherwise).
 * The graph's doc says which training info it comes from.
 * Ownership: *out is the caller's (og_graph_free). */
OG_API og_status og_training_algorithm_graph(const og_graph *g, int k, og_graph **out);

/* The same for initialization k: opsets of g and of the initialization,
 * the initializers of g it reads, its initializers, nodes and outputs; no
 * inputs. Each initialization binding's value must have the key's element
 * type and shape. OG_ERR_INVALID_ARG when training info k has no
 * initialization. Ownership: *out is the caller's. */
OG_API og_status og_training_initialization_graph(const og_graph *g, int k, og_graph **out);

#ifdef __cplusplus
}
#endif
#endif
