/* SPDX-License-Identifier: MIT */
/* dot_cmd.h — `onnxgrad dot` (dot_cmd.c): a model's graph, its gradient
 * graph or its training algorithm drawn through Graphviz. */
#ifndef ONNXGRAD_DOT_CMD_H
#define ONNXGRAD_DOT_CMD_H

extern const char HELP_DOT[];
int cmd_dot(int argc, char **argv);

#endif
