/* SPDX-License-Identifier: MIT */
/* lower_gradient.c — the standard Gradient op (domain
 * ai.onnx.preview.training, opset 1), run by lowering it to onnxgrad's
 * gradient builder. Spec:
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md (Gradient, in the
 * preview.training domain; Changelog: ai.onnx.preview.training Gradient-1).
 *
 * Gradient(xs=[X...], zs=[Z...], y=Y) with inputs (values of xs then zs)
 * outputs dY/dX for each X of xs. The differentiated function is the part
 * of the graph computing Y from the tensors named in xs and zs (a graph
 * input or initializer Y also depends on is used as it is); the Gradient
 * node's inputs are the point at which it is evaluated. Y's gradient is
 * seeded with ones of Y's shape (for a scalar Y, as in the official cases,
 * that is dY/dX itself; for a larger Y, the gradient of the sum of its
 * elements, as ONNX Runtime's training does).
 *
 * og_graph_finalize calls og_lower_gradient first. The graph is rebuilt
 * without Gradient nodes: the forward part is finalized at the model's own
 * opsets and copied at default opset 17 (the gradient graphs' opset, with
 * retired attributes dropped as gradient graphs do), the gradient graph of
 * the differentiated function (og_graph_build_gradient, forward copy and
 * backward, values renamed "<gradient node>/<name>") is spliced in, and
 * Identity nodes bind the Gradient node's outputs. So the lowered, finalized
 * graph (and a model saved from it) is standard ONNX: no Gradient node is
 * left. Nodes that consume a Gradient's outputs are copied as they are (at
 * opset 17). Nested Gradients (higher order) are lowered inner first.
 *
 * Errors name the node: wrong input count, xs/y/zs naming no tensor of the
 * graph, non-float X or Y, Y not depending on an X, an op on the path
 * without a backward rule. */
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "clone.h"
#include "onnxgrad/autodiff.h"

#define OG_TRAINING_DOMAIN "ai.onnx.preview.training"

static bool is_gradient(const og_node *n)
{
    return strcmp(n->op_type, "Gradient") == 0 && strcmp(n->domain, OG_TRAINING_DOMAIN) == 0;
}

static const og_ir_attr *attr(const og_node *n, const char *name)
{
    for (int k = 0; k < n->n_attrs; k++)
        if (strcmp(n->attrs[k].name, name) == 0)
            return &n->attrs[k];
    return NULL;
}

/* The Gradient node's attributes, checked. */
typedef struct grad_spec {
    const og_node *node;
    int nx, nz;
    const char *const *xs, *const *zs;
    const char *y;
} grad_spec;

static og_status read_spec(const og_graph *g, const og_node *n, grad_spec *s)
{
    memset(s, 0, sizeof *s);
    s->node = n;
    const og_ir_attr *xs = attr(n, "xs"), *zs = attr(n, "zs"), *y = attr(n, "y");
    if (!xs || xs->type != OG_ATTR_STRINGS || xs->count < 1)
        return og_node_err(n, OG_ERR_ATTR, "attribute 'xs' (strings, at least one name) is required");
    if (!y || y->type != OG_ATTR_STRING || !y->s[0])
        return og_node_err(n, OG_ERR_ATTR, "attribute 'y' (a tensor name) is required");
    if (zs && zs->type != OG_ATTR_STRINGS)
        return og_node_err(n, OG_ERR_ATTR, "attribute 'zs' must be strings");
    for (int k = 0; k < n->n_attrs; k++)
        if (strcmp(n->attrs[k].name, "xs") && strcmp(n->attrs[k].name, "zs") && strcmp(n->attrs[k].name, "y"))
            return og_node_err(n, OG_ERR_ATTR, "unknown attribute '%s'", n->attrs[k].name);
    s->nx = (int)xs->count;
    s->xs = (const char *const *)xs->strings;
    s->nz = zs ? (int)zs->count : 0;
    s->zs = zs ? (const char *const *)zs->strings : NULL;
    s->y = y->s;
    if (n->n_inputs != s->nx + s->nz)
        return og_node_err(n, OG_ERR_INVALID_GRAPH, "has %d inputs, expected %d (one per name of xs, then of zs)",
                           n->n_inputs, s->nx + s->nz);
    if (n->n_outputs > s->nx)
        return og_node_err(n, OG_ERR_INVALID_GRAPH, "has %d outputs, expected at most %d (one per name of xs)",
                           n->n_outputs, s->nx);
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] < 0)
            return og_node_err(n, OG_ERR_INVALID_GRAPH, "input %d is omitted; every input is required", k);
    for (int k = 0; k < s->nx + s->nz; k++) {
        const char *name = k < s->nx ? s->xs[k] : s->zs[k - s->nx];
        if (!name || og_graph_find_value(g, name) < 0)
            return og_node_err(n, OG_ERR_INVALID_GRAPH, "%s[%d] '%s' names no tensor of the graph",
                               k < s->nx ? "xs" : "zs", k < s->nx ? k : k - s->nx, name ? name : "");
        for (int j = 0; j < k; j++)
            if (strcmp(name, j < s->nx ? s->xs[j] : s->zs[j - s->nx]) == 0)
                return og_node_err(n, OG_ERR_INVALID_GRAPH, "'%s' is named twice in xs/zs", name);
    }
    if (og_graph_find_value(g, s->y) < 0)
        return og_node_err(n, OG_ERR_INVALID_GRAPH, "y '%s' names no tensor of the graph", s->y);
    return OG_OK;
}

static int spec_index(const grad_spec *s, const char *name)
{
    for (int k = 0; k < s->nx + s->nz; k++)
        if (strcmp(name, k < s->nx ? s->xs[k] : s->zs[k - s->nx]) == 0)
            return k;
    return -1;
}

/* Marks (in node_mark) every node the values in `roots` depend on, not
 * walking past values for which stop() holds. */
static og_status mark_ancestors(const og_graph *g, int n_roots, const int *roots, const grad_spec *stop,
                                bool *node_mark)
{
    int *stack = og_calloc((size_t)g->n_values + (size_t)n_roots + 1, sizeof(int));
    bool *seen = og_calloc((size_t)g->n_values + 1, sizeof(bool));
    if (!stack || !seen) {
        og_free(stack);
        og_free(seen);
        return og_err(OG_ERR_NOMEM, "out of memory lowering Gradient nodes");
    }
    int top = 0;
    for (int k = 0; k < n_roots; k++)
        if (roots[k] >= 0 && !seen[roots[k]]) {
            seen[roots[k]] = true;
            stack[top++] = roots[k];
        }
    while (top > 0) {
        const og_value *v = &g->values[stack[--top]];
        if (v->producer < 0 || (stop && spec_index(stop, v->name) >= 0))
            continue;
        const og_node *n = &g->nodes[v->producer];
        node_mark[v->producer] = true;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && !seen[n->inputs[k]]) {
                seen[n->inputs[k]] = true;
                stack[top++] = n->inputs[k];
            }
    }
    og_free(stack);
    og_free(seen);
    return OG_OK;
}

static bool skip_unmarked(void *user, int k) { return !((const bool *)user)[k]; }

static void clear_outputs(og_graph *g)
{
    for (int k = 0; k < g->n_outputs; k++)
        g->values[g->outputs[k]].is_output = false;
    g->n_outputs = 0;
    g->finalized = false;
}

static og_status add_output_once(og_graph *g, const char *name)
{
    int v = og_graph_find_value(g, name);
    if (v >= 0 && g->values[v].is_output)
        return OG_OK;
    return og_graph_add_output(g, name);
}

/* A name not yet used in g, from `base`; into buf. */
static const char *fresh(const og_graph *g, const char *base, char *buf, size_t size)
{
    snprintf(buf, size, "%s", base);
    for (int k = 1; og_graph_find_value(g, buf) >= 0; k++)
        snprintf(buf, size, "%s_%d", base, k);
    return buf;
}

/* Old-to-new names of the gradient graph's values as spliced into g. */
typedef struct name_map { char **to; int n; } name_map;

static void map_free(name_map *m)
{
    for (int k = 0; k < m->n; k++)
        og_free(m->to[k]);
    og_free(m->to);
}

/* Splices gg (the gradient graph of the differentiated function) into
 * dst: its inputs bound to the Gradient node's inputs (or dst's values of
 * the same name), its initializers to dst's, its nodes renamed. */
static og_status splice(og_graph *dst, const og_graph *src, const grad_spec *s, const og_graph *gg)
{
    const og_node *N = s->node;
    char base[512], buf[600];
    name_map m = { og_calloc((size_t)gg->n_values + 1, sizeof(char *)), gg->n_values };
    if (!m.to)
        return og_err(OG_ERR_NOMEM, "out of memory lowering node '%s'", N->name);
    og_status st = OG_OK;
    for (int k = 0; k < gg->n_inputs; k++) {
        const og_value *v = &gg->values[gg->inputs[k]];
        int at = spec_index(s, v->name);
        const char *to = v->name;
        if (at >= 0)
            to = src->values[N->inputs[at]].name;
        else if (k == gg->n_inputs - 1) {
            /* the seeded gradient of y, made below */
            snprintf(base, sizeof base, "%s/%s", N->name, v->name);
            to = fresh(dst, base, buf, sizeof buf);
            if ((st = og_graph_intern_value(dst, to, &(int){ 0 })))
                goto done;
        }
        if (!(m.to[gg->inputs[k]] = og_strdup(to)))
            goto nomem;
    }
    for (int k = 0; k < gg->n_inits; k++) {
        const og_value *v = &gg->values[gg->inits[k]];
        int d = og_graph_find_value(dst, v->name);
        const char *to = v->name;
        if (d < 0 || !dst->values[d].initializer) {
            snprintf(base, sizeof base, "%s/%s", N->name, v->name);
            to = fresh(dst, base, buf, sizeof buf);
            if ((st = og_graph_add_initializer(dst, to, v->initializer)))
                goto done;
        }
        if (!(m.to[gg->inits[k]] = og_strdup(to)))
            goto nomem;
    }
    for (int v = 0; v < gg->n_values; v++) {
        if (m.to[v] || gg->values[v].producer < 0)
            continue;
        snprintf(base, sizeof base, "%s/%s", N->name, gg->values[v].name);
        const char *to = fresh(dst, base, buf, sizeof buf);
        if (!(m.to[v] = og_strdup(to)) || (st = og_graph_intern_value(dst, to, &(int){ 0 })))
            goto nomem_or_st;
    }
    /* The seed: ones of y's shape and type. A Constant when the shape is
     * known and small (no data flows from y into it, so the lowered graph
     * differentiates again cleanly); else ConstantOfShape(Shape(y)), y as
     * computed by the copy. */
    {
        int yv = og_graph_find_value(gg, s->y);
        og_tinfo ti;
        og_value_get(&gg->values[yv], &ti);
        int64_t numel = 1;
        bool known = og_shape_known(&ti.shape);
        for (int d = 0; known && d < ti.shape.rank; d++)
            numel *= ti.shape.dims[d];
        known = known && numel <= 4096;
        og_tensor *one;
        if ((st = known ? og_tensor_create(ti.dtype, ti.shape.rank, ti.shape.dims, &one)
                        : og_tensor_create(ti.dtype, 1, (int64_t[]){ 1 }, &one)))
            goto done;
        for (int64_t i = 0; i < one->numel; i++) {
            if (ti.dtype == OG_DOUBLE)
                ((double *)one->data)[i] = 1.0;
            else
                ((float *)one->data)[i] = 1.0f;
        }
        const char *seed = m.to[gg->inputs[gg->n_inputs - 1]];
        og_attr a = og_attr_tensor("value", one);
        if (known) {
            st = og_graph_add_node(dst, "Constant", NULL, NULL, 0, NULL, 1, &seed, 1, &a);
        } else {
            snprintf(base, sizeof base, "%s/%s_shape", N->name, s->y);
            char shape_name[600];
            snprintf(shape_name, sizeof shape_name, "%s", fresh(dst, base, buf, sizeof buf));
            const char *yin = m.to[yv], *sn = shape_name;
            st = og_graph_add_node(dst, "Shape", NULL, NULL, 1, &yin, 1, &sn, 0, NULL);
            if (!st)
                st = og_graph_add_node(dst, "ConstantOfShape", NULL, NULL, 1, &sn, 1, &seed, 1, &a);
        }
        og_tensor_free(one);
        if (st)
            goto done;
    }
    for (int i = 0; i < gg->n_nodes; i++) {
        const og_node *n = &gg->nodes[i];
        const char *ins[OG_MAX_IO], *outs[OG_MAX_IO];
        og_attr attrs[32];
        if (n->n_attrs > 32) {
            st = og_node_err(n, OG_ERR_UNSUPPORTED, "more than 32 attributes");
            goto done;
        }
        for (int k = 0; k < n->n_inputs; k++)
            ins[k] = n->inputs[k] >= 0 ? m.to[n->inputs[k]] : "";
        for (int k = 0; k < n->n_outputs; k++)
            outs[k] = n->outputs[k] >= 0 ? m.to[n->outputs[k]] : "";
        for (int k = 0; k < n->n_attrs; k++) {
            const og_ir_attr *a = &n->attrs[k];
            attrs[k] = (og_attr){ .name = a->name, .type = a->type, .f = a->f, .i = a->i, .s = a->s,
                                  .s_len = a->s_len, .floats = a->floats, .ints = a->ints,
                                  .strings = (const char *const *)a->strings, .count = a->count, .t = a->t };
        }
        snprintf(base, sizeof base, "%s/%s", N->name, n->unnamed ? "" : n->name);
        if ((st = og_graph_add_node(dst, n->op_type, n->domain, n->unnamed ? NULL : base, n->n_inputs, ins,
                                    n->n_outputs, outs, n->n_attrs, attrs)))
            goto done;
    }
    /* The Gradient node's outputs: gg's outputs after y are the gradients. */
    for (int k = 0; k < N->n_outputs; k++) {
        if (N->outputs[k] < 0)
            continue;
        const char *in = m.to[gg->outputs[1 + k]];
        const char *out = src->values[N->outputs[k]].name;
        snprintf(base, sizeof base, "%s/output_%d", N->name, k);
        if ((st = og_graph_add_node(dst, "Identity", NULL, base, 1, &in, 1, &out, 0, NULL)))
            goto done;
    }
    goto done;
nomem_or_st:
    if (st)
        goto done;
nomem:
    st = og_err(OG_ERR_NOMEM, "out of memory lowering node '%s'", N->name);
done:
    map_free(&m);
    return st;
}

/* Lowers Gradient node N of g (whose inputs and differentiated part need
 * no Gradient node) into *out, a rebuilt copy of g without N. */
static og_status lower_one(og_graph *g, const grad_spec *s, og_graph **out)
{
    const og_node *N = s->node;
    int ni = g->n_nodes;
    bool *fwd = og_calloc((size_t)ni + 1, sizeof(bool)), *cone = og_calloc((size_t)ni + 1, sizeof(bool));
    int *roots = og_calloc((size_t)(N->n_inputs + s->nx + s->nz + 1 + g->n_outputs + 1), sizeof(int));
    og_graph *g0 = NULL, *sub = NULL, *gg = NULL, *g1 = NULL;
    og_status st = OG_OK;
    if (!fwd || !cone || !roots) {
        st = og_err(OG_ERR_NOMEM, "out of memory lowering node '%s'", N->name);
        goto done;
    }
    /* g0: the forward part — everything the Gradient's inputs, xs, zs, y
     * and the graph outputs not downstream of a Gradient need. */
    int nr = 0;
    for (int k = 0; k < N->n_inputs; k++)
        roots[nr++] = N->inputs[k];
    for (int k = 0; k < s->nx + s->nz; k++)
        roots[nr++] = og_graph_find_value(g, k < s->nx ? s->xs[k] : s->zs[k - s->nx]);
    roots[nr++] = og_graph_find_value(g, s->y);
    if ((st = mark_ancestors(g, nr, roots, NULL, fwd)))
        goto done;
    og_clone_options co = { .skip_node = skip_unmarked, .user = fwd };
    if ((st = og_graph_clone(g, &co, &g0)))
        goto done;
    clear_outputs(g0);
    for (int k = 0; k < nr && !st; k++)
        st = add_output_once(g0, g->values[roots[k]].name);
    if (st || (st = og_graph_finalize(g0))) {
        og_err_prefix("node '%s' (Gradient): the graph it differentiates: ", N->name);
        goto done;
    }
    for (int k = 0; k <= s->nx; k++) {
        const char *name = k < s->nx ? s->xs[k] : s->y;
        og_value_info vi;
        og_graph_value(g0, name, &vi);
        if (vi.dtype != OG_FLOAT && vi.dtype != OG_DOUBLE) {
            st = og_node_err(N, OG_ERR_UNSUPPORTED, "%s '%s' is %s; only float and double tensors are differentiated",
                             k < s->nx ? "x" : "y", name, og_dtype_name(vi.dtype));
            goto done;
        }
    }
    /* sub: the differentiated function, y from xs and zs (as inputs). */
    int yv0 = og_graph_find_value(g0, s->y);
    if ((st = mark_ancestors(g0, 1, &yv0, s, cone)))
        goto done;
    og_clone_options cs = { .skip_node = skip_unmarked, .user = cone };
    if ((st = og_graph_clone(g0, &cs, &sub)))
        goto done;
    clear_outputs(sub);
    for (int k = 0; k < s->nx + s->nz && !st; k++) {
        const char *name = k < s->nx ? s->xs[k] : s->zs[k - s->nx];
        int v = og_graph_find_value(sub, name);
        if (v >= 0 && (sub->values[v].is_input || sub->values[v].initializer))
            continue;
        og_value_info vi;
        og_graph_value(g0, name, &vi);
        if (vi.dtype == OG_UNDEFINED) {
            st = og_node_err(N, OG_ERR_SHAPE, "the type of '%s' is not known", name);
            break;
        }
        st = og_graph_add_input(sub, name, vi.dtype, vi.rank, vi.dims, vi.dim_params);
    }
    if (!st && spec_index(s, s->y) >= 0)
        st = og_node_err(N, OG_ERR_INVALID_GRAPH, "y '%s' is itself in xs/zs", s->y);
    if (!st)
        st = og_graph_add_output(sub, s->y);
    if (st || (st = og_graph_finalize(sub))) {
        og_err_prefix("node '%s' (Gradient): the differentiated function: ", N->name);
        goto done;
    }
    og_grad_options go = { .n_seeded = 1, .seeded = &s->y, .n_wrt = s->nx, .wrt = s->xs };
    if ((st = og_graph_build_gradient(sub, &go, &gg))) {
        og_err_prefix("node '%s' (Gradient): ", N->name);
        goto done;
    }
    /* g1: g0 at opset 17, the spliced gradient, then the rest of g. */
    og_clone_options c17 = { .default_opset = 17 };
    if ((st = og_graph_clone(g0, &c17, &g1)))
        goto done;
    clear_outputs(g1);
    if ((st = splice(g1, g, s, gg)))
        goto done;
    for (int v = 0; v < g->n_values && !st; v++) {
        const og_value *val = &g->values[v];
        int d = og_graph_find_value(g1, val->name);
        if (val->declared && !val->is_input && val->producer >= 0 && !fwd[val->producer] && (d < 0 || !g1->values[d].declared)) {
            og_tinfo ti;
            og_value_get(val, &ti);
            st = og_graph_declare_value(g1, val->name, ti.dtype, ti.shape.rank, ti.shape.dims, NULL);
        }
    }
    og_clone_options crest = { .skip_node = skip_unmarked, .user = fwd };
    for (int k = 0; k < ni; k++)
        fwd[k] = !fwd[k] && &g->nodes[k] != N;
    /* copies only the nodes outside the forward part (and not N) */
    og_graph *rest = NULL;
    if (!st && (st = og_graph_clone(g, &crest, &rest)) == OG_OK) {
        for (int k = 0; k < rest->n_nodes && !st; k++) {
            const og_node *n = &rest->nodes[k];
            const char *ins[OG_MAX_IO], *outs[OG_MAX_IO];
            og_attr attrs[32];
            if (n->n_attrs > 32 || n->n_inputs > OG_MAX_IO || n->n_outputs > OG_MAX_IO) {
                st = og_node_err(n, OG_ERR_UNSUPPORTED, "too many attributes, inputs or outputs");
                break;
            }
            for (int j = 0; j < n->n_inputs; j++)
                ins[j] = n->inputs[j] >= 0 ? rest->values[n->inputs[j]].name : "";
            for (int j = 0; j < n->n_outputs; j++)
                outs[j] = n->outputs[j] >= 0 ? rest->values[n->outputs[j]].name : "";
            for (int j = 0; j < n->n_attrs; j++) {
                const og_ir_attr *a = &n->attrs[j];
                attrs[j] = (og_attr){ .name = a->name, .type = a->type, .f = a->f, .i = a->i, .s = a->s,
                                      .s_len = a->s_len, .floats = a->floats, .ints = a->ints,
                                      .strings = (const char *const *)a->strings, .count = a->count, .t = a->t };
            }
            st = og_graph_add_node(g1, n->op_type, n->domain, n->unnamed ? NULL : n->name, n->n_inputs, ins,
                                   n->n_outputs, outs, n->n_attrs, attrs);
        }
        og_graph_free(rest);
    }
    for (int k = 0; k < g->n_outputs && !st; k++)
        st = og_graph_add_output(g1, g->values[g->outputs[k]].name);
    if (!st) {
        *out = g1;
        g1 = NULL;
    }
done:
    og_free(fwd);
    og_free(cone);
    og_free(roots);
    og_graph_free(g0);
    og_graph_free(sub);
    og_graph_free(gg);
    og_graph_free(g1);
    return st;
}

og_status og_lower_gradient(og_graph *g)
{
    for (;;) {
        int pick = -1, any = -1;
        for (int i = 0; i < g->n_nodes && pick < 0; i++) {
            if (!is_gradient(&g->nodes[i]))
                continue;
            any = i;
            /* lowerable when nothing it needs comes from another Gradient */
            grad_spec s;
            og_status st = read_spec(g, &g->nodes[i], &s);
            if (st)
                return st;
            bool *mark = og_calloc((size_t)g->n_nodes + 1, sizeof(bool));
            int *roots = og_calloc((size_t)(s.nx + s.nz) * 2 + 2, sizeof(int));
            if (!mark || !roots) {
                og_free(mark);
                og_free(roots);
                return og_err(OG_ERR_NOMEM, "out of memory lowering Gradient nodes");
            }
            int nr = 0;
            for (int k = 0; k < g->nodes[i].n_inputs; k++)
                roots[nr++] = g->nodes[i].inputs[k];
            for (int k = 0; k < s.nx + s.nz; k++)
                roots[nr++] = og_graph_find_value(g, k < s.nx ? s.xs[k] : s.zs[k - s.nx]);
            roots[nr++] = og_graph_find_value(g, s.y);
            st = mark_ancestors(g, nr, roots, NULL, mark);
            bool clean = !mark[i];
            for (int j = 0; j < g->n_nodes && clean; j++)
                clean = !(mark[j] && is_gradient(&g->nodes[j]));
            og_free(mark);
            og_free(roots);
            if (st)
                return st;
            if (clean)
                pick = i;
        }
        if (any < 0)
            return OG_OK;
        if (pick < 0)
            return og_node_err(&g->nodes[any], OG_ERR_INVALID_GRAPH,
                               "the Gradient nodes depend on each other in a cycle");
        grad_spec s;
        og_status st = read_spec(g, &g->nodes[pick], &s);
        og_graph *g1 = NULL;
        if (st || (st = lower_one(g, &s, &g1)))
            return st;
        /* g becomes the lowered graph (the caller keeps its pointer). */
        og_graph tmp = *g;
        *g = *g1;
        *g1 = tmp;
        g->training = g1->training;   /* the training infos stay with the model */
        g1->training = NULL;
        og_graph_free(g1);
    }
}
