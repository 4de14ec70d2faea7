/* An installed-package consumer of libshmpool_mpi: a collective shmpool_for on every rank. */
#include <stdio.h>

#include "shmpool_mpi.h"

static int count(void *ctx, size_t b, size_t e) {
    __atomic_add_fetch((long *)ctx, (long)(e - b), __ATOMIC_RELAXED);
    return 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    shmpool *pool;
    int rc = shmpool_mpi_create(&pool, MPI_COMM_WORLD, NULL);
    long *n = rc ? NULL : shmpool_alloc(pool, sizeof *n), total = 0;
    if (n)
        rc = shmpool_for(pool, count, n, 1000, 10);
    if (n)
        MPI_Allreduce(n, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    shmpool_destroy(pool);
    MPI_Finalize();
    if (rc || total != 1000) {
        fprintf(stderr, "mpi consumer: %s, %ld items\n", shmpool_strerror(rc), total);
        return 1;
    }
    return 0;
}
