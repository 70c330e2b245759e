/* SPDX-License-Identifier: MIT */
/* finalize.c — turns a built graph into a checked one: opsets and ops
 * resolved, attributes parsed, every input produced, nodes ordered
 * topologically (Kahn, no recursion), and dtypes/shapes inferred node by
 * node so a wrong model is rejected before any kernel runs. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

/* The newest default-domain opset whose semantics onnxgrad implements. */
#define OG_MAX_OPSET 17

const char *og_shape_str(const og_shape *s, char *buf, size_t size)
{
    if (s->rank < 0) {
        snprintf(buf, size, "[unknown rank]");
        return buf;
    }
    size_t at = 0;
    at += (size_t)snprintf(buf, size, "[");
    for (int k = 0; k < s->rank && at < size; k++) {
        if (s->dims[k] < 0)
            at += (size_t)snprintf(buf + at, size - at, "%s?", k ? "," : "");
        else
            at += (size_t)snprintf(buf + at, size - at, "%s%lld", k ? "," : "", (long long)s->dims[k]);
    }
    if (at < size)
        snprintf(buf + at, size - at, "]");
    return buf;
}

bool og_shape_known(const og_shape *s)
{
    if (s->rank < 0)
        return false;
    for (int k = 0; k < s->rank; k++)
        if (s->dims[k] < 0)
            return false;
    return true;
}

og_status og_node_infer(const og_graph *g, const og_node *node, const og_tinfo *const *in,
                        const og_tensor *const *in_values, og_tinfo *const *out, size_t *workspace_bytes)
{
    return og_node_infer_ex(g, node, in, in_values, out, workspace_bytes, true);
}

og_status og_node_infer_ex(const og_graph *g, const og_node *node, const og_tinfo *const *in,
                           const og_tensor *const *in_values, og_tinfo *const *out, size_t *workspace_bytes,
                           bool check_limits)
{
    og_infer_call c;
    memset(&c, 0, sizeof c);
    c.node = node;
    c.params = node->params;
    c.opset = node->opset;
    c.n_in = node->n_inputs;
    c.n_out = node->n_outputs;
    for (int k = 0; k < node->n_inputs; k++) {
        c.in[k] = in[k];
        c.in_value[k] = in_values ? in_values[k] : NULL;
        c.in_names[k] = node->inputs[k] >= 0 ? g->values[node->inputs[k]].name : "";
    }
    for (int k = 0; k < node->n_outputs; k++) {
        c.out[k] = out[k];
        c.out_names[k] = node->outputs[k] >= 0 ? g->values[node->outputs[k]].name : "";
        if (out[k]) {
            out[k]->dtype = OG_UNDEFINED;
            out[k]->shape.rank = -1;
        }
    }
    og_status st = node->op->infer(&c);
    if (workspace_bytes)
        *workspace_bytes = c.workspace_bytes;
    /* Every tensor the graph can make passes through here, so this bounds
     * them all before the planner or a kernel allocates anything. */
    for (int k = 0; check_limits && k < node->n_outputs && st == OG_OK; k++) {
        if (!out[k] || !og_shape_known(&out[k]->shape))
            continue;   /* unknown shapes are checked when the tensor is made */
        int64_t numel = 1;
        for (int d = 0; d < out[k]->shape.rank; d++)
            if (!og_mul_ok(numel, out[k]->shape.dims[d], &numel))
                numel = INT64_MAX;
        char what[256], sh[OG_SHAPE_STR_MAX];
        snprintf(what, sizeof what, "node '%s' (%s): output '%s' of shape %s", node->name, node->op_type,
                 c.out_names[k], og_shape_str(&out[k]->shape, sh, sizeof sh));
        st = og_check_numel_limit(numel, what);
    }
    return st;
}

static int opset_of(const og_graph *g, const char *domain)
{
    for (int k = 0; k < g->n_opsets; k++)
        if (strcmp(g->opsets[k].domain, domain) == 0)
            return (int)(g->opsets[k].version > 1000000 ? 1000000 : g->opsets[k].version);
    return -1;
}

/* Every op of the model onnxgrad lacks (or lacks at the model's opset),
 * each once with its node count and first node, in one error: a user
 * learns the whole gap at once, not one op per attempt. OG_OK if none. */
static og_status missing_ops(const og_graph *g)
{
    enum { MAX_LISTED = 32 };
    struct missing { const og_node *first; int count; } miss[MAX_LISTED];
    int n_miss = 0, more = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[i];
        const og_op *op = og_op_find(n->domain, n->op_type);
        int opset = opset_of(g, n->domain);
        if (op && (opset < 0 || opset >= op->since_version))
            continue;
        int k = 0;
        while (k < n_miss && !(strcmp(miss[k].first->op_type, n->op_type) == 0 &&
                               strcmp(miss[k].first->domain, n->domain) == 0))
            k++;
        if (k < n_miss)
            miss[k].count++;
        else if (n_miss < MAX_LISTED)
            miss[n_miss++] = (struct missing){ n, 1 };
        else
            more++;
    }
    if (n_miss == 0)
        return OG_OK;
    char msg[2048];
    size_t len = (size_t)snprintf(msg, sizeof msg, "the model uses %d op%s not implemented by onnxgrad:",
                                  n_miss + more, n_miss + more == 1 ? "" : "s");
    for (int k = 0; k < n_miss && len < sizeof msg; k++) {
        const og_node *n = miss[k].first;
        const og_op *op = og_op_find(n->domain, n->op_type);
        char at[160] = "";
        if (op)
            snprintf(at, sizeof at, " at opset %d (older than the oldest %.40s onnxgrad implements, %d)",
                     opset_of(g, n->domain), n->op_type, op->since_version);
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%s %s%s%s%s%s (%d node%s, first '%s')", k ? ";" : "",
                                n->op_type, n->domain[0] ? " in domain '" : "", n->domain, n->domain[0] ? "'" : "",
                                at, miss[k].count, miss[k].count == 1 ? "" : "s", n->name);
    }
    if (more && len < sizeof msg)
        snprintf(msg + len, sizeof msg - len, "; and %d more", more);
    return og_err(OG_ERR_UNSUPPORTED, "%s", msg);
}

static og_status resolve_nodes(og_graph *g)
{
    for (int k = 0; k < g->n_opsets; k++) {
        const og_opset_id *o = &g->opsets[k];
        if (o->domain[0] == '\0' && (o->version < 1 || o->version > OG_MAX_OPSET))
            return og_err(OG_ERR_UNSUPPORTED, "opset %lld of the default domain is not supported (onnxgrad implements 1..%d)",
                          (long long)o->version, OG_MAX_OPSET);
    }
    og_status missing = missing_ops(g);
    if (missing)
        return missing;
    const char *prev_domain = NULL;
    int prev_opset = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        og_node *n = &g->nodes[i];
        const char *what = n->name;
        n->op = og_op_find(n->domain, n->op_type);
        if (!n->op)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s': unknown op '%s' in domain '%s'", what, n->op_type,
                          n->domain[0] ? n->domain : "ai.onnx");
        /* Nodes of one domain usually come together; look up only on change. */
        if (!prev_domain || strcmp(prev_domain, n->domain) != 0) {
            prev_domain = n->domain;
            prev_opset = opset_of(g, n->domain);
        }
        n->opset = prev_opset;
        if (n->opset < 0)
            return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (%s): the model imports no opset for domain '%s'", what,
                          n->op_type, n->domain[0] ? n->domain : "ai.onnx");
        if (n->opset < n->op->since_version)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): opset %d is older than the oldest %s onnxgrad implements (%d)",
                          what, n->op_type, n->opset, n->op_type, n->op->since_version);
        if (n->n_inputs < n->op->min_inputs || n->n_inputs > n->op->max_inputs)
            return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (%s): has %d inputs, expected %d to %d", what, n->op_type,
                          n->n_inputs, n->op->min_inputs, n->op->max_inputs);
        if (n->n_outputs < n->op->min_outputs || n->n_outputs > n->op->max_outputs)
            return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (%s): has %d outputs, expected %d to %d", what, n->op_type,
                          n->n_outputs, n->op->min_outputs, n->op->max_outputs);
        for (int k = 0; k < n->op->min_inputs; k++)
            if (n->inputs[k] < 0)
                return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (%s): required input %d is omitted (empty name)", what,
                              n->op_type, k);
        og_free(n->params);
        n->params = n->op->params_size ? og_calloc(1, n->op->params_size) : NULL;
        if (n->op->params_size && !n->params)
            return og_err(OG_ERR_NOMEM, "out of memory parsing attributes of node '%s'", what);
        og_status st = og_parse_attrs(n->op, n, n->opset, n->params);
        if (st)
            return st;
    }
    return OG_OK;
}

static const char *value_origin(const og_value *v)
{
    return v->initializer ? "an initializer" : "a graph input";
}

static og_status check_producers(const og_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v < 0)
                continue;
            const og_value *val = &g->values[v];
            if (val->producer < 0 && !val->is_input && !val->initializer)
                return og_err(OG_ERR_INVALID_GRAPH,
                              "node '%s' (%s): input %d '%s' is not produced by any node, graph input or initializer",
                              n->name, n->op_type, k, val->name);
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v >= 0 && (g->values[v].is_input || g->values[v].initializer))
                return og_err(OG_ERR_INVALID_GRAPH, "value '%s' is produced twice: by node '%s' (%s) and as %s",
                              g->values[v].name, n->name, n->op_type, value_origin(&g->values[v]));
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const og_value *val = &g->values[g->outputs[k]];
        if (val->producer < 0 && !val->is_input && !val->initializer)
            return og_err(OG_ERR_INVALID_GRAPH, "graph output '%s' is not produced by any node, graph input or initializer",
                          val->name);
    }
    return OG_OK;
}

/* Kahn's algorithm; ties keep insertion order, so a graph already in order
 * stays in the order it was written. */
static og_status topo_sort(og_graph *g)
{
    int n = g->n_nodes;
    int *pending = og_calloc((size_t)n + 1, sizeof(int));       /* unmet producer count per node */
    int *first_use = og_calloc((size_t)g->n_values + 1, sizeof(int)); /* CSR of value -> consumers */
    int *order = og_calloc((size_t)n + 1, sizeof(int));
    og_status st = OG_OK;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += (size_t)g->nodes[i].n_inputs;
    int *uses = og_calloc(total + 1, sizeof(int));
    if (!pending || !first_use || !uses || !order) {
        st = og_err(OG_ERR_NOMEM, "out of memory ordering %d nodes", n);
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int v = g->nodes[i].inputs[k];
            if (v >= 0 && g->values[v].producer >= 0) {
                pending[i]++;
                first_use[v + 1]++;
            }
        }
    for (int v = 0; v < g->n_values; v++)
        first_use[v + 1] += first_use[v];
    {
        int *fill = og_calloc((size_t)g->n_values + 1, sizeof(int));
        if (!fill) {
            st = og_err(OG_ERR_NOMEM, "out of memory ordering %d nodes", n);
            goto done;
        }
        for (int i = 0; i < n; i++)
            for (int k = 0; k < g->nodes[i].n_inputs; k++) {
                int v = g->nodes[i].inputs[k];
                if (v >= 0 && g->values[v].producer >= 0)
                    uses[first_use[v] + fill[v]++] = i;
            }
        og_free(fill);
    }
    /* `order` doubles as the queue: [head, tail) are ready nodes. Nodes
     * become ready in increasing index order only when they start ready,
     * which keeps an already-ordered graph unchanged. */
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (pending[i] == 0)
            order[tail++] = i;
    while (head < tail) {
        const og_node *node = &g->nodes[order[head++]];
        for (int k = 0; k < node->n_outputs; k++) {
            int v = node->outputs[k];
            if (v < 0)
                continue;
            for (int u = first_use[v]; u < first_use[v + 1]; u++)
                if (--pending[uses[u]] == 0)
                    order[tail++] = uses[u];
        }
    }
    if (tail < n) {
        /* Every unordered node waits on an unordered producer; walking back
         * through those must revisit a node, and that node is on a cycle.
         * A negated count marks a visited node. */
        int at = 0;
        while (pending[at] == 0)
            at++;
        while (pending[at] > 0) {
            pending[at] = -pending[at];   /* visited */
            const og_node *node = &g->nodes[at];
            for (int k = 0; k < node->n_inputs; k++) {
                int v = node->inputs[k];
                int p = v >= 0 ? g->values[v].producer : -1;
                if (p >= 0 && pending[p] != 0) {
                    at = p;
                    break;
                }
            }
        }
        st = og_err(OG_ERR_INVALID_GRAPH, "graph has a cycle through node '%s' (%s)", g->nodes[at].name,
                    g->nodes[at].op_type);
        goto done;
    }
    og_free(g->order);
    g->order = order;
    order = NULL;
done:
    og_free(pending);
    og_free(first_use);
    og_free(uses);
    og_free(order);
    return st;
}

/* Checks that what inference found agrees with what the model declared, and
 * keeps the more precise of the two. A dtype that contradicts is an error;
 * a shape that does is a warning, and the inferred shape wins. */
static og_status merge_type(og_graph *g, og_value *val, const og_tinfo *got, const og_node *n)
{
    char a[OG_SHAPE_STR_MAX], b[OG_SHAPE_STR_MAX];
    if (!val->declared)
        return og_value_set(val, got);
    og_tinfo have_ti, *have = &have_ti;
    og_value_get(val, have);
    if (have->dtype != OG_UNDEFINED && got->dtype != OG_UNDEFINED && have->dtype != got->dtype)
        return og_err(OG_ERR_SHAPE, "node '%s' (%s): output '%s' is %s, but the model declares %s", n->name,
                      n->op_type, val->name, og_dtype_name(got->dtype), og_dtype_name(have->dtype));
    if (have->dtype == OG_UNDEFINED)
        have->dtype = got->dtype;
    if (got->shape.rank < 0)
        return og_value_set(val, have);
    if (have->shape.rank < 0) {
        have->shape = got->shape;
        return og_value_set(val, have);
    }
    bool clash = have->shape.rank != got->shape.rank;
    for (int k = 0; !clash && k < got->shape.rank; k++)
        clash = have->shape.dims[k] >= 0 && got->shape.dims[k] >= 0 && have->shape.dims[k] != got->shape.dims[k];
    if (clash) {
        /* Exporters declare shapes that are wrong (torch: MaxPool with
         * ceil_mode); the op's semantics decide, as in ONNX Runtime. */
        og_warn(g, "node '%s' (%s): output '%s' has shape %s, but the model declares %s; using %s", n->name,
                n->op_type, val->name, og_shape_str(&got->shape, a, sizeof a), og_shape_str(&have->shape, b, sizeof b),
                a);
        have->shape = got->shape;
    }
    for (int k = 0; k < got->shape.rank; k++)
        if (have->shape.dims[k] < 0)
            have->shape.dims[k] = got->shape.dims[k];
    return og_value_set(val, have);
}

static og_status seed_initializers(og_graph *g)
{
    char a[OG_SHAPE_STR_MAX], b[OG_SHAPE_STR_MAX];
    for (int k = 0; k < g->n_inits; k++) {
        og_value *val = &g->values[g->inits[k]];
        const og_tensor *t = val->initializer;
        og_tinfo ti = { t->dtype, { t->rank, { 0 } } }, have;
        memcpy(ti.shape.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        og_value_get(val, &have);
        if (val->declared) {
            bool clash = (have.dtype != OG_UNDEFINED && have.dtype != t->dtype) ||
                         (have.shape.rank >= 0 && have.shape.rank != t->rank);
            for (int d = 0; !clash && d < t->rank && have.shape.rank >= 0; d++)
                clash = have.shape.dims[d] >= 0 && have.shape.dims[d] != t->dims[d];
            if (clash)
                return og_err(OG_ERR_SHAPE, "initializer '%s' is %s %s, but the model declares it %s %s", val->name,
                              og_dtype_name(t->dtype), og_shape_str(&ti.shape, a, sizeof a),
                              og_dtype_name(have.dtype), og_shape_str(&have.shape, b, sizeof b));
        }
        /* A graph input with an initializer may be overridden at run time,
         * so its declared (possibly looser) type stays what the graph says. */
        og_status st;
        if ((!val->is_input || !val->declared) && (st = og_value_set(val, &ti)))
            return st;
    }
    return OG_OK;
}

/* Outputs of a node whose inputs are all known are computed at finalize
 * when they are small int64 tensors (shapes, axes, pads) or a few floats
 * (Resize's scales): the ops that read such data for shape inference then
 * see it. Bigger or other values are
 * left to the executor. */
#define OG_FOLD_MAX_ELEMENTS 4096
#define OG_FOLD_MAX_FLOATS 16

og_status og_fold_node(const og_node *n, const og_tensor *const *in_values, const og_tinfo *const *in,
                       og_tinfo *const *out, size_t ws, og_tensor **folded)
{
    if (ws != 0 || !n->op->run)
        return OG_OK;
    /* An op that reads only shapes folds on headers without data. */
    og_tensor headers[OG_MAX_IO];
    const og_tensor *shape_only[OG_MAX_IO] = { 0 };
    for (int k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k] < 0 || in_values[k])
            continue;
        if (!n->op->reads_shape_only || !og_shape_known(&in[k]->shape))
            return OG_OK;
        memset(&headers[k], 0, sizeof headers[k]);
        headers[k].dtype = in[k]->dtype;
        headers[k].rank = in[k]->shape.rank;
        memcpy(headers[k].dims, in[k]->shape.dims, sizeof(int64_t) * (size_t)in[k]->shape.rank);
        og_tensor_nbytes(in[k]->dtype, in[k]->shape.rank, in[k]->shape.dims, &headers[k].numel, NULL);
        shape_only[k] = &headers[k];
    }
    bool any = false;
    for (int k = 0; k < n->n_outputs; k++) {
        if (!out[k])
            continue;
        int64_t numel = 1;
        /* a few floats too: Resize's scales and roi, which exporters write
         * as Constant nodes, so its output shape and gradient can use them */
        bool fp = out[k]->dtype == OG_FLOAT || out[k]->dtype == OG_DOUBLE;
        if ((out[k]->dtype != OG_INT64 && !fp) || !og_shape_known(&out[k]->shape))
            return OG_OK;
        /* checked: the symbol probes (symdims.c) infer with dims of large
         * primes, past og_node_infer's element limit */
        for (int d = 0; d < out[k]->shape.rank; d++)
            if (!og_mul_ok(numel, out[k]->shape.dims[d], &numel))
                return OG_OK;
        if (numel > (fp ? OG_FOLD_MAX_FLOATS : OG_FOLD_MAX_ELEMENTS))
            return OG_OK;
        any = true;
    }
    if (!any)
        return OG_OK;
    og_kernel_call kc;
    memset(&kc, 0, sizeof kc);
    kc.node = n;
    kc.params = n->params;
    kc.opset = n->opset;
    kc.n_in = n->n_inputs;
    kc.n_out = n->n_outputs;
    for (int k = 0; k < n->n_inputs; k++)
        kc.in[k] = in_values[k] ? in_values[k] : shape_only[k];
    og_status st = OG_OK;
    for (int k = 0; k < n->n_outputs && !st; k++)
        if (out[k])
            st = og_tensor_create(out[k]->dtype, out[k]->shape.rank, out[k]->shape.dims, &kc.out[k]);
    if (!st && (st = n->op->run(&kc)) == OG_OK)
        for (int k = 0; k < n->n_outputs; k++)
            if (kc.out[k]) {
                folded[k] = kc.out[k];
                kc.out[k] = NULL;
            }
    for (int k = 0; k < n->n_outputs; k++)
        og_tensor_free(kc.out[k]);
    if (st)
        og_err_prefix("node '%s' (%s): computing it from constants: ", n->name, n->op_type);
    return st;
}

static og_status infer_all(og_graph *g)
{
    for (int v = 0; v < g->n_values; v++) {
        og_tensor_free(g->values[v].folded);
        g->values[v].folded = NULL;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        og_node *n = &g->nodes[g->order[i]];
        const og_tinfo *in[OG_MAX_IO] = { 0 };
        const og_tensor *vals[OG_MAX_IO] = { 0 };
        og_tinfo ins[OG_MAX_IO], outs[OG_MAX_IO];
        og_tinfo *out[OG_MAX_IO] = { 0 };
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) {
                og_value_get(&g->values[n->inputs[k]], &ins[k]);
                in[k] = &ins[k];
                vals[k] = og_value_data(&g->values[n->inputs[k]]);
            }
        for (int k = 0; k < n->n_outputs; k++)
            out[k] = n->outputs[k] >= 0 ? &outs[k] : NULL;
        size_t ws = 0;
        og_status st = og_node_infer(g, n, in, vals, out, &ws);
        if (st)
            return st;
        for (int k = 0; k < n->n_outputs; k++)
            if (out[k] && (st = merge_type(g, &g->values[n->outputs[k]], out[k], n)))
                return st;
        og_tensor *folded[OG_MAX_IO] = { 0 };
        if ((st = og_fold_node(n, vals, in, out, ws, folded)))
            return st;
        for (int k = 0; k < n->n_outputs; k++)
            if (folded[k])
                g->values[n->outputs[k]].folded = folded[k];
    }
    return og_infer_symbols(g);
}

og_status og_graph_finalize(og_graph *g)
{
    if (!g)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_finalize: graph is NULL");
    og_status st;
    if (g->n_outputs == 0)
        return og_err(OG_ERR_INVALID_GRAPH, "graph has no outputs");
    if ((st = og_lower_gradient(g)))
        return st;
    for (int k = 0; k < g->n_nodes; k++) {
        const og_node *n = &g->nodes[k];
        if (n->n_inputs > OG_MAX_IO)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): has %d inputs; onnxgrad supports at most %d", n->name,
                          n->op_type, n->n_inputs, OG_MAX_IO);
        if (n->n_outputs > OG_MAX_IO)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): has %d outputs; onnxgrad supports at most %d", n->name,
                          n->op_type, n->n_outputs, OG_MAX_IO);
    }
    if ((st = resolve_nodes(g)) || (st = check_producers(g)) || (st = topo_sort(g)) ||
        (st = seed_initializers(g)) || (st = infer_all(g)))
        return st;
    g->finalized = true;
    return OG_OK;
}
