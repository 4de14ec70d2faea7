/* starmap: 1M tiny (x+y)^2 items, automatic chunk (the pairs: pairs.c) */
#include <stdlib.h>
#include <string.h>

#include "pairs.h"

static double star_serial(void *arg, int warm) {
    (void)warm;
    struct star *s = arg;
    double t0 = now();
    for (size_t i = 0; i < s->n; i++)
        s->out[i] = f_xy(s->x[i], s->y[i]);
    return now() - t0;
}

static void run(void) {
    struct pairs *p = pairs_get();
    if (!p)
        return;
    unsigned w = p->w;
    struct star st = {p->pool, p->x, p->y, p->out, S.star_n, 0}, ss = st;
    int32_t *sout = malloc(S.star_n * sizeof *sout);
    ss.out = sout;
    memset(sout, -1, S.star_n * sizeof *sout);
    struct pyarg pp = {0};
    snprintf(pp.cmd, sizeof pp.cmd,
             "\"workload\": \"starmap\", \"impl\": \"python_pool\", \"workers\": %u, "
             "\"path\": \"%s\", \"n\": %zu", w, p->path, S.star_n);
    struct impl im[] = {{"shmpool", w, star_shmpool, &st, (double)S.star_n},
                        {"python_pool", w, py_run, &pp, (double)S.star_n, 0, 1},
                        {"serial", 1, star_serial, &ss, (double)S.star_n}};
    measure("starmap", im, 3);
    if (memcmp(p->out, p->ref, S.star_n * sizeof *p->out) ||
        memcmp(sout, p->ref, S.star_n * sizeof *p->out))
        FAIL("starmap: results differ");
    if (find("starmap", "python_pool", w) && pp.check != (double)p->refsum)
        FAIL("starmap: python sum %.0f vs %lld", pp.check, (long long)p->refsum);
    free(sout);
}

const struct workload workload_starmap = {"starmap", run, 1, pairs_done};
