/* SPDX-License-Identifier: MIT */
/* test_train.c — the training step (og_training_build) and the trainer:
 * every optimiser's updates against the ONNX formulas evaluated in double
 * on gradients from og_gradients (an independent path: the loss graph is
 * built here by hand), weight decay, clipping, learning-rate schedules,
 * BatchNormalization's running statistics, determinism across thread
 * counts, resuming from a saved model bit for bit, no allocation after the
 * first step, and the errors. PyTorch agreement is tested in tests/train. */
#include <math.h>
#include "testutil.h"

#define NIN 5
#define NHID 7
#define NCLS 3
#define BATCH 6

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

static og_tensor *rand_tensor(int rank, const int64_t *dims, uint64_t seed, float scale)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, rank, dims, &t));
    float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        d[i] = scale * frand(&seed);
    return t;
}

/* x[N,5] -> Gemm(W1 transB, b1) -> Relu -> [BatchNormalization] -> Gemm(W2, b2) -> y[N,3]; with `loss`,
 * also SoftmaxCrossEntropyLoss(y, labels) -> loss (the reference). */
static og_graph *mlp(bool bn, bool loss)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, (int64_t[]){ -1, NIN }, (const char *[]){ "N", NULL }));
    if (loss) {   /* the reference: weights as inputs, so og_gradients takes the reference's values */
        OG_CHECK(og_graph_add_input(g, "W1", OG_FLOAT, 2, (int64_t[]){ NHID, NIN }, NULL));
        OG_CHECK(og_graph_add_input(g, "b1", OG_FLOAT, 1, (int64_t[]){ NHID }, NULL));
        OG_CHECK(og_graph_add_input(g, "W2", OG_FLOAT, 2, (int64_t[]){ NCLS, NHID }, NULL));
        OG_CHECK(og_graph_add_input(g, "b2", OG_FLOAT, 1, (int64_t[]){ NCLS }, NULL));
    }
    og_tensor *w1 = rand_tensor(2, (int64_t[]){ NHID, NIN }, 11, 0.5f), *b1 = rand_tensor(1, (int64_t[]){ NHID }, 12, 0.1f);
    og_tensor *w2 = rand_tensor(2, (int64_t[]){ NCLS, NHID }, 13, 0.5f), *b2 = rand_tensor(1, (int64_t[]){ NCLS }, 14, 0.1f);
    OG_CHECK(og_graph_add_initializer(g, "W1", w1));
    OG_CHECK(og_graph_add_initializer(g, "b1", b1));
    OG_CHECK(og_graph_add_initializer(g, "W2", w2));
    OG_CHECK(og_graph_add_initializer(g, "b2", b2));
    og_tensor_free(w1), og_tensor_free(b1), og_tensor_free(w2), og_tensor_free(b2);
    og_attr tb = og_attr_int("transB", 1);
    OG_CHECK(og_graph_add_node(g, "Gemm", NULL, "fc1", 3, (const char *[]){ "x", "W1", "b1" }, 1,
                               (const char *[]){ "h" }, 1, &tb));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "relu", 1, (const char *[]){ "h" }, 1, (const char *[]){ "r" }, 0, NULL));
    const char *fc2_in = "r";
    if (bn) {
        og_tensor *s = rand_tensor(1, (int64_t[]){ NHID }, 21, 0.2f), *bb = rand_tensor(1, (int64_t[]){ NHID }, 22, 0.1f);
        og_tensor *m, *v;
        OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ NHID }, &m));
        OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ NHID }, &v));
        for (int k = 0; k < NHID; k++) {
            ((float *)s->data)[k] += 1.0f;
            ((float *)m->data)[k] = 0;
            ((float *)v->data)[k] = 1;
        }
        OG_CHECK(og_graph_add_initializer(g, "bn.scale", s));
        OG_CHECK(og_graph_add_initializer(g, "bn.bias", bb));
        OG_CHECK(og_graph_add_initializer(g, "bn.mean", m));
        OG_CHECK(og_graph_add_initializer(g, "bn.var", v));
        og_tensor_free(s), og_tensor_free(bb), og_tensor_free(m), og_tensor_free(v);
        og_attr mom = og_attr_float("momentum", 0.9f);
        OG_CHECK(og_graph_add_node(g, "BatchNormalization", NULL, "bn", 5,
                                   (const char *[]){ "r", "bn.scale", "bn.bias", "bn.mean", "bn.var" }, 1,
                                   (const char *[]){ "n" }, 1, &mom));
        fc2_in = "n";
    }
    OG_CHECK(og_graph_add_node(g, "Gemm", NULL, "fc2", 3, (const char *[]){ fc2_in, "W2", "b2" }, 1,
                               (const char *[]){ "y" }, 1, &tb));
    OG_CHECK(og_graph_add_output(g, "y"));
    if (loss) {
        OG_CHECK(og_graph_add_input(g, "labels", OG_INT64, 1, (int64_t[]){ -1 }, (const char *[]){ "N" }));
        og_attr red = og_attr_string("reduction", "mean");
        OG_CHECK(og_graph_add_node(g, "SoftmaxCrossEntropyLoss", NULL, "ce", 2, (const char *[]){ "y", "labels" }, 1,
                                   (const char *[]){ "loss" }, 1, &red));
        OG_CHECK(og_graph_add_output(g, "loss"));
    }
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static void batch(int step, og_tensor **x, og_tensor **labels)
{
    *x = rand_tensor(2, (int64_t[]){ BATCH, NIN }, 100 + (uint64_t)step, 1.0f);
    int64_t lab[BATCH];
    for (int k = 0; k < BATCH; k++)
        lab[k] = (k * 7 + step) % NCLS;
    OG_CHECK(og_tensor_create_from(OG_INT64, 1, (int64_t[]){ BATCH }, lab, labels));
}

static const og_tensor *initializer(const og_graph *g, const char *name)
{
    for (int k = 0; k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        OG_CHECK(og_graph_initializer(g, k, &t));
        if (t->name && strcmp(t->name, name) == 0)
            return t;
    }
    ck_abort_msg("no initializer '%s'", name);
    return NULL;
}

static const char *const WEIGHTS[4] = { "W1", "b1", "W2", "b2" };

/* The reference: weights and optimiser state in double, updated by the
 * ONNX formulas from og_gradients' gradients at the current weights. */
typedef struct ref_state {
    int64_t n[4];
    double *w[4], *v[4], *h[4];
} ref_state;

static void ref_init(ref_state *r, const og_graph *g)
{
    for (int k = 0; k < 4; k++) {
        const og_tensor *t = initializer(g, WEIGHTS[k]);
        r->n[k] = t->numel;
        r->w[k] = calloc((size_t)t->numel, sizeof(double));
        r->v[k] = calloc((size_t)t->numel, sizeof(double));
        r->h[k] = calloc((size_t)t->numel, sizeof(double));
        for (int64_t i = 0; i < t->numel; i++)
            r->w[k][i] = ((const float *)t->data)[i];
    }
}

static void ref_free(ref_state *r)
{
    for (int k = 0; k < 4; k++)
        free(r->w[k]), free(r->v[k]), free(r->h[k]);
}

static void ref_step(ref_state *r, const og_train_options *o, int64_t t_step, const og_tensor *x, const og_tensor *labels)
{
    og_graph *g = mlp(false, true);
    /* the reference model at the reference's (float-rounded) weights */
    const og_tensor *in[6];
    og_tensor *ws[4];
    for (int k = 0; k < 4; k++) {
        const og_tensor *t0 = initializer(g, WEIGHTS[k]);
        OG_CHECK(og_tensor_create(OG_FLOAT, t0->rank, t0->dims, &ws[k]));
        OG_CHECK(og_tensor_set_name(ws[k], WEIGHTS[k]));
        for (int64_t i = 0; i < r->n[k]; i++)
            ((float *)ws[k]->data)[i] = (float)r->w[k][i];
    }
    og_tensor xv = *x, lv = *labels;
    xv.name = "x", lv.name = "labels";
    in[0] = &xv, in[1] = &lv;
    for (int k = 0; k < 4; k++)
        in[2 + k] = ws[k];
    og_grad_options go = { .loss = "loss", .n_wrt = 4, .wrt = WEIGHTS };
    og_tensor *grads[4];
    OG_CHECK(og_gradients(g, &go, 6, in, NULL, grads));
    double clip = 1;
    if (o->clip_norm > 0) {
        double sq = 0;
        for (int k = 0; k < 4; k++)
            for (int64_t i = 0; i < r->n[k]; i++)
                sq += (double)((float *)grads[k]->data)[i] * ((float *)grads[k]->data)[i];
        clip = fmin(1.0, o->clip_norm / (sqrt(sq) + 1e-6));
    }
    double lr = o->lr, wd = o->weight_decay;
    for (int k = 0; k < 4; k++) {
        for (int64_t i = 0; i < r->n[k]; i++) {
            double gi = clip * ((float *)grads[k]->data)[i] + wd * r->w[k][i];
            double *w = &r->w[k][i], *v = &r->v[k][i], *h = &r->h[k][i];
            switch (o->optimizer) {
            case OG_OPTIM_SGD:
                *w -= lr * gi;
                break;
            case OG_OPTIM_MOMENTUM:
                *v = o->momentum * *v + gi;   /* beta 1 (T > 0) */
                *w -= lr * (o->nesterov ? gi + o->momentum * *v : *v);
                break;
            case OG_OPTIM_ADAM: {
                *v = o->beta1 * *v + (1 - o->beta1) * gi;
                *h = o->beta2 * *h + (1 - o->beta2) * gi * gi;
                double ra = lr * sqrt(1 - pow(o->beta2, (double)t_step)) / (1 - pow(o->beta1, (double)t_step));
                *w -= ra * *v / (sqrt(*h) + 1e-8);
                break;
            }
            case OG_OPTIM_ADAGRAD:
                *h += gi * gi;
                *w -= lr * gi / (sqrt(*h) + 1e-10);
                break;
            }
        }
        og_tensor_free(grads[k]);
        og_tensor_free(ws[k]);
    }
    og_graph_free(g);
}

static void run_steps(og_trainer *t, int from, int to)
{
    for (int s = from; s < to; s++) {
        og_tensor *x, *l;
        batch(s, &x, &l);
        double loss;
        OG_CHECK(og_trainer_step(t, x, l, &loss));
        ck_assert(isfinite(loss) && loss > 0);
        og_tensor_free(x);
        og_tensor_free(l);
    }
}

static void check_against_reference(og_train_options o, int steps)
{
    og_graph *g = mlp(false, false);
    og_trainer *t;
    OG_CHECK(og_trainer_create(g, &o, 0, &t));
    ref_state r;
    ref_init(&r, g);
    for (int s = 0; s < steps; s++) {
        og_tensor *x, *l;
        batch(s, &x, &l);
        OG_CHECK(og_trainer_step(t, x, l, NULL));
        ref_step(&r, &o, s + 1, x, l);
        og_tensor_free(x);
        og_tensor_free(l);
    }
    ck_assert_int_eq(og_trainer_num_steps(t), steps);
    og_graph *e;
    OG_CHECK(og_trainer_export(t, &e));
    for (int k = 0; k < 4; k++) {
        const og_tensor *w = initializer(e, WEIGHTS[k]);
        double worst = 0;
        for (int64_t i = 0; i < r.n[k]; i++)
            worst = fmax(worst, fabs(((float *)w->data)[i] - r.w[k][i]) / (1e-3 + fabs(r.w[k][i])));
        ck_assert_msg(worst < 2e-5, "optimizer %d: %s differs from the formula by %g (relative)", (int)o.optimizer,
                      WEIGHTS[k], worst);
    }
    ref_free(&r);
    og_graph_free(e);
    og_trainer_free(t);
    og_graph_free(g);
}

START_TEST(sgd_and_weight_decay)
{
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.lr = 0.1;
    check_against_reference(o, 3);
    o.weight_decay = 0.05;
    check_against_reference(o, 3);
}
END_TEST

START_TEST(momentum_nesterov_adam_adagrad)
{
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.optimizer = OG_OPTIM_MOMENTUM, o.lr = 0.05, o.momentum = 0.9, o.weight_decay = 0.01;
    check_against_reference(o, 4);
    o.nesterov = true;
    check_against_reference(o, 4);
    o = (og_train_options)OG_TRAIN_OPTIONS_INIT;
    o.optimizer = OG_OPTIM_ADAM, o.lr = 0.01, o.weight_decay = 0.001;
    check_against_reference(o, 4);
    o = (og_train_options)OG_TRAIN_OPTIONS_INIT;
    o.optimizer = OG_OPTIM_ADAGRAD, o.lr = 0.1;
    check_against_reference(o, 4);
}
END_TEST

START_TEST(clipping_by_global_norm)
{
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.lr = 0.1, o.clip_norm = 0.01;   /* far below the gradient's norm: the coefficient is active */
    check_against_reference(o, 2);
    o.clip_norm = 1e6;                /* inactive */
    check_against_reference(o, 2);
}
END_TEST

START_TEST(schedules)
{
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.lr = 0.1;
    ck_assert(og_train_lr(&o, 7) == 0.1);
    o.schedule = OG_LR_STEP, o.step_epochs = 3, o.gamma = 0.5;
    ck_assert(og_train_lr(&o, 2) == 0.1 && og_train_lr(&o, 3) == 0.05 && og_train_lr(&o, 6) == 0.025);
    o.schedule = OG_LR_COSINE, o.epochs = 4;
    ck_assert(fabs(og_train_lr(&o, 0) - 0.1) < 1e-15 && fabs(og_train_lr(&o, 2) - 0.05) < 1e-15);
    ck_assert(og_train_lr(&o, 4) < 1e-15);
    /* the trainer feeds the epoch's rate: epoch 3 of a step schedule halves the update */
    og_graph *g = mlp(false, false);
    og_train_options s = OG_TRAIN_OPTIONS_INIT;
    s.lr = 0.1, s.schedule = OG_LR_STEP, s.step_epochs = 1, s.gamma = 0.5;
    og_train_options c = s;
    c.schedule = OG_LR_CONSTANT, c.lr = 0.025;
    og_trainer *ts, *tc;
    OG_CHECK(og_trainer_create(g, &s, 0, &ts));
    OG_CHECK(og_trainer_create(g, &c, 0, &tc));
    og_trainer_set_epoch(ts, 2);
    run_steps(ts, 0, 2);
    run_steps(tc, 0, 2);
    og_graph *es, *ec;
    OG_CHECK(og_trainer_export(ts, &es));
    OG_CHECK(og_trainer_export(tc, &ec));
    for (int k = 0; k < 4; k++) {
        const og_tensor *a = initializer(es, WEIGHTS[k]), *b = initializer(ec, WEIGHTS[k]);
        ck_assert(memcmp(a->data, b->data, (size_t)a->numel * 4) == 0);
    }
    og_graph_free(es), og_graph_free(ec);
    og_trainer_free(ts), og_trainer_free(tc);
    og_graph_free(g);
}
END_TEST

/* Every initializer of a and b holds the same bits. */
static void same_weights(const og_graph *a, const og_graph *b)
{
    ck_assert_int_eq(og_graph_num_initializers(a), og_graph_num_initializers(b));
    for (int k = 0; k < og_graph_num_initializers(a); k++) {
        const og_tensor *x;
        OG_CHECK(og_graph_initializer(a, k, &x));
        const og_tensor *y = initializer(b, x->name);
        ck_assert_int_eq(x->numel, y->numel);
        ck_assert_msg(memcmp(x->data, y->data, (size_t)x->numel * og_dtype_size(x->dtype)) == 0,
                      "initializer '%s' differs", x->name);
    }
}

START_TEST(bit_identical_across_threads)
{
    og_graph *g = mlp(true, false);
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.optimizer = OG_OPTIM_ADAM, o.lr = 0.01;
    og_trainer *t1, *t2;
    OG_CHECK(og_trainer_create(g, &o, 1, &t1));
    OG_CHECK(og_trainer_create(g, &o, 2, &t2));
    run_steps(t1, 0, 5);
    run_steps(t2, 0, 5);
    og_graph *e1, *e2;
    OG_CHECK(og_trainer_export(t1, &e1));
    OG_CHECK(og_trainer_export(t2, &e2));
    same_weights(e1, e2);
    og_graph_free(e1), og_graph_free(e2);
    og_trainer_free(t1), og_trainer_free(t2);
    og_graph_free(g);
}
END_TEST

START_TEST(resume_is_bit_identical)
{
    og_graph *g = mlp(true, false);
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.optimizer = OG_OPTIM_MOMENTUM, o.lr = 0.05, o.momentum = 0.9;
    og_trainer *whole, *first, *second;
    OG_CHECK(og_trainer_create(g, &o, 0, &whole));
    run_steps(whole, 0, 6);
    OG_CHECK(og_trainer_create(g, &o, 0, &first));
    run_steps(first, 0, 3);
    og_graph *mid, *loaded, *e_whole, *e_second;
    OG_CHECK(og_trainer_export(first, &mid));
    const char *path = OG_TEST_TMP_DIR "/train_resume.onnx";
    OG_CHECK(og_model_save_file(mid, path));
    OG_CHECK(og_model_load_file(path, &loaded));
    /* the saved model carries its step and settings */
    ck_assert_int_eq(og_graph_num_training_infos(loaded), 1);
    og_train_options back;
    bool found;
    OG_CHECK(og_training_settings(loaded, &back, &found));
    ck_assert(found && back.optimizer == OG_OPTIM_MOMENTUM && back.lr == 0.05 && back.momentum == 0.9);
    OG_CHECK(og_trainer_create(loaded, NULL, 0, &second));
    ck_assert_int_eq(og_trainer_num_steps(second), 3);
    run_steps(second, 3, 6);
    OG_CHECK(og_trainer_export(whole, &e_whole));
    OG_CHECK(og_trainer_export(second, &e_second));
    same_weights(e_whole, e_second);
    og_graph_free(mid), og_graph_free(loaded), og_graph_free(e_whole), og_graph_free(e_second);
    og_trainer_free(whole), og_trainer_free(first), og_trainer_free(second);
    og_graph_free(g);
}
END_TEST

START_TEST(batchnorm_running_statistics)
{
    og_graph *g = mlp(true, false);
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.lr = 1e-30;   /* the weights barely move: the statistics are the batch's */
    og_trainer *t;
    OG_CHECK(og_trainer_create(g, &o, 0, &t));
    og_tensor *x, *l;
    batch(0, &x, &l);
    /* the BatchNormalization input: relu(x W1' + b1), computed here */
    const og_tensor *w1 = initializer(g, "W1"), *b1 = initializer(g, "b1");
    double mean[NHID] = { 0 }, var[NHID] = { 0 }, r[BATCH][NHID];
    for (int n = 0; n < BATCH; n++)
        for (int j = 0; j < NHID; j++) {
            double s = ((float *)b1->data)[j];
            for (int i = 0; i < NIN; i++)
                s += (double)((float *)x->data)[n * NIN + i] * ((float *)w1->data)[j * NIN + i];
            r[n][j] = s > 0 ? s : 0;
            mean[j] += r[n][j] / BATCH;
        }
    for (int n = 0; n < BATCH; n++)
        for (int j = 0; j < NHID; j++)
            var[j] += (r[n][j] - mean[j]) * (r[n][j] - mean[j]);
    OG_CHECK(og_trainer_step(t, x, l, NULL));
    og_graph *e;
    OG_CHECK(og_trainer_export(t, &e));
    const og_tensor *rm = initializer(e, "bn.mean"), *rv = initializer(e, "bn.var");
    for (int j = 0; j < NHID; j++) {
        /* running = 0.9 running + 0.1 batch; the ONNX spec's batch variance is the population
         * variance (np.var), where torch.nn.BatchNorm1d would use the unbiased one */
        double want_m = 0.1 * mean[j], want_v = 0.9 + 0.1 * var[j] / BATCH;
        ck_assert_msg(fabs(((float *)rm->data)[j] - want_m) < 1e-5, "running mean %d: %g, want %g", j,
                      ((float *)rm->data)[j], want_m);
        ck_assert_msg(fabs(((float *)rv->data)[j] - want_v) < 1e-5, "running var %d: %g, want %g", j,
                      ((float *)rv->data)[j], want_v);
    }
    /* predict is inference: the exported model (running statistics) gives the same */
    const og_tensor *y;
    OG_CHECK(og_trainer_predict(t, x, &y));
    og_plan *p;
    og_tensor *y2;
    OG_CHECK(og_plan_create(e, &p));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y2));
    ck_assert(y->numel == y2->numel && memcmp(y->data, y2->data, (size_t)y->numel * 4) == 0);
    og_tensor_free(y2);
    og_plan_free(p);
    og_tensor_free(x), og_tensor_free(l);
    og_graph_free(e);
    og_trainer_free(t);
    og_graph_free(g);
}
END_TEST

/* compute_gradients + apply_gradients is the step; gradients changed in
 * between change the update (as a data-parallel caller does). */
START_TEST(step_in_two_halves)
{
    og_graph *g = mlp(true, false);
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.optimizer = OG_OPTIM_ADAM, o.lr = 0.01, o.clip_norm = 0.5;
    og_trainer *a, *b, *c;
    OG_CHECK(og_trainer_create(g, &o, 0, &a));
    OG_CHECK(og_trainer_create(g, &o, 0, &b));
    og_train_options sgd = OG_TRAIN_OPTIONS_INIT;   /* changing the gradients shows in its update */
    OG_CHECK(og_trainer_create(g, &sgd, 0, &c));
    ck_assert_int_eq(og_trainer_num_gradients(b), 0);
    ck_assert_ptr_null(og_trainer_gradient(b, 0));
    OG_CHECK_FAILS(og_trainer_apply_gradients(b), OG_ERR_INVALID_ARG, "compute the gradients first");
    for (int s = 0; s < 3; s++) {
        og_tensor *x, *l;
        batch(s, &x, &l);
        double la, lb;
        OG_CHECK(og_trainer_step(a, x, l, &la));
        OG_CHECK(og_trainer_compute_gradients(b, x, l, &lb));
        ck_assert(la == lb);
        OG_CHECK(og_trainer_apply_gradients(b));
        OG_CHECK(og_trainer_compute_gradients(c, x, l, NULL));
        for (int k = 0; k < og_trainer_num_gradients(c); k++) {
            og_tensor *gk = og_trainer_gradient(c, k);
            for (int64_t i = 0; i < gk->numel; i++)
                ((float *)gk->data)[i] *= 2;
        }
        OG_CHECK(og_trainer_apply_gradients(c));
        og_tensor_free(x), og_tensor_free(l);
    }
    ck_assert_int_eq(og_trainer_num_gradients(b), 6);   /* W1 b1 bn.scale bn.bias W2 b2 */
    ck_assert_int_eq(og_trainer_num_steps(b), 3);
    og_graph *ea, *eb, *ec;
    OG_CHECK(og_trainer_export(a, &ea));
    OG_CHECK(og_trainer_export(b, &eb));
    OG_CHECK(og_trainer_export(c, &ec));
    same_weights(ea, eb);
    ck_assert(memcmp(initializer(ea, "W1")->data, initializer(ec, "W1")->data, NHID * NIN * 4) != 0);
    og_graph_free(ea), og_graph_free(eb), og_graph_free(ec);
    og_trainer_free(a), og_trainer_free(b), og_trainer_free(c);
    og_graph_free(g);
}
END_TEST

/* Dropout trains in its training behaviour (a mask), and predicts as the identity. */
START_TEST(dropout_switches_to_training)
{
    og_graph *g[2];
    for (int k = 0; k < 2; k++) {
        og_net *n;
        OG_CHECK(og_net_create("x", 2, (int64_t[]){ -1, NIN }, 5, &n));
        og_net_dense(n, NHID);
        og_net_relu(n);
        if (k)
            og_net_dropout(n, 0.5f);
        og_net_dense(n, NCLS);
        OG_CHECK(og_net_finish(n, "y", &g[k]));
    }
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.lr = 1e-30;
    og_trainer *t[2];
    og_tensor *x, *l;
    batch(0, &x, &l);
    double loss[2];
    const og_tensor *y[2];
    for (int k = 0; k < 2; k++) {
        OG_CHECK(og_trainer_create(g[k], &o, 0, &t[k]));
        OG_CHECK(og_trainer_step(t[k], x, l, &loss[k]));
        OG_CHECK(og_trainer_predict(t[k], x, &y[k]));
    }
    ck_assert_msg(loss[0] != loss[1], "dropout did not change the training loss (%g)", loss[0]);
    ck_assert(memcmp(y[0]->data, y[1]->data, (size_t)y[0]->numel * 4) == 0);
    /* Each step draws a new mask (the weights barely move at this lr), and
     * a new trainer draws the same masks again, step by step. */
    double again[3], fresh[3];
    og_trainer *t2;
    OG_CHECK(og_trainer_create(g[1], &o, 0, &t2));
    for (int s = 0; s < 3; s++) {
        OG_CHECK(og_trainer_step(t[1], x, l, &again[s]));
        OG_CHECK(og_trainer_step(t2, x, l, &fresh[s]));
    }
    ck_assert_msg(again[0] != loss[1] && again[1] != again[0] && again[2] != again[1],
                  "dropout drew the same mask at consecutive steps (%g %g %g %g)", loss[1], again[0], again[1],
                  again[2]);
    ck_assert_msg(fresh[0] == loss[1] && fresh[1] == again[0] && fresh[2] == again[1],
                  "a new trainer did not draw the same masks (%g %g %g vs %g %g %g)", fresh[0], fresh[1], fresh[2],
                  loss[1], again[0], again[1]);
    og_trainer_free(t2);
    og_tensor_free(x), og_tensor_free(l);
    for (int k = 0; k < 2; k++)
        og_trainer_free(t[k]), og_graph_free(g[k]);
}
END_TEST

static long n_allocs;
static void *count_alloc(void *u, size_t n) { (void)u; n_allocs++; return malloc(n); }
static void *count_realloc(void *u, void *p, size_t n) { (void)u; n_allocs++; return realloc(p, n); }
static void count_free(void *u, void *p) { (void)u; free(p); }

START_TEST(steps_allocate_nothing)
{
    og_set_allocator(&(og_allocator){ count_alloc, count_realloc, count_free, NULL });
    og_graph *g = mlp(true, false);
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.optimizer = OG_OPTIM_ADAM, o.lr = 0.01, o.clip_norm = 1;
    og_trainer *t;
    OG_CHECK(og_trainer_create(g, &o, 2, &t));
    og_tensor *x, *l;
    batch(0, &x, &l);
    OG_CHECK(og_trainer_step(t, x, l, NULL));
    n_allocs = 0;
    for (int s = 0; s < 3; s++)
        OG_CHECK(og_trainer_step(t, x, l, NULL));
    ck_assert_msg(n_allocs == 0, "3 steps allocated %ld times", n_allocs);
    og_tensor_free(x), og_tensor_free(l);
    og_trainer_free(t);
    og_graph_free(g);
    og_set_allocator(NULL);
}
END_TEST

START_TEST(mse_against_one_hot)
{
    og_graph *g = mlp(false, false);
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.loss_fn = OG_LOSS_MSE, o.lr = 0.1;
    og_trainer *t;
    OG_CHECK(og_trainer_create(g, &o, 0, &t));
    og_tensor *x, *l;
    batch(0, &x, &l);
    const og_tensor *y;
    OG_CHECK(og_trainer_predict(t, x, &y));
    double want = 0;
    for (int n = 0; n < BATCH; n++)
        for (int c = 0; c < NCLS; c++) {
            double d = ((float *)y->data)[n * NCLS + c] - (((int64_t *)l->data)[n] == c);
            want += d * d / (BATCH * NCLS);
        }
    double loss;
    OG_CHECK(og_trainer_step(t, x, l, &loss));
    ck_assert_msg(fabs(loss - want) < 1e-6, "mse %g, want %g", loss, want);
    og_tensor_free(x), og_tensor_free(l);
    og_trainer_free(t);
    og_graph_free(g);
}
END_TEST

START_TEST(errors)
{
    og_graph *g = mlp(false, false), *lg = mlp(false, true), *built;
    og_trainer *t;
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    o.lr = 0;
    OG_CHECK_FAILS(og_trainer_create(g, &o, 0, &t), OG_ERR_INVALID_ARG, "learning rate must be positive");
    o = (og_train_options)OG_TRAIN_OPTIONS_INIT;
    o.output_name = "nope";
    OG_CHECK_FAILS(og_trainer_create(g, &o, 0, &t), OG_ERR_INVALID_ARG, "no output 'nope'");
    o = (og_train_options)OG_TRAIN_OPTIONS_INIT;
    o.input_name = "nope";
    OG_CHECK_FAILS(og_trainer_create(g, &o, 0, &t), OG_ERR_INVALID_ARG, "no input 'nope'");
    o = (og_train_options)OG_TRAIN_OPTIONS_INIT;
    o.nesterov = true;
    OG_CHECK_FAILS(og_trainer_create(g, &o, 0, &t), OG_ERR_INVALID_ARG, "nesterov needs the momentum optimizer");
    OG_CHECK_FAILS(og_trainer_create(g, NULL, 0, &t), OG_ERR_INVALID_ARG, "carries no training step");
    /* a model that computes its own loss: the labels feed its other input */
    o = (og_train_options)OG_TRAIN_OPTIONS_INIT;
    o.loss_fn = OG_LOSS_MODEL, o.loss = "y";
    OG_CHECK_FAILS(og_trainer_create(lg, &o, 0, &t), OG_ERR_INVALID_ARG, "");
    o.loss = "loss";
    OG_CHECK(og_trainer_create(lg, &o, 0, &t));
    run_steps(t, 0, 2);
    og_trainer_free(t);
    /* building twice */
    o = (og_train_options)OG_TRAIN_OPTIONS_INIT;
    OG_CHECK(og_training_build(g, &o, &built));
    og_graph *again;
    OG_CHECK_FAILS(og_training_build(built, &o, &again), OG_ERR_INVALID_ARG, "already carries a training step");
    og_graph_free(built);
    og_graph_free(g);
    og_graph_free(lg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sgd_and_weight_decay);
    tcase_add_test(tc, momentum_nesterov_adam_adagrad);
    tcase_add_test(tc, clipping_by_global_norm);
    tcase_add_test(tc, schedules);
    tcase_add_test(tc, bit_identical_across_threads);
    tcase_add_test(tc, resume_is_bit_identical);
    tcase_add_test(tc, batchnorm_running_statistics);
    tcase_add_test(tc, steps_allocate_nothing);
    tcase_add_test(tc, step_in_two_halves);
    tcase_add_test(tc, dropout_switches_to_training);
    tcase_add_test(tc, mse_against_one_hot);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
