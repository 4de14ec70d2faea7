/* shmpool_cond_*: Python's Condition between processes, on a sequence word and a shmpool_lock.
 *
 * wait reads `seq` while it holds the lock, releases the lock, and sleeps while `seq` still reads
 * that value; notify (lock held) bumps `seq` and wakes up to n sleepers. A notify between the
 * release and the sleep changed `seq`, so the futex does not sleep: no notify is lost. The price
 * (as with pthread_cond_wait) is that a waiter may return without being the one notified: callers
 * loop on their condition, or use shmpool_cond_wait_for.
 *
 * Dying: a waiter holds nothing while it sleeps, so one killed there blocks nobody (it only leaves
 * `sleepers` too high, which costs a futex call per notify). One killed after it took the lock
 * again is a dead lock holder: the next waiter or locker gets -EOWNERDEAD. A notify(1) whose
 * wake-up went to a waiter that then died is spent: use notify_all, or wait with a timeout, where
 * waiters may die. */
#include "shmpool.h"

#include <errno.h>
#include <limits.h>

#include "clock.h"
#include "sync.h"

#define COND_MAGIC 0x434f4e44u /* "COND" */

struct shmpool_cond {
    _Atomic uint32_t seq;
    _Atomic uint32_t sleepers; /* counted in under the lock, so notify (lock held) sees them */
    uint32_t magic;
    uint32_t pad_;
    shmpool_lock *lock; /* the user's, or &own */
    shmpool *pool;
    uint64_t bytes;
    struct shmpool_lock own;
};

static bool valid(const shmpool_cond *c) { return c && c->magic == COND_MAGIC; }

static bool held_by_me(const shmpool_lock *l) {
    return (atomic_load_explicit(&l->word, memory_order_relaxed) & SYNC_TID_MASK) ==
           shmpool__sync_tid();
}

int shmpool_cond_create(shmpool_cond **c, shmpool *pool, shmpool_lock *lock) {
    if (!c)
        return -EINVAL;
    *c = NULL;
    if (lock && shmpool_lock_locked(lock) < 0)
        return -EINVAL;
    shmpool_cond *nc = shmpool__sync_alloc(pool, sizeof *nc);
    if (!nc)
        return errno ? -errno : -ENOMEM;
    atomic_init(&nc->seq, 0);
    atomic_init(&nc->sleepers, 0);
    shmpool__lock_init(&nc->own, SYNC_KIND_LOCK);
    nc->lock = lock ? lock : &nc->own;
    nc->pool = pool;
    nc->bytes = sizeof *nc;
    nc->magic = COND_MAGIC;
    *c = nc;
    return 0;
}

void shmpool_cond_destroy(shmpool_cond *c) {
    if (!valid(c))
        return;
    c->magic = 0;
    c->own.magic = 0;
    shmpool__sync_free(c->pool, c, (size_t)c->bytes);
}

shmpool_lock *shmpool_cond_lock(shmpool_cond *c) { return valid(c) ? c->lock : NULL; }

int shmpool_cond_wait(shmpool_cond *c, int timeout_ms) {
    if (!valid(c))
        return -EINVAL;
    if (!held_by_me(c->lock))
        return -EPERM;
    uint64_t deadline = shmpool__deadline(timeout_ms);
    uint32_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->sleepers, 1, memory_order_relaxed);
    int rc = shmpool_lock_release(c->lock);
    if (rc) { /* cannot happen: we hold it */
        atomic_fetch_sub_explicit(&c->sleepers, 1, memory_order_relaxed);
        return rc;
    }
    int waited = 0;
    while (atomic_load_explicit(&c->seq, memory_order_acquire) == seq) {
        int r = shmpool__futex_wait(&c->seq, seq, deadline);
        if (r == -ETIMEDOUT && atomic_load_explicit(&c->seq, memory_order_acquire) == seq)
            waited = -ETIMEDOUT;
        if (r != -EINTR)
            break; /* woken (perhaps spuriously), seq moved on, or the deadline */
    }
    atomic_fetch_sub_explicit(&c->sleepers, 1, memory_order_relaxed);
    rc = shmpool_lock_acquire(c->lock, -1);
    return rc ? rc : waited;
}

int shmpool_cond_wait_for(shmpool_cond *c, int (*pred)(void *arg), void *arg, int timeout_ms) {
    if (!valid(c) || !pred)
        return -EINVAL;
    if (!held_by_me(c->lock))
        return -EPERM;
    uint64_t deadline = shmpool__deadline(timeout_ms);
    while (!pred(arg)) {
        int left = -1;
        if (timeout_ms >= 0) {
            uint64_t now = shmpool__now_ns();
            if (now >= deadline)
                return -ETIMEDOUT;
            left = (int)((deadline - now + 999999) / 1000000);
        }
        int rc = shmpool_cond_wait(c, left);
        if (rc != 0 && rc != -ETIMEDOUT)
            return rc;
    }
    return 0;
}

int shmpool_cond_notify(shmpool_cond *c, unsigned n) {
    if (!valid(c))
        return -EINVAL;
    if (!held_by_me(c->lock))
        return -EPERM;
    if (n == 0 || atomic_load_explicit(&c->sleepers, memory_order_relaxed) == 0)
        return 0;
    atomic_fetch_add_explicit(&c->seq, 1, memory_order_release);
    shmpool__futex_wake(&c->seq, n > INT_MAX ? INT_MAX : (int)n);
    return 0;
}

int shmpool_cond_notify_all(shmpool_cond *c) { return shmpool_cond_notify(c, UINT_MAX); }
