/* SPDX-License-Identifier: MIT */
/* norm_common.c — the kernel and the backward pieces the normalisation ops
 * share (see norm_common.h). A channel is computed by one worker: its
 * statistics are summed in a fixed order, so the bits never depend on which
 * worker ran it or how many there are. The reference sums sequentially, two
 * passes; the plan-time kernel (job.lanes) sums float32 with AVX-512 in
 * one pass of deviations, in float blocks added into 64 double lanes (8
 * scalar lanes, two passes, on other ISAs), combined in lane order, and
 * writes Y with vector loops, threaded over ranges of channels. */
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "norm_common.h"
#include "kernel.h"

#define NORM_LANES 8

/* Sum of f(x[a, c, s]) over a and s, sequentially or in lanes. */
#define NORM_SUM(T, EXPR, out)                                                         \
    do {                                                                               \
        const T *x_ = (const T *)j->x;                                                 \
        if (!j->lanes) {                                                               \
            double s_ = 0;                                                             \
            for (int64_t a = 0; a < j->A; a++) {                                       \
                const T *p_ = x_ + (a * j->C + c) * j->S;                              \
                for (int64_t i = 0; i < j->S; i++) {                                   \
                    double v = p_[i];                                                  \
                    s_ += (EXPR);                                                      \
                }                                                                      \
            }                                                                          \
            (out) = s_;                                                                \
        } else {                                                                       \
            double l_[NORM_LANES] = { 0 };                                             \
            for (int64_t a = 0; a < j->A; a++) {                                       \
                const T *p_ = x_ + (a * j->C + c) * j->S;                              \
                int64_t i = 0;                                                         \
                for (; i + NORM_LANES <= j->S; i += NORM_LANES)                        \
                    for (int q = 0; q < NORM_LANES; q++) {                             \
                        double v = p_[i + q];                                          \
                        l_[q] += (EXPR);                                               \
                    }                                                                  \
                for (int q = 0; i < j->S; i++, q++) {                                  \
                    double v = p_[i];                                                  \
                    l_[q] += (EXPR);                                                   \
                }                                                                      \
            }                                                                          \
            double s_ = 0;                                                             \
            for (int q = 0; q < NORM_LANES; q++)                                       \
                s_ += l_[q];                                                           \
            (out) = s_;                                                                \
        }                                                                              \
    } while (0)

#define NORM_CHANNEL(T)                                                                \
    do {                                                                               \
        double n = (double)j->A * (double)j->S, mean, var;                             \
        if (j->in_mean) {                                                              \
            mean = ((const T *)j->in_mean)[c % j->pn];                                 \
            var = ((const T *)j->in_var)[c % j->pn];                                   \
        } else {                                                                       \
            double sum, sq;                                                            \
            NORM_SUM(T, v, sum);                                                       \
            mean = n > 0 ? sum / n : 0;                                                \
            NORM_SUM(T, (v - mean) * (v - mean), sq);                                  \
            var = n > 0 ? sq / n : 0;                                                  \
        }                                                                              \
        double inv = 1.0 / sqrt(var + j->eps);                                         \
        if (j->out_mean) ((T *)j->out_mean)[c] = (T)mean;                              \
        if (j->out_invstd) ((T *)j->out_invstd)[c] = (T)inv;                           \
        if (j->out_var) ((T *)j->out_var)[c] = (T)var;                                 \
        if (j->run_mean)                                                               \
            ((T *)j->run_mean)[c] = (T)(j->momentum * ((const T *)j->run_mean_in)[c]   \
                                        + (1 - j->momentum) * mean);                   \
        if (j->run_var)                                                                \
            ((T *)j->run_var)[c] = (T)(j->momentum * ((const T *)j->run_var_in)[c]     \
                                       + (1 - j->momentum) * var);                     \
        const T *sc = (const T *)j->scale, *bi = (const T *)j->bias;                   \
        const T *x = (const T *)j->x;                                                  \
        T *y = (T *)j->y;                                                              \
        if (!y)                                                                        \
            break;                                                                     \
        if (!j->per_s) {                                                               \
            /* per channel: one multiply-add per element */                            \
            T k = (T)(inv * (double)sc[c % j->pn]);                                    \
            T m = (T)mean, bb = bi ? bi[c % j->pn] : (T)0;                             \
            for (int64_t a = 0; a < j->A; a++) {                                       \
                const T *px = x + (a * j->C + c) * j->S;                               \
                T *py = y + (a * j->C + c) * j->S;                                     \
                for (int64_t i = 0; i < j->S; i++)                                     \
                    py[i] = (px[i] - m) * k + bb;                                      \
            }                                                                          \
        } else {                                                                       \
            T m = (T)mean, iv = (T)inv;                                                \
            const T *px = x + c * j->S;                                                \
            T *py = y + c * j->S;                                                      \
            if (j->pn == j->S) {                                                       \
                for (int64_t i = 0; i < j->S; i++)                                     \
                    py[i] = (px[i] - m) * iv * sc[i] + (bi ? bi[i] : (T)0);            \
            } else {                                                                   \
                for (int64_t i = 0; i < j->S; i++)                                     \
                    py[i] = (px[i] - m) * iv * sc[i % j->pn] + (bi ? bi[i % j->pn] : (T)0); \
            }                                                                          \
        }                                                                              \
    } while (0)

/* ---- the float32 channel on AVX-512 -------------------------------------------
 * Sums as mom_row says, combined in lane order; Y in float with the
 * reference's expression (separate multiply and add, no FMA). */
#define OG_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* Sums and sums of squares of x - k, k the channel's first element (so
 * the sums are of deviations of the data's own scale, and sq - sum^2 / n
 * cancels little): one pass over X instead of two. Each row is summed in
 * float, 4 vectors of 16 lanes, for blocks of MOM_BLOCK floats (16 adds a
 * lane, a relative error near 1e-6 at worst), each block's lanes then
 * added into 64 double lanes: from L2 the pass is bound by its
 * arithmetic, and float vectors do four times the work of the double ones
 * that widened every element. The blocks start at each row's start, so
 * the order is the shape's alone. */
#define MOM_BLOCK 1024

typedef struct f32_moments {
    __m512d s[8], q[8];
    double k;
} f32_moments;

OG_AVX512 static void mom_start(f32_moments *m, double k)
{
    for (int u = 0; u < 8; u++)
        m->s[u] = m->q[u] = _mm512_setzero_pd();
    m->k = k;
}

/* acc (8 double lanes each) += the 16 float lanes of v, low then high half */
#define MOM_WIDEN(acc, u, v)                                                                             \
    do {                                                                                                 \
        (acc)[2 * (u)] = _mm512_add_pd((acc)[2 * (u)], _mm512_cvtps_pd(_mm512_castps512_ps256(v)));       \
        (acc)[2 * (u) + 1] = _mm512_add_pd((acc)[2 * (u) + 1], _mm512_cvtps_pd(_mm256_castpd_ps(           \
                                                    _mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));   \
    } while (0)

/* One row (masked-off tail lanes add zero). */
OG_AVX512 static void mom_row(f32_moments *acc, const float *p, int64_t n)
{
    f32_moments t = *acc;   /* a local copy stays in registers: *acc may alias p */
    const __m512 vk = _mm512_set1_ps((float)t.k);
    for (int64_t b = 0; b < n; b += MOM_BLOCK) {
        int64_t e = n - b < MOM_BLOCK ? n : b + MOM_BLOCK;
        __m512 fs[4], fq[4];
        for (int u = 0; u < 4; u++)
            fs[u] = fq[u] = _mm512_setzero_ps();
        int64_t i = b;
        for (; i + 64 <= e; i += 64)
            for (int u = 0; u < 4; u++) {
                __m512 d = _mm512_sub_ps(_mm512_loadu_ps(p + i + 16 * u), vk);
                fs[u] = _mm512_add_ps(fs[u], d);
                fq[u] = _mm512_fmadd_ps(d, d, fq[u]);
            }
        for (; i < e; i += 16) {
            __mmask16 m = e - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (e - i)) - 1);
            __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, p + i), vk);
            fs[0] = _mm512_add_ps(fs[0], d);
            fq[0] = _mm512_fmadd_ps(d, d, fq[0]);
        }
        for (int u = 0; u < 4; u++) {
            MOM_WIDEN(t.s, u, fs[u]);
            MOM_WIDEN(t.q, u, fq[u]);
        }
    }
    *acc = t;
}

/* Lanes combined in order. */
OG_AVX512 static void mom_total(const f32_moments *m, double *sum, double *sq)
{
    double ls[64], lq[64];
    for (int u = 0; u < 8; u++) {
        _mm512_storeu_pd(ls + 8 * u, m->s[u]);
        _mm512_storeu_pd(lq + 8 * u, m->q[u]);
    }
    double ts = 0, tq = 0;
    for (int u = 0; u < 64; u++) {
        ts += ls[u];
        tq += lq[u];
    }
    *sum = ts;
    *sq = tq;
}

/* Y rows much larger than the caches are written with streaming stores: no
 * read-for-ownership of lines no later op finds in cache anyway. */
#define NORM_STREAM_BYTES ((int64_t)16 << 20)

#define F32_NORM(v) _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps((v), vm), vk), vb)

/* pf (NULL: none) is the next channel's row of X, fetched into L2 meanwhile:
 * its statistics pass then reads L2 rather than waiting on memory. */
OG_AVX512 static void f32_apply_avx512(const float *x, float *y, int64_t n, float m, float k, float bb, bool stream,
                                       const float *pf)
{
    const __m512 vm = _mm512_set1_ps(m), vk = _mm512_set1_ps(k), vb = _mm512_set1_ps(bb);
    int64_t i = 0;
    if (stream) {   /* streaming stores need 64-byte alignment */
        for (; i < n && ((uintptr_t)(y + i) & 63); i++)
            y[i] = (x[i] - m) * k + bb;
        for (; i + 16 <= n; i += 16) {
            if (pf)
                _mm_prefetch((const char *)(pf + i), _MM_HINT_T1);
            _mm512_stream_ps(y + i, F32_NORM(_mm512_loadu_ps(x + i)));
        }
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, F32_NORM(_mm512_loadu_ps(x + i)));
    for (; i < n; i++)
        y[i] = (x[i] - m) * k + bb;
}

OG_AVX512 static void f32_apply_s_avx512(const float *x, float *y, int64_t n, float m, float iv, const float *sc,
                                         const float *bi)
{
    const __m512 vm = _mm512_set1_ps(m), vi = _mm512_set1_ps(iv);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), vi), _mm512_loadu_ps(sc + i));
        _mm512_storeu_ps(y + i, bi ? _mm512_add_ps(t, _mm512_loadu_ps(bi + i)) : t);
    }
    for (; i < n; i++)
        y[i] = (x[i] - m) * iv * sc[i] + (bi ? bi[i] : 0.0f);
}

/* Channel c, then next (-1: none) by the same worker. (Summing next's row
 * in the loop that writes c's, rather than prefetching it, measured slower:
 * 0.9 against 0.7 ms on 8x64x112x112 at 2 threads.) */
static void f32_channel_avx512(const og_norm_job *j, int64_t c, int64_t next)
{
    double n = (double)j->A * (double)j->S, mean, var;
    const float *sc = j->scale, *bi = j->bias, *x = j->x;
    float *y = j->y;
    if (j->in_mean) {
        mean = ((const float *)j->in_mean)[c % j->pn];
        var = ((const float *)j->in_var)[c % j->pn];
    } else {
        double sum = 0, sq = 0, k = n > 0 ? x[c * j->S] : 0;
        f32_moments mom;
        mom_start(&mom, k);
        for (int64_t a = 0; a < j->A; a++)
            mom_row(&mom, x + (a * j->C + c) * j->S, j->S);
        mom_total(&mom, &sum, &sq);
        double d = n > 0 ? sum / n : 0;
        mean = k + d;
        var = n > 0 ? sq / n - d * d : 0;
        if (var < 0)   /* rounding, for a channel of one value */
            var = 0;
    }
    double inv = 1.0 / sqrt(var + j->eps);
    if (j->out_mean) ((float *)j->out_mean)[c] = (float)mean;
    if (j->out_invstd) ((float *)j->out_invstd)[c] = (float)inv;
    if (j->out_var) ((float *)j->out_var)[c] = (float)var;
    if (j->run_mean)
        ((float *)j->run_mean)[c] = (float)(j->momentum * ((const float *)j->run_mean_in)[c] + (1 - j->momentum) * mean);
    if (j->run_var)
        ((float *)j->run_var)[c] = (float)(j->momentum * ((const float *)j->run_var_in)[c] + (1 - j->momentum) * var);
    if (!y)
        return;
    if (!j->per_s) {
        float k = (float)(inv * (double)sc[c % j->pn]), bb = bi ? bi[c % j->pn] : 0.0f;
        bool stream = j->A * j->C * j->S * (int64_t)sizeof(float) >= NORM_STREAM_BYTES;
        bool sums_next = next >= 0 && !j->in_mean;
        for (int64_t a = 0; a < j->A; a++)
            f32_apply_avx512(x + (a * j->C + c) * j->S, y + (a * j->C + c) * j->S, j->S, (float)mean, k, bb, stream,
                             sums_next ? x + (a * j->C + next) * j->S : NULL);
        if (stream)
            _mm_sfence();
    } else if (j->pn == j->S) {
        f32_apply_s_avx512(x + c * j->S, y + c * j->S, j->S, (float)mean, (float)inv, sc, bi);
    } else {
        float m = (float)mean, iv = (float)inv;
        for (int64_t i = 0; i < j->S; i++)
            y[c * j->S + i] = (x[c * j->S + i] - m) * iv * sc[i % j->pn] + (bi ? bi[i % j->pn] : 0.0f);
    }
}

static void norm_channel(const og_norm_job *j, int64_t c)
{
    if (j->dtype == OG_FLOAT)
        NORM_CHANNEL(float);
    else
        NORM_CHANNEL(double);
}

typedef struct norm_ranges {
    const og_norm_job *job;
    int64_t n_ranges;
} norm_ranges;

/* Range r of the channels, in order (so each knows its successor). */
static void norm_range_task(void *arg, int64_t r, int worker)
{
    (void)worker;
    const norm_ranges *nr = arg;
    const og_norm_job *j = nr->job;
    int64_t c0 = j->C * r / nr->n_ranges, c1 = j->C * (r + 1) / nr->n_ranges;
    if (j->dtype == OG_FLOAT && j->lanes && og_isa_active() == OG_ISA_AVX512) {
        for (int64_t c = c0; c < c1; c++)
            f32_channel_avx512(j, c, c + 1 < c1 ? c + 1 : -1);
    } else {
        for (int64_t c = c0; c < c1; c++)
            norm_channel(j, c);
    }
}

void og_norm_exec(const og_norm_job *j, int n_threads)
{
    norm_ranges nr = { j, n_threads < j->C ? n_threads : j->C };
    if (nr.n_ranges > 1)
        og_parallel_for(n_threads, nr.n_ranges, norm_range_task, &nr);
    else if (nr.n_ranges == 1)
        norm_range_task(&nr, 0, 0);
}

/* ---- backward pieces --------------------------------------------------------- */

const char *og_norm_sum(og_backward_call *b, const char *x, int n_axes, const int64_t *axes, bool keepdims)
{
    if (n_axes == 0)
        return x;
    const char *ins[2] = { x, og_gb_ints(b, n_axes, axes) };
    og_attr keep = og_attr_int("keepdims", keepdims);
    return og_gb(b, "ReduceSum", 2, ins, 1, &keep);
}

const char *og_norm_sub(og_backward_call *b, og_dtype dt, const char *x, const char *m)
{
    return og_gb_add(b, x, og_gb_mul(b, m, og_gb_scalar(b, dt, -1.0)));
}

const char *og_norm_grad_x(og_backward_call *b, og_dtype dt, const char *xc, const char *r, const char *g, int n_axes,
                           const int64_t *axes, double count, const char *count_value, const char *dmean,
                           const char *dinv, const char *dvar)
{
    const char *dx = NULL;
    /* c / count, folded when the count is known */
    #define OVER_COUNT(c) (count_value ? og_gb_div(b, og_gb_scalar(b, dt, (c)), count_value) \
                                       : og_gb_scalar(b, dt, (c) / count))
    const char *minus_1n = OVER_COUNT(-1.0);
    if (g) {
        const char *xh = og_gb_mul(b, xc, r);
        const char *mg = og_gb_mul(b, og_norm_sum(b, g, n_axes, axes, true), minus_1n);
        const char *mgx = og_gb_mul(b, og_norm_sum(b, og_gb_mul(b, g, xh), n_axes, axes, true), minus_1n);
        dx = og_gb_mul(b, r, og_gb_add(b, og_gb_add(b, g, mg), og_gb_mul(b, xh, mgx)));
    }
    /* the statistics' own gradients: d mean / dx = 1/count; d var / dx =
     * 2 xc / count; d inv / dx = -inv^3 xc / count */
    if (dmean) {
        const char *t = og_gb_mul(b, dmean, OVER_COUNT(1.0));
        dx = dx ? og_gb_add(b, dx, t) : t;
    }
    const char *k = NULL;
    if (dvar)
        k = og_gb_mul(b, dvar, OVER_COUNT(2.0));
    if (dinv) {
        const char *t = og_gb_mul(b, og_gb_mul(b, dinv, og_gb_mul(b, r, og_gb_mul(b, r, r))), minus_1n);
        k = k ? og_gb_add(b, k, t) : t;
    }
    if (k) {
        const char *t = og_gb_mul(b, xc, k);
        dx = dx ? og_gb_add(b, dx, t) : t;
    }
    #undef OVER_COUNT
    return dx;
}

og_status og_norm_grad_stats(og_backward_call *b, og_dtype dt, const char *x, int axis, double eps, int n_tail,
                             const int64_t *tail, const char *tail_value, const char **mean, const char **inv,
                             const char **y)
{
    /* Scale: ones of the tail's shape (ONNX Runtime wants Scale's shape to be
     * the normalised one, not a broadcast scalar) */
    const char *one = og_gb_scalar(b, dt, 1.0);
    const char *es[2] = { one, tail ? og_gb_ints(b, n_tail, tail) : tail_value };
    const char *ins[2] = { x, og_gb(b, "Expand", 2, es, 0, NULL) };
    og_attr at[2] = { og_attr_int("axis", axis), og_attr_float("epsilon", (float)eps) };
    const char *outs[3] = { NULL, NULL, NULL };
    if (b->status)
        return b->status;
    if (!ins[1])
        return b->status;
    og_status st = og_grad_emit(b, "LayerNormalization", 2, ins, 3, outs, 2, at);
    if (st) {
        b->status = st;
        return st;
    }
    *mean = outs[1];
    *inv = outs[2];
    if (y)
        *y = outs[0];
    return OG_OK;
}

og_status og_norm_types(const og_infer_call *c, og_dtype *t)
{
    *t = OG_UNDEFINED;
    for (int k = 0; k < c->n_in; k++) {
        if (!c->in[k] || c->in[k]->dtype == OG_UNDEFINED)
            continue;
        og_dtype d = c->in[k]->dtype;
        const char *name = c->in_names[k] ? c->in_names[k] : "?";
        if (d == OG_FLOAT16 || d == OG_BFLOAT16)
            return og_node_err(c->node, OG_ERR_UNSUPPORTED, "input %d '%s' has type %s, an unsupported type "
                               "(onnxgrad cannot hold it)", k, name, og_dtype_name(d));
        if (d != OG_FLOAT && d != OG_DOUBLE)
            return og_node_err(c->node, OG_ERR_SHAPE, "input %d '%s' has type %s, expected float or double", k, name,
                               og_dtype_name(d));
        if (*t != OG_UNDEFINED && d != *t)
            return og_node_err(c->node, OG_ERR_UNSUPPORTED, "input %d '%s' has type %s while input 0 is %s; "
                               "mixed float types are not implemented", k, name, og_dtype_name(d),
                               og_dtype_name(*t));
        *t = d;
    }
    return OG_OK;
}

int64_t og_norm_prod(const og_shape *s, int from, int to)
{
    int64_t p = 1;
    for (int d = from; d < to; d++) {
        if (s->dims[d] < 0)
            return -1;
        p *= s->dims[d];
    }
    return p;
}

og_status og_norm_run(const og_kernel_call *k, og_norm_job_fn job, bool fast)
{
    og_norm_job j;
    og_status st = job(k, &j);
    if (!st) {
        j.lanes = fast;
        og_norm_exec(&j, fast ? k->n_threads : 1);
    }
    return st;
}

og_status og_norm_select(og_select_call *s, og_status (*run)(const og_kernel_call *), const char *name_avx512,
                         const char *name_scalar)
{
    if (s->in[0]->dtype != OG_FLOAT || !og_shape_known(&s->in[0]->shape))
        return OG_OK;
    s->run = run;
    s->kernel_name = og_isa_active() == OG_ISA_AVX512 ? name_avx512 : name_scalar;
    return OG_OK;
}
