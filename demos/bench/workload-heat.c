/* heat: 2D heat equation, explicit 5-point stencil, fixed boundary; one parallel for per step */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct heat {
    const double *u;
    double *v;
    size_t n;
};
static int heat_rows(void *ctx, size_t b, size_t e) {
    const struct heat *h = ctx;
    size_t n = h->n;
    const double r = 0.2;
    for (size_t i = b; i < e; i++) {
        const double *u = h->u + i * n;
        double *v = h->v + i * n;
        if (i == 0 || i == n - 1) {
            memcpy(v, u, n * sizeof *v);
            continue;
        }
        v[0] = u[0];
        v[n - 1] = u[n - 1];
        for (size_t j = 1; j < n - 1; j++)
            v[j] = u[j] + r * (u[j - n] + u[j + n] + u[j - 1] + u[j + 1] - 4 * u[j]);
    }
    return 0;
}
struct heatrun {
    shmpool *pool;
    unsigned w;
    double *a, *b, *init; /* a, b: shmpool memory; init: the starting grid */
    struct heat *ctx;     /* shmpool memory: the workers read it */
    size_t n, steps, chunk;
    double *result;       /* where the final grid ended */
};
static void heat_reset(struct heatrun *h) {
    memcpy(h->a, h->init, h->n * h->n * sizeof(double));
}
static double heat_shmpool(void *arg, int warm) {
    (void)warm;
    struct heatrun *h = arg;
    heat_reset(h);
    double *u = h->a, *v = h->b;
    double t0 = now();
    for (size_t s = 0; s < h->steps; s++) {
        h->ctx->u = u, h->ctx->v = v, h->ctx->n = h->n;
        int rc = shmpool_for(h->pool, heat_rows, h->ctx, h->n, h->chunk);
        if (rc) {
            FAIL("heat shmpool_for: %s", shmpool_strerror(rc));
            return -2;
        }
        double *t = u;
        u = v, v = t;
    }
    double t = now() - t0;
    h->result = u;
    return t;
}
static double heat_openmp(void *arg, int warm) {
    (void)warm;
    struct heatrun *h = arg;
    heat_reset(h);
    double *u = h->a, *v = h->b;
    size_t nch = (h->n + h->chunk - 1) / h->chunk;
    double t0 = now();
    for (size_t s = 0; s < h->steps; s++) {
        struct heat c = {u, v, h->n};
#pragma omp parallel for schedule(dynamic, 1) num_threads(h->w)
        for (size_t k = 0; k < nch; k++)
            heat_rows(&c, k * h->chunk, (k + 1) * h->chunk < h->n ? (k + 1) * h->chunk : h->n);
        double *t = u;
        u = v, v = t;
    }
    double t = now() - t0;
    h->result = u;
    return t;
}
static double heat_serial(void *arg, int warm) {
    (void)warm;
    struct heatrun *h = arg;
    heat_reset(h);
    double *u = h->a, *v = h->b;
    double t0 = now();
    for (size_t s = 0; s < h->steps; s++) {
        struct heat c = {u, v, h->n};
        heat_rows(&c, 0, h->n);
        double *t = u;
        u = v, v = t;
    }
    double t = now() - t0;
    h->result = u;
    return t;
}

/* A hot square in the middle, a hot left edge. */
static void heat_init(double *init, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            init[i * n + j] = (j == 0) ? 1.0
                              : (i > n / 3 && i < 2 * n / 3 && j > n / 3 && j < 2 * n / 3) ? 2.0
                                                                                             : 0.0;
}

static void run(void) {
    unsigned w = O.workers;
    size_t n = S.heat_n, bytes = n * n * sizeof(double);
    shmpool *pool = make_pool(w);
    if (!pool)
        return;
    double *init = malloc(bytes), *ref = malloc(bytes);
    double *a = shmpool_alloc(pool, bytes), *b = shmpool_alloc(pool, bytes);
    struct heat *ctx = shmpool_alloc(pool, sizeof *ctx);
    if (!init || !ref || !a || !b || !ctx) {
        FAIL("heat: out of memory");
        goto out;
    }
    heat_init(init, n);
    size_t chunk = (n + 4 * w - 1) / (4 * w);
    struct heatrun hs = {pool, w, a, b, init, ctx, n, S.heat_steps, chunk}, ho = hs, hr = hs;
    struct impl im[] = {{"shmpool", w, heat_shmpool, &hs, (double)(n * n * S.heat_steps)},
                        {"openmp", w, heat_openmp, &ho, (double)(n * n * S.heat_steps)},
                        {"serial", 1, heat_serial, &hr, (double)(n * n * S.heat_steps)}};
    /* The three share a and b; each run starts from init and the check compares what each left:
       the serial result is copied out after its runs, the others compared in turn. */
    measure("heat", im, 3);
    heat_serial(&hr, 0);
    memcpy(ref, hr.result, bytes);
    heat_shmpool(&hs, 0);
    if (memcmp(hs.result, ref, bytes))
        FAIL("heat: shmpool grid differs from serial");
    heat_openmp(&ho, 0);
    if (memcmp(ho.result, ref, bytes))
        FAIL("heat: openmp grid differs from serial");
out:
    free(init), free(ref);
    shmpool_destroy(pool);
}

const struct workload workload_heat = {"heat", run};
