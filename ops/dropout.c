/* SPDX-License-Identifier: MIT */
/* Dropout — in inference, output = data (the compiled plan makes it a view)
 * and the optional mask is all true; in training, each element is kept
 * with probability 1 - ratio: mask[i] = u[i] >= ratio, output = data * mask
 * / (1 - ratio).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Dropout
 *
 * Versions: 1 (is_test, ratio attributes; consumed_inputs ignored), 6 (no
 * consumed_inputs), 7 (no is_test: always inference, as ONNX Runtime reads
 * it), 10 (mask becomes bool; before it the mask has data's type, 1 or 0),
 * 12 (ratio and training_mode become optional inputs, default 0.5 and
 * false; seed attribute), 13 (bfloat16). data float or double (float16/
 * bfloat16 refused); ratio in [0, 1) in training.
 *
 * The random stream is numpy's legacy one, so masks match the official
 * cases and np.random.seed(seed); np.random.uniform(0, 1, shape): MT19937
 * seeded with mt19937_seed(seed mod 2^32), u = (a>>5 * 2^26 + b>>6) / 2^53
 * for consecutive draws a, b, in row-major order. Without `seed` the seed
 * is 0. A plan's run seed (og_plan_set_run_seed; a trainer sets its step
 * number) is mixed in when nonzero, so each training step draws a new mask;
 * otherwise every run draws the same one. Either way a run is a function
 * of its inputs and seeds, and the mask the backward graph reads is the
 * forward's (a re-run Dropout in the backward draws the same one).
 *
 * Backward (torch.nn.functional.dropout's): in training dX = dY * mask *
 * 1/(1 - ratio) (the mask Cast to data's type, read from the forward
 * node's mask output); in inference dX = dY. A training_mode whose value is
 * not known when the gradient graph is built picks the scale with Where; a
 * ratio not known then makes the rule Dropout(dY, ratio, training_mode)
 * with the forward's seed, which draws the same mask. ratio and
 * training_mode have no gradient. */
#include <stddef.h>
#include "shape_family.h"

typedef struct dropout_params {
    float ratio;           /* opsets 1-11 */
    int64_t is_test;       /* opsets 1-6 */
    og_ints consumed;      /* opsets 1-5, ignored */
    int64_t seed;          /* opset 12+ */
} dropout_params;

static const og_attr_spec dropout_attrs[] = {
    { .name = "ratio", .type = OG_ATTR_FLOAT, .offset = offsetof(dropout_params, ratio), .def_f = 0.5f,
      .until_version = 11 },   /* opsets 7-11 are inference: raised to 17 the node computes the same */
    { .name = "is_test", .type = OG_ATTR_INT, .offset = offsetof(dropout_params, is_test), .def_i = 0,
      .has_range = true, .min_i = 0, .max_i = 1, .until_version = 6 },
    { .name = "consumed_inputs", .type = OG_ATTR_INTS, .offset = offsetof(dropout_params, consumed),
      .until_version = 5 },
    { .name = "seed", .type = OG_ATTR_INT, .offset = offsetof(dropout_params, seed), .def_i = 0,
      .since_version = 12 },
};

/* The generator's seed: the attribute's (numpy's seed mod 2^32), or with a
 * plan's run seed, it, the node's name and the run seed through splitmix64,
 * so that consecutive steps and different nodes get unrelated streams. */
static uint32_t run_seed_of(const og_node *n, int64_t seed, uint64_t run_seed)
{
    if (run_seed == 0)
        return (uint32_t)seed;
    /* the node's name too: exporters leave `seed` unset (0) on every
     * Dropout, which must not all draw the same mask */
    uint64_t h = 1469598103934665603ULL;
    for (const char *c = n->name; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    uint64_t z = (uint64_t)seed ^ h ^ (run_seed * 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (uint32_t)(z ^ (z >> 31));
}

/* ---- numpy's legacy MT19937 (randomkit) -------------------------------- */
typedef struct mt19937 {
    uint32_t key[624];
    int pos;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed)
{
    for (int i = 0; i < 624; i++) {
        m->key[i] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)i + 1u;
    }
    m->pos = 624;
}

static uint32_t mt_next(mt19937 *m)
{
    if (m->pos == 624) {
        for (int i = 0; i < 624; i++) {
            uint32_t y = (m->key[i] & 0x80000000u) | (m->key[(i + 1) % 624] & 0x7fffffffu);
            m->key[i] = m->key[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->pos = 0;
    }
    uint32_t y = m->key[m->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* numpy's random_sample: 53 random bits in [0, 1). */
static double mt_double(mt19937 *m)
{
    uint32_t a = mt_next(m) >> 5, b = mt_next(m) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

/* ---- mode ------------------------------------------------------------ */
typedef struct dropout_mode {
    bool training_known, training;
    bool ratio_known;
    double ratio;
} dropout_mode;

static double dropout_scalar(const og_tensor *t)
{
    return t->dtype == OG_FLOAT ? (double)*(const float *)t->data : *(const double *)t->data;
}

/* The mode from the attributes and the data of inputs 1, 2 (NULL: not known). */
static og_status dropout_mode_of(const og_node *node, const dropout_params *p, int opset, int n_in,
                                 const og_tensor *const *v, dropout_mode *m)
{
    memset(m, 0, sizeof *m);
    if (opset < 12) {
        m->training_known = m->ratio_known = true;
        m->training = opset < 7 && !p->is_test;
        m->ratio = p->ratio;
    } else {
        bool has_r = n_in > 1 && node->inputs[1] >= 0, has_t = n_in > 2 && node->inputs[2] >= 0;
        m->ratio_known = !has_r || v[1];
        m->ratio = 0.5;
        if (has_r && v[1]) {
            if ((v[1]->dtype != OG_FLOAT && v[1]->dtype != OG_DOUBLE) || v[1]->numel != 1)
                return og_node_err(node, OG_ERR_INVALID_ARG, "input ratio must be a float or double scalar, got "
                                   "%s of %lld elements", og_dtype_name(v[1]->dtype), (long long)v[1]->numel);
            m->ratio = dropout_scalar(v[1]);
        }
        m->training_known = !has_t || v[2];
        if (has_t && v[2]) {
            if (v[2]->dtype != OG_BOOL || v[2]->numel != 1)
                return og_node_err(node, OG_ERR_INVALID_ARG, "input training_mode must be a bool scalar, got %s of "
                                   "%lld elements", og_dtype_name(v[2]->dtype), (long long)v[2]->numel);
            m->training = *(const bool *)v[2]->data;
        }
    }
    if (m->training_known && m->training && m->ratio_known && !(m->ratio >= 0 && m->ratio < 1))
        return og_node_err(node, OG_ERR_INVALID_ARG, "ratio is %g; training needs a drop probability in [0, 1)",
                           m->ratio);
    return OG_OK;
}

static og_status dropout_infer(og_infer_call *c)
{
    const dropout_params *p = c->params;
    const og_tinfo *x = c->in[0];
    dropout_mode m;
    og_status st;

    for (int k = 0; k < c->n_in; k++)
        if ((st = sf_check_holdable(c, k)))
            return st;
    if (x->dtype != OG_UNDEFINED && x->dtype != OG_FLOAT && x->dtype != OG_DOUBLE)
        return og_node_err(c->node, OG_ERR_SHAPE, "input data '%s' has type %s, expected float or double",
                           sf_in(c, 0), og_dtype_name(x->dtype));
    if (c->opset < 12 && c->n_in > 1)
        return og_node_err(c->node, OG_ERR_INVALID_GRAPH, "ratio and training_mode are inputs from opset 12; "
                           "opset %d takes one input", c->opset);
    if (c->n_in > 1 && c->in[1] && c->in[1]->dtype != OG_UNDEFINED && c->in[1]->dtype != OG_FLOAT &&
        c->in[1]->dtype != OG_DOUBLE)
        return og_node_err(c->node, OG_ERR_SHAPE, "input ratio '%s' has type %s, expected float or double",
                           sf_in(c, 1), og_dtype_name(c->in[1]->dtype));
    if (c->n_in > 2 && c->in[2] && c->in[2]->dtype != OG_UNDEFINED && c->in[2]->dtype != OG_BOOL)
        return og_node_err(c->node, OG_ERR_SHAPE, "input training_mode '%s' has type %s, expected bool",
                           sf_in(c, 2), og_dtype_name(c->in[2]->dtype));
    if ((st = dropout_mode_of(c->node, p, c->opset, c->n_in, c->in_value, &m)))
        return st;
    c->workspace_bytes = 0;
    if (c->out[0])
        *c->out[0] = *x;
    if (c->n_out > 1 && c->out[1]) {
        c->out[1]->dtype = c->opset < 10 ? x->dtype : OG_BOOL;
        c->out[1]->shape = x->shape;
    }
    return OG_OK;
}

/* y (may be NULL: a view) and mask (may be NULL) from x. */
#define DROPOUT_LOOP(T)                                                                     \
    do {                                                                                    \
        const T *x_ = x->data;                                                              \
        T *y_ = y ? y->data : NULL;                                                         \
        const T scale_ = (T)1 / ((T)1 - (T)m.ratio);                                         \
        for (int64_t i = 0; i < n; i++) {                                                   \
            bool keep = !m.training || mt_double(&rng) >= m.ratio;                          \
            if (y_)                                                                         \
                y_[i] = !m.training ? x_[i] : keep ? x_[i] * scale_ : (T)0;                 \
            if (mb)                                                                         \
                mb[i] = keep;                                                               \
            else if (mt_)                                                                   \
                ((T *)mt_)[i] = keep ? (T)1 : (T)0;                                         \
        }                                                                                   \
    } while (0)

static og_status dropout_run(const og_kernel_call *k)
{
    const dropout_params *p = k->params;
    const og_tensor *x = k->in[0];
    og_tensor *y = k->out[0], *mask = k->n_out > 1 ? k->out[1] : NULL;
    dropout_mode m;
    og_status st;

    if ((st = dropout_mode_of(k->node, p, k->opset, k->n_in, k->in, &m)))
        return st;
    int64_t n = x->numel;
    if ((y && y->numel != n) || (mask && mask->numel != n))
        return og_node_err(k->node, OG_ERR_INTERNAL, "outputs do not match the inferred shapes");
    /* ratio 0 keeps everything: no draws, as the reference generator */
    if (m.training && m.ratio == 0)
        m.training = false;
    mt19937 rng;
    if (m.training)
        mt_seed(&rng, run_seed_of(k->node, p->seed, k->run_seed));
    bool *mb = mask && mask->dtype == OG_BOOL ? mask->data : NULL;
    void *mt_ = mask && mask->dtype != OG_BOOL ? mask->data : NULL;
    if (x->dtype == OG_FLOAT)
        DROPOUT_LOOP(float);
    else
        DROPOUT_LOOP(double);
    return OG_OK;
}

/* A view exactly when the mode is known to be inference before running
 * (or training with ratio 0, which keeps every element unscaled). */
static bool dropout_alias_when(const og_node *node, const og_tensor *const *v)
{
    dropout_mode m;
    og_status st = dropout_mode_of(node, node->params, node->opset, node->n_inputs, v, &m);
    if (st) {
        og_err_clear();
        return false;
    }
    return m.training_known && (!m.training || (m.ratio_known && m.ratio == 0));
}

static og_status dropout_backward(og_backward_call *b)
{
    const dropout_params *p = b->params;
    dropout_mode m;
    og_status st;

    if (!b->need[0] || !b->dout[0])
        return OG_OK;
    if ((st = dropout_mode_of(b->node, p, b->opset, b->n_in, b->in_value, &m)))
        return st;
    if (m.training_known && (!m.training || (m.ratio_known && m.ratio == 0))) {
        b->din[0] = b->dout[0];
        return OG_OK;
    }
    if (b->opset < 7)   /* the gradient graph's opset-17 copy of the node would run in inference */
        return og_node_err(b->node, OG_ERR_UNSUPPORTED, "the gradient of an opset %d Dropout in training mode "
                           "(is_test = 0) is not implemented: gradient graphs are opset 17, where training is the "
                           "training_mode input", b->opset);
    og_dtype t = b->in_info[0].dtype;
    if (!m.ratio_known) {
        /* the scale needs the ratio's value: the same node (same seed, so the
         * same mask) applied to dY computes dY * mask / (1 - ratio) */
        og_attr seed = og_attr_int("seed", p->seed);
        b->din[0] = og_gb(b, "Dropout", b->n_in, (const char *const[]){ b->dout[0], b->in[1], b->n_in > 2 ? b->in[2] : NULL },
                          1, &seed);
        return og_gb_status(b);
    }
    const char *mask;
    if ((st = og_grad_forward_output(b, 1, &mask)))
        return st;
    og_attr to = og_attr_int("to", t);
    double s = t == OG_FLOAT ? (double)(1.0f / (1.0f - (float)m.ratio)) : 1.0 / (1.0 - m.ratio);
    const char *scale = og_gb_scalar(b, t, s);
    if (!m.training_known)
        scale = og_gb(b, "Where", 3, (const char *const[]){ b->in[2], scale, og_gb_scalar(b, t, 1.0) }, 0, NULL);
    b->din[0] = og_gb_mul(b, b->dout[0], og_gb_mul(b, og_gb(b, "Cast", 1, &mask, 1, &to), scale));
    return og_gb_status(b);
}

/* Training: training_mode (input 2) true. The mask comes from the seed
 * attribute and the run seed the trainer sets per step (ONNX's Dropout has
 * no per-run seed input). */
static og_status dropout_training_form(const og_node *n, og_training_form *f)
{
    (void)n;
    f->true_input = 2;
    return OG_OK;
}

const og_op og_op_dropout = {
    .name = "Dropout",
    .domain = "",
    .since_version = 1,
    .min_inputs = 1, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 2,
    .diff_inputs = 0x1,   /* ratio and training_mode have no gradient */
    .diff_outputs = 0x1,  /* the mask carries none */
    .attrs = dropout_attrs,
    .n_attrs = (int)(sizeof dropout_attrs / sizeof dropout_attrs[0]),
    .params_size = sizeof(dropout_params),
    .infer = dropout_infer,
    .run = dropout_run,
    .backward = dropout_backward,
    .alias_out0_in0 = true,   /* in inference (alias_when) the output is a view */
    .alias_when = dropout_alias_when,
    .training_form = dropout_training_form,
};
