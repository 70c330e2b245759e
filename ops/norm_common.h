/* SPDX-License-Identifier: MIT */
/* norm_common.h — the math BatchNormalization, LayerNormalization and
 * InstanceNormalization share (ops/norm_common.c).
 *
 * Every one of them views X as [A, C, S] and normalises each c over its
 * A x S elements:
 *   LayerNormalization     A = 1, C = prod(dims[:axis]), S = prod(dims[axis:])
 *   InstanceNormalization  A = 1, C = N * channels,      S = prod(spatial)
 *   BatchNormalization     A = N, C = channels,          S = prod(spatial)
 *   (spatial = 0, opsets 1-7: A = N, C = prod(dims[1:]), S = 1)
 * y = (x - mean_c) * invstd_c * scale[i] + bias[i], invstd = 1/sqrt(var + eps),
 * var the population variance; the parameter index i is c % pn (per
 * channel) or s % pn (LayerNormalization: Scale broadcast over the
 * normalised tail). Statistics are computed in double for float and double
 * X: two passes (mean, then the mean square deviation), or in the AVX-512
 * kernel one pass of deviations from the channel's first element, summed in
 * float over blocks of 1024 and the blocks in double. */
#ifndef OG_NORM_COMMON_H
#define OG_NORM_COMMON_H

#include "internal.h"

typedef struct og_norm_job {
    og_dtype dtype;                 /* float or double: every tensor below */
    int64_t A, C, S;
    const void *x;
    void *y;
    const void *scale, *bias;       /* bias NULL: 0 */
    int64_t pn;                     /* elements of scale (and bias) */
    bool per_s;                     /* parameter index s % pn, else c % pn */
    double eps;
    /* Given statistics (BatchNormalization inference): mean and var per c,
     * else NULL and the batch statistics are computed. */
    const void *in_mean, *in_var;
    /* Optional per-c outputs (NULL: not wanted): mean, invstd, var; and the
     * running statistics momentum * in + (1 - momentum) * batch. */
    void *out_mean, *out_invstd, *out_var;
    void *run_mean, *run_var;
    const void *run_mean_in, *run_var_in;
    double momentum;
    bool lanes;                     /* sums in fixed lanes (the vectorised kernel) */
} og_norm_job;

/* Every channel: its statistics, outputs and Y rows; n_threads > 1 splits
 * the channels in contiguous ranges across the pool. Each
 * channel is computed the same way on any worker, so the result has the
 * same bits at any thread count. */
void og_norm_exec(const og_norm_job *j, int n_threads);
/* The run of a normalisation op whose kernel call `job` turns into a job:
 * the reference (fast false: one thread, scalar lanes) or the plan's
 * (lanes, the call's threads). */
typedef og_status (*og_norm_job_fn)(const og_kernel_call *k, og_norm_job *j);
og_status og_norm_run(const og_kernel_call *k, og_norm_job_fn job, bool fast);
/* Plan time: float X of static shape takes `run` (the fast og_norm_run),
 * named <prefix>_lanes_avx512 or <prefix>_lanes_scalar by the ISA (the
 * names are static strings the caller gives). */
og_status og_norm_select(og_select_call *s, og_status (*run)(const og_kernel_call *), const char *name_avx512,
                         const char *name_scalar);

/* ---- backward pieces -------------------------------------------------------
 * With xc = x - mean and r = invstd broadcast against x (keepdims shapes),
 * x̂ = xc * r, statistics over `axes` (count elements each), g = dL/dx̂ and
 * optional gradients on the statistics (keepdims-shaped, NULL: none):
 *   dx = r (g - mean(g) - x̂ mean(g x̂)) + dmean / count
 *        + xc (2 dvar - dinv r^3) / count
 * in Mul, Add and ReduceSum only. count_value (NULL: none) is the count as
 * a scalar of dt computed at run time, for shapes known only then. */
const char *og_norm_grad_x(og_backward_call *b, og_dtype dt, const char *xc, const char *r, const char *g, int n_axes,
                           const int64_t *axes, double count, const char *count_value, const char *dmean,
                           const char *dinv, const char *dvar);
/* x - m, as x + (-1) m (Sub is not part of the vocabulary every build has). */
const char *og_norm_sub(og_backward_call *b, og_dtype dt, const char *x, const char *m);
/* Mean and InvStdDev of x (rank r) over axes [axis, r), whose dims are
 * tail[0 .. n_tail), as a LayerNormalization node (Scale: ones) emits them,
 * keepdims-shaped; also its Y (x̂) when y is not NULL. tail NULL: the dims
 * are known at run time only, as the int64 vector value tail_value. */
og_status og_norm_grad_stats(og_backward_call *b, og_dtype dt, const char *x, int axis, double eps, int n_tail,
                             const int64_t *tail, const char *tail_value, const char **mean, const char **inv,
                             const char **y);
/* Sum of x over `axes` (keepdims 0 or 1). */
const char *og_norm_sum(og_backward_call *b, const char *x, int n_axes, const int64_t *axes, bool keepdims);



/* Shape inference's type check: every present input is the same float or
 * double type (float16/bfloat16 refused as unsupported); *t gets it
 * (OG_UNDEFINED when none is known). */
og_status og_norm_types(const og_infer_call *c, og_dtype *t);
/* Product of dims[from, to) of a shape, -1 when one is unknown. */
int64_t og_norm_prod(const og_shape *s, int from, int to);
#endif
