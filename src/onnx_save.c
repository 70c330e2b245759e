/* SPDX-License-Identifier: MIT */
/* onnx_save.c — onnxgrad graph IR -> ONNX ModelProto bytes and files.
 *
 * The protobuf-c structs are built on the side, borrowing strings and
 * tensor data from the IR (packing only reads them), packed once, and
 * released. The output is deterministic: the same graph always encodes to
 * the same bytes, so load -> save reproduces a saved file exactly.
 *
 * With external data (og_model_save_file_ex), large initializers are
 * written to a data file at aligned offsets instead of raw_data; the data
 * file and the model are committed together (io.c). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "onnx.pb-c.h"
#include "external_data.h"
#include "io.h"
#include "wire_scan.h"

/* ---- encoding --------------------------------------------------------- */

/* One initializer stored in the external data file. */
typedef struct ext_tensor {
    const uint8_t *data;   /* little-endian bytes, borrowed from the TensorProto */
    size_t len;
    uint64_t offset;
} ext_tensor;

/* Data-file offsets are multiples of this, so a reader may mmap them. */
#define EXT_ALIGN 4096

/* Everything allocated for one save, freed together. */
typedef struct enc {
    void **blocks; int n_blocks, cap_blocks;
    Onnx__TensorProto **tensors; int n_tensors, cap_tensors;   /* need og_tensor_proto_release */
    const char *ext_file;    /* external data file name; NULL: everything inline */
    size_t ext_min;          /* initializers of at least this many bytes go there */
    ext_tensor *ext; int n_ext, cap_ext;   /* in file order */
    uint64_t ext_end;        /* bytes of the data file so far */
    og_graph **typed; int n_typed, cap_typed;   /* finalized training graphs lending types */
} enc;

static void *take(enc *e, size_t count, size_t size)
{
    if (count == 0)
        return NULL;
    if (og_grow((void **)&e->blocks, &e->cap_blocks, e->n_blocks + 1, sizeof(void *)) != OG_OK)
        return NULL;
    void *p = og_calloc(count, size);
    if (p)
        e->blocks[e->n_blocks++] = p;
    return p;
}

static void enc_free(enc *e)
{
    for (int k = 0; k < e->n_tensors; k++)
        og_tensor_proto_release(e->tensors[k]);
    for (int k = 0; k < e->n_blocks; k++)
        og_free(e->blocks[k]);
    og_free(e->tensors);
    og_free(e->blocks);
    for (int k = 0; k < e->n_typed; k++)
        og_graph_free(e->typed[k]);
    og_free(e->typed);
    og_free(e->ext);
}

#define NOMEM() og_err(OG_ERR_NOMEM, "out of memory encoding the model")
/* Allocates `count` elements into ptr, or returns NOMEM from the caller. */
#define TAKE(ptr, count) do { \
        if ((count) && !((ptr) = take(e, (count), sizeof *(ptr)))) return NOMEM(); \
    } while (0)

static char *nonempty(const char *s) { return s && s[0] ? (char *)s : NULL; }

static og_status tensor_proto(enc *e, const og_tensor *t, const char *name, Onnx__TensorProto **out)
{
    Onnx__TensorProto *tp;
    TAKE(tp, 1);
    onnx__tensor_proto__init(tp);
    if (og_grow((void **)&e->tensors, &e->cap_tensors, e->n_tensors + 1, sizeof *e->tensors) != OG_OK)
        return NOMEM();
    e->tensors[e->n_tensors++] = tp;
    *out = tp;
    return og_tensor_to_proto(t, name, tp);
}

/* Moves an initializer's raw_data to the external data file when it is
 * big enough: records where it goes and writes location/offset/length. */
static og_status externalize(enc *e, Onnx__TensorProto *tp)
{
    size_t len = tp->raw_data.len;
    if (!e->ext_file || len == 0 || len < e->ext_min)
        return OG_OK;
    uint64_t off = (e->ext_end + EXT_ALIGN - 1) / EXT_ALIGN * EXT_ALIGN;
    if (og_grow((void **)&e->ext, &e->cap_ext, e->n_ext + 1, sizeof *e->ext) != OG_OK)
        return NOMEM();
    e->ext[e->n_ext++] = (ext_tensor){ tp->raw_data.data, len, off };
    e->ext_end = off + len;

    Onnx__StringStringEntryProto *kv, **kvp;
    char *num;
    TAKE(kv, 3);
    TAKE(kvp, 3);
    TAKE(num, 48);
    snprintf(num, 24, "%" PRIu64, off);
    snprintf(num + 24, 24, "%zu", len);
    static const char *const keys[3] = { "location", "offset", "length" };
    const char *vals[3] = { e->ext_file, num, num + 24 };
    for (int k = 0; k < 3; k++) {
        onnx__string_string_entry_proto__init(&kv[k]);
        kv[k].key = (char *)keys[k];
        kv[k].value = (char *)vals[k];
        kvp[k] = &kv[k];
    }
    tp->external_data = kvp;
    tp->n_external_data = 3;
    tp->has_data_location = 1;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    tp->has_raw_data = 0;   /* raw_data.data stays for og_tensor_proto_release */
    return OG_OK;
}

/* A value's type: elem_type when known, shape when the rank is known; a
 * dim is dim_param when the model named it, dim_value when known, else
 * left empty (ONNX's "unknown"). */
static og_status value_info(enc *e, const og_value *v, Onnx__ValueInfoProto **out)
{
    Onnx__ValueInfoProto *vi;
    TAKE(vi, 1);
    onnx__value_info_proto__init(vi);
    vi->name = v->name;
    vi->doc_string = nonempty(v->doc_string);
    *out = vi;
    if (v->dtype == OG_UNDEFINED && v->rank < 0)
        return OG_OK;
    Onnx__TypeProto *tp;
    Onnx__TypeProto__Tensor *tt;
    TAKE(tp, 1);
    TAKE(tt, 1);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    if (v->dtype != OG_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)v->dtype;
    }
    int rank = v->rank;
    const int64_t *vdims = og_value_dims(v);
    if (rank < 0)
        return OG_OK;
    if (rank > OG_MAX_RANK)
        return og_err(OG_ERR_INTERNAL, "value '%s': rank %d out of range", v->name, rank);
    Onnx__TensorShapeProto *sp;
    Onnx__TensorShapeProto__Dimension *dims = NULL, **dimp = NULL;
    TAKE(sp, 1);
    TAKE(dims, (size_t)rank);
    TAKE(dimp, (size_t)rank);
    onnx__tensor_shape_proto__init(sp);
    for (int k = 0; k < rank; k++) {
        Onnx__TensorShapeProto__Dimension *d = &dims[k];
        onnx__tensor_shape_proto__dimension__init(d);
        if (v->dim_param && v->dim_param[k] && v->dim_param[k][0]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = v->dim_param[k];
        } else if (vdims[k] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = vdims[k];
        }
        dimp[k] = d;
    }
    sp->n_dim = (size_t)rank;
    sp->dim = dimp;
    tt->shape = sp;
    return OG_OK;
}

static og_status attribute(enc *e, const og_node *n, const og_ir_attr *a, Onnx__AttributeProto **out)
{
    Onnx__AttributeProto *ap;
    TAKE(ap, 1);
    onnx__attribute_proto__init(ap);
    *out = ap;
    ap->name = a->name;
    ap->doc_string = nonempty(a->doc_string);
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case OG_ATTR_FLOAT: ap->has_f = 1; ap->f = a->f; return OG_OK;
    case OG_ATTR_INT: ap->has_i = 1; ap->i = a->i; return OG_OK;
    case OG_ATTR_STRING:
        ap->has_s = 1;
        ap->s.data = (uint8_t *)a->s;
        ap->s.len = a->s ? a->s_len : 0;
        return OG_OK;
    case OG_ATTR_FLOATS: ap->n_floats = (size_t)a->count; ap->floats = a->floats; return OG_OK;
    case OG_ATTR_INTS: ap->n_ints = (size_t)a->count; ap->ints = a->ints; return OG_OK;
    case OG_ATTR_STRINGS:
        TAKE(ap->strings, (size_t)a->count);
        for (int64_t k = 0; k < a->count; k++) {
            ap->strings[k].data = (uint8_t *)a->strings[k];
            ap->strings[k].len = strlen(a->strings[k]);
        }
        ap->n_strings = (size_t)a->count;
        return OG_OK;
    case OG_ATTR_TENSOR:
        if (!a->t)
            return og_err(OG_ERR_INTERNAL, "node '%s' (%s): attribute '%s' has no tensor", n->name,
                          n->op_type, a->name);
        return tensor_proto(e, a->t, a->t->name, &ap->t);
    default:
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' has type %d, which onnxgrad "
                      "cannot save", n->name, n->op_type, a->name, (int)a->type);
    }
}

static const char *value_name(const og_graph *g, int idx)
{
    return idx >= 0 ? g->values[idx].name : "";
}

static og_status node(enc *e, const og_graph *g, const og_node *n, Onnx__NodeProto **out)
{
    Onnx__NodeProto *np;
    TAKE(np, 1);
    onnx__node_proto__init(np);
    *out = np;
    np->op_type = (char *)n->op_type;   /* packing only reads it */
    np->name = n->unnamed ? NULL : nonempty(n->name);
    np->domain = nonempty(n->domain);
    np->doc_string = nonempty(n->doc_string);
    TAKE(np->input, (size_t)n->n_inputs);
    for (int k = 0; k < n->n_inputs; k++)
        np->input[k] = (char *)value_name(g, n->inputs[k]);
    np->n_input = (size_t)n->n_inputs;
    TAKE(np->output, (size_t)n->n_outputs);
    for (int k = 0; k < n->n_outputs; k++)
        np->output[k] = (char *)value_name(g, n->outputs[k]);
    np->n_output = (size_t)n->n_outputs;
    TAKE(np->attribute, (size_t)n->n_attrs);
    for (int k = 0; k < n->n_attrs; k++) {
        og_status st = attribute(e, n, &n->attrs[k], &np->attribute[k]);
        if (st != OG_OK)
            return st;
    }
    np->n_attribute = (size_t)n->n_attrs;
    return OG_OK;
}

/* Nodes in insertion order when that is already topological (keeps the
 * author's order), else in the finalized topological order. */
static const int *node_order(const og_graph *g, int *scratch)
{
    for (int k = 0; k < g->n_nodes; k++) {
        const og_node *n = &g->nodes[k];
        for (int j = 0; g->order && j < n->n_inputs; j++)   /* a stored training graph has no order */
            if (n->inputs[j] >= 0 && g->values[n->inputs[j]].producer >= k)
                return g->order;
        scratch[k] = k;
    }
    return scratch;
}

static bool is_graph_output(const og_graph *g, int v)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == v)
            return true;
    return false;
}

static og_status encode_graph(enc *e, const og_graph *g, Onnx__GraphProto *gp, const char *default_name,
                              const og_graph *types);
static og_status encode_training(enc *e, const og_graph *g, Onnx__ModelProto *m);

static og_status encode(enc *e, const og_graph *g, Onnx__ModelProto *m, Onnx__GraphProto *gp)
{
    og_status st;
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = g->ir_version;
    m->producer_name = nonempty(g->producer_name);
    m->producer_version = nonempty(g->producer_version);
    m->domain = nonempty(g->model_domain);
    m->doc_string = nonempty(g->model_doc);
    m->has_model_version = g->model_version != 0;
    m->model_version = g->model_version;
    m->graph = gp;

    Onnx__OperatorSetIdProto *ops = NULL;
    TAKE(ops, (size_t)g->n_opsets);
    TAKE(m->opset_import, (size_t)g->n_opsets);
    for (int k = 0; k < g->n_opsets; k++) {
        onnx__operator_set_id_proto__init(&ops[k]);
        /* Always written, "" included, as onnx.helper does. */
        ops[k].domain = g->opsets[k].domain ? g->opsets[k].domain : "";
        ops[k].has_version = 1;
        ops[k].version = g->opsets[k].version;
        m->opset_import[k] = &ops[k];
    }
    m->n_opset_import = (size_t)g->n_opsets;

    Onnx__StringStringEntryProto *kv = NULL;
    TAKE(kv, (size_t)g->n_meta);
    TAKE(m->metadata_props, (size_t)g->n_meta);
    for (int k = 0; k < g->n_meta; k++) {
        onnx__string_string_entry_proto__init(&kv[k]);
        kv[k].key = g->meta[k].key;
        kv[k].value = g->meta[k].value;
        m->metadata_props[k] = &kv[k];
    }
    m->n_metadata_props = (size_t)g->n_meta;

    /* The ONNX checker requires a graph name. */
    if ((st = encode_graph(e, g, gp, "graph", NULL)))
        return st;
    return g->training ? encode_training(e, g, m) : OG_OK;
}

/* g's nodes, initializers (external by the same rule for every graph),
 * inputs, outputs and value_info into gp. An output g has no type for
 * takes it from `types` (a finalized graph holding it; may be NULL). */
static og_status encode_graph(enc *e, const og_graph *g, Onnx__GraphProto *gp, const char *default_name,
                              const og_graph *types)
{
    og_status st;
    onnx__graph_proto__init(gp);
    gp->name = g->graph_name && g->graph_name[0] ? g->graph_name : (char *)default_name;
    gp->doc_string = nonempty(g->graph_doc);

    int *scratch = NULL;
    TAKE(scratch, (size_t)g->n_nodes);
    const int *order = node_order(g, scratch);
    TAKE(gp->node, (size_t)g->n_nodes);
    for (int k = 0; k < g->n_nodes; k++)
        if ((st = node(e, g, &g->nodes[order[k]], &gp->node[k])))
            return st;
    gp->n_node = (size_t)g->n_nodes;

    TAKE(gp->initializer, (size_t)g->n_inits);
    for (int k = 0; k < g->n_inits; k++) {
        const og_value *v = &g->values[g->inits[k]];
        if ((st = tensor_proto(e, v->initializer, v->name, &gp->initializer[k])) ||
            (st = externalize(e, gp->initializer[k])))
            return og_err_prefix("initializer '%s': ", v->name);
    }
    gp->n_initializer = (size_t)g->n_inits;

    TAKE(gp->input, (size_t)g->n_inputs);
    for (int k = 0; k < g->n_inputs; k++)
        if ((st = value_info(e, &g->values[g->inputs[k]], &gp->input[k])))
            return st;
    gp->n_input = (size_t)g->n_inputs;

    TAKE(gp->output, (size_t)g->n_outputs);
    for (int k = 0; k < g->n_outputs; k++) {
        const og_value *v = &g->values[g->outputs[k]];
        int t = types && v->dtype == OG_UNDEFINED ? og_graph_find_value(types, v->name) : -1;
        if ((st = value_info(e, t >= 0 ? &types->values[t] : v, &gp->output[k])))
            return st;
    }
    gp->n_output = (size_t)g->n_outputs;

    /* Inferred types of intermediate values, in node order so the result
     * does not depend on the order values were created in. */
    int n_vi = 0;
    for (int k = 0; k < g->n_nodes; k++)
        n_vi += g->nodes[k].n_outputs;
    TAKE(gp->value_info, (size_t)n_vi);
    for (int k = 0; k < g->n_nodes; k++) {
        const og_node *n = &g->nodes[order[k]];
        for (int j = 0; j < n->n_outputs; j++) {
            int v = n->outputs[j];
            if (v < 0 || is_graph_output(g, v) || g->values[v].dtype == OG_UNDEFINED)
                continue;
            if ((st = value_info(e, &g->values[v], &gp->value_info[gp->n_value_info])))
                return st;
            gp->n_value_info++;
        }
    }
    return OG_OK;
}

/* Training infos. Their graphs are written as stored: the algorithm names
 * the main graph's initializers, inputs and node outputs without declaring
 * them, as ONNX defines it (the algorithm continues the main graph;
 * declaring W again as an algorithm input would make the combined graph
 * list it twice). onnx 1.12's checker (check_model, full_check too) does not
 * look at training_info at all -- found by experiment: unknown ops,
 * undefined names, bad bindings and type clashes there all pass -- so
 * tests/tools/check_training_info.py checks the combined graph instead.
 * Opsets the training graphs import join the model's opset_import, and a
 * model with training infos is written as IR version 7 at least (where
 * TrainingInfoProto appeared). */
static og_status add_training_opsets(enc *e, const og_graph *g, Onnx__ModelProto *m)
{
    int extra = 0;
    for (int r = 0; r < g->training->n; r++)
        extra += g->training->recs[r].alg->n_opsets + (g->training->recs[r].init ? g->training->recs[r].init->n_opsets : 0);
    if (!extra)
        return OG_OK;
    Onnx__OperatorSetIdProto **all = NULL, *ops = NULL;
    TAKE(all, m->n_opset_import + (size_t)extra);
    TAKE(ops, (size_t)extra);
    if (m->n_opset_import)
        memcpy(all, m->opset_import, m->n_opset_import * sizeof *all);
    size_t n = m->n_opset_import;
    int used = 0;
    for (int r = 0; r < g->training->n; r++)
        for (int w = 0; w < 2; w++) {
            const og_graph *sub = w ? g->training->recs[r].init : g->training->recs[r].alg;
            for (int k = 0; sub && k < sub->n_opsets; k++) {
                bool have = false;
                for (size_t j = 0; j < n && !have; j++)
                    have = strcmp(all[j]->domain, sub->opsets[k].domain) == 0;
                if (have)
                    continue;   /* og_graph_add_training_info checked the versions agree */
                onnx__operator_set_id_proto__init(&ops[used]);
                ops[used].domain = sub->opsets[k].domain;
                ops[used].has_version = 1;
                ops[used].version = sub->opsets[k].version;
                all[n++] = &ops[used++];
            }
        }
    m->opset_import = all;
    m->n_opset_import = n;
    return OG_OK;
}

static og_status bindings(enc *e, const og_binding *b, int n, Onnx__StringStringEntryProto ***out, size_t *n_out)
{
    Onnx__StringStringEntryProto *kv = NULL, **kvp = NULL;
    TAKE(kv, (size_t)n);
    TAKE(kvp, (size_t)n);
    for (int k = 0; k < n; k++) {
        onnx__string_string_entry_proto__init(&kv[k]);
        kv[k].key = (char *)b[k].key;
        kv[k].value = (char *)b[k].value;
        kvp[k] = &kv[k];
    }
    *out = kvp;
    *n_out = (size_t)n;
    return OG_OK;
}

/* ONNX wants a type on every output of a top-level graph; a stored
 * training graph knows only what it declared, so an untyped output takes
 * the type inference gives it in the runnable graph (when that builds: a
 * graph onnxgrad cannot finalize is still saved, as stored). */
static og_status types_for(enc *e, const og_graph *g, int k, bool algorithm, const og_graph **types)
{
    const og_training_rec *r = &g->training->recs[k];
    const og_graph *sub = algorithm ? r->alg : r->init;
    bool untyped = false;
    *types = NULL;
    for (int j = 0; j < sub->n_outputs && !untyped; j++)
        untyped = sub->values[sub->outputs[j]].dtype == OG_UNDEFINED;
    if (!untyped)
        return OG_OK;
    if (og_grow((void **)&e->typed, &e->cap_typed, e->n_typed + 1, sizeof *e->typed) != OG_OK)
        return NOMEM();
    og_graph *t = NULL;
    og_status st = algorithm ? og_training_algorithm_graph(g, k, &t) : og_training_initialization_graph(g, k, &t);
    if (st == OG_ERR_NOMEM)
        return st;   /* out of memory is an error, not a reason to save less */
    if (st != OG_OK) {
        og_err_clear();
        return OG_OK;
    }
    e->typed[e->n_typed++] = t;
    *types = t;
    return OG_OK;
}

static og_status encode_training(enc *e, const og_graph *g, Onnx__ModelProto *m)
{
    int n = g->training->n;
    Onnx__TrainingInfoProto *ti = NULL;
    Onnx__GraphProto *graphs = NULL;
    TAKE(ti, (size_t)n);
    size_t n_graphs = 2 * (size_t)n;
    TAKE(graphs, n_graphs);
    TAKE(m->training_info, (size_t)n);
    for (int k = 0; k < n; k++) {
        const og_training_rec *r = &g->training->recs[k];
        og_status st;
        onnx__training_info_proto__init(&ti[k]);
        const og_graph *types;
        if (r->init) {
            if ((st = types_for(e, g, k, false, &types)) ||
                (st = encode_graph(e, r->init, &graphs[2 * k], "initialization", types)))
                return og_err_prefix("training_info[%d].initialization: ", k);
            ti[k].initialization = &graphs[2 * k];
        }
        if ((st = types_for(e, g, k, true, &types)) ||
            (st = encode_graph(e, r->alg, &graphs[2 * k + 1], "algorithm", types)))
            return og_err_prefix("training_info[%d].algorithm: ", k);
        ti[k].algorithm = &graphs[2 * k + 1];
        if ((st = bindings(e, r->ib, r->n_ib, &ti[k].initialization_binding, &ti[k].n_initialization_binding)) ||
            (st = bindings(e, r->ub, r->n_ub, &ti[k].update_binding, &ti[k].n_update_binding)))
            return st;
        m->training_info[k] = &ti[k];
    }
    m->n_training_info = (size_t)n;
    if (m->ir_version < 7)
        m->ir_version = 7;
    return add_training_opsets(e, g, m);
}

static og_status check_saveable(const og_graph *g, const char *fn)
{
    if (!g->finalized)
        return og_err(OG_ERR_INVALID_ARG, "%s: the graph is not finalized; call og_graph_finalize first", fn);
    return OG_OK;
}

/* Encodes g into a new buffer (og_free). e says which initializers go to
 * the external data file; their bytes stay in e until enc_free. */
static og_status pack(enc *e, const og_graph *g, uint8_t **data, size_t *size)
{
    Onnx__ModelProto m;
    Onnx__GraphProto gp;
    og_status st = encode(e, g, &m, &gp);
    if (st != OG_OK)
        return st;
    size_t n = protobuf_c_message_get_packed_size(&m.base);
    if (n > OG_MAX_FILE_BYTES && e->ext_file)
        return og_err(OG_ERR_LIMIT, "even with initializers of %zu bytes or more stored in '%s', the model "
                      "encodes to %zu bytes, over protobuf's 2 GiB limit; lower external_min_bytes", e->ext_min,
                      e->ext_file, n);
    if (n > OG_MAX_FILE_BYTES)
        return og_err(OG_ERR_LIMIT, "the model encodes to %zu bytes, over protobuf's 2 GiB limit; save it with "
                      "og_model_save_file_ex and an external_data_file so large initializers are stored "
                      "outside the model", n);
    uint8_t *buf = og_malloc(n ? n : 1);
    if (!buf)
        return og_err(OG_ERR_NOMEM, "out of memory for the %zu-byte encoded model", n);
    protobuf_c_message_pack(&m.base, buf);
    *data = buf;
    *size = n;
    return OG_OK;
}

og_status og_model_save_memory(const og_graph *g, void **data, size_t *size)
{
    if (!g || !data || !size)
        return og_err(OG_ERR_INVALID_ARG, "og_model_save_memory: %s is NULL",
                      !g ? "graph" : !data ? "data" : "size");
    *data = NULL;
    *size = 0;
    og_status st = check_saveable(g, "og_model_save_memory");
    if (st != OG_OK)
        return st;
    enc e = {0};
    uint8_t *buf = NULL;
    st = pack(&e, g, &buf, size);
    enc_free(&e);
    *data = buf;
    return st;
}

og_status og_model_save_file(const og_graph *g, const char *path)
{
    return og_model_save_file_ex(g, path, NULL);
}

/* The data file, then the model, committed as a pair (io.h). */
static og_status write_with_data(const enc *e, const char *data_path, const char *path, const uint8_t *model,
                                 size_t model_size)
{
    static const uint8_t zeros[EXT_ALIGN];
    og_io_atomic dw = { .fd = -1 }, mw = { .fd = -1 };
    og_status st = og_io_atomic_begin(&dw, data_path);
    for (int k = 0; st == OG_OK && k < e->n_ext; k++) {
        const ext_tensor *x = &e->ext[k];
        if (x->offset > dw.size)
            st = og_io_atomic_write(&dw, zeros, (size_t)(x->offset - dw.size));
        if (st == OG_OK)
            st = og_io_atomic_write(&dw, x->data, x->len);
    }
    if (st == OG_OK)
        st = og_io_atomic_begin(&mw, path);
    if (st == OG_OK)
        st = og_io_atomic_write(&mw, model, model_size);
    if (st == OG_OK)
        return og_io_atomic_commit_pair(&dw, &mw);
    og_io_atomic_abort(&dw);
    og_io_atomic_abort(&mw);
    return st;
}

og_status og_model_save_file_ex(const og_graph *g, const char *path, const og_save_options *opts)
{
    const char *fn = opts ? "og_model_save_file_ex" : "og_model_save_file";
    if (!g || !path)
        return og_err(OG_ERR_INVALID_ARG, "%s: %s is NULL", fn, !g ? "graph" : "path");
    if (opts && opts->struct_size < sizeof(size_t))
        return og_err(OG_ERR_INVALID_ARG, "%s: opts->struct_size is %zu; initialize the options with "
                      "OG_SAVE_OPTIONS_INIT", fn, opts->struct_size);
    /* Fields past struct_size (an older caller) keep their defaults. */
    const char *ext_file = opts && opts->struct_size >= offsetof(og_save_options, external_data_file) +
                           sizeof(char *) ? opts->external_data_file : NULL;
    size_t ext_min = opts && opts->struct_size >= offsetof(og_save_options, external_min_bytes) +
                     sizeof(size_t) ? opts->external_min_bytes : 1024;
    og_status st = check_saveable(g, "og_model_save_memory");
    if (st != OG_OK)
        return og_err_prefix("%s: ", path);

    char *data_path = NULL;
    if (ext_file) {
        const char *why = og_extdata_name_problem(ext_file);
        if (why)
            return og_err(OG_ERR_INVALID_ARG, "%s: %s: external_data_file '%.200s': %s; the data file must be "
                          "inside the model's directory", path, fn, ext_file, why);
        const char *slash = strrchr(path, '/');
        size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
        if (strcmp(path + dir_len, ext_file) == 0)
            return og_err(OG_ERR_INVALID_ARG, "%s: %s: external_data_file '%s' is the model file itself", path,
                          fn, ext_file);
        if (!(data_path = og_malloc(dir_len + strlen(ext_file) + 1)))
            return og_err(OG_ERR_NOMEM, "%s: out of memory", path);
        memcpy(data_path, path, dir_len);
        strcpy(data_path + dir_len, ext_file);
    }
    enc e = { .ext_file = ext_file, .ext_min = ext_min ? ext_min : 1 };
    uint8_t *data = NULL;
    size_t size = 0;
    st = pack(&e, g, &data, &size);
    if (st == OG_OK && e.n_ext > 0)
        st = write_with_data(&e, data_path, path, data, size);
    else if (st == OG_OK)
        st = og_io_write_file_atomic(path, data, size);
    og_free(data);
    enc_free(&e);
    og_free(data_path);
    return st == OG_OK ? OG_OK : og_err_prefix("%s: ", path);
}
