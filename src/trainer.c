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
    if ((st = og_graph_clone(t->base, &co, &t->infer)) || (st = og_graph_clear_training_info(t->infer)) ||
        (st = og_graph_finalize(t->infer)) || (st = og_plan_create_ex(t->infer, &po, &t->infer_plan)))
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
    else if (!(st = og_graph_clone(model, NULL, &t->base)))
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
    og_status st = og_plan_run_borrowed(t->step_plan, 3, in, t->step_out);
    if (st)
        return og_err_prefix("training step %lld: ", (long long)og_trainer_num_steps(t) + 1);
    if (loss) {
        const og_tensor *l = t->step_out[0];
        *loss = l->dtype == OG_DOUBLE ? *(const double *)l->data : (double)*(const float *)l->data;
    }
    return OG_OK;
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
    og_clone_options co = { .replace = current_value, .user = (void *)t };
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
