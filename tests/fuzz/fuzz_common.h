/* SPDX-License-Identifier: MIT */
/* fuzz_common.h — what the libFuzzer targets share: invariant checks on
 * failures and on the objects a success hands out.
 *
 * A status other than OG_OK is a normal outcome for hostile bytes. What is
 * never normal: a failure that leaves the out-pointer set, has no message,
 * reports a different code than og_errcode(), or says OG_ERR_INTERNAL (the
 * library's own "this is a bug" code); a success whose objects are not
 * consistent. Each breach traps, so libFuzzer saves the input. */
#ifndef ONNXGRAD_FUZZ_COMMON_H
#define ONNXGRAD_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <onnxgrad/onnxgrad.h>

#define FUZZ_CHECK(cond)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n  last error: %s: %s\n",         \
                    __FILE__, __LINE__, #cond, og_status_name(og_errcode()), og_errmsg());     \
            __builtin_trap();                                                                   \
        }                                                                                       \
    } while (0)

/* A non-NULL out-pointer value that is never dereferenced: a failing call
 * must overwrite it with NULL. */
static char fuzz_poison_byte;
#define FUZZ_POISON ((void *)&fuzz_poison_byte)

/* The message of a call that cannot succeed, so a check after a failing
 * call can tell a fresh message from one left over by an earlier call. */
#define FUZZ_MARKER_MSG "og_tensor_load_pb_memory: out is NULL"

static inline void fuzz_mark_errmsg(void)
{
    og_status st = og_tensor_load_pb_memory(NULL, 0, NULL);
    FUZZ_CHECK(st == OG_ERR_INVALID_ARG && strcmp(og_errmsg(), FUZZ_MARKER_MSG) == 0);
}

/* After a call that returned `st` != OG_OK (call fuzz_mark_errmsg before it). */
static inline void fuzz_check_failure(og_status st)
{
    FUZZ_CHECK(st != OG_OK);
    FUZZ_CHECK(strcmp(og_status_name(st), "OG_ERR_UNKNOWN") != 0);
    FUZZ_CHECK(st != OG_ERR_INTERNAL);
    FUZZ_CHECK(og_errcode() == st);
    FUZZ_CHECK(og_errmsg()[0] != '\0');
    FUZZ_CHECK(strcmp(og_errmsg(), FUZZ_MARKER_MSG) != 0);
}

static inline void fuzz_check_value_info(const og_value_info *vi)
{
    FUZZ_CHECK(vi->name && vi->name[0]);
    FUZZ_CHECK(vi->rank >= -1 && vi->rank <= OG_MAX_RANK);
    FUZZ_CHECK(vi->rank <= 0 || vi->dims);
    for (int k = 0; k < vi->rank; k++)
        FUZZ_CHECK(vi->dims[k] >= -1);
}

/* A graph handed out by a successful load: finalized and inspectable. */
static inline void fuzz_check_graph(const og_graph *g)
{
    FUZZ_CHECK(g != NULL);
    int n_in = og_graph_num_inputs(g), n_out = og_graph_num_outputs(g);
    int n_nodes = og_graph_num_nodes(g), n_init = og_graph_num_initializers(g);
    FUZZ_CHECK(n_in >= 0 && n_out > 0 && n_nodes >= 0 && n_init >= 0);
    og_value_info vi;
    for (int k = 0; k < n_in; k++) {
        FUZZ_CHECK(og_graph_input(g, k, &vi) == OG_OK);
        fuzz_check_value_info(&vi);
    }
    for (int k = 0; k < n_out; k++) {
        FUZZ_CHECK(og_graph_output(g, k, &vi) == OG_OK);
        fuzz_check_value_info(&vi);
        og_value_info again;
        FUZZ_CHECK(og_graph_value(g, vi.name, &again) == OG_OK && strcmp(again.name, vi.name) == 0);
    }
    for (int k = 0; k < n_nodes; k++) {
        const char *op = NULL, *name = NULL;
        FUZZ_CHECK(og_graph_node(g, k, &op, &name) == OG_OK && op && op[0] && name);
    }
    for (int k = 0; k < n_init; k++) {
        const og_tensor *t = NULL;
        FUZZ_CHECK(og_graph_initializer(g, k, &t) == OG_OK && t && t->name && t->name[0]);
    }
    for (int k = 0; k < og_graph_num_opsets(g); k++) {
        const char *domain = NULL;
        int64_t version;
        FUZZ_CHECK(og_graph_opset(g, k, &domain, &version) == OG_OK && domain);
    }
}

/* A tensor handed out by the library: sizes agree and every data byte is
 * readable (AddressSanitizer checks the buffer really is that long). */
static inline void fuzz_check_tensor(const og_tensor *t)
{
    FUZZ_CHECK(t != NULL);
    size_t es = og_dtype_size(t->dtype);
    FUZZ_CHECK(es > 0);
    FUZZ_CHECK(t->rank >= 0 && t->rank <= OG_MAX_RANK);
    int64_t numel = 1;
    for (int k = 0; k < t->rank; k++) {
        FUZZ_CHECK(t->dims[k] >= 0);
        FUZZ_CHECK(!__builtin_mul_overflow(numel, t->dims[k], &numel));
    }
    FUZZ_CHECK(numel == t->numel);
    FUZZ_CHECK(t->data != NULL);
    const volatile unsigned char *p = t->data;
    unsigned sum = 0;
    for (size_t k = 0, n = (size_t)numel * es; k < n; k++)
        sum += p[k];
    (void)sum;
    FUZZ_CHECK(t->name == NULL || t->name[0] != '\0');
}

#endif
