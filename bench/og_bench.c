/* SPDX-License-Identifier: MIT */
/* og_bench.c — the onnxgrad side of the benchmark (bench/run.sh).
 *
 * A long-lived worker driven by bench/bench.py through a line protocol on
 * stdin/stdout (stray prints of the library go to stderr):
 *
 *   case NAME KIND PASS DIR P1 P2 ...  build the case's graph (and its
 *                                       gradient graph), plan, load inputs
 *                                       from DIR/<tensor>.bin, run each plan
 *                                       once; -> "ok" | "err MESSAGE"
 *   warm N                              N untimed runs -> "ok"
 *   run N                               N timed reps -> "ok M1 F1 M2 F2 ..."
 *                                       (ms of the timed plan and of the
 *                                       forward plan in the same rep; F is
 *                                       0 when nothing is subtracted)
 *   save NAME...                        write those outputs of the last run
 *                                       to DIR/og_<NAME>.bin -> "ok"
 *   mem                                 -> "ok PEAK HOLD BASE": the process's peak
 *                                       resident bytes since the case began
 *                                       (VmHWM, reset at "case") and, for the
 *                                       training steps, the bytes the step
 *                                       must hold (0 for other cases), and
 *                                       the resident bytes when it began
 *   free                                drop the case -> "ok"
 *   quit
 *
 * KIND/PASS and the parameters are those of bench/cases.py. Forward passes
 * time the one-node graph; gradient passes time the graph
 * og_graph_build_gradient emits (seeded at Y, w.r.t. one tensor), and the
 * driver subtracts the forward time; "train" times forward + gradient w.r.t.
 * every weight in one plan. Every tensor is a graph input (fed each run).
 *
 * KIND "model" (real models, bench/models.py): DIR/model.onnx is loaded with
 * og_model_load_file; its weights stay initializers. "fwd" times the model;
 * "train" times the gradient graph seeded at the model's output (fed
 * DIR/Y_grad.bin as "<output>_grad") w.r.t. every float initializer, which
 * outputs Y and every "<initializer>_grad". The input is DIR/X.bin, with
 * the shape the model declares. The parameters (the input's dims) are not
 * used.
 *
 * --threads T sets OG_NUM_THREADS=T before any plan is made. OG_LOG=plan is
 * set (unless already set) and whatever the library prints to stderr while
 * planning and on the first run is saved to DIR/og_PASS.log for the driver.
 *
 * Only the public API is used. Every failing call is reported with
 * og_errmsg() and the case name; the worker then takes the next command. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <onnxgrad/onnxgrad.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define MAX_T 16
#define MAX_P 16

typedef struct tdesc {
    char name[16];
    int rank;
    int64_t dims[4];
} tdesc;

typedef struct bcase {
    char name[128], kind[16], pass[16], dir[PATH_MAX];
    int64_t p[MAX_P];
    /* training steps: inputs, weights, their gradients, and the forward
     * activations the backward reads (what PyTorch's autograd saves) */
    int64_t hold_bytes;
    int np;
    int nt;                    /* input tensors (the last may be Y_grad) */
    tdesc td[MAX_T];
    og_tensor *in[MAX_T];
    og_graph *fg, *gg;         /* forward graph, gradient graph (or NULL) */
    og_plan *fp, *gp;
    og_plan *main, *sub;       /* timed plan; plan whose time is subtracted (or NULL) */
    int n_main_in, n_sub_in;
    const og_tensor *main_in[MAX_T], *sub_in[MAX_T];
    og_tensor **last;          /* outputs of the last run of main */
    int n_last;
} bcase;

static FILE *proto;            /* the protocol's stdout */
static char errbuf[4096];

static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(proto, fmt, ap);
    va_end(ap);
    fputc('\n', proto);
    fflush(proto);
}

/* Replies with the recorded error, and says it on stderr too. */
static void reply_err(void)
{
    fprintf(stderr, "og_bench: %s\n", errbuf);
    fflush(stderr);
    reply("err %s", errbuf);
}

/* Records an error message (one line) for the reply. */
static void seterr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    for (char *c = errbuf; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

#define CK(call)                                                                                            \
    do {                                                                                                    \
        og_status st_ = (call);                                                                             \
        if (st_ != OG_OK) {                                                                                 \
            seterr("case %s.%s: %s failed (%s): %s", c->name, c->pass, #call, og_status_name(st_), og_errmsg()); \
            return false;                                                                                   \
        }                                                                                                   \
    } while (0)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* ---- stderr capture (OG_LOG output) ------------------------------------ */

static int cap_saved = -1, cap_fd = -1;

static void capture_begin(const bcase *c, const char *tag)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/og_%s.%s.log", c->dir, c->pass, tag);
    fflush(stderr);
    cap_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (cap_fd < 0)
        return;
    fflush(stdout);
    cap_saved = dup(2);
    dup2(cap_fd, 2);
    dup2(cap_fd, 1);   /* fd 1 is not the protocol's: catch prints to stdout too */
}

static void capture_end(void)
{
    if (cap_fd < 0)
        return;
    fflush(stderr);
    fflush(stdout);
    dup2(cap_saved, 2);
    dup2(cap_saved, 1);
    close(cap_saved);
    close(cap_fd);
    cap_fd = cap_saved = -1;
}

/* ---- graphs ------------------------------------------------------------- */

static void add_td(bcase *c, const char *name, int rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    tdesc *t = &c->td[c->nt++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    t->dims[0] = d0, t->dims[1] = d1, t->dims[2] = d2, t->dims[3] = d3;
}

static int want_params(const char *kind)
{
    if (!strcmp(kind, "conv"))
        return 14;
    if (!strcmp(kind, "convt"))
        return 9;
    if (!strcmp(kind, "maxpool"))
        return 7;
    if (!strcmp(kind, "relu") || !strcmp(kind, "resblock") || !strcmp(kind, "add"))
        return 4;
    if (!strcmp(kind, "batchnorm"))
        return 5;
    if (!strcmp(kind, "gemm"))
        return 3;
    if (!strcmp(kind, "lenet"))
        return 1;
    if (!strcmp(kind, "model"))
        return 0;   /* any number (informational) */
    return -1;
}

static bool node(bcase *c, og_graph *g, const char *op, const char *name, int ni, const char *const *in, int no,
                 const char *const *out, int na, const og_attr *at)
{
    CK(og_graph_add_node(g, op, NULL, name, ni, in, no, out, na, at));
    return true;
}

#define NAMES(...) ((const char *const[]){ __VA_ARGS__ })
#define NN(...) (int)(sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)), NAMES(__VA_ARGS__)

static bool conv_node(bcase *c, og_graph *g, const char *name, const char *x, const char *w, const char *b,
                      const char *y, int64_t r, int64_t s, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                      int64_t dw, int64_t group)
{
    og_attr at[5] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ r, s }),
                      og_attr_ints("strides", 2, (const int64_t[]){ sh, sw }),
                      og_attr_ints("pads", 4, (const int64_t[]){ ph, pw, ph, pw }),
                      og_attr_ints("dilations", 2, (const int64_t[]){ dh, dw }), og_attr_int("group", group) };
    if (b)
        return node(c, g, "Conv", name, NN(x, w, b), NN(y), 5, at);
    return node(c, g, "Conv", name, NN(x, w), NN(y), 5, at);
}

/* Declares the inputs (c->td, set here) and the nodes of the forward graph,
 * output "Y" (plus "I" for MaxPool). wrt: tensors the gradient is taken
 * w.r.t. (NULL-terminated). */
static bool build_forward(bcase *c, og_graph *g, const char **wrt)
{
    const int64_t *p = c->p;
    bool grad = strcmp(c->pass, "fwd") != 0;
    int nw = 0;
    c->nt = 0;
    if (!strcmp(c->kind, "conv")) {
        int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], R = p[5], S = p[6], sh = p[7], sw = p[8],
                ph = p[9], pw = p[10], dh = p[11], dw = p[12], grp = p[13];
        int64_t P = (H + 2 * ph - dh * (R - 1) - 1) / sh + 1, Q = (W + 2 * pw - dw * (S - 1) - 1) / sw + 1;
        add_td(c, "X", 4, N, C, H, W);
        add_td(c, "W", 4, K, C / grp, R, S);
        if (grad)
            add_td(c, "Y_grad", 4, N, K, P, Q);
        if (!conv_node(c, g, "conv", "X", "W", NULL, "Y", R, S, sh, sw, ph, pw, dh, dw, grp))
            return false;
        if (!strcmp(c->pass, "dx"))
            wrt[nw++] = "X";
        else if (!strcmp(c->pass, "dw"))
            wrt[nw++] = "W";
    } else if (!strcmp(c->kind, "convt")) {
        int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], R = p[5], S = p[6], s = p[7], pd = p[8];
        add_td(c, "X", 4, N, C, H, W);
        add_td(c, "W", 4, C, K, R, S);
        og_attr at[3] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ R, S }),
                          og_attr_ints("strides", 2, (const int64_t[]){ s, s }),
                          og_attr_ints("pads", 4, (const int64_t[]){ pd, pd, pd, pd }) };
        if (!node(c, g, "ConvTranspose", "convt", NN("X", "W"), NN("Y"), 3, at))
            return false;
        if (grad) {
            int64_t P = (H - 1) * s - 2 * pd + R, Q = (W - 1) * s - 2 * pd + S;
            add_td(c, "Y_grad", 4, N, K, P, Q);
            wrt[nw++] = !strcmp(c->pass, "dw") ? "W" : "X";
        }
    } else if (!strcmp(c->kind, "maxpool")) {
        int64_t N = p[0], C = p[1], H = p[2], W = p[3], k = p[4], s = p[5], pd = p[6];
        int64_t P = (H + 2 * pd - k) / s + 1, Q = (W + 2 * pd - k) / s + 1;
        add_td(c, "X", 4, N, C, H, W);
        if (grad)
            add_td(c, "Y_grad", 4, N, C, P, Q);
        og_attr at[3] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ k, k }),
                          og_attr_ints("strides", 2, (const int64_t[]){ s, s }),
                          og_attr_ints("pads", 4, (const int64_t[]){ pd, pd, pd, pd }) };
        if (!node(c, g, "MaxPool", "pool", NN("X"), NN("Y", "I"), 3, at))
            return false;
        wrt[nw++] = "X";
    } else if (!strcmp(c->kind, "relu")) {
        add_td(c, "X", 4, p[0], p[1], p[2], p[3]);
        if (grad)
            add_td(c, "Y_grad", 4, p[0], p[1], p[2], p[3]);
        if (!node(c, g, "Relu", "relu", NN("X"), NN("Y"), 0, NULL))
            return false;
        wrt[nw++] = "X";
    } else if (!strcmp(c->kind, "add")) {
        add_td(c, "A", 4, p[0], p[1], p[2], p[3]);
        add_td(c, "B", 4, p[0], p[1], p[2], p[3]);
        if (!node(c, g, "Add", "add", NN("A", "B"), NN("Y"), 0, NULL))
            return false;
    } else if (!strcmp(c->kind, "batchnorm")) {
        add_td(c, "X", 4, p[0], p[1], p[2], p[3]);
        const char *vec[4] = { "scale", "B", "mean", "var" };
        for (int k = 0; k < 4; k++)
            add_td(c, vec[k], 1, p[1], 0, 0, 0);
        og_attr at[1] = { og_attr_int("training_mode", p[4] != 0) };
        /* training mode also outputs the updated running statistics (not timed apart: [C]) */
        if (p[4] ? !node(c, g, "BatchNormalization", "bn", NN("X", "scale", "B", "mean", "var"),
                         NN("Y", "running_mean", "running_var"), 1, at)
                 : !node(c, g, "BatchNormalization", "bn", NN("X", "scale", "B", "mean", "var"), NN("Y"), 1, at))
            return false;
    } else if (!strcmp(c->kind, "gemm")) {
        int64_t M = p[0], K = p[1], N = p[2];
        add_td(c, "A", 2, M, K, 0, 0);
        add_td(c, "B", 2, K, N, 0, 0);
        if (grad)
            add_td(c, "Y_grad", 2, M, N, 0, 0);
        if (!node(c, g, "Gemm", "gemm", NN("A", "B"), NN("Y"), 0, NULL))
            return false;
        wrt[nw++] = !strcmp(c->pass, "dB") ? "B" : "A";
    } else if (!strcmp(c->kind, "lenet")) {
        int64_t N = p[0];
        add_td(c, "X", 4, N, 1, 32, 32);
        add_td(c, "W1", 4, 6, 1, 5, 5);
        add_td(c, "B1", 1, 6, 0, 0, 0);
        add_td(c, "W2", 4, 16, 6, 5, 5);
        add_td(c, "B2", 1, 16, 0, 0, 0);
        add_td(c, "W3", 2, 120, 400, 0, 0);
        add_td(c, "B3", 1, 120, 0, 0, 0);
        add_td(c, "W4", 2, 84, 120, 0, 0);
        add_td(c, "B4", 1, 84, 0, 0, 0);
        add_td(c, "W5", 2, 10, 84, 0, 0);
        add_td(c, "B5", 1, 10, 0, 0, 0);
        add_td(c, "Y_grad", 2, N, 10, 0, 0);
        og_attr pool[2] = { og_attr_ints("kernel_shape", 2, (const int64_t[]){ 2, 2 }),
                            og_attr_ints("strides", 2, (const int64_t[]){ 2, 2 }) };
        og_attr tb = og_attr_int("transB", 1), ax = og_attr_int("axis", 1);
        if (!conv_node(c, g, "conv1", "X", "W1", "B1", "c1", 5, 5, 1, 1, 0, 0, 1, 1, 1) ||
            !node(c, g, "Relu", "relu1", NN("c1"), NN("r1"), 0, NULL) ||
            !node(c, g, "MaxPool", "pool1", NN("r1"), NN("p1"), 2, pool) ||
            !conv_node(c, g, "conv2", "p1", "W2", "B2", "c2", 5, 5, 1, 1, 0, 0, 1, 1, 1) ||
            !node(c, g, "Relu", "relu2", NN("c2"), NN("r2"), 0, NULL) ||
            !node(c, g, "MaxPool", "pool2", NN("r2"), NN("p2"), 2, pool) ||
            !node(c, g, "Flatten", "flatten", NN("p2"), NN("f"), 1, &ax) ||
            !node(c, g, "Gemm", "fc1", NN("f", "W3", "B3"), NN("d1"), 1, &tb) ||
            !node(c, g, "Relu", "relu3", NN("d1"), NN("r3"), 0, NULL) ||
            !node(c, g, "Gemm", "fc2", NN("r3", "W4", "B4"), NN("d2"), 1, &tb) ||
            !node(c, g, "Relu", "relu4", NN("d2"), NN("r4"), 0, NULL) ||
            !node(c, g, "Gemm", "fc3", NN("r4", "W5", "B5"), NN("Y"), 1, &tb))
            return false;
        for (int k = 1; k < c->nt - 1; k++)
            wrt[nw++] = c->td[k].name;
        /* Relu outputs, MaxPool indices (int64) and pooled maps, Gemm inputs */
        c->hold_bytes = 4 * (N * 6 * 28 * 28 + N * 6 * 14 * 14 + N * 16 * 10 * 10 + N * 400 + N * 120 + N * 84) +
                        8 * (N * 6 * 14 * 14 + N * 16 * 5 * 5);
    } else if (!strcmp(c->kind, "resblock")) {
        int64_t N = p[0], C = p[1], H = p[2], W = p[3];
        add_td(c, "X", 4, N, C, H, W);
        add_td(c, "W1", 4, C, C, 3, 3);
        add_td(c, "W2", 4, C, C, 3, 3);
        add_td(c, "Y_grad", 4, N, C, H, W);
        if (!conv_node(c, g, "conv1", "X", "W1", NULL, "a", 3, 3, 1, 1, 1, 1, 1, 1, 1) ||
            !node(c, g, "Relu", "relu1", NN("a"), NN("b"), 0, NULL) ||
            !conv_node(c, g, "conv2", "b", "W2", NULL, "d", 3, 3, 1, 1, 1, 1, 1, 1, 1) ||
            !node(c, g, "Add", "add", NN("d", "X"), NN("e"), 0, NULL) ||
            !node(c, g, "Relu", "relu2", NN("e"), NN("Y"), 0, NULL))
            return false;
        wrt[nw++] = "W1";
        wrt[nw++] = "W2";
        c->hold_bytes = 4 * 2 * N * C * H * W;   /* the two Relu outputs (X is an input) */
    } else {
        seterr("case %s: unknown kind '%s'", c->name, c->kind);
        return false;
    }
    wrt[nw] = NULL;
    if (c->hold_bytes) {
        for (int k = 0; k < c->nt; k++) {   /* inputs and weights */
            int64_t n = 4;
            for (int d = 0; d < c->td[k].rank; d++)
                n *= c->td[k].dims[d];
            c->hold_bytes += n;
            if (k > 0 && strcmp(c->td[k].name, "Y_grad"))
                c->hold_bytes += n;   /* the weight's gradient */
        }
    }
    for (int k = 0; k < c->nt; k++)
        if (strcmp(c->td[k].name, "Y_grad"))
            CK(og_graph_add_input(g, c->td[k].name, OG_FLOAT, c->td[k].rank, c->td[k].dims, NULL));
    CK(og_graph_add_output(g, "Y"));
    if (!strcmp(c->kind, "maxpool"))
        CK(og_graph_add_output(g, "I"));
    return true;
}

static bool load_inputs(bcase *c)
{
    for (int k = 0; k < c->nt; k++) {
        tdesc *t = &c->td[k];
        CK(og_tensor_create(OG_FLOAT, t->rank, t->dims, &c->in[k]));
        CK(og_tensor_set_name(c->in[k], t->name));
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s.bin", c->dir, t->name);
        FILE *f = fopen(path, "rb");
        if (!f) {
            seterr("case %s.%s: cannot open %s: %s", c->name, c->pass, path, strerror(errno));
            return false;
        }
        size_t want = (size_t)c->in[k]->numel, got = fread(c->in[k]->data, sizeof(float), want, f);
        int extra = fgetc(f);
        fclose(f);
        if (got != want || extra != EOF) {
            seterr("case %s.%s: %s does not hold exactly %zu floats", c->name, c->pass, path, want);
            return false;
        }
    }
    return true;
}

static void free_outputs(og_tensor **out, int n)
{
    if (!out)
        return;
    for (int k = 0; k < n; k++)
        og_tensor_free(out[k]);
}

static void case_free(bcase *c)
{
    if (c->last) {
        free_outputs(c->last, c->n_last);
        free(c->last);
    }
    for (int k = 0; k < c->nt; k++)
        og_tensor_free(c->in[k]);
    og_plan_free(c->gp);
    og_plan_free(c->fp);
    og_graph_free(c->gg);
    og_graph_free(c->fg);
    memset(c, 0, sizeof *c);
}

/* One run of plan p through og_plan_run_borrowed (the run that allocates
 * nothing: outputs stay in the plan). When keep is set, copies of the
 * outputs go to *keep (freed first), made after the clock stops. Returns
 * the milliseconds the run took, < 0 on error. */
static double run_once(bcase *c, og_plan *p, const og_graph *g, int n_in, const og_tensor *const *in,
                       og_tensor ***keep, int *n_keep)
{
    int n_out = og_graph_num_outputs(g);
    const og_tensor **res = calloc((size_t)n_out + 1, sizeof *res);
    if (!res) {
        seterr("case %s.%s: out of memory", c->name, c->pass);
        return -1;
    }
    double t0 = now_ms();
    og_status st = og_plan_run_borrowed(p, n_in, in, res);
    double t1 = now_ms();
    if (st != OG_OK) {
        seterr("case %s.%s: og_plan_run_borrowed failed (%s): %s", c->name, c->pass, og_status_name(st),
               og_errmsg());
        free(res);
        return -1;
    }
    if (keep) {
        og_tensor **out = calloc((size_t)n_out + 1, sizeof *out);
        for (int k = 0; out && k < n_out; k++)
            if (og_tensor_clone(res[k], &out[k]) != OG_OK) {
                seterr("case %s.%s: copying output %d: %s", c->name, c->pass, k, og_errmsg());
                free_outputs(out, k);
                free(out);
                free(res);
                return -1;
            }
        if (!out) {
            seterr("case %s.%s: out of memory", c->name, c->pass);
            free(res);
            return -1;
        }
        if (*keep) {
            free_outputs(*keep, *n_keep);
            free(*keep);
        }
        *keep = out;
        *n_keep = n_out;
    }
    free(res);
    return t1 - t0;
}

static int n_threads;   /* --threads (0: the library's default) */

static bool plan_logged(bcase *c, const og_graph *g, og_plan **p, const char *tag)
{
    og_plan_options po = { .n_threads = n_threads };
    capture_begin(c, tag);
    og_status st = og_plan_create_ex(g, &po, p);
    capture_end();
    CK(st);
    return true;
}

/* The kernel's peak-RSS mark (VmHWM) restarts from the current RSS. */
static long long base_rss;   /* VmRSS when the case began */

static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

/* A field of /proc/self/status in bytes: VmHWM (peak) or VmRSS (now). */
static long long status_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kb = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n))
            kb = strtoll(line + n, NULL, 10);
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

static const og_graph *main_graph(const bcase *c) { return c->main == c->fp ? c->fg : c->gg; }

/* Declares tensor `name` of c->td with the dims of v (all known, rank <= 4). */
static bool model_td(bcase *c, const char *name, const og_value_info *v)
{
    if (v->rank < 0 || v->rank > 4) {
        seterr("case %s.%s: %s has rank %d (want 0..4)", c->name, c->pass, v->name, v->rank);
        return false;
    }
    int64_t d[4] = { 0, 0, 0, 0 };
    for (int k = 0; k < v->rank; k++) {
        if (v->dims[k] < 0) {
            seterr("case %s.%s: %s has an unknown dim %d", c->name, c->pass, v->name, k);
            return false;
        }
        d[k] = v->dims[k];
    }
    add_td(c, name, v->rank, d[0], d[1], d[2], d[3]);
    return true;
}

/* A real model: loaded from DIR/model.onnx, weights as initializers. */
static bool case_setup_model(bcase *c)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/model.onnx", c->dir);
    CK(og_model_load_file(path, &c->fg));
    og_value_info xi, yi;
    CK(og_graph_value(c->fg, "X", &xi));
    if (og_graph_num_outputs(c->fg) != 1) {
        seterr("case %s.%s: the model has %d outputs (want 1)", c->name, c->pass, og_graph_num_outputs(c->fg));
        return false;
    }
    CK(og_graph_output(c->fg, 0, &yi));
    bool train = !strcmp(c->pass, "train");
    c->nt = 0;
    if (!model_td(c, "X", &xi) || (train && !model_td(c, "Y_grad", &yi)) || !load_inputs(c))
        return false;
    if (!train) {
        if (!plan_logged(c, c->fg, &c->fp, "fwd"))
            return false;
        c->main = c->fp;
    } else {
        /* every float initializer: the default wrt set minus the graph inputs (X) */
        const char *seeded[1] = { yi.name };
        og_grad_options o = { .n_seeded = 1, .seeded = seeded };
        int n = 0, m = 0;
        CK(og_grad_wrt_count(c->fg, &o, &n));
        const char **wrt = calloc((size_t)n + 1, sizeof *wrt);
        if (!wrt) {
            seterr("case %s.%s: out of memory", c->name, c->pass);
            return false;
        }
        for (int k = 0; k < n; k++) {
            const char *nm = NULL;
            og_status st = og_grad_wrt_name(c->fg, &o, k, &nm);
            if (st != OG_OK) {
                free(wrt);
                CK(st);
            }
            og_value_info vi;
            bool is_input = false;
            for (int i = 0; i < og_graph_num_inputs(c->fg); i++)
                if (og_graph_input(c->fg, i, &vi) == OG_OK && !strcmp(vi.name, nm))
                    is_input = true;
            if (!is_input)
                wrt[m++] = nm;
        }
        o.n_wrt = m;
        o.wrt = wrt;
        og_status st = og_graph_build_gradient(c->fg, &o, &c->gg);
        free(wrt);
        CK(st);
        if (!plan_logged(c, c->gg, &c->gp, "grad"))
            return false;
        c->main = c->gp;
    }
    for (int k = 0; k < c->nt; k++)
        c->main_in[c->n_main_in++] = c->in[k];
    capture_begin(c, "run");
    double t = run_once(c, c->main, main_graph(c), c->n_main_in, c->main_in, &c->last, &c->n_last);
    capture_end();
    return t >= 0;
}

static bool case_setup(bcase *c)
{
    const char *wrt[MAX_T + 1];
    if (!strcmp(c->kind, "model"))
        return case_setup_model(c);
    CK(og_graph_create(&c->fg));
    CK(og_graph_set_opset(c->fg, "", 17));
    if (!build_forward(c, c->fg, wrt))
        return false;
    CK(og_graph_finalize(c->fg));
    if (!load_inputs(c))
        return false;
    bool fwd = !strcmp(c->pass, "fwd"), train = !strcmp(c->pass, "train");
    if (!train && !plan_logged(c, c->fg, &c->fp, "fwd"))
        return false;
    if (!fwd) {
        int n_wrt = 0;
        while (wrt[n_wrt])
            n_wrt++;
        og_grad_options o = { .n_seeded = 1, .seeded = NAMES("Y"), .n_wrt = n_wrt, .wrt = wrt };
        CK(og_graph_build_gradient(c->fg, &o, &c->gg));
        if (!plan_logged(c, c->gg, &c->gp, "grad"))
            return false;
    }
    for (int k = 0; k < c->nt; k++) {
        if (strcmp(c->td[k].name, "Y_grad"))
            c->sub_in[c->n_sub_in++] = c->in[k];
        c->main_in[c->n_main_in++] = c->in[k];
    }
    if (fwd) {
        c->main = c->fp;
        c->n_main_in = c->n_sub_in;
        memcpy(c->main_in, c->sub_in, sizeof c->main_in);
        c->n_sub_in = 0;
    } else {
        c->main = c->gp;
        c->sub = train ? NULL : c->fp;
    }
    /* first runs, with whatever the library logs on a first run */
    capture_begin(c, "run");
    double t = run_once(c, c->main, fwd ? c->fg : c->gg, c->n_main_in, c->main_in, &c->last, &c->n_last);
    if (t >= 0 && c->sub)
        t = run_once(c, c->sub, c->fg, c->n_sub_in, c->sub_in, NULL, NULL);
    capture_end();
    return t >= 0;
}

static bool case_run(bcase *c, int n, double *tm, double *ts)
{
    for (int i = 0; i < n; i++) {
        double a = run_once(c, c->main, main_graph(c), c->n_main_in, c->main_in, i == n - 1 ? &c->last : NULL,
                            &c->n_last);
        if (a < 0)
            return false;
        double b = 0;
        if (c->sub && (b = run_once(c, c->sub, c->fg, c->n_sub_in, c->sub_in, NULL, NULL)) < 0)
            return false;
        if (tm)
            tm[i] = a, ts[i] = b;
    }
    return true;
}

static bool case_save(bcase *c, char *names)
{
    for (char *tok = strtok(names, " \t"); tok; tok = strtok(NULL, " \t")) {
        const og_tensor *t = NULL;
        for (int k = 0; k < c->n_last; k++)
            if (c->last[k] && c->last[k]->name && !strcmp(c->last[k]->name, tok))
                t = c->last[k];
        if (!t) {
            seterr("case %s.%s: no output named %s", c->name, c->pass, tok);
            return false;
        }
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/og_%s.bin", c->dir, tok);
        FILE *f = fopen(path, "wb");
        size_t nb = (size_t)t->numel * og_dtype_size(t->dtype);
        if (!f || fwrite(t->data, 1, nb, f) != nb || fclose(f) != 0) {
            seterr("case %s.%s: cannot write %s", c->name, c->pass, path);
            return false;
        }
    }
    return true;
}

static void serve(void)
{
    static char line[1 << 16];
    bcase c;
    bool have = false;
    memset(&c, 0, sizeof c);
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        char *cmd = strtok(line, " \t");
        if (!cmd)
            continue;
        if (!strcmp(cmd, "quit"))
            break;
        if (!strcmp(cmd, "case")) {
            if (have)
                case_free(&c);
            have = true;
            const char *name = strtok(NULL, " \t"), *kind = strtok(NULL, " \t"), *pass = strtok(NULL, " \t"),
                       *dir = strtok(NULL, " \t");
            if (!name || !kind || !pass || !dir) {
                reply("err usage: case NAME KIND PASS DIR PARAMS...");
                continue;
            }
            snprintf(c.name, sizeof c.name, "%s", name);
            snprintf(c.kind, sizeof c.kind, "%s", kind);
            snprintf(c.pass, sizeof c.pass, "%s", pass);
            snprintf(c.dir, sizeof c.dir, "%s", dir);
            for (char *tok; (tok = strtok(NULL, " \t")) && c.np < MAX_P;)
                c.p[c.np++] = strtoll(tok, NULL, 10);
            if (want_params(kind) < 0 || (want_params(kind) > 0 && c.np != want_params(kind))) {
                reply("err case %s: kind %s wants %d parameters, got %d", name, kind, want_params(kind), c.np);
                continue;
            }
            reset_peak_rss();
            base_rss = status_bytes("VmRSS:");
            if (case_setup(&c))
                reply("ok");
            else
                reply_err();
        } else if (!strcmp(cmd, "warm") || !strcmp(cmd, "run")) {
            const char *a = strtok(NULL, " \t");
            int n = a ? atoi(a) : 1;
            if (n < 1)
                n = 1;
            if (!have || !c.main) {
                reply("err no case is set up");
                continue;
            }
            double *tm = calloc((size_t)n * 2, sizeof *tm);
            if (!tm) {
                reply("err out of memory");
                continue;
            }
            bool timed = !strcmp(cmd, "run");
            if (!case_run(&c, n, tm, tm + n)) {
                reply_err();
            } else if (!timed) {
                reply("ok");
            } else {
                fputs("ok", proto);
                for (int i = 0; i < n; i++)
                    fprintf(proto, " %.6f %.6f", tm[i], tm[n + i]);
                reply("");
            }
            free(tm);
        } else if (!strcmp(cmd, "save")) {
            char *rest = strtok(NULL, "");
            if (!have || !c.last)
                reply("err no outputs to save");
            else if (case_save(&c, rest ? rest : (char[]){ 0 }))
                reply("ok");
            else
                reply_err();
        } else if (!strcmp(cmd, "mem")) {
            fprintf(proto, "ok %lld %lld %lld", status_bytes("VmHWM:"), have ? (long long)c.hold_bytes : 0LL,
                    base_rss);
            reply("");
        } else if (!strcmp(cmd, "free")) {
            if (have)
                case_free(&c);
            have = false;
            reply("ok");
        } else {
            reply("err unknown command '%s'", cmd);
        }
    }
    if (have)
        case_free(&c);
}

static void usage(void)
{
    fprintf(stderr, "usage: og_bench [--threads T]   (commands on stdin, see bench/og_bench.c)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            const char *t = argv[++i];
            char *end;
            long n = strtol(t, &end, 10);
            if (*end || n < 1)
                usage();
            setenv("OG_NUM_THREADS", t, 1);
            n_threads = (int)n;
        } else {
            usage();
        }
    }
    setenv("OG_LOG", "plan", 0);
    /* the protocol keeps the real stdout; anything else printed goes to stderr */
    int pfd = dup(1);
    if (pfd < 0 || !(proto = fdopen(pfd, "w"))) {
        perror("og_bench: dup");
        return 1;
    }
    dup2(2, 1);
    serve();
    fclose(proto);
    return 0;
}
