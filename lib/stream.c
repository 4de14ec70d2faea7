/* Streaming a file through the pool: a map, a for or a reduction over a .npy or raw file of any
 * size, in pieces of whole chunks of rows that fit a memory budget.
 *
 * B slots (2 or 3) of shmpool_alloc memory each hold one piece: a small descriptor the workers
 * read, the piece's input rows, its output rows and its per-chunk partials. Piece k lives in slot
 * k % B. The calling thread runs this loop:
 *
 *     start the reads of pieces 0 .. B-2
 *     for each piece k:
 *         finish its read (and the write of piece k-B, which used the same slot's output)
 *         check the file has not changed; submit the job for piece k (map_async / for_async)
 *         start the write of piece k-1's output and the read of piece k+B-1 (slot of piece k-1)
 *         wait for the job; fold its partials in chunk order
 *
 * so the neighbours' I/O is in flight while the workers compute piece k. The I/O engine is an
 * io_uring of its own with the slots registered once (reads go into pinned pages; see
 * uring_io.c for why that is faster here), each piece cut into requests that are all submitted
 * at once: cached data is copied during the submission, while the job runs, and the rest arrives
 * while the thread waits for the job. Without io_uring (or with SHMPOOL_FLAG_NO_IO_URING) the
 * same loop does pread/pwrite at the "start" points: the calling thread copies while the workers
 * compute, which overlaps as well. Nothing is freed while a request is in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "align.h"
#include "npy.h"
#include "pool.h"
#include "state.h"
#include "stream.h"
#include "uring_io.h"

#define MAX_BUFFERS 3u
#define DEFAULT_BUFFERS 3u
#define DEFAULT_BUDGET_MAX ((size_t)256 << 20)
/* A slot is registered with io_uring as one buffer: the kernel's limit for one is 1 GiB. */
#define SLOT_MAX ((size_t)1 << 30)
/* The size a piece aims at, the budget permitting. Small pieces keep the pipeline's unhidden ends
   (the first piece's read, the last one's compute) short, the slots' first touches few (each page
   of a fresh slot costs ~10 us in the parent and in each worker on the VMs we use), and the slots
   inside the CPU's cache, so a worker reads a piece the kernel has just copied from cache: 1 GB
   streamed through a plain sum took 0.87 s in 85 MiB slots, 0.58 s in 16 MiB ones and 0.30 s in
   4 MiB ones (the page-cache read alone: ~0.4 s). A piece's own cost (a job, a few syscalls) is
   tens of us. */
#define TARGET_PIECE_BYTES ((size_t)4 << 20)
#define REQ_BYTES ((size_t)4 << 20) /* bytes per io_uring request */
#define PAGE ((size_t)4096)
#define PARTIAL_ALIGN 16u /* partials are this far apart at least: aligned for any scalar */

enum kind { S_MAP, S_FOR, S_REDUCE };

/* One call's arguments. */
struct call {
    enum kind kind;
    const char *in_path, *out_path;
    shmpool_fn map_fn;
    shmpool_stream_fn for_fn;
    shmpool_stream_reduce_fn reduce_fn;
    shmpool_combine_fn combine;
    void *ctx, *acc;
    size_t out_size, partial_size;
    shmpool_stream_options opt;
    shmpool__stream_take_fn take;
    void *take_arg;
};

/* At the start of each slot, in shared memory: what a worker needs to run a chunk of the piece. */
struct piece {
    shmpool_stream_fn for_fn;
    shmpool_stream_reduce_fn reduce_fn;
    void *ctx;
    const unsigned char *in; /* row first_row */
    size_t first_row, row_bytes, chunk;
    unsigned char *partials;
    size_t partial_size, stride;
};

/* The input file as the header (or the raw dtype) describes it. */
struct input {
    int fd;
    struct stat st;
    struct shmpool__npy_header h;
    bool npy;
    size_t data_off, rows, row_bytes;
};

/* How the stream is cut. */
struct plan {
    size_t first, end, n;   /* rows [first, end) */
    size_t chunk, piece_rows, pieces;
    unsigned nbuf;
    size_t in_off, out_off, part_off, slot_bytes; /* a slot's layout */
};

/* ---------------------------------------------------------------------------------------------
 * The I/O engine: op 2s is slot s's read, op 2s+1 its write. Each op is cut into requests of
 * REQ_BYTES; user_data says which op and request a completion belongs to.
 */
struct req {
    unsigned char *buf;
    size_t len;
    uint64_t off;
};

struct op {
    int fd;
    bool writing, busy;
    unsigned pending; /* requests in the kernel */
    int err;          /* the first error */
    int fixed;        /* registered buffer index, -1: none */
};

struct sio {
    bool uring, registered, broken;
    struct io_uring ring;
    struct op ops[2 * MAX_BUFFERS];
    struct req *reqs; /* nreq per op */
    size_t nreq;
};

static int sio_init(struct sio *io, shmpool *p, unsigned nbuf, unsigned char *const slots[],
                    size_t slot_bytes, size_t max_len) {
    memset(io, 0, sizeof *io);
    io->nreq = (max_len + REQ_BYTES - 1) / REQ_BYTES;
    if (io->nreq == 0)
        io->nreq = 1;
    const char *env = getenv("SHMPOOL_NO_IO_URING");
    bool off = (env && env[0] && strcmp(env, "0") != 0) ||
               (shmpool__pool_flags(p) & SHMPOOL_FLAG_NO_IO_URING);
    if (off || !shmpool__io_uring_available())
        return 0;
    io->reqs = calloc(2 * MAX_BUFFERS * io->nreq, sizeof *io->reqs);
    if (!io->reqs)
        return -ENOMEM;
    size_t want = 2 * nbuf * io->nreq;
    unsigned entries = 8;
    while (entries < want && entries < 4096)
        entries *= 2;
    if (io_uring_queue_init(entries, &io->ring, 0) < 0) {
        free(io->reqs);
        io->reqs = NULL;
        return 0; /* the plain engine, silently, as uring_io.c does */
    }
    io->uring = true;
    struct iovec v[MAX_BUFFERS];
    for (unsigned s = 0; s < nbuf; s++)
        v[s] = (struct iovec){slots[s], slot_bytes};
    /* RLIMIT_MEMLOCK may refuse the pinning: plain requests then */
    io->registered = slot_bytes <= SLOT_MAX && io_uring_register_buffers(&io->ring, v, nbuf) == 0;
    return 0;
}

static void prep(struct sio *io, struct io_uring_sqe *sqe, unsigned opi, size_t ri) {
    struct op *o = &io->ops[opi];
    struct req *r = &io->reqs[opi * io->nreq + ri];
    if (o->fixed >= 0 && o->writing)
        io_uring_prep_write_fixed(sqe, o->fd, r->buf, (unsigned)r->len, r->off, o->fixed);
    else if (o->fixed >= 0)
        io_uring_prep_read_fixed(sqe, o->fd, r->buf, (unsigned)r->len, r->off, o->fixed);
    else if (o->writing)
        io_uring_prep_write(sqe, o->fd, r->buf, (unsigned)r->len, r->off);
    else
        io_uring_prep_read(sqe, o->fd, r->buf, (unsigned)r->len, r->off);
    io_uring_sqe_set_data64(sqe, (uint64_t)opi * io->nreq + ri);
}

static int reap_one(struct sio *io);

/* Hand request ri of op opi to the kernel, one submission each: if the ring fails for good, every
   request before it is known to be in flight (and is reaped), and none after it is ever sent. */
static int submit_req(struct sio *io, unsigned opi, size_t ri) {
    if (io->broken)
        return -EIO;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
    if (!sqe) { /* cannot happen: the ring has room for every request of every op */
        io->broken = true;
        return -EIO;
    }
    prep(io, sqe, opi, ri);
    for (;;) {
        int rc = io_uring_submit(&io->ring);
        if (rc > 0) {
            io->ops[opi].pending++;
            return 0;
        }
        if (rc == 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY) {
            /* out of resources for now: let something complete first */
            bool any = false;
            for (unsigned i = 0; i < 2 * MAX_BUFFERS; i++)
                any |= io->ops[i].pending > 0;
            if (!any || reap_one(io) < 0)
                sched_yield();
            continue;
        }
        io->broken = true; /* this sqe stays in the ring, never submitted */
        return rc;
    }
}

/* Wait for one completion and handle it: the rest of a short transfer goes out again. */
static int reap_one(struct sio *io) {
    struct io_uring_cqe *cqe;
    int rc = io_uring_wait_cqe(&io->ring, &cqe);
    if (rc == -EINTR || rc == -EAGAIN)
        return 0;
    if (rc < 0)
        return rc;
    uint64_t d = io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    io_uring_cqe_seen(&io->ring, cqe);
    unsigned opi = (unsigned)(d / io->nreq);
    size_t ri = (size_t)(d % io->nreq);
    struct op *o = &io->ops[opi];
    struct req *r = &io->reqs[d];
    o->pending--;
    bool again = false;
    if (res == -EINTR || res == -EAGAIN) {
        again = true;
    } else if (res < 0) {
        o->err = o->err ? o->err : res;
    } else if (res == 0) {
        o->err = o->err ? o->err : o->writing ? -EIO : -EPROTO;
    } else {
        size_t n = (size_t)res < r->len ? (size_t)res : r->len;
        r->buf += n;
        r->len -= n;
        r->off += n;
        again = r->len > 0;
    }
    if (again && !o->err) {
        rc = submit_req(io, opi, ri);
        if (rc)
            o->err = rc;
    }
    return 0;
}

/* Start moving len bytes between buf (inside slot `slot`) and fd at off. */
static void sio_start(struct sio *io, unsigned opi, int fd, unsigned char *buf, size_t len,
                      uint64_t off, bool writing, unsigned slot) {
    struct op *o = &io->ops[opi];
    *o = (struct op){.fd = fd, .writing = writing, .busy = true,
                     .fixed = io->registered ? (int)slot : -1};
    if (!io->uring) { /* the plain engine: now, while the workers compute */
        struct shmpool__io plain = {.use_uring = false};
        o->err = writing ? shmpool__io_write(&plain, fd, buf, len, off)
                         : shmpool__io_read(&plain, fd, buf, len, off);
        return;
    }
    for (size_t ri = 0; ri * REQ_BYTES < len && !o->err; ri++) {
        struct req *r = &io->reqs[opi * io->nreq + ri];
        r->buf = buf + ri * REQ_BYTES;
        r->len = len - ri * REQ_BYTES < REQ_BYTES ? len - ri * REQ_BYTES : REQ_BYTES;
        r->off = off + ri * REQ_BYTES;
        int rc = submit_req(io, opi, ri);
        if (rc)
            o->err = rc;
    }
}

/* Wait until op opi has no request in the kernel. Its code: 0 if it was never started. */
static int sio_finish(struct sio *io, unsigned opi) {
    struct op *o = &io->ops[opi];
    if (!o->busy)
        return 0;
    while (o->pending > 0) {
        int rc = reap_one(io);
        if (rc < 0) { /* cannot wait: nothing can be trusted to have ended */
            o->err = o->err ? o->err : rc;
            return o->err; /* the ring is kept, never torn down under the kernel: see sio_exit */
        }
    }
    o->busy = false;
    return o->err;
}

/* Drain every op, then let go of the ring. false: a request may still be in the kernel (the ring
   could not be waited on): the caller must then not free the slots. */
static bool sio_exit(struct sio *io) {
    bool drained = true;
    for (unsigned i = 0; i < 2 * MAX_BUFFERS; i++) {
        (void)sio_finish(io, i);
        drained &= io->ops[i].pending == 0;
    }
    if (io->uring && drained) {
        if (io->registered)
            io_uring_unregister_buffers(&io->ring);
        io_uring_queue_exit(&io->ring);
    }
    free(io->reqs);
    return drained;
}

/* ---------------------------------------------------------------------------------------------
 * The input, the plan, the output.
 */
static int open_input(const char *path, const shmpool_stream_options *o, struct input *in) {
    memset(in, 0, sizeof *in);
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0)
        return -errno;
    int rc = 0;
    if (fstat(in->fd, &in->st) < 0)
        rc = -errno;
    else if (S_ISDIR(in->st.st_mode))
        rc = -EISDIR;
    else if (!S_ISREG(in->st.st_mode))
        rc = -ESPIPE; /* pieces are read at offsets */
    else if (o->raw_dtype) {
        size_t esize = shmpool_dtype_size(o->raw_dtype);
        if ((uint64_t)in->st.st_size > SIZE_MAX)
            rc = -EOVERFLOW;
        else if ((size_t)in->st.st_size % esize)
            rc = -EPROTO;
        in->rows = (size_t)in->st.st_size / esize;
        in->row_bytes = esize;
        in->h.dtype = o->raw_dtype;
    } else if (!(rc = shmpool__npy_read_header(in->fd, &in->st, &in->h))) {
        in->npy = true;
        in->data_off = in->h.data_offset;
        if (in->h.ndim == 0) {
            rc = -EINVAL; /* a 0-d array has no rows */
        } else {
            in->rows = in->h.shape[0];
            size_t rb = shmpool_dtype_size(in->h.dtype);
            for (unsigned i = 1; i < in->h.ndim; i++)
                rb *= in->h.shape[i]; /* no overflow: the whole array's size fits */
            in->row_bytes = rb;
            if (rb == 0)
                rc = -EINVAL; /* rows of nothing: a zero dimension past the first */
        }
    }
    if (rc) {
        close(in->fd);
        in->fd = -1;
    }
    return rc;
}

static size_t default_budget(const shmpool *p) {
    struct statvfs v;
    size_t b = DEFAULT_BUDGET_MAX;
    if (statvfs("/dev/shm", &v) == 0) {
        uint64_t avail = (uint64_t)v.f_bavail * v.f_frsize / 2;
        if (avail < b)
            b = (size_t)avail;
    }
    if (p->cb->arena_bytes / 4 < b)
        b = p->cb->arena_bytes / 4;
    return b;
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Cut [first, end) into pieces of whole chunks that fit budget / nbuf each. */
static int make_plan(shmpool *p, const struct call *c, const struct input *in, struct plan *pl) {
    const shmpool_stream_options *o = &c->opt;
    memset(pl, 0, sizeof *pl);
    pl->nbuf = o->buffers ? o->buffers : DEFAULT_BUFFERS;
    pl->end = o->end_row && o->end_row < in->rows ? o->end_row : in->rows;
    pl->first = o->first_row < pl->end ? o->first_row : pl->end;
    pl->n = pl->end - pl->first;
    size_t budget = o->budget ? o->budget : default_budget(p);
    size_t per_slot = min_sz(budget / pl->nbuf, SLOT_MAX);
    size_t ps = c->partial_size ? align_up(c->partial_size, PARTIAL_ALIGN) : 0;
    size_t row = in->row_bytes + c->out_size; /* no overflow: out_size was checked below SIZE_MAX/4 */
    /* the descriptor's page, and the rounding of the input and output to pages */
    size_t avail = per_slot > 3 * PAGE ? per_slot - 3 * PAGE : 0;
    if (pl->n == 0)
        return 0;
    /* how many rows a piece should have: TARGET_PIECE_BYTES, and with a given chunk at least two
       chunks per worker, so a piece's job keeps every worker busy to its end */
    size_t target = max_sz(TARGET_PIECE_BYTES / row, 1);
    size_t chunk = o->chunk;
    if (chunk && chunk <= SIZE_MAX / 2 / shmpool_workers(p))
        target = max_sz(target, 2 * (size_t)shmpool_workers(p) * chunk);
    if (!chunk) {
        size_t fit = avail / (row + ps); /* a partial per row: the worst case */
        if (fit == 0)
            return SHMPOOL_EBUDGET;
        fit = min_sz(fit, target);
        size_t per = 4 * (size_t)shmpool_workers(p);
        chunk = (fit + per - 1) / per;
    }
    /* bytes of one chunk in a slot (a chunk longer than the stream holds only the stream);
       chunk * row may overflow for an absurd chunk */
    size_t per_chunk;
    if (__builtin_mul_overflow(min_sz(chunk, pl->n), row, &per_chunk) ||
        __builtin_add_overflow(per_chunk, ps, &per_chunk))
        return SHMPOOL_EBUDGET;
    size_t fit_chunks = avail / per_chunk;
    if (fit_chunks == 0)
        return SHMPOOL_EBUDGET;
    size_t want_chunks = max_sz(target / chunk, 1);
    size_t all_chunks = pl->n / chunk + (pl->n % chunk != 0);
    size_t cpp = min_sz(min_sz(fit_chunks, want_chunks), all_chunks);
    pl->chunk = chunk;
    pl->piece_rows = cpp * chunk; /* <= fit_chunks * chunk: no overflow */
    pl->pieces = pl->n / pl->piece_rows + (pl->n % pl->piece_rows != 0);
    if (pl->pieces < pl->nbuf)
        pl->nbuf = pl->pieces < 2 ? 2 : (unsigned)pl->pieces; /* no slot that would stay empty */
    size_t rows = min_sz(pl->piece_rows, pl->n); /* what a slot must hold */
    pl->in_off = PAGE;
    /* + 64: a piece's first row sits at the address, mod 64, it has in a whole-file load (row 0
       page aligned), so a kernel whose vector loop peels for alignment sums in the same order */
    pl->out_off = pl->in_off + align_up(rows * in->row_bytes + 64, PAGE);
    pl->part_off = pl->out_off + align_up(rows * c->out_size, PAGE);
    pl->slot_bytes = pl->part_off + cpp * ps;
    return 0;
}

/* The output: a temporary file beside out_path, with the .npy header when the input had one. */
struct output {
    int fd;
    char *tmp, *target;
    size_t data_off;
};

static int open_output(const struct call *c, const struct input *in, const struct plan *pl,
                       struct output *out) {
    *out = (struct output){.fd = -1};
    struct stat st;
    bool exists = stat(c->out_path, &st) == 0;
    if (exists && st.st_dev == in->st.st_dev && st.st_ino == in->st.st_ino)
        return -EINVAL; /* the output would overwrite the pieces not yet read */
    if (exists && !S_ISREG(st.st_mode))
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL; /* a temp + rename cannot replace it */
    out->target = exists ? realpath(c->out_path, NULL) : strdup(c->out_path);
    if (!out->target)
        return -errno;
    int fd = shmpool__npy_create_temp(out->target, exists ? 0600 : 0666, &out->tmp);
    if (fd < 0) {
        free(out->target);
        out->target = NULL;
        return fd;
    }
    out->fd = fd;
    if (exists)
        (void)fchmod(fd, st.st_mode & 07777);
    if (!in->npy)
        return 0;
    shmpool_dtype dt = c->opt.out_dtype ? c->opt.out_dtype : in->h.dtype;
    size_t esize = shmpool_dtype_size(dt);
    size_t shape[SHMPOOL_ARRAY_MAX_DIMS] = {pl->n};
    unsigned ndim = 1;
    if (dt == in->h.dtype && c->out_size == in->row_bytes) {
        memcpy(shape, in->h.shape, sizeof shape); /* a row for a row: the input's shape */
        ndim = in->h.ndim;
        shape[0] = pl->n;
    } else if (c->out_size != esize) {
        shape[1] = c->out_size / esize;
        ndim = 2;
    }
    char header[SHMPOOL__NPY_FORMAT_MAX];
    size_t hlen;
    int rc = shmpool__npy_format(header, sizeof header, dt, ndim, shape, &hlen);
    if (!rc) {
        struct shmpool__io plain = {.use_uring = false};
        rc = shmpool__io_write(&plain, fd, header, hlen, 0);
    }
    out->data_off = hlen;
    return rc;
}

/* Rename the temporary file over the target (ok), or remove it. */
static int close_output(struct output *out, bool ok) {
    int rc = 0;
    if (out->fd >= 0 && close(out->fd) < 0 && ok)
        rc = -errno; /* a delayed write error */
    if (out->tmp) {
        if (ok && !rc && rename(out->tmp, out->target) < 0)
            rc = -errno;
        if (!ok || rc)
            (void)unlink(out->tmp);
    }
    free(out->tmp);
    free(out->target);
    *out = (struct output){.fd = -1};
    return rc;
}

/* The file is as it was when the stream began: else pieces from two versions were mixed. */
static int unchanged(const struct input *in) {
    struct stat st;
    if (fstat(in->fd, &st) < 0)
        return -errno;
    if (st.st_size != in->st.st_size || st.st_mtim.tv_sec != in->st.st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != in->st.st_mtim.tv_nsec)
        return SHMPOOL_EFILECHANGED;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Running a piece.
 */
static int run_for(void *ctx, size_t b, size_t e) {
    const struct piece *pc = ctx;
    return pc->for_fn(pc->ctx, pc->in + b * pc->row_bytes, pc->first_row + b, pc->first_row + e);
}

static int run_reduce(void *ctx, size_t b, size_t e) {
    const struct piece *pc = ctx;
    unsigned char *partial = pc->partials + b / pc->chunk * pc->stride;
    memset(partial, 0, pc->partial_size);
    return pc->reduce_fn(pc->ctx, pc->in + b * pc->row_bytes, pc->first_row + b,
                         pc->first_row + e, partial);
}

static int submit_piece(shmpool *p, const struct call *c, struct piece *pc, unsigned char *out,
                        size_t n, size_t chunk, shmpool_result **r) {
    switch (c->kind) {
    case S_MAP:
        return shmpool_map_async(p, c->map_fn, c->ctx, pc->in, pc->row_bytes, c->out_size ? out : NULL,
                                 c->out_size, n, chunk, r);
    case S_FOR:
        return shmpool_for_async(p, run_for, pc, n, chunk, r);
    case S_REDUCE:
        return shmpool_for_async(p, run_reduce, pc, n, chunk, r);
    }
    return -EINVAL;
}

static void fold(const struct call *c, const struct piece *pc, size_t first_chunk, size_t count) {
    if (c->take) {
        c->take(c->take_arg, pc->partials, pc->stride, first_chunk, count);
        return;
    }
    for (size_t i = 0; i < count; i++)
        c->combine(c->acc, pc->partials + i * pc->stride, c->ctx);
}

/* The loop at the top of this file. */
static int pipeline(shmpool *p, const struct call *c, const struct input *in,
                    const struct plan *pl, unsigned char *const slot[], struct output *out,
                    size_t *fail_index, bool *drained) {
    struct sio io;
    *drained = true;
    int rc = sio_init(&io, p, pl->nbuf, slot, pl->slot_bytes,
                      min_sz(pl->piece_rows, pl->n) * max_sz(in->row_bytes, c->out_size));
    if (rc)
        return rc;
    const unsigned B = pl->nbuf;
    const size_t K = pl->pieces, rb = in->row_bytes;
#define ROWS(k) min_sz(pl->piece_rows, pl->n - (k) * pl->piece_rows)
#define FIRST(k) (pl->first + (k) * pl->piece_rows)
#define IN_AT(k) (slot[(k) % B] + pl->in_off + FIRST(k) * rb % 64)
#define READ(k)                                                                                    \
    sio_start(&io, 2 * (unsigned)((k) % B), in->fd, IN_AT(k), ROWS(k) * rb,                        \
              in->data_off + (uint64_t)FIRST(k) * rb, false, (unsigned)((k) % B))
#define WRITE(k)                                                                                   \
    sio_start(&io, 2 * (unsigned)((k) % B) + 1, out->fd, slot[(k) % B] + pl->out_off,              \
              ROWS(k) * c->out_size,                                                               \
              out->data_off + (uint64_t)((k) * pl->piece_rows) * c->out_size, true,                \
              (unsigned)((k) % B))
    bool writes = out->fd >= 0 && c->out_size > 0;
    for (size_t k = 0; k + 1 < B && k < K; k++)
        READ(k);
    for (size_t k = 0; k < K && !rc; k++) {
        unsigned s = (unsigned)(k % B);
        rc = sio_finish(&io, 2 * s);
        if (rc == -EPROTO)
            rc = SHMPOOL_EFILECHANGED; /* its length was checked when the stream began */
        if (!rc)
            rc = unchanged(in);
        if (!rc)
            rc = sio_finish(&io, 2 * s + 1); /* piece k-B's output, in the same slot */
        if (rc)
            break;
        struct piece *pc = (struct piece *)slot[s];
        pc->first_row = FIRST(k);
        pc->in = IN_AT(k);
        shmpool_result *r = NULL;
        rc = submit_piece(p, c, pc, slot[s] + pl->out_off, ROWS(k), pl->chunk, &r);
        if (rc)
            break;
        /* while the workers compute piece k: piece k-1's output out, piece k+B-1 in */
        if (k >= 1 && writes)
            WRITE(k - 1);
        if (k + B - 1 < K)
            READ(k + B - 1);
        rc = shmpool_result_get(r, -1);
        if (rc) {
            size_t idx;
            (void)shmpool_result_error(r, &idx);
            if (idx != SIZE_MAX)
                *fail_index = FIRST(k) + idx;
        } else if (c->kind == S_REDUCE) {
            fold(c, pc, (FIRST(k) - pl->first) / pl->chunk,
                 (ROWS(k) + pl->chunk - 1) / pl->chunk);
        }
        shmpool_result_free(r);
    }
    if (!rc && writes && K > 0) {
        WRITE(K - 1);
        for (unsigned s = 0; s < B && !rc; s++)
            rc = sio_finish(&io, 2 * s + 1);
    }
#undef ROWS
#undef FIRST
#undef READ
#undef IN_AT
#undef WRITE
    if (!sio_exit(&io)) {
        *drained = false; /* a request may still land in a slot: run() must not free them */
        return rc ? rc : -EIO;
    }
    return rc;
}

static int run(shmpool *p, const struct call *c, size_t *fail_index) {
    size_t ignored;
    if (!fail_index)
        fail_index = &ignored;
    *fail_index = SIZE_MAX;
    const shmpool_stream_options *o = &c->opt;
    for (size_t i = 0; i < sizeof o->reserved_ / sizeof o->reserved_[0]; i++)
        if (o->reserved_[i])
            return -EINVAL;
    if (!p || !c->in_path || o->buffers == 1 || o->buffers > MAX_BUFFERS ||
        (o->raw_dtype && !shmpool_dtype_size(o->raw_dtype)) ||
        (o->out_dtype && !shmpool_dtype_size(o->out_dtype)) || c->out_size > SIZE_MAX / 4 ||
        c->partial_size > SIZE_MAX / 4)
        return -EINVAL;
    struct input in;
    int rc = open_input(c->in_path, o, &in);
    if (rc)
        return rc;
    struct plan pl;
    struct output out = {.fd = -1};
    unsigned char *slot[MAX_BUFFERS] = {0};
    if (c->out_path && in.npy) {
        size_t esize = shmpool_dtype_size(o->out_dtype ? o->out_dtype : in.h.dtype);
        if (c->out_size % esize)
            rc = -EINVAL;
    }
    if (!rc)
        rc = make_plan(p, c, &in, &pl);
    if (!rc && c->out_path)
        rc = open_output(c, &in, &pl, &out);
    for (unsigned s = 0; !rc && pl.n > 0 && s < pl.nbuf; s++) {
        slot[s] = shmpool_alloc(p, pl.slot_bytes);
        if (!slot[s]) {
            rc = errno > 0 ? -errno : -ENOMEM;
            break;
        }
        *(struct piece *)slot[s] = (struct piece){
            .for_fn = c->for_fn, .reduce_fn = c->reduce_fn, .ctx = c->ctx,
            .row_bytes = in.row_bytes, .chunk = pl.chunk,
            .partials = slot[s] + pl.part_off, .partial_size = c->partial_size,
            .stride = c->partial_size ? align_up(c->partial_size, PARTIAL_ALIGN) : 0};
    }
    bool leaked = false;
    if (!rc && pl.n > 0) {
        bool drained;
        rc = pipeline(p, c, &in, &pl, slot, &out, fail_index, &drained);
        leaked = !drained; /* never seen: the ring could not be waited on */
    }
    int crc = c->out_path ? close_output(&out, rc == 0) : 0;
    if (!rc)
        rc = crc;
    for (unsigned s = 0; s < MAX_BUFFERS && !leaked; s++)
        if (slot[s])
            (void)shmpool_free(p, slot[s]);
    close(in.fd);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The public calls.
 */
static shmpool_stream_options options(const shmpool_stream_options *opt) {
    return opt ? *opt : (shmpool_stream_options){0};
}

int shmpool_stream_map(shmpool *p, const char *in_path, const char *out_path, shmpool_fn fn,
                       void *ctx, size_t out_size, const shmpool_stream_options *opt,
                       size_t *fail_index) {
    if (fail_index)
        *fail_index = SIZE_MAX;
    if (!fn || (out_path == NULL) != (out_size == 0))
        return -EINVAL;
    struct call c = {.kind = S_MAP, .in_path = in_path, .out_path = out_path, .map_fn = fn,
                     .ctx = ctx, .out_size = out_size, .opt = options(opt)};
    return run(p, &c, fail_index);
}

int shmpool_stream_for(shmpool *p, const char *path, shmpool_stream_fn fn, void *ctx,
                       const shmpool_stream_options *opt, size_t *fail_index) {
    if (fail_index)
        *fail_index = SIZE_MAX;
    if (!fn)
        return -EINVAL;
    struct call c = {.kind = S_FOR, .in_path = path, .for_fn = fn, .ctx = ctx,
                     .opt = options(opt)};
    return run(p, &c, fail_index);
}

int shmpool_stream_reduce(shmpool *p, const char *path, shmpool_stream_reduce_fn fn,
                          shmpool_combine_fn combine, void *ctx, void *acc, size_t partial_size,
                          const shmpool_stream_options *opt, size_t *fail_index) {
    if (fail_index)
        *fail_index = SIZE_MAX;
    if (!fn || !combine || !acc || partial_size == 0)
        return -EINVAL;
    struct call c = {.kind = S_REDUCE, .in_path = path, .reduce_fn = fn, .combine = combine,
                     .ctx = ctx, .acc = acc, .partial_size = partial_size, .opt = options(opt)};
    return run(p, &c, fail_index);
}

int shmpool__stream_reduce_parts(shmpool *p, const char *path, shmpool_stream_reduce_fn fn,
                                 void *ctx, size_t partial_size, const shmpool_stream_options *opt,
                                 shmpool__stream_take_fn take, void *take_arg,
                                 size_t *fail_index) {
    if (fail_index)
        *fail_index = SIZE_MAX;
    if (!fn || !take || partial_size == 0)
        return -EINVAL;
    struct call c = {.kind = S_REDUCE, .in_path = path, .reduce_fn = fn, .ctx = ctx,
                     .partial_size = partial_size, .opt = options(opt), .take = take,
                     .take_arg = take_arg};
    return run(p, &c, fail_index);
}

int shmpool__stream_rows(const char *path, const shmpool_stream_options *opt, size_t *rows) {
    shmpool_stream_options o = options(opt);
    if (!path || !rows || (o.raw_dtype && !shmpool_dtype_size(o.raw_dtype)))
        return -EINVAL;
    struct input in;
    int rc = open_input(path, &o, &in);
    if (rc)
        return rc;
    *rows = in.rows;
    close(in.fd);
    return 0;
}
