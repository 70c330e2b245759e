/* SPDX-License-Identifier: MIT */
/* test_matmul.c — MatMul: random shapes (1-D operands, batches, broadcast
 * batch axes, K = 0) against a naive double loop, the float32 sgemm kernel
 * bit-identical at 1, 2 and 3 threads and close to the reference kernel,
 * integer types exact, shape errors, gradchecks of order 1 and 2. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include "gradtest.h"
#define NODE "mm"
#include "onenode.h"

static uint64_t seed = 0x1234abcdULL;
static uint64_t rng(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }
static double urand(void) { return (double)(rng() >> 11) / 9007199254740992.0 * 2 - 1; }

typedef struct mm_case {
    int ra, rb;
    int64_t da[OG_MAX_RANK], db[OG_MAX_RANK];
} mm_case;

static int64_t numel(int r, const int64_t *d)
{
    int64_t n = 1;
    for (int k = 0; k < r; k++)
        n *= d[k];
    return n;
}

/* Random operands: ranks 1-4, batch axes sometimes 1 (broadcast) or missing. */
static void random_case(mm_case *c)
{
    c->ra = (int)rnd(1, 4);
    c->rb = (int)rnd(1, 4);
    int64_t m = rnd(1, 40), k = rng() % 10 == 0 ? 0 : rnd(1, 40), n = rnd(1, 50);
    int64_t batch[2] = { rnd(1, 3), rnd(1, 4) };
    int ba = c->ra - 2 > 0 ? c->ra - 2 : 0, bb = c->rb - 2 > 0 ? c->rb - 2 : 0;
    for (int d = 0; d < ba; d++)
        c->da[d] = rng() % 3 == 0 ? 1 : batch[2 - ba + d];
    for (int d = 0; d < bb; d++)
        c->db[d] = rng() % 3 == 0 ? 1 : batch[2 - bb + d];
    if (c->ra == 1)
        c->da[0] = k;
    else {
        c->da[c->ra - 2] = m;
        c->da[c->ra - 1] = k;
    }
    if (c->rb == 1)
        c->db[0] = k;
    else {
        c->db[c->rb - 2] = k;
        c->db[c->rb - 1] = n;
    }
}

/* The numpy.matmul result, in double, written independently of the op. */
static double *naive(const mm_case *c, const double *a, const double *b, int *ry, int64_t *dy)
{
    int ba = c->ra > 2 ? c->ra - 2 : 0, bb = c->rb > 2 ? c->rb - 2 : 0, nb = ba > bb ? ba : bb;
    int64_t bd[OG_MAX_RANK], sa[OG_MAX_RANK], sb[OG_MAX_RANK];
    int64_t m = c->ra >= 2 ? c->da[c->ra - 2] : 1, k = c->da[c->ra - 1], n = c->rb >= 2 ? c->db[c->rb - 1] : 1;
    int64_t pa = 1, pb = 1;
    for (int d = nb - 1; d >= 0; d--) {
        int ia = d - (nb - ba), ib = d - (nb - bb);
        int64_t xa = ia >= 0 ? c->da[ia] : 1, xb = ib >= 0 ? c->db[ib] : 1;
        bd[d] = xa > xb ? xa : xb;
        sa[d] = xa == 1 ? 0 : pa;
        sb[d] = xb == 1 ? 0 : pb;
        pa *= xa;
        pb *= xb;
    }
    int64_t P = numel(nb, bd);
    double *y = calloc((size_t)(P * m * n) + 1, sizeof *y);
    for (int64_t p = 0; p < P; p++) {
        int64_t q = p, oa = 0, ob = 0;
        for (int d = nb - 1; d >= 0; d--) {
            oa += (q % bd[d]) * sa[d];
            ob += (q % bd[d]) * sb[d];
            q /= bd[d];
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t t = 0; t < k; t++)
                    s += a[oa * m * k + i * k + t] * b[ob * k * n + t * n + j];
                y[p * m * n + i * n + j] = s;
            }
    }
    *ry = 0;
    for (int d = 0; d < nb; d++)
        dy[(*ry)++] = bd[d];
    if (c->ra >= 2)
        dy[(*ry)++] = m;
    if (c->rb >= 2)
        dy[(*ry)++] = n;
    return y;
}

/* A graph A, B -> MatMul -> Y; dyn declares A's first dim unknown, so the
 * plan runs the reference kernel. */
static og_graph *mm_graph(og_dtype dt, const mm_case *c, bool dyn, int opset)
{
    og_graph *g;
    int64_t da[OG_MAX_RANK];
    memcpy(da, c->da, sizeof da);
    if (dyn)
        da[0] = -1;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    OG_CHECK(og_graph_add_input(g, "A", dt, c->ra, da, NULL));
    OG_CHECK(og_graph_add_input(g, "B", dt, c->rb, c->db, NULL));
    const char *in[2] = { "A", "B" }, *out[1] = { "Y" };
    OG_CHECK(og_graph_add_node(g, "MatMul", NULL, NODE, 2, in, 1, out, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static const char *want_isa;   /* when set, the sgemm kernel's name must contain it */

static og_tensor *run_graph(const og_graph *g, int threads, og_tensor *a, og_tensor *b, const char **kernel)
{
    og_plan_options po = { .n_threads = threads };
    og_plan *p;
    og_tensor *y = NULL;
    const og_tensor *f[2] = { a, b };
    OG_CHECK(og_plan_create_ex(g, &po, &p));
    if (kernel) {
        *kernel = "reference";
        for (int s = 0; s < og_plan_num_steps(p); s++) {
            const char *nn, *op, *k;
            OG_CHECK(og_plan_step(p, s, &nn, &op, &k));
            if (strcmp(op, "MatMul") == 0)
            {
                *kernel = strncmp(k, "matmul_sgemm", 12) == 0 ? "fast" : "reference";
                ck_assert_msg(!want_isa || strncmp(k, "matmul_sgemm", 12) || strstr(k, want_isa), "kernel %s", k);
            }
        }
    }
    OG_CHECK(og_plan_run(p, 2, f, &y));
    og_plan_free(p);
    return y;
}

static void float_cases(int count)
{
    for (int it = 0; it < count; it++) {
        mm_case c;
        random_case(&c);
        int64_t na = numel(c.ra, c.da), nb = numel(c.rb, c.db);
        double *ad = malloc(sizeof(double) * (size_t)(na + 1)), *bd = malloc(sizeof(double) * (size_t)(nb + 1));
        float *af = malloc(sizeof(float) * (size_t)(na + 1)), *bf = malloc(sizeof(float) * (size_t)(nb + 1));
        for (int64_t i = 0; i < na; i++)
            ad[i] = af[i] = (float)urand();
        for (int64_t i = 0; i < nb; i++)
            bd[i] = bf[i] = (float)urand();
        int ry;
        int64_t dy[OG_MAX_RANK];
        double *ref = naive(&c, ad, bd, &ry, dy);
        og_tensor *a, *b;
        OG_CHECK(og_tensor_create_from(OG_FLOAT, c.ra, c.da, af, &a));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, c.rb, c.db, bf, &b));
        og_graph *g = mm_graph(OG_FLOAT, &c, false, 13), *gd = mm_graph(OG_FLOAT, &c, true, 13);
        const char *kern;
        og_tensor *y1 = run_graph(g, 1, a, b, &kern);
        ck_assert_str_eq(kern, "fast");
        og_tensor *yr = run_graph(gd, 1, a, b, &kern);
        ck_assert_str_eq(kern, "reference");
        ck_assert_int_eq(y1->rank, ry);
        for (int d = 0; d < ry; d++)
            ck_assert_int_eq(y1->dims[d], dy[d]);
        int64_t k = c.da[c.ra - 1];
        for (int64_t i = 0; i < y1->numel; i++) {
            double tol = 1e-5 * (double)(k + 1);
            ck_assert_msg(fabs(((float *)y1->data)[i] - ref[i]) <= tol, "case %d element %lld: fast %g ref %g", it,
                          (long long)i, ((float *)y1->data)[i], ref[i]);
            ck_assert_msg(fabs(((float *)yr->data)[i] - ref[i]) <= tol, "case %d element %lld: reference %g ref %g",
                          it, (long long)i, ((float *)yr->data)[i], ref[i]);
        }
        for (int t = 2; t <= 3; t++) {
            og_tensor *yt = run_graph(g, t, a, b, NULL);
            ck_assert_int_eq(yt->numel, y1->numel);
            ck_assert_msg(memcmp(yt->data, y1->data, sizeof(float) * (size_t)y1->numel) == 0,
                          "case %d: %d threads differ from 1", it, t);
            og_tensor_free(yt);
        }
        og_tensor_free(y1);
        og_tensor_free(yr);
        og_tensor_free(a);
        og_tensor_free(b);
        og_graph_free(g);
        og_graph_free(gd);
        free(ref);
        free(ad);
        free(bd);
        free(af);
        free(bf);
    }
}
START_TEST(random_float)
{
    float_cases(60);
}
END_TEST

/* The portable GEMM (Check runs each test in its own process). */
START_TEST(scalar_isa)
{
    setenv("OG_ISA", "scalar", 1);
    want_isa = "_scalar";
    float_cases(20);
}
END_TEST

START_TEST(random_double_and_int)
{
    for (int it = 0; it < 40; it++) {
        mm_case c;
        random_case(&c);
        og_dtype dt = it % 3 == 0 ? OG_DOUBLE : it % 3 == 1 ? OG_INT64 : OG_INT32;
        int64_t na = numel(c.ra, c.da), nb = numel(c.rb, c.db);
        double *ad = malloc(sizeof(double) * (size_t)(na + 1)), *bd = malloc(sizeof(double) * (size_t)(nb + 1));
        int64_t *a64 = malloc(sizeof(int64_t) * (size_t)(na + 1)), *b64 = malloc(sizeof(int64_t) * (size_t)(nb + 1));
        int32_t *a32 = malloc(sizeof(int32_t) * (size_t)(na + 1)), *b32 = malloc(sizeof(int32_t) * (size_t)(nb + 1));
        for (int64_t i = 0; i < na; i++) {
            a64[i] = a32[i] = (int32_t)rnd(-9, 9);
            ad[i] = dt == OG_DOUBLE ? urand() : (double)a64[i];
        }
        for (int64_t i = 0; i < nb; i++) {
            b64[i] = b32[i] = (int32_t)rnd(-9, 9);
            bd[i] = dt == OG_DOUBLE ? urand() : (double)b64[i];
        }
        int ry;
        int64_t dy[OG_MAX_RANK];
        double *ref = naive(&c, ad, bd, &ry, dy);
        og_tensor *a, *b;
        const void *pa = dt == OG_DOUBLE ? (void *)ad : dt == OG_INT64 ? (void *)a64 : (void *)a32;
        const void *pb = dt == OG_DOUBLE ? (void *)bd : dt == OG_INT64 ? (void *)b64 : (void *)b32;
        OG_CHECK(og_tensor_create_from(dt, c.ra, c.da, pa, &a));
        OG_CHECK(og_tensor_create_from(dt, c.rb, c.db, pb, &b));
        og_graph *g = mm_graph(dt, &c, false, 13);
        og_tensor *y = run_graph(g, 2, a, b, NULL);
        ck_assert_int_eq(y->rank, ry);
        for (int64_t i = 0; i < y->numel; i++) {
            double v = dt == OG_DOUBLE ? ((double *)y->data)[i]
                     : dt == OG_INT64 ? (double)((int64_t *)y->data)[i] : (double)((int32_t *)y->data)[i];
            if (dt == OG_DOUBLE)
                ck_assert_msg(fabs(v - ref[i]) <= 1e-12 * (1 + fabs(ref[i])) * 50, "case %d: %g vs %g", it, v, ref[i]);
            else
                ck_assert_msg(v == ref[i], "case %d (%s): %g vs %g", it, og_dtype_name(dt), v, ref[i]);
        }
        og_tensor_free(y);
        og_tensor_free(a);
        og_tensor_free(b);
        og_graph_free(g);
        free(ref);
        free(ad);
        free(bd);
        free(a64);
        free(b64);
        free(a32);
        free(b32);
    }
}
END_TEST

START_TEST(shapes_and_errors)
{
    static const int64_t a1[1] = { 3 }, b1[1] = { 3 }, b4[1] = { 4 }, a23[2] = { 2, 3 }, b34[2] = { 3, 4 },
                         a234[3] = { 5, 2, 3 }, b634[3] = { 6, 3, 4 }, s[1] = { 0 };
    /* [3]·[3] is a scalar; [3]·[3,4] is [4]; [2,3]·[3] is [2] */
    expect_shape(OG_FLOAT, 0, s, "MatMul", 13, 2,
                 (tin[]){ { OG_FLOAT, 1, a1, NULL }, { OG_FLOAT, 1, b1, NULL } }, 0, NULL);
    expect_shape(OG_FLOAT, 1, (int64_t[]){ 4 }, "MatMul", 13, 2,
                 (tin[]){ { OG_FLOAT, 1, a1, NULL }, { OG_FLOAT, 2, b34, NULL } }, 0, NULL);
    expect_shape(OG_DOUBLE, 1, (int64_t[]){ 2 }, "MatMul", 1, 2,
                 (tin[]){ { OG_DOUBLE, 2, a23, NULL }, { OG_DOUBLE, 1, b1, NULL } }, 0, NULL);
    /* unknown dims stay unknown, known ones still checked */
    expect_shape(OG_FLOAT, 3, (int64_t[]){ -1, 2, 4 }, "MatMul", 13, 2,
                 (tin[]){ { OG_FLOAT, 3, (int64_t[]){ -1, 2, 3 }, NULL }, { OG_FLOAT, 2, b34, NULL } }, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "inner dims differ", "MatMul", 13, 2,
                (tin[]){ { OG_FLOAT, 2, a23, NULL }, { OG_FLOAT, 1, b4, NULL } }, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "inner dims differ", "MatMul", 13, 2,
                (tin[]){ { OG_FLOAT, 1, b4, NULL }, { OG_FLOAT, 2, b34, NULL } }, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "batch axis 0 is 5 against 6", "MatMul", 13, 2,
                (tin[]){ { OG_FLOAT, 3, a234, NULL }, { OG_FLOAT, 3, b634, NULL } }, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "rank >= 1", "MatMul", 13, 2,
                (tin[]){ { OG_FLOAT, 0, s, NULL }, { OG_FLOAT, 2, b34, NULL } }, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "expected float or double at opset 8", "MatMul", 8, 2,
                (tin[]){ { OG_INT64, 2, a23, NULL }, { OG_INT64, 2, b34, NULL } }, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "share one type", "MatMul", 13, 2,
                (tin[]){ { OG_FLOAT, 2, a23, NULL }, { OG_DOUBLE, 2, b34, NULL } }, 0, NULL);
    expect_fail(OG_ERR_SHAPE, "has type bool", "MatMul", 13, 2,
                (tin[]){ { OG_BOOL, 2, a23, NULL }, { OG_BOOL, 2, b34, NULL } }, 0, NULL);
    /* values: [[1,2,3],[4,5,6]]·[1,0,-1] = [-2,-2] */
    og_tensor *y;
    OG_CHECK(run(&y, "MatMul", 13, 2,
                 (tin[]){ { OG_FLOAT, 2, a23, (float[]){ 1, 2, 3, 4, 5, 6 } },
                          { OG_FLOAT, 1, b1, (float[]){ 1, 0, -1 } } },
                 0, NULL));
    ck_assert_int_eq(y->rank, 1);
    ck_assert(((float *)y->data)[0] == -2 && ((float *)y->data)[1] == -2);
    og_tensor_free(y);
}
END_TEST

START_TEST(gradcheck_random)
{
    for (int it = 0; it < 16; it++) {
        mm_case c;
        random_case(&c);
        /* small enough for a full second-order check */
        for (int d = 0; d < c.ra; d++)
            if (c.da[d] > 4)
                c.da[d] = 4;
        for (int d = 0; d < c.rb; d++)
            if (c.db[d] > 4)
                c.db[d] = 4;
        if (c.ra == 1 && c.rb >= 2)
            c.db[c.rb - 2] = c.da[0];
        else if (c.rb == 1)
            c.db[0] = c.da[c.ra - 1];
        else
            c.db[c.rb - 2] = c.da[c.ra - 1];
        if (c.da[c.ra - 1] == 0) {
            c.da[c.ra - 1] = 2;
            c.db[c.rb == 1 ? 0 : c.rb - 2] = 2;
        }
        og_graph *g = mm_graph(OG_DOUBLE, &c, false, 13);
        char what[64];
        snprintf(what, sizeof what, "MatMul case %d (ranks %d, %d)", it, c.ra, c.rb);
        gt_gradcheck(g, 1, 0, (uint64_t)it + 1, what);
        gt_gradcheck(g, 2, 40, (uint64_t)it + 7, what);
        og_graph_free(g);
    }
}
END_TEST

/* A symbolic batch dim: the gradient graph builds (the dim is taken as not
 * broadcast, checked at run time) and gives the static graph's gradients. */
START_TEST(grad_dynamic_batch)
{
    static const mm_case cases[3] = {
        { 3, 2, { 2, 3, 4 }, { 4, 5 } },
        { 4, 3, { 3, 1, 2, 4 }, { 2, 4, 5 } },
        { 2, 3, { 3, 4 }, { 2, 4, 5 } },
    };
    for (int it = 0; it < 3; it++) {
        const mm_case *c = &cases[it];
        og_graph *gs = mm_graph(OG_DOUBLE, c, false, 13), *gd = mm_graph(OG_DOUBLE, c, true, 13);
        int64_t na = numel(c->ra, c->da), nb = numel(c->rb, c->db);
        double a[64], b[64], dy[256];
        for (int64_t i = 0; i < na; i++)
            a[i] = urand();
        for (int64_t i = 0; i < nb; i++)
            b[i] = urand();
        int ry;
        int64_t ydims[OG_MAX_RANK];
        free(naive(c, a, b, &ry, ydims));
        for (int64_t i = 0; i < numel(ry, ydims); i++)
            dy[i] = urand();
        og_tensor *in[2], *seed, *g1[2], *g2[2];
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, c->ra, c->da, a, &in[0]));
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, c->rb, c->db, b, &in[1]));
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, ry, ydims, dy, &seed));
        const char *seeded[1] = { "Y" };
        og_grad_options o = { .n_seeded = 1, .seeded = seeded };
        OG_CHECK(og_gradients(gs, &o, 2, (const og_tensor *const *)in, (const og_tensor *const *)&seed, g1));
        OG_CHECK(og_gradients(gd, &o, 2, (const og_tensor *const *)in, (const og_tensor *const *)&seed, g2));
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(g1[k]->numel, g2[k]->numel);
            for (int64_t i = 0; i < g1[k]->numel; i++)
                ck_assert(fabs(((double *)g1[k]->data)[i] - ((double *)g2[k]->data)[i]) < 1e-12);
            og_tensor_free(g1[k]);
            og_tensor_free(g2[k]);
            og_tensor_free(in[k]);
        }
        og_tensor_free(seed);
        og_graph_free(gs);
        og_graph_free(gd);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("matmul");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, random_float);
    tcase_add_test(tc, scalar_isa);
    tcase_add_test(tc, random_double_and_int);
    tcase_add_test(tc, shapes_and_errors);
    tcase_add_test(tc, gradcheck_random);
    tcase_add_test(tc, grad_dynamic_batch);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
