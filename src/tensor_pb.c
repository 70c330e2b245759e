/* SPDX-License-Identifier: MIT */
/* tensor_pb.c — TensorProto <-> og_tensor, and single-tensor .pb files
 * (the format of ONNX test data sets).
 *
 * The conversion is shared with the model loader (initializers, TENSOR
 * attributes) and saver. Every size a file states is checked against the
 * data actually present before anything is allocated. Tensors of a model
 * may keep their data in an external file (external_data.c); a lone .pb
 * tensor may not. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <protobuf-c/protobuf-c.h>
#include "onnx.pb-c.h"
#include "external_data.h"
#include "io.h"
#include "wire_scan.h"

/* ONNX stores tensor data little-endian; copies swap on big-endian hosts. */
static void copy_le(void *dst, const void *src, size_t n_elems, size_t esize)
{
    if (n_elems == 0)
        return;    /* src may be NULL for an empty raw_data */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    const uint8_t *s = src;
    uint8_t *d = dst;
    for (size_t k = 0; k < n_elems; k++)
        for (size_t b = 0; b < esize; b++)
            d[k * esize + b] = s[k * esize + esize - 1 - b];
#else
    memcpy(dst, src, n_elems * esize);
#endif
}

/* The typed field ONNX uses for each data type. */
enum typed { T_NONE, T_FLOAT, T_INT32, T_STRING, T_INT64, T_DOUBLE, T_UINT64 };
static const char *const typed_name[] = {
    "", "float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data",
};

static enum typed typed_field_for(og_dtype dt)
{
    switch (dt) {
    case OG_FLOAT: case OG_COMPLEX64: return T_FLOAT;
    case OG_INT32: case OG_INT16: case OG_INT8: case OG_UINT16: case OG_UINT8:
    case OG_BOOL: case OG_FLOAT16: case OG_BFLOAT16: return T_INT32;
    case OG_STRING: return T_STRING;
    case OG_INT64: return T_INT64;
    case OG_DOUBLE: case OG_COMPLEX128: return T_DOUBLE;
    case OG_UINT32: case OG_UINT64: return T_UINT64;
    default: return T_NONE;
    }
}

static size_t typed_count(const Onnx__TensorProto *tp, enum typed f)
{
    switch (f) {
    case T_FLOAT: return tp->n_float_data;
    case T_INT32: return tp->n_int32_data;
    case T_STRING: return tp->n_string_data;
    case T_INT64: return tp->n_int64_data;
    case T_DOUBLE: return tp->n_double_data;
    case T_UINT64: return tp->n_uint64_data;
    default: return 0;
    }
}

static const char *dims_str(const Onnx__TensorProto *tp, char *buf, size_t size)
{
    size_t n = 0;
    n += (size_t)snprintf(buf, size, "[");
    for (size_t k = 0; k < tp->n_dims && n < size; k++)
        n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64, k ? "," : "", tp->dims[k]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}

/* int32_data holds the narrow integer types (and float16 bits) widened;
 * values outside the type's range mean a broken file. */
static bool int32_range(og_dtype dt, int64_t *lo, int64_t *hi)
{
    switch (dt) {
    case OG_INT8: *lo = INT8_MIN; *hi = INT8_MAX; return true;
    case OG_UINT8: *lo = 0; *hi = UINT8_MAX; return true;
    case OG_INT16: *lo = INT16_MIN; *hi = INT16_MAX; return true;
    case OG_UINT16: case OG_FLOAT16: case OG_BFLOAT16: *lo = 0; *hi = UINT16_MAX; return true;
    case OG_BOOL: *lo = 0; *hi = 1; return true;
    default: return false;
    }
}

static og_status fill_typed(const Onnx__TensorProto *tp, const char *where, og_tensor *t)
{
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case OG_FLOAT: memcpy(t->data, tp->float_data, n * sizeof(float)); return OG_OK;
    case OG_DOUBLE: memcpy(t->data, tp->double_data, n * sizeof(double)); return OG_OK;
    case OG_INT64: memcpy(t->data, tp->int64_data, n * sizeof(int64_t)); return OG_OK;
    case OG_UINT64: memcpy(t->data, tp->uint64_data, n * sizeof(uint64_t)); return OG_OK;
    case OG_INT32: memcpy(t->data, tp->int32_data, n * sizeof(int32_t)); return OG_OK;
    case OG_UINT32:
        for (size_t k = 0; k < n; k++) {
            if (tp->uint64_data[k] > UINT32_MAX)
                return og_err(OG_ERR_PARSE, "%s: uint64_data[%zu] = %" PRIu64 " is out of range for uint32",
                              where, k, tp->uint64_data[k]);
            ((uint32_t *)t->data)[k] = (uint32_t)tp->uint64_data[k];
        }
        return OG_OK;
    default: break;
    }
    int64_t lo, hi;
    size_t esize = og_dtype_size(t->dtype);
    if (!int32_range(t->dtype, &lo, &hi) || (esize != 1 && esize != 2))
        return og_err(OG_ERR_INTERNAL, "%s: no typed-data conversion for %s", where,
                      og_dtype_name(t->dtype));
    for (size_t k = 0; k < n; k++) {
        int32_t v = tp->int32_data[k];
        if (v < lo || v > hi)
            return og_err(OG_ERR_PARSE, "%s: int32_data[%zu] = %" PRId32 " is out of range for %s "
                          "[%" PRId64 ", %" PRId64 "]", where, k, v, og_dtype_name(t->dtype), lo, hi);
        if (esize == 1)
            ((uint8_t *)t->data)[k] = (uint8_t)v;
        else
            ((uint16_t *)t->data)[k] = (uint16_t)v;
    }
    return OG_OK;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
/* External data is read straight into the tensor, then put in host order. */
static void swap_in_place(void *data, size_t n_elems, size_t esize)
{
    uint8_t *p = data;
    for (size_t k = 0; k < n_elems; k++, p += esize)
        for (size_t b = 0; b < esize / 2; b++) {
            uint8_t c = p[b];
            p[b] = p[esize - 1 - b];
            p[esize - 1 - b] = c;
        }
}
#endif

og_status og_tensor_from_proto(const Onnx__TensorProto *tp, const char *where, og_tensor **out)
{
    return og_tensor_from_proto_ext(tp, where, NULL, out);
}

og_status og_tensor_from_proto_ext(const Onnx__TensorProto *tp, const char *where, og_extdata_ctx *ext,
                                   og_tensor **out)
{
    *out = NULL;
    if (tp->has_data_location && tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT
        && tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return og_err(OG_ERR_PARSE, "%s: data_location %d is neither DEFAULT (0) nor EXTERNAL (1)", where,
                      (int)tp->data_location);
    /* The file system is touched only once the tensor's size is known. */
    bool external = og_extdata_present(tp);
    og_extdata_ref ref = { 0 };
    int ext_fd = -1;
    if (external && !ext) {
        const char *loc = NULL;
        for (size_t k = 0; k < tp->n_external_data; k++)
            if (tp->external_data[k]->key && strcmp(tp->external_data[k]->key, "location") == 0)
                loc = tp->external_data[k]->value;
        return og_err(OG_ERR_UNSUPPORTED, "%s: data is stored in an external file%s%s%s; "
                      "external data is not supported in single-tensor .pb files, only in models", where,
                      loc ? " ('" : "", loc ? loc : "", loc ? "')" : "");
    }
    if (external) {
        og_status est = og_extdata_parse(tp, where, &ref);
        if (est != OG_OK)
            return est;
    }
    if (tp->segment)
        return og_err(OG_ERR_UNSUPPORTED, "%s: segmented tensors (TensorProto.segment) are not supported",
                      where);
    if (!tp->has_data_type || tp->data_type == OG_UNDEFINED)
        return og_err(OG_ERR_PARSE, "%s: data_type is missing (UNDEFINED)", where);
    if (tp->data_type < 0 || tp->data_type > OG_BFLOAT16)
        return og_err(OG_ERR_UNSUPPORTED, "%s: data_type %" PRId32 " is not an ONNX type onnxgrad knows "
                      "(1..16)", where, tp->data_type);
    og_dtype dt = (og_dtype)tp->data_type;
    size_t esize = og_dtype_size(dt);
    if (esize == 0)
        return og_err(OG_ERR_UNSUPPORTED, "%s: data type %s is not supported by onnxgrad", where,
                      og_dtype_name(dt));
    if (tp->n_dims > OG_MAX_RANK)
        return og_err(OG_ERR_UNSUPPORTED, "%s: rank %zu, onnxgrad supports at most %d", where,
                      tp->n_dims, OG_MAX_RANK);
    og_status lst = og_check_rank_limit((int)tp->n_dims, where);
    if (lst)
        return lst;

    char dbuf[OG_SHAPE_STR_MAX];
    int64_t numel = 1, nbytes;
    for (size_t k = 0; k < tp->n_dims; k++) {
        if (tp->dims[k] < 0)
            return og_err(OG_ERR_PARSE, "%s: dims[%zu] = %" PRId64 " is negative (dims %s)", where, k,
                          tp->dims[k], dims_str(tp, dbuf, sizeof dbuf));
        if (!og_mul_ok(numel, tp->dims[k], &numel))
            return og_err(OG_ERR_PARSE, "%s: dims %s: element count overflows 64 bits", where,
                          dims_str(tp, dbuf, sizeof dbuf));
    }
    if (!og_mul_ok(numel, (int64_t)esize, &nbytes) || (uint64_t)nbytes > SIZE_MAX)
        return og_err(OG_ERR_PARSE, "%s: dims %s: %" PRId64 " elements of %s overflow the byte size",
                      where, dims_str(tp, dbuf, sizeof dbuf), numel, og_dtype_name(dt));

    enum typed want = typed_field_for(dt), have = T_NONE;
    for (int f = T_FLOAT; f <= T_UINT64; f++) {
        if (typed_count(tp, (enum typed)f) == 0)
            continue;
        if (have != T_NONE)
            return og_err(OG_ERR_PARSE, "%s: both %s and %s are set; expected only %s", where,
                          typed_name[have], typed_name[f], typed_name[want]);
        have = (enum typed)f;
    }
    if (tp->has_raw_data && have != T_NONE)
        return og_err(OG_ERR_PARSE, "%s: both raw_data and %s are set; expected one of them", where,
                      typed_name[have]);
    if (have != T_NONE && have != want)
        return og_err(OG_ERR_PARSE, "%s: %s given for a %s tensor; ONNX stores %s in %s", where,
                      typed_name[have], og_dtype_name(dt), og_dtype_name(dt), typed_name[want]);
    if (tp->has_raw_data && tp->raw_data.len != (size_t)nbytes)
        return og_err(OG_ERR_PARSE, "%s: raw_data has %zu bytes, expected %" PRId64 " (dims %s, %s, "
                      "%zu bytes each)", where, tp->raw_data.len, nbytes,
                      dims_str(tp, dbuf, sizeof dbuf), og_dtype_name(dt), esize);
    if (have != T_NONE && typed_count(tp, have) != (size_t)numel)
        return og_err(OG_ERR_PARSE, "%s: %s has %zu values, expected %" PRId64 " (dims %s)", where,
                      typed_name[have], typed_count(tp, have), numel, dims_str(tp, dbuf, sizeof dbuf));
    if (!external && !tp->has_raw_data && have == T_NONE && numel > 0)
        return og_err(OG_ERR_PARSE, "%s: no data: expected %" PRId64 " %s values in raw_data or %s",
                      where, numel, og_dtype_name(dt), typed_name[want]);

    if ((lst = og_check_numel_limit(numel, where)))
        return lst;
    int64_t dims[OG_MAX_RANK];
    for (size_t k = 0; k < tp->n_dims; k++)
        dims[k] = tp->dims[k];
    og_tensor *t;
    og_status st;
    if (external) {
        if ((st = og_extdata_open(ext, &ref, where, (uint64_t)nbytes, &ext_fd)) != OG_OK)
            return st;
        /* The file does not bound these bytes, so the parse-memory budget
         * grows by them: the tensor and the graph's copy of it. */
        og_alloc_budget_grant((size_t)nbytes);
        og_alloc_budget_grant((size_t)nbytes);
    }
    st = og_tensor_create(dt, (int)tp->n_dims, dims, &t);
    if (st != OG_OK) {
        if (ext_fd >= 0)
            close(ext_fd);
        return og_err_prefix("%s: ", where);
    }
    if (external) {
        st = og_extdata_read(ext_fd, &ref, where, t->data, (size_t)nbytes);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        if (st == OG_OK)
            swap_in_place(t->data, (size_t)numel, esize);
#endif
    } else if (tp->has_raw_data) {
        copy_le(t->data, tp->raw_data.data, (size_t)numel, esize);
    } else if (numel > 0) {
        st = fill_typed(tp, where, t);
    }
    if (st == OG_OK && tp->name && tp->name[0] && og_tensor_set_name(t, tp->name) != OG_OK)
        st = og_err_prefix("%s: ", where);
    if (st != OG_OK) {
        og_tensor_free(t);
        return st;
    }
    *out = t;
    return OG_OK;
}

og_status og_tensor_to_proto(const og_tensor *t, const char *name, Onnx__TensorProto *tp)
{
    size_t esize = og_dtype_size(t->dtype);
    if (esize == 0)
        return og_err(OG_ERR_UNSUPPORTED, "tensor '%s': data type %s cannot be saved",
                      name ? name : "", og_dtype_name(t->dtype));
    if (t->rank < 0 || t->rank > OG_MAX_RANK)
        return og_err(OG_ERR_INVALID_ARG, "tensor '%s': rank %d out of range", name ? name : "", t->rank);
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    if (t->rank > 0) {
        tp->dims = og_malloc((size_t)t->rank * sizeof(int64_t));
        if (!tp->dims)
            return og_err(OG_ERR_NOMEM, "tensor '%s': out of memory", name ? name : "");
        memcpy(tp->dims, t->dims, (size_t)t->rank * sizeof(int64_t));
        tp->n_dims = (size_t)t->rank;
    }
    if (name && name[0]) {
        tp->name = og_strdup(name);
        if (!tp->name)
            return og_err(OG_ERR_NOMEM, "tensor '%s': out of memory", name);
    }
    tp->has_raw_data = 1;
    tp->raw_data.len = (size_t)t->numel * esize;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    tp->raw_data.data = og_malloc(tp->raw_data.len ? tp->raw_data.len : 1);
    if (!tp->raw_data.data)
        return og_err(OG_ERR_NOMEM, "tensor '%s': out of memory", name ? name : "");
    copy_le(tp->raw_data.data, t->data, (size_t)t->numel, esize);
#else
    /* Borrowed: packing copies it, so no second copy of the weights. */
    static uint8_t none[1];
    tp->raw_data.data = tp->raw_data.len ? t->data : none;
#endif
    return OG_OK;
}

void og_tensor_proto_release(Onnx__TensorProto *tp)
{
    og_free(tp->dims);
    og_free(tp->name);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    og_free(tp->raw_data.data);
#endif
    tp->dims = NULL;
    tp->name = NULL;
    tp->raw_data.data = NULL;
}

og_status og_tensor_load_pb_memory(const void *data, size_t size, og_tensor **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_tensor_load_pb_memory: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return og_err(OG_ERR_INVALID_ARG, "og_tensor_load_pb_memory: data is NULL");
    ProtobufCMessage *msg;
    og_status st = og_wire_decode(data, size, OG_WIRE_TENSOR, &msg);
    if (st != OG_OK)
        return st;
    Onnx__TensorProto *tp = (Onnx__TensorProto *)msg;
    char where[300];
    snprintf(where, sizeof where, "tensor '%s'", tp->name ? tp->name : "");
    st = og_tensor_from_proto(tp, where, out);
    onnx__tensor_proto__free_unpacked(tp, og_protobuf_allocator());
    return st;
}

og_status og_tensor_load_pb(const char *path, og_tensor **out)
{
    if (!out || !path)
        return og_err(OG_ERR_INVALID_ARG, "og_tensor_load_pb: %s is NULL", path ? "out" : "path");
    *out = NULL;
    uint8_t *data;
    size_t size;
    og_status st = og_io_read_file(path, &data, &size);
    if (st == OG_OK) {
        st = og_tensor_load_pb_memory(data, size, out);
        og_free(data);
    }
    return st == OG_OK ? OG_OK : og_err_prefix("%s: ", path);
}

og_status og_tensor_save_pb(const og_tensor *t, const char *path)
{
    if (!t || !path)
        return og_err(OG_ERR_INVALID_ARG, "og_tensor_save_pb: %s is NULL", path ? "tensor" : "path");
    Onnx__TensorProto tp;
    onnx__tensor_proto__init(&tp);
    og_status st = og_tensor_to_proto(t, t->name, &tp);
    uint8_t *buf = NULL;
    size_t size = 0;
    if (st == OG_OK) {
        size = protobuf_c_message_get_packed_size(&tp.base);
        if (size > OG_MAX_FILE_BYTES)
            st = og_err(OG_ERR_LIMIT, "tensor '%s' encodes to %zu bytes; a TensorProto is at most 2 GiB",
                        t->name ? t->name : "", size);
    }
    if (st == OG_OK && !(buf = og_malloc(size ? size : 1)))
        st = og_err(OG_ERR_NOMEM, "out of memory encoding %zu bytes", size);
    if (st == OG_OK) {
        protobuf_c_message_pack(&tp.base, buf);
        st = og_io_write_file_atomic(path, buf, size);
    }
    og_free(buf);
    og_tensor_proto_release(&tp);
    return st == OG_OK ? OG_OK : og_err_prefix("%s: ", path);
}
