/* SPDX-License-Identifier: MIT */
/* fuzz_run.c — libFuzzer target: load a model, plan it and run it.
 *
 * Every graph input without an initializer gets a tensor of its declared
 * dtype and shape, unknown dims set to 1, filled from the last bytes of the
 * fuzz input (so input values are fuzzed along with the model, and the same
 * bytes always give the same run). Models whose inputs have no dtype, an
 * unknown rank, or more than FEED_ELEMENTS elements in all are skipped.
 *
 * The limits are lowered first so that no run needs much memory or time.
 * The graph is run twice on the same inputs: the second run reuses the
 * plan's workspace, which by then holds the first run's scratch, and must
 * give bit-identical outputs (a kernel reading scratch it did not write
 * would differ). Any inconsistency traps.
 *
 * OG_FUZZ_VERBOSE=1 in the environment prints each stage's outcome, to see
 * how far a reproducer gets: OG_FUZZ_VERBOSE=1 ./fuzz_run FILE... */
#include <stdint.h>
#include <stdlib.h>
#include "fuzz_common.h"

#define FEED_ELEMENTS (1 << 20)
#define FILL_TAIL 64            /* input values cycle through this many trailing bytes */

void openblas_set_num_threads(int n);   /* OpenBLAS; one thread keeps runs reproducible */

static bool verbose;

static void say(const char *stage, og_status st)
{
    if (verbose)
        fprintf(stderr, "fuzz_run: %s: %s%s%s\n", stage, og_status_name(st), st ? ": " : "",
                st ? og_errmsg() : "");
}

/* Warnings raised for the current input: a declared shape that
 * contradicts inference is a warning and the inferred shape wins, so the
 * outputs may then differ from what the graph declares. */
static int warnings;

static void count_warning(void *user, const char *msg)
{
    (void)user;
    (void)msg;
    warnings++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    og_set_warning_handler(count_warning, NULL);
    openblas_set_num_threads(1);
    verbose = getenv("OG_FUZZ_VERBOSE") != NULL;
    og_limit(OG_LIMIT_TENSOR_ELEMENTS, 1 << 20);
    og_limit(OG_LIMIT_PLAN_BYTES, (int64_t)64 << 20);
    return 0;
}

/* True when an initializer is named `name` (it then needs no feed). */
static bool has_initializer(const og_graph *g, const char *name)
{
    for (int k = 0; k < og_graph_num_initializers(g); k++) {
        const og_tensor *t;
        if (og_graph_initializer(g, k, &t) == OG_OK && strcmp(t->name, name) == 0)
            return true;
    }
    return false;
}

/* Makes the feeds; false (nothing allocated) when the model is skipped.
 * *all_known says whether the graph knew every input's shape, those with
 * an initializer included (their declared type may be looser), and no
 * input is an integer tensor fed from the bytes. */
static bool make_feeds(const og_graph *g, const uint8_t *data, size_t size, og_tensor **feeds,
                       int *n_feeds, bool *all_known)
{
    int64_t total = 0;
    size_t tail = size < FILL_TAIL ? size : FILL_TAIL;
    *n_feeds = 0;
    *all_known = true;
    for (int k = 0; k < og_graph_num_inputs(g); k++) {
        og_value_info vi;
        FUZZ_CHECK(og_graph_input(g, k, &vi) == OG_OK);
        *all_known = *all_known && vi.rank >= 0;
        for (int d = 0; d < vi.rank; d++)
            *all_known = *all_known && vi.dims[d] >= 0;
        if (has_initializer(g, vi.name))
            continue;
        size_t es = og_dtype_size(vi.dtype);
        if (es == 0 || vi.rank < 0)
            goto skip;
        int64_t dims[OG_MAX_RANK], numel = 1;
        for (int d = 0; d < vi.rank; d++) {
            dims[d] = vi.dims[d] >= 0 ? vi.dims[d] : 1;
            if (__builtin_mul_overflow(numel, dims[d], &numel) || numel > FEED_ELEMENTS)
                goto skip;
        }
        total += numel;
        if (total > FEED_ELEMENTS)
            goto skip;
        og_tensor *t;
        fuzz_mark_errmsg();
        og_status st = og_tensor_create(vi.dtype, vi.rank, dims, &t);
        if (st != OG_OK) {
            fuzz_check_failure(st);
            goto skip;
        }
        uint8_t *bytes = t->data;
        for (size_t b = 0, n = (size_t)numel * es; b < n && tail; b++)
            bytes[b] = data[size - 1 - b % tail];
        if (vi.dtype == OG_BOOL)
            for (int64_t e = 0; e < numel; e++)
                bytes[e] &= 1;
        /* An integer feed may be data that shapes the run (Reshape's shape,
         * Slice's starts, ScatterElements' indices): load-time inference
         * could not see it, and bad values are errors of the run. */
        if (vi.dtype != OG_FLOAT && vi.dtype != OG_DOUBLE && vi.dtype != OG_BOOL)
            *all_known = false;
        FUZZ_CHECK(og_tensor_set_name(t, vi.name) == OG_OK);
        feeds[(*n_feeds)++] = t;
    }
    return true;
skip:
    for (int k = 0; k < *n_feeds; k++)
        og_tensor_free(feeds[k]);
    *n_feeds = 0;
    return false;
}

/* Checks the outputs of a run that returned `st` against the graph. With
 * every input shape known at load time and no integer feed (which may be
 * data that shapes the run), load-time inference already saw what the run
 * sees: every output's type is known and the run can fail only on a limit,
 * never on a shape or attribute. */
static void check_outputs(const og_graph *g, og_status st, og_tensor **outs, bool all_known)
{
    int n_out = og_graph_num_outputs(g);
    for (int k = 0; all_known && k < n_out; k++) {
        og_value_info vi;
        FUZZ_CHECK(og_graph_output(g, k, &vi) == OG_OK);
        FUZZ_CHECK(vi.dtype != OG_UNDEFINED && vi.rank >= 0);
        for (int d = 0; d < vi.rank; d++)
            FUZZ_CHECK(vi.dims[d] >= 0);
    }
    if (st != OG_OK) {
        fuzz_check_failure(st);
        FUZZ_CHECK(!all_known || st == OG_ERR_LIMIT || st == OG_ERR_NOMEM);
        for (int k = 0; k < n_out; k++)
            FUZZ_CHECK(outs[k] == NULL);
        return;
    }
    for (int k = 0; k < n_out; k++) {
        og_value_info vi;
        FUZZ_CHECK(og_graph_output(g, k, &vi) == OG_OK);
        fuzz_check_tensor(outs[k]);
        FUZZ_CHECK(outs[k]->name && strcmp(outs[k]->name, vi.name) == 0);
        FUZZ_CHECK(vi.dtype == OG_UNDEFINED || vi.dtype == outs[k]->dtype);
        FUZZ_CHECK(vi.rank < 0 || vi.rank == outs[k]->rank);
        for (int d = 0; vi.rank >= 0 && d < vi.rank; d++)
            FUZZ_CHECK(vi.dims[d] < 0 || vi.dims[d] == outs[k]->dims[d] || warnings > 0);
    }
}

static void free_outputs(og_tensor **outs, int n)
{
    for (int k = 0; k < n; k++)
        og_tensor_free(outs[k]);
    free(outs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    og_graph *g = FUZZ_POISON;   /* the library must reset it */
    warnings = 0;
    fuzz_mark_errmsg();
    og_status st = og_model_load_memory(data, size, &g);
    say("load", st);
    if (st != OG_OK) {
        fuzz_check_failure(st);
        FUZZ_CHECK(g == NULL);
        return 0;
    }
    fuzz_check_graph(g);

    og_plan *p = FUZZ_POISON;
    fuzz_mark_errmsg();
    st = og_plan_create(g, &p);
    say("plan", st);
    if (st != OG_OK) {
        fuzz_check_failure(st);
        FUZZ_CHECK(p == NULL);
        og_graph_free(g);
        return 0;
    }
    FUZZ_CHECK(p != NULL);

    int n_in = og_graph_num_inputs(g), n_out = og_graph_num_outputs(g), n_feeds;
    bool all_known;
    og_tensor **feeds = calloc((size_t)n_in + 1, sizeof *feeds);
    og_tensor **outs = calloc((size_t)n_out, sizeof *outs);
    og_tensor **outs2 = calloc((size_t)n_out, sizeof *outs2);
    FUZZ_CHECK(feeds && outs && outs2);
    if (make_feeds(g, data, size, feeds, &n_feeds, &all_known)) {
        FUZZ_CHECK(n_feeds == og_plan_num_feeds(p));
        const og_tensor *const *in = (const og_tensor *const *)feeds;
        fuzz_mark_errmsg();
        st = og_plan_run(p, n_feeds, in, outs);
        say("run", st);
        check_outputs(g, st, outs, all_known);
        fuzz_mark_errmsg();
        og_status st2 = og_plan_run(p, n_feeds, in, outs2);
        check_outputs(g, st2, outs2, all_known);
        FUZZ_CHECK(st2 == st);   /* same plan, same inputs: same outcome, same bits */
        for (int k = 0; st == OG_OK && k < n_out; k++)
            FUZZ_CHECK(outs2[k]->numel == outs[k]->numel &&
                       memcmp(outs2[k]->data, outs[k]->data,
                              (size_t)outs[k]->numel * og_dtype_size(outs[k]->dtype)) == 0);
        for (int k = 0; k < n_feeds; k++)
            og_tensor_free(feeds[k]);
    } else if (verbose) {
        fprintf(stderr, "fuzz_run: not run: an input has no dtype, no rank or too many elements\n");
    }
    free(feeds);
    free_outputs(outs, n_out);
    free_outputs(outs2, n_out);
    og_plan_free(p);
    og_graph_free(g);
    return 0;
}
