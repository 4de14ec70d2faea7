/* One Jacobi sweep of the 2-D Laplace problem on an n x n grid (fixed boundary): rows [b, e) of
 * v from u. Shared by demos/jacobi.c and the bench's jacobi workload. */
#ifndef JACOBI_KERNEL_H
#define JACOBI_KERNEL_H

#include <stddef.h>

struct jacobi_sweep {
    const double *u;
    double *v;
    size_t n;
};

/* shmpool_range_fn: rows [b, e) of v; boundary rows and columns are copied. */
int jacobi_rows(void *ctx, size_t b, size_t e);
/* The starting grid: 1 on the top edge, 0 elsewhere. */
void jacobi_init(double *u, size_t n);

#endif
