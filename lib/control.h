/* The control block: the one piece of memory that the parent, the fork helper and every worker
 * share from the start. It is an anonymous MAP_SHARED mapping made before the first fork, so it
 * has no name to leak and sits at the same address in every process; pointers into it are valid
 * everywhere (the layout still records offsets, so it can be checked and dumped).
 *
 *   +----------------+ offset 0
 *   | struct control |  header: magic, layout version, sizes; counters on their own cache lines
 *   +----------------+ workers_off
 *   | worker_slot[W] |  pid, state, and what each worker holds: ring claim, job, item
 *   +----------------+ jobs_off
 *   | job[J]         |  parameters, chunk counter, failure record, completion semaphore
 *   +----------------+ segs_off
 *   | seg_entry[S]   |  the /dev/shm segments of shmpool_alloc, for workers to map
 *   +----------------+ ring_off
 *   | ring           |  J cells of one 64-bit descriptor: (job generation << 32) | job slot
 *   +----------------+
 */
#ifndef SHMPOOL_CONTROL_H
#define SHMPOOL_CONTROL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ring.h"
#include "shmpool.h"
#include "tunables.h"

#define CB_MAGIC 0x53484d50u /* "SHMP" */
#define CB_LAYOUT 1u
#define CACHELINE 64
#define NO_ITEM UINT64_MAX    /* worker_slot.item when no item runs */
#define SEG_NAME_MAX 64

/* A descriptor names a job slot and the generation it had when the work was submitted; a worker
   that pops a descriptor whose generation is gone drops it. Never 0 (generations start at 1). */
static inline uint64_t desc_make(uint32_t slot, uint32_t gen) { return ((uint64_t)gen << 32) | slot; }
static inline uint32_t desc_slot(uint64_t d) { return (uint32_t)d; }
static inline uint32_t desc_gen(uint64_t d) { return (uint32_t)(d >> 32); }

enum worker_state {
    W_EMPTY = 0, /* no process in this slot */
    W_STARTING,  /* forked, running the initializer */
    W_READY,     /* running tasks */
    W_BROKEN,    /* the initializer failed: fails the next task it takes, then exits */
    W_EXITING,   /* leaving on purpose (max tasks reached, or shutdown) */
};

struct worker_slot {
    _Alignas(CACHELINE) _Atomic int32_t pid;
    _Atomic uint32_t state;
    _Atomic int32_t init_rc;   /* the initializer's code when W_BROKEN */
    _Atomic uint64_t seg_seen; /* the segment generation this worker has mapped */
    _Atomic uint64_t claim;    /* ring position + 1 while a pop is in progress or just done */
    uint64_t held;             /* the descriptor last popped (written by the ring's copy) */
    _Atomic uint64_t job;      /* hazard: the descriptor of the job it is in, 0 if none */
    _Atomic uint64_t posting;  /* hazard: the job whose completion it is checking or posting */
    _Atomic uint64_t item;     /* the item index it runs, NO_ITEM between items */
    _Atomic uint64_t resume;   /* a descriptor the next worker in this slot should join first */
    _Atomic uint64_t task_start_ns; /* when the running task began (for task_timeout_ms), 0 idle */
    _Atomic uint64_t tasks;    /* tasks run by the process now in this slot */
    _Atomic uint32_t timed_out; /* it ended itself for running past task_timeout_ms */
    _Atomic uint32_t asleep;   /* futex word: 1 while idle and not yet claimed by a waker */
    _Atomic uint32_t spinning; /* counted (or about to be) in `spinners`: the helper uncounts a
                                  worker that dies spinning */
    _Atomic uint64_t start_ticks; /* the process's start time (/proc stat): tells it from a later
                                     process that reuses its pid */
};

enum job_kind { JOB_MAP = 1, JOB_STARMAP, JOB_APPLY, JOB_FOR, JOB_FOR_ID, JOB_REDUCE };
enum job_stop { STOP_NONE = 0, STOP_FAILED, STOP_CANCELLED };

/* Laid out by who touches what for a small job (an apply): the parameters, then one hot line of
   claim and completion, then the inline output, then what only failures and starmap use. A task
   moves a handful of cache lines between the parent and a worker; each costs ~100 ns across cores
   on a VM, as much as everything else the task does. */
struct job {
    /* Parameters: written by the parent before the descriptor is pushed (the ring's release
       publishes them), read-only while the job runs. Small apply arguments share their line. */
    _Alignas(CACHELINE) _Atomic uint32_t gen; /* bumped when the slot is retired */
    uint32_t kind;
    void (*fn)(void);
    void *ctx;
    const char *in;
    char *out;
    size_t n, chunk, nchunks;
    size_t in_size, out_size;
    uint32_t k; /* starmap columns */
    size_t base; /* for: added to the indices passed to fn (a part of a distributed range) */
    size_t all_chunks;  /* chunks of the whole range (shmpool_chunk_id.count) */
    size_t first_chunk; /* the whole range's index of this part's chunk 0 (base / whole chunk):
                           a part's own chunk is clipped to its length, the whole's is not */
    _Atomic uint64_t *done_bits; /* imap jobs (imap.h): bit c set once chunk c ran to its end
                                    without failing (an arena block); NULL for other jobs */
    unsigned char inline_in[SHMPOOL_INLINE_BYTES];

    _Alignas(CACHELINE) _Atomic uint64_t next; /* the next chunk to claim */
    _Atomic uint64_t items_done;
    _Atomic uint32_t stop;                     /* enum job_stop */
    _Atomic uint32_t completed;                /* set once, by whoever posts `done` */
    _Atomic uint32_t retries_left;
    _Atomic uint32_t nretry;                   /* chunks waiting to be run again */
    _Atomic uint32_t callers;                  /* calling threads running chunks of it now
                                                  (SHMPOOL_FLAG_CALLER_RUNS): it has not ended */
    sem_t done;                                /* posted once when the job ends */

    _Alignas(CACHELINE) unsigned char inline_out[SHMPOOL_INLINE_BYTES];

    _Alignas(CACHELINE) pthread_mutex_t fail_lock; /* robust, process-shared */
    int fail_code;                             /* the lowest failing index's code */
    _Atomic uint64_t fail_index;               /* NO_ITEM if none is known; only falls */
    uint64_t retry[SHMPOOL_MAX_PENDING_RETRIES];                        /* indices of chunks to run again (fail_lock) */
    const char *cols[SHMPOOL_MAX_COLUMNS];
    size_t sizes[SHMPOOL_MAX_COLUMNS];
    /* reduce: chunk c of the whole range (first_chunk + local c) folds into
       partials + c * acc_stride, which starts as a copy of the identity */
    char *partials;
    const char *identity;
    size_t acc_size, acc_stride;
    /* A parent-memory ctx passed by pointer: its first bytes as the parent saw them at submission,
       for workers to compare with their own view (ctx.h). 0: nothing to compare. */
    uint32_t probe_len;
    unsigned char probe[SHMPOOL_CTX_PROBE_BYTES];

    _Alignas(CACHELINE) unsigned char inline_ctx[SHMPOOL_INLINE_CTX_BYTES]; /* ctx by value */

    /* The lowest failing index's message (shmpool_task_fail_message), "" if none; written with
       fail_code, under fail_lock (message.c). Cold: only failures touch it. */
    _Alignas(CACHELINE) char fail_msg[SHMPOOL_TASK_MESSAGE_MAX];
};

struct seg_entry {
    _Atomic uint64_t id;       /* 0: free; else unique, never reused; names the segment */
    _Atomic uint64_t gen;      /* the value of seg_gen that published it */
    _Atomic uint64_t offset;   /* inside the arena */
    _Atomic uint64_t length;
    _Atomic uint64_t unlinked; /* the id whose /dev/shm name has been removed */
};

enum shutdown_mode { RUNNING = 0, SHUTDOWN_IDLE = 1, SHUTDOWN_NOW = 2 };

struct control {
    uint32_t magic, layout;
    uint64_t bytes;
    uint32_t nworkers, njobs, nsegs, flags;
    uint32_t spin_us, max_tasks, task_retries, task_timeout_ms;
    uint32_t worker_threads;  /* OpenMP/BLAS threads a worker's tasks may use (threads.h) */
    pid_t parent_pid;
    _Atomic pid_t helper_pid;
    int lifeline_fd;          /* the helper's end of the parent's lifeline pipe (helper.h) */
    char *arena_base;
    size_t arena_bytes;
    int (*initializer)(void *);
    void *initializer_arg;
    size_t workers_off, jobs_off, segs_off, ring_off;
    uint32_t jobs_ready;                           /* job slots initialised so far (parent) */

    _Alignas(CACHELINE) _Atomic uint32_t shutdown; /* enum shutdown_mode */
    _Atomic uint32_t sleepers;                     /* workers asleep and not yet claimed (or about
                                                      to be): wakers skip the scan when 0 */
    _Atomic uint32_t spinners;                     /* idle workers spinning now */
    uint32_t max_spinners;                         /* usable CPUs - 1 (the waiting parent spins) */
    sem_t started;                                 /* one post per worker that finished starting */

    _Alignas(CACHELINE) _Atomic uint64_t seg_gen;  /* seqlock over the segment table: odd while
                                                      the parent changes it */
    _Atomic uint32_t seg_hwm;                      /* entries in use are below this index */
    uint64_t seg_key[2];                           /* SipHash key: segment names unpredictable */
    _Atomic uint64_t helper_seg_seen;              /* the helper maps segments too */
    _Atomic uint64_t helper_posting;               /* the helper's completion hazard */
    _Atomic uint64_t cancel_desc;                  /* a job whose workers the helper must kill */

    /* The pool's event word (events.h): bumped, with a futex wake, when a job ends or an imap
       chunk finishes while a parent thread sleeps on it (bit 0 set). Written by the parent only
       to sleep, by workers only to wake a sleeper: otherwise only read. */
    _Alignas(CACHELINE) _Atomic uint32_t events;
};

static inline struct worker_slot *cb_worker(struct control *cb, unsigned i) {
    return (struct worker_slot *)((char *)cb + cb->workers_off) + i;
}
static inline struct job *cb_job(struct control *cb, unsigned i) {
    return (struct job *)((char *)cb + cb->jobs_off) + i;
}
static inline struct seg_entry *cb_seg(struct control *cb, unsigned i) {
    return (struct seg_entry *)((char *)cb + cb->segs_off) + i;
}
static inline struct ring *cb_ring(struct control *cb) {
    return (struct ring *)((char *)cb + cb->ring_off);
}

_Static_assert(sizeof(struct worker_slot) % CACHELINE == 0, "worker slots are whole cache lines");
_Static_assert(sizeof(struct job) % CACHELINE == 0, "jobs are whole cache lines");

struct control_params {
    unsigned nworkers, njobs, nsegs;
};
/* Map and initialise a control block (header, worker table, the ring; job slots on first use). */
int shmpool__control_create(struct control **out, const struct control_params *p);
void shmpool__control_destroy(struct control *cb);
/* Parent: initialise the next never-used job slot (index cb->jobs_ready). 0, -EBUSY when all
   are in use already, or -errno. */
int shmpool__job_slot_init(struct control *cb);
/* Reset a retired job slot for reuse (no worker may hold it: see shmpool__job_retire). */
void shmpool__job_slot_reset(struct job *j);

#endif
