/* SPDX-License-Identifier: MIT */
/* Tensors: creation, sizes, overflow and ownership. */
#include <stdint.h>
#include "testutil.h"

START_TEST(create_zeroed_and_sized)
{
    og_tensor *t;
    int64_t dims[3] = { 2, 3, 4 };
    OG_CHECK(og_tensor_create(OG_FLOAT, 3, dims, &t));
    ck_assert_int_eq(t->numel, 24);
    ck_assert_int_eq(t->rank, 3);
    for (int k = 0; k < 24; k++)
        ck_assert(((float *)t->data)[k] == 0.0f);
    og_tensor_free(t);
}
END_TEST

START_TEST(scalar_has_one_element)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create_from(OG_DOUBLE, 0, NULL, (double[]){ 2.5 }, &t));
    ck_assert_int_eq(t->numel, 1);
    ck_assert(((double *)t->data)[0] == 2.5);
    og_tensor_free(t);
}
END_TEST

START_TEST(dtype_sizes)
{
    ck_assert_uint_eq(og_dtype_size(OG_FLOAT), 4);
    ck_assert_uint_eq(og_dtype_size(OG_DOUBLE), 8);
    ck_assert_uint_eq(og_dtype_size(OG_INT64), 8);
    ck_assert_uint_eq(og_dtype_size(OG_INT32), 4);
    ck_assert_uint_eq(og_dtype_size(OG_UINT8), 1);
    ck_assert_uint_eq(og_dtype_size(OG_INT8), 1);
    ck_assert_uint_eq(og_dtype_size(OG_BOOL), 1);
    ck_assert_uint_eq(og_dtype_size(OG_STRING), 0);
    ck_assert_str_eq(og_dtype_name(OG_INT64), "int64");
}
END_TEST

START_TEST(rejects_negative_dim)
{
    og_tensor *t = (og_tensor *)1;
    int64_t dims[2] = { 2, -1 };
    OG_CHECK_FAILS(og_tensor_create(OG_FLOAT, 2, dims, &t), OG_ERR_SHAPE, "negative");
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(rejects_overflowing_dims)
{
    og_tensor *t;
    int64_t dims[3] = { INT64_C(1) << 40, INT64_C(1) << 40, 4 };
    OG_CHECK_FAILS(og_tensor_create(OG_FLOAT, 3, dims, &t), OG_ERR_LIMIT, "overflow");
    int64_t big[1] = { INT64_C(1) << 61 };
    OG_CHECK_FAILS(og_tensor_create(OG_DOUBLE, 1, big, &t), OG_ERR_LIMIT, "OG_LIMIT_TENSOR_ELEMENTS");
    /* Past the element limit, the byte count itself must not overflow. */
    int64_t old = og_limit(OG_LIMIT_TENSOR_ELEMENTS, INT64_MAX);
    OG_CHECK_FAILS(og_tensor_create(OG_DOUBLE, 1, big, &t), OG_ERR_LIMIT, "too large");
    og_limit(OG_LIMIT_TENSOR_ELEMENTS, old);
}
END_TEST

START_TEST(rejects_unsupported_dtype_and_rank)
{
    og_tensor *t;
    int64_t dims[OG_MAX_RANK + 1] = { 0 };
    OG_CHECK_FAILS(og_tensor_create(OG_STRING, 0, NULL, &t), OG_ERR_UNSUPPORTED, "string");
    OG_CHECK_FAILS(og_tensor_create(OG_FLOAT, OG_MAX_RANK + 1, dims, &t), OG_ERR_LIMIT, "rank");
}
END_TEST

START_TEST(clone_is_deep)
{
    og_tensor *a, *b;
    int64_t dims[1] = { 3 };
    OG_CHECK(og_tensor_create_from(OG_INT64, 1, dims, (int64_t[]){ 1, 2, 3 }, &a));
    OG_CHECK(og_tensor_set_name(a, "a"));
    OG_CHECK(og_tensor_clone(a, &b));
    ((int64_t *)a->data)[0] = 9;
    ck_assert_int_eq(((int64_t *)b->data)[0], 1);
    ck_assert_str_eq(b->name, "a");
    ck_assert_ptr_ne(a->name, b->name);
    og_tensor_free(a);
    og_tensor_free(b);
    og_tensor_free(NULL);
}
END_TEST

START_TEST(zero_sized_dim_is_fine)
{
    og_tensor *t;
    int64_t dims[2] = { 0, 5 };
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, dims, &t));
    ck_assert_int_eq(t->numel, 0);
    og_tensor_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, create_zeroed_and_sized);
    tcase_add_test(tc, scalar_has_one_element);
    tcase_add_test(tc, dtype_sizes);
    tcase_add_test(tc, rejects_negative_dim);
    tcase_add_test(tc, rejects_overflowing_dims);
    tcase_add_test(tc, rejects_unsupported_dtype_and_rank);
    tcase_add_test(tc, clone_is_deep);
    tcase_add_test(tc, zero_sized_dim_is_fine);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
