/* mpi_heavy: the headline demo over MPI ranks. The tutorial's heavy_function over 40 million
 * doubles in 4 chunks, as `heavy` does it, but with one shmpool per rank joined by libshmpool_mpi:
 * the chunks go to whichever rank claims them, and the total is the per-chunk sums added in chunk
 * order, so it prints the same `sum` line as `heavy` on the same data, bit for bit, whatever the
 * number of ranks.
 *
 *     mpirun -np 2 mpi_heavy                        random data from --seed, as heavy makes it
 *     mpirun -np 2 mpi_heavy --input x.npy          every rank loads the file into its shared memory
 *     mpirun -np 2 mpi_heavy --warmup 2 --repeat 5  times the collective job five times
 *     mpirun -np 2 mpi_heavy --claims 200000        the rate of cross-rank chunk claims
 *     mpirun -np 2 mpi_heavy --input x.npy --stream --chunks 500 [--budget 64M]
 *                  each rank streams its share of the file's rows through its pool
 *                  (shmpool_mpi_stream_reduce): the same sum line as heavy, any file size
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heavy_kernel.h"
#include "shmpool_mpi.h"

struct job {
    const double *x;
    size_t n, chunk_size;
    double *partial; /* one sum per chunk, written by the rank that ran it */
};

/* One task: chunk c of x through heavy_function, summed. */
static int heavy_chunk(void *ctx, size_t begin, size_t end) {
    struct job *j = ctx;
    for (size_t c = begin; c < end; c++) {
        size_t lo = c * j->chunk_size, len = j->n - lo < j->chunk_size ? j->n - lo : j->chunk_size;
        j->partial[c] = heavy_sum(j->x + lo, len);
    }
    return 0;
}

/* Read one double per page of x: a worker's first read of a page is what is slow on some VMs. */
static int touch_pages(void *ctx, size_t begin, size_t end) {
    const struct job *j = ctx;
    volatile double sink = 0;
    for (size_t i = begin; i < end; i++)
        sink += j->x[i * 512 < j->n ? i * 512 : j->n - 1];
    (void)sink;
    return 0;
}

/* --stream: one chunk of rows summed; the partials are folded in chunk order on every rank. */
static int heavy_rows(void *ctx, const void *rows, size_t begin, size_t end, void *partial) {
    (void)ctx;
    *(double *)partial = heavy_sum(rows, end - begin);
    return 0;
}
static void add_sum(void *acc, const void *partial, void *ctx) {
    (void)ctx;
    *(double *)acc += *(const double *)partial;
}

static int nothing(void *ctx, size_t begin, size_t end) {
    (void)ctx, (void)begin, (void)end;
    return 0;
}

static uint64_t splitmix64(uint64_t *s) { /* the same generator as heavy */
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f) {
    fprintf(f, "usage: mpirun -np R mpi_heavy [--n N] [--chunks C] [--workers W] [--seed S]\n"
               "                [--input FILE.npy] [--repeat K] [--claims M]\n"
               "  --n, --chunks, --seed, --input  as heavy (defaults 40000000, 4, 1)\n"
               "  --workers W  workers per rank (default: the rank's usable cores)\n"
               "  --repeat K   run the job K times; print each compute time and the median\n"
               "  --warmup U   first read every page of x on this rank's workers, then run the\n"
               "               job U times untimed (a process's first read of a page is slow on\n"
               "               some VMs, ~10 us, even with its page tables populated)\n"
               "  --claims M   instead: an empty shmpool_for over M chunks of one item, to measure\n"
               "               cross-rank claims (chunks/s and claims/s)\n"
               "  --stream     with --input: each rank streams its share of the rows instead of\n"
               "               loading the file; --budget B (bytes, suffix K/M/G) per rank\n");
}

int main(int argc, char **argv) {
    size_t n = 40000000, nchunks_req = 4, claims_chunks = 0;
    unsigned workers = 0, repeat = 1, warmup = 0;
    uint64_t seed = 1;
    const char *input = NULL;
    int stream = 0;
    size_t budget = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (v && !strcmp(a, "--n")) {
            n = strtoull(v, NULL, 0), i++;
        } else if (v && !strcmp(a, "--chunks")) {
            nchunks_req = strtoull(v, NULL, 0), i++;
        } else if (v && !strcmp(a, "--workers")) {
            workers = (unsigned)strtoul(v, NULL, 0), i++;
        } else if (v && !strcmp(a, "--seed")) {
            seed = strtoull(v, NULL, 0), i++;
        } else if (v && !strcmp(a, "--input")) {
            input = v, i++;
        } else if (v && !strcmp(a, "--repeat")) {
            repeat = (unsigned)strtoul(v, NULL, 0), i++;
        } else if (v && !strcmp(a, "--warmup")) {
            warmup = (unsigned)strtoul(v, NULL, 0), i++;
        } else if (!strcmp(a, "--stream")) {
            stream = 1;
        } else if (v && !strcmp(a, "--budget")) {
            char *e;
            budget = strtoull(v, &e, 0), i++;
            budget <<= *e == 'G' ? 30 : *e == 'M' ? 20 : *e == 'K' ? 10 : 0;
        } else if (v && !strcmp(a, "--claims")) {
            claims_chunks = strtoull(v, NULL, 0), i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (nchunks_req == 0 || repeat == 0 || (!input && n == 0) || (stream && !input)) {
        usage(stderr);
        return 2;
    }

    MPI_Init(&argc, &argv);
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    double t0 = MPI_Wtime();
    shmpool *pool;
    shmpool_options opt = {.workers = workers};
    int rc = shmpool_mpi_create(&pool, MPI_COMM_WORLD, &opt);
    if (rc) {
        fprintf(stderr, "mpi_heavy: rank %d: shmpool_mpi_create: %s\n", rank, shmpool_strerror(rc));
        MPI_Finalize();
        return 1;
    }
    double t_create = MPI_Wtime() - t0;
    int status = 1;

    if (claims_chunks) { /* no data: only the scheduling */
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        rc = shmpool_for(pool, nothing, NULL, claims_chunks, 1);
        double t = MPI_Wtime() - t0;
        unsigned long mine = shmpool_mpi_last_claims(pool), all = 0;
        MPI_Reduce(&mine, &all, 1, MPI_UNSIGNED_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rc)
            fprintf(stderr, "mpi_heavy: %s\n", shmpool_mpi_strerror(pool, rc));
        else if (rank == 0)
            printf("claims: %d ranks x %u workers, %zu chunks in %.4f s: %.3g chunks/s, %lu claims"
                   " (%.3g claims/s)\n",
                   nranks, shmpool_workers(pool), claims_chunks, t, (double)claims_chunks / t,
                   all, (double)all / t);
        status = rc ? 1 : 0;
        goto out;
    }

    if (stream) { /* the file is never loaded: each rank streams its share */
        shmpool_array head;
        rc = shmpool_array_stat(input, &head);
        if (!rc && (head.dtype != SHMPOOL_F8 || head.ndim != 1 || head.count == 0))
            rc = -ENOTSUP;
        n = rc ? 1 : head.count; /* on error: chunk 1, and every rank fails the call below */
        size_t chunk_size = (n + nchunks_req - 1) / nchunks_req;
        shmpool_stream_options so = {.budget = budget, .chunk = chunk_size};
        double total = 0;
        size_t fail;
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        rc = shmpool_mpi_stream_reduce(pool, rc ? "" : input, heavy_rows, add_sum, NULL, &total,
                                       sizeof total, &so, &fail);
        double t = MPI_Wtime() - t0;
        if (rc) {
            if (rank == 0)
                fprintf(stderr, "mpi_heavy: streaming %s: %s\n", input, shmpool_strerror(rc));
        } else if (rank == 0) {
            printf("mpi_heavy: %zu doubles (%s, streamed, %d ranks x %u workers, budget %zu) in"
                   " chunks of %zu; kernel %s\n",
                   n, input, nranks, shmpool_workers(pool), budget, chunk_size, heavy_sum_clone());
            printf("stream: %.4f s\n", t);
            printf("sum %.17g\n", total);
        }
        status = rc ? 1 : 0;
        goto out;
    }

    t0 = MPI_Wtime();
    shmpool_array arr = {0};
    double *x;
    if (input) {
        rc = shmpool_mpi_array_load(pool, input, &arr, NULL);
        if (rc) {
            fprintf(stderr, "mpi_heavy: rank %d: %s: %s\n", rank, input, shmpool_strerror(rc));
            goto out;
        }
        if (arr.dtype != SHMPOOL_F8 || arr.ndim != 1 || arr.count == 0) {
            fprintf(stderr, "mpi_heavy: %s: need a non-empty 1-d float64 array\n", input);
            goto out;
        }
        x = arr.data;
        n = arr.count;
    } else {
        x = shmpool_alloc(pool, n * sizeof *x);
        if (!x) {
            fprintf(stderr, "mpi_heavy: rank %d: shmpool_alloc: %s\n", rank, strerror(errno));
            MPI_Abort(MPI_COMM_WORLD, 1); /* the others are already in a collective */
        }
        uint64_t s = seed;
        for (size_t i = 0; i < n; i++)
            x[i] = (double)(splitmix64(&s) >> 11) * 0x1p-53;
    }
    double t_data = MPI_Wtime() - t0;

    size_t chunk_size = (n + nchunks_req - 1) / nchunks_req; /* numpy's x[i:i+chunk_size] */
    size_t nchunks = (n + chunk_size - 1) / chunk_size;
    struct job *j = shmpool_alloc(pool, sizeof *j);
    double *partial = shmpool_alloc(pool, nchunks * sizeof *partial);
    double *times = calloc(repeat, sizeof *times);
    if (!j || !partial || !times) {
        fprintf(stderr, "mpi_heavy: rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    *j = (struct job){.x = x, .n = n, .chunk_size = chunk_size, .partial = partial};
    if (rank == 0)
        printf("mpi_heavy: %zu doubles (%s, ready in %.2f s) in %zu chunks of %zu; %d ranks x %u"
               " workers = %u (pools joined in %.3f s); kernel %s\n",
               n, input ? input : "random", t_data, nchunks, chunk_size, nranks,
               shmpool_workers(pool), shmpool_mpi_total_workers(pool), t_create, heavy_sum_clone());

    double total = 0;
    if (warmup) { /* a local (not collective) pass over every page, on this rank's workers */
        shmpool_result *r;
        rc = shmpool_for_async(pool, touch_pages, j, (n + 511) / 512, 0, &r);
        if (!rc) {
            rc = shmpool_result_get(r, -1);
            shmpool_result_free(r);
        }
        if (rc)
            MPI_Abort(MPI_COMM_WORLD, 1); /* the others may already be in a collective */
    }
    for (unsigned k = 0; k < warmup && !rc; k++) {
        rc = shmpool_for(pool, heavy_chunk, j, nchunks, 1);
        if (rc)
            fprintf(stderr, "mpi_heavy: rank %d: %s\n", rank, shmpool_mpi_strerror(pool, rc));
    }
    if (rc) {
        free(times);
        goto out;
    }
    for (unsigned k = 0; k < repeat; k++) {
        MPI_Barrier(MPI_COMM_WORLD); /* every rank starts the clock together */
        t0 = MPI_Wtime();
        rc = shmpool_for(pool, heavy_chunk, j, nchunks, 1);
        if (!rc)
            rc = shmpool_mpi_sum(pool, partial, &total);
        times[k] = MPI_Wtime() - t0;
        if (rc) {
            fprintf(stderr, "mpi_heavy: rank %d: %s\n", rank, shmpool_mpi_strerror(pool, rc));
            free(times);
            goto out;
        }
    }
    if (rank == 0) {
        int *owner = malloc(nchunks * sizeof *owner);
        if (shmpool_mpi_owners(pool, owner, owner ? nchunks : 0) >= 0 && owner) {
            printf("chunks ran on ranks:");
            for (size_t c = 0; c < nchunks && c < 32; c++)
                printf(" %d", owner[c]);
            printf("%s\n", nchunks > 32 ? " ..." : "");
        }
        free(owner);
        for (unsigned k = 0; k < repeat && repeat > 1; k++)
            printf("run %u: %.4f s\n", k + 1, times[k]);
        qsort(times, repeat, sizeof *times, cmp_double);
        printf("compute: %.4f s (median of %u; min %.4f, max %.4f)\n", times[repeat / 2], repeat,
               times[0], times[repeat - 1]);
        printf("sum %.17g\n", total);
    } else {
        shmpool_mpi_owners(pool, NULL, 0); /* collective: rank 0 asked */
    }
    free(times);
    status = 0;
out:
    shmpool_destroy(pool); /* collective */
    MPI_Finalize();
    return status;
}
