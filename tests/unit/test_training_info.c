/* SPDX-License-Identifier: MIT */
/* Training infos (ONNX TrainingInfoProto): the builder API and its checks,
 * the runnable algorithm/initialization graphs (values computed here by
 * hand), round trips through memory, files and external data, hostile
 * bindings in a file, clone / to_double / gradient behaviour, and onnx's
 * own view (tests/tools/check_training_info.py, python3-onnx required). */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <protobuf-c/protobuf-c.h>
#include "testutil.h"
#include "internal.h"
#include "onnx.pb-c.h"

#define TOOL "/usr/bin/python3 " OG_TEST_SRC_DIR "/tools/check_training_info.py"

static char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", OG_TEST_TMP_DIR, name);
    return p;
}

static const float W0[4] = { 1.0f, -2.0f, 0.5f, 3.0f };
static const float LR = 0.25f;

static og_tensor *tensor(og_dtype dt, int rank, const int64_t *dims, const void *data)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create_from(dt, rank, dims, data, &t));
    return t;
}

/* Y = MatMul(X[1,2], W[2,2]) */
static og_graph *main_graph(void)
{
    og_graph *g;
    int64_t xd[2] = { 1, 2 }, wd[2] = { 2, 2 };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_set_name(g, "main"));
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 2, xd, NULL));
    og_tensor *w = tensor(OG_FLOAT, 2, wd, W0);
    OG_CHECK(og_graph_add_initializer(g, "W", w));
    og_tensor_free(w);
    const char *in[] = { "X", "W" }, *out[] = { "Y" };
    OG_CHECK(og_graph_add_node(g, "MatMul", NULL, "mm", 2, in, 1, out, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

/* W_new = W - lr * G, G an input of the algorithm. */
static og_graph *sgd_algorithm(bool with_w)
{
    og_graph *a;
    int64_t wd[2] = { 2, 2 };
    OG_CHECK(og_graph_create(&a));
    OG_CHECK(og_graph_set_name(a, "sgd"));
    OG_CHECK(og_graph_add_input(a, "G", OG_FLOAT, 2, wd, NULL));
    og_tensor *lr = tensor(OG_FLOAT, 0, NULL, &LR);
    OG_CHECK(og_graph_add_initializer(a, "lr", lr));
    og_tensor_free(lr);
    if (with_w) {   /* a self-contained copy of the weight: not stored */
        og_tensor *w = tensor(OG_FLOAT, 2, wd, (float[]){ 9, 9, 9, 9 });
        OG_CHECK(og_graph_add_initializer(a, "W", w));
        og_tensor_free(w);
    }
    const char *i1[] = { "lr", "G" }, *o1[] = { "d" }, *i2[] = { "W", "d" }, *o2[] = { "W_new" };
    OG_CHECK(og_graph_add_node(a, "Mul", NULL, "scale", 2, i1, 1, o1, 0, NULL));
    OG_CHECK(og_graph_add_node(a, "Sub", NULL, "step", 2, i2, 1, o2, 0, NULL));
    OG_CHECK(og_graph_add_output(a, "W_new"));
    OG_CHECK(og_graph_declare_value(a, "W_new", OG_FLOAT, 2, wd, NULL));
    return a;
}

static const og_binding UB[] = { { "W", "W_new" } };

static og_graph *model_with_sgd(void)
{
    og_graph *g = main_graph(), *a = sgd_algorithm(false);
    OG_CHECK(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, UB));
    og_graph_free(a);
    return g;
}

/* Runs finalized g on the inputs; returns output 0. */
static og_tensor *run1(const og_graph *g, int n, const og_tensor *const *in)
{
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    og_tensor *outs[4] = { 0 };
    ck_assert_int_le(og_graph_num_outputs(g), 4);
    OG_CHECK(og_plan_run(p, n, in, outs));
    for (int k = 1; k < og_graph_num_outputs(g); k++)
        og_tensor_free(outs[k]);
    og_plan_free(p);
    return outs[0];
}

static void check_sgd_step(const og_graph *g, int k)
{
    og_graph *step;
    OG_CHECK(og_training_algorithm_graph(g, k, &step));
    ck_assert_int_eq(og_graph_num_inputs(step), 1);   /* G only: the algorithm reads no main input */
    ck_assert_int_eq(og_graph_num_outputs(step), 1);
    og_value_info vi;
    OG_CHECK(og_graph_input(step, 0, &vi));
    ck_assert_str_eq(vi.name, "G");
    const float gv[4] = { 4, 8, -4, 2 };
    int64_t wd[2] = { 2, 2 };
    og_tensor *G = tensor(vi.dtype, 2, wd, NULL);
    for (int j = 0; j < 4; j++) {
        if (vi.dtype == OG_DOUBLE)
            ((double *)G->data)[j] = gv[j];
        else
            ((float *)G->data)[j] = gv[j];
    }
    og_tensor *out = run1(step, 1, (const og_tensor *const[]){ G });
    ck_assert_int_eq(out->numel, 4);
    for (int j = 0; j < 4; j++) {
        double want = (double)W0[j] - (double)LR * gv[j];
        double got = out->dtype == OG_DOUBLE ? ((double *)out->data)[j] : ((float *)out->data)[j];
        ck_assert_double_eq_tol(got, want, 1e-6);
    }
    og_tensor_free(G);
    og_tensor_free(out);
    og_graph_free(step);
}

START_TEST(api_stores_and_reports)
{
    og_graph *g = main_graph(), *a = sgd_algorithm(true);
    ck_assert_int_eq(og_graph_num_training_infos(g), 0);
    OG_CHECK(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, UB));
    og_graph_free(a);   /* copied */
    ck_assert(g->finalized);
    ck_assert_int_eq(og_graph_num_training_infos(g), 1);
    og_training_info ti;
    OG_CHECK(og_graph_get_training_info(g, 0, &ti));
    ck_assert_ptr_null(ti.initialization);
    ck_assert_int_eq(og_graph_num_nodes(ti.algorithm), 2);
    /* the algorithm's copy of W was left out: it reads g's */
    ck_assert_int_eq(og_graph_num_initializers(ti.algorithm), 1);
    const og_tensor *t;
    OG_CHECK(og_graph_initializer(ti.algorithm, 0, &t));
    ck_assert_str_eq(t->name, "lr");
    ck_assert_int_eq(ti.n_update_bindings, 1);
    ck_assert_str_eq(ti.update_bindings[0].key, "W");
    ck_assert_str_eq(ti.update_bindings[0].value, "W_new");
    ck_assert_int_eq(ti.n_initialization_bindings, 0);
    OG_CHECK_FAILS(og_graph_get_training_info(g, 1, &ti), OG_ERR_INVALID_ARG, "outside 0..0");
    check_sgd_step(g, 0);
    OG_CHECK(og_graph_clear_training_info(g));
    ck_assert_int_eq(og_graph_num_training_infos(g), 0);
    OG_CHECK_FAILS(og_training_algorithm_graph(g, 0, &a), OG_ERR_INVALID_ARG, "training info index 0");
    og_graph_free(g);
}
END_TEST

/* The algorithm reads a main-graph input and node output: the step graph
 * takes X and recomputes Y. W_new = W - lr * X^T Y (the gradient of
 * 0.5 |XW|^2), checked against the product done here. */
START_TEST(algorithm_continues_main_graph)
{
    og_graph *g = main_graph(), *a;
    OG_CHECK(og_graph_create(&a));
    og_tensor *lr = tensor(OG_FLOAT, 0, NULL, &LR);
    OG_CHECK(og_graph_add_initializer(a, "lr", lr));
    og_tensor_free(lr);
    const char *i1[] = { "X" }, *o1[] = { "Xt" }, *i2[] = { "Xt", "Y" }, *o2[] = { "G" };
    const char *i3[] = { "lr", "G" }, *o3[] = { "d" }, *i4[] = { "W", "d" }, *o4[] = { "W_new" };
    OG_CHECK(og_graph_add_node(a, "Transpose", NULL, "t", 1, i1, 1, o1, 0, NULL));
    OG_CHECK(og_graph_add_node(a, "MatMul", NULL, "g", 2, i2, 1, o2, 0, NULL));
    OG_CHECK(og_graph_add_node(a, "Mul", NULL, "s", 2, i3, 1, o3, 0, NULL));
    OG_CHECK(og_graph_add_node(a, "Sub", NULL, "u", 2, i4, 1, o4, 0, NULL));
    OG_CHECK(og_graph_add_output(a, "W_new"));
    OG_CHECK(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, UB));
    og_graph_free(a);
    og_graph *step;
    OG_CHECK(og_training_algorithm_graph(g, 0, &step));
    ck_assert_int_eq(og_graph_num_inputs(step), 1);
    ck_assert_int_eq(og_graph_num_nodes(step), 5);   /* main MatMul + 4 */
    int64_t xd[2] = { 1, 2 };
    const float xv[2] = { 2.0f, -1.0f };
    og_tensor *X = tensor(OG_FLOAT, 2, xd, xv);
    og_tensor *out = run1(step, 1, (const og_tensor *const[]){ X });
    float y[2];
    for (int j = 0; j < 2; j++)
        y[j] = xv[0] * W0[0 * 2 + j] + xv[1] * W0[1 * 2 + j];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++)
            ck_assert_float_eq_tol(((float *)out->data)[r * 2 + c], W0[r * 2 + c] - LR * xv[r] * y[c], 1e-5f);
    og_tensor_free(X);
    og_tensor_free(out);
    og_graph_free(step);
    og_graph_free(g);
}
END_TEST

/* The algorithm differentiates the main graph's loss with a Gradient node
 * (ai.onnx.preview.training), as ONNX's training examples do: loss =
 * sum((XW)^2), W_new = W - lr * dloss/dW = W - lr * 2 X^T (XW). */
START_TEST(algorithm_with_gradient_op)
{
    og_graph *g;
    int64_t xd[2] = { 1, 2 }, wd[2] = { 2, 2 };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 2, xd, NULL));
    og_tensor *w = tensor(OG_FLOAT, 2, wd, W0);
    OG_CHECK(og_graph_add_initializer(g, "W", w));
    og_tensor_free(w);
    og_attr keep0 = og_attr_int("keepdims", 0);
    OG_CHECK(og_graph_add_node(g, "MatMul", NULL, "mm", 2, (const char *[]){ "X", "W" }, 1, (const char *[]){ "Y" }, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "Mul", NULL, "sq", 2, (const char *[]){ "Y", "Y" }, 1, (const char *[]){ "S" }, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "ReduceSum", NULL, "sum", 1, (const char *[]){ "S" }, 1, (const char *[]){ "loss" }, 1,
                               &keep0));
    OG_CHECK(og_graph_add_output(g, "loss"));
    OG_CHECK(og_graph_finalize(g));

    og_graph *a;
    OG_CHECK(og_graph_create(&a));
    OG_CHECK(og_graph_set_opset(a, "ai.onnx.preview.training", 1));
    og_tensor *lr = tensor(OG_FLOAT, 0, NULL, &LR);
    OG_CHECK(og_graph_add_initializer(a, "lr", lr));
    og_tensor_free(lr);
    const char *xs[] = { "W" }, *zs[] = { "X" };
    og_attr ga[3] = { { .name = "xs", .type = OG_ATTR_STRINGS, .strings = xs, .count = 1 }, og_attr_string("y", "loss"),
                      { .name = "zs", .type = OG_ATTR_STRINGS, .strings = zs, .count = 1 } };
    OG_CHECK(og_graph_add_node(a, "Gradient", "ai.onnx.preview.training", "grad", 2, (const char *[]){ "W", "X" }, 1,
                               (const char *[]){ "dW" }, 3, ga));
    OG_CHECK(og_graph_add_node(a, "Mul", NULL, "s", 2, (const char *[]){ "lr", "dW" }, 1, (const char *[]){ "d" }, 0, NULL));
    OG_CHECK(og_graph_add_node(a, "Sub", NULL, "u", 2, (const char *[]){ "W", "d" }, 1, (const char *[]){ "W_new" }, 0, NULL));
    OG_CHECK(og_graph_add_output(a, "W_new"));
    OG_CHECK(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, UB));
    og_graph_free(a);

    /* through a file, as a trainer would get it */
    void *d;
    size_t n;
    og_graph *h, *step;
    OG_CHECK(og_model_save_memory(g, &d, &n));
    OG_CHECK(og_model_load_memory(d, n, &h));
    og_free(d);
    OG_CHECK(og_training_algorithm_graph(h, 0, &step));
    ck_assert_int_eq(og_graph_num_inputs(step), 1);
    const float xv[2] = { 0.5f, -1.5f };
    og_tensor *X = tensor(OG_FLOAT, 2, xd, xv);
    og_tensor *out = run1(step, 1, (const og_tensor *const[]){ X });
    float y[2];
    for (int j = 0; j < 2; j++)
        y[j] = xv[0] * W0[j] + xv[1] * W0[2 + j];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++)
            ck_assert_float_eq_tol(((float *)out->data)[r * 2 + c], W0[r * 2 + c] - LR * 2 * xv[r] * y[c], 1e-5f);
    og_tensor_free(X);
    og_tensor_free(out);
    og_graph_free(step);
    og_graph_free(h);
    og_graph_free(g);
}
END_TEST

/* initialization: W_init = Identity(W0) with W0 its own initializer. */
static og_graph *init_graph(void)
{
    og_graph *i;
    int64_t wd[2] = { 2, 2 };
    OG_CHECK(og_graph_create(&i));
    OG_CHECK(og_graph_set_name(i, "init"));
    og_tensor *w = tensor(OG_FLOAT, 2, wd, (float[]){ 7, 6, 5, 4 });
    OG_CHECK(og_graph_add_initializer(i, "W_start", w));
    og_tensor_free(w);
    const char *in[] = { "W_start" }, *out[] = { "W_init" };
    OG_CHECK(og_graph_add_node(i, "Identity", NULL, "id", 1, in, 1, out, 0, NULL));
    OG_CHECK(og_graph_add_output(i, "W_init"));
    return i;
}

static const og_binding IB[] = { { "W", "W_init" } };

static og_graph *model_with_init(void)
{
    og_graph *g = main_graph(), *a = sgd_algorithm(false), *i = init_graph();
    OG_CHECK(og_graph_add_training_info(g, i, a, 1, IB, 1, UB));
    og_graph_free(a);
    og_graph_free(i);
    return g;
}

START_TEST(initialization_graph_runs)
{
    og_graph *g = model_with_init(), *ig;
    OG_CHECK(og_training_initialization_graph(g, 0, &ig));
    ck_assert_int_eq(og_graph_num_inputs(ig), 0);
    og_tensor *out = run1(ig, 0, NULL);
    ck_assert_float_eq(((float *)out->data)[0], 7);
    ck_assert_float_eq(((float *)out->data)[3], 4);
    og_tensor_free(out);
    og_graph_free(ig);
    og_graph *g2 = model_with_sgd();
    OG_CHECK_FAILS(og_training_initialization_graph(g2, 0, &ig), OG_ERR_INVALID_ARG, "no initialization graph");
    og_graph_free(g2);
    og_graph_free(g);
}
END_TEST

static void check_same_training(const og_graph *a, const og_graph *b)
{
    ck_assert_int_eq(og_graph_num_training_infos(a), og_graph_num_training_infos(b));
    for (int k = 0; k < og_graph_num_training_infos(a); k++) {
        og_training_info x, y;
        OG_CHECK(og_graph_get_training_info(a, k, &x));
        OG_CHECK(og_graph_get_training_info(b, k, &y));
        ck_assert_int_eq(x.n_update_bindings, y.n_update_bindings);
        ck_assert_int_eq(x.n_initialization_bindings, y.n_initialization_bindings);
        for (int j = 0; j < x.n_update_bindings; j++) {
            ck_assert_str_eq(x.update_bindings[j].key, y.update_bindings[j].key);
            ck_assert_str_eq(x.update_bindings[j].value, y.update_bindings[j].value);
        }
        for (int j = 0; j < x.n_initialization_bindings; j++) {
            ck_assert_str_eq(x.initialization_bindings[j].key, y.initialization_bindings[j].key);
            ck_assert_str_eq(x.initialization_bindings[j].value, y.initialization_bindings[j].value);
        }
        ck_assert_int_eq(x.initialization == NULL, y.initialization == NULL);
        for (int w = 0; w < 2; w++) {
            const og_graph *p = w ? x.initialization : x.algorithm, *q = w ? y.initialization : y.algorithm;
            if (!p)
                continue;
            ck_assert_str_eq(p->graph_name, q->graph_name);
            ck_assert_int_eq(og_graph_num_nodes(p), og_graph_num_nodes(q));
            ck_assert_int_eq(og_graph_num_inputs(p), og_graph_num_inputs(q));
            ck_assert_int_eq(og_graph_num_outputs(p), og_graph_num_outputs(q));
            ck_assert_int_eq(og_graph_num_initializers(p), og_graph_num_initializers(q));
            for (int n = 0; n < og_graph_num_nodes(p); n++) {
                const char *o1, *n1, *o2, *n2;
                OG_CHECK(og_graph_node(p, n, &o1, &n1));
                OG_CHECK(og_graph_node(q, n, &o2, &n2));
                ck_assert_str_eq(o1, o2);
                ck_assert_str_eq(n1, n2);
            }
            for (int n = 0; n < og_graph_num_initializers(p); n++) {
                const og_tensor *t1, *t2;
                OG_CHECK(og_graph_initializer(p, n, &t1));
                OG_CHECK(og_graph_initializer(q, n, &t2));
                ck_assert_str_eq(t1->name, t2->name);
                ck_assert_int_eq(t1->dtype, t2->dtype);
                ck_assert_int_eq(t1->numel, t2->numel);
                ck_assert_int_eq(memcmp(t1->data, t2->data, (size_t)t1->numel * og_dtype_size(t1->dtype)), 0);
            }
        }
    }
}

START_TEST(memory_round_trip)
{
    og_graph *g = model_with_init(), *h;
    void *d1, *d2;
    size_t n1, n2;
    OG_CHECK(og_model_save_memory(g, &d1, &n1));
    OG_CHECK(og_model_load_memory(d1, n1, &h));
    check_same_training(g, h);
    check_sgd_step(h, 0);
    OG_CHECK(og_model_save_memory(h, &d2, &n2));
    ck_assert_uint_eq(n1, n2);
    ck_assert_int_eq(memcmp(d1, d2, n1), 0);   /* load -> save reproduces the bytes */
    /* without training infos the model is smaller and loads without any */
    OG_CHECK(og_graph_clear_training_info(h));
    og_free(d2);
    OG_CHECK(og_model_save_memory(h, &d2, &n2));
    ck_assert_uint_lt(n2, n1);
    og_graph_free(h);
    OG_CHECK(og_model_load_memory(d2, n2, &h));
    ck_assert_int_eq(og_graph_num_training_infos(h), 0);
    og_free(d1);
    og_free(d2);
    og_graph_free(h);
    og_graph_free(g);
}
END_TEST

/* Opsets a training graph imports join the model's. */
START_TEST(algorithm_opsets_saved)
{
    og_graph *g = main_graph(), *a = sgd_algorithm(false), *h;
    OG_CHECK(og_graph_set_opset(a, "ai.onnx.preview.training", 1));
    OG_CHECK(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, UB));
    void *d;
    size_t n;
    OG_CHECK(og_model_save_memory(g, &d, &n));
    OG_CHECK(og_model_load_memory(d, n, &h));
    ck_assert_int_eq(og_graph_num_opsets(h), 2);
    const char *dom;
    int64_t ver;
    OG_CHECK(og_graph_opset(h, 1, &dom, &ver));
    ck_assert_str_eq(dom, "ai.onnx.preview.training");
    ck_assert_int_eq(ver, 1);
    og_graph_free(h);
    og_free(d);
    /* the default domain at another version cannot share one opset_import */
    og_graph *a2 = sgd_algorithm(false);
    OG_CHECK(og_graph_set_opset(a2, "", 13));
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a2, 0, NULL, 0, NULL), OG_ERR_INVALID_GRAPH,
                   "imports opset 'ai.onnx' version 13, but the model imports it at version 17");
    og_graph_free(a2);
    og_graph_free(a);
    og_graph_free(g);
}
END_TEST

START_TEST(file_and_external_data)
{
    og_graph *g = model_with_init(), *h;
    const char *path = tmp_path("ti_ext.onnx"), *data = tmp_path("ti_ext.weights");
    unlink(data);
    og_save_options so = OG_SAVE_OPTIONS_INIT;
    so.external_data_file = "ti_ext.weights";
    so.external_min_bytes = 4;   /* lr (4 bytes), W and W_start go out */
    OG_CHECK(og_model_save_file_ex(g, path, &so));
    struct stat sb;
    ck_assert_int_eq(stat(data, &sb), 0);
    ck_assert_int_ge(sb.st_size, 2 * 4096);   /* three tensors at 4096-byte offsets */
    /* the model file holds no tensor bytes: lr's value is not in it */
    size_t n;
    char *bytes = og_test_read_file(path, &n);
    for (size_t k = 0; k + sizeof LR <= n; k++)
        ck_assert_msg(memcmp(bytes + k, &LR, sizeof LR) != 0, "lr's bytes at offset %zu of the model", k);
    free(bytes);
    OG_CHECK(og_model_load_file(path, &h));
    check_same_training(g, h);
    check_sgd_step(h, 0);
    og_graph *ig;
    OG_CHECK(og_training_initialization_graph(h, 0, &ig));
    og_tensor *out = run1(ig, 0, NULL);
    ck_assert_float_eq(((float *)out->data)[1], 6);
    og_tensor_free(out);
    og_graph_free(ig);
    /* and inline, by file */
    const char *p2 = tmp_path("ti_inline.onnx");
    OG_CHECK(og_model_save_file(h, p2));
    og_graph_free(h);
    OG_CHECK(og_model_load_file(p2, &h));
    check_same_training(g, h);
    og_graph_free(h);
    og_graph_free(g);
}
END_TEST

START_TEST(builder_errors)
{
    og_graph *g = main_graph(), *a = sgd_algorithm(false), *i = init_graph();
    og_binding b;
    b = (og_binding){ "nope", "W_new" };
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, &b), OG_ERR_INVALID_GRAPH,
                   "update_binding[0] 'nope' <- 'W_new': key 'nope' is not an initializer");
    b = (og_binding){ "W", "d" };
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, &b), OG_ERR_INVALID_GRAPH,
                   "value 'd' is not an output of the algorithm");
    b = (og_binding){ "", "W_new" };
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, &b), OG_ERR_INVALID_GRAPH,
                   "update_binding[0]: key is empty");
    og_binding two[2] = { { "W", "W_new" }, { "W", "W_new" } };
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a, 0, NULL, 2, two), OG_ERR_INVALID_GRAPH,
                   "update_binding[1] 'W' <- 'W_new': key 'W' is bound twice");
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a, 1, IB, 0, NULL), OG_ERR_INVALID_GRAPH,
                   "not an output of an initialization graph (there is none)");
    b = (og_binding){ "W", "W_start" };
    OG_CHECK_FAILS(og_graph_add_training_info(g, i, a, 1, &b, 0, NULL), OG_ERR_INVALID_GRAPH,
                   "initialization_binding[0] 'W' <- 'W_start': value 'W_start' is not an output");
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, NULL, 0, NULL, 0, NULL), OG_ERR_INVALID_ARG, "algorithm is NULL");
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a, 0, NULL, -1, NULL), OG_ERR_INVALID_ARG, "update_binding");
    ck_assert_int_eq(og_graph_num_training_infos(g), 0);   /* nothing was added */
    /* a key updated by two training infos */
    OG_CHECK(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, UB));
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, UB), OG_ERR_INVALID_GRAPH,
                   "at most one binding of the model");
    ck_assert_int_eq(og_graph_num_training_infos(g), 1);
    /* a key may be an initializer of the algorithm (optimiser state); its
     * value's type is checked when the step graph is built */
    og_binding st = { "lr", "W_new" };
    OG_CHECK(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, &st));
    og_graph *step;
    OG_CHECK_FAILS(og_training_algorithm_graph(g, 1, &step), OG_ERR_SHAPE,
                   "update_binding[0] 'lr' <- 'W_new': initializer 'lr' is float [] but 'W_new' is float [2,2]");
    og_graph_free(a);
    og_graph_free(i);
    og_graph_free(g);
}
END_TEST

START_TEST(name_clashes_and_types)
{
    og_graph *g = main_graph(), *a;
    int64_t wd[2] = { 2, 2 };
    /* an algorithm node output reusing a main-graph name */
    OG_CHECK(og_graph_create(&a));
    const char *i1[] = { "W" }, *o1[] = { "Y" };
    OG_CHECK(og_graph_add_node(a, "Identity", NULL, "dup", 1, i1, 1, o1, 0, NULL));
    OG_CHECK(og_graph_add_output(a, "Y"));
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a, 0, NULL, 0, NULL), OG_ERR_INVALID_GRAPH,
                   "algorithm node 'dup' (Identity) output 'Y' is already a value of the main graph");
    og_graph_free(a);
    /* an algorithm input reusing a main-graph name */
    OG_CHECK(og_graph_create(&a));
    OG_CHECK(og_graph_add_input(a, "X", OG_FLOAT, 2, wd, NULL));
    const char *i2[] = { "X" }, *o2[] = { "Z" };
    OG_CHECK(og_graph_add_node(a, "Identity", NULL, "z", 1, i2, 1, o2, 0, NULL));
    OG_CHECK(og_graph_add_output(a, "Z"));
    OG_CHECK_FAILS(og_graph_add_training_info(g, NULL, a, 0, NULL, 0, NULL), OG_ERR_INVALID_GRAPH,
                   "algorithm input 'X' is already a value of the main graph");
    og_graph_free(a);
    /* an initialization graph with an input */
    og_graph *i = init_graph();
    OG_CHECK(og_graph_add_input(i, "in", OG_FLOAT, 2, wd, NULL));
    a = sgd_algorithm(false);
    OG_CHECK_FAILS(og_graph_add_training_info(g, i, a, 0, NULL, 0, NULL), OG_ERR_INVALID_GRAPH,
                   "the initialization graph has input 'in'");
    og_graph_free(i);
    og_graph_free(a);
    /* the update value's type must fit its key: checked when finalized */
    OG_CHECK(og_graph_create(&a));
    og_tensor *lr = tensor(OG_FLOAT, 0, NULL, &LR);
    OG_CHECK(og_graph_add_initializer(a, "lr", lr));
    og_tensor_free(lr);
    const char *i3[] = { "lr", "lr" }, *o3[] = { "sq" };
    OG_CHECK(og_graph_add_node(a, "Mul", NULL, "sq", 2, i3, 1, o3, 0, NULL));
    OG_CHECK(og_graph_add_output(a, "sq"));
    og_binding b = { "W", "sq" };
    OG_CHECK(og_graph_add_training_info(g, NULL, a, 0, NULL, 1, &b));
    og_graph *step;
    OG_CHECK_FAILS(og_training_algorithm_graph(g, 0, &step), OG_ERR_SHAPE,
                   "training_info[0].algorithm: update_binding[0] 'W' <- 'sq': initializer 'W' is float [2,2] but 'sq' "
                   "is float []");
    og_graph_free(a);
    /* an algorithm that does not finalize names the training info */
    OG_CHECK(og_graph_clear_training_info(g));
    OG_CHECK(og_graph_create(&a));
    const char *i4[] = { "nowhere" }, *o4[] = { "q" };
    OG_CHECK(og_graph_add_node(a, "Relu", NULL, "r", 1, i4, 1, o4, 0, NULL));
    OG_CHECK(og_graph_add_output(a, "q"));
    OG_CHECK(og_graph_add_training_info(g, NULL, a, 0, NULL, 0, NULL));
    og_status s = og_training_algorithm_graph(g, 0, &step);
    ck_assert_int_ne(s, OG_OK);
    ck_assert_msg(strstr(og_errmsg(), "training_info[0].algorithm: ") == og_errmsg(), "%s", og_errmsg());
    ck_assert_ptr_null(step);
    og_graph_free(a);
    og_graph_free(g);
}
END_TEST

/* A model with a training info, its ModelProto modified by `edit`. */
static og_status load_edited(void (*edit)(Onnx__ModelProto *), bool twice, og_graph **out)
{
    og_graph *g = model_with_init();
    void *d;
    size_t n;
    OG_CHECK(og_model_save_memory(g, &d, &n));
    og_graph_free(g);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, d);
    ck_assert_ptr_nonnull(m);
    edit(m);
    size_t n2 = onnx__model_proto__get_packed_size(m);
    /* twice: the training info again, appended (repeated fields concatenate) */
    Onnx__ModelProto only;
    onnx__model_proto__init(&only);
    only.n_training_info = 1;
    only.training_info = m->training_info;
    size_t n3 = twice ? onnx__model_proto__get_packed_size(&only) : 0;
    uint8_t *d2 = malloc(n2 + n3);
    onnx__model_proto__pack(m, d2);
    if (twice)
        onnx__model_proto__pack(&only, d2 + n2);
    n2 += n3;
    onnx__model_proto__free_unpacked(m, NULL);
    og_free(d);
    og_status st = og_model_load_memory(d2, n2, out);
    free(d2);
    return st;
}

static void edit_key(Onnx__ModelProto *m) { m->training_info[0]->update_binding[0]->key[0] = 'Q'; }
static void edit_value(Onnx__ModelProto *m) { m->training_info[0]->initialization_binding[0]->value[0] = 'Q'; }
/* (unpacked with protobuf-c's default allocator: malloc/free) */
static void edit_empty_key(Onnx__ModelProto *m)
{
    free(m->training_info[0]->update_binding[0]->key);
    m->training_info[0]->update_binding[0]->key = NULL;
}
static void edit_dup_init(Onnx__ModelProto *m)
{
    /* the algorithm gets an initializer named W, as the main graph has */
    m->training_info[0]->algorithm->initializer[0]->name[0] = 'W';
    m->training_info[0]->algorithm->initializer[0]->name[1] = '\0';
}
static void edit_node_name(Onnx__ModelProto *m)
{
    free(m->training_info[0]->algorithm->node[1]->op_type);
    m->training_info[0]->algorithm->node[1]->op_type = NULL;
}
static void edit_input_name(Onnx__ModelProto *m) { m->training_info[0]->algorithm->input[0]->name[0] = '\0'; }
static void edit_none(Onnx__ModelProto *m) { (void)m; }

START_TEST(hostile_file_bindings)
{
    og_graph *g = NULL;
    OG_CHECK_FAILS(load_edited(edit_key, false, &g), OG_ERR_INVALID_GRAPH,
                   "training_info[0]: update_binding[0] 'Q' <- 'W_new': key 'Q' is not an initializer");
    OG_CHECK_FAILS(load_edited(edit_value, false, &g), OG_ERR_INVALID_GRAPH,
                   "training_info[0]: initialization_binding[0] 'W' <- 'Q_init': value 'Q_init' is not an output of "
                   "the initialization graph");
    OG_CHECK_FAILS(load_edited(edit_empty_key, false, &g), OG_ERR_INVALID_GRAPH, "update_binding[0]: key is empty");
    OG_CHECK_FAILS(load_edited(edit_dup_init, false, &g), OG_ERR_INVALID_GRAPH,
                   "training_info[0]: algorithm initializer 'W' is already an initializer of the main graph");
    OG_CHECK_FAILS(load_edited(edit_node_name, false, &g), OG_ERR_PARSE, "training_info[0].algorithm.node[1] 'step': op_type is missing");
    OG_CHECK_FAILS(load_edited(edit_input_name, false, &g), OG_ERR_PARSE, "training_info[0].algorithm.input[0]: name is missing");
    OG_CHECK_FAILS(load_edited(edit_none, true, &g), OG_ERR_INVALID_GRAPH, "training_info[1]: update_binding[0] 'W' <- 'W_new': "
                   "key 'W' is bound twice");
    ck_assert_ptr_null(g);
}
END_TEST

START_TEST(clone_double_and_gradient)
{
    og_graph *g = model_with_init(), *d;
    OG_CHECK(og_graph_to_double(g, &d));
    ck_assert_int_eq(og_graph_num_training_infos(d), 1);
    og_training_info ti;
    OG_CHECK(og_graph_get_training_info(d, 0, &ti));
    const og_tensor *lr;
    OG_CHECK(og_graph_initializer(ti.algorithm, 0, &lr));
    ck_assert_int_eq(lr->dtype, OG_DOUBLE);
    ck_assert_ptr_nonnull(ti.initialization);
    check_sgd_step(d, 0);   /* runs in double */
    og_graph_free(d);
    /* a gradient graph computes gradients, not the model's training: none kept */
    og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "Y" } };
    og_graph *gg;
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    ck_assert_int_eq(og_graph_num_training_infos(gg), 0);
    og_graph_free(gg);
    og_graph_free(g);
}
END_TEST

static int run_tool(const char *args)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, TOOL " %s", args);
    int rc = system(cmd);
    return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

/* onnx's view: a model onnxgrad saved passes check_model(full_check=True),
 * and so does the combined main+algorithm graph; one written by
 * onnx.helper.make_training_info loads and saves back equal. */
START_TEST(onnx_python_agrees)
{
    ck_assert_msg(access("/usr/bin/python3", X_OK) == 0, "/usr/bin/python3 is required");
    og_graph *g = model_with_init();
    const char *ours = tmp_path("ti_ours.onnx");
    OG_CHECK(og_model_save_file(g, ours));
    char args[1200];
    snprintf(args, sizeof args, "check '%s'", ours);
    ck_assert_int_eq(run_tool(args), 0);
    og_graph_free(g);

    const char *theirs = tmp_path("ti_helper.onnx"), *back = tmp_path("ti_helper_back.onnx");
    snprintf(args, sizeof args, "make '%s'", theirs);
    ck_assert_int_eq(run_tool(args), 0);
    OG_CHECK(og_model_load_file(theirs, &g));
    ck_assert_int_eq(og_graph_num_training_infos(g), 1);
    OG_CHECK(og_model_save_file(g, back));
    snprintf(args, sizeof args, "same '%s' '%s'", theirs, back);
    ck_assert_int_eq(run_tool(args), 0);
    /* its step runs: the tool's algorithm is W_new = W - lr * G, B_new = B - lr * GB */
    og_graph *step;
    OG_CHECK(og_training_algorithm_graph(g, 0, &step));
    ck_assert_int_eq(og_graph_num_outputs(step), 2);
    og_graph_free(step);
    og_graph_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("training_info");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, api_stores_and_reports);
    tcase_add_test(tc, algorithm_continues_main_graph);
    tcase_add_test(tc, algorithm_with_gradient_op);
    tcase_add_test(tc, initialization_graph_runs);
    tcase_add_test(tc, memory_round_trip);
    tcase_add_test(tc, algorithm_opsets_saved);
    tcase_add_test(tc, file_and_external_data);
    tcase_add_test(tc, builder_errors);
    tcase_add_test(tc, name_clashes_and_types);
    tcase_add_test(tc, hostile_file_bindings);
    tcase_add_test(tc, clone_double_and_gradient);
    tcase_add_test(tc, onnx_python_agrees);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return og_run_suite(suite()); }
