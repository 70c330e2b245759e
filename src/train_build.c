/* SPDX-License-Identifier: MIT */
/* train_build.c — a model's training step as one ONNX graph, stored in
 * its TrainingInfoProto (og_training_build), and the settings kept beside
 * it in the metadata.
 *
 * The step graph: the model copied at opset 17 with each node in its
 * training form (og_op.training_form: BatchNormalization's batch
 * statistics and running-statistics outputs), the loss appended, the
 * gradient graph of the loss with respect to the trainable weights
 * (og_graph_build_gradient), optional clipping by the global norm, then one
 * optimiser node per weight. Its outputs are the loss and the new value of
 * every state: weights, optimiser state, the step counter, running
 * statistics. The algorithm stored in the model is that graph without the
 * model's initializers (it reads them by name); update_binding maps each
 * state initializer to its new value.
 *
 * The engine never names an op except here, where the ops are the
 * training procedure's own vocabulary (the loss and the optimisers), not a
 * model's. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "clone.h"
#include "train_internal.h"
#include "onnxgrad/autodiff.h"
#include "onnxgrad/train.h"
#include "onnxgrad/training_info.h"

#define TRAIN_OPSET 17
#define TRAINING_DOMAIN "ai.onnx.preview.training"

/* ---- a small sticky emitter ------------------------------------------------ */

typedef struct emitter {
    og_graph *g;
    og_status st;
    int counter;
} emitter;

/* A name no value of the graph has: base, else base_2, ... (a static
 * buffer per call site is not needed: names are copied by the graph). */
static void fresh(const og_graph *g, const char *base, char *buf, size_t size)
{
    snprintf(buf, size, "%s", base);
    for (int k = 2; og_graph_find_value(g, buf) >= 0; k++)
        snprintf(buf, size, "%.*s_%d", (int)size - 16, base, k);
}

/* The graph's copy of the name of value `name` (stable while the graph lives). */
static const char *graph_name(emitter *e, const char *name)
{
    int v = og_graph_find_value(e->g, name);
    return v >= 0 ? e->g->values[v].name : NULL;
}

/* Adds node op(ins) with n_out outputs named after bases (fresh names) and
 * returns the first output's name, or NULL once anything failed. outs
 * (may be NULL) receives every output name. */
static const char *emit(emitter *e, const char *op, const char *domain, int n_in, const char *const *ins, int n_out,
                        const char *const *bases, const char **outs, int n_attrs, const og_attr *attrs)
{
    if (e->st)
        return NULL;
    for (int k = 0; k < n_in; k++)
        if (!ins[k]) {
            e->st = og_err(OG_ERR_INTERNAL, "building the training step: input %d of a %s node is missing", k, op);
            return NULL;
        }
    char names[4][300];
    const char *out_names[4];
    for (int k = 0; k < n_out && k < 4; k++) {
        fresh(e->g, bases[k], names[k], sizeof names[k]);
        out_names[k] = names[k];
    }
    char node[320];
    snprintf(node, sizeof node, "train/%s_%d", op, e->counter++);
    if ((e->st = og_graph_add_node(e->g, op, domain, node, n_in, ins, n_out, out_names, n_attrs, attrs)))
        return NULL;
    for (int k = 0; k < n_out && outs; k++)
        outs[k] = graph_name(e, names[k]);
    return graph_name(e, names[0]);
}

static const char *emit1(emitter *e, const char *op, const char *x, const char *base, int n_attrs, const og_attr *a)
{
    return emit(e, op, NULL, 1, &x, 1, &base, NULL, n_attrs, a);
}

static const char *emit2(emitter *e, const char *op, const char *x, const char *y, const char *base)
{
    const char *ins[2] = { x, y };
    return emit(e, op, NULL, 2, ins, 1, &base, NULL, 0, NULL);
}

/* A Constant node holding a scalar (or, with n > 0, a 1-D int64 vector). */
static const char *emit_scalar(emitter *e, og_dtype dtype, double v, const char *base)
{
    if (e->st)
        return NULL;
    og_tensor *t;
    if ((e->st = og_tensor_create(dtype, 0, NULL, &t)))
        return NULL;
    if (dtype == OG_FLOAT)
        *(float *)t->data = (float)v;
    else if (dtype == OG_DOUBLE)
        *(double *)t->data = v;
    else
        *(int64_t *)t->data = (int64_t)v;
    og_attr a = og_attr_tensor("value", t);
    const char *name = emit(e, "Constant", NULL, 0, NULL, 1, &base, NULL, 1, &a);
    og_tensor_free(t);
    return name;
}

static const char *emit_ints(emitter *e, int64_t n, const int64_t *v, const char *base)
{
    if (e->st)
        return NULL;
    og_tensor *t;
    if ((e->st = og_tensor_create_from(OG_INT64, 1, &n, v, &t)))
        return NULL;
    og_attr a = og_attr_tensor("value", t);
    const char *name = emit(e, "Constant", NULL, 0, NULL, 1, &base, NULL, 1, &a);
    og_tensor_free(t);
    return name;
}

/* ---- names of the settings in the metadata --------------------------------- */

static const char *const optimizer_names[] = { "sgd", "momentum", "adam", "adagrad" };
static const char *const loss_names[] = { "model", "softmax-cross-entropy", "mse" };
static const char *const schedule_names[] = { "constant", "step", "cosine" };

const char *og_train_optimizer_name(og_optimizer o)
{
    return (unsigned)o < 4 ? optimizer_names[o] : "?";
}
const char *og_train_loss_name(og_loss_fn l) { return (unsigned)l < 3 ? loss_names[l] : "?"; }
const char *og_train_schedule_name(og_lr_schedule s) { return (unsigned)s < 3 ? schedule_names[s] : "?"; }

static int lookup(const char *const *names, int n, const char *s)
{
    for (int k = 0; s && k < n; k++)
        if (strcmp(names[k], s) == 0)
            return k;
    return -1;
}

double og_train_lr(const og_train_options *o, int epoch)
{
    switch (o->schedule) {
    case OG_LR_STEP:
        return o->lr * pow(o->gamma, (double)(epoch / (o->step_epochs > 0 ? o->step_epochs : 1)));
    case OG_LR_COSINE: {
        int total = o->epochs > 0 ? o->epochs : 1;
        return o->lr * (1.0 + cos(3.14159265358979323846 * (double)epoch / (double)total)) / 2.0;
    }
    default:
        return o->lr;
    }
}

/* ---- checking the options -------------------------------------------------- */

static og_status check_options(const og_train_options *o)
{
    if (!o || o->struct_size < sizeof(og_train_options))
        return og_err(OG_ERR_INVALID_ARG, "training options: start from OG_TRAIN_OPTIONS_INIT (struct_size %zu, "
                      "expected %zu)", o ? o->struct_size : 0, sizeof(og_train_options));
    if ((unsigned)o->optimizer > OG_OPTIM_ADAGRAD)
        return og_err(OG_ERR_INVALID_ARG, "training options: unknown optimizer %d", (int)o->optimizer);
    if ((unsigned)o->loss_fn > OG_LOSS_MSE)
        return og_err(OG_ERR_INVALID_ARG, "training options: unknown loss function %d", (int)o->loss_fn);
    if ((unsigned)o->schedule > OG_LR_COSINE)
        return og_err(OG_ERR_INVALID_ARG, "training options: unknown learning-rate schedule %d", (int)o->schedule);
    if (!(o->lr > 0) || !isfinite(o->lr))
        return og_err(OG_ERR_INVALID_ARG, "training options: the learning rate must be positive, got %g", o->lr);
    if (!(o->momentum >= 0 && o->momentum < 1) && o->optimizer == OG_OPTIM_MOMENTUM)
        return og_err(OG_ERR_INVALID_ARG, "training options: momentum must be in [0, 1), got %g", o->momentum);
    if (o->nesterov && o->optimizer != OG_OPTIM_MOMENTUM)
        return og_err(OG_ERR_INVALID_ARG, "training options: nesterov needs the momentum optimizer");
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        return og_err(OG_ERR_INVALID_ARG, "training options: weight decay must be >= 0, got %g", o->weight_decay);
    if (o->optimizer == OG_OPTIM_ADAM && !(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1))
        return og_err(OG_ERR_INVALID_ARG, "training options: Adam's betas must be in [0, 1), got %g and %g",
                      o->beta1, o->beta2);
    if (!(o->epsilon >= 0) || !(o->clip_norm >= 0) || !isfinite(o->clip_norm))
        return og_err(OG_ERR_INVALID_ARG, "training options: epsilon and clip norm must be >= 0");
    if (o->schedule == OG_LR_STEP && (o->step_epochs < 1 || !(o->gamma > 0)))
        return og_err(OG_ERR_INVALID_ARG, "training options: a step schedule needs step_epochs >= 1 and gamma > 0, "
                      "got %d and %g", o->step_epochs, o->gamma);
    if (o->schedule == OG_LR_COSINE && o->epochs < 1)
        return og_err(OG_ERR_INVALID_ARG, "training options: a cosine schedule needs epochs >= 1, got %d", o->epochs);
    if (o->loss_fn == OG_LOSS_MODEL && !o->loss)
        return og_err(OG_ERR_INVALID_ARG, "training options: name the model output that holds the loss");
    if (o->label_dtype != OG_INT64 && o->label_dtype != OG_FLOAT && o->label_dtype != OG_DOUBLE)
        return og_err(OG_ERR_INVALID_ARG, "training options: labels must be int64 classes or float targets, got %s",
                      og_dtype_name(o->label_dtype));
    if (o->loss_fn == OG_LOSS_SOFTMAX_CROSS_ENTROPY && o->label_dtype != OG_INT64)
        return og_err(OG_ERR_INVALID_ARG, "training options: softmax cross-entropy takes int64 class labels, got %s",
                      og_dtype_name(o->label_dtype));
    return OG_OK;
}

/* ---- the step graph ---------------------------------------------------------- */

typedef struct state_pair {
    char *state;       /* graph input the step reads */
    char *update;      /* output holding its new value */
} state_pair;

typedef struct builder {
    const og_graph *model;
    const og_train_options *o;
    const char *input, *output;   /* names in the model */
    char labels[300], loss[300];  /* names in the step graph */
    state_pair *running;   /* running statistics found by the training forms */
    int n_running, cap_running;
    bool need_true;        /* a training form reads TRUE_NAME */
    state_pair *grads;     /* (weight, its gradient in the step graph), for og_trainer_compute_gradients */
    int n_grads, cap_grads;
    og_status st;
} builder;

static og_status push_pair(state_pair **a, int *n, int *cap, const char *state, const char *update)
{
    og_status st = og_grow((void **)a, cap, *n + 1, sizeof **a);
    if (st)
        return st;
    state_pair p = { og_strdup(state), og_strdup(update) };
    if (!p.state || !p.update) {
        og_free(p.state);
        og_free(p.update);
        return og_err(OG_ERR_NOMEM, "out of memory building the training step");
    }
    (*a)[(*n)++] = p;
    return OG_OK;
}

static void free_pairs(state_pair *a, int n)
{
    for (int k = 0; a && k < n; k++) {
        og_free(a[k].state);
        og_free(a[k].update);
    }
    og_free(a);
}

#define TRUE_NAME "onnxgrad.train.true"

/* The model's value names for the new outputs a training form adds are
 * kept here until the node is added (the copy holds borrowed pointers). */
typedef struct edit_names {
    char buf[OG_TRAINING_MAX_STATES][300];
} edit_names;

static og_status apply_training_form(void *user, const og_node *n, og_node_copy *c)
{
    builder *b = user;
    if (!n->op || !n->op->training_form)
        return OG_OK;
    og_training_form f = { .true_input = -1 };
    og_status st = n->op->training_form(n, &f);
    if (st)
        return st;
    for (int k = 0; k < f.n_set_attrs; k++) {
        int j = 0;
        while (j < c->n_attrs && strcmp(c->attrs[j].name, f.set_attrs[k].name) != 0)
            j++;
        if (j == c->n_attrs) {
            if (c->n_attrs == c->cap_attrs)
                return og_err(OG_ERR_INTERNAL, "node '%s': no room for training attributes", n->name);
            c->n_attrs++;
        }
        c->attrs[j] = f.set_attrs[k];
    }
    if (f.true_input >= 0 && f.true_input < OG_MAX_IO) {
        while (c->n_inputs <= f.true_input)
            c->inputs[c->n_inputs++] = "";
        c->inputs[f.true_input] = TRUE_NAME;
        b->need_true = true;
    }
    static edit_names names;   /* used only until og_graph_add_node copies them, one node at a time */
    for (int k = 0; k < f.n_states; k++) {
        int in = f.state_input[k], out = f.state_output[k];
        if (in >= c->n_inputs || !c->inputs[in][0] || out >= OG_MAX_IO)
            return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (%s): input %d, a state in training, is missing", n->name,
                          n->op_type, in);
        const char *state = c->inputs[in];
        int v = og_graph_find_value(b->model, state);
        if (v < 0 || !b->model->values[v].initializer)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): input '%s' is updated in training, so it must be an "
                          "initializer of the model", n->name, n->op_type, state);
        while (c->n_outputs <= out)
            c->outputs[c->n_outputs++] = "";
        if (!c->outputs[out][0]) {
            char base[300];
            snprintf(base, sizeof base, "%.280s.next", state);
            fresh(b->model, base, names.buf[k], sizeof names.buf[k]);
            c->outputs[out] = names.buf[k];
        }
        if ((st = push_pair(&b->running, &b->n_running, &b->cap_running, state, c->outputs[out])))
            return st;
    }
    return OG_OK;
}

/* The model's only float input (or the named one). */
static og_status find_input(const og_graph *g, const char *want, const char **out)
{
    int found = -1, n_float = 0;
    for (int k = 0; k < g->n_inputs; k++) {
        const og_value *v = &g->values[g->inputs[k]];
        if (v->initializer)
            continue;
        if (want ? strcmp(v->name, want) == 0 : (v->dtype == OG_FLOAT || v->dtype == OG_DOUBLE)) {
            found = g->inputs[k];
            n_float++;
        }
    }
    if (want && found < 0)
        return og_err(OG_ERR_INVALID_ARG, "the model has no input '%s'", want);
    if (!want && n_float != 1)
        return og_err(OG_ERR_INVALID_ARG, "the model has %d float inputs: name the data input (input_name)", n_float);
    *out = g->values[found].name;
    return OG_OK;
}

static bool is_running(const builder *b, const char *name)
{
    for (int k = 0; k < b->n_running; k++)
        if (strcmp(b->running[k].state, name) == 0)
            return true;
    return false;
}

/* The weights the optimiser updates, in initializer order. */
static og_status trainables(builder *b, const char ***out, int *n_out)
{
    const og_graph *g = b->model;
    const char **names = og_calloc((size_t)g->n_inits + 1, sizeof *names);
    if (!names)
        return og_err(OG_ERR_NOMEM, "out of memory listing the trainable weights");
    int n = 0;
    const og_train_options *o = b->o;
    if (o->n_trainable > 0) {
        for (int k = 0; k < o->n_trainable; k++) {
            int v = o->trainable[k] ? og_graph_find_value(g, o->trainable[k]) : -1;
            if (v < 0 || !g->values[v].initializer) {
                og_free(names);
                return og_err(OG_ERR_INVALID_ARG, "trainable '%s' is not an initializer of the model",
                              o->trainable[k] ? o->trainable[k] : "(null)");
            }
            og_dtype t = g->values[v].initializer->dtype;
            if ((t != OG_FLOAT && t != OG_DOUBLE) || is_running(b, g->values[v].name)) {
                og_free(names);
                return og_err(OG_ERR_INVALID_ARG, "trainable '%s' is %s", o->trainable[k],
                              is_running(b, g->values[v].name) ? "a running statistic, updated by its node"
                                                              : "not a float tensor");
            }
            names[n++] = g->values[v].name;
        }
    } else {
        for (int k = 0; k < g->n_inits; k++) {
            const og_value *v = &g->values[g->inits[k]];
            const og_tensor *t = v->initializer;
            if ((t->dtype != OG_FLOAT && t->dtype != OG_DOUBLE) || t->rank < 1 || t->numel < 1 ||
                is_running(b, v->name))
                continue;
            bool diff = false;   /* read through some node's differentiable input */
            for (int j = 0; j < g->n_nodes && !diff; j++) {
                const og_node *nd = &g->nodes[j];
                for (int i = 0; i < nd->n_inputs && i < 32 && !diff; i++)
                    diff = nd->inputs[i] == g->inits[k] && nd->op && (nd->op->diff_inputs >> i & 1u);
            }
            if (diff)
                names[n++] = v->name;
        }
    }
    if (n == 0) {
        og_free(names);
        return og_err(OG_ERR_INVALID_ARG, "the model has no trainable weights (float initializers the loss reads "
                      "through a differentiable input)");
    }
    *out = names;
    *n_out = n;
    return OG_OK;
}

/* Appends the loss to the forward copy f; sets b->loss and b->labels. */
static og_status append_loss(builder *b, og_graph *f)
{
    const og_train_options *o = b->o;
    emitter e = { .g = f };
    if (o->loss_fn == OG_LOSS_MODEL) {
        int v = og_graph_find_value(f, o->loss);
        bool is_out = false;
        for (int k = 0; v >= 0 && k < f->n_outputs; k++)
            is_out = is_out || f->outputs[k] == v;
        if (!is_out)
            return og_err(OG_ERR_INVALID_ARG, "the model has no output '%s' to use as the loss", o->loss);
        snprintf(b->loss, sizeof b->loss, "%s", f->values[v].name);
        b->labels[0] = '\0';
        if (o->label_name) {
            if (og_graph_find_value(b->model, o->label_name) < 0)
                return og_err(OG_ERR_INVALID_ARG, "the model has no input '%s' for the labels", o->label_name);
            snprintf(b->labels, sizeof b->labels, "%s", o->label_name);
        } else {
            for (int k = 0; k < f->n_inputs; k++) {
                const og_value *in = &f->values[f->inputs[k]];
                if (!in->initializer && strcmp(in->name, b->input) != 0) {
                    if (b->labels[0])
                        return og_err(OG_ERR_INVALID_ARG, "the model has several inputs besides '%s': name the "
                                      "labels input (label_name)", b->input);
                    snprintf(b->labels, sizeof b->labels, "%s", in->name);
                }
            }
        }
        return OG_OK;
    }
    int yv = og_graph_find_value(f, b->output);
    og_value_info yi;
    og_status st = og_graph_value(b->model, b->output, &yi);
    if (st)
        return st;
    if (yi.dtype != OG_FLOAT && yi.dtype != OG_DOUBLE)
        return og_err(OG_ERR_INVALID_ARG, "output '%s' is %s; the loss needs a float output", b->output,
                      og_dtype_name(yi.dtype));
    if (yi.rank != 2 && o->label_dtype == OG_INT64)
        return og_err(OG_ERR_SHAPE, "output '%s' has rank %d; a classification loss needs [batch, classes]",
                      b->output, yi.rank);
    char lname[300];
    fresh(f, o->label_name ? o->label_name : "labels", lname, sizeof lname);
    og_value_info xi;
    if ((st = og_graph_value(b->model, b->input, &xi)))
        return st;
    const char *batch_param[OG_MAX_RANK] = { xi.rank > 0 && xi.dim_params ? xi.dim_params[0] : NULL };
    int64_t ldims[OG_MAX_RANK] = { xi.rank > 0 ? xi.dims[0] : -1 };
    if (o->label_dtype == OG_INT64) {
        st = og_graph_add_input(f, lname, OG_INT64, 1, ldims, batch_param);
    } else {
        for (int d = 1; d < yi.rank; d++)
            ldims[d] = yi.dims[d];
        st = og_graph_add_input(f, lname, o->label_dtype, yi.rank, ldims, batch_param);
    }
    if (st)
        return st;
    snprintf(b->labels, sizeof b->labels, "%s", lname);
    const char *y = f->values[yv].name, *loss;
    if (o->loss_fn == OG_LOSS_SOFTMAX_CROSS_ENTROPY) {
        const char *ins[2] = { y, graph_name(&e, lname) }, *base = "loss";
        og_attr a = og_attr_string("reduction", "mean");
        loss = emit(&e, "SoftmaxCrossEntropyLoss", NULL, 2, ins, 1, &base, NULL, 1, &a);
    } else {
        const char *target = graph_name(&e, lname);
        if (o->label_dtype == OG_INT64) {
            int64_t classes = yi.dims[1];
            if (classes < 1)
                return og_err(OG_ERR_SHAPE, "output '%s' has an unknown number of classes; mse against one-hot "
                              "labels needs it", b->output);
            int64_t *range = og_calloc((size_t)classes, sizeof *range);
            if (!range)
                return og_err(OG_ERR_NOMEM, "out of memory building the one-hot labels");
            for (int64_t c = 0; c < classes; c++)
                range[c] = c;
            const int64_t one = 1;
            const char *cls = emit_ints(&e, classes, range, "loss.classes");
            og_free(range);
            const char *col = emit2(&e, "Unsqueeze", graph_name(&e, lname), emit_ints(&e, 1, &one, "loss.axes"), "loss.labels");
            og_attr to = og_attr_int("to", yi.dtype);
            target = emit1(&e, "Cast", emit2(&e, "Equal", col, cls, "loss.is_class"), "loss.one_hot", 1, &to);
        }
        const char *d = emit2(&e, "Sub", y, target, "loss.diff");
        og_attr keep = og_attr_int("keepdims", 0);
        loss = emit1(&e, "ReduceMean", emit2(&e, "Mul", d, d, "loss.sq"), "loss", 1, &keep);
    }
    if (e.st)
        return e.st;
    if ((st = og_graph_add_output(f, loss)))
        return st;
    snprintf(b->loss, sizeof b->loss, "%s", loss);
    return OG_OK;
}

/* One optimiser update of weight w (gradient g) in step graph s: adds its
 * state initializers (zeros, also graph inputs so the step can bind them)
 * and pushes (state, update) pairs for the weight and each state. */
static og_status emit_update(builder *b, emitter *e, const char *w, const char *g, const char *lr, const char *t1,
                             state_pair **pairs, int *n_pairs, int *cap_pairs)
{
    const og_train_options *o = b->o;
    og_graph *s = e->g;
    const og_tensor *wt = s->values[og_graph_find_value(s, w)].initializer;
    og_dtype dt = wt->dtype;
    static const char *const state_suffix[4][2] = {
        { NULL, NULL }, { "momentum_buffer", NULL }, { "exp_avg", "exp_avg_sq" }, { "sum", NULL } };
    const char *states[2] = { NULL, NULL };
    int n_states = 0;
    for (int k = 0; k < 2 && state_suffix[o->optimizer][k]; k++) {
        char base[300], name[300];
        snprintf(base, sizeof base, "%.200s.%s", w, state_suffix[o->optimizer][k]);
        fresh(s, base, name, sizeof name);
        og_tensor *z;
        og_status st = og_tensor_create(dt, wt->rank, wt->dims, &z);
        if (st)
            return st;
        memset(z->data, 0, (size_t)z->numel * og_dtype_size(dt));
        if ((st = og_graph_adopt_initializer(s, name, z)) ||
            (st = og_graph_add_input(s, name, dt, wt->rank, wt->dims, NULL)))
            return st;
        states[n_states++] = graph_name(e, name);
    }
    char wnext[300];
    snprintf(wnext, sizeof wnext, "%.280s.next", w);
    const char *outs[3] = { NULL, NULL, NULL };
    if (o->optimizer == OG_OPTIM_SGD) {
        const char *lr_w = dt == OG_FLOAT ? lr : emit1(e, "Cast", lr, "lr.double", 1, (og_attr[]){ og_attr_int("to", dt) });
        const char *grad = g;
        if (o->weight_decay > 0)
            grad = emit2(e, "Add", g, emit2(e, "Mul", w, emit_scalar(e, dt, o->weight_decay, "weight_decay"),
                                            "decay"), "grad.decayed");
        outs[0] = emit2(e, "Sub", w, emit2(e, "Mul", grad, lr_w, "step"), wnext);
    } else {
        char snext[2][300];
        const char *bases[3] = { wnext, snext[0], snext[1] };
        for (int k = 0; k < n_states; k++)
            snprintf(snext[k], sizeof snext[k], "%.280s.next", states[k]);
        const char *ins[6] = { lr, t1, w, g, states[0], states[1] };
        og_attr a[5];
        int na = 0;
        const char *op;
        if (o->optimizer == OG_OPTIM_MOMENTUM) {
            op = "Momentum";
            a[na++] = og_attr_float("alpha", (float)o->momentum);
            a[na++] = og_attr_float("beta", 1.0f);   /* torch's dampening 0 */
            a[na++] = og_attr_string("mode", o->nesterov ? "nesterov" : "standard");
            a[na++] = og_attr_float("norm_coefficient", (float)o->weight_decay);
        } else if (o->optimizer == OG_OPTIM_ADAM) {
            op = "Adam";
            a[na++] = og_attr_float("alpha", (float)o->beta1);
            a[na++] = og_attr_float("beta", (float)o->beta2);
            a[na++] = og_attr_float("epsilon", (float)(o->epsilon > 0 ? o->epsilon : 1e-8));
            a[na++] = og_attr_float("norm_coefficient", (float)o->weight_decay);
        } else {
            op = "Adagrad";
            a[na++] = og_attr_float("decay_factor", 0.0f);
            a[na++] = og_attr_float("epsilon", (float)(o->epsilon > 0 ? o->epsilon : 1e-10));
            a[na++] = og_attr_float("norm_coefficient", (float)o->weight_decay);
        }
        emit(e, op, TRAINING_DOMAIN, 4 + n_states, ins, 1 + n_states, bases, outs, na, a);
    }
    if (e->st)
        return e->st;
    og_status st = push_pair(pairs, n_pairs, cap_pairs, w, outs[0]);
    for (int k = 0; k < n_states && !st; k++)
        st = push_pair(pairs, n_pairs, cap_pairs, states[k], outs[1 + k]);
    return st;
}

/* Scales the gradients so their global L2 norm is at most clip_norm, as
 * torch.nn.utils.clip_grad_norm_ (coefficient min(1, clip / (norm + 1e-6))),
 * the squared norms summed in weight order. */
static og_status emit_clip(builder *b, emitter *e, int n, const char **grads, og_dtype dt)
{
    og_attr keep = og_attr_int("keepdims", 0);
    const char *total = NULL;
    for (int k = 0; k < n; k++) {
        const char *sq = emit1(e, "ReduceSumSquare", grads[k], "clip.sq", 1, &keep);
        total = total ? emit2(e, "Add", total, sq, "clip.total") : sq;
    }
    const char *norm = emit2(e, "Add", emit1(e, "Sqrt", total, "clip.norm", 0, NULL),
                             emit_scalar(e, dt, 1e-6, "clip.eps"), "clip.denom");
    const char *coef = emit2(e, "Min", emit2(e, "Div", emit_scalar(e, dt, b->o->clip_norm, "clip.max"), norm,
                                             "clip.ratio"), emit_scalar(e, dt, 1.0, "clip.one"), "clip.coef");
    for (int k = 0; k < n; k++)
        grads[k] = emit2(e, "Mul", grads[k], coef, "clip.grad");
    return e->st;
}

static og_status ensure_opset(og_graph *g, const char *domain, int64_t version)
{
    for (int k = 0; k < g->n_opsets; k++)
        if (strcmp(g->opsets[k].domain, domain) == 0)
            return OG_OK;
    return og_graph_set_opset(g, domain, version);
}

#define STEP_NAME "onnxgrad.step"
#define LR_NAME "lr"

/* The finalized step graph of `model` (see the top of this file), its
 * (state, update) pairs in output order after the loss, and the names
 * its inputs and loss got. */
static og_status build_step(builder *b, og_graph **out, state_pair **pairs_out, int *n_pairs_out)
{
    const og_graph *model = b->model;
    og_graph *f = NULL, *s = NULL;
    const char **train = NULL, **grads = NULL;
    int n_train = 0;
    state_pair *pairs = NULL;
    int n_pairs = 0, cap_pairs = 0;
    og_status st;
    og_clone_options co = { .default_opset = TRAIN_OPSET, .edit_node = apply_training_form, .user = b };
    if ((st = og_graph_clone(model, &co, &f)))
        goto done;
    if (b->need_true) {
        og_tensor *t;
        const bool yes = true;
        if ((st = og_tensor_create_from(OG_BOOL, 0, NULL, &yes, &t)) || (st = og_graph_adopt_initializer(f, TRUE_NAME, t)))
            goto done;
    }
    if ((st = append_loss(b, f)) || (st = trainables(b, &train, &n_train)))
        goto done;
    /* running statistics become outputs (so the gradient graph keeps them)
     * and, like the weights, inputs with their initializer: state */
    for (int k = 0; k < b->n_running && !st; k++)
        st = og_graph_add_output(f, b->running[k].update);
    for (int k = 0; k < n_train + b->n_running && !st; k++) {
        const char *name = k < n_train ? train[k] : b->running[k - n_train].state;
        const og_tensor *t = model->values[og_graph_find_value(model, name)].initializer;
        if (!f->values[og_graph_find_value(f, name)].is_input)   /* IR < 4 models list them already */
            st = og_graph_add_input(f, name, t->dtype, t->rank, t->dims, NULL);
    }
    if (st || (st = og_graph_finalize(f)))
        goto done;
    og_grad_options go = { .loss = b->loss, .n_wrt = n_train, .wrt = train, .allow_unused = true };
    if ((st = og_graph_build_gradient(f, &go, &s)))
        goto done;
    /* gradient k is output n_fwd + k of the gradient graph */
    int n_fwd = f->n_outputs;
    grads = og_calloc((size_t)n_train, sizeof *grads);
    if (!grads) {
        st = og_err(OG_ERR_NOMEM, "out of memory building the training step");
        goto done;
    }
    for (int k = 0; k < n_train && !st; k++) {
        grads[k] = s->values[s->outputs[n_fwd + k]].name;
        st = push_pair(&b->grads, &b->n_grads, &b->cap_grads, train[k], grads[k]);
    }
    if (st)
        goto done;
    emitter e = { .g = s };
    og_tensor *zero;
    const int64_t none = 0;
    if ((st = og_tensor_create_from(OG_INT64, 0, NULL, &none, &zero)) ||
        (st = og_graph_adopt_initializer(s, STEP_NAME, zero)) ||
        (st = og_graph_add_input(s, STEP_NAME, OG_INT64, 0, NULL, NULL)) ||
        (st = og_graph_add_input(s, LR_NAME, OG_FLOAT, 0, NULL, NULL)))
        goto done;
    const char *t1 = emit2(&e, "Add", graph_name(&e, STEP_NAME), emit_scalar(&e, OG_INT64, 1, "step.one"),
                           STEP_NAME ".next");
    if (e.st || (st = push_pair(&pairs, &n_pairs, &cap_pairs, STEP_NAME, t1)))
        goto done;
    og_dtype dt = model->values[og_graph_find_value(model, train[0])].initializer->dtype;
    if (b->o->clip_norm > 0) {
        for (int k = 1; k < n_train; k++)
            if (model->values[og_graph_find_value(model, train[k])].initializer->dtype != dt) {
                st = og_err(OG_ERR_UNSUPPORTED, "clipping by the global norm needs every weight of one type; '%s' "
                            "and '%s' differ", train[0], train[k]);
                goto done;
            }
        if ((st = emit_clip(b, &e, n_train, grads, dt)))
            goto done;
    }
    for (int k = 0; k < n_train && !st; k++)
        st = emit_update(b, &e, train[k], grads[k], graph_name(&e, LR_NAME), t1, &pairs, &n_pairs, &cap_pairs);
    for (int k = 0; k < b->n_running && !st; k++)
        st = push_pair(&pairs, &n_pairs, &cap_pairs, b->running[k].state, b->running[k].update);
    if (st)
        goto done;
    /* outputs: the loss, then every state's update */
    og_graph_clear_outputs(s);
    if ((st = og_graph_add_output(s, b->loss)))
        goto done;
    for (int k = 0; k < n_pairs && !st; k++)
        st = og_graph_add_output(s, pairs[k].update);
    if (st || (b->o->optimizer != OG_OPTIM_SGD && (st = ensure_opset(s, TRAINING_DOMAIN, 1))) ||
        (st = og_graph_finalize(s)))
        goto done;
    *out = s;
    s = NULL;
    *pairs_out = pairs;
    *n_pairs_out = n_pairs;
    pairs = NULL;
done:
    if (st)
        og_err_prefix("building the training step: ");
    free_pairs(pairs, n_pairs);
    og_free(train);
    og_free(grads);
    og_graph_free(f);
    og_graph_free(s);
    return st;
}

/* ---- the settings in the metadata ------------------------------------------ */

#define KEY(k) "onnxgrad.train." k

static og_status put(og_graph *g, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static og_status put(og_graph *g, const char *key, const char *fmt, ...)
{
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    return og_graph_set_metadata(g, key, v);
}

static og_status store_settings(og_graph *g, const og_train_options *o, const builder *b)
{
    og_status st;
    if ((st = put(g, KEY("format"), "1")) || (st = put(g, KEY("optimizer"), "%s", optimizer_names[o->optimizer])) ||
        (st = put(g, KEY("lr"), "%.17g", o->lr)) || (st = put(g, KEY("momentum"), "%.17g", o->momentum)) ||
        (st = put(g, KEY("nesterov"), "%d", o->nesterov ? 1 : 0)) ||
        (st = put(g, KEY("weight_decay"), "%.17g", o->weight_decay)) ||
        (st = put(g, KEY("beta1"), "%.17g", o->beta1)) || (st = put(g, KEY("beta2"), "%.17g", o->beta2)) ||
        (st = put(g, KEY("epsilon"), "%.17g", o->epsilon)) || (st = put(g, KEY("clip_norm"), "%.17g", o->clip_norm)) ||
        (st = put(g, KEY("schedule"), "%s", schedule_names[o->schedule])) ||
        (st = put(g, KEY("step_epochs"), "%d", o->step_epochs)) || (st = put(g, KEY("gamma"), "%.17g", o->gamma)) ||
        (st = put(g, KEY("epochs"), "%d", o->epochs)) || (st = put(g, KEY("loss_fn"), "%s", loss_names[o->loss_fn])) ||
        (st = put(g, KEY("loss"), "%s", b->loss)) || (st = put(g, KEY("input"), "%s", b->input)) ||
        (st = put(g, KEY("output"), "%s", b->output)) || (st = put(g, KEY("labels"), "%s", b->labels)) ||
        (st = put(g, KEY("label_dtype"), "%d", (int)o->label_dtype)) || (st = put(g, KEY("lr_input"), LR_NAME)) ||
        (st = put(g, KEY("step_counter"), STEP_NAME)))
        return st;
    /* where the step's gradients are, so a data-parallel trainer can cut it there */
    for (int k = 0; k < b->n_grads; k++) {
        char key[400];
        snprintf(key, sizeof key, KEY("grad.") "%.360s", b->grads[k].state);
        if ((st = og_graph_set_metadata(g, key, b->grads[k].update)))
            return st;
    }
    return OG_OK;
}

static og_status get_double(const og_graph *g, const char *key, double *v)
{
    const char *s = og_graph_metadata(g, key);
    char *end;
    if (!s || !*s || (*v = strtod(s, &end), *end))
        return og_err(OG_ERR_PARSE, "training settings: metadata '%s' is %s%s%s", key, s ? "'" : "missing",
                      s ? s : "", s ? "', not a number" : "");
    return OG_OK;
}

static og_status get_int(const og_graph *g, const char *key, int *v)
{
    double d = 0;
    og_status st = get_double(g, key, &d);
    if (st)
        return st;
    if (d != (double)(int)d)
        return og_err(OG_ERR_PARSE, "training settings: metadata '%s' is %g, not an integer", key, d);
    *v = (int)d;
    return OG_OK;
}

static og_status get_name(const og_graph *g, const char *key, const char *const *names, int n, int *v)
{
    const char *s = og_graph_metadata(g, key);
    if ((*v = lookup(names, n, s)) < 0)
        return og_err(OG_ERR_PARSE, "training settings: metadata '%s' is %s%s%s", key, s ? "'" : "missing",
                      s ? s : "", s ? "', not a known value" : "");
    return OG_OK;
}

og_status og_training_settings(const og_graph *g, og_train_options *out, bool *found)
{
    if (!g || !out || !found)
        return og_err(OG_ERR_INVALID_ARG, "og_training_settings: NULL argument");
    *found = og_graph_metadata(g, KEY("format")) != NULL;
    if (!*found)
        return OG_OK;
    const char *format = og_graph_metadata(g, KEY("format"));
    if (strcmp(format, "1") != 0)
        return og_err(OG_ERR_UNSUPPORTED, "training settings: format '%s' (this onnxgrad reads format 1)", format);
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    int opt = 0, loss = 0, sched = 0, nesterov = 0, label_dtype = 0;
    og_status st;
    if ((st = get_name(g, KEY("optimizer"), optimizer_names, 4, &opt)) ||
        (st = get_name(g, KEY("loss_fn"), loss_names, 3, &loss)) ||
        (st = get_name(g, KEY("schedule"), schedule_names, 3, &sched)) || (st = get_double(g, KEY("lr"), &o.lr)) ||
        (st = get_double(g, KEY("momentum"), &o.momentum)) || (st = get_int(g, KEY("nesterov"), &nesterov)) ||
        (st = get_double(g, KEY("weight_decay"), &o.weight_decay)) || (st = get_double(g, KEY("beta1"), &o.beta1)) ||
        (st = get_double(g, KEY("beta2"), &o.beta2)) || (st = get_double(g, KEY("epsilon"), &o.epsilon)) ||
        (st = get_double(g, KEY("clip_norm"), &o.clip_norm)) || (st = get_int(g, KEY("step_epochs"), &o.step_epochs)) ||
        (st = get_double(g, KEY("gamma"), &o.gamma)) || (st = get_int(g, KEY("epochs"), &o.epochs)) ||
        (st = get_int(g, KEY("label_dtype"), &label_dtype)))
        return st;
    o.optimizer = (og_optimizer)opt;
    o.loss_fn = (og_loss_fn)loss;
    o.schedule = (og_lr_schedule)sched;
    o.nesterov = nesterov != 0;
    o.label_dtype = (og_dtype)label_dtype;
    o.loss = og_graph_metadata(g, KEY("loss"));
    o.input_name = og_graph_metadata(g, KEY("input"));
    o.output_name = og_graph_metadata(g, KEY("output"));
    o.label_name = og_graph_metadata(g, KEY("labels"));
    if (!o.loss || !o.input_name || !o.output_name || !o.label_name)
        return og_err(OG_ERR_PARSE, "training settings: metadata names of the loss, input, output or labels missing");
    if ((st = check_options(&o)))
        return st;
    *out = o;
    return OG_OK;
}

/* ---- og_training_build --------------------------------------------------------- */

/* ONNX runs the algorithm after the main graph, in one scope: it reads the
 * main graph's inputs and initializers by name, and its own values must
 * not reuse a name the main graph defines. The step recomputes the forward
 * (in training form), so its node outputs that the main graph also
 * produces are renamed "train/<name>" (made unique). */
typedef struct renamer {
    const og_graph *main, *step;
    state_pair *map;   /* (old, new) */
    int n, cap;
    og_status st;
} renamer;

static const char *rename_value(renamer *r, const char *name)
{
    if (!name || !name[0])
        return name;
    int v = og_graph_find_value(r->main, name);
    if (v < 0 || r->main->values[v].is_input || r->main->values[v].initializer)
        return name;
    for (int k = 0; k < r->n; k++)
        if (strcmp(r->map[k].state, name) == 0)
            return r->map[k].update;
    char base[600], fresh_name[600];
    snprintf(base, sizeof base, "train/%.560s", name);
    snprintf(fresh_name, sizeof fresh_name, "%s", base);
    for (int k = 2; og_graph_find_value(r->main, fresh_name) >= 0 || og_graph_find_value(r->step, fresh_name) >= 0;
         k++)
        snprintf(fresh_name, sizeof fresh_name, "%.560s_%d", base, k);
    og_status st = push_pair(&r->map, &r->n, &r->cap, name, fresh_name);
    if (st) {
        r->st = st;
        return name;
    }
    return r->map[r->n - 1].update;
}

static og_status rename_node(void *user, const og_node *n, og_node_copy *c)
{
    renamer *r = user;
    (void)n;
    for (int k = 0; k < c->n_inputs; k++)
        c->inputs[k] = rename_value(r, c->inputs[k]);
    for (int k = 0; k < c->n_outputs; k++)
        c->outputs[k] = rename_value(r, c->outputs[k]);
    return r->st;
}

/* The main graph provides these: its initializers and inputs. */
static bool from_main_graph(void *user, const char *name)
{
    const renamer *r = user;
    int v = og_graph_find_value(r->main, name);
    return v >= 0 && (r->main->values[v].initializer != NULL || r->main->values[v].is_input);
}

/* PyTorch's exporter merges initializers of equal values into one, the
 * others becoming Identity copies of it (a BatchNormalization's zero
 * running_mean read from its zero bias). In training they are separate
 * tensors again, as they are in PyTorch: each such copy of an initializer
 * (a node whose output is a view of its only input, same shape) becomes an
 * initializer of its own. */
static bool is_initializer_copy(const og_graph *g, const og_node *n)
{
    if (!n->op || !n->op->alias_out0_in0 || n->n_inputs != 1 || n->n_outputs != 1 || n->inputs[0] < 0 ||
        n->outputs[0] < 0)
        return false;
    const og_value *in = &g->values[n->inputs[0]], *out = &g->values[n->outputs[0]];
    if (!in->initializer || in->is_input || out->rank != in->initializer->rank)
        return false;
    const int64_t *d = og_value_dims(out);
    for (int k = 0; k < out->rank; k++)
        if (d[k] != in->initializer->dims[k])
            return false;
    return true;
}

static bool skip_initializer_copy(void *user, int k)
{
    const og_graph *g = user;
    return is_initializer_copy(g, &g->nodes[k]);
}

static og_status separate_copies(const og_graph *model, og_graph **out)
{
    *out = NULL;
    bool any = false;
    for (int k = 0; k < model->n_nodes && !any; k++)
        any = is_initializer_copy(model, &model->nodes[k]);
    if (!any)
        return OG_OK;
    og_clone_options co = { .skip_node = skip_initializer_copy, .user = (void *)model };
    og_graph *g;
    og_status st = og_graph_clone(model, &co, &g);
    for (int k = 0; k < model->n_nodes && !st; k++) {
        const og_node *n = &model->nodes[k];
        if (is_initializer_copy(model, n))
            st = og_graph_add_initializer(g, model->values[n->outputs[0]].name,
                                          model->values[n->inputs[0]].initializer);
    }
    if (st || (st = og_graph_finalize(g))) {
        og_graph_free(g);
        return st;
    }
    *out = g;
    return OG_OK;
}

og_status og_training_build(const og_graph *model, const og_train_options *opts, og_graph **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_training_build: out is NULL");
    *out = NULL;
    if (!model || !model->finalized)
        return og_err(OG_ERR_INVALID_ARG, "og_training_build: the model is not finalized (call og_graph_finalize)");
    og_status st = check_options(opts);
    if (st)
        return st;
    if (og_graph_num_training_infos(model) > 0)
        return og_err(OG_ERR_INVALID_ARG, "og_training_build: the model already carries a training step (%d "
                      "training_info); resume it, or clear it with og_graph_clear_training_info",
                      og_graph_num_training_infos(model));
    og_graph *separated = NULL;
    if ((st = separate_copies(model, &separated)))
        return st;
    if (separated)
        model = separated;
    builder b = { .model = model, .o = opts };
    og_graph *step = NULL, *base = NULL, *algorithm = NULL;
    state_pair *pairs = NULL;
    og_binding *bindings = NULL;
    int n_pairs = 0;
    if ((st = find_input(model, opts->input_name, &b.input)))
        goto done;
    if (opts->output_name) {
        int v = og_graph_find_value(model, opts->output_name);
        bool is_out = false;
        for (int k = 0; v >= 0 && k < model->n_outputs; k++)
            is_out = is_out || model->outputs[k] == v;
        if (!is_out) {
            st = og_err(OG_ERR_INVALID_ARG, "the model has no output '%s'", opts->output_name);
            goto done;
        }
        b.output = opts->output_name;
    } else {
        b.output = model->values[model->outputs[0]].name;
    }
    if ((st = build_step(&b, &step, &pairs, &n_pairs)))
        goto done;
    /* a model imports one version of a domain, and the step is opset 17:
     * the main graph is raised with it (refused where that would change it) */
    og_clone_options raise = { .default_opset = TRAIN_OPSET };
    if ((st = og_graph_clone(model, &raise, &base)))
        goto done;
    /* the optimiser state and the step counter join the model's initializers */
    for (int k = 0; k < n_pairs && !st; k++)
        if (og_graph_find_value(model, pairs[k].state) < 0)
            st = og_graph_add_initializer(base, pairs[k].state,
                                          step->values[og_graph_find_value(step, pairs[k].state)].initializer);
    renamer rn = { .main = base, .step = step };
    og_clone_options co = { .skip_value = from_main_graph, .edit_node = rename_node, .no_outputs = true,
                            .no_declarations = true, .user = &rn };
    if (st || (st = og_graph_clone(step, &co, &algorithm)))
        goto done;
    for (int k = 0; k < step->n_outputs && !st; k++)
        st = og_graph_add_output(algorithm, rename_value(&rn, step->values[step->outputs[k]].name));
    if (!st && rn.st)
        st = rn.st;
    if (!st && !(bindings = og_calloc((size_t)n_pairs, sizeof *bindings)))
        st = og_err(OG_ERR_NOMEM, "out of memory building the training step");
    for (int k = 0; k < n_pairs && !st; k++)
        bindings[k] = (og_binding){ pairs[k].state, rename_value(&rn, pairs[k].update) };
    for (int k = 0; k < b.n_grads && !st; k++) {
        char *renamed = og_strdup(rename_value(&rn, b.grads[k].update));
        if (!renamed) {
            st = og_err(OG_ERR_NOMEM, "out of memory building the training step");
            break;
        }
        og_free(b.grads[k].update);
        b.grads[k].update = renamed;
    }
    if (st) {
        free_pairs(rn.map, rn.n);
        goto done;
    }
    st = og_graph_add_training_info(base, NULL, algorithm, 0, NULL, n_pairs, bindings);
    free_pairs(rn.map, rn.n);   /* the bindings borrowed from it until here */
    if (st || (st = store_settings(base, opts, &b)) || (st = og_graph_finalize(base)))
        goto done;
    *out = base;
    base = NULL;
done:
    free_pairs(b.running, b.n_running);
    free_pairs(b.grads, b.n_grads);
    free_pairs(pairs, n_pairs);
    og_free(bindings);
    og_graph_free(step);
    og_graph_free(algorithm);
    og_graph_free(base);
    og_graph_free(separated);
    return st;
}

/* ---- the step graph of a model that carries one ------------------------------- */

og_status og_train_step_graph(const og_graph *base, og_graph **out)
{
    *out = NULL;
    og_training_info ti;
    og_graph *s = NULL;
    og_status st = og_graph_get_training_info(base, 0, &ti);
    if (st || (st = og_training_algorithm_graph(base, 0, &s)))
        return st;
    /* the bound initializers become inputs too: state the plan binds */
    for (int k = 0; k < ti.n_update_bindings && !st; k++) {
        int v = og_graph_find_value(s, ti.update_bindings[k].key);
        const og_tensor *t = v >= 0 ? s->values[v].initializer : NULL;
        if (!t)
            st = og_err(OG_ERR_INVALID_GRAPH, "training step: update binding '%s' is not an initializer",
                        ti.update_bindings[k].key);
        else if (!s->values[v].is_input)
            st = og_graph_add_input(s, ti.update_bindings[k].key, t->dtype, t->rank, t->dims, NULL);
    }
    if (st || (st = og_graph_finalize(s))) {
        og_graph_free(s);
        return st;
    }
    *out = s;
    return OG_OK;
}
