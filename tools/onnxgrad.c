/* onnxgrad.c — the `onnxgrad` command-line tool.
 *
 *     onnxgrad convert IN.onnx -o OUT.onnx
 *     onnxgrad info MODEL.onnx
 *     onnxgrad run MODEL.onnx [--inputs DIR] [-i NAME=FILE.pb]... -o OUTDIR
 *     onnxgrad grad | gradient-graph | gradcheck ...   (grad_cmds.c)
 *
 * Uses only the public API. Exit status: 0 success, 1 failure (one line on
 * stderr: "onnxgrad: <message>"), 2 usage error. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "grad_cmds.h"

/* ---- help --------------------------------------------------------------- */

static const char HELP_MAIN[] =
    "usage: onnxgrad <command> [options]\n"
    "\n"
    "An ONNX-compatible graph runtime with reverse-mode autodiff.\n"
    "\n"
    "commands:\n"
    "  convert         load, validate and infer shapes, then save a model\n"
    "  info            print a model's opsets, inputs, outputs, initializers and ops\n"
    "  run             run a model on TensorProto (.pb) inputs\n"
    "  grad            compute gradients of a model's outputs, as .pb files\n"
    "  gradient-graph  save the gradient graph (forward + backward) as ONNX\n"
    "  gradcheck       compare the gradients with finite differences\n"
    "  help            show help for a command\n"
    "\n"
    "options:\n"
    "  -h, --help      show this help\n"
    "  --version       print the version\n"
    "  --threads N     (with any command) run kernels on N threads (default:\n"
    "                  OG_NUM_THREADS, else every core); results do not depend on N\n"
    "\n"
    "Run 'onnxgrad <command> --help' for a command's options.\n";

static const char HELP_CONVERT[] =
    "usage: onnxgrad convert IN.onnx -o OUT.onnx\n"
    "\n"
    "Loads IN.onnx (validating it and inferring every shape) and saves it to\n"
    "OUT.onnx with the inferred shapes written as value_info.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   the model to write (required)\n"
    "  -h, --help          show this help\n";

static const char HELP_INFO[] =
    "usage: onnxgrad info MODEL.onnx\n"
    "\n"
    "Prints the opset imports, graph inputs and outputs with dtypes and\n"
    "shapes (symbolic dims by name, unknown dims as ?), the initializers, and\n"
    "the number of nodes of each op type.\n"
    "\n"
    "options:\n"
    "  -h, --help   show this help\n";

static const char HELP_RUN[] =
    "usage: onnxgrad run MODEL.onnx [--inputs DIR] [-i NAME=FILE.pb]... -o OUTDIR\n"
    "\n"
    "Runs MODEL.onnx and writes OUTDIR/output_<k>.pb, one TensorProto per graph\n"
    "output in graph-output order, named after the output. OUTDIR is created\n"
    "if missing.\n"
    "\n"
    "options:\n"
    "  --inputs DIR          read DIR/input_0.pb, input_1.pb, ... (as in ONNX test\n"
    "                        data sets); each binds to the graph input named in\n"
    "                        the TensorProto, or by position when unnamed\n"
    "  -i, --input NAME=FILE bind the TensorProto in FILE to the input NAME\n"
    "                        (repeatable; replaces a --inputs tensor of that name)\n"
    "  -o, --output DIR      the directory to write outputs to (required)\n"
    "  -h, --help            show this help\n";

static const char *help_for(const char *cmd)
{
    if (!cmd)
        return HELP_MAIN;
    if (!strcmp(cmd, "convert"))
        return HELP_CONVERT;
    if (!strcmp(cmd, "info"))
        return HELP_INFO;
    if (!strcmp(cmd, "run"))
        return HELP_RUN;
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

static int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (cli_is_help(a)) {
            fputs(HELP_CONVERT, stdout);
            return EXIT_OK;
        }
        int r = cli_opt_value(argc, argv, &k, "-o", "--output", &out);
        if (r < 0)
            return cli_usage_error("convert", "option '%s' needs a value", a);
        if (r > 0)
            continue;
        if (a[0] == '-' && a[1])
            return cli_usage_error("convert", "unknown option '%s'", a);
        if (in)
            return cli_usage_error("convert", "unexpected argument '%s'", a);
        in = a;
    }
    if (!in)
        return cli_usage_error("convert", "missing the input model");
    if (!out)
        return cli_usage_error("convert", "missing -o OUT.onnx");

    og_graph *g = NULL;
    og_status st = og_model_load_file(in, &g);
    if (st == OG_OK)
        st = og_model_save_file(g, out);
    int rc = st == OG_OK ? EXIT_OK : cli_fail_og(st);
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

static int print_info(const og_graph *g, const char *path)
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
        printf("  %s: %d\n", ops[k].op, j - k);
        k = j;
    }
    free(ops);
    return EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
    const char *in = NULL;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (cli_is_help(a)) {
            fputs(HELP_INFO, stdout);
            return EXIT_OK;
        }
        if (a[0] == '-' && a[1])
            return cli_usage_error("info", "unknown option '%s'", a);
        if (in)
            return cli_usage_error("info", "unexpected argument '%s'", a);
        in = a;
    }
    if (!in)
        return cli_usage_error("info", "missing the model");

    og_graph *g = NULL;
    og_status st = og_model_load_file(in, &g);
    if (st)
        return cli_fail_og(st);
    int rc = print_info(g, in);
    og_graph_free(g);
    return rc;
}

/* ---- run ---------------------------------------------------------------- */

static int run_model(const char *model, const char *outdir, cli_feeds *f)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_tensor **outs = NULL;
    int n_out = 0, rc = EXIT_FAIL;
    og_status st;

    if ((st = og_model_load_file(model, &g))) {
        rc = cli_fail_og(st);
        goto done;
    }
    if ((st = og_plan_create(g, &p))) {
        rc = cli_fail_og_in(model, st);
        goto done;
    }
    n_out = og_graph_num_outputs(g);
    outs = calloc(n_out > 0 ? (size_t)n_out : 1, sizeof *outs);
    if (!outs) {
        rc = cli_fail("out of memory");
        goto done;
    }
    if ((st = og_plan_run(p, f->n, (const og_tensor *const *)f->t, outs))) {
        rc = cli_fail_og_in(model, st);
        goto done;
    }
    if (cli_save_tensors(outdir, "output_", n_out, outs))
        goto done;
    rc = EXIT_OK;
done:
    for (int k = 0; outs && k < n_out; k++)
        og_tensor_free(outs[k]);
    free(outs);
    og_plan_free(p);
    og_graph_free(g);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    const char *model = NULL, *outdir = NULL, *indir = NULL;
    /* -i specs are kept as argv pointers and loaded after --inputs. */
    const char **specs = calloc((size_t)argc, sizeof *specs);
    int n_specs = 0;
    if (!specs)
        return cli_fail("out of memory");

    int rc = EXIT_OK;
    for (int k = 1; k < argc && rc == EXIT_OK; k++) {
        const char *a = argv[k], *v;
        int r;
        if (cli_is_help(a)) {
            fputs(HELP_RUN, stdout);
            free(specs);
            return EXIT_OK;
        }
        if ((r = cli_opt_value(argc, argv, &k, "-o", "--output", &v)) != 0) {
            if (r < 0)
                rc = cli_usage_error("run", "option '%s' needs a value", a);
            else
                outdir = v;
        } else if ((r = cli_opt_value(argc, argv, &k, NULL, "--inputs", &v)) != 0) {
            if (r < 0)
                rc = cli_usage_error("run", "option '%s' needs a value", a);
            else if (indir)
                rc = cli_usage_error("run", "--inputs given twice");
            else
                indir = v;
        } else if ((r = cli_opt_value(argc, argv, &k, "-i", "--input", &v)) != 0) {
            if (r < 0)
                rc = cli_usage_error("run", "option '%s' needs a value", a);
            else if (!strchr(v, '=') || v[0] == '=')
                rc = cli_usage_error("run", "-i expects NAME=FILE.pb, got '%s'", v);
            else
                specs[n_specs++] = v;
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error("run", "unknown option '%s'", a);
        } else if (model) {
            rc = cli_usage_error("run", "unexpected argument '%s'", a);
        } else {
            model = a;
        }
    }
    if (rc == EXIT_OK && !model)
        rc = cli_usage_error("run", "missing the model");
    if (rc == EXIT_OK && !outdir)
        rc = cli_usage_error("run", "missing -o OUTDIR");

    cli_feeds f = {0};
    if (rc == EXIT_OK)
        rc = cli_load_feeds(indir, n_specs, specs, &f);
    if (rc == EXIT_OK)
        rc = run_model(model, outdir, &f);
    cli_feeds_free(&f);
    free(specs);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

/* --threads N (or --threads=N) anywhere after the command: taken out of
 * argv and passed to every plan through OG_NUM_THREADS. */
static int take_threads_option(int *argc, char **argv)
{
    for (int k = 2; k < *argc; k++) {
        const char *v = NULL;
        int used = 1;
        if (!strcmp(argv[k], "--threads")) {
            if (k + 1 >= *argc)
                return cli_usage_error(argv[1], "option '--threads' needs a value");
            v = argv[k + 1];
            used = 2;
        } else if (!strncmp(argv[k], "--threads=", 10)) {
            v = argv[k] + 10;
        } else {
            continue;
        }
        char *end;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 1 || n > 64)
            return cli_usage_error(argv[1], "--threads '%s': expected a whole number from 1 to 64", v);
        setenv("OG_NUM_THREADS", v, 1);
        memmove(&argv[k], &argv[k + used], sizeof *argv * (size_t)(*argc - k - used + 1));
        *argc -= used;
        k--;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    int trc = take_threads_option(&argc, argv);
    if (trc != EXIT_OK)
        return trc;
    if (argc < 2)
        return cli_usage_error(NULL, "missing command");
    const char *cmd = argv[1];
    if (cli_is_help(cmd)) {
        fputs(HELP_MAIN, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("onnxgrad %s\n", OG_VERSION_STRING);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (argc > 3)
            return cli_usage_error("help", "unexpected argument '%s'", argv[3]);
        const char *h = help_for(argc > 2 ? argv[2] : NULL);
        if (!h)
            return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        fputs(h, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "convert"))
        return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "grad"))
        return cmd_grad(argc - 1, argv + 1);
    if (!strcmp(cmd, "gradient-graph"))
        return cmd_gradient_graph(argc - 1, argv + 1);
    if (!strcmp(cmd, "gradcheck"))
        return cmd_gradcheck(argc - 1, argv + 1);
    if (cmd[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", cmd);
    return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
