/* SPDX-License-Identifier: MIT */
/* test_autodiff.c — the gradient graph builder: the worked Conv examples
 * (numbers checked by hand), randomised gradchecks over the attributes of
 * Conv, MaxPool, Gemm and Relu, fan-in, a whole CNN chain, saving and
 * reloading a gradient graph, second order, and bad requests. */
#include <sys/wait.h>
#include <unistd.h>
#include "gradtest.h"

/* ---- worked examples ---------------------------------------------------- */

/* Conv of X [1,1,h,h] with K [1,1,k,k] (and bias B when given), stride s;
 * seeded with dZ; returns dX, dK (and dB). */
static void conv_grads(int h, int k, int s, const float *x, const float *kern, bool bias, const float *dz, int o,
                       og_tensor **grads)
{
    og_graph *g = gt_graph();
    int64_t xd[4] = { 1, 1, h, h }, kd[4] = { 1, 1, k, k }, bd[1] = { 1 }, zd[4] = { 1, 1, o, o };
    gt_input(g, "X", OG_FLOAT, 4, xd);
    gt_init(g, "K", OG_FLOAT, 4, kd, kern);
    if (bias)
        gt_init(g, "B", OG_FLOAT, 1, bd, (const float[]){ 0.5f });
    og_attr st = og_attr_ints("strides", 2, (const int64_t[]){ s, s });
    gt_node(g, "Conv", "conv", bias ? GT_NAMES("X", "K", "B") : GT_NAMES("X", "K"), GT_NAMES("Z"), 1, &st);
    OG_CHECK(og_graph_add_output(g, "Z"));
    OG_CHECK(og_graph_finalize(g));
    og_tensor *xt, *seed;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 4, xd, x, &xt));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 4, zd, dz, &seed));
    og_grad_options opt = { .n_seeded = 1, .seeded = GT_NAMES("Z") };
    OG_CHECK(og_gradients(g, &opt, 1, (const og_tensor *const[]){ xt }, (const og_tensor *const[]){ seed }, grads));
    ck_assert_str_eq(grads[0]->name, "X");
    ck_assert_str_eq(grads[1]->name, "K");
    og_tensor_free(xt);
    og_tensor_free(seed);
    og_graph_free(g);
}

static void expect_values(const og_tensor *t, const float *want, int64_t n, const char *what)
{
    ck_assert_int_eq(t->numel, n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(((const float *)t->data)[i] - want[i]) < 1e-4f, "%s[%lld] = %g, expected %g", what,
                      (long long)i, ((const float *)t->data)[i], want[i]);
}

/* 3x3 input, 2x2 kernel, stride 1, upstream gradient dZ = [[1,2],[3,4]].
 * dK = X correlated with dZ: dK[i,j] = sum_ab X[a+i, b+j] dZ[a,b], e.g.
 *   dK[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37.
 * dX = full convolution of rot180(K) with dZ: dX[p,q] = sum_ab dZ[a,b] K[p-a, q-b], e.g.
 *   dX[1,1] = 1*4 + 2*3 + 3*2 + 4*1 = 20, dX[0,0] = 1*1 = 1.
 * dB = sum dZ = 10. */
START_TEST(worked_3x3_kernel_2x2_stride_1)
{
    const float x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, k[4] = { 1, 2, 3, 4 }, dz[4] = { 1, 2, 3, 4 };
    og_tensor *gr[3];
    conv_grads(3, 2, 1, x, k, true, dz, 2, gr);
    expect_values(gr[1], (const float[]){ 37, 47, 67, 77 }, 4, "dK");
    expect_values(gr[0], (const float[]){ 1, 4, 4, 6, 20, 16, 9, 24, 16 }, 9, "dX");
    expect_values(gr[2], (const float[]){ 10 }, 1, "dB");
    for (int i = 0; i < 3; i++)
        og_tensor_free(gr[i]);
}
END_TEST

/* 5x5 input X[i,j] = 5i + j + 1, 3x3 kernel K[i,j] = 3i + j + 1, stride 2,
 * dZ = [[1,2],[3,4]]. The stride dilates the upstream gradient: output
 * (a,b) saw the window at (2a, 2b), so
 *   dK[i,j] = 1*X[i,j] + 2*X[i,j+2] + 3*X[i+2,j] + 4*X[i+2,j+2] = 50i + 10j + 92,
 *   dX = sum_ab dZ[a,b] * K placed at (2a, 2b), overlapping windows adding up:
 *   dX[0,2] = 1*K[0,2] + 2*K[0,0] = 3 + 2 = 5,
 *   dX[2,2] = 1*K[2,2] + 2*K[2,0] + 3*K[0,2] + 4*K[0,0] = 9 + 14 + 9 + 4 = 36. */
START_TEST(worked_5x5_kernel_3x3_stride_2)
{
    float x[25], k[9];
    for (int i = 0; i < 25; i++)
        x[i] = (float)i + 1;
    for (int i = 0; i < 9; i++)
        k[i] = (float)i + 1;
    og_tensor *gr[2];
    conv_grads(5, 3, 2, x, k, false, (const float[]){ 1, 2, 3, 4 }, 2, gr);
    expect_values(gr[1], (const float[]){ 92, 102, 112, 142, 152, 162, 192, 202, 212 }, 9, "dK");
    expect_values(gr[0], (const float[]){ 1, 2, 5, 4, 6, 4, 5, 14, 10, 12, 10, 14, 36, 24, 30,
                                          12, 15, 34, 20, 24, 21, 24, 55, 32, 36 }, 25, "dX");
    og_tensor_free(gr[0]);
    og_tensor_free(gr[1]);
}
END_TEST

/* ---- randomised attribute sweeps ------------------------------------------ */

static uint64_t rng_state = 12345;
static int rnd(int lo, int hi)   /* uniform in [lo, hi] */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

/* Conv in 1-D/2-D/3-D with random strides, dilations, pads or auto_pad,
 * group 1 / 2 / channels, with and without bias. */
START_TEST(conv_attribute_sweep)
{
    static const char *const modes[] = { "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID" };
    for (int iter = 0; iter < 36; iter++) {
        int n = 1 + iter % 3, grp_kind = iter / 3 % 3, mode = iter / 9 % 4;
        bool bias = iter % 2;
        int C = grp_kind == 0 ? 2 : 4, M = grp_kind == 2 ? 4 : 2 * rnd(1, 2);
        int group = grp_kind == 0 ? 1 : grp_kind == 1 ? 2 : 4;
        if (group == 4)
            M = 4;
        int64_t xd[5] = { rnd(1, 2), C }, wd[5] = { M, C / group }, strides[3], dil[3], pads[6];
        for (int i = 0; i < n; i++) {
            int64_t kk = rnd(1, n == 3 ? 2 : 3);
            strides[i] = rnd(1, 3);
            dil[i] = rnd(1, n == 3 ? 2 : 3);
            pads[i] = rnd(0, 2);
            pads[n + i] = rnd(0, 2);
            wd[2 + i] = kk;
            xd[2 + i] = (kk - 1) * dil[i] + 1 + rnd(0, n == 3 ? 2 : 4);
        }
        og_graph *g = gt_graph();
        gt_input(g, "X", OG_FLOAT, n + 2, xd);
        gt_input(g, "W", OG_FLOAT, n + 2, wd);
        if (bias)
            gt_input(g, "B", OG_FLOAT, 1, (const int64_t[]){ M });
        og_attr at[5] = { og_attr_ints("strides", n, strides), og_attr_ints("dilations", n, dil),
                          og_attr_int("group", group), og_attr_string("auto_pad", modes[mode]),
                          og_attr_ints("pads", 2 * n, pads) };
        gt_node(g, "Conv", "conv", bias ? GT_NAMES("X", "W", "B") : GT_NAMES("X", "W"), GT_NAMES("Y"),
                mode == 0 ? 5 : 4, at);
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK(og_graph_finalize(g));
        char what[128];
        snprintf(what, sizeof what, "Conv %dD group %d stride %lld dil %lld %s%s", n, group, (long long)strides[0],
                 (long long)dil[0], modes[mode], bias ? " bias" : "");
        gt_gradcheck(g, 1, 24, (uint64_t)iter + 1, what);
        og_graph_free(g);
    }
}
END_TEST

START_TEST(maxpool_attribute_sweep)
{
    static const char *const modes[] = { "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID" };
    for (int iter = 0; iter < 24; iter++) {
        int n = 1 + iter % 3, mode = iter / 3 % 4;
        int64_t xd[5] = { 1, 2 }, ks[3], strides[3], dil[3], pads[6];
        for (int i = 0; i < n; i++) {
            ks[i] = rnd(2, 3);
            strides[i] = rnd(1, 3);          /* stride < kernel: overlapping windows */
            dil[i] = rnd(1, 2);
            pads[i] = rnd(0, ks[i] / 2);     /* a window always keeps a real cell */
            pads[n + i] = rnd(0, ks[i] / 2);
            xd[2 + i] = (ks[i] - 1) * dil[i] + 1 + rnd(0, 3);
        }
        og_graph *g = gt_graph();
        gt_input(g, "X", OG_FLOAT, n + 2, xd);
        og_attr at[7] = { og_attr_ints("kernel_shape", n, ks), og_attr_ints("strides", n, strides),
                          og_attr_ints("dilations", n, dil), og_attr_int("ceil_mode", iter % 2),
                          og_attr_int("storage_order", iter / 12 % 2), og_attr_string("auto_pad", modes[mode]),
                          og_attr_ints("pads", 2 * n, pads) };
        gt_node(g, "MaxPool", "pool", GT_NAMES("X"), GT_NAMES("Y"), mode == 0 ? 7 : 6, at);
        OG_CHECK(og_graph_add_output(g, "Y"));
        OG_CHECK(og_graph_finalize(g));
        char what[96];
        snprintf(what, sizeof what, "MaxPool %dD %s ceil %d", n, modes[mode], iter % 2);
        gt_gradcheck(g, 1, 40, (uint64_t)iter + 100, what);
        og_graph_free(g);
    }
}
END_TEST

/* Every trans flag, alpha/beta (including beta 0) and shape of C. */
START_TEST(gemm_attribute_sweep)
{
    const int64_t M = 3, K = 4, N = 2;
    const int64_t cshapes[5][2] = { { M, N }, { 1, N }, { M, 1 }, { N, 0 }, { 1, 1 } };
    const int crank[5] = { 2, 2, 2, 1, 2 };
    const float betas[3] = { 1.0f, 0.5f, 0.0f };
    int iter = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int c = 0; c <= 5; c++) {
                og_graph *g = gt_graph();
                gt_input(g, "A", OG_FLOAT, 2, ta ? (const int64_t[]){ K, M } : (const int64_t[]){ M, K });
                gt_input(g, "B", OG_FLOAT, 2, tb ? (const int64_t[]){ N, K } : (const int64_t[]){ K, N });
                if (c < 5)
                    gt_input(g, "C", OG_FLOAT, crank[c], cshapes[c]);
                float beta = betas[iter % 3];
                og_attr at[4] = { og_attr_int("transA", ta), og_attr_int("transB", tb),
                                  og_attr_float("alpha", iter % 2 ? 1.0f : -0.75f), og_attr_float("beta", beta) };
                gt_node(g, "Gemm", "gemm", c < 5 ? GT_NAMES("A", "B", "C") : GT_NAMES("A", "B"), GT_NAMES("Y"), 4,
                        at);
                OG_CHECK(og_graph_add_output(g, "Y"));
                OG_CHECK(og_graph_finalize(g));
                char what[96];
                snprintf(what, sizeof what, "Gemm transA %d transB %d C %d beta %g", ta, tb, c, beta);
                gt_gradcheck(g, 1, 0, (uint64_t)iter++, what);
                og_graph_free(g);
            }
}
END_TEST

/* Relu's gradient is dY where X > 0, else 0 — at exactly 0 too, as in
 * PyTorch; checked by value, since finite differences straddle the kink. */
START_TEST(relu_gradient_at_zero)
{
    og_graph *g = gt_graph();
    int64_t d[1] = { 5 };
    gt_input(g, "X", OG_FLOAT, 1, d);
    gt_node(g, "Relu", "relu", GT_NAMES("X"), GT_NAMES("Y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    og_tensor *x, *u, *gx;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d, (const float[]){ -2, -0.0f, 0, 1e-30f, 3 }, &x));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d, (const float[]){ 10, 20, 30, 40, 50 }, &u));
    og_grad_options o = { .n_seeded = 1, .seeded = GT_NAMES("Y") };
    OG_CHECK(og_gradients(g, &o, 1, (const og_tensor *const[]){ x }, (const og_tensor *const[]){ u }, &gx));
    expect_values(gx, (const float[]){ 0, 0, 0, 40, 50 }, 5, "dX");
    og_tensor_free(x);
    og_tensor_free(u);
    og_tensor_free(gx);
    og_graph_free(g);
    /* away from the kink, the numbers agree with finite differences */
    g = gt_graph();
    gt_input(g, "X", OG_FLOAT, 2, (const int64_t[]){ 3, 4 });
    gt_node(g, "Relu", "relu", GT_NAMES("X"), GT_NAMES("Y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    gt_gradcheck(g, 1, 0, 7, "Relu");
    og_graph_free(g);
}
END_TEST

/* ---- fan-in --------------------------------------------------------------- */

/* One tensor feeding two nodes, one weight shared by two Convs, one input
 * used twice by one node: each gradient is the sum of its paths. */
START_TEST(fan_in_is_summed)
{
    /* x -> Relu -> a; a -> Gemm(W1) and a -> Gemm(W2); loss = Gemm(y1 + y2 ...) */
    og_graph *g = gt_graph();
    gt_input(g, "x", OG_FLOAT, 2, (const int64_t[]){ 2, 3 });
    gt_input(g, "W1", OG_FLOAT, 2, (const int64_t[]){ 3, 4 });
    gt_input(g, "W2", OG_FLOAT, 2, (const int64_t[]){ 3, 4 });
    gt_node(g, "Relu", "r", GT_NAMES("x"), GT_NAMES("a"), 0, NULL);
    gt_node(g, "Gemm", "g1", GT_NAMES("a", "W1"), GT_NAMES("y1"), 0, NULL);
    gt_node(g, "Gemm", "g2", GT_NAMES("a", "W2", "y1"), GT_NAMES("y2"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y2"));
    OG_CHECK(og_graph_finalize(g));
    gt_gradcheck(g, 1, 0, 1, "tensor used by two nodes");
    og_graph_free(g);

    /* the same weight in two Convs */
    g = gt_graph();
    gt_input(g, "x", OG_FLOAT, 4, (const int64_t[]){ 1, 2, 6, 6 });
    gt_input(g, "W", OG_FLOAT, 4, (const int64_t[]){ 2, 2, 3, 3 });
    og_attr pads = og_attr_ints("pads", 4, (const int64_t[]){ 1, 1, 1, 1 });
    gt_node(g, "Conv", "c1", GT_NAMES("x", "W"), GT_NAMES("h"), 1, &pads);
    gt_node(g, "Conv", "c2", GT_NAMES("h", "W"), GT_NAMES("y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    gt_gradcheck(g, 1, 0, 2, "weight shared by two Convs");
    og_graph_free(g);

    /* Y = X X: dX = U X^T + X^T U */
    g = gt_graph();
    gt_input(g, "X", OG_FLOAT, 2, (const int64_t[]){ 3, 3 });
    gt_node(g, "Gemm", "sq", GT_NAMES("X", "X"), GT_NAMES("Y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    gt_gradcheck(g, 1, 0, 3, "input used twice by one node");
    const float xv[9] = { 1, 2, 0, -1, 3, 1, 2, 0, 1 }, uv[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    og_tensor *x, *u, *gx;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, (const int64_t[]){ 3, 3 }, xv, &x));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, (const int64_t[]){ 3, 3 }, uv, &u));
    og_grad_options o = { .n_seeded = 1, .seeded = GT_NAMES("Y") };
    OG_CHECK(og_gradients(g, &o, 1, (const og_tensor *const[]){ x }, (const og_tensor *const[]){ u }, &gx));
    /* U = I: dX = X^T + X^T = 2 X^T */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            ck_assert_float_eq(((float *)gx->data)[i * 3 + j], 2 * xv[j * 3 + i]);
    og_tensor_free(x);
    og_tensor_free(u);
    og_tensor_free(gx);
    og_graph_free(g);
}
END_TEST

/* ---- a whole network -------------------------------------------------------- */

/* Conv -> Relu -> MaxPool -> Conv -> Relu -> Flatten -> Gemm, weights as
 * initializers, input as a graph input. */
static og_graph *cnn(void)
{
    og_graph *g = gt_graph();
    static float w1[3 * 1 * 3 * 3], b1[3], w2[4 * 3 * 2 * 2], fc[5 * 36], fcb[5];
    uint64_t s = 99;
    float *all[5] = { w1, b1, w2, fc, fcb };
    size_t n[5] = { 27, 3, 48, 180, 5 };
    for (int t = 0; t < 5; t++)
        for (size_t i = 0; i < n[t]; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            all[t][i] = (float)((double)(s >> 40) / (double)(1 << 24) - 0.5);
        }
    gt_input(g, "image", OG_FLOAT, 4, (const int64_t[]){ 2, 1, 8, 8 });
    gt_init(g, "w1", OG_FLOAT, 4, (const int64_t[]){ 3, 1, 3, 3 }, w1);
    gt_init(g, "b1", OG_FLOAT, 1, (const int64_t[]){ 3 }, b1);
    gt_init(g, "w2", OG_FLOAT, 4, (const int64_t[]){ 4, 3, 2, 2 }, w2);
    gt_init(g, "fc", OG_FLOAT, 2, (const int64_t[]){ 5, 36 }, fc);
    gt_init(g, "fcb", OG_FLOAT, 1, (const int64_t[]){ 5 }, fcb);
    og_attr pads = og_attr_ints("pads", 4, (const int64_t[]){ 1, 1, 1, 1 });
    og_attr ks = og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 2 });
    og_attr st2 = og_attr_ints("strides", 2, (const int64_t[]){ 2, 2 });
    og_attr tb = og_attr_int("transB", 1);
    gt_node(g, "Conv", "conv1", GT_NAMES("image", "w1", "b1"), GT_NAMES("c1"), 1, &pads);
    gt_node(g, "Relu", "relu1", GT_NAMES("c1"), GT_NAMES("r1"), 0, NULL);
    gt_node(g, "MaxPool", "pool", GT_NAMES("r1"), GT_NAMES("p1"), 2, (const og_attr[]){ ks, st2 });
    gt_node(g, "Conv", "conv2", GT_NAMES("p1", "w2"), GT_NAMES("c2"), 0, NULL);
    gt_node(g, "Relu", "relu2", GT_NAMES("c2"), GT_NAMES("r2"), 0, NULL);
    gt_node(g, "Flatten", "flat", GT_NAMES("r2"), GT_NAMES("f"), 0, NULL);
    gt_node(g, "Gemm", "fc", GT_NAMES("f", "fc", "fcb"), GT_NAMES("logits"), 1, &tb);
    OG_CHECK(og_graph_add_output(g, "logits"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

START_TEST(cnn_chain_gradcheck_and_reload)
{
    og_graph *g = cnn();
    gt_gradcheck(g, 1, 30, 5, "CNN chain");

    /* The saved gradient graph reloads and gives bit-identical gradients. */
    og_grad_options o = { .n_seeded = 1, .seeded = GT_NAMES("logits") };
    og_graph *gg, *back;
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    ck_assert_int_eq(og_graph_num_outputs(gg), 1 + 6);
    /* ONNX's own checker accepts it: standard ops only, opset 17 */
    const char *path = OG_TEST_TMP_DIR "/cnn.grad.onnx";
    OG_CHECK(og_model_save_file(gg, path));
    ck_assert_msg(access("/usr/bin/python3", X_OK) == 0, "/usr/bin/python3 is required");
    int rc = system("/usr/bin/python3 " OG_TEST_SRC_DIR "/tools/check_model.py check '" OG_TEST_TMP_DIR
                    "/cnn.grad.onnx' >/dev/null");
    ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
                  "onnx.checker.check_model(full_check=True) refused the gradient graph (exit %d; 2: no python3-onnx)",
                  WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    void *bytes;
    size_t size;
    OG_CHECK(og_model_save_memory(gg, &bytes, &size));
    OG_CHECK(og_model_load_memory(bytes, size, &back));
    og_free(bytes);
    og_tensor *x, *u;
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, (const int64_t[]){ 2, 1, 8, 8 }, &x));
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, (const int64_t[]){ 2, 5 }, &u));
    for (int i = 0; i < 128; i++)
        ((float *)x->data)[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    for (int i = 0; i < 10; i++)
        ((float *)u->data)[i] = (float)i / 5.0f - 1.0f;
    og_tensor *o1[7], *o2[7];
    og_plan *p1, *p2;
    OG_CHECK(og_plan_create(gg, &p1));
    OG_CHECK(og_plan_create(back, &p2));
    OG_CHECK(og_plan_run(p1, 2, (const og_tensor *const[]){ x, u }, o1));
    OG_CHECK(og_plan_run(p2, 2, (const og_tensor *const[]){ x, u }, o2));
    for (int k = 0; k < 7; k++) {
        ck_assert_int_eq(o1[k]->numel, o2[k]->numel);
        ck_assert_msg(memcmp(o1[k]->data, o2[k]->data, (size_t)o1[k]->numel * sizeof(float)) == 0,
                      "output %d differs after reload", k);
        og_tensor_free(o1[k]);
        og_tensor_free(o2[k]);
    }
    og_tensor_free(x);
    og_tensor_free(u);
    og_plan_free(p1);
    og_plan_free(p2);
    og_graph_free(back);
    og_graph_free(gg);
    og_graph_free(g);
}
END_TEST

/* Second order: the gradient graph of Conv -> Relu -> Gemm is itself
 * differentiated and checked against finite differences of the first-order
 * gradients (gradgradcheck). */
START_TEST(second_order_conv_relu_gemm)
{
    og_graph *g = gt_graph();
    gt_input(g, "x", OG_FLOAT, 4, (const int64_t[]){ 1, 2, 4, 4 });
    gt_input(g, "w", OG_FLOAT, 4, (const int64_t[]){ 2, 2, 2, 2 });
    gt_input(g, "fc", OG_FLOAT, 2, (const int64_t[]){ 18, 3 });
    og_attr st = og_attr_ints("strides", 2, (const int64_t[]){ 1, 1 });
    gt_node(g, "Conv", "conv", GT_NAMES("x", "w"), GT_NAMES("c"), 1, &st);
    gt_node(g, "Relu", "relu", GT_NAMES("c"), GT_NAMES("r"), 0, NULL);
    gt_node(g, "Flatten", "flat", GT_NAMES("r"), GT_NAMES("f"), 0, NULL);
    gt_node(g, "Gemm", "fc", GT_NAMES("f", "fc"), GT_NAMES("y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    gt_gradcheck(g, 2, 20, 11, "second order Conv-Relu-Gemm");
    og_graph_free(g);
}
END_TEST

/* A symbolic batch dim: biases broadcast over it are summed back, and the
 * checks (both orders) take the batch from the given input. */
START_TEST(symbolic_batch)
{
    og_graph *g = gt_graph();
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, (const int64_t[]){ -1, 3 }, (const char *const[]){ "N", NULL }));
    gt_input(g, "w1", OG_FLOAT, 2, (const int64_t[]){ 3, 4 });
    gt_input(g, "b1", OG_FLOAT, 1, (const int64_t[]){ 4 });
    gt_input(g, "w2", OG_FLOAT, 2, (const int64_t[]){ 4, 2 });
    gt_node(g, "Gemm", "fc1", GT_NAMES("x", "w1", "b1"), GT_NAMES("h"), 0, NULL);
    gt_node(g, "Relu", "relu", GT_NAMES("h"), GT_NAMES("r"), 0, NULL);
    gt_node(g, "Gemm", "fc2", GT_NAMES("r", "w2"), GT_NAMES("y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, (const int64_t[]){ 5, 3 }, &x));
    OG_CHECK(og_tensor_set_name(x, "x"));
    for (int i = 0; i < 15; i++)
        ((float *)x->data)[i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
    for (int order = 1; order <= 2; order++) {
        og_gradcheck_options o = { .order = order, .seed = 3, .n_inputs = 1, .inputs = (const og_tensor *const[]){ x } };
        og_gradcheck_report *r;
        OG_CHECK(og_gradcheck(g, &o, &r));
        ck_assert_msg(r->pass, "order %d failed", order);
        ck_assert_int_eq(r->entries[0].numel, 15);   /* x, with N = 5 */
        og_gradcheck_report_free(r);
    }
    /* a Conv with a symbolic batch, differentiated twice: the dW Conv of
     * the gradient graph has dY (batch unknown) as its kernel */
    og_graph *gc = gt_graph();
    OG_CHECK(og_graph_add_input(gc, "img", OG_FLOAT, 4, (const int64_t[]){ -1, 1, 4, 4 },
                                (const char *const[]){ "N", NULL, NULL, NULL }));
    gt_input(gc, "k", OG_FLOAT, 4, (const int64_t[]){ 2, 1, 2, 2 });
    gt_input(gc, "kb", OG_FLOAT, 1, (const int64_t[]){ 2 });
    gt_node(gc, "Conv", "conv", GT_NAMES("img", "k", "kb"), GT_NAMES("c"), 0, NULL);
    gt_node(gc, "Relu", "relu", GT_NAMES("c"), GT_NAMES("y"), 0, NULL);
    OG_CHECK(og_graph_add_output(gc, "y"));
    OG_CHECK(og_graph_finalize(gc));
    og_tensor *img;
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, (const int64_t[]){ 3, 1, 4, 4 }, &img));
    OG_CHECK(og_tensor_set_name(img, "img"));
    for (int i = 0; i < 48; i++)
        ((float *)img->data)[i] = (float)((i * 5) % 13) / 6.0f - 1.0f;
    og_gradcheck_options oc = { .order = 2, .seed = 4, .max_elements = 12, .n_inputs = 1,
                                .inputs = (const og_tensor *const[]){ img } };
    og_gradcheck_report *rc;
    OG_CHECK(og_gradcheck(gc, &oc, &rc));
    ck_assert(rc->pass);
    og_gradcheck_report_free(rc);
    og_tensor_free(img);
    og_graph_free(gc);

    /* without a value for x, the check names the symbolic dim */
    og_gradcheck_options o = { .seed = 3 };
    og_gradcheck_report *r;
    OG_CHECK_FAILS(og_gradcheck(g, &o, &r), OG_ERR_INVALID_ARG, "input 'x': dim 0 ('N') is symbolic or unknown");
    og_tensor_free(x);
    og_graph_free(g);
}
END_TEST

/* ---- NaN and Inf in the backward pass ------------------------------------------ */

/* Gradients of a one-node graph (inputs "a", "b", "c" as given) for seed u. */
static void one_node_grads(const char *op, int n_in, const og_tensor *const *ins, const og_tensor *u, int n_attrs,
                           const og_attr *attrs, og_tensor **grads)
{
    static const char *const names[3] = { "a", "b", "c" };
    og_graph *g = gt_graph();
    for (int k = 0; k < n_in; k++)
        gt_input(g, names[k], ins[k]->dtype, ins[k]->rank, ins[k]->dims);
    OG_CHECK(og_graph_add_node(g, op, NULL, "n", n_in, names, 1, (const char *const[]){ "y" }, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_grad_options o = { .n_seeded = 1, .seeded = GT_NAMES("y") };
    OG_CHECK(og_gradients(g, &o, n_in, ins, &u, grads));
    og_graph_free(g);
}

static og_tensor *vec(int rank, const int64_t *dims, const float *v)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, rank, dims, v, &t));
    return t;
}

/* Bitwise-style comparison that treats NaN as equal to NaN. */
static void expect_nan_aware(const og_tensor *t, const float *want, int n, const char *what)
{
    ck_assert_int_eq(t->numel, n);
    for (int i = 0; i < n; i++) {
        float got = ((const float *)t->data)[i];
        ck_assert_msg((isnan(got) && isnan(want[i])) || got == want[i], "%s[%d] = %g, expected %g", what, i, got,
                      want[i]);
    }
}

/* NaN and Inf are values: they flow through the gradients as in PyTorch. */
START_TEST(nan_and_inf_in_backward)
{
    const float inf = INFINITY, nan = NAN;
    og_tensor *gr[3];

    /* Relu (threshold_backward): the gradient passes where the output is
     * NaN or +inf, stops where it is 0 (x <= 0, -inf), and a NaN upstream
     * gradient is stopped there too */
    const int64_t d5[1] = { 5 };
    og_tensor *x = vec(1, d5, (const float[]){ nan, -inf, inf, 0, 2 });
    og_tensor *u = vec(1, d5, (const float[]){ 1, 1, 1, nan, nan });
    one_node_grads("Relu", 1, (const og_tensor *const[]){ x }, u, 0, NULL, gr);
    expect_nan_aware(gr[0], (const float[]){ 1, 0, 1, 0, nan }, 5, "Relu dX");
    og_tensor_free(gr[0]);
    og_tensor_free(x);
    og_tensor_free(u);

    /* MaxPool: a NaN wins its window, so it takes the window's gradient */
    const int64_t d4[3] = { 1, 1, 4 }, d2[3] = { 1, 1, 2 };
    x = vec(3, d4, (const float[]){ 1, nan, 3, inf });
    u = vec(3, d2, (const float[]){ 5, 7 });
    og_attr pool[2] = { og_attr_ints("kernel_shape", 1, (const int64_t[]){ 2 }),
                        og_attr_ints("strides", 1, (const int64_t[]){ 2 }) };
    one_node_grads("MaxPool", 1, (const og_tensor *const[]){ x }, u, 2, pool, gr);
    expect_nan_aware(gr[0], (const float[]){ 0, 5, 0, 7 }, 4, "MaxPool dX");
    og_tensor_free(gr[0]);
    og_tensor_free(x);
    og_tensor_free(u);

    /* Gemm: dA = dY B^T, dB = A^T dY; 0 * NaN is NaN (no BLAS shortcut) */
    const int64_t d12[2] = { 1, 2 }, d21[2] = { 2, 1 }, d11[2] = { 1, 1 };
    og_tensor *a = vec(2, d12, (const float[]){ nan, 1 }), *b = vec(2, d21, (const float[]){ 0, inf });
    u = vec(2, d11, (const float[]){ 0 });
    one_node_grads("Gemm", 2, (const og_tensor *const[]){ a, b }, u, 0, NULL, gr);
    expect_nan_aware(gr[0], (const float[]){ 0, nan }, 2, "Gemm dA");   /* 0*0, 0*inf */
    expect_nan_aware(gr[1], (const float[]){ nan, 0 }, 2, "Gemm dB");   /* nan*0, 1*0 */
    og_tensor_free(gr[0]);
    og_tensor_free(gr[1]);
    og_tensor_free(a);
    og_tensor_free(b);
    og_tensor_free(u);

    /* Conv 1-D: X = [inf, 1, 1], W = [1, 1], dY = [1, 1]:
     * dW[j] = sum_o dY[o] X[o + j] = [inf, 2]; dX = [1, 2, 1]; dB = 2 */
    const int64_t dx[3] = { 1, 1, 3 }, dw[3] = { 1, 1, 2 }, db[1] = { 1 };
    x = vec(3, dx, (const float[]){ inf, 1, 1 });
    og_tensor *w = vec(3, dw, (const float[]){ 1, 1 }), *bias = vec(1, db, (const float[]){ 0 });
    u = vec(3, (const int64_t[]){ 1, 1, 2 }, (const float[]){ 1, 1 });
    one_node_grads("Conv", 3, (const og_tensor *const[]){ x, w, bias }, u, 0, NULL, gr);
    expect_nan_aware(gr[0], (const float[]){ 1, 2, 1 }, 3, "Conv dX");
    expect_nan_aware(gr[1], (const float[]){ inf, 2 }, 2, "Conv dW");
    expect_nan_aware(gr[2], (const float[]){ 2 }, 1, "Conv dB");
    for (int k = 0; k < 3; k++)
        og_tensor_free(gr[k]);
    og_tensor_free(x);
    og_tensor_free(w);
    og_tensor_free(bias);
    og_tensor_free(u);
}
END_TEST

/* ---- og_gradcheck and og_gradients at their edges -------------------------------- */

/* A value given for an input that also has an initializer is the one
 * checked (its NaN makes the check fail; a wrong shape is an error). */
START_TEST(gradcheck_uses_given_values)
{
    og_graph *g = gt_graph();
    const int64_t d2[1] = { 2 };
    gt_input(g, "x", OG_FLOAT, 1, d2);
    gt_input(g, "s", OG_FLOAT, 1, d2);
    gt_init(g, "s", OG_FLOAT, 1, d2, (const float[]){ 1, 1 });
    gt_node(g, "Mul", "mul", GT_NAMES("x", "s"), GT_NAMES("y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_tensor *s_nan, *s_bad;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, d2, (const float[]){ NAN, NAN }, &s_nan));
    OG_CHECK(og_tensor_set_name(s_nan, "s"));
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, (const int64_t[]){ 5 }, &s_bad));
    OG_CHECK(og_tensor_set_name(s_bad, "s"));
    og_gradcheck_options o = { .n_wrt = 1, .wrt = GT_NAMES("x"), .n_inputs = 1,
                               .inputs = (const og_tensor *const[]){ s_nan } };
    og_gradcheck_report *r;
    OG_CHECK(og_gradcheck(g, &o, &r));
    ck_assert_msg(!r->pass, "a NaN scale must make the check fail");
    og_gradcheck_report_free(r);
    o.inputs = (const og_tensor *const[]){ s_bad };
    OG_CHECK_FAILS(og_gradcheck(g, &o, &r), OG_ERR_SHAPE, "input 's': got shape [5], expected [2]");
    o.inputs = NULL;
    OG_CHECK_FAILS(og_gradcheck(g, &o, &r), OG_ERR_INVALID_ARG, "n_inputs is 1 but inputs is NULL");
    og_tensor_free(s_nan);
    og_tensor_free(s_bad);

    /* og_gradients clears every slot when it fails, even on a bad argument */
    og_tensor *grads[2] = { (og_tensor *)1, (og_tensor *)1 };
    og_grad_options go = { .n_seeded = 1, .seeded = GT_NAMES("y") };
    OG_CHECK_FAILS(og_gradients(g, &go, 1, NULL, NULL, grads), OG_ERR_INVALID_ARG, "NULL argument");
    ck_assert_ptr_null(grads[0]);
    ck_assert_ptr_null(grads[1]);
    og_graph_free(g);
}
END_TEST

/* Every allocation og_gradcheck makes fails in turn (once, and from then
 * on): OG_OK or OG_ERR_NOMEM with a message, nothing leaked. */
static long oom_live, oom_calls, oom_at;
static bool oom_sticky, oom_hit;
static bool oom_fail(void)
{
    oom_calls++;
    if (oom_at && (oom_calls == oom_at || (oom_sticky && oom_calls > oom_at)))
        return oom_hit = true;
    return false;
}
static void *oom_alloc(void *u, size_t n)
{
    (void)u;
    void *p = oom_fail() ? NULL : malloc(n ? n : 1);
    oom_live += p != NULL;
    return p;
}
static void *oom_realloc(void *u, void *p, size_t n)
{
    (void)u;
    void *q = oom_fail() ? NULL : realloc(p, n ? n : 1);
    oom_live += q && !p;
    return q;
}
static void oom_free(void *u, void *p)
{
    (void)u;
    oom_live -= p != NULL;
    free(p);
}

START_TEST(gradcheck_allocation_failures)
{
    og_set_allocator(&(og_allocator){ oom_alloc, oom_realloc, oom_free, NULL });
    og_graph *g = gt_graph();
    gt_input(g, "a", OG_FLOAT, 2, (const int64_t[]){ 1, 2 });
    gt_init(g, "w", OG_FLOAT, 2, (const int64_t[]){ 2, 1 }, (const float[]){ 0.5f, -1 });
    gt_node(g, "Gemm", "fc", GT_NAMES("a", "w"), GT_NAMES("h"), 0, NULL);
    gt_node(g, "Relu", "relu", GT_NAMES("h"), GT_NAMES("y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    long points = 0;
    for (int order = 1; order <= 2; order++)
        for (int sticky = 0; sticky < 2; sticky++)
            for (long k = 1;; k++) {
                long before = oom_live;
                oom_calls = 0;
                oom_hit = false;
                oom_at = k;
                oom_sticky = sticky;
                og_gradcheck_options o = { .order = order, .seed = 9 };
                og_gradcheck_report *r = (og_gradcheck_report *)1;
                og_status st = og_gradcheck(g, &o, &r);
                oom_at = 0;
                ck_assert_msg(st == OG_OK || st == OG_ERR_NOMEM, "allocation %ld: %s: %s", k, og_status_name(st),
                              og_errmsg());
                if (st == OG_OK) {
                    ck_assert(r->pass);
                    og_gradcheck_report_free(r);
                } else {
                    ck_assert_ptr_null(r);
                    ck_assert_msg(og_errmsg()[0] != '\0', "allocation %ld: no message", k);
                }
                ck_assert_msg(oom_live == before, "allocation %ld (order %d%s): %ld block(s) leaked", k, order,
                              sticky ? ", from then on" : "", oom_live - before);
                if (!oom_hit)
                    break;
                points++;
            }
    ck_assert_int_gt(points, 100);
    og_graph_free(g);
    og_set_allocator(NULL);
}
END_TEST

/* ---- bad requests ------------------------------------------------------------ */

START_TEST(bad_requests)
{
    og_graph *g = gt_graph(), *gg = NULL;
    gt_input(g, "x", OG_FLOAT, 2, (const int64_t[]){ 2, 3 });
    gt_input(g, "unused", OG_FLOAT, 1, (const int64_t[]){ 3 });
    gt_input(g, "shape", OG_INT64, 1, (const int64_t[]){ 2 });
    gt_input(g, "w", OG_FLOAT, 2, (const int64_t[]){ 3, 1 });
    gt_node(g, "Gemm", "gemm", GT_NAMES("x", "w"), GT_NAMES("y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));

    og_grad_options o = { .loss = "nope" };
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o, &gg), OG_ERR_INVALID_ARG, "loss 'nope' is not a value");
    o.loss = "x";
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o, &gg), OG_ERR_INVALID_ARG, "loss 'x' is not a graph output");
    o.loss = "y";
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o, &gg), OG_ERR_INVALID_ARG,
                   "loss 'y' must have exactly one element; its shape is [2,1]");
    og_grad_options o2 = { .n_seeded = 1, .seeded = GT_NAMES("y"), .n_wrt = 1, .wrt = GT_NAMES("shape") };
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o2, &gg), OG_ERR_INVALID_ARG,
                   "wrt tensor 'shape' is int64; only float and double tensors have gradients");
    o2.wrt = GT_NAMES("unused");
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o2, &gg), OG_ERR_INVALID_ARG,
                   "gradient of 'unused' requested, but no differentiated output depends on it");
    o2.wrt = GT_NAMES("missing");
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o2, &gg), OG_ERR_INVALID_ARG, "wrt tensor 'missing' is not a value");
    og_grad_options none = { 0 };
    OG_CHECK_FAILS(og_graph_build_gradient(g, &none, &gg), OG_ERR_INVALID_ARG, "name a loss or at least one");
    ck_assert_ptr_null(gg);

    /* a declared output shape that an input cannot broadcast to (found by
     * fuzz_grad: the other operand's rank was unknown at load time) */
    og_graph *h = gt_graph();
    gt_input(h, "x", OG_FLOAT, 3, (const int64_t[]){ 3, 4, 19 });
    OG_CHECK(og_graph_add_input(h, "y", OG_FLOAT, -1, NULL, NULL));
    gt_node(h, "Add", "add", GT_NAMES("x", "y"), GT_NAMES("sum"), 0, NULL);
    OG_CHECK(og_graph_declare_value(h, "sum", OG_FLOAT, 3, (const int64_t[]){ 3, 4, 5 }, NULL));
    OG_CHECK(og_graph_add_output(h, "sum"));
    OG_CHECK(og_graph_finalize(h));
    og_grad_options oh = { .n_seeded = 1, .seeded = GT_NAMES("sum") };
    OG_CHECK_FAILS(og_graph_build_gradient(h, &oh, &gg), OG_ERR_SHAPE,
                   "the graph gives output 'sum' shape [3,4,5], but an input of shape [3,4,19] cannot broadcast");
    og_graph_free(h);
    /* the same through ReduceSum, caught by the engine's gradient type check */
    h = gt_graph();
    gt_input(h, "data", OG_FLOAT, 3, (const int64_t[]){ 3, -1, 10 });
    gt_input(h, "axes", OG_INT64, 1, (const int64_t[]){ 1 });
    og_attr keep = og_attr_int("keepdims", 1);
    gt_node(h, "ReduceSum", "rs", GT_NAMES("data", "axes"), GT_NAMES("r"), 1, &keep);
    OG_CHECK(og_graph_declare_value(h, "r", OG_FLOAT, 3, (const int64_t[]){ 3, 1, 2 }, NULL));
    OG_CHECK(og_graph_add_output(h, "r"));
    OG_CHECK(og_graph_finalize(h));
    oh.seeded = GT_NAMES("r");
    OG_CHECK_FAILS(og_graph_build_gradient(h, &oh, &gg), OG_ERR_SHAPE,
                   "node 'rs' (ReduceSum): the output shapes the model declares contradict its inputs");
    og_graph_free(h);

    /* default wrt: every float input, in graph order */
    int n;
    const char *name;
    OG_CHECK(og_grad_wrt_count(g, &none, &n));
    ck_assert_int_eq(n, 3);
    OG_CHECK(og_grad_wrt_name(g, &none, 2, &name));
    ck_assert_str_eq(name, "w");
    og_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("autodiff");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, worked_3x3_kernel_2x2_stride_1);
    tcase_add_test(tc, worked_5x5_kernel_3x3_stride_2);
    tcase_add_test(tc, conv_attribute_sweep);
    tcase_add_test(tc, maxpool_attribute_sweep);
    tcase_add_test(tc, gemm_attribute_sweep);
    tcase_add_test(tc, relu_gradient_at_zero);
    tcase_add_test(tc, fan_in_is_summed);
    tcase_add_test(tc, cnn_chain_gradcheck_and_reload);
    tcase_add_test(tc, second_order_conv_relu_gemm);
    tcase_add_test(tc, symbolic_batch);
    tcase_add_test(tc, nan_and_inf_in_backward);
    tcase_add_test(tc, gradcheck_uses_given_values);
    tcase_add_test(tc, gradcheck_allocation_failures);
    tcase_add_test(tc, bad_requests);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
