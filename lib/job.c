/* Memory ordering: every hazard store (worker_slot.job / .posting) and every check of another
 * process's hazard is seq_cst, as is the generation bump at retire: the store-then-load pairs
 * (worker: set hazard, then read gen; parent: bump gen, then read hazards; leaver: clear own
 * hazard, then read the others') are Dekker's pattern, so at least one side sees the other.
 * The job's parameters are plain fields written before the descriptor is pushed; the ring's
 * release/acquire on the cell publishes them to the worker that pops it. */
#include "job.h"

#include <errno.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>

#include "clock.h"
#include "ctx.h"
#include "events.h"
#include "imap.h"
#include "message.h"

static int lock_robust(pthread_mutex_t *m) {
    int rc = pthread_mutex_lock(m);
    if (rc == EOWNERDEAD) /* its holder died; the record it guards is always consistent */
        pthread_mutex_consistent(m);
    return 0;
}

void shmpool__job_fail(struct job *j, uint64_t index, int code) {
    lock_robust(&j->fail_lock);
    bool lowest = j->fail_code == 0 || index < j->fail_index;
    if (lowest) {
        j->fail_index = index;
        j->fail_code = code;
    }
    shmpool__message_record(j->fail_msg, lowest);
    pthread_mutex_unlock(&j->fail_lock);
    shmpool__job_stop(j, STOP_FAILED);
}

/* Whether claimed chunk c is dropped: after a cancel every one; after a failure those that start
   above the lowest failing index. Chunks below it still run to their end (the serial loop's
   `break`: out[0 .. index) is complete, and a lower failing item is still found). fail_index only
   falls and is written before `stop`, so a stale read runs a chunk that could have been dropped,
   never drops one that must run. */
static bool skip_chunk(const struct job *j, uint64_t c) {
    uint32_t stop = atomic_load(&j->stop);
    if (stop == STOP_NONE)
        return false;
    if (stop == STOP_CANCELLED)
        return true;
    return c * j->chunk > atomic_load(&j->fail_index);
}

void shmpool__job_stop(struct job *j, enum job_stop why) {
    if (why == STOP_CANCELLED) {
        atomic_store(&j->stop, STOP_CANCELLED); /* overrides a failure: nothing more runs */
    } else {
        uint32_t none = STOP_NONE;
        atomic_compare_exchange_strong(&j->stop, &none, (uint32_t)why);
    }
    /* Chunks not claimed yet are dropped now: claims go in increasing order, so every one of them
       lies above any chunk that failed. Even if every worker in the job dies, nobody has to come
       back to claim them for the job to end. Later fetch_adds only push `next` further. */
    uint64_t next = atomic_load(&j->next);
    while (next < j->nchunks && !atomic_compare_exchange_weak(&j->next, &next, j->nchunks))
        ;
    if (why == STOP_CANCELLED) { /* after a failure, retries below the failing index still run */
        lock_robust(&j->fail_lock);
        atomic_store(&j->nretry, 0);
        pthread_mutex_unlock(&j->fail_lock);
    }
}

bool shmpool__job_retry(struct job *j, uint64_t c) {
    bool ok = false;
    lock_robust(&j->fail_lock);
    uint32_t n = atomic_load(&j->nretry);
    if (atomic_load(&j->retries_left) > 0 && n < SHMPOOL_MAX_PENDING_RETRIES && !skip_chunk(j, c)) {
        atomic_fetch_sub(&j->retries_left, 1);
        j->retry[n] = c;
        atomic_store(&j->nretry, n + 1);
        ok = true;
    }
    pthread_mutex_unlock(&j->fail_lock);
    return ok;
}

static bool take_retry(struct job *j, uint64_t *c) {
    bool ok = false;
    lock_robust(&j->fail_lock);
    uint32_t n = atomic_load(&j->nretry);
    if (n > 0) {
        *c = j->retry[n - 1];
        atomic_store(&j->nretry, n - 1);
        ok = true;
    }
    pthread_mutex_unlock(&j->fail_lock);
    return ok;
}

/* The index shmpool_worker_index() reports: a worker's slot in its process, the worker count in a
   calling thread while it runs chunks, -1 elsewhere. */
static _Thread_local int runner_index = -1;

int shmpool_worker_index(void) { return runner_index; }

void shmpool__set_runner_index(int index) { runner_index = index; }

static bool anyone_in(struct control *cb, uint64_t desc) {
    for (unsigned i = 0; i < cb->nworkers; i++)
        if (atomic_load(&cb_worker(cb, i)->job) == desc)
            return true;
    return false;
}

/* If nothing of the job is left to claim, retry or run, end it: whoever wins the CAS posts once. */
static void end_if_idle(struct control *cb, struct job *j, uint64_t desc) {
    if (atomic_load(&j->next) >= j->nchunks && atomic_load(&j->nretry) == 0 &&
        atomic_load(&j->callers) == 0 && !anyone_in(cb, desc)) {
        uint32_t zero = 0;
        if (atomic_compare_exchange_strong(&j->completed, &zero, 1)) {
            sem_post(&j->done);
            shmpool__events_notify(cb); /* wait_any, next, poll (events.h) */
        }
    }
}

void shmpool__job_leave(struct control *cb, _Atomic uint64_t *job_word, _Atomic uint64_t *posting,
                        uint64_t desc) {
    struct job *j = cb_job(cb, desc_slot(desc));
    atomic_store(posting, desc); /* keeps the slot from being retired while we look at it */
    atomic_store(job_word, 0);
    end_if_idle(cb, j, desc);
    atomic_store_explicit(posting, 0, memory_order_release);
}

void shmpool__job_end_if_idle(struct control *cb, uint64_t desc) {
    end_if_idle(cb, cb_job(cb, desc_slot(desc)), desc);
}

/* Runs chunk c, publishing the item it is at in *item (what a death is blamed on). Returns 0 or
   the failing item's code (already recorded). */
static int run_chunk(struct control *cb, struct job *j, _Atomic uint64_t *item, uint64_t c) {
    size_t b = (size_t)c * j->chunk;
    size_t e = j->n - b < j->chunk ? j->n : b + j->chunk;
    int rc = 0;
    size_t i = b;
    switch (j->kind) {
    case JOB_MAP:
    case JOB_APPLY: {
        shmpool_fn fn = (shmpool_fn)j->fn;
        for (; i < e; i++) {
            atomic_store_explicit(item, i, memory_order_relaxed);
            rc = fn(j->in ? j->in + i * j->in_size : NULL, j->out ? j->out + i * j->out_size : NULL,
                    j->ctx);
            if (rc)
                break;
        }
        break;
    }
    case JOB_STARMAP: {
        shmpool_star_fn fn = (shmpool_star_fn)j->fn;
        const void *args[SHMPOOL_MAX_COLUMNS];
        for (; i < e; i++) {
            atomic_store_explicit(item, i, memory_order_relaxed);
            for (uint32_t k = 0; k < j->k; k++)
                args[k] = j->cols[k] + i * j->sizes[k];
            rc = fn(args, j->out ? j->out + i * j->out_size : NULL, j->ctx);
            if (rc)
                break;
        }
        break;
    }
    case JOB_FOR:
        atomic_store_explicit(item, b, memory_order_relaxed);
        rc = ((shmpool_range_fn)j->fn)(j->ctx, j->base + b, j->base + e);
        i = rc ? b : e;
        break;
    case JOB_FOR_ID: {
        shmpool_chunk_id id = {.index = (size_t)c + j->first_chunk,
                               .count = j->all_chunks,
                               .worker = (unsigned)runner_index,
                               .workers = cb->nworkers + 1};
        atomic_store_explicit(item, b, memory_order_relaxed);
        rc = ((shmpool_range_id_fn)j->fn)(j->ctx, j->base + b, j->base + e, &id);
        i = rc ? b : e;
        break;
    }
    case JOB_REDUCE: {
        char *partial = j->partials + ((size_t)c + j->first_chunk) * j->acc_stride;
        memcpy(partial, j->identity, j->acc_size);
        atomic_store_explicit(item, b, memory_order_relaxed);
        rc = ((shmpool_reduce_fn)j->fn)(j->ctx, j->base + b, j->base + e, partial);
        i = rc ? b : e;
        break;
    }
    }
    atomic_store_explicit(item, NO_ITEM, memory_order_relaxed);
    atomic_fetch_add_explicit(&j->items_done, i - b, memory_order_relaxed);
    if (rc)
        shmpool__job_fail(j, i, rc);
    else if (j->done_bits)
        shmpool__imap_mark(cb, j->done_bits, c); /* results as they complete (imap.h) */
    shmpool__message_drop();
    return rc;
}

/* The next chunk to run, or false when none is left: a chunk to retry first, then the counter. */
static bool claim_chunk(struct job *j, uint64_t *c) {
    if (atomic_load_explicit(&j->nretry, memory_order_relaxed) && take_retry(j, c))
        return true;
    /* A load first: a job with nothing left (every small job, after its chunk) costs no locked
       write on its hot line. `next` only grows, so fetch_add would say the same. */
    if (atomic_load_explicit(&j->next, memory_order_relaxed) >= j->nchunks)
        return false;
    *c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
    return *c < j->nchunks;
}

/* A worker's view of a parent-memory ctx passed by pointer against the parent's at submission:
   the worker sees the memory as it was at create, so a difference means the task would compute
   from stale data. The parent checked that the bytes were mapped at create (ctx.c). */
static bool ctx_stale(const struct job *j) {
    return j->probe_len && shmpool__probe_differs(j->ctx, j->probe, j->probe_len);
}

enum job_exit shmpool__job_run(struct control *cb, struct worker_slot *w, uint64_t desc,
                               uint64_t *tasks_left, int broken_rc) {
    struct job *j = cb_job(cb, desc_slot(desc));
    atomic_store(&w->job, desc);
    atomic_store_explicit(&w->claim, RING_NO_CLAIM, memory_order_release);
    if (atomic_load(&j->gen) != desc_gen(desc)) { /* retired: a stale descriptor */
        atomic_store(&w->job, 0);
        return JOB_STAY;
    }
    enum job_exit out = JOB_STAY;
    bool stale = ctx_stale(j);
    uint64_t c;
    while (claim_chunk(j, &c)) {
        if (atomic_load_explicit(&j->stop, memory_order_relaxed) != STOP_NONE && skip_chunk(j, c))
            continue; /* cancelled, or above the failing index: dropped; retries may be left */
        if (broken_rc) {
            shmpool__job_fail(j, (uint64_t)c * j->chunk, broken_rc);
            out = JOB_WORKER_EXITS;
            break;
        }
        if (stale) { /* every worker has the same view: the job fails, the worker stays */
            shmpool__job_fail(j, (uint64_t)c * j->chunk, SHMPOOL_ESTALE);
            break;
        }
        if (cb->task_timeout_ms)
            atomic_store_explicit(&w->task_start_ns, shmpool__now_ns(), memory_order_relaxed);
        run_chunk(cb, j, &w->item, c);
        if (cb->task_timeout_ms)
            atomic_store_explicit(&w->task_start_ns, 0, memory_order_relaxed);
        /* only this worker writes it: no locked instruction needed */
        atomic_store_explicit(&w->tasks, atomic_load_explicit(&w->tasks, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        if (*tasks_left != UINT64_MAX && --*tasks_left == 0) {
            atomic_store(&w->resume, desc); /* the replacement joins where we left */
            out = JOB_WORKER_EXITS;
            break;
        }
    }
    /* What the tasks printed goes out before the job can end: the caller may destroy the pool
       (killing us) as soon as it sees the end. __fpending is a load; fflush only if needed. */
    if (__fpending(stdout) || __fpending(stderr))
        fflush(NULL);
    shmpool__job_leave(cb, &w->job, &w->posting, desc);
    return out;
}

void shmpool__job_run_caller(struct control *cb, uint64_t desc) {
    struct job *j = cb_job(cb, desc_slot(desc));
    /* Counted before claiming, uncounted after the last chunk ends (seq_cst both, against a
       leaving worker's clear-then-check: one of the two sees the other, as in job_leave). The
       caller's result holds the slot, so it is not retired meanwhile. */
    atomic_fetch_add(&j->callers, 1);
    int saved = runner_index;
    runner_index = (int)cb->nworkers;
    _Atomic uint64_t item = NO_ITEM; /* nobody reads it: a caller that dies takes the pool along */
    uint64_t c;
    while (claim_chunk(j, &c)) {
        if (atomic_load_explicit(&j->stop, memory_order_relaxed) != STOP_NONE && skip_chunk(j, c))
            continue;
        run_chunk(cb, j, &item, c);
    }
    runner_index = saved;
    atomic_fetch_sub(&j->callers, 1);
    end_if_idle(cb, j, desc);
}

uint64_t shmpool__job_retire_begin(struct control *cb, uint32_t slot) {
    struct job *j = cb_job(cb, slot);
    uint32_t g = atomic_load(&j->gen);
    uint32_t ng = g + 1 ? g + 1 : 1; /* never 0: descriptors are never 0 */
    atomic_store(&j->gen, ng);
    return desc_make(slot, g);
}

bool shmpool__job_retire_done(struct control *cb, uint64_t old_desc) {
    /* A hazard handed over by "set the new word, then clear the old one" must be scanned old word
       first: a worker's `job` before its `posting` (shmpool__job_leave), and every worker's words
       before `helper_posting` (the helper's repair() moves a dead worker's hazard there). The
       other order can miss both words. (Found by the model, test/model/ring.pml.) */
    for (unsigned i = 0; i < cb->nworkers; i++) {
        struct worker_slot *w = cb_worker(cb, i);
        if (atomic_load(&w->job) == old_desc || atomic_load(&w->posting) == old_desc)
            return false;
    }
    if (atomic_load(&cb->helper_posting) == old_desc)
        return false;
    shmpool__job_slot_reset(cb_job(cb, desc_slot(old_desc)));
    return true;
}
