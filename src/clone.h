/* SPDX-License-Identifier: MIT */
/* clone.h — graph copies for autodiff and gradient checks (src/clone.c). */
#ifndef ONNXGRAD_CLONE_H
#define ONNXGRAD_CLONE_H

#include "internal.h"

struct og_node_copy;

typedef struct og_clone_options {
    bool to_double;          /* every float tensor, input and declaration becomes double */
    int default_opset;       /* 0: keep; else import at least this default-domain opset */
    /* Initializers for which lift() is true become plain graph inputs of
     * the same type (their data is not copied). */
    bool (*lift)(void *user, const char *name);
    /* Graph inputs for which freeze() gives a tensor become initializers
     * holding (a copy of) it: constants for the copy. */
    const og_tensor *(*freeze)(void *user, const char *name);
    /* Nodes (by index in src) for which skip_node() is true are not copied. */
    bool (*skip_node)(void *user, int k);
    /* Graph inputs and initializers for which skip_value() is true are not
     * copied (nor declared). */
    bool (*skip_value)(void *user, const char *name);
    bool no_outputs;         /* graph outputs are not copied */
    bool no_declarations;    /* nor value_info declarations of intermediates */
    bool keep_training;      /* copy the training infos too (og_graph_to_double); off: dropped */
    /* Initializers for which replace() gives a tensor hold a copy of it
     * instead (a trained model's weights). */
    const og_tensor *(*replace)(void *user, const char *name);
    /* Called for every copied node with what is about to be added; may
     * change it (a training step's BatchNormalization). */
    og_status (*edit_node)(void *user, const og_node *n, struct og_node_copy *c);
    void *user;
} og_clone_options;

/* A node as og_graph_add_node will receive it; attrs has room for
 * cap_attrs entries. */
typedef struct og_node_copy {
    int n_inputs, n_outputs, n_attrs, cap_attrs;
    const char *inputs[OG_MAX_IO], *outputs[OG_MAX_IO];
    og_attr *attrs;
} og_node_copy;

/* A copy of src built through the builder calls (not finalized).
 * Ownership: *out is the caller's; free with og_graph_free. */
og_status og_graph_clone(const og_graph *src, const og_clone_options *o, og_graph **out);
/* Appends src's inputs, initializers, declarations, nodes and outputs to
 * dst (no metadata, opsets or training infos), as og_graph_clone copies
 * them. On failure dst holds part of src. */
og_status og_graph_clone_into(og_graph *dst, const og_graph *src, const og_clone_options *o);

#endif
