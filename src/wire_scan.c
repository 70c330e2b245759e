/* SPDX-License-Identifier: MIT */
/* wire_scan.c — checks protobuf bytes against the ONNX schema's framing
 * before protobuf-c decodes them.
 *
 * Why: protobuf-c 1.4.1 recurses once per nested message with no limit (a
 * 34 KB file nested 5,000 deep overflows the stack) and a failed unpack
 * says nothing about what or where. This walk uses an explicit stack, so
 * its depth is bounded by OG_LIMIT_NESTING_DEPTH, and it reports the byte
 * offset and the field path of the first problem.
 *
 * The table below mirrors schemas/onnx.proto: for every message, each
 * field's number, name, wire shape and (for sub-messages) type. Keep the two
 * in step. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "onnx.pb-c.h"
#include "wire_scan.h"

enum kind {
    K_VARINT,   /* wire type 0 */
    K_I32,      /* wire type 5 */
    K_I64,      /* wire type 1 */
    K_LEN,      /* wire type 2: a text string (names, doc strings): no NUL bytes */
    K_BYTES,    /* wire type 2: bytes, any content */
    K_MSG,      /* wire type 2: sub-message, descended into */
    K_PVARINT,  /* repeated varint scalar: 0, or 2 when packed */
    K_PI32,     /* repeated 32-bit scalar: 5, or 2 when packed */
    K_PI64      /* repeated 64-bit scalar: 1, or 2 when packed */
};

enum msg {
    M_MODEL, M_GRAPH, M_NODE, M_ATTR, M_VALUE_INFO, M_TRAINING, M_STRING_PAIR,
    M_TENSOR_ANNOTATION, M_TENSOR, M_SEGMENT, M_SPARSE, M_SHAPE, M_DIM, M_TYPE,
    M_TYPE_TENSOR, M_TYPE_SEQUENCE, M_TYPE_MAP, M_TYPE_OPTIONAL, M_TYPE_SPARSE,
    M_OPSET, M_FUNCTION
};

typedef struct field_desc {
    uint32_t num;
    const char *name;
    uint8_t kind;
    uint8_t sub;        /* enum msg, for K_MSG */
    bool repeated;
} field_desc;

typedef struct msg_desc {
    const char *name;
    const field_desc *fields;
    int n_fields;
} msg_desc;

#define MAX_FIELDS 18   /* AttributeProto has the most */

#define ONE(n, name, kind) {n, name, kind, 0, false}
#define REP(n, name, kind) {n, name, kind, 0, true}
#define SUB(n, name, sub) {n, name, K_MSG, sub, false}
#define SUBS(n, name, sub) {n, name, K_MSG, sub, true}

static const field_desc f_model[] = {
    ONE(1, "ir_version", K_VARINT), SUBS(8, "opset_import", M_OPSET),
    ONE(2, "producer_name", K_LEN), ONE(3, "producer_version", K_LEN),
    ONE(4, "domain", K_LEN), ONE(5, "model_version", K_VARINT), ONE(6, "doc_string", K_LEN),
    SUB(7, "graph", M_GRAPH), SUBS(14, "metadata_props", M_STRING_PAIR),
    SUBS(20, "training_info", M_TRAINING), SUBS(25, "functions", M_FUNCTION),
};
static const field_desc f_graph[] = {
    SUBS(1, "node", M_NODE), ONE(2, "name", K_LEN), SUBS(5, "initializer", M_TENSOR),
    SUBS(15, "sparse_initializer", M_SPARSE), ONE(10, "doc_string", K_LEN),
    SUBS(11, "input", M_VALUE_INFO), SUBS(12, "output", M_VALUE_INFO),
    SUBS(13, "value_info", M_VALUE_INFO),
    SUBS(14, "quantization_annotation", M_TENSOR_ANNOTATION),
};
static const field_desc f_node[] = {
    REP(1, "input", K_LEN), REP(2, "output", K_LEN), ONE(3, "name", K_LEN),
    ONE(4, "op_type", K_LEN), ONE(7, "domain", K_LEN), SUBS(5, "attribute", M_ATTR),
    ONE(6, "doc_string", K_LEN),
};
static const field_desc f_attr[] = {
    ONE(1, "name", K_LEN), ONE(21, "ref_attr_name", K_LEN), ONE(13, "doc_string", K_LEN),
    ONE(20, "type", K_VARINT), ONE(2, "f", K_I32), ONE(3, "i", K_VARINT), ONE(4, "s", K_BYTES),
    SUB(5, "t", M_TENSOR), SUB(6, "g", M_GRAPH), SUB(22, "sparse_tensor", M_SPARSE),
    SUB(14, "tp", M_TYPE), REP(7, "floats", K_PI32), REP(8, "ints", K_PVARINT),
    REP(9, "strings", K_BYTES), SUBS(10, "tensors", M_TENSOR), SUBS(11, "graphs", M_GRAPH),
    SUBS(23, "sparse_tensors", M_SPARSE), SUBS(15, "type_protos", M_TYPE),
};
static const field_desc f_value_info[] = {
    ONE(1, "name", K_LEN), SUB(2, "type", M_TYPE), ONE(3, "doc_string", K_LEN),
};
static const field_desc f_training[] = {
    SUB(1, "initialization", M_GRAPH), SUB(2, "algorithm", M_GRAPH),
    SUBS(3, "initialization_binding", M_STRING_PAIR), SUBS(4, "update_binding", M_STRING_PAIR),
};
static const field_desc f_string_pair[] = {
    ONE(1, "key", K_LEN), ONE(2, "value", K_LEN),
};
static const field_desc f_tensor_annotation[] = {
    ONE(1, "tensor_name", K_LEN), SUBS(2, "quant_parameter_tensor_names", M_STRING_PAIR),
};
static const field_desc f_tensor[] = {
    REP(1, "dims", K_PVARINT), ONE(2, "data_type", K_VARINT), SUB(3, "segment", M_SEGMENT),
    REP(4, "float_data", K_PI32), REP(5, "int32_data", K_PVARINT),
    REP(6, "string_data", K_BYTES), REP(7, "int64_data", K_PVARINT), ONE(8, "name", K_LEN),
    ONE(12, "doc_string", K_LEN), ONE(9, "raw_data", K_BYTES),
    SUBS(13, "external_data", M_STRING_PAIR), ONE(14, "data_location", K_VARINT),
    REP(10, "double_data", K_PI64), REP(11, "uint64_data", K_PVARINT),
};
static const field_desc f_segment[] = {
    ONE(1, "begin", K_VARINT), ONE(2, "end", K_VARINT),
};
static const field_desc f_sparse[] = {
    SUB(1, "values", M_TENSOR), SUB(2, "indices", M_TENSOR), REP(3, "dims", K_PVARINT),
};
static const field_desc f_shape[] = {
    SUBS(1, "dim", M_DIM),
};
static const field_desc f_dim[] = {
    ONE(1, "dim_value", K_VARINT), ONE(2, "dim_param", K_LEN), ONE(3, "denotation", K_LEN),
};
static const field_desc f_type[] = {
    SUB(1, "tensor_type", M_TYPE_TENSOR), SUB(4, "sequence_type", M_TYPE_SEQUENCE),
    SUB(5, "map_type", M_TYPE_MAP), SUB(9, "optional_type", M_TYPE_OPTIONAL),
    SUB(8, "sparse_tensor_type", M_TYPE_SPARSE), ONE(6, "denotation", K_LEN),
};
static const field_desc f_type_tensor[] = {
    ONE(1, "elem_type", K_VARINT), SUB(2, "shape", M_SHAPE),
};
static const field_desc f_type_sequence[] = {
    SUB(1, "elem_type", M_TYPE),
};
static const field_desc f_type_map[] = {
    ONE(1, "key_type", K_VARINT), SUB(2, "value_type", M_TYPE),
};
static const field_desc f_opset[] = {
    ONE(1, "domain", K_LEN), ONE(2, "version", K_VARINT),
};
static const field_desc f_function[] = {
    ONE(1, "name", K_LEN), REP(4, "input", K_LEN), REP(5, "output", K_LEN),
    REP(6, "attribute", K_LEN), SUBS(7, "node", M_NODE), ONE(8, "doc_string", K_LEN),
    SUBS(9, "opset_import", M_OPSET), ONE(10, "domain", K_LEN),
};

#define MSG(name, f) {name, f, (int)(sizeof f / sizeof f[0])}
static const msg_desc messages[] = {
    [M_MODEL] = MSG("ModelProto", f_model),
    [M_GRAPH] = MSG("GraphProto", f_graph),
    [M_NODE] = MSG("NodeProto", f_node),
    [M_ATTR] = MSG("AttributeProto", f_attr),
    [M_VALUE_INFO] = MSG("ValueInfoProto", f_value_info),
    [M_TRAINING] = MSG("TrainingInfoProto", f_training),
    [M_STRING_PAIR] = MSG("StringStringEntryProto", f_string_pair),
    [M_TENSOR_ANNOTATION] = MSG("TensorAnnotation", f_tensor_annotation),
    [M_TENSOR] = MSG("TensorProto", f_tensor),
    [M_SEGMENT] = MSG("TensorProto.Segment", f_segment),
    [M_SPARSE] = MSG("SparseTensorProto", f_sparse),
    [M_SHAPE] = MSG("TensorShapeProto", f_shape),
    [M_DIM] = MSG("TensorShapeProto.Dimension", f_dim),
    [M_TYPE] = MSG("TypeProto", f_type),
    [M_TYPE_TENSOR] = MSG("TypeProto.Tensor", f_type_tensor),
    [M_TYPE_SEQUENCE] = MSG("TypeProto.Sequence", f_type_sequence),
    [M_TYPE_MAP] = MSG("TypeProto.Map", f_type_map),
    [M_TYPE_OPTIONAL] = MSG("TypeProto.Optional", f_type_sequence),
    [M_TYPE_SPARSE] = MSG("TypeProto.SparseTensor", f_type_tensor),
    [M_OPSET] = MSG("OperatorSetIdProto", f_opset),
    [M_FUNCTION] = MSG("FunctionProto", f_function),
};

/* protobuf-c's struct for each message, for the decode-memory estimate. */
static const size_t msg_bytes[] = {
    [M_MODEL] = sizeof(Onnx__ModelProto), [M_GRAPH] = sizeof(Onnx__GraphProto),
    [M_NODE] = sizeof(Onnx__NodeProto), [M_ATTR] = sizeof(Onnx__AttributeProto),
    [M_VALUE_INFO] = sizeof(Onnx__ValueInfoProto), [M_TRAINING] = sizeof(Onnx__TrainingInfoProto),
    [M_STRING_PAIR] = sizeof(Onnx__StringStringEntryProto), [M_TENSOR_ANNOTATION] = sizeof(Onnx__TensorAnnotation),
    [M_TENSOR] = sizeof(Onnx__TensorProto), [M_SEGMENT] = sizeof(Onnx__TensorProto__Segment),
    [M_SPARSE] = sizeof(Onnx__SparseTensorProto), [M_SHAPE] = sizeof(Onnx__TensorShapeProto),
    [M_DIM] = sizeof(Onnx__TensorShapeProto__Dimension), [M_TYPE] = sizeof(Onnx__TypeProto),
    [M_TYPE_TENSOR] = sizeof(Onnx__TypeProto__Tensor), [M_TYPE_SEQUENCE] = sizeof(Onnx__TypeProto__Sequence),
    [M_TYPE_MAP] = sizeof(Onnx__TypeProto__Map), [M_TYPE_OPTIONAL] = sizeof(Onnx__TypeProto__Optional),
    [M_TYPE_SPARSE] = sizeof(Onnx__TypeProto__SparseTensor), [M_OPSET] = sizeof(Onnx__OperatorSetIdProto),
    [M_FUNCTION] = sizeof(Onnx__FunctionProto),
};
_Static_assert(sizeof msg_bytes / sizeof msg_bytes[0] == sizeof messages / sizeof messages[0], "msg_bytes");

_Static_assert(sizeof f_attr / sizeof f_attr[0] <= MAX_FIELDS, "raise MAX_FIELDS");
_Static_assert(sizeof f_tensor / sizeof f_tensor[0] <= MAX_FIELDS, "raise MAX_FIELDS");

/* One message being walked. */
typedef struct frame {
    uint8_t msg;                 /* enum msg */
    int8_t field;                /* index of this message's field in the parent's table */
    uint32_t index;              /* occurrence of that field in the parent (for [k]) */
    size_t end;                  /* offset just past this message */
    uint32_t seen[MAX_FIELDS];   /* occurrences of each field so far */
} frame;

typedef struct scanner {
    const uint8_t *p;
    int depth;                   /* frames in use */
    int max_depth;               /* OG_LIMIT_NESTING_DEPTH when the scan began */
    size_t decoded;              /* estimate of what protobuf-c will allocate */
    frame st[];                  /* max_depth frames */
} scanner;

/* "graph.node[12].attribute[3]" + "." + leaf (leaf may be NULL). */
static void path_str(const scanner *s, const char *leaf, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int d = 1; d < s->depth && n < size; d++) {
        const field_desc *f = &messages[s->st[d - 1].msg].fields[s->st[d].field];
        int w = f->repeated
            ? snprintf(buf + n, size - n, "%s%s[%" PRIu32 "]", n ? "." : "", f->name, s->st[d].index)
            : snprintf(buf + n, size - n, "%s%s", n ? "." : "", f->name);
        if (w < 0)
            return;
        n += (size_t)w;
    }
    if (leaf && n < size)
        snprintf(buf + n, size - n, "%s%s", n ? "." : "", leaf);
    if (buf[0] == '\0')
        snprintf(buf, size, "%s", messages[s->st[0].msg].name);
}

#define PATH_MAX_LEN 512

static og_status fail(const scanner *s, og_status code, size_t at, const char *leaf,
                      const char *what)
{
    char path[PATH_MAX_LEN];
    path_str(s, leaf, path, sizeof path);
    return og_err(code, "byte %zu: %s: %s", at, path, what);
}

enum { V_OK, V_TRUNCATED, V_TOO_LONG };

/* Reads a varint of at most max_bytes starting at *pos, not reading at or
 * past end. */
static int read_varint(const uint8_t *p, size_t *pos, size_t end, int max_bytes, uint64_t *v)
{
    uint64_t x = 0;
    for (int k = 0; k < max_bytes; k++) {
        if (*pos + (size_t)k >= end)
            return V_TRUNCATED;
        uint8_t b = p[*pos + (size_t)k];
        if (k < 10)
            x |= (uint64_t)(b & 0x7f) << (7 * k);
        if (!(b & 0x80)) {
            *pos += (size_t)k + 1;
            *v = x;
            return V_OK;
        }
    }
    /* The byte after the last allowed one would continue it. */
    return V_TOO_LONG;
}

static const char *wire_name(unsigned wt)
{
    switch (wt) {
    case 0: return "0 (varint)";
    case 1: return "1 (64-bit)";
    case 2: return "2 (length-delimited)";
    case 5: return "5 (32-bit)";
    default: return "?";
    }
}

static const char *kind_expect(uint8_t kind)
{
    switch (kind) {
    case K_VARINT: return "0 (varint)";
    case K_I32: return "5 (32-bit)";
    case K_I64: return "1 (64-bit)";
    case K_LEN: case K_BYTES: return "2 (length-delimited)";
    case K_MSG: return "2 (length-delimited, a message)";
    case K_PVARINT: return "0 (varint) or 2 (packed)";
    case K_PI32: return "5 (32-bit) or 2 (packed)";
    default: return "1 (64-bit) or 2 (packed)";
    }
}

static bool kind_allows(uint8_t kind, unsigned wt)
{
    switch (kind) {
    case K_VARINT: return wt == 0;
    case K_I32: return wt == 5;
    case K_I64: return wt == 1;
    case K_LEN: case K_BYTES: case K_MSG: return wt == 2;
    case K_PVARINT: return wt == 0 || wt == 2;
    case K_PI32: return wt == 5 || wt == 2;
    default: return wt == 1 || wt == 2;
    }
}

/* Checks the body of a packed repeated scalar field. */
static og_status check_packed(const scanner *s, const field_desc *f, size_t start, size_t len)
{
    char what[160];
    if (f->kind == K_PI32 || f->kind == K_PI64) {
        size_t w = f->kind == K_PI32 ? 4 : 8;
        if (len % w == 0)
            return OG_OK;
        snprintf(what, sizeof what, "packed length %zu is not a multiple of %zu", len, w);
        return fail(s, OG_ERR_PARSE, start, f->name, what);
    }
    size_t pos = start, end = start + len;
    while (pos < end) {
        size_t at = pos;
        uint64_t v;
        int r = read_varint(s->p, &pos, end, 10, &v);
        if (r == V_TRUNCATED)
            return fail(s, OG_ERR_PARSE, at, f->name, "truncated varint in packed data");
        if (r == V_TOO_LONG)
            return fail(s, OG_ERR_PARSE, at, f->name, "varint longer than 10 bytes in packed data");
    }
    return OG_OK;
}

static void add(size_t *acc, size_t n) { *acc = *acc > SIZE_MAX - n ? SIZE_MAX : *acc + n; }

/* What protobuf-c allocates for one occurrence of field f (NULL: unknown,
 * kept as a ProtobufCMessageUnknownField) with a wire payload of len
 * bytes: a struct per sub-message, a copy per string or bytes, element
 * arrays per repeated scalar (a packed varint can hold len elements), and
 * a slot in the parent's array per repeated entry. */
static size_t decoded_bytes(const field_desc *f, unsigned wt, size_t len)
{
    if (!f)
        return sizeof(ProtobufCMessageUnknownField) + len;
    size_t slot = f->repeated ? sizeof(void *) : 0, n;
    switch (f->kind) {
    case K_MSG: return msg_bytes[f->sub] + slot;
    case K_LEN: return len + 1 + slot;
    case K_BYTES: return len + (f->repeated ? sizeof(ProtobufCBinaryData) : 0);
    case K_PVARINT: case K_PI32: case K_PI64:
        if (wt != 2)
            return sizeof(uint64_t);
        n = f->kind == K_PVARINT ? len : f->kind == K_PI32 ? len / 4 : len / 8;
        return n > SIZE_MAX / sizeof(uint64_t) ? SIZE_MAX : n * sizeof(uint64_t);
    default: return 0;   /* scalars live in the struct */
    }
}

og_status og_wire_scan(const uint8_t *data, size_t size, og_wire_root root)
{
    return og_wire_scan_ex(data, size, root, NULL);
}

og_status og_wire_scan_ex(const uint8_t *data, size_t size, og_wire_root root, size_t *decoded)
{
    /* The frame table (~10 KB at the default depth) is kept off the C
     * stack so deep callers and small thread stacks are not at risk. */
    int max_depth = (int)og_limit_get(OG_LIMIT_NESTING_DEPTH);
    if (max_depth < 1)
        max_depth = 1;
    scanner *s = og_calloc(1, sizeof *s + (size_t)max_depth * sizeof(frame));
    if (!s)
        return og_err(OG_ERR_NOMEM, "out of memory scanning %zu bytes", size);
    s->p = data;
    s->max_depth = max_depth;
    s->depth = 1;
    s->st[0].msg = root == OG_WIRE_TENSOR ? M_TENSOR : M_MODEL;
    s->decoded = msg_bytes[s->st[0].msg];
    s->st[0].field = -1;
    s->st[0].end = size;

    og_status st = OG_OK;
    size_t pos = 0;
    char what[200], leafbuf[40];
    while (st == OG_OK) {
        frame *fr = &s->st[s->depth - 1];
        if (pos == fr->end) {
            if (s->depth == 1)
                break;
            s->depth--;
            continue;
        }
        size_t at = pos;
        uint64_t tag;
        /* protobuf-c reads tags and lengths as at most 5-byte varints. */
        int r = read_varint(data, &pos, fr->end, 5, &tag);
        if (r != V_OK) {
            st = fail(s, OG_ERR_PARSE, at, NULL, r == V_TRUNCATED
                      ? "truncated tag varint (message ends inside it)"
                      : "tag varint longer than 5 bytes");
            break;
        }
        uint64_t num = tag >> 3;
        unsigned wt = (unsigned)(tag & 7);
        if (num < 1 || num > (1u << 29) - 1) {
            snprintf(what, sizeof what, "field number %" PRIu64 " out of range 1..536870911", num);
            st = fail(s, OG_ERR_PARSE, at, NULL, what);
            break;
        }
        const msg_desc *md = &messages[fr->msg];
        const field_desc *f = NULL;
        int fi = -1;
        for (int k = 0; k < md->n_fields; k++)
            if (md->fields[k].num == num) {
                f = &md->fields[k];
                fi = k;
                break;
            }
        const char *leaf = f ? f->name : (snprintf(leafbuf, sizeof leafbuf, "field %" PRIu64, num), leafbuf);
        if (wt == 3 || wt == 4 || wt == 6 || wt == 7) {
            snprintf(what, sizeof what, "wire type %u is not valid%s", wt,
                     wt == 3 || wt == 4 ? " (groups are not used by ONNX)" : "");
            st = fail(s, OG_ERR_PARSE, at, leaf, what);
            break;
        }
        if (f && !kind_allows(f->kind, wt)) {
            snprintf(what, sizeof what, "wire type %s, expected %s for %s.%s",
                     wire_name(wt), kind_expect(f->kind), md->name, f->name);
            st = fail(s, OG_ERR_PARSE, at, leaf, what);
            break;
        }
        uint32_t occurrence = f ? fr->seen[fi]++ : 0;
        if (wt != 2)
            add(&s->decoded, decoded_bytes(f, wt, 8));
        size_t left = fr->end - pos;
        uint64_t v;
        switch (wt) {
        case 0:
            r = read_varint(data, &pos, fr->end, 10, &v);
            if (r != V_OK)
                st = fail(s, OG_ERR_PARSE, pos, leaf, r == V_TRUNCATED
                          ? "truncated varint (message ends inside it)"
                          : "varint longer than 10 bytes");
            break;
        case 1:
        case 5: {
            size_t w = wt == 1 ? 8 : 4;
            if (left < w) {
                snprintf(what, sizeof what, "%zu-byte value but only %zu bytes left in the message", w, left);
                st = fail(s, OG_ERR_PARSE, pos, leaf, what);
            } else {
                pos += w;
            }
            break;
        }
        default: { /* 2 */
            size_t lat = pos;
            r = read_varint(data, &pos, fr->end, 5, &v);
            if (r != V_OK) {
                st = fail(s, OG_ERR_PARSE, lat, leaf, r == V_TRUNCATED
                          ? "truncated length varint (message ends inside it)"
                          : "length varint longer than 5 bytes");
                break;
            }
            left = fr->end - pos;
            if (v > left) {
                snprintf(what, sizeof what, "length %" PRIu64 " runs past the end of the enclosing "
                         "message (%zu bytes left)", v, left);
                st = fail(s, OG_ERR_PARSE, lat, leaf, what);
                break;
            }
            size_t len = (size_t)v;
            add(&s->decoded, decoded_bytes(f, wt, len));
            if (f && f->kind == K_MSG) {
                if (s->depth >= s->max_depth) {
                    snprintf(what, sizeof what, "messages nested more than %d deep "
                             OG_LIMIT_HINT("nesting-depth", "NESTING_DEPTH"), s->max_depth);
                    st = fail(s, OG_ERR_LIMIT, at, leaf, what);
                    break;
                }
                frame *child = &s->st[s->depth++];
                memset(child, 0, sizeof *child);
                child->msg = f->sub;
                child->field = (int8_t)fi;
                child->index = occurrence;
                child->end = pos + len;
                break;   /* pos stays at the child's first byte */
            }
            /* C strings end at NUL, so a name holding one would silently
             * become another name. */
            if (f && f->kind == K_LEN && memchr(data + pos, 0, len))
                st = fail(s, OG_ERR_PARSE, pos, leaf, "text field contains a NUL byte");
            else if (f && f->kind != K_LEN && f->kind != K_BYTES)
                st = check_packed(s, f, pos, len);
            pos += len;
            break;
        }
        }
    }
    if (decoded)
        *decoded = s->decoded;
    og_free(s);
    return st;
}

size_t og_parse_budget(size_t size)
{
    size_t factor = (size_t)og_limit_get(OG_LIMIT_PARSE_MEMORY_FACTOR), budget;
    if (__builtin_mul_overflow(factor, size, &budget)
        || __builtin_add_overflow(budget, (size_t)og_limit_get(OG_LIMIT_PARSE_MEMORY_BASE), &budget))
        budget = SIZE_MAX;
    return budget;
}

og_status og_parse_memory_error(size_t need, size_t size)
{
    char needs[80] = "loading needs more memory than";
    if (need)
        snprintf(needs, sizeof needs, "decoding needs about %zu bytes, over", need);
    return og_err(OG_ERR_LIMIT, "%s the parse-memory limit of %zu bytes (%lld x %zu file bytes + %lld: "
                  "parse-memory-factor x file bytes + parse-memory-base); raise it with --limit "
                  "parse-memory-factor=N or OG_LIMIT_PARSE_MEMORY_FACTOR=N (og_limit(OG_LIMIT_PARSE_MEMORY_FACTOR, "
                  "N) in C), or likewise parse-memory-base", needs, og_parse_budget(size),
                  (long long)og_limit_get(OG_LIMIT_PARSE_MEMORY_FACTOR), size,
                  (long long)og_limit_get(OG_LIMIT_PARSE_MEMORY_BASE));
}

og_status og_wire_decode(const uint8_t *data, size_t size, og_wire_root root, ProtobufCMessage **out)
{
    *out = NULL;
    const char *what = root == OG_WIRE_TENSOR ? "TensorProto" : "ModelProto";
    const ProtobufCMessageDescriptor *desc =
        root == OG_WIRE_TENSOR ? &onnx__tensor_proto__descriptor : &onnx__model_proto__descriptor;
    if (size == 0)
        return og_err(OG_ERR_PARSE, "empty (0 bytes); expected %s", root == OG_WIRE_TENSOR ? "a TensorProto"
                                                                                           : "an ONNX ModelProto");
    int64_t limit = og_limit_get(OG_LIMIT_FILE_BYTES);
    if ((uint64_t)size > (uint64_t)limit)
        return og_err(OG_ERR_LIMIT, "%s is %zu bytes, over the limit of %" PRId64 " bytes "
                      OG_LIMIT_HINT("file-bytes", "FILE_BYTES"),
                      root == OG_WIRE_TENSOR ? "TensorProto" : "model", size, limit);
    size_t decoded = 0;
    og_status st = og_wire_scan_ex(data, size, root, &decoded);
    if (st != OG_OK)
        return st;
    /* protobuf-c's structs for a message of empty fields can be a hundred
     * times its bytes; the scan's estimate refuses that before protobuf-c
     * allocates it, the allocator's count if the estimate fell short. */
    size_t budget = og_parse_budget(size);
    if (decoded > budget)
        return og_parse_memory_error(decoded, size);
    og_alloc_budget_begin(budget);
    unsigned long failed_before = og_alloc_failures();
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, og_protobuf_allocator(), size, data);
    if (og_alloc_budget_end()) {
        if (m)
            protobuf_c_message_free_unpacked(m, og_protobuf_allocator());
        return og_parse_memory_error(0, size);
    }
    if (!m && og_alloc_failures() != failed_before)
        return og_err(OG_ERR_NOMEM, "out of memory decoding the %s (%zu bytes)", what, size);
    if (!m)
        return og_err(OG_ERR_PARSE, "protobuf-c could not decode the %s (%zu bytes, framing valid)", what, size);
    *out = m;
    return OG_OK;
}
