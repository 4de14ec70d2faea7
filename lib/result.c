/* Results (Python's AsyncResult): wait, inspect, cancel, free. A result holds its job slot until
 * its outcome is harvested: copied into the result (code, index, items done) and its outputs copied
 * back to parent memory; then the slot is retired for reuse. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "clock.h"
#include "job.h"
#include "pool.h"
#include "tunables.h"

/* Under valgrind's memcheck, bytes that a worker wrote into shared memory keep, in the parent's
   shadow, whatever definedness the parent last gave them (memcheck sees one process): staged
   outputs begin as a copy of the caller's possibly uninitialised buffer. Say that the workers
   defined them. A no-op outside valgrind; absent without valgrind's header. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define WORKERS_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif
#ifndef WORKERS_DEFINED
#define WORKERS_DEFINED(p, n) ((void)(p), (void)(n))
#endif

void shmpool__result_free_staging(shmpool_result *r) {
    shmpool *p = r->pool;
    if (r->staged_in_is_list) {
        void **list = r->staged_in;
        for (size_t i = 0; list[i]; i++)
            shmpool__arena_free(p->arena, list[i], true);
        free(list);
    } else if (r->staged_in) {
        shmpool__arena_free(p->arena, r->staged_in, true);
    }
    if (r->staged_out)
        shmpool__arena_free(p->arena, r->staged_out, true);
    r->staged_in = r->staged_out = NULL;
    r->staged_in_is_list = false;
}

static void harvest(shmpool_result *r, bool copy_back);

void shmpool__result_harvest(shmpool_result *r) { harvest(r, true); }

void shmpool__result_discard(shmpool_result *r) { harvest(r, false); }

static void harvest(shmpool_result *r, bool copy_back) {
    shmpool *p = r->pool;
    struct control *cb = p->cb;
    uint32_t slot = desc_slot(r->desc);
    struct job *j = cb_job(cb, slot);
    bool ended = atomic_load_explicit(&j->completed, memory_order_acquire);
    r->done = atomic_load(&j->items_done);
    r->code = j->fail_code;
    r->index = j->fail_index == NO_ITEM ? SIZE_MAX : (size_t)j->fail_index;
    if (!ended) /* nothing runs it any more: the pool was terminated or lost its helper */
        r->code = p->broken ? SHMPOOL_EHELPER : -ECANCELED;
    else if (r->code == 0 && atomic_load(&j->stop) == STOP_CANCELLED && r->done < r->total)
        r->code = -ECANCELED;
    if (copy_back && r->out_inline) {
        WORKERS_DEFINED(j->inline_out, r->out_bytes);
        memcpy(r->user_out, j->inline_out, r->out_bytes);
    } else if (copy_back && r->staged_out) {
        WORKERS_DEFINED(r->staged_out, r->out_bytes);
        memcpy(r->user_out, r->staged_out, r->out_bytes);
    }
    if (r->staged_in || r->staged_out)
        shmpool__result_free_staging(r);
    p->owner[slot] = NULL;
    uint64_t old = shmpool__job_retire_begin(cb, slot);
    if (shmpool__job_retire_done(cb, old))
        p->free_jobs[p->nfree_jobs++] = slot;
    else
        p->retiring[p->nretiring++] = old;
    atomic_store_explicit(&r->harvested, true, memory_order_release);
}


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
    if (r->prev)
        r->prev->next = r->next;
    else if (p->results == r)
        p->results = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (p->nspare >= SHMPOOL_MAX_SPARE_RESULTS) {
        free(r);
        return;
    }
    r->desc = 0; /* a stale handle names no job slot */
    r->next = p->spare;
    p->spare = r;
    p->nspare++;
}

static bool job_ended(const shmpool_result *r) {
    return atomic_load_explicit(&cb_job(r->pool->cb, desc_slot(r->desc))->completed,
                                memory_order_acquire);
}

int shmpool_result_get(shmpool_result *r, int timeout_ms) {
    if (!r)
        return -EINVAL;
    if (atomic_load_explicit(&r->harvested, memory_order_acquire))
        return r->code; /* harvested (e.g. while a submit waited for a slot): no lock needed */
    shmpool *p = r->pool;
    uint64_t deadline = shmpool__deadline(timeout_ms);
    pthread_mutex_lock(&p->lock);
    if (!r->harvested && !job_ended(r)) {
        r->waiters++;
        pthread_mutex_unlock(&p->lock);
        int rc = shmpool__pool_wait_job(p, r, deadline);
        pthread_mutex_lock(&p->lock);
        r->waiters--;
        if (rc) {
            pthread_mutex_unlock(&p->lock);
            return rc;
        }
    }
    if (!r->harvested)
        shmpool__result_harvest(r);
    int code = r->code;
    pthread_mutex_unlock(&p->lock);
    return code;
}

int shmpool_result_error(const shmpool_result *r, size_t *index) {
    if (index)
        *index = SIZE_MAX;
    if (!r)
        return -EINVAL;
    shmpool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    int code = 0;
    size_t idx = SIZE_MAX;
    if (r->harvested) {
        code = r->code;
        idx = r->index;
    } else {
        struct job *j = cb_job(p->cb, desc_slot(r->desc));
        if (atomic_load_explicit(&j->completed, memory_order_acquire)) {
            code = j->fail_code;
            idx = j->fail_index == NO_ITEM ? SIZE_MAX : (size_t)j->fail_index;
        }
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
    pthread_mutex_lock(&p->lock);
    int ready = r->harvested ||
                atomic_load_explicit(&cb_job(p->cb, desc_slot(r->desc))->completed, memory_order_acquire);
    pthread_mutex_unlock(&p->lock);
    return ready ? 1 : 0;
}

void shmpool_result_progress(const shmpool_result *r, size_t *done, size_t *total) {
    size_t d = 0, t = 0;
    if (r) {
        shmpool *p = r->pool;
        pthread_mutex_lock(&p->lock);
        t = r->total;
        d = r->harvested ? r->done : (size_t)atomic_load(&cb_job(p->cb, desc_slot(r->desc))->items_done);
        pthread_mutex_unlock(&p->lock);
    }
    if (done)
        *done = d;
    if (total)
        *total = t;
}

int shmpool_result_cancel(shmpool_result *r) {
    if (!r)
        return -EINVAL;
    shmpool *p = r->pool;
    struct control *cb = p->cb;
    pthread_mutex_lock(&p->lock);
    if (r->harvested) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    struct job *j = cb_job(cb, desc_slot(r->desc));
    if (!atomic_load(&j->completed)) {
        shmpool__job_stop(j, STOP_CANCELLED);
        /* Workers in the job end themselves on SIGUSR1 if, in their own context, they are still
           in a cancelled job: a worker that already moved on is not touched. */
        for (unsigned i = 0; i < cb->nworkers; i++) {
            struct worker_slot *w = cb_worker(cb, i);
            pid_t pid = atomic_load(&w->pid);
            if (pid > 0 && atomic_load(&w->job) == r->desc)
                kill(pid, SIGUSR1);
        }
    }
    r->waiters++;
    pthread_mutex_unlock(&p->lock);
    shmpool__pool_wait_job(p, r, UINT64_MAX);
    pthread_mutex_lock(&p->lock);
    r->waiters--;
    if (!r->harvested)
        shmpool__result_harvest(r);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void shmpool_result_free(shmpool_result *r) {
    if (!r)
        return;
    shmpool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    if (!r->harvested && job_ended(r))
        shmpool__result_harvest(r); /* ended: nothing to cancel, one lock round trip */
    if (!r->harvested) {
        pthread_mutex_unlock(&p->lock);
        shmpool_result_cancel(r);
        pthread_mutex_lock(&p->lock);
    }
    shmpool__result_recycle(r);
    pthread_mutex_unlock(&p->lock);
}
