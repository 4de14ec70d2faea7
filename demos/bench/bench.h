/* The bench harness as a workload file sees it: options and sizes, timing, the data generator,
 * measure() and the Python coprocess, and how a workload registers (workloads.c). What only
 * the harness uses is in harness.h. main.c says what the program does; docs/BENCHMARKS.md
 * how it measures.
 */
#ifndef SHMPOOL_BENCH_H
#define SHMPOOL_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shmpool.h"

#define MAXREPS 64
#define MAXIMPL 8

/* ---------------------------------------------------------------------------------------------
 * Options and sizes (main.c)
 */
struct bench_options {
    int reps, py_reps_slow; /* slow Python runs (heavy, primes) get at most py_reps_slow */
    unsigned workers;
    int quick, no_python;
    const char *json, *python, *script;
    char workloads[512];
    unsigned scaling[8];
    int nscaling;
};
extern struct bench_options O;

struct bench_sizes {
    size_t heavy_n, heavy_chunks;
    size_t star_n, star1_n, py_star1_n;
    size_t apply_calls, py_apply_calls, async_n, py_async_n;
    size_t for_calls, create_calls, py_create_calls;
    size_t heat_n, heat_steps;
    size_t primes_n;
    double primes_lo, primes_hi;
    size_t idle_n;
    size_t npy_n; /* npy-load: float64 elements in the .npy file (40M: 320 MB) */
    size_t stream_n; /* stream: float64 elements in the streamed .npy file (500M: 4 GB) */
};
extern struct bench_sizes S;

/* ---------------------------------------------------------------------------------------------
 * Workloads (workloads.c): one file each, workload-<name>.c, defines
 *     const struct workload workload_<name> = {"name", run, ...};
 * and its name in workloads.c's list puts it in the run order.
 */
struct workload {
    const char *name;   /* as given to --workloads */
    void (*run)(void);
    int python;         /* uses the Python coprocess: started before any pool when selected */
    void (*done)(void); /* optional: frees what several workloads share (pairs.c); called after
                           the last selected workload with the same done */
};
extern const struct workload *const bench_workloads[];

/* ---------------------------------------------------------------------------------------------
 * Common (common.c)
 */
extern int failures;
#define FAIL(...) (fprintf(stderr, "bench: FAIL: " __VA_ARGS__), fputc('\n', stderr), failures++)

double now(void);
uint64_t splitmix64(uint64_t *s);
void fill_uniform(double *x, size_t n, uint64_t seed);
double median(double *v, size_t n);
int selected(const char *name);
int worker_counts(unsigned ws[9]);
shmpool *make_pool(unsigned w);
int write_tmp(char *path, size_t len, const void *data, size_t bytes);
int noop_range(void *ctx, size_t b, size_t e);

/* ---------------------------------------------------------------------------------------------
 * Measurements (measure.c)
 */
struct meas {
    char workload[24], impl[24];
    unsigned workers;
    double med, min, max, items;
    long pss_kb;
    int ok;
    char note[200];
};
extern struct meas M[512];
extern int nM;

typedef double (*run_fn)(void *arg, int warm); /* seconds for `items` items; < 0: skip (-1), error */

struct impl {
    const char *name;
    unsigned workers;
    run_fn fn;
    void *arg;
    double items;
    int reps;   /* 0: O.reps */
    int python; /* PSS of the Python tree, not ours */
    char note[200];
};

void measure(const char *wl, struct impl *im, int n);
struct meas *find(const char *wl, const char *impl, unsigned w);

/* ---------------------------------------------------------------------------------------------
 * The Python coprocess (python.c)
 */
/* A Python implementation: the command is formatted into cmd; warm adds "warm": 1. */
struct pyarg {
    char cmd[1024];
    double check;
    char note[200];
};
double py_run(void *arg, int warm);
void py_drop(void); /* bench.py forgets the data it loaded: after a workload's last command */

#endif
