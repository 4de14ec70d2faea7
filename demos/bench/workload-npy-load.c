/* npy-load (issue 6): a 320 MB .npy (40M float64, written once with shmpool_array_save) into
 * shared memory, page cache warm, three ways: shmpool_array_load (io_uring), plain read() into
 * shmpool_alloc memory, and numpy.load + a copy into a multiprocessing SharedMemory (bench.py).
 * Each timed region runs from open to the data in shared memory; freeing it is outside (for all
 * three). Check: the 64-bit words of the data XORed, folded to 32 bits, against the original.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

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

/* Where the data starts, from the header's length in the first bytes (numpy's format 1.0:
   2 bytes at 8; 2.0 and 3.0: 4 bytes); 0 if fd is not a .npy file. */
static size_t npy_data_offset(int fd) {
    unsigned char pre[12];
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
    return off;
}

/* Plain read(): the header's length, the data size from the file size, then read() until all
   is in. */
static double npy_read(void *arg, int warm) {
    (void)warm;
    struct npyload *L = arg;
    struct stat st;
    double t0 = now();
    int fd = open(L->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        FAIL("npy-load: %s: %s", L->path, strerror(errno));
        return -2;
    }
    size_t off = npy_data_offset(fd);
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
    size_t got = 0;
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

/* The file, written once through shmpool_array_save; L->want its check. */
static int npy_write(struct npyload *L) {
    size_t n = L->n;
    double *x = malloc(n * sizeof *x);
    shmpool_array a = {.data = x, .dtype = SHMPOOL_F8, .ndim = 1, .shape = {n}, .count = n,
                       .nbytes = n * sizeof *x};
    int rc = x ? 0 : -ENOMEM;
    if (x) {
        fill_uniform(x, n, 1);
        L->want = xor_fold(x, n * sizeof *x);
        rc = shmpool_array_save(L->pool, L->path, &a);
    }
    free(x);
    if (rc)
        FAIL("npy-load: writing %s: %s", L->path, shmpool_strerror(rc));
    return rc;
}

/* Page cache warm: read the whole file once; the seconds it took. */
static double warm_cache(const char *path) {
    double tw = now();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        static char buf[1 << 20];
        while (read(fd, buf, sizeof buf) > 0)
            ;
        close(fd);
    }
    return now() - tw;
}

/* Why shmpool_array_load will not use io_uring here, into why; empty when it will. */
static void uring_why(char *why, size_t len) {
    int ur = uring_probe();
    const char *env = getenv("SHMPOOL_NO_IO_URING");
    why[0] = 0;
    if (env && env[0] && strcmp(env, "0"))
        snprintf(why, len, "SHMPOOL_NO_IO_URING=%s: pread fallback measured", env);
    else if (ur < 0)
        snprintf(why, len, "io_uring unavailable (%s): pread fallback measured", strerror(-ur));
}

static void npy_measure(struct npyload *L, const char *why) {
    struct pyarg pn = {0};
    snprintf(pn.cmd, sizeof pn.cmd,
             "\"workload\": \"npy-load\", \"impl\": \"numpy\", \"workers\": 1, \"path\": \"%s\"",
             L->path);
    double bytes = (double)L->n * 8;
    struct impl im[MAXIMPL] = {
        {"shmpool-io_uring", 1, npy_uring, L, bytes},
        {"read", 1, npy_read, L, bytes},
        {"numpy", 1, py_run, &pn, bytes, 0, 1},
    };
    snprintf(im[0].note, sizeof im[0].note, "%s", why);
    measure("npy-load", im, 3);
    if (find("npy-load", "numpy", 1) && (uint32_t)pn.check != L->want)
        FAIL("npy-load: numpy's copy in shared memory differs (check %.0f, want %u)", pn.check,
             (unsigned)L->want);
}

static void run(void) {
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
    if (npy_write(&L)) {
        unlink(path);
        rmdir(dir);
        shmpool_destroy(pool);
        return;
    }
    double tw = warm_cache(path);
    char why[160];
    uring_why(why, sizeof why);
    printf("  npy-load: %s, %.0f MB of data; page cache warmed in %.3f s; io_uring %s\n", path,
           (double)n * 8 / 1e6, tw, why[0] ? why : "available");
    npy_measure(&L, why);
    shmpool_destroy(pool);
    py_drop();
    unlink(path);
    rmdir(dir);
}

const struct workload workload_npy_load = {"npy-load", run, 1};
