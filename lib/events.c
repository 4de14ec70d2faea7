/* The pool's event word (events.h), the wait loop on it, and shmpool_wait_any / shmpool_wait_all. */
#include "events.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "callbacks.h"
#include "clock.h"
#include "health.h"
#include "owner.h"
#include "result.h"
#include "tunables.h"

/* Not FUTEX_PRIVATE: the word is in the control block, shared with the workers and the helper. */
static void futex_wake_all(_Atomic uint32_t *word) {
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Sleep while *word == val, until `deadline_ns` (CLOCK_MONOTONIC) at the latest. Returns on a wake,
   a changed value, a signal or the deadline: the caller looks again in every case. */
static void futex_wait_until(_Atomic uint32_t *word, uint32_t val, uint64_t deadline_ns) {
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                          .tv_nsec = (long)(deadline_ns % 1000000000u)};
    syscall(SYS_futex, word, FUTEX_WAIT_BITSET, val, &ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

void shmpool__events_notify(struct control *cb) {
    uint32_t v = atomic_load(&cb->events); /* seq_cst: after the caller's seq_cst publication */
    if ((v & 1u) && atomic_compare_exchange_strong(&cb->events, &v, (v + 2u) & ~1u))
        futex_wake_all(&cb->events);
    /* A failed CAS: another notifier bumped the word and woke everyone, or the bit was set again by
       a sleeper that has not looked yet (it will see what we published). */
}

void shmpool__events_wake_all(struct control *cb) {
    atomic_fetch_add(&cb->events, 2u);
    futex_wake_all(&cb->events);
}

bool shmpool__events_pool_gone(shmpool *p) {
    if (atomic_load(&p->broken))
        return true;
    int s = atomic_load(&p->state);
    return (s == POOL_TERMINATED || s == POOL_JOINED) && atomic_load(&p->helper_pid) == 0;
}

int shmpool__events_wait(shmpool *p, int (*check)(void *arg), void *arg, uint64_t deadline) {
    struct control *cb = p->cb;
    int rc = check(arg);
    if (rc)
        return rc;
    /* Spin a little first, as a job's waiter does (wait.c): what ends within a wake-up's time
       costs no sleep. The lock is dropped between looks so other threads get it. */
    if (!(cb->flags & SHMPOOL_FLAG_NO_SPIN)) {
        uint64_t until = shmpool__now_ns() + (uint64_t)cb->spin_us * 1000u;
        if (until > deadline)
            until = deadline;
        while (shmpool__now_ns() < until) {
            pthread_mutex_unlock(&p->lock);
            for (int i = 0; i < 64; i++)
                shmpool__cpu_relax();
            pthread_mutex_lock(&p->lock);
            if ((rc = check(arg)))
                return rc;
        }
    }
    for (;;) {
        /* A look just found nothing. Past the deadline, stop before setting the bit: a poll
           (timeout 0) must not cost a notifier a wake-up. */
        if (shmpool__now_ns() >= deadline)
            return -ETIMEDOUT;
        uint32_t v = atomic_fetch_or(&cb->events, 1u) | 1u; /* "I may sleep": before the look */
        if ((rc = check(arg)))
            return rc;
        uint64_t now = shmpool__now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        uint64_t until = deadline - now < SHMPOOL_HEALTH_SLICE_NS ? deadline
                                                                  : now + SHMPOOL_HEALTH_SLICE_NS;
        pthread_mutex_unlock(&p->lock);
        futex_wait_until(&cb->events, v, until);
        shmpool__health_check(p); /* a dead helper makes the pool "gone": check settles */
        pthread_mutex_lock(&p->lock);
        if ((rc = check(arg)))
            return rc;
    }
}

/* ---- shmpool_wait_any / shmpool_wait_all ---- */

struct many {
    shmpool *pool;
    shmpool_result *const *rs;
    size_t n, which;
};

bool shmpool__result_settle(shmpool_result *r) {
    if (r->harvested)
        return true;
    if (!shmpool__result_job_ended(r) && !shmpool__events_pool_gone(r->pool))
        return false;
    shmpool__result_harvest(r);
    return true;
}

static int check_any(void *arg) {
    struct many *m = arg;
    for (size_t i = 0; i < m->n; i++)
        if (m->rs[i] && shmpool__result_settle(m->rs[i])) {
            m->which = i;
            return 1;
        }
    return 0;
}

static int check_all(void *arg) {
    struct many *m = arg;
    for (size_t i = 0; i < m->n; i++)
        if (m->rs[i] && !shmpool__result_settle(m->rs[i]))
            return 0;
    return 1;
}

/* The pool every non-NULL result belongs to; -EINVAL if they are freed or of different pools,
   -EPERM/-EINVAL from the owner check, 0 with *pool NULL when every entry is NULL. */
static int pool_of(shmpool_result *const rs[], size_t n, shmpool **pool) {
    *pool = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!rs[i])
            continue;
        if (*pool && rs[i]->pool != *pool)
            return -EINVAL;
        *pool = rs[i]->pool;
    }
    if (!*pool)
        return 0;
    int rc = shmpool__owner_check(*pool);
    if (rc)
        return rc;
    pthread_mutex_lock(&(*pool)->lock);
    for (size_t i = 0; i < n && !rc; i++)
        if (rs[i] && rs[i]->magic != RESULT_LIVE)
            rc = -EINVAL;
    pthread_mutex_unlock(&(*pool)->lock);
    return rc;
}

static int wait_many(shmpool_result *const rs[], size_t n, int timeout_ms, size_t *which) {
    if (!rs && n)
        return -EINVAL;
    uint64_t deadline = shmpool__deadline(timeout_ms);
    shmpool *p;
    int rc = pool_of(rs, n, &p);
    if (rc)
        return rc;
    if (!p)
        return which ? -EINVAL : 0; /* nothing to wait for: any is never, all is now */
    struct many m = {p, rs, n, SIZE_MAX};
    pthread_mutex_lock(&p->lock);
    rc = shmpool__events_wait(p, which ? check_any : check_all, &m, deadline);
    pthread_mutex_unlock(&p->lock);
    if (rc < 0)
        return rc;
    if (which) {
        *which = m.which;
        shmpool__callbacks_run(p, rs[m.which]);
    } else {
        for (size_t i = 0; i < n; i++)
            if (rs[i])
                shmpool__callbacks_run(p, rs[i]);
    }
    return 0;
}

int shmpool_wait_any(shmpool_result *const rs[], size_t n, int timeout_ms, size_t *which) {
    if (!which)
        return -EINVAL;
    *which = SIZE_MAX;
    return wait_many(rs, n, timeout_ms, which);
}

int shmpool_wait_all(shmpool_result *const rs[], size_t n, int timeout_ms) {
    return wait_many(rs, n, timeout_ms, NULL);
}
