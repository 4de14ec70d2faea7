/* The tutorial's heavy_function, per element, summed:
 *
 *     for _ in range(3): x = (sin(x) + cos(x)) ** (x * x)
 *     return sum(x)
 *
 * heavy_sum        vectorized (heavy_kernel.c: -O3 -ffast-math -fopenmp-simd, glibc's libmvec,
 *                  target_clones so one portable binary runs the AVX-512 or AVX2 clone)
 * heavy_sum_scalar plain C at -O2, glibc's scalar sin/cos/pow (heavy_scalar.c)
 *
 * Summation order is deterministic: heavy_sum keeps one partial sum per vector lane (lane j adds
 * elements j, j+L, j+2L, ... in index order) and adds the lanes in a fixed order at the end, so
 * the same clone gives bit-identical sums on the same chunk in every process. Different clones
 * (lane counts) and the scalar kernel differ in the last bits only. */
#ifndef HEAVY_KERNEL_H
#define HEAVY_KERNEL_H
#include <stddef.h>

double heavy_sum(const double *x, size_t n);
double heavy_sum_scalar(const double *x, size_t n);
/* Which clone of heavy_sum the loader picks on this CPU: "x86-64-v4", "x86-64-v3" or "default". */
const char *heavy_sum_clone(void);

#endif
