/* Move a byte range between a file and memory, straight into (or out of) the caller's buffer:
 * io_uring with several large requests in flight where the kernel allows it (reads into the
 * destination registered with the ring, see uring_io.c), pread/pwrite otherwise, with the same
 * results either way.
 *
 * io_uring is used unless the caller says not to or io_uring_queue_init fails (EPERM under
 * Docker's default seccomp profile or kernel.io_uring_disabled, ENOSYS on old kernels, ENOMEM
 * from a small RLIMIT_MEMLOCK before 5.12) or the kernel lacks IORING_OP_READ/WRITE (before 5.6):
 * then the fallback runs, silently.
 *
 * Both engines resubmit the rest of a short transfer, retry EINTR and EAGAIN, and report end of
 * file before the range is complete as -EPROTO (the file is shorter than the caller was told).
 */
#ifndef SHMPOOL_URING_IO_H
#define SHMPOOL_URING_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An offset meaning "the file's current position, sequentially": for pipes, FIFOs, sockets and
   character devices, which have no offsets. One request at a time, so the order is kept. */
#define SHMPOOL__IO_STREAM UINT64_MAX

#define SHMPOOL__IO_REQ_BYTES (4u << 20) /* default bytes per request */
#define SHMPOOL__IO_DEPTH 8u             /* default requests in flight */
/* The smallest prefix of a destination registered when RLIMIT_MEMLOCK refuses all of it: below
   that, a few plain requests cost less than the attempts to pin. */
#define SHMPOOL__IO_FIXED_MIN ((size_t)256 << 10)

struct shmpool__io {
    bool use_uring;   /* try io_uring first */
    size_t req_bytes; /* bytes per request; 0: SHMPOOL__IO_REQ_BYTES (tests make it small) */
    unsigned depth;   /* requests in flight; 0: SHMPOOL__IO_DEPTH */
    bool no_fixed;    /* reads: do not register the destination (tests run both ways) */
    size_t fixed_bytes; /* largest registered buffer; 0: 1 GiB, the kernel's limit (tests: small) */
    bool used_uring;  /* out: io_uring did (or tried, and failed with) the transfer */
    bool used_fixed;  /* out: ... reading into the destination registered, all of it or the
                         prefix RLIMIT_MEMLOCK allows (see uring_io.c) */
};

/* Read exactly len bytes of fd at off (or SHMPOOL__IO_STREAM) into dst / write len bytes of src.
   `io` may be NULL: io_uring with the defaults.
   @return 0; -EPROTO (end of file before len bytes); -EIO (a write that makes no progress); or
   the -errno of the read/write (-EISDIR, -EBADF, -ESPIPE for an offset on a pipe, ...). */
int shmpool__io_read(struct shmpool__io *io, int fd, void *dst, size_t len, uint64_t off);
int shmpool__io_write(struct shmpool__io *io, int fd, const void *src, size_t len, uint64_t off);

/* Whether io_uring can be used here (a ring can be created and supports read and write); the
   answer is looked up once and kept. For tests and messages. */
bool shmpool__io_uring_available(void);
/* Transfers this process has made through io_uring so far: lets tests prove which engine ran. */
unsigned long shmpool__io_uring_transfers(void);

#endif
