/* bench: shmpool side by side with OpenMP, serial C, Python's multiprocessing.Pool and joblib, on
 * the tutorial's workloads (../shared/seed/parallel-processing-in-python.md), with the targets of
 * issue 5. See docs/BENCHMARKS.md for the results and how to read them.
 *
 *     bench [--reps 5] [--workers 2] [--workloads heavy,starmap,...] [--json FILE] [--quick]
 *
 * How it measures
 * - One run, the same data for every implementation: the C side makes it (splitmix64, seed 1) in
 *   shmpool_alloc memory and writes it to a temporary file that bench.py loads with np.fromfile.
 * - Each implementation runs once untimed first (warm-up: first touch of pages here and in the
 *   workers, imports and pools on the Python side); a thread samples the PSS of the process tree
 *   (/proc/PID/smaps_rollup) during that warm-up run only, so sampling never perturbs a timed run.
 * - Then --reps rounds, alternating implementations inside each round (A B C A B C ...). The
 *   table shows the median and the min/max over the rounds.
 * - `seconds` is the time for `items` items: a whole run for heavy, starmap, primes, heat; one
 *   call for apply (the median per-call latency of the round), create (median of the round),
 *   for_empty (mean per call over the round); npy-load: one load of the whole file (items =
 *   bytes of data).
 * - Python runs in one coprocess (bench.py --serve), one JSON command per measurement; it times
 *   itself and answers JSON. Its memory is the PSS of its own process tree.
 *
 * The files: this one (options, the run), workloads.c (the list of workloads, in run order),
 * workload-<name>.c (one workload each), measure.c (warm-up, rounds, medians), sampler.c (PSS),
 * python.c and json.c (the coprocess), report.c (the tables), machine.c (load, /dev/shm).
 *
 * Exit status: 0 when every result check passed (a missed target is reported, not a failure),
 * 1 when a check failed or something was left in /dev/shm, 2 for bad arguments.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "heavy_kernel.h"

#ifndef BENCH_PY
#define BENCH_PY "bench.py"
#endif

struct bench_options O = {.reps = 5, .py_reps_slow = 3, .workers = 2,
                          .python = "/usr/bin/python3", .script = BENCH_PY};

struct bench_sizes S = {40000000, 4, 1000000, 1000000, 100000, 20000, 2000, 100000, 20000,
                        20000, 50, 10, 2048, 100, 100, 1e10, 1e12, 40000000, 40000000,
                        500000000};

/* Words, wrapped at 81 columns after a 13-column indent (the usage's workload list). */
static void print_wrapped(FILE *f, const char *const *words, int n, int *col) {
    for (int i = 0; i < n; i++) {
        int len = (int)strlen(words[i]);
        if (*col + 1 + len > 81)
            *col = fprintf(f, "\n            ") - 1; /* the space before the word makes 13 */
        *col += fprintf(f, " %s", words[i]);
    }
}

static void usage(FILE *f) {
    static const char *const more[] = {"scaling", "(default:", "all;", "scaling", "adds", "the",
                                       "--scaling", "worker", "counts", "to", "heavy", "and",
                                       "primes;", "mpi", "needs", "MPI)"};
    const char *names[64];
    int n = 0, col;
    for (int i = 0; bench_workloads[i] && n < 64; i++)
        names[n++] = bench_workloads[i]->name;
    fprintf(f,
            "usage: bench [--reps N] [--workers W] [--workloads a,b,...] [--json FILE] [--quick]\n"
            "             [--scaling 1,2,4] [--py-reps N] [--python PATH] [--script bench.py]\n"
            "             [--no-python] [--stream-n N]\n");
    col = fprintf(f, "  workloads:");
    print_wrapped(f, names, n, &col);
    print_wrapped(f, more, (int)(sizeof more / sizeof *more), &col);
    fprintf(f, "\n"
               "  --reps N     rounds (default 5); --py-reps N caps the slow Python runs (default 3)\n"
               "  --quick      tiny sizes, 1 round (the ctest smoke run)\n"
               "  --stream-n N float64 elements of the stream workload's file (default 500M:"
               " 4 GB)\n");
}

/* argv into O; the --scaling list is returned in *scaling. 0, 1 (--help: done) or 2 (bad). */
static int parse_args(int argc, char **argv, const char **scaling) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--quick")) {
            O.quick = 1;
        } else if (!strcmp(a, "--no-python")) {
            O.no_python = 1;
        } else if (v && !strcmp(a, "--reps")) {
            O.reps = atoi(v), i++;
        } else if (v && !strcmp(a, "--py-reps")) {
            O.py_reps_slow = atoi(v), i++;
        } else if (v && !strcmp(a, "--workers")) {
            O.workers = (unsigned)strtoul(v, NULL, 0), i++;
        } else if (v && !strcmp(a, "--workloads")) {
            snprintf(O.workloads, sizeof O.workloads, "%s", v), i++;
        } else if (v && !strcmp(a, "--json")) {
            O.json = v, i++;
        } else if (v && !strcmp(a, "--scaling")) {
            *scaling = v, i++;
        } else if (v && !strcmp(a, "--python")) {
            O.python = v, i++;
        } else if (v && !strcmp(a, "--stream-n")) {
            S.stream_n = strtoull(v, NULL, 0), i++;
        } else if (v && !strcmp(a, "--script")) {
            O.script = v, i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

static void parse_scaling(const char *scaling) {
    for (const char *p = scaling; *p && O.nscaling < 8;) {
        unsigned w = (unsigned)strtoul(p, (char **)&p, 10);
        if (w)
            O.scaling[O.nscaling++] = w;
        while (*p == ',')
            p++;
        if (*p && !isdigit((unsigned char)*p))
            break;
    }
}

static void quick_sizes(void) {
    O.reps = 1;
    S.heavy_n = 400000, S.star_n = 20000, S.star1_n = 20000, S.py_star1_n = 2000;
    S.apply_calls = 500, S.py_apply_calls = 50, S.async_n = 2000, S.py_async_n = 200;
    S.for_calls = 500, S.create_calls = 5, S.py_create_calls = 2;
    S.heat_n = 128, S.heat_steps = 10, S.primes_n = 20, S.primes_lo = 1e8, S.primes_hi = 1e9;
    S.idle_n = 400000;
    S.npy_n = 1000000; /* 8 MB */
    S.stream_n = 2000000; /* 16 MB */
}

/* Does a selected workload after the i-th free its shared data with the same done()? */
static int shared_later(int i) {
    for (int j = i + 1; bench_workloads[j]; j++)
        if (bench_workloads[j]->done == bench_workloads[i]->done &&
            selected(bench_workloads[j]->name))
            return 1;
    return 0;
}

static void run_workloads(void) {
    for (int i = 0; bench_workloads[i]; i++)
        if (bench_workloads[i]->python && selected(bench_workloads[i]->name)) {
            py_start(); /* before any pool or OpenMP thread exists */
            break;
        }
    for (int i = 0; bench_workloads[i]; i++) {
        const struct workload *w = bench_workloads[i];
        if (!selected(w->name))
            continue;
        w->run();
        if (w->done && !shared_later(i))
            w->done();
    }
    py_stop();
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *scaling = "1,2,4";
    int rc = parse_args(argc, argv, &scaling);
    if (rc)
        return rc == 1 ? 0 : rc;
    parse_scaling(scaling);
    if (O.quick)
        quick_sizes();
    if (O.reps < 1 || O.reps > MAXREPS || O.py_reps_slow < 1 || O.workers < 1 ||
        O.workers > 256) {
        usage(stderr);
        return 2;
    }
    static char before[512][256];
    int nbefore = shm_names(before, 512);

    printf("bench: %u workers, %d rounds%s; kernel clone %s; %d cores\n", O.workers, O.reps,
           O.quick ? " (quick sizes)" : "", heavy_sum_clone(), shmpool_cpu_count(SHMPOOL_CPU_USABLE));
    double t0 = now(), busy0 = machine_busy_s(), ours0 = our_cpu_s();
    run_workloads();
    report();
    print_other_load(t0, busy0, ours0);
    if (O.json)
        write_json(O.json);
    check_shm_left(before, nbefore);
    fprintf(stderr, "bench: %.1f s in all, %d failure(s)\n", now() - t0, failures);
    return failures ? 1 : 0;
}
