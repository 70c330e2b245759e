/* SPDX-License-Identifier: MIT */
/* fuzz_tensor.c — libFuzzer target: one TensorProto (.pb, as in ONNX test
 * data sets) through og_tensor_load_pb_memory.
 *
 * A failure must leave *out NULL with a fresh message; a tensor handed out
 * must have consistent dtype, dims, numel and a data buffer that long. */
#include <stdint.h>
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    og_tensor *t = FUZZ_POISON;   /* the library must reset it */
    fuzz_mark_errmsg();
    og_status st = og_tensor_load_pb_memory(data, size, &t);
    if (st != OG_OK) {
        fuzz_check_failure(st);
        FUZZ_CHECK(t == NULL);
        return 0;
    }
    fuzz_check_tensor(t);
    og_tensor *copy = NULL;
    FUZZ_CHECK(og_tensor_clone(t, &copy) == OG_OK);
    FUZZ_CHECK(copy->numel == t->numel && copy->dtype == t->dtype &&
               memcmp(copy->data, t->data, (size_t)t->numel * og_dtype_size(t->dtype)) == 0);
    og_tensor_free(copy);
    og_tensor_free(t);
    return 0;
}
