/* SPDX-License-Identifier: MIT */
/* Softmax and LogSoftmax — normalised exponentials along an axis:
 *   Softmax:    Y = exp(X - m) / sum(exp(X - m))
 *   LogSoftmax: Y = X - m - log(sum(exp(X - m)))
 * with m the maximum over the same elements (so no exp overflows; the
 * result is the mathematically same).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Softmax
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#LogSoftmax
 *
 * Versions: 1 and 11 coerce X to 2-D, [prod(dims[:axis]), prod(dims[axis:])],
 * and normalise each row (axis default 1; negative axes from 11); 13 normalises
 * along the single axis `axis` (default -1). Both forms are implemented,
 * picked by the node's opset. Types: float, double (float16/bfloat16 cannot
 * be held). Rank 0 has no axis: an error.
 *
 * Kernel: X as [outer, A, inner] (A the normalised extent; the 2-D form is
 * inner = 1). Rows (inner = 1) are contiguous; otherwise blocks of up to
 * SM_JB columns walk A together. Tasks are fixed ranges of those units,
 * threaded with og_parallel_for; every element's sums run in one order,
 * so results are bit-identical at any thread count. The plan's kernel for
 * float rows (softmax_rows_avx512/avx2, picked by select) takes the exps
 * from the unary family's vector exp (within 4 ulp of expf) with their sum
 * in its lanes and the division in vectors (ops/unary_vec.h), same tasks.
 *
 * Backward (the axes S are `axis` from 13, axis..r-1 before), as
 * torch.softmax / torch.log_softmax:
 *   Softmax:    dX = Y dY - Y ReduceSum(Y dY, S)
 *   LogSoftmax: dX = dY - exp(Y) ReduceSum(dY, S) */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"
#include "reduce.h"
#include "elementwise.h"

/* the loops are written for the vectoriser (elementwise, explicit lanes) */
#pragma GCC optimize("O3")

typedef struct softmax_params {
    int64_t axis;
    bool axis_given;
} softmax_params;

static const og_attr_spec softmax_attrs[] = {
    { .name = "axis", .type = OG_ATTR_INT, .offset = offsetof(softmax_params, axis), .track_present = true,
      .present_offset = offsetof(softmax_params, axis_given) },
};

static int64_t sm_axis_attr(const softmax_params *p, int opset)
{
    return p->axis_given ? p->axis : opset < 13 ? 1 : -1;
}

static og_status sm_infer(og_infer_call *c)
{
    const og_tinfo *x = c->in[0];
    const char *xname = c->in_names[0] ? c->in_names[0] : "?";
    int axis;
    og_status st;
    c->workspace_bytes = 0;
    if (x->dtype == OG_FLOAT16 || x->dtype == OG_BFLOAT16)
        return og_node_err(c->node, OG_ERR_UNSUPPORTED, "input '%s' has type %s, which onnxgrad cannot hold; "
                           "expected float or double", xname, og_dtype_name(x->dtype));
    if (x->dtype != OG_UNDEFINED && x->dtype != OG_FLOAT && x->dtype != OG_DOUBLE)
        return og_node_err(c->node, OG_ERR_SHAPE, "input '%s' has type %s, expected float or double", xname,
                           og_dtype_name(x->dtype));
    if (x->shape.rank >= 0 &&
        (st = og_red_axis(c->node, c->opset, sm_axis_attr(c->params, c->opset), x->shape.rank, "input", &axis)))
        return st;
    if (c->out[0])
        *c->out[0] = *x;
    return OG_OK;
}

#define SM_JB 64
#define SM_TASK_WORK ((int64_t)1 << 14)

typedef struct sm_ctx {
    const void *x;
    void *y;
    int64_t outer, A, inner, chunk;
    bool log;
    bool vec;      /* float rows: the unary family's vector exp (the fast kernel) */
} sm_ctx;

#define SM_TASK(fname, T, EXP, LOG)                                                                   \
    static void fname(void *arg, int64_t task, int worker)                                           \
    {                                                                                                 \
        (void)worker;                                                                                 \
        const sm_ctx *c = arg;                                                                        \
        const int64_t A = c->A, inner = c->inner, nb = (inner + SM_JB - 1) / SM_JB;                   \
        const int64_t units = c->outer * nb;                                                          \
        int64_t u0 = task * c->chunk, u1 = u0 + c->chunk < units ? u0 + c->chunk : units;            \
        for (int64_t u = u0; u < u1; u++) {                                                           \
            int64_t o = u / nb, j0 = u % nb * SM_JB, jn = inner - j0 < SM_JB ? inner - j0 : SM_JB;    \
            const T *xb = (const T *)c->x + o * A * inner + j0;                                       \
            T *yb = (T *)c->y + o * A * inner + j0;                                                   \
            T m[SM_JB], s[SM_JB];                                                                     \
            for (int64_t j = 0; j < jn; j++) {                                                        \
                m[j] = -INFINITY;                                                                     \
                s[j] = 0;                                                                             \
            }                                                                                         \
            for (int64_t a = 0; a < A; a++)                                                           \
                for (int64_t j = 0; j < jn; j++) {                                                    \
                    T v = xb[a * inner + j];                                                          \
                    m[j] = v > m[j] || v != v ? v : m[j];                                             \
                }                                                                                     \
            for (int64_t j = 0; j < jn; j++)                                                          \
                if (!isfinite(m[j]))                                                                  \
                    m[j] = m[j] != m[j] ? m[j] : 0; /* all -inf or some +inf: NaN/inf follow */       \
            for (int64_t a = 0; a < A; a++)                                                           \
                for (int64_t j = 0; j < jn; j++) {                                                    \
                    T e = EXP(xb[a * inner + j] - m[j]);                                              \
                    if (!c->log)                                                                      \
                        yb[a * inner + j] = e;                                                        \
                    s[j] += e;                                                                        \
                }                                                                                     \
            if (c->log) {                                                                             \
                for (int64_t j = 0; j < jn; j++)                                                      \
                    s[j] = m[j] + LOG(s[j]);                                                          \
                for (int64_t a = 0; a < A; a++)                                                       \
                    for (int64_t j = 0; j < jn; j++)                                                  \
                        yb[a * inner + j] = xb[a * inner + j] - s[j];                                 \
            } else {                                                                                  \
                for (int64_t a = 0; a < A; a++)                                                       \
                    for (int64_t j = 0; j < jn; j++)                                                  \
                        yb[a * inner + j] /= s[j];                                                    \
            }                                                                                         \
        }                                                                                             \
    }

SM_TASK(sm_f32, float, expf, logf)
SM_TASK(sm_f64, double, exp, log)

/* Rows (inner = 1): contiguous, the common case: the exps in one loop, their
 * sum in 8 lanes of fixed order (vectorised). */
#define SM_ROW_TASK(fname, T, EXP, LOG)                                                                 \
    static void fname(void *arg, int64_t task, int worker)                                           \
    {                                                                                                 \
        (void)worker;                                                                                 \
        const sm_ctx *c = arg;                                                                        \
        const int64_t A = c->A;                                                                       \
        int64_t o0 = task * c->chunk, o1 = o0 + c->chunk < c->outer ? o0 + c->chunk : c->outer;       \
        for (int64_t o = o0; o < o1; o++) {                                                           \
            const T *restrict x = (const T *)c->x + o * A;                                            \
            T *restrict y = (T *)c->y + o * A;                                                        \
            T m = -INFINITY, l[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };                                       \
            /* the max in 8 lanes as MAXPS computes it (vectorised), with x - x  \
             * summed to spot a NaN or an infinity: such a row redoes the exact  \
             * NaN-propagating scalar loop (a max is exact in any order) */      \
            T ml[8], bl[8], bad = 0;                                                                  \
            int64_t a0 = 0;                                                                           \
            for (int q = 0; q < 8; q++) {                                                             \
                ml[q] = -INFINITY;                                                                    \
                bl[q] = 0;                                                                            \
            }                                                                                         \
            for (; a0 + 8 <= A; a0 += 8)                                                              \
                for (int q = 0; q < 8; q++) {                                                         \
                    ml[q] = x[a0 + q] > ml[q] ? x[a0 + q] : ml[q];                                    \
                    bl[q] += x[a0 + q] - x[a0 + q];                                                   \
                }                                                                                     \
            for (int q = 0; q < 8; q++) {                                                             \
                m = ml[q] > m ? ml[q] : m;                                                            \
                bad += bl[q];                                                                         \
            }                                                                                         \
            for (; a0 < A; a0++)                                                                      \
                m = ((x[a0] > m) | (x[a0] != x[a0])) ? x[a0] : m;                                     \
            if (bad != 0 || m != m) {                                                                 \
                m = -INFINITY;                                                                        \
                for (int64_t a = 0; a < A; a++)                                                       \
                    m = ((x[a] > m) | (x[a] != x[a])) ? x[a] : m;                                     \
            }                                                                                         \
            if (!isfinite(m))                                                                         \
                m = m != m ? m : 0;                                                                   \
            for (int64_t a = 0; a < A; a++)                                                           \
                y[a] = EXP(x[a] - m);                                                                 \
            int64_t a = 0;                                                                            \
            for (; a + 8 <= A; a += 8)                                                                \
                for (int q = 0; q < 8; q++)                                                           \
                    l[q] += y[a + q];                                                                 \
            for (; a < A; a++)                                                                        \
                l[a & 7] += y[a];                                                                     \
            T s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));                  \
            if (c->log) {                                                                             \
                s = m + LOG(s);                                                                       \
                for (int64_t a2 = 0; a2 < A; a2++)                                                    \
                    y[a2] = x[a2] - s;                                                                \
            } else {                                                                                  \
                for (int64_t a2 = 0; a2 < A; a2++)                                                    \
                    y[a2] /= s;                                                                       \
            }                                                                                         \
        }                                                                                             \
    }

SM_ROW_TASK(sm_row_f32, float, expf, logf)
SM_ROW_TASK(sm_row_f64, double, exp, log)

/* The fast kernel's rows: maximum, exps with their sum, and the division
 * 16 (AVX-512) or 8 (AVX2) lanes at a time (ops/unary_vec.h). A row
 * holding a NaN or an infinity is redone by the reference loop, which
 * propagates them as the spec's formula does. */
static void sm_row_f32_vec(void *arg, int64_t task, int worker)
{
    const sm_ctx *c = arg;
    const int64_t A = c->A;
    int64_t o0 = task * c->chunk, o1 = o0 + c->chunk < c->outer ? o0 + c->chunk : c->outer;
    for (int64_t o = o0; o < o1; o++) {
        const float *x = (const float *)c->x + o * A;
        float *y = (float *)c->y + o * A;
        float m, s;
        if (!og_rowmax_f32_vec(x, A, &m) || !og_expsum_f32_vec(x, m, y, A, &s)) {
            sm_ctx one = *c;
            one.x = x;
            one.y = y;
            one.outer = 1;
            one.chunk = 1;
            sm_row_f32(&one, 0, worker);
            continue;
        }
        if (c->log) {
            s = m + logf(s);
            for (int64_t a = 0; a < A; a++)
                y[a] = x[a] - s;
        } else {
            og_divs_f32_vec(y, s, y, A);
        }
    }
}

/* X as [outer, A, inner] for the node's form. */
static void sm_geometry(const og_tensor *x, int opset, int axis, int64_t *outer, int64_t *A, int64_t *inner)
{
    *outer = *A = *inner = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis)
            *outer *= x->dims[d];
        else if (d == axis || opset < 13)
            *A *= x->dims[d];
        else
            *inner *= x->dims[d];
    }
}

static void sm_launch(og_dtype t, const void *x, void *y, int64_t outer, int64_t A, int64_t inner, bool log,
                      int n_threads, bool vec)
{
    sm_ctx c = { x, y, outer, A, inner, 1, log, vec };
    bool rows = inner == 1;
    og_task_fn fn = t == OG_FLOAT ? (rows ? (vec ? sm_row_f32_vec : sm_row_f32) : sm_f32) : (rows ? sm_row_f64 : sm_f64);
    int64_t unit_work = A * (inner < SM_JB ? inner : SM_JB);
    int64_t units = outer * ((inner + SM_JB - 1) / SM_JB);
    c.chunk = unit_work >= SM_TASK_WORK ? 1 : SM_TASK_WORK / (unit_work > 0 ? unit_work : 1);
    if (units > 0 && A > 0)
        og_parallel_for(n_threads > 0 ? n_threads : 1, (units + c.chunk - 1) / c.chunk, fn, &c);
}

void og_softmax_rows(og_dtype t, const void *x, void *y, int64_t outer, int64_t A, int64_t inner, bool log,
                     int n_threads)
{
    sm_launch(t, x, y, outer, A, inner, log, n_threads, false);
}

static og_status sm_run_form(const og_kernel_call *k, bool log, bool vec)
{
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    int axis;
    og_status st;
    if (y == NULL)
        return OG_OK;
    if ((st = og_red_axis(k->node, k->opset, sm_axis_attr(k->params, k->opset), x->rank, "input", &axis)))
        return st;
    if ((x->dtype != OG_FLOAT && x->dtype != OG_DOUBLE) || y->dtype != x->dtype || y->numel != x->numel)
        return og_node_err(k->node, OG_ERR_INTERNAL, "output of %lld %s elements against input of %lld %s",
                           (long long)y->numel, og_dtype_name(y->dtype), (long long)x->numel,
                           og_dtype_name(x->dtype));
    int64_t outer, A, inner;
    sm_geometry(x, k->opset, axis, &outer, &A, &inner);
    sm_launch(x->dtype, x->data, y->data, outer, A, inner, log, k->n_threads,
              vec && x->dtype == OG_FLOAT && inner == 1);
    return OG_OK;
}

const char *og_logsoftmax_grad(og_backward_call *b, const char *y, const char *dy, int n_axes, const int64_t *axes)
{
    og_attr keep = og_attr_int("keepdims", 1);
    const char *s = og_gb(b, "ReduceSum", 2, (const char *const[]){ dy, og_gb_ints(b, n_axes, axes) }, 1, &keep);
    return og_gb_sub(b, dy, og_gb_mul(b, og_gb_exp(b, y), s));
}

static og_status sm_backward_form(og_backward_call *b, bool log)
{
    const char *dy = b->dout[0], *y;
    int r = b->in_info[0].shape.rank;
    int64_t axis = sm_axis_attr(b->params, b->opset), axes[OG_MAX_RANK];
    int n = 0;
    og_status st;
    if (!b->need[0] || dy == NULL)
        return OG_OK;
    if (b->opset >= 13) {
        axes[n++] = axis;   /* ReduceSum takes a negative axis as it is */
    } else {
        int a;
        if (r < 0)
            return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient of the 2-D form (opset %d) needs the "
                               "rank of input '%s' known", b->opset, b->in[0]);
        if ((st = og_red_axis(b->node, b->opset, axis, r, "input", &a)))
            return st;
        for (int d = a; d < r; d++)
            axes[n++] = d;
    }
    if ((st = og_grad_forward_output(b, 0, &y)))
        return st;
    if (log) {
        b->din[0] = og_logsoftmax_grad(b, y, dy, n, axes);
    } else {
        og_attr keep = og_attr_int("keepdims", 1);
        const char *t = og_gb_mul(b, y, dy);
        const char *s = og_gb(b, "ReduceSum", 2, (const char *const[]){ t, og_gb_ints(b, n, axes) }, 1, &keep);
        b->din[0] = og_gb_sub(b, t, og_gb_mul(b, y, s));
    }
    return og_gb_status(b);
}

/* Raising a 2-D-form node (opset < 13) to 13+ keeps its meaning only when
 * the 2-D rows are the last axis: axis == r - 1 (an absent axis, 1 before
 * 13 and -1 after, agrees for rank 2). Otherwise the copy would normalise
 * along one axis instead of the trailing block: refused. */
static og_status sm_raise(const og_graph *g, const og_node *n, int opset, struct og_node_copy *copy)
{
    (void)copy;
    const softmax_params *p = n->params;
    og_tinfo x;
    if (n->opset >= 13 || opset < 13 || n->n_inputs < 1 || n->inputs[0] < 0)
        return OG_OK;
    og_value_get(&g->values[n->inputs[0]], &x);
    int r = x.shape.rank;
    int64_t a = sm_axis_attr(p, n->opset);
    if (r >= 0 && (a == r - 1 || a == -1))
        return OG_OK;
    return og_node_err(n, OG_ERR_UNSUPPORTED, "the opset-%d form normalises dims [axis:] of the input together "
                       "(axis %lld, rank %d), which an opset-%d copy (as gradient graphs use) cannot express in one "
                       "node; only axis = rank - 1 can be raised", n->opset, (long long)a, r, opset);
}

static og_status softmax_run(const og_kernel_call *k) { return sm_run_form(k, false, false); }
static og_status logsoftmax_run(const og_kernel_call *k) { return sm_run_form(k, true, false); }
static og_status softmax_fast_run(const og_kernel_call *k) { return sm_run_form(k, false, true); }
static og_status logsoftmax_fast_run(const og_kernel_call *k) { return sm_run_form(k, true, true); }

/* Plan time: float rows along the last axis (inner = 1) on a vector ISA
 * take the vector exp; everything else keeps the reference loops. */
static og_status sm_select_form(og_select_call *s, bool log)
{
    const og_tinfo *x = s->in[0];
    int axis;
    og_isa isa = og_isa_active();
    if (!x || x->dtype != OG_FLOAT || x->shape.rank < 1 || isa < OG_ISA_AVX2 ||
        og_red_axis(s->node, s->opset, sm_axis_attr(s->params, s->opset), x->shape.rank, "input", &axis) != OG_OK) {
        og_err_clear();
        return OG_OK;
    }
    if (axis != x->shape.rank - 1 && s->opset >= 13)
        return OG_OK;   /* before 13 the rows are dims [axis:], contiguous anyway */
    s->run = log ? logsoftmax_fast_run : softmax_fast_run;
    s->kernel_name = isa == OG_ISA_AVX512 ? "softmax_rows_avx512" : "softmax_rows_avx2";
    return OG_OK;
}
static og_status softmax_select(og_select_call *s) { return sm_select_form(s, false); }
static og_status logsoftmax_select(og_select_call *s) { return sm_select_form(s, true); }
static og_status softmax_backward(og_backward_call *b) { return sm_backward_form(b, false); }
static og_status logsoftmax_backward(og_backward_call *b) { return sm_backward_form(b, true); }

#define OG_SOFTMAX_OP(sym, name_)                                                                         \
    const og_op og_op_##sym = {                                                                           \
        .name = name_, .domain = "", .since_version = 1,                                                  \
        .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,                             \
        .diff_inputs = 0x1, .diff_outputs = 0x1, .attrs = softmax_attrs,                                  \
        .n_attrs = (int)(sizeof softmax_attrs / sizeof softmax_attrs[0]),                                 \
        .params_size = sizeof(softmax_params), .infer = sm_infer, .run = sym##_run,                       \
        .backward = sym##_backward, .raise = sm_raise, .select = sym##_select,                   \
    };

OG_SOFTMAX_OP(softmax, "Softmax")
OG_SOFTMAX_OP(logsoftmax, "LogSoftmax")
