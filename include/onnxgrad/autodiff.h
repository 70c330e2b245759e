/* SPDX-License-Identifier: MIT */
/* onnxgrad/autodiff.h — gradient graphs (reverse-mode autodiff) and the
 * numerical gradient check.
 *
 * og_graph_build_gradient turns a finalized graph into a new finalized
 * graph that computes the forward outputs and then the gradients: every
 * op's backward rule emits standard ONNX nodes (opset 17), and gradients
 * that fan in are summed. The result is an ordinary graph: plan and run it,
 * save it as .onnx, or differentiate it again (second order).
 *
 *     const char *wrt[] = { "W" };
 *     og_grad_options o = { .loss = "loss", .n_wrt = 1, .wrt = wrt };
 *     og_graph *gg;
 *     og_graph_build_gradient(g, &o, &gg);   // outputs: g's outputs, then "W_grad"
 */
#ifndef ONNXGRAD_AUTODIFF_H
#define ONNXGRAD_AUTODIFF_H

#include <stdbool.h>
#include <stdint.h>
#include "onnxgrad/graph.h"
#include "onnxgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What to differentiate, and with respect to what.
 * - loss: a graph output with exactly one element; its gradient is seeded
 *   with 1 (a Constant in the gradient graph).
 * - seeded: graph outputs whose upstream gradient (a vector-Jacobian
 *   product) the caller supplies at run time: each becomes a new graph
 *   input of the output's type, named "<output>_grad" (made unique).
 * loss and seeded may be combined; at least one output must be named.
 * - wrt: graph inputs and/or initializers; n_wrt 0 means every
 *   floating-point graph input and initializer, inputs first, in graph
 *   order. */
typedef struct og_grad_options {
    const char *loss;
    int n_seeded;
    const char *const *seeded;
    int n_wrt;
    const char *const *wrt;
    /* A wrt tensor that no differentiated output depends on is an error,
     * unless allow_unused: then its gradient is zeros (as PyTorch's
     * allow_unused with materialize_grads). */
    bool allow_unused;
} og_grad_options;

/* Builds the gradient graph of the finalized graph g. Its inputs are g's
 * inputs, then one per seeded output (in `seeded` order); its initializers
 * are g's; its outputs are g's outputs, then the gradient of each wrt
 * tensor, named "<tensor>_grad" (made unique), of the tensor's type.
 * The graph describes itself: producer "onnxgrad", and metadata_props
 * onnxgrad.gradient.loss (the loss, or ""), onnxgrad.gradient.seeds and
 * onnxgrad.gradient.wrt (comma-separated names). Every node is named:
 * forward nodes keep the model's names (an unnamed one becomes
 * "<op>_<index>"), nodes of a backward rule are "grad/<forward node>/...",
 * the seed of the loss "grad/seed/...", and the Identity giving a wrt
 * gradient output "grad/output/<output>". The Add nodes that sum the
 * gradients of a value used more than once (fan-in) end in
 * "/fanin_Add_<n>". The forward nodes come first, in the model's order.
 * Errors: unknown or non-float names, a loss with more than one element, a
 * wrt tensor the differentiated outputs do not depend on (unless
 * allow_unused), an op on the path
 * without a backward rule (naming the node).
 * Ownership: *out is the caller's; free with og_graph_free. */
OG_API og_status og_graph_build_gradient(const og_graph *g, const og_grad_options *opts, og_graph **out);

/* Number of wrt tensors og_graph_build_gradient would use for opts (the
 * default set when opts->n_wrt is 0), and the k-th name (owned by g). */
OG_API og_status og_grad_wrt_count(const og_graph *g, const og_grad_options *opts, int *count);
OG_API og_status og_grad_wrt_name(const og_graph *g, const og_grad_options *opts, int k, const char **name);

/* Forward + backward in one call: builds the gradient graph, runs it on
 * `inputs` (bound to g's inputs as og_plan_run binds them) and `seeds` (one
 * per opts->seeded output, in that order), and hands back the gradients in
 * wrt order, each named after its tensor. grads needs one slot per wrt
 * tensor (og_grad_wrt_count). Ownership: the caller frees each grads[k]
 * with og_tensor_free; on failure none are returned. */
OG_API og_status og_gradients(const og_graph *g, const og_grad_options *opts, int n_inputs,
                              const og_tensor *const *inputs, const og_tensor *const *seeds, og_tensor **grads);

/* A copy of finalized g in which every float tensor is double: inputs,
 * initializers, declared values and tensor attributes (Constant values);
 * finalized. For checking gradients in float64.
 * Ownership: *out is the caller's; free with og_graph_free. */
OG_API og_status og_graph_to_double(const og_graph *g, og_graph **out);

/* ---- numerical gradient check ------------------------------------------
 * Compares the gradients of the gradient graph with central finite
 * differences in float64 (the model is converted with og_graph_to_double),
 * for a random upstream gradient per float output, the way
 * torch.autograd.gradcheck does. */
typedef struct og_gradcheck_options {
    int n_wrt;                 /* 0: every float input and initializer */
    const char *const *wrt;
    int order;                 /* 1, or 2: differentiate the gradient graph again (gradgradcheck) */
    double eps;                /* finite-difference step; 0: 1e-6 */
    double atol, rtol;         /* pass when |analytic - fd| <= atol + rtol*|fd|; 0: 1e-5 and 1e-3 */
    bool fast;                 /* random projections u'Jv instead of every element */
    uint64_t seed;             /* random inputs, upstream gradients and samples */
    int64_t max_elements;      /* per wrt tensor, sample at most this many elements; 0: all */
    int n_inputs;              /* values for graph inputs (bound by name, else in order); */
    const og_tensor *const *inputs; /* inputs not given are random in [-1, 1] */
    /* Called now and then with the finite differences done and in all. */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *user;
    /* Upstream gradients (torch's grad_outputs), each named after the float
     * output it seeds and of its shape; outputs not given get random ones.
     * With order 2 they seed the first-order gradient graph, as
     * gradgradcheck's grad_outputs do. */
    int n_seeds;
    const og_tensor *const *seeds;
    /* When *interrupt becomes nonzero (a signal handler may set it), the
     * check stops after the finite difference under way and returns what
     * it has compared, with report->interrupted set. NULL: never. */
    const volatile int *interrupt;
} og_gradcheck_options;

typedef struct og_gradcheck_entry {
    char *name;                /* the wrt tensor */
    int64_t numel;             /* elements of the tensor */
    int64_t checked;           /* elements (or, with fast, projections) compared */
    double max_abs_err;        /* max |analytic - fd| */
    double max_rel_err;        /* max |analytic - fd| / max(|fd|, tiny) */
    int64_t worst_index;       /* flat index of the worst element (-1 for projections) */
    double worst_analytic, worst_numeric;
    bool pass;
} og_gradcheck_entry;

typedef struct og_gradcheck_report {
    int n;
    og_gradcheck_entry *entries;
    bool pass;                 /* every entry passed */
    bool interrupted;          /* stopped by opts->interrupt: entries are partial */
    int64_t done, total;       /* finite differences (or projections) done, and planned */
} og_gradcheck_report;

/* Runs the check. A status other than OG_OK means the check could not run
 * (bad model, symbolic dim without a value, ...); a failed comparison is
 * OG_OK with report->pass false. Ownership: *report is the caller's; free
 * with og_gradcheck_report_free. */
OG_API og_status og_gradcheck(const og_graph *g, const og_gradcheck_options *opts, og_gradcheck_report **report);
OG_API void og_gradcheck_report_free(og_gradcheck_report *r);

#ifdef __cplusplus
}
#endif
#endif
