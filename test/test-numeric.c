/* Numeric codes: ctx by value, stale ctx made loud (SHMPOOL_ESTALE), chunk and worker indices,
 * deterministic reductions, the calling thread running chunks, worker output, staging reuse. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "shmpool.h"

static shmpool *make_pool(unsigned workers, uint32_t flags) {
    shmpool_options o = {.workers = workers, .flags = SHMPOOL_FLAG_QUIET | flags};
    shmpool *p = NULL;
    assert_int_equal(shmpool_create(&p, &o), 0);
    return p;
}

/* ---- ctx by value ---- */

struct axpy {
    double a;
    const double *x;
    double *y;
};

static int axpy_range(void *ctx, size_t b, size_t e) {
    const struct axpy *c = ctx;
    for (size_t i = b; i < e; i++)
        c->y[i] += c->a * c->x[i];
    return 0;
}

static void test_for_ctx_reads_a_stack_ctx_filled_after_create(void **state) {
    (void)state;
    shmpool *p = make_pool(2, 0);
    size_t n = 10000;
    double *x = shmpool_alloc(p, n * sizeof *x), *y = shmpool_alloc(p, n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        x[i] = (double)i, y[i] = 1.0;
    for (int step = 1; step <= 3; step++) { /* a new value each step, as a time loop does */
        struct axpy c = {.a = step, .x = x, .y = y};
        assert_int_equal(shmpool_for_ctx(p, axpy_range, &c, sizeof c, n, 0), 0);
    }
    for (size_t i = 0; i < n; i++)
        assert_true(y[i] == 1.0 + 6.0 * (double)i);
    shmpool_destroy(p);
}

struct big_ctx {
    double coef[200]; /* 1600 bytes: more than fits in the job slot, so it is staged */
};

static int big_ctx_item(const void *in, void *out, void *ctx) {
    const struct big_ctx *c = ctx;
    size_t i = *(const size_t *)in;
    *(double *)out = c->coef[i % 200];
    return 0;
}

static void test_map_ctx_copies_a_big_heap_ctx_made_after_create(void **state) {
    (void)state;
    shmpool *p = make_pool(2, 0);
    struct big_ctx *c = malloc(sizeof *c);
    for (int k = 0; k < 200; k++)
        c->coef[k] = k * 0.5;
    size_t n = 1000, in[1000];
    double out[1000];
    for (size_t i = 0; i < n; i++)
        in[i] = i;
    assert_int_equal(shmpool_map_ctx(p, big_ctx_item, c, sizeof *c, in, sizeof in[0], out,
                                     sizeof out[0], n, 0),
                     0);
    for (size_t i = 0; i < n; i++)
        assert_true(out[i] == (double)(i % 200) * 0.5);
    free(c);
    shmpool_destroy(p);
}

static int add_ctx_item(const void *in, void *out, void *ctx) {
    *(int *)out = *(const int *)in + *(const int *)ctx;
    return 0;
}

static int add_cols(const void *const args[], void *out, void *ctx) {
    *(int *)out = *(const int *)args[0] + *(const int *)args[1] + *(const int *)ctx;
    return 0;
}

static void test_apply_and_starmap_ctx_take_ctx_by_value(void **state) {
    (void)state;
    shmpool *p = make_pool(2, 0);
    int k = 40, arg = 2, out = 0;
    assert_int_equal(shmpool_apply_ctx(p, add_ctx_item, &k, sizeof k, &arg, sizeof arg, &out,
                                       sizeof out),
                     0);
    assert_int_equal(out, 42);
    shmpool_result *r;
    k = 100;
    assert_int_equal(shmpool_apply_ctx_async(p, add_ctx_item, &k, sizeof k, &arg, sizeof arg,
                                             &out, sizeof out, &r),
                     0);
    k = -1; /* the job has its own copy: a change after submission is not seen */
    assert_int_equal(shmpool_result_get(r, -1), 0);
    shmpool_result_free(r);
    assert_int_equal(out, 102);
    int a[64], b[64], sum[64];
    for (int i = 0; i < 64; i++)
        a[i] = i, b[i] = 2 * i;
    const void *cols[] = {a, b};
    size_t sizes[] = {sizeof a[0], sizeof b[0]};
    k = 7;
    assert_int_equal(shmpool_starmap_ctx(p, add_cols, &k, sizeof k, 2, cols, sizes, sum,
                                         sizeof sum[0], 64, 5),
                     0);
    for (int i = 0; i < 64; i++)
        assert_int_equal(sum[i], 3 * i + 7);
    shmpool_destroy(p);
}

struct holds_a_local {
    double scale;
    const double *local; /* points at the caller's stack: stale in the workers */
};

static int read_local(const void *in, void *out, void *ctx) {
    const struct holds_a_local *c = ctx;
    *(double *)out = *(const double *)in * c->local[0];
    return 0;
}

static void test_ctx_by_value_holding_a_pointer_to_a_local_fails_estale(void **state) {
    (void)state;
    shmpool *p = make_pool(2, 0);
    double factor[1] = {3.0}, in[4] = {1, 2, 3, 4}, out[4] = {0};
    struct holds_a_local c = {1.0, factor}; /* what a C++ lambda's [&] capture is */
    assert_int_equal(shmpool_map_ctx(p, read_local, &c, sizeof c, in, sizeof in[0], out,
                                     sizeof out[0], 4, 1),
                     SHMPOOL_ESTALE);
    assert_true(out[0] == 0.0); /* nothing ran */
    shmpool_destroy(p);
    p = make_pool(1, SHMPOOL_FLAG_NO_CTX_CHECK); /* the program says it knows */
    assert_int_equal(shmpool_map_ctx(p, read_local, &c, sizeof c, in, sizeof in[0], out,
                                     sizeof out[0], 4, 1),
                     0);
    shmpool_destroy(p);
}

static void test_ctx_calls_refuse_bad_ctx_arguments(void **state) {
    (void)state;
    shmpool *p = make_pool(1, 0);
    assert_int_equal(shmpool_for_ctx(p, axpy_range, NULL, 8, 10, 0), -EINVAL);
    char byte = 0;
    assert_int_equal(shmpool_for_ctx(p, axpy_range, &byte, SHMPOOL_MAX_CTX_BYTES + 1, 10, 0),
                     -EINVAL);
    assert_int_equal(shmpool_for_ctx(NULL, axpy_range, &byte, 1, 10, 0), -EINVAL);
    assert_int_equal(shmpool_for_with_id(p, NULL, &byte, 1, 10, 0), -EINVAL);
    shmpool_destroy(p);
}

/* ---- a ctx by pointer that the workers see stale ---- */

static int read_scale(const void *in, void *out, void *ctx) {
    *(double *)out = *(const double *)in * ((const struct axpy *)ctx)->a;
    return 0;
}

static void test_stack_ctx_filled_after_create_fails_estale_not_wrong_results(void **state) {
    (void)state;
    shmpool *p = make_pool(2, 0);
    volatile struct axpy c; /* on this frame's stack, which the workers saw at create */
    memset((void *)&c, 0, sizeof c);
    c.a = 3.0;
    double in[100], out[100];
    for (int i = 0; i < 100; i++)
        in[i] = i, out[i] = -1;
    size_t index = 0;
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(p, read_scale, (void *)&c, in, sizeof in[0], out,
                                       sizeof out[0], 100, 10, &r),
                     0);
    assert_int_equal(shmpool_result_get(r, -1), SHMPOOL_ESTALE);
    assert_int_equal(shmpool_result_error(r, &index), SHMPOOL_ESTALE);
    assert_int_equal(index, 0); /* the first chunk already: nothing computed from stale data */
    shmpool_result_free(r);
    assert_non_null(strstr(shmpool_strerror(SHMPOOL_ESTALE), "by value"));
    shmpool_destroy(p);
}

static struct axpy global_params; /* set after create: the workers hold the old value */

static void test_global_ctx_set_after_create_fails_estale(void **state) {
    (void)state;
    global_params.a = 0;
    shmpool *p = make_pool(2, 0);
    global_params.a = 2.0;
    double in[10] = {1}, out[10];
    assert_int_equal(shmpool_map(p, read_scale, &global_params, in, sizeof in[0], out,
                                 sizeof out[0], 10, 1),
                     SHMPOOL_ESTALE);
    /* By value, the same struct works. */
    assert_int_equal(shmpool_map_ctx(p, read_scale, &global_params, sizeof global_params, in,
                                     sizeof in[0], out, sizeof out[0], 10, 1),
                     0);
    assert_true(out[0] == 2.0);
    shmpool_destroy(p);
}

static void test_heap_ctx_made_after_create_fails_estale_at_submission(void **state) {
    (void)state;
    shmpool *p = make_pool(1, 0);
    /* A fresh mapping: no worker has it at all (a SIGSEGV in the worker without the check). */
    size_t big = (size_t)64 << 20;
    struct axpy *c = malloc(big); /* above the mmap threshold: a mapping of its own */
    assert_non_null(c);
    c->a = 1.0;
    double in[4] = {1, 2, 3, 4}, out[4];
    assert_int_equal(shmpool_map(p, read_scale, c, in, sizeof in[0], out, sizeof out[0], 4, 1),
                     SHMPOOL_ESTALE);
    free(c);
    shmpool_destroy(p);
}

static void test_ctx_in_shmpool_memory_or_unchanged_or_an_integer_is_fine(void **state) {
    (void)state;
    global_params.a = 5.0; /* set before create: the workers see it */
    shmpool *p = make_pool(2, 0);
    double in[8] = {1, 1, 1, 1, 1, 1, 1, 1}, out[8];
    assert_int_equal(shmpool_map(p, read_scale, &global_params, in, sizeof in[0], out,
                                 sizeof out[0], 8, 1),
                     0);
    assert_true(out[7] == 5.0);
    struct axpy *shared = shmpool_alloc(p, sizeof *shared);
    shared->a = 4.0; /* after create, but shared: seen as it is */
    assert_int_equal(
        shmpool_map(p, read_scale, shared, in, sizeof in[0], out, sizeof out[0], 8, 1), 0);
    assert_true(out[7] == 4.0);
    shmpool_free(p, shared);
    shmpool_destroy(p);
}

static int ignore_ctx(void *ctx, size_t b, size_t e) {
    (void)ctx, (void)b, (void)e;
    return 0;
}

static void test_an_integer_passed_as_ctx_is_passed_as_is(void **state) {
    (void)state;
    shmpool *p = make_pool(2, 0);
    assert_int_equal(shmpool_for(p, ignore_ctx, (void *)(uintptr_t)12345, 100, 0), 0);
    assert_int_equal(shmpool_for(p, ignore_ctx, (void *)(uintptr_t)0x10, 100, 0), 0);
    shmpool_destroy(p);
}

static void test_no_ctx_check_flag_turns_the_check_off(void **state) {
    (void)state;
    global_params.a = 0;
    shmpool *p = make_pool(1, SHMPOOL_FLAG_NO_CTX_CHECK);
    global_params.a = 2.0;
    double in[2] = {1, 1}, out[2];
    /* The program said it knows: the workers' (stale) view is used. */
    assert_int_equal(shmpool_map(p, read_scale, &global_params, in, sizeof in[0], out,
                                 sizeof out[0], 2, 1),
                     0);
    assert_true(out[0] == 0.0);
    shmpool_destroy(p);
}

/* ---- chunk and worker indices ---- */

struct seen {
    int chunks[64];
    int workers[64];
    int index_in_task[64];
    size_t count[64];
};

static int note_chunk(void *ctx, size_t b, size_t e, const shmpool_chunk_id *id) {
    struct seen *s = *(struct seen **)ctx;
    if (id->index >= 64 || b != id->index * 7 || e > b + 7)
        return -EINVAL;
    s->chunks[id->index]++;
    s->workers[id->index] = (int)id->worker;
    s->index_in_task[id->index] = shmpool_worker_index();
    s->count[id->index] = id->count;
    return 0;
}

static void check_ids(unsigned workers, uint32_t flags) {
    shmpool *p = make_pool(workers, flags);
    struct seen *s = shmpool_alloc(p, sizeof *s);
    size_t chunk = 0, count = 0;
    assert_int_equal(shmpool_chunking(p, 400, 7, 0, &chunk, &count), 0);
    assert_int_equal(chunk, 7);
    assert_int_equal(count, 58);
    assert_int_equal(shmpool_for_with_id(p, note_chunk, &s, sizeof s, 400, 7), 0);
    for (size_t c = 0; c < count; c++) {
        assert_int_equal(s->chunks[c], 1);
        assert_int_equal(s->count[c], count);
        assert_true(s->workers[c] >= 0 && s->workers[c] <= (int)workers);
        if (!(flags & SHMPOOL_FLAG_CALLER_RUNS))
            assert_true(s->workers[c] < (int)workers);
        assert_int_equal(s->index_in_task[c], s->workers[c]);
    }
    assert_int_equal(shmpool_worker_index(), -1); /* outside a task */
    shmpool_free(p, s);
    shmpool_destroy(p);
}

static void test_for_with_id_gives_each_chunk_its_index_and_worker(void **state) {
    (void)state;
    check_ids(1, 0);
    check_ids(3, 0);
    check_ids(2, SHMPOOL_FLAG_CALLER_RUNS);
}

static void test_chunking_says_what_chunk_zero_picks(void **state) {
    (void)state;
    shmpool *p = make_pool(2, 0);
    size_t chunk, count;
    assert_int_equal(shmpool_chunking(p, 1000, 0, 0, &chunk, &count), 0);
    assert_int_equal(chunk, 125); /* ceil(1000 / (4 * 2)) */
    assert_int_equal(count, 8);
    assert_int_equal(shmpool_chunking(p, 1000, 0, 1, &chunk, &count), 0);
    assert_int_equal(chunk, 8); /* ceil(1000 / SHMPOOL_REDUCE_CHUNKS): no worker count in it */
    assert_int_equal(count, 125);
    assert_int_equal(shmpool_chunking(p, 5, 100, 0, &chunk, &count), 0);
    assert_int_equal(chunk, 5);
    assert_int_equal(count, 1);
    assert_int_equal(shmpool_chunking(p, 0, 0, 0, &chunk, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(shmpool_chunking(NULL, 5, 0, 0, &chunk, &count), -EINVAL);
    shmpool_destroy(p);
}

/* ---- reductions ---- */

static int sum_range(void *ctx, size_t b, size_t e, void *partial) {
    const double *x = *(double *const *)ctx;
    double s = *(double *)partial;
    for (size_t i = b; i < e; i++)
        s += x[i];
    *(double *)partial = s;
    return 0;
}

static void add_double(void *acc, const void *partial, void *ctx) {
    (void)ctx;
    *(double *)acc += *(const double *)partial;
}

/* The documented serial loop, run here: what every pool must give bit for bit. */
static double serial_reduce(const double *x, size_t n, size_t chunk) {
    double acc = 0.0;
    for (size_t b = 0; b < n; b += chunk) {
        double partial = 0.0;
        size_t e = b + chunk < n ? b + chunk : n;
        for (size_t i = b; i < e; i++)
            partial += x[i];
        acc += partial;
    }
    return acc;
}

static void test_reduce_is_bit_identical_for_1_2_and_3_workers(void **state) {
    (void)state;
    size_t n = 100003;
    double results[3][2];
    for (unsigned w = 1; w <= 3; w++) {
        shmpool *p = make_pool(w, w == 2 ? SHMPOOL_FLAG_CALLER_RUNS : 0);
        double *x = shmpool_alloc(p, n * sizeof *x);
        for (size_t i = 0; i < n; i++) /* magnitudes that make the order of sums matter */
            x[i] = (i % 3 ? 1e-3 : 1e9) * (double)(i % 17) + 1.0 / (double)(i + 1);
        for (int k = 0; k < 2; k++) {
            size_t chunk = k ? 1000 : 0;
            double acc = 0.0;
            assert_int_equal(shmpool_reduce(p, sum_range, add_double, &x, sizeof x, n, chunk, &acc,
                                            sizeof acc),
                             0);
            size_t used;
            shmpool_chunking(p, n, chunk, 1, &used, NULL);
            assert_true(acc == serial_reduce(x, n, used));
            results[w - 1][k] = acc;
        }
        shmpool_free(p, x);
        shmpool_destroy(p);
    }
    for (int k = 0; k < 2; k++) {
        assert_memory_equal(&results[0][k], &results[1][k], sizeof(double));
        assert_memory_equal(&results[0][k], &results[2][k], sizeof(double));
    }
}

struct minmax {
    double min, max;
    long hist[4];
};

static int minmax_range(void *ctx, size_t b, size_t e, void *partial) {
    const double *x = *(double *const *)ctx;
    struct minmax *m = partial;
    for (size_t i = b; i < e; i++) {
        if (x[i] < 0)
            return -EDOM;
        m->min = x[i] < m->min ? x[i] : m->min;
        m->max = x[i] > m->max ? x[i] : m->max;
        m->hist[(size_t)x[i] % 4]++;
    }
    return 0;
}

static void merge_minmax(void *acc, const void *partial, void *ctx) {
    (void)ctx;
    struct minmax *a = acc;
    const struct minmax *m = partial;
    a->min = m->min < a->min ? m->min : a->min;
    a->max = m->max > a->max ? m->max : a->max;
    for (int k = 0; k < 4; k++)
        a->hist[k] += m->hist[k];
}

static void test_reduce_of_a_struct_and_its_failing_item(void **state) {
    (void)state;
    shmpool *p = make_pool(2, 0);
    size_t n = 1000;
    double *x = shmpool_alloc(p, n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (double)((i * 7) % 1000);
    struct minmax acc = {.min = 1e300, .max = -1e300};
    assert_int_equal(shmpool_reduce(p, minmax_range, merge_minmax, &x, sizeof x, n, 0, &acc,
                                    sizeof acc),
                     0);
    assert_true(acc.min == 0.0 && acc.max == 999.0);
    assert_int_equal(acc.hist[0] + acc.hist[1] + acc.hist[2] + acc.hist[3], 1000);
    assert_int_equal(acc.hist[1], 250);
    x[600] = -1; /* a failing item: the call says so and leaves acc as it was */
    struct minmax before = acc;
    assert_int_equal(shmpool_reduce(p, minmax_range, merge_minmax, &x, sizeof x, n, 0, &acc,
                                    sizeof acc),
                     -EDOM);
    assert_memory_equal(&acc, &before, sizeof acc);
    assert_int_equal(shmpool_reduce(p, NULL, merge_minmax, &x, sizeof x, n, 0, &acc, sizeof acc),
                     -EINVAL);
    assert_int_equal(shmpool_reduce(p, minmax_range, NULL, &x, sizeof x, n, 0, &acc, sizeof acc),
                     -EINVAL);
    assert_int_equal(shmpool_reduce(p, minmax_range, merge_minmax, &x, sizeof x, n, 0, NULL, 8),
                     -EINVAL);
    assert_int_equal(shmpool_reduce(p, minmax_range, merge_minmax, &x, sizeof x, n, 0, &acc, 0),
                     -EINVAL);
    assert_int_equal(shmpool_reduce(p, minmax_range, merge_minmax, &x, sizeof x, 0, 0, &acc,
                                    sizeof acc),
                     0);
    shmpool_free(p, x);
    shmpool_destroy(p);
}

/* ---- per-worker random streams ---- */

static int draw(void *ctx, size_t b, size_t e, const shmpool_chunk_id *id) {
    uint64_t *first = *(uint64_t **)ctx;
    /* a stream per chunk, seeded from its index: the same numbers for any number of workers */
    uint64_t s = 0x9e3779b97f4a7c15u * (id->index + 1);
    for (size_t i = b; i < e; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        first[i] = s;
    }
    return 0;
}

static void test_chunk_seeded_random_streams_do_not_depend_on_workers(void **state) {
    (void)state;
    uint64_t a[300], b[300];
    for (unsigned w = 1; w <= 3; w += 2) {
        shmpool *p = make_pool(w, 0);
        uint64_t *out = shmpool_alloc(p, sizeof a);
        assert_int_equal(shmpool_for_with_id(p, draw, &out, sizeof out, 300, 10), 0);
        memcpy(w == 1 ? a : b, out, sizeof a);
        shmpool_free(p, out);
        shmpool_destroy(p);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_true(a[0] != a[10]); /* the chunks draw different streams */
}

/* ---- the calling thread runs chunks ---- */

static void test_caller_runs_gives_the_same_results_and_failing_index(void **state) {
    (void)state;
    shmpool *p = make_pool(2, SHMPOOL_FLAG_CALLER_RUNS);
    size_t n = 20000;
    double *x = shmpool_alloc(p, n * sizeof *x), *y = shmpool_alloc(p, n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        x[i] = (double)i, y[i] = 0;
    struct axpy c = {.a = 2.0, .x = x, .y = y};
    for (int rep = 0; rep < 50; rep++)
        assert_int_equal(shmpool_for_ctx(p, axpy_range, &c, sizeof c, n, 100), 0);
    for (size_t i = 0; i < n; i++)
        assert_true(y[i] == 100.0 * (double)i);
    x[12345] = -1;
    struct minmax acc = {.min = 1e300, .max = -1e300};
    assert_int_equal(shmpool_reduce(p, minmax_range, merge_minmax, &x, sizeof x, n, 10, &acc,
                                    sizeof acc),
                     -EDOM);
    shmpool_free(p, x);
    shmpool_free(p, y);
    shmpool_destroy(p);
}

/* ---- worker output ---- */

static int print_item(const void *in, void *out, void *ctx) {
    (void)out, (void)ctx;
    printf("item %d\n", *(const int *)in);
    return 0;
}

static int print_then_destroy(void) {
    char path[] = "/tmp/shmpool-test-outXXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
        return 2;
    close(fd);
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET, .max_tasks_per_worker = 3};
    shmpool *p;
    if (shmpool_create(&p, &o))
        return 3;
    int in[40];
    for (int i = 0; i < 40; i++)
        in[i] = i;
    if (shmpool_map(p, print_item, NULL, in, sizeof in[0], NULL, 0, 40, 1))
        return 4;
    shmpool_destroy(p); /* not joined: the workers are ended, their output must be out already */
    fflush(stdout);
    FILE *f = fopen(path, "re");
    unlink(path);
    if (!f)
        return 5;
    int seen[40] = {0}, v, lines = 0;
    while (fscanf(f, "item %d\n", &v) == 1 && v >= 0 && v < 40)
        seen[v]++, lines++;
    fclose(f);
    for (int i = 0; i < 40; i++)
        if (seen[i] != 1)
            return 10;
    return lines == 40 ? 0 : 11;
}

static void test_worker_stdout_is_all_in_the_file_after_destroy(void **state) {
    (void)state;
    for (int run = 0; run < 5; run++)
        assert_child_passed(run_in_child(print_then_destroy, NULL));
}

/* ---- staging ---- */

static int twice(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(double *)out = 2 * *(const double *)in;
    return 0;
}

static void test_staged_maps_reuse_their_blocks(void **state) {
    (void)state;
    shmpool *p = make_pool(2, 0);
    size_t n = 1 << 16;
    double *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        in[i] = (double)i;
    assert_int_equal(shmpool_map(p, twice, NULL, in, sizeof *in, out, sizeof *out, n, 0), 0);
    int segments = shm_segments_of(getpid());
    for (int rep = 0; rep < 20; rep++) {
        in[rep] = -1.0 * rep;
        assert_int_equal(shmpool_map(p, twice, NULL, in, sizeof *in, out, sizeof *out, n, 0), 0);
        assert_true(out[rep] == -2.0 * rep);
        assert_true(out[n - 1] == 2.0 * (double)(n - 1));
    }
    assert_true(shm_segments_of(getpid()) <= segments); /* no new segment per call */
    free(in);
    free(out);
    shmpool_destroy(p);
}

static void test_worker_threads_option_is_checked(void **state) {
    (void)state;
    shmpool *p = NULL;
    shmpool_options o = {.workers = 1, .worker_threads = 100000};
    assert_int_equal(shmpool_create(&p, &o), -EINVAL);
    o.worker_threads = 0;
    o.reserved_u_ = 1;
    assert_int_equal(shmpool_create(&p, &o), -EINVAL);
    o.reserved_u_ = 0;
    o.worker_threads = 2;
    assert_int_equal(shmpool_create(&p, &o), 0);
    shmpool_destroy(p);
}

int main(void) {
    struct resources before;
    resources_snapshot(&before);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_for_ctx_reads_a_stack_ctx_filled_after_create),
        cmocka_unit_test(test_map_ctx_copies_a_big_heap_ctx_made_after_create),
        cmocka_unit_test(test_apply_and_starmap_ctx_take_ctx_by_value),
        cmocka_unit_test(test_ctx_by_value_holding_a_pointer_to_a_local_fails_estale),
        cmocka_unit_test(test_ctx_calls_refuse_bad_ctx_arguments),
        cmocka_unit_test(test_stack_ctx_filled_after_create_fails_estale_not_wrong_results),
        cmocka_unit_test(test_global_ctx_set_after_create_fails_estale),
        cmocka_unit_test(test_heap_ctx_made_after_create_fails_estale_at_submission),
        cmocka_unit_test(test_ctx_in_shmpool_memory_or_unchanged_or_an_integer_is_fine),
        cmocka_unit_test(test_an_integer_passed_as_ctx_is_passed_as_is),
        cmocka_unit_test(test_no_ctx_check_flag_turns_the_check_off),
        cmocka_unit_test(test_for_with_id_gives_each_chunk_its_index_and_worker),
        cmocka_unit_test(test_chunking_says_what_chunk_zero_picks),
        cmocka_unit_test(test_reduce_is_bit_identical_for_1_2_and_3_workers),
        cmocka_unit_test(test_reduce_of_a_struct_and_its_failing_item),
        cmocka_unit_test(test_chunk_seeded_random_streams_do_not_depend_on_workers),
        cmocka_unit_test(test_caller_runs_gives_the_same_results_and_failing_index),
        cmocka_unit_test(test_worker_stdout_is_all_in_the_file_after_destroy),
        cmocka_unit_test(test_staged_maps_reuse_their_blocks),
        cmocka_unit_test(test_worker_threads_option_is_checked),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!resources_same_but_mappings(&before))
        failed++;
    return test_exit_code(failed);
}
