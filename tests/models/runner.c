/* SPDX-License-Identifier: MIT */
/* runner.c — checks one exported PyTorch model end to end against PyTorch
 * and ONNX Runtime, through onnxgrad's public API only.
 *
 *     og_models_runner MODELS_DIR WORK_DIR EXPECT.txt MODEL [NODE ORT_CHECK.js ORT_DIR]
 *
 * MODELS_DIR/MODEL is written by gen_models.py (model.onnx, manifest.txt and
 * the .pb files it names). The stages, each needing the one before:
 *   load      og_model_load_file + og_plan_create
 *   forward   run on the inputs, compare every output with PyTorch's
 *   gradients og_graph_build_gradient seeded with PyTorch's dY on every
 *             output, w.r.t. every float input and parameter; run it and
 *             compare every gradient with PyTorch's autograd
 *             (the gradient graph is saved to WORK_DIR/MODEL/grad.onnx)
 *   ort       write its feeds and onnxgrad's results beside it, and have
 *             ORT_CHECK.js run it in onnxruntime-node (from
 *             ORT_DIR/node_modules) and compare
 * Tolerance: |got - want| <= 1e-4 |want| + max(1e-5 max|want|, 1e-6), where
 * max|want| is the largest magnitude in the reference tensor.
 * Without the last three arguments the ort stage is a failure (never a
 * silent pass). EXPECT.txt lines "xfail <model> <stage>: <reason>" mark a
 * model that cannot pass yet: it prints XFAIL and exits 0 when it fails in
 * that stage or a later one (noting the progress), FAIL when it fails in an
 * earlier stage, and XPASS (exit 1) when it passes, so the list stays
 * honest. A missing ONNX Runtime is a failure even for a listed model. When
 * MODELS_DIR/NO_TORCH exists (no python3-torch) it prints SKIP, exits 77. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "onnxgrad/onnxgrad.h"

#define RTOL 1e-4
#define ATOL_REL 1e-5
#define ATOL_MIN 1e-6
#define MAX_ITEMS 1024

typedef struct item {
    char kind[16];
    char name[512];
    char file[600];
} item;

typedef struct manifest {
    item it[MAX_ITEMS];
    int n;
} manifest;

static char why[4096];

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    for (char *c = why; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    return 1;
}

/* Formats a path into buf (PATH_LEN bytes); a path too long fails. */
#define PATH_LEN 4096
static int pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int pathf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATH_LEN, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_LEN)
        return fail("path too long: %.200s...", buf);
    return 0;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int read_manifest(const char *dir, manifest *m)
{
    char path[PATH_LEN];
    if (pathf(path, "%s/manifest.txt", dir))
        return 1;
    FILE *f = fopen(path, "r");
    if (!f)
        return fail("%s: %s (run gen_models.py)", path, strerror(errno));
    char line[2048];
    m->n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '\n' || line[0] == '#')
            continue;
        if (m->n == MAX_ITEMS) {
            fclose(f);
            return fail("%s: more than %d entries", path, MAX_ITEMS);
        }
        item *it = &m->it[m->n];
        if (sscanf(line, "%15s %511s %599s", it->kind, it->name, it->file) != 3) {
            fclose(f);
            return fail("%s: bad line '%s'", path, line);
        }
        m->n++;
    }
    fclose(f);
    return 0;
}

static double at(const og_tensor *t, int64_t i)
{
    return t->dtype == OG_DOUBLE ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

static int same_shape(const og_tensor *a, const og_tensor *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d])
            return 0;
    return 1;
}

static const char *dims_str(const og_tensor *t, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int d = 0; d < t->rank && n + 24 < size; d++)
        n += (size_t)snprintf(buf + n, size - n, d ? ",%lld" : "%lld", (long long)t->dims[d]);
    return buf;
}

/* 0 when got matches the reference want; else 1 with why set. */
static int compare(const char *what, const og_tensor *got, const og_tensor *want)
{
    if (got->dtype != want->dtype)
        return fail("%s: dtype %s, PyTorch has %s", what, og_dtype_name(got->dtype), og_dtype_name(want->dtype));
    if (!same_shape(got, want)) {
        char gs[160], ws[160];
        return fail("%s: shape [%s], PyTorch's is [%s]", what, dims_str(got, gs, sizeof gs),
                    dims_str(want, ws, sizeof ws));
    }
    if (want->dtype != OG_FLOAT && want->dtype != OG_DOUBLE) {
        size_t es = og_dtype_size(want->dtype);
        if (memcmp(got->data, want->data, es * (size_t)want->numel) != 0)
            return fail("%s: %s values differ", what, og_dtype_name(want->dtype));
        return 0;
    }
    double amax = 0;
    for (int64_t i = 0; i < want->numel; i++)
        if (fabs(at(want, i)) > amax)
            amax = fabs(at(want, i));
    double atol = fmax(ATOL_REL * amax, ATOL_MIN);
    int64_t worst = -1, nbad = 0;
    double worst_excess = 0;
    for (int64_t i = 0; i < want->numel; i++) {
        double g = at(got, i), w = at(want, i);
        double err = fabs(g - w), tol = atol + RTOL * fabs(w);
        if (!(err <= tol)) {   /* NaN fails */
            nbad++;
            double excess = isnan(err) ? INFINITY : err / tol;
            if (worst < 0 || excess > worst_excess) {
                worst = i;
                worst_excess = excess;
            }
        }
    }
    if (nbad)
        return fail("%s: %lld of %lld elements differ from PyTorch, worst [%lld] = %.9g, expected %.9g "
                    "(tolerance %.3g)", what, (long long)nbad, (long long)want->numel, (long long)worst,
                    at(got, worst), at(want, worst), atol + RTOL * fabs(at(want, worst)));
    return 0;
}

static og_tensor *load_item(const char *dir, const item *it)
{
    char path[PATH_LEN];
    og_tensor *t = NULL;
    if (pathf(path, "%s/%s", dir, it->file))
        return NULL;
    if (og_tensor_load_pb(path, &t) != OG_OK) {
        fail("%s", og_errmsg());
        return NULL;
    }
    if (og_tensor_set_name(t, it->name) != OG_OK) {
        fail("%s", og_errmsg());
        og_tensor_free(t);
        return NULL;
    }
    return t;
}

/* Raw little-endian data for the ORT script, and its JSON entry. */
static int write_raw(FILE *json, int first, const char *dir, const char *tag, int k, const og_tensor *t,
                     const char *name)
{
    const char *dt;
    switch (t->dtype) {
    case OG_FLOAT: dt = "float32"; break;
    case OG_DOUBLE: dt = "float64"; break;
    case OG_INT64: dt = "int64"; break;
    case OG_INT32: dt = "int32"; break;
    case OG_BOOL: dt = "bool"; break;
    default: return fail("ort: cannot pass a %s tensor to the script", og_dtype_name(t->dtype));
    }
    char file[64], path[PATH_LEN];
    snprintf(file, sizeof file, "%s_%d.bin", tag, k);
    if (pathf(path, "%s/%s", dir, file))
        return 1;
    FILE *f = fopen(path, "wb");
    size_t bytes = og_dtype_size(t->dtype) * (size_t)t->numel;
    if (!f || (bytes && fwrite(t->data, 1, bytes, f) != bytes) || fclose(f) != 0)
        return fail("ort: writing %s failed", path);
    fprintf(json, "%s\n  {\"name\": \"", first ? "" : ",");
    for (const char *c = name; *c; c++)
        fprintf(json, (*c == '"' || *c == '\\') ? "\\%c" : "%c", *c);
    fprintf(json, "\", \"dtype\": \"%s\", \"file\": \"%s\", \"dims\": [", dt, file);
    for (int d = 0; d < t->rank; d++)
        fprintf(json, d ? ", %lld" : "%lld", (long long)t->dims[d]);
    fprintf(json, "]}");
    return 0;
}

static int mkdirs(const char *path)
{
    char buf[PATH_LEN];
    if (pathf(buf, "%s", path))
        return -1;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

typedef struct stage_state {
    int loaded, forward, gradients, ort;   /* 1 ok, -1 failed, 0 not reached */
} stage_state;

static int run_ort(const char *work, og_graph *gg, int n_feeds, og_tensor **feeds, int n_res,
                   const og_tensor **res, char **ort_args)
{
    char dir[PATH_LEN];
    if (pathf(dir, "%s/ort", work))
        return 1;
    if (mkdirs(dir) != 0)
        return fail("ort: mkdir %s: %s", dir, strerror(errno));
    char jpath[PATH_LEN];
    if (pathf(jpath, "%s/check.json", dir))
        return 1;
    FILE *json = fopen(jpath, "w");
    if (!json)
        return fail("ort: %s: %s", jpath, strerror(errno));
    fprintf(json, "{\"model\": \"../grad.onnx\",\n\"feeds\": [");
    int bad = 0;
    for (int k = 0; !bad && k < n_feeds; k++)
        bad = write_raw(json, k == 0, dir, "feed", k, feeds[k], feeds[k]->name);
    fprintf(json, "],\n\"expect\": [");
    for (int k = 0; !bad && k < n_res; k++) {
        og_value_info vi;
        if (og_graph_output(gg, k, &vi) != OG_OK)
            bad = fail("ort: %s", og_errmsg());
        else
            bad = write_raw(json, k == 0, dir, "expect", k, res[k], vi.name);
    }
    fprintf(json, "]}\n");
    if (fclose(json) != 0 && !bad)
        bad = fail("ort: writing %s failed", jpath);
    if (bad)
        return 1;
    if (!ort_args)
        return fail("ort: no node/onnxruntime-node given to the runner (see tests/models/tests.cmake)");

    char result[PATH_LEN];
    if (pathf(result, "%s/result.txt", dir))
        return 1;
    remove(result);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return fail("ort: fork: %s", strerror(errno));
    if (pid == 0) {
        char *argv[] = {ort_args[0], ort_args[1], ort_args[2], jpath, result, NULL};
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    char msg[2048] = "";
    FILE *r = fopen(result, "r");
    if (r) {
        if (!fgets(msg, sizeof msg, r))
            msg[0] = '\0';
        fclose(r);
    }
    msg[strcspn(msg, "\r\n")] = '\0';
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return fail("ort: %s", *msg ? msg : "the ORT check script failed without a result (see its output)");
    if (strcmp(msg, "ok") != 0)
        return fail("ort: script exited 0 but reported '%s'", msg);
    return 0;
}

static int run_model(const char *dir, const char *work, char **ort_args, stage_state *st)
{
    static manifest m;
    if (read_manifest(dir, &m))
        return 1;
    og_tensor *in[MAX_ITEMS] = {0}, *out_ref[MAX_ITEMS] = {0}, *seed[MAX_ITEMS] = {0}, *grad_ref[MAX_ITEMS] = {0};
    const char *out_names[MAX_ITEMS], *seed_names[MAX_ITEMS], *wrt[MAX_ITEMS];
    int n_in = 0, n_out = 0, n_seed = 0, n_grad = 0, bad = 0;
    for (int k = 0; !bad && k < m.n; k++) {
        const item *it = &m.it[k];
        og_tensor *t = load_item(dir, it);
        if (!t) {
            bad = 1;
            break;
        }
        if (!strcmp(it->kind, "input"))
            in[n_in++] = t;
        else if (!strcmp(it->kind, "output"))
            out_names[n_out] = it->name, out_ref[n_out++] = t;
        else if (!strcmp(it->kind, "seed"))
            seed_names[n_seed] = it->name, seed[n_seed++] = t;
        else if (!strcmp(it->kind, "grad"))
            wrt[n_grad] = it->name, grad_ref[n_grad++] = t;
        else {
            og_tensor_free(t);
            bad = fail("manifest: unknown kind '%s'", it->kind);
        }
    }
    og_graph *g = NULL, *gg = NULL;
    og_plan *p = NULL, *gp = NULL;
    og_tensor *got[MAX_ITEMS] = {0}, *ggot[MAX_ITEMS] = {0}, *feeds[MAX_ITEMS];
    int n_got = 0, n_ggot = 0;
    char path[PATH_LEN];
    if (!bad && pathf(path, "%s/model.onnx", dir))
        bad = 1;

    /* load */
    if (!bad && og_model_load_file(path, &g) != OG_OK)
        bad = fail("load: %s", og_errmsg());
    if (!bad && og_plan_create(g, &p) != OG_OK)
        bad = fail("load: plan: %s", og_errmsg());
    st->loaded = bad ? -1 : 1;

    /* forward */
    if (!bad && og_graph_num_outputs(g) != n_out)
        bad = fail("forward: the model has %d outputs, PyTorch %d", og_graph_num_outputs(g), n_out);
    if (!bad) {
        n_got = n_out;
        if (og_plan_run(p, n_in, (const og_tensor *const *)in, got) != OG_OK) {
            n_got = 0;
            bad = fail("forward: run: %s", og_errmsg());
        }
    }
    for (int k = 0; !bad && k < n_out; k++) {
        og_value_info vi;
        char what[700];
        og_graph_output(g, k, &vi);
        snprintf(what, sizeof what, "forward: output '%s'", vi.name);
        if (strcmp(vi.name, out_names[k]) != 0)
            bad = fail("forward: output %d is '%s', PyTorch's is '%s'", k, vi.name, out_names[k]);
        else
            bad = compare(what, got[k], out_ref[k]);
    }
    if (st->loaded > 0)
        st->forward = bad ? -1 : 1;

    /* gradients */
    if (!bad) {
        og_grad_options o = {.n_seeded = n_seed, .seeded = seed_names, .n_wrt = n_grad, .wrt = wrt};
        if (og_graph_build_gradient(g, &o, &gg) != OG_OK)
            bad = fail("gradients: build: %s", og_errmsg());
    }
    /* Saved as soon as it exists, so a gradient that disagrees can be
     * looked at. */
    if (!bad) {
        char path2[PATH_LEN];
        if (mkdirs(work) != 0)
            bad = fail("gradients: mkdir %s: %s", work, strerror(errno));
        else if (pathf(path2, "%s/grad.onnx", work))
            bad = 1;
        else if (og_model_save_file(gg, path2) != OG_OK)
            bad = fail("gradients: saving the gradient graph: %s", og_errmsg());
    }
    int n_gin = 0;
    if (!bad) {
        /* Feeds: the model's inputs, then each seed under the name the
         * gradient graph gave its input. */
        int base = og_graph_num_inputs(g);
        n_gin = og_graph_num_inputs(gg);
        if (n_gin != base + n_seed)
            bad = fail("gradients: the gradient graph has %d inputs, expected %d + %d seeds", n_gin, base, n_seed);
        for (int k = 0; k < n_in; k++)
            feeds[k] = in[k];
        for (int k = 0; !bad && k < n_seed; k++) {
            og_value_info vi;
            if (og_graph_input(gg, base + k, &vi) != OG_OK || og_tensor_set_name(seed[k], vi.name) != OG_OK)
                bad = fail("gradients: %s", og_errmsg());
            feeds[n_in + k] = seed[k];
        }
    }
    if (!bad && og_plan_create(gg, &gp) != OG_OK)
        bad = fail("gradients: plan: %s", og_errmsg());
    if (!bad) {
        n_ggot = og_graph_num_outputs(gg);
        if (n_ggot != n_out + n_grad || n_ggot > MAX_ITEMS)
            bad = fail("gradients: the gradient graph has %d outputs, expected %d + %d", n_ggot, n_out, n_grad);
        else if (og_plan_run(gp, n_in + n_seed, (const og_tensor *const *)feeds, ggot) != OG_OK) {
            n_ggot = 0;
            bad = fail("gradients: run: %s", og_errmsg());
        }
    }
    for (int k = 0; !bad && k < n_grad; k++) {
        char what[700];
        snprintf(what, sizeof what, "gradients: d/d '%s'", wrt[k]);
        bad = compare(what, ggot[n_out + k], grad_ref[k]);
    }
    if (st->forward > 0)
        st->gradients = bad ? -1 : 1;

    /* ort */
    if (!bad) {
        bad = run_ort(work, gg, n_in + n_seed, feeds, n_ggot, (const og_tensor **)ggot, ort_args);
        st->ort = bad ? -1 : 1;
    }

    for (int k = 0; k < n_got; k++)
        og_tensor_free(got[k]);
    for (int k = 0; k < n_ggot; k++)
        og_tensor_free(ggot[k]);
    for (int k = 0; k < MAX_ITEMS; k++) {
        og_tensor_free(in[k]);
        og_tensor_free(out_ref[k]);
        og_tensor_free(seed[k]);
        og_tensor_free(grad_ref[k]);
    }
    og_plan_free(gp);
    og_plan_free(p);
    og_graph_free(gg);
    og_graph_free(g);
    return bad;
}

/* The reason EXPECT.txt gives for model, or NULL when it is not listed. */
static char *expected_failure(const char *expect, const char *model, int *err)
{
    static char reason[1024];
    *err = 0;
    FILE *f = fopen(expect, "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", expect, strerror(errno));
        *err = 1;
        return NULL;
    }
    char line[2048];
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *s = line + strspn(line, " \t");
        if (*s == '#' || strncmp(s, "xfail", 5) != 0 || (s[5] != ' ' && s[5] != '\t'))
            continue;
        s += 5 + strspn(s + 5, " \t");
        size_t n = strcspn(s, " \t");
        if (n == strlen(model) && strncmp(s, model, n) == 0) {
            snprintf(reason, sizeof reason, "%s", s[n] ? s + n + 1 + strspn(s + n + 1, " \t") : "");
            found = reason;
        }
    }
    fclose(f);
    return found;
}

static const char *const stages[] = {"load", "forward", "gradients", "ort"};

/* Index of the stage a message starts with ("gradients: ..."), else -1. */
static int stage_of(const char *msg)
{
    for (int k = 0; k < 4; k++) {
        size_t n = strlen(stages[k]);
        if (strncmp(msg, stages[k], n) == 0 && msg[n] == ':')
            return k;
    }
    return -1;
}

static const char *mark(int s)
{
    return s > 0 ? "yes" : s < 0 ? "NO" : "-";
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 8) {
        fprintf(stderr, "usage: %s MODELS_DIR WORK_DIR EXPECT.txt MODEL [NODE ORT_CHECK.js ORT_DIR]\n", argv[0]);
        return 2;
    }
    const char *models = argv[1], *work_root = argv[2], *expect = argv[3], *model = argv[4];
    char path[PATH_LEN], dir[PATH_LEN], work[PATH_LEN];
    if (pathf(path, "%s/NO_TORCH", models) || pathf(dir, "%s/%s", models, model) ||
        pathf(work, "%s/%s", work_root, model)) {
        fprintf(stderr, "%s\n", why);
        return 2;
    }
    if (exists(path)) {
        printf("SKIP %s: python3-torch / python3-torchvision are not installed (tools/install-deps.sh)\n", model);
        return 77;
    }
    int err;
    char *reason = expected_failure(expect, model, &err);
    if (err)
        return 2;
    stage_state st = {0};
    int bad;
    if (!exists(dir))
        bad = fail("load: no generated data: %s is missing (gen_models.py has no model of that name?)", dir);
    else
        bad = run_model(dir, work, argc == 8 ? argv + 5 : NULL, &st);
    printf("%s: loads %s, forward agrees %s, gradients agree %s, ORT agrees %s\n", model, mark(st.loaded),
           mark(st.forward), mark(st.gradients), mark(st.ort));
    if (reason && bad && strstr(why, "cannot load onnxruntime-node")) {
        printf("FAIL %s: %s (ONNX Runtime itself is missing; an xfail does not cover that)\n", model, why);
        return 1;
    }
    if (reason && bad) {
        /* The listed reason starts with the stage it fails in; failing
         * earlier than that is a regression, later is progress to note. */
        int listed = stage_of(reason), now = stage_of(why);
        if (listed < 0) {
            printf("FAIL %s: expect.txt reason '%s' must start with load:, forward:, gradients: or ort:\n", model,
                   reason);
            return 1;
        }
        if (now < listed) {
            printf("FAIL %s: listed as failing in %s but now fails earlier: %s\n", model, stages[listed], why);
            return 1;
        }
        printf("XFAIL %s: %s (%s)%s\n", model, reason, why,
               now > listed ? " -- it now gets further: update its line in expect.txt" : "");
        return 0;
    }
    if (reason) {
        printf("XPASS %s: listed in expect.txt as failing (%s) but passes; remove its xfail line\n", model, reason);
        return 1;
    }
    if (bad) {
        printf("FAIL %s: %s\n", model, why);
        return 1;
    }
    printf("PASS %s\n", model);
    return 0;
}
