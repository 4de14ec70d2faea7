/* shmpool_alloc, shmpool_free, shmpool_alloc_size: the public face of the arena (arena.h), under
 * the pool's lock. */
#include <errno.h>
#include <time.h>

#include "arena.h"
#include "clock.h"
#include "helper.h"
#include "owner.h"
#include "staging.h"
#include "tunables.h"
#include "worker.h"

/* Under the lock: a block, or NULL with *err (ESHUTDOWN once the pool no longer takes work). */
static void *alloc_locked(shmpool *p, size_t bytes, int *err) {
    pthread_mutex_lock(&p->lock);
    void *m = NULL;
    *err = ESHUTDOWN;
    if (atomic_load(&p->state) == POOL_OPEN) {
        m = shmpool__arena_alloc(p->arena, bytes, false);
        if (!m && errno == ENOSPC) { /* kept staging blocks hold /dev/shm space: give it back */
            shmpool__staging_drop(p);
            m = shmpool__arena_alloc(p->arena, bytes, false);
        }
        *err = m ? 0 : errno;
    }
    pthread_mutex_unlock(&p->lock);
    return m;
}

/* Let every worker and the helper unmap what was freed: /dev/shm gets a freed segment's space back
   only when its last mapping goes, and an idle worker keeps its view until it wakes. Wakes them,
   then tries again every ms for up to SHMPOOL_UNMAP_WAIT_MS while some process has not synced (a
   worker inside a long task syncs when it ends), and for SHMPOOL_UNMAP_SETTLE_MS more once all
   have: the space was seen to come back a moment after the last unmap. */
static void *alloc_after_unmaps(shmpool *p, size_t bytes, int *err) {
    shmpool__wake_workers(p->cb, WAKE_ALL);
    shmpool__helper_kick(p->cb);
    uint64_t now = shmpool__now_ns(), deadline = now + (uint64_t)SHMPOOL_UNMAP_WAIT_MS * 1000000u;
    uint64_t settled = 0; /* when all had synced */
    for (;;) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        now = shmpool__now_ns();
        if (!settled && shmpool__arena_all_synced(p->cb))
            settled = now;
        bool last = now >= deadline ||
                    (settled && now - settled >= (uint64_t)SHMPOOL_UNMAP_SETTLE_MS * 1000000u);
        if (!settled && !last)
            continue;
        void *m = alloc_locked(p, bytes, err);
        if (m || *err != ENOSPC || last)
            return m;
    }
}

void *shmpool_alloc(shmpool *p, size_t bytes) {
    int rc = shmpool__owner_check(p);
    if (rc || bytes == 0) {
        errno = rc ? -rc : EINVAL;
        return NULL;
    }
    int err;
    void *m = alloc_locked(p, bytes, &err);
    if (!m && err == ENOSPC)
        m = alloc_after_unmaps(p, bytes, &err);
    if (m) {
        /* Let idle workers and the helper map it now, so its name leaves /dev/shm early. */
        shmpool__wake_workers(p->cb, WAKE_ALL);
        shmpool__helper_kick(p->cb);
    }
    errno = err;
    return m;
}

int shmpool_free(shmpool *p, void *m) {
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    if (!m)
        return 0;
    pthread_mutex_lock(&p->lock);
    rc = shmpool__arena_free(p->arena, m, false);
    pthread_mutex_unlock(&p->lock);
    if (rc == 0) {
        /* Idle workers and the helper unmap it now: its /dev/shm space comes back only then. */
        shmpool__wake_workers(p->cb, WAKE_ALL);
        shmpool__helper_kick(p->cb);
    }
    return rc;
}

size_t shmpool_alloc_size(const shmpool *p, const void *m) {
    if (!m || shmpool__owner_check(p))
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&p->lock);
    size_t n = shmpool__arena_usable(p->arena, m);
    pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
    return n;
}
