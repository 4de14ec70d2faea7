/* shmpool_reduce: a deterministic reduction. Each chunk folds its items into a partial of its own
 * (one per chunk, in shared memory, a cache line apart so that workers do not share lines); the
 * caller combines the partials in chunk order once every chunk has run. The order of the floating
 * point operations is fixed by the chunking alone, which depends on n and chunk, never on the
 * workers: the result is bit-identical for 1 or 100 workers, and over MPI ranks (the distributor
 * gathers every rank's partials before the combine). */
#include <errno.h>
#include <string.h>

#include "align.h"
#include "dist.h"
#include "owner.h"
#include "staging.h"

int shmpool_reduce(shmpool *p, shmpool_reduce_fn fn, shmpool_combine_fn combine, const void *ctx,
                   size_t ctx_size, size_t n, size_t chunk, void *acc, size_t acc_size) {
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    if (!fn || !combine || !acc || acc_size == 0 || acc_size > SHMPOOL_MAX_CTX_BYTES ||
        (ctx_size && !ctx) || ctx_size > SHMPOOL_MAX_CTX_BYTES)
        return -EINVAL;
    if (n == 0)
        return 0;
    size_t c = shmpool__chunk_size(p, n, chunk, true);
    size_t nchunks = n / c + (n % c != 0), stride = align_up(acc_size, 64), bytes;
    if (nchunks > SHMPOOL_MAX_CHUNKS ||
        __builtin_mul_overflow(nchunks + 1, stride, &bytes))
        return -EOVERFLOW;
    pthread_mutex_lock(&p->lock);
    char *partials = shmpool__staging_get(p, bytes);
    rc = partials ? 0 : -errno;
    pthread_mutex_unlock(&p->lock);
    if (rc)
        return rc;
    /* Zero: a partial no chunk of this process ran is all zero bits (MPI ORs the ranks' arrays). */
    memset(partials, 0, nchunks * stride);
    char *identity = partials + nchunks * stride;
    memcpy(identity, acc, acc_size);
    struct request q = {.kind = JOB_REDUCE, .fn = (void (*)(void))fn, .ctx = (void *)ctx,
                        .ctx_size = ctx_size, .n = n, .chunk = c, .partials = partials,
                        .identity = identity, .acc_size = acc_size, .acc_stride = stride,
                        .combine = combine, .acc = acc};
    rc = shmpool__run_sync(p, &q);
    if (rc == 0) {
        for (size_t i = 0; i < nchunks; i++)
            combine(acc, partials + i * stride, (void *)ctx);
    }
    pthread_mutex_lock(&p->lock);
    shmpool__staging_put(p, partials);
    pthread_mutex_unlock(&p->lock);
    return rc;
}
