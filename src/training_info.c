/* SPDX-License-Identifier: MIT */
/* training_info.c — ONNX TrainingInfoProto in the graph IR: storing a
 * model's training infos (each an optional initialization graph, an
 * algorithm graph and their bindings), checking them against the main
 * graph, and building the finalized graphs that run them.
 *
 * The stored graphs stay unfinalized: ONNX defines the algorithm as a
 * continuation of the main graph ("the concatenation of ModelProto.graph
 * and algorithm", onnx.proto), so on its own it names values it does not
 * define. og_training_algorithm_graph makes that concatenation, keeping
 * only the main-graph part the algorithm needs, and finalizes it. */
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "clone.h"

/* ---- storage -------------------------------------------------------------- */

static void free_bindings(og_binding *b, int n)
{
    for (int k = 0; b && k < n; k++) {
        og_free((char *)b[k].key);
        og_free((char *)b[k].value);
    }
    og_free(b);
}

static void rec_free(og_training_rec *r)
{
    og_graph_free(r->init);
    og_graph_free(r->alg);
    free_bindings(r->ib, r->n_ib);
    free_bindings(r->ub, r->n_ub);
    memset(r, 0, sizeof *r);
}

void og_training_free_all(og_graph *g)
{
    if (!g || !g->training)
        return;
    for (int k = 0; k < g->training->n; k++)
        rec_free(&g->training->recs[k]);
    og_strset_clear(&g->training->ukeys);
    og_free(g->training->recs);
    og_free(g->training);
    g->training = NULL;
}

/* Sets *n_dst only with *dst, so a failure later frees what was copied. */
static og_status copy_bindings(og_binding **dst, int *n_dst, int n, const og_binding *src)
{
    *dst = NULL;
    if (n == 0)
        return OG_OK;
    og_binding *b = og_calloc((size_t)n, sizeof *b);
    if (!b)
        return og_err(OG_ERR_NOMEM, "out of memory copying %d bindings", n);
    for (int k = 0; k < n; k++)
        if (!(b[k].key = og_strdup(src[k].key)) || !(b[k].value = og_strdup(src[k].value))) {
            free_bindings(b, n);
            return og_err(OG_ERR_NOMEM, "out of memory copying %d bindings", n);
        }
    *dst = b;
    *n_dst = n;
    return OG_OK;
}

/* ---- checks --------------------------------------------------------------- */

static const og_value *find(const og_graph *g, const char *name)
{
    int v = g ? og_graph_find_value(g, name) : -1;
    return v >= 0 ? &g->values[v] : NULL;
}

static bool is_init(const og_graph *g, const char *name)
{
    const og_value *v = find(g, name);
    return v && v->initializer;
}

static bool is_output(const og_graph *g, const char *name)
{
    const og_value *v = find(g, name);
    return v && v->is_output;
}

/* A value the main graph defines (input, initializer or node output). */
static bool defined_in(const og_graph *g, const char *name)
{
    const og_value *v = find(g, name);
    return v && (v->is_input || v->initializer || v->producer >= 0);
}

/* Every graph's opsets end up in one ModelProto.opset_import: a domain
 * imported at two versions cannot be written. */
static og_status check_opsets(const og_graph *g, const og_graph *sub, const og_graph *other, const char *where,
                              const char *what)
{
    for (int k = 0; sub && k < sub->n_opsets; k++) {
        const og_opset_id *o = &sub->opsets[k];
        /* g, other, then every stored training graph (loaded ones import
         * nothing: TrainingInfoProto has no opset_import) */
        int n_rec = g->training ? g->training->n : 0;
        for (int a = -2; a < 2 * n_rec; a++) {
            const og_graph *x = a == -2 ? g : a == -1 ? other
                              : a % 2 ? g->training->recs[a / 2].init : g->training->recs[a / 2].alg;
            for (int j = 0; x && j < x->n_opsets; j++)
                if (strcmp(x->opsets[j].domain, o->domain) == 0 && x->opsets[j].version != o->version)
                    return og_err(OG_ERR_INVALID_GRAPH, "%s: %s imports opset '%s' version %lld, but the model "
                                  "imports it at version %lld (a model has one opset_import)", where, what,
                                  o->domain[0] ? o->domain : "ai.onnx", (long long)o->version,
                                  (long long)x->opsets[j].version);
        }
    }
    return OG_OK;
}

/* The set of update keys, rebuilt if an earlier insertion ran out of
 * memory, so duplicate checks over many training infos stay linear. */
static og_status update_keys(og_graph *g, og_strset **out)
{
    og_training_set *t = g->training;
    *out = NULL;
    if (!t)
        return OG_OK;
    if (!t->ukeys_valid) {
        og_strset_clear(&t->ukeys);
        for (int r = 0; r < t->n; r++)
            for (int j = 0; j < t->recs[r].n_ub; j++) {
                bool dup;
                og_status st = og_strset_add(&t->ukeys, t->recs[r].ub[j].key, &dup);
                if (st) {
                    og_strset_clear(&t->ukeys);
                    return st;
                }
            }
        t->ukeys_valid = true;
    }
    *out = &t->ukeys;
    return OG_OK;
}

static og_status check_bindings(og_graph *g, const og_graph *init, const og_graph *alg, int n, const og_binding *b,
                                bool update, const char *where)
{
    const char *field = update ? "update_binding" : "initialization_binding";
    if (n < 0 || (n > 0 && !b))
        return og_err(OG_ERR_INVALID_ARG, "%s: %d %ss given with %s array", where, n, field, b ? "an" : "a NULL");
    og_strset keys = { 0 }, *model_keys = NULL;
    og_status st = update ? update_keys(g, &model_keys) : OG_OK;
    for (int k = 0; k < n && !st; k++) {
        const char *key = b[k].key, *value = b[k].value;
        bool dup = false;
        if (!key || !key[0] || !value || !value[0]) {
            st = og_err(OG_ERR_INVALID_GRAPH, "%s: %s[%d]: %s is empty", where, field, k,
                        !key || !key[0] ? "key" : "value");
            break;
        }
        if (!is_init(g, key) && !is_init(alg, key)) {
            st = og_err(OG_ERR_INVALID_GRAPH, "%s: %s[%d] '%s' <- '%s': key '%s' is not an initializer of the main "
                        "graph or of the algorithm", where, field, k, key, value, key);
            break;
        }
        if (update ? !is_output(alg, value) && !is_output(g, value) : !init || !is_output(init, value)) {
            st = og_err(OG_ERR_INVALID_GRAPH, "%s: %s[%d] '%s' <- '%s': value '%s' is not an output of %s", where, field,
                        k, key, value, value, update ? "the algorithm or the main graph"
                        : init ? "the initialization graph" : "an initialization graph (there is none)");
            break;
        }
        if ((st = og_strset_add(&keys, key, &dup)))
            break;
        dup = dup || (model_keys && og_strset_get(model_keys, key));
        if (dup)
            st = og_err(OG_ERR_INVALID_GRAPH, "%s: %s[%d] '%s' <- '%s': key '%s' is bound twice%s", where, field, k,
                        key, value, key, update ? " (a variable is updated by at most one binding of the model)" : "");
    }
    og_strset_clear(&keys);
    return st;
}

/* The algorithm continues the main graph, so the two share one namespace:
 * what the algorithm defines must be new. */
static og_status check_names(const og_graph *g, const og_graph *alg, const char *where)
{
    for (int k = 0; k < alg->n_inputs; k++)
        if (defined_in(g, alg->values[alg->inputs[k]].name))
            return og_err(OG_ERR_INVALID_GRAPH, "%s: algorithm input '%s' is already a value of the main graph "
                          "(the algorithm reads the main graph's values without declaring them)", where,
                          alg->values[alg->inputs[k]].name);
    for (int k = 0; k < alg->n_inits; k++)
        if (defined_in(g, alg->values[alg->inits[k]].name))
            return og_err(OG_ERR_INVALID_GRAPH, "%s: algorithm initializer '%s' is already %s of the main graph",
                          where, alg->values[alg->inits[k]].name,
                          is_init(g, alg->values[alg->inits[k]].name) ? "an initializer" : "a value");
    for (int k = 0; k < alg->n_nodes; k++) {
        const og_node *n = &alg->nodes[k];
        for (int j = 0; j < n->n_outputs; j++)
            if (n->outputs[j] >= 0 && defined_in(g, alg->values[n->outputs[j]].name))
                return og_err(OG_ERR_INVALID_GRAPH, "%s: algorithm node '%s' (%s) output '%s' is already a value of "
                              "the main graph", where, n->name, n->op_type, alg->values[n->outputs[j]].name);
    }
    return OG_OK;
}

og_status og_training_adopt(og_graph *g, og_graph *init, og_graph *alg, int n_ib, const og_binding *ib, int n_ub,
                            const og_binding *ub, const char *where)
{
    og_status st = OG_OK;
    og_training_rec r = { .init = init, .alg = alg };
    if (!alg)
        st = og_err(OG_ERR_INVALID_ARG, "%s: the algorithm graph is NULL", where);
    else if (init && init->n_inputs)
        st = og_err(OG_ERR_INVALID_GRAPH, "%s: the initialization graph has input '%s'; it may have none", where,
                    init->values[init->inputs[0]].name);
    if (!st && !(st = check_opsets(g, alg, init, where, "the algorithm")) &&
        !(st = check_opsets(g, init, alg, where, "the initialization graph")) &&
        !(st = check_names(g, alg, where)) &&
        !(st = check_bindings(g, init, alg, n_ib, ib, false, where)) &&
        !(st = check_bindings(g, init, alg, n_ub, ub, true, where)) &&
        !(st = copy_bindings(&r.ib, &r.n_ib, n_ib, ib)) && !(st = copy_bindings(&r.ub, &r.n_ub, n_ub, ub))) {
        if (!g->training && !(g->training = og_calloc(1, sizeof *g->training)))
            st = og_err(OG_ERR_NOMEM, "out of memory adding a training info");
        else if (!(st = og_grow((void **)&g->training->recs, &g->training->cap, g->training->n + 1, sizeof r))) {
            g->training->recs[g->training->n++] = r;
            og_training_set *t = g->training;
            for (int j = 0; j < r.n_ub && t->ukeys_valid; j++) {
                bool dup;
                if (og_strset_add(&t->ukeys, r.ub[j].key, &dup) != OG_OK) {
                    og_err_clear();   /* committed anyway: the set is rebuilt on next use */
                    og_strset_clear(&t->ukeys);
                    t->ukeys_valid = false;
                }
            }
            return OG_OK;
        }
    }
    if (st)
        rec_free(&r);
    if (g->training && g->training->n == 0)
        og_training_free_all(g);
    return st;
}

/* ---- public API --------------------------------------------------------- */

static bool main_has_init(void *user, const char *name) { return is_init(user, name); }

/* A copy of sub as stored (unfinalized): its initializers that g has are
 * left out when drop_shared. */
static og_status copy_sub(og_graph *g, const og_graph *sub, bool to_double, bool drop_shared, og_graph **out)
{
    og_clone_options o = { .to_double = to_double, .skip_value = drop_shared ? main_has_init : NULL, .user = g };
    og_status st = og_graph_clone(sub, &o, out);
    if (st || !drop_shared)
        return st;
    /* skip_value also skipped inputs of those names: keep them (check_names reports them). */
    for (int k = 0; k < sub->n_inputs && !st; k++) {
        const og_value *v = &sub->values[sub->inputs[k]];
        if (is_init(g, v->name) && !v->initializer)
            st = og_err(OG_ERR_INVALID_GRAPH, "algorithm input '%s' is already a value of the main graph "
                        "(the algorithm reads the main graph's values without declaring them)", v->name);
    }
    if (st) {
        og_graph_free(*out);
        *out = NULL;
    }
    return st;
}

og_status og_graph_add_training_info(og_graph *g, const og_graph *initialization, const og_graph *algorithm,
                                     int n_ib, const og_binding *ib, int n_ub, const og_binding *ub)
{
    if (!g || !algorithm)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_add_training_info: %s is NULL", !g ? "graph" : "algorithm");
    char where[64];
    snprintf(where, sizeof where, "training_info[%d]", og_graph_num_training_infos(g));
    og_graph *init = NULL, *alg = NULL;
    og_status st = OG_OK;
    if (initialization && (st = copy_sub(g, initialization, false, false, &init)))
        return og_err_prefix("%s: initialization: ", where);
    if ((st = copy_sub(g, algorithm, false, true, &alg))) {
        og_graph_free(init);
        return og_err_prefix("%s: ", where);
    }
    return og_training_adopt(g, init, alg, n_ib, ib, n_ub, ub, where);
}

og_status og_training_copy(og_graph *dst, const og_graph *src, bool to_double)
{
    for (int k = 0; src->training && k < src->training->n; k++) {
        const og_training_rec *r = &src->training->recs[k];
        og_graph *init = NULL, *alg = NULL;
        char where[64];
        snprintf(where, sizeof where, "training_info[%d]", k);
        og_status st;
        if (r->init && (st = copy_sub(dst, r->init, to_double, false, &init)))
            return og_err_prefix("%s: ", where);
        if ((st = copy_sub(dst, r->alg, to_double, false, &alg))) {
            og_graph_free(init);
            return og_err_prefix("%s: ", where);
        }
        if ((st = og_training_adopt(dst, init, alg, r->n_ib, r->ib, r->n_ub, r->ub, where)))
            return st;
    }
    return OG_OK;
}

int og_graph_num_training_infos(const og_graph *g)
{
    return g && g->training ? g->training->n : 0;
}

static og_status get_rec(const og_graph *g, int k, const char *fn, const og_training_rec **r)
{
    if (!g)
        return og_err(OG_ERR_INVALID_ARG, "%s: graph is NULL", fn);
    int n = og_graph_num_training_infos(g);
    if (k < 0 || k >= n)
        return og_err(OG_ERR_INVALID_ARG, "%s: training info index %d is outside 0..%d", fn, k, n - 1);
    *r = &g->training->recs[k];
    return OG_OK;
}

og_status og_graph_get_training_info(const og_graph *g, int k, og_training_info *out)
{
    const og_training_rec *r = NULL;
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_get_training_info: out is NULL");
    og_status st = get_rec(g, k, "og_graph_get_training_info", &r);
    if (st)
        return st;
    *out = (og_training_info){ r->init, r->alg, r->n_ib, r->ib, r->n_ub, r->ub };
    return OG_OK;
}

og_status og_graph_clear_training_info(og_graph *g)
{
    if (!g)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_clear_training_info: graph is NULL");
    og_training_free_all(g);
    return OG_OK;
}

/* ---- runnable graphs ------------------------------------------------------ */

/* What of the main graph a training graph needs. */
typedef struct need {
    const og_graph *g;
    bool *node, *value;
} need;

static bool skip_node(void *user, int k) { return !((need *)user)->node[k]; }

static bool skip_value(void *user, const char *name)
{
    const need *n = user;
    int v = og_graph_find_value(n->g, name);
    return v < 0 || !n->value[v];
}

static og_status push(int **stack, int *n, int *cap, int v)
{
    if (v < 0)
        return OG_OK;
    og_status st = og_grow((void **)stack, cap, *n + 1, sizeof(int));
    if (!st)
        (*stack)[(*n)++] = v;
    return st;
}

/* Names a node refers to: its inputs, and the strings of its attributes
 * (Gradient names y, xs and zs there). */
static og_status push_refs(const og_graph *from, const og_node *n, const og_graph *g, int **stack, int *ns, int *cap)
{
    og_status st = OG_OK;
    for (int j = 0; j < n->n_inputs && !st; j++)
        if (n->inputs[j] >= 0)
            st = push(stack, ns, cap, og_graph_find_value(g, from->values[n->inputs[j]].name));
    for (int a = 0; a < n->n_attrs && !st; a++) {
        const og_ir_attr *at = &n->attrs[a];
        if (at->type == OG_ATTR_STRING && at->s)
            st = push(stack, ns, cap, og_graph_find_value(g, at->s));
        for (int64_t i = 0; at->type == OG_ATTR_STRINGS && i < at->count && !st; i++)
            st = push(stack, ns, cap, og_graph_find_value(g, at->strings[i]));
    }
    return st;
}

/* Marks the main-graph values and nodes `sub` reads, transitively. */
static og_status mark_needed(const og_graph *g, const og_graph *sub, need *nd)
{
    int *stack = NULL, ns = 0, cap = 0;
    og_status st = OG_OK;
    nd->g = g;
    nd->node = og_calloc((size_t)g->n_nodes + 1, sizeof(bool));
    nd->value = og_calloc((size_t)g->n_values + 1, sizeof(bool));
    if (!nd->node || !nd->value)
        st = og_err(OG_ERR_NOMEM, "out of memory building a training graph");
    for (int k = 0; k < sub->n_nodes && !st; k++)
        st = push_refs(sub, &sub->nodes[k], g, &stack, &ns, &cap);
    for (int k = 0; k < sub->n_outputs && !st; k++)
        st = push(&stack, &ns, &cap, og_graph_find_value(g, sub->values[sub->outputs[k]].name));
    while (!st && ns > 0) {
        int v = stack[--ns];
        if (nd->value[v])
            continue;
        nd->value[v] = true;
        int p = g->values[v].producer;
        if (p >= 0 && !nd->node[p]) {
            nd->node[p] = true;
            st = push_refs(g, &g->nodes[p], g, &stack, &ns, &cap);
        }
    }
    og_free(stack);
    /* what sub defines itself is sub's (an initialization graph may reuse names) */
    for (int v = 0; !st && v < g->n_values; v++)
        if (nd->value[v] && defined_in(sub, g->values[v].name))
            nd->value[v] = false;
    return st;
}

static og_status add_opsets(og_graph *c, const og_graph *from)
{
    for (int k = 0; k < from->n_opsets; k++) {
        bool have = false;
        for (int j = 0; j < c->n_opsets && !have; j++)
            have = strcmp(c->opsets[j].domain, from->opsets[k].domain) == 0;
        og_status st;
        if (!have && (st = og_graph_set_opset(c, from->opsets[k].domain, from->opsets[k].version)))
            return st;
    }
    return OG_OK;
}

/* A binding's value must fit the initializer it replaces. */
static og_status check_binding_type(const og_graph *c, const og_tensor *key, const og_binding *b, const char *where,
                                    const char *field, int k)
{
    og_value_info vi;
    if (og_graph_value(c, b->value, &vi) != OG_OK)
        return og_err(OG_ERR_INTERNAL, "%s: %s[%d]: value '%s' is missing", where, field, k, b->value);
    bool bad = vi.dtype != OG_UNDEFINED && vi.dtype != key->dtype;
    bad = bad || (vi.rank >= 0 && vi.rank != key->rank);
    for (int d = 0; !bad && vi.rank >= 0 && d < vi.rank; d++)
        bad = vi.dims[d] >= 0 && vi.dims[d] != key->dims[d];
    if (!bad)
        return OG_OK;
    og_shape ks = { key->rank, { 0 } }, vs = { vi.rank, { 0 } };
    memcpy(ks.dims, key->dims, sizeof(int64_t) * (size_t)key->rank);
    if (vi.rank > 0)
        memcpy(vs.dims, vi.dims, sizeof(int64_t) * (size_t)vi.rank);
    char a[OG_SHAPE_STR_MAX], s[OG_SHAPE_STR_MAX];
    return og_err(OG_ERR_SHAPE, "%s: %s[%d] '%s' <- '%s': initializer '%s' is %s %s but '%s' is %s %s", where, field,
                  k, b->key, b->value, b->key, og_dtype_name(key->dtype), og_shape_str(&ks, a, sizeof a), b->value,
                  og_dtype_name(vi.dtype), og_shape_str(&vs, s, sizeof s));
}

static const og_tensor *key_tensor(const og_graph *g, const og_graph *alg, const char *key)
{
    const og_value *v = find(g, key);
    if (v && v->initializer)
        return v->initializer;
    v = find(alg, key);
    return v ? v->initializer : NULL;
}

static og_status training_graph(const og_graph *g, int k, bool algorithm, og_graph **out)
{
    const char *fn = algorithm ? "og_training_algorithm_graph" : "og_training_initialization_graph";
    const og_training_rec *r = NULL;
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    og_status st = get_rec(g, k, fn, &r);
    if (st)
        return st;
    const og_graph *sub = algorithm ? r->alg : r->init;
    const char *part = algorithm ? "algorithm" : "initialization";
    if (!sub)
        return og_err(OG_ERR_INVALID_ARG, "%s: training_info[%d] has no initialization graph", fn, k);
    char where[80], name[200], doc[300];
    snprintf(where, sizeof where, "training_info[%d].%s", k, part);
    snprintf(name, sizeof name, "%s", sub->graph_name && sub->graph_name[0] ? sub->graph_name
             : algorithm ? "training_algorithm" : "training_initialization");
    snprintf(doc, sizeof doc, "%s of model graph '%s'", where, g->graph_name ? g->graph_name : "");
    need nd = { 0 };
    og_graph *c = NULL;
    if ((st = mark_needed(g, sub, &nd)) || (st = og_graph_create(&c)))
        goto done;
    if (!algorithm) {
        /* the initialization graph runs alone: of the main graph it has only initializers */
        memset(nd.node, 0, (size_t)g->n_nodes * sizeof(bool));
        for (int v = 0; v < g->n_values; v++)
            nd.value[v] = nd.value[v] && g->values[v].initializer && !g->values[v].is_input;
    }
    og_clone_options main_part = { .skip_node = skip_node, .skip_value = skip_value, .no_outputs = true, .user = &nd };
    if ((st = og_graph_set_model(c, g->ir_version < 8 ? 8 : g->ir_version, g->model_version, g->model_domain, NULL)) ||
        (st = og_graph_set_producer(c, g->producer_name, g->producer_version)) || (st = og_graph_set_name(c, name)) ||
        (st = og_graph_set_doc(c, doc)) || (st = add_opsets(c, g)) || (st = add_opsets(c, sub)) ||
        (st = og_graph_clone_into(c, g, &main_part)) || (st = og_graph_clone_into(c, sub, NULL)))
        goto done;
    int nb = algorithm ? r->n_ub : r->n_ib;
    const og_binding *b = algorithm ? r->ub : r->ib;
    for (int j = 0; j < nb && !st; j++)
        if (!is_output(c, b[j].value))
            st = og_graph_add_output(c, b[j].value);   /* a main-graph output an update binding names */
    if (st || (st = og_graph_finalize(c))) {
        og_err_prefix("%s: ", where);
        goto done;
    }
    for (int j = 0; j < nb && !st; j++) {
        const og_tensor *t = key_tensor(g, r->alg, b[j].key);
        st = t ? check_binding_type(c, t, &b[j], where, algorithm ? "update_binding" : "initialization_binding", j)
               : og_err(OG_ERR_INTERNAL, "%s: binding key '%s' lost", where, b[j].key);
    }
done:
    og_free(nd.node);
    og_free(nd.value);
    if (st)
        og_graph_free(c);
    else
        *out = c;
    return st;
}

og_status og_training_algorithm_graph(const og_graph *g, int k, og_graph **out)
{
    return training_graph(g, k, true, out);
}

og_status og_training_initialization_graph(const og_graph *g, int k, og_graph **out)
{
    return training_graph(g, k, false, out);
}
