/* Results (Python's AsyncResult). A result holds its job slot until its outcome is harvested:
 * copied into the result (code, index, items done) and its outputs copied back to parent memory;
 * then the slot is given back to the slot table (slots.h). Any thread may harvest any result whose
 * job has ended, under the pool's lock; a result's own get/cancel/free never wait on another
 * result, only on a pinned descriptor. */
#ifndef SHMPOOL_RESULT_H
#define SHMPOOL_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define RESULT_LIVE 0x4c495645u  /* "LIVE" */
#define RESULT_FREED 0x46524545u /* "FREE": in the spare list; a second free is refused */

struct shmpool_result {
    shmpool *pool;
    struct shmpool_result *prev, *next;
    uint32_t magic;      /* RESULT_LIVE or RESULT_FREED */
    uint64_t desc;       /* the job's descriptor while it holds its slot */
    _Atomic bool harvested; /* outcome copied out, slot given back; set (release) under the lock,
                               after which the outcome never changes: get reads it without */
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
    void *staged_ctx;             /* a ctx by value too big for the job slot */
    bool out_inline;
    /* results as they complete (imap.h, callbacks.h), under the lock */
    struct imap *imap;            /* next()'s state: made at submission (imap) or by next() */
    shmpool_done_fn on_ok;        /* callbacks: run once, when the outcome is known */
    shmpool_error_fn on_err;
    void *cb_arg;
    _Atomic int cb_state;         /* enum cb_state */
    pthread_t cb_thread;          /* the thread running them (CB_RUNNING) */
    struct shmpool_result *cb_prev, *cb_next; /* the pool's pending callbacks (CB_PENDING) */
    char message[SHMPOOL_TASK_MESSAGE_MAX]; /* the failing task's message, valid once harvested */
};

/* Under the lock: a zeroed result for `total` items; NULL if out of memory. Freed results are
   reused: a task costs no calloc/free pair. */
shmpool_result *shmpool__result_new(shmpool *p, size_t total);
/* Under the lock: free r's staging blocks. */
void shmpool__result_free_staging(shmpool_result *r);
/* Under the lock: add r to the pool's results (once its job is set up: others walk the list). */
void shmpool__result_link(shmpool_result *r);
/* Under the lock: unlink r (if linked; harvested or never submitted) and keep it for reuse. */
void shmpool__result_recycle(shmpool_result *r);
/* Under the lock: copy the ended job's outcome and outputs into r and give its slot back. */
void shmpool__result_harvest(shmpool_result *r);
/* Under the lock: true if r's job has ended (r not yet harvested). */
bool shmpool__result_job_ended(const shmpool_result *r);

/* For the pool's lifecycle (pool.c), under the lock unless said: */
/* Stop every job not yet harvested (terminate). */
void shmpool__results_stop_all(shmpool *p);
/* Wait (dropping the lock) until every job submitted so far has ended (join after close). */
void shmpool__results_wait_all(shmpool *p);
/* Free every result, outputs not copied back (destroy: nobody reads them any more). No lock. */
void shmpool__results_free_all(shmpool *p);

#endif
