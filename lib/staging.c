/* The kept staging blocks (staging.h): a handful, smallest fit first. */
#include "staging.h"

#include <errno.h>

#include "arena.h"
#include "tunables.h"

void *shmpool__staging_get(shmpool *p, size_t bytes) {
    int best = -1;
    size_t best_size = 0;
    for (int i = 0; i < SHMPOOL_STAGING_KEPT; i++) {
        size_t size = p->kept_size[i];
        if (p->kept[i] && size >= bytes && (best < 0 || size < best_size)) {
            best = i;
            best_size = size;
        }
    }
    if (best >= 0) {
        void *b = p->kept[best];
        p->kept[best] = NULL;
        return b;
    }
    void *b = shmpool__arena_alloc(p->arena, bytes, true);
    if (!b && errno == ENOSPC) { /* the kept blocks hold /dev/shm space: give it back, try again */
        shmpool__staging_drop(p);
        b = shmpool__arena_alloc(p->arena, bytes, true);
    }
    return b;
}

void shmpool__staging_put(shmpool *p, void *block) {
    size_t size = shmpool__arena_usable(p->arena, block);
    int slot = -1;
    for (int i = 0; i < SHMPOOL_STAGING_KEPT && slot < 0; i++)
        if (!p->kept[i])
            slot = i;
    if (slot < 0 || size > SHMPOOL_STAGING_KEPT_MAX_BYTES) { /* replace the smallest if smaller */
        int smallest = 0;
        for (int i = 1; i < SHMPOOL_STAGING_KEPT; i++)
            if (p->kept_size[i] < p->kept_size[smallest])
                smallest = i;
        if (size > SHMPOOL_STAGING_KEPT_MAX_BYTES || p->kept_size[smallest] >= size) {
            shmpool__arena_free(p->arena, block, true);
            return;
        }
        shmpool__arena_free(p->arena, p->kept[smallest], true);
        slot = smallest;
    }
    p->kept[slot] = block;
    p->kept_size[slot] = size;
}

void shmpool__staging_drop(shmpool *p) {
    for (int i = 0; i < SHMPOOL_STAGING_KEPT; i++) {
        if (p->kept[i])
            shmpool__arena_free(p->arena, p->kept[i], true);
        p->kept[i] = NULL;
        p->kept_size[i] = 0;
    }
}
