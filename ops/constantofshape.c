/* SPDX-License-Identifier: MIT */
/* ConstantOfShape — a tensor whose shape is the data of the int64 1-D
 * input, every element set to `value`, a one-element tensor whose type is
 * the output's (default: float 0). All shape values must be >= 0; an
 * empty shape gives a scalar, a 0 in it an empty tensor.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#ConstantOfShape
 *
 * Versions: 9 (opset 20 adds types onnxgrad does not hold). Every type
 * onnxgrad holds. At load time the output shape is known only when the
 * input's data is (an initializer or a folded Shape/Constant); otherwise
 * the input's length still fixes the output rank. Not differentiable. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

typedef struct constantofshape_params {
    const og_tensor *value;   /* NULL: float 0 */
} constantofshape_params;

static const og_attr_spec constantofshape_attrs[] = {
    {.name = "value", .type = OG_ATTR_TENSOR, .offset = offsetof(constantofshape_params, value)},
};

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

static og_status constantofshape_infer(og_infer_call *c)
{
    const constantofshape_params *p = c->params;
    const char *node = c->node->name;
    const og_tinfo *s = c->in[0];
    const og_tensor *sv = c->in_value[0];
    char buf[OG_SHAPE_STR_MAX];
    og_tinfo res = { OG_FLOAT, { -1, { 0 } } };
    og_status st;

    if (p->value != NULL) {
        if (og_dtype_size(p->value->dtype) == 0)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (ConstantOfShape): value has type %s, which "
                          "onnxgrad cannot hold", node, og_dtype_name(p->value->dtype));
        if (p->value->numel != 1)
            return og_err(OG_ERR_ATTR, "node '%s' (ConstantOfShape): value must hold one element, got "
                          "%lld", node, (long long)p->value->numel);
        res.dtype = p->value->dtype;
    }
    if (s->dtype != OG_UNDEFINED && s->dtype != OG_INT64)
        return og_err(OG_ERR_SHAPE, "node '%s' (ConstantOfShape): input '%s' has type %s, expected int64",
                      node, in_name(c, 0), og_dtype_name(s->dtype));
    if (s->shape.rank >= 0 && s->shape.rank != 1)
        return og_err(OG_ERR_SHAPE, "node '%s' (ConstantOfShape): input '%s' must be 1-D, got shape %s",
                      node, in_name(c, 0), og_shape_str(&s->shape, buf, sizeof buf));

    int64_t n = sv != NULL ? sv->numel : s->shape.rank == 1 ? s->shape.dims[0] : -1;
    if (n > OG_MAX_RANK)
        return og_err(OG_ERR_LIMIT, "node '%s' (ConstantOfShape): input '%s' has %lld entries; onnxgrad "
                      "supports rank <= %d", node, in_name(c, 0), (long long)n, OG_MAX_RANK);
    if (n >= 0) {
        char what[300];
        snprintf(what, sizeof what, "node '%s' (ConstantOfShape): output '%s'", node,
                 c->out_names[0] != NULL ? c->out_names[0] : "?");
        if ((st = og_check_rank_limit((int)n, what)) != OG_OK)
            return st;
        res.shape.rank = (int)n;
        for (int d = 0; d < (int)n; d++)
            res.shape.dims[d] = -1;
    }
    if (sv != NULL) {
        if (sv->dtype != OG_INT64 || sv->rank != 1)
            return og_err(OG_ERR_SHAPE, "node '%s' (ConstantOfShape): input '%s' must be 1-D int64, got "
                          "a %s tensor of rank %d", node, in_name(c, 0), og_dtype_name(sv->dtype), sv->rank);
        const int64_t *v = sv->data;
        for (int d = 0; d < (int)n; d++) {
            if (v[d] < 0)
                return og_err(OG_ERR_SHAPE, "node '%s' (ConstantOfShape): input '%s' has %lld at position "
                              "%d; expected dims >= 0", node, in_name(c, 0), (long long)v[d], d);
            res.shape.dims[d] = v[d];
        }
    }
    c->workspace_bytes = 0;
    if (c->out[0] != NULL)
        *c->out[0] = res;
    return OG_OK;
}

#define FILL_LOOP(T)                                    \
    do {                                                \
        T v;                                            \
        T *y = (T *)out->data;                          \
        memcpy(&v, value, sizeof v);                    \
        for (int64_t i = 0; i < out->numel; i++)        \
            y[i] = v;                                   \
    } while (0)

static og_status constantofshape_run(const og_kernel_call *k)
{
    const constantofshape_params *p = k->params;
    og_tensor *out = k->out[0];
    static const float zero = 0.0f;
    const void *value = p->value != NULL ? p->value->data : &zero;
    og_dtype t = p->value != NULL ? p->value->dtype : OG_FLOAT;

    if (out == NULL)
        return OG_OK;
    if (out->dtype != t)
        return og_err(OG_ERR_INTERNAL, "node '%s' (ConstantOfShape): output is %s, expected %s",
                      k->node->name, og_dtype_name(out->dtype), og_dtype_name(t));
    /* bytes of the value's width: every type is a plain copy */
    switch (og_dtype_size(t)) {
    case 1: FILL_LOOP(uint8_t); break;
    case 2: FILL_LOOP(uint16_t); break;
    case 4: FILL_LOOP(uint32_t); break;
    case 8: FILL_LOOP(uint64_t); break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (ConstantOfShape): no kernel for type %s",
                      k->node->name, og_dtype_name(t));
    }
    return OG_OK;
}

const og_op og_op_constantofshape = {
    .name = "ConstantOfShape",
    .domain = "",
    .since_version = 9,
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0,
    .diff_outputs = 0,
    .attrs = constantofshape_attrs,
    .n_attrs = (int)(sizeof constantofshape_attrs / sizeof constantofshape_attrs[0]),
    .params_size = sizeof(constantofshape_params),
    .infer = constantofshape_infer,
    .run = constantofshape_run,
    .backward = NULL,
    .cost = og_cost_zero,
};
