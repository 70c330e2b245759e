/* SPDX-License-Identifier: MIT */
/* demo.c — the README's main job: build a small CNN
 * (Conv -> Relu -> MaxPool -> Flatten -> Gemm) through the C API, save it as
 * ONNX, load it back, run both, and show that they agree; then build its
 * gradient graph, save it, check it against finite differences in float64,
 * and train the network for a few steps of gradient descent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <onnxgrad/onnxgrad.h>

#define TRY(call)                                                              \
    do {                                                                       \
        if ((call) != OG_OK) {                                                 \
            fprintf(stderr, "demo: %s failed: %s\n", #call, og_errmsg());      \
            return 1;                                                          \
        }                                                                      \
    } while (0)

/* Deterministic pseudo-random weights in [-0.5, 0.5). */
static float next_weight(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) / (float)(1u << 24) - 0.5f;
}

static og_status add_random(og_graph *g, const char *name, int rank, const int64_t *dims, unsigned seed)
{
    og_tensor *t;
    og_status st = og_tensor_create(OG_FLOAT, rank, dims, &t);
    if (st)
        return st;
    for (int64_t k = 0; k < t->numel; k++)
        ((float *)t->data)[k] = next_weight(&seed);
    st = og_graph_add_initializer(g, name, t);
    og_tensor_free(t);
    return st;
}

static int build(og_graph **out)
{
    og_graph *g;
    TRY(og_graph_create(&g));
    *out = g;
    TRY(og_graph_set_opset(g, "", 17));
    TRY(og_graph_set_producer(g, "onnxgrad-demo", OG_VERSION_STRING));
    TRY(og_graph_set_name(g, "small_cnn"));
    TRY(og_graph_add_input(g, "image", OG_FLOAT, 4, (int64_t[]){ 1, 1, 8, 8 }, NULL));
    /* The weights are graph inputs with initializers (their defaults), so
     * training can feed updated values. */
    TRY(og_graph_add_input(g, "conv.W", OG_FLOAT, 4, (int64_t[]){ 4, 1, 3, 3 }, NULL));
    TRY(og_graph_add_input(g, "conv.B", OG_FLOAT, 1, (int64_t[]){ 4 }, NULL));
    TRY(og_graph_add_input(g, "fc.W", OG_FLOAT, 2, (int64_t[]){ 10, 64 }, NULL));
    TRY(og_graph_add_input(g, "fc.B", OG_FLOAT, 1, (int64_t[]){ 10 }, NULL));
    TRY(add_random(g, "conv.W", 4, (int64_t[]){ 4, 1, 3, 3 }, 1));
    TRY(add_random(g, "conv.B", 1, (int64_t[]){ 4 }, 2));
    TRY(add_random(g, "fc.W", 2, (int64_t[]){ 10, 64 }, 3));
    TRY(add_random(g, "fc.B", 1, (int64_t[]){ 10 }, 4));
    TRY(og_graph_add_node(g, "Conv", NULL, "conv", 3, (const char *[]){ "image", "conv.W", "conv.B" }, 1,
                          (const char *[]){ "conv.out" }, 2,
                          (og_attr[]){ og_attr_ints("pads", 4, (int64_t[]){ 1, 1, 1, 1 }),
                                       og_attr_ints("kernel_shape", 2, (int64_t[]){ 3, 3 }) }));
    TRY(og_graph_add_node(g, "Relu", NULL, "relu", 1, (const char *[]){ "conv.out" }, 1,
                          (const char *[]){ "relu.out" }, 0, NULL));
    TRY(og_graph_add_node(g, "MaxPool", NULL, "pool", 1, (const char *[]){ "relu.out" }, 1,
                          (const char *[]){ "pool.out" }, 2,
                          (og_attr[]){ og_attr_ints("kernel_shape", 2, (int64_t[]){ 2, 2 }),
                                       og_attr_ints("strides", 2, (int64_t[]){ 2, 2 }) }));
    TRY(og_graph_add_node(g, "Flatten", NULL, "flatten", 1, (const char *[]){ "pool.out" }, 1,
                          (const char *[]){ "flat" }, 1, (og_attr[]){ og_attr_int("axis", 1) }));
    TRY(og_graph_add_node(g, "Gemm", NULL, "fc", 3, (const char *[]){ "flat", "fc.W", "fc.B" }, 1,
                          (const char *[]){ "logits" }, 1, (og_attr[]){ og_attr_int("transB", 1) }));
    TRY(og_graph_add_output(g, "logits"));
    TRY(og_graph_finalize(g));
    return 0;
}

static int run(const og_graph *g, const og_tensor *image, og_tensor **logits)
{
    og_plan *p;
    TRY(og_plan_create(g, &p));
    og_status st = og_plan_run(p, 1, &image, logits);
    og_plan_free(p);
    TRY(st);
    return 0;
}

static void print_shapes(const og_graph *g)
{
    static const char *const names[] = { "image", "conv.out", "relu.out", "pool.out", "flat", "logits" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        og_value_info vi;
        if (og_graph_value(g, names[k], &vi) != OG_OK)
            continue;
        printf("  %-9s %s [", vi.name, og_dtype_name(vi.dtype));
        for (int d = 0; d < vi.rank; d++)
            printf("%s%lld", d ? "," : "", (long long)vi.dims[d]);
        printf("]\n");
    }
}

/* The weights, in the order the gradient graph lists their gradients. */
static const char *const weights[] = { "conv.W", "conv.B", "fc.W", "fc.B" };
#define N_WEIGHTS 4

/* Gradient graph, float64 gradient check, then gradient descent on
 * L = 1/2 |logits - target|^2 (its gradient, logits - target, is the seed). */
static int gradients(const og_graph *g, const og_tensor *image, const char *path)
{
    og_grad_options opts = { .n_seeded = 1, .seeded = (const char *[]){ "logits" } };
    og_graph *gg;
    TRY(og_graph_build_gradient(g, &opts, &gg));
    char gpath[4096];
    snprintf(gpath, sizeof gpath, "%.4000s.grad.onnx", path);
    TRY(og_model_save_file(gg, gpath));
    printf("\ngradient graph: %d nodes (forward %d), outputs:", og_graph_num_nodes(gg), og_graph_num_nodes(g));
    for (int k = 0; k < og_graph_num_outputs(gg); k++) {
        og_value_info vi;
        TRY(og_graph_output(gg, k, &vi));
        printf(" %s", vi.name);
    }
    printf("\nsaved to %s\n", gpath);

    og_gradcheck_options co = { .seed = 1, .max_elements = 40 };
    og_gradcheck_report *r;
    TRY(og_gradcheck(g, &co, &r));
    printf("gradient check (float64, central differences, <= 40 elements per tensor):\n");
    for (int k = 0; k < r->n; k++)
        printf("  %-7s %4lld checked  max abs err %.2e  max rel err %.2e  %s\n", r->entries[k].name,
               (long long)r->entries[k].checked, r->entries[k].max_abs_err, r->entries[k].max_rel_err,
               r->entries[k].pass ? "PASS" : "FAIL");
    bool pass = r->pass;
    og_gradcheck_report_free(r);
    if (!pass) {
        og_graph_free(gg);
        fprintf(stderr, "demo: the gradient check failed\n");
        return 1;
    }

    /* Train: feed the weights as inputs, step against their gradients. */
    og_plan *p;
    og_tensor *w[N_WEIGHTS], *seed, *outs[1 + 5 + 1];
    TRY(og_plan_create(gg, &p));
    for (int k = 0; k < N_WEIGHTS; k++) {
        for (int i = 0; i < og_graph_num_initializers(g); i++) {
            const og_tensor *t;
            TRY(og_graph_initializer(g, i, &t));
            if (!strcmp(t->name, weights[k]))
                TRY(og_tensor_clone(t, &w[k]));
        }
    }
    TRY(og_tensor_create(OG_FLOAT, 2, (int64_t[]){ 1, 10 }, &seed));
    og_value_info seed_input;   /* the gradient graph's new input for dL/dlogits */
    TRY(og_graph_input(gg, og_graph_num_inputs(gg) - 1, &seed_input));
    TRY(og_tensor_set_name(seed, seed_input.name));
    og_plan *pf;
    TRY(og_plan_create(g, &pf));
    printf("training to make logits = one-hot(3), learning rate 0.05:\n");
    int n_out = og_graph_num_outputs(gg);
    double first = 0, loss = 0;
    for (int step = 0; step <= 30; step++) {
        /* The seed is dL/dlogits, so the forward pass comes first. */
        const og_tensor *feeds[6] = { image, w[0], w[1], w[2], w[3], seed };
        TRY(og_plan_run(pf, 5, feeds, outs));
        const float *logits = outs[0]->data;
        loss = 0;
        for (int i = 0; i < 10; i++) {
            float d = logits[i] - (i == 3 ? 1.0f : 0.0f);
            ((float *)seed->data)[i] = d;
            loss += 0.5 * d * d;
        }
        og_tensor_free(outs[0]);
        if (step == 0)
            first = loss;
        if (step % 10 == 0)
            printf("  step %2d  loss %.6f\n", step, loss);
        if (step == 30)
            break;
        TRY(og_plan_run(p, 6, feeds, outs));
        for (int k = 0; k < N_WEIGHTS; k++) {   /* gradients follow the image's in the outputs */
            const float *gw = outs[n_out - N_WEIGHTS + k]->data;
            float *wv = w[k]->data;
            for (int64_t i = 0; i < w[k]->numel; i++)
                wv[i] -= 0.05f * gw[i];
        }
        for (int k = 0; k < n_out; k++)
            og_tensor_free(outs[k]);
    }
    printf("loss %.6f -> %.6f\n", first, loss);
    for (int k = 0; k < N_WEIGHTS; k++)
        og_tensor_free(w[k]);
    og_tensor_free(seed);
    og_plan_free(p);
    og_plan_free(pf);
    og_graph_free(gg);
    return loss < first ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "small_cnn.onnx";
    og_graph *g = NULL, *reloaded = NULL;
    og_tensor *image, *a = NULL, *b = NULL;
    if (build(&g)) {
        og_graph_free(g);
        return 1;
    }
    printf("built small_cnn through the C API: %d nodes, %d initializers; inferred shapes:\n",
           og_graph_num_nodes(g), og_graph_num_initializers(g));
    print_shapes(g);
    TRY(og_model_save_file(g, path));
    printf("saved to %s\n", path);
    TRY(og_model_load_file(path, &reloaded));
    printf("reloaded %s: %d nodes\n", path, og_graph_num_nodes(reloaded));

    TRY(og_tensor_create(OG_FLOAT, 4, (int64_t[]){ 1, 1, 8, 8 }, &image));
    for (int k = 0; k < 64; k++)   /* a diagonal stroke */
        ((float *)image->data)[k] = (k / 8 == k % 8) ? 1.0f : 0.0f;
    if (run(g, image, &a) || run(reloaded, image, &b))
        return 1;
    double worst = 0;
    printf("logits (built / reloaded):\n");
    for (int k = 0; k < 10; k++) {
        float x = ((float *)a->data)[k], y = ((float *)b->data)[k];
        printf("  [%d] %+.6f  %+.6f\n", k, x, y);
        if (fabs((double)x - y) > worst)
            worst = fabs((double)x - y);
    }
    printf("max difference after the save/load round trip: %g\n", worst);
    int rc = worst == 0 ? 0 : 1;
    if (rc == 0)
        rc = gradients(g, image, path);
    og_tensor_free(image);
    og_tensor_free(a);
    og_tensor_free(b);
    og_graph_free(g);
    og_graph_free(reloaded);
    return rc;
}
