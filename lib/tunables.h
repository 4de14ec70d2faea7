/* Every limit and tunable of the library in one place, each with the reason for its value. A
 * number that appears in a .c file instead of here is either a unit conversion or a mistake. */
#ifndef SHMPOOL_TUNABLES_H
#define SHMPOOL_TUNABLES_H

#include <stddef.h>

/* ---- Limits users can reach (shmpool_options are checked against them: -EINVAL above) ---- */

/* Workers per pool. The helper keeps fixed per-worker arrays (no malloc after fork), and a pool
   far wider than any machine's cores only adds wake-up scans. */
#define SHMPOOL_MAX_WORKERS 1024u
/* OpenMP/BLAS threads per worker (shmpool_options.worker_threads): beyond any machine's cores. */
#define SHMPOOL_MAX_WORKER_THREADS 4096u
/* queue_depth and max_segments: both size arrays in the control block, mapped at create. */
#define SHMPOOL_MAX_DEPTH (1u << 20)
#define SHMPOOL_MAX_SEGMENTS (1u << 20)
/* The helper's sleep between looks when nothing is pending: the backstop for a parent gone without
   a signal and for stalled wake-ups (a worker stopped while idle); deaths, kicks and the lifeline
   wake it at once. While repairs or respawns are pending it looks every ms. */
#define SHMPOOL_HELPER_TICK_NS 250000000L
#define SHMPOOL_HELPER_BUSY_TICK_NS 1000000L
/* The longest sleep of a backoff (a full ring, every job slot retiring): short enough that the
   caller notices within a scheduler tick, long enough not to take a core from the workers it
   waits for. One value: the two loops had 500 and 1000 us with no reason for the difference. */
#define SHMPOOL_BACKOFF_CAP_US 500u
/* The least a default arena reserves when `ulimit -v` leaves little room: below it create fails
   (ENOMEM) rather than make a pool that can hold almost nothing. */
#define SHMPOOL_MIN_ARENA ((size_t)256 << 20)
/* How long an alloc that found /dev/shm full waits for idle workers to unmap freed blocks (they
   let go within a wake-up; one inside a task only when the task ends) before it says ENOSPC. */
#define SHMPOOL_UNMAP_WAIT_MS 1000
/* ...and how long it keeps trying once every process has unmapped them: tmpfs was seen to give
   the space back a moment after the last unmap. A /dev/shm really full costs an alloc this much. */
#define SHMPOOL_UNMAP_SETTLE_MS 20
/* Names an alloc tries when the next ones exist already (squatted by another local user; with
   unpredictable names only by chance): past that many the squatter wins and alloc fails EEXIST. */
#define SHMPOOL_MAX_NAME_TRIES 64
/* Chunks per job: every claim adds 1 to a 64-bit counter, also the claims that find the job
   stopped, so a job far below 2^64 chunks can never wrap it. */
#define SHMPOOL_MAX_CHUNKS ((size_t)1 << 62)

/* Chunks of one shmpool_imap job: its bitmaps of finished and taken chunks take nchunks / 8 bytes
   each (one in /dev/shm, one in the parent): 8 MiB each at most. */
#define SHMPOOL_IMAP_MAX_CHUNKS ((size_t)1 << 26)
/* Freed imap bitmaps a pool keeps for the next imap jobs: a new segment costs its creation and
   every worker a mapping before it can start (~200 us more from submit to the first chunk's start
   than a job without one, measured); a kept one, a memset. */
#define SHMPOOL_IMAP_KEPT 4
/* ...of up to this size (512Ki chunks): a bigger one goes back to /dev/shm at once. */
#define SHMPOOL_IMAP_KEPT_BYTES ((size_t)64 << 10)

/* ---- Defaults (a zero option) ---- */

/* Jobs in flight: enough that apply_async bursts rarely meet back-pressure, small enough that the
   control block stays ~100 KiB (each job slot is five cache lines). */
#define SHMPOOL_DEFAULT_DEPTH 256u
/* Live shmpool_alloc blocks (and staging blocks) at once. */
#define SHMPOOL_DEFAULT_SEGMENTS 4096u
/* How long idle workers and waiting callers spin before they sleep: longer than a futex round trip
   on a VM (~20-40 us), short enough that an idle pool costs nothing measurable. */
#define SHMPOOL_DEFAULT_SPIN_US 50u

/* ---- Sizes inside the control block ---- */

/* apply arguments and results up to this size travel in the job slot itself (no staging block). */
#define SHMPOOL_INLINE_BYTES 128
/* A ctx passed by value (the *_ctx calls) up to this size travels in the job slot: a C++ lambda
   capturing a few pointers and sizes, a solver's parameter struct. Bigger ones get a staging
   block, as a map's input does. */
#define SHMPOOL_INLINE_CTX_BYTES 256
/* How much of a parent-memory ctx passed by pointer is compared with the workers' view: enough for
   a parameter struct's first fields; never past the ctx's page (the next may not be mapped). */
#define SHMPOOL_CTX_PROBE_BYTES 64
/* Chunks of one job waiting to be run again after their worker died (task_retries). More dead
   workers than this in one job at once fail the job instead of queueing: say so, never drop. */
#define SHMPOOL_MAX_PENDING_RETRIES 16

/* ---- Waiting ---- */

/* A parent waiting for a job wakes at least this often to look at the helper's health: a dead
   helper is noticed within one slice. */
#define SHMPOOL_HEALTH_SLICE_NS (50u * 1000u * 1000u)

/* Cancel asks the workers in a job to end themselves (SIGUSR1, checked in their own context);
   one still in it after this long is stopped, blocks the signal or sits in a system call that does
   not return: it is SIGKILLed. Long enough for a handler to run on a loaded machine. */
#define SHMPOOL_CANCEL_GRACE_MS 1000u

/* ---- The parent's memory ---- */

/* At most this many freed results are kept for reuse (32 MiB; the rest go back to malloc). What
   malloc gets back is trimmed, and faulted in again on the next burst of submits: a page holds 32
   results and a fault costs 15-40 us on our VM, about a task's whole cost each. */
#define SHMPOOL_MAX_SPARE_RESULTS 262144u

/* ---- Array I/O ---- */

/* A raw stream (pipe, FIFO, device) is read into a shared block of this size first, doubled as it
   fills: small enough that a short pipe costs little, large enough that a big one is copied only a
   few times. The stream may grow only as far as shmpool_alloc can go (else -EFBIG). */
#define SHMPOOL_STREAM_FIRST_BYTES ((size_t)1 << 20)

/* ---- Staging ---- */

/* Freed staging blocks kept for the next call (staging.h): a map's input and output, a reduction's
   partials, a by-value ctx, with one to spare. */
#define SHMPOOL_STAGING_KEPT 4
/* A bigger block is freed at once: keeping it would hold that much /dev/shm for nothing. */
#define SHMPOOL_STAGING_KEPT_MAX_BYTES ((size_t)1 << 30)

#endif
