/* SPDX-License-Identifier: MIT */
/* Relu — rectified linear unit, elementwise: Y = max(0, X), same shape and
 * type as X.
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Relu
 *
 * Versions: 1 (float types, legacy `consumed_inputs` attribute), 6 (the
 * attribute dropped), 13 (bfloat16 added), 14 (int8/int16/int32/int64 added).
 * onnxgrad cannot hold float16/bfloat16 tensors, so those are rejected as
 * unsupported. NaN inputs stay NaN, as in PyTorch and numpy's maximum.
 *
 * Backward: dX = Where(Y > 0, dY, 0), read from the output Y; 0 at X = 0. */
#include <immintrin.h>
#include <stddef.h>
#include <string.h>
#include "internal.h"
#include "kernel.h"

typedef struct relu_params {
    og_ints consumed_inputs;   /* opset 1 only; an in-place hint we ignore */
} relu_params;

static const og_attr_spec relu_attrs[] = {
    {.name = "consumed_inputs", .type = OG_ATTR_INTS, .offset = offsetof(relu_params, consumed_inputs),
     .since_version = 1, .until_version = 5},
};

/* The tensor's name for messages; "?" when the caller did not supply names. */
static const char *in_name(const og_infer_call *c, int k)
{
    return c->in_names[k] != NULL ? c->in_names[k] : "?";
}

static bool relu_int_type(og_dtype t)
{
    return t == OG_INT8 || t == OG_INT16 || t == OG_INT32 || t == OG_INT64;
}

static og_status relu_infer(og_infer_call *c)
{
    const char *node = c->node->name;
    const og_tinfo *x = c->in[0];
    og_dtype t = x->dtype;

    if (t == OG_FLOAT16 || t == OG_BFLOAT16)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Relu): input X '%s' has type %s, "
                      "which onnxgrad cannot hold; expected float or double",
                      node, in_name(c, 0), og_dtype_name(t));
    if (relu_int_type(t) && c->opset < 14)
        return og_err(OG_ERR_SHAPE, "node '%s' (Relu): input X '%s' has type %s, integer types "
                      "need opset >= 14, got opset %d; expected float or double",
                      node, in_name(c, 0), og_dtype_name(t), c->opset);
    if (t != OG_UNDEFINED && t != OG_FLOAT && t != OG_DOUBLE && !relu_int_type(t))
        return og_err(OG_ERR_SHAPE, "node '%s' (Relu): input X '%s' has type %s, expected %s",
                      node, in_name(c, 0), og_dtype_name(t),
                      c->opset >= 14 ? "float, double, int8, int16, int32 or int64"
                                     : "float or double");
    if (c->out[0] != NULL)
        *c->out[0] = *x;
    c->workspace_bytes = 0;
    return OG_OK;
}

/* `x < 0 ? 0 : x` rather than `x > 0 ? x : 0`: the comparison is false for
 * NaN, so NaN passes through instead of becoming 0. */
#define RELU_LOOP(T)                                          \
    do {                                                      \
        const T *x = (const T *)in->data;                     \
        T *y = (T *)out->data;                                \
        for (int64_t i = 0; i < in->numel; i++)               \
            y[i] = x[i] < 0 ? (T)0 : x[i];                    \
    } while (0)

static og_status relu_run(const og_kernel_call *k)
{
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];

    if (out == NULL)
        return OG_OK;
    if (out->numel != in->numel || out->dtype != in->dtype)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Relu): output has %lld %s elements, "
                      "expected %lld %s", k->node->name, (long long)out->numel,
                      og_dtype_name(out->dtype), (long long)in->numel, og_dtype_name(in->dtype));
    switch (in->dtype) {
    case OG_FLOAT:  RELU_LOOP(float); break;
    case OG_DOUBLE: RELU_LOOP(double); break;
    case OG_INT8:   RELU_LOOP(int8_t); break;
    case OG_INT16:  RELU_LOOP(int16_t); break;
    case OG_INT32:  RELU_LOOP(int32_t); break;
    case OG_INT64:  RELU_LOOP(int64_t); break;
    default:
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Relu): no kernel for type %s",
                      k->node->name, og_dtype_name(in->dtype));
    }
    return OG_OK;
}

/* dX = Where(Y <= 0, 0, dY), from Relu's output Y, so the gradient graph
 * need not keep X: Y <= 0 exactly where X <= 0. This is PyTorch's
 * threshold_backward: the gradient at X = 0 is 0, and where X is NaN (so
 * is Y, and NaN <= 0 is false) the gradient passes. Integer Relu carries
 * no gradient (the engine skips integer tensors). */
static og_status relu_backward(og_backward_call *b)
{
    const char *y, *zero, *off;
    og_status st;
    if (!b->need[0] || b->dout[0] == NULL)
        return OG_OK;
    if ((st = og_grad_forward_output(b, 0, &y)) != OG_OK ||
        (st = og_grad_const_scalar(b, b->out_info[0].dtype, 0.0, &zero)) != OG_OK ||
        (st = og_grad_emit(b, "LessOrEqual", 2, (const char *const[]){y, zero}, 1, &off, 0, NULL)) != OG_OK)
        return st;
    return og_grad_emit(b, "Where", 3, (const char *const[]){off, zero, b->dout[0]}, 1, &b->din[0], 0, NULL);
}

/* ---- plan-time fast paths: float32 Relu and its backward pattern ---------
 * Elementwise at memory bandwidth: fixed chunks of RELU_CHUNK elements are
 * the tasks (the split depends on the size only), AVX-512 inside a chunk,
 * and the same per-element expression as the reference, so the bits are
 * the reference's at any thread count. Tensors much larger than the caches
 * are written with streaming stores (no read-for-ownership of the output). */
#define OG_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define RELU_CHUNK ((int64_t)1 << 15)
#define RELU_STREAM_BYTES ((int64_t)16 << 20)

typedef struct relu_ctx {
    const float *a, *b;   /* forward: X; backward: Y (Clip's: X), dY */
    float *y;
    int64_t n;
    bool simd, stream;
    const struct clip_bounds *bounds;   /* Clip's backward */
} relu_ctx;

/* The bounds Clip's backward tests, each only when the Clip had it (an
 * absent bound is no test: NaN passes it). */
typedef struct clip_bounds {
    float lo, hi;
    bool has_lo, has_hi;
} clip_bounds;

OG_AVX512 static void relu_fwd_avx512(const float *x, float *y, int64_t n, bool stream)
{
    const __m512 zero = _mm512_setzero_ps();
    int64_t i = 0;
    if (stream)   /* streaming stores need 64-byte alignment */
        for (; i < n && ((uintptr_t)(y + i) & 63); i++)
            y[i] = x[i] < 0 ? 0.0f : x[i];
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        /* x < 0 is false for NaN and -0: those pass through, as in the reference */
        __m512 r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, zero);
        if (stream)
            _mm512_stream_ps(y + i, r);
        else
            _mm512_storeu_ps(y + i, r);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, zero));
    }
    if (stream)
        _mm_sfence();
}

OG_AVX512 static void relu_bwd_avx512(const float *yv, const float *dy, float *dx, int64_t n, bool stream)
{
    const __m512 zero = _mm512_setzero_ps();
    int64_t i = 0;
    if (stream)
        for (; i < n && ((uintptr_t)(dx + i) & 63); i++)
            dx[i] = yv[i] <= 0 ? 0.0f : dy[i];
    for (; i + 16 <= n; i += 16) {
        /* Y <= 0 is false at NaN: the gradient passes there, as Where(LessOrEqual) does */
        __mmask16 off = _mm512_cmp_ps_mask(_mm512_loadu_ps(yv + i), zero, _CMP_LE_OQ);
        __m512 r = _mm512_mask_blend_ps(off, _mm512_loadu_ps(dy + i), zero);
        if (stream)
            _mm512_stream_ps(dx + i, r);
        else
            _mm512_storeu_ps(dx + i, r);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __mmask16 off = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, yv + i), zero, _CMP_LE_OQ);
        _mm512_mask_storeu_ps(dx + i, m, _mm512_mask_blend_ps(off, _mm512_maskz_loadu_ps(m, dy + i), zero));
    }
    if (stream)
        _mm_sfence();
}

/* dX = dY where lo <= X <= hi (each bound that exists), else +0: the
 * Where(And(LessOrEqual(lo, X), LessOrEqual(X, hi)), dY, 0) Clip's backward
 * rule emits. Ordered compares are false at NaN, as LessOrEqual is. */
OG_AVX512 static void clip_bwd_avx512(const clip_bounds *cb, const float *x, const float *dy, float *dx, int64_t n,
                                      bool stream)
{
    const __m512 zero = _mm512_setzero_ps(), lo = _mm512_set1_ps(cb->lo), hi = _mm512_set1_ps(cb->hi);
    int64_t i = 0;
    if (stream)
        for (; i < n && ((uintptr_t)(dx + i) & 63); i++)
            dx[i] = (!cb->has_lo || cb->lo <= x[i]) && (!cb->has_hi || x[i] <= cb->hi) ? dy[i] : 0.0f;
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __mmask16 in = m;
        if (cb->has_lo)
            in &= _mm512_cmp_ps_mask(lo, v, _CMP_LE_OQ);
        if (cb->has_hi)
            in &= _mm512_cmp_ps_mask(v, hi, _CMP_LE_OQ);
        __m512 r = _mm512_mask_blend_ps(in, zero, _mm512_maskz_loadu_ps(m, dy + i));
        if (stream && m == 0xFFFF)
            _mm512_stream_ps(dx + i, r);
        else
            _mm512_mask_storeu_ps(dx + i, m, r);
    }
    if (stream)
        _mm_sfence();
}

static void clip_bwd_task(void *arg, int64_t t, int worker)
{
    (void)worker;
    const relu_ctx *c = arg;
    const clip_bounds *cb = c->bounds;
    int64_t i0 = t * RELU_CHUNK, n = c->n - i0 < RELU_CHUNK ? c->n - i0 : RELU_CHUNK;
    if (c->simd) {
        clip_bwd_avx512(cb, c->a + i0, c->b + i0, c->y + i0, n, c->stream);
        return;
    }
    for (int64_t i = i0; i < i0 + n; i++)
        c->y[i] = (!cb->has_lo || cb->lo <= c->a[i]) && (!cb->has_hi || c->a[i] <= cb->hi) ? c->b[i] : 0.0f;
}

static void relu_fwd_task(void *arg, int64_t t, int worker)
{
    (void)worker;
    const relu_ctx *c = arg;
    int64_t i0 = t * RELU_CHUNK, n = c->n - i0 < RELU_CHUNK ? c->n - i0 : RELU_CHUNK;
    if (c->simd) {
        relu_fwd_avx512(c->a + i0, c->y + i0, n, c->stream);
        return;
    }
    for (int64_t i = i0; i < i0 + n; i++)
        c->y[i] = c->a[i] < 0 ? 0.0f : c->a[i];
}

static void relu_bwd_task(void *arg, int64_t t, int worker)
{
    (void)worker;
    const relu_ctx *c = arg;
    int64_t i0 = t * RELU_CHUNK, n = c->n - i0 < RELU_CHUNK ? c->n - i0 : RELU_CHUNK;
    if (c->simd) {
        relu_bwd_avx512(c->a + i0, c->b + i0, c->y + i0, n, c->stream);
        return;
    }
    for (int64_t i = i0; i < i0 + n; i++)
        c->y[i] = c->a[i] <= 0 ? 0.0f : c->b[i];
}

static void relu_launch(const og_kernel_call *k, og_task_fn fn, const float *a, const float *b, float *y, int64_t n)
{
    relu_ctx c = { a, b, y, n, og_isa_active() == OG_ISA_AVX512, n * (int64_t)sizeof(float) >= RELU_STREAM_BYTES,
                   k->state };
    og_parallel_for(k->n_threads > 0 ? k->n_threads : 1, (n + RELU_CHUNK - 1) / RELU_CHUNK, fn, &c);
}

static og_status relu_fast_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0];
    if (!y)
        return OG_OK;
    if (x->dtype != OG_FLOAT || y->dtype != OG_FLOAT || y->numel != x->numel)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Relu): tensors do not match the planned shapes", k->node->name);
    relu_launch(k, relu_fwd_task, x->data, NULL, y->data, x->numel);
    return OG_OK;
}

static const char *relu_kernel_name(void) { return og_isa_active() == OG_ISA_AVX512 ? "relu_avx512" : "relu_scalar"; }

static og_status relu_select(og_select_call *s)
{
    if (s->in[0] && s->in[0]->dtype == OG_FLOAT) {
        s->run = relu_fast_run;
        s->kernel_name = relu_kernel_name();
        s->inplace_input = 0;   /* each element is read before its place is written */
    }
    return OG_OK;
}

/* Backward pattern: Where(LessOrEqual(Y, 0), 0, dY), as relu_backward
 * emits it, becomes one pass over (Y, dY). */
static og_status relu_bwd_run(const og_kernel_call *k)
{
    const og_tensor *y = k->in[0], *dy = k->in[1];
    og_tensor *dx = k->out[0];
    if (!dx)
        return OG_OK;
    if (y->dtype != OG_FLOAT || dy->dtype != OG_FLOAT || dx->dtype != OG_FLOAT || y->numel != dx->numel ||
        dy->numel != dx->numel)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Where): tensors do not match the planned shapes", k->node->name);
    relu_launch(k, relu_bwd_task, y->data, dy->data, dx->data, dx->numel);
    return OG_OK;
}

/* Value v holds one float known before running, whatever its (all-ones)
 * shape: fixed data, or a Constant node's. */
static bool const_float_scalar(const og_graph *g, int v, float *out)
{
    if (v < 0)
        return false;
    const og_tensor *t = og_value_data(&g->values[v]);
    const og_node *n = og_value_producer(g, v);
    if (!t && n && strcmp(n->op_type, "Constant") == 0 && !n->domain[0])
        for (int a = 0; a < n->n_attrs; a++) {
            if (strcmp(n->attrs[a].name, "value") == 0 && n->attrs[a].type == OG_ATTR_TENSOR)
                t = n->attrs[a].t;
            else if (strcmp(n->attrs[a].name, "value_float") == 0 && n->attrs[a].type == OG_ATTR_FLOAT) {
                *out = n->attrs[a].f;
                return true;
            }
        }
    if (!t || t->dtype != OG_FLOAT || t->numel != 1)
        return false;
    memcpy(out, t->data, sizeof *out);
    return true;
}

/* A known shape equal to `full`, or (when may_broadcast) all ones of rank
 * <= full's, so broadcasting leaves the output shape alone. */
static bool same_shape(const og_tinfo *t, const og_tinfo *full, bool ones_ok)
{
    if (!t || t->shape.rank < 0 || !og_shape_known(&t->shape))
        return false;
    bool equal = t->shape.rank == full->shape.rank, ones = t->shape.rank <= full->shape.rank;
    for (int d = 0; d < t->shape.rank; d++) {
        equal = equal && t->shape.dims[d] == full->shape.dims[d];
        ones = ones && t->shape.dims[d] == 1;
    }
    return equal || (ones_ok && ones);
}

static og_status relu_bwd_select(og_select_call *s)
{
    const og_graph *g = s->g;
    const og_node *w = s->node;
    if (w->domain[0] || w->n_inputs != 3 || s->n_out < 1 || !s->out[0] || s->out[0]->dtype != OG_FLOAT ||
        !og_shape_known(&s->out[0]->shape))
        return OG_OK;
    int cond = w->inputs[0];
    const og_node *le = og_value_producer(g, cond);
    if (!le || strcmp(le->op_type, "LessOrEqual") != 0 || le->domain[0] || le->n_inputs != 2 ||
        s->readers[cond] != 1)
        return OG_OK;
    float z_cmp, z_sel;
    uint32_t sel_bits;
    if (!const_float_scalar(g, le->inputs[1], &z_cmp) || z_cmp != 0 || !const_float_scalar(g, w->inputs[1], &z_sel))
        return OG_OK;
    memcpy(&sel_bits, &z_sel, sizeof sel_bits);
    if (sel_bits != 0)   /* the kernel writes +0 */
        return OG_OK;
    og_tinfo y, zc, zs;
    og_value_get(&g->values[le->inputs[0]], &y);
    og_value_get(&g->values[le->inputs[1]], &zc);
    og_value_get(&g->values[w->inputs[1]], &zs);
    const og_tinfo *out = s->out[0], *dy = s->in[2];
    if (y.dtype != OG_FLOAT || !dy || dy->dtype != OG_FLOAT || !same_shape(&y, out, false) ||
        !same_shape(dy, out, false) || !same_shape(&zc, out, true) || !same_shape(&zs, out, true))
        return OG_OK;
    s->run = relu_bwd_run;
    s->kernel_name = og_isa_active() == OG_ISA_AVX512 ? "relu_backward_avx512" : "relu_backward_scalar";
    s->new_n_in = 2;
    s->new_inputs[0] = le->inputs[0];
    s->new_inputs[1] = w->inputs[2];
    s->inplace_input = 1;   /* dX may take dY's bytes: each element is read before its place is written */
    return OG_OK;
}

const og_pattern og_pattern_relu_backward = {
    .root_op = "Where",
    .name = "relu_backward",
    .select = relu_bwd_select,
};

/* Clip's backward pattern: Where(cond, dY, 0), cond LessOrEqual(lo, X),
 * LessOrEqual(X, hi), or their And, with constant scalar bounds — one pass
 * over (X, dY), as clip_backward (ops/unary.c) emits it. */
static og_status clip_bwd_run(const og_kernel_call *k)
{
    const og_tensor *x = k->in[0], *dy = k->in[1];
    og_tensor *dx = k->out[0];
    if (!dx)
        return OG_OK;
    if (x->dtype != OG_FLOAT || dy->dtype != OG_FLOAT || dx->dtype != OG_FLOAT || x->numel != dx->numel ||
        dy->numel != dx->numel)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Where): tensors do not match the planned shapes", k->node->name);
    relu_launch(k, clip_bwd_task, x->data, dy->data, dx->data, dx->numel);
    return OG_OK;
}

/* One LessOrEqual of the condition, read only by it: a constant scalar
 * on one side (the bound) and X on the other; fills the bound it is. */
static bool clip_compare(const og_select_call *s, int v, int *x, clip_bounds *cb)
{
    const og_node *le = og_value_producer(s->g, v);
    if (!le || strcmp(le->op_type, "LessOrEqual") != 0 || le->domain[0] || le->n_inputs != 2 || s->readers[v] != 1)
        return false;
    float c;
    if (const_float_scalar(s->g, le->inputs[0], &c) && !cb->has_lo) {   /* lo <= X */
        cb->lo = c;
        cb->has_lo = true;
        return *x < 0 || *x == le->inputs[1] ? (*x = le->inputs[1], true) : false;
    }
    if (const_float_scalar(s->g, le->inputs[1], &c) && !cb->has_hi) {   /* X <= hi */
        cb->hi = c;
        cb->has_hi = true;
        return *x < 0 || *x == le->inputs[0] ? (*x = le->inputs[0], true) : false;
    }
    return false;
}

static og_status clip_bwd_select(og_select_call *s)
{
    const og_graph *g = s->g;
    const og_node *w = s->node;
    if (w->domain[0] || w->n_inputs != 3 || s->n_out < 1 || !s->out[0] || s->out[0]->dtype != OG_FLOAT ||
        !og_shape_known(&s->out[0]->shape))
        return OG_OK;
    float z_sel;
    uint32_t sel_bits;
    if (!const_float_scalar(g, w->inputs[2], &z_sel))
        return OG_OK;
    memcpy(&sel_bits, &z_sel, sizeof sel_bits);
    if (sel_bits != 0)   /* the kernel writes +0 */
        return OG_OK;
    clip_bounds cb = { 0 };
    int x = -1, cond = w->inputs[0];
    const og_node *and = og_value_producer(g, cond);
    if (and && strcmp(and->op_type, "And") == 0 && !and->domain[0] && and->n_inputs == 2 && s->readers[cond] == 1) {
        if (!clip_compare(s, and->inputs[0], &x, &cb) || !clip_compare(s, and->inputs[1], &x, &cb))
            return OG_OK;
    } else if (!clip_compare(s, cond, &x, &cb)) {
        return OG_OK;
    }
    og_tinfo xt;
    og_value_get(&g->values[x], &xt);
    const og_tinfo *out = s->out[0], *dy = s->in[1], *zs = s->in[2];
    if (xt.dtype != OG_FLOAT || !dy || dy->dtype != OG_FLOAT || !same_shape(&xt, out, false) ||
        !same_shape(dy, out, false) || !zs || !same_shape(zs, out, true))
        return OG_OK;
    clip_bounds *state = og_malloc(sizeof *state);
    if (!state)
        return og_err(OG_ERR_NOMEM, "out of memory planning node '%s'", w->name);
    *state = cb;
    s->state = state;
    s->run = clip_bwd_run;
    s->kernel_name = og_isa_active() == OG_ISA_AVX512 ? "clip_backward_avx512" : "clip_backward_scalar";
    s->new_n_in = 2;
    s->new_inputs[0] = x;
    s->new_inputs[1] = w->inputs[1];
    s->inplace_input = 1;   /* dX may take dY's bytes: each element is read before its place is written */
    return OG_OK;
}

const og_pattern og_pattern_clip_backward = {
    .root_op = "Where",
    .name = "clip_backward",
    .select = clip_bwd_select,
};

const og_op og_op_relu = {
    .name = "Relu",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = relu_attrs,
    .n_attrs = (int)(sizeof relu_attrs / sizeof relu_attrs[0]),
    .params_size = sizeof(relu_params),
    .infer = relu_infer,
    .run = relu_run,
    .backward = relu_backward,
    .select = relu_select,
    .cost = og_cost_per_output,
};
