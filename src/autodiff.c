/* SPDX-License-Identifier: MIT */
/* autodiff.c — reverse-mode automatic differentiation, graph to graph.
 *
 * og_graph_build_gradient copies the forward graph (opset raised to 17),
 * marks the values that lie between the tensors differentiated with
 * respect to (wrt) and the differentiated outputs, then visits the forward
 * nodes in reverse topological order. Each node on that path hands the
 * gradients of its outputs to its op's backward rule, which emits standard
 * ONNX nodes computing the gradients of the inputs that need one. A value
 * used by several nodes (or twice by one) receives several gradients; they
 * are summed here, in one place, with Add. After finalizing, every
 * gradient a rule produced is checked against the type of its tensor.
 *
 * The engine never names an op: it knows them only through their
 * descriptors (backward rule, differentiable inputs and outputs). */
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "clone.h"

#define OG_GRAD_OPSET 17

/* A gradient a rule produced for a forward value, checked after finalize. */
typedef struct grad_record {
    int value;              /* forward value index */
    int node;               /* forward node whose rule made it */
    const char *name;       /* value of the gradient graph */
} grad_record;

struct og_grad_ctx {
    const og_graph *fwd;
    og_graph *gg;
    const char **sum;       /* per forward value: the summed gradient so far (a gg value name) */
    bool *active;           /* per forward value: on a path from a wrt tensor to a differentiated output */
    bool *reaches;          /* per forward value: some differentiated output depends on it */
    grad_record *records;
    int n_records, cap_records;
    int counter;            /* for unique names */
    const og_node *cur;     /* forward node whose rule runs (NULL: the engine itself) */
    bool fan_in;            /* og_grad_emit names the node "grad/<node>/fanin_<Op>_<n>" */
};

static bool float_type(og_dtype t) { return t == OG_FLOAT || t == OG_DOUBLE; }

/* ---- names ---------------------------------------------------------------- */

/* A name no value of the gradient graph has yet: `base`, else base_2, ... */
static void unique_name(og_grad_ctx *c, const char *base, char *buf, size_t size)
{
    snprintf(buf, size, "%s", base);
    for (int k = 2; og_graph_find_value(c->gg, buf) >= 0; k++)
        snprintf(buf, size, "%.*s_%d", (int)size - 16, base, k);
}

static const char *value_name(const og_graph *g, int v) { return g->values[v].name; }

/* ---- emitting nodes (the og_grad_* calls of internal.h) -------------------- */

og_status og_grad_emit(og_backward_call *b, const char *op_type, int n_in, const char *const *ins, int n_out,
                       const char **outs, int n_attrs, const og_attr *attrs)
{
    og_grad_ctx *c = b->ctx;
    if (n_out > OG_MAX_IO || n_in > OG_MAX_IO)
        return og_err(OG_ERR_INTERNAL, "og_grad_emit: %s with %d inputs and %d outputs", op_type, n_in, n_out);
    char node_name[512], base[512], names[OG_MAX_IO][540];
    const char *out_names[OG_MAX_IO];
    /* the gradient graph's name of the node (unnamed ones get one there) */
    const char *prefix = c->cur ? c->gg->nodes[c->cur - c->fwd->nodes].name : "seed";
    snprintf(base, sizeof base, "grad/%.400s/%s%s_%d", prefix, c->fan_in ? "fanin_" : "", op_type, ++c->counter);
    unique_name(c, base, node_name, sizeof node_name);
    for (int k = 0; k < n_out; k++) {
        char extra[540];
        if (k == 0)
            snprintf(names[k], sizeof names[k], "%s", node_name);
        else {
            snprintf(extra, sizeof extra, "%.500s:%d", node_name, k);
            unique_name(c, extra, names[k], sizeof names[k]);
        }
        out_names[k] = names[k];
    }
    og_status st = og_graph_add_node(c->gg, op_type, "", node_name, n_in, ins, n_out, out_names, n_attrs, attrs);
    if (st)
        return st;
    for (int k = 0; k < n_out; k++)
        outs[k] = value_name(c->gg, og_graph_find_value(c->gg, names[k]));
    return OG_OK;
}

/* ---- the sticky vocabulary (og_gb_*) ----------------------------------------- */

const char *og_gb(og_backward_call *b, const char *op_type, int n_in, const char *const *ins, int n_attrs,
                  const og_attr *attrs)
{
    if (b->status)
        return NULL;
    for (int k = 0; k < n_in; k++)
        if (ins[k] == NULL) {
            b->status = og_err(OG_ERR_INTERNAL, "node '%s' (%s): backward rule passed no operand %d to %s",
                               b->node->name, b->node->op_type, k, op_type);
            return NULL;
        }
    const char *out = NULL;
    b->status = og_grad_emit(b, op_type, n_in, ins, 1, &out, n_attrs, attrs);
    return b->status ? NULL : out;
}

const char *og_gb1(og_backward_call *b, const char *op_type, const char *x)
{
    return og_gb(b, op_type, 1, &x, 0, NULL);
}

const char *og_gb2(og_backward_call *b, const char *op_type, const char *x, const char *y)
{
    const char *ins[2] = { x, y };
    return og_gb(b, op_type, 2, ins, 0, NULL);
}

const char *og_gb_scalar(og_backward_call *b, og_dtype dtype, double v)
{
    const char *out = NULL;
    if (!b->status)
        b->status = og_grad_const_scalar(b, dtype, v, &out);
    return b->status ? NULL : out;
}

const char *og_gb_tensor(og_backward_call *b, og_tensor *t)
{
    if (!t) {
        if (!b->status)
            b->status = og_err(OG_ERR_NOMEM, "out of memory building the gradient of node '%s'", b->node->name);
        return NULL;
    }
    og_attr a = og_attr_tensor("value", t);
    const char *out = og_gb(b, "Constant", 0, NULL, 1, &a);
    og_tensor_free(t);
    return out;
}

const char *og_gb_ints(og_backward_call *b, int64_t n, const int64_t *v)
{
    const char *out = NULL;
    if (!b->status)
        b->status = og_grad_const_ints(b, n, v, &out);
    return b->status ? NULL : out;
}

const char *og_gb_unbroadcast(og_backward_call *b, int k, const char *grad)
{
    const char *out = NULL;
    if (b->status)
        return NULL;
    if (grad == NULL) {
        b->status = og_err(OG_ERR_INTERNAL, "node '%s' (%s): backward rule passed no gradient to unbroadcast",
                           b->node->name, b->node->op_type);
        return NULL;
    }
    b->status = og_grad_unbroadcast(b, k, grad, &out);
    return b->status ? NULL : out;
}

static og_status emit_constant(og_backward_call *b, og_tensor *t, const char **out)
{
    og_attr a = og_attr_tensor("value", t);
    og_status st = og_grad_emit(b, "Constant", 0, NULL, 1, out, 1, &a);
    og_tensor_free(t);
    return st;
}

og_status og_grad_const_ints(og_backward_call *b, int64_t n, const int64_t *v, const char **out)
{
    og_tensor *t;
    og_status st = og_tensor_create_from(OG_INT64, 1, &n, v, &t);
    return st ? st : emit_constant(b, t, out);
}

og_status og_grad_const_scalar(og_backward_call *b, og_dtype dtype, double v, const char **out)
{
    og_tensor *t;
    og_status st = og_tensor_create(dtype, 0, NULL, &t);
    if (st)
        return st;
    if (dtype == OG_FLOAT)
        *(float *)t->data = (float)v;
    else if (dtype == OG_DOUBLE)
        *(double *)t->data = v;
    else {
        og_tensor_free(t);
        return og_err(OG_ERR_INTERNAL, "og_grad_const_scalar: dtype %s", og_dtype_name(dtype));
    }
    return emit_constant(b, t, out);
}

og_status og_grad_transpose(og_backward_call *b, const char *x, int rank, const int64_t *perm, const char **out)
{
    og_attr a = og_attr_ints("perm", rank, perm);
    return og_grad_emit(b, "Transpose", 1, &x, 1, out, 1, &a);
}

og_status og_grad_swap01(og_backward_call *b, const char *x, int rank, const char **out)
{
    int64_t perm[OG_MAX_RANK];
    for (int i = 0; i < rank; i++)
        perm[i] = i;
    perm[0] = 1;
    perm[1] = 0;
    return og_grad_transpose(b, x, rank, perm, out);
}

og_status og_grad_reshape(og_backward_call *b, const char *x, int rank, const int64_t *dims, const char **out)
{
    const char *ins[2] = { x, NULL };
    og_status st = og_grad_const_ints(b, rank, dims, &ins[1]);
    return st ? st : og_grad_emit(b, "Reshape", 2, ins, 1, out, 0, NULL);
}

og_status og_grad_shape_of(og_backward_call *b, const char *name, const og_tinfo *ti, const char **out)
{
    if (og_shape_known(&ti->shape))
        return og_grad_const_ints(b, ti->shape.rank, ti->shape.dims, out);
    return og_grad_emit(b, "Shape", 1, &name, 1, out, 0, NULL);
}

og_status og_grad_zeros_like(og_backward_call *b, const char *name, const og_tinfo *ti, const char **out)
{
    const char *shape;
    og_tensor *zero;
    int64_t one = 1;
    og_status st = og_grad_shape_of(b, name, ti, &shape);
    if (st || (st = og_tensor_create(ti->dtype, 1, &one, &zero)))
        return st;
    og_attr a = og_attr_tensor("value", zero);
    st = og_grad_emit(b, "ConstantOfShape", 1, &shape, 1, out, 1, &a);
    og_tensor_free(zero);
    return st;
}

/* target_name: the tensor summed back to, when known. An axis where its
 * dim is unknown is then taken as not broadcast (a symbolic batch N against
 * N), and a Reshape to its run-time shape makes a wrong guess an error
 * instead of a gradient of the wrong shape. */
static og_status reduce_core(og_backward_call *b, const char *grad, const og_tinfo *from, const og_tinfo *to,
                             const char *target_name, const char **out)
{
    char fs[OG_SHAPE_STR_MAX], ts[OG_SHAPE_STR_MAX];
    const og_shape *f = &from->shape, *t = &to->shape;
    if (f->rank < 0 || t->rank < 0 || t->rank > f->rank)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): cannot sum a gradient of shape %s back to shape %s",
                      b->node->name, b->node->op_type, og_shape_str(f, fs, sizeof fs), og_shape_str(t, ts, sizeof ts));
    /* Axes the target lacks are summed away; an axis where the target is 1
     * is summed keeping it (harmless if the source is 1 too). Only a target
     * dim that is unknown while the source's is not 1 is ambiguous: it may
     * have been broadcast or not. */
    int64_t axes[OG_MAX_RANK], lead_axes[OG_MAX_RANK];
    int n_axes = 0, lead = f->rank - t->rank;
    bool assumed = false;
    for (int a = 0; a < lead; a++)
        lead_axes[a] = a;
    for (int a = lead; a < f->rank; a++) {
        int64_t td = t->dims[a - lead], fd = f->dims[a];
        if (fd == 1 || (td >= 0 && td == fd))
            continue;
        if (td == 1) {
            axes[n_axes++] = a;
            continue;
        }
        if (td < 0 && target_name) {
            assumed = true;
            continue;
        }
        if (td < 0 || fd < 0)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): summing a gradient of shape %s back to shape %s "
                          "needs axis %d known (it may or may not have been broadcast)", b->node->name,
                          b->node->op_type, og_shape_str(f, fs, sizeof fs), og_shape_str(t, ts, sizeof ts), a);
        /* inference let it through only because the graph declares the
         * output's shape while another operand's was unknown */
        return og_err(OG_ERR_SHAPE, "node '%s' (%s): the graph gives output '%s' shape %s, but an input of shape "
                      "%s cannot broadcast to it (axis %d)", b->node->name, b->node->op_type,
                      b->out[0] ? b->out[0] : "?", og_shape_str(f, fs, sizeof fs), og_shape_str(t, ts, sizeof ts),
                      a);
    }
    *out = grad;
    og_status st;
    const int64_t *lists[2] = { axes, lead_axes };
    int counts[2] = { n_axes, lead };
    for (int pass = 0; pass < 2; pass++) {   /* kept axes first, so the indices stay valid */
        if (counts[pass] == 0)
            continue;
        const char *ins[2] = { *out, NULL };
        og_attr keep = og_attr_int("keepdims", pass == 0);
        if ((st = og_grad_const_ints(b, counts[pass], lists[pass], &ins[1])) ||
            (st = og_grad_emit(b, "ReduceSum", 2, ins, 1, out, 1, &keep)))
            return st;
    }
    if (assumed) {
        const char *ins[2] = { *out, NULL };
        if ((st = og_grad_emit(b, "Shape", 1, &target_name, 1, &ins[1], 0, NULL)) ||
            (st = og_grad_emit(b, "Reshape", 2, ins, 1, out, 0, NULL)))
            return st;
    }
    return OG_OK;
}

og_status og_grad_reduce_to(og_backward_call *b, const char *grad, const og_tinfo *from, const og_tinfo *to,
                            const char **out)
{
    return reduce_core(b, grad, from, to, NULL, out);
}

og_status og_grad_unbroadcast(og_backward_call *b, int k, const char *grad, const char **out)
{
    return reduce_core(b, grad, &b->out_info[0], &b->in_info[k], b->in[k], out);
}

og_status og_grad_forward_output(og_backward_call *b, int k, const char **out)
{
    og_grad_ctx *c = b->ctx;
    int idx = (int)(b->node - c->fwd->nodes);
    og_node *n = &c->gg->nodes[idx];   /* the clone keeps node order */
    if (k < 0 || k >= b->node->op->max_outputs)
        return og_err(OG_ERR_INTERNAL, "node '%s' (%s): no output %d", b->node->name, b->node->op_type, k);
    if (k < n->n_outputs && n->outputs[k] >= 0) {
        *out = value_name(c->gg, n->outputs[k]);
        return OG_OK;
    }
    if (k >= n->n_outputs) {
        /* inputs and outputs share one allocation: grow it */
        int *io = og_calloc((size_t)n->n_inputs + (size_t)k + 2, sizeof(int));
        if (!io)
            return og_err(OG_ERR_NOMEM, "out of memory extending node '%s'", n->name);
        memcpy(io, n->inputs, sizeof(int) * (size_t)(n->n_inputs + n->n_outputs));
        for (int j = n->n_outputs; j <= k; j++)
            io[n->n_inputs + j] = -1;
        og_free(n->inputs);
        n->inputs = io;
        n->outputs = io + n->n_inputs;
        n->n_outputs = k + 1;
    }
    char base[512], name[540];
    snprintf(base, sizeof base, "%.400s:output%d", n->name, k);
    unique_name(c, base, name, sizeof name);
    int v;
    og_status st = og_graph_intern_value(c->gg, name, &v);
    if (st)
        return st;
    n = &c->gg->nodes[idx];
    n->outputs[k] = v;
    c->gg->values[v].producer = idx;
    c->gg->values[v].producer_slot = k;
    c->gg->finalized = false;
    *out = value_name(c->gg, v);
    return OG_OK;
}

/* ---- which tensors --------------------------------------------------------- */

static og_status find_value(const og_graph *g, const char *name, const char *role, int *v)
{
    *v = name ? og_graph_find_value(g, name) : -1;
    if (*v < 0)
        return og_err(OG_ERR_INVALID_ARG, "%s '%s' is not a value of the graph", role, name ? name : "(null)");
    return OG_OK;
}

/* The wrt tensors as value indices (count first with wrt NULL). */
static og_status resolve_wrt(const og_graph *g, const og_grad_options *o, int *wrt, int *count)
{
    int n = 0;
    if (o->n_wrt > 0) {
        if (!o->wrt)
            return og_err(OG_ERR_INVALID_ARG, "gradient: n_wrt is %d but wrt is NULL", o->n_wrt);
        for (int k = 0; k < o->n_wrt; k++) {
            int v;
            og_status st = find_value(g, o->wrt[k], "wrt tensor", &v);
            if (st)
                return st;
            const og_value *val = &g->values[v];
            if (!val->is_input && !val->initializer)
                return og_err(OG_ERR_INVALID_ARG, "wrt tensor '%s' is neither a graph input nor an initializer",
                              val->name);
            if (!float_type(val->dtype))
                return og_err(OG_ERR_INVALID_ARG, "wrt tensor '%s' is %s; only float and double tensors have "
                              "gradients", val->name, og_dtype_name(val->dtype));
            for (int j = 0; j < k; j++)
                if (strcmp(o->wrt[j], o->wrt[k]) == 0)
                    return og_err(OG_ERR_INVALID_ARG, "wrt tensor '%s' is named twice", val->name);
            if (wrt)
                wrt[n] = v;
            n++;
        }
    } else {
        for (int k = 0; k < g->n_inputs; k++)
            if (float_type(g->values[g->inputs[k]].dtype)) {
                if (wrt)
                    wrt[n] = g->inputs[k];
                n++;
            }
        for (int k = 0; k < g->n_inits; k++) {
            const og_value *val = &g->values[g->inits[k]];
            if (float_type(val->dtype) && !val->is_input) {
                if (wrt)
                    wrt[n] = g->inits[k];
                n++;
            }
        }
    }
    *count = n;
    return OG_OK;
}

static og_status check_graph(const og_graph *g, const og_grad_options *o, const char *fn)
{
    if (!g || !o)
        return og_err(OG_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (!g->finalized)
        return og_err(OG_ERR_INVALID_ARG, "%s: the graph is not finalized (call og_graph_finalize)", fn);
    return OG_OK;
}

og_status og_grad_wrt_count(const og_graph *g, const og_grad_options *o, int *count)
{
    og_status st = check_graph(g, o, "og_grad_wrt_count");
    return st ? st : resolve_wrt(g, o, NULL, count);
}

og_status og_grad_wrt_name(const og_graph *g, const og_grad_options *o, int k, const char **name)
{
    int n;
    og_status st = og_grad_wrt_count(g, o, &n);
    if (st)
        return st;
    if (k < 0 || k >= n)
        return og_err(OG_ERR_INVALID_ARG, "og_grad_wrt_name: index %d outside 0..%d", k, n - 1);
    int *wrt = og_calloc((size_t)n, sizeof(int));
    if (!wrt)
        return og_err(OG_ERR_NOMEM, "out of memory listing wrt tensors");
    resolve_wrt(g, o, wrt, &n);
    *name = g->values[wrt[k]].name;
    og_free(wrt);
    return OG_OK;
}

/* An output to differentiate: a float graph output named once. */
static og_status check_output(const og_graph *g, const char *name, const char *role, const bool *seen, int *v)
{
    og_status st = find_value(g, name, role, v);
    if (st)
        return st;
    const og_value *val = &g->values[*v];
    if (!val->is_output)
        return og_err(OG_ERR_INVALID_ARG, "%s '%s' is not a graph output", role, name);
    if (!float_type(val->dtype))
        return og_err(OG_ERR_INVALID_ARG, "%s '%s' is %s; only float and double outputs can be differentiated",
                      role, name, og_dtype_name(val->dtype));
    if (seen[*v])
        return og_err(OG_ERR_INVALID_ARG, "output '%s' is differentiated twice (loss and seeded, or seeded twice)",
                      name);
    return OG_OK;
}

/* ---- the build --------------------------------------------------------------- */

static void ctx_free(og_grad_ctx *c)
{
    og_free(c->sum);
    og_free(c->active);
    og_free(c->reaches);
    og_free(c->records);
}

static bool diff_in(const og_node *n, int k) { return k < 32 && (n->op->diff_inputs >> k & 1u); }
static bool diff_out(const og_node *n, int k) { return k < 32 && (n->op->diff_outputs >> k & 1u); }

/* active[v]: v depends on a wrt tensor and a differentiated output depends
 * on v, both through differentiable float edges. */
static void mark_paths(og_grad_ctx *c, const bool *from_wrt_seed)
{
    const og_graph *g = c->fwd;
    bool *fwd = c->active;   /* first pass: reachable from wrt */
    for (int v = 0; v < g->n_values; v++)
        fwd[v] = from_wrt_seed[v];
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        bool any = false;
        for (int k = 0; k < n->n_inputs; k++)
            any = any || (n->inputs[k] >= 0 && diff_in(n, k) && fwd[n->inputs[k]]);
        for (int k = 0; any && k < n->n_outputs; k++)
            if (n->outputs[k] >= 0 && diff_out(n, k) && float_type(g->values[n->outputs[k]].dtype))
                fwd[n->outputs[k]] = true;
    }
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const og_node *n = &g->nodes[g->order[i]];
        bool any = false;
        for (int k = 0; k < n->n_outputs; k++)
            any = any || (n->outputs[k] >= 0 && diff_out(n, k) && c->reaches[n->outputs[k]]);
        for (int k = 0; any && k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && diff_in(n, k) && float_type(g->values[n->inputs[k]].dtype))
                c->reaches[n->inputs[k]] = true;
    }
    for (int v = 0; v < g->n_values; v++)
        c->active[v] = fwd[v] && c->reaches[v];
}

/* Adds one gradient of forward value v (from node `node`'s rule). */
static og_status add_gradient(og_grad_ctx *c, og_backward_call *b, int v, int node, const char *grad)
{
    og_status st = og_grow((void **)&c->records, &c->cap_records, c->n_records + 1, sizeof *c->records);
    if (st)
        return st;
    c->records[c->n_records++] = (grad_record){ v, node, grad };
    if (!c->sum[v]) {
        c->sum[v] = grad;
        return OG_OK;
    }
    /* Named "fanin_Add" so tools (onnxgrad dot) can tell the sums apart. */
    const char *ins[2] = { c->sum[v], grad };
    c->fan_in = true;
    st = og_grad_emit(b, "Add", 2, ins, 1, &c->sum[v], 0, NULL);
    c->fan_in = false;
    return st;
}

static og_status run_rule(og_grad_ctx *c, int node_index)
{
    const og_graph *g = c->fwd;
    const og_node *n = &g->nodes[node_index];
    og_backward_call b;
    memset(&b, 0, sizeof b);
    b.ctx = c;
    b.node = n;
    b.params = n->params;
    b.opset = n->opset;
    b.n_in = n->n_inputs;
    b.n_out = n->n_outputs;
    bool any_out = false, any_in = false;
    for (int k = 0; k < n->n_outputs; k++) {
        int v = n->outputs[k];
        b.out_info[k].dtype = OG_UNDEFINED;
        b.out_info[k].shape.rank = -1;
        if (v < 0)
            continue;
        b.out[k] = g->values[v].name;
        og_value_get(&g->values[v], &b.out_info[k]);
        if (diff_out(n, k) && c->active[v] && c->sum[v]) {
            b.dout[k] = c->sum[v];
            any_out = true;
        }
    }
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        b.in_info[k].dtype = OG_UNDEFINED;
        b.in_info[k].shape.rank = -1;
        if (v < 0)
            continue;
        b.in[k] = g->values[v].name;
        og_value_get(&g->values[v], &b.in_info[k]);
        b.in_value[k] = og_value_data(&g->values[v]);
        b.need[k] = diff_in(n, k) && c->active[v];
        any_in = any_in || b.need[k];
    }
    if (!any_out || !any_in)
        return OG_OK;
    if (!n->op->backward) {
        for (int k = 0; k < n->n_inputs; k++)
            if (b.need[k])
                return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): the op has no backward rule, and the gradient "
                              "of its input '%s' is needed", n->name, n->op_type, b.in[k]);
    }
    c->cur = n;
    og_status st = n->op->backward(&b);
    if (!st)
        st = b.status;   /* a rule that forgot to return og_gb_status */
    if (st)
        return st;
    /* A tensor used twice by this node gets both gradients, summed. */
    for (int k = 0; k < n->n_inputs; k++)
        if (b.need[k] && b.din[k] && (st = add_gradient(c, &b, n->inputs[k], node_index, b.din[k])))
            return st;
    c->cur = NULL;
    return OG_OK;
}

/* Every gradient a rule made must have the type of its tensor. */
static og_status check_records(const og_grad_ctx *c)
{
    char a[OG_SHAPE_STR_MAX], b[OG_SHAPE_STR_MAX];
    for (int k = 0; k < c->n_records; k++) {
        const grad_record *r = &c->records[k];
        og_tinfo want, got;
        og_value_get(&c->fwd->values[r->value], &want);
        og_value_get(&c->gg->values[og_graph_find_value(c->gg, r->name)], &got);
        bool bad = got.dtype != want.dtype || (want.shape.rank >= 0 && got.shape.rank >= 0 &&
                                                 want.shape.rank != got.shape.rank);
        for (int d = 0; !bad && want.shape.rank >= 0 && d < got.shape.rank; d++)
            bad = want.shape.dims[d] >= 0 && got.shape.dims[d] >= 0 && want.shape.dims[d] != got.shape.dims[d];
        if (bad) {
            /* A rule works from the output types the graph holds; when the
             * model declared them and load-time inference could not check
             * them (an operand of unknown shape), they can be what is wrong. */
            const og_node *n = &c->fwd->nodes[r->node];
            bool declared = false;
            for (int o = 0; o < n->n_outputs; o++)
                declared = declared || (n->outputs[o] >= 0 && c->fwd->values[n->outputs[o]].declared);
            return og_err(declared ? OG_ERR_SHAPE : OG_ERR_INTERNAL, "node '%s' (%s): %s gave '%s' the gradient '%s' "
                          "of type %s %s, expected %s %s", n->name, n->op_type,
                          declared ? "the output shapes the model declares contradict its inputs: the backward rule"
                                   : "the backward rule", c->fwd->values[r->value].name, r->name,
                          og_dtype_name(got.dtype), og_shape_str(&got.shape, a, sizeof a), og_dtype_name(want.dtype),
                          og_shape_str(&want.shape, b, sizeof b));
        }
    }
    return OG_OK;
}

/* The seed of the loss: a Constant of ones with the loss's type. */
static og_status seed_loss(og_grad_ctx *c, og_backward_call *b, int v)
{
    og_tinfo ti;
    og_value_get(&c->fwd->values[v], &ti);
    int64_t numel = 1;
    for (int d = 0; d < ti.shape.rank; d++)
        numel = ti.shape.dims[d] < 0 ? -1 : numel * ti.shape.dims[d];
    char s[OG_SHAPE_STR_MAX];
    if (ti.shape.rank < 0 || numel != 1)
        return og_err(OG_ERR_INVALID_ARG, "loss '%s' must have exactly one element; its shape is %s",
                      c->fwd->values[v].name, og_shape_str(&ti.shape, s, sizeof s));
    og_tensor *one;
    og_status st = og_tensor_create(ti.dtype, ti.shape.rank, ti.shape.dims, &one);
    if (st)
        return st;
    if (ti.dtype == OG_FLOAT)
        *(float *)one->data = 1;
    else
        *(double *)one->data = 1;
    const char *name;
    if ((st = emit_constant(b, one, &name)))
        return st;
    c->sum[v] = name;
    return OG_OK;
}

static og_status seed_input(og_grad_ctx *c, int v)
{
    const og_value *val = &c->fwd->values[v];
    char base[512], name[540];
    og_tinfo ti;
    og_value_get(val, &ti);
    snprintf(base, sizeof base, "%.400s_grad", val->name);
    unique_name(c, base, name, sizeof name);
    const char *params[OG_MAX_RANK] = { 0 };
    for (int k = 0; val->dim_param && k < ti.shape.rank; k++)
        params[k] = val->dim_param[k];
    og_status st = og_graph_add_input(c->gg, name, ti.dtype, ti.shape.rank, ti.shape.dims, params);
    if (st)
        return st;
    c->sum[v] = value_name(c->gg, og_graph_find_value(c->gg, name));
    return OG_OK;
}

/* The gradient of wrt tensor v as a graph output "<v>_grad". */
static og_status output_gradient(og_grad_ctx *c, og_backward_call *b, int v, bool allow_unused)
{
    const og_value *val = &c->fwd->values[v];
    if (!c->reaches[v] && !allow_unused)
        return og_err(OG_ERR_INVALID_ARG, "gradient of '%s' requested, but no differentiated output depends on it "
                      "(through differentiable inputs)", val->name);
    og_status st;
    const char *grad = c->sum[v];
    og_tinfo ti;
    og_value_get(val, &ti);
    if (!grad && (st = og_grad_zeros_like(b, val->name, &ti, &grad)))
        return st;
    char base[512], name[540];
    snprintf(base, sizeof base, "%.400s_grad", val->name);
    unique_name(c, base, name, sizeof name);
    const char *out = name;
    char node_name[560];
    snprintf(node_name, sizeof node_name, "grad/output/%s", name);
    if ((st = og_graph_add_node(c->gg, "Identity", "", node_name, 1, &grad, 1, &out, 0, NULL)))
        return st;
    return og_graph_add_output(c->gg, name);
}

/* "a,b,c" of n names into a new string. Ownership: the caller's (og_free). */
static char *join_names(int n, const char *const *names, const og_graph *g, const int *values)
{
    size_t len = 1;
    for (int k = 0; k < n; k++)
        len += strlen(names ? names[k] : g->values[values[k]].name) + 1;
    char *s = og_malloc(len), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (int k = 0; k < n; k++) {
        const char *name = names ? names[k] : g->values[values[k]].name;
        size_t m = strlen(name);
        if (k)
            *p++ = ',';
        memcpy(p, name, m + 1);
        p += m;
    }
    return s;
}

/* What a saved gradient graph says about itself: onnxgrad made it, from
 * which loss, seeds and wrt tensors (metadata_props), and every node has a
 * name (forward nodes the model left unnamed get "<op>_<index>"), so that
 * tools and people can tell the parts apart. */
static og_status describe_gradient(og_graph *gg, const og_grad_options *o, const og_graph *g, const int *wrt,
                                   int n_wrt)
{
    for (int k = 0; k < gg->n_nodes; k++) {
        og_node *n = &gg->nodes[k];
        if (!n->unnamed)
            continue;
        char buf[128];
        snprintf(buf, sizeof buf, "%.64s_%d", n->op_type, k);
        char *name = og_strdup(buf);
        if (!name)
            return og_err(OG_ERR_NOMEM, "out of memory building a gradient graph");
        og_free(n->name);
        n->name = name;
        n->unnamed = false;
    }
    char *seeds = join_names(o->n_seeded > 0 ? o->n_seeded : 0, o->seeded, NULL, NULL);
    char *wrts = join_names(n_wrt, NULL, g, wrt);
    og_status st = !seeds || !wrts ? og_err(OG_ERR_NOMEM, "out of memory building a gradient graph") : OG_OK;
    if (!st)
        st = og_graph_set_producer(gg, "onnxgrad", OG_VERSION_STRING);
    if (!st)
        st = og_graph_set_metadata(gg, "onnxgrad.gradient.loss", o->loss ? o->loss : "");
    if (!st)
        st = og_graph_set_metadata(gg, "onnxgrad.gradient.seeds", seeds);
    if (!st)
        st = og_graph_set_metadata(gg, "onnxgrad.gradient.wrt", wrts);
    og_free(seeds);
    og_free(wrts);
    return st;
}

og_status og_graph_build_gradient(const og_graph *g, const og_grad_options *o, og_graph **out)
{
    og_status st;
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_build_gradient: out is NULL");
    *out = NULL;
    if ((st = check_graph(g, o, "og_graph_build_gradient")))
        return st;
    if (!o->loss && o->n_seeded <= 0)
        return og_err(OG_ERR_INVALID_ARG, "gradient: name a loss or at least one seeded output to differentiate");
    if (o->n_seeded > 0 && !o->seeded)
        return og_err(OG_ERR_INVALID_ARG, "gradient: n_seeded is %d but seeded is NULL", o->n_seeded);

    og_grad_ctx c = { .fwd = g };
    int n_wrt = 0, *wrt = NULL, *seeded = NULL;
    bool *seed_set = NULL;
    size_t nv = (size_t)g->n_values + 1;
    c.sum = og_calloc(nv, sizeof *c.sum);
    c.active = og_calloc(nv, sizeof *c.active);
    c.reaches = og_calloc(nv, sizeof *c.reaches);
    seed_set = og_calloc(nv, sizeof *seed_set);
    if (!c.sum || !c.active || !c.reaches || !seed_set) {
        st = og_err(OG_ERR_NOMEM, "out of memory building a gradient graph");
        goto done;
    }
    if ((st = resolve_wrt(g, o, NULL, &n_wrt)))
        goto done;
    if (n_wrt == 0) {
        st = og_err(OG_ERR_INVALID_ARG, "gradient: the graph has no float input or initializer to differentiate "
                    "with respect to");
        goto done;
    }
    if (!(wrt = og_calloc((size_t)n_wrt, sizeof *wrt))) {
        st = og_err(OG_ERR_NOMEM, "out of memory building a gradient graph");
        goto done;
    }
    resolve_wrt(g, o, wrt, &n_wrt);

    /* The differentiated outputs: `reaches` starts true on them. */
    int loss = -1, n_seeded = o->n_seeded > 0 ? o->n_seeded : 0;
    if (!(seeded = og_calloc((size_t)n_seeded + 1, sizeof *seeded))) {
        st = og_err(OG_ERR_NOMEM, "out of memory building a gradient graph");
        goto done;
    }
    if (o->loss) {
        if ((st = check_output(g, o->loss, "loss", c.reaches, &loss)))
            goto done;
        c.reaches[loss] = true;
    }
    for (int k = 0; k < n_seeded; k++) {
        if ((st = check_output(g, o->seeded[k], "seeded output", c.reaches, &seeded[k])))
            goto done;
        c.reaches[seeded[k]] = true;
    }
    for (int k = 0; k < n_wrt; k++)
        seed_set[wrt[k]] = true;
    mark_paths(&c, seed_set);

    og_clone_options co = { .default_opset = OG_GRAD_OPSET };
    if ((st = og_graph_clone(g, &co, &c.gg)) || (st = describe_gradient(c.gg, o, g, wrt, n_wrt)))
        goto done;
    og_backward_call engine = { .ctx = &c };   /* for nodes the engine itself emits */
    if (loss >= 0 && (st = seed_loss(&c, &engine, loss)))
        goto done;
    for (int k = 0; k < n_seeded; k++)
        if ((st = seed_input(&c, seeded[k])))
            goto done;
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if ((st = run_rule(&c, g->order[i])))
            goto done;
    c.cur = NULL;
    for (int k = 0; k < n_wrt; k++)
        if ((st = output_gradient(&c, &engine, wrt[k], o->allow_unused)))
            goto done;
    if ((st = og_graph_finalize(c.gg))) {
        og_err_prefix("gradient graph: ");
        goto done;
    }
    if ((st = check_records(&c)))
        goto done;
    *out = c.gg;
    c.gg = NULL;
done:
    og_graph_free(c.gg);
    ctx_free(&c);
    og_free(wrt);
    og_free(seeded);
    og_free(seed_set);
    return st;
}

og_status og_gradients(const og_graph *g, const og_grad_options *o, int n_inputs, const og_tensor *const *inputs,
                       const og_tensor *const *seeds, og_tensor **grads)
{
    og_status st = check_graph(g, o, "og_gradients");
    int n_wrt = 0;
    if (!st && !grads)
        st = og_err(OG_ERR_INVALID_ARG, "og_gradients: grads is NULL");
    if (st || (st = resolve_wrt(g, o, NULL, &n_wrt)))
        return st;
    for (int k = 0; k < n_wrt; k++)   /* on any failure, none are returned */
        grads[k] = NULL;
    if ((n_inputs > 0 && !inputs) || (o->n_seeded > 0 && !seeds))
        return og_err(OG_ERR_INVALID_ARG, "og_gradients: NULL argument");
    og_graph *gg = NULL;
    og_plan *p = NULL;
    int n_feed = n_inputs + (o->n_seeded > 0 ? o->n_seeded : 0), n_out = 0;
    const og_tensor **feeds = og_calloc((size_t)n_feed + 1, sizeof *feeds);
    og_tensor *seed_views = og_calloc((size_t)n_feed + 1, sizeof *seed_views), **outs = NULL;
    if (!feeds || !seed_views) {
        st = og_err(OG_ERR_NOMEM, "out of memory computing gradients");
        goto done;
    }
    if ((st = og_graph_build_gradient(g, o, &gg)) || (st = og_plan_create(gg, &p)))
        goto done;
    for (int k = 0; k < n_inputs; k++)
        feeds[k] = inputs[k];
    /* Seeds bind by the name of their new graph input, whatever the caller named them. */
    for (int k = 0; k < o->n_seeded; k++) {
        if (!seeds[k]) {
            st = og_err(OG_ERR_INVALID_ARG, "og_gradients: seed %d is NULL", k);
            goto done;
        }
        seed_views[k] = *seeds[k];
        seed_views[k].name = gg->values[gg->inputs[g->n_inputs + k]].name;
        feeds[n_inputs + k] = &seed_views[k];
    }
    n_out = gg->n_outputs;
    if (!(outs = og_calloc((size_t)n_out, sizeof *outs))) {
        st = og_err(OG_ERR_NOMEM, "out of memory computing gradients");
        goto done;
    }
    if ((st = og_plan_run(p, n_feed, feeds, outs)))
        goto done;
    int first = n_out - n_wrt;
    for (int k = 0; k < n_wrt && !st; k++) {
        const char *name;
        if (!(st = og_grad_wrt_name(g, o, k, &name)))
            st = og_tensor_set_name(outs[first + k], name);
    }
    if (!st)
        for (int k = 0; k < n_wrt; k++) {
            grads[k] = outs[first + k];
            outs[first + k] = NULL;
        }
done:
    for (int k = 0; outs && k < n_out; k++)
        og_tensor_free(outs[k]);
    og_free(outs);
    og_free(feeds);
    og_free(seed_views);
    og_plan_free(p);
    og_graph_free(gg);
    return st;
}
