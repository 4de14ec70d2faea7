/* apply_async: S.async_n shmpool_apply_async calls on the pairs (pairs.c), then every result;
 * seconds: the whole batch.
 */
#include <stdlib.h>

#include "pairs.h"

static double apply_async_shmpool(void *arg, int warm) {
    (void)warm;
    struct apply *a = arg;
    shmpool_result **r = malloc(a->calls * sizeof *r);
    int32_t(*outs)[1] = malloc(a->calls * sizeof *outs);
    if (!r || !outs) {
        free(r), free(outs);
        return -2;
    }
    int64_t sum = 0;
    int rc = 0;
    double t0 = now();
    for (size_t i = 0; i < a->calls && !rc; i++) {
        int32_t args[2] = {a->x[i % a->nxy], a->y[i % a->nxy]};
        rc = shmpool_apply_async(a->pool, f_apply, NULL, args, sizeof args, outs[i],
                                 sizeof outs[i], &r[i]);
    }
    for (size_t i = 0; i < a->calls && !rc; i++) {
        rc = shmpool_result_get(r[i], -1);
        sum += outs[i][0];
        shmpool_result_free(r[i]);
    }
    double t = now() - t0;
    free(r), free(outs);
    if (rc) {
        FAIL("apply_async: %s", shmpool_strerror(rc));
        return -2;
    }
    a->sum = sum;
    return t;
}

static void run(void) {
    struct pairs *p = pairs_get();
    if (!p)
        return;
    unsigned w = p->w;
    size_t n = p->n;
    struct apply a = {p->pool, p->x, p->y, n, S.async_n};
    struct pyarg pp = {0};
    snprintf(pp.cmd, sizeof pp.cmd,
             "\"workload\": \"apply_async\", \"impl\": \"python_pool\", \"workers\": %u, "
             "\"path\": \"%s\", \"n\": %zu, \"calls\": %zu", w, p->path, n, S.py_async_n);
    struct impl im[] = {{"shmpool", w, apply_async_shmpool, &a, (double)S.async_n},
                        {"python_pool", w, py_run, &pp, (double)S.py_async_n, 0, 1}};
    measure("apply_async", im, 2);
    int64_t want = 0;
    for (size_t i = 0; i < S.async_n; i++)
        want += p->ref[i % n];
    if (a.sum != want)
        FAIL("apply_async: sum %lld vs %lld", (long long)a.sum, (long long)want);
}

const struct workload workload_apply_async = {"apply_async", run, 1, pairs_done};
