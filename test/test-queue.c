/* shmpool_queue_*: order, exact bytes, size limits, timeouts, capacity, many producers and
   consumers across processes, bad arguments, and (with the pool core) a queue in pool memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static void test_queue_puts_come_out_in_order(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_queue *q;
    assert_int_equal(shmpool_queue_create(&q, NULL, 8, sizeof(int)), 0);
    for (int round = 0; round < 3; round++) { /* several laps of the rings */
        for (int i = 0; i < 8; i++)
            assert_int_equal(shmpool_queue_put(q, &i, sizeof i, 0), 0);
        assert_int_equal(shmpool_queue_size(q), 8);
        for (int i = 0; i < 8; i++) {
            int v = -1;
            size_t len = 0;
            assert_int_equal(shmpool_queue_get(q, &v, sizeof v, &len, 0), 0);
            assert_int_equal(len, sizeof v);
            assert_int_equal(v, i);
        }
        assert_int_equal(shmpool_queue_size(q), 0);
    }
    shmpool_queue_destroy(q);
    assert_true(resources_same(&before));
}

static int put_42_after_a_while(void *arg) {
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL); /* so the parent is already blocked in get */
    int v = 42;
    return shmpool_queue_put(arg, &v, sizeof v, 1000) == 0 ? 0 : 1;
}

static void test_queue_child_process_put_reaches_the_blocked_parent(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_queue *q;
    assert_int_equal(shmpool_queue_create(&q, NULL, 4, sizeof(int)), 0);
    shmpool_process *p;
    assert_int_equal(shmpool_process_start(&p, put_42_after_a_while, q), 0);
    int v = 0, code = -1;
    size_t len = 0;
    assert_int_equal(shmpool_queue_get(q, &v, sizeof v, &len, 5000), 0);
    assert_int_equal(v, 42);
    assert_int_equal(len, sizeof v);
    assert_int_equal(shmpool_process_join(p, 5000), 0);
    assert_int_equal(shmpool_process_exitcode(p, &code), 0);
    assert_int_equal(code, 0);
    shmpool_process_free(p);
    shmpool_queue_destroy(q);
    assert_true(resources_same(&before));
}

static void test_queue_messages_of_any_size_keep_their_exact_bytes(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    enum { MAX = 1000 };
    static const size_t sizes[] = {0, 1, 7, 8, 9, 55, 56, 57, 63, 64, 65, 500, 999, 1000};
    enum { N = sizeof sizes / sizeof sizes[0] };
    unsigned char in[MAX], out[MAX + 16];
    shmpool_queue *q;
    assert_int_equal(shmpool_queue_create(&q, NULL, N, MAX), 0);
    for (size_t i = 0; i < N; i++) {
        for (size_t b = 0; b < sizes[i]; b++)
            in[b] = (unsigned char)(i * 31 + b * 7 + 1);
        assert_int_equal(shmpool_queue_put(q, sizes[i] ? in : NULL, sizes[i], 0), 0);
    }
    for (size_t i = 0; i < N; i++) {
        size_t len = SIZE_MAX;
        memset(out, 0xee, sizeof out);
        assert_int_equal(shmpool_queue_get(q, out, sizeof out, &len, 0), 0);
        assert_int_equal(len, sizes[i]);
        for (size_t b = 0; b < sizes[i]; b++)
            assert_int_equal(out[b], (unsigned char)(i * 31 + b * 7 + 1));
        assert_int_equal(out[sizes[i]], 0xee); /* nothing written past the message */
    }
    shmpool_queue_destroy(q);
    assert_true(resources_same(&before));
}

static void test_queue_too_big_is_emsgsize_both_ways_and_the_message_stays(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    char big[17] = "0123456789abcdef", out[16];
    size_t len = 0;
    shmpool_queue *q;
    assert_int_equal(shmpool_queue_create(&q, NULL, 2, 16), 0);
    assert_int_equal(shmpool_queue_put(q, big, 17, 0), -EMSGSIZE);
    assert_int_equal(shmpool_queue_size(q), 0);
    assert_int_equal(shmpool_queue_put(q, big, 3, 0), 0);
    /* Even a 3-byte message needs a max_msg buffer: the check comes before anything is taken. */
    assert_int_equal(shmpool_queue_get(q, out, 15, &len, 0), -EMSGSIZE);
    assert_int_equal(shmpool_queue_size(q), 1);
    assert_int_equal(shmpool_queue_get(q, out, 16, &len, 0), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "012", 3);
    shmpool_queue_destroy(q);
    assert_true(resources_same(&before));
}

static void test_queue_get_on_empty_times_out(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_queue *q;
    int v;
    assert_int_equal(shmpool_queue_create(&q, NULL, 4, sizeof v), 0);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_queue_get(q, &v, sizeof v, NULL, 0), -ETIMEDOUT);
    assert_true(now_ms() - t0 < 50);
    t0 = now_ms();
    assert_int_equal(shmpool_queue_get(q, &v, sizeof v, NULL, 150), -ETIMEDOUT);
    uint64_t waited = now_ms() - t0;
    assert_true(waited >= 145 && waited < 1000);
    shmpool_queue_destroy(q);
    assert_true(resources_same(&before));
}

static void test_queue_holds_exactly_capacity_and_put_on_full_times_out(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_queue *q;
    /* 5 is not a power of two: the rings get 8 cells, the queue still holds 5 messages. */
    assert_int_equal(shmpool_queue_create(&q, NULL, 5, sizeof(int)), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(shmpool_queue_put(q, &i, sizeof i, 0), 0);
    int v = 5;
    assert_int_equal(shmpool_queue_put(q, &v, sizeof v, 0), -ETIMEDOUT);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_queue_put(q, &v, sizeof v, 120), -ETIMEDOUT);
    uint64_t waited = now_ms() - t0;
    assert_true(waited >= 115 && waited < 1000);
    assert_int_equal(shmpool_queue_size(q), 5);
    assert_int_equal(shmpool_queue_get(q, &v, sizeof v, NULL, 0), 0);
    assert_int_equal(v, 0);
    v = 5;
    assert_int_equal(shmpool_queue_put(q, &v, sizeof v, 0), 0);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(shmpool_queue_get(q, &v, sizeof v, NULL, 0), 0);
        assert_int_equal(v, i);
    }
    shmpool_queue_destroy(q);
    assert_true(resources_same(&before));
}

enum { PRODUCERS = 4, PER_PRODUCER = 10000, CONSUMERS = 2 };

struct msg {
    int32_t producer; /* -1: stop */
    int32_t seq;
};

struct shared_counts {
    _Atomic uint32_t seen[PRODUCERS * PER_PRODUCER];
    _Atomic int out_of_order;
    _Atomic int errors;
};

struct worker_arg {
    shmpool_queue *q;
    struct shared_counts *counts;
    int producer;
};

static int produce(void *arg) {
    struct worker_arg *a = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        struct msg m = {a->producer, i};
        if (shmpool_queue_put(a->q, &m, sizeof m, 5000) != 0)
            return 1;
    }
    return 0;
}

static int consume(void *arg) {
    struct worker_arg *a = arg;
    int last[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++)
        last[p] = -1;
    for (;;) {
        struct msg m;
        size_t len;
        if (shmpool_queue_get(a->q, &m, sizeof m, &len, 5000) != 0 || len != sizeof m) {
            atomic_fetch_add(&a->counts->errors, 1);
            return 1;
        }
        if (m.producer == -1)
            return 0;
        if (m.producer < 0 || m.producer >= PRODUCERS || m.seq < 0 || m.seq >= PER_PRODUCER) {
            atomic_fetch_add(&a->counts->errors, 1);
            continue;
        }
        /* One consumer sees each producer's messages in the order they were put. */
        if (m.seq <= last[m.producer])
            atomic_fetch_add(&a->counts->out_of_order, 1);
        last[m.producer] = m.seq;
        atomic_fetch_add(&a->counts->seen[m.producer * PER_PRODUCER + m.seq], 1);
    }
}

static void test_queue_many_producers_and_consumers_deliver_each_message_once(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    struct shared_counts *counts = mmap(NULL, sizeof *counts, PROT_READ | PROT_WRITE,
                                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(counts != MAP_FAILED);
    shmpool_queue *q;
    assert_int_equal(shmpool_queue_create(&q, NULL, 64, sizeof(struct msg)), 0);
    struct worker_arg args[PRODUCERS + CONSUMERS];
    shmpool_process *procs[PRODUCERS + CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
        args[i] = (struct worker_arg){q, counts, -1};
        assert_int_equal(shmpool_process_start(&procs[i], consume, &args[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        args[CONSUMERS + i] = (struct worker_arg){q, counts, i};
        assert_int_equal(shmpool_process_start(&procs[CONSUMERS + i], produce, &args[CONSUMERS + i]), 0);
    }
    int code;
    for (int i = CONSUMERS; i < CONSUMERS + PRODUCERS; i++) {
        assert_int_equal(shmpool_process_join(procs[i], 20000), 0);
        assert_int_equal(shmpool_process_exitcode(procs[i], &code), 0);
        assert_int_equal(code, 0);
    }
    for (int i = 0; i < CONSUMERS; i++) {
        struct msg stop = {-1, 0};
        assert_int_equal(shmpool_queue_put(q, &stop, sizeof stop, 5000), 0);
    }
    for (int i = 0; i < CONSUMERS; i++) {
        assert_int_equal(shmpool_process_join(procs[i], 20000), 0);
        assert_int_equal(shmpool_process_exitcode(procs[i], &code), 0);
        assert_int_equal(code, 0);
    }
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        shmpool_process_free(procs[i]);
    assert_int_equal(atomic_load(&counts->errors), 0);
    assert_int_equal(atomic_load(&counts->out_of_order), 0);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        if (atomic_load(&counts->seen[i]) != 1)
            fail_msg("message %d of producer %d seen %u times", i % PER_PRODUCER,
                     i / PER_PRODUCER, (unsigned)atomic_load(&counts->seen[i]));
    assert_int_equal(shmpool_queue_size(q), 0);
    shmpool_queue_destroy(q);
    assert_int_equal(munmap(counts, sizeof *counts), 0);
    assert_true(resources_same(&before));
}

static void test_queue_rejects_bad_arguments(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_queue *q = (shmpool_queue *)&before;
    int v = 1;
    size_t len;
    assert_int_equal(shmpool_queue_create(NULL, NULL, 4, 4), -EINVAL);
    assert_int_equal(shmpool_queue_create(&q, NULL, 0, 4), -EINVAL);
    assert_null(q);
    assert_int_equal(shmpool_queue_create(&q, NULL, 4, 0), -EINVAL);
    assert_int_equal(shmpool_queue_create(&q, NULL, SIZE_MAX, 4), -EINVAL);
    assert_int_equal(shmpool_queue_create(&q, NULL, 4, SIZE_MAX), -ENOMEM);
    assert_int_equal(shmpool_queue_put(NULL, &v, sizeof v, 0), -EINVAL);
    assert_int_equal(shmpool_queue_get(NULL, &v, sizeof v, &len, 0), -EINVAL);
    assert_int_equal(shmpool_queue_size(NULL), 0);
    shmpool_queue_destroy(NULL);
    assert_int_equal(shmpool_queue_create(&q, NULL, 4, sizeof v), 0);
    assert_int_equal(shmpool_queue_put(q, NULL, sizeof v, 0), -EINVAL);
    assert_int_equal(shmpool_queue_get(q, NULL, sizeof v, &len, 0), -EINVAL);
    assert_int_equal(shmpool_queue_size(q), 0);
    shmpool_queue_destroy(q);
    assert_true(resources_same(&before));
}

#ifndef SHMPOOL_TEST_NO_CORE
/* Needs the pool core; a standalone build of this file defines SHMPOOL_TEST_NO_CORE. */
static int put_in_worker(const void *in, void *out, void *ctx) {
    (void)out;
    return shmpool_queue_put(ctx, in, sizeof(int), 5000);
}

static int get_in_worker(const void *in, void *out, void *ctx) {
    (void)in;
    size_t len;
    return shmpool_queue_get(ctx, out, sizeof(int), &len, 5000);
}

static void test_queue_in_pool_memory_reaches_the_workers(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *pool;
    shmpool_options opt = {.workers = 2};
    assert_int_equal(shmpool_create(&pool, &opt), 0);
    /* Made after the workers were forked: only pool memory can reach them. */
    shmpool_queue *q;
    assert_int_equal(shmpool_queue_create(&q, pool, 128, sizeof(int)), 0);
    assert_true(shmpool_alloc_size(pool, q) > 0);

    enum { N = 100 };
    int in[N], seen[N] = {0};
    for (int i = 0; i < N; i++)
        in[i] = i;
    assert_int_equal(shmpool_map(pool, put_in_worker, q, in, sizeof(int), NULL, 0, N, 7), 0);
    assert_int_equal(shmpool_queue_size(q), N);
    for (int i = 0; i < N; i++) {
        int v = -1;
        size_t len;
        assert_int_equal(shmpool_queue_get(q, &v, sizeof v, &len, 1000), 0);
        assert_true(v >= 0 && v < N);
        seen[v]++;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);

    int v = 42, out = 0;
    assert_int_equal(shmpool_queue_put(q, &v, sizeof v, 0), 0);
    assert_int_equal(shmpool_apply(pool, get_in_worker, q, NULL, 0, &out, sizeof out), 0);
    assert_int_equal(out, 42);

    shmpool_queue_destroy(q);
    shmpool_destroy(pool);
    assert_true(resources_same(&before));
}
#endif

/* The first fork and allocations grow the heap for good (ASan's allocator maps per size class):
   do them once before any test counts mappings. */
static int warm_up(void **state) {
    (void)state;
    shmpool_queue *q;
    shmpool_process *p;
    if (shmpool_queue_create(&q, NULL, 1, 1) != 0)
        return -1;
    shmpool_queue_destroy(q);
    if (shmpool_process_start(&p, put_42_after_a_while, NULL) != 0)
        return -1;
    shmpool_process_join(p, -1);
    shmpool_process_free(p);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_puts_come_out_in_order),
        cmocka_unit_test(test_queue_child_process_put_reaches_the_blocked_parent),
        cmocka_unit_test(test_queue_messages_of_any_size_keep_their_exact_bytes),
        cmocka_unit_test(test_queue_too_big_is_emsgsize_both_ways_and_the_message_stays),
        cmocka_unit_test(test_queue_get_on_empty_times_out),
        cmocka_unit_test(test_queue_holds_exactly_capacity_and_put_on_full_times_out),
        cmocka_unit_test(test_queue_many_producers_and_consumers_deliver_each_message_once),
        cmocka_unit_test(test_queue_rejects_bad_arguments),
#ifndef SHMPOOL_TEST_NO_CORE
        cmocka_unit_test(test_queue_in_pool_memory_reaches_the_workers),
#endif
    };
    return cmocka_run_group_tests(tests, warm_up, NULL);
}
