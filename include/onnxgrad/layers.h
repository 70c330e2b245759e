/* SPDX-License-Identifier: MIT */
/* onnxgrad/layers.h — a layer builder: networks in a few lines of C.
 *
 * An og_net appends layers to one chain, starting at the graph input, and
 * keeps track of the current tensor's shape, so each layer knows its fan-in
 * and can check its geometry. Errors are sticky: the first failing call is
 * recorded on the net (status and a message naming the layer), and every
 * later call does nothing, so no call needs checking; og_net_finish returns
 * that first error. LeNet-5 on a dynamic batch:
 *
 *     og_net *n;
 *     og_graph *g;
 *     og_net_create("image", 4, (int64_t[]){ -1, 1, 28, 28 }, 42, &n);
 *     og_net_conv(n, 6, 5, 1, 2);  og_net_relu(n);  og_net_maxpool(n, 2, 2);
 *     og_net_conv(n, 16, 5, 1, 0); og_net_relu(n);  og_net_maxpool(n, 2, 2);
 *     og_net_flatten(n);
 *     og_net_dense(n, 120); og_net_relu(n);
 *     og_net_dense(n, 84);  og_net_relu(n);
 *     og_net_dense(n, 10);
 *     if (og_net_finish(n, "logits", &g) != OG_OK) puts(og_errmsg());
 *
 * The graph is ordinary ONNX (opset 17, default domain, as
 * torch.onnx.export writes it): float32, the input's first dim symbolic
 * "N" when dims[0] < 0; parameters are initializers named as PyTorch names
 * a module's (conv1.weight, conv1.bias, fc1.weight, bn1.running_mean, ...),
 * each layer kind numbered from 1 in order (conv1, conv2, fc1, relu3, ...);
 * a layer's node carries that name and its output is "<layer>.out" (the
 * last one: the name given to og_net_finish).
 *
 * Initialisation: each weight and bias tensor draws from its own stream,
 * splitmix64 seeded with seed XOR FNV-1a-64(tensor name), so a tensor's
 * values depend only on the seed and its name (same seed, same bits; adding
 * a layer later in the chain changes nothing before it). A uniform draw
 * is (float)(b (2u - 1)) in double, u = (top 24 bits of one output) / 2^24;
 * a normal one is Box–Muller, u1 = (top 53 bits + 1) / 2^53, u2 = top 53
 * bits / 2^53 of the next two outputs, giving sqrt(-2 ln u1) cos(2 pi u2)
 * and then sin(2 pi u2) (so its bits are the C library's log/sin/cos).
 * fan_in = input channels / group × kernel elements (in_features for
 * dense), fan_out = output channels × kernel elements, as torch.nn.init
 * computes them; a bias uses its layer's weight fans. */
#ifndef ONNXGRAD_LAYERS_H
#define ONNXGRAD_LAYERS_H

#include <stdbool.h>
#include <stdint.h>
#include "onnxgrad/graph.h"
#include "onnxgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct og_net og_net;

/* Initialisation schemes (PyTorch's torch.nn.init names in brackets). */
typedef enum og_init {
    /* What torch.nn.Conv*d / Linear do by default: weight
     * kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in));
     * bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    OG_INIT_TORCH_DEFAULT = 0,
    OG_INIT_HE_UNIFORM,       /* U(-b, b), b = sqrt(6 / fan_in) [kaiming_uniform_, relu] */
    OG_INIT_HE_NORMAL,        /* N(0, 2 / fan_in) [kaiming_normal_, relu] */
    OG_INIT_XAVIER_UNIFORM,   /* U(-b, b), b = sqrt(6 / (fan_in + fan_out)) [xavier_uniform_] */
    OG_INIT_XAVIER_NORMAL,    /* N(0, 2 / (fan_in + fan_out)) [xavier_normal_] */
    OG_INIT_ZEROS             /* all 0 [zeros_] */
} og_init;

/* Starts a net whose graph input is `input_name` (float32, rank 2..5,
 * dims[0] < 0 for a dynamic batch named "N", every other dim > 0); `seed`
 * seeds the initialisers. Errors: a bad name or dims, one sample over
 * OG_LIMIT_TENSOR_ELEMENTS, out of memory. Ownership: *out is the caller's, freed by
 * og_net_finish or og_net_free. On failure *out is NULL (and the layer
 * calls and og_net_finish accept that NULL, the last returning an error). */
OG_API og_status og_net_create(const char *input_name, int rank, const int64_t *dims, uint64_t seed,
                               og_net **out);

/* Initialisers of the weights and biases of later conv and dense layers
 * (default OG_INIT_TORCH_DEFAULT for both). BatchNormalization always
 * starts at scale 1, bias 0, running mean 0, running variance 1. */
OG_API void og_net_set_init(og_net *n, og_init weights, og_init bias);

/* Convolution (Conv) over every spatial axis of an [N, C, D1, ...] tensor:
 * the same kernel size, stride and padding (both sides) on each; weight
 * [out_channels, C / group, kernel, ...]. stride >= 1, pad >= 0,
 * dilation >= 1, group divides C and out_channels. Names: convK.weight,
 * convK.bias. */
OG_API void og_net_conv(og_net *n, int64_t out_channels, int kernel, int stride, int pad);
OG_API void og_net_conv_ex(og_net *n, int64_t out_channels, int kernel, int stride, int pad, int dilation,
                           int64_t group, bool bias);

/* MaxPool / AveragePool over every spatial axis; stride 0 means stride =
 * kernel (PyTorch's default). The _ex forms pad both sides of each axis;
 * AveragePool counts the padding as PyTorch does (count_include_pad = 1). */
OG_API void og_net_maxpool(og_net *n, int kernel, int stride);
OG_API void og_net_maxpool_ex(og_net *n, int kernel, int stride, int pad);
OG_API void og_net_avgpool(og_net *n, int kernel, int stride);
OG_API void og_net_avgpool_ex(og_net *n, int kernel, int stride, int pad);
/* GlobalAveragePool: [N, C, D1, ...] -> [N, C, 1, ...]. */
OG_API void og_net_global_avgpool(og_net *n);

/* Elementwise activations. */
OG_API void og_net_relu(og_net *n);
OG_API void og_net_tanh(og_net *n);
OG_API void og_net_sigmoid(og_net *n);

/* Flatten (axis 1): [N, C, D1, ...] -> [N, C·D1·...]. */
OG_API void og_net_flatten(og_net *n);

/* Fully connected on [N, in_features]: Gemm(x, W, b) with transB = 1, as
 * torch.nn.Linear exports; W [out_features, in_features]. Names: fcK.weight,
 * fcK.bias. */
OG_API void og_net_dense(og_net *n, int64_t out_features);
OG_API void og_net_dense_ex(og_net *n, int64_t out_features, bool bias);

/* BatchNormalization over the channel axis (1) of an [N, C, ...] tensor,
 * inference form (training_mode 0), as torch.nn.BatchNorm*d exports in
 * eval mode: epsilon 1e-5, momentum 0.9 (PyTorch's momentum 0.1). Names:
 * bnK.weight (1), bnK.bias (0), bnK.running_mean (0), bnK.running_var (1).
 * A trainer that wants batch statistics sets training_mode and asks for the
 * running outputs itself. */
OG_API void og_net_batchnorm(og_net *n);

/* Dropout with drop probability ratio in [0, 1): Dropout(x, ratio,
 * training_mode), ratio a Constant node "dropoutK.ratio", training_mode the
 * net's graph input "training_mode" (bool scalar, shared by every dropout
 * layer) whose initializer is false: plain runs are inference (the output
 * is the input); feed training_mode = true to drop. */
OG_API void og_net_dropout(og_net *n, float ratio);

/* OG_OK, or the first error; its message (also og_errmsg() right after the
 * failing call) names the layer. og_net_errmsg: "" when there is none;
 * owned by the net. A NULL net is OG_ERR_INVALID_ARG. */
OG_API og_status og_net_status(const og_net *n);
OG_API const char *og_net_errmsg(const og_net *n);

/* Shape of the current tensor (the last layer's output, or the input):
 * its rank and dims (dims[0] -1 for the dynamic batch; `dims` needs
 * OG_MAX_RANK slots, or is NULL). Errors: the net's sticky error. */
OG_API og_status og_net_shape(const og_net *n, int *rank, int64_t *dims);

/* Names the last layer's output `output_name` (NULL: "output"), makes it
 * the graph output, declared with the shape the net tracked (the batch
 * "N" when the input's is dynamic), and finalizes the graph (validation
 * and shape inference). Frees the
 * net whatever happens. Returns the net's first error (og_errmsg() is its
 * message again) if it has one. Ownership: on success *out is the
 * caller's (og_graph_free); on failure *out is NULL. */
OG_API og_status og_net_finish(og_net *n, const char *output_name, og_graph **out);

/* Frees a net without building its graph. NULL is allowed. */
OG_API void og_net_free(og_net *n);

#ifdef __cplusplus
}
#endif
#endif
