/* onnxgrad/exec.h — planning and running a graph.
 *
 * A plan is made once per finalized graph: node order, the last consumer of
 * every value (so intermediates are released as soon as possible), and one
 * scratch workspace that all kernels share. Running binds inputs, runs the
 * kernels and hands back the graph outputs. */
#ifndef ONNXGRAD_EXEC_H
#define ONNXGRAD_EXEC_H

#include "onnxgrad/graph.h"
#include "onnxgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct og_plan og_plan;

/* Plans a finalized graph. The graph must outlive the plan and stay
 * unchanged. Ownership: *out is the caller's; free with og_plan_free. */
OG_API og_status og_plan_create(const og_graph *g, og_plan **out);

OG_API void og_plan_free(og_plan *p);

/* Number of inputs a run must bind: graph inputs without an initializer. */
OG_API int og_plan_num_feeds(const og_plan *p);

/* Runs the graph. Each of the n_inputs tensors binds to the graph input of
 * the same name when its name is set and matches, otherwise to the next
 * unbound feed in graph-input order; graph inputs that have an initializer
 * may be overridden by name. Dtypes and known dims must match the graph.
 * outputs must have og_graph_num_outputs() slots; each receives a new
 * tensor named after its graph output. Ownership: the caller frees each
 * output with og_tensor_free; on failure no outputs are returned. */
OG_API og_status og_plan_run(og_plan *p, int n_inputs, const og_tensor *const *inputs,
                      og_tensor **outputs);

#ifdef __cplusplus
}
#endif
#endif
