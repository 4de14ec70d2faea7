/* heavy: 40M doubles in 4 chunks, the tutorial's heavy_function (heavy_kernel.c), per chunk;
 * with `scaling`, again for each --scaling worker count.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "heavy.h"
#include "heavy_kernel.h"

static int heavy_task(const void *in, void *out, void *ctx) {
    (void)ctx;
    const struct chunk *c = in;
    *(double *)out = heavy_sum(c->x, c->n);
    return 0;
}
static double heavy_total(struct heavy *h) {
    double t = 0;
    for (size_t c = 0; c < h->nchunks; c++)
        t += h->sums[c];
    return t;
}
static double heavy_shmpool(void *arg, int warm) {
    (void)warm;
    struct heavy *h = arg;
    double t0 = now();
    int rc = shmpool_map(h->pool, heavy_task, NULL, h->chunks, sizeof *h->chunks, h->sums,
                         sizeof(double), h->nchunks, 1);
    double t = now() - t0;
    if (rc) {
        FAIL("heavy shmpool_map: %s", shmpool_strerror(rc));
        return -2;
    }
    h->total = heavy_total(h);
    return t;
}
/* OpenMP: the same 4 chunk descriptors, one chunk per iteration, claimed dynamically (what
   shmpool's chunk counter does), the same heavy_sum per chunk: the same code, the same sums. */
double heavy_openmp(void *arg, int warm) {
    (void)warm;
    struct heavy *h = arg;
    double t0 = now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(h->w)
    for (size_t c = 0; c < h->nchunks; c++)
        h->sums[c] = heavy_sum(h->chunks[c].x, h->chunks[c].n);
    double t = now() - t0;
    h->total = heavy_total(h);
    return t;
}
static double heavy_serial(void *arg, int warm) {
    (void)warm;
    struct heavy *h = arg;
    double t0 = now();
    for (size_t c = 0; c < h->nchunks; c++)
        h->sums[c] = heavy_sum(h->chunks[c].x, h->chunks[c].n);
    double t = now() - t0;
    h->total = heavy_total(h);
    return t;
}

/* The data, its chunks and the sums in h->pool's memory; with a path, the data also goes to a
   file for bench.py (path empty if it could not). 0, or -1 (reported) when shmpool_alloc failed. */
static int heavy_data(struct heavy *h, size_t n, char *path) {
    /* The data lives only here (no other copy in this process, so the PSS measures the
       pool): made again, from the same seed, for each pool. */
    double *x = shmpool_alloc(h->pool, n * sizeof *x);
    size_t cs = (n + S.heavy_chunks - 1) / S.heavy_chunks;
    h->nchunks = (n + cs - 1) / cs;
    h->chunks = shmpool_alloc(h->pool, h->nchunks * sizeof *h->chunks);
    h->sums = shmpool_alloc(h->pool, h->nchunks * sizeof(double));
    if (!x || !h->chunks || !h->sums) {
        FAIL("heavy: shmpool_alloc: %s", strerror(errno));
        return -1;
    }
    fill_uniform(x, n, 1);
    if (path && write_tmp(path, 64, x, n * sizeof *x))
        path[0] = 0;
    for (size_t c = 0; c < h->nchunks; c++)
        h->chunks[c] = (struct chunk){x + c * cs, c + 1 < h->nchunks ? cs : n - c * cs};
    return 0;
}

/* Checks: the same kernel on the same chunks in the same order: bit-identical sums. */
static void heavy_check(const struct heavy *h, const struct heavy *h_omp,
                        const struct heavy *h_ser, const struct pyarg *pp,
                        const struct pyarg *pj, int first) {
    unsigned w = h->w;
    if (memcmp(&h->total, &h_omp->total, sizeof h->total) ||
        (first && memcmp(&h->total, &h_ser->total, sizeof h->total)))
        FAIL("heavy: sums differ: shmpool %.17g openmp %.17g serial %.17g", h->total,
             h_omp->total, h_ser->total);
    const struct pyarg *py[2] = {pp, pj};
    for (int i = 0; i < 2; i++)
        if (find("heavy", i ? "joblib" : "python_pool", w) &&
            !(fabs(py[i]->check - h->total) <= 1e-9 * fabs(h->total)))
            FAIL("heavy: %s sum %.17g vs C %.17g", i ? "joblib" : "python_pool",
                 py[i]->check, h->total);
    if (first)
        printf("  heavy: kernel clone %s; sums agree (C bit-identical, numpy %.1e relative)\n",
               heavy_sum_clone(),
               find("heavy", "python_pool", w) ? fabs(pp->check - h->total) / fabs(h->total)
                                               : 0.0);
}

/* One pool of w workers: measure, check. The first (the main workers count) writes the data
   file and runs serial C too. 0, or -1 when the pool could not be made. */
static int heavy_at(unsigned w, int first, char path[64]) {
    size_t n = S.heavy_n;
    struct heavy h = {.w = w};
    h.pool = make_pool(w);
    if (!h.pool)
        return -1;
    if (heavy_data(&h, n, first ? path : NULL)) {
        shmpool_destroy(h.pool);
        return -1;
    }
    struct heavy h_omp = h, h_ser = h;
    double sums_omp[64], sums_ser[64];
    h_omp.sums = sums_omp, h_ser.sums = sums_ser;
    struct pyarg pp = {0}, pj = {0};
    snprintf(pp.cmd, sizeof pp.cmd,
             "\"workload\": \"heavy\", \"impl\": \"python_pool\", \"workers\": %u, "
             "\"path\": \"%s\", \"n\": %zu, \"chunks\": %zu",
             w, path, n, S.heavy_chunks);
    snprintf(pj.cmd, sizeof pj.cmd,
             "\"workload\": \"heavy\", \"impl\": \"joblib\", \"workers\": %u, "
             "\"path\": \"%s\", \"n\": %zu, \"chunks\": %zu",
             w, path, n, S.heavy_chunks);
    int pyreps = O.reps < O.py_reps_slow ? O.reps : O.py_reps_slow;
    struct impl im[MAXIMPL] = {
        {"shmpool", w, heavy_shmpool, &h, (double)n},
        {"openmp", w, heavy_openmp, &h_omp, (double)n},
        {"python_pool", w, py_run, &pp, (double)n, pyreps, 1},
        {"joblib", w, py_run, &pj, (double)n, pyreps, 1},
        {"serial", 1, heavy_serial, &h_ser, (double)n},
    };
    measure("heavy", im, first ? 5 : 4); /* serial once */
    heavy_check(&h, &h_omp, &h_ser, &pp, &pj, first);
    shmpool_destroy(h.pool);
    return 0;
}

static void run(void) {
    char path[64] = "";
    unsigned ws[9];
    int nw = worker_counts(ws);
    for (int k = 0; k < nw; k++)
        if (heavy_at(ws[k], k == 0, path))
            break;
    py_drop();
    if (path[0])
        unlink(path);
}

const struct workload workload_heavy = {"heavy", run, 1};
