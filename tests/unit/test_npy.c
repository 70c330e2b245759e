/* SPDX-License-Identifier: MIT */
/* test_npy.c — .npy read/write (onnxgrad/npy.h): round trips of every
 * dtype, files numpy writes (versions 1.0/2.0/3.0, big-endian, Fortran
 * order) read back, files we write read by numpy, and hostile files
 * refused with the file and offset named. numpy comes from /usr/bin/python3
 * (the test-data interpreter); its checks are skipped with a note when it
 * is missing. */
#include "testutil.h"
#include <stdint.h>

#define TMP OG_TEST_TMP_DIR "/npy"

static bool have_numpy(void)
{
    static int have = -1;
    if (have < 0)
        have = system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
    if (!have)
        fprintf(stderr, "test_npy: note: /usr/bin/python3 has no numpy; its checks are skipped\n");
    return have;
}

static void py(const char *code)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && /usr/bin/python3 -c \"import numpy as np\n%s\"", TMP, code);
    ck_assert_msg(system(cmd) == 0, "python failed: %s", code);
}

static void setup(void)
{
    ck_assert_int_eq(system("mkdir -p " TMP), 0);
}

static const og_dtype ALL[] = { OG_FLOAT, OG_DOUBLE, OG_INT8, OG_INT16, OG_INT32, OG_INT64,
                                OG_UINT8, OG_UINT16, OG_UINT32, OG_UINT64, OG_BOOL };

static void fill(og_tensor *t)
{
    for (int64_t k = 0; k < t->numel; k++) {
        int64_t v = k * 7 % 13 - 3;
        switch (t->dtype) {
        case OG_FLOAT: ((float *)t->data)[k] = (float)v * 0.25f; break;
        case OG_DOUBLE: ((double *)t->data)[k] = (double)v / 3; break;
        case OG_INT8: ((int8_t *)t->data)[k] = (int8_t)v; break;
        case OG_INT16: ((int16_t *)t->data)[k] = (int16_t)(v * 1000); break;
        case OG_INT32: ((int32_t *)t->data)[k] = (int32_t)(v * 100000); break;
        case OG_INT64: ((int64_t *)t->data)[k] = v * INT64_C(10000000000); break;
        case OG_UINT8: ((uint8_t *)t->data)[k] = (uint8_t)(v + 3); break;
        case OG_UINT16: ((uint16_t *)t->data)[k] = (uint16_t)(v + 60000); break;
        case OG_UINT32: ((uint32_t *)t->data)[k] = (uint32_t)(v + 4000000000); break;
        case OG_UINT64: ((uint64_t *)t->data)[k] = (uint64_t)(v + 3) << 60; break;
        case OG_BOOL: ((uint8_t *)t->data)[k] = v > 0; break;
        default: break;
        }
    }
}

static void assert_same(const og_tensor *a, const og_tensor *b)
{
    ck_assert_int_eq(a->dtype, b->dtype);
    ck_assert_int_eq(a->rank, b->rank);
    for (int d = 0; d < a->rank; d++)
        ck_assert_int_eq(a->dims[d], b->dims[d]);
    ck_assert_int_eq(memcmp(a->data, b->data, (size_t)a->numel * og_dtype_size(a->dtype)), 0);
}

START_TEST(round_trip_every_dtype)
{
    const int64_t shapes[][3] = { { 2, 3, 4 }, { 5, 0, 0 }, { 0, 0, 0 } };
    const int ranks[] = { 3, 1, 0 };   /* [2,3,4], [5], a scalar */
    for (size_t i = 0; i < sizeof ALL / sizeof ALL[0]; i++)
        for (int s = 0; s < 3; s++) {
            og_tensor *t, *back;
            OG_CHECK(og_tensor_create(ALL[i], ranks[s], shapes[s], &t));
            fill(t);
            char path[512];
            snprintf(path, sizeof path, TMP "/rt_%d_%d.npy", (int)ALL[i], s);
            OG_CHECK(og_tensor_save_npy(t, path));
            OG_CHECK(og_tensor_load_npy(path, &back));
            assert_same(t, back);
            ck_assert_ptr_null(back->name);
            og_tensor_free(t);
            og_tensor_free(back);
        }
    /* an empty tensor */
    og_tensor *t, *back;
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, (const int64_t[]){ 3, 0 }, &t));
    OG_CHECK(og_tensor_save_npy(t, TMP "/empty.npy"));
    OG_CHECK(og_tensor_load_npy(TMP "/empty.npy", &back));
    assert_same(t, back);
    og_tensor_free(t);
    og_tensor_free(back);
}
END_TEST

START_TEST(numpy_reads_what_we_write)
{
    if (!have_numpy())
        return;
    for (size_t i = 0; i < sizeof ALL / sizeof ALL[0]; i++) {
        og_tensor *t;
        OG_CHECK(og_tensor_create(ALL[i], 2, (const int64_t[]){ 3, 4 }, &t));
        fill(t);
        char path[512];
        snprintf(path, sizeof path, TMP "/ours_%d.npy", (int)ALL[i]);
        OG_CHECK(og_tensor_save_npy(t, path));
        og_tensor_free(t);
    }
    /* numpy recomputes fill() and compares */
    py("v = (np.arange(12) * 7 % 13 - 3).reshape(3, 4)\n"
       "want = {1: (v * 0.25).astype('f4'), 11: v / 3, 3: v.astype('i1'), 5: (v * 1000).astype('i2'),\n"
       "        6: (v * 100000).astype('i4'), 7: v * 10000000000, 2: (v + 3).astype('u1'),\n"
       "        4: (v + 60000).astype('u2'), 12: (v + 4000000000).astype('u4'),\n"
       "        13: (v + 3).astype('u8') << np.uint64(60), 9: v > 0}\n"
       "for k, w in want.items():\n"
       "    a = np.load('ours_%d.npy' % k)\n"
       "    assert a.dtype == w.dtype and a.shape == w.shape and (a == w).all(), (k, a, w)\n");
}
END_TEST

START_TEST(we_read_what_numpy_writes)
{
    if (!have_numpy())
        return;
    py("a = np.arange(24).reshape(2, 3, 4)\n"
       "np.save('c_f4.npy', a.astype('<f4'))\n"
       "np.save('be_f8.npy', a.astype('>f8'))\n"
       "np.save('be_i2.npy', a.astype('>i2'))\n"
       "np.save('fortran_i4.npy', np.asfortranarray(a.astype('<i4')))\n"
       "np.save('fortran_be_u8.npy', np.asfortranarray(a.astype('>u8')))\n"
       "np.save('bool.npy', a % 3 == 0)\n"
       "np.save('scalar.npy', np.float64(2.5))\n"
       "for v in ((1, 0), (2, 0), (3, 0)):\n"
       "    with open('v%d.npy' % v[0], 'wb') as f:\n"
       "        np.lib.format.write_array(f, a.astype('<i8'), version=v)\n");
    const char *files[] = { "c_f4", "be_f8", "be_i2", "fortran_i4", "fortran_be_u8", "bool", "v1", "v2", "v3" };
    const og_dtype types[] = { OG_FLOAT, OG_DOUBLE, OG_INT16, OG_INT32, OG_UINT64, OG_BOOL, OG_INT64, OG_INT64,
                               OG_INT64 };
    for (int f = 0; f < 9; f++) {
        char path[512];
        og_tensor *t;
        snprintf(path, sizeof path, TMP "/%s.npy", files[f]);
        OG_CHECK(og_tensor_load_npy(path, &t));
        ck_assert_int_eq(t->dtype, types[f]);
        ck_assert_int_eq(t->rank, 3);
        ck_assert_int_eq(t->dims[0], 2);
        ck_assert_int_eq(t->dims[1], 3);
        ck_assert_int_eq(t->dims[2], 4);
        for (int64_t k = 0; k < 24; k++) {
            double v;
            switch (t->dtype) {
            case OG_FLOAT: v = ((float *)t->data)[k]; break;
            case OG_DOUBLE: v = ((double *)t->data)[k]; break;
            case OG_INT16: v = ((int16_t *)t->data)[k]; break;
            case OG_INT32: v = ((int32_t *)t->data)[k]; break;
            case OG_UINT64: v = (double)((uint64_t *)t->data)[k]; break;
            case OG_INT64: v = (double)((int64_t *)t->data)[k]; break;
            default: v = ((uint8_t *)t->data)[k]; break;
            }
            double want = t->dtype == OG_BOOL ? (k % 3 == 0) : (double)k;
            ck_assert_msg(v == want, "%s[%lld] = %g, want %g", files[f], (long long)k, v, want);
        }
        og_tensor_free(t);
    }
    og_tensor *s;
    OG_CHECK(og_tensor_load_npy(TMP "/scalar.npy", &s));
    ck_assert_int_eq(s->rank, 0);
    ck_assert(((double *)s->data)[0] == 2.5);
    og_tensor_free(s);
}
END_TEST

/* A v1.0 file with this header dict (padded as numpy pads) and data bytes. */
static size_t make(uint8_t *buf, const char *dict, size_t data_bytes)
{
    size_t n = strlen(dict), total = (10 + n + 1 + 63) / 64 * 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)((total - 10) & 0xff);
    buf[9] = (uint8_t)((total - 10) >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', total - 10 - n - 1);
    buf[total - 1] = '\n';
    memset(buf + total, 0, data_bytes);
    return total + data_bytes;
}

START_TEST(hostile_files)
{
    uint8_t buf[4096];
    og_tensor *t = (og_tensor *)1;
    size_t n = make(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
    OG_CHECK(og_tensor_load_npy_memory(buf, n, &t));
    og_tensor_free(t);
    /* data one byte short, one byte long */
    OG_CHECK_FAILS(og_tensor_load_npy_memory(buf, n - 1, &t), OG_ERR_PARSE,
                   "offset 128: the shape needs 24 data bytes, the file has 23");
    ck_assert_ptr_null(t);
    OG_CHECK_FAILS(og_tensor_load_npy_memory(buf, n + 1, &t), OG_ERR_PARSE, "the file has 25");
    /* truncated everywhere before the data: never a crash, always an offset */
    for (size_t cut = 0; cut < 128; cut++) {
        og_status st = og_tensor_load_npy_memory(buf, cut, &t);
        ck_assert_int_eq(st, OG_ERR_PARSE);
        ck_assert_msg(strstr(og_errmsg(), "offset ") != NULL, "cut %zu: %s", cut, og_errmsg());
    }
    /* bad magic, version, header length past the end */
    uint8_t bad[80];
    memcpy(bad, buf, 80);
    bad[1] = 'X';
    OG_CHECK_FAILS(og_tensor_load_npy_memory(bad, 80, &t), OG_ERR_PARSE, "offset 0: not a .npy file");
    memcpy(bad, buf, 80);
    bad[6] = 9;
    OG_CHECK_FAILS(og_tensor_load_npy_memory(bad, 80, &t), OG_ERR_PARSE, "format version 9.0");
    memcpy(bad, buf, 80);
    bad[8] = 0xff, bad[9] = 0xff;
    OG_CHECK_FAILS(og_tensor_load_npy_memory(bad, 80, &t), OG_ERR_PARSE, "offset 8: header length 65535 runs past");
    /* v2.0 with a 4 GiB header length */
    memcpy(bad, "\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
    OG_CHECK_FAILS(og_tensor_load_npy_memory(bad, 80, &t), OG_ERR_PARSE, "runs past the end");
    /* shape product overflow */
    n = make(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 0);
    OG_CHECK_FAILS(og_tensor_load_npy_memory(buf, n, &t), OG_ERR_PARSE, "element count overflows");
    n = make(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0);
    OG_CHECK_FAILS(og_tensor_load_npy_memory(buf, n, &t), OG_ERR_PARSE, "overflows int64");
    /* big but representable: the element limit, before any allocation */
    n = make(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627777,), }", 0);
    OG_CHECK_FAILS(og_tensor_load_npy_memory(buf, n, &t), OG_ERR_LIMIT, "tensor-elements");
    /* unsupported dtypes */
    n = make(buf, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4);
    OG_CHECK_FAILS(og_tensor_load_npy_memory(buf, n, &t), OG_ERR_UNSUPPORTED, "unsupported type: .npy descr '<f2'");
    n = make(buf, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16);
    OG_CHECK_FAILS(og_tensor_load_npy_memory(buf, n, &t), OG_ERR_UNSUPPORTED, "'<c8'");
    n = make(buf, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8);
    OG_CHECK_FAILS(og_tensor_load_npy_memory(buf, n, &t), OG_ERR_UNSUPPORTED, "structured");
    /* malformed dicts */
    const char *dicts[] = {
        "{'descr': '<f4', 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }",
        "['descr', '<f4']",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
        "1,1,1,1), }",
    };
    for (size_t k = 0; k < sizeof dicts / sizeof dicts[0]; k++) {
        n = make(buf, dicts[k], 8);
        og_status st = og_tensor_load_npy_memory(buf, n, &t);
        ck_assert_msg(st == OG_ERR_PARSE && strstr(og_errmsg(), "npy: offset "), "%s -> %s: %s", dicts[k],
                      og_status_name(st), og_errmsg());
        ck_assert_ptr_null(t);
    }
    /* from a file: the message names it */
    n = make(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20);
    FILE *f = fopen(TMP "/short.npy", "wb");
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    OG_CHECK_FAILS(og_tensor_load_npy(TMP "/short.npy", &t), OG_ERR_PARSE, TMP "/short.npy: offset 128: ");
    OG_CHECK_FAILS(og_tensor_load_npy(TMP "/missing.npy", &t), OG_ERR_IO, TMP "/missing.npy: ");
}
END_TEST

START_TEST(save_refuses_and_is_atomic)
{
    og_tensor *t, *back;
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, (const int64_t[]){ 4 }, &t));
    fill(t);
    OG_CHECK(og_tensor_save_npy(t, TMP "/keep.npy"));
    /* a save into a missing directory fails and leaves nothing behind */
    OG_CHECK_FAILS(og_tensor_save_npy(t, TMP "/no/such/dir/x.npy"), OG_ERR_IO, TMP "/no/such/dir/x.npy");
    OG_CHECK(og_tensor_load_npy(TMP "/keep.npy", &back));
    assert_same(t, back);
    og_tensor_free(back);
    og_tensor_free(t);
    OG_CHECK_FAILS(og_tensor_save_npy(NULL, TMP "/x.npy"), OG_ERR_INVALID_ARG, "tensor is NULL");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, round_trip_every_dtype);
    tcase_add_test(tc, numpy_reads_what_we_write);
    tcase_add_test(tc, we_read_what_numpy_writes);
    tcase_add_test(tc, hostile_files);
    tcase_add_test(tc, save_refuses_and_is_atomic);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
