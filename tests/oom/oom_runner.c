/* SPDX-License-Identifier: MIT */
/* oom_runner.c — allocation-failure injection over every fixture model.
 *
 *   og_oom_runner NODE_DIR CASES.txt TMPDIR
 *
 * For each conformance case listed in CASES.txt (NODE_DIR/<case>/model.onnx
 * with test_data_set_0/input_*.pb), for a Conv->Relu->MaxPool->Flatten->
 * Gemm graph built through the C API, and for that graph with a training
 * info (loaded from a file; its algorithm graph is built too), the whole life of a model — build or
 * load (which validates and infers shapes), plan, run, build the gradient
 * graph (every float output seeded, every float input and initializer
 * differentiated) and run it, save to memory, save to a file — is replayed with allocation N failing, for N = 1, 2, ...
 * until a replay sees no injected failure, in two modes (the data-set
 * loader, og_dataset_load on IDX files plain and gzipped and on .pb
 * pairs, followed by a gather, is swept the same way first): the Nth
 * allocation alone fails ("once"), and every allocation from the Nth on
 * fails ("from then on"). Each replay must:
 *   - return OG_OK or OG_ERR_NOMEM, never anything else, with a message;
 *   - leave out-pointers NULL on failure;
 *   - leak nothing (a counting allocator tracks every live block);
 *   - leave what it was handed usable: after a failed run or save, the
 *     same plan and graph, with allocation working again, must run to the
 *     reference outputs and save the reference bytes;
 *   - never leave a half-written or temporary file behind a failed save.
 * Prints the allocation points exercised per model and in total. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <onnxgrad/onnxgrad.h>

#define MAX_POINTS 200000
#define MAX_FEEDS 8
#define MAX_OUTS 8
#define MAX_GRAD_OUTS 24

/* ---- the failing, counting allocator -------------------------------------- */

static long live_blocks, n_calls, fail_at;
static bool sticky, injected;

static bool should_fail(void)
{
    n_calls++;
    if (fail_at && (n_calls == fail_at || (sticky && n_calls > fail_at))) {
        injected = true;
        return true;
    }
    return false;
}

static void *a_alloc(void *u, size_t n)
{
    (void)u;
    if (should_fail())
        return NULL;
    void *p = malloc(n ? n : 1);
    live_blocks += p != NULL;
    return p;
}

static void *a_realloc(void *u, void *p, size_t n)
{
    (void)u;
    if (should_fail())
        return NULL;
    void *q = realloc(p, n ? n : 1);
    live_blocks += q && !p;
    return q;
}

static void a_free(void *u, void *p)
{
    (void)u;
    if (p) {
        live_blocks--;
        free(p);
    }
}

static void arm(long at, bool from_then_on)
{
    n_calls = 0;
    injected = false;
    fail_at = at;
    sticky = from_then_on;
}

static void disarm(void) { fail_at = 0; }

/* ---- reporting ------------------------------------------------------------ */

static int failures;
static char current[512];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s: ", current);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failures++;
}

/* OG_OK, or OG_ERR_NOMEM with a message; anything else is a bug. */
static bool acceptable(og_status st, const char *step, long k)
{
    if (st == OG_OK)
        return true;
    if (st != OG_ERR_NOMEM) {
        fail("allocation %ld failing%s: %s returned %s: %s", k, sticky ? " and on" : "", step,
             og_status_name(st), og_errmsg());
        return false;
    }
    if (!og_errmsg()[0])
        fail("allocation %ld failing: %s: OG_ERR_NOMEM without a message", k, step);
    return true;
}

/* ---- one model ------------------------------------------------------------- */

typedef struct fixture {
    char model_path[4096];              /* "" for the built-in graph */
    og_tensor *feeds[MAX_FEEDS];
    int n_feeds;
    og_tensor *want[MAX_OUTS];          /* reference outputs, computed without injection */
    int n_outs;
    /* The gradient phase, when the model has something to differentiate. */
    bool has_grad;
    int n_seeded;
    const char *seeded[MAX_OUTS];       /* float outputs (names owned by the reference graph copy) */
    char seeded_names[MAX_OUTS][256];
    og_tensor *seeds[MAX_OUTS];         /* named after the gradient graph's seed inputs */
    og_tensor *gwant[MAX_GRAD_OUTS];    /* reference outputs of the gradient graph */
    int n_gouts;
    void *saved;                        /* reference encoding */
    size_t saved_size;
    char save_path[4096];
} fixture;

/* Conv -> Relu -> MaxPool -> Flatten -> Gemm on [1,2,6,6], through the
 * builder API, so graph building is exercised as well as loading. */
static og_status build_chain(og_graph **out)
{
    og_graph *g = NULL;
    og_tensor *w = NULL, *gw = NULL;
    int64_t xd[4] = { 1, 2, 6, 6 }, wd[4] = { 3, 2, 3, 3 }, gd[2] = { 27, 4 };
    og_status st;
    *out = NULL;
    if ((st = og_graph_create(&g)) || (st = og_graph_set_opset(g, "", 17))
        || (st = og_graph_add_input(g, "x", OG_FLOAT, 4, xd, NULL))
        || (st = og_tensor_create(OG_FLOAT, 4, wd, &w)) || (st = og_tensor_create(OG_FLOAT, 2, gd, &gw)))
        goto done;
    for (int64_t k = 0; k < w->numel; k++)
        ((float *)w->data)[k] = (float)((k * 7) % 11 - 5) / 8.0f;
    for (int64_t k = 0; k < gw->numel; k++)
        ((float *)gw->data)[k] = (float)((k * 5) % 13 - 6) / 16.0f;
    og_attr conv_attrs[1] = { og_attr_ints("pads", 4, (const int64_t[]){ 1, 1, 1, 1 }) };
    og_attr pool_attrs[2] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 2 }),
                              og_attr_ints("strides", 2, (const int64_t[]){ 2, 2 }) };
    if ((st = og_graph_add_initializer(g, "w", w)) || (st = og_graph_add_initializer(g, "gw", gw))
        || (st = og_graph_add_node(g, "Conv", NULL, "conv", 2, (const char *[]){ "x", "w" }, 1,
                                   (const char *[]){ "c" }, 1, conv_attrs))
        || (st = og_graph_add_node(g, "Relu", NULL, "relu", 1, (const char *[]){ "c" }, 1, (const char *[]){ "r" }, 0, NULL))
        || (st = og_graph_add_node(g, "MaxPool", NULL, "pool", 1, (const char *[]){ "r" }, 1, (const char *[]){ "p" },
                                   2, pool_attrs))
        || (st = og_graph_add_node(g, "Flatten", NULL, "flat", 1, (const char *[]){ "p" }, 1, (const char *[]){ "f" }, 0, NULL))
        || (st = og_graph_add_node(g, "Gemm", NULL, "gemm", 2, (const char *[]){ "f", "gw" }, 1,
                                   (const char *[]){ "y" }, 0, NULL))
        || (st = og_graph_add_output(g, "y")) || (st = og_graph_finalize(g)))
        goto done;
    *out = g;
    g = NULL;
done:
    og_tensor_free(w);
    og_tensor_free(gw);
    og_graph_free(g);
    return st;
}

/* A training info for the chain: gw_new = gw - lr * gw_grad, and an
 * initialization graph giving gw its start value; saved to `path`, so the
 * sweep loads (and saves) training infos. */
static og_status save_chain_with_training(const char *path)
{
    og_graph *g = NULL, *a = NULL, *i = NULL;
    og_tensor *lr = NULL, *start = NULL;
    int64_t gd[2] = { 27, 4 };
    float lrv = 0.5f;
    og_status st;
    if ((st = build_chain(&g)) || (st = og_graph_create(&a)) || (st = og_graph_create(&i)) ||
        (st = og_tensor_create_from(OG_FLOAT, 0, NULL, &lrv, &lr)) || (st = og_tensor_create(OG_FLOAT, 2, gd, &start)))
        goto done;
    og_binding ub = { "gw", "gw_new" }, ib = { "gw", "gw_init" };
    if ((st = og_graph_add_input(a, "gw_grad", OG_FLOAT, 2, gd, NULL)) || (st = og_graph_add_initializer(a, "lr", lr))
        || (st = og_graph_add_node(a, "Mul", NULL, "scale", 2, (const char *[]){ "lr", "gw_grad" }, 1,
                                   (const char *[]){ "d" }, 0, NULL))
        || (st = og_graph_add_node(a, "Sub", NULL, "step", 2, (const char *[]){ "gw", "d" }, 1,
                                   (const char *[]){ "gw_new" }, 0, NULL))
        || (st = og_graph_add_output(a, "gw_new")) || (st = og_graph_add_initializer(i, "gw_start", start))
        || (st = og_graph_add_node(i, "Identity", NULL, "id", 1, (const char *[]){ "gw_start" }, 1,
                                   (const char *[]){ "gw_init" }, 0, NULL))
        || (st = og_graph_add_output(i, "gw_init"))
        || (st = og_graph_add_training_info(g, i, a, 1, &ib, 1, &ub)) || (st = og_model_save_file(g, path)))
        goto done;
done:
    og_tensor_free(lr);
    og_tensor_free(start);
    og_graph_free(a);
    og_graph_free(i);
    og_graph_free(g);
    return st;
}

static og_status open_model(const fixture *fx, og_graph **g)
{
    return fx->model_path[0] ? og_model_load_file(fx->model_path, g) : build_chain(g);
}

static bool same_tensor(const og_tensor *a, const og_tensor *b)
{
    return a && b && a->dtype == b->dtype && a->rank == b->rank
        && memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0
        && memcmp(a->data, b->data, (size_t)a->numel * og_dtype_size(a->dtype)) == 0;
}

static bool file_equals(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    bool ok = true;
    unsigned char buf[65536];
    size_t off = 0, n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (off + n > size || memcmp(buf, (const char *)data + off, n) != 0)
            ok = false;
        off += n;
    }
    fclose(f);
    return ok && off == size;
}

/* Entries of dir other than `keep`: temporary files a save left behind. */
static int stray_files(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && strcmp(e->d_name, keep) != 0)
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Runs p and compares with the reference; frees the outputs. */
static og_status run_and_check(og_plan *p, const fixture *fx, bool compare, bool *match)
{
    og_tensor *outs[MAX_OUTS] = { 0 };
    og_status st = og_plan_run(p, fx->n_feeds, (const og_tensor *const *)fx->feeds, outs);
    *match = true;
    for (int k = 0; k < fx->n_outs; k++) {
        if (st != OG_OK && outs[k])
            fail("og_plan_run failed but left output %d set", k);
        if (st == OG_OK && compare && !same_tensor(outs[k], fx->want[k]))
            *match = false;
        og_tensor_free(outs[k]);
    }
    return st;
}

/* Runs the gradient graph's plan on the feeds and seeds; compares. */
static og_status run_grad_and_check(og_plan *p, const fixture *fx, bool *match)
{
    const og_tensor *feeds[MAX_FEEDS + MAX_OUTS];
    og_tensor *outs[MAX_GRAD_OUTS] = { 0 };
    int n = 0;
    for (int k = 0; k < fx->n_feeds; k++)
        feeds[n++] = fx->feeds[k];
    for (int k = 0; k < fx->n_seeded; k++)
        feeds[n++] = fx->seeds[k];
    og_status st = og_plan_run(p, n, feeds, outs);
    *match = true;
    for (int k = 0; k < fx->n_gouts; k++) {
        if (st != OG_OK && outs[k])
            fail("gradient run failed but left output %d set", k);
        if (st == OG_OK && !same_tensor(outs[k], fx->gwant[k]))
            *match = false;
        og_tensor_free(outs[k]);
    }
    return st;
}

static og_grad_options grad_options(const fixture *fx)
{
    return (og_grad_options){ .n_seeded = fx->n_seeded, .seeded = fx->seeded };
}

/* Builds, plans and runs the gradient graph with the allocator armed. */
static bool grad_life(fixture *fx, og_graph *g, long k)
{
    og_grad_options o = grad_options(fx);
    og_graph *gg = (og_graph *)1;
    og_status st = og_graph_build_gradient(g, &o, &gg);
    if (!acceptable(st, "og_graph_build_gradient", k))
        return false;
    if (st != OG_OK) {
        if (gg)
            fail("allocation %ld failing: og_graph_build_gradient failed but *out is not NULL", k);
        return true;
    }
    og_plan *p;
    st = og_plan_create(gg, &p);
    if (!acceptable(st, "og_plan_create (gradient graph)", k)) {
        og_graph_free(gg);
        return false;
    }
    if (st == OG_OK) {
        bool match;
        st = run_grad_and_check(p, fx, &match);
        if (!acceptable(st, "og_plan_run (gradient graph)", k)) {
            og_plan_free(p);
            og_graph_free(gg);
            return false;
        }
        if (st == OG_OK && !match)
            fail("allocation %ld failing: gradient run succeeded with wrong outputs", k);
        if (st != OG_OK) {
            long saved_at = fail_at;
            disarm();
            if (run_grad_and_check(p, fx, &match) != OG_OK || !match)
                fail("allocation %ld failing: after a failed gradient run, the plan no longer runs correctly: %s",
                     k, og_errmsg());
            fail_at = saved_at;
        }
        og_plan_free(p);
    }
    og_graph_free(gg);
    return true;
}

/* The reference gradient outputs, or has_grad false when the model has
 * nothing differentiable (no float output, or no float input reaching
 * one) or a backward rule refuses it. */
static void grad_reference(fixture *fx, const og_graph *g)
{
    fx->has_grad = false;
    fx->n_seeded = 0;
    for (int k = 0; k < og_graph_num_outputs(g) && k < MAX_OUTS; k++) {
        og_value_info vi;
        if (og_graph_output(g, k, &vi) == OG_OK && (vi.dtype == OG_FLOAT || vi.dtype == OG_DOUBLE)) {
            snprintf(fx->seeded_names[fx->n_seeded], sizeof fx->seeded_names[0], "%s", vi.name);
            fx->seeded[fx->n_seeded] = fx->seeded_names[fx->n_seeded];
            fx->n_seeded++;
        }
    }
    if (fx->n_seeded == 0) {
        printf("  %s: no gradient phase: no float output\n", current);
        return;
    }
    og_grad_options o = grad_options(fx);
    og_graph *gg;
    og_plan *p;
    if (og_graph_build_gradient(g, &o, &gg) != OG_OK) {
        printf("  %s: no gradient phase: %s\n", current, og_errmsg());
        return;
    }
    fx->n_gouts = og_graph_num_outputs(gg);
    if (fx->n_gouts > MAX_GRAD_OUTS || og_plan_create(gg, &p) != OG_OK) {
        fail("reference gradient plan: %s", og_errmsg());
        og_graph_free(gg);
        return;
    }
    int n_in = og_graph_num_inputs(gg);
    for (int k = 0; k < fx->n_seeded; k++) {
        og_value_info vi;
        og_graph_input(gg, n_in - fx->n_seeded + k, &vi);
        /* the seed takes the shape the forward run gave the output */
        int idx = 0;
        for (int j = 0; j < fx->n_outs; j++)
            if (fx->want[j] && fx->want[j]->name && strcmp(fx->want[j]->name, fx->seeded[k]) == 0)
                idx = j;
        const og_tensor *y = fx->want[idx];
        og_tensor_create(y->dtype, y->rank, y->dims, &fx->seeds[k]);
        og_tensor_set_name(fx->seeds[k], vi.name);
        for (int64_t i = 0; i < y->numel; i++) {
            double v = (double)((i * 7 + k) % 11 - 5) / 4.0;
            if (y->dtype == OG_FLOAT)
                ((float *)fx->seeds[k]->data)[i] = (float)v;
            else
                ((double *)fx->seeds[k]->data)[i] = v;
        }
    }
    const og_tensor *feeds[MAX_FEEDS + MAX_OUTS];
    int n = 0;
    for (int k = 0; k < fx->n_feeds; k++)
        feeds[n++] = fx->feeds[k];
    for (int k = 0; k < fx->n_seeded; k++)
        feeds[n++] = fx->seeds[k];
    if (og_plan_run(p, n, feeds, fx->gwant) != OG_OK)
        fail("reference gradient run: %s", og_errmsg());
    else
        fx->has_grad = true;
    og_plan_free(p);
    og_graph_free(gg);
}

/* One full life of the model with the allocator armed. Returns false to
 * stop the sweep (a bug was reported). */
static bool one_life(fixture *fx, long k, const char *dir, const char *file_name)
{
    og_graph *g = (og_graph *)1;
    og_status st = open_model(fx, &g);
    if (!acceptable(st, fx->model_path[0] ? "load" : "build", k))
        return false;
    if (st != OG_OK) {
        if (g && fx->model_path[0])
            fail("allocation %ld failing: load failed but *out is not NULL", k);
        return true;
    }
    if (og_graph_num_training_infos(g) > 0) {
        og_graph *step = (og_graph *)1;
        st = og_training_algorithm_graph(g, 0, &step);
        if (!acceptable(st, "og_training_algorithm_graph", k)) {
            og_graph_free(g);
            return false;
        }
        if (st != OG_OK && step)
            fail("allocation %ld failing: og_training_algorithm_graph failed but *out is not NULL", k);
        og_graph_free(st == OG_OK ? step : NULL);
    }
    og_plan *p = (og_plan *)1;
    st = og_plan_create(g, &p);
    if (!acceptable(st, "og_plan_create", k)) {
        og_graph_free(g);
        return false;
    }
    if (st != OG_OK && p)
        fail("allocation %ld failing: og_plan_create failed but *out is not NULL", k);
    if (st == OG_OK) {
        bool match;
        st = run_and_check(p, fx, true, &match);
        if (!acceptable(st, "og_plan_run", k)) {
            og_plan_free(p);
            og_graph_free(g);
            return false;
        }
        if (st == OG_OK && !match)
            fail("allocation %ld failing: run succeeded with wrong outputs", k);
        if (st != OG_OK) {
            /* The plan must survive a failed run. */
            long saved_at = fail_at;
            disarm();
            if (run_and_check(p, fx, true, &match) != OG_OK || !match)
                fail("allocation %ld failing: after a failed run, the plan no longer runs correctly: %s", k,
                     og_errmsg());
            fail_at = saved_at;
        }
        og_plan_free(p);
    }
    if (fx->has_grad && !grad_life(fx, g, k)) {
        og_graph_free(g);
        return false;
    }
    /* Saving is exercised by the replays whose failure falls inside it; once
     * the failure has happened earlier, a save (and its fsync) adds nothing. */
    if (injected) {
        og_graph_free(g);
        return true;
    }
    void *data = (void *)1;
    size_t size = 1;
    st = og_model_save_memory(g, &data, &size);
    if (!acceptable(st, "og_model_save_memory", k)) {
        og_graph_free(g);
        return false;
    }
    if (st == OG_OK) {
        if (size != fx->saved_size || memcmp(data, fx->saved, size) != 0)
            fail("allocation %ld failing: save_memory succeeded with different bytes", k);
        og_free(data);
    } else if (data) {
        fail("allocation %ld failing: save_memory failed but *data is not NULL", k);
    }
    /* The target holds the reference bytes from the start; a failed save
     * must leave exactly them and no temporary file. */
    st = og_model_save_file(g, fx->save_path);
    if (!acceptable(st, "og_model_save_file", k)) {
        og_graph_free(g);
        return false;
    }
    if (!file_equals(fx->save_path, fx->saved, fx->saved_size))
        fail("allocation %ld failing: after save_file (%s) the file is not the reference bytes", k,
             og_status_name(st));
    if (stray_files(dir, file_name))
        fail("allocation %ld failing: save_file left a temporary file in %s", k, dir);
    og_graph_free(g);
    return true;
}

/* Computes the reference (no injection) and sweeps both modes. Returns the
 * number of allocation points (once mode). */
static long sweep(fixture *fx, const char *tmpdir, int index)
{
    char dir[3072];
    snprintf(dir, sizeof dir, "%s/oom-%d", tmpdir, index);
    mkdir(dir, 0777);
    const char *file_name = "model.onnx";
    snprintf(fx->save_path, sizeof fx->save_path, "%s/%s", dir, file_name);

    og_graph *g;
    og_plan *p;
    if (open_model(fx, &g) != OG_OK) {
        fail("reference load: %s", og_errmsg());
        return 0;
    }
    fx->n_outs = og_graph_num_outputs(g);
    if (fx->n_outs > MAX_OUTS || og_plan_create(g, &p) != OG_OK) {
        fail("reference plan: %s", og_errmsg());
        og_graph_free(g);
        return 0;
    }
    if (og_plan_run(p, fx->n_feeds, (const og_tensor *const *)fx->feeds, fx->want) != OG_OK)
        fail("reference run: %s", og_errmsg());
    og_plan_free(p);
    grad_reference(fx, g);
    if (og_model_save_memory(g, &fx->saved, &fx->saved_size) != OG_OK
        || og_model_save_file(g, fx->save_path) != OG_OK)
        fail("reference save: %s", og_errmsg());
    og_graph_free(g);
    if (failures)
        return 0;

    long points = 0;
    for (int mode = 0; mode < 2; mode++) {
        for (long k = 1; k <= MAX_POINTS; k++) {
            long before = live_blocks;
            int failures_before = failures;
            arm(k, mode == 1);
            bool go_on = one_life(fx, k, dir, file_name);
            bool hit = injected;
            disarm();
            if (live_blocks != before)
                fail("allocation %ld failing%s: %ld block(s) leaked", k, mode ? " and on" : "", live_blocks - before);
            if (!go_on || failures != failures_before || !hit) {
                if (mode == 0)
                    points = hit ? k : k - 1;
                break;
            }
        }
    }
    og_free(fx->saved);
    fx->saved = NULL;
    for (int k = 0; k < fx->n_outs; k++)
        og_tensor_free(fx->want[k]);
    for (int k = 0; k < fx->n_seeded; k++)
        og_tensor_free(fx->seeds[k]);
    for (int k = 0; fx->has_grad && k < fx->n_gouts; k++)
        og_tensor_free(fx->gwant[k]);
    unlink(fx->save_path);
    rmdir(dir);
    return points;
}

/* ---- the data-set loader ----------------------------------------------------- */

static bool write_idx(const char *path, bool gz, int rank, const uint32_t *dims, const uint8_t *data, size_t n)
{
    uint8_t head[16] = { 0, 0, 0x08, (uint8_t)rank };
    for (int k = 0; k < rank; k++)
        for (int b = 0; b < 4; b++)
            head[4 + 4 * k + b] = (uint8_t)(dims[k] >> (24 - 8 * b));
    size_t hn = 4 + 4 * (size_t)rank;
    if (gz) {   /* written with the allocator disarmed: zlib's own malloc is fine */
        gzFile f = gzopen(path, "wb");
        bool ok = f && gzwrite(f, head, (unsigned)hn) == (int)hn && gzwrite(f, data, (unsigned)n) == (int)n;
        return (f && gzclose(f) == Z_OK) && ok;
    }
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(head, 1, hn, f) == hn && fwrite(data, 1, n, f) == n;
    return (f && fclose(f) == 0) && ok;
}

/* og_dataset_load + og_dataset_gather of dir's train split with each
 * allocation failing once and from then on: OG_OK with the reference
 * batch, or OG_ERR_NOMEM with *out NULL; no leak. Returns the points. */
static long dataset_sweep(const char *dir)
{
    snprintf(current, sizeof current, "og_dataset_load %s", dir);
    og_dataset *ref;
    if (og_dataset_load(dir, "train", &ref) != OG_OK) {
        fail("reference load: %s", og_errmsg());
        return 0;
    }
    const int64_t idx[3] = { 4, 0, 4 };
    og_tensor *want[2] = { 0 }, *got[2] = { 0 };
    for (int t = 0; t < 2; t++) {
        const og_tensor *src = t ? og_dataset_y(ref) : og_dataset_x(ref);
        int64_t dims[OG_MAX_RANK];
        memcpy(dims, src->dims, sizeof dims);
        dims[0] = 3;
        og_tensor_create(src->dtype, src->rank, dims, &want[t]);
        og_tensor_create(src->dtype, src->rank, dims, &got[t]);
    }
    if (og_dataset_gather(ref, idx, 3, want[0], want[1]) != OG_OK)
        fail("reference gather: %s", og_errmsg());
    og_dataset_free(ref);
    long points = 0;
    for (int mode = 0; mode < 2 && !failures; mode++) {
        for (long k = 1; k <= MAX_POINTS; k++) {
            long before = live_blocks;
            int failures_before = failures;
            arm(k, mode == 1);
            og_dataset *ds = (og_dataset *)1;
            og_status st = og_dataset_load(dir, "train", &ds);
            bool ok = acceptable(st, "og_dataset_load", k);
            if (ok && st == OG_OK) {
                st = og_dataset_gather(ds, idx, 3, got[0], got[1]);
                ok = acceptable(st, "og_dataset_gather", k);
                if (st == OG_OK && (!same_tensor(got[0], want[0]) || !same_tensor(got[1], want[1])))
                    fail("allocation %ld failing: load succeeded with different data", k);
                og_dataset_free(ds);
            } else if (ok && ds) {
                fail("allocation %ld failing: og_dataset_load failed but *out is not NULL", k);
            }
            bool hit = injected;
            disarm();
            if (live_blocks != before)
                fail("allocation %ld failing%s: %ld block(s) leaked", k, mode ? " and on" : "", live_blocks - before);
            if (!ok || failures != failures_before || !hit) {
                if (mode == 0)
                    points = hit ? k : k - 1;
                break;
            }
        }
    }
    for (int t = 0; t < 2; t++) {
        og_tensor_free(want[t]);
        og_tensor_free(got[t]);
    }
    return points;
}

/* IDX (gzipped images, plain labels) and .pb layouts in TMPDIR. */
static long dataset_sweeps(const char *tmpdir, int *failed_before)
{
    char dir[3072], path[4096];
    long total = 0;
    uint8_t pix[5 * 6 * 7], lab[5] = { 3, 1, 4, 1, 5 };
    for (size_t k = 0; k < sizeof pix; k++)
        pix[k] = (uint8_t)(k * 29 % 256);
    snprintf(dir, sizeof dir, "%s/oom-data-idx", tmpdir);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    bool ok = write_idx(path, true, 3, (const uint32_t[]){ 5, 6, 7 }, pix, sizeof pix);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    ok = ok && write_idx(path, false, 1, (const uint32_t[]){ 5 }, lab, sizeof lab);
    if (!ok) {
        fail("writing the IDX files in %s", dir);
        return 0;
    }
    *failed_before = failures;
    total += dataset_sweep(dir);
    printf("%s %s: %ld allocation points\n", failures != *failed_before ? "FAIL" : "PASS", current, total);

    snprintf(dir, sizeof dir, "%s/oom-data-pb", tmpdir);
    mkdir(dir, 0777);
    og_tensor *x = NULL, *y = NULL;
    og_tensor_create(OG_DOUBLE, 3, (const int64_t[]){ 5, 2, 3 }, &x);
    og_tensor_create(OG_INT64, 1, (const int64_t[]){ 5 }, &y);
    for (int64_t k = 0; x && k < x->numel; k++)
        ((double *)x->data)[k] = (double)k / 8;
    for (int64_t k = 0; y && k < y->numel; k++)
        ((int64_t *)y->data)[k] = k % 3;
    snprintf(path, sizeof path, "%s/train_x.pb", dir);
    ok = x && y && og_tensor_save_pb(x, path) == OG_OK;
    snprintf(path, sizeof path, "%s/train_y.pb", dir);
    ok = ok && og_tensor_save_pb(y, path) == OG_OK;
    og_tensor_free(x);
    og_tensor_free(y);
    if (!ok) {
        fail("writing the .pb files in %s: %s", dir, og_errmsg());
        return total;
    }
    *failed_before = failures;
    long pts = dataset_sweep(dir);
    printf("%s %s: %ld allocation points\n", failures != *failed_before ? "FAIL" : "PASS", current, pts);
    return total + pts;
}

static void free_feeds(fixture *fx)
{
    for (int k = 0; k < fx->n_feeds; k++)
        og_tensor_free(fx->feeds[k]);
    fx->n_feeds = 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: og_oom_runner NODE_DIR CASES.txt TMPDIR\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    og_set_allocator(&(og_allocator){ a_alloc, a_realloc, a_free, NULL });
    long total = 0;
    int models = 0, with_grad = 0, before_data = 0;
    total += dataset_sweeps(argv[3], &before_data);

    static fixture fx;
    memset(&fx, 0, sizeof fx);
    snprintf(current, sizeof current, "built-in chain");
    int64_t xd[4] = { 1, 2, 6, 6 };
    if (og_tensor_create(OG_FLOAT, 4, xd, &fx.feeds[0]) != OG_OK)
        return 2;
    for (int64_t k = 0; k < fx.feeds[0]->numel; k++)
        ((float *)fx.feeds[0]->data)[k] = (float)((k * 3) % 7 - 3);
    fx.n_feeds = 1;
    long pts = sweep(&fx, argv[3], models++);
    printf("%s %s: %ld allocation points%s\n", failures ? "FAIL" : "PASS", current, pts,
           fx.has_grad ? " (with gradients)" : "");
    total += pts;

    /* the same chain with a training info, loaded from a file */
    memset(&fx.want, 0, sizeof fx.want);
    fx.saved = NULL;
    snprintf(current, sizeof current, "built-in chain with a training info");
    snprintf(fx.model_path, sizeof fx.model_path, "%s/chain_training.onnx", argv[3]);
    if (save_chain_with_training(fx.model_path) != OG_OK) {
        fail("saving the chain with a training info: %s", og_errmsg());
    } else {
        int before = failures;
        pts = sweep(&fx, argv[3], models++);
        printf("%s %s: %ld allocation points%s\n", failures != before ? "FAIL" : "PASS", current, pts,
               fx.has_grad ? " (with gradients)" : "");
        total += pts;
    }
    unlink(fx.model_path);
    free_feeds(&fx);

    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n \t")] = '\0';
        /* "xfail <case>" and "refused <case>" lines (cases that do not
         * run) are skipped, as the gradcheck runner skips them */
        if (!line[0] || line[0] == '#' || strcmp(line, "xfail") == 0 || strcmp(line, "refused") == 0)
            continue;
        memset(&fx, 0, sizeof fx);
        snprintf(current, sizeof current, "%s", line);
        snprintf(fx.model_path, sizeof fx.model_path, "%s/%s/model.onnx", argv[1], line);
        int before = failures;
        for (int k = 0; k < MAX_FEEDS; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s/test_data_set_0/input_%d.pb", argv[1], line, k);
            if (access(path, R_OK) != 0)
                break;
            if (og_tensor_load_pb(path, &fx.feeds[fx.n_feeds]) != OG_OK) {
                fail("reading %s: %s", path, og_errmsg());
                break;
            }
            fx.n_feeds++;
        }
        pts = sweep(&fx, argv[3], models++);
        free_feeds(&fx);
        printf("%s %s: %ld allocation points%s\n", failures != before ? "FAIL" : "PASS", line, pts,
               fx.has_grad ? " (with gradients)" : "");
        with_grad += fx.has_grad;
        fflush(stdout);
        total += pts;
    }
    fclose(f);
    og_set_allocator(NULL);
    if (live_blocks != 0) {
        printf("FAIL: %ld block(s) still allocated at exit\n", live_blocks);
        failures++;
    }
    printf("%d models (%d with a gradient phase, plus the built-in chain), %ld allocation points exercised "
           "(each failed once, and from then on), %d failures\n", models, with_grad, total, failures);
    return failures ? 1 : 0;
}
