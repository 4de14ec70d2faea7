/* y += a * x over rows [b, e): the short loop of the daxpy and omp_alternate workloads, a
 * shmpool_range_fn whose ctx (struct axpy) is passed by value. */
#ifndef BENCH_AXPY_H
#define BENCH_AXPY_H

#include <stddef.h>

struct axpy {
    double a;
    const double *x;
    double *y;
};

static inline int axpy_rows(void *ctx, size_t b, size_t e) {
    const struct axpy *c = ctx;
    double a = c->a;
    const double *x = c->x;
    double *y = c->y;
    for (size_t i = b; i < e; i++)
        y[i] += a * x[i];
    return 0;
}

#endif
