/* SPDX-License-Identifier: MIT */
/* GlobalAveragePool and GlobalMaxPool — the mean / the maximum over all
 * spatial axes of every channel plane.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#GlobalAveragePool
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#GlobalMaxPool
 *
 * X is [N, C, D1..Dn] of any rank >= 3, Y is [N, C, 1..1] (same rank).
 * Versions: 1 only (no attributes). Types float and double. A NaN in a
 * plane makes GlobalMaxPool's result NaN (PyTorch's rule); an empty plane
 * (some Di = 0) gives NaN for the mean (0/0) and -inf for the maximum.
 *
 * Backward:
 *   GlobalAveragePool: dX = Expand(dY, Shape(X)) * (1 / (D1*..*Dn)), the
 *     divisor a constant when the spatial sizes are known, else computed in
 *     the graph (Reciprocal of a ReduceSum of ones over the spatial axes;
 *     Reciprocal arrives with the elementwise ops).
 *   GlobalMaxPool: dY goes to the FIRST maximum of each plane (row-major),
 *     the subgradient of nn.AdaptiveMaxPool2d(1) / adaptive_max_pool — the
 *     PyTorch module that exports to GlobalMaxPool — which records one
 *     index per output (torch.amax would split ties evenly instead). It is
 *     emitted as MaxPool with kernel_shape = the spatial sizes (whose
 *     Indices name the first maximum, the last NaN) and MaxPool's own
 *     scatter, so it needs the spatial sizes known. */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "internal.h"

static og_status global_infer(og_infer_call *c)
{
    const og_tinfo *x = c->in[0];
    const char *xn = c->in_names[0] ? c->in_names[0] : "";
    og_dtype t = x->dtype;
    if (t == OG_FLOAT16 || t == OG_BFLOAT16)
        return og_node_err(c->node, OG_ERR_UNSUPPORTED, "input X '%s' has dtype %s, which onnxgrad does not "
                           "implement; expected float or double", xn, og_dtype_name(t));
    if (t != OG_UNDEFINED && t != OG_FLOAT && t != OG_DOUBLE)
        return og_node_err(c->node, OG_ERR_SHAPE, "input X '%s' has dtype %s, expected float or double", xn,
                           og_dtype_name(t));
    if (x->shape.rank >= 0 && x->shape.rank < 3)
        return og_node_err(c->node, OG_ERR_SHAPE, "input X '%s' has rank %d, expected >= 3 ([N, C, D1, ...])", xn,
                           x->shape.rank);
    if (c->out[0]) {
        og_tinfo *y = c->out[0];
        *y = *x;
        for (int a = 2; a < x->shape.rank; a++)
            y->shape.dims[a] = 1;
    }
    c->workspace_bytes = 0;
    return OG_OK;
}

#define DEFINE_GLOBAL(T)                                                                                \
    static void global_##T(bool is_max, int64_t planes, int64_t plane, const T *x, T *y)                 \
    {                                                                                                   \
        for (int64_t p = 0; p < planes; p++) {                                                          \
            const T *xp = x + p * plane;                                                                \
            T acc = is_max ? (T)-INFINITY : (T)0;                                                       \
            if (is_max) {                                                                               \
                for (int64_t i = 0; i < plane; i++)                                                     \
                    if (xp[i] > acc || isnan(xp[i]))                                                    \
                        acc = xp[i];                                                                    \
            } else {                                                                                    \
                for (int64_t i = 0; i < plane; i++)                                                     \
                    acc += xp[i];                                                                       \
                acc = acc / (T)plane;                                                                   \
            }                                                                                           \
            y[p] = acc;                                                                                 \
        }                                                                                               \
    }

DEFINE_GLOBAL(float)
DEFINE_GLOBAL(double)

static og_status global_run(const og_kernel_call *k, bool is_max)
{
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    if (x->rank < 3 || y->rank != x->rank || y->dtype != x->dtype || y->dims[0] != x->dims[0] ||
        y->dims[1] != x->dims[1] || y->numel != x->dims[0] * x->dims[1])
        return og_node_err(k->node, OG_ERR_INTERNAL, "output tensor does not match the inferred shape");
    int64_t planes = x->dims[0] * x->dims[1], plane = 1;
    for (int a = 2; a < x->rank; a++)
        plane *= x->dims[a];
    if (x->dtype == OG_FLOAT)
        global_float(is_max, planes, plane, x->data, y->data);
    else if (x->dtype == OG_DOUBLE)
        global_double(is_max, planes, plane, x->data, y->data);
    else
        return og_node_err(k->node, OG_ERR_INTERNAL, "dtype %s reached the kernel", og_dtype_name(x->dtype));
    return OG_OK;
}

static og_status gap_run(const og_kernel_call *k) { return global_run(k, false); }
static og_status gmp_run(const og_kernel_call *k) { return global_run(k, true); }

static og_status gap_backward(og_backward_call *b)
{
    const og_tinfo *x = &b->in_info[0];
    if (!b->need[0] || !b->dout[0])
        return OG_OK;
    int rank = x->shape.rank;
    if (rank < 3)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the rank of X '%s' known", b->in[0]);
    int64_t plane = 1;
    for (int a = 2; a < rank && plane >= 0; a++)
        plane = x->shape.dims[a] < 0 ? -1 : plane * x->shape.dims[a];
    const char *shape, *inv;
    og_status st = og_grad_shape_of(b, b->in[0], x, &shape);
    if (st)
        return st;
    if (plane >= 0) {
        inv = og_gb_scalar(b, x->dtype, plane > 0 ? 1.0 / (double)plane : 0.0);
    } else {
        /* 1 / (number of spatial cells), [N, C, 1..] from ones like X */
        int64_t axes[OG_MAX_RANK];
        for (int a = 2; a < rank; a++)
            axes[a - 2] = a;
        const char *zeros;
        if ((st = og_grad_zeros_like(b, b->in[0], x, &zeros)))
            return st;
        const char *ones = og_gb_add(b, zeros, og_gb_scalar(b, x->dtype, 1.0));
        const char *ins[2] = { ones, og_gb_ints(b, rank - 2, axes) };
        og_attr keep = og_attr_int("keepdims", 1);
        inv = og_gb1(b, "Reciprocal", og_gb(b, "ReduceSum", 2, ins, 1, &keep));
    }
    const char *ins[2] = { og_gb_mul(b, b->dout[0], inv), shape };
    b->din[0] = og_gb(b, "Expand", 2, ins, 0, NULL);
    return og_gb_status(b);
}

static og_status gmp_backward(og_backward_call *b)
{
    const og_tinfo *x = &b->in_info[0];
    if (!b->need[0] || !b->dout[0])
        return OG_OK;
    int rank = x->shape.rank;
    bool known = rank >= 3;
    int64_t ks[OG_MAX_RANK];
    for (int a = 2; known && a < rank; a++) {
        ks[a - 2] = x->shape.dims[a];
        known = ks[a - 2] > 0;
    }
    if (!known)
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient needs the spatial sizes of X '%s' known "
                           "(it is a MaxPool over the whole plane)", b->in[0]);
    int n = rank - 2;
    const char *outs[2], *ins[3];
    og_attr at = og_attr_ints("kernel_shape", n, ks);
    og_status st = og_grad_emit(b, "MaxPool", 1, &b->in[0], 2, outs, 1, &at);
    if (st)
        return st;
    /* flat Indices into X: dX = ScatterElements(zeros, Indices, dY, add) */
    const int64_t minus1 = -1;
    const char *flat = og_gb_ints(b, 1, &minus1), *zeros, *shape;
    if ((st = og_grad_zeros_like(b, b->in[0], x, &zeros)) || (st = og_grad_shape_of(b, b->in[0], x, &shape)))
        return st;
    ins[0] = og_gb2(b, "Reshape", zeros, flat);
    ins[1] = og_gb2(b, "Reshape", outs[1], flat);
    ins[2] = og_gb2(b, "Reshape", b->dout[0], flat);
    og_attr sat[2] = { og_attr_int("axis", 0), og_attr_string("reduction", "add") };
    b->din[0] = og_gb2(b, "Reshape", og_gb(b, "ScatterElements", 3, ins, 2, sat), shape);
    return og_gb_status(b);
}

#define GLOBAL_OP(var, NAME, RUN, BACKWARD)                                                             \
    const og_op var = { .name = NAME, .domain = "", .since_version = 1, .min_inputs = 1, .max_inputs = 1, \
                        .min_outputs = 1, .max_outputs = 1, .diff_inputs = 0x1, .diff_outputs = 0x1,    \
                        .infer = global_infer, .run = RUN, .backward = BACKWARD, .cost = og_cost_per_input }

GLOBAL_OP(og_op_globalaveragepool, "GlobalAveragePool", gap_run, gap_backward);
GLOBAL_OP(og_op_globalmaxpool, "GlobalMaxPool", gmp_run, gmp_backward);
