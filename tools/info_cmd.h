/* SPDX-License-Identifier: MIT */
/* info_cmd.h — what `onnxgrad info` prints beyond the graph's interface
 * (info_cmd.c): parameter count and bytes, symbolic dims and where they
 * appear, and the details of each training info. cmd_info itself stays in
 * onnxgrad.c and calls these; the FLOPs per op type come from the profile
 * command (profile_cmd.c's cli_info_flops), printed after the op counts. */
#ifndef ONNXGRAD_INFO_CMD_H
#define ONNXGRAD_INFO_CMD_H

#include "onnxgrad/onnxgrad.h"
#include "json.h"

/* Text: "parameters: N (B bytes)" and the "symbolic dims:" section. */
int info_print_extras(const og_graph *g);
/* The same as the JSON members "parameters" {count, bytes} and
 * "symbolic_dims" [{name, uses [{value, role, axis}]}]. */
int info_json_extras(json_writer *w, const og_graph *g);

/* Training info ti, after its summary line (text) or inside its JSON
 * object: op counts of the algorithm and initialization graphs and the
 * bindings ("algorithm_ops", "update" [{key, value}],
 * "initialization_ops", "initialization" [{key, value}]). */
int info_print_training(const og_training_info *ti);
int info_json_training(json_writer *w, const og_training_info *ti);

#endif
