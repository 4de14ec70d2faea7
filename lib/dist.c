/* The core's side of distribution (dist.h): attach a distributor, run a part of a job. */
#include <errno.h>
#include <stdatomic.h>

#include "dist.h"
#include "result.h"

int shmpool__dist_attach(shmpool *p, const struct dist_ops *ops, void *state) {
    if (!p || !ops || !ops->run)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    int rc = p->dist ? -EBUSY : 0;
    if (!rc) {
        p->dist = ops;
        p->dist_state = state;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void shmpool__dist_detach(shmpool *p) {
    pthread_mutex_lock(&p->lock);
    p->dist = NULL;
    p->dist_state = NULL;
    pthread_mutex_unlock(&p->lock);
}

void *shmpool__dist_state(const shmpool *p) { return p ? p->dist_state : NULL; }

const struct dist_ops *shmpool__dist_ops(const shmpool *p) { return p ? p->dist : NULL; }

int shmpool__submit_part(shmpool *p, const struct request *q, size_t first, size_t count,
                         shmpool_result **r) {
    if (!q || q->chunk == 0 || q->kind == JOB_APPLY || count == 0)
        return -EINVAL;
    size_t lo, hi;
    if (__builtin_mul_overflow(first, q->chunk, &lo) || lo >= q->n)
        return -EINVAL;
    if (__builtin_mul_overflow(first + count, q->chunk, &hi) || hi > q->n)
        hi = q->n;
    struct request part = *q;
    const void *cols[SHMPOOL_MAX_COLUMNS];
    part.n = hi - lo;
    part.whole_chunks = q->n / q->chunk + (q->n % q->chunk != 0);
    if (q->kind == JOB_MAP)
        part.in = (const char *)q->in + lo * q->in_size;
    if (q->kind == JOB_STARMAP) {
        for (size_t j = 0; j < q->k && j < SHMPOOL_MAX_COLUMNS; j++)
            cols[j] = (const char *)q->cols[j] + lo * q->sizes[j];
        part.cols = cols;
    }
    if (q->out)
        part.out = (char *)q->out + lo * q->out_size;
    if (q->kind == JOB_FOR || q->kind == JOB_FOR_ID || q->kind == JOB_REDUCE) /* ranges */
        part.base = q->base + lo;
    return shmpool__submit(p, &part, r);
}

size_t shmpool__result_unclaimed(const shmpool_result *r) {
    if (!r || r->harvested || r->total == 0)
        return 0;
    struct job *j = cb_job(r->pool->cb, desc_slot(r->desc));
    uint64_t next = atomic_load_explicit(&j->next, memory_order_relaxed);
    return next >= j->nchunks ? 0 : (size_t)(j->nchunks - next);
}
