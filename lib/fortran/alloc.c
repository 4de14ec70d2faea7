/* What the Fortran module needs from C that the C interface gives through errno: an allocation's
 * reason for failing, returned (Fortran cannot read errno). Part of libshmpool_fortran. */
#include <errno.h>
#include <stddef.h>

#include "shmpool.h"

int shmpool_fortran_alloc(shmpool *pool, size_t bytes, void **mem);

int shmpool_fortran_alloc(shmpool *pool, size_t bytes, void **mem) {
    if (!mem)
        return -EINVAL;
    errno = 0;
    *mem = shmpool_alloc(pool, bytes);
    return *mem ? 0 : (errno ? -errno : -ENOMEM);
}
