/* SPDX-License-Identifier: MIT */
/* binary.c — the binary elementwise family with numpy-style broadcasting:
 * Add, Sub, Mul, Div, Pow, PRelu (arithmetic), Equal, Less, Greater,
 * LessOrEqual, GreaterOrEqual (comparisons, bool out), And, Or (logic, bool in and out).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md (each op by name)
 * https://github.com/onnx/onnx/blob/main/docs/Broadcasting.md
 *
 * One row per op (BINARY_OP at the end): its since-version, allowed types
 * per opset range (the uniform ew_check_type message), a loop per dtype
 * generated from one scalar expression, and its backward rule.
 *
 * Versions (onnxgrad reads opsets 1..17; before 7 these ops had
 * `broadcast`/`axis` attributes (PRelu: a slope of X's shape or one
 * element), which onnxgrad does not implement: they start at 7, and a
 * model importing an older opset gets "unsupported opset"):
 *   Add, Sub, Mul, Div: 7 (float, double, int32, int64, uint32, uint64),
 *     13 (bfloat16: refused), 14 (int8, int16, uint8, uint16). Integers
 *     wrap modulo 2^bits; Div on integers truncates toward zero (C, and
 *     the spec's test data), x / 0 gives 0 and INT_MIN / -1 wraps, instead
 *     of trapping.
 *   Pow: 7 (one float type for both), 12 (base float, double, int32,
 *     int64; exponent any integer or float type), 13 and 15 (bfloat16).
 *     Integer bases with integer exponents multiply exactly (wrapping);
 *     a negative exponent gives 1 / base^-e truncated (0 unless base is
 *     +-1); other mixes compute in double and convert.
 *   PRelu: 7 (float types; slope broadcasts to X unidirectionally), 9
 *     (int32, int64, uint32, uint64 too), 16 (bfloat16).
 *   Equal: 7 (bool, int32, int64), 11 (float, double, every integer type).
 *   Less, Greater: 7 (float types), 9 (every integer type). LessOrEqual,
 *   GreaterOrEqual: 12.
 *   And, Or: 7 (bool).
 * float16/bfloat16/string are refused as types onnxgrad cannot hold.
 * Comparisons with NaN are false, as in IEEE 754 and numpy.
 *
 * Backward (gradients summed over the axes an input was broadcast along):
 *   Add: dA = dC, dB = dC.  Sub: dA = dC, dB = -dC.
 *   Mul: dA = dC*B, dB = dC*A.  Div: dA = dC/B, dB = -dC*((A/B)/B).
 *   Pow: dA = where(B == 0, 0, dC*B*A^(B-1)); dB = where(A == 0 and B >= 0,
 *     0, dC*C*log(A)) — torch.pow's pow_backward_self/_exponent, so 0^0
 *     and 0^b give 0, not NaN. An integer exponent has no gradient.
 *   PRelu: dX = where(X > 0, dY, dY*slope), dslope = where(X > 0, 0, dY*X)
 *     — torch's prelu backward (the subgradient at X = 0 is the slope's).
 *   Comparisons and logic: none (bool outputs). */
/* The loops may alias (an output in an input's bytes), which GCC's -O2
 * "very cheap" vectoriser will not version for: let it check at run time. */
#pragma GCC optimize("vect-cost-model=dynamic")
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "elementwise.h"

typedef void (*bin_fn)(const void *a, int64_t sa, const void *b, int64_t sb, void *y, int64_t n);

typedef struct bin_row {
    ew_types a_types[4];
    const ew_types *b_types;     /* NULL: B has A's type */
    int b_free_since;            /* with b_types: the opset from which B's type may differ from A's */
    bool bool_out;               /* comparisons and logic */
    bool unidirectional;         /* PRelu: B broadcasts to A, the output is A's shape */
    bin_fn fn[EW_NDT];           /* by A's dtype (B's, when b_types is NULL, is the same) */
    bin_fn (*fn2)(og_dtype a, og_dtype b);   /* Pow: by both */
} bin_row;

/* ---- loops ---------------------------------------------------------------
 * Rows where an operand is contiguous or a repeated scalar get their own
 * plain loops so the compiler vectorises them. */
#define BIN_LOOP(name, TA_, UA_, TB_, TY_, EXPR)                                                   \
    static void name(const void *av, int64_t sa, const void *bv, int64_t sb, void *yv, int64_t n) \
    {                                                                                              \
        typedef TA_ T;                                                                             \
        typedef UA_ U;                                                                             \
        typedef TB_ TB;                                                                            \
        const T *pa = av;                                                                          \
        const TB *pb = bv;                                                                         \
        TY_ *py = yv;                                                                              \
        (void)sizeof(U);                                                                           \
        if (sa == 1 && sb == 1) {                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = pa[i]; TB b = pb[i]; py[i] = (TY_)(EXPR);                                    \
            }                                                                                      \
        } else if (sa == 1 && sb == 0) {                                                           \
            const TB b = pb[0];                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = pa[i]; py[i] = (TY_)(EXPR);                                                  \
            }                                                                                      \
        } else if (sa == 0 && sb == 1) {                                                           \
            const T a = pa[0];                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TB b = pb[i]; py[i] = (TY_)(EXPR);                                                 \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = pa[i * sa]; TB b = pb[i * sb]; py[i] = (TY_)(EXPR);                          \
            }                                                                                      \
        }                                                                                          \
    }
/* Same-type ops: y of type T (ARITH) or bool (CMP). */
#define ARITH_LOOP(tag, T_, U_, op, EXPR) BIN_LOOP(op##_##tag, T_, U_, T_, T_, EXPR)
#define CMP_LOOP(tag, T_, U_, op, EXPR) BIN_LOOP(op##_##tag, T_, U_, T_, uint8_t, EXPR)

/* Integer division that cannot trap: x / 0 is 0, and MIN / -1 wraps (the
 * negation in the unsigned twin). */
#define SINT_DIV(a, b) ((b) == 0 ? (T)0 : (b) == -1 ? (T)(0 - (U)(a)) : (T)((a) / (b)))
#define UINT_DIV(a, b) ((b) == 0 ? (T)0 : (T)((a) / (b)))

EW_EACH_F(ARITH_LOOP, add, a + b)
EW_EACH_I(ARITH_LOOP, add, (U)a + (U)b)
EW_EACH_F(ARITH_LOOP, sub, a - b)
EW_EACH_I(ARITH_LOOP, sub, (U)a - (U)b)
EW_EACH_F(ARITH_LOOP, mul, a * b)
EW_EACH_I(ARITH_LOOP, mul, (U)a * (U)b)
EW_EACH_F(ARITH_LOOP, div, a / b)
EW_EACH_SI(ARITH_LOOP, div, SINT_DIV(a, b))
EW_EACH_UI(ARITH_LOOP, div, UINT_DIV(a, b))
/* PRelu: slope where x < 0; NaN passes (x < 0 is false) */
EW_EACH_F(ARITH_LOOP, prelu, a < 0 ? a * b : a)
EW_EACH_SI(ARITH_LOOP, prelu, a < 0 ? (T)((U)a * (U)b) : a)
EW_EACH_UI(ARITH_LOOP, prelu, (T)(a + 0 * b))   /* never negative */
EW_EACH_ALL(CMP_LOOP, equal, a == b)
CMP_LOOP(b8, uint8_t, uint8_t, equal, a == b)
EW_EACH_ALL(CMP_LOOP, less, a < b)
EW_EACH_ALL(CMP_LOOP, greater, a > b)
EW_EACH_ALL(CMP_LOOP, lessorequal, a <= b)
EW_EACH_ALL(CMP_LOOP, greaterorequal, a >= b)
/* bool inputs are 0 or 1 bytes (the loader and og_tensor_create_from check) */
CMP_LOOP(b8, uint8_t, uint8_t, and, a & b)
CMP_LOOP(b8, uint8_t, uint8_t, or, a | b)

/* ---- Pow: base T (float, double, int32, int64) by any exponent type ---- */
/* An integer power by squaring, in the unsigned twin (wraps). */
#define IPOW_DEF(T_, U_, name)                                                 \
    static inline T_ name(T_ a, bool neg, uint64_t e)                          \
    {                                                                          \
        if (neg)   /* 1 / a^e truncated toward zero */                         \
            return a == 1 ? 1 : a == (T_)-1 ? (e & 1 ? (T_)-1 : 1) : 0;         \
        U_ r = 1, x = (U_)a;                                                   \
        for (; e; e >>= 1, x *= x)                                             \
            if (e & 1)                                                         \
                r *= x;                                                        \
        return (T_)r;                                                          \
    }
IPOW_DEF(int32_t, uint32_t, ipow32)
IPOW_DEF(int64_t, uint64_t, ipow64)

/* Exponent of a float type, or an integer base: in double (pow). A float
 * base with a float exponent: pow of that precision, as numpy. */
#define POW_LOOP(etag, TE_, UE_, btag, TB_, EXPR) BIN_LOOP(pow_##btag##_##etag, TB_, TB_, TE_, TB_, EXPR)
#define POW_FLOAT_EXP(btag, TB_)                                                         \
    POW_LOOP(f32, float, float, btag, TB_, (T)pow((double)a, (double)b))                 \
    POW_LOOP(f64, double, double, btag, TB_, (T)pow((double)a, b))
POW_LOOP(f32, float, float, f32, float, powf(a, b))
POW_LOOP(f64, double, double, f32, float, (float)pow((double)a, b))
POW_LOOP(f32, float, float, f64, double, pow(a, (double)b))
POW_LOOP(f64, double, double, f64, double, pow(a, b))
EW_EACH_I(POW_LOOP, f32, float, (float)pow((double)a, (double)b))
EW_EACH_I(POW_LOOP, f64, double, pow(a, (double)b))
POW_FLOAT_EXP(i32, int32_t)
POW_FLOAT_EXP(i64, int64_t)
/* signed exponents by sign and magnitude, unsigned ones as they are */
#define EXP_NEG(b) ((b) < 0)
#define EXP_MAG(b) ((b) < 0 ? 0 - (uint64_t)(b) : (uint64_t)(b))
EW_EACH_SI(POW_LOOP, i32, int32_t, ipow32(a, EXP_NEG(b), EXP_MAG(b)))
EW_EACH_SI(POW_LOOP, i64, int64_t, ipow64(a, EXP_NEG(b), EXP_MAG(b)))
EW_EACH_UI(POW_LOOP, i32, int32_t, ipow32(a, false, (uint64_t)b))
EW_EACH_UI(POW_LOOP, i64, int64_t, ipow64(a, false, (uint64_t)b))

#define POW_ROW(btag) { EW_FN_F(pow_##btag), EW_FN_I(pow_##btag) }
static const bin_fn pow_fns[4][EW_NDT] = { POW_ROW(f32), POW_ROW(f64), POW_ROW(i32), POW_ROW(i64) };

static bin_fn pow_fn(og_dtype a, og_dtype b)
{
    int r = a == OG_FLOAT ? 0 : a == OG_DOUBLE ? 1 : a == OG_INT32 ? 2 : a == OG_INT64 ? 3 : -1;
    return r < 0 || (int)b < 0 || (int)b >= EW_NDT ? NULL : pow_fns[r][b];
}

/* ---- infer ----------------------------------------------------------------- */
static og_status bin_infer(og_infer_call *c)
{
    static const char *const roles[2] = { "A", "B" };
    const bin_row *row = c->node->op->impl;
    const og_node *node = c->node;
    bool prelu = row->unidirectional;
    const char *ra = prelu ? "X" : "A", *rb = prelu ? "slope" : "B";
    og_dtype ta = c->in[0]->dtype, tb = c->in[1]->dtype;
    og_status st;
    if ((st = ew_check_type(node, c->opset, row->a_types, ra, ew_name(c->in_names, 0), ta)) != OG_OK ||
        (st = ew_check_type(node, c->opset, row->b_types ? row->b_types : row->a_types, rb, ew_name(c->in_names, 1),
                            tb)) != OG_OK)
        return st;
    /* Pow before opset 12: one type for both */
    bool shared = !row->b_types || c->opset < row->b_free_since;
    if (shared && ta != OG_UNDEFINED && tb != OG_UNDEFINED && ta != tb)
        return og_node_err(node, OG_ERR_SHAPE, "inputs must share one type: %s '%s' is %s, expected %s '%s' to be %s "
                           "too, got %s", ra, ew_name(c->in_names, 0), og_dtype_name(ta), rb, ew_name(c->in_names, 1),
                           og_dtype_name(ta), og_dtype_name(tb));
    char what[256];
    og_shape y;
    const og_shape *in[2] = { &c->in[0]->shape, &c->in[1]->shape };
    if ((st = og_broadcast_shape(ew_what(node, what, sizeof what), 2, in,
                                 prelu ? (const char *const[]){ "X", "slope" } : roles, c->in_names, &y)) != OG_OK)
        return st;
    if (prelu && y.rank >= 0 && in[0]->rank >= 0) {
        /* unidirectional: slope may not grow X */
        bool grows = y.rank != in[0]->rank;
        for (int d = 0; d < y.rank && !grows; d++)
            grows = in[0]->dims[d] >= 0 && y.dims[d] != in[0]->dims[d];
        if (grows) {
            char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
            return og_node_err(node, OG_ERR_SHAPE, "slope '%s' of shape %s does not broadcast to X '%s' of shape %s "
                               "(unidirectional: the output keeps X's shape)", ew_name(c->in_names, 1),
                               og_shape_str(in[1], b2, sizeof b2), ew_name(c->in_names, 0),
                               og_shape_str(in[0], b1, sizeof b1));
        }
        y = *in[0];
    }
    c->workspace_bytes = 0;
    if (c->out[0] != NULL) {
        c->out[0]->dtype = row->bool_out ? OG_BOOL : ta;
        c->out[0]->shape = y;
    }
    return OG_OK;
}

/* ---- run: rows of the broadcast, in tasks of about EW_CHUNK elements ---- */
typedef struct bin_task {
    og_bcast it;
    bin_fn fn;
    const char *a, *b;
    char *y;
    size_t ea, eb, ey;            /* element sizes */
    ew_split sp;
} bin_task;

static void bin_rows(void *arg, int64_t t, int worker)
{
    (void)worker;
    const bin_task *bt = arg;
    og_bcast it = bt->it;
    int64_t r0, r1, lo, n;
    ew_split_task(&bt->sp, t, &r0, &r1, &lo, &n);
    int64_t sa = it.strides[0][it.rank - 1], sb = it.strides[1][it.rank - 1];
    og_bcast_seek(&it, r0);
    for (int64_t r = r0; r < r1; r++) {
        bt->fn(bt->a + (it.off[0] + lo * sa) * (int64_t)bt->ea, sa, bt->b + (it.off[1] + lo * sb) * (int64_t)bt->eb, sb,
               bt->y + (it.row + lo) * (int64_t)bt->ey, n);
        og_bcast_next_row(&it);
    }
}

static og_status bin_run(const og_kernel_call *k)
{
    const bin_row *row = k->node->op->impl;
    const og_tensor *a = k->in[0], *b = k->in[1];
    og_tensor *y = k->out[0];
    char what[256];
    og_status st;
    if (y == NULL)
        return OG_OK;
    bin_fn fn = row->fn2 ? row->fn2(a->dtype, b->dtype) : (int)a->dtype < EW_NDT ? row->fn[a->dtype] : NULL;
    if (!fn || (!row->fn2 && a->dtype != b->dtype))
        return og_node_err(k->node, OG_ERR_INTERNAL, "no kernel for types %s and %s (inference should have refused "
                           "them)", og_dtype_name(a->dtype), og_dtype_name(b->dtype));
    bin_task bt = { .fn = fn, .a = a->data, .b = b->data, .y = y->data, .ea = og_dtype_size(a->dtype),
                    .eb = og_dtype_size(b->dtype), .ey = og_dtype_size(y->dtype) };
    if ((st = og_bcast_begin(&bt.it, ew_what(k->node, what, sizeof what), y, 2,
                             (const og_tensor *const[]){ a, b })) != OG_OK)
        return st;
    if (y->numel == 0)
        return OG_OK;
    ew_split_init(&bt.sp, &bt.it);
    og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, bt.sp.n_tasks, bin_rows, &bt);
    return OG_OK;
}

static bool same_shape(const og_tinfo *a, const og_tinfo *b)
{
    if (a->shape.rank != b->shape.rank || a->dtype != b->dtype)
        return false;
    for (int d = 0; d < a->shape.rank; d++)
        if (a->shape.dims[d] != b->shape.dims[d] || a->shape.dims[d] < 0)
            return false;
    return true;
}

/* The kernel writes output element i only after reading every operand's
 * element at i within the same task, and an operand with the output's
 * shape and type is read at i itself: the output may take its bytes when
 * it dies here. */
static og_status bin_select(og_select_call *s)
{
    const og_tinfo *y = s->out[0];
    if (!y || !s->in[0] || !s->in[1])
        return OG_OK;
    for (int k = 0; k < 2; k++)
        if (same_shape(s->in[k], y)) {
            s->run = bin_run;
            s->kernel_name = "elementwise_binary (in place)";
            s->inplace_input = k;
            return OG_OK;
        }
    return OG_OK;
}

/* ---- backward rules --------------------------------------------------- */
#define A (b->in[0])
#define B (b->in[1])
#define DY (b->dout[0])

static og_status add_backward(og_backward_call *b)
{
    for (int k = 0; k < 2; k++)
        if (b->need[k] && DY)
            b->din[k] = og_gb_unbroadcast(b, k, DY);
    return og_gb_status(b);
}

static og_status sub_backward(og_backward_call *b)
{
    if (b->need[0] && DY)
        b->din[0] = og_gb_unbroadcast(b, 0, DY);
    if (b->need[1] && DY)
        b->din[1] = og_gb_unbroadcast(b, 1, og_gb_neg(b, DY));
    return og_gb_status(b);
}

static og_status mul_backward(og_backward_call *b)
{
    if (b->need[0] && DY)
        b->din[0] = og_gb_unbroadcast(b, 0, og_gb_mul(b, DY, B));
    if (b->need[1] && DY)
        b->din[1] = og_gb_unbroadcast(b, 1, og_gb_mul(b, DY, A));
    return og_gb_status(b);
}

static og_status div_backward(og_backward_call *b)
{
    if (b->need[0] && DY)
        b->din[0] = og_gb_unbroadcast(b, 0, og_gb_div(b, DY, B));
    if (b->need[1] && DY)
        b->din[1] = og_gb_unbroadcast(b, 1, og_gb_neg(b, og_gb_mul(b, DY, og_gb_div(b, og_gb_div(b, A, B), B))));
    return og_gb_status(b);
}

static const char *gb_cast(og_backward_call *b, const char *x, og_dtype from, og_dtype to)
{
    if (from == to)
        return x;
    og_attr to_attr = og_attr_int("to", (int64_t)to);
    return og_gb(b, "Cast", 1, &x, 1, &to_attr);
}

static og_status pow_backward(og_backward_call *b)
{
    og_dtype ta = b->in_info[0].dtype, tb = b->in_info[1].dtype;
    if (!DY)
        return OG_OK;
    const char *zero = og_gb_scalar(b, ta, 0), *e = gb_cast(b, B, tb, ta);
    if (b->need[0]) {
        const char *d = og_gb_mul(b, DY, og_gb_mul(b, e, og_gb2(b, "Pow", A, og_gb_sub(b, e, og_gb_scalar(b, ta, 1)))));
        b->din[0] = og_gb_unbroadcast(b, 0, ew_gb_where(b, og_gb2(b, "Equal", e, zero), zero, d));
    }
    if (b->need[1]) {
        const char *y = NULL;
        og_status st = og_grad_forward_output(b, 0, &y);
        if (st != OG_OK)
            return st;
        const char *at_zero = og_gb2(b, "And", og_gb2(b, "Equal", A, zero),
                                     og_gb1(b, "Not", og_gb2(b, "Less", e, zero)));
        const char *d = ew_gb_where(b, at_zero, zero, og_gb_mul(b, DY, og_gb_mul(b, y, og_gb_log(b, A))));
        b->din[1] = og_gb_unbroadcast(b, 1, gb_cast(b, d, ta, tb));
    }
    return og_gb_status(b);
}

static og_status prelu_backward(og_backward_call *b)
{
    if (!DY)
        return OG_OK;
    const char *zero = ew_gb_scalar(b, 0), *pos = og_gb2(b, "Greater", A, zero);
    if (b->need[0])
        b->din[0] = ew_gb_where(b, pos, DY, og_gb_mul(b, DY, B));
    if (b->need[1])
        b->din[1] = og_gb_unbroadcast(b, 1, ew_gb_where(b, pos, zero, og_gb_mul(b, DY, A)));
    return og_gb_status(b);
}
#undef A
#undef B
#undef DY

/* ---- the table ---------------------------------------------------------- */
#define ARITH_TYPES                                                                              \
    { { EW_F | EW_I32_64 | EW_T(OG_UINT32) | EW_T(OG_UINT64), 7, 0, NULL }, { EW_SMALLI, 14, 0, "8- and 16-bit integers" } }
#define BINARY_OP(lname, Name, since, diff, bwd, ...)                                                   \
    static const bin_row lname##_row = { __VA_ARGS__ };                                                 \
    const og_op og_op_##lname = { .name = Name, .domain = "", .since_version = since, .min_inputs = 2,  \
                                  .max_inputs = 2, .min_outputs = 1, .max_outputs = 1, .diff_inputs = diff, \
                                  .diff_outputs = diff ? 1 : 0, .infer = bin_infer, .run = bin_run,     \
                                  .backward = bwd, .select = bin_select, .impl = &lname##_row, .cost = og_cost_per_output };

static const ew_types pow_exponent_types[] = { { EW_F, 7, 0, NULL }, { EW_I, 12, 0, "integer exponents" }, { 0 } };

BINARY_OP(add, "Add", 7, 0x3, add_backward, .a_types = ARITH_TYPES, .fn = { EW_FN_ALL(add) })
BINARY_OP(sub, "Sub", 7, 0x3, sub_backward, .a_types = ARITH_TYPES, .fn = { EW_FN_ALL(sub) })
BINARY_OP(mul, "Mul", 7, 0x3, mul_backward, .a_types = ARITH_TYPES, .fn = { EW_FN_ALL(mul) })
BINARY_OP(div, "Div", 7, 0x3, div_backward, .a_types = ARITH_TYPES, .fn = { EW_FN_ALL(div) })
BINARY_OP(pow, "Pow", 7, 0x3, pow_backward, .a_types = { { EW_F, 7, 0, NULL }, { EW_I32_64, 12, 0, "integer bases" } },
          .b_types = pow_exponent_types, .b_free_since = 12, .fn2 = pow_fn)
BINARY_OP(prelu, "PRelu", 7, 0x3, prelu_backward, .unidirectional = true,
          .a_types = { { EW_F, 7, 0, NULL }, { EW_I32_64 | EW_T(OG_UINT32) | EW_T(OG_UINT64), 9, 0, "integer types" } },
          .fn = { EW_FN_ALL(prelu) })
BINARY_OP(equal, "Equal", 7, 0, NULL, .bool_out = true,
          .a_types = { { EW_B | EW_I32_64, 7, 0, NULL }, { EW_F | EW_I, 11, 0, "float and the other integer types" } },
          .fn = { EW_FN_ALL(equal), [OG_BOOL] = equal_b8 })
BINARY_OP(less, "Less", 7, 0, NULL, .bool_out = true,
          .a_types = { { EW_F, 7, 0, NULL }, { EW_I, 9, 0, "integer types" } }, .fn = { EW_FN_ALL(less) })
BINARY_OP(greater, "Greater", 7, 0, NULL, .bool_out = true,
          .a_types = { { EW_F, 7, 0, NULL }, { EW_I, 9, 0, "integer types" } }, .fn = { EW_FN_ALL(greater) })
BINARY_OP(lessorequal, "LessOrEqual", 12, 0, NULL, .bool_out = true, .a_types = { { EW_F | EW_I, 12, 0, NULL } },
          .fn = { EW_FN_ALL(lessorequal) })
BINARY_OP(greaterorequal, "GreaterOrEqual", 12, 0, NULL, .bool_out = true, .a_types = { { EW_F | EW_I, 12, 0, NULL } },
          .fn = { EW_FN_ALL(greaterorequal) })
BINARY_OP(and, "And", 7, 0, NULL, .bool_out = true, .a_types = { { EW_B, 7, 0, NULL } }, .fn = { [OG_BOOL] = and_b8 })
BINARY_OP(or, "Or", 7, 0, NULL, .bool_out = true, .a_types = { { EW_B, 7, 0, NULL } }, .fn = { [OG_BOOL] = or_b8 })
