/* SPDX-License-Identifier: MIT */
/* clone.c — copies a graph through the builder calls, optionally turning
 * every float tensor into double (gradient checks run in float64), lifting
 * chosen initializers into graph inputs (so a check can perturb them) and
 * raising the default-domain opset (gradient graphs use opset 17). */
#include <string.h>
#include "internal.h"
#include "clone.h"

/* A float tensor as double (or a plain copy). Ownership: *out is the caller's. */
static og_status tensor_copy(const og_tensor *t, bool to_double, og_tensor **out)
{
    if (!to_double || t->dtype != OG_FLOAT)
        return og_tensor_clone(t, out);
    og_status st = og_tensor_create(OG_DOUBLE, t->rank, t->dims, out);
    if (st)
        return st;
    const float *s = t->data;
    double *d = (*out)->data;
    for (int64_t i = 0; i < t->numel; i++)
        d[i] = s[i];
    if ((st = og_tensor_set_name(*out, t->name))) {
        og_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

static og_dtype dtype_of(og_dtype t, bool to_double) { return to_double && t == OG_FLOAT ? OG_DOUBLE : t; }

/* Declares value v of src in dst the way `declare` does (add_input or
 * declare_value), with its dims and symbolic names. */
static og_status declare(og_graph *dst, const og_value *v, bool to_double, bool as_input)
{
    og_tinfo ti;
    og_value_get(v, &ti);
    const char *params[OG_MAX_RANK] = { 0 };
    for (int k = 0; v->dim_param && k < ti.shape.rank; k++)
        params[k] = v->dim_param[k];
    og_dtype dt = dtype_of(ti.dtype, to_double);
    if (as_input)
        return og_graph_add_input(dst, v->name, dt, ti.shape.rank, ti.shape.dims, params);
    return og_graph_declare_value(dst, v->name, dt, ti.shape.rank, ti.shape.dims, params);
}

/* Attribute of a node, as the builder takes it. Attributes the op's schema
 * retires before `opset` are dropped (Relu-1's consumed_inputs, Gemm-6's
 * broadcast), so a node keeps its meaning under the newer opset; the spec
 * of such an attribute is returned, NULL for one that stays. */
static const og_attr_spec *retired(const og_node *n, const char *name, int opset)
{
    if (!n->op)
        return NULL;
    for (int k = 0; k < n->op->n_attrs; k++) {
        const og_attr_spec *s = &n->op->attrs[k];
        if (strcmp(s->name, name) == 0)
            return s->until_version != 0 && s->until_version < opset ? s : NULL;
    }
    return NULL;
}

static og_status copy_node(og_graph *dst, const og_graph *src, const og_node *n, const og_clone_options *o)
{
    og_node_copy c = { .n_inputs = n->n_inputs, .n_outputs = n->n_outputs };
    const char **ins = c.inputs, **outs = c.outputs;
    og_attr attrs_small[8], *attrs = attrs_small;
    og_tensor *converted[8] = { 0 }, **conv = converted;
    og_status st = OG_OK;
    /* room for two attributes an edit may add */
    if (n->n_attrs + 2 > 8) {
        attrs = og_calloc((size_t)n->n_attrs + 2, sizeof *attrs);
        conv = og_calloc((size_t)n->n_attrs, sizeof *conv);
        if (!attrs || !conv) {
            st = og_err(OG_ERR_NOMEM, "out of memory copying node '%s'", n->name);
            goto done;
        }
    }
    for (int k = 0; k < n->n_inputs && k < OG_MAX_IO; k++)
        ins[k] = n->inputs[k] >= 0 ? src->values[n->inputs[k]].name : "";
    for (int k = 0; k < n->n_outputs && k < OG_MAX_IO; k++)
        outs[k] = n->outputs[k] >= 0 ? src->values[n->outputs[k]].name : "";
    int na = 0;
    for (int k = 0; k < n->n_attrs; k++) {
        const og_ir_attr *a = &n->attrs[k];
        const og_attr_spec *gone = o->default_opset ? retired(n, a->name, o->default_opset) : NULL;
        if (gone && gone->to_input) {
            /* dropping it would change what the node computes */
            st = og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' of opset %d is an input from opset "
                        "%d on; raising the node to opset %d (as gradient graphs do) is not implemented",
                        n->name, n->op_type, a->name, n->opset, gone->until_version + 1, o->default_opset);
            goto done;
        }
        if (gone)
            continue;
        attrs[na] = (og_attr){ .name = a->name, .type = a->type, .f = a->f, .i = a->i, .s = a->s,
                               .s_len = a->s_len, .floats = a->floats, .ints = a->ints,
                               .strings = (const char *const *)a->strings, .count = a->count, .t = a->t,
                               .doc_string = a->doc_string };
        if (a->type == OG_ATTR_TENSOR && a->t && o->to_double && a->t->dtype == OG_FLOAT) {
            if ((st = tensor_copy(a->t, true, &conv[k])))
                goto done;
            attrs[na].t = conv[k];
        }
        na++;
    }
    c.n_attrs = na;
    c.cap_attrs = attrs == attrs_small ? 8 : n->n_attrs + 2;
    c.attrs = attrs;
    if (o->default_opset > n->opset && n->op && n->op->raise && (st = n->op->raise(src, n, o->default_opset, &c)))
        goto done;
    if (o->edit_node && (st = o->edit_node(o->user, n, &c)))
        goto done;
    st = og_graph_add_node(dst, n->op_type, n->domain, n->unnamed ? NULL : n->name, c.n_inputs, ins,
                           c.n_outputs, outs, c.n_attrs, attrs);
    if (!st && n->doc_string)
        st = og_graph_set_node_doc(dst, dst->n_nodes - 1, n->doc_string);
done:
    for (int k = 0; k < n->n_attrs && conv; k++)
        og_tensor_free(conv[k]);
    if (attrs != attrs_small)
        og_free(attrs);
    if (conv != converted)
        og_free(conv);
    return st;
}

og_status og_graph_clone_into(og_graph *g, const og_graph *src, const og_clone_options *o)
{
    static const og_clone_options none = { 0 };
    if (!o)
        o = &none;
    og_status st = OG_OK;
    for (int k = 0; k < src->n_inputs; k++) {
        const og_value *v = &src->values[src->inputs[k]];
        if (o->skip_value && o->skip_value(o->user, v->name))
            continue;
        const og_tensor *frozen = o->freeze ? o->freeze(o->user, v->name) : NULL;
        og_tensor *t;
        if (frozen) {
            if ((st = tensor_copy(frozen, o->to_double, &t)) || (st = og_graph_adopt_initializer(g, v->name, t)))
                return st;
        } else if ((st = declare(g, v, o->to_double, true))) {
            return st;
        }
    }
    for (int k = 0; k < src->n_inits; k++) {
        const og_value *v = &src->values[src->inits[k]];
        if (o->skip_value && o->skip_value(o->user, v->name))
            continue;
        bool lift = o->lift && o->lift(o->user, v->name);
        og_tensor *t;
        if (o->freeze && v->is_input && o->freeze(o->user, v->name))
            continue;   /* frozen above */
        if (lift && !v->is_input) {
            og_tinfo ti = { v->initializer->dtype, { v->initializer->rank, { 0 } } };
            memcpy(ti.shape.dims, v->initializer->dims, sizeof(int64_t) * (size_t)ti.shape.rank);
            if ((st = og_graph_add_input(g, v->name, dtype_of(ti.dtype, o->to_double), ti.shape.rank,
                                         ti.shape.dims, NULL)))
                return st;
        }
        if (lift)
            continue;
        const og_tensor *value = o->replace ? o->replace(o->user, v->name) : NULL;
        if ((st = tensor_copy(value ? value : v->initializer, o->to_double, &t)) ||
            (st = og_graph_adopt_initializer(g, v->name, t)))
            return st;
    }
    /* value_info: what the model declared for other values. */
    for (int v = 0; v < src->n_values; v++) {
        const og_value *val = &src->values[v];
        bool copied = val->producer >= 0 && !(o->skip_node && o->skip_node(o->user, val->producer));
        if (val->declared && !val->is_input && copied && !o->no_declarations &&
            (st = declare(g, val, o->to_double, false)))
            return st;
        if (val->doc_string && og_graph_find_value(g, val->name) >= 0 &&
            (st = og_graph_set_value_doc(g, val->name, val->doc_string)))
            return st;
    }
    for (int k = 0; k < src->n_nodes; k++)
        if (!(o->skip_node && o->skip_node(o->user, k)) && (st = copy_node(g, src, &src->nodes[k], o)))
            return st;
    for (int k = 0; !o->no_outputs && k < src->n_outputs; k++)
        if ((st = og_graph_add_output(g, src->values[src->outputs[k]].name)))
            return st;
    return OG_OK;
}

og_status og_graph_clone(const og_graph *src, const og_clone_options *o, og_graph **out)
{
    static const og_clone_options none = { 0 };
    if (!o)
        o = &none;
    *out = NULL;
    og_graph *g;
    og_status st = og_graph_create(&g);
    if (st)
        return st;
    int64_t ir = src->ir_version;
    if (o->default_opset >= 17 && ir < 8)
        ir = 8;   /* opset 17 needs IR version 8 */
    if ((st = og_graph_set_model(g, ir, src->model_version, src->model_domain, src->model_doc)) ||
        (st = og_graph_set_producer(g, src->producer_name, src->producer_version)) ||
        (st = og_graph_set_name(g, src->graph_name)) || (st = og_graph_set_doc(g, src->graph_doc)))
        goto fail;
    bool have_default = false;
    for (int k = 0; k < src->n_opsets; k++) {
        int64_t v = src->opsets[k].version;
        if (src->opsets[k].domain[0] == '\0') {
            have_default = true;
            if (o->default_opset > v)
                v = o->default_opset;
        }
        if ((st = og_graph_set_opset(g, src->opsets[k].domain, v)))
            goto fail;
    }
    if (!have_default && o->default_opset && (st = og_graph_set_opset(g, "", o->default_opset)))
        goto fail;
    for (int k = 0; k < src->n_meta; k++)
        if ((st = og_graph_add_metadata(g, src->meta[k].key, src->meta[k].value)))
            goto fail;
    if ((st = og_graph_clone_into(g, src, o)))
        goto fail;
    if (o->keep_training && src->training && (st = og_training_copy(g, src, o->to_double)))
        goto fail;
    *out = g;
    return OG_OK;
fail:
    og_graph_free(g);
    return st;
}

og_status og_graph_to_double(const og_graph *g, og_graph **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_to_double: out is NULL");
    *out = NULL;
    if (!g || !g->finalized)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_to_double: the graph is not finalized (call og_graph_finalize)");
    og_clone_options o = { .to_double = true, .keep_training = true };
    og_graph *d;
    og_status st = og_graph_clone(g, &o, &d);
    if (st)
        return st;
    if ((st = og_graph_finalize(d))) {
        og_err_prefix("converting to double: ");
        og_graph_free(d);
        return st;
    }
    *out = d;
    return OG_OK;
}
