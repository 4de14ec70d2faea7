/* heavy's data and its OpenMP run, which idle and mpi measure too (workload-heavy.c). */
#ifndef SHMPOOL_BENCH_HEAVY_H
#define SHMPOOL_BENCH_HEAVY_H

#include "bench.h"

struct chunk {
    const double *x;
    size_t n;
};
struct heavy {
    shmpool *pool;
    unsigned w;
    struct chunk *chunks; /* shmpool memory */
    size_t nchunks;
    double *sums;          /* shmpool memory */
    double total;
};

double heavy_openmp(void *arg, int warm);

#endif
