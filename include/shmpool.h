/*
 * shmpool: Python's multiprocessing.Pool for C, with no data copied through pipes.
 *
 * Memory from shmpool_alloc() sits at the same address in the parent and in every worker, so
 * tasks take plain pointers. Work travels as small descriptors through a lock-free ring in shared
 * memory; big maps are one job whose chunks the workers claim with an atomic counter.
 *
 * Conventions (liburing's): every function that can fail returns 0 or a negative errno;
 * shmpool_strerror() explains any code, the library's own included. Nothing here is a macro
 * that evaluates its arguments twice, and no function keeps a pointer you passed after it
 * returns unless its documentation says so (the async calls do: see shmpool_map_async).
 */
#ifndef SHMPOOL_H
#define SHMPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SHMPOOL_BUILDING) && defined(__GNUC__)
#define SHMPOOL_EXTERN __attribute__((visibility("default")))
#else
#define SHMPOOL_EXTERN
#endif

#define SHMPOOL_VERSION_MAJOR 0
#define SHMPOOL_VERSION_MINOR 1
#define SHMPOOL_VERSION_PATCH 0
/** The library's version at run time, as (major << 16) | (minor << 8) | patch. */
SHMPOOL_EXTERN unsigned shmpool_version(void);

/* ---------------------------------------------------------------------------------------------
 * Error codes. Functions return 0 or a negative errno (-EINVAL, -ENOMEM, ...). The library's own
 * codes lie below -SHMPOOL_ERRNO_BASE, outside the kernel's errno range.
 */
#define SHMPOOL_ERRNO_BASE 4096
/* The library's own codes, one row each: name, offset above SHMPOOL_ERRNO_BASE, message. Each
   becomes SHMPOOL_<name> == -(SHMPOOL_ERRNO_BASE + offset); shmpool_strerror's messages and the
   test that every code has one come from this one table (libuv's UV_ERRNO_MAP). EPEER and
   EMISMATCH are returned by libshmpool_mpi only (shmpool_mpi.h). */
#define SHMPOOL_ERRNO_MAP(XX)                                                                      \
    XX(EHELPER, 1, "the pool's fork helper process died; the pool cannot run work any more")       \
    XX(EPEER, 2, "an MPI rank of the pool stopped answering during a collective call")             \
    XX(EMISMATCH, 3, "MPI ranks disagree on a collective call's kind, n or chunk (calls not SPMD)") \
    XX(EMAP, 4, "a worker could not map a shared-memory segment of the pool (its /dev/shm name "    \
                "was removed, or the worker ran out of file descriptors or address space); the "    \
                "task did not run: free memory or fds, and do not run `shmpool clean` while a "     \
                "pool lives")                                                                      \
    XX(ESTALE, 5, "a task's ctx is parent memory that changed after shmpool_create (or was made "   \
                  "after it: the stack, malloc): workers see the pool's snapshot, not your "        \
                  "change. Pass ctx by value (shmpool_*_ctx calls, ctx_size > 0), or put it in "    \
                  "shmpool_alloc memory, or set it before shmpool_create") \
    XX(EFILECHANGED, 13, "a file changed (its size or modification time) while it was streamed "  \
                         "through the pool: the pieces read do not belong to one version of it; "  \
                         "no output file was left")                                                \
    XX(EBUDGET, 14, "a stream's memory budget cannot hold one chunk of rows in each of its "       \
                    "buffers: raise shmpool_stream_options.budget, lower .chunk, or free /dev/shm") \
    XX(EBROKEN, 6, "the barrier is broken: a party timed out or died while waiting, or the "      \
                   "barrier was aborted or reset (Python's BrokenBarrierError)") \
    XX(ETASKEXC, 16, "a task threw a C++ exception; its what() is in shmpool_result_message / "     \
                     "shmpool_last_message")

#define SHMPOOL_ERRNO_ENUM_(name, offset, msg) SHMPOOL_##name = -(SHMPOOL_ERRNO_BASE + (offset)),
enum shmpool_errno { SHMPOOL_ERRNO_MAP(SHMPOOL_ERRNO_ENUM_) SHMPOOL_ERRNO_END_ = 0 };
#undef SHMPOOL_ERRNO_ENUM_

/** A worker died while it ran an item: it was killed by signal `sig`. */
#define SHMPOOL_EKILLED(sig) (-(SHMPOOL_ERRNO_BASE + 0x100 + ((sig) & 0xff)))
/** A worker called exit()/_exit() with `status` while it ran an item. */
#define SHMPOOL_EEXITED(status) (-(SHMPOOL_ERRNO_BASE + 0x200 + ((status) & 0xff)))
/** The signal that killed the worker if `code` is a SHMPOOL_EKILLED code, else 0. */
SHMPOOL_EXTERN int shmpool_error_signal(int code);
/** The exit status of the worker if `code` is a SHMPOOL_EEXITED code, else -1. */
SHMPOOL_EXTERN int shmpool_error_exit_status(int code);
/** A message for any code this library returns (negative errno or library code); never NULL. */
SHMPOOL_EXTERN const char *shmpool_strerror(int code);

/* ---------------------------------------------------------------------------------------------
 * The pool.
 */
typedef struct shmpool shmpool;               /* opaque */
typedef struct shmpool_result shmpool_result; /* like Python's AsyncResult; opaque */

/** One item: read `*in`, write `*out`. Return 0, or a negative errno that fails the job. */
typedef int (*shmpool_fn)(const void *in, void *out, void *ctx);
/** One item of k columns: args[j] points at the item's element of column j. */
typedef int (*shmpool_star_fn)(const void *const args[], void *out, void *ctx);
/** One chunk of indices [begin, end). */
typedef int (*shmpool_range_fn)(void *ctx, size_t begin, size_t end);

/** Flags for shmpool_options.flags. Unknown bits are -EINVAL. */
#define SHMPOOL_FLAG_NO_SPIN 0x1u     /* idle workers and waiting callers sleep at once */
#define SHMPOOL_FLAG_NO_IO_URING 0x2u /* array I/O uses pread/pwrite, never io_uring */
#define SHMPOOL_FLAG_QUIET 0x4u       /* no warnings on stderr (e.g. affinity smaller than workers) */
#define SHMPOOL_FLAG_CALLER_RUNS 0x8u /* a thread waiting in a synchronous map/for/reduce runs chunks
                                         of its job itself (OpenMP's master): see "Short loops" */
#define SHMPOOL_FLAG_NO_CTX_CHECK 0x10u /* do not compare a parent-memory ctx with the workers' view
                                           (SHMPOOL_ESTALE); see "Memory model" in docs/API.md */

typedef struct shmpool_options {   /* zero-initialise; zero means the default for every field */
    unsigned workers;              /* 0: shmpool_cpu_count(SHMPOOL_CPU_USABLE) */
    int (*initializer)(void *arg); /* run once in each worker as it starts (Python's initializer) */
    void *initializer_arg;         /* valid in workers as it was when the pool was created */
    unsigned max_tasks_per_worker; /* 0: no limit; else the worker is replaced after that many
                                      tasks, a task being one chunk or one apply (maxtasksperchild) */
    uint32_t flags;                /* SHMPOOL_FLAG_* */
    unsigned queue_depth;          /* jobs in flight and ring slots; 0: 256; rounded up to a power of
                                      two; a full ring makes submitters wait, it never fails */
    size_t arena_bytes;            /* virtual range reserved for shmpool_alloc; 0: twice the RAM */
    unsigned max_segments;         /* live shmpool_alloc blocks at once; 0: 4096 */
    unsigned spin_us;              /* how long idle workers and waiting callers spin before they
                                      sleep; 0: 50 us (see SHMPOOL_FLAG_NO_SPIN) */
    unsigned task_retries;         /* a chunk whose worker died is run again up to this many times */
    unsigned task_timeout_ms;      /* 0: none; else a chunk or apply running longer is killed and
                                      fails with -ETIME */
    unsigned worker_threads;       /* OpenMP/BLAS threads inside each worker; 0: 1 (as joblib's
                                      workers). More needs the pool made before the program's
                                      first OpenMP parallel region (a forked libgomp hangs) */
    unsigned reserved_u_;          /* must be zero */
    uint64_t reserved_[5];         /* must be zero: room to grow without changing the size */
} shmpool_options;

/**
 * Start a pool: reserve the shared range, fork the helper and the workers, run the initializer in
 * each. Returns once every worker is ready.
 * @param pool  receives the pool
 * @param opt   NULL for the defaults
 * @return 0; -EINVAL (NULL pool, unknown flags, nonzero reserved_, workers > 1024, queue_depth
 *         or max_segments > 2^20); -ENOMEM; -EAGAIN (fork failed); SHMPOOL_EHELPER; the first
 *         nonzero code an initializer returned, or SHMPOOL_EKILLED/EEXITED if one crashed.
 */
SHMPOOL_EXTERN int shmpool_create(shmpool **pool, const shmpool_options *opt);
/** Terminate (unless joined), wait for every process, free every result and segment. NULL is ok.
 *  After it returns, no process, thread, fd, mapping or /dev/shm entry of the pool remains. */
SHMPOOL_EXTERN void shmpool_destroy(shmpool *pool);
/** Accept no more work; what was submitted still runs. @return 0, -EINVAL (NULL) */
SHMPOOL_EXTERN int shmpool_close(shmpool *pool);
/** Wait for submitted work and then for the workers to exit. Only after close or terminate.
 *  @return 0, -EINVAL (NULL, or the pool is neither closed nor terminated), SHMPOOL_EHELPER */
SHMPOOL_EXTERN int shmpool_join(shmpool *pool);
/** Stop now: work not finished is cancelled (its get() returns -ECANCELED), workers are killed.
 *  @return 0, -EINVAL (NULL) */
SHMPOOL_EXTERN int shmpool_terminate(shmpool *pool);
/** Number of worker processes. */
SHMPOOL_EXTERN unsigned shmpool_workers(const shmpool *pool);

/**
 * Shared memory at the same address in the parent and every worker, 64-byte aligned (in fact
 * page aligned), zero-filled, backed by its own /dev/shm segment whose name is removed as soon as
 * every worker has mapped it.
 * @return the memory, or NULL with errno: EINVAL (NULL pool, 0 bytes), ENOSPC (/dev/shm cannot hold
 *         it; nothing is left half-made, no SIGBUS later), ENOMEM (arena range or segment table
 *         full), ESHUTDOWN (pool closed or terminated).
 */
SHMPOOL_EXTERN void *shmpool_alloc(shmpool *pool, size_t bytes);
/** Give back memory from shmpool_alloc. @return 0, -EINVAL (NULL pool, or p is not the start of
 *  a live block: a double free or a foreign pointer). NULL p is 0, like free(). */
SHMPOOL_EXTERN int shmpool_free(shmpool *pool, void *p);
/** Bytes usable at p if p lies inside a live shmpool_alloc block of this pool, else 0. */
SHMPOOL_EXTERN size_t shmpool_alloc_size(const shmpool *pool, const void *p);

/*
 * Map: out[i] = fn(in[i]) for i < n, as if by
 *
 *     for (size_t i = 0; i < n; i++)
 *         if ((rc = fn((char *)in + i * in_size, (char *)out + i * out_size, ctx))) break;
 *
 * but chunk by chunk on the workers. `chunk` items are one task; chunk 0 picks
 * ceil(n / (4 * workers)) (Python's rule); a chunk larger than n is one chunk; n == 0 returns 0 at
 * once. `in`/`out` that lie inside shmpool_alloc memory are used in place (zero-copy); other
 * memory is staged through shared memory (copied in, and back out when done). `out` may be NULL
 * with out_size 0. `ctx` is passed as is: it must be valid in the workers (shmpool_alloc memory,
 * or memory that existed before shmpool_create).
 *
 * A failing item (nonzero return, or its worker died) stops the job from handing out further
 * chunks; the call returns once no worker runs any chunk of it, with the code of the lowest
 * failing index. Items that ran keep their results.
 *
 * @return 0; the failing item's code; -EINVAL (NULL pool/fn/in, in_size 0, out NULL with
 *         out_size != 0 or the reverse, a range that starts inside shmpool memory but runs past its
 *         block); -EOVERFLOW (n * size overflows, or more than 2^62 chunks); -ESHUTDOWN (closed
 *         or terminated); -ENOSPC
 *         (staging does not fit in /dev/shm); -ENOMEM; -ECANCELED (terminated meanwhile);
 *         SHMPOOL_EHELPER (the pool lost its helper process).
 */
SHMPOOL_EXTERN int shmpool_map(shmpool *p, shmpool_fn fn, void *ctx, const void *in, size_t in_size,
                               void *out, size_t out_size, size_t n, size_t chunk);
/** As shmpool_map, returning at once with *r. `in` and `out` must stay valid until get has
 *  returned 0 or the result was freed (parent-memory `in` is in fact copied at submission;
 *  parent-memory `out` is written when the result is collected: by get, cancel or free — so
 *  shmpool_result_ready() == 1 does not yet mean such an `out` is filled). On error nothing was
 *  started and *r is NULL. */
SHMPOOL_EXTERN int shmpool_map_async(shmpool *p, shmpool_fn fn, void *ctx, const void *in,
                                     size_t in_size, void *out, size_t out_size, size_t n,
                                     size_t chunk, shmpool_result **r);
/** Zip of k columns, structure-of-arrays: fn receives args[j] = cols[j] + i * sizes[j] for
 *  j < k, and out + i * out_size. No tuples are built. 1 <= k <= SHMPOOL_MAX_COLUMNS. */
#define SHMPOOL_MAX_COLUMNS 16
SHMPOOL_EXTERN int shmpool_starmap(shmpool *p, shmpool_star_fn fn, void *ctx, size_t k,
                                   const void *const cols[], const size_t sizes[], void *out,
                                   size_t out_size, size_t n, size_t chunk);
SHMPOOL_EXTERN int shmpool_starmap_async(shmpool *p, shmpool_star_fn fn, void *ctx, size_t k,
                                         const void *const cols[], const size_t sizes[], void *out,
                                         size_t out_size, size_t n, size_t chunk,
                                         shmpool_result **r);
/** One call fn(args, out, ctx) on a worker. `args` (args_size bytes) and `out` (out_size bytes)
 *  may be any memory; either may be NULL with size 0. */
SHMPOOL_EXTERN int shmpool_apply(shmpool *p, shmpool_fn fn, void *ctx, const void *args,
                                 size_t args_size, void *out, size_t out_size);
SHMPOOL_EXTERN int shmpool_apply_async(shmpool *p, shmpool_fn fn, void *ctx, const void *args,
                                       size_t args_size, void *out, size_t out_size,
                                       shmpool_result **r);
/** Parallel for: fn(ctx, begin, end) over [0, n) in chunks, as if by
 *  `for (b = 0; b < n; b += chunk) fn(ctx, b, min(b + chunk, n));`. Same rules as map. */
SHMPOOL_EXTERN int shmpool_for(shmpool *p, shmpool_range_fn fn, void *ctx, size_t n, size_t chunk);
SHMPOOL_EXTERN int shmpool_for_async(shmpool *p, shmpool_range_fn fn, void *ctx, size_t n,
                                     size_t chunk, shmpool_result **r);

/* ---------------------------------------------------------------------------------------------
 * Results.
 */
/** Wait up to timeout_ms (< 0: no limit; 0: poll) for the job to end.
 *  @return 0 (out filled); -ETIMEDOUT (still running; call again); the job's failing code;
 *          -ECANCELED (terminated or cancelled); -EINVAL (NULL). */
SHMPOOL_EXTERN int shmpool_result_get(shmpool_result *r, int timeout_ms);
/** The job's code once it ended (0 if it has not ended or succeeded); *index (may be NULL) gets the
 *  lowest index among the items that failed, or SIZE_MAX if none is known. Every chunk below that
 *  index runs (chunks above it may be skipped, as a serial loop's break), so it is the lowest
 *  failing index of the whole input. */
SHMPOOL_EXTERN int shmpool_result_error(const shmpool_result *r, size_t *index);
/** 1 if the job has ended (successfully or not), 0 if not, -EINVAL for NULL. */
SHMPOOL_EXTERN int shmpool_result_ready(const shmpool_result *r);
/** Items done and items in all (an apply counts 1). Either pointer may be NULL. */
SHMPOOL_EXTERN void shmpool_result_progress(const shmpool_result *r, size_t *done, size_t *total);
/** Stop a job: chunks not started are dropped, workers running its chunks are killed and replaced.
 *  Returns once no worker runs any part of it; get() then returns -ECANCELED unless it had
 *  already ended. @return 0, -EINVAL (NULL) */
SHMPOOL_EXTERN int shmpool_result_cancel(shmpool_result *r);
/** Free a result; a job still running is cancelled first (parts running are waited for). */
SHMPOOL_EXTERN void shmpool_result_free(shmpool_result *r);

/* ---------------------------------------------------------------------------------------------
 * Progress bar: wait for a result while redrawing one terminal line on stderr with done/total,
 * percent, rate, elapsed time and ETA.
 */
#define SHMPOOL_PROGRESS_AUTO 0   /* drawn only when stderr is a terminal */
#define SHMPOOL_PROGRESS_ALWAYS 1 /* drawn even when stderr is not a terminal (one line at the end) */
#define SHMPOOL_PROGRESS_NEVER 2  /* not drawn: a plain get() */
/** Like shmpool_result_get(r, -1), drawing the bar every ~100 ms. @return get's code. */
SHMPOOL_EXTERN int shmpool_progress_wait(shmpool_result *r, const char *label, int mode);
/** Format one bar line into buf (no newline): "label  45% |#####     | 450/1000 [00:02<00:03, 180.0 it/s]".
 *  @return the length written, or -EINVAL. */
SHMPOOL_EXTERN int shmpool_progress_format(char *buf, size_t len, const char *label, size_t done,
                                           size_t total, double elapsed_s, int width);

/* ---------------------------------------------------------------------------------------------
 * CPU counts.
 */
#define SHMPOOL_CPU_LOGICAL 0  /* online logical CPUs (hardware threads) */
#define SHMPOOL_CPU_PHYSICAL 1 /* distinct physical cores among them */
#define SHMPOOL_CPU_USABLE 2   /* what this process may use: the affinity mask, limited by the
                                  cgroup v2 CPU quota (cpu.max), at least 1 */
/** @return the count (> 0), or -EINVAL for an unknown kind. */
SHMPOOL_EXTERN int shmpool_cpu_count(int kind);

/* ---------------------------------------------------------------------------------------------
 * Processes (Python's Process): a forked child running fn(arg); its return value is its exit
 * status. stdio is flushed before the fork and when the child ends.
 */
typedef struct shmpool_process shmpool_process;
typedef int (*shmpool_process_fn)(void *arg);
/** @return 0, -EINVAL (NULL), -EAGAIN/-ENOMEM (fork failed). */
SHMPOOL_EXTERN int shmpool_process_start(shmpool_process **proc, shmpool_process_fn fn, void *arg);
/** Wait up to timeout_ms (< 0: no limit) for the child to end. @return 0, -ETIMEDOUT, -EINVAL */
SHMPOOL_EXTERN int shmpool_process_join(shmpool_process *proc, int timeout_ms);
/** Send SIGTERM (Python's terminate). @return 0, -EINVAL, or 0 if it already ended. */
SHMPOOL_EXTERN int shmpool_process_terminate(shmpool_process *proc);
/** Python's exitcode: *code gets the exit status (>= 0) or -N if signal N ended it.
 *  @return 0, -EBUSY (still running), -EINVAL, -ECHILD (it ended, but the program reaped it or
 *  ignores SIGCHLD, and it did not end by returning from fn: its status is unknown) */
SHMPOOL_EXTERN int shmpool_process_exitcode(const shmpool_process *proc, int *code);
SHMPOOL_EXTERN pid_t shmpool_process_pid(const shmpool_process *proc);
/** Free the handle; a child still running is killed (SIGKILL) and reaped first. NULL is ok. */
SHMPOOL_EXTERN void shmpool_process_free(shmpool_process *proc);

/* ---------------------------------------------------------------------------------------------
 * Queues (Python's Queue): a bounded multi-producer multi-consumer queue of messages of up to
 * max_msg bytes in shared memory, on the same ring and semaphores as the pool: no pipe, no socket.
 * The handle itself lives in the shared memory, so the pointer is valid in every process that
 * can see the memory: with pool NULL, processes forked after the queue was created (Process
 * children, pools created later); with a pool, also that pool's workers (shmpool_alloc memory).
 */
typedef struct shmpool_queue shmpool_queue;
/** The queue holds exactly `capacity` messages (at most SEM_VALUE_MAX). A process killed inside
 *  put or get can leave the queue short of a slot or stalled, as with Python's Queue.
 *  @return 0, -EINVAL (NULL q, capacity 0 or too large, max_msg 0), -ENOMEM, -ENOSPC */
SHMPOOL_EXTERN int shmpool_queue_create(shmpool_queue **q, shmpool *pool, size_t capacity,
                                        size_t max_msg);
/** Copy len bytes in, waiting up to timeout_ms (< 0: no limit) for room.
 *  @return 0, -ETIMEDOUT (full), -EMSGSIZE (len > max_msg), -EINVAL */
SHMPOOL_EXTERN int shmpool_queue_put(shmpool_queue *q, const void *msg, size_t len, int timeout_ms);
/** Take the oldest message into buf, waiting up to timeout_ms (< 0: no limit); *len gets its size
 *  (len may be NULL). buf must hold max_msg bytes: buflen < max_msg is -EMSGSIZE at once, before
 *  anything is taken (with several consumers the next message is not known until one takes it).
 *  @return 0, -ETIMEDOUT (empty), -EMSGSIZE (buflen < max_msg: nothing taken), -EINVAL */
SHMPOOL_EXTERN int shmpool_queue_get(shmpool_queue *q, void *buf, size_t buflen, size_t *len,
                                     int timeout_ms);
/** Messages queued now (a snapshot). */
SHMPOOL_EXTERN size_t shmpool_queue_size(const shmpool_queue *q);
/** Free the queue. Only once no process uses it. NULL is ok. */
SHMPOOL_EXTERN void shmpool_queue_destroy(shmpool_queue *q);

/* ---------------------------------------------------------------------------------------------
 * Arrays: .npy (format 1.0, 2.0, 3.0) and raw files straight into shmpool_alloc memory, through
 * io_uring where the kernel allows it, pread/pwrite otherwise (or with SHMPOOL_FLAG_NO_IO_URING,
 * or the environment variable SHMPOOL_NO_IO_URING=1).
 */
typedef enum shmpool_dtype {
    SHMPOOL_F8 = 1, /* <f8 */
    SHMPOOL_F4,     /* <f4 */
    SHMPOOL_I8,     /* <i8 */
    SHMPOOL_I4,     /* <i4 */
    SHMPOOL_I2,     /* <i2 */
    SHMPOOL_I1,     /* |i1 */
    SHMPOOL_U8,     /* <u8 */
    SHMPOOL_U4,     /* <u4 */
    SHMPOOL_U2,     /* <u2 */
    SHMPOOL_U1,     /* |u1 */
    SHMPOOL_BOOL,   /* |b1 */
} shmpool_dtype;
#define SHMPOOL_ARRAY_MAX_DIMS 32
typedef struct shmpool_array {
    void *data;                           /* shmpool_alloc memory (NULL when nbytes == 0) */
    shmpool_dtype dtype;
    unsigned ndim;                        /* 0 for a 0-d array (one element) */
    size_t shape[SHMPOOL_ARRAY_MAX_DIMS];
    size_t count;                         /* elements: the product of shape (1 for 0-d) */
    size_t nbytes;                        /* count * element size */
} shmpool_array;
/** Bytes per element, 0 for an unknown dtype. */
SHMPOOL_EXTERN size_t shmpool_dtype_size(shmpool_dtype dtype);
/** numpy's descr string ("<f8", "|b1", ...), NULL for an unknown dtype. */
SHMPOOL_EXTERN const char *shmpool_dtype_descr(shmpool_dtype dtype);
/** Load a .npy file into shmpool_alloc memory (arr->data; NULL for an empty array). A pipe or
 *  FIFO works too (read as a stream). On error *arr is cleared, so shmpool_array_free on it is
 *  harmless.
 *  @return 0; -EINVAL (NULL argument); -ENOENT, -EISDIR, -EACCES, ... (the file: open's errno);
 *  -EBADMSG (not .npy, or a malformed or cut-short header); -ENOTSUP (Fortran order, big-endian or
 *  unsupported dtype, structured dtypes included, a format version other than 1.0/2.0/3.0, more
 *  than SHMPOOL_ARRAY_MAX_DIMS dimensions); -EOVERFLOW (the shape's size does not fit in size_t);
 *  -EPROTO (data size disagrees with the shape: truncated or extra bytes); -ENOSPC (does not fit
 *  in /dev/shm); -ENOMEM; -ESHUTDOWN (pool closed); a read error's -errno. */
SHMPOOL_EXTERN int shmpool_array_load(shmpool *pool, const char *path, shmpool_array *arr);
/** What a .npy file holds, from its header alone: arr gets dtype, ndim, shape, count and nbytes,
 *  and data NULL; nothing is allocated. @return as shmpool_array_load, without -ENOSPC. */
SHMPOOL_EXTERN int shmpool_array_stat(const char *path, shmpool_array *arr);
/** Load rows [first_row, first_row + nrows) of the first axis of a .npy file (a part of an array
 *  too big for one node, or a node's share): arr->shape[0] is the number of rows loaded, clipped
 *  at the end of the array (0 past it), the other dimensions are the file's.
 *  @return as shmpool_array_load; -EINVAL also for a 0-d array; -ESPIPE for a pipe or FIFO. */
SHMPOOL_EXTERN int shmpool_array_load_rows(shmpool *pool, const char *path, size_t first_row,
                                           size_t nrows, shmpool_array *arr);
/** Load a headerless file as a 1-d array of dtype (the host's byte order). @return as load;
 *  -EINVAL also for an unknown dtype; -EPROTO if the size is not a multiple of the element size;
 *  -EFBIG for a stream (pipe, FIFO, device) longer than the pool's memory can hold. */
SHMPOOL_EXTERN int shmpool_array_load_raw(shmpool *pool, const char *path, shmpool_dtype dtype,
                                          shmpool_array *arr);
/** Write arr as a .npy file, byte for byte what numpy's np.save writes (format 1.0, or 2.0 when
 *  the header needs it). arr->data may be any memory; pool may be NULL (it only picks the I/O
 *  engine). An existing file is replaced; a file this call created is removed if writing fails.
 *  @return 0; -EINVAL (NULL path or arr, unknown dtype, ndim over the maximum, count or nbytes
 *  that disagree with shape, NULL data with nbytes > 0); -EOVERFLOW; open's or write's -errno
 *  (-ENOENT, -EISDIR, -EACCES, -ENOSPC, -EFBIG, ...). */
SHMPOOL_EXTERN int shmpool_array_save(shmpool *pool, const char *path, const shmpool_array *arr);
/** shmpool_free(arr->data) and clear arr. NULL arr, or arr with NULL data, is fine. */
SHMPOOL_EXTERN void shmpool_array_free(shmpool *pool, shmpool_array *arr);

/* ---------------------------------------------------------------------------------------------
 * Numeric codes: ctx passed by value, chunk and worker indices, deterministic reductions.
 *
 * Memory model, in one rule: a worker sees shmpool_alloc memory as it is now, and every other
 * memory of the program as it was when shmpool_create ran (the workers are forked then). So a
 * ctx, a global or a heap object written after create is stale in the workers. The *_ctx calls
 * copy ctx_size bytes of ctx into the job (OpenMP's firstprivate): stack, malloc'd and changed
 * contexts all work. The calls without ctx_size compare the first bytes of a parent-memory ctx
 * (up to 64, not past its page) with the workers' view and fail with SHMPOOL_ESTALE when they
 * differ or the memory did not exist at create (see docs/API.md, "Memory model").
 */
/** Which chunk a shmpool_range_id_fn runs, and where. */
typedef struct shmpool_chunk_id {
    size_t index;     /* the chunk's number: begin == index * chunk size (before any MPI base) */
    size_t count;     /* chunks in the job */
    unsigned worker;  /* the worker running it: 0 .. shmpool_workers() - 1, or shmpool_workers()
                         for a calling thread that runs chunks (SHMPOOL_FLAG_CALLER_RUNS) */
    unsigned workers; /* shmpool_workers() + 1: the size of a per-runner array */
} shmpool_chunk_id;
/** One chunk [begin, end), told which chunk it is and which worker runs it. */
typedef int (*shmpool_range_id_fn)(void *ctx, size_t begin, size_t end, const shmpool_chunk_id *id);
/** One chunk of a reduction: fold items [begin, end) into *partial, which starts as a copy of the
 *  identity value the call was given. */
typedef int (*shmpool_reduce_fn)(void *ctx, size_t begin, size_t end, void *partial);
/** acc = acc (+) partial: run in the calling thread, chunk after chunk in index order. */
typedef void (*shmpool_combine_fn)(void *acc, const void *partial, void *ctx);

/** The biggest ctx_size the *_ctx calls take (bigger contexts belong in shmpool_alloc memory). */
#define SHMPOOL_MAX_CTX_BYTES ((size_t)1 << 20)

/** shmpool_for with ctx by value: ctx_size bytes at ctx are copied into the job when it is
 *  submitted, and fn receives a pointer to that copy (one copy per job, shared by its chunks: treat
 *  it as read-only). ctx_size 0 passes ctx as is, as shmpool_for. Same rules and codes as
 *  shmpool_for; -EINVAL also for ctx NULL with ctx_size > 0 or ctx_size > SHMPOOL_MAX_CTX_BYTES. */
SHMPOOL_EXTERN int shmpool_for_ctx(shmpool *p, shmpool_range_fn fn, const void *ctx,
                                   size_t ctx_size, size_t n, size_t chunk);
SHMPOOL_EXTERN int shmpool_for_ctx_async(shmpool *p, shmpool_range_fn fn, const void *ctx,
                                         size_t ctx_size, size_t n, size_t chunk,
                                         shmpool_result **r);
/** shmpool_for_ctx whose fn also gets the chunk's index and the worker's (pthreadpool's
 *  _with_id): per-worker scratch, per-chunk partial results, per-chunk random seeds. */
SHMPOOL_EXTERN int shmpool_for_with_id(shmpool *p, shmpool_range_id_fn fn, const void *ctx,
                                       size_t ctx_size, size_t n, size_t chunk);
SHMPOOL_EXTERN int shmpool_for_with_id_async(shmpool *p, shmpool_range_id_fn fn, const void *ctx,
                                             size_t ctx_size, size_t n, size_t chunk,
                                             shmpool_result **r);
/** shmpool_map, shmpool_starmap, shmpool_apply with ctx by value (see shmpool_for_ctx). */
SHMPOOL_EXTERN int shmpool_map_ctx(shmpool *p, shmpool_fn fn, const void *ctx, size_t ctx_size,
                                   const void *in, size_t in_size, void *out, size_t out_size,
                                   size_t n, size_t chunk);
SHMPOOL_EXTERN int shmpool_map_ctx_async(shmpool *p, shmpool_fn fn, const void *ctx,
                                         size_t ctx_size, const void *in, size_t in_size,
                                         void *out, size_t out_size, size_t n, size_t chunk,
                                         shmpool_result **r);
SHMPOOL_EXTERN int shmpool_starmap_ctx(shmpool *p, shmpool_star_fn fn, const void *ctx,
                                       size_t ctx_size, size_t k, const void *const cols[],
                                       const size_t sizes[], void *out, size_t out_size, size_t n,
                                       size_t chunk);
SHMPOOL_EXTERN int shmpool_starmap_ctx_async(shmpool *p, shmpool_star_fn fn, const void *ctx,
                                             size_t ctx_size, size_t k, const void *const cols[],
                                             const size_t sizes[], void *out, size_t out_size,
                                             size_t n, size_t chunk, shmpool_result **r);
SHMPOOL_EXTERN int shmpool_apply_ctx(shmpool *p, shmpool_fn fn, const void *ctx, size_t ctx_size,
                                     const void *args, size_t args_size, void *out,
                                     size_t out_size);
SHMPOOL_EXTERN int shmpool_apply_ctx_async(shmpool *p, shmpool_fn fn, const void *ctx,
                                           size_t ctx_size, const void *args, size_t args_size,
                                           void *out, size_t out_size, shmpool_result **r);

/** Chunks per reduction when chunk is 0: a count fixed by n alone, so the result does not depend
 *  on the number of workers (or MPI ranks). */
#define SHMPOOL_REDUCE_CHUNKS 128u
/**
 * Deterministic parallel reduction, as if by
 *
 *     for (c = 0; c < chunks; c++) {
 *         memcpy(partial, acc_identity, acc_size);
 *         if ((rc = fn(ctx, c * chunk, min((c + 1) * chunk, n), partial))) break;
 *         combine(acc, partial, ctx);
 *     }
 *
 * with the chunks run on the workers and combined in chunk order in the calling thread, so the
 * result is bit-identical for any number of workers (floating-point sums included) as long as the
 * chunk size is the same; chunk 0 picks ceil(n / SHMPOOL_REDUCE_CHUNKS), which depends on n only.
 * `acc` holds the identity on entry (copied into every partial) and the result on return; on an
 * error it is left as it was. ctx is passed by value as in shmpool_for_ctx (ctx_size 0: as is).
 * On a pool attached to MPI (shmpool_mpi.h) the chunks are spread over the ranks and every rank
 * gets the same, bit-identical result.
 * @return as shmpool_for; -EINVAL also for NULL fn, combine or acc, acc_size 0 or >
 *         SHMPOOL_MAX_CTX_BYTES.
 */
SHMPOOL_EXTERN int shmpool_reduce(shmpool *p, shmpool_reduce_fn fn, shmpool_combine_fn combine,
                                  const void *ctx, size_t ctx_size, size_t n, size_t chunk,
                                  void *acc, size_t acc_size);
/** The chunk size and chunk count that a map/starmap/for (reduce: 1) over n items with `chunk`
 *  (0: automatic) uses on this pool. Either pointer may be NULL. @return 0, -EINVAL (NULL pool). */
SHMPOOL_EXTERN int shmpool_chunking(const shmpool *p, size_t n, size_t chunk, int reduce,
                                    size_t *chunk_size, size_t *chunks);
/** In a task: the index of the worker running it (0 .. workers - 1, kept by a replacement); in the
 *  calling thread (SHMPOOL_FLAG_CALLER_RUNS) the pool's worker count; -1 elsewhere. */
SHMPOOL_EXTERN int shmpool_worker_index(void);

/* ---------------------------------------------------------------------------------------------
 * Results as they complete (Python's imap / imap_unordered, concurrent.futures.wait /
 * as_completed, and apply_async's callback / error_callback).
 */
/** As shmpool_map_async, and every chunk is recorded as it finishes, so shmpool_result_next()
 *  can hand out its range while the rest still runs. Same arguments, rules and codes as
 *  shmpool_map_async; also -EOVERFLOW for more than 2^26 chunks (each chunk costs a bit in a
 *  bitmap in /dev/shm and one in the parent: choose `chunk` accordingly). Results stay where they
 *  are: nothing is copied but parent-memory `out`, range by range as next() hands it out. */
SHMPOOL_EXTERN int shmpool_imap(shmpool *p, shmpool_fn fn, void *ctx, const void *in,
                                size_t in_size, void *out, size_t out_size, size_t n, size_t chunk,
                                shmpool_result **r);
/** shmpool_starmap_async, recorded chunk by chunk as shmpool_imap. */
SHMPOOL_EXTERN int shmpool_imap_starmap(shmpool *p, shmpool_star_fn fn, void *ctx, size_t k,
                                        const void *const cols[], const size_t sizes[], void *out,
                                        size_t out_size, size_t n, size_t chunk,
                                        shmpool_result **r);
/** shmpool_for_async, recorded chunk by chunk as shmpool_imap. */
SHMPOOL_EXTERN int shmpool_imap_for(shmpool *p, shmpool_range_fn fn, void *ctx, size_t n,
                                    size_t chunk, shmpool_result **r);

#define SHMPOOL_NEXT_UNORDERED 0x1u /* shmpool_result_next: in finishing order, not input order */
/**
 * Take the next finished chunk of r: *begin and *end get its item range [begin, end), whose
 * outputs are complete (parent-memory `out` included: copied back now). Each chunk is handed out
 * once. With flags 0, in input order (imap): the lowest chunk not yet taken, once it finished.
 * With SHMPOOL_NEXT_UNORDERED, in finishing order (imap_unordered): any finished chunk not yet
 * taken. Both may be mixed on one result; several threads may call it, each chunk going to one.
 * On a result not made by shmpool_imap* (map_async, apply_async, ...) the whole job is one range,
 * [0, n), handed out once it succeeded.
 *
 * A failing job (the serial loop's break) ends the iteration with its code: in input order once
 * every chunk below the failing item's chunk was handed out; in finishing order once every chunk
 * that finished was. A cancelled or terminated job: the chunks that finished before, then
 * -ECANCELED. The code is returned once the job has ended (no worker runs it any more), and
 * again on every later call.
 * @param timeout_ms  < 0: no limit; 0: only look
 * @return 0 with a range; -ETIMEDOUT (none finished in time; call again); -ENODATA (every chunk
 *         was handed out and the job succeeded: the end); the job's failing code; -ECANCELED;
 *         SHMPOOL_EHELPER; -EINVAL (NULL r, begin or end, unknown flags, a freed result);
 *         -ENOMEM. */
SHMPOOL_EXTERN int shmpool_result_next(shmpool_result *r, unsigned flags, size_t *begin,
                                       size_t *end, int timeout_ms);

/** Wait until one of rs[0 .. n) has ended (its get would not wait): *which gets its index (the
 *  lowest among those that have). NULL entries are skipped, so a caller can clear the ones it
 *  handled (as_completed). The results must be of one pool. It sleeps (no core spins but for
 *  spin_us), and one wake-up looks at every result: no syscall per result.
 *  @return 0; -ETIMEDOUT (*which SIZE_MAX); -EINVAL (which NULL, rs NULL with n > 0, no non-NULL
 *          entry, results of different pools or freed); -EPERM (not the pool's process). */
SHMPOOL_EXTERN int shmpool_wait_any(shmpool_result *const rs[], size_t n, int timeout_ms,
                                    size_t *which);
/** Wait until every non-NULL result of rs[0 .. n) has ended (successfully or not: get tells).
 *  @return 0 (also for none), -ETIMEDOUT, -EINVAL, -EPERM as shmpool_wait_any. */
SHMPOOL_EXTERN int shmpool_wait_all(shmpool_result *const rs[], size_t n, int timeout_ms);

/** A result's callbacks: ok when its job succeeded, err with its code and shmpool_result_error's
 *  index otherwise (failed, cancelled, terminated: -ECANCELED; helper lost: SHMPOOL_EHELPER). */
typedef void (*shmpool_done_fn)(shmpool_result *r, void *arg);
typedef void (*shmpool_error_fn)(shmpool_result *r, int code, size_t index, void *arg);
/**
 * Give r a success and an error callback (Python's callback / error_callback); either may be
 * NULL; both NULL takes a pair not run yet off again. Exactly one of them runs, once, in the
 * parent process, never in a worker, never while the library holds a lock: in the first thread
 * that, once r's job has ended, calls
 *   - shmpool_result_get, _next or _cancel on r, or shmpool_wait_any/_all with r among the
 *     results (before that call returns; _get and _next: after parent-memory `out` is filled),
 *   - shmpool_poll on r's pool (which runs every callback that is due),
 *   - shmpool_result_on_done itself, when r's job had ended already,
 *   - shmpool_result_free on r (a job it cancels: err with -ECANCELED),
 *   - shmpool_terminate (every job it stopped: err with -ECANCELED) or shmpool_join, so also
 *     shmpool_destroy: a pool ends with every callback run.
 * A callback may call the library (submit, get other results, poll), but must not free or cancel
 * r itself (a free from inside is refused with a message), nor close, join, terminate or destroy
 * the pool.
 * @return 0; -EALREADY (r's callback has run or is running); -EINVAL (NULL or freed r); -EPERM.
 */
SHMPOOL_EXTERN int shmpool_result_on_done(shmpool_result *r, shmpool_done_fn ok,
                                          shmpool_error_fn err, void *arg);
/** Run the callbacks of p's results that are due, waiting up to timeout_ms (< 0: no limit; 0:
 *  only look) for one to become due; returns at once when no callback is pending.
 *  @return how many ran (0 on timeout); -EINVAL (NULL); -EPERM. */
SHMPOOL_EXTERN int shmpool_poll(shmpool *p, int timeout_ms);

/* ---------------------------------------------------------------------------------------------
 * Streaming files: a map, a for or a reduction over a .npy or raw file of any size, in pieces of
 * whole rows of the first axis that fit a memory budget. The pieces live in shmpool_alloc memory
 * (two or three at once); while the workers compute piece k, io_uring reads the next pieces and
 * writes back the output of the previous one (pread/pwrite, done by the calling thread while
 * the workers compute, where io_uring is not available or SHMPOOL_FLAG_NO_IO_URING is set).
 *
 * Rows are the items: a row of a 1-d file is one element, of an (n, m) file m elements. `chunk`
 * rows are one task, and pieces hold whole chunks, so chunk c always covers rows
 * [first_row + c * chunk, first_row + (c + 1) * chunk) whatever the budget. Indices given to the
 * callbacks and *fail_index are rows of the whole file.
 *
 * Errors follow map's model: a failing item stops the stream (chunks below it in its piece still
 * run, later pieces never start) and the call returns its code with *fail_index = its row. An
 * output file appears only on success: it is written to a temporary file in the same directory
 * and renamed at the end; on any error the temporary file is removed and an existing file of that
 * name is left as it was.
 */
typedef struct shmpool_stream_options { /* zero-initialise; zero means the default */
    size_t budget;            /* bytes of shared memory for the pieces in flight; 0: half of what
                                 /dev/shm has free, at most 256 MiB and a quarter of the arena */
    size_t chunk;             /* rows per task; 0: a piece's rows / (4 x workers), so then the
                                 grouping of a reduction depends on the budget */
    shmpool_dtype raw_dtype;  /* 0: the file is .npy; else a headerless file of this dtype, read
                                 as a 1-d array (the host's byte order) */
    shmpool_dtype out_dtype;  /* stream_map's .npy output dtype; 0: the input's */
    unsigned buffers;         /* pieces in shared memory at once: 2 (double buffering) or 3; 0: 3 */
    size_t first_row;         /* stream rows [first_row, end_row) of the file only */
    size_t end_row;           /* 0: to the last row (clipped to it in any case) */
    uint64_t reserved_[4];    /* must be zero */
} shmpool_stream_options;

/** One chunk of rows for shmpool_stream_for: rows [begin, end) of the file, `rows` pointing at
 *  row `begin` in shared memory (valid during the call only). Return 0 or a negative errno. */
typedef int (*shmpool_stream_fn)(void *ctx, const void *rows, size_t begin, size_t end);
/** One chunk of rows for shmpool_stream_reduce: as shmpool_stream_fn, writing the chunk's
 *  partial result (partial_size bytes, zero-filled on entry) to `partial`. */
typedef int (*shmpool_stream_reduce_fn)(void *ctx, const void *rows, size_t begin, size_t end,
                                        void *partial);
/* Partials are folded with shmpool_combine_fn (acc, partial, ctx), as shmpool_reduce's: in the
   calling thread, in chunk order. */

/**
 * out_row = fn(in_row) for every row of in_path, as shmpool_map with in_size the row's bytes,
 * written to out_path (NULL: no output; out_size must then be 0). A .npy input gives a .npy output
 * of opt->out_dtype: the input's shape when out_size is a row of that dtype of the input's row
 * width, else (rows,) or (rows, out_size / dtype size); a raw input gives a raw output. An existing
 * out_path is replaced only on success. out_path must not name in_path.
 * @param fail_index NULL, or receives the failing row (SIZE_MAX when no item failed)
 * @return 0; a failing item's code; -EINVAL (NULL pool/in_path/fn, out_path NULL with out_size
 *         != 0 or the reverse, out_size not a multiple of the dtype's size, unknown dtype, nonzero
 *         reserved_, buffers > 3 or 1, a 0-d or zero-width-row array, out_path naming in_path);
 *         what shmpool_array_stat returns for the file (-ENOENT, -EBADMSG, -ENOTSUP, ...);
 *         -EPROTO (the file is not as long as its header says, or a raw file is not a whole number
 *         of elements); SHMPOOL_EFILECHANGED (it changed while streamed); SHMPOOL_EBUDGET;
 *         -ENOSPC (/dev/shm cannot hold the budget); -ENOMEM; -ESHUTDOWN; -ECANCELED;
 *         SHMPOOL_EHELPER; a read or write error's -errno (-ENOSPC, -EFBIG, -EIO: the disk).
 */
SHMPOOL_EXTERN int shmpool_stream_map(shmpool *p, const char *in_path, const char *out_path,
                                      shmpool_fn fn, void *ctx, size_t out_size,
                                      const shmpool_stream_options *opt, size_t *fail_index);
/** fn(ctx, rows, begin, end) once per chunk of rows of path. @return as shmpool_stream_map. */
SHMPOOL_EXTERN int shmpool_stream_for(shmpool *p, const char *path, shmpool_stream_fn fn,
                                      void *ctx, const shmpool_stream_options *opt,
                                      size_t *fail_index);
/**
 * A reduction: fn computes one partial per chunk on the workers; combine(ctx, acc, partial) folds
 * them into acc in chunk order, in the calling thread. acc (partial_size bytes, caller's memory)
 * holds the initial value on entry and the result on return, so the result is
 * combine(...combine(combine(acc, p0), p1)..., p_last) exactly, whatever the budget, buffers,
 * workers or schedule, for a given chunk. On error acc holds the chunks folded so far.
 * @return as shmpool_stream_map; -EINVAL also for NULL combine or acc, or partial_size 0.
 */
SHMPOOL_EXTERN int shmpool_stream_reduce(shmpool *p, const char *path, shmpool_stream_reduce_fn fn,
                                         shmpool_combine_fn combine, void *ctx, void *acc,
                                         size_t partial_size, const shmpool_stream_options *opt,
                                         size_t *fail_index);

/* ---------------------------------------------------------------------------------------------
 * Synchronisation between processes (Python's Lock, RLock, Semaphore, BoundedSemaphore, Event,
 * Condition, Barrier, Value and Array). Each object lives in shared memory, like a queue: with pool
 * NULL it is usable by the processes forked after it was created; with a pool, also by that pool's
 * workers. The handle is the object's address, valid as is in all of them. Waits take timeout_ms:
 * < 0 waits without limit, 0 only tries, and a wait that runs out returns -ETIMEDOUT.
 *
 * Robust: a lock whose holder died (a process killed, or a thread that ended) is handed to the next
 * locker with -EOWNERDEAD; a barrier with a party that died while waiting breaks. Holders are
 * threads of processes in one pid namespace, checked through /proc. Semaphores and events cannot
 * know who will post or set them: wait on them with a timeout where a poster may die.
 * Destroy an object only once no process uses it.
 */
typedef struct shmpool_lock shmpool_lock;
typedef struct shmpool_rlock shmpool_rlock;

/** A lock (Python's Lock), robust, held by a thread. @return 0, -EINVAL (NULL l), -ENOMEM, -ENOSPC,
 *  -ESHUTDOWN (pool closed) */
SHMPOOL_EXTERN int shmpool_lock_create(shmpool_lock **l, shmpool *pool);
/** Free the lock. NULL, or the lock of a condition or Value, is ignored. */
SHMPOOL_EXTERN void shmpool_lock_destroy(shmpool_lock *l);
/**
 * Take the lock, waiting up to timeout_ms.
 * @return 0; -EOWNERDEAD (taken, but its holder died holding it: the data it guards may be half
 *         updated; repair it, then shmpool_lock_consistent, or release it and the lock becomes
 *         unusable); -ENOTRECOVERABLE (a lock released after -EOWNERDEAD without being made
 *         consistent: never again usable; not taken); -ETIMEDOUT; -EDEADLK (this thread holds it
 *         already); -EINVAL (NULL).
 */
SHMPOOL_EXTERN int shmpool_lock_acquire(shmpool_lock *l, int timeout_ms);
/** Release it. Only its holder may (unlike Python's Lock): @return 0, -EPERM (not held by this
 *  thread), -EINVAL. */
SHMPOOL_EXTERN int shmpool_lock_release(shmpool_lock *l);
/** After -EOWNERDEAD: the data is repaired, the lock is usable again (pthread_mutex_consistent).
 *  @return 0, -EINVAL (NULL, not held by this thread, or not taken over from a dead holder) */
SHMPOOL_EXTERN int shmpool_lock_consistent(shmpool_lock *l);
/** 1 if some thread holds the lock now, 0 if not (a snapshot), -EINVAL. */
SHMPOOL_EXTERN int shmpool_lock_locked(const shmpool_lock *l);

/** A reentrant lock (Python's RLock): its holder may take it again, and releases it as often.
 *  Calls and codes as shmpool_lock_*, except that acquire by the holder succeeds (-EOVERFLOW past
 *  UINT32_MAX levels). */
SHMPOOL_EXTERN int shmpool_rlock_create(shmpool_rlock **l, shmpool *pool);
SHMPOOL_EXTERN void shmpool_rlock_destroy(shmpool_rlock *l);
SHMPOOL_EXTERN int shmpool_rlock_acquire(shmpool_rlock *l, int timeout_ms);
SHMPOOL_EXTERN int shmpool_rlock_release(shmpool_rlock *l);
SHMPOOL_EXTERN int shmpool_rlock_consistent(shmpool_rlock *l);

/** A semaphore (Python's Semaphore; with SHMPOOL_SEM_BOUNDED, BoundedSemaphore: releasing it above
 *  its initial value is -EOVERFLOW). */
typedef struct shmpool_sem shmpool_sem;
#define SHMPOOL_SEM_BOUNDED 0x1u
#define SHMPOOL_SEM_VALUE_MAX 0x7fffffff
/** @return 0, -EINVAL (NULL s, value > SHMPOOL_SEM_VALUE_MAX, unknown flags), -ENOMEM, -ENOSPC */
SHMPOOL_EXTERN int shmpool_sem_create(shmpool_sem **s, shmpool *pool, unsigned value,
                                      unsigned flags);
SHMPOOL_EXTERN void shmpool_sem_destroy(shmpool_sem *s);
/** Take one unit, waiting up to timeout_ms for one. @return 0, -ETIMEDOUT, -EINVAL */
SHMPOOL_EXTERN int shmpool_sem_acquire(shmpool_sem *s, int timeout_ms);
/** Give one back; wakes one waiter. @return 0, -EOVERFLOW (bounded and at its initial value, or
 *  at SHMPOOL_SEM_VALUE_MAX), -EINVAL */
SHMPOOL_EXTERN int shmpool_sem_release(shmpool_sem *s);
/** The units there are now (a snapshot), or -EINVAL. */
SHMPOOL_EXTERN int shmpool_sem_value(const shmpool_sem *s);

/** An event (Python's Event): a flag that processes wait for. */
typedef struct shmpool_event shmpool_event;
/** Created clear. @return 0, -EINVAL, -ENOMEM, -ENOSPC */
SHMPOOL_EXTERN int shmpool_event_create(shmpool_event **e, shmpool *pool);
SHMPOOL_EXTERN void shmpool_event_destroy(shmpool_event *e);
/** Set the flag and wake every waiter. @return 0, -EINVAL */
SHMPOOL_EXTERN int shmpool_event_set(shmpool_event *e);
/** Clear the flag. @return 0, -EINVAL */
SHMPOOL_EXTERN int shmpool_event_clear(shmpool_event *e);
/** 1 if set, 0 if clear, -EINVAL. */
SHMPOOL_EXTERN int shmpool_event_is_set(const shmpool_event *e);
/** Wait up to timeout_ms for the flag to be set. @return 0 (it is set), -ETIMEDOUT, -EINVAL */
SHMPOOL_EXTERN int shmpool_event_wait(shmpool_event *e, int timeout_ms);

/** A condition variable (Python's Condition) tied to a shmpool_lock. */
typedef struct shmpool_cond shmpool_cond;
/** lock: the lock it goes with (must outlive the condition), or NULL for one of its own (see
 *  shmpool_cond_lock). @return 0, -EINVAL (NULL c), -ENOMEM, -ENOSPC */
SHMPOOL_EXTERN int shmpool_cond_create(shmpool_cond **c, shmpool *pool, shmpool_lock *lock);
/** Free the condition (and its own lock, if it made one). */
SHMPOOL_EXTERN void shmpool_cond_destroy(shmpool_cond *c);
/** The condition's lock: take it with shmpool_lock_acquire around wait and notify. */
SHMPOOL_EXTERN shmpool_lock *shmpool_cond_lock(shmpool_cond *c);
/**
 * Release the lock, wait for a notify (up to timeout_ms), take the lock again. Like
 * pthread_cond_wait it may return 0 without a notify: check the condition in a loop (or use
 * shmpool_cond_wait_for).
 * @return 0 (lock held); -ETIMEDOUT (lock held); -EOWNERDEAD (lock held, taken over from a holder
 *         that died: see shmpool_lock_acquire); -ENOTRECOVERABLE (lock not held); -EPERM (the
 *         caller does not hold the lock); -EINVAL.
 */
SHMPOOL_EXTERN int shmpool_cond_wait(shmpool_cond *c, int timeout_ms);
/** Wait until pred(arg) returns nonzero (checked under the lock, first before waiting), up to
 *  timeout_ms in all. @return 0 (pred true), -ETIMEDOUT (pred still false), or wait's codes. */
SHMPOOL_EXTERN int shmpool_cond_wait_for(shmpool_cond *c, int (*pred)(void *arg), void *arg,
                                         int timeout_ms);
/** Wake up to n waiters (notify(n)); the caller holds the lock. @return 0, -EPERM, -EINVAL */
SHMPOOL_EXTERN int shmpool_cond_notify(shmpool_cond *c, unsigned n);
/** Wake every waiter. @return 0, -EPERM, -EINVAL */
SHMPOOL_EXTERN int shmpool_cond_notify_all(shmpool_cond *c);

/** A barrier (Python's Barrier) for `parties` waiters. */
typedef struct shmpool_barrier shmpool_barrier;
/** @return 0, -EINVAL (NULL b, parties 0 or over 65536), -ENOMEM, -ENOSPC */
SHMPOOL_EXTERN int shmpool_barrier_create(shmpool_barrier **b, shmpool *pool, unsigned parties);
SHMPOOL_EXTERN void shmpool_barrier_destroy(shmpool_barrier *b);
/**
 * Wait until `parties` callers have called it, up to timeout_ms.
 * @return the caller's arrival index (0 .. parties-1, each once per round, Python's return value);
 *         -ETIMEDOUT (this caller ran out of time: the barrier is now broken); SHMPOOL_EBROKEN
 *         (broken: another waiter timed out, a waiting party died, or abort or reset was called,
 *         now or before; until reset, every wait returns it); -EINVAL.
 */
SHMPOOL_EXTERN int shmpool_barrier_wait(shmpool_barrier *b, int timeout_ms);
/** Back to empty and not broken; current waiters get SHMPOOL_EBROKEN. @return 0, -EINVAL */
SHMPOOL_EXTERN int shmpool_barrier_reset(shmpool_barrier *b);
/** Break it: current and later waiters get SHMPOOL_EBROKEN until reset. @return 0, -EINVAL */
SHMPOOL_EXTERN int shmpool_barrier_abort(shmpool_barrier *b);
/** Callers waiting now, or -EINVAL. */
SHMPOOL_EXTERN int shmpool_barrier_n_waiting(const shmpool_barrier *b);
/** The number of parties, or -EINVAL. */
SHMPOOL_EXTERN int shmpool_barrier_parties(const shmpool_barrier *b);
/** 1 if broken, 0 if not, -EINVAL. */
SHMPOOL_EXTERN int shmpool_barrier_broken(const shmpool_barrier *b);

/** Typed shared values (Python's Value and Array): count elements of dtype. Without a lock each
 *  get/set/add is one atomic operation (every dtype fits one); with SHMPOOL_VALUE_LOCK they take
 *  the value's lock, which also guards several elements updated together through
 *  shmpool_value_data. Elements start at zero. */
typedef struct shmpool_value shmpool_value;
#define SHMPOOL_VALUE_LOCK 0x1u
/** count 1: Value('d', 0.0) is shmpool_value_create(&v, pool, SHMPOOL_F8, 1, SHMPOOL_VALUE_LOCK);
 *  count n: Array. @return 0, -EINVAL (NULL v, unknown dtype or flags, count 0), -EOVERFLOW,
 *  -ENOMEM, -ENOSPC */
SHMPOOL_EXTERN int shmpool_value_create(shmpool_value **v, shmpool *pool, shmpool_dtype dtype,
                                        size_t count, unsigned flags);
SHMPOOL_EXTERN void shmpool_value_destroy(shmpool_value *v);
/** Copy element i (of the dtype's C type) to *out. @return 0, -ERANGE (i >= count), -EINVAL, and
 *  with a lock: -EOWNERDEAD (done, but a process died holding the lock: elements it was updating
 *  may be half written), -ENOTRECOVERABLE, -EDEADLK (this thread holds the lock) */
SHMPOOL_EXTERN int shmpool_value_get(shmpool_value *v, size_t i, void *out);
/** Store *in (of the dtype's C type) into element i. @return as get. */
SHMPOOL_EXTERN int shmpool_value_set(shmpool_value *v, size_t i, const void *in);
/** Element i += *delta (of the dtype's C type; integers wrap around); *old (may be NULL) gets the
 *  value before. @return as get; -EINVAL also for SHMPOOL_BOOL. */
SHMPOOL_EXTERN int shmpool_value_add(shmpool_value *v, size_t i, const void *delta, void *old);
/** The elements themselves (count * shmpool_dtype_size(dtype) bytes, 64-byte aligned), for bulk
 *  work under shmpool_value_lock; NULL for NULL v. */
SHMPOOL_EXTERN void *shmpool_value_data(shmpool_value *v);
/** The value's lock (Python's get_lock), NULL without SHMPOOL_VALUE_LOCK. */
SHMPOOL_EXTERN shmpool_lock *shmpool_value_lock(shmpool_value *v);
/** Number of elements, 0 for NULL. */
SHMPOOL_EXTERN size_t shmpool_value_count(const shmpool_value *v);

/* ---------------------------------------------------------------------------------------------
 * Task failure messages: a task that fails can say why in words, and the caller reads them with
 * the code (the C++ interface, shmpool.hpp, returns a C++ exception's what() this way).
 */
/** The longest message kept, terminating NUL included; longer ones are cut. */
#define SHMPOOL_TASK_MESSAGE_MAX 256
/** Inside a task, just before it returns its nonzero code: attach msg (copied, cut at
 *  SHMPOOL_TASK_MESSAGE_MAX - 1 bytes) to that failure. It is kept if the failure is the job's
 *  lowest failing index (the one shmpool_result_error reports), and dropped if the task then
 *  returns 0 (at the latest when its chunk ends).
 *  @return 0; -EINVAL (NULL msg); -EPERM (not called inside a task) */
SHMPOOL_EXTERN int shmpool_task_fail_message(const char *msg);
/** The message of a job that ended with an error, "" if the failing task set none (or the job
 *  succeeded or has not ended); NULL for NULL r. Valid until r is freed. */
SHMPOOL_EXTERN const char *shmpool_result_message(const shmpool_result *r);
/** The message of this thread's last synchronous call (map, starmap, apply, for, reduce and their
 *  _ctx/_with_id forms), "" if it succeeded or its failing task set none. Per thread; valid until
 *  the thread's next such call. */
SHMPOOL_EXTERN const char *shmpool_last_message(void);

#ifdef __cplusplus
}
#endif
#endif /* SHMPOOL_H */
