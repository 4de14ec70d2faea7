/* Python's Queue in shared memory: a bounded MPMC queue of messages of up to max_msg bytes.
 *
 * Layout (one block, no pointers inside but `pool`, which is only used by destroy):
 *
 *     struct shmpool_queue | ring `free` | ring `full` | capacity message slots
 *
 * The messages live in `capacity` fixed slots; the two rings carry only 8-byte slot indices:
 * `free` holds the slots nobody uses, `full` the queued ones in FIFO order. A message is copied
 * exactly once on the way in (into its slot) and once on the way out (into the caller's buffer),
 * and only its own length, however large max_msg is.
 *
 * Two process-shared semaphores count what the rings hold: `room` (free slots, starts at
 * capacity) and `items` (queued messages, starts at 0). put: wait room -> pop a free index ->
 * fill the slot -> push the index on `full` -> post items. get: wait items -> pop an index from
 * `full` -> copy the slot out -> push the index on `free` -> post room. Because each side posts
 * only after its ring operation returned, a semaphore token guarantees the element exists; the
 * ring may still report empty/full for a moment while another process is between winning a
 * cell and publishing it (Vyukov rings complete operations in order), so the ring step retries
 * until that process finishes its memcpy of 8 bytes. Capacity is rounded up to a power of two
 * for the rings only; the queue holds exactly `capacity` messages, because only that many slot
 * indices exist.
 *
 * Memory ordering: the slot's bytes are written before the index is pushed with the ring's
 * release store and read after the index was popped with its acquire load, so a consumer sees
 * the whole message; the reverse hand-over through `free` orders the consumer's reads before the
 * next producer's writes. The semaphores only count; they carry no data.
 *
 * Limitation (Python's Queue has the same): a process killed inside put or get, between its two
 * ring steps, loses that slot for good, and one killed inside a ring step itself stalls the
 * processes that reach its cell. */
#include "shmpool.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "align.h"
#include "clock.h"
#include "ring.h"

#define QUEUE_MAGIC 0x51554555u /* "QUEU" */
#define QUEUE_LAYOUT 1u
#define QUEUE_ALIGN 64u

struct shmpool_queue {
    uint32_t magic;
    uint32_t layout;
    uint64_t bytes;      /* the whole block, for munmap */
    shmpool *pool;       /* the pool whose shmpool_alloc memory this is; NULL: our own mmap */
    uint64_t capacity;   /* messages the queue holds */
    uint64_t max_msg;    /* largest message, in bytes */
    uint64_t slot_bytes; /* stride of the slots: header + max_msg, rounded to a cache line */
    uint64_t free_off;   /* offsets from the start of this struct */
    uint64_t full_off;
    uint64_t slots_off;
    sem_t room;  /* free slots */
    sem_t items; /* queued messages */
};

struct slot {
    uint64_t len;
    unsigned char data[];
};

_Static_assert(sizeof(struct slot) == 8, "slot header is one word");

static struct ring *ring_at(const shmpool_queue *q, uint64_t off) {
    return (struct ring *)((unsigned char *)q + off);
}

static struct slot *slot_at(const shmpool_queue *q, uint64_t idx) {
    return (struct slot *)((unsigned char *)q + q->slots_off + idx * q->slot_bytes);
}

static bool valid(const shmpool_queue *q) {
    return q && q->magic == QUEUE_MAGIC && q->layout == QUEUE_LAYOUT;
}

/* Waits out another process that is between winning a ring cell and publishing it: a few
   pause hints, then yields, then short sleeps (it may have been descheduled). */
static void backoff(unsigned *round) {
    if (*round < 64) {
        shmpool__cpu_relax();
    } else if (*round < 128) {
        sched_yield();
    } else {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    (*round)++;
}

/* The semaphore token says the ring holds an index (or has room for one): insist. */
static uint64_t take_index(struct ring *r) {
    uint64_t idx;
    for (unsigned round = 0; !shmpool__ring_try_pop(r, &idx, NULL);)
        backoff(&round);
    return idx;
}

static void give_index(struct ring *r, uint64_t idx) {
    for (unsigned round = 0; !shmpool__ring_try_push(r, &idx);)
        backoff(&round);
}

int shmpool_queue_create(shmpool_queue **q, shmpool *pool, size_t capacity, size_t max_msg) {
    if (!q)
        return -EINVAL;
    *q = NULL;
    /* The semaphores count up to capacity; the rings take a 32-bit power of two. */
    if (capacity == 0 || max_msg == 0 || capacity > SEM_VALUE_MAX || capacity > (1u << 31))
        return -EINVAL;
    uint32_t ring_cap = pow2_at_least((uint32_t)capacity, 1u << 31);
    size_t ring_sz = shmpool__ring_bytes(ring_cap, sizeof(uint64_t));
    if (ring_sz == 0 || max_msg > SIZE_MAX / 2)
        return -ENOMEM;
    size_t slot_bytes = align_up(sizeof(struct slot) + max_msg, QUEUE_ALIGN);
    size_t head = align_up(sizeof(struct shmpool_queue), QUEUE_ALIGN);
    size_t rings = 2 * align_up(ring_sz, QUEUE_ALIGN);
    if (slot_bytes > (SIZE_MAX - head - rings) / capacity)
        return -ENOMEM;
    size_t bytes = head + rings + slot_bytes * capacity;

    void *mem;
    if (pool) {
        mem = shmpool_alloc(pool, bytes); /* page aligned and zero-filled */
        if (!mem)
            return errno ? -errno : -ENOMEM;
    } else {
        mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
            return -errno;
    }
    shmpool_queue *nq = mem;
    nq->bytes = bytes;
    nq->pool = pool;
    nq->capacity = capacity;
    nq->max_msg = max_msg;
    nq->slot_bytes = slot_bytes;
    nq->free_off = head;
    nq->full_off = head + align_up(ring_sz, QUEUE_ALIGN);
    nq->slots_off = head + rings;
    int rc = shmpool__ring_init(ring_at(nq, nq->free_off), ring_cap, sizeof(uint64_t));
    if (rc == 0)
        rc = shmpool__ring_init(ring_at(nq, nq->full_off), ring_cap, sizeof(uint64_t));
    for (uint64_t i = 0; rc == 0 && i < capacity; i++)
        if (!shmpool__ring_try_push(ring_at(nq, nq->free_off), &i))
            rc = -EINVAL; /* cannot happen: the ring has room for ring_cap >= capacity */
    if (rc == 0 && sem_init(&nq->room, 1, (unsigned)capacity) != 0)
        rc = -errno;
    if (rc == 0 && sem_init(&nq->items, 1, 0) != 0) {
        rc = -errno;
        sem_destroy(&nq->room);
    }
    if (rc != 0) {
        if (pool)
            shmpool_free(pool, mem);
        else
            munmap(mem, bytes);
        return rc;
    }
    nq->layout = QUEUE_LAYOUT;
    nq->magic = QUEUE_MAGIC;
    *q = nq;
    return 0;
}

int shmpool_queue_put(shmpool_queue *q, const void *msg, size_t len, int timeout_ms) {
    if (!valid(q) || (!msg && len != 0))
        return -EINVAL;
    if (len > q->max_msg)
        return -EMSGSIZE;
    int rc = shmpool__sem_wait_until(&q->room, shmpool__deadline(timeout_ms));
    if (rc != 0)
        return rc;
    uint64_t idx = take_index(ring_at(q, q->free_off));
    struct slot *s = slot_at(q, idx);
    s->len = len;
    if (len)
        memcpy(s->data, msg, len);
    give_index(ring_at(q, q->full_off), idx);
    sem_post(&q->items);
    return 0;
}

int shmpool_queue_get(shmpool_queue *q, void *buf, size_t buflen, size_t *len, int timeout_ms) {
    if (!valid(q) || (!buf && buflen != 0))
        return -EINVAL;
    /* Checked before anything is taken: with several consumers "the next message" is not
       defined until one of them takes it, and a taken message cannot go back to the head. */
    if (buflen < q->max_msg)
        return -EMSGSIZE;
    int rc = shmpool__sem_wait_until(&q->items, shmpool__deadline(timeout_ms));
    if (rc != 0)
        return rc;
    uint64_t idx = take_index(ring_at(q, q->full_off));
    struct slot *s = slot_at(q, idx);
    size_t n = (size_t)s->len;
    if (n > q->max_msg)
        n = (size_t)q->max_msg; /* never trust shared memory to bound a copy */
    memcpy(buf, s->data, n);
    give_index(ring_at(q, q->free_off), idx);
    sem_post(&q->room);
    if (len)
        *len = n;
    return 0;
}

size_t shmpool_queue_size(const shmpool_queue *q) {
    if (!valid(q))
        return 0;
    int v = 0;
    /* The semaphore lives in our shared block, which is never const storage. */
    if (sem_getvalue((sem_t *)&q->items, &v) != 0 || v < 0)
        return 0;
    return (size_t)v;
}

void shmpool_queue_destroy(shmpool_queue *q) {
    if (!valid(q))
        return;
    shmpool *pool = q->pool;
    size_t bytes = (size_t)q->bytes;
    q->magic = 0;
    sem_destroy(&q->room);
    sem_destroy(&q->items);
    if (pool)
        shmpool_free(pool, q);
    else
        munmap(q, bytes);
}
