/* create: shmpool_create + shmpool_destroy with 2 workers; seconds: the median of a round */
#include "bench.h"

struct create {
    unsigned w;
    size_t calls;
    double lat[1024];
};
static double create_shmpool(void *arg, int warm) {
    (void)warm;
    struct create *c = arg;
    for (size_t i = 0; i < c->calls; i++) {
        double t0 = now();
        shmpool *p = make_pool(c->w);
        if (!p)
            return -2;
        shmpool_destroy(p);
        c->lat[i] = now() - t0;
    }
    return median(c->lat, c->calls);
}

static void run(void) {
    unsigned w = O.workers;
    struct create c = {.w = w, .calls = S.create_calls > 1024 ? 1024 : S.create_calls};
    struct pyarg pp = {0};
    snprintf(pp.cmd, sizeof pp.cmd,
             "\"workload\": \"create\", \"impl\": \"python_pool\", \"workers\": %u, \"calls\": %zu",
             w, S.py_create_calls);
    struct impl im[] = {{"shmpool", w, create_shmpool, &c, 1},
                        {"python_pool", w, py_run, &pp, 1, 0, 1}};
    measure("create", im, 2);
}

const struct workload workload_create = {"create", run, 1};
