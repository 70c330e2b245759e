/* SPDX-License-Identifier: MIT */
/* spatial.c — conv/pool geometry shared by Conv, MaxPool, ConvTranspose and
 * their backward rules: strides, dilations, pads and auto_pad resolved into
 * per-axis begin and end pads, and the output size of each spatial axis.
 *
 * For one axis with input size `in`, kernel `k`, stride `s`, dilation `d`
 * and effective kernel e = (k-1)*d + 1:
 *   NOTSET  out = floor((in + pb + pe - e) / s) + 1         (ceil with ceil_mode)
 *   VALID   out = floor((in - e) / s) + 1, no pads
 *   SAME_*  out = ceil(in / s); total pad max(0, (out-1)*s + e - in), the odd
 *           cell at the end (SAME_UPPER) or the beginning (SAME_LOWER)
 * With ceil_mode, a last window that would start inside the end padding
 * ((out-1)*s >= in + pb) is dropped, as in PyTorch and the current ONNX
 * spec, so every window covers at least one real input cell. auto_pad modes
 * other than NOTSET give the same sizes with or without ceil_mode.
 *
 * An input size or kernel size of -1 means "unknown" and makes that output
 * size unknown (-1); SAME pads of such an axis are unknown (-1) too.
 *
 * ConvTranspose runs the other way (og_spatial_resolve_transpose): `in` is
 * its input, the output is stride*(in-1) + output_padding + e minus the
 * pads, or output_shape / in*stride (SAME_*) with the pads derived from it;
 * see internal.h for the split. */
#include <string.h>
#include "internal.h"

typedef enum { PAD_NOTSET, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER } pad_mode;

static og_status check_len(const char *what, const char *name, const og_ints *a, int64_t want)
{
    if (a && a->present && a->n != want)
        return og_err(OG_ERR_ATTR, "%s: attribute '%s' has %lld values, expected %lld (%s)", what, name,
                      (long long)a->n, (long long)want,
                      strcmp(name, "pads") == 0 ? "begin and end per spatial axis" : "one per spatial axis");
    return OG_OK;
}

static og_status overflow(const char *what, int axis)
{
    return og_err(OG_ERR_ATTR, "%s: spatial axis %d: size arithmetic overflows int64 "
                               "(strides, dilations, pads or kernel far too large)", what, axis);
}

/* The auto_pad mode, with the attribute lengths and the pads/auto_pad
 * exclusion both ops share. */
static og_status resolve_mode(const char *what, int n, const og_ints *strides, const og_ints *dilations,
                              const og_ints *pads, const char *auto_pad, pad_mode *mode)
{
    og_status st;
    if (n < 1 || n > OG_MAX_RANK)
        return og_err(OG_ERR_SHAPE, "%s: %d spatial axes, expected 1..%d", what, n, OG_MAX_RANK);
    if (!auto_pad || strcmp(auto_pad, "NOTSET") == 0)
        *mode = PAD_NOTSET;
    else if (strcmp(auto_pad, "VALID") == 0)
        *mode = PAD_VALID;
    else if (strcmp(auto_pad, "SAME_UPPER") == 0)
        *mode = PAD_SAME_UPPER;
    else if (strcmp(auto_pad, "SAME_LOWER") == 0)
        *mode = PAD_SAME_LOWER;
    else
        return og_err(OG_ERR_ATTR, "%s: attribute 'auto_pad' is \"%s\", expected NOTSET, SAME_UPPER, "
                                   "SAME_LOWER or VALID", what, auto_pad);

    if ((st = check_len(what, "strides", strides, n)) || (st = check_len(what, "dilations", dilations, n)) ||
        (st = check_len(what, "pads", pads, 2 * (int64_t)n)))
        return st;
    /* ONNX: explicit pads "cannot be used simultaneously with auto_pad". */
    if (pads && pads->present && *mode != PAD_NOTSET)
        return og_err(OG_ERR_ATTR, "%s: attribute 'pads' is given together with auto_pad \"%s\"; "
                                   "expected auto_pad NOTSET when pads are explicit", what, auto_pad);
    return OG_OK;
}

/* Axis i's kernel, stride, dilation and explicit pads, checked; *eff is
 * the effective kernel (k-1)*d + 1, or -1 when the kernel is unknown. */
static og_status axis_values(const char *what, int n, int i, const int64_t *kernel, const og_ints *strides,
                             const og_ints *dilations, const og_ints *pads, og_spatial *s, int64_t *eff)
{
    int64_t k = kernel[i];
    int64_t st_i = strides && strides->present ? strides->v[i] : 1;
    int64_t d = dilations && dilations->present ? dilations->v[i] : 1;
    int64_t pb = pads && pads->present ? pads->v[i] : 0;
    int64_t pe = pads && pads->present ? pads->v[n + i] : 0;
    if (k == 0 || k < -1)
        return og_err(OG_ERR_SHAPE, "%s: kernel size of spatial axis %d is %lld, expected > 0", what, i,
                      (long long)k);
    if (st_i <= 0)
        return og_err(OG_ERR_ATTR, "%s: strides[%d] is %lld, expected > 0", what, i, (long long)st_i);
    if (d <= 0)
        return og_err(OG_ERR_ATTR, "%s: dilations[%d] is %lld, expected > 0", what, i, (long long)d);
    if (pb < 0 || pe < 0)
        return og_err(OG_ERR_ATTR, "%s: pads for spatial axis %d are [%lld, %lld], expected >= 0", what, i,
                      (long long)pb, (long long)pe);
    s->kernel[i] = k;
    s->stride[i] = st_i;
    s->dilation[i] = d;
    s->pad_begin[i] = pb;
    s->pad_end[i] = pe;
    s->out[i] = -1;
    *eff = -1;
    if (k > 0 && (!og_mul_ok(k - 1, d, eff) || !og_add_ok(*eff, 1, eff)))
        return overflow(what, i);
    return OG_OK;
}

og_status og_spatial_resolve(og_spatial *s, const char *what, int n, const int64_t *in,
                             const int64_t *kernel, const og_ints *strides,
                             const og_ints *dilations, const og_ints *pads,
                             const char *auto_pad, bool ceil_mode)
{
    og_status st;
    if (!s || !in || !kernel || !what)
        return og_err(OG_ERR_INTERNAL, "og_spatial_resolve: NULL argument");
    memset(s, 0, sizeof *s);
    pad_mode mode;
    if ((st = resolve_mode(what, n, strides, dilations, pads, auto_pad, &mode)))
        return st;
    s->n = n;

    for (int i = 0; i < n; i++) {
        int64_t eff = 0, st_i = 0, k = 0, d = 0, pb = 0, pe = 0;
        if ((st = axis_values(what, n, i, kernel, strides, dilations, pads, s, &eff)))
            return st;
        k = s->kernel[i], st_i = s->stride[i], d = s->dilation[i], pb = s->pad_begin[i], pe = s->pad_end[i];
        s->in[i] = in[i] < 0 ? -1 : in[i];
        if (mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER) {
            s->pad_begin[i] = s->pad_end[i] = -1;
            if (s->in[i] < 0 || eff < 0)
                continue;
            int64_t out = s->in[i] / st_i + (s->in[i] % st_i != 0), total;
            if (out < 1)
                return og_err(OG_ERR_SHAPE, "%s: spatial axis %d has input size 0, expected >= 1 with auto_pad %s",
                              what, i, auto_pad);
            /* total = (out-1)*s + e - in, overflow-checked step by step. */
            if (!og_mul_ok(out - 1, st_i, &total) || !og_add_ok(total, eff, &total))
                return overflow(what, i);
            total = total > s->in[i] ? total - s->in[i] : 0;
            int64_t small = total / 2, big = total - small;
            s->pad_begin[i] = mode == PAD_SAME_UPPER ? small : big;
            s->pad_end[i] = mode == PAD_SAME_UPPER ? big : small;
            s->out[i] = out;
            continue;
        }
        int64_t padded;
        if (!og_add_ok(pb, pe, &padded))
            return overflow(what, i);
        if (s->in[i] < 0 || eff < 0)
            continue;
        if (!og_add_ok(padded, s->in[i], &padded))
            return overflow(what, i);
        if (padded < eff)
            return og_err(OG_ERR_SHAPE, "%s: spatial axis %d: effective kernel size %lld (kernel %lld, dilation %lld) "
                                        "exceeds padded input size %lld (input %lld + pads %lld + %lld); "
                                        "expected kernel <= padded input",
                          what, i, (long long)eff, (long long)k, (long long)d, (long long)padded,
                          (long long)s->in[i], (long long)pb, (long long)pe);
        int64_t span = padded - eff, out = span / st_i + 1;
        if (mode == PAD_NOTSET && ceil_mode && span % st_i != 0) {
            /* The extra window is kept only if it starts on a real input
             * cell or the begin padding, i.e. (out-1)*s < in + pb; in + pb
             * fits as in + pb + pe did. */
            int64_t start;
            if (og_mul_ok(out, st_i, &start) && start < s->in[i] + pb)
                out++;
        }
        s->out[i] = out;
    }
    return OG_OK;
}

og_status og_spatial_resolve_transpose(og_spatial *s, const char *what, int n, const int64_t *in,
                                       const int64_t *kernel, const og_ints *strides,
                                       const og_ints *dilations, const og_ints *pads,
                                       const og_ints *output_padding, const og_ints *output_shape,
                                       const char *auto_pad)
{
    og_status st;
    if (!s || !in || !kernel || !what)
        return og_err(OG_ERR_INTERNAL, "og_spatial_resolve_transpose: NULL argument");
    memset(s, 0, sizeof *s);
    pad_mode mode;
    if ((st = resolve_mode(what, n, strides, dilations, pads, auto_pad, &mode)) ||
        (st = check_len(what, "output_padding", output_padding, n)) ||
        (st = check_len(what, "output_shape", output_shape, n)))
        return st;
    s->n = n;
    bool has_shape = output_shape && output_shape->present;
    bool derived = has_shape || mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER;

    for (int i = 0; i < n; i++) {
        int64_t eff = 0;
        if ((st = axis_values(what, n, i, kernel, strides, dilations, pads, s, &eff)))
            return st;
        int64_t st_i = s->stride[i], d = s->dilation[i];
        int64_t op = output_padding && output_padding->present ? output_padding->v[i] : 0;
        /* The spec: "less than the corresponding stride/dilation"; like
         * PyTorch, either bound will do. */
        if (op < 0 || (op >= st_i && op >= d))
            return og_err(OG_ERR_ATTR, "%s: output_padding[%d] is %lld, expected >= 0 and less than "
                                       "stride %lld or dilation %lld", what, i, (long long)op, (long long)st_i,
                          (long long)d);
        if (has_shape && output_shape->v[i] <= 0)
            return og_err(OG_ERR_ATTR, "%s: output_shape[%d] is %lld, expected > 0", what, i,
                          (long long)output_shape->v[i]);
        if (in[i] == 0)
            return og_err(OG_ERR_SHAPE, "%s: spatial axis %d has input size 0, expected >= 1", what, i);
        s->in[i] = in[i] < 0 ? -1 : in[i];
        s->out_pad[i] = op;

        /* full = stride*(in-1) + output_padding + effective kernel: the
         * output before any cell is cut away as padding. */
        int64_t full = -1;
        if (s->in[i] > 0 && eff > 0 &&
            (!og_mul_ok(st_i, s->in[i] - 1, &full) || !og_add_ok(full, op, &full) || !og_add_ok(full, eff, &full)))
            return overflow(what, i);

        if (!derived) {
            int64_t pb = s->pad_begin[i], pe = s->pad_end[i], both;
            if (!og_add_ok(pb, pe, &both))
                return overflow(what, i);
            if (full < 0)
                continue;
            if (full - both < 1)
                return og_err(OG_ERR_SHAPE, "%s: spatial axis %d: pads %lld + %lld remove the whole output of "
                                            "size %lld (stride %lld * (input %lld - 1) + output_padding %lld + "
                                            "effective kernel %lld); expected pads < %lld", what, i,
                              (long long)pb, (long long)pe, (long long)full, (long long)st_i,
                              (long long)s->in[i], (long long)op, (long long)eff, (long long)full);
            s->out[i] = full - both;
            continue;
        }

        int64_t out = -1;
        if (has_shape)
            out = output_shape->v[i];
        else if (s->in[i] > 0 && !og_mul_ok(s->in[i], st_i, &out))
            return overflow(what, i);
        s->out[i] = out;
        s->pad_begin[i] = s->pad_end[i] = -1;
        if (full < 0) {
            s->out_pad[i] = -1;
            continue;
        }
        int64_t total = full - out;   /* both >= 1: no overflow */
        if (total < 0) {
            s->pad_begin[i] = s->pad_end[i] = 0;
            if (!og_add_ok(op, -total, &s->out_pad[i]))
                return overflow(what, i);
            continue;
        }
        int64_t small = total / 2, big = total - small;
        s->pad_begin[i] = mode == PAD_SAME_LOWER ? big : small;
        s->pad_end[i] = mode == PAD_SAME_LOWER ? small : big;
    }
    return OG_OK;
}

/* ---- shared by Conv and ConvTranspose ---------------------------------- */

og_status og_size_product(const char *what, const int64_t *v, int n, int64_t start, int64_t *r)
{
    int64_t p = start;
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || p < 0) {
            *r = -1;
            return OG_OK;
        }
        if (!og_mul_ok(p, v[i], &p))
            return og_err(OG_ERR_LIMIT, "%s: tensor size overflows int64", what);
    }
    *r = p;
    return OG_OK;
}

static const char *name_at(const og_infer_call *c, int k) { return c->in_names[k] ? c->in_names[k] : ""; }

og_status og_conv_dtype(const char *what, const og_infer_call *c, og_dtype *dt)
{
    static const char *const roles[3] = { "X", "W", "B" };
    const og_tinfo *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    if (!x || !w)
        return og_err(OG_ERR_INVALID_GRAPH, "%s: inputs X and W are required, got %s omitted", what, !x ? "X" : "W");
    const og_tinfo *in[3] = { x, w, b };
    *dt = OG_UNDEFINED;
    for (int k = 0; k < 3; k++) {
        og_dtype t = in[k] ? in[k]->dtype : OG_UNDEFINED;
        if (t == OG_UNDEFINED)
            continue;
        if (t != OG_FLOAT && t != OG_DOUBLE)
            return og_err(t == OG_FLOAT16 || t == OG_BFLOAT16 ? OG_ERR_UNSUPPORTED : OG_ERR_SHAPE,
                          "%s: input %s '%s' has dtype %s, expected float or double", what, roles[k], name_at(c, k),
                          og_dtype_name(t));
        if (*dt == OG_UNDEFINED)
            *dt = t;
        else if (t != *dt)
            return og_err(OG_ERR_SHAPE, "%s: input %s '%s' has dtype %s, expected %s (the dtype of %s)", what,
                          roles[k], name_at(c, k), og_dtype_name(t), og_dtype_name(*dt),
                          x->dtype != OG_UNDEFINED ? "X" : "W");
    }
    return OG_OK;
}

og_status og_grad_conv_bias(og_backward_call *b, const char *dy, int rank, const char **out)
{
    int64_t axes[OG_MAX_RANK];
    axes[0] = 0;
    for (int i = 2; i < rank; i++)
        axes[i - 1] = i;
    const char *ins[2] = { dy, NULL };
    og_attr keep = og_attr_int("keepdims", 0);
    og_status st = og_grad_const_ints(b, rank - 1, axes, &ins[1]);
    return st ? st : og_grad_emit(b, "ReduceSum", 2, ins, 1, out, 1, &keep);
}

og_status og_grad_channels_first(og_backward_call *b, const char *x, int n, int64_t G, int64_t K, const int64_t *S,
                                 const char **out)
{
    int rank = n + 2;
    if (G == 1)
        return og_grad_swap01(b, x, rank, out);
    int64_t dims[OG_MAX_RANK + 1], perm[OG_MAX_RANK + 1];
    og_status st;
    dims[0] = -1;   /* the batch may be unknown */
    dims[1] = G;
    dims[2] = K;
    for (int i = 0; i < n; i++) {
        dims[3 + i] = S[i];
        perm[3 + i] = 3 + i;
    }
    perm[0] = 2;   /* [N, G, K, S] -> [K, G, N, S] */
    perm[1] = 1;
    perm[2] = 0;
    if ((st = og_grad_reshape(b, x, rank + 1, dims, out)) || (st = og_grad_transpose(b, *out, rank + 1, perm, out)))
        return st;
    dims[0] = K;
    dims[1] = -1;
    for (int i = 0; i < n; i++)
        dims[2 + i] = S[i];
    return og_grad_reshape(b, *out, rank, dims, out);
}

og_status og_pool_resolve(og_spatial *s, const char *what, const og_ints *ks, const og_shape *xs, const char *x_name,
                          const og_ints *strides, const og_ints *dilations, const og_ints *pads, const char *auto_pad,
                          bool ceil_mode)
{
    if (ks->n < 1 || ks->n > OG_MAX_RANK - 2)
        return og_err(OG_ERR_ATTR, "%s: attribute 'kernel_shape' has %lld values, expected 1..%d", what,
                      (long long)ks->n, OG_MAX_RANK - 2);
    for (int64_t i = 0; i < ks->n; i++)
        if (ks->v[i] <= 0)
            return og_err(OG_ERR_ATTR, "%s: kernel_shape[%lld] is %lld, expected > 0", what, (long long)i,
                          (long long)ks->v[i]);
    int n = (int)ks->n;
    if (xs->rank >= 0 && xs->rank < 3)
        return og_err(OG_ERR_SHAPE, "%s: input X '%s' has rank %d, expected >= 3 ([N, C, D1, ...])", what, x_name,
                      xs->rank);
    if (xs->rank >= 0 && xs->rank != n + 2)
        return og_err(OG_ERR_SHAPE, "%s: input X '%s' has rank %d, expected %d (2 + length of kernel_shape)", what,
                      x_name, xs->rank, n + 2);
    int64_t in[OG_MAX_RANK];
    for (int i = 0; i < n; i++)
        in[i] = xs->rank >= 0 ? xs->dims[2 + i] : -1;
    return og_spatial_resolve(s, what, n, in, ks->v, strides, dilations, pads, auto_pad, ceil_mode);
}
