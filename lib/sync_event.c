/* shmpool_event_*: Python's Event between processes, on one futex word.
 *
 * `flag` is 0 or 1. wait spins a little (up to SYNC_SPIN_NS, adapted: see below; a set from a
 * process running on another core arrives in well under a microsecond), then counts itself in
 * `sleepers` and sleeps while the flag reads 0. set stores 1 and wakes every sleeper if `sleepers`
 * says there may be one; the sequentially consistent pair (sleepers++, futex re-reads flag) /
 * (flag = 1, read sleepers) is Dekker's, as in sync_sem.c: no sleeper is missed. A waiter needs
 * nothing from any process but the setter's store, so a waiter that dies blocks nobody; a setter
 * that dies before it sets cannot be known to the library (who would have set it?): wait with a
 * timeout. */
#include "shmpool.h"

#include <errno.h>
#include <limits.h>

#include "clock.h"
#include "sync.h"

#define EVENT_MAGIC 0x45564e54u /* "EVNT" */
#define SPIN_MIN_NS 2000u

struct shmpool_event {
    _Atomic uint32_t flag;
    _Atomic uint32_t sleepers;
    uint32_t magic;
    _Atomic uint32_t spin_ns; /* how long waiters spin now: adapts to whether spinning pays */
    shmpool *pool;
    uint64_t bytes;
};

static bool valid(const shmpool_event *e) { return e && e->magic == EVENT_MAGIC; }

int shmpool_event_create(shmpool_event **e, shmpool *pool) {
    if (!e)
        return -EINVAL;
    *e = NULL;
    shmpool_event *ne = shmpool__sync_alloc(pool, sizeof *ne);
    if (!ne)
        return errno ? -errno : -ENOMEM;
    atomic_init(&ne->flag, 0);
    atomic_init(&ne->sleepers, 0);
    atomic_init(&ne->spin_ns, SYNC_SPIN_NS);
    ne->pool = pool;
    ne->bytes = sizeof *ne;
    ne->magic = EVENT_MAGIC;
    *e = ne;
    return 0;
}

void shmpool_event_destroy(shmpool_event *e) {
    if (!valid(e))
        return;
    e->magic = 0;
    shmpool__sync_free(e->pool, e, (size_t)e->bytes);
}

int shmpool_event_set(shmpool_event *e) {
    if (!valid(e))
        return -EINVAL;
    if (atomic_exchange(&e->flag, 1) == 0 && atomic_load(&e->sleepers))
        shmpool__futex_wake(&e->flag, INT_MAX);
    return 0;
}

int shmpool_event_clear(shmpool_event *e) {
    if (!valid(e))
        return -EINVAL;
    atomic_store_explicit(&e->flag, 0, memory_order_relaxed);
    return 0;
}

int shmpool_event_is_set(const shmpool_event *e) {
    if (!valid(e))
        return -EINVAL;
    return (int)atomic_load_explicit(&e->flag, memory_order_acquire);
}

int shmpool_event_wait(shmpool_event *e, int timeout_ms) {
    if (!valid(e))
        return -EINVAL;
    if (atomic_load_explicit(&e->flag, memory_order_acquire))
        return 0;
    if (timeout_ms == 0)
        return -ETIMEDOUT;
    uint64_t deadline = shmpool__deadline(timeout_ms);
    /* Spinning pays when the setter runs on another core now; on a machine with more runnable
       processes than cores it only burns the setter's time. So the spin halves each time it
       fails (down to SPIN_MIN_NS) and doubles when it succeeds; every 16th wait of a thread
       spins in full, so a machine that quietens down is noticed. */
    static _Thread_local unsigned probe;
    uint32_t spin = atomic_load_explicit(&e->spin_ns, memory_order_relaxed);
    if ((++probe & 15) == 0)
        spin = SYNC_SPIN_NS;
    uint64_t spin_until = shmpool__now_ns() + spin;
    do {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(&e->flag, memory_order_acquire)) {
                uint32_t more = spin * 2 > SYNC_SPIN_NS ? SYNC_SPIN_NS : spin * 2;
                if (spin < SYNC_SPIN_NS)
                    atomic_store_explicit(&e->spin_ns, more, memory_order_relaxed);
                return 0;
            }
            shmpool__cpu_relax();
        }
    } while (shmpool__now_ns() < spin_until);
    atomic_store_explicit(&e->spin_ns, spin / 2 < SPIN_MIN_NS ? SPIN_MIN_NS : spin / 2,
                          memory_order_relaxed);
    atomic_fetch_add(&e->sleepers, 1);
    int rc = 0;
    while (!atomic_load(&e->flag)) {
        if (shmpool__now_ns() >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        shmpool__futex_wait(&e->flag, 0, deadline);
    }
    atomic_fetch_sub(&e->sleepers, 1);
    return rc;
}
