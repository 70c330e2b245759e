/* SPDX-License-Identifier: MIT */
/* test_cmd.h — `onnxgrad test` (test_cmd.c). */
#ifndef ONNXGRAD_TEST_CMD_H
#define ONNXGRAD_TEST_CMD_H

extern const char HELP_TEST[];
int cmd_test(int argc, char **argv);

#endif
