/* SPDX-License-Identifier: MIT */
/* symdims.c — symbolic dims (dim_param) through shape inference.
 *
 * Ordinary inference (finalize.c) knows a dim or writes -1; a dynamic batch
 * "N" on an input is -1 everywhere downstream. This pass names those dims
 * the way onnx.shape_inference does ([N,64,112,112] after a Conv, [N,10]
 * after a Gemm) without teaching any op about symbols: it re-runs inference
 * twice on probe shapes, where each input symbol is a different large prime
 * in each probe, and names a dim that is unknown in the ordinary result but
 * equals symbol s's probe value in both probes. A combination (Concat of N
 * and N is 2N, N*M after a Reshape) matches no symbol and stays unknown.
 *
 * The pass only ever adds names to dims that stay -1: it never turns an
 * unknown dim static (a dim equal in both probes need not be constant:
 * Slice ends=8 on an N axis gives 8 for large N but N for N < 8), so the
 * planner and executor, which re-infer per run shapes, see nothing new.
 * It costs two inference passes only for graphs with symbolic inputs. */
#include <string.h>
#include "internal.h"

/* Probe values: far above ordinary dims and constants, small enough that
 * a few of them multiplied stay inside int64 (rank-4 attention scores with
 * two symbols: 1e5^3 * heads). Probe 1's primes all exceed probe 0's. */
#define PROBE0_BASE 100000
#define PROBE1_BASE 150000
#define MAX_SYMBOLS 64

typedef struct symtab {
    const char *name[MAX_SYMBOLS];   /* borrowed from the graph inputs */
    int64_t value[2][MAX_SYMBOLS];
    int n;
} symtab;

static bool is_prime(int64_t x)
{
    if (x < 2)
        return false;
    for (int64_t d = 2; d * d <= x; d++)
        if (x % d == 0)
            return false;
    return true;
}

static int64_t next_prime(int64_t after)
{
    int64_t x = after + 1;
    while (!is_prime(x))
        x++;
    return x;
}

/* Symbol index of `name`, adding it; -1 when the table is full. */
static int symbol_of(symtab *t, const char *name)
{
    for (int k = 0; k < t->n; k++)
        if (strcmp(t->name[k], name) == 0)
            return k;
    if (t->n == MAX_SYMBOLS)
        return -1;
    int k = t->n++;
    t->name[k] = name;
    t->value[0][k] = next_prime(k ? t->value[0][k - 1] : PROBE0_BASE);
    t->value[1][k] = next_prime(k ? t->value[1][k - 1] : PROBE1_BASE);
    return k;
}

static void clear_inferred(og_value *v)
{
    for (int k = 0; v->dim_param && k < OG_MAX_RANK; k++)
        if (v->dim_param_inferred & (1u << k)) {
            og_free(v->dim_param[k]);
            v->dim_param[k] = NULL;
        }
    v->dim_param_inferred = 0;
}

/* One probe: every value's type with the symbols replaced by probe p's
 * values. Dims the ordinary pass knows keep their ordinary value (a
 * declaration may have fixed them), so the probe only fills in unknowns.
 * A node whose inference fails on the probe (a Reshape to a constant shape
 * that contradicts N) leaves its outputs unknown and the probe goes on. */
static og_status run_probe(og_graph *g, const symtab *t, int p, og_tinfo *ti, og_tensor **folded)
{
    for (int v = 0; v < g->n_values; v++) {
        og_value *val = &g->values[v];
        og_value_get(val, &ti[v]);
        if (!val->is_input)
            continue;
        for (int k = 0; k < ti[v].shape.rank; k++) {
            if (ti[v].shape.dims[k] >= 0 || !val->dim_param || !val->dim_param[k])
                continue;
            for (int s = 0; s < t->n; s++)
                if (strcmp(t->name[s], val->dim_param[k]) == 0)
                    ti[v].shape.dims[k] = t->value[p][s];
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        const og_tinfo *in[OG_MAX_IO] = { 0 };
        const og_tensor *vals[OG_MAX_IO] = { 0 };
        og_tinfo outs[OG_MAX_IO];
        og_tinfo *out[OG_MAX_IO] = { 0 };
        bool all_fixed = true;
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v < 0)
                continue;
            in[k] = &ti[v];
            vals[k] = og_value_data(&g->values[v]);
            if (!vals[k])
                vals[k] = folded[v];
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0)
                continue;
            out[k] = &outs[k];
            all_fixed = all_fixed && og_value_data(&g->values[v]);
        }
        if (all_fixed)
            continue;   /* constant: ti[] already holds its type */
        size_t ws = 0;
        if (og_node_infer_ex(g, n, in, vals, out, &ws, false) != OG_OK) {
            og_err_clear();
            for (int k = 0; k < n->n_outputs; k++)
                if (out[k])
                    ti[n->outputs[k]].shape.rank = -1;
            continue;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0)
                continue;
            og_tinfo *have = &ti[v];   /* the ordinary result */
            if (have->shape.rank < 0 || have->shape.rank == outs[k].shape.rank) {
                for (int d = 0; d < have->shape.rank; d++)
                    if (have->shape.dims[d] >= 0)
                        outs[k].shape.dims[d] = have->shape.dims[d];
                outs[k].dtype = have->dtype != OG_UNDEFINED ? have->dtype : outs[k].dtype;
                *have = outs[k];
            }
        }
        /* Shape subgraphs fold on probe shapes, so a Reshape to
         * Concat(Shape(x)[0], -1) sees N. */
        og_tensor *f[OG_MAX_IO] = { 0 };
        if (og_fold_node(n, vals, in, out, ws, f) != OG_OK) {
            og_err_clear();
            continue;
        }
        for (int k = 0; k < n->n_outputs; k++)
            if (f[k]) {
                og_tensor_free(folded[n->outputs[k]]);
                folded[n->outputs[k]] = f[k];
            }
    }
    return OG_OK;
}

og_status og_infer_symbols(og_graph *g)
{
    symtab t = { .n = 0 };
    for (int v = 0; v < g->n_values; v++)
        clear_inferred(&g->values[v]);
    for (int k = 0; k < g->n_inputs; k++) {
        const og_value *val = &g->values[g->inputs[k]];
        const int64_t *dims = og_value_dims(val);
        for (int d = 0; val->dim_param && d < val->rank; d++)
            if (dims[d] < 0 && val->dim_param[d] && val->dim_param[d][0])
                symbol_of(&t, val->dim_param[d]);
    }
    if (t.n == 0)
        return OG_OK;
    size_t nv = (size_t)g->n_values + 1;
    og_tinfo *ti[2] = { og_calloc(nv, sizeof(og_tinfo)), og_calloc(nv, sizeof(og_tinfo)) };
    og_tensor **folded = og_calloc(nv, sizeof(og_tensor *));
    og_status st = OG_OK;
    if (!ti[0] || !ti[1] || !folded) {
        st = og_err(OG_ERR_NOMEM, "out of memory inferring symbolic dims of %d values", g->n_values);
        goto done;
    }
    for (int p = 0; p < 2 && !st; p++) {
        st = run_probe(g, &t, p, ti[p], folded);
        for (int v = 0; v < g->n_values; v++) {
            og_tensor_free(folded[v]);
            folded[v] = NULL;
        }
    }
    for (int v = 0; v < g->n_values && !st; v++) {
        og_value *val = &g->values[v];
        const int64_t *dims = og_value_dims(val);
        if (val->is_input || val->rank < 0 || ti[0][v].shape.rank != val->rank || ti[1][v].shape.rank != val->rank)
            continue;
        for (int d = 0; d < val->rank; d++) {
            if (dims[d] >= 0 || (val->dim_param && val->dim_param[d]))
                continue;
            int s = 0;
            while (s < t.n && !(ti[0][v].shape.dims[d] == t.value[0][s] && ti[1][v].shape.dims[d] == t.value[1][s]))
                s++;
            if (s == t.n)
                continue;
            if ((!val->dim_param && !(val->dim_param = og_calloc(OG_MAX_RANK, sizeof(char *)))) ||
                !(val->dim_param[d] = og_strdup(t.name[s]))) {
                st = og_err(OG_ERR_NOMEM, "out of memory naming dim %d of '%s'", d, val->name);
                break;
            }
            val->dim_param_inferred |= 1u << d;
        }
    }
done:
    og_free(ti[0]);
    og_free(ti[1]);
    og_free(folded);
    return st;
}
