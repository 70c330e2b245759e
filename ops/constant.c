/* SPDX-License-Identifier: MIT */
/* Constant — produces a constant tensor, given by exactly one attribute:
 * `value` (a tensor), or from opset 12 `value_float` / `value_int` (a
 * scalar float / int64), `value_floats` / `value_ints` (a 1-D float /
 * int64 tensor), `value_string` / `value_strings` (strings). Opset 11
 * added `sparse_value`. No inputs.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Constant
 *
 * Versions: 1, 9 (every tensor type), 11 (sparse_value), 12 (the value_*
 * forms), 13 (bfloat16). onnxgrad holds no strings and no sparse tensors:
 * value_string(s) are refused here, sparse_value by the loader, both as
 * unsupported. An int64 Constant is small data the engine folds at load
 * time, so a Reshape or Slice reading it knows its output shape. */
#include <stddef.h>
#include <string.h>
#include "internal.h"

typedef struct constant_params {
    const og_tensor *value;
    float value_float;
    int64_t value_int;
    og_floats value_floats;
    og_ints value_ints;
    const char *value_string;
    og_strings value_strings;
    bool has_float, has_int;   /* value_float / value_int given */
} constant_params;

static const og_attr_spec constant_attrs[] = {
    {.name = "value", .type = OG_ATTR_TENSOR, .offset = offsetof(constant_params, value)},
    {.name = "value_float", .type = OG_ATTR_FLOAT, .offset = offsetof(constant_params, value_float),
     .since_version = 12, .track_present = true, .present_offset = offsetof(constant_params, has_float)},
    {.name = "value_int", .type = OG_ATTR_INT, .offset = offsetof(constant_params, value_int),
     .since_version = 12, .track_present = true, .present_offset = offsetof(constant_params, has_int)},
    {.name = "value_floats", .type = OG_ATTR_FLOATS, .offset = offsetof(constant_params, value_floats),
     .since_version = 12},
    {.name = "value_ints", .type = OG_ATTR_INTS, .offset = offsetof(constant_params, value_ints),
     .since_version = 12},
    {.name = "value_string", .type = OG_ATTR_STRING, .offset = offsetof(constant_params, value_string),
     .since_version = 12},
    {.name = "value_strings", .type = OG_ATTR_STRINGS, .offset = offsetof(constant_params, value_strings),
     .since_version = 12},
};

static og_status constant_infer(og_infer_call *c)
{
    const constant_params *p = c->params;
    const char *node = c->node->name;
    const char *given[7];
    int n = 0;
    og_tinfo res;

    if (p->value != NULL) given[n++] = "value";
    if (p->has_float) given[n++] = "value_float";
    if (p->has_int) given[n++] = "value_int";
    if (p->value_floats.present) given[n++] = "value_floats";
    if (p->value_ints.present) given[n++] = "value_ints";
    if (p->value_string != NULL) given[n++] = "value_string";
    if (p->value_strings.present) given[n++] = "value_strings";
    if (n == 0)
        return og_err(OG_ERR_ATTR, "node '%s' (Constant): no value given; expected exactly one of %s",
                      node, c->opset >= 12 ? "value, value_float, value_floats, value_int, value_ints, "
                                             "value_string or value_strings" : "value");
    if (n > 1)
        return og_err(OG_ERR_ATTR, "node '%s' (Constant): both %s and %s given; expected exactly one "
                      "value attribute", node, given[0], given[1]);
    if (p->value_string != NULL || p->value_strings.present)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Constant): %s makes a string tensor, which "
                      "onnxgrad cannot hold", node, given[0]);

    res.shape.rank = 0;
    if (p->value != NULL) {
        const og_tensor *t = p->value;
        if (og_dtype_size(t->dtype) == 0)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Constant): value has type %s, which onnxgrad "
                          "cannot hold", node, og_dtype_name(t->dtype));
        res.dtype = t->dtype;
        res.shape.rank = t->rank;
        memcpy(res.shape.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    } else if (p->has_float || p->has_int) {
        res.dtype = p->has_float ? OG_FLOAT : OG_INT64;
    } else {
        res.dtype = p->value_floats.present ? OG_FLOAT : OG_INT64;
        res.shape.rank = 1;
        res.shape.dims[0] = p->value_floats.present ? p->value_floats.n : p->value_ints.n;
    }
    c->workspace_bytes = 0;
    if (c->out[0] != NULL)
        *c->out[0] = res;
    return OG_OK;
}

static og_status constant_run(const og_kernel_call *k)
{
    const constant_params *p = k->params;
    og_tensor *out = k->out[0];
    const void *src;
    og_dtype t;
    int64_t n;

    if (out == NULL)
        return OG_OK;
    if (p->value != NULL) {
        src = p->value->data, t = p->value->dtype, n = p->value->numel;
    } else if (p->has_float) {
        src = &p->value_float, t = OG_FLOAT, n = 1;
    } else if (p->has_int) {
        src = &p->value_int, t = OG_INT64, n = 1;
    } else if (p->value_floats.present) {
        src = p->value_floats.v, t = OG_FLOAT, n = p->value_floats.n;
    } else {
        src = p->value_ints.v, t = OG_INT64, n = p->value_ints.n;
    }
    if (out->dtype != t || out->numel != n)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Constant): output has %lld %s elements, expected "
                      "%lld %s", k->node->name, (long long)out->numel, og_dtype_name(out->dtype),
                      (long long)n, og_dtype_name(t));
    /* numel * size fits: the engine allocated the output at this size */
    if (n > 0)
        memcpy(out->data, src, (size_t)n * og_dtype_size(t));
    return OG_OK;
}

const og_op og_op_constant = {
    .name = "Constant",
    .domain = "",
    .since_version = 1,
    .min_inputs = 0, .max_inputs = 0,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0,
    .diff_outputs = 0,
    .attrs = constant_attrs,
    .n_attrs = (int)(sizeof constant_attrs / sizeof constant_attrs[0]),
    .params_size = sizeof(constant_params),
    .infer = constant_infer,
    .run = constant_run,
    .backward = NULL,
    .cost = og_cost_zero,
};
