/* apply_async: a loop of apply_async(doubler, numbers[i]), each collected with get(timeout).
 *
 * Mirrors the tutorial's "Using Pool.apply" (../shared/seed/parallel-processing-in-python.md):
 *     results.append(pool.apply_async(doubler, (numbers[i],)).get(timeout=1))
 * Calling get right after each apply_async waits for that one task, so the tasks run one after
 * the other: the loop is as serial as apply. To overlap them, submit them all first and get
 * them afterwards (this demo does both).
 *
 *     apply_async [--workers 3] [--timeout-ms 1000]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmpool.h"

static int doubler(const void *in, void *out, void *ctx) {
    (void)ctx;
    int number = *(const int *)in, result = number * 2;
    printf("%d doubled to %d by process id: %ld\n", number, result, (long)getpid());
    fflush(stdout);
    *(int *)out = result;
    return 0;
}

static void print_ints(const char *label, const int *v, size_t n) {
    printf("%s[", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? ", " : "", v[i]);
    printf("]\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* our lines and the workers' interleave as they happen */
    unsigned workers = 3;
    int timeout_ms = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
            workers = (unsigned)strtoul(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) {
            timeout_ms = atoi(argv[++i]);
        } else {
            int help = !strcmp(argv[i], "--help");
            fprintf(help ? stdout : stderr, "usage: apply_async [--workers 3] [--timeout-ms 1000]\n");
            return help ? 0 : 2;
        }
    }
    shmpool *pool;
    shmpool_options opt = {.workers = workers};
    int rc = shmpool_create(&pool, &opt);
    if (rc) {
        fprintf(stderr, "apply_async: shmpool_create: %s\n", shmpool_strerror(rc));
        return 1;
    }
    const int numbers[5] = {5, 10, 15, 20, 25};
    int results[5] = {0}, later[5] = {0}, failed = 0;

    /* The tutorial's loop: apply_async, then get(timeout) at once. */
    for (size_t i = 0; i < 5 && !failed; i++) {
        shmpool_result *r;
        rc = shmpool_apply_async(pool, doubler, NULL, &numbers[i], sizeof(int), &results[i],
                                 sizeof(int), &r);
        if (!rc) {
            rc = shmpool_result_get(r, timeout_ms); /* -ETIMEDOUT: still running, ask again */
            shmpool_result_free(r);
        }
        if (rc) {
            fprintf(stderr, "apply_async: FAIL: item %zu: %s\n", i, shmpool_strerror(rc));
            failed = 1;
        }
    }
    print_ints("", results, 5);

    /* Submit all, then collect: the tasks overlap. */
    shmpool_result *rs[5] = {0};
    for (size_t i = 0; i < 5 && !failed; i++)
        if ((rc = shmpool_apply_async(pool, doubler, NULL, &numbers[i], sizeof(int), &later[i],
                                      sizeof(int), &rs[i])))
            failed = 1;
    for (size_t i = 0; i < 5; i++) {
        if (rs[i] && (rc = shmpool_result_get(rs[i], timeout_ms))) {
            fprintf(stderr, "apply_async: FAIL: item %zu: %s\n", i, shmpool_strerror(rc));
            failed = 1;
        }
        shmpool_result_free(rs[i]);
    }
    if (!failed)
        print_ints("submit all, then get: ", later, 5);
    shmpool_destroy(pool);

    for (size_t i = 0; i < 5; i++)
        if (results[i] != 2 * numbers[i] || later[i] != 2 * numbers[i])
            failed = 1;
    if (failed) {
        fprintf(stderr, "apply_async: FAIL: wrong results\n");
        return 1;
    }
    printf("ok: both loops gave [10, 20, 30, 40, 50]\n");
    return 0;
}
