/* SPDX-License-Identifier: MIT */
/* Save failures step by step: through io.c's fault hook (og_io_fault_set)
 * each system call of an atomic save — creating the temporary file, every
 * write, fsync, close and rename — fails in turn while a different model
 * is saved over an existing one. Each failure must be OG_ERR_IO naming the
 * path and the step, leave the old file(s) byte-identical and leave no
 * temporary file behind. Covers og_model_save_file, og_tensor_save_pb and
 * og_model_save_file_ex with external data (data file and model file).
 * Also: reads honour OG_LIMIT_FILE_BYTES. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "testutil.h"
#include "internal.h"
#include "io.h"

/* ---- helpers ---------------------------------------------------------------- */

/* A fresh, empty scratch directory for one test. */
static const char *fresh_dir(const char *name)
{
    static char buf[512];
    char cmd[700];
    snprintf(buf, sizeof buf, "%s/%s", OG_TEST_TMP_DIR, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(mkdir(buf, 0755), 0);
    return buf;
}

/* Whole file, or NULL (and *size 0) when it does not exist. */
static void *read_all(const char *path, size_t *size)
{
    *size = 0;
    return access(path, F_OK) == 0 ? og_test_read_file(path, size) : NULL;
}

/* The directory holds exactly the files `names` (n of them): nothing
 * left over, such as a temporary file. */
static void assert_dir_holds(const char *dir, const char *const *names, int n)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        bool known = false;
        for (int k = 0; k < n && !known; k++)
            known = strcmp(e->d_name, names[k]) == 0;
        ck_assert_msg(known, "unexpected file '%s' left in %s", e->d_name, dir);
        seen++;
    }
    closedir(d);
    ck_assert_int_eq(seen, n);
}

/* Relu(x) -> y, and for each initializer w<k> (sizes[k] floats, values
 * seed + j) Relu(w<k>) -> z<k>, so every initializer is used. */
static og_graph *model(int n_inits, const int *sizes, float seed)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_add_input(g, "x", OG_FLOAT, 2, (int64_t[]){ 1, 3 }, NULL));
    OG_CHECK(og_graph_add_node(g, "Relu", NULL, "r", 1, (const char *[]){ "x" }, 1, (const char *[]){ "y" },
                               0, NULL));
    OG_CHECK(og_graph_add_output(g, "y"));
    for (int k = 0; k < n_inits; k++) {
        char w[16], z[16], r[16];
        snprintf(w, sizeof w, "w%d", k);
        snprintf(z, sizeof z, "z%d", k);
        snprintf(r, sizeof r, "r%d", k);
        og_tensor *t;
        OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ sizes[k] }, &t));
        for (int j = 0; j < sizes[k]; j++)
            ((float *)t->data)[j] = seed + (float)j;
        OG_CHECK(og_graph_add_initializer(g, w, t));
        og_tensor_free(t);
        OG_CHECK(og_graph_add_node(g, "Relu", NULL, r, 1, (const char *[]){ w }, 1, (const char *[]){ z }, 0,
                                   NULL));
        OG_CHECK(og_graph_add_output(g, z));
    }
    OG_CHECK(og_graph_finalize(g));
    return g;
}

/* What each fault loop saves: obj to path. */
typedef og_status (*save_fn)(const void *obj, const char *path);

static og_status save_model(const void *g, const char *path) { return og_model_save_file(g, path); }
static og_status save_tensor(const void *t, const char *path) { return og_tensor_save_pb(t, path); }
static og_status save_external(const void *g, const char *path)
{
    og_save_options so = OG_SAVE_OPTIONS_INIT;
    so.external_data_file = "w.bin";
    so.external_min_bytes = 1024;
    return og_model_save_file_ex(g, path, &so);
}

static const char *const step_words[OG_IO_OP_COUNT] = {
    [OG_IO_OPEN] = "cannot create temporary file",
    [OG_IO_WRITE] = "writing temporary file",
    [OG_IO_FSYNC] = "fsync of temporary file",
    [OG_IO_CLOSE] = "closing temporary file",
    [OG_IO_RENAME] = "renaming temporary file",
};

typedef struct snapshot {
    const char *path;
    void *bytes;     /* NULL: the file does not exist */
    size_t size;
} snapshot;

/* Makes the 1st, 2nd, ... call of `op` fail while `save` writes new_obj
 * to `path`, until a save succeeds. Each failure must be OG_ERR_IO naming
 * `path`, the step and the temporary file of the target `temps[nth-1]`
 * (a file name), and leave the files in snap[] as they were and the
 * directory holding only `names`. Returns the number of failing calls. */
static int fail_each_call(og_io_op op, save_fn save, const void *new_obj, const char *path,
                          const char *const *temps, snapshot *snap, int n_snap, const char *dir,
                          const char *const *names, int n_names)
{
    long nth = 1;
    for (;; nth++) {
        ck_assert_int_lt(nth, 50);
        og_io_fault_set(op, nth);
        og_status st = save(new_obj, path);
        og_io_fault_set(op, 0);
        if (st == OG_OK)
            break;
        const char *msg = og_errmsg();
        ck_assert_msg(st == OG_ERR_IO, "op %d call %ld: %s: %s", (int)op, nth, og_status_name(st), msg);
        ck_assert_msg(strstr(msg, path) && strstr(msg, step_words[op]) && strstr(msg, "Input/output error"),
                      "op %d call %ld: message '%s' lacks the path, '%s' or the error", (int)op, nth, msg,
                      step_words[op]);
        char want[128];
        snprintf(want, sizeof want, "/%s.tmp-", temps[nth - 1]);
        ck_assert_msg(strstr(msg, want), "op %d call %ld: message '%s' does not name '%s'", (int)op, nth, msg,
                      want);
        for (int k = 0; k < n_snap; k++) {
            size_t n;
            void *now = read_all(snap[k].path, &n);
            if (!snap[k].bytes) {
                ck_assert_msg(now == NULL, "op %d call %ld: %s was created", (int)op, nth, snap[k].path);
            } else {
                ck_assert_msg(now && n == snap[k].size && memcmp(now, snap[k].bytes, n) == 0,
                              "op %d call %ld: %s changed", (int)op, nth, snap[k].path);
            }
            free(now);
        }
        assert_dir_holds(dir, names, n_names);
    }
    return (int)(nth - 1);
}

static void take_snapshot(snapshot *s, int n)
{
    for (int k = 0; k < n; k++)
        s[k].bytes = read_all(s[k].path, &s[k].size);
}

static void free_snapshot(snapshot *s, int n)
{
    for (int k = 0; k < n; k++)
        free(s[k].bytes);
}

static void assert_same_file(const char *path, const void *bytes, size_t size)
{
    size_t n;
    void *now = read_all(path, &n);
    ck_assert_ptr_nonnull(now);
    ck_assert_uint_eq(n, size);
    ck_assert(memcmp(now, bytes, n) == 0);
    free(now);
}

/* ---- model files ------------------------------------------------------------ */

START_TEST(model_save_fails_at_each_step)
{
    const char *dir = fresh_dir("sf_model");
    char path[600];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    og_graph *a = model(1, (int[]){ 4 }, 1.0f), *b = model(1, (int[]){ 6 }, 2.0f);
    const char *names[] = { "m.onnx" };
    const char *temps[] = { "m.onnx" };
    static const int expect_calls[OG_IO_OP_COUNT] = {
        [OG_IO_OPEN] = 1, [OG_IO_WRITE] = 1, [OG_IO_FSYNC] = 1, [OG_IO_CLOSE] = 1, [OG_IO_RENAME] = 1,
    };
    for (int op = OG_IO_OPEN; op <= OG_IO_RENAME; op++) {
        OG_CHECK(og_model_save_file(a, path));
        snapshot snap[] = { { path, NULL, 0 } };
        take_snapshot(snap, 1);
        int n = fail_each_call((og_io_op)op, save_model, b, path, temps, snap, 1, dir, names, 1);
        ck_assert_int_eq(n, expect_calls[op]);
        free_snapshot(snap, 1);
    }
    /* After the loops the last save went through: the file is b. */
    void *bytes;
    size_t size;
    OG_CHECK(og_model_save_memory(b, &bytes, &size));
    assert_same_file(path, bytes, size);
    og_free(bytes);
    og_graph_free(a);
    og_graph_free(b);
}
END_TEST

/* A failing fsync of the directory comes after the rename: the new file is
 * in place and complete, so the save reports success. */
START_TEST(directory_fsync_failure_is_not_reported)
{
    const char *dir = fresh_dir("sf_dirsync");
    char path[600];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    og_graph *a = model(1, (int[]){ 4 }, 1.0f), *b = model(1, (int[]){ 6 }, 2.0f);
    OG_CHECK(og_model_save_file(a, path));
    og_io_fault_set(OG_IO_DIRSYNC, 1);
    og_status st = og_model_save_file(b, path);
    og_io_fault_set(OG_IO_DIRSYNC, 0);
    OG_CHECK(st);
    void *bytes;
    size_t size;
    OG_CHECK(og_model_save_memory(b, &bytes, &size));
    assert_same_file(path, bytes, size);
    og_free(bytes);
    assert_dir_holds(dir, (const char *[]){ "m.onnx" }, 1);
    og_graph_free(a);
    og_graph_free(b);
}
END_TEST

START_TEST(tensor_save_fails_at_each_step)
{
    const char *dir = fresh_dir("sf_tensor");
    char path[600];
    snprintf(path, sizeof path, "%s/t.pb", dir);
    og_tensor *a, *b;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, (int64_t[]){ 2 }, (const float[]){ 1, 2 }, &a));
    OG_CHECK(og_tensor_create_from(OG_INT64, 1, (int64_t[]){ 3 }, (const int64_t[]){ 7, 8, 9 }, &b));
    OG_CHECK(og_tensor_set_name(b, "b"));
    const char *names[] = { "t.pb" };
    const char *temps[] = { "t.pb" };
    for (int op = OG_IO_OPEN; op <= OG_IO_RENAME; op++) {
        OG_CHECK(og_tensor_save_pb(a, path));
        snapshot snap[] = { { path, NULL, 0 } };
        take_snapshot(snap, 1);
        ck_assert_int_eq(fail_each_call((og_io_op)op, save_tensor, b, path, temps, snap, 1, dir, names, 1), 1);
        free_snapshot(snap, 1);
    }
    og_tensor *back;
    OG_CHECK(og_tensor_load_pb(path, &back));
    ck_assert_int_eq(back->dtype, OG_INT64);
    ck_assert_int_eq(((int64_t *)back->data)[2], 9);
    og_tensor_free(back);
    og_tensor_free(a);
    og_tensor_free(b);
}
END_TEST

/* ---- external data: two files ---------------------------------------------- */

/* Model b keeps w0 (1025 floats, 4100 bytes) and w1 (300 floats) in w.bin:
 * the data file takes three writes (w0, zero padding to 8192, w1) and the
 * model one; the data file's steps come first. */
START_TEST(external_save_fails_at_each_step)
{
    const char *dir = fresh_dir("sf_external");
    char path[600], data[600];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    snprintf(data, sizeof data, "%s/w.bin", dir);
    og_graph *a = model(2, (int[]){ 512, 600 }, 1.0f), *b = model(2, (int[]){ 1025, 300 }, 5.0f);
    const char *names[] = { "m.onnx", "w.bin" };
    static const char *const temps[OG_IO_OP_COUNT][4] = {
        [OG_IO_OPEN] = { "w.bin", "m.onnx" },
        [OG_IO_WRITE] = { "w.bin", "w.bin", "w.bin", "m.onnx" },
        [OG_IO_FSYNC] = { "w.bin", "m.onnx" },
        [OG_IO_CLOSE] = { "w.bin", "m.onnx" },
        [OG_IO_RENAME] = { "w.bin", "m.onnx" },
    };
    static const int expect_calls[OG_IO_OP_COUNT] = {
        [OG_IO_OPEN] = 2, [OG_IO_WRITE] = 4, [OG_IO_FSYNC] = 2, [OG_IO_CLOSE] = 2, [OG_IO_RENAME] = 2,
    };
    for (int op = OG_IO_OPEN; op <= OG_IO_RENAME; op++) {
        OG_CHECK(save_external(a, path));
        snapshot snap[] = { { path, NULL, 0 }, { data, NULL, 0 } };
        take_snapshot(snap, 2);
        ck_assert_ptr_nonnull(snap[1].bytes);
        int n = fail_each_call((og_io_op)op, save_external, b, path, temps[op], snap, 2, dir, names, 2);
        ck_assert_int_eq(n, expect_calls[op]);
        free_snapshot(snap, 2);
        /* The old pair still loads after the model's rename failed and the
         * data file was put back. */
        if (op == OG_IO_RENAME) {
            OG_CHECK(save_external(a, path));
            og_io_fault_set(OG_IO_RENAME, 2);
            og_status st = save_external(b, path);
            og_io_fault_set(OG_IO_RENAME, 0);
            ck_assert_int_eq(st, OG_ERR_IO);
            og_graph *back;
            const og_tensor *w;
            OG_CHECK(og_model_load_file(path, &back));
            OG_CHECK(og_graph_initializer(back, 0, &w));
            ck_assert_int_eq(w->numel, 512);
            ck_assert_float_eq(((float *)w->data)[511], 1.0f + 511);
            og_graph_free(back);
            OG_CHECK(save_external(b, path));
        }
    }
    og_graph *back;
    const og_tensor *w;
    OG_CHECK(og_model_load_file(path, &back));
    OG_CHECK(og_graph_initializer(back, 0, &w));
    ck_assert_int_eq(w->numel, 1025);
    ck_assert_float_eq(((float *)w->data)[1024], 5.0f + 1024);
    og_graph_free(back);
    og_graph_free(a);
    og_graph_free(b);
}
END_TEST

/* The model's rename fails where there was no data file before: the new
 * data file is removed again, so nothing dangles. */
START_TEST(external_save_failure_removes_new_data_file)
{
    const char *dir = fresh_dir("sf_external_new");
    char path[600], data[600];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    snprintf(data, sizeof data, "%s/w.bin", dir);
    og_graph *a = model(1, (int[]){ 4 }, 1.0f), *b = model(2, (int[]){ 1025, 300 }, 5.0f);
    OG_CHECK(og_model_save_file(a, path));   /* inline: no w.bin */
    size_t n;
    void *old = read_all(path, &n);
    og_io_fault_set(OG_IO_RENAME, 2);
    og_status st = save_external(b, path);
    og_io_fault_set(OG_IO_RENAME, 0);
    ck_assert_int_eq(st, OG_ERR_IO);
    ck_assert_int_ne(access(data, F_OK), 0);
    assert_same_file(path, old, n);
    assert_dir_holds(dir, (const char *[]){ "m.onnx" }, 1);
    free(old);
    og_graph_free(a);
    og_graph_free(b);
}
END_TEST

/* ---- reads honour OG_LIMIT_FILE_BYTES --------------------------------------- */

START_TEST(file_size_limit)
{
    const char *dir = fresh_dir("sf_limit");
    char path[600], pb[600];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    snprintf(pb, sizeof pb, "%s/t.pb", dir);
    og_graph *g = model(1, (int[]){ 64 }, 1.0f), *back;
    og_tensor *t, *tb;
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ 64 }, &t));
    og_limit(OG_LIMIT_FILE_BYTES, 100);
    /* Saving is bounded by protobuf's 2 GiB, not by the read limit. */
    OG_CHECK(og_model_save_file(g, path));
    OG_CHECK(og_tensor_save_pb(t, pb));
    size_t n;
    void *bytes = read_all(path, &n);
    char want[200];
    snprintf(want, sizeof want, "m.onnx: file is %zu bytes, over the limit of 100 bytes (file-bytes); raise it with --limit file-bytes=N or OG_LIMIT_FILE_BYTES=N", n);
    OG_CHECK_FAILS(og_model_load_file(path, &back), OG_ERR_LIMIT, want);
    snprintf(want, sizeof want, "model is %zu bytes, over the limit of 100 bytes (file-bytes); raise it with --limit file-bytes=N or OG_LIMIT_FILE_BYTES=N", n);
    OG_CHECK_FAILS(og_model_load_memory(bytes, n, &back), OG_ERR_LIMIT, want);
    free(bytes);
    bytes = read_all(pb, &n);
    OG_CHECK_FAILS(og_tensor_load_pb(pb, &tb), OG_ERR_LIMIT, "over the limit of 100 bytes (file-bytes); raise it with --limit file-bytes=N or OG_LIMIT_FILE_BYTES=N");
    snprintf(want, sizeof want, "TensorProto is %zu bytes, over the limit of 100 bytes (file-bytes); raise it with --limit file-bytes=N or OG_LIMIT_FILE_BYTES=N", n);
    OG_CHECK_FAILS(og_tensor_load_pb_memory(bytes, n, &tb), OG_ERR_LIMIT, want);
    og_limits_reset();
    OG_CHECK(og_model_load_file(path, &back));
    OG_CHECK(og_tensor_load_pb_memory(bytes, n, &tb));
    free(bytes);
    og_tensor_free(tb);
    og_graph_free(back);
    og_tensor_free(t);
    og_graph_free(g);
}
END_TEST

static Suite *savefault_suite(void)
{
    Suite *s = suite_create("savefault");
    TCase *tc = tcase_create("faults");
    tcase_add_test(tc, model_save_fails_at_each_step);
    tcase_add_test(tc, directory_fsync_failure_is_not_reported);
    tcase_add_test(tc, tensor_save_fails_at_each_step);
    tcase_add_test(tc, external_save_fails_at_each_step);
    tcase_add_test(tc, external_save_failure_removes_new_data_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, file_size_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(savefault_suite());
}
