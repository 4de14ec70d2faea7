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
 * Exit status: 0 when every result check passed (a missed target is reported, not a failure),
 * 1 when a check failed or something was left in /dev/shm, 2 for bad arguments.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heavy_kernel.h"
#include "shmpool.h"
#include "prime_factors.h"

#ifndef BENCH_PY
#define BENCH_PY "bench.py"
#endif

#define MAXREPS 64
#define MAXIMPL 8

/* ---------------------------------------------------------------------------------------------
 * Options and sizes
 */
static struct {
    int reps, py_reps_slow; /* slow Python runs (heavy, primes) get at most py_reps_slow */
    unsigned workers;
    int quick, no_python;
    const char *json, *python, *script;
    char workloads[512];
    unsigned scaling[8];
    int nscaling;
} O = {.reps = 5, .py_reps_slow = 3, .workers = 2, .python = "/usr/bin/python3",
       .script = BENCH_PY};

static struct {
    size_t heavy_n, heavy_chunks;
    size_t star_n, star1_n, py_star1_n;
    size_t apply_calls, py_apply_calls, async_n, py_async_n;
    size_t for_calls, create_calls, py_create_calls;
    size_t heat_n, heat_steps;
    size_t primes_n;
    double primes_lo, primes_hi;
    size_t idle_n;
    size_t npy_n; /* npy-load: float64 elements in the .npy file (40M: 320 MB) */
} S = {40000000, 4, 1000000, 1000000, 100000, 20000, 2000, 100000, 20000,
       20000, 50, 10, 2048, 100, 100, 1e10, 1e12, 40000000, 40000000};

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

static int failures;

/* CPU time: what the whole machine was busy with (/proc/stat) and what this run used (ours,
   and every child we reaped: workers, the Python coprocess and its pools). The difference is
   other programs' load, which this 2-core machine's timings are sensitive to. */
static double machine_busy_s(void) {
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[10] = {0};
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return 0;
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}
static double our_cpu_s(void) {
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
                    b.ru_stime.tv_usec) * 1e-6;
}
#define FAIL(...) (fprintf(stderr, "bench: FAIL: " __VA_ARGS__), fputc('\n', stderr), failures++)

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int selected(const char *name) {
    if (!O.workloads[0])
        return 1;
    size_t len = strlen(name);
    for (const char *p = O.workloads; (p = strstr(p, name)); p += len)
        if ((p == O.workloads || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * PSS of a process tree: the root and its descendants (found through /proc/N/stat's ppid),
 * leaving out the subtree of `exclude` (the Python coprocess, when measuring the C side).
 */
static long read_pss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Pss:", 4)) {
            kb = strtol(line + 4, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

static long tree_pss_kb(pid_t root, pid_t exclude) {
    enum { MAXP = 8192 };
    static pid_t pid[MAXP], ppid[MAXP];
    static unsigned char in[MAXP];
    int np = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && np < MAXP) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = 0;
        char *rp = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
        int pp;
        if (!rp || sscanf(rp + 1, " %*c %d", &pp) != 1)
            continue;
        pid[np] = atoi(e->d_name), ppid[np] = pp, in[np] = pid[np] == root;
        np++;
    }
    closedir(d);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < np; i++) {
            if (in[i] || pid[i] == exclude)
                continue;
            for (int j = 0; j < np; j++)
                if (in[j] && pid[j] == ppid[i]) {
                    in[i] = 1, changed = 1;
                    break;
                }
        }
    }
    long kb = 0;
    for (int i = 0; i < np; i++)
        if (in[i])
            kb += read_pss_kb(pid[i]);
    return kb;
}

struct sampler {
    pthread_t th;
    atomic_int stop;
    pid_t root, exclude;
    long peak_kb;
};

static void *sampler_main(void *arg) {
    struct sampler *s = arg;
    do {
        long kb = tree_pss_kb(s->root, s->exclude);
        if (kb > s->peak_kb)
            s->peak_kb = kb;
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    } while (!atomic_load(&s->stop));
    long kb = tree_pss_kb(s->root, s->exclude);
    if (kb > s->peak_kb)
        s->peak_kb = kb;
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The Python coprocess
 */
static struct {
    pid_t pid;
    FILE *to, *from;
    int dead;
    char why[160];
} PY = {.pid = -1};

static double py_call(const char *cmd, double *check, char *note, size_t notelen);
static pid_t py_pid_seen;

static void py_start(void) {
    int in[2], out[2];
    if (O.no_python) {
        snprintf(PY.why, sizeof PY.why, "--no-python");
        PY.dead = 1;
        return;
    }
    if (access(O.python, X_OK)) {
        snprintf(PY.why, sizeof PY.why, "%s not found", O.python);
        PY.dead = 1;
        return;
    }
    if (access(O.script, R_OK)) {
        snprintf(PY.why, sizeof PY.why, "%s not found", O.script);
        PY.dead = 1;
        return;
    }
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
        snprintf(PY.why, sizeof PY.why, "pipe: %s", strerror(errno));
        PY.dead = 1;
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl(O.python, O.python, O.script, "--serve", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        close(in[1]), close(out[0]);
        snprintf(PY.why, sizeof PY.why, "fork: %s", strerror(errno));
        PY.dead = 1;
        return;
    }
    PY.pid = pid;
    py_pid_seen = pid;
    PY.to = fdopen(in[1], "w");
    PY.from = fdopen(out[0], "r");
}

static void py_stop(void) {
    if (PY.pid <= 0)
        return;
    if (PY.to && !PY.dead) { /* ends its pools and loky's workers, then EOF ends it */
        char note[200];
        py_call("{\"workload\": \"quit\"}", NULL, note, sizeof note);
    }
    if (PY.to)
        fclose(PY.to);
    if (PY.from)
        fclose(PY.from);
    int st;
    waitpid(PY.pid, &st, 0);
    PY.pid = -1;
}

static int json_num(const char *s, const char *key, double *v) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(s, k);
    if (!p)
        return 0;
    *v = strtod(p + strlen(k), NULL);
    return 1;
}

static int json_str(const char *s, const char *key, char *out, size_t len) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": \"", key);
    const char *p = strstr(s, k);
    if (!p)
        return 0;
    p += strlen(k);
    size_t i = 0;
    for (; *p && *p != '"' && i + 1 < len; p++)
        out[i++] = *p;
    out[i] = 0;
    return 1;
}

/* Send one command; -1: skipped (note says why), -2: error; else the seconds. */
static double py_call(const char *cmd, double *check, char *note, size_t notelen) {
    if (PY.dead) {
        snprintf(note, notelen, "python: %s", PY.why);
        return -1;
    }
    char line[4096];
    fprintf(PY.to, "%s\n", cmd);
    fflush(PY.to);
    if (!fgets(line, sizeof line, PY.from)) {
        snprintf(PY.why, sizeof PY.why, "bench.py ended");
        PY.dead = 1;
        snprintf(note, notelen, "python: %s", PY.why);
        return -2;
    }
    double v;
    if (json_str(line, "skip", note, notelen))
        return -1;
    if (json_str(line, "error", note, notelen))
        return -2;
    if (check && json_num(line, "check", &v))
        *check = v;
    if (!json_num(line, "seconds", &v))
        return -2;
    return v;
}

/* ---------------------------------------------------------------------------------------------
 * Measurements
 */
struct meas {
    char workload[24], impl[24];
    unsigned workers;
    double med, min, max, items;
    long pss_kb;
    int ok;
    char note[200];
};
static struct meas M[512];
static int nM;

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

/* A Python implementation: the command is formatted into cmd; warm adds "warm": 1. */
struct pyarg {
    char cmd[1024];
    double check;
    char note[200];
};
static double py_run(void *arg, int warm) {
    struct pyarg *a = arg;
    char cmd[1100];
    if (strstr(a->cmd, "\"path\": \"\"")) {
        snprintf(a->note, sizeof a->note, "could not write the data file for bench.py");
        return -1;
    }
    snprintf(cmd, sizeof cmd, "{%s, \"warm\": %d}", a->cmd, warm);
    return py_call(cmd, &a->check, a->note, sizeof a->note);
}

static struct meas *find(const char *wl, const char *impl, unsigned w) {
    for (int i = 0; i < nM; i++)
        if (!strcmp(M[i].workload, wl) && !strcmp(M[i].impl, impl) && M[i].workers == w)
            return M[i].ok ? &M[i] : NULL;
    return NULL;
}

static void measure(const char *wl, struct impl *im, int n) {
    double v[MAXIMPL][MAXREPS];
    int nv[MAXIMPL] = {0}, skip[MAXIMPL] = {0};
    long pss[MAXIMPL] = {0};
    double t_start = now();
    for (int i = 0; i < n; i++) { /* warm-up, sampled */
        struct sampler s = {.root = im[i].python ? PY.pid : getpid(),
                            .exclude = im[i].python ? 0 : PY.pid};
        int sampling = !im[i].python || PY.pid > 0;
        if (sampling && pthread_create(&s.th, NULL, sampler_main, &s))
            sampling = 0;
        double t = im[i].fn(im[i].arg, 1);
        if (sampling) {
            atomic_store(&s.stop, 1);
            pthread_join(s.th, NULL);
            pss[i] = s.peak_kb;
        }
        if (t < 0) {
            skip[i] = 1;
            if (im[i].python) {
                struct pyarg *a = im[i].arg;
                snprintf(im[i].note, sizeof im[i].note, "%s", a->note);
            }
            if (t < -1.5)
                FAIL("%s/%s: %s", wl, im[i].name, im[i].note);
            else
                fprintf(stderr, "bench: %s/%s skipped: %s\n", wl, im[i].name, im[i].note);
        }
    }
    /* Each round starts one implementation later, so none always runs right after the same one
       (shmpool used to follow Python's Pool and joblib, whose processes were still being torn
       down, about 1 GB each, while it ran). */
    for (int r = 0; r < O.reps && r < MAXREPS; r++)
        for (int k = 0; k < n; k++) {
            int i = (k + r) % n;
            int reps = im[i].reps ? im[i].reps : O.reps;
            if (skip[i] || r >= reps)
                continue;
            double t = im[i].fn(im[i].arg, 0);
            if (t < 0) {
                skip[i] = 1;
                FAIL("%s/%s failed in round %d", wl, im[i].name, r);
                continue;
            }
            v[i][nv[i]++] = t;
        }
    for (int i = 0; i < n && nM < (int)(sizeof M / sizeof *M); i++) {
        struct meas *m = &M[nM++];
        memset(m, 0, sizeof *m);
        snprintf(m->workload, sizeof m->workload, "%s", wl);
        snprintf(m->impl, sizeof m->impl, "%s", im[i].name);
        snprintf(m->note, sizeof m->note, "%s", im[i].note);
        m->workers = im[i].workers;
        m->items = im[i].items;
        m->pss_kb = pss[i];
        if (skip[i] && nv[i] == 0)
            continue;
        m->ok = 1;
        m->min = m->max = v[i][0];
        for (int k = 0; k < nv[i]; k++) {
            m->min = fmin(m->min, v[i][k]);
            m->max = fmax(m->max, v[i][k]);
        }
        m->med = median(v[i], (size_t)nv[i]);
        printf("  %-15s %-18s w=%u  median %10.6f s  [%10.6f, %10.6f]  n=%d  PSS %7.1f MiB\n", wl,
               m->impl, m->workers, m->med, m->min, m->max, nv[i], (double)m->pss_kb / 1024);
    }
    fflush(stdout);
    fprintf(stderr, "bench: %s took %.1f s\n", wl, now() - t_start);
}

static shmpool *make_pool(unsigned w) {
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
static int write_tmp(char *path, size_t len, const void *data, size_t bytes) {
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

static void py_drop(void) {
    char note[200];
    if (PY.pid > 0 && !PY.dead)
        py_call("{\"workload\": \"drop\"}", NULL, note, sizeof note);
}

/* ---------------------------------------------------------------------------------------------
 * heavy: 40M doubles in 4 chunks, the tutorial's heavy_function (heavy_kernel.c), per chunk
 */
struct chunk {
    const double *x;
    size_t n;
};
struct heavy {
    shmpool *pool;
    unsigned w;
    struct chunk *chunks; /* shmpool memory */
    size_t nchunks;
    double *sums;          /* shmpool memory */
    double total;
};

static int heavy_task(const void *in, void *out, void *ctx) {
    (void)ctx;
    const struct chunk *c = in;
    *(double *)out = heavy_sum(c->x, c->n);
    return 0;
}
static double heavy_total(struct heavy *h) {
    double t = 0;
    for (size_t c = 0; c < h->nchunks; c++)
        t += h->sums[c];
    return t;
}
static double heavy_shmpool(void *arg, int warm) {
    (void)warm;
    struct heavy *h = arg;
    double t0 = now();
    int rc = shmpool_map(h->pool, heavy_task, NULL, h->chunks, sizeof *h->chunks, h->sums,
                         sizeof(double), h->nchunks, 1);
    double t = now() - t0;
    if (rc) {
        FAIL("heavy shmpool_map: %s", shmpool_strerror(rc));
        return -2;
    }
    h->total = heavy_total(h);
    return t;
}
/* OpenMP: the same 4 chunk descriptors, one chunk per iteration, claimed dynamically (what
   shmpool's chunk counter does), the same heavy_sum per chunk: the same code, the same sums. */
static double heavy_openmp(void *arg, int warm) {
    (void)warm;
    struct heavy *h = arg;
    double t0 = now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(h->w)
    for (size_t c = 0; c < h->nchunks; c++)
        h->sums[c] = heavy_sum(h->chunks[c].x, h->chunks[c].n);
    double t = now() - t0;
    h->total = heavy_total(h);
    return t;
}
static double heavy_serial(void *arg, int warm) {
    (void)warm;
    struct heavy *h = arg;
    double t0 = now();
    for (size_t c = 0; c < h->nchunks; c++)
        h->sums[c] = heavy_sum(h->chunks[c].x, h->chunks[c].n);
    double t = now() - t0;
    h->total = heavy_total(h);
    return t;
}

static void fill_uniform(double *x, size_t n, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = (double)(splitmix64(&s) >> 11) * 0x1p-53;
}

static void wl_heavy(void) {
    size_t n = S.heavy_n;
    char path[64] = "";
    /* The workers counts: the main one first, then the scaling ones (heavy only) */
    unsigned ws[9];
    int nw = 0;
    ws[nw++] = O.workers;
    if (selected("scaling"))
        for (int i = 0; i < O.nscaling; i++)
            if (O.scaling[i] != O.workers)
                ws[nw++] = O.scaling[i];
    for (int k = 0; k < nw; k++) {
        unsigned w = ws[k];
        struct heavy h = {.w = w};
        h.pool = make_pool(w);
        if (!h.pool)
            break;
        /* The data lives only here (no other copy in this process, so the PSS measures the
           pool): made again, from the same seed, for each pool. */
        double *x = shmpool_alloc(h.pool, n * sizeof *x);
        size_t cs = (n + S.heavy_chunks - 1) / S.heavy_chunks;
        h.nchunks = (n + cs - 1) / cs;
        h.chunks = shmpool_alloc(h.pool, h.nchunks * sizeof *h.chunks);
        h.sums = shmpool_alloc(h.pool, h.nchunks * sizeof(double));
        if (!x || !h.chunks || !h.sums) {
            FAIL("heavy: shmpool_alloc: %s", strerror(errno));
            shmpool_destroy(h.pool);
            break;
        }
        fill_uniform(x, n, 1);
        if (k == 0 && write_tmp(path, sizeof path, x, n * sizeof *x))
            path[0] = 0;
        for (size_t c = 0; c < h.nchunks; c++)
            h.chunks[c] = (struct chunk){x + c * cs, c + 1 < h.nchunks ? cs : n - c * cs};
        struct heavy h_omp = h, h_ser = h;
        double sums_omp[64], sums_ser[64];
        h_omp.sums = sums_omp, h_ser.sums = sums_ser;
        struct pyarg pp = {0}, pj = {0};
        snprintf(pp.cmd, sizeof pp.cmd,
                 "\"workload\": \"heavy\", \"impl\": \"python_pool\", \"workers\": %u, "
                 "\"path\": \"%s\", \"n\": %zu, \"chunks\": %zu",
                 w, path, n, S.heavy_chunks);
        snprintf(pj.cmd, sizeof pj.cmd,
                 "\"workload\": \"heavy\", \"impl\": \"joblib\", \"workers\": %u, "
                 "\"path\": \"%s\", \"n\": %zu, \"chunks\": %zu",
                 w, path, n, S.heavy_chunks);
        int pyreps = O.reps < O.py_reps_slow ? O.reps : O.py_reps_slow;
        struct impl im[MAXIMPL] = {
            {"shmpool", w, heavy_shmpool, &h, (double)n},
            {"openmp", w, heavy_openmp, &h_omp, (double)n},
            {"python_pool", w, py_run, &pp, (double)n, pyreps, 1},
            {"joblib", w, py_run, &pj, (double)n, pyreps, 1},
            {"serial", 1, heavy_serial, &h_ser, (double)n},
        };
        int nim = k == 0 ? 5 : 4; /* serial once */
        measure("heavy", im, nim);
        /* Checks: the same kernel on the same chunks in the same order: bit-identical sums. */
        if (memcmp(&h.total, &h_omp.total, sizeof h.total) ||
            (k == 0 && memcmp(&h.total, &h_ser.total, sizeof h.total)))
            FAIL("heavy: sums differ: shmpool %.17g openmp %.17g serial %.17g", h.total,
                 h_omp.total, h_ser.total);
        struct pyarg *py[2] = {&pp, &pj};
        for (int i = 0; i < 2; i++)
            if (find("heavy", i ? "joblib" : "python_pool", w) &&
                !(fabs(py[i]->check - h.total) <= 1e-9 * fabs(h.total)))
                FAIL("heavy: %s sum %.17g vs C %.17g", i ? "joblib" : "python_pool",
                     py[i]->check, h.total);
        if (k == 0)
            printf("  heavy: kernel clone %s; sums agree (C bit-identical, numpy %.1e relative)\n",
                   heavy_sum_clone(),
                   find("heavy", "python_pool", w)
                       ? fabs(pp.check - h.total) / fabs(h.total) : 0.0);
        shmpool_destroy(h.pool);
    }
    py_drop();
    if (path[0])
        unlink(path);
}

/* ---------------------------------------------------------------------------------------------
 * starmap: 1M tiny (x+y)^2 items; automatic chunk, and chunk 1
 */
__attribute__((noinline)) static int32_t f_xy(int32_t x, int32_t y) {
    return (x + y) * (x + y);
}
static int f_star(const void *const args[], void *out, void *ctx) {
    (void)ctx;
    *(int32_t *)out = f_xy(*(const int32_t *)args[0], *(const int32_t *)args[1]);
    return 0;
}
static int f_apply(const void *in, void *out, void *ctx) {
    (void)ctx;
    const int32_t *a = in;
    *(int32_t *)out = f_xy(a[0], a[1]);
    return 0;
}
struct star {
    shmpool *pool;
    int32_t *x, *y, *out; /* shmpool memory */
    size_t n, chunk;
};
static double star_shmpool(void *arg, int warm) {
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
static double star_serial(void *arg, int warm) {
    (void)warm;
    struct star *s = arg;
    double t0 = now();
    for (size_t i = 0; i < s->n; i++)
        s->out[i] = f_xy(s->x[i], s->y[i]);
    return now() - t0;
}

struct apply {
    shmpool *pool;
    const int32_t *x, *y;
    size_t nxy, calls;
    double *lat;
    int64_t sum;
};
static double apply_shmpool(void *arg, int warm) {
    (void)warm;
    struct apply *a = arg;
    int64_t sum = 0;
    for (size_t i = 0; i < a->calls; i++) {
        int32_t args[2] = {a->x[i % a->nxy], a->y[i % a->nxy]}, out;
        double t0 = now();
        int rc = shmpool_apply(a->pool, f_apply, NULL, args, sizeof args, &out, sizeof out);
        a->lat[i] = now() - t0;
        if (rc) {
            FAIL("apply: %s", shmpool_strerror(rc));
            return -2;
        }
        sum += out;
    }
    a->sum = sum;
    return median(a->lat, a->calls);
}
static double apply_async_shmpool(void *arg, int warm) {
    (void)warm;
    struct apply *a = arg;
    shmpool_result **r = malloc(a->calls * sizeof *r);
    int32_t(*outs)[1] = malloc(a->calls * sizeof *outs);
    if (!r || !outs) {
        free(r), free(outs);
        return -2;
    }
    int64_t sum = 0;
    int rc = 0;
    double t0 = now();
    for (size_t i = 0; i < a->calls && !rc; i++) {
        int32_t args[2] = {a->x[i % a->nxy], a->y[i % a->nxy]};
        rc = shmpool_apply_async(a->pool, f_apply, NULL, args, sizeof args, outs[i],
                                 sizeof outs[i], &r[i]);
    }
    for (size_t i = 0; i < a->calls && !rc; i++) {
        rc = shmpool_result_get(r[i], -1);
        sum += outs[i][0];
        shmpool_result_free(r[i]);
    }
    double t = now() - t0;
    free(r), free(outs);
    if (rc) {
        FAIL("apply_async: %s", shmpool_strerror(rc));
        return -2;
    }
    a->sum = sum;
    return t;
}

static void wl_tiny(void) {
    int want_star = selected("starmap"), want_star1 = selected("starmap_chunk1"),
        want_apply = selected("apply"), want_async = selected("apply_async");
    if (!want_star && !want_star1 && !want_apply && !want_async)
        return;
    unsigned w = O.workers;
    size_t n = S.star_n > S.star1_n ? S.star_n : S.star1_n;
    shmpool *pool = make_pool(w);
    if (!pool)
        return;
    int32_t *x = shmpool_alloc(pool, n * sizeof *x), *y = shmpool_alloc(pool, n * sizeof *y);
    int32_t *out = shmpool_alloc(pool, n * sizeof *out), *ref = malloc(n * sizeof *ref);
    if (!x || !y || !out || !ref) {
        FAIL("starmap: out of memory");
        free(ref);
        shmpool_destroy(pool);
        return;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < n; i++) { /* np.random.randint(1, 10, n): integers in [1, 10) */
        x[i] = (int32_t)(1 + splitmix64(&s) % 9);
        y[i] = (int32_t)(1 + splitmix64(&s) % 9);
    }
    /* x then y, int32, for bench.py */
    int32_t *xy = malloc(2 * n * sizeof *xy);
    char path[64] = "";
    if (xy) {
        memcpy(xy, x, n * sizeof *x), memcpy(xy + n, y, n * sizeof *y);
        if (write_tmp(path, sizeof path, xy, 2 * n * sizeof *xy))
            path[0] = 0;
        free(xy);
    }
    int64_t refsum = 0, refsum1 = 0;
    for (size_t i = 0; i < n; i++) {
        ref[i] = f_xy(x[i], y[i]);
        if (i < S.star_n)
            refsum += ref[i];
        if (i < S.py_star1_n)
            refsum1 += ref[i];
    }

    if (want_star) {
        struct star st = {pool, x, y, out, S.star_n, 0}, ss = st;
        int32_t *sout = malloc(S.star_n * sizeof *sout);
        ss.out = sout;
        memset(sout, -1, S.star_n * sizeof *sout);
        struct pyarg pp = {0};
        snprintf(pp.cmd, sizeof pp.cmd,
                 "\"workload\": \"starmap\", \"impl\": \"python_pool\", \"workers\": %u, "
                 "\"path\": \"%s\", \"n\": %zu", w, path, S.star_n);
        struct impl im[] = {{"shmpool", w, star_shmpool, &st, (double)S.star_n},
                            {"python_pool", w, py_run, &pp, (double)S.star_n, 0, 1},
                            {"serial", 1, star_serial, &ss, (double)S.star_n}};
        measure("starmap", im, 3);
        if (memcmp(out, ref, S.star_n * sizeof *out) || memcmp(sout, ref, S.star_n * sizeof *out))
            FAIL("starmap: results differ");
        if (find("starmap", "python_pool", w) && pp.check != (double)refsum)
            FAIL("starmap: python sum %.0f vs %lld", pp.check, (long long)refsum);
        free(sout);
    }
    if (want_star1) {
        memset(out, 0, S.star1_n * sizeof *out);
        struct star st = {pool, x, y, out, S.star1_n, 1};
        struct pyarg pp = {0};
        snprintf(pp.cmd, sizeof pp.cmd,
                 "\"workload\": \"starmap_chunk1\", \"impl\": \"python_pool\", \"workers\": %u, "
                 "\"path\": \"%s\", \"n\": %zu", w, path, S.py_star1_n);
        struct impl im[] = {{"shmpool", w, star_shmpool, &st, (double)S.star1_n},
                            {"python_pool", w, py_run, &pp, (double)S.py_star1_n, 0, 1}};
        measure("starmap_chunk1", im, 2);
        if (memcmp(out, ref, S.star1_n * sizeof *out))
            FAIL("starmap chunk 1: results differ");
        if (find("starmap_chunk1", "python_pool", w) && pp.check != (double)refsum1)
            FAIL("starmap chunk 1: python sum %.0f vs %lld", pp.check, (long long)refsum1);
    }
    if (want_apply) {
        struct apply a = {pool, x, y, n, S.apply_calls, malloc(S.apply_calls * sizeof(double))};
        struct pyarg pp = {0};
        snprintf(pp.cmd, sizeof pp.cmd,
                 "\"workload\": \"apply\", \"impl\": \"python_pool\", \"workers\": %u, "
                 "\"path\": \"%s\", \"n\": %zu, \"calls\": %zu", w, path, n, S.py_apply_calls);
        struct impl im[] = {{"shmpool", w, apply_shmpool, &a, 1},
                            {"python_pool", w, py_run, &pp, 1, 0, 1}};
        if (a.lat)
            measure("apply", im, 2);
        int64_t want = 0;
        for (size_t i = 0; i < S.apply_calls; i++)
            want += ref[i % n];
        if (a.lat && a.sum != want)
            FAIL("apply: sum %lld vs %lld", (long long)a.sum, (long long)want);
        free(a.lat);
    }
    if (want_async) {
        struct apply a = {pool, x, y, n, S.async_n};
        struct pyarg pp = {0};
        snprintf(pp.cmd, sizeof pp.cmd,
                 "\"workload\": \"apply_async\", \"impl\": \"python_pool\", \"workers\": %u, "
                 "\"path\": \"%s\", \"n\": %zu, \"calls\": %zu", w, path, n, S.py_async_n);
        struct impl im[] = {{"shmpool", w, apply_async_shmpool, &a, (double)S.async_n},
                            {"python_pool", w, py_run, &pp, (double)S.py_async_n, 0, 1}};
        measure("apply_async", im, 2);
        int64_t want = 0;
        for (size_t i = 0; i < S.async_n; i++)
            want += ref[i % n];
        if (a.sum != want)
            FAIL("apply_async: sum %lld vs %lld", (long long)a.sum, (long long)want);
    }
    py_drop();
    if (path[0])
        unlink(path);
    free(ref);
    shmpool_destroy(pool);
}

/* ---------------------------------------------------------------------------------------------
 * for_empty: a parallel for over 64 items that does nothing: the fork/join overhead
 */
__attribute__((noinline)) static int noop_range(void *ctx, size_t b, size_t e) {
    __asm__ volatile("" ::"r"(ctx), "r"(b), "r"(e) : "memory");
    return 0;
}
struct empty {
    shmpool *pool;
    unsigned w;
    size_t calls, n, chunk;
};
static double empty_shmpool(void *arg, int warm) {
    (void)warm;
    struct empty *e = arg;
    double t0 = now();
    for (size_t i = 0; i < e->calls; i++) {
        int rc = shmpool_for(e->pool, noop_range, NULL, e->n, e->chunk);
        if (rc) {
            FAIL("shmpool_for: %s", shmpool_strerror(rc));
            return -2;
        }
    }
    return (now() - t0) / (double)e->calls;
}
/* The same chunks, claimed dynamically, the same function per chunk. */
static double empty_openmp(void *arg, int warm) {
    (void)warm;
    struct empty *e = arg;
    size_t nch = (e->n + e->chunk - 1) / e->chunk;
    double t0 = now();
    for (size_t i = 0; i < e->calls; i++) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(e->w)
        for (size_t c = 0; c < nch; c++)
            noop_range(NULL, c * e->chunk, c * e->chunk + e->chunk < e->n ? c * e->chunk + e->chunk
                                                                            : e->n);
    }
    return (now() - t0) / (double)e->calls;
}

static void wl_for_empty(void) {
    unsigned w = O.workers;
    shmpool *pool = make_pool(w);
    if (!pool)
        return;
    size_t n = 64, chunk = (n + 4 * w - 1) / (4 * w); /* shmpool's automatic chunk */
    struct empty e = {pool, w, S.for_calls, n, chunk};
    struct impl im[] = {{"shmpool", w, empty_shmpool, &e, (double)n},
                        {"openmp", w, empty_openmp, &e, (double)n}};
    measure("for_empty", im, 2);
    shmpool_destroy(pool);
}

/* ---------------------------------------------------------------------------------------------
 * create: shmpool_create + shmpool_destroy with 2 workers
 */
struct create {
    unsigned w;
    size_t calls;
    double lat[1024];
};
static double create_shmpool(void *arg, int warm) {
    (void)warm;
    struct create *c = arg;
    for (size_t i = 0; i < c->calls; i++) {
        double t0 = now();
        shmpool *p = make_pool(c->w);
        if (!p)
            return -2;
        shmpool_destroy(p);
        c->lat[i] = now() - t0;
    }
    return median(c->lat, c->calls);
}

static void wl_create(void) {
    unsigned w = O.workers;
    struct create c = {.w = w, .calls = S.create_calls > 1024 ? 1024 : S.create_calls};
    struct pyarg pp = {0};
    snprintf(pp.cmd, sizeof pp.cmd,
             "\"workload\": \"create\", \"impl\": \"python_pool\", \"workers\": %u, \"calls\": %zu",
             w, S.py_create_calls);
    struct impl im[] = {{"shmpool", w, create_shmpool, &c, 1},
                        {"python_pool", w, py_run, &pp, 1, 0, 1}};
    measure("create", im, 2);
}

/* ---------------------------------------------------------------------------------------------
 * heat: 2D heat equation, explicit 5-point stencil, fixed boundary; one parallel for per step
 */
struct heat {
    const double *u;
    double *v;
    size_t n;
};
static int heat_rows(void *ctx, size_t b, size_t e) {
    const struct heat *h = ctx;
    size_t n = h->n;
    const double r = 0.2;
    for (size_t i = b; i < e; i++) {
        const double *u = h->u + i * n;
        double *v = h->v + i * n;
        if (i == 0 || i == n - 1) {
            memcpy(v, u, n * sizeof *v);
            continue;
        }
        v[0] = u[0];
        v[n - 1] = u[n - 1];
        for (size_t j = 1; j < n - 1; j++)
            v[j] = u[j] + r * (u[j - n] + u[j + n] + u[j - 1] + u[j + 1] - 4 * u[j]);
    }
    return 0;
}
struct heatrun {
    shmpool *pool;
    unsigned w;
    double *a, *b, *init; /* a, b: shmpool memory; init: the starting grid */
    struct heat *ctx;     /* shmpool memory: the workers read it */
    size_t n, steps, chunk;
    double *result;       /* where the final grid ended */
};
static void heat_reset(struct heatrun *h) {
    memcpy(h->a, h->init, h->n * h->n * sizeof(double));
}
static double heat_shmpool(void *arg, int warm) {
    (void)warm;
    struct heatrun *h = arg;
    heat_reset(h);
    double *u = h->a, *v = h->b;
    double t0 = now();
    for (size_t s = 0; s < h->steps; s++) {
        h->ctx->u = u, h->ctx->v = v, h->ctx->n = h->n;
        int rc = shmpool_for(h->pool, heat_rows, h->ctx, h->n, h->chunk);
        if (rc) {
            FAIL("heat shmpool_for: %s", shmpool_strerror(rc));
            return -2;
        }
        double *t = u;
        u = v, v = t;
    }
    double t = now() - t0;
    h->result = u;
    return t;
}
static double heat_openmp(void *arg, int warm) {
    (void)warm;
    struct heatrun *h = arg;
    heat_reset(h);
    double *u = h->a, *v = h->b;
    size_t nch = (h->n + h->chunk - 1) / h->chunk;
    double t0 = now();
    for (size_t s = 0; s < h->steps; s++) {
        struct heat c = {u, v, h->n};
#pragma omp parallel for schedule(dynamic, 1) num_threads(h->w)
        for (size_t k = 0; k < nch; k++)
            heat_rows(&c, k * h->chunk, (k + 1) * h->chunk < h->n ? (k + 1) * h->chunk : h->n);
        double *t = u;
        u = v, v = t;
    }
    double t = now() - t0;
    h->result = u;
    return t;
}
static double heat_serial(void *arg, int warm) {
    (void)warm;
    struct heatrun *h = arg;
    heat_reset(h);
    double *u = h->a, *v = h->b;
    double t0 = now();
    for (size_t s = 0; s < h->steps; s++) {
        struct heat c = {u, v, h->n};
        heat_rows(&c, 0, h->n);
        double *t = u;
        u = v, v = t;
    }
    double t = now() - t0;
    h->result = u;
    return t;
}

static void wl_heat(void) {
    unsigned w = O.workers;
    size_t n = S.heat_n, bytes = n * n * sizeof(double);
    shmpool *pool = make_pool(w);
    if (!pool)
        return;
    double *init = malloc(bytes), *ref = malloc(bytes);
    double *a = shmpool_alloc(pool, bytes), *b = shmpool_alloc(pool, bytes);
    struct heat *ctx = shmpool_alloc(pool, sizeof *ctx);
    if (!init || !ref || !a || !b || !ctx) {
        FAIL("heat: out of memory");
        goto out;
    }
    /* A hot square in the middle, a hot left edge. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            init[i * n + j] = (j == 0) ? 1.0
                              : (i > n / 3 && i < 2 * n / 3 && j > n / 3 && j < 2 * n / 3) ? 2.0
                                                                                             : 0.0;
    size_t chunk = (n + 4 * w - 1) / (4 * w);
    struct heatrun hs = {pool, w, a, b, init, ctx, n, S.heat_steps, chunk}, ho = hs, hr = hs;
    struct impl im[] = {{"shmpool", w, heat_shmpool, &hs, (double)(n * n * S.heat_steps)},
                        {"openmp", w, heat_openmp, &ho, (double)(n * n * S.heat_steps)},
                        {"serial", 1, heat_serial, &hr, (double)(n * n * S.heat_steps)}};
    /* The three share a and b; each run starts from init and the check compares what each left:
       the serial result is copied out after its runs, the others compared in turn. */
    measure("heat", im, 3);
    heat_serial(&hr, 0);
    memcpy(ref, hr.result, bytes);
    heat_shmpool(&hs, 0);
    if (memcmp(hs.result, ref, bytes))
        FAIL("heat: shmpool grid differs from serial");
    heat_openmp(&ho, 0);
    if (memcmp(ho.result, ref, bytes))
        FAIL("heat: openmp grid differs from serial");
out:
    free(init), free(ref);
    shmpool_destroy(pool);
}

/* ---------------------------------------------------------------------------------------------
 * primes: the prime factors of 100 numbers in [1e10, 1e12], one number per task
 */
struct primes {
    shmpool *pool;
    unsigned w;
    const uint64_t *data; /* shmpool memory */
    struct factors *out;  /* shmpool memory for the pool */
    size_t n;
};
static double primes_shmpool(void *arg, int warm) {
    (void)warm;
    struct primes *p = arg;
    double t0 = now();
    int rc = shmpool_map(p->pool, factor_task, NULL, p->data, sizeof *p->data, p->out,
                         sizeof *p->out, p->n, 1);
    double t = now() - t0;
    if (rc) {
        FAIL("primes: %s", shmpool_strerror(rc));
        return -2;
    }
    return t;
}
static double primes_openmp(void *arg, int warm) {
    (void)warm;
    struct primes *p = arg;
    double t0 = now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->w)
    for (size_t i = 0; i < p->n; i++)
        prime_factors(p->data[i], &p->out[i]);
    return now() - t0;
}
static double primes_serial(void *arg, int warm) {
    (void)warm;
    struct primes *p = arg;
    double t0 = now();
    for (size_t i = 0; i < p->n; i++)
        prime_factors(p->data[i], &p->out[i]);
    return now() - t0;
}
static double factors_sum(const struct factors *f, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < f[i].count; j++)
            s += (double)f[i].f[j];
    return s;
}

static void wl_primes(void) {
    size_t n = S.primes_n;
    uint64_t *plain = malloc(n * sizeof *plain);
    struct factors *ref = calloc(n, sizeof *ref);
    if (!plain || !ref) {
        free(plain), free(ref);
        FAIL("primes: out of memory");
        return;
    }
    uint64_t s = 1; /* np.random.uniform(1e10, 1e12, 100), as integers */
    for (size_t i = 0; i < n; i++)
        plain[i] = (uint64_t)(S.primes_lo + (S.primes_hi - S.primes_lo) *
                                                ((double)(splitmix64(&s) >> 11) * 0x1p-53));
    for (size_t i = 0; i < n; i++)
        prime_factors(plain[i], &ref[i]);
    double refsum = factors_sum(ref, n);
    char path[64];
    if (write_tmp(path, sizeof path, plain, n * sizeof *plain))
        path[0] = 0;
    unsigned ws[9];
    int nw = 0;
    ws[nw++] = O.workers;
    if (selected("scaling"))
        for (int i = 0; i < O.nscaling; i++)
            if (O.scaling[i] != O.workers)
                ws[nw++] = O.scaling[i];
    for (int k = 0; k < nw; k++) {
        unsigned w = ws[k];
        shmpool *pool = make_pool(w);
        if (!pool)
            break;
        uint64_t *data = shmpool_alloc(pool, n * sizeof *data);
        struct factors *out = shmpool_alloc(pool, n * sizeof *out);
        struct factors *out2 = calloc(n, sizeof *out2), *out3 = calloc(n, sizeof *out3);
        if (!data || !out || !out2 || !out3) {
            FAIL("primes: out of memory");
            free(out2), free(out3);
            shmpool_destroy(pool);
            break;
        }
        memcpy(data, plain, n * sizeof *data);
        struct primes ps = {pool, w, data, out, n}, po = {pool, w, data, out2, n},
                      pr = {pool, 1, data, out3, n};
        struct pyarg pp = {0};
        snprintf(pp.cmd, sizeof pp.cmd,
                 "\"workload\": \"primes\", \"impl\": \"python_pool\", \"workers\": %u, "
                 "\"path\": \"%s\", \"n\": %zu", w, path, n);
        int pyreps = O.reps < O.py_reps_slow ? O.reps : O.py_reps_slow;
        struct impl im[] = {{"shmpool", w, primes_shmpool, &ps, (double)n},
                            {"openmp", w, primes_openmp, &po, (double)n},
                            {"python_pool", w, py_run, &pp, (double)n, pyreps, 1},
                            {"serial", 1, primes_serial, &pr, (double)n}};
        measure("primes", im, k == 0 ? 4 : 3);
        if (memcmp(out, ref, n * sizeof *out) || memcmp(out2, ref, n * sizeof *out2) ||
            (k == 0 && memcmp(out3, ref, n * sizeof *out3)))
            FAIL("primes: results differ");
        if (find("primes", "python_pool", w) && !(fabs(pp.check - refsum) <= 1e-12 * refsum))
            FAIL("primes: python factors sum %.17g vs %.17g", pp.check, refsum);
        free(out2), free(out3);
        shmpool_destroy(pool);
    }
    py_drop();
    if (path[0])
        unlink(path);
    free(plain), free(ref);
}

/* ---------------------------------------------------------------------------------------------
 * idle: OpenMP heavy, with and without an idle shmpool pool alive in the same process
 */
struct idle {
    struct heavy h;
    int with_pool;
};
static double idle_run(void *arg, int warm) {
    (void)warm;
    struct idle *d = arg;
    shmpool *pool = NULL;
    if (d->with_pool) {
        /* A pool that has just finished a job: its workers spin for spin_us, then sleep. */
        pool = make_pool(O.workers);
        if (!pool)
            return -2;
        int rc = shmpool_for(pool, noop_range, NULL, 64, 0);
        if (rc) {
            shmpool_destroy(pool);
            return -2;
        }
    }
    double t = heavy_openmp(&d->h, 0);
    shmpool_destroy(pool);
    return t;
}

static void wl_idle(void) {
    size_t n = S.idle_n;
    double *x = malloc(n * sizeof *x);
    if (!x) {
        FAIL("idle: out of memory");
        return;
    }
    fill_uniform(x, n, 1);
    size_t cs = (n + S.heavy_chunks - 1) / S.heavy_chunks;
    struct chunk chunks[64];
    double sums[64];
    struct heavy h = {.w = O.workers, .chunks = chunks, .nchunks = (n + cs - 1) / cs, .sums = sums};
    for (size_t c = 0; c < h.nchunks; c++)
        chunks[c] = (struct chunk){x + c * cs, c + 1 < h.nchunks ? cs : n - c * cs};
    struct idle a = {h, 0}, b = {h, 1};
    struct impl im[] = {{"openmp", O.workers, idle_run, &a, (double)n},
                        {"openmp+idle_pool", O.workers, idle_run, &b, (double)n}};
    measure("idle", im, 2);
    free(x);
}

/* ---------------------------------------------------------------------------------------------
 * npy-load (issue 6): a 320 MB .npy (40M float64, written once with shmpool_array_save) into
 * shared memory, page cache warm, three ways: shmpool_array_load (io_uring), plain read() into
 * shmpool_alloc memory, and numpy.load + a copy into a multiprocessing SharedMemory (bench.py).
 * Each timed region runs from open to the data in shared memory; freeing it is outside (for all
 * three). Check: the 64-bit words of the data XORed, folded to 32 bits, against the original.
 */
struct npyload {
    shmpool *pool;
    const char *path;
    size_t n;
    uint32_t want; /* xor fold of the original data */
    char note[200];
};

static uint32_t xor_fold(const void *data, size_t nbytes) {
    const uint64_t *w = data;
    uint64_t x = 0;
    for (size_t i = 0; i < nbytes / 8; i++)
        x ^= w[i];
    return (uint32_t)(x ^ (x >> 32));
}

/* io_uring usable by this process? A raw io_uring_setup (bench does not link liburing): 1 yes,
   else -errno (EPERM under Docker's default seccomp, ENOSYS on old kernels). */
static int uring_probe(void) {
#ifdef __NR_io_uring_setup
    uint64_t params[16] = {0}; /* struct io_uring_params is 120 bytes */
    long fd = syscall(__NR_io_uring_setup, 1, params);
    if (fd >= 0) {
        close((int)fd);
        return 1;
    }
    return -errno;
#else
    return -ENOSYS;
#endif
}

static double npy_uring(void *arg, int warm) {
    (void)warm;
    struct npyload *L = arg;
    shmpool_array arr;
    double t0 = now();
    int rc = shmpool_array_load(L->pool, L->path, &arr);
    double t = now() - t0;
    if (rc) {
        FAIL("npy-load: shmpool_array_load: %s", shmpool_strerror(rc));
        return -2;
    }
    if (arr.dtype != SHMPOOL_F8 || arr.ndim != 1 || arr.shape[0] != L->n ||
        arr.nbytes != L->n * 8 || xor_fold(arr.data, arr.nbytes) != L->want) {
        FAIL("npy-load: shmpool_array_load gave different data");
        t = -2;
    }
    shmpool_array_free(L->pool, &arr);
    return t;
}

/* Plain read(): the header's length from its first bytes (numpy's format 1.0: 2 bytes at 8;
   2.0 and 3.0: 4 bytes), the data size from the file size, then read() until all is in. */
static double npy_read(void *arg, int warm) {
    (void)warm;
    struct npyload *L = arg;
    unsigned char pre[12];
    struct stat st;
    double t0 = now();
    int fd = open(L->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        FAIL("npy-load: %s: %s", L->path, strerror(errno));
        return -2;
    }
    size_t got = 0;
    while (got < sizeof pre) {
        ssize_t r = read(fd, pre + got, sizeof pre - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    size_t off = 0;
    if (got == sizeof pre && !memcmp(pre, "\x93NUMPY", 6))
        off = pre[6] == 1 ? 10 + ((size_t)pre[8] | (size_t)pre[9] << 8)
                          : 12 + ((size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
                                  (size_t)pre[11] << 24);
    if (!off || fstat(fd, &st) || (size_t)st.st_size < off ||
        lseek(fd, (off_t)off, SEEK_SET) != (off_t)off) {
        FAIL("npy-load: %s: bad .npy header", L->path);
        close(fd);
        return -2;
    }
    size_t nbytes = (size_t)st.st_size - off;
    unsigned char *p = shmpool_alloc(L->pool, nbytes ? nbytes : 1);
    if (!p) {
        FAIL("npy-load: shmpool_alloc(%zu): %s", nbytes, strerror(errno));
        close(fd);
        return -2;
    }
    got = 0;
    while (got < nbytes) {
        size_t want = nbytes - got > (1u << 30) ? (1u << 30) : nbytes - got;
        ssize_t r = read(fd, p + got, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    double t = now() - t0;
    if (got != nbytes || nbytes != L->n * 8 || xor_fold(p, nbytes) != L->want) {
        FAIL("npy-load: read() gave different data (%zu of %zu bytes)", got, nbytes);
        t = -2;
    }
    shmpool_free(L->pool, p);
    return t;
}

static void wl_npy_load(void) {
    size_t n = S.npy_n;
    char dir[64], path[96];
    snprintf(dir, sizeof dir, "/tmp/shmpool-bench-npy-XXXXXX");
    if (!mkdtemp(dir)) {
        FAIL("npy-load: mkdtemp: %s", strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/data.npy", dir);
    shmpool *pool = make_pool(1);
    if (!pool) {
        rmdir(dir);
        return;
    }
    struct npyload L = {.pool = pool, .path = path, .n = n};
    /* The file, written once through shmpool_array_save */
    double *x = malloc(n * sizeof *x);
    shmpool_array a = {.data = x, .dtype = SHMPOOL_F8, .ndim = 1, .shape = {n}, .count = n,
                       .nbytes = n * sizeof *x};
    int rc = x ? 0 : -ENOMEM;
    if (x) {
        fill_uniform(x, n, 1);
        L.want = xor_fold(x, n * sizeof *x);
        rc = shmpool_array_save(pool, path, &a);
    }
    free(x);
    if (rc) {
        FAIL("npy-load: writing %s: %s", path, shmpool_strerror(rc));
        unlink(path);
        rmdir(dir);
        shmpool_destroy(pool);
        return;
    }
    /* Page cache warm: read the whole file once */
    double tw = now();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        static char buf[1 << 20];
        while (read(fd, buf, sizeof buf) > 0)
            ;
        close(fd);
    }
    tw = now() - tw;
    int ur = uring_probe();
    char why[160] = "";
    const char *env = getenv("SHMPOOL_NO_IO_URING");
    if (env && env[0] && strcmp(env, "0"))
        snprintf(why, sizeof why, "SHMPOOL_NO_IO_URING=%s: pread fallback measured", env);
    else if (ur < 0)
        snprintf(why, sizeof why, "io_uring unavailable (%s): pread fallback measured",
                 strerror(-ur));
    printf("  npy-load: %s, %.0f MB of data; page cache warmed in %.3f s; io_uring %s\n", path,
           (double)n * 8 / 1e6, tw, why[0] ? why : "available");

    struct pyarg pn = {0};
    snprintf(pn.cmd, sizeof pn.cmd,
             "\"workload\": \"npy-load\", \"impl\": \"numpy\", \"workers\": 1, \"path\": \"%s\"",
             path);
    double bytes = (double)n * 8;
    struct impl im[MAXIMPL] = {
        {"shmpool-io_uring", 1, npy_uring, &L, bytes},
        {"read", 1, npy_read, &L, bytes},
        {"numpy", 1, py_run, &pn, bytes, 0, 1},
    };
    snprintf(im[0].note, sizeof im[0].note, "%s", why);
    measure("npy-load", im, 3);
    if (find("npy-load", "numpy", 1) && (uint32_t)pn.check != L.want)
        FAIL("npy-load: numpy's copy in shared memory differs (check %.0f, want %u)", pn.check,
             (unsigned)L.want);
    shmpool_destroy(pool);
    py_drop();
    unlink(path);
    rmdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * Report
 */
static double ratio(const char *wl, const char *num, const char *den, unsigned w, int *have) {
    struct meas *a = find(wl, num, w), *b = find(wl, den, w);
    *have = a && b;
    return *have ? a->med / b->med : NAN;
}

static void row(const char *what, const char *measured, const char *target, int have, int pass) {
    printf("| %-52s | %-34s | %-16s | %-5s |\n", what, measured, target,
           !have ? "n/a" : pass ? "PASS" : "MISS");
}

static void report(void) {
    unsigned w = O.workers;
    printf("\n## Medians (%d rounds; Python heavy and primes: at most %d)\n\n", O.reps,
           O.py_reps_slow);
    printf("| workload | impl | workers | median s | min s | max s | items | per item / rate | "
           "peak PSS MiB |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nM; i++) {
        struct meas *m = &M[i];
        if (!m->ok) {
            printf("| %s | %s | %u | skipped: %s | | | | | |\n", m->workload, m->impl, m->workers,
                   m->note);
            continue;
        }
        char rate[64];
        double per = m->med / m->items;
        if (!strcmp(m->workload, "apply") || !strcmp(m->workload, "create") ||
            !strcmp(m->workload, "for_empty"))
            snprintf(rate, sizeof rate, "%.2f us per call", m->med * 1e6);
        else if (!strcmp(m->workload, "npy-load"))
            snprintf(rate, sizeof rate, "%.2f GB/s", m->items / m->med / 1e9);
        else if (per < 1e-6)
            snprintf(rate, sizeof rate, "%.3g M items/s", m->items / m->med / 1e6);
        else
            snprintf(rate, sizeof rate, "%.3g ms per item", per * 1e3);
        printf("| %s | %s | %u | %.6f | %.6f | %.6f | %.0f | %s | %.1f |\n", m->workload, m->impl,
               m->workers, m->med, m->min, m->max, m->items, rate, (double)m->pss_kb / 1024);
    }

    printf("\n## Targets (issue 5; %u workers)\n\n", w);
    printf("| %-52s | %-34s | %-16s | %-5s |\n|---|---|---|---|\n", "target", "measured", "target",
           "");
    char buf[128];
    int have;
    double r;
    r = ratio("heavy", "shmpool", "openmp", w, &have);
    snprintf(buf, sizeof buf, "%.3f x", r);
    row("heavy: shmpool / OpenMP time", buf, "<= 1.05 x", have, r <= 1.05);
    r = ratio("heavy", "python_pool", "shmpool", w, &have);
    snprintf(buf, sizeof buf, "%.2f x faster", r);
    row("heavy: Python Pool.map / shmpool time", buf, ">= 3 x", have, r >= 3);
    r = ratio("heavy", "joblib", "shmpool", w, &have);
    snprintf(buf, sizeof buf, "%.2f x faster", r);
    row("heavy: joblib Parallel / shmpool time", buf, ">= 3 x", have, r >= 3);
    r = ratio("starmap", "python_pool", "shmpool", w, &have);
    snprintf(buf, sizeof buf, "%.1f x faster", r);
    row("starmap 1M, automatic chunk: Python / shmpool time", buf, ">= 50 x", have, r >= 50);
    struct meas *m = find("starmap_chunk1", "shmpool", w), *mp = find("starmap_chunk1",
                                                                        "python_pool", w);
    snprintf(buf, sizeof buf, "%.2f M/s (Python %.3f M/s)", m ? m->items / m->med / 1e6 : NAN,
             mp ? mp->items / mp->med / 1e6 : NAN);
    row("starmap chunk 1: shmpool items/s", buf, ">= 5 M/s", m != NULL,
        m && m->items / m->med >= 5e6);
    m = find("apply", "shmpool", w), mp = find("apply", "python_pool", w);
    snprintf(buf, sizeof buf, "%.2f us (Python %.1f us)", m ? m->med * 1e6 : NAN,
             mp ? mp->med * 1e6 : NAN);
    row("apply round trip, pool hot: median", buf, "<= 5 us", m != NULL, m && m->med <= 5e-6);
    m = find("apply_async", "shmpool", w), mp = find("apply_async", "python_pool", w);
    snprintf(buf, sizeof buf, "%.3f M/s (Python %.3f M/s)", m ? m->items / m->med / 1e6 : NAN,
             mp ? mp->items / mp->med / 1e6 : NAN);
    row("apply_async throughput", buf, ">= 1 M tasks/s", m != NULL,
        m && m->items / m->med >= 1e6);
    r = ratio("for_empty", "shmpool", "openmp", w, &have);
    m = find("for_empty", "shmpool", w), mp = find("for_empty", "openmp", w);
    snprintf(buf, sizeof buf, "%.2f x (%.2f vs %.2f us)", r, m ? m->med * 1e6 : NAN,
             mp ? mp->med * 1e6 : NAN);
    row("empty parallel for, 64 items: shmpool / OpenMP", buf, "<= 3 x", have, r <= 3);
    m = find("create", "shmpool", w), mp = find("create", "python_pool", w);
    snprintf(buf, sizeof buf, "%.3f ms (Python %.1f ms)", m ? m->med * 1e3 : NAN,
             mp ? mp->med * 1e3 : NAN);
    row("pool create + destroy", buf, "<= 1 ms", m != NULL, m && m->med <= 1e-3);
    m = find("heavy", "shmpool", w), mp = find("heavy", "python_pool", w);
    struct meas *mj = find("heavy", "joblib", w);
    double data_kb = (double)S.heavy_n * 8 / 1024, lim = 1.1 * data_kb + 16 * 1024;
    snprintf(buf, sizeof buf, "%.0f MiB (limit %.0f; Py %.0f, jl %.0f)",
             m ? (double)m->pss_kb / 1024 : NAN, lim / 1024,
             mp ? (double)mp->pss_kb / 1024 : NAN, mj ? (double)mj->pss_kb / 1024 : NAN);
    row("heavy: peak PSS parent + workers", buf, "<= 1.1 data+16M", m != NULL,
        m && m->pss_kb <= lim);
    r = ratio("heat", "shmpool", "openmp", w, &have);
    snprintf(buf, sizeof buf, "%.3f x", r);
    row("heat stencil, one parallel for per step: / OpenMP", buf, "<= 1.10 x", have, r <= 1.10);
    r = ratio("idle", "openmp+idle_pool", "openmp", w, &have);
    snprintf(buf, sizeof buf, "%.3f x", r);
    row("OpenMP heavy with an idle pool alive / without", buf, "<= 1.05 x", have, r <= 1.05);
    m = find("npy-load", "shmpool-io_uring", 1);
    r = ratio("npy-load", "shmpool-io_uring", "read", 1, &have);
    snprintf(buf, sizeof buf, "%.3f x (%.1f vs %.1f ms)", r, m ? m->med * 1e3 : NAN,
             have ? find("npy-load", "read", 1)->med * 1e3 : NAN);
    row("npy-load (issue 6): io_uring / read() time", buf, "<= 1.0 x", have, r <= 1.0);
    r = ratio("npy-load", "numpy", "shmpool-io_uring", 1, &have);
    snprintf(buf, sizeof buf, "%.2f x faster (numpy %.1f ms)", r,
             have ? find("npy-load", "numpy", 1)->med * 1e3 : NAN);
    row("npy-load: numpy.load+copy / io_uring time", buf, ">= 2 x", have, r >= 2);
    if (m && m->note[0])
        printf("\nnpy-load: %s\n", m->note);
    r = ratio("mpi", "mpi-2ranks", "openmp", 2, &have);
    snprintf(buf, sizeof buf, "%.3f x", r);
    row("mpi (issue 7): heavy 2 ranks x 1 worker / OpenMP 2", buf, "<= 1.10 x", have, r <= 1.10);
    r = ratio("mpi", "mpi-2ranks-tcp", "openmp", 2, &have);
    snprintf(buf, sizeof buf, "%.3f x", r);
    row("mpi: the same over TCP only", buf, "<= 1.10 x", have, r <= 1.10);
    for (int i = 0; i < nM; i++)
        if (M[i].ok && (!strcmp(M[i].workload, "mpi_claims") ||
                        !strcmp(M[i].workload, "mpi_startup")))
            printf("\n%s %s: %.4f s%s%s", M[i].workload, M[i].impl, M[i].med,
                   M[i].note[0] ? "; " : "", M[i].note);
    printf("\n");

    printf("\n## Speed-ups over serial C (primes, heavy, heat) and scaling\n\n");
    const char *wls[] = {"heavy", "primes", "heat"};
    for (int k = 0; k < 3; k++) {
        struct meas *ser = find(wls[k], "serial", 1);
        for (int i = 0; i < nM; i++) {
            if (strcmp(M[i].workload, wls[k]) || !M[i].ok || !strcmp(M[i].impl, "serial"))
                continue;
            printf("- %s %s %u workers: %.4f s, %.2f x serial C\n", wls[k], M[i].impl,
                   M[i].workers, M[i].med, ser ? ser->med / M[i].med : NAN);
        }
    }
}

static void write_json(void) {
    FILE *f = fopen(O.json, "w");
    if (!f) {
        FAIL("%s: %s", O.json, strerror(errno));
        return;
    }
    for (int i = 0; i < nM; i++) {
        struct meas *m = &M[i];
        if (!m->ok)
            continue;
        fprintf(f,
                "{\"workload\": \"%s\", \"impl\": \"%s\", \"workers\": %u, \"seconds\": %.9g, "
                "\"min\": %.9g, \"max\": %.9g, \"items\": %.0f, \"peak_pss_kb\": %ld}\n",
                m->workload, m->impl, m->workers, m->med, m->min, m->max, m->items, m->pss_kb);
    }
    fclose(f);
}

/* /dev/shm names before and after: the run must leave none of its own */
static int shm_names(char names[][256], int max) {
    DIR *d = opendir("/dev/shm");
    int n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * mpi (issue 7): heavy through mpi_heavy under mpirun, 1 and 2 ranks of 1 worker, with Open MPI's
 * default transports and TCP only, against OpenMP with 2 threads here, on the same data (seed 1).
 * mpi_heavy times its collective job itself (MPI_Wtime around shmpool_for + the sum); mpirun's own
 * start-up is measured apart (a run on 4 elements). mpi_claims: an empty shmpool_for over many
 * one-item chunks with every block limited to one chunk (SHMPOOL_MPI_MAX_BLOCK=1), so each chunk
 * is one cross-rank claim.
 */
#ifndef BENCH_MPI_HEAVY
#define BENCH_MPI_HEAVY ""
#endif
#ifndef BENCH_MPIEXEC
#define BENCH_MPIEXEC ""
#endif
#define MPI_ENV "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " \
                "OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo " \
                "OMPI_MCA_rmaps_base_oversubscribe=1 "
#define MPI_TCP "OMPI_MCA_btl=self,tcp OMPI_MCA_osc=sm,pt2pt "
#define MPI_PT2PT "OMPI_MCA_btl=self,tcp OMPI_MCA_osc=pt2pt "

struct mpirun {
    int np;
    const char *net; /* "", MPI_TCP or MPI_PT2PT */
    const char *args;
    double sum;      /* heavy: the printed sum */
    char note[200];
};

/* Run mpirun; return the seconds mpi_heavy reported (compute, or the claims job), the wall time
   of mpirun when `wall` is set; < 0 on failure. */
static double mpirun_once(struct mpirun *m, int wall) {
    char cmd[1024], line[512];
    snprintf(cmd, sizeof cmd, MPI_ENV "%s %s -np %d --bind-to none %s --workers 1 %s 2>&1", m->net,
             BENCH_MPIEXEC, m->np, BENCH_MPI_HEAVY, m->args);
    double t0 = now(), secs = -1;
    FILE *f = popen(cmd, "r");
    if (!f) {
        snprintf(m->note, sizeof m->note, "popen: %s", strerror(errno));
        return -2;
    }
    while (fgets(line, sizeof line, f)) {
        double v, c;
        if (sscanf(line, "compute: %lf", &v) == 1)
            secs = v;
        else if (sscanf(line, "sum %lf", &v) == 1)
            m->sum = v;
        else if (sscanf(line, "claims: %*d ranks x %*u workers, %*u chunks in %lf s: %*g chunks/s,"
                              " %lf claims", &v, &c) == 2) {
            secs = v;
            snprintf(m->note, sizeof m->note, "%.0f claims, %.3g claims/s", c, c / v);
        }
    }
    int st = pclose(f);
    double t = now() - t0;
    if (st != 0 || secs < 0) {
        snprintf(m->note, sizeof m->note, "mpirun -np %d failed (status %d)", m->np, st);
        return -2;
    }
    return wall ? t : secs;
}
static double mpi_compute(void *arg, int warm) {
    (void)warm;
    return mpirun_once(arg, 0);
}
static double mpi_wall(void *arg, int warm) {
    (void)warm;
    return mpirun_once(arg, 1);
}

static void wl_mpi(void) {
    if (!BENCH_MPI_HEAVY[0] || !BENCH_MPIEXEC[0]) {
        fprintf(stderr, "bench: mpi skipped: built without MPI (libopenmpi-dev, openmpi-bin)\n");
        return;
    }
    size_t n = S.heavy_n, cs = (n + S.heavy_chunks - 1) / S.heavy_chunks;
    struct heavy h = {.w = 2};
    double *x = malloc(n * sizeof *x);
    h.nchunks = (n + cs - 1) / cs;
    h.chunks = malloc(h.nchunks * sizeof *h.chunks);
    h.sums = malloc(h.nchunks * sizeof(double));
    if (!x || !h.chunks || !h.sums) {
        FAIL("mpi: out of memory");
        free(x), free(h.chunks), free(h.sums);
        return;
    }
    fill_uniform(x, n, 1); /* mpi_heavy makes the same data on every rank */
    for (size_t c = 0; c < h.nchunks; c++)
        h.chunks[c] = (struct chunk){x + c * cs, c + 1 < h.nchunks ? cs : n - c * cs};
    char args[128];
    /* Warm, as every other heavy run here: each worker has read every page before the clock runs
       (a process's first read of a page costs ~10 us on this VM), then 3 timed runs. */
    snprintf(args, sizeof args, "--n %zu --chunks %zu --warmup 1 --repeat 3", n, S.heavy_chunks);
    struct mpirun r1 = {1, "", args}, r2 = {2, "", args}, r1t = {1, MPI_TCP, args},
                  r2t = {2, MPI_TCP, args};
    struct impl im[] = {{"openmp", 2, heavy_openmp, &h, (double)n},
                        {"mpi-1rank", 1, mpi_compute, &r1, (double)n},
                        {"mpi-2ranks", 2, mpi_compute, &r2, (double)n},
                        {"mpi-1rank-tcp", 1, mpi_compute, &r1t, (double)n},
                        {"mpi-2ranks-tcp", 2, mpi_compute, &r2t, (double)n}};
    measure("mpi", im, 5);
    struct mpirun *all[] = {&r1, &r2, &r1t, &r2t};
    for (int i = 0; i < 4; i++)
        if (memcmp(&all[i]->sum, &h.total, sizeof h.total))
            FAIL("mpi: mpi_heavy -np %d %s sum %.17g, heavy %.17g", all[i]->np,
                 all[i]->net[0] ? "tcp" : "default", all[i]->sum, h.total);
    free(x), free(h.chunks), free(h.sums);

    struct mpirun s1 = {1, "", "--n 4 --chunks 4"}, s2 = {2, "", "--n 4 --chunks 4"},
                  s2t = {2, MPI_TCP, "--n 4 --chunks 4"};
    struct impl st[] = {{"mpirun-1rank", 1, mpi_wall, &s1, 1},
                        {"mpirun-2ranks", 2, mpi_wall, &s2, 1},
                        {"mpirun-2ranks-tcp", 2, mpi_wall, &s2t, 1}};
    measure("mpi_startup", st, 3);

    size_t nclaims = O.quick ? 2000 : 20000;
    static char cargs[64];
    snprintf(cargs, sizeof cargs, "--claims %zu", nclaims);
    struct mpirun c2 = {2, "SHMPOOL_MPI_MAX_BLOCK=1 ", cargs},
                  c2t = {2, "SHMPOOL_MPI_MAX_BLOCK=1 " MPI_TCP, cargs},
                  c2p = {2, "SHMPOOL_MPI_MAX_BLOCK=1 " MPI_PT2PT, cargs};
    struct impl cl[] = {{"claims-default", 2, mpi_compute, &c2, (double)nclaims},
                        {"claims-tcp", 2, mpi_compute, &c2t, (double)nclaims},
                        {"claims-pt2pt", 2, mpi_compute, &c2p, (double)nclaims}};
    measure("mpi_claims", cl, 3);
    struct mpirun *cr[] = {&c2, &c2t, &c2p};
    for (int i = 0; i < 3; i++) { /* the claims count mpi_heavy printed, on the table's row */
        struct meas *m = find("mpi_claims", cl[i].name, 2);
        if (m)
            snprintf(m->note, sizeof m->note, "%s", cr[i]->note);
    }
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench [--reps N] [--workers W] [--workloads a,b,...] [--json FILE] [--quick]\n"
            "             [--scaling 1,2,4] [--py-reps N] [--python PATH] [--script bench.py]\n"
            "             [--no-python]\n"
            "  workloads: heavy starmap starmap_chunk1 apply apply_async for_empty create heat\n"
            "             primes idle npy-load mpi scaling (default: all; scaling adds the\n"
            "             --scaling worker counts to heavy and primes; mpi needs MPI)\n"
            "  --reps N     rounds (default 5); --py-reps N caps the slow Python runs (default 3)\n"
            "  --quick      tiny sizes, 1 round (the ctest smoke run)\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *scaling = "1,2,4";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
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
            scaling = v, i++;
        } else if (v && !strcmp(a, "--python")) {
            O.python = v, i++;
        } else if (v && !strcmp(a, "--script")) {
            O.script = v, i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    for (const char *p = scaling; *p && O.nscaling < 8;) {
        unsigned w = (unsigned)strtoul(p, (char **)&p, 10);
        if (w)
            O.scaling[O.nscaling++] = w;
        while (*p == ',')
            p++;
        if (*p && !isdigit((unsigned char)*p))
            break;
    }
    if (O.quick) {
        O.reps = 1;
        S.heavy_n = 400000, S.star_n = 20000, S.star1_n = 20000, S.py_star1_n = 2000;
        S.apply_calls = 500, S.py_apply_calls = 50, S.async_n = 2000, S.py_async_n = 200;
        S.for_calls = 500, S.create_calls = 5, S.py_create_calls = 2;
        S.heat_n = 128, S.heat_steps = 10, S.primes_n = 20, S.primes_lo = 1e8, S.primes_hi = 1e9;
        S.idle_n = 400000;
        S.npy_n = 1000000; /* 8 MB */
    }
    if (O.reps < 1 || O.reps > MAXREPS || O.py_reps_slow < 1 || O.workers < 1 ||
        O.workers > 256) {
        usage(stderr);
        return 2;
    }
    static char before[512][256], after[512][256];
    int nbefore = shm_names(before, 512);

    printf("bench: %u workers, %d rounds%s; kernel clone %s; %d cores\n", O.workers, O.reps,
           O.quick ? " (quick sizes)" : "", heavy_sum_clone(), shmpool_cpu_count(SHMPOOL_CPU_USABLE));
    double t0 = now(), busy0 = machine_busy_s(), ours0 = our_cpu_s();
    if (selected("heavy") || selected("starmap") || selected("starmap_chunk1") ||
        selected("apply") || selected("apply_async") || selected("create") || selected("primes") ||
        selected("npy-load"))
        py_start(); /* before any pool or OpenMP thread exists */
    if (selected("heavy"))
        wl_heavy();
    wl_tiny();
    if (selected("for_empty"))
        wl_for_empty();
    if (selected("create"))
        wl_create();
    if (selected("heat"))
        wl_heat();
    if (selected("primes"))
        wl_primes();
    if (selected("idle"))
        wl_idle();
    if (selected("npy-load"))
        wl_npy_load();
    if (selected("mpi"))
        wl_mpi();
    py_stop();
    report();
    double wall = now() - t0, other = machine_busy_s() - busy0 - (our_cpu_s() - ours0);
    int cores = shmpool_cpu_count(SHMPOOL_CPU_LOGICAL);
    printf("\nOther programs' load during the run: %.1f core-seconds of %.1f (%.0f%% of the "
           "machine's %d cores); load average now: ", other < 0 ? 0 : other, wall * cores,
           100 * (other < 0 ? 0 : other) / (wall * cores), cores);
    FILE *la = fopen("/proc/loadavg", "r");
    char lbuf[128] = "?";
    if (la) {
        if (!fgets(lbuf, sizeof lbuf, la))
            lbuf[0] = 0;
        fclose(la);
    }
    printf("%s", lbuf);
    if (O.json)
        write_json();

    int nafter = shm_names(after, 512);
    for (int i = 0; i < nafter; i++) {
        int found = 0;
        for (int j = 0; j < nbefore && !found; j++)
            found = !strcmp(after[i], before[j]);
        if (found)
            continue;
        /* Ours: shmpool.<our pid>.*, or a name with the Python coprocess's pid (joblib's
           memmapping folder). Other programs may be using /dev/shm meanwhile. */
        char mine[32], py[32];
        snprintf(mine, sizeof mine, "shmpool.%d.", (int)getpid());
        snprintf(py, sizeof py, "%d", (int)py_pid_seen);
        if (!strncmp(after[i], mine, strlen(mine)) || (py_pid_seen > 0 && strstr(after[i], py)))
            FAIL("left in /dev/shm: %s", after[i]);
        else
            fprintf(stderr, "bench: note: /dev/shm/%s appeared meanwhile (not ours)\n", after[i]);
    }
    fprintf(stderr, "bench: %.1f s in all, %d failure(s)\n", now() - t0, failures);
    return failures ? 1 : 0;
}
