/* Results: wait, inspect, cancel, free; harvesting an ended job into its result. */
#include "result.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "callbacks.h"
#include "clock.h"
#include "imap.h"
#include "job.h"
#include "memcheck.h"
#include "message.h"
#include "procstat.h"
#include "staging.h"
#include "owner.h"
#include "tunables.h"
#include "wait.h"

static struct job *job_of(const shmpool_result *r) { return cb_job(r->pool->cb, desc_slot(r->desc)); }

bool shmpool__result_job_ended(const shmpool_result *r) {
    return atomic_load_explicit(&job_of(r)->completed, memory_order_acquire);
}

void shmpool__result_free_staging(shmpool_result *r) {
    shmpool *p = r->pool;
    if (r->staged_in_is_list) {
        void **list = r->staged_in;
        for (size_t i = 0; list[i]; i++)
            shmpool__staging_put(p, list[i]);
        free(list);
    } else if (r->staged_in) {
        shmpool__staging_put(p, r->staged_in);
    }
    if (r->staged_out)
        shmpool__staging_put(p, r->staged_out);
    if (r->staged_ctx)
        shmpool__staging_put(p, r->staged_ctx);
    r->staged_in = r->staged_out = r->staged_ctx = NULL;
    r->staged_in_is_list = false;
}

static void read_outcome(shmpool_result *r, const struct job *j) {
    shmpool *p = r->pool;
    bool ended = atomic_load_explicit(&j->completed, memory_order_acquire);
    uint64_t index = atomic_load(&j->fail_index);
    r->done = atomic_load(&j->items_done);
    r->code = j->fail_code;
    r->index = index == NO_ITEM ? SIZE_MAX : (size_t)index;
    if (!ended) /* nothing runs it any more: the pool was terminated or lost its helper */
        r->code = atomic_load(&p->broken) ? SHMPOOL_EHELPER : -ECANCELED;
    else if (r->code == 0 && atomic_load(&j->stop) == STOP_CANCELLED && r->done < r->total)
        r->code = -ECANCELED;
    shmpool__message_harvest(r, (struct job *)j);
}

static void harvest(shmpool_result *r, bool copy_back) {
    shmpool *p = r->pool;
    struct job *j = job_of(r);
    read_outcome(r, j);
    if (copy_back && r->out_inline) {
        WORKERS_DEFINED(j->inline_out, r->out_bytes);
        memcpy(r->user_out, j->inline_out, r->out_bytes);
    } else if (copy_back && r->staged_out) {
        WORKERS_DEFINED(r->staged_out, r->out_bytes);
        if (r->imap) /* next() copied what it handed out: the rest only (imap.h) */
            shmpool__imap_copy_back(r);
        else
            memcpy(r->user_out, r->staged_out, r->out_bytes);
    }
    if (r->imap)
        shmpool__imap_freeze(r, j);
    if (r->staged_in || r->staged_out || r->staged_ctx)
        shmpool__result_free_staging(r);
    shmpool__slots_release(&p->slots, p->cb, r->desc);
    atomic_store_explicit(&r->harvested, true, memory_order_release);
}

void shmpool__result_harvest(shmpool_result *r) { harvest(r, true); }

shmpool_result *shmpool__result_new(shmpool *p, size_t total) {
    shmpool_result *r = p->spare;
    if (r) {
        p->spare = r->next;
        p->nspare--;
        memset(r, 0, sizeof *r); /* nothing of the job it last held survives */
    } else if (!(r = calloc(1, sizeof *r))) {
        return NULL;
    }
    r->pool = p;
    r->magic = RESULT_LIVE;
    r->total = total;
    r->index = SIZE_MAX;
    return r;
}

void shmpool__result_link(shmpool_result *r) {
    shmpool *p = r->pool;
    r->next = p->results;
    if (p->results)
        p->results->prev = r;
    p->results = r;
}

void shmpool__result_recycle(shmpool_result *r) {
    shmpool *p = r->pool;
    shmpool__imap_drop(r);
    shmpool__callbacks_forget(r);
    if (r->prev)
        r->prev->next = r->next;
    else if (p->results == r)
        p->results = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = NULL;
    if (p->nspare >= SHMPOOL_MAX_SPARE_RESULTS) {
        free(r);
        return;
    }
    r->magic = RESULT_FREED;
    r->desc = 0; /* a stale handle names no job slot */
    r->next = p->spare;
    p->spare = r;
    p->nspare++;
}

/* Under the lock: wait until r is harvested (by us or another thread) or the deadline passes. The
   lock is dropped while waiting; r stays valid (only its owner frees it). 0 or -ETIMEDOUT. */
static int wait_harvested(shmpool_result *r, uint64_t deadline) {
    shmpool *p = r->pool;
    while (!r->harvested) {
        uint64_t d = r->desc;
        int rc = 0;
        if (!shmpool__result_job_ended(r)) {
            shmpool__slots_pin(&p->slots, d);
            pthread_mutex_unlock(&p->lock);
            rc = shmpool__wait_job(p, d, deadline);
            pthread_mutex_lock(&p->lock);
            shmpool__slots_unpin(&p->slots, d);
        }
        if (r->harvested)
            break;
        if (rc)
            return rc;
        shmpool__result_harvest(r); /* ended, or nothing will end it (code says which) */
    }
    return 0;
}

int shmpool_result_get(shmpool_result *r, int timeout_ms) {
    if (!r)
        return -EINVAL;
    int rc = shmpool__owner_check(r->pool);
    if (rc)
        return rc;
    if (atomic_load_explicit(&r->harvested, memory_order_acquire)) {
        shmpool__callbacks_run(r->pool, r); /* harvested elsewhere: its callback may be due */
        return r->code; /* harvested (e.g. while a submit waited for a slot): no lock needed */
    }
    shmpool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    rc = wait_harvested(r, shmpool__deadline(timeout_ms));
    if (!rc)
        rc = r->code;
    pthread_mutex_unlock(&p->lock);
    shmpool__callbacks_run(p, r); /* once harvested (callbacks.h) */
    return rc;
}

int shmpool_result_error(const shmpool_result *r, size_t *index) {
    if (index)
        *index = SIZE_MAX;
    if (!r)
        return -EINVAL;
    shmpool *p = r->pool;
    if (shmpool__owner_check(p))
        return -EPERM;
    pthread_mutex_lock(&p->lock);
    int code = 0;
    size_t idx = SIZE_MAX;
    if (r->harvested) {
        code = r->code;
        idx = r->index;
    } else if (shmpool__result_job_ended(r)) {
        struct job *j = job_of(r);
        uint64_t fi = atomic_load(&j->fail_index);
        code = j->fail_code;
        idx = fi == NO_ITEM ? SIZE_MAX : (size_t)fi;
    }
    pthread_mutex_unlock(&p->lock);
    if (index)
        *index = idx;
    return code;
}

int shmpool_result_ready(const shmpool_result *r) {
    if (!r)
        return -EINVAL;
    shmpool *p = r->pool;
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->lock);
    int ready = r->harvested || shmpool__result_job_ended(r);
    pthread_mutex_unlock(&p->lock);
    return ready ? 1 : 0;
}

void shmpool_result_progress(const shmpool_result *r, size_t *done, size_t *total) {
    size_t d = 0, t = 0;
    if (r && !shmpool__owner_check(r->pool)) {
        shmpool *p = r->pool;
        pthread_mutex_lock(&p->lock);
        t = r->total;
        d = r->harvested ? r->done : (size_t)atomic_load(&job_of(r)->items_done);
        pthread_mutex_unlock(&p->lock);
    }
    if (done)
        *done = d;
    if (total)
        *total = t;
}

/* Signal the workers now in the job of `desc`. */
static void signal_workers_in(struct control *cb, uint64_t desc, int sig) {
    for (unsigned i = 0; i < cb->nworkers; i++) {
        struct worker_slot *w = cb_worker(cb, i);
        pid_t pid = atomic_load(&w->pid);
        /* the start time check: a worker just reaped may have given its pid to a stranger */
        if (pid > 0 && atomic_load(&w->job) == desc &&
            shmpool__procstat_alive(pid, atomic_load(&w->start_ticks)))
            kill(pid, sig);
    }
}

/* Under the lock, r not harvested: stop its job and wait for what runs. Workers in the job end
   themselves on SIGUSR1 if, in their own context, they are still in a cancelled job (one that
   already moved on is not touched); one that is stopped, blocks the signal or does not return from
   a system call is SIGKILLed after a grace period. A job no worker is in ends here at once. */
static void cancel_locked(shmpool_result *r) {
    shmpool *p = r->pool;
    struct control *cb = p->cb;
    uint64_t d = r->desc;
    if (!shmpool__result_job_ended(r)) {
        shmpool__job_stop(job_of(r), STOP_CANCELLED);
        shmpool__job_end_if_idle(cb, d);
        signal_workers_in(cb, d, SIGUSR1);
    }
    shmpool__slots_pin(&p->slots, d);
    pthread_mutex_unlock(&p->lock);
    uint64_t grace = shmpool__now_ns() + (uint64_t)SHMPOOL_CANCEL_GRACE_MS * 1000000u;
    if (shmpool__wait_job(p, d, grace) == -ETIMEDOUT) {
        signal_workers_in(cb, d, SIGKILL);
        shmpool__wait_job(p, d, UINT64_MAX);
    }
    pthread_mutex_lock(&p->lock);
    shmpool__slots_unpin(&p->slots, d);
    if (!r->harvested)
        shmpool__result_harvest(r);
}

int shmpool_result_cancel(shmpool_result *r) {
    if (!r)
        return -EINVAL;
    int rc = shmpool__owner_check(r->pool);
    if (rc)
        return rc;
    shmpool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    if (!r->harvested)
        cancel_locked(r);
    pthread_mutex_unlock(&p->lock);
    shmpool__callbacks_run(p, r); /* the error callback with -ECANCELED, if it stopped the job */
    return 0;
}

void shmpool_result_free(shmpool_result *r) {
    if (!r || shmpool__owner_check(r->pool))
        return;
    shmpool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    if (r->magic != RESULT_LIVE) { /* freed twice: reusing it would hand it to two submissions */
        pthread_mutex_unlock(&p->lock);
        if (!(p->opt.flags & SHMPOOL_FLAG_QUIET))
            fprintf(stderr, "shmpool: shmpool_result_free(%p): result freed twice; ignored\n",
                    (void *)r);
        return;
    }
    if (!r->harvested && shmpool__result_job_ended(r))
        shmpool__result_harvest(r); /* ended: nothing to cancel, one lock round trip */
    if (!r->harvested)
        cancel_locked(r);
    if (!shmpool__callbacks_before_free(r)) { /* r's own callback frees r: refused */
        pthread_mutex_unlock(&p->lock);
        if (!(p->opt.flags & SHMPOOL_FLAG_QUIET))
            fprintf(stderr, "shmpool: shmpool_result_free(%p) inside its own callback; ignored\n",
                    (void *)r);
        return;
    }
    shmpool__result_recycle(r);
    pthread_mutex_unlock(&p->lock);
}

void shmpool__results_stop_all(shmpool *p) {
    for (shmpool_result *r = p->results; r; r = r->next)
        if (!r->harvested)
            shmpool__job_stop(job_of(r), STOP_CANCELLED);
}

void shmpool__results_wait_all(shmpool *p) {
    /* Restart from the head after every wait: the lock was dropped, and the result we waited on
       may have been freed by its owner meanwhile. */
    for (;;) {
        shmpool_result *r = p->results;
        while (r && (r->harvested || shmpool__result_job_ended(r)))
            r = r->next;
        if (!r)
            return;
        uint64_t d = r->desc;
        shmpool__slots_pin(&p->slots, d);
        pthread_mutex_unlock(&p->lock);
        shmpool__wait_job(p, d, UINT64_MAX);
        pthread_mutex_lock(&p->lock);
        shmpool__slots_unpin(&p->slots, d);
        shmpool_result *o = shmpool__slots_owner(&p->slots, d); /* r itself may be freed */
        if (o && !shmpool__result_job_ended(o))
            return; /* nothing will end it (helper gone): destroy discards it */
    }
}

void shmpool__results_free_all(shmpool *p) {
    while (p->results) {
        shmpool_result *r = p->results;
        p->results = r->next;
        if (!r->harvested)
            harvest(r, false); /* its buffers may be gone: nobody reads it any more */
        shmpool__imap_drop(r);
        free(r);
    }
    while (p->spare) {
        shmpool_result *r = p->spare;
        p->spare = r->next;
        free(r);
    }
}
