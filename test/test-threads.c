/* Several threads of the parent on one pool: each gets its own results, whatever the others do
   (blocking calls, async calls, frees, back-pressure on a table of two job slots), and no call
   hangs. Each scenario runs many rounds: the defects it guards showed up in some runs only. */
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

#include "helpers.h"
#include "shmpool.h"

#define THREADS 8

struct thread_arg {
    shmpool *pool;
    int64_t id;
    int rounds;
    int wrong;  /* outputs that were not this thread's */
    int failed; /* calls that returned nonzero */
};

/* out = in * 1000 + item: the value names the thread (in) that asked for it. */
static int tag(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int64_t *)out = *(const int64_t *)in * 1000 + 7;
    return 0;
}

static void *blocking_caller(void *v) {
    struct thread_arg *a = v;
    for (int i = 0; i < a->rounds; i++) {
        int64_t out = -1;
        if (shmpool_apply(a->pool, tag, NULL, &a->id, sizeof a->id, &out, sizeof out))
            a->failed++;
        else if (out != a->id * 1000 + 7)
            a->wrong++;
        int64_t in[5], outs[5];
        for (int k = 0; k < 5; k++)
            in[k] = a->id, outs[k] = -1;
        if (shmpool_map(a->pool, tag, NULL, in, sizeof in[0], outs, sizeof outs[0], 5, 1))
            a->failed++;
        for (int k = 0; k < 5; k++)
            a->wrong += outs[k] != a->id * 1000 + 7;
    }
    return NULL;
}

static void run_threads(shmpool *p, void *(*fn)(void *), int rounds) {
    pthread_t t[THREADS];
    struct thread_arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct thread_arg){.pool = p, .id = i + 1, .rounds = rounds};
        assert_int_equal(pthread_create(&t[i], NULL, fn, &a[i]), 0);
    }
    int wrong = 0, failed = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        wrong += a[i].wrong;
        failed += a[i].failed;
    }
    assert_int_equal(failed, 0);
    assert_int_equal(wrong, 0);
}

static void test_threads_calling_apply_and_map_on_two_job_slots_each_get_their_own_results(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_options o = {.workers = 2, .queue_depth = 2, .flags = SHMPOOL_FLAG_QUIET};
    for (int round = 0; round < 5; round++) {
        shmpool *p;
        assert_int_equal(shmpool_create(&p, &o), 0);
        run_threads(p, blocking_caller, 200);
        shmpool_destroy(p);
    }
    assert_true(resources_same_but_mappings(&before));
}

#define ASYNC 64

static void *async_caller(void *v) {
    struct thread_arg *a = v;
    for (int i = 0; i < a->rounds; i++) {
        shmpool_result *r[ASYNC];
        int64_t out[ASYNC];
        for (int k = 0; k < ASYNC; k++) {
            out[k] = -1;
            if (shmpool_apply_async(a->pool, tag, NULL, &a->id, sizeof a->id, &out[k], sizeof out[k],
                                    &r[k]))
                a->failed++, r[k] = NULL;
        }
        for (int k = 0; k < ASYNC; k++) {
            if (!r[k])
                continue;
            /* a finite timeout first: a result another thread harvested is ready, not late */
            int rc = shmpool_result_get(r[k], 5000);
            if (rc == -ETIMEDOUT)
                rc = shmpool_result_get(r[k], -1);
            if (rc)
                a->failed++;
            else if (out[k] != a->id * 1000 + 7)
                a->wrong++;
            shmpool_result_free(r[k]);
        }
    }
    return NULL;
}

static void test_threads_submitting_many_async_applies_each_get_their_own_results(void **state) {
    (void)state;
    shmpool_options deflt = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool_options narrow = {.workers = 2, .queue_depth = 2, .flags = SHMPOOL_FLAG_QUIET};
    for (int round = 0; round < 4; round++) {
        shmpool *p;
        assert_int_equal(shmpool_create(&p, round % 2 ? &narrow : &deflt), 0);
        run_threads(p, async_caller, 10);
        shmpool_destroy(p);
    }
}

/* Half the threads free their results unread (some before the job ends), half read them: a
   thread that frees must never disturb another's wait. */
static void *mixed_caller(void *v) {
    struct thread_arg *a = v;
    for (int i = 0; i < a->rounds; i++) {
        shmpool_result *r;
        int64_t out = -1;
        if (shmpool_apply_async(a->pool, tag, NULL, &a->id, sizeof a->id, &out, sizeof out, &r)) {
            a->failed++;
            continue;
        }
        if (a->id % 2) {
            shmpool_result_free(r);
            continue;
        }
        if (shmpool_result_get(r, -1))
            a->failed++;
        else if (out != a->id * 1000 + 7)
            a->wrong++;
        shmpool_result_free(r);
    }
    return NULL;
}

static void test_threads_freeing_results_unread_do_not_disturb_threads_that_wait(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .queue_depth = 2, .flags = SHMPOOL_FLAG_QUIET};
    for (int round = 0; round < 5; round++) {
        shmpool *p;
        assert_int_equal(shmpool_create(&p, &o), 0);
        run_threads(p, mixed_caller, 300);
        shmpool_destroy(p);
    }
}

/* Two threads get() the same result: both see its outcome. */
struct same_result {
    shmpool_result *r;
    int rc;
};

static void *get_it(void *v) {
    struct same_result *s = v;
    s->rc = shmpool_result_get(s->r, -1);
    return NULL;
}

static int slow_tag(const void *in, void *out, void *ctx) {
    (void)ctx;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return tag(in, out, ctx);
}

static void test_two_threads_waiting_on_one_result_both_see_it_end(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .queue_depth = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    for (int round = 0; round < 20; round++) {
        int64_t in = round, out = -1;
        struct same_result s[2];
        pthread_t t[2];
        shmpool_result *r;
        assert_int_equal(shmpool_apply_async(p, slow_tag, NULL, &in, sizeof in, &out, sizeof out, &r), 0);
        for (int k = 0; k < 2; k++) {
            s[k] = (struct same_result){.r = r, .rc = -1};
            assert_int_equal(pthread_create(&t[k], NULL, get_it, &s[k]), 0);
        }
        /* and a third party fills the table, so the result may be harvested by back-pressure */
        int64_t other = 99, other_out;
        assert_int_equal(shmpool_apply(p, tag, NULL, &other, sizeof other, &other_out, sizeof other_out), 0);
        for (int k = 0; k < 2; k++) {
            pthread_join(t[k], NULL);
            assert_int_equal(s[k].rc, 0);
        }
        assert_int_equal(out, round * 1000 + 7);
        shmpool_result_free(r);
    }
    shmpool_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_calling_apply_and_map_on_two_job_slots_each_get_their_own_results),
        cmocka_unit_test(test_threads_submitting_many_async_applies_each_get_their_own_results),
        cmocka_unit_test(test_threads_freeing_results_unread_do_not_disturb_threads_that_wait),
        cmocka_unit_test(test_two_threads_waiting_on_one_result_both_see_it_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
