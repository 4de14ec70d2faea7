/* Small things every workload uses: the clock, the data generator, the median, --workloads,
 * pools and the data files for bench.py. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int failures;

double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void fill_uniform(double *x, size_t n, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = (double)(splitmix64(&s) >> 11) * 0x1p-53;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int selected(const char *name) {
    if (!O.workloads[0])
        return 1;
    size_t len = strlen(name);
    for (const char *p = O.workloads; (p = strstr(p, name)); p += len)
        if ((p == O.workloads || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
            return 1;
    return 0;
}

/* The workers counts of heavy and primes: the main one first, then the --scaling ones when the
   `scaling` workload is selected. */
int worker_counts(unsigned ws[9]) {
    int nw = 0;
    ws[nw++] = O.workers;
    if (selected("scaling"))
        for (int i = 0; i < O.nscaling; i++)
            if (O.scaling[i] != O.workers)
                ws[nw++] = O.scaling[i];
    return nw;
}

shmpool *make_pool(unsigned w) {
    shmpool *p;
    shmpool_options opt = {.workers = w, .flags = SHMPOOL_FLAG_QUIET};
    int rc = shmpool_create(&p, &opt);
    if (rc) {
        FAIL("shmpool_create(%u workers): %s", w, shmpool_strerror(rc));
        return NULL;
    }
    return p;
}

/* A temporary file with the data for bench.py; unlinked by the caller. */
int write_tmp(char *path, size_t len, const void *data, size_t bytes) {
    snprintf(path, len, "/tmp/shmpool-bench-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -errno;
    const char *p = data;
    while (bytes) {
        ssize_t w = write(fd, p, bytes > (1u << 30) ? (1u << 30) : bytes);
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(path);
            return -e;
        }
        p += w, bytes -= (size_t)w;
    }
    close(fd);
    return 0;
}

/* A parallel for's body that does nothing (for_empty, idle); noinline and the asm keep the call. */
__attribute__((noinline)) int noop_range(void *ctx, size_t b, size_t e) {
    __asm__ volatile("" ::"r"(ctx), "r"(b), "r"(e) : "memory");
    return 0;
}
