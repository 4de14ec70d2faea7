/* Fuzz target for shmpool_queue_* (a queue with pool NULL: its own shared mapping).
 *
 * Built with -DSHMPOOL_LIBFUZZER and clang's -fsanitize=fuzzer it is a libFuzzer target
 * (fuzz-queue-libfuzzer [corpus-dir]); built plainly it is a program that runs a fixed set of
 * inputs (plus any files named on its command line) under ctest.
 *
 * An input picks the queue's capacity and largest message (0, small, odd, and the huge values
 * create must refuse), then runs put/get/size with fuzzed lengths, buffer sizes, NULL pointers
 * and timeouts of 0 (sometimes 1 ms) against a model: a FIFO of the messages put.
 *
 * Properties: nothing crashes or trips a sanitizer; create returns 0 or -EINVAL/-ENOMEM and
 * refuses capacity 0, max_msg 0 and capacities past SEM_VALUE_MAX or 2^31; put returns 0 while
 * fewer than `capacity` messages are queued and -ETIMEDOUT when full, -EMSGSIZE for len > max_msg,
 * -EINVAL for NULL msg with len != 0; get returns -EMSGSIZE for buflen < max_msg without taking
 * anything, -ETIMEDOUT when empty, else the oldest message, byte for byte, with its length;
 * size is the model's count; nothing is written past max_msg bytes of the caller's buffer. */
#include <errno.h>
#include <limits.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmpool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MSG_MAX 4096   /* largest max_msg the fuzzer makes queues with */
#define MODEL_CAP 1024 /* largest capacity it makes queues with */
#define MAX_OPS 256
#define GUARD 64

struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned byte(struct in *in) {
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static size_t u16(struct in *in) { return byte(in) | (size_t)byte(in) << 8; }

/* The model: a ring of (length, seed) pairs; message bytes are derived from the seed. */
static struct {
    size_t len;
    unsigned seed;
} model[MODEL_CAP];
static size_t head, count;

static void fill(unsigned char *buf, size_t len, unsigned seed) {
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)(seed * 31 + i * 7);
}

/* Queue shapes create must refuse, and what it must say. */
static void check_refusals(struct in *in) {
    shmpool_queue *q = (shmpool_queue *)(uintptr_t)1;
    static const struct {
        size_t cap, msg;
    } bad[] = {{0, 1}, {1, 0}, {0, 0}, {(size_t)SEM_VALUE_MAX + 1, 1}, {((size_t)1 << 31) + 1, 1},
               {SIZE_MAX, 1}, {1, SIZE_MAX}, {1, SIZE_MAX / 2 + 1}, {SIZE_MAX, SIZE_MAX}};
    size_t i = byte(in) % (sizeof bad / sizeof bad[0]);
    int rc = shmpool_queue_create(&q, NULL, bad[i].cap, bad[i].msg);
    CHECK(rc == -EINVAL || rc == -ENOMEM);
    CHECK(q == NULL);
    CHECK(shmpool_queue_create(NULL, NULL, 1, 1) == -EINVAL);
    CHECK(shmpool_queue_put(NULL, "x", 1, 0) == -EINVAL);
    char b[8];
    CHECK(shmpool_queue_get(NULL, b, sizeof b, NULL, 0) == -EINVAL);
    CHECK(shmpool_queue_size(NULL) == 0);
    shmpool_queue_destroy(NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct in in = {data, size};
    if (byte(&in) % 8 == 0) {
        check_refusals(&in);
        return 0;
    }
    size_t cap = 1 + u16(&in) % MODEL_CAP;
    size_t max_msg = 1 + u16(&in) % MSG_MAX;
    shmpool_queue *q;
    int rc = shmpool_queue_create(&q, NULL, cap, max_msg);
    CHECK(rc == 0 && q != NULL);
    head = count = 0;
    static unsigned char msg[MSG_MAX + GUARD], buf[MSG_MAX + GUARD];

    for (int ops = 0; in.n && ops < MAX_OPS; ops++) {
        unsigned op = byte(&in) % 8;
        if (op <= 2) { /* put */
            size_t len;
            switch (byte(&in) % 6) {
            case 0: len = 0; break;
            case 1: len = max_msg; break;
            case 2: len = max_msg + 1; break;
            case 3: len = SIZE_MAX; break;
            default: len = u16(&in) % (max_msg + 1); break;
            }
            unsigned seed = byte(&in);
            bool null_msg = byte(&in) % 16 == 0;
            int timeout = byte(&in) % 32 == 0 ? 1 : 0;
            if (len <= MSG_MAX)
                fill(msg, len, seed);
            rc = shmpool_queue_put(q, null_msg ? NULL : msg, len, timeout);
            if (null_msg && len != 0)
                CHECK(rc == -EINVAL);
            else if (len > max_msg)
                CHECK(rc == -EMSGSIZE);
            else if (count == cap)
                CHECK(rc == -ETIMEDOUT);
            else {
                CHECK(rc == 0);
                size_t t = (head + count++) % MODEL_CAP;
                model[t].len = null_msg ? 0 : len;
                model[t].seed = seed;
            }
        } else if (op <= 5) { /* get */
            size_t buflen;
            switch (byte(&in) % 5) {
            case 0: buflen = max_msg - 1; break;
            case 1: buflen = SIZE_MAX; break; /* the buffer holds max_msg: that is what counts */
            case 2: buflen = 0; break;
            default: buflen = max_msg + byte(&in) % GUARD; break;
            }
            bool null_buf = byte(&in) % 16 == 0;
            bool want_len = byte(&in) % 4 != 0;
            int timeout = byte(&in) % 32 == 0 ? 1 : 0;
            memset(buf, 0xa5, sizeof buf);
            size_t got = 12345;
            rc = shmpool_queue_get(q, null_buf ? NULL : buf, buflen, want_len ? &got : NULL, timeout);
            if (null_buf && buflen != 0)
                CHECK(rc == -EINVAL);
            else if (buflen < max_msg)
                CHECK(rc == -EMSGSIZE || (null_buf && rc == -EINVAL));
            else if (count == 0)
                CHECK(rc == -ETIMEDOUT);
            else {
                CHECK(rc == 0);
                size_t len = model[head].len;
                unsigned char want[MSG_MAX];
                fill(want, len, model[head].seed);
                CHECK(!want_len || got == len);
                CHECK(memcmp(buf, want, len) == 0);
                for (size_t i = max_msg; i < sizeof buf; i++)
                    CHECK(buf[i] == 0xa5); /* nothing past max_msg */
                head = (head + 1) % MODEL_CAP;
                count--;
            }
            if (rc != 0)
                CHECK(got == 12345); /* *len untouched on failure */
        } else if (op == 6) {
            CHECK(shmpool_queue_size(q) == count);
        } else { /* drain or fill in bulk */
            bool drain = byte(&in) & 1;
            size_t k = byte(&in);
            for (size_t i = 0; i < k; i++) {
                if (drain) {
                    rc = shmpool_queue_get(q, buf, max_msg, NULL, 0);
                    CHECK(count ? rc == 0 : rc == -ETIMEDOUT);
                    if (rc)
                        break;
                    head = (head + 1) % MODEL_CAP;
                    count--;
                } else {
                    fill(msg, 1, 0);
                    rc = shmpool_queue_put(q, msg, 1, 0);
                    CHECK(count < cap ? rc == 0 : rc == -ETIMEDOUT);
                    if (rc)
                        break;
                    size_t t = (head + count++) % MODEL_CAP;
                    model[t].len = 1;
                    model[t].seed = 0;
                }
            }
        }
    }
    CHECK(shmpool_queue_size(q) == count);
    shmpool_queue_destroy(q);
    return 0;
}

#ifndef SHMPOOL_LIBFUZZER
#define SEED(s) {s, sizeof(s) - 1}
static const struct {
    const char *bytes;
    size_t len;
} seeds[] = {
    /* capacity 1, max_msg 1: put, put (full), get, get (empty) */
    SEED("\x01\x00\x00\x00\x00" "\x00\x01\x07\x01\x00" "\x00\x01\x07\x01\x00"
         "\x03\x03\x00\x01\x01\x00" "\x03\x03\x00\x01\x01\x00" "\x06"),
    /* capacity 3, max_msg 64: every put length class, every buflen class */
    SEED("\x01\x02\x00\x3f\x00" "\x00\x00\x01\x01\x00" "\x00\x01\x02\x01\x00" "\x00\x02\x03\x01\x00"
         "\x00\x03\x04\x01\x00" "\x00\x04\x10\x00\x05\x01\x00" "\x06"
         "\x03\x00\x01\x01\x00" "\x03\x01\x01\x01\x00" "\x03\x02\x01\x01\x00"
         "\x03\x03\x05\x01\x01\x00" "\x03\x04\x00\x01\x00\x00" "\x06"),
    /* NULL msg with len 0 and with len 5, NULL buf with buflen 0 */
    SEED("\x01\x04\x00\x08\x00" "\x00\x00\x01\x00\x00" "\x00\x04\x05\x00\x01\x00\x00"
         "\x03\x02\x00\x01\x00" "\x03\x03\x00\x00\x01\x00"),
    /* fill 200 into capacity 100, drain 255 */
    SEED("\x01\x63\x00\x10\x00" "\x07\x00\xc8" "\x06" "\x07\x01\xff" "\x06"),
    /* max_msg 4096, a full-size message */
    SEED("\x01\x01\x00\xff\x0f" "\x00\x01\x09\x01\x00" "\x03\x04\x00\x01\x01\x00"),
    /* with a 1 ms timeout on a full and an empty queue */
    SEED("\x01\x00\x00\x00\x00" "\x00\x01\x07\x01\x00" "\x00\x01\x07\x01\x20"
         "\x03\x03\x00\x01\x01\x00" "\x03\x03\x00\x01\x01\x20"),
    /* the refusals */
    SEED("\x00\x00"), SEED("\x00\x01"), SEED("\x00\x02"), SEED("\x00\x03"), SEED("\x00\x04"),
    SEED("\x00\x05"), SEED("\x00\x06"), SEED("\x00\x07"), SEED("\x00\x08"),
    SEED(""),
};

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    static uint8_t b[1 << 16];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    LLVMFuzzerTestOneInput(b, n);
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
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++, runs++)
        LLVMFuzzerTestOneInput((const uint8_t *)seeds[i].bytes, seeds[i].len);
    uint64_t x = 0x2545f4914f6cdd1dull; /* xorshift: the same stream every run */
    for (int i = 0; i < 600; i++, runs++) {
        uint8_t b[512];
        for (size_t j = 0; j < sizeof b; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[j] = (uint8_t)x;
        }
        b[0] |= 1; /* a queue, not the refusals */
        LLVMFuzzerTestOneInput(b, 32 + (size_t)(x % 480));
    }
    printf("fuzz-queue: %lu inputs, every property held\n", runs);
    return 0;
}
#endif
