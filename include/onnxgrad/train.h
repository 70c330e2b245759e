/* SPDX-License-Identifier: MIT */
/* onnxgrad/train.h — training a model: the training step as an ONNX
 * graph, and the loop's library calls.
 *
 * og_training_build turns a model into a copy that carries its training
 * step the ONNX way, in a TrainingInfoProto: the `algorithm` graph runs
 * forward → loss → the gradient graph → gradient clipping → optimiser
 * updates (standard ops and ai.onnx.preview.training's Momentum, Adam and
 * Adagrad), and `update_binding` writes the new weights, optimiser state,
 * step count and BatchNormalization running statistics back to the
 * model's initializers. The settings are kept in the model's metadata
 * (keys "onnxgrad.train.*"), so a saved model continues training where it
 * stopped and any ONNX tool can read how.
 *
 * og_trainer runs that step: one run of one compiled plan per batch, the
 * state held in the trainer's tensors through the plan's state bindings
 * (no graph building and no allocation after the first step of a batch
 * size).
 *
 *     og_train_options o = OG_TRAIN_OPTIONS_INIT;
 *     o.loss_fn = OG_LOSS_SOFTMAX_CROSS_ENTROPY;
 *     o.optimizer = OG_OPTIM_MOMENTUM; o.lr = 0.01; o.momentum = 0.9;
 *     og_trainer *t;
 *     og_trainer_create(model, &o, 0, &t);
 *     og_trainer_step(t, x, labels, &loss);        // per batch
 *     og_graph *trained; og_trainer_export(t, &trained);
 */
#ifndef ONNXGRAD_TRAIN_H
#define ONNXGRAD_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "onnxgrad/graph.h"
#include "onnxgrad/tensor.h"
#include "onnxgrad/training_info.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum og_optimizer {
    OG_OPTIM_SGD = 0,      /* W -= lr (G + weight_decay W) */
    OG_OPTIM_MOMENTUM,     /* ONNX Momentum = torch.optim.SGD(momentum, weight_decay[, nesterov]) */
    OG_OPTIM_ADAM,         /* ONNX Adam (its epsilon sits before the bias correction, torch's after) */
    OG_OPTIM_ADAGRAD       /* ONNX Adagrad = torch.optim.Adagrad(lr_decay=0) */
} og_optimizer;

typedef enum og_loss_fn {
    OG_LOSS_MODEL = 0,              /* the model computes it: output `loss` */
    OG_LOSS_SOFTMAX_CROSS_ENTROPY,  /* mean SoftmaxCrossEntropyLoss of the output and int64 labels */
    OG_LOSS_MSE                     /* mean squared error against one-hot labels (or float targets) */
} og_loss_fn;

typedef enum og_lr_schedule {
    OG_LR_CONSTANT = 0,
    OG_LR_STEP,            /* lr * gamma^floor(epoch / step_epochs) (torch StepLR) */
    OG_LR_COSINE           /* lr (1 + cos(pi epoch / epochs)) / 2 (torch CosineAnnealingLR, eta_min 0) */
} og_lr_schedule;

/* Start from OG_TRAIN_OPTIONS_INIT (it holds PyTorch's defaults) and set
 * what you need. Names are borrowed for the call. */
typedef struct og_train_options {
    size_t struct_size;        /* sizeof(og_train_options) */
    og_loss_fn loss_fn;
    const char *loss;          /* OG_LOSS_MODEL: the model output holding the loss (one element) */
    const char *input_name;    /* data input; NULL: the model's only float input */
    const char *output_name;   /* output the loss reads; NULL: the first output */
    const char *label_name;    /* OG_LOSS_MODEL: the model input the labels feed (NULL: the only
                                * input besides the data, if any); otherwise the name of the
                                * labels input the loss adds (NULL: "labels") */
    og_dtype label_dtype;      /* OG_INT64 class indices (default), or float targets for mse */
    int n_trainable;           /* 0: every float initializer of rank >= 1 that the loss reaches
                                * through a differentiable input, except running statistics */
    const char *const *trainable;
    og_optimizer optimizer;
    double lr;
    double momentum;           /* Momentum */
    bool nesterov;             /* Momentum */
    double weight_decay;       /* L2 term added to the gradient (every optimiser) */
    double beta1, beta2;       /* Adam */
    double epsilon;            /* Adam (1e-8), Adagrad (1e-10) */
    double clip_norm;          /* > 0: scale the gradients so their global L2 norm is at most this */
    og_lr_schedule schedule;
    int step_epochs;           /* OG_LR_STEP */
    double gamma;              /* OG_LR_STEP */
    int epochs;                /* OG_LR_COSINE: the epochs the cosine spans */
} og_train_options;

#define OG_TRAIN_OPTIONS_INIT                                                                           \
    { sizeof(og_train_options), OG_LOSS_SOFTMAX_CROSS_ENTROPY, NULL, NULL, NULL, NULL, OG_INT64, 0, NULL, \
      OG_OPTIM_SGD, 0.01, 0.0, false, 0.0, 0.9, 0.999, 0.0, 0.0, OG_LR_CONSTANT, 1, 0.1, 1 }

/* A copy of the finalized model carrying its training step (see the top of
 * this file): the model with the optimiser state as new initializers
 * (zeros), an int64 step counter "onnxgrad.step", and one
 * TrainingInfoProto whose algorithm reads the data input, the labels and
 * a float scalar learning rate "lr", and outputs the loss first. A model
 * that already has training info is refused (clear it first).
 * Ownership: *out is the caller's; free with og_graph_free. */
OG_API og_status og_training_build(const og_graph *model, const og_train_options *opts, og_graph **out);

/* The settings og_training_build stored in g's metadata. *found false (and
 * o untouched) when g carries none. Names point into g. */
OG_API og_status og_training_settings(const og_graph *g, og_train_options *o, bool *found);

/* The learning rate of `epoch` (0-based) under o's schedule. */
OG_API double og_train_lr(const og_train_options *o, int epoch);

typedef struct og_trainer og_trainer;

/* A trainer for `model`. With opts, the training step is built from them
 * (og_training_build); with opts NULL, the model must carry a training step
 * onnxgrad built (a checkpoint), which is resumed: its weights, optimiser
 * state and step count. n_threads 0: OG_NUM_THREADS, else the cores. The
 * model is copied: it may be freed afterwards.
 * Ownership: *out is the caller's; free with og_trainer_free. */
OG_API og_status og_trainer_create(const og_graph *model, const og_train_options *opts, int n_threads,
                                   og_trainer **out);
OG_API void og_trainer_free(og_trainer *t);

/* The settings in force (names owned by the trainer). */
OG_API const og_train_options *og_trainer_options(const og_trainer *t);

/* Sets the epoch (0-based) whose learning rate the next steps use. */
OG_API void og_trainer_set_epoch(og_trainer *t, int epoch);

/* One training step on a batch: x binds the data input, labels the labels
 * (dim 0 of both is the batch; a model with a fixed batch takes only that
 * size). *loss (may be NULL) receives the batch's loss. A failed step
 * changes nothing. */
OG_API og_status og_trainer_step(og_trainer *t, const og_tensor *x, const og_tensor *labels, double *loss);

/* Steps taken so far (restored by resuming). */
OG_API int64_t og_trainer_num_steps(const og_trainer *t);

/* ---- data-parallel training ----------------------------------------------
 * A step in two halves, for a caller that combines the gradients of
 * several processes (`onnxgrad train --distributed` sums them over MPI):
 * og_trainer_compute_gradients runs forward, loss and backward (and
 * updates BatchNormalization's running statistics from this batch); the
 * gradients of the mean loss, one per trainable weight, are then the
 * trainer's tensors, which the caller may overwrite (with the mean over
 * every process's batch); og_trainer_apply_gradients runs the clipping and
 * the optimiser on them. Together they do what og_trainer_step does. */
OG_API og_status og_trainer_compute_gradients(og_trainer *t, const og_tensor *x, const og_tensor *labels,
                                              double *loss);
OG_API og_status og_trainer_apply_gradients(og_trainer *t);
/* The trainable weights' gradients (NULL before the first
 * og_trainer_compute_gradients); the tensors belong to the trainer. */
OG_API int og_trainer_num_gradients(const og_trainer *t);
OG_API og_tensor *og_trainer_gradient(og_trainer *t, int k);

/* The model's output (output_name) for x, with the current weights, in
 * inference behaviour (BatchNormalization's running statistics).
 * Ownership: *out belongs to the trainer, valid until its next call. */
OG_API og_status og_trainer_predict(og_trainer *t, const og_tensor *x, const og_tensor **out);

/* The model with the current weights and state, and its training step
 * (finalized): save it to score it anywhere or to continue training.
 * Ownership: *out is the caller's; free with og_graph_free. */
OG_API og_status og_trainer_export(const og_trainer *t, og_graph **out);

#ifdef __cplusplus
}
#endif
#endif
