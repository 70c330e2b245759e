/* SPDX-License-Identifier: MIT */
/* variadic.c — the variadic elementwise family with numpy-style
 * broadcasting over 1..OG_MAX_IO inputs: Sum, Mean, Max, Min.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Sum (#Mean, #Max, #Min)
 *
 * One row per op (VARIADIC_OP at the end): types per opset range, an
 * accumulate step per dtype from one expression, and the backward rule.
 * The output is folded left to right, y = x0 op x1 op x2 ..., the same
 * order at any thread count (tasks are rows of the broadcast).
 *
 * Versions: Sum and Mean 1 (consumed_inputs, ignored), 6 (equal shapes),
 * 8 (broadcasting), 13 (bfloat16: refused): float and double. Max and Min
 * 1, 6, 8 (same), 12 (every integer type), 13. Before opset 8 the inputs
 * must have one shape. Max and Min propagate NaN (numpy's maximum and
 * minimum); Mean is the sum divided by the input count.
 *
 * Backward (each input's gradient summed over the axes it was broadcast
 * along): Sum dY; Mean dY/n; Max and Min dY * [x_k == y] / (number of
 * inputs equal to y): tied inputs split the gradient evenly, which is what
 * torch.maximum/torch.minimum (and torch.max(a, b), which exports to Max)
 * do for two inputs, extended to n. */
/* The loops may alias (an output in an input's bytes), which GCC's -O2
 * "very cheap" vectoriser will not version for: let it check at run time. */
#pragma GCC optimize("vect-cost-model=dynamic")
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "elementwise.h"

typedef struct va_params {
    og_ints consumed_inputs;
} va_params;

/* y[i] = x[i * sx] (init) or y[i] = y[i] op x[i * sx] (step) */
typedef void (*va_fn)(void *y, const void *x, int64_t sx, int64_t n);
/* y[i] = a[i * sa] op b[i * sb]: the first two inputs in one pass */
typedef void (*va_pair_fn)(void *y, const void *a, int64_t sa, const void *b, int64_t sb, int64_t n);

typedef struct va_row {
    ew_types types[4];
    va_fn init[EW_NDT], step[EW_NDT];
    va_pair_fn pair[EW_NDT];
    bool mean;
} va_row;

#define VA_LOOP(tag, T_, U_, op, EXPR)                                         \
    static void op##_##tag(void *yv, const void *xv, int64_t sx, int64_t n)    \
    {                                                                          \
        typedef T_ T;                                                          \
        typedef U_ U;                                                          \
        T *y = yv;                                                             \
        const T *xs = xv;                                                      \
        (void)sizeof(U);                                                       \
        if (sx == 1) {                                                         \
            for (int64_t i = 0; i < n; i++) {                                  \
                T a = y[i], b = xs[i]; y[i] = (T)(EXPR);                       \
            }                                                                  \
        } else {                                                               \
            for (int64_t i = 0; i < n; i++) {                                  \
                T a = y[i], b = xs[i * sx]; y[i] = (T)(EXPR);                  \
            }                                                                  \
        }                                                                      \
    }

#define VA_PAIR(tag, T_, U_, op, EXPR)                                                               \
    static void op##_pair_##tag(void *yv, const void *av, int64_t sa, const void *bv, int64_t sb, int64_t n) \
    {                                                                                                \
        typedef T_ T;                                                                                \
        T *y = yv;                                                                                   \
        const T *pa = av, *pb = bv;                                                                  \
        if (sa == 1 && sb == 1) {                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                        \
                T a = pa[i], b = pb[i]; y[i] = (T)(EXPR);                                            \
            }                                                                                        \
        } else {                                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                        \
                T a = pa[i * sa], b = pb[i * sb]; y[i] = (T)(EXPR);                                  \
            }                                                                                        \
        }                                                                                            \
    }
#define VA_BOTH(tag, T_, U_, op, EXPR) VA_LOOP(tag, T_, U_, op, EXPR) VA_PAIR(tag, T_, U_, op, EXPR)

EW_EACH_ALL(VA_LOOP, copy, ((void)a, b))
EW_EACH_F(VA_BOTH, sum, a + b)
/* a unless b is larger, or NaN (a NaN in a is kept: NaN >= b is false and
 * a != a picks it) */
EW_EACH_ALL(VA_BOTH, max, a >= b || a != a ? a : b)
EW_EACH_ALL(VA_BOTH, min, a <= b || a != a ? a : b)

/* ---- infer ------------------------------------------------------------- */
static og_status va_infer(og_infer_call *c)
{
    const va_row *row = c->node->op->impl;
    const og_shape *in[OG_MAX_IO];
    const char *roles[OG_MAX_IO];
    static const char *const data_k[OG_MAX_IO] = { "data_0", "data_1", "data_2", "data_3", "data_4", "data_5",
                                                   "data_6", "data_7", "data_8", "data_9", "data_10", "data_11",
                                                   "data_12", "data_13", "data_14", "data_15" };
    og_dtype t = OG_UNDEFINED;
    og_status st;
    for (int k = 0; k < c->n_in; k++) {
        if (!c->in[k])
            return og_node_err(c->node, OG_ERR_SHAPE, "input %d is omitted; every input of a variadic op must be given",
                               k);
        og_dtype u = c->in[k]->dtype;
        roles[k] = data_k[k];
        in[k] = &c->in[k]->shape;
        if ((st = ew_check_type(c->node, c->opset, row->types, data_k[k], ew_name(c->in_names, k), u)) != OG_OK)
            return st;
        if (u == OG_UNDEFINED)
            continue;
        if (t != OG_UNDEFINED && u != t)
            return og_node_err(c->node, OG_ERR_SHAPE, "inputs must share one type: data_0 '%s' is %s, expected %s '%s' "
                               "to be %s too, got %s", ew_name(c->in_names, 0), og_dtype_name(t), data_k[k],
                               ew_name(c->in_names, k), og_dtype_name(t), og_dtype_name(u));
        t = u;
    }
    /* before opset 8: no broadcasting, one shape */
    if (c->opset < 8)
        for (int k = 1; k < c->n_in; k++) {
            bool same = in[k]->rank < 0 || in[0]->rank < 0 || in[k]->rank == in[0]->rank;
            for (int d = 0; same && in[k]->rank > 0 && in[0]->rank == in[k]->rank && d < in[k]->rank; d++)
                same = in[k]->dims[d] < 0 || in[0]->dims[d] < 0 || in[k]->dims[d] == in[0]->dims[d];
            if (!same) {
                char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
                return og_node_err(c->node, OG_ERR_SHAPE, "%s '%s' has shape %s, expected data_0's %s (broadcasting "
                                   "needs opset >= 8, got opset %d)", data_k[k], ew_name(c->in_names, k),
                                   og_shape_str(in[k], b2, sizeof b2), og_shape_str(in[0], b1, sizeof b1), c->opset);
            }
        }
    char what[256];
    og_shape y;
    if ((st = og_broadcast_shape(ew_what(c->node, what, sizeof what), c->n_in, in, roles, c->in_names, &y)) != OG_OK)
        return st;
    c->workspace_bytes = 0;
    if (c->out[0]) {
        c->out[0]->dtype = t;
        c->out[0]->shape = y;
    }
    return OG_OK;
}

/* ---- run: rows of the broadcast in tasks of about EW_CHUNK elements ---- */
typedef struct va_task {
    og_bcast it;
    va_fn init, step;
    va_pair_fn pair;
    int n;
    const char *x[OG_MAX_IO];
    char *y;
    size_t esize;
    ew_split sp;
    bool mean;
    og_dtype dtype;
} va_task;

static void va_rows(void *arg, int64_t t, int worker)
{
    (void)worker;
    const va_task *vt = arg;
    og_bcast it = vt->it;
    int64_t r0, r1, lo, n;
    int64_t es = (int64_t)vt->esize;
    ew_split_task(&vt->sp, t, &r0, &r1, &lo, &n);
    og_bcast_seek(&it, r0);
    for (int64_t r = r0; r < r1; r++) {
        char *y = vt->y + (it.row + lo) * es;
#define X_AT(k) (vt->x[k] + (it.off[k] + lo * it.strides[k][it.rank - 1]) * es), it.strides[k][it.rank - 1]
        /* inputs 0 and 1 first, in one pass: with the output in input 0's
         * bytes (in place) each element is read before it is written, and
         * the other inputs are read only at their own offsets, which never
         * alias the output */
        if (vt->n == 1)
            vt->init(y, X_AT(0), n);
        else
            vt->pair(y, X_AT(0), X_AT(1), n);
        for (int k = 2; k < vt->n; k++)
            vt->step(y, X_AT(k), n);
#undef X_AT
        if (vt->mean) {
            if (vt->dtype == OG_FLOAT)
                for (int64_t i = 0; i < n; i++)
                    ((float *)y)[i] /= (float)vt->n;
            else
                for (int64_t i = 0; i < n; i++)
                    ((double *)y)[i] /= (double)vt->n;
        }
        og_bcast_next_row(&it);
    }
}

static og_status va_run(const og_kernel_call *k)
{
    const va_row *row = k->node->op->impl;
    og_tensor *y = k->out[0];
    char what[256];
    og_status st;
    if (!y)
        return OG_OK;
    og_dtype t = y->dtype;
    va_task vt = { .n = k->n_in, .y = y->data, .esize = og_dtype_size(t), .mean = row->mean, .dtype = t };
    if ((int)t < 0 || (int)t >= EW_NDT || !row->init[t] || !row->step[t] || !row->pair[t])
        return og_node_err(k->node, OG_ERR_INTERNAL, "no kernel for type %s (inference should have refused it)",
                           og_dtype_name(t));
    vt.init = row->init[t];
    vt.step = row->step[t];
    vt.pair = row->pair[t];
    for (int j = 0; j < k->n_in; j++) {
        if (!k->in[j] || k->in[j]->dtype != t)
            return og_node_err(k->node, OG_ERR_INTERNAL, "input %d is missing or not of the output's type %s", j,
                               og_dtype_name(t));
        vt.x[j] = k->in[j]->data;
    }
    if ((st = og_bcast_begin(&vt.it, ew_what(k->node, what, sizeof what), y, k->n_in, k->in)) != OG_OK)
        return st;
    if (y->numel == 0)
        return OG_OK;
    ew_split_init(&vt.sp, &vt.it);
    og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, vt.sp.n_tasks, va_rows, &vt);
    return OG_OK;
}

/* Output 0 may take input 0's bytes when they have one shape (see
 * va_rows); only input 0, whose copy comes first. */
static og_status va_select(og_select_call *s)
{
    const og_tinfo *y = s->out[0], *a = s->n_in > 0 ? s->in[0] : NULL;
    if (!y || !a || a->dtype != y->dtype || a->shape.rank != y->shape.rank || !og_shape_known(&y->shape))
        return OG_OK;
    for (int d = 0; d < y->shape.rank; d++)
        if (a->shape.dims[d] != y->shape.dims[d])
            return OG_OK;
    s->run = va_run;
    s->kernel_name = "elementwise_variadic (in place)";
    s->inplace_input = 0;
    return OG_OK;
}

/* ---- backward ---------------------------------------------------------- */
#define DY (b->dout[0])

static og_status sum_backward(og_backward_call *b)
{
    for (int k = 0; k < b->n_in && DY; k++)
        if (b->need[k])
            b->din[k] = og_gb_unbroadcast(b, k, DY);
    return og_gb_status(b);
}

static og_status mean_backward(og_backward_call *b)
{
    const char *g = DY ? og_gb_div(b, DY, ew_gb_scalar(b, b->n_in)) : NULL;
    for (int k = 0; k < b->n_in && DY; k++)
        if (b->need[k])
            b->din[k] = og_gb_unbroadcast(b, k, g);
    return og_gb_status(b);
}

/* Max and Min: input k gets dY * [x_k == y] / ties, ties = sum_j [x_j == y]
 * (>= 1 wherever y is not NaN). */
static og_status extreme_backward(og_backward_call *b)
{
    if (!DY)
        return OG_OK;
    if (b->n_in == 1) {
        if (b->need[0])
            b->din[0] = DY;
        return OG_OK;
    }
    const char *y = NULL, *one = ew_gb_scalar(b, 1), *zero = ew_gb_scalar(b, 0), *hit[OG_MAX_IO];
    og_status st = og_grad_forward_output(b, 0, &y);
    if (st != OG_OK)
        return st;
    const char *ties = NULL;
    for (int k = 0; k < b->n_in; k++) {
        hit[k] = ew_gb_where(b, og_gb2(b, "Equal", b->in[k], y), one, zero);
        ties = ties ? og_gb_add(b, ties, hit[k]) : hit[k];
    }
    const char *share = og_gb_div(b, DY, ties);
    for (int k = 0; k < b->n_in; k++)
        if (b->need[k])
            b->din[k] = og_gb_unbroadcast(b, k, og_gb_mul(b, share, hit[k]));
    return og_gb_status(b);
}
#undef DY

/* ---- the table ----------------------------------------------------------- */
static const og_attr_spec va_attrs[] = {
    { .name = "consumed_inputs", .type = OG_ATTR_INTS, .offset = offsetof(va_params, consumed_inputs),
      .since_version = 1, .until_version = 5 },
};

#define VARIADIC_OP(lname, Name, bwd, ...)                                                                   \
    static const va_row lname##_row = { __VA_ARGS__ };                                                       \
    const og_op og_op_##lname = { .name = Name, .domain = "", .since_version = 1, .min_inputs = 1,           \
                                  .max_inputs = OG_MAX_IO, .min_outputs = 1, .max_outputs = 1,               \
                                  .diff_inputs = 0xffffffffu, .diff_outputs = 1, .attrs = va_attrs,          \
                                  .n_attrs = 1, .params_size = sizeof(va_params), .infer = va_infer,         \
                                  .run = va_run, .backward = bwd, .select = va_select, .impl = &lname##_row, \
                                  .cost = og_cost_per_output };

VARIADIC_OP(sum, "Sum", sum_backward, .types = { { EW_F, 1, 0, NULL } }, .init = { EW_FN_F(copy) },
            .step = { EW_FN_F(sum) }, .pair = { EW_FN_F(sum_pair) })
VARIADIC_OP(mean, "Mean", mean_backward, .types = { { EW_F, 1, 0, NULL } }, .init = { EW_FN_F(copy) },
            .step = { EW_FN_F(sum) }, .pair = { EW_FN_F(sum_pair) }, .mean = true)
VARIADIC_OP(max, "Max", extreme_backward, .types = { { EW_F, 1, 0, NULL }, { EW_I, 12, 0, "integer types" } },
            .init = { EW_FN_ALL(copy) }, .step = { EW_FN_ALL(max) },
            .pair = { EW_FN_ALL(max_pair) })
VARIADIC_OP(min, "Min", extreme_backward, .types = { { EW_F, 1, 0, NULL }, { EW_I, 12, 0, "integer types" } },
            .init = { EW_FN_ALL(copy) }, .step = { EW_FN_ALL(min) },
            .pair = { EW_FN_ALL(min_pair) })
