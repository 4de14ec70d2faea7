/* pool_doubler: the tutorial's Pool examples with doubler: map, map_async, starmap of (x, x+1)
 * pairs, and map over a 2-element struct; results come back in input order.
 *
 * Mirrors "Using Pool.map", "Using Pool.map_async" and "Using Pool.starmap"
 * (../shared/seed/parallel-processing-in-python.md). Here the inputs and outputs are plain arrays
 * in this process: shmpool copies them through shared memory (use shmpool_alloc memory to skip
 * the copy, as heavy does). starmap takes its arguments as columns (structure of arrays): no
 * tuples are built.
 *
 *     pool_doubler [--workers 3]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmpool.h"

/* Tasks run in the workers: what they print goes out when they flush. */
static int doubler(const void *in, void *out, void *ctx) {
    (void)ctx;
    int number = *(const int *)in, result = number * 2;
    printf("%d doubled to %d by process id: %ld\n", number, result, (long)getpid());
    fflush(stdout);
    *(int *)out = result;
    return 0;
}

static int doubler_adder(const void *const args[], void *out, void *ctx) {
    (void)ctx;
    int a = *(const int *)args[0], b = *(const int *)args[1], result = a * 2 + b * 2;
    printf("%d  and %d doubled and added to %d by process id: %ld\n", a, b, result, (long)getpid());
    fflush(stdout);
    *(int *)out = result;
    return 0;
}

struct pair {
    int a, b;
};

static int doubler_adder_pair(const void *in, void *out, void *ctx) {
    (void)ctx;
    const struct pair *p = in;
    int result = p->a * 2 + p->b * 2;
    printf("%d  and %d doubled and added to %d by process id: %ld\n", p->a, p->b, result,
           (long)getpid());
    fflush(stdout);
    *(int *)out = result;
    return 0;
}

static void print_ints(const char *what, const int *v, size_t n) {
    printf("%s: [", what);
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? ", " : "", v[i]);
    printf("]\n");
}

static int check(const char *what, int rc, const int *got, const int *want, size_t n) {
    if (rc) {
        fprintf(stderr, "pool_doubler: FAIL: %s: %s\n", what, shmpool_strerror(rc));
        return 1;
    }
    if (memcmp(got, want, n * sizeof *got)) {
        fprintf(stderr, "pool_doubler: FAIL: %s: results out of order or wrong\n", what);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* our lines and the workers' interleave as they happen */
    unsigned workers = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
            workers = (unsigned)strtoul(argv[++i], NULL, 0);
        } else {
            int help = !strcmp(argv[i], "--help");
            fprintf(help ? stdout : stderr, "usage: pool_doubler [--workers 3]\n");
            return help ? 0 : 2;
        }
    }

    /* pool = mp.Pool(processes=3) */
    shmpool *pool;
    shmpool_options opt = {.workers = workers};
    int rc = shmpool_create(&pool, &opt);
    if (rc) {
        fprintf(stderr, "pool_doubler: shmpool_create: %s\n", shmpool_strerror(rc));
        return 1;
    }
    int failed = 0;
    const int numbers[5] = {5, 10, 15, 20, 25}, doubled[5] = {10, 20, 30, 40, 50};
    int result[10];

    /* result = pool.map(doubler, numbers); chunk 0: automatic (ceil(n / (4 * workers))) */
    printf("== map\n");
    rc = shmpool_map(pool, doubler, NULL, numbers, sizeof(int), result, sizeof(int), 5, 0);
    print_ints("input data", numbers, 5);
    print_ints("results are in corresponding order", result, 5);
    failed |= check("map", rc, result, doubled, 5);

    /* result = pool.map_async(doubler, numbers); ...; results = result.get() */
    printf("== map_async\n");
    memset(result, 0, sizeof result);
    shmpool_result *r;
    rc = shmpool_map_async(pool, doubler, NULL, numbers, sizeof(int), result, sizeof(int), 5, 0, &r);
    if (!rc) {
        /* ... here we could do some stuff while the workers run ... */
        rc = shmpool_result_get(r, -1);
        shmpool_result_free(r);
    }
    print_ints("results are in corresponding order", result, 5);
    failed |= check("map_async", rc, result, doubled, 5);

    /* pool.starmap(doubler_adder, [(x, x+1) for x in range(0, 10)]): two columns */
    printf("== starmap\n");
    int a[10], b[10], want[10];
    for (int x = 0; x < 10; x++)
        a[x] = x, b[x] = x + 1, want[x] = 4 * x + 2;
    const void *const cols[2] = {a, b};
    const size_t sizes[2] = {sizeof(int), sizeof(int)};
    rc = shmpool_starmap(pool, doubler_adder, NULL, 2, cols, sizes, result, sizeof(int), 10, 0);
    print_ints("results are in corresponding order", result, 10);
    failed |= check("starmap", rc, result, want, 10);

    /* pool.map(doubler_adder, [[x, x+1] for x in range(0, 10)]): one struct per item */
    printf("== map over a 2-element struct\n");
    struct pair pairs[10];
    for (int x = 0; x < 10; x++)
        pairs[x] = (struct pair){x, x + 1};
    memset(result, 0, sizeof result);
    rc = shmpool_map(pool, doubler_adder_pair, NULL, pairs, sizeof *pairs, result, sizeof(int), 10,
                     0);
    print_ints("results are in corresponding order", result, 10);
    failed |= check("map over pairs", rc, result, want, 10);

    shmpool_destroy(pool);
    if (!failed)
        printf("ok: map, map_async, starmap and map over pairs, results in order\n");
    return failed;
}
