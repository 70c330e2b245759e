/* SPDX-License-Identifier: MIT */
/* info_cmd.c — the parts of `onnxgrad info` beyond the graph's interface:
 * parameter count and bytes (every initializer), the symbolic dims of the
 * graph inputs and outputs and where each appears, and each training
 * info's op counts and bindings. Text and --json print the same facts. */
#define _POSIX_C_SOURCE 200809L

#include "info_cmd.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

/* ---- parameters ----------------------------------------------------------- */

static int count_parameters(const og_graph *g, int64_t *count, int64_t *bytes)
{
    *count = *bytes = 0;
    for (int k = 0; k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        og_status st = og_graph_initializer(g, k, &t);
        if (st)
            return cli_fail_og(st);
        *count += t->numel;
        *bytes += t->numel * (int64_t)og_dtype_size(t->dtype);
    }
    return EXIT_OK;
}

/* ---- symbolic dims ---------------------------------------------------------- */

typedef struct sym_use {
    const char *dim, *value, *role;
    int axis;
} sym_use;

typedef struct sym_list {
    sym_use *u;
    int n, cap;
} sym_list;

static int add_uses(sym_list *l, const og_value_info *vi, const char *role)
{
    for (int d = 0; d < vi->rank; d++) {
        if (!vi->dim_params || !vi->dim_params[d])
            continue;
        if (l->n == l->cap) {
            int cap = l->cap ? 2 * l->cap : 16;
            sym_use *p = realloc(l->u, (size_t)cap * sizeof *p);
            if (!p)
                return cli_fail("out of memory");
            l->u = p;
            l->cap = cap;
        }
        l->u[l->n++] = (sym_use){ vi->dim_params[d], vi->name ? vi->name : "", role, d };
    }
    return EXIT_OK;
}

/* Every use in the graph's inputs, then outputs, in order; grouped by dim
 * name in order of first appearance by the printers. */
static int symbolic_uses(const og_graph *g, sym_list *l)
{
    og_value_info vi;
    for (int k = 0; k < og_graph_num_inputs(g); k++)
        if (og_graph_input(g, k, &vi) == OG_OK && add_uses(l, &vi, "input"))
            return EXIT_FAIL;
    for (int k = 0; k < og_graph_num_outputs(g); k++)
        if (og_graph_output(g, k, &vi) == OG_OK && add_uses(l, &vi, "output"))
            return EXIT_FAIL;
    return EXIT_OK;
}

/* Whether use k is the first of its dim name. */
static bool first_of_dim(const sym_list *l, int k)
{
    for (int j = 0; j < k; j++)
        if (!strcmp(l->u[j].dim, l->u[k].dim))
            return false;
    return true;
}

int info_print_extras(const og_graph *g)
{
    int64_t count, bytes;
    if (count_parameters(g, &count, &bytes))
        return EXIT_FAIL;
    printf("parameters: %" PRId64 " (%" PRId64 " bytes)\n", count, bytes);
    sym_list l = { 0 };
    if (symbolic_uses(g, &l)) {
        free(l.u);
        return EXIT_FAIL;
    }
    printf("symbolic dims:%s\n", l.n ? "" : " none");
    for (int k = 0; k < l.n; k++) {
        if (!first_of_dim(&l, k))
            continue;
        printf("  %s:", l.u[k].dim);
        for (int j = k, first = 1; j < l.n; j++)
            if (!strcmp(l.u[j].dim, l.u[k].dim)) {
                printf("%s %s %s[%d]", first ? "" : ",", l.u[j].role, l.u[j].value, l.u[j].axis);
                first = 0;
            }
        putchar('\n');
    }
    free(l.u);
    return EXIT_OK;
}

int info_json_extras(json_writer *w, const og_graph *g)
{
    int64_t count, bytes;
    if (count_parameters(g, &count, &bytes))
        return EXIT_FAIL;
    json_key(w, "parameters");
    json_begin_object(w);
    json_key_int(w, "count", count);
    json_key_int(w, "bytes", bytes);
    json_end_object(w);
    sym_list l = { 0 };
    int rc = symbolic_uses(g, &l);
    json_key(w, "symbolic_dims");
    json_begin_array(w);
    for (int k = 0; !rc && k < l.n; k++) {
        if (!first_of_dim(&l, k))
            continue;
        json_begin_object(w);
        json_key_string(w, "name", l.u[k].dim);
        json_key(w, "uses");
        json_begin_array(w);
        for (int j = k; j < l.n; j++) {
            if (strcmp(l.u[j].dim, l.u[k].dim))
                continue;
            json_begin_object(w);
            json_key_string(w, "value", l.u[j].value);
            json_key_string(w, "role", l.u[j].role);
            json_key_int(w, "axis", l.u[j].axis);
            json_end_object(w);
        }
        json_end_array(w);
        json_end_object(w);
    }
    json_end_array(w);
    free(l.u);
    return rc;
}

/* ---- training infos ------------------------------------------------------------ */

typedef struct op_n {
    const char *op;
    int n;
} op_n;

static int cmp_op(const void *a, const void *b) { return strcmp(((const op_n *)a)->op, ((const op_n *)b)->op); }

/* The op types of g with their counts, sorted by name, into *out (the
 * caller frees); *n_out distinct op types. */
static int op_counts(const og_graph *g, op_n **out, int *n_out)
{
    int n = g ? og_graph_num_nodes(g) : 0, m = 0;
    op_n *v = calloc((size_t)n + 1, sizeof *v);
    if (!v)
        return cli_fail("out of memory");
    for (int k = 0; k < n; k++) {
        og_status st = og_graph_node(g, k, &v[k].op, NULL);
        if (st) {
            free(v);
            return cli_fail_og(st);
        }
    }
    qsort(v, (size_t)n, sizeof *v, cmp_op);
    for (int k = 0; k < n; k++) {
        if (m > 0 && !strcmp(v[m - 1].op, v[k].op)) {
            v[m - 1].n++;
        } else {
            v[m].op = v[k].op;
            v[m++].n = 1;
        }
    }
    *out = v;
    *n_out = m;
    return EXIT_OK;
}

static int print_ops(const char *what, const og_graph *g)
{
    op_n *v;
    int n;
    if (op_counts(g, &v, &n))
        return EXIT_FAIL;
    printf("     %s ops:", what);
    for (int k = 0; k < n; k++)
        printf("%s %s %d", k ? "," : "", v[k].op, v[k].n);
    printf("%s\n", n ? "" : " none");
    free(v);
    return EXIT_OK;
}

static void print_bindings(const char *what, int n, const og_binding *b)
{
    printf("     %s:", what);
    for (int k = 0; k < n; k++)
        printf("%s %s <- %s", k ? "," : "", b[k].key, b[k].value);
    printf("%s\n", n ? "" : " none");
}

int info_print_training(const og_training_info *ti)
{
    if (print_ops("algorithm", ti->algorithm))
        return EXIT_FAIL;
    print_bindings("update", ti->n_update_bindings, ti->update_bindings);
    if (ti->initialization && print_ops("initialization", ti->initialization))
        return EXIT_FAIL;
    print_bindings("initialization", ti->n_initialization_bindings, ti->initialization_bindings);
    return EXIT_OK;
}

static int json_ops(json_writer *w, const char *key, const og_graph *g)
{
    op_n *v;
    int n;
    if (op_counts(g, &v, &n))
        return EXIT_FAIL;
    json_key(w, key);
    json_begin_object(w);
    for (int k = 0; k < n; k++)
        json_key_int(w, v[k].op, v[k].n);
    json_end_object(w);
    free(v);
    return EXIT_OK;
}

static void json_bindings(json_writer *w, const char *key, int n, const og_binding *b)
{
    json_key(w, key);
    json_begin_array(w);
    for (int k = 0; k < n; k++) {
        json_begin_object(w);
        json_key_string(w, "key", b[k].key);
        json_key_string(w, "value", b[k].value);
        json_end_object(w);
    }
    json_end_array(w);
}

int info_json_training(json_writer *w, const og_training_info *ti)
{
    if (json_ops(w, "algorithm_ops", ti->algorithm))
        return EXIT_FAIL;
    json_bindings(w, "update", ti->n_update_bindings, ti->update_bindings);
    if (json_ops(w, "initialization_ops", ti->initialization))
        return EXIT_FAIL;
    json_bindings(w, "initialization", ti->n_initialization_bindings, ti->initialization_bindings);
    return EXIT_OK;
}
