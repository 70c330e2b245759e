/* demo.c — the README's main job: build a small CNN
 * (Conv -> Relu -> MaxPool -> Flatten -> Gemm) through the C API, save it as
 * ONNX, load it back, run both, and show that they agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
    og_tensor_free(image);
    og_tensor_free(a);
    og_tensor_free(b);
    og_graph_free(g);
    og_graph_free(reloaded);
    return worst == 0 ? 0 : 1;
}
