/* Bounded MPMC ring (Vyukov). Memory ordering, in one place:
 *
 * A cell at position p is free for the producer of lap p when seq == p, and full for the consumer
 * of p when seq == p + 1. The producer wins position p by CAS on `enq`, writes the payload, then
 * publishes it with a release store seq = p + 1. The consumer reads seq with acquire, so once it
 * sees p + 1 the payload is visible; it wins p by CAS on `deq`, copies the payload out, then hands
 * the cell to the producer of the next lap with a release store seq = p + capacity, which orders
 * its reads of the payload before that producer's writes. The CASes on enq/deq only arbitrate who
 * owns a position, so they can be relaxed; the seq loads/stores carry all the data ordering.
 *
 * Positions are 64-bit and never wrap in practice (2^64 pushes), so seq comparisons are exact. */
#include "ring.h"

#include <errno.h>
#include <string.h>

#include "align.h"

#define RING_MAGIC 0x52494e47u /* "RING" */

struct cell {
    _Atomic uint64_t seq;
    unsigned char data[];
};

static struct cell *cell_at(const struct ring *r, uint64_t pos) {
    unsigned char *base = (unsigned char *)(r + 1);
    return (struct cell *)(base + (size_t)(pos & (r->capacity - 1)) * r->cell_bytes);
}

static size_t cell_bytes_for(size_t payload) {
    return align_up(sizeof(struct cell) + payload, 8);
}

size_t shmpool__ring_bytes(uint32_t capacity, size_t payload) {
    if (capacity == 0 || (capacity & (capacity - 1)) != 0 || payload == 0 || payload > UINT32_MAX / 2)
        return 0;
    size_t cb = cell_bytes_for(payload);
    if (cb > (SIZE_MAX - sizeof(struct ring)) / capacity)
        return 0;
    return sizeof(struct ring) + cb * capacity;
}

int shmpool__ring_init(struct ring *r, uint32_t capacity, size_t payload) {
    if (!r || shmpool__ring_bytes(capacity, payload) == 0)
        return -EINVAL;
    atomic_init(&r->enq, 0);
    atomic_init(&r->deq, 0);
    r->capacity = capacity;
    r->payload = (uint32_t)payload;
    r->cell_bytes = (uint32_t)cell_bytes_for(payload);
    r->magic = RING_MAGIC;
    for (uint64_t i = 0; i < capacity; i++)
        atomic_init(&cell_at(r, i)->seq, i);
    return 0;
}

bool shmpool__ring_try_push(struct ring *r, const void *item) {
    uint64_t pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
    for (;;) {
        struct cell *c = cell_at(r, pos);
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&r->enq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                memcpy(c->data, item, r->payload);
                atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
                return true;
            }
        } else if (dif < 0) {
            return false; /* the consumer of the previous lap has not released it: full */
        } else {
            pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
        }
    }
}

bool shmpool__ring_try_pop(struct ring *r, void *item, _Atomic uint64_t *claim) {
    uint64_t pos = atomic_load_explicit(&r->deq, memory_order_relaxed);
    for (;;) {
        struct cell *c = cell_at(r, pos);
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - (pos + 1));
        if (dif == 0) {
            /* Record the position before trying to win it (stored as pos + 1 so 0 means none):
               a reaper that finds it can tell the cell might be ours. */
            if (claim)
                atomic_store_explicit(claim, pos + 1, memory_order_seq_cst);
            if (atomic_compare_exchange_weak_explicit(&r->deq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                memcpy(item, c->data, r->payload);
                atomic_store_explicit(&c->seq, pos + r->capacity, memory_order_release);
                return true; /* *claim stays set: the caller clears it */
            }
        } else if (dif < 0) {
            if (claim)
                atomic_store_explicit(claim, RING_NO_CLAIM, memory_order_relaxed);
            return false; /* nothing published at pos yet: empty */
        } else {
            pos = atomic_load_explicit(&r->deq, memory_order_relaxed);
        }
    }
}

size_t shmpool__ring_count(const struct ring *r) {
    uint64_t d = atomic_load_explicit(&((struct ring *)r)->deq, memory_order_acquire);
    uint64_t e = atomic_load_explicit(&((struct ring *)r)->enq, memory_order_acquire);
    return e > d ? (size_t)(e - d) : 0;
}

enum ring_repair shmpool__ring_repair_claim(struct ring *r, _Atomic uint64_t *claim,
                                   _Atomic uint64_t *const others[], size_t nothers, void *item) {
    uint64_t rec = atomic_load_explicit(claim, memory_order_acquire);
    if (rec == RING_NO_CLAIM)
        return RING_REPAIR_NOTHING;
    uint64_t pos = rec - 1;
    struct cell *c = cell_at(r, pos);
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    uint64_t deq = atomic_load_explicit(&r->deq, memory_order_acquire);
    enum ring_repair out = RING_REPAIR_NOTHING;
    if (seq == pos + 1 && deq > pos) {
        /* Won by somebody (deq moved past pos) but still full: not released yet. */
        for (size_t i = 0; i < nothers; i++)
            if (atomic_load_explicit(others[i], memory_order_acquire) == rec)
                return RING_REPAIR_RETRY;
        /* Copy, then release only if nobody has: the owner may have been a live consumer that
           released the cell and cleared its claim while we looked. A failed CAS means the copy
           may be a later lap's item: discard it. (Found by the model, test/model/ring.pml.) */
        memcpy(item, c->data, r->payload);
        uint64_t expect = pos + 1;
        if (atomic_compare_exchange_strong_explicit(&c->seq, &expect, pos + r->capacity,
                                                    memory_order_acq_rel, memory_order_acquire))
            out = RING_REPAIR_REPUSH;
        else
            out = RING_REPAIR_TAKEN;
    } else if (deq > pos) {
        out = RING_REPAIR_TAKEN;
    }
    atomic_store_explicit(claim, RING_NO_CLAIM, memory_order_release);
    return out;
}
