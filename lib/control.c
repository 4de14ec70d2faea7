#include "control.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "align.h"

static int init_robust_mutex(pthread_mutex_t *m) {
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc)
        return -rc;
    /* Process-shared and robust: a worker killed while holding it must not hang the pool. */
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc)
        rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return -rc;
}

void shmpool__job_slot_reset(struct job *j) {
    atomic_store_explicit(&j->next, 0, memory_order_relaxed);
    atomic_store_explicit(&j->items_done, 0, memory_order_relaxed);
    atomic_store_explicit(&j->stop, STOP_NONE, memory_order_relaxed);
    atomic_store_explicit(&j->completed, 0, memory_order_relaxed);
    atomic_store_explicit(&j->nretry, 0, memory_order_relaxed);
    if (j->fail_code || j->fail_index != NO_ITEM) { /* written only if dirty: the line stays put */
        j->fail_code = 0;
        j->fail_index = NO_ITEM;
    }
    /* Nobody waits on it (the parent only waits on jobs it has not retired), and the last poster
       has left (the retire scan checked the posting hazards): a fresh count is safe. */
    sem_destroy(&j->done);
    sem_init(&j->done, 1, 0);
}

int shmpool__job_slot_init(struct control *cb) {
    if (cb->jobs_ready >= cb->njobs)
        return -EBUSY;
    struct job *j = cb_job(cb, cb->jobs_ready);
    atomic_init(&j->gen, 1);
    j->fail_index = NO_ITEM;
    if (sem_init(&j->done, 1, 0))
        return -errno;
    int rc = init_robust_mutex(&j->fail_lock);
    if (rc) {
        sem_destroy(&j->done);
        return rc;
    }
    cb->jobs_ready++;
    return 0;
}

int shmpool__control_create(struct control **out, const struct control_params *p) {
    size_t workers_off = align_up(sizeof(struct control), CACHELINE);
    size_t jobs_off = align_up(workers_off + p->nworkers * sizeof(struct worker_slot), CACHELINE);
    size_t segs_off = align_up(jobs_off + p->njobs * sizeof(struct job), CACHELINE);
    size_t ring_off = align_up(segs_off + p->nsegs * sizeof(struct seg_entry), CACHELINE);
    size_t rb = shmpool__ring_bytes(p->njobs, sizeof(uint64_t));
    if (!rb)
        return -EINVAL;
    size_t bytes = align_up(ring_off + rb, 4096);

    struct control *cb = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (cb == MAP_FAILED)
        return -errno;
    cb->magic = CB_MAGIC;
    cb->layout = CB_LAYOUT;
    cb->bytes = bytes;
    cb->nworkers = p->nworkers;
    cb->njobs = p->njobs;
    cb->nsegs = p->nsegs;
    cb->workers_off = workers_off;
    cb->jobs_off = jobs_off;
    cb->segs_off = segs_off;
    cb->ring_off = ring_off;
    /* Job slots are initialised when first used (shmpool__job_slot_init): a fresh page costs a
       fault (tens of µs on some VMs), and most pools never use all of them. */
    int rc = 0;
    if (sem_init(&cb->started, 1, 0))
        rc = -errno;
    for (unsigned i = 0; i < p->nworkers; i++)
        atomic_init(&cb_worker(cb, i)->item, NO_ITEM);
    if (!rc)
        rc = shmpool__ring_init(cb_ring(cb), p->njobs, sizeof(uint64_t));
    if (rc) {
        munmap(cb, bytes);
        return rc;
    }
    *out = cb;
    return 0;
}

void shmpool__control_destroy(struct control *cb) {
    if (!cb)
        return;
    for (unsigned i = 0; i < cb->jobs_ready; i++) {
        sem_destroy(&cb_job(cb, i)->done);
        pthread_mutex_destroy(&cb_job(cb, i)->fail_lock);
    }
    sem_destroy(&cb->started);
    munmap(cb, cb->bytes);
}
