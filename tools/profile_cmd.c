/* SPDX-License-Identifier: MIT */
/* profile_cmd.c — where a model's time goes, and how fast it runs:
 *
 *     onnxgrad profile MODEL.onnx [--gradient (--loss NAME | --seed-inputs NAMES)] [-r N] [--json]
 *     onnxgrad bench MODEL.onnx [--grad (--loss NAME | --seed-inputs NAMES)] [-r N] [--json]
 *
 * Both feed the given tensors (--inputs, -i) and random ones for the rest
 * (a fixed seed, so two runs see the same data), run --warmup times
 * untimed, then -r times. profile records every kernel step with the
 * library's profiler (onnxgrad/profile.h) and sums it per op type and per
 * kernel; bench times whole runs. Also the Chrome trace writer behind
 * `run --profile` and `grad --profile` (cli_trace_begin/end). Only the
 * public API. */
#define _POSIX_C_SOURCE 200809L

#include "profile_cmd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "json.h"

/* ---- help --------------------------------------------------------------- */

const char HELP_PROFILE[] =
    "usage: onnxgrad profile MODEL.onnx [--inputs DIR] [-i NAME=FILE.pb]...\n"
    "           [--gradient (--loss NAME | --seed-inputs NAME,...) [--wrt NAME,...]]\n"
    "           [-r N] [--warmup K] [--top N] [--profile TRACE.json] [--json]\n"
    "           [--dim NAME=N]... [--input-shape NAME=D,D,...]...\n"
    "\n"
    "Runs MODEL.onnx K times untimed, then N times with every kernel step\n"
    "recorded, and prints where the time went: per op type the calls, total\n"
    "milliseconds, share of the kernel time, GFLOP/s and GB/s (FLOPs from the\n"
    "ops' cost formulas, bytes read + written; '-' where an op has no formula),\n"
    "then the slowest kernels. A fused kernel (a pattern covering several\n"
    "nodes) counts as \"<op type> (fused)\", the op type of the node it ends\n"
    "in. Inputs not given are random (uniform in [-1, 1), integers 0, a fixed\n"
    "seed; symbolic dims 1 unless --dim N=V or --input-shape NAME=D,D... fixes\n"
    "them). Only compiled plans are profiled (static shapes).\n"
    "\n"
    "options:\n"
    "  --gradient             profile the training step: the forward graph and\n"
    "                         its gradient graph (as gradient-graph builds it)\n"
    "  --loss NAME            with --gradient: the scalar output differentiated\n"
    "  --seed-inputs NAME,... with --gradient: outputs whose upstream gradients\n"
    "                         become inputs (random)\n"
    "  --wrt NAME,...         with --gradient: what to differentiate with respect\n"
    "                         to (default: every float input and initializer)\n"
    "  --inputs DIR, -i NAME=FILE  inputs, as for run (the rest are random)\n"
    CLI_HELP_SHAPES
    "  -r, --repeat N         profiled runs (default 10)\n"
    "  --warmup K             untimed runs first (default 2)\n"
    "  --top N                kernels listed (default 10)\n"
    "  --profile FILE         also write the profiled runs as a Chrome trace\n"
    "                         (open in Perfetto or chrome://tracing)\n"
    "  --json                 print {model, gradient, threads, repeat, warmup,\n"
    "                         steps, kernel_ms, ops [{op_type, fused, calls,\n"
    "                         total_ms, share, flops, bytes, gflops, gbps}],\n"
    "                         kernels [{op_type, fused, kernel, isa, calls,\n"
    "                         total_ms, share}]};\n"
    "                         flops/gflops null where unknown\n"
    "  --threads N            kernel threads\n"
    "  -h, --help             show this help\n";

const char HELP_BENCH[] =
    "usage: onnxgrad bench MODEL.onnx [--inputs DIR] [-i NAME=FILE.pb]...\n"
    "           [--grad (--loss NAME | --seed-inputs NAME,...) [--wrt NAME,...]]\n"
    "           [-r N] [--warmup K] [--json]\n"
    "           [--dim NAME=N]... [--input-shape NAME=D,D,...]...\n"
    "\n"
    "Times loading MODEL.onnx, planning it, then K untimed and N timed runs,\n"
    "and prints min/median/p90 latency, throughput (runs/s, and samples/s\n"
    "when input 0 has a batch dim), the plan's arena and scratch bytes and\n"
    "the process's peak resident memory. With --grad the same for the\n"
    "training step (forward + backward, the gradient graph) after the forward\n"
    "runs. Inputs not given are random, as for profile (symbolic dims 1 unless\n"
    "--dim or --input-shape fixes them).\n"
    "\n"
    "options:\n"
    "  --grad                 also time forward + backward\n"
    "  --loss NAME            with --grad: the scalar output differentiated\n"
    "  --seed-inputs NAME,... with --grad: outputs seeded with random gradients\n"
    "  --wrt NAME,...         with --grad: what to differentiate with respect to\n"
    "  --inputs DIR, -i NAME=FILE  inputs, as for run (the rest are random)\n"
    CLI_HELP_SHAPES
    "  -r, --repeat N         timed runs (default 10)\n"
    "  --warmup K             untimed runs first (default 2)\n"
    "  --json                 print {model, threads, load_ms, plan_ms, repeat,\n"
    "                         warmup, forward {plan_ms, min_ms, median_ms, p90_ms,\n"
    "                         runs_per_s, samples_per_s, arena_bytes,\n"
    "                         workspace_bytes}, forward_backward {build_ms, the\n"
    "                         same} (with --grad), peak_rss_bytes}\n"
    "  --threads N            kernel threads\n"
    "  -h, --help             show this help\n";

/* ---- the Chrome trace ---------------------------------------------------- */

static void json_shapes(json_writer *w, int n, const og_profile_shape *s)
{
    json_begin_array(w);
    for (int k = 0; k < n; k++)
        json_int_array(w, s[k].rank, s[k].dims);
    json_end_array(w);
}

int cli_write_trace(const og_profiler *prof, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return cli_fail("cannot write the trace '%s'", path);
    int n = og_profiler_num_events(prof);
    int64_t origin = INT64_MAX;
    for (int k = 0; k < n; k++) {
        og_profile_event ev;
        if (og_profiler_event(prof, k, &ev) == OG_OK && ev.start_ns < origin)
            origin = ev.start_ns;
    }
    json_writer w;
    json_init(&w, f);
    json_begin_object(&w);
    json_key(&w, "traceEvents");
    json_begin_array(&w);
    long pid = (long)getpid();
    for (int k = 0; k < n; k++) {
        og_profile_event ev;
        if (og_profiler_event(prof, k, &ev))
            continue;
        json_begin_object(&w);
        json_key_string(&w, "name", ev.node);
        json_key_string(&w, "cat", "kernel");
        json_key_string(&w, "ph", "X");
        json_key_number(&w, "ts", (double)(ev.start_ns - origin) / 1e3);
        json_key_number(&w, "dur", (double)(ev.end_ns - ev.start_ns) / 1e3);
        json_key_int(&w, "pid", pid);
        json_key_int(&w, "tid", ev.tid);
        json_key(&w, "args");
        json_begin_object(&w);
        json_key_string(&w, "op_type", ev.op_type);
        json_key_string(&w, "kernel", ev.kernel);
        json_key_string(&w, "isa", ev.isa);
        json_key(&w, "nodes");
        json_begin_array(&w);
        for (int j = 0; j < ev.n_nodes; j++)
            json_string(&w, ev.nodes[j]);
        json_end_array(&w);
        json_key(&w, "input_shapes");
        json_shapes(&w, ev.n_inputs, ev.inputs);
        json_key(&w, "output_shapes");
        json_shapes(&w, ev.n_outputs, ev.outputs);
        json_key_int(&w, "bytes", ev.bytes);
        json_key(&w, "flops");
        if (ev.flops < 0)
            json_null(&w);
        else
            json_int(&w, ev.flops);
        json_key_int(&w, "run", ev.run);
        json_key_int(&w, "step", ev.step);
        json_key_int(&w, "threads", ev.n_threads);
        json_end_object(&w);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key_string(&w, "displayTimeUnit", "ms");
    json_end_object(&w);
    bool bad = ferror(f) != 0;
    if (fclose(f) || bad)
        return cli_fail("error writing the trace '%s'", path);
    return EXIT_OK;
}

og_profiler *cli_trace_begin(const char *path)
{
    og_profiler *prof = NULL;
    if (path && og_profiler_create(&prof) == OG_OK)
        og_profiler_attach_thread(prof);
    return prof;
}

int cli_trace_end(og_profiler *prof, const char *path, int rc)
{
    if (!path)
        return rc;
    og_profiler_attach_thread(NULL);
    if (!prof)
        return rc ? rc : cli_fail("out of memory creating a profiler");
    if (rc == EXIT_OK)
        rc = cli_write_trace(prof, path);
    og_profiler_free(prof);
    return rc;
}

/* ---- options ------------------------------------------------------------- */

enum { P_INPUT, P_INPUTS, P_GRAD, P_LOSS, P_SEED_INPUTS, P_WRT, P_REPEAT, P_WARMUP, P_TOP, P_JSON, P_TRACE };


typedef struct prof_args {
    const char *cmd, *model, *indir, *loss, *trace;
    cli_names specs, seeded, wrt;
    bool grad, json;
    long repeat, warmup, top;
} prof_args;

static int take_prof(void *user, int id, const char *opt, char *v)
{
    prof_args *a = user;
    switch (id) {
    case P_INPUT:
        if (!strchr(v, '=') || v[0] == '=')
            return cli_usage_error(a->cmd, "%s expects NAME=FILE.pb, got '%s'", opt, v);
        return cli_names_push(&a->specs, v);
    case P_INPUTS:
        if (a->indir)
            return cli_usage_error(a->cmd, "--inputs given twice");
        a->indir = v;
        return EXIT_OK;
    case P_GRAD:
        a->grad = true;
        return EXIT_OK;
    case P_LOSS:
        if (a->loss)
            return cli_usage_error(a->cmd, "--loss given twice");
        a->loss = v;
        return EXIT_OK;
    case P_SEED_INPUTS:
        return cli_names_split(a->cmd, opt, v, &a->seeded);
    case P_WRT:
        return cli_names_split(a->cmd, opt, v, &a->wrt);
    case P_REPEAT:
        return cli_parse_count(a->cmd, opt, v, 1, 1000000, &a->repeat);
    case P_WARMUP:
        return cli_parse_count(a->cmd, opt, v, 0, 1000000, &a->warmup);
    case P_TOP:
        return cli_parse_count(a->cmd, opt, v, 1, 1000000, &a->top);
    case P_JSON:
        a->json = true;
        return EXIT_OK;
    case P_TRACE:
        a->trace = v;
        return EXIT_OK;
    }
    return EXIT_OK;
}

static const cli_option PROFILE_OPTS[] = {
    { "input", 'i', true, P_INPUT, NULL },
    { "inputs", 0, true, P_INPUTS, NULL },
    { "gradient", 0, false, P_GRAD, NULL },
    { "loss", 0, true, P_LOSS, NULL },
    { "seed-inputs", 0, true, P_SEED_INPUTS, NULL },
    { "wrt", 0, true, P_WRT, NULL },
    { "repeat", 'r', true, P_REPEAT, NULL },
    { "warmup", 0, true, P_WARMUP, NULL },
    { "top", 0, true, P_TOP, NULL },
    { "json", 0, false, P_JSON, NULL },
    { "profile", 0, true, P_TRACE, NULL },
    { NULL, 0, false, 0, NULL },
};

static const cli_option BENCH_OPTS[] = {
    { "input", 'i', true, P_INPUT, NULL },
    { "inputs", 0, true, P_INPUTS, NULL },
    { "grad", 0, false, P_GRAD, NULL },
    { "loss", 0, true, P_LOSS, NULL },
    { "seed-inputs", 0, true, P_SEED_INPUTS, NULL },
    { "wrt", 0, true, P_WRT, NULL },
    { "repeat", 'r', true, P_REPEAT, NULL },
    { "warmup", 0, true, P_WARMUP, NULL },
    { "json", 0, false, P_JSON, NULL },
    { NULL, 0, false, 0, NULL },
};

static int parse(prof_args *a, const cli_command *c, int argc, char **argv, bool *help)
{
    char **args;
    int n_args;
    cli_take_extras(CLI_SHAPES);   /* --dim, --input-shape */
    int rc = cli_parse(c, argc, argv, take_prof, a, &args, &n_args, help);
    if (rc || *help)
        return rc;
    a->model = args[0];
    const char *gopt = !strcmp(a->cmd, "bench") ? "--grad" : "--gradient";
    if (a->grad && !a->loss && a->seeded.n == 0)
        return cli_usage_error(a->cmd, "%s needs --loss NAME or --seed-inputs NAME,...", gopt);
    if (a->grad && a->loss && a->seeded.n > 0)
        return cli_usage_error(a->cmd, "--loss cannot be combined with --seed-inputs");
    if (!a->grad && (a->loss || a->seeded.n > 0 || a->wrt.n > 0))
        return cli_usage_error(a->cmd, "--loss, --seed-inputs and --wrt need %s", gopt);
    return EXIT_OK;
}

/* ---- feeds --------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static bool is_initializer(const og_graph *g, const char *name)
{
    for (int k = 0; k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        if (og_graph_initializer(g, k, &t) == OG_OK && t->name && !strcmp(t->name, name))
            return true;
    }
    return false;
}

/* Appends a random tensor for every input of g without an initializer
 * that f does not hold yet. */
static int random_feeds(const og_graph *g, cli_feeds *f)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (int k = 0; k < og_graph_num_inputs(g); k++) {
        og_value_info vi;
        og_status st = og_graph_input(g, k, &vi);
        if (st)
            return cli_fail_og(st);
        bool have = false;
        for (int j = 0; j < f->n && !have; j++)
            have = f->t[j]->name && !strcmp(f->t[j]->name, vi.name);
        if (have || is_initializer(g, vi.name))
            continue;
        if (vi.rank < 0)
            return cli_fail("input '%s' has an unknown rank; give it with -i %s=FILE.pb", vi.name, vi.name);
        int64_t dims[16];
        if (vi.rank > 16)
            return cli_fail("input '%s' has rank %d; give it with -i %s=FILE.pb", vi.name, vi.rank, vi.name);
        for (int d = 0; d < vi.rank; d++)
            dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
        og_tensor *t;
        if ((st = og_tensor_create(vi.dtype, vi.rank, dims, &t)))
            return cli_fail_og_in(vi.name, st);
        if (og_tensor_set_name(t, vi.name)) {
            og_tensor_free(t);
            return cli_fail("out of memory");
        }
        if (vi.dtype == OG_FLOAT || vi.dtype == OG_DOUBLE) {
            for (int64_t i = 0; i < t->numel; i++) {
                double x = (double)(rng_next(&seed) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
                if (vi.dtype == OG_FLOAT)
                    ((float *)t->data)[i] = (float)x;
                else
                    ((double *)t->data)[i] = x;
            }
        } else {
            memset(t->data, 0, (size_t)t->numel * og_dtype_size(t->dtype));
        }
        if (cli_feeds_push(f, t))
            return EXIT_FAIL;
    }
    return EXIT_OK;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + 1e-6 * (double)t.tv_nsec;
}

/* The graph to run: the model, or (grad) its gradient graph. *gg is the
 * gradient graph to free, NULL otherwise. */
static int graph_to_run(const prof_args *a, og_graph *g, og_graph **gg, double *build_ms)
{
    *gg = NULL;
    if (!a->grad)
        return EXIT_OK;
    og_grad_options o = { .loss = a->loss, .n_seeded = a->seeded.n, .seeded = a->seeded.v, .n_wrt = a->wrt.n,
                          .wrt = a->wrt.v };
    double t0 = now_ms();
    og_status st = og_graph_build_gradient(g, &o, gg);
    if (build_ms)
        *build_ms = now_ms() - t0;
    return st ? cli_fail_og_in(a->model, st) : EXIT_OK;
}

/* Runs p once on f, freeing the outputs. */
static int run_once(const char *model, og_plan *p, const og_graph *g, const cli_feeds *f)
{
    int n_out = og_graph_num_outputs(g);
    const og_tensor **outs = calloc((size_t)n_out + 1, sizeof *outs);
    if (!outs)
        return cli_fail("out of memory");
    og_status st = og_plan_run_borrowed(p, f->n, (const og_tensor *const *)f->t, outs);
    free(outs);
    return st ? cli_fail_og_in(model, st) : EXIT_OK;
}

/* ---- profile ------------------------------------------------------------- */

typedef struct agg {
    const char *op_type, *kernel, *isa;
    bool fused;                 /* the step covers several nodes (a pattern's kernel) */
    long calls;
    int64_t ns, bytes, flops;   /* flops -1: some call unknown */
} agg;

static int cmp_agg(const void *x, const void *y)
{
    const agg *a = x, *b = y;
    return a->ns > b->ns ? -1 : a->ns < b->ns;
}

/* Sums the events per op type (by_kernel false) or per op type + kernel. */
static int aggregate(const og_profiler *prof, bool by_kernel, agg **out, int *n_out, int64_t *total_ns)
{
    int n = og_profiler_num_events(prof), m = 0;
    agg *a = calloc((size_t)n + 1, sizeof *a);
    if (!a)
        return cli_fail("out of memory");
    *total_ns = 0;
    for (int k = 0; k < n; k++) {
        og_profile_event ev;
        if (og_profiler_event(prof, k, &ev))
            continue;
        int j = 0;
        bool fused = ev.n_nodes > 1;
        while (j < m && (strcmp(a[j].op_type, ev.op_type) || a[j].fused != fused ||
                         (by_kernel && (strcmp(a[j].kernel, ev.kernel) || strcmp(a[j].isa, ev.isa)))))
            j++;
        if (j == m)
            a[m++] = (agg){ ev.op_type, ev.kernel, ev.isa, fused, 0, 0, 0, 0 };
        int64_t ns = ev.end_ns - ev.start_ns;
        a[j].calls++;
        a[j].ns += ns;
        a[j].bytes += ev.bytes;
        a[j].flops = a[j].flops < 0 || ev.flops < 0 ? -1 : a[j].flops + ev.flops;
        *total_ns += ns;
    }
    qsort(a, (size_t)m, sizeof *a, cmp_agg);
    *out = a;
    *n_out = m;
    return EXIT_OK;
}

static void print_profile(const prof_args *a, const agg *ops, int n_ops, const agg *ks, int n_ks, int64_t total,
                          int threads, int steps)
{
    double tot_ms = (double)total / 1e6;
    printf("profile %s%s: %d steps, %d threads, %ld runs after %ld warm-up; kernel time %.3f ms per run\n\n",
           a->model, a->grad ? " (forward + gradient)" : "", steps, threads, a->repeat, a->warmup,
           tot_ms / (double)a->repeat);
    printf("%-24s %7s %11s %9s %7s %9s %8s\n", "op type", "calls", "total ms", "ms/run", "share", "GFLOP/s", "GB/s");
    for (int k = 0; k < n_ops; k++) {
        double ms = (double)ops[k].ns / 1e6, s = (double)ops[k].ns / 1e9;
        char gf[32] = "-", gb[32] = "-";
        if (ops[k].flops >= 0 && s > 0)
            snprintf(gf, sizeof gf, "%.2f", (double)ops[k].flops / s / 1e9);
        if (s > 0)
            snprintf(gb, sizeof gb, "%.2f", (double)ops[k].bytes / s / 1e9);
        char op[96];
        snprintf(op, sizeof op, "%s%s", ops[k].op_type, ops[k].fused ? " (fused)" : "");
        printf("%-24s %7ld %11.3f %9.3f %6.1f%% %9s %8s\n", op, ops[k].calls, ms,
               ms / (double)a->repeat, total > 0 ? 100.0 * (double)ops[k].ns / (double)total : 0.0, gf, gb);
    }
    printf("%-24s %7s %11.3f %9.3f %6.1f%%\n", "total", "", tot_ms, tot_ms / (double)a->repeat, 100.0);
    printf("(fused): kernels computing several nodes at once, counted under the op\n"
           "type of the node they end in (a Transpose (fused) is the Conv weight\n"
           "gradient pattern, conv_grad_w); GFLOP/s '-': an op without a formula\n");
    printf("\ntop kernels:\n");
    printf("%-56s %7s %11s %7s\n", "op type:kernel (isa)", "calls", "total ms", "share");
    for (int k = 0; k < n_ks && k < a->top; k++) {
        char name[160];
        snprintf(name, sizeof name, "%s:%s (%s)", ks[k].op_type, ks[k].kernel, ks[k].isa);
        printf("%-56s %7ld %11.3f %6.1f%%\n", name, ks[k].calls, (double)ks[k].ns / 1e6,
               total > 0 ? 100.0 * (double)ks[k].ns / (double)total : 0.0);
    }
}

static void json_profile(const prof_args *a, const agg *ops, int n_ops, const agg *ks, int n_ks, int64_t total,
                         int threads, int steps)
{
    json_writer w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_key_string(&w, "model", a->model);
    json_key_bool(&w, "gradient", a->grad);
    json_key_int(&w, "threads", threads);
    json_key_int(&w, "repeat", a->repeat);
    json_key_int(&w, "warmup", a->warmup);
    json_key_int(&w, "steps", steps);
    json_key_number(&w, "kernel_ms", (double)total / 1e6);
    json_key(&w, "ops");
    json_begin_array(&w);
    for (int k = 0; k < n_ops; k++) {
        double s = (double)ops[k].ns / 1e9;
        json_begin_object(&w);
        json_key_string(&w, "op_type", ops[k].op_type);
        json_key_bool(&w, "fused", ops[k].fused);
        json_key_int(&w, "calls", ops[k].calls);
        json_key_number(&w, "total_ms", (double)ops[k].ns / 1e6);
        json_key_number(&w, "share", total > 0 ? 100.0 * (double)ops[k].ns / (double)total : 0.0);
        json_key(&w, "flops");
        if (ops[k].flops < 0)
            json_null(&w);
        else
            json_int(&w, ops[k].flops);
        json_key_int(&w, "bytes", ops[k].bytes);
        json_key(&w, "gflops");
        if (ops[k].flops < 0 || s <= 0)
            json_null(&w);
        else
            json_number(&w, (double)ops[k].flops / s / 1e9);
        json_key(&w, "gbps");
        if (s <= 0)
            json_null(&w);
        else
            json_number(&w, (double)ops[k].bytes / s / 1e9);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key(&w, "kernels");
    json_begin_array(&w);
    for (int k = 0; k < n_ks && k < a->top; k++) {
        json_begin_object(&w);
        json_key_string(&w, "op_type", ks[k].op_type);
        json_key_bool(&w, "fused", ks[k].fused);
        json_key_string(&w, "kernel", ks[k].kernel);
        json_key_string(&w, "isa", ks[k].isa);
        json_key_int(&w, "calls", ks[k].calls);
        json_key_number(&w, "total_ms", (double)ks[k].ns / 1e6);
        json_key_number(&w, "share", total > 0 ? 100.0 * (double)ks[k].ns / (double)total : 0.0);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_end_object(&w);
}

static void args_free(prof_args *a)
{
    free(a->specs.v);
    free(a->seeded.v);
    free(a->wrt.v);
}

int cmd_profile(int argc, char **argv)
{
    static const cli_command c = { "profile", HELP_PROFILE, PROFILE_OPTS, 1, 1, "missing the model" };
    prof_args a = { .cmd = "profile", .repeat = 10, .warmup = 2, .top = 10 };
    bool help = false;
    og_graph *g = NULL, *gg = NULL;
    og_plan *p = NULL;
    og_profiler *prof = NULL;
    cli_feeds f = { 0 };
    agg *ops = NULL, *ks = NULL;
    og_status st;
    int rc = parse(&a, &c, argc, argv, &help);
    if (rc || help)
        goto done;
    rc = EXIT_FAIL;
    if ((st = og_model_load_file(a.model, &g))) {
        rc = cli_fail_og(st);
        goto done;
    }
    if (cli_apply_shape_overrides(g, a.model) || cli_load_feeds(g, a.model, a.indir, a.specs.n, a.specs.v, &f, NULL) ||
        graph_to_run(&a, g, &gg, NULL))
        goto done;
    const og_graph *run_g = gg ? gg : g;
    if (random_feeds(run_g, &f))
        goto done;
    if ((st = og_plan_create(run_g, &p))) {
        rc = cli_fail_og_in(a.model, st);
        goto done;
    }
    for (long r = 0; r < a.warmup; r++)
        if (run_once(a.model, p, run_g, &f))
            goto done;
    if ((st = og_profiler_create(&prof)) || (st = og_plan_set_profiler(p, prof))) {
        rc = cli_fail_og(st);
        goto done;
    }
    for (long r = 0; r < a.repeat; r++)
        if (run_once(a.model, p, run_g, &f))
            goto done;
    og_plan_set_profiler(p, NULL);
    /* a plan with symbolic input dims compiles one for the inputs' shapes,
     * whose steps the events are; one whose shapes depend on data records none */
    int steps = og_profiler_num_events(prof) / (int)a.repeat;
    if (steps == 0) {
        rc = cli_fail("%s: the plan runs node by node (shapes known only at run time), which is not profiled",
                      a.model);
        goto done;
    }
    int n_ops, n_ks;
    int64_t total;
    if (aggregate(prof, false, &ops, &n_ops, &total) || aggregate(prof, true, &ks, &n_ks, &total))
        goto done;
    if (a.json)
        json_profile(&a, ops, n_ops, ks, n_ks, total, og_plan_num_threads(p), steps);
    else
        print_profile(&a, ops, n_ops, ks, n_ks, total, og_plan_num_threads(p), steps);
    rc = a.trace ? cli_write_trace(prof, a.trace) : EXIT_OK;
done:
    free(ops);
    free(ks);
    og_profiler_free(prof);
    og_plan_free(p);
    cli_feeds_free(&f);
    og_graph_free(gg);
    og_graph_free(g);
    args_free(&a);
    return rc;
}

/* ---- bench --------------------------------------------------------------- */

typedef struct timing {
    double plan_ms, build_ms, min_ms, median_ms, p90_ms, runs_per_s, samples_per_s;
    size_t arena, workspace;
    int threads;
    bool have;
} timing;

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Plans run_g and times a->warmup + a->repeat runs into *t. */
static int time_graph(const prof_args *a, const og_graph *run_g, const cli_feeds *f, int64_t batch, timing *t)
{
    og_plan *p = NULL;
    double *ms = calloc((size_t)a->repeat, sizeof *ms);
    int rc = EXIT_FAIL;
    if (!ms)
        return cli_fail("out of memory");
    double t0 = now_ms();
    og_status st = og_plan_create(run_g, &p);
    t->plan_ms = now_ms() - t0;
    if (st) {
        rc = cli_fail_og_in(a->model, st);
        goto done;
    }
    for (long r = 0; r < a->warmup; r++)
        if (run_once(a->model, p, run_g, f))
            goto done;
    for (long r = 0; r < a->repeat; r++) {
        double r0 = now_ms();
        if (run_once(a->model, p, run_g, f))
            goto done;
        ms[r] = now_ms() - r0;
    }
    qsort(ms, (size_t)a->repeat, sizeof *ms, cmp_double);
    long n = a->repeat;
    t->min_ms = ms[0];
    t->median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    long i90 = (long)(0.9 * (double)(n - 1) + 0.5);
    t->p90_ms = ms[i90];
    t->runs_per_s = t->median_ms > 0 ? 1e3 / t->median_ms : 0;
    t->samples_per_s = batch > 0 ? t->runs_per_s * (double)batch : 0;
    og_plan_memory(p, &t->arena, &t->workspace);
    t->threads = og_plan_num_threads(p);
    t->have = true;
    rc = EXIT_OK;
done:
    free(ms);
    og_plan_free(p);
    return rc;
}

static void print_timing(const char *what, const timing *t, bool grad)
{
    printf("%s:\n", what);
    if (grad)
        printf("  build      %10.3f ms (the gradient graph)\n", t->build_ms);
    printf("  plan       %10.3f ms\n", t->plan_ms);
    printf("  latency    min %.3f ms, median %.3f ms, p90 %.3f ms\n", t->min_ms, t->median_ms, t->p90_ms);
    printf("  throughput %.2f runs/s", t->runs_per_s);
    if (t->samples_per_s > 0)
        printf(", %.1f samples/s", t->samples_per_s);
    printf("\n  memory     arena %.2f MiB, scratch %.2f MiB\n", (double)t->arena / 1048576.0,
           (double)t->workspace / 1048576.0);
}

static void json_timing(json_writer *w, const char *key, const timing *t, bool grad)
{
    json_key(w, key);
    json_begin_object(w);
    if (grad)
        json_key_number(w, "build_ms", t->build_ms);
    json_key_number(w, "plan_ms", t->plan_ms);
    json_key_number(w, "min_ms", t->min_ms);
    json_key_number(w, "median_ms", t->median_ms);
    json_key_number(w, "p90_ms", t->p90_ms);
    json_key_number(w, "runs_per_s", t->runs_per_s);
    json_key(w, "samples_per_s");
    if (t->samples_per_s > 0)
        json_number(w, t->samples_per_s);
    else
        json_null(w);
    json_key_int(w, "arena_bytes", (int64_t)t->arena);
    json_key_int(w, "workspace_bytes", (int64_t)t->workspace);
    json_end_object(w);
}

int cmd_bench(int argc, char **argv)
{
    static const cli_command c = { "bench", HELP_BENCH, BENCH_OPTS, 1, 1, "missing the model" };
    prof_args a = { .cmd = "bench", .repeat = 10, .warmup = 2 };
    bool help = false;
    og_graph *g = NULL, *gg = NULL;
    cli_feeds f = { 0 };
    timing fwd = { 0 }, bwd = { 0 };
    og_status st;
    int rc = parse(&a, &c, argc, argv, &help);
    if (rc || help)
        goto done;
    rc = EXIT_FAIL;
    double t0 = now_ms();
    if ((st = og_model_load_file(a.model, &g))) {
        rc = cli_fail_og(st);
        goto done;
    }
    double load_ms = now_ms() - t0;
    if (cli_apply_shape_overrides(g, a.model) || cli_load_feeds(g, a.model, a.indir, a.specs.n, a.specs.v, &f, NULL) ||
        random_feeds(g, &f))
        goto done;
    int64_t batch = 0;
    og_value_info vi;
    if (og_graph_num_inputs(g) > 0 && og_graph_input(g, 0, &vi) == OG_OK && vi.rank >= 2)
        batch = vi.dims[0] < 0 ? 1 : vi.dims[0];
    if (time_graph(&a, g, &f, batch, &fwd))
        goto done;
    if (a.grad) {
        if (graph_to_run(&a, g, &gg, &bwd.build_ms) || random_feeds(gg, &f) || time_graph(&a, gg, &f, batch, &bwd))
            goto done;
    }
    struct rusage ru;
    int64_t rss = getrusage(RUSAGE_SELF, &ru) == 0 ? (int64_t)ru.ru_maxrss * 1024 : -1;   /* Linux: KiB */
    int threads = fwd.threads;
    if (a.json) {
        json_writer w;
        json_init(&w, stdout);
        json_begin_object(&w);
        json_key_string(&w, "model", a.model);
        json_key_int(&w, "threads", threads);
        json_key_number(&w, "load_ms", load_ms);
        json_key_number(&w, "plan_ms", fwd.plan_ms);
        json_key_int(&w, "repeat", a.repeat);
        json_key_int(&w, "warmup", a.warmup);
        json_timing(&w, "forward", &fwd, false);
        if (a.grad)
            json_timing(&w, "forward_backward", &bwd, true);
        json_key_int(&w, "peak_rss_bytes", rss);
        json_end_object(&w);
    } else {
        printf("bench %s: %d threads, %ld runs after %ld warm-up\n", a.model, threads, a.repeat, a.warmup);
        printf("load         %10.3f ms\n", load_ms);
        print_timing("forward", &fwd, false);
        if (a.grad)
            print_timing("forward + backward", &bwd, true);
        printf("peak RSS     %.1f MiB (the whole process)\n", (double)rss / 1048576.0);
    }
    rc = EXIT_OK;
done:
    cli_feeds_free(&f);
    og_graph_free(gg);
    og_graph_free(g);
    args_free(&a);
    return rc;
}

/* ---- info: FLOPs per op type --------------------------------------------- */

typedef struct op_flops {
    const char *op;
    int64_t flops;   /* -1: some node unknown */
} op_flops;

static int cmp_op_flops(const void *x, const void *y)
{
    return strcmp(((const op_flops *)x)->op, ((const op_flops *)y)->op);
}

void cli_info_flops(const og_graph *g, struct json_writer *w)
{
    int n = og_graph_num_nodes(g), m = 0;
    op_flops *t = calloc((size_t)n + 1, sizeof *t);
    if (!t)
        return;
    int64_t total = 0;
    bool unknown = false;
    for (int k = 0; k < n; k++) {
        const char *op, *name;
        int64_t f;
        if (og_graph_node(g, k, &op, &name) || og_graph_node_cost(g, k, &f, NULL))
            f = -1;
        int j = 0;
        while (j < m && strcmp(t[j].op, op))
            j++;
        if (j == m)
            t[m++] = (op_flops){ op, 0 };
        t[j].flops = t[j].flops < 0 || f < 0 ? -1 : t[j].flops + f;
        if (f < 0)
            unknown = true;
        else
            total += f;
    }
    qsort(t, (size_t)m, sizeof *t, cmp_op_flops);
    if (w) {
        json_begin_object(w);
        for (int k = 0; k < m; k++) {
            json_key(w, t[k].op);
            if (t[k].flops < 0)
                json_null(w);
            else
                json_int(w, t[k].flops);
        }
        json_end_object(w);
    } else {
        printf("flops (for the inferred shapes; unknown: a symbolic dim or no formula for the op):\n");
        for (int k = 0; k < m; k++) {
            if (t[k].flops < 0)
                printf("  %s: unknown\n", t[k].op);
            else
                printf("  %s: %lld\n", t[k].op, (long long)t[k].flops);
        }
        printf("  total: %lld%s\n", (long long)total, unknown ? " (+ unknown)" : "");
    }
    free(t);
}
