/* SPDX-License-Identifier: MIT */
/* simplify.c — og_graph_simplify: fold constants, drop Identity nodes and
 * dead nodes, through og_graph_clone (skip_node / edit_node).
 *
 * Values are resolved through the removed Identity nodes: resolve(v) is
 * the value that v is a copy of. An Identity whose output is a graph
 * output cannot simply vanish (the output's name must stay); when its
 * input is an intermediate that no other output claims, that intermediate
 * takes the output's name instead, and the Identity goes. */
#include <string.h>
#include "internal.h"
#include "clone.h"

typedef struct simplify_ctx {
    const og_graph *g;
    int *alias;          /* per value: the value it is a copy of (itself if none) */
    const char **name;   /* per value: its name in the copy */
    bool *needed;        /* per value: some kept node or output reads it */
    bool *folded;        /* per node: becomes initializers */
    bool *drop;          /* per node: not copied */
} simplify_ctx;

static int resolve(const simplify_ctx *x, int v)
{
    while (v >= 0 && x->alias[v] != v)
        v = x->alias[v];
    return v;
}

static bool is_output(const og_graph *g, int v)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == v)
            return true;
    return false;
}

/* A node finalize computed entirely from constants (and that reads
 * something: a Constant node is already as simple as it gets). */
static bool foldable(const og_graph *g, const og_node *n)
{
    if (n->n_inputs == 0)
        return false;
    bool any = false;
    for (int k = 0; k < n->n_outputs; k++) {
        int v = n->outputs[k];
        if (v < 0)
            continue;
        if (!g->values[v].folded)
            return false;
        any = true;
    }
    return any;
}

static bool skip_node(void *user, int k)
{
    const simplify_ctx *x = user;
    return x->drop[k];
}

static og_status edit_node(void *user, const og_node *n, og_node_copy *c)
{
    const simplify_ctx *x = user;
    for (int k = 0; k < n->n_inputs && k < OG_MAX_IO; k++)
        if (n->inputs[k] >= 0)
            c->inputs[k] = x->name[resolve(x, n->inputs[k])];
    for (int k = 0; k < n->n_outputs && k < OG_MAX_IO; k++)
        if (n->outputs[k] >= 0)
            c->outputs[k] = x->name[n->outputs[k]];
    return OG_OK;
}

/* Which nodes go, and the names values take. */
static void plan(simplify_ctx *x)
{
    const og_graph *g = x->g;
    for (int v = 0; v < g->n_values; v++) {
        x->alias[v] = v;
        x->name[v] = g->values[v].name;
    }
    bool *renamed = x->needed;   /* borrowed until liveness below */
    for (int i = 0; i < g->n_nodes; i++) {
        int k = g->order[i];
        const og_node *n = &g->nodes[k];
        x->folded[k] = foldable(g, n);
        if (!n->op || !n->op->is_identity || n->n_inputs < 1 || n->inputs[0] < 0 || n->n_outputs != 1 ||
            n->outputs[0] < 0)
            continue;
        int in = resolve(x, n->inputs[0]), out = n->outputs[0];
        if (!is_output(g, out)) {
            x->alias[out] = in;
            x->drop[k] = true;
            continue;
        }
        const og_value *iv = &g->values[in];
        if (iv->producer < 0 || iv->is_input || iv->initializer || is_output(g, in) || renamed[in])
            continue;   /* the Identity stays: its input has a name of its own to keep */
        x->name[in] = g->values[out].name;
        renamed[in] = true;
        x->alias[out] = in;
        x->drop[k] = true;
    }
    memset(x->needed, 0, (size_t)g->n_values * sizeof *x->needed);
    for (int k = 0; k < g->n_outputs; k++)
        x->needed[resolve(x, g->outputs[k])] = true;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        int k = g->order[i];
        const og_node *n = &g->nodes[k];
        if (x->drop[k])
            continue;
        bool live = false;
        for (int j = 0; j < n->n_outputs; j++)
            live = live || (n->outputs[j] >= 0 && x->needed[n->outputs[j]]);
        if (!live || x->folded[k]) {
            x->drop[k] = true;
            continue;
        }
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] >= 0)
                x->needed[resolve(x, n->inputs[j])] = true;
    }
}

og_status og_graph_simplify(const og_graph *g, og_graph **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_simplify: out is NULL");
    *out = NULL;
    if (!g)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_simplify: graph is NULL");
    if (!g->finalized)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_simplify: the graph is not finalized (call og_graph_finalize)");
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    simplify_ctx x = { .g = g, .alias = og_calloc(nv, sizeof(int)), .name = og_calloc(nv, sizeof(char *)),
                       .needed = og_calloc(nv, sizeof(bool)), .folded = og_calloc(nn, sizeof(bool)),
                       .drop = og_calloc(nn, sizeof(bool)) };
    og_graph *s = NULL;
    og_status st = OG_OK;
    if (!x.alias || !x.name || !x.needed || !x.folded || !x.drop) {
        st = og_err(OG_ERR_NOMEM, "out of memory simplifying a graph");
        goto done;
    }
    plan(&x);
    og_clone_options co = { .skip_node = skip_node, .edit_node = edit_node, .no_declarations = true,
                            .keep_training = true, .user = &x };
    if ((st = og_graph_clone(g, &co, &s)))
        goto done;
    /* the folded values something still reads, as initializers */
    for (int k = 0; k < g->n_nodes && !st; k++) {
        const og_node *n = &g->nodes[k];
        if (!x.folded[k] || !x.drop[k])
            continue;
        for (int j = 0; j < n->n_outputs && !st; j++) {
            int v = n->outputs[j];
            if (v < 0 || !x.needed[v])
                continue;
            og_tensor *t;
            if (!(st = og_tensor_clone(g->values[v].folded, &t)))
                st = og_graph_adopt_initializer(s, x.name[v], t);
        }
    }
    if (!st && (st = og_graph_finalize(s)))
        og_err_prefix("simplified graph: ");
    if (!st) {
        *out = s;
        s = NULL;
    }
done:
    og_graph_free(s);
    og_free(x.alias);
    og_free(x.name);
    og_free(x.needed);
    og_free(x.folded);
    og_free(x.drop);
    return st;
}
