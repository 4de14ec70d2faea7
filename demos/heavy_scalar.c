/* The heavy kernel as plain scalar C at the project's usual -O2: glibc's scalar sin, cos, pow.
 * The demo runs it to show what the vectorized heavy_kernel.c buys. */
#include <math.h>

#include "heavy_kernel.h"

double heavy_sum_scalar(const double *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        for (int r = 0; r < 3; r++)
            v = pow(sin(v) + cos(v), v * v);
        s += v;
    }
    return s;
}
