/* SPDX-License-Identifier: MIT */
/* test_elementwise_family.c — the table-driven elementwise families
 * (ops/unary.c, ops/binary.c, ops/variadic.c): every op against a scalar
 * reference written here (libm in double, an index-by-index broadcast),
 * random shapes and attributes, broadcasting, tails, empty tensors, NaN;
 * the plan's threaded kernels against OG_KERNELS=reference and bit-identical
 * at 1, 2 and 3 threads; type and shape errors; gradcheck at orders 1 and
 * 2 in float64 for every differentiable op over random attributes (inputs
 * away from kinks); and the gradient at the non-smooth points against the
 * values PyTorch 1.13 gives (torch.maximum/minimum ties, clamp at the
 * bounds, abs at 0, hardswish at +-3, elu/selu/leaky_relu at 0,
 * hardshrink at +-lambd, pow at 0^0, prelu at 0). */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "onnxgrad/autodiff.h"
#include "testutil.h"
#include "gradtest.h"

/* ---- harness ------------------------------------------------------------ */
static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }
static double rndu(double lo, double hi) { return lo + (hi - lo) * ((double)(rng() >> 11) / 9007199254740992.0); }

#define MAXN 8
static const char *const in_names[MAXN] = { "in0", "in1", "in2", "in3", "in4", "in5", "in6", "in7" };

/* One node over inputs shaped like ins[] (NULL: omitted), output "y". */
static og_graph *mk(const char *op, int opset, int n, const og_tensor *const *ins, int n_attrs, const og_attr *attrs)
{
    og_graph *g;
    const char *names[MAXN], *outs[1] = { "y" };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    for (int k = 0; k < n; k++) {
        names[k] = ins[k] ? in_names[k] : "";
        if (ins[k])
            OG_CHECK(og_graph_add_input(g, in_names[k], ins[k]->dtype, ins[k]->rank, ins[k]->dims, NULL));
    }
    OG_CHECK(og_graph_add_node(g, op, NULL, "fam", n, names, 1, outs, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

/* Runs g on ins with `threads` workers; reference: OG_KERNELS=reference. */
static og_tensor *exec_g(const og_graph *g, int n, const og_tensor *const *ins, int threads, bool reference)
{
    const og_tensor *feeds[MAXN];
    int nf = 0;
    for (int k = 0; k < n; k++)
        if (ins[k])
            feeds[nf++] = ins[k];
    if (reference)
        setenv("OG_KERNELS", "reference", 1);
    og_plan *p;
    og_plan_options o = { .n_threads = threads };
    og_status st = og_plan_create_ex(g, &o, &p);
    unsetenv("OG_KERNELS");
    OG_CHECK(st);
    og_tensor *y = NULL;
    OG_CHECK(og_plan_run(p, nf, feeds, &y));
    og_plan_free(p);
    return y;
}

static og_tensor *run1(const char *op, int opset, int n, const og_tensor *const *ins, int n_attrs, const og_attr *attrs)
{
    og_graph *g = mk(op, opset, n, ins, n_attrs, attrs);
    og_tensor *y = exec_g(g, n, ins, 1, false);
    og_graph_free(g);
    return y;
}

static double get(const og_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case OG_FLOAT: return ((const float *)t->data)[i];
    case OG_DOUBLE: return ((const double *)t->data)[i];
    case OG_INT8: return ((const int8_t *)t->data)[i];
    case OG_INT16: return ((const int16_t *)t->data)[i];
    case OG_INT32: return ((const int32_t *)t->data)[i];
    case OG_INT64: return (double)((const int64_t *)t->data)[i];
    case OG_UINT8: case OG_BOOL: return ((const uint8_t *)t->data)[i];
    case OG_UINT16: return ((const uint16_t *)t->data)[i];
    case OG_UINT32: return ((const uint32_t *)t->data)[i];
    case OG_UINT64: return (double)((const uint64_t *)t->data)[i];
    default: ck_abort_msg("type %d", t->dtype); return 0;
    }
}

static void set(og_tensor *t, int64_t i, double v)
{
    switch (t->dtype) {
    case OG_FLOAT: ((float *)t->data)[i] = (float)v; break;
    case OG_DOUBLE: ((double *)t->data)[i] = v; break;
    case OG_INT8: ((int8_t *)t->data)[i] = (int8_t)v; break;
    case OG_INT16: ((int16_t *)t->data)[i] = (int16_t)v; break;
    case OG_INT32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case OG_INT64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    case OG_UINT8: case OG_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case OG_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)v; break;
    case OG_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)v; break;
    case OG_UINT64: ((uint64_t *)t->data)[i] = (uint64_t)v; break;
    default: ck_abort_msg("type %d", t->dtype);
    }
}

/* A tensor of dt with values uniform in [lo, hi] (integers: rounded). */
static og_tensor *rand_t(og_dtype dt, int rank, const int64_t *dims, double lo, double hi)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    for (int64_t i = 0; i < t->numel; i++) {
        double v = rndu(lo, hi);
        set(t, i, dt == OG_FLOAT || dt == OG_DOUBLE ? v : dt == OG_BOOL ? (double)(v > 0) : floor(v));
    }
    return t;
}

static og_tensor *vals(og_dtype dt, int64_t n, const double *v)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, 1, (int64_t[]){ n }, &t));
    for (int64_t i = 0; i < n; i++)
        set(t, i, v[i]);
    return t;
}

static og_tensor *scalar_t(og_dtype dt, double v)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, 0, NULL, &t));
    set(t, 0, v);
    return t;
}

static void free_all(int n, og_tensor **t)
{
    for (int k = 0; k < n; k++)
        og_tensor_free(t[k]);
}

static bool close_to(double got, double want, og_dtype dt)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    double rel = dt == OG_FLOAT ? 2e-6 : dt == OG_DOUBLE ? 1e-13 : 0, abs_tol = dt == OG_FLOAT ? 1e-7 : dt == OG_DOUBLE ? 1e-15 : 0;
    return fabs(got - want) <= abs_tol + rel * fabs(want);
}

static void expect_same_bits(const og_tensor *a, const og_tensor *b, const char *what)
{
    ck_assert_int_eq(a->dtype, b->dtype);
    ck_assert_int_eq(a->numel, b->numel);
    ck_assert_msg(memcmp(a->data, b->data, (size_t)a->numel * og_dtype_size(a->dtype)) == 0, "%s: bits differ", what);
}

/* Random shape of rank 0..4 with dims 1..5, sometimes 0 (empty). */
static int rand_shape(int64_t *dims, bool allow_empty)
{
    int rank = (int)rnd(0, 4);
    for (int d = 0; d < rank; d++)
        dims[d] = allow_empty && rnd(0, 15) == 0 ? 0 : rnd(1, 5);
    return rank;
}

/* Shape broadcastable to (rank, dims): a suffix, dims kept or set to 1. */
static int bcast_shape(int rank, const int64_t *dims, int64_t *out)
{
    int r = (int)rnd(0, rank);
    for (int d = 0; d < r; d++)
        out[d] = rnd(0, 2) == 0 ? 1 : dims[rank - r + d];
    return r;
}

/* Index of output element i in input t under numpy broadcasting. */
static int64_t bidx(const og_tensor *y, const og_tensor *t, int64_t i)
{
    int64_t off = 0, stride = 1;
    for (int d = y->rank - 1, e = t->rank - 1; d >= 0; d--, e--) {
        int64_t c = i % y->dims[d];
        i /= y->dims[d];
        if (e >= 0) {
            if (t->dims[e] != 1)
                off += c * stride;
            stride *= t->dims[e];
        }
    }
    return off;
}

/* ---- unary ops against libm in double ----------------------------------- */
typedef struct uop {
    const char *name;
    int opset;
    double lo, hi;             /* input range */
    double (*ref)(double x, const double *a);
    int n_attrs;               /* random attributes a[0..] named in attr_names */
    const char *attr_names[2];
    double alo[2], ahi[2];
    bool ints;                 /* also run on int32 */
} uop;

static double r_neg(double x, const double *a) { (void)a; return -x; }
static double r_abs(double x, const double *a) { (void)a; return fabs(x); }
static double r_exp(double x, const double *a) { (void)a; return exp(x); }
static double r_log(double x, const double *a) { (void)a; return log(x); }
static double r_sqrt(double x, const double *a) { (void)a; return sqrt(x); }
static double r_recip(double x, const double *a) { (void)a; return 1 / x; }
static double r_erf(double x, const double *a) { (void)a; return erf(x); }
static double r_sign(double x, const double *a) { (void)a; return x > 0 ? 1 : x < 0 ? -1 : x; }
static double r_floor(double x, const double *a) { (void)a; return floor(x); }
static double r_ceil(double x, const double *a) { (void)a; return ceil(x); }
static double r_round(double x, const double *a) { (void)a; double r = floor(x + 0.5); return r - x == 0.5 && fmod(r, 2) != 0 ? r - 1 : r; }
static double r_tanh(double x, const double *a) { (void)a; return tanh(x); }
static double r_sigmoid(double x, const double *a) { (void)a; return x < 0 ? exp(x) / (1 + exp(x)) : 1 / (1 + exp(-x)); }
static double r_hsig(double x, const double *a) { return isnan(x) ? x : fmax(0, fmin(1, a[0] * x + a[1])); }
static double r_hswish(double x, const double *a) { (void)a; return isnan(x) ? x : x * fmax(0, fmin(1, x / 6 + 0.5)); }
static double r_leaky(double x, const double *a) { return x < 0 ? a[0] * x : x; }
static double r_elu(double x, const double *a) { return x < 0 ? a[0] * (exp(x) - 1) : x; }
static double r_selu(double x, const double *a) { return x <= 0 ? a[1] * (a[0] * exp(x) - a[0]) : a[1] * x; }
static double r_softplus(double x, const double *a) { (void)a; return log(exp(x) + 1); }
static double r_shrink(double x, const double *a) { return x < -a[0] ? x + a[1] : x > a[0] ? x - a[1] : 0; }

static const uop uops[] = {
    { "Neg", 13, -10, 10, r_neg, 0, {0}, {0}, {0}, true },
    { "Abs", 13, -10, 10, r_abs, 0, {0}, {0}, {0}, true },
    { "Exp", 13, -80, 80, r_exp, 0, {0}, {0}, {0}, false },
    { "Log", 13, 1e-3, 1e3, r_log, 0, {0}, {0}, {0}, false },
    { "Sqrt", 13, 0, 1e3, r_sqrt, 0, {0}, {0}, {0}, false },
    { "Reciprocal", 13, 0.01, 100, r_recip, 0, {0}, {0}, {0}, false },
    { "Erf", 13, -5, 5, r_erf, 0, {0}, {0}, {0}, false },
    { "Sign", 13, -3, 3, r_sign, 0, {0}, {0}, {0}, true },
    { "Floor", 13, -10, 10, r_floor, 0, {0}, {0}, {0}, false },
    { "Ceil", 13, -10, 10, r_ceil, 0, {0}, {0}, {0}, false },
    { "Round", 13, -10, 10, r_round, 0, {0}, {0}, {0}, false },
    { "Tanh", 13, -20, 20, r_tanh, 0, {0}, {0}, {0}, false },
    { "Sigmoid", 13, -30, 30, r_sigmoid, 0, {0}, {0}, {0}, false },
    { "HardSigmoid", 13, -8, 8, r_hsig, 2, {"alpha", "beta"}, {0.05, -1}, {1, 1}, false },
    { "HardSwish", 14, -8, 8, r_hswish, 0, {0}, {0}, {0}, false },
    { "LeakyRelu", 13, -5, 5, r_leaky, 1, {"alpha"}, {0.01}, {2}, false },
    { "Elu", 13, -5, 5, r_elu, 1, {"alpha"}, {0.1}, {3}, false },
    { "Selu", 13, -5, 5, r_selu, 2, {"alpha", "gamma"}, {0.5, 0.5}, {2.5, 1.5}, false },
    { "Softplus", 13, -20, 20, r_softplus, 0, {0}, {0}, {0}, false },
    { "Shrink", 13, -3, 3, r_shrink, 2, {"lambd", "bias"}, {0.1, 0}, {2, 1}, false },
};
#define N_UOPS (int)(sizeof uops / sizeof uops[0])

/* Random shapes (empty, rank 0, tails), random attributes; float and
 * double against the reference; the plan's kernel against OG_KERNELS=
 * reference, bit for bit. */
START_TEST(unary_against_reference)
{
    const uop *u = &uops[_i];
    for (int iter = 0; iter < 12; iter++) {
        og_dtype dts[3] = { OG_FLOAT, OG_DOUBLE, OG_INT32 };
        for (int di = 0; di < (u->ints ? 3 : 2); di++) {
            og_dtype dt = dts[di];
            int64_t dims[4];
            int rank = rand_shape(dims, true);
            if (iter == 0) {   /* a tail shorter than any vector, and a long odd one */
                rank = 1;
                dims[0] = rnd(1, 7);
            } else if (iter == 1) {
                rank = 1;
                dims[0] = 1000 + rnd(0, 63);
            }
            double a[2];
            og_attr attrs[2];
            for (int k = 0; k < u->n_attrs; k++) {
                a[k] = (float)rndu(u->alo[k], u->ahi[k]);
                attrs[k] = og_attr_float(u->attr_names[k], (float)a[k]);
            }
            og_tensor *x = rand_t(dt, rank, dims, dt == OG_INT32 ? u->lo - 1 : u->lo, u->hi);
            if (x->numel > 2 && dt != OG_INT32 && strcmp(u->name, "Log") && strcmp(u->name, "Sqrt") &&
                strcmp(u->name, "Reciprocal")) {
                set(x, 0, 0.0);             /* kinks */
                set(x, 1, dt == OG_FLOAT ? 0.5f : 0.5);
                set(x, 2, NAN);
            }
            og_graph *g = mk(u->name, u->opset, 1, (const og_tensor *const[]){ x }, u->n_attrs, attrs);
            og_tensor *y = exec_g(g, 1, (const og_tensor *const[]){ x }, 1, false);
            og_tensor *r = exec_g(g, 1, (const og_tensor *const[]){ x }, 1, true);
            ck_assert_int_eq(y->dtype, dt);
            ck_assert_int_eq(y->rank, rank);
            for (int64_t i = 0; i < x->numel; i++) {
                double want = u->ref(get(x, i), a);
                if (dt == OG_INT32)
                    want = trunc(want);
                if (dt == OG_FLOAT)
                    want = (float)want;
                ck_assert_msg(close_to(get(y, i), want, dt), "%s %s x=%.9g: got %.9g, want %.9g", u->name,
                              og_dtype_name(dt), get(x, i), get(y, i), want);
            }
            /* the vector kernels (Exp, Tanh, Sigmoid, Erf in float32) may
             * differ from libm in the last bits; the rest match exactly */
            bool vec = dt == OG_FLOAT && (!strcmp(u->name, "Exp") || !strcmp(u->name, "Tanh") ||
                                          !strcmp(u->name, "Sigmoid") || !strcmp(u->name, "Erf"));
            if (vec)
                for (int64_t i = 0; i < x->numel; i++)
                    ck_assert(close_to(get(y, i), get(r, i), dt));
            else
                expect_same_bits(y, r, u->name);
            og_tensor_free(y);
            og_tensor_free(r);
            og_tensor_free(x);
            og_graph_free(g);
        }
    }
}
END_TEST

/* Big tensors (several tasks, a ragged last one): the same bits at 1, 2
 * and 3 threads, in place or not, as the reference kernel. */
START_TEST(threads_bit_identical)
{
    int64_t n = 3 * 32768 + 1237;
    og_tensor *x = rand_t(OG_FLOAT, 1, &n, -4, 4), *b = rand_t(OG_FLOAT, 1, &n, 0.5, 4);
    og_tensor *row = rand_t(OG_FLOAT, 1, (int64_t[]){ 1 }, -1, 1);
    static const char *const un[] = { "Exp", "Tanh", "Sigmoid", "Erf", "Neg", "Abs", "Softplus", "Elu", "Round" };
    for (size_t k = 0; k < sizeof un / sizeof un[0]; k++) {
        og_graph *g = mk(un[k], 13, 1, (const og_tensor *const[]){ x }, 0, NULL);
        og_tensor *r = exec_g(g, 1, (const og_tensor *const[]){ x }, 1, true);
        for (int t = 1; t <= 3; t++) {
            og_tensor *y = exec_g(g, 1, (const og_tensor *const[]){ x }, t, false);
            for (int64_t i = 0; i < n; i++)   /* vector kernels may differ from libm in the last bits */
                ck_assert_msg(close_to(get(y, i), get(r, i), OG_FLOAT), "%s at %lld", un[k], (long long)i);
            if (t == 1) {
                og_tensor_free(r);
                r = y;
            } else {
                expect_same_bits(y, r, un[k]);
                og_tensor_free(y);
            }
        }
        og_tensor_free(r);
        og_graph_free(g);
    }
    static const char *const bin[] = { "Sub", "Div", "Pow", "Less" };
    for (size_t k = 0; k < sizeof bin / sizeof bin[0]; k++)
        for (int bc = 0; bc < 2; bc++) {
            const og_tensor *ins[2] = { bc ? row : x, b };
            og_graph *g = mk(bin[k], 13, 2, ins, 0, NULL);
            og_tensor *r = exec_g(g, 2, ins, 1, true);
            for (int t = 1; t <= 3; t++) {
                og_tensor *y = exec_g(g, 2, ins, t, false);
                expect_same_bits(y, r, bin[k]);
                og_tensor_free(y);
            }
            og_tensor_free(r);
            og_graph_free(g);
        }
    const og_tensor *vins[4] = { x, b, row, x };
    static const char *const var[] = { "Sum", "Mean", "Max", "Min" };
    for (size_t k = 0; k < 4; k++) {
        og_graph *g = mk(var[k], 13, 4, vins, 0, NULL);
        og_tensor *r = exec_g(g, 4, vins, 1, true);
        for (int t = 1; t <= 3; t++) {
            og_tensor *y = exec_g(g, 4, vins, t, false);
            expect_same_bits(y, r, var[k]);
            og_tensor_free(y);
        }
        og_tensor_free(r);
        og_graph_free(g);
    }
    og_tensor_free(x);
    og_tensor_free(b);
    og_tensor_free(row);
}
END_TEST

/* Exp, Tanh, Sigmoid, Erf in float32 over a wide range (both tails,
 * subnormal results, around 0) within a few ulp of libm in double. */
static double ulps(float got, double want)
{
    if (isnan(want))
        return isnan(got) ? 0 : INFINITY;
    if ((double)got == want || (double)got == (double)(float)want)   /* also overflow to inf */
        return 0;
    float w = (float)want;
    double ulp = fabs((double)nextafterf(w, INFINITY) - (double)w);
    if (ulp == 0 || !isfinite(ulp))
        ulp = FLT_TRUE_MIN;
    return fabs((double)got - want) / ulp;
}

START_TEST(transcendental_ulps)
{
    static const char *const ops[] = { "Exp", "Tanh", "Sigmoid", "Erf" };
    double (*ref[])(double, const double *) = { r_exp, r_tanh, r_sigmoid, r_erf };
    int64_t n = 200000;
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, &n, &x));
    float *xv = x->data;
    for (int64_t i = 0; i < n; i++) {
        /* log-spaced magnitudes 1e-30 .. 1e2 of both signs, plus a dense band near 0 */
        double m = i % 2 ? exp(rndu(log(1e-30), log(110.0))) : rndu(0, 10);
        xv[i] = (float)(i % 4 < 2 ? m : -m);
    }
    xv[0] = 0;
    xv[1] = -0.0f;
    xv[2] = INFINITY;
    xv[3] = -INFINITY;
    xv[4] = NAN;
    xv[5] = 88.7f;
    xv[6] = -103.9f;
    for (int k = 0; k < 4; k++) {
        og_tensor *y = run1(ops[k], 13, 1, (const og_tensor *const[]){ x }, 0, NULL);
        double worst = 0;
        int64_t wi = 0;
        for (int64_t i = 0; i < n; i++) {
            double e = ulps(((float *)y->data)[i], ref[k](xv[i], NULL));
            if (e > worst) {
                worst = e;
                wi = i;
            }
        }
        ck_assert_msg(worst <= 4, "%s: %.2f ulp at x = %.9g (got %.9g, want %.9g)", ops[k], worst, (double)xv[wi],
                      (double)((float *)y->data)[wi], ref[k](xv[wi], NULL));
        og_tensor_free(y);
    }
    og_tensor_free(x);
}
END_TEST

/* Round halves to even; Sign keeps NaN; Clip: attributes (opset 6),
 * optional inputs (opset 11, one bound omitted), integers (opset 12), NaN. */
START_TEST(round_sign_clip)
{
    og_tensor *x = vals(OG_FLOAT, 7, (double[]){ 0.5, 1.5, 2.5, -0.5, -2.5, 2.4999, NAN });
    og_tensor *y = run1("Round", 11, 1, (const og_tensor *const[]){ x }, 0, NULL);
    double want[7] = { 0, 2, 2, -0.0, -2, 2, NAN };
    for (int i = 0; i < 7; i++)
        ck_assert_msg(close_to(get(y, i), want[i], OG_FLOAT) && signbit(get(y, i)) == signbit(want[i]), "round %d", i);
    og_tensor_free(y);
    y = run1("Sign", 13, 1, (const og_tensor *const[]){ x }, 0, NULL);
    ck_assert(isnan(get(y, 6)) && get(y, 3) == -1 && get(y, 0) == 1);
    og_tensor_free(y);

    og_tensor *c = vals(OG_FLOAT, 5, (double[]){ -2, -1, 0.5, 3, NAN });
    og_attr mm[2] = { og_attr_float("min", -1), og_attr_float("max", 1) };
    y = run1("Clip", 6, 1, (const og_tensor *const[]){ c }, 2, mm);
    double w6[5] = { -1, -1, 0.5, 1, NAN };
    for (int i = 0; i < 5; i++)
        ck_assert(close_to(get(y, i), w6[i], OG_FLOAT));
    og_tensor_free(y);
    y = run1("Clip", 6, 1, (const og_tensor *const[]){ c }, 1, &mm[1]);   /* max only */
    ck_assert(get(y, 0) == -2 && get(y, 3) == 1);
    og_tensor_free(y);
    og_tensor *hi = scalar_t(OG_FLOAT, 0.25);
    y = run1("Clip", 13, 3, (const og_tensor *const[]){ c, NULL, hi }, 0, NULL);
    ck_assert(get(y, 0) == -2 && get(y, 2) == 0.25 && get(y, 3) == 0.25 && isnan(get(y, 4)));
    og_tensor_free(y);
    og_tensor *ci = vals(OG_INT8, 4, (double[]){ -128, -5, 5, 127 }), *lo8 = scalar_t(OG_INT8, -6),
              *hi8 = scalar_t(OG_INT8, 4);
    y = run1("Clip", 13, 3, (const og_tensor *const[]){ ci, lo8, hi8 }, 0, NULL);
    ck_assert(get(y, 0) == -6 && get(y, 1) == -5 && get(y, 2) == 4 && get(y, 3) == 4);
    og_tensor_free(y);
    y = run1("Clip", 13, 1, (const og_tensor *const[]){ ci }, 0, NULL);   /* no bounds: the identity */
    ck_assert(get(y, 0) == -128 && get(y, 3) == 127);
    og_tensor_free(y);
    og_tensor *t[] = { x, c, hi, ci, lo8, hi8 };
    free_all(6, t);
}
END_TEST

/* ---- binary ops against an index-by-index broadcast --------------------- */
typedef struct bop {
    const char *name;
    int opset;
    bool bool_out, bool_in;
    double (*ref)(double a, double b, og_dtype dt);
} bop;

static double wrap(double v, og_dtype dt)
{
    switch (dt) {
    case OG_INT32: return (double)(int32_t)(uint32_t)(int64_t)v;
    case OG_UINT8: return (double)(uint8_t)(int64_t)v;
    default: return v;
    }
}
static bool isint(og_dtype dt) { return dt != OG_FLOAT && dt != OG_DOUBLE; }
static double b_add(double a, double b, og_dtype dt) { return wrap(a + b, dt); }
static double b_sub(double a, double b, og_dtype dt) { return wrap(a - b, dt); }
static double b_mul(double a, double b, og_dtype dt) { return wrap(a * b, dt); }
static double b_div(double a, double b, og_dtype dt) { return isint(dt) ? (b == 0 ? 0 : wrap(trunc(a / b), dt)) : a / b; }
static double b_pow(double a, double b, og_dtype dt) { return isint(dt) ? wrap(pow(a, b), dt) : pow(a, b); }
static double b_prelu(double a, double b, og_dtype dt) { return a < 0 ? wrap(a * b, dt) : a; }
static double b_eq(double a, double b, og_dtype dt) { (void)dt; return a == b; }
static double b_lt(double a, double b, og_dtype dt) { (void)dt; return a < b; }
static double b_gt(double a, double b, og_dtype dt) { (void)dt; return a > b; }
static double b_le(double a, double b, og_dtype dt) { (void)dt; return a <= b; }
static double b_ge(double a, double b, og_dtype dt) { (void)dt; return a >= b; }
static double b_and(double a, double b, og_dtype dt) { (void)dt; return a && b; }
static double b_or(double a, double b, og_dtype dt) { (void)dt; return a || b; }

static const bop bops[] = {
    { "Add", 14, false, false, b_add }, { "Sub", 14, false, false, b_sub }, { "Mul", 14, false, false, b_mul },
    { "Div", 14, false, false, b_div }, { "Pow", 15, false, false, b_pow }, { "PRelu", 16, false, false, b_prelu },
    { "Equal", 13, true, false, b_eq }, { "Less", 13, true, false, b_lt }, { "Greater", 13, true, false, b_gt },
    { "LessOrEqual", 16, true, false, b_le }, { "GreaterOrEqual", 16, true, false, b_ge },
    { "And", 7, true, true, b_and }, { "Or", 7, true, true, b_or },
};
#define N_BOPS (int)(sizeof bops / sizeof bops[0])

START_TEST(binary_against_reference)
{
    const bop *o = &bops[_i];
    og_dtype dts[4] = { OG_FLOAT, OG_DOUBLE, OG_INT32, OG_UINT8 };
    for (int iter = 0; iter < 16; iter++)
        for (int di = 0; di < 4; di++) {
            og_dtype dt = o->bool_in ? OG_BOOL : dts[di];
            if (o->bool_in && di > 0)
                break;
            if (!strcmp(o->name, "Pow") && dt == OG_UINT8)
                continue;   /* Pow's base: float, double, int32, int64 */
            if (!strcmp(o->name, "PRelu") && dt == OG_UINT8)
                continue;
            int64_t da[4], db[4];
            int ra = rand_shape(da, true), rb = bcast_shape(ra, da, db);
            bool swap = strcmp(o->name, "PRelu") != 0 && rnd(0, 1);   /* PRelu's slope only broadcasts to X */
            double lo = dt == OG_UINT8 ? 0 : -20, hi = dt == OG_UINT8 ? 255 : 20;
            og_tensor *a = rand_t(dt, swap ? rb : ra, swap ? db : da, lo, hi);
            og_tensor *b = rand_t(dt, swap ? ra : rb, swap ? da : db, !strcmp(o->name, "Pow") ? 0 : lo,
                                  !strcmp(o->name, "Pow") ? 4 : hi);
            if (b->numel > 0 && !isint(dt) && !strcmp(o->name, "Less"))
                set(b, 0, NAN);   /* NaN compares false */
            if (a->numel > 0 && b->numel > 0 && strcmp(o->name, "Pow"))
                set(a, 0, get(b, 0));   /* a tie */
            const og_tensor *ins[2] = { a, b };
            og_graph *g = mk(o->name, o->opset, 2, ins, 0, NULL);
            og_tensor *y = exec_g(g, 2, ins, 2, false);
            og_tensor *r = exec_g(g, 2, ins, 1, true);
            ck_assert_int_eq(y->dtype, o->bool_out ? OG_BOOL : dt);
            for (int64_t i = 0; i < y->numel; i++) {
                double av = get(a, bidx(y, a, i)), bv = get(b, bidx(y, b, i));
                double want = o->ref(av, bv, dt);
                if (dt == OG_FLOAT && !o->bool_out)
                    want = (float)want;
                ck_assert_msg(close_to(get(y, i), want, o->bool_out ? OG_BOOL : dt), "%s %s: %g, %g -> %g, want %g",
                              o->name, og_dtype_name(dt), av, bv, get(y, i), want);
            }
            expect_same_bits(y, r, o->name);
            og_tensor *t[] = { a, b, y, r };
            free_all(4, t);
            og_graph_free(g);
        }
}
END_TEST

/* Integer Div truncates toward zero, x/0 gives 0 and INT_MIN/-1 wraps;
 * uint8 Sub wraps; Pow with mixed base/exponent types (opset 12+). */
START_TEST(integer_edges_and_pow_types)
{
    og_tensor *a = vals(OG_INT32, 5, (double[]){ -7, 7, -7, 5, INT32_MIN });
    og_tensor *b = vals(OG_INT32, 5, (double[]){ 2, -2, -2, 0, -1 });
    og_tensor *y = run1("Div", 14, 2, (const og_tensor *const[]){ a, b }, 0, NULL);
    double want[5] = { -3, -3, 3, 0, INT32_MIN };
    for (int i = 0; i < 5; i++)
        ck_assert_msg(get(y, i) == want[i], "div %d: %g", i, get(y, i));
    og_tensor_free(y);
    og_tensor *u = vals(OG_UINT8, 2, (double[]){ 3, 250 }), *v = vals(OG_UINT8, 2, (double[]){ 5, 10 });
    y = run1("Sub", 14, 2, (const og_tensor *const[]){ u, v }, 0, NULL);
    ck_assert(get(y, 0) == 254 && get(y, 1) == 240);
    og_tensor_free(y);
    /* int32 base, int64 / float exponents; float base, int exponent */
    og_tensor *e64 = vals(OG_INT64, 5, (double[]){ 3, 0, 2, -1, 31 }), *ef = vals(OG_FLOAT, 5, (double[]){ 0.5, 2, 1.5, -1, 3 });
    og_tensor *base = vals(OG_INT32, 5, (double[]){ -2, 7, 9, 1, 2 }), *fb = vals(OG_FLOAT, 5, (double[]){ 1.5, -2, 4, 2, 0.5 });
    y = run1("Pow", 15, 2, (const og_tensor *const[]){ base, e64 }, 0, NULL);
    ck_assert_int_eq(y->dtype, OG_INT32);
    ck_assert(get(y, 0) == -8 && get(y, 1) == 1 && get(y, 2) == 81 && get(y, 3) == 1 && get(y, 4) == INT32_MIN);
    og_tensor_free(y);
    y = run1("Pow", 15, 2, (const og_tensor *const[]){ base, ef }, 0, NULL);   /* (-2)^0.5 is NaN -> int */
    ck_assert(get(y, 1) == 49 && get(y, 2) == 27 && get(y, 4) == 8);
    og_tensor_free(y);
    y = run1("Pow", 15, 2, (const og_tensor *const[]){ fb, e64 }, 0, NULL);
    ck_assert_int_eq(y->dtype, OG_FLOAT);
    ck_assert(get(y, 0) == 3.375 && get(y, 1) == 1 && get(y, 2) == 16 && get(y, 3) == 0.5);
    og_tensor_free(y);
    og_tensor *t[] = { a, b, u, v, e64, ef, base, fb };
    free_all(8, t);
}
END_TEST

/* ---- variadic ------------------------------------------------------------ */
START_TEST(variadic_against_reference)
{
    static const char *const ops[] = { "Sum", "Mean", "Max", "Min" };
    for (int iter = 0; iter < 40; iter++) {
        int k = iter % 4, n = (int)rnd(1, MAXN);
        og_dtype dt = iter % 3 == 0 ? OG_DOUBLE : iter % 3 == 1 || k < 2 ? OG_FLOAT : OG_INT16;
        int64_t dims[4], d[MAXN][4];
        int rank = rand_shape(dims, true);
        og_tensor *ins[MAXN];
        int full = (int)rnd(0, n - 1);   /* one input has the whole shape */
        for (int j = 0; j < n; j++) {
            int r = j == full ? rank : bcast_shape(rank, dims, d[j]);
            ins[j] = rand_t(dt, r, j == full ? dims : d[j], -5, 5);
            if (dt != OG_INT16 && ins[j]->numel > 1 && rnd(0, 3) == 0)
                set(ins[j], 1, NAN);
        }
        og_graph *g = mk(ops[k], 13, n, (const og_tensor *const *)ins, 0, NULL);
        og_tensor *y = exec_g(g, n, (const og_tensor *const *)ins, 3, false);
        og_tensor *r = exec_g(g, n, (const og_tensor *const *)ins, 1, true);
        ck_assert_int_eq(y->rank, rank);
        for (int64_t i = 0; i < y->numel; i++) {
            double acc = get(ins[0], bidx(y, ins[0], i));
            for (int j = 1; j < n; j++) {
                double v = get(ins[j], bidx(y, ins[j], i));
                if (dt == OG_FLOAT && k < 2)
                    acc = (float)(acc + v);
                else
                    acc = k < 2 ? acc + v : isnan(acc) || isnan(v) ? NAN : k == 2 ? fmax(acc, v) : fmin(acc, v);
            }
            if (k == 1)
                acc = dt == OG_FLOAT ? (float)acc / (float)n : acc / n;
            ck_assert_msg(close_to(get(y, i), acc, dt), "%s of %d: %g, want %g", ops[k], n, get(y, i), acc);
        }
        expect_same_bits(y, r, ops[k]);
        free_all(n, ins);
        og_tensor_free(y);
        og_tensor_free(r);
        og_graph_free(g);
    }
}
END_TEST

/* ---- errors --------------------------------------------------------------- */
static void expect_build_fails(og_status code, const char *needle, const char *op, int opset, int n,
                               const og_dtype *dt, const int *rank, const int64_t (*dims)[4], int n_attrs,
                               const og_attr *attrs)
{
    og_graph *g;
    const char *names[MAXN], *outs[1] = { "y" };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    for (int k = 0; k < n; k++) {
        names[k] = dt[k] == OG_UNDEFINED ? "" : in_names[k];
        if (dt[k] != OG_UNDEFINED)
            OG_CHECK(og_graph_add_input(g, in_names[k], dt[k], rank[k], dims[k], NULL));
    }
    OG_CHECK(og_graph_add_node(g, op, NULL, "fam", n, names, 1, outs, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "y"));
    og_status st = og_graph_finalize(g);
    ck_assert_msg(st == code, "%s: expected %s, got %s: %s", op, og_status_name(code), og_status_name(st), og_errmsg());
    ck_assert_msg(strstr(og_errmsg(), "node 'fam' (") != NULL, "no node in: %s", og_errmsg());
    ck_assert_msg(strstr(og_errmsg(), needle) != NULL, "'%s' lacks '%s'", og_errmsg(), needle);
    og_graph_free(g);
}

START_TEST(type_and_shape_errors)
{
    const int64_t d[4][4] = { { 3 }, { 3 }, { 3 }, { 3 } }, d2[4][4] = { { 2, 3 }, { 3 }, { 2 }, { 1 } };
    const int r1[4] = { 1, 1, 1, 1 }, r0[4] = { 1, 0, 0, 0 };
    expect_build_fails(OG_ERR_SHAPE, "input X 'in0' has type int32, expected float or double at opset 13", "Exp", 13, 1,
                       (og_dtype[]){ OG_INT32 }, r1, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "input X 'in0' has type float, expected bool at opset 1", "Not", 1, 1, (og_dtype[]){ OG_FLOAT }, r1, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "(integer types need opset >= 12)", "Clip", 11, 1, (og_dtype[]){ OG_INT32 }, r1, d,
                       0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "(signed integer types need opset >= 6)", "Neg", 1, 1, (og_dtype[]){ OG_INT8 }, r1,
                       d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "min and max are inputs from opset 11", "Clip", 10, 3,
                       (og_dtype[]){ OG_FLOAT, OG_FLOAT, OG_FLOAT }, r0, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "input min 'in1' has shape [3], expected a scalar", "Clip", 13, 2,
                       (og_dtype[]){ OG_FLOAT, OG_FLOAT }, r1, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "input max 'in2' has type double, expected X's type float", "Clip", 13, 3,
                       (og_dtype[]){ OG_FLOAT, OG_UNDEFINED, OG_DOUBLE }, r0, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "expected B 'in1' to be float too, got double", "Sub", 14, 2,
                       (og_dtype[]){ OG_FLOAT, OG_DOUBLE }, r1, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "cannot broadcast A 'in0' of shape [2,3] with B 'in1' of shape [2]", "Div", 14, 2,
                       (og_dtype[]){ OG_FLOAT, OG_FLOAT }, (int[]){ 2, 1 }, (const int64_t[][4]){ { 2, 3 }, { 2 } }, 0,
                       NULL);
    expect_build_fails(OG_ERR_SHAPE, "(integer exponents need opset >= 12)", "Pow", 11, 2,
                       (og_dtype[]){ OG_FLOAT, OG_INT64 }, r1, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "input B 'in1' has type bool", "Pow", 15, 2, (og_dtype[]){ OG_FLOAT, OG_BOOL }, r1,
                       d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "slope 'in1' of shape [2,3] does not broadcast to X 'in0' of shape [3]", "PRelu",
                       16, 2, (og_dtype[]){ OG_FLOAT, OG_FLOAT }, (int[]){ 1, 2 },
                       (const int64_t[][4]){ { 3 }, { 2, 3 } }, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "(float and the other integer types need opset >= 11)", "Equal", 10, 2,
                       (og_dtype[]){ OG_FLOAT, OG_FLOAT }, r1, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "input A 'in0' has type float, expected bool", "And", 7, 2,
                       (og_dtype[]){ OG_FLOAT, OG_FLOAT }, r1, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "data_1 'in1' has shape [3], expected data_0's [2,3] (broadcasting needs opset >= 8",
                       "Sum", 6, 3, (og_dtype[]){ OG_FLOAT, OG_FLOAT, OG_FLOAT }, (int[]){ 2, 1, 1 }, d2, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "cannot broadcast", "Max", 13, 3, (og_dtype[]){ OG_FLOAT, OG_FLOAT, OG_FLOAT },
                       (int[]){ 2, 1, 1 }, d2, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "expected data_1 'in1' to be float too, got double", "Mean", 13, 2,
                       (og_dtype[]){ OG_FLOAT, OG_DOUBLE }, r1, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "(integer types need opset >= 12)", "Max", 11, 2,
                       (og_dtype[]){ OG_INT32, OG_INT32 }, r1, d, 0, NULL);
    expect_build_fails(OG_ERR_SHAPE, "has type int32, expected float or double at opset 13", "Sum", 13, 2,
                       (og_dtype[]){ OG_INT32, OG_INT32 }, r1, d, 0, NULL);
}
END_TEST

/* ---- gradients --------------------------------------------------------- */
/* og_gradcheck (float64, orders 1 and 2) of op over the given inputs. */
static void gradcheck_node(const char *op, int opset, int n, og_tensor *const *ins, int n_attrs, const og_attr *attrs,
                           const char *what)
{
    og_graph *g = mk(op, opset, n, (const og_tensor *const *)ins, n_attrs, attrs);
    const og_tensor *feeds[MAXN];
    int nf = 0;
    for (int k = 0; k < n; k++)
        if (ins[k])
            feeds[nf++] = ins[k];
    for (int order = 1; order <= 2; order++) {
        og_gradcheck_options o = { .order = order, .seed = rng(), .max_elements = 24, .n_inputs = nf, .inputs = feeds };
        og_gradcheck_report *r;
        og_status st = og_gradcheck(g, &o, &r);
        ck_assert_msg(st == OG_OK, "%s order %d: %s", what, order, og_errmsg());
        for (int k = 0; k < r->n; k++)
            ck_assert_msg(r->entries[k].pass, "%s order %d: d%s wrong at %lld: analytic %.10g numeric %.10g", what,
                          order, r->entries[k].name, (long long)r->entries[k].worst_index,
                          r->entries[k].worst_analytic, r->entries[k].worst_numeric);
        ck_assert(r->pass && r->n > 0);
        og_gradcheck_report_free(r);
    }
    og_graph_free(g);
}

/* Doubles in [lo, hi] at least `gap` away from every kink in k[]. */
static og_tensor *away(int rank, const int64_t *dims, double lo, double hi, const double *k, int nk, double gap)
{
    og_tensor *t = rand_t(OG_DOUBLE, rank, dims, lo, hi);
    for (int64_t i = 0; i < t->numel; i++)
        for (int j = 0; j < nk; j++)
            if (fabs(get(t, i) - k[j]) < gap) {
                set(t, i, k[j] + (get(t, i) < k[j] ? -gap : gap));
                j = -1;
            }
    return t;
}

START_TEST(unary_gradcheck)
{
    const uop *u = &uops[_i];
    if (!strcmp(u->name, "Sign") || !strcmp(u->name, "Floor") || !strcmp(u->name, "Ceil") || !strcmp(u->name, "Round"))
        return;   /* zero gradient: unary_zero_gradients */
    for (int iter = 0; iter < 3; iter++) {
        double a[2];
        og_attr attrs[2];
        for (int k = 0; k < u->n_attrs; k++) {
            a[k] = (float)rndu(u->alo[k], u->ahi[k]);
            attrs[k] = og_attr_float(u->attr_names[k], (float)a[k]);
        }
        /* kinks: 0 for most; HardSigmoid where alpha x + beta is 0 or 1;
         * HardSwish at +-3; Shrink at +-lambd */
        double kinks[2] = { 0, 0 };
        int nk = 1;
        if (!strcmp(u->name, "HardSigmoid")) {
            kinks[0] = -a[1] / a[0];
            kinks[1] = (1 - a[1]) / a[0];
            nk = 2;
        } else if (!strcmp(u->name, "HardSwish")) {
            kinks[0] = -3;
            kinks[1] = 3;
            nk = 2;
        } else if (!strcmp(u->name, "Shrink")) {
            kinks[0] = -a[0];
            kinks[1] = a[0];
            nk = 2;
        }
        int64_t dims[3] = { rnd(1, 3), rnd(1, 4), rnd(1, 3) };
        double lo = u->lo < -4 ? -4 : u->lo, hi = u->hi > 4 ? 4 : u->hi;
        if (!strcmp(u->name, "Log") || !strcmp(u->name, "Sqrt") || !strcmp(u->name, "Reciprocal"))
            lo = 0.2;
        og_tensor *x = away(3, dims, lo, hi, kinks, nk, 0.01);
        gradcheck_node(u->name, u->opset, 1, &x, u->n_attrs, attrs, u->name);
        og_tensor_free(x);
    }
}
END_TEST

START_TEST(clip_gradcheck)
{
    int64_t dims[2] = { 3, 4 };
    for (int iter = 0; iter < 3; iter++) {
        double lo = rndu(-1, 0), hi = rndu(0.1, 1);
        double kinks[2] = { lo, hi };
        og_tensor *x = away(2, dims, -2, 2, kinks, 2, 0.01);
        og_tensor *ins[3] = { x, scalar_t(OG_DOUBLE, lo), scalar_t(OG_DOUBLE, hi) };
        gradcheck_node("Clip", 13, 3, ins, 0, NULL, "Clip(x, min, max)");
        og_tensor *only_max[3] = { x, NULL, ins[2] };
        gradcheck_node("Clip", 13, 3, only_max, 0, NULL, "Clip(x, , max)");
        /* Clip 1..10 keeps its bounds in attributes, which the gradient
         * graph (opset 17) would have to turn into inputs: refused */
        og_attr mm[2] = { og_attr_float("min", (float)lo), og_attr_float("max", (float)hi) };
        og_graph *g6 = mk("Clip", 6, 1, (const og_tensor *const *)ins, 2, mm), *gg;
        const char *seeded[1] = { "y" };
        og_grad_options o = { .n_seeded = 1, .seeded = seeded };
        OG_CHECK_FAILS(og_graph_build_gradient(g6, &o, &gg), OG_ERR_UNSUPPORTED, "attribute 'min' of opset 6 is an input");
        og_graph_free(g6);
        free_all(3, ins);
    }
}
END_TEST

START_TEST(binary_gradcheck)
{
    for (int iter = 0; iter < 3; iter++) {
        int64_t da[3] = { rnd(1, 3), rnd(1, 4), rnd(2, 3) }, db[3];
        int rb = bcast_shape(3, da, db);
        double zero = 0;
        og_tensor *a = away(3, da, -2, 2, &zero, 1, 0.05), *b = away(rb, db, -2, 2, &zero, 1, 0.3);
        og_tensor *ab[2] = { a, b }, *ba[2] = { b, a };
        static const char *const ops[] = { "Add", "Sub", "Mul", "Div" };
        for (int k = 0; k < 4; k++) {
            gradcheck_node(ops[k], 14, 2, ab, 0, NULL, ops[k]);
            gradcheck_node(ops[k], 14, 2, ba, 0, NULL, ops[k]);
        }
        /* Pow: positive base, any exponent */
        og_tensor *pa = away(3, da, 0.3, 2, &zero, 1, 0), *pb = rand_t(OG_DOUBLE, rb, db, -2, 2);
        gradcheck_node("Pow", 15, 2, (og_tensor *[]){ pa, pb }, 0, NULL, "Pow");
        /* PRelu: slope per channel [C, 1, 1] against [N, C, H, W] */
        int64_t dx[4] = { 2, rnd(1, 3), 2, 2 }, ds[3] = { dx[1], 1, 1 };
        og_tensor *x = away(4, dx, -2, 2, &zero, 1, 0.05), *s = rand_t(OG_DOUBLE, 3, ds, 0, 0.5);
        gradcheck_node("PRelu", 16, 2, (og_tensor *[]){ x, s }, 0, NULL, "PRelu");
        og_tensor *t[] = { a, b, pa, pb, x, s };
        free_all(6, t);
    }
}
END_TEST

START_TEST(variadic_gradcheck)
{
    static const char *const ops[] = { "Sum", "Mean", "Max", "Min" };
    for (int k = 0; k < 4; k++)
        for (int n = 1; n <= 4; n++) {
            int64_t dims[3] = { 2, rnd(1, 3), 3 }, d[4][3];
            og_tensor *ins[4];
            for (int j = 0; j < n; j++) {
                int r = j == 0 ? 3 : bcast_shape(3, dims, d[j]);
                ins[j] = rand_t(OG_DOUBLE, r, j == 0 ? dims : d[j], -2, 2);   /* ties have probability 0 */
            }
            gradcheck_node(ops[k], 13, n, ins, 0, NULL, ops[k]);
            free_all(n, ins);
        }
}
END_TEST

/* Gradient of y = op(ins) seeded with ones, w.r.t. input k. */
static og_tensor *grad_of(const char *op, int opset, int n, og_tensor *const *ins, int n_attrs, const og_attr *attrs,
                          int k)
{
    og_graph *g = mk(op, opset, n, (const og_tensor *const *)ins, n_attrs, attrs);
    const char *seeded[1] = { "y" }, *wrt[1] = { in_names[k] };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 1, .wrt = wrt };
    og_tensor *y = run1(op, opset, n, (const og_tensor *const *)ins, n_attrs, attrs), *ones, *gr;
    OG_CHECK(og_tensor_create(y->dtype, y->rank, y->dims, &ones));
    for (int64_t i = 0; i < ones->numel; i++)
        set(ones, i, 1);
    const og_tensor *feeds[MAXN];
    int nf = 0;
    for (int j = 0; j < n; j++)
        if (ins[j])
            feeds[nf++] = ins[j];
    OG_CHECK(og_gradients(g, &o, nf, feeds, (const og_tensor *const[]){ ones }, &gr));
    og_tensor_free(ones);
    og_tensor_free(y);
    og_graph_free(g);
    return gr;
}

static void expect_grad(const og_tensor *gr, int64_t n, const double *want, const char *what)
{
    ck_assert_int_eq(gr->numel, n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabs(get(gr, i) - want[i]) < 1e-4, "%s: grad[%lld] = %.6g, PyTorch gives %.6g", what,
                      (long long)i, get(gr, i), want[i]);
}

/* The values torch 1.13 gives at the non-smooth points (printed by
 * torch.autograd with a ones seed). */
START_TEST(kinks_match_pytorch)
{
    og_tensor *a = vals(OG_FLOAT, 3, (double[]){ 1, 2, 3 }), *b = vals(OG_FLOAT, 3, (double[]){ 1, 5, 0 }), *g;
    og_tensor *ab[2] = { a, b };
    /* torch.maximum / torch.max(a, b): ties split evenly */
    g = grad_of("Max", 13, 2, ab, 0, NULL, 0); expect_grad(g, 3, (double[]){ 0.5, 0, 1 }, "Max dA"); og_tensor_free(g);
    g = grad_of("Max", 13, 2, ab, 0, NULL, 1); expect_grad(g, 3, (double[]){ 0.5, 1, 0 }, "Max dB"); og_tensor_free(g);
    g = grad_of("Min", 13, 2, ab, 0, NULL, 0); expect_grad(g, 3, (double[]){ 0.5, 1, 0 }, "Min dA"); og_tensor_free(g);
    g = grad_of("Min", 13, 2, ab, 0, NULL, 1); expect_grad(g, 3, (double[]){ 0.5, 0, 1 }, "Min dB"); og_tensor_free(g);
    /* three-way tie: a third each (the even split, extended to n) */
    og_tensor *aab[3] = { a, a, b };
    g = grad_of("Max", 13, 3, aab, 0, NULL, 2); expect_grad(g, 3, (double[]){ 1.0 / 3, 1, 0 }, "Max3 dC"); og_tensor_free(g);
    /* torch.clamp(x, 0, 1) at x = [-1, 0, 1, 2]: the bounds pass */
    og_tensor *x4 = vals(OG_FLOAT, 4, (double[]){ -1, 0, 1, 2 }), *lo = scalar_t(OG_FLOAT, 0), *hi = scalar_t(OG_FLOAT, 1);
    og_tensor *clip_in[3] = { x4, lo, hi };
    g = grad_of("Clip", 13, 3, clip_in, 0, NULL, 0); expect_grad(g, 4, (double[]){ 0, 1, 1, 0 }, "Clip"); og_tensor_free(g);
    /* torch.abs at [0, -0, 1] */
    og_tensor *z = vals(OG_FLOAT, 3, (double[]){ 0, -0.0, 1 });
    g = grad_of("Abs", 13, 1, &z, 0, NULL, 0); expect_grad(g, 3, (double[]){ 0, 0, 1 }, "Abs"); og_tensor_free(g);
    /* hardswish / hardsigmoid (alpha 1/6) at [-3, 3, 0] */
    og_tensor *h = vals(OG_FLOAT, 3, (double[]){ -3, 3, 0 });
    g = grad_of("HardSwish", 14, 1, &h, 0, NULL, 0); expect_grad(g, 3, (double[]){ -0.5, 1.5, 0.5 }, "HardSwish"); og_tensor_free(g);
    og_attr hs[2] = { og_attr_float("alpha", 1.0f / 6), og_attr_float("beta", 0.5f) };
    g = grad_of("HardSigmoid", 13, 1, &h, 2, hs, 0); expect_grad(g, 3, (double[]){ 0, 0, 1.0 / 6 }, "HardSigmoid"); og_tensor_free(g);
    /* elu(alpha 2), selu, leaky_relu(0.1) at 0 */
    og_tensor *x0 = vals(OG_FLOAT, 1, (double[]){ 0 });
    og_attr al2 = og_attr_float("alpha", 2), al01 = og_attr_float("alpha", 0.1f);
    g = grad_of("Elu", 13, 1, &x0, 1, &al2, 0); expect_grad(g, 1, (double[]){ 2 }, "Elu"); og_tensor_free(g);
    g = grad_of("Selu", 13, 1, &x0, 0, NULL, 0); expect_grad(g, 1, (double[]){ 1.7581 }, "Selu"); og_tensor_free(g);
    g = grad_of("LeakyRelu", 13, 1, &x0, 1, &al01, 0); expect_grad(g, 1, (double[]){ 0.1 }, "LeakyRelu"); og_tensor_free(g);
    /* hardshrink(0.5) at +-0.5 */
    og_tensor *s = vals(OG_FLOAT, 2, (double[]){ -0.5, 0.5 });
    g = grad_of("Shrink", 13, 1, &s, 0, NULL, 0); expect_grad(g, 2, (double[]){ 0, 0 }, "Shrink"); og_tensor_free(g);
    /* pow at x = [0, 0, 2], y = [0, 2, 0] */
    og_tensor *px = vals(OG_FLOAT, 3, (double[]){ 0, 0, 2 }), *py = vals(OG_FLOAT, 3, (double[]){ 0, 2, 0 });
    og_tensor *pxy[2] = { px, py };
    g = grad_of("Pow", 15, 2, pxy, 0, NULL, 0); expect_grad(g, 3, (double[]){ 0, 0, 0 }, "Pow dX"); og_tensor_free(g);
    g = grad_of("Pow", 15, 2, pxy, 0, NULL, 1); expect_grad(g, 3, (double[]){ 0, 0, 0.693147 }, "Pow dY"); og_tensor_free(g);
    /* prelu at x = [0, 1], slope 0.25 */
    og_tensor *rx = vals(OG_FLOAT, 2, (double[]){ 0, 1 }), *rs = vals(OG_FLOAT, 1, (double[]){ 0.25 });
    og_tensor *prl[2] = { rx, rs };
    g = grad_of("PRelu", 16, 2, prl, 0, NULL, 0); expect_grad(g, 2, (double[]){ 0.25, 1 }, "PRelu dX"); og_tensor_free(g);
    g = grad_of("PRelu", 16, 2, prl, 0, NULL, 1); expect_grad(g, 1, (double[]){ 0 }, "PRelu dslope"); og_tensor_free(g);
    og_tensor *t[] = { a, b, x4, lo, hi, z, h, x0, s, px, py, rx, rs };
    free_all(13, t);
}
END_TEST

/* Sign, Floor, Ceil, Round: gradient 0 everywhere (as PyTorch). */
START_TEST(unary_zero_gradients)
{
    static const char *const ops[] = { "Sign", "Floor", "Ceil", "Round" };
    og_tensor *x = vals(OG_DOUBLE, 4, (double[]){ -1.5, 0, 0.3, 2 });
    for (int k = 0; k < 4; k++) {
        og_tensor *g = grad_of(ops[k], 13, 1, &x, 0, NULL, 0);
        expect_grad(g, 4, (double[]){ 0, 0, 0, 0 }, ops[k]);
        og_tensor_free(g);
    }
    og_tensor_free(x);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("elementwise_family");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, unary_against_reference, 0, N_UOPS);
    tcase_add_test(tc, threads_bit_identical);
    tcase_add_test(tc, transcendental_ulps);
    tcase_add_test(tc, round_sign_clip);
    tcase_add_loop_test(tc, binary_against_reference, 0, N_BOPS);
    tcase_add_test(tc, integer_edges_and_pow_types);
    tcase_add_test(tc, variadic_against_reference);
    tcase_add_test(tc, type_and_shape_errors);
    tcase_add_loop_test(tc, unary_gradcheck, 0, N_UOPS);
    tcase_add_test(tc, clip_gradcheck);
    tcase_add_test(tc, binary_gradcheck);
    tcase_add_test(tc, variadic_gradcheck);
    tcase_add_test(tc, kinks_match_pytorch);
    tcase_add_test(tc, unary_zero_gradients);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return og_run_suite(suite()); }
