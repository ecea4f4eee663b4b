/*
 * test_core.c: error messages and aligned allocation (runtime/core.c).
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "run_suite.h"

START_TEST(every_code_has_its_own_message)
{
    static const int codes[] = {NNRT_OK, NNRT_EINDEX, NNRT_ENOMEM, NNRT_EIO, NNRT_EFORMAT,
                                NNRT_ECORRUPT, NNRT_EMISMATCH, NNRT_EINVAL, NNRT_EGRAD,
                                NNRT_ESHAPE, NNRT_EMPI};
    int n = (int)(sizeof codes / sizeof codes[0]);
    for (int i = 0; i < n; i++) {
        const char *m = nnrt_strerror(codes[i]);
        ck_assert_ptr_nonnull(m);
        ck_assert_str_ne(m, "unknown error");
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(m, nnrt_strerror(codes[j]));
    }
    ck_assert_str_eq(nnrt_strerror(NNRT_OK), "success");
    ck_assert_str_eq(nnrt_strerror(NNRT_ENOMEM), "out of memory");
    ck_assert_str_eq(nnrt_strerror(NNRT_EINVAL), "invalid argument");
    ck_assert_msg(strstr(nnrt_strerror(NNRT_ESHAPE), "dim"), "%s", nnrt_strerror(NNRT_ESHAPE));
    ck_assert_msg(strstr(nnrt_strerror(NNRT_EMPI), "MPI"), "%s", nnrt_strerror(NNRT_EMPI));
}
END_TEST

/* The values are the contract's: generated code returns them by number. */
START_TEST(the_codes_have_their_contract_values)
{
    ck_assert_int_eq(NNRT_ESHAPE, -9);
    ck_assert_int_eq(NNRT_EMPI, -10);
    ck_assert_int_eq(NNRT_EGRAD, -8);
    ck_assert_int_eq(NNRT_ABI_VERSION, 2);
    ck_assert_int_eq(NNRT_I64, 4);
    ck_assert_int_eq(NNRT_DIM, 5);
    ck_assert_int_eq(NNRT_STATE, 6);
}
END_TEST

/* Version 2 adds members last: a version-1 descriptor is a prefix of it. */
START_TEST(the_descriptor_of_version_2_extends_version_1)
{
    ck_assert_uint_eq(offsetof(nnrt_tensor, default_value), offsetof(nnrt_tensor_v1, default_value));
    ck_assert_uint_eq(offsetof(nnrt_tensor, dim_names), sizeof(nnrt_tensor_v1));
    ck_assert_uint_eq(offsetof(nnrt_model, train_step), offsetof(nnrt_model_v1, train_step));
    ck_assert_uint_eq(offsetof(nnrt_model, update), sizeof(nnrt_model_v1));
    ck_assert_uint_eq(sizeof(nnrt_state_head), 16);
    ck_assert_uint_eq(offsetof(nnrt_state_head, step), 8);
}
END_TEST

START_TEST(unknown_codes_say_unknown_error)
{
    ck_assert_str_eq(nnrt_strerror(1), "unknown error");
    ck_assert_str_eq(nnrt_strerror(-11), "unknown error");
    ck_assert_str_eq(nnrt_strerror(INT32_MIN), "unknown error");
}
END_TEST

START_TEST(alloc_is_64_byte_aligned_and_zeroed)
{
    static const size_t sizes[] = {1, 7, 63, 64, 65, 1000, 4096 + 3, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = nnrt_alloc(sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 64, 0);
        size_t k = 0;                   /* (one assertion: Check's are slow in a loop) */
        while (k < sizes[i] && p[k] == 0)
            k++;
        ck_assert_msg(k == sizes[i], "byte %zu of %zu is not 0", k, sizes[i]);
        memset(p, 0xFF, sizes[i]);        /* the whole size is usable */
        nnrt_free(p);
    }
}
END_TEST

START_TEST(alloc_of_zero_bytes_is_a_freeable_pointer)
{
    void *p = nnrt_alloc(0);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    nnrt_free(p);
    nnrt_free(NULL);
}
END_TEST

START_TEST(alloc_of_an_impossible_size_fails_cleanly)
{
    ck_assert_ptr_null(nnrt_alloc(SIZE_MAX));
    ck_assert_ptr_null(nnrt_alloc(SIZE_MAX - 10));
    ck_assert_ptr_null(nnrt_alloc((size_t)PTRDIFF_MAX + 1));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("strerror");
    tcase_add_test(tc, every_code_has_its_own_message);
    tcase_add_test(tc, the_codes_have_their_contract_values);
    tcase_add_test(tc, the_descriptor_of_version_2_extends_version_1);
    tcase_add_test(tc, unknown_codes_say_unknown_error);
    suite_add_tcase(s, tc);
    tc = tcase_create("alloc");
    tcase_add_test(tc, alloc_is_64_byte_aligned_and_zeroed);
    tcase_add_test(tc, alloc_of_zero_bytes_is_a_freeable_pointer);
    tcase_add_test(tc, alloc_of_an_impossible_size_fails_cleanly);
    suite_add_tcase(s, tc);

    return run_suite(s);
}
