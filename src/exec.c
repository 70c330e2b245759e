/* exec.c — plans a finalized graph (order, last use of every value, shared
 * scratch workspace) and runs it: intermediates are freed right after their
 * last consumer, kernels get their scratch from the plan's workspace. */
#include <string.h>
#include "internal.h"

struct og_plan {
    const og_graph *g;
    int *feeds;            /* value indices of graph inputs without initializer */
    int n_feeds;
    int *last_use;         /* per value: position in g->order of its last consumer; -1 none */
    bool *is_output;       /* per value: a graph output (never freed early) */
    void *workspace_raw;   /* allocation behind `workspace` */
    void *workspace;       /* 64-byte aligned */
    size_t workspace_bytes;
};

void og_plan_free(og_plan *p)
{
    if (!p)
        return;
    og_free(p->feeds);
    og_free(p->last_use);
    og_free(p->is_output);
    og_free(p->workspace_raw);
    og_free(p);
}

int og_plan_num_feeds(const og_plan *p) { return p->n_feeds; }

static og_status reserve_workspace(og_plan *p, size_t bytes)
{
    if (bytes <= p->workspace_bytes)
        return OG_OK;
    if (bytes > SIZE_MAX - 64)
        return og_err(OG_ERR_LIMIT, "kernel workspace of %zu bytes is too large", bytes);
    void *raw = og_calloc(1, bytes + 64);
    if (!raw)
        return og_err(OG_ERR_NOMEM, "out of memory reserving %zu bytes of kernel workspace", bytes);
    og_free(p->workspace_raw);
    p->workspace_raw = raw;
    p->workspace = (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    p->workspace_bytes = bytes;
    return OG_OK;
}

static size_t tensor_bytes(const og_tensor *t) { return t ? (size_t)t->numel * og_dtype_size(t->dtype) : 0; }

static og_status over_budget(const og_node *n, size_t live, size_t need, size_t ws, int64_t limit)
{
    return og_err(OG_ERR_LIMIT, "node '%s' (%s): running needs %zu bytes of tensors alive at once plus %zu "
                  "bytes of kernel workspace, over the plan memory limit of %lld bytes (OG_LIMIT_PLAN_BYTES)",
                  n->name, n->op_type, live + need, ws, (long long)limit);
}

/* Bytes of a value's tensor when its shape is known statically; false if not. */
static bool static_bytes(const og_value *val, size_t *bytes)
{
    og_tinfo ti;
    og_value_get(val, &ti);
    if (ti.dtype == OG_UNDEFINED || !og_shape_known(&ti.shape))
        return false;
    return og_tensor_nbytes(ti.dtype, ti.shape.rank, ti.shape.dims, NULL, bytes) == OG_OK;
}

/* Replays the run's allocations (outputs made, inputs released after their
 * last use) on static shapes, so a graph that cannot fit the budget is
 * refused before anything runs. Graphs with unknown shapes are checked
 * node by node in og_plan_run instead. */
static og_status check_static_budget(const og_plan *p, size_t ws)
{
    const og_graph *g = p->g;
    int64_t limit = og_limit_get(OG_LIMIT_PLAN_BYTES);
    size_t live = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        size_t need = 0, b;
        for (int k = 0; k < n->n_outputs; k++) {
            if (n->outputs[k] < 0)
                continue;
            if (!static_bytes(&g->values[n->outputs[k]], &b))
                return OG_OK;
            need = need + b < need ? SIZE_MAX : need + b;
        }
        if (live > SIZE_MAX - need || live + need > (uint64_t)limit || ws > (uint64_t)limit - (live + need))
            return over_budget(n, live, need, ws, limit);
        live += need;
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v >= 0 && p->last_use[v] == i && !p->is_output[v] && !g->values[v].initializer
                && !g->values[v].is_input && static_bytes(&g->values[v], &b))
                live -= b;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v >= 0 && p->last_use[v] < 0 && !p->is_output[v] && static_bytes(&g->values[v], &b))
                live -= b;
        }
    }
    return OG_OK;
}

og_status og_plan_create(const og_graph *g, og_plan **out)
{
    *out = NULL;
    if (!g || !g->finalized)
        return og_err(OG_ERR_INVALID_ARG, "og_plan_create: the graph is not finalized (call og_graph_finalize)");
    og_plan *p = og_calloc(1, sizeof *p);
    if (!p)
        return og_err(OG_ERR_NOMEM, "out of memory creating a plan");
    p->g = g;
    p->feeds = og_calloc((size_t)g->n_inputs + 1, sizeof(int));
    p->last_use = og_calloc((size_t)g->n_values + 1, sizeof(int));
    p->is_output = og_calloc((size_t)g->n_values + 1, sizeof(bool));
    if (!p->feeds || !p->last_use || !p->is_output) {
        og_plan_free(p);
        return og_err(OG_ERR_NOMEM, "out of memory creating a plan");
    }
    for (int k = 0; k < g->n_inputs; k++)
        if (!g->values[g->inputs[k]].initializer)
            p->feeds[p->n_feeds++] = g->inputs[k];
    for (int v = 0; v < g->n_values; v++)
        p->last_use[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                p->last_use[n->inputs[k]] = i;
    }
    for (int k = 0; k < g->n_outputs; k++)
        p->is_output[g->outputs[k]] = true;
    /* Size the workspace now when shapes are static; runs grow it if needed. */
    size_t ws = 0;
    const og_node *biggest = NULL;   /* the node needing the most scratch */
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        const og_tinfo *in[OG_MAX_IO] = { 0 };
        const og_tensor *vals[OG_MAX_IO] = { 0 };
        og_tinfo ins[OG_MAX_IO], outs[OG_MAX_IO], *o[OG_MAX_IO] = { 0 };
        bool known = true;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) {
                og_value_get(&g->values[n->inputs[k]], &ins[k]);
                in[k] = &ins[k];
                vals[k] = og_value_data(&g->values[n->inputs[k]]);
                known = known && og_shape_known(&in[k]->shape);
            }
        for (int k = 0; k < n->n_outputs; k++)
            o[k] = n->outputs[k] >= 0 ? &outs[k] : NULL;
        size_t need = 0;
        if (known && og_node_infer(g, n, in, vals, o, &need) == OG_OK && need > ws) {
            ws = need;
            biggest = n;
        }
    }
    og_status st = check_static_budget(p, ws);
    if (st == OG_OK && (st = reserve_workspace(p, ws)))
        og_err_prefix("node '%s' (%s): ", biggest->name, biggest->op_type);
    if (st) {
        og_plan_free(p);
        return st;
    }
    *out = p;
    return OG_OK;
}

/* A shape the graph holds (dims < 0 unknown, rank < 0 unknown) against a
 * concrete one. */
static bool shape_clashes(const og_shape *have, const og_shape *got)
{
    bool clash = have->rank >= 0 && have->rank != got->rank;
    for (int k = 0; !clash && have->rank >= 0 && k < got->rank; k++)
        clash = have->dims[k] >= 0 && have->dims[k] != got->dims[k];
    return clash;
}

static og_status check_feed(const og_value *val, const og_tensor *t)
{
    char a[OG_SHAPE_STR_MAX], b[OG_SHAPE_STR_MAX];
    /* The caller may have filled the struct by hand: trust nothing in it. */
    int64_t numel;
    if (t->rank < 0 || t->rank > OG_MAX_RANK)
        return og_err(OG_ERR_INVALID_ARG, "input '%s': tensor rank %d is outside 0..%d", val->name, t->rank,
                      OG_MAX_RANK);
    if (og_tensor_nbytes(t->dtype, t->rank, t->dims, &numel, NULL))
        return og_err_prefix("input '%s': ", val->name);
    if (numel != t->numel)
        return og_err(OG_ERR_INVALID_ARG, "input '%s': tensor numel is %lld, but its dims hold %lld elements",
                      val->name, (long long)t->numel, (long long)numel);
    og_shape got = { t->rank, { 0 } };
    memcpy(got.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    og_tinfo want;
    og_value_get(val, &want);
    if (want.dtype != OG_UNDEFINED && want.dtype != t->dtype)
        return og_err(OG_ERR_SHAPE, "input '%s': got a %s tensor, expected %s", val->name, og_dtype_name(t->dtype),
                      og_dtype_name(want.dtype));
    if (shape_clashes(&want.shape, &got))
        return og_err(OG_ERR_SHAPE, "input '%s': got shape %s, expected %s", val->name, og_shape_str(&got, a, sizeof a),
                      og_shape_str(&want.shape, b, sizeof b));
    if (!t->data)
        return og_err(OG_ERR_INVALID_ARG, "input '%s': tensor has no data", val->name);
    return OG_OK;
}

/* Binds caller tensors to graph inputs: by name when the tensor's name
 * matches a graph input, else to the next unbound feed. */
static og_status bind_inputs(const og_plan *p, int n_inputs, const og_tensor *const *inputs,
                             const og_tensor **bound)
{
    const og_graph *g = p->g;
    int next_feed = 0;
    for (int i = 0; i < n_inputs; i++) {
        const og_tensor *t = inputs[i];
        if (!t)
            return og_err(OG_ERR_INVALID_ARG, "run: input %d is NULL", i);
        int v = t->name ? og_graph_find_value(g, t->name) : -1;
        if (v < 0 || !g->values[v].is_input) {
            while (next_feed < p->n_feeds && bound[p->feeds[next_feed]])
                next_feed++;
            if (next_feed >= p->n_feeds)
                return og_err(OG_ERR_INVALID_ARG, "run: input %d%s%s%s does not match any unbound graph input (%d expected)",
                              i, t->name ? " '" : "", t->name ? t->name : "", t->name ? "'" : "", p->n_feeds);
            v = p->feeds[next_feed];
        }
        if (bound[v])
            return og_err(OG_ERR_INVALID_ARG, "run: graph input '%s' is bound twice", g->values[v].name);
        og_status st = check_feed(&g->values[v], t);
        if (st)
            return st;
        bound[v] = t;
    }
    for (int k = 0; k < p->n_feeds; k++)
        if (!bound[p->feeds[k]])
            return og_err(OG_ERR_INVALID_ARG, "run: graph input '%s' was not given", g->values[p->feeds[k]].name);
    for (int k = 0; k < g->n_inits; k++)
        if (!bound[g->inits[k]])
            bound[g->inits[k]] = g->values[g->inits[k]].initializer;
    return OG_OK;
}

static void tinfo_of(const og_tensor *t, og_tinfo *ti)
{
    ti->dtype = t->dtype;
    ti->shape.rank = t->rank;
    memcpy(ti->shape.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
}

/* A node's concrete output must fit what the graph says of the value (its
 * declaration merged with load-time inference): inputs with unknown dims
 * can otherwise produce an output shaped unlike the one the model declares. */
static og_status check_static_type(const og_node *n, const og_value *val, const og_tinfo *got)
{
    char a[OG_SHAPE_STR_MAX], b[OG_SHAPE_STR_MAX];
    og_tinfo have_ti, *have = &have_ti;
    og_value_get(val, have);
    if (have->dtype != OG_UNDEFINED && have->dtype != got->dtype)
        return og_err(OG_ERR_SHAPE, "node '%s' (%s): output '%s' is %s, but the graph says %s", n->name,
                      n->op_type, val->name, og_dtype_name(got->dtype), og_dtype_name(have->dtype));
    if (shape_clashes(&have->shape, &got->shape))
        return og_err(OG_ERR_SHAPE, "node '%s' (%s): output '%s' has shape %s, but the graph says %s", n->name,
                      n->op_type, val->name, og_shape_str(&got->shape, a, sizeof a),
                      og_shape_str(&have->shape, b, sizeof b));
    return OG_OK;
}

og_status og_plan_run(og_plan *p, int n_inputs, const og_tensor *const *inputs, og_tensor **outputs)
{
    if (!p || !outputs || (n_inputs && !inputs))
        return og_err(OG_ERR_INVALID_ARG, "og_plan_run: NULL argument");
    const og_graph *g = p->g;
    for (int k = 0; k < g->n_outputs; k++)
        outputs[k] = NULL;
    const og_tensor **borrowed = og_calloc((size_t)g->n_values + 1, sizeof *borrowed);
    og_tensor **owned = og_calloc((size_t)g->n_values + 1, sizeof *owned);
    og_status st = OG_OK;
    if (!borrowed || !owned) {
        st = og_err(OG_ERR_NOMEM, "out of memory starting a run");
        goto done;
    }
    if ((st = bind_inputs(p, n_inputs, inputs, borrowed)))
        goto done;
    int64_t limit = og_limit_get(OG_LIMIT_PLAN_BYTES);
    size_t live = 0;   /* bytes of the tensors this run holds */
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        og_kernel_call kc;
        og_tinfo in_ti[OG_MAX_IO], out_ti[OG_MAX_IO];
        const og_tinfo *in[OG_MAX_IO] = { 0 };
        og_tinfo *out[OG_MAX_IO] = { 0 };
        memset(&kc, 0, sizeof kc);
        kc.node = n;
        kc.params = n->params;
        kc.opset = n->opset;
        kc.n_in = n->n_inputs;
        kc.n_out = n->n_outputs;
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v < 0)
                continue;
            kc.in[k] = owned[v] ? owned[v] : borrowed[v];
            tinfo_of(kc.in[k], &in_ti[k]);
            in[k] = &in_ti[k];
        }
        for (int k = 0; k < n->n_outputs; k++)
            out[k] = n->outputs[k] >= 0 ? &out_ti[k] : NULL;
        size_t ws = 0, need = 0;
        if ((st = og_node_infer(g, n, in, kc.in, out, &ws)))
            goto done;
        for (int k = 0; k < n->n_outputs; k++)
            if (out[k] && (st = check_static_type(n, &g->values[n->outputs[k]], out[k])))
                goto done;
        for (int k = 0; k < n->n_outputs; k++) {
            size_t b;
            if (out[k] && og_tensor_nbytes(out_ti[k].dtype, out_ti[k].shape.rank, out_ti[k].shape.dims, NULL, &b) == OG_OK)
                need = need + b < need ? SIZE_MAX : need + b;
        }
        size_t ws_after = ws > p->workspace_bytes ? ws : p->workspace_bytes;
        if (live > SIZE_MAX - need || live + need > (uint64_t)limit || ws_after > (uint64_t)limit - (live + need)) {
            st = over_budget(n, live, need, ws_after, limit);
            goto done;
        }
        if ((st = reserve_workspace(p, ws))) {
            og_err_prefix("node '%s' (%s): ", n->name, n->op_type);
            goto done;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            if (n->outputs[k] < 0)
                continue;   /* unwanted: the kernel sees NULL and skips it */
            if ((st = og_tensor_create(out_ti[k].dtype, out_ti[k].shape.rank, out_ti[k].shape.dims, &kc.out[k]))) {
                og_err_prefix("node '%s' (%s): output '%s': ", n->name, n->op_type, g->values[n->outputs[k]].name);
                for (int j = 0; j < k; j++)
                    og_tensor_free(kc.out[j]);
                goto done;
            }
        }
        kc.workspace = p->workspace;
        kc.workspace_bytes = p->workspace_bytes;
        st = n->op->run(&kc);
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0) {
                owned[n->outputs[k]] = kc.out[k];
                live += tensor_bytes(kc.out[k]);
            }
        if (st)
            goto done;
        /* Release what no later node reads. */
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v >= 0 && p->last_use[v] == i && !p->is_output[v] && owned[v]) {
                live -= tensor_bytes(owned[v]);
                og_tensor_free(owned[v]);
                owned[v] = NULL;
            }
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v >= 0 && p->last_use[v] < 0 && !p->is_output[v] && owned[v]) {
                live -= tensor_bytes(owned[v]);
                og_tensor_free(owned[v]);
                owned[v] = NULL;
            }
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (owned[v]) {
            outputs[k] = owned[v];
            owned[v] = NULL;
        } else if (borrowed[v]) {
            st = og_tensor_clone(borrowed[v], &outputs[k]);   /* an input or initializer passed through */
        } else {
            st = og_err(OG_ERR_INTERNAL, "run: graph output '%s' was not computed", g->values[v].name);
        }
        if (!st)
            st = og_tensor_set_name(outputs[k], g->values[v].name);
        if (st) {
            for (int j = 0; j <= k; j++) {
                og_tensor_free(outputs[j]);
                outputs[j] = NULL;
            }
            goto done;
        }
    }
done:
    if (owned)
        for (int v = 0; v < g->n_values; v++)
            og_tensor_free(owned[v]);
    og_free(owned);
    og_free(borrowed);
    return st;
}
