/* naive_tasks: 1,000,000 tiny (x+y)^2 tasks. The pool cannot win when each item is a nanosecond
 * of work: the lesson of the tutorial's "1. Naive approach"
 * (../shared/seed/parallel-processing-in-python.md).
 *
 * x and y are random integers in [1, 10) (fixed seed), in shmpool_alloc memory, so nothing is
 * copied; starmap passes them as two columns (structure of arrays, no tuples). Four ways:
 * starmap, starmap_async + get, a serial loop calling f per item, and a loop the compiler
 * vectorizes. Also starmap with chunk 1 (one task per item, the default of Python's imap) to
 * show the per-task overhead. The automatic chunk is Python's rule: ceil(n / (4 * workers)).
 *
 *     naive_tasks [--n 1000000] [--workers W] [--seed S]
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmpool.h"

/* The tutorial's f(x, y) = (x + y) ** 2. noinline: the serial loop really calls it per item. */
__attribute__((noinline)) static int32_t f(int32_t x, int32_t y) {
    return (x + y) * (x + y);
}

static int f_star(const void *const args[], void *out, void *ctx) {
    (void)ctx;
    *(int32_t *)out = f(*(const int32_t *)args[0], *(const int32_t *)args[1]);
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void first_values(const char *name, const int32_t *v, size_t n) {
    printf("first values in %s: [", name);
    for (size_t i = 0; i < n && i < 10; i++)
        printf("%s%d", i ? " " : "", (int)v[i]);
    printf("]\n");
}

int main(int argc, char **argv) {
    size_t n = 1000000;
    unsigned workers = 2; /* the tutorial's mp.Pool(2) */
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(a, "--n"))
            n = strtoull(v, NULL, 0), i++;
        else if (v && !strcmp(a, "--workers"))
            workers = (unsigned)strtoul(v, NULL, 0), i++;
        else if (v && !strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 0), i++;
        else {
            int help = !strcmp(a, "--help");
            fprintf(help ? stdout : stderr,
                    "usage: naive_tasks [--n 1000000] [--workers 2 (0: usable cores)] [--seed 1]\n");
            return help ? 0 : 2;
        }
    }
    if (n == 0)
        return 2;

    shmpool *pool;
    shmpool_options opt = {.workers = workers};
    int rc = shmpool_create(&pool, &opt);
    if (rc) {
        fprintf(stderr, "naive_tasks: shmpool_create: %s\n", shmpool_strerror(rc));
        return 1;
    }
    int status = 1;
    size_t bytes = n * sizeof(int32_t);
    int32_t *x = shmpool_alloc(pool, bytes), *y = shmpool_alloc(pool, bytes);
    int32_t *r1 = shmpool_alloc(pool, bytes), *r2 = shmpool_alloc(pool, bytes);
    int32_t *r1c = shmpool_alloc(pool, bytes), *r3 = malloc(bytes), *r4 = malloc(bytes);
    if (!x || !y || !r1 || !r2 || !r1c || !r3 || !r4) {
        fprintf(stderr, "naive_tasks: out of memory\n");
        goto out;
    }
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        x[i] = (int32_t)(1 + splitmix64(&s) % 9);
        y[i] = (int32_t)(1 + splitmix64(&s) % 9);
    }
    first_values("x", x, n);
    first_values("y", y, n);
    unsigned w = shmpool_workers(pool);
    size_t auto_chunk = (n + 4 * (size_t)w - 1) / (4 * (size_t)w);
    printf("%zu items, %u workers, automatic chunk ceil(n / (4 * workers)) = %zu items per task\n",
           n, w, auto_chunk);

    const void *const cols[2] = {x, y};
    const size_t sizes[2] = {sizeof(int32_t), sizeof(int32_t)};

    /* Warm up, untimed: the first touch of each page (here and in each worker) costs a page
       fault, which would otherwise dwarf a nanosecond of work per item. */
    memset(r3, -1, bytes); /* not 0: GCC would fold malloc + memset 0 into an untouched calloc */
    memset(r4, -1, bytes);
    int32_t *outs[3] = {r1, r2, r1c};
    for (int k = 0; k < 3 && !rc; k++)
        rc = shmpool_starmap(pool, f_star, NULL, 2, cols, sizes, outs[k], sizeof(int32_t), n, 0);
    if (rc) {
        fprintf(stderr, "naive_tasks: starmap: %s\n", shmpool_strerror(rc));
        goto out;
    }
    memset(r1, 0, bytes), memset(r2, 0, bytes), memset(r1c, 0, bytes);

    /* pool.starmap(f, xy) */
    double t0 = now();
    rc = shmpool_starmap(pool, f_star, NULL, 2, cols, sizes, r1, sizeof(int32_t), n, 0);
    double t_star = now() - t0;
    if (rc) {
        fprintf(stderr, "naive_tasks: starmap: %s\n", shmpool_strerror(rc));
        goto out;
    }

    /* pool.starmap_async(f, xy) ... .get() */
    t0 = now();
    shmpool_result *r;
    rc = shmpool_starmap_async(pool, f_star, NULL, 2, cols, sizes, r2, sizeof(int32_t), n, 0, &r);
    if (!rc) {
        rc = shmpool_result_get(r, -1);
        shmpool_result_free(r);
    }
    double t_async = now() - t0;
    if (rc) {
        fprintf(stderr, "naive_tasks: starmap_async: %s\n", shmpool_strerror(rc));
        goto out;
    }

    /* One task per item: chunk 1 */
    t0 = now();
    rc = shmpool_starmap(pool, f_star, NULL, 2, cols, sizes, r1c, sizeof(int32_t), n, 1);
    double t_chunk1 = now() - t0;
    if (rc) {
        fprintf(stderr, "naive_tasks: starmap chunk 1: %s\n", shmpool_strerror(rc));
        goto out;
    }

    /* Serial: for i in range(len(x)): result3[i] = f(x[i], y[i]) */
    t0 = now();
    for (size_t i = 0; i < n; i++)
        r3[i] = f(x[i], y[i]);
    double t_serial = now() - t0;

    /* Vectorized: result3 = f(x, y) as one expression over the arrays */
    t0 = now();
    for (size_t i = 0; i < n; i++)
        r4[i] = (x[i] + y[i]) * (x[i] + y[i]);
    double t_vec = now() - t0;

    first_values("result", r1, n);
    printf("time for pool.starmap:           %9.6f s\n", t_star);
    printf("time for pool.starmap_async:     %9.6f s\n", t_async);
    printf("time for pool.starmap, chunk 1:  %9.6f s  (%.0f ns per task)\n", t_chunk1,
           t_chunk1 / (double)n * 1e9);
    printf("time for single-process loop:    %9.6f s\n", t_serial);
    printf("time for vectorized loop:        %9.6f s\n", t_vec);
    printf("lesson: each item is about %.1f ns of work, less than handing out one task costs"
           " (%.0f ns),\n", t_vec / (double)n * 1e9, t_chunk1 / (double)n * 1e9);
    printf("        so the pool cannot beat one core here; give each task real work (see heavy).\n");

    if (memcmp(r1, r4, bytes) || memcmp(r2, r4, bytes) || memcmp(r1c, r4, bytes) ||
        memcmp(r3, r4, bytes)) {
        fprintf(stderr, "naive_tasks: FAIL: the results disagree\n");
        goto out;
    }
    printf("ok: all results agree\n");
    status = 0;
out:
    free(r3);
    free(r4);
    shmpool_destroy(pool);
    return status;
}
