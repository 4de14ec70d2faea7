/* map, starmap, apply, for and their async forms: exact results in input order, zero-copy for
   shmpool memory, staging for parent memory, chunk rules, error codes with their index, bad
   arguments, back-pressure, and several parent threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static int twice(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(double *)out = 2 * *(const double *)in;
    return 0;
}

static int square_i64(const void *in, void *out, void *ctx) {
    (void)ctx;
    int64_t v = *(const int64_t *)in;
    *(int64_t *)out = v * v;
    return 0;
}

static void test_map_over_shared_memory_gives_exact_results_in_order(void **state) {
    (void)state;
    size_t n = 100003;
    double *x = shmpool_alloc(pool, n * sizeof *x), *y = shmpool_alloc(pool, n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        x[i] = (double)i - 7.5;
    size_t chunks[] = {0, 1, 3, 1000, n, n + 10};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        memset(y, 0, n * sizeof *y);
        assert_int_equal(shmpool_map(pool, twice, NULL, x, sizeof *x, y, sizeof *y, n, chunks[c]), 0);
        for (size_t i = 0; i < n; i++)
            assert_true(y[i] == 2 * x[i]);
    }
    shmpool_free(pool, x);
    shmpool_free(pool, y);
}

static void test_map_over_ten_million_items(void **state) {
    (void)state;
    size_t n = 10 * 1000 * 1000;
    double *x = shmpool_alloc(pool, n * sizeof *x), *y = shmpool_alloc(pool, n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        x[i] = (double)i;
    assert_int_equal(shmpool_map(pool, twice, NULL, x, sizeof *x, y, sizeof *y, n, 0), 0);
    for (size_t i = 0; i < n; i += 997)
        assert_true(y[i] == 2.0 * (double)i);
    assert_true(y[n - 1] == 2.0 * (double)(n - 1));
    shmpool_free(pool, x);
    shmpool_free(pool, y);
}

/* Each item records the address it was given: shmpool memory is passed as is, parent memory is
   not (it is staged), and the parent still sees every result. */
static int where(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(uintptr_t *)out = (uintptr_t)in;
    return 0;
}

static void test_map_uses_shmpool_memory_in_place_and_stages_parent_memory(void **state) {
    (void)state;
    size_t n = 64;
    char *in = shmpool_alloc(pool, n);
    uintptr_t *out = shmpool_alloc(pool, n * sizeof *out);
    assert_int_equal(shmpool_map(pool, where, NULL, in, 1, out, sizeof *out, n, 5), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i], (uintptr_t)(in + i)); /* zero-copy: the very pointer */
    char local_in[64];
    uintptr_t local_out[64];
    assert_int_equal(shmpool_map(pool, where, NULL, local_in, 1, local_out, sizeof *local_out, n, 5), 0);
    for (size_t i = 1; i < n; i++) {
        assert_int_not_equal(local_out[i], (uintptr_t)(local_in + i)); /* staged copy */
        assert_int_equal(local_out[i] - local_out[0], i);
    }
    shmpool_free(pool, in);
    shmpool_free(pool, out);
}

static void test_map_of_nothing_succeeds_and_writes_nothing(void **state) {
    (void)state;
    double x = 1, y = 42;
    assert_int_equal(shmpool_map(pool, twice, NULL, &x, sizeof x, &y, sizeof y, 0, 0), 0);
    assert_true(y == 42);
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(pool, twice, NULL, &x, sizeof x, &y, sizeof y, 0, 0, &r), 0);
    assert_int_equal(shmpool_result_ready(r), 1);
    assert_int_equal(shmpool_result_get(r, 0), 0);
    shmpool_result_free(r);
    assert_true(y == 42);
}

static void test_map_async_fills_parent_memory_by_the_time_get_returns(void **state) {
    (void)state;
    int64_t in[1000], out[1000];
    for (int i = 0; i < 1000; i++)
        in[i] = i - 500, out[i] = -1;
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(pool, square_i64, NULL, in, sizeof in[0], out, sizeof out[0], 1000, 0, &r), 0);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(out[i], (int64_t)(i - 500) * (i - 500));
    size_t done, total;
    shmpool_result_progress(r, &done, &total);
    assert_int_equal(done, 1000);
    assert_int_equal(total, 1000);
    shmpool_result_free(r);
}

static int doubler_adder(const void *const args[], void *out, void *ctx) {
    (void)ctx;
    *(int64_t *)out = 2 * *(const int64_t *)args[0] + 2 * *(const int32_t *)args[1];
    return 0;
}

static void test_starmap_zips_columns_of_different_types(void **state) {
    (void)state;
    size_t n = 5000;
    int64_t *a = shmpool_alloc(pool, n * sizeof *a);
    int32_t b[5000]; /* a parent-memory column next to a shared one */
    int64_t *out = shmpool_alloc(pool, n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        a[i] = (int64_t)i, b[i] = (int32_t)i + 1;
    const void *cols[] = {a, b};
    size_t sizes[] = {sizeof *a, sizeof *b};
    assert_int_equal(shmpool_starmap(pool, doubler_adder, NULL, 2, cols, sizes, out, sizeof *out, n, 0), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i], 2 * (int64_t)i + 2 * ((int64_t)i + 1));
    shmpool_result *r;
    memset(out, 0, n * sizeof *out);
    assert_int_equal(shmpool_starmap_async(pool, doubler_adder, NULL, 2, cols, sizes, out, sizeof *out, n, 7, &r), 0);
    assert_int_equal(shmpool_result_get(r, 5000), 0);
    shmpool_result_free(r);
    assert_int_equal(out[n - 1], 2 * (int64_t)(n - 1) + 2 * (int64_t)n);
    shmpool_free(pool, a);
    shmpool_free(pool, out);
}

struct ranges {
    _Atomic size_t covered;
    unsigned char hit[1000];
};

static int mark(void *ctx, size_t b, size_t e) {
    struct ranges *r = ctx;
    for (size_t i = b; i < e; i++)
        r->hit[i]++;
    atomic_fetch_add(&r->covered, e - b);
    return 0;
}

static void test_for_covers_every_index_exactly_once(void **state) {
    (void)state;
    struct ranges *r = shmpool_alloc(pool, sizeof *r);
    size_t chunks[] = {0, 1, 7, 999, 1000, 5000};
    for (size_t c = 0; c < 6; c++) {
        memset(r, 0, sizeof *r);
        assert_int_equal(shmpool_for(pool, mark, r, 1000, chunks[c]), 0);
        assert_int_equal(atomic_load(&r->covered), 1000);
        for (int i = 0; i < 1000; i++)
            assert_int_equal(r->hit[i], 1);
    }
    shmpool_free(pool, r);
}

static int pid_of(const void *in, void *out, void *ctx) {
    (void)in, (void)ctx;
    *(pid_t *)out = getpid();
    return 0;
}

static void test_apply_runs_in_a_worker_and_returns_its_result(void **state) {
    (void)state;
    int64_t v = -12, sq = 0;
    assert_int_equal(shmpool_apply(pool, square_i64, NULL, &v, sizeof v, &sq, sizeof sq), 0);
    assert_int_equal(sq, 144);
    pid_t who = 0;
    assert_int_equal(shmpool_apply(pool, pid_of, NULL, NULL, 0, &who, sizeof who), 0);
    assert_true(who > 0 && who != getpid());
    /* arguments and results larger than what travels inline in the job */
    static int64_t big_in[4096], big_out[4096];
    big_in[4095] = 9;
    assert_int_equal(shmpool_apply(pool, square_i64, NULL, &big_in[4095], sizeof(int64_t) * 1, big_out, sizeof big_out), 0);
    assert_int_equal(big_out[0], 81);
}

static void test_apply_async_and_get_with_timeout(void **state) {
    (void)state;
    int64_t args[50], res[50];
    shmpool_result *r[50];
    for (int i = 0; i < 50; i++) {
        args[i] = i;
        assert_int_equal(shmpool_apply_async(pool, square_i64, NULL, &args[i], sizeof args[i], &res[i], sizeof res[i], &r[i]), 0);
    }
    for (int i = 0; i < 50; i++) {
        assert_int_equal(shmpool_result_get(r[i], 1000), 0);
        assert_int_equal(res[i], (int64_t)i * i);
        size_t done, total;
        shmpool_result_progress(r[i], &done, &total);
        assert_int_equal(done, 1); /* an apply counts 1 */
        assert_int_equal(total, 1);
        shmpool_result_free(r[i]);
    }
}

static void test_more_async_tasks_than_ring_slots_wait_instead_of_failing(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .queue_depth = 8, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *small;
    assert_int_equal(shmpool_create(&small, &o), 0);
    enum { N = 3000 };
    static int64_t args[N], res[N];
    static shmpool_result *r[N];
    for (int i = 0; i < N; i++) {
        args[i] = i;
        assert_int_equal(shmpool_apply_async(small, square_i64, NULL, &args[i], sizeof args[i], &res[i], sizeof res[i], &r[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(shmpool_result_get(r[i], -1), 0);
        assert_int_equal(res[i], (int64_t)i * i);
        shmpool_result_free(r[i]);
    }
    shmpool_destroy(small);
}

/* Items 0..n-1; item i fails with -(i % 100 + 1) when i is in the fail set. */
struct failing {
    size_t fail_at[3];
};

static int fail_some(const void *in, void *out, void *ctx) {
    const struct failing *f = ctx;
    size_t i = *(const size_t *)in;
    for (int k = 0; k < 3; k++)
        if (f->fail_at[k] == i)
            return -(int)(i % 100 + 1);
    *(size_t *)out = i + 1;
    return 0;
}

static void test_a_failing_item_fails_the_job_with_the_lowest_index_and_keeps_other_results(void **state) {
    (void)state;
    size_t n = 2000;
    size_t *in = shmpool_alloc(pool, n * sizeof *in);
    size_t out[2000] = {0}; /* parent memory: results that ran still arrive */
    struct failing *f = shmpool_alloc(pool, sizeof *f);
    for (size_t i = 0; i < n; i++)
        in[i] = i;
    f->fail_at[0] = 1503, f->fail_at[1] = 1207, f->fail_at[2] = SIZE_MAX;
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(pool, fail_some, f, in, sizeof *in, out, sizeof *out, n, 1, &r), 0);
    int rc = shmpool_result_get(r, -1);
    size_t index = 0;
    /* the serial loop's break: every chunk below the lowest failing index runs, so 1207 is found */
    assert_int_equal(rc, -(1207 % 100 + 1));
    assert_int_equal(shmpool_result_error(r, &index), rc);
    assert_int_equal(index, 1207);
    shmpool_result_free(r);
    for (size_t i = 0; i < 1207; i++)
        assert_int_equal(out[i], i + 1);
    assert_int_equal(out[1207], 0);
    /* the sync call returns the same code */
    assert_int_equal(shmpool_map(pool, fail_some, f, in, sizeof *in, out, sizeof *out, n, 0), -(1207 % 100 + 1));
    shmpool_free(pool, in);
    shmpool_free(pool, f);
}

static int fail_range(void *ctx, size_t b, size_t e) {
    (void)ctx;
    return b <= 500 && 500 < e ? -EDOM : 0;
}

static void test_a_failing_range_fails_for_with_its_first_index(void **state) {
    (void)state;
    shmpool_result *r;
    assert_int_equal(shmpool_for_async(pool, fail_range, NULL, 1000, 100, &r), 0);
    assert_int_equal(shmpool_result_get(r, -1), -EDOM);
    size_t index;
    assert_int_equal(shmpool_result_error(r, &index), -EDOM);
    assert_int_equal(index, 500);
    shmpool_result_free(r);
}

static int fail_eio(const void *in, void *out, void *ctx) {
    (void)in, (void)out, (void)ctx;
    return -EIO;
}

static int slow_inc(const void *in, void *out, void *ctx) {
    (void)ctx;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    *(int64_t *)out = *(const int64_t *)in + 1;
    return 0;
}

static int sq(const void *in, void *out, void *ctx) {
    (void)ctx;
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x * x;
    return 0;
}

/* A freed result is reused for a later call: nothing of its last job (failure, cancel, staging
   blocks, its job slot) may show through, and the old job, still retiring, is not touched. */
static void test_a_reused_result_starts_clean_whatever_its_last_job_left(void **state) {
    (void)state;
    shmpool_result *r, *again;
    int64_t x = 3, y = -1;
    assert_int_equal(shmpool_apply_async(pool, fail_eio, NULL, &x, sizeof x, &y, sizeof y, &r), 0);
    assert_int_equal(shmpool_result_get(r, 5000), -EIO);
    shmpool_result_free(r);
    assert_int_equal(shmpool_apply_async(pool, sq, NULL, &x, sizeof x, &y, sizeof y, &again), 0);
    assert_ptr_equal(again, r); /* the mechanism under test: it was reused */
    assert_int_equal(shmpool_result_get(again, 5000), 0);
    assert_int_equal(y, 9);
    size_t index, done, total;
    assert_int_equal(shmpool_result_error(again, &index), 0);
    assert_int_equal(index, SIZE_MAX);
    shmpool_result_progress(again, &done, &total);
    assert_int_equal(done, 1);
    assert_int_equal(total, 1);
    shmpool_result_free(again);

    /* Freed while pending: cancelled; its successor runs to its end. */
    int64_t slow = 0, slow_out = -1;
    assert_int_equal(shmpool_apply_async(pool, slow_inc, NULL, &slow, sizeof slow, &slow_out, sizeof slow_out, &r), 0);
    assert_int_equal(shmpool_apply_async(pool, slow_inc, NULL, &slow, sizeof slow, &slow_out, sizeof slow_out, &again), 0);
    shmpool_result_free(again); /* still queued or running: cancelled or waited for */
    shmpool_result_free(r);
    y = -1;
    assert_int_equal(shmpool_apply_async(pool, slow_inc, NULL, &x, sizeof x, &y, sizeof y, &r), 0);
    assert_int_equal(shmpool_result_ready(r), 0);
    assert_int_equal(shmpool_result_get(r, 5000), 0);
    assert_int_equal(y, 4);
    shmpool_result_free(r);

    /* A starmap with staged columns (a list of blocks freed at harvest), then tiny applies. */
    int64_t a[300], out[300];
    int32_t b[300];
    for (int i = 0; i < 300; i++)
        a[i] = i, b[i] = i + 1;
    const void *cols[] = {a, b};
    size_t sizes[] = {sizeof a[0], sizeof b[0]};
    assert_int_equal(shmpool_starmap_async(pool, doubler_adder, NULL, 2, cols, sizes, out, sizeof out[0], 300, 0, &r), 0);
    assert_int_equal(shmpool_result_get(r, 5000), 0);
    shmpool_result_free(r);
    for (int64_t i = 0; i < 1000; i++) {
        assert_int_equal(shmpool_apply_async(pool, sq, NULL, &i, sizeof i, &y, sizeof y, &r), 0);
        assert_int_equal(shmpool_result_get(r, 5000), 0);
        assert_int_equal(y, i * i);
        assert_int_equal(shmpool_result_error(r, &index), 0);
        shmpool_result_free(r);
    }
    assert_int_equal(out[299], 2 * 299 + 2 * 300);
}

static void test_bad_arguments_are_einval_or_eoverflow_never_a_crash(void **state) {
    (void)state;
    double x[4] = {0}, y[4];
    shmpool_result *r = (void *)1;
    assert_int_equal(shmpool_map(NULL, twice, NULL, x, 8, y, 8, 4, 0), -EINVAL);
    assert_int_equal(shmpool_map(pool, NULL, NULL, x, 8, y, 8, 4, 0), -EINVAL);
    assert_int_equal(shmpool_map(pool, twice, NULL, NULL, 8, y, 8, 4, 0), -EINVAL);
    assert_int_equal(shmpool_map(pool, twice, NULL, x, 0, y, 8, 4, 0), -EINVAL);
    assert_int_equal(shmpool_map(pool, twice, NULL, x, 8, NULL, 8, 4, 0), -EINVAL);
    assert_int_equal(shmpool_map(pool, twice, NULL, x, 8, y, 0, 4, 0), -EINVAL);
    assert_int_equal(shmpool_map(pool, twice, NULL, x, SIZE_MAX / 2, y, 8, 4, 0), -EOVERFLOW);
    assert_int_equal(shmpool_map(pool, twice, NULL, x, 8, y, 8, SIZE_MAX / 4, 0), -EOVERFLOW);
    assert_int_equal(shmpool_map_async(pool, twice, NULL, x, 8, y, 8, 4, 0, NULL), -EINVAL);
    assert_int_equal(shmpool_map_async(pool, NULL, NULL, x, 8, y, 8, 4, 0, &r), -EINVAL);
    assert_null(r); /* cleared on error */
    const void *cols[] = {x, NULL};
    size_t sizes[] = {8, 8};
    assert_int_equal(shmpool_starmap(pool, doubler_adder, NULL, 0, cols, sizes, y, 8, 4, 0), -EINVAL);
    assert_int_equal(shmpool_starmap(pool, doubler_adder, NULL, 2, cols, sizes, y, 8, 4, 0), -EINVAL);
    assert_int_equal(shmpool_starmap(pool, doubler_adder, NULL, SHMPOOL_MAX_COLUMNS + 1, cols, sizes, y, 8, 4, 0), -EINVAL);
    assert_int_equal(shmpool_starmap(pool, doubler_adder, NULL, 1, NULL, sizes, y, 8, 4, 0), -EINVAL);
    assert_int_equal(shmpool_apply(pool, square_i64, NULL, NULL, 8, y, 8), -EINVAL);
    assert_int_equal(shmpool_apply(pool, square_i64, NULL, x, 0, y, 8), -EINVAL);
    assert_int_equal(shmpool_for(pool, NULL, NULL, 10, 0), -EINVAL);
    assert_int_equal(shmpool_for(NULL, fail_range, NULL, 10, 0), -EINVAL);
    /* a range that starts in shmpool memory but runs past its block */
    double *s = shmpool_alloc(pool, 4096);
    assert_int_equal(shmpool_map(pool, twice, NULL, s, 8, y, 8, 4096, 0), -EINVAL);
    shmpool_free(pool, s);
    assert_int_equal(shmpool_result_get(NULL, 0), -EINVAL);
    assert_int_equal(shmpool_result_ready(NULL), -EINVAL);
    assert_int_equal(shmpool_result_error(NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_result_cancel(NULL), -EINVAL);
    shmpool_result_free(NULL);
    shmpool_result_progress(NULL, NULL, NULL);
}

struct thread_arg {
    int id;
    int failures;
};

static void *submitter(void *arg) {
    struct thread_arg *t = arg;
    int64_t in[300], out[300];
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 300; i++)
            in[i] = t->id * 1000 + i + round;
        if (shmpool_map(pool, square_i64, NULL, in, sizeof in[0], out, sizeof out[0], 300, 0) != 0)
            t->failures++;
        for (int i = 0; i < 300; i++)
            if (out[i] != in[i] * in[i])
                t->failures++;
        int64_t v = t->id + round, sq = 0;
        if (shmpool_apply(pool, square_i64, NULL, &v, sizeof v, &sq, sizeof sq) != 0 || sq != v * v)
            t->failures++;
    }
    return NULL;
}

static void test_several_parent_threads_submit_at_once(void **state) {
    (void)state;
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){.id = i + 1};
        assert_int_equal(pthread_create(&th[i], NULL, submitter, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_over_shared_memory_gives_exact_results_in_order),
        cmocka_unit_test(test_map_over_ten_million_items),
        cmocka_unit_test(test_map_uses_shmpool_memory_in_place_and_stages_parent_memory),
        cmocka_unit_test(test_map_of_nothing_succeeds_and_writes_nothing),
        cmocka_unit_test(test_map_async_fills_parent_memory_by_the_time_get_returns),
        cmocka_unit_test(test_starmap_zips_columns_of_different_types),
        cmocka_unit_test(test_for_covers_every_index_exactly_once),
        cmocka_unit_test(test_apply_runs_in_a_worker_and_returns_its_result),
        cmocka_unit_test(test_apply_async_and_get_with_timeout),
        cmocka_unit_test(test_more_async_tasks_than_ring_slots_wait_instead_of_failing),
        cmocka_unit_test(test_a_failing_item_fails_the_job_with_the_lowest_index_and_keeps_other_results),
        cmocka_unit_test(test_a_failing_range_fails_for_with_its_first_index),
        cmocka_unit_test(test_a_reused_result_starts_clean_whatever_its_last_job_left),
        cmocka_unit_test(test_bad_arguments_are_einval_or_eoverflow_never_a_crash),
        cmocka_unit_test(test_several_parent_threads_submit_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
