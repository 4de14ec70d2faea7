/* omp_alternate: a time step that runs an OpenMP loop and then a shmpool loop (daxpy, n = 1e5,
 * each), against each alone: both runtimes spin while they wait for work, and on shared cores the
 * spinners of one take the CPU from the other. The target is alternating <= 1.2x the sum. */
#include <stdlib.h>
#include <string.h>

#include "axpy.h"
#include "bench.h"


struct run {
    shmpool *pool;
    double *x, *y, *ox, *oy;
    size_t n, steps;
    unsigned w;
    int omp, pool_on;
};

static double steps(void *arg, int warm) {
    (void)warm;
    struct run *r = arg;
    size_t chunk = (r->n + r->w - 1) / r->w;
    double t0 = now();
    for (size_t k = 0; k < r->steps; k++) {
        if (r->omp) {
            struct axpy c = {1e-6, r->ox, r->oy};
#pragma omp parallel for schedule(static) num_threads(r->w)
            for (size_t i = 0; i < r->n; i++)
                axpy_rows(&c, i, i + 1);
        }
        if (r->pool_on) {
            struct axpy c = {1e-6, r->x, r->y};
            int rc = shmpool_for_ctx(r->pool, axpy_rows, &c, sizeof c, r->n, chunk);
            if (rc) {
                FAIL("omp_alternate: %s", shmpool_strerror(rc));
                return -2;
            }
        }
    }
    return now() - t0;
}

static void run(void) {
    unsigned w = O.workers;
    size_t n = 100000, nsteps = O.quick ? 200 : 2000, bytes = n * sizeof(double);
    shmpool *pool = make_pool(w);
    if (!pool)
        return;
    struct run base = {pool, shmpool_alloc(pool, bytes), shmpool_alloc(pool, bytes), malloc(bytes),
                       malloc(bytes), n, nsteps, w, 0, 0};
    fill_uniform(base.x, n, 3), fill_uniform(base.ox, n, 3);
    memset(base.y, 0, bytes), memset(base.oy, 0, bytes);
    struct run omp = base, alone = base, both = base;
    omp.omp = 1, alone.pool_on = 1, both.omp = both.pool_on = 1;
    struct impl im[] = {{"openmp_alone", w, steps, &omp, (double)nsteps},
                        {"shmpool_alone", w, steps, &alone, (double)nsteps},
                        {"alternating", w, steps, &both, (double)nsteps}};
    measure("omp_alternate", im, 3);
    free(base.ox), free(base.oy);
    shmpool_destroy(pool);
}

const struct workload workload_omp_alternate = {"omp_alternate", run};
