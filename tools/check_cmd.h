/* SPDX-License-Identifier: MIT */
/* check_cmd.h — the `onnxgrad check` command (check_cmd.c). */
#ifndef ONNXGRAD_CHECK_CMD_H
#define ONNXGRAD_CHECK_CMD_H

extern const char HELP_CHECK[];
int cmd_check(int argc, char **argv);

#endif
