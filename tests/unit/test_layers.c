/* SPDX-License-Identifier: MIT */
/* test_layers.c — the layer builder (include/onnxgrad/layers.h).
 *
 * LeNet-5 built in ten lines: structure, names and inferred shapes; runs at
 * batch 1 and 7 against a naive float64 forward pass written here from the
 * initializers; gradient graphs (seeded, and a loss added by hand) with a
 * worked-out bias gradient; float64 gradchecks of small nets of every
 * layer kind; save/reload to identical bytes and outputs; onnx.checker and
 * PyTorch's nn.Sequential with the same weights (tests/tools/
 * check_net_torch.py); the initialisers' statistics against each scheme's
 * formula; seeds; sticky errors naming the layer; BatchNormalization and
 * Dropout; every allocation failing in turn. */
#include <math.h>
#include <stdbool.h>
#include <unistd.h>
#include "testutil.h"

#define TMP OG_TEST_TMP_DIR "/layers_"
#define CHECKER "/usr/bin/python3 " OG_TEST_SRC_DIR "/tools/check_net_torch.py"

/* LeNet-5 as the issue has it: the builder's whole point. */
static og_status lenet(uint64_t seed, og_graph **g)
{
    og_net *n;
    og_net_create("image", 4, (const int64_t[]){ -1, 1, 28, 28 }, seed, &n);
    og_net_conv(n, 6, 5, 1, 2);  og_net_relu(n);  og_net_maxpool(n, 2, 2);
    og_net_conv(n, 16, 5, 1, 0); og_net_relu(n);  og_net_maxpool(n, 2, 2);
    og_net_flatten(n);
    og_net_dense(n, 120); og_net_relu(n);
    og_net_dense(n, 84);  og_net_relu(n);
    og_net_dense(n, 10);
    return og_net_finish(n, "logits", g);
}

static const og_tensor *init_named(const og_graph *g, const char *name)
{
    for (int k = 0; k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        OG_CHECK(og_graph_initializer(g, k, &t));
        if (t->name && !strcmp(t->name, name))
            return t;
    }
    ck_abort_msg("no initializer '%s'", name);
    return NULL;
}

/* A tensor of shape dims with values from a fixed LCG in [-1, 1). */
static og_tensor *random_tensor(int rank, const int64_t *dims, unsigned seed, const char *name)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, rank, dims, &t));
    for (int64_t k = 0; k < t->numel; k++) {
        seed = seed * 1664525u + 1013904223u;
        ((float *)t->data)[k] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
    if (name)
        OG_CHECK(og_tensor_set_name(t, name));
    return t;
}

static og_tensor *run1(const og_graph *g, const og_tensor *x)
{
    og_plan *p;
    og_tensor *y[4] = { 0 };
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_plan_run(p, 1, &x, y));
    og_plan_free(p);
    for (int k = 1; k < og_graph_num_outputs(g); k++)
        og_tensor_free(y[k]);
    return y[0];
}

/* ---- a naive float64 LeNet forward pass, from the initializers ------------ */

/* Conv (stride 1, square kernel, symmetric pad) + bias, then Relu. */
static double *ref_conv_relu(const double *x, int c, int h, int w, const og_tensor *wt, const og_tensor *b,
                             int pad, int *oc, int *oh, int *ow)
{
    int o = (int)wt->dims[0], k = (int)wt->dims[2];
    *oc = o, *oh = h + 2 * pad - k + 1, *ow = w + 2 * pad - k + 1;
    double *y = calloc((size_t)o * *oh * *ow, sizeof *y);
    const float *wd = wt->data, *bd = b->data;
    for (int q = 0; q < o; q++)
        for (int i = 0; i < *oh; i++)
            for (int j = 0; j < *ow; j++) {
                double s = bd[q];
                for (int ci = 0; ci < c; ci++)
                    for (int u = 0; u < k; u++)
                        for (int v = 0; v < k; v++) {
                            int yy = i + u - pad, xx = j + v - pad;
                            if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                                s += wd[((q * c + ci) * k + u) * k + v] * x[(ci * h + yy) * w + xx];
                        }
                y[(q * *oh + i) * *ow + j] = s > 0 ? s : 0;
            }
    return y;
}

static double *ref_pool2(const double *x, int c, int h, int w)
{
    double *y = malloc(sizeof *y * (size_t)c * (h / 2) * (w / 2));
    for (int q = 0; q < c; q++)
        for (int i = 0; i < h / 2; i++)
            for (int j = 0; j < w / 2; j++) {
                double m = -INFINITY;
                for (int u = 0; u < 2; u++)
                    for (int v = 0; v < 2; v++)
                        m = fmax(m, x[(q * h + 2 * i + u) * w + 2 * j + v]);
                y[(q * (h / 2) + i) * (w / 2) + j] = m;
            }
    return y;
}

static double *ref_dense(const double *x, const og_tensor *wt, const og_tensor *b, bool relu)
{
    int o = (int)wt->dims[0], in = (int)wt->dims[1];
    double *y = malloc(sizeof *y * (size_t)o);
    for (int q = 0; q < o; q++) {
        double s = ((const float *)b->data)[q];
        for (int i = 0; i < in; i++)
            s += ((const float *)wt->data)[q * in + i] * x[i];
        y[q] = relu && s < 0 ? 0 : s;
    }
    return y;
}

/* logits of image `img` (1x28x28) into out[10]. */
static void ref_lenet(const og_graph *g, const float *img, double *out)
{
    double x0[784];
    int c, h, w;
    for (int k = 0; k < 784; k++)
        x0[k] = img[k];
    double *a = ref_conv_relu(x0, 1, 28, 28, init_named(g, "conv1.weight"), init_named(g, "conv1.bias"), 2, &c, &h, &w);
    double *b = ref_pool2(a, c, h, w);
    free(a);
    a = ref_conv_relu(b, c, h / 2, w / 2, init_named(g, "conv2.weight"), init_named(g, "conv2.bias"), 0, &c, &h, &w);
    free(b);
    b = ref_pool2(a, c, h, w);   /* 16x5x5 in Flatten's order */
    free(a);
    a = ref_dense(b, init_named(g, "fc1.weight"), init_named(g, "fc1.bias"), true);
    free(b);
    b = ref_dense(a, init_named(g, "fc2.weight"), init_named(g, "fc2.bias"), true);
    free(a);
    a = ref_dense(b, init_named(g, "fc3.weight"), init_named(g, "fc3.bias"), false);
    free(b);
    memcpy(out, a, 10 * sizeof *out);
    free(a);
}

/* ---- LeNet-5 ------------------------------------------------------------------ */

static void assert_value(const og_graph *g, const char *name, int rank, const int64_t *dims)
{
    og_value_info vi;
    OG_CHECK(og_graph_value(g, name, &vi));
    ck_assert_msg(vi.dtype == OG_FLOAT && vi.rank == rank, "%s: dtype %d rank %d", name, vi.dtype, vi.rank);
    for (int k = 0; k < rank; k++)
        ck_assert_msg(vi.dims[k] == dims[k], "%s dim %d: %lld, expected %lld", name, k, (long long)vi.dims[k],
                      (long long)dims[k]);
}

START_TEST(lenet_structure_and_shapes)
{
    og_graph *g;
    OG_CHECK(lenet(1, &g));
    ck_assert_int_eq(og_graph_num_inputs(g), 1);
    ck_assert_int_eq(og_graph_num_outputs(g), 1);
    og_value_info vi;
    OG_CHECK(og_graph_input(g, 0, &vi));
    ck_assert_str_eq(vi.name, "image");
    ck_assert(vi.rank == 4 && vi.dims[0] == -1 && vi.dims[1] == 1 && vi.dims[2] == 28 && vi.dims[3] == 28);
    ck_assert(vi.dim_params && vi.dim_params[0] && !strcmp(vi.dim_params[0], "N"));
    OG_CHECK(og_graph_output(g, 0, &vi));
    ck_assert_str_eq(vi.name, "logits");
    ck_assert(vi.rank == 2 && vi.dims[0] == -1 && vi.dims[1] == 10);
    ck_assert(vi.dim_params && vi.dim_params[0] && !strcmp(vi.dim_params[0], "N"));   /* declared, as torch does */
    int64_t opset;
    const char *domain;
    ck_assert_int_eq(og_graph_num_opsets(g), 1);
    OG_CHECK(og_graph_opset(g, 0, &domain, &opset));
    ck_assert_str_eq(domain, "");
    ck_assert_int_eq(opset, 17);

    static const char *const ops[12][2] = {
        { "Conv", "conv1" }, { "Relu", "relu1" }, { "MaxPool", "maxpool1" }, { "Conv", "conv2" },
        { "Relu", "relu2" }, { "MaxPool", "maxpool2" }, { "Flatten", "flatten1" }, { "Gemm", "fc1" },
        { "Relu", "relu3" }, { "Gemm", "fc2" }, { "Relu", "relu4" }, { "Gemm", "fc3" },
    };
    ck_assert_int_eq(og_graph_num_nodes(g), 12);
    for (int k = 0; k < 12; k++) {
        const char *op, *name;
        OG_CHECK(og_graph_node(g, k, &op, &name));
        ck_assert_str_eq(op, ops[k][0]);
        ck_assert_str_eq(name, ops[k][1]);
    }
    /* parameters in PyTorch's names and layouts */
    struct { const char *name; int rank; int64_t dims[4]; } params[] = {
        { "conv1.weight", 4, { 6, 1, 5, 5 } }, { "conv1.bias", 1, { 6 } },
        { "conv2.weight", 4, { 16, 6, 5, 5 } }, { "conv2.bias", 1, { 16 } },
        { "fc1.weight", 2, { 120, 400 } }, { "fc1.bias", 1, { 120 } },
        { "fc2.weight", 2, { 84, 120 } }, { "fc2.bias", 1, { 84 } },
        { "fc3.weight", 2, { 10, 84 } }, { "fc3.bias", 1, { 10 } },
    };
    ck_assert_int_eq(og_graph_num_initializers(g), 10);
    int64_t total = 0;
    for (size_t k = 0; k < sizeof params / sizeof *params; k++) {
        const og_tensor *t = init_named(g, params[k].name);
        ck_assert_int_eq(t->rank, params[k].rank);
        for (int d = 0; d < t->rank; d++)
            ck_assert_int_eq(t->dims[d], params[k].dims[d]);
        total += t->numel;
    }
    ck_assert_int_eq(total, 61706);   /* LeNet-5's parameter count */
    /* every intermediate's inferred shape, with the symbolic batch */
    assert_value(g, "conv1.out", 4, (const int64_t[]){ -1, 6, 28, 28 });
    assert_value(g, "relu1.out", 4, (const int64_t[]){ -1, 6, 28, 28 });
    assert_value(g, "maxpool1.out", 4, (const int64_t[]){ -1, 6, 14, 14 });
    assert_value(g, "conv2.out", 4, (const int64_t[]){ -1, 16, 10, 10 });
    assert_value(g, "maxpool2.out", 4, (const int64_t[]){ -1, 16, 5, 5 });
    assert_value(g, "flatten1.out", 2, (const int64_t[]){ -1, 400 });
    assert_value(g, "fc1.out", 2, (const int64_t[]){ -1, 120 });
    assert_value(g, "relu4.out", 2, (const int64_t[]){ -1, 84 });
    assert_value(g, "logits", 2, (const int64_t[]){ -1, 10 });
    og_graph_free(g);
}
END_TEST

START_TEST(lenet_runs_at_batch_1_and_7)
{
    og_graph *g;
    OG_CHECK(lenet(7, &g));
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    og_tensor *x7 = random_tensor(4, (const int64_t[]){ 7, 1, 28, 28 }, 11, NULL), *y7;
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x7 }, &y7));
    ck_assert_int_eq(y7->rank, 2);
    ck_assert_int_eq(y7->dims[0], 7);
    ck_assert_int_eq(y7->dims[1], 10);
    double worst = 0, scale = 0;
    for (int b = 0; b < 7; b++) {
        /* batch 1 on image b, through the same plan */
        og_tensor *x1, *y1;
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 4, (const int64_t[]){ 1, 1, 28, 28 },
                                       (const float *)x7->data + 784 * b, &x1));
        OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x1 }, &y1));
        ck_assert_int_eq(y1->dims[0], 1);
        double ref[10];
        ref_lenet(g, (const float *)x7->data + 784 * b, ref);
        for (int k = 0; k < 10; k++) {
            float a = ((const float *)y7->data)[b * 10 + k], c = ((const float *)y1->data)[k];
            worst = fmax(worst, fmax(fabs(a - ref[k]), fabs(c - ref[k])));
            scale = fmax(scale, fabs(ref[k]));
        }
        og_tensor_free(x1);
        og_tensor_free(y1);
    }
    /* float32 against float64 over a 400-long dot product: ~1e-6 */
    ck_assert_msg(scale > 1e-2, "logits all near zero (%g): a weak test", scale);
    ck_assert_msg(worst < 1e-4 * (1 + scale), "max |onnxgrad - reference| = %g (scale %g)", worst, scale);
    og_tensor_free(x7);
    og_tensor_free(y7);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* Seeded gradients of the logits, and a loss added to the finished graph
 * by hand: mean over the batch and classes, so d loss / d fc3.bias = 1/10
 * exactly, and d loss / d logits = 1/(N 10). */
START_TEST(lenet_differentiates)
{
    og_graph *g;
    OG_CHECK(lenet(3, &g));
    const char *seeded[] = { "logits" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded };
    og_graph *gg;
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    ck_assert_int_eq(og_graph_num_outputs(gg), 1 + 11);   /* logits, image_grad, 10 params */
    og_tensor *x = random_tensor(4, (const int64_t[]){ 2, 1, 28, 28 }, 5, "image");
    og_tensor *seed = random_tensor(2, (const int64_t[]){ 2, 10 }, 6, "logits_grad");
    og_plan *p;
    og_tensor *out[12];
    OG_CHECK(og_plan_create(gg, &p));
    OG_CHECK(og_plan_run(p, 2, (const og_tensor *const[]){ x, seed }, out));
    for (int k = 1; k < 12; k++) {
        og_value_info vi;
        OG_CHECK(og_graph_output(gg, k, &vi));
        const char *of = k == 1 ? "image" : NULL;
        const og_tensor *t = of ? x : NULL;
        if (!t) {
            char name[64];
            snprintf(name, sizeof name, "%s", vi.name);
            *strrchr(name, '_') = 0;   /* "<tensor>_grad" */
            t = init_named(g, name);
        }
        ck_assert_int_eq(out[k]->rank, t->rank);
        for (int d = 0; d < t->rank; d++)
            ck_assert_int_eq(out[k]->dims[d], t->dims[d]);
        /* fc3.bias's gradient is the seed summed over the batch */
        if (!strcmp(vi.name, "fc3.bias_grad"))
            for (int j = 0; j < 10; j++) {
                float s = ((float *)seed->data)[j] + ((float *)seed->data)[10 + j];
                ck_assert_float_eq_tol(((float *)out[k]->data)[j], s, 1e-6);
            }
    }
    for (int k = 0; k < 12; k++)
        og_tensor_free(out[k]);
    og_plan_free(p);
    og_graph_free(gg);

    /* a loss node on the builder's graph */
    OG_CHECK(og_graph_add_node(g, "ReduceMean", NULL, "loss", 1, (const char *[]){ "logits" }, 1,
                               (const char *[]){ "loss" }, 1, (og_attr[]){ og_attr_int("keepdims", 0) }));
    OG_CHECK(og_graph_add_output(g, "loss"));
    OG_CHECK(og_graph_finalize(g));
    const char *wrt[] = { "fc3.bias", "conv1.weight" };
    og_grad_options lo = { .loss = "loss", .n_wrt = 2, .wrt = wrt };
    og_tensor *grads[2];
    OG_CHECK(og_gradients(g, &lo, 1, (const og_tensor *const[]){ x }, NULL, grads));
    for (int j = 0; j < 10; j++)
        ck_assert_float_eq_tol(((float *)grads[0]->data)[j], 0.1f, 1e-7);
    double norm = 0;
    for (int64_t k = 0; k < grads[1]->numel; k++)
        norm += fabs(((float *)grads[1]->data)[k]);
    ck_assert_msg(norm > 0 && isfinite(norm), "conv1.weight's gradient: |g|_1 = %g", norm);
    og_tensor_free(grads[0]);
    og_tensor_free(grads[1]);
    og_tensor_free(x);
    og_tensor_free(seed);
    og_graph_free(g);
}
END_TEST

/* float64 gradchecks of small nets: every layer kind, batch 2. */
static void gradcheck_net(og_graph *g, int rank, const int64_t *dims, const char *what)
{
    og_tensor *x = random_tensor(rank, dims, 17, "x");
    og_gradcheck_options o = { .order = 1, .seed = 9, .n_inputs = 1, .inputs = (const og_tensor *const[]){ x } };
    og_gradcheck_report *r;
    OG_CHECK(og_gradcheck(g, &o, &r));
    for (int k = 0; k < r->n; k++)
        ck_assert_msg(r->entries[k].pass, "%s: %s: max abs err %g (analytic %g, numeric %g)", what,
                      r->entries[k].name, r->entries[k].max_abs_err, r->entries[k].worst_analytic,
                      r->entries[k].worst_numeric);
    ck_assert_msg(r->n >= 3, "%s: only %d tensors checked", what, r->n);
    og_gradcheck_report_free(r);
    og_tensor_free(x);
}

START_TEST(small_nets_gradcheck)
{
    og_net *n;
    og_graph *g;
    const int64_t d[4] = { 2, 2, 8, 8 };
    /* LeNet's own layers, smaller */
    OG_CHECK(og_net_create("x", 4, (const int64_t[]){ -1, 2, 8, 8 }, 21, &n));
    og_net_conv(n, 3, 3, 1, 1); og_net_relu(n); og_net_maxpool(n, 2, 0);
    og_net_conv(n, 4, 3, 1, 0); og_net_relu(n);
    og_net_flatten(n); og_net_dense(n, 5); og_net_relu(n); og_net_dense(n, 3);
    OG_CHECK(og_net_finish(n, "y", &g));
    gradcheck_net(g, 4, d, "lenet-like");
    og_graph_free(g);
    /* the rest: strided, dilated and grouped conv, avgpool with padding,
     * tanh, sigmoid, global pooling, batchnorm, dropout, dense without bias */
    OG_CHECK(og_net_create("x", 4, (const int64_t[]){ 2, 2, 8, 8 }, 22, &n));
    og_net_set_init(n, OG_INIT_XAVIER_NORMAL, OG_INIT_HE_UNIFORM);
    og_net_conv_ex(n, 4, 3, 2, 1, 1, 2, true); og_net_tanh(n);
    og_net_conv_ex(n, 4, 2, 1, 1, 2, 1, false); og_net_batchnorm(n); og_net_sigmoid(n);
    og_net_avgpool_ex(n, 3, 1, 1); og_net_global_avgpool(n); og_net_flatten(n);
    og_net_dropout(n, 0.25f); og_net_dense_ex(n, 3, false);
    OG_CHECK(og_net_finish(n, "y", &g));
    gradcheck_net(g, 4, d, "every layer");
    og_graph_free(g);
    /* 1-D and 3-D convolutions and pools */
    OG_CHECK(og_net_create("x", 3, (const int64_t[]){ 2, 2, 9 }, 23, &n));
    og_net_conv(n, 3, 3, 1, 1); og_net_maxpool(n, 3, 2); og_net_flatten(n); og_net_dense(n, 2);
    OG_CHECK(og_net_finish(n, "y", &g));
    gradcheck_net(g, 3, (const int64_t[]){ 2, 2, 9 }, "1-D");
    og_graph_free(g);
    OG_CHECK(og_net_create("x", 5, (const int64_t[]){ 2, 1, 4, 4, 4 }, 24, &n));
    og_net_conv(n, 2, 2, 1, 0); og_net_avgpool(n, 2, 1); og_net_flatten(n); og_net_dense(n, 2);
    OG_CHECK(og_net_finish(n, "y", &g));
    gradcheck_net(g, 5, (const int64_t[]){ 2, 1, 4, 4, 4 }, "3-D");
    og_graph_free(g);
}
END_TEST

START_TEST(lenet_saves_reloads_and_matches_torch)
{
    og_graph *g, *g2;
    OG_CHECK(lenet(5, &g));
    void *a, *b;
    size_t na, nb;
    OG_CHECK(og_model_save_memory(g, &a, &na));
    OG_CHECK(og_model_load_memory(a, na, &g2));
    OG_CHECK(og_model_save_memory(g2, &b, &nb));
    ck_assert_msg(na == nb && !memcmp(a, b, na), "reloaded model saves differently (%zu vs %zu bytes)", na, nb);
    og_free(a);
    og_free(b);
    for (int k = 0; k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        OG_CHECK(og_graph_initializer(g, k, &t));
        const og_tensor *u = init_named(g2, t->name);
        ck_assert(u->numel == t->numel && !memcmp(u->data, t->data, sizeof(float) * (size_t)t->numel));
    }
    og_tensor *x = random_tensor(4, (const int64_t[]){ 7, 1, 28, 28 }, 8, "image");
    og_tensor *y = run1(g, x), *y2 = run1(g2, x);
    ck_assert(y->numel == 70 && !memcmp(y->data, y2->data, sizeof(float) * 70));

    OG_CHECK(og_model_save_file(g, TMP "lenet.onnx"));
    OG_CHECK(og_tensor_save_pb(x, TMP "lenet_x.pb"));
    OG_CHECK(og_tensor_save_pb(y, TMP "lenet_y.pb"));
    ck_assert_msg(access("/usr/bin/python3", X_OK) == 0, "/usr/bin/python3 is required");
    int rc = system(CHECKER " " TMP "lenet.onnx " TMP "lenet_x.pb " TMP "lenet_y.pb");
    ck_assert_msg(rc == 0, "check_net_torch.py failed (exit %d; 2: no python3-onnx/torch)", rc);
    og_tensor_free(x);
    og_tensor_free(y);
    og_tensor_free(y2);
    og_graph_free(g2);
    og_graph_free(g);
}
END_TEST

/* The other layers against PyTorch too: batchnorm (4-D and 2-D), dropout,
 * avgpool with padding, tanh, sigmoid, global pooling, groups, dilation. */
START_TEST(other_layers_match_torch)
{
    og_net *n;
    og_graph *g;
    OG_CHECK(og_net_create("x", 4, (const int64_t[]){ -1, 4, 12, 12 }, 31, &n));
    og_net_conv_ex(n, 8, 3, 2, 1, 1, 2, true); og_net_batchnorm(n); og_net_tanh(n);
    og_net_conv_ex(n, 6, 3, 1, 2, 2, 1, false); og_net_sigmoid(n);
    og_net_avgpool_ex(n, 3, 2, 1); og_net_maxpool_ex(n, 3, 1, 1); og_net_global_avgpool(n);
    og_net_flatten(n); og_net_dropout(n, 0.5f); og_net_dense(n, 7); og_net_batchnorm(n); og_net_relu(n);
    og_net_dense_ex(n, 3, false);
    OG_CHECK(og_net_finish(n, NULL, &g));
    og_value_info vi;
    OG_CHECK(og_graph_output(g, 0, &vi));
    ck_assert_str_eq(vi.name, "output");
    /* BatchNormalization's statistics are not all 0/1 in a trained net:
     * give them values so the check means something */
    for (int k = 0; k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        OG_CHECK(og_graph_initializer(g, k, &t));
        if (strncmp(t->name, "bn", 2))
            continue;
        for (int64_t j = 0; j < t->numel; j++)
            ((float *)t->data)[j] = strstr(t->name, "var") || strstr(t->name, "weight") ? 0.5f + 0.1f * (float)j
                                                                                       : 0.05f * (float)j - 0.1f;
    }
    og_tensor *x = random_tensor(4, (const int64_t[]){ 5, 4, 12, 12 }, 12, "x");
    og_tensor *y = run1(g, x);
    OG_CHECK(og_model_save_file(g, TMP "other.onnx"));
    OG_CHECK(og_tensor_save_pb(x, TMP "other_x.pb"));
    OG_CHECK(og_tensor_save_pb(y, TMP "other_y.pb"));
    int rc = system(CHECKER " " TMP "other.onnx " TMP "other_x.pb " TMP "other_y.pb");
    ck_assert_msg(rc == 0, "check_net_torch.py failed (exit %d)", rc);
    og_tensor_free(x);
    og_tensor_free(y);
    og_graph_free(g);
}
END_TEST

/* ---- initialisers ------------------------------------------------------------ */

typedef struct stats { double mean, var, kurt, maxabs; int64_t n; } stats;

static stats stats_of(const og_tensor *t)
{
    stats s = { .n = t->numel };
    const float *d = t->data;
    for (int64_t k = 0; k < s.n; k++)
        s.mean += d[k];
    s.mean /= (double)s.n;
    double m4 = 0;
    for (int64_t k = 0; k < s.n; k++) {
        double e = d[k] - s.mean;
        s.var += e * e;
        m4 += e * e * e * e;
        s.maxabs = fmax(s.maxabs, fabs(d[k]));
    }
    s.var /= (double)s.n;
    s.kurt = s.var > 0 ? m4 / (double)s.n / (s.var * s.var) : 0;
    return s;
}

/* A uniform U(-b, b): mean 0, variance b^2/3, kurtosis 1.8, every value
 * within b and the extremes close to it, flat over 20 bins. */
static void assert_uniform(const og_tensor *t, double b, const char *what)
{
    stats s = stats_of(t);
    double sd = b / sqrt(3.0);
    ck_assert_msg(fabs(s.mean) < 5 * sd / sqrt((double)s.n), "%s: mean %g (sd %g, n %lld)", what, s.mean, sd,
                  (long long)s.n);
    /* the sample variance's relative error is sqrt(0.8 / n) */
    ck_assert_msg(fabs(s.var / (sd * sd) - 1) < 6 * sqrt(0.8 / (double)s.n), "%s: variance %g, expected %g", what,
                  s.var, sd * sd);
    ck_assert_msg(s.maxabs <= (float)b, "%s: |w| reaches %.9g past the bound %.9g", what, s.maxabs, b);
    ck_assert_msg(s.maxabs > b * (1 - 20.0 / (double)s.n), "%s: max |w| %g, bound %g", what, s.maxabs, b);
    if (s.n >= 100000) {
        ck_assert_msg(fabs(s.kurt - 1.8) < 0.02, "%s: kurtosis %g, a uniform's is 1.8", what, s.kurt);
        int64_t bins[20] = { 0 };
        for (int64_t k = 0; k < s.n; k++) {
            int i = (int)((((const float *)t->data)[k] + b) / (2 * b) * 20);
            bins[i < 0 ? 0 : i > 19 ? 19 : i]++;
        }
        double e = (double)s.n / 20;
        for (int i = 0; i < 20; i++)
            ck_assert_msg(fabs((double)bins[i] - e) < 6 * sqrt(e), "%s: bin %d holds %lld, expected %g", what, i,
                          (long long)bins[i], e);
    }
}

/* A normal N(0, sd^2): mean, variance (relative error sqrt(2/n)), kurtosis 3. */
static void assert_normal(const og_tensor *t, double sd, const char *what)
{
    stats s = stats_of(t);
    ck_assert_msg(fabs(s.mean) < 5 * sd / sqrt((double)s.n), "%s: mean %g (sd %g)", what, s.mean, sd);
    ck_assert_msg(fabs(s.var / (sd * sd) - 1) < 6 * sqrt(2.0 / (double)s.n), "%s: variance %g, expected %g", what,
                  s.var, sd * sd);
    ck_assert_msg(fabs(s.kurt - 3) < 6 * sqrt(24.0 / (double)s.n), "%s: kurtosis %g, a normal's is 3", what, s.kurt);
    /* within 6 sd, and reaching past 4 sd in 4e5 draws (P(miss) ~ e^-10) */
    ck_assert_msg(s.maxabs < 6 * sd && s.maxabs > 4 * sd, "%s: max |w| %g (sd %g)", what, s.maxabs, sd);
}

/* A dense layer 400 -> 1000 (fan_in 400, fan_out 1000, 4e5 weights) and a
 * grouped conv (fan_in 36, fan_out 54) per scheme. */
START_TEST(initialiser_statistics)
{
    static const og_init schemes[] = { OG_INIT_TORCH_DEFAULT, OG_INIT_HE_UNIFORM, OG_INIT_HE_NORMAL,
                                       OG_INIT_XAVIER_UNIFORM, OG_INIT_XAVIER_NORMAL, OG_INIT_ZEROS };
    static const char *const names[] = { "torch", "he_uniform", "he_normal", "xavier_uniform", "xavier_normal",
                                         "zeros" };
    for (int s = 0; s < 6; s++) {
        og_net *n;
        og_graph *g;
        OG_CHECK(og_net_create("x", 4, (const int64_t[]){ 1, 8, 6, 6 }, 100 + (uint64_t)s, &n));
        og_net_set_init(n, schemes[s], schemes[s]);
        og_net_conv_ex(n, 6, 3, 1, 0, 1, 2, true);   /* weight [6, 4, 3, 3] */
        og_net_flatten(n);
        og_net_dense(n, 1000);
        og_net_dense(n, 1000);   /* fc2: 1000 -> 1000, a big bias sample too */
        OG_CHECK(og_net_finish(n, "y", &g));
        const og_tensor *cw = init_named(g, "conv1.weight"), *fw = init_named(g, "fc2.weight"),
                        *fb = init_named(g, "fc2.bias"), *cb = init_named(g, "conv1.bias");
        char what[64];
        double fi = 1000, fo = 1000, ci = 36, co = 54;
        snprintf(what, sizeof what, "%s fc2.weight", names[s]);
        switch (schemes[s]) {
        case OG_INIT_TORCH_DEFAULT:
            assert_uniform(fw, 1 / sqrt(fi), what);
            assert_uniform(cw, 1 / sqrt(ci), "torch conv1.weight");
            assert_uniform(fb, 1 / sqrt(fi), "torch fc2.bias");
            assert_uniform(cb, 1 / sqrt(ci), "torch conv1.bias");
            break;
        case OG_INIT_HE_UNIFORM:
            assert_uniform(fw, sqrt(6 / fi), what);
            assert_uniform(cw, sqrt(6 / ci), "he conv1.weight");
            assert_uniform(fb, sqrt(6 / fi), "he fc2.bias");
            break;
        case OG_INIT_HE_NORMAL:
            assert_normal(fw, sqrt(2 / fi), what);
            break;
        case OG_INIT_XAVIER_UNIFORM:
            assert_uniform(fw, sqrt(6 / (fi + fo)), what);
            assert_uniform(cw, sqrt(6 / (ci + co)), "xavier conv1.weight");
            break;
        case OG_INIT_XAVIER_NORMAL:
            assert_normal(fw, sqrt(2 / (fi + fo)), what);
            break;
        case OG_INIT_ZEROS:
            for (int k = 0; k < og_graph_num_initializers(g); k++) {
                const og_tensor *t;
                OG_CHECK(og_graph_initializer(g, k, &t));
                ck_assert(stats_of(t).maxabs == 0);
            }
            break;
        }
        /* fc1 (fan_in 96) too, for the schemes that depend on fan_in alone */
        if (schemes[s] == OG_INIT_HE_NORMAL) {
            const og_tensor *w1 = init_named(g, "fc1.weight");
            ck_assert_int_eq(w1->dims[1], 96);
            assert_normal(w1, sqrt(2 / 96.0), "he_normal fc1.weight");
        }
        og_graph_free(g);
    }
    /* the net's default is PyTorch's */
    og_graph *g;
    og_net *n;
    OG_CHECK(og_net_create("x", 2, (const int64_t[]){ 1, 500 }, 1, &n));
    og_net_dense(n, 1000);
    OG_CHECK(og_net_finish(n, "y", &g));
    assert_uniform(init_named(g, "fc1.weight"), 1 / sqrt(500.0), "default fc1.weight");
    og_graph_free(g);
}
END_TEST

static bool same_params(const og_graph *a, const og_graph *b, const char *name)
{
    const og_tensor *t = init_named(a, name), *u = init_named(b, name);
    return t->numel == u->numel && !memcmp(t->data, u->data, sizeof(float) * (size_t)t->numel);
}

START_TEST(seeds_decide_the_bits)
{
    og_graph *a, *b, *c;
    OG_CHECK(lenet(42, &a));
    OG_CHECK(lenet(42, &b));
    OG_CHECK(lenet(43, &c));
    for (int k = 0; k < og_graph_num_initializers(a); k++) {
        const og_tensor *t;
        OG_CHECK(og_graph_initializer(a, k, &t));
        ck_assert_msg(same_params(a, b, t->name), "%s differs under one seed", t->name);
        ck_assert_msg(!same_params(a, c, t->name), "%s is the same under seeds 42 and 43", t->name);
    }
    /* the streams differ between tensors too */
    const og_tensor *w1 = init_named(a, "fc2.bias"), *w2 = init_named(a, "fc1.bias");
    ck_assert(memcmp(w1->data, w2->data, sizeof(float) * 84));
    /* a tensor's values depend on its name and the seed alone: a different
     * net after it, or other schemes for other layers, change nothing */
    og_net *n;
    og_graph *d;
    OG_CHECK(og_net_create("image", 4, (const int64_t[]){ 1, 1, 28, 28 }, 42, &n));
    og_net_conv(n, 6, 5, 1, 2);
    og_net_tanh(n);
    og_net_global_avgpool(n);
    og_net_flatten(n);
    og_net_set_init(n, OG_INIT_XAVIER_NORMAL, OG_INIT_ZEROS);
    og_net_dense(n, 3);
    OG_CHECK(og_net_finish(n, "z", &d));
    ck_assert(same_params(a, d, "conv1.weight") && same_params(a, d, "conv1.bias"));
    og_graph_free(a);
    og_graph_free(b);
    og_graph_free(c);
    og_graph_free(d);
}
END_TEST

/* ---- errors -------------------------------------------------------------------- */

START_TEST(sticky_errors_name_the_layer)
{
    og_net *n;
    og_graph *g = (og_graph *)1;
    /* dense before flatten on a 4-D tensor; everything after is ignored */
    OG_CHECK(og_net_create("image", 4, (const int64_t[]){ -1, 1, 28, 28 }, 1, &n));
    og_net_conv(n, 6, 5, 1, 2);
    og_net_relu(n);
    ck_assert_int_eq(og_net_status(n), OG_OK);
    ck_assert_str_eq(og_net_errmsg(n), "");
    og_net_dense(n, 10);
    ck_assert_int_eq(og_net_status(n), OG_ERR_SHAPE);
    ck_assert_msg(strstr(og_errmsg(), "layer 'fc1'"), "%s", og_errmsg());
    og_net_flatten(n);
    og_net_dense(n, 0);        /* would be an error of its own */
    og_net_conv(n, 1, 99, 1, 0);
    og_tensor *bad_t;
    ck_assert_int_ne(og_tensor_create(OG_FLOAT, -1, NULL, &bad_t), OG_OK);   /* another failure in between */
    ck_assert_str_eq(og_net_errmsg(n),
                     "layer 'fc1': dense needs an [N, features] input, got 4-D [N,6,28,28]: og_net_flatten first");
    OG_CHECK_FAILS(og_net_finish(n, "y", &g), OG_ERR_SHAPE, "layer 'fc1': dense needs an [N, features] input");
    ck_assert_ptr_null(g);

    /* a kernel larger than the input */
    OG_CHECK(og_net_create("x", 4, (const int64_t[]){ 1, 1, 8, 8 }, 1, &n));
    og_net_conv(n, 2, 3, 1, 0);
    og_net_maxpool(n, 2, 2);
    og_net_conv(n, 2, 5, 1, 0);   /* 3x3 left */
    og_net_relu(n);
    OG_CHECK_FAILS(og_net_finish(n, "y", &g), OG_ERR_SHAPE,
                   "layer 'conv2': kernel 5 is larger than the input: spatial axis 2 has 3 elements (3 padded), "
                   "the kernel spans 5");
    OG_CHECK(og_net_create("x", 4, (const int64_t[]){ 1, 1, 4, 4 }, 1, &n));
    og_net_conv_ex(n, 2, 2, 1, 0, 4, 1, true);   /* dilated: spans 5 */
    OG_CHECK_FAILS(og_net_finish(n, "y", &g), OG_ERR_SHAPE, "layer 'conv1': kernel 2 (dilated) is larger");
    OG_CHECK(og_net_create("x", 3, (const int64_t[]){ 1, 1, 4 }, 1, &n));
    og_net_avgpool(n, 2, 2);
    og_net_avgpool(n, 2, 2);
    og_net_maxpool(n, 2, 2);
    OG_CHECK_FAILS(og_net_finish(n, "y", &g), OG_ERR_SHAPE, "layer 'maxpool1': kernel 2 is larger");

    /* bad arguments, each naming its layer */
    struct { int which; og_status code; const char *msg; } bad[] = {
        { 0, OG_ERR_INVALID_ARG, "layer 'conv1': kernel 3, stride 0, pad 0, dilation 1: need" },
        { 1, OG_ERR_INVALID_ARG, "layer 'conv1': 4 output channels in 3 groups over 6 input channels" },
        { 2, OG_ERR_INVALID_ARG, "layer 'fc1': out_features is 0; need >= 1" },
        { 3, OG_ERR_INVALID_ARG, "layer 'dropout1': ratio 1 is not a drop probability in [0, 1)" },
        { 4, OG_ERR_INVALID_ARG, "layer 'maxpool1': pad 2 is more than half the kernel 3" },
        { 5, OG_ERR_SHAPE, "layer 'conv2': conv needs an [N, C, D1, ...] input with 1 to 3 spatial axes, got 2-D [1,216]" },
        { 6, OG_ERR_INVALID_ARG, "og_net_set_init: unknown scheme (weights 17, bias 5)" },
        { 7, OG_ERR_INVALID_ARG, "layer 'avgpool1': kernel 0, stride 0, pad 0" },
        { 8, OG_ERR_INVALID_ARG, "layer 'conv1': 0 output channels" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        OG_CHECK(og_net_create("x", 4, (const int64_t[]){ 1, 6, 8, 8 }, 1, &n));
        switch (bad[k].which) {
        case 0: og_net_conv(n, 2, 3, 0, 0); break;
        case 1: og_net_conv_ex(n, 4, 3, 1, 0, 1, 3, true); break;
        case 2: og_net_flatten(n); og_net_dense(n, 0); break;
        case 3: og_net_dropout(n, 1.0f); break;
        case 4: og_net_maxpool_ex(n, 3, 1, 2); break;
        case 5: og_net_conv(n, 6, 3, 1, 0); og_net_flatten(n); og_net_conv(n, 1, 1, 1, 0); break;
        case 6: og_net_set_init(n, (og_init)17, OG_INIT_ZEROS); og_net_relu(n); break;
        case 7: og_net_avgpool(n, 0, 0); break;
        case 8: og_net_conv(n, 0, 3, 1, 0); break;
        }
        og_net_relu(n);
        ck_assert_int_eq(og_net_status(n), bad[k].code);
        OG_CHECK_FAILS(og_net_finish(n, "y", &g), bad[k].code, bad[k].msg);
    }

    /* og_net_create's own checks; a NULL net is accepted everywhere */
    n = (og_net *)1;
    OG_CHECK_FAILS(og_net_create("x", 2, (const int64_t[]){ 1, 0 }, 1, &n), OG_ERR_INVALID_ARG,
                   "input 'x' dim 1 is 0");
    ck_assert_ptr_null(n);
    OG_CHECK_FAILS(og_net_create("x", 2, (const int64_t[]){ 4, -1 }, 1, &n), OG_ERR_INVALID_ARG, "dim 1 is -1");
    OG_CHECK_FAILS(og_net_create("x", 0, NULL, 1, &n), OG_ERR_INVALID_ARG, "rank 0");
    OG_CHECK_FAILS(og_net_create("x", 3, (const int64_t[]){ -1, 1 << 30, 1 << 30 }, 1, &n), OG_ERR_LIMIT,
                   "input 'x' (one sample) has more elements than the limit allows (tensor-elements); "
                   "raise it with --limit tensor-elements=N");
    OG_CHECK_FAILS(og_net_create("", 1, (const int64_t[]){ 1 }, 1, &n), OG_ERR_INVALID_ARG, "needs a name");
    og_net_conv(NULL, 1, 1, 1, 0);
    og_net_relu(NULL);
    og_net_set_init(NULL, OG_INIT_ZEROS, OG_INIT_ZEROS);
    ck_assert_int_eq(og_net_status(NULL), OG_ERR_INVALID_ARG);
    OG_CHECK_FAILS(og_net_shape(NULL, NULL, NULL), OG_ERR_INVALID_ARG, "no net");
    OG_CHECK_FAILS(og_net_finish(NULL, "y", &g), OG_ERR_INVALID_ARG, "no net (og_net_create failed?)");
    og_net_free(NULL);

    /* no layers; an output name that is taken; out NULL */
    OG_CHECK(og_net_create("x", 2, (const int64_t[]){ 1, 3 }, 1, &n));
    OG_CHECK_FAILS(og_net_finish(n, "y", &g), OG_ERR_INVALID_ARG, "the net has no layers");
    OG_CHECK(og_net_create("x", 2, (const int64_t[]){ 1, 3 }, 1, &n));
    og_net_dense(n, 2);
    ck_assert_int_ne(og_net_finish(n, "fc1.weight", &g), OG_OK);
    ck_assert_ptr_null(g);
    OG_CHECK(og_net_create("x", 2, (const int64_t[]){ 1, 3 }, 1, &n));
    og_net_dense(n, 2);
    OG_CHECK_FAILS(og_net_finish(n, "y", NULL), OG_ERR_INVALID_ARG, "out is NULL");
    /* a freed net that never finished */
    OG_CHECK(og_net_create("x", 2, (const int64_t[]){ 1, 3 }, 1, &n));
    og_net_dense(n, 2);
    og_net_free(n);
}
END_TEST

START_TEST(shape_tracks_the_chain)
{
    og_net *n;
    int rank;
    int64_t d[OG_MAX_RANK];
    OG_CHECK(og_net_create("x", 4, (const int64_t[]){ -7, 3, 32, 32 }, 1, &n));
    OG_CHECK(og_net_shape(n, &rank, d));
    ck_assert(rank == 4 && d[0] == -1 && d[1] == 3 && d[2] == 32);
    og_net_conv(n, 8, 3, 2, 1);        /* (32 + 2 - 3) / 2 + 1 = 16 */
    OG_CHECK(og_net_shape(n, &rank, d));
    ck_assert(rank == 4 && d[1] == 8 && d[2] == 16 && d[3] == 16);
    og_net_maxpool_ex(n, 3, 2, 1);     /* (16 + 2 - 3) / 2 + 1 = 8 */
    OG_CHECK(og_net_shape(n, &rank, d));
    ck_assert(d[2] == 8 && d[3] == 8);
    og_net_conv_ex(n, 4, 3, 1, 0, 2, 4, true);   /* dilation 2 spans 5: 4 */
    OG_CHECK(og_net_shape(n, &rank, d));
    ck_assert(d[1] == 4 && d[2] == 4);
    og_net_flatten(n);
    OG_CHECK(og_net_shape(n, &rank, d));
    ck_assert(rank == 2 && d[0] == -1 && d[1] == 64);
    og_graph *g;
    OG_CHECK(og_net_finish(n, "y", &g));
    /* the engine's inference agrees with the builder's */
    assert_value(g, "conv1.out", 4, (const int64_t[]){ -1, 8, 16, 16 });
    assert_value(g, "maxpool1.out", 4, (const int64_t[]){ -1, 8, 8, 8 });
    assert_value(g, "y", 2, (const int64_t[]){ -1, 64 });
    og_graph_free(g);
}
END_TEST

/* ---- BatchNormalization and Dropout --------------------------------------------- */

START_TEST(batchnorm_and_dropout_layers)
{
    og_net *n;
    og_graph *with, *without;
    /* same seed, same conv: with a fresh batchnorm (mean 0, var 1, scale 1,
     * bias 0) and an inference dropout, y = conv / sqrt(1 + 1e-5) */
    OG_CHECK(og_net_create("x", 4, (const int64_t[]){ -1, 2, 6, 6 }, 4, &n));
    og_net_conv(n, 3, 3, 1, 1);
    og_net_batchnorm(n);
    og_net_dropout(n, 0.5f);
    og_net_dropout(n, 0.2f);
    OG_CHECK(og_net_finish(n, "y", &with));
    OG_CHECK(og_net_create("x", 4, (const int64_t[]){ -1, 2, 6, 6 }, 4, &n));
    og_net_conv(n, 3, 3, 1, 1);
    OG_CHECK(og_net_finish(n, "y", &without));

    /* bn1's four tensors, PyTorch's names; one shared training_mode input */
    static const char *const bn[4] = { "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var" };
    static const float bnv[4] = { 1, 0, 0, 1 };
    for (int k = 0; k < 4; k++) {
        const og_tensor *t = init_named(with, bn[k]);
        ck_assert(t->rank == 1 && t->dims[0] == 3);
        for (int j = 0; j < 3; j++)
            ck_assert(((float *)t->data)[j] == bnv[k]);
    }
    ck_assert_int_eq(og_graph_num_inputs(with), 2);
    og_value_info vi;
    OG_CHECK(og_graph_input(with, 1, &vi));
    ck_assert_str_eq(vi.name, "training_mode");
    ck_assert(vi.dtype == OG_BOOL && vi.rank == 0);
    const og_tensor *tm = init_named(with, "training_mode");
    ck_assert(*(const bool *)tm->data == false);
    int found = 0;
    for (int k = 0; k < og_graph_num_nodes(with); k++) {
        const char *op, *name;
        OG_CHECK(og_graph_node(with, k, &op, &name));
        found += !strcmp(op, "BatchNormalization") && !strcmp(name, "bn1");
        found += !strcmp(op, "Dropout") && (!strcmp(name, "dropout1") || !strcmp(name, "dropout2"));
        found += !strcmp(op, "Constant") && !strcmp(name, "dropout2.ratio");
    }
    ck_assert_int_eq(found, 4);

    og_plan *p;
    OG_CHECK(og_plan_create(with, &p));
    ck_assert_int_eq(og_plan_num_feeds(p), 1);   /* training_mode has its default */
    og_tensor *x = random_tensor(4, (const int64_t[]){ 4, 2, 6, 6 }, 3, "x"), *y, *y0 = run1(without, x);
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y));
    for (int64_t k = 0; k < y->numel; k++)
        ck_assert_float_eq_tol(((float *)y->data)[k], ((float *)y0->data)[k] / sqrtf(1 + 1e-5f), 1e-6);
    og_tensor_free(y);

    /* training_mode = true: dropout keeps each value with p 0.5 * 0.8 and
     * scales it by 1/0.5 * 1/0.8 */
    bool on = true;
    og_tensor *t;
    OG_CHECK(og_tensor_create_from(OG_BOOL, 0, NULL, &on, &t));
    OG_CHECK(og_tensor_set_name(t, "training_mode"));
    OG_CHECK(og_plan_run(p, 2, (const og_tensor *const[]){ x, t }, &y));
    int64_t kept = 0;
    for (int64_t k = 0; k < y->numel; k++) {
        float a = ((float *)y->data)[k], b = ((float *)y0->data)[k] / sqrtf(1 + 1e-5f);
        if (a != 0) {
            kept++;
            ck_assert_float_eq_tol(a, b * 2.5f, 1e-5);
        }
    }
    double frac = (double)kept / (double)y->numel, sd = sqrt(0.4 * 0.6 / (double)y->numel);
    ck_assert_msg(fabs(frac - 0.4) < 5 * sd, "kept %g of the values in training, expected 0.4", frac);
    og_tensor_free(y);
    og_tensor_free(t);
    og_plan_free(p);

    /* in training, the gradient goes through the forward's mask: for
     * y = dropout(x, 0.5) and a seed of ones, dx = 2 where y kept x, else 0
     * (gradcheck in the default inference mode is in small_nets_gradcheck) */
    og_graph *d, *gg;
    OG_CHECK(og_net_create("x", 2, (const int64_t[]){ -1, 50 }, 4, &n));
    og_net_dropout(n, 0.5f);
    OG_CHECK(og_net_finish(n, "y", &d));
    const char *seeded[] = { "y" }, *wrt[] = { "x" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 1, .wrt = wrt };
    OG_CHECK(og_graph_build_gradient(d, &o, &gg));
    og_tensor *xd = random_tensor(2, (const int64_t[]){ 4, 50 }, 9, "x"), *ones, *out[2];
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, (const int64_t[]){ 4, 50 }, &ones));
    OG_CHECK(og_tensor_set_name(ones, "y_grad"));
    for (int k = 0; k < 200; k++)
        ((float *)ones->data)[k] = 1;
    OG_CHECK(og_tensor_create_from(OG_BOOL, 0, NULL, &on, &t));
    OG_CHECK(og_tensor_set_name(t, "training_mode"));
    OG_CHECK(og_plan_create(gg, &p));
    OG_CHECK(og_plan_run(p, 3, (const og_tensor *const[]){ xd, ones, t }, out));
    kept = 0;
    for (int k = 0; k < 200; k++) {
        float yk = ((float *)out[0]->data)[k], gk = ((float *)out[1]->data)[k];
        kept += yk != 0;
        ck_assert_msg(yk == 0 ? gk == 0 : (gk == 2 && yk == 2 * ((float *)xd->data)[k]), "element %d: y %g, dx %g",
                      k, yk, gk);
    }
    ck_assert_msg(kept > 50 && kept < 150, "kept %lld of 200", (long long)kept);
    og_tensor_free(out[0]);
    og_tensor_free(out[1]);
    og_plan_free(p);
    og_tensor_free(t);
    og_tensor_free(ones);
    og_tensor_free(xd);
    og_graph_free(gg);
    og_graph_free(d);
    og_tensor_free(x);
    og_tensor_free(y0);
    og_graph_free(with);
    og_graph_free(without);
}
END_TEST

/* ---- allocation failures ----------------------------------------------------------- */

static long live, calls, fail_at;

static void *a_alloc(void *u, size_t size)
{
    (void)u;
    if (fail_at && ++calls >= fail_at)
        return NULL;
    void *p = malloc(size);
    live += p != NULL;
    return p;
}

static void *a_realloc(void *u, void *p, size_t size)
{
    (void)u;
    if (fail_at && ++calls >= fail_at)
        return NULL;
    void *q = realloc(p, size);
    live += q && !p;
    return q;
}

static void a_free(void *u, void *p)
{
    (void)u;
    live -= p != NULL;
    free(p);
}

/* Allocation k fails, and every one after it: LeNet's building gives
 * OG_OK or OG_ERR_NOMEM, and leaks nothing. */
START_TEST(every_allocation_failure)
{
    og_allocator a = { a_alloc, a_realloc, a_free, NULL };
    og_set_allocator(&a);
    bool done = false;
    for (long k = 1; !done && k < 100000; k++) {
        live = calls = 0;
        fail_at = k;
        og_graph *g = NULL;
        og_status st = lenet(1, &g);
        fail_at = 0;
        if (st == OG_OK) {
            done = true;
            og_graph_free(g);
        } else {
            ck_assert_ptr_null(g);
            /* og_net_create failing leaves a NULL net: finish says so */
            ck_assert_msg(st == OG_ERR_NOMEM || (st == OG_ERR_INVALID_ARG && strstr(og_errmsg(), "no net")),
                          "allocation %ld: %s: %s", k, og_status_name(st), og_errmsg());
        }
        ck_assert_msg(live == 0, "allocation %ld failing leaks %ld blocks", k, live);
    }
    og_set_allocator(NULL);
    ck_assert(done);
}
END_TEST

static Suite *layers_suite(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, lenet_structure_and_shapes);
    tcase_add_test(tc, lenet_runs_at_batch_1_and_7);
    tcase_add_test(tc, lenet_differentiates);
    tcase_add_test(tc, small_nets_gradcheck);
    tcase_add_test(tc, lenet_saves_reloads_and_matches_torch);
    tcase_add_test(tc, other_layers_match_torch);
    tcase_add_test(tc, initialiser_statistics);
    tcase_add_test(tc, seeds_decide_the_bits);
    tcase_add_test(tc, sticky_errors_name_the_layer);
    tcase_add_test(tc, shape_tracks_the_chain);
    tcase_add_test(tc, batchnorm_and_dropout_layers);
    tcase_add_test(tc, every_allocation_failure);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(layers_suite());
}
