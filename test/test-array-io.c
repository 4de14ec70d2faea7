/* Array files into shared memory (lib/array_io.c) and the engine under it (lib/uring_io.c).
 *
 * Every test runs three times: with io_uring (where the kernel allows it; the test says so when it
 * does not) reading into registered buffers, with io_uring reading into plain ones, and forced to
 * pread/pwrite; each checks that the engine it asked for is the one that ran. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "npy.h"
#include "shmpool.h"
#include "uring_io.h"

/* ASan's allocator maps memory as it pleases: count mappings only without it. */
#if defined(__SANITIZE_ADDRESS__)
#define nothing_leaked(before) resources_same_but_mappings(before)
#else
#define nothing_leaked(before) resources_same(before)
#endif

static bool use_uring;   /* the engine of the group now running */
static bool no_fixed;    /* ... and whether its reads may register their destination */
static char dir[64];     /* a fresh directory per group */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int group_setup(bool uring, bool fixed) {
    use_uring = uring;
    no_fixed = !fixed;
    strcpy(dir, "/tmp/shmpool-array-io-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    if (uring && !shmpool__io_uring_available())
        print_message("io_uring is not available here: the io_uring group runs the fallback\n");
    return 0;
}
static int setup_uring(void **state) {
    (void)state;
    return group_setup(true, true);
}
static int setup_uring_unregistered(void **state) {
    (void)state;
    return group_setup(true, false);
}
static int setup_plain(void **state) {
    (void)state;
    return group_setup(false, false);
}
static int group_teardown(void **state) {
    (void)state;
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *path_of(const char *name) {
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static struct shmpool__io engine(size_t req, unsigned depth) {
    return (struct shmpool__io){.use_uring = use_uring, .no_fixed = no_fixed, .req_bytes = req,
                                .depth = depth};
}

/* The engine that ran is the one asked for (io_uring only where the kernel has it). */
static void check_engine(const struct shmpool__io *io) {
    assert_int_equal(io->used_uring, use_uring && shmpool__io_uring_available());
    if (no_fixed || !use_uring)
        assert_false(io->used_fixed);
}

/* Whether a read of len bytes may register its destination: io_uring, and pinning len bytes
   within RLIMIT_MEMLOCK (root is exempt). */
static bool may_register(size_t len) {
    struct rlimit l;
    if (!use_uring || no_fixed || !shmpool__io_uring_available())
        return false;
    if (geteuid() == 0)
        return true;
    if (getrlimit(RLIMIT_MEMLOCK, &l) != 0)
        return false;
    /* all of it, or a prefix of at least SHMPOOL__IO_FIXED_MIN (see register_fitting) */
    return l.rlim_cur >= len + 8192 ||
           (len >= 2 * SHMPOOL__IO_FIXED_MIN && l.rlim_cur >= 2 * SHMPOOL__IO_FIXED_MIN);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed) {
    uint64_t x = 0x9E3779B97F4A7C15u * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

static void write_file(const char *path, const void *data, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        assert_true(w > 0);
        p += w, n -= (size_t)w;
    }
    assert_int_equal(close(fd), 0);
}

static unsigned char *read_file(const char *path, size_t *n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    close(fd);
    *n = got;
    return buf;
}

/* A pool whose flags pick this group's engine. */
static shmpool *make_pool(void) {
    shmpool_options opt = {.workers = 1, .flags = use_uring ? 0 : SHMPOOL_FLAG_NO_IO_URING};
    shmpool *pool = NULL;
    assert_int_equal(shmpool_create(&pool, &opt), 0);
    return pool;
}

/* =============================================================================================
 * The engine alone, into malloc'd memory.
 */

static void test_a_read_spanning_many_requests_fills_the_buffer_exactly(void **state) {
    (void)state;
    size_t n = (1 << 20) + 123;
    unsigned char *want = malloc(n), *got = malloc(n + 64);
    fill_pattern(want, n, 1);
    const char *path = path_of("engine-read");
    write_file(path, want, n);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);

    /* odd request sizes so that requests straddle pages; few slots so they are reused */
    static const struct {
        size_t req;
        unsigned depth;
    } shapes[] = {{4096 + 7, 4}, {65536, 2}, {1, 1}, {0, 0}, {(1 << 21), 8}, {300000, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t len = shapes[s].req == 1 ? 5000 : n; /* one byte per request: keep it short */
        struct shmpool__io io = engine(shapes[s].req, shapes[s].depth);
        memset(got, 0xee, n + 64);
        assert_int_equal(shmpool__io_read(&io, fd, got, len, 0), 0);
        check_engine(&io);
        assert_memory_equal(got, want, len);
        assert_int_equal(got[len], 0xee); /* nothing written past the range */
    }
    /* a range in the middle */
    struct shmpool__io io = engine(10000, 3);
    assert_int_equal(shmpool__io_read(&io, fd, got, 77777, 12345), 0);
    assert_memory_equal(got, want + 12345, 77777);
    /* registered buffers smaller than the range (1 GiB in real use): requests are cut at their
       boundaries, odd ones included, and each reads into the right one */
    static const struct {
        size_t req, fixed;
    } cuts[] = {{65536, 100000}, {4096 + 7, 3 * 4096}, {1 << 20, 1 << 18}, {5000, 5000}};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        io = engine(cuts[c].req, 4);
        io.fixed_bytes = cuts[c].fixed;
        memset(got, 0xee, n + 64);
        assert_int_equal(shmpool__io_read(&io, fd, got + 1, n - 1, 1), 0); /* unaligned too */
        check_engine(&io);
        assert_int_equal(io.used_fixed, may_register(n));
        assert_memory_equal(got + 1, want + 1, n - 1);
        assert_int_equal(got[0], 0xee);
        assert_int_equal(got[n], 0xee);
    }
    close(fd);
    free(want);
    free(got);
}

/* In a child: RLIMIT_MEMLOCK of 1 MiB, unprivileged (root's CAP_IPC_LOCK ignores the limit), a
   4 MiB read. 0: the right bytes, through registered buffers where this group registers; 1: wrong
   bytes or an error; 2: the engine was not the one asked for; 3: no io_uring for that user. */
static int read_under_small_memlock(int fd, const unsigned char *want, size_t n) {
    unsigned char *got = malloc(n);
    if (!got)
        return 1;
    memset(got, 0xee, n);
    struct rlimit l = {1u << 20, 1u << 20};
    if (setrlimit(RLIMIT_MEMLOCK, &l) != 0)
        return 1;
    if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
        return 1;
    struct shmpool__io io = engine(1 << 18, 4);
    if (shmpool__io_read(&io, fd, got, n, 0) != 0 || memcmp(got, want, n) != 0)
        return 1;
    if (use_uring && !io.used_uring)
        return 3;
    if (io.used_uring != use_uring || io.used_fixed != (use_uring && !no_fixed))
        return 2;
    return 0;
}

static void test_a_small_memlock_limit_registers_what_fits_and_reads_the_rest(void **state) {
    (void)state;
    if (use_uring && !shmpool__io_uring_available())
        test_skip();
    size_t n = 4u << 20;
    unsigned char *want = malloc(n);
    fill_pattern(want, n, 11);
    const char *path = path_of("memlock");
    write_file(path, want, n);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30);
        _exit(read_under_small_memlock(fd, want, n));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(fd);
    free(want);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 3)
        test_skip(); /* io_uring only for privileged users here */
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_reading_past_the_end_of_the_file_is_a_protocol_error(void **state) {
    (void)state;
    unsigned char data[1000], buf[4096];
    fill_pattern(data, sizeof data, 2);
    const char *path = path_of("engine-short");
    write_file(path, data, sizeof data);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct shmpool__io io = engine(256, 4);
    assert_int_equal(shmpool__io_read(&io, fd, buf, 2000, 0), -EPROTO);
    check_engine(&io);
    assert_memory_equal(buf, data, 1000); /* what was there was read */
    assert_int_equal(shmpool__io_read(&io, fd, buf, 1, 1000), -EPROTO);
    assert_int_equal(shmpool__io_read(&io, fd, buf, 10, 995), -EPROTO);
    assert_int_equal(shmpool__io_read(&io, fd, buf, 0, 5000), 0);
    close(fd);
}

static void test_a_write_then_a_read_give_back_the_same_bytes(void **state) {
    (void)state;
    size_t n = 3 * (1 << 20) + 5;
    unsigned char *want = malloc(n), *got = malloc(n);
    fill_pattern(want, n, 3);
    const char *path = path_of("engine-write");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    struct shmpool__io io = engine(100000, 5);
    assert_int_equal(shmpool__io_write(&io, fd, want, n, 100), 0);
    check_engine(&io);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, n + 100);
    assert_int_equal(shmpool__io_read(&io, fd, got, n, 100), 0);
    assert_memory_equal(got, want, n);
    close(fd);
    free(want);
    free(got);
}

struct dribble {
    int fd;
    const unsigned char *data;
    size_t len;
    size_t piece;
};

/* Writes data into a pipe in small pieces with pauses, so the reader sees short reads. */
static void *dribble_writer(void *arg) {
    struct dribble *d = arg;
    size_t off = 0;
    unsigned k = 0;
    while (off < d->len) {
        size_t n = d->len - off < d->piece ? d->len - off : d->piece;
        ssize_t w = write(d->fd, d->data + off, n);
        if (w <= 0)
            break;
        off += (size_t)w;
        if (++k % 16 == 0)
            usleep(1000);
    }
    close(d->fd);
    return NULL;
}

static void test_a_pipe_gives_short_reads_that_are_read_on_to_the_end(void **state) {
    (void)state;
    size_t n = 300000;
    unsigned char *want = malloc(n), *got = malloc(n);
    fill_pattern(want, n, 4);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    struct dribble d = {p[1], want, n, 1000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, dribble_writer, &d), 0);
    struct shmpool__io io = engine(65536, 8);
    assert_int_equal(shmpool__io_read(&io, p[0], got, n, SHMPOOL__IO_STREAM), 0);
    check_engine(&io);
    assert_memory_equal(got, want, n);
    pthread_join(t, NULL);
    close(p[0]);

    /* the writer stops early: the reader is told, it does not hang */
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    d = (struct dribble){p[1], want, n / 2, 777};
    assert_int_equal(pthread_create(&t, NULL, dribble_writer, &d), 0);
    assert_int_equal(shmpool__io_read(&io, p[0], got, n, SHMPOOL__IO_STREAM), -EPROTO);
    assert_memory_equal(got, want, n / 2);
    pthread_join(t, NULL);
    close(p[0]);
    free(want);
    free(got);
}

static void test_bad_descriptors_and_directories_are_errors_not_crashes(void **state) {
    (void)state;
    unsigned char buf[64];
    struct shmpool__io io = engine(0, 0);
    assert_int_equal(shmpool__io_read(&io, -1, buf, sizeof buf, 0), -EINVAL);
    assert_int_equal(shmpool__io_read(&io, 0, NULL, sizeof buf, 0), -EINVAL);
    /* a descriptor that is not open (not a low one: the ring's own fd would take its number) */
    assert_int_equal(shmpool__io_read(&io, 100000, buf, sizeof buf, 0), -EBADF);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(shmpool__io_read(&io, fd, buf, sizeof buf, 0), -EISDIR);
    close(fd);
    fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        assert_int_equal(shmpool__io_write(&io, fd, buf, sizeof buf, SHMPOOL__IO_STREAM), -ENOSPC);
        close(fd);
    }
    assert_int_equal(shmpool__io_read(&io, 0, buf, 0, 0), 0);
    assert_int_equal(shmpool__io_read(&io, 0, buf, 1, (uint64_t)INT64_MAX), -EOVERFLOW);
}

/* What Docker's default seccomp profile does: io_uring_setup fails with EPERM. */
static int forbid_io_uring(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void test_where_io_uring_is_forbidden_the_fallback_runs_silently(void **state) {
    (void)state;
    size_t n = 200000;
    unsigned char *want = malloc(n);
    fill_pattern(want, n, 12);
    const char *path = path_of("engine-seccomp");
    write_file(path, want, n);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child reports by exit status: 0 ok, 3 no seccomp here, others a failure */
        if (forbid_io_uring() != 0)
            _exit(3);
        unsigned char *got = malloc(n);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        struct shmpool__io io = {.use_uring = true, .req_bytes = 4096};
        if (fd < 0 || !got)
            _exit(4);
        if (shmpool__io_read(&io, fd, got, n, 0) != 0 || memcmp(got, want, n) != 0)
            _exit(5);
        if (io.used_uring || shmpool__io_uring_available())
            _exit(6);
        if (shmpool__io_write(&io, fd, want, n, n) != 0 || io.used_uring)
            _exit(7);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 3) {
        free(want);
        test_skip(); /* seccomp filters are not allowed here */
    }
    assert_int_equal(WEXITSTATUS(status), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 2 * n);
    free(want);
}

/* =============================================================================================
 * Through a pool.
 */

static const shmpool_dtype all_dtypes[] = {
    SHMPOOL_F8, SHMPOOL_F4, SHMPOOL_I8, SHMPOOL_I4, SHMPOOL_I2, SHMPOOL_I1,
    SHMPOOL_U8, SHMPOOL_U4, SHMPOOL_U2, SHMPOOL_U1, SHMPOOL_BOOL,
};
#define NDTYPES (sizeof all_dtypes / sizeof all_dtypes[0])

static void make_array(shmpool *pool, shmpool_array *a, shmpool_dtype dtype, unsigned ndim,
                       const size_t *shape, unsigned seed) {
    memset(a, 0, sizeof *a);
    a->dtype = dtype;
    a->ndim = ndim;
    a->count = 1;
    for (unsigned i = 0; i < ndim; i++) {
        a->shape[i] = shape[i];
        a->count *= shape[i];
    }
    a->nbytes = a->count * shmpool_dtype_size(dtype);
    if (a->nbytes) {
        a->data = shmpool_alloc(pool, a->nbytes);
        assert_non_null(a->data);
        fill_pattern(a->data, a->nbytes, seed);
        if (dtype == SHMPOOL_BOOL)
            for (size_t i = 0; i < a->nbytes; i++)
                ((unsigned char *)a->data)[i] &= 1;
    }
}

static void assert_same_array(const shmpool_array *a, const shmpool_array *b) {
    assert_int_equal(a->dtype, b->dtype);
    assert_int_equal(a->ndim, b->ndim);
    for (unsigned i = 0; i < SHMPOOL_ARRAY_MAX_DIMS; i++)
        assert_int_equal(a->shape[i], i < a->ndim ? b->shape[i] : 0);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->nbytes, b->nbytes);
    if (a->nbytes)
        assert_memory_equal(a->data, b->data, a->nbytes);
    else
        assert_null(b->data);
}

static void test_every_dtype_and_shape_saved_then_loaded_comes_back_equal(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *pool = make_pool();
    static const size_t shapes[][4] = {{0}, {1, 1000}, {3, 2, 3, 4}, {1, 0}, {3, 3, 0, 2}};
    unsigned long uring_before = shmpool__io_uring_transfers();
    for (size_t d = 0; d < NDTYPES; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            shmpool_array a, b;
            make_array(pool, &a, all_dtypes[d], (unsigned)shapes[s][0], &shapes[s][1],
                       (unsigned)(d * 10 + s));
            const char *path = path_of("roundtrip.npy");
            assert_int_equal(shmpool_array_save(pool, path, &a), 0);
            struct stat st;
            assert_int_equal(stat(path, &st), 0);
            assert_int_equal(st.st_size, 128 + a.nbytes); /* numpy's 128-byte header */
            assert_int_equal(shmpool_array_load(pool, path, &b), 0);
            assert_same_array(&a, &b);
            assert_true(b.nbytes == 0 || shmpool_alloc_size(pool, b.data) >= b.nbytes);
            shmpool_array_free(pool, &a);
            shmpool_array_free(pool, &b);
            assert_null(b.data);
            assert_int_equal(b.nbytes, 0);
        }
    }
    unsigned long used = shmpool__io_uring_transfers() - uring_before;
    if (use_uring && shmpool__io_uring_available())
        assert_true(used > 0);
    else
        assert_int_equal(used, 0); /* SHMPOOL_FLAG_NO_IO_URING keeps io_uring out entirely */
    shmpool_destroy(pool);
    assert_true(nothing_leaked(&before));
}

static void test_an_array_larger_than_all_requests_in_flight_loads_intact(void **state) {
    (void)state;
    shmpool *pool = make_pool();
    /* more than depth x request size (8 x 4 MiB), and not a multiple of either */
    size_t shape[1] = {(SHMPOOL__IO_DEPTH * SHMPOOL__IO_REQ_BYTES + 3 * 4096 + 24) / 8};
    shmpool_array a, b;
    make_array(pool, &a, SHMPOOL_F8, 1, shape, 77);
    const char *path = path_of("large.npy");
    assert_int_equal(shmpool_array_save(pool, path, &a), 0);
    assert_int_equal(shmpool_array_load(pool, path, &b), 0);
    assert_same_array(&a, &b);
    shmpool_array_free(pool, &a);
    shmpool_array_free(pool, &b);
    shmpool_destroy(pool);
}

/* A file with this header dict (wrapped as numpy would) and `data_len` bytes of data. */
static void write_npy(const char *path, const char *dict, size_t data_len) {
    char hdr[4096];
    size_t hlen;
    assert_int_equal(shmpool__npy_wrap(hdr, sizeof hdr, dict, strlen(dict), &hlen), 0);
    unsigned char *buf = malloc(hlen + data_len + 1);
    memcpy(buf, hdr, hlen);
    fill_pattern(buf + hlen, data_len, 9);
    write_file(path, buf, hlen + data_len);
    free(buf);
}

static void expect_load_error(shmpool *pool, const char *path, int want) {
    shmpool_array arr;
    memset(&arr, 0x5a, sizeof arr);
    int rc = shmpool_array_load(pool, path, &arr);
    if (rc != want)
        fail_msg("%s: got %d (%s), want %d (%s)", path, rc, strerror(-rc), want, strerror(-want));
    assert_null(arr.data); /* cleared, so shmpool_array_free on it is harmless */
    assert_int_equal(arr.nbytes, 0);
    shmpool_array_free(pool, &arr);
}

static void test_truncated_or_overlong_data_is_a_protocol_error(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *pool = make_pool();
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (10, 10), }";
    const char *path = path_of("sized.npy");
    write_npy(path, dict, 800);
    shmpool_array arr;
    assert_int_equal(shmpool_array_load(pool, path, &arr), 0);
    shmpool_array_free(pool, &arr);

    write_npy(path, dict, 799); /* truncated by one byte */
    expect_load_error(pool, path, -EPROTO);
    write_npy(path, dict, 0); /* header only */
    expect_load_error(pool, path, -EPROTO);
    write_npy(path, dict, 801); /* one byte too many */
    expect_load_error(pool, path, -EPROTO);
    write_npy(path, dict, 8000); /* the shape disagrees with the size */
    expect_load_error(pool, path, -EPROTO);

    /* cut inside the header: the file is not a whole .npy */
    char hdr[256];
    size_t hlen;
    assert_int_equal(shmpool__npy_wrap(hdr, sizeof hdr, dict, strlen(dict), &hlen), 0);
    for (size_t cut = 0; cut < hlen; cut += 7) {
        write_file(path, hdr, cut);
        expect_load_error(pool, path, -EBADMSG);
    }
    shmpool_destroy(pool);
    assert_true(nothing_leaked(&before));
}

static void test_headers_numpy_would_refuse_or_shmpool_cannot_load_are_refused(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *pool = make_pool();
    static const struct {
        const char *dict;
        size_t data;
        int rc;
    } cases[] = {
        {"{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", 48, -ENOTSUP},
        {"{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", 48, -ENOTSUP},
        {"{'descr': '>i4', 'fortran_order': False, 'shape': (6,), }", 24, -ENOTSUP},
        {"{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }", 48, -ENOTSUP},
        {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,), }", 24, -ENOTSUP},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (5), }", 40, -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, }", 8, -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}", 24, -EBADMSG},
        {"{'descr': '<f8' 'fortran_order': False, 'shape': (3,), }", 24, -EBADMSG},
        {"not a dict at all", 0, -EBADMSG},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551616,), }", 0,
         -EOVERFLOW},
    };
    const char *path = path_of("refused.npy");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_npy(path, cases[i].dict, cases[i].data);
        expect_load_error(pool, path, cases[i].rc);
    }
    static const char zip[] = "PK\x03\x04 an npz is a zip file, not an npy file";
    write_file(path, zip, sizeof zip - 1);
    expect_load_error(pool, path, -EBADMSG);
    static const char v4[] = "\x93NUMPY\x04\x00\x10\x00{}             \n";
    write_file(path, v4, sizeof v4 - 1);
    expect_load_error(pool, path, -ENOTSUP);
    /* a header length far beyond anything sensible: refused before any allocation */
    static const char huge[] = "\x93NUMPY\x02\x00\xff\xff\xff\x7f{";
    write_file(path, huge, sizeof huge - 1);
    expect_load_error(pool, path, -EBADMSG);
    shmpool_destroy(pool);
    assert_true(nothing_leaked(&before));
}

static void test_directories_missing_and_unreadable_files_report_their_errno(void **state) {
    (void)state;
    shmpool *pool = make_pool();
    expect_load_error(pool, dir, -EISDIR);
    expect_load_error(pool, path_of("no-such-file.npy"), -ENOENT);
    expect_load_error(pool, "/nonexistent-dir/x.npy", -ENOENT);
    shmpool_array arr;
    assert_int_equal(shmpool_array_load_raw(pool, dir, SHMPOOL_U1, &arr), -EISDIR);
    assert_int_equal(shmpool_array_load_raw(pool, path_of("nope"), SHMPOOL_U1, &arr), -ENOENT);

    const char *path = path_of("secret.npy");
    write_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8);
    assert_int_equal(chmod(path, 0), 0);
    if (geteuid() != 0) {
        expect_load_error(pool, path, -EACCES);
    } else {
        /* root reads anything: check from a child that gave up root */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(2);
            shmpool_array a;
            _exit(shmpool_array_load(pool, path, &a) == -EACCES ? 0 : 1);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    shmpool_destroy(pool);
}

static void test_raw_files_load_as_one_dimension_of_the_given_dtype(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *pool = make_pool();
    const char *path = path_of("data.raw");
    unsigned char bytes[4096];
    fill_pattern(bytes, sizeof bytes, 11);
    for (size_t d = 0; d < NDTYPES; d++) {
        size_t es = shmpool_dtype_size(all_dtypes[d]);
        if (all_dtypes[d] == SHMPOOL_BOOL)
            for (size_t i = 0; i < sizeof bytes; i++)
                bytes[i] &= 1;
        write_file(path, bytes, 40 * es);
        shmpool_array arr;
        assert_int_equal(shmpool_array_load_raw(pool, path, all_dtypes[d], &arr), 0);
        assert_int_equal(arr.dtype, all_dtypes[d]);
        assert_int_equal(arr.ndim, 1);
        assert_int_equal(arr.shape[0], 40);
        assert_int_equal(arr.count, 40);
        assert_int_equal(arr.nbytes, 40 * es);
        assert_memory_equal(arr.data, bytes, 40 * es);
        shmpool_array_free(pool, &arr);

        if (es > 1) { /* a size that is not a multiple of the element */
            write_file(path, bytes, 40 * es + 1);
            memset(&arr, 0x5a, sizeof arr);
            assert_int_equal(shmpool_array_load_raw(pool, path, all_dtypes[d], &arr), -EPROTO);
            assert_null(arr.data);
        }
    }
    write_file(path, bytes, 0); /* empty: a valid array of no elements */
    shmpool_array arr;
    assert_int_equal(shmpool_array_load_raw(pool, path, SHMPOOL_F8, &arr), 0);
    assert_int_equal(arr.ndim, 1);
    assert_int_equal(arr.count, 0);
    assert_null(arr.data);
    assert_int_equal(shmpool_array_load_raw(pool, path, 0, &arr), -EINVAL);
    assert_int_equal(shmpool_array_load_raw(pool, path, (shmpool_dtype)42, &arr), -EINVAL);
    shmpool_destroy(pool);
    assert_true(nothing_leaked(&before));
}

struct fifo_job {
    shmpool *pool;
    const char *path;
    const shmpool_array *arr; /* saved with shmpool_array_save, or */
    const void *bytes;        /* written raw */
    size_t len;
    int rc;
};

static void *fifo_writer(void *arg) {
    struct fifo_job *j = arg;
    if (j->arr) {
        j->rc = shmpool_array_save(j->pool, j->path, j->arr);
        return NULL;
    }
    int fd = open(j->path, O_WRONLY | O_CLOEXEC);
    struct dribble d = {fd, j->bytes, j->len, 4099};
    j->rc = fd < 0 ? -errno : 0;
    if (fd >= 0)
        dribble_writer(&d);
    return NULL;
}

static void test_a_fifo_is_read_as_a_stream_for_npy_and_raw_files(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *pool = make_pool();
    const char *path = path_of("fifo");
    assert_int_equal(mkfifo(path, 0600), 0);

    /* save into the FIFO from one thread, load from it in another: both stream */
    size_t shape[2] = {300, 257};
    shmpool_array a, b;
    make_array(pool, &a, SHMPOOL_I4, 2, shape, 21);
    struct fifo_job j = {.pool = pool, .path = path, .arr = &a};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fifo_writer, &j), 0);
    assert_int_equal(shmpool_array_load(pool, path, &b), 0);
    pthread_join(t, NULL);
    assert_int_equal(j.rc, 0);
    assert_same_array(&a, &b);
    shmpool_array_free(pool, &b);

    /* the same bytes with one missing, then one extra */
    char hdr[SHMPOOL__NPY_FORMAT_MAX];
    size_t hlen;
    assert_int_equal(shmpool__npy_format(hdr, sizeof hdr, a.dtype, a.ndim, a.shape, &hlen), 0);
    unsigned char *file = malloc(hlen + a.nbytes + 1);
    memcpy(file, hdr, hlen);
    memcpy(file + hlen, a.data, a.nbytes);
    file[hlen + a.nbytes] = 7;
    for (int extra = -1; extra <= 1; extra += 2) {
        j = (struct fifo_job){.path = path, .bytes = file, .len = hlen + a.nbytes + (size_t)extra};
        assert_int_equal(pthread_create(&t, NULL, fifo_writer, &j), 0);
        expect_load_error(pool, path, -EPROTO);
        pthread_join(t, NULL);
    }
    /* raw from a FIFO */
    j = (struct fifo_job){.path = path, .bytes = a.data, .len = a.nbytes};
    assert_int_equal(pthread_create(&t, NULL, fifo_writer, &j), 0);
    assert_int_equal(shmpool_array_load_raw(pool, path, SHMPOOL_I4, &b), 0);
    pthread_join(t, NULL);
    assert_int_equal(b.count, a.count);
    assert_memory_equal(b.data, a.data, a.nbytes);
    shmpool_array_free(pool, &b);
    j = (struct fifo_job){.path = path, .bytes = a.data, .len = a.nbytes - 1};
    assert_int_equal(pthread_create(&t, NULL, fifo_writer, &j), 0);
    assert_int_equal(shmpool_array_load_raw(pool, path, SHMPOOL_I4, &b), -EPROTO);
    pthread_join(t, NULL);

    free(file);
    shmpool_array_free(pool, &a);
    shmpool_destroy(pool);
    assert_true(nothing_leaked(&before));
}

static void test_a_file_larger_than_dev_shm_can_hold_is_no_space(void **state) {
    (void)state;
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) != 0)
        test_skip();
    uint64_t shm = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    uint64_t size = shm + (64u << 20);
    const char *path = path_of("huge.raw");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    int rc = ftruncate(fd, (off_t)size); /* sparse: costs no disk */
    close(fd);
    if (rc != 0) {
        unlink(path);
        test_skip();
    }
    struct resources before;
    resources_snapshot(&before);
    shmpool_options opt = {.workers = 1,
                           .flags = use_uring ? 0 : SHMPOOL_FLAG_NO_IO_URING,
                           .arena_bytes = (size_t)(size * 2)};
    shmpool *pool;
    assert_int_equal(shmpool_create(&pool, &opt), 0);
    shmpool_array arr;
    assert_int_equal(shmpool_array_load_raw(pool, path, SHMPOOL_U1, &arr), -ENOSPC);
    assert_null(arr.data);
    shmpool_destroy(pool);
    assert_true(nothing_leaked(&before));
    unlink(path);
}

/* Bytes of address space this process has mapped now. */
static uint64_t address_space_now(void) {
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%llu", &pages), 1);
    fclose(f);
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* A child that writes zeros into the FIFO until its reader goes away (SIGPIPE is ignored). */
static pid_t feed_forever(const char *path) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(60); /* never outlive a broken test */
        static char zeros[65536];
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        while (fd >= 0 && write(fd, zeros, sizeof zeros) > 0) {
        }
        _exit(0);
    }
    return pid;
}

static void test_an_endless_stream_stops_where_the_pool_cannot_hold_it(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    const char *fifo = path_of("endless");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    shmpool_options opt = {.workers = 1,
                           .flags = use_uring ? 0 : SHMPOOL_FLAG_NO_IO_URING,
                           .arena_bytes = 64u << 20};
    shmpool *pool;
    assert_int_equal(shmpool_create(&pool, &opt), 0);
    /* No more than 256 MiB of address space beyond the pool's: a load that gathered the stream
       in the heap stops there with -ENOMEM instead of eating the machine. */
    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
    small = old;
    small.rlim_cur = address_space_now() + (256u << 20);
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < small.rlim_cur)
        small.rlim_cur = old.rlim_cur;
    assert_int_equal(setrlimit(RLIMIT_AS, &small), 0);
    shmpool_array arr;
    int zero_rc = shmpool_array_load_raw(pool, "/dev/zero", SHMPOOL_F8, &arr);
    void *zero_data = arr.data;
    pid_t feeder = feed_forever(fifo);
    int fifo_rc = shmpool_array_load_raw(pool, fifo, SHMPOOL_U1, &arr);
    assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
    int status;
    assert_int_equal(waitpid(feeder, &status, 0), feeder); /* it saw its reader go */
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(zero_rc, -EFBIG);
    assert_null(zero_data);
    assert_int_equal(fifo_rc, -EFBIG);
    assert_null(arr.data);
    /* and the pool still has room for what it held before */
    void *p = shmpool_alloc(pool, 32u << 20);
    assert_non_null(p);
    assert_int_equal(shmpool_free(pool, p), 0);
    shmpool_destroy(pool);
    unlink(fifo);
    assert_true(nothing_leaked(&before));
}

static void test_save_refuses_inconsistent_arrays_and_reports_the_file_errno(void **state) {
    (void)state;
    shmpool *pool = make_pool();
    size_t shape[1] = {10};
    shmpool_array a;
    make_array(pool, &a, SHMPOOL_U2, 1, shape, 5);
    const char *path = path_of("bad-save.npy");

    shmpool_array bad = a;
    bad.count = 11;
    assert_int_equal(shmpool_array_save(pool, path, &bad), -EINVAL);
    bad = a;
    bad.nbytes = 21;
    assert_int_equal(shmpool_array_save(pool, path, &bad), -EINVAL);
    bad = a;
    bad.data = NULL;
    assert_int_equal(shmpool_array_save(pool, path, &bad), -EINVAL);
    bad = a;
    bad.dtype = 0;
    assert_int_equal(shmpool_array_save(pool, path, &bad), -EINVAL);
    bad = a;
    bad.ndim = 33;
    assert_int_equal(shmpool_array_save(pool, path, &bad), -EINVAL);
    bad = a;
    bad.ndim = 2, bad.shape[0] = SIZE_MAX / 2, bad.shape[1] = 3;
    assert_int_equal(shmpool_array_save(pool, path, &bad), -EOVERFLOW);
    assert_int_equal(shmpool_array_save(pool, NULL, &a), -EINVAL);
    assert_int_equal(shmpool_array_save(pool, path, NULL), -EINVAL);
    assert_int_equal(access(path, F_OK), -1); /* none of these made a file */

    assert_int_equal(shmpool_array_save(pool, dir, &a), -EISDIR);
    assert_int_equal(shmpool_array_save(pool, "/nonexistent-dir/x.npy", &a), -ENOENT);
    if (access("/dev/full", W_OK) == 0)
        assert_int_equal(shmpool_array_save(pool, "/dev/full", &a), -ENOSPC);

    /* overwriting an existing file replaces it whole */
    static const char previous[] =
        "much longer previous contents, to be replaced entirely: "
        "................................................................"
        "................................................................";
    write_file(path, previous, sizeof previous - 1);
    assert_int_equal(shmpool_array_save(pool, path, &a), 0);
    size_t n;
    unsigned char *file = read_file(path, &n);
    assert_int_equal(n, 128 + 20);
    free(file);
    /* save needs no pool: the array may be any memory */
    assert_int_equal(shmpool_array_save(NULL, path, &a), 0);
    shmpool_array_free(pool, &a);
    shmpool_destroy(pool);
}

static void test_a_save_that_fails_midway_leaves_no_file_it_created(void **state) {
    (void)state;
    shmpool *pool = make_pool();
    size_t shape[1] = {1 << 17};
    shmpool_array a;
    make_array(pool, &a, SHMPOOL_F8, 1, shape, 6);
    const char *path = path_of("too-big.npy");
    /* a file size limit makes the data write fail with EFBIG after the header went out */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 << 10;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = shmpool_array_save(pool, path, &a);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, -EFBIG);
    assert_int_equal(access(path, F_OK), -1);
    shmpool_array_free(pool, &a);
    shmpool_destroy(pool);
}

static int entries_in(const char *path) {
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n++;
    closedir(d);
    return n;
}

/* Over an existing file, the data goes to a temporary file beside it that is renamed over it
   only at the end: a save that fails midway leaves the file as it was and no temporary file; one
   that succeeds keeps the file's permission bits, and replaces what a symlink points to. */
static void test_a_save_that_fails_midway_leaves_an_existing_file_untouched(void **state) {
    (void)state;
    shmpool *pool = make_pool();
    size_t shape[1] = {1 << 17};
    shmpool_array a, b;
    make_array(pool, &a, SHMPOOL_F8, 1, shape, 7);
    const char *path = path_of("kept.npy");
    static const char previous[] = "the previous contents, which a failed save must not touch";
    write_file(path, previous, sizeof previous - 1);
    assert_int_equal(chmod(path, 0640), 0);
    int entries = entries_in(dir);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 << 10; /* the data write fails with EFBIG after the header went out */
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = shmpool_array_save(pool, path, &a);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, -EFBIG);
    size_t n;
    unsigned char *file = read_file(path, &n);
    assert_int_equal(n, sizeof previous - 1);
    assert_memory_equal(file, previous, n);
    free(file);
    assert_int_equal(entries_in(dir), entries);

    const char *link = path_of("link.npy");
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(shmpool_array_save(pool, link, &a), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(shmpool_array_load(pool, path, &b), 0);
    assert_same_array(&a, &b);
    assert_int_equal(entries_in(dir), entries + 1); /* the link, no temporary file */
    unlink(link);
    unlink(path);
    shmpool_array_free(pool, &b);
    shmpool_array_free(pool, &a);
    shmpool_destroy(pool);
}

static void test_the_environment_variable_forces_the_fallback(void **state) {
    (void)state;
    if (!use_uring)
        return; /* the pread/pwrite group: there is no io_uring to turn off */
    if (!shmpool__io_uring_available())
        test_skip(); /* only meaningful where io_uring would otherwise run */
    shmpool *pool = make_pool();
    size_t shape[1] = {1000};
    shmpool_array a, b;
    make_array(pool, &a, SHMPOOL_F8, 1, shape, 8);
    const char *path = path_of("env.npy");
    static const struct {
        const char *value; /* NULL: unset */
        bool uring;
    } cases[] = {{NULL, true}, {"", true}, {"0", true}, {"1", false}, {"yes", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].value)
            setenv("SHMPOOL_NO_IO_URING", cases[i].value, 1);
        else
            unsetenv("SHMPOOL_NO_IO_URING");
        unsigned long before = shmpool__io_uring_transfers();
        assert_int_equal(shmpool_array_save(pool, path, &a), 0);
        assert_int_equal(shmpool_array_load(pool, path, &b), 0);
        assert_same_array(&a, &b);
        shmpool_array_free(pool, &b);
        unsigned long used = shmpool__io_uring_transfers() - before;
        if (cases[i].uring)
            assert_int_equal(used, 2);
        else
            assert_int_equal(used, 0);
    }
    unsetenv("SHMPOOL_NO_IO_URING");
    shmpool_array_free(pool, &a);
    shmpool_destroy(pool);
}

static void test_null_arguments_are_invalid_and_free_is_safe_on_empty_arrays(void **state) {
    (void)state;
    shmpool *pool = make_pool();
    shmpool_array arr;
    const char *path = path_of("any.npy");
    assert_int_equal(shmpool_array_load(NULL, path, &arr), -EINVAL);
    assert_int_equal(shmpool_array_load(pool, NULL, &arr), -EINVAL);
    assert_int_equal(shmpool_array_load(pool, path, NULL), -EINVAL);
    assert_int_equal(shmpool_array_load_raw(NULL, path, SHMPOOL_F8, &arr), -EINVAL);
    assert_int_equal(shmpool_array_load_raw(pool, NULL, SHMPOOL_F8, &arr), -EINVAL);
    assert_int_equal(shmpool_array_load_raw(pool, path, SHMPOOL_F8, NULL), -EINVAL);
    shmpool_array_free(pool, NULL);
    memset(&arr, 0, sizeof arr);
    shmpool_array_free(pool, &arr);
    assert_int_equal(shmpool_dtype_size(SHMPOOL_F8), 8);
    assert_int_equal(shmpool_dtype_size(SHMPOOL_BOOL), 1);
    assert_int_equal(shmpool_dtype_size(0), 0);
    assert_string_equal(shmpool_dtype_descr(SHMPOOL_I2), "<i2");
    assert_string_equal(shmpool_dtype_descr(SHMPOOL_U1), "|u1");
    assert_null(shmpool_dtype_descr((shmpool_dtype)100));
    shmpool_destroy(pool);
}

/* A slice of rows reads exactly those bytes; stat reads the header alone. */
static void test_rows_load_a_slice_and_stat_reads_only_the_header(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *pool = make_pool();
    size_t shape[3] = {101, 3, 5};
    shmpool_array a, b, h;
    make_array(pool, &a, SHMPOOL_I2, 3, shape, 9);
    const char *path = path_of("rows.npy");
    assert_int_equal(shmpool_array_save(pool, path, &a), 0);
    assert_int_equal(shmpool_array_stat(path, &h), 0);
    assert_null(h.data);
    assert_int_equal(h.dtype, SHMPOOL_I2);
    assert_int_equal(h.ndim, 3);
    assert_int_equal(h.shape[0], 101);
    assert_int_equal(h.nbytes, a.nbytes);
    size_t row = 3 * 5 * 2;
    static const size_t cases[][3] = {/* first, want, got */
                                      {0, 101, 101}, {10, 7, 7}, {100, 5, 1}, {101, 3, 0},
                                      {5000, 1, 0},  {0, 0, 0},  {40, (size_t)-1, 61}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(shmpool_array_load_rows(pool, path, cases[c][0], cases[c][1], &b), 0);
        assert_int_equal(b.ndim, 3);
        assert_int_equal(b.shape[0], cases[c][2]);
        assert_int_equal(b.shape[1], 3);
        assert_int_equal(b.count, cases[c][2] * 15);
        assert_int_equal(b.nbytes, cases[c][2] * row);
        if (b.nbytes)
            assert_memory_equal(b.data, (char *)a.data + cases[c][0] * row, b.nbytes);
        else
            assert_null(b.data);
        shmpool_array_free(pool, &b);
    }
    /* errors: a 0-d array has no rows; a cut file; a missing file; a FIFO cannot seek */
    shmpool_array z;
    make_array(pool, &z, SHMPOOL_F8, 0, NULL, 1);
    assert_int_equal(shmpool_array_save(pool, path, &z), 0);
    assert_int_equal(shmpool_array_load_rows(pool, path, 0, 1, &b), -EINVAL);
    assert_int_equal(shmpool_array_stat(path, &h), 0);
    assert_int_equal(h.ndim, 0);
    assert_int_equal(shmpool_array_save(pool, path, &a), 0);
    assert_int_equal(truncate(path, 128 + (off_t)a.nbytes - 1), 0);
    assert_int_equal(shmpool_array_load_rows(pool, path, 0, 1, &b), -EPROTO);
    assert_int_equal(shmpool_array_stat(path, &h), -EPROTO);
    unlink(path);
    assert_int_equal(shmpool_array_load_rows(pool, path, 0, 1, &b), -ENOENT);
    assert_int_equal(shmpool_array_stat(path, &h), -ENOENT);
    assert_null(b.data);
    assert_int_equal(mkfifo(path, 0600), 0);
    int fd = open(path, O_RDWR | O_CLOEXEC); /* keeps the FIFO open so opening to read returns */
    assert_true(fd >= 0);
    assert_int_equal(shmpool_array_load_rows(pool, path, 0, 1, &b), -ESPIPE);
    close(fd);
    unlink(path);
    assert_int_equal(shmpool_array_load_rows(NULL, path, 0, 1, &b), -EINVAL);
    assert_int_equal(shmpool_array_load_rows(pool, NULL, 0, 1, &b), -EINVAL);
    assert_int_equal(shmpool_array_stat(NULL, &h), -EINVAL);
    assert_int_equal(shmpool_array_stat(path, NULL), -EINVAL);
    shmpool_array_free(pool, &z);
    shmpool_array_free(pool, &a);
    shmpool_destroy(pool);
    assert_true(nothing_leaked(&before));
}

#define ALL_TESTS                                                                                  \
    cmocka_unit_test(test_a_read_spanning_many_requests_fills_the_buffer_exactly),                 \
        cmocka_unit_test(test_reading_past_the_end_of_the_file_is_a_protocol_error),               \
        cmocka_unit_test(test_a_small_memlock_limit_registers_what_fits_and_reads_the_rest),       \
        cmocka_unit_test(test_a_write_then_a_read_give_back_the_same_bytes),                       \
        cmocka_unit_test(test_a_pipe_gives_short_reads_that_are_read_on_to_the_end),               \
        cmocka_unit_test(test_bad_descriptors_and_directories_are_errors_not_crashes),             \
        cmocka_unit_test(test_where_io_uring_is_forbidden_the_fallback_runs_silently),             \
        cmocka_unit_test(test_every_dtype_and_shape_saved_then_loaded_comes_back_equal),           \
        cmocka_unit_test(test_an_array_larger_than_all_requests_in_flight_loads_intact),           \
        cmocka_unit_test(test_truncated_or_overlong_data_is_a_protocol_error),                     \
        cmocka_unit_test(test_headers_numpy_would_refuse_or_shmpool_cannot_load_are_refused),      \
        cmocka_unit_test(test_directories_missing_and_unreadable_files_report_their_errno),        \
        cmocka_unit_test(test_raw_files_load_as_one_dimension_of_the_given_dtype),                 \
        cmocka_unit_test(test_a_fifo_is_read_as_a_stream_for_npy_and_raw_files),                   \
        cmocka_unit_test(test_a_file_larger_than_dev_shm_can_hold_is_no_space),                    \
        cmocka_unit_test(test_an_endless_stream_stops_where_the_pool_cannot_hold_it),              \
        cmocka_unit_test(test_save_refuses_inconsistent_arrays_and_reports_the_file_errno),        \
        cmocka_unit_test(test_a_save_that_fails_midway_leaves_no_file_it_created),                 \
        cmocka_unit_test(test_a_save_that_fails_midway_leaves_an_existing_file_untouched),         \
        cmocka_unit_test(test_the_environment_variable_forces_the_fallback),                       \
        cmocka_unit_test(test_rows_load_a_slice_and_stat_reads_only_the_header),                   \
        cmocka_unit_test(test_null_arguments_are_invalid_and_free_is_safe_on_empty_arrays)

int main(void) {
    unsetenv("SHMPOOL_NO_IO_URING"); /* the groups choose the engine themselves */
    signal(SIGPIPE, SIG_IGN);        /* a FIFO reader that stops early must not kill the writer */
    const struct CMUnitTest tests[] = {ALL_TESTS};
    int failed = cmocka_run_group_tests_name("io_uring", tests, setup_uring, group_teardown);
    failed += cmocka_run_group_tests_name("io_uring, unregistered buffers", tests,
                                          setup_uring_unregistered, group_teardown);
    failed += cmocka_run_group_tests_name("pread/pwrite", tests, setup_plain, group_teardown);
    return test_exit_code(failed);
}
