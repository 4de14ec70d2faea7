/* The progress bar: the exact line shmpool_progress_format writes, and (with the pool core)
   what shmpool_progress_wait draws on a terminal, on a file, and with NEVER. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "shmpool.h"

static void expect_line(const char *label, size_t done, size_t total, double elapsed, int width,
                        const char *want) {
    char buf[256];
    int n = shmpool_progress_format(buf, sizeof buf, label, done, total, elapsed, width);
    assert_string_equal(buf, want);
    assert_int_equal(n, (int)strlen(want));
}

static void test_progress_format_matches_the_documented_example(void **state) {
    (void)state;
    expect_line("label", 450, 1000, 2.5, 10,
                "label  45% |#####     | 450/1000 [00:02<00:03, 180.0 it/s]");
}

static void test_progress_format_before_any_item_has_no_rate_or_eta(void **state) {
    (void)state;
    expect_line("x", 0, 100, 0.0, 4, "x   0% |    | 0/100 [00:00<?, ? it/s]");
    expect_line("x", 0, 100, 3.0, 4, "x   0% |    | 0/100 [00:03<?, ? it/s]");
}

static void test_progress_format_finished_job_fills_the_bar(void **state) {
    (void)state;
    expect_line("done", 100, 100, 12.34, 4, "done 100% |####| 100/100 [00:12<00:00, 8.1 it/s]");
}

static void test_progress_format_is_full_only_when_the_job_is(void **state) {
    (void)state;
    expect_line("a", 999, 1000, 1.0, 10,
                "a  99% |######### | 999/1000 [00:01<00:00, 999.0 it/s]");
}

static void test_progress_format_slow_items_show_seconds_per_item_in_mm_ss(void **state) {
    (void)state;
    expect_line("m", 50, 100, 125.9, 2, "m  50% |# | 50/100 [02:05<02:05, 2.5 s/it]");
}

static void test_progress_format_past_an_hour_shows_hours(void **state) {
    (void)state;
    expect_line(NULL, 1, 4, 3725.0, 8, " 25% |##      | 1/4 [1:02:05<3:06:15, 3725.0 s/it]");
    expect_line("", 1, 4, 3725.0, 8, " 25% |##      | 1/4 [1:02:05<3:06:15, 3725.0 s/it]");
}

static void test_progress_format_total_zero_is_complete(void **state) {
    (void)state;
    expect_line("empty", 0, 0, 0.5, 5, "empty 100% |#####| 0/0 [00:00<00:00, ? it/s]");
}

static void test_progress_format_done_past_total_clamps(void **state) {
    (void)state;
    expect_line("c", 150, 100, 10.0, 4, "c 100% |####| 100/100 [00:10<00:00, 10.0 it/s]");
}

static void test_progress_format_width_zero_has_no_bar(void **state) {
    (void)state;
    expect_line("w", 5, 10, 1.0, 0, "w  50% 5/10 [00:01<00:01, 5.0 it/s]");
}

static void test_progress_format_huge_counts_do_not_overflow(void **state) {
    (void)state;
    char buf[256];
    assert_true(shmpool_progress_format(buf, sizeof buf, "h", SIZE_MAX / 2, SIZE_MAX, 1.0, 4) > 0);
    /* Beyond exact integer range the percent may round, but never wraps around. */
    assert_true(strncmp(buf, "h  49% |##  | ", 14) == 0 || strncmp(buf, "h  50% |##  | ", 14) == 0);
    assert_true(shmpool_progress_format(buf, sizeof buf, "h", SIZE_MAX - 1, SIZE_MAX, 1.0, 4) > 0);
    assert_int_equal(strncmp(buf, "h  99% |### | ", 14), 0);
}

static void test_progress_format_truncates_to_the_buffer(void **state) {
    (void)state;
    char buf[10];
    memset(buf, 'z', sizeof buf);
    assert_int_equal(shmpool_progress_format(buf, sizeof buf, "label", 450, 1000, 2.5, 10), 9);
    assert_string_equal(buf, "label  45");
    assert_int_equal(shmpool_progress_format(buf, 1, "label", 1, 2, 1.0, 10), 0);
    assert_string_equal(buf, "");
}

static void test_progress_format_rejects_bad_arguments(void **state) {
    (void)state;
    char buf[64];
    assert_int_equal(shmpool_progress_format(NULL, sizeof buf, "l", 1, 2, 1.0, 10), -EINVAL);
    assert_int_equal(shmpool_progress_format(buf, 0, "l", 1, 2, 1.0, 10), -EINVAL);
    assert_int_equal(shmpool_progress_format(buf, sizeof buf, "l", 1, 2, 1.0, -1), -EINVAL);
    assert_int_equal(shmpool_progress_format(buf, sizeof buf, "l", 1, 2, -1.0, 10), -EINVAL);
    assert_int_equal(shmpool_progress_format(buf, sizeof buf, "l", 1, 2, NAN, 10), -EINVAL);
    assert_int_equal(shmpool_progress_wait(NULL, "l", SHMPOOL_PROGRESS_NEVER), -EINVAL);
}

#ifndef SHMPOOL_TEST_NO_CORE
/* Needs the pool core; a standalone build of this file defines SHMPOOL_TEST_NO_CORE. */
enum { ITEMS = 30 };

static int slow_square(const void *in, void *out, void *ctx) {
    (void)ctx;
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
    *(int *)out = *(const int *)in * *(const int *)in;
    return 0;
}

/* Runs a ~150 ms map with stderr redirected to `fd`; returns wait's code. */
static int wait_with_stderr_on(int fd, int mode) {
    static int in[ITEMS], out[ITEMS];
    for (int i = 0; i < ITEMS; i++)
        in[i] = i;
    shmpool *pool;
    shmpool_options opt = {.workers = 2};
    assert_int_equal(shmpool_create(&pool, &opt), 0);
    shmpool_result *r;
    assert_int_equal(
        shmpool_map_async(pool, slow_square, NULL, in, sizeof(int), out, sizeof(int), ITEMS, 1, &r),
        0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    int rc = shmpool_progress_wait(r, "squares", mode);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    shmpool_result_free(r);
    shmpool_destroy(pool);
    for (int i = 0; i < ITEMS; i++)
        assert_int_equal(out[i], i * i);
    return rc;
}

static size_t read_all(int fd, char *buf, size_t len) {
    size_t n = 0;
    ssize_t k;
    while (n + 1 < len && (k = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    return n;
}

static void test_progress_wait_on_a_file_writes_one_final_line(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    char path[] = "/tmp/shmpool-progress-XXXXXX", text[4096];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(wait_with_stderr_on(fd, SHMPOOL_PROGRESS_ALWAYS), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    read_all(fd, text, sizeof text);
    assert_int_equal(strncmp(text, "squares 100% |#########################| 30/30 [", 48), 0);
    assert_non_null(strstr(text, " it/s]\n"));
    assert_null(strchr(text, '\r'));
    assert_null(strchr(text, '\x1b'));
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);

    /* AUTO on a file and NEVER draw nothing. */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(wait_with_stderr_on(fd, SHMPOOL_PROGRESS_AUTO), 0);
    assert_int_equal(wait_with_stderr_on(fd, SHMPOOL_PROGRESS_NEVER), 0);
    assert_int_equal(lseek(fd, 0, SEEK_END), 0);
    close(fd);
    assert_true(resources_same(&before));
}

static void test_progress_wait_on_a_terminal_redraws_one_line(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
        test_skip();
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    assert_int_equal(wait_with_stderr_on(slave, SHMPOOL_PROGRESS_AUTO), 0);
    close(slave);
    char text[8192];
    assert_int_equal(fcntl(master, F_SETFL, O_NONBLOCK), 0);
    size_t n = read_all(master, text, sizeof text);
    close(master);
    assert_true(n > 0);
    assert_int_equal(text[0], '\r');
    assert_non_null(strstr(text, "\rsquares 100% |#########################| 30/30 ["));
    assert_non_null(strstr(text, "\x1b[K"));
    assert_int_equal(text[n - 1], '\n');
    assert_true(resources_same(&before));
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_format_matches_the_documented_example),
        cmocka_unit_test(test_progress_format_before_any_item_has_no_rate_or_eta),
        cmocka_unit_test(test_progress_format_finished_job_fills_the_bar),
        cmocka_unit_test(test_progress_format_is_full_only_when_the_job_is),
        cmocka_unit_test(test_progress_format_slow_items_show_seconds_per_item_in_mm_ss),
        cmocka_unit_test(test_progress_format_past_an_hour_shows_hours),
        cmocka_unit_test(test_progress_format_total_zero_is_complete),
        cmocka_unit_test(test_progress_format_done_past_total_clamps),
        cmocka_unit_test(test_progress_format_width_zero_has_no_bar),
        cmocka_unit_test(test_progress_format_huge_counts_do_not_overflow),
        cmocka_unit_test(test_progress_format_truncates_to_the_buffer),
        cmocka_unit_test(test_progress_format_rejects_bad_arguments),
#ifndef SHMPOOL_TEST_NO_CORE
        cmocka_unit_test(test_progress_wait_on_a_file_writes_one_final_line),
        cmocka_unit_test(test_progress_wait_on_a_terminal_redraws_one_line),
#endif
    };
    return test_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
