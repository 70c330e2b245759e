/* cli_util.c — messages, the option parser, .pb feeds and directories
 * shared by the `onnxgrad` subcommands (see cli_util.h). */
#define _GNU_SOURCE   /* getopt_long */

#include "cli_util.h"
#include "json.h"

#include <dirent.h>
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

int cli_fail_og(og_status st)
{
    const char *msg = og_errmsg();
    print_msg(g_cmd, NULL, msg && *msg ? msg : og_status_name(st));
    return EXIT_FAIL;
}

int cli_fail_og_in(const char *context, og_status st)
{
    const char *msg = og_errmsg();
    return cli_fail("%s: %s", context, msg && *msg ? msg : og_status_name(st));
}

int cli_fail(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_msg(g_cmd, NULL, msg);
    return EXIT_FAIL;
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
enum { ID_HELP = -1, ID_THREADS = -2 };
static const cli_option COMMON[] = {
    { "help", 'h', false, ID_HELP, NULL },
    { "threads", 0, true, ID_THREADS, NULL },
};
#define N_COMMON ((int)(sizeof COMMON / sizeof COMMON[0]))
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
    og_status st = og_tensor_load_pb(eq + 1, &t);
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

int cli_list_pb_files(const char *dir, char ***files, int *n_files)
{
    DIR *d = opendir(dir);
    if (!d)
        return cli_fail("%s: %s", dir, strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0, rc = EXIT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".pb"))
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
    return strcmp(end, ".pb") == 0 ? k : -1;
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
    char **files = NULL;
    int n = 0, rc = cli_list_pb_files(dir, &files, &n), ignored = 0;
    char notes[2048] = "";
    for (int k = 0; k < n && rc == EXIT_OK; k++) {
        char path[4096];
        og_tensor *t = NULL;
        og_status st;
        if ((rc = cli_path_join(path, sizeof path, dir, files[k])))
            break;
        if ((st = og_tensor_load_pb(path, &t))) {
            rc = cli_fail_og(st);
            break;
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

int cli_save_tensors(const char *dir, const char *stem, int n, og_tensor *const *t)
{
    if (cli_make_dirs(dir))
        return EXIT_FAIL;
    for (int k = 0; k < n; k++) {
        char file[64], path[4096];
        snprintf(file, sizeof file, "%s%d.pb", stem, k);
        if (cli_path_join(path, sizeof path, dir, file))
            return EXIT_FAIL;
        og_status st = og_tensor_save_pb(t[k], path);
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
