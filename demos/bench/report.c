/* The report after the run: every median, the targets of issue 5 (PASS/MISS), the speed-ups
 * over serial C. Markdown, pasted into docs/BENCHMARKS.md.
 */
#include <math.h>
#include <string.h>

#include "harness.h"

static double ratio(const char *wl, const char *num, const char *den, unsigned w, int *have) {
    struct meas *a = find(wl, num, w), *b = find(wl, den, w);
    *have = a && b;
    return *have ? a->med / b->med : NAN;
}

static void row(const char *what, const char *measured, const char *target, int have, int pass) {
    printf("| %-52s | %-34s | %-16s | %-5s |\n", what, measured, target,
           !have ? "n/a" : pass ? "PASS" : "MISS");
}

static void print_medians(void) {
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
}

/* heavy's times against OpenMP, Python's Pool and joblib, and starmap's against Python's Pool */
static void targets_heavy_starmap(unsigned w) {
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
}

/* The per-call costs: apply, apply_async, an empty parallel for, pool create + destroy */
static void targets_overheads(unsigned w) {
    char buf[128];
    int have;
    struct meas *m = find("apply", "shmpool", w), *mp = find("apply", "python_pool", w);
    snprintf(buf, sizeof buf, "%.2f us (Python %.1f us)", m ? m->med * 1e6 : NAN,
             mp ? mp->med * 1e6 : NAN);
    row("apply round trip, pool hot: median", buf, "<= 5 us", m != NULL, m && m->med <= 5e-6);
    m = find("apply_async", "shmpool", w), mp = find("apply_async", "python_pool", w);
    snprintf(buf, sizeof buf, "%.3f M/s (Python %.3f M/s)", m ? m->items / m->med / 1e6 : NAN,
             mp ? mp->items / mp->med / 1e6 : NAN);
    row("apply_async throughput", buf, ">= 1 M tasks/s", m != NULL,
        m && m->items / m->med >= 1e6);
    double r = ratio("for_empty", "shmpool", "openmp", w, &have);
    m = find("for_empty", "shmpool", w), mp = find("for_empty", "openmp", w);
    snprintf(buf, sizeof buf, "%.2f x (%.2f vs %.2f us)", r, m ? m->med * 1e6 : NAN,
             mp ? mp->med * 1e6 : NAN);
    row("empty parallel for, 64 items: shmpool / OpenMP", buf, "<= 3 x", have, r <= 3);
    m = find("create", "shmpool", w), mp = find("create", "python_pool", w);
    snprintf(buf, sizeof buf, "%.3f ms (Python %.1f ms)", m ? m->med * 1e3 : NAN,
             mp ? mp->med * 1e3 : NAN);
    row("pool create + destroy", buf, "<= 1 ms", m != NULL, m && m->med <= 1e-3);
}

/* heavy's peak PSS, heat and idle against OpenMP */
static void targets_memory_openmp(unsigned w) {
    char buf[128];
    int have;
    struct meas *m = find("heavy", "shmpool", w), *mp = find("heavy", "python_pool", w);
    struct meas *mj = find("heavy", "joblib", w);
    double data_kb = (double)S.heavy_n * 8 / 1024, lim = 1.1 * data_kb + 16 * 1024;
    snprintf(buf, sizeof buf, "%.0f MiB (limit %.0f; Py %.0f, jl %.0f)",
             m ? (double)m->pss_kb / 1024 : NAN, lim / 1024,
             mp ? (double)mp->pss_kb / 1024 : NAN, mj ? (double)mj->pss_kb / 1024 : NAN);
    row("heavy: peak PSS parent + workers", buf, "<= 1.1 data+16M", m != NULL,
        m && m->pss_kb <= lim);
    double r = ratio("heat", "shmpool", "openmp", w, &have);
    snprintf(buf, sizeof buf, "%.3f x", r);
    row("heat stencil, one parallel for per step: / OpenMP", buf, "<= 1.10 x", have, r <= 1.10);
    r = ratio("idle", "openmp+idle_pool", "openmp", w, &have);
    snprintf(buf, sizeof buf, "%.3f x", r);
    row("OpenMP heavy with an idle pool alive / without", buf, "<= 1.05 x", have, r <= 1.05);
}

/* npy-load (issue 6) and mpi (issue 7), with their notes after the table */
static void targets_npy_mpi(void) {
    char buf[128];
    int have;
    struct meas *m = find("npy-load", "shmpool-io_uring", 1);
    double r = ratio("npy-load", "shmpool-io_uring", "read", 1, &have);
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
}

/* Numeric codes (issue 13): short loops against OpenMP, alternating runtimes, staging. Each row
   gives the default pool and the calling thread running chunks (SHMPOOL_FLAG_CALLER_RUNS). */
static void targets_numeric(unsigned w) {
    char buf[128];
    int have, have2;
    const struct {
        const char *wl, *what;
        double limit;
    } loops[] = {{"for_20us", "two 20 us chunks per call: / OpenMP", 1.10},
                 {"daxpy", "daxpy n = 1e5: / OpenMP", 1.10},
                 {"jacobi512", "Jacobi 512x512: / OpenMP", 1.10},
                 {"jacobi2048", "Jacobi 2048x2048: / OpenMP", 1.05}};
    for (size_t k = 0; k < sizeof loops / sizeof loops[0]; k++) {
        double r = ratio(loops[k].wl, "shmpool", "openmp", w, &have);
        double rc = ratio(loops[k].wl, "shmpool-caller_runs", "openmp", w, &have2);
        snprintf(buf, sizeof buf, "%.3f x (caller runs %.3f x)", r, rc);
        char target[32];
        snprintf(target, sizeof target, "<= %.2f x", loops[k].limit);
        row(loops[k].what, buf, target, have, r <= loops[k].limit || rc <= loops[k].limit);
    }
    struct meas *o = find("omp_alternate", "openmp_alone", w), *p = find("omp_alternate", "shmpool_alone", w);
    struct meas *b = find("omp_alternate", "alternating", w);
    double r = o && p && b ? b->med / (o->med + p->med) : NAN;
    snprintf(buf, sizeof buf, "%.3f x", r);
    row("OpenMP and shmpool alternating / sum of each alone", buf, "<= 1.2 x", o && p && b, r <= 1.2);
    struct meas *st = find("staged_map", "shmpool-staged", w), *cp = find("staged_map", "serial_copy", 1);
    have = st && cp;
    r = have ? st->med / cp->med : NAN;
    snprintf(buf, sizeof buf, "%.3f x", r);
    row("staged map 20M doubles / serial copy in and out", buf, "<= 3 x", have, r <= 3);
}

/* imap (issue 15): the first chunk of heavy's map, as it completes, against one chunk's compute */
static void targets_imap(unsigned w) {
    char buf[128];
    struct meas *f = find("imap", "shmpool_imap_first", w), *c = find("imap", "one_chunk_serial", 1);
    double r = f && c ? f->med / c->med : NAN;
    snprintf(buf, sizeof buf, "%.3f x (%.1f vs %.1f ms)", r, f ? f->med * 1e3 : NAN,
             c ? c->med * 1e3 : NAN);
    row("imap (issue 15): first chunk / one chunk's compute", buf, "<= 1.2 x", f && c, r <= 1.2);
}

static void print_targets(void) {
    unsigned w = O.workers;
    printf("\n## Targets (issue 5; %u workers)\n\n", w);
    printf("| %-52s | %-34s | %-16s | %-5s |\n|---|---|---|---|\n", "target", "measured", "target",
           "");
    targets_heavy_starmap(w);
    targets_overheads(w);
    targets_memory_openmp(w);
    targets_npy_mpi();
    targets_numeric(w);
    targets_imap(w);
}

static void print_speedups(void) {
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

void report(void) {
    print_medians();
    print_targets();
    print_speedups();
}
