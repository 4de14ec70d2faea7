/* The parent's state of a pool: what only the creating process holds. Shared state lives in the
 * control block (control.h); this is bookkeeping under one mutex, `lock`: the job-slot table, the
 * results, the arena's free ranges. Fields read without the lock are atomic. */
#ifndef SHMPOOL_STATE_H
#define SHMPOOL_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "slots.h"
#include "tunables.h"

struct dist_ops;
struct ctx_snapshot;

enum pool_state { POOL_OPEN, POOL_CLOSED, POOL_TERMINATED, POOL_JOINED };

struct shmpool {
    struct control *cb;
    struct arena *arena;
    pthread_mutex_t lock;
    pid_t owner_pid;            /* the process that created the pool */
    unsigned owner_epoch;       /* its fork epoch at create (owner.h) */
    _Atomic int state;          /* enum pool_state; written under the lock */
    _Atomic bool broken;        /* the helper died: nothing runs any more */
    _Atomic pid_t helper_pid;   /* 0 once reaped */
    int lifeline;               /* write end of the helper's lifeline (helper.h), -1 if none */
    shmpool_options opt;
    struct slots slots;
    struct shmpool_result *results; /* every result not yet freed */
    struct shmpool_result *spare;   /* freed results kept for reuse (linked by next) */
    uint32_t nspare;
    const struct dist_ops *dist;    /* a distributor (dist.h), or NULL */
    void *dist_state;
    struct ctx_snapshot *snapshot;  /* the workers' readable memory at create (ctx.h) */
    void *kept[SHMPOOL_STAGING_KEPT]; /* staging blocks kept for reuse (staging.h), under lock */
    size_t kept_size[SHMPOOL_STAGING_KEPT];
    struct shmpool_result *cb_head, *cb_tail; /* results with callbacks not run yet (callbacks.h) */
    _Atomic uint64_t *imap_kept[SHMPOOL_IMAP_KEPT]; /* freed imap bitmaps kept for reuse (imap.c) */
    unsigned nimap_kept;
};

#endif
