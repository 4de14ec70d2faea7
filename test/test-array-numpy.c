/* The real client: numpy (python3 with numpy, Debian's python3-numpy) writes .npy files of every
 * supported dtype that shmpool loads and checks value by value, and shmpool writes files that numpy
 * loads and checks, byte for byte against np.save. Driven by test/numpy-files.py; both I/O engines.
 * Skipped (exit 77) with a message when no python3 with numpy is found. */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shmpool.h"

#ifndef SHMPOOL_TEST_SOURCE_DIR
#define SHMPOOL_TEST_SOURCE_DIR "test"
#endif
#define SCRIPT SHMPOOL_TEST_SOURCE_DIR "/numpy-files.py"

static const char *python; /* a python3 that imports numpy */
static char dir[64];

/* Runs python with args; returns its exit status, or -1 if it could not run. */
static int run_python(const char *const args[]) {
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        const char *argv[8] = {python};
        for (int i = 0; args[i] && i < 6; i++)
            argv[i + 1] = args[i];
        execv(python, (char *const *)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *find_python(void) {
    static const char *const candidates[] = {"/usr/bin/python3", "/usr/local/bin/python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (access(candidates[i], X_OK) != 0)
            continue;
        python = candidates[i];
        const char *args[] = {"-c", "import numpy", NULL};
        if (run_python(args) == 0)
            return python;
    }
    return python = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The formula numpy-files.py's values() computes: element i of each dtype.
 */
static const struct {
    const char *name;
    shmpool_dtype dtype;
} dtypes[] = {
    {"f8", SHMPOOL_F8}, {"f4", SHMPOOL_F4}, {"i8", SHMPOOL_I8}, {"i4", SHMPOOL_I4},
    {"i2", SHMPOOL_I2}, {"i1", SHMPOOL_I1}, {"u8", SHMPOOL_U8}, {"u4", SHMPOOL_U4},
    {"u2", SHMPOOL_U2}, {"u1", SHMPOOL_U1}, {"b1", SHMPOOL_BOOL},
};
#define NDTYPES (sizeof dtypes / sizeof dtypes[0])

static const struct {
    const char *name;
    unsigned ndim;
    size_t shape[3];
    bool f8_only;
} cases[] = {
    {"vec", 1, {1000}, false},      {"cube", 3, {2, 3, 4}, false}, {"scalar", 0, {0}, false},
    {"empty", 1, {0}, false},       {"empty3", 3, {3, 0, 2}, false},
    {"long", 1, {3000001}, true},
};
#define NCASES (sizeof cases / sizeof cases[0])

static uint64_t base(size_t i) {
    return (uint64_t)i * 0x9E3779B97F4A7C15u + 0x0123456789ABCDEFu;
}

static double f8_value(size_t i, size_t n) {
    static const double specials[] = {NAN, INFINITY, -INFINITY, -0.0, 0x1p-1074,
                                      1.7976931348623157e308};
    if (n >= 6 && i < 6)
        return specials[i];
    uint64_t v = base(i);
    double m = (double)(v >> 11) / 1048576.0;
    return (v & 1) ? -m : m;
}

static float f4_value(size_t i, size_t n) {
    static const float specials[] = {NAN, INFINITY, -INFINITY, -0.0f, 0x1p-149f, 0x1.fffffep+127f};
    if (n >= 6 && i < 6)
        return specials[i];
    uint64_t v = base(i);
    float m = (float)(v >> 40) / 1024.0f;
    return (v & 1) ? -m : m;
}

/* Element i of dtype as its bytes. */
static void value(shmpool_dtype dtype, size_t i, size_t n, unsigned char *out) {
    uint64_t v = base(i);
    switch (dtype) {
    case SHMPOOL_F8: {
        double d = f8_value(i, n);
        memcpy(out, &d, 8);
        return;
    }
    case SHMPOOL_F4: {
        float f = f4_value(i, n);
        memcpy(out, &f, 4);
        return;
    }
    case SHMPOOL_BOOL:
        out[0] = (unsigned char)((v >> 7) & 1);
        return;
    default:
        /* integers: the low bytes, two's complement, little-endian like the host */
        memcpy(out, &v, shmpool_dtype_size(dtype));
        return;
    }
}

static bool same_element(shmpool_dtype dtype, const unsigned char *a, const unsigned char *b) {
    size_t es = shmpool_dtype_size(dtype);
    if (dtype == SHMPOOL_F8) {
        double x, y;
        memcpy(&x, a, 8), memcpy(&y, b, 8);
        if (isnan(x) || isnan(y))
            return isnan(x) && isnan(y);
    } else if (dtype == SHMPOOL_F4) {
        float x, y;
        memcpy(&x, a, 4), memcpy(&y, b, 4);
        if (isnan(x) || isnan(y))
            return isnan(x) && isnan(y);
    }
    return memcmp(a, b, es) == 0; /* bitwise: -0.0 is not 0.0 here */
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int group_setup(void **state) {
    (void)state;
    strcpy(dir, "/tmp/shmpool-numpy-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    const char *args[] = {SCRIPT, "write", dir, NULL};
    int rc = run_python(args);
    if (rc != 0)
        fprintf(stderr, "%s write %s failed: %d\n", SCRIPT, dir, rc);
    return rc == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void load_and_check_numpys_files(bool use_uring) {
    shmpool_options opt = {.workers = 1, .flags = use_uring ? 0 : SHMPOOL_FLAG_NO_IO_URING};
    shmpool *pool;
    assert_int_equal(shmpool_create(&pool, &opt), 0);
    for (size_t d = 0; d < NDTYPES; d++) {
        for (size_t c = 0; c < NCASES; c++) {
            if (cases[c].f8_only && dtypes[d].dtype != SHMPOOL_F8)
                continue;
            char path[256];
            snprintf(path, sizeof path, "%s/np-%s-%s.npy", dir, dtypes[d].name, cases[c].name);
            shmpool_array arr;
            int rc = shmpool_array_load(pool, path, &arr);
            if (rc)
                fail_msg("%s: %s", path, shmpool_strerror(rc));
            assert_int_equal(arr.dtype, dtypes[d].dtype);
            assert_int_equal(arr.ndim, cases[c].ndim);
            size_t n = 1;
            for (unsigned k = 0; k < cases[c].ndim; k++) {
                assert_int_equal(arr.shape[k], cases[c].shape[k]);
                n *= cases[c].shape[k];
            }
            assert_int_equal(arr.count, n);
            size_t es = shmpool_dtype_size(arr.dtype);
            assert_int_equal(arr.nbytes, n * es);
            for (size_t i = 0; i < n; i++) {
                unsigned char want[8];
                value(arr.dtype, i, n, want);
                if (!same_element(arr.dtype, (unsigned char *)arr.data + i * es, want))
                    fail_msg("%s: element %zu differs", path, i);
            }
            shmpool_array_free(pool, &arr);
        }
    }
    shmpool_destroy(pool);
}

static void save_for_numpy_to_check(bool use_uring) {
    shmpool_options opt = {.workers = 1, .flags = use_uring ? 0 : SHMPOOL_FLAG_NO_IO_URING};
    shmpool *pool;
    assert_int_equal(shmpool_create(&pool, &opt), 0);
    for (size_t d = 0; d < NDTYPES; d++) {
        for (size_t c = 0; c < NCASES; c++) {
            if (cases[c].f8_only && dtypes[d].dtype != SHMPOOL_F8)
                continue;
            shmpool_array arr;
            memset(&arr, 0, sizeof arr);
            arr.dtype = dtypes[d].dtype;
            arr.ndim = cases[c].ndim;
            arr.count = 1;
            for (unsigned k = 0; k < arr.ndim; k++) {
                arr.shape[k] = cases[c].shape[k];
                arr.count *= arr.shape[k];
            }
            size_t es = shmpool_dtype_size(arr.dtype);
            arr.nbytes = arr.count * es;
            if (arr.nbytes) {
                arr.data = shmpool_alloc(pool, arr.nbytes);
                assert_non_null(arr.data);
                for (size_t i = 0; i < arr.count; i++)
                    value(arr.dtype, i, arr.count, (unsigned char *)arr.data + i * es);
            }
            char path[256];
            snprintf(path, sizeof path, "%s/c-%s-%s.npy", dir, dtypes[d].name, cases[c].name);
            int rc = shmpool_array_save(pool, path, &arr);
            if (rc)
                fail_msg("%s: %s", path, shmpool_strerror(rc));
            shmpool_array_free(pool, &arr);
        }
    }
    shmpool_destroy(pool);
    const char *args[] = {SCRIPT, "check", dir, NULL};
    assert_int_equal(run_python(args), 0);
}

static void test_files_numpy_writes_load_with_every_value_intact_through_io_uring(void **state) {
    (void)state;
    load_and_check_numpys_files(true);
}

static void test_files_numpy_writes_load_with_every_value_intact_through_pread(void **state) {
    (void)state;
    load_and_check_numpys_files(false);
}

static void test_files_shmpool_writes_are_what_numpy_writes_through_io_uring(void **state) {
    (void)state;
    save_for_numpy_to_check(true);
}

static void test_files_shmpool_writes_are_what_numpy_writes_through_pwrite(void **state) {
    (void)state;
    save_for_numpy_to_check(false);
}

int main(void) {
    unsetenv("SHMPOOL_NO_IO_URING");
    if (!find_python()) {
        printf("skipped: no python3 with numpy (install python3-numpy) for %s\n", SCRIPT);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_numpy_writes_load_with_every_value_intact_through_io_uring),
        cmocka_unit_test(test_files_numpy_writes_load_with_every_value_intact_through_pread),
        cmocka_unit_test(test_files_shmpool_writes_are_what_numpy_writes_through_io_uring),
        cmocka_unit_test(test_files_shmpool_writes_are_what_numpy_writes_through_pwrite),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
