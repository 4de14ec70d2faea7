/* heavy: the headline demo. 40 million doubles in 4 chunks through the tutorial's heavy_function,
 * with the pool's map, map_async + get, and serially; the sums must agree.
 *
 * Mirrors the tutorial's "Comparing execution times / 2. Data-chunked version"
 * (../shared/seed/parallel-processing-in-python.md).
 *
 * Zero-copy: the data x, the chunk descriptors and the sums all live in shmpool_alloc memory, at
 * the same address in this process and in every worker; a task receives a {pointer, length}
 * descriptor, never a copy of its 80 MB chunk (Python pickles each chunk through a pipe).
 *
 *     heavy                          # the defaults: --n 40000000 --chunks 4, all usable cores
 *     heavy --n 400000 --workers 2 --no-scalar
 *     heavy --input x.npy            # a 1-d float64 array saved by numpy (np.save)
 *     heavy --input x.npy --stream --chunks 500 --budget 64M
 *                                    # the file streamed through the pool in pieces that fit
 *                                    # the budget (shmpool_stream_reduce): any size, the same
 *                                    # `sum` line as without --stream for the same --chunks
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heavy_kernel.h"
#include "shmpool.h"

struct chunk {
    const double *x;
    size_t n;
};

/* One task: the sum of heavy_function over one chunk. */
static int heavy_task(const void *in, void *out, void *ctx) {
    (void)ctx;
    const struct chunk *c = in;
    *(double *)out = heavy_sum(c->x, c->n);
    return 0;
}

/* --stream: one chunk of the file's rows, summed; the partials are added in chunk order, as the
   loop at the end of main adds the per-chunk sums. */
static int heavy_rows(void *ctx, const void *rows, size_t begin, size_t end, void *partial) {
    (void)ctx;
    *(double *)partial = heavy_sum(rows, end - begin);
    return 0;
}
static void add_sum(void *acc, const void *partial, void *ctx) {
    (void)ctx;
    *(double *)acc += *(const double *)partial;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64 -> a double uniform in [0, 1): portable and repeatable. */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void usage(FILE *f) {
    fprintf(f, "usage: heavy [--n N] [--chunks C] [--workers W] [--seed S] [--no-scalar]"
               " [--input FILE.npy]\n"
               "  --n N        elements (default 40000000), uniform in [0,1) from --seed (default 1)\n"
               "  --chunks C   chunks, numpy's x[i:i+ceil(N/C)] slicing (default 4)\n"
               "  --workers W  pool workers (default: the usable core count)\n"
               "  --no-scalar  skip the plain scalar kernel (about 4.5 s for 40M on one core)\n"
               "  --input F    take x from a 1-d float64 .npy file instead of random data\n"
               "  --stream     with --input: stream the file through the pool in pieces instead of\n"
               "               loading it (any size); prints the same sum for the same --chunks\n"
               "  --budget B   with --stream: shared memory for the pieces in bytes (suffix K, M or\n"
               "               G); default: half of /dev/shm's free space, at most 256 MiB\n");
}

static size_t parse_bytes(const char *v) {
    char *end;
    size_t b = strtoull(v, &end, 0);
    switch (*end) {
    case 'G': case 'g': b <<= 10; /* fall through */
    case 'M': case 'm': b <<= 10; /* fall through */
    case 'K': case 'k': b <<= 10;
    }
    return b;
}

/* heavy --input F --stream: the chunks of numpy's slicing, streamed; no serial check (the data
   is never all in memory), the sum line only. */
static int stream_main(shmpool *pool, const char *input, size_t nchunks_req, size_t budget,
                       double t_create) {
    shmpool_array head;
    int rc = shmpool_array_stat(input, &head);
    if (rc) {
        fprintf(stderr, "heavy: %s: %s\n", input, shmpool_strerror(rc));
        return 1;
    }
    if (head.dtype != SHMPOOL_F8 || head.ndim != 1 || head.count == 0) {
        fprintf(stderr, "heavy: %s: need a non-empty 1-d float64 array\n", input);
        return 1;
    }
    size_t n = head.count;
    size_t chunk_size = (n + nchunks_req - 1) / nchunks_req;
    size_t nchunks = (n + chunk_size - 1) / chunk_size;
    printf("heavy: %zu doubles (%s, streamed, budget %s%zu) in %zu chunks of %zu, %u workers"
           " (pool started in %.3f s)\n",
           n, input, budget ? "" : "default, ", budget, nchunks, chunk_size,
           shmpool_workers(pool), t_create);
    printf("kernel: heavy_sum clone %s\n", heavy_sum_clone());
    shmpool_stream_options o = {.budget = budget, .chunk = chunk_size};
    double total = 0, t0 = now();
    size_t fail;
    rc = shmpool_stream_reduce(pool, input, heavy_rows, add_sum, NULL, &total, sizeof total, &o,
                               &fail);
    double t = now() - t0;
    if (rc) {
        fprintf(stderr, "heavy: streaming %s: %s%s\n", input, shmpool_strerror(rc),
                rc == SHMPOOL_EBUDGET ? " (more --chunks make each chunk smaller)" : "");
        return 1;
    }
    printf("[pool stream]     %8.4f s   %.2f GB/s of file\n", t, (double)n * 8 / t / 1e9);
    printf("sum %.17g\n", total);
    return 0;
}

int main(int argc, char **argv) {
    size_t n = 40000000, nchunks_req = 4;
    unsigned workers = 0;
    uint64_t seed = 1;
    int scalar = 1;
    const char *input = NULL;
    int stream = 0;
    size_t budget = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--no-scalar")) {
            scalar = 0;
        } else if (!strcmp(a, "--stream")) {
            stream = 1;
        } else if (v && !strcmp(a, "--budget")) {
            budget = parse_bytes(v), i++;
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
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (nchunks_req == 0 || (!input && n == 0) || (stream && !input)) {
        usage(stderr);
        return 2;
    }

    double t0 = now();
    shmpool *pool;
    shmpool_options opt = {.workers = workers};
    int rc = shmpool_create(&pool, &opt);
    if (rc) {
        fprintf(stderr, "heavy: shmpool_create: %s\n", shmpool_strerror(rc));
        return 1;
    }
    double t_create = now() - t0;
    int status = 1;
    if (stream) {
        status = stream_main(pool, input, nchunks_req, budget, t_create);
        shmpool_destroy(pool);
        return status;
    }
    t0 = now();
    shmpool_array arr = {0};
    double *x;
    if (input) {
        rc = shmpool_array_load(pool, input, &arr);
        if (rc) {
            fprintf(stderr, "heavy: %s: %s\n", input, shmpool_strerror(rc));
            goto out;
        }
        if (arr.dtype != SHMPOOL_F8 || arr.ndim != 1 || arr.count == 0) {
            fprintf(stderr, "heavy: %s: need a non-empty 1-d float64 array\n", input);
            goto out;
        }
        x = arr.data;
        n = arr.count;
    } else {
        x = shmpool_alloc(pool, n * sizeof *x);
        if (!x) {
            fprintf(stderr, "heavy: shmpool_alloc: %s\n", strerror(errno));
            goto out;
        }
        uint64_t s = seed;
        for (size_t i = 0; i < n; i++)
            x[i] = (double)(splitmix64(&s) >> 11) * 0x1p-53;
    }

    double t_data = now() - t0; /* mostly the first touch of every page */

    /* numpy's chunks = [x[i:i + chunk_size] for i in range(0, N, chunk_size)] */
    size_t chunk_size = (n + nchunks_req - 1) / nchunks_req;
    size_t nchunks = (n + chunk_size - 1) / chunk_size;
    struct chunk *chunks = shmpool_alloc(pool, nchunks * sizeof *chunks);
    double *sums_map = shmpool_alloc(pool, nchunks * sizeof(double));
    double *sums_async = shmpool_alloc(pool, nchunks * sizeof(double));
    double *sums_serial = calloc(nchunks, sizeof(double));
    if (!chunks || !sums_map || !sums_async || !sums_serial) {
        fprintf(stderr, "heavy: out of memory\n");
        free(sums_serial);
        goto out;
    }
    for (size_t c = 0; c < nchunks; c++) {
        chunks[c].x = x + c * chunk_size;
        chunks[c].n = c + 1 < nchunks ? chunk_size : n - c * chunk_size;
    }
    printf("heavy: %zu doubles (%s, ready in %.2f s) in %zu chunks of %zu, %u workers"
           " (pool started in %.3f s)\n",
           n, input ? input : "random", t_data, nchunks, chunk_size, shmpool_workers(pool),
           t_create);
    printf("kernel: heavy_sum clone %s\n", heavy_sum_clone());

    /* 1. Blocking map, one chunk per task (chunk size 1: Python's default would also be 1 here).
       The first job to read x also pays each worker's first touch of those pages (page-table
       entries), so it is a little slower than the map_async run after it. */
    t0 = now();
    rc = shmpool_map(pool, heavy_task, NULL, chunks, sizeof *chunks, sums_map, sizeof(double),
                     nchunks, 1);
    double t_map = now() - t0;
    if (rc) {
        fprintf(stderr, "heavy: shmpool_map: %s\n", shmpool_strerror(rc));
        free(sums_serial);
        goto out;
    }

    /* 2. map_async: returns at once; the caller could work here; get waits for the sums. */
    t0 = now();
    shmpool_result *r;
    rc = shmpool_map_async(pool, heavy_task, NULL, chunks, sizeof *chunks, sums_async,
                           sizeof(double), nchunks, 1, &r);
    if (!rc) {
        rc = shmpool_result_get(r, -1);
        shmpool_result_free(r);
    }
    double t_async = now() - t0;
    if (rc) {
        fprintf(stderr, "heavy: shmpool_map_async: %s\n", shmpool_strerror(rc));
        free(sums_serial);
        goto out;
    }

    /* 3. Serial: the same vectorized kernel, chunk by chunk, on this core. */
    t0 = now();
    for (size_t c = 0; c < nchunks; c++)
        sums_serial[c] = heavy_sum(chunks[c].x, chunks[c].n);
    double t_serial = now() - t0;

    double total = 0, total_async = 0, total_serial = 0;
    for (size_t c = 0; c < nchunks; c++) {
        total += sums_map[c];
        total_async += sums_async[c];
        total_serial += sums_serial[c];
    }
    free(sums_serial);

    printf("[pool map]        %8.4f s   %5.2fx serial\n", t_map, t_serial / t_map);
    printf("[pool map_async]  %8.4f s   %5.2fx serial\n", t_async, t_serial / t_async);
    printf("[serial, vector]  %8.4f s\n", t_serial);

    int ok = memcmp(&total, &total_serial, sizeof total) == 0 &&
             memcmp(&total_async, &total_serial, sizeof total) == 0;
    if (!ok)
        fprintf(stderr, "heavy: FAIL: pool sums differ from the serial sums (%.17g %.17g %.17g)\n",
                total, total_async, total_serial);

    /* 4. The plain scalar kernel: what vectorization buys. */
    if (scalar) {
        t0 = now();
        double total_scalar = 0;
        for (size_t c = 0; c < nchunks; c++)
            total_scalar += heavy_sum_scalar(chunks[c].x, chunks[c].n);
        double t_scalar = now() - t0;
        double rel = fabs(total_scalar - total) / fabs(total_scalar);
        printf("[serial, scalar]  %8.4f s   vectorization %.2fx, pool map %.2fx scalar"
               " (relative difference %.1e)\n",
               t_scalar, t_scalar / t_serial, t_scalar / t_map, rel);
        if (!(rel <= 1e-9)) {
            fprintf(stderr, "heavy: FAIL: scalar sum %.17g disagrees with %.17g\n", total_scalar,
                    total);
            ok = 0;
        }
    }
    printf("sum %.17g\n", total);
    if (ok) {
        printf("ok: map, map_async and serial sums are identical\n");
        status = 0;
    }
out:
    shmpool_destroy(pool); /* frees x, chunks, the sums and arr.data with the pool */
    return status;
}
