/* Streaming files through the pool (lib/stream.c): map, for and reduce over a file in pieces give
 * what the in-memory calls give; a file larger than a small private /dev/shm streams; failures
 * stop the stream with the global row and leave no output file.
 *
 * Every test runs twice: with io_uring (where the kernel allows it) and forced to pread/pwrite. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "shmpool.h"
#include "uring_io.h"

#if defined(__SANITIZE_ADDRESS__)
#define nothing_leaked(before) resources_same_but_mappings(before)
#else
#define nothing_leaked(before) resources_same(before)
#endif

static bool use_uring;
static char dir[64];
/* Set before a pool is created, so workers see it (fork copies it). */
static char changing_path[128];

static int setup(bool uring) {
    use_uring = uring;
    strcpy(dir, "/tmp/shmpool-stream-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    if (uring && !shmpool__io_uring_available())
        fprintf(stderr, "# io_uring is not available here: the io_uring group runs the fallback\n");
    return 0;
}
static int setup_uring(void **state) { (void)state; return setup(true); }
static int setup_plain(void **state) { (void)state; return setup(false); }
static int teardown(void **state) {
    (void)state;
    return rmdir(dir); /* fails if a test left a file behind */
}

static shmpool *make_pool(unsigned workers) {
    shmpool_options o = {.workers = workers, .flags = SHMPOOL_FLAG_QUIET |
                                                      (use_uring ? 0 : SHMPOOL_FLAG_NO_IO_URING)};
    shmpool *p = NULL;
    assert_int_equal(shmpool_create(&p, &o), 0);
    return p;
}

static void path_of(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
}

/* A 1-d float64 .npy of n values i * 0.5 + 1 (n may be large: written in blocks). */
static void write_doubles(const char *path, size_t n) {
    shmpool_array a = {.dtype = SHMPOOL_F8, .ndim = 1, .shape = {n}, .count = n,
                       .nbytes = n * sizeof(double)};
    double *x = malloc(n ? n * sizeof *x : 1);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (double)i * 0.5 + 1;
    a.data = x;
    assert_int_equal(shmpool_array_save(NULL, path, &a), 0);
    free(x);
}

static int dir_entries(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, ".."));
    closedir(d);
    return n;
}

/* ---- map ---- */
static int square(const void *in, void *out, void *ctx) {
    (void)ctx;
    double v = *(const double *)in;
    *(double *)out = v * v;
    return 0;
}

static int read_only(const void *in, void *out, void *ctx) {
    (void)ctx;
    return out == NULL && *(const double *)in >= 1 ? 0 : -EFAULT;
}

static void test_stream_map_writes_what_the_in_memory_map_computes(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    char in[128], out[128];
    path_of(in, sizeof in, "x.npy");
    path_of(out, sizeof out, "y.npy");
    size_t n = 300001;
    write_doubles(in, n);
    shmpool *p = make_pool(2);
    for (unsigned buffers = 2; buffers <= 3; buffers++) {
        /* 64 KiB per slot: dozens of pieces, the last one short */
        shmpool_stream_options o = {.budget = buffers * (64u << 10), .buffers = buffers,
                                    .chunk = 1000};
        size_t fail = 0;
        assert_int_equal(shmpool_stream_map(p, in, out, square, NULL, sizeof(double), &o, &fail), 0);
        assert_int_equal(fail, SIZE_MAX);
        shmpool_array x = {0}, y = {0};
        assert_int_equal(shmpool_array_load(p, in, &x), 0);
        assert_int_equal(shmpool_array_load(p, out, &y), 0);
        assert_int_equal(y.dtype, SHMPOOL_F8);
        assert_int_equal(y.ndim, 1);
        assert_int_equal(y.shape[0], n);
        double *mem = shmpool_alloc(p, n * sizeof(double));
        assert_int_equal(shmpool_map(p, square, NULL, x.data, sizeof(double), mem, sizeof(double), n, 0), 0);
        assert_memory_equal(y.data, mem, n * sizeof(double));
        shmpool_free(p, mem);
        shmpool_array_free(p, &x);
        shmpool_array_free(p, &y);
    }
    /* no output at all: the map runs for its effects */
    shmpool_stream_options small = {.budget = 3u << 16};
    assert_int_equal(shmpool_stream_map(p, in, NULL, read_only, NULL, 0, &small, NULL), 0);
    shmpool_destroy(p);
    unlink(in);
    unlink(out);
    assert_int_equal(dir_entries(), 0);
    assert_true(nothing_leaked(&before));
}

/* An (n, 3) int32 array, row by row: out_size a whole row keeps the input's shape; a row to one
   float64 gives (n,) of another dtype; rows [first_row, end_row) only. */
static int negate_row(const void *in, void *out, void *ctx) {
    (void)ctx;
    for (int j = 0; j < 3; j++)
        ((int32_t *)out)[j] = -((const int32_t *)in)[j];
    return 0;
}
static int row_sum(const void *in, void *out, void *ctx) {
    (void)ctx;
    const int32_t *r = in;
    *(double *)out = (double)r[0] + r[1] + r[2];
    return 0;
}

static void test_rows_of_a_two_d_array_keep_their_shape_or_become_another_dtype(void **state) {
    (void)state;
    char in[128], out[128];
    path_of(in, sizeof in, "m.npy");
    path_of(out, sizeof out, "n.npy");
    size_t rows = 10007;
    int32_t *m = malloc(rows * 3 * sizeof *m);
    for (size_t i = 0; i < rows * 3; i++)
        m[i] = (int32_t)i;
    shmpool_array a = {.data = m, .dtype = SHMPOOL_I4, .ndim = 2, .shape = {rows, 3},
                       .count = rows * 3, .nbytes = rows * 3 * 4};
    assert_int_equal(shmpool_array_save(NULL, in, &a), 0);
    shmpool *p = make_pool(2);
    shmpool_stream_options o = {.budget = 3 * 8192 + 3 * 12288, .chunk = 100};
    assert_int_equal(shmpool_stream_map(p, in, out, negate_row, NULL, 12, &o, NULL), 0);
    shmpool_array y = {0};
    assert_int_equal(shmpool_array_load(p, out, &y), 0);
    assert_int_equal(y.dtype, SHMPOOL_I4);
    assert_int_equal(y.ndim, 2);
    assert_int_equal(y.shape[0], rows);
    assert_int_equal(y.shape[1], 3);
    for (size_t i = 0; i < rows * 3; i++)
        assert_int_equal(((int32_t *)y.data)[i], -(int32_t)i);
    shmpool_array_free(p, &y);

    o.out_dtype = SHMPOOL_F8;
    o.first_row = 50;
    o.end_row = 9050;
    assert_int_equal(shmpool_stream_map(p, in, out, row_sum, NULL, sizeof(double), &o, NULL), 0);
    assert_int_equal(shmpool_array_load(p, out, &y), 0);
    assert_int_equal(y.dtype, SHMPOOL_F8);
    assert_int_equal(y.ndim, 1);
    assert_int_equal(y.shape[0], 9000);
    for (size_t i = 0; i < 9000; i++) {
        size_t r = 50 + i;
        assert_true(((double *)y.data)[i] == (double)(9 * r + 3));
    }
    shmpool_array_free(p, &y);

    /* a chunk longer than the stream: one chunk, and the slots hold only the stream's rows */
    o.chunk = (size_t)1 << 40;
    o.budget = 3 * (9000 * 20 + 4 * 4096);
    assert_int_equal(shmpool_stream_map(p, in, out, row_sum, NULL, sizeof(double), &o, NULL), 0);
    assert_int_equal(shmpool_array_load(p, out, &y), 0);
    assert_true(((double *)y.data)[8999] == (double)(9 * 9049 + 3));
    shmpool_array_free(p, &y);
    /* an empty range is an empty array */
    o.first_row = o.end_row = 20000;
    assert_int_equal(shmpool_stream_map(p, in, out, row_sum, NULL, sizeof(double), &o, NULL), 0);
    assert_int_equal(shmpool_array_stat(out, &y), 0);
    assert_int_equal(y.shape[0], 0);
    shmpool_destroy(p);
    free(m);
    unlink(in);
    unlink(out);
}

/* ---- for ---- */
struct seen {
    uint32_t *count; /* per row, in shared memory */
    double *value;
};

static int mark(void *ctx, const void *rows, size_t begin, size_t end) {
    struct seen *s = ctx;
    const double *x = rows;
    for (size_t i = begin; i < end; i++) {
        __atomic_add_fetch(&s->count[i], 1, __ATOMIC_RELAXED);
        s->value[i] = x[i - begin];
    }
    return 0;
}

static void test_stream_for_visits_every_row_once_with_its_data(void **state) {
    (void)state;
    char in[128];
    path_of(in, sizeof in, "x.npy");
    size_t n = 123457;
    write_doubles(in, n);
    shmpool *p = make_pool(2);
    struct seen *s = shmpool_alloc(p, sizeof *s);
    s->count = shmpool_alloc(p, n * sizeof *s->count);
    s->value = shmpool_alloc(p, n * sizeof *s->value);
    shmpool_stream_options o = {.budget = 3u << 15}; /* chunk 0: automatic */
    assert_int_equal(shmpool_stream_for(p, in, mark, s, &o, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(s->count[i], 1);
        assert_true(s->value[i] == (double)i * 0.5 + 1);
    }
    shmpool_destroy(p);
    unlink(in);
}

/* A raw file of int16, read as a 1-d array of that dtype. */
static int raw_sum(void *ctx, const void *rows, size_t begin, size_t end, void *partial) {
    (void)ctx;
    const int16_t *x = rows;
    int64_t s = 0;
    for (size_t i = 0; i < end - begin; i++)
        s += x[i];
    *(int64_t *)partial = s;
    return 0;
}
static void add_i64(void *acc, const void *partial, void *ctx) {
    (void)ctx;
    *(int64_t *)acc += *(const int64_t *)partial;
}

static void test_a_raw_file_streams_as_a_one_d_array_of_its_dtype(void **state) {
    (void)state;
    char in[128];
    path_of(in, sizeof in, "x.raw");
    size_t n = 200003;
    int16_t *x = malloc(n * sizeof *x);
    int64_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += x[i] = (int16_t)(i * 7919);
    FILE *f = fopen(in, "wb");
    assert_int_equal(fwrite(x, sizeof *x, n, f), n);
    fclose(f);
    shmpool *p = make_pool(2);
    shmpool_stream_options o = {.raw_dtype = SHMPOOL_I2, .budget = 3u << 14, .chunk = 997};
    int64_t acc = 0;
    assert_int_equal(shmpool_stream_reduce(p, in, raw_sum, add_i64, NULL, &acc, sizeof acc, &o, NULL), 0);
    assert_int_equal(acc, want);
    /* an odd number of bytes is not a whole number of int16 */
    f = fopen(in, "ab");
    fputc(1, f);
    fclose(f);
    acc = 0;
    assert_int_equal(shmpool_stream_reduce(p, in, raw_sum, add_i64, NULL, &acc, sizeof acc, &o, NULL), -EPROTO);
    shmpool_destroy(p);
    free(x);
    unlink(in);
}

/* ---- reduce ---- */
static int chunk_sum(void *ctx, const void *rows, size_t begin, size_t end, void *partial) {
    (void)ctx;
    const double *x = rows;
    double s = 0;
    for (size_t i = 0; i < end - begin; i++)
        s += x[i] * x[i];
    *(double *)partial = s;
    return 0;
}
static void add_double(void *acc, const void *partial, void *ctx) {
    (void)ctx;
    *(double *)acc += *(const double *)partial;
}

/* The same chunking in memory and serially: bit for bit, whatever the budget and buffers. */
static void test_stream_reduce_equals_the_in_memory_sum_for_any_budget(void **state) {
    (void)state;
    char in[128];
    path_of(in, sizeof in, "x.npy");
    size_t n = 500009, chunk = 4096;
    write_doubles(in, n);
    double want = 0;
    for (size_t b = 0; b < n; b += chunk) {
        double s = 0;
        for (size_t i = b; i < n && i < b + chunk; i++) {
            double v = (double)i * 0.5 + 1;
            s += v * v;
        }
        want += s;
    }
    shmpool *p = make_pool(2);
    size_t budgets[] = {3 * 50000, 3u << 20, 0};
    for (size_t bi = 0; bi < 3; bi++) {
        for (unsigned buffers = 2; buffers <= 3; buffers++) {
            shmpool_stream_options o = {.budget = budgets[bi], .buffers = buffers, .chunk = chunk};
            double acc = 0;
            assert_int_equal(shmpool_stream_reduce(p, in, chunk_sum, add_double, NULL, &acc,
                                                   sizeof acc, &o, NULL), 0);
            assert_memory_equal(&acc, &want, sizeof want);
        }
    }
    shmpool_destroy(p);
    unlink(in);
}

/* ---- a file larger than /dev/shm ---- */
static int bigger_than_dev_shm_child(void) {
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=4m") != 0)
        return 77;
    char in[128];
    path_of(in, sizeof in, "big.npy");
    size_t n = (24u << 20) / sizeof(double); /* 24 MiB: six times /dev/shm */
    write_doubles(in, n);
    shmpool *p = make_pool(2);
    shmpool_array whole = {0};
    int rc = 0;
    if (shmpool_array_load(p, in, &whole) != -ENOSPC)
        rc = 2; /* it really does not fit */
    double want = 0;
    for (size_t b = 0; b < n; b += 8192) {
        double s = 0;
        for (size_t i = b; i < b + 8192; i++) {
            double v = (double)i * 0.5 + 1;
            s += v * v;
        }
        want += s;
    }
    double acc = 0;
    shmpool_stream_options o = {.chunk = 8192}; /* the default budget: half of the 4 MiB */
    if (!rc && shmpool_stream_reduce(p, in, chunk_sum, add_double, NULL, &acc, sizeof acc, &o, NULL))
        rc = 3;
    if (!rc && memcmp(&acc, &want, sizeof acc))
        rc = 4;
    shmpool_destroy(p);
    unlink(in);
    return rc;
}

static void test_a_file_six_times_larger_than_a_private_dev_shm_streams(void **state) {
    (void)state;
    assert_child_passed(run_in_child(bigger_than_dev_shm_child, NULL));
}

/* ---- failures ---- */
static int fail_at_77777(const void *in, void *out, void *ctx) {
    (void)ctx;
    if (*(const double *)in == 77777 * 0.5 + 1)
        return -EDOM;
    *(double *)out = 1;
    return 0;
}
static int for_fail_at_77777(void *ctx, const void *rows, size_t begin, size_t end) {
    (void)ctx, (void)rows;
    return begin <= 77777 && 77777 < end ? -EDOM : 0;
}

static void test_a_failing_item_stops_the_stream_with_its_row_and_leaves_no_output(void **state) {
    (void)state;
    char in[128], out[128];
    path_of(in, sizeof in, "x.npy");
    path_of(out, sizeof out, "y.npy");
    write_doubles(in, 200000);
    shmpool *p = make_pool(2);
    shmpool_stream_options o = {.budget = 3u << 16, .chunk = 1000};
    size_t fail = 0;
    assert_int_equal(shmpool_stream_map(p, in, out, fail_at_77777, NULL, sizeof(double), &o, &fail), -EDOM);
    assert_int_equal(fail, 77777);
    assert_int_equal(access(out, F_OK), -1); /* neither the output nor its temporary file */
    assert_int_equal(dir_entries(), 1);
    /* an existing output is left as it was */
    FILE *f = fopen(out, "w");
    fputs("old", f);
    fclose(f);
    assert_int_equal(shmpool_stream_map(p, in, out, fail_at_77777, NULL, sizeof(double), &o, &fail), -EDOM);
    char buf[8] = {0};
    f = fopen(out, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "old");
    assert_int_equal(dir_entries(), 2);
    /* the for form gives the chunk's first row */
    assert_int_equal(shmpool_stream_for(p, in, for_fail_at_77777, NULL, &o, &fail), -EDOM);
    assert_int_equal(fail, 77000);
    /* and the pool is fine afterwards */
    double acc = 0;
    assert_int_equal(shmpool_stream_reduce(p, in, chunk_sum, add_double, NULL, &acc, sizeof acc, &o, &fail), 0);
    assert_int_equal(fail, SIZE_MAX);
    shmpool_destroy(p);
    unlink(in);
    unlink(out);
}

static void test_a_truncated_file_is_eproto_before_anything_runs(void **state) {
    (void)state;
    char in[128], out[128];
    path_of(in, sizeof in, "x.npy");
    path_of(out, sizeof out, "y.npy");
    write_doubles(in, 100000);
    assert_int_equal(truncate(in, 128 + 99999 * 8), 0);
    shmpool *p = make_pool(2);
    size_t fail = 0;
    assert_int_equal(shmpool_stream_map(p, in, out, square, NULL, sizeof(double), NULL, &fail), -EPROTO);
    assert_int_equal(fail, SIZE_MAX);
    assert_int_equal(dir_entries(), 1);
    /* a header cut short */
    assert_int_equal(truncate(in, 40), 0);
    assert_int_equal(shmpool_stream_map(p, in, out, square, NULL, sizeof(double), NULL, &fail), -EBADMSG);
    assert_int_equal(dir_entries(), 1);
    shmpool_destroy(p);
    unlink(in);
}

/* A worker truncates (or extends) the file while its first pieces are computed. */
static int shrink_at_row_100(const void *in, void *out, void *ctx) {
    (void)ctx;
    if (*(const double *)in == 100 * 0.5 + 1 && truncate(changing_path, 128 + 150000 * 8) != 0)
        return -errno;
    *(double *)out = 0;
    return 0;
}
static int grow_at_row_100(void *ctx, const void *rows, size_t begin, size_t end) {
    (void)ctx, (void)rows;
    if (begin <= 100 && 100 < end && truncate(changing_path, 128 + 250000 * 8) != 0)
        return -errno;
    return 0;
}

static void test_a_file_that_changes_size_while_streamed_is_efilechanged(void **state) {
    (void)state;
    char out[128];
    path_of(changing_path, sizeof changing_path, "x.npy");
    path_of(out, sizeof out, "y.npy");
    write_doubles(changing_path, 200000);
    shmpool *p = make_pool(2);
    shmpool_stream_options o = {.budget = 3u << 16, .chunk = 1000}; /* 200 KiB of many pieces */
    size_t fail = 0;
    assert_int_equal(shmpool_stream_map(p, changing_path, out, shrink_at_row_100, NULL,
                                        sizeof(double), &o, &fail), SHMPOOL_EFILECHANGED);
    assert_int_equal(fail, SIZE_MAX);
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(dir_entries(), 1);
    write_doubles(changing_path, 200000);
    assert_int_equal(shmpool_stream_for(p, changing_path, grow_at_row_100, NULL, &o, &fail),
                     SHMPOOL_EFILECHANGED);
    assert_non_null(strstr(shmpool_strerror(SHMPOOL_EFILECHANGED), "changed"));
    shmpool_destroy(p);
    unlink(changing_path);
}

static int nop_for(void *ctx, const void *rows, size_t begin, size_t end) {
    (void)ctx, (void)rows, (void)begin, (void)end;
    return 0;
}

static void test_bad_arguments_are_refused_and_leave_no_output(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    char in[128], out[128], raw[128];
    path_of(in, sizeof in, "x.npy");
    path_of(out, sizeof out, "y.npy");
    path_of(raw, sizeof raw, "z.raw");
    write_doubles(in, 1000);
    shmpool *p = make_pool(2);
    double acc = 0;
    shmpool_stream_options o = {0};
    assert_int_equal(shmpool_stream_map(NULL, in, out, square, NULL, 8, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_stream_map(p, NULL, out, square, NULL, 8, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_stream_map(p, in, out, NULL, NULL, 8, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_stream_map(p, in, NULL, square, NULL, 8, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_stream_map(p, in, out, square, NULL, 0, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_stream_map(p, in, out, square, NULL, 12, NULL, NULL), -EINVAL); /* not whole f8 */
    assert_int_equal(shmpool_stream_map(p, in, in, square, NULL, 8, NULL, NULL), -EINVAL);   /* itself */
    assert_int_equal(shmpool_stream_map(p, in, dir, square, NULL, 8, NULL, NULL), -EISDIR);
    assert_int_equal(shmpool_stream_for(p, in, NULL, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_stream_reduce(p, in, chunk_sum, NULL, NULL, &acc, 8, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_stream_reduce(p, in, chunk_sum, add_double, NULL, NULL, 8, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_stream_reduce(p, in, chunk_sum, add_double, NULL, &acc, 0, NULL, NULL), -EINVAL);
    o.buffers = 1;
    assert_int_equal(shmpool_stream_for(p, in, nop_for, NULL, &o, NULL), -EINVAL);
    o.buffers = 4;
    assert_int_equal(shmpool_stream_for(p, in, nop_for, NULL, &o, NULL), -EINVAL);
    o = (shmpool_stream_options){.reserved_ = {1}};
    assert_int_equal(shmpool_stream_for(p, in, nop_for, NULL, &o, NULL), -EINVAL);
    o = (shmpool_stream_options){.raw_dtype = (shmpool_dtype)99};
    assert_int_equal(shmpool_stream_for(p, in, nop_for, NULL, &o, NULL), -EINVAL);
    o = (shmpool_stream_options){.out_dtype = (shmpool_dtype)99};
    assert_int_equal(shmpool_stream_map(p, in, out, square, NULL, 8, &o, NULL), -EINVAL);
    /* a budget that cannot hold a chunk of rows in each buffer */
    o = (shmpool_stream_options){.budget = 3 * 4096, .chunk = 1000};
    assert_int_equal(shmpool_stream_map(p, in, out, square, NULL, 8, &o, NULL), SHMPOOL_EBUDGET);
    o = (shmpool_stream_options){.budget = 100};
    assert_int_equal(shmpool_stream_for(p, in, nop_for, NULL, &o, NULL), SHMPOOL_EBUDGET);
    assert_non_null(strstr(shmpool_strerror(SHMPOOL_EBUDGET), "budget"));
    /* files it cannot stream */
    path_of(raw, sizeof raw, "missing.npy");
    assert_int_equal(shmpool_stream_for(p, raw, nop_for, NULL, NULL, NULL), -ENOENT);
    assert_int_equal(shmpool_stream_for(p, dir, nop_for, NULL, NULL, NULL), -EISDIR);
    assert_int_equal(shmpool_stream_for(p, "/dev/null", nop_for, NULL, NULL, NULL), -ESPIPE);
    shmpool_array zero_d = {.data = &acc, .dtype = SHMPOOL_F8, .ndim = 0, .count = 1, .nbytes = 8};
    path_of(raw, sizeof raw, "zero-d.npy");
    assert_int_equal(shmpool_array_save(NULL, raw, &zero_d), 0);
    assert_int_equal(shmpool_stream_for(p, raw, nop_for, NULL, NULL, NULL), -EINVAL);
    unlink(raw);
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(dir_entries(), 1);
    /* a closed pool */
    shmpool_close(p);
    assert_int_equal(shmpool_stream_for(p, in, nop_for, NULL, NULL, NULL), -ESHUTDOWN);
    assert_int_equal(shmpool_stream_map(p, in, out, square, NULL, 8, NULL, NULL), -ESHUTDOWN);
    assert_int_equal(access(out, F_OK), -1);
    shmpool_destroy(p);
    unlink(in);
    assert_true(nothing_leaked(&before));
}

#define ALL_TESTS                                                                                  \
    cmocka_unit_test(test_stream_map_writes_what_the_in_memory_map_computes),                      \
        cmocka_unit_test(test_rows_of_a_two_d_array_keep_their_shape_or_become_another_dtype),     \
        cmocka_unit_test(test_stream_for_visits_every_row_once_with_its_data),                     \
        cmocka_unit_test(test_a_raw_file_streams_as_a_one_d_array_of_its_dtype),                   \
        cmocka_unit_test(test_stream_reduce_equals_the_in_memory_sum_for_any_budget),              \
        cmocka_unit_test(test_a_file_six_times_larger_than_a_private_dev_shm_streams),             \
        cmocka_unit_test(test_a_failing_item_stops_the_stream_with_its_row_and_leaves_no_output),  \
        cmocka_unit_test(test_a_truncated_file_is_eproto_before_anything_runs),                    \
        cmocka_unit_test(test_a_file_that_changes_size_while_streamed_is_efilechanged),            \
        cmocka_unit_test(test_bad_arguments_are_refused_and_leave_no_output)

int main(void) {
    unsetenv("SHMPOOL_NO_IO_URING");
    const struct CMUnitTest tests[] = {ALL_TESTS};
    int failed = cmocka_run_group_tests_name("io_uring", tests, setup_uring, teardown);
    failed += cmocka_run_group_tests_name("pread/pwrite", tests, setup_plain, teardown);
    return test_exit_code(failed);
}
