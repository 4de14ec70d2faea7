#include "wait.h"

#include <errno.h>

#include "clock.h"
#include "health.h"
#include "tunables.h"

static bool ended(const struct job *j) {
    return atomic_load_explicit(&j->completed, memory_order_acquire);
}

static bool spin_until_ended(const struct control *cb, const struct job *j, uint64_t deadline) {
    uint64_t until = shmpool__now_ns() + (uint64_t)cb->spin_us * 1000u;
    if (until > deadline)
        until = deadline;
    do {
        for (int i = 0; i < 64; i++) {
            if (ended(j))
                return true;
            shmpool__cpu_relax();
        }
    } while (shmpool__now_ns() < until);
    return false;
}

int shmpool__wait_job(shmpool *p, uint64_t desc, uint64_t deadline) {
    struct control *cb = p->cb;
    struct job *j = cb_job(cb, desc_slot(desc));
    if (ended(j))
        return 0;
    if (!(cb->flags & SHMPOOL_FLAG_NO_SPIN) && spin_until_ended(cb, j, deadline))
        return 0;
    for (;;) {
        if (ended(j))
            return 0;
        uint64_t now = shmpool__now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        uint64_t slice = deadline - now < SHMPOOL_HEALTH_SLICE_NS ? deadline
                                                                  : now + SHMPOOL_HEALTH_SLICE_NS;
        if (shmpool__sem_wait_until(&j->done, slice) == 0 && ended(j)) {
            sem_post(&j->done); /* the baton: another thread may wait on this job too */
            return 0;
        }
        if (ended(j))
            return 0;
        if (!shmpool__health_check(p))
            return 0; /* nothing will run it: harvest reports SHMPOOL_EHELPER */
        if (atomic_load(&p->state) == POOL_TERMINATED && atomic_load(&p->helper_pid) == 0)
            return 0; /* terminated: every worker is gone */
    }
}
