/* SPDX-License-Identifier: MIT */
/* test_gradient_op.c — the standard Gradient op (ai.onnx.preview.training)
 * lowered at finalize (src/lower_gradient.c): Y = X*W + B differentiated
 * through a Gradient node, compared with og_gradients on the same graph
 * without it and with central differences in float64; a scalar y; an
 * intermediate x; the gradient at another point (the node's inputs are
 * not the xs); zs; a nested (second-order) Gradient; the lowered graph
 * has no Gradient node and saves/reloads; and the errors. */
#include "gradtest.h"

#define TD "ai.onnx.preview.training"

static og_attr strs(const char *name, int n, const char *const *v)
{
    return (og_attr){ .name = name, .type = OG_ATTR_STRINGS, .strings = v, .count = n };
}

static og_graph *gop_graph(void)
{
    og_graph *g = gt_graph();
    OG_CHECK(og_graph_set_opset(g, TD, 1));
    return g;
}

static void add_gradient(og_graph *g, const char *name, int nx, const char *const *xs, int nz,
                         const char *const *zs, const char *y, int n_in, const char *const *ins, int n_out,
                         const char *const *outs)
{
    og_attr a[3] = { strs("xs", nx, xs), og_attr_string("y", y), strs("zs", nz, zs) };
    OG_CHECK(og_graph_add_node(g, "Gradient", TD, name, n_in, ins, n_out, outs, nz ? 3 : 2, a));
}

static og_status try_gradient(og_graph *g, int nx, const char *const *xs, const char *y, int n_in,
                              const char *const *ins, int n_out, const char *const *outs)
{
    og_attr a[2] = { strs("xs", nx, xs), og_attr_string("y", y) };
    return og_graph_add_node(g, "Gradient", TD, "grad", n_in, ins, n_out, outs, 2, a);
}

/* Random data in [-1, 1]. */
static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
}

static og_tensor *rand_tensor(og_dtype dt, int rank, const int64_t *dims)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    for (int64_t i = 0; i < t->numel; i++) {
        if (dt == OG_DOUBLE)
            ((double *)t->data)[i] = urand();
        else
            ((float *)t->data)[i] = (float)urand();
    }
    return t;
}

static double at(const og_tensor *t, int64_t i)
{
    return t->dtype == OG_DOUBLE ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

/* The forward Y = X*W + B with X [r,c] and W [c] inputs, B [1] an initializer. */
static void forward(og_graph *g, og_dtype dt, int64_t r, int64_t c, double b)
{
    gt_input(g, "X", dt, 2, (int64_t[]){ r, c });
    gt_input(g, "W", dt, 1, (int64_t[]){ c });
    double bd = b;
    float bf = (float)b;
    gt_init(g, "B", dt, 1, (int64_t[]){ 1 }, dt == OG_DOUBLE ? (const void *)&bd : (const void *)&bf);
    gt_node(g, "Mul", "mul", GT_NAMES("X", "W"), GT_NAMES("H"), 0, NULL);
    gt_node(g, "Add", "add", GT_NAMES("H", "B"), GT_NAMES("Y"), 0, NULL);
}

static void run(og_graph *g, int n_in, og_tensor *const *in, og_tensor **out)
{
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_plan_run(p, n_in, (const og_tensor *const *)in, out));
    og_plan_free(p);
}

static void expect_close(const og_tensor *got, const og_tensor *want, double tol, const char *what)
{
    ck_assert_int_eq(got->numel, want->numel);
    ck_assert_int_eq(got->rank, want->rank);
    for (int64_t i = 0; i < got->numel; i++)
        ck_assert_msg(fabs(at(got, i) - at(want, i)) <= tol * (1 + fabs(at(want, i))), "%s[%lld] = %.9g, expected %.9g",
                      what, (long long)i, at(got, i), at(want, i));
}

static bool has_gradient_node(const og_graph *g)
{
    for (int k = 0; k < og_graph_num_nodes(g); k++) {
        const char *op, *name;
        OG_CHECK(og_graph_node(g, k, &op, &name));
        if (strcmp(op, "Gradient") == 0)
            return true;
    }
    return false;
}

/* Gradient(xs=[X,W], y=Y) for a non-scalar Y (seeded with ones) against
 * og_gradients of the same forward graph seeded with ones, over random
 * shapes, float and double. */
START_TEST(matches_og_gradients)
{
    for (int trial = 0; trial < 6; trial++) {
        og_dtype dt = trial % 2 ? OG_DOUBLE : OG_FLOAT;
        int64_t r = 1 + trial % 3, c = 1 + (trial * 5) % 7;
        og_graph *g = gop_graph();
        forward(g, dt, r, c, 0.25);
        add_gradient(g, "grad", 2, GT_NAMES("X", "W"), 0, NULL, "Y", 2, GT_NAMES("X", "W"), 2,
                     GT_NAMES("dX", "dW"));
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK(og_graph_add_output(g, "dX"));
        OG_CHECK(og_graph_add_output(g, "dW"));
        OG_CHECK(og_graph_finalize(g));
        ck_assert(!has_gradient_node(g));

        og_graph *ref = gt_graph();
        forward(ref, dt, r, c, 0.25);
        OG_CHECK(og_graph_add_output(ref, "Y"));
        OG_CHECK(og_graph_finalize(ref));

        og_tensor *in[2] = { rand_tensor(dt, 2, (int64_t[]){ r, c }), rand_tensor(dt, 1, (int64_t[]){ c }) };
        og_tensor *out[3];
        run(g, 2, in, out);
        og_tensor *ones;
        OG_CHECK(og_tensor_create(dt, 2, (int64_t[]){ r, c }, &ones));
        for (int64_t i = 0; i < ones->numel; i++) {
            if (dt == OG_DOUBLE)
                ((double *)ones->data)[i] = 1;
            else
                ((float *)ones->data)[i] = 1;
        }
        og_grad_options o = { .n_seeded = 1, .seeded = GT_NAMES("Y"), .n_wrt = 2, .wrt = GT_NAMES("X", "W") };
        og_tensor *want[2];
        OG_CHECK(og_gradients(ref, &o, 2, (const og_tensor *const *)in, (const og_tensor *const[]){ ones }, want));
        expect_close(out[1], want[0], 1e-6, "dX");
        expect_close(out[2], want[1], 1e-5, "dW");
        /* and by hand: dX = W broadcast, dW = column sums of X */
        for (int64_t i = 0; i < r * c; i++)
            ck_assert(fabs(at(out[1], i) - at(in[1], i % c)) < 1e-6);
        for (int64_t j = 0; j < c; j++) {
            double s = 0;
            for (int64_t i = 0; i < r; i++)
                s += at(in[0], i * c + j);
            ck_assert(fabs(at(out[2], j) - s) < 1e-5);
        }
        for (int k = 0; k < 3; k++)
            og_tensor_free(out[k]);
        for (int k = 0; k < 2; k++) {
            og_tensor_free(want[k]);
            og_tensor_free(in[k]);
        }
        og_tensor_free(ones);
        og_graph_free(g);
        og_graph_free(ref);
    }
}
END_TEST

/* A scalar y: L = ReduceSum(Y*Y); dL/dX, dL/dW against central
 * differences of L in float64. */
START_TEST(scalar_y_central_differences)
{
    const int64_t r = 3, c = 4;
    og_graph *g = gop_graph();
    forward(g, OG_DOUBLE, r, c, -0.5);
    gt_node(g, "Mul", "sq", GT_NAMES("Y", "Y"), GT_NAMES("Y2"), 0, NULL);
    og_attr kd = og_attr_int("keepdims", 0);
    gt_node(g, "ReduceSum", "sum", GT_NAMES("Y2"), GT_NAMES("L"), 1, &kd);
    add_gradient(g, "grad", 2, GT_NAMES("X", "W"), 0, NULL, "L", 2, GT_NAMES("X", "W"), 2, GT_NAMES("dX", "dW"));
    OG_CHECK(og_graph_add_output(g, "L"));
    OG_CHECK(og_graph_add_output(g, "dX"));
    OG_CHECK(og_graph_add_output(g, "dW"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    og_tensor *in[2] = { rand_tensor(OG_DOUBLE, 2, (int64_t[]){ r, c }), rand_tensor(OG_DOUBLE, 1, (int64_t[]){ c }) };
    og_tensor *out[3];
    OG_CHECK(og_plan_run(p, 2, (const og_tensor *const *)in, out));
    const double eps = 1e-6;
    for (int w = 0; w < 2; w++)
        for (int64_t i = 0; i < in[w]->numel; i++) {
            double *x = &((double *)in[w]->data)[i], x0 = *x, f[2];
            for (int s = 0; s < 2; s++) {
                *x = x0 + (s ? -eps : eps);
                og_tensor *o2[3];
                OG_CHECK(og_plan_run(p, 2, (const og_tensor *const *)in, o2));
                f[s] = at(o2[0], 0);
                for (int k = 0; k < 3; k++)
                    og_tensor_free(o2[k]);
            }
            *x = x0;
            double fd = (f[0] - f[1]) / (2 * eps);
            ck_assert_msg(fabs(at(out[1 + w], i) - fd) < 1e-6 * (1 + fabs(fd)), "d%s[%lld] = %.10g, fd %.10g",
                          w ? "W" : "X", (long long)i, at(out[1 + w], i), fd);
        }
    for (int k = 0; k < 3; k++)
        og_tensor_free(out[k]);
    og_tensor_free(in[0]);
    og_tensor_free(in[1]);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* xs may name an intermediate: dY/dH of Y = H + B is ones; and the node's
 * inputs are the point: fed X2 for X, dW is the column sums of X2, and
 * zs (W given another value W2 through it) changes dX. */
START_TEST(intermediate_point_and_zs)
{
    const int64_t r = 2, c = 3;
    og_graph *g = gop_graph();
    forward(g, OG_FLOAT, r, c, 1.0);
    gt_input(g, "X2", OG_FLOAT, 2, (int64_t[]){ r, c });
    gt_input(g, "W2", OG_FLOAT, 1, (int64_t[]){ c });
    add_gradient(g, "gh", 1, GT_NAMES("H"), 0, NULL, "Y", 1, GT_NAMES("H"), 1, GT_NAMES("dH"));
    add_gradient(g, "gp", 2, GT_NAMES("X", "W"), 0, NULL, "Y", 2, GT_NAMES("X2", "W"), 2, GT_NAMES("dX", "dW"));
    add_gradient(g, "gz", 1, GT_NAMES("X"), 1, GT_NAMES("W"), "Y", 2, GT_NAMES("X", "W2"), 1, GT_NAMES("dXz"));
    OG_CHECK(og_graph_add_output(g, "dH"));
    OG_CHECK(og_graph_add_output(g, "dX"));
    OG_CHECK(og_graph_add_output(g, "dW"));
    OG_CHECK(og_graph_add_output(g, "dXz"));
    OG_CHECK(og_graph_finalize(g));
    ck_assert(!has_gradient_node(g));
    og_tensor *in[4] = { rand_tensor(OG_FLOAT, 2, (int64_t[]){ r, c }), rand_tensor(OG_FLOAT, 1, (int64_t[]){ c }),
                         rand_tensor(OG_FLOAT, 2, (int64_t[]){ r, c }), rand_tensor(OG_FLOAT, 1, (int64_t[]){ c }) };
    og_tensor *out[4];
    run(g, 4, in, out);
    for (int64_t i = 0; i < r * c; i++) {
        ck_assert(at(out[0], i) == 1.0);
        ck_assert(fabs(at(out[1], i) - at(in[1], i % c)) < 1e-6);   /* dX = W */
        ck_assert(fabs(at(out[3], i) - at(in[3], i % c)) < 1e-6);   /* at W = W2 */
    }
    for (int64_t j = 0; j < c; j++) {
        double s = 0;
        for (int64_t i = 0; i < r; i++)
            s += at(in[2], i * c + j);                           /* X2, not X */
        ck_assert_msg(fabs(at(out[2], j) - s) < 1e-5, "dW[%lld] = %g, expected %g", (long long)j, at(out[2], j), s);
    }
    for (int k = 0; k < 4; k++) {
        og_tensor_free(out[k]);
        og_tensor_free(in[k]);
    }
    og_graph_free(g);
}
END_TEST

/* d = a*(a+b): dd/da = 2a+b, dd/db = a; a Gradient of that gradient gives
 * d2d/da2 = 2 and d2d/dadb = 1. The lowered graph saves and reloads. */
START_TEST(nested_second_order_and_save)
{
    og_graph *g = gop_graph();
    gt_input(g, "a", OG_FLOAT, 0, NULL);
    gt_input(g, "b", OG_FLOAT, 0, NULL);
    gt_node(g, "Add", "add", GT_NAMES("a", "b"), GT_NAMES("c"), 0, NULL);
    gt_node(g, "Mul", "mul", GT_NAMES("c", "a"), GT_NAMES("d"), 0, NULL);
    /* the outer one first: lowering orders them */
    add_gradient(g, "g2", 2, GT_NAMES("a", "b"), 0, NULL, "da", 2, GT_NAMES("a", "b"), 2, GT_NAMES("daa", "dab"));
    add_gradient(g, "g1", 2, GT_NAMES("a", "b"), 0, NULL, "d", 2, GT_NAMES("a", "b"), 2, GT_NAMES("da", "db"));
    OG_CHECK(og_graph_add_output(g, "da"));
    OG_CHECK(og_graph_add_output(g, "db"));
    OG_CHECK(og_graph_add_output(g, "daa"));
    OG_CHECK(og_graph_add_output(g, "dab"));
    OG_CHECK(og_graph_finalize(g));
    ck_assert(!has_gradient_node(g));
    void *buf;
    size_t size;
    OG_CHECK(og_model_save_memory(g, &buf, &size));
    og_graph *back;
    OG_CHECK(og_model_load_memory(buf, size, &back));
    og_free(buf);
    const og_graph *graphs[2] = { g, back };
    for (int w = 0; w < 2; w++) {
        og_tensor *in[2], *out[4];
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 0, NULL, (const float[]){ 1.5f }, &in[0]));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 0, NULL, (const float[]){ -4.0f }, &in[1]));
        run((og_graph *)graphs[w], 2, in, out);
        ck_assert(fabs(at(out[0], 0) - (2 * 1.5 - 4.0)) < 1e-6);
        ck_assert(fabs(at(out[1], 0) - 1.5) < 1e-6);
        ck_assert(fabs(at(out[2], 0) - 2.0) < 1e-6);
        ck_assert(fabs(at(out[3], 0) - 1.0) < 1e-6);
        for (int k = 0; k < 4; k++)
            og_tensor_free(out[k]);
        og_tensor_free(in[0]);
        og_tensor_free(in[1]);
    }
    og_graph_free(back);
    og_graph_free(g);
}
END_TEST

/* Unwanted outputs (empty names) are skipped. */
START_TEST(omitted_output)
{
    og_graph *g = gop_graph();
    forward(g, OG_FLOAT, 2, 2, 0);
    add_gradient(g, "grad", 2, GT_NAMES("X", "W"), 0, NULL, "Y", 2, GT_NAMES("X", "W"), 2, GT_NAMES("", "dW"));
    OG_CHECK(og_graph_add_output(g, "dW"));
    OG_CHECK(og_graph_finalize(g));
    og_tensor *in[2] = { rand_tensor(OG_FLOAT, 2, (int64_t[]){ 2, 2 }), rand_tensor(OG_FLOAT, 1, (int64_t[]){ 2 }) };
    og_tensor *out[1];
    run(g, 2, in, out);
    for (int j = 0; j < 2; j++)
        ck_assert(fabs(at(out[0], j) - (at(in[0], j) + at(in[0], 2 + j))) < 1e-6);
    og_tensor_free(out[0]);
    og_tensor_free(in[0]);
    og_tensor_free(in[1]);
    og_graph_free(g);
}
END_TEST

/* A graph with a Gradient node that must fail to finalize with `code`
 * and a message naming the node and containing `needle`. */
static void expect_error(int nx, const char *const *xs, const char *y, int n_in, const char *const *ins, int n_out,
                         og_status code, const char *needle)
{
    og_graph *g = gop_graph();
    forward(g, OG_FLOAT, 2, 3, 0);
    gt_input(g, "I", OG_INT64, 1, (int64_t[]){ 3 });
    gt_input(g, "U", OG_FLOAT, 1, (int64_t[]){ 3 });
    const char *outs[4] = { "o0", "o1", "o2", "o3" };
    OG_CHECK(try_gradient(g, nx, xs, y, n_in, ins, n_out, outs));
    OG_CHECK(og_graph_add_output(g, "Y"));
    og_status st = og_graph_finalize(g);
    ck_assert_msg(st == code, "%s (expected %s): %s", og_status_name(st), og_status_name(code), og_errmsg());
    ck_assert_msg(strstr(og_errmsg(), "'grad'"), "message '%s' does not name the node", og_errmsg());
    ck_assert_msg(strstr(og_errmsg(), needle), "message '%s' lacks '%s'", og_errmsg(), needle);
    og_graph_free(g);
}

START_TEST(errors)
{
    expect_error(1, GT_NAMES("Q"), "Y", 1, GT_NAMES("X"), 1, OG_ERR_INVALID_GRAPH, "xs[0] 'Q' names no tensor");
    expect_error(1, GT_NAMES("X"), "Nope", 1, GT_NAMES("X"), 1, OG_ERR_INVALID_GRAPH, "y 'Nope' names no tensor");
    expect_error(2, GT_NAMES("X", "W"), "Y", 1, GT_NAMES("X"), 2, OG_ERR_INVALID_GRAPH, "has 1 inputs, expected 2");
    expect_error(1, GT_NAMES("X"), "Y", 1, GT_NAMES("X"), 2, OG_ERR_INVALID_GRAPH, "has 2 outputs, expected at most 1");
    expect_error(1, GT_NAMES("I"), "Y", 1, GT_NAMES("I"), 1, OG_ERR_UNSUPPORTED, "only float and double");
    expect_error(1, GT_NAMES("U"), "Y", 1, GT_NAMES("U"), 1, OG_ERR_INVALID_ARG, "depends on it");
    expect_error(1, GT_NAMES("X"), "X", 1, GT_NAMES("X"), 1, OG_ERR_INVALID_GRAPH, "is itself in xs/zs");
    expect_error(2, GT_NAMES("X", "X"), "Y", 2, GT_NAMES("X", "X"), 2, OG_ERR_INVALID_GRAPH, "named twice");
    /* no xs / no y attribute */
    og_graph *g = gop_graph();
    forward(g, OG_FLOAT, 2, 3, 0);
    og_attr a = og_attr_string("y", "Y");
    OG_CHECK(og_graph_add_node(g, "Gradient", TD, "grad", 1, GT_NAMES("X"), 1, GT_NAMES("dX"), 1, &a));
    OG_CHECK(og_graph_add_output(g, "dX"));
    OG_CHECK_FAILS(og_graph_finalize(g), OG_ERR_ATTR, "attribute 'xs'");
    og_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradient_op");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, matches_og_gradients);
    tcase_add_test(t, scalar_y_central_differences);
    tcase_add_test(t, intermediate_point_and_zs);
    tcase_add_test(t, nested_second_order_and_save);
    tcase_add_test(t, omitted_output);
    tcase_add_test(t, errors);
    suite_add_tcase(s, t);
    return og_run_suite(s);
}
