/* SPDX-License-Identifier: MIT */
/* grad_cmds.h — the autodiff subcommands of `onnxgrad` (grad_cmds.c):
 * grad, gradient-graph and gradcheck. Each takes argv from its own name
 * on and returns the exit status. */
#ifndef ONNXGRAD_GRAD_CMDS_H
#define ONNXGRAD_GRAD_CMDS_H

int cmd_grad(int argc, char **argv);
int cmd_gradient_graph(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);

/* The help text of one of these commands; NULL for any other name. */
const char *grad_cmds_help(const char *cmd);

#endif
