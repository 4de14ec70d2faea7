/* Fuzz target for the argument checks of the public API, on a small live pool.
 *
 * Built with -DSHMPOOL_LIBFUZZER and clang's -fsanitize=fuzzer it is a libFuzzer target
 * (fuzz-args-libfuzzer [corpus-dir]); built plainly it is a program that runs a fixed set of
 * inputs (plus any files named on its command line) under ctest.
 *
 * An input is a little program: each op takes a few bytes that choose a call and its arguments.
 * Sizes, counts and chunk sizes are drawn from telling values (0, 1, small, the inline limit, the
 * arena size and one past it, 2^32, 2^40, SIZE_MAX/2 + 1, SIZE_MAX, ...); pointers are NULL, plain
 * parent memory, the start of a shmpool block, inside one, just before its end, at its end or past
 * it. The arguments are always such that a correct library can answer without undefined behaviour:
 * a parent-memory range is readable for its whole length unless that length exceeds the arena (so
 * staging it must fail before any copy); ctx is an arbitrary integer that the tasks never touch.
 *
 * Properties: nothing crashes or trips a sanitizer; every call returns 0 or a negative code
 * (alloc: a pointer, or NULL with errno set); a NULL pool is -EINVAL everywhere; a range that starts
 * inside a block but runs past its end is -EINVAL; alloc_size and free agree with what alloc
 * returned; a map that returns 0 wrote every output item (checked when in and out do not overlap),
 * and one whose items include a failing one returns that item's code; an async job's failing
 * index names an item that fails.
 *
 * The tasks: a map item writes (in[0] ^ 0x5a) over its out item and fails with -EDOM when
 * in[0] == 0xee; a for chunk fails with -EDOM when it starts at 1024 or later (so even n = SIZE_MAX
 * with chunk 1 ends quickly). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shmpool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The same, saying what the call returned. */
/* ctx here is an arbitrary integer the tasks never read. One that happens to be the address of
   the parent's private memory changed since create is taken for a stale pointer (SHMPOOL_ESTALE,
   docs/API.md "Memory model"): with AddressSanitizer's shadow mapped over terabytes, often. */
#define OK_OR_STALE(rc, want) ((rc) == (want) || (rc) == SHMPOOL_ESTALE)
#define CHECK_RC(rc, cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s (rc %d: %s)\n", __FILE__, __LINE__, #cond,  \
                    (rc), shmpool_strerror(rc));                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define ARENA ((size_t)16 << 20)         /* the pool's arena: anything larger cannot be staged */
#define PBUF_BYTES (2 * ARENA + 65536)   /* parent memory readable past any offset we pick */
#define NBLOCKS 4
#define NRESULTS 6
#define MAX_OPS 24
#define FAIL_BYTE 0xee

/* ---- the tasks (they run in the workers) --------------------------------------------------- */

/* A map item: out_size travels in ctx's high bits (ctx is otherwise an arbitrary integer). */
static int map_fn(const void *in, void *out, void *ctx) {
    size_t out_size = (size_t)((uintptr_t)ctx >> 16);
    unsigned char v = in ? *(const unsigned char *)in : 0;
    if (v == FAIL_BYTE)
        return -EDOM;
    if (out && out_size)
        memset(out, v ^ 0x5a, out_size);
    return 0;
}

static int star_fn(const void *const args[], void *out, void *ctx) {
    size_t out_size = (size_t)((uintptr_t)ctx >> 16);
    unsigned k = (unsigned)((uintptr_t)ctx & 0xff);
    unsigned char v = 0;
    for (unsigned j = 0; j < k && j < SHMPOOL_MAX_COLUMNS; j++)
        v ^= *(const unsigned char *)args[j];
    if (k && *(const unsigned char *)args[0] == FAIL_BYTE)
        return -EDOM;
    if (out && out_size)
        memset(out, v, out_size);
    return 0;
}

static int range_fn(void *ctx, size_t begin, size_t end) {
    (void)ctx;
    (void)end;
    return begin >= 1024 ? -EDOM : 0;
}

/* ---- the state kept across inputs ----------------------------------------------------------- */

static shmpool *pool;
static bool pool_open;
static unsigned char *pbuf; /* parent memory */
static unsigned char *arena;  /* the pool's reserved range (where its first block lands) */
static struct block {
    unsigned char *p;
    size_t size;
} blocks[NBLOCKS];
static shmpool_result *results[NRESULTS];

static void setup(void) {
    if (!pbuf) {
        pbuf = mmap(NULL, PBUF_BYTES, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        CHECK(pbuf != MAP_FAILED);
    }
    if (!pool) {
        shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET, .queue_depth = 4,
                             .arena_bytes = ARENA, .max_segments = 16};
        CHECK(shmpool_create(&pool, &o) == 0);
        pool_open = true;
        arena = shmpool_alloc(pool, 1); /* first fit: offset 0 of the range */
        CHECK(arena != NULL && shmpool_free(pool, arena) == 0);
    }
}

static void drop_results(void) {
    for (int i = 0; i < NRESULTS; i++) {
        shmpool_result_free(results[i]);
        results[i] = NULL;
    }
}

static void drop_blocks(void) {
    drop_results(); /* no job may still use a block we free */
    for (int i = 0; i < NBLOCKS; i++) {
        if (blocks[i].p)
            CHECK(shmpool_free(pool, blocks[i].p) == 0);
        blocks[i].p = NULL;
    }
}

/* End of an input: nothing outstanding; a pool that was closed is replaced. */
static void teardown(void) {
    drop_blocks();
    if (!pool_open) {
        shmpool_destroy(pool);
        pool = NULL;
    }
}

/* ---- reading the input ---------------------------------------------------------------------- */

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

static size_t bytes_le(struct in *in, int k) {
    size_t v = 0;
    for (int i = 0; i < k; i++)
        v |= (size_t)byte(in) << (8 * i);
    return v;
}

static size_t pick_size(struct in *in) {
    switch (byte(in) % 18) {
    case 0: return 0;
    case 1: return 1;
    case 2: return byte(in);
    case 3: return bytes_le(in, 2);
    case 4: return 8;
    case 5: return 4096;
    case 6: return 128; /* INLINE_BYTES: apply arguments up to this travel in the job */
    case 7: return 129;
    case 8: return blocks[byte(in) % NBLOCKS].size;
    case 9: return ARENA;
    case 10: return ARENA + 1;
    case 11: return SIZE_MAX;
    case 12: return SIZE_MAX / 2 + 1;
    case 13: return (size_t)1 << 32;
    case 14: return (size_t)1 << 40;
    case 15: return bytes_le(in, 3);
    case 16: return SIZE_MAX - byte(in);
    default: return 3;
    }
}

/* Keeps a pointer computed from a block inside the reserved range. */
static unsigned char *wrap(unsigned char *p) { return arena + (size_t)(p - arena) % ARENA; }

/* A pointer, and whether a range starting there is plain parent memory (readable for up to
   PBUF_BYTES - 65536 bytes). */
static void *pick_ptr(struct in *in, bool *parent) {
    unsigned kind = byte(in) % 9;
    struct block *b = &blocks[byte(in) % NBLOCKS];
    *parent = false;
    if (kind >= 3 && kind <= 7 && !b->p)
        kind = 1;
    switch (kind) {
    case 0: return NULL;
    case 1: *parent = true; return pbuf;
    case 2: *parent = true; return pbuf + bytes_le(in, 2);
    case 3: return b->p;
    case 4: return wrap(b->p + (bytes_le(in, 2) % (b->size + 8192))); /* inside, or past it */
    case 5: return wrap(b->p + b->size);                              /* just past its end */
    case 6: return b->p + b->size - 8;                          /* its last 8 bytes */
    case 7: /* in the arena, past it (never outside the range: that would be parent memory) */
        return arena + ((size_t)(b->p - arena) + b->size + 4096 * (size_t)byte(in)) % ARENA;
    default: *parent = true; return pbuf + 65536 - 1;
    }
}

/* What a correct library makes of [p, p + len): 1 inside one live block, 0 parent memory that is
   readable (or too long to stage at all), -1 in the arena but not inside one of our blocks. While
   an async job is outstanding, -1 is only "maybe": the range may lie in its staging block, which
   the library rightly takes as shmpool memory (see settled()). */
static int classify(const void *p, size_t len, bool parent) {
    if (parent)
        return 0;
    for (int i = 0; i < NBLOCKS; i++) {
        const unsigned char *b = blocks[i].p;
        if (b && (const unsigned char *)p >= b && (const unsigned char *)p < b + blocks[i].size)
            return len <= blocks[i].size - (size_t)((const unsigned char *)p - b) ? 1 : -1;
    }
    return p && ((const unsigned char *)p < arena || (const unsigned char *)p >= arena + ARENA)
               ? 0 /* cannot happen: every non-parent pointer we pick lies in the range */
               : -1;
}

/* No async job holds staging blocks: every live block in the arena is one of ours. */
static bool settled(void) {
    for (int i = 0; i < NRESULTS; i++)
        if (results[i])
            return false;
    return true;
}

static bool mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

static bool overlaps(const void *a, size_t alen, const void *b, size_t blen) {
    const char *x = a, *y = b;
    return alen && blen && x < y + blen && y < x + alen;
}

/* 0, a negative errno, or one of the library's codes (SHMPOOL_EHELPER, EKILLED, EEXITED). */
static bool is_errno(int rc) { return rc <= 0 && rc > -(SHMPOOL_ERRNO_BASE + 0x300); }

static int free_result_slot(void) {
    for (int i = 0; i < NRESULTS; i++)
        if (!results[i])
            return i;
    shmpool_result_free(results[0]);
    results[0] = NULL;
    return 0;
}

/* ---- the ops -------------------------------------------------------------------------------- */

static void op_alloc(struct in *in) {
    int i = (int)(byte(in) % NBLOCKS);
    size_t bytes = pick_size(in);
    unsigned fill = byte(in);
    if (blocks[i].p) {
        drop_results();
        CHECK(shmpool_free(pool, blocks[i].p) == 0);
        CHECK(shmpool_free(pool, blocks[i].p) == -EINVAL); /* double free */
        blocks[i].p = NULL;
    }
    errno = 0;
    void *m = shmpool_alloc(pool, bytes);
    if (!m) {
        CHECK(errno == EINVAL || errno == ENOMEM || errno == ENOSPC || errno == ESHUTDOWN ||
              errno == EMFILE || errno == ENFILE);
        if (bytes == 0)
            CHECK(errno == EINVAL);
        if (bytes > ARENA)
            CHECK(errno == ENOMEM || errno == ENOSPC || errno == ESHUTDOWN);
        return;
    }
    CHECK(pool_open && bytes > 0 && bytes <= ARENA);
    CHECK(((uintptr_t)m & 63) == 0);
    size_t usable = shmpool_alloc_size(pool, m);
    CHECK(usable >= bytes);
    CHECK(((unsigned char *)m)[0] == 0 && ((unsigned char *)m)[bytes - 1] == 0); /* zero-filled */
    blocks[i].p = m;
    blocks[i].size = usable;
    memset(m, (int)fill, bytes < 65536 ? bytes : 65536);
    if (bytes > 1)
        CHECK(shmpool_free(pool, (unsigned char *)m + 1) == -EINVAL); /* not the start */
    CHECK(shmpool_alloc_size(pool, (unsigned char *)m + usable - 1) == 1);
}

static void op_poke(struct in *in) {
    struct block *b = &blocks[byte(in) % NBLOCKS];
    size_t off = bytes_le(in, 3);
    unsigned v = byte(in);
    if (b->p && b->size) {
        b->p[off % b->size] = (unsigned char)v;
        CHECK(shmpool_alloc_size(pool, b->p + off % b->size) == b->size - off % b->size);
    }
    pbuf[bytes_le(in, 2)] = (unsigned char)v; /* parent memory too */
}

/* map and map_async: the one with the most argument rules. */
static void op_map(struct in *in, bool async) {
    bool pin, pout;
    bool null_fn = byte(in) % 16 == 0;
    const unsigned char *src = pick_ptr(in, &pin);
    size_t in_size = pick_size(in);
    unsigned char *dst = pick_ptr(in, &pout);
    size_t out_size = pick_size(in);
    size_t n = pick_size(in), chunk = pick_size(in);
    if (byte(in) & 1) { /* often a consistent NULL out */
        dst = NULL;
        out_size = 0;
        pout = false;
    }
    void *ctx = (void *)(uintptr_t)((out_size & 0xffffffffffff) << 16);
    if (n > (1u << 20) && n < ((size_t)1 << 40))
        n = 1u << 20; /* keep the runs short; larger n cannot run (no range is that long) */
    size_t ib = 0, ob = 0;
    bool sizes_ok = mul_ok(n, in_size, &ib) && mul_ok(n, out_size, &ob);
    /* Parent memory must be readable for the whole range unless it is too long to stage. */
    if (pin && ib <= ARENA && sizes_ok && (const unsigned char *)src + ib > pbuf + PBUF_BYTES)
        return;
    if (pout && ob <= ARENA && sizes_ok && dst + ob > pbuf + PBUF_BYTES)
        return;

    int rc;
    shmpool_result *r = NULL;
    if (async)
        rc = shmpool_map_async(pool, null_fn ? NULL : map_fn, ctx, src, in_size, dst, out_size, n,
                               chunk, &r);
    else
        rc = shmpool_map(pool, null_fn ? NULL : map_fn, ctx, src, in_size, dst, out_size, n, chunk);
    CHECK_RC(rc, rc <= 0 && is_errno(rc));
    CHECK((rc == 0) == (r != NULL) || !async);

    /* The rules that decide before anything runs. */
    bool bad_args = null_fn || !src || in_size == 0 || (dst == NULL) != (out_size == 0);
    if (bad_args)
        CHECK_RC(rc, rc == -EINVAL);
    else if (!sizes_ok)
        CHECK_RC(rc, rc == -EOVERFLOW);
    else if (!settled())
        ; /* a range outside our blocks may lie in an async job's staging block */
    else if (n > 0 && pool_open && classify(src, ib, pin) < 0)
        CHECK_RC(rc, rc == -EINVAL); /* `in` is placed first */
    else if (n > 0 && pool_open && dst && classify(dst, ob, pout) < 0)
        CHECK_RC(rc, rc == -EINVAL || rc == -ENOMEM || rc == -ENOSPC); /* or staging `in` failed first */
    else if (!pool_open)
        CHECK_RC(rc, rc == -ESHUTDOWN || rc == -EINVAL);
    else if (n == 0)
        CHECK_RC(rc, OK_OR_STALE(rc, 0));

    if (async && rc == 0) {
        int i = free_result_slot();
        results[i] = r;
        if (byte(in) & 1) { /* wait for it and check it like the sync call */
            rc = shmpool_result_get(r, -1);
            CHECK_RC(rc, rc <= 0 && rc != -ETIMEDOUT);
            size_t idx;
            int code = shmpool_result_error(r, &idx);
            CHECK(code == rc || (rc == 0 && code == 0));
            if (rc == -EDOM)
                CHECK(idx < n && src[idx * in_size] == FAIL_BYTE);
            size_t done, total;
            shmpool_result_progress(r, &done, &total);
            CHECK(total == n && done <= n && (rc != 0 || done == n));
            CHECK(shmpool_result_ready(r) == 1);
        } else {
            return; /* left running: later ops poll, cancel or free it */
        }
    } else if (rc != 0 || n == 0) {
        return;
    }
    /* rc == 0 and items ran: every output written, and no item could fail. */
    if (rc == 0 && !overlaps(src, ib, dst, ob)) {
        for (size_t i = 0; i < n && i < 4096; i++) {
            unsigned char v = src[i * in_size];
            CHECK(v != FAIL_BYTE);
            if (dst)
                CHECK(dst[i * out_size] == (v ^ 0x5a) && dst[i * out_size + out_size - 1] == (v ^ 0x5a));
        }
    }
}

static void op_starmap(struct in *in) {
    size_t k = byte(in) % (SHMPOOL_MAX_COLUMNS + 3);
    const void *cols[SHMPOOL_MAX_COLUMNS + 2] = {0};
    size_t sizes[SHMPOOL_MAX_COLUMNS + 2] = {0};
    size_t n = pick_size(in), chunk = pick_size(in);
    if (n > (1u << 16) && n < ((size_t)1 << 40))
        n = 1u << 16; /* short runs */
    bool skip = false, overflow = false, outside = false;
    int expect = 0; /* the columns are checked in order: the first bad one decides */
    for (size_t j = 0; j < k && j < SHMPOOL_MAX_COLUMNS + 2; j++) {
        bool parent;
        cols[j] = pick_ptr(in, &parent);
        sizes[j] = byte(in) % 4 == 0 ? pick_size(in) : 1 + byte(in) % 16;
        size_t b;
        if (expect == 0 && (!cols[j] || !sizes[j]))
            expect = -EINVAL;
        if (!mul_ok(n, sizes[j], &b)) {
            overflow = true;
            if (expect == 0)
                expect = -EOVERFLOW;
        }
        else if (parent && b <= ARENA && (const unsigned char *)cols[j] + b > pbuf + PBUF_BYTES)
            skip = true;
        else if (cols[j] && n && classify(cols[j], b, parent) < 0)
            outside = true;
    }
    if (skip)
        return;
    bool pout;
    unsigned char *dst = byte(in) & 1 ? pick_ptr(in, &pout) : (pout = false, NULL);
    size_t out_size = dst ? 1 + byte(in) % 16 : 0, ob = 0;
    if (!mul_ok(n, out_size, &ob))
        overflow = true;
    if (pout && !overflow && ob <= ARENA && dst + ob > pbuf + PBUF_BYTES)
        return;
    bool null_cols = byte(in) % 32 == 0, null_sizes = byte(in) % 32 == 0;
    void *ctx = (void *)(uintptr_t)(((out_size & 0xffffffffffff) << 16) | (k & 0xff));
    int rc = shmpool_starmap(pool, star_fn, ctx, k, null_cols ? NULL : cols,
                             null_sizes ? NULL : sizes, dst, out_size, n, chunk);
    CHECK_RC(rc, rc <= 0 && is_errno(rc));
    if (k == 0 || k > SHMPOOL_MAX_COLUMNS || null_cols || null_sizes)
        CHECK_RC(rc, rc == -EINVAL);
    else if (expect)
        CHECK_RC(rc, OK_OR_STALE(rc, expect));
    else if (overflow)
        CHECK_RC(rc, rc == -EOVERFLOW);
    else if (settled() && pool_open && n && (outside || (dst && classify(dst, ob, pout) < 0)))
        CHECK_RC(rc, rc == -EINVAL || rc == -ENOMEM || rc == -ENOSPC); /* or an earlier column's staging */
    if (rc == 0 && n && dst && pool_open) {
        bool ov = false;
        for (size_t j = 0; j < k; j++)
            ov |= overlaps(cols[j], n * sizes[j], dst, ob);
        for (size_t i = 0; !ov && i < n && i < 1024; i++) {
            unsigned char v = 0;
            for (size_t j = 0; j < k; j++)
                v ^= ((const unsigned char *)cols[j])[i * sizes[j]];
            CHECK(dst[i * out_size] == v);
        }
    }
}

static void op_apply(struct in *in, bool async) {
    bool pa, po;
    const void *args = pick_ptr(in, &pa);
    size_t args_size = pick_size(in);
    void *out = pick_ptr(in, &po);
    size_t out_size = pick_size(in);
    if (byte(in) & 1)
        out = NULL, out_size = 0, po = false;
    if (byte(in) & 1)
        args = NULL, args_size = 0, pa = false;
    if (pa && args_size <= ARENA && (const unsigned char *)args + args_size > pbuf + PBUF_BYTES)
        return;
    if (po && out_size <= ARENA && (unsigned char *)out + out_size > pbuf + PBUF_BYTES)
        return;
    void *ctx = (void *)(uintptr_t)((out_size & 0xffffffffffff) << 16);
    shmpool_result *r = NULL;
    int rc = async ? shmpool_apply_async(pool, map_fn, ctx, args, args_size, out, out_size, &r)
                   : shmpool_apply(pool, map_fn, ctx, args, args_size, out, out_size);
    CHECK_RC(rc, rc <= 0 && is_errno(rc));
    if ((args == NULL) != (args_size == 0) || (out == NULL) != (out_size == 0))
        CHECK_RC(rc, rc == -EINVAL);
    else if (settled() && pool_open && ((args && classify(args, args_size, pa) < 0) ||
                           (out && classify(out, out_size, po) < 0)))
        CHECK_RC(rc, rc == -EINVAL || rc == -ENOMEM || rc == -ENOSPC); /* or the other one's staging */
    if (async && rc == 0)
        results[free_result_slot()] = r;
    if (!async && rc == 0 && out && !overlaps(args, args_size, out, out_size)) {
        unsigned char v = args ? *(const unsigned char *)args : 0;
        CHECK(v != FAIL_BYTE);
        CHECK(((unsigned char *)out)[0] == (v ^ 0x5a));
        CHECK(((unsigned char *)out)[out_size - 1] == (v ^ 0x5a));
    }
}

static void op_for(struct in *in, bool async) {
    size_t n = pick_size(in), chunk = pick_size(in);
    bool null_fn = byte(in) % 16 == 0;
    void *ctx = (void *)(uintptr_t)bytes_le(in, 8);
    shmpool_result *r = NULL;
    int rc = async ? shmpool_for_async(pool, null_fn ? NULL : range_fn, ctx, n, chunk, &r)
                   : shmpool_for(pool, null_fn ? NULL : range_fn, ctx, n, chunk);
    CHECK_RC(rc, rc <= 0 && is_errno(rc));
    if (null_fn)
        CHECK_RC(rc, rc == -EINVAL);
    else if (pool_open && n == 0)
        CHECK_RC(rc, OK_OR_STALE(rc, 0));
    else if (pool_open && !async) {
        /* The pool has 2 workers: chunk 0 means ceil(n / 8); a chunk past n is one chunk. Every
           chunk starting below 1024 succeeds, the others fail: the call fails iff the last does. */
        size_t eff = chunk == 0 ? n / 8 + (n % 8 != 0) : chunk < n ? chunk : n;
        size_t nchunks = n / eff + (n % eff != 0);
        size_t last = (nchunks - 1) * eff;
        if (nchunks > ((size_t)1 << 62)) /* a 64-bit claim counter must never wrap */
            CHECK_RC(rc, rc == -EOVERFLOW);
        else
            CHECK_RC(rc, OK_OR_STALE(rc, last >= 1024 ? -EDOM : 0));
    }
    if (async && rc == 0)
        results[free_result_slot()] = r;
}

static void op_result(struct in *in) {
    int i = (int)(byte(in) % NRESULTS);
    shmpool_result *r = results[i];
    switch (byte(in) % 6) {
    case 0: {
        int t = byte(in) % 3 == 0 ? 1 : 0;
        int rc = shmpool_result_get(r, t);
        CHECK_RC(rc, rc <= 0 && is_errno(rc));
        if (!r)
            CHECK_RC(rc, rc == -EINVAL);
        break;
    }
    case 1: {
        int rdy = shmpool_result_ready(r);
        CHECK(r ? (rdy == 0 || rdy == 1) : rdy == -EINVAL);
        break;
    }
    case 2: {
        size_t done = 7, total = 7, idx = 7;
        shmpool_result_progress(r, byte(in) & 1 ? &done : NULL, byte(in) & 1 ? &total : NULL);
        CHECK(done <= total || total == 7 || done == 7);
        int code = shmpool_result_error(r, byte(in) & 1 ? &idx : NULL);
        CHECK(code <= 0 && is_errno(code));
        break;
    }
    case 3: {
        int rc = shmpool_result_cancel(r);
        CHECK(r ? rc == 0 : rc == -EINVAL);
        if (r) {
            CHECK(shmpool_result_ready(r) == 1);
            rc = shmpool_result_get(r, 0);
            CHECK_RC(rc, rc <= 0 && rc != -ETIMEDOUT);
        }
        break;
    }
    default:
        shmpool_result_free(r);
        results[i] = NULL;
        break;
    }
}

static void op_free(struct in *in) {
    drop_results(); /* a pointer we did not allocate may be a job's staging block: see below */
    bool parent;
    void *p = pick_ptr(in, &parent);
    int owned = -1;
    for (int i = 0; i < NBLOCKS; i++)
        if (blocks[i].p && blocks[i].p == p)
            owned = i;
    int rc = shmpool_free(pool, p);
    if (!p)
        CHECK_RC(rc, rc == 0);
    else if (owned >= 0) {
        CHECK_RC(rc, rc == 0);
        blocks[owned].p = NULL;
    } else
        CHECK_RC(rc, rc == -EINVAL);
    size_t us = shmpool_alloc_size(pool, p);
    CHECK(classify(p, 1, parent) == 1 ? us > 0 : us == 0);
}

static void op_null_pool(struct in *in) {
    bool parent;
    const void *p = pick_ptr(in, &parent);
    size_t n = pick_size(in);
    shmpool_result *r = (shmpool_result *)(uintptr_t)1;
    CHECK(shmpool_map(NULL, map_fn, NULL, p, 8, NULL, 0, n, 0) == -EINVAL);
    CHECK(shmpool_map_async(NULL, map_fn, NULL, p, 8, NULL, 0, n, 0, &r) == -EINVAL && r == NULL);
    CHECK(shmpool_map_async(pool, map_fn, NULL, p, 8, NULL, 0, n, 0, NULL) == -EINVAL);
    CHECK(shmpool_apply(NULL, map_fn, NULL, NULL, 0, NULL, 0) == -EINVAL);
    CHECK(shmpool_for(NULL, range_fn, NULL, n, 0) == -EINVAL);
    CHECK(shmpool_starmap(NULL, star_fn, NULL, 1, &p, &n, NULL, 0, n, 0) == -EINVAL);
    errno = 0;
    CHECK(shmpool_alloc(NULL, n) == NULL && errno == EINVAL);
    CHECK(shmpool_free(NULL, (void *)p) == -EINVAL);
    CHECK(shmpool_alloc_size(NULL, p) == 0);
    CHECK(shmpool_close(NULL) == -EINVAL && shmpool_join(NULL) == -EINVAL &&
          shmpool_terminate(NULL) == -EINVAL);
    shmpool_destroy(NULL);
    CHECK(shmpool_workers(NULL) == 0);
    CHECK(shmpool_create(NULL, NULL) == -EINVAL);
}

static void op_misc(struct in *in) {
    int code = (int)(uint32_t)bytes_le(in, 4);
    CHECK(shmpool_strerror(code) != NULL);
    int sig = shmpool_error_signal(code);
    CHECK(sig >= 0 && sig < 256);
    int st = shmpool_error_exit_status(code);
    CHECK(st >= -1 && st < 256);
    int kind = (int)(int8_t)byte(in);
    int c = shmpool_cpu_count(kind);
    CHECK(kind >= 0 && kind <= 2 ? c > 0 : c == -EINVAL);
    shmpool_dtype dt = (shmpool_dtype)(int8_t)byte(in);
    CHECK((shmpool_dtype_size(dt) == 0) == (shmpool_dtype_descr(dt) == NULL));
    char buf[256];
    size_t len = byte(in) % 2 ? sizeof buf : byte(in) % sizeof buf;
    size_t done = pick_size(in), total = pick_size(in);
    int width = (int)(int16_t)bytes_le(in, 2);
    double el = (double)bytes_le(in, 2) / 7.0;
    bool buf_given = byte(in) % 8 != 0;
    int w = shmpool_progress_format(buf_given ? buf : NULL, len, byte(in) & 1 ? "lbl" : NULL,
                                    done, total, el, width);
    CHECK(w >= -4095);
    if (w >= 0 && len && buf_given)
        CHECK(strlen(buf) < len);
    /* options the create call must refuse */
    shmpool_options o = {.workers = 1, .flags = 0x80u << (byte(in) % 8)};
    shmpool *p2 = (shmpool *)(uintptr_t)1;
    CHECK(shmpool_create(&p2, &o) == -EINVAL && p2 == NULL);
    shmpool_options o2 = {.workers = 1};
    o2.reserved_[byte(in) % (sizeof o2.reserved_ / sizeof o2.reserved_[0])] = 1 + byte(in);
    CHECK(shmpool_create(&p2, &o2) == -EINVAL && p2 == NULL);
}

static void op_lifecycle(struct in *in) {
    switch (byte(in) % 4) {
    case 0:
        CHECK(shmpool_join(pool) == (pool_open ? -EINVAL : 0) || !pool_open);
        break;
    case 1:
        drop_results();
        CHECK(shmpool_close(pool) == 0);
        pool_open = false;
        break;
    case 2:
        drop_results();
        CHECK(shmpool_terminate(pool) == 0);
        pool_open = false;
        break;
    default:
        CHECK(shmpool_workers(pool) == 2);
        break;
    }
    if (!pool_open) {
        errno = 0;
        CHECK(shmpool_alloc(pool, 64) == NULL && errno == ESHUTDOWN);
        CHECK(shmpool_for(pool, range_fn, NULL, 10, 1) == -ESHUTDOWN);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    struct in in = {data, size};
    for (int ops = 0; in.n && ops < MAX_OPS; ops++) {
        switch (byte(&in) % 14) {
        case 0: op_alloc(&in); break;
        case 1: op_poke(&in); break;
        case 2: op_map(&in, false); break;
        case 3: op_map(&in, true); break;
        case 4: op_starmap(&in); break;
        case 5: op_apply(&in, false); break;
        case 6: op_apply(&in, true); break;
        case 7: op_for(&in, false); break;
        case 8: op_for(&in, true); break;
        case 9: op_result(&in); break;
        case 10: op_free(&in); break;
        case 11: op_null_pool(&in); break;
        case 12: op_misc(&in); break;
        default: op_lifecycle(&in); break;
        }
    }
    teardown();
    return 0;
}

#ifndef SHMPOOL_LIBFUZZER
/* Fixed inputs: each line a small program (see the ops above). They cover every op and the
   telling sizes; a deterministic pseudo-random stream adds a few hundred more. */
#define SEED(s) {s, sizeof(s) - 1}
static const struct {
    const char *bytes;
    size_t len;
} seeds[] = {
    /* alloc block 0 of 4096 bytes filled with 1; map it onto parent memory, chunk auto */
    SEED("\x00\x00\x05\x01" "\x02\x01\x03\x00\x04\x01\x01\x00\x04\x05\x00\x00\x00"),
    /* map over a block, in place, out in another block */
    SEED("\x00\x00\x05\x07\x00\x01\x05\x09" "\x02\x01\x03\x00\x04\x01\x04\x01\x04\x05\x01\x00\x01"),
    /* a range past the end of a block: -EINVAL */
    SEED("\x00\x00\x05\x07" "\x02\x01\x06\x00\x04\x01\x00\x00\x04\x05\x01"),
    /* n x size overflows: -EOVERFLOW */
    SEED("\x02\x01\x01\x00\x04\x01\x00\x00\x04\x0b\x00\x01"),
    /* a failing item (0xee) */
    SEED("\x00\x00\x05\xee" "\x03\x01\x03\x00\x04\x01\x00\x00\x02\x20\x02\x08\x00\x01"),
    /* for over SIZE_MAX items, chunk 1 and chunk auto */
    SEED("\x07\x0b\x00\x01"), /* found a division by zero (chunk 0, n = SIZE_MAX) */
    SEED("\x07\x0b\x01\x01"), /* found a job that never ends (chunk 1, n = SIZE_MAX) */
    SEED("\x08\x10\x07\x00\x01" "\x09\x00\x00" "\x09\x00\x03"),
    /* apply: inline, staged, NULL args, out in a block */
    SEED("\x05\x01\x00\x04\x01\x00\x04\x00\x00"),
    SEED("\x00\x01\x05\x33" "\x05\x03\x01\x07\x03\x01\x06\x00\x00"),
    SEED("\x06\x01\x00\x0a\x01\x00\x09\x00\x00" "\x09\x00\x00" "\x09\x00\x04"),
    /* starmap with 3 columns, 0 columns, 17 columns */
    SEED("\x04\x03\x02\x10\x00\x01\x00\x01\x04\x01\x00\x01\x02\x01\x00\x01\x00\x01\x01\x01\x00\x04"
         "\x00\x00"),
    SEED("\x04\x00\x02\x10\x00"),
    SEED("\x04\x11\x02\x10\x00"),
    /* frees: NULL, parent memory, a block twice, inside a block */
    SEED("\x0a\x00\x00" "\x0a\x01\x00" "\x00\x02\x05\x00" "\x0a\x03\x02" "\x0a\x03\x02"),
    SEED("\x00\x02\x05\x00" "\x0a\x04\x02\x10\x00" "\x0a\x07\x02\x01"),
    /* NULL pool everywhere; misc */
    SEED("\x0b\x01\x00\x02\x40"),
    SEED("\x0c\x01\x10\x00\xc0\x05\x07\x01\x20\x11\x0b\x09\x00\x01\x10\x00\x01\x03\x02\x03\x04"),
    /* lifecycle: join on an open pool, close, terminate */
    SEED("\x0d\x00" "\x0d\x03" "\x0d\x01" "\x02\x01\x00\x00\x04\x01\x00\x00\x04\x05\x00\x00"),
    SEED("\x03\x01\x00\x00\x04\x01\x00\x00\x04\x0f\xff\xff\x0f\x00\x00\x00" "\x0d\x02"),
    /* alloc: 0 bytes, the arena, past the arena, SIZE_MAX */
    SEED("\x00\x00\x00\x00" "\x00\x01\x09\x00" "\x00\x02\x0a\x00" "\x00\x03\x0b\x00"),
    SEED(""),
};

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int main(int argc, char **argv) {
    int bad = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            bad |= run_file(argv[i]);
    } else {
        unsigned long runs = 0;
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++, runs++)
            LLVMFuzzerTestOneInput((const uint8_t *)seeds[i].bytes, seeds[i].len);
        uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift: the same stream every run */
        for (int i = 0; i < 300; i++, runs++) {
            uint8_t buf[96];
            for (size_t j = 0; j < sizeof buf; j++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[j] = (uint8_t)x;
            }
            LLVMFuzzerTestOneInput(buf, 16 + (size_t)(x % 80));
        }
        printf("fuzz-args: %lu inputs, every property held\n", runs);
    }
    if (pool) {
        drop_blocks();
        shmpool_destroy(pool);
        pool = NULL;
    }
    return bad;
}
#endif
