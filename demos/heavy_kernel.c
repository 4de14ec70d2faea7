/* The vectorized heavy kernel. Built with -O3 -ffast-math -fopenmp-simd
 * -fno-builtin-sin -fno-builtin-cos -fno-builtin-pow (this file only, see CMakeLists.txt):
 *   - -ffast-math and `#pragma omp simd` let GCC call glibc's vector math (libmvec:
 *     _ZGVeN8v_sin, _ZGVdN4v_cos, _ZGVeN8vv_pow, ...); no OpenMP runtime is needed.
 *   - -fno-builtin-sin/-cos stop GCC from fusing sin(v) and cos(v) into sincos, which has no
 *     vector variant, and -fno-builtin-pow keeps pow a call libmvec can replace.
 *   - target_clones builds an AVX-512, an AVX2 and a baseline (SSE2) version; the loader picks
 *     one at run time, so the binary stays portable (no -march=native).
 * Check: nm heavy_kernel.c.o | grep _ZGV */
#include "heavy_kernel.h"

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HEAVY_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HEAVY_CLONES /* clang 14 knows neither these arch names nor libmvec by default */
#endif

HEAVY_CLONES
double heavy_sum(const double *x, size_t n) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        v = pow(sin(v) + cos(v), v * v);
        v = pow(sin(v) + cos(v), v * v);
        v = pow(sin(v) + cos(v), v * v);
        s += v;
    }
    return s;
}

const char *heavy_sum_clone(void) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return "x86-64-v4 (AVX-512)";
    if (__builtin_cpu_supports("x86-64-v3"))
        return "x86-64-v3 (AVX2)";
#endif
    return "default";
}
