/* SPDX-License-Identifier: MIT */
/* graph.c — the graph IR: values by name (hashed), nodes, inputs,
 * initializers, outputs, opsets and metadata; the builder and inspection
 * API. Validation and shape inference live in finalize.c. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int og_graph_find_value(const og_graph *g, const char *name)
{
    if (!g->hash_cap || !name)
        return -1;
    size_t mask = (size_t)g->hash_cap - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        int slot = g->hash[i];
        if (slot == 0)
            return -1;
        if (strcmp(g->values[slot - 1].name, name) == 0)
            return slot - 1;
    }
}

static og_status rehash(og_graph *g, int cap)
{
    int *h = og_calloc((size_t)cap, sizeof(int));
    if (!h)
        return og_err(OG_ERR_NOMEM, "out of memory growing the value table");
    size_t mask = (size_t)cap - 1;
    for (int v = 0; v < g->n_values; v++) {
        size_t i = name_hash(g->values[v].name) & mask;
        while (h[i])
            i = (i + 1) & mask;
        h[i] = v + 1;
    }
    og_free(g->hash);
    g->hash = h;
    g->hash_cap = cap;
    return OG_OK;
}

og_status og_graph_intern_value(og_graph *g, const char *name, int *index)
{
    int v = og_graph_find_value(g, name);
    if (v >= 0) {
        *index = v;
        return OG_OK;
    }
    og_status st;
    if ((g->n_values + 1) * 2 > g->hash_cap && (st = rehash(g, g->hash_cap ? g->hash_cap * 2 : 64)))
        return st;
    if ((st = og_grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(og_value))))
        return st;
    og_value *val = &g->values[g->n_values];
    memset(val, 0, sizeof *val);
    if (!(val->name = og_strdup(name)))
        return og_err(OG_ERR_NOMEM, "out of memory copying value name '%s'", name);
    val->rank = -1;
    val->producer = -1;
    size_t mask = (size_t)g->hash_cap - 1, i = name_hash(name) & mask;
    while (g->hash[i])
        i = (i + 1) & mask;
    g->hash[i] = g->n_values + 1;
    *index = g->n_values++;
    return OG_OK;
}

void og_value_get(const og_value *v, og_tinfo *ti)
{
    ti->dtype = v->dtype;
    ti->shape.rank = v->rank;
    if (v->rank > 0)
        memcpy(ti->shape.dims, og_value_dims(v), sizeof(int64_t) * (size_t)v->rank);
}

og_status og_value_set(og_value *v, const og_tinfo *ti)
{
    int rank = ti->shape.rank;
    if (rank > OG_VALUE_INLINE_RANK) {
        /* Sized for any rank at once, so a later set never reallocates. */
        if (!v->big_dims && !(v->big_dims = og_malloc(sizeof(int64_t) * OG_MAX_RANK)))
            return og_err(OG_ERR_NOMEM, "out of memory storing the shape of '%s'", v->name);
        memcpy(v->big_dims, ti->shape.dims, sizeof(int64_t) * (size_t)rank);
    } else if (rank > 0) {
        memcpy(v->small_dims, ti->shape.dims, sizeof(int64_t) * (size_t)rank);
    }
    v->dtype = ti->dtype;
    v->rank = rank;
    return OG_OK;
}

static og_status push_index(int **arr, int *n, int *cap, int v)
{
    og_status st = og_grow((void **)arr, cap, *n + 1, sizeof(int));
    if (st)
        return st;
    (*arr)[(*n)++] = v;
    return OG_OK;
}

static bool valid_name(const char *s) { return s && s[0]; }

#define OG_NEED_GRAPH(g)                                                      \
    do {                                                                      \
        if (!(g))                                                             \
            return og_err(OG_ERR_INVALID_ARG, "%s: graph is NULL", __func__); \
    } while (0)

og_status og_graph_create(og_graph **out)
{
    *out = og_calloc(1, sizeof(og_graph));
    if (!*out)
        return og_err(OG_ERR_NOMEM, "out of memory creating a graph");
    (*out)->ir_version = 8;
    return OG_OK;
}

static void free_node(og_node *n)
{
    og_free(n->name);
    og_free(n->doc_string);
    og_free(n->inputs);   /* outputs share its allocation */
    for (int k = 0; k < n->n_attrs; k++)
        og_ir_attr_clear(&n->attrs[k]);
    og_free(n->attrs);
    og_free(n->params);
}

void og_graph_free(og_graph *g)
{
    if (!g)
        return;
    for (int v = 0; v < g->n_values; v++) {
        og_value *val = &g->values[v];
        og_free(val->name);
        for (int k = 0; val->dim_param && k < OG_MAX_RANK; k++)
            og_free(val->dim_param[k]);
        og_free(val->dim_param);
        og_free(val->big_dims);
        og_tensor_free(val->initializer);
        og_tensor_free(val->folded);
        og_free(val->doc_string);
    }
    for (int k = 0; k < g->n_nodes; k++)
        free_node(&g->nodes[k]);
    for (int k = 0; k < g->n_opsets; k++)
        og_free(g->opsets[k].domain);
    for (int k = 0; k < g->n_meta; k++) {
        og_free(g->meta[k].key);
        og_free(g->meta[k].value);
    }
    og_free(g->values);
    og_free(g->hash);
    og_free(g->nodes);
    for (int k = 0; k < g->n_warnings; k++)
        og_free(g->warnings[k]);
    og_free(g->warnings);
    og_free(g->opsets);
    og_free(g->meta);
    og_strset_clear(&g->opset_domains);
    og_strset_clear(&g->interned_set);
    for (int k = 0; k < g->n_interned; k++)
        og_free(g->interned[k]);
    og_free(g->interned);
    og_strset_clear(&g->meta_keys);
    og_free(g->inputs);
    og_free(g->inits);
    og_free(g->outputs);
    og_free(g->order);
    og_free(g->producer_name);
    og_free(g->producer_version);
    og_free(g->model_domain);
    og_free(g->model_doc);
    og_free(g->graph_name);
    og_free(g->graph_doc);
    og_training_free_all(g);
    og_free(g);
}

static const char *norm_domain(const char *d)
{
    return (!d || strcmp(d, "ai.onnx") == 0) ? "" : d;
}

og_status og_graph_set_opset(og_graph *g, const char *domain, int64_t version)
{
    OG_NEED_GRAPH(g);
    domain = norm_domain(domain);
    og_status st = og_grow((void **)&g->opsets, &g->cap_opsets, g->n_opsets + 1, sizeof(og_opset_id));
    if (st)
        return st;
    char *d = og_strdup(domain);
    if (!d)
        return og_err(OG_ERR_NOMEM, "out of memory importing opset '%s'", domain);
    bool dup;
    if ((st = og_strset_add(&g->opset_domains, d, &dup)) || dup) {
        og_free(d);
        return st ? st : og_err(OG_ERR_INVALID_GRAPH, "opset of domain '%s' is imported twice", domain);
    }
    g->opsets[g->n_opsets++] = (og_opset_id){ d, version };
    g->finalized = false;
    return OG_OK;
}

/* Records a declared type. A value declared twice (say as a graph input and
 * again as a graph output or in value_info) must be declared compatibly;
 * the result keeps what either declaration knows. */
static og_status set_type(og_value *val, og_dtype dtype, int rank, const int64_t *dims,
                          const char *const *dim_params)
{
    char a[OG_SHAPE_STR_MAX], b[OG_SHAPE_STR_MAX];
    if (rank > OG_MAX_RANK)
        return og_err(OG_ERR_LIMIT, "value '%s': rank %d exceeds the maximum %d", val->name, rank, OG_MAX_RANK);
    if (og_check_rank_limit(rank, "value") != OG_OK)
        return og_err_prefix("'%s' ", val->name);
    if (rank > 0 && !dims)
        return og_err(OG_ERR_INVALID_ARG, "value '%s': dims is NULL for rank %d", val->name, rank);
    if (dtype != OG_UNDEFINED && og_dtype_size(dtype) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "value '%s': element type %s (%d) is not supported", val->name,
                      og_dtype_name(dtype), (int)dtype);
    og_tinfo ti = { dtype, { rank < 0 ? -1 : rank, { 0 } } };
    for (int k = 0; k < rank; k++)
        ti.shape.dims[k] = dims[k] < 0 ? -1 : dims[k];
    og_tinfo have_ti, *have = &have_ti;
    og_value_get(val, have);
    if (val->declared) {
        bool clash = (have->dtype && dtype && have->dtype != dtype) ||
                     (have->shape.rank >= 0 && rank >= 0 && have->shape.rank != rank);
        for (int k = 0; !clash && have->shape.rank >= 0 && k < rank; k++)
            clash = have->shape.dims[k] >= 0 && ti.shape.dims[k] >= 0 && have->shape.dims[k] != ti.shape.dims[k];
        if (clash)
            return og_err(OG_ERR_SHAPE, "value '%s' is declared as %s %s and again as %s %s", val->name,
                          og_dtype_name(have->dtype), og_shape_str(&have->shape, a, sizeof a),
                          og_dtype_name(dtype), og_shape_str(&ti.shape, b, sizeof b));
        if (!have->dtype)
            have->dtype = dtype;
        if (have->shape.rank < 0)
            *have = (og_tinfo){ have->dtype, ti.shape };
        else
            for (int k = 0; k < rank; k++)
                if (have->shape.dims[k] < 0)
                    have->shape.dims[k] = ti.shape.dims[k];
    } else {
        *have = ti;
    }
    og_status st = og_value_set(val, have);
    if (st)
        return st;
    for (int k = 0; k < rank && k < have->shape.rank; k++) {
        if (!dim_params || !dim_params[k] || !dim_params[k][0] || (val->dim_param && val->dim_param[k]))
            continue;
        /* Most values have no symbolic dims: the table is made on first use. */
        if (!val->dim_param && !(val->dim_param = og_calloc(OG_MAX_RANK, sizeof(char *))))
            return og_err(OG_ERR_NOMEM, "out of memory copying dim_param of '%s'", val->name);
        if (!(val->dim_param[k] = og_strdup(dim_params[k])))
            return og_err(OG_ERR_NOMEM, "out of memory copying dim_param of '%s'", val->name);
    }
    val->declared = true;
    return OG_OK;
}

og_status og_graph_add_input(og_graph *g, const char *name, og_dtype dtype, int rank, const int64_t *dims,
                             const char *const *dim_params)
{
    OG_NEED_GRAPH(g);
    if (!valid_name(name))
        return og_err(OG_ERR_INVALID_GRAPH, "graph input has an empty name");
    if (dtype == OG_UNDEFINED)
        return og_err(OG_ERR_INVALID_ARG, "graph input '%s' needs an element type", name);
    int v;
    og_status st = og_graph_intern_value(g, name, &v);
    if (st)
        return st;
    if (g->values[v].is_input)
        return og_err(OG_ERR_INVALID_GRAPH, "graph input '%s' is declared twice", name);
    if ((st = set_type(&g->values[v], dtype, rank, dims, dim_params)))
        return st;
    if ((st = push_index(&g->inputs, &g->n_inputs, &g->cap_inputs, v)))
        return st;
    g->values[v].is_input = true;
    g->finalized = false;
    return OG_OK;
}

og_status og_graph_declare_value(og_graph *g, const char *name, og_dtype dtype, int rank, const int64_t *dims,
                                 const char *const *dim_params)
{
    OG_NEED_GRAPH(g);
    if (!valid_name(name))
        return og_err(OG_ERR_INVALID_GRAPH, "value_info has an empty name");
    int v;
    og_status st = og_graph_intern_value(g, name, &v);
    if (st)
        return st;
    g->finalized = false;
    return set_type(&g->values[v], dtype, rank, dims, dim_params);
}

og_status og_graph_adopt_initializer(og_graph *g, const char *name, og_tensor *t)
{
    og_status st = OG_OK;
    int v;
    if (!valid_name(name))
        st = og_err(OG_ERR_INVALID_GRAPH, "initializer has an empty name");
    else if ((st = og_graph_intern_value(g, name, &v)))
        ;
    else if (g->values[v].initializer)
        st = og_err(OG_ERR_INVALID_GRAPH, "initializer '%s' is defined twice", name);
    else if (!(st = og_tensor_set_name(t, name)))
        st = push_index(&g->inits, &g->n_inits, &g->cap_inits, v);
    if (st) {
        og_tensor_free(t);
        return st;
    }
    g->values[v].initializer = t;
    g->finalized = false;
    return OG_OK;
}

og_status og_graph_add_initializer(og_graph *g, const char *name, const og_tensor *t)
{
    OG_NEED_GRAPH(g);
    if (!t)
        return og_err(OG_ERR_INVALID_ARG, "initializer '%s': tensor is NULL", name ? name : "");
    og_tensor *copy;
    og_status st = og_tensor_clone(t, &copy);
    if (st)
        return og_err_prefix("initializer '%s': ", name ? name : "");
    return og_graph_adopt_initializer(g, name, copy);
}

/* Op types and domains repeat across nodes: the graph keeps one copy of
 * each (a graph of a million nodes has a handful of op types). NULL when
 * out of memory. */
static const char *intern(og_graph *g, const char *s)
{
    const char *have = og_strset_get(&g->interned_set, s);
    if (have)
        return have;
    char *copy = og_strdup(s);
    bool dup;
    if (!copy || og_grow((void **)&g->interned, &g->cap_interned, g->n_interned + 1, sizeof(char *))
        || og_strset_add(&g->interned_set, copy, &dup)) {
        og_free(copy);
        return NULL;
    }
    g->interned[g->n_interned++] = copy;
    return copy;
}

og_status og_graph_add_node(og_graph *g, const char *op_type, const char *domain, const char *name, int n_inputs,
                            const char *const *inputs, int n_outputs, const char *const *outputs, int n_attrs,
                            const og_attr *attrs)
{
    OG_NEED_GRAPH(g);
    if (!valid_name(op_type))
        return og_err(OG_ERR_INVALID_GRAPH, "node '%s' has no op_type", name ? name : "");
    if (n_inputs < 0 || n_outputs < 0 || n_attrs < 0 || (n_inputs && !inputs) || (n_outputs && !outputs) ||
        (n_attrs && !attrs))
        return og_err(OG_ERR_INVALID_ARG, "node '%s' (%s): bad input/output/attribute arrays", name ? name : "",
                      op_type);
    og_status st = og_grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(og_node));
    if (st)
        return st;
    int idx = g->n_nodes;
    og_node *n = &g->nodes[idx];
    og_strset names = { 0 };   /* attribute names seen, for duplicates */
    memset(n, 0, sizeof *n);
    n->unnamed = !valid_name(name);
    if (n->unnamed) {
        char label[96];
        const char *first = n_outputs > 0 && outputs[0] ? outputs[0] : "";
        snprintf(label, sizeof label, "#%d->%.80s", idx, first);
        n->name = og_strdup(label);
    } else {
        n->name = og_strdup(name);
    }
    n->op_type = intern(g, op_type);
    n->domain = intern(g, norm_domain(domain));
    /* Inputs and outputs share one allocation; most nodes have no attributes. */
    n->inputs = og_calloc((size_t)n_inputs + (size_t)n_outputs + 1, sizeof(int));
    n->outputs = n->inputs ? n->inputs + n_inputs : NULL;
    n->attrs = n_attrs ? og_calloc((size_t)n_attrs, sizeof(og_ir_attr)) : NULL;
    if (!n->name || !n->op_type || !n->domain || !n->inputs || (n_attrs && !n->attrs)) {
        st = og_err(OG_ERR_NOMEM, "out of memory adding node '%s'", name ? name : "");
        goto fail;
    }
    for (int k = 0; k < n_inputs; k++) {
        n->inputs[k] = -1;
        if (inputs[k] && inputs[k][0] && (st = og_graph_intern_value(g, inputs[k], &n->inputs[k])))
            goto fail;
        n->n_inputs = k + 1;
    }
    for (int k = 0; k < n_outputs; k++) {
        n->outputs[k] = -1;
        n->n_outputs = k + 1;
        if (!outputs[k] || !outputs[k][0])
            continue;
        int v;
        if ((st = og_graph_intern_value(g, outputs[k], &v)))
            goto fail;
        if (g->values[v].producer >= 0) {
            st = og_err(OG_ERR_INVALID_GRAPH, "value '%s' is produced twice: by node '%s' (%s) and node '%s' (%s)",
                        outputs[k], g->nodes[g->values[v].producer].name, g->nodes[g->values[v].producer].op_type,
                        n->name, op_type);
            goto fail;
        }
        for (int j = 0; j < k; j++)
            if (n->outputs[j] == v) {
                st = og_err(OG_ERR_INVALID_GRAPH, "node '%s' (%s): value '%s' is both output %d and output %d",
                            n->name, op_type, outputs[k], j, k);
                goto fail;
            }
        n->outputs[k] = v;
    }
    for (int k = 0; k < n_attrs; k++) {
        n->n_attrs = k + 1;
        if ((st = og_ir_attr_copy(&n->attrs[k], &attrs[k]))) {
            og_err_prefix("node '%s' (%s): ", n->name, op_type);
            goto fail;
        }
        bool dup;
        if ((st = og_strset_add(&names, n->attrs[k].name, &dup)))
            goto fail;
        if (dup) {
            st = og_err(OG_ERR_ATTR, "node '%s' (%s): attribute '%s' is given twice", n->name, op_type,
                        attrs[k].name);
            goto fail;
        }
    }
    og_strset_clear(&names);
    /* Only now is the node committed: claim its outputs. */
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0) {
            g->values[n->outputs[k]].producer = idx;
            g->values[n->outputs[k]].producer_slot = k;
        }
    g->n_nodes++;
    g->finalized = false;
    return OG_OK;
fail:
    og_strset_clear(&names);
    free_node(n);
    memset(n, 0, sizeof *n);
    return st;
}

void og_graph_clear_outputs(og_graph *g)
{
    for (int k = 0; k < g->n_outputs; k++)
        g->values[g->outputs[k]].is_output = false;
    g->n_outputs = 0;
    g->finalized = false;
}

og_status og_graph_add_output(og_graph *g, const char *name)
{
    OG_NEED_GRAPH(g);
    if (!valid_name(name))
        return og_err(OG_ERR_INVALID_GRAPH, "graph output has an empty name");
    int v;
    og_status st = og_graph_intern_value(g, name, &v);
    if (st)
        return st;
    if (g->values[v].is_output)
        return og_err(OG_ERR_INVALID_GRAPH, "graph output '%s' is listed twice", name);
    if ((st = push_index(&g->outputs, &g->n_outputs, &g->cap_outputs, v)))
        return st;
    g->values[v].is_output = true;
    g->finalized = false;
    return OG_OK;
}

/* ---- inspection -------------------------------------------------------- */

static void fill_info(const og_value *v, og_value_info *info)
{
    info->name = v->name;
    info->dtype = v->dtype;
    info->rank = v->rank;
    info->dims = og_value_dims(v);
    static const char *const none[OG_MAX_RANK];
    info->dim_params = v->dim_param ? (const char *const *)v->dim_param : none;
}

int og_graph_num_inputs(const og_graph *g) { return g->n_inputs; }
int og_graph_num_warnings(const og_graph *g) { return g ? g->n_warnings : 0; }

const char *og_graph_warning(const og_graph *g, int k)
{
    return g && k >= 0 && k < g->n_warnings ? g->warnings[k] : NULL;
}

int og_graph_num_outputs(const og_graph *g) { return g->n_outputs; }
int og_graph_num_nodes(const og_graph *g) { return g->n_nodes; }
int og_graph_num_initializers(const og_graph *g) { return g->n_inits; }
int og_graph_num_opsets(const og_graph *g) { return g->n_opsets; }

og_status og_graph_input(const og_graph *g, int k, og_value_info *info)
{
    if (k < 0 || k >= g->n_inputs)
        return og_err(OG_ERR_INVALID_ARG, "graph input index %d is outside 0..%d", k, g->n_inputs - 1);
    fill_info(&g->values[g->inputs[k]], info);
    return OG_OK;
}

og_status og_graph_output(const og_graph *g, int k, og_value_info *info)
{
    if (k < 0 || k >= g->n_outputs)
        return og_err(OG_ERR_INVALID_ARG, "graph output index %d is outside 0..%d", k, g->n_outputs - 1);
    fill_info(&g->values[g->outputs[k]], info);
    return OG_OK;
}

og_status og_graph_initializer(const og_graph *g, int k, const og_tensor **t)
{
    if (k < 0 || k >= g->n_inits)
        return og_err(OG_ERR_INVALID_ARG, "initializer index %d is outside 0..%d", k, g->n_inits - 1);
    *t = g->values[g->inits[k]].initializer;
    return OG_OK;
}

og_status og_graph_node(const og_graph *g, int k, const char **op_type, const char **name)
{
    if (k < 0 || k >= g->n_nodes)
        return og_err(OG_ERR_INVALID_ARG, "node index %d is outside 0..%d", k, g->n_nodes - 1);
    if (op_type)
        *op_type = g->nodes[k].op_type;
    if (name)
        *name = g->nodes[k].unnamed ? "" : g->nodes[k].name;
    return OG_OK;
}

og_status og_graph_node_io(const og_graph *g, int k, int *n_inputs, int *n_outputs, int *n_attrs)
{
    if (!g || k < 0 || k >= g->n_nodes)
        return og_err(OG_ERR_INVALID_ARG, "node index %d is outside 0..%d", k, g ? g->n_nodes - 1 : -1);
    if (n_inputs)
        *n_inputs = g->nodes[k].n_inputs;
    if (n_outputs)
        *n_outputs = g->nodes[k].n_outputs;
    if (n_attrs)
        *n_attrs = g->nodes[k].n_attrs;
    return OG_OK;
}

static const char *node_value_name(const og_graph *g, int k, int j, bool output)
{
    if (!g || k < 0 || k >= g->n_nodes)
        return NULL;
    const og_node *n = &g->nodes[k];
    if (j < 0 || j >= (output ? n->n_outputs : n->n_inputs))
        return NULL;
    int v = output ? n->outputs[j] : n->inputs[j];
    return v < 0 ? "" : g->values[v].name;
}

const char *og_graph_node_input(const og_graph *g, int k, int j) { return node_value_name(g, k, j, false); }
const char *og_graph_node_output(const og_graph *g, int k, int j) { return node_value_name(g, k, j, true); }

og_status og_graph_node_attr(const og_graph *g, int k, int j, og_attr *attr)
{
    if (!g || k < 0 || k >= g->n_nodes)
        return og_err(OG_ERR_INVALID_ARG, "node index %d is outside 0..%d", k, g ? g->n_nodes - 1 : -1);
    const og_node *n = &g->nodes[k];
    if (j < 0 || j >= n->n_attrs)
        return og_err(OG_ERR_INVALID_ARG, "node '%s': attribute index %d is outside 0..%d", n->name, j,
                      n->n_attrs - 1);
    const og_ir_attr *a = &n->attrs[j];
    memset(attr, 0, sizeof *attr);
    attr->name = a->name;
    attr->type = a->type;
    attr->f = a->f;
    attr->i = a->i;
    attr->s = a->s;
    attr->s_len = a->s_len;
    attr->floats = a->floats;
    attr->ints = a->ints;
    attr->strings = (const char *const *)a->strings;
    attr->count = a->count;
    attr->t = a->t;
    attr->doc_string = a->doc_string;
    return OG_OK;
}

og_status og_graph_opset(const og_graph *g, int k, const char **domain, int64_t *version)
{
    if (k < 0 || k >= g->n_opsets)
        return og_err(OG_ERR_INVALID_ARG, "opset index %d is outside 0..%d", k, g->n_opsets - 1);
    *domain = g->opsets[k].domain;
    *version = g->opsets[k].version;
    return OG_OK;
}

og_status og_graph_value(const og_graph *g, const char *name, og_value_info *info)
{
    int v = og_graph_find_value(g, name);
    if (v < 0)
        return og_err(OG_ERR_INVALID_ARG, "graph has no value named '%s'", name ? name : "(null)");
    fill_info(&g->values[v], info);
    return OG_OK;
}

static og_status replace_str(char **dst, const char *src)
{
    char *copy = NULL;
    if (src && !(copy = og_strdup(src)))
        return og_err(OG_ERR_NOMEM, "out of memory copying a string");
    og_free(*dst);
    *dst = copy;
    return OG_OK;
}

og_status og_graph_set_producer(og_graph *g, const char *name, const char *version)
{
    OG_NEED_GRAPH(g);
    og_status st = replace_str(&g->producer_name, name);
    return st ? st : replace_str(&g->producer_version, version);
}

og_status og_graph_set_name(og_graph *g, const char *name)
{
    OG_NEED_GRAPH(g);
    return replace_str(&g->graph_name, name);
}

og_status og_graph_set_model(og_graph *g, int64_t ir_version, int64_t model_version, const char *domain,
                             const char *doc)
{
    OG_NEED_GRAPH(g);
    og_status st;
    if ((st = replace_str(&g->model_domain, domain)) || (st = replace_str(&g->model_doc, doc)))
        return st;
    g->ir_version = ir_version;
    g->model_version = model_version;
    return OG_OK;
}

og_status og_graph_set_node_doc(og_graph *g, int k, const char *doc)
{
    OG_NEED_GRAPH(g);
    if (k < 0 || k >= g->n_nodes)
        return og_err(OG_ERR_INVALID_ARG, "node index %d is outside 0..%d", k, g->n_nodes - 1);
    return replace_str(&g->nodes[k].doc_string, doc);
}

og_status og_graph_set_value_doc(og_graph *g, const char *name, const char *doc)
{
    OG_NEED_GRAPH(g);
    int v = og_graph_find_value(g, name);
    if (v < 0)
        return og_err(OG_ERR_INVALID_ARG, "graph has no value named '%s'", name ? name : "(null)");
    return replace_str(&g->values[v].doc_string, doc);
}
og_status og_graph_set_doc(og_graph *g, const char *doc)
{
    OG_NEED_GRAPH(g);
    return replace_str(&g->graph_doc, doc);
}

og_status og_graph_set_metadata(og_graph *g, const char *key, const char *value)
{
    OG_NEED_GRAPH(g);
    for (int k = 0; key && k < g->n_meta; k++)
        if (strcmp(g->meta[k].key, key) == 0)
            return replace_str(&g->meta[k].value, value ? value : "");
    return og_graph_add_metadata(g, key, value);
}

const char *og_graph_metadata(const og_graph *g, const char *key)
{
    for (int k = 0; g && key && k < g->n_meta; k++)
        if (strcmp(g->meta[k].key, key) == 0)
            return g->meta[k].value;
    return NULL;
}

og_status og_graph_add_metadata(og_graph *g, const char *key, const char *value)
{
    OG_NEED_GRAPH(g);
    if (!valid_name(key))
        return og_err(OG_ERR_INVALID_ARG, "metadata key is empty");
    og_status st = og_grow((void **)&g->meta, &g->cap_meta, g->n_meta + 1, sizeof(og_kv));
    if (st)
        return st;
    og_kv kv = { og_strdup(key), og_strdup(value ? value : "") };
    bool dup = false;
    if (!kv.key || !kv.value)
        st = og_err(OG_ERR_NOMEM, "out of memory adding metadata '%s'", key);
    else if (!(st = og_strset_add(&g->meta_keys, kv.key, &dup)) && dup)
        st = og_err(OG_ERR_INVALID_GRAPH, "metadata key '%s' is given twice", key);
    if (st) {
        og_free(kv.key);
        og_free(kv.value);
        return st;
    }
    g->meta[g->n_meta++] = kv;
    return OG_OK;
}
