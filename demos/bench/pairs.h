/* The (x, y) pairs that starmap, starmap_chunk1, apply and apply_async share (pairs.c): one pool,
 * one data set, one file for bench.py, made by the first of them that runs and freed by
 * pairs_done() after the last (main.c calls it through the workloads' `done`); and the task
 * they run on them.
 */
#ifndef SHMPOOL_BENCH_PAIRS_H
#define SHMPOOL_BENCH_PAIRS_H

#include <stdint.h>

#include "bench.h"

struct pairs {
    shmpool *pool;
    unsigned w;
    size_t n;             /* the larger of starmap's and starmap_chunk1's counts */
    int32_t *x, *y, *out; /* shmpool memory */
    int32_t *ref;         /* f_xy of each pair */
    int64_t refsum;       /* of the first S.star_n */
    int64_t refsum1;      /* of the first S.py_star1_n: Python's starmap_chunk1 */
    char path[64];        /* x then y, int32, for bench.py; empty if it could not be written */
};

struct pairs *pairs_get(void); /* NULL when they could not be made (reported once) */
void pairs_done(void);

/* The task: (x + y)^2, noinline so every implementation pays one call per item */
int32_t f_xy(int32_t x, int32_t y);

/* shmpool_starmap over the pairs (starmap, and starmap_chunk1 with chunk 1) */
struct star {
    shmpool *pool;
    int32_t *x, *y, *out; /* shmpool memory */
    size_t n, chunk;
};
double star_shmpool(void *arg, int warm);

/* f_xy as an apply task (apply, apply_async): in is {x, y} */
int f_apply(const void *in, void *out, void *ctx);
struct apply {
    shmpool *pool;
    const int32_t *x, *y;
    size_t nxy, calls;
    double *lat;
    int64_t sum;
};

#endif
