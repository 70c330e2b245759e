/* SPDX-License-Identifier: MIT */
/* check_cmd.c — `onnxgrad check`: what onnxgrad can do with a model,
 * before anything runs (og_model_check). Exit 0 when the model loads and
 * differentiates for the options given, 1 otherwise (naming the nodes that
 * block it), 2 on a usage error. */
#include "check_cmd.h"
#include "cli_util.h"
#include "json.h"

#include <onnxgrad/onnxgrad.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char HELP_CHECK[] =
    "usage: onnxgrad check MODEL.onnx [--loss NAME | --seed-inputs NAMES] [--wrt NAMES] [--json]\n"
    "\n"
    "Reports, before anything runs, every op of the model with its count, whether\n"
    "onnxgrad implements it at the model's opset and has its backward rule, how\n"
    "many of its nodes lie on the differentiation path, and the nodes that block\n"
    "loading or differentiation. Exits 0 when the model loads and its gradient\n"
    "graph builds, 1 otherwise.\n"
    "\n"
    "options:\n"
    "  --loss NAME          differentiate the scalar output NAME\n"
    "  --seed-inputs NAMES  differentiate these outputs (comma-separated), each\n"
    "                       seeded with an upstream gradient; default (no --loss):\n"
    "                       every floating-point output\n"
    "  --wrt NAMES          with respect to these inputs/initializers\n"
    "                       (comma-separated); default: every floating-point one\n"
    "  --json               print the report as one JSON object: model, nodes,\n"
    "                       loads, load_error, differentiable, grad_error, wrt,\n"
    "                       path_nodes, ops [{op_type, domain, opset, count,\n"
    "                       on_path, implemented, backward}], blocking [strings]\n"
    "  --threads N          accepted by every command\n"
    "  -h, --help           show this help\n";

enum { OPT_LOSS, OPT_SEEDS, OPT_WRT, OPT_JSON };

static const cli_option CHECK_OPTS[] = {
    { "loss", 0, true, OPT_LOSS, NULL },
    { "seed-inputs", 0, true, OPT_SEEDS, NULL },
    { "wrt", 0, true, OPT_WRT, NULL },
    { "json", 0, false, OPT_JSON, NULL },
    { NULL, 0, false, 0, NULL },
};

typedef struct check_args {
    const char *loss;
    char *seeds, *wrt;   /* comma-separated, pointing into argv */
    bool json;
} check_args;

static int take_check(void *user, int id, const char *opt, char *v)
{
    check_args *a = user;
    (void)opt;
    switch (id) {
    case OPT_LOSS: a->loss = v; break;
    case OPT_SEEDS: a->seeds = v; break;
    case OPT_WRT: a->wrt = v; break;
    case OPT_JSON: a->json = true; break;
    }
    return EXIT_OK;
}

/* Splits a comma-separated list in place. Ownership: *out is the caller's
 * (free); its strings point into s. */
static int split(char *s, const char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!s)
        return EXIT_OK;
    int cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    const char **v = calloc((size_t)cap, sizeof *v);
    if (!v)
        return cli_fail("out of memory");
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
        v[(*n)++] = tok;
    *out = v;
    return EXIT_OK;
}

static void print_text(const og_check_report *r, const char *path)
{
    printf("model: %s\n", path);
    printf("nodes: %d; loads: %s; differentiable: %s (w.r.t. %d tensors, %d nodes on the path)\n", r->n_nodes,
           r->loads ? "yes" : "no", r->differentiable ? "yes" : "no", r->n_wrt, r->n_path_nodes);
    printf("  %-28s %-16s %5s %6s %8s %12s %9s\n", "op", "domain", "opset", "nodes", "on path", "implemented",
           "backward");
    for (int k = 0; k < r->n_ops; k++) {
        const og_check_op *o = &r->ops[k];
        printf("  %-28s %-16s %5d %6d %8d %12s %9s\n", o->op_type, o->domain[0] ? o->domain : "ai.onnx", o->opset,
               o->count, o->on_path, o->implemented ? "yes" : "NO", o->has_backward ? "yes" : "NO");
    }
    if (!r->loads)
        printf("does not load: %s\n", r->load_error);
    else if (!r->differentiable)
        printf("does not differentiate: %s\n", r->grad_error);
    if (r->n_blocking) {
        printf("blocking:\n");
        for (int k = 0; k < r->n_blocking; k++)
            printf("  %s\n", r->blocking[k]);
    }
}

static void print_json(const og_check_report *r, const char *path)
{
    json_writer w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_key_string(&w, "model", path);
    json_key_int(&w, "nodes", r->n_nodes);
    json_key_bool(&w, "loads", r->loads);
    json_key_string(&w, "load_error", r->load_error);
    json_key_bool(&w, "differentiable", r->differentiable);
    json_key_string(&w, "grad_error", r->grad_error);
    json_key_int(&w, "wrt", r->n_wrt);
    json_key_int(&w, "path_nodes", r->n_path_nodes);
    json_key(&w, "ops");
    json_begin_array(&w);
    for (int k = 0; k < r->n_ops; k++) {
        const og_check_op *o = &r->ops[k];
        json_begin_object(&w);
        json_key_string(&w, "op_type", o->op_type);
        json_key_string(&w, "domain", o->domain);
        json_key_int(&w, "opset", o->opset);
        json_key_int(&w, "count", o->count);
        json_key_int(&w, "on_path", o->on_path);
        json_key_bool(&w, "implemented", o->implemented);
        json_key_bool(&w, "backward", o->has_backward);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key(&w, "blocking");
    json_begin_array(&w);
    for (int k = 0; k < r->n_blocking; k++)
        json_string(&w, r->blocking[k]);
    json_end_array(&w);
    json_end_object(&w);
}

int cmd_check(int argc, char **argv)
{
    static const cli_command c = { "check", HELP_CHECK, CHECK_OPTS, 1, 1, "missing the model" };
    check_args a = { 0 };
    bool help;
    char **args;
    int n_args;
    int rc = cli_parse(&c, argc, argv, take_check, &a, &args, &n_args, &help);
    if (rc || help)
        return rc;
    if (a.loss && a.seeds)
        return cli_usage_error("check", "--loss and --seed-inputs are exclusive");
    og_check_options o = { .loss = a.loss };
    const char **seeds = NULL, **wrt = NULL;
    if ((rc = split(a.seeds, &seeds, &o.n_seeded)) || (rc = split(a.wrt, &wrt, &o.n_wrt))) {
        free(seeds);
        return rc;
    }
    o.seeded = seeds;
    o.wrt = wrt;
    og_load_options lo = OG_LOAD_OPTIONS_INIT;
    lo.unfinalized = true;
    og_graph *g = NULL;
    og_check_report *r = NULL;
    og_status st = og_model_load_file_ex(args[0], &lo, &g);
    if (st == OG_OK)
        st = og_model_check(g, &o, &r);
    if (st) {
        rc = cli_fail_og(st);
    } else {
        if (a.json)
            print_json(r, args[0]);
        else
            print_text(r, args[0]);
        rc = r->loads && r->differentiable ? EXIT_OK : EXIT_FAIL;
        if (rc)
            cli_print_line(stderr, "onnxgrad check: ",
                           r->n_blocking ? r->blocking[0] : r->loads ? r->grad_error : r->load_error);
    }
    og_check_report_free(r);
    og_graph_free(g);
    free(seeds);
    free(wrt);
    return rc;
}
