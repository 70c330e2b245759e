/* SPDX-License-Identifier: MIT */
/* cli_util.h — what the `onnxgrad` subcommands share: exit codes, the
 * one-line messages, the option parser, binding TensorProto (.pb) feeds to
 * a model's inputs, and output directories.
 *
 * The helpers that can fail print their one "onnxgrad CMD: <message>" line
 * on stderr themselves and return EXIT_FAIL (or EXIT_USAGE), so a caller
 * just passes the code on. */
#ifndef ONNXGRAD_CLI_UTIL_H
#define ONNXGRAD_CLI_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include "onnxgrad/onnxgrad.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* ---- messages ---- */

/* The command every message names ("run" gives "onnxgrad run: ..."); NULL
 * for the top level ("onnxgrad: ..."). */
void cli_set_command(const char *cmd);

/* Prints prefix + msg as one line (newlines in msg become spaces). */
void cli_print_line(FILE *f, const char *prefix, const char *msg);

/* Reports the library's last error; returns EXIT_FAIL. */
int cli_fail_og(og_status st);

/* Reports "<context>: <library's last error>"; returns EXIT_FAIL. */
int cli_fail_og_in(const char *context, og_status st);

int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "onnxgrad CMD: <msg>; see 'onnxgrad CMD --help'" (cmd NULL: the top
 * level); returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "onnxgrad CMD: note: <msg>" on stderr: something the user should know
 * that is not a failure (a deprecated spelling, ignored files). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Routes the library's warnings to stderr as "onnxgrad CMD: warning: ...". */
void cli_print_warnings(void);

/* ---- option parsing ---- */

/* One option of a command. Every command also takes -h/--help,
 * --threads N and --limit NAME=VALUE (a limit of onnxgrad/limits.h in
 * kebab-case, e.g. parse-memory-factor=16; K/M/G/T suffixes), which the
 * parser handles itself; before the options it reads the environment's
 * OG_LIMIT_<NAME>=VALUE (OG_LIMIT_PARSE_MEMORY_FACTOR=16), which --limit
 * overrides. A command with a "json" option is in JSON mode when --json
 * is given (anywhere): then every failure reported through cli_fail*,
 * cli_usage_error also prints {"error": {"status", "message"}} on stdout
 * (status: the og_status name, "usage" for usage errors, "error" for the
 * CLI's own failures), once. */
typedef struct cli_option {
    const char *name;        /* the long name without "--"; NULL ends a table */
    int short_name;          /* 0: none */
    bool has_value;
    int id;                  /* handed to the handler, >= 0 */
    const char *replaced_by; /* set for a deprecated spelling: the long name to use */
} cli_option;

/* Option groups a command may take on, handled by the parser: a command
 * asks for them with cli_take_extras before its cli_parse.
 * - CLI_SHAPES: --dim NAME=N and --input-shape NAME=D,D,... (repeatable),
 *   applied to a loaded model by cli_apply_shape_overrides;
 * - CLI_FORMAT: --format npy|pb, the format cli_save_tensors writes. */
enum { CLI_SHAPES = 1, CLI_FORMAT = 2 };

/* A command's shape: its options, its help and its positional arguments. */
typedef struct cli_command {
    const char *name;
    const char *help;
    const cli_option *opts;
    int min_args, max_args;  /* positional arguments */
    const char *missing;     /* the message when fewer are given, e.g. "missing the model" */
} cli_command;

/* The option groups (CLI_SHAPES | CLI_FORMAT) the next cli_parse takes. */
void cli_take_extras(unsigned extras);

/* Called once per option in command-line order. `opt` is the spelling the
 * user chose ("-o" or "--output", the full long name even when abbreviated),
 * value is NULL for an option without one. Returns EXIT_OK or an exit code
 * (after printing its message). */
typedef int (*cli_handler)(void *user, int id, const char *opt, char *value);

/* Parses argv (argv[0] is the command's name) with getopt_long: GNU
 * abbreviations of long options (unambiguous prefixes), "--name=value",
 * "-oVALUE", options and arguments in any order, "--" ending the options.
 * On success *args and *n_args are the positional arguments (inside argv).
 * -h/--help prints the help to stdout and sets *help (return EXIT_OK).
 * Errors (unknown, ambiguous, missing or unexpected values, the wrong
 * number of arguments) are usage errors naming the option. */
int cli_parse(const cli_command *c, int argc, char **argv, cli_handler fn, void *user, char ***args,
              int *n_args, bool *help);

/* JSON mode (set by cli_parse; commands that parse --json themselves may
 * set it). */
void cli_set_json(bool on);
bool cli_json_mode(void);
/* The command printed its JSON document, which reports the failure that
 * follows itself (gradcheck's "pass": false): no {"error"} object after. */
void cli_json_printed(void);

/* --dim / --input-shape (CLI_SHAPES) on a loaded model: fixes each named
 * symbolic dim (og_graph_fix_dim) and input shape (og_graph_set_input_shape)
 * and re-finalizes g; a failure names the option and the model. Nothing
 * given: nothing done. */
int cli_apply_shape_overrides(og_graph *g, const char *model);
bool cli_shape_overrides_given(void);

/* --format npy given (CLI_FORMAT). */
bool cli_format_npy(void);

/* Help lines of the option groups, to paste into a command's help text
 * (the option column is 23 wide, as in run's and grad's help). */
#define CLI_HELP_SHAPES                                                          \
    "  --dim NAME=N          fix the symbolic dim NAME (e.g. N=4) wherever the\n"  \
    "                        model declares it (repeatable)\n"                     \
    "  --input-shape NAME=D,D,...  fix the shape of input NAME (e.g.\n"           \
    "                        x=4,1,28,28); a dim the model fixes must agree\n"
#define CLI_HELP_FORMAT                                                          \
    "  --format npy|pb       write OUTDIR/<tensor name>.npy (NumPy; '/' and other\n" \
    "                        bytes unsafe in file names become '_') instead of\n" \
    "                        the .pb files (default pb); -i and --inputs read\n" \
    "                        .npy files whatever the format (NAME.npy binds to\n" \
    "                        NAME)\n"

/* The hand-rolled matching the commands used before cli_parse, kept so
 * code written against it still builds; new code uses cli_parse.
 * cli_opt_value matches argv[*k] against "-s VALUE", "--long VALUE" or
 * "--long=VALUE" (s may be NULL): 1 and *val set, 0 for another option, -1
 * when the value is missing. */
int cli_is_help(const char *arg);
int cli_opt_value(int argc, char **argv, int *k, const char *s, const char *l, const char **val);

/* A growable list of names: pointers into argv (not owned); free v. */
typedef struct cli_names {
    const char **v;
    int n, cap;
} cli_names;

int cli_names_push(cli_names *l, const char *name);
/* Splits "a,b,c" in place (argv strings are the program's to modify) and
 * appends the names; an empty name is a usage error of cmd naming opt. */
int cli_names_split(const char *cmd, const char *opt, char *v, cli_names *l);

/* The value parsers commands share; each reports a usage error naming opt. */
int cli_parse_count(const char *cmd, const char *opt, const char *v, long min, long max, long *out);

/* ---- tensors from files ---- */

/* A list of tensors, owned by the list. */
typedef struct cli_feeds {
    og_tensor **t;
    int n, cap;
} cli_feeds;

void cli_feeds_free(cli_feeds *f);

/* Appends t; the list takes ownership (t is freed on failure too). */
int cli_feeds_push(cli_feeds *f, og_tensor *t);

/* Loads "NAME=FILE.pb" (or FILE.npy) as a tensor named NAME, replacing a tensor of that
 * name already in f. The caller has checked that spec holds a '='. */
int cli_load_named_input(const char *spec, cli_feeds *f);

/* The feeds of a model, every one bound by name (so none can land on the
 * wrong input):
 * - dir (--inputs, may be NULL): every DIR/ *.pb whose TensorProto name is
 *   a graph input or an initializer of g binds to it; an unnamed
 *   input_<k>.pb binds to graph input k (the ONNX test-data layout). Other
 *   .pb files are ignored, and one note on stderr lists them.
 * - specs ("-i NAME=FILE"): NAME must be a graph input or an initializer
 *   (otherwise a failure listing the model's inputs); replaces a dir tensor
 *   of that name.
 * An initializer that is fed but is not a graph input becomes one (with the
 * initializer's dtype and dims, g re-finalized), so the library binds the
 * tensor to it by name; *n_promoted (may be NULL) counts those. */
int cli_load_feeds(og_graph *g, const char *model, const char *dir, int n_specs, const char *const *specs,
                   cli_feeds *f, int *n_promoted);

/* run --random: makes every graph input that f does not feed and that has
 * no initializer as its default, uniform in [LO, HI) for floats (default
 * [0, 1)), uniform integers in [LO, HI] for integer types, 0/1 for bool,
 * from a generator seeded by seed and the input's name (deterministic).
 * ranges: "NAME=LO,HI" (checked by cli_check_range_spec). An input whose
 * shape is not static is a failure naming its symbolic dim and --dim. */
int cli_random_inputs(og_graph *g, const char *model, cli_feeds *f, int n_ranges, const char *const *ranges,
                      uint64_t seed);
int cli_check_range_spec(const char *cmd, const char *opt, const char *v);

/* ---- files ---- */

/* dir + "/" + file into buf; EXIT_FAIL when it does not fit. */
int cli_path_join(char *buf, size_t size, const char *dir, const char *file);

/* The names of dir's *.pb files, sorted (so the order does not depend on
 * the file system); *files and each name are the caller's to free, also
 * on failure. */
int cli_list_pb_files(const char *dir, char ***files, int *n_files);

/* mkdir -p. */
int cli_make_dirs(const char *dir);

/* Before writing results into dir: refuses (EXIT_FAIL) when dir holds
 * output_<k>.pb or grad_<k>.pb files of an earlier run, which could be
 * mistaken for this run's, unless force, which removes them first. A
 * missing dir is fine (it is created when the results are saved). */
int cli_prepare_output_dir(const char *dir, bool force);

/* Writes DIR/<stem><k>.pb for each of the n tensors (creating DIR); with
 * --format npy, DIR/<tensor name>.npy instead (cli_result_file). */
int cli_save_tensors(const char *dir, const char *stem, int n, og_tensor *const *t);

/* The file name cli_save_tensors gives t[k]: "<stem><k>.pb", or with
 * --format npy the tensor's name made safe as a file name (every byte but
 * [A-Za-z0-9._-] becomes '_', no leading '.'), "<stem><k>" when it has
 * none, "_<k>" appended when an earlier tensor's name gives the same. */
void cli_result_file(char *buf, size_t size, const char *stem, int k, og_tensor *const *t);

/* Loads FILE by its extension: .npy (og_tensor_load_npy), else TensorProto. */
og_status cli_load_tensor_file(const char *path, og_tensor **out);

/* ---- JSON ---- */

struct json_writer;

/* {"name": ..., "dtype": ..., "shape": [...], "file": ...} of a tensor
 * saved as file (NULL: no "file" member). */
void cli_json_tensor(struct json_writer *w, const og_tensor *t, const char *file);

#endif
