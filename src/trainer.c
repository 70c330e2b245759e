/* SPDX-License-Identifier: MIT */
/* trainer.c — the training loop's library calls (og_trainer).
 *
 * A trainer holds the model with its training step (og_training_build's
 * output, or a checkpoint), the step graph compiled once into a plan whose
 * state bindings are the trainer's own tensors (weights, optimiser state,
 * step counter, running statistics: TrainingInfoProto's update_binding),
 * and an inference plan that reads the same tensors as inputs. A step is
 * one run of the step plan; nothing is rebuilt or allocated after the
 * first step of a batch size. Exporting copies the tensors back into the
 * model's initializers. */
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "clone.h"
#include "train_internal.h"
#include "onnxgrad/exec.h"
#include "onnxgrad/training_info.h"

struct og_trainer {
    og_graph *base;             /* the model with its training step and settings */
    og_train_options o;         /* names point into base's metadata */
    og_graph *step, *infer;
    og_plan *step_plan, *infer_plan;
    int n_states;
    og_state_binding *bindings; /* state/update names point into base */
    og_tensor **state;          /* the trainer's storage of each state, named after it */
    og_tensor *lr;              /* float scalar fed to the step's "lr" input */
    const char *lr_name, *step_counter;
    int epoch;
    int infer_output;           /* index of o.output_name among the inference outputs */
    const og_tensor **step_out, **infer_out;
    const og_tensor **infer_in; /* x, then every state */
    /* the step in two halves (og_trainer_compute_gradients), made on first use */
    og_graph *grad_g, *update_g;
    og_plan *grad_plan, *update_plan;
    int n_grads;
    og_tensor **grads;          /* the caller-visible gradients, named as in the step */
    const og_tensor **grad_in, **grad_out, **update_in, **update_out;
    int n_grad_in, n_grad_bound, n_update_bound;
    og_state_binding *grad_bind, *update_bind;
};

static bool is_state(void *user, const char *name)
{
    const og_trainer *t = user;
    for (int k = 0; k < t->n_states; k++)
        if (strcmp(t->bindings[k].state, name) == 0)
            return true;
    return false;
}

static const og_tensor *current_value(void *user, const char *name)
{
    const og_trainer *t = user;
    for (int k = 0; k < t->n_states; k++)
        if (strcmp(t->bindings[k].state, name) == 0)
            return t->state[k];
    return NULL;
}

void og_trainer_free(og_trainer *t)
{
    if (!t)
        return;
    og_plan_free(t->step_plan);
    og_plan_free(t->infer_plan);
    og_graph_free(t->step);
    og_graph_free(t->infer);
    for (int k = 0; k < t->n_states; k++)
        og_tensor_free(t->state[k]);
    og_free(t->state);
    og_free(t->bindings);
    og_tensor_free(t->lr);
    og_free(t->step_out);
    og_free(t->infer_out);
    og_free(t->infer_in);
    og_plan_free(t->grad_plan);
    og_plan_free(t->update_plan);
    og_graph_free(t->grad_g);
    og_graph_free(t->update_g);
    for (int k = 0; k < t->n_grads && t->grads; k++)
        og_tensor_free(t->grads[k]);
    og_free(t->grads);
    og_free(t->grad_in);
    og_free(t->grad_out);
    og_free(t->update_in);
    og_free(t->update_out);
    og_free(t->grad_bind);
    og_free(t->update_bind);
    og_graph_free(t->base);
    og_free(t);
}

static og_status setup(og_trainer *t, int n_threads)
{
    og_status st;
    bool found;
    if ((st = og_training_settings(t->base, &t->o, &found)))
        return st;
    if (!found || og_graph_num_training_infos(t->base) != 1)
        return og_err(OG_ERR_INVALID_ARG, "the model carries no training step onnxgrad built (%s); train it with "
                      "training options", found ? "not exactly one training_info" : "no onnxgrad.train settings");
    t->lr_name = og_graph_metadata(t->base, "onnxgrad.train.lr_input");
    t->step_counter = og_graph_metadata(t->base, "onnxgrad.train.step_counter");
    if (!t->lr_name || !t->step_counter)
        return og_err(OG_ERR_PARSE, "training settings: the learning-rate input or step counter is not named");
    og_training_info ti;
    if ((st = og_graph_get_training_info(t->base, 0, &ti)))
        return st;
    t->n_states = ti.n_update_bindings;
    t->bindings = og_calloc((size_t)t->n_states + 1, sizeof *t->bindings);
    t->state = og_calloc((size_t)t->n_states + 1, sizeof *t->state);
    if (!t->bindings || !t->state)
        return og_err(OG_ERR_NOMEM, "out of memory creating the trainer");
    for (int k = 0; k < t->n_states; k++) {
        const og_binding *b = &ti.update_bindings[k];
        int v = og_graph_find_value(t->base, b->key);
        if (v < 0 || !t->base->values[v].initializer)
            return og_err(OG_ERR_INVALID_GRAPH, "training step: update binding '%s' is not an initializer", b->key);
        if ((st = og_tensor_clone(t->base->values[v].initializer, &t->state[k])) ||
            (st = og_tensor_set_name(t->state[k], b->key)))
            return st;
        t->bindings[k] = (og_state_binding){ b->key, b->value, t->state[k] };
    }
    og_plan_options po = { .n_threads = n_threads };
    if ((st = og_train_step_graph(t->base, &t->step)) || (st = og_plan_create_ex(t->step, &po, &t->step_plan)) ||
        (st = og_plan_bind_states(t->step_plan, t->n_states, t->bindings)))
        return st;
    /* inference: the model itself, every state an input fed from the trainer */
    og_clone_options co = { .lift = is_state, .user = t };
    if ((st = og_graph_clone(t->base, &co, &t->infer)) || (st = og_graph_finalize(t->infer)) || (st = og_plan_create_ex(t->infer, &po, &t->infer_plan)))
        return st;
    t->infer_output = -1;
    for (int k = 0; k < t->infer->n_outputs; k++)
        if (strcmp(t->infer->values[t->infer->outputs[k]].name, t->o.output_name) == 0)
            t->infer_output = k;
    if (t->infer_output < 0)
        return og_err(OG_ERR_INVALID_ARG, "training settings: the model has no output '%s'", t->o.output_name);
    t->step_out = og_calloc((size_t)t->step->n_outputs, sizeof *t->step_out);
    t->infer_out = og_calloc((size_t)t->infer->n_outputs, sizeof *t->infer_out);
    t->infer_in = og_calloc((size_t)t->n_states + 1, sizeof *t->infer_in);
    if (!t->step_out || !t->infer_out || !t->infer_in)
        return og_err(OG_ERR_NOMEM, "out of memory creating the trainer");
    for (int k = 0; k < t->n_states; k++)
        t->infer_in[1 + k] = t->state[k];
    if ((st = og_tensor_create(OG_FLOAT, 0, NULL, &t->lr)) || (st = og_tensor_set_name(t->lr, t->lr_name)))
        return st;
    og_trainer_set_epoch(t, 0);
    return OG_OK;
}

og_status og_trainer_create(const og_graph *model, const og_train_options *opts, int n_threads, og_trainer **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_trainer_create: out is NULL");
    *out = NULL;
    if (!model || !model->finalized)
        return og_err(OG_ERR_INVALID_ARG, "og_trainer_create: the model is not finalized (call og_graph_finalize)");
    og_trainer *t = og_calloc(1, sizeof *t);
    if (!t)
        return og_err(OG_ERR_NOMEM, "out of memory creating the trainer");
    og_status st;
    if (opts)
        st = og_training_build(model, opts, &t->base);
    else if (!(st = og_graph_clone(model, &(og_clone_options){ .keep_training = true }, &t->base)))
        st = og_graph_finalize(t->base);
    if (st || (st = setup(t, n_threads))) {
        og_trainer_free(t);
        return st;
    }
    *out = t;
    return OG_OK;
}

const og_train_options *og_trainer_options(const og_trainer *t) { return t ? &t->o : NULL; }

void og_trainer_set_epoch(og_trainer *t, int epoch)
{
    if (!t)
        return;
    t->epoch = epoch;
    *(float *)t->lr->data = (float)og_train_lr(&t->o, epoch);
}

int64_t og_trainer_num_steps(const og_trainer *t)
{
    for (int k = 0; t && k < t->n_states; k++)
        if (strcmp(t->bindings[k].state, t->step_counter) == 0)
            return *(const int64_t *)t->state[k]->data;
    return 0;
}

/* x under the name `name`, without copying its data (a read-only view). */
static og_tensor renamed(const og_tensor *x, const char *name)
{
    og_tensor v = *x;
    v.name = (char *)name;
    return v;
}

og_status og_trainer_step(og_trainer *t, const og_tensor *x, const og_tensor *labels, double *loss)
{
    if (!t || !x || !labels)
        return og_err(OG_ERR_INVALID_ARG, "og_trainer_step: NULL argument");
    og_tensor xv = renamed(x, t->o.input_name), yv = renamed(labels, t->o.label_name);
    const og_tensor *in[3] = { &xv, &yv, t->lr };
    /* a new Dropout mask each step, the same one on resuming at this step */
    og_plan_set_run_seed(t->step_plan, (uint64_t)og_trainer_num_steps(t) + 1);
    og_status st = og_plan_run_borrowed(t->step_plan, 3, in, t->step_out);
    if (st)
        return og_err_prefix("training step %lld: ", (long long)og_trainer_num_steps(t) + 1);
    if (loss) {
        const og_tensor *l = t->step_out[0];
        *loss = l->dtype == OG_DOUBLE ? *(const double *)l->data : (double)*(const float *)l->data;
    }
    return OG_OK;
}

/* ---- the step in two halves ------------------------------------------------------ */

/* Marks the nodes of g that the values `roots` need. */
static void mark_needed(const og_graph *g, int n_roots, const int *roots, bool *node_needed)
{
    int *stack = og_calloc((size_t)g->n_values + 1, sizeof *stack);
    bool *seen = og_calloc((size_t)g->n_values + 1, sizeof *seen);
    int top = 0;
    for (int k = 0; stack && seen && k < n_roots; k++)
        if (roots[k] >= 0 && !seen[roots[k]])
            seen[roots[k]] = true, stack[top++] = roots[k];
    while (stack && seen && top > 0) {
        int v = stack[--top], p = g->values[v].producer;
        if (p < 0 || node_needed[p])
            continue;
        node_needed[p] = true;
        const og_node *n = &g->nodes[p];
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] >= 0 && !seen[n->inputs[i]])
                seen[n->inputs[i]] = true, stack[top++] = n->inputs[i];
    }
    og_free(stack);
    og_free(seen);
}

typedef struct cut_ctx {
    const bool *in_grad_half;
    const char *x, *labels;
} cut_ctx;

static bool skip_grad_half(void *user, int k)
{
    return ((const cut_ctx *)user)->in_grad_half[k];
}

/* The update half reads no data. */
static bool drop_data(void *user, const char *name)
{
    const cut_ctx *c = user;
    return strcmp(name, c->x) == 0 || strcmp(name, c->labels) == 0;
}

static og_status make_halves(og_trainer *t)
{
    const og_graph *s = t->step;
    og_status st = OG_OK;
    int *roots = og_calloc((size_t)t->n_states + 2, sizeof *roots);
    bool *needed = og_calloc((size_t)s->n_nodes + 1, sizeof *needed);
    bool *grad_side = og_calloc((size_t)t->n_states + 1, sizeof *grad_side);
    t->grads = og_calloc((size_t)t->n_states + 1, sizeof *t->grads);
    if (!roots || !needed || !grad_side || !t->grads) {
        st = og_err(OG_ERR_NOMEM, "out of memory splitting the training step");
        goto done;
    }
    /* the gradients, in binding order of their weights */
    int n_roots = 0;
    roots[n_roots++] = s->outputs[0];   /* the loss */
    for (int k = 0; k < t->n_states; k++) {
        char key[400];
        snprintf(key, sizeof key, "onnxgrad.train.grad.%.360s", t->bindings[k].state);
        const char *gname = og_graph_metadata(t->base, key);
        if (!gname)
            continue;
        int v = og_graph_find_value(s, gname);
        if (v < 0) {
            st = og_err(OG_ERR_INVALID_GRAPH, "training step: the gradient '%s' of '%s' is not in the step", gname,
                        t->bindings[k].state);
            goto done;
        }
        og_tinfo ti;
        og_value_get(&s->values[v], &ti);
        if ((st = og_tensor_create(ti.dtype, ti.shape.rank, ti.shape.dims, &t->grads[t->n_grads])) ||
            (st = og_tensor_set_name(t->grads[t->n_grads], gname)))
            goto done;
        t->n_grads++;
        roots[n_roots++] = v;
    }
    if (t->n_grads == 0) {
        st = og_err(OG_ERR_INVALID_GRAPH, "training step: the model's metadata names none of its gradients");
        goto done;
    }
    mark_needed(s, n_roots, roots, needed);
    /* running statistics are updated in the gradient half */
    for (int k = 0; k < t->n_states; k++) {
        int v = og_graph_find_value(s, t->bindings[k].update);
        grad_side[k] = v >= 0 && s->values[v].producer >= 0 && needed[s->values[v].producer];
    }
    /* the gradient half: the step with other outputs (the plan drops the optimiser) */
    if ((st = og_graph_clone(s, NULL, &t->grad_g)))
        goto done;
    og_graph_clear_outputs(t->grad_g);
    for (int k = 0; k < n_roots && !st; k++)
        st = og_graph_add_output(t->grad_g, s->values[roots[k]].name);
    for (int k = 0; k < t->n_states && !st; k++)
        if (grad_side[k])
            st = og_graph_add_output(t->grad_g, t->bindings[k].update);
    if (st || (st = og_graph_finalize(t->grad_g)))
        goto done;
    /* the update half: the other nodes, the gradients its inputs */
    cut_ctx cc = { needed, t->o.input_name, t->o.label_name };
    og_clone_options co = { .skip_node = skip_grad_half, .skip_value = drop_data, .user = &cc };
    if ((st = og_graph_clone(s, &co, &t->update_g)))
        goto done;
    for (int k = 0; k < t->n_grads && !st; k++)
        st = og_graph_add_input(t->update_g, t->grads[k]->name, t->grads[k]->dtype, t->grads[k]->rank,
                                t->grads[k]->dims, NULL);
    og_graph_clear_outputs(t->update_g);
    for (int k = 0; k < t->n_states && !st; k++)
        if (!grad_side[k])
            st = og_graph_add_output(t->update_g, t->bindings[k].update);
    if (st || (st = og_graph_finalize(t->update_g)))
        goto done;
    /* bindings: running statistics in the gradient half, the rest in the update half */
    t->grad_bind = og_calloc((size_t)t->n_states + 1, sizeof *t->grad_bind);
    t->update_bind = og_calloc((size_t)t->n_states + 1, sizeof *t->update_bind);
    t->grad_in = og_calloc((size_t)t->n_states + 3, sizeof *t->grad_in);
    t->update_in = og_calloc((size_t)t->n_grads + 2, sizeof *t->update_in);
    t->grad_out = og_calloc((size_t)t->grad_g->n_outputs + 1, sizeof *t->grad_out);
    t->update_out = og_calloc((size_t)t->update_g->n_outputs + 1, sizeof *t->update_out);
    if (!t->grad_bind || !t->update_bind || !t->grad_in || !t->update_in || !t->grad_out || !t->update_out) {
        st = og_err(OG_ERR_NOMEM, "out of memory splitting the training step");
        goto done;
    }
    t->n_grad_in = 3;   /* x, labels and the learning rate first (the step's inputs) */
    t->grad_in[2] = t->lr;
    for (int k = 0; k < t->n_states; k++) {
        if (grad_side[k])
            t->grad_bind[t->n_grad_bound++] = t->bindings[k];
        else
            t->update_bind[t->n_update_bound++] = t->bindings[k];
        /* the gradient half reads the weights (by name, not copied) */
        if (!grad_side[k] && og_graph_find_value(t->grad_g, t->bindings[k].state) >= 0 &&
            t->grad_g->values[og_graph_find_value(t->grad_g, t->bindings[k].state)].is_input)
            t->grad_in[t->n_grad_in++] = t->state[k];
    }
    for (int k = 0; k < t->n_grads; k++)
        t->update_in[k] = t->grads[k];
    t->update_in[t->n_grads] = t->lr;
    og_plan_options po = { .n_threads = og_plan_num_threads(t->step_plan) };
    if ((st = og_plan_create_ex(t->grad_g, &po, &t->grad_plan)) ||
        (st = og_plan_bind_states(t->grad_plan, t->n_grad_bound, t->grad_bind)) ||
        (st = og_plan_create_ex(t->update_g, &po, &t->update_plan)) ||
        (st = og_plan_bind_states(t->update_plan, t->n_update_bound, t->update_bind)))
        goto done;
done:
    og_free(roots);
    og_free(needed);
    og_free(grad_side);
    if (st)
        og_err_prefix("splitting the training step: ");
    return st;
}

og_status og_trainer_compute_gradients(og_trainer *t, const og_tensor *x, const og_tensor *labels, double *loss)
{
    if (!t || !x || !labels)
        return og_err(OG_ERR_INVALID_ARG, "og_trainer_compute_gradients: NULL argument");
    og_status st;
    if (!t->grad_plan && (st = make_halves(t)))
        return st;
    og_tensor xv = renamed(x, t->o.input_name), yv = renamed(labels, t->o.label_name);
    t->grad_in[0] = &xv;
    t->grad_in[1] = &yv;
    og_plan_set_run_seed(t->grad_plan, (uint64_t)og_trainer_num_steps(t) + 1);
    st = og_plan_run_borrowed(t->grad_plan, t->n_grad_in, t->grad_in, t->grad_out);
    t->grad_in[0] = t->grad_in[1] = NULL;
    if (st)
        return og_err_prefix("gradients of step %lld: ", (long long)og_trainer_num_steps(t) + 1);
    for (int k = 0; k < t->n_grads; k++)
        memcpy(t->grads[k]->data, t->grad_out[1 + k]->data,
               (size_t)t->grads[k]->numel * og_dtype_size(t->grads[k]->dtype));
    if (loss) {
        const og_tensor *l = t->grad_out[0];
        *loss = l->dtype == OG_DOUBLE ? *(const double *)l->data : (double)*(const float *)l->data;
    }
    return OG_OK;
}

og_status og_trainer_apply_gradients(og_trainer *t)
{
    if (!t || !t->update_plan)
        return og_err(OG_ERR_INVALID_ARG, "og_trainer_apply_gradients: compute the gradients first");
    og_status st = og_plan_run_borrowed(t->update_plan, t->n_grads + 1, t->update_in, t->update_out);
    if (st)
        return og_err_prefix("update of step %lld: ", (long long)og_trainer_num_steps(t) + 1);
    return OG_OK;
}

int og_trainer_num_gradients(const og_trainer *t) { return t ? t->n_grads : 0; }

og_tensor *og_trainer_gradient(og_trainer *t, int k)
{
    return t && t->grads && k >= 0 && k < t->n_grads ? t->grads[k] : NULL;
}

og_status og_trainer_predict(og_trainer *t, const og_tensor *x, const og_tensor **out)
{
    if (!t || !x || !out)
        return og_err(OG_ERR_INVALID_ARG, "og_trainer_predict: NULL argument");
    *out = NULL;
    og_tensor xv = renamed(x, t->o.input_name);
    t->infer_in[0] = &xv;
    og_status st = og_plan_run_borrowed(t->infer_plan, t->n_states + 1, t->infer_in, t->infer_out);
    t->infer_in[0] = NULL;
    if (st)
        return st;
    *out = t->infer_out[t->infer_output];
    return OG_OK;
}

og_status og_trainer_export(const og_trainer *t, og_graph **out)
{
    if (!t || !out)
        return og_err(OG_ERR_INVALID_ARG, "og_trainer_export: NULL argument");
    *out = NULL;
    og_clone_options co = { .replace = current_value, .keep_training = true, .user = (void *)t };
    og_graph *g;
    og_status st = og_graph_clone(t->base, &co, &g);
    if (st)
        return st;
    if ((st = og_graph_finalize(g))) {
        og_graph_free(g);
        return st;
    }
    *out = g;
    return OG_OK;
}
