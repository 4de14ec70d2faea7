/* primes: prime factors of 100 random integers in [1e10, 1e12], serially and with the pool,
 * with a live progress bar while the pool works; the results must be identical.
 *
 * Mirrors the tutorial's "3. Another example: prime decomposition"
 * (../shared/seed/parallel-processing-in-python.md). There, tqdm wraps pool.map's finished list,
 * so its bar jumps from 0 to 100% at the end; shmpool_progress_wait redraws the bar while the
 * workers run (on stderr, when it is a terminal; --progress always forces it).
 * One number per task (chunk 1): the numbers take very different times, so small tasks balance.
 * In C the tutorial's sizes take a few hundredths of a second; --lo 1e14 --hi 1e16 runs long
 * enough (about a second) to watch the bar.
 *
 * With --as-completed each factorisation is printed the moment it is known (shmpool_imap and
 * shmpool_result_next in finishing order: Python's imap_unordered), with the bar kept below them.
 *
 *     primes [--n 100] [--lo 1e10] [--hi 1e12] [--workers 2] [--seed 1] [--progress auto]
 *            [--as-completed]
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmpool.h"
#include "prime_factors.h"

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

static void usage(FILE *f) {
    fprintf(f, "usage: primes [--n 100] [--lo 1e10] [--hi 1e12] [--workers 2 (0: usable cores)]"
               " [--seed 1] [--progress auto|always|never] [--as-completed]\n");
}

static void print_factors(size_t i, uint64_t v, const struct factors *f) {
    printf("#%zu %llu =", i, (unsigned long long)v);
    for (uint32_t j = 0; j < f->count; j++)
        printf("%s %llu", j ? " *" : "", (unsigned long long)f->f[j]);
    printf("\n");
}

/* The bar on stderr: on a terminal drawn in place ("\r", the line, clear to its end); elsewhere
   a plain line. */
static void draw_bar(const char *label, size_t done, size_t total, double t0, int tty,
                     const char *after) {
    char line[256];
    if (shmpool_progress_format(line, sizeof line, label, done, total, now() - t0, 25) >= 0) {
        fprintf(stderr, tty ? "\r%s\x1b[K%s" : "%s%s", line, after);
        fflush(stderr);
    }
}

/* Each number as soon as its factors are known, in finishing order; on a terminal the bar is
   redrawn below the last line printed (mode as shmpool_progress_wait's). */
static int as_completed(shmpool *pool, const uint64_t *data, struct factors *multi, size_t n,
                        int mode) {
    const char *label = "Multi-process execution";
    int tty = isatty(STDERR_FILENO), bar = tty && mode != SHMPOOL_PROGRESS_NEVER;
    double t0 = now();
    size_t done = 0, b, e;
    shmpool_result *r;
    int rc = shmpool_imap(pool, factor_task, NULL, data, sizeof *data, multi, sizeof *multi, n, 1,
                          &r);
    if (rc)
        return rc;
    while ((rc = shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, &b, &e, 100)) != -ENODATA) {
        if (rc == -ETIMEDOUT) { /* nothing new within 100 ms: keep the clock moving */
            if (bar)
                draw_bar(label, done, n, t0, 1, "");
            continue;
        }
        if (rc)
            break;
        if (bar)
            fputs("\r\x1b[K", stderr); /* the bar's line becomes the result's */
        for (size_t i = b; i < e; i++)
            print_factors(i, data[i], &multi[i]);
        done += e - b;
        if (bar)
            draw_bar(label, done, n, t0, 1, "");
    }
    if (rc == -ENODATA)
        rc = shmpool_result_get(r, -1);
    if (bar || mode == SHMPOOL_PROGRESS_ALWAYS) /* not a terminal: one line at the end */
        draw_bar(label, done, n, t0, tty, "\n");
    shmpool_result_free(r);
    return rc;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep our lines in order with the bar on stderr */
    size_t n = 100;
    double lo = 1e10, hi = 1e12;
    unsigned workers = 2; /* the tutorial's Pool(2) */
    uint64_t seed = 1;
    int mode = SHMPOOL_PROGRESS_AUTO, completed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(a, "--n"))
            n = strtoull(v, NULL, 0), i++;
        else if (v && !strcmp(a, "--lo"))
            lo = strtod(v, NULL), i++;
        else if (v && !strcmp(a, "--hi"))
            hi = strtod(v, NULL), i++;
        else if (v && !strcmp(a, "--workers"))
            workers = (unsigned)strtoul(v, NULL, 0), i++;
        else if (v && !strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 0), i++;
        else if (!strcmp(a, "--as-completed"))
            completed = 1;
        else if (v && !strcmp(a, "--progress")) {
            mode = !strcmp(v, "always") ? SHMPOOL_PROGRESS_ALWAYS
                   : !strcmp(v, "never") ? SHMPOOL_PROGRESS_NEVER
                                         : SHMPOOL_PROGRESS_AUTO;
            i++;
        } else {
            int help = !strcmp(a, "--help");
            usage(help ? stdout : stderr);
            return help ? 0 : 2;
        }
    }
    if (n == 0 || !(lo >= 2) || !(hi >= lo) || !(hi <= 1e18)) {
        fprintf(stderr, "primes: need n > 0 and 2 <= lo <= hi <= 1e18\n");
        return 2;
    }

    shmpool *pool;
    shmpool_options opt = {.workers = workers};
    int rc = shmpool_create(&pool, &opt);
    if (rc) {
        fprintf(stderr, "primes: shmpool_create: %s\n", shmpool_strerror(rc));
        return 1;
    }
    int status = 1;
    uint64_t *data = shmpool_alloc(pool, n * sizeof *data);
    struct factors *multi = shmpool_alloc(pool, n * sizeof *multi);
    struct factors *single = calloc(n, sizeof *single);
    if (!data || !multi || !single) {
        fprintf(stderr, "primes: out of memory\n");
        goto out;
    }
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        data[i] = (uint64_t)(lo + (hi - lo) * ((double)(splitmix64(&s) >> 11) * 0x1p-53));

    double t0 = now();
    for (size_t i = 0; i < n; i++)
        prime_factors(data[i], &single[i]);
    double t_single = now() - t0;
    printf("Single-process execution time: %.2f seconds\n", t_single);

    t0 = now();
    shmpool_result *r;
    if (completed) {
        rc = as_completed(pool, data, multi, n, mode);
    } else {
        rc = shmpool_map_async(pool, factor_task, NULL, data, sizeof *data, multi, sizeof *multi,
                               n, 1, &r);
        if (!rc) {
            rc = shmpool_progress_wait(r, "Multi-process execution", mode);
            shmpool_result_free(r);
        }
    }
    double t_multi = now() - t0;
    if (rc) {
        fprintf(stderr, "primes: map: %s\n", shmpool_strerror(rc));
        goto out;
    }
    printf("Multi-process execution time (%u cores): %.2f seconds (%.2fx)\n",
           shmpool_workers(pool), t_multi, t_single / t_multi);

    printf("e.g. %llu =", (unsigned long long)data[0]);
    for (uint32_t j = 0; j < multi[0].count; j++)
        printf("%s %llu", j ? " *" : "", (unsigned long long)multi[0].f[j]);
    printf("\n");

    for (size_t i = 0; i < n; i++) {
        uint64_t prod = 1;
        for (uint32_t j = 0; j < single[i].count; j++)
            prod *= single[i].f[j];
        if (single[i].count != multi[i].count ||
            memcmp(single[i].f, multi[i].f, single[i].count * sizeof(uint64_t)) || prod != data[i]) {
            fprintf(stderr, "primes: FAIL: results differ for %llu\n", (unsigned long long)data[i]);
            goto out;
        }
    }
    printf("Results are identical.\n");
    status = 0;
out:
    free(single);
    shmpool_destroy(pool);
    return status;
}
