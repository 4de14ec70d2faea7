/* The parent's table of job slots: which slots are free, which hold a job (and for which result),
 * which are retiring (their generation was bumped; a worker may still hold the old descriptor),
 * and which are pinned by a thread that waits on the job in them.
 *
 * Threads wait on descriptors, never on another thread's result: a waiter pins the slot (under the
 * pool's lock), drops the lock, waits, takes the lock again and unpins. A pinned slot may be
 * harvested and retired meanwhile, but it is not reset for reuse until the last pin is gone, so a
 * waiter always watches the job it pinned. Every function here runs under the pool's lock. */
#ifndef SHMPOOL_SLOTS_H
#define SHMPOOL_SLOTS_H

#include <stdint.h>

#include "control.h"

struct shmpool_result;

struct slots {
    uint32_t depth;
    uint32_t *free;         /* slots ready for reuse */
    uint32_t nfree;
    uint64_t *retiring;     /* descriptors of retired slots not yet reusable */
    uint32_t nretiring;
    uint64_t *held;         /* held[slot]: the descriptor of the job in it, 0 if none */
    struct shmpool_result **owner; /* owner[slot]: the result whose job it holds */
    uint64_t *seq;          /* seq[slot]: submission order of the job it holds */
    uint64_t next_seq;
    uint32_t *pins;         /* pins[slot]: threads waiting on the job in it */
};

/* 0 or -ENOMEM. */
int shmpool__slots_init(struct slots *s, uint32_t depth);
void shmpool__slots_fini(struct slots *s);
/* A slot for a new job: a free one, a retired one nobody holds any more, or one never used.
   0; -EBUSY while every slot holds a job or is retiring (back-pressure); -errno. */
int shmpool__slots_take(struct slots *s, struct control *cb, uint32_t *slot);
/* Record that r's job, descriptor `desc`, now holds its slot. */
void shmpool__slots_hold(struct slots *s, uint64_t desc, struct shmpool_result *r);
/* The result whose job is `desc`, if that job still holds its slot; else NULL. */
struct shmpool_result *shmpool__slots_owner(const struct slots *s, uint64_t desc);
/* The descriptor of the oldest job holding a slot (jobs leave a FIFO ring in order, so it ends
   first), or 0 if none. */
uint64_t shmpool__slots_oldest(const struct slots *s);
/* The job of `desc` was harvested: retire its slot (its descriptors become stale). */
void shmpool__slots_release(struct slots *s, struct control *cb, uint64_t desc);
/* A thread is about to wait on `desc` without the lock; unpin when it has the lock again. */
void shmpool__slots_pin(struct slots *s, uint64_t desc);
void shmpool__slots_unpin(struct slots *s, uint64_t desc);

#endif
