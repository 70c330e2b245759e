/* SPDX-License-Identifier: MIT */
/* unary_vec.h — float32 vector kernels of the unary family (exp, tanh,
 * sigmoid, erf, sqrt), written once over a small set of lane macros and
 * included by ops/unary.c once per ISA (AVX-512, AVX2+FMA). Expects
 * VW (lanes), V, VI, TGT, SFX(name) and the V* operations defined.
 *
 * Accuracy (float32, checked against libm in double over [-110, 110] and
 * down to 1e-30 by test_elementwise_family): within 4 ulp, NaN in NaN out.
 *   exp: Cody-Waite reduction x = n ln2 + r (ln2 split in two), Cephes'
 *     degree-6 polynomial for e^r, 2^n applied in two halves so results
 *     down into the subnormals and up to overflow come out right.
 *   tanh: |x| < 0.625: x + x^3 P(x^2) (Cephes tanhf); else
 *     1 - 2/(e^(2|x|) + 1) with x's sign (saturates to +-1).
 *   sigmoid: t = e^-|x|; 1/(1+t) for x >= 0, t/(1+t) below (no overflow).
 *   erf: x clamped to [-4, 4] (erf is +-1 in float beyond), then an odd
 *     degree-13 over even degree-8 rational function (Eigen's
 *     generic_fast_erf_float coefficients; 1.1 ulp in exact arithmetic),
 *     evaluated in double lanes. */

TGT static inline V SFX(vexp)(V x)
{
    /* max(lo, x)/min(hi, x) return x when it is NaN (the second operand) */
    x = VMIN(VSET(88.9f), VMAX(VSET(-104.0f), x));
    V n = VROUND(VMUL(x, VSET(1.44269504088896341f)));
    V r = VFMA(n, VSET(-0.693359375f), x);
    r = VFMA(n, VSET(2.12194440e-4f), r);
    V p = VSET(1.9875691500e-4f);
    p = VFMA(p, r, VSET(1.3981999507e-3f));
    p = VFMA(p, r, VSET(8.3334519073e-3f));
    p = VFMA(p, r, VSET(4.1665795894e-2f));
    p = VFMA(p, r, VSET(1.6666665459e-1f));
    p = VFMA(p, r, VSET(5.0000001201e-1f));
    p = VFMA(p, VMUL(r, r), VADD(r, VSET(1.0f)));
    VI ni = VCVT(n), n1 = VSRAI(ni, 1), n2 = VSUBI(ni, n1);
    V s1 = VCASTI(VSLLI(VADDI(n1, VSETI(127)), 23)), s2 = VCASTI(VSLLI(VADDI(n2, VSETI(127)), 23));
    return VMUL(VMUL(p, s1), s2);
}

TGT static inline V SFX(vtanh)(V x)
{
    V ax = VABS(x), z = VMUL(x, x);
    V ps = VSET(-5.70498872745e-3f);
    ps = VFMA(ps, z, VSET(2.06390887954e-2f));
    ps = VFMA(ps, z, VSET(-5.37397155531e-2f));
    ps = VFMA(ps, z, VSET(1.33314422036e-1f));
    ps = VFMA(ps, z, VSET(-3.33332819422e-1f));
    V small = VFMA(VMUL(ps, z), x, x);
    V e = SFX(vexp)(VADD(ax, ax));
    V big = VSUB(VSET(1.0f), VDIV(VSET(2.0f), VADD(e, VSET(1.0f))));
    big = VCOPYSIGN(big, x);
    return VBLEND(VLT(ax, VSET(0.625f)), big, small);
}

TGT static inline V SFX(vsigmoid)(V x)
{
    V t = SFX(vexp)(VNEG(VABS(x)));
    V num = VBLEND(VLT(x, VSET(0.0f)), VSET(1.0f), t);
    return VDIV(num, VADD(VSET(1.0f), t));
}

/* in double lanes: the float rounding of the polynomials alone would cost
 * up to 6 ulp near |x| = 4, where erf is within 1e-7 of 1 */
TGT static inline VD SFX(verf_d)(VD x)
{
    x = VDMIN(VDSET(4.0), VDMAX(VDSET(-4.0), x));
    VD x2 = VDMUL(x, x);
    VD p = VDSET(-2.72614225801306e-10);
    p = VDFMA(p, x2, VDSET(2.77068142495902e-08));
    p = VDFMA(p, x2, VDSET(-2.10102402082508e-06));
    p = VDFMA(p, x2, VDSET(-5.69250639462346e-05));
    p = VDFMA(p, x2, VDSET(-7.34990630326855e-04));
    p = VDFMA(p, x2, VDSET(-2.95459980854025e-03));
    p = VDFMA(p, x2, VDSET(-1.60960333262415e-02));
    p = VDMUL(p, x);
    VD q = VDSET(-1.45660718464996e-05);
    q = VDFMA(q, x2, VDSET(-2.13374055278905e-04));
    q = VDFMA(q, x2, VDSET(-1.68282697438203e-03));
    q = VDFMA(q, x2, VDSET(-7.37332916720468e-03));
    q = VDFMA(q, x2, VDSET(-1.42647390514189e-02));
    return VDDIV(p, q);
}

TGT static inline V SFX(verf)(V x)
{
    return VJOIN(SFX(verf_d)(VLOD(x)), SFX(verf_d)(VHID(x)));
}

/* y = f(x) over n floats; the tail goes through a zero-padded vector so
 * every element takes the same arithmetic wherever it falls. */
#define VEC_LOOP(op)                                                                      \
    TGT static void SFX(op##_vec)(const void *xv, void *yv, int64_t n, const un_args *p) \
    {                                                                                     \
        (void)p;                                                                          \
        const float *x = xv;                                                              \
        float *y = yv;                                                                    \
        int64_t i = 0;                                                                    \
        for (; i + VW <= n; i += VW)                                                      \
            VSTORE(y + i, SFX(v##op)(VLOAD(x + i)));                                      \
        if (i < n) {                                                                      \
            float buf[VW] = { 0 };                                                        \
            memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));                          \
            VSTORE(buf, SFX(v##op)(VLOAD(buf)));                                          \
            memcpy(y + i, buf, (size_t)(n - i) * sizeof(float));                          \
        }                                                                                 \
    }
/* Softmax's row: the maximum of n floats (false if one is NaN or infinite:
 * the max of finite floats is exact in any order); y = e^(x - shift) over
 * n floats, returning their sum,
 * accumulated per lane (element i in lane i % VW, tail lanes past n adding
 * nothing) and the lanes then added pairwise: a fixed order, so the bits
 * depend on x alone. Then y = x / d, a correctly rounded division. */
TGT static bool SFX(rowmax_vec)(const float *x, int64_t n, float *max)
{
    V m = VSET(-INFINITY), bad = VSET(0.0f);   /* x - x: 0, or NaN for a NaN or an infinity */
    int64_t i = 0;
    for (; i + VW <= n; i += VW) {
        V v = VLOAD(x + i);
        m = VMAX(m, v);
        bad = VADD(bad, VSUB(v, v));
    }
    float l[VW], b[VW], r = -INFINITY, nf = 0;
    VSTORE(l, m);
    VSTORE(b, bad);
    for (int q = 0; q < VW; q++) {
        r = l[q] > r ? l[q] : r;
        nf += b[q];
    }
    for (; i < n; i++) {
        r = x[i] > r ? x[i] : r;
        nf += x[i] - x[i];
    }
    *max = r;
    return nf == 0;
}

TGT static float SFX(expsum_vec)(const float *x, float shift, float *y, int64_t n)
{
    V acc = VSET(0.0f), sh = VSET(shift);
    int64_t i = 0;
    for (; i + VW <= n; i += VW) {
        V e = SFX(vexp)(VSUB(VLOAD(x + i), sh));
        VSTORE(y + i, e);
        acc = VADD(acc, e);
    }
    float l[VW];
    if (i < n) {
        float buf[VW] = { 0 };
        memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));
        VSTORE(buf, SFX(vexp)(VSUB(VLOAD(buf), sh)));
        memcpy(y + i, buf, (size_t)(n - i) * sizeof(float));
        for (int64_t q = n - i; q < VW; q++)
            buf[q] = 0;
        acc = VADD(acc, VLOAD(buf));
    }
    VSTORE(l, acc);
    for (int w = VW / 2; w > 0; w /= 2)
        for (int q = 0; q < w; q++)
            l[q] += l[q + w];
    return l[0];
}

TGT static void SFX(divs_vec)(const float *x, float d, float *y, int64_t n)
{
    V dv = VSET(d);
    int64_t i = 0;
    for (; i + VW <= n; i += VW)
        VSTORE(y + i, VDIV(VLOAD(x + i), dv));
    for (; i < n; i++)
        y[i] = x[i] / d;
}

/* sqrt is correctly rounded in hardware and libm alike: the same bits */
TGT static inline V SFX(vsqrt)(V x) { return VSQRT(x); }
VEC_LOOP(exp)
VEC_LOOP(sqrt)
VEC_LOOP(tanh)
VEC_LOOP(sigmoid)
VEC_LOOP(erf)
#undef VEC_LOOP
