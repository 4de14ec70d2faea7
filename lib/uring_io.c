#include "uring_io.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

/* One read(2)/write(2) moves at most 0x7ffff000 bytes on Linux; stay well under it. */
#define RW_MAX ((size_t)1 << 30)

/* ---------------------------------------------------------------------------------------------
 * The fallback: pread/pwrite (read/write for streams) until the range is done.
 */
static void wait_ready(int fd, bool writing) {
    /* Only a non-blocking fd says EAGAIN; wait for it rather than spin. */
    struct pollfd p = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
    (void)poll(&p, 1, 100);
}

static int plain_transfer(int fd, unsigned char *buf, size_t len, uint64_t off, bool writing,
                          bool stream) {
    while (len > 0) {
        size_t n = len < RW_MAX ? len : RW_MAX;
        ssize_t r;
        if (stream)
            r = writing ? write(fd, buf, n) : read(fd, buf, n);
        else
            r = writing ? pwrite(fd, buf, n, (off_t)off) : pread(fd, buf, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                wait_ready(fd, writing);
                continue;
            }
            return -errno;
        }
        if (r == 0)
            return writing ? -EIO : -EPROTO;
        buf += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * io_uring: up to `depth` requests of `req_bytes` in flight over the range. A request that comes
 * back short is resubmitted for its rest; a slot whose request is done takes the next piece of
 * the range. On error nothing new is submitted, but every request in flight is waited for before
 * returning, so the kernel never writes into the buffer after we gave it back.
 */
struct slot {
    unsigned char *buf;
    size_t len;
    uint64_t off;
    int fixed; /* index of the registered buffer it lies in, -1: none */
};

#define DEPTH_MAX 64u

/* Supports the opcodes we need: 1 yes, -1 no, 0 not yet known. Kept process-wide. */
static _Atomic int uring_ok;
static _Atomic unsigned long uring_transfers;

static int ring_setup(struct io_uring *ring, unsigned depth, bool stream) {
    int rc = io_uring_queue_init(depth, ring, 0);
    if (rc < 0) {
        /* Forbidden or absent for good; ENOMEM, EMFILE and the like may pass, so ask again then */
        if (rc == -EPERM || rc == -ENOSYS || rc == -EACCES)
            atomic_store(&uring_ok, -1);
        return rc;
    }
    int ok = atomic_load(&uring_ok);
    if (ok == 0) {
        /* IORING_OP_READ/WRITE and the probe itself arrived in 5.6 */
        struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
        ok = probe && io_uring_opcode_supported(probe, IORING_OP_READ) &&
                     io_uring_opcode_supported(probe, IORING_OP_WRITE)
                 ? 1
                 : -1;
        if (probe)
            io_uring_free_probe(probe);
        atomic_store(&uring_ok, ok);
    }
    /* Streams use offset -1, "the current position", which needs IORING_FEAT_RW_CUR_POS. */
    if (ok < 0 || (stream && !(ring->features & IORING_FEAT_RW_CUR_POS))) {
        io_uring_queue_exit(ring);
        return -ENOTSUP;
    }
    return 0;
}

static void prep(struct io_uring_sqe *sqe, int fd, struct slot *s, unsigned idx, bool writing,
                 bool stream) {
    uint64_t off = stream ? (uint64_t)-1 : s->off;
    if (writing)
        io_uring_prep_write(sqe, fd, s->buf, (unsigned)s->len, off);
    else if (s->fixed >= 0)
        io_uring_prep_read_fixed(sqe, fd, s->buf, (unsigned)s->len, off, s->fixed);
    else
        io_uring_prep_read(sqe, fd, s->buf, (unsigned)s->len, off);
    io_uring_sqe_set_data64(sqe, idx);
}

/* Reads go into registered ("fixed") buffers where the kernel lets us pin the destination: it then
   copies into the pages through its own mapping of them instead of through our addresses. On the
   VMs we measured, the kernel's first access to each freshly mapped page of ours cost ~10 us (as a
   page fault does), which held a 320 MB load from a warm page cache to ~0.4 GB/s, with read() as
   with io_uring, in one thread or several; registered, the same load ran ~4x faster. Pinning
   counts against RLIMIT_MEMLOCK without CAP_IPC_LOCK: when it is refused, a prefix that fits is
   registered (register_fitting), and plain reads do the rest. */
#define FIXED_MAX ((size_t)1 << 30) /* the kernel's limit for one registered buffer */

static int register_dst(struct io_uring *ring, unsigned char *buf, size_t len, size_t max) {
    size_t n = (len - 1) / max + 1;
    if (n > 1024) /* the kernel takes up to 16K; past a TiB (or tiny test buffers), do without */
        return -E2BIG;
    struct iovec *v = malloc(n * sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = (struct iovec){buf + i * max, i + 1 < n ? max : len - i * max};
    int rc = io_uring_register_buffers(ring, v, (unsigned)n);
    free(v);
    return rc;
}

/* Registers the destination and says how many of its first bytes are registered: all of them, or,
   where RLIMIT_MEMLOCK refuses that (-ENOMEM: an unprivileged user's 8 MiB default), the longest
   prefix halving finds that fits, down to SHMPOOL__IO_FIXED_MIN; the rest is read plainly. A large
   load then still goes the fast way for what the limit allows. 0: nothing registered. */
static size_t register_fitting(struct io_uring *ring, unsigned char *buf, size_t len, size_t max) {
    int rc = register_dst(ring, buf, len, max);
    if (rc == 0)
        return len;
    struct rlimit l;
    size_t part = len / 2;
    if (getrlimit(RLIMIT_MEMLOCK, &l) == 0 && l.rlim_cur < part)
        part = (size_t)l.rlim_cur;
    for (; rc == -ENOMEM && part >= SHMPOOL__IO_FIXED_MIN; part /= 2)
        if ((rc = register_dst(ring, buf, part, max)) == 0)
            return part;
    return 0;
}

/* One transfer's state: the range, the slots that carry its requests, and what is in flight. */
struct xfer {
    struct io_uring *ring;
    int fd;
    unsigned char *buf;
    size_t len;
    uint64_t off;
    bool writing, stream;
    size_t req;           /* bytes per request */
    size_t fixed_len;     /* reads into the first fixed_len bytes go to the registered buffers */
    size_t fixed_max;     /* bytes per registered buffer */
    struct slot slots[DEPTH_MAX];
    unsigned free_idx[DEPTH_MAX], nfree;
    size_t next;          /* bytes of the range handed to a slot so far */
    unsigned pending;     /* prepared, not yet taken by the kernel */
    unsigned inflight;    /* taken by the kernel, completion not yet seen */
    int err;              /* the first error: nothing new is handed out or submitted */
};

/* Hand out the rest of the range to free slots, as far as the submission queue has room. */
static void hand_out_range(struct xfer *x) {
    while (!x->err && x->next < x->len && x->nfree > 0) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(x->ring);
        if (!sqe)
            break;
        unsigned i = x->free_idx[--x->nfree];
        struct slot *s = &x->slots[i];
        s->buf = x->buf + x->next;
        s->len = x->len - x->next < x->req ? x->len - x->next : x->req;
        s->off = x->off + x->next;
        s->fixed = -1;
        if (x->next < x->fixed_len) { /* a request lies inside one registered buffer */
            size_t room = x->fixed_max - x->next % x->fixed_max;
            room = room < x->fixed_len - x->next ? room : x->fixed_len - x->next;
            s->len = s->len < room ? s->len : room;
            s->fixed = (int)(x->next / x->fixed_max);
        }
        x->next += s->len;
        prep(sqe, x->fd, s, i, x->writing, x->stream);
        x->pending++;
    }
}

/* Give the prepared requests to the kernel. -EAGAIN: it is out of resources for now and nothing
   is in flight to reap first, so yield and try again; else 0 (a failure is left in x->err). */
static int submit_prepared(struct xfer *x) {
    if (x->pending == 0 || x->err)
        return 0;
    int rc = io_uring_submit(x->ring);
    if (rc > 0) {
        x->pending -= (unsigned)rc < x->pending ? (unsigned)rc : x->pending;
        x->inflight += (unsigned)rc;
    } else if (rc == -EINTR || rc == -EAGAIN || rc == -EBUSY) {
        if (x->inflight == 0) /* else: reap something first */
            return -EAGAIN;
    } else {
        /* what is still pending is never submitted; what is in flight is reaped */
        x->err = rc < 0 ? rc : -EIO;
    }
    return 0;
}

/* Slot i's request came back with res: the rest of a short transfer (or one interrupted) goes out
   again from the same slot; otherwise the slot is free, and an error is kept in x->err. */
static void complete_request(struct xfer *x, unsigned i, int res) {
    struct slot *s = &x->slots[i];
    bool again = false;
    if (res == -EINTR || res == -EAGAIN) {
        if (res == -EAGAIN)
            wait_ready(x->fd, x->writing);
        again = true;
    } else if (res < 0) {
        if (!x->err)
            x->err = res;
    } else if (res == 0) {
        if (!x->err)
            x->err = x->writing ? -EIO : -EPROTO;
    } else {
        size_t n = (size_t)res < s->len ? (size_t)res : s->len;
        s->buf += n;
        s->len -= n;
        s->off += n;
        again = s->len > 0; /* a short transfer: the rest goes out again */
    }
    if (again && !x->err) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(x->ring);
        if (sqe) {
            prep(sqe, x->fd, s, i, x->writing, x->stream);
            x->pending++;
            return;
        }
        x->err = -EIO; /* cannot happen: the ring has a place for every slot */
    }
    x->free_idx[x->nfree++] = i;
}

/* Wait for one completion and handle it. 0, also when the wait was interrupted (nothing reaped);
   < 0 if the ring cannot be waited on. */
static int reap_one(struct xfer *x) {
    struct io_uring_cqe *cqe;
    int rc = io_uring_wait_cqe(x->ring, &cqe);
    if (rc == -EINTR || rc == -EAGAIN)
        return 0;
    if (rc < 0)
        return rc;
    unsigned i = (unsigned)io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    io_uring_cqe_seen(x->ring, cqe);
    x->inflight--;
    complete_request(x, i, res);
    return 0;
}

static int uring_transfer(struct io_uring *ring, int fd, unsigned char *buf, size_t len,
                          uint64_t off, bool writing, bool stream, size_t req, unsigned depth,
                          size_t fixed_max, bool *fixed) {
    size_t fixed_len = *fixed && !writing ? register_fitting(ring, buf, len, fixed_max) : 0;
    *fixed = fixed_len > 0;
    struct xfer x = {.ring = ring, .fd = fd, .buf = buf, .len = len, .off = off,
                     .writing = writing, .stream = stream, .req = req, .fixed_len = fixed_len,
                     .fixed_max = fixed_max, .nfree = depth};
    for (unsigned i = 0; i < depth; i++)
        x.free_idx[i] = depth - 1 - i;
    for (;;) {
        hand_out_range(&x);
        if (submit_prepared(&x) == -EAGAIN) {
            sched_yield();
            continue;
        }
        if (x.inflight == 0) {
            if (x.err || x.next >= x.len)
                break;
            continue;
        }
        int rc = reap_one(&x);
        if (rc < 0) {
            /* Cannot wait: leave the ring to the kernel's teardown. Rare enough (EFAULT-class
               bugs) that we only make sure to report it. */
            return rc;
        }
    }
    if (x.fixed_len) /* nothing in flight: unpin now rather than in the ring's deferred teardown */
        io_uring_unregister_buffers(ring);
    return x.err;
}

static int transfer(struct shmpool__io *io, int fd, unsigned char *buf, size_t len, uint64_t off,
                    bool writing) {
    bool stream = off == SHMPOOL__IO_STREAM;
    if (io)
        io->used_uring = io->used_fixed = false;
    if (fd < 0 || (!buf && len))
        return -EINVAL;
    if (len == 0)
        return 0;
    if (!stream && (off > INT64_MAX || len > INT64_MAX - off))
        return -EOVERFLOW;

    size_t req = io && io->req_bytes ? io->req_bytes : SHMPOOL__IO_REQ_BYTES;
    if (req > RW_MAX)
        req = RW_MAX;
    unsigned depth = io && io->depth ? io->depth : SHMPOOL__IO_DEPTH;
    if (depth > DEPTH_MAX)
        depth = DEPTH_MAX;
    if (stream)
        depth = 1; /* no offsets: only one request at a time keeps the bytes in order */
    size_t nreq = (len - 1) / req + 1;
    if (nreq < depth)
        depth = (unsigned)nreq;

    if ((!io || io->use_uring) && atomic_load(&uring_ok) >= 0) {
        struct io_uring ring;
        if (ring_setup(&ring, depth, stream) == 0) {
            if (io)
                io->used_uring = true;
            atomic_fetch_add(&uring_transfers, 1);
            bool fixed = !io || !io->no_fixed;
            size_t fixed_max = io && io->fixed_bytes && io->fixed_bytes < FIXED_MAX
                                   ? io->fixed_bytes
                                   : FIXED_MAX;
            int rc = uring_transfer(&ring, fd, buf, len, off, writing, stream, req, depth,
                                    fixed_max, &fixed);
            if (io)
                io->used_fixed = fixed;
            io_uring_queue_exit(&ring);
            return rc;
        }
    }
    return plain_transfer(fd, buf, len, off, writing, stream);
}

int shmpool__io_read(struct shmpool__io *io, int fd, void *dst, size_t len, uint64_t off) {
    return transfer(io, fd, dst, len, off, false);
}

int shmpool__io_write(struct shmpool__io *io, int fd, const void *src, size_t len, uint64_t off) {
    /* io_uring and write(2) only read the buffer; the cast is for the shared code path */
    return transfer(io, fd, (unsigned char *)(uintptr_t)src, len, off, true);
}

bool shmpool__io_uring_available(void) {
    if (atomic_load(&uring_ok) == 0) {
        struct io_uring ring;
        if (ring_setup(&ring, 1, false) == 0)
            io_uring_queue_exit(&ring);
    }
    return atomic_load(&uring_ok) > 0;
}

unsigned long shmpool__io_uring_transfers(void) {
    return atomic_load(&uring_transfers);
}
