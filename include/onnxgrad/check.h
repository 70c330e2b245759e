/* SPDX-License-Identifier: MIT */
/* onnxgrad/check.h — what onnxgrad can do with a model, before anything runs.
 *
 * og_model_check reports every op of a model with its count, whether
 * onnxgrad implements it at the model's opset and has a backward rule,
 * which nodes lie on the differentiation path, and the nodes that block
 * loading or differentiation. Load the model with
 * OG_LOAD_OPTIONS_INIT + .unfinalized = true so that a model with ops
 * onnxgrad lacks can still be inspected:
 *
 *     og_load_options lo = OG_LOAD_OPTIONS_INIT;
 *     lo.unfinalized = true;
 *     og_model_load_file_ex("model.onnx", &lo, &g);
 *     og_model_check(g, NULL, &r);   // r->loads, r->differentiable, r->ops[...]
 */
#ifndef ONNXGRAD_CHECK_H
#define ONNXGRAD_CHECK_H

#include <stdbool.h>
#include "onnxgrad/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What to differentiate, as og_grad_options says: a scalar loss output,
 * and/or seeded outputs; neither: every floating-point graph output
 * (seeded). wrt: n_wrt 0 means every floating-point graph input and
 * initializer. */
typedef struct og_check_options {
    const char *loss;
    int n_seeded;
    const char *const *seeded;
    int n_wrt;
    const char *const *wrt;
} og_check_options;

typedef struct og_check_op {
    const char *op_type;
    const char *domain;     /* "" for the default domain */
    int opset;              /* the model's opset of that domain; -1: not imported */
    int count;              /* nodes of this op */
    int on_path;            /* of them, nodes on the differentiation path */
    bool implemented;       /* onnxgrad runs it at that opset */
    bool has_backward;      /* onnxgrad has its backward rule */
} og_check_op;

typedef struct og_check_report {
    int n_nodes;
    int n_ops;
    og_check_op *ops;       /* in order of first appearance */
    int n_path_nodes;       /* nodes between the wrt tensors and the differentiated outputs */
    int n_wrt;              /* tensors differentiated with respect to */
    bool loads;             /* the graph finalizes (every op implemented, shapes consistent) */
    const char *load_error; /* else why ("" when it loads) */
    bool differentiable;    /* a gradient graph was built for the options */
    const char *grad_error; /* else why ("" when it is) */
    int n_blocking;
    const char **blocking;  /* "node 'n' (Op): why", one per node that blocks loading or differentiation */
} og_check_report;

/* Checks g (finalized or not; a graph that can be finalized is finalized
 * by the call). A model that does not load or differentiate is not an
 * error of the call: the report says so. Errors: bad arguments, unknown
 * names in opts, out of memory. Ownership: *out is the caller's; free it
 * with og_check_report_free. Its strings belong to it (op and node names
 * point into g, which must outlive it). */
OG_API og_status og_model_check(og_graph *g, const og_check_options *opts, og_check_report **out);
OG_API void og_check_report_free(og_check_report *r);

#ifdef __cplusplus
}
#endif
#endif
