/* SPDX-License-Identifier: MIT */
/* exec.c — plans a finalized graph and runs it.
 *
 * Static graphs are compiled (see "compiled plans" below): kernels chosen
 * once, views, one arena per run state; a run binds inputs and calls
 * kernels. Graphs whose shapes are known only at run time run node by node:
 * infer, allocate, run, and release intermediates after their last reader.
 * A run state (og_run_state) holds what a run writes, so threads can run
 * one plan, each with its own. */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "internal.h"
#include "clone.h"
#include "kernel.h"

static bool shape_clashes(const og_shape *have, const og_shape *got);

/* One scheduled node of a compiled plan. */
typedef struct og_step {
    const og_node *node;
    og_status (*run)(const og_kernel_call *k);
    const char *kernel_name;
    void *state;                /* select's planned data; owned */
    size_t ws_stride;           /* workspace bytes per worker */
    int n_in;
    int in[OG_MAX_IO];          /* value indices, possibly rewired by a pattern; -1 omitted */
    bool view;                  /* output 0 is input 0's data (Reshape, Flatten, Identity) */
    bool recheck;               /* infer again each run: integer inputs known only then */
    int inplace_input;          /* output 0 may take this input's bytes; -1 never */
} og_step;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A state binding: graph input `value` is read from `tensor` (the
 * caller's), which takes graph output `output`'s value after a run. */
typedef struct run_binding {
    int value;
    int output;
    og_tensor *tensor;
} run_binding;

/* A plan compiled for one set of concrete input shapes, made when a plan
 * whose inputs have unknown dims (a symbolic batch) meets them: runs with
 * the same shapes reuse it, so only a change of shapes re-plans. p NULL:
 * these shapes still do not compile (data-dependent shapes), run node by
 * node. */
#define OG_SPECIALISED_MAX 8
typedef struct specialised {
    int64_t *key;          /* per graph input: rank, then its dims */
    size_t key_len;
    og_graph *g;           /* the graph with those input shapes, finalized */
    og_plan *p;
    int *from;             /* per value of g: the outer value bound to it, -1 none */
    unsigned long used;    /* for least-recently-used eviction */
} specialised;

/* What one run in progress holds; a plan keeps one for og_plan_run, and
 * callers running a plan from several threads make one each. */
struct og_run_state {
    const og_plan *p;
    void *workspace_raw;   /* allocation behind `workspace` */
    void *workspace;       /* 64-byte aligned */
    size_t workspace_bytes;
    og_tensor *hdr;        /* compiled: per value, the tensor a computed value lives in (data in the arena) */
    void *arena_raw;
    char *arena;
    const og_tensor **bound;   /* compiled: per value, the caller's or the graph's tensor */
    og_tensor **run_out;       /* node-by-node: the borrowed answers, one per graph output */
    run_binding *states;       /* state bindings: read as inputs, replaced by outputs after a run */
    int n_states;
    /* Plans whose inputs have unknown dims: per input shapes seen, a compiled plan. */
    specialised spec[OG_SPECIALISED_MAX];
    int n_spec;
    unsigned long spec_clock;
    const specialised *cur;    /* the one the last run used (its outputs are the run's) */
    const og_tensor **outer_bound;   /* per value of the plan's graph: what the run binds */
    int64_t *key;              /* scratch for the input shapes of a run */
};

struct og_plan {
    const og_graph *g;
    int *feeds;            /* value indices of graph inputs without initializer */
    int n_feeds;
    int *last_use;         /* per value: position in g->order of its last consumer; -1 none */
    bool *is_output;       /* per value: a graph output (never freed early) */
    size_t workspace_bytes;   /* planned kernel scratch (node by node: the static part) */
    og_run_state *rs;      /* the plan's own run state */
    int n_threads;
    bool log_time;         /* OG_LOG=time: each run prints every step's time to stderr */
    uint64_t run_seed;     /* og_plan_set_run_seed: handed to every kernel (random ops) */
    /* Compiled form, when every shape is static: steps over one arena. */
    bool compiled;
    og_step *steps;
    int n_steps;
    bool *computed;        /* per value: produced by a step of this plan */
    int *root;             /* per value: the value whose storage it shares (itself, or a view's source) */
    size_t *offset;        /* per value: place in the arena of a computed value that is its own root */
    size_t arena_bytes;
    /* Not compiled only because inputs have unknown dims: each run state
     * compiles a plan per input shapes it meets (specialised). */
    bool specialise;
    struct og_profiler *profiler;   /* og_plan_set_profiler; NULL: off */
    uint64_t id;                    /* unique per plan made (src/profile.c keys its copies by it) */
};

static void free_specialised(specialised *sp)
{
    og_plan_free(sp->p);
    og_graph_free(sp->g);
    og_free(sp->key);
    og_free(sp->from);
    memset(sp, 0, sizeof *sp);
}

void og_run_state_free(og_run_state *rs)
{
    if (!rs)
        return;
    const og_graph *g = rs->p->g;
    og_free(rs->workspace_raw);
    if (rs->hdr)
        for (int v = 0; v < g->n_values; v++)
            og_free(rs->hdr[v].name);
    og_free(rs->hdr);
    og_free(rs->arena_raw);
    og_free(rs->bound);
    for (int k = 0; rs->run_out && k < g->n_outputs; k++)
        og_tensor_free(rs->run_out[k]);
    og_free(rs->run_out);
    og_free(rs->states);
    for (int k = 0; k < rs->n_spec; k++)
        free_specialised(&rs->spec[k]);
    og_free(rs->outer_bound);
    og_free(rs->key);
    og_free(rs);
}

static void free_compiled(og_plan *p)
{
    for (int i = 0; p->steps && i < p->n_steps; i++)
        og_free(p->steps[i].state);
    og_free(p->steps);
    og_free(p->computed);
    og_free(p->root);
    og_free(p->offset);
    p->steps = NULL;
    p->n_steps = 0;
    p->computed = NULL;
    p->root = NULL;
    p->offset = NULL;
}

void og_plan_free(og_plan *p)
{
    if (!p)
        return;
    og_run_state_free(p->rs);
    og_free(p->feeds);
    og_free(p->last_use);
    og_free(p->is_output);
    free_compiled(p);
    og_free(p);
}

int og_plan_num_feeds(const og_plan *p) { return p->n_feeds; }

static og_status reserve_workspace(og_run_state *rs, size_t bytes)
{
    if (bytes <= rs->workspace_bytes && rs->workspace_raw)
        return OG_OK;
    if (bytes > SIZE_MAX - 64)
        return og_err(OG_ERR_LIMIT, "kernel workspace of %zu bytes is too large", bytes);
    void *raw = og_malloc(bytes + 64);
    if (!raw)
        return og_err(OG_ERR_NOMEM, "out of memory reserving %zu bytes of kernel workspace", bytes);
    og_free(rs->workspace_raw);
    rs->workspace_raw = raw;
    rs->workspace = (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    rs->workspace_bytes = bytes;
    return OG_OK;
}

static size_t tensor_bytes(const og_tensor *t) { return t ? (size_t)t->numel * og_dtype_size(t->dtype) : 0; }

static og_status over_budget(const og_node *n, size_t live, size_t need, size_t ws, int64_t limit)
{
    return og_err(OG_ERR_LIMIT, "node '%s' (%s): running needs %zu bytes of tensors alive at once plus %zu "
                  "bytes of kernel workspace, over the plan memory limit of %lld bytes "
                  OG_LIMIT_HINT("plan-bytes", "PLAN_BYTES"),
                  n->name, n->op_type, live + need, ws, (long long)limit);
}

/* Bytes of a value's tensor when its shape is known statically; false if not. */
static bool static_bytes(const og_value *val, size_t *bytes)
{
    og_tinfo ti;
    og_value_get(val, &ti);
    if (ti.dtype == OG_UNDEFINED || !og_shape_known(&ti.shape))
        return false;
    return og_tensor_nbytes(ti.dtype, ti.shape.rank, ti.shape.dims, NULL, bytes) == OG_OK;
}

/* Replays the run's allocations (outputs made, inputs released after their
 * last use) on static shapes, so a graph that cannot fit the budget is
 * refused before anything runs. Graphs with unknown shapes are checked
 * node by node in og_plan_run instead. */
static og_status check_static_budget(const og_plan *p, size_t ws)
{
    const og_graph *g = p->g;
    int64_t limit = og_limit_get(OG_LIMIT_PLAN_BYTES);
    size_t live = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        size_t need = 0, b;
        for (int k = 0; k < n->n_outputs; k++) {
            if (n->outputs[k] < 0)
                continue;
            if (!static_bytes(&g->values[n->outputs[k]], &b))
                return OG_OK;
            need = need + b < need ? SIZE_MAX : need + b;
        }
        if (live > SIZE_MAX - need || live + need > (uint64_t)limit || ws > (uint64_t)limit - (live + need))
            return over_budget(n, live, need, ws, limit);
        live += need;
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            bool again = false;   /* a value read twice (Mul(t, t)) is released once */
            for (int j = 0; j < k && !again; j++)
                again = n->inputs[j] == v;
            if (v >= 0 && !again && p->last_use[v] == i && !p->is_output[v] && !g->values[v].initializer
                && !g->values[v].is_input && static_bytes(&g->values[v], &b))
                live -= b;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v >= 0 && p->last_use[v] < 0 && !p->is_output[v] && static_bytes(&g->values[v], &b))
                live -= b;
        }
    }
    return OG_OK;
}

/* ---- compiled plans ------------------------------------------------------
 * With every shape static, planning does once what a run would redo: it
 * infers each node, lets patterns and the op pick a kernel, drops nodes a
 * fused kernel made unneeded, and lays every intermediate out in one arena
 * by lifetime. A run then only binds inputs and calls kernels: no
 * inference, allocation or zero-fill. */

#define ARENA_ALIGN 64

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); }

/* Free blocks of the arena being laid out, sorted by offset. */
typedef struct free_list {
    size_t *off, *len;
    int n, cap;
    size_t end;   /* arena size so far */
} free_list;

static og_status fl_reserve(free_list *f)
{
    if (f->n < f->cap)
        return OG_OK;
    int cap = f->cap ? 2 * f->cap : 64;
    size_t *o = og_realloc(f->off, sizeof(size_t) * (size_t)cap);
    if (!o)
        return og_err(OG_ERR_NOMEM, "out of memory planning the arena");
    f->off = o;
    size_t *l = og_realloc(f->len, sizeof(size_t) * (size_t)cap);
    if (!l)
        return og_err(OG_ERR_NOMEM, "out of memory planning the arena");
    f->len = l;
    f->cap = cap;
    return OG_OK;
}

/* Best fit among the free blocks, else the arena's end grows. */
static size_t fl_alloc(free_list *f, size_t n)
{
    int best = -1;
    for (int i = 0; i < f->n; i++)
        if (f->len[i] >= n && (best < 0 || f->len[i] < f->len[best]))
            best = i;
    if (best < 0) {
        /* a free block at the very end can be extended */
        if (f->n && f->off[f->n - 1] + f->len[f->n - 1] == f->end) {
            size_t o = f->off[f->n - 1];
            f->end = o + n;
            f->n--;
            return o;
        }
        size_t o = f->end;
        f->end += n;
        return o;
    }
    size_t o = f->off[best];
    f->off[best] += n;
    f->len[best] -= n;
    if (f->len[best] == 0) {
        memmove(&f->off[best], &f->off[best + 1], sizeof(size_t) * (size_t)(f->n - best - 1));
        memmove(&f->len[best], &f->len[best + 1], sizeof(size_t) * (size_t)(f->n - best - 1));
        f->n--;
    }
    return o;
}

static og_status fl_free(free_list *f, size_t off, size_t n)
{
    og_status st = fl_reserve(f);
    if (st)
        return st;
    int i = 0;
    while (i < f->n && f->off[i] < off)
        i++;
    memmove(&f->off[i + 1], &f->off[i], sizeof(size_t) * (size_t)(f->n - i));
    memmove(&f->len[i + 1], &f->len[i], sizeof(size_t) * (size_t)(f->n - i));
    f->off[i] = off;
    f->len[i] = n;
    f->n++;
    /* coalesce with the neighbours */
    if (i + 1 < f->n && f->off[i] + f->len[i] == f->off[i + 1]) {
        f->len[i] += f->len[i + 1];
        memmove(&f->off[i + 1], &f->off[i + 2], sizeof(size_t) * (size_t)(f->n - i - 2));
        memmove(&f->len[i + 1], &f->len[i + 2], sizeof(size_t) * (size_t)(f->n - i - 2));
        f->n--;
    }
    if (i > 0 && f->off[i - 1] + f->len[i - 1] == f->off[i]) {
        f->len[i - 1] += f->len[i];
        memmove(&f->off[i], &f->off[i + 1], sizeof(size_t) * (size_t)(f->n - i - 1));
        memmove(&f->len[i], &f->len[i + 1], sizeof(size_t) * (size_t)(f->n - i - 1));
        f->n--;
    }
    return OG_OK;
}

static size_t value_bytes(const og_graph *g, int v)
{
    og_tinfo ti;
    size_t bytes = 0;
    og_value_get(&g->values[v], &ti);
    og_tensor_nbytes(ti.dtype, ti.shape.rank, ti.shape.dims, NULL, &bytes);
    return bytes;
}

/* A node's inputs as the graph knows them before running (types, and data
 * fixed by then), and its output slots, for og_node_infer; true when every
 * input shape is known. */
static bool static_node_call(const og_graph *g, const og_node *n, og_tinfo *ins, const og_tinfo **in,
                             const og_tensor **vals, og_tinfo *outs, og_tinfo **out)
{
    bool known = true;
    for (int k = 0; k < n->n_inputs; k++) {
        in[k] = NULL;
        vals[k] = NULL;
        if (n->inputs[k] >= 0) {
            og_value_get(&g->values[n->inputs[k]], &ins[k]);
            in[k] = &ins[k];
            vals[k] = og_value_data(&g->values[n->inputs[k]]);
            known = known && og_shape_known(&ins[k].shape);
        }
    }
    for (int k = 0; k < n->n_outputs; k++)
        out[k] = n->outputs[k] >= 0 ? &outs[k] : NULL;
    return known;
}

/* Forgets what a select that did not apply may have left. */
static void reset_choice(og_select_call *s)
{
    og_free(s->state);
    s->state = NULL;
    s->new_n_in = 0;
    s->inplace_input = -1;
}

static bool default_domain(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

/* Lets the patterns rooted at the node's op, then the op itself, choose a
 * kernel for these static shapes. */
static og_status select_kernel(og_plan *p, const og_node *n, const og_tinfo *in, const og_tinfo *out,
                               const int *readers, og_step *step)
{
    const og_graph *g = p->g;
    og_select_call s;
    memset(&s, 0, sizeof s);
    s.g = g;
    s.node = n;
    s.params = n->params;
    s.opset = n->opset;
    s.n_in = n->n_inputs;
    s.n_out = n->n_outputs;
    s.n_threads = p->n_threads;
    s.readers = readers;
    s.inplace_input = -1;
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0) {
            s.in[k] = &in[k];
            s.in_value[k] = og_value_data(&g->values[n->inputs[k]]);
        }
    for (int k = 0; k < n->n_outputs; k++)
        s.out[k] = n->outputs[k] >= 0 ? &out[k] : NULL;
    og_status st = OG_OK;
    for (int k = 0; !s.run && (st == OG_OK) && og_pattern_at(k); k++) {
        const og_pattern *pt = og_pattern_at(k);
        if (default_domain(n->domain) && strcmp(pt->root_op, n->op_type) == 0) {
            st = pt->select(&s);
            if (!s.run)
                reset_choice(&s);
        }
    }
    if (st == OG_OK && !s.run && n->op->select) {
        st = n->op->select(&s);
        if (!s.run)
            reset_choice(&s);
    }
    if (st) {
        og_free(s.state);
        return st;
    }
    if (s.run) {
        step->run = s.run;
        step->kernel_name = s.kernel_name ? s.kernel_name : "fast";
        step->state = s.state;
        step->ws_stride = s.workspace_bytes;
        step->inplace_input = s.inplace_input;
        if (s.new_n_in > 0) {
            step->n_in = s.new_n_in;
            for (int k = 0; k < s.new_n_in; k++)
                step->in[k] = s.new_inputs[k];
        }
    }
    return OG_OK;
}

/* Builds the compiled form; *ok false (and OG_OK) when some shape is not
 * static, so runs take the node-by-node path. */
static og_status compile(og_plan *p, bool *ok)
{
    const og_graph *g = p->g;
    int nv = g->n_values;
    *ok = false;
    for (int v = 0; v < nv; v++) {
        og_tinfo ti;
        og_value_get(&g->values[v], &ti);
        if (ti.dtype == OG_UNDEFINED || !og_shape_known(&ti.shape) || og_dtype_size(ti.dtype) == 0)
            return OG_OK;
    }
    og_status st = OG_OK;
    int *readers = og_calloc((size_t)nv + 1, sizeof(int));
    int *last = og_calloc((size_t)nv + 1, sizeof(int));
    size_t *off = p->offset = og_calloc((size_t)nv + 1, sizeof(size_t));
    bool *live_node = og_calloc((size_t)g->n_nodes + 1, sizeof(bool));
    bool *needed = og_calloc((size_t)nv + 1, sizeof(bool));
    free_list fl = { 0 };
    p->steps = og_calloc((size_t)g->n_nodes + 1, sizeof(og_step));
    p->computed = og_calloc((size_t)nv + 1, sizeof(bool));
    p->root = og_calloc((size_t)nv + 1, sizeof(int));
    if (!readers || !last || !off || !live_node || !needed || !p->steps || !p->computed || !p->root) {
        st = og_err(OG_ERR_NOMEM, "out of memory compiling a plan");
        goto done;
    }
    p->n_steps = g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[g->order[i]].n_inputs; k++)
            if (g->nodes[g->order[i]].inputs[k] >= 0)
                readers[g->nodes[g->order[i]].inputs[k]]++;
    for (int k = 0; k < g->n_outputs; k++)
        readers[g->outputs[k]]++;

    /* kernels; OG_KERNELS=reference keeps every op's own (the oracle the
     * fast and fused paths are tested against) */
    size_t ws_max = 0;
    const char *kern_env = getenv("OG_KERNELS");
    bool reference_only = kern_env && strcmp(kern_env, "reference") == 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        og_step *step = &p->steps[i];
        og_tinfo in[OG_MAX_IO], out[OG_MAX_IO];
        const og_tinfo *inp[OG_MAX_IO] = { 0 };
        const og_tensor *vals[OG_MAX_IO] = { 0 };
        og_tinfo *outp[OG_MAX_IO] = { 0 };
        step->node = n;
        step->n_in = n->n_inputs;
        for (int k = 0; k < n->n_inputs; k++)
            step->in[k] = n->inputs[k];
        static_node_call(g, n, in, inp, vals, out, outp);
        size_t ws = 0;
        if ((st = og_node_infer(g, n, inp, vals, outp, &ws)))
            goto done;
        for (int k = 0; k < n->n_outputs; k++) {
            og_tinfo have;
            if (!outp[k])
                continue;
            og_value_get(&g->values[n->outputs[k]], &have);
            if (!og_shape_known(&out[k].shape) || out[k].dtype != have.dtype || shape_clashes(&have.shape, &out[k].shape))
                goto done;   /* not static after all: run node by node */
        }
        /* integer data fed or computed at run time (shapes, axes, pads) may
         * contradict the shapes planned from the graph: such a node is
         * inferred again on every run, as the node-by-node path does */
        for (int k = 0; k < n->n_inputs; k++)
            step->recheck = step->recheck ||
                            (n->inputs[k] >= 0 && !vals[k] && (in[k].dtype == OG_INT64 || in[k].dtype == OG_INT32));
        step->run = n->op->run;
        step->kernel_name = "reference";
        step->inplace_input = -1;
        step->ws_stride = ws;
        step->view = n->op->alias_out0_in0 && n->n_outputs >= 1 && n->outputs[0] >= 0 && n->inputs[0] >= 0 &&
                     in[0].dtype == out[0].dtype && (!n->op->alias_when || n->op->alias_when(n, vals));
        if (!step->view && !reference_only && (st = select_kernel(p, n, in, out, readers, step)))
            goto done;
        size_t need = step->run == n->op->run ? ws : step->ws_stride * (size_t)p->n_threads;
        if (need > ws_max)
            ws_max = need;
    }

    /* drop what no graph output needs, given the rewired inputs */
    for (int k = 0; k < g->n_outputs; k++)
        needed[g->outputs[k]] = true;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const og_node *n = p->steps[i].node;
        for (int k = 0; k < n->n_outputs && !live_node[i]; k++)
            live_node[i] = n->outputs[k] >= 0 && needed[n->outputs[k]];
        if (live_node[i])
            for (int k = 0; k < p->steps[i].n_in; k++)
                if (p->steps[i].in[k] >= 0)
                    needed[p->steps[i].in[k]] = true;
    }
    int m = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (live_node[i])
            p->steps[m++] = p->steps[i];
        else
            og_free(p->steps[i].state);
    }
    p->n_steps = m;

    /* storage: views share their source's; lifetimes end at the last reader */
    for (int v = 0; v < nv; v++) {
        p->root[v] = v;
        last[v] = -1;
    }
    for (int i = 0; i < p->n_steps; i++) {
        const og_step *step = &p->steps[i];
        for (int k = 0; k < step->node->n_outputs; k++) {
            int v = step->node->outputs[k];
            if (v < 0)
                continue;
            p->computed[v] = true;
            last[v] = i;
            if (k == 0 && step->view)
                p->root[v] = p->root[step->in[0]];
        }
        for (int k = 0; k < step->n_in; k++)
            if (step->in[k] >= 0)
                last[p->root[step->in[k]]] = i;
    }
    for (int v = 0; v < nv; v++)
        if (p->root[v] != v && last[v] > last[p->root[v]])
            last[p->root[v]] = last[v];
    for (int k = 0; k < g->n_outputs; k++)
        last[p->root[g->outputs[k]]] = p->n_steps;   /* read by the caller */

    for (int i = 0; i < p->n_steps; i++) {
        const og_step *step = &p->steps[i];
        const og_node *n = step->node;
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0 || p->root[v] != v)
                continue;
            og_tinfo ti;
            size_t bytes;
            og_value_get(&g->values[v], &ti);
            if ((st = og_tensor_nbytes(ti.dtype, ti.shape.rank, ti.shape.dims, NULL, &bytes)))
                goto done;
            int src = k == 0 && step->inplace_input >= 0 && step->inplace_input < step->n_in
                      ? step->in[step->inplace_input] : -1;
            if (src >= 0 && p->computed[src] && p->root[src] == src && last[src] == i &&
                value_bytes(g, src) == bytes) {
                off[v] = off[src];   /* the output takes over the bytes of the input that dies here */
                last[src] = -2;
                continue;
            }
            off[v] = fl_alloc(&fl, align_up(bytes ? bytes : 1));
        }
        /* free what this step read or wrote for the last time */
        for (int k = 0; k < n->n_outputs + step->n_in; k++) {
            int v = k < n->n_outputs ? n->outputs[k] : step->in[k - n->n_outputs];
            if (v < 0 || !p->computed[v] || p->root[v] != v || last[v] != i)
                continue;
            size_t bytes = value_bytes(g, v);
            last[v] = -2;   /* freed once even if read twice */
            if ((st = fl_free(&fl, off[v], align_up(bytes ? bytes : 1))))
                goto done;
        }
    }
    /* check_static_budget has held the tensors to OG_LIMIT_PLAN_BYTES; the
     * arena adds only alignment and what lifetimes leave unfilled */
    p->arena_bytes = fl.end;
    p->workspace_bytes = ws_max;
    *ok = true;
    p->log_time = getenv("OG_LOG") && strstr(getenv("OG_LOG"), "time");
    if (getenv("OG_LOG") && strstr(getenv("OG_LOG"), "plan")) {
        fprintf(stderr, "onnxgrad plan: %d of %d nodes, arena %zu bytes, workspace %zu bytes, %d threads, isa %s\n",
                p->n_steps, g->n_nodes, p->arena_bytes, p->workspace_bytes, p->n_threads,
                og_isa_name(og_isa_active()));
        for (int i = 0; i < p->n_steps; i++)
            fprintf(stderr, "onnxgrad plan:   node '%s' (%s): %s\n", p->steps[i].node->name,
                    p->steps[i].node->op_type, p->steps[i].view ? "view" : p->steps[i].kernel_name);
    }
done:
    if (!*ok)
        free_compiled(p);
    og_free(readers);
    og_free(last);
    og_free(live_node);
    og_free(needed);
    og_free(fl.off);
    og_free(fl.len);
    return st;
}

og_status og_run_state_create(const og_plan *p, og_run_state **out)
{
    if (!p || !out)
        return og_err(OG_ERR_INVALID_ARG, "og_run_state_create: NULL argument");
    *out = NULL;
    const og_graph *g = p->g;
    og_run_state *rs = og_calloc(1, sizeof *rs);
    if (!rs)
        return og_err(OG_ERR_NOMEM, "out of memory creating a run state");
    rs->p = p;
    og_status st = reserve_workspace(rs, p->workspace_bytes);
    if (st == OG_OK && p->compiled) {
        int nv = g->n_values;
        rs->hdr = og_calloc((size_t)nv + 1, sizeof(og_tensor));
        rs->bound = og_calloc((size_t)nv + 1, sizeof(og_tensor *));
        rs->arena_raw = og_malloc(p->arena_bytes + ARENA_ALIGN);
        if (!rs->hdr || !rs->bound || !rs->arena_raw)
            st = og_err(OG_ERR_NOMEM, "out of memory allocating a run's arena of %zu bytes", p->arena_bytes);
        else
            rs->arena = (char *)(((uintptr_t)rs->arena_raw + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
        for (int v = 0; st == OG_OK && v < nv; v++) {
            if (!p->computed[v])
                continue;
            og_tinfo ti;
            og_value_get(&g->values[v], &ti);
            og_tensor *t = &rs->hdr[v];
            t->dtype = ti.dtype;
            t->rank = ti.shape.rank;
            memcpy(t->dims, ti.shape.dims, sizeof(int64_t) * (size_t)ti.shape.rank);
            og_tensor_nbytes(ti.dtype, ti.shape.rank, ti.shape.dims, &t->numel, NULL);
            t->data = p->root[v] == v ? rs->arena + p->offset[v] : NULL;   /* views: set when their step runs */
        }
        for (int k = 0; st == OG_OK && k < g->n_outputs; k++) {
            int v = g->outputs[k];
            if (p->computed[v])
                st = og_tensor_set_name(&rs->hdr[v], g->values[v].name);
        }
    } else if (st == OG_OK && !(rs->run_out = og_calloc((size_t)g->n_outputs + 1, sizeof *rs->run_out))) {
        st = og_err(OG_ERR_NOMEM, "out of memory creating a run state");
    }
    if (st == OG_OK && p->specialise &&
        (!(rs->outer_bound = og_calloc((size_t)g->n_values + 1, sizeof *rs->outer_bound)) ||
         !(rs->key = og_calloc((size_t)g->n_inputs * (OG_MAX_RANK + 1) + 1, sizeof *rs->key))))
        st = og_err(OG_ERR_NOMEM, "out of memory creating a run state");
    if (st) {
        og_run_state_free(rs);
        return st;
    }
    *out = rs;
    return OG_OK;
}

og_status og_plan_create(const og_graph *g, og_plan **out)
{
    return og_plan_create_ex(g, NULL, out);
}

og_status og_plan_create_ex(const og_graph *g, const og_plan_options *opts, og_plan **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_plan_create: out is NULL");
    *out = NULL;
    if (!g || !g->finalized)
        return og_err(OG_ERR_INVALID_ARG, "og_plan_create: the graph is not finalized (call og_graph_finalize)");
    og_status st = og_isa_check();
    if (st)
        return st;
    if (opts && (opts->n_threads < 0 || opts->n_threads > OG_MAX_THREADS))
        return og_err(OG_ERR_INVALID_ARG, "og_plan_create: n_threads is %d, expected 0 (default) to %d",
                      opts->n_threads, OG_MAX_THREADS);
    og_plan *p = og_calloc(1, sizeof *p);
    if (!p)
        return og_err(OG_ERR_NOMEM, "out of memory creating a plan");
    p->g = g;
    static uint64_t plan_ids;
    p->id = __atomic_add_fetch(&plan_ids, 1, __ATOMIC_RELAXED);
    p->n_threads = opts && opts->n_threads > 0 ? opts->n_threads : og_default_threads();
    p->feeds = og_calloc((size_t)g->n_inputs + 1, sizeof(int));
    p->last_use = og_calloc((size_t)g->n_values + 1, sizeof(int));
    p->is_output = og_calloc((size_t)g->n_values + 1, sizeof(bool));
    if (!p->feeds || !p->last_use || !p->is_output) {
        og_plan_free(p);
        return og_err(OG_ERR_NOMEM, "out of memory creating a plan");
    }
    for (int k = 0; k < g->n_inputs; k++)
        if (!g->values[g->inputs[k]].initializer)
            p->feeds[p->n_feeds++] = g->inputs[k];
    for (int v = 0; v < g->n_values; v++)
        p->last_use[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                p->last_use[n->inputs[k]] = i;
    }
    for (int k = 0; k < g->n_outputs; k++)
        p->is_output[g->outputs[k]] = true;
    /* Size the workspace now when shapes are static; runs grow it if needed. */
    size_t ws = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        const og_tinfo *in[OG_MAX_IO] = { 0 };
        const og_tensor *vals[OG_MAX_IO] = { 0 };
        og_tinfo ins[OG_MAX_IO], outs[OG_MAX_IO], *o[OG_MAX_IO] = { 0 };
        size_t need = 0;
        if (static_node_call(g, n, ins, in, vals, outs, o) && og_node_infer(g, n, in, vals, o, &need) == OG_OK &&
            need > ws)
            ws = need;
    }
    st = check_static_budget(p, ws);
    bool compiled = false;
    if (st == OG_OK && (st = compile(p, &compiled)) == OG_OK) {
        p->compiled = compiled;
        for (int k = 0; !compiled && k < g->n_inputs; k++) {
            og_tinfo ti;
            og_value_get(&g->values[g->inputs[k]], &ti);
            p->specialise = p->specialise || !og_shape_known(&ti.shape);
        }
        if (!compiled)
            p->workspace_bytes = ws;
        st = og_run_state_create(p, &p->rs);
    }
    if (st) {
        og_plan_free(p);
        return st;
    }
    *out = p;
    return OG_OK;
}

/* A shape the graph holds (dims < 0 unknown, rank < 0 unknown) against a
 * concrete one. */
static bool shape_clashes(const og_shape *have, const og_shape *got)
{
    bool clash = have->rank >= 0 && have->rank != got->rank;
    for (int k = 0; !clash && have->rank >= 0 && k < got->rank; k++)
        clash = have->dims[k] >= 0 && have->dims[k] != got->dims[k];
    return clash;
}

static og_status check_feed(const og_value *val, const og_tensor *t)
{
    char a[OG_SHAPE_STR_MAX], b[OG_SHAPE_STR_MAX];
    /* The caller may have filled the struct by hand: trust nothing in it. */
    int64_t numel;
    if (t->rank < 0 || t->rank > OG_MAX_RANK)
        return og_err(OG_ERR_INVALID_ARG, "input '%s': tensor rank %d is outside 0..%d", val->name, t->rank,
                      OG_MAX_RANK);
    if (og_tensor_nbytes(t->dtype, t->rank, t->dims, &numel, NULL))
        return og_err_prefix("input '%s': ", val->name);
    if (numel != t->numel)
        return og_err(OG_ERR_INVALID_ARG, "input '%s': tensor numel is %lld, but its dims hold %lld elements",
                      val->name, (long long)t->numel, (long long)numel);
    og_shape got = { t->rank, { 0 } };
    memcpy(got.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    og_tinfo want;
    og_value_get(val, &want);
    if (want.dtype != OG_UNDEFINED && want.dtype != t->dtype)
        return og_err(OG_ERR_SHAPE, "input '%s': got a %s tensor, expected %s", val->name, og_dtype_name(t->dtype),
                      og_dtype_name(want.dtype));
    if (shape_clashes(&want.shape, &got))
        return og_err(OG_ERR_SHAPE, "input '%s': got shape %s, expected %s", val->name, og_shape_str(&got, a, sizeof a),
                      og_shape_str(&want.shape, b, sizeof b));
    if (!t->data)
        return og_err(OG_ERR_INVALID_ARG, "input '%s': tensor has no data", val->name);
    return OG_OK;
}

/* Binds caller tensors to graph inputs: by name when the tensor's name
 * matches a graph input, else to the next unbound feed. */
static og_status bind_inputs(const og_run_state *rs, int n_inputs, const og_tensor *const *inputs,
                             const og_tensor **bound)
{
    const og_plan *p = rs->p;
    const og_graph *g = p->g;
    int next_feed = 0;
    /* The caller may have changed a bound tensor since binding: check it each run. */
    for (int k = 0; k < rs->n_states; k++) {
        og_status st = check_feed(&g->values[rs->states[k].value], rs->states[k].tensor);
        if (st)
            return og_err_prefix("run: state binding: ");
        bound[rs->states[k].value] = rs->states[k].tensor;
    }
    for (int i = 0; i < n_inputs; i++) {
        const og_tensor *t = inputs[i];
        if (!t)
            return og_err(OG_ERR_INVALID_ARG, "run: input %d is NULL", i);
        int v = t->name ? og_graph_find_value(g, t->name) : -1;
        if (v < 0 || !g->values[v].is_input) {
            while (next_feed < p->n_feeds && bound[p->feeds[next_feed]])
                next_feed++;
            if (next_feed >= p->n_feeds)
                return og_err(OG_ERR_INVALID_ARG, "run: input %d%s%s%s does not match any unbound graph input (%d expected)",
                              i, t->name ? " '" : "", t->name ? t->name : "", t->name ? "'" : "", p->n_feeds);
            v = p->feeds[next_feed];
        }
        for (int k = 0; k < rs->n_states; k++)
            if (rs->states[k].value == v)
                return og_err(OG_ERR_INVALID_ARG, "run: graph input '%s' is bound as state (updated from output "
                              "'%s'); the run reads it from its state tensor, do not pass it", g->values[v].name,
                              g->values[g->outputs[rs->states[k].output]].name);
        if (bound[v])
            return og_err(OG_ERR_INVALID_ARG, "run: graph input '%s' is bound twice", g->values[v].name);
        og_status st = check_feed(&g->values[v], t);
        if (st)
            return st;
        bound[v] = t;
    }
    for (int k = 0; k < p->n_feeds; k++)
        if (!bound[p->feeds[k]])
            return og_err(OG_ERR_INVALID_ARG, "run: graph input '%s' was not given", g->values[p->feeds[k]].name);
    for (int k = 0; k < g->n_inits; k++)
        if (!bound[g->inits[k]])
            bound[g->inits[k]] = g->values[g->inits[k]].initializer;
    return OG_OK;
}

static void tinfo_of(const og_tensor *t, og_tinfo *ti)
{
    ti->dtype = t->dtype;
    ti->shape.rank = t->rank;
    memcpy(ti->shape.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
}

/* A node's concrete output must fit what the graph says of the value (its
 * declaration merged with load-time inference): inputs with unknown dims
 * can otherwise produce an output shaped unlike the one the model declares. */
static og_status check_static_type(const og_node *n, const og_value *val, const og_tinfo *got, bool planned)
{
    char a[OG_SHAPE_STR_MAX], b[OG_SHAPE_STR_MAX];
    og_tinfo have_ti, *have = &have_ti;
    og_value_get(val, have);
    if (have->dtype != OG_UNDEFINED && have->dtype != got->dtype)
        return og_err(OG_ERR_SHAPE, "node '%s' (%s): output '%s' is %s, but the graph says %s", n->name,
                      n->op_type, val->name, og_dtype_name(got->dtype), og_dtype_name(have->dtype));
    /* A compiled plan laid its memory out for the graph's shapes: a clash is
     * fatal there. Node by node, as at finalize, the op's semantics win
     * over a declared shape. */
    if (shape_clashes(&have->shape, &got->shape) && planned)
        return og_err(OG_ERR_SHAPE, "node '%s' (%s): output '%s' has shape %s, but the graph says %s", n->name,
                      n->op_type, val->name, og_shape_str(&got->shape, a, sizeof a),
                      og_shape_str(&have->shape, b, sizeof b));
    if (shape_clashes(&have->shape, &got->shape))
        og_warn(NULL, "node '%s' (%s): output '%s' has shape %s, but the graph says %s; using %s", n->name,
                n->op_type, val->name, og_shape_str(&got->shape, a, sizeof a), og_shape_str(&have->shape, b, sizeof b),
                a);
    return OG_OK;
}

/* Node by node, for graphs whose shapes are known only at run time: infers
 * each node on the concrete shapes, allocates its outputs and releases
 * intermediates after their last reader. */
static og_status run_dynamic(og_run_state *rs, int n_inputs, const og_tensor *const *inputs, og_tensor **outputs)
{
    const og_plan *p = rs->p;
    const og_graph *g = p->g;
    for (int k = 0; k < g->n_outputs; k++)
        outputs[k] = NULL;
    const og_tensor **borrowed = og_calloc((size_t)g->n_values + 1, sizeof *borrowed);
    og_tensor **owned = og_calloc((size_t)g->n_values + 1, sizeof *owned);
    og_status st = OG_OK;
    if (!borrowed || !owned) {
        st = og_err(OG_ERR_NOMEM, "out of memory starting a run");
        goto done;
    }
    if ((st = bind_inputs(rs, n_inputs, inputs, borrowed)))
        goto done;
    int64_t limit = og_limit_get(OG_LIMIT_PLAN_BYTES);
    size_t live = 0;   /* bytes of the tensors this run holds */
    for (int i = 0; i < g->n_nodes; i++) {
        const og_node *n = &g->nodes[g->order[i]];
        og_kernel_call kc;
        og_tinfo in_ti[OG_MAX_IO], out_ti[OG_MAX_IO];
        const og_tinfo *in[OG_MAX_IO] = { 0 };
        og_tinfo *out[OG_MAX_IO] = { 0 };
        memset(&kc, 0, sizeof kc);
        kc.node = n;
        kc.params = n->params;
        kc.opset = n->opset;
        kc.run_seed = rs->p->run_seed;
        kc.n_in = n->n_inputs;
        kc.n_out = n->n_outputs;
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v < 0)
                continue;
            kc.in[k] = owned[v] ? owned[v] : borrowed[v];
            tinfo_of(kc.in[k], &in_ti[k]);
            in[k] = &in_ti[k];
        }
        for (int k = 0; k < n->n_outputs; k++)
            out[k] = n->outputs[k] >= 0 ? &out_ti[k] : NULL;
        size_t ws = 0, need = 0;
        if ((st = og_node_infer(g, n, in, kc.in, out, &ws)))
            goto done;
        for (int k = 0; k < n->n_outputs; k++)
            if (out[k] && (st = check_static_type(n, &g->values[n->outputs[k]], out[k], false)))
                goto done;
        for (int k = 0; k < n->n_outputs; k++) {
            size_t b;
            if (out[k] && og_tensor_nbytes(out_ti[k].dtype, out_ti[k].shape.rank, out_ti[k].shape.dims, NULL, &b) == OG_OK)
                need = need + b < need ? SIZE_MAX : need + b;
        }
        size_t ws_after = ws > rs->workspace_bytes ? ws : rs->workspace_bytes;
        if (live > SIZE_MAX - need || live + need > (uint64_t)limit || ws_after > (uint64_t)limit - (live + need)) {
            st = over_budget(n, live, need, ws_after, limit);
            goto done;
        }
        if ((st = reserve_workspace(rs, ws))) {
            og_err_prefix("node '%s' (%s): ", n->name, n->op_type);
            goto done;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            if (n->outputs[k] < 0)
                continue;   /* unwanted: the kernel sees NULL and skips it */
            if ((st = og_tensor_create(out_ti[k].dtype, out_ti[k].shape.rank, out_ti[k].shape.dims, &kc.out[k]))) {
                og_err_prefix("node '%s' (%s): output '%s': ", n->name, n->op_type, g->values[n->outputs[k]].name);
                for (int j = 0; j < k; j++)
                    og_tensor_free(kc.out[j]);
                goto done;
            }
        }
        kc.workspace = rs->workspace;
        kc.workspace_bytes = rs->workspace_bytes;
        kc.workspace_stride = rs->workspace_bytes;
        kc.n_threads = 1;
        st = n->op->run(&kc);
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0) {
                owned[n->outputs[k]] = kc.out[k];
                live += tensor_bytes(kc.out[k]);
            }
        if (st)
            goto done;
        /* Release what no later node reads. */
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v >= 0 && p->last_use[v] == i && !p->is_output[v] && owned[v]) {
                live -= tensor_bytes(owned[v]);
                og_tensor_free(owned[v]);
                owned[v] = NULL;
            }
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v >= 0 && p->last_use[v] < 0 && !p->is_output[v] && owned[v]) {
                live -= tensor_bytes(owned[v]);
                og_tensor_free(owned[v]);
                owned[v] = NULL;
            }
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (owned[v]) {
            outputs[k] = owned[v];
            owned[v] = NULL;
        } else if (borrowed[v]) {
            st = og_tensor_clone(borrowed[v], &outputs[k]);   /* an input or initializer passed through */
        } else {
            st = og_err(OG_ERR_INTERNAL, "run: graph output '%s' was not computed", g->values[v].name);
        }
        if (!st)
            st = og_tensor_set_name(outputs[k], g->values[v].name);
        if (st) {
            for (int j = 0; j <= k; j++) {
                og_tensor_free(outputs[j]);
                outputs[j] = NULL;
            }
            goto done;
        }
    }
done:
    if (owned)
        for (int v = 0; v < g->n_values; v++)
            og_tensor_free(owned[v]);
    og_free(owned);
    og_free(borrowed);
    return st;
}

/* Inference on the node's actual inputs must give the planned shapes. */
static og_status recheck_step(const og_run_state *rs, const og_step *step)
{
    const og_plan *p = rs->p;
    const og_node *n = step->node;
    og_tinfo in_ti[OG_MAX_IO], out_ti[OG_MAX_IO];
    const og_tinfo *in[OG_MAX_IO] = { 0 };
    const og_tensor *vals[OG_MAX_IO] = { 0 };
    og_tinfo *out[OG_MAX_IO] = { 0 };
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v < 0)
            continue;
        vals[k] = p->computed[v] ? &rs->hdr[v] : rs->bound[v];
        if (!vals[k])
            return OG_OK;   /* its producer was fused away: the fused kernel checks the data it reads */
        tinfo_of(vals[k], &in_ti[k]);
        in[k] = &in_ti[k];
    }
    for (int k = 0; k < n->n_outputs; k++)
        out[k] = n->outputs[k] >= 0 ? &out_ti[k] : NULL;
    og_status st = og_node_infer(p->g, n, in, vals, out, NULL);
    for (int k = 0; k < n->n_outputs && st == OG_OK; k++)
        if (out[k])
            st = check_static_type(n, &p->g->values[n->outputs[k]], out[k], true);
    return st;
}

/* The compiled run: bind, then one kernel call per step over the arena. */
/* The steps of a compiled plan, on inputs already in rs->bound. */
static og_status run_steps(og_run_state *rs)
{
    const og_plan *p = rs->p;
    og_status st;
    /* profiling: one branch per step when off (src/profile.c) */
    struct og_profiler *prof = p->profiler ? p->profiler : og_profile_thread();
    int prof_run = prof ? og_profile_run_begin(prof) : 0;
    for (int i = 0; i < p->n_steps; i++) {
        const og_step *step = &p->steps[i];
        const og_node *n = step->node;
        int64_t prof_t0 = prof ? og_profile_now_ns() : 0;
        og_kernel_call kc;
        memset(&kc, 0, sizeof kc);
        for (int k = 0; k < step->n_in; k++) {
            int v = step->in[k];
            if (v >= 0)
                kc.in[k] = p->computed[v] ? &rs->hdr[v] : rs->bound[v];
        }
        if (step->recheck && (st = recheck_step(rs, step)))
            return st;
        bool more = false;
        if (step->view) {
            rs->hdr[n->outputs[0]].data = kc.in[0]->data;
            for (int k = 1; k < n->n_outputs; k++)
                more = more || n->outputs[k] >= 0;
            if (!more) {
                if (prof)
                    og_profile_record(prof, p, i, prof_run, prof_t0);
                continue;   /* else the kernel writes the other outputs */
            }
        }
        kc.node = n;
        kc.params = n->params;
        kc.opset = n->opset;
        kc.n_in = step->n_in;
        kc.n_out = n->n_outputs;
        for (int k = 0; k < n->n_outputs; k++)
            kc.out[k] = n->outputs[k] >= 0 && !(k == 0 && step->view) ? &rs->hdr[n->outputs[k]] : NULL;
        kc.workspace = rs->workspace;
        kc.workspace_bytes = rs->workspace_bytes;
        kc.workspace_stride = step->ws_stride;
        kc.n_threads = p->n_threads;
        kc.state = step->state;
        kc.run_seed = p->run_seed;
        double t0 = p->log_time ? now_ms() : 0;
        if ((st = step->run(&kc)))
            return st;
        if (prof)
            og_profile_record(prof, p, i, prof_run, prof_t0);
        if (p->log_time)
            fprintf(stderr, "onnxgrad time: %9.3f ms  node '%s' (%s): %s\n", now_ms() - t0, n->name, n->op_type,
                    step->kernel_name);
    }
    return OG_OK;
}

static og_status run_compiled(og_run_state *rs, int n_inputs, const og_tensor *const *inputs)
{
    memset(rs->bound, 0, sizeof *rs->bound * (size_t)rs->p->g->n_values);
    og_status st = bind_inputs(rs, n_inputs, inputs, rs->bound);
    return st ? st : run_steps(rs);
}

/* The tensor holding graph output k after a run of rs. */
static const og_tensor *output_of(const og_run_state *rs, int k)
{
    if (rs->cur && rs->cur->p)
        return output_of(rs->cur->p->rs, k);
    int v = rs->p->g->outputs[k];
    if (!rs->p->compiled)
        return rs->run_out[k];
    return rs->p->computed[v] ? &rs->hdr[v] : rs->bound[v];
}

/* Big float initializers (weights) become inputs of a specialised graph,
 * bound to the original's tensors, instead of being copied; small ones
 * (Resize scales) stay constants that shape inference reads. */
static bool lift_weights(void *user, const char *name)
{
    const og_graph *g = user;
    int v = og_graph_find_value(g, name);
    const og_tensor *t = v >= 0 ? g->values[v].initializer : NULL;
    return t && !g->values[v].is_input && (t->dtype == OG_FLOAT || t->dtype == OG_DOUBLE) && t->numel > 64;
}

static og_status build_specialised(og_run_state *rs, specialised *sp, const int64_t *key, size_t key_len)
{
    const og_plan *p = rs->p;
    const og_graph *g = p->g;
    og_clone_options o = { .lift = lift_weights, .user = (void *)g };
    og_status st = og_graph_clone(g, &o, &sp->g);
    for (int k = 0; st == OG_OK && k < g->n_inputs; k++) {
        const og_tensor *t = rs->outer_bound[g->inputs[k]];
        int v2 = og_graph_find_value(sp->g, g->values[g->inputs[k]].name);
        og_tinfo ti = { t->dtype, { t->rank, { 0 } } };
        memcpy(ti.shape.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        st = v2 < 0 ? og_err(OG_ERR_INTERNAL, "specialising: input '%s' lost", g->values[g->inputs[k]].name)
                    : og_value_set(&sp->g->values[v2], &ti);
    }
    if (st == OG_OK && (st = og_graph_finalize(sp->g)))
        og_err_prefix("with the shapes of this run's inputs: ");
    if (st == OG_OK)
        st = og_plan_create_ex(sp->g, &(og_plan_options){ .n_threads = p->n_threads }, &sp->p);
    if (st == OG_OK && !sp->p->compiled) {   /* data-dependent shapes: node by node */
        og_plan_free(sp->p);
        og_graph_free(sp->g);
        sp->p = NULL;
        sp->g = NULL;
    }
    if (st == OG_OK && sp->g) {
        if (!(sp->from = og_calloc((size_t)sp->g->n_values + 1, sizeof(int))))
            st = og_err(OG_ERR_NOMEM, "out of memory specialising a plan");
        for (int v = 0; st == OG_OK && v < sp->g->n_values; v++)
            sp->from[v] = sp->g->values[v].is_input ? og_graph_find_value(g, sp->g->values[v].name) : -1;
    }
    if (st == OG_OK && !(sp->key = og_malloc(key_len * sizeof(int64_t) + 1)))
        st = og_err(OG_ERR_NOMEM, "out of memory specialising a plan");
    if (st) {
        free_specialised(sp);
        return st;
    }
    memcpy(sp->key, key, key_len * sizeof(int64_t));
    sp->key_len = key_len;
    return OG_OK;
}

/* A run of a plan whose inputs have unknown dims: bind, find (or make) the
 * plan compiled for these input shapes, run it on the bound tensors. */
static og_status run_specialised(og_run_state *rs, int n_inputs, const og_tensor *const *inputs)
{
    const og_plan *p = rs->p;
    const og_graph *g = p->g;
    rs->cur = NULL;
    memset(rs->outer_bound, 0, sizeof *rs->outer_bound * (size_t)g->n_values);
    og_status st = bind_inputs(rs, n_inputs, inputs, rs->outer_bound);
    if (st)
        return st;
    int64_t *key = rs->key;
    size_t len = 0;
    for (int k = 0; k < g->n_inputs; k++) {
        const og_tensor *t = rs->outer_bound[g->inputs[k]];
        key[len++] = t->rank;
        for (int d = 0; d < t->rank; d++)
            key[len++] = t->dims[d];
    }
    specialised *sp = NULL;
    for (int k = 0; k < rs->n_spec && !sp; k++)
        if (rs->spec[k].key_len == len && memcmp(rs->spec[k].key, key, len * sizeof *key) == 0)
            sp = &rs->spec[k];
    if (!sp) {
        int slot = rs->n_spec;
        if (slot == OG_SPECIALISED_MAX) {   /* evict the least recently used */
            slot = 0;
            for (int k = 1; k < rs->n_spec; k++)
                if (rs->spec[k].used < rs->spec[slot].used)
                    slot = k;
            free_specialised(&rs->spec[slot]);
        }
        if ((st = build_specialised(rs, &rs->spec[slot], key, len))) {
            if (slot < rs->n_spec) {   /* the evicted slot stays empty: move the last one in */
                rs->spec[slot] = rs->spec[rs->n_spec - 1];
                memset(&rs->spec[--rs->n_spec], 0, sizeof rs->spec[0]);
            }
            return st;
        }
        if (slot == rs->n_spec)
            rs->n_spec++;
        sp = &rs->spec[slot];
    }
    sp->used = ++rs->spec_clock;
    if (!sp->p) {
        for (int k = 0; k < g->n_outputs; k++) {
            og_tensor_free(rs->run_out[k]);
            rs->run_out[k] = NULL;
        }
        return run_dynamic(rs, n_inputs, inputs, rs->run_out);
    }
    sp->p->run_seed = p->run_seed;
    og_run_state *inner = sp->p->rs;
    const og_graph *g2 = sp->g;
    memset(inner->bound, 0, sizeof *inner->bound * (size_t)g2->n_values);
    for (int v = 0; v < g2->n_values; v++)
        if (sp->from[v] >= 0)
            inner->bound[v] = rs->outer_bound[sp->from[v]];
    for (int k = 0; k < g2->n_inits; k++)
        if (!inner->bound[g2->inits[k]])
            inner->bound[g2->inits[k]] = g2->values[g2->inits[k]].initializer;
    rs->cur = sp;
    sp->p->profiler = p->profiler;
    return run_steps(inner);
}

/* After a successful run: each state tensor takes its update output's
 * value (out[k], else output_of). Everything is checked before anything
 * is copied, so a failure changes no state. */
static og_status commit_states(og_run_state *rs, og_tensor *const *out)
{
    const og_graph *g = rs->p->g;
    for (int k = 0; k < rs->n_states; k++) {
        const run_binding *b = &rs->states[k];
        const og_tensor *src = out ? out[b->output] : output_of(rs, b->output);
        bool same = src && src->dtype == b->tensor->dtype && src->rank == b->tensor->rank;
        for (int d = 0; same && d < src->rank; d++)
            same = src->dims[d] == b->tensor->dims[d];
        if (!same) {
            char a[OG_SHAPE_STR_MAX], c[OG_SHAPE_STR_MAX];
            og_shape sa = { src ? src->rank : 0, { 0 } }, sc = { b->tensor->rank, { 0 } };
            if (src)
                memcpy(sa.dims, src->dims, sizeof(int64_t) * (size_t)src->rank);
            memcpy(sc.dims, b->tensor->dims, sizeof(int64_t) * (size_t)sc.rank);
            return og_err(OG_ERR_SHAPE, "run: output '%s' came out %s %s, but the state tensor of input '%s' "
                          "it updates is %s %s; no state was updated", g->values[g->outputs[b->output]].name,
                          src ? og_dtype_name(src->dtype) : "missing", og_shape_str(&sa, a, sizeof a),
                          g->values[b->value].name, og_dtype_name(b->tensor->dtype), og_shape_str(&sc, c, sizeof c));
        }
    }
    for (int k = 0; k < rs->n_states; k++) {
        const run_binding *b = &rs->states[k];
        const og_tensor *src = out ? out[b->output] : output_of(rs, b->output);
        if (src->data != b->tensor->data)
            memmove(b->tensor->data, src->data, (size_t)src->numel * og_dtype_size(src->dtype));
    }
    return OG_OK;
}

/* Runs into rs: afterwards output_of(rs, k) holds the outputs and the
 * states are updated. */
static og_status run_state(og_run_state *rs, int n_inputs, const og_tensor *const *inputs)
{
    og_status st;
    if (rs->p->specialise) {
        st = run_specialised(rs, n_inputs, inputs);
    } else if (rs->p->compiled) {
        st = run_compiled(rs, n_inputs, inputs);
    } else {
        const og_graph *g = rs->p->g;
        for (int k = 0; k < g->n_outputs; k++) {
            og_tensor_free(rs->run_out[k]);
            rs->run_out[k] = NULL;
        }
        st = run_dynamic(rs, n_inputs, inputs, rs->run_out);
    }
    return st ? st : commit_states(rs, NULL);
}

og_status og_run_state_bind_states(og_run_state *rs, int n, const og_state_binding *bindings)
{
    if (!rs || n < 0 || (n && !bindings))
        return og_err(OG_ERR_INVALID_ARG, "og_run_state_bind_states: NULL argument or negative count");
    const og_plan *p = rs->p;
    const og_graph *g = p->g;
    run_binding *nb = n ? og_calloc((size_t)n, sizeof *nb) : NULL;
    if (n && !nb)
        return og_err(OG_ERR_NOMEM, "out of memory binding %d states", n);
    og_status st = OG_OK;
    for (int k = 0; k < n && !st; k++) {
        const og_state_binding *b = &bindings[k];
        if (!b->state || !b->update || !b->tensor) {
            st = og_err(OG_ERR_INVALID_ARG, "state binding %d: state, update and tensor must all be set", k);
            break;
        }
        int v = og_graph_find_value(g, b->state);
        if (v < 0 || !g->values[v].is_input) {
            st = og_err(OG_ERR_INVALID_ARG, "state binding %d: '%s' is not a graph input%s", k, b->state,
                        v >= 0 && g->values[v].initializer ? " (an initializer that is not an input may be folded "
                        "into the plan: list it among the graph inputs to make it a state)" : "");
            break;
        }
        int out = -1;
        for (int j = 0; j < g->n_outputs; j++)
            if (strcmp(g->values[g->outputs[j]].name, b->update) == 0)
                out = j;
        if (out < 0) {
            st = og_err(OG_ERR_INVALID_ARG, "state binding %d: update '%s' of state '%s' is not a graph output", k,
                        b->update, b->state);
            break;
        }
        for (int j = 0; j < k; j++)
            if (nb[j].value == v)
                st = og_err(OG_ERR_INVALID_ARG, "state binding %d: state '%s' is bound twice", k, b->state);
        if (st)
            break;
        if ((st = check_feed(&g->values[v], b->tensor))) {
            og_err_prefix("state binding %d: ", k);
            break;
        }
        og_tinfo ot;
        og_value_get(&g->values[g->outputs[out]], &ot);
        if ((ot.dtype != OG_UNDEFINED && ot.dtype != b->tensor->dtype)) {
            st = og_err(OG_ERR_SHAPE, "state binding %d: update '%s' is %s, state '%s' is %s", k, b->update,
                        og_dtype_name(ot.dtype), b->state, og_dtype_name(b->tensor->dtype));
            break;
        }
        og_shape ts = { b->tensor->rank, { 0 } };
        memcpy(ts.dims, b->tensor->dims, sizeof(int64_t) * (size_t)ts.rank);
        if (shape_clashes(&ot.shape, &ts)) {
            char a[OG_SHAPE_STR_MAX], c[OG_SHAPE_STR_MAX];
            st = og_err(OG_ERR_SHAPE, "state binding %d: update '%s' has shape %s, state '%s' has %s", k, b->update,
                        og_shape_str(&ot.shape, a, sizeof a), b->state, og_shape_str(&ts, c, sizeof c));
            break;
        }
        nb[k] = (run_binding){ v, out, b->tensor };
    }
    /* A compiled output may be a view of an input: one that shows another
     * state would be overwritten before it is copied. */
    for (int k = 0; k < n && !st && p->compiled; k++) {
        int src = p->root[g->outputs[nb[k].output]];
        for (int j = 0; j < n && !st; j++)
            if (j != k && nb[j].value == src)
                st = og_err(OG_ERR_INVALID_ARG, "state binding %d: update '%s' is state '%s' of binding %d itself "
                            "(passed through), which that binding overwrites; copy it in the graph first", k,
                            bindings[k].update, bindings[j].state, j);
    }
    if (st) {
        og_free(nb);
        return st;
    }
    og_free(rs->states);
    rs->states = nb;
    rs->n_states = n;
    return OG_OK;
}

og_status og_plan_bind_states(og_plan *p, int n, const og_state_binding *bindings)
{
    if (!p)
        return og_err(OG_ERR_INVALID_ARG, "og_plan_bind_states: NULL plan");
    return og_run_state_bind_states(p->rs, n, bindings);
}

og_status og_run_state_run(og_run_state *rs, int n_inputs, const og_tensor *const *inputs,
                           const og_tensor **outputs)
{
    if (!rs || !outputs || (n_inputs && !inputs))
        return og_err(OG_ERR_INVALID_ARG, "og_run_state_run: NULL argument");
    const og_graph *g = rs->p->g;
    for (int k = 0; k < g->n_outputs; k++)
        outputs[k] = NULL;
    og_status st = run_state(rs, n_inputs, inputs);
    for (int k = 0; k < g->n_outputs && st == OG_OK; k++)
        outputs[k] = output_of(rs, k);
    return st;
}

og_status og_plan_run_borrowed(og_plan *p, int n_inputs, const og_tensor *const *inputs,
                               const og_tensor **outputs)
{
    if (!p)
        return og_err(OG_ERR_INVALID_ARG, "og_plan_run_borrowed: NULL argument");
    return og_run_state_run(p->rs, n_inputs, inputs, outputs);
}

og_status og_plan_run(og_plan *p, int n_inputs, const og_tensor *const *inputs, og_tensor **outputs)
{
    if (!p || !outputs || (n_inputs && !inputs))
        return og_err(OG_ERR_INVALID_ARG, "og_plan_run: NULL argument");
    const og_graph *g = p->g;
    for (int k = 0; k < g->n_outputs; k++)
        outputs[k] = NULL;
    if (!p->compiled && !p->specialise) {
        og_status st = run_dynamic(p->rs, n_inputs, inputs, outputs);
        if (!st && (st = commit_states(p->rs, outputs)))
            for (int k = 0; k < g->n_outputs; k++) {
                og_tensor_free(outputs[k]);
                outputs[k] = NULL;
            }
        return st;
    }
    og_status st = run_state(p->rs, n_inputs, inputs);
    for (int k = 0; k < g->n_outputs && st == OG_OK; k++) {
        if ((st = og_tensor_clone(output_of(p->rs, k), &outputs[k])) == OG_OK)
            st = og_tensor_set_name(outputs[k], g->values[g->outputs[k]].name);
        if (st) {
            for (int j = 0; j <= k; j++) {
                og_tensor_free(outputs[j]);
                outputs[j] = NULL;
            }
        }
    }
    return st;
}

og_status og_plan_run_into(og_plan *p, int n_inputs, const og_tensor *const *inputs, og_tensor *const *outputs)
{
    if (!p || !outputs || (n_inputs && !inputs))
        return og_err(OG_ERR_INVALID_ARG, "og_plan_run_into: NULL argument");
    const og_graph *g = p->g;
    for (int k = 0; k < g->n_outputs; k++) {
        og_tinfo want;
        og_value_get(&g->values[g->outputs[k]], &want);
        const og_tensor *t = outputs[k];
        bool fits = t && t->data && t->dtype == want.dtype && t->rank == want.shape.rank;
        for (int d = 0; fits && d < t->rank; d++)
            fits = want.shape.dims[d] < 0 || t->dims[d] == want.shape.dims[d];
        if (!fits) {
            char a[OG_SHAPE_STR_MAX];
            return og_err(OG_ERR_INVALID_ARG, "og_plan_run_into: output %d ('%s') must be a %s tensor of shape %s "
                          "with data", k, g->values[g->outputs[k]].name, og_dtype_name(want.dtype),
                          og_shape_str(&want.shape, a, sizeof a));
        }
    }
    og_status st = run_state(p->rs, n_inputs, inputs);
    if (st)
        return st;
    for (int k = 0; k < g->n_outputs; k++) {
        const og_tensor *t = output_of(p->rs, k);
        if (t->numel != outputs[k]->numel)
            return og_err(OG_ERR_SHAPE, "og_plan_run_into: output %d ('%s') came out with %lld elements, the "
                          "tensor given holds %lld", k, g->values[g->outputs[k]].name, (long long)t->numel,
                          (long long)outputs[k]->numel);
        memcpy(outputs[k]->data, t->data, (size_t)t->numel * og_dtype_size(t->dtype));
    }
    return OG_OK;
}

int og_plan_num_threads(const og_plan *p) { return p ? p->n_threads : 0; }

int og_plan_num_steps(const og_plan *p) { return p && p->compiled ? p->n_steps : 0; }

og_status og_plan_step(const og_plan *p, int k, const char **node, const char **op_type, const char **kernel)
{
    if (!p || k < 0 || k >= og_plan_num_steps(p))
        return og_err(OG_ERR_INVALID_ARG, "og_plan_step: step %d is out of range (the plan has %d)", k,
                      og_plan_num_steps(p));
    const og_step *s = &p->steps[k];
    if (node)
        *node = s->node->name;
    if (op_type)
        *op_type = s->node->op_type;
    if (kernel)
        *kernel = s->view ? "view" : s->kernel_name;
    return OG_OK;
}

void og_plan_set_run_seed(og_plan *p, uint64_t seed)
{
    if (p)
        p->run_seed = seed;
}

/* ---- what profiling reads (onnxgrad/profile.h, src/profile.c) ---------- */

og_status og_plan_set_profiler(og_plan *p, struct og_profiler *prof)
{
    if (!p)
        return og_err(OG_ERR_INVALID_ARG, "og_plan_set_profiler: plan is NULL");
    p->profiler = prof;
    return OG_OK;
}

og_status og_plan_memory(const og_plan *p, size_t *arena_bytes, size_t *workspace_bytes)
{
    if (!p)
        return og_err(OG_ERR_INVALID_ARG, "og_plan_memory: plan is NULL");
    if (arena_bytes)
        *arena_bytes = p->compiled ? p->arena_bytes : 0;
    if (workspace_bytes)
        *workspace_bytes = p->compiled ? p->workspace_bytes : 0;
    return OG_OK;
}

const og_graph *og_plan_graph(const og_plan *p) { return p->g; }
uint64_t og_plan_id(const og_plan *p) { return p->id; }

void og_plan_step_detail(const og_plan *p, int k, const og_node **node, int *n_in, const int **in, bool *view)
{
    const og_step *s = &p->steps[k];
    *node = s->node;
    *n_in = s->n_in;
    *in = s->in;
    *view = s->view;
}
