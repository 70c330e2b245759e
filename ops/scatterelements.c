/* SPDX-License-Identifier: MIT */
/* ScatterElements — a copy of `data` with the elements of `updates` written
 * at the positions `indices` names along `axis`: for every position p of
 * indices (and updates, which has the same shape),
 *     output[p with p[axis] replaced by indices[p]] = updates[p]
 * (+= for reduction "add", *= for "mul"). data, indices and updates have
 * the same rank r >= 1; the output has data's shape and type.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#ScatterElements
 *
 * Versions: 11 (axis, negative allowed), 13 (bfloat16), 16 (`reduction`:
 * none, add, mul). Every type onnxgrad holds; float16/bfloat16/string/
 * complex are refused as unsupported. indices are int32 or int64; a
 * negative index counts from the end; one outside [-s, s-1] is an error
 * naming it, its position and the bound, raised before it is written
 * through. On the shape rules see elements_axis.h.
 *
 * Where the spec leaves room: with reduction "none" and duplicate indices
 * the spec calls the result undefined; the last update in row-major order
 * wins, as in the ONNX reference implementation. bool "add" is logical or
 * and "mul" logical and (numpy's + and * on bools); signed integers wrap on
 * overflow.
 *
 * Backward: for data and updates, reductions "none" and "add"
 * (scatter_backward). */
#include <stddef.h>
#include <string.h>
#include "internal.h"
#include "elements_axis.h"

typedef struct scatter_params {
    int64_t axis;
    const char *reduction;
} scatter_params;

static const char *const reduction_choices[] = { "none", "add", "mul", NULL };

static const og_attr_spec scatter_attrs[] = {
    { .name = "axis", .type = OG_ATTR_INT, .offset = offsetof(scatter_params, axis), .def_i = 0 },
    { .name = "reduction", .type = OG_ATTR_STRING, .offset = offsetof(scatter_params, reduction),
      .def_s = "none", .choices = reduction_choices, .since_version = 16 },
};

static og_status scatter_infer(og_infer_call *c)
{
    const scatter_params *p = c->params;
    const char *node = c->node->name;
    const og_tinfo *d = c->in[0], *ind = c->in[1], *u = c->in[2];
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    int axis;
    og_status st;

    if (!d || !ind || !u)
        return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (ScatterElements): inputs data, indices and updates are "
                      "required, got %s omitted", node, !d ? "data" : !ind ? "indices" : "updates");
    if ((st = elem_infer_common(c, "ScatterElements", p->axis, &axis)) != OG_OK)
        return st;
    if (d->dtype != OG_UNDEFINED && u->dtype != OG_UNDEFINED && u->dtype != d->dtype)
        return og_err(OG_ERR_SHAPE, "node '%s' (ScatterElements): input updates '%s' has type %s, expected "
                      "the type of data '%s' (%s)", node, elem_name(c->in_names, 2), og_dtype_name(u->dtype),
                      elem_name(c->in_names, 0), og_dtype_name(d->dtype));
    if (d->dtype == OG_UNDEFINED && u->dtype != OG_UNDEFINED && og_dtype_size(u->dtype) == 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (ScatterElements): input updates '%s' has type %s, which "
                      "onnxgrad cannot hold", node, elem_name(c->in_names, 2), og_dtype_name(u->dtype));
    /* updates has exactly indices' shape */
    bool clash = u->shape.rank >= 0 && ind->shape.rank >= 0 && u->shape.rank != ind->shape.rank;
    for (int a = 0; !clash && u->shape.rank >= 0 && a < u->shape.rank && ind->shape.rank >= 0; a++)
        clash = u->shape.dims[a] >= 0 && ind->shape.dims[a] >= 0 && u->shape.dims[a] != ind->shape.dims[a];
    if (clash)
        return og_err(OG_ERR_SHAPE, "node '%s' (ScatterElements): input updates '%s' has shape %s, expected the "
                      "shape of indices '%s' (%s)", node, elem_name(c->in_names, 2),
                      og_shape_str(&u->shape, b1, sizeof b1), elem_name(c->in_names, 1),
                      og_shape_str(&ind->shape, b2, sizeof b2));
    /* updates stands in for indices when only its shape is known */
    if (ind->shape.rank < 0 && u->shape.rank >= 0) {
        og_infer_call c2 = *c;
        c2.in[1] = &(og_tinfo){ .dtype = ind->dtype, .shape = u->shape };
        if ((st = elem_infer_common(&c2, "ScatterElements", p->axis, &axis)) != OG_OK)
            return st;
    }

    c->workspace_bytes = 0;
    og_tinfo *y = c->out[0];
    if (!y)
        return OG_OK;
    y->dtype = d->dtype != OG_UNDEFINED ? d->dtype : u->dtype;
    y->shape = d->shape;
    if (d->shape.rank < 0) {
        /* the rank is every input's rank; the dims are data's alone */
        int r = ind->shape.rank >= 0 ? ind->shape.rank : u->shape.rank;
        y->shape.rank = r;
        for (int a = 0; a < r; a++)
            y->shape.dims[a] = -1;
    }
    return OG_OK;
}

/* Integers wrap: the arithmetic is done in uint64_t (no undefined signed
 * overflow, no promotion to int) and truncated back. Bool: "add" is or,
 * "mul" is and, so the result stays 0 or 1. */
#define ADD_NUM(T, a, b) ((a) + (b))
#define MUL_NUM(T, a, b) ((a) * (b))
#define ADD_INT(T, a, b) ((T)((uint64_t)(a) + (uint64_t)(b)))
#define MUL_INT(T, a, b) ((T)((uint64_t)(a) * (uint64_t)(b)))
#define ADD_BOOL(T, a, b) ((T)((a) || (b)))
#define MUL_BOOL(T, a, b) ((T)((a) && (b)))

enum { RED_NONE, RED_ADD, RED_MUL };

/* y already holds data; each index is checked before y is written through it. */
#define DEFINE_SCATTER(T, NAME, ADD, MUL)                                                         \
    static og_status scatter_##NAME(elem_walk *w, int red, int64_t n, const T *u, T *y)          \
    {                                                                                             \
        int64_t off = 0;                                                                          \
        og_status st;                                                                             \
        for (int64_t q = 0; q < n; q++) {                                                         \
            if ((st = elem_walk_next(w, q, &off)) != OG_OK)                                       \
                return st;                                                                        \
            y[off] = red == RED_NONE ? u[q] : red == RED_ADD ? ADD(T, y[off], u[q])               \
                                                             : MUL(T, y[off], u[q]);             \
        }                                                                                         \
        return OG_OK;                                                                             \
    }

DEFINE_SCATTER(float, float, ADD_NUM, MUL_NUM)
DEFINE_SCATTER(double, double, ADD_NUM, MUL_NUM)
DEFINE_SCATTER(int8_t, i8, ADD_INT, MUL_INT)
DEFINE_SCATTER(int16_t, i16, ADD_INT, MUL_INT)
DEFINE_SCATTER(int32_t, i32, ADD_INT, MUL_INT)
DEFINE_SCATTER(int64_t, i64, ADD_INT, MUL_INT)
DEFINE_SCATTER(uint8_t, u8, ADD_INT, MUL_INT)
DEFINE_SCATTER(uint16_t, u16, ADD_INT, MUL_INT)
DEFINE_SCATTER(uint32_t, u32, ADD_INT, MUL_INT)
DEFINE_SCATTER(uint64_t, u64, ADD_INT, MUL_INT)
DEFINE_SCATTER(uint8_t, bool, ADD_BOOL, MUL_BOOL)

static og_status scatter_run(const og_kernel_call *k)
{
    const scatter_params *p = k->params;
    const og_tensor *d = k->in[0], *ind = k->in[1], *u = k->in[2];
    og_tensor *y = k->out[0];
    const char *node = k->node->name;

    if (!y)
        return OG_OK;
    int axis = (int)(p->axis < 0 ? p->axis + d->rank : p->axis);
    bool ok = elem_run_ok(d, ind, axis) && u->dtype == d->dtype && y->dtype == d->dtype &&
              u->rank == ind->rank && y->rank == d->rank;
    for (int a = 0; ok && a < d->rank; a++)
        ok = u->dims[a] == ind->dims[a] && y->dims[a] == d->dims[a];
    if (!ok)
        return og_err(OG_ERR_INTERNAL, "node '%s' (ScatterElements): tensors do not match the inferred shapes",
                      node);
    int red = strcmp(p->reduction, "add") == 0 ? RED_ADD : strcmp(p->reduction, "mul") == 0 ? RED_MUL : RED_NONE;
    /* numel * size fits: the engine allocated both tensors at this size */
    if (d->numel > 0)
        memcpy(y->data, d->data, (size_t)d->numel * og_dtype_size(d->dtype));
    elem_walk w;
    elem_walk_init(&w, k->node, "ScatterElements", d, ind, axis);
    int64_t n = ind->numel;
    switch (d->dtype) {
    case OG_FLOAT:  return scatter_float(&w, red, n, u->data, y->data);
    case OG_DOUBLE: return scatter_double(&w, red, n, u->data, y->data);
    case OG_INT8:   return scatter_i8(&w, red, n, u->data, y->data);
    case OG_INT16:  return scatter_i16(&w, red, n, u->data, y->data);
    case OG_INT32:  return scatter_i32(&w, red, n, u->data, y->data);
    case OG_INT64:  return scatter_i64(&w, red, n, u->data, y->data);
    case OG_UINT8:  return scatter_u8(&w, red, n, u->data, y->data);
    case OG_UINT16: return scatter_u16(&w, red, n, u->data, y->data);
    case OG_UINT32: return scatter_u32(&w, red, n, u->data, y->data);
    case OG_UINT64: return scatter_u64(&w, red, n, u->data, y->data);
    case OG_BOOL:   return scatter_bool(&w, red, n, u->data, y->data);
    default:
        return og_err(OG_ERR_INTERNAL, "node '%s' (ScatterElements): no kernel for type %s", node,
                      og_dtype_name(d->dtype));
    }
}

/* Backward. Reduction "add": output = data + (updates summed into their
 * positions), so d data = dY and d updates = GatherElements(dY, indices).
 * Reduction "none": a position an update overwrote no longer depends on
 * data, so d data = dY with those positions zeroed, ScatterElements(dY,
 * indices, zeros like updates), and d updates = GatherElements(dY,
 * indices). With duplicate indices the last update wins the forward, but
 * every duplicate gets the gradient here, as in PyTorch's scatter. "mul"
 * has no rule (the product of the other factors would need a division or
 * a cumulative product). */
static og_status scatter_backward(og_backward_call *b)
{
    const scatter_params *p = b->params;
    const char *dy = b->dout[0];
    og_attr axis = og_attr_int("axis", p->axis);
    og_status st;

    if (strcmp(p->reduction, "mul") == 0)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (ScatterElements): no gradient for reduction \"mul\"; "
                      "expected reduction \"none\" or \"add\"", b->node->name);
    if (b->need[0]) {
        if (strcmp(p->reduction, "add") == 0) {
            b->din[0] = dy;
        } else {
            const char *ins[3] = { dy, b->in[1], NULL };
            if ((st = og_grad_zeros_like(b, b->in[2], &b->in_info[2], &ins[2])) ||
                (st = og_grad_emit(b, "ScatterElements", 3, ins, 1, &b->din[0], 1, &axis)))
                return st;
        }
    }
    if (b->need[2]) {
        const char *ins[2] = { dy, b->in[1] };
        if ((st = og_grad_emit(b, "GatherElements", 2, ins, 1, &b->din[2], 1, &axis)))
            return st;
    }
    return OG_OK;
}

/* FLOPs: one per update element (the reduction's add or multiply; a plain
 * copy counts the same, as the elementwise ops do). */
static og_status scatter_cost(og_cost_call *c)
{
    c->flops = c->n_in > 2 && c->in[2] ? og_cost_numel(&c->in[2]->shape) : 0;
    return OG_OK;
}

const og_op og_op_scatterelements = {
    .name = "ScatterElements",
    .domain = "",
    .since_version = 11,
    .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x5,   /* data and updates; indices are integers */
    .diff_outputs = 0x1,
    .attrs = scatter_attrs,
    .n_attrs = (int)(sizeof scatter_attrs / sizeof scatter_attrs[0]),
    .params_size = sizeof(scatter_params),
    .infer = scatter_infer,
    .run = scatter_run,
    .backward = scatter_backward,
    .cost = scatter_cost,
};
