/* SPDX-License-Identifier: MIT */
/* tensor.c — dense tensors: creation, copies, sizes (overflow-checked). */
#include <string.h>
#include "internal.h"

size_t og_dtype_size(og_dtype t)
{
    switch (t) {
    case OG_FLOAT: case OG_INT32: case OG_UINT32: return 4;
    case OG_DOUBLE: case OG_INT64: case OG_UINT64: return 8;
    case OG_UINT8: case OG_INT8: case OG_BOOL: return 1;
    case OG_UINT16: case OG_INT16: return 2;
    default: return 0;
    }
}

const char *og_dtype_name(og_dtype t)
{
    static const char *const names[] = {
        "undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64",
        "string", "bool", "float16", "double", "uint32", "uint64", "complex64",
        "complex128", "bfloat16" };
    if ((unsigned)t < sizeof names / sizeof names[0])
        return names[t];
    return "unknown-dtype";
}

og_status og_tensor_nbytes(og_dtype dtype, int rank, const int64_t *dims, int64_t *numel, size_t *nbytes)
{
    size_t es = og_dtype_size(dtype);
    if (es == 0)
        return og_err(OG_ERR_UNSUPPORTED, "tensor dtype %s (%d) is not supported", og_dtype_name(dtype), (int)dtype);
    if (rank < 0 || rank > OG_MAX_RANK)
        return og_err(OG_ERR_LIMIT, "tensor rank %d is outside 0..%d", rank, OG_MAX_RANK);
    og_status st = og_check_rank_limit(rank, "tensor");
    if (st)
        return st;
    int64_t n = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0)
            return og_err(OG_ERR_SHAPE, "tensor dim %d is negative (%lld)", k, (long long)dims[k]);
        if (!og_mul_ok(n, dims[k], &n))
            return og_err(OG_ERR_LIMIT, "tensor element count overflows at dim %d", k);
    }
    if ((st = og_check_numel_limit(n, "tensor")))
        return st;
    int64_t b;
    if (!og_mul_ok(n, (int64_t)es, &b) || (uint64_t)b > SIZE_MAX)
        return og_err(OG_ERR_LIMIT, "tensor of %lld %s elements is too large", (long long)n, og_dtype_name(dtype));
    if (numel) *numel = n;
    if (nbytes) *nbytes = (size_t)b;
    return OG_OK;
}

og_status og_tensor_create(og_dtype dtype, int rank, const int64_t *dims, og_tensor **out)
{
    *out = NULL;
    if (rank > 0 && !dims)
        return og_err(OG_ERR_INVALID_ARG, "og_tensor_create: dims is NULL for rank %d", rank);
    int64_t numel;
    size_t nbytes;
    og_status st = og_tensor_nbytes(dtype, rank, dims, &numel, &nbytes);
    if (st)
        return st;
    og_tensor *t = og_calloc(1, sizeof *t);
    if (!t)
        return og_err(OG_ERR_NOMEM, "out of memory allocating a tensor");
    t->data = og_calloc(1, nbytes ? nbytes : 1);
    if (!t->data) {
        og_free(t);
        return og_err(OG_ERR_NOMEM, "out of memory allocating %zu bytes of tensor data", nbytes);
    }
    t->dtype = dtype;
    t->rank = rank;
    for (int k = 0; k < rank; k++)
        t->dims[k] = dims[k];
    t->numel = numel;
    *out = t;
    return OG_OK;
}

og_status og_tensor_create_from(og_dtype dtype, int rank, const int64_t *dims, const void *data, og_tensor **out)
{
    og_status st = og_tensor_create(dtype, rank, dims, out);
    if (st)
        return st;
    if (data)
        memcpy((*out)->data, data, (size_t)(*out)->numel * og_dtype_size(dtype));
    return OG_OK;
}

og_status og_tensor_clone(const og_tensor *t, og_tensor **out)
{
    og_status st = og_tensor_create_from(t->dtype, t->rank, t->dims, t->data, out);
    if (st)
        return st;
    if (t->name && (st = og_tensor_set_name(*out, t->name))) {
        og_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

og_status og_tensor_set_name(og_tensor *t, const char *name)
{
    char *copy = NULL;
    if (name && !(copy = og_strdup(name)))
        return og_err(OG_ERR_NOMEM, "out of memory copying tensor name");
    og_free(t->name);
    t->name = copy;
    return OG_OK;
}

void og_tensor_free(og_tensor *t)
{
    if (!t)
        return;
    og_free(t->data);
    og_free(t->name);
    og_free(t);
}
