/* imap: how soon the first chunk of heavy's 40M-double map can be used. shmpool_imap_for over the
 * data in the automatic chunk size (ceil(n / (4 workers)), Python's rule), timed from submission
 * to shmpool_result_next handing out chunk 0 (input order); against one chunk's compute time,
 * heavy_sum over chunk 0 in this process, measured in the same run. The rest of each job is
 * taken too (untimed) and its per-chunk sums checked against the serial ones, bit for bit.
 * Chunk 0's worker also notes when it started and ended it (CLOCK_MONOTONIC is one clock for all
 * processes): the path's own cost, start latency and delivery latency, apart from how fast the
 * machine let the chunk compute in that run (other programs' load slows the two workers of the
 * imap run more than the one thread of the reference).
 */
#include <errno.h>
#include <string.h>

#include "heavy.h"
#include "heavy_kernel.h"

struct imap_data { /* shmpool memory: the workers read it through ctx */
    const double *x;
    double *sums; /* one per chunk */
    size_t chunk;
    double t_begin0, t_end0; /* chunk 0's compute, seen by its worker */
};
static int heavy_range(void *ctx, size_t b, size_t e) {
    struct imap_data *d = ctx;
    double t = b == 0 ? now() : 0;
    d->sums[b / d->chunk] = heavy_sum(d->x + b, e - b);
    if (b == 0)
        d->t_begin0 = t, d->t_end0 = now();
    return 0;
}

struct imap_run {
    shmpool *pool;
    struct imap_data *d;
    size_t n, nchunks;
    const double *ref; /* serial sums per chunk */
    double start[MAXREPS], compute[MAXREPS], deliver[MAXREPS]; /* per timed round */
    int nrounds;
};
static double imap_first(void *arg, int warm) {
    (void)warm;
    struct imap_run *a = arg;
    memset(a->d->sums, 0, a->nchunks * sizeof *a->d->sums);
    shmpool_result *r;
    double t0 = now();
    int rc = shmpool_imap_for(a->pool, heavy_range, a->d, a->n, 0, &r);
    size_t b = 0, e = 0;
    if (!rc)
        rc = shmpool_result_next(r, 0, &b, &e, -1);
    double t1 = now(), t = t1 - t0;
    if (!warm && !rc && a->nrounds < MAXREPS) {
        a->start[a->nrounds] = a->d->t_begin0 - t0;
        a->compute[a->nrounds] = a->d->t_end0 - a->d->t_begin0;
        a->deliver[a->nrounds++] = t1 - a->d->t_end0;
    }
    if (rc || b != 0 || e != a->d->chunk) {
        FAIL("imap: first chunk: %s (%zu, %zu)", shmpool_strerror(rc), b, e);
        shmpool_result_free(r);
        return -2;
    }
    while ((rc = shmpool_result_next(r, 0, &b, &e, -1)) == 0)
        ;
    if (rc != -ENODATA)
        FAIL("imap: %s", shmpool_strerror(rc));
    else if (memcmp(a->d->sums, a->ref, a->nchunks * sizeof *a->ref))
        FAIL("imap: chunk sums differ from the serial ones");
    shmpool_result_free(r);
    return t;
}
static double one_chunk(void *arg, int warm) {
    (void)warm;
    struct imap_run *a = arg;
    double t0 = now();
    volatile double s = heavy_sum(a->d->x, a->d->chunk);
    (void)s;
    return now() - t0;
}

static void run(void) {
    size_t n = S.heavy_n;
    unsigned w = O.workers;
    shmpool *pool = make_pool(w);
    if (!pool)
        return;
    size_t parts = 4 * (size_t)w, chunk = n / parts + (n % parts != 0);
    size_t nchunks = (n + chunk - 1) / chunk;
    double *x = shmpool_alloc(pool, n * sizeof *x);
    struct imap_data *d = shmpool_alloc(pool, sizeof *d);
    double *sums = shmpool_alloc(pool, nchunks * sizeof *sums), ref[64];
    if (!x || !d || !sums || nchunks > 64) {
        FAIL("imap: shmpool_alloc: %s", strerror(errno));
        shmpool_destroy(pool);
        return;
    }
    fill_uniform(x, n, 1);
    *d = (struct imap_data){x, sums, chunk};
    for (size_t c = 0; c < nchunks; c++)
        ref[c] = heavy_sum(x + c * chunk, c + 1 < nchunks ? chunk : n - c * chunk);
    struct imap_run a = {pool, d, n, nchunks, ref, {0}, {0}, {0}, 0};
    struct impl im[] = {{"shmpool_imap_first", w, imap_first, &a, (double)chunk},
                        {"one_chunk_serial", 1, one_chunk, &a, (double)chunk}};
    measure("imap", im, 2);
    struct meas *f = find("imap", "shmpool_imap_first", w), *c = find("imap", "one_chunk_serial", 1);
    if (f && c)
        printf("  imap: first of %zu chunks (%zu items each) after %.3f s; one chunk's compute "
               "%.3f s; ratio %.2f (target <= 1.2)\n",
               nchunks, chunk, f->med, c->med, f->med / c->med);
    if (f && a.nrounds) {
        double st = median(a.start, (size_t)a.nrounds), co = median(a.compute, (size_t)a.nrounds);
        double de = median(a.deliver, (size_t)a.nrounds);
        printf("  imap: in the same rounds, chunk 0 computed in %.3f s on its worker; the path "
               "added %.2f ms before it (submit to start) and %.2f ms after (end to next "
               "returning): first chunk / its compute in that run %.3f\n",
               co, st * 1e3, de * 1e3, f->med / co);
    }
    shmpool_destroy(pool);
}

const struct workload workload_imap = {"imap", run};
