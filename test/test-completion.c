/* Results as they complete: imap chunks in input and finishing order, the failing chunk rule,
   parent-memory out copied back range by range, wait_any / wait_all with timeouts, callbacks
   (success, error, after cancel, after terminate, via poll, at free), and bad arguments.
   Tasks that must not finish yet wait on a gate in shared memory the test opens: no test depends
   on how fast anything runs. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "shmpool.h"

static shmpool *pool;
static struct resources before_all;

/* Shared with the workers: gates the tasks wait on, and what they saw. */
struct shared {
    _Atomic int gate[4];
    _Atomic int ran[256];
};
static struct shared *sh;

static int setup(void **state) {
    (void)state;
    resources_snapshot(&before_all);
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    int rc = shmpool_create(&pool, &o);
    if (rc)
        return rc;
    sh = shmpool_alloc(pool, sizeof *sh);
    return sh ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    shmpool_destroy(pool);
    return resources_same_but_mappings(&before_all) ? 0 : -1;
}

static void reset_shared(void) { memset(sh, 0, sizeof *sh); }

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait (in a worker) until gate g opens; -ETIME after 20 s so a broken test cannot hang. The
   tasks get the shared block as ctx: `sh` itself was set after the workers were forked. */
static int wait_gate(struct shared *s, int g) {
    for (int i = 0; i < 20000 && !atomic_load(&s->gate[g]); i++)
        sleep_ms(1);
    return atomic_load(&s->gate[g]) ? 0 : -ETIME;
}

static int times3(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int64_t *)out = 3 * *(const int64_t *)in;
    return 0;
}

/* Item 0 waits for gate 0; the rest run at once. */
static int times3_item0_gated(const void *in, void *out, void *ctx) {
    if (*(const int64_t *)in == 0 && wait_gate(ctx, 0))
        return -ETIME;
    *(int64_t *)out = 3 * *(const int64_t *)in;
    return 0;
}

/* Item 63 waits for gate 0: a job that is still running when its first chunks are taken. */
static int times3_item63_gated(const void *in, void *out, void *ctx) {
    if (*(const int64_t *)in == 63 && wait_gate(ctx, 0))
        return -ETIME;
    *(int64_t *)out = 3 * *(const int64_t *)in;
    return 0;
}

/* Item 55 fails with -EDOM. */
static int times3_fail55(const void *in, void *out, void *ctx) {
    (void)ctx;
    int64_t v = *(const int64_t *)in;
    if (v == 55)
        return -EDOM;
    *(int64_t *)out = 3 * v;
    return 0;
}

/* Counts each index it runs (shared memory) : for, chunk ranges. */
static int count_range(void *ctx, size_t b, size_t e) {
    struct shared *s = ctx;
    for (size_t i = b; i < e; i++)
        atomic_fetch_add(&s->ran[i], 1);
    return 0;
}

/* Chunk 0 waits for gate 0. */
static int range_chunk0_gated(void *ctx, size_t b, size_t e) {
    if (b == 0 && wait_gate(ctx, 0))
        return -ETIME;
    return count_range(ctx, b, e);
}

/* Waits for the gate named by its argument, then writes its argument. */
static int gated_apply(const void *in, void *out, void *ctx) {
    int g = *(const int *)in;
    if (wait_gate(ctx, g))
        return -ETIME;
    *(int *)out = g;
    return 0;
}

static int sum2(const void *const a[], void *out, void *ctx) {
    (void)ctx;
    *(int64_t *)out = *(const int64_t *)a[0] + *(const int64_t *)a[1];
    return 0;
}

static int noop_range(void *ctx, size_t b, size_t e) {
    (void)ctx, (void)b, (void)e;
    return 0;
}

static int64_t *iota(size_t n) {
    int64_t *x = shmpool_alloc(pool, n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (int64_t)i;
    return x;
}

/* ---- imap ---- */

static void test_imap_in_input_order_hands_out_each_chunk_once_filled(void **state) {
    (void)state;
    size_t n = 1003, chunk = 10;
    int64_t *x = iota(n), *y = shmpool_alloc(pool, n * sizeof *y);
    shmpool_result *r;
    assert_int_equal(shmpool_imap(pool, times3, NULL, x, sizeof *x, y, sizeof *y, n, chunk, &r), 0);
    size_t expect = 0, b, e;
    int rc;
    while ((rc = shmpool_result_next(r, 0, &b, &e, -1)) == 0) {
        assert_int_equal(b, expect);
        assert_int_equal(e, b + chunk < n ? b + chunk : n);
        for (size_t i = b; i < e; i++)
            assert_int_equal(y[i], 3 * (int64_t)i);
        expect = e;
    }
    assert_int_equal(rc, -ENODATA);
    assert_int_equal(expect, n);
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, 0), -ENODATA); /* and again */
    assert_int_equal(shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, 0), -ENODATA);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    shmpool_result_free(r);
    shmpool_free(pool, x);
    shmpool_free(pool, y);
}

static void test_imap_unordered_hands_out_every_index_exactly_once(void **state) {
    (void)state;
    reset_shared();
    size_t n = 250, chunks[] = {1, 7, 250, 1000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        unsigned char seen[250] = {0};
        shmpool_result *r;
        assert_int_equal(shmpool_imap_for(pool, count_range, sh, n, chunks[k], &r), 0);
        size_t b, e, got = 0;
        int rc;
        while ((rc = shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, -1)) == 0) {
            assert_true(b < e && e <= n);
            for (size_t i = b; i < e; i++) {
                assert_int_equal(seen[i], 0);
                seen[i] = 1;
                assert_int_equal(atomic_load(&sh->ran[i]), (int)k + 1); /* it has run */
            }
            got += e - b;
        }
        assert_int_equal(rc, -ENODATA);
        assert_int_equal(got, n);
        shmpool_result_free(r);
    }
}

static void test_imap_unordered_gives_a_later_chunk_while_the_first_still_runs(void **state) {
    (void)state;
    reset_shared();
    size_t n = 40, b, e;
    shmpool_result *r;
    assert_int_equal(shmpool_imap_for(pool, range_chunk0_gated, sh, n, 4, &r), 0);
    /* chunk 0 cannot finish before the gate opens: input order has nothing to give */
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, 50), -ETIMEDOUT);
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, 0), -ETIMEDOUT);
    assert_int_equal(shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, -1), 0);
    assert_true(b >= 4 && e == b + 4);
    size_t taken = b;
    atomic_store(&sh->gate[0], 1);
    /* input order now starts at chunk 0, and skips the chunk already taken */
    size_t expect = 0;
    int rc;
    while ((rc = shmpool_result_next(r, 0, &b, &e, -1)) == 0) {
        if (expect == taken)
            expect += 4;
        assert_int_equal(b, expect);
        expect = e;
    }
    assert_int_equal(rc, -ENODATA);
    assert_int_equal(expect, taken + 4 == n ? taken : n);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    shmpool_result_free(r);
}

static void test_imap_over_parent_memory_copies_each_range_back_when_handed_out(void **state) {
    (void)state;
    reset_shared();
    size_t n = 64, b, e;
    int64_t in[64], out[64];
    for (size_t i = 0; i < n; i++)
        in[i] = (int64_t)i, out[i] = -1;
    shmpool_result *r;
    assert_int_equal(shmpool_imap(pool, times3_item63_gated, sh, in, sizeof *in, out, sizeof *out,
                                  n, 8, &r), 0);
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, -1), 0);
    assert_int_equal(shmpool_result_ready(r), 0); /* the last chunk still runs */
    assert_int_equal(b, 0);
    for (size_t i = b; i < e; i++)
        assert_int_equal(out[i], 3 * (int64_t)i); /* filled before get */
    assert_int_equal(out[n - 1], -1);
    out[0] = 1234; /* the caller's to change now: get must not overwrite it */
    atomic_store(&sh->gate[0], 1);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    assert_int_equal(out[0], 1234);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(out[i], 3 * (int64_t)i);
    /* after get, the rest is handed out without a copy: out is filled already */
    size_t count = e - b;
    while (shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, -1) == 0)
        count += e - b;
    assert_int_equal(count, n);
    assert_int_equal(out[0], 1234);
    shmpool_result_free(r);
}

static void test_imap_starmap_hands_out_ranges_in_order(void **state) {
    (void)state;
    size_t n = 100, b, e, expect = 0;
    int64_t *x = iota(n), *y = iota(n), *z = shmpool_alloc(pool, n * sizeof *z);
    const void *cols[] = {x, y};
    size_t sizes[] = {sizeof *x, sizeof *y};
    shmpool_result *r;
    assert_int_equal(shmpool_imap_starmap(pool, sum2, NULL, 2, cols, sizes, z, sizeof *z, n, 9, &r), 0);
    while (shmpool_result_next(r, 0, &b, &e, -1) == 0) {
        assert_int_equal(b, expect);
        for (size_t i = b; i < e; i++)
            assert_int_equal(z[i], 2 * (int64_t)i);
        expect = e;
    }
    assert_int_equal(expect, n);
    shmpool_result_free(r);
    shmpool_free(pool, x), shmpool_free(pool, y), shmpool_free(pool, z);
}

static void test_a_failing_item_ends_input_order_after_every_chunk_below_it(void **state) {
    (void)state;
    size_t n = 100, b, e, expect = 0;
    int64_t *x = iota(n), *y = shmpool_alloc(pool, n * sizeof *y);
    shmpool_result *r;
    assert_int_equal(shmpool_imap(pool, times3_fail55, NULL, x, sizeof *x, y, sizeof *y, n, 10, &r), 0);
    int rc;
    while ((rc = shmpool_result_next(r, 0, &b, &e, -1)) == 0) {
        assert_int_equal(b, expect);
        for (size_t i = b; i < e; i++)
            assert_int_equal(y[i], 3 * (int64_t)i);
        expect = e;
    }
    assert_int_equal(rc, -EDOM);
    assert_int_equal(expect, 50); /* chunks [0, 50): all of them, none from 50 on */
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, 0), -EDOM); /* and again */
    size_t index;
    assert_int_equal(shmpool_result_error(r, &index), -EDOM);
    assert_int_equal(index, 55);
    assert_int_equal(shmpool_result_get(r, -1), -EDOM);
    shmpool_result_free(r);

    /* finishing order: every chunk below the failing one is handed out, none twice, only
       finished ones, then the code */
    assert_int_equal(shmpool_imap(pool, times3_fail55, NULL, x, sizeof *x, y, sizeof *y, n, 10, &r), 0);
    unsigned char seen[100] = {0};
    while ((rc = shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, -1)) == 0) {
        assert_true(b != 50); /* the failing chunk never finished */
        for (size_t i = b; i < e; i++) {
            assert_int_equal(seen[i], 0);
            seen[i] = 1;
            assert_int_equal(y[i], 3 * (int64_t)i);
        }
    }
    assert_int_equal(rc, -EDOM);
    for (size_t i = 0; i < 50; i++)
        assert_int_equal(seen[i], 1);
    shmpool_result_free(r);
    shmpool_free(pool, x);
    shmpool_free(pool, y);
}

static void test_next_on_plain_results_gives_the_whole_range_once(void **state) {
    (void)state;
    size_t n = 33, b, e;
    int64_t *x = iota(n), *y = shmpool_alloc(pool, n * sizeof *y);
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(pool, times3, NULL, x, sizeof *x, y, sizeof *y, n, 4, &r), 0);
    assert_int_equal(shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, -1), 0);
    assert_int_equal(b, 0);
    assert_int_equal(e, n);
    assert_int_equal(y[n - 1], 3 * (int64_t)(n - 1));
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, -1), -ENODATA);
    shmpool_result_free(r);

    int g = 1, out = 0; /* apply: [0, 1), parent-memory out filled */
    atomic_store(&sh->gate[1], 1);
    assert_int_equal(shmpool_apply_async(pool, gated_apply, sh, &g, sizeof g, &out, sizeof out, &r), 0);
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, -1), 0);
    assert_int_equal(e - b, 1);
    assert_int_equal(out, 1);
    shmpool_result_free(r);

    /* n == 0: the end at once */
    assert_int_equal(shmpool_imap(pool, times3, NULL, x, sizeof *x, y, sizeof *y, 0, 0, &r), 0);
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, 0), -ENODATA);
    shmpool_result_free(r);

    /* a failing plain map: no range, its code */
    int64_t *big = iota(100), *big_out = shmpool_alloc(pool, 100 * sizeof *big_out);
    assert_int_equal(shmpool_map_async(pool, times3_fail55, NULL, big, sizeof *big, big_out,
                                       sizeof *big_out, 100, 4, &r), 0);
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, -1), -EDOM);
    assert_int_equal(shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, -1), -EDOM);
    shmpool_result_free(r);
    shmpool_free(pool, big);
    shmpool_free(pool, big_out);
    shmpool_free(pool, x);
    shmpool_free(pool, y);
}

static void test_a_cancelled_imap_gives_what_finished_then_ecanceled(void **state) {
    (void)state;
    reset_shared();
    size_t n = 40, b, e;
    int64_t *x = iota(n), *y = shmpool_alloc(pool, n * sizeof *y);
    shmpool_result *r;
    assert_int_equal(shmpool_imap(pool, times3_item0_gated, sh, x, sizeof *x, y, sizeof *y, n, 4, &r), 0);
    /* one later chunk has finished for sure: take it, then wait for all the others */
    assert_int_equal(shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, -1), 0);
    size_t done;
    do {
        shmpool_result_progress(r, &done, NULL);
        sleep_ms(1);
    } while (done < n - 4);
    assert_int_equal(shmpool_result_cancel(r), 0);
    size_t got = e - b;
    int rc;
    while ((rc = shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, -1)) == 0) {
        assert_true(b != 0);
        got += e - b;
    }
    assert_int_equal(rc, -ECANCELED);
    assert_int_equal(got, n - 4); /* every chunk but the first, which was cancelled */
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, 0), -ECANCELED);
    shmpool_result_free(r);
    shmpool_free(pool, x);
    shmpool_free(pool, y);
}

struct taker {
    shmpool_result *r;
    unsigned char *seen;
    pthread_mutex_t *m;
    int dup;
};
static void *take_all(void *arg) {
    struct taker *t = arg;
    size_t b, e;
    while (shmpool_result_next(t->r, SHMPOOL_NEXT_UNORDERED, &b, &e, -1) == 0) {
        pthread_mutex_lock(t->m);
        for (size_t i = b; i < e; i++)
            t->dup += t->seen[i]++ != 0;
        pthread_mutex_unlock(t->m);
    }
    return NULL;
}

static void test_threads_taking_chunks_of_one_result_each_get_distinct_chunks(void **state) {
    (void)state;
    reset_shared();
    size_t n = 200;
    unsigned char seen[200] = {0};
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    shmpool_result *r;
    assert_int_equal(shmpool_imap_for(pool, count_range, sh, n, 1, &r), 0);
    struct taker t[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        t[i] = (struct taker){r, seen, &m, 0};
        assert_int_equal(pthread_create(&th[i], NULL, take_all, &t[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].dup, 0);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seen[i], 1);
    shmpool_result_free(r);
}

/* ---- wait_any / wait_all ---- */

static void test_wait_any_times_out_then_names_the_result_that_ended(void **state) {
    (void)state;
    reset_shared();
    /* the two workers take the jobs on gates 0 and 1; the third (gate 1) waits in the queue */
    int g[3] = {0, 1, 1}, out[3] = {-1, -1, -1};
    shmpool_result *rs[4] = {NULL};
    for (int i = 0; i < 3; i++)
        assert_int_equal(shmpool_apply_async(pool, gated_apply, sh, &g[i], sizeof g[i], &out[i],
                                             sizeof out[i], &rs[i + 1]), 0);
    size_t which;
    assert_int_equal(shmpool_wait_any(rs, 4, 50, &which), -ETIMEDOUT);
    assert_int_equal(which, SIZE_MAX);
    assert_int_equal(shmpool_wait_any(rs, 4, 0, &which), -ETIMEDOUT);
    assert_int_equal(shmpool_wait_all(rs, 4, 30), -ETIMEDOUT);
    atomic_store(&sh->gate[1], 1); /* rs[2] ends, then rs[3]; entry 0 is NULL: skipped */
    assert_int_equal(shmpool_wait_any(rs, 4, -1, &which), 0);
    assert_int_equal(which, 2); /* the lowest index among those that ended */
    assert_int_equal(out[1], 1); /* harvested: parent-memory out filled */
    assert_int_equal(shmpool_result_get(rs[2], 0), 0);
    shmpool_result_free(rs[2]);
    rs[2] = NULL;
    assert_int_equal(shmpool_wait_any(rs, 4, -1, &which), 0);
    assert_int_equal(which, 3);
    assert_int_equal(shmpool_wait_all(rs, 4, 30), -ETIMEDOUT); /* rs[1] still waits */
    atomic_store(&sh->gate[0], 1);
    assert_int_equal(shmpool_wait_all(rs, 4, -1), 0);
    for (int i = 1; i < 4; i += 2) {
        assert_int_equal(shmpool_result_ready(rs[i]), 1);
        assert_int_equal(shmpool_result_get(rs[i], 0), 0);
        shmpool_result_free(rs[i]);
    }
    assert_int_equal(out[0], 0);
    assert_int_equal(out[2], 1);
}

static void test_as_completed_over_many_results_sees_each_once(void **state) {
    (void)state;
    enum { N = 40 };
    int64_t *x = iota(N), y[N];
    shmpool_result *rs[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(shmpool_map_async(pool, times3, NULL, x + i, sizeof *x, &y[i], sizeof y[i],
                                           1, 1, &rs[i]), 0);
    int seen[N] = {0};
    for (int left = N; left > 0; left--) {
        size_t w;
        assert_int_equal(shmpool_wait_any(rs, N, -1, &w), 0);
        assert_true(w < N && rs[w]);
        seen[w]++;
        assert_int_equal(shmpool_result_get(rs[w], 0), 0);
        assert_int_equal(y[w], 3 * (int64_t)w);
        shmpool_result_free(rs[w]);
        rs[w] = NULL;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    size_t w;
    assert_int_equal(shmpool_wait_any(rs, N, 0, &w), -EINVAL); /* nothing left to wait for */
    assert_int_equal(shmpool_wait_all(rs, N, 0), 0);
    shmpool_free(pool, x);
}

/* ---- callbacks ---- */

struct calls {
    int ok, err, code;
    size_t index;
    pthread_t thread;
    pid_t pid;
    shmpool_result *r;
};
static void on_ok(shmpool_result *r, void *arg) {
    struct calls *c = arg;
    c->ok++;
    c->r = r;
    c->thread = pthread_self();
    c->pid = getpid();
}
static void on_err(shmpool_result *r, int code, size_t index, void *arg) {
    struct calls *c = arg;
    c->err++;
    c->code = code;
    c->index = index;
    c->r = r;
    c->thread = pthread_self();
    c->pid = getpid();
}

static void test_success_callback_runs_once_in_the_thread_that_gets(void **state) {
    (void)state;
    reset_shared();
    size_t n = 20;
    int64_t *x = iota(n), y[20];
    struct calls c = {0};
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(pool, times3_item0_gated, sh, x, sizeof *x, y, sizeof *y,
                                       n, 5, &r), 0);
    assert_int_equal(shmpool_result_on_done(r, on_ok, on_err, &c), 0);
    assert_int_equal(c.ok + c.err, 0); /* not yet: the job runs */
    assert_int_equal(shmpool_result_get(r, 20), -ETIMEDOUT);
    assert_int_equal(c.ok + c.err, 0);
    atomic_store(&sh->gate[0], 1);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    assert_int_equal(c.ok, 1); /* before get returned, in this thread and process */
    assert_int_equal(c.err, 0);
    assert_true(pthread_equal(c.thread, pthread_self()));
    assert_int_equal(c.pid, getpid());
    assert_ptr_equal(c.r, r);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    assert_int_equal(c.ok, 1); /* once */
    assert_int_equal(shmpool_result_on_done(r, on_ok, on_err, &c), -EALREADY);
    shmpool_result_free(r);
    assert_int_equal(c.ok, 1);

    /* registered after the job ended: runs at once, in on_done */
    assert_int_equal(shmpool_map_async(pool, times3, NULL, x, sizeof *x, y, sizeof *y, n, 5, &r), 0);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    c = (struct calls){0};
    assert_int_equal(shmpool_result_on_done(r, on_ok, on_err, &c), 0);
    assert_int_equal(c.ok, 1);
    shmpool_result_free(r);
    shmpool_free(pool, x);
}

static void test_error_callback_gets_the_code_and_the_lowest_failing_index(void **state) {
    (void)state;
    size_t n = 100;
    int64_t *x = iota(n), *y = shmpool_alloc(pool, n * sizeof *y);
    struct calls c = {0};
    shmpool_result *r;
    assert_int_equal(shmpool_imap(pool, times3_fail55, NULL, x, sizeof *x, y, sizeof *y, n, 10, &r), 0);
    assert_int_equal(shmpool_result_on_done(r, on_ok, on_err, &c), 0);
    size_t b, e;
    int rc;
    while ((rc = shmpool_result_next(r, 0, &b, &e, -1)) == 0)
        ;
    assert_int_equal(rc, -EDOM);
    assert_int_equal(c.err, 1); /* by next, or by on_done if the job had ended already */
    assert_int_equal(c.ok, 0);
    assert_int_equal(c.code, -EDOM);
    assert_int_equal(c.index, 55);
    shmpool_result_free(r);
    assert_int_equal(c.err, 1);
    shmpool_free(pool, x);
    shmpool_free(pool, y);
}

static void test_cancel_runs_the_error_callback_with_ecanceled(void **state) {
    (void)state;
    reset_shared();
    int g = 0, out = 0;
    struct calls c = {0};
    shmpool_result *r;
    assert_int_equal(shmpool_apply_async(pool, gated_apply, sh, &g, sizeof g, &out, sizeof out, &r), 0);
    assert_int_equal(shmpool_result_on_done(r, on_ok, on_err, &c), 0);
    assert_int_equal(shmpool_result_cancel(r), 0);
    assert_int_equal(c.err, 1);
    assert_int_equal(c.ok, 0);
    assert_int_equal(c.code, -ECANCELED);
    assert_true(pthread_equal(c.thread, pthread_self()));
    shmpool_result_free(r);
    assert_int_equal(c.err, 1);
}

static void test_free_runs_a_pending_callback_and_poll_runs_due_ones(void **state) {
    (void)state;
    reset_shared();
    int g = 0, out = 0;
    struct calls c = {0};
    shmpool_result *r;
    /* free of a running job cancels it: the error callback runs, in free */
    assert_int_equal(shmpool_apply_async(pool, gated_apply, sh, &g, sizeof g, &out, sizeof out, &r), 0);
    assert_int_equal(shmpool_result_on_done(r, on_ok, on_err, &c), 0);
    shmpool_result_free(r);
    assert_int_equal(c.err, 1);
    assert_int_equal(c.code, -ECANCELED);

    /* poll: nothing pending returns at once; then every due callback runs */
    assert_int_equal(shmpool_poll(pool, -1), 0);
    enum { N = 8 };
    int gs[N], outs[N];
    struct calls cs[N];
    shmpool_result *rs[N];
    for (int i = 0; i < N; i++) {
        gs[i] = i < N / 2 ? 1 : 2; /* the first half waits for gate 1, the rest for gate 2 */
        cs[i] = (struct calls){0};
        assert_int_equal(shmpool_apply_async(pool, gated_apply, sh, &gs[i], sizeof gs[i], &outs[i],
                                             sizeof outs[i], &rs[i]), 0);
        assert_int_equal(shmpool_result_on_done(rs[i], on_ok, on_err, &cs[i]), 0);
    }
    assert_int_equal(shmpool_poll(pool, 0), 0); /* none is due yet */
    atomic_store(&sh->gate[1], 1);
    int ran = 0;
    while (ran < N / 2) {
        int k = shmpool_poll(pool, -1);
        assert_true(k > 0);
        ran += k;
    }
    assert_int_equal(ran, N / 2);
    assert_int_equal(shmpool_poll(pool, 20), 0); /* the others still wait: timeout, none ran */
    for (int i = 0; i < N; i++)
        assert_int_equal(cs[i].ok, i < N / 2);
    atomic_store(&sh->gate[2], 1);
    while (ran < N)
        ran += shmpool_poll(pool, -1);
    assert_int_equal(ran, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(cs[i].ok, 1);
        assert_int_equal(cs[i].pid, getpid());
        shmpool_result_free(rs[i]);
        assert_int_equal(cs[i].ok, 1);
    }
}

static shmpool_result *freed_inside;
static void free_self(shmpool_result *r, void *arg) {
    (void)arg;
    shmpool_result_free(r); /* refused: r is still the caller's */
    freed_inside = r;
}

static void test_a_callback_cannot_free_its_own_result(void **state) {
    (void)state;
    size_t n = 4, b, e;
    int64_t *x = iota(n), y[4];
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(pool, times3, NULL, x, sizeof *x, y, sizeof *y, n, 1, &r), 0);
    assert_int_equal(shmpool_result_on_done(r, free_self, NULL, NULL), 0);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    assert_ptr_equal(freed_inside, r);
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, 0), 0); /* r still lives */
    shmpool_result_free(r);
    shmpool_free(pool, x);
}

static void test_callbacks_can_be_taken_off_again(void **state) {
    (void)state;
    reset_shared();
    size_t n = 4;
    int64_t *x = iota(n), y[4];
    struct calls c = {0};
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(pool, times3_item0_gated, sh, x, sizeof *x, y, sizeof *y, n,
                                       1, &r), 0);
    assert_int_equal(shmpool_result_on_done(r, on_ok, on_err, &c), 0);
    assert_int_equal(shmpool_result_on_done(r, NULL, NULL, NULL), 0);
    atomic_store(&sh->gate[0], 1);
    assert_int_equal(shmpool_result_get(r, -1), 0);
    assert_int_equal(shmpool_poll(pool, 0), 0);
    assert_int_equal(c.ok + c.err, 0);
    shmpool_result_free(r);
    shmpool_free(pool, x);
}

static void test_terminate_runs_the_error_callbacks_of_the_jobs_it_stopped(void **state) {
    (void)state;
    shmpool *p;
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    assert_int_equal(shmpool_create(&p, &o), 0);
    /* gate 3 (in the other pool's memory, which this pool's processes inherit) never opens */
    int g = 3, out = 0, ran_before_terminate;
    struct calls c = {0}, c2 = {0};
    shmpool_result *r, *r2;
    assert_int_equal(shmpool_apply_async(p, gated_apply, sh, &g, sizeof g, &out, sizeof out, &r), 0);
    assert_int_equal(shmpool_result_on_done(r, on_ok, on_err, &c), 0);
    assert_int_equal(shmpool_imap_for(p, count_range, sh, 1, 1, &r2), 0);
    assert_int_equal(shmpool_result_get(r2, -1), 0); /* ended before terminate: ok, not err */
    assert_int_equal(shmpool_result_on_done(r2, on_ok, on_err, &c2), 0);
    ran_before_terminate = c.ok + c.err;
    assert_int_equal(ran_before_terminate, 0);
    assert_int_equal(shmpool_terminate(p), 0);
    assert_int_equal(c.err, 1); /* before terminate returned, in this thread */
    assert_int_equal(c.code, -ECANCELED);
    assert_true(pthread_equal(c.thread, pthread_self()));
    assert_int_equal(c2.ok, 1);
    assert_int_equal(c2.err, 0);
    assert_int_equal(shmpool_result_get(r, 0), -ECANCELED);
    size_t b, e;
    assert_int_equal(shmpool_result_next(r, 0, &b, &e, -1), -ECANCELED);
    assert_int_equal(shmpool_poll(p, 0), 0);
    shmpool_result_free(r);
    shmpool_result_free(r2);
    assert_int_equal(c.err, 1);
    shmpool_destroy(p);
}

static void test_destroy_runs_callbacks_not_yet_run(void **state) {
    (void)state;
    shmpool *p;
    shmpool_options o = {.workers = 1, .flags = SHMPOOL_FLAG_QUIET};
    assert_int_equal(shmpool_create(&p, &o), 0);
    int g = 3, out = 0;
    struct calls c = {0};
    shmpool_result *r;
    assert_int_equal(shmpool_apply_async(p, gated_apply, sh, &g, sizeof g, &out, sizeof out, &r), 0);
    assert_int_equal(shmpool_result_on_done(r, on_ok, on_err, &c), 0);
    shmpool_result *r2, *r3; /* never freed: destroy frees them, their bitmaps included */
    assert_int_equal(shmpool_imap_for(p, count_range, sh, 100, 1, &r2), 0);
    assert_int_equal(shmpool_imap_for(p, noop_range, NULL, 100, 1, &r3), 0);
    size_t b, e;
    assert_int_equal(shmpool_result_next(r3, 0, &b, &e, 0), -ETIMEDOUT); /* queued behind r */
    shmpool_destroy(p);
    assert_int_equal(c.err, 1);
    assert_int_equal(c.code, -ECANCELED);
}

struct waiter {
    shmpool_result *r;
    int rc;
};
static void *next_forever(void *arg) {
    struct waiter *w = arg;
    size_t b, e;
    w->rc = shmpool_result_next(w->r, 0, &b, &e, -1);
    return NULL;
}

static void test_next_wakes_when_the_pool_is_terminated_from_another_thread(void **state) {
    (void)state;
    shmpool *p;
    shmpool_options o = {.workers = 1, .flags = SHMPOOL_FLAG_QUIET};
    assert_int_equal(shmpool_create(&p, &o), 0);
    int g = 3, out = 0;
    struct waiter w = {NULL, 1};
    assert_int_equal(shmpool_apply_async(p, gated_apply, sh, &g, sizeof g, &out, sizeof out, &w.r), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, next_forever, &w), 0);
    sleep_ms(20); /* most likely asleep in next by now; either order must work */
    assert_int_equal(shmpool_terminate(p), 0);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, -ECANCELED);
    shmpool_result_free(w.r);
    shmpool_destroy(p);
}

/* ---- bad arguments ---- */

static int next_in_child(void) {
    shmpool_result *r;
    size_t b, e;
    int64_t *x = iota(4), y[4];
    if (shmpool_map_async(pool, times3, NULL, x, sizeof *x, y, sizeof *y, 4, 1, &r))
        return 1;
    shmpool_result_get(r, -1);
    pid_t pid = fork();
    if (pid == 0) {
        size_t w;
        int ok = shmpool_result_next(r, 0, &b, &e, 0) == -EPERM &&
                 shmpool_wait_any(&r, 1, 0, &w) == -EPERM && shmpool_wait_all(&r, 1, 0) == -EPERM &&
                 shmpool_result_on_done(r, on_ok, NULL, NULL) == -EPERM &&
                 shmpool_poll(pool, 0) == -EPERM &&
                 shmpool_imap_for(pool, count_range, sh, 4, 1, &r) == -EPERM;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    shmpool_result_free(r);
    shmpool_free(pool, x);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void test_bad_arguments_are_einval_and_other_processes_eperm(void **state) {
    (void)state;
    size_t b = 7, e = 7, w = 7;
    int64_t *x = iota(4), y[4];
    shmpool_result *r, *r2;
    assert_int_equal(shmpool_result_next(NULL, 0, &b, &e, 0), -EINVAL);
    assert_int_equal(b, 0);
    assert_int_equal(shmpool_map_async(pool, times3, NULL, x, sizeof *x, y, sizeof *y, 4, 1, &r), 0);
    assert_int_equal(shmpool_result_next(r, 0, NULL, &e, 0), -EINVAL);
    assert_int_equal(shmpool_result_next(r, 0, &b, NULL, 0), -EINVAL);
    assert_int_equal(shmpool_result_next(r, 0x2, &b, &e, 0), -EINVAL);
    assert_int_equal(shmpool_wait_any(&r, 1, 0, NULL), -EINVAL);
    assert_int_equal(shmpool_wait_any(NULL, 1, 0, &w), -EINVAL);
    assert_int_equal(shmpool_wait_all(NULL, 1, 0), -EINVAL);
    assert_int_equal(shmpool_wait_any(NULL, 0, 0, &w), -EINVAL);
    assert_int_equal(shmpool_wait_all(NULL, 0, 0), 0);
    assert_int_equal(shmpool_result_on_done(NULL, on_ok, on_err, NULL), -EINVAL);
    assert_int_equal(shmpool_poll(NULL, 0), -EINVAL);
    /* results of two pools in one wait */
    shmpool *p2;
    shmpool_options o = {.workers = 1, .flags = SHMPOOL_FLAG_QUIET};
    assert_int_equal(shmpool_create(&p2, &o), 0);
    assert_int_equal(shmpool_imap_for(p2, count_range, sh, 0, 0, &r2), 0);
    shmpool_result *both[2] = {r, r2};
    assert_int_equal(shmpool_wait_any(both, 2, 0, &w), -EINVAL);
    assert_int_equal(shmpool_wait_all(both, 2, 0), -EINVAL);
    shmpool_result_free(r2);
    shmpool_destroy(p2);
    /* the submitting calls check as their _async twins do */
    assert_int_equal(shmpool_imap(pool, NULL, NULL, x, sizeof *x, y, sizeof *y, 4, 1, &r2), -EINVAL);
    assert_null(r2);
    assert_int_equal(shmpool_imap(pool, times3, NULL, x, 0, y, sizeof *y, 4, 1, &r2), -EINVAL);
    assert_int_equal(shmpool_imap(pool, times3, NULL, x, sizeof *x, y, sizeof *y, 4, 1, NULL), -EINVAL);
    assert_int_equal(shmpool_imap(NULL, times3, NULL, x, sizeof *x, y, sizeof *y, 4, 1, &r2), -EINVAL);
    assert_int_equal(shmpool_imap(pool, times3, NULL, x, SIZE_MAX, y, sizeof *y, 4, 1, &r2), -EOVERFLOW);
    const void *cols[1] = {x};
    size_t sizes[1] = {sizeof *x};
    assert_int_equal(shmpool_imap_starmap(pool, sum2, NULL, 0, cols, sizes, y, sizeof *y, 4, 1, &r2), -EINVAL);
    assert_int_equal(shmpool_imap_for(pool, NULL, NULL, 4, 1, &r2), -EINVAL);
    /* more chunks than the bitmap may hold */
    assert_int_equal(shmpool_imap_for(pool, count_range, sh, ((size_t)1 << 26) + 1, 1, &r2), -EOVERFLOW);
    assert_null(r2);
    assert_int_equal(shmpool_imap_for(pool, noop_range, NULL, (size_t)1 << 40, (size_t)1 << 14, &r2), 0);
    shmpool_result_free(r2); /* 2^26 chunks: accepted (and cancelled) */
    shmpool_result_free(r);
    shmpool_free(pool, x);
    assert_int_equal(next_in_child(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imap_in_input_order_hands_out_each_chunk_once_filled),
        cmocka_unit_test(test_imap_unordered_hands_out_every_index_exactly_once),
        cmocka_unit_test(test_imap_unordered_gives_a_later_chunk_while_the_first_still_runs),
        cmocka_unit_test(test_imap_over_parent_memory_copies_each_range_back_when_handed_out),
        cmocka_unit_test(test_imap_starmap_hands_out_ranges_in_order),
        cmocka_unit_test(test_a_failing_item_ends_input_order_after_every_chunk_below_it),
        cmocka_unit_test(test_next_on_plain_results_gives_the_whole_range_once),
        cmocka_unit_test(test_a_cancelled_imap_gives_what_finished_then_ecanceled),
        cmocka_unit_test(test_threads_taking_chunks_of_one_result_each_get_distinct_chunks),
        cmocka_unit_test(test_wait_any_times_out_then_names_the_result_that_ended),
        cmocka_unit_test(test_as_completed_over_many_results_sees_each_once),
        cmocka_unit_test(test_success_callback_runs_once_in_the_thread_that_gets),
        cmocka_unit_test(test_error_callback_gets_the_code_and_the_lowest_failing_index),
        cmocka_unit_test(test_cancel_runs_the_error_callback_with_ecanceled),
        cmocka_unit_test(test_free_runs_a_pending_callback_and_poll_runs_due_ones),
        cmocka_unit_test(test_a_callback_cannot_free_its_own_result),
        cmocka_unit_test(test_callbacks_can_be_taken_off_again),
        cmocka_unit_test(test_terminate_runs_the_error_callbacks_of_the_jobs_it_stopped),
        cmocka_unit_test(test_destroy_runs_callbacks_not_yet_run),
        cmocka_unit_test(test_next_wakes_when_the_pool_is_terminated_from_another_thread),
        cmocka_unit_test(test_bad_arguments_are_einval_and_other_processes_eperm),
    };
    return test_exit_code(cmocka_run_group_tests(tests, setup, teardown));
}
