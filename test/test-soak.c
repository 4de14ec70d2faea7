/* Soak, reduced (the full one is demos/soak.c): many small jobs of every kind and many alloc/free
   cycles leave the process exactly as it was: the same fds, mappings, descendants and /dev/shm
   entries, both while the pool lives (after a warm-up) and after destroy. Every result is checked,
   so a job that went missing or ran twice would show. Counts: argv[1] jobs, argv[2] alloc/free
   cycles (defaults 100000 and 2000). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include <unistd.h>

#include "shmpool.h"

static unsigned long n_jobs = 100000, n_allocs = 2000;

#define BATCH 64 /* async results in flight at once */
#define MAP_N 256

static int inc(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int64_t *)out = *(const int64_t *)in + 1;
    return 0;
}

static int mark(void *ctx, size_t b, size_t e) {
    _Atomic int64_t *sum = ctx; /* shmpool memory */
    for (size_t i = b; i < e; i++)
        atomic_fetch_add_explicit(sum, (int64_t)i, memory_order_relaxed);
    return 0;
}

/* One round of the mix: returns how many jobs it ran. */
static unsigned long one_round(shmpool *p, unsigned long round, int64_t *shared_in,
                               int64_t *shared_out, _Atomic int64_t *sum) {
    unsigned long jobs = 0;
    /* apply, sync */
    int64_t a = (int64_t)round, b = -1;
    assert_int_equal(shmpool_apply(p, inc, NULL, &a, sizeof a, &b, sizeof b), 0);
    assert_true(b == a + 1);
    jobs++;
    /* apply_async, a batch */
    int64_t args[BATCH], outs[BATCH];
    shmpool_result *r[BATCH];
    for (int i = 0; i < BATCH; i++) {
        args[i] = (int64_t)(round * BATCH + (unsigned long)i);
        outs[i] = -1;
        assert_int_equal(shmpool_apply_async(p, inc, NULL, &args[i], sizeof args[i], &outs[i],
                                             sizeof outs[i], &r[i]),
                         0);
    }
    for (int i = 0; i < BATCH; i++) {
        assert_int_equal(shmpool_result_get(r[i], -1), 0);
        shmpool_result_free(r[i]);
        assert_true(outs[i] == args[i] + 1);
    }
    jobs += BATCH;
    /* map, parent memory (staged) and shmpool memory (in place) */
    int64_t in[MAP_N], out[MAP_N];
    for (int i = 0; i < MAP_N; i++)
        in[i] = (int64_t)round + i, shared_in[i] = (int64_t)round - i;
    assert_int_equal(shmpool_map(p, inc, NULL, in, sizeof in[0], out, sizeof out[0], MAP_N, 0), 0);
    assert_int_equal(shmpool_map(p, inc, NULL, shared_in, sizeof in[0], shared_out, sizeof out[0],
                                 MAP_N, 16), 0);
    for (int i = 0; i < MAP_N; i++) {
        assert_true(out[i] == in[i] + 1);
        assert_true(shared_out[i] == shared_in[i] + 1);
    }
    jobs += 2;
    /* for */
    atomic_store(sum, 0);
    assert_int_equal(shmpool_for(p, mark, (void *)sum, MAP_N, 7), 0);
    assert_true(atomic_load(sum) == (int64_t)MAP_N * (MAP_N - 1) / 2);
    jobs++;
    return jobs;
}

/* Staging blocks are kept for reuse; their /dev/shm names go once every worker has mapped them,
   a moment after the round that made them. Wait for that (the count stops falling) so the warm
   snapshot holds what stays, not names on their way out. */
static void settle_names(void) {
    int last = shm_segments_of(getpid()), stable_ms = 0;
    for (int waited = 0; waited < 3000 && stable_ms < 200; waited += 10) {
        usleep(10000);
        int now = shm_segments_of(getpid());
        stable_ms = now == last ? stable_ms + 10 : 0;
        last = now;
    }
}

static void test_many_jobs_and_allocs_leave_no_trace(void **state) {
    (void)state;
    struct resources before, warm;
    resources_snapshot(&before);
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    int64_t *shared_in = shmpool_alloc(p, MAP_N * sizeof(int64_t));
    int64_t *shared_out = shmpool_alloc(p, MAP_N * sizeof(int64_t));
    _Atomic int64_t *sum = shmpool_alloc(p, sizeof *sum);
    assert_non_null(shared_in);
    assert_non_null(shared_out);
    assert_non_null(sum);

    unsigned long jobs = one_round(p, 0, shared_in, shared_out, sum); /* warm-up */
    settle_names();
    resources_snapshot(&warm);

    for (unsigned long round = 1; jobs < n_jobs; round++)
        jobs += one_round(p, round, shared_in, shared_out, sum);
    assert_true(resources_same(&warm));

    for (unsigned long i = 0; i < n_allocs; i++) {
        size_t bytes = 1 + (i * 7919) % (1u << 20);
        unsigned char *m = shmpool_alloc(p, bytes);
        assert_non_null(m);
        m[0] = 1;
        m[bytes - 1] = 2;
        if (i % 64 == 0) { /* now and then a job that uses it, so workers map it */
            int64_t *v = (int64_t *)m;
            if (bytes >= 2 * sizeof *v) {
                v[0] = (int64_t)i;
                assert_int_equal(shmpool_apply(p, inc, NULL, &v[0], sizeof *v, &v[1], sizeof *v), 0);
                assert_true(v[1] == (int64_t)i + 1);
            }
        }
        assert_int_equal(shmpool_free(p, m), 0);
    }
    assert_true(resources_same(&warm));

    printf("soak: %lu jobs, %lu alloc/free cycles\n", jobs, n_allocs);
    assert_int_equal(shmpool_free(p, shared_in), 0);
    assert_int_equal(shmpool_free(p, shared_out), 0);
    assert_int_equal(shmpool_free(p, (void *)sum), 0);
    shmpool_destroy(p);
    assert_true(resources_same(&before));
}

int main(int argc, char **argv) {
    if (argc > 1)
        n_jobs = strtoul(argv[1], NULL, 0);
    if (argc > 2)
        n_allocs = strtoul(argv[2], NULL, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_jobs_and_allocs_leave_no_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
