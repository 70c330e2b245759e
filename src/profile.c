/* SPDX-License-Identifier: MIT */
/* profile.c — per-kernel profiling of compiled plans (onnxgrad/profile.h)
 * and the FLOP counts behind it (og_op.cost).
 *
 * The executor (src/exec.c run_steps) asks og_profile_thread() and the
 * plan's own profiler once per run; with one set, it takes a CLOCK_MONOTONIC
 * time before each step and calls og_profile_record after it. The first
 * event of a plan copies what every event of that plan shares (names,
 * shapes, covered nodes, bytes, FLOPs) into the profiler, keyed by the
 * plan's unique id, so an event is two times and two indices, and the
 * events outlive the plan and its graph. */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "internal.h"
#include "kernel.h"
#include "onnxgrad/profile.h"

/* ---- shared costs -------------------------------------------------------- */

int64_t og_cost_mul(int64_t a, int64_t b)
{
    int64_t r;
    return og_mul_ok(a, b, &r) ? r : INT64_MAX;
}

int64_t og_cost_add(int64_t a, int64_t b)
{
    int64_t r;
    return og_add_ok(a, b, &r) ? r : INT64_MAX;
}

int64_t og_cost_numel(const og_shape *s)
{
    int64_t n = 1;
    for (int d = 0; d < s->rank; d++)
        n = og_cost_mul(n, s->dims[d]);
    return n;
}

og_status og_cost_per_output(og_cost_call *c)
{
    c->flops = c->n_out > 0 && c->out[0] ? og_cost_numel(&c->out[0]->shape) : 0;
    return OG_OK;
}

og_status og_cost_per_input(og_cost_call *c)
{
    c->flops = c->n_in > 0 && c->in[0] ? og_cost_numel(&c->in[0]->shape) : 0;
    return OG_OK;
}

og_status og_cost_zero(og_cost_call *c)
{
    c->flops = 0;
    return OG_OK;
}

/* Node n's FLOPs from the graph's static types; -1 unknown. *bytes: its
 * input + output bytes, -1 unknown. */
static int64_t node_cost(const og_graph *g, const og_node *n, int64_t *bytes)
{
    og_tinfo ti[2 * OG_MAX_IO];
    og_cost_call c;
    memset(&c, 0, sizeof c);
    c.node = n;
    c.params = n->params;
    c.opset = n->opset;
    c.n_in = n->n_inputs < OG_MAX_IO ? n->n_inputs : OG_MAX_IO;
    c.n_out = n->n_outputs < OG_MAX_IO ? n->n_outputs : OG_MAX_IO;
    bool known = true;
    int64_t b = 0;
    for (int k = 0; k < c.n_in + c.n_out; k++) {
        int v = k < c.n_in ? n->inputs[k] : n->outputs[k - c.n_in];
        if (v < 0)
            continue;
        og_value_get(&g->values[v], &ti[k]);
        if (!og_shape_known(&ti[k].shape) || ti[k].dtype == OG_UNDEFINED) {
            known = false;
            continue;
        }
        b = og_cost_add(b, og_cost_mul(og_cost_numel(&ti[k].shape), (int64_t)og_dtype_size(ti[k].dtype)));
        if (k < c.n_in)
            c.in[k] = &ti[k];
        else
            c.out[k - c.n_in] = &ti[k];
    }
    if (bytes)
        *bytes = known ? b : -1;
    if (!known || !n->op || !n->op->cost)
        return -1;
    if (n->op->cost(&c) != OG_OK) {
        og_err_clear();
        return -1;
    }
    return c.flops < 0 ? -1 : c.flops;
}

og_status og_graph_node_cost(const og_graph *g, int k, int64_t *flops, int64_t *bytes)
{
    if (!g || !flops)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_node_cost: %s is NULL", g ? "flops" : "graph");
    if (!g->finalized)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_node_cost: the graph is not finalized");
    if (k < 0 || k >= g->n_nodes)
        return og_err(OG_ERR_INVALID_ARG, "og_graph_node_cost: node %d out of range [0, %d)", k, g->n_nodes);
    *flops = node_cost(g, &g->nodes[k], bytes);
    return OG_OK;
}

/* ---- the profiler -------------------------------------------------------- */

/* What every event of one plan step shares (owned copies). */
typedef struct prof_step {
    char *node, *op_type, *kernel;
    const char *isa;            /* static */
    char **nodes;
    int n_nodes;
    og_profile_shape *shapes;   /* inputs, then outputs */
    int64_t *dims;              /* behind shapes */
    int n_in, n_out;
    int64_t bytes, flops;
} prof_step;

typedef struct prof_plan {
    uint64_t id;
    int n_steps, n_threads;
    prof_step *steps;
} prof_plan;

typedef struct prof_event {
    int64_t t0, t1;
    int plan, step, run;
} prof_event;

struct og_profiler {
    prof_plan *plans;
    int n_plans, cap_plans;
    int last;                   /* plans[] index found last, -1 none */
    prof_event *ev;
    int n_ev, cap_ev;
    int64_t dropped;
    int runs;
};

static _Thread_local og_profiler *thread_profiler;

og_profiler *og_profile_thread(void) { return thread_profiler; }
void og_profiler_attach_thread(og_profiler *prof) { thread_profiler = prof; }

int64_t og_profile_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

og_status og_profiler_create(og_profiler **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_profiler_create: out is NULL");
    if (!(*out = og_calloc(1, sizeof **out)))
        return og_err(OG_ERR_NOMEM, "out of memory creating a profiler");
    (*out)->last = -1;
    return OG_OK;
}

static void free_step(prof_step *s)
{
    og_free(s->node);
    og_free(s->op_type);
    og_free(s->kernel);
    for (int k = 0; s->nodes && k < s->n_nodes; k++)
        og_free(s->nodes[k]);
    og_free(s->nodes);
    og_free(s->shapes);
    og_free(s->dims);
}

static void free_plan(prof_plan *pp)
{
    for (int k = 0; pp->steps && k < pp->n_steps; k++)
        free_step(&pp->steps[k]);
    og_free(pp->steps);
}

void og_profiler_clear(og_profiler *prof)
{
    if (!prof)
        return;
    for (int k = 0; k < prof->n_plans; k++)
        free_plan(&prof->plans[k]);
    og_free(prof->plans);
    og_free(prof->ev);
    memset(prof, 0, sizeof *prof);
    prof->last = -1;
}

void og_profiler_free(og_profiler *prof)
{
    if (!prof)
        return;
    if (thread_profiler == prof)
        thread_profiler = NULL;
    og_profiler_clear(prof);
    og_free(prof);
}

int og_profile_run_begin(og_profiler *prof) { return prof->runs++; }

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* The graph nodes a step computes: its node, and every node the plan
 * dropped (no step of its own) whose output the node's own inputs reach
 * through dropped nodes only, i.e. what a fused kernel computes in one go.
 * idx receives node indices, the step's node last; returns the count. */
static int covered_nodes(const og_graph *g, const og_node *n, const bool *in_plan, int *idx, int *stack,
                         bool *seen)
{
    int m = 0, top = 0;
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0)
            stack[top++] = n->inputs[k];
    while (top > 0) {
        int v = stack[--top];
        int pn = g->values[v].producer;
        if (pn < 0 || in_plan[pn] || seen[pn])
            continue;
        seen[pn] = true;
        idx[m++] = pn;
        const og_node *d = &g->nodes[pn];
        for (int k = 0; k < d->n_inputs; k++)
            if (d->inputs[k] >= 0)
                stack[top++] = d->inputs[k];
    }
    for (int k = 0; k < m; k++)
        seen[idx[k]] = false;
    qsort(idx, (size_t)m, sizeof *idx, cmp_int);
    idx[m++] = (int)(n - g->nodes);
    return m;
}

/* Copies what the events of step k of p share. */
static og_status fill_step(const og_plan *p, int k, const bool *in_plan, int *idx, int *stack, bool *seen,
                           prof_step *s)
{
    const og_graph *g = og_plan_graph(p);
    const og_node *n;
    const int *in;
    int n_in;
    bool view;
    const char *kernel = NULL;
    og_plan_step_detail(p, k, &n, &n_in, &in, &view);
    og_plan_step(p, k, NULL, NULL, &kernel);
    s->node = og_strdup(n->name);
    s->op_type = og_strdup(n->op_type);
    s->kernel = og_strdup(kernel ? kernel : "reference");
    s->isa = view ? "none" : og_isa_name(og_isa_active());
    int m = covered_nodes(g, n, in_plan, idx, stack, seen);
    s->nodes = og_calloc((size_t)m, sizeof *s->nodes);
    if (!s->node || !s->op_type || !s->kernel || !s->nodes)
        return og_err(OG_ERR_NOMEM, "out of memory profiling");
    s->n_nodes = m;
    s->flops = 0;
    for (int j = 0; j < m; j++) {
        if (!(s->nodes[j] = og_strdup(g->nodes[idx[j]].name)))
            return og_err(OG_ERR_NOMEM, "out of memory profiling");
        if (!view) {
            int64_t f = node_cost(g, &g->nodes[idx[j]], NULL);
            s->flops = s->flops < 0 || f < 0 ? -1 : og_cost_add(s->flops, f);
        }
    }
    /* shapes and bytes of what the kernel reads and writes */
    int vals[2 * OG_MAX_IO], nv = 0, total_rank = 0;
    for (int j = 0; j < n_in; j++)
        if (in[j] >= 0)
            vals[nv++] = in[j];
    s->n_in = nv;
    for (int j = 0; j < n->n_outputs && j < OG_MAX_IO; j++)
        if (n->outputs[j] >= 0)
            vals[nv++] = n->outputs[j];
    s->n_out = nv - s->n_in;
    for (int j = 0; j < nv; j++)
        total_rank += g->values[vals[j]].rank > 0 ? g->values[vals[j]].rank : 0;
    s->shapes = og_calloc((size_t)nv + 1, sizeof *s->shapes);
    s->dims = og_calloc((size_t)total_rank + 1, sizeof *s->dims);
    if (!s->shapes || !s->dims)
        return og_err(OG_ERR_NOMEM, "out of memory profiling");
    int64_t bytes = 0, *d = s->dims;
    for (int j = 0; j < nv; j++) {
        og_tinfo ti;
        og_value_get(&g->values[vals[j]], &ti);
        int r = ti.shape.rank > 0 ? ti.shape.rank : 0;
        memcpy(d, ti.shape.dims, sizeof(int64_t) * (size_t)r);
        s->shapes[j].rank = r;
        s->shapes[j].dims = d;
        d += r;
        bytes = og_cost_add(bytes, og_cost_mul(og_cost_numel(&ti.shape), (int64_t)og_dtype_size(ti.dtype)));
    }
    s->bytes = view ? 0 : bytes;
    return OG_OK;
}

/* The copies for plan p, made on its first event; -1 out of memory. */
static int plan_slot(og_profiler *prof, const og_plan *p)
{
    uint64_t id = og_plan_id(p);
    if (prof->last >= 0 && prof->plans[prof->last].id == id)
        return prof->last;
    for (int k = prof->n_plans - 1; k >= 0; k--)
        if (prof->plans[k].id == id)
            return prof->last = k;
    if (og_grow((void **)&prof->plans, &prof->cap_plans, prof->n_plans + 1, sizeof *prof->plans)) {
        og_err_clear();
        return -1;
    }
    const og_graph *g = og_plan_graph(p);
    prof_plan *pp = &prof->plans[prof->n_plans];
    memset(pp, 0, sizeof *pp);
    pp->id = id;
    pp->n_threads = og_plan_num_threads(p);
    int n_steps = og_plan_num_steps(p);
    bool *in_plan = og_calloc((size_t)g->n_nodes + 1, sizeof(bool));
    bool *seen = og_calloc((size_t)g->n_nodes + 1, sizeof(bool));
    int *idx = og_calloc((size_t)g->n_nodes + 1, sizeof(int));
    size_t stack_n = 1;
    for (int k = 0; k < g->n_nodes; k++)
        stack_n += (size_t)g->nodes[k].n_inputs;
    int *stack = og_calloc(stack_n, sizeof(int));
    og_status st = OG_OK;
    pp->steps = og_calloc((size_t)n_steps + 1, sizeof *pp->steps);
    if (!in_plan || !seen || !idx || !stack || !pp->steps)
        st = OG_ERR_NOMEM;
    for (int k = 0; st == OG_OK && k < n_steps; k++) {
        const og_node *n;
        const int *in;
        int n_in;
        bool view;
        og_plan_step_detail(p, k, &n, &n_in, &in, &view);
        in_plan[n - g->nodes] = true;
    }
    for (int k = 0; st == OG_OK && k < n_steps; k++) {
        pp->n_steps = k + 1;
        st = fill_step(p, k, in_plan, idx, stack, seen, &pp->steps[k]);
    }
    og_free(in_plan);
    og_free(seen);
    og_free(idx);
    og_free(stack);
    if (st) {
        og_err_clear();
        free_plan(pp);
        return -1;
    }
    prof->last = prof->n_plans;
    return prof->n_plans++;
}

void og_profile_record(og_profiler *prof, const og_plan *p, int k, int run, int64_t t0)
{
    int64_t t1 = og_profile_now_ns();
    int slot = plan_slot(prof, p);
    if (slot < 0 || og_grow((void **)&prof->ev, &prof->cap_ev, prof->n_ev + 1, sizeof *prof->ev)) {
        og_err_clear();
        prof->dropped++;
        return;
    }
    prof->ev[prof->n_ev++] = (prof_event){ t0, t1, slot, k, run };
}

int og_profiler_num_events(const og_profiler *prof) { return prof ? prof->n_ev : 0; }
int64_t og_profiler_num_dropped(const og_profiler *prof) { return prof ? prof->dropped : 0; }

og_status og_profiler_event(const og_profiler *prof, int k, og_profile_event *ev)
{
    if (!prof || !ev)
        return og_err(OG_ERR_INVALID_ARG, "og_profiler_event: %s is NULL", prof ? "ev" : "profiler");
    if (k < 0 || k >= prof->n_ev)
        return og_err(OG_ERR_INVALID_ARG, "og_profiler_event: event %d out of range [0, %d)", k, prof->n_ev);
    const prof_event *e = &prof->ev[k];
    const prof_plan *pp = &prof->plans[e->plan];
    const prof_step *s = &pp->steps[e->step];
    *ev = (og_profile_event){
        .start_ns = e->t0, .end_ns = e->t1, .run = e->run, .step = e->step, .tid = 0,
        .n_threads = pp->n_threads, .node = s->node, .op_type = s->op_type, .kernel = s->kernel,
        .isa = s->isa, .n_nodes = s->n_nodes, .nodes = (const char *const *)s->nodes,
        .n_inputs = s->n_in, .inputs = s->shapes, .n_outputs = s->n_out, .outputs = s->shapes + s->n_in,
        .bytes = s->bytes, .flops = s->flops,
    };
    return OG_OK;
}
