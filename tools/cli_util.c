/* SPDX-License-Identifier: MIT */
/* cli_util.c — messages, the option parser, .pb feeds and directories
 * shared by the `onnxgrad` subcommands (see cli_util.h). */
#define _GNU_SOURCE   /* getopt_long */

#include "cli_util.h"
#include "json.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- messages ----------------------------------------------------------- */

static const char *g_cmd;

void cli_set_command(const char *cmd)
{
    g_cmd = cmd;
}

/* "onnxgrad CMD: " or "onnxgrad: " */
static void prefix(char *buf, size_t size, const char *cmd)
{
    snprintf(buf, size, "onnxgrad%s%s: ", cmd ? " " : "", cmd ? cmd : "");
}

/* A message with embedded newlines would break scripts that read the first
 * stderr line. */
void cli_print_line(FILE *f, const char *pre, const char *msg)
{
    fputs(pre, f);
    for (const char *c = msg; *c; c++)
        fputc(*c == '\n' || *c == '\r' ? ' ' : *c, f);
    fputc('\n', f);
}

static void print_msg(const char *cmd, const char *extra, const char *msg)
{
    char pre[128];
    prefix(pre, sizeof pre, cmd);
    if (extra)
        strncat(pre, extra, sizeof pre - strlen(pre) - 1);
    cli_print_line(stderr, pre, msg);
}

/* --json: failures are also one {"error": ...} object on stdout, the
 * first one only (a failure reported in context is one failure). */
static bool g_json, g_json_said;

void cli_set_json(bool on)
{
    g_json = on;
}

void cli_json_printed(void)
{
    g_json_said = true;
}

bool cli_json_mode(void)
{
    return g_json;
}

static void json_error(const char *status, const char *msg)
{
    if (!g_json || g_json_said)
        return;
    g_json_said = true;
    fflush(stdout);
    json_writer w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_key(&w, "error");
    json_begin_object(&w);
    json_key_string(&w, "status", status);
    json_key_string(&w, "message", msg);
    json_end_object(&w);
    json_end_object(&w);
    fflush(stdout);
}

static int fail_as(const char *status, const char *msg)
{
    print_msg(g_cmd, NULL, msg);
    json_error(status, msg);
    return EXIT_FAIL;
}

int cli_fail_og(og_status st)
{
    const char *msg = og_errmsg();
    return fail_as(og_status_name(st), msg && *msg ? msg : og_status_name(st));
}

int cli_fail_og_in(const char *context, og_status st)
{
    const char *msg = og_errmsg();
    char line[2048];
    snprintf(line, sizeof line, "%s: %s", context, msg && *msg ? msg : og_status_name(st));
    return fail_as(og_status_name(st), line);
}

int cli_fail(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail_as("error", msg);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024], line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "%s; see 'onnxgrad %s%s--help'", msg, cmd ? cmd : "", cmd ? " " : "");
    print_msg(cmd, NULL, line);
    json_error("usage", line);
    return EXIT_USAGE;
}

void cli_note(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_msg(g_cmd, "note: ", msg);
}

/* The library's warnings (og_set_warning_handler): one line each on stderr. */
static void print_warning(void *user, const char *msg)
{
    (void)user;
    print_msg(g_cmd, "warning: ", msg);
}

void cli_print_warnings(void)
{
    og_set_warning_handler(print_warning, NULL);
}

/* ---- option parsing ----------------------------------------------------- */

/* The options every command takes, handled here. */
enum { ID_HELP = -1, ID_THREADS = -2, ID_LIMIT = -3, ID_DIM = -4, ID_SHAPE = -5, ID_FORMAT = -6 };
static const cli_option COMMON[] = {
    { "help", 'h', false, ID_HELP, NULL },
    { "threads", 0, true, ID_THREADS, NULL },
    { "limit", 0, true, ID_LIMIT, NULL },
};
#define N_COMMON ((int)(sizeof COMMON / sizeof COMMON[0]))
/* The options of cli_command.extras. */
static const cli_option SHAPE_OPTS[] = {
    { "dim", 0, true, ID_DIM, NULL },
    { "input-shape", 0, true, ID_SHAPE, NULL },
};
static const cli_option FORMAT_OPT = { "format", 0, true, ID_FORMAT, NULL };

/* What the extras' options said: pointers into argv. */
#define MAX_OVERRIDES 64
static const char *g_dims[MAX_OVERRIDES], *g_shapes[MAX_OVERRIDES];
static int g_n_dims, g_n_shapes;
static bool g_npy;
static unsigned g_extras;

void cli_take_extras(unsigned extras)
{
    g_extras = extras;
}
#define MAX_OPTS 64

/* getopt_long's val for option k: its short letter, else 256 + k. */
static int val_of(const cli_option *o, int k)
{
    return o->short_name ? o->short_name : 256 + k;
}

int cli_parse_count(const char *cmd, const char *opt, const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = v[0] >= '0' && v[0] <= '9' ? strtol(v, &end, 10) : 0;
    if (!(v[0] >= '0' && v[0] <= '9') || *end || errno == ERANGE || n < min || n > max)
        return cli_usage_error(cmd, "%s expects a whole number from %ld to %ld, got '%s'", opt, min, max, v);
    *out = n;
    return EXIT_OK;
}

/* "--name" of the long option the user typed in arg ("--na=3" gives "na"). */
static void typed_name(const char *arg, char *buf, size_t size)
{
    const char *s = arg + (strncmp(arg, "--", 2) == 0 ? 2 : 0);
    size_t n = strcspn(s, "=");
    if (n >= size)
        n = size - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
}

/* An unknown or ambiguous long option: say which, listing the candidates
 * of an ambiguous prefix. */
static int bad_long_option(const cli_command *c, const cli_option *all, int n, const char *arg)
{
    char name[256], cands[1024] = "";
    typed_name(arg, name, sizeof name);
    size_t len = strlen(name);
    if (len == 0)
        return cli_usage_error(c->name, "unknown option '%s'", arg);
    int matches = 0;
    for (int k = 0; k < n; k++) {
        if (strncmp(all[k].name, name, len) != 0)
            continue;
        matches++;
        size_t have = strlen(cands);
        snprintf(cands + have, sizeof cands - have, "%s--%s", have ? ", " : "", all[k].name);
    }
    if (matches > 1)
        return cli_usage_error(c->name, "ambiguous option '--%s' (could be %s)", name, cands);
    return cli_usage_error(c->name, "unknown option '--%s'", name);
}

/* ---- limits, shapes, formats ---- */

/* "64", "64K", "16M", "2G" (powers of 1024) into *out. */
static bool parse_size(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    if (!(v[0] >= '0' && v[0] <= '9'))
        return false;
    long long n = strtoll(v, &end, 10);
    int shift = 0;
    if (*end && !end[1])
        shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20 : *end == 'G' || *end == 'g' ? 30
              : *end == 'T' || *end == 't' ? 40 : -1;
    else if (*end)
        shift = -1;
    if (errno == ERANGE || shift < 0 || n < 0 || (shift && n > (INT64_MAX >> shift)))
        return false;
    *out = (int64_t)n << shift;
    return true;
}

static void limit_names(char *buf, size_t size)
{
    size_t have = 0;
    buf[0] = '\0';
    for (int k = 0; k < OG_LIMIT_COUNT && have < size; k++)
        have += (size_t)snprintf(buf + have, size - have, "%s%s", k ? ", " : "", og_limit_name((og_limit_id)k));
}

/* Sets limit `name` to text value v; `where` names the option or variable. */
static int set_limit(const char *cmd, const char *where, const char *name, size_t name_len, const char *v)
{
    char nm[64], names[512];
    snprintf(nm, sizeof nm, "%.*s", (int)(name_len < sizeof nm ? name_len : sizeof nm - 1), name);
    int id = og_limit_find(nm);
    limit_names(names, sizeof names);
    if (id < 0)
        return cli_usage_error(cmd, "%s: no limit is named '%s'; the limits are %s", where, nm, names);
    int64_t x, max = og_limit_max((og_limit_id)id);
    if (!parse_size(v, &x))
        return cli_usage_error(cmd, "%s: %s expects a whole number >= 0 (K, M, G, T suffixes allowed), got '%s'",
                               where, og_limit_name((og_limit_id)id), v);
    if (x > max)
        return cli_usage_error(cmd, "%s: %s=%s is over the hard maximum %lld", where, og_limit_name((og_limit_id)id),
                               v, (long long)max);
    og_limit((og_limit_id)id, x);
    return EXIT_OK;
}

/* OG_LIMIT_<NAME>=N in the environment; --limit, read later, overrides. */
static int limits_from_env(const char *cmd)
{
    for (int k = 0; k < OG_LIMIT_COUNT; k++) {
        char var[96];
        const char *nm = og_limit_name((og_limit_id)k);
        size_t len = (size_t)snprintf(var, sizeof var, "OG_LIMIT_%s", nm);
        for (size_t j = 9; j < len; j++)
            var[j] = var[j] == '-' ? '_' : (char)(var[j] >= 'a' && var[j] <= 'z' ? var[j] - 32 : var[j]);
        const char *v = getenv(var);
        if (v && set_limit(cmd, var, nm, strlen(nm), v))
            return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* NAME=REST with a non-empty NAME. */
static const char *spec_value(const char *v)
{
    const char *eq = strchr(v, '=');
    return eq && eq != v ? eq + 1 : NULL;
}

/* "4,1,28,28" into dims; false when malformed. */
static bool parse_dims(const char *v, int *rank, int64_t *dims)
{
    *rank = 0;
    if (!*v)
        return true;   /* a scalar */
    for (;;) {
        char *end;
        if (!(*v >= '0' && *v <= '9') || *rank >= OG_MAX_RANK)
            return false;
        errno = 0;
        long long d = strtoll(v, &end, 10);
        if (errno == ERANGE)
            return false;
        dims[(*rank)++] = d;
        if (!*end)
            return true;
        if (*end != ',')
            return false;
        v = end + 1;
    }
}

static int take_common(const char *cmd, int id, const char *opt, const char *v)
{
    const char *val = spec_value(v);
    int64_t x, dims[OG_MAX_RANK];
    int rank;
    switch (id) {
    case ID_LIMIT:
        if (!val)
            return cli_usage_error(cmd, "%s expects NAME=VALUE (e.g. parse-memory-factor=16), got '%s'", opt, v);
        return set_limit(cmd, opt, v, (size_t)(val - 1 - v), val);
    case ID_DIM:
        if (!val || !parse_size(val, &x) || strpbrk(val, "KkMmGgTt"))
            return cli_usage_error(cmd, "%s expects NAME=SIZE (e.g. N=4), got '%s'", opt, v);
        if (g_n_dims == MAX_OVERRIDES)
            return cli_usage_error(cmd, "more than %d %s options", MAX_OVERRIDES, opt);
        g_dims[g_n_dims++] = v;
        return EXIT_OK;
    case ID_SHAPE:
        if (!val || !parse_dims(val, &rank, dims))
            return cli_usage_error(cmd, "%s expects NAME=D,D,... (e.g. x=4,1,28,28), got '%s'", opt, v);
        if (g_n_shapes == MAX_OVERRIDES)
            return cli_usage_error(cmd, "more than %d %s options", MAX_OVERRIDES, opt);
        g_shapes[g_n_shapes++] = v;
        return EXIT_OK;
    case ID_FORMAT:
        if (strcmp(v, "npy") && strcmp(v, "pb"))
            return cli_usage_error(cmd, "%s expects npy or pb, got '%s'", opt, v);
        g_npy = !strcmp(v, "npy");
        return EXIT_OK;
    }
    return EXIT_OK;
}

bool cli_shape_overrides_given(void)
{
    return g_n_dims + g_n_shapes > 0;
}

int cli_apply_shape_overrides(og_graph *g, const char *model)
{
    og_status st;
    for (int k = 0; k < g_n_dims; k++) {
        const char *val = spec_value(g_dims[k]);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(val - 1 - g_dims[k]), g_dims[k]);
        if ((st = og_graph_fix_dim(g, name, strtoll(val, NULL, 10)))) {
            char ctx[512];
            snprintf(ctx, sizeof ctx, "--dim %s: %s", g_dims[k], model);
            return cli_fail_og_in(ctx, st);
        }
    }
    for (int k = 0; k < g_n_shapes; k++) {
        const char *val = spec_value(g_shapes[k]);
        char name[256];
        int64_t dims[OG_MAX_RANK];
        int rank;
        snprintf(name, sizeof name, "%.*s", (int)(val - 1 - g_shapes[k]), g_shapes[k]);
        parse_dims(val, &rank, dims);
        if ((st = og_graph_set_input_shape(g, name, rank, dims))) {
            char ctx[512];
            snprintf(ctx, sizeof ctx, "--input-shape %s: %s", g_shapes[k], model);
            return cli_fail_og_in(ctx, st);
        }
    }
    if (cli_shape_overrides_given() && (st = og_graph_finalize(g)))
        return cli_fail_og_in(model, st);
    return EXIT_OK;
}

bool cli_format_npy(void)
{
    return g_npy;
}

int cli_parse(const cli_command *c, int argc, char **argv, cli_handler fn, void *user, char ***args,
              int *n_args, bool *help)
{
    cli_option all[MAX_OPTS];
    struct option longs[MAX_OPTS + 1];
    /* '-' first: arguments come back in order as option 1, so options and
     * arguments mix whatever POSIXLY_CORRECT says; then ':': a missing
     * value returns ':'. */
    char shorts[2 * MAX_OPTS + 3] = "-:";
    int n = 0, np = 0;
    *help = false;
    for (int k = 0; k < N_COMMON; k++)
        all[n++] = COMMON[k];
    if (g_extras & CLI_SHAPES)
        for (int k = 0; k < 2; k++)
            all[n++] = SHAPE_OPTS[k];
    if (g_extras & CLI_FORMAT)
        all[n++] = FORMAT_OPT;
    for (const cli_option *o = c->opts; o && o->name && n < MAX_OPTS; o++)
        all[n++] = *o;
    for (int k = 0; k < n; k++) {
        longs[k] = (struct option){ all[k].name, all[k].has_value ? required_argument : no_argument, NULL,
                                    val_of(&all[k], k) };
        if (all[k].short_name) {
            size_t l = strlen(shorts);
            shorts[l] = (char)all[k].short_name;
            shorts[l + 1] = all[k].has_value ? ':' : '\0';
            shorts[l + 2] = '\0';
        }
    }
    longs[n] = (struct option){ 0 };

    /* --json anywhere makes even an earlier usage error JSON */
    for (int k = 0; k < n; k++)
        if (!strcmp(all[k].name, "json"))
            for (int j = 1; j < argc && strcmp(argv[j], "--"); j++)
                if (!strcmp(argv[j], "--json"))
                    g_json = true;
    int lrc = limits_from_env(c->name);
    if (lrc)
        return lrc;

    opterr = 0;    /* the messages are ours */
    optind = 0;    /* GNU: start afresh */
    for (;;) {
        int li = -1;
        int r = getopt_long(argc, argv, shorts, longs, &li);
        if (r == -1)
            break;
        if (r == 1) {
            /* Compacted to the front of argv: slots before optind have been
             * read and are not read again. */
            argv[1 + np++] = optarg;
            continue;
        }
        /* the element just read (optind may point past argv's end) */
        int at = optind - 1 < 1 ? 1 : optind - 1 >= argc ? argc - 1 : optind - 1;
        const char *arg = argv[at];
        if (r == '?' || r == ':') {
            int k = 0;
            while (k < n && !(optopt && val_of(&all[k], k) == optopt))
                k++;
            bool as_long = !strncmp(arg, "--", 2);
            if (k == n && optopt && optopt < 256)
                return cli_usage_error(c->name, "unknown option '-%c'", optopt);
            if (k == n)
                return bad_long_option(c, all, n, arg);
            char spelled[300];
            if (as_long)
                snprintf(spelled, sizeof spelled, "--%s", all[k].name);
            else
                snprintf(spelled, sizeof spelled, "-%c", all[k].short_name);
            if (r == ':')
                return cli_usage_error(c->name, "option '%s' needs a value", spelled);
            return cli_usage_error(c->name, "option '%s' takes no value", spelled);
        }
        int k = 0;
        while (k < n && val_of(&all[k], k) != r)
            k++;
        if (k == n)
            return cli_usage_error(c->name, "unknown option '%s'", arg);
        char spelled[300];
        if (li >= 0)
            snprintf(spelled, sizeof spelled, "--%s", all[k].name);
        else
            snprintf(spelled, sizeof spelled, "-%c", all[k].short_name);
        if (all[k].replaced_by)
            cli_note("'%s' is deprecated and will be removed in the next release; use '--%s'", spelled,
                     all[k].replaced_by);
        if (all[k].id == ID_HELP) {
            fputs(c->help, stdout);
            *help = true;
            return EXIT_OK;
        }
        if (all[k].id == ID_THREADS) {
            long t;
            if (cli_parse_count(c->name, spelled, optarg, 1, 64, &t))
                return EXIT_USAGE;
            /* Every plan the command makes reads it. */
            setenv("OG_NUM_THREADS", optarg, 1);
            continue;
        }
        if (all[k].id <= ID_LIMIT) {
            int rc = take_common(c->name, all[k].id, spelled, optarg);
            if (rc)
                return rc;
            continue;
        }
        if (!strcmp(all[k].name, "json"))
            g_json = true;
        int rc = fn(user, all[k].id, spelled, all[k].has_value ? optarg : NULL);
        if (rc)
            return rc;
    }
    for (int k = optind; k < argc; k++)    /* after "--" */
        argv[1 + np++] = argv[k];
    if (np < c->min_args)
        return cli_usage_error(c->name, "%s", c->missing ? c->missing : "missing an argument");
    if (np > c->max_args)
        return cli_usage_error(c->name, "unexpected argument '%s'", argv[1 + c->max_args]);
    *args = argv + 1;
    *n_args = np;
    return EXIT_OK;
}

int cli_is_help(const char *a)
{
    return !strcmp(a, "-h") || !strcmp(a, "--help");
}

int cli_opt_value(int argc, char **argv, int *k, const char *s, const char *l, const char **val)
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

/* ---- tensors from files ------------------------------------------------- */

void cli_feeds_free(cli_feeds *f)
{
    for (int k = 0; k < f->n; k++)
        og_tensor_free(f->t[k]);
    free(f->t);
    f->t = NULL;
    f->n = f->cap = 0;
}

int cli_feeds_push(cli_feeds *f, og_tensor *t)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 8;
        og_tensor **p = realloc(f->t, (size_t)cap * sizeof *p);
        if (!p) {
            og_tensor_free(t);
            return cli_fail("out of memory");
        }
        f->t = p;
        f->cap = cap;
    }
    f->t[f->n++] = t;
    return EXIT_OK;
}

/* The tensor of f named name, or -1. */
static int find_feed(const cli_feeds *f, const char *name)
{
    for (int k = 0; k < f->n; k++)
        if (f->t[k]->name && !strcmp(f->t[k]->name, name))
            return k;
    return -1;
}

static bool has_ext(const char *file, const char *ext)
{
    size_t n = strlen(file), e = strlen(ext);
    return n > e && !strcmp(file + n - e, ext);
}

og_status cli_load_tensor_file(const char *path, og_tensor **out)
{
    return has_ext(path, ".npy") ? og_tensor_load_npy(path, out) : og_tensor_load_pb(path, out);
}

/* Loads FILE as a tensor renamed NAME (spec "NAME=FILE"). */
static int load_spec(const char *spec, og_tensor **out, char *name, size_t size)
{
    const char *eq = strchr(spec, '=');
    size_t len = (size_t)(eq - spec);
    if (len >= size)
        return cli_fail("name too long in '%s'", spec);
    memcpy(name, spec, len);
    name[len] = '\0';
    og_tensor *t;
    og_status st = cli_load_tensor_file(eq + 1, &t);
    if (st == OG_OK && (st = og_tensor_set_name(t, name)))
        og_tensor_free(t);
    if (st)
        return cli_fail_og(st);
    *out = t;
    return EXIT_OK;
}

int cli_load_named_input(const char *spec, cli_feeds *f)
{
    char name[1024];
    og_tensor *t = NULL;
    if (load_spec(spec, &t, name, sizeof name))
        return EXIT_FAIL;
    int k = find_feed(f, name);
    if (k >= 0) {
        og_tensor_free(f->t[k]);
        f->t[k] = t;
        return EXIT_OK;
    }
    return cli_feeds_push(f, t);
}

/* What a model accepts as feeds: its graph inputs, then its initializers
 * that are not graph inputs. */
typedef struct feed_names {
    const char **names;          /* owned by the graph */
    const og_tensor **init;      /* per name: the initializer, or NULL */
    int n, n_inputs;
} feed_names;

static int feed_names_of(const og_graph *g, feed_names *fn)
{
    int ni = og_graph_num_inputs(g), nz = og_graph_num_initializers(g);
    fn->names = calloc((size_t)(ni + nz) + 1, sizeof *fn->names);
    fn->init = calloc((size_t)(ni + nz) + 1, sizeof *fn->init);
    fn->n = 0;
    fn->n_inputs = ni;
    if (!fn->names || !fn->init)
        return cli_fail("out of memory");
    og_value_info vi;
    og_status st;
    for (int k = 0; k < ni; k++) {
        if ((st = og_graph_input(g, k, &vi)))
            return cli_fail_og(st);
        fn->names[fn->n++] = vi.name;
    }
    for (int k = 0; k < nz; k++) {
        const og_tensor *t;
        if ((st = og_graph_initializer(g, k, &t)))
            return cli_fail_og(st);
        int j = 0;
        while (j < ni && strcmp(fn->names[j], t->name))
            j++;
        if (j == ni)
            fn->names[j = fn->n++] = t->name;
        fn->init[j] = t;
    }
    return EXIT_OK;
}

static void feed_names_free(feed_names *fn)
{
    free(fn->names);
    free(fn->init);
}

static int feed_index(const feed_names *fn, const char *name)
{
    for (int k = 0; k < fn->n; k++)
        if (!strcmp(fn->names[k], name))
            return k;
    return -1;
}

/* "x, W, B" into buf, at most 1000 bytes' worth. */
static void list_names(char *buf, size_t size, const char *const *names, int n)
{
    buf[0] = '\0';
    size_t have = 0;
    for (int k = 0; k < n && have < size; k++) {
        if (have > 1000) {
            snprintf(buf + have, size - have, ", ...");
            return;
        }
        have += (size_t)snprintf(buf + have, size - have, "%s'%s'", k ? ", " : "", names[k]);
    }
}

static int unknown_input(const char *model, const feed_names *fn, const char *spec_name)
{
    char inputs[1200], inits[1200];
    list_names(inputs, sizeof inputs, fn->names, fn->n_inputs);
    list_names(inits, sizeof inits, fn->names + fn->n_inputs, fn->n - fn->n_inputs);
    return cli_fail("-i %s: %s has no input '%s'; its inputs are %s%s%s%s", spec_name, model, spec_name,
                    fn->n_inputs ? inputs : "(none)", fn->n > fn->n_inputs ? " (and initializers " : "",
                    fn->n > fn->n_inputs ? inits : "", fn->n > fn->n_inputs ? ", which -i may override)" : "");
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int list_files(const char *dir, const char *ext, char ***files, int *n_files);

int cli_list_pb_files(const char *dir, char ***files, int *n_files)
{
    return list_files(dir, ".pb", files, n_files);
}

static int list_files(const char *dir, const char *ext, char ***files, int *n_files)
{
    DIR *d = opendir(dir);
    if (!d)
        return cli_fail("%s: %s", dir, strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0, rc = EXIT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= strlen(ext) || strcmp(e->d_name + len - strlen(ext), ext))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            char **p = realloc(v, (size_t)cap * sizeof *p);
            if (!p) {
                rc = cli_fail("out of memory");
                break;
            }
            v = p;
        }
        if (!(v[n] = strdup(e->d_name))) {
            rc = cli_fail("out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, cmp_str);
    *files = v;
    *n_files = n;
    return rc;
}

/* k of "input_<k>.pb", else -1. */
static long input_index(const char *file)
{
    if (strncmp(file, "input_", 6) || !(file[6] >= '0' && file[6] <= '9'))
        return -1;
    char *end;
    long k = strtol(file + 6, &end, 10);
    return strcmp(end, ".pb") == 0 || strcmp(end, ".npy") == 0 ? k : -1;
}

/* Appends "file (why)" to the ignored list. */
static void note_ignored(char *buf, size_t size, int *count, const char *file, const char *why, const char *name)
{
    size_t have = strlen(buf);
    if (have < size - 1)
        snprintf(buf + have, size - have, "%s%s (%s%s%s)", *count ? ", " : "", file, name ? "'" : "",
                 name ? name : "", why);
    (*count)++;
}

/* --inputs DIR: every named .pb that names a feed, and input_<k>.pb
 * unnamed, bound to input k. src[k] records the file each feed came from,
 * to name both files of a clash. */
static int load_dir(const char *dir, const feed_names *fn, cli_feeds *f, char **src)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return cli_fail("%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cli_fail("%s: not a directory", dir);
    char **files = NULL, **npy = NULL;
    int n = 0, n_npy = 0, rc = cli_list_pb_files(dir, &files, &n), ignored = 0;
    /* then the .npy files: NAME.npy binds to NAME */
    if (rc == EXIT_OK && (rc = list_files(dir, ".npy", &npy, &n_npy)) == EXIT_OK && n_npy) {
        char **all = realloc(files, (size_t)(n + n_npy) * sizeof *all);
        if (!all)
            rc = cli_fail("out of memory");
        else {
            files = all;
            memcpy(files + n, npy, (size_t)n_npy * sizeof *npy);
            n += n_npy;
            n_npy = 0;
        }
    }
    for (int k = 0; k < n_npy; k++)
        free(npy[k]);
    free(npy);
    char notes[2048] = "";
    for (int k = 0; k < n && rc == EXIT_OK; k++) {
        char path[4096], stem[1024] = "";
        og_tensor *t = NULL;
        og_status st;
        bool is_npy = has_ext(files[k], ".npy");
        if ((rc = cli_path_join(path, sizeof path, dir, files[k])))
            break;
        if ((st = cli_load_tensor_file(path, &t))) {
            rc = cli_fail_og(st);
            break;
        }
        if (is_npy) {
            snprintf(stem, sizeof stem, "%.*s", (int)(strlen(files[k]) - 4), files[k]);
            /* input_<k>.npy is positional unless an input has that name */
            if (!(input_index(files[k]) >= 0 && feed_index(fn, stem) < 0) && (st = og_tensor_set_name(t, stem))) {
                og_tensor_free(t);
                rc = cli_fail_og(st);
                break;
            }
        }
        const char *name = t->name && *t->name ? t->name : NULL;
        long idx = name ? -1 : input_index(files[k]);
        if (!name && idx >= 0 && idx < fn->n_inputs) {
            name = fn->names[idx];
            if ((st = og_tensor_set_name(t, name))) {
                og_tensor_free(t);
                rc = cli_fail_og(st);
                break;
            }
        }
        if (!name || feed_index(fn, name) < 0) {
            if (name)
                note_ignored(notes, sizeof notes, &ignored, files[k], "' is not an input of the model", name);
            else if (idx >= 0)
                note_ignored(notes, sizeof notes, &ignored, files[k], "unnamed, and the model has fewer inputs",
                             NULL);
            else
                note_ignored(notes, sizeof notes, &ignored, files[k], "unnamed, and not input_<k>.pb", NULL);
            og_tensor_free(t);
            continue;
        }
        int j = find_feed(f, name);
        if (j >= 0) {
            rc = cli_fail("--inputs %s: %s and %s both hold input '%s'", dir, src[j], files[k], name);
            og_tensor_free(t);
            break;
        }
        src[f->n] = files[k];
        files[k] = NULL;
        rc = cli_feeds_push(f, t);
    }
    if (rc == EXIT_OK && ignored)
        cli_note("--inputs %s: ignored %d file%s: %s", dir, ignored, ignored > 1 ? "s" : "", notes);
    for (int k = 0; k < n; k++)
        free(files[k]);
    free(files);
    return rc;
}

int cli_load_feeds(og_graph *g, const char *model, const char *dir, int n_specs, const char *const *specs,
                   cli_feeds *f, int *n_promoted)
{
    feed_names fn = { 0 };
    char **src = NULL;
    int rc = feed_names_of(g, &fn), promoted = 0;
    if (rc == EXIT_OK && dir) {
        /* at most one file per feed binds */
        if (!(src = calloc((size_t)fn.n + 1, sizeof *src)))
            rc = cli_fail("out of memory");
        else
            rc = load_dir(dir, &fn, f, src);
    }
    for (int k = 0; k < n_specs && rc == EXIT_OK; k++) {
        char name[1024];
        const char *eq = strchr(specs[k], '=');
        size_t len = (size_t)(eq - specs[k]);
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), specs[k]);
        if (feed_index(&fn, name) < 0) {
            rc = unknown_input(model, &fn, name);
            break;
        }
        for (int j = 0; j < k; j++)
            if (!strncmp(specs[j], specs[k], len + 1)) {
                rc = cli_fail("-i %s is given twice", name);
                break;
            }
        if (rc == EXIT_OK)
            rc = cli_load_named_input(specs[k], f);
    }
    /* Initializers that are not graph inputs: the library binds feeds to
     * graph inputs only, so a fed one becomes a graph input (initializer as
     * its default, as ONNX allows) typed as the initializer. */
    for (int k = 0; k < f->n && rc == EXIT_OK; k++) {
        int j = feed_index(&fn, f->t[k]->name);
        if (j < fn.n_inputs)
            continue;
        const og_tensor *init = fn.init[j];
        og_status st = og_graph_add_input(g, init->name, init->dtype, init->rank, init->dims, NULL);
        if (st)
            rc = cli_fail_og_in(model, st);
        promoted++;
    }
    if (rc == EXIT_OK && promoted) {
        og_status st = og_graph_finalize(g);
        if (st)
            rc = cli_fail_og_in(model, st);
    }
    if (n_promoted)
        *n_promoted = promoted;
    for (int k = 0; src && k < fn.n; k++)
        free(src[k]);
    free(src);
    feed_names_free(&fn);
    return rc;
}

/* ---- files -------------------------------------------------------------- */

int cli_path_join(char *buf, size_t size, const char *dir, const char *file)
{
    int n = snprintf(buf, size, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= size)
        return cli_fail("path too long: %s/%s", dir, file);
    return EXIT_OK;
}

/* The caller may name a nested directory that does not exist. */
int cli_make_dirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n >= sizeof path)
        return cli_fail("path too long: %s", dir);
    memcpy(path, dir, n + 1);
    for (size_t k = 1; k <= n; k++) {
        if (path[k] != '/' && path[k] != '\0')
            continue;
        char c = path[k];
        path[k] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return cli_fail("cannot create %s: %s", path, strerror(errno));
        path[k] = c;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_fail("%s: not a directory", dir);
    return EXIT_OK;
}

/* t's name as a file name stem (without the collision suffix). */
static void safe_stem(char *buf, size_t size, const char *stem, int k, const og_tensor *t)
{
    if (!t->name || !*t->name) {
        snprintf(buf, size, "%s%d", stem, k);
        return;
    }
    size_t n = 0;
    for (const char *c = t->name; *c && n + 1 < size && n < 200; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                  *c == '-' || (*c == '.' && n > 0);
        buf[n++] = ok ? *c : '_';
    }
    buf[n] = '\0';
}

void cli_result_file(char *buf, size_t size, const char *stem, int k, og_tensor *const *t)
{
    if (!g_npy) {
        snprintf(buf, size, "%s%d.pb", stem, k);
        return;
    }
    char mine[256], other[256];
    safe_stem(mine, sizeof mine, stem, k, t[k]);
    bool clash = false;
    for (int j = 0; j < k && !clash; j++) {
        safe_stem(other, sizeof other, stem, j, t[j]);
        clash = !strcmp(mine, other);
    }
    if (clash)
        snprintf(buf, size, "%s_%d.npy", mine, k);
    else
        snprintf(buf, size, "%s.npy", mine);
}

int cli_save_tensors(const char *dir, const char *stem, int n, og_tensor *const *t)
{
    if (cli_make_dirs(dir))
        return EXIT_FAIL;
    for (int k = 0; k < n; k++) {
        char file[1100], path[4096];
        cli_result_file(file, sizeof file, stem, k, t);
        if (cli_path_join(path, sizeof path, dir, file))
            return EXIT_FAIL;
        og_status st = g_npy ? og_tensor_save_npy(t[k], path) : og_tensor_save_pb(t[k], path);
        if (st)
            return cli_fail_og(st);
    }
    return EXIT_OK;
}

/* "output_<k>.pb" or "grad_<k>.pb": what run and grad write. */
static bool is_result_file(const char *file)
{
    const char *p = !strncmp(file, "output_", 7) ? file + 7 : !strncmp(file, "grad_", 5) ? file + 5 : NULL;
    if (!p || !(*p >= '0' && *p <= '9'))
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    return strcmp(p, ".pb") == 0;
}

int cli_prepare_output_dir(const char *dir, bool force)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return errno == ENOENT ? EXIT_OK : cli_fail("%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cli_fail("%s: not a directory", dir);
    char **files = NULL;
    int n = 0, rc = cli_list_pb_files(dir, &files, &n), stale = 0;
    char first[3][256];
    for (int k = 0; k < n && rc == EXIT_OK; k++) {
        if (!is_result_file(files[k]))
            continue;
        if (force) {
            char path[4096];
            if ((rc = cli_path_join(path, sizeof path, dir, files[k])))
                break;
            if (unlink(path) != 0)
                rc = cli_fail("cannot remove %s: %s", path, strerror(errno));
        } else if (stale < 3) {
            snprintf(first[stale], sizeof first[stale], "%s", files[k]);
        }
        stale++;
    }
    if (rc == EXIT_OK && stale && !force)
        rc = cli_fail("%s holds %d result file%s of an earlier run (%s%s%s%s%s%s); give --force to remove "
                      "them, or another directory", dir, stale, stale > 1 ? "s" : "", first[0],
                      stale > 1 ? ", " : "", stale > 1 ? first[1] : "", stale > 2 ? ", " : "",
                      stale > 2 ? first[2] : "", stale > 3 ? ", ..." : "");
    for (int k = 0; k < n; k++)
        free(files[k]);
    free(files);
    return rc;
}

/* ---- JSON --------------------------------------------------------------- */

void cli_json_tensor(json_writer *w, const og_tensor *t, const char *file)
{
    json_begin_object(w);
    json_key_string(w, "name", t->name);
    json_key_string(w, "dtype", og_dtype_name(t->dtype));
    json_key(w, "shape");
    json_int_array(w, t->rank, t->dims);
    if (file)
        json_key_string(w, "file", file);
    json_end_object(w);
}

/* ---- random inputs ------------------------------------------------------ */

/* splitmix64: a small generator whose stream depends only on the seed. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* FNV-1a of the input's name: each input's values depend on the seed and
 * its name only, not on which other inputs were given. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

int cli_check_range_spec(const char *cmd, const char *opt, const char *v)
{
    const char *val = spec_value(v);
    char *end;
    double lo = 0, hi = 0;
    bool ok = val != NULL;
    if (ok) {
        lo = strtod(val, &end);
        ok = end != val && *end == ',';
    }
    if (ok) {
        const char *h = end + 1;
        hi = strtod(h, &end);
        ok = end != h && !*end && lo <= hi;
    }
    if (!ok)
        return cli_usage_error(cmd, "%s expects NAME=LO,HI with LO <= HI (e.g. x=0,1), got '%s'", opt, v);
    return EXIT_OK;
}

static int fill_random(og_tensor *t, double lo, double hi, uint64_t seed)
{
    uint64_t s = seed;
    for (int64_t k = 0; k < t->numel; k++) {
        uint64_t r = next_u64(&s);
        double u = (double)(r >> 11) * 0x1.0p-53;   /* [0, 1) */
        /* integers: uniform in [ceil(lo), floor(hi)] */
        int64_t ilo = (int64_t)ceil(lo), ihi = (int64_t)floor(hi);
        uint64_t span = ihi >= ilo ? (uint64_t)(ihi - ilo) + 1 : 1;
        int64_t iv = ilo + (int64_t)(span ? r % span : r);
        switch (t->dtype) {
        case OG_FLOAT: ((float *)t->data)[k] = (float)(lo + (hi - lo) * u); break;
        case OG_DOUBLE: ((double *)t->data)[k] = lo + (hi - lo) * u; break;
        case OG_INT8: ((int8_t *)t->data)[k] = (int8_t)iv; break;
        case OG_INT16: ((int16_t *)t->data)[k] = (int16_t)iv; break;
        case OG_INT32: ((int32_t *)t->data)[k] = (int32_t)iv; break;
        case OG_INT64: ((int64_t *)t->data)[k] = iv; break;
        case OG_UINT8: ((uint8_t *)t->data)[k] = (uint8_t)iv; break;
        case OG_UINT16: ((uint16_t *)t->data)[k] = (uint16_t)iv; break;
        case OG_UINT32: ((uint32_t *)t->data)[k] = (uint32_t)iv; break;
        case OG_UINT64: ((uint64_t *)t->data)[k] = (uint64_t)iv; break;
        case OG_BOOL: ((uint8_t *)t->data)[k] = (uint8_t)(r >> 63); break;
        default: return -1;
        }
    }
    return 0;
}

int cli_random_inputs(og_graph *g, const char *model, cli_feeds *f, int n_ranges, const char *const *ranges,
                      uint64_t seed)
{
    og_status st;
    for (int r = 0; r < n_ranges; r++) {
        const char *val = spec_value(ranges[r]);
        char name[256];
        og_value_info vi;
        snprintf(name, sizeof name, "%.*s", (int)(val - 1 - ranges[r]), ranges[r]);
        bool found = false;
        for (int k = 0; k < og_graph_num_inputs(g) && !found; k++)
            found = og_graph_input(g, k, &vi) == OG_OK && !strcmp(vi.name, name);
        if (!found)
            return cli_fail("--val-range %s: %s has no input '%s'", ranges[r], model, name);
    }
    for (int k = 0; k < og_graph_num_inputs(g); k++) {
        og_value_info vi;
        if ((st = og_graph_input(g, k, &vi)))
            return cli_fail_og(st);
        bool fed = find_feed(f, vi.name) >= 0, has_init = false;
        for (int j = 0; j < og_graph_num_initializers(g) && !has_init; j++) {
            const og_tensor *it;
            has_init = og_graph_initializer(g, j, &it) == OG_OK && !strcmp(it->name, vi.name);
        }
        if (fed || has_init)
            continue;   /* given, or has its initializer as default */
        if (vi.rank < 0)
            return cli_fail("--random: input '%s' of %s has an unknown rank; give it with -i or --input-shape",
                            vi.name, model);
        for (int d = 0; d < vi.rank; d++)
            if (vi.dims[d] < 0) {
                if (vi.dim_params && vi.dim_params[d])
                    return cli_fail("--random: input '%s' of %s has the symbolic dim '%s'; fix it with --dim %s=SIZE "
                                    "or --input-shape %s=...", vi.name, model, vi.dim_params[d], vi.dim_params[d],
                                    vi.name);
                return cli_fail("--random: input '%s' of %s has an unknown dim %d; fix it with --input-shape %s=...",
                                vi.name, model, d, vi.name);
            }
        double lo = 0, hi = 1;
        for (int r = 0; r < n_ranges; r++) {
            const char *val = spec_value(ranges[r]);
            if ((size_t)(val - 1 - ranges[r]) == strlen(vi.name) && !strncmp(ranges[r], vi.name, strlen(vi.name))) {
                char *end;
                lo = strtod(val, &end);
                hi = strtod(end + 1, NULL);
            }
        }
        og_tensor *t;
        if ((st = og_tensor_create(vi.dtype, vi.rank, vi.dims, &t)))
            return cli_fail_og_in(vi.name, st);
        if (fill_random(t, lo, hi, seed ^ name_hash(vi.name))) {
            og_tensor_free(t);
            return cli_fail("--random: input '%s' of %s is %s, which --random cannot make", vi.name, model,
                            og_dtype_name(vi.dtype));
        }
        if ((st = og_tensor_set_name(t, vi.name))) {
            og_tensor_free(t);
            return cli_fail_og(st);
        }
        if (cli_feeds_push(f, t))
            return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---- lists of names ---- */

int cli_names_push(cli_names *l, const char *name)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        const char **p = realloc(l->v, (size_t)cap * sizeof *p);
        if (!p)
            return cli_fail("out of memory");
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = name;
    return EXIT_OK;
}

int cli_names_split(const char *cmd, const char *opt, char *v, cli_names *l)
{
    for (char *p = v;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p)
            return cli_usage_error(cmd, "%s expects NAME,NAME,...; got an empty name", opt);
        if (cli_names_push(l, p))
            return EXIT_FAIL;
        if (!comma)
            return EXIT_OK;
        p = comma + 1;
    }
}
