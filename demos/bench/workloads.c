/* The workloads, in the order they run: one workload-<name>.c each, which defines
 * `const struct workload workload_<name>`. A new workload is that file and one word here
 * (CMake builds every workload-*.c).
 */
#include <stddef.h>

#include "bench.h"

#define WORKLOADS(X)                                                                               \
    X(heavy) X(starmap) X(starmap_chunk1) X(apply) X(apply_async) X(for_empty) X(create) X(heat)   \
    X(primes) X(idle) X(npy_load) X(mpi) X(imap) X(for_20us) X(daxpy) X(jacobi)              \
    X(omp_alternate) X(staged_map) X(stream)

#define DECLARE(w) extern const struct workload workload_##w;
WORKLOADS(DECLARE)

#define ENTRY(w) &workload_##w,
const struct workload *const bench_workloads[] = {WORKLOADS(ENTRY) NULL};
