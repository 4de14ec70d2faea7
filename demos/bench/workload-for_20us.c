/* for_20us: a parallel for of two ~20 us chunks, called back to back: the cost of a short loop in
 * a time-stepping code. shmpool as created by default, shmpool with the calling thread running
 * chunks (SHMPOOL_FLAG_CALLER_RUNS), OpenMP (static schedule), serial C. */
#include <stdlib.h>

#include "bench.h"

static size_t iters_20us; /* calibrated: this many steps of spin() take ~20 us */

static double spin(size_t iters, double x) {
    for (size_t i = 0; i < iters; i++)
        x = x * 1.0000001 + 1e-9;
    return x;
}

struct chunks {
    double out[2 * 8]; /* one cache line apart */
};

static int two_chunks(void *ctx, size_t b, size_t e) {
    struct chunks *c = *(struct chunks **)ctx;
    for (size_t i = b; i < e; i++)
        c->out[8 * i] = spin(iters_20us, (double)i);
    return 0;
}

struct run {
    shmpool *pool;
    struct chunks *c;
    size_t calls;
};

static double with_pool(void *arg, int warm) {
    (void)warm;
    struct run *r = arg;
    double t0 = now();
    for (size_t k = 0; k < r->calls; k++) {
        int rc = shmpool_for_ctx(r->pool, two_chunks, &r->c, sizeof r->c, 2, 1);
        if (rc) {
            FAIL("for_20us: %s", shmpool_strerror(rc));
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
#pragma omp parallel for schedule(static, 1) num_threads(2)
        for (size_t i = 0; i < 2; i++)
            two_chunks(&r->c, i, i + 1);
    }
    return now() - t0;
}

static double serial(void *arg, int warm) {
    (void)warm;
    struct run *r = arg;
    double t0 = now();
    for (size_t k = 0; k < r->calls; k++)
        two_chunks(&r->c, 0, 2);
    return now() - t0;
}

static void calibrate(void) {
    size_t it = 1000;
    for (;;) {
        double t0 = now();
        volatile double x = spin(it, 1.0);
        (void)x;
        double t = now() - t0;
        if (t > 2e-3) {
            iters_20us = (size_t)((double)it * 20e-6 / t);
            return;
        }
        it *= 2;
    }
}

static void run(void) {
    calibrate();
    unsigned w = O.workers;
    size_t calls = O.quick ? 200 : 2000;
    shmpool *plain = make_pool(w), *caller = NULL;
    shmpool_options o = {.workers = w, .flags = SHMPOOL_FLAG_QUIET | SHMPOOL_FLAG_CALLER_RUNS};
    if (shmpool_create(&caller, &o))
        FAIL("for_20us: create with CALLER_RUNS");
    if (!plain || !caller)
        goto out;
    struct chunks *c1 = shmpool_alloc(plain, sizeof *c1), *c2 = shmpool_alloc(caller, sizeof *c2);
    struct chunks *c3 = malloc(sizeof *c3);
    struct run a = {plain, c1, calls}, b = {caller, c2, calls}, o2 = {NULL, c3, calls};
    struct impl im[] = {{"shmpool", w, with_pool, &a, (double)calls},
                        {"shmpool-caller_runs", w, with_pool, &b, (double)calls},
                        {"openmp", 2, with_openmp, &o2, (double)calls},
                        {"serial", 1, serial, &o2, (double)calls}};
    measure("for_20us", im, 4);
    if (c1->out[8] != c3->out[8] || c2->out[8] != c3->out[8])
        FAIL("for_20us: results differ");
    free(c3);
out:
    shmpool_destroy(plain);
    shmpool_destroy(caller);
}

const struct workload workload_for_20us = {"for_20us", run};
