/* SPDX-License-Identifier: MIT */
/* train_internal.h — between the training-step builder (src/train_build.c)
 * and the trainer (src/trainer.c). */
#ifndef ONNXGRAD_TRAIN_INTERNAL_H
#define ONNXGRAD_TRAIN_INTERNAL_H

#include "onnxgrad/train.h"

/* The finalized, runnable step graph of a model carrying a training step
 * (training_info 0): og_training_algorithm_graph with every bound
 * initializer also a graph input, so a plan can bind it as state.
 * Ownership: *out is the caller's. */
og_status og_train_step_graph(const og_graph *base, og_graph **out);

const char *og_train_optimizer_name(og_optimizer o);
const char *og_train_loss_name(og_loss_fn l);
const char *og_train_schedule_name(og_lr_schedule s);

#endif
