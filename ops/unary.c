/* SPDX-License-Identifier: MIT */
/* unary.c — the unary elementwise family: Y = f(X), Y of X's shape and
 * type (Not: bool to bool).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md (each op by name)
 *
 * One row per op (UNARY_OP at the end): since-version, allowed types per
 * opset range (checked by ew_check_type), attributes, one scalar
 * expression per dtype family expanded into a loop per dtype, and the
 * backward rule. Opsets 1..5 carried a `consumed_inputs` hint, accepted
 * and ignored.
 *
 * Ops, versions and types (float16/bfloat16 refused as unsupported):
 *   Neg 1 (float types), 6 (int8..int64; integers wrap). Abs 1, 6 (every
 *   integer type). Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Tanh, Sigmoid
 *   1, 6, 13 (float types). Erf 9 and Sign 9 (float and integer types).
 *   Round 11 (half to even). HardSigmoid 1, 6 (alpha 0.2, beta 0.5).
 *   HardSwish 14 (x * HardSigmoid(x) with alpha 1/6, beta 0.5).
 *   LeakyRelu 1, 6, 16 (alpha 0.01). Elu 1, 6 (alpha 1). Selu 1, 6 (alpha
 *   1.6732632, gamma 1.0507010). Softplus 1 (log(1 + e^x), computed as
 *   max(x,0) + log1p(e^-|x|) so it neither overflows nor loses small
 *   values). Shrink 9 (lambd 0.5, bias 0; float and integer types). Clip 1
 *   and 6 (min/max attributes; absent means unbounded), 11 (min/max as
 *   optional rank-0 inputs), 12 (every integer type), 13. Not 1 (bool).
 *   NaN passes through every op (Clip, Relu-like kinks, Sign, Round).
 *
 * Backward (float types; dY is the output's gradient, Y the output):
 *   Neg -dY. Abs dY*Sign(X) (0 at X = 0, as torch.abs). Exp dY*Y.
 *   Log dY/X. Sqrt dY/(2Y). Reciprocal -dY*Y*Y. Erf dY*2/sqrt(pi)*exp(-X^2).
 *   Tanh dY*(1-Y^2). Sigmoid dY*Y*(1-Y). Softplus dY*Sigmoid(X).
 *   Sign, Floor, Ceil, Round: 0 (as PyTorch).
 *   HardSigmoid: dY*alpha where 0 < alpha*X+beta < 1, else 0 (torch's
 *     hardsigmoid_backward: open interval). HardSwish: 0 for X < -3,
 *     dY*(X/3+1/2) for -3 <= X <= 3, dY above (torch's hardswish_backward).
 *   LeakyRelu: X > 0 ? dY : alpha*dY. Elu: X > 0 ? dY : dY*alpha*e^X.
 *   Selu: X > 0 ? gamma*dY : dY*gamma*alpha*e^X (torch: the X <= 0 branch
 *     at 0). Shrink: dY where X < -lambd or X > lambd, else 0 (torch's
 *     hardshrink_backward). Clip: dY where min <= X <= max (both bounds
 *     included, as torch.clamp's backward), else 0; min and max given as
 *     inputs: dmin = dY where X < min (and min < max), dmax = dY where
 *     X > max (or max < min), summed — torch's clamp_backward_min_max. */
/* The loops may alias (an output in an input's bytes), which GCC's -O2
 * "very cheap" vectoriser will not version for: let it check at run time. */
#pragma GCC optimize("vect-cost-model=dynamic")
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "elementwise.h"

typedef struct un_params {
    og_ints consumed_inputs;   /* opsets 1..5; an in-place hint, ignored */
    float alpha, beta, gamma, lambd, bias, min, max;
    bool has_min, has_max;     /* Clip 1..10 */
} un_params;

/* What a loop reads: the attributes in double, and Clip's bounds. */
typedef struct un_args {
    double alpha, beta, gamma, lambd, bias;
    double lo, hi;             /* Clip, float types: -inf/+inf when absent */
    int64_t lo_i, hi_i;        /* Clip, integer types (uint64 as its bit pattern) */
} un_args;

typedef void (*un_fn)(const void *x, void *y, int64_t n, const un_args *p);

typedef struct un_row {
    ew_types types[4];
    bool bool_out;             /* Not */
    un_fn fn[EW_NDT];
    const un_fn *simd;         /* optional float32 vector kernels by og_isa (unary_vec.h) */
} un_row;

/* ---- loops: one per dtype from one expression in x (type T) and p ------ */
#define UN_LOOP(tag, T_, U_, op, EXPR)                                             \
    static void op##_##tag(const void *xv, void *yv, int64_t n, const un_args *p)  \
    {                                                                              \
        typedef T_ T;                                                              \
        typedef U_ U;                                                              \
        const T *xs = xv;                                                          \
        T *ys = yv;                                                                \
        (void)p;                                                                   \
        (void)sizeof(U);                                                           \
        for (int64_t i = 0; i < n; i++) {                                          \
            const T x = xs[i];                                                     \
            ys[i] = (T)(EXPR);                                                     \
        }                                                                          \
    }

/* The float loops call the libm function of T's precision. */
#define FN(fn, x) (sizeof(T) == sizeof(float) ? (T)fn##f((float)(x)) : (T)fn((double)(x)))
#define P(name) ((T)p->name)

EW_EACH_F(UN_LOOP, neg, -x)
EW_EACH_SI(UN_LOOP, neg, 0 - (U)x)
EW_EACH_F(UN_LOOP, abs, FN(fabs, x))
EW_EACH_SI(UN_LOOP, abs, x < 0 ? 0 - (U)x : (U)x)
EW_EACH_UI(UN_LOOP, abs, x)
EW_EACH_F(UN_LOOP, exp, FN(exp, x))
EW_EACH_F(UN_LOOP, log, FN(log, x))
EW_EACH_F(UN_LOOP, sqrt, FN(sqrt, x))
EW_EACH_F(UN_LOOP, reciprocal, (T)1 / x)
EW_EACH_F(UN_LOOP, floor, FN(floor, x))
EW_EACH_F(UN_LOOP, ceil, FN(ceil, x))
/* rint in the default round-to-nearest mode: halves to even */
EW_EACH_F(UN_LOOP, round, FN(rint, x))
EW_EACH_F(UN_LOOP, tanh, FN(tanh, x))
/* e^-|x| never overflows: 1/(1+t) above 0, t/(1+t) below */
#define SIGMOID(t) ((x < 0 ? (t) : (T)1) / ((T)1 + (t)))
EW_EACH_F(UN_LOOP, sigmoid, SIGMOID(FN(exp, -FN(fabs, x))))
EW_EACH_F(UN_LOOP, erf, FN(erf, x))
EW_EACH_I(UN_LOOP, erf, erf((double)x))
/* x itself at 0 and NaN: keeps -0 and NaN */
EW_EACH_F(UN_LOOP, sign, x > 0 ? (T)1 : x < 0 ? (T)-1 : x)
EW_EACH_SI(UN_LOOP, sign, (x > 0) - (x < 0))
EW_EACH_UI(UN_LOOP, sign, x > 0)
#define CLAMP01(t) ((t) < 0 ? (T)0 : (t) > 1 ? (T)1 : (t))
EW_EACH_F(UN_LOOP, hardsigmoid, CLAMP01(P(alpha) * x + P(beta)))
EW_EACH_F(UN_LOOP, hardswish, x * CLAMP01(x * (T)(1.0 / 6.0) + (T)0.5))
EW_EACH_F(UN_LOOP, leakyrelu, x < 0 ? P(alpha) * x : x)
EW_EACH_F(UN_LOOP, elu, x < 0 ? P(alpha) * FN(expm1, x) : x)
EW_EACH_F(UN_LOOP, selu, x <= 0 ? P(gamma) * (P(alpha) * FN(expm1, x)) : P(gamma) * x)
EW_EACH_F(UN_LOOP, softplus, (x > 0 ? x : (T)0) + FN(log1p, FN(exp, -FN(fabs, x))))
EW_EACH_F(UN_LOOP, shrink, x < -P(lambd) ? x + P(bias) : x > P(lambd) ? x - P(bias) : (T)0)
EW_EACH_I(UN_LOOP, shrink,
          (double)x < -p->lambd ? (double)x + p->bias : (double)x > p->lambd ? (double)x - p->bias : 0.0)
/* min first, then max, as numpy's minimum(maximum(x, lo), hi) */
#define CLIP(lo, hi) ((x < (lo) ? (lo) : x) > (hi) ? (hi) : (x < (lo) ? (lo) : x))
EW_EACH_F(UN_LOOP, clip, CLIP(P(lo), P(hi)))
EW_EACH_I(UN_LOOP, clip, CLIP((T)p->lo_i, (T)p->hi_i))
UN_LOOP(b8, uint8_t, uint8_t, not, x ^ 1)

/* ---- float32 vector kernels (unary_vec.h), once per ISA ------------------ */
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,fma")))
#define VW 16
#define V __m512
#define VI __m512i
#define SFX(name) name##_avx512
#define VSET _mm512_set1_ps
#define VSETI _mm512_set1_epi32
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VDIV _mm512_div_ps
#define VFMA _mm512_fmadd_ps
#define VMIN _mm512_min_ps
#define VMAX _mm512_max_ps
#define VROUND(x) _mm512_roundscale_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCVT _mm512_cvtps_epi32
#define VSRAI _mm512_srai_epi32
#define VSLLI _mm512_slli_epi32
#define VADDI _mm512_add_epi32
#define VSUBI _mm512_sub_epi32
#define VCASTI _mm512_castsi512_ps
#define VBITS(x) _mm512_castps_si512(x)
#define VABS(x) VCASTI(_mm512_and_epi32(VBITS(x), VSETI(0x7fffffff)))
#define VNEG(x) VCASTI(_mm512_xor_epi32(VBITS(x), VSETI((int)0x80000000u)))
#define VCOPYSIGN(m, s) VCASTI(_mm512_or_epi32(VBITS(m), _mm512_and_epi32(VBITS(s), VSETI((int)0x80000000u))))
#define VLT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define VBLEND(m, a, b) _mm512_mask_blend_ps((m), (a), (b))   /* b where m */
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VSQRT _mm512_sqrt_ps
#define VD __m512d
#define VDSET _mm512_set1_pd
#define VDMUL _mm512_mul_pd
#define VDDIV _mm512_div_pd
#define VDFMA _mm512_fmadd_pd
#define VDMIN _mm512_min_pd
#define VDMAX _mm512_max_pd
#define VLOD(x) _mm512_cvtps_pd(_mm512_castps512_ps256(x))
#define VHID(x) _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))
#define VJOIN(lo, hi) _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo))), \
                                                          _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1))
#include "unary_vec.h"
#undef TGT
#undef VW
#undef V
#undef VI
#undef SFX
#undef VSET
#undef VSETI
#undef VADD
#undef VSUB
#undef VMUL
#undef VDIV
#undef VFMA
#undef VMIN
#undef VMAX
#undef VROUND
#undef VCVT
#undef VSRAI
#undef VSLLI
#undef VADDI
#undef VSUBI
#undef VCASTI
#undef VBITS
#undef VABS
#undef VNEG
#undef VCOPYSIGN
#undef VLT
#undef VBLEND
#undef VLOAD
#undef VSTORE
#undef VSQRT
#undef VD
#undef VDSET
#undef VDMUL
#undef VDDIV
#undef VDFMA
#undef VDMIN
#undef VDMAX
#undef VLOD
#undef VHID
#undef VJOIN

#define TGT __attribute__((target("avx2,fma")))
#define VW 8
#define V __m256
#define VI __m256i
#define SFX(name) name##_avx2
#define VSET _mm256_set1_ps
#define VSETI _mm256_set1_epi32
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VFMA _mm256_fmadd_ps
#define VMIN _mm256_min_ps
#define VMAX _mm256_max_ps
#define VROUND(x) _mm256_round_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCVT _mm256_cvtps_epi32
#define VSRAI _mm256_srai_epi32
#define VSLLI _mm256_slli_epi32
#define VADDI _mm256_add_epi32
#define VSUBI _mm256_sub_epi32
#define VCASTI _mm256_castsi256_ps
#define VBITS(x) _mm256_castps_si256(x)
#define VABS(x) VCASTI(_mm256_and_si256(VBITS(x), VSETI(0x7fffffff)))
#define VNEG(x) VCASTI(_mm256_xor_si256(VBITS(x), VSETI((int)0x80000000u)))
#define VCOPYSIGN(m, s) VCASTI(_mm256_or_si256(VBITS(m), _mm256_and_si256(VBITS(s), VSETI((int)0x80000000u))))
#define VLT(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define VBLEND(m, a, b) _mm256_blendv_ps((a), (b), (m))   /* b where m */
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VSQRT _mm256_sqrt_ps
#define VD __m256d
#define VDSET _mm256_set1_pd
#define VDMUL _mm256_mul_pd
#define VDDIV _mm256_div_pd
#define VDFMA _mm256_fmadd_pd
#define VDMIN _mm256_min_pd
#define VDMAX _mm256_max_pd
#define VLOD(x) _mm256_cvtps_pd(_mm256_castps256_ps128(x))
#define VHID(x) _mm256_cvtps_pd(_mm256_extractf128_ps((x), 1))
#define VJOIN(lo, hi) _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo))
#include "unary_vec.h"

#define SIMD(op) static const un_fn op##_simd[3] = { [OG_ISA_AVX2] = op##_vec_avx2, [OG_ISA_AVX512] = op##_vec_avx512 }
SIMD(exp);
SIMD(tanh);
SIMD(sigmoid);
SIMD(erf);
SIMD(sqrt);

bool og_rowmax_f32_vec(const float *x, int64_t n, float *max)
{
    og_isa isa = og_isa_active();
    if (isa == OG_ISA_AVX512)
        return rowmax_vec_avx512(x, n, max);
    if (isa == OG_ISA_AVX2)
        return rowmax_vec_avx2(x, n, max);
    return false;
}

bool og_expsum_f32_vec(const float *x, float shift, float *y, int64_t n, float *sum)
{
    og_isa isa = og_isa_active();
    if (isa == OG_ISA_AVX512)
        *sum = expsum_vec_avx512(x, shift, y, n);
    else if (isa == OG_ISA_AVX2)
        *sum = expsum_vec_avx2(x, shift, y, n);
    else
        return false;
    return true;
}

bool og_divs_f32_vec(const float *x, float d, float *y, int64_t n)
{
    og_isa isa = og_isa_active();
    if (isa == OG_ISA_AVX512)
        divs_vec_avx512(x, d, y, n);
    else if (isa == OG_ISA_AVX2)
        divs_vec_avx2(x, d, y, n);
    else
        return false;
    return true;
}


/* ---- attributes ---------------------------------------------------------- */
#define A_CONSUMED                                                                                   \
    { .name = "consumed_inputs", .type = OG_ATTR_INTS, .offset = offsetof(un_params, consumed_inputs), \
      .since_version = 1, .until_version = 5 }
#define A_FLOAT(nm, field, dflt) { .name = nm, .type = OG_ATTR_FLOAT, .offset = offsetof(un_params, field), .def_f = dflt }

static const og_attr_spec consumed_attrs[] = { A_CONSUMED };
static const og_attr_spec hardsigmoid_attrs[] = { A_CONSUMED, A_FLOAT("alpha", alpha, 0.2f), A_FLOAT("beta", beta, 0.5f) };
static const og_attr_spec leakyrelu_attrs[] = { A_CONSUMED, A_FLOAT("alpha", alpha, 0.01f) };
static const og_attr_spec elu_attrs[] = { A_CONSUMED, A_FLOAT("alpha", alpha, 1.0f) };
static const og_attr_spec selu_attrs[] = { A_CONSUMED, A_FLOAT("alpha", alpha, 1.67326319217681884765625f),
                                           A_FLOAT("gamma", gamma, 1.05070102214813232421875f) };
static const og_attr_spec shrink_attrs[] = { A_FLOAT("bias", bias, 0.0f), A_FLOAT("lambd", lambd, 0.5f) };
static const og_attr_spec clip_attrs[] = {
    A_CONSUMED,
    { .name = "min", .type = OG_ATTR_FLOAT, .offset = offsetof(un_params, min), .until_version = 10,
      .track_present = true, .present_offset = offsetof(un_params, has_min), .to_input = true },
    { .name = "max", .type = OG_ATTR_FLOAT, .offset = offsetof(un_params, max), .until_version = 10,
      .track_present = true, .present_offset = offsetof(un_params, has_max), .to_input = true },
};

/* ---- infer ----------------------------------------------------------------- */
static og_status un_infer(og_infer_call *c)
{
    const un_row *row = c->node->op->impl;
    const og_tinfo *x = c->in[0];
    og_status st;
    if ((st = ew_check_type(c->node, c->opset, row->types, "X", ew_name(c->in_names, 0), x->dtype)) != OG_OK)
        return st;
    /* Clip from opset 11: optional scalar min and max of X's type */
    static const char *const bound[3] = { NULL, "min", "max" };
    if (c->n_in > 1 && c->opset < 11)
        return og_node_err(c->node, OG_ERR_SHAPE, "has %d inputs; min and max are inputs from opset 11 (attributes at "
                           "opset %d)", c->n_in, c->opset);
    for (int k = 1; k < c->n_in; k++) {
        const og_tinfo *t = c->in[k];
        if (!t)
            continue;
        if (t->dtype != OG_UNDEFINED && x->dtype != OG_UNDEFINED && t->dtype != x->dtype)
            return og_node_err(c->node, OG_ERR_SHAPE, "input %s '%s' has type %s, expected X's type %s", bound[k],
                               ew_name(c->in_names, k), og_dtype_name(t->dtype), og_dtype_name(x->dtype));
        bool one = t->shape.rank <= 1;
        for (int d = 0; d < t->shape.rank && one; d++)
            one = t->shape.dims[d] == 1 || t->shape.dims[d] < 0;
        if (t->shape.rank >= 0 && !one) {
            char buf[OG_SHAPE_STR_MAX];
            return og_node_err(c->node, OG_ERR_SHAPE, "input %s '%s' has shape %s, expected a scalar (rank 0)",
                               bound[k], ew_name(c->in_names, k), og_shape_str(&t->shape, buf, sizeof buf));
        }
    }
    c->workspace_bytes = 0;
    if (c->out[0] != NULL)
        *c->out[0] = *x;
    return OG_OK;
}

/* ---- run ------------------------------------------------------------------ */
/* Smallest and largest value of an integer dtype, as int64 bit patterns. */
static void int_limits(og_dtype t, int64_t *lo, int64_t *hi)
{
    switch (t) {
    case OG_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case OG_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
    case OG_INT32: *lo = INT32_MIN; *hi = INT32_MAX; break;
    case OG_UINT8: *lo = 0; *hi = UINT8_MAX; break;
    case OG_UINT16: *lo = 0; *hi = UINT16_MAX; break;
    case OG_UINT32: *lo = 0; *hi = UINT32_MAX; break;
    case OG_UINT64: *lo = 0; *hi = -1; break;   /* UINT64_MAX's bits */
    default: *lo = INT64_MIN; *hi = INT64_MAX; break;
    }
}

/* One element of t (numel >= 1) as double and as int64 bits. */
static void read_scalar(const og_tensor *t, double *d, int64_t *i)
{
    switch (t->dtype) {
#define RD(DT, T) case DT: { T v; memcpy(&v, t->data, sizeof v); *d = (double)v; *i = (int64_t)v; } break;
    RD(OG_FLOAT, float) RD(OG_DOUBLE, double) RD(OG_INT8, int8_t) RD(OG_INT16, int16_t) RD(OG_INT32, int32_t)
    RD(OG_INT64, int64_t) RD(OG_UINT8, uint8_t) RD(OG_UINT16, uint16_t) RD(OG_UINT32, uint32_t)
    RD(OG_UINT64, uint64_t)
#undef RD
    default: *d = 0; *i = 0; break;
    }
}

static og_status un_args_of(const og_kernel_call *k, un_args *a)
{
    const un_params *p = k->params;
    og_dtype t = k->in[0]->dtype;
    *a = (un_args){ .alpha = p->alpha, .beta = p->beta, .gamma = p->gamma, .lambd = p->lambd, .bias = p->bias,
                    .lo = -INFINITY, .hi = INFINITY };
    int_limits(t, &a->lo_i, &a->hi_i);
    if (p->has_min) {
        a->lo = p->min;
        a->lo_i = (int64_t)p->min;
    }
    if (p->has_max) {
        a->hi = p->max;
        a->hi_i = (int64_t)p->max;
    }
    for (int j = 1; j < k->n_in && j < 3; j++) {
        const og_tensor *b = k->in[j];
        if (!b)
            continue;
        if (b->numel != 1 || b->dtype != t)
            return og_node_err(k->node, OG_ERR_SHAPE, "input %s has %lld %s elements, expected one %s",
                               j == 1 ? "min" : "max", (long long)b->numel, og_dtype_name(b->dtype), og_dtype_name(t));
        read_scalar(b, j == 1 ? &a->lo : &a->hi, j == 1 ? &a->lo_i : &a->hi_i);
    }
    return OG_OK;
}

typedef struct un_task {
    un_fn fn;
    const char *x;
    char *y;
    size_t esize;
    int64_t n;
    un_args args;
} un_task;

static void un_chunk(void *arg, int64_t t, int worker)
{
    (void)worker;
    const un_task *u = arg;
    int64_t lo = t * EW_CHUNK, n = u->n - lo < EW_CHUNK ? u->n - lo : EW_CHUNK;
    u->fn(u->x + lo * (int64_t)u->esize, u->y + lo * (int64_t)u->esize, n, &u->args);
}

/* Fixed chunks of EW_CHUNK elements are the tasks, so the bits do not
 * depend on the thread count; each element is read before its place is
 * written, so Y may be X's storage. */
static og_status un_launch(const og_kernel_call *k, un_fn fn, int n_threads)
{
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    if (!fn || y->numel != x->numel || og_dtype_size(y->dtype) != og_dtype_size(x->dtype))
        return og_node_err(k->node, OG_ERR_INTERNAL, "no kernel for %lld %s elements into %lld %s (inference should "
                           "have refused them)", (long long)x->numel, og_dtype_name(x->dtype), (long long)y->numel,
                           og_dtype_name(y->dtype));
    un_task u = { .fn = fn, .x = x->data, .y = y->data, .esize = og_dtype_size(x->dtype), .n = x->numel };
    og_status st = un_args_of(k, &u.args);
    if (st != OG_OK)
        return st;
    og_parallel_for(n_threads > 0 ? n_threads : 1, (u.n + EW_CHUNK - 1) / EW_CHUNK, un_chunk, &u);
    return OG_OK;
}

static un_fn un_fn_of(const og_kernel_call *k)
{
    const un_row *row = k->node->op->impl;
    og_dtype t = k->in[0]->dtype;
    return (int)t >= 0 && (int)t < EW_NDT ? row->fn[t] : NULL;
}

/* The reference: the scalar loop, one thread. */
static og_status un_run(const og_kernel_call *k)
{
    return un_launch(k, un_fn_of(k), 1);
}

/* The float32 vector kernel for the active ISA, if the op has one. */
static un_fn un_simd(const un_row *row, og_dtype t)
{
    og_isa isa = og_isa_active();
    return t == OG_FLOAT && row->simd && isa >= OG_ISA_AVX2 && isa <= OG_ISA_AVX512 ? row->simd[isa] : NULL;
}

/* The plan's kernels: the loops threaded, in place, and the vector ones
 * where the op has them. */
static og_status un_fast_run(const og_kernel_call *k)
{
    return un_launch(k, un_fn_of(k), k->n_threads);
}

static og_status un_simd_run(const og_kernel_call *k)
{
    return un_launch(k, un_simd(k->node->op->impl, k->in[0]->dtype), k->n_threads);
}

static og_status un_select(og_select_call *s)
{
    if (!s->in[0] || !s->out[0] || !og_shape_known(&s->in[0]->shape))
        return OG_OK;
    bool vec = un_simd(s->node->op->impl, s->in[0]->dtype) != NULL;
    s->run = vec ? un_simd_run : un_fast_run;
    s->kernel_name = !vec ? "elementwise_unary" : og_isa_active() == OG_ISA_AVX512 ? "elementwise_unary_avx512"
                                                                                      : "elementwise_unary_avx2";
    s->inplace_input = 0;
    return OG_OK;
}

/* ---- backward rules ------------------------------------------------------ */
#define X (b->in[0])
#define DY (b->dout[0])
#define C(v) ew_gb_scalar(b, (v))
#define PARAMS ((const un_params *)b->params)

/* The forward output Y (added to the gradient graph when unwanted). */
static const char *gb_y(og_backward_call *b)
{
    const char *y = NULL;
    og_status st = og_grad_forward_output(b, 0, &y);
    if (st != OG_OK && b->status == OG_OK)
        b->status = st;
    return st == OG_OK ? y : NULL;
}

/* Every rule: nothing to do without dY or when X needs no gradient. */
#define RULE(name, ...)                                  \
    static og_status name##_backward(og_backward_call *b) \
    {                                                    \
        if (!b->need[0] || !DY)                          \
            return OG_OK;                                \
        __VA_ARGS__;                                     \
        return og_gb_status(b);                          \
    }

RULE(neg, b->din[0] = og_gb_neg(b, DY))
RULE(abs, b->din[0] = og_gb_mul(b, DY, og_gb1(b, "Sign", X)))
RULE(exp, b->din[0] = og_gb_mul(b, DY, gb_y(b)))
RULE(log, b->din[0] = og_gb_div(b, DY, X))
RULE(sqrt, b->din[0] = og_gb_div(b, DY, og_gb_mul(b, C(2), gb_y(b))))
RULE(reciprocal, const char *y = gb_y(b); b->din[0] = og_gb_neg(b, og_gb_mul(b, DY, og_gb_mul(b, y, y))))
RULE(erf, b->din[0] = og_gb_mul(b, DY, og_gb_mul(b, C(1.12837916709551257390), og_gb_exp(b, og_gb_neg(b, og_gb_mul(b, X, X))))))
RULE(tanh, const char *y = gb_y(b); b->din[0] = og_gb_mul(b, DY, og_gb_sub(b, C(1), og_gb_mul(b, y, y))))
RULE(sigmoid, const char *y = gb_y(b); b->din[0] = og_gb_mul(b, DY, og_gb_mul(b, y, og_gb_sub(b, C(1), y))))
RULE(softplus, b->din[0] = og_gb_mul(b, DY, og_gb1(b, "Sigmoid", X)))
/* Sign, Floor, Ceil, Round: piecewise constant, the gradient is 0 (NULL) */
RULE(zero, b->din[0] = NULL)
RULE(hardsigmoid,
     const char *t = og_gb_add(b, og_gb_mul(b, C(PARAMS->alpha), X), C(PARAMS->beta));
     const char *inside = og_gb2(b, "And", og_gb2(b, "Greater", t, C(0)), og_gb2(b, "Less", t, C(1)));
     b->din[0] = ew_gb_where(b, inside, og_gb_mul(b, DY, C(PARAMS->alpha)), C(0)))
RULE(hardswish,
     const char *mid = og_gb_mul(b, DY, og_gb_add(b, og_gb_div(b, X, C(3)), C(0.5)));
     b->din[0] = ew_gb_where(b, og_gb2(b, "Less", X, C(-3)), C(0),
                             ew_gb_where(b, og_gb2(b, "LessOrEqual", X, C(3)), mid, DY)))
RULE(leakyrelu, b->din[0] = ew_gb_where(b, og_gb2(b, "Greater", X, C(0)), DY, og_gb_mul(b, DY, C(PARAMS->alpha))))
RULE(elu, b->din[0] = ew_gb_where(b, og_gb2(b, "Greater", X, C(0)), DY,
                                  og_gb_mul(b, DY, og_gb_mul(b, C(PARAMS->alpha), og_gb_exp(b, X)))))
RULE(selu, const char *g = og_gb_mul(b, DY, C(PARAMS->gamma));
     b->din[0] = ew_gb_where(b, og_gb2(b, "Greater", X, C(0)), g,
                             og_gb_mul(b, g, og_gb_mul(b, C(PARAMS->alpha), og_gb_exp(b, X)))))
RULE(shrink,
     const char *out = og_gb2(b, "Or", og_gb2(b, "Less", X, C(-(double)PARAMS->lambd)),
                              og_gb2(b, "Greater", X, C(PARAMS->lambd)));
     b->din[0] = ew_gb_where(b, out, DY, C(0)))

/* Clip: dX = dY where min <= X <= max; a bound from an attribute is a
 * constant, from an input its value, and an absent one no test. The
 * bounds given as inputs get what torch.clamp's clamp_backward_min_max
 * gives: dmin = dY where X < min (and min < max when both are given),
 * dmax = dY where X > max (or max < min), each summed to a scalar. */
static og_status clip_backward(og_backward_call *b)
{
    if (!DY)
        return OG_OK;
    const un_params *p = b->params;
    const char *lo_in = b->n_in > 1 ? b->in[1] : NULL, *hi_in = b->n_in > 2 ? b->in[2] : NULL;
    const char *lo = lo_in ? lo_in : p->has_min ? C(p->min) : NULL;
    const char *hi = hi_in ? hi_in : p->has_max ? C(p->max) : NULL;
    if (b->need[0]) {
        const char *in_lo = lo ? og_gb2(b, "LessOrEqual", lo, X) : NULL;
        const char *in_hi = hi ? og_gb2(b, "LessOrEqual", X, hi) : NULL;
        const char *inside = in_lo && in_hi ? og_gb2(b, "And", in_lo, in_hi) : in_lo ? in_lo : in_hi;
        b->din[0] = inside ? ew_gb_where(b, inside, DY, C(0)) : DY;
    }
    if (b->n_in > 1 && b->need[1] && lo_in) {
        const char *below = og_gb2(b, "Less", X, lo);
        if (hi)
            below = og_gb2(b, "And", below, og_gb2(b, "Less", lo, hi));
        b->din[1] = og_gb_unbroadcast(b, 1, ew_gb_where(b, below, DY, C(0)));
    }
    if (b->n_in > 2 && b->need[2] && hi_in) {
        const char *above = og_gb2(b, "Greater", X, hi);
        if (lo)
            above = og_gb2(b, "Or", above, og_gb2(b, "Less", hi, lo));
        b->din[2] = og_gb_unbroadcast(b, 2, ew_gb_where(b, above, DY, C(0)));
    }
    return og_gb_status(b);
}
#undef X
#undef DY
#undef C
#undef PARAMS

/* ---- the table --------------------------------------------------------- */
#define UNARY_OP(lname, Name, since, attr_arr, diff, bwd, maxin, ...)                                       \
    static const un_row lname##_row = { __VA_ARGS__ };                                                      \
    const og_op og_op_##lname = { .name = Name, .domain = "", .since_version = since, .min_inputs = 1,      \
                                  .max_inputs = maxin, .min_outputs = 1, .max_outputs = 1,                  \
                                  .diff_inputs = diff, .diff_outputs = diff ? 1 : 0, attr_arr,              \
                                  .params_size = sizeof(un_params), .infer = un_infer, .run = un_run,        \
                                  .backward = bwd, .select = un_select, .impl = &lname##_row, .cost = og_cost_per_output };
#define ATTRS(a) .attrs = a, .n_attrs = (int)(sizeof a / sizeof a[0])
#define NO_ATTRS .attrs = NULL
/* float types from opset 1 (Exp, Log, ...) */
#define FLOATS .types = { { EW_F, 1, 0, NULL } }

UNARY_OP(neg, "Neg", 1, ATTRS(consumed_attrs), 1, neg_backward, 1,
         .types = { { EW_F, 1, 0, NULL }, { EW_SI, 6, 0, "signed integer types" } }, .fn = { EW_FN_F(neg), EW_FN_SI(neg) })
UNARY_OP(abs, "Abs", 1, ATTRS(consumed_attrs), 1, abs_backward, 1,
         .types = { { EW_F, 1, 0, NULL }, { EW_I, 6, 0, "integer types" } }, .fn = { EW_FN_ALL(abs) })
UNARY_OP(exp, "Exp", 1, ATTRS(consumed_attrs), 1, exp_backward, 1, FLOATS, .fn = { EW_FN_F(exp) }, .simd = exp_simd)
UNARY_OP(log, "Log", 1, ATTRS(consumed_attrs), 1, log_backward, 1, FLOATS, .fn = { EW_FN_F(log) })
UNARY_OP(sqrt, "Sqrt", 1, ATTRS(consumed_attrs), 1, sqrt_backward, 1, FLOATS, .fn = { EW_FN_F(sqrt) }, .simd = sqrt_simd)
UNARY_OP(reciprocal, "Reciprocal", 1, ATTRS(consumed_attrs), 1, reciprocal_backward, 1, FLOATS, .fn = { EW_FN_F(reciprocal) })
UNARY_OP(floor, "Floor", 1, ATTRS(consumed_attrs), 1, zero_backward, 1, FLOATS, .fn = { EW_FN_F(floor) })
UNARY_OP(ceil, "Ceil", 1, ATTRS(consumed_attrs), 1, zero_backward, 1, FLOATS, .fn = { EW_FN_F(ceil) })
UNARY_OP(round, "Round", 11, NO_ATTRS, 1, zero_backward, 1, .types = { { EW_F, 11, 0, NULL } }, .fn = { EW_FN_F(round) })
UNARY_OP(tanh, "Tanh", 1, ATTRS(consumed_attrs), 1, tanh_backward, 1, FLOATS, .fn = { EW_FN_F(tanh) }, .simd = tanh_simd)
UNARY_OP(sigmoid, "Sigmoid", 1, ATTRS(consumed_attrs), 1, sigmoid_backward, 1, FLOATS, .fn = { EW_FN_F(sigmoid) }, .simd = sigmoid_simd)
UNARY_OP(erf, "Erf", 9, NO_ATTRS, 1, erf_backward, 1, .types = { { EW_F | EW_I, 9, 0, NULL } }, .fn = { EW_FN_ALL(erf) }, .simd = erf_simd)
UNARY_OP(sign, "Sign", 9, NO_ATTRS, 1, zero_backward, 1, .types = { { EW_F | EW_I, 9, 0, NULL } }, .fn = { EW_FN_ALL(sign) })
UNARY_OP(hardsigmoid, "HardSigmoid", 1, ATTRS(hardsigmoid_attrs), 1, hardsigmoid_backward, 1, FLOATS, .fn = { EW_FN_F(hardsigmoid) })
UNARY_OP(hardswish, "HardSwish", 14, NO_ATTRS, 1, hardswish_backward, 1, .types = { { EW_F, 14, 0, NULL } },
         .fn = { EW_FN_F(hardswish) })
UNARY_OP(leakyrelu, "LeakyRelu", 1, ATTRS(leakyrelu_attrs), 1, leakyrelu_backward, 1, FLOATS, .fn = { EW_FN_F(leakyrelu) })
UNARY_OP(elu, "Elu", 1, ATTRS(elu_attrs), 1, elu_backward, 1, FLOATS, .fn = { EW_FN_F(elu) })
UNARY_OP(selu, "Selu", 1, ATTRS(selu_attrs), 1, selu_backward, 1, FLOATS, .fn = { EW_FN_F(selu) })
UNARY_OP(softplus, "Softplus", 1, NO_ATTRS, 1, softplus_backward, 1, FLOATS, .fn = { EW_FN_F(softplus) })
UNARY_OP(shrink, "Shrink", 9, ATTRS(shrink_attrs), 1, shrink_backward, 1, .types = { { EW_F | EW_I, 9, 0, NULL } },
         .fn = { EW_FN_ALL(shrink) })
UNARY_OP(clip, "Clip", 1, ATTRS(clip_attrs), 7, clip_backward, 3,
         .types = { { EW_F, 1, 0, NULL }, { EW_I, 12, 0, "integer types" } }, .fn = { EW_FN_ALL(clip) })
UNARY_OP(not, "Not", 1, NO_ATTRS, 0, NULL, 1, .types = { { EW_B, 1, 0, NULL } }, .bool_out = true,
         .fn = { [OG_BOOL] = not_b8 })
