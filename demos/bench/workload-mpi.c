/* mpi (issue 7): heavy through mpi_heavy under mpirun, 1 and 2 ranks of 1 worker, with Open MPI's
 * default transports and TCP only, against OpenMP with 2 threads here, on the same data (seed 1).
 * mpi_heavy times its collective job itself (MPI_Wtime around shmpool_for + the sum); mpirun's own
 * start-up is measured apart (a run on 4 elements). mpi_claims: an empty shmpool_for over many
 * one-item chunks with every block limited to one chunk (SHMPOOL_MPI_MAX_BLOCK=1), so each chunk
 * is one cross-rank claim.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "heavy.h"

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

/* heavy on mpi_heavy's ranks against OpenMP with 2 threads; the sums must be bit-identical.
   -1 when out of memory (the rest of mpi is skipped). */
static int mpi_heavy_runs(void) {
    size_t n = S.heavy_n, cs = (n + S.heavy_chunks - 1) / S.heavy_chunks;
    struct heavy h = {.w = 2};
    double *x = malloc(n * sizeof *x);
    h.nchunks = (n + cs - 1) / cs;
    h.chunks = malloc(h.nchunks * sizeof *h.chunks);
    h.sums = malloc(h.nchunks * sizeof(double));
    if (!x || !h.chunks || !h.sums) {
        FAIL("mpi: out of memory");
        free(x), free(h.chunks), free(h.sums);
        return -1;
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
    return 0;
}

/* mpirun's own start-up: the wall time of a run on 4 elements */
static void mpi_startup(void) {
    struct mpirun s1 = {1, "", "--n 4 --chunks 4"}, s2 = {2, "", "--n 4 --chunks 4"},
                  s2t = {2, MPI_TCP, "--n 4 --chunks 4"};
    struct impl st[] = {{"mpirun-1rank", 1, mpi_wall, &s1, 1},
                        {"mpirun-2ranks", 2, mpi_wall, &s2, 1},
                        {"mpirun-2ranks-tcp", 2, mpi_wall, &s2t, 1}};
    measure("mpi_startup", st, 3);
}

/* Cross-rank claims, one chunk each, over the three transports */
static void mpi_claims(void) {
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

static void run(void) {
    if (!BENCH_MPI_HEAVY[0] || !BENCH_MPIEXEC[0]) {
        fprintf(stderr, "bench: mpi skipped: built without MPI (libopenmpi-dev, openmpi-bin)\n");
        return;
    }
    if (mpi_heavy_runs())
        return;
    mpi_startup();
    mpi_claims();
}

const struct workload workload_mpi = {"mpi", run};
