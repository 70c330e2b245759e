/* SPDX-License-Identifier: MIT */
/* profile_cmd.h — `onnxgrad profile` and `onnxgrad bench` (profile_cmd.c),
 * and the Chrome trace writer behind every --profile option. */
#ifndef ONNXGRAD_PROFILE_CMD_H
#define ONNXGRAD_PROFILE_CMD_H

#include "onnxgrad/onnxgrad.h"

extern const char HELP_PROFILE[];
extern const char HELP_BENCH[];

int cmd_profile(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Writes prof's events to path as Chrome trace-event JSON (Perfetto,
 * chrome://tracing); one line on stderr and EXIT_FAIL when it cannot. */
int cli_write_trace(const og_profiler *prof, const char *path);

/* For run/grad --profile: a profiler attached to this thread (NULL path:
 * none, returns NULL too), and its trace written and freed afterwards;
 * cli_trace_end returns rc, or EXIT_FAIL when rc was EXIT_OK and the trace
 * could not be written. */
og_profiler *cli_trace_begin(const char *path);
int cli_trace_end(og_profiler *prof, const char *path, int rc);

/* info's "flops" section: FLOPs per op type for the inferred shapes, as
 * text on stdout (w NULL) or as a JSON object {op_type: n or null}. */
struct json_writer;
void cli_info_flops(const og_graph *g, struct json_writer *w);

#endif
