/* shmpool_sem_*: Python's Semaphore and BoundedSemaphore between processes, on one futex word.
 *
 * `value` is the count itself; acquire decrements it by compare-and-swap when it is positive, and
 * otherwise sleeps on it while it reads 0. Release increments it and wakes one sleeper if
 * `sleepers` says there may be one. The two sides are Dekker's: the waiter counts itself in
 * `sleepers`, then the futex re-reads `value` in the kernel; the releaser increments `value`, then
 * reads `sleepers` (all sequentially consistent), so either the releaser sees the sleeper and wakes
 * it, or the sleeper's futex sees the new value and does not sleep.
 *
 * A waiter killed after a wake-up was meant for it leaves a unit that no sleeper was told of:
 * sleepers sleep in slices (SYNC_CHECK_CAP_NS) and look again, so the others still get it. A
 * process that dies before it releases is a unit lost: the library cannot know who would have
 * posted, so wait with a timeout where that can happen. */
#include "shmpool.h"

#include <errno.h>

#include "clock.h"
#include "sync.h"

#define SEM_MAGIC 0x53454d41u /* "SEMA" */

struct shmpool_sem {
    _Atomic uint32_t value;
    _Atomic uint32_t sleepers; /* waiters maybe asleep on value (a dead one costs only a wake) */
    uint32_t magic;
    uint32_t bound; /* BoundedSemaphore: the initial value, the most it may hold; else the max */
    shmpool *pool;
    uint64_t bytes;
};

static bool valid(const shmpool_sem *s) { return s && s->magic == SEM_MAGIC; }

int shmpool_sem_create(shmpool_sem **s, shmpool *pool, unsigned value, unsigned flags) {
    if (!s)
        return -EINVAL;
    *s = NULL;
    if (value > SHMPOOL_SEM_VALUE_MAX || (flags & ~SHMPOOL_SEM_BOUNDED))
        return -EINVAL;
    shmpool_sem *ns = shmpool__sync_alloc(pool, sizeof *ns);
    if (!ns)
        return errno ? -errno : -ENOMEM;
    atomic_init(&ns->value, value);
    atomic_init(&ns->sleepers, 0);
    ns->bound = (flags & SHMPOOL_SEM_BOUNDED) ? value : SHMPOOL_SEM_VALUE_MAX;
    ns->pool = pool;
    ns->bytes = sizeof *ns;
    ns->magic = SEM_MAGIC;
    *s = ns;
    return 0;
}

void shmpool_sem_destroy(shmpool_sem *s) {
    if (!valid(s))
        return;
    s->magic = 0;
    shmpool__sync_free(s->pool, s, (size_t)s->bytes);
}

static bool try_take(shmpool_sem *s) {
    uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
    while (v > 0)
        if (atomic_compare_exchange_weak_explicit(&s->value, &v, v - 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

int shmpool_sem_acquire(shmpool_sem *s, int timeout_ms) {
    if (!valid(s))
        return -EINVAL;
    if (try_take(s))
        return 0;
    if (timeout_ms == 0)
        return -ETIMEDOUT;
    uint64_t deadline = shmpool__deadline(timeout_ms);
    uint64_t spin_until = shmpool__now_ns() + SYNC_SPIN_NS;
    while (shmpool__now_ns() < spin_until) {
        if (try_take(s))
            return 0;
        shmpool__cpu_relax();
    }
    atomic_fetch_add(&s->sleepers, 1);
    int rc = 0;
    while (!try_take(s)) {
        uint64_t now = shmpool__now_ns();
        if (now >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        uint64_t until = deadline - now > SYNC_CHECK_CAP_NS ? now + SYNC_CHECK_CAP_NS : deadline;
        shmpool__futex_wait(&s->value, 0, until);
    }
    atomic_fetch_sub(&s->sleepers, 1);
    return rc;
}

int shmpool_sem_release(shmpool_sem *s) {
    if (!valid(s))
        return -EINVAL;
    uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
    do {
        if (v >= s->bound)
            return -EOVERFLOW; /* Python: "Semaphore released too many times" */
    } while (!atomic_compare_exchange_weak(&s->value, &v, v + 1));
    if (atomic_load(&s->sleepers))
        shmpool__futex_wake(&s->value, 1);
    return 0;
}

int shmpool_sem_value(const shmpool_sem *s) {
    if (!valid(s))
        return -EINVAL;
    return (int)atomic_load_explicit(&s->value, memory_order_relaxed);
}
