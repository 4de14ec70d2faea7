/* shmpool_alloc, shmpool_free, shmpool_alloc_size: the public face of the arena (arena.h), under
 * the pool's lock. */
#include <errno.h>

#include "arena.h"
#include "helper.h"
#include "owner.h"
#include "worker.h"

void *shmpool_alloc(shmpool *p, size_t bytes) {
    int rc = shmpool__owner_check(p);
    if (rc || bytes == 0) {
        errno = rc ? -rc : EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&p->lock);
    if (atomic_load(&p->state) != POOL_OPEN) {
        pthread_mutex_unlock(&p->lock);
        errno = ESHUTDOWN;
        return NULL;
    }
    void *m = shmpool__arena_alloc(p->arena, bytes, false);
    int err = errno;
    pthread_mutex_unlock(&p->lock);
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
