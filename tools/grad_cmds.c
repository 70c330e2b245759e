/* SPDX-License-Identifier: MIT */
/* grad_cmds.c — the autodiff subcommands of `onnxgrad`:
 *
 *     onnxgrad grad MODEL.onnx ... (--loss NAME | --seeds DIR | --seed NAME=FILE.pb ...) -o OUTDIR
 *     onnxgrad gradient-graph MODEL.onnx (--loss NAME | --seed-inputs NAMES) -o OUT.onnx
 *     onnxgrad gradcheck MODEL.onnx ... [--order 1|2] [--eps E] [--json] ...
 *
 * Options are parsed by cli_parse from one table per command (GRAD_OPTS,
 * GRAPH_OPTS, CHECK_OPTS); --json output goes through json.c.
 * Thin over the public API: og_gradients, og_graph_build_gradient +
 * og_model_save_file, og_gradcheck. Exit status as for every subcommand:
 * 0 success, 1 failure with one stderr line, 2 usage error. */
#define _POSIX_C_SOURCE 200809L

#include "grad_cmds.h"

#include <errno.h>
#include <signal.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "json.h"
#include "profile_cmd.h"

/* ---- help --------------------------------------------------------------- */

static const char HELP_GRAD[] =
    "usage: onnxgrad grad MODEL.onnx [--inputs DIR] [-i NAME=FILE.pb]...\n"
    "           (--loss NAME | --seeds DIR | --seed NAME=FILE.pb...)\n"
    "           [--wrt NAME,NAME...] [--allow-unused] -o OUTDIR [--force] [--json]\n"
    "\n"
    "Runs MODEL.onnx forward and backward and writes OUTDIR/grad_<k>.pb, one\n"
    "TensorProto per --wrt tensor in that order, named after the tensor it is\n"
    "the gradient of. OUTDIR is created if missing.\n"
    "\n"
    "what to differentiate (one of):\n"
    "  --loss NAME            an output with exactly one element; its gradient is 1\n"
    "  --seeds DIR            each DIR/*.pb is the upstream gradient of the output\n"
    "                         its TensorProto is named after\n"
    "  --seed NAME=FILE.pb    the upstream gradient of the output NAME (repeatable;\n"
    "                         replaces a --seeds tensor of that name)\n"
    "\n"
    "options:\n"
    "  --wrt NAME,NAME...     graph inputs and initializers to differentiate with\n"
    "                         respect to (repeatable); default: every float input,\n"
    "                         then every float initializer\n"
    "  --inputs DIR           bind every DIR/*.pb to the input (or initializer) its\n"
    "                         TensorProto is named after; an unnamed input_<k>.pb\n"
    "                         to graph input k; a note lists the files ignored\n"
    "  -i, --input NAME=FILE  bind the TensorProto in FILE to the input NAME\n"
    "                         (repeatable; replaces a --inputs tensor of that name);\n"
    "                         an initializer's NAME overrides it; others are errors\n"
    "  -o, --output DIR       the directory to write the gradients to (required);\n"
    "                         one holding earlier output_<k>.pb/grad_<k>.pb files\n"
    "                         is refused\n"
    "  --force                remove those earlier files first\n"
    CLI_HELP_FORMAT
    CLI_HELP_SHAPES
    "  --allow-unused         a --wrt tensor no differentiated output depends on\n"
    "                         gets a gradient of zeros instead of an error\n"
    "  --json                 print {model, output_dir, gradients [{name, dtype,\n"
    "                         shape, file}]} on stdout\n"
    "  --profile FILE         write every kernel step (forward and backward) to\n"
    "                         FILE as a Chrome trace (Perfetto, chrome://tracing)\n"
    "  --threads N            kernel threads (results do not depend on N)\n"
    "  -h, --help             show this help\n";

static const char HELP_GRADIENT_GRAPH[] =
    "usage: onnxgrad gradient-graph MODEL.onnx (--loss NAME | --seed-inputs NAME,NAME...)\n"
    "           [--wrt NAME,NAME...] [--allow-unused] [--simplify] [--json] -o OUT.onnx\n"
    "           [--dim NAME=N]... [--input-shape NAME=D,D,...]...\n"
    "\n"
    "Saves the gradient graph of MODEL.onnx (forward and backward, standard ONNX\n"
    "ops, opset 17). Its inputs are the model's inputs, then one per seeded\n"
    "output; its outputs are the model's outputs, then \"<tensor>_grad\" for each\n"
    "--wrt tensor. Its producer is onnxgrad; metadata_props onnxgrad.gradient.loss,\n"
    "onnxgrad.gradient.seeds and onnxgrad.gradient.wrt record what it\n"
    "differentiates; backward nodes are named grad/<forward node>/...\n"
    "\n"
    "what to differentiate (one of):\n"
    "  --loss NAME              an output with exactly one element; its gradient is 1\n"
    "  --seed-inputs NAME,...   outputs whose upstream gradients become graph\n"
    "                           inputs named \"<output>_grad\"\n"
    "\n"
    "options:\n"
    "  --wrt NAME,NAME...       graph inputs and initializers to differentiate with\n"
    "                           respect to (repeatable); default: every float input,\n"
    "                           then every float initializer\n"
    "  -o, --output FILE        the model to write (required)\n"
    "  --allow-unused           a --wrt tensor no differentiated output depends on\n"
    "                           gets a gradient of zeros instead of an error\n"
    "  --simplify               fold what is computed from constants into\n"
    "                           initializers, remove Identity nodes and nodes no\n"
    "                           output needs; prints the op counts before and after\n"
    "  --dim NAME=N             fix the symbolic dim NAME (e.g. N=4) wherever the\n"
    "                           model declares it, in the saved graph too (repeatable)\n"
    "  --input-shape NAME=D,D,...  fix the shape of input NAME (e.g.\n"
    "                           x=4,1,28,28); a dim the model fixes must agree\n"
    "  --json                   print {model, output, nodes, simplified[, nodes_before,\n"
    "                           ops {op: {before, after}}]} on stdout\n"
    "  --threads N              accepted by every command\n"
    "  -h, --help               show this help\n";

static const char HELP_GRADCHECK[] =
    "usage: onnxgrad gradcheck MODEL.onnx [--inputs DIR] [-i NAME=FILE.pb]...\n"
    "           [--wrt NAME,NAME...] [--order 1|2] [--eps E] [--atol A] [--rtol R]\n"
    "           [--fast] [--rng-seed N] [--max-elements K] [--seeds DIR] [--json]\n"
    "\n"
    "Checks the gradients of MODEL.onnx against central finite differences in\n"
    "float64, with a random upstream gradient for each float output. Prints, per\n"
    "--wrt tensor, the elements checked, the largest absolute and relative\n"
    "errors, the worst element with its analytic and numeric values, and PASS or\n"
    "FAIL; then a summary. An element passes when\n"
    "|analytic - numeric| <= atol + rtol * |numeric|. Exit status 0 when every\n"
    "element passes, 1 otherwise. Inputs not given are random in [-1, 1]; their\n"
    "dims must then be known. A progress line with the time left appears after\n"
    "2 s. On FAIL a note names the kinked ops (Relu, MaxPool, Clip, ...) on the\n"
    "path. Ctrl-C stops the check, prints the partial report and exits 130.\n"
    "\n"
    "options:\n"
    "  --wrt NAME,NAME...     tensors to check (repeatable); default: every float\n"
    "                         input, then every float initializer\n"
    "  --inputs DIR           bind every DIR/*.pb by its TensorProto name (an\n"
    "                         unnamed input_<k>.pb to graph input k)\n"
    "  -i, --input NAME=FILE  bind the TensorProto in FILE to the input NAME (an\n"
    "                         initializer's NAME overrides it)\n"
    "  --order 1|2            2: check the gradient graph's own gradients (default 1)\n"
    "  --eps E                finite-difference step, > 0 (default 1e-6)\n"
    "  --atol A               absolute tolerance, >= 0 (default 1e-5)\n"
    "  --rtol R               relative tolerance, >= 0 (default 1e-3)\n"
    "  --fast                 compare one random projection per tensor instead of\n"
    "                         every element\n"
    "  --rng-seed N           seed of the random inputs, upstream gradients and\n"
    "                         samples (default 0); --seed N is its deprecated\n"
    "                         spelling, kept for one release\n"
    "  --max-elements K       check at most K elements of each tensor, sampled\n"
    "                         evenly (default: all)\n"
    CLI_HELP_SHAPES
    "  --seeds DIR            upstream gradients (torch's grad_outputs): each\n"
    "                         DIR/*.pb seeds the output its TensorProto is named\n"
    "                         after; with --order 2 they seed the first-order\n"
    "                         gradient graph; outputs not seeded get random ones\n"
    "  --seed-file NAME=FILE  the upstream gradient of output NAME (repeatable)\n"
    "  --json                 print the report as one JSON object (non-finite\n"
    "                         numbers as null)\n"
    "  --threads N            kernel threads (results do not depend on N)\n"
    "  -h, --help             show this help\n";

const char *grad_cmds_help(const char *cmd)
{
    if (!strcmp(cmd, "grad"))
        return HELP_GRAD;
    if (!strcmp(cmd, "gradient-graph"))
        return HELP_GRADIENT_GRAPH;
    if (!strcmp(cmd, "gradcheck"))
        return HELP_GRADCHECK;
    return NULL;
}

/* ---- option parsing ----------------------------------------------------- */

typedef enum opt_id {
    O_OUTPUT, O_INPUTS, O_INPUT, O_LOSS, O_SEEDS, O_SEED_PB, O_SEED_INPUTS, O_WRT,
    O_ORDER, O_EPS, O_ATOL, O_RTOL, O_RNG_SEED, O_MAX_ELEMENTS, O_FAST, O_JSON, O_FORCE,
    O_ALLOW_UNUSED, O_SIMPLIFY, O_PROFILE
} opt_id;

/* Each command's own table (cli_parse adds -h/--help and --threads). */
static const cli_option GRAD_OPTS[] = {
    { "input", 'i', true, O_INPUT, NULL },
    { "inputs", 0, true, O_INPUTS, NULL },
    { "loss", 0, true, O_LOSS, NULL },
    { "seeds", 0, true, O_SEEDS, NULL },
    { "seed", 0, true, O_SEED_PB, NULL },
    { "wrt", 0, true, O_WRT, NULL },
    { "output", 'o', true, O_OUTPUT, NULL },
    { "force", 0, false, O_FORCE, NULL },
    { "json", 0, false, O_JSON, NULL },
    { "allow-unused", 0, false, O_ALLOW_UNUSED, NULL },
    { "profile", 0, true, O_PROFILE, NULL },
    { NULL, 0, false, 0, NULL },
};

static const cli_option GRAPH_OPTS[] = {
    { "loss", 0, true, O_LOSS, NULL },
    { "seed-inputs", 0, true, O_SEED_INPUTS, NULL },
    { "wrt", 0, true, O_WRT, NULL },
    { "output", 'o', true, O_OUTPUT, NULL },
    { "allow-unused", 0, false, O_ALLOW_UNUSED, NULL },
    { "simplify", 0, false, O_SIMPLIFY, NULL },
    { "json", 0, false, O_JSON, NULL },
    { NULL, 0, false, 0, NULL },
};

static const cli_option CHECK_OPTS[] = {
    { "input", 'i', true, O_INPUT, NULL },
    { "inputs", 0, true, O_INPUTS, NULL },
    { "wrt", 0, true, O_WRT, NULL },
    { "order", 0, true, O_ORDER, NULL },
    { "eps", 0, true, O_EPS, NULL },
    { "atol", 0, true, O_ATOL, NULL },
    { "rtol", 0, true, O_RTOL, NULL },
    { "fast", 0, false, O_FAST, NULL },
    { "rng-seed", 0, true, O_RNG_SEED, NULL },
    /* the spelling before the naming rule; kept for one release */
    { "seed", 0, true, O_RNG_SEED, "rng-seed" },
    { "max-elements", 0, true, O_MAX_ELEMENTS, NULL },
    { "json", 0, false, O_JSON, NULL },
    { "seeds", 0, true, O_SEEDS, NULL },
    { "seed-file", 0, true, O_SEED_PB, NULL },
    { NULL, 0, false, 0, NULL },
};

/* One parsed command line. */
typedef struct grad_args {
    const char *cmd;
    bool help, force, json, allow_unused, simplify;
    const char *model, *out, *indir, *loss, *seeds_dir;
    cli_names specs;          /* -i NAME=FILE */
    cli_names seed_specs;     /* --seed NAME=FILE (grad) */
    cli_names seeded;         /* --seed-inputs (gradient-graph) */
    cli_names wrt;
    /* gradcheck */
    int order;
    double eps, atol, rtol;
    bool fast;
    uint64_t seed;
    int64_t max_elements;
    const char *trace;        /* grad --profile FILE (profile_cmd.c) */
} grad_args;

static void args_free(grad_args *a)
{
    free(a->specs.v);
    free(a->seed_specs.v);
    free(a->seeded.v);
    free(a->wrt.v);
}

/* A finite number >= min (> min when strict). */
static int parse_double(grad_args *a, const char *opt, const char *v, double min, bool strict, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || !isfinite(d) || d < min || (strict && d == min))
        return cli_usage_error(a->cmd, "%s expects a number %s %g, got '%s'", opt, strict ? ">" : ">=", min, v);
    *out = d;
    return EXIT_OK;
}

static int parse_u64(grad_args *a, const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    /* strtoull accepts a sign (and negates): only digits are a count */
    unsigned long long u = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
    if (!(v[0] >= '0' && v[0] <= '9') || *end || errno == ERANGE || u < min || u > max) {
        if (min == 0)
            return cli_usage_error(a->cmd, "%s expects an unsigned integer, got '%s'", opt, v);
        return cli_usage_error(a->cmd, "%s expects an integer >= %" PRIu64 ", got '%s'", opt, min, v);
    }
    *out = u;
    return EXIT_OK;
}

static int take_value(grad_args *a, opt_id id, const char *opt, char *v)
{
    uint64_t u = 0;
    switch (id) {
    case O_OUTPUT:
        a->out = v;
        return EXIT_OK;
    case O_INPUTS:
        if (a->indir)
            return cli_usage_error(a->cmd, "--inputs given twice");
        a->indir = v;
        return EXIT_OK;
    case O_SEEDS:
        if (a->seeds_dir)
            return cli_usage_error(a->cmd, "--seeds given twice");
        a->seeds_dir = v;
        return EXIT_OK;
    case O_LOSS:
        if (a->loss)
            return cli_usage_error(a->cmd, "--loss given twice");
        a->loss = v;
        return EXIT_OK;
    case O_INPUT:
    case O_SEED_PB:
        if (!strchr(v, '=') || v[0] == '=')
            return cli_usage_error(a->cmd, "%s expects NAME=FILE.pb, got '%s'", opt, v);
        return cli_names_push(id == O_INPUT ? &a->specs : &a->seed_specs, v);
    case O_SEED_INPUTS:
        return cli_names_split(a->cmd, opt, v, &a->seeded);
    case O_WRT:
        return cli_names_split(a->cmd, opt, v, &a->wrt);
    case O_ORDER:
        if (strcmp(v, "1") && strcmp(v, "2"))
            return cli_usage_error(a->cmd, "--order expects 1 or 2, got '%s'", v);
        a->order = v[0] - '0';
        return EXIT_OK;
    case O_EPS:
        return parse_double(a, opt, v, 0, true, &a->eps);
    case O_ATOL:
        return parse_double(a, opt, v, 0, false, &a->atol);
    case O_RTOL:
        return parse_double(a, opt, v, 0, false, &a->rtol);
    case O_RNG_SEED:
        return parse_u64(a, opt, v, 0, UINT64_MAX, &a->seed);
    case O_MAX_ELEMENTS:
        if (parse_u64(a, opt, v, 1, INT64_MAX, &u))
            return EXIT_USAGE;
        a->max_elements = (int64_t)u;
        return EXIT_OK;
    case O_FAST:
        a->fast = true;
        return EXIT_OK;
    case O_JSON:
        a->json = true;
        return EXIT_OK;
    case O_FORCE:
        a->force = true;
        return EXIT_OK;
    case O_ALLOW_UNUSED:
        a->allow_unused = true;
        return EXIT_OK;
    case O_SIMPLIFY:
        a->simplify = true;
        return EXIT_OK;
    case O_PROFILE:
        a->trace = v;
        return EXIT_OK;
    }
    return EXIT_OK;
}

static int take_option(void *user, int id, const char *opt, char *v)
{
    return take_value(user, (opt_id)id, opt, v);
}

/* Parses argv (argv[0] is the command) into *a. --help prints the help and
 * sets a->help. */
static int parse_args(int argc, char **argv, const cli_option *opts, grad_args *a)
{
    const cli_command c = { a->cmd, grad_cmds_help(a->cmd), opts, 1, 1, "missing the model" };
    cli_take_extras(CLI_SHAPES | (!strcmp(a->cmd, "grad") ? CLI_FORMAT : 0));
    char **args;
    int n_args;
    int rc = cli_parse(&c, argc, argv, take_option, a, &args, &n_args, &a->help);
    if (rc == EXIT_OK && !a->help)
        a->model = args[0];
    return rc;
}

/* ---- grad --------------------------------------------------------------- */

/* Loads every DIR/ *.pb, in file-name order; each must be named after the
 * output it seeds, and no output twice. */
static int load_seed_dir(const char *dir, cli_feeds *f)
{
    char **files = NULL;
    int n = 0, rc = cli_list_pb_files(dir, &files, &n);
    if (rc == EXIT_OK && n == 0)
        rc = cli_fail("%s holds no .pb files (one upstream gradient per output, named after it)", dir);
    for (int k = 0; k < n && rc == EXIT_OK; k++) {
        char path[4096];
        og_tensor *t;
        og_status st;
        if ((rc = cli_path_join(path, sizeof path, dir, files[k])))
            break;
        if ((st = og_tensor_load_pb(path, &t))) {
            rc = cli_fail_og(st);
            break;
        }
        if (!t->name || !*t->name) {
            og_tensor_free(t);
            rc = cli_fail("%s: the seed has no TensorProto name; name it after the output it seeds", path);
            break;
        }
        for (int j = 0; j < f->n && rc == EXIT_OK; j++)
            if (!strcmp(f->t[j]->name, t->name))
                rc = cli_fail("%s: a second seed for output '%s'", path, t->name);
        if (rc)
            og_tensor_free(t);
        else
            rc = cli_feeds_push(f, t);
    }
    for (int k = 0; k < n; k++)
        free(files[k]);
    free(files);
    return rc;
}

static void format_dims(char *buf, size_t size, int rank, const int64_t *dims)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < rank && n < size; d++)
        n += dims[d] < 0 ? (size_t)snprintf(buf + n, size - n, d ? ",?" : "?")
                         : (size_t)snprintf(buf + n, size - n, d ? ",%" PRId64 : "%" PRId64, dims[d]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* A seed must have its output's type. Checked here so the message names
 * the output the user seeded, not the gradient graph's "<output>_grad"
 * input; names that are not outputs are left to the library. */
static int check_seed(const char *model, const og_graph *g, const og_tensor *t)
{
    og_value_info vi;
    int k = 0, n = og_graph_num_outputs(g);
    for (; k < n; k++)
        if (og_graph_output(g, k, &vi) == OG_OK && vi.name && !strcmp(vi.name, t->name))
            break;
    if (k == n)
        return EXIT_OK;
    bool bad = vi.dtype != OG_UNDEFINED && vi.dtype != t->dtype;
    bad = bad || (vi.rank >= 0 && vi.rank != t->rank);
    for (int d = 0; !bad && vi.rank >= 0 && d < vi.rank; d++)
        bad = vi.dims[d] >= 0 && vi.dims[d] != t->dims[d];
    if (!bad)
        return EXIT_OK;
    char got[512], want[512];
    format_dims(got, sizeof got, t->rank, t->dims);
    if (vi.rank >= 0)
        format_dims(want, sizeof want, vi.rank, vi.dims);
    else
        snprintf(want, sizeof want, "[?...]");
    return cli_fail("%s: the seed of output '%s' is %s %s; the output is %s %s", model, t->name,
                    og_dtype_name(t->dtype), got, og_dtype_name(vi.dtype), want);
}

/* The library's default wrt list, spelled out: every float graph input,
 * then every float initializer that is not one. */
static int default_wrt(const og_graph *g, cli_names *l)
{
    og_value_info vi;
    og_status st;
    for (int k = 0; k < og_graph_num_inputs(g); k++) {
        if ((st = og_graph_input(g, k, &vi)))
            return cli_fail_og(st);
        if ((vi.dtype == OG_FLOAT || vi.dtype == OG_DOUBLE) && cli_names_push(l, vi.name))
            return EXIT_FAIL;
    }
    for (int k = 0; k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        if ((st = og_graph_initializer(g, k, &t)))
            return cli_fail_og(st);
        if (t->dtype != OG_FLOAT && t->dtype != OG_DOUBLE)
            continue;
        bool input = false;
        for (int j = 0; j < og_graph_num_inputs(g) && !input; j++)
            input = og_graph_input(g, j, &vi) == OG_OK && !strcmp(vi.name, t->name);
        if (!input && cli_names_push(l, t->name))
            return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* --inputs and -i, bound by name (cli_load_feeds). A fed initializer
 * becomes a graph input, which would move it among the inputs in the
 * default wrt order: without --wrt, the order of the model as loaded is
 * kept by naming the default list explicitly. */
static int load_model_feeds(grad_args *a, og_graph *g, cli_feeds *in)
{
    int promoted = 0, rc;
    bool own_default = a->wrt.n == 0;
    if ((rc = cli_apply_shape_overrides(g, a->model)))
        return rc;
    if (own_default && (rc = default_wrt(g, &a->wrt)))
        return rc;
    rc = cli_load_feeds(g, a->model, a->indir, a->specs.n, a->specs.v, in, &promoted);
    if (own_default && !promoted)
        a->wrt.n = 0;    /* the library's own default, as before */
    return rc;
}

/* The model, its feeds (--inputs, -i) and the upstream gradients (--seeds
 * DIR and NAME=FILE specs), each seed checked against its output. *g and
 * the lists are the caller's to free, also on failure. */
static int load_model_inputs(grad_args *a, og_graph **g, cli_feeds *in, cli_feeds *seeds)
{
    og_status st = og_model_load_file(a->model, g);
    int rc = st ? cli_fail_og(st) : load_model_feeds(a, *g, in);
    if (!rc && a->seeds_dir)
        rc = load_seed_dir(a->seeds_dir, seeds);
    for (int k = 0; !rc && k < a->seed_specs.n; k++)
        rc = cli_load_named_input(a->seed_specs.v[k], seeds);
    for (int k = 0; !rc && k < seeds->n; k++)
        rc = check_seed(a->model, *g, seeds->t[k]);
    return rc;
}

static int grad_run(const grad_args *a, const og_graph *g, const cli_feeds *in, const cli_feeds *seeds)
{

    const char **seeded = calloc((size_t)seeds->n + 1, sizeof *seeded);
    og_tensor **grads = NULL;
    int n_wrt = 0, rc = EXIT_FAIL;
    og_status st;
    if (!seeded)
        return cli_fail("out of memory");
    for (int k = 0; k < seeds->n; k++)
        seeded[k] = seeds->t[k]->name;
    og_grad_options o = { .loss = a->loss, .n_seeded = seeds->n, .seeded = seeded,
                          .n_wrt = a->wrt.n, .wrt = a->wrt.v, .allow_unused = a->allow_unused };
    if ((st = og_grad_wrt_count(g, &o, &n_wrt))) {
        rc = cli_fail_og_in(a->model, st);
        goto done;
    }
    if (!(grads = calloc((size_t)n_wrt + 1, sizeof *grads))) {
        rc = cli_fail("out of memory");
        goto done;
    }
    if ((st = og_gradients(g, &o, in->n, (const og_tensor *const *)in->t, (const og_tensor *const *)seeds->t,
                           grads))) {
        rc = cli_fail_og_in(a->model, st);
        goto done;
    }
    if ((rc = cli_save_tensors(a->out, "grad_", n_wrt, grads)))
        goto done;
    if (a->json) {
        json_writer w;
        json_init(&w, stdout);
        json_begin_object(&w);
        json_key_string(&w, "model", a->model);
        json_key_string(&w, "output_dir", a->out);
        json_key(&w, "gradients");
        json_begin_array(&w);
        for (int k = 0; k < n_wrt; k++) {
            char file[1100];
            cli_result_file(file, sizeof file, "grad_", k, grads);
            cli_json_tensor(&w, grads[k], file);
        }
        json_end_array(&w);
        json_end_object(&w);
    }
done:
    for (int k = 0; grads && k < n_wrt; k++)
        og_tensor_free(grads[k]);
    free(grads);
    free(seeded);
    return rc;
}

int cmd_grad(int argc, char **argv)
{
    grad_args a = { .cmd = "grad" };
    int rc = parse_args(argc, argv, GRAD_OPTS, &a);
    if (rc || a.help)
        goto done;
    bool seeding = a.seeds_dir || a.seed_specs.n > 0;
    if (!a.out)
        rc = cli_usage_error(a.cmd, "missing -o OUTDIR");
    else if (a.loss && seeding)
        rc = cli_usage_error(a.cmd, "--loss cannot be combined with --seeds or --seed");
    else if (!a.loss && !seeding)
        rc = cli_usage_error(a.cmd, "name what to differentiate: --loss NAME, --seeds DIR or --seed NAME=FILE.pb");
    if (rc)
        goto done;

    if ((rc = cli_prepare_output_dir(a.out, a.force)))
        goto done;

    og_graph *g = NULL;
    cli_feeds in = { 0 }, seeds = { 0 };
    rc = load_model_inputs(&a, &g, &in, &seeds);
    if (!rc) {
        og_profiler *prof = cli_trace_begin(a.trace);
        rc = cli_trace_end(prof, a.trace, grad_run(&a, g, &in, &seeds));
    }
    cli_feeds_free(&in);
    cli_feeds_free(&seeds);
    og_graph_free(g);
done:
    args_free(&a);
    return rc;
}

/* ---- gradient-graph ----------------------------------------------------- */

/* Node counts per op type of a graph, in order of first appearance. */
typedef struct op_count {
    const char *op;
    int before, after;
} op_count;

static int count_ops(const og_graph *g, op_count *c, int n, int cap, bool after)
{
    for (int k = 0; k < og_graph_num_nodes(g); k++) {
        const char *op, *name;
        if (og_graph_node(g, k, &op, &name))
            continue;
        int j = 0;
        while (j < n && strcmp(c[j].op, op))
            j++;
        if (j == n) {
            if (n == cap)
                continue;
            c[n++] = (op_count){ op, 0, 0 };
        }
        if (after)
            c[j].after++;
        else
            c[j].before++;
    }
    return n;
}

/* What was written: with --simplify the op counts before and after (text
 * or --json); without, --json only. */
static void print_graph_summary(const grad_args *a, const og_graph *gg, const og_graph *simple)
{
    enum { CAP = 256 };
    op_count c[CAP];
    int n = count_ops(gg, c, 0, CAP, false);
    if (simple)
        n = count_ops(simple, c, n, CAP, true);
    int nodes = og_graph_num_nodes(gg), nodes_after = simple ? og_graph_num_nodes(simple) : nodes;
    if (a->json) {
        json_writer w;
        json_init(&w, stdout);
        json_begin_object(&w);
        json_key_string(&w, "model", a->model);
        json_key_string(&w, "output", a->out);
        json_key_int(&w, "nodes", nodes_after);
        json_key_bool(&w, "simplified", simple != NULL);
        if (simple) {
            json_key_int(&w, "nodes_before", nodes);
            json_key(&w, "ops");
            json_begin_object(&w);
            for (int k = 0; k < n; k++) {
                json_key(&w, c[k].op);
                json_begin_object(&w);
                json_key_int(&w, "before", c[k].before);
                json_key_int(&w, "after", c[k].after);
                json_end_object(&w);
            }
            json_end_object(&w);
        }
        json_end_object(&w);
        return;
    }
    if (!simple)
        return;
    printf("simplified %s: %d nodes before, %d after\n", a->out, nodes, nodes_after);
    for (int k = 0; k < n; k++)
        if (c[k].before != c[k].after)
            printf("  %-24s %5d -> %d\n", c[k].op, c[k].before, c[k].after);
}

int cmd_gradient_graph(int argc, char **argv)
{
    grad_args a = { .cmd = "gradient-graph" };
    int rc = parse_args(argc, argv, GRAPH_OPTS, &a);
    if (rc || a.help)
        goto done;
    if (!a.out)
        rc = cli_usage_error(a.cmd, "missing -o OUT.onnx");
    else if (a.loss && a.seeded.n > 0)
        rc = cli_usage_error(a.cmd, "--loss cannot be combined with --seed-inputs");
    else if (!a.loss && a.seeded.n == 0)
        rc = cli_usage_error(a.cmd, "name what to differentiate: --loss NAME or --seed-inputs NAME,NAME...");
    if (rc)
        goto done;

    og_graph *g = NULL, *gg = NULL, *simple = NULL;
    og_grad_options o = { .loss = a.loss, .n_seeded = a.seeded.n, .seeded = a.seeded.v,
                          .n_wrt = a.wrt.n, .wrt = a.wrt.v, .allow_unused = a.allow_unused };
    og_status st = og_model_load_file(a.model, &g);
    if (st)
        rc = cli_fail_og(st);
    else if ((rc = cli_apply_shape_overrides(g, a.model)))
        ;
    else if ((st = og_graph_build_gradient(g, &o, &gg)))
        rc = cli_fail_og_in(a.model, st);
    else if (a.simplify && (st = og_graph_simplify(gg, &simple)))
        rc = cli_fail_og_in(a.model, st);
    else if ((st = og_model_save_file(simple ? simple : gg, a.out)))
        rc = cli_fail_og(st);
    if (!rc)
        print_graph_summary(&a, gg, simple);
    og_graph_free(simple);
    og_graph_free(gg);
    og_graph_free(g);
done:
    args_free(&a);
    return rc;
}

/* ---- gradcheck: progress ------------------------------------------------ */

/* Progress appears only once a check has run PROGRESS_AFTER seconds, so
 * quick checks keep stderr empty: on a terminal as one rewritten line, else
 * as a line every PROGRESS_EVERY seconds. */
#define PROGRESS_AFTER 2.0
#define PROGRESS_EVERY 10.0

typedef struct progress_state {
    struct timespec start;
    double next;              /* seconds since start of the next report */
    bool tty, shown;
} progress_state;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void on_progress(void *user, int64_t done, int64_t total)
{
    progress_state *p = user;
    double t = seconds_since(&p->start);
    if (t < p->next)
        return;
    char eta[64] = "";
    if (done > 0 && total > done)
        snprintf(eta, sizeof eta, ", about %.0f s left", t / (double)done * (double)(total - done));
    fprintf(stderr, "%sonnxgrad: gradcheck: %" PRId64 " of %" PRId64 " finite differences (%d%%), %.0f s%s%s",
            p->tty ? "\r" : "", done, total, total > 0 ? (int)(100 * done / total) : 0, t, eta,
            p->tty ? "\033[K" : "\n");
    fflush(stderr);
    p->next = t + (p->tty ? 0.25 : PROGRESS_EVERY);
    p->shown = true;
}

static void progress_end(progress_state *p)
{
    if (p->shown && p->tty)
        fputs("\r\033[K", stderr);   /* erase the progress line */
}

/* ---- gradcheck: report -------------------------------------------------- */

/* The dims of a checked tensor, for printing a flat index as a multi-index:
 * the model's declared dims, one unknown dim completed from numel. Order-2
 * checks also differentiate the seeds "<output>_grad", which have the dims
 * of their output. Returns the rank, or -1 when the dims cannot be known. */
static int tensor_dims(const og_graph *g, const char *name, int64_t numel, int64_t *dims)
{
    og_value_info vi;
    if (og_graph_value(g, name, &vi) != OG_OK) {
        size_t n = strlen(name);
        char base[1024];
        if (n <= 5 || n - 5 >= sizeof base || strcmp(name + n - 5, "_grad"))
            return -1;
        memcpy(base, name, n - 5);
        base[n - 5] = '\0';
        if (og_graph_value(g, base, &vi) != OG_OK)
            return -1;
    }
    if (vi.rank < 0)
        return -1;
    int unknown = -1;
    int64_t known = 1;
    for (int d = 0; d < vi.rank; d++) {
        dims[d] = vi.dims[d];
        if (dims[d] >= 0)
            known *= dims[d];
        else if (unknown >= 0)
            return -1;
        else
            unknown = d;
    }
    if (unknown >= 0) {
        if (known <= 0 || numel % known)
            return -1;
        dims[unknown] = numel / known;
    } else if (known != numel) {
        return -1;
    }
    return vi.rank;
}

/* The multi-index of flat index `flat` (row-major) of a tensor with dims. */
static void unravel(int64_t flat, int rank, const int64_t *dims, int64_t *idx)
{
    for (int d = rank - 1; d >= 0; d--) {
        idx[d] = dims[d] > 0 ? flat % dims[d] : 0;
        flat = dims[d] > 0 ? flat / dims[d] : 0;
    }
}

/* "[i,j,k]" for flat index i of a tensor with these dims (rank from
 * tensor_dims), else "[i] (flat)". */
static void format_index(char *buf, size_t size, int rank, const int64_t *dims, int64_t flat)
{
    if (rank < 0) {
        snprintf(buf, size, "[%" PRId64 "] (flat)", flat);
        return;
    }
    int64_t idx[OG_MAX_RANK];
    unravel(flat, rank, dims, idx);
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < rank && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, d ? ",%" PRId64 : "%" PRId64, idx[d]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* The --json report: one JSON object (json.c: non-finite numbers are
 * null; so are the fields of a tensor with no element checked). */
static void print_json(const grad_args *a, const og_graph *g, const og_gradcheck_report *r, int n_failed,
                       const char *hint)
{
    json_writer w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_key_string(&w, "model", a->model);
    json_key_int(&w, "order", a->order);
    json_key_number(&w, "eps", a->eps);
    json_key_number(&w, "atol", a->atol);
    json_key_number(&w, "rtol", a->rtol);
    json_key_bool(&w, "fast", a->fast);
    json_key(&w, "rng_seed");
    json_uint(&w, a->seed);
    json_key(&w, "max_elements");
    if (a->max_elements > 0)
        json_int(&w, a->max_elements);
    else
        json_null(&w);
    json_key_bool(&w, "pass", r->pass && !r->interrupted);
    json_key_bool(&w, "interrupted", r->interrupted);
    json_key(&w, "hint");
    if (hint[0])
        json_string(&w, hint);
    else
        json_null(&w);
    json_key_int(&w, "tensors_checked", r->n);
    json_key_int(&w, "tensors_failed", n_failed);
    json_key(&w, "tensors");
    json_begin_array(&w);
    for (int k = 0; k < r->n; k++) {
        const og_gradcheck_entry *e = &r->entries[k];
        int64_t dims[OG_MAX_RANK];
        int rank = tensor_dims(g, e->name, e->numel, dims);
        bool worst = e->checked && e->worst_index >= 0;
        json_begin_object(&w);
        json_key_string(&w, "name", e->name);
        json_key(&w, "shape");
        if (rank >= 0)
            json_int_array(&w, rank, dims);
        else
            json_null(&w);
        json_key_int(&w, "numel", e->numel);
        json_key_int(&w, "checked", e->checked);
        json_key_number(&w, "max_abs_err", e->checked ? e->max_abs_err : 0);
        json_key_number(&w, "max_rel_err", e->checked ? e->max_rel_err : 0);
        json_key(&w, "worst_index");
        if (worst && rank >= 0) {
            int64_t idx[OG_MAX_RANK];
            unravel(e->worst_index, rank, dims, idx);
            json_int_array(&w, rank, idx);
        } else {
            json_null(&w);
        }
        json_key(&w, "worst_flat_index");
        if (worst)
            json_int(&w, e->worst_index);
        else
            json_null(&w);
        json_key_number(&w, "analytic", e->checked ? e->worst_analytic : NAN);
        json_key_number(&w, "numeric", e->checked ? e->worst_numeric : NAN);
        json_key_bool(&w, "pass", e->pass);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_end_object(&w);
}

static void print_text(const grad_args *a, const og_graph *g, const og_gradcheck_report *r, int n_failed)
{
    printf("gradcheck %s: order %d, eps %g, atol %g, rtol %g, rng-seed %" PRIu64 "%s", a->model, a->order, a->eps,
           a->atol, a->rtol, a->seed, a->fast ? ", fast" : "");
    if (a->max_elements > 0 && !a->fast)
        printf(", at most %" PRId64 " elements per tensor", a->max_elements);
    putchar('\n');
    int64_t compared = 0;
    for (int k = 0; k < r->n; k++) {
        const og_gradcheck_entry *e = &r->entries[k];
        const char *verdict = e->pass ? "PASS" : "FAIL";
        compared += e->checked;
        if (e->checked == 0) {
            printf("  %s: 0/%" PRId64 " elements  %s\n", e->name, e->numel, verdict);
            continue;
        }
        if (a->fast) {
            printf("  %s: %" PRId64 " random projection of %" PRId64 " elements, abs error %.3g, rel error %.3g, "
                   "analytic %.9g numeric %.9g  %s\n", e->name, e->checked, e->numel, e->max_abs_err,
                   e->max_rel_err, e->worst_analytic, e->worst_numeric, verdict);
            continue;
        }
        int64_t dims[OG_MAX_RANK];
        char idx[1024];
        format_index(idx, sizeof idx, tensor_dims(g, e->name, e->numel, dims), dims, e->worst_index);
        printf("  %s: %" PRId64 "/%" PRId64 " elements, max abs error %.3g, max rel error %.3g, worst %s "
               "analytic %.9g numeric %.9g  %s\n", e->name, e->checked, e->numel, e->max_abs_err, e->max_rel_err,
               idx, e->worst_analytic, e->worst_numeric, verdict);
    }
    if (r->interrupted)
        printf("INTERRUPTED: %d tensors begun, %d failed so far, %" PRId64 " of %" PRId64 " %s compared\n", r->n,
               n_failed, compared, r->total, a->fast ? "projections" : "elements");
    else if (r->pass)
        printf("PASS: %d of %d tensors passed, %" PRId64 " %s compared\n", r->n, r->n, compared,
               a->fast ? "projections" : "elements");
    else
        printf("FAIL: %d of %d tensors failed, %" PRId64 " %s compared\n", n_failed, r->n, compared,
               a->fast ? "projections" : "elements");
}

/* ---- gradcheck ---------------------------------------------------------- */

/* Ctrl-C during a check: the report so far, then exit 130. */
static volatile int interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    signal(SIGINT, SIG_DFL);   /* a second Ctrl-C ends the program at once */
}

/* Ops whose derivative jumps at a kink or a tie: a finite difference that
 * straddles one disagrees with the subgradient the backward rule picks. */
static const char *const KINKED_OPS[] = {
    "Relu", "LeakyRelu", "PRelu", "Clip", "Abs", "MaxPool", "GlobalMaxPool", "Max", "Min", "ReduceMax",
    "ReduceMin", "HardSigmoid", "HardSwish", "Shrink", "ReduceL1", "Sign", "Floor", "Ceil", "Round", NULL,
};

/* On FAIL: which kinked ops lie between the checked tensors and the
 * outputs (og_model_check's path), as one hint sentence in buf ("" when
 * none does). */
static void kink_hint(const grad_args *a, og_graph *g, char *buf, size_t size)
{
    buf[0] = '\0';
    og_check_options co = { .n_wrt = a->wrt.n, .wrt = a->wrt.v };
    og_check_report *r = NULL;
    if (og_model_check(g, &co, &r) != OG_OK)
        return;
    char list[512] = "";
    size_t n = 0;
    for (int k = 0; k < r->n_ops && n < sizeof list - 64; k++) {
        const og_check_op *op = &r->ops[k];
        bool kinked = false;
        for (int j = 0; KINKED_OPS[j] && !kinked; j++)
            kinked = op->domain[0] == '\0' && strcmp(op->op_type, KINKED_OPS[j]) == 0;
        if (kinked && op->on_path > 0)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s (%d node%s)", n ? ", " : "", op->op_type,
                                  op->on_path, op->on_path == 1 ? "" : "s");
    }
    og_check_report_free(r);
    if (n)
        snprintf(buf, size, "%s on the path %s not differentiable at a kink or a tie; a finite difference that "
                 "crosses one (an input within --eps of a Relu's 0, a MaxPool tie, a Clip bound) disagrees with "
                 "the subgradient. Try another --rng-seed, a smaller --eps, or --inputs away from the kinks",
                 list, strchr(list, ',') ? "are" : "is");
}

static int gradcheck_run(const grad_args *a, og_graph *g, const cli_feeds *in, const cli_feeds *seeds)
{
    progress_state prog = { .next = PROGRESS_AFTER, .tty = isatty(STDERR_FILENO) != 0 };
    clock_gettime(CLOCK_MONOTONIC, &prog.start);
    /* The library reads a tolerance of 0 as "the default"; an explicit 0
     * asks for exact agreement, which the smallest positive double gives. */
    og_gradcheck_options o = {
        .n_wrt = a->wrt.n, .wrt = a->wrt.v, .order = a->order, .eps = a->eps,
        .atol = a->atol > 0 ? a->atol : DBL_TRUE_MIN, .rtol = a->rtol > 0 ? a->rtol : DBL_TRUE_MIN,
        .fast = a->fast, .seed = a->seed, .max_elements = a->max_elements,
        .n_inputs = in->n, .inputs = (const og_tensor *const *)in->t,
        .progress = on_progress, .user = &prog,
        .n_seeds = seeds->n, .seeds = (const og_tensor *const *)seeds->t, .interrupt = &interrupted,
    };
    og_gradcheck_report *r = NULL;
    interrupted = 0;
    void (*old_handler)(int) = signal(SIGINT, on_sigint);
    og_status st = og_gradcheck(g, &o, &r);
    signal(SIGINT, old_handler == SIG_ERR ? SIG_DFL : old_handler);
    progress_end(&prog);
    if (st)
        return cli_fail_og_in(a->model, st);
    int n_failed = 0;
    for (int k = 0; k < r->n; k++)
        n_failed += !r->entries[k].pass;
    char hint[1024] = "";
    if (!r->pass && !r->interrupted)
        kink_hint(a, g, hint, sizeof hint);
    if (a->json) {
        print_json(a, g, r, n_failed, hint);
        cli_json_printed();   /* the report says pass: false */
    } else {
        print_text(a, g, r, n_failed);
    }
    if (!a->json && hint[0])
        printf("hint: %s\n", hint);
    fflush(stdout);
    int rc;
    if (r->interrupted) {
        cli_fail("interrupted after %" PRId64 " of %" PRId64 " finite differences; the report above is partial",
                 r->done, r->total);
        rc = 130;
    } else if (r->pass) {
        rc = EXIT_OK;
    } else {
        rc = cli_fail("gradcheck failed: %d of %d tensors do not match their finite differences", n_failed, r->n);
    }
    og_gradcheck_report_free(r);
    return rc;
}

int cmd_gradcheck(int argc, char **argv)
{
    /* The library's defaults, spelled out so the report can print them. */
    grad_args a = { .cmd = "gradcheck", .order = 1, .eps = 1e-6, .atol = 1e-5, .rtol = 1e-3 };
    int rc = parse_args(argc, argv, CHECK_OPTS, &a);
    if (rc || a.help)
        goto done;
    og_graph *g = NULL;
    cli_feeds in = { 0 }, seeds = { 0 };
    rc = load_model_inputs(&a, &g, &in, &seeds);
    if (!rc)
        rc = gradcheck_run(&a, g, &in, &seeds);
    cli_feeds_free(&in);
    cli_feeds_free(&seeds);
    og_graph_free(g);
done:
    args_free(&a);
    return rc;
}
