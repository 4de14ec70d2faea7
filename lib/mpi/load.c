/* A rank-aware .npy load: the whole array on every rank, or each rank its share of the rows,
 * through the core's array I/O (io_uring or pread) straight into that rank's shared memory. */
#include <errno.h>
#include <string.h>

#include "mpi_dist.h"

int shmpool_mpi_array_load(shmpool *pool, const char *path, shmpool_array *arr,
                           size_t *first_row) {
    struct mpi_dist *d = shmpool__mpi_of(pool);
    int rc = shmpool__mpi_can_collect(d);
    if (rc)
        return rc;
    if (!path || !arr) {
        rc = -EINVAL; /* still take part in the agreement below: no rank is left waiting */
    } else if (!first_row) {
        rc = shmpool_array_load(pool, path, arr);
    } else {
        shmpool_array head = {0}; /* the header alone says how many rows there are */
        rc = shmpool_array_stat(path, &head);
        if (!rc && head.ndim == 0)
            rc = -EINVAL;
        size_t rows = head.shape[0], lo = 0, hi = 0;
        if (!rc) {
            /* rank r of s: rows [r*N/s, (r+1)*N/s), computed without overflowing */
            lo = rows / (size_t)d->size * (size_t)d->rank +
                 rows % (size_t)d->size * (size_t)d->rank / (size_t)d->size;
            hi = rows / (size_t)d->size * (size_t)(d->rank + 1) +
                 rows % (size_t)d->size * (size_t)(d->rank + 1) / (size_t)d->size;
            rc = shmpool_array_load_rows(pool, path, lo, hi - lo, arr);
            *first_row = lo;
        }
    }
    /* All or nothing: the first error of any rank (the lowest code) on every rank. */
    int all = shmpool__mpi_agree(d->comm, rc);
    if (all && !rc)
        shmpool_array_free(pool, arr);
    if (all && first_row)
        *first_row = 0;
    return all;
}
