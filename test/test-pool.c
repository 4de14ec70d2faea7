/* The pool's life: create with options and initializer, close/join/terminate rules, destroy
   leaving nothing, max tasks per worker, and a pool created from a short-lived thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "shmpool.h"

static const shmpool_options quiet2 = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};

static int pid_of(const void *in, void *out, void *ctx) {
    (void)in, (void)ctx;
    *(pid_t *)out = getpid();
    return 0;
}

static int inc(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int *)out = *(const int *)in + 1;
    return 0;
}

static void test_create_with_null_options_uses_the_usable_core_count(void **state) {
    (void)state;
    shmpool *p;
    assert_int_equal(shmpool_create(&p, NULL), 0);
    assert_int_equal(shmpool_workers(p), (unsigned)shmpool_cpu_count(SHMPOOL_CPU_USABLE));
    int a = 1, b = 0;
    assert_int_equal(shmpool_apply(p, inc, NULL, &a, sizeof a, &b, sizeof b), 0);
    assert_int_equal(b, 2);
    shmpool_destroy(p);
}

static void test_create_rejects_bad_options(void **state) {
    (void)state;
    shmpool *p = (void *)1;
    assert_int_equal(shmpool_create(NULL, NULL), -EINVAL);
    shmpool_options o = {.flags = 0x80000000u};
    assert_int_equal(shmpool_create(&p, &o), -EINVAL);
    assert_null(p);
    shmpool_options r = {.workers = 1};
    r.reserved_[2] = 1;
    assert_int_equal(shmpool_create(&p, &r), -EINVAL);
    shmpool_options big = {.workers = 100000};
    assert_int_equal(shmpool_create(&p, &big), -EINVAL);
}

/* The initializer runs once in each worker before any task; its argument is valid there. */
struct init_state {
    _Atomic int runs;
    int seed;
};
static struct init_state *init_shared;
static int worker_seed; /* a per-process global the initializer sets */

static int init_ok(void *arg) {
    struct init_state *s = arg;
    atomic_fetch_add(&s->runs, 1);
    worker_seed = s->seed;
    return 0;
}

static int read_seed(const void *in, void *out, void *ctx) {
    (void)in, (void)ctx;
    *(int *)out = worker_seed;
    return 0;
}

static void test_initializer_runs_once_in_each_worker_before_any_task(void **state) {
    (void)state;
    init_shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    init_shared->seed = 1234;
    shmpool_options o = quiet2;
    o.initializer = init_ok;
    o.initializer_arg = init_shared;
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    assert_int_equal(atomic_load(&init_shared->runs), 2); /* create returns once all ran */
    int seeds[10];
    int ins[10] = {0};
    assert_int_equal(shmpool_map(p, read_seed, NULL, ins, sizeof ins[0], seeds, sizeof seeds[0], 10, 1), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(seeds[i], 1234);
    shmpool_destroy(p);
    munmap(init_shared, 4096);
}

static int init_fails(void *arg) {
    (void)arg;
    return -EADDRNOTAVAIL;
}

static void test_a_failing_initializer_fails_create_with_its_code(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_options o = quiet2;
    o.initializer = init_fails;
    shmpool *p = (void *)1;
    assert_int_equal(shmpool_create(&p, &o), -EADDRNOTAVAIL);
    assert_null(p);
    assert_true(resources_same(&before));
}

static void test_close_refuses_new_work_and_join_waits_for_submitted_work(void **state) {
    (void)state;
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &quiet2), 0);
    assert_int_equal(shmpool_join(p), -EINVAL); /* neither closed nor terminated */
    int in[100], out[100];
    for (int i = 0; i < 100; i++)
        in[i] = i;
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(p, inc, NULL, in, sizeof in[0], out, sizeof out[0], 100, 1, &r), 0);
    assert_int_equal(shmpool_close(p), 0);
    assert_int_equal(shmpool_map(p, inc, NULL, in, sizeof in[0], out, sizeof out[0], 100, 0), -ESHUTDOWN);
    assert_int_equal(shmpool_apply(p, inc, NULL, in, sizeof in[0], out, sizeof out[0]), -ESHUTDOWN);
    assert_int_equal(shmpool_join(p), 0);
    assert_int_equal(shmpool_result_get(r, 0), 0); /* the work submitted before close ran */
    for (int i = 0; i < 100; i++)
        assert_int_equal(out[i], i + 1);
    shmpool_result_free(r);
    assert_int_equal(shmpool_join(p), 0);
    shmpool_destroy(p);
}

static int sleepy(const void *in, void *out, void *ctx) {
    (void)in, (void)out, (void)ctx;
    sleep(30);
    return 0;
}

static void test_terminate_cancels_running_work_and_refuses_new_work(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &quiet2), 0);
    int in[4] = {0};
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(p, sleepy, NULL, in, sizeof in[0], NULL, 0, 4, 1, &r), 0);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(shmpool_terminate(p), 0);
    assert_int_equal(shmpool_result_get(r, 1000), -ECANCELED);
    assert_int_equal(shmpool_apply(p, inc, NULL, in, sizeof in[0], in, sizeof in[0]), -ESHUTDOWN);
    assert_int_equal(shmpool_join(p), 0);
    shmpool_result_free(r);
    shmpool_destroy(p);
    assert_true(resources_same(&before));
}

static void test_destroy_ends_outstanding_results_and_leaves_nothing(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &quiet2), 0);
    int in[4] = {0};
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(p, sleepy, NULL, in, sizeof in[0], NULL, 0, 4, 1, &r), 0);
    void *m = shmpool_alloc(p, 1 << 20);
    assert_non_null(m);
    shmpool_destroy(p); /* frees r and m too */
    assert_true(resources_same(&before));
    shmpool_destroy(NULL);
}

static void test_two_hundred_create_destroy_cycles_leave_nothing_behind(void **state) {
    (void)state;
    shmpool *p;
    /* warm up: the first pool maps libraries' lazily loaded pieces for good */
    assert_int_equal(shmpool_create(&p, &quiet2), 0);
    shmpool_destroy(p);
    struct resources before;
    resources_snapshot(&before);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(shmpool_create(&p, &quiet2), 0);
        if (i % 10 == 0) {
            void *m = shmpool_alloc(p, 8192);
            int a = i, b;
            assert_int_equal(shmpool_apply(p, inc, NULL, &a, sizeof a, &b, sizeof b), 0);
            assert_int_equal(b, i + 1);
            shmpool_free(p, m);
        }
        shmpool_destroy(p);
    }
    assert_true(resources_same(&before));
}

static void test_max_tasks_per_worker_replaces_workers_and_keeps_results(void **state) {
    (void)state;
    shmpool_options o = quiet2;
    o.max_tasks_per_worker = 3;
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    enum { N = 40 };
    pid_t pids[N];
    int in[N] = {0};
    assert_int_equal(shmpool_map(p, pid_of, NULL, in, sizeof in[0], pids, sizeof pids[0], N, 1), 0);
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= pids[k] == pids[i];
        distinct += !seen;
        assert_true(pids[i] > 0);
    }
    assert_true(distinct >= N / 3); /* each process ran at most 3 tasks */
    for (int i = 0; i < N; i++) {
        int same = 0;
        for (int k = 0; k < N; k++)
            same += pids[k] == pids[i];
        assert_true(same <= 3);
    }
    shmpool_destroy(p);
}

/* PR_SET_PDEATHSIG fires when the forking thread exits: a pool created from a thread that ends
   must keep working. */
static void *make_pool(void *arg) {
    shmpool **out = arg;
    if (shmpool_create(out, &quiet2) != 0)
        *out = NULL;
    return NULL;
}

static void test_a_pool_created_from_a_short_lived_thread_keeps_its_workers(void **state) {
    (void)state;
    shmpool *p = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, make_pool, &p), 0);
    pthread_join(t, NULL);
    assert_non_null(p);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int a = 5, b = 0;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(shmpool_apply(p, inc, NULL, &a, sizeof a, &b, sizeof b), 0);
        assert_int_equal(b, 6);
    }
    shmpool_destroy(p);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* A task that can only succeed while another runs at the same time. */
static int meet_the_other(const void *in, void *out, void *ctx) {
    (void)in;
    _Atomic int *arrived = ctx;
    atomic_fetch_add(arrived, 1);
    for (int i = 0; i < 5000 && atomic_load(arrived) < 2; i++)
        sleep_ms(1);
    *(pid_t *)out = getpid();
    return atomic_load(arrived) >= 2 ? 0 : -ETIMEDOUT;
}

/* Two such tasks: both workers must be awake for them, so each wake-up reached its own worker. */
static void two_must_meet(shmpool *p, pid_t pids[2]) {
    _Atomic int *arrived = shmpool_alloc(p, sizeof *arrived);
    assert_non_null(arrived);
    shmpool_result *r[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(shmpool_apply_async(p, meet_the_other, (void *)arrived, NULL, 0, &pids[i],
                                             sizeof pids[i], &r[i]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(shmpool_result_get(r[i], 10000), 0);
        shmpool_result_free(r[i]);
    }
    assert_int_not_equal(pids[0], pids[1]);
    assert_int_equal(shmpool_free(p, (void *)arrived), 0);
}

static void test_each_sleeping_worker_is_woken_also_after_one_was_killed_asleep(void **state) {
    (void)state;
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &quiet2), 0);
    pid_t pids[2];
    for (int round = 0; round < 3; round++) {
        sleep_ms(50); /* long past the spin: both workers sleep */
        two_must_meet(p, pids);
    }
    sleep_ms(50);
    kill(pids[0], SIGKILL); /* asleep: its replacement must be wakeable, nobody else's wake lost */
    for (int round = 0; round < 3; round++) {
        sleep_ms(50);
        pid_t again[2];
        two_must_meet(p, again);
        assert_true(again[0] != pids[0] && again[1] != pids[0]);
    }
    shmpool_destroy(p);
}

/* Two tasks pushed back to back while one worker spins and the other sleeps (the state right after
   a round: only usable-1 workers spin): the spinner takes one, so the second needs the sleeper
   woken. A wake-up that counted the spinner against the second push too left it queued behind a
   task that waits for it (about 1 round in 700 on two cores). */
static void test_tasks_pushed_back_to_back_wake_the_sleeper_the_spinner_does_not_cover(void **state) {
    (void)state;
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &quiet2), 0);
    for (int round = 0; round < 2000; round++) {
        pid_t pids[2];
        two_must_meet(p, pids);
    }
    shmpool_destroy(p);
}

static int add_one(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int64_t *)out = *(const int64_t *)in + 1;
    return 0;
}

/* A task that calls its own pool: it must be refused, never act. */
static int calls_its_pool(const void *in, void *out, void *ctx) {
    (void)ctx;
    shmpool *pool = *(shmpool *const *)in;
    int64_t one = 1, two = 0;
    *(int64_t *)out = shmpool_apply(pool, add_one, NULL, &one, sizeof one, &two, sizeof two);
    return 0;
}

static void test_calls_from_a_forked_child_or_a_task_get_eperm_and_do_nothing(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    int64_t rc_in_task = 0;
    assert_int_equal(shmpool_apply(p, calls_its_pool, NULL, &p, sizeof p, &rc_in_task, sizeof rc_in_task), 0);
    assert_int_equal(rc_in_task, -EPERM);
    pid_t child = fork();
    if (child == 0) {
        int64_t one = 1, two = 0;
        int bad = shmpool_apply(p, add_one, NULL, &one, sizeof one, &two, sizeof two) != -EPERM;
        bad |= shmpool_alloc(p, 4096) != NULL || errno != EPERM;
        bad |= shmpool_close(p) != -EPERM;
        shmpool_destroy(p); /* does nothing here */
        _exit(bad);
    }
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int64_t one = 1, two = 0; /* the parent's pool is untouched */
    assert_int_equal(shmpool_apply(p, add_one, NULL, &one, sizeof one, &two, sizeof two), 0);
    assert_int_equal(two, 2);
    shmpool_destroy(p);
}

static void test_a_result_freed_twice_is_not_handed_to_two_submissions(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    int64_t in = 1, out1 = 0, out2 = 0;
    shmpool_result *r, *a, *b;
    assert_int_equal(shmpool_apply_async(p, add_one, NULL, &in, sizeof in, &out1, sizeof out1, &r), 0);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    shmpool_result_free(r);
    shmpool_result_free(r); /* refused */
    assert_int_equal(shmpool_apply_async(p, add_one, NULL, &in, sizeof in, &out1, sizeof out1, &a), 0);
    assert_int_equal(shmpool_apply_async(p, add_one, NULL, &in, sizeof in, &out2, sizeof out2, &b), 0);
    assert_ptr_not_equal(a, b);
    assert_int_equal(shmpool_result_get(a, -1), 0);
    assert_int_equal(shmpool_result_get(b, -1), 0);
    assert_int_equal(out1 + out2, 4);
    shmpool_result_free(a);
    shmpool_result_free(b);
    shmpool_destroy(p);
}

static void test_strerror_explains_every_code(void **state) {
    (void)state;
    assert_string_equal(shmpool_strerror(0), "success");
    assert_non_null(strstr(shmpool_strerror(SHMPOOL_EKILLED(9)), "signal 9"));
    assert_non_null(strstr(shmpool_strerror(SHMPOOL_EKILLED(11)), "SIGSEGV"));
    assert_non_null(strstr(shmpool_strerror(SHMPOOL_EEXITED(3)), "status 3"));
    assert_non_null(strstr(shmpool_strerror(SHMPOOL_EHELPER), "helper"));
    assert_non_null(strstr(shmpool_strerror(-EINVAL), "nvalid"));
    assert_non_null(strstr(shmpool_strerror(-ESHUTDOWN), "closed"));
    assert_non_null(shmpool_strerror(12345));
    assert_non_null(shmpool_strerror(-99999));
    assert_int_equal(shmpool_error_signal(SHMPOOL_EKILLED(6)), 6);
    assert_int_equal(shmpool_error_signal(-EINVAL), 0);
    assert_int_equal(shmpool_error_exit_status(SHMPOOL_EEXITED(0)), 0);
    assert_int_equal(shmpool_error_exit_status(SHMPOOL_EEXITED(255)), 255);
    assert_int_equal(shmpool_error_exit_status(-EINVAL), -1);
    assert_int_equal(shmpool_version() >> 16, SHMPOOL_VERSION_MAJOR);
    /* every row of the table of codes has its own message, and distinct codes */
    static const struct { int code; const char *msg; } table[] = {
#define XX(name, offset, msg) {SHMPOOL_##name, msg},
        SHMPOOL_ERRNO_MAP(XX)
#undef XX
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        assert_true(table[i].code < -SHMPOOL_ERRNO_BASE);
        assert_string_equal(shmpool_strerror(table[i].code), table[i].msg);
        for (size_t k = 0; k < i; k++)
            assert_int_not_equal(table[i].code, table[k].code);
    }
    assert_string_equal(shmpool_strerror(-(SHMPOOL_ERRNO_BASE + 99)), "unknown error code");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_with_null_options_uses_the_usable_core_count),
        cmocka_unit_test(test_create_rejects_bad_options),
        cmocka_unit_test(test_calls_from_a_forked_child_or_a_task_get_eperm_and_do_nothing),
        cmocka_unit_test(test_a_result_freed_twice_is_not_handed_to_two_submissions),
        cmocka_unit_test(test_initializer_runs_once_in_each_worker_before_any_task),
        cmocka_unit_test(test_a_failing_initializer_fails_create_with_its_code),
        cmocka_unit_test(test_close_refuses_new_work_and_join_waits_for_submitted_work),
        cmocka_unit_test(test_terminate_cancels_running_work_and_refuses_new_work),
        cmocka_unit_test(test_destroy_ends_outstanding_results_and_leaves_nothing),
        cmocka_unit_test(test_two_hundred_create_destroy_cycles_leave_nothing_behind),
        cmocka_unit_test(test_max_tasks_per_worker_replaces_workers_and_keeps_results),
        cmocka_unit_test(test_a_pool_created_from_a_short_lived_thread_keeps_its_workers),
        cmocka_unit_test(test_each_sleeping_worker_is_woken_also_after_one_was_killed_asleep),
        cmocka_unit_test(test_tasks_pushed_back_to_back_wake_the_sleeper_the_spinner_does_not_cover),
        cmocka_unit_test(test_strerror_explains_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
