/* Callbacks on results (callbacks.h): shmpool_result_on_done, shmpool_poll, and running them. */
#include "callbacks.h"

#include <errno.h>

#include "clock.h"
#include "events.h"
#include "owner.h"
#include "result.h"

static void append(shmpool *p, shmpool_result *r) {
    r->cb_next = NULL;
    r->cb_prev = p->cb_tail;
    if (p->cb_tail)
        p->cb_tail->cb_next = r;
    else
        p->cb_head = r;
    p->cb_tail = r;
}

static void unlink_pending(shmpool *p, shmpool_result *r) {
    if (r->cb_prev)
        r->cb_prev->cb_next = r->cb_next;
    else
        p->cb_head = r->cb_next;
    if (r->cb_next)
        r->cb_next->cb_prev = r->cb_prev;
    else
        p->cb_tail = r->cb_prev;
    r->cb_prev = r->cb_next = NULL;
}

/* Under the lock, r pending and settled: run its callback once, with the lock dropped. */
static void run_one(shmpool *p, shmpool_result *r) {
    unlink_pending(p, r);
    atomic_store_explicit(&r->cb_state, CB_RUNNING, memory_order_relaxed);
    r->cb_thread = pthread_self();
    shmpool_done_fn ok = r->on_ok;
    shmpool_error_fn err = r->on_err;
    void *arg = r->cb_arg;
    int code = r->code;
    size_t index = r->index;
    pthread_mutex_unlock(&p->lock);
    if (code == 0) {
        if (ok)
            ok(r, arg);
    } else if (err) {
        err(r, code, index, arg);
    }
    pthread_mutex_lock(&p->lock);
    atomic_store_explicit(&r->cb_state, CB_RAN, memory_order_relaxed);
}

int shmpool__callbacks_run(shmpool *p, shmpool_result *only) {
    /* Most results have no callback: no lock for them. Only the lock's holder changes the state
       of a result's callback, and a result without one gets one only from its owner. */
    if (only && atomic_load_explicit(&only->cb_state, memory_order_relaxed) != CB_PENDING)
        return 0;
    int ran = 0;
    pthread_mutex_lock(&p->lock);
    if (only) {
        if (only->cb_state == CB_PENDING && shmpool__result_settle(only)) {
            run_one(p, only);
            ran = 1;
        }
    } else {
        for (;;) { /* from the head again after each: the list changed while the lock was dropped */
            shmpool_result *r = p->cb_head;
            while (r && !shmpool__result_settle(r))
                r = r->cb_next;
            if (!r)
                break;
            run_one(p, r);
            ran++;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return ran;
}

void shmpool__callbacks_flush(shmpool *p) {
    shmpool__events_wake_all(p->cb);
    shmpool__callbacks_run(p, NULL);
}

bool shmpool__callbacks_before_free(shmpool_result *r) {
    shmpool *p = r->pool;
    unsigned backoff_us = 1;
    for (;;) {
        int s = r->cb_state;
        if (s == CB_NONE || s == CB_RAN)
            return true;
        if (s == CB_RUNNING) {
            if (pthread_equal(r->cb_thread, pthread_self()))
                return false; /* freeing r from its own callback */
            pthread_mutex_unlock(&p->lock); /* another thread runs it: r lives until it returns */
            shmpool__backoff_sleep(&backoff_us);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        if (!shmpool__result_settle(r))
            return true; /* cannot happen: free harvested or cancelled r first */
        run_one(p, r);
    }
}

void shmpool__callbacks_forget(shmpool_result *r) {
    if (r->cb_state == CB_PENDING)
        unlink_pending(r->pool, r);
    atomic_store_explicit(&r->cb_state, CB_NONE, memory_order_relaxed);
}

int shmpool_result_on_done(shmpool_result *r, shmpool_done_fn ok, shmpool_error_fn err,
                           void *arg) {
    if (!r)
        return -EINVAL;
    shmpool *p = r->pool;
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->lock);
    int s = r->cb_state;
    if (r->magic != RESULT_LIVE) {
        rc = -EINVAL;
    } else if (s == CB_RUNNING || s == CB_RAN) {
        rc = -EALREADY;
    } else if (!ok && !err) { /* both NULL: take the pair off */
        shmpool__callbacks_forget(r);
    } else {
        r->on_ok = ok;
        r->on_err = err;
        r->cb_arg = arg;
        if (s == CB_NONE)
            append(p, r);
        atomic_store_explicit(&r->cb_state, CB_PENDING, memory_order_relaxed);
    }
    pthread_mutex_unlock(&p->lock);
    if (!rc)
        shmpool__callbacks_run(p, r); /* ended already: now, in this thread */
    return rc;
}

/* Under the lock: 1 when a pending callback is due, or none is pending (nothing to wait for). */
static int check_due(void *arg) {
    shmpool *p = arg;
    for (shmpool_result *r = p->cb_head; r; r = r->cb_next)
        if (shmpool__result_settle(r))
            return 1;
    return p->cb_head ? 0 : 1;
}

int shmpool_poll(shmpool *p, int timeout_ms) {
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    uint64_t deadline = shmpool__deadline(timeout_ms);
    pthread_mutex_lock(&p->lock);
    rc = shmpool__events_wait(p, check_due, p, deadline);
    pthread_mutex_unlock(&p->lock);
    if (rc < 0 && rc != -ETIMEDOUT)
        return rc;
    return shmpool__callbacks_run(p, NULL);
}
