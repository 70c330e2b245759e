/* SPDX-License-Identifier: MIT */
/* onnxgrad.h — an ONNX-compatible graph runtime with reverse-mode autodiff.
 *
 * Worked example: build y = Relu(x), run it, print it.
 *
 *     #include <onnxgrad/onnxgrad.h>
 *     og_graph *g; og_plan *p; og_tensor *x, *y;
 *     int64_t dims[2] = {1, 3};
 *     const char *in[] = {"x"}, *out[] = {"y"};
 *     og_graph_create(&g);
 *     og_graph_set_opset(g, "", 17);
 *     og_graph_add_input(g, "x", OG_FLOAT, 2, dims, NULL);
 *     og_graph_add_node(g, "Relu", NULL, "relu", 1, in, 1, out, 0, NULL);
 *     og_graph_add_output(g, "y");
 *     if (og_graph_finalize(g) != OG_OK) puts(og_errmsg());
 *     og_plan_create(g, &p);
 *     og_tensor_create_from(OG_FLOAT, 2, dims, (float[]){-1, 0, 2}, &x);
 *     og_plan_run(p, 1, (const og_tensor *const[]){x}, &y);   // y = {0, 0, 2}
 *     og_tensor_free(x); og_tensor_free(y); og_plan_free(p); og_graph_free(g);
 *
 * Every call returns an og_status (OG_OK = 0); og_errmsg() says what failed.
 * The headers below each hold one concern. */
#ifndef ONNXGRAD_H
#define ONNXGRAD_H

#include "onnxgrad/status.h"
#include "onnxgrad/alloc.h"
#include "onnxgrad/tensor.h"
#include "onnxgrad/data.h"
#include "onnxgrad/graph.h"
#include "onnxgrad/training_info.h"
#include "onnxgrad/exec.h"
#include "onnxgrad/onnx_io.h"
#include "onnxgrad/npy.h"
#include "onnxgrad/limits.h"
#include "onnxgrad/autodiff.h"
#include "onnxgrad/check.h"
#include "onnxgrad/layers.h"
#include "onnxgrad/train.h"
#include "onnxgrad/profile.h"

#define OG_VERSION_STRING "0.1.0"

/* The version of the library actually loaded, OG_VERSION_STRING as it was
 * built (for bindings that load the shared library at run time, such as
 * the Python module, to check they match it). Never NULL. */
#ifdef __cplusplus
extern "C" {
#endif
OG_API const char *og_version(void);
#ifdef __cplusplus
}
#endif

#endif
