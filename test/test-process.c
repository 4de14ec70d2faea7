/* shmpool_process_*: start, join with and without a timeout, terminate, exit codes. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "shmpool.h"

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int return_arg(void *arg) {
    return (int)(intptr_t)arg;
}

static int sleep_ms(void *arg) {
    struct timespec ts = {0, (long)(intptr_t)arg * 1000000L};
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    nanosleep(&ts, NULL);
    return 7;
}

static int sleep_forever(void *arg) {
    (void)arg;
    for (;;)
        pause();
    return 0;
}

static void test_process_exit_status_comes_back(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_process *p;
    assert_int_equal(shmpool_process_start(&p, return_arg, (void *)(intptr_t)42), 0);
    assert_true(shmpool_process_pid(p) > 0);
    assert_int_equal(shmpool_process_join(p, -1), 0);
    int code = -100;
    assert_int_equal(shmpool_process_exitcode(p, &code), 0);
    assert_int_equal(code, 42);
    /* Joining an ended process again is fine; only the low 8 bits of a return value survive. */
    assert_int_equal(shmpool_process_join(p, 0), 0);
    shmpool_process_free(p);
    assert_int_equal(shmpool_process_start(&p, return_arg, (void *)(intptr_t)0x1ff), 0);
    assert_int_equal(shmpool_process_join(p, 5000), 0);
    assert_int_equal(shmpool_process_exitcode(p, &code), 0);
    assert_int_equal(code, 0xff);
    shmpool_process_free(p);
    assert_true(resources_same(&before));
}

static void test_process_terminated_child_reports_minus_sigterm(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_process *p;
    assert_int_equal(shmpool_process_start(&p, sleep_forever, NULL), 0);
    int code;
    assert_int_equal(shmpool_process_exitcode(p, &code), -EBUSY);
    assert_int_equal(shmpool_process_terminate(p), 0);
    assert_int_equal(shmpool_process_join(p, 5000), 0);
    assert_int_equal(shmpool_process_exitcode(p, &code), 0);
    assert_int_equal(code, -SIGTERM);
    /* Terminating an ended process is not an error. */
    assert_int_equal(shmpool_process_terminate(p), 0);
    shmpool_process_free(p);
    assert_true(resources_same(&before));
}

static void test_process_join_times_out_then_succeeds_later(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_process *p;
    assert_int_equal(shmpool_process_start(&p, sleep_ms, (void *)(intptr_t)400), 0);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_process_join(p, 100), -ETIMEDOUT);
    uint64_t waited = now_ms() - t0;
    assert_true(waited >= 95 && waited < 390);
    assert_int_equal(shmpool_process_join(p, 0), -ETIMEDOUT);
    assert_int_equal(shmpool_process_join(p, 10000), 0);
    assert_true(now_ms() - t0 < 5000);
    int code;
    assert_int_equal(shmpool_process_exitcode(p, &code), 0);
    assert_int_equal(code, 7);
    shmpool_process_free(p);
    assert_true(resources_same(&before));
}

struct doubling {
    int *out;
    int index;
    int value;
};

static int double_into_shared(void *arg) {
    struct doubling *d = arg;
    d->out[d->index] = 2 * d->value;
    return 0;
}

static void test_process_five_children_double_into_shared_memory(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    int *out = mmap(NULL, 5 * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(out != MAP_FAILED);
    struct doubling args[5];
    shmpool_process *procs[5];
    for (int i = 0; i < 5; i++) {
        args[i] = (struct doubling){out, i, 5 * (i + 1)};
        assert_int_equal(shmpool_process_start(&procs[i], double_into_shared, &args[i]), 0);
    }
    for (int i = 0; i < 5; i++) {
        int code;
        assert_int_equal(shmpool_process_join(procs[i], 5000), 0);
        assert_int_equal(shmpool_process_exitcode(procs[i], &code), 0);
        assert_int_equal(code, 0);
        shmpool_process_free(procs[i]);
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(out[i], 10 * (i + 1));
    assert_int_equal(munmap(out, 5 * sizeof(int)), 0);
    assert_true(resources_same(&before));
}

static void test_process_free_kills_and_reaps_a_running_child(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_process *p;
    assert_int_equal(shmpool_process_start(&p, sleep_forever, NULL), 0);
    shmpool_process_free(p);
    assert_true(resources_same(&before));
}

static void test_process_rejects_null_arguments(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_process *p = NULL;
    int code;
    assert_int_equal(shmpool_process_start(NULL, return_arg, NULL), -EINVAL);
    assert_int_equal(shmpool_process_start(&p, NULL, NULL), -EINVAL);
    assert_null(p);
    assert_int_equal(shmpool_process_join(NULL, 0), -EINVAL);
    assert_int_equal(shmpool_process_terminate(NULL), -EINVAL);
    assert_int_equal(shmpool_process_exitcode(NULL, &code), -EINVAL);
    assert_true(shmpool_process_pid(NULL) < 0);
    shmpool_process_free(NULL);
    assert_int_equal(shmpool_process_start(&p, return_arg, NULL), 0);
    assert_int_equal(shmpool_process_exitcode(p, NULL), -EINVAL);
    shmpool_process_free(p);
    assert_true(resources_same(&before));
}

/* SIGCHLD ignored: the kernel reaps children itself, waitpid says ECHILD. */
static void test_process_status_comes_back_with_sigchld_ignored(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
    shmpool_process *p, *q, *k;
    int code = -100;
    assert_int_equal(shmpool_process_start(&p, return_arg, (void *)(intptr_t)42), 0);
    assert_int_equal(shmpool_process_join(p, -1), 0);
    assert_int_equal(shmpool_process_exitcode(p, &code), 0);
    assert_int_equal(code, 42);
    assert_int_equal(shmpool_process_start(&q, sleep_ms, (void *)(intptr_t)50), 0);
    assert_int_equal(shmpool_process_exitcode(q, &code), -EBUSY);
    assert_int_equal(shmpool_process_join(q, 5000), 0);
    assert_int_equal(shmpool_process_exitcode(q, &code), 0);
    assert_int_equal(code, 7);
    /* killed by a signal: the status is gone with the child, and exitcode says so */
    assert_int_equal(shmpool_process_start(&k, sleep_forever, NULL), 0);
    assert_int_equal(kill(shmpool_process_pid(k), SIGKILL), 0);
    assert_int_equal(shmpool_process_join(k, 5000), 0);
    assert_int_equal(shmpool_process_exitcode(k, &code), -ECHILD);
    assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0);
    shmpool_process_free(p);
    shmpool_process_free(q);
    shmpool_process_free(k);
    assert_true(resources_same(&before));
}

/* The program reaps its children itself (waitpid(-1), as a SIGCHLD handler would). */
static void test_process_status_comes_back_when_the_program_reaps_first(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_process *p;
    assert_int_equal(shmpool_process_start(&p, return_arg, (void *)(intptr_t)5), 0);
    int status;
    assert_int_equal(waitpid(-1, &status, 0), shmpool_process_pid(p));
    int code = -100;
    assert_int_equal(shmpool_process_exitcode(p, &code), 0);
    assert_int_equal(code, 5);
    assert_int_equal(shmpool_process_join(p, 1000), 0);
    shmpool_process_free(p);
    assert_int_equal(shmpool_process_start(&p, return_arg, (void *)(intptr_t)9), 0);
    assert_int_equal(waitpid(-1, &status, 0), shmpool_process_pid(p));
    assert_int_equal(shmpool_process_join(p, -1), 0);
    assert_int_equal(shmpool_process_exitcode(p, &code), 0);
    assert_int_equal(code, 9);
    shmpool_process_free(p);
    assert_true(resources_same(&before));
}

/* The first fork and allocation grow the heap for good (ASan's allocator maps per size class):
   do them once before any test counts mappings. */
static int warm_up(void **state) {
    (void)state;
    shmpool_process *p;
    if (shmpool_process_start(&p, return_arg, NULL) != 0)
        return -1;
    shmpool_process_join(p, -1);
    shmpool_process_free(p);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_exit_status_comes_back),
        cmocka_unit_test(test_process_terminated_child_reports_minus_sigterm),
        cmocka_unit_test(test_process_join_times_out_then_succeeds_later),
        cmocka_unit_test(test_process_five_children_double_into_shared_memory),
        cmocka_unit_test(test_process_free_kills_and_reaps_a_running_child),
        cmocka_unit_test(test_process_rejects_null_arguments),
        cmocka_unit_test(test_process_status_comes_back_with_sigchld_ignored),
        cmocka_unit_test(test_process_status_comes_back_when_the_program_reaps_first),
    };
    return cmocka_run_group_tests(tests, warm_up, NULL);
}
