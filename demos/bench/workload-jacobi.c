/* jacobi: 2-D Jacobi sweeps (demos/jacobi_kernel.c), one shmpool_for_ctx per sweep, a block of
 * rows per worker; 512x512 (short sweeps: ~0.3 ms serial) and 2048x2048 (long ones). */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "jacobi_kernel.h"

struct run {
    shmpool *pool;
    double *a, *b;
    size_t n, sweeps;
    unsigned w;
    int mode; /* 0 pool, 1 openmp, 2 serial */
};

static double sweep_all(void *arg, int warm) {
    (void)warm;
    struct run *r = arg;
    jacobi_init(r->a, r->n), jacobi_init(r->b, r->n);
    size_t chunk = (r->n + r->w - 1) / r->w;
    double t0 = now();
    for (size_t s = 0; s < r->sweeps; s++) {
        struct jacobi_sweep sw = {s % 2 ? r->b : r->a, s % 2 ? r->a : r->b, r->n};
        if (r->mode == 0) {
            int rc = shmpool_for_ctx(r->pool, jacobi_rows, &sw, sizeof sw, r->n, chunk);
            if (rc) {
                FAIL("jacobi: %s", shmpool_strerror(rc));
                return -2;
            }
        } else if (r->mode == 1) {
#pragma omp parallel for schedule(static) num_threads(r->w)
            for (size_t i = 0; i < r->n; i++)
                jacobi_rows(&sw, i, i + 1);
        } else {
            jacobi_rows(&sw, 0, r->n);
        }
    }
    return now() - t0;
}

static void one_size(size_t n, size_t sweeps) {
    unsigned w = O.workers;
    size_t bytes = n * n * sizeof(double);
    char name[24];
    snprintf(name, sizeof name, "jacobi%zu", n);
    shmpool *plain = make_pool(w), *caller = NULL;
    shmpool_options o = {.workers = w, .flags = SHMPOOL_FLAG_QUIET | SHMPOOL_FLAG_CALLER_RUNS};
    if (shmpool_create(&caller, &o))
        FAIL("jacobi: create with CALLER_RUNS");
    if (!plain || !caller)
        goto out;
    struct run a = {plain, shmpool_alloc(plain, bytes), shmpool_alloc(plain, bytes), n, sweeps, w, 0};
    struct run b = {caller, shmpool_alloc(caller, bytes), shmpool_alloc(caller, bytes), n, sweeps, w, 0};
    struct run m = {NULL, malloc(bytes), malloc(bytes), n, sweeps, w, 1};
    struct run s = {NULL, malloc(bytes), malloc(bytes), n, sweeps, w, 2};
    double items = (double)(n * n * sweeps);
    struct impl im[] = {{"shmpool", w, sweep_all, &a, items},
                        {"shmpool-caller_runs", w, sweep_all, &b, items},
                        {"openmp", w, sweep_all, &m, items},
                        {"serial", 1, sweep_all, &s, items}};
    measure(name, im, 4);
    const double *ref = sweeps % 2 ? s.b : s.a;
    if (memcmp(sweeps % 2 ? a.b : a.a, ref, bytes) || memcmp(sweeps % 2 ? b.b : b.a, ref, bytes) ||
        memcmp(sweeps % 2 ? m.b : m.a, ref, bytes))
        FAIL("%s: grids differ from serial", name);
    free(m.a), free(m.b), free(s.a), free(s.b);
out:
    shmpool_destroy(plain);
    shmpool_destroy(caller);
}

static void run(void) {
    one_size(512, O.quick ? 50 : 500);
    one_size(2048, O.quick ? 4 : 40);
}

const struct workload workload_jacobi = {"jacobi", run};
