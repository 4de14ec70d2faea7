/* Array files straight into shared memory: .npy and raw files are read into shmpool_alloc memory
 * (io_uring, or pread where that is not possible: uring_io.c), and written from any memory.
 *
 * The data never passes through an intermediate buffer, except for a raw file read from a pipe,
 * whose size is only known at its end (it grows in shared memory, see read_stream). The header is small and read with plain pread/read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"
#include "pool.h"
#include "shmpool.h"
#include "tunables.h"
#include "uring_io.h"

size_t shmpool_dtype_size(shmpool_dtype dtype) {
    return shmpool__npy_dtype_size(dtype);
}

const char *shmpool_dtype_descr(shmpool_dtype dtype) {
    return shmpool__npy_dtype_descr(dtype);
}

/* SHMPOOL_NO_IO_URING set to anything but "" or "0" forces pread/pwrite, as does the pool flag. */
static struct shmpool__io io_for(const shmpool *pool) {
    const char *env = getenv("SHMPOOL_NO_IO_URING");
    bool off = (env && env[0] && strcmp(env, "0") != 0) ||
               (pool && (shmpool__pool_flags(pool) & SHMPOOL_FLAG_NO_IO_URING));
    return (struct shmpool__io){.use_uring = !off};
}

/* What a public call asks of the file it opens. */
struct array_call {
    shmpool *pool;
    shmpool_array *arr;
    size_t first_row, nrows; /* load_rows */
    shmpool_dtype dtype;     /* load_raw */
};

typedef int file_op(int fd, const struct stat *st, const struct array_call *c);

/* Opens path for reading, runs op on it, closes it: op's code, or why the file could not be
   opened. */
static int with_file(const char *path, file_op *op, const struct array_call *c) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (S_ISDIR(st.st_mode))
        rc = -EISDIR; /* open(O_RDONLY) succeeds on a directory; read would not */
    else
        rc = op(fd, &st, c);
    close(fd);
    return rc;
}

/* Regular files are read at offsets; anything else (a pipe, a FIFO, a device) as a stream. */
static uint64_t at(bool regular, size_t off) {
    return regular ? (uint64_t)off : SHMPOOL__IO_STREAM;
}

static int alloc_data(shmpool *pool, size_t nbytes, void **data) {
    *data = NULL;
    if (nbytes == 0)
        return 0; /* an empty array has no data, and shmpool_alloc refuses 0 bytes */
    void *p = shmpool_alloc(pool, nbytes);
    if (!p)
        return errno > 0 ? -errno : -ENOMEM;
    *data = p;
    return 0;
}

/* The .npy header, read as it says how long it is. A file that ends inside it is malformed. */
static int read_header(int fd, bool regular, struct shmpool__npy_header *h) {
    struct shmpool__io plain = {.use_uring = false};
    unsigned char pre[12];
    size_t have = 0, need = 10, size = 0;
    int rc;
    for (;;) {
        rc = shmpool__io_read(&plain, fd, pre + have, need - have, at(regular, have));
        if (rc)
            return rc == -EPROTO ? -EBADMSG : rc;
        have = need;
        rc = shmpool__npy_header_size(pre, have, &size);
        if (rc != -EAGAIN)
            break;
        if (size <= have || size > sizeof pre)
            return -EBADMSG; /* cannot happen: header_size asks for at most 12 bytes */
        need = size;
    }
    if (rc)
        return rc;
    if (size > SHMPOOL__NPY_HEADER_MAX)
        return -EBADMSG;
    unsigned char *buf = malloc(size);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, pre, have);
    rc = shmpool__io_read(&plain, fd, buf + have, size - have, at(regular, have));
    if (rc == 0)
        rc = shmpool__npy_parse(buf, size, h);
    else if (rc == -EPROTO)
        rc = -EBADMSG;
    free(buf);
    return rc;
}

/* The header, and for a regular file the check that the data is exactly as long as it says:
   before any memory is taken, so a truncated file costs nothing. (stream.c reads it too.) */
int shmpool__npy_read_header(int fd, const struct stat *st, struct shmpool__npy_header *h) {
    bool regular = S_ISREG(st->st_mode);
    int rc = read_header(fd, regular, h);
    if (!rc && regular && (uint64_t)st->st_size - h->data_offset != h->nbytes)
        rc = -EPROTO;
    return rc;
}

/* What the header says, into arr (data not touched). */
static void describe(shmpool_array *arr, const struct shmpool__npy_header *h) {
    arr->dtype = h->dtype;
    arr->ndim = h->ndim;
    memcpy(arr->shape, h->shape, sizeof arr->shape);
    arr->count = h->count;
    arr->nbytes = h->nbytes;
}

/* After the data of a stream: one more byte means the file is longer than its header says. */
static int expect_eof(int fd) {
    for (;;) {
        unsigned char c;
        ssize_t r = read(fd, &c, 1);
        if (r == 0)
            return 0;
        if (r > 0)
            return -EPROTO;
        if (errno != EINTR)
            return -errno;
    }
}

static int load_npy(int fd, const struct stat *st, const struct array_call *c) {
    shmpool *pool = c->pool;
    bool regular = S_ISREG(st->st_mode);
    struct shmpool__npy_header h;
    int rc = shmpool__npy_read_header(fd, st, &h);
    if (rc)
        return rc;
    void *data;
    if ((rc = alloc_data(pool, h.nbytes, &data)))
        return rc;
    struct shmpool__io io = io_for(pool);
    rc = shmpool__io_read(&io, fd, data, h.nbytes, at(regular, h.data_offset));
    if (rc == 0 && !regular)
        rc = expect_eof(fd);
    if (rc) {
        (void)shmpool_free(pool, data);
        return rc;
    }
    describe(c->arr, &h);
    c->arr->data = data;
    return 0;
}

int shmpool_array_load(shmpool *pool, const char *path, shmpool_array *arr) {
    if (!pool || !path || !arr)
        return -EINVAL;
    memset(arr, 0, sizeof *arr);
    return with_file(path, load_npy, &(struct array_call){.pool = pool, .arr = arr});
}

/* Rows [first, first + want) of the first axis, clipped to the array: the data of a slice is one
   contiguous byte range of a C-order file, read straight into shared memory. */
static int load_npy_rows(int fd, const struct stat *st, const struct array_call *c) {
    shmpool *pool = c->pool;
    shmpool_array *arr = c->arr;
    size_t first = c->first_row, want = c->nrows;
    if (!S_ISREG(st->st_mode))
        return -ESPIPE; /* a stream cannot skip to a row */
    struct shmpool__npy_header h;
    int rc = shmpool__npy_read_header(fd, st, &h);
    if (rc)
        return rc;
    if (h.ndim == 0)
        return -EINVAL; /* a 0-d array has no rows */
    size_t rows = h.shape[0];
    size_t row_bytes = rows ? h.nbytes / rows : 0;
    size_t got = first >= rows ? 0 : (want < rows - first ? want : rows - first);
    void *data;
    if ((rc = alloc_data(pool, got * row_bytes, &data)))
        return rc;
    struct shmpool__io io = io_for(pool);
    rc = shmpool__io_read(&io, fd, data, got * row_bytes,
                          h.data_offset + (got ? first * row_bytes : 0)); /* no overflow past the end */
    if (rc) {
        (void)shmpool_free(pool, data);
        return rc;
    }
    describe(arr, &h);
    arr->data = data;
    arr->shape[0] = got;
    arr->count = rows ? h.count / rows * got : 0;
    arr->nbytes = got * row_bytes;
    return 0;
}

static int stat_npy(int fd, const struct stat *st, const struct array_call *c) {
    struct shmpool__npy_header h;
    int rc = shmpool__npy_read_header(fd, st, &h);
    if (!rc)
        describe(c->arr, &h);
    return rc;
}

int shmpool_array_stat(const char *path, shmpool_array *arr) {
    if (!path || !arr)
        return -EINVAL;
    memset(arr, 0, sizeof *arr);
    return with_file(path, stat_npy, &(struct array_call){.arr = arr});
}

int shmpool_array_load_rows(shmpool *pool, const char *path, size_t first_row, size_t nrows,
                            shmpool_array *arr) {
    if (!pool || !path || !arr)
        return -EINVAL;
    memset(arr, 0, sizeof *arr);
    struct array_call c = {.pool = pool, .arr = arr, .first_row = first_row, .nrows = nrows};
    return with_file(path, load_npy_rows, &c);
}

/* A raw stream has no size until its end, and may have none (/dev/zero, a FIFO fed forever). It is
   read into a shared block that doubles as it fills, then moved into a block of its exact size: it
   can grow only as far as the pool can allocate (the arena, /dev/shm), and past that it is
   -EFBIG. The heap is not used: an endless stream once grew it until the machine ran out. */
static int read_stream(shmpool *pool, int fd, void **out, size_t *len) {
    unsigned char first[4096]; /* an empty stream takes no block */
    unsigned char *buf = first;
    size_t cap = sizeof first, n = 0;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            size_t want = buf == first ? SHMPOOL_STREAM_FIRST_BYTES : cap <= SIZE_MAX / 2 ? cap * 2 : 0;
            unsigned char *bigger = want ? shmpool_alloc(pool, want) : NULL;
            if (!bigger) {
                rc = !want || errno == ENOMEM || errno == ENOSPC ? -EFBIG : -errno;
                break;
            }
            memcpy(bigger, buf, n);
            if (buf != first)
                (void)shmpool_free(pool, buf);
            buf = bigger;
            cap = want;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        n += (size_t)r;
    }
    *out = NULL;
    *len = n;
    if (rc == 0 && n > 0 && (buf == first || n < cap)) {
        /* the exact size: /dev/shm holds no slack (if that block cannot be had, keep the big one) */
        unsigned char *exact = shmpool_alloc(pool, n);
        if (exact || buf == first) {
            if (!exact)
                rc = errno > 0 ? -errno : -ENOMEM;
            else
                memcpy(exact, buf, n);
            if (buf != first)
                (void)shmpool_free(pool, buf);
            buf = exact;
        }
    }
    if (rc == 0)
        *out = n > 0 ? buf : NULL;
    else if (buf != first)
        (void)shmpool_free(pool, buf);
    return rc;
}

static int load_raw(int fd, const struct stat *st, const struct array_call *c) {
    shmpool *pool = c->pool;
    shmpool_array *arr = c->arr;
    shmpool_dtype dtype = c->dtype;
    size_t esize = shmpool__npy_dtype_size(dtype), nbytes = 0;
    void *data = NULL;
    int rc;
    if (S_ISREG(st->st_mode)) {
        if ((uint64_t)st->st_size > SIZE_MAX)
            return -EOVERFLOW;
        nbytes = (size_t)st->st_size;
        if (nbytes % esize != 0)
            return -EPROTO;
        rc = alloc_data(pool, nbytes, &data);
        if (rc == 0 && nbytes > 0) {
            struct shmpool__io io = io_for(pool);
            rc = shmpool__io_read(&io, fd, data, nbytes, 0);
        }
    } else if ((rc = read_stream(pool, fd, &data, &nbytes)) == 0 && nbytes % esize != 0) {
        rc = -EPROTO;
    }
    if (rc) {
        if (data)
            (void)shmpool_free(pool, data);
        return rc;
    }
    arr->data = data;
    arr->dtype = dtype;
    arr->ndim = 1;
    arr->shape[0] = nbytes / esize;
    arr->count = nbytes / esize;
    arr->nbytes = nbytes;
    return 0;
}

int shmpool_array_load_raw(shmpool *pool, const char *path, shmpool_dtype dtype,
                           shmpool_array *arr) {
    if (!pool || !path || !arr)
        return -EINVAL;
    memset(arr, 0, sizeof *arr);
    if (shmpool__npy_dtype_size(dtype) == 0)
        return -EINVAL;
    struct array_call c = {.pool = pool, .arr = arr, .dtype = dtype};
    return with_file(path, load_raw, &c);
}

/* The array must describe itself consistently: count is the product of shape, nbytes follows. */
static int check_array(const shmpool_array *arr) {
    size_t esize = shmpool__npy_dtype_size(arr->dtype);
    if (esize == 0 || arr->ndim > SHMPOOL_ARRAY_MAX_DIMS)
        return -EINVAL;
    size_t count = 1;
    for (unsigned i = 0; i < arr->ndim; i++) {
        if (arr->shape[i] != 0 && count > SIZE_MAX / arr->shape[i])
            return -EOVERFLOW;
        count *= arr->shape[i];
    }
    if (count > SIZE_MAX / esize)
        return -EOVERFLOW;
    if (arr->count != count || arr->nbytes != count * esize || (!arr->data && arr->nbytes))
        return -EINVAL;
    return 0;
}

/* header, then data, at offset 0 of fd (or as a stream); closes fd. */
static int write_npy(shmpool *pool, int fd, const char *header, size_t hlen,
                     const shmpool_array *arr) {
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
    } else {
        bool regular = S_ISREG(st.st_mode);
        struct shmpool__io plain = {.use_uring = false}, io = io_for(pool);
        rc = shmpool__io_write(&plain, fd, header, hlen, at(regular, 0));
        if (rc == 0)
            rc = shmpool__io_write(&io, fd, arr->data, arr->nbytes, at(regular, hlen));
    }
    if (close(fd) < 0 && rc == 0)
        rc = -errno; /* e.g. a delayed write error on NFS */
    return rc;
}

/* A new file beside `target`, "<dir>/.<name>.<random hex>", created with `mode` less the umask
   (stream.c writes its output there too). */
int shmpool__npy_create_temp(const char *target, mode_t mode, char **tmp) {
    const char *name = strrchr(target, '/');
    name = name ? name + 1 : target;
    size_t len = strlen(target) + 20;
    char *t = malloc(len);
    if (!t)
        return -ENOMEM;
    for (unsigned tries = 0; tries < 16; tries++) {
        uint64_t r;
        if (getentropy(&r, sizeof r))
            r = (uint64_t)getpid() << 32 ^ tries;
        snprintf(t, len, "%.*s.%s.%016llx", (int)(name - target), target, name,
                 (unsigned long long)r);
        int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0) {
            *tmp = t;
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    int rc = -errno;
    free(t);
    return rc;
}

int shmpool_array_save(shmpool *pool, const char *path, const shmpool_array *arr) {
    if (!path || !arr)
        return -EINVAL;
    int rc = check_array(arr);
    if (rc)
        return rc;
    char header[SHMPOOL__NPY_FORMAT_MAX];
    size_t hlen;
    rc = shmpool__npy_format(header, sizeof header, arr->dtype, arr->ndim, arr->shape, &hlen);
    if (rc)
        return rc;

    /* A FIFO, a device, a directory: written in place (or refused) as open(2) decides. */
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        return fd < 0 ? -errno : write_npy(pool, fd, header, hlen, arr);
    }
    /* A regular file, or none: write a temporary file beside it and rename it over the target
       at the end, so a failed save leaves an existing file as it was. Through a symlink, the file
       it points to is replaced. */
    char *target = exists ? realpath(path, NULL) : strdup(path);
    if (!target)
        return -errno;
    char *tmp = NULL;
    int fd = shmpool__npy_create_temp(target, exists ? 0600 : 0666, &tmp);
    if (fd < 0) {
        free(target);
        return fd;
    }
    if (exists) { /* keep its permissions, and its owner where we may */
        (void)fchmod(fd, st.st_mode & 07777);
        if (st.st_uid != geteuid() || st.st_gid != getegid())
            (void)fchown(fd, st.st_uid, st.st_gid);
    }
    rc = write_npy(pool, fd, header, hlen, arr);
    if (rc == 0 && rename(tmp, target) < 0)
        rc = -errno;
    if (rc)
        (void)unlink(tmp);
    free(tmp);
    free(target);
    return rc;
}

void shmpool_array_free(shmpool *pool, shmpool_array *arr) {
    if (!arr)
        return;
    if (arr->data)
        (void)shmpool_free(pool, arr->data);
    memset(arr, 0, sizeof *arr);
}
