/* The (x, y) pairs of the tiny-task workloads and their task: see pairs.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pairs.h"

static struct pairs P;
static enum { NOT_YET, MADE, FAILED } state;

__attribute__((noinline)) int32_t f_xy(int32_t x, int32_t y) {
    return (x + y) * (x + y);
}

static int f_star(const void *const args[], void *out, void *ctx) {
    (void)ctx;
    *(int32_t *)out = f_xy(*(const int32_t *)args[0], *(const int32_t *)args[1]);
    return 0;
}

/* shmpool_starmap with s->chunk (0: automatic); starmap_chunk1 runs it with chunk 1. */
double star_shmpool(void *arg, int warm) {
    (void)warm;
    struct star *s = arg;
    const void *const cols[2] = {s->x, s->y};
    const size_t sizes[2] = {sizeof(int32_t), sizeof(int32_t)};
    double t0 = now();
    int rc = shmpool_starmap(s->pool, f_star, NULL, 2, cols, sizes, s->out, sizeof(int32_t), s->n,
                             s->chunk);
    double t = now() - t0;
    if (rc) {
        FAIL("starmap: %s", shmpool_strerror(rc));
        return -2;
    }
    return t;
}

int f_apply(const void *in, void *out, void *ctx) {
    (void)ctx;
    const int32_t *a = in;
    *(int32_t *)out = f_xy(a[0], a[1]);
    return 0;
}

/* x then y, int32, for bench.py */
static void write_pairs(struct pairs *p) {
    size_t n = p->n;
    int32_t *xy = malloc(2 * n * sizeof *xy);
    if (xy) {
        memcpy(xy, p->x, n * sizeof *p->x), memcpy(xy + n, p->y, n * sizeof *p->y);
        if (write_tmp(p->path, sizeof p->path, xy, 2 * n * sizeof *xy))
            p->path[0] = 0;
        free(xy);
    }
}

static int make_pairs(struct pairs *p) {
    p->w = O.workers;
    p->n = S.star_n > S.star1_n ? S.star_n : S.star1_n;
    size_t n = p->n;
    p->pool = make_pool(p->w);
    if (!p->pool)
        return -1;
    p->x = shmpool_alloc(p->pool, n * sizeof *p->x), p->y = shmpool_alloc(p->pool, n * sizeof *p->y);
    p->out = shmpool_alloc(p->pool, n * sizeof *p->out), p->ref = malloc(n * sizeof *p->ref);
    if (!p->x || !p->y || !p->out || !p->ref) {
        FAIL("starmap: out of memory");
        free(p->ref);
        shmpool_destroy(p->pool);
        return -1;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < n; i++) { /* np.random.randint(1, 10, n): integers in [1, 10) */
        p->x[i] = (int32_t)(1 + splitmix64(&s) % 9);
        p->y[i] = (int32_t)(1 + splitmix64(&s) % 9);
    }
    write_pairs(p);
    for (size_t i = 0; i < n; i++) {
        p->ref[i] = f_xy(p->x[i], p->y[i]);
        if (i < S.star_n)
            p->refsum += p->ref[i];
        if (i < S.py_star1_n)
            p->refsum1 += p->ref[i];
    }
    return 0;
}

struct pairs *pairs_get(void) {
    if (state == NOT_YET)
        state = make_pairs(&P) ? FAILED : MADE;
    return state == MADE ? &P : NULL;
}

void pairs_done(void) {
    if (state == MADE) {
        py_drop();
        if (P.path[0])
            unlink(P.path);
        free(P.ref);
        shmpool_destroy(P.pool);
    }
    memset(&P, 0, sizeof P);
    state = NOT_YET;
}
