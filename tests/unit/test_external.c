/* SPDX-License-Identifier: MIT */
/* External tensor data: og_model_save_file_ex -> og_model_load_file round
 * trips (same tensors, same results, same bytes when saved again), files
 * that python3-onnx writes and reads, memory loads with and without a base
 * directory, and every rejection: location text (empty, absolute, '..',
 * '.', empty components, backslash, NUL, too long), keys (unknown,
 * repeated, missing location), offset/length (not decimal, negative,
 * overflowing, past the end, length vs the tensor's size), fields that
 * contradict each other, and what is on disk (symbolic link to the file or
 * a parent, FIFO, socket, device when mknod is allowed, directory, hard
 * link, missing file). */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <protobuf-c/protobuf-c.h>
#include "testutil.h"
#include "internal.h"
#include "onnx.pb-c.h"

#define DIR_ OG_TEST_TMP_DIR "/ext"
#define MODEL DIR_ "/m.onnx"
#define WEIGHTS DIR_ "/weights.bin"

/* ---- helpers ---------------------------------------------------------------- */


static float w_value(int k) { return (float)k * 0.25f - 100.0f; }

/* y = Gemm(x [1,64], W [64,32], C [32]): W (8 KiB) goes external at the
 * default 1024-byte threshold, C (128 bytes) stays inline. */
static og_graph *gemm_model(void)
{
    og_graph *g;
    og_tensor *w, *c;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, (int64_t[]){ 1, 64 }, NULL));
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, (int64_t[]){ 64, 32 }, &w));
    for (int k = 0; k < 64 * 32; k++)
        ((float *)w->data)[k] = w_value(k);
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ 32 }, &c));
    for (int k = 0; k < 32; k++)
        ((float *)c->data)[k] = (float)k;
    OG_CHECK(og_graph_add_initializer(g, "W", w));
    OG_CHECK(og_graph_add_initializer(g, "C", c));
    og_tensor_free(w);
    og_tensor_free(c);
    OG_CHECK(og_graph_add_node(g, "Gemm", NULL, "gemm", 3, (const char *[]){ "x", "W", "C" }, 1,
                               (const char *[]){ "y" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static og_save_options ext_opts(const char *file)
{
    og_save_options so = OG_SAVE_OPTIONS_INIT;
    so.external_data_file = file;
    return so;
}

/* Runs g on a fixed x; *y is the caller's. */
static void run_model(const og_graph *g, og_tensor **y)
{
    og_plan *p;
    og_tensor *x;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, (int64_t[]){ 1, 64 }, &x));
    for (int k = 0; k < 64; k++)
        ((float *)x->data)[k] = (float)(k % 7) - 3.0f;
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const[]){ x }, y));
    og_tensor_free(x);
    og_plan_free(p);
}

static void assert_same_tensor(const og_tensor *a, const og_tensor *b)
{
    ck_assert_int_eq(a->dtype, b->dtype);
    ck_assert_int_eq(a->rank, b->rank);
    for (int k = 0; k < a->rank; k++)
        ck_assert_int_eq(a->dims[k], b->dims[k]);
    ck_assert(memcmp(a->data, b->data, (size_t)a->numel * og_dtype_size(a->dtype)) == 0);
}

/* The bytes of MODEL as saved by setup(). */
static void *base;
static size_t base_size;

/* Every test starts from a fresh DIR_ holding m.onnx + weights.bin. */
static void setup(void)
{
    ck_assert_int_eq(system("rm -rf '" DIR_ "'"), 0);
    ck_assert_int_eq(mkdir(DIR_, 0755), 0);
    og_graph *g = gemm_model();
    og_save_options so = ext_opts("weights.bin");
    OG_CHECK(og_model_save_file_ex(g, MODEL, &so));
    og_graph_free(g);
    base = og_test_read_file(MODEL, &base_size);
}

static void teardown(void)
{
    free(base);
    base = NULL;
}

/* ---- round trips ------------------------------------------------------------ */

START_TEST(round_trip_gives_same_tensors_results_and_bytes)
{
    og_graph *g = gemm_model(), *back;
    /* W went to weights.bin at offset 0; C stayed in the model. */
    size_t n;
    void *data = og_test_read_file(WEIGHTS, &n);
    ck_assert_uint_eq(n, 64 * 32 * sizeof(float));
    ck_assert_float_eq(((float *)data)[5], w_value(5));
    free(data);
    ck_assert_uint_lt(base_size, 1024);

    OG_CHECK(og_model_load_file(MODEL, &back));
    ck_assert_int_eq(og_graph_num_initializers(back), 2);
    for (int k = 0; k < 2; k++) {
        const og_tensor *a, *b;
        OG_CHECK(og_graph_initializer(g, k, &a));
        OG_CHECK(og_graph_initializer(back, k, &b));
        assert_same_tensor(a, b);
    }
    og_tensor *ya, *yb;
    run_model(g, &ya);
    run_model(back, &yb);
    assert_same_tensor(ya, yb);
    og_tensor_free(ya);
    og_tensor_free(yb);

    /* Saved again, under another name: the same model bytes but for the
     * data file's name, and the same data. */
    og_save_options so = ext_opts("weights.bin");
    OG_CHECK(og_model_save_file_ex(back, DIR_ "/again.onnx", &so));
    void *again = og_test_read_file(DIR_ "/again.onnx", &n);
    ck_assert_uint_eq(n, base_size);
    ck_assert(memcmp(again, base, n) == 0);
    free(again);
    og_graph_free(back);
    og_graph_free(g);
}
END_TEST

START_TEST(data_file_in_a_subdirectory_and_alignment)
{
    og_graph *g = gemm_model(), *back;
    ck_assert_int_eq(mkdir(DIR_ "/data", 0755), 0);
    og_save_options so = ext_opts("data/all.bin");
    so.external_min_bytes = 1;   /* C too: W at 0, C at the next 4096 boundary */
    OG_CHECK(og_model_save_file_ex(g, DIR_ "/sub.onnx", &so));
    size_t n;
    void *data = og_test_read_file(DIR_ "/data/all.bin", &n);
    ck_assert_uint_eq(n, 8192 + 128);
    ck_assert_float_eq(((float *)data)[8192 / 4 + 3], 3.0f);
    free(data);
    OG_CHECK(og_model_load_file(DIR_ "/sub.onnx", &back));
    const og_tensor *c;
    OG_CHECK(og_graph_initializer(back, 1, &c));
    ck_assert_float_eq(((float *)c->data)[31], 31.0f);
    og_graph_free(back);

    /* Nothing qualifies: no data file, everything inline, the same bytes
     * as og_model_save_file. */
    so = ext_opts("none.bin");
    so.external_min_bytes = 1 << 20;
    OG_CHECK(og_model_save_file_ex(g, DIR_ "/inline.onnx", &so));
    ck_assert_int_ne(access(DIR_ "/none.bin", F_OK), 0);
    void *mem;
    OG_CHECK(og_model_save_memory(g, &mem, &n));
    size_t fn;
    void *file = og_test_read_file(DIR_ "/inline.onnx", &fn);
    ck_assert_uint_eq(n, fn);
    ck_assert(memcmp(mem, file, n) == 0);
    free(file);
    og_free(mem);
    /* NULL options: og_model_save_file. */
    OG_CHECK(og_model_save_file_ex(g, DIR_ "/inline2.onnx", NULL));
    file = og_test_read_file(DIR_ "/inline2.onnx", &fn);
    ck_assert_uint_eq(n, fn);
    free(file);
    og_graph_free(g);
}
END_TEST

START_TEST(memory_load_needs_a_base_directory)
{
    og_graph *g = (og_graph *)1;
    OG_CHECK_FAILS(og_model_load_memory(base, base_size, &g), OG_ERR_INVALID_ARG,
                   "graph.initializer[0] 'W': data is in the external file 'weights.bin', which needs a base "
                   "directory");
    ck_assert_ptr_null(g);
    OG_CHECK_FAILS(og_model_load_memory_ex(base, base_size, NULL, &g), OG_ERR_INVALID_ARG,
                   "og_load_options.base_dir");
    og_load_options lo = OG_LOAD_OPTIONS_INIT;
    OG_CHECK_FAILS(og_model_load_memory_ex(base, base_size, &lo, &g), OG_ERR_INVALID_ARG,
                   "needs a base directory");
    lo.base_dir = DIR_;
    OG_CHECK(og_model_load_memory_ex(base, base_size, &lo, &g));
    const og_tensor *w;
    OG_CHECK(og_graph_initializer(g, 0, &w));
    ck_assert_float_eq(((float *)w->data)[2047], w_value(2047));
    og_graph_free(g);
    lo.base_dir = DIR_ "/nowhere";
    OG_CHECK_FAILS(og_model_load_memory_ex(base, base_size, &lo, &g), OG_ERR_IO,
                   "cannot open the model's directory '" DIR_ "/nowhere'");
    og_load_options zero = { 0 };
    OG_CHECK_FAILS(og_model_load_memory_ex(base, base_size, &zero, &g), OG_ERR_INVALID_ARG,
                   "initialize the options with OG_LOAD_OPTIONS_INIT");
    /* A model without external data needs no base directory. */
    og_graph *plain = gemm_model();
    void *d;
    size_t n;
    OG_CHECK(og_model_save_memory(plain, &d, &n));
    OG_CHECK(og_model_load_memory(d, n, &g));
    og_graph_free(g);
    og_free(d);
    og_graph_free(plain);
}
END_TEST

/* ---- python3-onnx interoperability ----------------------------------------- */

static const char py_script[] =
    "import sys\n"
    "import numpy as np\n"
    "import onnx\n"
    "from onnx import helper, numpy_helper, TensorProto\n"
    "mode, path = sys.argv[1], sys.argv[2]\n"
    "if mode == 'read':\n"
    "    onnx.checker.check_model(path)\n"
    "    m = onnx.load(path)\n"
    "    w = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}\n"
    "    ok = w['W'].shape == (64, 32) and float(w['W'][1, 2]) == (34 * 0.25 - 100) and w['C'].shape == (32,)\n"
    "    sys.exit(0 if ok else 1)\n"
    "w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), 'W')\n"
    "b = numpy_helper.from_array(np.arange(4, dtype=np.float32), 'B')\n"
    "g = helper.make_graph([helper.make_node('Gemm', ['x', 'W', 'B'], ['y'])], 'g',\n"
    "                      [helper.make_tensor_value_info('x', TensorProto.FLOAT, [2, 3])],\n"
    "                      [helper.make_tensor_value_info('y', TensorProto.FLOAT, [2, 4])], [w, b])\n"
    "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])\n"
    "m.ir_version = 8\n"
    "onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,\n"
    "                location='py.data', size_threshold=0)\n";

static int run_python(const char *mode, const char *path)
{
    og_test_write_file(DIR_ "/ext_check.py", py_script, sizeof py_script - 1);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 " DIR_ "/ext_check.py %s '%s'", mode, path);
    int rc = system(cmd);
    return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

START_TEST(python_onnx_reads_ours_and_we_read_theirs)
{
    ck_assert_msg(run_python("read", MODEL) == 0, "python3-onnx could not read %s with external data", MODEL);
    const char *theirs = DIR_ "/py.onnx";
    ck_assert_msg(run_python("write", theirs) == 0, "python3-onnx could not write %s", theirs);
    ck_assert_int_eq(access(DIR_ "/py.data", F_OK), 0);
    og_graph *g;
    OG_CHECK(og_model_load_file(theirs, &g));
    const og_tensor *w, *b;
    OG_CHECK(og_graph_initializer(g, 0, &w));
    OG_CHECK(og_graph_initializer(g, 1, &b));
    for (int k = 0; k < 12; k++)
        ck_assert_float_eq(((float *)w->data)[k], (float)k);
    ck_assert_float_eq(((float *)b->data)[3], 3.0f);
    og_graph_free(g);
}
END_TEST

/* ---- rejections in the model's text ------------------------------------------- */

typedef struct kv { const char *key, *value; } kv;

enum tweak { NONE, NO_DATA_LOCATION, DATA_LOCATION_7, RAW_TOO, FLOATS_TOO };

typedef struct variant {
    int n;              /* external_data entries */
    kv e[4];
    enum tweak tweak;
    og_status st;
    const char *needle;
} variant;

#define W_ "graph.initializer[0] 'W': "
#define LOC(v) { "location", v }
static const variant variants[] = {
    { 1, { LOC("") }, NONE, OG_ERR_PARSE, W_ "external data location '': the location is empty" },
    { 1, { LOC("/etc/passwd") }, NONE, OG_ERR_PARSE,
      W_ "external data location '/etc/passwd': absolute paths are not allowed" },
    { 1, { LOC("../secret.bin") }, NONE, OG_ERR_PARSE,
      W_ "external data location '../secret.bin': '..' is not allowed; external data must stay inside the "
         "model's directory" },
    { 1, { LOC("sub/../weights.bin") }, NONE, OG_ERR_PARSE, "'sub/../weights.bin': '..' is not allowed" },
    { 1, { LOC("..") }, NONE, OG_ERR_PARSE, "'..': '..' is not allowed" },
    { 1, { LOC("./weights.bin") }, NONE, OG_ERR_PARSE, "'./weights.bin': '.' components are not allowed" },
    { 1, { LOC("sub//weights.bin") }, NONE, OG_ERR_PARSE, "'sub//weights.bin': empty path components" },
    { 1, { LOC("sub/") }, NONE, OG_ERR_PARSE, "'sub/': empty path components" },
    { 1, { LOC("sub\\weights.bin") }, NONE, OG_ERR_PARSE, "backslashes are not allowed" },
    { 2, { LOC("weights.bin"), { "sha256", "00" } }, NONE, OG_ERR_PARSE,
      W_ "external_data[1]: unknown key 'sha256' (expected location, offset, length or checksum)" },
    { 2, { LOC("weights.bin"), { "", "x" } }, NONE, OG_ERR_PARSE, "external_data[1]: unknown key ''" },
    { 2, { LOC("weights.bin"), LOC("weights.bin") }, NONE, OG_ERR_PARSE,
      W_ "external_data[1]: key 'location' is given twice" },
    { 3, { LOC("weights.bin"), { "offset", "0" }, { "offset", "0" } }, NONE, OG_ERR_PARSE,
      "external_data[2]: key 'offset' is given twice" },
    { 1, { { "offset", "0" } }, NONE, OG_ERR_PARSE, W_ "external_data has no 'location' key" },
    { 2, { LOC("weights.bin"), { "offset", "abc" } }, NONE, OG_ERR_PARSE,
      W_ "external data 'weights.bin': offset 'abc' is not a decimal byte count" },
    { 2, { LOC("weights.bin"), { "offset", "-1" } }, NONE, OG_ERR_PARSE, "offset '-1' is not a decimal" },
    { 2, { LOC("weights.bin"), { "offset", "+1" } }, NONE, OG_ERR_PARSE, "offset '+1' is not a decimal" },
    { 2, { LOC("weights.bin"), { "offset", "" } }, NONE, OG_ERR_PARSE, "offset '' is not a decimal" },
    { 2, { LOC("weights.bin"), { "offset", " 1" } }, NONE, OG_ERR_PARSE, "offset ' 1' is not a decimal" },
    { 2, { LOC("weights.bin"), { "offset", "0x10" } }, NONE, OG_ERR_PARSE, "offset '0x10' is not a decimal" },
    { 2, { LOC("weights.bin"), { "offset", "9223372036854775808" } }, NONE, OG_ERR_PARSE,
      "offset '9223372036854775808' is not a decimal byte count (digits only, at most 9223372036854775807)" },
    { 2, { LOC("weights.bin"), { "length", "8192x" } }, NONE, OG_ERR_PARSE,
      "length '8192x' is not a decimal" },
    { 2, { LOC("weights.bin"), { "length", "12" } }, NONE, OG_ERR_PARSE,
      W_ "external data 'weights.bin': length is 12 bytes, expected 8192 (the tensor's size)" },
    { 2, { LOC("weights.bin"), { "offset", "9223372036854775807" } }, NONE, OG_ERR_PARSE,
      "offset 9223372036854775807 + 8192 bytes overflows a file offset" },
    { 1, { LOC("weights.bin") }, NO_DATA_LOCATION, OG_ERR_PARSE,
      W_ "external_data is given but data_location is not EXTERNAL (1)" },
    { 0, { { NULL, NULL } }, NONE, OG_ERR_PARSE, W_ "data_location is EXTERNAL but external_data is empty" },
    { 1, { LOC("weights.bin") }, DATA_LOCATION_7, OG_ERR_PARSE,
      W_ "data_location 7 is neither DEFAULT (0) nor EXTERNAL (1)" },
    { 1, { LOC("weights.bin") }, RAW_TOO, OG_ERR_PARSE,
      W_ "both raw_data and external data ('weights.bin') are given; expected one of them" },
    { 1, { LOC("weights.bin") }, FLOATS_TOO, OG_ERR_PARSE,
      W_ "both float_data and external data ('weights.bin') are given" },
    /* On disk: */
    { 3, { LOC("weights.bin"), { "offset", "4096" }, { "length", "8192" } }, NONE, OG_ERR_IO,
      W_ "external data 'weights.bin': offset 4096 + length 8192 = 12288 is past the end of the file (8192 bytes)" },
    { 2, { LOC("weights.bin"), { "offset", "4" } }, NONE, OG_ERR_IO,
      "offset 4 + 8192 bytes (the tensor's size) = 8196 is past the end of the file (8192 bytes)" },
    { 1, { LOC("nope.bin") }, NONE, OG_ERR_IO, W_ "external data 'nope.bin': cannot open: No such file" },
    { 1, { LOC("nope/w.bin") }, NONE, OG_ERR_IO, "cannot open directory 'nope': No such file" },
    { 1, { LOC("weights.bin/w.bin") }, NONE, OG_ERR_IO, "'weights.bin' is a regular file, not a directory" },
    /* Accepted: */
    { 1, { LOC("weights.bin") }, NONE, OG_OK, "" },
    { 3, { LOC("weights.bin"), { "offset", "0" }, { "checksum", "da39a3ee5e6b4b0d3255bfef95601890afd80709" } },
      NONE, OG_OK, "" },
    { 3, { LOC("weights.bin"), { "offset", "00" }, { "length", "8192" } }, NONE, OG_OK, "" },
};
#define N_VARIANTS ((int)(sizeof variants / sizeof variants[0]))

/* Writes `path`: the base model with initializer 0 changed per v. The
 * unpacked message is put back as it was before it is freed. */
static void write_variant(const char *path, const variant *v)
{
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, base_size, base);
    ck_assert_ptr_nonnull(m);
    Onnx__TensorProto *tp = m->graph->initializer[0];
    Onnx__TensorProto saved = *tp;
    Onnx__StringStringEntryProto e[4], *ep[4];
    for (int k = 0; k < v->n; k++) {
        onnx__string_string_entry_proto__init(&e[k]);
        e[k].key = (char *)v->e[k].key;
        e[k].value = (char *)v->e[k].value;
        ep[k] = &e[k];
    }
    tp->n_external_data = (size_t)v->n;
    tp->external_data = ep;
    static uint8_t raw[8192];
    static float floats[2048];
    switch (v->tweak) {
    case NO_DATA_LOCATION: tp->has_data_location = 0; break;
    case DATA_LOCATION_7: tp->data_location = (Onnx__TensorProto__DataLocation)7; break;
    case RAW_TOO: tp->has_raw_data = 1; tp->raw_data.data = raw; tp->raw_data.len = sizeof raw; break;
    case FLOATS_TOO: tp->n_float_data = 2048; tp->float_data = floats; break;
    case NONE: break;
    }
    size_t n = protobuf_c_message_get_packed_size(&m->base);
    uint8_t *buf = malloc(n);
    protobuf_c_message_pack(&m->base, buf);
    og_test_write_file(path, buf, n);
    free(buf);
    *tp = saved;
    onnx__model_proto__free_unpacked(m, NULL);
}

START_TEST(rejected_in_the_model)
{
    const variant *v = &variants[_i];
    write_variant(DIR_ "/bad.onnx", v);
    og_graph *g = (og_graph *)1;
    og_status st = og_model_load_file(DIR_ "/bad.onnx", &g);
    ck_assert_msg(st == v->st, "variant %d: %s (expected %s): %s", _i, og_status_name(st), og_status_name(v->st),
                  og_errmsg());
    if (st == OG_OK) {
        const og_tensor *w;
        OG_CHECK(og_graph_initializer(g, 0, &w));
        ck_assert_float_eq(((float *)w->data)[100], w_value(100));
        og_graph_free(g);
        return;
    }
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(og_errmsg(), v->needle) && strncmp(og_errmsg(), DIR_ "/bad.onnx: ", strlen(DIR_ "/bad.onnx: ")) == 0,
                  "variant %d: message '%s' lacks '%s'", _i, og_errmsg(), v->needle);
    /* From memory with the base directory: the same verdict. */
    size_t n;
    void *bytes = og_test_read_file(DIR_ "/bad.onnx", &n);
    og_load_options lo = OG_LOAD_OPTIONS_INIT;
    lo.base_dir = DIR_;
    OG_CHECK_FAILS(og_model_load_memory_ex(bytes, n, &lo, &g), v->st, v->needle);
    free(bytes);
}
END_TEST

START_TEST(nul_and_overlong_locations)
{
    /* "weights.bin" -> "weights\0bin" in place: a C string would read
     * "weights"; the wire scan refuses the text field. */
    uint8_t *b = malloc(base_size);
    memcpy(b, base, base_size);
    size_t at = 0;
    for (; at + 11 <= base_size && memcmp(b + at, "weights.bin", 11) != 0; at++)
        ;
    ck_assert_uint_lt(at + 11, base_size + 1);
    b[at + 7] = '\0';
    og_test_write_file(DIR_ "/nul.onnx", b, base_size);
    free(b);
    og_graph *g;
    OG_CHECK_FAILS(og_model_load_file(DIR_ "/nul.onnx", &g), OG_ERR_PARSE,
                   "graph.initializer[0].external_data[0].value: text field contains a NUL byte");

    char *longname = malloc(5001);
    memset(longname, 'a', 5000);
    longname[5000] = '\0';
    variant v = { 1, { { "location", longname } }, NONE, OG_ERR_PARSE, "" };
    write_variant(DIR_ "/long.onnx", &v);
    OG_CHECK_FAILS(og_model_load_file(DIR_ "/long.onnx", &g), OG_ERR_PARSE, "longer than 4095 bytes");
    free(longname);
}
END_TEST

/* Attribute tensors go through the same checks, named by the attribute. */
START_TEST(attribute_tensors_are_checked_too)
{
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, base_size, base);
    ck_assert_ptr_nonnull(m);
    Onnx__NodeProto *node = m->graph->node[0];
    Onnx__NodeProto saved = *node;
    Onnx__TensorProto t;
    onnx__tensor_proto__init(&t);
    t.has_data_type = 1;
    t.data_type = OG_FLOAT;
    int64_t dims[1] = { 2 };
    t.n_dims = 1;
    t.dims = dims;
    t.has_data_location = 1;
    t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    Onnx__StringStringEntryProto loc, *locp = &loc;
    onnx__string_string_entry_proto__init(&loc);
    loc.key = "location";
    loc.value = "../x.bin";
    t.n_external_data = 1;
    t.external_data = &locp;
    Onnx__AttributeProto a, *ap = &a;
    onnx__attribute_proto__init(&a);
    a.name = "value";
    a.has_type = 1;
    a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    a.t = &t;
    node->n_attribute = 1;
    node->attribute = &ap;
    size_t n = protobuf_c_message_get_packed_size(&m->base);
    uint8_t *buf = malloc(n);
    protobuf_c_message_pack(&m->base, buf);
    og_test_write_file(DIR_ "/attr.onnx", buf, n);
    /* A valid location reads the data; the attribute is then unknown to Gemm. */
    loc.value = "weights.bin";
    Onnx__StringStringEntryProto off, len, *three[3] = { &loc, &off, &len };
    onnx__string_string_entry_proto__init(&off);
    onnx__string_string_entry_proto__init(&len);
    off.key = "offset";
    off.value = "8";
    len.key = "length";
    len.value = "8";
    t.n_external_data = 3;
    t.external_data = three;
    free(buf);
    n = protobuf_c_message_get_packed_size(&m->base);
    buf = malloc(n);
    protobuf_c_message_pack(&m->base, buf);
    og_test_write_file(DIR_ "/attr_ok.onnx", buf, n);
    free(buf);
    *node = saved;
    onnx__model_proto__free_unpacked(m, NULL);

    og_graph *g;
    OG_CHECK_FAILS(og_model_load_file(DIR_ "/attr.onnx", &g), OG_ERR_PARSE,
                   "graph.node[0] 'gemm' (Gemm).attribute[0] 'value'.t: external data location '../x.bin': '..' "
                   "is not allowed");
    OG_CHECK_FAILS(og_model_load_file(DIR_ "/attr_ok.onnx", &g), OG_ERR_ATTR, "unknown attribute 'value'");
}
END_TEST

/* ---- rejections on disk --------------------------------------------------------- */

/* Loads MODEL with initializer 0 at `location` (whole file, no offset). */
static og_status load_at(const char *location, og_graph **g)
{
    variant v = { 1, { { "location", location } }, NONE, OG_OK, "" };
    write_variant(DIR_ "/at.onnx", &v);
    *g = (og_graph *)1;
    og_status st = og_model_load_file(DIR_ "/at.onnx", g);
    if (st != OG_OK)
        ck_assert_ptr_null(*g);
    return st;
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    void *d = og_test_read_file(from, &n);
    og_test_write_file(to, d, n);
    free(d);
}

START_TEST(symbolic_links_are_not_followed)
{
    og_graph *g;
    ck_assert_int_eq(symlink("weights.bin", DIR_ "/link.bin"), 0);
    OG_CHECK_FAILS(load_at("link.bin", &g), OG_ERR_IO,
                   W_ "external data 'link.bin': the file is a symbolic link; links are not followed");
    ck_assert_int_eq(symlink("/etc/passwd", DIR_ "/passwd"), 0);
    OG_CHECK_FAILS(load_at("passwd", &g), OG_ERR_IO, "the file is a symbolic link");

    /* A parent directory that is a link, even to a directory inside. */
    ck_assert_int_eq(mkdir(DIR_ "/real", 0755), 0);
    copy_file(WEIGHTS, DIR_ "/real/w.bin");
    ck_assert_int_eq(symlink("real", DIR_ "/alias"), 0);
    OG_CHECK(load_at("real/w.bin", &g));
    og_graph_free(g);
    OG_CHECK_FAILS(load_at("alias/w.bin", &g), OG_ERR_IO,
                   W_ "external data 'alias/w.bin': 'alias' is a symbolic link");
    ck_assert_int_eq(mkdir(DIR_ "/real/deeper", 0755), 0);
    ck_assert_int_eq(symlink("..", DIR_ "/real/deeper/up"), 0);
    OG_CHECK_FAILS(load_at("real/deeper/up/w.bin", &g), OG_ERR_IO, "'real/deeper/up' is a symbolic link");
}
END_TEST

START_TEST(special_files_are_refused)
{
    og_graph *g;
    /* A FIFO without a writer: refused at once, never opened. */
    ck_assert_int_eq(mkfifo(DIR_ "/fifo", 0644), 0);
    OG_CHECK_FAILS(load_at("fifo", &g), OG_ERR_IO, W_ "external data 'fifo': the file is a FIFO, not a regular file");

    ck_assert_int_eq(mkdir(DIR_ "/adir", 0755), 0);
    OG_CHECK_FAILS(load_at("adir", &g), OG_ERR_IO, "the file is a directory, not a regular file");

    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", DIR_ "/sock");
    if (strlen(DIR_ "/sock") < sizeof sa.sun_path) {
        ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
        OG_CHECK_FAILS(load_at("sock", &g), OG_ERR_IO, "the file is a socket, not a regular file");
    }
    close(s);

    /* A device node needs CAP_MKNOD (root in CI); elsewhere it is skipped. */
    if (mknod(DIR_ "/null", S_IFCHR | 0666, makedev(1, 3)) == 0)
        OG_CHECK_FAILS(load_at("null", &g), OG_ERR_IO, "the file is a character device, not a regular file");
    else
        fprintf(stderr, "test_external: mknod not permitted, device case skipped\n");
}
END_TEST

START_TEST(hard_links_are_refused)
{
    og_graph *g;
    ck_assert_int_eq(link(WEIGHTS, DIR_ "/hard.bin"), 0);
    OG_CHECK_FAILS(load_at("hard.bin", &g), OG_ERR_IO,
                   W_ "external data 'hard.bin': the file has 2 hard links; only a file with a single link is read");
    /* Both names are the same file: the original is refused too. */
    OG_CHECK_FAILS(og_model_load_file(MODEL, &g), OG_ERR_IO, "'weights.bin': the file has 2 hard links");
    ck_assert_int_eq(unlink(DIR_ "/hard.bin"), 0);
    OG_CHECK(og_model_load_file(MODEL, &g));
    og_graph_free(g);
}
END_TEST

START_TEST(data_running_to_the_end_of_the_file)
{
    og_graph *g;
    /* No length: the rest of the file must be exactly the tensor. */
    size_t n;
    uint8_t *d = og_test_read_file(WEIGHTS, &n);
    uint8_t *longer = calloc(1, n + 8);
    memcpy(longer + 8, d, n);
    og_test_write_file(DIR_ "/long.bin", longer, n + 8);
    OG_CHECK_FAILS(load_at("long.bin", &g), OG_ERR_IO,
                   "external data 'long.bin': no length given, so the data runs to the end of the file: 8200 bytes "
                   "after offset 0, expected 8192 (the tensor's size)");
    variant v = { 2, { { "location", "long.bin" }, { "offset", "8" } }, NONE, OG_OK, "" };
    write_variant(DIR_ "/at.onnx", &v);
    OG_CHECK(og_model_load_file(DIR_ "/at.onnx", &g));
    og_graph_free(g);
    og_test_write_file(DIR_ "/short.bin", d, n - 1);
    OG_CHECK_FAILS(load_at("short.bin", &g), OG_ERR_IO, "= 8192 is past the end of the file (8191 bytes)");
    free(longer);
    free(d);
}
END_TEST

/* ---- saving: option checks ---------------------------------------------------- */

START_TEST(save_options_are_checked)
{
    og_graph *g = gemm_model();
    og_save_options so = ext_opts("../out.bin");
    OG_CHECK_FAILS(og_model_save_file_ex(g, DIR_ "/s.onnx", &so), OG_ERR_INVALID_ARG,
                   "s.onnx: og_model_save_file_ex: external_data_file '../out.bin': '..' is not allowed; the data "
                   "file must be inside the model's directory");
    so.external_data_file = "/tmp/out.bin";
    OG_CHECK_FAILS(og_model_save_file_ex(g, DIR_ "/s.onnx", &so), OG_ERR_INVALID_ARG, "absolute paths are not allowed");
    so.external_data_file = "";
    OG_CHECK_FAILS(og_model_save_file_ex(g, DIR_ "/s.onnx", &so), OG_ERR_INVALID_ARG, "the location is empty");
    so.external_data_file = "a//b.bin";
    OG_CHECK_FAILS(og_model_save_file_ex(g, DIR_ "/s.onnx", &so), OG_ERR_INVALID_ARG, "empty path components");
    so.external_data_file = "s.onnx";
    OG_CHECK_FAILS(og_model_save_file_ex(g, DIR_ "/s.onnx", &so), OG_ERR_INVALID_ARG,
                   "external_data_file 's.onnx' is the model file itself");
    so.external_data_file = "nodir/w.bin";
    OG_CHECK_FAILS(og_model_save_file_ex(g, DIR_ "/s.onnx", &so), OG_ERR_IO,
                   "s.onnx: cannot create temporary file '" DIR_ "/nodir/w.bin.tmp-");
    ck_assert_int_ne(access(DIR_ "/s.onnx", F_OK), 0);
    og_save_options zero = { 0 };
    OG_CHECK_FAILS(og_model_save_file_ex(g, DIR_ "/s.onnx", &zero), OG_ERR_INVALID_ARG,
                   "initialize the options with OG_SAVE_OPTIONS_INIT");
    og_graph_free(g);
}
END_TEST

START_TEST(single_tensor_pb_refuses_external_data)
{
    Onnx__TensorProto t;
    onnx__tensor_proto__init(&t);
    t.name = "t";
    t.has_data_type = 1;
    t.data_type = OG_FLOAT;
    t.has_data_location = 1;
    t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    Onnx__StringStringEntryProto loc, *locp = &loc;
    onnx__string_string_entry_proto__init(&loc);
    loc.key = "location";
    loc.value = "weights.bin";
    t.n_external_data = 1;
    t.external_data = &locp;
    uint8_t buf[256];
    size_t n = protobuf_c_message_pack(&t.base, buf);
    og_test_write_file(DIR_ "/t.pb", buf, n);
    og_tensor *out;
    OG_CHECK_FAILS(og_tensor_load_pb(DIR_ "/t.pb", &out), OG_ERR_UNSUPPORTED,
                   "tensor 't': data is stored in an external file ('weights.bin'); external data is not supported "
                   "in single-tensor .pb files");
}
END_TEST

static Suite *external_suite(void)
{
    Suite *s = suite_create("external");
    TCase *tc = tcase_create("round_trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip_gives_same_tensors_results_and_bytes);
    tcase_add_test(tc, data_file_in_a_subdirectory_and_alignment);
    tcase_add_test(tc, memory_load_needs_a_base_directory);
    tcase_add_test(tc, python_onnx_reads_ours_and_we_read_theirs);
    suite_add_tcase(s, tc);
    tc = tcase_create("rejections");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, rejected_in_the_model, 0, N_VARIANTS);
    tcase_add_test(tc, nul_and_overlong_locations);
    tcase_add_test(tc, attribute_tensors_are_checked_too);
    tcase_add_test(tc, symbolic_links_are_not_followed);
    tcase_add_test(tc, special_files_are_refused);
    tcase_add_test(tc, hard_links_are_refused);
    tcase_add_test(tc, data_running_to_the_end_of_the_file);
    tcase_add_test(tc, save_options_are_checked);
    tcase_add_test(tc, single_tensor_pb_refuses_external_data);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(external_suite());
}
