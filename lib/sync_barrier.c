/* shmpool_barrier_*: Python's Barrier between processes.
 *
 * State changes happen under an embedded robust lock; waiters sleep on `gen`, the round's number,
 * which only moves when a round ends: tripped (the last party arrived), or broken (a waiter timed
 * out, a waiting party died, abort, or reset with waiters). Whoever ends a round records how it
 * ended in bit (round % 64) of `broken_bits` before it bumps `gen` (release), so a waiter that
 * wakes later still knows what happened to its own round even if later rounds have ended since;
 * only a waiter that sleeps through 64 later rounds could be told wrong (with as many processes as
 * parties, a later round needs this sleeper's arrival to trip: only 64 breaks could do it).
 *
 * Dead parties: each waiter records its thread (tid and start time) in who[arrival index]. Waiters
 * sleep in slices and, after each, look at the next recorded thread of the current round (in a
 * ring) through /proc; a dead one breaks the round. A party that dies before it arrives is not
 * known to the barrier (nothing names the processes that will come): the waiters' timeout is the
 * only answer, as in Python. One that dies after it arrived, if the round then trips, did reach
 * the barrier: the round trips. One that dies holding the embedded lock breaks the barrier (the
 * next taker sees -EOWNERDEAD). */
#include "shmpool.h"

#include <errno.h>
#include <limits.h>

#include "clock.h"
#include "sync.h"

#define BARRIER_MAGIC 0x42415252u /* "BARR" */
#define BARRIER_MAX_PARTIES 65536u

struct party {
    uint32_t tid;
    uint32_t pad_;
    uint64_t start;
};

struct shmpool_barrier {
    _Atomic uint32_t gen; /* the round; futex word */
    uint32_t magic;
    _Atomic uint64_t broken_bits; /* bit r % 64: round r ended broken */
    uint32_t parties;
    _Atomic uint32_t count;  /* arrived in this round (under the lock) */
    _Atomic uint32_t broken; /* broken until reset (under the lock) */
    uint32_t pad_;
    shmpool *pool;
    uint64_t bytes;
    struct shmpool_lock lock;
    struct party who[]; /* the waiting parties of this round, by arrival index */
};

static bool valid(const shmpool_barrier *b) { return b && b->magic == BARRIER_MAGIC; }

int shmpool_barrier_create(shmpool_barrier **b, shmpool *pool, unsigned parties) {
    if (!b)
        return -EINVAL;
    *b = NULL;
    if (parties == 0 || parties > BARRIER_MAX_PARTIES)
        return -EINVAL;
    size_t bytes = sizeof(shmpool_barrier) + parties * sizeof(struct party);
    shmpool_barrier *nb = shmpool__sync_alloc(pool, bytes);
    if (!nb)
        return errno ? -errno : -ENOMEM;
    atomic_init(&nb->gen, 0);
    atomic_init(&nb->broken_bits, 0);
    atomic_init(&nb->count, 0);
    atomic_init(&nb->broken, 0);
    nb->parties = parties;
    nb->pool = pool;
    nb->bytes = bytes;
    shmpool__lock_init(&nb->lock, SYNC_KIND_LOCK);
    nb->magic = BARRIER_MAGIC;
    *b = nb;
    return 0;
}

void shmpool_barrier_destroy(shmpool_barrier *b) {
    if (!valid(b))
        return;
    b->magic = 0;
    b->lock.magic = 0;
    shmpool__sync_free(b->pool, b, (size_t)b->bytes);
}

/* End the current round (lock held): everyone waiting in it wakes and reads how it ended. */
static void end_round(shmpool_barrier *b, bool broken) {
    uint32_t g = atomic_load_explicit(&b->gen, memory_order_relaxed);
    uint64_t bit = UINT64_C(1) << (g % 64);
    if (broken)
        atomic_fetch_or_explicit(&b->broken_bits, bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&b->broken_bits, ~bit, memory_order_relaxed);
    if (broken)
        atomic_store_explicit(&b->broken, 1, memory_order_relaxed);
    atomic_store_explicit(&b->count, 0, memory_order_relaxed);
    atomic_store_explicit(&b->gen, g + 1, memory_order_release);
    shmpool__futex_wake(&b->gen, INT_MAX);
}

/* Take the embedded lock; one whose holder died leaves the state half changed: break it. */
static void lock(shmpool_barrier *b) {
    if (shmpool_lock_acquire(&b->lock, -1) == -EOWNERDEAD) {
        shmpool_lock_consistent(&b->lock);
        if (!atomic_load_explicit(&b->broken, memory_order_relaxed))
            end_round(b, true);
    }
}

static void unlock(shmpool_barrier *b) { shmpool_lock_release(&b->lock); }

/* Round g still on, and the party that arrived after us (or the first, if we came last) has died:
   break it. (Called with the lock.) Each waiter checks its successor in the ring of arrivals, one
   /proc read per slice however many wait; a dead party's nearest live predecessor finds it. */
static void check_next_party(shmpool_barrier *b, uint32_t g, uint32_t idx) {
    uint32_t n = atomic_load_explicit(&b->count, memory_order_relaxed);
    if (atomic_load_explicit(&b->gen, memory_order_relaxed) != g || n < 2 || n > b->parties)
        return;
    uint32_t next = (idx + 1) % n;
    if (!shmpool__sync_alive(b->who[next].tid, b->who[next].start))
        end_round(b, true);
}

int shmpool_barrier_wait(shmpool_barrier *b, int timeout_ms) {
    if (!valid(b))
        return -EINVAL;
    uint64_t deadline = shmpool__deadline(timeout_ms);
    lock(b);
    if (atomic_load_explicit(&b->broken, memory_order_relaxed)) {
        unlock(b);
        return SHMPOOL_EBROKEN;
    }
    uint32_t idx = atomic_load_explicit(&b->count, memory_order_relaxed);
    if (idx + 1 == b->parties) { /* the last one: the round trips */
        end_round(b, false);
        unlock(b);
        return (int)idx;
    }
    b->who[idx].tid = shmpool__sync_tid();
    b->who[idx].start = shmpool__sync_start();
    atomic_store_explicit(&b->count, idx + 1, memory_order_relaxed);
    uint32_t g = atomic_load_explicit(&b->gen, memory_order_relaxed);
    unlock(b);

    uint64_t slice = SYNC_CHECK_FIRST_NS;
    for (;;) {
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != g) {
            uint64_t bits = atomic_load_explicit(&b->broken_bits, memory_order_relaxed);
            return (bits >> (g % 64)) & 1 ? SHMPOOL_EBROKEN : (int)idx;
        }
        uint64_t now = shmpool__now_ns();
        if (now >= deadline) {
            lock(b);
            bool mine = atomic_load_explicit(&b->gen, memory_order_relaxed) == g;
            if (mine) /* Python: a timeout breaks the barrier for everyone */
                end_round(b, true);
            unlock(b);
            if (mine)
                return -ETIMEDOUT;
            continue; /* the round ended just now: read how */
        }
        uint64_t until = deadline - now > slice ? now + slice : deadline;
        if (shmpool__futex_wait(&b->gen, g, until) == -ETIMEDOUT && until < deadline) {
            lock(b);
            check_next_party(b, g, idx);
            unlock(b);
            slice = slice < SYNC_CHECK_CAP_NS / 2 ? slice * 2 : SYNC_CHECK_CAP_NS;
        }
    }
}

int shmpool_barrier_reset(shmpool_barrier *b) {
    if (!valid(b))
        return -EINVAL;
    lock(b);
    if (atomic_load_explicit(&b->count, memory_order_relaxed) > 0)
        end_round(b, true); /* Python: the waiters get BrokenBarrierError */
    atomic_store_explicit(&b->broken, 0, memory_order_relaxed);
    unlock(b);
    return 0;
}

int shmpool_barrier_abort(shmpool_barrier *b) {
    if (!valid(b))
        return -EINVAL;
    lock(b);
    end_round(b, true);
    unlock(b);
    return 0;
}

int shmpool_barrier_n_waiting(const shmpool_barrier *b) {
    if (!valid(b))
        return -EINVAL;
    return (int)atomic_load_explicit(&b->count, memory_order_relaxed);
}

int shmpool_barrier_parties(const shmpool_barrier *b) {
    return valid(b) ? (int)b->parties : -EINVAL;
}

int shmpool_barrier_broken(const shmpool_barrier *b) {
    if (!valid(b))
        return -EINVAL;
    return (int)atomic_load_explicit(&b->broken, memory_order_relaxed);
}
