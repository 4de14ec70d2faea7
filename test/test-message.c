/* Task failure messages: a task's words travel with its failure to the caller (result and
   per-thread last message), belong to the lowest failing index, are cut at the bound, never leak
   into a later job, and are refused outside a task. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "shmpool.h"

static shmpool *pool;
static struct resources before_all;

static int setup(void **state) {
    (void)state;
    resources_snapshot(&before_all);
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    return shmpool_create(&pool, &o);
}

static int teardown(void **state) {
    (void)state;
    shmpool_destroy(pool);
    return resources_same_but_mappings(&before_all) ? 0 : -1;
}

/* Items 3 and 70 fail, each saying which it is; every other item is fine. */
static int fail_two_saying_which(const void *in, void *out, void *ctx) {
    (void)out, (void)ctx;
    int64_t v = *(const int64_t *)in;
    if (v != 3 && v != 70)
        return 0;
    char msg[64];
    snprintf(msg, sizeof msg, "item %lld is bad", (long long)v);
    shmpool_task_fail_message(msg);
    return -EDOM;
}

static void test_the_lowest_failing_items_message_comes_back_with_its_code(void **state) {
    (void)state;
    size_t n = 100, index;
    int64_t *x = shmpool_alloc(pool, n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (int64_t)i;
    /* chunk 1: both failing items run on their own, in any order */
    assert_int_equal(shmpool_map(pool, fail_two_saying_which, NULL, x, sizeof *x, NULL, 0, n, 1),
                     -EDOM);
    assert_string_equal(shmpool_last_message(), "item 3 is bad");
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(pool, fail_two_saying_which, NULL, x, sizeof *x, NULL, 0, n,
                                       1, &r), 0);
    assert_int_equal(shmpool_result_get(r, -1), -EDOM);
    assert_int_equal(shmpool_result_error(r, &index), -EDOM);
    assert_int_equal(index, 3);
    assert_string_equal(shmpool_result_message(r), "item 3 is bad");
    shmpool_result_free(r);
    /* a later successful call clears the last message */
    assert_int_equal(shmpool_map(pool, fail_two_saying_which, NULL, x, sizeof *x, NULL, 0, 3, 1), 0);
    assert_string_equal(shmpool_last_message(), "");
    shmpool_free(pool, x);
}

static int fail_with_long_message(void *ctx, size_t b, size_t e) {
    (void)ctx, (void)b, (void)e;
    char msg[1000];
    memset(msg, 'x', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    shmpool_task_fail_message(msg);
    return -EIO;
}

static void test_a_long_message_is_cut_at_the_bound(void **state) {
    (void)state;
    assert_int_equal(shmpool_for(pool, fail_with_long_message, NULL, 1, 1), -EIO);
    assert_int_equal(strlen(shmpool_last_message()), SHMPOOL_TASK_MESSAGE_MAX - 1);
}

static int say_but_succeed(void *ctx, size_t b, size_t e) {
    (void)ctx, (void)b, (void)e;
    shmpool_task_fail_message("not a failure");
    return 0;
}

static int fail_silently(void *ctx, size_t b, size_t e) {
    (void)ctx, (void)b, (void)e;
    return -EIO;
}

static int fail_saying_so(void *ctx, size_t b, size_t e) {
    (void)ctx, (void)b, (void)e;
    shmpool_task_fail_message("first job's words");
    return -EIO;
}

static void test_a_message_never_reaches_another_task_or_job(void **state) {
    (void)state;
    /* a task that says something and then succeeds: no message for the next failure */
    assert_int_equal(shmpool_for(pool, say_but_succeed, NULL, 64, 1), 0);
    assert_string_equal(shmpool_last_message(), "");
    assert_int_equal(shmpool_for(pool, fail_silently, NULL, 64, 1), -EIO);
    assert_string_equal(shmpool_last_message(), "");
    /* a job slot that last held a message: the next failure without one reads "" */
    for (int round = 0; round < 300; round++) { /* every slot of the default queue depth */
        assert_int_equal(shmpool_for(pool, fail_saying_so, NULL, 1, 1), -EIO);
        assert_string_equal(shmpool_last_message(), "first job's words");
        shmpool_result *r;
        assert_int_equal(shmpool_for_async(pool, fail_silently, NULL, 1, 1, &r), 0);
        assert_int_equal(shmpool_result_get(r, -1), -EIO);
        assert_string_equal(shmpool_result_message(r), "");
        shmpool_result_free(r);
    }
}

static int apply_fails_with_message(const void *in, void *out, void *ctx) {
    (void)in, (void)out, (void)ctx;
    return shmpool_task_fail_message("apply said no") ? -EFAULT : -ENOEXEC;
}

static void test_apply_and_successful_jobs_report_messages_as_documented(void **state) {
    (void)state;
    assert_int_equal(shmpool_apply(pool, apply_fails_with_message, NULL, NULL, 0, NULL, 0),
                     -ENOEXEC);
    assert_string_equal(shmpool_last_message(), "apply said no");
    shmpool_result *r;
    assert_int_equal(shmpool_for_async(pool, say_but_succeed, NULL, 10, 1, &r), 0);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    assert_string_equal(shmpool_result_message(r), "");
    shmpool_result_free(r);
}

static void test_fail_message_outside_a_task_and_bad_arguments(void **state) {
    (void)state;
    assert_int_equal(shmpool_task_fail_message("from the parent"), -EPERM);
    assert_int_equal(shmpool_task_fail_message(NULL), -EINVAL);
    assert_null(shmpool_result_message(NULL));
    /* an argument error before any job: the last message is cleared, not left from before */
    assert_int_equal(shmpool_for(pool, fail_saying_so, NULL, 1, 1), -EIO);
    assert_int_equal(shmpool_for(pool, NULL, NULL, 1, 1), -EINVAL);
    assert_string_equal(shmpool_last_message(), "");
    assert_string_not_equal(shmpool_strerror(SHMPOOL_ETASKEXC), "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_lowest_failing_items_message_comes_back_with_its_code),
        cmocka_unit_test(test_a_long_message_is_cut_at_the_bound),
        cmocka_unit_test(test_a_message_never_reaches_another_task_or_job),
        cmocka_unit_test(test_apply_and_successful_jobs_report_messages_as_documented),
        cmocka_unit_test(test_fail_message_outside_a_task_and_bad_arguments),
    };
    return test_exit_code(cmocka_run_group_tests(tests, setup, teardown));
}
