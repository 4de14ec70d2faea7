/* for_empty: a parallel for over 64 items that does nothing: the fork/join overhead */
#include "bench.h"

struct empty {
    shmpool *pool;
    unsigned w;
    size_t calls, n, chunk;
};
static double empty_shmpool(void *arg, int warm) {
    (void)warm;
    struct empty *e = arg;
    double t0 = now();
    for (size_t i = 0; i < e->calls; i++) {
        int rc = shmpool_for(e->pool, noop_range, NULL, e->n, e->chunk);
        if (rc) {
            FAIL("shmpool_for: %s", shmpool_strerror(rc));
            return -2;
        }
    }
    return (now() - t0) / (double)e->calls;
}
/* The same chunks, claimed dynamically, the same function per chunk. */
static double empty_openmp(void *arg, int warm) {
    (void)warm;
    struct empty *e = arg;
    size_t nch = (e->n + e->chunk - 1) / e->chunk;
    double t0 = now();
    for (size_t i = 0; i < e->calls; i++) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(e->w)
        for (size_t c = 0; c < nch; c++)
            noop_range(NULL, c * e->chunk, c * e->chunk + e->chunk < e->n ? c * e->chunk + e->chunk
                                                                            : e->n);
    }
    return (now() - t0) / (double)e->calls;
}

static void run(void) {
    unsigned w = O.workers;
    shmpool *pool = make_pool(w);
    if (!pool)
        return;
    size_t n = 64, chunk = (n + 4 * w - 1) / (4 * w); /* shmpool's automatic chunk */
    struct empty e = {pool, w, S.for_calls, n, chunk};
    struct impl im[] = {{"shmpool", w, empty_shmpool, &e, (double)n},
                        {"openmp", w, empty_openmp, &e, (double)n}};
    measure("for_empty", im, 2);
    shmpool_destroy(pool);
}

const struct workload workload_for_empty = {"for_empty", run};
