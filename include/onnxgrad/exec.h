/* SPDX-License-Identifier: MIT */
/* onnxgrad/exec.h — planning and running a graph.
 *
 * A plan is made once per finalized graph. When every shape in the graph is
 * static, planning compiles it: each node gets the fastest kernel for its
 * shapes and the CPU (fused kernels for the patterns gradient graphs are
 * made of), Reshape/Flatten/Identity become views, and every intermediate
 * gets a place in one arena laid out by lifetime; a run then does no shape
 * inference, allocation or zero-fill. Graphs with shapes known only at run
 * time run node by node (inferring, allocating and releasing as they go).
 *
 * Threads: a plan uses n_threads workers of one persistent process-wide
 * pool (idle workers sleep). Results are bit-identical at any thread count.
 * A plan holds the state of one run (the arena and scratch), used by
 * og_plan_run*, so those must not be called on one plan from two threads at
 * once. To run one plan from several threads, give each thread its own
 * og_run_state; different plans may run concurrently too. (Concurrent runs
 * share the pool: one that finds it busy runs its kernels on its own
 * thread, with the same results.)
 * Environment: OG_NUM_THREADS (default thread count, else the cores),
 * OG_ISA=avx512|avx2|scalar (use a narrower instruction set than the CPU
 * has; one it lacks is an error at plan creation), OG_LOG=plan (print each
 * node's kernel to stderr when a plan is compiled), OG_LOG=time (print each
 * step's time on every run), OG_KERNELS=reference (no fast or fused
 * kernels: every op's reference kernel, to compare against). */
#ifndef ONNXGRAD_EXEC_H
#define ONNXGRAD_EXEC_H

#include "onnxgrad/graph.h"
#include "onnxgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct og_plan og_plan;
typedef struct og_run_state og_run_state;

/* Plans a finalized graph. The graph must outlive the plan and stay
 * unchanged. Ownership: *out is the caller's; free with og_plan_free. */
OG_API og_status og_plan_create(const og_graph *g, og_plan **out);

typedef struct og_plan_options {
    int n_threads;   /* 0: OG_NUM_THREADS, else the machine's cores */
} og_plan_options;

/* og_plan_create with options (NULL: defaults). */
OG_API og_status og_plan_create_ex(const og_graph *g, const og_plan_options *opts, og_plan **out);

OG_API void og_plan_free(og_plan *p);

/* The seed random ops draw with, mixed into their own seed attribute:
 * Dropout in training mode draws a new mask for each value (a trainer
 * passes its step number), the same mask for the same value. 0 (the
 * default): the attribute alone, as the ONNX reference draws. */
OG_API void og_plan_set_run_seed(og_plan *p, uint64_t seed);

/* Threads the plan runs its kernels on. */
OG_API int og_plan_num_threads(const og_plan *p);

/* What a compiled plan runs, in order: the steps left after fusion (0 for a
 * plan that runs node by node). Step k's node name, op type and kernel
 * ("reference", "view", or the name of a faster or fused kernel, which
 * ends in the ISA when it has SIMD variants). The strings belong to the
 * plan and its graph. */
OG_API int og_plan_num_steps(const og_plan *p);
OG_API og_status og_plan_step(const og_plan *p, int k, const char **node, const char **op_type,
                       const char **kernel);

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

/* The run that allocates nothing (after the first run with given shapes):
 * inputs as og_plan_run; outputs[k] receives a tensor owned by the plan,
 * valid until the plan's next run or og_plan_free. Ownership: none passes
 * to the caller; do not free or modify the outputs. */
OG_API og_status og_plan_run_borrowed(og_plan *p, int n_inputs, const og_tensor *const *inputs,
                               const og_tensor **outputs);

/* A run state of its own for a plan (arena and scratch), so threads can
 * run one plan at once, each with its own state. The plan must outlive it.
 * Ownership: *out is the caller's; free with og_run_state_free. */
OG_API og_status og_run_state_create(const og_plan *p, og_run_state **out);
OG_API void og_run_state_free(og_run_state *rs);
/* og_plan_run_borrowed on a run state: the outputs belong to rs and stay
 * valid until its next run or og_run_state_free. */
OG_API og_status og_run_state_run(og_run_state *rs, int n_inputs, const og_tensor *const *inputs,
                           const og_tensor **outputs);

/* State bindings: tensors that runs read and then update in place, so a
 * training step's weights, optimiser state and BatchNormalization running
 * statistics live in the caller's tensors across runs (ONNX's
 * TrainingInfoProto.update_binding). Binding `state` (a graph input, with
 * or without an initializer) to `update` (a graph output of its dtype and
 * shape) through `tensor` (the caller's, of state's dtype and shape, with
 * data): every later run reads `tensor` as input `state` (the caller no
 * longer passes it), and when the run succeeds, `tensor` holds the value
 * `update` computed (copied at the end of the run, so the step reads the
 * old value throughout). A failed run changes no state tensor. The update
 * outputs are still returned as outputs too. Each call replaces the
 * previous bindings (n 0 removes them). og_plan_bind_states binds for
 * og_plan_run*, og_run_state_bind_states for one run state. Ownership: the
 * tensors stay the caller's and must outlive the bindings; nothing is
 * allocated by a run for them. */
typedef struct og_state_binding {
    const char *state;    /* graph input the run reads */
    const char *update;   /* graph output whose value replaces it after the run */
    og_tensor *tensor;    /* the caller's storage of the state */
} og_state_binding;

OG_API og_status og_plan_bind_states(og_plan *p, int n, const og_state_binding *bindings);
OG_API og_status og_run_state_bind_states(og_run_state *rs, int n, const og_state_binding *bindings);

/* Runs and copies each graph output into the caller's tensor outputs[k],
 * which must have the output's dtype and shape and hold data. Ownership:
 * nothing changes hands. */
OG_API og_status og_plan_run_into(og_plan *p, int n_inputs, const og_tensor *const *inputs,
                           og_tensor *const *outputs);

#ifdef __cplusplus
}
#endif
#endif
