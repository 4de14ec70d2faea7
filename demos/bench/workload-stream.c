/* stream (issue 15): the heavy kernel over a .npy file streamed through the pool
 * (shmpool_stream_reduce, 256 MiB budget) against what it is bound by, all in this run:
 *   read     the file read sequentially with read() into a 64 MiB buffer (the disk or page cache)
 *   compute  the same chunks with the data already in shared memory (shmpool_for over the
 *            loaded array): the workers alone
 *   stream   the file streamed: reads and write-backs overlap the compute, so it should take
 *            about max(read, compute); the target is <= 1.10x that
 *   stream-64MiB  the same stream inside a private mount namespace whose /dev/shm is 64 MiB
 *            (Docker's default), with the default budget (half of it): works, same sum
 * Page cache warm for those; then, where this process may drop the caches (root), read and
 * stream once each from a cold cache. The file (default 500M doubles, 4 GB, --stream-n) is
 * written to /tmp and removed at the end; the workload is skipped when /tmp lacks the room.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "heavy_kernel.h"

/* rows per chunk: 1 MiB, the same for every run (--quick: 512 KiB) */
static size_t CHUNK = (size_t)1 << 17;
#define BUDGET ((size_t)256 << 20)
#define READ_BUF ((size_t)64 << 20)

struct cctx { /* compute's context: shmpool memory, valid in the workers */
    const double *x;
    double *sums;
    size_t n, chunk;
    int light;
};

struct st {
    struct cctx *c;
    shmpool *pool;
    const char *path;
    size_t n;
    size_t budget;
    double *x;      /* the loaded array, for compute */
    double *sums;   /* per chunk, shmpool memory */
    double want;    /* the in-memory total */
    double want_light;
    double total;
    char *buf;
};

static int rows_sum(void *ctx, const void *rows, size_t begin, size_t end, void *partial) {
    (void)ctx;
    *(double *)partial = heavy_sum(rows, end - begin);
    return 0;
}
/* The light kernel: a plain sum, memory-bound: the file's read is then what bounds the stream,
   which shows whether the reads really overlap the compute. */
static double plain_sum(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}
static int rows_plain(void *ctx, const void *rows, size_t begin, size_t end, void *partial) {
    (void)ctx;
    *(double *)partial = plain_sum(rows, end - begin);
    return 0;
}
static void add(void *acc, const void *partial, void *ctx) {
    (void)ctx;
    *(double *)acc += *(const double *)partial;
}
static int chunk_sums(void *ctx, size_t begin, size_t end) {
    struct cctx *s = ctx;
    for (size_t c = begin; c < end; c++) {
        size_t lo = c * s->chunk, len = s->n - lo < s->chunk ? s->n - lo : s->chunk;
        s->sums[c] = s->light ? plain_sum(s->x + lo, len) : heavy_sum(s->x + lo, len);
    }
    return 0;
}

static double t_read(void *arg, int warm) {
    (void)warm;
    struct st *s = arg;
    double t0 = now();
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -2;
    ssize_t r;
    size_t got = 0;
    while ((r = read(fd, s->buf, READ_BUF)) > 0 || (r < 0 && errno == EINTR))
        got += r > 0 ? (size_t)r : 0;
    close(fd);
    double t = now() - t0;
    if (got < s->n * 8) {
        FAIL("stream: read %zu of %zu bytes", got, s->n * 8);
        return -2;
    }
    return t;
}

static double compute(struct st *s, int light) {
    size_t nchunks = (s->n + CHUNK - 1) / CHUNK;
    s->c->light = light;
    double t0 = now();
    int rc = shmpool_for(s->pool, chunk_sums, s->c, nchunks, 1);
    double t = now() - t0;
    if (rc) {
        FAIL("stream: compute in memory: %s", shmpool_strerror(rc));
        return -2;
    }
    double total = 0;
    for (size_t c = 0; c < nchunks; c++)
        total += s->sums[c];
    *(light ? &s->want_light : &s->want) = total;
    return t;
}
static double t_compute(void *arg, int warm) {
    (void)warm;
    return compute(arg, 0);
}
static double t_compute_light(void *arg, int warm) {
    (void)warm;
    return compute(arg, 1);
}

static double stream_once(shmpool *pool, const struct st *s, size_t budget, double *total,
                          int light) {
    shmpool_stream_options o = {.budget = budget, .chunk = CHUNK};
    *total = 0;
    double t0 = now();
    int rc = shmpool_stream_reduce(pool, s->path, light ? rows_plain : rows_sum, add, NULL, total,
                                   sizeof *total, &o, NULL);
    double t = now() - t0;
    if (rc) {
        FAIL("stream: shmpool_stream_reduce: %s", shmpool_strerror(rc));
        return -2;
    }
    return t;
}

static double t_stream(void *arg, int warm) {
    (void)warm;
    struct st *s = arg;
    double t = stream_once(s->pool, s, s->budget, &s->total, 0);
    if (t >= 0 && memcmp(&s->total, &s->want, sizeof s->total)) {
        FAIL("stream: the streamed sum %.17g differs from the in-memory sum %.17g", s->total,
             s->want);
        return -2;
    }
    return t;
}
static double t_stream_light(void *arg, int warm) {
    (void)warm;
    struct st *s = arg;
    double total;
    double t = stream_once(s->pool, s, s->budget, &total, 1);
    if (t >= 0 && memcmp(&total, &s->want_light, sizeof total)) {
        FAIL("stream: the streamed plain sum %.17g differs from the in-memory one %.17g", total,
             s->want_light);
        return -2;
    }
    return t;
}

/* In a child: a private 64 MiB /dev/shm, a pool of its own, the default budget. The seconds (or
   -1: no mount namespace allowed here; -2: failed), through a pipe. */
static double t_stream_small_shm(void *arg, int warm) {
    (void)warm;
    struct st *s = arg;
    int p[2];
    if (pipe(p))
        return -2;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        double res = -1;
        if (unshare(CLONE_NEWNS) == 0 && mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
            mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=64m") == 0) {
            shmpool *pool;
            shmpool_options opt = {.workers = O.workers, .flags = SHMPOOL_FLAG_QUIET};
            res = -2;
            if (shmpool_create(&pool, &opt) == 0) {
                double total;
                res = stream_once(pool, s, 0, &total, 0);
                if (res >= 0 && memcmp(&total, &s->want, sizeof total))
                    res = -3;
                shmpool_destroy(pool);
            }
        }
        if (write(p[1], &res, sizeof res) != sizeof res)
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    double res = -2;
    if (pid < 0 || read(p[0], &res, sizeof res) != sizeof res)
        res = -2;
    close(p[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    if (res == -3) {
        FAIL("stream: the sum in a 64 MiB /dev/shm differs from the in-memory sum");
        res = -2;
    } else if (res == -2) {
        FAIL("stream: streaming in a 64 MiB /dev/shm failed");
    }
    return res;
}

/* A 1-d float64 .npy of n uniform values, written in blocks (never all in memory). */
static int write_file(const char *path, size_t n) {
    char dict[128], header[192];
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", n);
    size_t hlen = (10 + (size_t)dl + 1 + 63) / 64 * 64;
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    header[8] = (char)((hlen - 10) & 0xff), header[9] = (char)((hlen - 10) >> 8);
    memset(header + 10, ' ', hlen - 10);
    memcpy(header + 10, dict, (size_t)dl);
    header[hlen - 1] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    size_t block = (size_t)1 << 22;
    double *x = malloc(block * sizeof *x);
    int ok = x && fwrite(header, 1, hlen, f) == hlen;
    uint64_t seed = 7;
    for (size_t done = 0; ok && done < n; done += block) {
        size_t m = n - done < block ? n - done : block;
        for (size_t i = 0; i < m; i++)
            x[i] = (double)(splitmix64(&seed) >> 11) * 0x1p-53;
        ok = fwrite(x, sizeof *x, m, f) == m;
    }
    free(x);
    ok &= fclose(f) == 0;
    return ok ? 0 : -EIO;
}

/* 1 if the page cache could be dropped (root), else 0. */
static int drop_caches(void) {
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0)
        return 0;
    int ok = write(fd, "3\n", 2) == 2;
    close(fd);
    return ok;
}

static void run(void) {
    size_t n = S.stream_n, bytes = n * 8;
    if (O.quick)
        CHUNK = (size_t)1 << 16;
    char path[] = "/tmp/shmpool-bench-stream-XXXXXX.npy";
    struct statvfs v;
    if (statvfs("/tmp", &v) == 0 && (double)v.f_bavail * v.f_frsize < (double)bytes * 1.2 + 1e9) {
        printf("  stream: skipped: /tmp has %.1f GB free, the file needs %.1f GB\n",
               (double)v.f_bavail * v.f_frsize / 1e9, (double)bytes / 1e9);
        return;
    }
    int fd = mkstemps(path, 4);
    if (fd < 0) {
        FAIL("stream: mkstemps: %s", strerror(errno));
        return;
    }
    close(fd);
    double tw = now();
    int rc = write_file(path, n);
    if (rc) {
        FAIL("stream: writing %s: %s", path, strerror(-rc));
        unlink(path);
        return;
    }
    tw = now() - tw;
    struct st s = {.path = path, .n = n, .budget = O.quick ? (size_t)4 << 20 : BUDGET};
    s.pool = make_pool(O.workers);
    s.buf = malloc(READ_BUF);
    shmpool_array arr = {0};
    if (!s.pool || !s.buf || (rc = shmpool_array_load(s.pool, path, &arr))) {
        if (s.pool)
            FAIL("stream: loading %s for the in-memory run: %s", path, shmpool_strerror(rc));
        goto out;
    }
    s.x = arr.data;
    s.sums = shmpool_alloc(s.pool, ((n + CHUNK - 1) / CHUNK) * sizeof(double));
    s.c = shmpool_alloc(s.pool, sizeof *s.c);
    if (!s.sums || !s.c) {
        FAIL("stream: shmpool_alloc: %s", strerror(errno));
        goto out;
    }
    *s.c = (struct cctx){.x = s.x, .sums = s.sums, .n = n, .chunk = CHUNK};
    (void)t_compute(&s, 1); /* s.want, before any stream is checked against it */
    (void)t_compute_light(&s, 1);
    printf("  stream: %s, %.0f MB (written in %.1f s), chunks of %zu rows, budget %zu MiB\n", path,
           (double)bytes / 1e6, tw, (size_t)CHUNK, s.budget >> 20);
    int reps = O.reps < 3 ? O.reps : 3; /* each run reads the whole file */
    struct impl im[MAXIMPL] = {
        {"read", 1, t_read, &s, (double)n, reps},
        {"compute", O.workers, t_compute, &s, (double)n, reps},
        {"shmpool", O.workers, t_stream, &s, (double)n, reps},
        {"shmpool-64MiB-shm", O.workers, t_stream_small_shm, &s, (double)n, reps},
        {"compute-sum", O.workers, t_compute_light, &s, (double)n, reps},
        {"shmpool-sum", O.workers, t_stream_light, &s, (double)n, reps},
    };
    snprintf(im[0].note, sizeof im[0].note, "read() of the file, 64 MiB at a time, page cache warm");
    snprintf(im[1].note, sizeof im[1].note, "shmpool_for over the chunks, data loaded beforehand");
    snprintf(im[2].note, sizeof im[2].note, "shmpool_stream_reduce, %zu MiB budget, cache warm",
             s.budget >> 20);
    snprintf(im[3].note, sizeof im[3].note, "the same in a private 64 MiB /dev/shm, default budget");
    snprintf(im[4].note, sizeof im[4].note, "a plain sum instead of heavy, data loaded");
    snprintf(im[5].note, sizeof im[5].note, "a plain sum instead of heavy, streamed");
    measure("stream", im, 6);
    struct meas *mr = find("stream", "read", 1), *mc = find("stream", "compute", O.workers),
                *ms = find("stream", "shmpool", O.workers);
    if (mr && mc && ms && mr->ok && mc->ok && ms->ok) {
        double ref = mr->med > mc->med ? mr->med : mc->med;
        printf("  stream, page cache warm: read %.3f s, compute %.3f s, stream %.3f s = %.3fx "
               "max(read, compute) (target <= 1.10x)\n",
               mr->med, mc->med, ms->med, ms->med / ref);
    }
    struct meas *ml = find("stream", "compute-sum", O.workers),
                *msl = find("stream", "shmpool-sum", O.workers);
    if (mr && ml && msl && mr->ok && ml->ok && msl->ok) {
        double ref = mr->med > ml->med ? mr->med : ml->med;
        printf("  stream, plain sum (read-bound), page cache warm: read %.3f s, compute %.3f s, "
               "stream %.3f s = %.3fx max(read, compute)\n",
               mr->med, ml->med, msl->med, msl->med / ref);
    }
    shmpool_array_free(s.pool, &arr); /* the cold runs need no copy in /dev/shm */
    s.x = NULL;
    if (!O.quick && drop_caches()) {
        double rcold = t_read(&s, 0);
        drop_caches();
        double scold = t_stream(&s, 0);
        if (rcold > 0 && scold > 0 && mc && mc->ok) {
            double ref = rcold > mc->med ? rcold : mc->med;
            printf("  stream, page cache dropped: read %.3f s, stream %.3f s = %.3fx max(read, "
                   "compute %.3f s)\n",
                   rcold, scold, scold / ref, mc->med);
        }
    } else if (!O.quick) {
        printf("  stream: the page cache cannot be dropped here (not root): no cold figures\n");
    }
out:
    free(s.buf);
    shmpool_destroy(s.pool);
    unlink(path);
}

const struct workload workload_stream = {"stream", run, 0};
