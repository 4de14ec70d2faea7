/* staged_map: shmpool_map over 20M doubles in malloc'd memory (staged: copied into shared memory
 * and back) against the same map in place (shmpool_alloc memory) and a serial copy of the same
 * bytes in and out (what staging costs at least). The target is staged <= 3x the serial copy. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int twice(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(double *)out = 2 * *(const double *)in;
    return 0;
}

struct run {
    shmpool *pool;
    double *in, *out, *tmp_in, *tmp_out;
    size_t n;
    int mode; /* 0 map, 1 copy */
};

static double once(void *arg, int warm) {
    (void)warm;
    struct run *r = arg;
    double t0 = now();
    if (r->mode == 0) {
        int rc = shmpool_map(r->pool, twice, NULL, r->in, sizeof(double), r->out, sizeof(double),
                             r->n, 0);
        if (rc) {
            FAIL("staged_map: %s", shmpool_strerror(rc));
            return -2;
        }
    } else { /* what staging must do at least: copy in, copy out */
        memcpy(r->tmp_in, r->in, r->n * sizeof(double));
        memcpy(r->out, r->tmp_out, r->n * sizeof(double));
    }
    return now() - t0;
}

static void run(void) {
    unsigned w = O.workers;
    size_t n = O.quick ? 1000000 : 20000000, bytes = n * sizeof(double);
    shmpool *pool = make_pool(w);
    if (!pool)
        return;
    double *in = malloc(bytes), *out = malloc(bytes), *tin = malloc(bytes), *tout = malloc(bytes);
    double *sin_ = shmpool_alloc(pool, bytes), *sout = shmpool_alloc(pool, bytes);
    if (!in || !out || !tin || !tout || !sin_ || !sout) {
        FAIL("staged_map: out of memory");
        goto out;
    }
    fill_uniform(in, n, 11);
    memcpy(sin_, in, bytes);
    memset(tout, 0, bytes), memset(tin, 0, bytes);
    struct run staged = {pool, in, out, NULL, NULL, n, 0};
    struct run inplace = {pool, sin_, sout, NULL, NULL, n, 0};
    struct run copy = {pool, in, out, tin, tout, n, 1};
    struct impl im[] = {{"shmpool-staged", w, once, &staged, (double)n},
                        {"shmpool-in_place", w, once, &inplace, (double)n},
                        {"serial_copy", 1, once, &copy, (double)n}};
    measure("staged_map", im, 3);
    once(&staged, 0);
    if (out[n - 1] != 2 * in[n - 1])
        FAIL("staged_map: wrong result");
out:
    free(in), free(out), free(tin), free(tout);
    shmpool_destroy(pool);
}

const struct workload workload_staged_map = {"staged_map", run};
