/* starmap_chunk1: starmap with chunk 1, one task per item (the pairs: pairs.c); Python's Pool
 * runs S.py_star1_n of them (a tenth: it is that slow).
 */
#include <string.h>

#include "pairs.h"

static void run(void) {
    struct pairs *p = pairs_get();
    if (!p)
        return;
    unsigned w = p->w;
    memset(p->out, 0, S.star1_n * sizeof *p->out);
    struct star st = {p->pool, p->x, p->y, p->out, S.star1_n, 1};
    struct pyarg pp = {0};
    snprintf(pp.cmd, sizeof pp.cmd,
             "\"workload\": \"starmap_chunk1\", \"impl\": \"python_pool\", \"workers\": %u, "
             "\"path\": \"%s\", \"n\": %zu", w, p->path, S.py_star1_n);
    struct impl im[] = {{"shmpool", w, star_shmpool, &st, (double)S.star1_n},
                        {"python_pool", w, py_run, &pp, (double)S.py_star1_n, 0, 1}};
    measure("starmap_chunk1", im, 2);
    if (memcmp(p->out, p->ref, S.star1_n * sizeof *p->out))
        FAIL("starmap chunk 1: results differ");
    if (find("starmap_chunk1", "python_pool", w) && pp.check != (double)p->refsum1)
        FAIL("starmap chunk 1: python sum %.0f vs %lld", pp.check, (long long)p->refsum1);
}

const struct workload workload_starmap_chunk1 = {"starmap_chunk1", run, 1, pairs_done};
