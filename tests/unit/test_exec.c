/* SPDX-License-Identifier: MIT */
/* Executor: binding, running, releasing intermediates, errors. */
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include "testutil.h"

static size_t live_bytes, peak_bytes;

/* Counts live bytes, with the size stored in front of each block. */
static void *count_alloc(void *u, size_t n)
{
    (void)u;
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    *p = n;
    live_bytes += n;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return (char *)p + 16;
}
static void count_free(void *u, void *q)
{
    (void)u;
    if (!q)
        return;
    size_t *p = (size_t *)((char *)q - 16);
    live_bytes -= *p;
    free(p);
}
static void *count_realloc(void *u, void *q, size_t n)
{
    if (!q)
        return count_alloc(u, n);
    size_t old = *(size_t *)((char *)q - 16);
    void *r = count_alloc(u, n);
    if (!r)
        return NULL;
    memcpy(r, q, old < n ? old : n);
    count_free(u, q);
    return r;
}

static og_graph *relu_chain(int n, int64_t len)
{
    og_graph *g;
    char a[16], b[16];
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 1, &len, NULL));
    for (int k = 0; k < n; k++) {
        snprintf(a, sizeof a, k ? "v%d" : "x", k);
        snprintf(b, sizeof b, "v%d", k + 1);
        OG_CHECK(og_graph_add_node(g, "Relu", NULL, b, 1, (const char *[]){ a }, 1, (const char *[]){ b }, 0, NULL));
    }
    OG_CHECK(og_graph_add_output(g, b));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

START_TEST(runs_and_names_outputs)
{
    og_graph *g = relu_chain(3, 4);
    og_plan *p;
    og_tensor *x, *y;
    OG_CHECK(og_plan_create(g, &p));
    ck_assert_int_eq(og_plan_num_feeds(p), 1);
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, (int64_t[]){ 4 }, (float[]){ -1, 0, 2, -3 }, &x));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y));
    ck_assert_str_eq(y->name, "v3");
    float *d = y->data;
    ck_assert(d[0] == 0 && d[1] == 0 && d[2] == 2 && d[3] == 0);
    og_tensor_free(y);
    /* A second run reuses the plan. */
    ((float *)x->data)[0] = 5;
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y));
    ck_assert(((float *)y->data)[0] == 5);
    og_tensor_free(y);
    og_tensor_free(x);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* With 64 nodes of 1 MB each, at most a few intermediates may be alive. */
START_TEST(intermediates_are_released)
{
    og_set_allocator(&(og_allocator){ count_alloc, count_realloc, count_free, NULL });
    live_bytes = peak_bytes = 0;
    enum { N = 64 };
    const int64_t len = 262144;   /* 1 MiB of float */
    og_graph *g = relu_chain(N, len);
    og_plan *p;
    og_tensor *x, *y;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, &len, &x));
    size_t before = live_bytes;
    peak_bytes = live_bytes;
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y));
    ck_assert_msg(peak_bytes - before <= 3 * (size_t)len * 4, "peak grew by %zu bytes",
                  peak_bytes - before);
    og_tensor_free(y);
    og_tensor_free(x);
    og_plan_free(p);
    og_graph_free(g);
    ck_assert_uint_eq(live_bytes, 0);
    og_set_allocator(NULL);
}
END_TEST

START_TEST(binding_by_name_and_position)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    int64_t one = 1;
    OG_CHECK(og_graph_add_input(g, "a", OG_FLOAT, 1, &one, NULL));
    OG_CHECK(og_graph_add_input(g, "b", OG_FLOAT, 1, &one, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "ra", 1, (const char *[]){ "a" }, 1, (const char *[]){ "ya" }, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "rb", 1, (const char *[]){ "b" }, 1, (const char *[]){ "yb" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "ya"));
    OG_CHECK(og_graph_add_output(g, "yb"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    og_tensor *ta, *tb, *out[2];
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &one, (float[]){ 1 }, &ta));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &one, (float[]){ 2 }, &tb));
    /* Named "b" binds to b even though it comes first. */
    OG_CHECK(og_tensor_set_name(tb, "b"));
    OG_CHECK(og_plan_run(p, 2, (const og_tensor *const[]){ tb, ta }, out));
    ck_assert(((float *)out[0]->data)[0] == 1 && ((float *)out[1]->data)[0] == 2);
    og_tensor_free(out[0]);
    og_tensor_free(out[1]);
    /* Missing feed. */
    OG_CHECK_FAILS(og_plan_run(p, 1, (const og_tensor *const[]){ tb }, out), OG_ERR_INVALID_ARG,
                   "graph input 'a' was not given");
    /* Wrong dtype and shape. */
    og_tensor *bad;
    OG_CHECK(og_tensor_create(OG_DOUBLE, 1, &one, &bad));
    OG_CHECK_FAILS(og_plan_run(p, 2, (const og_tensor *const[]){ bad, tb }, out), OG_ERR_SHAPE,
                   "input 'a': got a double tensor, expected float");
    og_tensor_free(bad);
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ 2 }, &bad));
    OG_CHECK_FAILS(og_plan_run(p, 2, (const og_tensor *const[]){ bad, tb }, out), OG_ERR_SHAPE,
                   "input 'a': got shape [2], expected [1]");
    og_tensor_free(bad);
    og_tensor_free(ta);
    og_tensor_free(tb);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

START_TEST(initializer_can_be_overridden)
{
    og_graph *g;
    int64_t two = 2;
    og_tensor *w, *y, *feed;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "w", OG_FLOAT, 1, &two, NULL));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &two, (float[]){ -1, 3 }, &w));
    OG_CHECK(og_graph_add_initializer(g, "w", w));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *[]){ "w" }, 1, (const char *[]){ "y" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    ck_assert_int_eq(og_plan_num_feeds(p), 0);
    OG_CHECK(og_plan_run(p, 0, NULL, &y));
    ck_assert(((float *)y->data)[0] == 0 && ((float *)y->data)[1] == 3);
    og_tensor_free(y);
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &two, (float[]){ 7, -7 }, &feed));
    OG_CHECK(og_tensor_set_name(feed, "w"));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ feed }, &y));
    ck_assert(((float *)y->data)[0] == 7 && ((float *)y->data)[1] == 0);
    og_tensor_free(y);
    og_tensor_free(feed);
    og_tensor_free(w);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

START_TEST(input_passed_through_is_copied)
{
    og_graph *g;
    int64_t one = 1;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 1, &one, NULL));
    OG_CHECK(og_graph_add_output(g, "x"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    og_tensor *x, *y;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &one, (float[]){ 4 }, &x));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y));
    ck_assert_ptr_ne(x, y);
    ck_assert(((float *)y->data)[0] == 4);
    og_tensor_free(x);
    og_tensor_free(y);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

START_TEST(plan_needs_finalized_graph)
{
    og_graph *g;
    og_plan *p;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK_FAILS(og_plan_create(g, &p), OG_ERR_INVALID_ARG, "not finalized");
    og_graph_free(g);
}
END_TEST

/* Hand-filled tensors are checked before anything is read from them. */
START_TEST(bad_tensor_structs_are_refused)
{
    og_graph *g = relu_chain(1, 2);
    og_plan *p;
    og_tensor *x, *y;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ 2 }, &x));
    x->rank = 40;
    OG_CHECK_FAILS(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y), OG_ERR_INVALID_ARG, "rank 40");
    x->rank = -1;
    OG_CHECK_FAILS(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y), OG_ERR_INVALID_ARG, "rank -1");
    x->rank = 1;
    x->numel = 1000;
    OG_CHECK_FAILS(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y), OG_ERR_INVALID_ARG,
                   "numel is 1000, but its dims hold 2");
    ck_assert_ptr_null(y);
    x->numel = 2;
    og_tensor_free(x);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* An unwanted optional output is NULL for the kernel at run time too. */
START_TEST(unwanted_output_at_old_opset)
{
    og_graph *g;
    int64_t dims[3] = { 1, 1, 4 };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 7));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 3, dims, NULL));
    OG_CHECK(og_graph_add_node(g, "MaxPool", NULL, "p", 1, (const char *[]){ "x" }, 2, (const char *[]){ "y", "" }, 1,
                               (og_attr[]){ og_attr_ints("kernel_shape", 1, (int64_t[]){ 2 }) }));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    og_tensor *x, *y;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 3, dims, (float[]){ 1, 3, 2, 0 }, &x));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, &y));
    ck_assert_int_eq(y->numel, 3);
    ck_assert(((float *)y->data)[0] == 3 && ((float *)y->data)[2] == 2);
    og_tensor_free(x);
    og_tensor_free(y);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST


/* Conv -> Relu -> MaxPool -> Flatten -> Gemm on a [2,3,8,8] image, weights
 * as initializers drawn from a fixed sequence; its gradient graph w.r.t.
 * every weight, seeded at the logits, when `grad`. */
static og_graph *small_cnn(bool grad)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 4, (int64_t[]){ 2, 3, 8, 8 }, NULL));
    const char *wn[4] = { "W", "B", "W2", "B2" };
    const int64_t wd[4][4] = { { 4, 3, 3, 3 }, { 4 }, { 5, 36 }, { 5 } };
    const int wr[4] = { 4, 1, 2, 1 };
    unsigned seed = 7;
    for (int k = 0; k < 4; k++) {
        og_tensor *t;
        OG_CHECK(og_tensor_create(OG_FLOAT, wr[k], wd[k], &t));
        for (int64_t i = 0; i < t->numel; i++) {
            seed = seed * 1103515245u + 12345u;
            ((float *)t->data)[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
        }
        OG_CHECK(og_graph_add_initializer(g, wn[k], t));
        og_tensor_free(t);
    }
    og_attr pool[2] = { og_attr_ints("kernel_shape", 2, (int64_t[]){ 2, 2 }),
                        og_attr_ints("strides", 2, (int64_t[]){ 2, 2 }) };
    OG_CHECK(og_graph_add_node(g, "Conv", NULL, "conv", 3, (const char *[]){ "x", "W", "B" }, 1,
                               (const char *[]){ "c" }, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "relu", 1, (const char *[]){ "c" }, 1, (const char *[]){ "r" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_node(g, "MaxPool", NULL, "pool", 1, (const char *[]){ "r" }, 1, (const char *[]){ "m" }, 2,
                               pool));
    OG_CHECK(og_graph_add_node(g, "Flatten", NULL, "flat", 1, (const char *[]){ "m" }, 1, (const char *[]){ "f" }, 0,
                               NULL));
    og_attr tb = og_attr_int("transB", 1);
    OG_CHECK(og_graph_add_node(g, "Gemm", NULL, "fc", 3, (const char *[]){ "f", "W2", "B2" }, 1,
                               (const char *[]){ "logits" }, 1, &tb));
    OG_CHECK(og_graph_add_output(g, "logits"));
    OG_CHECK(og_graph_finalize(g));
    if (!grad)
        return g;
    og_graph *gg;
    og_grad_options o = { .n_seeded = 1, .seeded = (const char *[]){ "logits" } };
    OG_CHECK(og_graph_build_gradient(g, &o, &gg));
    og_graph_free(g);
    return gg;
}

static og_tensor *filled(int rank, const int64_t *dims, unsigned seed)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, rank, dims, &t));
    for (int64_t i = 0; i < t->numel; i++) {
        seed = seed * 1664525u + 1013904223u;
        ((float *)t->data)[i] = (float)((seed >> 9) % 4001) / 2000.0f - 1.0f;
    }
    return t;
}

/* small_cnn's feeds: the image and the upstream gradient of its logits. */
static void cnn_feeds(unsigned seed, og_tensor **x, og_tensor **dy)
{
    *x = filled(4, (int64_t[]){ 2, 3, 8, 8 }, seed);
    *dy = filled(2, (int64_t[]){ 2, 5 }, seed + 1);
    OG_CHECK(og_tensor_set_name(*dy, "logits_grad"));
}

static unsigned long allocations;
static void *counting_alloc(void *u, size_t n)
{
    allocations++;
    return count_alloc(u, n);
}
static void *counting_realloc(void *u, void *q, size_t n)
{
    allocations++;
    return count_realloc(u, q, n);
}

/* After the first run, a compiled plan's borrowed run allocates nothing,
 * through the forward and the gradient graph alike. */
START_TEST(compiled_run_allocates_nothing)
{
    og_set_allocator(&(og_allocator){ counting_alloc, counting_realloc, count_free, NULL });
    for (int grad = 0; grad < 2; grad++) {
        og_graph *g = small_cnn(grad);
        og_plan *p;
        og_tensor *x, *dy;
        cnn_feeds(1, &x, &dy);
        const og_tensor *outs[8];
        const og_tensor *const in[2] = { x, dy };
        OG_CHECK(og_plan_create(g, &p));
        OG_CHECK(og_plan_run_borrowed(p, 1 + grad, in, outs));
        allocations = 0;
        for (int r = 0; r < 3; r++)
            OG_CHECK(og_plan_run_borrowed(p, 1 + grad, in, outs));
        ck_assert_msg(allocations == 0, "%s: %lu allocations in 3 runs", grad ? "gradient" : "forward",
                      allocations);
        og_tensor_free(x);
        og_tensor_free(dy);
        og_plan_free(p);
        og_graph_free(g);
    }
    ck_assert_uint_eq(live_bytes, 0);
    og_set_allocator(NULL);
}
END_TEST

/* w_new = w + x, a graph input "w" with an initializer, bound as state:
 * each run adds x into the caller's tensor, nothing is allocated after
 * the first run, a failed run changes nothing, and misuse is refused.
 * dynamic: x and w of unknown length, so the plan runs node by node. */
static og_graph *accumulator(bool dynamic)
{
    og_graph *g;
    int64_t n = dynamic ? -1 : 3, three = 3;
    og_tensor *w0;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "w", OG_FLOAT, 1, &n, NULL));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 1, &n, NULL));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &three, (float[]){ 1, 2, 3 }, &w0));
    OG_CHECK(og_graph_add_initializer(g, "w", w0));
    og_tensor_free(w0);
    OG_CHECK(og_graph_add_node(g, "Add", NULL, "acc", 2, (const char *[]){ "w", "x" }, 1,
                               (const char *[]){ "w_new" }, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *[]){ "w" }, 1, (const char *[]){ "w_relu" },
                               0, NULL));
    OG_CHECK(og_graph_add_output(g, "w_new"));
    OG_CHECK(og_graph_add_output(g, "w_relu"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

START_TEST(state_bindings_update_in_place)
{
    for (int dynamic = 0; dynamic < 2; dynamic++) {
        og_graph *g = accumulator(dynamic);
        og_plan *p;
        int64_t three = 3, two = 2;
        og_tensor *state, *x, *bad_x;
        OG_CHECK(og_plan_create(g, &p));
        ck_assert_int_eq(og_plan_num_steps(p) > 0, !dynamic);
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &three, (float[]){ 10, 20, 30 }, &state));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &three, (float[]){ 1, -1, 0.5f }, &x));
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &two, (float[]){ 1, 1 }, &bad_x));
        OG_CHECK(og_tensor_set_name(x, "x"));
        og_state_binding b = { "w", "w_new", state };
        OG_CHECK(og_plan_bind_states(p, 1, &b));
        const og_tensor *outs[2];
        OG_CHECK(og_plan_run_borrowed(p, 1, (const og_tensor *const[]){ x }, outs));
        /* Count allocations only where none is promised (node by node
         * allocates, and frees later what it allocated here). */
        if (!dynamic)
            og_set_allocator(&(og_allocator){ counting_alloc, counting_realloc, count_free, NULL });
        allocations = 0;
        for (int r = 0; r < 2; r++)
            OG_CHECK(og_plan_run_borrowed(p, 1, (const og_tensor *const[]){ x }, outs));
        ck_assert_msg(dynamic || allocations == 0, "%lu allocations in 2 runs with a state", allocations);
        og_set_allocator(NULL);
        const float *s = state->data;
        ck_assert(s[0] == 13 && s[1] == 17 && s[2] == 31.5f);
        /* The run read the old state: w_relu is relu(w before the last update). */
        ck_assert(((const float *)outs[1]->data)[0] == 12);
        /* A failed run (x of the wrong length) leaves the state as it was. */
        og_tensor *y[2];
        ck_assert_int_ne(og_plan_run(p, 1, (const og_tensor *const[]){ bad_x }, y), OG_OK);
        ck_assert(s[0] == 13 && s[1] == 17 && s[2] == 31.5f);
        OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, y));
        ck_assert(s[0] == 14 && ((float *)y[0]->data)[0] == 14);
        og_tensor_free(y[0]);
        og_tensor_free(y[1]);
        /* Passing the state as an input is refused, naming it. */
        og_tensor_set_name(bad_x, "w");
        ck_assert_int_eq(og_plan_run(p, 2, (const og_tensor *const[]){ x, bad_x }, y), OG_ERR_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(og_errmsg(), "bound as state"));
        /* Misuse: not an input, not an output, wrong shape (known only when static). */
        og_state_binding bad[3] = { { "w_relu", "w_new", state }, { "w", "x", state }, { "w", "w_new", bad_x } };
        for (int k = 0; k < 3 - dynamic; k++)
            ck_assert_msg(og_plan_bind_states(p, 1, &bad[k]) != OG_OK, "bad binding %d accepted", k);
        /* Unbinding: w is the initializer again. */
        OG_CHECK(og_plan_bind_states(p, 0, NULL));
        OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, y));
        ck_assert(((float *)y[0]->data)[0] == 2 && s[0] == 14);
        og_tensor_free(y[0]);
        og_tensor_free(y[1]);
        og_tensor_free(state);
        og_tensor_free(x);
        og_tensor_free(bad_x);
        og_plan_free(p);
        og_graph_free(g);
    }
}
END_TEST

/* A symbolic batch: y = Relu(x W) for x [N, 8] and a weight initializer
 * W [8, 16]. Each batch size gets a plan compiled for it the first time it
 * is seen; coming back to one re-plans nothing and allocates nothing. */
START_TEST(dynamic_batch_replans_per_shape)
{
    og_graph *g;
    int64_t xd[2] = { -1, 8 }, wd[2] = { 8, 16 };
    float w[128];
    for (int k = 0; k < 128; k++)
        w[k] = (float)((k * 37) % 11) - 5.0f;
    og_tensor *wt;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, xd, (const char *[]){ "N", NULL }));
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 2, wd, w, &wt));
    OG_CHECK(og_graph_add_initializer(g, "W", wt));
    og_tensor_free(wt);
    OG_CHECK(og_graph_add_node(g, "Gemm", NULL, "fc", 2, (const char *[]){ "x", "W" }, 1, (const char *[]){ "h" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *[]){ "h" }, 1, (const char *[]){ "y" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    ck_assert_int_eq(og_plan_num_steps(p), 0);   /* not compiled as a whole: N is unknown */
    const int batches[5] = { 2, 5, 2, 5, 1 };
    og_tensor *x[6];
    for (int n = 1; n <= 5; n++) {
        int64_t d[2] = { n, 8 };
        OG_CHECK(og_tensor_create(OG_FLOAT, 2, d, &x[n]));
        for (int k = 0; k < n * 8; k++)
            ((float *)x[n]->data)[k] = (float)((k * 13) % 7) - 3.0f;
    }
    for (int r = 0; r < 5; r++) {
        int n = batches[r];
        const og_tensor *y;
        if (r == 2)
            og_set_allocator(&(og_allocator){ counting_alloc, counting_realloc, count_free, NULL });
        allocations = 0;
        OG_CHECK(og_plan_run_borrowed(p, 1, (const og_tensor *const[]){ x[n] }, &y));
        if (r == 2 || r == 3)
            ck_assert_msg(allocations == 0, "run %d (batch %d seen before): %lu allocations", r, n, allocations);
        if (r == 3)
            og_set_allocator(NULL);
        ck_assert(y->rank == 2 && y->dims[0] == n && y->dims[1] == 16);
        const float *xv = x[n]->data, *yv = y->data;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 16; j++) {
                float acc = 0;
                for (int k = 0; k < 8; k++)
                    acc += xv[i * 8 + k] * w[k * 16 + j];
                ck_assert_float_eq(yv[i * 16 + j], acc > 0 ? acc : 0);
            }
    }
    /* A shape the graph forbids is still refused. */
    int64_t bad[2] = { 2, 7 };
    og_tensor *xb, *yb;
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, bad, &xb));
    ck_assert_int_eq(og_plan_run(p, 1, (const og_tensor *const[]){ xb }, &yb), OG_ERR_SHAPE);
    og_tensor_free(xb);
    for (int n = 1; n <= 5; n++)
        og_tensor_free(x[n]);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* Every output of the gradient graph is bit-identical at 1, 2 and 3
 * threads, from run to run, and the same through og_plan_run,
 * og_plan_run_borrowed and og_plan_run_into. */
START_TEST(threads_give_identical_bits)
{
    og_graph *g = small_cnn(true);
    int n_out = og_graph_num_outputs(g);
    og_tensor *x, *dy;
    cnn_feeds(3, &x, &dy);
    const og_tensor *const in[2] = { x, dy };
    og_tensor *ref[8] = { 0 };
    ck_assert_int_le(n_out, 8);
    for (int t = 1; t <= 3; t++) {
        og_plan *p;
        OG_CHECK(og_plan_create_ex(g, &(og_plan_options){ .n_threads = t }, &p));
        ck_assert_int_eq(og_plan_num_threads(p), t);
        for (int r = 0; r < 2; r++) {
            const og_tensor *outs[8];
            OG_CHECK(og_plan_run_borrowed(p, 2, in, outs));
            for (int k = 0; k < n_out; k++) {
                if (!ref[k]) {
                    OG_CHECK(og_tensor_clone(outs[k], &ref[k]));
                    continue;
                }
                ck_assert_int_eq(outs[k]->numel, ref[k]->numel);
                ck_assert_msg(memcmp(outs[k]->data, ref[k]->data, (size_t)ref[k]->numel * 4) == 0,
                              "output %d differs at %d threads, run %d", k, t, r);
            }
        }
        og_tensor *fresh[8];
        OG_CHECK(og_plan_run(p, 2, in, fresh));
        for (int k = 0; k < n_out; k++) {
            ck_assert(memcmp(fresh[k]->data, ref[k]->data, (size_t)ref[k]->numel * 4) == 0);
            memset(fresh[k]->data, 0, (size_t)fresh[k]->numel * 4);
        }
        OG_CHECK(og_plan_run_into(p, 2, in, fresh));
        for (int k = 0; k < n_out; k++) {
            ck_assert(memcmp(fresh[k]->data, ref[k]->data, (size_t)ref[k]->numel * 4) == 0);
            og_tensor_free(fresh[k]);
        }
        og_plan_free(p);
    }
    for (int k = 0; k < n_out; k++)
        og_tensor_free(ref[k]);
    og_tensor_free(x);
    og_tensor_free(dy);
    og_graph_free(g);
}
END_TEST

/* Reshape, Flatten and Identity are views: the output shares its input's
 * bytes. */
START_TEST(alias_ops_are_views)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, (int64_t[]){ 2, 3 }, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *[]){ "x" }, 1, (const char *[]){ "a" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_node(g, "Flatten", NULL, "f", 1, (const char *[]){ "a" }, 1, (const char *[]){ "b" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_node(g, "Identity", NULL, "i", 1, (const char *[]){ "b" }, 1, (const char *[]){ "c" }, 0,
                               NULL));
    OG_CHECK(og_graph_add_output(g, "a"));
    OG_CHECK(og_graph_add_output(g, "c"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    og_tensor *x = filled(2, (int64_t[]){ 2, 3 }, 5);
    const og_tensor *outs[2];
    OG_CHECK(og_plan_run_borrowed(p, 1, (const og_tensor *const[]){ x }, outs));
    ck_assert_ptr_eq(outs[0]->data, outs[1]->data);
    ck_assert_int_eq(outs[1]->rank, 2);
    ck_assert_int_eq(outs[1]->dims[1], 3);
    ck_assert_str_eq(outs[1]->name, "c");
    og_tensor *small;
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ 6 }, &small));
    OG_CHECK_FAILS(og_plan_run_into(p, 1, (const og_tensor *const[]){ x }, (og_tensor *const[]){ small, small }),
                   OG_ERR_INVALID_ARG, "output 0 ('a') must be a float tensor of shape [2,3]");
    og_plan *bad = (og_plan *)1;
    OG_CHECK_FAILS(og_plan_create_ex(g, &(og_plan_options){ .n_threads = -1 }, &bad), OG_ERR_INVALID_ARG,
                   "n_threads is -1");
    ck_assert_ptr_null(bad);
    og_tensor_free(small);
    og_tensor_free(x);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

typedef struct runner {
    og_run_state *rs;
    const og_tensor *const *in;
    const og_tensor *outs[8];
    og_status st;
} runner;

static void *run_thread(void *arg)
{
    runner *r = arg;
    for (int k = 0; k < 5 && r->st == OG_OK; k++)
        r->st = og_run_state_run(r->rs, 2, r->in, r->outs);
    return NULL;
}

/* One plan, two host threads, each with its own run state: both get the
 * plan's own answer, bit for bit. */
START_TEST(run_states_share_a_plan)
{
    og_graph *g = small_cnn(true);
    int n_out = og_graph_num_outputs(g);
    og_tensor *x, *dy;
    cnn_feeds(6, &x, &dy);
    const og_tensor *const in[2] = { x, dy };
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    const og_tensor *ref[8];
    OG_CHECK(og_plan_run_borrowed(p, 2, in, ref));
    runner r[2] = { { .in = in }, { .in = in } };
    pthread_t t[2];
    for (int k = 0; k < 2; k++) {
        OG_CHECK(og_run_state_create(p, &r[k].rs));
        ck_assert_int_eq(pthread_create(&t[k], NULL, run_thread, &r[k]), 0);
    }
    for (int k = 0; k < 2; k++) {
        pthread_join(t[k], NULL);
        ck_assert_msg(r[k].st == OG_OK, "%s", og_errmsg());
        for (int j = 0; j < n_out; j++) {
            ck_assert_ptr_ne(r[k].outs[j], ref[j]);
            ck_assert(memcmp(r[k].outs[j]->data, ref[j]->data, (size_t)ref[j]->numel * 4) == 0);
        }
        og_run_state_free(r[k].rs);
    }
    og_tensor_free(x);
    og_tensor_free(dy);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* A chain of same-shape Adds runs in place: each output takes the bytes of
 * the input that dies at its node, so the plan holds one 1 MiB tensor, not
 * two; the result is still right. */
START_TEST(elementwise_runs_in_place)
{
    og_set_allocator(&(og_allocator){ count_alloc, count_realloc, count_free, NULL });
    live_bytes = peak_bytes = 0;
    const int64_t len = 262144;
    og_graph *g;
    char a[16], b[16];
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 1, &len, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *[]){ "x" }, 1, (const char *[]){ "v0" }, 0,
                               NULL));
    for (int k = 0; k < 8; k++) {
        snprintf(a, sizeof a, "v%d", k);
        snprintf(b, sizeof b, "v%d", k + 1);
        OG_CHECK(og_graph_add_node(g, "Add", NULL, b, 2, (const char *[]){ a, "x" }, 1, (const char *[]){ b }, 0,
                                   NULL));
    }
    OG_CHECK(og_graph_add_output(g, b));
    OG_CHECK(og_graph_finalize(g));
    size_t before = live_bytes;
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    ck_assert_msg(live_bytes - before < 2 * (size_t)len * 4, "the plan holds %zu bytes", live_bytes - before);
    og_tensor *x = filled(1, &len, 11);
    const og_tensor *y[1];
    OG_CHECK(og_plan_run_borrowed(p, 1, (const og_tensor *const[]){ x }, y));
    for (int64_t i = 0; i < len; i += 4099) {
        float xi = ((float *)x->data)[i], want = xi > 0 ? xi : 0;
        for (int k = 0; k < 8; k++)
            want += xi;
        ck_assert(((float *)y[0]->data)[i] == want);
    }
    og_tensor_free(x);
    og_plan_free(p);
    og_graph_free(g);
    ck_assert_uint_eq(live_bytes, 0);
    og_set_allocator(NULL);
}
END_TEST

/* A gradient graph saved and loaded back is planned exactly like the one
 * built in memory (same steps, same fused kernels) and gives the same bits;
 * the fused kernels really are chosen. */
START_TEST(saved_gradient_graph_plans_the_same)
{
    og_graph *g = small_cnn(true), *back;
    void *bytes;
    size_t n;
    OG_CHECK(og_model_save_memory(g, &bytes, &n));
    OG_CHECK(og_model_load_memory(bytes, n, &back));
    og_free(bytes);
    og_plan *p, *q;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_plan_create(back, &q));
    ck_assert_int_gt(og_plan_num_steps(p), 0);
    ck_assert_int_eq(og_plan_num_steps(p), og_plan_num_steps(q));
    int fused = 0;
    for (int k = 0; k < og_plan_num_steps(p); k++) {
        const char *na, *oa, *ka, *nb, *ob, *kb;
        OG_CHECK(og_plan_step(p, k, &na, &oa, &ka));
        OG_CHECK(og_plan_step(q, k, &nb, &ob, &kb));
        ck_assert_str_eq(oa, ob);
        ck_assert_msg(strcmp(ka, kb) == 0, "step %d (%s): %s in memory, %s loaded back", k, oa, ka, kb);
        /* the weight gradient's Transpose, Relu's Where, MaxPool's scatter */
        fused += (!strcmp(oa, "Transpose") || !strcmp(oa, "Where") || !strcmp(oa, "ScatterElements")) &&
                 strcmp(ka, "reference") != 0;
    }
    ck_assert_int_eq(fused, 3);
    OG_CHECK_FAILS(og_plan_step(p, og_plan_num_steps(p), NULL, NULL, NULL), OG_ERR_INVALID_ARG, "out of range");
    og_tensor *x, *dy;
    cnn_feeds(9, &x, &dy);
    const og_tensor *const in[2] = { x, dy };
    const og_tensor *a[8], *b[8];
    OG_CHECK(og_plan_run_borrowed(p, 2, in, a));
    OG_CHECK(og_plan_run_borrowed(q, 2, in, b));
    for (int k = 0; k < og_graph_num_outputs(g); k++)
        ck_assert(a[k]->numel == b[k]->numel && memcmp(a[k]->data, b[k]->data, (size_t)a[k]->numel * 4) == 0);
    og_tensor_free(x);
    og_tensor_free(dy);
    og_plan_free(p);
    og_plan_free(q);
    og_graph_free(g);
    og_graph_free(back);
}
END_TEST

/* OG_KERNELS=reference plans every node with its op's own kernel (no
 * fusion); the fast plan agrees with it to float rounding. */
START_TEST(reference_kernels_on_request)
{
    og_graph *g = small_cnn(true);
    og_tensor *x, *dy;
    cnn_feeds(12, &x, &dy);
    const og_tensor *const in[2] = { x, dy };
    og_plan *fast, *ref;
    OG_CHECK(og_plan_create(g, &fast));
    setenv("OG_KERNELS", "reference", 1);
    OG_CHECK(og_plan_create(g, &ref));
    unsetenv("OG_KERNELS");
    ck_assert_int_gt(og_plan_num_steps(fast), 0);
    ck_assert_int_gt(og_plan_num_steps(ref), og_plan_num_steps(fast));   /* nothing fused away */
    for (int k = 0; k < og_plan_num_steps(ref); k++) {
        const char *kern;
        OG_CHECK(og_plan_step(ref, k, NULL, NULL, &kern));
        ck_assert_msg(!strcmp(kern, "reference") || !strcmp(kern, "view"), "step %d: %s", k, kern);
    }
    const og_tensor *a[8], *b[8];
    OG_CHECK(og_plan_run_borrowed(fast, 2, in, a));
    OG_CHECK(og_plan_run_borrowed(ref, 2, in, b));
    for (int k = 0; k < og_graph_num_outputs(g); k++)
        for (int64_t i = 0; i < a[k]->numel; i++) {
            float u = ((float *)a[k]->data)[i], v = ((float *)b[k]->data)[i];
            ck_assert_msg(fabsf(u - v) <= 1e-4f * (1 + fabsf(v)), "output %d[%lld]: %g vs %g", k, (long long)i, u, v);
        }
    og_tensor_free(x);
    og_tensor_free(dy);
    og_plan_free(fast);
    og_plan_free(ref);
    og_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("exec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, runs_and_names_outputs);
    tcase_add_test(tc, intermediates_are_released);
    tcase_add_test(tc, binding_by_name_and_position);
    tcase_add_test(tc, initializer_can_be_overridden);
    tcase_add_test(tc, input_passed_through_is_copied);
    tcase_add_test(tc, plan_needs_finalized_graph);
    tcase_add_test(tc, bad_tensor_structs_are_refused);
    tcase_add_test(tc, unwanted_output_at_old_opset);
    tcase_add_test(tc, compiled_run_allocates_nothing);
    tcase_add_test(tc, threads_give_identical_bits);
    tcase_add_test(tc, alias_ops_are_views);
    tcase_add_test(tc, run_states_share_a_plan);
    tcase_add_test(tc, elementwise_runs_in_place);
    tcase_add_test(tc, saved_gradient_graph_plans_the_same);
    tcase_add_test(tc, reference_kernels_on_request);
    tcase_add_test(tc, state_bindings_update_in_place);
    tcase_add_test(tc, dynamic_batch_replans_per_shape);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
