/* idle: OpenMP heavy, with and without an idle shmpool pool alive in the same process */
#include <stdlib.h>

#include "heavy.h"

struct idle {
    struct heavy h;
    int with_pool;
};
static double idle_run(void *arg, int warm) {
    (void)warm;
    struct idle *d = arg;
    shmpool *pool = NULL;
    if (d->with_pool) {
        /* A pool that has just finished a job: its workers spin for spin_us, then sleep. */
        pool = make_pool(O.workers);
        if (!pool)
            return -2;
        int rc = shmpool_for(pool, noop_range, NULL, 64, 0);
        if (rc) {
            shmpool_destroy(pool);
            return -2;
        }
    }
    double t = heavy_openmp(&d->h, 0);
    shmpool_destroy(pool);
    return t;
}

static void run(void) {
    size_t n = S.idle_n;
    double *x = malloc(n * sizeof *x);
    if (!x) {
        FAIL("idle: out of memory");
        return;
    }
    fill_uniform(x, n, 1);
    size_t cs = (n + S.heavy_chunks - 1) / S.heavy_chunks;
    struct chunk chunks[64];
    double sums[64];
    struct heavy h = {.w = O.workers, .chunks = chunks, .nchunks = (n + cs - 1) / cs, .sums = sums};
    for (size_t c = 0; c < h.nchunks; c++)
        chunks[c] = (struct chunk){x + c * cs, c + 1 < h.nchunks ? cs : n - c * cs};
    struct idle a = {h, 0}, b = {h, 1};
    struct impl im[] = {{"openmp", O.workers, idle_run, &a, (double)n},
                        {"openmp+idle_pool", O.workers, idle_run, &b, (double)n}};
    measure("idle", im, 2);
    free(x);
}

const struct workload workload_idle = {"idle", run};
