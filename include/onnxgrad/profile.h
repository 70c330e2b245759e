/* SPDX-License-Identifier: MIT */
/* onnxgrad/profile.h — per-kernel profiling of compiled plans, and the
 * FLOP counts of a graph's nodes.
 *
 * A profiler collects one event per executed step of a compiled plan (see
 * exec.h): its start and end time (CLOCK_MONOTONIC, ns), the op type, the
 * kernel and ISA, the input and output shapes, the bytes read and written,
 * the FLOPs, and every graph node the step computes (a fused pattern,
 * ops/patterns.def, covers several). Views (Reshape, Flatten, Identity
 * without a copy) are steps too, with zero bytes and FLOPs, so a run
 * records og_plan_num_steps() events.
 *
 *     og_profiler *prof;
 *     og_profiler_create(&prof);
 *     og_plan_set_profiler(plan, prof);     // or og_profiler_attach_thread(prof)
 *     og_plan_run(plan, ...);
 *     for (int k = 0; k < og_profiler_num_events(prof); k++) {
 *         og_profile_event ev;
 *         og_profiler_event(prof, k, &ev);
 *         ...
 *     }
 *     og_plan_set_profiler(plan, NULL);
 *     og_profiler_free(prof);
 *
 * Two ways to enable it: og_plan_set_profiler for one plan (and the plans
 * it compiles for the input shapes of a run, when its inputs have symbolic
 * dims), or og_profiler_attach_thread for every plan run on the calling
 * thread (also the plans og_gradients and the training step make inside).
 * Without a profiler a run costs one branch per step more, nothing else.
 * Only compiled plans record: a graph whose shapes are known only at run
 * time (data-dependent shapes) runs node by node and records nothing.
 *
 * The main thread runs the steps (a kernel may split its work over the
 * plan's pool); events carry tid 0 and the plan's thread count.
 * Ownership and threads: the profiler is the caller's and must outlive the
 * plans it is set on (or stay attached no longer than it lives); it copies
 * every string and shape it reports, so events stay valid after the plan
 * and graph are freed, until og_profiler_clear or og_profiler_free. A
 * profiler must not record runs on two threads at once. */
#ifndef ONNXGRAD_PROFILE_H
#define ONNXGRAD_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include "onnxgrad/exec.h"
#include "onnxgrad/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct og_profiler og_profiler;

/* Ownership: *out is the caller's; free with og_profiler_free. */
OG_API og_status og_profiler_create(og_profiler **out);
OG_API void og_profiler_free(og_profiler *prof);
/* Forgets every event (keeps the profiler attached where it is). */
OG_API void og_profiler_clear(og_profiler *prof);

/* Records the runs of p into prof from now on; NULL stops. */
OG_API og_status og_plan_set_profiler(og_plan *p, og_profiler *prof);
/* Records every compiled run on the calling thread into prof (also of
 * plans without a profiler of their own); NULL stops. */
OG_API void og_profiler_attach_thread(og_profiler *prof);

typedef struct og_profile_shape {
    int rank;
    const int64_t *dims;
} og_profile_shape;

typedef struct og_profile_event {
    int64_t start_ns, end_ns;  /* CLOCK_MONOTONIC */
    int run;                   /* which run (0, 1, ...) of the profiler's runs this step belongs to */
    int step;                  /* the step's index in its plan */
    int tid;                   /* 0: the thread running the plan */
    int n_threads;             /* the plan's kernel threads */
    const char *node;          /* the step's node (for a fused pattern the node it ends in) */
    const char *op_type;
    const char *kernel;        /* "reference", "view" or the fast/fused kernel's name */
    const char *isa;           /* the plan's instruction set ("avx512", "avx2", "scalar"; a reference
                                * kernel may still reach SIMD code through GEMM); "none" for a view */
    int n_nodes;               /* graph nodes the step computes, in graph order, the step's node last */
    const char *const *nodes;
    int n_inputs;              /* the tensors the kernel reads (after a pattern's rewiring) */
    const og_profile_shape *inputs;
    int n_outputs;
    const og_profile_shape *outputs;
    int64_t bytes;             /* input + output tensor bytes (0 for a view) */
    int64_t flops;             /* sum over the nodes' cost hooks; -1 when some node has none */
} og_profile_event;

OG_API int og_profiler_num_events(const og_profiler *prof);
/* Events that could not be stored (out of memory); they are not counted above. */
OG_API int64_t og_profiler_num_dropped(const og_profiler *prof);
/* The k-th event, in recording order. The pointers in *ev belong to prof. */
OG_API og_status og_profiler_event(const og_profiler *prof, int k, og_profile_event *ev);

/* The FLOPs of node k of finalized g (og_graph_node order) for the shapes
 * inference gave: *flops -1 when the op has no cost hook or a shape it
 * needs is not static (a symbolic dim). *bytes (may be NULL): its input +
 * output tensor bytes, -1 when not static. */
OG_API og_status og_graph_node_cost(const og_graph *g, int k, int64_t *flops, int64_t *bytes);

/* The memory a compiled plan's run uses: the arena of intermediates and
 * the kernel scratch, in bytes (both 0 for a plan run node by node, and
 * for one whose inputs have symbolic dims, which compiles a plan per input
 * shapes at run time). */
OG_API og_status og_plan_memory(const og_plan *p, size_t *arena_bytes, size_t *workspace_bytes);

#ifdef __cplusplus
}
#endif
#endif
