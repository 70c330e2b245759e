/* SPDX-License-Identifier: MIT */
/* fuzz_load.c — libFuzzer target: ONNX model bytes through the loader.
 *
 * og_model_load_memory (wire pre-scan, protobuf-c, conversion to the IR,
 * validation, shape inference). When a model loads, it is saved to memory
 * and the saved bytes are loaded again: a model onnxgrad saved must load,
 * describe the same graph, and save to the very same bytes (the README's
 * round-trip promise); each training info's algorithm graph must build or
 * fail with a proper error. Any breach traps. */
#include <stdint.h>
#include <stdlib.h>
#include "fuzz_common.h"

/* Saves g; traps unless that works (a loaded graph is finalized). */
static void save(const og_graph *g, void **bytes, size_t *size)
{
    fuzz_mark_errmsg();
    og_status st = og_model_save_memory(g, bytes, size);
    if (st != OG_OK)
        fuzz_check_failure(st);
    FUZZ_CHECK(st == OG_OK && *bytes && *size > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    og_graph *g = FUZZ_POISON;   /* the library must reset it */
    fuzz_mark_errmsg();
    og_status st = og_model_load_memory(data, size, &g);
    if (st != OG_OK) {
        fuzz_check_failure(st);
        FUZZ_CHECK(g == NULL);
        return 0;
    }
    fuzz_check_graph(g);

    void *bytes = NULL, *bytes2 = NULL;
    size_t n = 0, n2 = 0;
    save(g, &bytes, &n);
    og_graph *g2 = FUZZ_POISON;
    fuzz_mark_errmsg();
    st = og_model_load_memory(bytes, n, &g2);
    if (st != OG_OK)
        fuzz_check_failure(st);
    FUZZ_CHECK(st == OG_OK);   /* a saved model must load again */
    fuzz_check_graph(g2);
    FUZZ_CHECK(og_graph_num_inputs(g2) == og_graph_num_inputs(g));
    FUZZ_CHECK(og_graph_num_outputs(g2) == og_graph_num_outputs(g));
    FUZZ_CHECK(og_graph_num_nodes(g2) == og_graph_num_nodes(g));
    FUZZ_CHECK(og_graph_num_initializers(g2) == og_graph_num_initializers(g));
    FUZZ_CHECK(og_graph_num_training_infos(g2) == og_graph_num_training_infos(g));
    save(g2, &bytes2, &n2);
    FUZZ_CHECK(n2 == n && memcmp(bytes2, bytes, n) == 0);   /* save . load . save is stable */
    /* a training info's runnable graph builds or fails cleanly */
    for (int k = 0; k < og_graph_num_training_infos(g); k++) {
        og_graph *step = FUZZ_POISON;
        fuzz_mark_errmsg();
        st = og_training_algorithm_graph(g, k, &step);
        if (st != OG_OK) {
            fuzz_check_failure(st);
            FUZZ_CHECK(step == NULL);
        } else {
            fuzz_check_graph(step);
            og_graph_free(step);
        }
    }

    og_free(bytes2);
    og_free(bytes);
    og_graph_free(g2);
    og_graph_free(g);
    return 0;
}
