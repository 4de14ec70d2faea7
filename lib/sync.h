/* What the synchronisation objects (sync_*.c) share: the futex calls, who the calling thread is,
 * whether a recorded holder still runs, their memory, and the robust lock's layout, which the
 * condition, the barrier and Value/Array embed. Internal: never installed. */
#ifndef SHMPOOL_SYNC_H
#define SHMPOOL_SYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shmpool.h"

/* The lock word, as the kernel's robust futexes lay it out: the holder's thread id in the low 30
   bits (pid_max is at most 2^22), a bit for "someone may sleep on it", a bit for "taken over from a
   dead holder, not yet marked consistent". NOTRECOVERABLE is a value no thread id can have, so the
   fast path's compare-and-swap from 0 fails on it like on any held lock. */
#define SYNC_TID_MASK 0x3fffffffu
#define SYNC_WAITERS 0x80000000u
#define SYNC_OWNER_DIED 0x40000000u
#define SYNC_NOTRECOVERABLE SYNC_TID_MASK

/* A waiter sleeps in slices: after each it asks /proc whether the holder (or a party) still runs.
   The first slice is short, so a holder that died before we came is found quickly; doubling to the
   cap keeps a long wait to a few /proc reads a second. */
#define SYNC_CHECK_FIRST_NS 2000000u  /* 2 ms */
#define SYNC_CHECK_CAP_NS 32000000u   /* 32 ms */
/* Spin before sleeping: a futex round trip costs microseconds, a hand-over between two running
   processes a few hundred nanoseconds. 50 us, the pool's spin_us default: on a loaded machine a
   shorter spin (20 us) doubled the median event ping-pong (docs/BENCHMARKS.md). */
#define SYNC_SPIN_NS 50000u /* 50 us */

struct shmpool_lock {
    _Atomic uint32_t word;           /* 0 free; holder tid | SYNC_WAITERS | SYNC_OWNER_DIED */
    uint32_t magic;
    _Atomic uint64_t holder_start;   /* the holder's start time, 0 while not yet published */
    uint32_t depth;                  /* an RLock's recursion depth: only its holder touches it */
    uint32_t kind;                   /* SYNC_KIND_* */
    shmpool *pool;                   /* the memory's pool (NULL: our own mmap) */
    uint64_t bytes;                  /* 0: embedded in another object, which frees it */
};

#define SYNC_KIND_LOCK 1u
#define SYNC_KIND_RLOCK 2u

/* Initialise a lock inside another shared object (bytes 0: destroy leaves it alone). */
void shmpool__lock_init(struct shmpool_lock *l, uint32_t kind);

/* The calling thread's id (gettid) and start time, cached per thread and reset in a fork child.
   Inline, and initial-exec TLS: the lock's fast path reads them with one %fs-relative load and
   makes no call (the 16 bytes fit in the static TLS surplus glibc keeps for dlopen()ed code). */
struct shmpool__sync_me {
    uint32_t tid; /* 0: not learnt yet in this thread (or since fork) */
    uint64_t start;
};
extern _Thread_local __attribute__((tls_model("initial-exec"))) struct shmpool__sync_me
    shmpool__sync_me;
void shmpool__sync_learn(void);
static inline uint32_t shmpool__sync_tid(void) {
    if (__builtin_expect(shmpool__sync_me.tid == 0, 0))
        shmpool__sync_learn();
    return shmpool__sync_me.tid;
}
static inline uint64_t shmpool__sync_start(void) {
    if (__builtin_expect(shmpool__sync_me.tid == 0, 0))
        shmpool__sync_learn();
    return shmpool__sync_me.start;
}
/* Does thread `tid` run, and (start != 0) is it the one that started then? A thread of any process
   in our pid namespace: /proc/<tid>/stat. If /proc cannot be read, it is taken to run. */
bool shmpool__sync_alive(uint32_t tid, uint64_t start);

/* futex(2) on a word in shared memory (not FUTEX_PRIVATE). wait: 0 (woken, maybe spuriously),
   -EAGAIN (*word != val already), -ETIMEDOUT (deadline, CLOCK_MONOTONIC ns, UINT64_MAX: none),
   -EINTR. */
int shmpool__futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t deadline_ns);
void shmpool__futex_wake(_Atomic uint32_t *word, int n);

/* Shared memory for an object: shmpool_alloc(pool), or (pool NULL) a MAP_SHARED|MAP_ANONYMOUS
   mapping that processes forked later inherit. Zero-filled. NULL with errno set on failure. */
void *shmpool__sync_alloc(shmpool *pool, size_t bytes);
void shmpool__sync_free(shmpool *pool, void *mem, size_t bytes);

#endif
