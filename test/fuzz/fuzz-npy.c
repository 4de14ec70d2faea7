/* Fuzz target for the .npy header parser (lib/npy.c).
 *
 * Built with -DSHMPOOL_LIBFUZZER and clang's -fsanitize=fuzzer it is a libFuzzer target:
 *     fuzz-npy-libfuzzer -dict=test/fuzz/npy.dict [corpus-dir]
 * Built plainly it is a program that runs fixed inputs and a deterministic sweep of mutations of
 * them (plus any files named on its command line) under ctest, so the properties below are checked
 * on every build, with or without clang.
 *
 * Each input is tried twice: as the bytes of a file, and as a dict text wrapped into a valid
 * preamble (so mutations explore the dict grammar without having to keep the length field right).
 * Properties: the parser never crashes or reads out of bounds; it returns 0, -EBADMSG, -ENOTSUP or
 * -EOVERFLOW; on success the result is self-consistent, and formatting it then parsing that gives
 * the same array back.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_parse(const uint8_t *data, size_t size) {
    struct shmpool__npy_header h;
    int rc = shmpool__npy_parse(data, size, &h);
    CHECK(rc == 0 || rc == -EBADMSG || rc == -ENOTSUP || rc == -EOVERFLOW);
    size_t hs = 0;
    int src = shmpool__npy_header_size(data, size, &hs);
    CHECK(src == 0 || src == -EAGAIN || src == -EBADMSG || src == -ENOTSUP || src == -EOVERFLOW);
    if (rc != 0)
        return;

    CHECK(src == 0 && hs == h.data_offset && h.data_offset <= size);
    CHECK(h.version >= 1 && h.version <= 3);
    CHECK(h.ndim <= SHMPOOL_ARRAY_MAX_DIMS);
    size_t es = shmpool__npy_dtype_size(h.dtype);
    CHECK(es > 0);
    size_t count = 1;
    for (unsigned i = 0; i < h.ndim; i++)
        count *= h.shape[i]; /* cannot wrap: the parser checked the product */
    CHECK(count == h.count);
    CHECK(h.nbytes == h.count * es && (h.count == 0 || h.nbytes / h.count == es));
    for (unsigned i = h.ndim; i < SHMPOOL_ARRAY_MAX_DIMS; i++)
        CHECK(h.shape[i] == 0);

    char buf[SHMPOOL__NPY_FORMAT_MAX];
    size_t n;
    CHECK(shmpool__npy_format(buf, sizeof buf, h.dtype, h.ndim, h.shape, &n) == 0);
    CHECK(n % 64 == 0 && buf[n - 1] == '\n');
    struct shmpool__npy_header g;
    CHECK(shmpool__npy_parse(buf, n, &g) == 0);
    CHECK(g.data_offset == n && g.dtype == h.dtype && g.ndim == h.ndim && g.count == h.count &&
          g.nbytes == h.nbytes && memcmp(g.shape, h.shape, sizeof g.shape) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_parse(data, size);

    /* the same bytes as a dict inside a valid preamble */
    static char wrapped[(1 << 16) + 256];
    size_t n;
    if (shmpool__npy_wrap(wrapped, sizeof wrapped, (const char *)data, size, &n) == 0)
        check_parse((const uint8_t *)wrapped, n);
    return 0;
}

#ifndef SHMPOOL_LIBFUZZER
#define SEED(s) {s, sizeof(s) - 1}
static const struct {
    const char *bytes;
    size_t len; /* the seeds hold NUL bytes */
} seeds[] = {
    SEED("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"),
    SEED("{'descr': '|b1', 'fortran_order': False, 'shape': (), }"),
    SEED("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3, 4), }"),
    SEED("{'shape':(0,5),'descr':'<i8','fortran_order':False}"),
    SEED("{\"descr\": \">f8\", \"fortran_order\": True, \"shape\": (4294967296, 4294967296)}"),
    SEED("{'descr': [('a', '<f8'), ('b', [('c', '|u1')], (2,))], 'fortran_order': False, "
         "'shape': (1L,)}"),
    SEED("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
         "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,), }"),
    SEED("\x93NUMPY\x01\x00\x41\x00{'descr': '<i4', 'fortran_order': False, 'shape': (7,), }"
         "       \n"),
    SEED("\x93NUMPY\x02\x00\x3b\x00\x00\x00{'descr': '|i1', 'fortran_order': False, 'shape': (), }"
         "   \n"),
    SEED("\x93NUMPY\x03\x00\xff\xff\xff\xff{"),
    SEED("\x93NUMPY\x01\x00\x00\x00"),
    SEED("\x93NUMP"),
    SEED(""),
};

/* Every byte of every seed replaced by a few telling values, and every prefix. */
static unsigned long sweep(const char *seed, size_t len) {
    static const unsigned char values[] = {0, '\n', ' ', '\'', '"', ',', '(', ')', '{', '}', '[',
                                           ':', '0', '9', 'L', '-', 0x93, 0xff};
    unsigned char *buf = malloc(len + 1);
    unsigned long runs = 0;
    if (!buf)
        abort();
    for (size_t cut = 0; cut <= len; cut++, runs++)
        LLVMFuzzerTestOneInput((const uint8_t *)seed, cut);
    for (size_t i = 0; i < len; i++) {
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(buf, seed, len);
            buf[i] = values[v];
            LLVMFuzzerTestOneInput(buf, len);
            runs++;
        }
    }
    free(buf);
    return runs;
}

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        int bad = 0;
        for (int i = 1; i < argc; i++)
            bad |= run_file(argv[i]);
        return bad;
    }
    unsigned long runs = 0;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        runs += sweep(seeds[i].bytes, seeds[i].len);
    printf("fuzz-npy: %lu inputs, every property held\n", runs);
    return 0;
}
#endif
