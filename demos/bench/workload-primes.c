/* primes: the prime factors of 100 numbers in [1e10, 1e12], one number per task; with `scaling`,
 * again for each --scaling worker count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "prime_factors.h"

struct primes {
    shmpool *pool;
    unsigned w;
    const uint64_t *data; /* shmpool memory */
    struct factors *out;  /* shmpool memory for the pool */
    size_t n;
};
static double primes_shmpool(void *arg, int warm) {
    (void)warm;
    struct primes *p = arg;
    double t0 = now();
    int rc = shmpool_map(p->pool, factor_task, NULL, p->data, sizeof *p->data, p->out,
                         sizeof *p->out, p->n, 1);
    double t = now() - t0;
    if (rc) {
        FAIL("primes: %s", shmpool_strerror(rc));
        return -2;
    }
    return t;
}
static double primes_openmp(void *arg, int warm) {
    (void)warm;
    struct primes *p = arg;
    double t0 = now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->w)
    for (size_t i = 0; i < p->n; i++)
        prime_factors(p->data[i], &p->out[i]);
    return now() - t0;
}
static double primes_serial(void *arg, int warm) {
    (void)warm;
    struct primes *p = arg;
    double t0 = now();
    for (size_t i = 0; i < p->n; i++)
        prime_factors(p->data[i], &p->out[i]);
    return now() - t0;
}
static double factors_sum(const struct factors *f, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < f[i].count; j++)
            s += (double)f[i].f[j];
    return s;
}

/* The numbers and their factors, made once for every workers count. */
struct numbers {
    uint64_t *plain;
    struct factors *ref;
    double refsum;
    char path[64]; /* the numbers for bench.py; empty if it could not be written */
};

static int numbers_make(struct numbers *d, size_t n) {
    d->plain = malloc(n * sizeof *d->plain);
    d->ref = calloc(n, sizeof *d->ref);
    if (!d->plain || !d->ref) {
        free(d->plain), free(d->ref);
        FAIL("primes: out of memory");
        return -1;
    }
    uint64_t s = 1; /* np.random.uniform(1e10, 1e12, 100), as integers */
    for (size_t i = 0; i < n; i++)
        d->plain[i] = (uint64_t)(S.primes_lo + (S.primes_hi - S.primes_lo) *
                                                   ((double)(splitmix64(&s) >> 11) * 0x1p-53));
    for (size_t i = 0; i < n; i++)
        prime_factors(d->plain[i], &d->ref[i]);
    d->refsum = factors_sum(d->ref, n);
    if (write_tmp(d->path, sizeof d->path, d->plain, n * sizeof *d->plain))
        d->path[0] = 0;
    return 0;
}

/* One pool of w workers: measure, check; serial C on the first only. -1: stop. */
static int primes_at(const struct numbers *d, size_t n, unsigned w, int first) {
    shmpool *pool = make_pool(w);
    if (!pool)
        return -1;
    uint64_t *data = shmpool_alloc(pool, n * sizeof *data);
    struct factors *out = shmpool_alloc(pool, n * sizeof *out);
    struct factors *out2 = calloc(n, sizeof *out2), *out3 = calloc(n, sizeof *out3);
    if (!data || !out || !out2 || !out3) {
        FAIL("primes: out of memory");
        free(out2), free(out3);
        shmpool_destroy(pool);
        return -1;
    }
    memcpy(data, d->plain, n * sizeof *data);
    struct primes ps = {pool, w, data, out, n}, po = {pool, w, data, out2, n},
                  pr = {pool, 1, data, out3, n};
    struct pyarg pp = {0};
    snprintf(pp.cmd, sizeof pp.cmd,
             "\"workload\": \"primes\", \"impl\": \"python_pool\", \"workers\": %u, "
             "\"path\": \"%s\", \"n\": %zu", w, d->path, n);
    int pyreps = O.reps < O.py_reps_slow ? O.reps : O.py_reps_slow;
    struct impl im[] = {{"shmpool", w, primes_shmpool, &ps, (double)n},
                        {"openmp", w, primes_openmp, &po, (double)n},
                        {"python_pool", w, py_run, &pp, (double)n, pyreps, 1},
                        {"serial", 1, primes_serial, &pr, (double)n}};
    measure("primes", im, first ? 4 : 3);
    if (memcmp(out, d->ref, n * sizeof *out) || memcmp(out2, d->ref, n * sizeof *out2) ||
        (first && memcmp(out3, d->ref, n * sizeof *out3)))
        FAIL("primes: results differ");
    if (find("primes", "python_pool", w) && !(fabs(pp.check - d->refsum) <= 1e-12 * d->refsum))
        FAIL("primes: python factors sum %.17g vs %.17g", pp.check, d->refsum);
    free(out2), free(out3);
    shmpool_destroy(pool);
    return 0;
}

static void run(void) {
    size_t n = S.primes_n;
    struct numbers d = {0};
    if (numbers_make(&d, n))
        return;
    unsigned ws[9];
    int nw = worker_counts(ws);
    for (int k = 0; k < nw; k++)
        if (primes_at(&d, n, ws[k], k == 0))
            break;
    py_drop();
    if (d.path[0])
        unlink(d.path);
    free(d.plain), free(d.ref);
}

const struct workload workload_primes = {"primes", run, 1};
