/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 199309L
/* bench_conv.c — times Conv forward, dX (ConvTranspose) and dW (the fused
 * weight-gradient pattern) through og_plan_run for a few typical shapes.
 * dX and dW are the gradient graph's time minus the forward's (the gradient
 * graph recomputes Y). Usage: bench_conv [threads] [case] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <onnxgrad/onnxgrad.h>

typedef struct bc { const char *name; int64_t N, C, H, W, M, R, S, st, pad, G; } bc;
static const bc cases[] = {
    { "resnet3x3_64_56", 8, 64, 56, 56, 64, 3, 3, 1, 1, 1 },
    { "resnet3x3_128_28", 8, 128, 28, 28, 128, 3, 3, 1, 1, 1 },
    { "resnet3x3_s2_64_56", 8, 64, 56, 56, 128, 3, 3, 2, 1, 1 },
    { "first7x7_s2", 8, 3, 224, 224, 64, 7, 7, 2, 3, 1 },
    { "pointwise_256_14", 8, 256, 14, 14, 256, 1, 1, 1, 0, 1 },
    { "depthwise_256_28", 8, 256, 28, 28, 256, 3, 3, 1, 1, 256 },
    { "depthwise_128_56", 8, 128, 56, 56, 128, 3, 3, 1, 1, 128 },
    { "lenet_conv1", 64, 1, 28, 28, 6, 5, 5, 1, 0, 1 },
    { "r18_l4", 8, 512, 7, 7, 512, 3, 3, 1, 1, 1 },
    { "r18_l3", 8, 256, 14, 14, 256, 3, 3, 1, 1, 1 },
    { "r18_l1_b1", 1, 64, 56, 56, 64, 3, 3, 1, 1, 1 },
    { "lenet_conv2", 64, 6, 12, 12, 16, 5, 5, 1, 0, 1 },
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CK(x) do { og_status s_ = (x); if (s_) { fprintf(stderr, "%s: %s\n", #x, og_errmsg()); exit(1); } } while (0)

static og_tensor *rnd(int rank, const int64_t *d)
{
    og_tensor *t;
    CK(og_tensor_create(OG_FLOAT, rank, d, &t));
    for (int64_t i = 0; i < t->numel; i++)
        ((float *)t->data)[i] = (float)rand() / RAND_MAX - 0.5f;
    return t;
}

static double time_graph(const og_graph *g, int threads, int nf, og_tensor **feeds)
{
    og_plan *p;
    og_plan_options o = { .n_threads = threads };
    CK(og_plan_create_ex(g, &o, &p));
    const og_tensor *outs[4];
    CK(og_plan_run_borrowed(p, nf, (const og_tensor *const *)feeds, outs));
    double best = 1e30;
    int reps = getenv("BENCH_REPS") ? atoi(getenv("BENCH_REPS")) : 15;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        CK(og_plan_run_borrowed(p, nf, (const og_tensor *const *)feeds, outs));
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    og_plan_free(p);
    return best;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    const char *only = argc > 2 ? argv[2] : NULL;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const bc *b = &cases[c];
        if (only && strcmp(only, b->name))
            continue;
        og_graph *g;
        CK(og_graph_create(&g));
        CK(og_graph_set_opset(g, "", 17));
        int64_t xd[4] = { b->N, b->C, b->H, b->W }, wd[4] = { b->M, b->C / b->G, b->R, b->S };
        CK(og_graph_add_input(g, "X", OG_FLOAT, 4, xd, NULL));
        CK(og_graph_add_input(g, "W", OG_FLOAT, 4, wd, NULL));
        int64_t st[2] = { b->st, b->st }, pads[4] = { b->pad, b->pad, b->pad, b->pad };
        og_attr at[3] = { og_attr_ints("strides", 2, st), og_attr_ints("pads", 4, pads), og_attr_int("group", b->G) };
        const char *ins[2] = { "X", "W" }, *outs[1] = { "y" };
        CK(og_graph_add_node(g, "Conv", NULL, "conv", 2, ins, 1, outs, 3, at));
        CK(og_graph_add_output(g, "y"));
        CK(og_graph_finalize(g));
        og_value_info vi;
        CK(og_graph_value(g, "y", &vi));
        og_tensor *feeds[3] = { rnd(4, xd), rnd(4, wd), rnd(vi.rank, vi.dims) };
        const char *only_pass = getenv("BENCH_ONLY");   /* f, x or w: time one graph (for perf) */
        double tf = only_pass && *only_pass != 'f' ? 0 : time_graph(g, threads, 2, feeds);
        double td[2] = { 0, 0 };
        for (int k = 0; k < 2; k++) {
            if (only_pass && *only_pass != "xw"[k])
                continue;
            const char *wrt[1] = { k == 0 ? "X" : "W" }, *seeded[1] = { "y" };
            og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 1, .wrt = wrt };
            og_graph *gg;
            CK(og_graph_build_gradient(g, &o, &gg));
            td[k] = time_graph(gg, threads, 3, feeds) - tf;
            og_graph_free(gg);
        }
        double flops = 2.0 * b->N * b->M * vi.dims[2] * vi.dims[3] * (b->C / b->G) * b->R * b->S;
        if (getenv("BENCH_RAW"))
            printf("raw fwd %.3f gradX %.3f gradW %.3f\n", tf * 1e3, (td[0] + tf) * 1e3, (td[1] + tf) * 1e3);
        printf("%-20s %d thr  fwd %8.3f ms (%6.1f GF/s)  dX %8.3f ms (%6.1f)  dW %8.3f ms (%6.1f)\n", b->name,
               threads, tf * 1e3, flops / tf * 1e-9, td[0] * 1e3, flops / td[0] * 1e-9, td[1] * 1e3,
               flops / td[1] * 1e-9);
        for (int k = 0; k < 3; k++)
            og_tensor_free(feeds[k]);
        og_graph_free(g);
    }
    return 0;
}
