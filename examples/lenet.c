/* SPDX-License-Identifier: MIT */
/* lenet.c — LeNet-5 with onnxgrad's layer builder (onnxgrad/layers.h).
 *
 * Builds the network for 28x28 grey images (MNIST, Fashion-MNIST) on a
 * dynamic batch, saves it as ONNX, prints its inputs, outputs and
 * parameters, and runs one batch through it.
 *
 *     make                      # builds against the installed onnxgrad (pkg-config)
 *     ./lenet [OUT.onnx]        # default lenet.onnx
 *
 * Each step is a function of its own, so training (a data reader, a loss,
 * an optimiser loop) slots in between build_lenet and the save. */
#include <stdio.h>
#include <stdlib.h>
#include <onnxgrad/onnxgrad.h>

#define TRY(call)                                                              \
    do {                                                                       \
        if ((call) != OG_OK) {                                                 \
            fprintf(stderr, "lenet: %s: %s\n", #call, og_errmsg());            \
            goto fail;                                                         \
        }                                                                      \
    } while (0)

/* LeNet-5: conv 6@5x5 (pad 2), relu, maxpool 2; conv 16@5x5, relu,
 * maxpool 2; dense 120, 84, 10. Parameters are named as PyTorch names
 * them (conv1.weight, ..., fc3.bias) and start as torch.nn's defaults. */
static og_status build_lenet(uint64_t seed, og_graph **out)
{
    og_net *n;
    og_net_create("image", 4, (const int64_t[]){ -1, 1, 28, 28 }, seed, &n);
    og_net_conv(n, 6, 5, 1, 2);  og_net_relu(n);  og_net_maxpool(n, 2, 2);
    og_net_conv(n, 16, 5, 1, 0); og_net_relu(n);  og_net_maxpool(n, 2, 2);
    og_net_flatten(n);
    og_net_dense(n, 120); og_net_relu(n);
    og_net_dense(n, 84);  og_net_relu(n);
    og_net_dense(n, 10);
    return og_net_finish(n, "logits", out);   /* the first error, if any call failed */
}

/* "float [N,1,28,28]" */
static void print_value(const char *what, const og_value_info *v)
{
    printf("%s %s: %s [", what, v->name, og_dtype_name(v->dtype));
    for (int d = 0; d < v->rank; d++) {
        if (d)
            putchar(',');
        if (v->dim_params && v->dim_params[d])
            fputs(v->dim_params[d], stdout);
        else if (v->dims[d] < 0)
            putchar('?');
        else
            printf("%lld", (long long)v->dims[d]);
    }
    puts("]");
}

static og_status print_signature(const og_graph *g)
{
    og_value_info v;
    og_status st;
    int64_t params = 0;
    for (int k = 0; k < og_graph_num_inputs(g); k++) {
        if ((st = og_graph_input(g, k, &v)))
            return st;
        print_value("input", &v);
    }
    for (int k = 0; k < og_graph_num_outputs(g); k++) {
        if ((st = og_graph_output(g, k, &v)))
            return st;
        print_value("output", &v);
    }
    for (int k = 0; k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        if ((st = og_graph_initializer(g, k, &t)))
            return st;
        params += t->numel;
    }
    printf("%d nodes, %d parameter tensors, %lld parameters\n", og_graph_num_nodes(g),
           og_graph_num_initializers(g), (long long)params);
    return OG_OK;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "lenet.onnx";
    og_graph *g = NULL;
    og_plan *plan = NULL;
    og_tensor *x = NULL, *y = NULL;
    int rc = 1;

    TRY(build_lenet(42, &g));
    TRY(print_signature(g));
    TRY(og_model_save_file(g, path));
    printf("saved %s\n", path);

    /* one batch of 2 mid-grey images */
    TRY(og_plan_create(g, &plan));
    TRY(og_tensor_create(OG_FLOAT, 4, (const int64_t[]){ 2, 1, 28, 28 }, &x));
    for (int64_t k = 0; k < x->numel; k++)
        ((float *)x->data)[k] = 0.5f;
    TRY(og_plan_run(plan, 1, (const og_tensor *const[]){ x }, &y));
    printf("ran a batch of %lld: %s [%lld,%lld]\n", (long long)x->dims[0], y->name, (long long)y->dims[0],
           (long long)y->dims[1]);
    rc = 0;
fail:
    og_tensor_free(x);
    og_tensor_free(y);
    og_plan_free(plan);
    og_graph_free(g);
    return rc;
}
