/* onnxgrad.c — the `onnxgrad` command-line tool.
 *
 *     onnxgrad convert IN.onnx -o OUT.onnx
 *     onnxgrad info MODEL.onnx
 *     onnxgrad run MODEL.onnx [--inputs DIR] [-i NAME=FILE.pb]... -o OUTDIR
 *
 * Uses only the public API. Exit status: 0 success, 1 failure (one line on
 * stderr: "onnxgrad: <message>"), 2 usage error. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "onnxgrad/onnxgrad.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* ---- messages ----------------------------------------------------------- */

/* Prints `prefix` + `msg` as one line: a message with embedded newlines
 * would break scripts that read the first stderr line. */
static void print_line(FILE *f, const char *prefix, const char *msg)
{
    fputs(prefix, f);
    for (const char *c = msg; *c; c++)
        fputc(*c == '\n' || *c == '\r' ? ' ' : *c, f);
    fputc('\n', f);
}

/* Reports the library's last error; returns EXIT_FAIL. */
static int fail_og(og_status st)
{
    const char *msg = og_errmsg();
    print_line(stderr, "onnxgrad: ", msg && *msg ? msg : og_status_name(st));
    return EXIT_FAIL;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_line(stderr, "onnxgrad: ", msg);
    return EXIT_FAIL;
}

/* `cmd` is the subcommand whose help to point at (NULL: the top level). */
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "onnxgrad: %s (see 'onnxgrad %s%s--help')\n", msg, cmd ? cmd : "",
            cmd ? " " : "");
    return EXIT_USAGE;
}

/* ---- help --------------------------------------------------------------- */

static const char HELP_MAIN[] =
    "usage: onnxgrad <command> [options]\n"
    "\n"
    "An ONNX-compatible graph runtime.\n"
    "\n"
    "commands:\n"
    "  convert   load, validate and infer shapes, then save a model\n"
    "  info      print a model's opsets, inputs, outputs, initializers and ops\n"
    "  run       run a model on TensorProto (.pb) inputs\n"
    "  help      show help for a command\n"
    "\n"
    "options:\n"
    "  -h, --help     show this help\n"
    "  --version      print the version\n"
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
    return NULL;
}

static int is_help(const char *a)
{
    return !strcmp(a, "-h") || !strcmp(a, "--help");
}

/* ---- option parsing ----------------------------------------------------- */

/* Matches argv[*k] against "-s VALUE", "--long VALUE" or "--long=VALUE"
 * (short may be NULL). Returns 1 and sets *val (advancing *k past a
 * separate value), 0 if argv[*k] is another option, -1 if the value is
 * missing. */
static int opt_value(int argc, char **argv, int *k, const char *s, const char *l, const char **val)
{
    const char *a = argv[*k];
    size_t n = strlen(l);
    if (!strncmp(a, l, n) && a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if ((s && !strcmp(a, s)) || !strcmp(a, l)) {
        if (*k + 1 >= argc)
            return -1;
        *val = argv[++*k];
        return 1;
    }
    return 0;
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
        if (is_help(a)) {
            fputs(HELP_CONVERT, stdout);
            return EXIT_OK;
        }
        int r = opt_value(argc, argv, &k, "-o", "--output", &out);
        if (r < 0)
            return usage_error("convert", "option '%s' needs a value", a);
        if (r > 0)
            continue;
        if (a[0] == '-' && a[1])
            return usage_error("convert", "unknown option '%s'", a);
        if (in)
            return usage_error("convert", "unexpected argument '%s'", a);
        in = a;
    }
    if (!in)
        return usage_error("convert", "missing the input model");
    if (!out)
        return usage_error("convert", "missing -o OUT.onnx");

    og_graph *g = NULL;
    og_status st = og_model_load_file(in, &g);
    if (st == OG_OK)
        st = og_model_save_file(g, out);
    int rc = st == OG_OK ? EXIT_OK : fail_og(st);
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
            return fail_og(st);
        printf("  %s %lld\n", domain && *domain ? domain : "ai.onnx", (long long)version);
    }

    og_value_info vi;
    printf("inputs:\n");
    for (int k = 0; k < og_graph_num_inputs(g); k++) {
        if ((st = og_graph_input(g, k, &vi)))
            return fail_og(st);
        print_value(&vi);
    }
    printf("outputs:\n");
    for (int k = 0; k < og_graph_num_outputs(g); k++) {
        if ((st = og_graph_output(g, k, &vi)))
            return fail_og(st);
        print_value(&vi);
    }

    int n_init = og_graph_num_initializers(g);
    printf("initializers: %d\n", n_init);
    for (int k = 0; k < n_init; k++) {
        const og_tensor *t;
        if ((st = og_graph_initializer(g, k, &t)))
            return fail_og(st);
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
        return fail("out of memory");
    for (int k = 0; k < n_nodes; k++) {
        const char *name;
        if ((st = og_graph_node(g, k, &ops[k].op, &name))) {
            free(ops);
            return fail_og(st);
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
        if (is_help(a)) {
            fputs(HELP_INFO, stdout);
            return EXIT_OK;
        }
        if (a[0] == '-' && a[1])
            return usage_error("info", "unknown option '%s'", a);
        if (in)
            return usage_error("info", "unexpected argument '%s'", a);
        in = a;
    }
    if (!in)
        return usage_error("info", "missing the model");

    og_graph *g = NULL;
    og_status st = og_model_load_file(in, &g);
    if (st)
        return fail_og(st);
    int rc = print_info(g, in);
    og_graph_free(g);
    return rc;
}

/* ---- run ---------------------------------------------------------------- */

/* The input tensors collected from --inputs and -i, in binding order. */
typedef struct feeds {
    og_tensor **t;
    int n, cap;
} feeds;

static void feeds_free(feeds *f)
{
    for (int k = 0; k < f->n; k++)
        og_tensor_free(f->t[k]);
    free(f->t);
}

/* Takes ownership of t (freed on failure too). */
static int feeds_push(feeds *f, og_tensor *t)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 8;
        og_tensor **p = realloc(f->t, (size_t)cap * sizeof *p);
        if (!p) {
            og_tensor_free(t);
            return fail("out of memory");
        }
        f->t = p;
        f->cap = cap;
    }
    f->t[f->n++] = t;
    return EXIT_OK;
}

static int path_join(char *buf, size_t size, const char *dir, const char *file)
{
    int n = snprintf(buf, size, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= size)
        return fail("path too long: %s/%s", dir, file);
    return EXIT_OK;
}

/* Loads DIR/input_0.pb, input_1.pb, ... up to the first missing index. */
static int load_input_dir(const char *dir, feeds *f)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return fail("%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return fail("%s: not a directory", dir);
    for (int k = 0;; k++) {
        char file[32], path[4096];
        snprintf(file, sizeof file, "input_%d.pb", k);
        if (path_join(path, sizeof path, dir, file))
            return EXIT_FAIL;
        if (stat(path, &sb) != 0) {
            if (errno == ENOENT)
                return EXIT_OK;
            return fail("%s: %s", path, strerror(errno));
        }
        og_tensor *t;
        og_status st = og_tensor_load_pb(path, &t);
        if (st)
            return fail_og(st);
        if (feeds_push(f, t))
            return EXIT_FAIL;
    }
}

/* Loads one -i NAME=FILE, replacing a tensor of that name from --inputs. */
static int load_named_input(const char *spec, feeds *f)
{
    const char *eq = strchr(spec, '=');
    char name[1024];
    size_t len = (size_t)(eq - spec);
    if (len >= sizeof name)
        return fail("input name too long in '%s'", spec);
    memcpy(name, spec, len);
    name[len] = '\0';

    og_tensor *t;
    og_status st = og_tensor_load_pb(eq + 1, &t);
    if (st == OG_OK)
        st = og_tensor_set_name(t, name);
    if (st) {
        og_tensor_free(t);
        return fail_og(st);
    }
    for (int k = 0; k < f->n; k++) {
        if (f->t[k]->name && !strcmp(f->t[k]->name, name)) {
            og_tensor_free(f->t[k]);
            f->t[k] = t;
            return EXIT_OK;
        }
    }
    return feeds_push(f, t);
}

/* mkdir -p: the caller may name a nested directory that does not exist. */
static int make_dirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n >= sizeof path)
        return fail("path too long: %s", dir);
    memcpy(path, dir, n + 1);
    for (size_t k = 1; k <= n; k++) {
        if (path[k] != '/' && path[k] != '\0')
            continue;
        char c = path[k];
        path[k] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return fail("cannot create %s: %s", path, strerror(errno));
        path[k] = c;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fail("%s: not a directory", dir);
    return EXIT_OK;
}

static int run_model(const char *model, const char *outdir, feeds *f)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_tensor **outs = NULL;
    int n_out = 0, rc = EXIT_FAIL;
    og_status st;

    if ((st = og_model_load_file(model, &g))) {
        rc = fail_og(st);
        goto done;
    }
    if ((st = og_plan_create(g, &p))) {
        rc = fail("%s: %s", model, og_errmsg());
        goto done;
    }
    n_out = og_graph_num_outputs(g);
    outs = calloc(n_out > 0 ? (size_t)n_out : 1, sizeof *outs);
    if (!outs) {
        rc = fail("out of memory");
        goto done;
    }
    if ((st = og_plan_run(p, f->n, (const og_tensor *const *)f->t, outs))) {
        rc = fail("%s: %s", model, og_errmsg());
        goto done;
    }
    if (make_dirs(outdir))
        goto done;
    for (int k = 0; k < n_out; k++) {
        char file[32], path[4096];
        snprintf(file, sizeof file, "output_%d.pb", k);
        if (path_join(path, sizeof path, outdir, file))
            goto done;
        if ((st = og_tensor_save_pb(outs[k], path))) {
            rc = fail_og(st);
            goto done;
        }
    }
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
    /* -i specs are kept as argv pointers and loaded after --inputs, so
     * "-i" replaces a same-named tensor whatever the option order. */
    const char **specs = calloc((size_t)argc, sizeof *specs);
    int n_specs = 0;
    if (!specs)
        return fail("out of memory");

    int rc = EXIT_OK;
    for (int k = 1; k < argc && rc == EXIT_OK; k++) {
        const char *a = argv[k], *v;
        int r;
        if (is_help(a)) {
            fputs(HELP_RUN, stdout);
            free(specs);
            return EXIT_OK;
        }
        if ((r = opt_value(argc, argv, &k, "-o", "--output", &v)) != 0) {
            if (r < 0)
                rc = usage_error("run", "option '%s' needs a value", a);
            else
                outdir = v;
        } else if ((r = opt_value(argc, argv, &k, NULL, "--inputs", &v)) != 0) {
            if (r < 0)
                rc = usage_error("run", "option '%s' needs a value", a);
            else if (indir)
                rc = usage_error("run", "--inputs given twice");
            else
                indir = v;
        } else if ((r = opt_value(argc, argv, &k, "-i", "--input", &v)) != 0) {
            if (r < 0)
                rc = usage_error("run", "option '%s' needs a value", a);
            else if (!strchr(v, '=') || v[0] == '=')
                rc = usage_error("run", "-i expects NAME=FILE.pb, got '%s'", v);
            else
                specs[n_specs++] = v;
        } else if (a[0] == '-' && a[1]) {
            rc = usage_error("run", "unknown option '%s'", a);
        } else if (model) {
            rc = usage_error("run", "unexpected argument '%s'", a);
        } else {
            model = a;
        }
    }
    if (rc == EXIT_OK && !model)
        rc = usage_error("run", "missing the model");
    if (rc == EXIT_OK && !outdir)
        rc = usage_error("run", "missing -o OUTDIR");

    feeds f = {0};
    if (rc == EXIT_OK && indir)
        rc = load_input_dir(indir, &f);
    for (int k = 0; k < n_specs && rc == EXIT_OK; k++)
        rc = load_named_input(specs[k], &f);
    if (rc == EXIT_OK)
        rc = run_model(model, outdir, &f);
    feeds_free(&f);
    free(specs);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error(NULL, "missing command");
    const char *cmd = argv[1];
    if (is_help(cmd)) {
        fputs(HELP_MAIN, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("onnxgrad %s\n", OG_VERSION_STRING);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (argc > 3)
            return usage_error("help", "unexpected argument '%s'", argv[3]);
        const char *h = help_for(argc > 2 ? argv[2] : NULL);
        if (!h)
            return usage_error(NULL, "unknown command '%s'", argv[2]);
        fputs(h, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "convert"))
        return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (cmd[0] == '-')
        return usage_error(NULL, "unknown option '%s'", cmd);
    return usage_error(NULL, "unknown command '%s'", cmd);
}
