/* SPDX-License-Identifier: MIT */
/* train_cmd.c — `onnxgrad train` and `onnxgrad eval`: the training loop
 * over a dataset (og_trainer, og_dataset), its progress, checkpoints,
 * resuming, the plot, and scoring a model on a test split. */
#define _POSIX_C_SOURCE 200809L
#include "train_cmd.h"
#include "cli_util.h"
#include "distributed.h"
#include "json.h"
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <onnxgrad/onnxgrad.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char HELP_TRAIN[] =
    "usage: onnxgrad train MODEL.onnx --data DIR (--loss-fn softmax-cross-entropy|mse | --loss NAME)\n"
    "           [--input-name NAME] [--output-name NAME]\n"
    "           --optimizer sgd|momentum|adam|adagrad --lr F [--momentum F] [--nesterov]\n"
    "           [--weight-decay F] [--beta1 F] [--beta2 F] [--epsilon F]\n"
    "           [--lr-schedule constant|step:EPOCHS:GAMMA|cosine] [--clip-norm F]\n"
    "           --epochs N --batch N [--rng-seed N] [--threads N] [-o TRAINED.onnx]\n"
    "           [--checkpoint-dir DIR] [--keep N] [--resume CHECKPOINT.onnx]\n"
    "           [--plot CURVE.svg|.png] [--json] [--distributed]\n"
    "\n"
    "Trains MODEL on the train split of DIR and scores the test split after\n"
    "every epoch. The training step (forward, loss, gradients, optimiser) is\n"
    "one ONNX graph written into the model's TrainingInfoProto, so the saved\n"
    "model carries its training procedure; a model that already carries one\n"
    "(a checkpoint, or the -o of an earlier run) continues training with it.\n"
    "\n"
    "data (--data DIR): MNIST-style IDX files (train-images-idx3-ubyte,\n"
    "train-labels-idx1-ubyte, t10k-..., plain or .gz), pixels scaled to [0, 1]\n"
    "as N x 1 x H x W, labels int64; or train_x.pb, train_y.pb, test_x.pb,\n"
    "test_y.pb TensorProto files.\n"
    "\n"
    "options:\n"
    "  --loss-fn FN        append a loss to the output: softmax-cross-entropy\n"
    "                      (int64 labels) or mse (against one-hot labels)\n"
    "  --loss NAME         the model computes its loss in output NAME; the labels\n"
    "                      feed its other input\n"
    "  --input-name NAME   the data input (default: the only float input)\n"
    "  --output-name NAME  the output the loss and the accuracy read (default: first)\n"
    "  --optimizer OPT     sgd, momentum (torch.optim.SGD with momentum), adam, adagrad\n"
    "  --lr F              learning rate\n"
    "  --momentum F        momentum (default 0.9 with --optimizer momentum)\n"
    "  --nesterov          Nesterov momentum\n"
    "  --weight-decay F    L2 penalty added to the gradients (default 0)\n"
    "  --beta1/--beta2 F   Adam's moment decays (0.9, 0.999); --epsilon F (1e-8;\n"
    "                      Adagrad 1e-10)\n"
    "  --lr-schedule S     constant; step:E:G (times G every E epochs); cosine\n"
    "                      (to 0 over --epochs)\n"
    "  --clip-norm F       scale the gradients to a global L2 norm of at most F\n"
    "  --epochs N          train until N epochs are complete (resuming counts the\n"
    "                      epochs already done)\n"
    "  --batch N           examples per step; the last, smaller batch of an epoch\n"
    "                      runs too (a model with a fixed batch needs N equal to it\n"
    "                      and drops that remainder)\n"
    "  --rng-seed N        seed of the shuffling (default 1)\n"
    "  --no-shuffle        take the examples in file order\n"
    "  -o FILE             write the trained model (with its training step)\n"
    "  --checkpoint-dir D  write D/epoch-<k>.onnx after each epoch (and\n"
    "                      D/interrupted.onnx on Ctrl-C)\n"
    "  --keep N            keep only the last N epoch checkpoints\n"
    "  --resume FILE       continue from a checkpoint to --epochs; settings given\n"
    "                      again must match the stored ones\n"
    "  --plot FILE         draw loss and accuracy per epoch (.svg or .png; needs\n"
    "                      gnuplot)\n"
    "  --json              one JSON object per epoch on stdout: epoch, train_loss,\n"
    "                      test_accuracy, seconds, images_per_second\n"
    "  --log-steps         with --json, also one object per step: epoch, step, loss\n"
    "  --threads N         threads (default: OG_NUM_THREADS, else the cores;\n"
    "                      with --distributed, the cores / the ranks on the host)\n"
    "  --distributed       data-parallel training under mpirun (needs an onnxgrad\n"
    "                      built with MPI): `mpirun -np K onnxgrad train ...\n"
    "                      --distributed` splits each global batch of --batch N\n"
    "                      into K contiguous shards (N >= K), sums the ranks'\n"
    "                      gradients in rank order and applies the same update on\n"
    "                      every rank; BatchNormalization statistics stay per rank\n"
    "                      (rank 0's are saved). Rank 0 alone prints, scores the\n"
    "                      test split and writes -o, checkpoints and the plot.\n"
    "                      Every rank must read the same data: %r in --data DIR\n"
    "                      becomes the rank (per-rank copies of the data set)\n"
    "  -h, --help          show this help\n";

const char HELP_EVAL[] =
    "usage: onnxgrad eval MODEL.onnx --data DIR [--split test|train] [--input-name NAME]\n"
    "           [--output-name NAME] [--batch N] [--json]\n"
    "\n"
    "Scores a classifier: the accuracy of the arg-max of the output against the\n"
    "labels of the split (default test), and the confusion matrix (rows: true\n"
    "labels, columns: predicted).\n"
    "\n"
    "options:\n"
    "  --data DIR          the dataset (as for train)\n"
    "  --split S           test (default) or train\n"
    "  --input-name NAME   the data input (default: the only float input)\n"
    "  --output-name NAME  the output holding the class scores (default: first)\n"
    "  --batch N           examples per run (default 1000)\n"
    "  --json              {\"accuracy\": fraction, \"correct\", \"total\", \"confusion\": [[...]]}\n"
    "  --threads N         threads\n"
    "  -h, --help          show this help\n";

/* ---- options ------------------------------------------------------------------ */

enum {
    OPT_DATA, OPT_LOSS_FN, OPT_LOSS, OPT_INPUT, OPT_OUTPUT_NAME, OPT_OPTIM, OPT_LR, OPT_MOMENTUM, OPT_NESTEROV,
    OPT_WD, OPT_BETA1, OPT_BETA2, OPT_EPS, OPT_SCHEDULE, OPT_CLIP, OPT_EPOCHS, OPT_BATCH, OPT_SEED, OPT_OUT,
    OPT_CKPT, OPT_KEEP, OPT_RESUME, OPT_PLOT, OPT_JSON, OPT_SPLIT, OPT_NO_SHUFFLE, OPT_LOG_STEPS, OPT_DISTRIBUTED,
    N_OPTS
};

static const cli_option TRAIN_OPTS[] = {
    { "data", 0, true, OPT_DATA, NULL },
    { "loss-fn", 0, true, OPT_LOSS_FN, NULL },
    { "loss", 0, true, OPT_LOSS, NULL },
    { "input-name", 0, true, OPT_INPUT, NULL },
    { "output-name", 0, true, OPT_OUTPUT_NAME, NULL },
    { "optimizer", 0, true, OPT_OPTIM, NULL },
    { "lr", 0, true, OPT_LR, NULL },
    { "momentum", 0, true, OPT_MOMENTUM, NULL },
    { "nesterov", 0, false, OPT_NESTEROV, NULL },
    { "weight-decay", 0, true, OPT_WD, NULL },
    { "beta1", 0, true, OPT_BETA1, NULL },
    { "beta2", 0, true, OPT_BETA2, NULL },
    { "epsilon", 0, true, OPT_EPS, NULL },
    { "lr-schedule", 0, true, OPT_SCHEDULE, NULL },
    { "clip-norm", 0, true, OPT_CLIP, NULL },
    { "epochs", 0, true, OPT_EPOCHS, NULL },
    { "batch", 0, true, OPT_BATCH, NULL },
    { "rng-seed", 0, true, OPT_SEED, NULL },
    { "output", 'o', true, OPT_OUT, NULL },
    { "checkpoint-dir", 0, true, OPT_CKPT, NULL },
    { "keep", 0, true, OPT_KEEP, NULL },
    { "resume", 0, true, OPT_RESUME, NULL },
    { "plot", 0, true, OPT_PLOT, NULL },
    { "json", 0, false, OPT_JSON, NULL },
    { "no-shuffle", 0, false, OPT_NO_SHUFFLE, NULL },
    { "log-steps", 0, false, OPT_LOG_STEPS, NULL },
    { "distributed", 0, false, OPT_DISTRIBUTED, NULL },
    { NULL, 0, false, 0, NULL },
};

static const cli_option EVAL_OPTS[] = {
    { "data", 0, true, OPT_DATA, NULL },
    { "split", 0, true, OPT_SPLIT, NULL },
    { "input-name", 0, true, OPT_INPUT, NULL },
    { "output-name", 0, true, OPT_OUTPUT_NAME, NULL },
    { "batch", 0, true, OPT_BATCH, NULL },
    { "json", 0, false, OPT_JSON, NULL },
    { NULL, 0, false, 0, NULL },
};

typedef struct train_args {
    const char *cmd;
    char *val[N_OPTS];   /* value of each option given (or "" for a flag), NULL when absent */
    og_train_options o;
    long epochs, batch, keep;
    unsigned long long seed;
} train_args;

static int take(void *user, int id, const char *opt, char *v)
{
    train_args *a = user;
    (void)opt;
    a->val[id] = v ? v : "";
    return EXIT_OK;
}

static int parse_double(const char *cmd, const char *opt, const char *v, double min, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(d) || d < min)
        return cli_usage_error(cmd, "--%s needs a number >= %g, got '%s'", opt, min, v);
    *out = d;
    return EXIT_OK;
}

static int parse_choice(const char *cmd, const char *opt, const char *v, const char *const *names, int n, int *out)
{
    for (int k = 0; k < n; k++)
        if (strcmp(v, names[k]) == 0) {
            *out = k;
            return EXIT_OK;
        }
    char list[256] = "";
    for (int k = 0; k < n; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", names[k]);
    return cli_usage_error(cmd, "--%s must be one of %s, got '%s'", opt, list, v);
}

static const char *const OPTIMIZERS[] = { "sgd", "momentum", "adam", "adagrad" };
static const char *const LOSS_FNS[] = { "softmax-cross-entropy", "mse" };

/* The training options the command line gives (on top of `base`). */
static int options_from_args(train_args *a, og_train_options *o)
{
    const char *cmd = a->cmd;
    int rc, k = 0;
    if (a->val[OPT_LOSS_FN] && a->val[OPT_LOSS])
        return cli_usage_error(cmd, "give --loss-fn or --loss, not both");
    if (a->val[OPT_LOSS_FN]) {
        if ((rc = parse_choice(cmd, "loss-fn", a->val[OPT_LOSS_FN], LOSS_FNS, 2, &k)))
            return rc;
        o->loss_fn = k == 0 ? OG_LOSS_SOFTMAX_CROSS_ENTROPY : OG_LOSS_MSE;
    }
    if (a->val[OPT_LOSS]) {
        o->loss_fn = OG_LOSS_MODEL;
        o->loss = a->val[OPT_LOSS];
    }
    if (a->val[OPT_INPUT])
        o->input_name = a->val[OPT_INPUT];
    if (a->val[OPT_OUTPUT_NAME])
        o->output_name = a->val[OPT_OUTPUT_NAME];
    if (a->val[OPT_OPTIM]) {
        if ((rc = parse_choice(cmd, "optimizer", a->val[OPT_OPTIM], OPTIMIZERS, 4, &k)))
            return rc;
        o->optimizer = (og_optimizer)k;
        if (o->optimizer == OG_OPTIM_MOMENTUM && !a->val[OPT_MOMENTUM])
            o->momentum = 0.9;
    }
    struct { int id; const char *name; double min; double *dst; } nums[] = {
        { OPT_LR, "lr", 0, &o->lr }, { OPT_MOMENTUM, "momentum", 0, &o->momentum },
        { OPT_WD, "weight-decay", 0, &o->weight_decay }, { OPT_BETA1, "beta1", 0, &o->beta1 },
        { OPT_BETA2, "beta2", 0, &o->beta2 }, { OPT_EPS, "epsilon", 0, &o->epsilon },
        { OPT_CLIP, "clip-norm", 0, &o->clip_norm },
    };
    for (size_t j = 0; j < sizeof nums / sizeof nums[0]; j++)
        if (a->val[nums[j].id] && (rc = parse_double(cmd, nums[j].name, a->val[nums[j].id], nums[j].min, nums[j].dst)))
            return rc;
    if (a->val[OPT_NESTEROV])
        o->nesterov = true;
    if (a->val[OPT_SCHEDULE]) {
        const char *s = a->val[OPT_SCHEDULE];
        int epochs, used = 0;
        double gamma;
        if (strcmp(s, "constant") == 0)
            o->schedule = OG_LR_CONSTANT;
        else if (strcmp(s, "cosine") == 0)
            o->schedule = OG_LR_COSINE;
        else if (sscanf(s, "step:%d:%lf%n", &epochs, &gamma, &used) == 2 && !s[used] && epochs >= 1 && gamma > 0) {
            o->schedule = OG_LR_STEP;
            o->step_epochs = epochs;
            o->gamma = gamma;
        } else {
            return cli_usage_error(cmd, "--lr-schedule must be constant, step:EPOCHS:GAMMA (EPOCHS >= 1, GAMMA > 0) "
                                   "or cosine, got '%s'", s);
        }
    }
    o->epochs = (int)a->epochs;
    return EXIT_OK;
}

/* A setting given on the command line that contradicts the stored one. */
static int check_same(train_args *a, const og_train_options *stored)
{
    og_train_options want = *stored;
    int rc = options_from_args(a, &want);
    if (rc)
        return rc;
    struct { const char *name; bool same; } cmp[] = {
        { "--optimizer", want.optimizer == stored->optimizer },
        { "--loss-fn/--loss", want.loss_fn == stored->loss_fn &&
                                  (want.loss_fn != OG_LOSS_MODEL || !a->val[OPT_LOSS] ||
                                   strcmp(want.loss, stored->loss) == 0) },
        { "--lr", want.lr == stored->lr }, { "--momentum", want.momentum == stored->momentum },
        { "--nesterov", want.nesterov == stored->nesterov }, { "--weight-decay", want.weight_decay == stored->weight_decay },
        { "--beta1", want.beta1 == stored->beta1 }, { "--beta2", want.beta2 == stored->beta2 },
        { "--epsilon", want.epsilon == stored->epsilon }, { "--clip-norm", want.clip_norm == stored->clip_norm },
        { "--lr-schedule", want.schedule == stored->schedule && want.step_epochs == stored->step_epochs &&
                               want.gamma == stored->gamma },
        { "--input-name", strcmp(want.input_name, stored->input_name) == 0 },
        { "--output-name", strcmp(want.output_name, stored->output_name) == 0 },
    };
    for (size_t k = 0; k < sizeof cmp / sizeof cmp[0]; k++)
        if (!cmp[k].same)
            return cli_fail("%s contradicts the setting stored in the model (its training step was built with "
                            "other settings; train a fresh model to change them)", cmp[k].name);
    if (stored->schedule == OG_LR_COSINE && a->epochs != stored->epochs)
        return cli_fail("--epochs %ld contradicts the cosine schedule stored in the model (over %d epochs)",
                        a->epochs, stored->epochs);
    return EXIT_OK;
}

/* ---- progress ----------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void progress_bar(int epoch, int epochs, int64_t done, int64_t total, double loss, double ips, double left)
{
    char bar[31];
    int filled = total ? (int)(30 * done / total) : 30;
    for (int k = 0; k < 30; k++)
        bar[k] = k < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld loss %.4f %.0f img/s %.0fs left  ", epoch, epochs, bar,
            (long long)done, (long long)total, loss, ips, left);
    fflush(stderr);
}

/* ---- data ----------------------------------------------------------------------- */

static int load_split(const char *dir, const char *split, og_dataset **ds)
{
    og_status st = og_dataset_load(dir, split, ds);
    if (st)
        return cli_fail_og(st);
    return EXIT_OK;
}

/* A tensor of `proto`'s dtype and dims with dim 0 = n. */
static int batch_tensor(const og_tensor *proto, int64_t n, og_tensor **out)
{
    int64_t dims[OG_MAX_RANK];
    memcpy(dims, proto->dims, sizeof(int64_t) * (size_t)proto->rank);
    dims[0] = n;
    og_status st = og_tensor_create(proto->dtype, proto->rank, dims, out);
    return st ? cli_fail_og(st) : EXIT_OK;
}

/* Arg-max of row r of a [N, C] float/double tensor. */
static int64_t argmax_row(const og_tensor *y, int64_t r)
{
    int64_t c = y->rank >= 2 ? y->numel / y->dims[0] : 1, best = 0;
    if (y->dtype == OG_DOUBLE) {
        const double *p = (const double *)y->data + r * c;
        for (int64_t j = 1; j < c; j++)
            if (p[j] > p[best])
                best = j;
    } else {
        const float *p = (const float *)y->data + r * c;
        for (int64_t j = 1; j < c; j++)
            if (p[j] > p[best])
                best = j;
    }
    return best;
}

typedef struct scores {
    int64_t correct, total;
    int classes;
    int64_t *confusion;   /* classes x classes, rows: true labels */
} scores;

/* Scores ds in batches through predict (a trainer's or a plain plan's). */
typedef og_status (*predict_fn)(void *user, const og_tensor *x, const og_tensor **y);

static int score(const og_dataset *ds, int64_t batch, predict_fn predict, void *user, scores *s)
{
    const og_tensor *X = og_dataset_x(ds), *Y = og_dataset_y(ds);
    if (Y->dtype != OG_INT64)
        return cli_fail("accuracy needs int64 class labels; the labels are %s", og_dtype_name(Y->dtype));
    int64_t n = og_dataset_size(ds);
    s->classes = og_dataset_num_classes(ds);
    s->correct = s->total = 0;
    s->confusion = calloc((size_t)s->classes * (size_t)s->classes + 1, sizeof *s->confusion);
    int64_t *idx = malloc(sizeof *idx * (size_t)(batch > 0 ? batch : 1));
    og_tensor *xb = NULL, *yb = NULL;
    int rc = EXIT_OK;
    if (!s->confusion || !idx) {
        rc = cli_fail("out of memory scoring the dataset");
        goto done;
    }
    for (int64_t start = 0; start < n && rc == EXIT_OK; start += batch) {
        int64_t m = n - start < batch ? n - start : batch;
        if (!xb || xb->dims[0] != m) {
            og_tensor_free(xb);
            og_tensor_free(yb);
            xb = yb = NULL;
            if ((rc = batch_tensor(X, m, &xb)) || (rc = batch_tensor(Y, m, &yb)))
                break;
        }
        for (int64_t k = 0; k < m; k++)
            idx[k] = start + k;
        og_status st = og_dataset_gather(ds, idx, m, xb, yb);
        const og_tensor *out;
        if (st || (st = predict(user, xb, &out))) {
            rc = cli_fail_og(st);
            break;
        }
        if (out->rank != 2 || out->dims[0] != m || (out->dtype != OG_FLOAT && out->dtype != OG_DOUBLE)) {
            rc = cli_fail("the output has shape rank %d (%lld rows) of %s; scoring needs [batch, classes] scores",
                          out->rank, out->rank ? (long long)out->dims[0] : 0LL, og_dtype_name(out->dtype));
            break;
        }
        const int64_t *labels = yb->data;
        for (int64_t k = 0; k < m; k++) {
            int64_t p = argmax_row(out, k), t = labels[k];
            s->correct += p == t;
            s->total++;
            if (t >= 0 && t < s->classes && p < s->classes)
                s->confusion[t * s->classes + p]++;
        }
    }
done:
    og_tensor_free(xb);
    og_tensor_free(yb);
    free(idx);
    return rc;
}

static og_status trainer_predict(void *user, const og_tensor *x, const og_tensor **y)
{
    return og_trainer_predict(user, x, y);
}

/* ---- checkpoints ------------------------------------------------------------------- */

typedef struct history {
    int n, cap;
    double *epoch, *loss, *acc;
} history;

static void history_free(history *h)
{
    free(h->epoch);
    free(h->loss);
    free(h->acc);
}

static int history_push(history *h, double epoch, double loss, double acc)
{
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 16;
        double *e = realloc(h->epoch, sizeof *e * (size_t)cap);
        if (e)
            h->epoch = e;
        double *l = realloc(h->loss, sizeof *l * (size_t)cap);
        if (l)
            h->loss = l;
        double *c = realloc(h->acc, sizeof *c * (size_t)cap);
        if (c)
            h->acc = c;
        if (!e || !l || !c)
            return cli_fail("out of memory");
        h->cap = cap;
    }
    h->epoch[h->n] = epoch;
    h->loss[h->n] = loss;
    h->acc[h->n] = acc;
    h->n++;
    return EXIT_OK;
}

/* "1:0.53:0.81;2:..." in the metadata, so a resumed run plots every epoch. */
static int history_parse(const char *s, history *h)
{
    while (s && *s) {
        double e, l, a;
        int used = 0;
        if (sscanf(s, "%lf:%lf:%lf%n", &e, &l, &a, &used) != 3)
            return cli_fail("the model's metadata onnxgrad.train.history is malformed near '%.20s'", s);
        int rc = history_push(h, e, l, a);
        if (rc)
            return rc;
        s += used;
        if (*s == ';')
            s++;
    }
    return EXIT_OK;
}

static int history_format(const history *h, char **out)
{
    size_t cap = 64 * (size_t)h->n + 1, len = 0;
    char *s = malloc(cap);
    if (!s)
        return cli_fail("out of memory");
    s[0] = '\0';
    for (int k = 0; k < h->n; k++)
        len += (size_t)snprintf(s + len, cap - len, "%s%.17g:%.17g:%.17g", k ? ";" : "", h->epoch[k], h->loss[k],
                                h->acc[k]);
    *out = s;
    return EXIT_OK;
}

typedef struct loop_state {
    int epoch;            /* epochs complete */
    int64_t batch;        /* batches of epoch `epoch` already done (a Ctrl-C checkpoint) */
    double loss_sum;      /* of those batches, weighted by their size */
    unsigned long long seed;
} loop_state;

static int save_model(og_trainer *t, const loop_state *ls, const history *h, const char *path)
{
    og_graph *g;
    og_status st = og_trainer_export(t, &g);
    if (st)
        return cli_fail_og(st);
    char buf[64], *hist = NULL;
    int rc = history_format(h, &hist);
    if (!rc) {
        snprintf(buf, sizeof buf, "%d", ls->epoch);
        st = og_graph_set_metadata(g, "onnxgrad.train.epoch", buf);
        snprintf(buf, sizeof buf, "%lld", (long long)ls->batch);
        if (!st)
            st = og_graph_set_metadata(g, "onnxgrad.train.batch_in_epoch", buf);
        snprintf(buf, sizeof buf, "%.17g", ls->loss_sum);
        if (!st)
            st = og_graph_set_metadata(g, "onnxgrad.train.loss_sum_in_epoch", buf);
        snprintf(buf, sizeof buf, "%llu", ls->seed);
        if (!st)
            st = og_graph_set_metadata(g, "onnxgrad.train.rng_seed", buf);
        if (!st)
            st = og_graph_set_metadata(g, "onnxgrad.train.history", hist);
        if (!st)
            st = og_graph_finalize(g);
        if (!st)
            st = og_model_save_file(g, path);
        if (st)
            rc = cli_fail_og_in(path, st);
    }
    free(hist);
    og_graph_free(g);
    return rc;
}

static int meta_number(const og_graph *g, const char *key, double *v)
{
    const char *s = og_graph_metadata(g, key);
    char *end;
    if (!s)
        return 0;
    *v = strtod(s, &end);
    if (!*s || *end)
        return cli_fail("the model's metadata %s is '%s', not a number", key, s);
    return 0;
}

/* ---- train ---------------------------------------------------------------------------- */

/* --data DIR, with "%r" replaced by the rank under --distributed (rank >= 0). */
static int data_path(const char *dir, int rank, char *out, size_t cap)
{
    size_t len = 0;
    for (const char *p = dir; *p; p++) {
        char num[16];
        const char *piece = num;
        if (rank >= 0 && p[0] == '%' && p[1] == 'r') {
            snprintf(num, sizeof num, "%d", rank);
            p++;
        } else {
            num[0] = *p;
            num[1] = '\0';
        }
        size_t n = strlen(piece);
        if (len + n >= cap)
            return cli_fail("--data: the path is too long");
        memcpy(out + len, piece, n);
        len += n;
    }
    out[len] = '\0';
    return EXIT_OK;
}

static int check_input_shape(const og_graph *g, const og_train_options *o, const og_dataset *ds, int64_t batch,
                             bool *fixed_batch)
{
    og_value_info vi;
    og_status st = og_graph_value(g, o->input_name, &vi);
    if (st)
        return cli_fail_og(st);
    const og_tensor *X = og_dataset_x(ds);
    if (vi.rank >= 0 && vi.rank != X->rank)
        return cli_fail("input '%s' has rank %d, the data has rank %d", o->input_name, vi.rank, X->rank);
    if (vi.dtype != X->dtype)
        return cli_fail("input '%s' is %s, the data is %s", o->input_name, og_dtype_name(vi.dtype),
                        og_dtype_name(X->dtype));
    for (int d = 1; d < vi.rank; d++)
        if (vi.dims[d] >= 0 && vi.dims[d] != X->dims[d])
            return cli_fail("input '%s' has dim %d = %lld, the data has %lld", o->input_name, d,
                            (long long)vi.dims[d], (long long)X->dims[d]);
    *fixed_batch = vi.rank > 0 && vi.dims[0] >= 0;
    if (*fixed_batch && vi.dims[0] != batch)
        return cli_fail("input '%s' has a fixed batch of %lld; train it with --batch %lld (or export the model with a "
                        "dynamic batch)", o->input_name, (long long)vi.dims[0], (long long)vi.dims[0]);
    return EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    static const cli_command c = { "train", HELP_TRAIN, TRAIN_OPTS, 1, 1, "missing the model" };
    train_args a = { .cmd = "train" };
    char **args;
    int n_args, rc;
    bool help;
    if ((rc = cli_parse(&c, argc, argv, take, &a, &args, &n_args, &help)) || help)
        return rc;
    if (!a.val[OPT_DATA])
        return cli_usage_error("train", "missing --data DIR");
    if (!a.val[OPT_EPOCHS])
        return cli_usage_error("train", "missing --epochs N");
    if (!a.val[OPT_BATCH])
        return cli_usage_error("train", "missing --batch N");
    if ((rc = cli_parse_count("train", "--epochs", a.val[OPT_EPOCHS], 1, 1000000, &a.epochs)) ||
        (rc = cli_parse_count("train", "--batch", a.val[OPT_BATCH], 1, 1L << 30, &a.batch)))
        return rc;
    a.keep = 0;
    if (a.val[OPT_KEEP] && (rc = cli_parse_count("train", "--keep", a.val[OPT_KEEP], 1, 1000000, &a.keep)))
        return rc;
    if (a.val[OPT_KEEP] && !a.val[OPT_CKPT])
        return cli_usage_error("train", "--keep needs --checkpoint-dir");
    a.seed = 1;
    if (a.val[OPT_SEED]) {
        char *end;
        errno = 0;
        a.seed = strtoull(a.val[OPT_SEED], &end, 10);
        if (!*a.val[OPT_SEED] || *end || errno || a.val[OPT_SEED][0] == '-')
            return cli_usage_error("train", "--rng-seed needs a non-negative integer, got '%s'", a.val[OPT_SEED]);
    }
    const char *model_path = a.val[OPT_RESUME] ? a.val[OPT_RESUME] : args[0];
    og_graph *g = NULL;
    og_trainer *t = NULL;
    og_dataset *train = NULL, *test = NULL;
    og_tensor *xb = NULL, *yb = NULL, *xl = NULL, *yl = NULL;
    int64_t *perm = NULL;
    history hist = { 0 };
    loop_state ls = { .seed = a.seed };
    /* --distributed: from here every exit goes through dist_finish (done:) */
    dist_ctx d = { 0 };
    if (a.val[OPT_DISTRIBUTED] && (rc = dist_start(&d)))
        return d.active ? dist_finish(&d, rc) : rc;
    bool lead = d.rank == 0;   /* prints, scores, saves */
    char data_dir[4096];
    if ((rc = data_path(a.val[OPT_DATA], d.active ? d.rank : -1, data_dir, sizeof data_dir)))
        return dist_finish(&d, rc);
    og_status st = og_model_load_file(model_path, &g);
    if (st)
        return dist_finish(&d, cli_fail_og(st));
    og_train_options stored;
    bool resuming;
    if ((st = og_training_settings(g, &stored, &resuming))) {
        rc = cli_fail_og_in(model_path, st);
        goto done;
    }
    if (a.val[OPT_RESUME] && !resuming) {
        rc = cli_fail("%s carries no onnxgrad training step to resume", model_path);
        goto done;
    }
    if (resuming) {
        if ((rc = check_same(&a, &stored)))
            goto done;
        double e = 0, b = 0, ls_sum = 0;
        if ((rc = meta_number(g, "onnxgrad.train.epoch", &e)) ||
            (rc = meta_number(g, "onnxgrad.train.batch_in_epoch", &b)) ||
            (rc = meta_number(g, "onnxgrad.train.loss_sum_in_epoch", &ls_sum)) ||
            (rc = history_parse(og_graph_metadata(g, "onnxgrad.train.history"), &hist)))
            goto done;
        const char *stored_seed = og_graph_metadata(g, "onnxgrad.train.rng_seed");
        if (stored_seed) {
            unsigned long long s = strtoull(stored_seed, NULL, 10);
            if (a.val[OPT_SEED] && s != a.seed) {
                rc = cli_fail("--rng-seed %llu contradicts the seed %llu stored in the model", a.seed, s);
                goto done;
            }
            ls.seed = s;
        }
        ls.epoch = (int)e;
        ls.batch = (int64_t)b;
        ls.loss_sum = ls_sum;
        if ((st = og_trainer_create(g, NULL, 0, &t))) {
            rc = cli_fail_og_in(model_path, st);
            goto done;
        }
    } else {
        if (!a.val[OPT_LOSS_FN] && !a.val[OPT_LOSS]) {
            rc = cli_usage_error("train", "missing --loss-fn FN or --loss NAME");
            goto done;
        }
        if (!a.val[OPT_OPTIM] || !a.val[OPT_LR]) {
            rc = cli_usage_error("train", "missing --optimizer and --lr");
            goto done;
        }
        og_train_options o = OG_TRAIN_OPTIONS_INIT;
        if ((rc = options_from_args(&a, &o)))
            goto done;
        if ((st = og_trainer_create(g, &o, 0, &t))) {
            rc = cli_fail_og_in(model_path, st);
            goto done;
        }
    }
    const og_train_options *o = og_trainer_options(t);
    if ((rc = load_split(data_dir, "train", &train)) || (lead && (rc = load_split(data_dir, "test", &test))))
        goto done;
    bool fixed;
    if ((rc = check_input_shape(g, o, train, a.batch, &fixed)))
        goto done;
    int64_t n = og_dataset_size(train);
    int64_t full = n / a.batch, rest = fixed ? 0 : n % a.batch;
    int64_t n_batches = full + (rest ? 1 : 0);
    if (n_batches == 0) {
        rc = cli_fail("the train split has %lld examples, fewer than one batch of %ld", (long long)n, a.batch);
        goto done;
    }
    /* every rank has examples in the first step (its gradients then exist for the empty shards later) */
    if (d.active && fixed) {
        rc = cli_fail("--distributed: input '%s' has a fixed batch of %ld, which shards of the batch cannot feed; "
                      "export the model with a dynamic batch", o->input_name, a.batch);
        goto done;
    }
    if (d.active && (a.batch < d.size || n < d.size)) {
        rc = cli_fail("--distributed over %d ranks needs --batch and the train split's size at least %d (got "
                      "--batch %ld, %lld examples)", d.size, d.size, a.batch, (long long)n);
        goto done;
    }
    perm = malloc(sizeof *perm * (size_t)n);
    if (!perm) {
        rc = cli_fail("out of memory");
        goto done;
    }
    if ((rc = batch_tensor(og_dataset_x(train), a.batch, &xb)) ||
        (rc = batch_tensor(og_dataset_y(train), a.batch, &yb)) ||
        (rest && ((rc = batch_tensor(og_dataset_x(train), rest, &xl)) ||
                  (rc = batch_tensor(og_dataset_y(train), rest, &yl)))))
        goto done;
    if (lead && a.val[OPT_CKPT] && (rc = cli_make_dirs(a.val[OPT_CKPT])))
        goto done;
    /* the setup worked everywhere, on the same data */
    if ((rc = dist_agree(&d, EXIT_OK, NULL)) || (rc = dist_check_same(&d, n, "the train split's size")))
        goto done;
    struct sigaction sa = { .sa_handler = on_sigint, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    /* mpirun turns a Ctrl-C into SIGTERM to every rank (then SIGKILL after
     * a grace period): the same checkpoint, agreed at the next step */
    sigaction(SIGTERM, &sa, NULL);
    if (d.active)   /* mpirun may be gone while a rank still reports: EPIPE, not death */
        signal(SIGPIPE, SIG_IGN);
    bool tty = lead && isatty(STDERR_FILENO) != 0;
    /* ONNXGRAD_TEST_INTERRUPT_AT_STEP=K acts as Ctrl-C once K steps are done (for the tests) */
    const char *ia = getenv("ONNXGRAD_TEST_INTERRUPT_AT_STEP");
    long long interrupt_at = ia && *ia ? atoll(ia) : -1;
    if (lead && ls.epoch >= a.epochs)
        cli_note("the model has already trained %d epochs (--epochs %ld): nothing to do", ls.epoch, a.epochs);
    while (ls.epoch < a.epochs && rc == EXIT_OK) {
        og_trainer_set_epoch(t, ls.epoch);
        if (a.val[OPT_NO_SHUFFLE]) {
            for (int64_t k = 0; k < n; k++)
                perm[k] = k;
        } else if ((st = og_shuffle_permutation(ls.seed, ls.epoch, n, perm))) {
            rc = cli_fail_og(st);
            break;
        }
        double t0 = now_seconds(), seconds = 0;
        int64_t seen = 0;
        for (; ls.batch < n_batches; ls.batch++) {
            if (interrupt_at >= 0 && og_trainer_num_steps(t) == interrupt_at)
                interrupted = 1;   /* the tests' deterministic Ctrl-C (on every rank: the same step) */
            if (interrupted && !d.active)
                break;
            bool last = ls.batch == full;
            int64_t m = last ? rest : a.batch;
            og_tensor *x = last ? xl : xb, *y = last ? yl : yb;
            double loss = 0;
            double s0 = now_seconds();
            if (d.active) {
                /* this rank's shard of the global batch, then the exchange */
                int64_t start, count;
                dist_shard(&d, m, &start, &count);
                int lrc = EXIT_OK;
                og_tensor xs = *x, ys = *y;
                xs.dims[0] = ys.dims[0] = count;
                xs.numel = x->numel / m * count;
                ys.numel = y->numel / m * count;
                /* an empty shard sends zeros, but its gradient tensors must exist: if none yet (a
                 * run resumed at a short last batch), make them from one example (BatchNormalization's
                 * running statistics of this rank, never rank 0, see it; they are not saved) */
                int64_t rows = count ? count : og_trainer_gradient(t, 0) ? 0 : 1;
                if (!count) {
                    start = 0;
                    xs.dims[0] = ys.dims[0] = rows;
                    xs.numel = x->numel / m * rows;
                    ys.numel = y->numel / m * rows;
                }
                if (rows && ((st = og_dataset_gather(train, perm + ls.batch * a.batch + start, rows, &xs, &ys)) ||
                             (st = og_trainer_compute_gradients(t, &xs, &ys, &loss))))
                    lrc = cli_fail_og(st);
                if ((rc = dist_exchange(&d, t, lrc, &interrupted, count, m, &loss)) || interrupted)
                    break;
                if ((st = og_trainer_apply_gradients(t))) {
                    rc = cli_fail_og(st);
                    break;
                }
            } else if ((st = og_dataset_gather(train, perm + ls.batch * a.batch, m, x, y)) ||
                       (st = og_trainer_step(t, x, y, &loss))) {
                rc = cli_fail_og(st);
                break;
            }
            seconds += now_seconds() - s0;
            ls.loss_sum += loss * (double)m;
            seen += m;
            if (lead && a.val[OPT_LOG_STEPS] && a.val[OPT_JSON]) {
                json_writer w;
                json_init(&w, stdout);
                json_begin_object(&w);
                json_key(&w, "epoch"); json_int(&w, ls.epoch + 1);
                json_key(&w, "step"); json_int(&w, og_trainer_num_steps(t));
                json_key(&w, "loss"); json_number(&w, loss);
                json_end_object(&w);
            }
            if (tty && !a.val[OPT_JSON]) {
                int64_t used = n - (fixed ? n % a.batch : 0), done_n = (ls.batch + 1) * a.batch;
                if (done_n > used)
                    done_n = used;
                double ips = (double)seen / (now_seconds() - t0 + 1e-9);
                double left = ips > 0 ? (double)(used - done_n) / ips : 0;
                if ((ls.batch & 7) == 0 || ls.batch + 1 == n_batches)
                    progress_bar(ls.epoch + 1, (int)a.epochs, done_n, used, ls.loss_sum / (double)done_n, ips, left);
            }
        }
        if (tty && !a.val[OPT_JSON])
            fputc('\n', stderr);
        if (rc)
            break;
        /* a signal after the epoch's last exchange may have reached some ranks only */
        if (d.active && (rc = dist_agree(&d, EXIT_OK, &interrupted)))
            break;
        if (interrupted && !lead) {
            /* wait for rank 0's checkpoint: mpirun ends the whole job as soon as one rank exits
             * non-zero */
            rc = dist_agree(&d, EXIT_OK, NULL);
            if (!rc)
                rc = 130;
            break;
        }
        if (interrupted) {
            if (a.val[OPT_CKPT]) {
                char path[4096];
                if (!(rc = cli_path_join(path, sizeof path, a.val[OPT_CKPT], "interrupted.onnx")) &&
                    !(rc = save_model(t, &ls, &hist, path)))
                    fprintf(stderr, "onnxgrad train: interrupted in epoch %d after %lld batches; checkpoint %s "
                            "(continue with --resume)\n", ls.epoch + 1, (long long)ls.batch, path);
            } else {
                fprintf(stderr, "onnxgrad train: interrupted in epoch %d (no --checkpoint-dir: nothing saved)\n",
                        ls.epoch + 1);
            }
            int agreed = dist_agree(&d, rc, NULL);   /* the other ranks wait for this */
            if (!rc)
                rc = agreed ? agreed : 130;
            break;
        }
        int64_t used = n - (fixed ? n % a.batch : 0);
        double train_loss = ls.loss_sum / (double)used;
        scores sc = { 0 };
        if (!lead) {   /* the other ranks go on to the next epoch's first exchange */
            ls.epoch++;
            ls.batch = 0;
            ls.loss_sum = 0;
            continue;
        }
        if ((rc = score(test, 1000, trainer_predict, t, &sc))) {
            free(sc.confusion);
            break;
        }
        free(sc.confusion);
        double acc = sc.total ? (double)sc.correct / (double)sc.total : 0;
        ls.epoch++;
        ls.batch = 0;
        ls.loss_sum = 0;
        if ((rc = history_push(&hist, ls.epoch, train_loss, acc)))
            break;
        double ips = seconds > 0 ? (double)seen / seconds : 0;
        if (a.val[OPT_JSON]) {
            json_writer w;
            json_init(&w, stdout);
            json_begin_object(&w);
            json_key(&w, "epoch"); json_int(&w, ls.epoch);
            json_key(&w, "train_loss"); json_number(&w, train_loss);
            json_key(&w, "test_accuracy"); json_number(&w, acc);
            json_key(&w, "seconds"); json_number(&w, seconds);
            json_key(&w, "images_per_second"); json_number(&w, ips);
            json_end_object(&w);
            fflush(stdout);
        } else {
            printf("epoch %d/%ld: train loss %.4f, test accuracy %.2f%%, %.1f s (%.0f images/s)\n", ls.epoch,
                   a.epochs, train_loss, 100 * acc, seconds, ips);
            fflush(stdout);
        }
        if (a.val[OPT_CKPT]) {
            char name[64], path[4096];
            snprintf(name, sizeof name, "epoch-%d.onnx", ls.epoch);
            if ((rc = cli_path_join(path, sizeof path, a.val[OPT_CKPT], name)) ||
                (rc = save_model(t, &ls, &hist, path)))
                break;
            if (a.keep && ls.epoch > a.keep) {
                snprintf(name, sizeof name, "epoch-%ld.onnx", ls.epoch - a.keep);
                if (!cli_path_join(path, sizeof path, a.val[OPT_CKPT], name))
                    unlink(path);
            }
        }
    }
    if (rc == EXIT_OK && lead && a.val[OPT_OUT]) {
        if (!(rc = save_model(t, &ls, &hist, a.val[OPT_OUT])) && !a.val[OPT_JSON])
            printf("trained model: %s\n", a.val[OPT_OUT]);
    }
    if (rc == EXIT_OK && lead && a.val[OPT_PLOT]) {
        char err[512];
        if (cli_plot_curves(a.val[OPT_PLOT], hist.n, hist.epoch, hist.loss, hist.acc, err, sizeof err))
            rc = cli_fail("%s", err);
        else if (!a.val[OPT_JSON])
            printf("plot: %s\n", a.val[OPT_PLOT]);
    }
done:
    free(perm);
    og_tensor_free(xb);
    og_tensor_free(yb);
    og_tensor_free(xl);
    og_tensor_free(yl);
    og_dataset_free(train);
    og_dataset_free(test);
    og_trainer_free(t);
    og_graph_free(g);
    history_free(&hist);
    return dist_finish(&d, rc);
}

/* ---- eval ------------------------------------------------------------------------------ */

typedef struct plain_predict {
    og_plan *plan;
    const char *input;
    int output;
    const og_tensor **outs;
} plain_predict;

static og_status plain_run(void *user, const og_tensor *x, const og_tensor **y)
{
    plain_predict *p = user;
    og_tensor v = *x;
    v.name = (char *)p->input;
    const og_tensor *in[1] = { &v };
    og_status st = og_plan_run_borrowed(p->plan, 1, in, p->outs);
    if (!st)
        *y = p->outs[p->output];
    return st;
}

int cmd_eval(int argc, char **argv)
{
    static const cli_command c = { "eval", HELP_EVAL, EVAL_OPTS, 1, 1, "missing the model" };
    train_args a = { .cmd = "eval" };
    char **args;
    int n_args, rc;
    bool help;
    if ((rc = cli_parse(&c, argc, argv, take, &a, &args, &n_args, &help)) || help)
        return rc;
    if (!a.val[OPT_DATA])
        return cli_usage_error("eval", "missing --data DIR");
    const char *split = a.val[OPT_SPLIT] ? a.val[OPT_SPLIT] : "test";
    if (strcmp(split, "test") != 0 && strcmp(split, "train") != 0)
        return cli_usage_error("eval", "--split must be test or train, got '%s'", split);
    a.batch = 1000;
    if (a.val[OPT_BATCH] && (rc = cli_parse_count("eval", "--batch", a.val[OPT_BATCH], 1, 1L << 30, &a.batch)))
        return rc;
    og_graph *g = NULL;
    og_dataset *ds = NULL;
    plain_predict p = { 0 };
    scores sc = { 0 };
    og_status st = og_model_load_file(args[0], &g);
    if (st)
        return cli_fail_og(st);
    /* the data input: named, else the only float input without initializer */
    int n_in = og_graph_num_inputs(g), n_out = og_graph_num_outputs(g);
    for (int k = 0; k < n_in && !a.val[OPT_INPUT]; k++) {
        og_value_info vi;
        const og_tensor *init = NULL;
        og_graph_input(g, k, &vi);
        for (int j = 0; j < og_graph_num_initializers(g); j++) {
            const og_tensor *t;
            og_graph_initializer(g, j, &t);
            if (t->name && strcmp(t->name, vi.name) == 0)
                init = t;
        }
        if (!init && (vi.dtype == OG_FLOAT || vi.dtype == OG_DOUBLE)) {
            if (p.input) {
                rc = cli_fail("the model has several float inputs: name the data input with --input-name");
                goto done;
            }
            p.input = vi.name;
        }
    }
    if (a.val[OPT_INPUT])
        p.input = a.val[OPT_INPUT];
    if (!p.input) {
        rc = cli_fail("the model has no float input to feed the data to");
        goto done;
    }
    p.output = 0;
    if (a.val[OPT_OUTPUT_NAME]) {
        p.output = -1;
        for (int k = 0; k < n_out; k++) {
            og_value_info vi;
            og_graph_output(g, k, &vi);
            if (strcmp(vi.name, a.val[OPT_OUTPUT_NAME]) == 0)
                p.output = k;
        }
        if (p.output < 0) {
            rc = cli_fail("the model has no output '%s'", a.val[OPT_OUTPUT_NAME]);
            goto done;
        }
    }
    if (!(p.outs = calloc((size_t)n_out, sizeof *p.outs))) {
        rc = cli_fail("out of memory");
        goto done;
    }
    if ((st = og_plan_create(g, &p.plan))) {
        rc = cli_fail_og(st);
        goto done;
    }
    if ((rc = load_split(a.val[OPT_DATA], split, &ds)) || (rc = score(ds, a.batch, plain_run, &p, &sc)))
        goto done;
    double acc = sc.total ? (double)sc.correct / (double)sc.total : 0;
    if (a.val[OPT_JSON]) {
        json_writer w;
        json_init(&w, stdout);
        json_begin_object(&w);
        json_key(&w, "accuracy"); json_number(&w, acc);
        json_key(&w, "correct"); json_int(&w, sc.correct);
        json_key(&w, "total"); json_int(&w, sc.total);
        json_key(&w, "confusion");
        json_begin_array(&w);
        for (int r = 0; r < sc.classes; r++) {
            json_begin_array(&w);
            for (int k = 0; k < sc.classes; k++)
                json_int(&w, sc.confusion[r * sc.classes + k]);
            json_end_array(&w);
        }
        json_end_array(&w);
        json_end_object(&w);
    } else {
        printf("accuracy: %.2f%% (%lld of %lld, %s split)\n", 100 * acc, (long long)sc.correct, (long long)sc.total,
               split);
        printf("confusion (rows: true label, columns: predicted):\n      ");
        for (int k = 0; k < sc.classes; k++)
            printf(" %6d", k);
        printf("\n");
        for (int r = 0; r < sc.classes; r++) {
            printf("%6d", r);
            for (int k = 0; k < sc.classes; k++)
                printf(" %6lld", (long long)sc.confusion[r * sc.classes + k]);
            printf("\n");
        }
    }
done:
    free(sc.confusion);
    free(p.outs);
    og_plan_free(p.plan);
    og_dataset_free(ds);
    og_graph_free(g);
    return rc;
}
