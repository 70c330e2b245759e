/* SPDX-License-Identifier: MIT */
/* onnxgrad.c — the `onnxgrad` command-line tool.
 *
 *     onnxgrad convert IN.onnx -o OUT.onnx
 *     onnxgrad info MODEL.onnx [--json]
 *     onnxgrad run MODEL.onnx [--inputs DIR] [-i NAME=FILE.pb]... -o OUTDIR
 *     onnxgrad grad | gradient-graph | gradcheck ...   (grad_cmds.c)
 *
 * Uses only the public API. Every command parses its options with
 * cli_parse (cli_util.c) from a table of its own, and every --json output
 * goes through json.c. Exit status: 0 success, 1 failure (one line on
 * stderr: "onnxgrad CMD: <message>"), 2 usage error. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "grad_cmds.h"
#include "dot_cmd.h"
#include "info_cmd.h"
#include "check_cmd.h"
#include "train_cmd.h"
#include "test_cmd.h"
#include "profile_cmd.h"
#include "json.h"

/* ---- help --------------------------------------------------------------- */

static const char HELP_MAIN[] =
    "usage: onnxgrad <command> [options]\n"
    "\n"
    "An ONNX-compatible graph runtime with reverse-mode autodiff.\n"
    "\n"
    "commands:\n"
    "  convert         load, validate and infer shapes, then save a model\n"
    "  info            print a model's opsets, inputs, outputs, initializers and ops\n"
    "  dot             draw a model's graph or gradient graph (SVG, PNG, PDF, DOT)\n"
    "  check           which ops onnxgrad has, forward and backward, before running\n"
    "  run             run a model on TensorProto (.pb) inputs\n"
    "  grad            compute gradients of a model's outputs, as .pb files\n"
    "  gradient-graph  save the gradient graph (forward + backward) as ONNX\n"
    "  gradcheck       compare the gradients with finite differences\n"
    "  test            run ONNX backend test-data directories: PASS/FAIL/REFUSED\n"
    "  train           train a model on a dataset (IDX or .pb files)\n"
    "  eval            score a classifier on a dataset: accuracy, confusion matrix\n"
    "  profile         where a model's time goes: per op type and kernel\n"
    "  bench           a model's load, plan and run times and memory\n"
    "  help            show help for a command\n"
    "\n"
    "options:\n"
    "  -h, --help      show this help\n"
    "  --version       print the version\n"
    "\n"
    "Every command spells its options the same way: -o/--output the file or\n"
    "directory written, -i/--input NAME=FILE a tensor bound to an input,\n"
    "--inputs DIR every *.pb in DIR bound by TensorProto name, --rng-seed N every\n"
    "random seed, --seed NAME=FILE an upstream gradient, -r/--repeat N a\n"
    "repetition count, --json machine-readable output on stdout, --force\n"
    "replacing earlier results, --threads N the kernel threads (default:\n"
    "OG_NUM_THREADS, else every core; results do not depend on N). Long options\n"
    "may be abbreviated to any unambiguous prefix and given in any order.\n"
    "\n"
    "Every command takes --limit NAME=VALUE (repeatable) to raise or lower a\n"
    "limit on what a file may ask for: file-bytes, nesting-depth, rank,\n"
    "tensor-elements, parse-memory-factor, parse-memory-base, plan-bytes (K, M,\n"
    "G, T suffixes), also read from OG_LIMIT_<NAME> (OG_LIMIT_FILE_BYTES=4G);\n"
    "--limit wins. With --json, a failure is also printed on stdout as\n"
    "{\"error\": {\"status\": \"OG_ERR_...\" | \"usage\" | \"error\", \"message\": ...}}.\n"
    "\n"
    "Run 'onnxgrad <command> --help' for a command's options.\n";

static const char HELP_CONVERT[] =
    "usage: onnxgrad convert IN.onnx -o OUT.onnx [--dim NAME=N]... [--input-shape NAME=D,...]...\n"
    "\n"
    "Loads IN.onnx (validating it and inferring every shape) and saves it to\n"
    "OUT.onnx with the inferred shapes written as value_info; --dim and\n"
    "--input-shape save it with those dims fixed.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   the model to write (required)\n"
    CLI_HELP_SHAPES
    "  --threads N         kernel threads (no effect on the result)\n"
    "  -h, --help          show this help\n";

static const char HELP_INFO[] =
    "usage: onnxgrad info MODEL.onnx [--json]\n"
    "\n"
    "Prints the opset imports, graph inputs and outputs with dtypes and\n"
    "shapes (symbolic dims by name, unknown dims as ?), the initializers, and\n"
    "the number of nodes of each op type, then their FLOPs for the inferred\n"
    "shapes. A model onnxgrad cannot run is listed too: its missing ops are\n"
    "marked and a note says why.\n"
    "\n"
    "options:\n"
    "  --json        print it as one JSON object: model, opsets [{domain,\n"
    "                version}], inputs/outputs [{name, dtype, shape}] (a shape\n"
    "                lists ints, a symbolic dim's name, or null for an unknown\n"
    "                dim; null for an unknown rank), initializers [{name, dtype,\n"
    "                shape}], nodes (the count), ops {op_type: count}, runs\n"
    "                (whether onnxgrad can run it), not_implemented [op types],\n"
    "                error (why it cannot run, else \"\"), flops {op_type: n, null\n"
    "                when a dim is symbolic or the op has no formula}\n"
    "  --threads N   accepted by every command\n"
    "  -h, --help    show this help\n"
    "\n"
    "Also printed (and in --json): parameters {count, bytes} over every\n"
    "initializer; symbolic_dims [{name, uses [{value, role, axis}]}], each\n"
    "dim_param of the graph inputs and outputs and where it appears; per\n"
    "training info its algorithm_ops and initialization_ops {op_type: count}\n"
    "and its update and initialization bindings [{key, value}].\n";

static const char HELP_RUN[] =
    "usage: onnxgrad run MODEL.onnx [--inputs DIR] [-i NAME=FILE.pb|.npy]... -o OUTDIR\n"
    "           [-r N] [--force] [--json] [--format npy|pb] [--dim NAME=N]...\n"
    "           [--input-shape NAME=D,D,...]... [--random [--val-range NAME=LO,HI]...\n"
    "           [--rng-seed S]]\n"
    "\n"
    "Runs MODEL.onnx and writes OUTDIR/output_<k>.pb, one TensorProto per graph\n"
    "output in graph-output order, named after the output. OUTDIR is created\n"
    "if missing; one holding output_<k>.pb or grad_<k>.pb files of an earlier\n"
    "run is refused unless --force.\n"
    "\n"
    "options:\n"
    "  --inputs DIR          bind every DIR/*.pb to the graph input (or\n"
    "                        initializer) its TensorProto is named after; an\n"
    "                        unnamed input_<k>.pb binds to graph input k (the\n"
    "                        ONNX test-data layout); a note on stderr lists the\n"
    "                        files ignored\n"
    "  -i, --input NAME=FILE bind the TensorProto in FILE to the graph input NAME\n"
    "                        (repeatable; replaces a --inputs tensor of that\n"
    "                        name); NAME may be an initializer, which the tensor\n"
    "                        then overrides; any other NAME is an error\n"
    "  -o, --output DIR      the directory to write outputs to (required)\n"
    "  -r, --repeat N        run N times (default 1) and report the run times;\n"
    "                        the outputs of the last run are written\n"
    "  --force               remove earlier output_<k>.pb/grad_<k>.pb from OUTDIR\n"
    CLI_HELP_FORMAT
    CLI_HELP_SHAPES
    "  --random              make every input not given: uniform in [0, 1) (floats),\n"
    "                        uniform integers in [LO, HI] (integers), 0/1 (bool);\n"
    "                        the same for the same seed\n"
    "  --val-range NAME=LO,HI  the range of input NAME for --random (repeatable)\n"
    "  --rng-seed S          the seed of --random (default 0)\n"
    "  --json                print {model, output_dir, repeat, seconds {min,\n"
    "                        median, max}, outputs [{name, dtype, shape, file}]}\n"
    "  --profile FILE        write every kernel step of the runs to FILE as a\n"
    "                        Chrome trace (Perfetto, chrome://tracing)\n"
    "  --threads N           kernel threads (the outputs do not depend on N)\n"
    "  -h, --help            show this help\n";

static const char *help_for(const char *cmd)
{
    if (!cmd)
        return HELP_MAIN;
    if (!strcmp(cmd, "convert"))
        return HELP_CONVERT;
    if (!strcmp(cmd, "info"))
        return HELP_INFO;
    if (!strcmp(cmd, "dot"))
        return HELP_DOT;
    if (!strcmp(cmd, "run"))
        return HELP_RUN;
    if (!strcmp(cmd, "check"))
        return HELP_CHECK;
    if (!strcmp(cmd, "train"))
        return HELP_TRAIN;
    if (!strcmp(cmd, "eval"))
        return HELP_EVAL;
    if (!strcmp(cmd, "test"))
        return HELP_TEST;
    if (!strcmp(cmd, "profile") || !strcmp(cmd, "bench"))
        return cmd[0] == 'p' ? HELP_PROFILE : HELP_BENCH;
    if (!strcmp(cmd, "help"))
        return HELP_MAIN;
    return grad_cmds_help(cmd);
}

/* ---- formatting --------------------------------------------------------- */

static void print_shape(const og_value_info *vi)
{
    if (vi->rank < 0) {
        fputs("[?...]", stdout);
        return;
    }
    putchar('[');
    for (int d = 0; d < vi->rank; d++) {
        if (d)
            putchar(',');
        if (vi->dim_params && vi->dim_params[d])
            fputs(vi->dim_params[d], stdout);
        else if (vi->dims[d] < 0)
            putchar('?');
        else
            printf("%lld", (long long)vi->dims[d]);
    }
    putchar(']');
}

static void print_value(const og_value_info *vi)
{
    printf("  %s: %s ", vi->name ? vi->name : "", og_dtype_name(vi->dtype));
    print_shape(vi);
    putchar('\n');
}

/* ---- convert ------------------------------------------------------------ */

enum { OPT_OUTPUT, OPT_INPUT, OPT_INPUTS, OPT_FORCE, OPT_JSON, OPT_REPEAT, OPT_PROFILE, OPT_RANDOM, OPT_VAL_RANGE,
       OPT_RNG_SEED };

static const cli_option CONVERT_OPTS[] = {
    { "output", 'o', true, OPT_OUTPUT, NULL },
    { NULL, 0, false, 0, NULL },
};

static int take_convert(void *user, int id, const char *opt, char *v)
{
    (void)opt;
    if (id == OPT_OUTPUT)
        *(const char **)user = v;
    return EXIT_OK;
}

static int cmd_convert(int argc, char **argv)
{
    static const cli_command c = { "convert", HELP_CONVERT, CONVERT_OPTS, 1, 1, "missing the input model" };
    cli_take_extras(CLI_SHAPES);
    const char *out = NULL;
    char **args;
    int n_args;
    bool help;
    int rc = cli_parse(&c, argc, argv, take_convert, &out, &args, &n_args, &help);
    if (rc || help)
        return rc;
    if (!out)
        return cli_usage_error("convert", "missing -o OUT.onnx");

    og_graph *g = NULL;
    og_status st = og_model_load_file(args[0], &g);
    if (st == OG_OK && (rc = cli_apply_shape_overrides(g, args[0]))) {
        og_graph_free(g);
        return rc;
    }
    if (st == OG_OK)
        st = og_model_save_file(g, out);
    rc = st == OG_OK ? EXIT_OK : cli_fail_og(st);
    og_graph_free(g);
    return rc;
}

/* ---- info --------------------------------------------------------------- */

typedef struct op_count {
    const char *op;   /* owned by the graph */
    int n;
} op_count;

static int cmp_op_count(const void *a, const void *b)
{
    return strcmp(((const op_count *)a)->op, ((const op_count *)b)->op);
}

/* Whether r (NULL: the model loads) lists op_type as missing. */
static bool missing_op(const og_check_report *r, const char *op_type)
{
    for (int k = 0; r && k < r->n_ops; k++)
        if (!r->ops[k].implemented && !strcmp(r->ops[k].op_type, op_type))
            return true;
    return false;
}

static int print_info(const og_graph *g, const char *path, const og_check_report *r)
{
    og_status st;
    printf("model: %s\n", path);

    printf("opsets:\n");
    for (int k = 0; k < og_graph_num_opsets(g); k++) {
        const char *domain;
        int64_t version;
        if ((st = og_graph_opset(g, k, &domain, &version)))
            return cli_fail_og(st);
        printf("  %s %lld\n", domain && *domain ? domain : "ai.onnx", (long long)version);
    }

    og_value_info vi;
    printf("inputs:\n");
    for (int k = 0; k < og_graph_num_inputs(g); k++) {
        if ((st = og_graph_input(g, k, &vi)))
            return cli_fail_og(st);
        print_value(&vi);
    }
    printf("outputs:\n");
    for (int k = 0; k < og_graph_num_outputs(g); k++) {
        if ((st = og_graph_output(g, k, &vi)))
            return cli_fail_og(st);
        print_value(&vi);
    }

    int n_init = og_graph_num_initializers(g);
    printf("initializers: %d\n", n_init);
    for (int k = 0; k < n_init; k++) {
        const og_tensor *t;
        if ((st = og_graph_initializer(g, k, &t)))
            return cli_fail_og(st);
        printf("  %s: %s [", t->name ? t->name : "", og_dtype_name(t->dtype));
        for (int d = 0; d < t->rank; d++)
            printf(d ? ",%lld" : "%lld", (long long)t->dims[d]);
        printf("]\n");
    }
    if (info_print_extras(g))   /* parameters, symbolic dims (info_cmd.c) */
        return EXIT_FAIL;

    int n_ti = og_graph_num_training_infos(g);
    if (n_ti > 0)
        printf("training infos: %d\n", n_ti);
    for (int k = 0; k < n_ti; k++) {
        og_training_info ti;
        if ((st = og_graph_get_training_info(g, k, &ti)))
            return cli_fail_og(st);
        printf("  %d: algorithm %d nodes, %d update bindings; initialization %d nodes, %d initialization bindings\n", k,
               og_graph_num_nodes(ti.algorithm), ti.n_update_bindings,
               ti.initialization ? og_graph_num_nodes(ti.initialization) : 0, ti.n_initialization_bindings);
        if (info_print_training(&ti))
            return EXIT_FAIL;
    }

    /* Counted by sorting a copy of the op names so the output is stable
     * whatever the node order. */
    int n_nodes = og_graph_num_nodes(g);
    printf("nodes: %d\n", n_nodes);
    if (n_nodes <= 0)
        return EXIT_OK;
    op_count *ops = calloc((size_t)n_nodes, sizeof *ops);
    if (!ops)
        return cli_fail("out of memory");
    for (int k = 0; k < n_nodes; k++) {
        const char *name;
        if ((st = og_graph_node(g, k, &ops[k].op, &name))) {
            free(ops);
            return cli_fail_og(st);
        }
        ops[k].n = 1;
    }
    qsort(ops, (size_t)n_nodes, sizeof *ops, cmp_op_count);
    for (int k = 0; k < n_nodes;) {
        int j = k;
        while (j < n_nodes && !strcmp(ops[j].op, ops[k].op))
            j++;
        printf("  %s: %d%s\n", ops[k].op, j - k, missing_op(r, ops[k].op) ? " (not implemented by onnxgrad)" : "");
        k = j;
    }
    free(ops);
    if (!r)
        cli_info_flops(g, NULL);   /* FLOPs per op type (profile_cmd.c) */
    return EXIT_OK;
}

/* A value's shape for JSON: ints, a symbolic dim's name, null for an
 * unknown dim; null for an unknown rank. */
static void json_value_shape(json_writer *w, const og_value_info *vi)
{
    if (vi->rank < 0) {
        json_null(w);
        return;
    }
    json_begin_array(w);
    for (int d = 0; d < vi->rank; d++) {
        if (vi->dim_params && vi->dim_params[d])
            json_string(w, vi->dim_params[d]);
        else if (vi->dims[d] < 0)
            json_null(w);
        else
            json_int(w, vi->dims[d]);
    }
    json_end_array(w);
}

static int json_values(json_writer *w, const og_graph *g, bool outputs)
{
    int n = outputs ? og_graph_num_outputs(g) : og_graph_num_inputs(g);
    json_begin_array(w);
    for (int k = 0; k < n; k++) {
        og_value_info vi;
        og_status st = outputs ? og_graph_output(g, k, &vi) : og_graph_input(g, k, &vi);
        if (st)
            return cli_fail_og(st);
        json_begin_object(w);
        json_key_string(w, "name", vi.name ? vi.name : "");
        json_key_string(w, "dtype", og_dtype_name(vi.dtype));
        json_key(w, "shape");
        json_value_shape(w, &vi);
        json_end_object(w);
    }
    json_end_array(w);
    return EXIT_OK;
}

/* The --json form of print_info. The document is built in memory first so
 * a failure half-way prints no broken JSON. */
static int print_info_json(const og_graph *g, const char *path, const og_check_report *r)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    if (!mem)
        return cli_fail("out of memory");
    json_writer w;
    json_init(&w, mem);
    og_status st = OG_OK;
    int rc = EXIT_OK;
    json_begin_object(&w);
    json_key_string(&w, "model", path);
    json_key(&w, "opsets");
    json_begin_array(&w);
    for (int k = 0; k < og_graph_num_opsets(g) && !st; k++) {
        const char *domain;
        int64_t version;
        if ((st = og_graph_opset(g, k, &domain, &version)))
            break;
        json_begin_object(&w);
        json_key_string(&w, "domain", domain && *domain ? domain : "ai.onnx");
        json_key_int(&w, "version", version);
        json_end_object(&w);
    }
    json_end_array(&w);
    if (st)
        rc = cli_fail_og(st);
    if (!rc) {
        json_key(&w, "inputs");
        rc = json_values(&w, g, false);
    }
    if (!rc) {
        json_key(&w, "outputs");
        rc = json_values(&w, g, true);
    }
    json_key(&w, "initializers");
    json_begin_array(&w);
    for (int k = 0; !rc && k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        if ((st = og_graph_initializer(g, k, &t)))
            rc = cli_fail_og(st);
        else
            cli_json_tensor(&w, t, NULL);
    }
    json_end_array(&w);
    if (!rc)
        rc = info_json_extras(&w, g);   /* parameters, symbolic_dims (info_cmd.c) */
    json_key(&w, "training_infos");
    json_begin_array(&w);
    for (int k = 0; !rc && k < og_graph_num_training_infos(g); k++) {
        og_training_info ti;
        if ((st = og_graph_get_training_info(g, k, &ti))) {
            rc = cli_fail_og(st);
            break;
        }
        json_begin_object(&w);
        json_key_int(&w, "algorithm_nodes", og_graph_num_nodes(ti.algorithm));
        json_key_int(&w, "update_bindings", ti.n_update_bindings);
        json_key_int(&w, "initialization_nodes", ti.initialization ? og_graph_num_nodes(ti.initialization) : 0);
        json_key_int(&w, "initialization_bindings", ti.n_initialization_bindings);
        rc = info_json_training(&w, &ti);
        json_end_object(&w);
    }
    json_end_array(&w);
    int n_nodes = og_graph_num_nodes(g);
    json_key_int(&w, "nodes", n_nodes);
    json_key(&w, "ops");
    json_begin_object(&w);
    op_count *ops = n_nodes > 0 ? calloc((size_t)n_nodes, sizeof *ops) : NULL;
    if (n_nodes > 0 && !ops && !rc)
        rc = cli_fail("out of memory");
    for (int k = 0; !rc && k < n_nodes; k++) {
        const char *name;
        if ((st = og_graph_node(g, k, &ops[k].op, &name)))
            rc = cli_fail_og(st);
    }
    if (!rc && n_nodes > 0) {
        qsort(ops, (size_t)n_nodes, sizeof *ops, cmp_op_count);
        for (int k = 0; k < n_nodes;) {
            int j = k;
            while (j < n_nodes && !strcmp(ops[j].op, ops[k].op))
                j++;
            json_key_int(&w, ops[k].op, j - k);
            k = j;
        }
    }
    free(ops);
    json_end_object(&w);
    if (!r) {
        json_key(&w, "flops");     /* {op_type: n, null when unknown} (profile_cmd.c) */
        cli_info_flops(g, &w);
    }
    json_key_bool(&w, "runs", r == NULL);
    json_key(&w, "not_implemented");
    json_begin_array(&w);
    for (int k = 0; r && k < r->n_ops; k++)
        if (!r->ops[k].implemented)
            json_string(&w, r->ops[k].op_type);
    json_end_array(&w);
    json_key_string(&w, "error", r ? r->load_error : "");
    json_end_object(&w);
    fclose(mem);
    if (!rc)
        fwrite(buf, 1, size, stdout);
    free(buf);
    return rc;
}

static const cli_option INFO_OPTS[] = {
    { "json", 0, false, OPT_JSON, NULL },
    { NULL, 0, false, 0, NULL },
};

static int take_info(void *user, int id, const char *opt, char *v)
{
    (void)opt;
    (void)v;
    if (id == OPT_JSON)
        *(bool *)user = true;
    return EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
    static const cli_command c = { "info", HELP_INFO, INFO_OPTS, 1, 1, "missing the model" };
    bool json = false, help;
    char **args;
    int n_args;
    int rc = cli_parse(&c, argc, argv, take_info, &json, &args, &n_args, &help);
    if (rc || help)
        return rc;

    /* Loaded unfinalized, so a model onnxgrad cannot run is still listed,
     * its missing ops marked and the reason given. */
    og_load_options lo = OG_LOAD_OPTIONS_INIT;
    lo.unfinalized = true;
    og_graph *g = NULL;
    og_check_report *r = NULL;
    og_status st = og_model_load_file_ex(args[0], &lo, &g);
    if (st)
        return cli_fail_og(st);
    if (og_graph_finalize(g) != OG_OK) {
        if ((st = og_model_check(g, NULL, &r))) {
            og_graph_free(g);
            return cli_fail_og(st);
        }
    }
    rc = json ? print_info_json(g, args[0], r) : print_info(g, args[0], r);
    if (rc == EXIT_OK && r)
        cli_note("onnxgrad cannot run this model: %s", r->load_error);
    og_check_report_free(r);
    og_graph_free(g);
    return rc;
}

/* ---- run ---------------------------------------------------------------- */

typedef struct run_args {
    const char *outdir, *indir;
    const char **specs;       /* -i NAME=FILE, pointers into argv */
    int n_specs;
    const char **ranges;      /* --val-range NAME=LO,HI */
    int n_ranges;
    bool random;
    long seed;
    long repeat;
    bool force, json;
    const char *trace;        /* --profile FILE: a Chrome trace of the runs */
} run_args;

static const cli_option RUN_OPTS[] = {
    { "input", 'i', true, OPT_INPUT, NULL },
    { "inputs", 0, true, OPT_INPUTS, NULL },
    { "output", 'o', true, OPT_OUTPUT, NULL },
    { "repeat", 'r', true, OPT_REPEAT, NULL },
    { "force", 0, false, OPT_FORCE, NULL },
    { "json", 0, false, OPT_JSON, NULL },
    { "random", 0, false, OPT_RANDOM, NULL },
    { "val-range", 0, true, OPT_VAL_RANGE, NULL },
    { "rng-seed", 0, true, OPT_RNG_SEED, NULL },
    { "profile", 0, true, OPT_PROFILE, NULL },
    { NULL, 0, false, 0, NULL },
};

static int take_run(void *user, int id, const char *opt, char *v)
{
    run_args *a = user;
    switch (id) {
    case OPT_OUTPUT:
        a->outdir = v;
        break;
    case OPT_INPUTS:
        if (a->indir)
            return cli_usage_error("run", "--inputs given twice");
        a->indir = v;
        break;
    case OPT_INPUT:
        if (!strchr(v, '=') || v[0] == '=')
            return cli_usage_error("run", "%s expects NAME=FILE.pb, got '%s'", opt, v);
        a->specs[a->n_specs++] = v;
        break;
    case OPT_REPEAT:
        return cli_parse_count("run", opt, v, 1, 1000000, &a->repeat);
    case OPT_FORCE:
        a->force = true;
        break;
    case OPT_JSON:
        a->json = true;
        break;
    case OPT_RANDOM:
        a->random = true;
        break;
    case OPT_VAL_RANGE:
        if (cli_check_range_spec("run", opt, v))
            return EXIT_USAGE;
        a->ranges[a->n_ranges++] = v;
        break;
    case OPT_RNG_SEED:
        return cli_parse_count("run", opt, v, 0, 0x7fffffffL, &a->seed);
    case OPT_PROFILE:
        a->trace = v;
        break;
    }
    return EXIT_OK;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* What run prints: nothing for one plain run; the run times for -r N; the
 * whole report for --json. times is sorted. */
static void print_run_report(const run_args *a, const char *model, int n_out, og_tensor *const *outs,
                             const double *times)
{
    double lo = times[0], mid = times[a->repeat / 2], hi = times[a->repeat - 1];
    if (a->repeat % 2 == 0)
        mid = 0.5 * (times[a->repeat / 2 - 1] + times[a->repeat / 2]);
    if (!a->json) {
        if (a->repeat > 1)
            printf("run %s: %ld runs, min %.3f ms, median %.3f ms, max %.3f ms\n", model, a->repeat, 1e3 * lo,
                   1e3 * mid, 1e3 * hi);
        return;
    }
    json_writer w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_key_string(&w, "model", model);
    json_key_string(&w, "output_dir", a->outdir);
    json_key_int(&w, "repeat", a->repeat);
    json_key(&w, "seconds");
    json_begin_object(&w);
    json_key_number(&w, "min", lo);
    json_key_number(&w, "median", mid);
    json_key_number(&w, "max", hi);
    json_end_object(&w);
    json_key(&w, "outputs");
    json_begin_array(&w);
    for (int k = 0; k < n_out; k++) {
        char file[1100];
        cli_result_file(file, sizeof file, "output_", k, outs);
        cli_json_tensor(&w, outs[k], file);
    }
    json_end_array(&w);
    json_end_object(&w);
}

static int run_model(const run_args *a, const char *model)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_tensor **outs = NULL;
    double *times = NULL;
    cli_feeds f = { 0 };
    int n_out = 0, rc = EXIT_FAIL;
    og_status st;

    if (cli_prepare_output_dir(a->outdir, a->force))
        return EXIT_FAIL;
    if ((st = og_model_load_file(model, &g))) {
        rc = cli_fail_og(st);
        goto done;
    }
    if (cli_apply_shape_overrides(g, model) || cli_load_feeds(g, model, a->indir, a->n_specs, a->specs, &f, NULL))
        goto done;
    if (a->random && cli_random_inputs(g, model, &f, a->n_ranges, a->ranges, (uint64_t)a->seed))
        goto done;
    if ((st = og_plan_create(g, &p))) {
        rc = cli_fail_og_in(model, st);
        goto done;
    }
    n_out = og_graph_num_outputs(g);
    outs = calloc(n_out > 0 ? (size_t)n_out : 1, sizeof *outs);
    times = calloc((size_t)a->repeat, sizeof *times);
    if (!outs || !times) {
        rc = cli_fail("out of memory");
        goto done;
    }
    for (long r = 0; r < a->repeat; r++) {
        for (int k = 0; k < n_out; k++) {
            og_tensor_free(outs[k]);
            outs[k] = NULL;
        }
        double t0 = now_seconds();
        if ((st = og_plan_run(p, f.n, (const og_tensor *const *)f.t, outs))) {
            rc = cli_fail_og_in(model, st);
            goto done;
        }
        times[r] = now_seconds() - t0;
    }
    if (cli_save_tensors(a->outdir, "output_", n_out, outs))
        goto done;
    qsort(times, (size_t)a->repeat, sizeof *times, cmp_double);
    print_run_report(a, model, n_out, outs, times);
    rc = EXIT_OK;
done:
    for (int k = 0; outs && k < n_out; k++)
        og_tensor_free(outs[k]);
    free(outs);
    free(times);
    cli_feeds_free(&f);
    og_plan_free(p);
    og_graph_free(g);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    static const cli_command c = { "run", HELP_RUN, RUN_OPTS, 1, 1, "missing the model" };
    cli_take_extras(CLI_SHAPES | CLI_FORMAT);
    run_args a = { .repeat = 1, .specs = calloc((size_t)argc + 1, sizeof(char *)),
                   .ranges = calloc((size_t)argc + 1, sizeof(char *)) };
    if (!a.specs || !a.ranges) {
        free(a.specs);
        free(a.ranges);
        return cli_fail("out of memory");
    }
    char **args;
    int n_args;
    bool help;
    int rc = cli_parse(&c, argc, argv, take_run, &a, &args, &n_args, &help);
    if (rc == EXIT_OK && !help && !a.outdir)
        rc = cli_usage_error("run", "missing -o OUTDIR");
    if (rc == EXIT_OK && !help) {
        og_profiler *prof = cli_trace_begin(a.trace);
        rc = cli_trace_end(prof, a.trace, run_model(&a, args[0]));
    }
    free(a.specs);
    free(a.ranges);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 2) {
        /* A bare "onnxgrad": the summary, as a usage error. */
        fputs(HELP_MAIN, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        fputs(HELP_MAIN, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("onnxgrad %s\n", OG_VERSION_STRING);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "help")) {
        cli_set_command("help");
        if (argc > 3)
            return cli_usage_error("help", "unexpected argument '%s'", argv[3]);
        const char *h = help_for(argc > 2 ? argv[2] : NULL);
        if (!h)
            return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        fputs(h, stdout);
        return EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } COMMANDS[] = {
        { "convert", cmd_convert },
        { "info", cmd_info },
        { "dot", cmd_dot },
        { "check", cmd_check },
        { "run", cmd_run },
        { "grad", cmd_grad },
        { "gradient-graph", cmd_gradient_graph },
        { "gradcheck", cmd_gradcheck },
        { "train", cmd_train },
        { "eval", cmd_eval },
        { "test", cmd_test },
        { "profile", cmd_profile }, { "bench", cmd_bench },
    };
    for (size_t k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++)
        if (!strcmp(cmd, COMMANDS[k].name)) {
            cli_set_command(COMMANDS[k].name);
            cli_print_warnings();
            return COMMANDS[k].fn(argc - 1, argv + 1);
        }
    if (cmd[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", cmd);
    return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
