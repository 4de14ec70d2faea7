/* A 2-D Jacobi solver (Laplace's equation, fixed boundary) stepped by a time loop: the same sweeps
 * serially, with OpenMP (when built with it) and with shmpool, bit-identical, with timings.
 *
 *     jacobi [--n 512] [--sweeps 500] [--workers W] [--caller-runs]
 *
 * The grids live in shmpool_alloc memory; each sweep is one shmpool_for_ctx whose ctx (the two
 * grid pointers, swapped every sweep) is a struct on the stack passed by value. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, also where no OpenMP flag brings it in */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "jacobi_kernel.h"
#include "shmpool.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double checksum(const double *u, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n * n; i++)
        s += u[i] * (double)(i % 7 + 1);
    return s;
}

int main(int argc, char **argv) {
    size_t n = 512, sweeps = 500;
    unsigned workers = 0;
    uint32_t flags = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--sweeps") && i + 1 < argc)
            sweeps = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
            workers = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--caller-runs"))
            flags |= SHMPOOL_FLAG_CALLER_RUNS;
        else {
            fprintf(stderr, "usage: jacobi [--n N] [--sweeps S] [--workers W] [--caller-runs]\n");
            return 2;
        }
    }
    if (n < 3) {
        fprintf(stderr, "jacobi: n must be at least 3\n");
        return 2;
    }
    shmpool_options o = {.workers = workers, .flags = flags};
    shmpool *pool;
    int rc = shmpool_create(&pool, &o);
    if (rc) {
        fprintf(stderr, "jacobi: shmpool_create: %s\n", shmpool_strerror(rc));
        return 1;
    }
    workers = shmpool_workers(pool);
    size_t bytes = n * n * sizeof(double);
    double *a = shmpool_alloc(pool, bytes), *b = shmpool_alloc(pool, bytes);
    double *sa = malloc(bytes), *sb = malloc(bytes);
    if (!a || !b || !sa || !sb) {
        fprintf(stderr, "jacobi: out of memory\n");
        return 1;
    }
    size_t chunk = (n + workers - 1) / workers; /* a block of rows per worker, as OpenMP static */

    jacobi_init(sa, n), jacobi_init(sb, n);
    double t0 = now();
    for (size_t s = 0; s < sweeps; s++) {
        struct jacobi_sweep sw = {s % 2 ? sb : sa, s % 2 ? sa : sb, n};
        jacobi_rows(&sw, 0, n);
    }
    double t_serial = now() - t0;
    const double *ref = sweeps % 2 ? sb : sa;

    jacobi_init(a, n), jacobi_init(b, n);
    t0 = now();
    for (size_t s = 0; s < sweeps && !rc; s++) {
        struct jacobi_sweep sw = {s % 2 ? b : a, s % 2 ? a : b, n};
        rc = shmpool_for_ctx(pool, jacobi_rows, &sw, sizeof sw, n, chunk);
    }
    double t_pool = now() - t0;
    if (rc) {
        fprintf(stderr, "jacobi: shmpool_for_ctx: %s\n", shmpool_strerror(rc));
        return 1;
    }
    const double *got = sweeps % 2 ? b : a;
    int same = memcmp(got, ref, bytes) == 0;
    printf("jacobi %zux%zu, %zu sweeps, %u workers\n", n, n, sweeps, workers);
    printf("serial   %.4f s\n", t_serial);
    printf("shmpool  %.4f s  (%.2fx serial)%s\n", t_pool, t_serial / t_pool,
           same ? "" : "  DIFFERS FROM SERIAL");
#ifdef _OPENMP
    double *oa = malloc(bytes), *ob = malloc(bytes);
    jacobi_init(oa, n), jacobi_init(ob, n);
    t0 = now();
    for (size_t s = 0; s < sweeps; s++) {
        struct jacobi_sweep sw = {s % 2 ? ob : oa, s % 2 ? oa : ob, n};
#pragma omp parallel for schedule(static) num_threads(workers)
        for (size_t i = 0; i < n; i++)
            jacobi_rows(&sw, i, i + 1);
    }
    double t_omp = now() - t0;
    int omp_same = memcmp(sweeps % 2 ? ob : oa, ref, bytes) == 0;
    printf("openmp   %.4f s  (%.2fx serial); shmpool / openmp = %.3f%s\n", t_omp,
           t_serial / t_omp, t_pool / t_omp, omp_same ? "" : "  DIFFERS FROM SERIAL");
    same &= omp_same;
    free(oa), free(ob);
#endif
    printf("checksum %.17g %s\n", checksum(got, n), same ? "(bit-identical)" : "(MISMATCH)");
    free(sa), free(sb);
    shmpool_destroy(pool);
    return same ? 0 : 1;
}
