/* Telling OpenMP and BLAS runtimes how many threads a worker's tasks may use. Nothing here links
 * to them: a runtime already loaded is found with dlsym and told now; one loaded later (dlopen in
 * a task) reads the environment variables set here. */
#include "threads.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

/* Runtimes that take their thread count as `void f(int)`. */
static const char *const setters[] = {
    "omp_set_num_threads",      /* OpenMP: libgomp, libomp */
    "openblas_set_num_threads", /* OpenBLAS (its own pthreads or OpenMP build) */
    "goto_set_num_threads",     /* older OpenBLAS/GotoBLAS */
    "bli_thread_set_num_threads", /* BLIS */
};

/* Environment variables the same runtimes (and MKL, numexpr-like libraries) read at start. */
static const char *const env_names[] = {
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
};

void shmpool__limit_threads(unsigned n) {
    char value[16];
    snprintf(value, sizeof value, "%u", n);
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        setenv(env_names[i], value, 1);
    for (size_t i = 0; i < sizeof setters / sizeof setters[0]; i++) {
        void *sym = dlsym(RTLD_DEFAULT, setters[i]);
        if (sym) {
            void (*set)(int);
            *(void **)&set = sym; /* object to function pointer: POSIX dlsym's documented idiom */
            set((int)n);
        }
    }
}
