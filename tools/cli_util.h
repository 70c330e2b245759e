/* cli_util.h — what the `onnxgrad` subcommands share: exit codes, the
 * one-line error messages, option parsing, loading TensorProto (.pb) feeds
 * and creating output directories.
 *
 * The helpers that can fail print their one "onnxgrad: <message>" line on
 * stderr themselves and return EXIT_FAIL (or EXIT_USAGE), so a caller just
 * passes the code on. */
#ifndef ONNXGRAD_CLI_UTIL_H
#define ONNXGRAD_CLI_UTIL_H

#include <stdio.h>
#include "onnxgrad/onnxgrad.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* ---- messages ---- */

/* Prints prefix + msg as one line (newlines in msg become spaces). */
void cli_print_line(FILE *f, const char *prefix, const char *msg);

/* Reports the library's last error; returns EXIT_FAIL. */
int cli_fail_og(og_status st);

/* Reports "<context>: <library's last error>"; returns EXIT_FAIL. */
int cli_fail_og_in(const char *context, og_status st);

int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error pointing at 'onnxgrad CMD --help' (cmd NULL: the top
 * level); returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- option parsing ---- */

int cli_is_help(const char *arg);

/* Matches argv[*k] against "-s VALUE", "--long VALUE" or "--long=VALUE"
 * (short may be NULL). Returns 1 and sets *val (advancing *k past a
 * separate value), 0 if argv[*k] is another option, -1 if the value is
 * missing. */
int cli_opt_value(int argc, char **argv, int *k, const char *s, const char *l, const char **val);

/* ---- tensors from files ---- */

/* A list of tensors, owned by the list. */
typedef struct cli_feeds {
    og_tensor **t;
    int n, cap;
} cli_feeds;

void cli_feeds_free(cli_feeds *f);

/* Appends t; the list takes ownership (t is freed on failure too). */
int cli_feeds_push(cli_feeds *f, og_tensor *t);

/* Loads DIR/input_0.pb, input_1.pb, ... up to the first missing index. */
int cli_load_input_dir(const char *dir, cli_feeds *f);

/* Loads "NAME=FILE.pb" as a tensor named NAME, replacing a tensor of that
 * name already in f. The caller has checked that spec holds a '='. */
int cli_load_named_input(const char *spec, cli_feeds *f);

/* Loads --inputs DIR (may be NULL), then each of the n_specs "-i" specs. */
int cli_load_feeds(const char *dir, int n_specs, const char *const *specs, cli_feeds *f);

/* ---- files ---- */

/* dir + "/" + file into buf; EXIT_FAIL when it does not fit. */
int cli_path_join(char *buf, size_t size, const char *dir, const char *file);

/* mkdir -p. */
int cli_make_dirs(const char *dir);

/* Writes DIR/<stem><k>.pb for each of the n tensors (creating DIR). */
int cli_save_tensors(const char *dir, const char *stem, int n, og_tensor *const *t);

#endif
