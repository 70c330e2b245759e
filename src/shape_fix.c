/* SPDX-License-Identifier: MIT */
/* shape_fix.c — fixing a model's symbolic dims (og_graph_fix_dim) and an
 * input's shape (og_graph_set_input_shape), as onnxruntime's
 * --dim/--input-shape and onnx's make_dynamic_shape_fixed do.
 *
 * Only declared types change (graph inputs, outputs, value_info); the
 * graph is un-finalized, and the next og_graph_finalize re-infers every
 * other shape from the fixed inputs. A fix that contradicts a fixed dim
 * is an error naming the value, the dim and both sizes, and changes
 * nothing. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

/* The value's dim k is named `param` (a declared name, not one symdims.c
 * inferred). */
static bool named(const og_value *v, int k, const char *param)
{
    return v->dim_param && v->dim_param[k] && !(v->dim_param_inferred & (1u << k)) &&
           strcmp(v->dim_param[k], param) == 0;
}

static void drop_param(og_value *v, int k)
{
    if (v->dim_param && v->dim_param[k]) {
        og_free(v->dim_param[k]);
        v->dim_param[k] = NULL;
    }
    v->dim_param_inferred &= ~(1u << k);
}

og_status og_graph_fix_dim(og_graph *g, const char *dim_param, int64_t value)
{
    if (!g)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_fix_dim: graph is NULL");
    if (!dim_param || !*dim_param)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_fix_dim: empty dim name");
    if (value < 0)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_fix_dim: dim '%s' = %lld is negative", dim_param,
                      (long long)value);
    /* first pass: find it on an input, and check no declared value has it
     * both symbolic here and fixed otherwise (a named dim never is) */
    bool on_input = false;
    for (int i = 0; i < g->n_inputs; i++) {
        og_value *v = &g->values[g->inputs[i]];
        for (int k = 0; k < v->rank; k++)
            on_input |= named(v, k, dim_param);
    }
    if (!on_input) {
        char list[512] = "";
        size_t have = 0;
        for (int i = 0; i < g->n_inputs && have < sizeof list - 64; i++) {
            og_value *v = &g->values[g->inputs[i]];
            for (int k = 0; k < v->rank && have < sizeof list - 64; k++) {
                if (!v->dim_param || !v->dim_param[k] || (v->dim_param_inferred & (1u << k)) ||
                    strstr(list, v->dim_param[k]))
                    continue;
                have += (size_t)snprintf(list + have, sizeof list - have, "%s'%s'", have ? ", " : "",
                                         v->dim_param[k]);
            }
        }
        return og_err(OG_ERR_INVALID_ARG, "no graph input has a symbolic dim '%s'; the inputs' symbolic dims "
                      "are %s", dim_param, have ? list : "(none)");
    }
    for (int i = 0; i < g->n_values; i++) {
        og_value *v = &g->values[i];
        if (!v->dim_param)
            continue;
        og_tinfo ti;
        og_value_get(v, &ti);
        bool changed = false;
        for (int k = 0; k < ti.shape.rank; k++) {
            if (v->dim_param_inferred & (1u << k)) {
                /* inferred from the old symbols: finalize names it again */
                drop_param(v, k);
                if (!v->declared)
                    ti.shape.dims[k] = -1, changed = true;
                continue;
            }
            if (!named(v, k, dim_param))
                continue;
            drop_param(v, k);
            ti.shape.dims[k] = value;
            changed = true;
        }
        og_status st = changed ? og_value_set(v, &ti) : OG_OK;
        if (st)
            return st;
    }
    g->finalized = false;
    return OG_OK;
}

og_status og_graph_set_input_shape(og_graph *g, const char *name, int rank, const int64_t *dims)
{
    if (!g || !name || (rank > 0 && !dims))
        return og_err(OG_ERR_INVALID_ARG, "og_graph_set_input_shape: NULL argument");
    og_value *v = NULL;
    for (int i = 0; i < g->n_inputs && !v; i++)
        if (!strcmp(g->values[g->inputs[i]].name, name))
            v = &g->values[g->inputs[i]];
    if (!v) {
        char list[512] = "";
        size_t have = 0;
        for (int i = 0; i < g->n_inputs && have < sizeof list - 64; i++)
            have += (size_t)snprintf(list + have, sizeof list - have, "%s'%.40s'", have ? ", " : "",
                                     g->values[g->inputs[i]].name);
        return og_err(OG_ERR_INVALID_ARG, "the model has no input '%s'; its inputs are %s", name,
                      have ? list : "(none)");
    }
    if (rank < 0 || rank > OG_MAX_RANK)
        return og_err(OG_ERR_INVALID_ARG, "input '%s': rank %d is out of range", name, rank);
    og_tinfo ti;
    og_value_get(v, &ti);
    if (ti.shape.rank >= 0 && ti.shape.rank != rank)
        return og_err(OG_ERR_SHAPE, "input '%s' has rank %d; the shape given has rank %d", name, ti.shape.rank,
                      rank);
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0)
            return og_err(OG_ERR_INVALID_ARG, "input '%s': dim %d = %lld is negative", name, k,
                          (long long)dims[k]);
        if (ti.shape.rank >= 0 && ti.shape.dims[k] >= 0 && ti.shape.dims[k] != dims[k])
            return og_err(OG_ERR_SHAPE, "input '%s' dim %d is fixed at %lld in the model; the shape given has %lld",
                          name, k, (long long)ti.shape.dims[k], (long long)dims[k]);
    }
    ti.shape.rank = rank;
    for (int k = 0; k < rank; k++) {
        ti.shape.dims[k] = dims[k];
        if (v->dim_param)
            drop_param(v, k);
    }
    og_status st = og_value_set(v, &ti);
    if (st)
        return st;
    g->finalized = false;
    return OG_OK;
}
