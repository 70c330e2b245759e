/* SPDX-License-Identifier: MIT */
/* ONNX file I/O: tensor .pb round trips for every dtype, typed-data
 * tensors, model save -> load -> save byte identity, atomic saves that
 * leave the old file alone on failure, and the ONNX checker's verdict on a
 * file onnxgrad wrote (tests/tools/check_model.py, python3-onnx required). */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <protobuf-c/protobuf-c.h>
#include "testutil.h"
#include "internal.h"
#include "onnx.pb-c.h"

#define CHECKER "/usr/bin/python3 " OG_TEST_SRC_DIR "/tools/check_model.py"

static char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", OG_TEST_TMP_DIR, name);
    return p;
}


/* Number of entries in the tmp dir whose name starts with `prefix` and
 * contains ".tmp-" (left-over temporary files). */
static int leftover_temps(const char *prefix)
{
    DIR *d = opendir(OG_TEST_TMP_DIR);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".tmp-"))
            n++;
    closedir(d);
    return n;
}

static void assert_same_tensor(const og_tensor *a, const og_tensor *b)
{
    ck_assert_int_eq(a->dtype, b->dtype);
    ck_assert_int_eq(a->rank, b->rank);
    for (int k = 0; k < a->rank; k++)
        ck_assert_int_eq(a->dims[k], b->dims[k]);
    ck_assert_int_eq(a->numel, b->numel);
    ck_assert(memcmp(a->data, b->data, (size_t)a->numel * og_dtype_size(a->dtype)) == 0);
}

/* ---- tensors --------------------------------------------------------------- */

START_TEST(tensor_pb_round_trip_every_dtype)
{
    int supported = 0;
    for (int dt = OG_FLOAT; dt <= OG_BFLOAT16; dt++) {
        size_t es = og_dtype_size((og_dtype)dt);
        char name[32], file[64];
        snprintf(name, sizeof name, "t_%s", og_dtype_name((og_dtype)dt));
        snprintf(file, sizeof file, "io_%s.pb", name);
        if (es == 0) {
            /* A type onnxgrad cannot hold is refused by name on load. */
            Onnx__TensorProto tp;
            onnx__tensor_proto__init(&tp);
            tp.has_data_type = 1;
            tp.data_type = dt;
            uint8_t buf[16];
            size_t n = protobuf_c_message_pack(&tp.base, buf);
            og_tensor *t;
            OG_CHECK_FAILS(og_tensor_load_pb_memory(buf, n, &t), OG_ERR_UNSUPPORTED,
                           og_dtype_name((og_dtype)dt));
            continue;
        }
        supported++;
        og_tensor *t, *back;
        OG_CHECK(og_tensor_create((og_dtype)dt, 3, (int64_t[]){ 2, 3, 2 }, &t));
        uint8_t *p = t->data;
        for (size_t k = 0; k < (size_t)t->numel * es; k++)
            p[k] = dt == OG_BOOL ? (uint8_t)(k % 3 == 0) : (uint8_t)(k * 37 + 11);
        OG_CHECK(og_tensor_set_name(t, name));
        OG_CHECK(og_tensor_save_pb(t, tmp_path(file)));
        OG_CHECK(og_tensor_load_pb(tmp_path(file), &back));
        assert_same_tensor(t, back);
        ck_assert_str_eq(back->name, name);
        og_tensor_free(back);

        /* Scalar and empty tensors too. */
        og_tensor *s, *e;
        OG_CHECK(og_tensor_create((og_dtype)dt, 0, NULL, &s));
        memcpy(s->data, t->data, es);
        OG_CHECK(og_tensor_save_pb(s, tmp_path(file)));
        OG_CHECK(og_tensor_load_pb(tmp_path(file), &back));
        assert_same_tensor(s, back);
        ck_assert_ptr_null(back->name);
        og_tensor_free(back);
        OG_CHECK(og_tensor_create((og_dtype)dt, 2, (int64_t[]){ 0, 5 }, &e));
        OG_CHECK(og_tensor_save_pb(e, tmp_path(file)));
        OG_CHECK(og_tensor_load_pb(tmp_path(file), &back));
        assert_same_tensor(e, back);
        og_tensor_free(back);
        og_tensor_free(s);
        og_tensor_free(e);
        og_tensor_free(t);
    }
    ck_assert_int_ge(supported, 10);
}
END_TEST

/* Packs tp and loads it back through the public entry point. */
static og_tensor *load_proto(Onnx__TensorProto *tp)
{
    size_t n = protobuf_c_message_get_packed_size(&tp->base);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(&tp->base, buf);
    og_tensor *t = NULL;
    OG_CHECK(og_tensor_load_pb_memory(buf, n, &t));
    free(buf);
    return t;
}

START_TEST(typed_data_tensors)
{
    int64_t dims[1] = { 3 };
    Onnx__TensorProto tp;
    og_tensor *t;

    float f[3] = { 1.5f, -2.0f, 0.25f };
    onnx__tensor_proto__init(&tp);
    tp.n_dims = 1; tp.dims = dims; tp.has_data_type = 1; tp.data_type = OG_FLOAT;
    tp.n_float_data = 3; tp.float_data = f;
    t = load_proto(&tp);
    ck_assert(memcmp(t->data, f, sizeof f) == 0);
    og_tensor_free(t);

    double d[3] = { 1e300, -0.5, 3 };
    onnx__tensor_proto__init(&tp);
    tp.n_dims = 1; tp.dims = dims; tp.has_data_type = 1; tp.data_type = OG_DOUBLE;
    tp.n_double_data = 3; tp.double_data = d;
    t = load_proto(&tp);
    ck_assert(memcmp(t->data, d, sizeof d) == 0);
    og_tensor_free(t);

    int64_t i64[3] = { INT64_MIN, 0, INT64_MAX };
    onnx__tensor_proto__init(&tp);
    tp.n_dims = 1; tp.dims = dims; tp.has_data_type = 1; tp.data_type = OG_INT64;
    tp.n_int64_data = 3; tp.int64_data = i64;
    t = load_proto(&tp);
    ck_assert(memcmp(t->data, i64, sizeof i64) == 0);
    og_tensor_free(t);

    uint64_t u64[3] = { 0, 1, UINT64_MAX };
    onnx__tensor_proto__init(&tp);
    tp.n_dims = 1; tp.dims = dims; tp.has_data_type = 1; tp.data_type = OG_UINT64;
    tp.n_uint64_data = 3; tp.uint64_data = u64;
    t = load_proto(&tp);
    ck_assert(memcmp(t->data, u64, sizeof u64) == 0);
    og_tensor_free(t);

    uint64_t u32in[3] = { 0, 7, UINT32_MAX };
    tp.data_type = OG_UINT32;
    tp.uint64_data = u32in;
    t = load_proto(&tp);
    ck_assert_uint_eq(((uint32_t *)t->data)[2], UINT32_MAX);
    og_tensor_free(t);

    /* The narrow integer types and bool live widened in int32_data. */
    static const struct { og_dtype dt; int32_t v[3]; } narrow[] = {
        { OG_INT32, { INT32_MIN, -1, INT32_MAX } },
        { OG_INT16, { -32768, 5, 32767 } },
        { OG_UINT16, { 0, 5, 65535 } },
        { OG_INT8, { -128, 0, 127 } },
        { OG_UINT8, { 0, 128, 255 } },
        { OG_BOOL, { 1, 0, 1 } },
    };
    for (size_t k = 0; k < sizeof narrow / sizeof narrow[0]; k++) {
        onnx__tensor_proto__init(&tp);
        tp.n_dims = 1; tp.dims = dims; tp.has_data_type = 1; tp.data_type = narrow[k].dt;
        tp.n_int32_data = 3; tp.int32_data = (int32_t *)narrow[k].v;
        t = load_proto(&tp);
        for (int j = 0; j < 3; j++) {
            int64_t got;
            switch (narrow[k].dt) {
            case OG_INT32: got = ((int32_t *)t->data)[j]; break;
            case OG_INT16: got = ((int16_t *)t->data)[j]; break;
            case OG_UINT16: got = ((uint16_t *)t->data)[j]; break;
            case OG_INT8: got = ((int8_t *)t->data)[j]; break;
            default: got = ((uint8_t *)t->data)[j]; break;
            }
            ck_assert_int_eq(got, narrow[k].v[j]);
        }
        og_tensor_free(t);
    }
}
END_TEST

/* ---- models ---------------------------------------------------------------- */

static og_tensor *ramp(og_dtype dt, int rank, const int64_t *dims, float scale)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    for (int64_t k = 0; k < t->numel; k++)
        ((float *)t->data)[k] = scale * (float)((k * 7) % 13 - 6);
    return t;
}

/* A small CNN touching every attribute type the ops use (INT, INTS,
 * FLOAT, STRING), a symbolic batch dim, metadata and doc strings. */
static og_graph *build_cnn(void)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_set_producer(g, "onnxgrad-tests", "0.1"));
    OG_CHECK(og_graph_set_name(g, "cnn"));
    OG_CHECK(og_graph_set_doc(g, "a graph for the I/O tests"));
    OG_CHECK(og_graph_add_metadata(g, "author", "test_io"));
    OG_CHECK(og_graph_add_metadata(g, "purpose", "round trip"));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 4, (int64_t[]){ -1, 1, 8, 8 },
                                (const char *[]){ "N", NULL, NULL, NULL }));
    og_tensor *w1 = ramp(OG_FLOAT, 4, (int64_t[]){ 4, 1, 3, 3 }, 0.1f);
    og_tensor *b1 = ramp(OG_FLOAT, 1, (int64_t[]){ 4 }, 0.01f);
    og_tensor *w2 = ramp(OG_FLOAT, 2, (int64_t[]){ 10, 64 }, 0.05f);
    og_tensor *b2 = ramp(OG_FLOAT, 1, (int64_t[]){ 10 }, 0.5f);
    OG_CHECK(og_graph_add_initializer(g, "W1", w1));
    OG_CHECK(og_graph_add_initializer(g, "B1", b1));
    OG_CHECK(og_graph_add_initializer(g, "W2", w2));
    OG_CHECK(og_graph_add_initializer(g, "B2", b2));
    og_tensor_free(w1); og_tensor_free(b1); og_tensor_free(w2); og_tensor_free(b2);
    OG_CHECK(og_graph_add_node(g, "Conv", NULL, "conv1", 3, (const char *[]){ "x", "W1", "B1" },
                               1, (const char *[]){ "c1" }, 4, (og_attr[]){
                                   og_attr_ints("kernel_shape", 2, (int64_t[]){ 3, 3 }),
                                   og_attr_ints("pads", 4, (int64_t[]){ 1, 1, 1, 1 }),
                                   og_attr_ints("strides", 2, (int64_t[]){ 1, 1 }),
                                   og_attr_string("auto_pad", "NOTSET") }));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "relu1", 1, (const char *[]){ "c1" }, 1,
                               (const char *[]){ "r1" }, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "MaxPool", NULL, "pool1", 1, (const char *[]){ "r1" }, 1,
                               (const char *[]){ "p1" }, 2, (og_attr[]){
                                   og_attr_ints("kernel_shape", 2, (int64_t[]){ 2, 2 }),
                                   og_attr_ints("strides", 2, (int64_t[]){ 2, 2 }) }));
    OG_CHECK(og_graph_add_node(g, "Flatten", NULL, "flat", 1, (const char *[]){ "p1" }, 1,
                               (const char *[]){ "f1" }, 1, (og_attr[]){ og_attr_int("axis", 1) }));
    OG_CHECK(og_graph_add_node(g, "Gemm", NULL, "fc", 3, (const char *[]){ "f1", "W2", "B2" }, 1,
                               (const char *[]){ "y" }, 3, (og_attr[]){
                                   og_attr_int("transB", 1), og_attr_float("alpha", 0.5f),
                                   og_attr_float("beta", 2.0f) }));
    OG_CHECK(og_graph_add_output(g, "y"));
    /* Things only the IR holds: node and attribute doc strings. */
    g->nodes[0].doc_string = og_strdup("first conv");
    g->nodes[4].attrs[1].doc_string = og_strdup("scales A*B");
    OG_CHECK(og_graph_finalize(g));
    return g;
}

static void assert_same_info(const og_value_info *a, const og_value_info *b)
{
    ck_assert_str_eq(a->name, b->name);
    ck_assert_int_eq(a->dtype, b->dtype);
    ck_assert_int_eq(a->rank, b->rank);
    for (int k = 0; k < a->rank; k++) {
        ck_assert_int_eq(a->dims[k], b->dims[k]);
        if (a->dim_params[k] || b->dim_params[k]) {
            ck_assert_ptr_nonnull(a->dim_params[k]);
            ck_assert_ptr_nonnull(b->dim_params[k]);
            ck_assert_str_eq(a->dim_params[k], b->dim_params[k]);
        }
    }
}

static void assert_same_graph(const og_graph *a, const og_graph *b)
{
    og_value_info ia, ib;
    ck_assert_int_eq(og_graph_num_inputs(a), og_graph_num_inputs(b));
    ck_assert_int_eq(og_graph_num_outputs(a), og_graph_num_outputs(b));
    ck_assert_int_eq(og_graph_num_nodes(a), og_graph_num_nodes(b));
    ck_assert_int_eq(og_graph_num_initializers(a), og_graph_num_initializers(b));
    ck_assert_int_eq(og_graph_num_opsets(a), og_graph_num_opsets(b));
    for (int k = 0; k < og_graph_num_inputs(a); k++) {
        OG_CHECK(og_graph_input(a, k, &ia));
        OG_CHECK(og_graph_input(b, k, &ib));
        assert_same_info(&ia, &ib);
    }
    for (int k = 0; k < og_graph_num_outputs(a); k++) {
        OG_CHECK(og_graph_output(a, k, &ia));
        OG_CHECK(og_graph_output(b, k, &ib));
        assert_same_info(&ia, &ib);
    }
    for (int k = 0; k < og_graph_num_nodes(a); k++) {
        const char *opa, *opb, *na, *nb;
        OG_CHECK(og_graph_node(a, k, &opa, &na));
        OG_CHECK(og_graph_node(b, k, &opb, &nb));
        ck_assert_str_eq(opa, opb);
        ck_assert_str_eq(na, nb);
        const og_node *x = &a->nodes[k], *y = &b->nodes[k];
        ck_assert_int_eq(x->n_attrs, y->n_attrs);
        for (int j = 0; j < x->n_attrs; j++) {
            ck_assert_str_eq(x->attrs[j].name, y->attrs[j].name);
            ck_assert_int_eq(x->attrs[j].type, y->attrs[j].type);
        }
        OG_CHECK(og_graph_value(a, a->values[x->outputs[0]].name, &ia));
        OG_CHECK(og_graph_value(b, b->values[y->outputs[0]].name, &ib));
        assert_same_info(&ia, &ib);
    }
    for (int k = 0; k < og_graph_num_initializers(a); k++) {
        const og_tensor *ta, *tb;
        OG_CHECK(og_graph_initializer(a, k, &ta));
        OG_CHECK(og_graph_initializer(b, k, &tb));
        assert_same_tensor(ta, tb);
        ck_assert_str_eq(ta->name, tb->name);
    }
    ck_assert_int_eq(a->ir_version, b->ir_version);
    ck_assert_str_eq(a->producer_name, b->producer_name);
    ck_assert_int_eq(a->n_meta, b->n_meta);
}

START_TEST(model_memory_round_trip_is_byte_identical)
{
    og_graph *g = build_cnn(), *back;
    void *d1, *d2;
    size_t n1, n2;
    OG_CHECK(og_model_save_memory(g, &d1, &n1));
    OG_CHECK(og_model_load_memory(d1, n1, &back));
    assert_same_graph(g, back);
    ck_assert_str_eq(back->nodes[0].doc_string, "first conv");
    ck_assert_str_eq(back->nodes[4].attrs[1].doc_string, "scales A*B");
    ck_assert_str_eq(back->graph_name, "cnn");
    ck_assert_str_eq(back->graph_doc, "a graph for the I/O tests");
    ck_assert_str_eq(back->meta[1].key, "purpose");
    ck_assert_str_eq(back->meta[1].value, "round trip");
    OG_CHECK(og_model_save_memory(back, &d2, &n2));
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(d1, d2, n1) == 0);
    og_free(d1);
    og_free(d2);
    og_graph_free(back);
    og_graph_free(g);
}
END_TEST

START_TEST(model_file_round_trip)
{
    og_graph *g = build_cnn(), *back;
    const char *path = tmp_path("io_cnn.onnx");
    OG_CHECK(og_model_save_file(g, path));
    OG_CHECK(og_model_load_file(path, &back));
    assert_same_graph(g, back);
    void *d;
    size_t n, fn;
    OG_CHECK(og_model_save_memory(back, &d, &n));
    void *f = og_test_read_file(path, &fn);
    ck_assert_uint_eq(n, fn);
    ck_assert(memcmp(d, f, n) == 0);
    free(f);
    og_free(d);
    /* Saving again replaces the file in place. */
    OG_CHECK(og_model_save_file(back, path));
    ck_assert_int_eq(leftover_temps("io_cnn.onnx"), 0);
    og_graph_free(back);
    og_graph_free(g);
}
END_TEST

START_TEST(unfinalized_graph_is_not_saved)
{
    og_graph *g;
    void *d;
    size_t n;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 1, (int64_t[]){ 2 }, NULL));
    OG_CHECK_FAILS(og_model_save_memory(g, &d, &n), OG_ERR_INVALID_ARG, "not finalized");
    ck_assert_ptr_null(d);
    OG_CHECK_FAILS(og_model_save_file(g, tmp_path("io_unfinalized.onnx")), OG_ERR_INVALID_ARG,
                   "io_unfinalized.onnx: og_model_save_memory: the graph is not finalized");
    ck_assert_int_ne(access(tmp_path("io_unfinalized.onnx"), F_OK), 0);
    og_graph_free(g);
}
END_TEST

START_TEST(failed_save_leaves_old_file)
{
    og_graph *g = build_cnn();
    const char *old = "previous contents";

    /* Directory does not exist: nothing created anywhere. */
    OG_CHECK_FAILS(og_model_save_file(g, OG_TEST_TMP_DIR "/no_such_dir/m.onnx"), OG_ERR_IO,
                   "no_such_dir/m.onnx: cannot create temporary file");

    /* The target is a directory: the temp file is written, the rename
     * fails, and the temp file is removed again. */
    const char *dir = tmp_path("io_target_is_dir.onnx");
    mkdir(dir, 0755);
    OG_CHECK_FAILS(og_model_save_file(g, dir), OG_ERR_IO, "renaming temporary file");
    struct stat sb;
    ck_assert_int_eq(stat(dir, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(leftover_temps("io_target_is_dir.onnx"), 0);

    /* A write that fails half way (file size limit, works even as root):
     * the old file keeps its bytes and no temp file is left. */
    const char *path = tmp_path("io_keep_old.onnx");
    og_test_write_file(path, old, strlen(old));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { 64, 64 };
        setrlimit(RLIMIT_FSIZE, &rl);
        og_status st = og_model_save_file(g, path);
        _exit(st == OG_ERR_IO && strstr(og_errmsg(), "io_keep_old.onnx: writing temporary file") ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child save did not fail as expected");
    size_t n;
    char *now = og_test_read_file(path, &n);
    ck_assert_uint_eq(n, strlen(old));
    ck_assert(memcmp(now, old, n) == 0);
    free(now);
    ck_assert_int_eq(leftover_temps("io_keep_old.onnx"), 0);
    og_graph_free(g);
}
END_TEST

/* Runs tests/tools/check_model.py; returns its exit status (-1 if it
 * could not run). A missing python3-onnx is exit status 2: a failure. */
static int run_checker(const char *mode, const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, CHECKER " %s '%s'", mode, path);
    int rc = system(cmd);
    return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

START_TEST(saved_model_passes_onnx_checker)
{
    og_graph *g = build_cnn();
    const char *path = tmp_path("saved_for_checker.onnx");
    OG_CHECK(og_model_save_file(g, path));
    ck_assert_msg(access("/usr/bin/python3", X_OK) == 0, "/usr/bin/python3 is required");
    int rc = run_checker("check", path);
    ck_assert_msg(rc == 0, "check_model.py check %s exited %d (2: python3-onnx missing)", path, rc);
    og_graph_free(g);
}
END_TEST

START_TEST(model_written_by_onnx_loads)
{
    const char *path = tmp_path("io_from_onnx.onnx");
    int rc = run_checker("make", path);
    ck_assert_msg(rc == 0, "check_model.py make exited %d (2: python3-onnx missing)", rc);
    og_graph *g;
    OG_CHECK(og_model_load_file(path, &g));
    ck_assert_str_eq(g->producer_name, "onnx-helper");
    ck_assert_str_eq(g->graph_doc, "made by check_model.py");
    ck_assert_str_eq(g->nodes[0].doc_string, "fully connected");
    ck_assert_int_eq(g->n_meta, 1);
    const og_tensor *w, *b;
    OG_CHECK(og_graph_initializer(g, 0, &w));   /* float_data */
    OG_CHECK(og_graph_initializer(g, 1, &b));   /* raw_data */
    ck_assert_int_eq(w->numel, 12);
    for (int k = 0; k < 12; k++)
        ck_assert_float_eq(((float *)w->data)[k], 0.5f * (float)k - 2.0f);
    ck_assert_float_eq(((float *)b->data)[2], 0.25f);
    og_value_info vi;
    OG_CHECK(og_graph_output(g, 0, &vi));
    ck_assert_str_eq(vi.dim_params[0], "N");
    /* And what onnxgrad writes back, onnx accepts. */
    const char *again = tmp_path("io_from_onnx_resaved.onnx");
    OG_CHECK(og_model_save_file(g, again));
    ck_assert_int_eq(run_checker("check", again), 0);
    og_graph_free(g);
}
END_TEST

START_TEST(load_errors_name_the_file)
{
    const char *path = tmp_path("io_garbage.onnx");
    og_test_write_file(path, "\x3a\x05\x00", 3);
    og_graph *g;
    OG_CHECK_FAILS(og_model_load_file(path, &g), OG_ERR_PARSE,
                   "io_garbage.onnx: byte 1: graph: length 5 runs past the end");
    /* Errors from finalize (an op onnxgrad lacks) carry the file name too. */
    og_graph *b;
    OG_CHECK(og_graph_create(&b));
    OG_CHECK(og_graph_set_opset(b, "", 17));
    OG_CHECK(og_graph_add_input(b, "x", OG_FLOAT, 1, (int64_t[]){ 2 }, NULL));
    OG_CHECK(og_graph_add_node(b, "Relu", NULL, "r", 1, (const char *[]){ "x" }, 1, (const char *[]){ "y" },
                               0, NULL));
    OG_CHECK(og_graph_add_output(b, "y"));
    OG_CHECK(og_graph_finalize(b));
    b->nodes[0].op_type = "NoSuchOp";   /* bypass the builder's checks (op types are interned, not freed per node) */
    void *d;
    size_t n;
    OG_CHECK(og_model_save_memory(b, &d, &n));
    og_test_write_file(path, d, n);
    og_free(d);
    og_status st = og_model_load_file(path, &g);
    ck_assert_int_ne(st, OG_OK);
    ck_assert_msg(strncmp(og_errmsg(), path, strlen(path)) == 0 && strstr(og_errmsg(), "NoSuchOp"),
                  "message: %s", og_errmsg());
    og_graph_free(b);
}
END_TEST

/* Fails every allocation from the n-th on; counts them. */
static long alloc_budget, alloc_count;
static void *failing_alloc(void *u, size_t n)
{
    (void)u;
    return alloc_count++ >= alloc_budget ? NULL : malloc(n ? n : 1);
}
static void *failing_realloc(void *u, void *p, size_t n)
{
    (void)u;
    return alloc_count++ >= alloc_budget ? NULL : realloc(p, n ? n : 1);
}
static void plain_free(void *u, void *p) { (void)u; free(p); }

START_TEST(allocation_failures_are_clean)
{
    og_graph *g = build_cnn();
    void *bytes;
    size_t size;
    OG_CHECK(og_model_save_memory(g, &bytes, &size));
    og_set_allocator(&(og_allocator){ failing_alloc, failing_realloc, plain_free, NULL });
    /* Every prefix of successful allocations, until one run needs no more. */
    bool loaded = false, saved = false;
    for (alloc_budget = 0; !(loaded && saved) && alloc_budget < 5000; alloc_budget++) {
        og_graph *back = (og_graph *)1;
        alloc_count = 0;
        og_status st = og_model_load_memory(bytes, size, &back);
        ck_assert_msg(st == OG_OK || st == OG_ERR_NOMEM || st == OG_ERR_PARSE,
                      "budget %ld: %s: %s", alloc_budget, og_status_name(st), og_errmsg());
        ck_assert(st == OG_OK ? back != NULL : back == NULL);
        loaded = st == OG_OK;
        og_graph_free(back);
        void *d = (void *)1;
        size_t n;
        alloc_count = 0;
        st = og_model_save_memory(g, &d, &n);
        ck_assert_msg(st == OG_OK || st == OG_ERR_NOMEM, "budget %ld: %s: %s", alloc_budget,
                      og_status_name(st), og_errmsg());
        saved = st == OG_OK;
        if (saved) {
            ck_assert_uint_eq(n, size);
            ck_assert(memcmp(d, bytes, n) == 0);
        } else {
            ck_assert_ptr_null(d);
        }
        og_free(d);
    }
    og_set_allocator(NULL);
    ck_assert(loaded && saved);
    og_free(bytes);
    og_graph_free(g);
}
END_TEST

static Suite *io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("tensors");
    tcase_add_test(tc, tensor_pb_round_trip_every_dtype);
    tcase_add_test(tc, typed_data_tensors);
    suite_add_tcase(s, tc);
    tc = tcase_create("models");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, model_memory_round_trip_is_byte_identical);
    tcase_add_test(tc, model_file_round_trip);
    tcase_add_test(tc, unfinalized_graph_is_not_saved);
    tcase_add_test(tc, failed_save_leaves_old_file);
    tcase_add_test(tc, saved_model_passes_onnx_checker);
    tcase_add_test(tc, model_written_by_onnx_loads);
    tcase_add_test(tc, load_errors_name_the_file);
    tcase_add_test(tc, allocation_failures_are_clean);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(io_suite());
}
