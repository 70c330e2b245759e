/* SPDX-License-Identifier: MIT */
/* GatherElements — picks one element of `data` for every element of
 * `indices`: at position p of indices,
 *     output[p] = data[p with p[axis] replaced by indices[p]]
 * so the output has indices' shape and data's type. data and indices have
 * the same rank r >= 1. It is the inverse of ScatterElements and PyTorch's
 * torch.gather.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#GatherElements
 *
 * Versions: 11 (axis, negative allowed), 13 (bfloat16). Every type
 * onnxgrad holds; float16/bfloat16/string/complex are refused as
 * unsupported. indices are int32 or int64; a negative index counts from
 * the end; one outside [-s, s-1] is an error naming it, its position and
 * the bound, raised before data is read through it. On every axis but
 * `axis` an indices dim may be at most the data dim (elements_axis.h).
 *
 * Backward: for data (gather_backward). */
#include <stddef.h>
#include <string.h>
#include "internal.h"
#include "elements_axis.h"

typedef struct gather_params {
    int64_t axis;
} gather_params;

static const og_attr_spec gather_attrs[] = {
    { .name = "axis", .type = OG_ATTR_INT, .offset = offsetof(gather_params, axis), .def_i = 0 },
};

static og_status gather_infer(og_infer_call *c)
{
    const gather_params *p = c->params;
    const og_tinfo *d = c->in[0], *ind = c->in[1];
    int axis;
    og_status st;

    if (!d || !ind)
        return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (GatherElements): inputs data and indices are required, "
                      "got %s omitted", c->node->name, !d ? "data" : "indices");
    if ((st = elem_infer_common(c, "GatherElements", p->axis, &axis)) != OG_OK)
        return st;
    c->workspace_bytes = 0;
    og_tinfo *y = c->out[0];
    if (!y)
        return OG_OK;
    y->dtype = d->dtype;
    y->shape = ind->shape;
    if (ind->shape.rank < 0) {
        y->shape.rank = d->shape.rank;
        for (int a = 0; a < d->shape.rank; a++)
            y->shape.dims[a] = -1;
    }
    return OG_OK;
}

/* Element copies by size: the type does not matter to a gather. */
#define DEFINE_GATHER(T)                                                                  \
    static og_status gather_##T(elem_walk *w, int64_t n, const T *d, T *y)               \
    {                                                                                     \
        int64_t off = 0;                                                                  \
        og_status st;                                                                     \
        for (int64_t q = 0; q < n; q++) {                                                 \
            if ((st = elem_walk_next(w, q, &off)) != OG_OK)                               \
                return st;                                                                \
            y[q] = d[off];                                                                \
        }                                                                                 \
        return OG_OK;                                                                     \
    }

DEFINE_GATHER(uint8_t)
DEFINE_GATHER(uint16_t)
DEFINE_GATHER(uint32_t)
DEFINE_GATHER(uint64_t)

static og_status gather_run(const og_kernel_call *k)
{
    const gather_params *p = k->params;
    const og_tensor *d = k->in[0], *ind = k->in[1];
    og_tensor *y = k->out[0];
    const char *node = k->node->name;

    if (!y)
        return OG_OK;
    int axis = (int)(p->axis < 0 ? p->axis + d->rank : p->axis);
    bool ok = elem_run_ok(d, ind, axis) && y->dtype == d->dtype && y->rank == ind->rank;
    for (int a = 0; ok && a < ind->rank; a++)
        ok = y->dims[a] == ind->dims[a];
    if (!ok)
        return og_err(OG_ERR_INTERNAL, "node '%s' (GatherElements): tensors do not match the inferred shapes",
                      node);
    elem_walk w;
    elem_walk_init(&w, k->node, "GatherElements", d, ind, axis);
    switch (og_dtype_size(d->dtype)) {
    case 1: return gather_uint8_t(&w, ind->numel, d->data, y->data);
    case 2: return gather_uint16_t(&w, ind->numel, d->data, y->data);
    case 4: return gather_uint32_t(&w, ind->numel, d->data, y->data);
    case 8: return gather_uint64_t(&w, ind->numel, d->data, y->data);
    default:
        return og_err(OG_ERR_INTERNAL, "node '%s' (GatherElements): no kernel for type %s", node,
                      og_dtype_name(d->dtype));
    }
}

/* Backward: every output element came from one data element, so d data
 * collects dY at the positions the indices name, adding where several
 * indices name the same one: ScatterElements(zeros like data, indices, dY,
 * reduction "add"). */
static og_status gather_backward(og_backward_call *b)
{
    const gather_params *p = b->params;
    og_attr at[2] = { og_attr_int("axis", p->axis), og_attr_string("reduction", "add") };
    const char *ins[3] = { NULL, b->in[1], b->dout[0] };
    og_status st;

    if (!b->need[0])
        return OG_OK;
    if ((st = og_grad_zeros_like(b, b->in[0], &b->in_info[0], &ins[0])))
        return st;
    return og_grad_emit(b, "ScatterElements", 3, ins, 1, &b->din[0], 2, at);
}

const og_op og_op_gatherelements = {
    .name = "GatherElements",
    .domain = "",
    .since_version = 11,
    .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,   /* data; indices are integers */
    .diff_outputs = 0x1,
    .attrs = gather_attrs,
    .n_attrs = (int)(sizeof gather_attrs / sizeof gather_attrs[0]),
    .params_size = sizeof(gather_params),
    .infer = gather_infer,
    .run = gather_run,
    .backward = gather_backward,
    .cost = og_cost_zero,
};
