/* SPDX-License-Identifier: MIT */
/* fuzz_grad.c — libFuzzer target: gradient graphs of hostile models.
 *
 * When the bytes load, og_graph_build_gradient differentiates every float
 * output (seeded) with respect to every float input and initializer
 * (allow_unused, so graphs where some do not reach an output still build).
 * A refusal must be a clean status (never OG_ERR_INTERNAL, which is also
 * what the engine reports when a rule's gradient has the wrong type). A
 * gradient graph must be finalized, list the forward outputs then one
 * gradient per wrt tensor of that tensor's dtype and rank, plan, and save to
 * bytes that load again. Running it is fuzz_run's business (on the model
 * a saved gradient graph is, for the run corpus). Any breach traps. */
#include <stdint.h>
#include <stdlib.h>
#include "fuzz_common.h"

#define MAX_SEEDED 64

static void check_gradient_graph(const og_graph *g, const og_graph *gg, const og_grad_options *o)
{
    fuzz_check_graph(gg);
    int n_wrt = 0, n_out = og_graph_num_outputs(g);
    FUZZ_CHECK(og_grad_wrt_count(g, o, &n_wrt) == OG_OK);
    FUZZ_CHECK(og_graph_num_outputs(gg) == n_out + n_wrt);
    FUZZ_CHECK(og_graph_num_inputs(gg) == og_graph_num_inputs(g) + o->n_seeded);
    for (int k = 0; k < n_wrt; k++) {
        const char *name;
        og_value_info want, got;
        FUZZ_CHECK(og_grad_wrt_name(g, o, k, &name) == OG_OK);
        FUZZ_CHECK(og_graph_value(g, name, &want) == OG_OK);
        FUZZ_CHECK(og_graph_output(gg, n_out + k, &got) == OG_OK);
        FUZZ_CHECK(got.dtype == want.dtype);
        FUZZ_CHECK(got.rank < 0 || want.rank < 0 || got.rank == want.rank);
    }
    og_plan *p = FUZZ_POISON;
    fuzz_mark_errmsg();
    og_status st = og_plan_create(gg, &p);
    if (st != OG_OK) {
        fuzz_check_failure(st);
        FUZZ_CHECK(p == NULL && st == OG_ERR_LIMIT);   /* only a budget may refuse a finalized graph */
    }
    og_plan_free(st == OG_OK ? p : NULL);
    void *bytes = NULL;
    size_t n = 0;
    fuzz_mark_errmsg();
    st = og_model_save_memory(gg, &bytes, &n);
    if (st != OG_OK)
        fuzz_check_failure(st);
    FUZZ_CHECK(st == OG_OK);
    og_graph *back = FUZZ_POISON;
    fuzz_mark_errmsg();
    st = og_model_load_memory(bytes, n, &back);
    if (st != OG_OK)
        fuzz_check_failure(st);
    FUZZ_CHECK(st == OG_OK);   /* a saved gradient graph loads again */
    FUZZ_CHECK(og_graph_num_nodes(back) == og_graph_num_nodes(gg));
    og_graph_free(back);
    og_free(bytes);
}

/* og_plan_create allocates a run's arena: a model of a few hundred bytes
 * can ask for gigabytes within the library's 16 GiB default budget (a
 * dilated ConvTranspose's output, crashes/grad/convtranspose-dilated-3gb),
 * past libFuzzer's malloc limit. The budget refusal (OG_ERR_LIMIT) is what
 * is tested here, as fuzz_run does. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    og_limit(OG_LIMIT_PLAN_BYTES, (int64_t)64 << 20);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    og_graph *g = NULL;
    if (og_model_load_memory(data, size, &g) != OG_OK)
        return 0;   /* fuzz_load checks the loader's failures */
    const char *seeded[MAX_SEEDED];
    int n_seeded = 0;
    for (int k = 0; k < og_graph_num_outputs(g) && n_seeded < MAX_SEEDED; k++) {
        og_value_info vi;
        FUZZ_CHECK(og_graph_output(g, k, &vi) == OG_OK);
        if (vi.dtype == OG_FLOAT || vi.dtype == OG_DOUBLE)
            seeded[n_seeded++] = vi.name;
    }
    og_grad_options o = { .n_seeded = n_seeded, .seeded = seeded, .allow_unused = true };
    og_graph *gg = FUZZ_POISON;
    fuzz_mark_errmsg();
    og_status st = og_graph_build_gradient(g, &o, &gg);
    if (st != OG_OK) {
        fuzz_check_failure(st);
        FUZZ_CHECK(gg == NULL);
    } else {
        check_gradient_graph(g, gg, &o);
        og_graph_free(gg);
    }
    og_graph_free(g);
    return 0;
}
