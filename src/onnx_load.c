/* SPDX-License-Identifier: MIT */
/* onnx_load.c — ONNX ModelProto bytes -> onnxgrad graph IR.
 *
 * The bytes are checked by og_wire_scan, decoded by protobuf-c, then fed
 * through the same public builder calls a C user makes (og_graph_add_*), so
 * a loaded graph and a built one are validated by the same code in
 * og_graph_finalize. Only metadata the builder has no call for is written
 * straight into the IR structs. The protobuf-c message is freed before
 * returning: nothing in the IR points into it. Tensors with external data
 * are read from their files (external_data.c) during the conversion.
 *
 * Training infos (TrainingInfoProto) are read after the main graph, each
 * graph through the same conversion, into unfinalized graphs kept on the
 * main one (training_info.c checks their bindings).
 *
 * Dropped on load (see the README, "Unknown fields"): unknown fields,
 * FunctionProto lists, quantization annotations, denotations and doc
 * strings of tensors. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "onnx.pb-c.h"
#include "external_data.h"
#include "io.h"
#include "wire_scan.h"

#define OG_MAX_IR_VERSION 11

/* ---- types -------------------------------------------------------------- */

typedef struct vtype {
    bool typed;                          /* a tensor type was given */
    og_dtype dtype;
    int rank;
    int64_t dims[OG_MAX_RANK];
    const char *params[OG_MAX_RANK];     /* point into the protobuf message */
} vtype;

static const char *type_kind(const Onnx__TypeProto *t)
{
    switch (t->value_case) {
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: return "a sequence";
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: return "a map";
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: return "an optional";
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE: return "a sparse tensor";
    default: return "empty (no type case set)";
    }
}

static og_status read_type(const Onnx__ValueInfoProto *vi, const char *where, vtype *out)
{
    memset(out, 0, sizeof *out);
    out->rank = -1;
    if (!vi->type)
        return OG_OK;
    const Onnx__TypeProto *t = vi->type;
    if (t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return og_err(OG_ERR_UNSUPPORTED, "%s: type is %s; onnxgrad supports only tensors", where,
                      type_kind(t));
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    int32_t elem = tt->has_elem_type ? tt->elem_type : 0;
    if (elem < 0 || elem > OG_BFLOAT16)
        return og_err(OG_ERR_UNSUPPORTED, "%s: element type %" PRId32 " is not an ONNX type onnxgrad "
                      "knows (1..16)", where, elem);
    if (elem != OG_UNDEFINED && og_dtype_size((og_dtype)elem) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "%s: element type %s is not supported by onnxgrad", where,
                      og_dtype_name((og_dtype)elem));
    out->typed = true;
    out->dtype = (og_dtype)elem;
    if (!tt->shape)
        return OG_OK;
    if (tt->shape->n_dim > OG_MAX_RANK)
        return og_err(OG_ERR_UNSUPPORTED, "%s: rank %zu, onnxgrad supports at most %d", where,
                      tt->shape->n_dim, OG_MAX_RANK);
    og_status st = og_check_rank_limit((int)tt->shape->n_dim, where);
    if (st)
        return st;
    out->rank = (int)tt->shape->n_dim;
    for (int k = 0; k < out->rank; k++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
        out->dims[k] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0)
                return og_err(OG_ERR_PARSE, "%s: type.tensor_type.shape.dim[%d].dim_value = %" PRId64
                              " is negative", where, k, d->dim_value);
            out->dims[k] = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                   && d->dim_param && d->dim_param[0]) {
            out->params[k] = d->dim_param;
        }
    }
    return OG_OK;
}

static og_status declare(og_graph *g, const char *name, const vtype *vt)
{
    return og_graph_declare_value(g, name, vt->dtype, vt->rank, vt->dims, vt->params);
}

static og_status set_value_doc(og_graph *g, const char *name, const char *doc)
{
    og_value_info vi;
    if (!doc || !doc[0] || og_graph_value(g, name, &vi) != OG_OK)
        return OG_OK;
    return og_graph_set_value_doc(g, name, doc);
}

/* ---- attributes --------------------------------------------------------- */

/* What an og_attr borrows while a node is being added. */
typedef struct attr_tmp {
    char *s;             /* STRING: NUL-terminated copy */
    char **strings;      /* STRINGS: NUL-terminated copies */
    size_t n_strings;
    og_tensor *t;        /* TENSOR */
} attr_tmp;

static void attr_tmp_clear(attr_tmp *tmp)
{
    og_free(tmp->s);
    for (size_t k = 0; k < tmp->n_strings; k++)
        og_free(tmp->strings[k]);
    og_free(tmp->strings);
    og_tensor_free(tmp->t);
    memset(tmp, 0, sizeof *tmp);
}

static char *bytes_dup(ProtobufCBinaryData b)
{
    char *s = og_malloc(b.len + 1);
    if (s) {
        if (b.len)
            memcpy(s, b.data, b.len);
        s[b.len] = '\0';
    }
    return s;
}

static const char *attr_type_name(int t)
{
    static const char *const names[] = {
        "UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS", "STRINGS",
        "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS",
    };
    return t >= 0 && t <= 14 ? names[t] : "?";
}

/* Files from before ONNX 1.0 leave `type` out; the set field tells it. */
static int guess_attr_type(const Onnx__AttributeProto *a)
{
    if (a->n_floats) return OG_ATTR_FLOATS;
    if (a->n_ints) return OG_ATTR_INTS;
    if (a->n_strings) return OG_ATTR_STRINGS;
    if (a->t) return OG_ATTR_TENSOR;
    if (a->g) return OG_ATTR_GRAPH;
    if (a->has_s) return OG_ATTR_STRING;
    if (a->has_i) return OG_ATTR_INT;
    if (a->has_f) return OG_ATTR_FLOAT;
    return OG_ATTR_UNDEFINED;
}

/* The value fields an AttributeProto has set, as an array of the types
 * they hold; ONNX says exactly one (none for an empty list). */
static int attr_fields_set(const Onnx__AttributeProto *a, int *types)
{
    int n = 0;
    if (a->has_f) types[n++] = OG_ATTR_FLOAT;
    if (a->has_i) types[n++] = OG_ATTR_INT;
    if (a->has_s) types[n++] = OG_ATTR_STRING;
    if (a->t) types[n++] = OG_ATTR_TENSOR;
    if (a->g) types[n++] = OG_ATTR_GRAPH;
    if (a->sparse_tensor) types[n++] = OG_ATTR_SPARSE_TENSOR;
    if (a->tp) types[n++] = OG_ATTR_TYPE_PROTO;
    if (a->n_floats) types[n++] = OG_ATTR_FLOATS;
    if (a->n_ints) types[n++] = OG_ATTR_INTS;
    if (a->n_strings) types[n++] = OG_ATTR_STRINGS;
    if (a->n_tensors) types[n++] = OG_ATTR_TENSORS;
    if (a->n_graphs) types[n++] = OG_ATTR_GRAPHS;
    if (a->n_sparse_tensors) types[n++] = OG_ATTR_SPARSE_TENSORS;
    if (a->n_type_protos) types[n++] = OG_ATTR_TYPE_PROTOS;
    return n;
}

static og_status attr_from_proto(const Onnx__AttributeProto *a, const char *where, og_extdata_ctx *ext,
                                 og_attr *out, attr_tmp *tmp)
{
    memset(out, 0, sizeof *out);
    if (!a->name || !a->name[0])
        return og_err(OG_ERR_PARSE, "%s: name is missing", where);
    if (a->ref_attr_name && a->ref_attr_name[0])
        return og_err(OG_ERR_UNSUPPORTED, "%s: refers to function attribute '%s' (ref_attr_name), "
                      "which is only meaningful inside a FunctionProto", where, a->ref_attr_name);
    int type = a->has_type ? (int)a->type : guess_attr_type(a);
    int set[16], n_set = attr_fields_set(a, set);
    bool is_list = type >= OG_ATTR_FLOATS && type <= OG_ATTR_GRAPHS;
    is_list = is_list || type == OG_ATTR_SPARSE_TENSORS || type == OG_ATTR_TYPE_PROTOS;
    if (n_set > 1)
        return og_err(OG_ERR_PARSE, "%s: both %s and %s values are set; an attribute holds exactly one value",
                      where, attr_type_name(set[0]), attr_type_name(set[1]));
    if (n_set == 1 && set[0] != type && type > OG_ATTR_UNDEFINED && type <= OG_ATTR_TYPE_PROTOS)
        return og_err(OG_ERR_PARSE, "%s: type is %s, but a %s value is set", where, attr_type_name(type),
                      attr_type_name(set[0]));
    if (n_set == 0 && !is_list && type > OG_ATTR_UNDEFINED && type <= OG_ATTR_TYPE_PROTOS)
        return og_err(OG_ERR_PARSE, "%s: type is %s, but no value is set", where, attr_type_name(type));
    out->name = a->name;
    out->type = (og_attr_type)type;
    out->doc_string = a->doc_string && a->doc_string[0] ? a->doc_string : NULL;
    switch (type) {
    case OG_ATTR_FLOAT: out->f = a->f; return OG_OK;
    case OG_ATTR_INT: out->i = a->i; return OG_OK;
    case OG_ATTR_STRING:
        if (!(tmp->s = bytes_dup(a->s)))
            return og_err(OG_ERR_NOMEM, "%s: out of memory", where);
        out->s = tmp->s;
        out->s_len = a->s.len;   /* ONNX strings are bytes and may hold NUL */
        return OG_OK;
    case OG_ATTR_FLOATS: out->floats = a->floats; out->count = (int64_t)a->n_floats; return OG_OK;
    case OG_ATTR_INTS: out->ints = a->ints; out->count = (int64_t)a->n_ints; return OG_OK;
    case OG_ATTR_STRINGS:
        if (a->n_strings && !(tmp->strings = og_calloc(a->n_strings, sizeof(char *))))
            return og_err(OG_ERR_NOMEM, "%s: out of memory", where);
        for (; tmp->n_strings < a->n_strings; tmp->n_strings++)
            if (!(tmp->strings[tmp->n_strings] = bytes_dup(a->strings[tmp->n_strings])))
                return og_err(OG_ERR_NOMEM, "%s: out of memory", where);
        out->strings = (const char *const *)tmp->strings;
        out->count = (int64_t)a->n_strings;
        return OG_OK;
    case OG_ATTR_TENSOR: {
        if (!a->t)
            return og_err(OG_ERR_PARSE, "%s: type is TENSOR but field t is missing", where);
        char w[420];
        snprintf(w, sizeof w, "%s.t", where);
        og_status st = og_tensor_from_proto_ext(a->t, w, ext, &tmp->t);
        out->t = tmp->t;
        return st;
    }
    case OG_ATTR_GRAPH: case OG_ATTR_GRAPHS:
    case OG_ATTR_TENSORS:
    case OG_ATTR_SPARSE_TENSOR: case OG_ATTR_SPARSE_TENSORS:
    case OG_ATTR_TYPE_PROTO: case OG_ATTR_TYPE_PROTOS:
        return og_err(OG_ERR_UNSUPPORTED, "%s: attributes of type %s are not supported by onnxgrad%s",
                      where, attr_type_name(type),
                      type == OG_ATTR_GRAPH || type == OG_ATTR_GRAPHS ? " (no subgraphs / control flow)" : "");
    case OG_ATTR_UNDEFINED:
        return og_err(OG_ERR_PARSE, "%s: type is UNDEFINED and no value field is set", where);
    default:
        return og_err(OG_ERR_PARSE, "%s: type %d is not an AttributeProto.AttributeType (0..14)",
                      where, type);
    }
}

/* ---- model -------------------------------------------------------------- */

static bool calls_function(const Onnx__ModelProto *m, const Onnx__NodeProto *n)
{
    const char *nd = n->domain ? n->domain : "";
    for (size_t k = 0; k < m->n_functions; k++) {
        const Onnx__FunctionProto *f = m->functions[k];
        if (f->name && strcmp(f->name, n->op_type) == 0 && strcmp(f->domain ? f->domain : "", nd) == 0)
            return true;
    }
    return false;
}

static og_status add_node(og_graph *g, const Onnx__ModelProto *m, const Onnx__NodeProto *n, int idx,
                          og_extdata_ctx *ext, const char *gn)
{
    char where[300];
    if (!n->op_type || !n->op_type[0])
        return og_err(OG_ERR_PARSE, "%s.node[%d]%s%s%s: op_type is missing", gn, idx,
                      n->name ? " '" : "", n->name ? n->name : "", n->name ? "'" : "");
    snprintf(where, sizeof where, "%s.node[%d] '%s' (%s)", gn, idx, n->name ? n->name : "", n->op_type);
    if (calls_function(m, n))
        return og_err(OG_ERR_UNSUPPORTED, "%s: calls the model-local function '%s%s%s'; "
                      "FunctionProto is not supported by onnxgrad", where,
                      n->domain ? n->domain : "", n->domain && n->domain[0] ? "." : "", n->op_type);

    og_status st = OG_OK;
    og_attr *attrs = NULL;
    attr_tmp *tmp = NULL;
    if (n->n_attribute) {
        attrs = og_calloc(n->n_attribute, sizeof *attrs);
        tmp = og_calloc(n->n_attribute, sizeof *tmp);
        if (!attrs || !tmp)
            st = og_err(OG_ERR_NOMEM, "%s: out of memory", where);
    }
    for (size_t k = 0; st == OG_OK && k < n->n_attribute; k++) {
        char aw[400];
        const Onnx__AttributeProto *a = n->attribute[k];
        snprintf(aw, sizeof aw, "%s.attribute[%zu] '%s'", where, k, a->name ? a->name : "");
        st = attr_from_proto(a, aw, ext, &attrs[k], &tmp[k]);
    }
    if (st == OG_OK) {
        st = og_graph_add_node(g, n->op_type, n->domain, n->name, (int)n->n_input,
                               (const char *const *)n->input, (int)n->n_output,
                               (const char *const *)n->output, (int)n->n_attribute, attrs);
        if (st != OG_OK)
            og_err_prefix("%s.node[%d]: ", gn, idx);
    }
    if (st == OG_OK && n->doc_string && n->doc_string[0])
        st = og_graph_set_node_doc(g, og_graph_num_nodes(g) - 1, n->doc_string);
    for (size_t k = 0; tmp && k < n->n_attribute; k++)
        attr_tmp_clear(&tmp[k]);
    og_free(tmp);
    og_free(attrs);
    return st;
}

static og_status check_name(const char *name, const char *gn, const char *what, size_t k)
{
    if (!name || !name[0])
        return og_err(OG_ERR_PARSE, "%s.%s[%zu]: name is missing", gn, what, k);
    return OG_OK;
}

static og_status convert_graph(const Onnx__ModelProto *m, Onnx__GraphProto *gp, og_graph *g, og_extdata_ctx *ext,
                               const char *gn);
static og_status convert_training(const Onnx__ModelProto *m, og_graph *g, og_extdata_ctx *ext);

static og_status convert(const Onnx__ModelProto *m, og_graph *g, og_extdata_ctx *ext)
{
    const Onnx__GraphProto *gp = m->graph;
    og_status st;
    if (!gp)
        return og_err(OG_ERR_PARSE, "ModelProto.graph is missing (no graph in the model)");
    if (!m->has_ir_version)
        return og_err(OG_ERR_PARSE, "ModelProto.ir_version is missing");
    /* IR 11 is the newest the ONNX project has defined (ONNX 1.18); a later
     * one may change meanings this loader cannot know. */
    if (m->ir_version < 1)
        return og_err(OG_ERR_PARSE, "ModelProto.ir_version is %" PRId64 "; IR versions start at 1", m->ir_version);
    if (m->ir_version > OG_MAX_IR_VERSION)
        return og_err(OG_ERR_UNSUPPORTED, "ModelProto.ir_version %" PRId64 " is newer than onnxgrad reads (1..%d)",
                      m->ir_version, OG_MAX_IR_VERSION);

    if ((st = og_graph_set_model(g, m->ir_version, m->has_model_version ? m->model_version : 0, m->domain,
                                 m->doc_string)) ||
        (st = og_graph_set_producer(g, m->producer_name, m->producer_version)) ||
        (st = og_graph_set_name(g, gp->name)) || (st = og_graph_set_doc(g, gp->doc_string)))
        return st;
    for (size_t k = 0; k < m->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[k];
        if ((st = og_graph_set_opset(g, o->domain ? o->domain : "", o->has_version ? o->version : 0)))
            return og_err_prefix("opset_import[%zu]: ", k);
    }
    for (size_t k = 0; k < m->n_metadata_props; k++) {
        const Onnx__StringStringEntryProto *p = m->metadata_props[k];
        if (!p->key || !p->key[0])
            return og_err(OG_ERR_PARSE, "metadata_props[%zu]: key is missing", k);
        if ((st = og_graph_add_metadata(g, p->key, p->value ? p->value : "")))
            return og_err_prefix("metadata_props[%zu]: ", k);
    }
    if ((st = convert_graph(m, (Onnx__GraphProto *)gp, g, ext, "graph")))
        return st;
    return m->n_training_info ? convert_training(m, g, ext) : OG_OK;
}

/* GraphProto gp into g; `gn` names it in messages ("graph",
 * "training_info[0].algorithm"). */
static og_status convert_graph(const Onnx__ModelProto *m, Onnx__GraphProto *gp, og_graph *g, og_extdata_ctx *ext,
                               const char *gn)
{
    og_status st;
    char where[300];
    if (gp->n_sparse_initializer)
        return og_err(OG_ERR_UNSUPPORTED, "%s.sparse_initializer[0] '%s': sparse initializers are not "
                      "supported by onnxgrad", gn, gp->sparse_initializer[0]->values && gp->sparse_initializer[0]->values->name
                      ? gp->sparse_initializer[0]->values->name : "");

    for (size_t k = 0; k < gp->n_input; k++) {
        const Onnx__ValueInfoProto *vi = gp->input[k];
        vtype vt;
        if ((st = check_name(vi->name, gn, "input", k)))
            return st;
        snprintf(where, sizeof where, "%s.input[%zu] '%s'", gn, k, vi->name);
        if ((st = read_type(vi, where, &vt)))
            return st;
        if ((st = og_graph_add_input(g, vi->name, vt.dtype, vt.rank, vt.dims, vt.params)))
            return og_err_prefix("%s: ", where);
        if ((st = set_value_doc(g, vi->name, vi->doc_string)))
            return st;
    }
    /* Initializers and nodes are released from the decoded message as soon
     * as they are in the IR, so a load's peak is about one copy of the
     * model, not two (protobuf-c frees NULL entries as nothing). */
    Onnx__GraphProto *consumed = gp;
    for (size_t k = 0; k < gp->n_initializer; k++) {
        const Onnx__TensorProto *tp = gp->initializer[k];
        og_tensor *t;
        if ((st = check_name(tp->name, gn, "initializer", k)))
            return st;
        snprintf(where, sizeof where, "%s.initializer[%zu] '%s'", gn, k, tp->name);
        if ((st = og_tensor_from_proto_ext(tp, where, ext, &t)))
            return st;
        if ((st = og_graph_adopt_initializer(g, tp->name, t)))
            return og_err_prefix("%s: ", where);
        protobuf_c_message_free_unpacked(&consumed->initializer[k]->base, og_protobuf_allocator());
        consumed->initializer[k] = NULL;
    }
    for (size_t k = 0; k < gp->n_node; k++) {
        if ((st = add_node(g, m, gp->node[k], (int)k, ext, gn)))
            return st;
        protobuf_c_message_free_unpacked(&consumed->node[k]->base, og_protobuf_allocator());
        consumed->node[k] = NULL;
    }
    for (size_t k = 0; k < gp->n_value_info; k++) {
        const Onnx__ValueInfoProto *vi = gp->value_info[k];
        vtype vt;
        if ((st = check_name(vi->name, gn, "value_info", k)))
            return st;
        snprintf(where, sizeof where, "%s.value_info[%zu] '%s'", gn, k, vi->name);
        if ((st = read_type(vi, where, &vt)))
            return st;
        /* value_info about a value no node produces says nothing we can use. */
        og_value_info known;
        if (!vt.typed || og_graph_value(g, vi->name, &known) != OG_OK)
            continue;
        if ((st = declare(g, vi->name, &vt)))
            return og_err_prefix("%s: ", where);
        if ((st = set_value_doc(g, vi->name, vi->doc_string)))
            return st;
    }
    for (size_t k = 0; k < gp->n_output; k++) {
        const Onnx__ValueInfoProto *vi = gp->output[k];
        vtype vt;
        if ((st = check_name(vi->name, gn, "output", k)))
            return st;
        snprintf(where, sizeof where, "%s.output[%zu] '%s'", gn, k, vi->name);
        if ((st = read_type(vi, where, &vt)))
            return st;
        if ((st = og_graph_add_output(g, vi->name)))
            return og_err_prefix("%s: ", where);
        if (vt.typed && (st = declare(g, vi->name, &vt)))
            return og_err_prefix("%s: ", where);
        if ((st = set_value_doc(g, vi->name, vi->doc_string)))
            return st;
    }
    return OG_OK;
}

/* ---- training infos ------------------------------------------------------ */

static bool graph_empty(const Onnx__GraphProto *gp)
{
    return !gp || (!gp->n_node && !gp->n_input && !gp->n_output && !gp->n_initializer && !gp->n_value_info &&
                   !gp->n_sparse_initializer);
}

/* A TrainingInfoProto graph as an unfinalized og_graph (*out NULL for an
 * absent or empty initialization). */
static og_status training_graph(const Onnx__ModelProto *m, Onnx__GraphProto *gp, bool optional, og_extdata_ctx *ext,
                                const char *gn, og_graph **out)
{
    *out = NULL;
    if (optional && graph_empty(gp))
        return OG_OK;
    og_status st = og_graph_create(out);
    if (!st && gp && !(st = og_graph_set_name(*out, gp->name)) && !(st = og_graph_set_doc(*out, gp->doc_string)))
        st = convert_graph(m, gp, *out, ext, gn);
    if (st) {
        og_graph_free(*out);
        *out = NULL;
    }
    return st;
}

static og_status read_bindings(Onnx__StringStringEntryProto **p, size_t n, og_binding **out)
{
    *out = NULL;
    if (n == 0)
        return OG_OK;
    if (!(*out = og_calloc(n, sizeof **out)))
        return og_err(OG_ERR_NOMEM, "out of memory reading %zu bindings", n);
    for (size_t k = 0; k < n; k++)   /* borrowed; empty ones are reported by og_training_adopt */
        (*out)[k] = (og_binding){ p[k]->key ? p[k]->key : "", p[k]->value ? p[k]->value : "" };
    return OG_OK;
}

/* Read after the main graph, whose initializers the bindings name. */
static og_status convert_training(const Onnx__ModelProto *m, og_graph *g, og_extdata_ctx *ext)
{
    og_status st = OG_OK;
    for (size_t k = 0; k < m->n_training_info && !st; k++) {
        Onnx__TrainingInfoProto *ti = m->training_info[k];
        char where[64], gn[96];
        og_graph *init = NULL, *alg = NULL;
        og_binding *ib = NULL, *ub = NULL;
        snprintf(where, sizeof where, "training_info[%zu]", k);
        snprintf(gn, sizeof gn, "%s.initialization", where);
        if (!(st = training_graph(m, ti->initialization, true, ext, gn, &init))) {
            snprintf(gn, sizeof gn, "%s.algorithm", where);
            st = training_graph(m, ti->algorithm, false, ext, gn, &alg);
        }
        if (!st && !(st = read_bindings(ti->initialization_binding, ti->n_initialization_binding, &ib)) &&
            !(st = read_bindings(ti->update_binding, ti->n_update_binding, &ub))) {
            st = og_training_adopt(g, init, alg, (int)ti->n_initialization_binding, ib, (int)ti->n_update_binding, ub,
                                   where);
            init = alg = NULL;   /* adopted, or freed by og_training_adopt */
        }
        og_graph_free(init);
        og_graph_free(alg);
        og_free(ib);
        og_free(ub);
    }
    return st;
}

static og_status decode_and_build(const void *data, size_t size, og_extdata_ctx *ext, bool finalize,
                                  og_graph **out);

/* ext says where external data is found (its base_dir may be NULL). The
 * whole load — decoding, the IR, finalizing — runs under the parse-memory
 * budget: the IR costs ~100 bytes per value and ~250 per node, so a file of
 * tiny nodes must not buy more than the limit allows. External data the
 * file does not hold is granted on top as it is read. */
static og_status load(const void *data, size_t size, og_extdata_ctx *ext, bool finalize, og_graph **out)
{
    og_alloc_budget_begin(og_parse_budget(size));
    og_status st = decode_and_build(data, size, ext, finalize, out);
    if (og_alloc_budget_end()) {
        if (st == OG_OK) {   /* a refusal some callee tolerated: still over the limit */
            og_graph_free(*out);
            *out = NULL;
        }
        if (st != OG_ERR_LIMIT)
            st = og_parse_memory_error(0, size);
    }
    return st;
}

static og_status decode_and_build(const void *data, size_t size, og_extdata_ctx *ext, bool finalize,
                                  og_graph **out)
{
    ProtobufCMessage *msg;
    og_status st = og_wire_decode(data, size, OG_WIRE_MODEL, &msg);
    if (st != OG_OK)
        return st;
    Onnx__ModelProto *m = (Onnx__ModelProto *)msg;
    og_graph *g = NULL;
    st = og_graph_create(&g);
    if (st == OG_OK)
        st = convert(m, g, ext);
    onnx__model_proto__free_unpacked(m, og_protobuf_allocator());
    if (st == OG_OK && finalize)
        st = og_graph_finalize(g);
    if (st != OG_OK) {
        og_graph_free(g);
        return st;
    }
    *out = g;
    return OG_OK;
}

og_status og_model_load_memory(const void *data, size_t size, og_graph **out)
{
    return og_model_load_memory_ex(data, size, NULL, out);
}

static bool unfinalized(const og_load_options *opts)
{
    return opts && opts->struct_size >= offsetof(og_load_options, unfinalized) + sizeof(bool) && opts->unfinalized;
}

og_status og_model_load_memory_ex(const void *data, size_t size, const og_load_options *opts,
                                  og_graph **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_model_load_memory: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return og_err(OG_ERR_INVALID_ARG, "og_model_load_memory: data is NULL");
    /* struct_size tells which fields the caller's header had; fields past
     * it keep their defaults. */
    if (opts && opts->struct_size < sizeof(size_t))
        return og_err(OG_ERR_INVALID_ARG, "og_model_load_memory_ex: opts->struct_size is %zu; initialize "
                      "the options with OG_LOAD_OPTIONS_INIT", opts->struct_size);
    const char *base = opts && opts->struct_size >= offsetof(og_load_options, base_dir) + sizeof(char *)
                       ? opts->base_dir : NULL;
    og_extdata_ctx ext;
    og_extdata_ctx_init(&ext, base, base ? strlen(base) : 0);
    og_status st = load(data, size, &ext, !unfinalized(opts), out);
    og_extdata_ctx_close(&ext);
    return st;
}

og_status og_model_load_file(const char *path, og_graph **out)
{
    return og_model_load_file_ex(path, NULL, out);
}

og_status og_model_load_file_ex(const char *path, const og_load_options *opts, og_graph **out)
{
    if (!out || !path)
        return og_err(OG_ERR_INVALID_ARG, "og_model_load_file: %s is NULL", path ? "out" : "path");
    *out = NULL;
    if (opts && opts->struct_size < sizeof(size_t))
        return og_err(OG_ERR_INVALID_ARG, "og_model_load_file_ex: opts->struct_size is %zu; initialize "
                      "the options with OG_LOAD_OPTIONS_INIT", opts->struct_size);
    uint8_t *data;
    size_t size;
    og_status st = og_io_read_file(path, &data, &size);
    if (st == OG_OK) {
        /* External data lives in the model file's directory: the path up
         * to its last '/' ("/" for a file in the root, "." for none). */
        const char *slash = strrchr(path, '/');
        og_extdata_ctx ext;
        if (!slash)
            og_extdata_ctx_init(&ext, ".", 1);
        else
            og_extdata_ctx_init(&ext, path, slash == path ? 1 : (size_t)(slash - path));
        st = load(data, size, &ext, !unfinalized(opts), out);
        og_extdata_ctx_close(&ext);
        og_free(data);
    }
    return st == OG_OK ? OG_OK : og_err_prefix("%s: ", path);
}
