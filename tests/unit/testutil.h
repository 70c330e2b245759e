/* SPDX-License-Identifier: MIT */
/* testutil.h — small helpers shared by the Check suites. */
#ifndef OG_TESTUTIL_H
#define OG_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <onnxgrad/onnxgrad.h>

/* Fails the test with og_errmsg() when an onnxgrad call does not return OG_OK. */
#define OG_CHECK(call)                                                                  \
    do {                                                                                \
        og_status st_ = (call);                                                         \
        ck_assert_msg(st_ == OG_OK, "%s -> %s: %s", #call, og_status_name(st_), og_errmsg()); \
    } while (0)

/* Asserts that a call fails with `code` and a message containing `needle`. */
#define OG_CHECK_FAILS(call, code, needle)                                              \
    do {                                                                                \
        og_status st_ = (call);                                                         \
        ck_assert_msg(st_ == (code), "%s -> %s (expected %s): %s", #call, og_status_name(st_), \
                      og_status_name(code), og_errmsg());                               \
        ck_assert_msg(strstr(og_errmsg(), (needle)) != NULL, "message '%s' lacks '%s'", \
                      og_errmsg(), (needle));                                           \
    } while (0)

/* A whole file (which must exist). Ownership: free() the result. */
static inline void *og_test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc(n ? (size_t)n : 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return b;
}

static inline void og_test_write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(d, 1, n, f), n);
    fclose(f);
}

/* Runs one suite and returns the process exit status. */
static inline int og_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
