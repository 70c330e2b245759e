/* clone.h — graph copies for autodiff and gradient checks (src/clone.c). */
#ifndef ONNXGRAD_CLONE_H
#define ONNXGRAD_CLONE_H

#include "internal.h"

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
    void *user;
} og_clone_options;

/* A copy of src built through the builder calls (not finalized).
 * Ownership: *out is the caller's; free with og_graph_free. */
og_status og_graph_clone(const og_graph *src, const og_clone_options *o, og_graph **out);

#endif
