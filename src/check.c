/* SPDX-License-Identifier: MIT */
/* check.c — og_model_check: what onnxgrad can do with a model (check.h).
 *
 * Works on a graph that may not finalize: ops are looked up one by one,
 * and the differentiation path is found from the node connections alone
 * (no shapes needed), so a model with missing ops still gets its full
 * report. When the graph does finalize, the gradient graph is really
 * built, which catches what only a backward rule can tell (an attribute
 * form without a rule, an unknown dim it needs). */
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "onnxgrad/check.h"
#include "onnxgrad/autodiff.h"

static int opset_of(const og_graph *g, const char *domain)
{
    bool dflt = !domain[0] || strcmp(domain, "ai.onnx") == 0;
    for (int k = 0; k < g->n_opsets; k++) {
        const char *d = g->opsets[k].domain;
        if (strcmp(d, domain) == 0 || (dflt && (!d[0] || strcmp(d, "ai.onnx") == 0)))
            return (int)(g->opsets[k].version > 1000000 ? 1000000 : g->opsets[k].version);
    }
    return -1;
}

static bool float_value(const og_graph *g, int v)
{
    og_tinfo ti;
    og_value_get(&g->values[v], &ti);
    og_dtype t = ti.dtype != OG_UNDEFINED ? ti.dtype : g->values[v].initializer ? g->values[v].initializer->dtype
                                                                                : OG_UNDEFINED;
    return t == OG_FLOAT || t == OG_DOUBLE;
}

static og_status add_blocking(og_check_report *r, int *cap, const og_node *n, const char *why)
{
    char line[1024];
    if (n)
        snprintf(line, sizeof line, "node '%s' (%s): %s", n->name, n->op_type, why);
    else
        snprintf(line, sizeof line, "%s", why);
    char *copy = og_strdup(line);
    if (!copy || og_grow((void **)&r->blocking, cap, r->n_blocking + 1, sizeof(char *))) {
        og_free(copy);
        return og_err(OG_ERR_NOMEM, "out of memory checking the model");
    }
    r->blocking[r->n_blocking++] = copy;
    return OG_OK;
}

/* Marks the values reachable from the marked ones, through nodes forward
 * (fwd) or backward; passes repeat until nothing changes (one or two for
 * a graph in topological order, as ONNX requires). */
/* Whether a gradient can flow along input (or output) k of n: its op's
 * differentiability bits; every edge of an op onnxgrad lacks. */
static bool diff_edge(const og_node *n, bool input, int k)
{
    const og_op *op = og_op_find(n->domain, n->op_type);
    if (!op)
        return true;
    uint32_t bits = input ? op->diff_inputs : op->diff_outputs;
    return k < 32 && (bits >> k & 1u);
}

static void reach(const og_graph *g, bool *mark, bool forward)
{
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < g->n_nodes; i++) {
            const og_node *n = &g->nodes[forward ? i : g->n_nodes - 1 - i];
            const int *from = forward ? n->inputs : n->outputs, *to = forward ? n->outputs : n->inputs;
            int n_from = forward ? n->n_inputs : n->n_outputs, n_to = forward ? n->n_outputs : n->n_inputs;
            bool any = false;
            for (int k = 0; k < n_from && !any; k++)
                any = from[k] >= 0 && mark[from[k]] && diff_edge(n, forward, k);
            for (int k = 0; any && k < n_to; k++)
                if (to[k] >= 0 && !mark[to[k]] && diff_edge(n, !forward, k))
                    mark[to[k]] = changed = true;
        }
    }
}

static int graph_output_index(const og_graph *g, const char *name)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (strcmp(g->values[g->outputs[k]].name, name) == 0)
            return k;
    return -1;
}

/* The outputs differentiated and the wrt tensors, as value marks;
 * names[] receives the seeded outputs when the options name none. */
static og_status choose(const og_graph *g, const og_check_options *o, bool *out_mark, bool *wrt_mark,
                        const char **seeded, int *n_seeded, int *n_wrt)
{
    *n_seeded = 0;
    *n_wrt = 0;
    bool named = o && (o->loss || o->n_seeded > 0);
    if (o && o->loss) {
        int k = graph_output_index(g, o->loss);
        if (k < 0)
            return og_err(OG_ERR_INVALID_ARG, "check: loss '%s' is not a graph output", o->loss);
        out_mark[g->outputs[k]] = true;
    }
    for (int j = 0; o && j < o->n_seeded; j++) {
        int k = o->seeded[j] ? graph_output_index(g, o->seeded[j]) : -1;
        if (k < 0)
            return og_err(OG_ERR_INVALID_ARG, "check: seeded output '%s' is not a graph output",
                          o->seeded[j] ? o->seeded[j] : "(null)");
        out_mark[g->outputs[k]] = true;
    }
    for (int k = 0; !named && k < g->n_outputs; k++)
        if (float_value(g, g->outputs[k]) && !out_mark[g->outputs[k]]) {
            out_mark[g->outputs[k]] = true;
            seeded[(*n_seeded)++] = g->values[g->outputs[k]].name;
        }
    if (o && o->n_wrt > 0) {
        for (int j = 0; j < o->n_wrt; j++) {
            int v = o->wrt[j] ? og_graph_find_value(g, o->wrt[j]) : -1;
            if (v < 0 || (!g->values[v].is_input && !g->values[v].initializer))
                return og_err(OG_ERR_INVALID_ARG, "check: wrt '%s' is not a graph input or initializer",
                              o->wrt[j] ? o->wrt[j] : "(null)");
            wrt_mark[v] = true;
            (*n_wrt)++;
        }
    } else {
        for (int v = 0; v < g->n_values; v++)
            if ((g->values[v].is_input || g->values[v].initializer) && float_value(g, v)) {
                wrt_mark[v] = true;
                (*n_wrt)++;
            }
    }
    return OG_OK;
}

og_status og_model_check(og_graph *g, const og_check_options *o, og_check_report **out)
{
    if (!g || !out)
        return og_err(OG_ERR_INVALID_ARG, "og_model_check: NULL argument");
    *out = NULL;
    /* Gradient nodes are lowered first: finalize would rebuild the graph
     * under the pointers this report borrows. A failure leaves them, and
     * finalize below reports it. */
    if (!g->finalized && og_lower_gradient(g) != OG_OK)
        og_err_clear();
    og_check_report *r = og_calloc(1, sizeof *r);
    int nv = g->n_values, cap_blocking = 0;
    bool *fwd = og_calloc((size_t)nv + 1, sizeof(bool)), *bwd = og_calloc((size_t)nv + 1, sizeof(bool));
    const char **seeded = og_calloc((size_t)g->n_outputs + 1, sizeof(char *));
    og_status st = OG_OK;
    if (!r || !fwd || !bwd || !seeded || !(r->ops = og_calloc((size_t)g->n_nodes + 1, sizeof *r->ops))) {
        st = og_err(OG_ERR_NOMEM, "out of memory checking the model");
        goto done;
    }
    r->n_nodes = g->n_nodes;
    int n_seeded = 0;
    if ((st = choose(g, o, bwd, fwd, seeded, &n_seeded, &r->n_wrt)))
        goto done;
    reach(g, fwd, true);
    reach(g, bwd, false);
    for (int i = 0; i < g->n_nodes && !st; i++) {
        const og_node *n = &g->nodes[i];
        int k = 0;
        while (k < r->n_ops && !(strcmp(r->ops[k].op_type, n->op_type) == 0 && strcmp(r->ops[k].domain, n->domain) == 0))
            k++;
        og_check_op *e = &r->ops[k];
        if (k == r->n_ops) {
            const og_op *op = og_op_find(n->domain, n->op_type);
            e->op_type = n->op_type;
            e->domain = n->domain;
            e->opset = opset_of(g, n->domain);
            e->implemented = op && e->opset >= op->since_version;
            e->has_backward = op && op->backward;
            r->n_ops++;
        }
        e->count++;
        bool in_path = false, out_path = false;
        for (int j = 0; j < n->n_inputs; j++)
            in_path = in_path || (n->inputs[j] >= 0 && fwd[n->inputs[j]] && diff_edge(n, true, j));
        for (int j = 0; j < n->n_outputs; j++)
            out_path = out_path || (n->outputs[j] >= 0 && bwd[n->outputs[j]] && diff_edge(n, false, j));
        if (in_path && out_path) {
            e->on_path++;
            r->n_path_nodes++;
        }
        if (!e->implemented)
            st = add_blocking(r, &cap_blocking, n, e->opset >= 0 && og_op_find(n->domain, n->op_type)
                              ? "not implemented by onnxgrad at the model's opset" : "not implemented by onnxgrad");
        else if (in_path && out_path && !e->has_backward)
            st = add_blocking(r, &cap_blocking, n, "no backward rule, and the node is on the differentiation path");
    }
    if (st)
        goto done;
    og_status fin = g->finalized ? OG_OK : og_graph_finalize(g);
    r->loads = fin == OG_OK;
    r->load_error = og_strdup(r->loads ? "" : og_errmsg());
    const char *why = "";
    char buf[1024];
    og_graph *gg = NULL;
    if (!r->loads) {
        why = "the model does not load";
    } else if (r->n_wrt == 0) {
        why = "the model has no floating-point input or initializer to differentiate with respect to";
    } else if (!(o && o->loss) && n_seeded + (o ? o->n_seeded : 0) == 0) {
        why = "the model has no floating-point output to differentiate";
    } else {
        const char **wrt = og_calloc((size_t)r->n_wrt + 1, sizeof(char *));
        int w = 0;
        for (int v = 0; wrt && v < nv; v++)
            if (g->values[v].is_input || g->values[v].initializer) {
                bool chosen = false;
                for (int j = 0; o && j < o->n_wrt; j++)
                    chosen = chosen || strcmp(o->wrt[j], g->values[v].name) == 0;
                if (o && o->n_wrt > 0 ? chosen : float_value(g, v))
                    wrt[w++] = g->values[v].name;
            }
        og_grad_options go = { .loss = o ? o->loss : NULL, .n_seeded = o && o->n_seeded ? o->n_seeded : n_seeded,
                               .seeded = o && o->n_seeded ? o->seeded : seeded, .n_wrt = w, .wrt = wrt,
                               .allow_unused = true };
        if (!wrt)
            why = "out of memory";
        else if (og_graph_build_gradient(g, &go, &gg) != OG_OK) {
            snprintf(buf, sizeof buf, "%s", og_errmsg());
            why = buf;
        }
        og_free(wrt);
        og_graph_free(gg);
        r->differentiable = why[0] == '\0';
        if (!r->differentiable && r->n_blocking == 0)
            st = add_blocking(r, &cap_blocking, NULL, why);
    }
    r->grad_error = og_strdup(why);
    if (!st && (!r->load_error || !r->grad_error))
        st = og_err(OG_ERR_NOMEM, "out of memory checking the model");
done:
    og_free(fwd);
    og_free(bwd);
    og_free(seeded);
    if (st) {
        og_check_report_free(r);
        return st;
    }
    *out = r;
    return OG_OK;
}

void og_check_report_free(og_check_report *r)
{
    if (!r)
        return;
    for (int k = 0; k < r->n_blocking; k++)
        og_free((void *)r->blocking[k]);
    og_free(r->blocking);
    og_free((void *)r->load_error);
    og_free((void *)r->grad_error);
    og_free(r->ops);
    og_free(r);
}
