/* shmpool_lock_* and shmpool_rlock_*: Python's Lock and RLock between processes, on one futex word,
 * robust when the holder dies.
 *
 * The word (sync.h) holds the holder's thread id, so a waiter knows whom it waits for. Fast paths
 * are one compare-and-swap each: acquire 0 -> tid, release tid -> 0. A waiter that must sleep sets
 * SYNC_WAITERS first, and then release wakes one sleeper (Drepper's "Futexes are tricky", mutex 3:
 * whoever takes the lock after sleeping takes it with SYNC_WAITERS set, since others may sleep).
 *
 * A holder that dies cannot release. Waiters sleep in slices (SYNC_CHECK_*); after each they ask
 * /proc whether the holder's thread still runs, and if not, they take the lock over with one
 * compare-and-swap from the exact word they judged (only one of them wins), marking it
 * SYNC_OWNER_DIED: acquire returns -EOWNERDEAD. shmpool_lock_consistent clears the mark; a release
 * with the mark set leaves the word SYNC_NOTRECOVERABLE for good (POSIX robust mutexes' rules).
 *
 * Telling a holder from a later thread that reuses its tid: the holder publishes its start time in
 * holder_start after it took the word, and clears it before it releases. A judge reads the word,
 * then holder_start, then /proc; then reads holder_start again and gives up if it changed (another
 * thread took the lock meanwhile). A holder_start of 0 is "not yet published" and only the tid's
 * existence is judged. A thread that dies between its compare-and-swap and publishing is found the
 * same way (its tid no longer exists).
 *
 * Memory order: the acquiring compare-and-swap is an acquire, the releasing one (or exchange) a
 * release, so what a holder wrote under the lock is seen by the next holder. A takeover is an
 * acquire too, but a dead holder's writes are what they are: hence -EOWNERDEAD. */
#include "shmpool.h"

#include <errno.h>
#include <limits.h>

#include "clock.h"
#include "sync.h"

#define LOCK_MAGIC 0x4c4f434bu /* "LOCK" */

struct shmpool_rlock {
    struct shmpool_lock l;
};

static bool valid(const struct shmpool_lock *l, uint32_t kind) {
    return l && l->magic == LOCK_MAGIC && l->kind == kind;
}

void shmpool__lock_init(struct shmpool_lock *l, uint32_t kind) {
    atomic_init(&l->word, 0);
    atomic_init(&l->holder_start, 0);
    l->depth = 0;
    l->kind = kind;
    l->pool = NULL;
    l->bytes = 0;
    l->magic = LOCK_MAGIC;
}

static int create(struct shmpool_lock **out, shmpool *pool, uint32_t kind) {
    if (!out)
        return -EINVAL;
    *out = NULL;
    size_t bytes = sizeof(struct shmpool_lock);
    struct shmpool_lock *l = shmpool__sync_alloc(pool, bytes);
    if (!l)
        return errno ? -errno : -ENOMEM;
    shmpool__lock_init(l, kind);
    l->pool = pool;
    l->bytes = bytes;
    *out = l;
    return 0;
}

static void destroy(struct shmpool_lock *l, uint32_t kind) {
    if (!valid(l, kind) || l->bytes == 0) /* embedded: its object frees it */
        return;
    l->magic = 0;
    shmpool__sync_free(l->pool, l, (size_t)l->bytes);
}

/* The holder that `w` names is gone: and the lock still has that holder (see the top comment). */
static bool holder_dead(struct shmpool_lock *l, uint32_t w) {
    uint64_t start = atomic_load_explicit(&l->holder_start, memory_order_acquire);
    if (shmpool__sync_alive(w & SYNC_TID_MASK, start))
        return false;
    return atomic_load_explicit(&l->word, memory_order_acquire) == w &&
           atomic_load_explicit(&l->holder_start, memory_order_acquire) == start;
}

static void publish(struct shmpool_lock *l) {
    atomic_store_explicit(&l->holder_start, shmpool__sync_start(), memory_order_relaxed);
}

/* Take the word from the dead holder it names. */
static bool take_over(struct shmpool_lock *l, uint32_t w, uint32_t me) {
    if (!atomic_compare_exchange_strong_explicit(&l->word, &w, me | SYNC_WAITERS | SYNC_OWNER_DIED,
                                                 memory_order_acquire, memory_order_relaxed))
        return false;
    publish(l);
    return true;
}

static int acquire_slow(struct shmpool_lock *l, uint32_t me, int timeout_ms) {
    uint64_t deadline = shmpool__deadline(timeout_ms);
    uint64_t spin_until = timeout_ms == 0 ? 0 : shmpool__now_ns() + SYNC_SPIN_NS;
    uint64_t slice = SYNC_CHECK_FIRST_NS;
    bool slept = false;
    for (;;) {
        uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (w == SYNC_NOTRECOVERABLE)
            return -ENOTRECOVERABLE;
        if (w == 0) {
            /* After sleeping, others may sleep too: take it with SYNC_WAITERS. */
            uint32_t want = slept ? me | SYNC_WAITERS : me;
            if (atomic_compare_exchange_weak_explicit(&l->word, &w, want, memory_order_acquire,
                                                      memory_order_relaxed)) {
                publish(l);
                return 0;
            }
            continue;
        }
        if ((w & SYNC_TID_MASK) == me)
            return -EDEADLK;
        uint64_t now = shmpool__now_ns();
        if (now < spin_until) {
            shmpool__cpu_relax();
            continue;
        }
        if (now >= deadline) /* a poll, or the time is up: one last look at the holder */
            return holder_dead(l, w) && take_over(l, w, me) ? -EOWNERDEAD : -ETIMEDOUT;
        if (!(w & SYNC_WAITERS)) {
            if (!atomic_compare_exchange_weak_explicit(&l->word, &w, w | SYNC_WAITERS,
                                                       memory_order_relaxed, memory_order_relaxed))
                continue;
            w |= SYNC_WAITERS;
        }
        uint64_t until = deadline - now > slice ? now + slice : deadline;
        slept = true;
        if (shmpool__futex_wait(&l->word, w, until) == -ETIMEDOUT && until < deadline) {
            if (holder_dead(l, w) && take_over(l, w, me))
                return -EOWNERDEAD;
            slice = slice < SYNC_CHECK_CAP_NS / 2 ? slice * 2 : SYNC_CHECK_CAP_NS;
        }
    }
}

static int acquire(struct shmpool_lock *l, int timeout_ms) {
    uint32_t me = shmpool__sync_tid();
    uint32_t w = 0;
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(
                             &l->word, &w, me, memory_order_acquire, memory_order_relaxed),
                         1)) {
        publish(l);
        return 0;
    }
    return acquire_slow(l, me, timeout_ms);
}

static int release(struct shmpool_lock *l) {
    uint32_t me = shmpool__sync_tid();
    uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed);
    if ((w & SYNC_TID_MASK) != me || w == SYNC_NOTRECOVERABLE)
        return -EPERM;
    atomic_store_explicit(&l->holder_start, 0, memory_order_relaxed);
    if (__builtin_expect(w == me, 1) &&
        atomic_compare_exchange_strong_explicit(&l->word, &w, 0, memory_order_release,
                                                memory_order_relaxed))
        return 0;
    /* Only waiters can have changed the word meanwhile (they add SYNC_WAITERS). */
    w = atomic_load_explicit(&l->word, memory_order_relaxed);
    if (w & SYNC_OWNER_DIED) {
        /* Released without being made consistent: nobody may trust the data again. */
        atomic_store_explicit(&l->word, SYNC_NOTRECOVERABLE, memory_order_release);
        shmpool__futex_wake(&l->word, INT_MAX);
        return 0;
    }
    if (atomic_exchange_explicit(&l->word, 0, memory_order_release) & SYNC_WAITERS)
        shmpool__futex_wake(&l->word, 1);
    return 0;
}

static int consistent(struct shmpool_lock *l) {
    uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed);
    if ((w & SYNC_TID_MASK) != shmpool__sync_tid() || !(w & SYNC_OWNER_DIED))
        return -EINVAL;
    atomic_fetch_and_explicit(&l->word, ~SYNC_OWNER_DIED, memory_order_relaxed);
    return 0;
}

/* ---- Lock */

int shmpool_lock_create(shmpool_lock **l, shmpool *pool) {
    return create(l, pool, SYNC_KIND_LOCK);
}

void shmpool_lock_destroy(shmpool_lock *l) { destroy(l, SYNC_KIND_LOCK); }

int shmpool_lock_acquire(shmpool_lock *l, int timeout_ms) {
    if (!valid(l, SYNC_KIND_LOCK))
        return -EINVAL;
    return acquire(l, timeout_ms);
}

int shmpool_lock_release(shmpool_lock *l) {
    if (!valid(l, SYNC_KIND_LOCK))
        return -EINVAL;
    return release(l);
}

int shmpool_lock_consistent(shmpool_lock *l) {
    if (!valid(l, SYNC_KIND_LOCK))
        return -EINVAL;
    return consistent(l);
}

int shmpool_lock_locked(const shmpool_lock *l) {
    if (!valid(l, SYNC_KIND_LOCK))
        return -EINVAL;
    return atomic_load_explicit(&l->word, memory_order_relaxed) != 0;
}

/* ---- RLock: the same word; depth counts the holder's nested acquires. */

int shmpool_rlock_create(shmpool_rlock **l, shmpool *pool) {
    return create((struct shmpool_lock **)l, pool, SYNC_KIND_RLOCK);
}

void shmpool_rlock_destroy(shmpool_rlock *l) { destroy(l ? &l->l : NULL, SYNC_KIND_RLOCK); }

int shmpool_rlock_acquire(shmpool_rlock *rl, int timeout_ms) {
    struct shmpool_lock *l = rl ? &rl->l : NULL;
    if (!valid(l, SYNC_KIND_RLOCK))
        return -EINVAL;
    uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed);
    if ((w & SYNC_TID_MASK) == shmpool__sync_tid() && w != SYNC_NOTRECOVERABLE) {
        if (l->depth == UINT32_MAX)
            return -EOVERFLOW;
        l->depth++;
        return 0;
    }
    int rc = acquire(l, timeout_ms);
    if (rc == 0 || rc == -EOWNERDEAD)
        l->depth = 1; /* a dead holder's depth means nothing to us */
    return rc;
}

int shmpool_rlock_release(shmpool_rlock *rl) {
    struct shmpool_lock *l = rl ? &rl->l : NULL;
    if (!valid(l, SYNC_KIND_RLOCK))
        return -EINVAL;
    uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed);
    if ((w & SYNC_TID_MASK) != shmpool__sync_tid() || w == SYNC_NOTRECOVERABLE)
        return -EPERM;
    if (--l->depth > 0)
        return 0;
    return release(l);
}

int shmpool_rlock_consistent(shmpool_rlock *rl) {
    struct shmpool_lock *l = rl ? &rl->l : NULL;
    if (!valid(l, SYNC_KIND_RLOCK))
        return -EINVAL;
    return consistent(l);
}
