/* Soak: a million small jobs of every kind and ten thousand alloc/free cycles, then a check that
 * the process holds exactly what it held before: open fds, mappings, descendant processes and
 * /dev/shm entries named shmpool*. Prints the counts before and after; exits 1 if they differ or a
 * result is wrong.
 *
 *     soak [--jobs N] [--allocs N] [--workers N]      (defaults 1000000, 10000, usable cores)
 *
 * The reduced version runs under ctest as test/test-soak.c (label stress). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmpool.h"

#define BATCH 64
#define MAP_N 256

struct counts {
    int fds, mappings, descendants, shm;
};

static int count_entries(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && (!prefix || strncmp(e->d_name, prefix, strlen(prefix)) == 0))
            n++;
    closedir(d);
    return prefix ? n : n - 1; /* opendir's own fd */
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Live (not zombie) processes below this one, by walking /proc a few times. */
static int count_descendants(void) {
    static pid_t known[4096];
    int nk = 0;
    known[nk++] = getpid();
    for (int pass = 0; pass < 4; pass++) {
        DIR *d = opendir("/proc");
        if (!d)
            return -1;
        int before = nk;
        struct dirent *e;
        while ((e = readdir(d))) {
            pid_t pid = (pid_t)atoi(e->d_name);
            if (pid <= 0)
                continue;
            char path[64], buf[512];
            snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            size_t len = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[len] = 0;
            char *p = strrchr(buf, ')'), st;
            int pp;
            if (!p || sscanf(p + 2, "%c %d", &st, &pp) != 2 || st == 'Z')
                continue;
            int is_known = 0, parent_known = 0;
            for (int i = 0; i < nk; i++)
                is_known |= known[i] == pid, parent_known |= known[i] == pp;
            if (!is_known && parent_known && nk < 4096)
                known[nk++] = pid;
        }
        closedir(d);
        if (nk == before)
            break;
    }
    return nk - 1;
}

static void snapshot(struct counts *c) {
    c->fds = count_entries("/proc/self/fd", NULL);
    c->mappings = count_lines("/proc/self/maps");
    c->descendants = count_descendants();
    c->shm = count_entries("/dev/shm", "shmpool");
}

static void print_counts(const char *when, const struct counts *c) {
    printf("%-28s fds %d, mappings %d, descendants %d, /dev/shm entries %d\n", when, c->fds,
           c->mappings, c->descendants, c->shm);
}

/* Children exit and names are removed asynchronously: allow a second for the counts to settle. */
static int settle(const struct counts *want, struct counts *now) {
    for (int i = 0; i < 100; i++) {
        snapshot(now);
        if (!memcmp(now, want, sizeof *now))
            return 1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int inc(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int64_t *)out = *(const int64_t *)in + 1;
    return 0;
}

static int mark(void *ctx, size_t b, size_t e) {
    _Atomic int64_t *sum = ctx;
    for (size_t i = b; i < e; i++)
        atomic_fetch_add_explicit(sum, (int64_t)i, memory_order_relaxed);
    return 0;
}

static int fail(const char *what) {
    fprintf(stderr, "soak: %s\n", what);
    return 1;
}

/* One round: an apply, a batch of apply_async, two maps (staged and in place), a for. */
static int one_round(shmpool *p, unsigned long round, int64_t *sin, int64_t *sout,
                     _Atomic int64_t *sum, unsigned long *jobs) {
    int64_t a = (int64_t)round, b = -1;
    if (shmpool_apply(p, inc, NULL, &a, sizeof a, &b, sizeof b) || b != a + 1)
        return fail("apply");
    int64_t args[BATCH], outs[BATCH];
    shmpool_result *r[BATCH];
    for (int i = 0; i < BATCH; i++) {
        args[i] = (int64_t)(round * BATCH + (unsigned long)i);
        if (shmpool_apply_async(p, inc, NULL, &args[i], sizeof args[i], &outs[i], sizeof outs[i],
                                &r[i]))
            return fail("apply_async");
    }
    for (int i = 0; i < BATCH; i++) {
        int rc = shmpool_result_get(r[i], -1);
        shmpool_result_free(r[i]);
        if (rc || outs[i] != args[i] + 1)
            return fail("apply_async result");
    }
    int64_t in[MAP_N], out[MAP_N];
    for (int i = 0; i < MAP_N; i++)
        in[i] = (int64_t)round + i, sin[i] = (int64_t)round - i;
    if (shmpool_map(p, inc, NULL, in, sizeof in[0], out, sizeof out[0], MAP_N, 0) ||
        shmpool_map(p, inc, NULL, sin, sizeof in[0], sout, sizeof out[0], MAP_N, 16))
        return fail("map");
    for (int i = 0; i < MAP_N; i++)
        if (out[i] != in[i] + 1 || sout[i] != sin[i] + 1)
            return fail("map result");
    atomic_store(sum, 0);
    if (shmpool_for(p, mark, (void *)sum, MAP_N, 7) ||
        atomic_load(sum) != (int64_t)MAP_N * (MAP_N - 1) / 2)
        return fail("for");
    *jobs += 1 + BATCH + 2 + 1;
    return 0;
}

int main(int argc, char **argv) {
    unsigned long n_jobs = 1000000, n_allocs = 10000;
    unsigned workers = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
            n_jobs = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--allocs") && i + 1 < argc)
            n_allocs = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
            workers = (unsigned)strtoul(argv[++i], NULL, 0);
        else {
            fprintf(stderr, "usage: %s [--jobs N] [--allocs N] [--workers N]\n", argv[0]);
            return 2;
        }
    }
    struct counts before, warm, now;
    snapshot(&before);
    print_counts("before the pool:", &before);

    shmpool_options o = {.workers = workers, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    int rc = shmpool_create(&p, &o);
    if (rc) {
        fprintf(stderr, "soak: create: %s\n", shmpool_strerror(rc));
        return 1;
    }
    int64_t *sin = shmpool_alloc(p, MAP_N * sizeof(int64_t));
    int64_t *sout = shmpool_alloc(p, MAP_N * sizeof(int64_t));
    _Atomic int64_t *sum = shmpool_alloc(p, sizeof *sum);
    if (!sin || !sout || !sum)
        return fail("alloc");
    unsigned long jobs = 0;
    if (one_round(p, 0, sin, sout, sum, &jobs))
        return 1;
    snapshot(&warm);
    print_counts("pool warm:", &warm);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long round = 1; jobs < n_jobs; round++)
        if (one_round(p, round, sin, sout, sum, &jobs))
            return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%lu jobs in %.2f s (%.0f jobs/s)\n", jobs, s, (double)jobs / s);
    int bad = !settle(&warm, &now);
    print_counts("after the jobs:", &now);

    for (unsigned long i = 0; i < n_allocs; i++) {
        size_t bytes = 1 + (i * 7919) % (1u << 20);
        unsigned char *m = shmpool_alloc(p, bytes);
        if (!m)
            return fail("alloc in the loop");
        m[0] = 1, m[bytes - 1] = 2;
        if (i % 64 == 0 && bytes >= 16) { /* a job that uses it, so workers map it */
            int64_t *v = (int64_t *)m;
            v[0] = (int64_t)i;
            if (shmpool_apply(p, inc, NULL, &v[0], sizeof *v, &v[1], sizeof *v) || v[1] != v[0] + 1)
                return fail("apply on a fresh block");
        }
        if (shmpool_free(p, m))
            return fail("free");
    }
    bad |= !settle(&warm, &now);
    printf("%lu alloc/free cycles\n", n_allocs);
    print_counts("after the alloc/free cycles:", &now);

    shmpool_free(p, sin);
    shmpool_free(p, sout);
    shmpool_free(p, (void *)sum);
    shmpool_destroy(p);
    bad |= !settle(&before, &now);
    print_counts("after destroy:", &now);
    puts(bad ? "soak: the counts differ" : "soak: the counts are as they were");
    return bad;
}
