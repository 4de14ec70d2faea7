/* libshmpool_mpi: one pool over the ranks of MPI_COMM_WORLD. Run under mpirun (any number of
 * ranks; CI runs 2 and 3, with the default transports and with TCP only): every rank runs the same
 * tests in the same order, since the calls under test are collective.
 *
 *     mpirun -np 2 test-mpi                  the cmocka tests
 *     mpirun -np 2 test-mpi --kill-rank      rank 1 dies mid-job (test/mpi-kill-rank.sh checks)
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
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
#include "shmpool_mpi.h"

static int rank, nranks;
static shmpool *pool;       /* made after MPI_Init by shmpool_mpi_create, 2 workers per rank */
static shmpool *early_pool; /* made before MPI_Init, attached later */

static void sleep_us(long us) {
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* ---- kernels ---------------------------------------------------------------------------------- */
static int twice(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int64_t *)out = 2 * *(const int64_t *)in;
    return 0;
}

static int square_of_sum(const void *const args[], void *out, void *ctx) {
    (void)ctx;
    double s = *(const double *)args[0] + *(const double *)args[1];
    *(double *)out = s * s;
    return 0;
}

struct count_ctx {
    uint32_t *hits; /* shmpool memory: one counter per index */
};
static int count_range(void *ctx, size_t b, size_t e) {
    struct count_ctx *c = ctx;
    for (size_t i = b; i < e; i++)
        __atomic_add_fetch(&c->hits[i], 1, __ATOMIC_RELAXED);
    return 0;
}

struct partial_ctx {
    const double *x;
    double *partial; /* one per chunk */
    size_t chunk;
};
static int partial_sums(void *ctx, size_t b, size_t e) {
    struct partial_ctx *c = ctx;
    double s = 0;
    for (size_t i = b; i < e; i++)
        s += c->x[i];
    c->partial[b / c->chunk] = s;
    return 0;
}

struct slow_ctx {
    long us;
};
static int slow_range(void *ctx, size_t b, size_t e) {
    (void)b, (void)e;
    sleep_us(((struct slow_ctx *)ctx)->us);
    return 0;
}

static int fail_at(const void *in, void *out, void *ctx) {
    (void)ctx;
    int64_t v = *(const int64_t *)in;
    *(int64_t *)out = v;
    return v == 500 || v == 700 ? -EDOM : 0;
}

static int die_at_123(const void *in, void *out, void *ctx) {
    (void)ctx;
    (void)out;
    if (*(const int64_t *)in == 123)
        raise(SIGKILL);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------------ */

/* A pool created before MPI_Init joins the communicator and runs collective jobs. */
static void test_attach_pool_created_before_mpi_init(void **state) {
    (void)state;
    assert_int_equal(shmpool_mpi_attach(early_pool, MPI_COMM_WORLD), 0);
    assert_int_equal(shmpool_mpi_attach(early_pool, MPI_COMM_WORLD), -EBUSY);
    int r, s;
    assert_int_equal(shmpool_mpi_rank(early_pool, &r, &s), 0);
    assert_int_equal(r, rank);
    assert_int_equal(s, nranks);
    enum { N = 1000 };
    int64_t *in = shmpool_alloc(early_pool, N * sizeof *in), out[N];
    assert_non_null(in);
    for (int i = 0; i < N; i++)
        in[i] = i, out[i] = -1;
    assert_int_equal(shmpool_map(early_pool, twice, NULL, in, sizeof *in, out, sizeof *out, N, 7), 0);
    assert_int_equal(shmpool_mpi_gather(early_pool, out, sizeof *out, 0, SHMPOOL_MPI_ALL), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(out[i], 2 * i);
    shmpool_destroy(early_pool); /* collective */
    early_pool = NULL;
}

/* map: every item computed exactly once somewhere; gathered on one rank, then on all. */
static void test_map_equals_single_machine_pool(void **state) {
    (void)state;
    enum { N = 10007 };
    int64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    for (int i = 0; i < N; i++)
        in[i] = i * 3 + rank * 0, out[i] = -1; /* every rank has the same input */
    assert_int_equal(shmpool_map(pool, twice, NULL, in, sizeof *in, out, sizeof *out, N, 0), 0);
    long nchunks = shmpool_mpi_owners(pool, NULL, 0);
    assert_true(nchunks > 0);
    int *owner = malloc((size_t)nchunks * sizeof *owner);
    for (long c = 0; c < nchunks; c++)
        owner[c] = -1;
    assert_int_equal(shmpool_mpi_owners(pool, owner, (size_t)nchunks), nchunks);
    size_t chunk = (N + (size_t)nchunks - 1) / (size_t)nchunks;
    for (long c = 0; c < nchunks; c++) {
        assert_true(owner[c] >= 0 && owner[c] < nranks);
        /* this rank's out holds exactly the chunks it ran */
        for (size_t i = (size_t)c * chunk; i < N && i < (size_t)(c + 1) * chunk; i++)
            assert_int_equal(out[i], owner[c] == rank ? 2 * in[i] : -1);
    }
    assert_int_equal(shmpool_mpi_gather(pool, out, sizeof *out, 0, 0), 0);
    for (int i = 0; rank == 0 && i < N; i++)
        assert_int_equal(out[i], 2 * in[i]);
    assert_int_equal(shmpool_mpi_gather(pool, out, sizeof *out, 0, SHMPOOL_MPI_ALL), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(out[i], 2 * in[i]);
    free(owner);
    free(in);
    free(out);
}

static void test_starmap_equals_single_machine_pool(void **state) {
    (void)state;
    enum { N = 100000 };
    double *x = shmpool_alloc(pool, N * sizeof *x), *y = shmpool_alloc(pool, N * sizeof *y);
    double *out = shmpool_alloc(pool, N * sizeof *out);
    assert_non_null(out);
    for (int i = 0; i < N; i++)
        x[i] = i * 0.5, y[i] = 1.0 / (i + 1);
    const void *cols[2] = {x, y};
    size_t sizes[2] = {sizeof *x, sizeof *y};
    assert_int_equal(shmpool_starmap(pool, square_of_sum, NULL, 2, cols, sizes, out, sizeof *out,
                                     N, 0), 0);
    assert_int_equal(shmpool_mpi_gather(pool, out, sizeof *out, 0, SHMPOOL_MPI_ALL), 0);
    for (int i = 0; i < N; i++) {
        double s = x[i] + y[i];
        assert_memory_equal(&out[i], &(double){s * s}, sizeof(double));
    }
    shmpool_free(pool, x);
    shmpool_free(pool, y);
    shmpool_free(pool, out);
}

/* for: each index runs exactly once over all ranks (hits summed over ranks is 1 everywhere). */
static void test_for_runs_each_index_exactly_once(void **state) {
    (void)state;
    enum { N = 50000 };
    struct count_ctx *c = shmpool_alloc(pool, sizeof *c);
    c->hits = shmpool_alloc(pool, N * sizeof *c->hits);
    for (int round = 0; round < 3; round++) { /* the counter carries on from job to job */
        memset(c->hits, 0, N * sizeof *c->hits);
        assert_int_equal(shmpool_for(pool, count_range, c, N, round == 0 ? 1 : 97), 0);
        uint32_t *sum = malloc(N * sizeof *sum);
        MPI_Allreduce(c->hits, sum, N, MPI_UINT32_T, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < N; i++)
            assert_int_equal(sum[i], 1);
        free(sum);
    }
    shmpool_free(pool, c->hits);
    shmpool_free(pool, c);
}

/* The sum of per-chunk partials is the serial sum in chunk order, bit for bit, on 1, 2, 3 ranks
   and whatever the schedule (run three times, schedules differ). */
static void test_sum_is_bit_identical_to_serial(void **state) {
    (void)state;
    enum { N = 200003, CHUNK = 1000 };
    size_t nchunks = (N + CHUNK - 1) / CHUNK;
    struct partial_ctx *c = shmpool_alloc(pool, sizeof *c);
    double *x = shmpool_alloc(pool, N * sizeof *x);
    c->x = x;
    c->partial = shmpool_alloc(pool, nchunks * sizeof(double));
    c->chunk = CHUNK;
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) { /* magnitudes from 1e-8 to 1e8: order matters in the last bits */
        s = s * 6364136223846793005u + 1442695040888963407u;
        x[i] = (double)(s >> 11) * 0x1p-53 * ((s >> 3) % 3 == 0 ? 1e8 : 1e-8);
    }
    double serial = 0;
    for (size_t k = 0; k < nchunks; k++) {
        double p = 0;
        for (size_t i = k * CHUNK; i < N && i < (k + 1) * CHUNK; i++)
            p += x[i];
        serial += p;
    }
    for (int round = 0; round < 3; round++) {
        memset(c->partial, 0, nchunks * sizeof(double));
        assert_int_equal(shmpool_for(pool, partial_sums, c, N, CHUNK), 0);
        double total = -1;
        assert_int_equal(shmpool_mpi_sum(pool, c->partial, &total), 0);
        assert_memory_equal(&total, &serial, sizeof total);
    }
    shmpool_free(pool, c->partial);
    shmpool_free(pool, x);
    shmpool_free(pool, c);
}

static int sum_into(void *ctx, size_t b, size_t e, void *partial) {
    const double *x = *(double *const *)ctx;
    double p = *(double *)partial;
    for (size_t i = b; i < e; i++)
        p += x[i];
    *(double *)partial = p;
    return 0;
}

static void add_partial(void *acc, const void *partial, void *ctx) {
    (void)ctx;
    *(double *)acc += *(const double *)partial;
}

/* shmpool_reduce over the ranks: every rank gets the serial loop's sum, bit for bit, whatever
   rank ran which chunk (the chunks go to ranks as they claim them). */
static void test_reduce_over_ranks_is_bit_identical_to_serial(void **state) {
    (void)state;
    enum { N = 200003, CHUNK = 1000 };
    double *x = shmpool_alloc(pool, N * sizeof *x);
    uint64_t s = 777;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        x[i] = (double)(s >> 11) * 0x1p-53 * ((s >> 3) % 3 == 0 ? 1e8 : 1e-8);
    }
    double serial = 0;
    for (size_t b = 0; b < N; b += CHUNK) {
        double p = 0;
        for (size_t i = b; i < N && i < b + CHUNK; i++)
            p += x[i];
        serial += p;
    }
    for (int round = 0; round < 3; round++) {
        double total = 0;
        assert_int_equal(shmpool_reduce(pool, sum_into, add_partial, &x, sizeof x, N,
                                        round ? CHUNK : 0, &total, sizeof total),
                         0);
        if (round)
            assert_memory_equal(&total, &serial, sizeof total);
        double all_max = 0, all_min = 0; /* and the same on every rank */
        MPI_Allreduce(&total, &all_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&total, &all_min, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
        assert_memory_equal(&all_max, &all_min, sizeof total);
    }
    shmpool_free(pool, x);
}

/* A rank whose items are 20 times slower does not hold the others back: it runs far fewer chunks. */
static void test_slow_rank_runs_fewer_chunks(void **state) {
    (void)state;
    enum { N = 240 };
    struct slow_ctx *c = shmpool_alloc(pool, sizeof *c);
    c->us = rank == nranks - 1 ? 20000 : 1000;
    assert_int_equal(shmpool_for(pool, slow_range, c, N, 1), 0);
    int owner[N];
    assert_int_equal(shmpool_mpi_owners(pool, owner, N), N);
    int slow = 0;
    for (int i = 0; i < N; i++)
        slow += owner[i] == nranks - 1;
    if (rank == 0)
        printf("# slow rank ran %d of %d chunks (a fair share would be %d)\n", slow, N, N / nranks);
    assert_true(slow < N / nranks / 2); /* an even split would give it N / nranks */
    shmpool_free(pool, c);
}

/* A failing item fails the job on every rank with the lowest failing item's code, and the rank and
   host where it ran are known. */
static void test_failing_item_names_rank_and_host(void **state) {
    (void)state;
    enum { N = 1000 };
    int64_t *in = shmpool_alloc(pool, N * sizeof *in), *out = shmpool_alloc(pool, N * sizeof *out);
    for (int i = 0; i < N; i++)
        in[i] = i;
    assert_int_equal(shmpool_map(pool, fail_at, NULL, in, sizeof *in, out, sizeof *out, N, 10),
                     -EDOM);
    int where = -2;
    size_t item = 0;
    assert_int_equal(shmpool_mpi_last_error(pool, &where, &item), -EDOM);
    assert_true(where >= 0 && where < nranks);
    /* 500 failed unless the job stopped before chunk 50 was handed out, after 700 failed */
    assert_true(item == 500 || item == 700);
    const char *msg = shmpool_mpi_strerror(pool, -EDOM);
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    assert_non_null(strstr(msg, "rank"));
    assert_non_null(strstr(msg, host));
    /* the pool goes on */
    assert_int_equal(shmpool_map(pool, twice, NULL, in, sizeof *in, out, sizeof *out, N, 10), 0);
    assert_int_equal(shmpool_mpi_last_error(pool, &where, &item), 0);
    assert_int_equal(where, -1);
    shmpool_free(pool, in);
    shmpool_free(pool, out);
}

/* A worker killed mid-item is handled inside its rank, as the core does: the job fails with
   SHMPOOL_EKILLED(SIGKILL) at that item on every rank, and the pool keeps working. */
static void test_killed_worker_fails_job_on_every_rank(void **state) {
    (void)state;
    enum { N = 400 };
    int64_t *in = shmpool_alloc(pool, N * sizeof *in);
    for (int i = 0; i < N; i++)
        in[i] = i;
    assert_int_equal(shmpool_map(pool, die_at_123, NULL, in, sizeof *in, NULL, 0, N, 5),
                     SHMPOOL_EKILLED(SIGKILL));
    size_t item = 0;
    assert_int_equal(shmpool_mpi_last_error(pool, NULL, &item), SHMPOOL_EKILLED(SIGKILL));
    assert_int_equal(item, 123);
    int64_t *out = shmpool_alloc(pool, N * sizeof *out);
    assert_int_equal(shmpool_map(pool, twice, NULL, in, sizeof *in, out, sizeof *out, N, 5), 0);
    shmpool_free(pool, in);
    shmpool_free(pool, out);
}

/* Ranks that disagree on n get SHMPOOL_EMISMATCH on every rank, and the pool goes on. */
static void test_ranks_disagreeing_on_n_get_emismatch(void **state) {
    (void)state;
    struct count_ctx *c = shmpool_alloc(pool, sizeof *c);
    c->hits = shmpool_alloc(pool, 200 * sizeof *c->hits);
    assert_int_equal(shmpool_for(pool, count_range, c, rank == 0 ? 100 : 200, 10),
                     SHMPOOL_EMISMATCH);
    assert_int_equal(shmpool_for(pool, count_range, c, 200, 10), 0);
    shmpool_free(pool, c->hits);
    shmpool_free(pool, c);
}

/* A bad argument on one rank fails the call on every rank (none hangs in the collective). */
static void test_bad_argument_on_one_rank_fails_everywhere(void **state) {
    (void)state;
    int64_t in[16] = {0}, out[16];
    assert_int_equal(shmpool_map(pool, rank == nranks - 1 ? NULL : twice, NULL, in, sizeof *in,
                                 out, sizeof *out, 16, 1), -EINVAL);
    assert_int_equal(shmpool_mpi_last_error(pool, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_mpi_gather(pool, out, 0, 0, 0), -EINVAL);
    assert_int_equal(shmpool_mpi_gather(pool, out, sizeof *out, 0, nranks), -EINVAL);
    assert_int_equal(shmpool_mpi_gather(NULL, out, sizeof *out, 0, 0), -EINVAL);
}

/* The same with the automatic chunk: still the argument's error, not a disagreement on the chunk;
   and a NULL buffer or sum on one rank only fails gather and sum everywhere. */
static void test_bad_argument_with_automatic_chunk_and_in_gather_fails_everywhere(void **state) {
    (void)state;
    int64_t in[64] = {0}, out[64];
    assert_int_equal(shmpool_map(pool, rank == 0 ? NULL : twice, NULL, in, sizeof *in, out,
                                 sizeof *out, 64, 0), -EINVAL);
    assert_int_equal(shmpool_map(pool, twice, NULL, in, sizeof *in, out, sizeof *out, 64, 0), 0);
    assert_int_equal(shmpool_mpi_gather(pool, rank == nranks - 1 ? NULL : out, sizeof *out, 0,
                                        SHMPOOL_MPI_ALL), -EINVAL);
    double partial[64] = {0}, sum = 0;
    assert_int_equal(shmpool_mpi_sum(pool, partial, rank == 0 ? NULL : &sum), -EINVAL);
    shmpool_array a;
    assert_int_equal(shmpool_mpi_array_load(pool, rank == 0 ? NULL : "/nonexistent", &a, NULL),
                     -EINVAL);
}

static int fail_first(void *ctx, size_t b, size_t e) {
    (void)ctx, (void)e;
    return b == 0 ? -EDOM : 0;
}

/* A range so long that the shared counter could wrap is refused on every rank, as the core
   refuses more than 2^62 chunks; a long one that stops at its first chunk ends at once. */
static void test_a_range_too_long_for_the_counter_is_eoverflow(void **state) {
    (void)state;
    assert_int_equal(shmpool_for(pool, fail_first, NULL, SIZE_MAX, 1), -EOVERFLOW);
    assert_int_equal(shmpool_for(pool, fail_first, NULL, (size_t)1 << 40, 1), -EDOM);
    assert_int_equal(shmpool_for(pool, count_range, &(struct count_ctx){0}, 0, 0), 0);
}

/* apply and the _async calls are not collective: each rank runs them on its own workers. */
static void test_apply_and_async_are_local(void **state) {
    (void)state;
    int64_t a = 21 + rank, b = 0;
    assert_int_equal(shmpool_apply(pool, twice, NULL, &a, sizeof a, &b, sizeof b), 0);
    assert_int_equal(b, 2 * a);
    if (rank == nranks - 1) { /* only one rank: would hang if it were collective */
        int64_t in[100], out[100];
        for (int i = 0; i < 100; i++)
            in[i] = i;
        shmpool_result *r;
        assert_int_equal(shmpool_map_async(pool, twice, NULL, in, sizeof *in, out, sizeof *out,
                                           100, 0, &r), 0);
        assert_int_equal(shmpool_result_get(r, -1), 0);
        shmpool_result_free(r);
        for (int i = 0; i < 100; i++)
            assert_int_equal(out[i], 2 * i);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* .npy: the whole array on every rank, or each rank its share of the rows. */
static void test_array_load_whole_and_by_rows(void **state) {
    (void)state;
    char path[256];
    int tag = 0;
    if (rank == 0)
        tag = (int)getpid();
    MPI_Bcast(&tag, 1, MPI_INT, 0, MPI_COMM_WORLD);
    snprintf(path, sizeof path, "/tmp/shmpool-test-mpi-%d.npy", tag);
    enum { ROWS = 1001, COLS = 3 };
    if (rank == 0) {
        shmpool_array a = {.dtype = SHMPOOL_I8, .ndim = 2, .shape = {ROWS, COLS},
                           .count = ROWS * COLS, .nbytes = ROWS * COLS * 8};
        int64_t *d = malloc(a.nbytes);
        for (int i = 0; i < ROWS * COLS; i++)
            d[i] = i;
        a.data = d;
        assert_int_equal(shmpool_array_save(NULL, path, &a), 0);
        free(d);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    shmpool_array whole, part;
    assert_int_equal(shmpool_mpi_array_load(pool, path, &whole, NULL), 0);
    assert_int_equal(whole.count, ROWS * COLS);
    for (int i = 0; i < ROWS * COLS; i++)
        assert_int_equal(((int64_t *)whole.data)[i], i);
    size_t first = 99;
    assert_int_equal(shmpool_mpi_array_load(pool, path, &part, &first), 0);
    assert_int_equal(part.ndim, 2);
    assert_int_equal(part.shape[1], COLS);
    for (size_t i = 0; i < part.count; i++)
        assert_int_equal(((int64_t *)part.data)[i], (int64_t)(first * COLS + i));
    /* the shares tile the rows: contiguous, in rank order, none missing */
    unsigned long mine[2] = {first, part.shape[0]}, all[2 * 16];
    assert_true(nranks <= 16);
    MPI_Allgather(mine, 2, MPI_UNSIGNED_LONG, all, 2, MPI_UNSIGNED_LONG, MPI_COMM_WORLD);
    unsigned long next = 0;
    for (int r = 0; r < nranks; r++) {
        assert_int_equal(all[2 * r], next);
        next += all[2 * r + 1];
    }
    assert_int_equal(next, ROWS);
    shmpool_array_free(pool, &whole);
    shmpool_array_free(pool, &part);
    /* a missing file fails on every rank, with nothing loaded */
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        unlink(path);
    MPI_Barrier(MPI_COMM_WORLD);
    assert_int_equal(shmpool_mpi_array_load(pool, path, &whole, NULL), -ENOENT);
    assert_null(whole.data);
}

/* ---- a file streamed over the ranks by rows ------------------------------------------------- */
static int squares(void *ctx, const void *rows, size_t begin, size_t end, void *partial) {
    (void)ctx;
    const double *x = rows;
    double s = 0;
    for (size_t i = 0; i < end - begin; i++)
        s += x[i] * x[i];
    *(double *)partial = s;
    return 0;
}
static int squares_fail_at_54321(void *ctx, const void *rows, size_t begin, size_t end,
                                 void *partial) {
    return begin <= 54321 && 54321 < end ? -EDOM : squares(ctx, rows, begin, end, partial);
}
static void add_double(void *acc, const void *partial, void *ctx) {
    (void)ctx;
    *(double *)acc += *(const double *)partial;
}

static void test_a_streamed_file_gives_the_serial_sum_on_every_rank(void **state) {
    (void)state;
    char path[256];
    int tag = rank == 0 ? (int)getpid() : 0;
    MPI_Bcast(&tag, 1, MPI_INT, 0, MPI_COMM_WORLD);
    snprintf(path, sizeof path, "/tmp/shmpool-test-mpi-stream-%d.npy", tag);
    enum { N = 100003, CHUNK = 1000 };
    if (rank == 0) {
        shmpool_array a = {.dtype = SHMPOOL_F8, .ndim = 1, .shape = {N}, .count = N,
                           .nbytes = N * 8};
        double *x = malloc(a.nbytes);
        for (int i = 0; i < N; i++)
            x[i] = i * 0.5 + 1;
        a.data = x;
        assert_int_equal(shmpool_array_save(NULL, path, &a), 0);
        free(x);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double want = 0; /* serially, chunk by chunk */
    for (int b = 0; b < N; b += CHUNK) {
        double s = 0;
        for (int i = b; i < N && i < b + CHUNK; i++)
            s += (i * 0.5 + 1) * (i * 0.5 + 1);
        want += s;
    }
    /* small budgets: several pieces on every rank */
    shmpool_stream_options o = {.chunk = CHUNK, .budget = 3 * 40000};
    double acc = 0, local = 0;
    size_t fail = 0;
    assert_int_equal(shmpool_mpi_stream_reduce(pool, path, squares, add_double, NULL, &acc,
                                               sizeof acc, &o, &fail), 0);
    assert_int_equal(fail, SIZE_MAX);
    assert_memory_equal(&acc, &want, sizeof acc);
    /* the plain call on the same pool streams the whole file on this rank alone */
    assert_int_equal(shmpool_stream_reduce(pool, path, squares, add_double, NULL, &local,
                                           sizeof local, &o, NULL), 0);
    assert_memory_equal(&local, &want, sizeof local);
    /* a range of rows */
    o.first_row = 5000, o.end_row = 20000;
    acc = 0;
    assert_int_equal(shmpool_mpi_stream_reduce(pool, path, squares, add_double, NULL, &acc,
                                               sizeof acc, &o, NULL), 0);
    want = 0;
    for (int b = 5000; b < 20000; b += CHUNK) {
        double s = 0;
        for (int i = b; i < b + CHUNK; i++)
            s += (i * 0.5 + 1) * (i * 0.5 + 1);
        want += s;
    }
    assert_memory_equal(&acc, &want, sizeof acc);
    /* a failing item fails every rank with its row, acc untouched */
    o.first_row = o.end_row = 0;
    acc = 7;
    assert_int_equal(shmpool_mpi_stream_reduce(pool, path, squares_fail_at_54321, add_double, NULL,
                                               &acc, sizeof acc, &o, &fail), -EDOM);
    assert_int_equal(fail, 54000);
    assert_true(acc == 7);
    /* the automatic chunk is refused (it would differ between ranks); so is a bad argument on
       one rank only, on all */
    o.chunk = 0;
    assert_int_equal(shmpool_mpi_stream_reduce(pool, path, squares, add_double, NULL, &acc,
                                               sizeof acc, &o, NULL), -EINVAL);
    o.chunk = CHUNK;
    assert_int_equal(shmpool_mpi_stream_reduce(pool, path, squares,
                                               rank == nranks - 1 ? NULL : add_double,
                                               NULL, &acc, sizeof acc, &o, NULL), -EINVAL);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        unlink(path);
    MPI_Barrier(MPI_COMM_WORLD);
    assert_int_equal(shmpool_mpi_stream_reduce(pool, path, squares, add_double, NULL, &acc,
                                               sizeof acc, &o, NULL), -ENOENT);
}

static void test_not_an_mpi_pool_is_einval(void **state) {
    (void)state;
    shmpool *local;
    shmpool_options o = {.workers = 1};
    assert_int_equal(shmpool_create(&local, &o), 0);
    assert_int_equal(shmpool_mpi_rank(local, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_mpi_total_workers(local), 0);
    assert_int_equal(shmpool_mpi_sum(local, &(double){0}, &(double){0}), -EINVAL);
    assert_int_equal(shmpool_mpi_attach(NULL, MPI_COMM_WORLD), -EINVAL);
    assert_int_equal(shmpool_mpi_create(NULL, MPI_COMM_WORLD, NULL), -EINVAL);
    shmpool_destroy(local);
}

/* ---- a rank that dies ------------------------------------------------------------------------- */
struct kill_ctx {
    pid_t victim; /* the parent of rank 1 */
};
static int kill_parent_mid_job(void *ctx, size_t b, size_t e) {
    (void)e;
    struct kill_ctx *c = ctx;
    (void)b; /* whichever chunk rank 1 gets first: the schedule decides which that is */
    if (c->victim)
        kill(c->victim, SIGKILL);
    sleep_us(2000);
    return 0;
}

static int kill_rank_mode(void) {
    shmpool_options o = {.workers = 2};
    int rc = shmpool_mpi_create(&pool, MPI_COMM_WORLD, &o);
    if (rc)
        return 1;
    printf("rank %d pid %d\n", rank, (int)getpid());
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD);
    struct kill_ctx *c = shmpool_alloc(pool, sizeof *c);
    c->victim = rank == 1 ? getpid() : 0;
    for (int round = 0; round < 1000; round++) { /* rank 1 dies in the first round */
        rc = shmpool_for(pool, kill_parent_mid_job, c, 1000, 1);
        if (rc) {
            fprintf(stderr, "test-mpi: rank %d: %s\n", rank, shmpool_mpi_strerror(pool, rc));
            shmpool_destroy(pool); /* no collective on a broken pool: returns */
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    int kill_rank = argc > 1 && strcmp(argv[1], "--kill-rank") == 0;
    shmpool_options o = {.workers = 1};
    if (!kill_rank && shmpool_create(&early_pool, &o) != 0) {
        fprintf(stderr, "test-mpi: shmpool_create before MPI_Init failed\n");
        return 1;
    }
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (kill_rank) {
        int rc = kill_rank_mode();
        MPI_Finalize();
        return rc;
    }
    o.workers = 2;
    o.flags = SHMPOOL_FLAG_QUIET;
    if (shmpool_mpi_create(&pool, MPI_COMM_WORLD, &o) != 0) {
        fprintf(stderr, "test-mpi: shmpool_mpi_create failed\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_pool_created_before_mpi_init),
        cmocka_unit_test(test_map_equals_single_machine_pool),
        cmocka_unit_test(test_starmap_equals_single_machine_pool),
        cmocka_unit_test(test_for_runs_each_index_exactly_once),
        cmocka_unit_test(test_sum_is_bit_identical_to_serial),
        cmocka_unit_test(test_reduce_over_ranks_is_bit_identical_to_serial),
        cmocka_unit_test(test_failing_item_names_rank_and_host),
        cmocka_unit_test(test_killed_worker_fails_job_on_every_rank),
        cmocka_unit_test(test_bad_argument_on_one_rank_fails_everywhere),
        cmocka_unit_test(test_bad_argument_with_automatic_chunk_and_in_gather_fails_everywhere),
        cmocka_unit_test(test_a_range_too_long_for_the_counter_is_eoverflow),
        cmocka_unit_test(test_apply_and_async_are_local),
        cmocka_unit_test(test_array_load_whole_and_by_rows),
        cmocka_unit_test(test_a_streamed_file_gives_the_serial_sum_on_every_rank),
        cmocka_unit_test(test_not_an_mpi_pool_is_einval),
        /* last: with one rank they are left out (they need two), not run and reported as passed */
        cmocka_unit_test(test_slow_rank_runs_fewer_chunks),
        cmocka_unit_test(test_ranks_disagreeing_on_n_get_emismatch),
    };
    size_t ntests = sizeof tests / sizeof tests[0] - (nranks < 2 ? 2 : 0);
    char name[32];
    snprintf(name, sizeof name, "mpi rank %d of %d", rank, nranks);
    int failed = _cmocka_run_group_tests(name, tests, ntests, NULL, NULL);
    shmpool_destroy(early_pool); /* still attached only if its test failed early */
    int any = failed, all = 0;
    MPI_Allreduce(&any, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();

    /* After MPI_Finalize the collective calls say so instead of calling MPI, and destroy ends the
       local pool only. */
    int late = 0;
    late |= shmpool_for(pool, count_range, NULL, 10, 1) != -ESHUTDOWN;
    late |= shmpool_mpi_owners(pool, NULL, 0) != -ESHUTDOWN;
    late |= shmpool_mpi_gather(pool, &late, 1, 0, 0) != -ESHUTDOWN;
    shmpool_array a;
    late |= shmpool_mpi_array_load(pool, "/nonexistent", &a, NULL) != -ESHUTDOWN;
    double acc = 0;
    shmpool_stream_options so = {.chunk = 1};
    late |= shmpool_mpi_stream_reduce(pool, "/nonexistent", squares, add_double, NULL, &acc,
                                      sizeof acc, &so, NULL) != -ESHUTDOWN;
    int64_t x = 2, y = 0; /* apply stays local and works */
    late |= shmpool_apply(pool, twice, NULL, &x, sizeof x, &y, sizeof y) != 0 || y != 4;
    if (late)
        fprintf(stderr, "test-mpi: rank %d: calls after MPI_Finalize misbehaved\n", rank);
    shmpool_destroy(pool);
    int me = getpid(), left = shm_segments_of(me) + count_descendants();
    if (left)
        fprintf(stderr, "test-mpi: rank %d left %d segments/processes behind\n", rank, left);
    return all || late || left ? 1 : 0;
}
