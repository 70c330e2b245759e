/* SPDX-License-Identifier: MIT */
/* npy.c — NumPy .npy read and write (onnxgrad/npy.h).
 *
 * Format (numpy.lib.format): "\x93NUMPY", major, minor, the header length
 * (uint16 LE in 1.0, uint32 LE in 2.0/3.0), then the header: a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a '\n' so the data starts aligned, then the data.
 * The header is parsed by a small literal parser (strings, True/False,
 * tuples of non-negative integers), never eval'd; every length and count
 * a file states is checked against the bytes that are there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "io.h"
#include "onnxgrad/npy.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_PREFIX 6

typedef struct npy_header {
    og_dtype dtype;
    size_t itemsize;
    bool swap;        /* big-endian data on this (little-endian) host, or vice versa */
    bool fortran;
    int rank;
    int64_t dims[OG_MAX_RANK];
} npy_header;

static bool host_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

/* ---- header parsing ------------------------------------------------------ */

typedef struct lexer {
    const char *s;
    size_t n, pos, base;   /* base: the header's offset in the file, for messages */
    const char *who;
} lexer;

static og_status bad(const lexer *L, const char *what)
{
    return og_err(OG_ERR_PARSE, "%s: offset %zu: .npy header: %s", L->who, L->base + L->pos, what);
}

static void skip_ws(lexer *L)
{
    while (L->pos < L->n && (L->s[L->pos] == ' ' || L->s[L->pos] == '\t' || L->s[L->pos] == '\n' ||
                             L->s[L->pos] == '\r'))
        L->pos++;
}

static bool eat(lexer *L, char c)
{
    skip_ws(L);
    if (L->pos < L->n && L->s[L->pos] == c) {
        L->pos++;
        return true;
    }
    return false;
}

/* A quoted string (no escapes: numpy's keys and descrs have none) into buf. */
static og_status read_string(lexer *L, char *buf, size_t size)
{
    skip_ws(L);
    if (L->pos >= L->n || (L->s[L->pos] != '\'' && L->s[L->pos] != '"'))
        return bad(L, "expected a quoted string");
    char q = L->s[L->pos++];
    size_t start = L->pos;
    while (L->pos < L->n && L->s[L->pos] != q) {
        if (L->s[L->pos] == '\\')
            return bad(L, "escapes in strings are not supported");
        L->pos++;
    }
    if (L->pos >= L->n)
        return bad(L, "unterminated string");
    size_t len = L->pos - start;
    L->pos++;
    if (len >= size)
        return bad(L, "string too long");
    memcpy(buf, L->s + start, len);
    buf[len] = '\0';
    return OG_OK;
}

static og_status read_bool(lexer *L, bool *v)
{
    skip_ws(L);
    if (L->n - L->pos >= 4 && !memcmp(L->s + L->pos, "True", 4)) {
        L->pos += 4, *v = true;
        return OG_OK;
    }
    if (L->n - L->pos >= 5 && !memcmp(L->s + L->pos, "False", 5)) {
        L->pos += 5, *v = false;
        return OG_OK;
    }
    return bad(L, "fortran_order must be True or False");
}

/* (d0, d1, ...) with the usual Python spellings: (), (3,), (2, 3). */
static og_status read_shape(lexer *L, npy_header *h)
{
    if (!eat(L, '('))
        return bad(L, "shape must be a tuple");
    h->rank = 0;
    int64_t numel = 1;
    while (!eat(L, ')')) {
        skip_ws(L);
        if (L->pos >= L->n || L->s[L->pos] < '0' || L->s[L->pos] > '9')
            return bad(L, "shape dims must be non-negative integers");
        int64_t d = 0;
        while (L->pos < L->n && L->s[L->pos] >= '0' && L->s[L->pos] <= '9') {
            if (!og_mul_ok(d, 10, &d) || !og_add_ok(d, L->s[L->pos] - '0', &d))
                return bad(L, "shape dim overflows int64");
            L->pos++;
        }
        if (L->pos < L->n && L->s[L->pos] == 'L')   /* Python 2 longs */
            L->pos++;
        if (h->rank >= OG_MAX_RANK)
            return bad(L, "more than 32 dims");
        h->dims[h->rank++] = d;
        if (!og_mul_ok(numel, d, &numel))
            return bad(L, "the shape's element count overflows int64");
        if (!eat(L, ',')) {
            if (!eat(L, ')'))
                return bad(L, "expected ',' or ')' in shape");
            break;
        }
    }
    return OG_OK;
}

static og_status parse_descr(const lexer *L, const char *d, npy_header *h)
{
    const char *orig = d;
    char order = d[0];
    if (order != '<' && order != '>' && order != '=' && order != '|')
        order = '=';
    else
        d++;
    char kind = d[0];
    char *end;
    long size = kind ? strtol(d + 1, &end, 10) : 0;
    bool ok = kind && d[1] && *end == '\0';
    og_dtype t = OG_UNDEFINED;
    if (ok && kind == 'f')
        t = size == 4 ? OG_FLOAT : size == 8 ? OG_DOUBLE : OG_UNDEFINED;
    else if (ok && kind == 'i')
        t = size == 1 ? OG_INT8 : size == 2 ? OG_INT16 : size == 4 ? OG_INT32 : size == 8 ? OG_INT64 : OG_UNDEFINED;
    else if (ok && kind == 'u')
        t = size == 1 ? OG_UINT8 : size == 2 ? OG_UINT16 : size == 4 ? OG_UINT32 : size == 8 ? OG_UINT64
                                                                                    : OG_UNDEFINED;
    else if (ok && kind == 'b')
        t = size == 1 ? OG_BOOL : OG_UNDEFINED;
    if (t == OG_UNDEFINED)
        return og_err(OG_ERR_UNSUPPORTED, "%s: unsupported type: .npy descr '%s' (onnxgrad reads float32/64, "
                      "int8/16/32/64, uint8/16/32/64 and bool)", L->who, orig);
    h->dtype = t;
    h->itemsize = (size_t)size;
    bool big = order == '>' || (order == '=' && host_big_endian());
    h->swap = size > 1 && big != host_big_endian();
    return OG_OK;
}

static og_status parse_dict(lexer *L, npy_header *h)
{
    bool have_descr = false, have_order = false, have_shape = false;
    char key[64], descr[64];
    og_status st;
    if (!eat(L, '{'))
        return bad(L, "expected '{'");
    while (!eat(L, '}')) {
        if ((st = read_string(L, key, sizeof key)))
            return st;
        if (!eat(L, ':'))
            return bad(L, "expected ':' after a key");
        if (!strcmp(key, "descr")) {
            skip_ws(L);
            if (L->pos < L->n && L->s[L->pos] == '[')
                return og_err(OG_ERR_UNSUPPORTED, "%s: unsupported type: structured .npy dtype", L->who);
            if ((st = read_string(L, descr, sizeof descr)))
                return st;
            have_descr = true;
        } else if (!strcmp(key, "fortran_order")) {
            if ((st = read_bool(L, &h->fortran)))
                return st;
            have_order = true;
        } else if (!strcmp(key, "shape")) {
            if ((st = read_shape(L, h)))
                return st;
            have_shape = true;
        } else {
            return bad(L, "unknown key (expected descr, fortran_order, shape)");
        }
        if (!eat(L, ',')) {
            if (!eat(L, '}'))
                return bad(L, "expected ',' or '}'");
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape)
        return bad(L, !have_descr ? "no 'descr'" : !have_order ? "no 'fortran_order'" : "no 'shape'");
    return parse_descr(L, descr, h);
}

/* ---- load ---------------------------------------------------------------- */

static void swap_bytes(uint8_t *p, size_t n, size_t size)
{
    for (size_t k = 0; k < n; k++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Column-major src into row-major dst. */
static void from_fortran(uint8_t *dst, const uint8_t *src, const npy_header *h, int64_t numel)
{
    int64_t idx[OG_MAX_RANK] = { 0 }, stride[OG_MAX_RANK];
    for (int k = 0; k < h->rank; k++)
        stride[k] = k ? stride[k - 1] * h->dims[k - 1] : 1;
    for (int64_t i = 0; i < numel; i++) {
        int64_t off = 0;
        for (int k = 0; k < h->rank; k++)
            off += idx[k] * stride[k];
        memcpy(dst + (size_t)i * h->itemsize, src + (size_t)off * h->itemsize, h->itemsize);
        for (int k = h->rank - 1; k >= 0 && ++idx[k] == h->dims[k]; k--)
            idx[k] = 0;
    }
}

static og_status load(const uint8_t *p, size_t size, const char *who, og_tensor **out)
{
    if (size < NPY_PREFIX || memcmp(p, NPY_MAGIC, NPY_PREFIX))
        return og_err(OG_ERR_PARSE, "%s: offset 0: not a .npy file (no \\x93NUMPY magic)", who);
    if (size < NPY_PREFIX + 2)
        return og_err(OG_ERR_PARSE, "%s: offset %d: truncated in the version", who, NPY_PREFIX);
    int major = p[6], minor = p[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return og_err(OG_ERR_PARSE, "%s: offset 6: .npy format version %d.%d (onnxgrad reads 1.0, 2.0, 3.0)", who,
                      major, minor);
    size_t lenbytes = major == 1 ? 2 : 4;
    if (size < 8 + lenbytes)
        return og_err(OG_ERR_PARSE, "%s: offset 8: truncated in the header length", who);
    size_t hlen = p[8] | (size_t)p[9] << 8;
    if (lenbytes == 4)
        hlen |= (size_t)p[10] << 16 | (size_t)p[11] << 24;
    size_t hstart = 8 + lenbytes;
    if (hlen > size - hstart)
        return og_err(OG_ERR_PARSE, "%s: offset 8: header length %zu runs past the end of the file (%zu bytes "
                      "left)", who, hlen, size - hstart);
    if (memchr(p + hstart, 0, hlen))
        return og_err(OG_ERR_PARSE, "%s: offset %zu: NUL byte in the .npy header", who,
                      hstart + (size_t)((const uint8_t *)memchr(p + hstart, 0, hlen) - (p + hstart)));
    npy_header h = { 0 };
    lexer L = { (const char *)p + hstart, hlen, 0, hstart, who };
    og_status st = parse_dict(&L, &h);
    if (st)
        return st;
    int64_t numel = 1;
    for (int k = 0; k < h.rank; k++)
        og_mul_ok(numel, h.dims[k], &numel);   /* checked by read_shape */
    if (og_check_rank_limit(h.rank, "npy") || og_check_numel_limit(numel, "npy"))
        return og_err_prefix("%s: ", who);
    size_t dstart = hstart + hlen, want;
    if (__builtin_mul_overflow((size_t)numel, h.itemsize, &want))
        return og_err(OG_ERR_PARSE, "%s: offset %zu: the shape's data size overflows", who, hstart);
    if (size - dstart != want)
        return og_err(OG_ERR_PARSE, "%s: offset %zu: the shape needs %zu data bytes, the file has %zu", who, dstart,
                      want, size - dstart);
    og_tensor *t;
    if ((st = og_tensor_create(h.dtype, h.rank, h.dims, &t)))
        return og_err_prefix("%s: ", who);
    if (h.fortran && h.rank > 1)
        from_fortran(t->data, p + dstart, &h, numel);
    else if (want)
        memcpy(t->data, p + dstart, want);
    if (h.swap)
        swap_bytes(t->data, (size_t)numel, h.itemsize);
    if (h.dtype == OG_BOOL)   /* onnxgrad's bools are 0/1 */
        for (int64_t k = 0; k < numel; k++)
            ((uint8_t *)t->data)[k] = ((uint8_t *)t->data)[k] != 0;
    *out = t;
    return OG_OK;
}

og_status og_tensor_load_npy_memory(const void *data, size_t size, og_tensor **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_tensor_load_npy_memory: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return og_err(OG_ERR_INVALID_ARG, "og_tensor_load_npy_memory: data is NULL");
    return load(data, size, "npy", out);
}

og_status og_tensor_load_npy(const char *path, og_tensor **out)
{
    if (!out || !path)
        return og_err(OG_ERR_INVALID_ARG, "og_tensor_load_npy: %s is NULL", path ? "out" : "path");
    *out = NULL;
    uint8_t *data;
    size_t size;
    og_status st = og_io_read_file(path, &data, &size);
    if (st)
        return og_err_prefix("%s: ", path);
    st = load(data, size, path, out);
    og_free(data);
    return st;
}

/* ---- save ---------------------------------------------------------------- */

static const char *descr_of(og_dtype t)
{
    switch (t) {
    case OG_FLOAT: return "<f4";
    case OG_DOUBLE: return "<f8";
    case OG_INT8: return "|i1";
    case OG_INT16: return "<i2";
    case OG_INT32: return "<i4";
    case OG_INT64: return "<i8";
    case OG_UINT8: return "|u1";
    case OG_UINT16: return "<u2";
    case OG_UINT32: return "<u4";
    case OG_UINT64: return "<u8";
    case OG_BOOL: return "|b1";
    default: return NULL;
    }
}

og_status og_tensor_save_npy(const og_tensor *t, const char *path)
{
    if (!t || !path)
        return og_err(OG_ERR_INVALID_ARG, "og_tensor_save_npy: %s is NULL", path ? "tensor" : "path");
    const char *descr = descr_of(t->dtype);
    if (!descr)
        return og_err(OG_ERR_UNSUPPORTED, "%s: unsupported type: %s tensors cannot be saved as .npy", path,
                      og_dtype_name(t->dtype));
    /* 32 dims of up to 20 digits: well under 1.0's 65535-byte header */
    char dict[1024];
    size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int k = 0; k < t->rank; k++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%lld,%s", (long long)t->dims[k],
                              k + 1 < t->rank ? " " : "");
    if (t->rank > 1)
        n--;   /* (2, 3) but (3,) */
    n += (size_t)snprintf(dict + n, sizeof dict - n, "), }");
    /* magic(6) + version(2) + length(2) + dict + spaces + '\n', to a multiple of 64 */
    size_t total = (10 + n + 1 + 63) / 64 * 64, hlen = total - 10;
    uint8_t head[1100];
    memcpy(head, NPY_MAGIC, NPY_PREFIX);
    head[6] = 1, head[7] = 0;
    head[8] = (uint8_t)(hlen & 0xff), head[9] = (uint8_t)(hlen >> 8);
    memcpy(head + 10, dict, n);
    memset(head + 10 + n, ' ', hlen - n - 1);
    head[total - 1] = '\n';
    size_t isz = og_dtype_size(t->dtype), bytes = (size_t)t->numel * isz;
    uint8_t *swapped = NULL;
    const void *data = t->data;
    if (host_big_endian() && isz > 1) {
        if (!(swapped = og_malloc(bytes ? bytes : 1)))
            return og_err(OG_ERR_NOMEM, "%s: out of memory", path);
        memcpy(swapped, t->data, bytes);
        swap_bytes(swapped, (size_t)t->numel, isz);
        data = swapped;
    }
    og_io_atomic w;
    og_status st = og_io_atomic_begin(&w, path);
    if (!st && !(st = og_io_atomic_write(&w, head, total)) && !(st = og_io_atomic_write(&w, data, bytes)))
        st = og_io_atomic_commit(&w);
    og_free(swapped);
    return st ? og_err_prefix("%s: ", path) : OG_OK;
}
