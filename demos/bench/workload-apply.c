/* apply: one shmpool_apply at a time, (x+y)^2 of one pair (pairs.c); seconds: the median
 * round-trip latency of a round's calls.
 */
#include <stdlib.h>

#include "pairs.h"

static double apply_shmpool(void *arg, int warm) {
    (void)warm;
    struct apply *a = arg;
    int64_t sum = 0;
    for (size_t i = 0; i < a->calls; i++) {
        int32_t args[2] = {a->x[i % a->nxy], a->y[i % a->nxy]}, out;
        double t0 = now();
        int rc = shmpool_apply(a->pool, f_apply, NULL, args, sizeof args, &out, sizeof out);
        a->lat[i] = now() - t0;
        if (rc) {
            FAIL("apply: %s", shmpool_strerror(rc));
            return -2;
        }
        sum += out;
    }
    a->sum = sum;
    return median(a->lat, a->calls);
}

static void run(void) {
    struct pairs *p = pairs_get();
    if (!p)
        return;
    unsigned w = p->w;
    size_t n = p->n;
    struct apply a = {p->pool, p->x, p->y, n, S.apply_calls, malloc(S.apply_calls * sizeof(double))};
    struct pyarg pp = {0};
    snprintf(pp.cmd, sizeof pp.cmd,
             "\"workload\": \"apply\", \"impl\": \"python_pool\", \"workers\": %u, "
             "\"path\": \"%s\", \"n\": %zu, \"calls\": %zu", w, p->path, n, S.py_apply_calls);
    struct impl im[] = {{"shmpool", w, apply_shmpool, &a, 1},
                        {"python_pool", w, py_run, &pp, 1, 0, 1}};
    if (a.lat)
        measure("apply", im, 2);
    int64_t want = 0;
    for (size_t i = 0; i < S.apply_calls; i++)
        want += p->ref[i % n];
    if (a.lat && a.sum != want)
        FAIL("apply: sum %lld vs %lld", (long long)a.sum, (long long)want);
    free(a.lat);
}

const struct workload workload_apply = {"apply", run, 1, pairs_done};
