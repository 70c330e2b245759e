/* cli_util.c — messages, option parsing, .pb feeds and directories shared
 * by the `onnxgrad` subcommands (see cli_util.h). */
#define _POSIX_C_SOURCE 200809L

#include "cli_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- messages ----------------------------------------------------------- */

/* A message with embedded newlines would break scripts that read the first
 * stderr line. */
void cli_print_line(FILE *f, const char *prefix, const char *msg)
{
    fputs(prefix, f);
    for (const char *c = msg; *c; c++)
        fputc(*c == '\n' || *c == '\r' ? ' ' : *c, f);
    fputc('\n', f);
}

int cli_fail_og(og_status st)
{
    const char *msg = og_errmsg();
    cli_print_line(stderr, "onnxgrad: ", msg && *msg ? msg : og_status_name(st));
    return EXIT_FAIL;
}

int cli_fail_og_in(const char *context, og_status st)
{
    const char *msg = og_errmsg();
    return cli_fail("%s: %s", context, msg && *msg ? msg : og_status_name(st));
}

int cli_fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_print_line(stderr, "onnxgrad: ", msg);
    return EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "onnxgrad: %s (see 'onnxgrad %s%s--help')\n", msg, cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

/* ---- option parsing ----------------------------------------------------- */

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

int cli_load_input_dir(const char *dir, cli_feeds *f)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return cli_fail("%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cli_fail("%s: not a directory", dir);
    for (int k = 0;; k++) {
        char file[32], path[4096];
        snprintf(file, sizeof file, "input_%d.pb", k);
        if (cli_path_join(path, sizeof path, dir, file))
            return EXIT_FAIL;
        if (stat(path, &sb) != 0) {
            if (errno == ENOENT)
                return EXIT_OK;
            return cli_fail("%s: %s", path, strerror(errno));
        }
        og_tensor *t;
        og_status st = og_tensor_load_pb(path, &t);
        if (st)
            return cli_fail_og(st);
        if (cli_feeds_push(f, t))
            return EXIT_FAIL;
    }
}

int cli_load_named_input(const char *spec, cli_feeds *f)
{
    const char *eq = strchr(spec, '=');
    char name[1024];
    size_t len = (size_t)(eq - spec);
    if (len >= sizeof name)
        return cli_fail("name too long in '%s'", spec);
    memcpy(name, spec, len);
    name[len] = '\0';

    og_tensor *t;
    og_status st = og_tensor_load_pb(eq + 1, &t);
    if (st == OG_OK)
        st = og_tensor_set_name(t, name);
    if (st) {
        og_tensor_free(t);
        return cli_fail_og(st);
    }
    for (int k = 0; k < f->n; k++) {
        if (f->t[k]->name && !strcmp(f->t[k]->name, name)) {
            og_tensor_free(f->t[k]);
            f->t[k] = t;
            return EXIT_OK;
        }
    }
    return cli_feeds_push(f, t);
}

/* The specs are loaded after the directory so that "-i" replaces a
 * same-named tensor whatever the option order. */
int cli_load_feeds(const char *dir, int n_specs, const char *const *specs, cli_feeds *f)
{
    if (dir && cli_load_input_dir(dir, f))
        return EXIT_FAIL;
    for (int k = 0; k < n_specs; k++)
        if (cli_load_named_input(specs[k], f))
            return EXIT_FAIL;
    return EXIT_OK;
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
