/* SPDX-License-Identifier: MIT */
/* train_cmd.h — `onnxgrad train` and `onnxgrad eval` (train_cmd.c). */
#ifndef ONNXGRAD_TRAIN_CMD_H
#define ONNXGRAD_TRAIN_CMD_H

extern const char HELP_TRAIN[];
extern const char HELP_EVAL[];
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);

#endif
