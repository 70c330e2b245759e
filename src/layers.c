/* SPDX-License-Identifier: MIT */
/* layers.c — the layer builder (include/onnxgrad/layers.h).
 *
 * A client of the public graph API, as user code would be: it emits nodes
 * by op type through og_graph_add_node and never reaches into the engine's
 * op table (internal.h is included only for og_err and the allocator).
 * It tracks the current tensor's shape itself, so each layer can check
 * its geometry and name the layer in the message before the graph is
 * finalized, and knows its fan-in for the initialisers.
 *
 * Each layer's node is held back until the next layer (or og_net_finish)
 * names its output: only then is it known whether the output is an
 * intermediate "<layer>.out" or the graph output. Parameters are added as
 * initializers straight away. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "onnxgrad/onnxgrad.h"

#define LAYER_NAME_MAX 32   /* "globalpool2147483647" */
#define NET_NAME_MAX 64     /* parameter names: "<layer>.running_mean" */
#define NET_MAX_IN 5        /* BatchNormalization: X, scale, B, mean, var */
#define NET_MAX_ATTRS 6

/* Layer kinds, each numbered from 1 on its own (conv1, conv2, fc1, ...). */
typedef enum net_kind {
    K_CONV, K_FC, K_BN, K_MAXPOOL, K_AVGPOOL, K_GLOBALPOOL, K_RELU, K_TANH, K_SIGMOID, K_FLATTEN, K_DROPOUT,
    K_COUNT
} net_kind;

static const char *const kind_name[K_COUNT] = {
    "conv", "fc", "bn", "maxpool", "avgpool", "globalpool", "relu", "tanh", "sigmoid", "flatten", "dropout",
};

/* The node of the last layer, waiting for its output's name. */
typedef struct net_pending {
    bool active;
    const char *op_type;                       /* a literal */
    char name[LAYER_NAME_MAX];                 /* the layer's name, also the node's */
    int n_in;
    const char *in[NET_MAX_IN];                /* in[0]: the net's current tensor; then params[k] */
    char params[NET_MAX_IN][NET_NAME_MAX];
    int n_attrs;
    og_attr attrs[NET_MAX_ATTRS];
    int64_t ints[NET_MAX_ATTRS][2 * OG_MAX_RANK];
} net_pending;

struct og_net {
    og_graph *g;
    og_status status;           /* the first error, sticky */
    char msg[1024];
    uint64_t seed;
    og_init weight_init, bias_init;
    char *input_name;
    char cur[LAYER_NAME_MAX + 8]; /* the last flushed output "<layer>.out" */
    const char *cur_name;       /* the current tensor: input_name or cur */
    int rank;                   /* of the current tensor */
    int64_t dims[OG_MAX_RANK];  /* dims[0] -1: the dynamic batch */
    int counts[K_COUNT];
    bool has_training_mode;
    net_pending pend;
};

/* ---- errors -------------------------------------------------------------- */

/* Records the net's first error, "layer 'conv2' (conv): ...", and raises it
 * for og_errmsg(). */
static void net_fail(og_net *n, og_status code, const char *layer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void net_fail(og_net *n, og_status code, const char *layer, const char *fmt, ...)
{
    if (n->status)
        return;
    int used = layer ? snprintf(n->msg, sizeof n->msg, "layer '%s': ", layer) : 0;
    if (used < 0 || (size_t)used >= sizeof n->msg)
        used = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->msg + used, sizeof n->msg - (size_t)used, fmt, ap);
    va_end(ap);
    n->status = code;
    og_err(code, "%s", n->msg);
}

/* After a graph call failed: the net keeps its status and message. */
static void net_fail_call(og_net *n, og_status st, const char *layer)
{
    net_fail(n, st, layer, "%s", og_errmsg());
}

/* ---- random numbers --------------------------------------------------------
 * splitmix64 (Steele, Lea, Flood 2014): a 64-bit counter through a mixing
 * function. One stream per tensor, seeded with seed XOR FNV-1a-64(name). */
typedef struct net_rng {
    uint64_t s;
    bool has_spare;
    double spare;
} net_rng;

static uint64_t rng_next(net_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static net_rng rng_for(uint64_t seed, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return (net_rng){ .s = seed ^ h };
}

/* U(-bound, bound): 24 random bits, u in [0, 1) exactly representable. */
static float rng_uniform(net_rng *r, double bound)
{
    double u = (double)(rng_next(r) >> 40) * 0x1p-24;
    return (float)(bound * (2.0 * u - 1.0));
}

/* N(0, std^2) by Box–Muller: u1 in (0, 1], u2 in [0, 1), both values used. */
static float rng_normal(net_rng *r, double std)
{
    if (r->has_spare) {
        r->has_spare = false;
        return (float)(std * r->spare);
    }
    double u1 = (double)((rng_next(r) >> 11) + 1) * 0x1p-53;
    double u2 = (double)(rng_next(r) >> 11) * 0x1p-53;
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = true;
    return (float)(std * rad * cos(th));
}

/* ---- the graph -------------------------------------------------------------- */

/* Emits the pending node with output `out`. */
static void flush(og_net *n, const char *out)
{
    net_pending *p = &n->pend;
    if (!p->active || n->status)
        return;
    og_status st = og_graph_add_node(n->g, p->op_type, NULL, p->name, p->n_in, p->in, 1, &out, p->n_attrs,
                                     p->attrs);
    if (st) {
        net_fail_call(n, st, p->name);
        return;
    }
    p->active = false;
}

/* Starts a layer of `kind`: emits the previous one (its output
 * "<layer>.out") and names this one in `name`. False when the net has
 * failed already. */
static bool layer_begin(og_net *n, net_kind kind, char name[LAYER_NAME_MAX])
{
    if (!n || n->status)
        return false;
    if (n->pend.active) {
        char out[LAYER_NAME_MAX + 8];
        snprintf(out, sizeof out, "%s.out", n->pend.name);
        flush(n, out);
        if (n->status)
            return false;
        memcpy(n->cur, out, sizeof out);
        n->cur_name = n->cur;
    }
    snprintf(name, LAYER_NAME_MAX, "%s%d", kind_name[kind], ++n->counts[kind]);
    return true;
}

/* Makes the layer's node the pending one, reading the current tensor. */
static net_pending *layer_node(og_net *n, const char *op_type, const char *name)
{
    net_pending *p = &n->pend;
    memset(p, 0, sizeof *p);
    p->active = true;
    p->op_type = op_type;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->in[p->n_in++] = n->cur_name;
    return p;
}

/* Adds a parameter input "<layer>.<suffix>" to the pending node. */
static const char *node_param(net_pending *p, const char *suffix)
{
    char *s = p->params[p->n_in];
    snprintf(s, NET_NAME_MAX, "%s.%s", p->name, suffix);
    p->in[p->n_in++] = s;
    return s;
}

static void node_ints(net_pending *p, const char *attr, int count, int64_t value)
{
    int64_t *v = p->ints[p->n_attrs];
    for (int k = 0; k < count; k++)
        v[k] = value;
    p->attrs[p->n_attrs++] = og_attr_ints(attr, count, v);
}

/* A parameter tensor: its shape and fans, or a constant fill. */
typedef struct param_spec {
    int rank;
    int64_t dims[OG_MAX_RANK];
    int64_t fan_in, fan_out;
    bool constant;          /* fill with `value` instead of drawing */
    float value;
} param_spec;

/* Adds initializer `name` drawn from `init` on its own stream. Torch's
 * default is the same bound for weight and bias: kaiming_uniform_ with
 * a = sqrt(5) has gain sqrt(2 / (1 + 5)), so bound = gain sqrt(3 / fan_in)
 * = 1 / sqrt(fan_in). */
static void add_param(og_net *n, const char *layer, const char *name, const param_spec *ps, og_init init)
{
    og_tensor *t = NULL;
    og_status st = og_tensor_create(OG_FLOAT, ps->rank, ps->dims, &t);
    if (st) {
        net_fail_call(n, st, layer);
        return;
    }
    float *d = t->data;
    double fi = (double)ps->fan_in, fo = (double)ps->fan_out;
    net_rng r = rng_for(n->seed, name);
    for (int64_t k = 0; k < t->numel; k++) {
        if (ps->constant) {
            d[k] = ps->value;
            continue;
        }
        switch (init) {
        case OG_INIT_TORCH_DEFAULT: d[k] = rng_uniform(&r, 1.0 / sqrt(fi)); break;
        case OG_INIT_HE_UNIFORM: d[k] = rng_uniform(&r, sqrt(6.0 / fi)); break;
        case OG_INIT_HE_NORMAL: d[k] = rng_normal(&r, sqrt(2.0 / fi)); break;
        case OG_INIT_XAVIER_UNIFORM: d[k] = rng_uniform(&r, sqrt(6.0 / (fi + fo))); break;
        case OG_INIT_XAVIER_NORMAL: d[k] = rng_normal(&r, sqrt(2.0 / (fi + fo))); break;
        case OG_INIT_ZEROS: d[k] = 0.0f; break;
        }
    }
    st = og_graph_add_initializer(n->g, name, t);
    og_tensor_free(t);
    if (st)
        net_fail_call(n, st, layer);
}

/* "[N,16,5,5]" */
static const char *shape_str(const og_net *n, char *buf, size_t size)
{
    size_t used = 0;
    buf[used++] = '[';
    for (int k = 0; k < n->rank && used + 24 < size; k++) {
        int w = n->dims[k] < 0 ? snprintf(buf + used, size - used, "%sN", k ? "," : "")
                               : snprintf(buf + used, size - used, "%s%lld", k ? "," : "", (long long)n->dims[k]);
        used += (size_t)w;
    }
    snprintf(buf + used, size - used, "]");
    return buf;
}

/* The current tensor must be [N, C, spatial...] with 1..3 spatial axes. */
static bool need_spatial(og_net *n, const char *layer, const char *what)
{
    if (n->rank >= 3 && n->rank <= 5)
        return true;
    char s[OG_SHAPE_STR_MAX];
    net_fail(n, OG_ERR_SHAPE, layer, "%s needs an [N, C, D1, ...] input with 1 to 3 spatial axes, got %d-D %s",
             what, n->rank, shape_str(n, s, sizeof s));
    return false;
}

/* Output sizes of a window over every spatial axis (floor mode); false
 * with the net failed when a window does not fit. */
static bool window_out(og_net *n, const char *layer, int kernel, int stride, int pad, int dilation,
                       int64_t *out_dims)
{
    for (int a = 2; a < n->rank; a++) {
        int64_t span = (int64_t)dilation * (kernel - 1) + 1, padded = n->dims[a] + 2 * (int64_t)pad;
        if (span > padded) {
            net_fail(n, OG_ERR_SHAPE, layer,
                     "kernel %d%s is larger than the input: spatial axis %d has %lld elements (%lld padded), "
                     "the kernel spans %lld", kernel, dilation > 1 ? " (dilated)" : "", a,
                     (long long)n->dims[a], (long long)padded, (long long)span);
            return false;
        }
        out_dims[a] = (padded - span) / stride + 1;
    }
    return true;
}

static bool check_window_args(og_net *n, const char *layer, int kernel, int stride, int pad, int dilation)
{
    if (kernel < 1 || stride < 1 || pad < 0 || dilation < 1) {
        net_fail(n, OG_ERR_INVALID_ARG, layer,
                 "kernel %d, stride %d, pad %d, dilation %d: need kernel >= 1, stride >= 1, pad >= 0, "
                 "dilation >= 1", kernel, stride, pad, dilation);
        return false;
    }
    return true;
}

/* ---- creation ------------------------------------------------------------ */

og_status og_net_create(const char *input_name, int rank, const int64_t *dims, uint64_t seed, og_net **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_net_create: out is NULL");
    *out = NULL;
    if (!input_name || !*input_name)
        return og_err(OG_ERR_INVALID_ARG, "og_net_create: the input needs a name");
    if (rank < 1 || rank > OG_MAX_RANK || !dims)
        return og_err(OG_ERR_INVALID_ARG, "og_net_create: input '%s' has rank %d; need 1..%d dims", input_name,
                      rank, OG_MAX_RANK);
    for (int k = 0; k < rank; k++)
        if (dims[k] == 0 || (k > 0 && dims[k] < 0))
            return og_err(OG_ERR_INVALID_ARG,
                          "og_net_create: input '%s' dim %d is %lld; dims must be >= 1 (dim 0 may be < 0: a "
                          "dynamic batch)", input_name, k, (long long)dims[k]);
    /* bounded by the element limit, so the builder's shape arithmetic
     * cannot overflow */
    int64_t numel = 1;
    for (int k = 0; k < rank; k++)
        if (!og_mul_ok(numel, dims[k] < 0 ? 1 : dims[k], &numel) || og_check_numel_limit(numel, "input"))
            return og_err(OG_ERR_LIMIT, "og_net_create: input '%s' (one sample) has more elements than "
                          "the limit allows " OG_LIMIT_HINT("tensor-elements", "TENSOR_ELEMENTS"), input_name);
    og_net *n = og_calloc(1, sizeof *n);
    if (!n)
        return og_err(OG_ERR_NOMEM, "og_net_create: out of memory");
    og_status st;
    const char *params[OG_MAX_RANK] = { 0 };
    int64_t d[OG_MAX_RANK];
    memcpy(d, dims, sizeof(int64_t) * (size_t)rank);
    if (d[0] < 0) {
        d[0] = -1;
        params[0] = "N";
    }
    if (!(n->input_name = og_strdup(input_name))) {
        st = og_err(OG_ERR_NOMEM, "og_net_create: out of memory");
        goto fail;
    }
    if ((st = og_graph_create(&n->g)) || (st = og_graph_set_opset(n->g, "", 17))
        || (st = og_graph_set_producer(n->g, "onnxgrad", OG_VERSION_STRING))
        || (st = og_graph_add_input(n->g, input_name, OG_FLOAT, rank, d, params)))
        goto fail;
    n->seed = seed;
    n->cur_name = n->input_name;
    n->rank = rank;
    memcpy(n->dims, d, sizeof(int64_t) * (size_t)rank);
    *out = n;
    return OG_OK;
fail:
    og_net_free(n);
    return st;
}

void og_net_free(og_net *n)
{
    if (!n)
        return;
    og_graph_free(n->g);
    og_free(n->input_name);
    og_free(n);
}

void og_net_set_init(og_net *n, og_init weights, og_init bias)
{
    if (!n || n->status)
        return;
    if ((unsigned)weights > OG_INIT_ZEROS || (unsigned)bias > OG_INIT_ZEROS) {
        net_fail(n, OG_ERR_INVALID_ARG, NULL, "og_net_set_init: unknown scheme (weights %d, bias %d)",
                 (int)weights, (int)bias);
        return;
    }
    n->weight_init = weights;
    n->bias_init = bias;
}

og_status og_net_status(const og_net *n)
{
    return n ? n->status : OG_ERR_INVALID_ARG;
}

const char *og_net_errmsg(const og_net *n)
{
    return !n ? "no net (og_net_create failed?)" : n->status ? n->msg : "";
}

og_status og_net_shape(const og_net *n, int *rank, int64_t *dims)
{
    if (!n)
        return og_err(OG_ERR_INVALID_ARG, "og_net_shape: no net (og_net_create failed?)");
    if (n->status)
        return og_err(n->status, "%s", n->msg);
    if (rank)
        *rank = n->rank;
    if (dims)
        memcpy(dims, n->dims, sizeof(int64_t) * (size_t)n->rank);
    return OG_OK;
}

/* ---- layers ---------------------------------------------------------------- */

void og_net_conv_ex(og_net *n, int64_t out_channels, int kernel, int stride, int pad, int dilation, int64_t group,
                    bool bias)
{
    char name[LAYER_NAME_MAX], p[NET_NAME_MAX];
    int64_t od[OG_MAX_RANK];
    if (!layer_begin(n, K_CONV, name) || !need_spatial(n, name, "conv")
        || !check_window_args(n, name, kernel, stride, pad, dilation))
        return;
    int64_t c = n->dims[1];
    if (out_channels < 1 || group < 1 || c % group || out_channels % group) {
        net_fail(n, OG_ERR_INVALID_ARG, name,
                 "%lld output channels in %lld groups over %lld input channels: need out_channels >= 1 and a "
                 "group count that divides both", (long long)out_channels, (long long)group, (long long)c);
        return;
    }
    if (!window_out(n, name, kernel, stride, pad, dilation, od))
        return;
    int spatial = n->rank - 2;
    param_spec w = { .rank = n->rank, .dims = { out_channels, c / group } };
    int64_t receptive = 1;
    bool ok = true;
    for (int a = 0; a < spatial; a++) {
        w.dims[2 + a] = kernel;
        ok = ok && og_mul_ok(receptive, kernel, &receptive);
    }
    if (!ok || !og_mul_ok(c / group, receptive, &w.fan_in) || !og_mul_ok(out_channels, receptive, &w.fan_out)) {
        net_fail(n, OG_ERR_SHAPE, name, "a weight of %lld x %lld x %d^%d elements overflows int64",
                 (long long)out_channels, (long long)(c / group), kernel, spatial);
        return;
    }
    snprintf(p, sizeof p, "%s.weight", name);
    add_param(n, name, p, &w, n->weight_init);
    if (bias) {
        param_spec b = { .rank = 1, .dims = { out_channels }, .fan_in = w.fan_in, .fan_out = w.fan_out };
        snprintf(p, sizeof p, "%s.bias", name);
        add_param(n, name, p, &b, n->bias_init);
    }
    if (n->status)
        return;
    net_pending *nd = layer_node(n, "Conv", name);
    node_param(nd, "weight");
    if (bias)
        node_param(nd, "bias");
    node_ints(nd, "kernel_shape", spatial, kernel);
    node_ints(nd, "strides", spatial, stride);
    node_ints(nd, "pads", 2 * spatial, pad);
    node_ints(nd, "dilations", spatial, dilation);
    nd->attrs[nd->n_attrs++] = og_attr_int("group", group);
    n->dims[1] = out_channels;
    for (int a = 2; a < n->rank; a++)
        n->dims[a] = od[a];
}

void og_net_conv(og_net *n, int64_t out_channels, int kernel, int stride, int pad)
{
    og_net_conv_ex(n, out_channels, kernel, stride, pad, 1, 1, true);
}

static void pool(og_net *n, bool max, int kernel, int stride, int pad)
{
    char name[LAYER_NAME_MAX];
    int64_t od[OG_MAX_RANK];
    if (!layer_begin(n, max ? K_MAXPOOL : K_AVGPOOL, name) || !need_spatial(n, name, max ? "maxpool" : "avgpool"))
        return;
    if (stride == 0)
        stride = kernel;
    if (!check_window_args(n, name, kernel, stride, pad, 1))
        return;
    /* PyTorch's rule: no window may lie wholly in the padding. */
    if (pad > kernel / 2) {
        net_fail(n, OG_ERR_INVALID_ARG, name, "pad %d is more than half the kernel %d", pad, kernel);
        return;
    }
    if (!window_out(n, name, kernel, stride, pad, 1, od))
        return;
    int spatial = n->rank - 2;
    net_pending *nd = layer_node(n, max ? "MaxPool" : "AveragePool", name);
    node_ints(nd, "kernel_shape", spatial, kernel);
    node_ints(nd, "strides", spatial, stride);
    node_ints(nd, "pads", 2 * spatial, pad);
    if (!max)
        nd->attrs[nd->n_attrs++] = og_attr_int("count_include_pad", 1);
    for (int a = 2; a < n->rank; a++)
        n->dims[a] = od[a];
}

void og_net_maxpool(og_net *n, int kernel, int stride) { pool(n, true, kernel, stride, 0); }
void og_net_maxpool_ex(og_net *n, int kernel, int stride, int pad) { pool(n, true, kernel, stride, pad); }
void og_net_avgpool(og_net *n, int kernel, int stride) { pool(n, false, kernel, stride, 0); }
void og_net_avgpool_ex(og_net *n, int kernel, int stride, int pad) { pool(n, false, kernel, stride, pad); }

void og_net_global_avgpool(og_net *n)
{
    char name[LAYER_NAME_MAX];
    if (!layer_begin(n, K_GLOBALPOOL, name) || !need_spatial(n, name, "global_avgpool"))
        return;
    layer_node(n, "GlobalAveragePool", name);
    for (int a = 2; a < n->rank; a++)
        n->dims[a] = 1;
}

static void activation(og_net *n, net_kind kind, const char *op_type)
{
    char name[LAYER_NAME_MAX];
    if (layer_begin(n, kind, name))
        layer_node(n, op_type, name);
}

void og_net_relu(og_net *n) { activation(n, K_RELU, "Relu"); }
void og_net_tanh(og_net *n) { activation(n, K_TANH, "Tanh"); }
void og_net_sigmoid(og_net *n) { activation(n, K_SIGMOID, "Sigmoid"); }

void og_net_flatten(og_net *n)
{
    char name[LAYER_NAME_MAX], s[OG_SHAPE_STR_MAX];
    if (!layer_begin(n, K_FLATTEN, name))
        return;
    if (n->rank < 2) {
        net_fail(n, OG_ERR_SHAPE, name, "flatten needs an [N, ...] input of rank >= 2, got %d-D %s", n->rank,
                 shape_str(n, s, sizeof s));
        return;
    }
    int64_t f = 1;
    for (int a = 1; a < n->rank; a++)
        if (!og_mul_ok(f, n->dims[a], &f)) {
            net_fail(n, OG_ERR_SHAPE, name, "the features of %s overflow int64", shape_str(n, s, sizeof s));
            return;
        }
    net_pending *nd = layer_node(n, "Flatten", name);
    nd->attrs[nd->n_attrs++] = og_attr_int("axis", 1);
    n->rank = 2;
    n->dims[1] = f;
}

void og_net_dense_ex(og_net *n, int64_t out_features, bool bias)
{
    char name[LAYER_NAME_MAX], p[NET_NAME_MAX], s[OG_SHAPE_STR_MAX];
    if (!layer_begin(n, K_FC, name))
        return;
    if (n->rank != 2) {
        net_fail(n, OG_ERR_SHAPE, name, "dense needs an [N, features] input, got %d-D %s%s", n->rank,
                 shape_str(n, s, sizeof s), n->rank > 2 ? ": og_net_flatten first" : "");
        return;
    }
    if (out_features < 1) {
        net_fail(n, OG_ERR_INVALID_ARG, name, "out_features is %lld; need >= 1", (long long)out_features);
        return;
    }
    int64_t in = n->dims[1];
    param_spec w = { .rank = 2, .dims = { out_features, in }, .fan_in = in, .fan_out = out_features };
    snprintf(p, sizeof p, "%s.weight", name);
    add_param(n, name, p, &w, n->weight_init);
    if (bias) {
        param_spec b = { .rank = 1, .dims = { out_features }, .fan_in = in, .fan_out = out_features };
        snprintf(p, sizeof p, "%s.bias", name);
        add_param(n, name, p, &b, n->bias_init);
    }
    if (n->status)
        return;
    net_pending *nd = layer_node(n, "Gemm", name);
    node_param(nd, "weight");
    if (bias)
        node_param(nd, "bias");
    nd->attrs[nd->n_attrs++] = og_attr_int("transB", 1);
    n->dims[1] = out_features;
}

void og_net_dense(og_net *n, int64_t out_features) { og_net_dense_ex(n, out_features, true); }

void og_net_batchnorm(og_net *n)
{
    static const char *const suffix[4] = { "weight", "bias", "running_mean", "running_var" };
    static const float value[4] = { 1, 0, 0, 1 };
    char name[LAYER_NAME_MAX], p[NET_NAME_MAX], s[OG_SHAPE_STR_MAX];
    if (!layer_begin(n, K_BN, name))
        return;
    if (n->rank < 2) {
        net_fail(n, OG_ERR_SHAPE, name, "batchnorm needs an [N, C, ...] input, got %d-D %s", n->rank,
                 shape_str(n, s, sizeof s));
        return;
    }
    for (int k = 0; k < 4; k++) {
        param_spec ps = { .rank = 1, .dims = { n->dims[1] }, .constant = true, .value = value[k] };
        snprintf(p, sizeof p, "%s.%s", name, suffix[k]);
        add_param(n, name, p, &ps, OG_INIT_ZEROS);
    }
    if (n->status)
        return;
    net_pending *nd = layer_node(n, "BatchNormalization", name);
    for (int k = 0; k < 4; k++)
        node_param(nd, suffix[k]);
    nd->attrs[nd->n_attrs++] = og_attr_float("epsilon", 1e-5f);
    nd->attrs[nd->n_attrs++] = og_attr_float("momentum", 0.9f);
    nd->attrs[nd->n_attrs++] = og_attr_int("training_mode", 0);
}

void og_net_dropout(og_net *n, float ratio)
{
    char name[LAYER_NAME_MAX], rname[NET_NAME_MAX];
    og_tensor *t = NULL;
    og_status st;
    if (!layer_begin(n, K_DROPOUT, name))
        return;
    if (!(ratio >= 0.0f && ratio < 1.0f)) {
        net_fail(n, OG_ERR_INVALID_ARG, name, "ratio %g is not a drop probability in [0, 1)", (double)ratio);
        return;
    }
    /* One "training_mode" input, false unless fed, for every dropout. */
    if (!n->has_training_mode) {
        if ((st = og_graph_add_input(n->g, "training_mode", OG_BOOL, 0, NULL, NULL))
            || (st = og_tensor_create(OG_BOOL, 0, NULL, &t)) || (st = og_graph_add_initializer(n->g, "training_mode", t))) {
            og_tensor_free(t);
            net_fail_call(n, st, name);
            return;
        }
        og_tensor_free(t);
        t = NULL;
        n->has_training_mode = true;
    }
    snprintf(rname, sizeof rname, "%s.ratio", name);
    const char *rout = rname;
    if ((st = og_tensor_create_from(OG_FLOAT, 0, NULL, &ratio, &t))) {
        net_fail_call(n, st, name);
        return;
    }
    og_attr value = og_attr_tensor("value", t);
    st = og_graph_add_node(n->g, "Constant", NULL, rname, 0, NULL, 1, &rout, 1, &value);
    og_tensor_free(t);
    if (st) {
        net_fail_call(n, st, name);
        return;
    }
    net_pending *nd = layer_node(n, "Dropout", name);
    memcpy(nd->params[1], rname, sizeof rname);
    nd->in[nd->n_in++] = nd->params[1];
    nd->in[nd->n_in++] = "training_mode";
}

/* ---- finishing ------------------------------------------------------------ */

/* The output's type as the builder tracked it, the batch named "N" as the
 * input's (torch.onnx.export's dynamic_axes do the same). */
static og_status declare_output(og_net *n, const char *name)
{
    const char *params[OG_MAX_RANK] = { 0 };
    if (n->dims[0] < 0)
        params[0] = "N";
    return og_graph_declare_value(n->g, name, OG_FLOAT, n->rank, n->dims, params);
}

og_status og_net_finish(og_net *n, const char *output_name, og_graph **out)
{
    og_status st;
    if (out)
        *out = NULL;
    if (!n)
        return og_err(OG_ERR_INVALID_ARG, "og_net_finish: no net (og_net_create failed?)");
    if (!out)
        st = og_err(OG_ERR_INVALID_ARG, "og_net_finish: out is NULL");
    else if (n->status)
        st = og_err(n->status, "%s", n->msg);
    else if (!n->pend.active)
        st = og_err(OG_ERR_INVALID_ARG, "og_net_finish: the net has no layers");
    else {
        const char *name = output_name && *output_name ? output_name : "output";
        flush(n, name);
        if (n->status)
            st = n->status;
        else if (!(st = og_graph_add_output(n->g, name)) && !(st = declare_output(n, name))
                 && !(st = og_graph_finalize(n->g))) {
            *out = n->g;
            n->g = NULL;
        }
    }
    og_net_free(n);
    return st;
}
