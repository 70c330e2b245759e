/* SPDX-License-Identifier: MIT */
/* Hostile and malformed protobuf bytes: every one must fail cleanly with
 * the right status and a message that says what and where. The bytes are
 * written by hand here, so each test shows exactly what is wrong. */
#include <stdint.h>
#include <stdio.h>
#include "testutil.h"
#include "internal.h"

/* ---- a tiny protobuf writer ------------------------------------------------ */

typedef struct pb { uint8_t *b; size_t n, cap; } pb;

static void put(pb *p, const void *d, size_t n)
{
    if (n == 0)
        return;
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2 + 64;
        p->b = realloc(p->b, p->cap);
        ck_assert_ptr_nonnull(p->b);
    }
    memcpy(p->b + p->n, d, n);
    p->n += n;
}
static void put_byte(pb *p, uint8_t b) { put(p, &b, 1); }
static void varint(pb *p, uint64_t v)
{
    do {
        put_byte(p, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}
static void tag(pb *p, uint32_t field, unsigned wt) { varint(p, ((uint64_t)field << 3) | wt); }
static void f_varint(pb *p, uint32_t field, uint64_t v) { tag(p, field, 0); varint(p, v); }
static void f_bytes(pb *p, uint32_t field, const void *d, size_t n) { tag(p, field, 2); varint(p, n); put(p, d, n); }
static void f_str(pb *p, uint32_t field, const char *s) { f_bytes(p, field, s, strlen(s)); }
static void f_msg(pb *p, uint32_t field, pb *inner) { f_bytes(p, field, inner->b, inner->n); free(inner->b); *inner = (pb){0}; }
static void f_fixed32(pb *p, uint32_t field, const void *v4) { tag(p, field, 5); put(p, v4, 4); }

/* A model that loads: y = Relu(x), x float [2,3]. */
static pb valid_model(void)
{
    pb m = {0}, g = {0}, n = {0}, vi = {0}, ty = {0}, tt = {0}, sh = {0}, d = {0}, op = {0};
    f_str(&n, 1, "x"); f_str(&n, 2, "y"); f_str(&n, 4, "Relu");
    f_msg(&g, 1, &n);
    f_str(&g, 2, "g");
    for (int k = 0; k < 2; k++) {
        f_varint(&d, 1, k ? 3 : 2);
        f_msg(&sh, 1, &d);
    }
    f_varint(&tt, 1, 1); f_msg(&tt, 2, &sh); f_msg(&ty, 1, &tt);
    f_str(&vi, 1, "x"); f_msg(&vi, 2, &ty); f_msg(&g, 11, &vi);
    f_str(&vi, 1, "y"); f_msg(&g, 12, &vi);
    f_varint(&m, 1, 8);
    f_str(&op, 1, ""); f_varint(&op, 2, 17); f_msg(&m, 8, &op);
    f_msg(&m, 7, &g);
    return m;
}

static og_status load(pb *p)
{
    og_graph *g = NULL;
    og_status st = og_model_load_memory(p->b, p->n, &g);
    if (st == OG_OK)
        ck_assert_ptr_nonnull(g);
    else
        ck_assert_ptr_null(g);
    og_graph_free(g);
    free(p->b);
    *p = (pb){0};
    return st;
}

static og_status load_tensor(pb *p, og_tensor **out)
{
    og_status st = og_tensor_load_pb_memory(p->b, p->n, out);
    free(p->b);
    *p = (pb){0};
    return st;
}

/* ---- framing ------------------------------------------------------------- */

START_TEST(valid_model_loads)
{
    pb m = valid_model();
    OG_CHECK(load(&m));
}
END_TEST

START_TEST(unknown_fields_are_skipped)
{
    pb m = valid_model();
    f_varint(&m, 99, 5);                    /* unknown varint field */
    f_str(&m, 1000, "future");              /* unknown length-delimited field */
    uint32_t x = 7;
    f_fixed32(&m, 4095, &x);
    OG_CHECK(load(&m));
}
END_TEST

START_TEST(empty_file)
{
    og_graph *g = (og_graph *)1;
    OG_CHECK_FAILS(og_model_load_memory("", 0, &g), OG_ERR_PARSE, "empty (0 bytes)");
    ck_assert_ptr_null(g);
    char path[512];
    snprintf(path, sizeof path, "%s/wire_empty.onnx", OG_TEST_TMP_DIR);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    OG_CHECK_FAILS(og_model_load_file(path, &g), OG_ERR_PARSE, "wire_empty.onnx: empty");
    og_tensor *t;
    OG_CHECK_FAILS(og_tensor_load_pb(path, &t), OG_ERR_PARSE, "wire_empty.onnx: empty");
}
END_TEST

START_TEST(missing_file_names_it)
{
    og_graph *g;
    OG_CHECK_FAILS(og_model_load_file(OG_TEST_TMP_DIR "/no_such_model.onnx", &g), OG_ERR_IO,
                   "no_such_model.onnx: cannot open: No such file");
    OG_CHECK_FAILS(og_model_load_file(OG_TEST_TMP_DIR, &g), OG_ERR_IO, "not a regular file");
}
END_TEST

START_TEST(truncated_varint)
{
    pb m = {0};
    put(&m, "\x08\x80", 2);                 /* ir_version, varint cut off */
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "byte 1: ir_version: truncated varint");
    put(&m, "\x88", 1);                     /* a tag that never ends */
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "byte 0: ModelProto: truncated tag varint");
}
END_TEST

START_TEST(varint_of_11_bytes)
{
    pb m = {0};
    put(&m, "\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 12);
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "byte 1: ir_version: varint longer than 10 bytes");
    /* 10 bytes is the most a varint may have, and is fine. */
    m = valid_model();
    put(&m, "\x08\x88\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11);
    OG_CHECK(load(&m));
}
END_TEST

START_TEST(field_number_zero)
{
    pb m = {0};
    put(&m, "\x00\x01", 2);
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "byte 0: ModelProto: field number 0 out of range");
    varint(&m, (uint64_t)1 << 35);          /* a 6-byte tag */
    put_byte(&m, 0);
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "tag varint longer than 5 bytes");
    /* 2^29 is one past the largest field number. */
    varint(&m, ((uint64_t)1 << 29) << 3);
    put_byte(&m, 0);
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "field number 536870912 out of range");
}
END_TEST

START_TEST(invalid_wire_types)
{
    static const unsigned bad[] = { 3, 4, 6, 7 };
    for (int k = 0; k < 4; k++) {
        pb m = valid_model();
        size_t at = m.n;
        tag(&m, 2, bad[k]);
        put(&m, "\0\0\0\0\0\0\0\0", 8);
        char want[64];
        snprintf(want, sizeof want, "byte %zu: producer_name: wire type %u is not valid", at, bad[k]);
        OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, want);
    }
}
END_TEST

START_TEST(length_past_end)
{
    pb m = {0};
    put(&m, "\x3a\x05\x00", 3);             /* graph: 5 bytes promised, 1 there */
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "byte 1: graph: length 5 runs past the end of the enclosing "
                   "message (1 bytes left)");
    /* Inside a sub-message, the limit is the sub-message, not the file. */
    pb g = {0}, n = {0};
    f_str(&n, 4, "Relu");
    put(&n, "\x0a\x09x", 3);                /* node.input: 9 bytes promised */
    f_msg(&g, 1, &n);
    f_msg(&m, 7, &g);
    put(&m, "\0\0\0\0\0\0\0\0\0\0\0\0", 12); /* plenty of bytes after the graph */
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "graph.node[0].input: length 9 runs past the end");
}
END_TEST

START_TEST(fixed_value_past_end)
{
    pb m = {0}, g = {0}, n = {0}, a = {0};
    put(&a, "\x15\x00\x00", 3);             /* attribute.f: 4 bytes promised, 2 there */
    f_msg(&n, 5, &a);
    f_msg(&g, 1, &n);
    f_msg(&m, 7, &g);
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "graph.node[0].attribute[0].f: 4-byte value but only 2 bytes left");
}
END_TEST

START_TEST(wrong_wire_type_for_known_field)
{
    pb m = {0};
    f_varint(&m, 7, 1);                     /* graph as a varint */
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "byte 0: graph: wire type 0 (varint), expected 2 "
                   "(length-delimited, a message) for ModelProto.graph");

    /* Deep inside: graph.node[1].attribute[2].t.dims sent as 32-bit. */
    pb g = {0}, n0 = {0}, n = {0}, a = {0}, t = {0};
    f_str(&n0, 4, "Relu");
    f_msg(&g, 1, &n0);
    f_str(&n, 4, "Constant");
    for (int k = 0; k < 2; k++) {
        f_str(&a, 1, "x");
        f_msg(&n, 5, &a);
    }
    uint32_t four = 4;
    f_fixed32(&t, 1, &four);
    f_str(&a, 1, "value");
    f_msg(&a, 5, &t);
    f_msg(&n, 5, &a);
    f_msg(&g, 1, &n);
    f_msg(&m, 7, &g);
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "graph.node[1].attribute[2].t.dims: wire type 5 (32-bit), "
                   "expected 0 (varint) or 2 (packed) for TensorProto.dims");

    /* A string field sent as a varint. */
    pb o = {0};
    f_varint(&o, 1, 3);
    f_msg(&m, 8, &o);
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "opset_import[0].domain: wire type 0 (varint)");
}
END_TEST

START_TEST(packed_data_checked)
{
    pb t = {0};
    f_varint(&t, 2, 1);
    f_bytes(&t, 4, "\0\0\0\0\0\0", 6);       /* float_data: 6 bytes */
    og_tensor *out;
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "float_data: packed length 6 is not a multiple of 4");
    f_varint(&t, 2, 7);
    f_bytes(&t, 7, "\x01\x80", 2);          /* int64_data: last varint unterminated */
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "int64_data: truncated varint in packed data");
}
END_TEST

/* graph.node[0].attribute[0].g.node[0].attribute[0].g... `levels` times. */
static pb nested_model(int levels)
{
    pb g = {0};
    f_str(&g, 2, "inner");
    for (int k = 0; k < levels; k++) {
        pb a = {0}, n = {0};
        f_str(&a, 1, "then_branch");
        f_varint(&a, 20, 5);
        f_msg(&a, 6, &g);
        f_str(&n, 4, "If");
        f_msg(&n, 5, &a);
        f_msg(&g, 1, &n);
    }
    pb m = {0};
    f_varint(&m, 1, 8);
    f_msg(&m, 7, &g);
    return m;
}

START_TEST(nesting_5000_deep_fails_cleanly)
{
    /* protobuf-c alone would recurse 5,000 frames deep here. */
    pb m = nested_model(5000 / 3);
    ck_assert_uint_lt(m.n, 64 * 1024);
    OG_CHECK_FAILS(load(&m), OG_ERR_LIMIT, "messages nested more than 100 deep");
    m = nested_model(5000 / 3);
    load(&m);
    ck_assert_ptr_nonnull(strstr(og_errmsg(), ": graph.node[0].attribute[0].g.node[0].attribute[0].g."));

    /* The same through a TypeProto chain (sequence of sequence of ...). */
    pb ty = {0}, tt = {0};
    f_varint(&tt, 1, 1);
    f_msg(&ty, 1, &tt);
    for (int k = 0; k < 5000; k++) {
        pb s = {0}, outer = {0};
        f_msg(&s, 1, &ty);
        f_msg(&outer, 4, &s);
        ty = outer;
    }
    pb vi = {0}, g = {0};
    f_str(&vi, 1, "x");
    f_msg(&vi, 2, &ty);
    f_msg(&g, 11, &vi);
    f_msg(&m, 7, &g);
    OG_CHECK_FAILS(load(&m), OG_ERR_LIMIT, "graph.input[0].type.sequence_type.elem_type.sequence_type");
}
END_TEST

START_TEST(nesting_within_limit_reaches_the_loader)
{
    /* 10 subgraph levels = 31 messages deep: framing is fine, and the
     * loader then says clearly that subgraphs are not supported. */
    pb m = nested_model(10);
    pb op = {0};
    f_varint(&op, 2, 17);
    f_msg(&m, 8, &op);
    OG_CHECK_FAILS(load(&m), OG_ERR_UNSUPPORTED, "graph.node[0] '' (If).attribute[0] 'then_branch': "
                   "attributes of type GRAPH are not supported");
}
END_TEST

/* ---- tensor contents ----------------------------------------------------- */

static pb tensor(int dtype, int rank, const int64_t *dims)
{
    pb t = {0};
    for (int k = 0; k < rank; k++)
        f_varint(&t, 1, (uint64_t)dims[k]);
    f_varint(&t, 2, (uint64_t)dtype);
    f_str(&t, 8, "W");
    return t;
}

START_TEST(raw_data_size_mismatch)
{
    pb t = tensor(OG_FLOAT, 2, (int64_t[]){ 2, 3 });
    f_bytes(&t, 9, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
    og_tensor *out = NULL;
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE,
                   "tensor 'W': raw_data has 20 bytes, expected 24 (dims [2,3], float, 4 bytes each)");
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(typed_count_mismatch)
{
    pb t = tensor(OG_INT64, 1, (int64_t[]){ 3 });
    f_bytes(&t, 7, "\x01\x02", 2);
    og_tensor *out;
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "tensor 'W': int64_data has 2 values, expected 3");
    t = tensor(OG_FLOAT, 1, (int64_t[]){ 2 });
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "tensor 'W': no data: expected 2 float values");
    t = tensor(OG_FLOAT, 1, (int64_t[]){ 1 });
    f_bytes(&t, 7, "\x01", 1);
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "int64_data given for a float tensor");
    t = tensor(OG_INT8, 1, (int64_t[]){ 2 });
    f_bytes(&t, 5, "\x01\xac\x02", 3);      /* 1, 300 */
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "int32_data[1] = 300 is out of range for int8");
}
END_TEST

START_TEST(negative_dim)
{
    pb t = tensor(OG_FLOAT, 2, (int64_t[]){ 2, -3 });
    og_tensor *out;
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "tensor 'W': dims[1] = -3 is negative (dims [2,-3])");
}
END_TEST

START_TEST(overflowing_dims)
{
    int64_t big = (int64_t)1 << 40;
    pb t = tensor(OG_FLOAT, 2, (int64_t[]){ big, big });
    og_tensor *out;
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "element count overflows 64 bits");
    /* Elements fit in 64 bits, bytes do not: still refused before allocating. */
    t = tensor(OG_DOUBLE, 2, (int64_t[]){ (int64_t)1 << 31, (int64_t)1 << 31 });
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "overflow the byte size");
    /* A huge but representable size with a tiny raw_data: a size mismatch,
     * and nothing of 2^40 bytes is allocated. */
    t = tensor(OG_UINT8, 1, &big);
    f_bytes(&t, 9, "\0", 1);
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "raw_data has 1 bytes, expected 1099511627776");
}
END_TEST

START_TEST(both_raw_and_typed)
{
    pb t = tensor(OG_FLOAT, 1, (int64_t[]){ 1 });
    f_bytes(&t, 9, "\0\0\0\0", 4);
    f_bytes(&t, 4, "\0\0\0\0", 4);
    og_tensor *out;
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "tensor 'W': both raw_data and float_data are set");
    t = tensor(OG_INT64, 1, (int64_t[]){ 1 });
    f_bytes(&t, 7, "\x01", 1);
    f_bytes(&t, 5, "\x01", 1);
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "both int32_data and int64_data are set");
}
END_TEST

START_TEST(external_data_unsupported)
{
    pb t = tensor(OG_FLOAT, 1, (int64_t[]){ 4 });
    pb kv = {0};
    f_str(&kv, 1, "location");
    f_str(&kv, 2, "weights.bin");
    f_msg(&t, 13, &kv);
    f_varint(&t, 14, 1);
    og_tensor *out;
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_UNSUPPORTED,
                   "tensor 'W': data is stored in an external file ('weights.bin'); external data is not supported");
}
END_TEST

START_TEST(missing_or_unknown_data_type)
{
    pb t = {0};
    f_varint(&t, 1, 2);
    og_tensor *out;
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_PARSE, "data_type is missing");
    f_varint(&t, 2, 17);
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_UNSUPPORTED, "data_type 17 is not an ONNX type");
    f_varint(&t, 2, OG_STRING);
    OG_CHECK_FAILS(load_tensor(&t, &out), OG_ERR_UNSUPPORTED, "data type string is not supported");
}
END_TEST

START_TEST(bad_initializer_named_in_model)
{
    pb m = valid_model();
    pb g = {0}, t = tensor(OG_FLOAT, 1, (int64_t[]){ -1 });
    f_msg(&g, 5, &t);
    f_msg(&m, 7, &g);                       /* merges into the earlier graph */
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "graph.initializer[0] 'W': dims[0] = -1 is negative");
}
END_TEST

START_TEST(model_level_checks)
{
    pb m = {0};
    f_varint(&m, 1, 8);
    OG_CHECK_FAILS(load(&m), OG_ERR_PARSE, "ModelProto.graph is missing");
    pb v = valid_model(), g = {0}, vi = {0}, ty = {0}, sq = {0};
    f_msg(&ty, 4, &sq);
    f_str(&vi, 1, "s");
    f_msg(&vi, 2, &ty);
    f_msg(&g, 11, &vi);
    f_msg(&v, 7, &g);
    OG_CHECK_FAILS(load(&v), OG_ERR_UNSUPPORTED, "graph.input[1] 's': type is a sequence; onnxgrad supports only tensors");
    v = valid_model();
    pb f = {0};
    f_str(&f, 1, "Relu");
    f_msg(&v, 25, &f);
    OG_CHECK_FAILS(load(&v), OG_ERR_UNSUPPORTED, "graph.node[0] '' (Relu): calls the model-local function 'Relu'");
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("framing");
    tcase_add_test(tc, valid_model_loads);
    tcase_add_test(tc, unknown_fields_are_skipped);
    tcase_add_test(tc, empty_file);
    tcase_add_test(tc, missing_file_names_it);
    tcase_add_test(tc, truncated_varint);
    tcase_add_test(tc, varint_of_11_bytes);
    tcase_add_test(tc, field_number_zero);
    tcase_add_test(tc, invalid_wire_types);
    tcase_add_test(tc, length_past_end);
    tcase_add_test(tc, fixed_value_past_end);
    tcase_add_test(tc, wrong_wire_type_for_known_field);
    tcase_add_test(tc, packed_data_checked);
    tcase_add_test(tc, nesting_5000_deep_fails_cleanly);
    tcase_add_test(tc, nesting_within_limit_reaches_the_loader);
    suite_add_tcase(s, tc);
    tc = tcase_create("contents");
    tcase_add_test(tc, raw_data_size_mismatch);
    tcase_add_test(tc, typed_count_mismatch);
    tcase_add_test(tc, negative_dim);
    tcase_add_test(tc, overflowing_dims);
    tcase_add_test(tc, both_raw_and_typed);
    tcase_add_test(tc, external_data_unsupported);
    tcase_add_test(tc, missing_or_unknown_data_type);
    tcase_add_test(tc, bad_initializer_named_in_model);
    tcase_add_test(tc, model_level_checks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(wire_suite());
}
