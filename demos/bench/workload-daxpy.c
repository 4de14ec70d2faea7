/* daxpy: y += a * x over n = 1e5 doubles, called back to back (a short loop: ~50 us serial).
 * ctx by value (shmpool_for_ctx): the stack struct a time-stepping code would write. */
#include <stdlib.h>
#include <string.h>

#include "axpy.h"
#include "bench.h"


struct run {
    shmpool *pool;
    double *x, *y;
    size_t n, calls;
    unsigned w;
};

static double with_pool(void *arg, int warm) {
    (void)warm;
    struct run *r = arg;
    size_t chunk = (r->n + r->w - 1) / r->w; /* one chunk per worker, as OpenMP's static */
    double t0 = now();
    for (size_t k = 0; k < r->calls; k++) {
        struct axpy c = {1e-6 * (double)k, r->x, r->y};
        int rc = shmpool_for_ctx(r->pool, axpy_rows, &c, sizeof c, r->n, chunk);
        if (rc) {
            FAIL("daxpy: %s", shmpool_strerror(rc));
            return -2;
        }
    }
    return now() - t0;
}

static double with_openmp(void *arg, int warm) {
    (void)warm;
    struct run *r = arg;
    double t0 = now();
    for (size_t k = 0; k < r->calls; k++) {
        struct axpy c = {1e-6 * (double)k, r->x, r->y};
#pragma omp parallel for schedule(static) num_threads(r->w)
        for (size_t i = 0; i < r->n; i++)
            axpy_rows(&c, i, i + 1);
    }
    return now() - t0;
}

static double serial(void *arg, int warm) {
    (void)warm;
    struct run *r = arg;
    double t0 = now();
    for (size_t k = 0; k < r->calls; k++) {
        struct axpy c = {1e-6 * (double)k, r->x, r->y};
        axpy_rows(&c, 0, r->n);
    }
    return now() - t0;
}

static void run(void) {
    unsigned w = O.workers;
    size_t n = 100000, calls = O.quick ? 200 : 2000, bytes = n * sizeof(double);
    shmpool *plain = make_pool(w), *caller = NULL;
    shmpool_options o = {.workers = w, .flags = SHMPOOL_FLAG_QUIET | SHMPOOL_FLAG_CALLER_RUNS};
    if (shmpool_create(&caller, &o))
        FAIL("daxpy: create with CALLER_RUNS");
    if (!plain || !caller)
        goto out;
    struct run a = {plain, shmpool_alloc(plain, bytes), shmpool_alloc(plain, bytes), n, calls, w};
    struct run b = {caller, shmpool_alloc(caller, bytes), shmpool_alloc(caller, bytes), n, calls, w};
    struct run s = {NULL, malloc(bytes), malloc(bytes), n, calls, w};
    struct run *all[] = {&a, &b, &s};
    for (int k = 0; k < 3; k++) {
        fill_uniform(all[k]->x, n, 7);
        memset(all[k]->y, 0, bytes);
    }
    struct impl im[] = {{"shmpool", w, with_pool, &a, (double)calls},
                        {"shmpool-caller_runs", w, with_pool, &b, (double)calls},
                        {"openmp", w, with_openmp, &s, (double)calls},
                        {"serial", 1, serial, &s, (double)calls}};
    measure("daxpy", im, 4);
    for (int k = 0; k < 3; k++)
        memset(all[k]->y, 0, bytes);
    with_pool(&a, 0), with_pool(&b, 0), serial(&s, 0);
    if (memcmp(a.y, s.y, bytes) || memcmp(b.y, s.y, bytes))
        FAIL("daxpy: results differ from serial");
    free(s.x), free(s.y);
out:
    shmpool_destroy(plain);
    shmpool_destroy(caller);
}

const struct workload workload_daxpy = {"daxpy", run};
