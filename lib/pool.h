/* The parent's side of a pool: what only the creating process holds. Shared state lives in the
 * control block (control.h); this is bookkeeping under one mutex: free job slots, results, the
 * arena's free ranges. */
#ifndef SHMPOOL_POOL_H
#define SHMPOOL_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "control.h"

struct dist_ops;

enum pool_state { POOL_OPEN, POOL_CLOSED, POOL_TERMINATED, POOL_JOINED };

struct shmpool {
    struct control *cb;
    struct arena *arena;
    pthread_mutex_t lock;
    pid_t owner_pid;       /* the process that created the pool */
    enum pool_state state;
    bool broken;           /* the helper died: nothing runs any more */
    pid_t helper_pid;
    shmpool_options opt;
    uint32_t *free_jobs;   /* job slots ready for reuse */
    uint32_t nfree_jobs;
    uint64_t *retiring;    /* descriptors of slots waiting for their last hazard to clear */
    uint32_t nretiring;
    struct shmpool_result *results; /* every result not yet freed */
    struct shmpool_result *spare;   /* freed results kept for reuse (linked by next) */
    uint32_t nspare;
    struct shmpool_result **owner;  /* owner[slot]: the result holding a job slot, or NULL */
    uint64_t *fifo;                 /* descriptors in submission order (stale ones skipped) */
    uint32_t fifo_head, fifo_len, fifo_cap;
    const struct dist_ops *dist; /* a distributor (dist.h), or NULL */
    void *dist_state;
};

struct shmpool_result {
    shmpool *pool;
    struct shmpool_result *prev, *next;
    uint64_t desc;       /* the job's descriptor while it holds its slot */
    _Atomic bool harvested; /* outcome copied out, slot given back; set (release) under the lock,
                               after which the outcome never changes: get reads it without */
    int waiters;         /* threads in get(): others must not harvest under them */
    size_t total;        /* items */
    /* outcome, valid once harvested */
    int code;
    size_t index;
    size_t done;
    /* copy-back */
    void *user_out;
    size_t out_bytes;
    void *staged_in, *staged_out; /* shmpool_alloc staging, freed at harvest */
    bool staged_in_is_list;       /* starmap: staged_in is a NULL-ended malloc'd list of blocks */
    bool out_inline;
};

/* Flags the pool was created with (array I/O reads SHMPOOL_FLAG_NO_IO_URING). */
uint32_t shmpool__pool_flags(const shmpool *pool);

/* Under pool->lock: a zeroed result for `total` items; NULL if out of memory. Freed results are
   reused: a task costs no calloc/free pair. */
shmpool_result *shmpool__result_new(shmpool *p, size_t total);
/* Under pool->lock: free r's staging blocks. */
void shmpool__result_free_staging(shmpool_result *r);
/* Under pool->lock: add r to the pool's results (once its job is set up: others walk the list). */
void shmpool__result_link(shmpool_result *r);
/* Under pool->lock: unlink r (if linked; harvested or never submitted) and keep it for reuse. */
void shmpool__result_recycle(shmpool_result *r);
/* Under pool->lock: record that r now holds its job slot (r->desc set). */
void shmpool__pool_hold_slot(shmpool *p, shmpool_result *r);
/* Under pool->lock: a free job slot, waiting (lock dropped meanwhile) while every slot is busy.
   0 or -ESHUTDOWN / SHMPOOL_EHELPER. */
int shmpool__pool_take_slot(shmpool *p, uint32_t *slot);
/* Under pool->lock: copy the ended job's outcome and outputs into r and give its slot back. */
void shmpool__result_harvest(shmpool_result *r);
/* The same without copying outputs back: destroy ends results nobody will read. */
void shmpool__result_discard(shmpool_result *r);
/* Wait until r's job ends or deadline passes (lock not held). 0 or -ETIMEDOUT. */
int shmpool__pool_wait_job(shmpool *p, shmpool_result *r, uint64_t deadline_ns);
/* Push `copies` descriptors, waiting while the ring is full, and wake workers. */
int shmpool__pool_push(shmpool *p, uint64_t desc, unsigned copies);
/* Notice a dead helper: then every job ends with SHMPOOL_EHELPER. True if the pool is usable. */
bool shmpool__pool_alive(shmpool *p);

#endif
