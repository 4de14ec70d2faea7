#include "slots.h"

#include <errno.h>
#include <stdlib.h>

#include "job.h"

int shmpool__slots_init(struct slots *s, uint32_t depth) {
    *s = (struct slots){.depth = depth};
    s->free = malloc(depth * sizeof *s->free);
    s->retiring = malloc(depth * sizeof *s->retiring);
    s->held = calloc(depth, sizeof *s->held);
    s->owner = calloc(depth, sizeof *s->owner);
    s->seq = calloc(depth, sizeof *s->seq);
    s->pins = calloc(depth, sizeof *s->pins);
    if (s->free && s->retiring && s->held && s->owner && s->seq && s->pins)
        return 0;
    shmpool__slots_fini(s);
    return -ENOMEM;
}

void shmpool__slots_fini(struct slots *s) {
    free(s->free);
    free(s->retiring);
    free(s->held);
    free(s->owner);
    free(s->seq);
    free(s->pins);
    *s = (struct slots){0};
}

/* A retired slot is reusable once no worker holds its old descriptor and no thread of ours waits
   on it (resetting its semaphore under a waiter would be undefined). */
static void collect_retired(struct slots *s, struct control *cb) {
    for (uint32_t i = 0; i < s->nretiring;) {
        uint64_t d = s->retiring[i];
        if (s->pins[desc_slot(d)] == 0 && shmpool__job_retire_done(cb, d)) {
            s->free[s->nfree++] = desc_slot(d);
            s->retiring[i] = s->retiring[--s->nretiring];
        } else {
            i++;
        }
    }
}

int shmpool__slots_take(struct slots *s, struct control *cb, uint32_t *slot) {
    if (s->nretiring)
        collect_retired(s, cb);
    if (s->nfree) {
        *slot = s->free[--s->nfree];
        return 0;
    }
    uint32_t fresh = cb->jobs_ready; /* else a slot never used before */
    int rc = shmpool__job_slot_init(cb);
    if (!rc)
        *slot = fresh;
    return rc;
}

void shmpool__slots_hold(struct slots *s, uint64_t desc, struct shmpool_result *r) {
    uint32_t i = desc_slot(desc);
    s->held[i] = desc;
    s->owner[i] = r;
    s->seq[i] = ++s->next_seq;
}

struct shmpool_result *shmpool__slots_owner(const struct slots *s, uint64_t desc) {
    uint32_t i = desc_slot(desc);
    return i < s->depth && s->held[i] == desc ? s->owner[i] : NULL;
}

/* A scan of the table: this runs only under back-pressure, when every slot is in flight, and a
   scan of a few hundred words costs less than one wake-up. */
uint64_t shmpool__slots_oldest(const struct slots *s) {
    uint64_t best = 0, best_seq = UINT64_MAX;
    for (uint32_t i = 0; i < s->depth; i++) {
        if (s->held[i] && s->seq[i] < best_seq) {
            best = s->held[i];
            best_seq = s->seq[i];
        }
    }
    return best;
}

void shmpool__slots_release(struct slots *s, struct control *cb, uint64_t desc) {
    uint32_t i = desc_slot(desc);
    s->held[i] = 0;
    s->owner[i] = NULL;
    uint64_t old = shmpool__job_retire_begin(cb, i);
    if (s->pins[i] == 0 && shmpool__job_retire_done(cb, old))
        s->free[s->nfree++] = i;
    else
        s->retiring[s->nretiring++] = old;
}

void shmpool__slots_pin(struct slots *s, uint64_t desc) { s->pins[desc_slot(desc)]++; }

void shmpool__slots_unpin(struct slots *s, uint64_t desc) { s->pins[desc_slot(desc)]--; }
